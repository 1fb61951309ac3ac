package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// peakRSSWrapper is a command of the test binary (see TestMain): it runs
// its arguments as a command and writes that command's peak RSS in bytes
// to the file named by $SCALEGATE_TEST_RSS_FILE.
//
// It exists because a process's peak RSS as reported to its parent
// (rusage) starts from the RSS of the process that forked it: measured
// from the benchmark, which holds hundreds of MB after importing in
// process, every child would seem that large. Forked from this small
// wrapper instead, the child's figure is its own (plus the wrapper's few
// MB).
const peakRSSWrapper = "scalegate-peak-rss"

func peakRSSMain() {
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	if rss, ok := maxRSS(cmd.ProcessState); ok {
		if err := os.WriteFile(os.Getenv("SCALEGATE_TEST_RSS_FILE"), []byte(strconv.FormatInt(rss, 10)), 0o666); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(125)
		}
	}
	os.Exit(cmd.ProcessState.ExitCode())
}

// peakRSS runs a command through peakRSSWrapper and returns its combined
// output and its peak RSS in bytes (ok is false where the platform does not
// report it).
func peakRSS(tb testing.TB, name string, args ...string) (out []byte, rss int64, ok bool) {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "rss")
	cmd := exec.Command(peakRSSWrapper, append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), "SCALEGATE_TEST_RSS_FILE="+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return out, 0, false
	}
	if err != nil {
		tb.Fatal(err)
	}
	rss, err = strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		tb.Fatal(err)
	}
	return out, rss, true
}
