package transparency

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"math/bits"

	"golang.org/x/mod/sumdb/tlog"
)

// MaxEntrySize is the largest entry the log accepts, in bytes. It is the
// tlog-tiles limit (entry bundles use a 16-bit length prefix).
const MaxEntrySize = 1<<16 - 1

// HashReader reads stored hashes by stored hash index.
type HashReader = tlog.HashReader

// StoredHash is one hash to persist at a stored hash index
// (see tlog.StoredHashIndex).
type StoredHash struct {
	Index int64
	Hash  tlog.Hash
}

// EmptyRoot is the root hash of the empty tree, SHA-256 of the empty string.
var EmptyRoot tlog.Hash = sha256.Sum256(nil)

// HashSlice is an in-memory HashReader: element i is the hash at stored hash
// index i.
type HashSlice []tlog.Hash

// ReadHashes implements tlog.HashReader.
func (s HashSlice) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if idx < 0 || idx >= int64(len(s)) {
			return nil, fmt.Errorf("stored hash %d not present (have %d)", idx, len(s))
		}
		out[i] = s[idx]
	}
	return out, nil
}

// Builder computes the stored hashes and root of a tree from a stream of
// entries while keeping only the tree's right edge (at most 63 hashes) in
// memory. The zero Builder is an empty tree.
type Builder struct {
	size int64
	// edge holds the roots of the complete subtrees that make up the tree,
	// left to right (so by decreasing height); there is one per set bit of
	// size.
	edge []tlog.Hash
}

// NewBuilder returns a Builder for an empty tree.
func NewBuilder() *Builder {
	return &Builder{edge: make([]tlog.Hash, 0, 64)}
}

// rightEdgeIndexes returns the stored hash indexes of the roots of the
// complete subtrees making up a tree of the given size, left to right. They
// are in increasing order.
func rightEdgeIndexes(size int64) []int64 {
	idx := make([]int64, 0, bits.OnesCount64(uint64(size)))
	for level := 62; level >= 0; level-- {
		if size>>level&1 == 1 {
			idx = append(idx, tlog.StoredHashIndex(level, size>>level-1))
		}
	}
	return idx
}

// NewBuilderFrom returns a Builder positioned at the end of an existing tree
// of the given size, reading that tree's right edge (one stored hash per set
// bit of size) from r in a single ReadHashes call. The hashes are trusted.
func NewBuilderFrom(size int64, r tlog.HashReader) (*Builder, error) {
	if size < 0 {
		return nil, fmt.Errorf("tree size %d is negative", size)
	}
	b := NewBuilder()
	if size == 0 {
		return b, nil
	}
	idx := rightEdgeIndexes(size)
	hashes, err := r.ReadHashes(idx)
	if err != nil {
		return nil, fmt.Errorf("reading right edge of tree size %d: %w", size, err)
	}
	if len(hashes) != len(idx) {
		return nil, fmt.Errorf("reading right edge of tree size %d: got %d hashes, want %d", size, len(hashes), len(idx))
	}
	b.edge = append(b.edge, hashes...)
	b.size = size
	return b, nil
}

// Size returns the number of entries appended so far (including those of
// the tree the Builder was started from).
func (b *Builder) Size() int64 { return b.size }

// Root returns the root hash of the current tree (EmptyRoot when empty).
func (b *Builder) Root() tlog.Hash {
	if len(b.edge) == 0 {
		return EmptyRoot
	}
	h := b.edge[len(b.edge)-1]
	for i := len(b.edge) - 2; i >= 0; i-- {
		h = tlog.NodeHash(b.edge[i], h)
	}
	return h
}

// Append adds one entry and returns the stored hashes it produces, in
// increasing stored hash index order; the hashes equal
// tlog.StoredHashes(size, entry, ...) stored from tlog.StoredHashIndex(0, size).
func (b *Builder) Append(entry []byte) ([]StoredHash, error) {
	if len(entry) > MaxEntrySize {
		return nil, fmt.Errorf("entry %d is %d bytes, larger than the %d byte limit", b.size, len(entry), MaxEntrySize)
	}
	return b.AppendRecordHash(tlog.RecordHash(entry))
}

