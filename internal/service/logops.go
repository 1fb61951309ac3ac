package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
)

// VerifierKey is the log's public key in note format.
func (s *Service) VerifierKey() string { return s.Key.VerifierKey() }

// Checkpoint returns the latest signed checkpoint with any witness
// cosignatures appended.
func (s *Service) Checkpoint(ctx context.Context) ([]byte, error) {
	var out []byte
	err := s.Store.View(ctx, func(r store.Reader) error {
		c, err := r.LatestCheckpoint(ctx)
		if err != nil {
			return err
		}
		out = c.Signed
		if len(c.Cosignatures) > 0 {
			out, err = transparency.AddCosignatures(c.Signed, c.Cosignatures)
		}
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, badInputf("the log is empty: nothing has been recorded yet")
	}
	return out, err
}

// Entry returns leaf i's bytes exactly as hashed.
func (s *Service) Entry(ctx context.Context, i int64) ([]byte, error) {
	var out []byte
	err := s.Store.View(ctx, func(r store.Reader) error {
		rec, err := r.Entry(ctx, i)
		if err != nil {
			return err
		}
		out = rec.Leaf
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, badInputf("no log entry %d", i)
	}
	return out, err
}

// InclusionProof proves leaf index is in the tree of the given size (the
// latest signed size when size is 0).
func (s *Service) InclusionProof(ctx context.Context, index, size int64) (transparency.InclusionJSON, error) {
	var out transparency.InclusionJSON
	err := s.Store.View(ctx, func(r store.Reader) error {
		var err error
		if size, err = s.resolveSize(ctx, r, size); err != nil {
			return err
		}
		if index < 0 || index >= size {
			return badInputf("leaf %d is not in a tree of size %d", index, size)
		}
		p, err := transparency.InclusionProof(index, size, store.HashReader(ctx, r))
		if err != nil {
			return err
		}
		out = transparency.NewInclusionJSON(index, size, p)
		return nil
	})
	return out, err
}

// ConsistencyProof proves the tree of size old is a prefix of the tree of
// size new (the latest signed size when new is 0).
func (s *Service) ConsistencyProof(ctx context.Context, old, new int64) (transparency.ConsistencyJSON, error) {
	var out transparency.ConsistencyJSON
	err := s.Store.View(ctx, func(r store.Reader) error {
		var err error
		if new, err = s.resolveSize(ctx, r, new); err != nil {
			return err
		}
		if old < 1 || old > new {
			return badInputf("no consistency proof from size %d to size %d", old, new)
		}
		p, err := transparency.ConsistencyProof(old, new, store.HashReader(ctx, r))
		if err != nil {
			return err
		}
		out = transparency.NewConsistencyJSON(old, new, p)
		return nil
	})
	return out, err
}

func (s *Service) resolveSize(ctx context.Context, r store.Reader, size int64) (int64, error) {
	n, err := r.Size(ctx)
	if err != nil {
		return 0, err
	}
	if size == 0 {
		return n, nil
	}
	if size < 0 || size > n {
		return 0, badInputf("the log has %d entries; size %d is out of range", n, size)
	}
	return size, nil
}

// VerifyError reports the first inconsistency found by Verify.
type VerifyError struct {
	Index int64 // the first bad leaf index, or -1 when not about a leaf
	Msg   string
}

func (e *VerifyError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("log entry %d: %s", e.Index, e.Msg)
	}
	return e.Msg
}

// VerifyReport summarises a successful verification.
type VerifyReport struct {
	Size        int64
	Root        tlog.Hash
	Checkpoints int
}

// Verify recomputes the whole tree from the stored records: every leaf
// must be the canonical leaf of its record, every stored hash must equal
// the recomputed one, and every stored checkpoint must be signed by the
// log key over the recomputed root of its size. It returns a *VerifyError
// naming the first bad index.
func (s *Service) Verify(ctx context.Context) (*VerifyReport, error) {
	rep := &VerifyReport{}
	err := s.Store.View(ctx, func(r store.Reader) error {
		n, err := r.Size(ctx)
		if err != nil {
			return err
		}
		cps, err := r.Checkpoints(ctx)
		if err != nil {
			return err
		}
		verifier := note.VerifierList(s.Key.Verifier())
		roots := map[int64]tlog.Hash{}
		for _, c := range cps {
			roots[c.Size] = tlog.Hash{}
		}

		// Stream stored hashes alongside the recomputation.
		type sh struct {
			id int64
			h  tlog.Hash
		}
		hashes := make(chan sh, 4096)
		hashErr := make(chan error, 1)
		hctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() { cancel(); wg.Wait() }()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(hashes)
			hashErr <- s.Store.View(hctx, func(r2 store.Reader) error {
				return r2.ScanHashes(hctx, func(id int64, h tlog.Hash) error {
					select {
					case hashes <- sh{id, h}:
						return nil
					case <-hctx.Done():
						return hctx.Err()
					}
				})
			})
		}()

		b := transparency.NewBuilder()
		if _, ok := roots[0]; ok {
			roots[0] = b.Root()
		}
		next := int64(0)
		err = r.Scan(ctx, 0, n, func(rec store.Record) error {
			if rec.Index != next {
				return &VerifyError{Index: next, Msg: "record missing (the next stored record is " + fmt.Sprint(rec.Index) + ")"}
			}
			want, err := leafFor(rec.Kind, rec.Data)
			if err != nil {
				return &VerifyError{Index: rec.Index, Msg: err.Error()}
			}
			if !bytes.Equal(want, rec.Leaf) {
				return &VerifyError{Index: rec.Index, Msg: "stored leaf does not match its record"}
			}
			produced, err := b.Append(rec.Leaf)
			if err != nil {
				return err
			}
			for _, p := range produced {
				got, ok := <-hashes
				if !ok {
					return &VerifyError{Index: rec.Index, Msg: fmt.Sprintf("stored hash %d is missing", p.Index)}
				}
				if got.id != p.Index {
					return &VerifyError{Index: leafUnder(min(got.id, p.Index)), Msg: fmt.Sprintf("stored hash %d is missing or out of place", min(got.id, p.Index))}
				}
				if got.h != p.Hash {
					return &VerifyError{Index: leafUnder(p.Index), Msg: fmt.Sprintf("stored hash %d does not match the recomputed tree", p.Index)}
				}
			}
			next++
			if _, ok := roots[b.Size()]; ok {
				roots[b.Size()] = b.Root()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if next != n {
			return &VerifyError{Index: next, Msg: "record missing"}
		}
		if extra, ok := <-hashes; ok {
			return &VerifyError{Index: leafUnder(extra.id), Msg: fmt.Sprintf("stored hash %d is beyond the tree of %d leaves (a record is missing)", extra.id, n)}
		}
		if err := <-hashErr; err != nil {
			return fmt.Errorf("reading stored hashes: %w", err)
		}
		for _, c := range cps {
			cp, _, err := transparency.OpenCheckpoint(c.Signed, verifier)
			if err != nil {
				return &VerifyError{Index: -1, Msg: fmt.Sprintf("checkpoint of size %d: %v", c.Size, err)}
			}
			if cp.Size != c.Size || cp.Origin != s.Key.Origin() {
				return &VerifyError{Index: -1, Msg: fmt.Sprintf("checkpoint of size %d: it says size %d, origin %q", c.Size, cp.Size, cp.Origin)}
			}
			if c.Size > n {
				return &VerifyError{Index: n, Msg: fmt.Sprintf("checkpoint of size %d covers records that are missing", c.Size)}
			}
			if cp.Root != roots[c.Size] {
				return &VerifyError{Index: -1, Msg: fmt.Sprintf("checkpoint of size %d: root hash does not match the recomputed tree", c.Size)}
			}
		}
		if err := s.checkSnapshots(ctx, r); err != nil {
			return err
		}
		rep.Size, rep.Root, rep.Checkpoints = n, b.Root(), len(cps)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rep, nil
}

// leafUnder maps a tlog storage index to the first leaf under that node.
func leafUnder(storageIndex int64) int64 {
	level, n := tlog.SplitStoredHashIndex(storageIndex)
	return n << uint(level)
}

// TrustedEntry returns record i as stored: the trusted view, with the
// values and salt of confidential fields (see Commitment to check them).
func (s *Service) TrustedEntry(ctx context.Context, i int64) ([]byte, error) {
	var out []byte
	err := s.Store.View(ctx, func(r store.Reader) error {
		rec, err := r.Entry(ctx, i)
		if err != nil {
			return err
		}
		out = rec.Data
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, badInputf("no log entry %d", i)
	}
	return out, err
}

// WitnessesFile lists, one per line, the verifier keys of the witnesses
// whose cosignatures the log accepts (c2sp.org/tlog-cosignature keys,
// algorithm 0x04). Lines starting with # are comments.
const WitnessesFile = "witnesses"

// Witnesses returns the configured witness verifier keys.
func (s *Service) Witnesses() ([]string, error) {
	if s.Dir == "" {
		return nil, nil
	}
	data, err := os.ReadFile(filepath.Join(s.Dir, WitnessesFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if _, err := transparency.CosignatureVerifier(line); err != nil {
			return nil, badInputf("%s: %v", filepath.Join(s.Dir, WitnessesFile), err)
		}
		keys = append(keys, line)
	}
	return keys, nil
}

// AddCosignatures accepts a checkpoint cosigned by configured witnesses
// (the log's signed checkpoint with cosignature lines added): every
// cosignature by a configured witness is verified and stored with the
// checkpoint of that size, which must be one the log signed. It returns
// the number of cosignatures stored.
func (s *Service) AddCosignatures(ctx context.Context, cosigned []byte) (int, error) {
	witnesses, err := s.Witnesses()
	if err != nil {
		return 0, err
	}
	if len(witnesses) == 0 {
		return 0, badInputf("no witnesses are configured: list their keys in %s in the data directory", WitnessesFile)
	}
	c, cosigs, err := transparency.OpenCosigned(cosigned, s.Key.VerifierKey(), witnesses, 1)
	if err != nil {
		return 0, badInputf("cosigned checkpoint: %v", err)
	}
	lines, err := cosignatureLines(cosigned, cosigs)
	if err != nil {
		return 0, err
	}
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		cps, err := tx.Checkpoints(ctx)
		if err != nil {
			return err
		}
		found := false
		for _, cp := range cps {
			if cp.Size == c.Size {
				found = true
				ours, _, err := transparency.OpenCheckpoint(cp.Signed, note.VerifierList(s.Key.Verifier()))
				if err != nil || ours.Root != c.Root {
					return badInputf("the cosigned checkpoint of size %d does not match the log's", c.Size)
				}
			}
		}
		if !found {
			return badInputf("the log signed no checkpoint of size %d", c.Size)
		}
		for _, l := range lines {
			if err := tx.AddCosignature(ctx, c.Size, l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(lines), nil
}

// cosignatureLines picks the signature lines of the verified witnesses.
func cosignatureLines(cosigned []byte, cosigs []transparency.Cosignature) ([][]byte, error) {
	names := map[string]bool{}
	for _, c := range cosigs {
		names[c.Witness] = true
	}
	i := bytes.Index(cosigned, []byte("\n\n"))
	if i < 0 {
		return nil, badInputf("cosigned checkpoint: no signature block")
	}
	var out [][]byte
	for _, line := range bytes.SplitAfter(cosigned[i+2:], []byte("\n")) {
		name, _, ok := strings.Cut(strings.TrimPrefix(string(line), "— "), " ")
		if ok && strings.HasPrefix(string(line), "— ") && names[name] {
			out = append(out, line)
		}
	}
	return out, nil
}
