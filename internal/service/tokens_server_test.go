package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/store"
)

func openTokenTest(t *testing.T) *Service {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s.Now = func() time.Time { return time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC) }
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTokens(t *testing.T) {
	s := openTokenTest(t)
	ctx := context.Background()
	secret, tok, err := s.CreateToken(ctx, "ci", RoleLab)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) < 40 || tok.Name != "ci" || tok.Role != RoleLab || !tok.Created.Equal(s.Now()) {
		t.Fatalf("created %q %+v", secret, tok)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.Name != "ci" || got.Role != RoleLab {
		t.Fatalf("Authenticate: %+v, %v", got, err)
	}
	for _, bad := range []string{"", "ci", secret + "x", TokenPrefix, strings.TrimPrefix(secret, TokenPrefix), tokenHash(secret)} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrUnauthorized) {
			t.Errorf("Authenticate(%q): %v, want ErrUnauthorized", bad, err)
		}
	}
	// Only the hash is stored.
	err = s.Store.View(ctx, func(r store.Reader) error {
		for _, k := range []string{tokenKeyPrefix + secret, tokensIndexKey} {
			v, err := r.Meta(ctx, k)
			if err == nil && strings.Contains(v, secret) {
				t.Errorf("meta %q holds the token", k)
			}
		}
		_, err := r.Meta(ctx, tokenKeyPrefix+tokenHash(secret))
		return err
	})
	if err != nil {
		t.Fatalf("the token's hash is not stored: %v", err)
	}

	for _, c := range []struct{ name, role, msg string }{
		{"ci", RoleAdmin, "already exists"},
		{"", RoleLab, "token name"},
		{"-x", RoleLab, "token name"},
		{strings.Repeat("a", 65), RoleLab, "token name"},
		{"ok", "root", "role"},
	} {
		if _, _, err := s.CreateToken(ctx, c.name, c.role); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("CreateToken(%q, %q): %v", c.name, c.role, err)
		}
	}
	if _, _, err := s.CreateToken(ctx, "auditor@aisi.example", RoleAuditor); err != nil {
		t.Fatal(err)
	}
	ts, err := s.Tokens(ctx)
	if err != nil || len(ts) != 2 || ts[0].Name != "auditor@aisi.example" || ts[1].Name != "ci" {
		t.Fatalf("Tokens: %+v, %v", ts, err)
	}
	r, err := s.RevokeToken(ctx, "ci")
	if err != nil || r.Revoked == nil {
		t.Fatalf("RevokeToken: %+v, %v", r, err)
	}
	if _, err := s.Authenticate(ctx, secret); !errors.Is(err, ErrUnauthorized) {
		t.Errorf("a revoked token authenticates: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "ci"); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if _, err := s.RevokeToken(ctx, "nobody"); !IsNotFound(err) {
		t.Errorf("revoking an unknown token: %v", err)
	}
	// A revoked name is not reused.
	if _, _, err := s.CreateToken(ctx, "ci", RoleLab); err == nil {
		t.Error("a revoked token's name was reused")
	}
	// Tokens are not log records.
	if n := logLen(t, s); n != 0 {
		t.Errorf("the log has %d entries after token operations", n)
	}
}

func logLen(t *testing.T, s *Service) int64 {
	t.Helper()
	var n int64
	err := s.Store.View(context.Background(), func(r store.Reader) error {
		var err error
		n, err = r.Size(context.Background())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportBytes(t *testing.T) {
	s := openTokenTest(t)
	ctx := context.Background()
	pol, err := os.ReadFile(filepath.Join("..", "..", "policies", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishPolicy(ctx, "example.yaml", pol, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "admin"); err != nil {
		t.Fatal(err)
	}
	doc := []byte(`apiVersion: scalegate.dev/v1
kind: Evidence
models:
  - {id: atlas, developer: Example Lab, policy: example-rsp}
checkpoints:
  - {id: atlas-c1, model: atlas, effectiveCompute: 1e24}
results:
  - {checkpoint: atlas-c1, evaluation: wmdp-bio, score: 0.42, elicitation: finetuned}
  - {checkpoint: atlas-c1, evaluation: no-such-eval, score: 0.1, elicitation: finetuned}
`)
	_, err = s.ImportBytes(ctx, "body", doc, time.Time{}, "lab")
	if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "body:9:") || !strings.Contains(err.Error(), "no-such-eval") {
		t.Fatalf("bad record: %v", err)
	}
	if n := logLen(t, s); n != 1 {
		t.Fatalf("a failed import wrote: log has %d entries", n)
	}
	good := []byte(strings.Replace(string(doc), "  - {checkpoint: atlas-c1, evaluation: no-such-eval, score: 0.1, elicitation: finetuned}\n", "", 1))
	im, err := s.ImportBytes(ctx, "body", good, time.Time{}, "lab")
	if err != nil || im.Records() != 3 {
		t.Fatalf("import: %+v, %v", im, err)
	}
	// Records without `at` got now; the writer is recorded.
	data, err := s.TrustedEntry(ctx, im.First+1)
	if err != nil || !strings.Contains(string(data), `"at":"2026-05-01T12:00:00Z"`) || !strings.Contains(string(data), `"by":"lab"`) {
		t.Errorf("checkpoint record: %s, %v", data, err)
	}
	// JSON is YAML; a DSSE envelope is read as one; junk is bad input.
	js := []byte(`{"apiVersion":"scalegate.dev/v1","kind":"Evidence","checkpoints":[{"id":"atlas-c2","model":"atlas","effectiveCompute":4e24,"at":"2026-02-01T00:00:00Z"}]}`)
	if _, err := s.ImportBytes(ctx, "body", js, time.Time{}, "lab"); err != nil {
		t.Errorf("JSON: %v", err)
	}
	env := []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"bm90IGpzb24=","signatures":[]}`)
	if _, err := s.ImportBytes(ctx, "body", env, time.Time{}, "aud"); !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), "envelope statement") {
		t.Errorf("bad envelope: %v", err)
	}
	if _, err := s.ImportBytes(ctx, "body", []byte("kind: [\n"), time.Time{}, "lab"); !errors.Is(err, ErrBadInput) {
		t.Errorf("bad YAML: %v", err)
	}
}

// TestTokenRevokedElsewhere checks the token cache: a token revoked by
// another service on the same store (another process) stops
// authenticating once tokenCacheTTL has passed, and one revoked through
// this service stops at once.
func TestTokenRevokedElsewhere(t *testing.T) {
	s := openTokenTest(t)
	ctx := context.Background()
	other := &Service{Store: s.Store, Key: s.Key, Now: s.Now}
	var secrets []string
	for _, name := range []string{"a", "b"} {
		secret, _, err := s.CreateToken(ctx, name, RoleLab)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, secret); err != nil { // now cached
			t.Fatal(err)
		}
		secrets = append(secrets, secret)
	}
	if _, err := s.RevokeToken(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secrets[0]); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("token revoked here still authenticates: %v", err)
	}
	if _, err := other.RevokeToken(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(tokenCacheTTL + 100*time.Millisecond)
	if _, err := s.Authenticate(ctx, secrets[1]); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("token revoked by another process authenticates after %v: %v", tokenCacheTTL, err)
	}
}
