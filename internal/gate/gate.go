// Package gate owns scalegate's decision: given every published version of
// a model's policy, the model's evidence and an action ("scale model M to
// compute C", "deploy checkpoint K in mode X") at a time, answer allow or
// deny with every reason.
//
// [Decide] is a pure function: no I/O, no clock, no randomness. The same
// input always yields the same decision, so decisions can be re-derived by
// anyone who holds the logged records. The semantics follow DESIGN.md's
// "Gate semantics" step by step; where the design left a choice open the
// choice is documented here and in docs/gate.md:
//
//   - Policy versions of one name are ordered by semantic version; the
//     service refuses to publish a version lower than one already published,
//     so publication order and version order agree.
//   - A condition is unknown when any evaluation it references lacks a
//     qualifying result at the checkpoint (see policy.Cond.Eval).
//   - Hysteresis is evaluated with three-valued logic:
//     crossed(i) = trigger(i) ∨ (crossed(i−1) ∧ ¬clear(i)).
//   - An escape clause never opens a red line: red lines can only be opened
//     by a new, scrutinised policy version (DESIGN.md, Concepts).
//   - An escape record counts only when made by one of the policy's
//     decision-makers.
//   - Keyed attesters (governance.attesters with a key) count only for
//     records carrying their verified signature (evidence.Meta.SignedBy).
package gate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/policy"
)

// Action kinds.
const (
	Scale  = "scale"
	Deploy = "deploy"
)

// Verdicts.
const (
	AllowVerdict = "allow"
	DenyVerdict  = "deny"
)

// Reason codes.
const (
	NoAssessment         = "NO_ASSESSMENT"
	StaleAssessment      = "STALE_ASSESSMENT"
	InsufficientEvidence = "INSUFFICIENT_EVIDENCE"
	ThresholdWarning     = "THRESHOLD_WARNING"
	SafeguardsMissing    = "SAFEGUARDS_MISSING"
	RedLine              = "RED_LINE"
	DeploymentDenied     = "DEPLOYMENT_DENIED"
	SafetyCaseMissing    = "SAFETY_CASE_MISSING"
	PolicyNotInForce     = "POLICY_NOT_IN_FORCE"
	EscapeClause         = "ESCAPE_CLAUSE"
	ForecastCrossing     = "FORECAST_CROSSING"
)

// Threshold states.
const (
	StateClear   = "clear"
	StateWarning = "warning"
	StateCrossed = "crossed"
	StateUnknown = "unknown"
)

// Version is one published version of a policy.
type Version struct {
	Policy      *policy.Policy
	PublishedAt time.Time
}

// Evidence is everything recorded about one model.
type Evidence struct {
	Model          evidence.Model
	Checkpoints    []evidence.Checkpoint
	Results        []evidence.Result
	Safeguards     []evidence.SafeguardStatus
	Determinations []evidence.Determination
	SafetyCases    []evidence.SafetyCase
	Escapes        []evidence.Escape
}

// Action is what the gate is asked about.
type Action struct {
	Kind       string    `json:"kind"`
	Model      string    `json:"model"`
	ToCompute  float64   `json:"toCompute,omitempty"`
	Checkpoint string    `json:"checkpoint,omitempty"`
	Mode       string    `json:"mode,omitempty"`
	At         time.Time `json:"at"`
}

// Input is everything Decide reads.
type Input struct {
	// Versions are all published versions of the model's policy.
	Versions []Version
	Evidence Evidence
	Action   Action
}

// Decision is the gate's answer.
type Decision struct {
	Verdict    string           `json:"verdict"`
	Action     Action           `json:"action"`
	Policy     *PolicyRef       `json:"policy,omitempty"`
	Assessment *Assessment      `json:"assessment,omitempty"`
	Thresholds []ThresholdState `json:"thresholds"`
	Reasons    []Reason         `json:"reasons"`
	LogIndex   *int64           `json:"logIndex,omitempty"`
	// EvidenceLogSize, set when the decision is recorded, is the size of
	// the log prefix the decision was derived from: nothing about the
	// model or its policy was recorded between it and LogIndex.
	EvidenceLogSize *int64 `json:"evidenceLogSize,omitempty"`
}

// PolicyRef names the policy version in force.
type PolicyRef struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
	// Pending names newer published versions not yet in force, with the
	// time each takes force.
	Pending []PendingVersion `json:"pending,omitempty"`
}

// PendingVersion is a published version still in its scrutiny period.
type PendingVersion struct {
	Version  string    `json:"version"`
	ForceAt  time.Time `json:"forceAt"`
	Digest   string    `json:"digest"`
	Redlines []string  `json:"-"`
}

// Assessment names the checkpoint the decision rests on.
type Assessment struct {
	Checkpoint       string    `json:"checkpoint"`
	EffectiveCompute float64   `json:"effectiveCompute"`
	At               time.Time `json:"at"`
}

