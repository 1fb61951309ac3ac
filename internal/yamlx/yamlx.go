// Package yamlx owns strict decoding of scalegate's YAML documents (policies
// and evidence files) into Go structs, with positions.
//
// It decodes a yaml.Node tree by reflection instead of yaml.v3's own decoder
// so that every error can name the file, line, column and field path in one
// line, as in
//
//	policy.yaml:31:14: thresholds[1].trigger: undeclared evaluation "wmdp-chem"
//
// Rules, all errors:
//   - unknown mapping keys, duplicate keys;
//   - a value of the wrong kind (a list where a string belongs, a string where a
//     number belongs, a non-boolean for a bool);
//   - missing fields tagged `yaml:"name,required"`;
//   - NaN or infinite numbers;
//   - aliases and anchors (a policy or evidence file never needs them, and
//     refusing them rules out alias-expansion bombs);
//   - more than one YAML document in a file.
//
// Nesting depth is bounded by the YAML parser (10,000 levels) and by the Go
// types: the decoder never descends into a node the target type does not
// expect. Decode records the position of every decoded value by field path
// in a [Doc] so that later semantic checks can point at the offending line.
package yamlx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// Pos is a position in a file (1-based line and column).
type Pos struct {
	Line, Col int
}

// Error is a decoding or validation error at a position.
type Error struct {
	File string
	Pos  Pos
	Path string // field path such as thresholds[1].trigger; may be empty
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Pos.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Pos.Line, e.Pos.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		// Keep the error on one line: a path holds mapping keys, which may
		// contain any character.
		if strings.ContainsFunc(e.Path, unicode.IsControl) {
			b.WriteString(strconv.Quote(e.Path))
		} else {
			b.WriteString(e.Path)
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Doc remembers where each decoded value came from: it keeps the parsed
// node tree and finds the node of a field path when asked (positions are
// needed only for errors, so none are recorded while decoding).
type Doc struct {
	File string
	root *yaml.Node
}

// Pos returns the position of the value at path, falling back to the
// nearest enclosing value that has one.
func (d *Doc) Pos(path string) Pos {
	if d == nil || d.root == nil {
		return Pos{}
	}
	n := d.root
	for path != "" {
		var seg string
		idx := -1
		switch {
		case path[0] == '[':
			end := strings.IndexByte(path, ']')
			if end < 0 {
				return Pos{n.Line, n.Column}
			}
			i, err := strconv.Atoi(path[1:end])
			if err != nil {
				return Pos{n.Line, n.Column}
			}
			idx, path = i, path[end+1:]
		default:
			path = strings.TrimPrefix(path, ".")
			end := strings.IndexAny(path, ".[")
			if end < 0 {
				end = len(path)
			}
			seg, path = path[:end], path[end:]
		}
		next := child(n, seg, idx)
		if next == nil {
			break
		}
		n = next
	}
	return Pos{n.Line, n.Column}
}

// child returns the value under key seg of a mapping, or element idx of a
// sequence, or nil.
func child(n *yaml.Node, seg string, idx int) *yaml.Node {
	switch {
	case idx >= 0 && n.Kind == yaml.SequenceNode:
		if idx < len(n.Content) {
			return n.Content[idx]
		}
	case idx < 0 && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == seg {
				return n.Content[i+1]
			}
		}
	}
	return nil
}

// Errorf builds an *Error for the value at path.
func (d *Doc) Errorf(path, format string, args ...any) *Error {
	file := ""
	if d != nil {
		file = d.File
	}
	return &Error{File: file, Pos: d.Pos(path), Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Unmarshaler is implemented by types that decode themselves from a node.
type Unmarshaler interface {
	UnmarshalYAMLX(d *Decoder, n *yaml.Node, path string) error
}

// Decoder carries the state of one Decode call; custom Unmarshalers use it
// to decode their children and report errors.
type Decoder struct {
	doc *Doc
}

// Doc returns the document being decoded.
func (d *Decoder) Doc() *Doc { return d.doc }

// Errorf reports an error at node n.
func (d *Decoder) Errorf(n *yaml.Node, path, format string, args ...any) error {
	return &Error{File: d.doc.File, Pos: Pos{n.Line, n.Column}, Path: path, Msg: fmt.Sprintf(format, args...)}
}

// Decode decodes a single YAML (or JSON) document strictly into v, which
// must be a non-nil pointer to a struct.
func Decode(file string, data []byte, v any) (*Doc, error) {
	doc := &Doc{File: file}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, &Error{File: file, Msg: "empty document"}
		}
		return doc, yamlError(file, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return doc, &Error{File: file, Pos: Pos{extra.Line, extra.Column}, Msg: "more than one YAML document in file"}
	} else if !errors.Is(err, io.EOF) {
		return doc, yamlError(file, err)
	}
	n := &root
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return doc, &Error{File: file, Msg: "empty document"}
		}
		n = n.Content[0]
	}
	doc.root = n
	d := &Decoder{doc: doc}
	return doc, d.Decode(n, "", reflect.ValueOf(v).Elem())
}

