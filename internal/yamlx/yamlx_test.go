package yamlx_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"scalegate.dev/scalegate/internal/yamlx"
)

// level is a custom Unmarshaler: a scalar "low" or "high".
type level int

func (l *level) UnmarshalYAMLX(d *yamlx.Decoder, n *yaml.Node, path string) error {
	switch {
	case n.Kind != yaml.ScalarNode:
		return d.Errorf(n, path, "expected a level")
	case n.Value == "low":
		*l = 1
	case n.Value == "high":
		*l = 2
	default:
		return d.Errorf(n, path, "unknown level %q", n.Value)
	}
	return nil
}

type inner struct {
	ID    string  `yaml:"id,required"`
	Score float64 `yaml:"score"`
}

type doc struct {
	Name     string            `yaml:"name,required"`
	Version  string            `yaml:"version,required"`
	Count    int               `yaml:"count"`
	Big      int64             `yaml:"big"`
	Ratio    float64           `yaml:"ratio"`
	Enabled  bool              `yaml:"enabled"`
	Opt      *float64          `yaml:"opt"`
	Child    *inner            `yaml:"child"`
	Items    []inner           `yaml:"items"`
	Tags     []string          `yaml:"tags"`
	Labels   map[string]string `yaml:"labels"`
	At       time.Time         `yaml:"at"`
	Level    level             `yaml:"level"`
	Untagged string
	Skipped  string `yaml:"-"`
	private  string
}

func decode(src string) (*doc, *yamlx.Doc, error) {
	var v doc
	d, err := yamlx.Decode("f.yaml", []byte(src), &v)
	return &v, d, err
}

func TestDecodeValues(t *testing.T) {
	src := `name: n
version: "1"
count: -3
big: 9007199254740993
ratio: 1e26
enabled: true
opt: 0.5
child: {id: c, score: -3.5e-2}
items:
  - id: a
  - {id: b, score: 4}
tags: [x, "y", 'z']
labels: {k1: v1, k2: v2}
at: 2026-01-12T01:02:03.5+02:00
level: high
untagged: u
`
	got, _, err := decode(src)
	if err != nil {
		t.Fatalf("Decode(%q) error = %q, want nil", src, err)
	}
	opt := 0.5
	want := &doc{
		Name: "n", Version: "1", Count: -3, Big: 9007199254740993, Ratio: 1e26, Enabled: true,
		Opt:      &opt,
		Child:    &inner{ID: "c", Score: -3.5e-2},
		Items:    []inner{{ID: "a"}, {ID: "b", Score: 4}},
		Tags:     []string{"x", "y", "z"},
		Labels:   map[string]string{"k1": "v1", "k2": "v2"},
		At:       time.Date(2026, 1, 11, 23, 2, 3, 500000000, time.UTC),
		Level:    2,
		Untagged: "u",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Decode(%q) = %+v, want %+v", src, got, want)
	}
	if got.At.Location() != time.UTC {
		t.Errorf("Decode(%q).At location = %v, want UTC", src, got.At.Location())
	}
}

