package gate_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
)

const (
	benchEvals      = 20
	benchThresholds = 50
)

// benchPolicySource is a policy with 50 thresholds over 20 evaluations:
// every tenth threshold (from the 10th) needs a determination; every tenth
// (from the 5th) has a general CEL trigger that is not a simple comparison;
// the others are simple comparisons with warnings, half of them with clear
// conditions (so the hysteresis walk reaches back over every checkpoint).
func benchPolicySource() string {
	var b strings.Builder
	b.WriteString(`apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: bench-rsp, version: 1.0.0, developer: Bench Lab}
domains:
  - {id: d, name: Domain}
evaluations:
`)
	elicit := []string{"none", "prompted", "scaffolded"}
	for i := range benchEvals {
		fmt.Fprintf(&b, "  - {id: e%02d, domain: d, kind: capability, minElicitation: %s}\n", i, elicit[i%len(elicit)])
	}
	b.WriteString("thresholds:\n")
	for i := range benchThresholds {
		e1, e2 := i%benchEvals, (i*7+3)%benchEvals
		fmt.Fprintf(&b, "  - id: t%02d\n    domain: d\n    name: Threshold %d\n    requires: [sg%d]\n", i, i, i%3)
		switch {
		case i%10 == 9:
			b.WriteString("    determination: required\n")
		case i%10 == 4:
			fmt.Fprintf(&b, "    trigger: (score(\"e%02d\") + score(\"e%02d\")) / 2.0 >= 0.95 && compute > 1e20\n", e1, e2)
			fmt.Fprintf(&b, "    warning: score(\"e%02d\") >= 0.9\n", e1)
		default:
			fmt.Fprintf(&b, "    trigger: score(\"e%02d\") >= 0.9 || score(\"e%02d\") >= 0.95\n", e1, e2)
			fmt.Fprintf(&b, "    warning: score(\"e%02d\") >= 0.8\n", e1)
			if i%2 == 0 {
				fmt.Fprintf(&b, "    clear: score(\"e%02d\") < 0.1\n", e1)
			}
		}
	}
	b.WriteString(`safeguards:
  - {id: sg0, kind: security, attestation: external}
  - {id: sg1, kind: deployment, attestation: self}
  - {id: sg2, kind: other, attestation: self}
cadence: {computeMultiple: 4, interval: 365d, warningComputeMultiple: 2}
governance:
  decisionMakers: [rso]
  attesters: [auditor]
  scrutinyPeriod: 30d
`)
	return b.String()
}

// benchInput is a model with n checkpoints, each assessed with a result for
// every evaluation and a determination for every determination threshold.
// Scores stay below every trigger and warning, so each decision evaluates
// every condition at every checkpoint of the walk.
func benchInput(tb testing.TB, n int) gate.Input {
	tb.Helper()
	p := mustPolicy(tb, benchPolicySource())
	simple := 0
	for _, t := range p.Thresholds {
		if t.TriggerCond != nil && t.TriggerCond.Simple != nil {
			simple++
		}
	}
	if simple == 0 || simple == len(p.Thresholds) {
		tb.Fatalf("bench policy has %d simple triggers of %d thresholds, want a mix", simple, len(p.Thresholds))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	e := gate.Evidence{Model: evidence.Model{ID: "m", Policy: "bench-rsp"}}
	var seq int64
	meta := func() evidence.Meta { seq++; return evidence.Meta{Seq: seq} }
	for i := range n {
		id := fmt.Sprintf("m-c%04d", i)
		at := t0.Add(time.Duration(i) * time.Hour)
		e.Checkpoints = append(e.Checkpoints, evidence.Checkpoint{ID: id, Model: "m", EffectiveCompute: 1e22 * float64(i+1), At: at, Meta: meta()})
		for j, ev := range p.Evaluations {
			e.Results = append(e.Results, evidence.Result{Checkpoint: id, Evaluation: ev.ID, Score: 0.2 + 0.55*rng.Float64(),
				Elicitation: "scaffolded", At: at.Add(time.Duration(j) * time.Minute), Meta: meta()})
		}
		for _, t := range p.Thresholds {
			if t.NeedsDetermination() {
				e.Determinations = append(e.Determinations, evidence.Determination{Checkpoint: id, Threshold: t.ID, By: "rso", Rationale: "r", At: at.Add(time.Hour - time.Second), Meta: meta()})
			}
		}
	}
	for _, sg := range p.Safeguards {
		e.Safeguards = append(e.Safeguards, evidence.SafeguardStatus{Safeguard: sg.ID, Model: "m", Status: evidence.Implemented, By: "auditor", At: t0, Meta: meta()})
	}
	last := e.Checkpoints[n-1]
	in := gate.Input{
		Versions: []gate.Version{{Policy: p, PublishedAt: t0.Add(-time.Hour)}},
		Evidence: e,
		Action:   gate.Action{Kind: gate.Scale, Model: "m", ToCompute: 2 * last.EffectiveCompute, At: last.At.Add(48 * time.Hour)},
	}
	// The benchmark must measure a full decision, not an early exit.
	d := gate.Decide(in)
	if d.Assessment == nil || d.Assessment.Checkpoint != last.ID || len(d.Thresholds) != benchThresholds || d.Verdict != gate.AllowVerdict {
		tb.Fatalf("bench decision: verdict %s, assessment %+v, %d thresholds, reasons %v; want allow on %s with %d thresholds",
			d.Verdict, d.Assessment, len(d.Thresholds), reasonKeys(d), last.ID, benchThresholds)
	}
	return in
}

func BenchmarkDecide(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("checkpoints=%d", n), func(b *testing.B) {
			in := benchInput(b, n)
			loop(b, in)
		})
	}
}

func BenchmarkDecideDeploy(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("checkpoints=%d", n), func(b *testing.B) {
			in := benchInput(b, n)
			in.Action = gate.Action{Kind: gate.Deploy, Model: "m", Checkpoint: in.Evidence.Checkpoints[n-1].ID, Mode: "external", At: in.Action.At}
			if d := gate.Decide(in); d.Verdict != gate.AllowVerdict || d.Assessment == nil {
				b.Fatalf("bench deploy decision: verdict %s, reasons %v; want allow", d.Verdict, reasonKeys(d))
			}
			loop(b, in)
		})
	}
}

// loop decides in b.N times, reporting CPU time per decision next to wall
// time (on a loaded machine wall time overstates the cost).
func loop(b *testing.B, in gate.Input) {
	b.ReportAllocs()
	start, ok := cpuTime()
	for b.Loop() {
		gate.Decide(in)
	}
	if end, ok2 := cpuTime(); ok && ok2 && b.N > 0 {
		b.ReportMetric(float64(end-start)/float64(b.N), "cpu-ns/op")
	}
}

// TestBenchInput keeps the benchmark's input valid under plain `go test`.
func TestBenchInput(t *testing.T) {
	in := benchInput(t, 10)
	var p *policy.Policy = in.Versions[0].Policy
	if got := len(p.Evaluations); got != benchEvals {
		t.Errorf("bench policy has %d evaluations, want %d", got, benchEvals)
	}
}
