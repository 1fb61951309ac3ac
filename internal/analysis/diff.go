package analysis

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"scalegate.dev/scalegate/internal/policy"
)

// Direction classifies a change between two policy versions.
type Direction string

// Directions. Stricter and weaker are judged by what the gate would
// decide: a change is stricter when the new version denies in every case
// the old one did (and more), weaker when the reverse holds.
const (
	Stricter Direction = "stricter"
	Weaker   Direction = "weaker"
	// Mixed: stricter for some inputs, weaker for others (both shown).
	Mixed Direction = "mixed"
	// Unknown: changed, but the analysis cannot tell in which direction
	// (for example a trigger that is not a simple comparison, or a free-text
	// description that is the whole of a judgment's criterion).
	Unknown Direction = "unknown"
	// Neutral: no effect on what the gate decides (names, descriptions,
	// unused declarations).
	Neutral Direction = "neutral"
)

// Directions in report order.
var Directions = []Direction{Weaker, Mixed, Unknown, Stricter, Neutral}

// PolicyID names a policy version in a report.
type PolicyID struct {
	File    string `json:"file"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

func idOf(p *policy.Policy) PolicyID {
	return PolicyID{File: p.Doc.File, Name: p.Metadata.Name, Version: p.Metadata.Version}
}

// Change is one classified difference.
type Change struct {
	// Element names what changed, by id: `thresholds[cbrn-3].trigger`.
	Element   string    `json:"element"`
	Kind      string    `json:"kind"`
	Direction Direction `json:"direction"`
	Old       string    `json:"old,omitempty"`
	New       string    `json:"new,omitempty"`
	Message   string    `json:"message"`
	OldLoc    *Loc      `json:"oldLocation,omitempty"`
	NewLoc    *Loc      `json:"newLocation,omitempty"`
}

// DiffResult is the classified difference between two versions.
type DiffResult struct {
	Old PolicyID `json:"old"`
	New PolicyID `json:"new"`
	// Matches are the pairings given by the caller.
	Matches []Match           `json:"matches"`
	Summary map[Direction]int `json:"summary"`
	Changes []Change          `json:"changes"`
}

// Has reports whether some change goes in direction d.
func (r *DiffResult) Has(d Direction) bool { return r.Summary[d] > 0 }

// Match pairs an old threshold or safeguard with a new one of a
// different id, so that the diff compares them instead of reporting one
// removed and the other added.
type Match struct {
	Kind string `json:"kind"` // threshold or safeguard
	Old  string `json:"old"`
	New  string `json:"new"`
}

// String formats the match as the --match flag takes it.
func (m Match) String() string { return m.Old + "=" + m.New }

type differ struct {
	a, b *policy.Policy
	// thrMatch and sgMatch map old ids to the new ids they are paired with.
	thrMatch, sgMatch map[string]string
	out               []Change
}

// add records a change at pathA in the old policy and pathB in the new
// one ("" where the element does not exist there).
func (d *differ) add(elem, kind string, dir Direction, pathA, pathB, old, new, format string, args ...any) {
	c := Change{Element: elem, Kind: kind, Direction: dir, Old: old, New: new, Message: fmt.Sprintf(format, args...)}
	if pathA != "" {
		l := locOf(d.a, pathA)
		c.OldLoc = &l
	}
	if pathB != "" {
		l := locOf(d.b, pathB)
		c.NewLoc = &l
	}
	d.out = append(d.out, c)
}

// Diff classifies every difference from old to new, pairing thresholds
// and safeguards by id (and thresholds, failing that, as pairThresholds
// describes).
func Diff(old, new *policy.Policy) *DiffResult {
	r, _ := DiffMatched(old, new, nil)
	return r
}

// DiffMatched is Diff with explicit pairings, each "old-id=new-id" of a
// threshold or a safeguard. It fails when a pairing names no such element
// or pairs one twice.
func DiffMatched(old, new *policy.Policy, pairs []string) (*DiffResult, error) {
	d := &differ{a: old, b: new, thrMatch: map[string]string{}, sgMatch: map[string]string{}}
	var matches []Match
	usedNew := map[string]bool{}
	for _, pr := range pairs {
		o, n, ok := strings.Cut(pr, "=")
		if !ok || o == "" || n == "" {
			return nil, fmt.Errorf("match %q: expected OLD-ID=NEW-ID", pr)
		}
		var m map[string]string
		var kind string
		switch {
		case old.Threshold(o) != nil && new.Threshold(n) != nil:
			m, kind = d.thrMatch, "threshold"
		case old.Safeguard(o) != nil && new.Safeguard(n) != nil:
			if old.Safeguard(n) != nil {
				return nil, fmt.Errorf("match %q: %s %s already has a safeguard %s", pr, old.Metadata.Name, old.Metadata.Version, n)
			}
			m, kind = d.sgMatch, "safeguard"
		default:
			return nil, fmt.Errorf("match %q: need a threshold (or safeguard) %s in %s %s and one %s in %s %s", pr, o, old.Metadata.Name, old.Metadata.Version, n, new.Metadata.Name, new.Metadata.Version)
		}
		if _, dup := m[o]; dup || usedNew[kind+" "+n] {
			return nil, fmt.Errorf("match %q: %s or %s is already paired", pr, o, n)
		}
		m[o] = n
		usedNew[kind+" "+n] = true
		matches = append(matches, Match{Kind: kind, Old: o, New: n})
	}
	d.metadata()
	d.domains()
	d.evaluations()
	d.thresholds()
	d.safeguards()
	d.cadence()
	d.governance()
	if matches == nil {
		matches = []Match{}
	}
	r := &DiffResult{Old: idOf(old), New: idOf(new), Matches: matches, Summary: map[Direction]int{}, Changes: d.out}
	for _, dir := range Directions {
		r.Summary[dir] = 0
	}
	for _, c := range d.out {
		r.Summary[c.Direction]++
	}
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	return r, nil
}

// newSafeguardID maps an old safeguard id to the id it has in the new
// version.
func (d *differ) newSafeguardID(id string) string {
	if n, ok := d.sgMatch[id]; ok {
		return n
	}
	return id
}

// smallerIsStricter classifies a move from a to b of a number for which
// smaller is stricter (a compute step, an interval). With zeroIsNone, 0
// means "none", that is unbounded.
func smallerIsStricter(a, b float64, zeroIsNone bool) Direction {
	inf := func(x float64) float64 {
		if zeroIsNone && x == 0 {
			return math.Inf(1)
		}
		return x
	}
	switch x, y := inf(a), inf(b); {
	case y < x:
		return Stricter
	case y > x:
		return Weaker
	}
	return Neutral
}

func fmtG(x float64) string { return fmt.Sprintf("%g", x) }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (d *differ) metadata() {
	a, b := d.a.Metadata, d.b.Metadata
	if a.Name != b.Name {
		d.add("metadata.name", "metadata-changed", Neutral, "metadata.name", "metadata.name", a.Name, b.Name,
			"the policy's name changed: these may not be versions of one policy")
	}
	if a.Developer != b.Developer {
		d.add("metadata.developer", "metadata-changed", Neutral, "metadata.developer", "metadata.developer", a.Developer, b.Developer, "developer changed")
	}
	if a.Source != b.Source {
		d.add("metadata.source", "metadata-changed", Neutral, "metadata.source", "metadata.source", a.Source, b.Source, "published source changed")
	}
	sa, sb := d.a.StanceOrDefault(), d.b.StanceOrDefault()
	switch {
	case sa != sb && sb == policy.AffirmativeSafety:
		d.add("stance", "stance-changed", Stricter, "stance", "stance", sa, sb,
			"stance is now affirmative-safety: beyond %s FLOP scaling needs an approved safety case", fmtG(d.b.Affirmative.AboveCompute))
	case sa != sb:
		d.add("stance", "stance-changed", Weaker, "stance", "stance", sa, sb,
			"stance is no longer affirmative-safety: scaling no longer needs a safety case beyond %s FLOP", fmtG(d.a.Affirmative.AboveCompute))
	case sa == policy.AffirmativeSafety && d.a.Affirmative.AboveCompute != d.b.Affirmative.AboveCompute:
		x, y := d.a.Affirmative.AboveCompute, d.b.Affirmative.AboveCompute
		dir := smallerIsStricter(x, y, false)
		d.add("affirmative.aboveCompute", "safety-case-compute-moved", dir, "affirmative.aboveCompute", "affirmative.aboveCompute", fmtG(x), fmtG(y),
			"a safety case is needed beyond %s FLOP instead of %s FLOP", fmtG(y), fmtG(x))
	}
}

func (d *differ) domains() {
	ia := map[string]int{}
	for i, dm := range d.a.Domains {
		ia[dm.ID] = i
	}
	ib := map[string]int{}
	for i, dm := range d.b.Domains {
		ib[dm.ID] = i
		j, ok := ia[dm.ID]
		path := fmt.Sprintf("domains[%d]", i)
		if !ok {
			d.add("domains["+dm.ID+"]", "domain-added", Neutral, "", path, "", dm.Name, "domain %s (%s) added", dm.ID, dm.Name)
		} else if old := d.a.Domains[j].Name; old != dm.Name {
			d.add("domains["+dm.ID+"].name", "domain-renamed", Neutral, fmt.Sprintf("domains[%d].name", j), path+".name", old, dm.Name, "domain %s renamed", dm.ID)
		}
	}
	for i, dm := range d.a.Domains {
		if _, ok := ib[dm.ID]; !ok {
			d.add("domains["+dm.ID+"]", "domain-removed", Neutral, fmt.Sprintf("domains[%d]", i), "", dm.Name, "", "domain %s (%s) removed", dm.ID, dm.Name)
		}
	}
}

func (d *differ) evaluations() {
	ia := map[string]int{}
	for i, e := range d.a.Evaluations {
		ia[e.ID] = i
	}
	for i := range d.b.Evaluations {
		eb := &d.b.Evaluations[i]
		pb := evalPath(i)
		elem := "evaluations[" + eb.ID + "]"
		j, ok := ia[eb.ID]
		if !ok {
			if eb.IsRequired() {
				d.add(elem, "evaluation-added", Stricter, "", pb, "", eb.ID, "required evaluation %s added: every assessment must now include it", eb.ID)
			} else {
				d.add(elem, "evaluation-added", Neutral, "", pb, "", eb.ID, "optional evaluation %s added", eb.ID)
			}
			continue
		}
		ea := &d.a.Evaluations[j]
		pa := evalPath(j)
		if ea.IsRequired() != eb.IsRequired() {
			if eb.IsRequired() {
				d.add(elem+".required", "evaluation-required", Stricter, pa, pb+".required", "false", "true", "evaluation %s is now part of every assessment", eb.ID)
			} else {
				d.add(elem+".required", "evaluation-required", Weaker, pa+".required", pb, "true", "false", "evaluation %s is no longer part of every assessment", eb.ID)
			}
		}
		if ra, rb := policy.ElicitationRank(ea.MinElicitation), policy.ElicitationRank(eb.MinElicitation); ra != rb {
			dir, verb := Stricter, "raised"
			if rb < ra {
				dir, verb = Weaker, "lowered"
			}
			d.add(elem+".minElicitation", "elicitation-changed", dir, pa+".minElicitation", pb+".minElicitation", ea.MinElicitation, eb.MinElicitation,
				"minimum elicitation for %s %s from %s to %s", eb.ID, verb, ea.MinElicitation, eb.MinElicitation)
		}
		var what []string
		if ea.Domain != eb.Domain {
			what = append(what, "domain")
		}
		if ea.Kind != eb.Kind {
			what = append(what, "kind")
		}
		if ea.Description != eb.Description {
			what = append(what, "description")
		}
		if (ea.Chance == nil) != (eb.Chance == nil) || (ea.Chance != nil && *ea.Chance != *eb.Chance) {
			what = append(what, "chance")
		}
		if !slices.Equal(ea.Sources, eb.Sources) {
			what = append(what, "sources")
		}
		if len(what) > 0 {
			d.add(elem, "evaluation-changed", Neutral, pa, pb, "", "", "evaluation %s: %s changed", eb.ID, strings.Join(what, ", "))
		}
	}
	ib := map[string]bool{}
	for _, e := range d.b.Evaluations {
		ib[e.ID] = true
	}
	for i, e := range d.a.Evaluations {
		if ib[e.ID] {
			continue
		}
		elem := "evaluations[" + e.ID + "]"
		if e.IsRequired() {
			d.add(elem, "evaluation-removed", Weaker, evalPath(i), "", e.ID, "", "required evaluation %s removed: assessments no longer include it", e.ID)
		} else {
			d.add(elem, "evaluation-removed", Neutral, evalPath(i), "", e.ID, "", "optional evaluation %s removed", e.ID)
		}
	}
}

// pairThresholds matches old and new thresholds: as explicitly matched;
// then by id; then, among the rest, by name within a domain; then the one
// remaining old threshold of a domain with the one remaining new threshold
// of that domain.
func pairThresholds(a, b *policy.Policy, explicit map[string]string) (pairs [][2]int, removed, added []int) {
	usedA := make([]bool, len(a.Thresholds))
	usedB := make([]bool, len(b.Thresholds))
	match := func(ok func(ta, tb *policy.Threshold) bool) {
		for i := range a.Thresholds {
			if usedA[i] {
				continue
			}
			for j := range b.Thresholds {
				if !usedB[j] && ok(&a.Thresholds[i], &b.Thresholds[j]) {
					usedA[i], usedB[j] = true, true
					pairs = append(pairs, [2]int{i, j})
					break
				}
			}
		}
	}
	match(func(x, y *policy.Threshold) bool { n, ok := explicit[x.ID]; return ok && n == y.ID })
	match(func(x, y *policy.Threshold) bool { return x.ID == y.ID })
	match(func(x, y *policy.Threshold) bool { return x.Domain == y.Domain && x.Name == y.Name })
	match(func(x, y *policy.Threshold) bool {
		if x.Domain != y.Domain {
			return false
		}
		na, nb := 0, 0
		for i := range a.Thresholds {
			if !usedA[i] && a.Thresholds[i].Domain == x.Domain {
				na++
			}
		}
		for j := range b.Thresholds {
			if !usedB[j] && b.Thresholds[j].Domain == y.Domain {
				nb++
			}
		}
		return na == 1 && nb == 1
	})
	slices.SortFunc(pairs, func(x, y [2]int) int { return x[0] - y[0] })
	for i, u := range usedA {
		if !u {
			removed = append(removed, i)
		}
	}
	for j, u := range usedB {
		if !u {
			added = append(added, j)
		}
	}
	return
}

func describeThreshold(t *policy.Threshold) string {
	var parts []string
	if t.NeedsDetermination() {
		parts = append(parts, "left to judgment")
	} else {
		parts = append(parts, "trigger "+t.Trigger)
	}
	if t.RedLine {
		parts = append(parts, "red line")
	} else {
		parts = append(parts, "training "+t.OnCross.TrainingAction())
		if len(t.Requires) > 0 {
			parts = append(parts, "requires "+strings.Join(t.Requires, ", "))
		}
	}
	return strings.Join(parts, "; ")
}

func (d *differ) thresholds() {
	pairs, removed, added := pairThresholds(d.a, d.b, d.thrMatch)
	for _, pr := range pairs {
		d.threshold(pr[0], pr[1])
	}
	for _, i := range removed {
		t := &d.a.Thresholds[i]
		dir, why := Weaker, "no threshold of the new version is paired with it"
		if !bites(t) {
			dir, why = Neutral, "crossing it changed no decision (it required no safeguard and denied nothing)"
		}
		d.add("thresholds["+t.ID+"]", "threshold-removed", dir, thrPath(i), "", describeThreshold(t), "",
			"%s %s (%s) removed: %s", kindOf(t), t.ID, t.Name, why)
	}
	for _, j := range added {
		t := &d.b.Thresholds[j]
		dir, why := Stricter, "in domain "+t.Domain
		if !bites(t) {
			dir, why = Neutral, "but crossing it changes no decision (it requires no safeguard and denies nothing)"
		}
		d.add("thresholds["+t.ID+"]", "threshold-added", dir, "", thrPath(j), "", describeThreshold(t),
			"%s %s (%s) added %s", kindOf(t), t.ID, t.Name, why)
	}
}

func kindOf(t *policy.Threshold) string {
	if t.RedLine {
		return "red line"
	}
	return "threshold"
}

// bites reports whether crossing t can change a decision.
func bites(t *policy.Threshold) bool {
	if stopsTraining(t) {
		return true
	}
	for _, m := range policy.Modes {
		if restrictsMode(t, m) {
			return true
		}
	}
	return false
}

// waitsForSafeguards reports whether some action of t waits for its
// required safeguards: a training pause, or require-safeguards for a mode.
func waitsForSafeguards(t *policy.Threshold) bool {
	if t.OnCross.TrainingAction() == policy.Pause {
		return true
	}
	for _, m := range policy.Modes {
		if t.OnCross.DeploymentAction(m) == policy.RequireSafeguards {
			return true
		}
	}
	return false
}

// actionAs names a deployment action, with what it amounts to when that
// differs.
func actionAs(nominal, effective string) string {
	if nominal == effective {
		return nominal
	}
	return nominal + " (with no safeguard required: " + effective + ")"
}

// effectiveDeploy is the deployment action for mode as it acts: with no
// safeguard required, require-safeguards lets everything through.
func effectiveDeploy(t *policy.Threshold, mode string) string {
	a := t.OnCross.DeploymentAction(mode)
	if a == policy.RequireSafeguards && len(t.Requires) == 0 {
		return policy.Allow
	}
	return a
}

// condChange classifies a change of condition from ca to cb, where a
// condition that holds on more inputs is stricter when largerStricter
// (triggers, warnings) and weaker otherwise (clear conditions). absent is
// what a missing condition means.
func condChange(ca, cb *policy.Cond, absent *term, largerStricter bool) (Direction, string) {
	if sameSource(ca, cb) {
		return "", ""
	}
	ta, tb := condTerm(ca, absent), condTerm(cb, absent)
	if ta == nil || tb == nil {
		return Unknown, "changed, direction unknown: not a simple comparison of scores with constants"
	}
	rel, ok := relate(ta, tb)
	if !ok {
		return Unknown, "changed, direction unknown: too many constants to compare"
	}
	var dir Direction
	var why string
	switch {
	case rel.aOnly == nil && rel.bOnly == nil:
		return Neutral, "rewritten; equivalent"
	case rel.aOnly == nil:
		dir, why = Stricter, fmt.Sprintf("the new condition holds wherever the old one did, and also at %s", rel.bOnly)
	case rel.bOnly == nil:
		dir, why = Weaker, fmt.Sprintf("the old condition held wherever the new one does, and also at %s", rel.aOnly)
	default:
		return Mixed, fmt.Sprintf("the old condition holds at %s where the new one does not; the new holds at %s where the old did not", rel.aOnly, rel.bOnly)
	}
	if !largerStricter {
		switch dir {
		case Stricter:
			dir = Weaker
		case Weaker:
			dir = Stricter
		}
	}
	return dir, why
}

func src(c *policy.Cond) string {
	if c == nil {
		return ""
	}
	return c.Source
}

func (d *differ) threshold(i, j int) {
	ta, tb := &d.a.Thresholds[i], &d.b.Thresholds[j]
	pa, pb := thrPath(i), thrPath(j)
	elem := "thresholds[" + tb.ID + "]"
	if ta.ID != tb.ID {
		how := fmt.Sprintf("paired as the only unpaired threshold of domain %s in each version", tb.Domain)
		switch {
		case d.thrMatch[ta.ID] == tb.ID:
			how = "paired by --match"
		case ta.Name == tb.Name:
			how = "paired by name"
		}
		d.add(elem+".id", "threshold-renamed", Neutral, pa+".id", pb+".id", ta.ID, tb.ID,
			"threshold %s is now %s (%s); its other changes follow", ta.ID, tb.ID, how)
	}
	if ta.Domain != tb.Domain {
		d.add(elem+".domain", "threshold-domain-changed", Neutral, pa+".domain", pb+".domain", ta.Domain, tb.Domain, "threshold %s moved to domain %s", tb.ID, tb.Domain)
	}
	if ta.Name != tb.Name {
		d.add(elem+".name", "threshold-described", Neutral, pa+".name", pb+".name", ta.Name, tb.Name, "threshold %s renamed", tb.ID)
	}
	if ta.Description != tb.Description {
		if ta.NeedsDetermination() && tb.NeedsDetermination() {
			d.add(elem+".description", "judgment-criterion-changed", Unknown, pa+".description", pb+".description", clip(ta.Description, 120), clip(tb.Description, 120),
				"the description of %s, the criterion its determinations judge, changed; direction unknown", tb.ID)
		} else {
			d.add(elem+".description", "threshold-described", Neutral, pa+".description", pb+".description", clip(ta.Description, 120), clip(tb.Description, 120),
				"description of %s changed (its trigger, not its description, decides)", tb.ID)
		}
	}

	// Trigger or determination.
	switch {
	case ta.NeedsDetermination() && !tb.NeedsDetermination():
		d.add(elem+".trigger", "trigger-replaced-determination", Stricter, pa+".determination", pb+".trigger", "determination: required", tb.Trigger,
			"%s now has a checkable trigger instead of a judgment", tb.ID)
	case !ta.NeedsDetermination() && tb.NeedsDetermination():
		d.add(elem+".trigger", "determination-replaced-trigger", Weaker, pa+".trigger", pb+".determination", ta.Trigger, "determination: required",
			"%s is now left to the judgment of %s instead of the trigger `%s`: less checkable", tb.ID, deciders(d.b), ta.Trigger)
	case !ta.NeedsDetermination():
		if dir, why := condChange(ta.TriggerCond, tb.TriggerCond, nil, true); dir != "" {
			d.add(elem+".trigger", "trigger-moved", dir, pa+".trigger", pb+".trigger", ta.Trigger, tb.Trigger,
				"trigger of %s %s: %s", tb.ID, movedWord(dir, "fires earlier", "fires later"), why)
		}
	}
	if dir, why := condChange(ta.WarningCond, tb.WarningCond, termFalse, true); dir != "" {
		kind := "warning-moved"
		switch {
		case ta.WarningCond == nil:
			kind = "warning-added"
		case tb.WarningCond == nil:
			kind = "warning-removed"
		}
		d.add(elem+".warning", kind, dir, pa+".warning", pb+".warning", src(ta.WarningCond), src(tb.WarningCond),
			"early warning of %s %s: %s", tb.ID, movedWord(dir, "fires earlier", "fires later"), why)
	}
	if dir, why := condChange(ta.ClearCond, tb.ClearCond, termTrue, false); dir != "" {
		kind := "clear-moved"
		switch {
		case ta.ClearCond == nil:
			kind = "clear-added"
		case tb.ClearCond == nil:
			kind = "clear-removed"
		}
		d.add(elem+".clear", kind, dir, pa+".clear", pb+".clear", src(ta.ClearCond), src(tb.ClearCond),
			"clear condition of %s %s (without one, a threshold un-crosses as soon as its trigger is false): %s", tb.ID, movedWord(dir, "un-crosses later", "un-crosses sooner"), why)
	}

	// Red line.
	if ta.RedLine != tb.RedLine {
		if tb.RedLine {
			d.add(elem+".redLine", "red-line-added", Stricter, pa, pb+".redLine", "false", "true", "%s is now a red line: never crossed under this version", tb.ID)
		} else {
			d.add(elem+".redLine", "red-line-removed", Weaker, pa+".redLine", pb, "true", "false", "%s is no longer a red line: crossing it is allowed once its safeguards are in force (%s)", tb.ID, orNone(strings.Join(tb.Requires, ", ")))
		}
	}
	if ta.Hole != tb.Hole {
		d.add(elem+".hole", "hole-changed", Neutral, pa+".hole", pb+".hole", clip(ta.Hole, 120), clip(tb.Hole, 120), "stated hole of %s changed", tb.ID)
	}

	// Safeguards and actions have no effect while the threshold is a red
	// line: crossing it denies whatever they say. Where only one version
	// makes it a red line, the red line's change carries the direction and
	// the safeguards and actions are reported as neutral detail.
	redLine := ta.RedLine || tb.RedLine
	moot := func(dir Direction) Direction {
		if redLine {
			return Neutral
		}
		return dir
	}
	// Nothing waits for the required safeguards when training continues
	// and every deployment mode is allow or deny, in both versions.
	waits := waitsForSafeguards(ta) || waitsForSafeguards(tb)
	mootReq := func(dir Direction) Direction {
		if !waits {
			return Neutral
		}
		return moot(dir)
	}
	start := len(d.out)
	mapped := make([]string, len(ta.Requires))
	for k, r := range ta.Requires {
		mapped[k] = d.newSafeguardID(r)
	}
	for k, r := range tb.Requires {
		if !slices.Contains(mapped, r) {
			d.add(elem+".requires["+r+"]", "safeguard-required", mootReq(Stricter), pa+".requires", fmt.Sprintf("%s.requires[%d]", pb, k), "", r, "%s now requires safeguard %s", tb.ID, r)
		}
	}
	for k, r := range ta.Requires {
		if !slices.Contains(tb.Requires, mapped[k]) {
			d.add(elem+".requires["+r+"]", "safeguard-unrequired", mootReq(Weaker), fmt.Sprintf("%s.requires[%d]", pa, k), pb+".requires", r, "", "%s no longer requires safeguard %s", tb.ID, r)
		}
	}

	// Actions. A pause with no safeguard to wait for pauses nothing, and
	// require-safeguards with none required allows: such changes are
	// neutral.
	if a, b := ta.OnCross.TrainingAction(), tb.OnCross.TrainingAction(); a != b {
		path := ".onCross.training"
		switch {
		case b == policy.Continue && len(ta.Requires) > 0:
			d.add(elem+path, "pause-replaced-by-continue", moot(Weaker), pa+path, pb+path, a, b,
				"training no longer pauses while %s is crossed without its safeguards", tb.ID)
		case b == policy.Pause && len(tb.Requires) > 0:
			d.add(elem+path, "continue-replaced-by-pause", moot(Stricter), pa+path, pb+path, a, b,
				"training now pauses while %s is crossed without its safeguards", tb.ID)
		default:
			d.add(elem+path, "training-action-changed", Neutral, pa+path, pb+path, a, b,
				"training action of %s is now %s, with no effect: a pause waits only for required safeguards, and the %s version requires none", tb.ID, b, map[bool]string{true: "old", false: "new"}[b == policy.Continue])
		}
	}
	for _, mode := range policy.Modes {
		a, b := ta.OnCross.DeploymentAction(mode), tb.OnCross.DeploymentAction(mode)
		if a == b {
			// A change of what require-safeguards waits for is reported
			// with the safeguards.
			continue
		}
		ea, eb := effectiveDeploy(ta, mode), effectiveDeploy(tb, mode)
		path := ".onCross.deployment." + mode
		switch {
		case deployRank(eb) > deployRank(ea):
			d.add(elem+path, "deployment-closed", moot(Stricter), pa+path, pb+path, a, b, "%s deployment while %s is crossed: %s instead of %s", mode, tb.ID, actionAs(b, eb), actionAs(a, ea))
		case deployRank(eb) < deployRank(ea):
			d.add(elem+path, "deployment-opened", moot(Weaker), pa+path, pb+path, a, b, "%s deployment while %s is crossed: %s instead of %s", mode, tb.ID, actionAs(b, eb), actionAs(a, ea))
		default:
			d.add(elem+path, "deployment-action-changed", Neutral, pa+path, pb+path, a, b, "%s deployment action of %s is now %s, with no effect: with no safeguard required, require-safeguards allows", mode, tb.ID, b)
		}
	}
	if !waits && !redLine {
		for k := start; k < len(d.out); k++ {
			if strings.HasPrefix(d.out[k].Kind, "safeguard-") {
				d.out[k].Message += " (no effect: training continues and every deployment mode is allow or deny, so nothing waits for safeguards)"
			}
		}
	}
	if redLine {
		note := " (no effect: it is a red line in both versions)"
		switch {
		case !tb.RedLine:
			note = " (part of what replaces the red line, reported above)"
		case !ta.RedLine:
			note = " (superseded: it is now a red line)"
		}
		for k := start; k < len(d.out); k++ {
			d.out[k].Message += note
		}
	}
	if ta.BaselineOf != tb.BaselineOf {
		d.add(elem+".baselineOf", "baseline-link-changed", Neutral, pa+".baselineOf", pb+".baselineOf", ta.BaselineOf, tb.BaselineOf, "%s implements baseline threshold %s", tb.ID, orNone(tb.BaselineOf))
	}
}

func movedWord(dir Direction, stricter, weaker string) string {
	switch dir {
	case Stricter:
		return stricter
	case Weaker:
		return weaker
	case Neutral:
		return "rewritten"
	}
	return "changed"
}

func (d *differ) safeguards() {
	ia := map[string]int{}
	for i, s := range d.a.Safeguards {
		ia[d.newSafeguardID(s.ID)] = i
	}
	usedA, usedB := usedSafeguards(d.a), usedSafeguards(d.b)
	paired := map[string]bool{}
	for j := range d.b.Safeguards {
		sb := &d.b.Safeguards[j]
		pb := sgPath(j)
		elem := "safeguards[" + sb.ID + "]"
		i, ok := ia[sb.ID]
		if !ok {
			d.add(elem, "safeguard-declared", Neutral, "", pb, "", sb.ID, "safeguard %s declared (what requires it is listed per threshold)", sb.ID)
			continue
		}
		sa := &d.a.Safeguards[i]
		paired[sa.ID] = true
		pa := sgPath(i)
		if sa.ID != sb.ID {
			d.add(elem+".id", "safeguard-renamed", Neutral, pa+".id", pb+".id", sa.ID, sb.ID, "safeguard %s is now %s (paired by --match)", sa.ID, sb.ID)
		}
		if sa.Attestation != sb.Attestation {
			dir, what := Weaker, "the developer's own attestation now suffices"
			if sb.Attestation == "external" {
				dir, what = Stricter, "an external attester must now attest it"
			}
			d.add(elem+".attestation", "attestation-changed", dir, pa+".attestation", pb+".attestation", sa.Attestation, sb.Attestation, "safeguard %s: %s", sb.ID, what)
		}
		if sa.Kind != sb.Kind {
			d.add(elem+".kind", "safeguard-kind-changed", Neutral, pa+".kind", pb+".kind", sa.Kind, sb.Kind, "safeguard %s is now of kind %s", sb.ID, sb.Kind)
		}
		if sa.Description != sb.Description {
			if usedA[sa.ID] && usedB[sb.ID] {
				d.add(elem+".description", "safeguard-standard-changed", Unknown, pa+".description", pb+".description", clip(sa.Description, 120), clip(sb.Description, 120),
					"what safeguard %s requires (its description) changed; direction unknown", sb.ID)
			} else {
				d.add(elem+".description", "safeguard-described", Neutral, pa+".description", pb+".description", clip(sa.Description, 120), clip(sb.Description, 120),
					"description of safeguard %s (not required in both versions) changed", sb.ID)
			}
		}
	}
	for i, s := range d.a.Safeguards {
		if !paired[s.ID] {
			d.add("safeguards["+s.ID+"]", "safeguard-undeclared", Neutral, sgPath(i), "", s.ID, "", "safeguard %s no longer declared (what required it is listed per threshold)", s.ID)
		}
	}
}

func fmtMultiple(x float64) string {
	if x == 0 {
		return "(none)"
	}
	return fmtG(x) + "×"
}

func (d *differ) cadence() {
	a, b := d.a.Cadence, d.b.Cadence
	if a.ComputeMultiple != b.ComputeMultiple {
		dir := smallerIsStricter(a.ComputeMultiple, b.ComputeMultiple, true)
		d.add("cadence.computeMultiple", "cadence-compute-"+tightened(dir), dir, "cadence.computeMultiple", "cadence.computeMultiple", fmtMultiple(a.ComputeMultiple), fmtMultiple(b.ComputeMultiple),
			"reassessment every %s effective compute instead of %s", fmtMultiple(b.ComputeMultiple), fmtMultiple(a.ComputeMultiple))
	}
	if a.Interval != b.Interval {
		dir := smallerIsStricter(float64(a.Interval), float64(b.Interval), true)
		d.add("cadence.interval", "cadence-interval-"+tightened(dir), dir, "cadence.interval", "cadence.interval", durOrNone(a.Interval), durOrNone(b.Interval),
			"reassessment every %s instead of %s", durOrNone(b.Interval), durOrNone(a.Interval))
	}
	if a.WarningComputeMultiple != b.WarningComputeMultiple {
		eff := func(c policy.Cadence) float64 {
			if c.WarningComputeMultiple > 0 {
				return c.WarningComputeMultiple
			}
			return c.ComputeMultiple
		}
		dir := smallerIsStricter(eff(a), eff(b), true)
		d.add("cadence.warningComputeMultiple", "cadence-warning-"+tightened(dir), dir, "cadence.warningComputeMultiple", "cadence.warningComputeMultiple", fmtMultiple(a.WarningComputeMultiple), fmtMultiple(b.WarningComputeMultiple),
			"while a warning fires, reassessment every %s effective compute instead of %s", fmtMultiple(eff(b)), fmtMultiple(eff(a)))
	}
	if a.ExemptBelowCompute != b.ExemptBelowCompute {
		dir := smallerIsStricter(a.ExemptBelowCompute, b.ExemptBelowCompute, false)
		d.add("cadence.exemptBelowCompute", "cadence-exemption-"+tightened(dir), dir, "cadence.exemptBelowCompute", "cadence.exemptBelowCompute", fmtG(a.ExemptBelowCompute), fmtG(b.ExemptBelowCompute),
			"targets up to %s FLOP need no assessment (was %s)", fmtG(b.ExemptBelowCompute), fmtG(a.ExemptBelowCompute))
	}
	fa, fb := a.Forecast, b.Forecast
	switch {
	case fa == nil && fb != nil:
		d.add("cadence.forecast", "forecast-gating-added", Stricter, "", "cadence.forecast", "", fmt.Sprintf("confidence %g, buffer %g", fb.Confidence, fb.Buffer), "scaling steps past a forecast crossing are now denied")
	case fa != nil && fb == nil:
		d.add("cadence.forecast", "forecast-gating-removed", Weaker, "cadence.forecast", "", fmt.Sprintf("confidence %g, buffer %g", fa.Confidence, fa.Buffer), "", "scaling steps past a forecast crossing are no longer denied")
	case fa != nil:
		if fa.Confidence != fb.Confidence {
			dir := smallerIsStricter(-fa.Confidence, -fb.Confidence, false)
			d.add("cadence.forecast.confidence", "forecast-confidence-changed", dir, "cadence.forecast.confidence", "cadence.forecast.confidence", fmtG(fa.Confidence), fmtG(fb.Confidence),
				"forecast interval confidence %g instead of %g (a wider interval denies earlier)", fb.Confidence, fa.Confidence)
		}
		if fa.Buffer != fb.Buffer {
			dir := smallerIsStricter(-fa.Buffer, -fb.Buffer, false)
			d.add("cadence.forecast.buffer", "forecast-buffer-changed", dir, "cadence.forecast.buffer", "cadence.forecast.buffer", fmtG(fa.Buffer), fmtG(fb.Buffer),
				"forecast buffer %g× instead of %g×", fb.Buffer, fa.Buffer)
		}
	}
}

func tightened(dir Direction) string {
	if dir == Stricter {
		return "tightened"
	}
	return "relaxed"
}

func durOrNone(x policy.Duration) string {
	if x == 0 {
		return "(none)"
	}
	return x.String()
}

func (d *differ) governance() {
	a, b := d.a.Governance, d.b.Governance
	if !slices.Equal(a.DecisionMakers, b.DecisionMakers) {
		d.add("governance.decisionMakers", "decision-makers-changed", Neutral, "governance.decisionMakers", "governance.decisionMakers",
			strings.Join(a.DecisionMakers, ", "), strings.Join(b.DecisionMakers, ", "), "who decides changed")
	}
	for j, at := range b.Attesters {
		pb := fmt.Sprintf("governance.attesters[%d]", j)
		elem := "governance.attesters[" + at.Name + "]"
		old := d.a.Attester(at.Name)
		if old == nil {
			d.add(elem, "attester-added", Unknown, "", pb, "", at.Name,
				"%s now counts as an external attester; whether that strengthens external accountability depends on who it is", at.Name)
			continue
		}
		pa := fmt.Sprintf("governance.attesters[%d]", slices.IndexFunc(a.Attesters, func(x policy.Attester) bool { return x.Name == at.Name }))
		switch {
		case old.Key == "" && at.Key != "":
			d.add(elem+".key", "attester-key-added", Stricter, pa, pb+".key", "", at.Key, "claims in %s's name must now carry its signature", at.Name)
		case old.Key != "" && at.Key == "":
			d.add(elem+".key", "attester-key-removed", Weaker, pa+".key", pb, old.Key, "", "claims in %s's name no longer need its signature", at.Name)
		case old.Key != at.Key:
			d.add(elem+".key", "attester-key-changed", Unknown, pa+".key", pb+".key", old.Key, at.Key, "%s's verifier key changed", at.Name)
		}
	}
	for i, at := range a.Attesters {
		if d.b.Attester(at.Name) == nil {
			d.add("governance.attesters["+at.Name+"]", "attester-removed", Unknown, fmt.Sprintf("governance.attesters[%d]", i), "", at.Name, "",
				"%s no longer counts as an external attester", at.Name)
		}
	}
	if a.ScrutinyPeriod != b.ScrutinyPeriod {
		dir := smallerIsStricter(-float64(a.ScrutinyPeriod), -float64(b.ScrutinyPeriod), false)
		verb := "lengthened"
		if dir == Weaker {
			verb = "shortened"
		}
		d.add("governance.scrutinyPeriod", "scrutiny-"+verb, dir, "governance.scrutinyPeriod", "governance.scrutinyPeriod", a.ScrutinyPeriod.String(), b.ScrutinyPeriod.String(),
			"scrutiny period %s from %s to %s", verb, a.ScrutinyPeriod, b.ScrutinyPeriod)
	}
	ra, rb := strings.TrimSpace(a.ExternalReview), strings.TrimSpace(b.ExternalReview)
	switch {
	case ra == "" && rb != "":
		d.add("governance.externalReview", "external-review-added", Stricter, "", "governance.externalReview", "", clip(rb, 120), "an external review is now described")
	case ra != "" && rb == "":
		d.add("governance.externalReview", "external-review-removed", Weaker, "governance.externalReview", "", clip(ra, 120), "", "the external review is no longer described")
	case ra != rb:
		d.add("governance.externalReview", "external-review-changed", Unknown, "governance.externalReview", "governance.externalReview", clip(ra, 120), clip(rb, 120), "the external review's description changed; direction unknown")
	}
	ea, eb := a.EscapeClause, b.EscapeClause
	switch {
	case !ea.Allowed && eb.Allowed:
		d.add("governance.escapeClause", "escape-clause-added", Weaker, "governance.escapeClause", "governance.escapeClause.allowed", "not allowed", orNone(clip(eb.Conditions, 120)),
			"an escape clause now lets %s override any denial", deciders(d.b))
	case ea.Allowed && !eb.Allowed:
		d.add("governance.escapeClause", "escape-clause-removed", Stricter, "governance.escapeClause.allowed", "governance.escapeClause", orNone(clip(ea.Conditions, 120)), "not allowed",
			"the escape clause is gone: denials can no longer be overridden")
	case ea.Allowed:
		ca, cb := strings.TrimSpace(ea.Conditions), strings.TrimSpace(eb.Conditions)
		switch {
		case ca == "" && cb != "":
			d.add("governance.escapeClause.conditions", "escape-conditions-added", Stricter, "governance.escapeClause", "governance.escapeClause.conditions", "", clip(cb, 120), "the escape clause now states conditions")
		case ca != "" && cb == "":
			d.add("governance.escapeClause.conditions", "escape-conditions-removed", Weaker, "governance.escapeClause.conditions", "governance.escapeClause", clip(ca, 120), "", "the escape clause no longer states conditions")
		case ca != cb:
			d.add("governance.escapeClause.conditions", "escape-conditions-changed", Unknown, "governance.escapeClause.conditions", "governance.escapeClause.conditions", clip(ca, 120), clip(cb, 120), "the escape clause's conditions changed; direction unknown")
		}
	}
}
