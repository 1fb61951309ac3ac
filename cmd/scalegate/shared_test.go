package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// shared holds what tests and benchmarks build once per test binary.
var shared struct {
	mu  sync.Mutex
	dir string // removed by sharedCleanup

	binOnce sync.Once
	bin     string
	binErr  error
}

// sharedDir returns a directory that lives until the test binary exits.
func sharedDir(tb testing.TB) string {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir == "" {
		d, err := os.MkdirTemp("", "scalegate-test-")
		if err != nil {
			tb.Fatal(err)
		}
		shared.dir = d
	}
	return shared.dir
}

func sharedCleanup() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
		shared.dir = ""
	}
}

// scalegateBinary builds cmd/scalegate once and returns the binary's path.
// It skips in -short mode, and when no go command is available.
func scalegateBinary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds the scalegate binary; skipped in -short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Skipf("no go command to build the binary: %v", err)
	}
	dir := sharedDir(tb)
	shared.binOnce.Do(func() {
		shared.bin = filepath.Join(dir, "scalegate")
		out, err := exec.Command(goCmd, "build", "-o", shared.bin, ".").CombinedOutput()
		if err != nil {
			shared.binErr = err
			tb.Logf("go build:\n%s", out)
		}
	})
	if shared.binErr != nil {
		tb.Fatalf("building scalegate: %v", shared.binErr)
	}
	return shared.bin
}
