package runner

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// errNeedMore is the parse of a response whose bytes have not all been
// read yet.
var errNeedMore = errors.New("incomplete response")

// maxLineLen bounds a status, header or chunk-size line, terminator
// included.
const maxLineLen = 16 << 10

// h1Parsed is a response parsed by parseResponse.
type h1Parsed struct {
	h1Response
	// keep reports whether the connection may be reused.
	keep bool
	// body is the response's body: a part of the parsed bytes, or of the
	// scratch buffer for a chunked body.
	body []byte
	// n is the number of bytes the response took.
	n int
}

// parseResponse parses the HTTP/1.x response at the start of b, the bytes
// of a connection read so far; eof reports that the connection has ended
// after them. A chunked body is decoded into scratch. When b ends before
// the response does, parseResponse returns errNeedMore and the length b
// must reach before another parse can get further (0 when unknown). The
// status, once parsed, is set even when an error follows.
func parseResponse(b []byte, eof bool, scratch []byte) (p h1Parsed, need int, err error) {
	pos := 0
	for {
		line, next, err := cutLine(b, pos, eof)
		if err != nil {
			return p, 0, err
		}
		pos = next
		// HTTP/1.x SP code SP reason
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
			return p, 0, fmt.Errorf("malformed status line %q", trunc(line))
		}
		code, err := strconv.Atoi(string(line[9:12]))
		if err != nil || code < 100 {
			return p, 0, fmt.Errorf("malformed status line %q", trunc(line))
		}
		p.status = code
		p.keep = line[7] != '0'
		length := int64(-1)
		chunked := false
		for {
			h, next, err := cutLine(b, pos, eof)
			if err != nil {
				return p, 0, err
			}
			pos = next
			if len(h) == 0 {
				break
			}
			i := bytes.IndexByte(h, ':')
			if i <= 0 {
				return p, 0, fmt.Errorf("malformed header line %q", trunc(h))
			}
			name, val := h[:i], bytes.TrimSpace(h[i+1:])
			switch {
			case asciiEqualFold(name, "content-length"):
				n, err := strconv.ParseInt(string(val), 10, 64)
				if err != nil || n < 0 {
					return p, 0, fmt.Errorf("bad Content-Length %q", trunc(val))
				}
				length = n
			case asciiEqualFold(name, "transfer-encoding"):
				chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
			case asciiEqualFold(name, "connection"):
				v := bytes.ToLower(val)
				if bytes.Contains(v, []byte("close")) {
					p.keep = false
				} else if bytes.Contains(v, []byte("keep-alive")) {
					p.keep = true
				}
			case asciiEqualFold(name, "retry-after"):
				p.retryAfter = string(val)
			}
		}
		if code < 200 {
			continue // informational: the real response follows
		}
		if code == http.StatusNoContent || code == http.StatusNotModified {
			p.n = pos
			return p, 0, nil
		}
		switch {
		case chunked:
			p.body, p.n, need, err = parseChunked(b, pos, eof, scratch)
			if err != nil {
				p.body, p.n = nil, 0
				return p, need, err
			}
		case length >= 0:
			if length > MaxResponseSize {
				return p, 0, fmt.Errorf("%w: body of %d bytes is over %d", ErrMalformed, length, MaxResponseSize)
			}
			end := pos + int(length)
			if end > len(b) {
				switch {
				case !eof:
					return p, end, errNeedMore
				case pos == len(b):
					return p, 0, io.EOF
				}
				return p, 0, io.ErrUnexpectedEOF
			}
			p.body, p.n = b[pos:end], end
		default: // the body ends with the connection
			p.keep = false
			if len(b)-pos > MaxResponseSize {
				return p, 0, fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxResponseSize)
			}
			if !eof {
				return p, 0, errNeedMore
			}
			p.body, p.n = b[pos:], len(b)
		}
		return p, 0, nil
	}
}

// cutLine returns the CRLF- (or LF-) terminated line at b[pos:] without
// its terminator, and the position after it.
func cutLine(b []byte, pos int, eof bool) (line []byte, next int, err error) {
	i := bytes.IndexByte(b[pos:], '\n')
	if i < 0 || i >= maxLineLen {
		switch {
		case i >= 0 || len(b)-pos >= maxLineLen:
			return nil, 0, errors.New("header line too long")
		case !eof:
			return nil, 0, errNeedMore
		case len(b) > pos:
			return nil, 0, io.ErrUnexpectedEOF
		}
		return nil, 0, io.EOF
	}
	line = b[pos : pos+i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, pos + i + 1, nil
}

// parseChunked decodes the chunked body at b[pos:] into scratch, returning
// it and the position after the body (trailers included).
func parseChunked(b []byte, pos int, eof bool, scratch []byte) (body []byte, end, need int, err error) {
	body = scratch[:0]
	for {
		line, next, err := cutLine(b, pos, eof)
		if err != nil {
			return nil, 0, 0, err
		}
		pos = next
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || n < 0 {
			return nil, 0, 0, fmt.Errorf("bad chunk size %q", trunc(line))
		}
		if n == 0 {
			for { // trailers
				l, next, err := cutLine(b, pos, eof)
				if err != nil {
					return nil, 0, 0, err
				}
				pos = next
				if len(l) == 0 {
					return body, pos, 0, nil
				}
			}
		}
		if int64(len(body))+n > MaxResponseSize {
			return nil, 0, 0, fmt.Errorf("%w: body over %d bytes", ErrMalformed, MaxResponseSize)
		}
		if int64(len(b)-pos) < n {
			if !eof {
				return nil, 0, pos + int(n) + 2, errNeedMore
			}
			return nil, 0, 0, io.ErrUnexpectedEOF
		}
		body = append(body, b[pos:pos+int(n)]...)
		pos += int(n)
		l, next, err := cutLine(b, pos, eof)
		if err == nil && len(l) != 0 {
			err = errors.New("missing CRLF after chunk")
		}
		if err != nil {
			return nil, 0, 0, err
		}
		pos = next
	}
}
