package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/sqlite"
	"scalegate.dev/scalegate/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

// TestTwoHandles checks that two handles on one file, as two processes
// would have, serialise their writes without losing a record.
func TestTwoHandles(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shared.db")
	var handles []*sqlite.DB
	for i := 0; i < 2; i++ {
		db, err := sqlite.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		handles = append(handles, db)
	}
	const each = 50
	var wg sync.WaitGroup
	errs := make(chan error, 2)
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
