package analysis

import (
	"fmt"
	"strings"

	"scalegate.dev/scalegate/internal/policy"
)

// Status is how far a policy meets a criterion.
type Status string

// Statuses.
const (
	Met     Status = "met"
	Partial Status = "partial"
	Missing Status = "missing"
)

// Weight is the points a status earns: met 1, partial 0.5, missing 0.
// Every criterion weighs the same; a framework's score is the sum over its
// criteria, and a policy's total the sum over all criteria.
func (s Status) Weight() float64 {
	switch s {
	case Met:
		return 1
	case Partial:
		return 0.5
	}
	return 0
}

// Ref is a policy line that supports a criterion's mark.
type Ref struct {
	Loc  Loc    `json:"location"`
	Note string `json:"note"`
}

// Mark is a policy's mark on one criterion.
type Mark struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Status   Status `json:"status"`
	Why      string `json:"why"`
	Evidence []Ref  `json:"evidence"`
}

// FrameworkScore is a policy's marks against one framework.
type FrameworkScore struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Source string  `json:"source"`
	Marks  []Mark  `json:"criteria"`
	Points float64 `json:"points"`
	Max    float64 `json:"max"`
}

// Scorecard is one policy's marks against every framework.
type Scorecard struct {
	File       string           `json:"file"`
	Policy     string           `json:"policy"`
	Version    string           `json:"version"`
	Developer  string           `json:"developer"`
	Frameworks []FrameworkScore `json:"frameworks"`
	Points     float64          `json:"points"`
	Max        float64          `json:"max"`
}

// Framework descriptions, with the sources of their wording.
const (
	seoulSource = "Frontier AI Safety Commitments, AI Seoul Summit 2024 (UK DSIT, gov.uk, 2024-05-21)"
	metrSource  = "METR, Common Elements of Frontier AI Safety Policies (metr.org/common-elements, Dec 2025 edition)"
	teethSource = "scalegate's criteria for a policy with teeth (docs/analysis.md)"
)

// scorer builds one policy's marks.
type scorer struct {
	p *policy.Policy
}

func (s *scorer) ref(path, format string, args ...any) Ref {
	return Ref{Loc: locOf(s.p, path), Note: fmt.Sprintf(format, args...)}
}

// share marks "all / some / none" of a set.
func share(n, of int) Status {
	switch {
	case of > 0 && n == of:
		return Met
	case n > 0:
		return Partial
	}
	return Missing
}

// Score marks p against the Seoul commitments, METR's common elements and
// the criteria for a policy with teeth.
func Score(p *policy.Policy) *Scorecard {
	s := &scorer{p: p}
	sc := &Scorecard{File: p.Doc.File, Policy: p.Metadata.Name, Version: p.Metadata.Version, Developer: p.Metadata.Developer}
	for _, fw := range []FrameworkScore{
		{ID: "seoul", Name: "Seoul Frontier AI Safety Commitments I–VIII", Source: seoulSource, Marks: s.seoul()},
		{ID: "metr", Name: "METR common elements", Source: metrSource, Marks: s.metr()},
		{ID: "teeth", Name: "A policy with teeth", Source: teethSource, Marks: s.teeth()},
	} {
		for i := range fw.Marks {
			if fw.Marks[i].Evidence == nil {
				fw.Marks[i].Evidence = []Ref{}
			}
			fw.Points += fw.Marks[i].Status.Weight()
			fw.Max++
		}
		sc.Points += fw.Points
		sc.Max += fw.Max
		sc.Frameworks = append(sc.Frameworks, fw)
	}
	return sc
}

// Common evidence.

func (s *scorer) cadenceRefs() (compute, interval *Ref) {
	c := s.p.Cadence
	if c.ComputeMultiple > 0 {
		r := s.ref("cadence.computeMultiple", "reassess every %g× effective compute", c.ComputeMultiple)
		compute = &r
	}
	if c.Interval > 0 {
		r := s.ref("cadence.interval", "reassess every %s", c.Interval)
		interval = &r
	}
	return
}

func appendRefs(refs []Ref, rs ...*Ref) []Ref {
	for _, r := range rs {
		if r != nil {
			refs = append(refs, *r)
		}
	}
	return refs
}