// yamlError turns a yaml.v3 parse error ("yaml: line 3: ...") into an *Error.
func yamlError(file string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if strings.HasPrefix(msg, "line ") {
		rest := msg[len("line "):]
		if i := strings.Index(rest, ":"); i > 0 {
			if l, convErr := strconv.Atoi(rest[:i]); convErr == nil {
				line = l
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if line > 0 && parserProblems[msg] {
		// yaml.v3 reports the 0-based line of a parser (not scanner)
		// error's context; make it 1-based like every other position.
		line++
	}
	e := &Error{File: file, Msg: "invalid YAML: " + msg}
	if line > 0 {
		e.Pos = Pos{Line: line, Col: 1}
	}
	return e
}

// parserProblems are the messages of yaml.v3's parser errors, whose "line N"
// is 0-based (its scanner errors' lines are 1-based).
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found duplicate %TAG directive":         true,
	"found undefined tag handle":             true,
}

var (
	unmarshalerType = reflect.TypeFor[Unmarshaler]()
	timeType        = reflect.TypeFor[time.Time]()
)

// Decode decodes node n at path into the addressable value v.
func (d *Decoder) Decode(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return d.Errorf(n, path, "YAML anchors and aliases are not allowed")
	}
	if v.CanAddr() && v.Addr().Type().Implements(unmarshalerType) {
		return v.Addr().Interface().(Unmarshaler).UnmarshalYAMLX(d, n, path)
	}
	if v.Type() == timeType {
		return d.decodeTime(n, path, v)
	}
	switch v.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			return nil
		}
		p := reflect.New(v.Type().Elem())
		if err := d.Decode(n, path, p.Elem()); err != nil {
			return err
		}
		v.Set(p)
		return nil
	case reflect.Struct:
		return d.decodeStruct(n, path, v)
	case reflect.Slice:
		return d.decodeSlice(n, path, v)
	case reflect.Map:
		return d.decodeMap(n, path, v)
	case reflect.String:
		s, err := d.scalar(n, path, "a string")
		if err != nil {
			return err
		}
		if n.Tag != "!!str" && n.Style == 0 && isNull(n) {
			return d.Errorf(n, path, "expected a string, got null")
		}
		v.SetString(s)
		return nil
	case reflect.Bool:
		s, err := d.scalar(n, path, "true or false")
		if err != nil {
			return err
		}
		switch {
		case n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0:
			return d.Errorf(n, path, "expected true or false, got %q", s)
		case s == "true":
			v.SetBool(true)
		case s == "false":
			v.SetBool(false)
		default:
			return d.Errorf(n, path, "expected true or false, got %q", s)
		}
		return nil
	case reflect.Float64:
		s, err := d.scalar(n, path, "a number")
		if err != nil {
			return err
		}
		f, err := ParseNumber(s)
		if err != nil || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return d.Errorf(n, path, "expected a finite number, got %q", s)
		}
		v.SetFloat(f)
		return nil
	case reflect.Int, reflect.Int64:
		s, err := d.scalar(n, path, "an integer")
		if err != nil {
			return err
		}
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			return d.Errorf(n, path, "expected an integer, got %q", s)
		}
		v.SetInt(i)
		return nil
	}
	return d.Errorf(n, path, "cannot decode into %s", v.Type())
}

// ParseNumber parses a finite decimal number as written in YAML or JSON
// (1e26, 0.7, 4, -3.5e-2). NaN and infinities are refused.
func ParseNumber(s string) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("not a finite number: %q", s)
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.eE+-", r) {
			return 0, fmt.Errorf("not a decimal number: %q", s)
		}
	}
	return f, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected node"
}

