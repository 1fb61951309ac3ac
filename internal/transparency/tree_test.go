package transparency

import (
	"bytes"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func testEntry(i int64) []byte { return []byte(fmt.Sprintf("entry %d", i)) }

// referenceHashes returns the stored hashes of a tree of n entries computed
// with tlog.StoredHashes only.
func referenceHashes(t testing.TB, n int64) HashSlice {
	t.Helper()
	var hs HashSlice
	for i := int64(0); i < n; i++ {
		add, err := tlog.StoredHashes(i, testEntry(i), hs)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, add...)
	}
	return hs
}

func TestBuilderMatchesTlog(t *testing.T) {
	const n = 1100
	ref := referenceHashes(t, n)
	b := NewBuilder()
	if b.Root() != EmptyRoot || b.Size() != 0 {
		t.Fatalf("empty builder: size %d root %v", b.Size(), b.Root())
	}
	var next int64
	for i := int64(0); i < n; i++ {
		hs, err := b.Append(testEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		if hs[0].Index != tlog.StoredHashIndex(0, i) {
			t.Fatalf("entry %d: first index %d, want %d", i, hs[0].Index, tlog.StoredHashIndex(0, i))
		}
		for l, sh := range hs {
			if sh.Index != next {
				t.Fatalf("entry %d: stored hash %d has index %d, want %d", i, l, sh.Index, next)
			}
			if want := tlog.StoredHashIndex(l, i>>l); sh.Index != want {
				t.Fatalf("entry %d level %d: index %d, want %d", i, l, sh.Index, want)
			}
			if sh.Hash != ref[sh.Index] {
				t.Fatalf("entry %d: hash at %d differs from tlog.StoredHashes", i, sh.Index)
			}
			next++
		}
		want, err := tlog.TreeHash(i+1, ref)
		if err != nil {
			t.Fatal(err)
		}
		if b.Size() != i+1 || b.Root() != want {
			t.Fatalf("after %d entries: size %d, root %v, want %v", i+1, b.Size(), b.Root(), want)
		}
	}
	if next != int64(len(ref)) {
		t.Fatalf("produced %d stored hashes, want %d", next, len(ref))
	}
}

// countingReader counts ReadHashes calls and hashes read.
type countingReader struct {
	r            tlog.HashReader
	calls, reads int
}

func (c *countingReader) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	c.calls++
	c.reads += len(idx)
	return c.r.ReadHashes(idx)
}

func TestNewBuilderFrom(t *testing.T) {
	const n = 600
	ref := referenceHashes(t, n)
	for _, size := range []int64{0, 1, 2, 3, 4, 5, 127, 128, 129, 255, 256, 257, 511, 599} {
		cr := &countingReader{r: ref}
		b, err := NewBuilderFrom(size, cr)
		if err != nil {
			t.Fatalf("NewBuilderFrom(%d): %v", size, err)
		}
		if want := bits.OnesCount64(uint64(size)); cr.reads != want || cr.calls > 1 {
			t.Errorf("NewBuilderFrom(%d): %d calls reading %d hashes, want 1 call reading %d", size, cr.calls, cr.reads, want)
		}
		for i := size; i < n; i++ {
			hs, err := b.Append(testEntry(i))
			if err != nil {
				t.Fatal(err)
			}
			for _, sh := range hs {
				if ref[sh.Index] != sh.Hash {
					t.Fatalf("resumed at %d: entry %d: wrong hash at %d", size, i, sh.Index)
				}
			}
		}
		want, _ := tlog.TreeHash(n, ref)
		if b.Root() != want {
			t.Fatalf("resumed at %d: wrong root", size)
		}
	}
}

