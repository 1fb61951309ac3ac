package service

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"

	"scalegate.dev/scalegate/internal/store"
)

// Evidence snapshots: a model's decoded evidence as of a log size, kept as a file in the data directory
// (snapshots/<hex model id>.snap; in the store's cache under
// "evidence:<model>" for a service without a directory) so that a new
// process reads one file and the log's tail instead of every record. A
// snapshot is derived data: it names the tree root at its size and is used
// only when the log has that root there; the gate reads the snapshot plus
// the records from its size on, which is exactly the model's evidence; `log
// verify` checks every snapshot against the records; deleting one is safe.
//
// Format: "sgev3\n", the log size (8 bytes, big-endian), the tree root at
// that size (32 bytes), then the evidence in the binary encoding of
// snapcodec.go.

const (
	snapshotMagic = "sgev3\n"
	// snapshotMinRecords is the size of evidence worth a snapshot, and
	// snapshotMinTail the number of records past a snapshot that make it
	// worth rewriting.
	snapshotMinRecords = 1024
	snapshotMinTail    = 256
)

func snapshotKey(model string) string { return "evidence:" + model }

func encodeSnapshot(size int64, root tlog.Hash, ev gate.Evidence) []byte {
	b := make([]byte, 0, 1<<16)
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	b = append(b, root[:]...)
	return append(b, encodeEvidence(ev)...)
}

var errSnapshot = errors.New("malformed evidence snapshot")

func decodeSnapshot(m evidence.Model, b []byte) (int64, tlog.Hash, gate.Evidence, error) {
	var root tlog.Hash
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) || len(b) < len(snapshotMagic)+8+tlog.HashSize {
		return 0, root, gate.Evidence{}, errSnapshot
	}
	b = b[len(snapshotMagic):]
	size := int64(binary.BigEndian.Uint64(b))
	copy(root[:], b[8:])
	ev, err := decodeEvidenceBinary(m, b[8+tlog.HashSize:])
	if err != nil || size < 0 {
		return 0, root, gate.Evidence{}, errSnapshot
	}
	return size, root, ev, nil
}

// snapshotPath is where a model's snapshot file lives, or "" when the
// service has no data directory.
func (s *Service) snapshotPath(model string) string {
	if s.Dir == "" {
		return ""
	}
	return filepath.Join(s.Dir, "snapshots", hex.EncodeToString([]byte(model))+".snap")
}

// readSnapshot returns a model's stored snapshot bytes, or nil.
func (s *Service) readSnapshot(ctx context.Context, r store.Reader, model string) ([]byte, error) {
	if p := s.snapshotPath(model); p != "" {
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return b, err
	}
	b, err := r.Cached(ctx, snapshotKey(model))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return b, err
}

