package server

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store/postgres/pgtest"
	"scalegate.dev/scalegate/internal/yamlx"
)

// TestMain removes the data directories the benchmarks build once per
// test binary.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

var benchDirs []string

// benchService opens a service on a new directory kept for the whole test
// binary, with the bench policy published.
func benchService(tb testing.TB) *service.Service {
	tb.Helper()
	dir := benchDir(tb)
	svc, err := service.Open(context.Background(), dir)
	if err != nil {
		tb.Fatal(err)
	}
	return benchSetup(tb, svc)
}

// benchPostgres is benchService on a fresh PostgreSQL schema, dropped when
// tb ends; it skips unless SCALEGATE_TEST_POSTGRES is set.
func benchPostgres(tb testing.TB) *service.Service {
	tb.Helper()
	svc, err := service.OpenStore(context.Background(), pgtest.DSN(tb), benchDir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { svc.Close() })
	return benchSetup(tb, svc)
}

func benchDir(tb testing.TB) string {
	dir, err := os.MkdirTemp("", "scalegate-server-bench-")
	if err != nil {
		tb.Fatal(err)
	}
	benchDirs = append(benchDirs, dir)
	return dir
}

func benchSetup(tb testing.TB, svc *service.Service) *service.Service {
	ctx := context.Background()
	svc.Now = func() time.Time { return time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC) }
	pol, err := os.ReadFile("testdata/bench-policy.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := svc.PublishPolicy(ctx, "bench-policy.yaml", pol, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "bench"); err != nil {
		tb.Fatal(err)
	}
	return svc
}

// benchModel returns the Evidence of one model: nCkpt checkpoints of
// growing compute, each with perCkpt results cycling through the 20
// evaluations, every score below the warning levels.
func benchModel(model string, nCkpt, perCkpt int) *evidence.File {
	f := &evidence.File{APIVersion: "scalegate.dev/v1", Kind: "Evidence", Doc: &yamlx.Doc{File: model}}
	f.Models = []evidence.Model{{ID: model, Developer: "Bench Lab", Policy: "bench-rsp"}}
	start := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	compute := 1e23
	for i := range nCkpt {
		id := fmt.Sprintf("%s-c%04d", model, i)
		at := start.Add(time.Duration(i) * time.Hour)
		f.Checkpoints = append(f.Checkpoints, evidence.Checkpoint{ID: id, Model: model, EffectiveCompute: compute, At: at})
		for j := range perCkpt {
			elicit := "scaffolded"
			if j%7 == 3 {
				elicit = "none" // weaker than required: hollow on the chart
			}
			f.Results = append(f.Results, evidence.Result{
				Checkpoint: id, Evaluation: fmt.Sprintf("e%02d", j%20+1),
				Score: 0.1 + 0.6*float64(i)/float64(nCkpt) + float64((i*7+j*13)%10)/100, Elicitation: elicit, Samples: 500,
				At: at.Add(30*time.Minute + time.Duration(j)*time.Second),
			})
		}
		compute *= 1.02
	}
	return f
}

const (
	gateModels    = 100
	gateCkpts     = 10
	gatePerCkpt   = 99
	gateEvidenceN = gateModels * gateCkpts * (1 + gatePerCkpt)
)

// gateData fills a bench service with 100 models × (10 checkpoints + 990
// results): 100,000 evidence records. It returns the last checkpoint's
// compute (the same for every model).
func gateData(b *testing.B, svc *service.Service) float64 {
	var last float64
	for m := range gateModels {
		f := benchModel(fmt.Sprintf("m%03d", m), gateCkpts, gatePerCkpt)
		last = f.Checkpoints[len(f.Checkpoints)-1].EffectiveCompute
		if _, err := svc.Import(context.Background(), []*evidence.File{f}, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	return last
}

// BenchmarkGateHTTP measures POST /v1/gate/scale over HTTP on loopback
// against a store holding 100,000 evidence records (100 models of 1,000
// records; each decision reads one model's and is recorded in the log),
// on SQLite and on PostgreSQL (when SCALEGATE_TEST_POSTGRES is set), with
// 1, 8, 16 and 32 concurrent clients. It reports decisions/s, the median and
// 99th percentile latencies, and the process's CPU time per decision
// (server and clients). Targets: ≥ 2,000 decisions/s, p99 ≤ 20 ms.
func BenchmarkGateHTTP(b *testing.B) {
	for _, st := range []struct {
		name string
		open func(testing.TB) *service.Service
	}{{"sqlite", benchService}, {"postgres", benchPostgres}} {
		b.Run("store="+st.name, func(b *testing.B) {
			svc := st.open(b)
			last := gateData(b, svc)
			for _, clients := range []int{1, 8, 16, 32} {
				b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) { benchGate(b, svc, last, clients) })
			}
		})
	}
}

