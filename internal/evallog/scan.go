package evallog

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// scanner is a streaming JSON tokenizer that holds at most one read buffer
// of the input in memory. It validates RFC 8259 grammar everywhere,
// including in values it skips, enforces a nesting-depth limit while it
// walks, and additionally accepts the three non-standard number literals
// NaN, Infinity and -Infinity that Python's json module and pydantic write
// (so that a NaN buried in a sample does not make a whole log unreadable;
// callers decide which values must be finite).
//
// Object members are visited in document order; when a key repeats, the
// walkers below let the last occurrence win, as Python's json module does.
type scanner struct {
	r      io.Reader // nil when buf holds the whole input
	buf    []byte
	pos    int
	base   int64 // input offset of buf[0]
	origin int64 // offset of the input within the file, for error messages
	eof    bool
	rerr   error // read error to report once buffered bytes are used up

	depth    int
	maxDepth int
	stack    []byte // container kinds of values being skipped
	scratch  []byte

	capturing bool
	capFrom   int
	capBuf    []byte
	capBudget int64 // bytes that may still be captured
}

const (
	streamBufSize = 256 << 10
	// maxKeptString bounds any single string the walkers keep (keys,
	// model names, metadata values). Skipped strings are not bounded.
	maxKeptString = 16 << 20
)

// errEnd reports the end of the input; walkers turn it into a syntax error.
var errEnd = errors.New("end of input")

func newStreamScanner(r io.Reader, maxDepth int, captureBudget int64) *scanner {
	return &scanner{r: r, buf: make([]byte, 0, streamBufSize), maxDepth: maxDepth, capBudget: captureBudget}
}

// newBytesScanner scans b, a value captured at file offset origin at the
// given nesting depth.
func newBytesScanner(b []byte, origin int64, depth, maxDepth int) *scanner {
	return &scanner{buf: b, eof: true, origin: origin, depth: depth, maxDepth: maxDepth}
}

// syntaxError is malformed JSON at a byte offset.
type syntaxError struct {
	off int64
	msg string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid json at offset %d: %s", e.off, e.msg)
}
func (e *syntaxError) Unwrap() error { return ErrSyntax }

func (s *scanner) offset() int64 { return s.origin + s.base + int64(s.pos) }

func (s *scanner) synErr(format string, args ...any) error {
	return &syntaxError{off: s.offset(), msg: fmt.Sprintf(format, args...)}
}

// endErr converts errEnd into a syntax error and passes other errors on.
func (s *scanner) endErr(err error, what string) error {
	if err == errEnd {
		return &syntaxError{off: s.offset(), msg: "unexpected end of input " + what}
	}
	return err
}

// more makes sure buf[pos] is readable. It returns errEnd at the end of the
// input and read errors as they are.
func (s *scanner) more() error {
	if s.pos < len(s.buf) {
		return nil
	}
	return s.refill()
}

// refill reads the next buffer of input once buf is used up.
func (s *scanner) refill() error {
	if s.r == nil {
		return errEnd
	}
	if s.rerr != nil {
		return s.rerr
	}
	if s.eof {
		return errEnd
	}
	if s.capturing {
		if err := s.flushCapture(len(s.buf)); err != nil {
			return err
		}
		s.capFrom = 0
	}
	s.base += int64(len(s.buf))
	s.pos = 0
	s.buf = s.buf[:cap(s.buf)]
	for tries := 0; ; tries++ {
		n, err := s.r.Read(s.buf)
		if n > 0 {
			s.buf = s.buf[:n]
			if err == io.EOF {
				s.eof = true
			} else if err != nil {
				s.rerr = err
			}
			return nil
		}
		s.buf = s.buf[:0]
		switch {
		case err == io.EOF:
			s.eof = true
			return errEnd
		case err != nil:
			s.rerr = err
			return err
		case tries > 100:
			s.rerr = io.ErrNoProgress
			return s.rerr
		}
	}
}

// peek skips whitespace and returns the next byte without consuming it.
func (s *scanner) peek() (byte, error) {
	for {
		if err := s.more(); err != nil {
			return 0, err
		}
		for s.pos < len(s.buf) {
			switch c := s.buf[s.pos]; c {
			case ' ', '\t', '\n', '\r':
				s.pos++
			default:
				return c, nil
			}
		}
	}
}

