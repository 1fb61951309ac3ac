package analysis

import (
	"fmt"
	"sort"
	"strings"

	"scalegate.dev/scalegate/internal/policy"
)

// Severity is how much a lint finding matters. Errors make `policy lint`
// exit 1.
type Severity string

// Severities, most severe first.
const (
	SevError   Severity = "error"
	SevWarning Severity = "warning"
	SevInfo    Severity = "info"
)

// Rule is one lint check. Codes are stable: a code is never reused for a
// different check.
type Rule struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	// Summary says in one line what the rule finds.
	Summary string `json:"summary"`
	// Why says in one line why it matters.
	Why string `json:"why"`
}

// Rules are the lint rules, by code.
var Rules = []Rule{
	{"SG001", "judgment-threshold", SevWarning,
		"threshold left to judgment (determination: required) instead of a trigger",
		"whether it is crossed is a person's call, which no outsider can re-check from the evaluations"},
	{"SG002", "no-decision-maker", SevError,
		"the policy needs someone's judgment but names no decision-maker",
		"only decision-makers' determinations and escape invocations count, so with none named the gate can never be satisfied (or overridden) as written"},
	{"SG003", "no-early-warning", SevWarning,
		"threshold with a trigger but no early-warning condition",
		"nothing flags the approach to the threshold, so the next scaling step may jump it"},
	{"SG004", "warning-not-earlier", SevWarning,
		"early-warning condition that does not fire whenever the trigger does",
		"a warning that can stay silent while the threshold is crossed warns of nothing"},
	{"SG005", "no-clear-condition", SevInfo,
		"threshold with a trigger but no clear (resumption) condition",
		"the threshold un-crosses as soon as a noisy score dips below the trigger; a clear condition states when it is really safe to resume"},
	{"SG006", "no-compute-cadence", SevWarning,
		"no re-evaluation cadence in effective compute (cadence.computeMultiple)",
		"a model may be scaled any amount past its last assessment"},
	{"SG007", "no-time-cadence", SevWarning,
		"no re-evaluation cadence in calendar time (cadence.interval)",
		"post-training and elicitation progress can raise capabilities without new compute; an old assessment never expires"},
	{"SG008", "training-never-pauses", SevError,
		"no threshold ever stops training",
		"no threshold is a red line or pauses training with a safeguard to wait for, so the policy only ever gates deployment"},
	{"SG009", "no-thresholds", SevError,
		"the policy has no capability thresholds",
		"without thresholds the gate has nothing to check"},
	{"SG010", "weak-elicitation", SevWarning,
		"capability evaluation that accepts results below scaffolded elicitation",
		"plain prompting under-estimates what a model can do; a threshold read from such results fires late"},
	{"SG011", "security-self-attested", SevWarning,
		"security safeguard required by a threshold but attested only by the developer",
		"weight security is what an outside party can least see, and a self-attestation is the developer's word"},
	{"SG012", "external-without-attesters", SevError,
		"externally attested safeguard but no attesters",
		"with governance.attesters empty no attestation counts as external, so the safeguard can never be in force"},
	{"SG013", "no-scrutiny-period", SevWarning,
		"no scrutiny period: a new version takes force when published",
		"a red line can be opened, or a threshold raised, overnight and without public notice"},
	{"SG014", "short-scrutiny-period", SevWarning,
		fmt.Sprintf("scrutiny period shorter than %d days", minScrutinyDays),
		"outsiders have too little time to read and answer a new version before it takes force"},
	{"SG015", "escape-clause", SevWarning,
		"the policy has an escape clause",
		"any denial can be overridden by the developer's own decision-makers, for example when a competitor moves first"},
	{"SG016", "red-line-without-hole", SevWarning,
		"red line that does not state its hole",
		"a red line should say what is not known yet (why no safeguards suffice), so that outsiders can judge a later version that opens it"},
	{"SG017", "domain-without-threshold", SevWarning,
		"risk domain with no threshold",
		"the policy names a risk it commits to nothing about"},
	{"SG018", "no-internal-deployment", SevWarning,
		"no threshold restricts internal deployment",
		"models used inside the developer (for example to automate AI research) are never gated"},
	{"SG019", "no-alignment-evaluation", SevWarning,
		"no propensity (misalignment), control or understanding-based evaluation",
		"the policy checks only what a model can do, never whether it would act against its overseers or whether it can be controlled"},
	{"SG020", "attester-without-key", SevWarning,
		"attester without a verifier key",
		"anyone can record an attestation in the attester's name; with a key, its claims must carry its signature"},
	{"SG021", "threshold-without-safeguards", SevWarning,
		"threshold that is not a red line and requires no safeguard",
		"`pause` and `require-safeguards` wait for the required safeguards; with none required, crossing the threshold changes nothing"},
	{"SG022", "no-external-accountability", SevWarning,
		"no attesters, no externally attested safeguard and no external review",
		"every claim the gate relies on is the developer's own"},
	{"SG023", "no-source", SevInfo,
		"no metadata.source",
		"readers cannot check the encoding against the published text"},
	{"SG024", "escape-without-conditions", SevError,
		"escape clause with no stated conditions",
		"the developer may override any denial for any reason"},
	{"SG025", "judgment-without-criterion", SevWarning,
		"threshold left to judgment without a description of what is judged",
		"the determination has no stated criterion at all"},
}

