package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

// The tests of this file run Run over the lean HTTP/1.1 client (on Linux
// with the event loop, see loop_linux.go) and over net/http, through the
// ways a request can go wrong.

// itemIndex is the i of an mcqItems prompt ("…Q<i>").
func itemIndex(prompt string) int {
	i, _ := strconv.Atoi(prompt[strings.LastIndex(prompt, "Q")+1:])
	return i
}

// TestRunRetriesFaults fails the first attempt of most items in one of the
// ways the client retries (429, 500, a malformed body, no choices, a
// stalled answer that times out), and checks that each item is answered
// by its second attempt, recorded with two attempts, and never sent more.
func TestRunRetriesFaults(t *testing.T) {
	faults := []runnertest.Fault{runnertest.Answer, runnertest.TooMany, runnertest.ServerError, runnertest.Malformed, runnertest.NoChoices, runnertest.Stall}
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		srv.Fault = func(r *runnertest.Request) runnertest.Fault {
			if r.Attempt > 1 {
				return runnertest.Answer
			}
			return faults[itemIndex(r.Prompt)%len(faults)]
		}
		c, sl := testClient(t, srv, std, ClientConfig{MaxConnections: 6, Timeout: 300 * time.Millisecond})
		items := mcqItems(60)
		dir := t.TempDir()
		st := openTestState(t, dir)
		res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 6}, items)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if !res.Complete() || len(res.Failures) != 0 {
			t.Fatalf("result: %+v", res)
		}
		for i, it := range items {
			want := 2
			if i%len(faults) == 0 {
				want = 1
			}
			if n := srv.Count(promptOf(it)); n != want {
				t.Errorf("item %d sent %d times, want %d", i, n, want)
			}
			if o := res.Outcomes[i]; o.Attempts != want || o.Output != "ANSWER: A" {
				t.Errorf("item %d: %d attempts, output %q", i, o.Attempts, o.Output)
			}
		}
		if res.Requests != srv.Total() {
			t.Errorf("%d requests counted, the server saw %d", res.Requests, srv.Total())
		}
		if n := len(sl.d); n != 50 {
			t.Errorf("%d backoff waits, want 50", n)
		}
		st = openTestState(t, dir)
		defer st.Close()
		if len(st.Loaded) != 60 {
			t.Errorf("%d outcomes recorded, want 60", len(st.Loaded))
		}
		for _, o := range st.Loaded {
			if o.Score == nil || o.Attempts != res.Outcomes[int(o.ID.Num)-1].Attempts {
				t.Errorf("recorded %+v", o)
			}
		}
	})
}

// TestRunFailuresAndStop: an item whose attempts all fail is a failure, and
// a run stops dispatching after MaxFailures of them.
func TestRunFailuresAndStop(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		srv.Fault = func(r *runnertest.Request) runnertest.Fault {
			if itemIndex(r.Prompt) >= 20 {
				return runnertest.ServerError
			}
			return runnertest.Answer
		}
		c, _ := testClient(t, srv, std, ClientConfig{MaxConnections: 4, Retries: 2})
		res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, Concurrency: 4, MaxFailures: 5}, mcqItems(200))
		if err != nil {
			t.Fatal(err)
		}
		if res.Stopped == nil || len(res.Failures) < 5 || len(res.Failures) > 8 || res.Done() < 20 || res.Done() > 24 {
			t.Fatalf("stopped %v with %d failures, %d done", res.Stopped, len(res.Failures), res.Done())
		}
		for _, f := range res.Failures {
			var se *StatusError
			if !errors.As(f.Err, &se) || se.Code != http.StatusInternalServerError || !strings.Contains(f.Err.Error(), "after 3 attempts") {
				t.Errorf("failure %v", f)
			}
		}
	})
}

// TestRunInterruptAndAbandon: cancelling a run stops it dispatching, and
// Abandon cuts the requests in flight, which are not failures.
func TestRunInterruptAndAbandon(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		ctx, cancel := context.WithCancel(context.Background())
		abandon, abandonNow := context.WithCancel(context.Background())
		defer abandonNow()
		var n atomic.Int64
		srv.Fault = func(r *runnertest.Request) runnertest.Fault {
			switch k := n.Add(1); {
			case k < 20:
				return runnertest.Answer
			case k == 20:
				cancel()
				time.AfterFunc(50*time.Millisecond, abandonNow)
			}
			return runnertest.Stall
		}
		c, _ := testClient(t, srv, std, ClientConfig{MaxConnections: 4, Timeout: time.Hour})
		c.Abandon = abandon
		dir := t.TempDir()
		st := openTestState(t, dir)
		res, err := Run(ctx, Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 4}, mcqItems(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if !res.Interrupted || len(res.Failures) != 0 || res.Done() < 16 || res.Done() > 19 || srv.Total() > 24 {
			t.Fatalf("interrupted %v, %d failures, %d done, %d requests", res.Interrupted, len(res.Failures), res.Done(), srv.Total())
		}
		st = openTestState(t, dir)
		defer st.Close()
		if len(st.Loaded) != res.Done() {
			t.Errorf("%d outcomes recorded, %d done", len(st.Loaded), res.Done())
		}
	})
}

