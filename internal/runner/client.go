package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gojson "github.com/goccy/go-json"
)

// Client defaults.
const (
	DefaultTimeout     = 2 * time.Minute
	DefaultRetries     = 10
	DefaultBackoffBase = 500 * time.Millisecond
	DefaultBackoffMax  = time.Minute
	// MaxResponseSize bounds one response body.
	MaxResponseSize = 64 << 20
)

// Errors a request can end with (wrapped, with details); match with
// errors.Is.
var (
	ErrTimeout   = errors.New("request timed out")
	ErrMalformed = errors.New("malformed response")
	ErrStatus    = errors.New("error status")
	ErrNetwork   = errors.New("network error")
)

// StatusError is a non-2xx answer.
type StatusError struct {
	Code       int
	Body       string // the start of the body
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := "http " + strconv.Itoa(e.Code)
	if b := strings.Join(strings.Fields(e.Body), " "); b != "" {
		if len(b) > 200 {
			b = b[:200] + "…"
		}
		msg += ": " + b
	}
	return msg
}

// Is makes a StatusError match ErrStatus.
func (e *StatusError) Is(target error) bool { return target == ErrStatus }

// Retryable reports whether an error is worth another attempt: 408, 429
// and 5xx statuses, timeouts, network errors and malformed responses.
func Retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusRequestTimeout || se.Code == http.StatusTooManyRequests || se.Code >= 500
	}
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrNetwork) || errors.Is(err, ErrMalformed)
}

// Fatal reports whether an error would fail every request of a run: 401,
// 403 (credentials) and 404 (wrong endpoint or model).
func Fatal(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Code == http.StatusUnauthorized || se.Code == http.StatusForbidden || se.Code == http.StatusNotFound
	}
	return false
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// Endpoint is the server's base URL ("http://127.0.0.1:8000/v1") or
	// its chat-completions URL; see EndpointURL.
	Endpoint   string
	Model      string
	APIKey     string
	Generation Generation
	// MaxConnections sizes the connection pool (default 32).
	MaxConnections int
	// Timeout bounds each attempt (default DefaultTimeout).
	Timeout time.Duration
	// Retries is the number of retries after the first attempt (default
	// DefaultRetries; negative for none).
	Retries int
	// BackoffBase and BackoffMax shape the backoff: before retry n the
	// client waits a uniformly random time in [0, min(BackoffMax,
	// BackoffBase·2^(n-1))), and at least the server's Retry-After (capped
	// at BackoffMax).
	BackoffBase, BackoffMax time.Duration
	// Transport, when set, replaces the pooled transport.
	Transport http.RoundTripper
	// StdHTTP makes plain-http endpoints use net/http too (by default
	// they use a leaner HTTP/1.1 client; see h1.go).
	StdHTTP bool
}

// Client posts chat completions to an OpenAI-compatible endpoint.
type Client struct {
	URL     string
	Model   string
	Timeout time.Duration
	Retries int
	Base    time.Duration
	Max     time.Duration
	// Sleep waits d or until ctx is done; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Jitter returns a uniformly random number in [0, 1); tests replace
	// it.
	Jitter func() float64
	// Abandon, once done, cancels the attempts in flight (which a
	// cancelled run otherwise lets finish); nil never does.
	Abandon context.Context

	http           *http.Client
	h1             *h1Transport
	hookAbandon    sync.Once
	auth           string
	prefix, suffix []byte
	attempts       atomic.Int64
	bufs           sync.Pool
}

// EndpointURL returns the chat-completions URL of an endpoint: a URL whose
// path ends in /chat/completions is used as is; otherwise
// /chat/completions is appended, after /v1 when the path is empty.
func EndpointURL(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", fmt.Errorf("endpoint %q: want an http:// or https:// URL", endpoint)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case strings.HasSuffix(p, "/chat/completions"):
	case p == "":
		p = "/v1/chat/completions"
	default:
		p += "/chat/completions"
	}
	u.Path = p
	u.RawPath = ""
	return u.String(), nil
}

// RedactURL returns u without credentials, query or fragment, for logs
// and attestations.
func RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment = nil, "", ""
	return u.String()
}

