package service

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"scalegate.dev/scalegate/internal/store"
)

// Evidence snapshots: a model's evidence records (index, kind, stored data)
// as of a log size, kept in the store's cache under "evidence:<model>" so
// that a new process reads one blob and the log's tail instead of every
// record. A snapshot is derived data: the gate reads the snapshot plus the
// records from its size on, which is exactly the model's evidence; `log
// verify` checks every snapshot against the records; deleting one is safe.
//
// Format: "sgev1\n", the log size (8 bytes, big-endian), then per record:
// index (8 bytes), kind length (1 byte), kind, data length (4 bytes), data.

const (
	snapshotMagic = "sgev1\n"
	// snapshotMinRecords is the size of evidence worth a snapshot, and
	// snapshotMinTail the number of records past a snapshot that make it
	// worth rewriting.
	snapshotMinRecords = 1024
	snapshotMinTail    = 256
)

func snapshotKey(model string) string { return "evidence:" + model }

func encodeSnapshot(size int64, recs []store.Record) []byte {
	n := len(snapshotMagic) + 8
	for _, r := range recs {
		n += 8 + 1 + len(r.Kind) + 4 + len(r.Data)
	}
	b := make([]byte, 0, n)
	b = append(b, snapshotMagic...)
	b = binary.BigEndian.AppendUint64(b, uint64(size))
	for _, r := range recs {
		b = binary.BigEndian.AppendUint64(b, uint64(r.Index))
		b = append(b, byte(len(r.Kind)))
		b = append(b, r.Kind...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Data)))
		b = append(b, r.Data...)
	}
	return b
}

var errSnapshot = errors.New("malformed evidence snapshot")

func decodeSnapshot(b []byte) (int64, []store.Record, error) {
	if !bytes.HasPrefix(b, []byte(snapshotMagic)) || len(b) < len(snapshotMagic)+8 {
		return 0, nil, errSnapshot
	}
	b = b[len(snapshotMagic):]
	size := int64(binary.BigEndian.Uint64(b))
	b = b[8:]
	var recs []store.Record
	for len(b) > 0 {
		if len(b) < 9 {
			return 0, nil, errSnapshot
		}
		idx := int64(binary.BigEndian.Uint64(b))
		kl := int(b[8])
		b = b[9:]
		if len(b) < kl+4 {
			return 0, nil, errSnapshot
		}
		kind := string(b[:kl])
		dl := int(binary.BigEndian.Uint32(b[kl:]))
		b = b[kl+4:]
		if len(b) < dl || idx < 0 || idx >= size {
			return 0, nil, errSnapshot
		}
		recs = append(recs, store.Record{Index: idx, Kind: kind, Data: b[:dl:dl]})
		b = b[dl:]
	}
	return size, recs, nil
}

// evidenceRecords returns a model's evidence records in the snapshot r of
// the given log size, from a stored snapshot when there is a usable one,
// and the snapshot to store if the stored one is missing or stale (nil if
// none is worth writing).
func evidenceRecords(ctx context.Context, r store.Reader, model string, size int64) ([]store.Record, []byte, error) {
	var base []store.Record
	from := int64(0)
	stored := false
	if b, err := r.Cached(ctx, snapshotKey(model)); err == nil {
		if ssize, recs, err := decodeSnapshot(b); err == nil && ssize <= size {
			base, from, stored = recs, ssize, true
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	tail, err := r.List(ctx, store.Query{Kinds: evidenceKinds, Model: model, DataOnly: true, From: from})
	if err != nil {
		return nil, nil, err
	}
	all := base
	if len(tail) > 0 {
		all = append(append(make([]store.Record, 0, len(base)+len(tail)), base...), tail...)
	}
	var snap []byte
	if (stored && len(tail) >= snapshotMinTail) || (!stored && len(all) >= snapshotMinRecords) {
		snap = encodeSnapshot(size, all)
	}
	return all, snap, nil
}

// checkSnapshots is part of Verify: every stored snapshot must list exactly
// the model's evidence records before its size, byte for byte.
func checkSnapshots(ctx context.Context, r store.Reader) error {
	keys, err := r.CachedKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		model, ok := strings.CutPrefix(k, "evidence:")
		if !ok {
			continue
		}
		b, err := r.Cached(ctx, k)
		if err != nil {
			return err
		}
		size, recs, err := decodeSnapshot(b)
		if err != nil {
			return &VerifyError{Index: -1, Msg: fmt.Sprintf("evidence snapshot of %s: %v (delete it from the cache table; it is rebuilt)", model, err)}
		}
		want, err := r.List(ctx, store.Query{Kinds: evidenceKinds, Model: model, DataOnly: true})
		if err != nil {
			return err
		}
		i := 0
		for _, w := range want {
			if w.Index >= size {
				break
			}
			if i >= len(recs) || recs[i].Index != w.Index || recs[i].Kind != w.Kind || !bytes.Equal(recs[i].Data, w.Data) {
				return &VerifyError{Index: w.Index, Msg: fmt.Sprintf("the evidence snapshot of %s does not match the records (delete it from the cache table; it is rebuilt)", model)}
			}
			i++
		}
		if i != len(recs) {
			return &VerifyError{Index: -1, Msg: fmt.Sprintf("the evidence snapshot of %s lists records that are not the model's evidence", model)}
		}
	}
	return nil
}
