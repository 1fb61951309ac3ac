//go:build !linux

package runner

// runLoop runs the pending items with an event loop where the platform
// has one (see loop_linux.go); here it does not, and Run uses goroutines.
func runLoop(*runState, []int, map[int]*Outcome, int) bool { return false }
