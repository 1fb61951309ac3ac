//go:build unix

package runner

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// writeRead writes a request and reads the start of its answer into p
// with one wait: the write is made from within the connection's raw read,
// after the poller has been told to watch for input, so that the goroutine
// parks until the answer arrives instead of first trying a read that
// finds nothing (a wasted system call for every request, as the answer
// cannot have arrived yet). The deadlines set on the connection apply. A
// request the socket cannot take whole at once is finished by an ordinary
// write.
func (c *h1Conn) writeRead(out, p []byte) (int, error) {
	var (
		wrote, n   int
		werr, rerr error
	)
	err := c.rc.Read(func(fd uintptr) bool {
		for wrote < len(out) {
			m, err := syscall.Write(int(fd), out[wrote:])
			if err != nil {
				if err == syscall.EINTR {
					continue
				}
				werr = err
				return true
			}
			wrote += m
			if wrote == len(out) {
				return false // wait for the answer
			}
		}
		for {
			m, err := syscall.Read(int(fd), p)
			switch {
			case err == syscall.EINTR:
				continue
			case err == syscall.EAGAIN:
				return false // a spurious wake-up: wait again
			case err != nil:
				rerr = err
			case m == 0:
				rerr = io.EOF
			default:
				n = m
			}
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errors.Is(werr, syscall.EAGAIN):
		if _, err := c.c.Write(out[wrote:]); err != nil {
			return 0, err
		}
		return c.c.Read(p)
	case werr != nil:
		return 0, c.opError("write", werr)
	case rerr == io.EOF:
		return 0, io.EOF
	case rerr != nil:
		return 0, c.opError("read", rerr)
	}
	return n, nil
}

// opError wraps a system call's error as net.Conn's methods do.
func (c *h1Conn) opError(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.c.LocalAddr(), Addr: c.c.RemoteAddr(), Err: os.NewSyscallError(op, err)}
}
