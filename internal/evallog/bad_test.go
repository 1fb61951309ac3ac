package evallog

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"
	"os"
	"strings"
	"testing"
)

// deepJSON returns prefix + n "[" + suffix: unterminated nesting, which the
// depth limit must stop long before the input runs out.
func deepJSON(prefix string, n int, suffix string) []byte {
	return []byte(prefix + strings.Repeat("[", n) + suffix)
}

// bombZip returns an archive whose header.json is the fixture header
// padded with n bytes of whitespace; with lie set, the entry declares a
// 100-byte decompressed size.
func bombZip(t testing.TB, n int, lie bool) []byte {
	t.Helper()
	header := readEntry(t, readFixture(t, fixtureInspectEval), "header.json")
	content := append(bytes.Repeat([]byte(" "), n), header...)
	var compressed bytes.Buffer
	fw, _ := flate.NewWriter(&compressed, flate.BestCompression)
	fw.Write(content)
	fw.Close()
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	hdr := &zip.FileHeader{
		Name:               "header.json",
		Method:             zip.Deflate,
		CRC32:              crc32.ChecksumIEEE(content),
		CompressedSize64:   uint64(compressed.Len()),
		UncompressedSize64: uint64(len(content)),
	}
	if lie {
		hdr.UncompressedSize64 = 100
	}
	w, err := zw.CreateRaw(hdr)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(compressed.Bytes())
	zw.Close()
	return out.Bytes()
}

// corruptEntry flips bytes in the middle of an entry's compressed data.
func corruptEntry(t testing.TB, archive []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == name {
			off, err := f.DataOffset()
			if err != nil {
				t.Fatal(err)
			}
			out := bytes.Clone(archive)
			mid := off + int64(f.CompressedSize64)/2
			for i := mid; i < mid+8; i++ {
				out[i] ^= 0x5a
			}
			return out
		}
	}
	t.Fatalf("no entry %s", name)
	return nil
}

