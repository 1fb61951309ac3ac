//go:build !linux

package runner

import "os"

// rawWriter is nil: raw writes are for Linux's event loop (see
// state_linux.go).
func rawWriter(*os.File) func([]byte) error { return nil }
