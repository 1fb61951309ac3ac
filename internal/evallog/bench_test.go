package evallog

import (
	"archive/zip"
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// benchDir holds the large generated logs, built once per test binary run
// and removed by TestMain.
var (
	benchDir     string
	benchDirOnce sync.Once
	benchDirErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

const benchTargetBytes = 100 << 20

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// benchFile returns the path of a generated log, building it on first use.
func benchFile(b *testing.B, name string, build func(w io.Writer) error) string {
	b.Helper()
	benchDirOnce.Do(func() { benchDir, benchDirErr = os.MkdirTemp("", "evallog-bench-") })
	if benchDirErr != nil {
		b.Fatal(benchDirErr)
	}
	p := filepath.Join(benchDir, name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := build(bw); err != nil {
		b.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// sampleJSON writes one synthetic Inspect sample of roughly size bytes:
// long message strings with escapes, and many small event objects.
func sampleJSON(w io.Writer, rng *rand.Rand, id, size int) error {
	raw := make([]byte, size/4)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	text := base64.StdEncoding.EncodeToString(raw)
	esc := strings.NewReplacer("/", `\n`, "+", `\"`, "=", `\u00e9`)
	part := func(i, j int) string { return esc.Replace(text[len(text)*i/4 : len(text)*j/4]) }
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `{"id": %d, "epoch": 1, "input": "%s", "target": " Yes", "messages": [`, id, part(0, 1))
	fmt.Fprintf(bw, `{"role": "user", "content": "%s", "source": "input"}, {"role": "assistant", "content": "%s"}]`, part(1, 2), part(2, 4))
	bw.WriteString(`, "scores": {"match": {"value": "I", "answer": "No"}}, "metadata": {"label_confidence": NaN}, "events": [`)
	for i := 0; i < size/400; i++ {
		if i > 0 {
			bw.WriteString(", ")
		}
		fmt.Fprintf(bw, `{"timestamp": "2024-10-15T12:53:13.%06d-04:00", "event": "state", "changes": [{"op": "replace", "path": "/messages/%d/content", "value": %d.%d, "replaced": null}], "working_start": %g, "pending": false}`,
			i, i, rng.IntN(1000), rng.IntN(1000), rng.Float64()*1e3)
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// buildEval writes a ~100 MB zstd .eval archive: the fixture's entries
// (header.json last, as Inspect writes it) plus large sample entries.
func buildEval(fixture []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		cw := &countingWriter{w: w}
		zw := zip.NewWriter(cw)
		zw.RegisterCompressor(zipMethodZstd, func(w io.Writer) (io.WriteCloser, error) {
			return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		})
		zr, err := zip.NewReader(strings.NewReader(string(fixture)), int64(len(fixture)))
		if err != nil {
			return err
		}
		entries := map[string][]byte{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				return err
			}
			entries[f.Name], err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		put := func(name string, data []byte) error {
			ew, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zipMethodZstd})
			if err == nil {
				_, err = ew.Write(data)
			}
			return err
		}
		if err := put("_journal/start.json", entries["_journal/start.json"]); err != nil {
			return err
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for id := 1; cw.n < benchTargetBytes; id++ {
			ew, err := zw.CreateHeader(&zip.FileHeader{Name: "samples/" + strconv.Itoa(id) + "_epoch_1.json", Method: zipMethodZstd})
			if err != nil {
				return err
			}
			if err := sampleJSON(ew, rng, id, 1<<20); err != nil {
				return err
			}
		}
		for _, name := range []string{"_journal/summaries/1.json", "summaries.json", "reductions.json", "header.json"} {
			if err := put(name, entries[name]); err != nil {
				return err
			}
		}
		return zw.Close()
	}
}

// buildJSON writes a ~100 MB Inspect .json log: the fixture with its
// samples array replaced by many large samples.
func buildJSON(fixture []byte) func(io.Writer) error {
	return func(w io.Writer) error {
		doc := string(fixture)
		i := strings.LastIndex(doc, `"samples": [`)
		if i < 0 {
			return fmt.Errorf("fixture has no samples array")
		}
		cw := &countingWriter{w: w}
		io.WriteString(cw, doc[:i+len(`"samples": [`)])
		rng := rand.New(rand.NewPCG(3, 4))
		for id := 1; cw.n < benchTargetBytes; id++ {
			if id > 1 {
				io.WriteString(cw, ",\n")
			}
			if err := sampleJSON(cw, rng, id, 1<<20); err != nil {
				return err
			}
		}
		_, err := io.WriteString(cw, "\n  ]\n}\n")
		return err
	}
}

func TestSyntheticSampleIsValidJSON(t *testing.T) {
	var buf strings.Builder
	if err := sampleJSON(&buf, rand.New(rand.NewPCG(5, 6)), 1, 64<<10); err != nil {
		t.Fatal(err)
	}
	doc := strings.ReplaceAll(buf.String(), "NaN", "null")
	if !json.Valid([]byte(doc)) {
		t.Fatal("sampleJSON wrote invalid json")
	}
}

// resetPeakRSS resets the kernel's peak-RSS mark for this process; it
// reports false where /proc/self/clear_refs is unavailable.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSS returns VmHWM (peak resident set size) in bytes.
func peakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}

func benchImport(b *testing.B, path string, want *Log) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	runtime.GC()
	debug.FreeOSMemory()
	measured := resetPeakRSS()
	b.ReportAllocs()
	b.ResetTimer()
	var l *Log
	for b.Loop() {
		if l, err = Open(path, Limits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if peak, ok := peakRSS(); ok && measured {
		b.ReportMetric(float64(peak)/(1<<20), "peak-RSS-MB")
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "file-MB")
	if l.Model != want.Model || l.Status != want.Status || len(l.Tasks) != 1 || len(l.Tasks[0].Metrics) != len(want.Tasks[0].Metrics) {
		b.Fatalf("parsed %s", dump(l))
	}
}

// BenchmarkImportEval100MB parses a ~100 MB zstd Inspect .eval archive:
// one sequential SHA-256 pass over the file plus header.json.
func BenchmarkImportEval100MB(b *testing.B) {
	fixture := readFixture(b, fixtureInspectEval)
	path := benchFile(b, "big.eval", buildEval(fixture))
	benchImport(b, path, mustParse(b, "x", fixture))
}

// BenchmarkImportJSON100MB parses a ~100 MB Inspect .json log whose
// samples array is validated and skipped while streaming.
func BenchmarkImportJSON100MB(b *testing.B) {
	fixture := readFixture(b, fixtureInspectJSON)
	path := benchFile(b, "big.json", buildJSON(fixture))
	benchImport(b, path, mustParse(b, "x", fixture))
}
