package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
)

var evidenceKinds = []string{store.KindCheckpoint, store.KindResult, store.KindSafeguard, store.KindDetermination, store.KindSafetyCase, store.KindEscape}

// loadEvidence reads everything recorded about a model from log index
// from on.
func loadEvidence(ctx context.Context, r store.Reader, m evidence.Model, from int64) (gate.Evidence, error) {
	recs, err := r.List(ctx, store.Query{Kinds: evidenceKinds, Model: m.ID, DataOnly: true, From: from})
	if err != nil {
		return gate.Evidence{Model: m}, err
	}
	return decodeEvidence(m, recs)
}

// decodeEvidence decodes stored evidence records.
func decodeEvidence(m evidence.Model, recs []store.Record) (gate.Evidence, error) {
	ev := gate.Evidence{Model: m}
	var err error
	for _, rec := range recs {
		meta := evidence.Meta{Seq: rec.Index}
		switch rec.Kind {
		case store.KindCheckpoint:
			var x evidence.Checkpoint
			err = decodeTyped(rec, &x, &meta)
			x.Meta = meta
			ev.Checkpoints = append(ev.Checkpoints, x)
		case store.KindResult:
			var x evidence.Result
			err = decodeTyped(rec, &x, &meta)
			x.Meta = meta
			ev.Results = append(ev.Results, x)
		case store.KindSafeguard:
			var x evidence.SafeguardStatus
			err = decodeTyped(rec, &x, &meta)
			x.Meta = meta
			ev.Safeguards = append(ev.Safeguards, x)
		case store.KindDetermination:
			var x evidence.Determination
			err = decodeTyped(rec, &x, &meta)
			x.Meta = meta
			ev.Determinations = append(ev.Determinations, x)
		case store.KindSafetyCase:
			var x evidence.SafetyCase
			err = decodeTyped(rec, &x, &meta)
			x.Meta = meta
			ev.SafetyCases = append(ev.SafetyCases, x)
		case store.KindEscape:
			var x evidence.Escape
			err = decodeTyped(rec, &x, &meta)
			x.Meta = meta
			ev.Escapes = append(ev.Escapes, x)
		}
		if err != nil {
			return ev, err
		}
	}
	return ev, nil
}

// decodeTyped decodes a stored envelope whose record is of type T (a
// concrete type decodes faster than through an interface) and fills in who
// recorded and who signed it.
func decodeTyped[T any](rec store.Record, x *T, meta *evidence.Meta) error {
	var env struct {
		By        string     `json:"by"`
		Record    *T         `json:"record"`
		Signature *Signature `json:"signature"`
	}
	env.Record = x
	if err := gojson.Unmarshal(rec.Data, &env); err != nil {
		return fmt.Errorf("record %d: %w", rec.Index, err)
	}
	meta.RecordedBy = env.By
	if env.Signature != nil {
		meta.SignedBy = env.Signature.Attester
	}
	return nil
}

func getModel(ctx context.Context, r store.Reader, id string) (evidence.Model, error) {
	m, _, err := getModelIndex(ctx, r, id)
	return m, err
}

// getModelIndex returns a model and the log index of its record.
func getModelIndex(ctx context.Context, r store.Reader, id string) (evidence.Model, int64, error) {
	var m evidence.Model
	rec, err := r.Get(ctx, store.KindModel, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, 0, unknownf("unknown model %q", id)
	}
	if err != nil {
		return m, 0, err
	}
	_, err = decodeEnvelope(*rec, &m)
	return m, rec.Index, err
}

func getCheckpoint(ctx context.Context, r store.Reader, id string) (evidence.Checkpoint, error) {
	var c evidence.Checkpoint
	rec, err := r.Get(ctx, store.KindCheckpoint, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, unknownf("unknown checkpoint %q", id)
	}
	if err != nil {
		return c, err
	}
	_, err = decodeEnvelope(*rec, &c)
	return c, err
}

