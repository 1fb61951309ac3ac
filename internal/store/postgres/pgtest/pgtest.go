// Package pgtest gives tests a fresh PostgreSQL schema of their own.
//
// Tests that need PostgreSQL call [DSN]; it skips the test unless the
// environment variable SCALEGATE_TEST_POSTGRES holds a connection URL
// (postgres://user:pass@host:port/db?sslmode=disable) to a database the
// role may create schemas in. Each call creates schema t_<random>, returns
// the URL with search_path set to it, and drops the schema, cascading, when
// the test ends, so tests run in parallel and leave nothing behind.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the connection URL of the test database.
const EnvVar = "SCALEGATE_TEST_POSTGRES"

// Require skips the test when EnvVar is unset.
func Require(tb testing.TB) {
	tb.Helper()
	if os.Getenv(EnvVar) == "" {
		tb.Skip(EnvVar + " not set: set it to postgres://USER:PASS@HOST:PORT/DB?sslmode=disable to run the PostgreSQL tests")
	}
}

// DSN returns a connection URL whose search_path is a new, empty schema
// dropped at the end of the test, or skips the test when EnvVar is unset.
func DSN(tb testing.TB) string {
	tb.Helper()
	Require(tb)
	base := os.Getenv(EnvVar)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s is not a postgres:// URL", EnvVar)
	}
	id := make([]byte, 8)
	rand.Read(id)
	schema := "t_" + hex.EncodeToString(id)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("connect to %s: %v", EnvVar, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
