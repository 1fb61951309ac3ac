package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"scalegate.dev/scalegate/internal/transparency"
)

func TestWitnessCosignatures(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	policyText, err := os.ReadFile("../../policies/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishPolicy(ctx, "example.yaml", policyText, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	signed, err := s.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// No witnesses configured: refused.
	if _, err := s.AddCosignatures(ctx, signed); err == nil || !strings.Contains(err.Error(), "no witnesses") {
		t.Fatalf("AddCosignatures without witnesses: err = %v, want 'no witnesses'", err)
	}

	wskey, wvkey, err := transparency.GenerateWitnessKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	otherSkey, _, err := transparency.GenerateWitnessKey("witness.example/rogue")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, WitnessesFile), []byte("# our witnesses\n"+wvkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cosign := func(skey string, checkpoint []byte) []byte {
		w, err := transparency.NewWitness(skey, func() time.Time { return time.Unix(1767225600, 0) })
		if err != nil {
			t.Fatal(err)
		}
		line, err := w.Cosign(checkpoint, note.VerifierList(s.Key.Verifier()))
		if err != nil {
			t.Fatal(err)
		}
		out, err := transparency.AddCosignatures(checkpoint, [][]byte{line})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// A rogue witness alone: refused.
	if _, err := s.AddCosignatures(ctx, cosign(otherSkey, signed)); err == nil {
		t.Fatal("AddCosignatures accepted a cosignature by an unconfigured witness")
	}
	// The configured witness: stored and shown with the checkpoint.
	n, err := s.AddCosignatures(ctx, cosign(wskey, signed))
	if err != nil || n != 1 {
		t.Fatalf("AddCosignatures = %d, %v; want 1, nil", n, err)
	}
	shown, err := s.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, cosigs, err := transparency.OpenCosigned(shown, s.VerifierKey(), []string{wvkey}, 1); err != nil || len(cosigs) != 1 {
		t.Fatalf("checkpoint after cosigning: %d cosignatures, err %v; want 1", len(cosigs), err)
	}
	// A cosigned checkpoint of a tree the log never signed: refused.
	forged, err := transparency.SignCheckpoint(transparency.Checkpoint{Origin: s.Key.Origin(), Size: 99}, s.Key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddCosignatures(ctx, cosign(wskey, forged)); err == nil || !strings.Contains(err.Error(), "no checkpoint of size 99") {
		t.Fatalf("AddCosignatures for an unsigned size: err = %v", err)
	}
}
