package runner

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// IsTerminal reports whether w is a terminal.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// Progress draws a progress bar on a terminal, redrawn a few times a
// second from counters the run updates without locking.
type Progress struct {
	w      io.Writer
	label  string
	total  int64
	base   int64 // samples done before this invocation
	done   atomic.Int64
	failed atomic.Int64
	start  time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
	width  int
}

// StartProgress starts drawing on w: total samples, of which already were
// done before.
func StartProgress(w io.Writer, label string, total, already int) *Progress {
	p := &Progress{w: w, label: label, total: int64(total), base: int64(already), start: time.Now(), stop: make(chan struct{}), width: 80}
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 40 {
			p.width = cols
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			p.draw()
			select {
			case <-t.C:
			case <-p.stop:
				return
			}
		}
	}()
	return p
}

// Done counts a completed sample.
func (p *Progress) Done() {
	if p != nil {
		p.done.Add(1)
	}
}

// Failed counts a failed sample.
func (p *Progress) Failed() {
	if p != nil {
		p.failed.Add(1)
	}
}

// Stop draws the final state and ends the line.
func (p *Progress) Stop() {
	if p == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.draw()
	fmt.Fprintln(p.w)
}

func (p *Progress) draw() {
	done := p.done.Load()
	n := p.base + done
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el
	}
	eta := "--:--"
	if rate > 0 && p.total > n {
		eta = fmtDuration(time.Duration(float64(p.total-n) / rate * float64(time.Second)))
	}
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(n) / float64(p.total)
	}
	tail := fmt.Sprintf(" %d/%d %5.1f%% %.0f/s ETA %s", n, p.total, pct, rate, eta)
	if f := p.failed.Load(); f > 0 {
		tail += fmt.Sprintf(" failed %d", f)
	}
	barw := p.width - len(p.label) - len(tail) - 4
	bar := ""
	if barw >= 10 {
		fill := 0
		if p.total > 0 {
			fill = int(int64(barw) * n / p.total)
		}
		bar = " [" + strings.Repeat("=", fill) + strings.Repeat(" ", barw-fill) + "]"
	}
	fmt.Fprintf(p.w, "\r\033[K%s%s%s", p.label, bar, tail)
}

func fmtDuration(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