// writeSnapshot stores a snapshot: a file replaced atomically, or, without
// a data directory, the store's cache inside tx.
func (s *Service) writeSnapshot(ctx context.Context, tx store.Tx, model string, b []byte) error {
	p := s.snapshotPath(model)
	if p == "" {
		return tx.PutCached(ctx, snapshotKey(model), b)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".snap-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), p)
}

// evidenceFromSnapshot returns a model's evidence in the snapshot r of the
// given log size, from a stored snapshot when there is a usable one (its
// size at most size, and the log's root at its size equal to the one it
// names) plus the records after it, and the snapshot to store if the
// stored one is missing or stale (nil if none is worth writing).
func (s *Service) evidenceFromSnapshot(ctx context.Context, r store.Reader, m evidence.Model, size int64) (gate.Evidence, []byte, error) {
	var base gate.Evidence
	from := int64(0)
	stored := false
	b, err := s.readSnapshot(ctx, r, m.ID)
	if err != nil {
		return gate.Evidence{}, nil, err
	}
	if b != nil {
		if ssize, root, ev, err := decodeSnapshot(m, b); err == nil && ssize <= size && ssize > 0 {
			if want, err := tlog.TreeHash(ssize, store.HashReader(ctx, r)); err == nil && want == root {
				base, from, stored = ev, ssize, true
			}
		}
	}
	tail, err := r.List(ctx, store.Query{Kinds: evidenceKinds, Model: m.ID, DataOnly: true, From: from})
	if err != nil {
		return gate.Evidence{}, nil, err
	}
	more, err := decodeEvidence(m, tail)
	if err != nil {
		return gate.Evidence{}, nil, err
	}
	ev := joinEvidence(m, base, more)
	n := len(ev.Checkpoints) + len(ev.Results) + len(ev.Safeguards) + len(ev.Determinations) + len(ev.SafetyCases) + len(ev.Escapes)
	var snap []byte
	if (stored && len(tail) >= snapshotMinTail) || (!stored && n >= snapshotMinRecords) {
		root, err := tlog.TreeHash(size, store.HashReader(ctx, r))
		if err != nil {
			return gate.Evidence{}, nil, err
		}
		snap = encodeSnapshot(size, root, ev)
	}
	return ev, snap, nil
}

// checkSnapshots is part of Verify: every stored snapshot must name the
// log's root at its size and list exactly the model's evidence records
// before that size, byte for byte.
func (s *Service) checkSnapshots(ctx context.Context, r store.Reader) error {
	type snap struct {
		model string
		data  []byte
	}
	var snaps []snap
	keys, err := r.CachedKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if model, ok := strings.CutPrefix(k, "evidence:"); ok {
			b, err := r.Cached(ctx, k)
			if err != nil {
				return err
			}
			snaps = append(snaps, snap{model, b})
		}
	}
	if s.Dir != "" {
		files, _ := filepath.Glob(filepath.Join(s.Dir, "snapshots", "*.snap"))
		for _, f := range files {
			id, err := hex.DecodeString(strings.TrimSuffix(filepath.Base(f), ".snap"))
			if err != nil {
				return &VerifyError{Index: -1, Msg: fmt.Sprintf("%s: not a snapshot name (delete it)", f)}
			}
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			snaps = append(snaps, snap{string(id), b})
		}
	}
	for _, sn := range snaps {
		model := sn.model
		m := evidence.Model{ID: model}
		size, root, got, err := decodeSnapshot(m, sn.data)
		if err != nil {
			return &VerifyError{Index: -1, Msg: fmt.Sprintf("evidence snapshot of %s: %v (delete it; it is rebuilt)", model, err)}
		}
		if want, err := tlog.TreeHash(size, store.HashReader(ctx, r)); err != nil || want != root {
			return &VerifyError{Index: -1, Msg: fmt.Sprintf("the evidence snapshot of %s names a tree of size %d that is not this log's (delete it; it is rebuilt)", model, size)}
		}
		recs, err := r.List(ctx, store.Query{Kinds: evidenceKinds, Model: model, DataOnly: true})
		if err != nil {
			return err
		}
		for len(recs) > 0 && recs[len(recs)-1].Index >= size {
			recs = recs[:len(recs)-1]
		}
		want, err := decodeEvidence(m, recs)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(normalized(got), normalized(want)) {
			return &VerifyError{Index: -1, Msg: fmt.Sprintf("the evidence snapshot of %s does not match the records before index %d (delete it; it is rebuilt)", model, size)}
		}
	}
	return nil
}

// normalized makes empty and nil slices compare equal.
func normalized(ev gate.Evidence) gate.Evidence {
	ev.Checkpoints = slices.Clip(append([]evidence.Checkpoint{}, ev.Checkpoints...))
	ev.Results = slices.Clip(append([]evidence.Result{}, ev.Results...))
	ev.Safeguards = slices.Clip(append([]evidence.SafeguardStatus{}, ev.Safeguards...))
	ev.Determinations = slices.Clip(append([]evidence.Determination{}, ev.Determinations...))
	ev.SafetyCases = slices.Clip(append([]evidence.SafetyCase{}, ev.SafetyCases...))
	ev.Escapes = slices.Clip(append([]evidence.Escape{}, ev.Escapes...))
	return ev
}
