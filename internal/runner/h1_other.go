//go:build !unix

package runner

// writeRead writes a request and reads the start of its answer into p.
func (c *h1Conn) writeRead(out, p []byte) (int, error) {
	if _, err := c.c.Write(out); err != nil {
		return 0, err
	}
	return c.c.Read(p)
}
