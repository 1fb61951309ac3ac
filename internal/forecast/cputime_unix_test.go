//go:build unix

package forecast

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user + system) used by this process so far, or
// -1 if unavailable. Benchmarks report it because wall time on a shared
// machine includes time spent waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