// TestRunClosedConnections: a server that closes its connections, after
// saying so or (as after an idle timeout) without, is asked again on new
// connections, once for each item.
func TestRunClosedConnections(t *testing.T) {
	for _, tt := range []struct {
		name string
		// perConn is the number of requests answered on a connection;
		// announce says "Connection: close" with the last.
		perConn  int
		announce bool
	}{
		{"close-announced", 1, true},
		{"close-silent", 1, false},
		{"close-silent-3", 3, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			transports(t, func(t *testing.T, std bool) {
				srv := newRawServer(t, tt.perConn, tt.announce)
				c, err := NewClient(ClientConfig{Endpoint: srv.url, Model: "m", MaxConnections: 4, StdHTTP: std})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				items := mcqItems(40)
				res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, Concurrency: 4}, items)
				if err != nil {
					t.Fatal(err)
				}
				if !res.Complete() || len(res.Failures) != 0 {
					t.Fatalf("result %+v", res)
				}
				for i, it := range items {
					if n := srv.count(promptOf(it)); n != 1 {
						t.Errorf("item %d answered %d times", i, n)
					}
					// net/http does not send a POST again on a new
					// connection: its retry is an attempt.
					if a := res.Outcomes[i].Attempts; a != 1 && (!std || a != 2) {
						t.Errorf("item %d: %d attempts", i, a)
					}
				}
			})
		})
	}
}

// TestRunLargeRequestsAndAnswers sends requests larger than a socket takes
// at once and gets answers larger than one read, some chunked.
func TestRunLargeRequestsAndAnswers(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		long := strings.Repeat("x", 12<<20)
		srv.Reply = func(r *runnertest.Request) string {
			if itemIndex(r.Prompt)%2 == 0 {
				return "ANSWER: A " + strings.Repeat("y", 200<<10)
			}
			return "ANSWER: B"
		}
		c, _ := testClient(t, srv, std, ClientConfig{MaxConnections: 2})
		items := mcqItems(6)
		for i := range items {
			m := &items[i].Messages[len(items[i].Messages)-1]
			m.Content = long + m.Content
		}
		res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, Concurrency: 2}, items)
		if err != nil {
			t.Fatal(err)
		}
		if !res.Complete() || len(res.Failures) != 0 {
			t.Fatalf("result %+v", res)
		}
		if m := Aggregate(res.Outcomes); m.Correct != 6 {
			t.Errorf("metrics %+v", m)
		}
		for i, o := range res.Outcomes {
			if want := 9 + 200<<10 + 1; i%2 == 0 && len(o.Output) != want {
				t.Errorf("item %d: output of %d bytes, want %d", i, len(o.Output), want)
			}
		}
	})
}

// rawServer is a chat-completions server that answers perConn requests
// on a connection and then closes it.
type rawServer struct {
	url string
	mu  sync.Mutex
	n   map[string]int
}

