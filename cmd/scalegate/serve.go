package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/server"
)

// defaultAddr is where serve listens without --addr or $SCALEGATE_ADDR.
const defaultAddr = "127.0.0.1:8080"

func (a *app) serveCmd() *cobra.Command {
	var addr, level string
	var shutdown time.Duration
	var decisions int
	cmd := &cobra.Command{
		Use:   "serve [--addr HOST:PORT]",
		Short: "Serve the JSON API (/v1) and the dashboard over HTTP",
		Long: `Serve the HTTP API under /v1 (OpenAPI document at /v1/openapi.json), the
dashboard at /, health at /healthz and Prometheus metrics at /metrics, on the
data directory. Reads are public (confidential values left out); writes need
a token: create one with "scalegate token create".

Configuration: --addr or $SCALEGATE_ADDR (default 127.0.0.1:8080);
--log-level or $SCALEGATE_LOG_LEVEL (debug, info, warn, error; default info).
Request logs are JSON lines on stderr. SIGINT or SIGTERM stops the server
after in-flight requests finish. The server runs with GOGC=400 (fewer
garbage collections for a little more memory) unless $GOGC is set.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, err := a.open(cmd.Context()); err != nil {
				return err
			}
			return a.serve(cmd.Context(), serveConfig{addr: addr, level: level, shutdown: shutdown, decisions: decisions})
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "address to listen on (default $SCALEGATE_ADDR or "+defaultAddr+")")
	cmd.Flags().StringVar(&level, "log-level", "", "log level: debug, info, warn or error (default $SCALEGATE_LOG_LEVEL or info)")
	cmd.Flags().DurationVar(&shutdown, "shutdown-timeout", 30*time.Second, "how long to wait for in-flight requests on shutdown")
	cmd.Flags().IntVar(&decisions, "max-concurrent-decisions", server.DefaultMaxConcurrentDecisions, "gate decisions made at once (the others queue)")
	return cmd
}

// serveConfig is serve's configuration.
type serveConfig struct {
	addr, level string
	shutdown    time.Duration
	decisions   int
}

// serve runs the HTTP server on the opened service until SIGINT, SIGTERM
// or ctx ends.
func (a *app) serve(ctx context.Context, cfg serveConfig) error {
	addr, level := cfg.addr, cfg.level
	if addr == "" {
		addr = os.Getenv("SCALEGATE_ADDR")
	}
	if addr == "" {
		addr = defaultAddr
	}
	if level == "" {
		level = os.Getenv("SCALEGATE_LOG_LEVEL")
	}
	var lvl slog.Level
	if level != "" {
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			return usageErrorf("--log-level: expected debug, info, warn or error, got %q", level)
		}
	}
	logger := slog.New(slog.NewJSONHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(server.GCPercent)
	}
	srv, err := server.New(a.svc, server.Options{Logger: logger, MaxConcurrentDecisions: cfg.decisions})
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	return server.Run(ctx, srv, server.Config{
		Addr:            addr,
		Logger:          logger,
		ShutdownTimeout: cfg.shutdown,
		Ready: func(l net.Addr) {
			fmt.Fprintf(a.stdout, "scalegate: serving %s at %s (Ctrl-C to stop)\n", a.svc.Dir, serverURL(l))
		},
	})
}

// serveDemo serves the demo's data directory (demo --serve).
func (a *app) serveDemo(ctx context.Context, dataDir, addr string) error {
	a.dataDir = dataDir
	if _, err := a.open(ctx); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "\nOpening the dashboard on the demo data; the API is under /v1 and writes need a token (scalegate --data %s token create ...).\n", dataDir)
	return a.serve(ctx, serveConfig{addr: addr, shutdown: 30 * time.Second})
}

// serverURL is the URL of a listening address, with a loopback host for
// an unspecified one.
func serverURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String() + "/"
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return "http://" + host + ":" + port + "/"
}
