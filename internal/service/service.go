// Package service owns scalegate's use cases, shared by the CLI and the
// HTTP server: publish a policy version, import evidence all-or-nothing,
// decide and record a gate decision, and read and verify the transparency
// log. It wires the pure parts (policy, evidence, gate) to a store.Store and
// the log's signing key, and it owns the clock.
//
// # Records and leaves
//
// Every record is stored as an envelope
//
//	{"kind": "<kind>", "v": 1, "by": "<who recorded it>", "record": {...}}
//
// and its log leaf is the same envelope in canonical JSON (see
// transparency.CanonicalJSON). Policy versions are logged by digest (the
// document itself is kept in the record but only its digest, name, version
// and publication time are in the leaf, which keeps leaves small). After
// each write transaction the service signs a checkpoint of the new tree in
// the same transaction.
package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"

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

// Service runs use cases against a store.
type Service struct {
	Store store.Store
	Key   *transparency.Key
	// Now is the clock; tests replace it.
	Now func() time.Time

	mu       sync.Mutex
	policies map[string]*policy.Policy // by digest
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

// Envelope is a stored record.
type Envelope struct {
	Kind   string          `json:"kind"`
	V      int             `json:"v"`
	By     string          `json:"by,omitempty"`
	Record json.RawMessage `json:"record"`
}

// newRecord builds a store record from a value. The stored data is the
// envelope as compact JSON (fields in envelope order, record fields in the
// order of their Go types, no HTML escaping); for every kind but policy the
// leaf is the same bytes.
func newRecord(kind, key, model, policyName, by string, at time.Time, v any) (store.Record, error) {
	body, err := marshal(v)
	if err != nil {
		return store.Record{}, fmt.Errorf("encode %s: %w", kind, err)
	}
	data, err := marshal(Envelope{Kind: kind, V: 1, By: by, Record: body})
	if err != nil {
		return store.Record{}, fmt.Errorf("encode %s: %w", kind, err)
	}
	leaf := data
	if kind == store.KindPolicy {
		if leaf, err = leafFor(kind, data); err != nil {
			return store.Record{}, err
		}
	}
	return store.Record{Kind: kind, Key: key, Model: model, Policy: policyName, At: at.UTC(), Data: data, Leaf: leaf}, nil
}

// marshal is json.Marshal without HTML escaping and without the trailing
// newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// policyLeafRecord is what a policy version's leaf holds.
type policyLeafRecord struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Developer   string    `json:"developer"`
	Digest      string    `json:"digest"`
	PublishedAt time.Time `json:"publishedAt"`
}

// leafFor computes the leaf bytes for a record's stored data. It is the
// one definition of a leaf, used when appending and when verifying: the
// data itself, except for policy versions, whose leaf is the canonical JSON
// (transparency.CanonicalJSON) of an envelope holding the version's name,
// version, developer, digest and publication time, without the document.
func leafFor(kind string, data []byte) ([]byte, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("decode %s record: %w", kind, err)
	}
	if env.Kind != kind {
		return nil, fmt.Errorf("record kind %q stored as %q", env.Kind, kind)
	}
	if kind != store.KindPolicy {
		return data, nil
	}
	{
		var pv PolicyVersion
		if err := json.Unmarshal(env.Record, &pv); err != nil {
			return nil, fmt.Errorf("decode policy record: %w", err)
		}
		body, err := json.Marshal(policyLeafRecord{Name: pv.Name, Version: pv.Version, Developer: pv.Developer, Digest: pv.Digest, PublishedAt: pv.PublishedAt})
		if err != nil {
			return nil, err
		}
		env.Record = body
	}
	return transparency.CanonicalJSON(env)
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
		Kind   string `json:"kind"`
		V      int    `json:"v"`
		By     string `json:"by"`
		Record any    `json:"record"`
	}
	env.Record = v
	if err := gojson.Unmarshal(rec.Data, &env); err != nil {
		return Envelope{}, fmt.Errorf("record %d: %w", rec.Index, err)
	}
	return Envelope{Kind: env.Kind, V: env.V, By: env.By}, nil
}

// Versions returns the published versions of a policy, compiled.
func (s *Service) versions(ctx context.Context, r store.Reader, name string) ([]gate.Version, []PolicyVersion, error) {
	recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindPolicy}, Policy: name})
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