func newRawServer(t *testing.T, perConn int, announce bool) *rawServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{url: "http://" + ln.Addr().String() + "/v1", n: map[string]int{}}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close()
				br := bufio.NewReader(conn)
				for k := 1; k <= perConn; k++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					var body struct {
						Messages []Message `json:"messages"`
					}
					b, _ := io.ReadAll(req.Body)
					if err := json.Unmarshal(b, &body); err != nil || len(body.Messages) == 0 {
						return
					}
					s.mu.Lock()
					s.n[body.Messages[len(body.Messages)-1].Content]++
					s.mu.Unlock()
					resp := `{"choices":[{"message":{"content":"ANSWER: A"},"finish_reason":"stop"}]}`
					h := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(resp)) + "\r\n"
					if announce && k == perConn {
						h += "Connection: close\r\n"
					}
					if _, err := io.WriteString(conn, h+"\r\n"+resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

func (s *rawServer) count(prompt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[prompt]
}

// TestParseResponse parses responses whole and cut at every byte: a prefix
// needs more (or, at the end of the connection, is an error) and the whole
// gives the response.
func TestParseResponse(t *testing.T) {
	for _, tt := range []struct {
		name, in    string
		status      int
		body, retry string
		keep        bool
		err         string // of the whole input, complete
		untilEOF    bool   // the body ends with the connection
	}{
		{name: "length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello", status: 200, body: "hello", keep: true},
		{name: "lf-only", in: "HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", status: 200, body: "hi", keep: true},
		{name: "close", in: "HTTP/1.1 503 Busy\r\nRetry-After: 7\r\nconnection: Close\r\ncontent-length: 3\r\n\r\nbad", status: 503, body: "bad", retry: "7"},
		{name: "http10", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "http10-keep", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", keep: true},
		{name: "chunked", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0A\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n", status: 200, body: "abc0123456789", keep: true},
		{name: "continue", in: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", keep: true},
		{name: "no-content", in: "HTTP/1.1 204 No Content\r\n\r\n", status: 204, keep: true},
		{name: "until-eof", in: "HTTP/1.1 200 OK\r\n\r\nall of it", status: 200, body: "all of it", untilEOF: true},
		{name: "bad-status", in: "HTTP/2 200 OK\r\n\r\n", err: "malformed status line"},
		{name: "bad-length", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", status: 200, err: "bad Content-Length"},
		{name: "bad-header", in: "HTTP/1.1 200 OK\r\nnocolon\r\n\r\n", status: 200, err: "malformed header line"},
		{name: "bad-chunk", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 200, err: "bad chunk size"},
		{name: "chunk-crlf", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n", status: 200, err: "missing CRLF after chunk"},
		{name: "too-big", in: "HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n", status: 200, err: "malformed response"},
		{name: "long-line", in: "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", maxLineLen) + "\r\n\r\n", status: 200, err: "header line too long"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in + "NEXT")
			whole := len(tt.in)
			if tt.untilEOF {
				in = in[:whole]
			}
			p, _, err := parseResponse(in, tt.untilEOF, nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				if p.status != tt.status {
					t.Errorf("status %d with the error, want %d", p.status, tt.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.status != tt.status || string(p.body) != tt.body || p.retryAfter != tt.retry || p.keep != (tt.keep && !tt.untilEOF) || p.n != whole {
				t.Fatalf("got %+v (body %q), want status %d body %q retry %q keep %v n %d", p, p.body, tt.status, tt.body, tt.retry, tt.keep, whole)
			}
			for cut := 0; cut < whole; cut++ {
				_, need, err := parseResponse(in[:cut], false, nil)
				if err != errNeedMore || need > whole {
					t.Fatalf("cut at %d: need %d, %v", cut, need, err)
				}
				if need > cut {
					// What is needed is needed: no byte short of it completes.
					if _, _, err := parseResponse(in[:need-1], false, nil); err != errNeedMore {
						t.Fatalf("cut at %d (need %d): %v", need-1, need, err)
					}
				}
				if tt.untilEOF {
					continue
				}
				if _, _, err := parseResponse(in[:cut], true, nil); err != io.EOF && err != io.ErrUnexpectedEOF {
					t.Fatalf("cut at %d, at the end of the connection: %v", cut, err)
				}
			}
		})
	}
}

// TestRunWorkersRetry runs items with runWorkers, Run's way when it does
// not use the event loop (a model-graded scorer, net/http, or another
// system than Linux).
func TestRunWorkersRetry(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Fault = func(r *runnertest.Request) runnertest.Fault {
		if r.Attempt == 1 && itemIndex(r.Prompt)%2 == 0 {
			return runnertest.TooMany
		}
		return runnertest.Answer
	}
	c, _ := testClient(t, srv, false, ClientConfig{MaxConnections: 3})
	items := mcqItems(10)
	r := &runState{ctx: context.Background(), cfg: Config{Client: c, Scorer: ChoiceScorer{}}, items: items, res: &Result{Outcomes: make([]*Outcome, len(items))}, now: time.Now}
	pending := make([]int, len(items))
	for i := range pending {
		pending[i] = i
	}
	r.runWorkers(pending, nil, 3)
	for i, o := range r.res.Outcomes {
		if want := 1 + (i+1)%2; o == nil || o.Attempts != want {
			t.Errorf("item %d: %+v, want %d attempts", i, o, want)
		}
	}
	if srv.MaxInFlight() > 3 {
		t.Errorf("%d in flight", srv.MaxInFlight())
	}
}

// TestRunScoresRecordedOutputs: an item whose output is recorded without a
// score (left by a model-graded run) is scored, not sent.
func TestRunScoresRecordedOutputs(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		c, _ := testClient(t, srv, std, ClientConfig{MaxConnections: 2})
		items := mcqItems(6)
		dir := t.TempDir()
		st := openTestState(t, dir)
		for _, i := range []int{1, 4} {
			s := items[i].Sample
			if err := st.Append(&Outcome{ID: s.ID, Epoch: s.Epoch, Output: "ANSWER: B", Attempts: 1, At: time.Now()}); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st = openTestState(t, dir)
		res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 2}, items)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if !res.Complete() || res.Requests != 4 || srv.Total() != 4 {
			t.Fatalf("result %+v, %d requests", res, srv.Total())
		}
		for i, o := range res.Outcomes {
			want := "A"
			if i == 1 || i == 4 {
				want = "B"
			}
			if o.Score == nil || o.Score.Answer != want {
				t.Errorf("item %d: %+v", i, o)
			}
		}
		st = openTestState(t, dir)
		defer st.Close()
		for _, it := range items {
			if o := st.Loaded[it.Sample.Key()]; o == nil || o.Score == nil {
				t.Errorf("item %s not recorded with its score", it.Sample.ID)
			}
		}
	})
}
