package service

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/postgres"
	"scalegate.dev/scalegate/internal/store/sqlite"
)

// OpenStore opens the store named by spec and the log key in dir (created
// on first use):
//
//	""                      the embedded store, dir/scalegate.db (as Open)
//	"sqlite:PATH"           the embedded store at PATH (dir/scalegate.db if empty)
//	"postgres://…"          PostgreSQL at that URL ("postgresql://" too)
//
// The log key always stays in dir: every process writing one PostgreSQL
// log must use a data directory holding the same key.
func OpenStore(ctx context.Context, spec, dir string) (*Service, error) {
	if dir == "" {
		return nil, badInputf("a data directory is required (it holds the log key)")
	}
	var st store.Store
	var err error
	switch {
	case spec == "":
		return Open(ctx, dir)
	case strings.HasPrefix(spec, "sqlite:"):
		path := strings.TrimPrefix(spec, "sqlite:")
		if path == "" {
			return Open(ctx, dir)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("database dir: %w", err)
		}
		st, err = sqlite.Open(ctx, path)
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("data dir: %w", err)
		}
		st, err = postgres.Open(ctx, spec)
	default:
		return nil, badInputf("store %q: want sqlite:PATH, postgres://… or postgresql://…", redactStore(spec))
	}
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, st, dir)
	if err != nil {
		st.Close()
		return nil, err
	}
	s.Dir = dir
	return s, nil
}

// redactStore shortens a store spec for messages, dropping anything that
// could be a password.
func redactStore(spec string) string {
	if i := strings.Index(spec, "@"); i >= 0 {
		spec = "…" + spec[i:]
	}
	if len(spec) > 40 {
		spec = spec[:40] + "…"
	}
	return spec
}
