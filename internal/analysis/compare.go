package analysis

import (
	"fmt"
	"slices"
	"strings"

	"scalegate.dev/scalegate/internal/policy"
)

// Gap is one way a lab's policy is not shown to be at least as strict as a
// baseline.
type Gap struct {
	// Element names the baseline element the gap is about.
	Element     string `json:"element"`
	Kind        string `json:"kind"`
	Message     string `json:"message"`
	BaselineLoc *Loc   `json:"baselineLocation,omitempty"`
	LabLoc      *Loc   `json:"labLocation,omitempty"`
}

// Coverage is how a baseline threshold is covered by the lab's policy.
type Coverage struct {
	Baseline string `json:"baseline"`
	Domain   string `json:"domain"`
	// Lab is the lab threshold that covers it, or the closest candidate
	// when none does ("" when the lab has no candidate).
	Lab     string `json:"lab,omitempty"`
	Covered bool   `json:"covered"`
	// Match says how Lab was chosen: "baselineOf" or "domain".
	Match string `json:"match,omitempty"`
	Gaps  []Gap  `json:"gaps"`
}

// CompareResult is the comparison of a lab's policy with a baseline.
type CompareResult struct {
	Lab        PolicyID   `json:"lab"`
	Baseline   PolicyID   `json:"baseline"`
	Thresholds []Coverage `json:"thresholds"`
	// Policy holds the gaps that belong to no threshold (cadence,
	// scrutiny, escape clause, stance, evaluations).
	Policy []Gap `json:"policy"`
	// GapCount is the number of gaps in all.
	GapCount int `json:"gaps"`
}

// AtLeastAsStrict reports whether no gap was found.
func (r *CompareResult) AtLeastAsStrict() bool { return r.GapCount == 0 }

type comparer struct {
	lab, base *policy.Policy
}

func (c *comparer) gap(elem, kind, basePath, labPath, format string, args ...any) Gap {
	g := Gap{Element: elem, Kind: kind, Message: fmt.Sprintf(format, args...)}
	if basePath != "" {
		l := locOf(c.base, basePath)
		g.BaselineLoc = &l
	}
	if labPath != "" {
		l := locOf(c.lab, labPath)
		g.LabLoc = &l
	}
	return g
}

// Compare checks that lab is at least as strict as baseline: every
// baseline threshold is covered by a lab threshold (named by `baselineOf`,
// or in the same domain) that fires no later, stays crossed no shorter,
// requires at least the baseline's safeguards, pauses training if the
// baseline does and opens no deployment mode the baseline keeps closed;
// and the lab's cadence, scrutiny period, escape clause, stance and
// evaluations are no weaker. Where a condition is not simple and not
// written identically, the lab's policy cannot be shown to be as strict,
// and that is a gap.
func Compare(lab, baseline *policy.Policy) *CompareResult {
	c := &comparer{lab: lab, base: baseline}
	r := &CompareResult{Lab: idOf(lab), Baseline: idOf(baseline), Thresholds: []Coverage{}, Policy: []Gap{}}
	for i := range baseline.Thresholds {
		cov := c.cover(i)
		r.GapCount += len(cov.Gaps)
		r.Thresholds = append(r.Thresholds, cov)
	}
	r.Policy = append(r.Policy, c.evaluations()...)
	r.Policy = append(r.Policy, c.attestations()...)
	r.Policy = append(r.Policy, c.cadence()...)
	r.Policy = append(r.Policy, c.governance()...)
	r.GapCount += len(r.Policy)
	return r
}

