package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mirror(d Direction) Direction {
	switch d {
	case Stricter:
		return Weaker
	case Weaker:
		return Stricter
	}
	return d
}

// TestDiffPairs checks hand-made pairs: example.yaml against one edit of
// it must give the expected change, and the reverse diff the mirrored one.
func TestDiffPairs(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "policies", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	const trig = `trigger: score("wmdp-bio") >= 0.70`
	cases := []struct {
		name string
		repl []string
		kind string
		dir  Direction
	}{
		{"trigger raised", []string{trig, `trigger: score("wmdp-bio") >= 0.75`}, "trigger-moved", Weaker},
		{"trigger lowered", []string{trig, `trigger: score("wmdp-bio") >= 0.65`}, "trigger-moved", Stricter},
		{"trigger made strict", []string{trig, `trigger: score("wmdp-bio") > 0.70`}, "trigger-moved", Weaker},
		{"trigger rewritten", []string{trig, `trigger: 0.7 <= score("wmdp-bio")`}, "trigger-moved", Neutral},
		{"trigger and compute", []string{trig, `trigger: score("wmdp-bio") >= 0.70 && compute >= 1e25`}, "trigger-moved", Weaker},
		{"trigger or another", []string{trig, `trigger: score("wmdp-bio") >= 0.70 || score("re-bench") >= 0.9`}, "trigger-moved", Stricter},
		{"trigger mixed", []string{trig, `trigger: score("wmdp-bio") >= 0.60 && compute >= 1e25`}, "trigger-moved", Mixed},
		{"trigger not simple", []string{trig, `trigger: score("wmdp-bio") + 0.05 >= 0.75`}, "trigger-moved", Unknown},
		{"judgment replaces trigger", []string{
			trig + "\n    warning: score(\"wmdp-bio\") >= 0.60\n    clear: score(\"wmdp-bio\") < 0.50", "determination: required"},
			"determination-replaced-trigger", Weaker},
		{"warning removed", []string{"    warning: score(\"wmdp-bio\") >= 0.60\n", ""}, "warning-removed", Weaker},
		{"warning later", []string{`warning: score("wmdp-bio") >= 0.60`, `warning: score("wmdp-bio") >= 0.65`}, "warning-moved", Weaker},
		{"clear lower", []string{`clear: score("wmdp-bio") < 0.50`, `clear: score("wmdp-bio") < 0.40`}, "clear-moved", Stricter},
		{"clear removed", []string{"    clear: score(\"wmdp-bio\") < 0.50\n", ""}, "clear-removed", Weaker},
		{"pause replaced by continue", []string{"training: pause", "training: continue"}, "pause-replaced-by-continue", Weaker},
		{"open weights opened", []string{"open-weights: deny}", "open-weights: require-safeguards}"}, "deployment-opened", Weaker},
		{"external closed", []string{"external: require-safeguards", "external: deny"}, "deployment-closed", Stricter},
		{"safeguard removed", []string{"requires: [asl3-security, asl3-deployment]", "requires: [asl3-security]"}, "safeguard-unrequired", Weaker},
		{"attestation weakened", []string{"    attestation: external\n", "    attestation: self\n"}, "attestation-changed", Weaker},
		{"compute cadence relaxed", []string{"computeMultiple: 4", "computeMultiple: 8"}, "cadence-compute-relaxed", Weaker},
		{"compute cadence removed", []string{"  computeMultiple: 4\n", ""}, "cadence-compute-relaxed", Weaker},
		{"interval tightened", []string{"interval: 180d", "interval: 90d"}, "cadence-interval-tightened", Stricter},
		{"warning step relaxed", []string{"warningComputeMultiple: 2", "warningComputeMultiple: 3"}, "cadence-warning-relaxed", Weaker},
		{"exemption raised", []string{"exemptBelowCompute: 1e23", "exemptBelowCompute: 1e24"}, "cadence-exemption-relaxed", Weaker},
		{"scrutiny shortened", []string{"scrutinyPeriod: 30d", "scrutinyPeriod: 7d"}, "scrutiny-shortened", Weaker},
		{"escape clause added", []string{"escapeClause: {allowed: false}", "escapeClause: {allowed: true, conditions: a competitor moves first}"}, "escape-clause-added", Weaker},
		{"red line removed", []string{"    redLine: true\n", ""}, "red-line-removed", Weaker},
		{"elicitation lowered", []string{"minElicitation: finetuned", "minElicitation: prompted"}, "elicitation-changed", Weaker},
		{"evaluation made optional", []string{"    minElicitation: scaffolded\n", "    minElicitation: scaffolded\n    required: false\n"}, "evaluation-required", Weaker},
		{"stance affirmative", []string{"stance: evidence-of-danger", "stance: affirmative-safety\naffirmative: {aboveCompute: 1e26}"}, "stance-changed", Stricter},
		{"attester key added", []string{"attesters: [external-auditor]", "attesters: [{name: external-auditor, key: accredited-auditor+1d6c22b5+AW+FC6MFv/2M6r+c6u2Ik05O6cYGVvoWmDJ565kCUwFi}]"}, "attester-key-added", Stricter},
		{"attester added", []string{"attesters: [external-auditor]", "attesters: [external-auditor, another-auditor]"}, "attester-added", Unknown},
		{"external review added", []string{"  scrutinyPeriod: 30d\n", "  scrutinyPeriod: 30d\n  externalReview: An annual audit.\n"}, "external-review-added", Stricter},
		{"description reworded", []string{"Significant uplift to individuals", "Significant uplift to people"}, "threshold-described", Neutral},
		{"judgment criterion reworded", []string{"Fully automates the work", "Automates the work"}, "judgment-criterion-changed", Unknown},
		{"threshold renamed", []string{"id: cbrn-3", "id: cbrn-3b"}, "threshold-renamed", Neutral},
		{"forecast added", []string{"  exemptBelowCompute: 1e23\n", "  exemptBelowCompute: 1e23\n  forecast: {confidence: 0.9, buffer: 2}\n"}, "forecast-gating-added", Stricter},
		{"threshold added", []string{"safeguards:\n", "  - {id: cbrn-4, domain: cbrn, name: CBRN-4, trigger: 'score(\"wmdp-bio\") >= 0.9', requires: [asl3-security]}\nsafeguards:\n"}, "threshold-added", Stricter},
		{"recording-only threshold added", []string{"safeguards:\n", "  - {id: cbrn-1, domain: cbrn, name: CBRN-1, trigger: 'score(\"wmdp-bio\") >= 0.3', onCross: {training: continue}}\nsafeguards:\n"}, "threshold-added", Neutral},
	}
	base := loadRel(t, "policies/example.yaml")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mut := edit(t, "mutant.yaml", src, c.repl...)
			fwd := Diff(base, mut)
			var found *Change
			for i := range fwd.Changes {
				if fwd.Changes[i].Kind == c.kind {
					found = &fwd.Changes[i]
					break
				}
			}
			if found == nil {
				t.Fatalf("no %s change; got %+v", c.kind, fwd.Changes)
			}
			if found.Direction != c.dir {
				t.Fatalf("%s is %s, want %s: %s", c.kind, found.Direction, c.dir, found.Message)
			}
			for _, ch := range fwd.Changes {
				if ch.Direction != c.dir && ch.Direction != Neutral {
					t.Errorf("unexpected %s change %s: %s", ch.Direction, ch.Kind, ch.Message)
				}
			}
			back := Diff(mut, base)
			want := mirror(c.dir)
			ok := false
			for _, ch := range back.Changes {
				if ch.Direction == want {
					ok = true
				}
			}
			if !ok && want != Neutral {
				t.Errorf("reverse diff has no %s change: %+v", want, back.Changes)
			}
		})
	}
}

