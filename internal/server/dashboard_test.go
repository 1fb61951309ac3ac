package server

import (
	"context"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

func TestDashboardPages(t *testing.T) {
	f := newFixture(t)
	// Before anything is recorded the pages still answer.
	for _, p := range []string{"/", "/log"} {
		want(t, f.get(p), http.StatusOK)
	}
	f.loadDemo()
	for _, c := range []struct {
		path string
		has  []string
	}{
		{"/", []string{"atlas", "boreas", `href="/models/atlas"`, "state-crossed", "asl3-security", "Latest decision"}},
		{"/?at=2026-03-15", []string{"Historic view", "sg-missing", `href="/models/atlas?at=2026-03-15"`}},
		{"/models/atlas", []string{"<svg", `class="level level-trigger"`, `class="level level-warning"`, `class="level level-clear"`, `class="ckpt"`, `class="pt hollow"`, "Red line crossed", "log entry"}},
		{"/models/boreas", []string{`class="fit"`, `class="band"`, `class="cross"`, "forecast to fire at"}},
		{"/policies/example-rsp?at=2026-04-20", []string{"scrutiny period", "Takes force in <strong>15 days</strong>", "2026-05-05", "red line"}},
		{"/log", []string{"scalegate verify --key", "/v1/log/proof/", "Latest checkpoint"}},
	} {
		t.Run(c.path, func(t *testing.T) {
			r := f.get(c.path)
			want(t, r, http.StatusOK)
			if ct := r.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("content type %q", ct)
			}
			if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("CSP %q", csp)
			}
			for _, s := range c.has {
				if !strings.Contains(r.String(), s) {
					t.Errorf("page lacks %q", s)
				}
			}
			// Nothing is loaded from elsewhere.
			if m := regexp.MustCompile(`(src|href)="(https?:)?//`).FindString(r.String()); m != "" && !strings.Contains(c.path, "policies") {
				t.Errorf("page refers to another origin: %s", m)
			}
			// Every chart is well-formed XML.
			for _, svg := range regexp.MustCompile(`(?s)<svg xmlns.*?</svg>`).FindAllString(r.String(), -1) {
				if err := xml.Unmarshal([]byte(svg), new(any)); err != nil {
					t.Errorf("chart SVG is not well-formed: %v", err)
				}
			}
		})
	}
	r := f.get("/models/nope")
	want(t, r, http.StatusNotFound)
	if !strings.Contains(r.String(), "unknown model") || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Errorf("404 page: %s", r.body)
	}
	want(t, f.get("/nope"), http.StatusNotFound)
	want(t, f.get("/static/nope.css"), http.StatusNotFound)
	want(t, f.get("/models/atlas?at=nonsense"), http.StatusBadRequest)
	r = f.post("/models/atlas", "", "")
	want(t, r, http.StatusMethodNotAllowed)
	r = f.get("/static/style.css")
	want(t, r, http.StatusOK)
	if !strings.Contains(r.String(), "@media print") {
		t.Error("the stylesheet has no print rules")
	}
}

// TestGracefulShutdown starts Run, holds a request in flight, cancels the
// context and checks that the request still completes and Run returns
// cleanly.
func TestGracefulShutdown(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, h, Config{Addr: "127.0.0.1:0", Ready: func(a net.Addr) { addrc <- a }})
	}()
	addr := <-addrc
	type result struct {
		body string
		err  error
	}
	got := make(chan result, 1)
	go func() {
		res, err := http.Get("http://" + addr.String() + "/")
		if err != nil {
			got <- result{err: err}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		got <- result{string(b), err}
	}()
	<-entered
	cancel()
	// New connections are refused once shutdown has begun; the in-flight
	// request is still waiting. Let it finish.
	close(release)
	r := <-got
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
