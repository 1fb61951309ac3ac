// Package storetest is the conformance suite every store backend passes:
// records and their log leaves are appended atomically, reads see committed
// state only, stored hashes form the RFC 6962 tree of the leaves, and
// concurrent writers serialise without losing a record.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
)

// Opener opens a fresh, empty store for one subtest.
type Opener func(t *testing.T) store.Store

// Run runs the conformance suite against stores from open.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Empty", testEmpty},
		{"AppendAndRead", testAppendAndRead},
		{"Rollback", testRollback},
		{"Query", testQuery},
		{"TreeHashes", testTreeHashes},
		{"Checkpoints", testCheckpoints},
		{"Meta", testMeta},
		{"Cache", testCache},
		{"ConcurrentWriters", testConcurrentWriters},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func rec(kind, key, model string, i int) store.Record {
	return store.Record{
		Kind: kind, Key: key, Model: model, At: t0.Add(time.Duration(i) * time.Hour),
		Data: []byte(fmt.Sprintf(`{"kind":%q,"n":%d}`, kind, i)),
		Leaf: []byte(fmt.Sprintf(`{"kind":%q,"leaf":%d}`, kind, i)),
	}
}

func appendAll(t *testing.T, s store.Store, recs []store.Record) int64 {
	t.Helper()
	var first int64
	err := s.Update(context.Background(), func(tx store.Tx) error {
		var err error
		first, err = tx.Append(context.Background(), recs)
		return err
	})
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return first
}

func size(t *testing.T, s store.Store) int64 {
	t.Helper()
	var n int64
	if err := s.View(context.Background(), func(r store.Reader) error {
		var err error
		n, err = r.Size(context.Background())
		return err
	}); err != nil {
		t.Fatalf("Size: %v", err)
	}
	return n
}

