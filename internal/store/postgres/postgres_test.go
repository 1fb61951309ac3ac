package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/postgres"
	"scalegate.dev/scalegate/internal/store/postgres/pgtest"
	"scalegate.dev/scalegate/internal/store/storetest"
)

func open(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	pgtest.Require(t)
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.DSN(t)) })
}

// TestTimesRoundTrip checks that times keep their nanoseconds and instant.
func TestTimesRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := open(t, pgtest.DSN(t))
	defer db.Close()
	at := time.Date(2026, 3, 4, 5, 6, 7, 123456789, time.FixedZone("X", 3600))
	err := db.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Append(ctx, []store.Record{{Kind: store.KindResult, At: at, Data: []byte("{}"), Leaf: []byte("l")}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.View(ctx, func(r store.Reader) error {
		e, err := r.Entry(ctx, 0)
		if err != nil {
			return err
		}
		if !e.At.Equal(at) || e.At.Nanosecond() != 123456789 {
			return fmt.Errorf("At = %v, want %v", e.At, at)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTwoHandles checks that two pools on one schema, as two processes
// (or hosts) would have, migrate once and serialise their writes without
// losing a record.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	handles := make([]*postgres.DB, 2)
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i := range handles { // concurrent first opens: one migration
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			handles[i] = db
		}()
	}
	wg.Wait()
	for _, db := range handles {
		if db != nil {
			defer db.Close()
		}
	}
	select {
	case err := <-errs:
		t.Fatalf("Open: %v", err)
	default:
	}
	const each = 50
	for h, db := range handles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := db.Update(ctx, func(tx store.Tx) error {
					_, err := tx.Append(ctx, []store.Record{{Kind: store.KindResult, Model: "m", Data: []byte("{}"), Leaf: []byte(fmt.Sprintf("h%d-%d", h, i))}})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Update: %v", err)
	}
	err := handles[1].View(ctx, func(r store.Reader) error {
		n, err := r.Size(ctx)
		if err != nil {
			return err
		}
		if n != 2*each {
			return fmt.Errorf("Size() = %d, want %d", n, 2*each)
		}
		var hashes int64
		if err := r.ScanHashes(ctx, func(int64, tlog.Hash) error { hashes++; return nil }); err != nil {
			return err
		}
		if want := tlog.StoredHashCount(2 * each); hashes != want {
			return fmt.Errorf("stored hashes = %d, want %d", hashes, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLargeAppend appends 100,000 records in one transaction (the COPY
// path) and checks the stored tree against tlog.
func TestLargeAppend(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	ctx := context.Background()
	db := open(t, pgtest.DSN(t))
	defer db.Close()
	const n = 100_000
	at := time.Date(2026, 1, 12, 0, 0, 0, 0, time.UTC)
	recs := make([]store.Record, n)
	for i := range recs {
		recs[i] = benchRecord(int64(i), at.Add(time.Duration(i)*time.Second))
	}
	// Something already in the log, so the batch extends a tree.
	err := db.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Append(ctx, recs[:3])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = db.Update(ctx, func(tx store.Tx) error {
		first, err := tx.Append(ctx, recs[3:])
		if err == nil && first != 3 {
			err = fmt.Errorf("first = %d, want 3", first)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("appended %d records in one transaction in %v", n-3, time.Since(start).Round(time.Millisecond))
	err = db.View(ctx, func(r store.Reader) error {
		var leaves []tlog.Hash
		if err := r.Scan(ctx, 0, n, func(rec store.Record) error {
			if rec.Index != int64(len(leaves)) {
				return fmt.Errorf("Scan: index %d at position %d", rec.Index, len(leaves))
			}
			leaves = append(leaves, tlog.RecordHash(rec.Leaf))
			return nil
		}); err != nil {
			return err
		}
		if len(leaves) != n {
			return fmt.Errorf("scanned %d records, want %d", len(leaves), n)
		}
		var want []tlog.Hash
		mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for i, x := range idx {
				out[i] = want[x]
			}
			return out, nil
		})
		for i := range leaves {
			hs, err := tlog.StoredHashesForRecordHash(int64(i), leaves[i], mem)
			if err != nil {
				return err
			}
			want = append(want, hs...)
		}
		var i int64
		if err := r.ScanHashes(ctx, func(id int64, h tlog.Hash) error {
			if id != i || h != want[i] {
				return fmt.Errorf("stored hash %d (at position %d) differs from tlog's", id, i)
			}
			i++
			return nil
		}); err != nil {
			return err
		}
		if i != int64(len(want)) {
			return fmt.Errorf("%d stored hashes, want %d", i, len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestQueuedWriteFails checks that a write the server refuses only when
// the queued writes are sent (at commit) fails the whole transaction:
// nothing of it is visible afterwards, and the next writer gets the same
// log index.
func TestQueuedWriteFails(t *testing.T) {
	ctx := context.Background()
	db := open(t, pgtest.DSN(t))
	defer db.Close()
	rec := store.Record{Kind: store.KindResult, At: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Data: []byte("{}"), Leaf: []byte("l")}
	err := db.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Append(ctx, []store.Record{rec}); err != nil {
			return err
		}
		// PostgreSQL text cannot hold NUL: refused by the server.
		return tx.SetMeta(ctx, "bad\x00key", "v")
	})
	if err == nil {
		t.Fatal("Update with a refused write succeeded")
	}
	err = db.View(ctx, func(r store.Reader) error {
		n, err := r.Size(ctx)
		if err != nil {
			return err
		}
		if n != 0 {
			return fmt.Errorf("log size %d after a failed transaction, want 0", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(ctx, func(tx store.Tx) error {
		first, err := tx.Append(ctx, []store.Record{rec})
		if err == nil && first != 0 {
			err = fmt.Errorf("first index %d after a failed transaction, want 0", first)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