// ThresholdState is a threshold's state at the assessed checkpoint, with
// the scores it was computed from.
type ThresholdState struct {
	ID     string             `json:"id"`
	State  string             `json:"state"`
	Inputs map[string]float64 `json:"inputs"`
	// Missing lists the evaluations the threshold's conditions reference
	// that have no qualifying result at the checkpoint (the cause of an
	// unknown state; a crossed or clear state may still list some, e.g. a
	// missing input of a clear condition that was not needed).
	Missing []string `json:"missing,omitempty"`
	// Since is the checkpoint at which a crossed threshold last fired its
	// trigger (differs from the assessment under hysteresis).
	Since string `json:"since,omitempty"`
	// Determination is the judgment a determination-required threshold
	// rests on.
	Determination *DeterminationRef `json:"determination,omitempty"`
	// Confidential lists the inputs that come from confidential results:
	// their values are in Inputs (the trusted view) but never in messages,
	// and the public log leaf replaces them with a commitment.
	Confidential []string `json:"confidential,omitempty"`

	at string // the checkpoint the state is for
}

// DeterminationRef summarises a determination.
type DeterminationRef struct {
	By      string    `json:"by"`
	Crossed bool      `json:"crossed"`
	At      time.Time `json:"at"`
}

// Reason is one reason for the verdict.
type Reason struct {
	Code       string             `json:"code"`
	Threshold  string             `json:"threshold,omitempty"`
	Safeguards []string           `json:"safeguards,omitempty"`
	Message    string             `json:"message"`
	Forecast   *ThresholdForecast `json:"forecast,omitempty"`
	// Overrode lists the denials an escape clause overrode.
	Overrode []Reason `json:"overrode,omitempty"`
	// Ignored marks an escape-clause record that did not count.
	Ignored bool `json:"ignored,omitempty"`
}

// denies reports whether a reason code denies the action.
func denies(code string) bool {
	return code != ThresholdWarning && code != EscapeClause
}

// Allowed reports whether the decision allows the action.
func (d *Decision) Allowed() bool { return d.Verdict == AllowVerdict }

// InForce returns the version in force at t, or nil, and the newer
// published versions pending.
func InForce(versions []Version, t time.Time) (*Version, []PendingVersion) {
	vs := make([]Version, 0, len(versions))
	for _, v := range versions {
		if !v.PublishedAt.After(t) {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b Version) int {
		if c := semver.Compare("v"+a.Policy.Metadata.Version, "v"+b.Policy.Metadata.Version); c != 0 {
			return c
		}
		return a.PublishedAt.Compare(b.PublishedAt)
	})
	force := make([]time.Time, len(vs))
	for i, v := range vs {
		if i == 0 {
			force[i] = v.PublishedAt
			continue
		}
		// The version in force when v was published: the newest earlier
		// version whose force time is at or before v's publication.
		var governing *policy.Policy
		for j := i - 1; j >= 0; j-- {
			if !force[j].After(v.PublishedAt) {
				governing = vs[j].Policy
				break
			}
		}
		scrutiny := time.Duration(0)
		if governing != nil {
			scrutiny = time.Duration(governing.Governance.ScrutinyPeriod)
		} else {
			scrutiny = time.Duration(vs[0].Policy.Governance.ScrutinyPeriod)
		}
		force[i] = v.PublishedAt.Add(scrutiny)
	}
	var cur *Version
	curIdx := -1
	for i := len(vs) - 1; i >= 0; i-- {
		if !force[i].After(t) {
			cur, curIdx = &vs[i], i
			break
		}
	}
	var pending []PendingVersion
	for i := curIdx + 1; i < len(vs); i++ {
		pending = append(pending, PendingVersion{Version: vs[i].Policy.Metadata.Version, ForceAt: force[i], Digest: vs[i].Policy.Digest})
	}
	return cur, pending
}

// ckpt is a checkpoint with its qualifying evidence.
type ckpt struct {
	cp       evidence.Checkpoint
	scores   scores
	conf     map[string]bool // evaluations whose score is confidential
	dets     map[string]*evidence.Determination
	assessed bool
	assessAt time.Time
	missing  []string // why not assessed
	slot     int      // position among the checkpoints, by compute
	weak     bool     // some results were ignored for weak elicitation
	// Condition values per threshold index, computed on first use.
	triggers []policy.Tri
	clears   []policy.Tri
	warns    []policy.Tri
}

// scores are a checkpoint's qualifying scores, by the evaluation's
// position in the policy.
type scores struct {
	p   *policy.Policy
	v   []float64
	has []bool
}

// Score returns the score for evaluation id, if there is one.
func (s scores) Score(id string) (float64, bool) {
	i, ok := s.p.EvaluationIndex(id)
	if !ok || !s.has[i] {
		return 0, false
	}
	return s.v[i], true
}

// asMap returns the scores by evaluation id.
func (s scores) asMap() map[string]float64 {
	m := make(map[string]float64, len(s.v))
	for i, ok := range s.has {
		if ok {
			m[s.p.Evaluations[i].ID] = s.v[i]
		}
	}
	return m
}

