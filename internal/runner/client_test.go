package runner

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

// transports runs a test over the fast HTTP/1.1 client and over net/http.
func transports(t *testing.T, f func(t *testing.T, std bool)) {
	t.Run("h1", func(t *testing.T) { f(t, false) })
	t.Run("nethttp", func(t *testing.T) { f(t, true) })
}

// sleeps records the backoff waits of a client instead of waiting.
type sleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.d = append(s.d, d)
	s.mu.Unlock()
	return ctx.Err()
}

func testClient(t *testing.T, srv *runnertest.Server, std bool, cfg ClientConfig) (*Client, *sleeps) {
	t.Helper()
	cfg.Endpoint = srv.URL + "/v1"
	if cfg.Model == "" {
		cfg.Model = "m"
	}
	cfg.StdHTTP = std
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	sl := &sleeps{}
	c.Sleep = sl.sleep
	c.Jitter = func() float64 { return 0.5 }
	return c, sl
}

func TestEndpointURL(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/v1/chat/completions", ""},
		{"http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000/v1/chat/completions", ""},
		{"http://127.0.0.1:8000", "http://127.0.0.1:8000/v1/chat/completions", ""},
		{"http://127.0.0.1:11434/v1/chat/completions", "http://127.0.0.1:11434/v1/chat/completions", ""},
		{"https://api.example.org/openai/v1", "https://api.example.org/openai/v1/chat/completions", ""},
		{"ftp://x/v1", "", "want an http"},
		{"127.0.0.1:8000", "", "want an http"},
	} {
		got, err := EndpointURL(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("EndpointURL(%q) error = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("EndpointURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	if got := RedactURL("http://user:pw@h:1/v1/chat/completions?key=s#f"); got != "http://h:1/v1/chat/completions" {
		t.Errorf("RedactURL = %q", got)
	}
}

func TestChatAnswers(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		temp := 0.0
		srv.Reply = func(r *runnertest.Request) string {
			if r.Model != "my-model" || r.Temperature == nil || *r.Temperature != 0 || len(r.Messages) != 2 {
				return "unexpected request"
			}
			return "echo: " + r.Prompt
		}
		c, _ := testClient(t, srv, std, ClientConfig{Model: "my-model", APIKey: "sk-test", Generation: Generation{Temperature: &temp}})
		msgs := []Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "héllo \"quoted\"\n\u2028 <b>"}}
		comp, err := c.Chat(context.Background(), msgs)
		if err != nil {
			t.Fatal(err)
		}
		if want := "echo: " + msgs[1].Content; comp.Content != want {
			t.Errorf("content = %q, want %q", comp.Content, want)
		}
		if comp.Attempts != 1 || comp.FinishReason != "stop" || comp.Usage.TotalTokens != 12 {
			t.Errorf("completion = %+v", comp)
		}
		if !srv.SawAuth("Bearer sk-test") {
			t.Error("the API key was not sent as a bearer token")
		}
	})
}

func TestChatRetries(t *testing.T) {
	for _, tt := range []struct {
		name     string
		faults   []runnertest.Fault
		retries  int
		attempts int    // requests the server sees
		err      error  // nil: success
		errText  string // in the error
	}{
		{"429 then answer", []runnertest.Fault{runnertest.TooMany}, 3, 2, nil, ""},
		{"500 twice then answer", []runnertest.Fault{runnertest.ServerError, runnertest.ServerError}, 3, 3, nil, ""},
		{"malformed then answer", []runnertest.Fault{runnertest.Malformed}, 3, 2, nil, ""},
		{"no choices then answer", []runnertest.Fault{runnertest.NoChoices}, 3, 2, nil, ""},
		{"stall then answer", []runnertest.Fault{runnertest.Stall}, 3, 2, nil, ""},
		{"malformed always", []runnertest.Fault{runnertest.Malformed, runnertest.Malformed, runnertest.Malformed}, 2, 3, ErrMalformed, "after 3 attempts"},
		{"500 always", []runnertest.Fault{runnertest.ServerError, runnertest.ServerError, runnertest.ServerError}, 2, 3, ErrStatus, "http 500"},
		{"stall always", []runnertest.Fault{runnertest.Stall, runnertest.Stall}, 1, 2, ErrTimeout, "timed out"},
		{"401 is not retried", []runnertest.Fault{runnertest.Unauthorized}, 3, 1, ErrStatus, "http 401: {\"error\":{\"message\":\"invalid api key\"}}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			transports(t, func(t *testing.T, std bool) {
				srv := runnertest.NewServer()
				defer srv.Close()
				srv.Fault = func(r *runnertest.Request) runnertest.Fault {
					if r.Attempt <= len(tt.faults) {
						return tt.faults[r.Attempt-1]
					}
					return runnertest.Answer
				}
				c, sl := testClient(t, srv, std, ClientConfig{Retries: tt.retries, Timeout: 100 * time.Millisecond})
				if tt.retries == 0 {
					c.Retries = 0
				}
				comp, err := c.Chat(context.Background(), []Message{{Role: "user", Content: "q"}})
				if got := srv.Count("q"); got != tt.attempts {
					t.Errorf("server saw %d requests, want %d", got, tt.attempts)
				}
				if c.Attempts() != int64(tt.attempts) {
					t.Errorf("client counted %d attempts, want %d", c.Attempts(), tt.attempts)
				}
				if tt.err == nil {
					if err != nil {
						t.Fatalf("Chat: %v", err)
					}
					if comp.Attempts != tt.attempts || comp.Content != "ANSWER: A" {
						t.Errorf("completion = %+v", comp)
					}
				} else {
					if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.errText) {
						t.Fatalf("Chat error = %v; want %v containing %q", err, tt.err, tt.errText)
					}
				}
				if len(sl.d) != tt.attempts-1 {
					t.Errorf("slept %d times, want %d", len(sl.d), tt.attempts-1)
				}
			})
		})
	}
}

