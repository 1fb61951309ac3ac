package runner

import (
	"bytes"
	"errors"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	gojson "github.com/goccy/go-json"
)

// errFallback makes parseCompletion hand a body to the full JSON decoder.
var errFallback = errors.New("fall back")

// fastCompletion reads the common shape of a chat-completions response
// — an object whose "choices" list starts with an object holding a
// "message" object with a string or null "content" — with a small scanner
// that skips what it does not need. It returns errFallback for anything
// else (a content list, an unexpected type, a syntax error), and the caller
// then decodes the body with the full decoder, which decides what the body
// is. Only well-formed input reaches a result.
func fastCompletion(b []byte) (*Completion, error) {
	s := scanner{b: b}
	c := &Completion{}
	haveChoice := false
	if !s.open('{') {
		return nil, errFallback
	}
	for first := true; ; first = false {
		key, ok := s.nextKey(first)
		if !ok {
			return nil, errFallback
		}
		if key == nil && s.done {
			break
		}
		switch string(key) {
		case "choices":
			if haveChoice || !s.open('[') {
				return nil, errFallback
			}
			for firstElem := true; ; firstElem = false {
				more, ok := s.nextElem(firstElem)
				if !ok {
					return nil, errFallback
				}
				if !more {
					break
				}
				if haveChoice {
					if !s.skip() {
						return nil, errFallback
					}
					continue
				}
				if !s.choice(c) {
					return nil, errFallback
				}
				haveChoice = true
			}
		case "model":
			v, ok := s.internedStr(&lastModel)
			if !ok {
				return nil, errFallback
			}
			c.Model = v
		case "usage":
			if s.peek() == 'n' {
				if !s.skip() {
					return nil, errFallback
				}
				continue
			}
			if !s.usage(&c.Usage) {
				return nil, errFallback
			}
		default:
			if foldsTo(key, "choices", "model", "usage") || !s.skip() {
				return nil, errFallback
			}
		}
	}
	s.ws()
	if s.i != len(s.b) || !haveChoice {
		return nil, errFallback
	}
	return c, nil
}

// scanner is a minimal JSON scanner over a byte slice.
type scanner struct {
	b    []byte
	i    int
	done bool // the current object or array has ended
}

func (s *scanner) ws() {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return
	}
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) open(c byte) bool {
	if s.peek() != c {
		return false
	}
	s.i++
	return true
}

// nextKey reads the next key of an object (and its colon), without
// copying it; it returns nil with done set at the closing brace. Keys with
// escapes are refused (left to the full decoder).
func (s *scanner) nextKey(first bool) ([]byte, bool) {
	s.done = false
	c := s.peek()
	if c == '}' {
		s.i++
		s.done = true
		return nil, true
	}
	if !first {
		if c != ',' {
			return nil, false
		}
		s.i++
	}
	k, esc, ok := s.rawStr()
	if !ok || esc || s.peek() != ':' {
		return nil, false
	}
	s.i++
	return k, true
}

// rawStr reads a string token and returns its contents as they are
// written, and whether they contain escapes.
func (s *scanner) rawStr() ([]byte, bool, bool) {
	if s.peek() != '"' {
		return nil, false, false
	}
	start := s.i
	s.i++
	// The common case: no escape before the closing quote (a loop:
	// strings are short, and most are keys).
plain:
	for j, b := s.i, s.b; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s.i = j + 1
			return b[start+1 : j], false, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			break plain // the loop below decodes it
		}
	}
	esc := false
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '\\':
			esc = true
			if s.i+1 >= len(s.b) {
				return nil, false, false
			}
			switch s.b[s.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i += 2
			case 'u':
				if s.i+6 > len(s.b) {
					return nil, false, false
				}
				for _, h := range s.b[s.i+2 : s.i+6] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false, false
					}
				}
				s.i += 6
			default:
				return nil, false, false
			}
			continue
		case c == '"':
			s.i++
			return s.b[start+1 : s.i-1], esc, true
		case c < 0x20:
			return nil, false, false
		}
		s.i++
	}
	return nil, false, false
}

// nextElem moves to the next element of an array, reporting false at the
// closing bracket.
func (s *scanner) nextElem(first bool) (bool, bool) {
	c := s.peek()
	if c == ']' {
		s.i++
		return false, true
	}
	if !first {
		if c != ',' {
			return false, false
		}
		s.i++
	}
	return true, true
}

// str reads a string; strings with escapes are decoded by encoding/json.
func (s *scanner) str() (string, bool) {
	start := s.i
	raw, esc, ok := s.rawStr()
	if !ok {
		return "", false
	}
	if !utf8.Valid(raw) {
		return "", false // left to the full decoder
	}
	if !esc {
		return string(raw), true
	}
	var v string
	if gojson.Unmarshal(s.b[start:s.i], &v) != nil {
		return "", false
	}
	return v, true
}

// Interned strings: a response's model and finish reason are most often
// those of the previous one.
var lastModel, lastFinish atomic.Pointer[string]

