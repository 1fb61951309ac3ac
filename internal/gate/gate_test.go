package gate_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
)

// decideCase is one row of a table of gate decisions.
type decideCase struct {
	name string
	// policy is the YAML of the only version, published at t0; basePolicy
	// when empty. versions, when set, replaces it.
	policy   string
	versions func(testing.TB) []gate.Version
	ev       *ev
	action   gate.Action
	verdict  string
	// reasons are the expected reasonKeys, in any order.
	reasons []string
	// anyReasons skips the comparison of reasons (check inspects them).
	anyReasons bool
	check      func(t *testing.T, d gate.Decision)
}

func runDecide(t *testing.T, cases []decideCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var versions []gate.Version
			switch {
			case tc.versions != nil:
				versions = tc.versions(t)
			case tc.policy != "":
				versions = published(t, tc.policy)
			default:
				versions = published(t, basePolicy)
			}
			e := tc.ev
			if e == nil {
				e = newEv()
			}
			d := gate.Decide(gate.Input{Versions: versions, Evidence: e.Evidence, Action: tc.action})
			what := describe(tc.action)
			if d.Verdict != tc.verdict {
				t.Errorf("Decide(%s) verdict = %s, want %s; reasons:\n%s", what, d.Verdict, tc.verdict, reasonText(d))
			}
			if got, want := reasonKeys(d), sorted(tc.reasons); !tc.anyReasons && !slices.Equal(got, want) {
				t.Errorf("Decide(%s) reasons = %v, want %v; reasons:\n%s", what, got, want, reasonText(d))
			}
			checkInvariants(t, what, d)
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func reasonText(d gate.Decision) string {
	var b strings.Builder
	for _, r := range d.Reasons {
		b.WriteString("  " + reasonKey(r) + ": " + r.Message + "\n")
	}
	return b.String()
}

// denying lists the reason codes that deny, per DESIGN.md: every code but
// THRESHOLD_WARNING (informational) and ESCAPE_CLAUSE (which allows or is
// flagged).
var denying = []string{
	gate.NoAssessment, gate.StaleAssessment, gate.InsufficientEvidence, gate.SafeguardsMissing,
	gate.RedLine, gate.DeploymentDenied, gate.SafetyCaseMissing, gate.PolicyNotInForce, gate.ForecastCrossing,
}

// checkInvariants checks what holds of every decision: the verdict denies
// exactly when a denying reason remains; every reason has a message; the
// action is echoed in UTC.
func checkInvariants(t *testing.T, what string, d gate.Decision) {
	t.Helper()
	deny := false
	for _, r := range d.Reasons {
		if slices.Contains(denying, r.Code) {
			deny = true
		}
		if strings.TrimSpace(r.Message) == "" {
			t.Errorf("Decide(%s) reason %s has an empty message", what, reasonKey(r))
		}
		for _, o := range r.Overrode {
			if o.Code == gate.RedLine {
				t.Errorf("Decide(%s) escape clause overrode a red line: %+v", what, o)
			}
		}
	}
	want := gate.AllowVerdict
	if deny {
		want = gate.DenyVerdict
	}
	if d.Verdict != want {
		t.Errorf("Decide(%s) verdict = %s but reasons %v imply %s", what, d.Verdict, reasonKeys(d), want)
	}
	if d.Allowed() != (d.Verdict == gate.AllowVerdict) {
		t.Errorf("Decide(%s) Allowed() = %t with verdict %s", what, d.Allowed(), d.Verdict)
	}
	if d.Action.At.Location() != time.UTC {
		t.Errorf("Decide(%s) action time %v is not UTC", what, d.Action.At)
	}
	if d.Thresholds == nil || d.Reasons == nil {
		t.Errorf("Decide(%s) thresholds or reasons are nil (they marshal as null)", what)
	}
}

// wantState checks a threshold's state (and, when since is not "", the
// checkpoint it has been crossed since).
func wantState(id, state, since string) func(*testing.T, gate.Decision) {
	return func(t *testing.T, d gate.Decision) {
		t.Helper()
		ts := stateOf(d, id)
		if ts == nil {
			t.Fatalf("Decide(%s) has no state for threshold %s", describe(d.Action), id)
		}
		if ts.State != state {
			t.Errorf("Decide(%s) state of %s = %s, want %s (inputs %v, missing %v)", describe(d.Action), id, ts.State, state, ts.Inputs, ts.Missing)
		}
		if since != "" && ts.Since != since {
			t.Errorf("Decide(%s) %s crossed since %q, want %q", describe(d.Action), id, ts.Since, since)
		}
	}
}

func wantAssessment(cp string, at time.Time) func(*testing.T, gate.Decision) {
	return func(t *testing.T, d gate.Decision) {
		t.Helper()
		if d.Assessment == nil {
			t.Fatalf("Decide(%s) assessment = nil, want %s", describe(d.Action), cp)
		}
		if d.Assessment.Checkpoint != cp {
			t.Errorf("Decide(%s) assessment = %s, want %s", describe(d.Action), d.Assessment.Checkpoint, cp)
		}
		if !at.IsZero() && !d.Assessment.At.Equal(at) {
			t.Errorf("Decide(%s) assessment time = %v, want %v", describe(d.Action), d.Assessment.At, at)
		}
	}
}

func noAssessment(t *testing.T, d gate.Decision) {
	t.Helper()
	if d.Assessment != nil {
		t.Errorf("Decide(%s) assessment = %+v, want none", describe(d.Action), *d.Assessment)
	}
}

// wantMessage checks that the reason with code (and threshold) mentions
// every fragment.
func wantMessage(code, threshold string, fragments ...string) func(*testing.T, gate.Decision) {
	return func(t *testing.T, d gate.Decision) {
		t.Helper()
		r := reasonOf(d, code, threshold)
		if r == nil {
			t.Fatalf("Decide(%s) has no %s reason for %q", describe(d.Action), code, threshold)
		}
		for _, f := range fragments {
			if !strings.Contains(r.Message, f) {
				t.Errorf("Decide(%s) %s message = %q, want it to mention %q", describe(d.Action), code, r.Message, f)
			}
		}
	}
}

func wantSafeguards(threshold string, ids ...string) func(*testing.T, gate.Decision) {
	return func(t *testing.T, d gate.Decision) {
		t.Helper()
		r := reasonOf(d, gate.SafeguardsMissing, threshold)
		if r == nil {
			t.Fatalf("Decide(%s) has no SAFEGUARDS_MISSING reason for %s", describe(d.Action), threshold)
		}
		if !slices.Equal(r.Safeguards, ids) {
			t.Errorf("Decide(%s) missing safeguards of %s = %v, want %v", describe(d.Action), threshold, r.Safeguards, ids)
		}
	}
}

func all(checks ...func(*testing.T, gate.Decision)) func(*testing.T, gate.Decision) {
	return func(t *testing.T, d gate.Decision) {
		t.Helper()
		for _, c := range checks {
			c(t, d)
		}
	}
}

// Policy variants.
var (
	// cyberPolicy adds cyber-1, triggered by the non-required evaluation
	// cyber and requiring nothing.
	cyberPolicy = func(tb testing.TB) string {
		return patch(tb, basePolicy, "safeguards:\n  - {id: sec", `  - id: cyber-1
    domain: cyber
    name: Cyber-1
    trigger: score("cyber") >= 0.80
safeguards:
  - {id: sec`)
	}
	// celPolicy adds cel-1, a general (not simple) CEL trigger reading a
	// required and a non-required evaluation.
	celPolicy = func(tb testing.TB) string {
		return patch(tb, basePolicy, "safeguards:\n  - {id: sec", `  - id: cel-1
    domain: cyber
    name: Combined
    trigger: (score("bio") + score("cyber")) / 2.0 >= 0.8 && compute > 1e20
safeguards:
  - {id: sec`)
	}
	continuePolicy = func(tb testing.TB) string {
		return patch(tb, basePolicy, "      training: pause\n", "      training: continue\n")
	}
	escapePolicy = func(tb testing.TB) string {
		return patch(tb, basePolicy, "escapeClause: {allowed: false}", "escapeClause: {allowed: true}")
	}
	affirmativePolicy = func(tb testing.TB) string {
		return patch(tb, basePolicy, "stance: evidence-of-danger\n", "stance: affirmative-safety\naffirmative: {aboveCompute: 2e24}\n")
	}
	noClearPolicy = func(tb testing.TB) string {
		return patch(tb, basePolicy, "    clear: score(\"bio\") < 0.50\n", "")
	}
)

// clean is model atlas with one assessed checkpoint, atlas-c1 (1e24 FLOP,
// recorded on day 10, assessed on day 12), far below every threshold.
func clean() *ev { return newEv().assessed("atlas-c1", 1e24, 0.30, 0.10, 10) }

// crossedCBRN is atlas-c1 with CBRN-3 crossed (bio 0.75).
func crossedCBRN() *ev { return newEv().assessed("atlas-c1", 1e24, 0.75, 0.10, 10) }

// Step 1.
func TestDecideExempt(t *testing.T) {
	runDecide(t, []decideCase{
		{name: "at exemptBelowCompute with no evidence", action: scaleTo(1e23, day(20)), verdict: gate.AllowVerdict, reasons: nil, check: noAssessment},
		{name: "below exemptBelowCompute with no evidence", action: scaleTo(1e20, day(20)), verdict: gate.AllowVerdict, reasons: nil},
		{
			name:    "below exemptBelowCompute with a red line crossed",
			ev:      clean().det("atlas-c1", "auto-2", true, "rso", day(13)),
			action:  scaleTo(5e22, day(20)),
			verdict: gate.AllowVerdict,
		},
		{name: "just above exemptBelowCompute needs an assessment", action: scaleTo(1.01e23, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.NoAssessment}},
	})
}

// Step 2.
func TestDecideNoAssessment(t *testing.T) {
	runDecide(t, []decideCase{
		{
			name:    "no checkpoints",
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
			check:   all(noAssessment, wantMessage(gate.NoAssessment, "", "no checkpoint recorded")),
		},
		{
			name: "checkpoint missing a required evaluation",
			ev: newEv().ckpt("atlas-c1", 1e24, day(10)).
				result("atlas-c1", "bio", 0.3, "finetuned", day(11)).
				det("atlas-c1", "auto-2", false, "rso", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
			check:   all(noAssessment, wantMessage(gate.NoAssessment, "", "rebench at scaffolded")),
		},
		{
			name: "checkpoint missing a determination",
			ev: newEv().ckpt("atlas-c1", 1e24, day(10)).
				result("atlas-c1", "bio", 0.3, "finetuned", day(11)).
				result("atlas-c1", "rebench", 0.1, "scaffolded", day(11)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
			check:   all(noAssessment, wantMessage(gate.NoAssessment, "", "determination for auto-2 by one of rso")),
		},
		{
			name: "determination by someone not a decision-maker",
			ev: newEv().ckpt("atlas-c1", 1e24, day(10)).
				result("atlas-c1", "bio", 0.3, "finetuned", day(11)).
				result("atlas-c1", "rebench", 0.1, "scaffolded", day(11)).
				det("atlas-c1", "auto-2", false, "intern", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
			check:   noAssessment,
		},
		{
			name: "determination for another checkpoint",
			ev: newEv().ckpt("atlas-c0", 1e23, day(5)).ckpt("atlas-c1", 1e24, day(10)).
				result("atlas-c1", "bio", 0.3, "finetuned", day(11)).
				result("atlas-c1", "rebench", 0.1, "scaffolded", day(11)).
				det("atlas-c0", "auto-2", false, "rso", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
		},
		{
			name: "only a weakly elicited result",
			ev: newEv().ckpt("atlas-c1", 1e24, day(10)).
				result("atlas-c1", "bio", 0.3, "prompted", day(11)).
				result("atlas-c1", "rebench", 0.1, "scaffolded", day(11)).
				det("atlas-c1", "auto-2", false, "rso", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
			check:   wantMessage(gate.NoAssessment, "", "bio (prompted < finetuned)"),
		},
		{
			name: "an incomplete result",
			ev: newEv().ckpt("atlas-c1", 1e24, day(10)).
				incomplete("atlas-c1", "bio", 0.3, "finetuned", day(11)).
				result("atlas-c1", "rebench", 0.1, "scaffolded", day(11)).
				det("atlas-c1", "auto-2", false, "rso", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
		},
		{
			name: "a result for an evaluation the policy does not declare",
			ev: newEv().ckpt("atlas-c1", 1e24, day(10)).
				result("atlas-c1", "bio-v2", 0.3, "finetuned", day(11)).
				result("atlas-c1", "rebench", 0.1, "scaffolded", day(11)).
				det("atlas-c1", "auto-2", false, "rso", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
		},
		{
			name:    "an unassessed newer checkpoint leaves the older assessment standing",
			ev:      clean().ckpt("atlas-c2", 2e24, day(15)).result("atlas-c2", "bio", 0.9, "finetuned", day(16)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
			check:   all(wantAssessment("atlas-c1", day(12)), wantState("cbrn-3", gate.StateClear, "")),
		},
		{
			name:    "staleness is measured from the assessed checkpoint, not an unassessed newer one",
			ev:      clean().ckpt("atlas-c2", 2e24, day(15)),
			action:  scaleTo(5e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment},
		},
		{
			name:    "a stronger elicitation than the minimum qualifies",
			ev:      newEv().ckpt("atlas-c1", 1e24, day(10)).result("atlas-c1", "bio", 0.3, "finetuned", day(11)).result("atlas-c1", "rebench", 0.1, "finetuned", day(11)).det("atlas-c1", "auto-2", false, "rso", day(12)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
		},
	})
}

// Step 3: unknown states.
func TestDecideInsufficientEvidence(t *testing.T) {
	runDecide(t, []decideCase{
		{
			name:    "non-required evaluation without a result",
			policy:  cyberPolicy(t),
			ev:      clean(),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.InsufficientEvidence + ":cyber-1"},
			check: all(wantAssessment("atlas-c1", day(12)), wantState("cyber-1", gate.StateUnknown, ""),
				func(t *testing.T, d gate.Decision) {
					if got := stateOf(d, "cyber-1").Missing; !slices.Equal(got, []string{"cyber"}) {
						t.Errorf("Decide(%s) cyber-1 missing = %v, want [cyber]", describe(d.Action), got)
					}
				}),
		},
		{
			name:    "non-required evaluation with a result below the trigger",
			policy:  cyberPolicy(t),
			ev:      clean().result("atlas-c1", "cyber", 0.3, "none", day(11)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
			check: all(wantState("cyber-1", gate.StateClear, ""), func(t *testing.T, d gate.Decision) {
				if got := stateOf(d, "cyber-1").Inputs["cyber"]; got != 0.3 {
					t.Errorf("Decide(%s) cyber-1 inputs[cyber] = %v, want 0.3", describe(d.Action), got)
				}
			}),
		},
		{
			name:    "crossed threshold that requires no safeguard does not deny",
			policy:  cyberPolicy(t),
			ev:      clean().result("atlas-c1", "cyber", 0.9, "none", day(11)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
			check:   wantState("cyber-1", gate.StateCrossed, "atlas-c1"),
		},
		{
			name:    "a non-required result does not move the assessment time",
			policy:  cyberPolicy(t),
			ev:      clean().result("atlas-c1", "cyber", 0.3, "none", day(100)),
			action:  scaleTo(4e24, day(193)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment},
			check:   wantAssessment("atlas-c1", day(12)),
		},
		{
			name:    "general CEL trigger with a missing score",
			policy:  celPolicy(t),
			ev:      clean(),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.InsufficientEvidence + ":cel-1"},
			check:   wantState("cel-1", gate.StateUnknown, ""),
		},
		{
			name:    "general CEL trigger true",
			policy:  celPolicy(t),
			ev:      newEv().assessed("atlas-c1", 1e24, 0.65, 0.1, 10).result("atlas-c1", "cyber", 0.99, "none", day(11)),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.AllowVerdict,
			reasons: []string{gate.ThresholdWarning + ":cbrn-3"},
			check:   wantState("cel-1", gate.StateCrossed, "atlas-c1"),
		},
		{
			name:    "general CEL trigger false",
			policy:  celPolicy(t),
			ev:      clean().result("atlas-c1", "cyber", 0.99, "none", day(11)),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
			check:   wantState("cel-1", gate.StateClear, ""),
		},
		{
			name:    "deploy with a missing score",
			policy:  cyberPolicy(t),
			ev:      clean(),
			action:  deploy("atlas-c1", "internal", day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.InsufficientEvidence + ":cyber-1"},
		},
	})
}

// Step 3: warnings.
func TestDecideWarning(t *testing.T) {
	runDecide(t, []decideCase{
		{
			name:    "warning is informational",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.63, 0.1, 10),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.AllowVerdict,
			reasons: []string{gate.ThresholdWarning + ":cbrn-3"},
			check: all(wantState("cbrn-3", gate.StateWarning, ""), wantState("auto-1", gate.StateClear, ""),
				wantMessage(gate.ThresholdWarning, "cbrn-3", "bio = 0.63")),
		},
		{
			name:    "two warnings",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.60, 0.5, 10),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.AllowVerdict,
			reasons: []string{gate.ThresholdWarning + ":cbrn-3", gate.ThresholdWarning + ":auto-1"},
		},
		{
			name:    "just below the warning",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.5999, 0.4999, 10),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
			check:   all(wantState("cbrn-3", gate.StateClear, ""), wantState("auto-1", gate.StateClear, "")),
		},
		{
			name:    "warning on deploy",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.63, 0.1, 10),
			action:  deploy("atlas-c1", "open-weights", day(20)),
			verdict: gate.AllowVerdict,
			reasons: []string{gate.ThresholdWarning + ":cbrn-3"},
		},
	})
}

// Step 4.
func TestDecideStale(t *testing.T) {
	warn := func() *ev { return newEv().assessed("atlas-c1", 1e24, 0.63, 0.1, 10) }
	runDecide(t, []decideCase{
		{name: "exactly computeMultiple", ev: clean(), action: scaleTo(4e24, day(20)), verdict: gate.AllowVerdict, check: wantAssessment("atlas-c1", day(12))},
		{
			name:    "beyond computeMultiple",
			ev:      clean(),
			action:  scaleTo(4.01e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment},
			check:   wantMessage(gate.StaleAssessment, "", "computeMultiple", "4e24"),
		},
		{name: "exactly warningComputeMultiple while a warning fires", ev: warn(), action: scaleTo(2e24, day(20)), verdict: gate.AllowVerdict, reasons: []string{gate.ThresholdWarning + ":cbrn-3"}},
		{
			name:    "beyond warningComputeMultiple while a warning fires",
			ev:      warn(),
			action:  scaleTo(2.5e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment, gate.ThresholdWarning + ":cbrn-3"},
			check:   wantMessage(gate.StaleAssessment, "", "warningComputeMultiple"),
		},
		{
			name:    "warning on another threshold tightens the step too",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.3, 0.55, 10),
			action:  scaleTo(3e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment, gate.ThresholdWarning + ":auto-1"},
		},
		{
			name:    "a crossed threshold is not a warning: computeMultiple applies",
			ev:      crossedCBRN().allSafeguards(5),
			action:  scaleTo(4e24, day(20)),
			verdict: gate.AllowVerdict,
			check:   wantState("cbrn-3", gate.StateCrossed, "atlas-c1"),
		},
		{name: "exactly the interval", ev: clean(), action: scaleTo(4e24, day(192)), verdict: gate.AllowVerdict},
		{
			name:    "beyond the interval",
			ev:      clean(),
			action:  scaleTo(4e24, day(192).Add(time.Second)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment},
			check:   wantMessage(gate.StaleAssessment, "", "interval of 180d"),
		},
		{
			name:    "the assessment time is the latest qualifying record",
			ev:      clean().det("atlas-c1", "auto-2", false, "rso", day(50)),
			action:  scaleTo(4e24, day(230)),
			verdict: gate.AllowVerdict,
			check:   wantAssessment("atlas-c1", day(50)),
		},
		{
			name:    "a weakly elicited rerun does not refresh the assessment",
			ev:      clean().result("atlas-c1", "bio", 0.3, "prompted", day(100)),
			action:  scaleTo(4e24, day(200)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment},
			check:   wantAssessment("atlas-c1", day(12)),
		},
		{
			name:    "stale by compute and by interval",
			ev:      clean(),
			action:  scaleTo(1e25, day(300)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment, gate.StaleAssessment},
		},
	})
}

// Step 5: red lines.
func TestDecideRedLine(t *testing.T) {
	runDecide(t, []decideCase{
		{
			name:    "determined crossed",
			ev:      clean().det("atlas-c1", "auto-2", true, "rso", day(13)),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.RedLine + ":auto-2"},
			check: all(wantState("auto-2", gate.StateCrossed, "atlas-c1"), wantMessage(gate.RedLine, "auto-2", "determined by rso"),
				func(t *testing.T, d gate.Decision) {
					x := stateOf(d, "auto-2").Determination
					if x == nil || x.By != "rso" || !x.Crossed || !x.At.Equal(day(13)) {
						t.Errorf("Decide(%s) auto-2 determination = %+v, want rso crossed at day 13", describe(d.Action), x)
					}
				}),
		},
		{
			name:    "a newer determination by a non-decision-maker does not count",
			ev:      clean().det("atlas-c1", "auto-2", true, "intern", day(13)),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.AllowVerdict,
			check:   wantState("auto-2", gate.StateClear, ""),
		},
		{
			name:    "a newer determination reverses an older one",
			ev:      clean().det("atlas-c1", "auto-2", true, "rso", day(13)).det("atlas-c1", "auto-2", false, "rso", day(14)),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.AllowVerdict,
		},
		{
			name:    "red line and safeguards both reported",
			ev:      crossedCBRN().det("atlas-c1", "auto-2", true, "rso", day(13)),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.RedLine + ":auto-2", gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name: "a red line under training: continue still denies",
			policy: patch(t, basePolicy, "    determination: required\n    redLine: true\n",
				"    determination: required\n    redLine: true\n    onCross: {training: continue}\n"),
			ev:      clean().det("atlas-c1", "auto-2", true, "rso", day(13)),
			action:  scaleTo(2e24, day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.RedLine + ":auto-2"},
		},
	})
}

// Step 5: safeguards.
func TestDecideSafeguards(t *testing.T) {
	act := scaleTo(4e24, day(20))
	runDecide(t, []decideCase{
		{
			name:    "no status records",
			ev:      crossedCBRN(),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantSafeguards("cbrn-3", "sec", "dep"), wantState("cbrn-3", gate.StateCrossed, "atlas-c1"), wantMessage(gate.SafeguardsMissing, "cbrn-3", "bio = 0.75")),
		},
		{name: "all in force", ev: crossedCBRN().allSafeguards(5), action: act, verdict: gate.AllowVerdict},
		{
			name:    "revoked later",
			ev:      crossedCBRN().allSafeguards(5).sg("sec", evidence.Revoked, "auditor", day(15)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantSafeguards("cbrn-3", "sec"), wantMessage(gate.SafeguardsMissing, "cbrn-3", "revoked")),
		},
		{
			name:    "revocation by anyone ends it",
			ev:      crossedCBRN().allSafeguards(5).sg("dep", evidence.Revoked, "someone", day(15)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   wantSafeguards("cbrn-3", "dep"),
		},
		{
			name:    "revoked, then implemented again",
			ev:      crossedCBRN().allSafeguards(5).sg("sec", evidence.Revoked, "auditor", day(15)).sg("sec", evidence.Implemented, "auditor", day(18)),
			action:  act,
			verdict: gate.AllowVerdict,
		},
		{
			name:    "revocation before --at is undone only by a record before --at",
			ev:      crossedCBRN().allSafeguards(5).sg("sec", evidence.Revoked, "auditor", day(15)).sg("sec", evidence.Implemented, "auditor", day(25)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name:    "external safeguard implemented by a non-attester",
			ev:      crossedCBRN().sg("sec", evidence.Implemented, "security-team", day(5)).sg("dep", evidence.Implemented, "safety-team", day(5)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantSafeguards("cbrn-3", "sec"), wantMessage(gate.SafeguardsMissing, "cbrn-3", "security-team", "not an external attester")),
		},
		{
			// DESIGN.md: the newest status record must be by an attester,
			// so a later self-claim displaces an external attestation.
			name:    "a later self-claim displaces an external attestation",
			ev:      crossedCBRN().allSafeguards(5).sg("sec", evidence.Implemented, "security-team", day(6)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   wantSafeguards("cbrn-3", "sec"),
		},
		{
			name:    "keyed attester without a signature",
			ev:      crossedCBRN().sg("sec", evidence.Implemented, "keyed-auditor", day(5)).sg("dep", evidence.Implemented, "safety-team", day(5)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantSafeguards("cbrn-3", "sec"), wantMessage(gate.SafeguardsMissing, "cbrn-3", "no valid signature")),
		},
		{
			name:    "keyed attester with its signature",
			ev:      crossedCBRN().signedSg("sec", "keyed-auditor", "keyed-auditor", day(5)).sg("dep", evidence.Implemented, "safety-team", day(5)),
			action:  act,
			verdict: gate.AllowVerdict,
		},
		{
			name:    "keyed attester with another attester's signature",
			ev:      crossedCBRN().signedSg("sec", "keyed-auditor", "auditor", day(5)).sg("dep", evidence.Implemented, "safety-team", day(5)),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name: "record for another model",
			ev: func() *ev {
				e := crossedCBRN().allSafeguards(5)
				e.Safeguards[0].Model = "other"
				return e
			}(),
			action:  act,
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   wantSafeguards("cbrn-3", "sec"),
		},
		{
			name:    "a clear threshold needs no safeguards",
			ev:      clean(),
			action:  act,
			verdict: gate.AllowVerdict,
		},
		{
			name:    "training: continue",
			policy:  continuePolicy(t),
			ev:      crossedCBRN(),
			action:  act,
			verdict: gate.AllowVerdict,
			check:   wantState("cbrn-3", gate.StateCrossed, "atlas-c1"),
		},
		{
			name:    "training: continue does not relax deployment",
			policy:  continuePolicy(t),
			ev:      crossedCBRN(),
			action:  deploy("atlas-c1", "external", day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
	})
}

func TestDecideDeploy(t *testing.T) {
	at := day(20)
	runDecide(t, []decideCase{
		{
			name:    "mode allow while crossed",
			ev:      crossedCBRN(),
			action:  deploy("atlas-c1", "internal", at),
			verdict: gate.AllowVerdict,
			check:   all(wantAssessment("atlas-c1", day(12)), wantState("cbrn-3", gate.StateCrossed, "atlas-c1")),
		},
		{
			name:    "require-safeguards with none in force",
			ev:      crossedCBRN(),
			action:  deploy("atlas-c1", "external", at),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantSafeguards("cbrn-3", "sec", "dep"), wantMessage(gate.SafeguardsMissing, "cbrn-3", "external deployment")),
		},
		{name: "require-safeguards with all in force", ev: crossedCBRN().allSafeguards(5), action: deploy("atlas-c1", "external", at), verdict: gate.AllowVerdict},
		{
			name:    "deny whatever the safeguards",
			ev:      crossedCBRN().allSafeguards(5),
			action:  deploy("atlas-c1", "open-weights", at),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.DeploymentDenied + ":cbrn-3"},
			check:   wantMessage(gate.DeploymentDenied, "cbrn-3", "open-weights"),
		},
		{
			name:    "default mode action is require-safeguards",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.3, 0.85, 10),
			action:  deploy("atlas-c1", "internal", at),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":auto-1"},
			check:   wantSafeguards("auto-1", "dep"),
		},
		{
			name:    "red line",
			ev:      clean().det("atlas-c1", "auto-2", true, "rso", day(13)),
			action:  deploy("atlas-c1", "internal", at),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.RedLine + ":auto-2"},
		},
		{
			name: "checkpoint not assessed",
			ev: clean().ckpt("atlas-c2", 2e24, day(15)).
				result("atlas-c2", "bio", 0.3, "finetuned", day(16)),
			action:  deploy("atlas-c2", "internal", at),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.NoAssessment},
			check:   all(noAssessment, wantMessage(gate.NoAssessment, "", "atlas-c2", "rebench")),
		},
		{name: "unknown checkpoint", ev: clean(), action: deploy("atlas-c9", "internal", at), verdict: gate.DenyVerdict, reasons: []string{gate.NoAssessment}, check: noAssessment},
		{
			name:    "an earlier checkpoint is judged on the checkpoints up to it",
			ev:      clean().assessed("atlas-c2", 4e24, 0.8, 0.1, 14),
			action:  deploy("atlas-c1", "open-weights", at),
			verdict: gate.AllowVerdict,
			check:   all(wantAssessment("atlas-c1", day(12)), wantState("cbrn-3", gate.StateClear, "")),
		},
		{
			name:    "the later checkpoint is crossed",
			ev:      clean().assessed("atlas-c2", 4e24, 0.8, 0.1, 14),
			action:  deploy("atlas-c2", "open-weights", at),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.DeploymentDenied + ":cbrn-3"},
		},
		{
			// DESIGN.md's deploy steps have no cadence check: an old
			// assessment of the checkpoint itself is what deploy rests on.
			name:    "deploy has no staleness check",
			ev:      clean(),
			action:  deploy("atlas-c1", "external", day(400)),
			verdict: gate.AllowVerdict,
		},
	})
}

// Step 6 and its deploy counterpart.
func TestDecideSafetyCase(t *testing.T) {
	pol := affirmativePolicy(t)
	at := day(20)
	runDecide(t, []decideCase{
		{name: "at aboveCompute no case is needed", policy: pol, ev: clean(), action: scaleTo(2e24, at), verdict: gate.AllowVerdict},
		{
			name: "beyond aboveCompute without a case", policy: pol, ev: clean(), action: scaleTo(3e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
			check: wantMessage(gate.SafetyCaseMissing, "", "3e24", "2e24", "auditor"),
		},
		{name: "case approved by an attester", policy: pol, ev: clean().safetyCase("sc-1", 3e24, "auditor", day(15)), action: scaleTo(3e24, at), verdict: gate.AllowVerdict},
		{
			name: "case approved by a non-attester", policy: pol, ev: clean().safetyCase("sc-1", 1e26, "rso", day(15)), action: scaleTo(3e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "case covering less than the target", policy: pol, ev: clean().safetyCase("sc-1", 2.9e24, "auditor", day(15)), action: scaleTo(3e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "case approved after --at", policy: pol, ev: clean().safetyCase("sc-1", 1e26, "auditor", day(25)), action: scaleTo(3e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "case for another model", policy: pol,
			ev: func() *ev {
				e := clean().safetyCase("sc-1", 1e26, "auditor", day(15))
				e.SafetyCases[0].Model = "other"
				return e
			}(),
			action: scaleTo(3e24, at), verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "case by a keyed attester without its signature", policy: pol, ev: clean().safetyCase("sc-1", 1e26, "keyed-auditor", day(15)), action: scaleTo(3e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "case by a keyed attester with its signature", policy: pol,
			ev: func() *ev {
				e := clean().safetyCase("sc-1", 1e26, "keyed-auditor", day(15))
				e.SafetyCases[0].SignedBy = "keyed-auditor"
				return e
			}(),
			action: scaleTo(3e24, at), verdict: gate.AllowVerdict,
		},
		{
			name: "one good case among bad ones", policy: pol,
			ev:     clean().safetyCase("sc-1", 1e25, "rso", day(15)).safetyCase("sc-2", 2e24, "auditor", day(15)).safetyCase("sc-3", 5e24, "auditor", day(16)),
			action: scaleTo(3e24, at), verdict: gate.AllowVerdict,
		},
		{
			name: "no assessment and no case: both reported", policy: pol, action: scaleTo(3e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.NoAssessment, gate.SafetyCaseMissing},
		},
		{
			name: "evidence-of-danger needs no case", ev: clean(), action: scaleTo(4e24, at), verdict: gate.AllowVerdict,
		},
		{
			name: "deploy a checkpoint beyond aboveCompute without a case", policy: pol,
			ev:     clean().assessed("atlas-c2", 3e24, 0.3, 0.1, 14),
			action: deploy("atlas-c2", "internal", at), verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "deploy a checkpoint beyond aboveCompute with a case", policy: pol,
			ev:     clean().assessed("atlas-c2", 3e24, 0.3, 0.1, 14).safetyCase("sc-1", 3e24, "auditor", day(15)),
			action: deploy("atlas-c2", "internal", at), verdict: gate.AllowVerdict,
		},
		{
			name: "deploy a checkpoint beyond aboveCompute, case approved by a non-attester", policy: pol,
			ev:     clean().assessed("atlas-c2", 3e24, 0.3, 0.1, 14).safetyCase("sc-1", 3e24, "rso", day(15)),
			action: deploy("atlas-c2", "internal", at), verdict: gate.DenyVerdict, reasons: []string{gate.SafetyCaseMissing},
		},
		{
			name: "deploy a checkpoint at or below aboveCompute", policy: pol,
			ev:     clean().assessed("atlas-c2", 3e24, 0.3, 0.1, 14),
			action: deploy("atlas-c1", "internal", at), verdict: gate.AllowVerdict,
		},
		{
			name: "deploy an unassessed checkpoint beyond aboveCompute", policy: pol,
			ev:     clean().ckpt("atlas-c2", 3e24, day(14)),
			action: deploy("atlas-c2", "internal", at), verdict: gate.DenyVerdict, reasons: []string{gate.NoAssessment, gate.SafetyCaseMissing},
		},
	})
}

func TestDecidePolicyNotInForce(t *testing.T) {
	later := func(tb testing.TB) []gate.Version {
		return []gate.Version{{Policy: mustPolicy(tb, basePolicy), PublishedAt: day(30)}}
	}
	notInForce := func(fragment string) func(*testing.T, gate.Decision) {
		return all(noAssessment, wantMessage(gate.PolicyNotInForce, "", fragment), func(t *testing.T, d gate.Decision) {
			if d.Policy != nil {
				t.Errorf("Decide(%s) policy = %+v, want none", describe(d.Action), *d.Policy)
			}
		})
	}
	runDecide(t, []decideCase{
		{
			name:     "no versions",
			versions: func(testing.TB) []gate.Version { return nil },
			ev:       clean(),
			action:   scaleTo(4e24, day(20)),
			verdict:  gate.DenyVerdict,
			reasons:  []string{gate.PolicyNotInForce},
			check:    notInForce("no published version"),
		},
		{
			name:     "no versions, even for an exempt target",
			versions: func(testing.TB) []gate.Version { return nil },
			action:   scaleTo(1e20, day(20)),
			verdict:  gate.DenyVerdict,
			reasons:  []string{gate.PolicyNotInForce},
		},
		{
			name:     "published after --at",
			versions: later,
			ev:       clean(),
			action:   scaleTo(4e24, day(20)),
			verdict:  gate.DenyVerdict,
			reasons:  []string{gate.PolicyNotInForce},
			check:    notInForce("is in force at 2026-01-21T00:00:00Z"),
		},
		{
			name:     "deploy, published after --at",
			versions: later,
			ev:       clean(),
			action:   deploy("atlas-c1", "internal", day(20)),
			verdict:  gate.DenyVerdict,
			reasons:  []string{gate.PolicyNotInForce},
		},
		{
			name:     "an escape clause cannot stand in for a policy",
			versions: later,
			ev:       clean().escape("rso", day(15)),
			action:   scaleTo(4e24, day(20)),
			verdict:  gate.DenyVerdict,
			reasons:  []string{gate.PolicyNotInForce},
		},
		{
			name:     "in force from the instant of publication",
			versions: later,
			ev:       clean(),
			action:   scaleTo(4e24, day(30)),
			verdict:  gate.AllowVerdict,
			check: func(t *testing.T, d gate.Decision) {
				if d.Policy == nil || d.Policy.Name != "test-rsp" || d.Policy.Version != "1.0.0" || !strings.HasPrefix(d.Policy.Digest, "sha256:") {
					t.Errorf("Decide(%s) policy = %+v, want test-rsp 1.0.0 with a digest", describe(d.Action), d.Policy)
				}
			},
		},
	})
}

// Step 7.
func TestDecideEscape(t *testing.T) {
	pol := escapePolicy(t)
	at := day(20)
	overrode := func(want ...string) func(*testing.T, gate.Decision) {
		return func(t *testing.T, d gate.Decision) {
			t.Helper()
			r := reasonOf(d, gate.EscapeClause, "")
			if r == nil {
				t.Fatalf("Decide(%s) has no ESCAPE_CLAUSE reason", describe(d.Action))
			}
			var got []string
			for _, o := range r.Overrode {
				got = append(got, reasonKey(o))
			}
			if got, want := sorted(got), sorted(want); !slices.Equal(got, want) {
				t.Errorf("Decide(%s) escape clause overrode %v, want %v", describe(d.Action), got, want)
			}
		}
	}
	runDecide(t, []decideCase{
		{
			name: "allowed, by a decision-maker", policy: pol,
			ev: crossedCBRN().escape("rso", day(15)), action: scaleTo(4e24, at),
			verdict: gate.AllowVerdict, reasons: []string{gate.EscapeClause},
			check: all(overrode(gate.SafeguardsMissing+":cbrn-3"), wantMessage(gate.EscapeClause, "", "rso", "emergency", "SAFEGUARDS_MISSING")),
		},
		{
			name: "a later record by a non-decision-maker does not cancel one by a decision-maker", policy: pol,
			ev: crossedCBRN().escape("rso", day(14)).escape("ceo", day(15)), action: scaleTo(4e24, at),
			verdict: gate.AllowVerdict, reasons: []string{gate.EscapeClause},
		},
		{
			name: "allowed, overriding several denials and keeping the warning", policy: pol,
			ev:     newEv().assessed("atlas-c1", 1e24, 0.75, 0.55, 10).escape("rso", day(15)),
			action: scaleTo(3e24, day(200)), verdict: gate.AllowVerdict,
			reasons: []string{gate.EscapeClause, gate.ThresholdWarning + ":auto-1"},
			check:   overrode(gate.StaleAssessment, gate.StaleAssessment, gate.SafeguardsMissing+":cbrn-3"),
		},
		{
			name: "allowed, overriding NO_ASSESSMENT", policy: pol,
			ev: newEv().escape("rso", day(15)), action: scaleTo(4e24, at),
			verdict: gate.AllowVerdict, reasons: []string{gate.EscapeClause},
			check: overrode(gate.NoAssessment),
		},
		{
			name: "allowed, on deploy", policy: pol,
			ev: crossedCBRN().escape("rso", day(15)), action: deploy("atlas-c1", "open-weights", at),
			verdict: gate.AllowVerdict, reasons: []string{gate.EscapeClause},
			check: overrode(gate.DeploymentDenied + ":cbrn-3"),
		},
		{
			name: "allowed, nothing to override", policy: pol,
			ev: clean().escape("rso", day(15)), action: scaleTo(4e24, at),
			verdict: gate.AllowVerdict,
		},
		{
			name: "not allowed: ignored and flagged", ev: crossedCBRN().escape("rso", day(15)), action: scaleTo(4e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3", gate.EscapeClause + "(ignored)"},
			check: wantMessage(gate.EscapeClause, "", "allows none"),
		},
		{
			name: "not allowed: flagged on an allow too", ev: clean().escape("rso", day(15)), action: scaleTo(4e24, at),
			verdict: gate.AllowVerdict, reasons: []string{gate.EscapeClause + "(ignored)"},
		},
		{
			name: "by a non-decision-maker: ignored", policy: pol,
			ev: crossedCBRN().escape("ceo", day(15)), action: scaleTo(4e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3", gate.EscapeClause + "(ignored)"},
			check: wantMessage(gate.EscapeClause, "", "ceo", "not one of the policy's decision-makers"),
		},
		{
			name: "never overrides a red line", policy: pol,
			ev:     crossedCBRN().det("atlas-c1", "auto-2", true, "rso", day(13)).escape("rso", day(15)),
			action: scaleTo(4e24, at), verdict: gate.DenyVerdict,
			reasons: []string{gate.RedLine + ":auto-2", gate.EscapeClause},
			check:   all(overrode(gate.SafeguardsMissing+":cbrn-3"), wantMessage(gate.EscapeClause, "", "cannot open a red line")),
		},
		{
			name: "never overrides a red line on deploy", policy: pol,
			ev:     clean().det("atlas-c1", "auto-2", true, "rso", day(13)).escape("rso", day(15)),
			action: deploy("atlas-c1", "internal", at), verdict: gate.DenyVerdict,
			check: func(t *testing.T, d gate.Decision) {
				if reasonOf(d, gate.RedLine, "auto-2") == nil {
					t.Errorf("Decide(%s) reasons = %v, want RED_LINE:auto-2 among them", describe(d.Action), reasonKeys(d))
				}
			},
			// Whether the decision should also mention the escape that
			// could not apply is left open by DESIGN.md.
			anyReasons: true,
		},
		{
			name: "recorded after --at: not considered", policy: pol,
			ev: crossedCBRN().escape("rso", day(25)), action: scaleTo(4e24, at),
			verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name: "for another model: not considered", policy: pol,
			ev: func() *ev {
				e := crossedCBRN().escape("rso", day(15))
				e.Escapes[0].Model = "other"
				return e
			}(),
			action: scaleTo(4e24, at), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
	})
}

// Every applicable reason is reported, not just the first.
func TestDecideAllReasons(t *testing.T) {
	runDecide(t, []decideCase{
		{
			name:    "stale twice, safeguards missing, warning",
			ev:      newEv().assessed("atlas-c1", 1e24, 0.75, 0.55, 10),
			action:  scaleTo(3e24, day(200)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.StaleAssessment, gate.StaleAssessment, gate.SafeguardsMissing + ":cbrn-3", gate.ThresholdWarning + ":auto-1"},
			check:   all(wantMessage(gate.StaleAssessment, "", "warningComputeMultiple"), wantSafeguards("cbrn-3", "sec", "dep")),
		},
		{
			name:    "every scale reason at once",
			policy:  patch(t, affirmativePolicy(t), "safeguards:\n  - {id: sec", "  - {id: cyber-1, domain: cyber, name: Cyber-1, trigger: 'score(\"cyber\") >= 0.8'}\nsafeguards:\n  - {id: sec"),
			ev:      newEv().assessed("atlas-c1", 1e24, 0.75, 0.55, 10).det("atlas-c1", "auto-2", true, "rso", day(13)).escape("rso", day(15)),
			action:  scaleTo(3e24, day(200)),
			verdict: gate.DenyVerdict,
			reasons: []string{
				gate.InsufficientEvidence + ":cyber-1", gate.ThresholdWarning + ":auto-1", gate.StaleAssessment, gate.StaleAssessment,
				gate.RedLine + ":auto-2", gate.SafeguardsMissing + ":cbrn-3", gate.SafetyCaseMissing, gate.EscapeClause + "(ignored)",
			},
		},
		{
			name:    "every deploy reason at once",
			policy:  patch(t, affirmativePolicy(t), "safeguards:\n  - {id: sec", "  - {id: cyber-1, domain: cyber, name: Cyber-1, trigger: 'score(\"cyber\") >= 0.8'}\nsafeguards:\n  - {id: sec"),
			ev:      newEv().assessed("atlas-c1", 4e24, 0.75, 0.85, 10).det("atlas-c1", "auto-2", true, "rso", day(13)),
			action:  deploy("atlas-c1", "open-weights", day(20)),
			verdict: gate.DenyVerdict,
			reasons: []string{
				gate.InsufficientEvidence + ":cyber-1", gate.RedLine + ":auto-2", gate.DeploymentDenied + ":cbrn-3",
				gate.SafeguardsMissing + ":auto-1", gate.SafetyCaseMissing,
			},
		},
	})
}

// hysteresisEv records assessed checkpoints atlas-c1, atlas-c2, … with the
// given bio scores, at compute 1e24, 2e24, … on days 10, 20, ….
func hysteresisEv(bio ...float64) *ev {
	e := newEv()
	for i, b := range bio {
		e.assessed(cpName(i+1), float64(i+1)*1e24, b, 0.1, float64(10*(i+1)))
	}
	return e
}

func cpName(i int) string { return "atlas-c" + strconv.Itoa(i) }

func TestHysteresis(t *testing.T) {
	bio := []float64{0.30, 0.62, 0.72, 0.55, 0.65, 0.45, 0.55, 0.61, 0.71, 0.69}
	type want struct{ state, since string }
	tests := []struct {
		name   string
		policy string
		want   []want // per checkpoint c1…c10
	}{
		{
			name:   "with clear",
			policy: basePolicy,
			want: []want{
				{gate.StateClear, ""}, {gate.StateWarning, ""}, {gate.StateCrossed, "atlas-c3"}, {gate.StateCrossed, "atlas-c3"},
				{gate.StateCrossed, "atlas-c3"}, {gate.StateClear, ""}, {gate.StateClear, ""}, {gate.StateWarning, ""},
				{gate.StateCrossed, "atlas-c9"}, {gate.StateCrossed, "atlas-c9"},
			},
		},
		{
			name:   "without clear",
			policy: noClearPolicy(t),
			want: []want{
				{gate.StateClear, ""}, {gate.StateWarning, ""}, {gate.StateCrossed, "atlas-c3"}, {gate.StateClear, ""},
				{gate.StateWarning, ""}, {gate.StateClear, ""}, {gate.StateClear, ""}, {gate.StateWarning, ""},
				{gate.StateCrossed, "atlas-c9"}, {gate.StateWarning, ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			versions := published(t, tt.policy)
			e := hysteresisEv(bio...)
			for i, w := range tt.want {
				// Deploy checkpoint i (internal is allowed while cbrn-3 is
				// crossed), judged on checkpoints c1…ci.
				a := deploy(cpName(i+1), "internal", day(200))
				d := gate.Decide(gate.Input{Versions: versions, Evidence: e.Evidence, Action: a})
				wantState("cbrn-3", w.state, w.since)(t, d)
				// Scale as of the moment checkpoint i is assessed: the
				// same state, with checkpoint i as A.
				s := scaleTo(float64(i+1)*1e24, day(float64(10*(i+1))+2))
				d = gate.Decide(gate.Input{Versions: versions, Evidence: e.Evidence, Action: s})
				wantAssessment(cpName(i+1), day(float64(10*(i+1))+2))(t, d)
				wantState("cbrn-3", w.state, w.since)(t, d)
				if w.state == gate.StateCrossed {
					wantSafeguards("cbrn-3", "sec", "dep")(t, d)
				}
			}
		})
	}
	t.Run("message names the checkpoint the trigger fired at", func(t *testing.T) {
		d := gate.Decide(gate.Input{Versions: published(t, basePolicy), Evidence: hysteresisEv(0.3, 0.72, 0.55).Evidence, Action: scaleTo(3e24, day(40))})
		wantMessage(gate.SafeguardsMissing, "cbrn-3", "fired at atlas-c2", `score("bio") < 0.50`, "bio = 0.55")(t, d)
	})
	runDecide(t, []decideCase{
		{
			name: "unassessed checkpoints do not clear",
			ev: hysteresisEv(0.3, 0.72).
				ckpt("atlas-c3", 3e24, day(30)).result("atlas-c3", "bio", 0.2, "finetuned", day(31)).
				assessed("atlas-c4", 4e24, 0.55, 0.1, 40),
			action:  scaleTo(8e24, day(50)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantAssessment("atlas-c4", day(42)), wantState("cbrn-3", gate.StateCrossed, "atlas-c2")),
		},
		{
			name:    "checkpoints are walked in order of compute, not of time",
			ev:      newEv().assessed("atlas-c2", 2e24, 0.55, 0.1, 10).assessed("atlas-c1", 1e24, 0.72, 0.1, 20),
			action:  scaleTo(4e24, day(30)),
			verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check:   all(wantAssessment("atlas-c2", day(12)), wantState("cbrn-3", gate.StateCrossed, "atlas-c1")),
		},
	})
}

func TestHysteresisUnknown(t *testing.T) {
	// Trigger reads the non-required cyber evaluation: unknown without it.
	trigPol := patch(t, basePolicy, `trigger: score("bio") >= 0.70`, `trigger: score("bio") >= 0.70 || score("cyber") >= 0.90`)
	// Clear reads cyber: whether a crossed threshold clears is unknown
	// without it.
	clearPol := patch(t, basePolicy, `clear: score("bio") < 0.50`, `clear: score("bio") < 0.50 && score("cyber") < 0.50`)
	insufficient := []string{gate.InsufficientEvidence + ":cbrn-3"}
	runDecide(t, []decideCase{
		{
			name: "unknown trigger", policy: trigPol, ev: hysteresisEv(0.3), action: scaleTo(2e24, day(20)),
			verdict: gate.DenyVerdict, reasons: insufficient,
			check: all(wantState("cbrn-3", gate.StateUnknown, ""), func(t *testing.T, d gate.Decision) {
				if got := stateOf(d, "cbrn-3").Missing; !slices.Equal(got, []string{"cyber"}) {
					t.Errorf("Decide(%s) cbrn-3 missing = %v, want [cyber]", describe(d.Action), got)
				}
			}),
		},
		{
			// A score() without a qualifying result makes the whole
			// condition unknown, never false (and here not true either).
			name: "unknown trigger even when the other disjunct holds", policy: trigPol, ev: hysteresisEv(0.75), action: scaleTo(2e24, day(20)),
			verdict: gate.DenyVerdict, reasons: insufficient,
		},
		{
			name: "unknown at an earlier checkpoint persists while clear is false", policy: trigPol,
			ev:     hysteresisEv(0.3, 0.55).result("atlas-c2", "cyber", 0.1, "none", day(21)),
			action: scaleTo(4e24, day(30)), verdict: gate.DenyVerdict, reasons: insufficient,
			check: wantState("cbrn-3", gate.StateUnknown, ""),
		},
		{
			name: "unknown at an earlier checkpoint ends when clear holds", policy: trigPol,
			ev:     hysteresisEv(0.3, 0.45).result("atlas-c2", "cyber", 0.1, "none", day(21)),
			action: scaleTo(4e24, day(30)), verdict: gate.AllowVerdict,
			check: wantState("cbrn-3", gate.StateClear, ""),
		},
		{
			name: "unknown at an earlier checkpoint ends when the trigger fires", policy: trigPol,
			ev:     hysteresisEv(0.3, 0.75).result("atlas-c2", "cyber", 0.1, "none", day(21)),
			action: scaleTo(4e24, day(30)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check: wantState("cbrn-3", gate.StateCrossed, "atlas-c2"),
		},
		{
			name: "unknown clear keeps a crossed threshold unknown", policy: clearPol, ev: hysteresisEv(0.75, 0.45),
			action: scaleTo(4e24, day(30)), verdict: gate.DenyVerdict, reasons: insufficient,
			check: wantState("cbrn-3", gate.StateUnknown, ""),
		},
		{
			name: "known clear clears", policy: clearPol, ev: hysteresisEv(0.75, 0.45).result("atlas-c2", "cyber", 0.2, "none", day(21)),
			action: scaleTo(4e24, day(30)), verdict: gate.AllowVerdict,
			check: wantState("cbrn-3", gate.StateClear, ""),
		},
		{
			name: "known false clear keeps it crossed", policy: clearPol, ev: hysteresisEv(0.75, 0.45).result("atlas-c2", "cyber", 0.7, "none", day(21)),
			action: scaleTo(4e24, day(30)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check: wantState("cbrn-3", gate.StateCrossed, "atlas-c1"),
		},
		{
			name: "a firing trigger needs no clear", policy: clearPol, ev: hysteresisEv(0.75, 0.8),
			action: scaleTo(4e24, day(30)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check: wantState("cbrn-3", gate.StateCrossed, "atlas-c2"),
		},
		{
			name: "a clear condition is not needed before the first crossing", policy: clearPol, ev: hysteresisEv(0.3, 0.45),
			action: scaleTo(4e24, day(30)), verdict: gate.AllowVerdict,
			check: wantState("cbrn-3", gate.StateClear, ""),
		},
	})
}

// --at: only records at or before it count.
func TestTimeTravel(t *testing.T) {
	results := clean().result("atlas-c1", "bio", 0.75, "finetuned", day(30))
	ckpts := clean().assessed("atlas-c2", 8e24, 0.3, 0.1, 30)
	dets := clean().det("atlas-c1", "auto-2", true, "rso", day(30))
	sgs := crossedCBRN().allSafeguards(30)
	runDecide(t, []decideCase{
		{name: "result after --at", ev: results, action: scaleTo(4e24, day(29)), verdict: gate.AllowVerdict, check: wantState("cbrn-3", gate.StateClear, "")},
		{
			name: "result at --at", ev: results, action: scaleTo(4e24, day(30)), verdict: gate.DenyVerdict,
			reasons: []string{gate.SafeguardsMissing + ":cbrn-3"}, check: wantAssessment("atlas-c1", day(30)),
		},
		{name: "checkpoint after --at", ev: ckpts, action: scaleTo(4e24, day(29)), verdict: gate.AllowVerdict, check: wantAssessment("atlas-c1", day(12))},
		{name: "checkpoint before --at", ev: ckpts, action: scaleTo(4e24, day(40)), verdict: gate.AllowVerdict, check: wantAssessment("atlas-c2", day(32))},
		{
			name: "results of a checkpoint before --at, recorded after", ev: ckpts, action: scaleTo(4e24, day(30.5)), verdict: gate.AllowVerdict,
			check: wantAssessment("atlas-c1", day(12)),
		},
		{
			// The checkpoint record is what is dated after --at; its
			// results and determination are not.
			name: "checkpoint after --at with earlier results",
			ev: clean().ckpt("atlas-c2", 4e24, day(30)).
				result("atlas-c2", "bio", 0.75, "finetuned", day(15)).result("atlas-c2", "rebench", 0.1, "scaffolded", day(15)).
				det("atlas-c2", "auto-2", false, "rso", day(15)),
			action: scaleTo(4e24, day(20)), verdict: gate.AllowVerdict, check: all(wantAssessment("atlas-c1", day(12)), wantState("cbrn-3", gate.StateClear, "")),
		},
		{name: "deploy a checkpoint recorded after --at", ev: ckpts, action: deploy("atlas-c2", "internal", day(29)), verdict: gate.DenyVerdict, reasons: []string{gate.NoAssessment}},
		{name: "determination after --at", ev: dets, action: scaleTo(4e24, day(29)), verdict: gate.AllowVerdict},
		{name: "determination before --at", ev: dets, action: scaleTo(4e24, day(31)), verdict: gate.DenyVerdict, reasons: []string{gate.RedLine + ":auto-2"}},
		{
			name: "the only determination after --at", ev: newEv().assessed("atlas-c1", 1e24, 0.3, 0.1, 10).det("atlas-c1", "auto-2", false, "rso", day(30)),
			action: scaleTo(4e24, day(30)), verdict: gate.AllowVerdict, check: wantAssessment("atlas-c1", day(30)),
		},
		{name: "safeguards after --at", ev: sgs, action: scaleTo(4e24, day(29)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"}},
		{name: "safeguards before --at", ev: sgs, action: scaleTo(4e24, day(31)), verdict: gate.AllowVerdict},
		{
			name: "--at in another zone is the same instant",
			ev:   sgs,
			action: func() gate.Action {
				a := scaleTo(4e24, day(30))
				a.At = a.At.In(time.FixedZone("UTC-5", -5*3600))
				return a
			}(),
			verdict: gate.AllowVerdict,
		},
	})
}

// Newest record wins by `at`; on equal `at`, the one recorded last (Seq).
func TestNewestWins(t *testing.T) {
	// withSeqs sets the sequence numbers of the last len(seqs) results.
	withSeqs := func(e *ev, seqs ...int64) *ev {
		n := len(e.Results)
		for i, s := range seqs {
			e.Results[n-len(seqs)+i].Seq = s
		}
		return e
	}
	runDecide(t, []decideCase{
		{
			name: "newer by at", ev: clean().result("atlas-c1", "bio", 0.75, "finetuned", day(11.5)),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check: wantAssessment("atlas-c1", day(12)),
		},
		{
			name: "newer by at, recorded earlier", ev: withSeqs(clean().result("atlas-c1", "bio", 0.75, "finetuned", day(11.5)), 0),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name: "older by at, recorded later", ev: clean().result("atlas-c1", "bio", 0.75, "finetuned", day(10.5)),
			action: scaleTo(4e24, day(20)), verdict: gate.AllowVerdict,
		},
		{
			name: "equal at: higher Seq wins (recorded last)",
			ev: withSeqs(clean().result("atlas-c1", "bio", 0.1, "finetuned", day(11)).result("atlas-c1", "bio", 0.75, "finetuned", day(11)),
				1001, 1000),
			action: scaleTo(4e24, day(20)), verdict: gate.AllowVerdict, check: wantState("cbrn-3", gate.StateClear, ""),
		},
		{
			name: "equal at: higher Seq wins whatever the slice order",
			ev: withSeqs(clean().result("atlas-c1", "bio", 0.1, "finetuned", day(11)).result("atlas-c1", "bio", 0.75, "finetuned", day(11)),
				1000, 1001),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name:   "a newer weakly elicited result does not displace a qualifying one",
			ev:     crossedCBRN().result("atlas-c1", "bio", 0.1, "scaffolded", day(15)),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name:   "a newer incomplete result does not displace a complete one",
			ev:     crossedCBRN().incomplete("atlas-c1", "bio", 0.1, "finetuned", day(15)),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
		},
		{
			name: "determinations: equal at, higher Seq wins",
			ev: func() *ev {
				e := clean().det("atlas-c1", "auto-2", true, "rso", day(13)).det("atlas-c1", "auto-2", false, "rso", day(13))
				n := len(e.Determinations)
				e.Determinations[n-2].Seq, e.Determinations[n-1].Seq = 1001, 1000
				return e
			}(),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.RedLine + ":auto-2"},
		},
		{
			name: "safeguards: equal at, higher Seq wins",
			ev: func() *ev {
				e := crossedCBRN().allSafeguards(5).sg("sec", evidence.Revoked, "auditor", day(5))
				e.Safeguards[len(e.Safeguards)-1].Seq = 1
				return e
			}(),
			action: scaleTo(4e24, day(20)), verdict: gate.AllowVerdict,
		},
		{
			name:   "safeguards: equal at, revocation recorded last wins",
			ev:     crossedCBRN().allSafeguards(5).sg("sec", evidence.Revoked, "auditor", day(5)),
			action: scaleTo(4e24, day(20)), verdict: gate.DenyVerdict, reasons: []string{gate.SafeguardsMissing + ":cbrn-3"},
			check: wantSafeguards("cbrn-3", "sec"),
		},
	})
}

func TestDecideAction(t *testing.T) {
	versions := published(t, basePolicy)
	a := scaleTo(4e24, day(20).In(time.FixedZone("CET", 3600)))
	a.Model = ""
	d := gate.Decide(gate.Input{Versions: versions, Evidence: clean().Evidence, Action: a})
	if d.Action.Model != "atlas" {
		t.Errorf("Decide(scale with no model) action.model = %q, want the evidence's model atlas", d.Action.Model)
	}
	if !d.Action.At.Equal(day(20)) || d.Action.At.Location() != time.UTC {
		t.Errorf("Decide(scale) action.at = %v, want %v in UTC", d.Action.At, day(20))
	}
	if d.Verdict != gate.AllowVerdict {
		t.Errorf("Decide(scale with no model) verdict = %s, want allow; reasons %v", d.Verdict, reasonKeys(d))
	}

	d = gate.Decide(gate.Input{Versions: versions, Evidence: clean().Evidence, Action: gate.Action{Kind: "train", Model: "atlas", At: day(20)}})
	if d.Verdict != gate.DenyVerdict {
		t.Errorf("Decide(unknown action kind) verdict = %s, want deny", d.Verdict)
	}
}

func TestInForce(t *testing.T) {
	pol := func(tb testing.TB, version, scrutiny string) *policy.Policy {
		return mustPolicy(tb, patch(tb, basePolicy, "version: 1.0.0", "version: "+version, "scrutinyPeriod: 30d", "scrutinyPeriod: "+scrutiny))
	}
	type pending struct {
		version string
		forceAt time.Time
	}
	type check struct {
		at      time.Time
		version string // "" for none in force
		pending []pending
	}
	tests := []struct {
		name     string
		versions []gate.Version
		checks   []check
	}{
		{
			// v1 (30d) published at t0; v2 at t0+10d takes force at
			// t0+40d; v3 at t0+20d, while v2 is not yet in force, is
			// governed by v1's period: t0+50d.
			name: "three versions",
			versions: []gate.Version{
				{Policy: pol(t, "1.0.0", "30d"), PublishedAt: day(0)},
				{Policy: pol(t, "2.0.0", "30d"), PublishedAt: day(10)},
				{Policy: pol(t, "3.0.0", "30d"), PublishedAt: day(20)},
			},
			checks: []check{
				{at: day(-1), version: ""},
				{at: day(0), version: "1.0.0"},
				{at: day(9), version: "1.0.0"},
				{at: day(10), version: "1.0.0", pending: []pending{{"2.0.0", day(40)}}},
				{at: day(25), version: "1.0.0", pending: []pending{{"2.0.0", day(40)}, {"3.0.0", day(50)}}},
				{at: day(40).Add(-time.Second), version: "1.0.0", pending: []pending{{"2.0.0", day(40)}, {"3.0.0", day(50)}}},
				{at: day(40), version: "2.0.0", pending: []pending{{"3.0.0", day(50)}}},
				{at: day(49), version: "2.0.0", pending: []pending{{"3.0.0", day(50)}}},
				{at: day(50), version: "3.0.0"},
				{at: day(500), version: "3.0.0"},
			},
		},
		{
			// The governing period is the one of the version in force at
			// publication, never the new version's own.
			name: "governing version's period, not the new version's",
			versions: []gate.Version{
				{Policy: pol(t, "1.0.0", "10d"), PublishedAt: day(0)},
				{Policy: pol(t, "1.1.0", "60d"), PublishedAt: day(20)}, // v1 in force: 20+10 = 30
				{Policy: pol(t, "1.2.0", "1d"), PublishedAt: day(25)},  // v1 still in force: 25+10 = 35
				{Policy: pol(t, "1.3.0", "0d"), PublishedAt: day(40)},  // 1.2.0 in force: 40+1 = 41
				{Policy: pol(t, "1.4.0", "5d"), PublishedAt: day(41)},  // 1.3.0 in force: 41+0 = 41
			},
			checks: []check{
				{at: day(21), version: "1.0.0", pending: []pending{{"1.1.0", day(30)}}},
				{at: day(30), version: "1.1.0", pending: []pending{{"1.2.0", day(35)}}},
				{at: day(35), version: "1.2.0"},
				{at: day(40), version: "1.2.0", pending: []pending{{"1.3.0", day(41)}}},
				{at: day(41), version: "1.4.0"},
			},
		},
		{
			name: "a long own period does not delay the next version",
			versions: []gate.Version{
				{Policy: pol(t, "1.0.0", "30d"), PublishedAt: day(0)},
				{Policy: pol(t, "2.0.0", "5d"), PublishedAt: day(10)},   // 40
				{Policy: pol(t, "3.0.0", "365d"), PublishedAt: day(45)}, // 2.0.0 in force: 50
			},
			checks: []check{
				{at: day(45), version: "2.0.0", pending: []pending{{"3.0.0", day(50)}}},
				{at: day(50), version: "3.0.0"},
			},
		},
		{
			name: "versions given out of order",
			versions: []gate.Version{
				{Policy: pol(t, "3.0.0", "30d"), PublishedAt: day(20)},
				{Policy: pol(t, "1.0.0", "30d"), PublishedAt: day(0)},
				{Policy: pol(t, "2.0.0", "30d"), PublishedAt: day(10)},
			},
			checks: []check{
				{at: day(25), version: "1.0.0", pending: []pending{{"2.0.0", day(40)}, {"3.0.0", day(50)}}},
				{at: day(45), version: "2.0.0", pending: []pending{{"3.0.0", day(50)}}},
			},
		},
		{
			name: "semantic, not lexical, version order",
			versions: []gate.Version{
				{Policy: pol(t, "1.9.0", "0d"), PublishedAt: day(0)},
				{Policy: pol(t, "1.10.0", "0d"), PublishedAt: day(1)},
			},
			checks: []check{{at: day(2), version: "1.10.0"}},
		},
		{name: "no versions", checks: []check{{at: day(0), version: ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range tt.checks {
				v, pend := gate.InForce(tt.versions, c.at)
				got := ""
				if v != nil {
					got = v.Policy.Metadata.Version
				}
				if got != c.version {
					t.Errorf("InForce(%s) = %q, want %q", c.at.Format(time.RFC3339), got, c.version)
				}
				var gotPend []pending
				for _, p := range pend {
					gotPend = append(gotPend, pending{p.Version, p.ForceAt})
					if p.Digest == "" {
						t.Errorf("InForce(%s) pending %s has no digest", c.at.Format(time.RFC3339), p.Version)
					}
				}
				if !slices.EqualFunc(gotPend, c.pending, func(a, b pending) bool { return a.version == b.version && a.forceAt.Equal(b.forceAt) }) {
					t.Errorf("InForce(%s) pending = %v, want %v", c.at.Format(time.RFC3339), gotPend, c.pending)
				}
				// Decide reports the same.
				d := gate.Decide(gate.Input{Versions: tt.versions, Evidence: clean().Evidence, Action: scaleTo(4e24, c.at)})
				switch {
				case c.version == "" && (d.Policy != nil || reasonOf(d, gate.PolicyNotInForce, "") == nil):
					t.Errorf("Decide(at %s) policy = %+v, reasons %v, want POLICY_NOT_IN_FORCE", c.at.Format(time.RFC3339), d.Policy, reasonKeys(d))
				case c.version != "" && (d.Policy == nil || d.Policy.Version != c.version || len(d.Policy.Pending) != len(c.pending)):
					t.Errorf("Decide(at %s) policy = %+v, want version %s with %d pending", c.at.Format(time.RFC3339), d.Policy, c.version, len(c.pending))
				}
			}
		})
	}
}

// TestPolicyVersionGoverns shows the gate applying the version in force: a
// red line under 1.0.0 is opened by 1.1.0 only once 1.1.0 takes force.
func TestPolicyVersionGoverns(t *testing.T) {
	v2src := patch(t, basePolicy, "version: 1.0.0", "version: 1.1.0",
		"    determination: required\n    redLine: true\n", "    determination: required\n    requires: [sec]\n")
	versions := []gate.Version{
		{Policy: mustPolicy(t, basePolicy), PublishedAt: day(0)},
		{Policy: mustPolicy(t, v2src), PublishedAt: day(14)},
	}
	e := clean().det("atlas-c1", "auto-2", true, "rso", day(13)).sg("sec", evidence.Implemented, "auditor", day(15))
	for _, tc := range []struct {
		at      time.Time
		version string
		reasons []string
	}{
		{day(14), "1.0.0", []string{gate.RedLine + ":auto-2"}},
		{day(44).Add(-time.Second), "1.0.0", []string{gate.RedLine + ":auto-2"}},
		{day(44), "1.1.0", []string{}},
	} {
		d := gate.Decide(gate.Input{Versions: versions, Evidence: e.Evidence, Action: scaleTo(4e24, tc.at)})
		if d.Policy == nil || d.Policy.Version != tc.version {
			t.Errorf("Decide(%s) policy = %+v, want version %s", describe(d.Action), d.Policy, tc.version)
		}
		if got := reasonKeys(d); !slices.Equal(got, tc.reasons) {
			t.Errorf("Decide(%s) reasons = %v, want %v", describe(d.Action), got, tc.reasons)
		}
	}
}
