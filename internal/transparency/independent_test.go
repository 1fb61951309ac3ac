package transparency_test

// This file checks the package's output using only golang.org/x/mod/sumdb/tlog,
// golang.org/x/mod/sumdb/note and the standard library: none of the
// package's own verification or parsing code is used to decide success.

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/transparency"
)

// memStore is an in-memory log store: entries by index and stored hashes
// by stored hash index. Its HashReader sees only committed hashes.
type memStore struct {
	entries [][]byte
	hashes  []tlog.Hash
}

func (m *memStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m.hashes)) {
			return nil, fmt.Errorf("stored hash %d not committed", x)
		}
		out[i] = m.hashes[x]
	}
	return out, nil
}

func entryFor(i int) []byte {
	return []byte(fmt.Sprintf(`{"kind":"evidence","n":%d,"digest":"sha256:%064x"}`, i, i*7919))
}

// buildIndependentLog appends n entries through transparency.AppendHashes
// in random batch sizes, checking every batch against tlog.StoredHashes.
func buildIndependentLog(t *testing.T, n int) *memStore {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	m := &memStore{}
	for len(m.entries) < n {
		k := min(1+rng.IntN(40), n-len(m.entries))
		if rng.IntN(10) == 0 {
			k = 1
		}
		old := int64(len(m.entries))
		batch := make([][]byte, k)
		for i := range batch {
			batch[i] = entryFor(len(m.entries) + i)
		}
		got, err := transparency.AppendHashes(old, batch, m)
		if err != nil {
			t.Fatalf("AppendHashes(%d, %d entries): %v", old, k, err)
		}
		// Independent computation: tlog.StoredHashes entry by entry, with
		// a reader that also sees the hashes of this batch.
		want := append([]tlog.Hash{}, m.hashes...)
		for i, e := range batch {
			hs, err := tlog.StoredHashes(old+int64(i), e, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
				out := make([]tlog.Hash, len(idx))
				for j, x := range idx {
					out[j] = want[x]
				}
				return out, nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, hs...)
		}
		want = want[len(m.hashes):]
		if len(got) != len(want) {
			t.Fatalf("batch at %d: got %d stored hashes, want %d", old, len(got), len(want))
		}
		for i := range got {
			if got[i].Index != int64(len(m.hashes)+i) || got[i].Hash != want[i] {
				t.Fatalf("batch at %d: stored hash %d = (%d, %v), want (%d, %v)", old, i, got[i].Index, got[i].Hash, len(m.hashes)+i, want[i])
			}
		}
		// Commit the batch.
		for _, sh := range got {
			m.hashes = append(m.hashes, sh.Hash)
		}
		m.entries = append(m.entries, batch...)
		if int64(len(m.hashes)) != tlog.StoredHashCount(int64(len(m.entries))) {
			t.Fatalf("after %d entries: %d stored hashes, want %d", len(m.entries), len(m.hashes), tlog.StoredHashCount(int64(len(m.entries))))
		}
	}
	return m
}