// newer reports whether record (at, seq) is newer than (bat, bseq).
func newer(at time.Time, seq int64, bat time.Time, bseq int64) bool {
	if c := at.Compare(bat); c != 0 {
		return c > 0
	}
	return seq > bseq
}

// Decide answers an action. It never fails: missing evidence is a deny
// reason, not an error.
func Decide(in Input) Decision {
	a := in.Action
	a.At = a.At.UTC()
	d := Decision{Verdict: DenyVerdict, Action: a, Thresholds: []ThresholdState{}, Reasons: []Reason{}}
	if a.Model == "" {
		a.Model = in.Evidence.Model.ID
		d.Action.Model = a.Model
	}
	v, pending := InForce(in.Versions, a.At)
	if v == nil {
		name := in.Evidence.Model.Policy
		msg := fmt.Sprintf("No version of policy %q is in force at %s, so nothing may be allowed; publish the policy (or wait for a published version's scrutiny period to end).", name, fmtTime(a.At))
		if len(in.Versions) == 0 {
			msg = fmt.Sprintf("Policy %q has no published version, so nothing may be allowed; publish it with `scalegate policy publish`.", name)
		}
		d.Reasons = append(d.Reasons, Reason{Code: PolicyNotInForce, Message: msg})
		return d
	}
	p := v.Policy
	d.Policy = &PolicyRef{Name: p.Metadata.Name, Version: p.Metadata.Version, Digest: p.Digest, Pending: pending}

	e := &decider{p: p, in: in, at: a.At}
	e.prepare()
	switch a.Kind {
	case Scale:
		e.scale(&d)
	case Deploy:
		e.deploy(&d)
	default:
		d.Reasons = append(d.Reasons, Reason{Code: InsufficientEvidence, Message: fmt.Sprintf("Unknown action %q; the gate answers only scale and deploy.", a.Kind)})
	}
	e.escape(&d)
	d.Verdict = AllowVerdict
	for _, r := range d.Reasons {
		if denies(r.Code) {
			d.Verdict = DenyVerdict
		}
	}
	return d
}

type decider struct {
	p    *policy.Policy
	in   Input
	at   time.Time
	cps  []*ckpt // all of the model's checkpoints recorded by at, by compute
	byID map[string]*ckpt
	sgs  map[string]*evidence.SafeguardStatus // newest status per safeguard
}

func (e *decider) prepare() {
	ev := e.in.Evidence
	e.byID = make(map[string]*ckpt, len(ev.Checkpoints))
	ks := make([]ckpt, 0, len(ev.Checkpoints))
	for _, c := range ev.Checkpoints {
		if c.At.After(e.at) || (ev.Model.ID != "" && c.Model != ev.Model.ID) {
			continue
		}
		ks = append(ks, ckpt{cp: c})
	}
	e.cps = make([]*ckpt, len(ks))
	for i := range ks {
		e.cps[i] = &ks[i]
		e.byID[ks[i].cp.ID] = &ks[i]
	}
	slices.SortFunc(e.cps, func(x, y *ckpt) int {
		if c := cmp.Compare(x.cp.EffectiveCompute, y.cp.EffectiveCompute); c != 0 {
			return c
		}
		if c := x.cp.At.Compare(y.cp.At); c != 0 {
			return c
		}
		return cmp.Compare(x.cp.Seq, y.cp.Seq)
	})
	// Newest qualifying result per (checkpoint, evaluation), kept per
	// checkpoint in slices indexed by the evaluation's position in the
	// policy: the result's index in ev.Results, or -1.
	nev := len(e.p.Evaluations)
	minRank := make([]int, nev)
	for i := range e.p.Evaluations {
		minRank[i] = policy.ElicitationRank(e.p.Evaluations[i].MinElicitation)
	}
	bests := make([]int32, len(e.cps)*nev)
	for i := range bests {
		bests[i] = -1
	}
	vals := make([]float64, len(e.cps)*nev)
	has := make([]bool, len(e.cps)*nev)
	for i, k := range e.cps {
		k.slot = i
		k.scores = scores{p: e.p, v: vals[i*nev : (i+1)*nev : (i+1)*nev], has: has[i*nev : (i+1)*nev : (i+1)*nev]}
	}
	slot := func(k *ckpt) []int32 { return bests[k.slot*nev : (k.slot+1)*nev] }
	for i := range ev.Results {
		r := &ev.Results[i]
		k := e.byID[r.Checkpoint]
		if k == nil || r.At.After(e.at) || r.Incomplete {
			continue
		}
		ei, ok := e.p.EvaluationIndex(r.Evaluation)
		if !ok {
			continue
		}
		if policy.ElicitationRank(r.Elicitation) < minRank[ei] {
			k.weak = true // listed by weakList when a reason cites it
			continue
		}
		b := &slot(k)[ei]
		if *b >= 0 {
			old := &ev.Results[*b]
			if !newer(r.At, r.Seq, old.At, old.Seq) {
				continue
			}
		}
		*b = int32(i)
		k.scores.v[ei], k.scores.has[ei] = r.Score, true
		if r.Confidential {
			if k.conf == nil {
				k.conf = map[string]bool{}
			}
			k.conf[r.Evaluation] = true
		} else {
			delete(k.conf, r.Evaluation)
		}
	}
	for i := range ev.Determinations {
		x := &ev.Determinations[i]
		k := e.byID[x.Checkpoint]
		if k == nil || x.At.After(e.at) || !e.p.IsDecisionMaker(x.By) {
			continue
		}
		if t := e.p.Threshold(x.Threshold); t == nil || !t.NeedsDetermination() {
			continue
		}
		if old := k.dets[x.Threshold]; old != nil && !newer(x.At, x.Seq, old.At, old.Seq) {
			continue
		}
		if k.dets == nil {
			k.dets = map[string]*evidence.Determination{}
		}
		k.dets[x.Threshold] = x
	}
	for _, k := range e.cps {
		k.assessed = true
		bs := slot(k)
		for ei, ed := range e.p.Evaluations {
			if !ed.IsRequired() {
				continue
			}
			b := bs[ei]
			if b < 0 {
				k.assessed = false
				k.missing = append(k.missing, fmt.Sprintf("a result for %s at %s elicitation or stronger", ed.ID, ed.MinElicitation))
				continue
			}
			if at := ev.Results[b].At; at.After(k.assessAt) {
				k.assessAt = at
			}
		}
		for _, t := range e.p.Thresholds {
			if !t.NeedsDetermination() {
				continue
			}
			x := k.dets[t.ID]
			if x == nil {
				k.assessed = false
				k.missing = append(k.missing, fmt.Sprintf("a determination for %s by one of %s", t.ID, strings.Join(e.p.Governance.DecisionMakers, ", ")))
				continue
			}
			if x.At.After(k.assessAt) {
				k.assessAt = x.At
			}
		}
	}
	e.sgs = map[string]*evidence.SafeguardStatus{}
	for i := range ev.Safeguards {
		s := &ev.Safeguards[i]
		if s.At.After(e.at) || s.Model != ev.Model.ID {
			continue
		}
		if old := e.sgs[s.Safeguard]; old != nil && !newer(s.At, s.Seq, old.At, old.Seq) {
			continue
		}
		e.sgs[s.Safeguard] = s
	}
}

