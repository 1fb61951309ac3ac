package service

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
)

// TestEvidenceSnapshots checks that stored evidence snapshots give the
// same decisions as reading every record, are extended as evidence grows,
// and that log verify catches a snapshot that disagrees with the records.
func TestEvidenceSnapshots(t *testing.T) {
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
	// Evidence in batches: n checkpoints with two results each.
	write := func(name string, from, n int) string {
		var b strings.Builder
		b.WriteString("apiVersion: scalegate.dev/v1\nkind: Evidence\nmodels:\n  - {id: big, policy: example-rsp}\ncheckpoints:\n")
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, "  - {id: big-c%d, model: big, effectiveCompute: %g, at: 2026-02-01T00:00:00Z}\n", i, 1e22*float64(i+1))
		}
		b.WriteString("results:\n")
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, "  - {checkpoint: big-c%d, evaluation: wmdp-bio, score: %.3f, elicitation: finetuned, at: 2026-02-02T00:00:00Z}\n", i, 0.3+float64(i%40)/100)
			fmt.Fprintf(&b, "  - {checkpoint: big-c%d, evaluation: re-bench, score: 0.1, elicitation: scaffolded, at: 2026-02-02T00:00:00Z}\n", i)
		}
		b.WriteString("determinations:\n")
		for i := from; i < from+n; i++ {
			fmt.Fprintf(&b, "  - {checkpoint: big-c%d, threshold: autonomy-2, crossed: false, by: responsible-scaling-officer, rationale: fine, at: 2026-02-02T00:00:00Z}\n", i)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	action := gate.Action{Kind: gate.Scale, Model: "big", ToCompute: 1e25, At: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	// fresh decides like a new process with no snapshot and no memory.
	fresh := func() string {
		var out string
		err := s.Store.View(ctx, func(r store.Reader) error {
			m, err := getModel(ctx, r, "big")
			if err != nil {
				return err
			}
			ev, err := loadEvidence(ctx, r, m, 0)
			if err != nil {
				return err
			}
			versions, _, err := s.versions(ctx, r, m.Policy)
			if err != nil {
				return err
			}
			d := gate.Decide(gate.Input{Versions: versions, Evidence: ev, Action: action})
			j, _ := json.Marshal(d.Thresholds)
			out = string(j) + fmt.Sprint(d.Verdict, d.Assessment)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// viaNewService decides with a new Service over the same store, as a
	// new CLI process would (stored snapshot, empty memory cache).
	viaNewService := func() (string, *gate.Decision) {
		s2 := &Service{Store: s.Store, Key: s.Key, Now: time.Now, policies: s.policies}
		d, err := s2.Decide(ctx, action, "test")
		if err != nil {
			t.Fatal(err)
		}
		j, _ := json.Marshal(d.Thresholds)
		return string(j) + fmt.Sprint(d.Verdict, d.Assessment), d
	}
	snapSize := func() int64 {
		var size int64 = -1
		s.Store.View(ctx, func(r store.Reader) error {
			b, err := r.Cached(ctx, snapshotKey("big"))
			if err == nil {
				size, _, _ = decodeSnapshot(b)
			}
			return nil
		})
		return size
	}

	if _, err := s.ImportFiles(ctx, []string{write("a.yaml", 0, 400)}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	got, _ := viaNewService()
	if want := fresh(); got != want {
		t.Fatalf("first decision:\n got %s\nwant %s", got, want)
	}
	first := snapSize()
	if first <= 0 {
		t.Fatalf("no snapshot stored after deciding over %d records", 1201)
	}
	// A small addition reads the tail; a large one rewrites the snapshot.
	if _, err := s.ImportFiles(ctx, []string{write("b.yaml", 400, 10)}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	got, _ = viaNewService()
	if want := fresh(); got != want {
		t.Fatalf("after a small import:\n got %s\nwant %s", got, want)
	}
	if snapSize() != first {
		t.Fatalf("snapshot rewritten for a tail of 31 records")
	}
	if _, err := s.ImportFiles(ctx, []string{write("c.yaml", 410, 200)}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	got, _ = viaNewService()
	if want := fresh(); got != want {
		t.Fatalf("after a large import:\n got %s\nwant %s", got, want)
	}
	if snapSize() <= first {
		t.Fatalf("snapshot not extended after a tail of 601 records")
	}
	if _, err := s.Verify(ctx); err != nil {
		t.Fatalf("Verify with snapshots: %v", err)
	}
	// A snapshot that drops a record is caught by verify.
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		b, err := tx.Cached(ctx, snapshotKey("big"))
		if err != nil {
			return err
		}
		size, recs, err := decodeSnapshot(b)
		if err != nil {
			return err
		}
		return tx.PutCached(ctx, snapshotKey("big"), encodeSnapshot(size, append(recs[:5:5], recs[6:]...)))
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("Verify with a doctored snapshot: err = %v, want a snapshot mismatch", err)
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(3, []store.Record{{Index: 1, Kind: "result", Data: []byte(`{"kind":"result"}`)}}))
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		size, recs, err := decodeSnapshot(b)
		if err != nil {
			return
		}
		if again := encodeSnapshot(size, recs); string(again) != string(b) {
			t.Fatalf("decode/encode round trip differs")
		}
	})
}
