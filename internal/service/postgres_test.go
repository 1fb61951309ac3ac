package service_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/postgres/pgtest"
)

func pgAt(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func openStore(t *testing.T, spec string) *service.Service {
	t.Helper()
	s, err := service.OpenStore(context.Background(), spec, t.TempDir())
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	s.Now = func() time.Time { return pgAt(t, "2026-06-01T00:00:00Z") }
	return s
}

// demoStory records the demo's story (two policy versions, the seven
// example Evidence files, gate decisions between them) and returns the
// verdicts and the number of write transactions.
func demoStory(t *testing.T, s *service.Service) (verdicts []string, writes int) {
	t.Helper()
	ctx := context.Background()
	publish := func(file, at string) {
		data, err := os.ReadFile(filepath.Join("..", "..", "policies", file))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.PublishPolicy(ctx, file, data, pgAt(t, at), "test"); err != nil {
			t.Fatalf("publish %s: %v", file, err)
		}
		writes++
	}
	imp := func(file string) {
		res, err := s.ImportFiles(ctx, []string{filepath.Join("..", "..", "examples", "demo", file)}, time.Time{}, "test")
		if err != nil {
			t.Fatalf("import %s: %v", file, err)
		}
		if res.Records() == 0 {
			t.Fatalf("import %s: nothing imported", file)
		}
		writes++
	}
	decide := func(a gate.Action, at string) {
		a.At = pgAt(t, at)
		d, err := s.Decide(ctx, a, "test")
		if err != nil {
			t.Fatalf("decide %+v: %v", a, err)
		}
		if d.LogIndex == nil {
			t.Fatalf("decide %+v: no log index", a)
		}
		verdicts = append(verdicts, d.Verdict)
		writes++
	}
	scale := func(to float64, at string) { decide(gate.Action{Kind: gate.Scale, Model: "atlas", ToCompute: to}, at) }
	deploy := func(ckpt, mode, at string) {
		decide(gate.Action{Kind: gate.Deploy, Checkpoint: ckpt, Mode: mode}, at)
	}

	publish("example.yaml", "2026-01-01T00:00:00Z")
	imp("01-first-checkpoint.yaml")
	scale(4e24, "2026-01-15T00:00:00Z")
	imp("02-early-warning.yaml")
	scale(1.6e25, "2026-02-05T00:00:00Z")
	scale(8e24, "2026-02-05T00:00:00Z")
	imp("03-threshold-crossed.yaml")
	scale(1.6e25, "2026-03-05T00:00:00Z")
	imp("04-self-attested.yaml")
	scale(1.6e25, "2026-03-12T00:00:00Z")
	imp("05-external-attestation.yaml")
	scale(1.6e25, "2026-03-21T00:00:00Z")
	deploy("atlas-c3", "external", "2026-03-21T00:00:00Z")
	deploy("atlas-c3", "open-weights", "2026-03-21T00:00:00Z")
	imp("06-red-line.yaml")
	scale(3.2e25, "2026-04-04T00:00:00Z")
	publish("example-v2.yaml", "2026-04-05T00:00:00Z")
	imp("07-asl4-security.yaml")
	scale(3.2e25, "2026-04-21T00:00:00Z")
	scale(3.2e25, "2026-05-06T00:00:00Z")
	return verdicts, writes
}

func logSize(t *testing.T, s *service.Service) int64 {
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

// TestPostgresDemo runs the demo's story on PostgreSQL: the log verifies,
// and every verdict is the one the embedded store gives.
func TestPostgresDemo(t *testing.T) {
	pg := openStore(t, pgtest.DSN(t))
	got, writes := demoStory(t, pg)
	rep, err := pg.Verify(context.Background())
	if err != nil {
		t.Fatalf("Verify on postgres: %v", err)
	}
	if n := logSize(t, pg); rep.Size != n || n == 0 {
		t.Fatalf("Verify checked %d records; the log has %d", rep.Size, n)
	}
	if rep.Checkpoints != writes {
		t.Fatalf("Verify checked %d checkpoints, want one per write transaction (%d)", rep.Checkpoints, writes)
	}

	t.Logf("verdicts: %v", got)
	lite := openStore(t, "")
	want, _ := demoStory(t, lite)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("verdicts on postgres:\n%v\nwant (sqlite):\n%v", got, want)
	}
	if n, m := logSize(t, pg), logSize(t, lite); n != m {
		t.Fatalf("postgres log has %d records, sqlite %d", n, m)
	}
}

// TestPostgresConcurrentWriters runs 8 goroutines of 20 decisions and
// imports each against one PostgreSQL log: nothing is lost, and the log
// verifies.
func TestPostgresConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	s := openStore(t, dsn)
	data, err := os.ReadFile(filepath.Join("..", "..", "policies", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.PublishPolicy(ctx, "example.yaml", data, pgAt(t, "2026-01-01T00:00:00Z"), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportFiles(ctx, []string{filepath.Join("..", "..", "examples", "demo", "01-first-checkpoint.yaml")}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	base := logSize(t, s)
	baseRep, err := s.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// A second service on the same database and key, as a second process
	// (or host) sharing the data directory's key would have.
	s2, err := service.OpenStore(ctx, dsn, s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	s2.Now = s.Now
	svcs := []*service.Service{s, s2}

	const writers, each = 8, 20
	evDir := t.TempDir()
	var wg sync.WaitGroup
	var mu sync.Mutex
	indexes := map[int64]bool{}
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := svcs[w%len(svcs)]
			for i := 0; i < each; i++ {
				if i%2 == 0 {
					d, err := svc.Decide(ctx, gate.Action{Kind: gate.Scale, Model: "atlas", ToCompute: 2e24, At: pgAt(t, "2026-01-20T00:00:00Z").Add(time.Duration(w*each+i) * time.Minute)}, fmt.Sprintf("w%d", w))
					if err != nil {
						errs <- fmt.Errorf("writer %d decide %d: %w", w, i, err)
						return
					}
					mu.Lock()
					indexes[*d.LogIndex] = true
					mu.Unlock()
					continue
				}
				file := filepath.Join(evDir, fmt.Sprintf("w%d-%d.yaml", w, i))
				ev := fmt.Sprintf(`apiVersion: scalegate.dev/v1
kind: Evidence
results:
  - {checkpoint: atlas-c1, evaluation: wmdp-bio, score: 0.%02d%02d, elicitation: finetuned, samples: 1273, at: 2026-01-14T%02d:%02d:00Z}
`, w, i, w, i)
				if err := os.WriteFile(file, []byte(ev), 0o600); err != nil {
					errs <- err
					return
				}
				res, err := svc.ImportFiles(ctx, []string{file}, time.Time{}, fmt.Sprintf("w%d", w))
				if err != nil {
					errs <- fmt.Errorf("writer %d import %d: %w", w, i, err)
					return
				}
				if res.Results != 1 || res.First != res.Last {
					errs <- fmt.Errorf("writer %d import %d: %+v, want one result", w, i, res)
					return
				}
				mu.Lock()
				indexes[res.First] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(indexes) != writers*each {
		t.Fatalf("%d distinct log indexes, want %d", len(indexes), writers*each)
	}
	for i := base; i < base+writers*each; i++ {
		if !indexes[i] {
			t.Fatalf("log index %d was not returned to any writer", i)
		}
	}
	if n := logSize(t, s); n != base+writers*each {
		t.Fatalf("log size %d, want %d + %d", n, base, writers*each)
	}
	rep, err := s2.Verify(ctx)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// One checkpoint per write transaction: an import is one, decisions
	// made side by side may share one (group commit).
	imports := writers * each / 2
	if rep.Size != base+writers*each || rep.Checkpoints < baseRep.Checkpoints+imports+1 || rep.Checkpoints > baseRep.Checkpoints+writers*each {
		t.Fatalf("Verify: %d records, %d checkpoints; want %d records and %d to %d checkpoints", rep.Size, rep.Checkpoints, base+writers*each, baseRep.Checkpoints+imports+1, baseRep.Checkpoints+writers*each)
	}
}

// TestOpenStore checks the store specs that need no server.
func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := service.OpenStore(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, service.DataFile)); err != nil {
		t.Fatalf(`OpenStore("") made no %s in the data dir: %v`, service.DataFile, err)
	}

	dir2 := t.TempDir()
	db := filepath.Join(t.TempDir(), "sub", "other.db")
	s, err = service.OpenStore(ctx, "sqlite:"+db, dir2)
	if err != nil {
		t.Fatal(err)
	}
	key := s.VerifierKey()
	s.Close()
	if _, err := os.Stat(db); err != nil {
		t.Fatalf("OpenStore(sqlite:PATH) made no database at PATH: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, service.DataFile)); err == nil {
		t.Fatalf("OpenStore(sqlite:PATH) also made a database in the data dir")
	}
	s, err = service.OpenStore(ctx, "sqlite:"+db, dir2)
	if err != nil {
		t.Fatal(err)
	}
	if s.VerifierKey() != key {
		t.Fatalf("reopening gave another log key")
	}
	s.Close()

	for _, bad := range []string{"mysql://u:secret@h/db", "scalegate.db"} {
		_, err := service.OpenStore(ctx, bad, t.TempDir())
		if !errors.Is(err, service.ErrBadInput) {
			t.Fatalf("OpenStore(%q) = %v, want bad input", bad, err)
		}
		if strings.Contains(err.Error(), "secret") {
			t.Fatalf("OpenStore(%q) error shows the password: %v", bad, err)
		}
	}
}