func (s *scorer) scrutinyRef() *Ref {
	if s.p.Governance.ScrutinyPeriod == 0 {
		return nil
	}
	r := s.ref("governance.scrutinyPeriod", "new versions take force %s after publication", s.p.Governance.ScrutinyPeriod)
	return &r
}

func (s *scorer) sourceRef() *Ref {
	if strings.TrimSpace(s.p.Metadata.Source) == "" {
		return nil
	}
	r := s.ref("metadata.source", "published at %s", s.p.Metadata.Source)
	return &r
}

func (s *scorer) decisionRef() *Ref {
	if len(s.p.Governance.DecisionMakers) == 0 {
		return nil
	}
	r := s.ref("governance.decisionMakers", "decision-makers: %s", strings.Join(s.p.Governance.DecisionMakers, ", "))
	return &r
}

func (s *scorer) escapeRef() *Ref {
	if !s.p.Governance.EscapeClause.Allowed {
		return nil
	}
	r := s.ref("governance.escapeClause.allowed", "escape clause allowed")
	return &r
}

// externalRefs returns the lines that show external accountability:
// attesters, externally attested safeguards some threshold requires, and
// an external review.
func (s *scorer) externalRefs() (attesters, attested []Ref, review *Ref, keyed int) {
	p := s.p
	for i, a := range p.Governance.Attesters {
		note := "attester " + a.Name
		if a.Key != "" {
			note += " (with verifier key)"
			keyed++
		} else {
			note += " (no key)"
		}
		attesters = append(attesters, s.ref(fmt.Sprintf("governance.attesters[%d]", i), "%s", note))
	}
	used := usedSafeguards(p)
	for i, sg := range p.Safeguards {
		if sg.Attestation == "external" && used[sg.ID] {
			attested = append(attested, s.ref(sgPath(i)+".attestation", "%s externally attested", sg.ID))
		}
	}
	if strings.TrimSpace(p.Governance.ExternalReview) != "" {
		r := s.ref("governance.externalReview", "external review: %s", clip(p.Governance.ExternalReview, 80))
		review = &r
	}
	return
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// thresholdRefs lists, for each threshold, a ref at path suffix field
// when ok(t), and counts them.
func (s *scorer) thresholds(ok func(t *policy.Threshold) bool, field string, note func(t *policy.Threshold) string) (refs []Ref, n int) {
	for i := range s.p.Thresholds {
		t := &s.p.Thresholds[i]
		if ok(t) {
			n++
			path := thrPath(i)
			if field != "" {
				path += "." + field
			}
			refs = append(refs, s.ref(path, "%s", note(t)))
		}
	}
	return refs, n
}

func (s *scorer) seoul() []Mark {
	p := s.p
	var marks []Mark
	nThr := len(p.Thresholds)

	// I. Risk assessment.
	{
		m := Mark{ID: "I", Title: "Risk assessment before deployment and, as appropriate, before and during training"}
		compute, interval := s.cadenceRefs()
		if len(p.Evaluations) > 0 {
			m.Evidence = append(m.Evidence, s.ref("evaluations", "%d evaluation(s) declared", len(p.Evaluations)))
		} else if nThr > 0 {
			m.Evidence = append(m.Evidence, s.ref("thresholds", "%d threshold(s) to assess, none on evaluations", nThr))
		}
		m.Evidence = appendRefs(m.Evidence, compute, interval)
		switch {
		case (len(p.Evaluations) > 0 || nThr > 0) && compute != nil:
			m.Status, m.Why = Met, "models are assessed before deployment and at every step of effective compute during training"
		case len(p.Evaluations) > 0 || nThr > 0:
			m.Status, m.Why = Partial, "assessments are defined, but no compute cadence makes them happen during training"
		default:
			m.Status, m.Why = Missing, "no evaluations or thresholds to assess"
		}
		marks = append(marks, m)
	}

	// II. Thresholds at which severe risks would be deemed intolerable,
	// with proximity monitored.
	{
		m := Mark{ID: "II", Title: "Thresholds at which severe risks would be deemed intolerable; proximity monitored"}
		trig, nt := s.thresholds(func(t *policy.Threshold) bool { return t.TriggerCond != nil }, "trigger", func(t *policy.Threshold) string { return t.ID + " trigger" })
		warn, nw := s.thresholds(func(t *policy.Threshold) bool { return t.WarningCond != nil }, "warning", func(t *policy.Threshold) string { return t.ID + " early warning" })
		judged, nj := s.thresholds(func(t *policy.Threshold) bool { return t.NeedsDetermination() }, "determination", func(t *policy.Threshold) string { return t.ID + " left to judgment" })
		m.Evidence = append(append(append(m.Evidence, trig...), warn...), judged...)
		switch {
		case nThr == 0:
			m.Status, m.Why = Missing, "no thresholds"
		case nt > 0 && nw == nt && nj == 0:
			m.Status, m.Why = Met, fmt.Sprintf("%d threshold(s), all with a trigger and an early warning", nThr)
		default:
			m.Status, m.Why = Partial, fmt.Sprintf("%d threshold(s): %d left to judgment, %d of %d triggers with an early warning", nThr, nj, nw, nt)
		}
		marks = append(marks, m)
	}

	// III. Mitigations, including security of unreleased weights.
	{
		m := Mark{ID: "III", Title: "Mitigations that keep risks within thresholds, including weight security"}
		var need int
		for _, t := range p.Thresholds {
			if !t.RedLine {
				need++
			}
		}
		refs, n := s.thresholds(func(t *policy.Threshold) bool { return !t.RedLine && len(t.Requires) > 0 }, "requires", func(t *policy.Threshold) string {
			return t.ID + " requires " + strings.Join(t.Requires, ", ")
		})
		m.Evidence = refs
		security := false
		used := usedSafeguards(p)
		for i, sg := range p.Safeguards {
			if sg.Kind == "security" && used[sg.ID] {
				security = true
				m.Evidence = append(m.Evidence, s.ref(sgPath(i)+".kind", "%s is a security safeguard", sg.ID))
			}
		}
		switch st := share(n, need); {
		case st == Met && security:
			m.Status, m.Why = Met, "every threshold that is not a red line requires safeguards, including security"
		case n > 0:
			m.Status, m.Why = Partial, fmt.Sprintf("%d of %d thresholds (red lines aside) require safeguards; security required: %t", n, need, security)
		default:
			m.Status, m.Why = Missing, "no threshold requires a safeguard"
		}
		marks = append(marks, m)
	}

	// IV. Processes if thresholds are met: in the extreme, do not develop
	// or deploy at all.
	{
		m := Mark{ID: "IV", Title: "Not developing or deploying at all if mitigations cannot keep risks below thresholds"}
		both, nb := s.thresholds(func(t *policy.Threshold) bool { return stopsTraining(t) && restrictsMode(t, "external") }, "onCross", func(t *policy.Threshold) string {
			if t.RedLine {
				return t.ID + " is a red line"
			}
			return t.ID + " pauses training and restricts deployment until its safeguards are in force"
		})
		some, ns := s.thresholds(func(t *policy.Threshold) bool {
			return !(stopsTraining(t) && restrictsMode(t, "external")) && (stopsTraining(t) || restrictsMode(t, "external"))
		}, "onCross", func(t *policy.Threshold) string {
			if stopsTraining(t) {
				return t.ID + " pauses training only"
			}
			return t.ID + " restricts deployment only"
		})
		m.Evidence = append(both, some...)
		switch {
		case nThr > 0 && nb == nThr:
			m.Status, m.Why = Met, "every threshold stops both training and external deployment until its safeguards are in force (or is a red line)"
		case nb+ns > 0:
			m.Status, m.Why = Partial, fmt.Sprintf("%d of %d thresholds stop both training and deployment; %d stop one of them", nb, nThr, ns)
		default:
			m.Status, m.Why = Missing, "no threshold stops training or deployment"
		}
		marks = append(marks, m)
	}

	// V. Continual investment (proxy: periodic reassessment and stated
	// open problems).
	{
		m := Mark{ID: "V", Title: "Continual investment in risk assessment, thresholds and mitigations"}
		_, interval := s.cadenceRefs()
		m.Evidence = appendRefs(m.Evidence, interval)
		holes, nh := s.thresholds(func(t *policy.Threshold) bool { return strings.TrimSpace(t.Hole) != "" }, "hole", func(t *policy.Threshold) string { return t.ID + " states what is not known yet" })
		m.Evidence = append(m.Evidence, holes...)
		redNoHole := 0
		for _, t := range p.Thresholds {
			if t.RedLine && strings.TrimSpace(t.Hole) == "" {
				redNoHole++
			}
		}
		switch {
		case interval != nil && nh > 0 && redNoHole == 0:
			m.Status, m.Why = Met, fmt.Sprintf("periodic reassessment; %d threshold(s) state what is not known yet, and every red line states its hole", nh)
		case interval != nil || nh > 0:
			m.Status, m.Why = Partial, fmt.Sprintf("periodic reassessment: %t; %d threshold(s) state what is not known yet; %d red line(s) without a stated hole", interval != nil, nh, redNoHole)
		default:
			m.Status, m.Why = Missing, "no periodic reassessment and no stated open problems"
		}
		marks = append(marks, m)
	}

	// VI. Adherence through internal accountability.
	{
		m := Mark{ID: "VI", Title: "Adherence through internal accountability and governance"}
		dm, esc := s.decisionRef(), s.escapeRef()
		m.Evidence = appendRefs(m.Evidence, dm, esc)
		switch {
		case dm != nil && esc == nil:
			m.Status, m.Why = Met, "named decision-makers, and no escape clause to override the policy"
		case dm != nil:
			m.Status, m.Why = Partial, "named decision-makers, who may also invoke an escape clause"
		default:
			m.Status, m.Why = Missing, "no decision-makers are named"
		}
		marks = append(marks, m)
	}

	// VII. Transparency.
	{
		m := Mark{ID: "VII", Title: "Public transparency on the implementation of I–VI"}
		src, scr := s.sourceRef(), s.scrutinyRef()
		m.Evidence = appendRefs(m.Evidence, src, scr)
		switch {
		case src != nil && scr != nil:
			m.Status, m.Why = Met, "the text is published, and new versions are public for a scrutiny period before they take force"
		case src != nil || scr != nil:
			m.Status, m.Why = Partial, fmt.Sprintf("published source: %t; scrutiny period: %t", src != nil, scr != nil)
		default:
			m.Status, m.Why = Missing, "no published source and no scrutiny period"
		}
		marks = append(marks, m)
	}

	// VIII. External actors take part in assessing risks, adequacy and
	// adherence.
	{
		m := Mark{ID: "VIII", Title: "External actors take part in assessing risks, framework adequacy and adherence"}
		att, attested, review, _ := s.externalRefs()
		scr := s.scrutinyRef()
		m.Evidence = appendRefs(append(append(m.Evidence, att...), attested...), review, scr)
		outsiders := scr != nil && scrutinyDays(p) >= minScrutinyDays || review != nil
		switch {
		case len(att) > 0 && len(attested) > 0 && outsiders:
			m.Status, m.Why = Met, "named external attesters check required safeguards, and the public or reviewers can answer new versions"
		case len(att) > 0 || len(attested) > 0 || review != nil || scr != nil:
			m.Status, m.Why = Partial, fmt.Sprintf("%d attester(s), %d externally attested safeguard(s), external review: %t, scrutiny period of %s", len(att), len(attested), review != nil, p.Governance.ScrutinyPeriod)
		default:
			m.Status, m.Why = Missing, "no role for anyone outside the developer"
		}
		marks = append(marks, m)
	}
	return marks
}

func (s *scorer) metr() []Mark {
	p := s.p
	var marks []Mark
	nThr := len(p.Thresholds)
	used := usedSafeguards(p)

	// 1. Capability thresholds.
	{
		m := Mark{ID: "1", Title: "Capability thresholds"}
		refs, n := s.thresholds(func(t *policy.Threshold) bool {
			return t.TriggerCond != nil || strings.TrimSpace(t.Description) != ""
		}, "", func(t *policy.Threshold) string { return t.ID + " (" + t.Name + ")" })
		m.Evidence = refs
		m.Status = share(n, nThr)
		m.Why = fmt.Sprintf("%d of %d threshold(s) have a trigger or a stated definition", n, nThr)
		if nThr == 0 {
			m.Why = "no thresholds"
		}
		marks = append(marks, m)
	}

	// 2 and 3. Weight security and deployment mitigations.
	for _, k := range []struct{ id, title, kind string }{
		{"2", "Model weight security", "security"},
		{"3", "Model deployment mitigations", "deployment"},
	} {
		m := Mark{ID: k.id, Title: k.title}
		required, declared := 0, 0
		for i, sg := range p.Safeguards {
			if sg.Kind != k.kind {
				continue
			}
			declared++
			if used[sg.ID] {
				required++
				m.Evidence = append(m.Evidence, s.ref(sgPath(i), "%s (%s), required by a threshold", sg.ID, sg.Kind))
			} else {
				m.Evidence = append(m.Evidence, s.ref(sgPath(i), "%s (%s), required by no threshold", sg.ID, sg.Kind))
			}
		}
		switch {
		case required > 0:
			m.Status, m.Why = Met, fmt.Sprintf("%d %s safeguard(s) required by thresholds", required, k.kind)
		case declared > 0:
			m.Status, m.Why = Partial, fmt.Sprintf("%s safeguards are declared but no threshold requires them", k.kind)
		default:
			m.Status, m.Why = Missing, fmt.Sprintf("no %s safeguard", k.kind)
		}
		marks = append(marks, m)
	}

	// 4. Conditions for halting deployment plans.
	{
		m := Mark{ID: "4", Title: "Conditions for halting deployment plans"}
		ext, ne := s.thresholds(func(t *policy.Threshold) bool { return restrictsMode(t, "external") }, "onCross", func(t *policy.Threshold) string {
			return t.ID + " restricts external deployment"
		})
		other, no := s.thresholds(func(t *policy.Threshold) bool {
			return !restrictsMode(t, "external") && (restrictsMode(t, "internal") || restrictsMode(t, "open-weights"))
		}, "onCross", func(t *policy.Threshold) string { return t.ID + " restricts internal or open-weights deployment only" })
		m.Evidence = append(ext, other...)
		switch {
		case ne > 0:
			m.Status, m.Why = Met, fmt.Sprintf("%d threshold(s) halt external deployment until safeguards are in force", ne)
		case no > 0:
			m.Status, m.Why = Partial, "only internal or open-weights deployment is ever halted"
		default:
			m.Status, m.Why = Missing, "no threshold halts deployment"
		}
		marks = append(marks, m)
	}

	// 5. Conditions for halting development plans.
	{
		m := Mark{ID: "5", Title: "Conditions for halting development plans"}
		stop, ns := s.thresholds(stopsTraining, "onCross", func(t *policy.Threshold) string {
			if t.RedLine {
				return t.ID + " is a red line"
			}
			return t.ID + " pauses training until its safeguards are in force"
		})
		vac, nv := s.thresholds(func(t *policy.Threshold) bool {
			return !stopsTraining(t) && t.OnCross.TrainingAction() == policy.Pause
		}, "", func(t *policy.Threshold) string {
			return t.ID + " pauses training, but requires no safeguard to wait for"
		})
		m.Evidence = append(stop, vac...)
		switch {
		case ns > 0:
			m.Status, m.Why = Met, fmt.Sprintf("%d threshold(s) halt training", ns)
		case nv > 0 || p.StanceOrDefault() == policy.AffirmativeSafety:
			m.Status, m.Why = Partial, "a pause is written but has nothing to wait for, or only a safety case gates scaling"
		default:
			m.Status, m.Why = Missing, "no threshold halts training"
		}
		marks = append(marks, m)
	}

	// 6. Full capability elicitation.
	{
		m := Mark{ID: "6", Title: "Full capability elicitation during evaluations"}
		full, capab := 0, 0
		for i, e := range p.Evaluations {
			if e.Kind != "capability" {
				continue
			}
			capab++
			if policy.ElicitationRank(e.MinElicitation) >= policy.ElicitationRank("scaffolded") {
				full++
				m.Evidence = append(m.Evidence, s.ref(evalPath(i)+".minElicitation", "%s needs %s elicitation", e.ID, e.MinElicitation))
			} else {
				m.Evidence = append(m.Evidence, s.ref(evalPath(i), "%s accepts %s elicitation", e.ID, e.MinElicitation))
			}
		}
		m.Status = share(full, capab)
		m.Why = fmt.Sprintf("%d of %d capability evaluation(s) need scaffolded or fine-tuned elicitation", full, capab)
		marks = append(marks, m)
	}

	// 7. Timing and frequency of evaluations.
	{
		m := Mark{ID: "7", Title: "Timing and frequency of evaluations"}
		compute, interval := s.cadenceRefs()
		m.Evidence = appendRefs(m.Evidence, compute, interval)
		switch {
		case compute != nil && interval != nil:
			m.Status, m.Why = Met, "a compute step and a calendar interval"
		case compute != nil || interval != nil:
			m.Status, m.Why = Partial, "only one of a compute step and a calendar interval"
		default:
			m.Status, m.Why = Missing, "no cadence"
		}
		marks = append(marks, m)
	}

	// 8. Accountability.
	{
		m := Mark{ID: "8", Title: "Accountability: internal governance and external scrutiny"}
		dm := s.decisionRef()
		att, attested, review, _ := s.externalRefs()
		m.Evidence = appendRefs(append(append(appendRefs(nil, dm), att...), attested...), review)
		external := len(att) > 0 || review != nil
		switch {
		case dm != nil && external:
			m.Status, m.Why = Met, "named decision-makers and external attesters or review"
		case dm != nil || external:
			m.Status, m.Why = Partial, fmt.Sprintf("decision-makers named: %t; external scrutiny: %t", dm != nil, external)
		default:
			m.Status, m.Why = Missing, "no decision-makers and no external scrutiny"
		}
		marks = append(marks, m)
	}

	// 9. Updating policies over time.
	{
		m := Mark{ID: "9", Title: "Updating policies over time"}
		scr := s.scrutinyRef()
		m.Evidence = appendRefs(m.Evidence, scr)
		switch d := scrutinyDays(p); {
		case d >= minScrutinyDays:
			m.Status, m.Why = Met, fmt.Sprintf("a new version takes force %s after publication", p.Governance.ScrutinyPeriod)
		case d > 0:
			m.Status, m.Why = Partial, fmt.Sprintf("a new version takes force after only %s", p.Governance.ScrutinyPeriod)
		default:
			m.Status, m.Why = Missing, "a new version takes force when published"
		}
		marks = append(marks, m)
	}
	return marks
}

func (s *scorer) teeth() []Mark {
	p := s.p
	var marks []Mark
	nThr := len(p.Thresholds)

	// T1. Specific evaluations for specific capabilities.
	{
		m := Mark{ID: "T1", Title: "Specific evaluations for specific capabilities"}
		inDomain := func(t *policy.Threshold) bool {
			if t.TriggerCond == nil {
				return false
			}
			for _, r := range t.TriggerCond.Refs {
				if e := p.Evaluation(r); e != nil && e.Domain == t.Domain {
					return true
				}
			}
			return false
		}
		refs, n := s.thresholds(inDomain, "trigger", func(t *policy.Threshold) string {
			return t.ID + " reads " + strings.Join(t.TriggerCond.Refs, ", ")
		})
		judged, _ := s.thresholds(func(t *policy.Threshold) bool { return !inDomain(t) }, "", func(t *policy.Threshold) string {
			if t.TriggerCond == nil {
				return t.ID + " reads no evaluation (left to judgment)"
			}
			return t.ID + " reads no evaluation of its own domain"
		})
		m.Evidence = append(refs, judged...)
		m.Status = share(n, nThr)
		m.Why = fmt.Sprintf("%d of %d threshold(s) trigger on evaluations of their own domain", n, nThr)
		marks = append(marks, m)
	}

	// T2. Numeric trigger → action rules.
	{
		m := Mark{ID: "T2", Title: "Numeric trigger → action rules"}
		numeric := func(t *policy.Threshold) bool {
			return t.TriggerCond != nil && t.TriggerCond.Simple != nil && len(t.TriggerCond.Refs) > 0 &&
				(stopsTraining(t) || restrictsMode(t, "internal") || restrictsMode(t, "external") || restrictsMode(t, "open-weights"))
		}
		refs, n := s.thresholds(numeric, "trigger", func(t *policy.Threshold) string { return t.ID + ": " + t.Trigger })
		other, _ := s.thresholds(func(t *policy.Threshold) bool { return !numeric(t) }, "", func(t *policy.Threshold) string {
			switch {
			case t.NeedsDetermination():
				return t.ID + " is left to judgment"
			case t.TriggerCond.Simple == nil:
				return t.ID + " has a trigger that is not a plain numeric comparison"
			}
			return t.ID + " has a numeric trigger but no action that bites"
		})
		m.Evidence = append(refs, other...)
		m.Status = share(n, nThr)
		m.Why = fmt.Sprintf("%d of %d threshold(s) have a numeric trigger on scores with an action that stops something", n, nThr)
		marks = append(marks, m)
	}

	// T3. Stated safeguards per threshold.
	{
		m := Mark{ID: "T3", Title: "Stated safeguards per threshold"}
		need := 0
		for _, t := range p.Thresholds {
			if !t.RedLine {
				need++
			}
		}
		refs, n := s.thresholds(func(t *policy.Threshold) bool { return !t.RedLine && len(t.Requires) > 0 }, "requires", func(t *policy.Threshold) string {
			return t.ID + " requires " + strings.Join(t.Requires, ", ")
		})
		none, _ := s.thresholds(func(t *policy.Threshold) bool { return !t.RedLine && len(t.Requires) == 0 }, "", func(t *policy.Threshold) string {
			return t.ID + " requires nothing"
		})
		m.Evidence = append(refs, none...)
		switch {
		case nThr == 0:
			m.Status, m.Why = Missing, "no thresholds"
		case need == 0:
			m.Status, m.Why = Met, "every threshold is a red line"
		default:
			m.Status = share(n, need)
			m.Why = fmt.Sprintf("%d of %d threshold(s) (red lines aside) state the safeguards they require", n, need)
		}
		marks = append(marks, m)
	}

	// T4. Red lines that only a scrutinised new version can open.
	{
		m := Mark{ID: "T4", Title: "Red lines that only a scrutinised new version can open"}
		refs, n := s.thresholds(func(t *policy.Threshold) bool { return t.RedLine }, "redLine", func(t *policy.Threshold) string { return t.ID + " is a red line" })
		m.Evidence = appendRefs(refs, s.scrutinyRef())
		switch d := scrutinyDays(p); {
		case n > 0 && d >= minScrutinyDays:
			m.Status, m.Why = Met, fmt.Sprintf("%d red line(s); a version that opens one waits %s", n, p.Governance.ScrutinyPeriod)
		case n > 0:
			m.Status, m.Why = Partial, fmt.Sprintf("%d red line(s), but a new version may open them after %s", n, p.Governance.ScrutinyPeriod)
		default:
			m.Status, m.Why = Missing, "no red lines"
		}
		marks = append(marks, m)
	}

	// T5. External accountability.
	{
		m := Mark{ID: "T5", Title: "External accountability"}
		att, attested, review, keyed := s.externalRefs()
		m.Evidence = appendRefs(append(append(m.Evidence, attested...), att...), review)
		switch {
		case len(attested) > 0 && len(att) > 0 && keyed == len(att):
			m.Status, m.Why = Met, "required safeguards are attested externally by named attesters whose claims are signed"
		case len(attested) > 0 || len(att) > 0 || review != nil:
			m.Status, m.Why = Partial, fmt.Sprintf("%d externally attested safeguard(s) required; %d of %d attester(s) with a key; external review: %t", len(attested), keyed, len(att), review != nil)
		default:
			m.Status, m.Why = Missing, "no external attestation or review"
		}
		marks = append(marks, m)
	}

	// T6. Handling of competitors and escape.
	{
		m := Mark{ID: "T6", Title: "No escape: competitors' conduct cannot unlock the policy"}
		esc := s.p.Governance.EscapeClause
		switch {
		case !esc.Allowed:
			m.Evidence = append(m.Evidence, s.ref("governance.escapeClause", "escape clause not allowed"))
			m.Status, m.Why = Met, "no escape clause: only a new version can change what the policy requires"
		case strings.TrimSpace(esc.Conditions) != "":
			m.Evidence = append(m.Evidence, s.ref("governance.escapeClause.conditions", "escape allowed when: %s", clip(esc.Conditions, 80)))
			m.Status, m.Why = Partial, "an escape clause with stated conditions"
		default:
			m.Evidence = append(m.Evidence, s.ref("governance.escapeClause.allowed", "escape clause allowed"))
			m.Status, m.Why = Missing, "an escape clause with no stated conditions"
		}
		marks = append(marks, m)
	}
	return marks
}