var rulesByCode = func() map[string]*Rule {
	m := map[string]*Rule{}
	for i := range Rules {
		m[Rules[i].Code] = &Rules[i]
	}
	return m
}()

// Finding is one lint finding.
type Finding struct {
	Code     string   `json:"code"`
	Name     string   `json:"name"`
	Severity Severity `json:"severity"`
	Loc      Loc      `json:"location"`
	// Message says what is wrong here, in one line.
	Message string `json:"message"`
	// Fix says what would fix it, in one line.
	Fix string `json:"fix"`
}

// LintResult is the findings for one policy.
type LintResult struct {
	File     string    `json:"file"`
	Policy   string    `json:"policy"`
	Version  string    `json:"version"`
	Findings []Finding `json:"findings"`
}

// Errors counts the error-severity findings.
func (r *LintResult) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == SevError {
			n++
		}
	}
	return n
}

type linter struct {
	p   *policy.Policy
	out []Finding
}

func (l *linter) add(code, path, fix, format string, args ...any) {
	r := rulesByCode[code]
	l.out = append(l.out, Finding{
		Code: r.Code, Name: r.Name, Severity: r.Severity, Loc: locOf(l.p, path),
		Message: fmt.Sprintf(format, args...), Fix: fix,
	})
}

// Lint checks p for vague or toothless provisions. Findings are ordered by
// position, then code.
func Lint(p *policy.Policy) *LintResult {
	l := &linter{p: p}
	l.thresholds()
	l.evaluations()
	l.safeguards()
	l.cadence()
	l.governance()
	sort.SliceStable(l.out, func(i, j int) bool {
		a, b := l.out[i], l.out[j]
		if a.Loc.Line != b.Loc.Line {
			return a.Loc.Line < b.Loc.Line
		}
		if a.Loc.Col != b.Loc.Col {
			return a.Loc.Col < b.Loc.Col
		}
		return a.Code < b.Code
	})
	if l.out == nil {
		l.out = []Finding{}
	}
	return &LintResult{File: p.Doc.File, Policy: p.Metadata.Name, Version: p.Metadata.Version, Findings: l.out}
}

