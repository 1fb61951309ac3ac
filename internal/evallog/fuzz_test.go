package evallog

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

var fuzzLimits = Limits{MaxFileBytes: 1 << 24, MaxEntryBytes: 1 << 20, MaxDepth: 64}

// checkParsed checks the invariants of any parse result.
func checkParsed(t *testing.T, name string, l *Log, err error) {
	t.Helper()
	if err != nil {
		s := err.Error()
		if !strings.HasPrefix(s, name+": ") || strings.ContainsAny(s, "\r\n") {
			t.Fatalf("error %q is not one line starting with the file name", s)
		}
		return
	}
	if l.Format != FormatInspect && l.Format != FormatLMEval || !strings.HasPrefix(l.SHA256, "sha256:") || l.Metadata == nil {
		t.Fatalf("bad log %+v", l)
	}
	for _, task := range l.Tasks {
		for _, m := range task.Metrics {
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Stderr != nil && (math.IsNaN(*m.Stderr) || math.IsInf(*m.Stderr, 0)) {
				t.Fatalf("non-finite metric %+v", m)
			}
		}
	}
	for _, err := range []error{l.Complete(), func() error { _, _, err := l.Find("", "", "accuracy"); return err }()} {
		if err != nil && (!strings.HasPrefix(err.Error(), name+": ") || strings.ContainsAny(err.Error(), "\r\n")) {
			t.Fatalf("error %q is not one line starting with the file name", err)
		}
	}
}

func FuzzParseJSON(f *testing.F) {
	for _, p := range []string{fixtureInspectJSON, fixtureLMEval} {
		f.Add(readFixture(f, p))
	}
	f.Add(readEntry(f, readFixture(f, fixtureInspectEval), "header.json"))
	f.Add([]byte(`{"results": {"t": {"acc": 0.25, "acc_stderr": 0.01}}, "versions": {"t": 0}}`))
	f.Add([]byte(`{"version": 1, "status": "success", "eval": {"task": "w", "model": "m"}, "results": {"scorer": {"name": "s"}, "metrics": {"accuracy": {"value": NaN}}}}`))
	f.Add([]byte(`{"eval": {"task": "\ud83d\ude00", "model": "m"}, "status": "started", "samples": [[[{"a": -Infinity}]]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseBytes("fuzz.json", data, fuzzLimits)
		checkParsed(t, "fuzz.json", l, err)
		if isZip(data) || hasPythonLiteral(data) {
			return
		}
		// The tokenizer agrees with encoding/json on what is valid JSON.
		serr := scanAll(bytes.NewReader(data), DefaultMaxDepth)
		if valid := json.Valid(data); (serr == nil) != valid {
			t.Fatalf("scanner error %v, encoding/json valid %v", serr, valid)
		}
		if err == nil && serr != nil {
			t.Fatalf("parsed invalid json: %v", serr)
		}
	})
}

// evalWithHeader wraps b as the header.json of a zstd .eval archive.
func evalWithHeader(b []byte) []byte {
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zw.RegisterCompressor(zipMethodZstd, func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))
	})
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "header.json", Method: zipMethodZstd})
	w.Write(b)
	zw.Close()
	return out.Bytes()
}

// FuzzParseEval fuzzes .eval archives; an input that is not a zip archive
// is used as the header.json of one, so both the zip layer and the header
// parsing behind zstd are exercised.
func FuzzParseEval(f *testing.F) {
	eval := readFixture(f, fixtureInspectEval)
	f.Add(eval)
	f.Add(rezip(f, eval, zipMethodZstd, nil))
	f.Add(rezip(f, eval, zip.Store, nil))
	f.Add(rezip(f, eval, zipMethodZstd, func(name string, b []byte) []byte {
		if name == "header.json" {
			return nil
		}
		return b
	}))
	f.Add(eval[:len(eval)-100])
	f.Add(bombZip(f, 2<<20, true))
	f.Add(readEntry(f, eval, "header.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !isZip(data) {
			data = evalWithHeader(data)
		}
		l, err := parseBytes("fuzz.eval", data, fuzzLimits)
		checkParsed(t, "fuzz.eval", l, err)
		if err == nil && l.Format != FormatInspect {
			t.Fatalf("an .eval archive parsed as %s", l.Format)
		}
	})
}
