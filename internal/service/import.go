package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/store"
)

// Imported counts what an import recorded.
type Imported struct {
	Models, Checkpoints, Results, Safeguards, Determinations, SafetyCases, Escapes int
	// Unchanged counts records already recorded identically (skipped).
	Unchanged int
	// First and Last are the log indexes of the first and last new record
	// (First > Last when nothing was new).
	First, Last int64
}

// Records is the number of new records.
func (i *Imported) Records() int {
	return i.Models + i.Checkpoints + i.Results + i.Safeguards + i.Determinations + i.SafetyCases + i.Escapes
}

// ImportFiles parses Evidence files and imports them; see Import.
func (s *Service) ImportFiles(ctx context.Context, paths []string, defaultAt time.Time, by string) (*Imported, error) {
	if defaultAt.IsZero() {
		defaultAt = s.Now()
	}
	files := make([]*evidence.File, 0, len(paths))
	for _, p := range paths {
		data, err := readEvidence(p)
		if err != nil {
			return nil, err
		}
		var f *evidence.File
		if IsEnvelope(data) {
			f, err = envelopeFile(p, data)
		} else {
			f, err = evidence.Parse(p, data, defaultAt)
		}
		if err != nil {
			return nil, badInput(err)
		}
		files = append(files, f)
	}
	return s.Import(ctx, files, by)
}

// errDuplicate marks a record identical to one already recorded.
var errDuplicate = errors.New("duplicate record")

// recorded reports whether a record of kind with key exists for a model
// that was in the store before this import (models new in this import
// have no records yet). It reads each (model, kind)'s keys once.
func (im *importer) recorded(kind, model, key string) (bool, error) {
	if im.fresh[model] {
		return false, nil
	}
	ck := model + " " + kind
	keys, ok := im.keys[ck]
	if !ok {
		recs, err := im.tx.List(im.ctx, store.Query{Kinds: []string{kind}, Model: model, NoData: true})
		if err != nil {
			return false, err
		}
		keys = make(map[string]bool, len(recs))
		for _, r := range recs {
			keys[r.Key] = true
		}
		im.keys[ck] = keys
	}
	return keys[key], nil
}

// readEvidence reads an evidence file within the size bound.
func readEvidence(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, badInputf("%s: %v", path, err)
	}
	if st.Size() > evidence.MaxFileSize {
		return nil, badInputf("%s: file is %d bytes; the limit is %d", path, st.Size(), evidence.MaxFileSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, badInputf("%s: %v", path, err)
	}
	return data, nil
}

// policyIDs is the union of ids declared by every published version of a
// policy.
type policyIDs struct {
	evals, thresholds, safeguards map[string]bool
	// attesterKeys maps attester names to the verifier keys any version
	// gives them.
	attesterKeys map[string][]string
}

// importer resolves references for one import transaction.
type importer struct {
	s           *Service
	ctx         context.Context
	tx          store.Tx
	models      map[string]*evidence.Model
	checkpoints map[string]*evidence.Checkpoint
	ids         map[string]*policyIDs
	fresh       map[string]bool            // models first recorded by this import
	keys        map[string]map[string]bool // "model kind" -> content keys recorded
}