func TestBadInput(t *testing.T) {
	eval := readFixture(t, fixtureInspectEval)
	ijson := string(readFixture(t, fixtureInspectJSON))
	lm := string(readFixture(t, fixtureLMEval))
	small := Limits{MaxEntryBytes: 1 << 20}
	header := string(readEntry(t, eval, "header.json"))

	tests := []struct {
		name string
		data []byte
		lim  Limits
		kind error  // expected errors.Is target (nil: any error)
		msg  string // expected substring
	}{
		{"empty", nil, Limits{}, ErrUnknownFormat, "x: empty file"},
		{"whitespace", []byte(" \n\t "), Limits{}, ErrUnknownFormat, "only whitespace"},
		{"binary", []byte("\x7fELF\x02\x01\x01\x00"), Limits{}, ErrUnknownFormat, "neither a zip archive"},
		{"json array", []byte(`[{"eval": {}}]`), Limits{}, ErrUnknownFormat, "starts with '['"},
		{"unknown json object", []byte(`{"foo": 1, "results": []}`), Limits{}, ErrUnknownFormat, `top-level keys: "foo", "results"`},
		{"both formats", []byte(`{"eval": {}, "status": "success", "results": {}, "versions": {}}`), Limits{}, ErrUnknownFormat, "both inspect and lm-eval"},
		{"utf-8 bom", append([]byte("\xef\xbb\xbf"), ijson...), Limits{}, ErrUnknownFormat, "byte 0xef"},
		{"file over limit", eval, Limits{MaxFileBytes: 1000}, ErrLimit, "4095 bytes, over the 1000 byte limit"},

		{"truncated zip", eval[:len(eval)/2], Limits{}, zip.ErrFormat, "x: zip: not a valid zip file"},
		{"truncated zip tail", eval[:len(eval)-10], Limits{}, zip.ErrFormat, "zip: not a valid zip file"},
		{"corrupt zip header.json", corruptEntry(t, eval, "header.json"), Limits{}, nil, "x: header.json: "},
		{"corrupt zstd header.json", corruptEntry(t, rezip(t, eval, zipMethodZstd, nil), "header.json"), Limits{}, nil, "x: header.json: "},
		{"zip bomb", bombZip(t, 50<<20, false), small, ErrLimit, "x: header.json: declared decompressed size 52430767 bytes is over the 1048576 byte limit"},
		{"zip bomb with lying size", bombZip(t, 50<<20, true), small, zip.ErrFormat, "x: header.json: zip: not a valid zip file"},
		{"zip without inspect entries", rezip(t, eval, zip.Deflate, func(string, []byte) []byte { return nil }, [2]string{"word/document.xml", "<w/>"}), Limits{}, ErrUnknownFormat, "no header.json or _journal/start.json"},
		{"header.json not json", rezip(t, eval, zip.Deflate, func(n string, b []byte) []byte {
			if n == "header.json" {
				return []byte("PK not json")
			}
			return b
		}), Limits{}, ErrUnknownFormat, "x: header.json: unrecognized format"},
		{"header.json truncated", rezip(t, eval, zip.Deflate, func(n string, b []byte) []byte {
			if n == "header.json" {
				return b[:len(b)/2]
			}
			return b
		}), Limits{}, ErrSyntax, "x: header.json: invalid json at offset 983: unexpected end of input"},
		{"header.json nested 1e6", rezip(t, eval, zipMethodZstd, func(n string, b []byte) []byte {
			if n == "header.json" {
				return deepJSON(`{"eval": `, 1_000_000, "")
			}
			return b
		}), Limits{}, ErrLimit, "x: header.json: json nesting deeper than 10000 levels at offset 10008"},
		{"header.json unsupported method", func() []byte {
			var out bytes.Buffer
			zw := zip.NewWriter(&out)
			w, _ := zw.CreateRaw(&zip.FileHeader{Name: "header.json", Method: 12, CompressedSize64: 3, UncompressedSize64: 3})
			w.Write([]byte("abc"))
			zw.Close()
			return out.Bytes()
		}(), Limits{}, ErrInvalid, "x: header.json: unsupported zip compression method 12"},

		{"json nested 1e6 in eval", deepJSON(`{"eval": `, 1_000_000, ""), Limits{}, ErrLimit, "x: json nesting deeper than 10000 levels at offset 10008"},
		{"json nested 1e6 in samples", deepJSON(`{"samples": [{"x": `, 1_000_000, ""), Limits{}, ErrLimit, "nesting deeper than 10000 levels"},
		{"json nested 1e6 in lm-eval results", deepJSON(`{"results": {"t": `, 1_000_000, ""), Limits{}, ErrLimit, "nesting deeper than 10000 levels"},
		{"json nested past custom limit", deepJSON(`{"samples": `, 65, strings.Repeat("]", 65)+"}"), Limits{MaxDepth: 64}, ErrLimit, "deeper than 64 levels"},
		{"truncated json", []byte(ijson[:len(ijson)/2]), Limits{}, ErrSyntax, "x: invalid json at offset 5734: unexpected end of input"},
		{"trailing data", []byte(ijson + "{}"), Limits{}, ErrSyntax, "unexpected '{' after top-level value"},
		{"control character", []byte(strings.Replace(ijson, `"target": " Yes"`, "\"target\": \" Y\x01es\"", 1)), Limits{}, ErrSyntax, "control character byte 0x01 in string"},
		{"bad literal", []byte(strings.Replace(ijson, `"shuffled": false`, `"shuffled": fals`, 1)), Limits{}, ErrSyntax, "invalid json at offset 446: invalid literal: expected false, found byte 0x0a"},
		{"python None", []byte(strings.Replace(ijson, `"shuffled": false`, `"shuffled": None`, 1)), Limits{}, ErrSyntax, "invalid literal: expected NaN, found 'o'"},
		{"kept sections over entry limit", []byte(strings.Replace(ijson, `"task_args": {}`, `"task_args": {"x": "`+strings.Repeat("a", 2<<20)+`"}`, 1)), small, ErrLimit, "exceeds the entry size limit"},

		{"eval not an object", []byte(`{"eval": 5, "status": "success"}`), Limits{}, ErrInvalid, "x: expected an object at offset 9, found a number"},
		{"scores not an array", []byte(strings.Replace(ijson, `"scores": [`, `"scores": "x", "y": [`, 1)), Limits{}, ErrInvalid, "expected an array at offset"},
		{"many results members", []byte(`{"results": {` + strings.Repeat(`"k":1,`, 20000) + `"z":1}, "versions": {}}`), small, ErrLimit, "exceeds the entry size limit"},
		{"NaN score", []byte(strings.Replace(ijson, `"value": 0.0,`, `"value": NaN,`, 1)), Limits{}, ErrInvalid, "x: results.scores[0].metrics.accuracy.value: NaN is not a finite number"},
		{"Infinity score", []byte(strings.Replace(ijson, `"value": 0.0,`, `"value": Infinity,`, 1)), Limits{}, ErrInvalid, "accuracy.value: Infinity is not a finite number"},
		{"-Infinity stderr", []byte(strings.Replace(ijson, `"value": 0.0,
            "options": {}
          }
        }`, `"value": -Infinity, "options": {}}}`, 1)), Limits{}, ErrInvalid, "metrics.stderr.value: -Infinity is not a finite number"},
		{"overflowing score", []byte(strings.Replace(ijson, `"value": 0.0,`, `"value": 1e999,`, 1)), Limits{}, ErrInvalid, "1e999 is not a finite number"},
		{"string score", []byte(strings.Replace(ijson, `"value": 0.0,`, `"value": "0.5",`, 1)), Limits{}, ErrInvalid, `accuracy.value: expected a number, found string "0.5"`},
		{"null score", []byte(strings.Replace(ijson, `"value": 0.0,`, `"value": null,`, 1)), Limits{}, ErrInvalid, "accuracy.value: expected a number, found null"},
		{"metric without value", []byte(strings.Replace(ijson, `"value": 0.0,`, ``, 1)), Limits{}, ErrInvalid, "results.scores[0].metrics.accuracy: metric has no value"},
		{"negative count", []byte(strings.Replace(ijson, `"total_samples": 1`, `"total_samples": -1`, 1)), Limits{}, ErrInvalid, "results.total_samples: -1 is not a valid count"},
		{"unsupported version", []byte(strings.Replace(ijson, `"version": 2`, `"version": 3`, 1)), Limits{}, ErrInvalid, "unsupported inspect log version 3"},
		{"unknown status", []byte(strings.Replace(ijson, `"status": "success"`, `"status": "done"`, 1)), Limits{}, ErrInvalid, `status: unknown status "done"`},
		{"missing model", []byte(strings.Replace(ijson, `"model": "ollama/llama3.1",`, ``, 1)), Limits{}, ErrInvalid, `eval: missing "task" or "model"`},
		{"eval header in .eval with NaN", rezip(t, eval, zipMethodZstd, func(n string, b []byte) []byte {
			if n == "header.json" {
				return []byte(strings.Replace(header, `"value": 0.0,`, `"value": NaN,`, 1))
			}
			return b
		}), Limits{}, ErrInvalid, "x: header.json: results.scores[0].metrics.accuracy.value: NaN is not a finite number"},

		{"lm-eval NaN", []byte(strings.Replace(lm, `"acc,none": 0.42513368983957217`, `"acc,none": NaN`, 1)), Limits{}, ErrInvalid, `x: results.afrisenti_swa_prompt_1["acc,none"]: NaN is not a finite number`},
		{"lm-eval string metric", []byte(strings.Replace(lm, `"acc,none": 0.42513368983957217`, `"acc,none": "high"`, 1)), Limits{}, ErrInvalid, `["acc,none"]: expected a number, found string "high"`},
		{"lm-eval bad stderr", []byte(strings.Replace(lm, `"f1_stderr,none": "N/A"`, `"f1_stderr,none": "n/a"`, 1)), Limits{}, ErrInvalid, `["f1_stderr,none"]: expected a number, found string "n/a"`},
		{"lm-eval list metric", []byte(strings.Replace(lm, `"acc,none": 0.42513368983957217`, `"acc,none": [0.4]`, 1)), Limits{}, ErrInvalid, `expected a number, found an array`},
		{"lm-eval bad n-samples", []byte(strings.Replace(lm, `"effective": 748`, `"effective": 74.8`, 1)), Limits{}, ErrInvalid, `n-samples.afrisenti_swa_prompt_1.effective: 74.8 is not a valid count`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l, err := parseBytes("x", tc.data, tc.lim)
			if err == nil {
				t.Fatalf("parsed without error: %s", dump(l))
			}
			checkErr(t, err, "x: ", tc.kind, tc.msg)
		})
	}
}

func checkErr(t *testing.T, err error, prefix string, kind error, msg string) {
	t.Helper()
	s := err.Error()
	if !strings.HasPrefix(s, prefix) || strings.ContainsAny(s, "\r\n") {
		t.Errorf("error %q is not one line starting with %q", s, prefix)
	}
	if kind != nil && !errors.Is(err, kind) {
		t.Errorf("error %q does not match %v", s, kind)
	}
	if !strings.Contains(s, msg) {
		t.Errorf("error %q does not contain %q", s, msg)
	}
	if s != strings.ToLower(s[:1])+s[1:] {
		t.Errorf("error %q starts upper-case", s)
	}
}

func TestMissingMetric(t *testing.T) {
	l, err := Open(fixtureInspectJSON, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = l.Find("popularity", "choice", "accuracy")
	checkErr(t, err, fixtureInspectJSON+": ", ErrNotFound,
		`metric "accuracy" of scorer "choice" not in task "popularity"; available: match/accuracy, match/stderr`)
	_, _, err = l.Find("popularity", "", "f1")
	checkErr(t, err, fixtureInspectJSON+": ", ErrNotFound, `metric "f1" not in task "popularity"`)
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, Limits{})
	checkErr(t, err, dir+": ", ErrInvalid, "not a regular file")
	_, err = Open(dir+"/missing.eval", Limits{})
	checkErr(t, err, dir+"/missing.eval: ", os.ErrNotExist, "no such file")
}

func TestBoundedReader(t *testing.T) {
	br := &boundedReader{r: strings.NewReader(strings.Repeat("x", 100)), left: 10, limit: 10}
	n, err := io.Copy(io.Discard, br)
	if n != 10 || !errors.Is(err, ErrLimit) {
		t.Errorf("read %d, %v; want 10 bytes then a limit error", n, err)
	}
	br = &boundedReader{r: strings.NewReader(strings.Repeat("x", 10)), left: 10, limit: 10}
	if n, err := io.Copy(io.Discard, br); n != 10 || err != nil {
		t.Errorf("exactly at the limit: %d, %v", n, err)
	}
}