// cover finds the lab threshold that covers baseline threshold i.
func (c *comparer) cover(i int) Coverage {
	t := &c.base.Thresholds[i]
	cov := Coverage{Baseline: t.ID, Domain: t.Domain}
	type cand struct {
		j     int
		match string
		gaps  []Gap
	}
	var cands []cand
	for j := range c.lab.Thresholds {
		if c.lab.Thresholds[j].BaselineOf == t.ID {
			cands = append(cands, cand{j: j, match: "baselineOf"})
		}
	}
	for j := range c.lab.Thresholds {
		if l := &c.lab.Thresholds[j]; l.BaselineOf != t.ID && l.Domain == t.Domain {
			cands = append(cands, cand{j: j, match: "domain"})
		}
	}
	if len(cands) == 0 {
		cov.Gaps = []Gap{c.gap("thresholds["+t.ID+"]", "no-threshold", thrPath(i), "thresholds",
			"no lab threshold names %s in baselineOf or is in domain %s", t.ID, t.Domain)}
		return cov
	}
	best := -1
	for k := range cands {
		cands[k].gaps = c.check(i, cands[k].j)
		if len(cands[k].gaps) == 0 {
			best = k
			break
		}
		if best < 0 || len(cands[k].gaps) < len(cands[best].gaps) {
			best = k
		}
	}
	b := cands[best]
	cov.Lab, cov.Match, cov.Gaps = c.lab.Thresholds[b.j].ID, b.match, b.gaps
	cov.Covered = len(b.gaps) == 0
	if cov.Gaps == nil {
		cov.Gaps = []Gap{}
	}
	return cov
}

