package service

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
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
		s2 := &Service{Store: s.Store, Key: s.Key, Dir: s.Dir, Now: time.Now, policies: s.policies}
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
			b, err := s.readSnapshot(ctx, r, "big")
			if err == nil && b != nil {
				size, _, _, _ = decodeSnapshot(evidence.Model{ID: "big"}, b)
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
	// A snapshot that drops a record is caught by verify, and one naming
	// another log's root is not used.
	b, err := os.ReadFile(s.snapshotPath("big"))
	if err != nil {
		t.Fatal(err)
	}
	size, root, ev, err := decodeSnapshot(evidence.Model{ID: "big"}, b)
	if err != nil {
		t.Fatal(err)
	}
	dropped := ev
	dropped.Results = append(ev.Results[:5:5], ev.Results[6:]...)
	doctored := encodeSnapshot(size, root, dropped)
	if err := os.WriteFile(s.snapshotPath("big"), doctored, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Verify(ctx); err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("Verify with a doctored snapshot: err = %v, want a snapshot mismatch", err)
	}
	var other [32]byte
	other[0] = 1
	if err := os.WriteFile(s.snapshotPath("big"), encodeSnapshot(size, other, dropped), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ = viaNewService()
	if want := fresh(); got != want {
		t.Fatalf("with a snapshot of another log:\n got %s\nwant %s", got, want)
	}
}

// sampleEvidence has every kind of record with every field set.
func sampleEvidence(r *rand.Rand) gate.Evidence {
	at := func() time.Time { return time.Unix(1.7e9+r.Int64N(1e8), r.Int64N(1e9)).UTC() }
	str := func() string { return fmt.Sprint("x", r.IntN(1000)) }
	meta := func() evidence.Meta {
		return evidence.Meta{Seq: r.Int64N(1e6), RecordedBy: str(), SignedBy: str()}
	}
	ev := gate.Evidence{Model: evidence.Model{ID: "m", Policy: "p"}}
	for i := 0; i < r.IntN(5); i++ {
		ev.Checkpoints = append(ev.Checkpoints, evidence.Checkpoint{ID: str(), Model: str(), EffectiveCompute: r.Float64() * 1e26, At: at(), Meta: meta()})
		res := evidence.Result{Checkpoint: str(), Evaluation: str(), Score: r.Float64(), Elicitation: str(), Samples: r.Int64N(1e4), At: at(), Incomplete: r.IntN(2) == 0, Confidential: r.IntN(2) == 0, Meta: meta()}
		if r.IntN(2) == 0 {
			v := r.Float64()
			res.Stderr = &v
			res.Source = &evidence.Source{Format: str(), File: str(), Digest: str(), Task: str(), TaskVersion: str(), Scorer: str(), Metric: str(), LogModel: str()}
		}
		ev.Results = append(ev.Results, res)
		ev.Safeguards = append(ev.Safeguards, evidence.SafeguardStatus{Safeguard: str(), Model: str(), Status: str(), By: str(), At: at(), Note: str(), Confidential: true, Meta: meta()})
		ev.Determinations = append(ev.Determinations, evidence.Determination{Checkpoint: str(), Threshold: str(), Crossed: r.IntN(2) == 0, By: str(), Rationale: str(), At: at(), Meta: meta()})
		ev.SafetyCases = append(ev.SafetyCases, evidence.SafetyCase{ID: str(), Model: str(), CoversCompute: r.Float64() * 1e27, ApprovedBy: str(), At: at(), Summary: str(), Meta: meta()})
		ev.Escapes = append(ev.Escapes, evidence.Escape{Model: str(), By: str(), Rationale: str(), At: at(), Meta: meta()})
	}
	return ev
}

func TestEvidenceCodecRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		ev := sampleEvidence(r)
		got, err := decodeEvidenceBinary(ev.Model, encodeEvidence(ev))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !reflect.DeepEqual(normalized(got), normalized(ev)) {
			t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, ev)
		}
	}
}

func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(encodeSnapshot(3, [32]byte{7}, sampleEvidence(rand.New(rand.NewPCG(3, 4)))))
	f.Add([]byte(snapshotMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		size, root, ev, err := decodeSnapshot(evidence.Model{ID: "m"}, b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to a snapshot that decodes the same.
		_, _, again, err := decodeSnapshot(evidence.Model{ID: "m"}, encodeSnapshot(size, root, ev))
		if err != nil || !reflect.DeepEqual(normalized(again), normalized(ev)) {
			t.Fatalf("re-encoding changes the snapshot: %v", err)
		}
	})
}