// NewClient returns a client with its own connection pool.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := EndpointURL(cfg.Endpoint)
	if err != nil {
		return nil, err
	}
	if cfg.Model == "" {
		return nil, errors.New("a model name is required")
	}
	conns := cfg.MaxConnections
	if conns <= 0 {
		conns = 32
	}
	c := &Client{
		URL: u, Model: cfg.Model, Timeout: cfg.Timeout, Retries: cfg.Retries,
		Base: cfg.BackoffBase, Max: cfg.BackoffMax,
		Sleep: sleepCtx, Jitter: rand.Float64,
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.Base <= 0 {
		c.Base = DefaultBackoffBase
	}
	if c.Max <= 0 {
		c.Max = DefaultBackoffMax
	}
	if cfg.APIKey != "" {
		c.auth = "Bearer " + cfg.APIKey
	}
	rt := cfg.Transport
	if rt == nil {
		rt = NewTransport(conns)
	}
	c.http = &http.Client{Transport: rt}
	if cfg.Transport == nil && !cfg.StdHTTP {
		pu, _ := url.Parse(u)
		c.h1 = newH1Transport(pu, c.auth, conns)
	}
	c.prefix, c.suffix = requestParts(cfg.Model, cfg.Generation)
	return c, nil
}

// NewTransport returns an HTTP transport for n concurrent requests to one
// host: n keep-alive connections are kept, so that a run never reconnects
// between requests.
func NewTransport(n int) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          2 * n,
		MaxIdleConnsPerHost:   n,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
}

// Close releases the client's idle connections.
func (c *Client) Close() {
	c.http.CloseIdleConnections()
	if c.h1 != nil {
		c.h1.closeIdle()
	}
}

// Attempts is the number of HTTP requests the client has sent.
func (c *Client) Attempts() int64 { return c.attempts.Load() }

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Usage is token usage, in Inspect's names.
type Usage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	TotalTokens  int64 `json:"total_tokens"`
}

// Completion is a chat completion's first choice.
type Completion struct {
	Content      string
	FinishReason string
	Model        string
	Usage        Usage
	// Attempts is the number of requests it took.
	Attempts int
}

// Backoff is the wait before retry n (1-based) after an error that asked
// for retryAfter (0 when the server did not say).
func (c *Client) Backoff(n int, retryAfter time.Duration) time.Duration {
	d := c.Max
	if n-1 < 62 {
		if b := c.Base << (n - 1); b > 0 && b < c.Max {
			d = b
		}
	}
	w := time.Duration(c.Jitter() * float64(d))
	if retryAfter > 0 {
		w = max(w, min(retryAfter, c.Max))
	}
	return w
}

// Chat sends msgs and returns the first choice, retrying retryable errors.
// Cancelling ctx stops further retries but not an attempt in flight (it is
// bounded by the client's timeout and by Abandon).
func (c *Client) Chat(ctx context.Context, msgs []Message) (*Completion, error) {
	bp, _ := c.bufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, 4096)
		bp = &b
	}
	body := append((*bp)[:0], c.prefix...)
	body = appendMessages(body, msgs)
	body = append(body, c.suffix...)
	comp, err := c.do(ctx, body)
	*bp = body
	c.bufs.Put(bp)
	return comp, err
}

func (c *Client) do(ctx context.Context, body []byte) (*Completion, error) {
	comp, err := c.once(ctx, body)
	return c.retry(ctx, body, 1, comp, err)
}

// retry finishes a request whose attempt n ended with comp or err,
// retrying a retryable error.
func (c *Client) retry(ctx context.Context, body []byte, n int, comp *Completion, err error) (*Completion, error) {
	for ; ; n++ {
		if n > 1 {
			comp, err = c.once(ctx, body)
		}
		if err == nil {
			comp.Attempts = n
			return comp, nil
		}
		if !Retryable(err) || n > c.Retries {
			if n > 1 {
				return nil, fmt.Errorf("%w (after %d attempts)", err, n)
			}
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (not retried: %w)", err, context.Cause(ctx))
		}
		var ra time.Duration
		var se *StatusError
		if errors.As(err, &se) {
			ra = se.RetryAfter
		}
		if serr := c.Sleep(ctx, c.Backoff(n, ra)); serr != nil {
			return nil, fmt.Errorf("%w (retry stopped: %w)", err, serr)
		}
	}
}

