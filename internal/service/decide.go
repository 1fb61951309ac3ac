package service

import (
	"context"
	"errors"
	"fmt"
	"math"

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
	var m evidence.Model
	rec, err := r.Get(ctx, store.KindModel, id)
	if errors.Is(err, store.ErrNotFound) {
		return m, badInputf("unknown model %q", id)
	}
	if err != nil {
		return m, err
	}
	_, err = decodeEnvelope(*rec, &m)
	return m, err
}

func getCheckpoint(ctx context.Context, r store.Reader, id string) (evidence.Checkpoint, error) {
	var c evidence.Checkpoint
	rec, err := r.Get(ctx, store.KindCheckpoint, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, badInputf("unknown checkpoint %q", id)
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
	// On a conflict the decision is made again; after a few tries it is
	// made inside the write transaction.
	type basis struct {
		model, policy string
		size          int64
		snapshot      []byte // an evidence snapshot worth storing
	}
	decide := func(r store.Reader) (gate.Decision, basis, error) {
		act := a
		if act.Kind == gate.Deploy {
			c, err := getCheckpoint(ctx, r, act.Checkpoint)
			if err != nil {
				return gate.Decision{}, basis{}, err
			}
			act.Model = c.Model
		}
		size, err := r.Size(ctx)
		if err != nil {
			return gate.Decision{}, basis{}, err
		}
		in, snap, err := s.gateInputSnap(ctx, r, act.Model, act.At, size)
		if err != nil {
			return gate.Decision{}, basis{}, err
		}
		in.Action = act
		d := gate.Decide(in)
		d.EvidenceLogSize = &size
		return d, basis{act.Model, in.Evidence.Model.Policy, size, snap}, nil
	}
	changed := func(tx store.Tx, b basis) (bool, error) {
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
	record := func(tx store.Tx, d *gate.Decision, b basis) error {
		model := b.model
		if b.snapshot != nil {
			// Best effort: a snapshot only saves reading; a failure to
			// store one never fails a decision.
			_ = s.writeSnapshot(ctx, tx, model, b.snapshot)
		}
		rec, err := newRecord(store.KindDecision, "", model, "", by, a.At, d, nil)
		if err != nil {
			return err
		}
		idx, err := tx.Append(ctx, []store.Record{rec})
		if err != nil {
			return err
		}
		d.LogIndex = &idx
		return s.signCheckpoint(ctx, tx)
	}
	errRetry := errors.New("evidence changed")
	for try := 0; try < 3; try++ {
		var d gate.Decision
		var b basis
		err := s.Store.View(ctx, func(r store.Reader) error {
			var err error
			d, b, err = decide(r)
			return err
		})
		if err != nil {
			return nil, err
		}
		err = s.Store.Update(ctx, func(tx store.Tx) error {
			if c, err := changed(tx, b); err != nil {
				return err
			} else if c {
				return errRetry
			}
			return record(tx, &d, b)
		})
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &d, nil
	}
	var d gate.Decision
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		var b basis
		var err error
		if d, b, err = decide(tx); err != nil {
			return err
		}
		return record(tx, &d, b)
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
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