func TestBackoff(t *testing.T) {
	c := &Client{Base: 100 * time.Millisecond, Max: time.Second, Jitter: func() float64 { return 0.5 }}
	want := []time.Duration{50, 100, 200, 400, 500, 500}
	for i, w := range want {
		if got := c.Backoff(i+1, 0); got != w*time.Millisecond {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := c.Backoff(1, 700*time.Millisecond); got != 700*time.Millisecond {
		t.Errorf("Backoff with Retry-After 700ms = %v", got)
	}
	if got := c.Backoff(1, time.Hour); got != time.Second {
		t.Errorf("Backoff with Retry-After 1h = %v, want the cap", got)
	}
	if got := c.Backoff(200, 0); got != 500*time.Millisecond {
		t.Errorf("Backoff(200) = %v", got)
	}
	c.Jitter = func() float64 { return 0 }
	if got := c.Backoff(3, 0); got != 0 {
		t.Errorf("Backoff with zero jitter = %v", got)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for h, want := range map[string]time.Duration{"": 0, "3": 3 * time.Second, "0.5": 500 * time.Millisecond, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestRetryAfterHonoured(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Fault = func(r *runnertest.Request) runnertest.Fault {
		if r.Attempt == 1 {
			return runnertest.TooMany
		}
		return runnertest.Answer
	}
	c, sl := testClient(t, srv, false, ClientConfig{})
	c.Jitter = func() float64 { return 0 }
	if _, err := c.Chat(context.Background(), []Message{{Role: "user", Content: "q"}}); err != nil {
		t.Fatal(err)
	}
	if len(sl.d) != 1 || sl.d[0] != 0 {
		t.Errorf("waits = %v, want one of 0 (Retry-After: 0, zero jitter)", sl.d)
	}
}

func TestCancelStopsRetries(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Fault = func(*runnertest.Request) runnertest.Fault { return runnertest.ServerError }
	c, _ := testClient(t, srv, false, ClientConfig{Retries: 5})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Chat(ctx, []Message{{Role: "user", Content: "q"}})
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want one wrapping context.Canceled", err)
	}
	if n := srv.Count("q"); n != 1 {
		t.Errorf("a cancelled context let %d requests through, want the one in flight only", n)
	}
}

func TestAbandonCancelsInFlight(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		abandon, cancel := context.WithCancel(context.Background())
		srv.Fault = func(r *runnertest.Request) runnertest.Fault {
			cancel()
			return runnertest.Stall
		}
		c, _ := testClient(t, srv, std, ClientConfig{Timeout: time.Hour})
		c.Abandon = abandon
		_, err := c.Chat(context.Background(), []Message{{Role: "user", Content: "q"}})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want an abandoned request", err)
		}
		if Retryable(err) {
			t.Error("an abandoned request is retryable")
		}
	})
}

func TestParseCompletion(t *testing.T) {
	for _, tt := range []struct {
		body, content string
		err           error
	}{
		{`{"choices":[{"message":{"content":"plain"},"finish_reason":"stop"}]}`, "plain", nil},
		{`{"choices":[{"message":{"content":"esc\"aped\n\u00e9"}}]}`, "esc\"aped\né", nil},
		{`{"choices":[{"message":{"content":null,"tool_calls":[]}}]}`, "", nil},
		{`{"choices":[{"message":{"content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}}]}`, "a\nb", nil},
		{`{"choices":[]}`, "", ErrMalformed},
		{`{"error":{"message":"overloaded"}}`, "", ErrMalformed},
		{`{"choices":[{"message":{"content":"x"`, "", ErrMalformed},
		{`<html>502</html>`, "", ErrMalformed},
		{`{"choices":[{"message":{"content":[{"type":"image","url":"x"}]}}]}`, "", ErrMalformed},
	} {
		c, err := parseCompletion([]byte(tt.body))
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("parseCompletion(%s) error = %v, want %v", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil || c.Content != tt.content {
			t.Errorf("parseCompletion(%s) = %+v, %v; want %q", tt.body, c, err, tt.content)
		}
	}
}