// assessedUpTo returns the assessed checkpoints up to and including k
// (all of them when k is nil), in order of effective compute.
func (e *decider) assessedUpTo(k *ckpt) []*ckpt {
	var out []*ckpt
	for _, c := range e.cps {
		if c.assessed {
			out = append(out, c)
		}
		if c == k {
			break
		}
	}
	return out
}

// unset marks a condition not evaluated yet in a checkpoint's cache.
const unset policy.Tri = -1

func (e *decider) tri(k *ckpt, cache *[]policy.Tri, ti int, c *policy.Cond) policy.Tri {
	if *cache == nil {
		*cache = make([]policy.Tri, len(e.p.Thresholds))
		for i := range *cache {
			(*cache)[i] = unset
		}
	}
	if v := (*cache)[ti]; v != unset {
		return v
	}
	v := c.Eval(k.scores, k.cp.EffectiveCompute)
	(*cache)[ti] = v
	return v
}

func and(a, b policy.Tri) policy.Tri {
	if a == policy.False || b == policy.False {
		return policy.False
	}
	if a == policy.Unknown || b == policy.Unknown {
		return policy.Unknown
	}
	return policy.True
}

func or(a, b policy.Tri) policy.Tri {
	if a == policy.True || b == policy.True {
		return policy.True
	}
	if a == policy.Unknown || b == policy.Unknown {
		return policy.Unknown
	}
	return policy.False
}

func not(a policy.Tri) policy.Tri {
	switch a {
	case policy.True:
		return policy.False
	case policy.False:
		return policy.True
	}
	return policy.Unknown
}

// crossed computes whether t is crossed at walk[i] (with hysteresis), and
// the checkpoint where its trigger last fired.
func (e *decider) crossed(t *policy.Threshold, ti int, walk []*ckpt, i int) (policy.Tri, string) {
	// Walk back to the first checkpoint whose state does not depend on the
	// one before it (trigger true, or clear true), then forward.
	start := i
	for ; start >= 0; start-- {
		k := walk[start]
		if e.tri(k, &k.triggers, ti, t.TriggerCond) == policy.True {
			break
		}
		if t.ClearCond == nil || e.tri(k, &k.clears, ti, t.ClearCond) == policy.True {
			break
		}
	}
	state, since := policy.False, ""
	if start < 0 {
		start = 0
	} else {
		k := walk[start]
		state = e.tri(k, &k.triggers, ti, t.TriggerCond)
		if state == policy.True {
			since = k.cp.ID
		}
		start++
	}
	for j := start; j <= i; j++ {
		k := walk[j]
		trig := e.tri(k, &k.triggers, ti, t.TriggerCond)
		if trig == policy.True {
			since = k.cp.ID
		}
		if t.ClearCond == nil {
			state = trig
			continue
		}
		state = or(trig, and(state, not(e.tri(k, &k.clears, ti, t.ClearCond))))
	}
	return state, since
}

