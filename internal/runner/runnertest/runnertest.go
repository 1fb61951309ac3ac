// Package runnertest provides fake OpenAI-compatible chat-completions
// servers for tests and benchmarks of the runner: a fixed-answer stub that
// answers at once, and a scripted server that can fail a request with 429
// or 500, stall it, or answer with malformed JSON, and counts the requests
// it received for each prompt.
package runnertest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
)

// StubBody is the stub's answer: a chat completion whose content is
// "ANSWER: A".
const StubBody = `{"id":"chatcmpl-stub","object":"chat.completion","created":1767225600,"model":"stub","choices":[{"index":0,"message":{"role":"assistant","content":"ANSWER: A"},"finish_reason":"stop"}],"usage":{"prompt_tokens":50,"completion_tokens":3,"total_tokens":53}}`

// StubHandler answers every request at once with StubBody (after reading
// the request body, as a real server does).
func StubHandler() http.Handler {
	body := []byte(StubBody)
	ct := []string{"application/json"}
	cl := []string{strconv.Itoa(len(body))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		h := w.Header()
		h["Content-Type"] = ct
		h["Content-Length"] = cl
		w.Write(body)
	})
}

// Fault is what the scripted server does with one request.
type Fault int

// Faults.
const (
	Answer       Fault = iota // answer normally
	TooMany                   // 429 with Retry-After: 0
	ServerError               // 500
	Stall                     // never answer (until the client gives up)
	Malformed                 // 200 with a truncated JSON body
	Unauthorized              // 401
	NoChoices                 // 200 with an empty choices list
)

// Message is a chat message of a request.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// Request is a request the scripted server received.
type Request struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Temperature *float64  `json:"temperature"`
	MaxTokens   *int64    `json:"max_tokens"`
	Seed        *int64    `json:"seed"`
	// Prompt is the content of the last message; Attempt counts the
	// requests received with this prompt, this one included.
	Prompt  string `json:"-"`
	Attempt int    `json:"-"`
	// Auth is the Authorization header.
	Auth string `json:"-"`
}

// Server is a scripted chat-completions server.
type Server struct {
	*httptest.Server
	// Reply returns the assistant's content for a request (default
	// "ANSWER: A").
	Reply func(r *Request) string
	// Fault, when set, chooses what to do with a request (default
	// Answer).
	Fault func(r *Request) Fault
	// OnRequest, when set, is called with each request before it is
	// answered (tests use it to cancel a run at a given point).
	OnRequest func(r *Request)

	total    atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	mu       sync.Mutex
	counts   map[string]int
	auths    map[string]bool
}

// NewServer starts a scripted server on the loopback interface.
func NewServer() *Server {
	s := &Server{counts: map[string]int{}, auths: map[string]bool{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Total is the number of requests received.
func (s *Server) Total() int64 { return s.total.Load() }

// Count is the number of requests received with prompt as their last
// message.
func (s *Server) Count(prompt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[prompt]
}

// Counts returns the number of requests received per prompt.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// SawAuth reports whether a request carried the Authorization header h.
func (s *Server) SawAuth(h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.auths[h]
}

// MaxInFlight is the largest number of requests handled at once.
func (s *Server) MaxInFlight() int64 { return s.maxIn.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for {
		m := s.maxIn.Load()
		if n <= m || s.maxIn.CompareAndSwap(m, n) {
			break
		}
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
		http.Error(w, `{"error":{"message":"not found"}}`, http.StatusNotFound)
		return
	}
	var req Request
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) == 0 {
		http.Error(w, `{"error":{"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	req.Prompt = req.Messages[len(req.Messages)-1].Content
	req.Auth = r.Header.Get("Authorization")
	s.mu.Lock()
	s.counts[req.Prompt]++
	req.Attempt = s.counts[req.Prompt]
	s.auths[req.Auth] = true
	s.mu.Unlock()
	if s.OnRequest != nil {
		s.OnRequest(&req)
	}
	f := Answer
	if s.Fault != nil {
		f = s.Fault(&req)
	}
	w.Header().Set("Content-Type", "application/json")
	switch f {
	case TooMany:
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"message":"rate limited"}}`)
		return
	case ServerError:
		w.WriteHeader(http.StatusInternalServerError)
		io.WriteString(w, `{"error":{"message":"internal error"}}`)
		return
	case Stall:
		<-r.Context().Done()
		return
	case Malformed:
		io.WriteString(w, `{"id":"x","choices":[{"message":{"role":"assistant","content":"ANSW`)
		return
	case Unauthorized:
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"invalid api key"}}`)
		return
	case NoChoices:
		io.WriteString(w, `{"id":"x","choices":[]}`)
		return
	}
	content := "ANSWER: A"
	if s.Reply != nil {
		content = s.Reply(&req)
	}
	resp := map[string]any{
		"id": "chatcmpl-" + strconv.FormatInt(s.total.Load(), 10), "object": "chat.completion", "created": 1767225600, "model": req.Model,
		"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": content}, "finish_reason": "stop"}},
		"usage":   map[string]any{"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
	}
	json.NewEncoder(w).Encode(resp)
}
