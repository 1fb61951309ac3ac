package gate_test

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
)

// t0 is the publication time of the test policies; day(n) is n days later.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n float64) time.Time { return t0.Add(time.Duration(n * float64(24*time.Hour))) }

// keyedKey is a note verifier key for the attester "keyed-auditor".
const keyedKey = "keyed-auditor+23a07e9d+Aa+m9L+TyBwTpUc9shlqW2158gbEe+6K82EYHTr/fkyz"

// basePolicy is the policy most table tests use:
//
//   - cbrn-3: trigger bio >= 0.70, warning >= 0.60, clear < 0.50; needs sec
//     (external) and dep (self); internal deployment allowed, external
//     requires safeguards, open weights denied.
//   - auto-1: trigger rebench >= 0.80, warning >= 0.50, no clear; needs dep.
//   - auto-2: determination required, red line.
//
// The evaluations bio and rebench are required; cyber is not.
const basePolicy = `apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: test-rsp, version: 1.0.0, developer: Test Lab}
stance: evidence-of-danger
domains:
  - {id: cbrn, name: CBRN}
  - {id: autonomy, name: Autonomy}
  - {id: cyber, name: Cyber}
evaluations:
  - {id: bio, domain: cbrn, kind: capability, minElicitation: finetuned}
  - {id: rebench, domain: autonomy, kind: capability, minElicitation: scaffolded}
  - {id: cyber, domain: cyber, kind: capability, required: false}
thresholds:
  - id: cbrn-3
    domain: cbrn
    name: CBRN-3
    trigger: score("bio") >= 0.70
    warning: score("bio") >= 0.60
    clear: score("bio") < 0.50
    requires: [sec, dep]
    onCross:
      training: pause
      deployment: {internal: allow, external: require-safeguards, open-weights: deny}
  - id: auto-1
    domain: autonomy
    name: AI R&D-1
    trigger: score("rebench") >= 0.80
    warning: score("rebench") >= 0.50
    requires: [dep]
  - id: auto-2
    domain: autonomy
    name: AI R&D-2
    determination: required
    redLine: true
safeguards:
  - {id: sec, kind: security, attestation: external}
  - {id: dep, kind: deployment, attestation: self}
cadence:
  computeMultiple: 4
  interval: 180d
  warningComputeMultiple: 2
  exemptBelowCompute: 1e23
governance:
  decisionMakers: [rso]
  attesters: [auditor, {name: keyed-auditor, key: "` + keyedKey + `"}]
  scrutinyPeriod: 30d
  escapeClause: {allowed: false}
`

// patch returns src with old replaced by new, failing the test when old
// does not occur exactly once (so that a variant cannot silently be the
// base policy).
func patch(tb testing.TB, src string, pairs ...string) string {
	tb.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		if n := strings.Count(src, pairs[i]); n != 1 {
			tb.Fatalf("patch: %q occurs %d times in the policy, want 1", pairs[i], n)
		}
		src = strings.Replace(src, pairs[i], pairs[i+1], 1)
	}
	return src
}

func mustPolicy(tb testing.TB, src string) *policy.Policy {
	tb.Helper()
	p, err := policy.Parse("test.yaml", []byte(src))
	if err != nil {
		tb.Fatalf("policy.Parse: %v\n%s", err, src)
	}
	return p
}

// published is the policy published at t0, alone.
func published(tb testing.TB, src string) []gate.Version {
	tb.Helper()
	return []gate.Version{{Policy: mustPolicy(tb, src), PublishedAt: t0}}
}

// ev builds a model's evidence, assigning sequence numbers in call order.
type ev struct {
	gate.Evidence
	seq int64
}

func newEv() *ev {
	return &ev{Evidence: gate.Evidence{Model: evidence.Model{ID: "atlas", Developer: "Test Lab", Policy: "test-rsp"}}}
}

func (e *ev) next() evidence.Meta { e.seq++; return evidence.Meta{Seq: e.seq} }

func (e *ev) ckpt(id string, compute float64, at time.Time) *ev {
	e.Checkpoints = append(e.Checkpoints, evidence.Checkpoint{ID: id, Model: "atlas", EffectiveCompute: compute, At: at, Meta: e.next()})
	return e
}

func (e *ev) result(cp, eval string, score float64, elicitation string, at time.Time) *ev {
	e.Results = append(e.Results, evidence.Result{Checkpoint: cp, Evaluation: eval, Score: score, Elicitation: elicitation, Samples: 100, At: at, Meta: e.next()})
	return e
}

func (e *ev) incomplete(cp, eval string, score float64, elicitation string, at time.Time) *ev {
	e.result(cp, eval, score, elicitation, at)
	e.Results[len(e.Results)-1].Incomplete = true
	return e
}