func benchGate(b *testing.B, svc *service.Service, last float64, clients int) {
	// The garbage collector runs as under "scalegate serve".
	defer debug.SetGCPercent(debug.SetGCPercent(GCPercent))
	f := newFixtureOn(b, svc)
	tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var mu sync.Mutex
	var lat []time.Duration
	var next, deny int
	// Each client takes requests until b.N are done.
	take := func() bool {
		mu.Lock()
		defer mu.Unlock()
		next++
		return next <= b.N
	}
	b.ResetTimer()
	start := time.Now()
	cpu0 := cpuTime()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 1))
			var mine []time.Duration
			var buf bytes.Buffer
			denied := 0
			for take() {
				body := fmt.Sprintf(`{"model":"m%03d","toCompute":%g,"at":"2026-03-01T00:00:00Z"}`, rng.IntN(gateModels), last*2)
				req, _ := http.NewRequest("POST", f.ts.URL+"/v1/gate/scale", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+f.lab)
				t0 := time.Now()
				res, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				buf.Reset()
				buf.ReadFrom(res.Body)
				res.Body.Close()
				out := buf.Bytes()
				mine = append(mine, time.Since(t0))
				if res.StatusCode != http.StatusOK {
					b.Errorf("%d %s", res.StatusCode, out)
					return
				}
				if !strings.Contains(string(out), `"verdict": "allow"`) {
					denied++
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			deny += denied
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	b.StopTimer()
	if deny > 0 {
		b.Fatalf("%d of %d decisions were not allow", deny, len(lat))
	}
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "decisions/s")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		// The CPU time of the whole process (server and clients) per
		// decision: steadier than the rate on a shared machine.
		b.ReportMetric(float64(cpu.Microseconds())/float64(len(lat)), "cpu-µs/decision")
	}
}

var pageBench struct {
	once sync.Once
	svc  *service.Service
	err  error
}

// BenchmarkModelPage measures the server time of the dashboard's model
// page (and the JSON model view) for a model with 200 checkpoints × 20
// evaluation results, handled in process (no network). "warm" is the
// steady state, where the gate's reading of the model is cached until new
// evidence arrives; "cold" recomputes it every time, forecasts included.
// Target: ≤ 100 ms.
func BenchmarkModelPage(b *testing.B) {
	pageBench.once.Do(func() {
		svc := benchService(b)
		if _, err := svc.Import(context.Background(), []*evidence.File{benchModel("big", 200, 20)}, "bench"); err != nil {
			pageBench.err = err
			return
		}
		pageBench.svc = svc
	})
	if pageBench.err != nil {
		b.Fatal(pageBench.err)
	}
	srv, err := New(pageBench.svc, Options{})
	if err != nil {
		b.Fatal(err)
	}
	get := func(b *testing.B, path string) {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s: %d %s", path, rec.Code, rec.Body)
		}
	}
	for _, c := range []struct {
		name, path string
		cold       bool
	}{
		{"warm", "/models/big", false},
		{"cold", "/models/big", true},
		{"api-warm", "/v1/models/big", false},
	} {
		b.Run(c.name, func(b *testing.B) {
			get(b, c.path)
			for b.Loop() {
				if c.cold {
					srv.cache, srv.data = newLRU[*analysis](256), newLRU[*modelData](16)
				}
				get(b, c.path)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/page")
		})
	}
}
