package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// h1Transport is a minimal HTTP/1.1 client for plain-http endpoints: it
// POSTs a JSON body over a pool of keep-alive connections, each request
// written with one write and its response read by the calling goroutine.
// It exists because the runner's overhead per request is dominated by
// net/http's per-connection goroutines and allocations when the server
// answers at once; https and proxied endpoints use net/http. Run's event
// loop (loop_linux.go) takes its connections from the pool and gives them
// back for the requests it hands to goroutines.
type h1Transport struct {
	addr   string // host:port to dial
	head   []byte // request line and fixed headers, up to Content-Length's value
	dialer net.Dialer

	mu   sync.Mutex
	idle []*h1Conn
	open map[*h1Conn]bool // every connection not yet closed
	max  int
	// abandoned is set (for good) when the client's Abandon fires: every
	// open connection's deadline is then put in the past.
	abandoned atomic.Bool
}

type h1Conn struct {
	c  net.Conn
	rc syscall.RawConn // nil when c has none
	rb []byte          // bytes read
	wb []byte          // the request written
}

// newH1Transport returns the fast transport for u, or nil when u needs
// net/http (https, or a proxy from the environment).
func newH1Transport(u *url.URL, auth string, maxIdle int) *h1Transport {
	if u.Scheme != "http" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	host := u.Host
	addr := host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	var h bytes.Buffer
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: scalegate\r\nContent-Type: application/json\r\n", path, host)
	if auth != "" {
		fmt.Fprintf(&h, "Authorization: %s\r\n", auth)
	}
	h.WriteString("Content-Length: ")
	return &h1Transport{addr: addr, head: h.Bytes(), dialer: net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}, max: maxIdle, open: map[*h1Conn]bool{}}
}

// appendRequest appends the request posting body.
func (t *h1Transport) appendRequest(w, body []byte) []byte {
	w = append(w, t.head...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	return append(w, body...)
}

// get returns a pooled connection, unless fresh, or dials one.
func (t *h1Transport) get(deadline time.Time, fresh bool) (*h1Conn, bool, error) {
	if !fresh {
		if c := t.takeIdle(); c != nil {
			return c, true, nil
		}
	}
	dctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	nc, err := t.dialer.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return t.add(nc), false, nil
}

// add makes nc one of the transport's open connections.
func (t *h1Transport) add(nc net.Conn) *h1Conn {
	c := &h1Conn{c: nc, wb: make([]byte, 0, 4096)}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
		}
	}
	t.mu.Lock()
	t.open[c] = true
	t.mu.Unlock()
	return c
}

// takeIdle removes an idle connection from the pool, or returns nil.
func (t *h1Transport) takeIdle() *h1Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(t.idle)
	if n == 0 {
		return nil
	}
	c := t.idle[n-1]
	t.idle = t.idle[:n-1]
	return c
}

func (t *h1Transport) put(c *h1Conn) {
	t.mu.Lock()
	if len(t.idle) < t.max {
		t.idle = append(t.idle, c)
		t.mu.Unlock()
		return
	}
	t.mu.Unlock()
	t.close(c)
}

func (t *h1Transport) close(c *h1Conn) {
	t.mu.Lock()
	delete(t.open, c)
	t.mu.Unlock()
	c.c.Close()
}

// closeIdle closes the pooled connections.
func (t *h1Transport) closeIdle() {
	t.mu.Lock()
	idle := t.idle
	t.idle = nil
	t.mu.Unlock()
	for _, c := range idle {
		t.close(c)
	}
}

// abandon cuts every request in flight: their connections' deadlines go
// to the past, and no new attempt starts.
func (t *h1Transport) abandon() {
	t.abandoned.Store(true)
	t.mu.Lock()
	defer t.mu.Unlock()
	for c := range t.open {
		c.c.SetDeadline(pastDeadline)
	}
}

var pastDeadline = time.Unix(1, 0)

// h1Response is the part of a response the client uses.
type h1Response struct {
	status     int
	retryAfter string
}

// errStale marks a reused connection the server had closed before
// answering anything: the request is sent again on a new connection.
var errStale = errors.New("stale connection")

// post sends body and appends the response body to buf; deadline bounds
// the attempt. fresh makes it use a new connection.
func (t *h1Transport) post(deadline time.Time, body []byte, buf *bytes.Buffer, fresh bool) (h1Response, error) {
	for tries := 0; ; tries++ {
		r, err := t.postOnce(deadline, body, buf, fresh || tries > 0)
		if errors.Is(err, errStale) && tries < 2 {
			buf.Reset()
			continue
		}
		return r, err
	}
}

func (t *h1Transport) postOnce(deadline time.Time, body []byte, buf *bytes.Buffer, fresh bool) (h1Response, error) {
	if t.abandoned.Load() {
		return h1Response{}, errAbandoned
	}
	c, reused, err := t.get(deadline, fresh)
	if err != nil {
		return h1Response{}, err
	}
	c.c.SetDeadline(deadline)
	if t.abandoned.Load() {
		// abandon may have run between get and SetDeadline.
		c.c.SetDeadline(pastDeadline)
	}
	c.wb = t.appendRequest(c.wb[:0], body)
	p, err := c.roundTrip(c.wb)
	if err != nil && reused && p.status == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)) {
		err = fmt.Errorf("%w: %w", errStale, err)
	}
	if err == nil {
		buf.Write(p.body)
	}
	keep := p.keep
	if t.abandoned.Load() {
		// The connection's deadline is in the past: it is done for, but
		// a response read in full stands.
		keep = false
		if err != nil {
			err = errAbandoned
		}
	}
	if err != nil || !keep {
		t.close(c)
		return p.h1Response, err
	}
	t.put(c) // its deadline is reset by the next request
	return p.h1Response, nil
}

// roundTrip writes the request w and reads its response. The request is
// written by the first read (see writeRead), so that the goroutine waits
// for the answer without first trying a read that can only find nothing.
// A connection with bytes left after the response is not reused.
func (c *h1Conn) roundTrip(w []byte) (p h1Parsed, err error) {
	if c.rb == nil {
		c.rb = make([]byte, 0, 16<<10)
	}
	c.rb = c.rb[:0]
	eof, need := false, 0
	for first := true; ; first = false {
		if len(c.rb) == cap(c.rb) {
			c.rb = append(c.rb, 0)[:len(c.rb)]
		}
		free := c.rb[len(c.rb):cap(c.rb)]
		var n int
		var rerr error
		switch {
		case !first:
			n, rerr = c.c.Read(free)
		case c.rc != nil:
			n, rerr = c.writeRead(w, free)
		default:
			if _, rerr = c.c.Write(w); rerr == nil {
				n, rerr = c.c.Read(free)
			}
		}
		c.rb = c.rb[:len(c.rb)+n]
		switch {
		case rerr == io.EOF:
			eof = true
		case rerr != nil:
			return p, rerr
		case len(c.rb) < need:
			continue
		}
		var perr error
		p, need, perr = parseResponse(c.rb, eof, nil)
		switch {
		case perr == errNeedMore:
			continue
		case perr != nil:
			return p, perr
		}
		if p.n < len(c.rb) {
			p.keep = false
		}
		return p, nil
	}
}

// errAbandoned is an attempt cut by the client's Abandon.
var errAbandoned = fmt.Errorf("request abandoned: %w", context.Canceled)

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c := b[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}

func trunc(b []byte) string {
	if len(b) > 80 {
		b = b[:80]
	}
	return string(b)
}
