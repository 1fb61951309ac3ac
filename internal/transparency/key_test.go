package transparency

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestLoadOrCreateKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	origin := DefaultOrigin("k1")
	k, err := LoadOrCreateKey(dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	if k.Origin() != origin || k.Signer().Name() != origin {
		t.Fatalf("key origin %q / signer %q", k.Origin(), k.Signer().Name())
	}
	fi, err := os.Stat(filepath.Join(dir, PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("log.key mode %04o, want 0600", fi.Mode().Perm())
	}
	pub, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(pub) != k.VerifierKey()+"\n" {
		t.Fatalf("log.pub = %q, want %q", pub, k.VerifierKey())
	}
	if _, err := note.NewVerifier(k.VerifierKey()); err != nil {
		t.Fatalf("verifier key does not parse: %v", err)
	}
	// Signing with the key verifies with the published key.
	signed, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 1, Root: testRoot}, k.Signer())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenCheckpoint(signed, note.VerifierList(k.Verifier())); err != nil {
		t.Fatal(err)
	}
	// No temporary files are left behind.
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("key dir has %d files, want 2", len(ents))
	}

	// Loading again returns the same key and never rewrites it.
	before, _ := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	k2, err := LoadOrCreateKey(dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	if k2.VerifierKey() != k.VerifierKey() || string(before) != string(after) {
		t.Fatal("second LoadOrCreateKey changed the key")
	}

	// A deleted log.pub is recreated.
	os.Remove(filepath.Join(dir, PublicKeyFile))
	if _, err := LoadOrCreateKey(dir, origin); err != nil {
		t.Fatal(err)
	}
	if pub2, _ := os.ReadFile(filepath.Join(dir, PublicKeyFile)); string(pub2) != string(pub) {
		t.Fatal("log.pub not recreated")
	}
}

func TestLoadOrCreateKeyErrors(t *testing.T) {
	origin := DefaultOrigin("k2")
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		if _, err := LoadOrCreateKey(dir, origin); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name    string
		prep    func(t *testing.T, dir string)
		origin  string
		wantErr string
	}{
		{"origin mismatch", func(*testing.T, string) {}, DefaultOrigin("other"), "is for origin"},
		{"group readable", func(t *testing.T, dir string) {
			os.Chmod(filepath.Join(dir, PrivateKeyFile), 0o640)
		}, origin, "chmod 600"},
		{"pub mismatch", func(t *testing.T, dir string) {
			_, other, _ := note.GenerateKey(nil, origin)
			os.WriteFile(filepath.Join(dir, PublicKeyFile), []byte(other+"\n"), 0o644)
		}, origin, "does not match"},
		{"corrupt key", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, PrivateKeyFile), []byte("PRIVATE+KEY+x+00000000+AAAA\n"), 0o600)
		}, origin, "malformed"},
		{"invalid origin", func(*testing.T, string) {}, "has space", "invalid origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := setup(t)
			tt.prep(t, dir)
			_, err := LoadOrCreateKey(dir, tt.origin)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
	if _, err := LoadKey(t.TempDir(), origin); err == nil {
		t.Fatal("LoadKey on an empty dir succeeded")
	}
}

func TestLoadOrCreateKeyConcurrent(t *testing.T) {
	dir := t.TempDir()
	origin := DefaultOrigin("race")
	keys := make([]string, 8)
	errs := make([]error, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := LoadOrCreateKey(dir, origin)
			errs[i] = err
			if err == nil {
				keys[i] = k.VerifierKey()
			}
		})
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if keys[i] != keys[0] {
			t.Fatalf("callers got different keys: %q vs %q", keys[i], keys[0])
		}
	}
}

func TestKeyFormattingIsSafe(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreateKey(dir, DefaultOrigin("fmt"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, PrivateKeyFile))
	secret := strings.SplitN(strings.TrimSpace(string(raw)), "+", 5)[4]
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, v := range []any{k, *k, []any{k}, struct{ K *Key }{k}} {
			out := fmt.Sprintf(f, v)
			if strings.Contains(out, "PRIVATE") || strings.Contains(out, secret) {
				t.Fatalf("fmt %s of %T leaks the private key: %s", f, v, out)
			}
		}
	}
	if !strings.Contains(fmt.Sprint(k), k.VerifierKey()) {
		t.Fatalf("String() = %q, want the verifier key", fmt.Sprint(k))
	}
}
