package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/semver"

	"scalegate.dev/scalegate/internal/yamlx"
)

// MaxSize bounds a policy document.
const MaxSize = 1 << 20

// MaxItems bounds the number of domains, evaluations, thresholds and
// safeguards of a policy, which bounds the cost of compiling its
// conditions when it is published.
const MaxItems = 500

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	idRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
)

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	data, err := readBounded(path, MaxSize)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Size() > limit {
		return nil, &yamlx.Error{File: path, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", st.Size(), limit)}
	}
	buf := make([]byte, st.Size())
	if _, err := f.ReadAt(buf, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return buf, nil
}

// Parse decodes, validates and compiles a policy document. file names the
// document in errors. Errors are *yamlx.Error values naming file:line:col
// and the field.
func Parse(file string, data []byte) (*Policy, error) {
	if len(data) > MaxSize {
		return nil, &yamlx.Error{File: file, Msg: fmt.Sprintf("document is %d bytes; the limit is %d", len(data), MaxSize)}
	}
	p := &Policy{}
	doc, err := yamlx.Decode(file, data, p)
	if err != nil {
		return nil, err
	}
	p.Doc = doc
	p.Source = data
	sum := sha256.Sum256(data)
	p.Digest = "sha256:" + hex.EncodeToString(sum[:])
	if err := p.validate(); err != nil {
		return nil, err
	}
	return p, nil
}

func reflectValue(ptr any) reflect.Value { return reflect.ValueOf(ptr).Elem() }

func oneOf(s string, allowed []string) bool { return slices.Contains(allowed, s) }

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

func (p *Policy) validate() error {
	d := p.Doc
	if p.APIVersion != APIVersion {
		return d.Errorf("apiVersion", "must be %q, got %q", APIVersion, p.APIVersion)
	}
	if p.Kind != Kind {
		return d.Errorf("kind", "must be %q, got %q", Kind, p.Kind)
	}
	if !nameRE.MatchString(p.Metadata.Name) {
		return d.Errorf("metadata.name", "must match [a-z0-9-]+, got %q", p.Metadata.Name)
	}
	// Canonical form only: semver accepts shorthands ("1", "1.0") and
	// ignores build metadata ("1.0.0+x"), either of which would let two
	// different version strings compare equal.
	if v := "v" + p.Metadata.Version; !semver.IsValid(v) || semver.Canonical(v) != v {
		return d.Errorf("metadata.version", "must be a semantic version such as 1.0.0, got %q", p.Metadata.Version)
	}
	if strings.TrimSpace(p.Metadata.Developer) == "" {
		return d.Errorf("metadata.developer", "must not be empty")
	}
	switch p.StanceOrDefault() {
	case EvidenceOfDanger:
		if p.Affirmative != nil {
			return d.Errorf("affirmative", "only allowed with stance %q", AffirmativeSafety)
		}
	case AffirmativeSafety:
		if p.Affirmative == nil {
			return d.Errorf("stance", "stance %q needs an `affirmative` section with aboveCompute", AffirmativeSafety)
		}
		if p.Affirmative.AboveCompute <= 0 {
			return d.Errorf("affirmative.aboveCompute", "must be a positive FLOP count")
		}
	default:
		return d.Errorf("stance", "must be %q or %q, got %q", EvidenceOfDanger, AffirmativeSafety, p.Stance)
	}

	for _, lim := range []struct {
		path string
		n    int
	}{{"domains", len(p.Domains)}, {"evaluations", len(p.Evaluations)}, {"thresholds", len(p.Thresholds)}, {"safeguards", len(p.Safeguards)}} {
		if lim.n > MaxItems {
			return d.Errorf(lim.path, "%d entries; a policy may have at most %d", lim.n, MaxItems)
		}
	}

	domains := map[string]bool{}
	for i, dm := range p.Domains {
		path := fmt.Sprintf("domains[%d].id", i)
		if err := checkID(d, path, dm.ID); err != nil {
			return err
		}
		if domains[dm.ID] {
			return d.Errorf(path, "duplicate domain id %q", dm.ID)
		}
		domains[dm.ID] = true
	}
	domainRef := func(path, id string) error {
		if !domains[id] {
			return d.Errorf(path, "undeclared domain %q", id)
		}
		return nil
	}

	p.evals = map[string]*Evaluation{}
	p.evalIndex = map[string]int{}
	for i := range p.Evaluations {
		e := &p.Evaluations[i]
		base := fmt.Sprintf("evaluations[%d]", i)
		if err := checkID(d, base+".id", e.ID); err != nil {
			return err
		}
		if p.evals[e.ID] != nil {
			return d.Errorf(base+".id", "duplicate evaluation id %q", e.ID)
		}
		p.evals[e.ID] = e
		p.evalIndex[e.ID] = i
		if err := domainRef(base+".domain", e.Domain); err != nil {
			return err
		}
		if !oneOf(e.Kind, EvaluationKinds) {
			return d.Errorf(base+".kind", "must be one of %s, got %q", quoteList(EvaluationKinds), e.Kind)
		}
		if e.MinElicitation == "" {
			e.MinElicitation = "none"
		} else if ElicitationRank(e.MinElicitation) < 0 {
			return d.Errorf(base+".minElicitation", "must be one of %s, got %q", quoteList(Elicitations), e.MinElicitation)
		}
		if e.Chance != nil && (*e.Chance < 0 || *e.Chance >= 1) {
			return d.Errorf(base+".chance", "must be in [0, 1), got %g", *e.Chance)
		}
		for j, s := range e.Sources {
			sp := fmt.Sprintf("%s.sources[%d]", base, j)
			if s.Format != "inspect" && s.Format != "lm-eval" {
				return d.Errorf(sp+".format", "must be \"inspect\" or \"lm-eval\", got %q", s.Format)
			}
		}
	}

	p.safeguards = map[string]*Safeguard{}
	for i := range p.Safeguards {
		s := &p.Safeguards[i]
		base := fmt.Sprintf("safeguards[%d]", i)
		if err := checkID(d, base+".id", s.ID); err != nil {
			return err
		}
		if p.safeguards[s.ID] != nil {
			return d.Errorf(base+".id", "duplicate safeguard id %q", s.ID)
		}
		p.safeguards[s.ID] = s
		if !oneOf(s.Kind, SafeguardKinds) {
			return d.Errorf(base+".kind", "must be one of %s, got %q", quoteList(SafeguardKinds), s.Kind)
		}
		if s.Attestation != "self" && s.Attestation != "external" {
			return d.Errorf(base+".attestation", "must be \"self\" or \"external\", got %q", s.Attestation)
		}
	}

	p.thresholds = map[string]*Threshold{}
	for i := range p.Thresholds {
		t := &p.Thresholds[i]
		base := fmt.Sprintf("thresholds[%d]", i)
		if err := checkID(d, base+".id", t.ID); err != nil {
			return err
		}
		if p.thresholds[t.ID] != nil {
			return d.Errorf(base+".id", "duplicate threshold id %q", t.ID)
		}
		p.thresholds[t.ID] = t
		if err := domainRef(base+".domain", t.Domain); err != nil {
			return err
		}
		if err := p.validateThreshold(base, t); err != nil {
			return err
		}
	}

	c := p.Cadence
	if c.ComputeMultiple != 0 && c.ComputeMultiple <= 1 {
		return d.Errorf("cadence.computeMultiple", "must be greater than 1, got %g", c.ComputeMultiple)
	}
	if c.WarningComputeMultiple != 0 {
		if c.WarningComputeMultiple <= 1 {
			return d.Errorf("cadence.warningComputeMultiple", "must be greater than 1, got %g", c.WarningComputeMultiple)
		}
		if c.ComputeMultiple != 0 && c.WarningComputeMultiple > c.ComputeMultiple {
			return d.Errorf("cadence.warningComputeMultiple", "must not exceed computeMultiple (%g), got %g", c.ComputeMultiple, c.WarningComputeMultiple)
		}
	}
	if c.ExemptBelowCompute < 0 {
		return d.Errorf("cadence.exemptBelowCompute", "must not be negative")
	}
	if f := c.Forecast; f != nil {
		if f.Confidence == 0 {
			f.Confidence = 0.8
		}
		if f.Buffer == 0 {
			f.Buffer = 1
		}
		if f.Confidence <= 0 || f.Confidence >= 1 {
			return d.Errorf("cadence.forecast.confidence", "must be in (0, 1), got %g", f.Confidence)
		}
		if f.Buffer < 1 {
			return d.Errorf("cadence.forecast.buffer", "must be at least 1, got %g", f.Buffer)
		}
	}

	g := p.Governance
	seen := map[string]bool{}
	for i, n := range g.DecisionMakers {
		if strings.TrimSpace(n) == "" {
			return d.Errorf(fmt.Sprintf("governance.decisionMakers[%d]", i), "must not be empty")
		}
		if seen[n] {
			return d.Errorf(fmt.Sprintf("governance.decisionMakers[%d]", i), "duplicate decision-maker %q", n)
		}
		seen[n] = true
	}
	seen = map[string]bool{}
	for i, a := range g.Attesters {
		path := fmt.Sprintf("governance.attesters[%d]", i)
		if strings.TrimSpace(a.Name) == "" {
			return d.Errorf(path, "attester name must not be empty")
		}
		if seen[a.Name] {
			return d.Errorf(path, "duplicate attester %q", a.Name)
		}
		seen[a.Name] = true
		if a.Key != "" {
			if err := checkVerifierKey(a.Key, a.Name); err != nil {
				return d.Errorf(path+".key", "%v", err)
			}
		} else {
			pos := d.Pos(path)
			p.Warnings = append(p.Warnings, fmt.Sprintf("%s:%d:%d: %s: attester %q has no key: its claims cannot be verified", d.File, pos.Line, pos.Col, path, a.Name))
		}
	}
	return nil
}

func checkID(d *yamlx.Doc, path, id string) error {
	if !idRE.MatchString(id) {
		return d.Errorf(path, "must be a lowercase id ([a-z0-9._-]), got %q", id)
	}
	return nil
}

func (p *Policy) validateThreshold(base string, t *Threshold) error {
	d := p.Doc
	switch {
	case t.Trigger != "" && t.Determination != "":
		return d.Errorf(base+".determination", "a threshold has either a trigger or `determination: required`, not both")
	case t.Trigger == "" && t.Determination == "":
		return d.Errorf(base, "threshold %q needs a trigger or `determination: required`", t.ID)
	case t.Determination != "" && t.Determination != "required":
		return d.Errorf(base+".determination", "must be \"required\", got %q", t.Determination)
	}
	if t.Trigger == "" {
		if t.Warning != "" {
			return d.Errorf(base+".warning", "only allowed with a trigger")
		}
		if t.Clear != "" {
			return d.Errorf(base+".clear", "only allowed with a trigger")
		}
	}
	known := func(id string) bool { return p.evals[id] != nil }
	for _, f := range []struct {
		name string
		src  string
		dst  **Cond
	}{{"trigger", t.Trigger, &t.TriggerCond}, {"warning", t.Warning, &t.WarningCond}, {"clear", t.Clear, &t.ClearCond}} {
		if f.src == "" {
			continue
		}
		c, err := Compile(f.src, known)
		if err != nil {
			return p.exprErr(base+"."+f.name, err)
		}
		*f.dst = c
	}
	seen := map[string]bool{}
	for i, r := range t.Requires {
		path := fmt.Sprintf("%s.requires[%d]", base, i)
		if p.safeguards[r] == nil {
			return d.Errorf(path, "undeclared safeguard %q", r)
		}
		if seen[r] {
			return d.Errorf(path, "safeguard %q listed twice", r)
		}
		seen[r] = true
	}
	if a := t.OnCross.Training; a != "" && a != Pause && a != Continue {
		return d.Errorf(base+".onCross.training", "must be %q or %q, got %q", Pause, Continue, a)
	}
	modes := make([]string, 0, len(t.OnCross.Deployment))
	for mode := range t.OnCross.Deployment {
		modes = append(modes, mode)
	}
	// Check in document order, so that the error does not depend on map
	// iteration order.
	slices.SortFunc(modes, func(a, b string) int {
		pa, pb := d.Pos(base+".onCross.deployment."+a), d.Pos(base+".onCross.deployment."+b)
		if pa.Line != pb.Line {
			return pa.Line - pb.Line
		}
		return pa.Col - pb.Col
	})
	for _, mode := range modes {
		a := t.OnCross.Deployment[mode]
		path := base + ".onCross.deployment." + mode
		if !oneOf(mode, Modes) {
			return d.Errorf(path, "unknown deployment mode %q; modes are %s", mode, quoteList(Modes))
		}
		if a != RequireSafeguards && a != Allow && a != Deny {
			return d.Errorf(path, "must be %q, %q or %q, got %q", RequireSafeguards, Allow, Deny, a)
		}
	}
	return nil
}

// exprErr positions a compile error inside the expression's scalar when the
// scalar is plain and on one line.
func (p *Policy) exprErr(path string, err error) error {
	e := p.Doc.Errorf(path, "%v", err)
	if ee, ok := err.(*exprError); ok && ee.col >= 0 && e.Pos.Line > 0 {
		if n := p.scalarNode(path); n != nil && n.Style == 0 && p.onOneLine(n) {
			e.Pos.Col += ee.col
		}
	}
	return e
}

// onOneLine reports whether the plain scalar n is written on one line, so
// that a column within its value is a column within that line. (A plain
// scalar that spans lines is folded: its value is not the text of its first
// line.) Columns count code points, as in yaml.v3 and CEL.
func (p *Policy) onOneLine(n *yaml.Node) bool {
	lines := strings.Split(string(p.Source), "\n")
	if n.Line < 1 || n.Line > len(lines) {
		return false
	}
	line := []rune(lines[n.Line-1])
	if n.Column < 1 || n.Column-1 > len(line) {
		return false
	}
	return strings.HasPrefix(string(line[n.Column-1:]), n.Value)
}

// scalarNode finds the YAML node at path, for column arithmetic.
func (p *Policy) scalarNode(path string) *yaml.Node {
	var root yaml.Node
	if err := yaml.Unmarshal(p.Source, &root); err != nil || len(root.Content) == 0 {
		return nil
	}
	pos := p.Doc.Pos(path)
	var found *yaml.Node
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if found != nil {
			return
		}
		if n.Kind == yaml.ScalarNode && n.Line == pos.Line && n.Column == pos.Col {
			found = n
			return
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return found
}
