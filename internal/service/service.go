// Package service owns scalegate's use cases, shared by the CLI and the
// HTTP server: publish a policy version, import evidence all-or-nothing,
// decide and record a gate decision, and read and verify the transparency
// log. It wires the pure parts (policy, evidence, gate) to a store.Store and
// the log's signing key, and it owns the clock.
//
// # Records and leaves
//
// Every record is stored as an envelope (the trusted view)
//
//	{"kind":"<kind>","v":1,"by":"<who recorded it>","record":{...},
//	 "signature":{...},"salt":"<hex>"}
//
// and becomes a log leaf in the same transaction; see records.go for the
// leaf of each kind and how confidential fields are committed to. Each
// write transaction ends with a signed checkpoint of the new tree, in the
// same transaction.
//
// # Deciding
//
// Decide reads a model's evidence in a read snapshot (through in-memory
// caches that are extended, never invalidated: the log is append-only),
// decides, and appends the decision only if nothing it rests on was
// recorded since. Decisions made side by side are appended together, in
// one write transaction under one checkpoint (group commit; see
// commitQueue).
package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"errors"
	"fmt"
	gojson "github.com/goccy/go-json"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/store/sqlite"
	"scalegate.dev/scalegate/internal/transparency"
)

// ErrBadInput marks errors caused by the caller's input (exit code 2).
var ErrBadInput = errors.New("bad input")

// InputError is a bad-input error; its message is one line naming the
// file, position and field where known.
type InputError struct{ Err error }

func (e *InputError) Error() string { return e.Err.Error() }
func (e *InputError) Unwrap() []error {
	return []error{e.Err, ErrBadInput}
}

func badInput(err error) error { return &InputError{Err: err} }

func badInputf(format string, args ...any) error { return badInput(fmt.Errorf(format, args...)) }

// unknownf is the bad-input error for a model, checkpoint or other thing
// named by the caller that is not recorded; it also matches
// store.ErrNotFound (see IsNotFound), so the server can answer 404.
func unknownf(format string, args ...any) error {
	return badInput(&unknownError{fmt.Sprintf(format, args...)})
}

type unknownError struct{ msg string }

func (e *unknownError) Error() string        { return e.msg }
func (e *unknownError) Is(target error) bool { return target == store.ErrNotFound }

// Service runs use cases against a store.
type Service struct {
	Store store.Store
	Key   *transparency.Key
	// Dir is the data directory, when there is one (it holds the log key
	// and configuration such as the witnesses file).
	Dir string
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu       sync.Mutex
	policies map[string]*policy.Policy // by digest
	evCache  evidenceCache
	verCache versionsCache
	modCache modelCache
	tokCache tokenCache
	commits  commitQueue
}

// DataFile is the database file inside a data directory.
const DataFile = "scalegate.db"

// Open opens (creating on first use) the embedded store and log key in dir.
func Open(ctx context.Context, dir string) (*Service, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, DataFile))
	if err != nil {
		return nil, err
	}
	s, err := New(ctx, db, dir)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.Dir = dir
	return s, nil
}

// New builds a service over st, keeping the log key in keyDir.
func New(ctx context.Context, st store.Store, keyDir string) (*Service, error) {
	origin, err := logOrigin(ctx, st)
	if err != nil {
		return nil, err
	}
	key, err := transparency.LoadOrCreateKey(keyDir, origin)
	if err != nil {
		return nil, err
	}
	return &Service{Store: st, Key: key, Now: time.Now, policies: map[string]*policy.Policy{}}, nil
}

// Close closes the store.
func (s *Service) Close() error { return s.Store.Close() }

// logOrigin returns the log's origin line, creating a log id on first use.
// SCALEGATE_LOG_ORIGIN overrides the default for a new log.
func logOrigin(ctx context.Context, st store.Store) (string, error) {
	var origin string
	err := st.View(ctx, func(r store.Reader) error {
		var err error
		origin, err = r.Meta(ctx, "origin")
		return err
	})
	if err == nil {
		return origin, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	err = st.Update(ctx, func(tx store.Tx) error {
		if o, err := tx.Meta(ctx, "origin"); err == nil {
			origin = o
			return nil
		}
		origin = os.Getenv("SCALEGATE_LOG_ORIGIN")
		if origin == "" {
			id := make([]byte, 8)
			if _, err := rand.Read(id); err != nil {
				return err
			}
			origin = transparency.DefaultOrigin(hex.EncodeToString(id))
		}
		return tx.SetMeta(ctx, "origin", origin)
	})
	return origin, err
}

// signCheckpoint signs and stores a checkpoint of the tree as it stands in
// tx.
func (s *Service) signCheckpoint(ctx context.Context, tx store.Tx) error {
	n, err := tx.Size(ctx)
	if err != nil {
		return err
	}
	root, err := tlog.TreeHash(n, store.HashReader(ctx, tx))
	if err != nil {
		return fmt.Errorf("tree hash: %w", err)
	}
	signed, err := transparency.SignCheckpoint(transparency.Checkpoint{Origin: s.Key.Origin(), Size: n, Root: root}, s.Key.Signer())
	if err != nil {
		return fmt.Errorf("sign checkpoint: %w", err)
	}
	return tx.PutCheckpoint(ctx, store.Checkpoint{Size: n, Signed: signed})
}

// parsedPolicy returns the compiled policy for a stored version, caching by
// digest.
func (s *Service) parsedPolicy(pv PolicyVersion) (*policy.Policy, error) {
	s.mu.Lock()
	p, ok := s.policies[pv.Digest]
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	p, err := policy.Parse(pv.Name+"@"+pv.Version, []byte(pv.Document))
	if err != nil {
		return nil, fmt.Errorf("stored policy %s@%s no longer parses: %w", pv.Name, pv.Version, err)
	}
	if p.Digest != pv.Digest {
		return nil, fmt.Errorf("stored policy %s@%s: digest mismatch", pv.Name, pv.Version)
	}
	s.mu.Lock()
	s.policies[pv.Digest] = p
	s.mu.Unlock()
	return p, nil
}

// decodeEnvelope decodes a stored record's envelope and its body into v in
// one pass.
func decodeEnvelope(rec store.Record, v any) (Envelope, error) {
	var env struct {
		Kind      string     `json:"kind"`
		V         int        `json:"v"`
		By        string     `json:"by"`
		Record    any        `json:"record"`
		Signature *Signature `json:"signature"`
	}
	env.Record = v
	if err := gojson.Unmarshal(rec.Data, &env); err != nil {
		return Envelope{}, fmt.Errorf("record %d: %w", rec.Index, err)
	}
	return Envelope{Kind: env.Kind, V: env.V, By: env.By, Signature: env.Signature}, nil
}

// Versions returns the published versions of a policy, compiled.
func (s *Service) versions(ctx context.Context, r store.Reader, name string) ([]gate.Version, []PolicyVersion, error) {
	recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindPolicy}, Policy: name, DataOnly: true})
	if err != nil {
		return nil, nil, err
	}
	var out []gate.Version
	var pvs []PolicyVersion
	for _, rec := range recs {
		var pv PolicyVersion
		if _, err := decodeEnvelope(rec, &pv); err != nil {
			return nil, nil, err
		}
		p, err := s.parsedPolicy(pv)
		if err != nil {
			return nil, nil, err
		}
		pv.Index = rec.Index
		out = append(out, gate.Version{Policy: p, PublishedAt: pv.PublishedAt})
		pvs = append(pvs, pv)
	}
	return out, pvs, nil
}