func (d *Decoder) scalar(n *yaml.Node, path, want string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", d.Errorf(n, path, "expected %s, got %s", want, kindName(n))
	}
	return n.Value, nil
}

func (d *Decoder) decodeTime(n *yaml.Node, path string, v reflect.Value) error {
	s, err := d.scalar(n, path, "an RFC 3339 time")
	if err != nil {
		return err
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return d.Errorf(n, path, "expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got %q", s)
	}
	v.Set(reflect.ValueOf(t.UTC()))
	return nil
}

type fieldInfo struct {
	name     string
	index    int
	required bool
}

var fieldCache sync.Map // reflect.Type -> map[string]fieldInfo

func structFields(t reflect.Type) map[string]fieldInfo {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]fieldInfo)
	}
	fields := map[string]fieldInfo{}
	defer func() { fieldCache.Store(t, fields) }()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = strings.ToLower(f.Name[:1]) + f.Name[1:]
		}
		fields[name] = fieldInfo{name: name, index: i, required: opts == "required"}
	}
	return fields
}

func (d *Decoder) decodeStruct(n *yaml.Node, path string, v reflect.Value) error {
	if n.Kind != yaml.MappingNode {
		return d.Errorf(n, path, "expected a mapping, got %s", kindName(n))
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if err := d.checkKey(k, path); err != nil {
			return err
		}
		fp := join(path, k.Value)
		f, ok := fields[k.Value]
		if !ok {
			return d.Errorf(k, fp, "unknown field %q%s", k.Value, suggest(k.Value, fields))
		}
		if seen[k.Value] {
			return d.Errorf(k, fp, "duplicate field %q", k.Value)
		}
		seen[k.Value] = true
		if err := d.Decode(val, fp, v.Field(f.index)); err != nil {
			return err
		}
	}
	// Report the first missing field in declaration order, so that the
	// error does not depend on map iteration order.
	var missing *fieldInfo
	for _, f := range fields {
		if f.required && !seen[f.name] && (missing == nil || f.index < missing.index) {
			missing = &f
		}
	}
	if missing != nil {
		return d.Errorf(n, join(path, missing.name), "missing required field %q", missing.name)
	}
	return nil
}

// checkKey checks that a mapping key is a plain string, without anchors.
func (d *Decoder) checkKey(k *yaml.Node, path string) error {
	if k.Kind == yaml.AliasNode || k.Anchor != "" {
		return d.Errorf(k, path, "YAML anchors and aliases are not allowed")
	}
	if k.Kind != yaml.ScalarNode {
		return d.Errorf(k, path, "mapping keys must be strings")
	}
	return nil
}

func (d *Decoder) decodeSlice(n *yaml.Node, path string, v reflect.Value) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		return d.Errorf(n, path, "expected a list, got %s", kindName(n))
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		if err := d.Decode(c, fmt.Sprintf("%s[%d]", path, i), s.Index(i)); err != nil {
			return err
		}
	}
	v.Set(s)
	return nil
}

func (d *Decoder) decodeMap(n *yaml.Node, path string, v reflect.Value) error {
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return d.Errorf(n, path, "expected a mapping, got %s", kindName(n))
	}
	if v.Type().Key().Kind() != reflect.String {
		return d.Errorf(n, path, "cannot decode into %s", v.Type())
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if err := d.checkKey(k, path); err != nil {
			return err
		}
		key := reflect.New(v.Type().Key()).Elem()
		key.SetString(k.Value)
		if m.MapIndex(key).IsValid() {
			return d.Errorf(k, join(path, k.Value), "duplicate key %q", k.Value)
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		if err := d.Decode(val, join(path, k.Value), elem); err != nil {
			return err
		}
		m.SetMapIndex(key, elem)
	}
	v.Set(m)
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// suggest names the closest known field for a misspelt one.
func suggest(got string, fields map[string]fieldInfo) string {
	best, bestD := "", 3
	for name := range fields {
		if dd := distance(strings.ToLower(got), strings.ToLower(name)); dd < bestD || (dd == bestD && best != "" && name < best) {
			best, bestD = name, dd
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
