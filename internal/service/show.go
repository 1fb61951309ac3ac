package service

import (
	"context"
	"fmt"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/store"
)

// CheckpointView is a checkpoint with every result recorded for it, each
// with whether the gate counts it as of a time, and why not where it does
// not; and whether the checkpoint is assessed then.
type CheckpointView struct {
	Checkpoint       string    `json:"checkpoint"`
	Model            string    `json:"model"`
	EffectiveCompute float64   `json:"effectiveCompute"`
	RecordedAt       time.Time `json:"recordedAt"`
	// AsOf is the time the view is computed for (the gate's --at).
	AsOf time.Time `json:"asOf"`
	// Policy is the model's policy version in force at AsOf; nil when
	// none is.
	Policy *gate.PolicyRef `json:"policy,omitempty"`
	// Assessed reports whether the checkpoint has, as of AsOf, a counted
	// result for every required evaluation and a determination for every
	// threshold that needs one; AssessedAt is then the assessment time.
	Assessed   bool       `json:"assessed"`
	AssessedAt *time.Time `json:"assessedAt,omitempty"`
	// Missing says what the checkpoint lacks to be assessed.
	Missing []string     `json:"missing,omitempty"`
	Results []ResultView `json:"results"`
}

// ResultView is one recorded result and whether the gate counts it.
type ResultView struct {
	LogIndex int64 `json:"logIndex"`
	evidence.Result
	RecordedBy string `json:"recordedBy,omitempty"`
	// Counts reports whether the gate uses this result for score() as of
	// the view's time: it is the newest qualifying result for its
	// evaluation. WhyNot says why it does not.
	Counts bool   `json:"counts"`
	WhyNot string `json:"whyNot,omitempty"`
}

