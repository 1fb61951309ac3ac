// Package store owns persistence: the Store interface every backend
// implements, and the record model behind it.
//
// Every record scalegate keeps (policy versions, models, checkpoints,
// evaluation results, safeguard statuses, determinations, safety cases,
// escape-clause invocations, gate decisions) is a [Record] and, in the same
// write transaction, a leaf of the transparency log: a record's Index is its
// position in the log, so there is never a record without its leaf or a
// leaf without its record. Records are never updated or deleted; newer
// records supersede older ones by the rules of the gate.
//
// Backends: store/sqlite (embedded, the default) and store/postgres. The
// conformance suite in store/storetest is what makes a backend a backend.
package store

import (
	"context"
	"errors"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Record kinds.
const (
	KindPolicy        = "policy"
	KindModel         = "model"
	KindCheckpoint    = "checkpoint"
	KindResult        = "result"
	KindSafeguard     = "safeguard"
	KindDetermination = "determination"
	KindSafetyCase    = "safetycase"
	KindEscape        = "escape"
	KindDecision      = "decision"
)

// ErrNotFound is returned (wrapped) when a record does not exist.
var ErrNotFound = errors.New("not found")

// Record is one stored record and log leaf.
type Record struct {
	// Index is the record's position in the log (assigned by Append).
	Index int64
	Kind  string
	// Key is the record's natural key within its kind: a policy's
	// "name@version", a model's or checkpoint's id; empty for kinds that
	// have none.
	Key string
	// Model is the model the record concerns, if any.
	Model string
	// Policy is the policy name, for policy records.
	Policy string
	At     time.Time
	// Data is the record as JSON, confidential fields included (the
	// trusted view).
	Data []byte
	// Leaf is the log leaf exactly as hashed (see package transparency).
	Leaf []byte
}

// Query selects records; zero fields match anything.
type Query struct {
	Kinds  []string
	Key    string
	Model  string
	Policy string
	// Limit, when positive, keeps the newest Limit records.
	Limit int
	// DataOnly asks for Index, Kind and Data only (the other fields may be
	// left empty), which backends can read faster.
	DataOnly bool
	// NoData leaves Data out (nil).
	NoData bool
	// From, when positive, selects records with Index >= From only.
	From int64
}

// Checkpoint is a signed log checkpoint as stored.
type Checkpoint struct {
	Size   int64
	Signed []byte
	// Cosignatures are witness cosignature lines added later.
	Cosignatures [][]byte
}

// Reader reads a consistent snapshot.
type Reader interface {
	// Size is the number of records (and log leaves).
	Size(ctx context.Context) (int64, error)
	// Get returns the newest record of kind with key.
	Get(ctx context.Context, kind, key string) (*Record, error)
	// List returns matching records in log order, without their leaves
	// (Leaf is nil; read leaves with Entry or Scan).
	List(ctx context.Context, q Query) ([]Record, error)
	// ListMany runs several List queries and returns their results in
	// order; a server backend sends them together, in one round trip.
	ListMany(ctx context.Context, qs []Query) ([][]Record, error)
	// Entry returns the record at index i.
	Entry(ctx context.Context, i int64) (*Record, error)
	// Scan calls fn for each record with index in [from, to), in order,
	// without holding them all in memory.
	Scan(ctx context.Context, from, to int64, fn func(Record) error) error
	// ReadHashes returns the stored hashes at the given tlog storage
	// indexes (tlog.HashReader).
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	// ScanHashes calls fn for every stored hash in storage order.
	ScanHashes(ctx context.Context, fn func(index int64, h tlog.Hash) error) error
	// LatestCheckpoint returns the newest signed checkpoint, or
	// ErrNotFound.
	LatestCheckpoint(ctx context.Context) (*Checkpoint, error)
	// Checkpoints returns every stored checkpoint, oldest first.
	Checkpoints(ctx context.Context) ([]Checkpoint, error)
	// Meta returns a configuration value, or ErrNotFound.
	Meta(ctx context.Context, key string) (string, error)
	// Cached returns derived data stored under key, or ErrNotFound. Cached
	// data is never authoritative: it is rebuilt from records and checked
	// against them.
	Cached(ctx context.Context, key string) ([]byte, error)
	// CachedKeys returns every key with cached data.
	CachedKeys(ctx context.Context) ([]string, error)
}

// Tx is a read-write transaction.
type Tx interface {
	Reader
	// Append appends records as log leaves in order, assigning their
	// indexes and storing their tlog hashes; it returns the first index.
	Append(ctx context.Context, recs []Record) (int64, error)
	// PutCheckpoint stores a signed checkpoint of the tree of the given
	// size.
	PutCheckpoint(ctx context.Context, c Checkpoint) error
	// AddCosignature adds a witness cosignature line to the checkpoint of
	// the given size.
	AddCosignature(ctx context.Context, size int64, line []byte) error
	// SetMeta sets a configuration value.
	SetMeta(ctx context.Context, key, value string) error
	// PutCached stores (or replaces) derived data under key.
	PutCached(ctx context.Context, key string, data []byte) error
}

// Store is a backend.
type Store interface {
	// View runs fn in a read-only snapshot.
	View(ctx context.Context, fn func(Reader) error) error
	// Update runs fn in a serialised read-write transaction, committed if
	// fn returns nil and rolled back otherwise.
	Update(ctx context.Context, fn func(Tx) error) error
	Close() error
}

// HashReader adapts a Reader to tlog.HashReader.
func HashReader(ctx context.Context, r Reader) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return r.ReadHashes(ctx, idx) })
}

// ListEach answers ListMany by running the queries one after another, for
// readers with no round trip to save.
func ListEach(ctx context.Context, r Reader, qs []Query) ([][]Record, error) {
	out := make([][]Record, len(qs))
	for i, q := range qs {
		var err error
		if out[i], err = r.List(ctx, q); err != nil {
			return nil, err
		}
	}
	return out, nil
}