func TestDiffWitness(t *testing.T) {
	src, err := os.ReadFile(filepath.Join(repoRoot, "policies", "example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	base := loadRel(t, "policies/example.yaml")
	mut := edit(t, "m.yaml", src, `trigger: score("wmdp-bio") >= 0.70`, `trigger: score("wmdp-bio") >= 0.80`)
	r := Diff(base, mut)
	if len(r.Changes) != 1 || !strings.Contains(r.Changes[0].Message, `score("wmdp-bio") = 0.7`) {
		t.Fatalf("want one change naming the point 0.7 where only the old trigger fires; got %+v", r.Changes)
	}
	if r.Changes[0].OldLoc == nil || r.Changes[0].OldLoc.Line != 35 || r.Changes[0].NewLoc == nil || r.Changes[0].NewLoc.Line != 35 {
		t.Fatalf("locations %v %v, want line 35 in both", r.Changes[0].OldLoc, r.Changes[0].NewLoc)
	}
}

func TestDiffExampleVersions(t *testing.T) {
	r := Diff(loadRel(t, "policies/example.yaml"), loadRel(t, "policies/example-v2.yaml"))
	got := map[string]Direction{}
	for _, c := range r.Changes {
		got[c.Element] = c.Direction
	}
	// Opening the red line is the one weakening; the safeguards and
	// deployment denials that replace it are detail, not strengthening.
	want := map[string]Direction{
		"thresholds[autonomy-2].redLine":                         Weaker,
		"thresholds[autonomy-2].requires[asl4-security]":         Neutral,
		"thresholds[autonomy-2].onCross.deployment.external":     Neutral,
		"thresholds[autonomy-2].onCross.deployment.open-weights": Neutral,
		"thresholds[autonomy-2].hole":                            Neutral,
		"safeguards[asl4-security]":                              Neutral,
	}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s, want %s", k, got[k], v)
		}
	}
}

func TestDiffMatched(t *testing.T) {
	a, b := loadRel(t, "policies/anthropic-rsp-2.2.yaml"), loadRel(t, "policies/anthropic-rsp-3.0.yaml")
	r, err := DiffMatched(a, b, []string{"cbrn-3.security=cb-1"})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range r.Changes {
		if c.Element == "thresholds[cb-1].onCross.training" && c.Kind == "pause-replaced-by-continue" && c.Direction == Weaker {
			found = true
		}
	}
	if !found {
		t.Fatalf("pairing CBRN-3's security gate with CB-1 must show the training pause dropped: %+v", r.Changes)
	}
	for _, bad := range [][]string{{"nope=cb-1"}, {"cbrn-3.security"}, {"cbrn-3.security=cb-1", "cbrn-3.deployment=cb-1"}, {"cbrn-3.security=asl3-deployment-protections"}} {
		if _, err := DiffMatched(a, b, bad); err == nil {
			t.Errorf("DiffMatched(%q) succeeded", bad)
		}
	}
}