// expect consumes the byte c after optional whitespace.
func (s *scanner) expect(c byte, what string) error {
	got, err := s.peek()
	if err != nil {
		return s.endErr(err, "expecting "+what)
	}
	if got != c {
		return s.synErr("expected %s, found %s", what, quoteByte(got))
	}
	s.pos++
	return nil
}

// finish checks that only whitespace follows the top-level value, reading
// the input to its end.
func (s *scanner) finish() error {
	c, err := s.peek()
	if err == errEnd {
		return nil
	}
	if err != nil {
		return err
	}
	return s.synErr("unexpected %s after top-level value", quoteByte(c))
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// typeErr reports a value of the wrong kind, found starting with byte c,
// where a walker expected want. The walkers only descend into JSON the
// first pass has validated, so this is a content error, not a syntax one.
func (s *scanner) typeErr(want, c byte) error {
	var got byte
	switch c {
	case '{', '[':
		got = c
	case '"':
		got = kindString
	case 't', 'f':
		got = kindBool
	case 'n':
		got = kindNull
	default:
		got = kindNumber
	}
	return invalidf("expected %s at offset %d, found %s", kindName(want), s.offset(), kindName(got))
}

// charge takes n bytes from the capture budget, for memory kept per
// captured member beyond its raw bytes.
func (s *scanner) charge(n int) error {
	if int64(n) > s.capBudget {
		return &detailError{kind: ErrLimit, msg: "json outside the skipped sample data exceeds the entry size limit"}
	}
	s.capBudget -= int64(n)
	return nil
}

func (s *scanner) push(kind byte) error {
	if s.depth >= s.maxDepth {
		return &detailError{kind: ErrLimit, msg: fmt.Sprintf("json nesting deeper than %d levels at offset %d", s.maxDepth, s.offset())}
	}
	s.depth++
	s.pos++
	if kind != 0 {
		s.stack = append(s.stack, kind)
	}
	return nil
}

// object walks the object at the cursor, calling fn for each member; fn
// must consume the member's value.
func (s *scanner) object(fn func(key string) error) error {
	c, err := s.peek()
	if err != nil {
		return s.endErr(err, "expecting an object")
	}
	if c != '{' {
		return s.typeErr(kindObject, c)
	}
	if err := s.push(0); err != nil {
		return err
	}
	if c, err = s.peek(); err != nil {
		return s.endErr(err, "in object")
	}
	if c == '}' {
		s.pos++
		s.depth--
		return nil
	}
	for {
		if c != '"' {
			return s.synErr("expected string key, found %s", quoteByte(c))
		}
		key, err := s.readString(maxKeptString)
		if err != nil {
			return err
		}
		if err := s.expect(':', "':' after object key"); err != nil {
			return err
		}
		if err := fn(key); err != nil {
			return err
		}
		if c, err = s.peek(); err != nil {
			return s.endErr(err, "in object")
		}
		switch c {
		case ',':
			s.pos++
			if c, err = s.peek(); err != nil {
				return s.endErr(err, "in object")
			}
		case '}':
			s.pos++
			s.depth--
			return nil
		default:
			return s.synErr("expected ',' or '}' after object member, found %s", quoteByte(c))
		}
	}
}

// array walks the array at the cursor, calling fn for each element; fn
// must consume the element.
func (s *scanner) array(fn func(i int) error) error {
	c, err := s.peek()
	if err != nil {
		return s.endErr(err, "expecting an array")
	}
	if c != '[' {
		return s.typeErr(kindArray, c)
	}
	if err := s.push(0); err != nil {
		return err
	}
	if c, err = s.peek(); err != nil {
		return s.endErr(err, "in array")
	}
	if c == ']' {
		s.pos++
		s.depth--
		return nil
	}
	for i := 0; ; i++ {
		if err := fn(i); err != nil {
			return err
		}
		if c, err = s.peek(); err != nil {
			return s.endErr(err, "in array")
		}
		switch c {
		case ',':
			s.pos++
		case ']':
			s.pos++
			s.depth--
			return nil
		default:
			return s.synErr("expected ',' or ']' after array element, found %s", quoteByte(c))
		}
	}
}

// skip consumes one value of any kind, validating it, without keeping it.
// Nesting is tracked on an explicit stack, so deep input costs one byte per
// level (bounded by maxDepth) rather than Go stack frames.
func (s *scanner) skip() error {
	base := len(s.stack)
	defer func() { s.stack = s.stack[:base] }()
	for {
		// Expecting a value.
		c, err := s.peek()
		if err != nil {
			return s.endErr(err, "expecting a value")
		}
		switch c {
		case '{', '[':
			if err := s.push(c); err != nil {
				return err
			}
			next, err := s.peek()
			if err != nil {
				return s.endErr(err, "in "+containerName(c))
			}
			if (c == '{' && next == '}') || (c == '[' && next == ']') {
				s.pos++
				s.depth--
				s.stack = s.stack[:len(s.stack)-1]
				break // to "after a value"
			}
			if c == '{' {
				if err := s.skipKey(); err != nil {
					return err
				}
			}
			continue
		case '"':
			if err := s.skipString(); err != nil {
				return err
			}
		default:
			if _, err := s.scalar(false); err != nil {
				return err
			}
		}
		// After a value.
		for {
			if len(s.stack) == base {
				return nil
			}
			c, err := s.peek()
			if err != nil {
				return s.endErr(err, "in "+containerName(s.stack[len(s.stack)-1]))
			}
			top := s.stack[len(s.stack)-1]
			if c == ',' {
				s.pos++
				if top == '{' {
					if err := s.skipKey(); err != nil {
						return err
					}
				}
				break // to "expecting a value"
			}
			if (top == '{' && c == '}') || (top == '[' && c == ']') {
				s.pos++
				s.depth--
				s.stack = s.stack[:len(s.stack)-1]
				continue
			}
			if top == '{' {
				return s.synErr("expected ',' or '}' after object member, found %s", quoteByte(c))
			}
			return s.synErr("expected ',' or ']' after array element, found %s", quoteByte(c))
		}
	}
}

func containerName(c byte) string {
	if c == '{' {
		return "object"
	}
	return "array"
}

func (s *scanner) skipKey() error {
	c, err := s.peek()
	if err != nil {
		return s.endErr(err, "in object")
	}
	if c != '"' {
		return s.synErr("expected string key, found %s", quoteByte(c))
	}
	if err := s.skipString(); err != nil {
		return err
	}
	return s.expect(':', "':' after object key")
}

// strSpecial marks the bytes that end a run of plain string content.
var strSpecial = func() (t [256]bool) {
	for i := 0; i < 0x20; i++ {
		t[i] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// skipString consumes the string at the cursor.
func (s *scanner) skipString() error {
	s.pos++ // opening quote
	for {
		if err := s.more(); err != nil {
			return s.endErr(err, "in string")
		}
		b := s.buf[s.pos:]
		i := 0
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		s.pos += i
		if i == len(b) {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			s.pos++
			return nil
		case c == '\\':
			s.pos++
			if _, err := s.escape(); err != nil {
				return err
			}
		default:
			return s.synErr("control character %s in string", quoteByte(c))
		}
	}
}

// readString consumes the string at the cursor and returns its decoded
// value. Invalid UTF-8 and unpaired UTF-16 surrogates become U+FFFD.
func (s *scanner) readString(max int) (string, error) {
	s.pos++ // opening quote
	out := s.scratch[:0]
	defer func() { s.scratch = out[:0] }()
	high := rune(-1) // pending high surrogate from a \u escape
	flushHigh := func() {
		if high >= 0 {
			out = utf8.AppendRune(out, utf8.RuneError)
			high = -1
		}
	}
	for {
		if err := s.more(); err != nil {
			return "", s.endErr(err, "in string")
		}
		b := s.buf[s.pos:]
		i := 0
		for i < len(b) && !strSpecial[b[i]] {
			i++
		}
		if i > 0 {
			flushHigh()
			out = append(out, b[:i]...)
			s.pos += i
		}
		if len(out) > max {
			return "", &detailError{kind: ErrLimit, msg: fmt.Sprintf("string longer than %d bytes at offset %d", max, s.offset())}
		}
		if i == len(b) {
			continue
		}
		switch c := b[i]; {
		case c == '"':
			s.pos++
			flushHigh()
			if utf8.Valid(out) {
				return string(out), nil
			}
			return strings.ToValidUTF8(string(out), "\uFFFD"), nil
		case c == '\\':
			s.pos++
			r, err := s.escape()
			if err != nil {
				return "", err
			}
			switch {
			case high >= 0 && r >= 0xdc00 && r <= 0xdfff:
				out = utf8.AppendRune(out, utf16.DecodeRune(high, r))
				high = -1
			case r >= 0xd800 && r <= 0xdbff:
				flushHigh()
				high = r
			default:
				flushHigh()
				if utf16.IsSurrogate(r) {
					r = utf8.RuneError
				}
				out = utf8.AppendRune(out, r)
			}
		default:
			return "", s.synErr("control character %s in string", quoteByte(c))
		}
	}
}

// escape consumes an escape sequence after its backslash and returns the
// escaped rune; a \u escape yields its UTF-16 code unit as is.
func (s *scanner) escape() (rune, error) {
	c, err := s.rawByte("in string escape")
	if err != nil {
		return 0, err
	}
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		return s.hex4()
	}
	s.pos--
	return 0, s.synErr("invalid escape '\\%c' in string", c)
}

func (s *scanner) rawByte(what string) (byte, error) {
	if err := s.more(); err != nil {
		return 0, s.endErr(err, what)
	}
	c := s.buf[s.pos]
	s.pos++
	return c, nil
}

func (s *scanner) hex4() (rune, error) {
	var r rune
	for i := 0; i < 4; i++ {
		c, err := s.rawByte("in \\u escape")
		if err != nil {
			return 0, err
		}
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			s.pos--
			return 0, s.synErr("invalid hex digit %s in \\u escape", quoteByte(c))
		}
		r = r<<4 | rune(v)
	}
	return r, nil
}

// Kinds of values reported by value.
const (
	kindString = 's'
	kindNumber = 'n'
	kindBool   = 'b'
	kindNull   = 'z'
	kindObject = '{'
	kindArray  = '['
)

// scalarValue is a scalar JSON value. For numbers, text is the literal as
// written and num its float64 value (NaN or ±Inf for the Python literals
// and for literals out of float64 range).
type scalarValue struct {
	kind byte
	text string
	num  float64
	b    bool
}

func kindName(k byte) string {
	switch k {
	case kindString:
		return "a string"
	case kindNumber:
		return "a number"
	case kindBool:
		return "a boolean"
	case kindNull:
		return "null"
	case kindObject:
		return "an object"
	case kindArray:
		return "an array"
	}
	return "a value"
}

// value reads a scalar value at the cursor. For an object or array it
// returns only the kind and consumes nothing: the caller walks or skips it.
func (s *scanner) value() (scalarValue, error) {
	c, err := s.peek()
	if err != nil {
		return scalarValue{}, s.endErr(err, "expecting a value")
	}
	switch c {
	case '{', '[':
		return scalarValue{kind: c}, nil
	case '"':
		str, err := s.readString(maxKeptString)
		return scalarValue{kind: kindString, text: str}, err
	}
	return s.scalar(true)
}

// scalar consumes a number or literal; with keep set it also decodes it.
func (s *scanner) scalar(keep bool) (scalarValue, error) {
	c, err := s.peek()
	if err != nil {
		return scalarValue{}, s.endErr(err, "expecting a value")
	}
	switch c {
	case 't':
		return scalarValue{kind: kindBool, b: true}, s.literal("true")
	case 'f':
		return scalarValue{kind: kindBool}, s.literal("false")
	case 'n':
		return scalarValue{kind: kindNull}, s.literal("null")
	case 'N':
		return scalarValue{kind: kindNumber, text: "NaN", num: math.NaN()}, s.literal("NaN")
	case 'I':
		return scalarValue{kind: kindNumber, text: "Infinity", num: math.Inf(1)}, s.literal("Infinity")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return s.number(keep)
	}
	if c == '"' {
		return scalarValue{}, s.synErr("unexpected string")
	}
	return scalarValue{}, s.synErr("invalid character %s looking for beginning of value", quoteByte(c))
}

func (s *scanner) literal(word string) error {
	for i := 0; i < len(word); i++ {
		c, err := s.rawByte("in literal")
		if err != nil {
			return err
		}
		if c != word[i] {
			s.pos--
			return s.synErr("invalid literal: expected %s, found %s", word, quoteByte(c))
		}
	}
	return nil
}

// number consumes a JSON number (or -Infinity).
func (s *scanner) number(keep bool) (scalarValue, error) {
	lit := s.scratch[:0]
	defer func() { s.scratch = lit[:0] }()
	// next returns the next byte without consuming it; ok is false at the
	// end of the input, which simply ends the number.
	next := func() (byte, bool, error) {
		if err := s.more(); err != nil {
			if err == errEnd {
				return 0, false, nil
			}
			return 0, false, err
		}
		return s.buf[s.pos], true, nil
	}
	take := func(c byte) {
		s.pos++
		if keep {
			lit = append(lit, c)
		}
	}
	digits := func(what string) error {
		c, ok, err := next()
		if err != nil {
			return err
		}
		if !ok || c < '0' || c > '9' {
			if !ok {
				return s.synErr("unexpected end of input in number, expecting %s", what)
			}
			return s.synErr("invalid character %s in number, expecting %s", quoteByte(c), what)
		}
		for ok && c >= '0' && c <= '9' {
			take(c)
			if c, ok, err = next(); err != nil {
				return err
			}
		}
		return nil
	}
	c, _, err := next()
	if err != nil {
		return scalarValue{}, err
	}
	if c == '-' {
		take(c)
		c, ok, err := next()
		if err != nil {
			return scalarValue{}, err
		}
		if ok && c == 'I' {
			if err := s.literal("Infinity"); err != nil {
				return scalarValue{}, err
			}
			return scalarValue{kind: kindNumber, text: "-Infinity", num: math.Inf(-1)}, nil
		}
	}
	c, ok, err := next()
	if err != nil {
		return scalarValue{}, err
	}
	if ok && c == '0' {
		take(c)
	} else if err := digits("a digit"); err != nil {
		return scalarValue{}, err
	}
	if c, ok, err = next(); err != nil {
		return scalarValue{}, err
	}
	if ok && c == '.' {
		take(c)
		if err := digits("a digit after the decimal point"); err != nil {
			return scalarValue{}, err
		}
		if c, ok, err = next(); err != nil {
			return scalarValue{}, err
		}
	}
	if ok && (c == 'e' || c == 'E') {
		take(c)
		if c, ok, err = next(); err != nil {
			return scalarValue{}, err
		}
		if ok && (c == '+' || c == '-') {
			take(c)
		}
		if err := digits("a digit in the exponent"); err != nil {
			return scalarValue{}, err
		}
	}
	if !keep {
		return scalarValue{kind: kindNumber}, nil
	}
	text := string(lit)
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return scalarValue{}, s.synErr("invalid number %q", text)
	}
	// Out-of-range literals parse to ±Inf or 0 with ErrRange; a literal
	// like 1e999 therefore surfaces as a non-finite value.
	return scalarValue{kind: kindNumber, text: text, num: f}, nil
}

// startCapture begins recording the raw bytes consumed from the cursor on.
// Only stream scanners capture.
func (s *scanner) startCapture() error {
	if _, err := s.peek(); err != nil {
		return s.endErr(err, "expecting a value")
	}
	s.capturing = true
	s.capFrom = s.pos
	s.capBuf = nil
	return nil
}

func (s *scanner) flushCapture(end int) error {
	n := end - s.capFrom
	if int64(n) > s.capBudget {
		s.capturing = false
		return &detailError{kind: ErrLimit, msg: "json outside the skipped sample data exceeds the entry size limit"}
	}
	s.capBudget -= int64(n)
	s.capBuf = append(s.capBuf, s.buf[s.capFrom:end]...)
	return nil
}

// stopCapture ends recording and returns the bytes consumed since
// startCapture.
func (s *scanner) stopCapture() ([]byte, error) {
	err := s.flushCapture(s.pos)
	s.capturing = false
	b := s.capBuf
	s.capBuf = nil
	return b, err
}
