package evallog

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"
)

// scanAll validates doc as one JSON value with the scanner, reading it
// through r.
func scanAll(r io.Reader, maxDepth int) error {
	s := newStreamScanner(r, maxDepth, 0)
	err := s.skip()
	if err == nil {
		err = s.finish()
	}
	return err
}

// hasPythonLiteral reports whether b may contain the non-standard literals
// the scanner accepts and encoding/json rejects.
func hasPythonLiteral(b []byte) bool {
	return bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Infinity"))
}

var scanDocs = []string{
	// valid
	`{}`, `[]`, `0`, `-0`, `-0.0e+1`, `1E-7`, `123456789012345678901234567890`, `true`, `false`, `null`,
	`""`, `"\u00e9\"\\\/\b\f\n\r\t"`, `"\ud83d\ude00"`, `"\ud800"`, `"\udc00\ud800x"`, "\"\xff\xfe\"", "\"é😀\"",
	` {"a" : [1, 2, {"b": null}], "c": {"d": [[]], "e": ""}} `, `[[[[[[[[[[]]]]]]]]]]`,
	"\t\n\r [1,\n2]\r\n",
	// invalid
	``, ` `, `{`, `}`, `[`, `[1,]`, `[,1]`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,"a":1}`, `{1:2}`, `{"a":1 "b":2}`,
	`01`, `-`, `-a`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x10`, `1.5.5`, `tru`, `truex`, `nul`, `[1] [2]`, `{}x`,
	`"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x00b\"", "\"a\nb\"", `'a'`, `[1 2]`, `{"a":1}}`, `]`,
	"\xef\xbb\xbf{}",
}

func TestScannerMatchesEncodingJSON(t *testing.T) {
	for _, doc := range scanDocs {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(doc)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			err := scanAll(r, DefaultMaxDepth)
			if want := json.Valid([]byte(doc)); (err == nil) != want {
				t.Errorf("%q (one byte reads %v): scanner error %v, encoding/json valid %v", doc, oneByte, err, want)
			}
			if err != nil && !errors.Is(err, ErrSyntax) {
				t.Errorf("%q: error %v is not a syntax error", doc, err)
			}
		}
	}
}

func TestScannerPythonLiterals(t *testing.T) {
	for _, doc := range []string{`NaN`, `Infinity`, `-Infinity`, `[NaN, -Infinity, {"a": Infinity}]`} {
		if err := scanAll(iotest.OneByteReader(strings.NewReader(doc)), 10); err != nil {
			t.Errorf("%s: %v", doc, err)
		}
	}
	for _, doc := range []string{`nan`, `-NaN`, `Inf`, `+Infinity`, `Infinityx`, `[NaN NaN]`} {
		if err := scanAll(strings.NewReader(doc), 10); !errors.Is(err, ErrSyntax) {
			t.Errorf("%s: got %v, want a syntax error", doc, err)
		}
	}
	for doc, want := range map[string]float64{`NaN`: math.NaN(), `Infinity`: math.Inf(1), `-Infinity`: math.Inf(-1), `1e999`: math.Inf(1), `-1e999`: math.Inf(-1), `2.5e-3`: 0.0025} {
		v, err := newStreamScanner(strings.NewReader(doc), 10, 0).value()
		if err != nil || v.kind != kindNumber || v.text != doc || !(v.num == want || math.IsNaN(v.num) && math.IsNaN(want)) {
			t.Errorf("%s: %+v %v", doc, v, err)
		}
	}
}

func TestScannerStrings(t *testing.T) {
	for _, doc := range scanDocs {
		if !strings.HasPrefix(doc, `"`) || !json.Valid([]byte(doc)) || !utf8.ValidString(doc) {
			continue
		}
		var want string
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatal(err)
		}
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(doc)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := newStreamScanner(r, 10, 0).str("x")
			if err != nil || got != want {
				t.Errorf("%s: got %q, %v; want %q", doc, got, err, want)
			}
		}
	}
}

func TestScannerDepth(t *testing.T) {
	ok := strings.Repeat("[", 64) + strings.Repeat("]", 64)
	if err := scanAll(strings.NewReader(ok), 64); err != nil {
		t.Errorf("64 levels at limit 64: %v", err)
	}
	deep := "[" + ok + "]"
	if err := scanAll(strings.NewReader(deep), 64); !errors.Is(err, ErrLimit) {
		t.Errorf("65 levels at limit 64: %v", err)
	}
}

func TestScannerReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader(`{"a": [1, 2`), iotest.ErrReader(boom))
	if err := scanAll(r, 10); !errors.Is(err, boom) {
		t.Errorf("got %v, want the read error", err)
	}
}

func TestScannerCaptureAcrossBuffers(t *testing.T) {
	// A captured member spanning many buffer refills comes back intact.
	big := `{"eval": {"task": "t", "model": "m", "pad": "` + strings.Repeat("x\\n", 300_000) + `"}, "status": "success", "samples": [` +
		strings.Repeat(`{"a": "`+strings.Repeat("y", 1000)+`"},`, 1000) + `{}]}`
	top, err := scanTop(newStreamScanner(strings.NewReader(big), 100, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	sec := top.sections["eval"]
	start := strings.Index(big, `{"task"`)
	if want := big[start : start+len(sec.data)]; string(sec.data) != want || sec.off != int64(start) || !json.Valid(sec.data) {
		t.Errorf("captured %d bytes at %d, want the eval object at %d", len(sec.data), sec.off, start)
	}
	if _, ok := top.sections["samples"]; ok {
		t.Error("samples were captured")
	}
}
