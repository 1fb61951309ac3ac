package analysis

import (
	"strings"
	"testing"
)

func gapKinds(r *CompareResult) []string {
	var ks []string
	for _, c := range r.Thresholds {
		for _, g := range c.Gaps {
			ks = append(ks, g.Element+":"+g.Kind)
		}
	}
	for _, g := range r.Policy {
		ks = append(ks, g.Element+":"+g.Kind)
	}
	return ks
}

func TestCompareCompliant(t *testing.T) {
	lab, _ := loadTestdata(t, "lab-compliant.yaml")
	base := loadRel(t, "policies/baseline-example.yaml")
	r := Compare(lab, base)
	if !r.AtLeastAsStrict() {
		t.Fatalf("compliant lab has gaps: %v", gapKinds(r))
	}
	want := map[string]string{"cbrn-uplift": "bio-3", "cyber-uplift": "cyber-3", "ai-rnd-automation": "rnd-3", "monitor-evasion": "evasion"}
	for _, c := range r.Thresholds {
		if want[c.Baseline] != c.Lab || !c.Covered {
			t.Errorf("%s covered by %q (%t), want %s", c.Baseline, c.Lab, c.Covered, want[c.Baseline])
		}
	}
	if r.Thresholds[0].Match != "baselineOf" || r.Thresholds[1].Match != "domain" {
		t.Errorf("matches %s, %s; want baselineOf, domain", r.Thresholds[0].Match, r.Thresholds[1].Match)
	}
}

// TestCompareGaps weakens the compliant lab one way at a time: each must
// produce exactly the expected gap.
func TestCompareGaps(t *testing.T) {
	_, src := loadTestdata(t, "lab-compliant.yaml")
	base := loadRel(t, "policies/baseline-example.yaml")
	cases := []struct {
		name string
		repl []string
		gap  string
	}{
		{"trigger later", []string{`trigger: score("cybench") >= 0.40`, `trigger: score("cybench") >= 0.55`}, "thresholds[cyber-uplift].trigger:trigger-later"},
		{"trigger strict inequality at the bar", []string{`trigger: score("re-bench") >= 0.80`, `trigger: score("re-bench") > 0.80`}, "thresholds[ai-rnd-automation].trigger:trigger-later"},
		{"trigger on another evaluation", []string{`trigger: score("cybench") >= 0.40`, `trigger: score("re-bench") >= 0.40`}, "thresholds[cyber-uplift].trigger:trigger-later"},
		{"trigger not simple", []string{`trigger: score("cybench") >= 0.40`, `trigger: score("cybench") * 2.0 >= 0.8`}, "thresholds[cyber-uplift].trigger:cannot-show"},
		{"trigger left to judgment", []string{"    trigger: score(\"cybench\") >= 0.40\n    warning: score(\"cybench\") >= 0.30\n", "    determination: required\n"}, "thresholds[cyber-uplift].trigger:cannot-show"},
		{"warning later", []string{`warning: score("cybench") >= 0.30`, `warning: score("cybench") >= 0.38`}, "thresholds[cyber-uplift].warning:warning-later"},
		{"clears sooner", []string{`clear: score("monitor-evasion") < 0.01`, `clear: score("monitor-evasion") < 0.04`}, "thresholds[monitor-evasion].clear:clears-sooner"},
		{"red line dropped, deployment opened", []string{"    redLine: true\n    hole: No control protocol is known to hold at this level.\n", "    requires: [control-monitoring]\n"},
			"thresholds[monitor-evasion].onCross.deployment.external:deployment-more-open thresholds[monitor-evasion].onCross.deployment.open-weights:deployment-more-open"},
		{"safeguard missing", []string{"requires: [weights-security, control-monitoring, lab-extra]", "requires: [weights-security, lab-extra]"}, "thresholds[ai-rnd-automation].requires[control-monitoring]:safeguard-missing"},
		{"attestation weaker", []string{"{id: weights-security, kind: security, attestation: external}", "{id: weights-security, kind: security, attestation: self}"}, "safeguards[weights-security].attestation:attestation-weaker"},
		{"training continues", []string{"      training: pause\n      deployment: {external: require-safeguards, open-weights: deny}", "      training: continue\n      deployment: {external: require-safeguards, open-weights: deny}"}, "thresholds[cyber-uplift].onCross.training:training-continues"},
		{"deployment more open", []string{"deployment: {external: require-safeguards, open-weights: deny}", "deployment: {external: require-safeguards, open-weights: require-safeguards}"}, "thresholds[cyber-uplift].onCross.deployment.open-weights:deployment-more-open"},
		{"internal allowed", []string{"      deployment: {open-weights: deny}", "      deployment: {internal: allow, open-weights: deny}"}, "thresholds[ai-rnd-automation].onCross.deployment.internal:deployment-more-open"},
		{"no threshold in domain", []string{"    domain: cyber\n    name: Cyber-3", "    domain: autonomy\n    name: Cyber-3"}, "thresholds[cyber-uplift]:no-threshold"},
		{"evaluation missing", []string{"  - {id: cybench, domain: cyber, kind: capability, minElicitation: scaffolded}\n", "",
			`trigger: score("cybench") >= 0.40`, `trigger: score("re-bench") >= 0.40`, `warning: score("cybench") >= 0.30`, `warning: score("re-bench") >= 0.30`},
			"thresholds[cyber-uplift].trigger:trigger-later thresholds[cyber-uplift].warning:warning-later evaluations[cybench]:evaluation-missing"},
		{"evaluation optional", []string{"{id: re-bench, domain: autonomy, kind: capability, minElicitation: scaffolded}", "{id: re-bench, domain: autonomy, kind: capability, minElicitation: scaffolded, required: false}"}, "evaluations[re-bench].required:evaluation-optional"},
		{"elicitation weaker", []string{"{id: cybench, domain: cyber, kind: capability, minElicitation: scaffolded}", "{id: cybench, domain: cyber, kind: capability, minElicitation: cot}"}, "evaluations[cybench].minElicitation:elicitation-weaker"},
		{"compute cadence", []string{"computeMultiple: 4", "computeMultiple: 10"}, "cadence.computeMultiple:cadence-less-frequent"},
		{"no interval", []string{"  interval: 90d\n", ""}, "cadence.interval:cadence-less-frequent"},
		{"exemption larger", []string{"  warningComputeMultiple: 2\n", "  warningComputeMultiple: 2\n  exemptBelowCompute: 1e26\n"}, "cadence.exemptBelowCompute:exemption-larger"},
		{"scrutiny shorter", []string{"scrutinyPeriod: 60d", "scrutinyPeriod: 7d"}, "governance.scrutinyPeriod:scrutiny-shorter"},
		{"escape clause", []string{"escapeClause: {allowed: false}", "escapeClause: {allowed: true, conditions: a competitor moves first}"}, "governance.escapeClause:escape-clause"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lab := edit(t, "lab.yaml", src, c.repl...)
			r := Compare(lab, base)
			got := gapKinds(r)
			if strings.Join(got, " ") != c.gap || r.GapCount != len(got) {
				t.Fatalf("gaps %v (count %d), want exactly [%s]", got, r.GapCount, c.gap)
			}
			var g Gap
			for _, cov := range r.Thresholds {
				if len(cov.Gaps) > 0 {
					g = cov.Gaps[0]
				}
			}
			if len(r.Policy) > 0 {
				g = r.Policy[0]
			}
			if g.BaselineLoc == nil || g.BaselineLoc.File != "policies/baseline-example.yaml" || g.LabLoc == nil || g.LabLoc.File != "lab.yaml" {
				t.Errorf("gap locations %v %v", g.BaselineLoc, g.LabLoc)
			}
		})
	}
}