// chatResponse is the part of a chat-completions response the client
// reads.
type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content gojson.RawMessage `json:"content"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int64 `json:"prompt_tokens"`
		CompletionTokens int64 `json:"completion_tokens"`
		TotalTokens      int64 `json:"total_tokens"`
	} `json:"usage"`
	Error gojson.RawMessage `json:"error"`
}

// respBufs holds response-body buffers.
var respBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (c *Client) once(ctx context.Context, body []byte) (*Completion, error) {
	c.attempts.Add(1)
	return c.attempt(ctx, body, false)
}

// attempt is once without counting the request: the event loop counts
// the attempts it makes, and a goroutine finishes one the loop could not
// (see loop_linux.go). fresh makes the lean client use a new connection.
func (c *Client) attempt(ctx context.Context, body []byte, fresh bool) (*Completion, error) {
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	if c.h1 != nil {
		return c.onceH1(body, buf, fresh)
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.Timeout)
	defer cancel()
	if c.Abandon != nil {
		stop := context.AfterFunc(c.Abandon, cancel)
		defer stop()
	}
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header["Content-Type"] = jsonContentType
	if c.auth != "" {
		req.Header["Authorization"] = []string{c.auth}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(errors.Is(actx.Err(), context.DeadlineExceeded), err)
	}
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, MaxResponseSize+1))
	resp.Body.Close()
	if err != nil {
		return nil, c.transportError(errors.Is(actx.Err(), context.DeadlineExceeded), err)
	}
	if buf.Len() > MaxResponseSize {
		return nil, fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxResponseSize)
	}
	return finish(resp.StatusCode, resp.Header.Get("Retry-After"), buf.Bytes())
}

// onceH1 is an attempt over the fast HTTP/1.1 transport.
func (c *Client) onceH1(body []byte, buf *bytes.Buffer, fresh bool) (*Completion, error) {
	if c.Abandon != nil {
		c.hookAbandon.Do(func() { context.AfterFunc(c.Abandon, c.h1.abandon) })
	}
	r, err := c.h1.post(time.Now().Add(c.Timeout), body, buf, fresh)
	if err != nil {
		if errors.Is(err, ErrMalformed) || errors.Is(err, errAbandoned) {
			return nil, err
		}
		var ne net.Error
		return nil, c.transportError(errors.As(err, &ne) && ne.Timeout(), err)
	}
	return finish(r.status, r.retryAfter, buf.Bytes())
}

// finish turns a response into a completion or an error.
func finish(status int, retryAfterHeader string, b []byte) (*Completion, error) {
	if status < 200 || status > 299 {
		if len(b) > 512 {
			b = b[:512]
		}
		return nil, &StatusError{Code: status, Body: string(b), RetryAfter: retryAfter(retryAfterHeader, time.Now())}
	}
	return parseCompletion(b)
}

var jsonContentType = []string{"application/json"}

// parseCompletion reads a chat-completions response body: the common
// shape with a small scanner, anything else with the full decoder.
func parseCompletion(b []byte) (*Completion, error) {
	if c, err := fastCompletion(b); err == nil {
		return c, nil
	}
	return decodeCompletion(b)
}

// decodeCompletion reads a chat-completions response body with the full
// JSON decoder.
func decodeCompletion(b []byte) (*Completion, error) {
	var r chatResponse
	if err := gojson.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, oneLine(err.Error()))
	}
	if len(r.Choices) == 0 {
		if len(r.Error) > 0 && string(r.Error) != "null" {
			return nil, fmt.Errorf("%w: error in response: %s", ErrMalformed, oneLine(string(r.Error)))
		}
		return nil, fmt.Errorf("%w: no choices", ErrMalformed)
	}
	ch := &r.Choices[0]
	content, err := fastContent(ch.Message.Content)
	if err != nil {
		return nil, fmt.Errorf("%w: message content: %w", ErrMalformed, err)
	}
	comp := &Completion{Content: content, FinishReason: ch.FinishReason, Model: r.Model}
	if r.Usage != nil {
		comp.Usage = Usage{InputTokens: r.Usage.PromptTokens, OutputTokens: r.Usage.CompletionTokens, TotalTokens: r.Usage.TotalTokens}
	}
	return comp, nil
}

// fastContent decodes message content: a JSON string (the common case,
// without escapes decoded in place), null, or a list of parts.
func fastContent(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0 && bytes.IndexByte(raw[1:len(raw)-1], '"') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	return contentText(bytes.Clone(raw))
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// transportError classifies an error of an attempt.
func (c *Client) transportError(timedOut bool, err error) error {
	if c.Abandon != nil && c.Abandon.Err() != nil {
		return fmt.Errorf("request abandoned: %w", context.Canceled)
	}
	if timedOut {
		return fmt.Errorf("%w after %s", ErrTimeout, c.Timeout)
	}
	return fmt.Errorf("%w: %v", ErrNetwork, oneLine(err.Error()))
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil && s >= 0 && s < 1e6 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