// parseBody parses a checkpoint body by hand.
func parseBody(t *testing.T, text string) (origin string, size int64, root tlog.Hash) {
	t.Helper()
	lines := strings.Split(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		t.Fatalf("checkpoint body %q is not three lines", text)
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		t.Fatalf("checkpoint size: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(raw) != 32 {
		t.Fatalf("checkpoint root %q: %v", lines[2], err)
	}
	copy(root[:], raw)
	return lines[0], size, root
}

func TestIndependentVerifier(t *testing.T) {
	const n = 1000
	m := buildIndependentLog(t, n)

	// Roots from tlog alone, for every size.
	roots := make([]tlog.Hash, n+1)
	for s := int64(1); s <= n; s++ {
		r, err := tlog.TreeHash(s, m)
		if err != nil {
			t.Fatal(err)
		}
		roots[s] = r
	}

	t.Run("inclusion", func(t *testing.T) {
		for _, size := range []int64{1, 2, 3, 7, 8, 9, 255, 256, 257, 1000} {
			for i := int64(0); i < size; i++ {
				p, err := transparency.InclusionProof(i, size, m)
				if err != nil {
					t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
				}
				if err := tlog.CheckRecord(p, size, roots[size], i, tlog.RecordHash(m.entries[i])); err != nil {
					t.Fatalf("CheckRecord(entry %d, size %d): %v", i, size, err)
				}
			}
		}
	})

	t.Run("consistency", func(t *testing.T) {
		sizes := []int64{1, 2, 3, 7, 8, 9, 255, 256, 257, 1000}
		for _, a := range sizes {
			for _, b := range sizes {
				if a > b {
					continue
				}
				p, err := transparency.ConsistencyProof(a, b, m)
				if err != nil {
					t.Fatalf("ConsistencyProof(%d, %d): %v", a, b, err)
				}
				if err := tlog.CheckTree(p, b, roots[b], a, roots[a]); err != nil {
					t.Fatalf("CheckTree(%d -> %d): %v", a, b, err)
				}
				if a < b {
					// The proof must not also prove a different old root.
					bad := roots[a]
					bad[0] ^= 1
					if tlog.CheckTree(p, b, roots[b], a, bad) == nil {
						t.Fatalf("CheckTree(%d -> %d) accepted a wrong old root", a, b)
					}
				}
			}
		}
	})

	t.Run("wire format", func(t *testing.T) {
		// Decode the JSON proof with encoding/json and base64 only.
		p, err := transparency.InclusionProof(300, n, m)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(transparency.NewInclusionJSON(300, n, p))
		if err != nil {
			t.Fatal(err)
		}
		var w struct {
			Index  int64    `json:"index"`
			Size   int64    `json:"size"`
			Hashes []string `json:"hashes"`
		}
		if err := json.Unmarshal(data, &w); err != nil {
			t.Fatal(err)
		}
		var proof tlog.RecordProof
		for _, s := range w.Hashes {
			h, err := tlog.ParseHash(s)
			if err != nil {
				t.Fatal(err)
			}
			proof = append(proof, h)
		}
		if err := tlog.CheckRecord(proof, w.Size, roots[n], w.Index, tlog.RecordHash(m.entries[300])); err != nil {
			t.Fatalf("wire-format proof does not verify: %v\n%s", err, data)
		}
	})

	t.Run("signed checkpoint", func(t *testing.T) {
		origin := transparency.DefaultOrigin("independent")
		key, err := transparency.LoadOrCreateKey(t.TempDir(), origin)
		if err != nil {
			t.Fatal(err)
		}
		root := roots[n]
		signed, err := transparency.SignCheckpoint(transparency.Checkpoint{Origin: origin, Size: n, Root: root}, key.Signer())
		if err != nil {
			t.Fatal(err)
		}
		v, err := note.NewVerifier(key.VerifierKey())
		if err != nil {
			t.Fatal(err)
		}
		nt, err := note.Open(signed, note.VerifierList(v))
		if err != nil {
			t.Fatalf("note.Open: %v", err)
		}
		if len(nt.Sigs) != 1 || nt.Sigs[0].Name != origin {
			t.Fatalf("signatures = %+v, want one by %s", nt.Sigs, origin)
		}
		gotOrigin, gotSize, gotRoot := parseBody(t, nt.Text)
		if gotOrigin != origin || gotSize != n || gotRoot != root {
			t.Fatalf("checkpoint = %s/%d/%v, want %s/%d/%v", gotOrigin, gotSize, gotRoot, origin, n, root)
		}

		// A checkpoint for the same origin signed by another key must not
		// open with the log's verifier.
		otherS, _ := fixedKey(t, origin, 99)
		forged, err := transparency.SignCheckpoint(transparency.Checkpoint{Origin: origin, Size: n, Root: root}, otherS)
		if err != nil {
			t.Fatal(err)
		}
		var unverified *note.UnverifiedNoteError
		if _, err := note.Open(forged, note.VerifierList(v)); !errors.As(err, &unverified) {
			t.Fatalf("note.Open(forged) = %v, want UnverifiedNoteError", err)
		}
		// Changing a byte of the body breaks the signature.
		tampered := bytes.Replace(signed, []byte(strconv.Itoa(n)), []byte(strconv.Itoa(n+1)), 1)
		var invalid *note.InvalidSignatureError
		if _, err := note.Open(tampered, note.VerifierList(v)); !errors.As(err, &invalid) {
			t.Fatalf("note.Open(tampered) = %v, want InvalidSignatureError", err)
		}
	})

	t.Run("tamper", func(t *testing.T) {
		idx := int64(421)
		p, err := transparency.InclusionProof(idx, n, m)
		if err != nil {
			t.Fatal(err)
		}
		// A flipped byte in an entry is detected.
		e := bytes.Clone(m.entries[idx])
		e[5] ^= 0x20
		if tlog.CheckRecord(p, n, roots[n], idx, tlog.RecordHash(e)) == nil {
			t.Fatal("CheckRecord accepted a tampered entry")
		}
		// A flipped byte in any stored hash the proof is built from is
		// detected against the previously signed root.
		var read []int64
		rec := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			read = append(read, idx...)
			return m.ReadHashes(idx)
		})
		if _, err := transparency.InclusionProof(idx, n, rec); err != nil {
			t.Fatal(err)
		}
		if len(read) == 0 {
			t.Fatal("proof read no stored hashes")
		}
		for _, x := range read {
			bad := &memStore{entries: m.entries, hashes: append([]tlog.Hash{}, m.hashes...)}
			bad.hashes[x][7] ^= 1
			p2, err := transparency.InclusionProof(idx, n, bad)
			if err != nil {
				t.Fatal(err)
			}
			if tlog.CheckRecord(p2, n, roots[n], idx, tlog.RecordHash(m.entries[idx])) == nil {
				t.Fatalf("CheckRecord accepted a proof built from corrupted stored hash %d", x)
			}
		}
		// Recomputing stored hashes from the entries exposes a corrupted
		// stored leaf hash.
		bad := append([]tlog.Hash{}, m.hashes...)
		bad[tlog.StoredHashIndex(0, idx)][0] ^= 1
		b := transparency.NewBuilder()
		mismatch := false
		for _, e := range m.entries {
			hs, err := b.Append(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, sh := range hs {
				if bad[sh.Index] != sh.Hash {
					mismatch = true
				}
			}
		}
		if !mismatch || b.Root() != roots[n] {
			t.Fatalf("recomputation: mismatch=%v root ok=%v, want a mismatch and the true root", mismatch, b.Root() == roots[n])
		}
	})
}

// fixedKey returns a deterministic note signer and verifier key.
func fixedKey(t testing.TB, name string, seed byte) (note.Signer, string) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Split(vkey, "+")[1]
	skey := "PRIVATE+KEY+" + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...))
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}
