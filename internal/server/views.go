package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"time"

	gojson "github.com/goccy/go-json"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/forecast"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store"
)

// This file builds the read views of models for the API and the
// dashboard. It reads records through the service's store, and takes
// every judgment from package gate: threshold states from gate.Decide
// (a scaling probe that is not recorded), assessed checkpoints from
// gate.AssessedScores, forecasts from gate.Forecasts, the policy in force
// from gate.InForce. The only rule restated here is when a safeguard is in
// force (safeguardStates), for display; tests check it against the gate's
// SAFEGUARDS_MISSING reasons.

var evidenceKinds = []string{store.KindCheckpoint, store.KindResult, store.KindSafeguard, store.KindDetermination, store.KindSafetyCase, store.KindEscape}

// compiledPolicy is a published policy version, compiled.
type compiledPolicy struct {
	pv service.PolicyVersion
	p  *policy.Policy
}

// envelope is a stored record as the service writes it.
type envelope struct {
	Kind      string             `json:"kind"`
	By        string             `json:"by"`
	Record    any                `json:"record"`
	Signature *service.Signature `json:"signature"`
}

// decodeRecord decodes a stored record's envelope and its body into v in
// one pass.
func decodeRecord(rec store.Record, v any) (envelope, error) {
	env := envelope{Record: v}
	if err := gojson.Unmarshal(rec.Data, &env); err != nil {
		return env, fmt.Errorf("record %d: %w", rec.Index, err)
	}
	return env, nil
}

// policyVersions returns the published versions of a policy, compiled, in
// publication order.
func (s *Server) policyVersions(ctx context.Context, name string) ([]compiledPolicy, error) {
	pvs, err := s.svc.Policies(ctx, name)
	if err != nil {
		return nil, err
	}
	out := make([]compiledPolicy, 0, len(pvs))
	for _, pv := range pvs {
		s.mu.Lock()
		cp, ok := s.policies[pv.Digest]
		s.mu.Unlock()
		if !ok {
			p, err := service.CheckPolicy(pv.Name+"@"+pv.Version, []byte(pv.Document))
			if err != nil {
				return nil, fmt.Errorf("stored policy %s@%s: %w", pv.Name, pv.Version, err)
			}
			cp = &compiledPolicy{pv: pv, p: p}
			s.mu.Lock()
			s.policies[pv.Digest] = cp
			s.mu.Unlock()
		}
		c := *cp
		c.pv = pv
		out = append(out, c)
	}
	return out, nil
}

func gateVersions(cps []compiledPolicy) []gate.Version {
	out := make([]gate.Version, len(cps))
	for i, c := range cps {
		out[i] = gate.Version{Policy: c.p, PublishedAt: c.pv.PublishedAt}
	}
	return out
}

// modelList returns every recorded model, by id.
func (s *Server) modelList(ctx context.Context) ([]evidence.Model, error) {
	var out []evidence.Model
	err := s.svc.Store.View(ctx, func(r store.Reader) error {
		recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindModel}})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var m evidence.Model
			if _, err := decodeRecord(rec, &m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, err
}

// modelData is everything recorded about a model. It is shared between
// requests (cached): nothing may modify it.
type modelData struct {
	ev       gate.Evidence
	versions []compiledPolicy
	// maxSeq is the log index of the newest evidence record.
	maxSeq int64
}

// errNoModel is returned for an unknown model.
func errNoModel(id string) error {
	return errorf(404, "unknown model %q", id)
}