func (l *linter) thresholds() {
	p := l.p
	if len(p.Thresholds) == 0 {
		l.add("SG009", "thresholds", "add thresholds with triggers over the policy's evaluations",
			"policy %s has no thresholds", p.Metadata.Name)
		return
	}
	stops, internal := false, false
	for i := range p.Thresholds {
		t := &p.Thresholds[i]
		base := thrPath(i)
		if stopsTraining(t) {
			stops = true
		}
		if restrictsMode(t, "internal") {
			internal = true
		}
		if t.NeedsDetermination() {
			l.add("SG001", base+".determination", "replace `determination: required` with a trigger over declared evaluations, or add one that fires before the judgment is needed",
				"threshold %s (%s) is left to the judgment of %s: it has no checkable trigger and no early warning", t.ID, t.Name, deciders(p))
			if strings.TrimSpace(t.Description) == "" {
				l.add("SG025", base, "describe the capability the determination judges in `description`",
					"threshold %s is left to judgment and has no description of what is judged", t.ID)
			}
		} else {
			if t.WarningCond == nil {
				l.add("SG003", base+".trigger", "add `warning:`, a condition on the same evaluations that fires before the trigger",
					"threshold %s has no early warning before its trigger `%s`", t.ID, t.Trigger)
			} else if tr, wr := condTerm(t.TriggerCond, nil), condTerm(t.WarningCond, nil); tr != nil && wr != nil {
				if rel, ok := relate(tr, wr); ok && !rel.implies() {
					l.add("SG004", base+".warning", "lower the warning's bar so that it fires wherever the trigger does (and before)",
						"threshold %s: at %s the trigger fires but the warning `%s` does not", t.ID, rel.aOnly, t.Warning)
				}
			}
			if t.ClearCond == nil {
				l.add("SG005", base+".trigger", "add `clear:`, a stricter condition under which the threshold un-crosses",
					"threshold %s un-crosses as soon as `%s` is false", t.ID, t.Trigger)
			}
		}
		if t.RedLine && strings.TrimSpace(t.Hole) == "" {
			l.add("SG016", base+".redLine", "add `hole:` saying what is not known yet and why no safeguards suffice",
				"red line %s does not say what is missing before it could be opened", t.ID)
		}
		if !t.RedLine && len(t.Requires) == 0 {
			var denied []string
			for _, m := range policy.Modes {
				if t.OnCross.DeploymentAction(m) == policy.Deny {
					denied = append(denied, m)
				}
			}
			effect := "changes no decision"
			if len(denied) > 0 {
				effect = "pauses no training and only closes " + strings.Join(denied, ", ") + " deployment"
			}
			l.add("SG021", base, "list the safeguards that must be in force while it is crossed in `requires:`, or make it a red line",
				"threshold %s requires no safeguards: crossing it %s", t.ID, effect)
		}
	}
	if !stops {
		l.add("SG008", "thresholds", "make at least one threshold pause training until its (required) safeguards are in force, or a red line",
			"no threshold of %s stops training: none is a red line or pauses with a safeguard to wait for", p.Metadata.Name)
	}
	if !internal {
		l.add("SG018", "thresholds", "set `onCross.deployment.internal` to require-safeguards (with safeguards required) or deny on the thresholds that matter for internal use",
			"no threshold of %s restricts internal deployment", p.Metadata.Name)
	}
	for i, d := range p.Domains {
		found := false
		for _, t := range p.Thresholds {
			if t.Domain == d.ID {
				found = true
				break
			}
		}
		if !found {
			l.add("SG017", fmt.Sprintf("domains[%d]", i), "add a threshold in this domain, or say in a red line's `hole` why there is none",
				"domain %s (%s) has no threshold", d.ID, d.Name)
		}
	}
}

func (l *linter) evaluations() {
	p := l.p
	alignment := false
	for i, e := range p.Evaluations {
		if e.Kind != "capability" {
			alignment = true
			continue
		}
		if policy.ElicitationRank(e.MinElicitation) < policy.ElicitationRank("scaffolded") {
			path := evalPath(i) + ".minElicitation"
			l.add("SG010", path, "set `minElicitation: scaffolded` (agent scaffolds, tools) or `finetuned`",
				"capability evaluation %s accepts results elicited with %q", e.ID, e.MinElicitation)
		}
	}
	if !alignment {
		l.add("SG019", "evaluations", "add propensity, control or understanding evaluations (for example a control evaluation of monitoring, or a misalignment propensity suite) and a threshold on them",
			"every evaluation of %s is a capability evaluation", p.Metadata.Name)
	}
}