func (e *ev) det(cp, threshold string, crossed bool, by string, at time.Time) *ev {
	e.Determinations = append(e.Determinations, evidence.Determination{Checkpoint: cp, Threshold: threshold, Crossed: crossed, By: by, Rationale: "test", At: at, Meta: e.next()})
	return e
}

func (e *ev) sg(id, status, by string, at time.Time) *ev {
	e.Safeguards = append(e.Safeguards, evidence.SafeguardStatus{Safeguard: id, Model: "atlas", Status: status, By: by, At: at, Meta: e.next()})
	return e
}

func (e *ev) signedSg(id, by, signedBy string, at time.Time) *ev {
	e.sg(id, evidence.Implemented, by, at)
	e.Safeguards[len(e.Safeguards)-1].SignedBy = signedBy
	return e
}

func (e *ev) safetyCase(id string, covers float64, by string, at time.Time) *ev {
	e.SafetyCases = append(e.SafetyCases, evidence.SafetyCase{ID: id, Model: "atlas", CoversCompute: covers, ApprovedBy: by, At: at, Meta: e.next()})
	return e
}

func (e *ev) escape(by string, at time.Time) *ev {
	e.Escapes = append(e.Escapes, evidence.Escape{Model: "atlas", By: by, Rationale: "emergency", At: at, Meta: e.next()})
	return e
}

// assessed records checkpoint cp (created on day d) with qualifying bio and
// rebench results on day d+1 and a "not crossed" auto-2 determination by
// the decision-maker on day d+2: the checkpoint is assessed at day d+2.
func (e *ev) assessed(cp string, compute, bio, rebench float64, d float64) *ev {
	return e.ckpt(cp, compute, day(d)).
		result(cp, "bio", bio, "finetuned", day(d+1)).
		result(cp, "rebench", rebench, "scaffolded", day(d+1)).
		det(cp, "auto-2", false, "rso", day(d+2))
}

// allSafeguards puts sec (attested by auditor) and dep in force on day d.
func (e *ev) allSafeguards(d float64) *ev {
	return e.sg("sec", evidence.Implemented, "auditor", day(d)).sg("dep", evidence.Implemented, "safety-team", day(d))
}

func scaleTo(c float64, at time.Time) gate.Action {
	return gate.Action{Kind: gate.Scale, Model: "atlas", ToCompute: c, At: at}
}

func deploy(cp, mode string, at time.Time) gate.Action {
	return gate.Action{Kind: gate.Deploy, Model: "atlas", Checkpoint: cp, Mode: mode, At: at}
}

// reasonKeys renders a decision's reasons as sorted "CODE", "CODE:threshold"
// and "CODE(ignored)" keys, so that tests compare the set of reasons
// without depending on their order or wording.
func reasonKeys(d gate.Decision) []string {
	out := make([]string, 0, len(d.Reasons))
	for _, r := range d.Reasons {
		out = append(out, reasonKey(r))
	}
	slices.Sort(out)
	return out
}

func reasonKey(r gate.Reason) string {
	k := r.Code
	if r.Threshold != "" {
		k += ":" + r.Threshold
	}
	if r.Ignored {
		k += "(ignored)"
	}
	return k
}

func sorted(xs []string) []string {
	out := slices.Clone(xs)
	if out == nil {
		out = []string{}
	}
	slices.Sort(out)
	return out
}

func stateOf(d gate.Decision, id string) *gate.ThresholdState {
	for i := range d.Thresholds {
		if d.Thresholds[i].ID == id {
			return &d.Thresholds[i]
		}
	}
	return nil
}

func reasonOf(d gate.Decision, code, threshold string) *gate.Reason {
	for i := range d.Reasons {
		if d.Reasons[i].Code == code && d.Reasons[i].Threshold == threshold {
			return &d.Reasons[i]
		}
	}
	return nil
}

func describe(a gate.Action) string {
	if a.Kind == gate.Deploy {
		return "deploy " + a.Checkpoint + " " + a.Mode + " at " + a.At.Format(time.RFC3339)
	}
	return "scale " + a.Model + " to " + strings.ReplaceAll(jsonFloat(a.ToCompute), "+", "") + " at " + a.At.Format(time.RFC3339)
}

func jsonFloat(f float64) string {
	b, _ := json.Marshal(f)
	return string(b)
}

// mustJSON marshals a decision with encoding/json, indented by two spaces,
// without HTML escaping (so that conditions such as >= stay readable), and
// with a final newline.
func mustJSON(tb testing.TB, d gate.Decision) []byte {
	tb.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		tb.Fatalf("json.Marshal(decision): %v", err)
	}
	return b.Bytes()
}
