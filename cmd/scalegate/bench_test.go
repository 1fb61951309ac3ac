package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// benchPolicy declares the 20 evaluations e01…e20 of model "bench".
var benchPolicy = filepath.Join("testdata", "bench", "policy.yaml")

// benchStart is when the benchmark's evidence begins.
var benchStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// writeBenchEvidence writes an Evidence file for model "bench": nCkpt
// checkpoints with growing compute (1e23 × 1.02^i), each with perCkpt
// results cycling through the 20 evaluations (scores below every
// threshold's warning level, so the gate allows). It returns the last
// checkpoint's compute.
func writeBenchEvidence(path string, nCkpt, perCkpt int) (float64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, "apiVersion: scalegate.dev/v1\nkind: Evidence\nmodels:\n  - {id: bench, developer: Bench Lab, policy: bench-rsp}\ncheckpoints:\n")
	compute := 1e23
	last := 0.0
	for i := range nCkpt {
		at := benchStart.Add(time.Duration(i) * time.Hour)
		fmt.Fprintf(w, "  - {id: bench-c%04d, model: bench, effectiveCompute: %g, at: %s}\n", i, compute, at.Format(time.RFC3339))
		last = compute
		compute *= 1.02
	}
	fmt.Fprintf(w, "results:\n")
	for i := range nCkpt {
		at := benchStart.Add(time.Duration(i)*time.Hour + 30*time.Minute)
		for j := range perCkpt {
			score := float64((i*7+j*13)%60) / 100 // 0.00 … 0.59
			fmt.Fprintf(w, "  - {checkpoint: bench-c%04d, evaluation: e%02d, score: %.2f, elicitation: scaffolded, samples: 500, at: %s}\n",
				i, j%20+1, score, at.Add(time.Duration(j)*time.Second).Format(time.RFC3339))
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return last, f.Close()
}

// benchRun runs scalegate in-process and fails the benchmark unless it
// exits 0.
func benchRun(b *testing.B, args ...string) string {
	b.Helper()
	var out, errb bytes.Buffer
	if code := Run(context.Background(), args, &out, &errb); code != 0 {
		b.Fatalf("scalegate %v: exit %d: %s", args, code, errb.String())
	}
	return out.String()
}

var gateBench struct {
	once    sync.Once
	data    string
	compute float64 // the last checkpoint's compute
	err     error
}

// BenchmarkGateScaleCLI measures one `gate scale -o json` call by a lab's
// pipeline: a new process each time (wall time includes process start and
// opening the store), against a store holding 10,000 evaluation results
// for the model (500 checkpoints × 20 results, every checkpoint assessed,
// so the gate walks all 500). Target: ≤ 50 ms/op. peak-RSS-MB is a gate
// process's peak RSS; B/op and allocs/op only count the benchmark's own
// side of exec.
func BenchmarkGateScaleCLI(b *testing.B) {
	bin := scalegateBinary(b)
	gateBench.once.Do(func() {
		dir := filepath.Join(sharedDir(b), "gate-bench")
		if gateBench.err = os.MkdirAll(dir, 0o777); gateBench.err != nil {
			return
		}
		file := filepath.Join(dir, "evidence.yaml")
		gateBench.compute, gateBench.err = writeBenchEvidence(file, 500, 20)
		if gateBench.err != nil {
			return
		}
		gateBench.data = filepath.Join(dir, "data")
		benchRun(b, "--data", gateBench.data, "policy", "publish", benchPolicy, "--at", "2025-12-01T00:00:00Z")
		out := benchRun(b, "--data", gateBench.data, "import", file)
		b.Logf("%s", out)
	})
	if gateBench.err != nil {
		b.Fatal(gateBench.err)
	}
	args := []string{"--data", gateBench.data, "gate", "scale", "--model", "bench",
		"--to", fmt.Sprint(gateBench.compute * 3), "--at", "2026-03-01T00:00:00Z", "-o", "json"}
	var stdout, stderr bytes.Buffer
	for b.Loop() {
		stdout.Reset()
		stderr.Reset()
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			b.Fatalf("scalegate %v: %v\n%s%s", args, err, stdout.String(), stderr.String())
		}
	}
	if !bytes.Contains(stdout.Bytes(), []byte(`"verdict":"allow"`)) || !bytes.Contains(stdout.Bytes(), []byte(`"checkpoint":"bench-c0499"`)) {
		b.Fatalf("want an allow assessed at bench-c0499, got %s", stdout.String())
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/gate")
	// One more call, untimed, for the peak RSS of a gate process.
	if _, rss, ok := peakRSS(b, bin, args...); ok {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
	}
}

var importBench struct {
	once sync.Once
	file string
	err  error
}

// BenchmarkImport100k imports one Evidence file of 100,000 results (1,000
// checkpoints of one model × 100 results) into a fresh data directory per
// iteration, through Run in the test process. Target: ≤ 5 s/op. It also
// reports the peak RSS of the scalegate binary doing the same import as a
// separate process (peak-RSS-MB), where the platform reports it; B/op is
// what the in-process import allocates in all.
func BenchmarkImport100k(b *testing.B) {
	importBench.once.Do(func() {
		importBench.file = filepath.Join(sharedDir(b), "import-100k.yaml")
		_, importBench.err = writeBenchEvidence(importBench.file, 1000, 100)
	})
	if importBench.err != nil {
		b.Fatal(importBench.err)
	}
	b.ReportAllocs()
	b.StopTimer()
	for range b.N {
		data := filepath.Join(b.TempDir(), "data")
		benchRun(b, "--data", data, "policy", "publish", benchPolicy, "--at", "2025-12-01T00:00:00Z")
		b.StartTimer()
		out := benchRun(b, "--data", data, "import", importBench.file)
		b.StopTimer()
		if !bytes.HasPrefix([]byte(out), []byte("imported 101001 records ")) {
			b.Fatalf("import printed %q, want 101001 records (1 model, 1000 checkpoints, 100000 results)", out)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/import")

	if testing.Short() {
		return
	}
	bin := scalegateBinary(b)
	data := filepath.Join(b.TempDir(), "data")
	if out, err := exec.Command(bin, "--data", data, "policy", "publish", benchPolicy).CombinedOutput(); err != nil {
		b.Fatalf("publish: %v\n%s", err, out)
	}
	if _, rss, ok := peakRSS(b, bin, "--data", data, "import", importBench.file); ok {
		b.ReportMetric(float64(rss)/(1<<20), "peak-RSS-MB")
	}
}
