//go:build unix

package gate_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used, so that
// benchmarks can report CPU time per operation, which unlike wall time does
// not depend on other load on the machine.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