func TestNewBuilderFromErrors(t *testing.T) {
	short := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return nil, nil })
	failing := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return nil, errors.New("disk on fire") })
	tests := []struct {
		name string
		size int64
		r    tlog.HashReader
		want string
	}{
		{"negative", -1, HashSlice{}, "negative"},
		{"short read", 5, short, "got 0 hashes, want 2"},
		{"reader error", 5, failing, "disk on fire"},
		{"missing", 5, HashSlice{}, "not present"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewBuilderFrom(tt.size, tt.r)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestAppendHashes(t *testing.T) {
	const n = 700
	ref := referenceHashes(t, n)
	tests := []struct{ old, count int64 }{
		{0, 0}, {0, 1}, {0, 700}, {1, 1}, {1, 2}, {3, 5}, {255, 2}, {256, 300}, {511, 189}, {699, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d+%d", tt.old, tt.count), func(t *testing.T) {
			committed := ref[:tlog.StoredHashCount(tt.old)]
			cr := &countingReader{r: committed}
			var entries [][]byte
			for i := tt.old; i < tt.old+tt.count; i++ {
				entries = append(entries, testEntry(i))
			}
			got, err := AppendHashes(tt.old, entries, cr)
			if err != nil {
				t.Fatal(err)
			}
			if cr.calls > 1 || cr.reads != bits.OnesCount64(uint64(tt.old)) {
				t.Errorf("read %d hashes in %d calls, want %d in at most 1", cr.reads, cr.calls, bits.OnesCount64(uint64(tt.old)))
			}
			want := ref[tlog.StoredHashCount(tt.old):tlog.StoredHashCount(tt.old+tt.count)]
			if len(got) != len(want) {
				t.Fatalf("got %d stored hashes, want %d", len(got), len(want))
			}
			for i := range got {
				if got[i].Index != tlog.StoredHashCount(tt.old)+int64(i) || got[i].Hash != want[i] {
					t.Fatalf("stored hash %d = %d/%v, want %d/%v", i, got[i].Index, got[i].Hash, tlog.StoredHashCount(tt.old)+int64(i), want[i])
				}
			}
		})
	}
}

func TestOverlayServesProofs(t *testing.T) {
	const n = 300
	ref := referenceHashes(t, n)
	for _, old := range []int64{0, 1, 100, 128, 299} {
		o, err := NewOverlay(old, ref[:tlog.StoredHashCount(old)])
		if err != nil {
			t.Fatal(err)
		}
		for i := old; i < n; i++ {
			idx, err := o.Append(testEntry(i))
			if err != nil || idx != i {
				t.Fatalf("Append = %d, %v; want %d", idx, err, i)
			}
		}
		if o.OldSize() != old || o.Size() != n {
			t.Fatalf("sizes %d/%d", o.OldSize(), o.Size())
		}
		root, err := tlog.TreeHash(n, o)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := tlog.TreeHash(n, ref)
		if root != want || o.Root() != want {
			t.Fatalf("old %d: root through overlay differs", old)
		}
		for _, i := range []int64{0, old / 2, n - 1} {
			p, err := InclusionProof(i, n, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, n, want, i, tlog.RecordHash(testEntry(i))); err != nil {
				t.Fatalf("old %d: proof for %d through overlay: %v", old, i, err)
			}
		}
		if _, err := o.ReadHashes([]int64{tlog.StoredHashCount(n)}); err == nil {
			t.Fatal("ReadHashes beyond the tree succeeded")
		}
	}
}

func TestEntrySizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, MaxEntrySize+1)
	ok := bytes.Repeat([]byte{'x'}, MaxEntrySize)
	if _, err := AppendHashes(0, [][]byte{ok, big}, HashSlice{}); err == nil || !strings.Contains(err.Error(), "65535") {
		t.Fatalf("AppendHashes(oversized) = %v", err)
	}
	if _, err := NewBuilder().Append(big); err == nil {
		t.Fatal("Builder.Append(oversized) succeeded")
	}
	if _, err := NewBuilder().Append(ok); err != nil {
		t.Fatalf("Builder.Append(max size) = %v", err)
	}
}

func TestProofLengths(t *testing.T) {
	const n = 140
	ref := referenceHashes(t, n)
	for size := int64(1); size <= n; size++ {
		for i := int64(0); i < size; i++ {
			p, err := tlog.ProveRecord(size, i, ref)
			if err != nil {
				t.Fatal(err)
			}
			if got := inclusionProofLen(i, size); got != len(p) {
				t.Fatalf("inclusionProofLen(%d, %d) = %d, want %d", i, size, got, len(p))
			}
		}
		for old := int64(1); old <= size; old++ {
			p, err := tlog.ProveTree(size, old, ref)
			if err != nil {
				t.Fatal(err)
			}
			if got := consistencyProofLen(old, size); got != len(p) {
				t.Fatalf("consistencyProofLen(%d, %d) = %d, want %d", old, size, got, len(p))
			}
		}
	}
	if consistencyProofLen(0, 5) != 0 {
		t.Fatal("consistencyProofLen(0, 5) != 0")
	}
}

func TestProofArguments(t *testing.T) {
	ref := referenceHashes(t, 10)
	tests := []struct {
		name      string
		incl      bool
		a, b      int64
		wantErr   bool
		wantEmpty bool
	}{
		{"inclusion ok", true, 3, 10, false, false},
		{"inclusion index = size", true, 10, 10, true, false},
		{"inclusion negative", true, -1, 10, true, false},
		{"inclusion size 0", true, 0, 0, true, false},
		{"inclusion beyond storage", true, 3, 11, true, false},
		{"consistency ok", false, 3, 10, false, false},
		{"consistency equal", false, 10, 10, false, true},
		{"consistency from empty", false, 0, 10, false, true},
		{"consistency decreasing", false, 5, 4, true, false},
		{"consistency negative", false, -1, 4, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n int
			var err error
			if tt.incl {
				var p tlog.RecordProof
				p, err = InclusionProof(tt.a, tt.b, ref)
				n = len(p)
			} else {
				var p tlog.TreeProof
				p, err = ConsistencyProof(tt.a, tt.b, ref)
				n = len(p)
			}
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if tt.wantEmpty && n != 0 {
				t.Fatalf("proof has %d hashes, want none", n)
			}
		})
	}
}