// loadModel reads a model, its evidence and its policy's versions. The
// log is append-only and every record about a model names it, so what is
// read is cached under the newest record about the model and the newest
// policy version.
func (s *Server) loadModel(ctx context.Context, id string) (*modelData, error) {
	var m evidence.Model
	newest := int64(-1)
	err := s.svc.Store.View(ctx, func(r store.Reader) error {
		rec, err := r.Get(ctx, store.KindModel, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNoModel(id)
		}
		if err != nil {
			return err
		}
		if _, err := decodeRecord(*rec, &m); err != nil {
			return err
		}
		recs, err := r.List(ctx, store.Query{Model: id, Limit: 1})
		if err != nil {
			return err
		}
		newest = rec.Index
		if len(recs) > 0 {
			newest = max(newest, recs[0].Index)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	versions, err := s.policyVersions(ctx, m.Policy)
	if err != nil && !service.IsNotFound(err) {
		return nil, err
	}
	lastPolicy := int64(-1)
	for _, v := range versions {
		lastPolicy = max(lastPolicy, v.pv.Index)
	}
	key := id + "\x00" + strconv.FormatInt(newest, 10) + "\x00" + strconv.FormatInt(lastPolicy, 10)
	if d, ok := s.data.get(key); ok {
		return d, nil
	}
	d := &modelData{versions: versions, maxSeq: -1}
	d.ev.Model = m
	err = s.svc.Store.View(ctx, func(r store.Reader) error {
		recs, err := r.List(ctx, store.Query{Kinds: evidenceKinds, Model: id})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			d.maxSeq = max(d.maxSeq, rec.Index)
			if err := d.add(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.data.put(key, d)
	return d, nil
}

// add decodes one evidence record as the service's loadEvidence does.
func (d *modelData) add(rec store.Record) error {
	meta := evidence.Meta{Seq: rec.Index}
	setMeta := func(env envelope) {
		meta.RecordedBy = env.By
		if env.Signature != nil {
			meta.SignedBy = env.Signature.Attester
		}
	}
	ev := &d.ev
	switch rec.Kind {
	case store.KindCheckpoint:
		var x evidence.Checkpoint
		env, err := decodeRecord(rec, &x)
		if err != nil {
			return err
		}
		setMeta(env)
		x.Meta = meta
		ev.Checkpoints = append(ev.Checkpoints, x)
	case store.KindResult:
		var x evidence.Result
		env, err := decodeRecord(rec, &x)
		if err != nil {
			return err
		}
		setMeta(env)
		x.Meta = meta
		ev.Results = append(ev.Results, x)
	case store.KindSafeguard:
		var x evidence.SafeguardStatus
		env, err := decodeRecord(rec, &x)
		if err != nil {
			return err
		}
		setMeta(env)
		x.Meta = meta
		ev.Safeguards = append(ev.Safeguards, x)
	case store.KindDetermination:
		var x evidence.Determination
		env, err := decodeRecord(rec, &x)
		if err != nil {
			return err
		}
		setMeta(env)
		x.Meta = meta
		ev.Determinations = append(ev.Determinations, x)
	case store.KindSafetyCase:
		var x evidence.SafetyCase
		env, err := decodeRecord(rec, &x)
		if err != nil {
			return err
		}
		setMeta(env)
		x.Meta = meta
		ev.SafetyCases = append(ev.SafetyCases, x)
	case store.KindEscape:
		var x evidence.Escape
		env, err := decodeRecord(rec, &x)
		if err != nil {
			return err
		}
		setMeta(env)
		x.Meta = meta
		ev.Escapes = append(ev.Escapes, x)
	}
	return nil
}

// analysis is the gate's reading of a model as of a time. It is a pure
// function of the evidence recorded for a time at or before then and of
// the policy version in force, so it is cached under those. Forecasts,
// which cost far more than the rest, are computed on first use.
type analysis struct {
	in       gate.Input
	cur      *gate.Version
	probe    gate.Decision
	assessed []gate.CheckpointScores

	once      sync.Once
	forecasts []gate.ThresholdForecast
	fits      map[string]*forecast.Fit // by evaluation

	// charts are the model page's charts (public view), drawn once.
	chartsOnce sync.Once
	charts     []chartView
}

// analyse runs the gate over a model's evidence as of at.
func (s *Server) analyse(d *modelData, at time.Time) *analysis {
	versions := gateVersions(d.versions)
	cur, _ := gate.InForce(versions, at)
	n := 0
	for _, c := range d.ev.Checkpoints {
		if !c.At.After(at) {
			n++
		}
	}
	for _, r := range d.ev.Results {
		if !r.At.After(at) {
			n++
		}
	}
	for _, x := range d.ev.Safeguards {
		if !x.At.After(at) {
			n++
		}
	}
	for _, x := range d.ev.Determinations {
		if !x.At.After(at) {
			n++
		}
	}
	for _, x := range d.ev.SafetyCases {
		if !x.At.After(at) {
			n++
		}
	}
	for _, x := range d.ev.Escapes {
		if !x.At.After(at) {
			n++
		}
	}
	digest := ""
	if cur != nil {
		digest = cur.Policy.Digest
	}
	key := d.ev.Model.ID + "\x00" + strconv.FormatInt(d.maxSeq, 10) + "\x00" + strconv.Itoa(n) + "\x00" + digest
	if a, ok := s.cache.get(key); ok {
		return a
	}
	a := &analysis{cur: cur}
	a.in = gate.Input{Versions: versions, Evidence: d.ev, Action: gate.Action{Kind: gate.Scale, Model: d.ev.Model.ID, ToCompute: math.MaxFloat64, At: at}}
	a.probe = gate.Decide(a.in)
	a.assessed = gate.AssessedScores(a.in)
	s.cache.put(key, a)
	return a
}

// forecast returns the gate's forecasts and, for each forecast
// evaluation, the fitted curve drawn on its chart: the same points and
// options the forecast fits.
func (a *analysis) forecast() ([]gate.ThresholdForecast, map[string]*forecast.Fit) {
	a.once.Do(func() {
		a.fits = map[string]*forecast.Fit{}
		if a.cur == nil {
			return
		}
		a.forecasts = gate.Forecasts(a.in, 0)
		for _, fc := range a.forecasts {
			if fc.Evaluation == "" || a.fits[fc.Evaluation] != nil {
				continue
			}
			ev := a.cur.Policy.Evaluation(fc.Evaluation)
			if ev == nil {
				continue
			}
			var pts []forecast.Point
			for _, cs := range a.assessed {
				if v, ok := cs.Scores[ev.ID]; ok {
					pts = append(pts, forecast.Point{Compute: cs.Compute, Score: v})
				}
			}
			if f, err := forecast.FitCurve(pts, forecast.Options{Chance: ev.Chance, Resamples: gate.ForecastResamples, Seed: gate.ForecastSeed}); err == nil {
				a.fits[ev.ID] = &f
			}
		}
	})
	return a.forecasts, a.fits
}

// ModelSummary is a model in the list of models.
type ModelSummary struct {
	ID        string `json:"id"`
	Developer string `json:"developer,omitempty"`
	Policy    string `json:"policy"`
}

// ModelView is a model as of a time: the policy in force, each threshold's
// state, the safeguards, the checkpoints with their results, and the
// forecasts. In the public view confidential values are left out.
type ModelView struct {
	ID        string    `json:"id"`
	Developer string    `json:"developer,omitempty"`
	Policy    string    `json:"policy"`
	AsOf      time.Time `json:"asOf"`
	// Trusted says whether confidential values are shown.
	Trusted bool `json:"trusted"`
	// InForce is the policy version in force; nil when none is.
	InForce *gate.PolicyRef `json:"inForce,omitempty"`
	// Assessment is the assessed checkpoint with the greatest compute.
	Assessment *gate.Assessment `json:"assessment,omitempty"`
	Thresholds []ThresholdView  `json:"thresholds"`
	Safeguards []SafeguardView  `json:"safeguards"`
	// Checkpoints are in order of effective compute.
	Checkpoints []CheckpointView         `json:"checkpoints"`
	Forecasts   []gate.ThresholdForecast `json:"forecasts,omitempty"`
	// Withheld counts confidential results whose values the view leaves
	// out.
	Withheld int `json:"withheld,omitempty"`

	policy   *policy.Policy
	fits     map[string]*forecast.Fit
	analysis *analysis
}

// ThresholdView is a threshold of the policy in force and its state.
type ThresholdView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Domain      string `json:"domain"`
	Description string `json:"description,omitempty"`
	// State is the gate's: clear, warning, crossed or unknown.
	State   string             `json:"state"`
	Inputs  map[string]float64 `json:"inputs,omitempty"`
	Missing []string           `json:"missing,omitempty"`
	Since   string             `json:"since,omitempty"`
	RedLine bool               `json:"redLine,omitempty"`
	// Trigger, Warning and Clear are the conditions' sources.
	Trigger       string                 `json:"trigger,omitempty"`
	Warning       string                 `json:"warning,omitempty"`
	Clear         string                 `json:"clear,omitempty"`
	Determination *gate.DeterminationRef `json:"determination,omitempty"`
	// Requires are the required safeguards, each with whether it is in
	// force; SafeguardsInForce is true when all are.
	Requires          []SafeguardView `json:"requires"`
	SafeguardsInForce bool            `json:"safeguardsInForce"`
	Confidential      []string        `json:"confidential,omitempty"`
}

// SafeguardView is a safeguard's status for the model.
type SafeguardView struct {
	ID          string `json:"id"`
	Kind        string `json:"kind,omitempty"`
	Attestation string `json:"attestation,omitempty"`
	InForce     bool   `json:"inForce"`
	// Why says why the safeguard is not in force.
	Why string `json:"why,omitempty"`
	// Status, By and At are from the newest status record, if any.
	Status string     `json:"status,omitempty"`
	By     string     `json:"by,omitempty"`
	At     *time.Time `json:"at,omitempty"`
}

// CheckpointView is a checkpoint and its results.
type CheckpointView struct {
	ID               string       `json:"id"`
	EffectiveCompute float64      `json:"effectiveCompute"`
	At               time.Time    `json:"at"`
	Assessed         bool         `json:"assessed"`
	Results          []ResultView `json:"results"`
}

// ResultView is one recorded result. Score, Stderr, Samples and Source are
// absent from the public view of a confidential result.
type ResultView struct {
	LogIndex     int64            `json:"logIndex"`
	Evaluation   string           `json:"evaluation"`
	Score        *float64         `json:"score,omitempty"`
	Stderr       *float64         `json:"stderr,omitempty"`
	Samples      int64            `json:"samples,omitempty"`
	Elicitation  string           `json:"elicitation"`
	At           time.Time        `json:"at"`
	Incomplete   bool             `json:"incomplete,omitempty"`
	Confidential bool             `json:"confidential,omitempty"`
	Source       *evidence.Source `json:"source,omitempty"`
	RecordedBy   string           `json:"recordedBy,omitempty"`
	// Qualifies says whether the result can count for the gate under the
	// policy in force: its evaluation is declared, it is complete, and its
	// elicitation is at least the evaluation's minimum. WhyNot says why
	// not.
	Qualifies bool   `json:"qualifies"`
	WhyNot    string `json:"whyNot,omitempty"`
}

// modelView builds the view of a model as of at; forecasts only when
// asked for.
func (s *Server) modelView(ctx context.Context, id string, at time.Time, trusted, forecasts bool) (*ModelView, error) {
	d, err := s.loadModel(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.viewOf(d, at, trusted, forecasts), nil
}

func (s *Server) viewOf(d *modelData, at time.Time, trusted, withForecasts bool) *ModelView {
	m := d.ev.Model
	v := &ModelView{ID: m.ID, Developer: m.Developer, Policy: m.Policy, AsOf: at, Trusted: trusted, Thresholds: []ThresholdView{}, Safeguards: []SafeguardView{}, Checkpoints: []CheckpointView{}}
	a := s.analyse(d, at)
	v.analysis = a
	cur, pending := gate.InForce(gateVersions(d.versions), at)
	if cur != nil {
		v.InForce = &gate.PolicyRef{Name: cur.Policy.Metadata.Name, Version: cur.Policy.Metadata.Version, Digest: cur.Policy.Digest, Pending: pending}
	}
	v.Assessment = a.probe.Assessment
	// Evaluations with any confidential result: the public view shows no
	// forecast or fitted curve for them, which are computed from the
	// values.
	confEvals := map[string]bool{}
	for _, r := range d.ev.Results {
		if r.Confidential {
			confEvals[r.Evaluation] = true
		}
	}
	var p *policy.Policy
	if cur != nil {
		p = cur.Policy
		v.policy = p
	}
	sgs := safeguardStates(p, d.ev, at)
	if p != nil {
		for _, sg := range p.Safeguards {
			v.Safeguards = append(v.Safeguards, sgs[sg.ID])
		}
		states := map[string]gate.ThresholdState{}
		for _, ts := range a.probe.Thresholds {
			states[ts.ID] = ts
		}
		for _, t := range p.Thresholds {
			ts := states[t.ID]
			tv := ThresholdView{ID: t.ID, Name: t.Name, Domain: t.Domain, Description: t.Description, State: ts.State, Missing: ts.Missing, Since: ts.Since,
				RedLine: t.RedLine, Trigger: t.Trigger, Warning: t.Warning, Clear: t.Clear, Determination: ts.Determination,
				Requires: []SafeguardView{}, SafeguardsInForce: true, Confidential: ts.Confidential}
			if tv.State == "" {
				tv.State = gate.StateUnknown
			}
			tv.Inputs = redactInputs(ts, trusted)
			for _, id := range t.Requires {
				sv := sgs[id]
				tv.Requires = append(tv.Requires, sv)
				if !sv.InForce {
					tv.SafeguardsInForce = false
				}
			}
			v.Thresholds = append(v.Thresholds, tv)
		}
		v.fits = map[string]*forecast.Fit{}
		if withForecasts {
			fcs, fits := a.forecast()
			for _, fc := range fcs {
				if trusted || !confEvals[fc.Evaluation] {
					v.Forecasts = append(v.Forecasts, fc)
				}
			}
			for e, f := range fits {
				if trusted || !confEvals[e] {
					v.fits[e] = f
				}
			}
		}
	}
	assessed := map[string]bool{}
	for _, cs := range a.assessed {
		assessed[cs.Checkpoint] = true
	}
	byID := map[string]int{}
	for _, c := range d.ev.Checkpoints {
		if c.At.After(at) {
			continue
		}
		byID[c.ID] = len(v.Checkpoints)
		v.Checkpoints = append(v.Checkpoints, CheckpointView{ID: c.ID, EffectiveCompute: c.EffectiveCompute, At: c.At, Assessed: assessed[c.ID], Results: []ResultView{}})
	}
	for _, r := range d.ev.Results {
		i, ok := byID[r.Checkpoint]
		if !ok || r.At.After(at) {
			continue
		}
		rv := ResultView{LogIndex: r.Seq, Evaluation: r.Evaluation, Elicitation: r.Elicitation, At: r.At, Incomplete: r.Incomplete, Confidential: r.Confidential, RecordedBy: r.RecordedBy}
		if trusted || !r.Confidential {
			score := r.Score
			rv.Score, rv.Stderr, rv.Samples, rv.Source = &score, r.Stderr, r.Samples, r.Source
		} else {
			v.Withheld++
		}
		switch {
		case p == nil:
			rv.WhyNot = "no policy version is in force"
		case p.Evaluation(r.Evaluation) == nil:
			rv.WhyNot = fmt.Sprintf("evaluation not in %s %s", p.Metadata.Name, p.Metadata.Version)
		case r.Incomplete:
			rv.WhyNot = "marked incomplete"
		case policy.ElicitationRank(r.Elicitation) < policy.ElicitationRank(p.Evaluation(r.Evaluation).MinElicitation):
			rv.WhyNot = fmt.Sprintf("elicitation %s is below the minimum %s", r.Elicitation, p.Evaluation(r.Evaluation).MinElicitation)
		default:
			rv.Qualifies = true
		}
		v.Checkpoints[i].Results = append(v.Checkpoints[i].Results, rv)
	}
	sort.SliceStable(v.Checkpoints, func(i, j int) bool {
		return v.Checkpoints[i].EffectiveCompute < v.Checkpoints[j].EffectiveCompute
	})
	return v
}

// redactInputs returns a threshold state's inputs, without confidential
// ones unless trusted.
func redactInputs(ts gate.ThresholdState, trusted bool) map[string]float64 {
	if trusted || len(ts.Confidential) == 0 {
		return ts.Inputs
	}
	out := map[string]float64{}
	for k, x := range ts.Inputs {
		if !contains(ts.Confidential, k) {
			out[k] = x
		}
	}
	return out
}

// publicDecision returns d without confidential inputs.
func publicDecision(d gate.Decision) gate.Decision {
	th := make([]gate.ThresholdState, len(d.Thresholds))
	for i, ts := range d.Thresholds {
		ts.Inputs = redactInputs(ts, false)
		th[i] = ts
	}
	d.Thresholds = th
	return d
}

// safeguardStates says, for each safeguard of p, whether it is in force
// for the model at at, by the gate's rule (DESIGN.md, scale step 5): its
// newest status record by at (then log order) is implemented and, for an
// externally attested safeguard, made by one of the policy's attesters,
// with a verified signature when that attester has a key.
func safeguardStates(p *policy.Policy, ev gate.Evidence, at time.Time) map[string]SafeguardView {
	out := map[string]SafeguardView{}
	if p == nil {
		return out
	}
	newest := map[string]*evidence.SafeguardStatus{}
	for i := range ev.Safeguards {
		x := &ev.Safeguards[i]
		if x.At.After(at) || x.Model != ev.Model.ID {
			continue
		}
		if o := newest[x.Safeguard]; o != nil && (x.At.Before(o.At) || x.At.Equal(o.At) && x.Seq < o.Seq) {
			continue
		}
		newest[x.Safeguard] = x
	}
	for _, sg := range p.Safeguards {
		v := SafeguardView{ID: sg.ID, Kind: sg.Kind, Attestation: sg.Attestation}
		x := newest[sg.ID]
		switch {
		case x == nil:
			v.Why = "no status recorded"
		case x.Status != evidence.Implemented:
			v.Why = fmt.Sprintf("%s by %s", x.Status, x.By)
		case sg.Attestation == "external" && p.Attester(x.By) == nil:
			v.Why = fmt.Sprintf("marked implemented by %s, who is not an external attester of the policy", x.By)
		case sg.Attestation == "external" && p.Attester(x.By).Key != "" && x.SignedBy != x.By:
			v.Why = fmt.Sprintf("claimed by %s without that attester's signature", x.By)
		default:
			v.InForce = true
		}
		if x != nil {
			t := x.At
			v.Status, v.By, v.At = x.Status, x.By, &t
		}
		out[sg.ID] = v
	}
	return out
}
