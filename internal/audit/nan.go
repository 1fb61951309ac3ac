package audit

import (
	"bufio"
	"io"
)

// nanReader replaces the NaN, Infinity and -Infinity literals that
// Python's json module writes (and Inspect logs contain) with null,
// outside strings, so that encoding/json can read the rest.
type nanReader struct {
	r       *bufio.Reader
	inStr   bool
	esc     bool
	pending []byte
}

func newNaNReader(r io.Reader) *nanReader {
	return &nanReader{r: bufio.NewReaderSize(r, 64<<10)}
}

var nullLit = []byte("null")

func (n *nanReader) Read(p []byte) (int, error) {
	i := 0
	for i < len(p) {
		if len(n.pending) > 0 {
			c := copy(p[i:], n.pending)
			n.pending = n.pending[c:]
			i += c
			continue
		}
		b, err := n.r.ReadByte()
		if err != nil {
			if i > 0 {
				return i, nil
			}
			return 0, err
		}
		if n.inStr {
			switch {
			case n.esc:
				n.esc = false
			case b == '\\':
				n.esc = true
			case b == '"':
				n.inStr = false
			}
			p[i] = b
			i++
			continue
		}
		var lit string
		switch b {
		case '"':
			n.inStr = true
		case 'N':
			lit = "aN"
		case 'I':
			lit = "nfinity"
		case '-':
			lit = "Infinity"
		}
		if lit != "" {
			if peek, _ := n.r.Peek(len(lit)); string(peek) == lit {
				n.r.Discard(len(lit))
				n.pending = nullLit
				continue
			}
		}
		p[i] = b
		i++
	}
	return i, nil
}