// check lists the gaps of lab threshold j against baseline threshold i.
func (c *comparer) check(i, j int) []Gap {
	t, l := &c.base.Thresholds[i], &c.lab.Thresholds[j]
	tp, lp := thrPath(i), thrPath(j)
	elem := "thresholds[" + t.ID + "]"
	var gaps []Gap
	add := func(g Gap) { gaps = append(gaps, g) }

	if t.RedLine && !l.RedLine {
		add(c.gap(elem+".redLine", "red-line-not-kept", tp+".redLine", lp,
			"the baseline never allows crossing %s; lab threshold %s is not a red line", t.ID, l.ID))
	}

	// When the threshold fires.
	switch {
	case t.NeedsDetermination() && !l.NeedsDetermination():
		add(c.gap(elem+".determination", "cannot-show", tp+".determination", lp+".trigger",
			"the baseline needs a recorded determination for %s; lab threshold %s has the trigger `%s` instead, which cannot be shown to fire no later than the judgment", t.ID, l.ID, l.Trigger))
	case !t.NeedsDetermination() && l.NeedsDetermination():
		add(c.gap(elem+".trigger", "cannot-show", tp+".trigger", lp+".determination",
			"lab threshold %s is left to judgment where the baseline triggers at `%s`: cannot show it fires no later", l.ID, t.Trigger))
	case !t.NeedsDetermination():
		g, triggerOK := c.implies(elem+".trigger", "trigger-later", tp+".trigger", lp+".trigger",
			condTerm(t.TriggerCond, nil), condTerm(l.TriggerCond, nil), sameSource(t.TriggerCond, l.TriggerCond),
			fmt.Sprintf("lab threshold %s fires wherever the baseline's %s does", l.ID, t.ID),
			"the baseline's trigger `"+t.Trigger+"` fires", "lab threshold "+l.ID+"'s trigger `"+l.Trigger+"` does not")
		if !triggerOK {
			add(g)
		}
		if t.WarningCond != nil {
			// The lab warns, or has already crossed, wherever the baseline
			// warns. Its warning alone may show it; else warning or trigger.
			bw := condTerm(t.WarningCond, nil)
			lw, lt := condTerm(l.WarningCond, termFalse), condTerm(l.TriggerCond, nil)
			var either *term
			if lw != nil && lt != nil {
				either = &term{op: "||", kids: []*term{lw, lt}}
			}
			shown := sameSource(t.WarningCond, l.WarningCond) || sameSource(t.WarningCond, l.TriggerCond)
			if bw != nil && either == nil {
				// One of the lab's conditions is not simple: the other may
				// still show it.
				for _, x := range []*term{lw, lt} {
					if x == nil {
						continue
					}
					if rel, ok := relate(bw, x); ok && rel.implies() {
						shown = true
					}
				}
			}
			if g, ok := c.implies(elem+".warning", "warning-later", tp+".warning", lp+".warning",
				bw, either, shown,
				fmt.Sprintf("lab threshold %s warns (or is crossed) wherever the baseline's %s warns", l.ID, t.ID),
				"the baseline's early warning `"+t.Warning+"` fires", "lab threshold "+l.ID+" neither warns nor is crossed"); !ok {
				add(g)
			}
		}
		if triggerOK && (t.ClearCond != nil || l.ClearCond != nil) {
			// The lab un-crosses only where the baseline does:
			// (¬Lt ∧ Lc) ⇒ (¬Tt ∧ Tc), an absent clear being true.
			var lu, tu *term
			if lt, lc := condTerm(l.TriggerCond, nil), condTerm(l.ClearCond, termTrue); lt != nil && lc != nil {
				lu = and(not(lt), lc)
			}
			if tt, tc := condTerm(t.TriggerCond, nil), condTerm(t.ClearCond, termTrue); tt != nil && tc != nil {
				tu = and(not(tt), tc)
			}
			same := sameSource(t.TriggerCond, l.TriggerCond) && sameSource(t.ClearCond, l.ClearCond)
			if g, ok := c.implies(elem+".clear", "clears-sooner", tp+".clear", lp+".clear", lu, tu, same,
				fmt.Sprintf("lab threshold %s un-crosses only where the baseline's %s does", l.ID, t.ID),
				"lab threshold "+l.ID+" un-crosses", "the baseline's "+t.ID+" stays crossed"); !ok {
				add(g)
			}
		}
	}

	if l.RedLine || t.RedLine {
		// A lab red line denies whatever the baseline's actions; a baseline
		// red line the lab does not keep is already a gap.
		return gaps
	}

	// Safeguards: each one the baseline waits for (before training on, or
	// before deploying in a mode) the lab waits for too, unless it denies
	// that mode outright.
	for _, r := range t.Requires {
		if slices.Contains(l.Requires, r) {
			continue
		}
		var needed []string
		if t.OnCross.TrainingAction() == policy.Pause {
			needed = append(needed, "training")
		}
		for _, mode := range policy.Modes {
			if effectiveDeploy(t, mode) == policy.RequireSafeguards && effectiveDeploy(l, mode) != policy.Deny {
				needed = append(needed, mode+" deployment")
			}
		}
		if len(needed) > 0 {
			add(c.gap(elem+".requires["+r+"]", "safeguard-missing", tp+".requires", lp+".requires",
				"the baseline requires safeguard %s while %s is crossed (for %s); lab threshold %s does not", r, t.ID, strings.Join(needed, ", "), l.ID))
		}
	}

	// Actions.
	if t.OnCross.TrainingAction() == policy.Pause && len(t.Requires) > 0 && l.OnCross.TrainingAction() != policy.Pause {
		add(c.gap(elem+".onCross.training", "training-continues", tp+".onCross.training", lp+".onCross.training",
			"the baseline pauses training while %s is crossed without its safeguards; lab threshold %s continues", t.ID, l.ID))
	}
	for _, mode := range policy.Modes {
		ba, la := effectiveDeploy(t, mode), effectiveDeploy(l, mode)
		if deployRank(la) < deployRank(ba) {
			path := ".onCross.deployment." + mode
			add(c.gap(elem+path, "deployment-more-open", tp+path, lp+path,
				"%s deployment while %s is crossed: the baseline says %s, lab threshold %s says %s",
				mode, t.ID, actionAs(t.OnCross.DeploymentAction(mode), ba), l.ID, actionAs(l.OnCross.DeploymentAction(mode), la)))
		}
	}
	return gaps
}

