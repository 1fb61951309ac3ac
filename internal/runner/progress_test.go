package runner

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressFinalLine(t *testing.T) {
	var b bytes.Buffer
	p := StartProgress(&b, "tiny", 10, 4)
	p.Done()
	p.Done()
	p.Failed()
	p.Stop()
	out := b.String()
	last := out[strings.LastIndex(out, "\r")+1:]
	for _, want := range []string{"tiny [", "] 6/10  60.0%", "failed 1", "\n"} {
		if !strings.Contains(last, want) {
			t.Errorf("final progress line %q lacks %q", last, want)
		}
	}
	if !strings.HasPrefix(last, "\033[K") {
		t.Errorf("the line does not clear the terminal line: %q", last)
	}
	var nilP *Progress
	nilP.Done() // a run without a progress bar
	nilP.Failed()
	nilP.Stop()
	if IsTerminal(&b) {
		t.Error("a buffer is a terminal")
	}
	if got := fmtDuration(3725 * time.Second); got != "1:02:05" {
		t.Errorf("fmtDuration = %q", got)
	}
}