func (l *linter) safeguards() {
	p := l.p
	used := usedSafeguards(p)
	for i, s := range p.Safeguards {
		if s.Kind == "security" && s.Attestation == "self" && used[s.ID] {
			var by []string
			for _, t := range p.Thresholds {
				for _, r := range t.Requires {
					if r == s.ID {
						by = append(by, t.ID)
					}
				}
			}
			l.add("SG011", sgPath(i)+".attestation", "set `attestation: external` and name the auditor in governance.attesters",
				"security safeguard %s (required by %s) is self-attested", s.ID, strings.Join(by, ", "))
		}
		if s.Attestation == "external" && len(p.Governance.Attesters) == 0 {
			l.add("SG012", sgPath(i)+".attestation", "name the external attesters in governance.attesters",
				"safeguard %s needs an external attestation, but the policy names no attesters", s.ID)
		}
	}
}

func (l *linter) cadence() {
	c := l.p.Cadence
	if c.ComputeMultiple == 0 {
		l.add("SG006", "cadence", "set `cadence.computeMultiple` (for example 4: reassess at least every 4× effective compute)",
			"the policy sets no re-evaluation step in effective compute")
	}
	if c.Interval == 0 {
		l.add("SG007", "cadence", "set `cadence.interval` (for example 180d)",
			"the policy sets no re-evaluation interval in calendar time")
	}
}

func (l *linter) governance() {
	p := l.p
	g := p.Governance
	judged := false
	for _, t := range p.Thresholds {
		if t.NeedsDetermination() {
			judged = true
		}
	}
	if (judged || g.EscapeClause.Allowed) && len(g.DecisionMakers) == 0 {
		what := "thresholds left to judgment"
		if !judged {
			what = "an escape clause"
		}
		l.add("SG002", "governance", "name who decides in governance.decisionMakers",
			"the policy has %s but no decision-makers", what)
	}
	switch d := scrutinyDays(p); {
	case d == 0:
		l.add("SG013", "governance", fmt.Sprintf("set `governance.scrutinyPeriod` to at least %dd", minScrutinyDays),
			"a new version of %s takes force the moment it is published", p.Metadata.Name)
	case d < minScrutinyDays:
		l.add("SG014", "governance.scrutinyPeriod", fmt.Sprintf("lengthen `governance.scrutinyPeriod` to at least %dd", minScrutinyDays),
			"the scrutiny period is %s", g.ScrutinyPeriod)
	}
	if g.EscapeClause.Allowed {
		l.add("SG015", "governance.escapeClause.allowed", "set `escapeClause: {allowed: false}`; if a competitor's conduct should change the policy, publish a new version and let it pass the scrutiny period",
			"the decision-makers (%s) may override any denial", deciders(p))
		if strings.TrimSpace(g.EscapeClause.Conditions) == "" {
			l.add("SG024", "governance.escapeClause", "state in `escapeClause.conditions` when it may be invoked (and what must be published when it is)",
				"the escape clause states no conditions")
		}
	}
	external := false
	for _, s := range p.Safeguards {
		if s.Attestation == "external" {
			external = true
		}
	}
	if len(g.Attesters) == 0 && !external && strings.TrimSpace(g.ExternalReview) == "" {
		l.add("SG022", "governance", "name independent attesters, require external attestation of the key safeguards, or describe the external review",
			"nothing in %s is checked by anyone outside the developer", p.Metadata.Name)
	}
	for i, a := range g.Attesters {
		if a.Key == "" {
			l.add("SG020", fmt.Sprintf("governance.attesters[%d]", i), "write the attester as {name, key} with its note verifier key",
				"attester %q has no key: claims in its name cannot be verified", a.Name)
		}
	}
	if strings.TrimSpace(p.Metadata.Source) == "" {
		l.add("SG023", "metadata", "set `metadata.source` to the URL of the published policy",
			"policy %s does not say where its text is published", p.Metadata.Name)
	}
}
