package service

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/store"
)

// TestDecisionsRederivable checks the promise of Decide: each recorded
// decision is exactly what the first evidenceLogSize entries of the log
// imply, re-derived here from scratch (no cache) while imports and
// decisions run concurrently, so that the evidence cache and the
// optimistic append are both exercised.
func TestDecisionsRederivable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	day := func(d int) time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, d) }
	for _, f := range []struct {
		file string
		at   time.Time
	}{{"example.yaml", day(0)}, {"example-v2.yaml", day(1)}} {
		doc, err := os.ReadFile(filepath.Join("../../policies", f.file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishPolicy(ctx, f.file, doc, f.at, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.ImportFiles(ctx, []string{"../../examples/demo/01-first-checkpoint.yaml"}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	demo := []string{"02-early-warning.yaml", "03-threshold-crossed.yaml", "04-self-attested.yaml", "05-external-attestation.yaml", "06-red-line.yaml", "07-asl4-security.yaml"}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, f := range demo {
			if _, err := s.ImportFiles(ctx, []string{filepath.Join("../../examples/demo", f)}, time.Time{}, "test"); err != nil {
				errs <- err
			}
		}
	}()
	const workers = 8
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				a := gate.Action{Kind: gate.Scale, Model: "atlas", ToCompute: 1.6e25, At: day(100 + i)}
				if i%3 == 1 {
					a = gate.Action{Kind: gate.Deploy, Checkpoint: "atlas-c1", Mode: "open-weights", At: day(100 + i)}
				}
				if _, err := s.Decide(ctx, a, fmt.Sprint("w", w)); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	// Re-derive every decision with a service that has no cache.
	fresh := &Service{Store: s.Store, Key: s.Key, Now: time.Now, policies: map[string]*policy.Policy{}}
	n := 0
	err = s.Store.View(ctx, func(r store.Reader) error {
		recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindDecision}, Model: "atlas"})
		if err != nil {
			return err
		}
		m, err := getModel(ctx, r, "atlas")
		if err != nil {
			return err
		}
		all, err := loadEvidence(ctx, r, m, 0)
		if err != nil {
			return err
		}
		versions, pvs, err := fresh.versions(ctx, r, m.Policy)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var got gate.Decision
			if _, err := decodeEnvelope(rec, &got); err != nil {
				return err
			}
			if got.EvidenceLogSize == nil || *got.EvidenceLogSize > rec.Index {
				return fmt.Errorf("decision %d: evidenceLogSize %v", rec.Index, got.EvidenceLogSize)
			}
			size := *got.EvidenceLogSize
			// Nothing the decision rests on was recorded between its
			// basis and its place in the log.
			for _, x := range all.Results {
				if x.Seq >= size && x.Seq < rec.Index {
					return fmt.Errorf("decision %d rests on the first %d entries, but result %d for the model came before it", rec.Index, size, x.Seq)
				}
			}
			for _, x := range all.Safeguards {
				if x.Seq >= size && x.Seq < rec.Index {
					return fmt.Errorf("decision %d rests on the first %d entries, but safeguard status %d came before it", rec.Index, size, x.Seq)
				}
			}
			for _, pv := range pvs {
				if pv.Index >= size && pv.Index < rec.Index {
					return fmt.Errorf("decision %d rests on the first %d entries, but policy version %d came before it", rec.Index, size, pv.Index)
				}
			}
			in := gate.Input{Evidence: prefix(all, size), Action: got.Action}
			for i, v := range versions {
				if pvs[i].Index < size {
					in.Versions = append(in.Versions, v)
				}
			}
			want := gate.Decide(in)
			want.EvidenceLogSize = got.EvidenceLogSize
			wj, _ := json.Marshal(want)
			gj, _ := json.Marshal(got)
			if string(wj) != string(gj) {
				return fmt.Errorf("decision %d differs from its re-derivation over the first %d entries:\n got %s\nwant %s", rec.Index, size, gj, wj)
			}
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != workers*15 {
		t.Fatalf("re-derived %d decisions, want %d", n, workers*15)
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatal(err)
	}
}

// prefix keeps the evidence recorded before log index size.
func prefix(ev gate.Evidence, size int64) gate.Evidence {
	out := gate.Evidence{Model: ev.Model}
	for _, x := range ev.Checkpoints {
		if x.Seq < size {
			out.Checkpoints = append(out.Checkpoints, x)
		}
	}
	for _, x := range ev.Results {
		if x.Seq < size {
			out.Results = append(out.Results, x)
		}
	}
	for _, x := range ev.Safeguards {
		if x.Seq < size {
			out.Safeguards = append(out.Safeguards, x)
		}
	}
	for _, x := range ev.Determinations {
		if x.Seq < size {
			out.Determinations = append(out.Determinations, x)
		}
	}
	for _, x := range ev.SafetyCases {
		if x.Seq < size {
			out.SafetyCases = append(out.SafetyCases, x)
		}
	}
	for _, x := range ev.Escapes {
		if x.Seq < size {
			out.Escapes = append(out.Escapes, x)
		}
	}
	return out
}