func TestCompareRedLine(t *testing.T) {
	r := Compare(loadRel(t, "policies/example-v2.yaml"), loadRel(t, "policies/example.yaml"))
	if got := gapKinds(r); len(got) != 1 || got[0] != "thresholds[autonomy-2].redLine:red-line-not-kept" {
		t.Fatalf("gaps %v", got)
	}
	// The other way round, the red line covers whatever v2 asks.
	if r := Compare(loadRel(t, "policies/example.yaml"), loadRel(t, "policies/example-v2.yaml")); !r.AtLeastAsStrict() {
		t.Fatalf("gaps %v", gapKinds(r))
	}
}

func TestCompareStance(t *testing.T) {
	_, src := loadTestdata(t, "lab-compliant.yaml")
	_, bsrc := loadTestdata(t, "../../../policies/baseline-example.yaml")
	base := edit(t, "base.yaml", bsrc, "stance: evidence-of-danger", "stance: affirmative-safety\naffirmative: {aboveCompute: 1e26}")
	lab := edit(t, "lab.yaml", src, "kind: Policy\n", "kind: Policy\nstance: affirmative-safety\naffirmative: {aboveCompute: 1e27}\n")
	if got := gapKinds(Compare(lab, base)); len(got) != 1 || got[0] != "affirmative.aboveCompute:stance-weaker" {
		t.Fatalf("gaps %v", got)
	}
	plain, _ := loadTestdata(t, "lab-compliant.yaml")
	if got := gapKinds(Compare(plain, base)); len(got) != 1 || got[0] != "stance:stance-weaker" {
		t.Fatalf("gaps %v", got)
	}
}