// Decide answers an action with the gate and records the decision as a
// log leaf, all in one transaction, so the decision is exactly what the
// recorded evidence implied. The returned decision carries its log index.
// A zero Action.At means now.
func (s *Service) Decide(ctx context.Context, a gate.Action, by string) (*gate.Decision, error) {
	if a.At.IsZero() {
		a.At = s.Now()
	}
	a.At = a.At.UTC()
	switch a.Kind {
	case gate.Scale:
		if a.Model == "" {
			return nil, badInputf("--model is required")
		}
		if math.IsNaN(a.ToCompute) || math.IsInf(a.ToCompute, 0) || a.ToCompute <= 0 {
			return nil, badInputf("--to must be a positive FLOP count")
		}
	case gate.Deploy:
		if a.Checkpoint == "" {
			return nil, badInputf("--checkpoint is required")
		}
		switch a.Mode {
		case "internal", "external", "open-weights":
		default:
			return nil, badInputf("--mode must be internal, external or open-weights, got %q", a.Mode)
		}
	default:
		return nil, badInputf("unknown action %q", a.Kind)
	}
	// Read and decide in a snapshot of size N, then append the decision
	// only if nothing the decision rests on was recorded since: no evidence
	// for the model and no version of its policy at index N or later. The
	// decision records N (evidenceLogSize): it is exactly what the first N
	// entries of the log imply, so anyone holding the log can re-derive it.
	// Decisions made side by side are appended together, in one write
	// transaction under one signed checkpoint (see commits). On a conflict
	// the decision is made again; after a few tries it is made inside the
	// write transaction.
	decide := func(r store.Reader) (gate.Decision, decisionBasis, error) {
		act := a
		if act.Kind == gate.Deploy {
			c, err := getCheckpoint(ctx, r, act.Checkpoint)
			if err != nil {
				return gate.Decision{}, decisionBasis{}, err
			}
			act.Model = c.Model
		}
		size, err := r.Size(ctx)
		if err != nil {
			return gate.Decision{}, decisionBasis{}, err
		}
		in, snap, err := s.gateInputSnap(ctx, r, act.Model, act.At, size)
		if err != nil {
			return gate.Decision{}, decisionBasis{}, err
		}
		in.Action = act
		d := gate.Decide(in)
		d.EvidenceLogSize = &size
		return d, decisionBasis{act.Model, in.Evidence.Model.Policy, size, snap}, nil
	}
	for try := 0; try < 3; try++ {
		p := &pendingDecision{by: by, at: a.At, done: make(chan bool, 1)}
		err := s.Store.View(ctx, func(r store.Reader) error {
			var err error
			p.d, p.b, err = decide(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		err = s.commits.submit(ctx, s, p)
		if errors.Is(err, errEvidenceChanged) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &p.d, nil
	}
	var d gate.Decision
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		var b decisionBasis
		var err error
		if d, b, err = decide(tx); err != nil {
			return err
		}
		p := &pendingDecision{d: d, b: b, by: by, at: a.At}
		if err := s.recordDecisions(ctx, tx, []*pendingDecision{p}); err != nil {
			return err
		}
		d = p.d
		return p.err
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// decisionBasis is what a decision rests on: the model, its policy, the
// log size it was read at, and an evidence snapshot worth storing.
type decisionBasis struct {
	model, policy string
	size          int64
	snapshot      []byte
}

// pendingDecision is a decision waiting to be appended.
type pendingDecision struct {
	d   gate.Decision
	b   decisionBasis
	by  string
	at  time.Time
	err error // errEvidenceChanged, or why it could not be recorded

	// done receives false when the decision's batch has been committed
	// (err says how it went) and true when its goroutine is to commit the
	// next batch.
	done chan bool
}

var errEvidenceChanged = errors.New("evidence changed")

// commitQueue appends decisions made side by side in one write
// transaction (group commit). The first decision to arrive while no batch
// is being written writes the batch of all waiting decisions; the others
// wait. When a batch is written and more decisions have arrived, the
// first of them writes the next batch. On SQLite, where the log has one
// writer, this turns N transactions, N tree hashes and N signed
// checkpoints into one of each.
type commitQueue struct {
	mu      sync.Mutex
	queue   []*pendingDecision
	writing bool
}

// maxDecisionBatch bounds the decisions appended in one transaction.
const maxDecisionBatch = 256

// submit appends p's decision to the log, with others' if they are
// waiting, and returns p's outcome: nil with p.d's LogIndex set,
// errEvidenceChanged, or an error. The write does not stop when ctx is
// cancelled: other callers' decisions ride on it.
func (q *commitQueue) submit(ctx context.Context, s *Service, p *pendingDecision) error {
	q.mu.Lock()
	q.queue = append(q.queue, p)
	if q.writing {
		q.mu.Unlock()
		if lead := <-p.done; !lead {
			return p.err
		}
		q.mu.Lock()
	}
	q.writing = true
	n := min(len(q.queue), maxDecisionBatch)
	batch := q.queue[:n:n]
	q.queue = q.queue[n:]
	q.mu.Unlock()
	q.write(ctx, s, batch, p)
	return p.err
}

// write commits a batch and hands the queue on, even if the commit
// panics (a stuck queue would stop every later decision).
func (q *commitQueue) write(ctx context.Context, s *Service, batch []*pendingDecision, self *pendingDecision) {
	err := errors.New("decision batch not written")
	defer func() {
		for _, b := range batch {
			if err != nil {
				b.err = err
				b.d.LogIndex = nil
			}
			if b != self {
				b.done <- false
			}
		}
		q.mu.Lock()
		if len(q.queue) > 0 {
			q.queue[0].done <- true
		} else {
			q.writing = false
			q.queue = nil
		}
		q.mu.Unlock()
	}()
	// Not the leader's request context: the batch is everyone's.
	ctx = context.WithoutCancel(ctx)
	err = s.Store.Update(ctx, func(tx store.Tx) error {
		for _, b := range batch {
			b.err = nil
			b.d.LogIndex = nil
		}
		return s.recordDecisions(ctx, tx, batch)
	})
}

// recordDecisions appends the decisions whose basis still holds in tx,
// marks the others errEvidenceChanged, stores their evidence snapshots and
// signs one checkpoint.
func (s *Service) recordDecisions(ctx context.Context, tx store.Tx, batch []*pendingDecision) error {
	// One query answers for the whole batch: the records since the oldest
	// basis (usually only decisions) say which bases no longer hold. Past
	// sinceWindow records, each decision's basis is checked on its own.
	from := batch[0].b.size
	for _, p := range batch[1:] {
		from = min(from, p.b.size)
	}
	since, err := tx.List(ctx, store.Query{From: from, NoData: true, Limit: sinceWindow + 1})
	if err != nil {
		return err
	}
	var recs []store.Record
	var kept []*pendingDecision
	snaps := map[string][]byte{}
	for _, p := range batch {
		var c bool
		if len(since) > sinceWindow {
			if c, err = basisChanged(ctx, tx, p.b); err != nil {
				return err
			}
		} else {
			c = changedSince(since, p.b)
		}
		if c {
			p.err = errEvidenceChanged
			continue
		}
		rec, err := newRecord(store.KindDecision, "", p.b.model, "", p.by, p.at, &p.d, nil)
		if err != nil {
			p.err = err
			continue
		}
		if p.b.snapshot != nil {
			snaps[p.b.model] = p.b.snapshot
		}
		recs = append(recs, rec)
		kept = append(kept, p)
	}
	if len(recs) == 0 {
		return nil
	}
	for model, snap := range snaps {
		// Best effort: a snapshot only saves reading; a failure to store
		// one never fails a decision.
		_ = s.writeSnapshot(ctx, tx, model, snap)
	}
	first, err := tx.Append(ctx, recs)
	if err != nil {
		return err
	}
	for i, p := range kept {
		idx := first + int64(i)
		p.d.LogIndex = &idx
	}
	return s.signCheckpoint(ctx, tx)
}

// sinceWindow bounds the records recordDecisions reads to check a batch.
const sinceWindow = 4096

// changedSince reports whether recs (the records from some index on, in
// order) hold evidence for the basis's model or a version of its policy at
// or after the basis's log size.
func changedSince(recs []store.Record, b decisionBasis) bool {
	for _, r := range recs {
		if r.Index < b.size {
			continue
		}
		switch {
		case r.Kind == store.KindPolicy:
			if r.Policy == b.policy {
				return true
			}
		case slices.Contains(evidenceKinds, r.Kind):
			if r.Model == b.model {
				return true
			}
		}
	}
	return false
}

// basisChanged reports whether evidence for the basis's model or a version
// of its policy was recorded at or after the basis's log size.
func basisChanged(ctx context.Context, tx store.Tx, b decisionBasis) (bool, error) {
	for _, q := range []store.Query{
		{Kinds: evidenceKinds, Model: b.model, From: b.size, NoData: true, Limit: 1},
		{Kinds: []string{store.KindPolicy}, Policy: b.policy, From: b.size, NoData: true, Limit: 1},
	} {
		recs, err := tx.List(ctx, q)
		if err != nil || len(recs) > 0 {
			return true, err
		}
	}
	return false, nil
}

// Decisions lists recorded decisions about a model, newest last.
func (s *Service) Decisions(ctx context.Context, model string, limit int) ([]gate.Decision, error) {
	var out []gate.Decision
	err := s.Store.View(ctx, func(r store.Reader) error {
		recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindDecision}, Model: model, Limit: limit, DataOnly: true})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var d gate.Decision
			if _, err := decodeEnvelope(rec, &d); err != nil {
				return err
			}
			idx := rec.Index
			d.LogIndex = &idx
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("decisions: %w", err)
	}
	return out, nil
}
