package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/gate"
)

// loadDuration is how long the load test runs; SCALEGATE_LOAD_DURATION
// (a Go duration) overrides it.
func loadDuration(t *testing.T) time.Duration {
	if v := os.Getenv("SCALEGATE_LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SCALEGATE_LOAD_DURATION: %v", err)
		}
		return d
	}
	return 30 * time.Second
}

// ack is a write the server acknowledged.
type ack struct {
	index      int64  // log index
	kind       string // record kind
	checkpoint string // for checkpoint records
}

// TestLoad runs 32 concurrent clients against a server over loopback for
// 30 s (SCALEGATE_LOAD_DURATION), on SQLite and on PostgreSQL (when
// SCALEGATE_TEST_POSTGRES names a database), each posting evidence for its
// own model and asking the gate, alternately, while 4 more read the
// dashboard and the JSON views. It checks that no request fails, that every
// acknowledged write is in the store afterwards, and that the log verifies.
// It is skipped with -short.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test skipped in -short mode")
	}
	t.Run("sqlite", func(t *testing.T) { testLoad(t, newFixture(t)) })
	t.Run("postgres", func(t *testing.T) { testLoad(t, newPostgresFixture(t)) })
}

func testLoad(t *testing.T, f *fixture) {
	const clients = 32
	pol, err := os.ReadFile("testdata/bench-policy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want(t, f.post("/v1/policies?at=2026-01-01", f.admin, string(pol)), http.StatusCreated)
	tr := &http.Transport{MaxIdleConns: 2 * clients, MaxIdleConnsPerHost: 2 * clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var mu sync.Mutex
	var acks []ack
	var requests int
	post := func(path, body string, v any) bool {
		req, _ := http.NewRequest("POST", f.ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.lab)
		res, err := client.Do(req)
		mu.Lock()
		requests++
		mu.Unlock()
		if err != nil {
			t.Errorf("POST %s: %v", path, err)
			return false
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusCreated {
			t.Errorf("POST %s: %d %s", path, res.StatusCode, b)
			return false
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Errorf("POST %s: %v", path, err)
			return false
		}
		return true
	}
	deadline := time.Now().Add(loadDuration(t))
	start := time.Now()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			model := fmt.Sprintf("load-%02d", c)
			compute := 1e23
			for i := 0; time.Now().Before(deadline); i++ {
				at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
				var b strings.Builder
				b.WriteString("apiVersion: scalegate.dev/v1\nkind: Evidence\n")
				if i == 0 {
					fmt.Fprintf(&b, "models:\n  - {id: %s, developer: Load Lab, policy: bench-rsp}\n", model)
				}
				ck := fmt.Sprintf("%s-c%05d", model, i)
				fmt.Fprintf(&b, "checkpoints:\n  - {id: %s, model: %s, effectiveCompute: %g, at: %s}\nresults:\n", ck, model, compute, at.Format(time.RFC3339))
				for e := 1; e <= 20; e++ {
					fmt.Fprintf(&b, "  - {checkpoint: %s, evaluation: e%02d, score: %.2f, elicitation: scaffolded, at: %s}\n", ck, e, float64((i+e)%40)/100, at.Format(time.RFC3339))
				}
				var im ImportedJSON
				if !post("/v1/evidence", b.String(), &im) {
					return
				}
				if im.First == nil || *im.Last-*im.First+1 != int64(im.Records) {
					t.Errorf("client %d: import acknowledged %+v", c, im)
					return
				}
				mu.Lock()
				first := *im.First
				if i == 0 {
					acks = append(acks, ack{index: first, kind: "model"})
					first++
				}
				acks = append(acks, ack{index: first, kind: "checkpoint", checkpoint: ck})
				for k := first + 1; k <= *im.Last; k++ {
					acks = append(acks, ack{index: k, kind: "result"})
				}
				mu.Unlock()
				var d gate.Decision
				body := fmt.Sprintf(`{"model":%q,"toCompute":%g,"at":%q}`, model, compute*2, at.Add(time.Second).Format(time.RFC3339))
				if !post("/v1/gate/scale", body, &d) {
					return
				}
				if d.LogIndex == nil || d.Verdict != gate.AllowVerdict {
					t.Errorf("client %d: decision %+v", c, d)
					return
				}
				mu.Lock()
				acks = append(acks, ack{index: *d.LogIndex, kind: "decision"})
				mu.Unlock()
				compute *= 1.5
			}
		})
	}
	// Readers: the dashboard and the JSON views, while the writes go on.
	var reads int
	for c := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				path := []string{"/", fmt.Sprintf("/models/load-%02d", (c*8+i)%clients), fmt.Sprintf("/v1/models/load-%02d", (c*8+i)%clients), "/v1/decisions?limit=20", "/log"}[i%5]
				res, err := client.Get(f.ts.URL + path)
				if err != nil {
					t.Errorf("GET %s: %v", path, err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				// A model page may be asked for before its model exists.
				if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNotFound {
					t.Errorf("GET %s: %d", path, res.StatusCode)
					return
				}
				mu.Lock()
				reads++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if t.Failed() {
		return
	}
	t.Logf("%s: %d clients, %d writing requests in %v (%.0f requests/s), %d acknowledged records; %d reads alongside", t.Name(), clients, requests, elapsed.Round(time.Millisecond), float64(requests)/elapsed.Seconds(), len(acks), reads)

	// Every acknowledged write is there, as what it was acknowledged as.
	ctx := context.Background()
	for _, a := range acks {
		b, err := f.svc.TrustedEntry(ctx, a.index)
		if err != nil {
			t.Fatalf("acknowledged entry %d: %v", a.index, err)
		}
		if !bytes.HasPrefix(b, []byte(`{"kind":"`+a.kind+`"`)) || (a.checkpoint != "" && !bytes.Contains(b, []byte(`"id":"`+a.checkpoint+`"`))) {
			t.Fatalf("entry %d is not the acknowledged %s %s: %.200s", a.index, a.kind, a.checkpoint, b)
		}
	}
	if n := f.logSize(); n != int64(len(acks))+1 {
		t.Errorf("log has %d entries; acknowledged %d plus the policy", n, len(acks))
	}
	rep, err := f.svc.Verify(ctx)
	if err != nil {
		t.Fatalf("log verify after the load: %v", err)
	}
	if rep.Size != f.logSize() {
		t.Errorf("verified %d entries of %d", rep.Size, f.logSize())
	}
}