// AppendRecordHash is like Append but takes the entry's leaf hash
// tlog.RecordHash(entry) instead of the entry.
func (b *Builder) AppendRecordHash(leaf tlog.Hash) ([]StoredHash, error) {
	n := b.size
	if n == 1<<62 {
		return nil, errors.New("tree is full")
	}
	first := tlog.StoredHashIndex(0, n)
	var buf [64]tlog.Hash
	hs := b.push(leaf, buf[:0])
	out := make([]StoredHash, len(hs))
	for i, h := range hs {
		out[i] = StoredHash{Index: first + int64(i), Hash: h}
	}
	return out, nil
}

// push appends a leaf hash to the tree and appends the stored hashes this
// produces to dst, in stored hash index order: the leaf hash, then the
// hash of each subtree the leaf completes, lowest first.
func (b *Builder) push(h tlog.Hash, dst []tlog.Hash) []tlog.Hash {
	dst = append(dst, h)
	// Each set low bit of the old size is a complete left sibling subtree
	// that the new leaf completes.
	for n := b.size; n&1 == 1; n >>= 1 {
		left := b.edge[len(b.edge)-1]
		b.edge = b.edge[:len(b.edge)-1]
		h = tlog.NodeHash(left, h)
		dst = append(dst, h)
	}
	b.edge = append(b.edge, h)
	b.size++
	return dst
}

// Overlay appends entries to a tree whose stored hashes live in an
// underlying HashReader (typically committed database rows) and keeps the
// new stored hashes in memory until they are persisted. It is itself a
// HashReader over the extended tree, serving new hashes from memory and
// older ones from the underlying reader, so proofs and tree hashes for the
// new size can be computed before the batch is committed.
//
// An Overlay is not safe for concurrent use.
type Overlay struct {
	base    tlog.HashReader
	oldSize int64
	start   int64 // stored hash index of pending[0]
	b       *Builder
	pending []tlog.Hash
}

// NewOverlay starts a batch of appends to the tree of size oldSize whose
// stored hashes r reads. It reads only the right edge of that tree.
func NewOverlay(oldSize int64, r tlog.HashReader) (*Overlay, error) {
	b, err := NewBuilderFrom(oldSize, r)
	if err != nil {
		return nil, err
	}
	return &Overlay{base: r, oldSize: oldSize, start: tlog.StoredHashIndex(0, oldSize), b: b}, nil
}

// Append adds an entry and returns its index in the log.
func (o *Overlay) Append(entry []byte) (int64, error) {
	if len(entry) > MaxEntrySize {
		return 0, fmt.Errorf("entry %d is %d bytes, larger than the %d byte limit", o.b.size, len(entry), MaxEntrySize)
	}
	return o.AppendRecordHash(tlog.RecordHash(entry))
}

// AppendRecordHash is like Append but takes tlog.RecordHash(entry).
func (o *Overlay) AppendRecordHash(leaf tlog.Hash) (int64, error) {
	n := o.b.size
	if n == 1<<62 {
		return 0, errors.New("tree is full")
	}
	o.pending = o.b.push(leaf, o.pending)
	return n, nil
}

// OldSize returns the size of the tree the batch started from.
func (o *Overlay) OldSize() int64 { return o.oldSize }

// Size returns the tree size including the entries appended so far.
func (o *Overlay) Size() int64 { return o.b.size }

// Root returns the root hash of the tree including the appended entries.
func (o *Overlay) Root() tlog.Hash { return o.b.Root() }

// StoredHashes returns the new stored hashes to persist, in increasing
// stored hash index order. Their indexes are consecutive, from
// tlog.StoredHashIndex(0, OldSize()) to tlog.StoredHashCount(Size())-1.
func (o *Overlay) StoredHashes() []StoredHash {
	out := make([]StoredHash, len(o.pending))
	for i, h := range o.pending {
		out[i] = StoredHash{Index: o.start + int64(i), Hash: h}
	}
	return out
}

