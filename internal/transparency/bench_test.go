package transparency

import (
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

const bench1M = 1_000_000

// benchEntry writes a realistic ~110-byte entry for index i into buf.
func benchEntry(buf []byte, i int64) []byte {
	buf = append(buf[:0], `{"kind":"evidence","seq":`...)
	buf = strconv.AppendInt(buf, i, 10)
	buf = append(buf, `,"digest":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`...)
	return buf
}

var (
	tree1MOnce sync.Once
	tree1M     HashSlice
	root1M     tlog.Hash
)

// stored1M returns the stored hashes of a 1,000,000-entry log, built once
// per test binary run.
func stored1M(b *testing.B) (HashSlice, tlog.Hash) {
	b.Helper()
	tree1MOnce.Do(func() {
		bld := NewBuilder()
		hs := make(HashSlice, 0, tlog.StoredHashCount(bench1M))
		var buf []byte
		for i := int64(0); i < bench1M; i++ {
			buf = benchEntry(buf, i)
			hs = bld.push(tlog.RecordHash(buf), hs)
		}
		tree1M, root1M = hs, bld.Root()
	})
	return tree1M, root1M
}

func BenchmarkInclusionProof1M(b *testing.B) {
	hs, root := stored1M(b)
	rng := rand.New(rand.NewPCG(3, 4))
	var buf []byte
	b.ResetTimer()
	for b.Loop() {
		i := rng.Int64N(bench1M)
		if _, err := InclusionProof(i, bench1M, hs); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	// Check one proof so the benchmark cannot silently measure garbage.
	p, err := InclusionProof(12345, bench1M, hs)
	if err != nil {
		b.Fatal(err)
	}
	buf = benchEntry(buf, 12345)
	if err := tlog.CheckRecord(p, bench1M, root, 12345, tlog.RecordHash(buf)); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkConsistencyProof1M(b *testing.B) {
	hs, _ := stored1M(b)
	rng := rand.New(rand.NewPCG(5, 6))
	b.ResetTimer()
	for b.Loop() {
		old := 1 + rng.Int64N(bench1M-1)
		if _, err := ConsistencyProof(old, bench1M, hs); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendHashes appends batches of 1,000 entries to a 1,000,000-entry
// log and reports entries/s.
func BenchmarkAppendHashes(b *testing.B) {
	hs, _ := stored1M(b)
	const batch = 1000
	old := int64(bench1M - batch)
	committed := hs[:tlog.StoredHashCount(old)]
	entries := make([][]byte, batch)
	for i := range entries {
		entries[i] = benchEntry(nil, old+int64(i))
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		out, err := AppendHashes(old, entries, committed)
		if err != nil {
			b.Fatal(err)
		}
		if out[len(out)-1].Hash != hs[out[len(out)-1].Index] {
			b.Fatal("wrong hashes")
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkBuilder1M recomputes all stored hashes and the root of a
// 1,000,000-entry log, as `log verify` does.
func BenchmarkBuilder1M(b *testing.B) {
	_, root := stored1M(b)
	var buf []byte
	b.ResetTimer()
	for b.Loop() {
		bld := NewBuilder()
		for i := int64(0); i < bench1M; i++ {
			buf = benchEntry(buf, i)
			if _, err := bld.Append(buf); err != nil {
				b.Fatal(err)
			}
		}
		if bld.Root() != root {
			b.Fatal("wrong root")
		}
	}
}