// ShowCheckpoint returns a checkpoint with every result recorded for it
// and, as of at (zero: now), whether each counts for the gate. The rules
// are the gate's (DESIGN.md, "Gate semantics"; internal/gate): as of at,
// under the model's policy version in force at at, a result counts when
// its checkpoint and the result itself are recorded for a time at or
// before at, its evaluation is declared by that version, it is not marked
// incomplete, its elicitation is at least the evaluation's minElicitation,
// and no newer such result (by at, then by log order) exists for the same
// evaluation.
func (s *Service) ShowCheckpoint(ctx context.Context, id string, at time.Time) (*CheckpointView, error) {
	if id == "" {
		return nil, badInputf("a checkpoint id is required")
	}
	if at.IsZero() {
		at = s.Now()
	}
	at = at.UTC()
	var v *CheckpointView
	err := s.Store.View(ctx, func(r store.Reader) error {
		c, err := getCheckpoint(ctx, r, id)
		if err != nil {
			return err
		}
		m, err := getModel(ctx, r, c.Model)
		if err != nil {
			return err
		}
		versions, _, err := s.versions(ctx, r, m.Policy)
		if err != nil {
			return err
		}
		ev, err := loadEvidence(ctx, r, m, 0)
		if err != nil {
			return err
		}
		v = checkpointView(c, m, versions, ev, at)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// checkpointView computes the view; it is pure, like the gate.
func checkpointView(c evidence.Checkpoint, m evidence.Model, versions []gate.Version, ev gate.Evidence, at time.Time) *CheckpointView {
	v := &CheckpointView{Checkpoint: c.ID, Model: m.ID, EffectiveCompute: c.EffectiveCompute, RecordedAt: c.At, AsOf: at, Results: []ResultView{}}
	var p *policy.Policy
	if cur, pending := gate.InForce(versions, at); cur != nil {
		p = cur.Policy
		v.Policy = &gate.PolicyRef{Name: p.Metadata.Name, Version: p.Metadata.Version, Digest: p.Digest, Pending: pending}
	}
	var idx []int // indexes into v.Results of results that qualify
	for _, r := range ev.Results {
		if r.Checkpoint != c.ID {
			continue
		}
		rv := ResultView{LogIndex: r.Seq, Result: r, RecordedBy: r.RecordedBy}
		switch {
		case c.At.After(at):
			rv.WhyNot = fmt.Sprintf("the checkpoint is recorded for %s, after %s", rfc3339(c.At), rfc3339(at))
		case r.At.After(at):
			rv.WhyNot = fmt.Sprintf("recorded for %s, after %s", rfc3339(r.At), rfc3339(at))
		case p == nil:
			rv.WhyNot = fmt.Sprintf("no version of policy %q is in force at %s", m.Policy, rfc3339(at))
		case p.Evaluation(r.Evaluation) == nil:
			rv.WhyNot = fmt.Sprintf("evaluation not in the policy in force (%s %s)", p.Metadata.Name, p.Metadata.Version)
		case r.Incomplete:
			rv.WhyNot = "marked incomplete: the evaluation run did not complete"
		case policy.ElicitationRank(r.Elicitation) < policy.ElicitationRank(p.Evaluation(r.Evaluation).MinElicitation):
			rv.WhyNot = fmt.Sprintf("elicitation %s is below the evaluation's minimum %s", r.Elicitation, p.Evaluation(r.Evaluation).MinElicitation)
		default:
			idx = append(idx, len(v.Results))
		}
		v.Results = append(v.Results, rv)
	}
	// The newest qualifying result per evaluation counts.
	newest := map[string]int{}
	for _, i := range idx {
		r := &v.Results[i]
		if j, ok := newest[r.Evaluation]; ok {
			b := &v.Results[j]
			if !newerResult(r, b) {
				continue
			}
		}
		newest[r.Evaluation] = i
	}
	for _, i := range idx {
		r := &v.Results[i]
		if j := newest[r.Evaluation]; j == i {
			r.Counts = true
		} else {
			r.WhyNot = fmt.Sprintf("superseded by a newer result (log entry %d)", v.Results[j].LogIndex)
		}
	}
	if p == nil {
		v.Missing = []string{fmt.Sprintf("a version of policy %q in force", m.Policy)}
		return v
	}
	if c.At.After(at) {
		v.Missing = []string{fmt.Sprintf("the checkpoint itself, which is recorded for %s", rfc3339(c.At))}
		return v
	}
	var assessedAt time.Time
	for _, e := range p.Evaluations {
		if !e.IsRequired() {
			continue
		}
		j, ok := newest[e.ID]
		if !ok {
			v.Missing = append(v.Missing, fmt.Sprintf("a result for %s at %s elicitation or stronger", e.ID, e.MinElicitation))
			continue
		}
		if t := v.Results[j].At; t.After(assessedAt) {
			assessedAt = t
		}
	}
	for _, t := range p.Thresholds {
		if !t.NeedsDetermination() {
			continue
		}
		var best *evidence.Determination
		for i := range ev.Determinations {
			d := &ev.Determinations[i]
			if d.Checkpoint != c.ID || d.Threshold != t.ID || d.At.After(at) || !p.IsDecisionMaker(d.By) {
				continue
			}
			if best == nil || d.At.After(best.At) || d.At.Equal(best.At) && d.Seq > best.Seq {
				best = d
			}
		}
		if best == nil {
			v.Missing = append(v.Missing, fmt.Sprintf("a determination for %s by one of %s", t.ID, strings.Join(p.Governance.DecisionMakers, ", ")))
			continue
		}
		if best.At.After(assessedAt) {
			assessedAt = best.At
		}
	}
	if len(v.Missing) == 0 {
		v.Assessed = true
		v.AssessedAt = &assessedAt
	}
	return v
}

// newerResult reports whether a is newer than b: later at, or recorded
// later at the same at.
func newerResult(a, b *ResultView) bool {
	if c := a.At.Compare(b.At); c != 0 {
		return c > 0
	}
	return a.LogIndex > b.LogIndex
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }
