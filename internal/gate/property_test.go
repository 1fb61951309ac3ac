package gate_test

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
)

const propertyIterations = 3000

// gen draws random inputs: random scores, times, elicitations and
// missing, incomplete, foreign or dangling records.
type gen struct {
	r   *rand.Rand
	seq int64
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// day draws a time on a coarse grid, so that equal times (ties) are common.
func (g *gen) day(max int) time.Time { return day(float64(g.r.IntN(max*2)) / 2) }

func (g *gen) meta() evidence.Meta { g.seq++; return evidence.Meta{Seq: g.seq} }

func (g *gen) input(policies []*policy.Policy) gate.Input {
	var in gate.Input
	switch g.r.IntN(10) {
	case 0: // no policy
	case 1: // published late
		in.Versions = []gate.Version{{Policy: policies[g.r.IntN(len(policies))], PublishedAt: g.day(100)}}
	case 2: // two versions
		in.Versions = []gate.Version{
			{Policy: policies[0], PublishedAt: t0},
			{Policy: mustVersion(policies[g.r.IntN(len(policies))]), PublishedAt: g.day(60)},
		}
	default:
		in.Versions = []gate.Version{{Policy: policies[g.r.IntN(len(policies))], PublishedAt: t0}}
	}
	e := &in.Evidence
	e.Model = evidence.Model{ID: "atlas", Policy: "test-rsp"}
	computes := []float64{0, 1e22, 1e23, 5e23, 1e24, 2e24, 4e24, 1e25}
	n := g.r.IntN(7)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("atlas-c%d", i)
		ids = append(ids, id)
		e.Checkpoints = append(e.Checkpoints, evidence.Checkpoint{ID: id, Model: "atlas", EffectiveCompute: computes[g.r.IntN(len(computes))], At: g.day(60), Meta: g.meta()})
	}
	cps := append(slices.Clone(ids), "ghost")
	for _, cp := range cps {
		// Most checkpoints get a complete assessment, so that the later
		// steps are reached; random records below may spoil or supersede
		// it.
		if g.r.IntN(10) < 7 {
			for _, ev := range []string{"bio", "rebench", "cyber"}[:2+g.r.IntN(2)] {
				e.Results = append(e.Results, evidence.Result{Checkpoint: cp, Evaluation: ev, Score: g.score(), Elicitation: "finetuned", At: g.day(80), Meta: g.meta()})
			}
			e.Determinations = append(e.Determinations, evidence.Determination{Checkpoint: cp, Threshold: "auto-2", Crossed: g.r.IntN(6) == 0, By: "rso", Rationale: "r", At: g.day(80), Meta: g.meta()})
		}
		for _, ev := range []string{"bio", "rebench", "cyber", "undeclared"} {
			for range g.r.IntN(3) {
				e.Results = append(e.Results, evidence.Result{
					Checkpoint: cp, Evaluation: ev, Score: g.score(), Elicitation: g.pick(append([]string{"finetuned", "finetuned", "finetuned"}, policy.Elicitations...)...),
					At: g.day(80), Incomplete: g.r.IntN(10) == 0, Meta: g.meta(),
				})
			}
		}
		for range g.r.IntN(2) {
			e.Determinations = append(e.Determinations, evidence.Determination{
				Checkpoint: cp, Threshold: g.pick("auto-2", "auto-2", "cbrn-3", "bogus"), Crossed: g.r.IntN(4) == 0,
				By: g.pick("rso", "rso", "rso", "intern"), Rationale: "r", At: g.day(80), Meta: g.meta(),
			})
		}
	}
	for range g.r.IntN(5) {
		e.Safeguards = append(e.Safeguards, evidence.SafeguardStatus{
			Safeguard: g.pick("sec", "dep", "bogus"), Model: g.pick("atlas", "atlas", "other"), Status: g.pick(evidence.Implemented, evidence.Implemented, evidence.Revoked),
			By: g.pick("auditor", "keyed-auditor", "security-team"), At: g.day(80), Meta: evidence.Meta{Seq: g.meta().Seq, SignedBy: g.pick("", "keyed-auditor")},
		})
	}
	for i := range g.r.IntN(3) {
		e.SafetyCases = append(e.SafetyCases, evidence.SafetyCase{
			ID: fmt.Sprintf("sc-%d", i), Model: g.pick("atlas", "other"), CoversCompute: computes[1+g.r.IntN(len(computes)-1)] * 2,
			ApprovedBy: g.pick("auditor", "rso", "keyed-auditor"), At: g.day(80), Meta: g.meta(),
		})
	}
	for range g.r.IntN(2) * g.r.IntN(2) {
		e.Escapes = append(e.Escapes, evidence.Escape{Model: g.pick("atlas", "other"), By: g.pick("rso", "ceo"), Rationale: "r", At: g.day(80), Meta: g.meta()})
	}
	at := g.day(300)
	if g.r.IntN(2) == 0 {
		in.Action = gate.Action{Kind: gate.Scale, Model: "atlas", ToCompute: computes[g.r.IntN(len(computes))] * float64(1+g.r.IntN(8)), At: at}
	} else {
		in.Action = gate.Action{Kind: gate.Deploy, Model: "atlas", Checkpoint: g.pick(cps...), Mode: g.pick(policy.Modes...), At: at}
	}
	return in
}

// score draws a score, often exactly on a boundary of the test policies.
func (g *gen) score() float64 {
	if g.r.IntN(4) == 0 {
		return []float64{0.5, 0.6, 0.7, 0.8, 0.9}[g.r.IntN(5)]
	}
	return g.r.Float64()
}

// mustVersion returns p renamed to version 2.0.0, so that it can follow
// another version.
func mustVersion(p *policy.Policy) *policy.Policy {
	q, err := policy.Parse("v2.yaml", bytes.Replace(p.Source, []byte("version: 1.0.0"), []byte("version: 2.0.0"), 1))
	if err != nil {
		panic(err)
	}
	return q
}

// shuffled returns in with every record list in a random order (sequence
// numbers unchanged).
func (g *gen) shuffled(in gate.Input) gate.Input {
	e := in.Evidence
	e.Checkpoints = shuffle(g.r, e.Checkpoints)
	e.Results = shuffle(g.r, e.Results)
	e.Safeguards = shuffle(g.r, e.Safeguards)
	e.Determinations = shuffle(g.r, e.Determinations)
	e.SafetyCases = shuffle(g.r, e.SafetyCases)
	e.Escapes = shuffle(g.r, e.Escapes)
	in.Evidence = e
	in.Versions = shuffle(g.r, in.Versions)
	return in
}

func shuffle[T any](r *rand.Rand, xs []T) []T {
	out := slices.Clone(xs)
	r.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

// structure is the part of a decision that must not depend on the order of
// records (messages may list records in the order given).
func structure(d gate.Decision) string {
	s := fmt.Sprintf("%s %+v %v\n", d.Verdict, d.Assessment, reasonKeys(d))
	if d.Policy != nil {
		s += fmt.Sprintf("%s %s %+v\n", d.Policy.Version, d.Policy.Digest, d.Policy.Pending)
	}
	for _, t := range d.Thresholds {
		s += fmt.Sprintf("%s %s %v %v %s %+v\n", t.ID, t.State, t.Inputs, t.Missing, t.Since, t.Determination)
	}
	for _, r := range d.Reasons {
		s += fmt.Sprintf("%s %v", reasonKey(r), r.Safeguards)
		for _, o := range r.Overrode {
			s += " " + reasonKey(o)
		}
		s += "\n"
	}
	return s
}

func TestDecideProperties(t *testing.T) {
	clearPol := patch(t, basePolicy, `clear: score("bio") < 0.50`, `clear: score("bio") < 0.50 && score("cyber") < 0.50`)
	trigPol := patch(t, basePolicy, `trigger: score("bio") >= 0.70`, `trigger: score("bio") >= 0.70 || score("cyber") >= 0.90`)
	var policies []*policy.Policy
	for _, src := range []string{basePolicy, cyberPolicy(t), celPolicy(t), escapePolicy(t), affirmativePolicy(t), noClearPolicy(t), clearPol, trigPol} {
		policies = append(policies, mustPolicy(t, src))
	}
	g := &gen{r: rand.New(rand.NewPCG(20260101, 7))}
	seen := map[string]int{} // reason codes, threshold states and verdicts drawn
	for i := range propertyIterations {
		in := g.input(policies)
		what := fmt.Sprintf("iteration %d: %s", i, describe(in.Action))
		d, ok := decideRecovering(t, what, in)
		if !ok {
			continue
		}
		checkInvariants(t, what, d)
		seen[d.Verdict]++
		for _, r := range d.Reasons {
			seen[r.Code]++
		}
		for _, ts := range d.Thresholds {
			seen[ts.State]++
		}
		// Deterministic: the same input gives the identical decision.
		d2, _ := decideRecovering(t, what, in)
		if a, b := mustJSON(t, d), mustJSON(t, d2); !bytes.Equal(a, b) {
			t.Errorf("Decide(%s) is not deterministic:\n%s\nthen\n%s", what, a, b)
		}
		// The order records are given in does not matter: newest wins by
		// (at, seq), whatever the position.
		d3, ok := decideRecovering(t, what, g.shuffled(in))
		if ok && structure(d) != structure(d3) {
			t.Errorf("Decide(%s) depends on the order of records:\n%s\nshuffled:\n%s", what, structure(d), structure(d3))
		}
		checkReference(t, what, in, d)
		if t.Failed() {
			t.Fatalf("stopping at the first failing iteration (%d)", i)
		}
	}
	// The generator must reach every outcome, or the properties above
	// say little.
	for _, k := range []string{
		gate.AllowVerdict, gate.DenyVerdict, gate.StateClear, gate.StateWarning, gate.StateCrossed, gate.StateUnknown,
		gate.NoAssessment, gate.StaleAssessment, gate.InsufficientEvidence, gate.ThresholdWarning, gate.SafeguardsMissing,
		gate.RedLine, gate.DeploymentDenied, gate.SafetyCaseMissing, gate.PolicyNotInForce, gate.EscapeClause,
	} {
		if seen[k] < 10 {
			t.Errorf("random inputs produced %s %d times in %d decisions, want at least 10 (seen: %v)", k, seen[k], propertyIterations, seen)
		}
	}
}

func decideRecovering(t *testing.T, what string, in gate.Input) (d gate.Decision, ok bool) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("Decide(%s) panicked: %v\ninput: %+v", what, r, in)
			ok = false
		}
	}()
	return gate.Decide(in), true
}

// refScores is a checkpoint's qualifying scores.
type refScores map[string]float64

func (s refScores) Score(id string) (float64, bool) { v, ok := s[id]; return v, ok }

type refCkpt struct {
	cp       evidence.Checkpoint
	scores   refScores
	assessed bool
	assessAt time.Time
}

// reference recomputes the assessed checkpoints of in, straight from
// DESIGN.md, independently of the gate's implementation.
func reference(p *policy.Policy, in gate.Input) []*refCkpt {
	at := in.Action.At
	newer := func(a time.Time, as int64, b time.Time, bs int64) bool {
		return a.After(b) || (a.Equal(b) && as > bs)
	}
	var out []*refCkpt
	for _, c := range in.Evidence.Checkpoints {
		if c.At.After(at) {
			continue
		}
		k := &refCkpt{cp: c, scores: refScores{}, assessed: true}
		type rec struct {
			at  time.Time
			seq int64
		}
		best := map[string]rec{}
		for _, r := range in.Evidence.Results {
			ev := p.Evaluation(r.Evaluation)
			if r.Checkpoint != c.ID || r.At.After(at) || ev == nil || r.Incomplete || policy.ElicitationRank(r.Elicitation) < policy.ElicitationRank(ev.MinElicitation) {
				continue
			}
			if b, ok := best[r.Evaluation]; !ok || newer(r.At, r.Seq, b.at, b.seq) {
				best[r.Evaluation] = rec{r.At, r.Seq}
				k.scores[r.Evaluation] = r.Score
			}
		}
		for _, ev := range p.Evaluations {
			if !ev.IsRequired() {
				continue
			}
			b, ok := best[ev.ID]
			if !ok {
				k.assessed = false
			} else if b.at.After(k.assessAt) {
				k.assessAt = b.at
			}
		}
		for _, th := range p.Thresholds {
			if !th.NeedsDetermination() {
				continue
			}
			var found *evidence.Determination
			for i, x := range in.Evidence.Determinations {
				if x.Checkpoint == c.ID && x.Threshold == th.ID && !x.At.After(at) && p.IsDecisionMaker(x.By) {
					if found == nil || newer(x.At, x.Seq, found.At, found.Seq) {
						found = &in.Evidence.Determinations[i]
					}
				}
			}
			if found == nil {
				k.assessed = false
			} else if found.At.After(k.assessAt) {
				k.assessAt = found.At
			}
		}
		out = append(out, k)
	}
	slices.SortStableFunc(out, func(a, b *refCkpt) int {
		return cmp.Or(cmp.Compare(a.cp.EffectiveCompute, b.cp.EffectiveCompute), a.cp.At.Compare(b.cp.At), cmp.Compare(a.cp.Seq, b.cp.Seq))
	})
	return out
}