// implies checks that wherever a holds, b holds; claim states that in
// words. shown short-cuts the check when it is already known to hold (for
// example for conditions written identically); nil terms are conditions
// that are not simple.
func (c *comparer) implies(elem, kind, basePath, labPath string, a, b *term, shown bool, claim, aSays, bSays string) (Gap, bool) {
	if shown {
		return Gap{}, true
	}
	if a == nil || b == nil {
		return c.gap(elem, "cannot-show", basePath, labPath,
			"cannot show that %s: a condition is not a simple comparison of scores with constants, and they are not written the same", claim), false
	}
	rel, ok := relate(a, b)
	if !ok {
		return c.gap(elem, "cannot-show", basePath, labPath, "cannot show that %s: too many constants to compare", claim), false
	}
	if rel.implies() {
		return Gap{}, true
	}
	return c.gap(elem, kind, basePath, labPath, "at %s %s but %s", rel.aOnly, aSays, bSays), false
}

func sgPathOf(p *policy.Policy, id string) string {
	for i, s := range p.Safeguards {
		if s.ID == id {
			return sgPath(i)
		}
	}
	return "safeguards"
}

func evalPathOf(p *policy.Policy, id string) string {
	for i, e := range p.Evaluations {
		if e.ID == id {
			return evalPath(i)
		}
	}
	return "evaluations"
}

// evaluations checks the baseline's required evaluations and those its
// conditions read: the lab declares each (same id), requires it where the
// baseline does, and accepts no weaker elicitation.
func (c *comparer) evaluations() []Gap {
	read := map[string]bool{}
	for _, t := range c.base.Thresholds {
		for _, cd := range []*policy.Cond{t.TriggerCond, t.WarningCond, t.ClearCond} {
			if cd != nil {
				for _, r := range cd.Refs {
					read[r] = true
				}
			}
		}
	}
	var gaps []Gap
	for i, e := range c.base.Evaluations {
		if !e.IsRequired() && !read[e.ID] {
			continue
		}
		elem := "evaluations[" + e.ID + "]"
		le := c.lab.Evaluation(e.ID)
		if le == nil {
			gaps = append(gaps, c.gap(elem, "evaluation-missing", evalPath(i), "evaluations",
				"the lab's policy does not declare evaluation %s", e.ID))
			continue
		}
		lp := evalPathOf(c.lab, e.ID)
		if e.IsRequired() && !le.IsRequired() {
			gaps = append(gaps, c.gap(elem+".required", "evaluation-optional", evalPath(i), lp+".required",
				"the baseline makes %s part of every assessment; the lab does not", e.ID))
		}
		if policy.ElicitationRank(le.MinElicitation) < policy.ElicitationRank(e.MinElicitation) {
			gaps = append(gaps, c.gap(elem+".minElicitation", "elicitation-weaker", evalPath(i)+".minElicitation", lp+".minElicitation",
				"the baseline counts %s results elicited with at least %s; the lab also counts %s", e.ID, e.MinElicitation, le.MinElicitation))
		}
	}
	return gaps
}

// attestations checks that the safeguards the baseline's thresholds
// require with external attestation are externally attested in the lab's
// policy too, where it declares them (a missing one is a gap of the
// thresholds that require it).
func (c *comparer) attestations() []Gap {
	var gaps []Gap
	used := usedSafeguards(c.base)
	for i, s := range c.base.Safeguards {
		if s.Attestation != "external" || !used[s.ID] {
			continue
		}
		if ls := c.lab.Safeguard(s.ID); ls != nil && ls.Attestation != "external" {
			gaps = append(gaps, c.gap("safeguards["+s.ID+"].attestation", "attestation-weaker", sgPath(i)+".attestation", sgPathOf(c.lab, s.ID)+".attestation",
				"the baseline needs safeguard %s attested externally; the lab accepts its own attestation", s.ID))
		}
	}
	return gaps
}

