package service

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
)

// TestMain removes what the benchmarks built once for the whole test
// binary.
func TestMain(m *testing.M) {
	code := m.Run()
	if bench1M.dir != "" {
		os.RemoveAll(bench1M.dir)
	}
	os.Exit(code)
}

const (
	size1M      = 1_000_000
	batch1M     = 10_000
	checkpoint1 = 100_000 // a checkpoint is signed every checkpoint1 records
)

// bench1M is a 1,000,000-leaf log built once per test binary run.
var bench1M struct {
	once  sync.Once
	dir   string
	svc   *Service
	build time.Duration
	err   error
}

// benchResult returns result record i of the benchmark log: ~300 bytes,
// built by newRecord exactly as an import builds it.
func benchResult(i int64) (store.Record, error) {
	at := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)
	r := &evidence.Result{
		Checkpoint:  fmt.Sprintf("atlas-c%d", i/1000),
		Evaluation:  "wmdp-bio",
		Score:       float64(i%1000) / 1000,
		Elicitation: "finetuned",
		Samples:     1273,
		At:          at,
		Source: &evidence.Source{
			Format: "inspect",
			Digest: fmt.Sprintf("sha256:%064x", i),
			Task:   "inspect_evals/wmdp_bio",
		},
	}
	return newRecord(store.KindResult, "", "atlas", "", "bench", at, r, nil)
}

// log1M returns a service over the 1,000,000-leaf log, building it on
// first use by appending records straight through the store in batches of
// batch1M (not through Import), signing a checkpoint every checkpoint1
// records as the service does after a write.
func log1M(b *testing.B) *Service {
	b.Helper()
	bench1M.once.Do(func() {
		start := time.Now()
		bench1M.dir, bench1M.err = os.MkdirTemp("", "scalegate-bench1m-")
		if bench1M.err != nil {
			return
		}
		ctx := context.Background()
		s, err := Open(ctx, bench1M.dir)
		if err != nil {
			bench1M.err = err
			return
		}
		recs := make([]store.Record, batch1M)
		for first := int64(0); first < size1M; first += batch1M {
			for i := range recs {
				if recs[i], err = benchResult(first + int64(i)); err != nil {
					bench1M.err = err
					return
				}
			}
			err = s.Store.Update(ctx, func(tx store.Tx) error {
				got, err := tx.Append(ctx, recs)
				if err != nil {
					return err
				}
				if got != first {
					return fmt.Errorf("appended at %d, want %d", got, first)
				}
				if (first+batch1M)%checkpoint1 == 0 {
					return s.signCheckpoint(ctx, tx)
				}
				return nil
			})
			if err != nil {
				bench1M.err = err
				return
			}
		}
		bench1M.svc, bench1M.build = s, time.Since(start)
	})
	if bench1M.err != nil {
		b.Fatalf("building the 1M log: %v", bench1M.err)
	}
	b.Logf("1,000,000-leaf log built in %v (once per test binary run)", bench1M.build.Round(time.Millisecond))
	return bench1M.svc
}

// BenchmarkInclusionProof1M serves inclusion proofs for random leaves of a
// 1,000,000-leaf log (the target is at most 200 µs per proof).
func BenchmarkInclusionProof1M(b *testing.B) {
	s := log1M(b)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for b.Loop() {
		i := rng.Int64N(size1M)
		p, err := s.InclusionProof(ctx, i, 0)
		if err != nil {
			b.Fatal(err)
		}
		if p.Index != i || p.Size != size1M {
			b.Fatalf("proof for %d in %d, want %d in %d", p.Index, p.Size, i, size1M)
		}
	}
	b.StopTimer()
	// Not vacuous: a proof checks against the signed root.
	root, err := signedRoot(ctx, s, size1M)
	if err != nil {
		b.Fatal(err)
	}
	for _, i := range []int64{0, 123_456, size1M - 1} {
		p, err := s.InclusionProof(ctx, i, 0)
		if err != nil {
			b.Fatal(err)
		}
		leaf, err := s.Entry(ctx, i)
		if err != nil {
			b.Fatal(err)
		}
		if err := tlog.CheckRecord(p.Proof(), size1M, root, i, tlog.RecordHash(leaf)); err != nil {
			b.Fatalf("proof of leaf %d: %v", i, err)
		}
	}
}

// BenchmarkVerify1M recomputes and checks the whole 1,000,000-leaf log
// (the target is at most 20 s per verification; run with -benchtime 1x).
func BenchmarkVerify1M(b *testing.B) {
	s := log1M(b)
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		rep, err := s.Verify(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if rep.Size != size1M || rep.Checkpoints != size1M/checkpoint1 {
			b.Fatalf("Verify: %d leaves, %d checkpoints; want %d, %d", rep.Size, rep.Checkpoints, size1M, size1M/checkpoint1)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/verify")
	b.ReportMetric(float64(b.N)*size1M/b.Elapsed().Seconds(), "leaves/s")
}

// signedRoot returns the root signed by the latest checkpoint, which must
// have the given size.
func signedRoot(ctx context.Context, s *Service, size int64) (tlog.Hash, error) {
	var root tlog.Hash
	err := s.Store.View(ctx, func(r store.Reader) error {
		c, err := r.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		cp, _, err := transparency.OpenCheckpoint(c.Signed, note.VerifierList(s.Key.Verifier()))
		if err != nil {
			return err
		}
		if c.Size != size || cp.Size != size {
			return fmt.Errorf("latest checkpoint has size %d, want %d", cp.Size, size)
		}
		root = cp.Root
		return nil
	})
	return root, err
}