func (im *importer) model(id string) (*evidence.Model, error) {
	if m, ok := im.models[id]; ok {
		return m, nil
	}
	rec, err := im.tx.Get(im.ctx, store.KindModel, id)
	if errors.Is(err, store.ErrNotFound) {
		im.models[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m evidence.Model
	if _, err := decodeEnvelope(*rec, &m); err != nil {
		return nil, err
	}
	im.models[id] = &m
	return &m, nil
}

func (im *importer) checkpoint(id string) (*evidence.Checkpoint, error) {
	if c, ok := im.checkpoints[id]; ok {
		return c, nil
	}
	rec, err := im.tx.Get(im.ctx, store.KindCheckpoint, id)
	if errors.Is(err, store.ErrNotFound) {
		im.checkpoints[id] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var c evidence.Checkpoint
	if _, err := decodeEnvelope(*rec, &c); err != nil {
		return nil, err
	}
	im.checkpoints[id] = &c
	return &c, nil
}

func (im *importer) policyIDs(name string) (*policyIDs, error) {
	if p, ok := im.ids[name]; ok {
		return p, nil
	}
	versions, _, err := im.s.versions(im.ctx, im.tx, name)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		im.ids[name] = nil
		return nil, nil
	}
	ids := &policyIDs{evals: map[string]bool{}, thresholds: map[string]bool{}, safeguards: map[string]bool{}, attesterKeys: map[string][]string{}}
	for _, v := range versions {
		for _, e := range v.Policy.Evaluations {
			ids.evals[e.ID] = true
		}
		for _, t := range v.Policy.Thresholds {
			ids.thresholds[t.ID] = true
		}
		for _, sg := range v.Policy.Safeguards {
			ids.safeguards[sg.ID] = true
		}
		for _, a := range v.Policy.Governance.Attesters {
			if a.Key != "" && !slices.Contains(ids.attesterKeys[a.Name], a.Key) {
				ids.attesterKeys[a.Name] = append(ids.attesterKeys[a.Name], a.Key)
			}
		}
	}
	im.ids[name] = ids
	return ids, nil
}

// Import records the evidence of files in one transaction: every record is
// validated (references resolve within the files or the store; policy ids
// exist in a published version of the model's policy) and either all new
// records are written, with their log leaves and a new signed checkpoint,
// or none is.
func (s *Service) Import(ctx context.Context, files []*evidence.File, by string) (*Imported, error) {
	out := &Imported{}
	err := s.Store.Update(ctx, func(tx store.Tx) error {
		im := &importer{s: s, ctx: ctx, tx: tx, models: map[string]*evidence.Model{}, checkpoints: map[string]*evidence.Checkpoint{}, ids: map[string]*policyIDs{}, fresh: map[string]bool{}, keys: map[string]map[string]bool{}}
		var recs []store.Record
		// Evidence records without a natural key are keyed by a digest of
		// their content (and whether they are signed), so that importing
		// the same file again, or a retried import, records nothing twice.
		seen := map[string]bool{}
		add := func(kind, key, model string, at time.Time, v any, meta ...evidence.Meta) error {
			var sig *Signature
			if len(meta) > 0 && meta[0].SignedBy != "" {
				sig = &Signature{Attester: meta[0].SignedBy, KeyID: meta[0].SignedKeyID, Envelope: meta[0].SignedEnvelope}
			}
			if key == "" {
				body, err := marshal(v)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(body)
				key = "sha256:" + hex.EncodeToString(sum[:])
				if sig != nil {
					key += ":signed"
				}
				dup, err := im.recorded(kind, model, key)
				if err != nil {
					return err
				}
				if dup || seen[kind+" "+key] {
					out.Unchanged++
					return errDuplicate
				}
				seen[kind+" "+key] = true
			}
			rec, err := newRecord(kind, key, model, "", by, at, v, sig)
			if err != nil {
				return err
			}
			recs = append(recs, rec)
			return nil
		}
		// Models and checkpoints first, so later records in any file can
		// refer to them.
		for _, f := range files {
			for i := range f.Models {
				m := &f.Models[i]
				path := fmt.Sprintf("models[%d]", i)
				old, err := im.model(m.ID)
				if err != nil {
					return err
				}
				if old != nil {
					if old.Policy != m.Policy || old.Developer != m.Developer {
						return badInput(f.Doc.Errorf(path+".id", "model %q is already recorded with policy %q and developer %q", m.ID, old.Policy, old.Developer))
					}
					out.Unchanged++
					continue
				}
				ids, err := im.policyIDs(m.Policy)
				if err != nil {
					return err
				}
				if ids == nil {
					return badInput(f.Doc.Errorf(path+".policy", "policy %q is not published; publish it before importing evidence for its models", m.Policy))
				}
				im.models[m.ID] = m
				im.fresh[m.ID] = true
				if err := add(store.KindModel, m.ID, m.ID, time.Time{}, m); err != nil {
					return err
				}
				out.Models++
			}
		}
		for _, f := range files {
			for i := range f.Checkpoints {
				c := &f.Checkpoints[i]
				path := fmt.Sprintf("checkpoints[%d]", i)
				m, err := im.model(c.Model)
				if err != nil {
					return err
				}
				if m == nil {
					return badInput(f.Doc.Errorf(path+".model", "unknown model %q (declare it under models: or import it first)", c.Model))
				}
				old, err := im.checkpoint(c.ID)
				if err != nil {
					return err
				}
				if old != nil {
					if old.Model != c.Model || old.EffectiveCompute != c.EffectiveCompute || !old.At.Equal(c.At) {
						return badInput(f.Doc.Errorf(path+".id", "checkpoint %q is already recorded differently (model %s, %g FLOP, at %s); checkpoints are immutable", c.ID, old.Model, old.EffectiveCompute, old.At.Format(time.RFC3339)))
					}
					out.Unchanged++
					continue
				}
				im.checkpoints[c.ID] = c
				if err := add(store.KindCheckpoint, c.ID, c.Model, c.At, c); err != nil {
					return err
				}
				out.Checkpoints++
			}
		}
		// resolve finds a checkpoint's model and that model's policy ids.
		resolveCkpt := func(f *evidence.File, path, id string) (*evidence.Model, *policyIDs, error) {
			c, err := im.checkpoint(id)
			if err != nil {
				return nil, nil, err
			}
			if c == nil {
				return nil, nil, badInput(f.Doc.Errorf(path, "unknown checkpoint %q", id))
			}
			return im.modelIDs(f, path, c.Model)
		}
		for _, f := range files {
			for i := range f.Results {
				r := &f.Results[i]
				path := fmt.Sprintf("results[%d]", i)
				m, ids, err := resolveCkpt(f, path+".checkpoint", r.Checkpoint)
				if err != nil {
					return err
				}
				if !ids.evals[r.Evaluation] {
					return badInput(f.Doc.Errorf(path+".evaluation", "evaluation %q is not declared by any published version of policy %q", r.Evaluation, m.Policy))
				}
				if err := add(store.KindResult, "", m.ID, r.At, r); errors.Is(err, errDuplicate) {
					continue
				} else if err != nil {
					return err
				}
				out.Results++
			}
			for i := range f.Safeguards {
				sg := &f.Safeguards[i]
				path := fmt.Sprintf("safeguards[%d]", i)
				m, ids, err := im.modelIDs(f, path+".model", sg.Model)
				if err != nil {
					return err
				}
				if !ids.safeguards[sg.Safeguard] {
					return badInput(f.Doc.Errorf(path+".safeguard", "safeguard %q is not declared by any published version of policy %q", sg.Safeguard, m.Policy))
				}
				if err := im.verifySigned(f, ids, sg, &sg.Meta); err != nil {
					return err
				}
				if err := add(store.KindSafeguard, "", m.ID, sg.At, sg, sg.Meta); errors.Is(err, errDuplicate) {
					continue
				} else if err != nil {
					return err
				}
				out.Safeguards++
			}
			for i := range f.Determinations {
				d := &f.Determinations[i]
				path := fmt.Sprintf("determinations[%d]", i)
				m, ids, err := resolveCkpt(f, path+".checkpoint", d.Checkpoint)
				if err != nil {
					return err
				}
				if !ids.thresholds[d.Threshold] {
					return badInput(f.Doc.Errorf(path+".threshold", "threshold %q is not declared by any published version of policy %q", d.Threshold, m.Policy))
				}
				if err := im.verifySigned(f, ids, d, &d.Meta); err != nil {
					return err
				}
				if err := add(store.KindDetermination, "", m.ID, d.At, d, d.Meta); errors.Is(err, errDuplicate) {
					continue
				} else if err != nil {
					return err
				}
				out.Determinations++
			}
			for i := range f.SafetyCases {
				sc := &f.SafetyCases[i]
				path := fmt.Sprintf("safetyCases[%d]", i)
				m, ids, err := im.modelIDs(f, path+".model", sc.Model)
				if err != nil {
					return err
				}
				if err := im.verifySigned(f, ids, sc, &sc.Meta); err != nil {
					return err
				}
				if err := add(store.KindSafetyCase, "", m.ID, sc.At, sc, sc.Meta); errors.Is(err, errDuplicate) {
					continue
				} else if err != nil {
					return err
				}
				out.SafetyCases++
			}
			for i := range f.Escapes {
				e := &f.Escapes[i]
				path := fmt.Sprintf("escapes[%d]", i)
				m, _, err := im.modelIDs(f, path+".model", e.Model)
				if err != nil {
					return err
				}
				if err := add(store.KindEscape, "", m.ID, e.At, e); errors.Is(err, errDuplicate) {
					continue
				} else if err != nil {
					return err
				}
				out.Escapes++
			}
		}
		if len(recs) == 0 {
			out.First, out.Last = 0, -1
			return nil
		}
		first, err := tx.Append(ctx, recs)
		if err != nil {
			return err
		}
		out.First, out.Last = first, first+int64(len(recs))-1
		return s.signCheckpoint(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// modelIDs resolves a model reference and its policy's ids.
func (im *importer) modelIDs(f *evidence.File, path, id string) (*evidence.Model, *policyIDs, error) {
	m, err := im.model(id)
	if err != nil {
		return nil, nil, err
	}
	if m == nil {
		return nil, nil, badInput(f.Doc.Errorf(path, "unknown model %q", id))
	}
	ids, err := im.policyIDs(m.Policy)
	if err != nil {
		return nil, nil, err
	}
	if ids == nil {
		return nil, nil, badInput(f.Doc.Errorf(path, "policy %q of model %q is not published", m.Policy, id))
	}
	return m, ids, nil
}
