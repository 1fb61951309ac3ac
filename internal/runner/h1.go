package runner

import (
	"bufio"
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
	"time"
)

// h1Transport is a minimal HTTP/1.1 client for plain-http endpoints: it
// POSTs a JSON body over a pool of keep-alive connections, each request
// written with one write and its response read by the calling goroutine.
// It exists because the runner's overhead per request is dominated by
// net/http's per-connection goroutines and allocations when the server
// answers at once; https and proxied endpoints use net/http.
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
	br *bufio.Reader
	wb []byte
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

func (t *h1Transport) get(deadline time.Time) (*h1Conn, bool, error) {
	t.mu.Lock()
	if n := len(t.idle); n > 0 {
		c := t.idle[n-1]
		t.idle = t.idle[:n-1]
		t.mu.Unlock()
		return c, true, nil
	}
	t.mu.Unlock()
	dctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	nc, err := t.dialer.DialContext(dctx, "tcp", t.addr)
	if err != nil {
		return nil, false, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &h1Conn{c: nc, br: bufio.NewReaderSize(nc, 16<<10), wb: make([]byte, 0, 4096)}
	t.mu.Lock()
	t.open[c] = true
	t.mu.Unlock()
	return c, false, nil
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
// the attempt.
func (t *h1Transport) post(deadline time.Time, body []byte, buf *bytes.Buffer) (h1Response, error) {
	for tries := 0; ; tries++ {
		r, err := t.postOnce(deadline, body, buf)
		if errors.Is(err, errStale) && tries < 2 {
			buf.Reset()
			continue
		}
		return r, err
	}
}

func (t *h1Transport) postOnce(deadline time.Time, body []byte, buf *bytes.Buffer) (h1Response, error) {
	if t.abandoned.Load() {
		return h1Response{}, errAbandoned
	}
	c, reused, err := t.get(deadline)
	if err != nil {
		return h1Response{}, err
	}
	c.c.SetDeadline(deadline)
	if t.abandoned.Load() {
		// abandon may have run between get and SetDeadline.
		c.c.SetDeadline(pastDeadline)
	}
	w := append(c.wb[:0], t.head...)
	w = strconv.AppendInt(w, int64(len(body)), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, body...)
	c.wb = w[:0]
	_, err = c.c.Write(w)
	var r h1Response
	keep := false
	if err == nil {
		r, keep, err = readH1Response(c.br, buf)
		if err != nil && reused && buf.Len() == 0 && r.status == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err)) {
			err = fmt.Errorf("%w: %w", errStale, err)
		}
	} else if reused {
		err = fmt.Errorf("%w: %w", errStale, err)
	}
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
		return r, err
	}
	t.put(c) // its deadline is reset by the next request
	return r, nil
}

// errAbandoned is an attempt cut by the client's Abandon.
var errAbandoned = fmt.Errorf("request abandoned: %w", context.Canceled)

func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// readH1Response reads one response, appending its body to buf. keep
// reports whether the connection may be reused.
func readH1Response(br *bufio.Reader, buf *bytes.Buffer) (r h1Response, keep bool, err error) {
	for {
		line, err := readLine(br)
		if err != nil {
			return r, false, err
		}
		// HTTP/1.x SP code SP reason
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return r, false, fmt.Errorf("malformed status line %q", trunc(line))
		}
		code, err := strconv.Atoi(string(line[9:12]))
		if err != nil || code < 100 {
			return r, false, fmt.Errorf("malformed status line %q", trunc(line))
		}
		http10 := line[7] == '0'
		r.status = code
		keep = !http10
		length := int64(-1)
		chunked := false
		for {
			h, err := readLine(br)
			if err != nil {
				return r, false, err
			}
			if len(h) == 0 {
				break
			}
			i := bytes.IndexByte(h, ':')
			if i <= 0 {
				return r, false, fmt.Errorf("malformed header line %q", trunc(h))
			}
			name, val := h[:i], bytes.TrimSpace(h[i+1:])
			switch {
			case asciiEqualFold(name, "content-length"):
				n, err := strconv.ParseInt(string(val), 10, 64)
				if err != nil || n < 0 {
					return r, false, fmt.Errorf("bad Content-Length %q", trunc(val))
				}
				length = n
			case asciiEqualFold(name, "transfer-encoding"):
				chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
			case asciiEqualFold(name, "connection"):
				v := bytes.ToLower(val)
				if bytes.Contains(v, []byte("close")) {
					keep = false
				} else if bytes.Contains(v, []byte("keep-alive")) {
					keep = true
				}
			case asciiEqualFold(name, "retry-after"):
				r.retryAfter = string(val)
			}
		}
		if code >= 100 && code < 200 {
			continue // informational: the real response follows
		}
		if code == http.StatusNoContent || code == http.StatusNotModified {
			return r, keep, nil
		}
		switch {
		case chunked:
			err = readChunked(br, buf)
		case length >= 0:
			if length > MaxResponseSize {
				return r, false, fmt.Errorf("%w: body of %d bytes is over %d", ErrMalformed, length, MaxResponseSize)
			}
			buf.Grow(int(length))
			b := buf.AvailableBuffer()[:length]
			if _, err = io.ReadFull(br, b); err == nil {
				buf.Write(b)
			}
		default:
			keep = false
			_, err = buf.ReadFrom(io.LimitReader(br, MaxResponseSize+1))
			if err == nil && buf.Len() > MaxResponseSize {
				err = fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxResponseSize)
			}
		}
		if err != nil {
			return r, false, err
		}
		return r, keep, nil
	}
}

// readLine reads a CRLF- (or LF-) terminated line without its terminator.
// The slice is valid until the next read.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("header line too long")
		}
		if errors.Is(err, io.EOF) && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

func readChunked(br *bufio.Reader, buf *bytes.Buffer) error {
	for {
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", trunc(line))
		}
		if n == 0 {
			for { // trailers
				l, err := readLine(br)
				if err != nil {
					return err
				}
				if len(l) == 0 {
					return nil
				}
			}
		}
		if int64(buf.Len())+n > MaxResponseSize {
			return fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxResponseSize)
		}
		if _, err := io.CopyN(buf, br, n); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if l, err := readLine(br); err != nil || len(l) != 0 {
			if err == nil {
				err = errors.New("missing CRLF after chunk")
			}
			return err
		}
	}
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
