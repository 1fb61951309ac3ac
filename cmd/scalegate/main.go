// Command scalegate gates the scaling and deployment of AI models on the
// evidence their scaling policy asks for, and records every policy, piece
// of evidence and decision in a tamper-evident transparency log.
//
// Run `scalegate demo` for a tour and `scalegate help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"
)

func main() {
	// A short-lived command spends a large share of its time in garbage
	// collection at the default setting; trade some memory for latency
	// unless the user chose a GOGC.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	// SCALEGATE_CPUPROFILE=FILE writes a CPU profile of the command, for
	// performance work on real data directories.
	if path := os.Getenv("SCALEGATE_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			if pprof.StartCPUProfile(f) == nil {
				defer pprof.StopCPUProfile()
			}
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if os.Getenv("SCALEGATE_CPUPROFILE") != "" {
		pprof.StopCPUProfile()
	}
	os.Exit(code)
}
