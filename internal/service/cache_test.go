package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
)

// sizedReader is a reader that sees only the first size entries of the
// log, as a snapshot taken when the log had size entries would.
type sizedReader struct {
	store.Reader
	size int64
}

func (r sizedReader) Size(context.Context) (int64, error) { return r.size, nil }

func (r sizedReader) List(ctx context.Context, q store.Query) ([]store.Record, error) {
	recs, err := r.Reader.List(ctx, q)
	var out []store.Record
	for _, rec := range recs {
		if rec.Index < r.size {
			out = append(out, rec)
		}
	}
	return out, err
}

func (r sizedReader) ListMany(ctx context.Context, qs []store.Query) ([][]store.Record, error) {
	return store.ListEach(ctx, r, qs)
}

// TestEvidenceCacheAnySize checks that the in-memory evidence and policy
// version caches give, for every log size and in any order of asking (decisions made side by
// side read snapshots of different sizes), exactly the evidence read from
// scratch at that size.
func TestEvidenceCacheAnySize(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	doc, err := os.ReadFile("../../policies/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishPolicy(ctx, "example.yaml", doc, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	// Batches alternate between the model under test and another, with
	// decisions in between, so some sizes add evidence and some do not.
	var sizes []int64
	for i := range 8 {
		model := "big"
		if i%2 == 1 {
			model = "other"
		}
		body := fmt.Sprintf("apiVersion: scalegate.dev/v1\nkind: Evidence\nmodels:\n  - {id: %[1]s, policy: example-rsp}\ncheckpoints:\n  - {id: %[1]s-c%[2]d, model: %[1]s, effectiveCompute: %[3]g, at: 2026-02-01T00:00:00Z}\nresults:\n  - {checkpoint: %[1]s-c%[2]d, evaluation: wmdp-bio, score: 0.3, elicitation: finetuned, at: 2026-02-02T00:00:00Z}\n", model, i, 1e22*float64(i+1))
		p := filepath.Join(dir, fmt.Sprintf("e%d.yaml", i))
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := s.ImportFiles(ctx, []string{p}, time.Time{}, "test"); err != nil {
			t.Fatal(err)
		}
		if i == 4 { // a new policy version midway
			doc, err := os.ReadFile("../../policies/example-v2.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.PublishPolicy(ctx, "example-v2.yaml", doc, time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "test"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Decide(ctx, gate.Action{Kind: gate.Scale, Model: "big", ToCompute: 1e25, At: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}, "test"); err != nil {
			t.Fatal(err)
		}
		var n int64
		s.Store.View(ctx, func(r store.Reader) error { n, err = r.Size(ctx); return err })
		sizes = append(sizes, n-1, n) // before and after the decision
	}
	for seed := range uint64(20) {
		s2 := &Service{Store: s.Store, Key: s.Key, Now: time.Now, policies: s.policies}
		order := append([]int64(nil), sizes...)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, size := range order {
			err := s.Store.View(ctx, func(r store.Reader) error {
				sr := sizedReader{r, size}
				m, err := getModel(ctx, sr, "big")
				if err != nil {
					return err
				}
				want, err := loadEvidence(ctx, sr, m, 0)
				if err != nil {
					return err
				}
				wantVersions, _, err := s.versions(ctx, sr, m.Policy)
				if err != nil {
					return err
				}
				gotVersions, got, _, err := s2.inputsAt(ctx, sr, m, size)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(got, want) {
					return fmt.Errorf("seed %d, size %d: cached evidence has %d checkpoints and %d results, want %d and %d", seed, size, len(got.Checkpoints), len(got.Results), len(want.Checkpoints), len(want.Results))
				}
				if len(gotVersions) != len(wantVersions) {
					return fmt.Errorf("seed %d, size %d: %d cached policy versions, want %d", seed, size, len(gotVersions), len(wantVersions))
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}