// states computes every threshold's state at walk[len(walk)-1].
func (e *decider) states(walk []*ckpt) ([]ThresholdState, map[string]*ThresholdState) {
	at := walk[len(walk)-1]
	out := make([]ThresholdState, 0, len(e.p.Thresholds))
	for i := range e.p.Thresholds {
		t := &e.p.Thresholds[i]
		ts := ThresholdState{ID: t.ID, Inputs: map[string]float64{}, at: at.cp.ID}
		if t.NeedsDetermination() {
			x := at.dets[t.ID]
			ts.State = StateClear
			if x != nil {
				ts.Determination = &DeterminationRef{By: x.By, Crossed: x.Crossed, At: x.At}
				if x.Crossed {
					ts.State = StateCrossed
					ts.Since = at.cp.ID
				}
			} else {
				ts.State = StateUnknown
			}
			out = append(out, ts)
			continue
		}
		refs := map[string]bool{}
		for _, c := range []*policy.Cond{t.TriggerCond, t.WarningCond, t.ClearCond} {
			if c == nil {
				continue
			}
			for _, r := range c.Refs {
				refs[r] = true
			}
		}
		for r := range refs {
			if v, ok := at.scores.Score(r); ok {
				ts.Inputs[r] = v
				if at.conf[r] {
					ts.Confidential = append(ts.Confidential, r)
				}
			} else {
				ts.Missing = append(ts.Missing, r)
			}
		}
		sort.Strings(ts.Missing)
		sort.Strings(ts.Confidential)
		cr, since := e.crossed(t, i, walk, len(walk)-1)
		switch cr {
		case policy.True:
			ts.State, ts.Since = StateCrossed, since
		case policy.Unknown:
			ts.State = StateUnknown
		default:
			ts.State = StateClear
			if t.WarningCond != nil {
				switch e.tri(at, &at.warns, i, t.WarningCond) {
				case policy.True:
					ts.State = StateWarning
				case policy.Unknown:
					ts.State = StateUnknown
				}
			}
		}
		out = append(out, ts)
	}
	idx := map[string]*ThresholdState{}
	for i := range out {
		idx[out[i].ID] = &out[i]
	}
	return out, idx
}

// missingSafeguards returns the required safeguards of t not in force, with
// a note per safeguard on why.
func (e *decider) missingSafeguards(t *policy.Threshold) ([]string, []string) {
	var ids, why []string
	for _, id := range t.Requires {
		ok, reason := e.safeguardInForce(id)
		if !ok {
			ids = append(ids, id)
			why = append(why, reason)
		}
	}
	return ids, why
}

func (e *decider) safeguardInForce(id string) (bool, string) {
	sg := e.p.Safeguard(id)
	s := e.sgs[id]
	if s == nil {
		if sg != nil && sg.Attestation == "external" {
			return false, fmt.Sprintf("%s has no status record (it needs an external attestation by one of %s)", id, e.attesterNames())
		}
		return false, fmt.Sprintf("%s has no status record", id)
	}
	if s.Status != evidence.Implemented {
		return false, fmt.Sprintf("%s was revoked by %s on %s", id, s.By, fmtTime(s.At))
	}
	if sg != nil && sg.Attestation == "external" {
		if ok, why := e.attested(s.By, s.SignedBy); !ok {
			return false, fmt.Sprintf("%s was marked implemented by %s, %s", id, s.By, why)
		}
	}
	return true, ""
}

// attested reports whether a claim by `by` counts as an external
// attestation.
func (e *decider) attested(by, signedBy string) (bool, string) {
	at := e.p.Attester(by)
	if at == nil {
		return false, fmt.Sprintf("who is not an external attester (attesters: %s)", e.attesterNames())
	}
	if at.Key != "" && signedBy != by {
		return false, fmt.Sprintf("but attester %s has a key and the record carries no valid signature by it", by)
	}
	return true, ""
}

func (e *decider) attesterNames() string {
	if len(e.p.Governance.Attesters) == 0 {
		return "none are named in the policy"
	}
	names := make([]string, len(e.p.Governance.Attesters))
	for i, a := range e.p.Governance.Attesters {
		names[i] = a.Name
	}
	return strings.Join(names, ", ")
}

func (e *decider) newestCheckpoint() *ckpt {
	if len(e.cps) == 0 {
		return nil
	}
	return e.cps[len(e.cps)-1]
}