// checkReference checks the decision's assessment and the state of every
// triggered threshold against a forward walk of the recurrence in
// DESIGN.md: crossed(i) = trigger(i) ∨ (crossed(i−1) ∧ ¬clear(i)), without
// clear crossed(i) = trigger(i); evaluated in three-valued logic.
func checkReference(t *testing.T, what string, in gate.Input, d gate.Decision) {
	t.Helper()
	v, _ := gate.InForce(in.Versions, in.Action.At.UTC())
	if v == nil {
		return
	}
	p := v.Policy
	all := reference(p, in)
	var walk []*refCkpt
	switch in.Action.Kind {
	case gate.Scale:
		if p.Cadence.ExemptBelowCompute > 0 && in.Action.ToCompute <= p.Cadence.ExemptBelowCompute {
			return
		}
		for _, k := range all {
			if k.assessed {
				walk = append(walk, k)
			}
		}
	case gate.Deploy:
		for _, k := range all {
			if k.assessed {
				walk = append(walk, k)
			}
			if k.cp.ID == in.Action.Checkpoint {
				if !k.assessed {
					walk = nil
				}
				break
			}
		}
		if len(walk) > 0 && walk[len(walk)-1].cp.ID != in.Action.Checkpoint {
			walk = nil
		}
	}
	if len(walk) == 0 {
		if d.Assessment != nil {
			t.Errorf("Decide(%s) assessment = %+v, reference has none", what, *d.Assessment)
		}
		return
	}
	A := walk[len(walk)-1]
	if d.Assessment == nil || d.Assessment.Checkpoint != A.cp.ID || !d.Assessment.At.Equal(A.assessAt) {
		t.Errorf("Decide(%s) assessment = %+v, reference %s assessed at %v", what, d.Assessment, A.cp.ID, A.assessAt)
		return
	}
	tri := func(c *policy.Cond, k *refCkpt) policy.Tri { return c.Eval(k.scores, k.cp.EffectiveCompute) }
	for _, th := range p.Thresholds {
		if th.NeedsDetermination() {
			continue
		}
		state := policy.False
		for _, k := range walk {
			trig := tri(th.TriggerCond, k)
			if th.ClearCond == nil {
				state = trig
				continue
			}
			held := policy.False // crossed(i−1) ∧ ¬clear(i)
			if state != policy.False {
				switch tri(th.ClearCond, k) {
				case policy.False:
					held = state
				case policy.Unknown:
					held = policy.Unknown
				}
			}
			switch {
			case trig == policy.True || held == policy.True:
				state = policy.True
			case trig == policy.Unknown || held == policy.Unknown:
				state = policy.Unknown
			default:
				state = policy.False
			}
		}
		want := map[policy.Tri]string{policy.True: gate.StateCrossed, policy.Unknown: gate.StateUnknown, policy.False: gate.StateClear}[state]
		if state == policy.False && th.WarningCond != nil {
			switch tri(th.WarningCond, A) {
			case policy.True:
				want = gate.StateWarning
			case policy.Unknown:
				want = gate.StateUnknown
			}
		}
		ts := stateOf(d, th.ID)
		if ts == nil || ts.State != want {
			t.Errorf("Decide(%s) state of %s = %+v, reference %s", what, th.ID, ts, want)
		}
	}
}