func (c *comparer) cadence() []Gap {
	b, l := c.base.Cadence, c.lab.Cadence
	var gaps []Gap
	if b.ComputeMultiple > 0 && smallerIsStricter(b.ComputeMultiple, l.ComputeMultiple, true) == Weaker {
		gaps = append(gaps, c.gap("cadence.computeMultiple", "cadence-less-frequent", "cadence.computeMultiple", "cadence.computeMultiple",
			"the baseline reassesses every %s effective compute; the lab every %s", fmtMultiple(b.ComputeMultiple), fmtMultiple(l.ComputeMultiple)))
	}
	if b.Interval > 0 && smallerIsStricter(float64(b.Interval), float64(l.Interval), true) == Weaker {
		gaps = append(gaps, c.gap("cadence.interval", "cadence-less-frequent", "cadence.interval", "cadence.interval",
			"the baseline reassesses every %s; the lab every %s", b.Interval, durOrNone(l.Interval)))
	}
	eff := func(x policy.Cadence) float64 {
		if x.WarningComputeMultiple > 0 {
			return x.WarningComputeMultiple
		}
		return x.ComputeMultiple
	}
	// Without its own warning step the baseline's is its compute step,
	// which the check above already covers.
	if b.WarningComputeMultiple > 0 && smallerIsStricter(eff(b), eff(l), true) == Weaker {
		gaps = append(gaps, c.gap("cadence.warningComputeMultiple", "cadence-less-frequent", "cadence.warningComputeMultiple", "cadence.warningComputeMultiple",
			"while a warning fires the baseline reassesses every %s effective compute; the lab every %s", fmtMultiple(eff(b)), fmtMultiple(eff(l))))
	}
	if l.ExemptBelowCompute > b.ExemptBelowCompute {
		gaps = append(gaps, c.gap("cadence.exemptBelowCompute", "exemption-larger", "cadence.exemptBelowCompute", "cadence.exemptBelowCompute",
			"the lab exempts targets up to %s FLOP from assessment; the baseline only up to %s", fmtG(l.ExemptBelowCompute), fmtG(b.ExemptBelowCompute)))
	}
	if bf := b.Forecast; bf != nil {
		switch lf := l.Forecast; {
		case lf == nil:
			gaps = append(gaps, c.gap("cadence.forecast", "forecast-gating-missing", "cadence.forecast", "cadence",
				"the baseline denies scaling steps past a forecast crossing; the lab does not"))
		case lf.Confidence < bf.Confidence || lf.Buffer < bf.Buffer:
			gaps = append(gaps, c.gap("cadence.forecast", "forecast-gating-weaker", "cadence.forecast", "cadence.forecast",
				"the baseline forecasts with confidence %g and buffer %g×; the lab with %g and %g×", bf.Confidence, bf.Buffer, lf.Confidence, lf.Buffer))
		}
	}
	return gaps
}

func (c *comparer) governance() []Gap {
	var gaps []Gap
	b, l := c.base.Governance, c.lab.Governance
	if l.ScrutinyPeriod < b.ScrutinyPeriod {
		gaps = append(gaps, c.gap("governance.scrutinyPeriod", "scrutiny-shorter", "governance.scrutinyPeriod", "governance.scrutinyPeriod",
			"the baseline's scrutiny period is %s; the lab's is %s", b.ScrutinyPeriod, l.ScrutinyPeriod))
	}
	if !b.EscapeClause.Allowed && l.EscapeClause.Allowed {
		gaps = append(gaps, c.gap("governance.escapeClause", "escape-clause", "governance.escapeClause", "governance.escapeClause.allowed",
			"the baseline allows no escape clause; the lab's decision-makers (%s) may override denials", deciders(c.lab)))
	}
	if c.base.StanceOrDefault() == policy.AffirmativeSafety {
		switch {
		case c.lab.StanceOrDefault() != policy.AffirmativeSafety:
			gaps = append(gaps, c.gap("stance", "stance-weaker", "stance", "stance",
				"the baseline needs an approved safety case beyond %s FLOP; the lab's policy never does", fmtG(c.base.Affirmative.AboveCompute)))
		case c.lab.Affirmative.AboveCompute > c.base.Affirmative.AboveCompute:
			gaps = append(gaps, c.gap("affirmative.aboveCompute", "stance-weaker", "affirmative.aboveCompute", "affirmative.aboveCompute",
				"the baseline needs a safety case beyond %s FLOP; the lab only beyond %s FLOP", fmtG(c.base.Affirmative.AboveCompute), fmtG(c.lab.Affirmative.AboveCompute)))
		}
	}
	return gaps
}