func testEmpty(t *testing.T, s store.Store) {
	ctx := context.Background()
	if n := size(t, s); n != 0 {
		t.Fatalf("Size() = %d, want 0", n)
	}
	err := s.View(ctx, func(r store.Reader) error {
		if _, err := r.Get(ctx, store.KindModel, "m"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get on empty store: err = %v, want ErrNotFound", err)
		}
		if _, err := r.Entry(ctx, 0); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Entry(0) on empty store: err = %v, want ErrNotFound", err)
		}
		if _, err := r.LatestCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("LatestCheckpoint on empty store: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testAppendAndRead(t *testing.T, s store.Store) {
	ctx := context.Background()
	first := appendAll(t, s, []store.Record{rec(store.KindModel, "m1", "m1", 0), rec(store.KindCheckpoint, "c1", "m1", 1)})
	if first != 0 {
		t.Fatalf("first Append index = %d, want 0", first)
	}
	first = appendAll(t, s, []store.Record{rec(store.KindResult, "", "m1", 2)})
	if first != 2 {
		t.Fatalf("second Append index = %d, want 2", first)
	}
	if n := size(t, s); n != 3 {
		t.Fatalf("Size() = %d, want 3", n)
	}
	err := s.View(ctx, func(r store.Reader) error {
		got, err := r.Get(ctx, store.KindCheckpoint, "c1")
		if err != nil {
			return err
		}
		want := rec(store.KindCheckpoint, "c1", "m1", 1)
		if got.Index != 1 || got.Model != "m1" || !got.At.Equal(want.At) || !bytes.Equal(got.Data, want.Data) || !bytes.Equal(got.Leaf, want.Leaf) {
			return fmt.Errorf("Get(checkpoint, c1) = %+v, want index 1 and %+v", got, want)
		}
		e, err := r.Entry(ctx, 2)
		if err != nil {
			return err
		}
		if e.Kind != store.KindResult {
			return fmt.Errorf("Entry(2).Kind = %q, want result", e.Kind)
		}
		var seen []int64
		if err := r.Scan(ctx, 0, 3, func(x store.Record) error { seen = append(seen, x.Index); return nil }); err != nil {
			return err
		}
		if fmt.Sprint(seen) != "[0 1 2]" {
			return fmt.Errorf("Scan(0,3) indexes = %v, want [0 1 2]", seen)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	appendAll(t, s, []store.Record{rec(store.KindModel, "m1", "m1", 0)})
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Append(ctx, []store.Record{rec(store.KindCheckpoint, "c1", "m1", 1), rec(store.KindResult, "", "m1", 2)}); err != nil {
			return err
		}
		if err := tx.PutCheckpoint(ctx, store.Checkpoint{Size: 3, Signed: []byte("cp")}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update returned %v, want the function's error", err)
	}
	if n := size(t, s); n != 1 {
		t.Fatalf("Size() after rollback = %d, want 1", n)
	}
	err = s.View(ctx, func(r store.Reader) error {
		if _, err := r.Get(ctx, store.KindCheckpoint, "c1"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("rolled-back record visible: err = %v", err)
		}
		if _, err := r.LatestCheckpoint(ctx); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("rolled-back checkpoint visible: err = %v", err)
		}
		var hashes int
		if err := r.ScanHashes(ctx, func(int64, tlog.Hash) error { hashes++; return nil }); err != nil {
			return err
		}
		if want := int(tlog.StoredHashCount(1)); hashes != want {
			return fmt.Errorf("stored hashes after rollback = %d, want %d", hashes, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The next append reuses the rolled-back indexes.
	if first := appendAll(t, s, []store.Record{rec(store.KindCheckpoint, "c2", "m1", 3)}); first != 1 {
		t.Fatalf("Append after rollback index = %d, want 1", first)
	}
}

func testQuery(t *testing.T, s store.Store) {
	ctx := context.Background()
	appendAll(t, s, []store.Record{
		rec(store.KindModel, "a", "a", 0),
		rec(store.KindModel, "b", "b", 1),
		rec(store.KindResult, "", "a", 2),
		rec(store.KindResult, "", "b", 3),
		rec(store.KindSafeguard, "sg", "a", 4),
		rec(store.KindSafeguard, "sg", "a", 5),
		{Kind: store.KindPolicy, Key: "p@1.0.0", Policy: "p", At: t0, Data: []byte(`{}`), Leaf: []byte(`{"p":1}`)},
	})
	cases := []struct {
		q    store.Query
		want string
	}{
		{store.Query{Model: "a"}, "[0 2 4 5]"},
		{store.Query{Kinds: []string{store.KindResult, store.KindSafeguard}, Model: "a"}, "[2 4 5]"},
		{store.Query{Kinds: []string{store.KindModel}}, "[0 1]"},
		{store.Query{Kinds: []string{store.KindSafeguard}, Key: "sg"}, "[4 5]"},
		{store.Query{Kinds: []string{store.KindPolicy}, Policy: "p"}, "[6]"},
		{store.Query{Model: "a", Limit: 2}, "[4 5]"},
		{store.Query{Model: "zzz"}, "[]"},
	}
	err := s.View(ctx, func(r store.Reader) error {
		for _, c := range cases {
			recs, err := r.List(ctx, c.q)
			if err != nil {
				return err
			}
			idx := []int64{}
			for _, x := range recs {
				idx = append(idx, x.Index)
			}
			if got := fmt.Sprint(idx); got != c.want {
				return fmt.Errorf("List(%+v) = %s, want %s", c.q, got, c.want)
			}
		}
		// ListMany answers each query as List does, in order.
		qs := make([]store.Query, len(cases))
		for i, c := range cases {
			qs[i] = c.q
		}
		qs = append(qs, store.Query{Model: "a", From: 4, NoData: true}, store.Query{Model: "a", From: 3, DataOnly: true})
		many, err := r.ListMany(ctx, qs)
		if err != nil {
			return err
		}
		if len(many) != len(qs) {
			return fmt.Errorf("ListMany of %d queries returned %d results", len(qs), len(many))
		}
		for i, q := range qs {
			one, err := r.List(ctx, q)
			if err != nil {
				return err
			}
			if !equalRecords(one, many[i]) {
				return fmt.Errorf("ListMany query %d (%+v) = %v, List = %v", i, q, many[i], one)
			}
		}
		got, err := r.Get(ctx, store.KindSafeguard, "sg")
		if err != nil {
			return err
		}
		if got.Index != 5 {
			return fmt.Errorf("Get(safeguard, sg).Index = %d, want the newest, 5", got.Index)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// equalRecords reports whether two record lists are the same.
func equalRecords(a, b []store.Record) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Index != y.Index || x.Kind != y.Kind || x.Key != y.Key || x.Model != y.Model || x.Policy != y.Policy || !x.At.Equal(y.At) || string(x.Data) != string(y.Data) || string(x.Leaf) != string(y.Leaf) {
			return false
		}
	}
	return true
}

// testTreeHashes checks stored hashes against an independent computation
// with tlog over the leaves, across batch boundaries.
func testTreeHashes(t *testing.T, s store.Store) {
	ctx := context.Background()
	var leaves [][]byte
	n := 0
	for _, batch := range []int{1, 2, 5, 1, 8, 13, 1, 100} {
		var recs []store.Record
		for i := 0; i < batch; i++ {
			r := rec(store.KindResult, "", "m", n)
			leaves = append(leaves, r.Leaf)
			recs = append(recs, r)
			n++
		}
		appendAll(t, s, recs)
	}
	var want []tlog.Hash
	mem := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = want[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		hs, err := tlog.StoredHashes(int64(i), l, mem)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, hs...)
	}
	err := s.View(ctx, func(r store.Reader) error {
		var got []tlog.Hash
		if err := r.ScanHashes(ctx, func(id int64, h tlog.Hash) error {
			if id != int64(len(got)) {
				return fmt.Errorf("ScanHashes id %d at position %d", id, len(got))
			}
			got = append(got, h)
			return nil
		}); err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("stored %d hashes, want %d", len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				return fmt.Errorf("stored hash %d = %x, want %x", i, got[i], want[i])
			}
		}
		root, err := tlog.TreeHash(int64(n), store.HashReader(ctx, r))
		if err != nil {
			return err
		}
		wantRoot, err := tlog.TreeHash(int64(n), mem)
		if err != nil {
			return err
		}
		if root != wantRoot {
			return fmt.Errorf("root = %x, want %x", root, wantRoot)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testCheckpoints(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.Update(ctx, func(tx store.Tx) error {
		for _, c := range []store.Checkpoint{{Size: 1, Signed: []byte("one")}, {Size: 3, Signed: []byte("three")}} {
			if err := tx.PutCheckpoint(ctx, c); err != nil {
				return err
			}
		}
		return tx.AddCosignature(ctx, 3, []byte("— witness abc\n"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(ctx, func(r store.Reader) error {
		c, err := r.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		if c.Size != 3 || string(c.Signed) != "three" || len(c.Cosignatures) != 1 {
			return fmt.Errorf("LatestCheckpoint = %+v, want size 3 with one cosignature", c)
		}
		all, err := r.Checkpoints(ctx)
		if err != nil {
			return err
		}
		if len(all) != 2 || all[0].Size != 1 {
			return fmt.Errorf("Checkpoints = %+v, want sizes 1, 3", all)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testMeta(t *testing.T, s store.Store) {
	ctx := context.Background()
	for _, v := range []string{"a", "b"} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.SetMeta(ctx, "origin", v) }); err != nil {
			t.Fatal(err)
		}
	}
	err := s.View(ctx, func(r store.Reader) error {
		v, err := r.Meta(ctx, "origin")
		if err != nil || v != "b" {
			return fmt.Errorf("Meta(origin) = %q, %v; want b", v, err)
		}
		if _, err := r.Meta(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Meta(nope) err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testConcurrentWriters(t *testing.T, s store.Store) {
	const writers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := s.Update(context.Background(), func(tx store.Tx) error {
					_, err := tx.Append(context.Background(), []store.Record{rec(store.KindResult, fmt.Sprintf("w%d-%d", w, i), "m", i)})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Update: %v", err)
	}
	if n := size(t, s); n != writers*each {
		t.Fatalf("Size() = %d, want %d", n, writers*each)
	}
	err := s.View(context.Background(), func(r store.Reader) error {
		var hashes int64
		if err := r.ScanHashes(context.Background(), func(int64, tlog.Hash) error { hashes++; return nil }); err != nil {
			return err
		}
		if want := tlog.StoredHashCount(writers * each); hashes != want {
			return fmt.Errorf("stored hashes = %d, want %d", hashes, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func testCache(t *testing.T, s store.Store) {
	ctx := context.Background()
	err := s.View(ctx, func(r store.Reader) error {
		if _, err := r.Cached(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Cached(k) on empty store: err = %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{0, 1, 2, 255}, 1<<18)
	for _, v := range [][]byte{[]byte("one"), big} {
		if err := s.Update(ctx, func(tx store.Tx) error { return tx.PutCached(ctx, "k", v) }); err != nil {
			t.Fatal(err)
		}
	}
	boom := errors.New("boom")
	if err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutCached(ctx, "k", []byte("rolled back")); err != nil {
			return err
		}
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	err = s.View(ctx, func(r store.Reader) error {
		got, err := r.Cached(ctx, "k")
		if err != nil {
			return err
		}
		if !bytes.Equal(got, big) {
			return fmt.Errorf("Cached(k) = %d bytes, want the last committed value (%d bytes)", len(got), len(big))
		}
		keys, err := r.CachedKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0] != "k" {
			return fmt.Errorf("CachedKeys = %v, %v; want [k]", keys, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