// ReadHashes implements tlog.HashReader for the extended tree.
func (o *Overlay) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	end := o.start + int64(len(o.pending))
	var baseIdx []int64
	var basePos []int
	for i, idx := range indexes {
		switch {
		case idx < 0 || idx >= end:
			return nil, fmt.Errorf("stored hash %d is beyond the tree of size %d", idx, o.b.size)
		case idx >= o.start:
			out[i] = o.pending[idx-o.start]
		default:
			baseIdx = append(baseIdx, idx)
			basePos = append(basePos, i)
		}
	}
	if len(baseIdx) > 0 {
		hs, err := o.base.ReadHashes(baseIdx)
		if err != nil {
			return nil, err
		}
		if len(hs) != len(baseIdx) {
			return nil, fmt.Errorf("underlying reader returned %d hashes for %d indexes", len(hs), len(baseIdx))
		}
		for j, h := range hs {
			out[basePos[j]] = h
		}
	}
	return out, nil
}

// AppendHashes returns the stored hashes to persist when appending entries
// at positions oldSize, oldSize+1, ... to the tree of size oldSize whose
// stored hashes r reads. The result is in increasing, consecutive stored hash
// index order. Hashes produced earlier in the batch are taken from memory;
// r is asked once, for the right edge of the old tree only.
func AppendHashes(oldSize int64, entries [][]byte, r tlog.HashReader) ([]StoredHash, error) {
	o, err := NewOverlay(oldSize, r)
	if err != nil {
		return nil, err
	}
	o.pending = make([]tlog.Hash, 0, 2*len(entries)+64)
	for _, e := range entries {
		if _, err := o.Append(e); err != nil {
			return nil, err
		}
	}
	return o.StoredHashes(), nil
}

// InclusionProof returns the proof that entry index is in the tree of the
// given size.
func InclusionProof(index, size int64, r tlog.HashReader) (tlog.RecordProof, error) {
	if index < 0 || size <= 0 || index >= size {
		return nil, fmt.Errorf("no inclusion proof for entry %d in a tree of size %d", index, size)
	}
	p, err := tlog.ProveRecord(size, index, r)
	if err != nil {
		return nil, fmt.Errorf("inclusion proof for entry %d in tree size %d: %w", index, size, err)
	}
	return p, nil
}

// ConsistencyProof returns the proof that the tree of size new extends the
// tree of size old. The proof is empty when old is 0 or old == new.
func ConsistencyProof(old, new int64, r tlog.HashReader) (tlog.TreeProof, error) {
	if old < 0 || new < old {
		return nil, fmt.Errorf("no consistency proof from tree size %d to %d", old, new)
	}
	if old == 0 {
		return tlog.TreeProof{}, nil
	}
	p, err := tlog.ProveTree(new, old, r)
	if err != nil {
		return nil, fmt.Errorf("consistency proof from tree size %d to %d: %w", old, new, err)
	}
	return p, nil
}

// inclusionProofLen returns the number of hashes in the RFC 6962 inclusion
// proof for entry index in a tree of the given size (0 <= index < size).
func inclusionProofLen(index, size int64) int {
	inner := bits.Len64(uint64(index) ^ uint64(size-1))
	border := bits.OnesCount64(uint64(index) >> inner)
	return inner + border
}

// consistencyProofLen returns the number of hashes in the RFC 6962
// consistency proof from tree size old to tree size new (0 <= old <= new).
func consistencyProofLen(old, new int64) int {
	if old == 0 || old == new {
		return 0
	}
	shift := bits.TrailingZeros64(uint64(old))
	inner := bits.Len64(uint64(old-1) ^ uint64(new-1))
	border := bits.OnesCount64(uint64(old-1) >> inner)
	n := inner - shift + border
	if old != 1<<shift {
		n++
	}
	return n
}
