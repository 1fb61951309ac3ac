package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Config configures Run. Zero durations take the defaults below.
type Config struct {
	// Addr is the address to listen on, host:port.
	Addr string
	// ReadHeaderTimeout bounds reading a request's headers (default 10 s).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included (default
	// 2 min: a 64 MiB evidence upload over a slow link).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response (default 2 min).
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive connections (default 2 min).
	IdleTimeout time.Duration
	// ShutdownTimeout bounds the wait for in-flight requests on shutdown
	// (default 30 s).
	ShutdownTimeout time.Duration
	// Logger receives the server's own messages; nil discards.
	Logger *slog.Logger
	// Ready, if set, is called with the listening address once the
	// server accepts connections.
	Ready func(addr net.Addr)
}

func orDefault(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// Run serves h on cfg.Addr until ctx is done, then shuts down gracefully:
// it stops accepting connections and waits for in-flight requests to
// finish (up to ShutdownTimeout). It returns nil after a clean shutdown.
func Run(ctx context.Context, h http.Handler, cfg Config) error {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: orDefault(cfg.ReadHeaderTimeout, 10*time.Second),
		ReadTimeout:       orDefault(cfg.ReadTimeout, 2*time.Minute),
		WriteTimeout:      orDefault(cfg.WriteTimeout, 2*time.Minute),
		IdleTimeout:       orDefault(cfg.IdleTimeout, 2*time.Minute),
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		// Requests keep a context of their own, so that in-flight requests
		// finish when ctx is cancelled.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())
	if cfg.Ready != nil {
		cfg.Ready(ln.Addr())
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down: waiting for in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), orDefault(cfg.ShutdownTimeout, 30*time.Second))
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("stopped")
	return nil
}
