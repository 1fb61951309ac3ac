//go:build !unix

package forecast

import "time"

// cpuTime is unavailable on this platform.
func cpuTime() time.Duration { return -1 }
