package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/postgres/pgtest"
)

// fixture is a server on a fresh data directory with one token per role.
type fixture struct {
	t     testing.TB
	svc   *service.Service
	srv   *Server
	ts    *httptest.Server
	admin string
	lab   string
	aud   string
}

// fixedNow is the fixture's clock: after every demo record.
var fixedNow = time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	svc, err := service.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return fixedNow }
	t.Cleanup(func() { svc.Close() })
	return newFixtureOn(t, svc)
}

// newPostgresFixture is newFixture on a fresh PostgreSQL schema; it skips
// the test unless SCALEGATE_TEST_POSTGRES is set.
func newPostgresFixture(t testing.TB) *fixture {
	t.Helper()
	svc, err := service.OpenStore(context.Background(), pgtest.DSN(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	svc.Now = func() time.Time { return fixedNow }
	t.Cleanup(func() { svc.Close() })
	return newFixtureOn(t, svc)
}

func newFixtureOn(t testing.TB, svc *service.Service) *fixture {
	t.Helper()
	ctx := context.Background()
	srv, err := New(svc, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, svc: svc, srv: srv}
	f.ts = httptest.NewServer(srv)
	t.Cleanup(f.ts.Close)
	for _, x := range []struct {
		dst  *string
		name string
		role string
	}{{&f.admin, "the-admin", service.RoleAdmin}, {&f.lab, "lab-pipeline", service.RoleLab}, {&f.aud, "external-auditor-bot", service.RoleAuditor}} {
		// Benchmarks make several fixtures on one service: later ones get
		// numbered names.
		name := x.name
		tok, _, err := svc.CreateToken(ctx, name, x.role)
		for i := 2; err != nil && strings.Contains(err.Error(), "already exists"); i++ {
			name = fmt.Sprintf("%s-%d", x.name, i)
			tok, _, err = svc.CreateToken(ctx, name, x.role)
		}
		if err != nil {
			t.Fatal(err)
		}
		*x.dst = tok
	}
	return f
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) String() string { return string(r.body) }

func (r response) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

// errorText returns the "error" of a JSON error body.
func (r response) errorText(t testing.TB) string {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	r.json(t, &e)
	if e.Error == "" {
		t.Fatalf("want a JSON error, got %s", r.body)
	}
	return e.Error
}

// do sends a request with an optional bearer token.
func (f *fixture) do(method, path, token string, body io.Reader) response {
	f.t.Helper()
	req, err := http.NewRequest(method, f.ts.URL+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := f.ts.Client().Do(req)
	if err != nil {
		f.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (f *fixture) get(path string) response { return f.do("GET", path, "", nil) }

func (f *fixture) post(path, token, body string) response {
	return f.do("POST", path, token, strings.NewReader(body))
}

// want fails unless the response has the status.
func want(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body: %s", r.status, status, r.body)
	}
}

// logSize is the number of log entries.
func (f *fixture) logSize() int64 {
	f.t.Helper()
	var n int64
	err := f.svc.Store.View(context.Background(), func(r store.Reader) error {
		var err error
		n, err = r.Size(context.Background())
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

func repoFile(t testing.TB, path string) string {
	t.Helper()
	b, err := scalegate.Files.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// demoStep is a step of the repository's demo, done through the API.
type demoStep struct {
	publish, evidence string // repository files
	at                string
	scale             *ScaleRequest
	deploy            *DeployRequest
}

func flop(v float64) *float64 { return &v }

var demoScript = []demoStep{
	{publish: "policies/example.yaml", at: "2026-01-01T00:00:00Z"},
	{evidence: "examples/demo/01-first-checkpoint.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(4e24), At: "2026-01-15T00:00:00Z"}},
	{evidence: "examples/demo/02-early-warning.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(1.6e25), At: "2026-02-05T00:00:00Z"}},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(8e24), At: "2026-02-05T00:00:00Z"}},
	{evidence: "examples/demo/03-threshold-crossed.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(1.6e25), At: "2026-03-05T00:00:00Z"}},
	{evidence: "examples/demo/04-self-attested.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(1.6e25), At: "2026-03-12T00:00:00Z"}},
	{evidence: "examples/demo/05-external-attestation.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(1.6e25), At: "2026-03-21T00:00:00Z"}},
	{deploy: &DeployRequest{Checkpoint: "atlas-c3", Mode: "external", At: "2026-03-21T00:00:00Z"}},
	{deploy: &DeployRequest{Checkpoint: "atlas-c3", Mode: "open-weights", At: "2026-03-21T00:00:00Z"}},
	{evidence: "examples/demo/06-red-line.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(3.2e25), At: "2026-04-04T00:00:00Z"}},
	{publish: "policies/example-v2.yaml", at: "2026-04-05T00:00:00Z"},
	{evidence: "examples/demo/07-asl4-security.yaml"},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(3.2e25), At: "2026-04-21T00:00:00Z"}},
	{scale: &ScaleRequest{Model: "atlas", ToCompute: flop(3.2e25), At: "2026-05-06T00:00:00Z"}},
	{publish: "policies/example-forecast.yaml", at: "2026-05-01T00:00:00Z"},
	{evidence: "examples/demo/08-forecast.yaml"},
	{scale: &ScaleRequest{Model: "boreas", ToCompute: flop(2.5e25), At: "2026-06-10T00:00:00Z"}},
	{scale: &ScaleRequest{Model: "boreas", ToCompute: flop(6e24), At: "2026-06-10T00:00:00Z"}},
}

// loadDemo runs the demo through the API: the admin publishes, the lab
// imports and asks the gate. It returns the decisions in order.
func (f *fixture) loadDemo() []gate.Decision {
	f.t.Helper()
	var out []gate.Decision
	for _, st := range demoScript {
		switch {
		case st.publish != "":
			r := f.post("/v1/policies?at="+st.at, f.admin, repoFile(f.t, st.publish))
			want(f.t, r, http.StatusCreated)
		case st.evidence != "":
			r := f.post("/v1/evidence", f.lab, repoFile(f.t, st.evidence))
			want(f.t, r, http.StatusCreated)
		case st.scale != nil || st.deploy != nil:
			path, body := "/v1/gate/scale", any(st.scale)
			if st.deploy != nil {
				path, body = "/v1/gate/deploy", st.deploy
			}
			b, _ := json.Marshal(body)
			r := f.do("POST", path, f.lab, bytes.NewReader(b))
			want(f.t, r, http.StatusOK)
			var d gate.Decision
			r.json(f.t, &d)
			out = append(out, d)
		}
	}
	return out
}