// internedStr is str, returning the string last stored in last when it is
// the same (saving the copy).
func (s *scanner) internedStr(last *atomic.Pointer[string]) (string, bool) {
	start := s.i
	raw, esc, ok := s.rawStr()
	if ok && !esc {
		if p := last.Load(); p != nil && *p == string(raw) {
			return *p, true
		}
	}
	s.i = start
	v, ok := s.str()
	if ok {
		last.Store(&v)
	}
	return v, ok
}

// skip skips one value, checking its structure.
func (s *scanner) skip() bool {
	switch c := s.peek(); {
	case c == '"':
		_, _, ok := s.rawStr()
		return ok
	case c == '{':
		s.i++
		for first := true; ; first = false {
			k, ok := s.nextKey(first)
			if !ok {
				return false
			}
			if k == nil && s.done {
				s.done = false
				return true
			}
			if !s.skip() {
				return false
			}
		}
	case c == '[':
		s.i++
		for first := true; ; first = false {
			more, ok := s.nextElem(first)
			if !ok {
				return false
			}
			if !more {
				return true
			}
			if !s.skip() {
				return false
			}
		}
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || c >= '0' && c <= '9':
		_, ok := s.num()
		return ok
	}
	return false
}

func (s *scanner) lit(l string) bool {
	if len(s.b)-s.i < len(l) || string(s.b[s.i:s.i+len(l)]) != l {
		return false
	}
	s.i += len(l)
	return true
}

// num reads a number token (JSON's grammar: -?int frac? exp?).
func (s *scanner) num() ([]byte, bool) {
	start := s.i
	b := s.b
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	intStart := s.i
	if n := s.digits(); n == 0 || n > 1 && b[intStart] == '0' {
		return nil, false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return b[start:s.i], true
}

// digits skips decimal digits, returning how many.
func (s *scanner) digits() int {
	i, b := s.i, s.b
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	n := i - s.i
	s.i = i
	return n
}

// parseInt64 parses a number token as an int64, as strconv.ParseInt does
// (plain digits of a small number, the common case, without it).
func parseInt64(tok []byte) (int64, bool) {
	var n int64
	plain := len(tok) > 0 && len(tok) <= 18
	for i := 0; plain && i < len(tok); i++ {
		c := tok[i]
		plain = c >= '0' && c <= '9'
		n = n*10 + int64(c-'0')
	}
	if plain {
		return n, true
	}
	n, err := strconv.ParseInt(string(tok), 10, 64)
	return n, err == nil
}

// choice reads the first choice into c.
func (s *scanner) choice(c *Completion) bool {
	if !s.open('{') {
		return false
	}
	haveMsg := false
	for first := true; ; first = false {
		k, ok := s.nextKey(first)
		if !ok {
			return false
		}
		if k == nil && s.done {
			s.done = false
			return haveMsg
		}
		switch string(k) {
		case "message":
			if !s.message(c) {
				return false
			}
			haveMsg = true
		case "finish_reason":
			if s.peek() == 'n' {
				if !s.lit("null") {
					return false
				}
				continue
			}
			v, ok := s.internedStr(&lastFinish)
			if !ok {
				return false
			}
			c.FinishReason = v
		default:
			if foldsTo(k, "message", "finish_reason") || !s.skip() {
				return false
			}
		}
	}
}

func (s *scanner) message(c *Completion) bool {
	if !s.open('{') {
		return false
	}
	for first := true; ; first = false {
		k, ok := s.nextKey(first)
		if !ok {
			return false
		}
		if k == nil && s.done {
			s.done = false
			return true
		}
		if string(k) != "content" {
			if foldsTo(k, "content") || !s.skip() {
				return false
			}
			continue
		}
		switch s.peek() {
		case 'n':
			if !s.lit("null") {
				return false
			}
		case '"':
			v, ok := s.str()
			if !ok {
				return false
			}
			c.Content = v
		default:
			return false // content parts: the full decoder handles them
		}
	}
}

func (s *scanner) usage(u *Usage) bool {
	if !s.open('{') {
		return false
	}
	for first := true; ; first = false {
		k, ok := s.nextKey(first)
		if !ok {
			return false
		}
		if k == nil && s.done {
			s.done = false
			return true
		}
		var dst *int64
		switch string(k) {
		case "prompt_tokens":
			dst = &u.InputTokens
		case "completion_tokens":
			dst = &u.OutputTokens
		case "total_tokens":
			dst = &u.TotalTokens
		}
		if dst == nil && foldsTo(k, "prompt_tokens", "completion_tokens", "total_tokens") {
			return false
		}
		if dst == nil || s.peek() == 'n' {
			if !s.skip() {
				return false
			}
			continue
		}
		tok, ok := s.num()
		if !ok {
			return false
		}
		n, ok := parseInt64(tok)
		if !ok {
			return false
		}
		*dst = n
	}
}

// foldsTo reports whether k matches one of names case-insensitively (as
// encoding/json matches field names) without being equal to it: such a
// key is left to the full decoder.
func foldsTo(k []byte, names ...string) bool {
	for _, n := range names {
		if len(k) == len(n) && string(k) != n && bytes.EqualFold(k, []byte(n)) {
			return true
		}
	}
	return false
}