func TestDecodeNulls(t *testing.T) {
	// Null pointers, slices and maps decode to nil; the zero values of
	// absent fields stay zero.
	for _, src := range []string{
		"name: n\nversion: v\nopt: null\nchild: ~\nitems:\ntags: null\nlabels: ~\n",
		"name: n\nversion: v\n",
	} {
		got, _, err := decode(src)
		if err != nil {
			t.Fatalf("Decode(%q) error = %q, want nil", src, err)
		}
		want := &doc{Name: "n", Version: "v"}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Decode(%q) = %+v, want %+v", src, got, want)
		}
	}
	// A quoted "~" or "null" is a string.
	src := "name: \"~\"\nversion: 'null'\n"
	got, _, err := decode(src)
	if err != nil {
		t.Fatalf("Decode(%q) error = %q, want nil", src, err)
	}
	if got.Name != "~" || got.Version != "null" {
		t.Errorf("Decode(%q) = name %q version %q, want \"~\" and \"null\"", src, got.Name, got.Version)
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = "name: n\nversion: v\n" // lines 1-2
	tests := []struct {
		name, src, want string
	}{
		{"unknown field", head + "nmae: x\n", `f.yaml:3:1: nmae: unknown field "nmae" (did you mean "name"?)`},
		{"unknown field no suggestion", head + "colour: red\n", `f.yaml:3:1: colour: unknown field "colour"`},
		{"unknown nested field", head + "child: {id: c, scroe: 1}\n", `f.yaml:3:16: child.scroe: unknown field "scroe" (did you mean "score"?)`},
		{"unknown field in list item", head + "items:\n  - id: a\n  - id: b\n    extra: 1\n", `f.yaml:6:5: items[1].extra: unknown field "extra"`},
		{"yaml dash tag is not a key", head + "skipped: x\n", `f.yaml:3:1: skipped: unknown field "skipped"`},
		{"private field is not a key", head + "private: x\n", `f.yaml:3:1: private: unknown field "private"`},
		{"duplicate field", head + "name: m\n", `f.yaml:3:1: name: duplicate field "name"`},
		{"duplicate map key", head + "labels: {a: 1, b: 2, a: 3}\n", `f.yaml:3:22: labels.a: duplicate key "a"`},
		{"missing required", "version: v\n", `f.yaml:1:1: name: missing required field "name"`},
		{"missing required first in declaration order", "count: 1\n", `f.yaml:1:1: name: missing required field "name"`},
		{"missing required nested", head + "child: {score: 1}\n", `f.yaml:3:8: child.id: missing required field "id"`},
		{"missing required in list", head + "items:\n  - id: a\n  - score: 2\n", `f.yaml:5:5: items[1].id: missing required field "id"`},
		{"list for string", head + "labels: {a: [x]}\n", `f.yaml:3:13: labels.a: expected a string, got a list`},
		{"mapping for string", "name: {a: b}\nversion: v\n", `f.yaml:1:7: name: expected a string, got a mapping`},
		{"null string", "name:\nversion: v\n", `f.yaml:1:6: name: expected a string, got null`},
		{"tilde string", "name: ~\nversion: v\n", `f.yaml:1:7: name: expected a string, got null`},
		{"string for number", head + "ratio: high\n", `f.yaml:3:8: ratio: expected a finite number, got "high"`},
		{"quoted number", head + "ratio: \"4\"\n", `f.yaml:3:8: ratio: expected a finite number, got "4"`},
		{"single-quoted number", head + "ratio: '4'\n", `f.yaml:3:8: ratio: expected a finite number, got "4"`},
		{"null number", head + "ratio:\n", `f.yaml:3:7: ratio: expected a finite number, got ""`},
		{"NaN", head + "ratio: .nan\n", `f.yaml:3:8: ratio: expected a finite number, got ".nan"`},
		{"bare NaN", head + "ratio: NaN\n", `f.yaml:3:8: ratio: expected a finite number, got "NaN"`},
		{"infinity", head + "ratio: .inf\n", `f.yaml:3:8: ratio: expected a finite number, got ".inf"`},
		{"negative infinity", head + "ratio: -.Inf\n", `f.yaml:3:8: ratio: expected a finite number, got "-.Inf"`},
		{"bare Inf", head + "ratio: Inf\n", `f.yaml:3:8: ratio: expected a finite number, got "Inf"`},
		{"overflow", head + "ratio: 1e400\n", `f.yaml:3:8: ratio: expected a finite number, got "1e400"`},
		{"hex float", head + "ratio: 0x1p-2\n", `f.yaml:3:8: ratio: expected a finite number, got "0x1p-2"`},
		{"underscores", head + "ratio: 1_000\n", `f.yaml:3:8: ratio: expected a finite number, got "1_000"`},
		{"list for number", head + "ratio: [1]\n", `f.yaml:3:8: ratio: expected a number, got a list`},
		{"float for int", head + "count: 1.5\n", `f.yaml:3:8: count: expected an integer, got "1.5"`},
		{"quoted int", head + "count: \"1\"\n", `f.yaml:3:8: count: expected an integer, got "1"`},
		{"int overflow", head + "big: 9223372036854775808\n", `f.yaml:3:6: big: expected an integer, got "9223372036854775808"`},
		{"hex int", head + "count: 0x10\n", `f.yaml:3:8: count: expected an integer, got "0x10"`},
		{"yes is not a bool", head + "enabled: yes\n", `f.yaml:3:10: enabled: expected true or false, got "yes"`},
		{"capitalised bool", head + "enabled: True\n", `f.yaml:3:10: enabled: expected true or false, got "True"`},
		{"quoted bool", head + "enabled: \"true\"\n", `f.yaml:3:10: enabled: expected true or false, got "true"`},
		{"number for bool", head + "enabled: 1\n", `f.yaml:3:10: enabled: expected true or false, got "1"`},
		{"mapping for bool", head + "enabled: {}\n", `f.yaml:3:10: enabled: expected true or false, got a mapping`},
		{"scalar for list", head + "tags: x\n", `f.yaml:3:7: tags: expected a list, got "x"`},
		{"mapping for list", head + "tags: {a: b}\n", `f.yaml:3:7: tags: expected a list, got a mapping`},
		{"scalar for struct", head + "child: x\n", `f.yaml:3:8: child: expected a mapping, got "x"`},
		{"list for map", head + "labels: [a]\n", `f.yaml:3:9: labels: expected a mapping, got a list`},
		{"null for struct", head + "items: [~]\n", `f.yaml:3:9: items[0]: expected a mapping, got null`},
		{"list item wrong type", head + "tags: [a, [b]]\n", `f.yaml:3:11: tags[1]: expected a string, got a list`},
		{"key with a newline", head + "\"a\\nb\": 1\n", `f.yaml:3:1: "a\nb": unknown field "a\nb" (did you mean "at"?)`},
		{"map key with a tab", head + "labels: {\"a\\tb\": [x]}\n", `f.yaml:3:18: "labels.a\tb": expected a string, got a list`},
		{"non-string key", head + "? [a]\n: b\n", `f.yaml:3:3: mapping keys must be strings`},
		{"non-string map key", head + "labels: {[a]: b}\n", `f.yaml:3:10: labels: mapping keys must be strings`},
		{"root not a mapping", "- a\n- b\n", `f.yaml:1:1: expected a mapping, got a list`},
		{"root scalar", "hello\n", `f.yaml:1:1: expected a mapping, got "hello"`},
		{"custom unmarshaler", head + "level: medium\n", `f.yaml:3:8: level: unknown level "medium"`},
		{"date without time", head + "at: 2026-01-12\n", `f.yaml:3:5: at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-01-12"`},
		{"time without zone", head + "at: 2026-01-12T00:00:00\n", `f.yaml:3:5: at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-01-12T00:00:00"`},
		{"time out of range", head + "at: 2026-13-01T00:00:00Z\n", `f.yaml:3:5: at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-13-01T00:00:00Z"`},
		{"space-separated time", head + "at: 2026-01-12 00:00:00Z\n", `f.yaml:3:5: at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-01-12 00:00:00Z"`},
		{"list for time", head + "at: [x]\n", `f.yaml:3:5: at: expected an RFC 3339 time, got a list`},
		{"anchor", head + "tags: &t [a]\n", `f.yaml:3:7: tags: YAML anchors and aliases are not allowed`},
		{"alias", head + "tags: [a]\nlabels: {a: &x b, c: *x}\n", `f.yaml:4:13: labels.a: YAML anchors and aliases are not allowed`},
		{"anchor on key", head + "&k count: 1\n", `f.yaml:3:1: YAML anchors and aliases are not allowed`},
		{"anchor on map key", head + "labels: {&k a: b}\n", `f.yaml:3:10: labels: YAML anchors and aliases are not allowed`},
		{"anchor on document", "&root\n" + head, `f.yaml:1:1: YAML anchors and aliases are not allowed`},
		{"unknown alias", head + "name2: *nowhere\n", `f.yaml: invalid YAML: unknown anchor 'nowhere' referenced`},
		{"two documents", head + "---\nname: m\n", `f.yaml:3:1: more than one YAML document in file`},
		{"trailing document marker", head + "---\n", `f.yaml:3:1: more than one YAML document in file`},
		{"second document invalid", head + "---\n[\n", `f.yaml:5:1: invalid YAML: did not find expected node content`},
		{"empty", "", `f.yaml: empty document`},
		{"only comments", "# nothing\n\n", `f.yaml: empty document`},
		{"scanner error", "name: n\n  version: v\n", `f.yaml:2:1: invalid YAML: mapping values are not allowed in this context`},
		{"unclosed flow sequence", head + "tags: [a, b\n", `f.yaml:3:1: invalid YAML: did not find expected ',' or ']'`},
		{"unclosed flow mapping", head + "labels: {a: b\n", `f.yaml:3:1: invalid YAML: did not find expected ',' or '}'`},
		{"block sequence in mapping", head + "tags: [a]\n- b\n", `f.yaml:4:1: invalid YAML: did not find expected key`},
		{"dedented sequence", "name: n\nchild:\n  id: c\n  score: 1\n - x\n", `f.yaml:5:1: invalid YAML: did not find expected key`},
		{"unterminated quote", head + "tags: ['a\n", `f.yaml:3:1: invalid YAML: found unexpected end of stream`},
		{"tab indentation", "\tname: n\n", `f.yaml: invalid YAML: found character that cannot start any token`},
		{"control character", head + "tags: [\x00]\n", `f.yaml: invalid YAML: control characters are not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decode(tt.src)
			if err == nil {
				t.Fatalf("Decode(%q) error = nil, want %q", tt.src, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Decode(%q) error = %q, want %q", tt.src, got, tt.want)
			}
			var ye *yamlx.Error
			if !errors.As(err, &ye) || ye.File != "f.yaml" {
				t.Errorf("Decode(%q) error = %#v, want a *yamlx.Error for f.yaml", tt.src, err)
			}
		})
	}
}

func TestDecodeUnsupportedTypes(t *testing.T) {
	var a struct {
		M map[int]string `yaml:"m"`
	}
	src := "m: {1: a}\n"
	_, err := yamlx.Decode("f.yaml", []byte(src), &a)
	if want := "f.yaml:1:4: m: cannot decode into map[int]string"; err == nil || err.Error() != want {
		t.Errorf("Decode(%q) error = %v, want %q", src, err, want)
	}
	var b struct {
		F float32 `yaml:"f"`
	}
	src = "f: 1\n"
	_, err = yamlx.Decode("f.yaml", []byte(src), &b)
	if want := "f.yaml:1:4: f: cannot decode into float32"; err == nil || err.Error() != want {
		t.Errorf("Decode(%q) error = %v, want %q", src, err, want)
	}
}

// TestDecodeMissingDeterministic checks that of several missing required
// fields, the first declared is reported, every time.
func TestDecodeMissingDeterministic(t *testing.T) {
	type many struct {
		A string `yaml:"a,required"`
		B string `yaml:"b,required"`
		C string `yaml:"c,required"`
		D string `yaml:"d,required"`
		E string `yaml:"e,required"`
		F string `yaml:"f"`
	}
	for _, tt := range []struct{ src, want string }{
		{"f: x\n", `f.yaml:1:1: a: missing required field "a"`},
		{"a: x\nd: y\n", `f.yaml:1:1: b: missing required field "b"`},
		{"a: x\nb: x\nc: x\nd: x\n", `f.yaml:1:1: e: missing required field "e"`},
	} {
		for range 20 {
			var v many
			_, err := yamlx.Decode("f.yaml", []byte(tt.src), &v)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Decode(%q) error = %v, want %q", tt.src, err, tt.want)
			}
		}
	}
}

// TestDecodeSuggestions checks did-you-mean hints: only for keys within two
// edits, case-insensitively, the nearest one, ties broken alphabetically.
func TestDecodeSuggestions(t *testing.T) {
	type s struct {
		Domain  string `yaml:"domain"`
		Domains string `yaml:"domains"`
		Kind    string `yaml:"kind"`
		Bind    string `yaml:"bind"`
		APIVer  string `yaml:"apiVersion"`
	}
	tests := []struct{ key, want string }{
		{"domian", ` (did you mean "domain"?)`},
		{"domainss", ` (did you mean "domains"?)`},
		{"ApiVersion", ` (did you mean "apiVersion"?)`},
		{"apiversion", ` (did you mean "apiVersion"?)`},
		{"find", ` (did you mean "bind"?)`},
		{"mind", ` (did you mean "bind"?)`}, // "bind" and "kind" tie; alphabetical
		{"xyz", ""},
		{"dom", ""},
		{"description", ""},
	}
	for _, tt := range tests {
		src := tt.key + ": x\n"
		for range 10 { // map iteration order must not matter
			var v s
			_, err := yamlx.Decode("f.yaml", []byte(src), &v)
			want := `f.yaml:1:1: ` + tt.key + `: unknown field "` + tt.key + `"` + tt.want
			if err == nil || err.Error() != want {
				t.Fatalf("Decode(%q) error = %v, want %q", src, err, want)
			}
		}
	}
}

func TestDocPos(t *testing.T) {
	src := `name: n
version: v
child:
  id: c
items:
  - id: a
  - {id: b, score: 2}
labels: {k: v}
`
	_, d, err := decode(src)
	if err != nil {
		t.Fatalf("Decode(%q) error = %q, want nil", src, err)
	}
	tests := []struct {
		path string
		want yamlx.Pos
	}{
		{"", yamlx.Pos{Line: 1, Col: 1}},
		{"name", yamlx.Pos{Line: 1, Col: 7}},
		{"child", yamlx.Pos{Line: 4, Col: 3}},
		{"child.id", yamlx.Pos{Line: 4, Col: 7}},
		{"child.score", yamlx.Pos{Line: 4, Col: 3}},        // absent: falls back to child
		{"child.score.deeper", yamlx.Pos{Line: 4, Col: 3}}, // several levels
		{"items", yamlx.Pos{Line: 6, Col: 3}},
		{"items[1]", yamlx.Pos{Line: 7, Col: 5}},
		{"items[1].score", yamlx.Pos{Line: 7, Col: 20}},
		{"items[1].missing", yamlx.Pos{Line: 7, Col: 5}},
		{"items[7]", yamlx.Pos{Line: 6, Col: 3}},
		{"items[7].id", yamlx.Pos{Line: 6, Col: 3}},
		{"labels.k", yamlx.Pos{Line: 8, Col: 13}},
		{"labels.nope", yamlx.Pos{Line: 8, Col: 9}},
		{"nothing", yamlx.Pos{Line: 1, Col: 1}}, // falls back to the root
		{"nothing[3].x", yamlx.Pos{Line: 1, Col: 1}},
	}
	for _, tt := range tests {
		if got := d.Pos(tt.path); got != tt.want {
			t.Errorf("Decode(%q) Doc.Pos(%q) = %v, want %v", src, tt.path, got, tt.want)
		}
	}
	if d.File != "f.yaml" {
		t.Errorf("Decode(%q) Doc.File = %q, want f.yaml", src, d.File)
	}
	e := d.Errorf("items[1].missing", "bad %s", "thing")
	if got, want := e.Error(), "f.yaml:7:5: items[1].missing: bad thing"; got != want {
		t.Errorf("Doc.Errorf() = %q, want %q", got, want)
	}

	var nilDoc *yamlx.Doc
	if got := nilDoc.Pos("x"); got != (yamlx.Pos{}) {
		t.Errorf("(*Doc)(nil).Pos(%q) = %v, want zero", "x", got)
	}
	if got, want := nilDoc.Errorf("x", "m").Error(), ": x: m"; got != want {
		t.Errorf("(*Doc)(nil).Errorf() = %q, want %q", got, want)
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		e    yamlx.Error
		want string
	}{
		{yamlx.Error{File: "a.yaml", Pos: yamlx.Pos{Line: 3, Col: 4}, Path: "x.y", Msg: "bad"}, "a.yaml:3:4: x.y: bad"},
		{yamlx.Error{File: "a.yaml", Pos: yamlx.Pos{Line: 3, Col: 4}, Msg: "bad"}, "a.yaml:3:4: bad"},
		{yamlx.Error{File: "a.yaml", Path: "x", Msg: "bad"}, "a.yaml: x: bad"},
		{yamlx.Error{File: "a.yaml", Msg: "bad"}, "a.yaml: bad"},
	}
	tests = append(tests, struct {
		e    yamlx.Error
		want string
	}{yamlx.Error{File: "a.yaml", Pos: yamlx.Pos{Line: 1, Col: 1}, Path: "x.a\r\nb", Msg: "bad"}, `a.yaml:1:1: "x.a\r\nb": bad`})
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%#v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestParseNumber(t *testing.T) {
	good := map[string]float64{
		"0": 0, "4": 4, "-3.5e-2": -0.035, "1e26": 1e26, "0.7": 0.7, "+2": 2, "1E3": 1000, ".5": 0.5, "5.": 5,
	}
	for s, want := range good {
		got, err := yamlx.ParseNumber(s)
		if err != nil || got != want {
			t.Errorf("ParseNumber(%q) = %v, %v, want %v, nil", s, got, err, want)
		}
	}
	bad := []string{"", "NaN", "nan", "Inf", "-inf", "+Infinity", ".inf", "1e309", "0x10", "0x1p3", "1_0", "one", "1.2.3", " 1"}
	for _, s := range bad {
		if got, err := yamlx.ParseNumber(s); err == nil {
			t.Errorf("ParseNumber(%q) = %v, nil, want an error", s, got)
		}
	}
	if got, err := yamlx.ParseNumber("1e-400"); err != nil || got != 0 || math.Signbit(got) {
		t.Errorf("ParseNumber(%q) = %v, %v, want 0, nil", "1e-400", got, err)
	}
}

// TestDecodeHostile checks inputs designed to exhaust the parser or the
// decoder are refused.
func TestDecodeHostile(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	tests := []struct {
		name, src, want string
	}{
		{"billion laughs", "tags: &a [x, x]\n" + laughs, "f.yaml:1:7: tags: YAML anchors and aliases are not allowed"},
		{"billion laughs under unknown key", laughs, `f.yaml:1:1: a: unknown field "a" (did you mean "at"?)`},
		{"nested flow sequences", "tags: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n", "f.yaml: invalid YAML: exceeded max depth of 10000"},
		{"nested flow mappings", "labels: " + strings.Repeat("{a: ", 100000) + "b" + strings.Repeat("}", 100000) + "\n", "f.yaml: invalid YAML: exceeded max depth of 10000"},
		{"nested block sequences", "tags:\n" + strings.Repeat("- ", 20000) + "x\n", "f.yaml:2:1: invalid YAML: exceeded max depth of 10000"},
		{"nested below the limit", "tags: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + "\n", "f.yaml:1:8: tags[0]: expected a string, got a list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := decode(tt.src)
			if err == nil {
				t.Fatalf("Decode(%.60q...) error = nil, want %q", tt.src, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Decode(%.60q...) error = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}

func TestDecoderAccessors(t *testing.T) {
	type w struct {
		X probe `yaml:"x"`
	}
	var v w
	src := "x: [1]\n"
	_, err := yamlx.Decode("g.yaml", []byte(src), &v)
	if want := "g.yaml:1:4: x: probe in g.yaml"; err == nil || err.Error() != want {
		t.Errorf("Decode(%q) error = %v, want %q", src, err, want)
	}
}

// probe fails with a message naming the decoder's document.
type probe struct{}

func (*probe) UnmarshalYAMLX(d *yamlx.Decoder, n *yaml.Node, path string) error {
	return d.Errorf(n, path, "probe in %s", d.Doc().File)
}