// weakList formats the results for checkpoint k that were ignored because
// they were elicited more weakly than their evaluations require (found
// again only when a reason cites them).
func (e *decider) weakList(k *ckpt) string {
	var parts []string
	for i := range e.in.Evidence.Results {
		r := &e.in.Evidence.Results[i]
		if r.Checkpoint != k.cp.ID || r.At.After(e.at) || r.Incomplete {
			continue
		}
		ev := e.p.Evaluation(r.Evaluation)
		if ev == nil || policy.ElicitationRank(r.Elicitation) >= policy.ElicitationRank(ev.MinElicitation) {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s (%s < %s)", r.Evaluation, r.Elicitation, ev.MinElicitation))
	}
	return strings.Join(parts, ", ")
}

func (e *decider) noAssessment(k *ckpt) Reason {
	if k == nil {
		return Reason{Code: NoAssessment, Message: fmt.Sprintf("Model %s has no checkpoint recorded by %s, so no assessment exists; record a checkpoint and its evaluation results.", e.in.Evidence.Model.ID, fmtTime(e.at))}
	}
	msg := fmt.Sprintf("Checkpoint %s is not assessed: it lacks %s.", k.cp.ID, strings.Join(k.missing, "; "))
	if k.weak {
		msg += fmt.Sprintf(" Results below the required elicitation do not count: %s.", e.weakList(k))
	}
	return Reason{Code: NoAssessment, Message: msg}
}

func (e *decider) scale(d *Decision) {
	a := d.Action
	c := e.p.Cadence
	if !(a.ToCompute > 0) || math.IsInf(a.ToCompute, 1) {
		d.Reasons = append(d.Reasons, Reason{Code: InsufficientEvidence, Message: fmt.Sprintf("The target compute %v is not a positive finite FLOP count, so nothing can be judged.", a.ToCompute)})
		return
	}
	if c.ExemptBelowCompute > 0 && a.ToCompute <= c.ExemptBelowCompute {
		return
	}
	walk := e.assessedUpTo(nil)
	if len(walk) == 0 {
		r := e.noAssessment(e.newestCheckpoint())
		r.Message = fmt.Sprintf("No checkpoint of %s is assessed, so scaling to %s FLOP cannot be justified. %s", a.Model, fmtFLOP(a.ToCompute), r.Message)
		d.Reasons = append(d.Reasons, r)
		e.affirmative(d, a.ToCompute)
		return
	}
	A := walk[len(walk)-1]
	d.Assessment = &Assessment{Checkpoint: A.cp.ID, EffectiveCompute: A.cp.EffectiveCompute, At: A.assessAt}
	states, _ := e.states(walk)
	d.Thresholds = states
	anyWarning := e.stateReasons(d, states, A)

	// Step 4: staleness.
	mult, why := c.ComputeMultiple, "computeMultiple"
	if anyWarning && c.WarningComputeMultiple > 0 {
		mult, why = c.WarningComputeMultiple, "warningComputeMultiple (a threshold is in its warning zone)"
	}
	if mult > 0 && a.ToCompute > A.cp.EffectiveCompute*mult {
		d.Reasons = append(d.Reasons, Reason{Code: StaleAssessment, Message: fmt.Sprintf(
			"The target %s FLOP is more than %g× the compute of the last assessed checkpoint %s (%s FLOP, limit %s FLOP under %s); assess a checkpoint of at least %s FLOP first, or scale no further than %s FLOP.",
			fmtFLOP(a.ToCompute), mult, A.cp.ID, fmtFLOP(A.cp.EffectiveCompute), fmtFLOP(A.cp.EffectiveCompute*mult), why, fmtFLOP(a.ToCompute/mult), fmtFLOP(A.cp.EffectiveCompute*mult))})
	}
	if iv := time.Duration(c.Interval); iv > 0 && a.At.Sub(A.assessAt) > iv {
		d.Reasons = append(d.Reasons, Reason{Code: StaleAssessment, Message: fmt.Sprintf(
			"The last assessment (%s, completed %s) is older than the policy's interval of %s; re-run the required evaluations.",
			A.cp.ID, fmtTime(A.assessAt), c.Interval)})
	}

	// Step 5: crossed thresholds.
	for _, ts := range states {
		if ts.State != StateCrossed {
			continue
		}
		t := e.p.Threshold(ts.ID)
		if t.RedLine {
			d.Reasons = append(d.Reasons, e.redLine(t, ts))
			continue
		}
		if t.OnCross.TrainingAction() != policy.Pause {
			continue
		}
		if ids, why := e.missingSafeguards(t); len(ids) > 0 {
			d.Reasons = append(d.Reasons, Reason{Code: SafeguardsMissing, Threshold: t.ID, Safeguards: ids, Message: fmt.Sprintf(
				"%s is crossed (%s) and training pauses until every required safeguard is in force: %s.", t.Name, e.crossedBecause(t, ts), strings.Join(why, "; "))})
		}
	}

	// Forecast gating (cadence.forecast).
	e.forecast(d, states, walk)

	// Step 6: affirmative safety.
	e.affirmative(d, a.ToCompute)
}

// stateReasons adds INSUFFICIENT_EVIDENCE and THRESHOLD_WARNING reasons;
// it reports whether any threshold is in its warning zone.
func (e *decider) stateReasons(d *Decision, states []ThresholdState, at *ckpt) bool {
	anyWarning := false
	for _, ts := range states {
		t := e.p.Threshold(ts.ID)
		switch ts.State {
		case StateUnknown:
			msg := fmt.Sprintf("The state of %s at %s is unknown", t.Name, at.cp.ID)
			if len(ts.Missing) > 0 {
				msg += fmt.Sprintf(": no qualifying result for %s", strings.Join(ts.Missing, ", "))
				if at.weak {
					msg += fmt.Sprintf(" (results below the required elicitation do not count: %s)", e.weakList(at))
				}
			}
			msg += "; missing evidence never counts as safe, so record the missing results."
			d.Reasons = append(d.Reasons, Reason{Code: InsufficientEvidence, Threshold: t.ID, Message: msg})
		case StateWarning:
			anyWarning = true
			d.Reasons = append(d.Reasons, Reason{Code: ThresholdWarning, Threshold: t.ID, Message: fmt.Sprintf(
				"%s's early warning fires at %s (%s with %s); the threshold is not crossed, but scaling steps are tighter while it fires.",
				t.Name, at.cp.ID, t.Warning, ts.inputsText())})
		}
	}
	return anyWarning
}

func (e *decider) crossedBecause(t *policy.Threshold, ts ThresholdState) string {
	if t.NeedsDetermination() {
		if ts.Determination != nil {
			return fmt.Sprintf("determined by %s on %s", ts.Determination.By, fmtTime(ts.Determination.At))
		}
		return "by determination"
	}
	s := fmt.Sprintf("%s with %s", t.Trigger, ts.inputsText())
	if t.Clear != "" && ts.Since != "" && ts.Since != ts.at {
		s = fmt.Sprintf("trigger %s fired at %s and the clear condition %s does not hold yet; now %s", t.Trigger, ts.Since, t.Clear, ts.inputsText())
	}
	return s
}

func (e *decider) redLine(t *policy.Threshold, ts ThresholdState) Reason {
	msg := fmt.Sprintf("%s is a red line under policy %s %s and it is crossed (%s); only a newer policy version, published and past its scrutiny period, can open it.",
		t.Name, e.p.Metadata.Name, e.p.Metadata.Version, e.crossedBecause(t, ts))
	return Reason{Code: RedLine, Threshold: t.ID, Message: msg}
}

func (e *decider) affirmative(d *Decision, compute float64) {
	if e.p.StanceOrDefault() != policy.AffirmativeSafety || compute <= e.p.Affirmative.AboveCompute {
		return
	}
	var why []string
	for _, sc := range e.in.Evidence.SafetyCases {
		if sc.At.After(e.at) || sc.Model != e.in.Evidence.Model.ID {
			continue
		}
		if sc.CoversCompute < compute {
			why = append(why, fmt.Sprintf("%s covers only %s FLOP", sc.ID, fmtFLOP(sc.CoversCompute)))
			continue
		}
		ok, reason := e.attested(sc.ApprovedBy, sc.SignedBy)
		if ok {
			return
		}
		why = append(why, fmt.Sprintf("%s was approved by %s, %s", sc.ID, sc.ApprovedBy, reason))
	}
	found := "none is recorded"
	if len(why) > 0 {
		found = "none counts: " + strings.Join(why, "; ")
	}
	d.Reasons = append(d.Reasons, Reason{Code: SafetyCaseMissing, Message: fmt.Sprintf(
		"Under affirmative safety, %s FLOP is beyond %s FLOP and needs a safety case for %s covering at least that compute, approved by an external attester (%s); %s.",
		fmtFLOP(compute), fmtFLOP(e.p.Affirmative.AboveCompute), e.in.Evidence.Model.ID, e.attesterNames(), found)})
}

func (e *decider) deploy(d *Decision) {
	a := d.Action
	k := e.byID[a.Checkpoint]
	if k == nil {
		d.Reasons = append(d.Reasons, Reason{Code: NoAssessment, Message: fmt.Sprintf("Checkpoint %s of %s is not recorded by %s, so it cannot be deployed.", a.Checkpoint, a.Model, fmtTime(e.at))})
		return
	}
	if !k.assessed {
		r := e.noAssessment(k)
		r.Message = "A checkpoint must itself be assessed before deployment. " + r.Message
		d.Reasons = append(d.Reasons, r)
		e.affirmative(d, k.cp.EffectiveCompute)
		return
	}
	walk := e.assessedUpTo(k)
	d.Assessment = &Assessment{Checkpoint: k.cp.ID, EffectiveCompute: k.cp.EffectiveCompute, At: k.assessAt}
	states, _ := e.states(walk)
	d.Thresholds = states
	e.stateReasons(d, states, k)
	for _, ts := range states {
		if ts.State != StateCrossed {
			continue
		}
		t := e.p.Threshold(ts.ID)
		if t.RedLine {
			d.Reasons = append(d.Reasons, e.redLine(t, ts))
			continue
		}
		switch t.OnCross.DeploymentAction(a.Mode) {
		case policy.Deny:
			d.Reasons = append(d.Reasons, Reason{Code: DeploymentDenied, Threshold: t.ID, Message: fmt.Sprintf(
				"%s is crossed (%s) and the policy forbids %s deployment while it is, whatever the safeguards.", t.Name, e.crossedBecause(t, ts), a.Mode)})
		case policy.RequireSafeguards:
			if ids, why := e.missingSafeguards(t); len(ids) > 0 {
				d.Reasons = append(d.Reasons, Reason{Code: SafeguardsMissing, Threshold: t.ID, Safeguards: ids, Message: fmt.Sprintf(
					"%s is crossed (%s) and %s deployment needs every required safeguard in force: %s.", t.Name, e.crossedBecause(t, ts), a.Mode, strings.Join(why, "; "))})
			}
		}
	}
	e.affirmative(d, k.cp.EffectiveCompute)
}

// escape applies step 7.
func (e *decider) escape(d *Decision) {
	// The newest escape by a decision-maker counts; others are reported
	// only when no decision-maker invoked the clause.
	better := func(x, y *evidence.Escape) bool {
		if dx, dy := e.p.IsDecisionMaker(x.By), e.p.IsDecisionMaker(y.By); dx != dy {
			return dx
		}
		return newer(x.At, x.Seq, y.At, y.Seq)
	}
	var esc *evidence.Escape
	for i := range e.in.Evidence.Escapes {
		x := &e.in.Evidence.Escapes[i]
		if x.At.After(e.at) || x.Model != e.in.Evidence.Model.ID {
			continue
		}
		if esc == nil || better(x, esc) {
			esc = x
		}
	}
	if esc == nil {
		return
	}
	if !e.p.Governance.EscapeClause.Allowed {
		d.Reasons = append(d.Reasons, Reason{Code: EscapeClause, Ignored: true, Message: fmt.Sprintf(
			"An escape clause was invoked for %s by %s on %s, but policy %s %s allows none; it is ignored and flagged.", esc.Model, esc.By, fmtTime(esc.At), e.p.Metadata.Name, e.p.Metadata.Version)})
		return
	}
	if !e.p.IsDecisionMaker(esc.By) {
		d.Reasons = append(d.Reasons, Reason{Code: EscapeClause, Ignored: true, Message: fmt.Sprintf(
			"An escape clause was invoked for %s by %s, who is not one of the policy's decision-makers (%s); it is ignored.", esc.Model, esc.By, strings.Join(e.p.Governance.DecisionMakers, ", "))})
		return
	}
	var overridden, kept []Reason
	for _, r := range d.Reasons {
		switch {
		case r.Code == RedLine:
			kept = append(kept, r)
		case denies(r.Code):
			overridden = append(overridden, r)
		default:
			kept = append(kept, r)
		}
	}
	if len(overridden) == 0 {
		if slices.ContainsFunc(kept, func(r Reason) bool { return r.Code == RedLine }) {
			d.Reasons = append(d.Reasons, Reason{Code: EscapeClause, Ignored: true, Message: fmt.Sprintf(
				"The escape clause invoked by %s on %s cannot open a red line; only a newer, scrutinised policy version can.", esc.By, fmtTime(esc.At))})
		}
		return
	}
	codes := make([]string, len(overridden))
	for i, r := range overridden {
		codes[i] = r.Code
	}
	msg := fmt.Sprintf("The escape clause invoked by %s on %s (%q) overrides %s.", esc.By, fmtTime(esc.At), esc.Rationale, strings.Join(codes, ", "))
	if len(kept) > 0 && slices.ContainsFunc(kept, func(r Reason) bool { return r.Code == RedLine }) {
		msg += " It cannot open a red line, which still denies."
	}
	d.Reasons = append(kept, Reason{Code: EscapeClause, Message: msg, Overrode: overridden})
}

func fmtTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// fmtFLOP formats a FLOP count as 4e+25 → "4e25".
func fmtFLOP(f float64) string {
	if f == 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Sprint(f)
	}
	s := fmt.Sprintf("%.3g", f)
	s = strings.Replace(s, "e+", "e", 1)
	return s
}

// inputsText formats a state's inputs for messages, hiding confidential
// values.
func (ts ThresholdState) inputsText() string {
	if len(ts.Confidential) == 0 {
		return fmtInputs(ts.Inputs)
	}
	shown := map[string]float64{}
	for k, v := range ts.Inputs {
		shown[k] = v
	}
	for _, c := range ts.Confidential {
		delete(shown, c)
	}
	s := fmtInputs(shown)
	if len(shown) == 0 {
		s = ""
	} else {
		s += ", "
	}
	return s + strings.Join(ts.Confidential, ", ") + " confidential"
}

func fmtInputs(in map[string]float64) string {
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s = %g", k, in[k])
	}
	if len(parts) == 0 {
		return "no scores"
	}
	return strings.Join(parts, ", ")
}
