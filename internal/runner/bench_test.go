package runner

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

func benchItems(n int) []Item {
	samples := make([]*Sample, n)
	for i := range samples {
		samples[i] = &Sample{ID: SampleID{Num: int64(i + 1), IsNum: true}, Epoch: 1,
			Input:   []Message{{Role: "user", Content: fmt.Sprintf("Question %d: which of these is a prime number?", i)}},
			Choices: []string{"4", "6", "7", "9"}, Target: []string{"C"}}
	}
	return Items(&Prompt{Choice: true}, samples)
}

// cpuTime is the process's user and system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkRun measures the runner's overhead against a stub endpoint that
// answers at once: b.N samples with 64 connections, each scored and
// recorded in the resume state, as the CLI runs them (with an abandon
// context). The stub runs in-process unless SCALEGATE_RUNNER_STUB names
// one (see cmd/runnerstub), in which case cpu-µs/sample is the runner's
// CPU alone.
func BenchmarkRun(b *testing.B) {
	url := os.Getenv("SCALEGATE_RUNNER_STUB")
	if url == "" {
		srv := httptest.NewServer(runnertest.StubHandler())
		defer srv.Close()
		url = srv.URL
	}
	const conns = 64
	items := benchItems(b.N)
	c, err := NewClient(ClientConfig{Endpoint: url + "/v1", Model: "stub", MaxConnections: conns})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	abandon, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.Abandon = abandon
	st, err := OpenState(b.TempDir(), Header{RunID: "bench"}, false, nil)
	if err != nil {
		b.Fatal(err)
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: conns}, items)
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	cpu := cpuTime() - cpu0
	if res.Done() != b.N {
		b.Fatalf("done %d of %d: %v", res.Done(), b.N, res.Failures)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/sample")
}
