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
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
