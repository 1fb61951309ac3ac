//go:build linux

package main

import (
	"os"
	"syscall"
)

// maxRSS returns the peak resident set size of a finished process, in
// bytes.
func maxRSS(ps *os.ProcessState) (int64, bool) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, false
	}
	return ru.Maxrss * 1024, true // Linux reports KiB
}
