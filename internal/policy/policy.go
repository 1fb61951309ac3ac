// Package policy owns scalegate's scaling-policy documents (format v1): the
// types, strict loading with file:line:col errors, semantic validation, and
// the compiled trigger, warning and clear conditions.
//
// A policy is a YAML document of kind Policy (see docs/policy.md). [Parse]
// decodes it strictly (unknown fields, wrong types, bad enum values and
// missing required fields are errors), validates it (ids unique, references
// resolve, exactly one of trigger or `determination: required` per threshold,
// CEL conditions compile to booleans and name declared evaluations, stance
// fields consistent) and compiles every condition once. A *Policy is
// immutable after Parse and safe for concurrent use.
//
// Conditions are CEL expressions over `score(id) -> double` and
// `compute -> double`. The evaluations an expression reads are known
// statically (score's argument must be a string literal), so a condition is
// unknown at a checkpoint exactly when one of the evaluations it references
// has no qualifying result there: it is never silently false. Simple
// conditions (comparisons of a score or the compute with a constant, combined
// with &&, || and !) are also kept as a small tree that the gate evaluates
// natively and that analysis tools (diff, forecast) can read.
package policy

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/sumdb/note"

	"scalegate.dev/scalegate/internal/yamlx"
)

// APIVersion and Kind identify a policy document.
const (
	APIVersion = "scalegate.dev/v1"
	Kind       = "Policy"
)

// Stances.
const (
	EvidenceOfDanger  = "evidence-of-danger"
	AffirmativeSafety = "affirmative-safety"
)

// Training actions while a threshold is crossed without its safeguards.
const (
	Pause    = "pause"
	Continue = "continue"
)

// Deployment actions per mode while a threshold is crossed.
const (
	RequireSafeguards = "require-safeguards"
	Allow             = "allow"
	Deny              = "deny"
)

// Deployment modes.
var Modes = []string{"internal", "external", "open-weights"}

// Elicitation levels, weakest first.
var Elicitations = []string{"none", "prompted", "cot", "scaffolded", "finetuned"}

// ElicitationRank returns the position of e in [Elicitations], or -1.
func ElicitationRank(e string) int {
	for i, x := range Elicitations {
		if x == e {
			return i
		}
	}
	return -1
}

// EvaluationKinds are the kinds an evaluation may declare.
var EvaluationKinds = []string{"capability", "propensity", "control", "understanding"}

// SafeguardKinds are the kinds a safeguard may declare.
var SafeguardKinds = []string{"security", "deployment", "alignment", "governance", "other"}

// Policy is a parsed, validated and compiled policy version.
type Policy struct {
	APIVersion  string       `yaml:"apiVersion,required"`
	Kind        string       `yaml:"kind,required"`
	Metadata    Metadata     `yaml:"metadata,required"`
	Stance      string       `yaml:"stance"`
	Affirmative *Affirmative `yaml:"affirmative"`
	Domains     []Domain     `yaml:"domains"`
	Evaluations []Evaluation `yaml:"evaluations"`
	Thresholds  []Threshold  `yaml:"thresholds"`
	Safeguards  []Safeguard  `yaml:"safeguards"`
	Cadence     Cadence      `yaml:"cadence"`
	Governance  Governance   `yaml:"governance"`

	// Digest is "sha256:<hex>" of the document's bytes as published.
	Digest string `yaml:"-"`
	// Source is the document's bytes.
	Source []byte `yaml:"-"`
	// Doc maps field paths to positions in the source.
	Doc *yamlx.Doc `yaml:"-"`
	// Warnings are non-fatal findings of validation (for example attesters
	// whose claims cannot be verified because they have no key).
	Warnings []string `yaml:"-"`

	evals      map[string]*Evaluation
	evalIndex  map[string]int // position in Evaluations
	thresholds map[string]*Threshold
	safeguards map[string]*Safeguard
}

// Metadata names a policy version.
type Metadata struct {
	Name      string `yaml:"name,required"`
	Version   string `yaml:"version,required"`
	Developer string `yaml:"developer,required"`
	Source    string `yaml:"source"`
}

// Affirmative configures the affirmative-safety stance.
type Affirmative struct {
	AboveCompute float64 `yaml:"aboveCompute,required"`
}

// Domain is a risk domain.
type Domain struct {
	ID   string `yaml:"id,required"`
	Name string `yaml:"name,required"`
}

// Evaluation is an evaluation the policy relies on.
type Evaluation struct {
	ID             string   `yaml:"id,required"`
	Domain         string   `yaml:"domain,required"`
	Kind           string   `yaml:"kind,required"`
	MinElicitation string   `yaml:"minElicitation"`
	Required       *bool    `yaml:"required"`
	Chance         *float64 `yaml:"chance"`
	Sources        []Source `yaml:"sources"`
	Description    string   `yaml:"description"`
}

// IsRequired reports whether the evaluation is part of every assessment
// (the default).
func (e *Evaluation) IsRequired() bool { return e.Required == nil || *e.Required }

// Source maps an evaluation to a task in an evaluation harness's logs.
type Source struct {
	Format string `yaml:"format,required"` // inspect | lm-eval
	Task   string `yaml:"task,required"`
	Scorer string `yaml:"scorer"`
	Metric string `yaml:"metric,required"`
}

// Threshold is a capability threshold.
type Threshold struct {
	ID            string   `yaml:"id,required"`
	Domain        string   `yaml:"domain,required"`
	Name          string   `yaml:"name,required"`
	Description   string   `yaml:"description"`
	Trigger       string   `yaml:"trigger"`
	Warning       string   `yaml:"warning"`
	Clear         string   `yaml:"clear"`
	Determination string   `yaml:"determination"`
	RedLine       bool     `yaml:"redLine"`
	Hole          string   `yaml:"hole"`
	Requires      []string `yaml:"requires"`
	OnCross       OnCross  `yaml:"onCross"`
	BaselineOf    string   `yaml:"baselineOf"`

	TriggerCond *Cond `yaml:"-"`
	WarningCond *Cond `yaml:"-"`
	ClearCond   *Cond `yaml:"-"`
}

// NeedsDetermination reports whether the threshold is left to judgment.
func (t *Threshold) NeedsDetermination() bool { return t.Determination == "required" }

// OnCross says what holds while a threshold is crossed.
type OnCross struct {
	Training   string            `yaml:"training"`
	Deployment map[string]string `yaml:"deployment"`
}

// TrainingAction returns the training action, defaulting to pause.
func (o OnCross) TrainingAction() string {
	if o.Training == "" {
		return Pause
	}
	return o.Training
}

// DeploymentAction returns the action for mode, defaulting to
// require-safeguards.
func (o OnCross) DeploymentAction(mode string) string {
	if a, ok := o.Deployment[mode]; ok && a != "" {
		return a
	}
	return RequireSafeguards
}

// Safeguard is a safeguard a threshold may require.
type Safeguard struct {
	ID          string `yaml:"id,required"`
	Kind        string `yaml:"kind,required"`
	Description string `yaml:"description"`
	Attestation string `yaml:"attestation,required"` // self | external
}

// Cadence is how often a model must be reassessed.
type Cadence struct {
	ComputeMultiple        float64   `yaml:"computeMultiple"`
	Interval               Duration  `yaml:"interval"`
	WarningComputeMultiple float64   `yaml:"warningComputeMultiple"`
	ExemptBelowCompute     float64   `yaml:"exemptBelowCompute"`
	Forecast               *Forecast `yaml:"forecast"`
}

// Forecast configures gating on forecast threshold crossings.
type Forecast struct {
	Confidence float64 `yaml:"confidence"`
	Buffer     float64 `yaml:"buffer"`
}

// Governance says who decides and how the policy changes.
type Governance struct {
	DecisionMakers []string     `yaml:"decisionMakers"`
	Attesters      []Attester   `yaml:"attesters"`
	ScrutinyPeriod Duration     `yaml:"scrutinyPeriod"`
	ExternalReview string       `yaml:"externalReview"`
	EscapeClause   EscapeClause `yaml:"escapeClause"`
}

// EscapeClause says whether the policy may be overridden.
type EscapeClause struct {
	Allowed    bool   `yaml:"allowed"`
	Conditions string `yaml:"conditions"`
}

// Attester is an identity whose attestations count as external. It is
// written either as a bare name or as {name, key}, where key is a note
// verifier key (name+hash+base64) whose signatures its claims need.
type Attester struct {
	Name string `yaml:"name,required"`
	Key  string `yaml:"key"`
}

// UnmarshalYAMLX accepts a bare name or a mapping.
func (a *Attester) UnmarshalYAMLX(d *yamlx.Decoder, n *yaml.Node, path string) error {
	if n.Kind == yaml.ScalarNode {
		return d.Decode(n, path, reflectValue(&a.Name))
	}
	type plain Attester
	var p plain
	if err := d.Decode(n, path, reflectValue(&p)); err != nil {
		return err
	}
	*a = Attester(p)
	return nil
}

// Duration is a length of time written with a unit: 12h, 180d, 0d.
type Duration time.Duration

// UnmarshalYAMLX parses "<n>h" or "<n>d".
func (du *Duration) UnmarshalYAMLX(d *yamlx.Decoder, n *yaml.Node, path string) error {
	if n.Kind != yaml.ScalarNode {
		return d.Errorf(n, path, "expected a duration such as 180d or 12h")
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return d.Errorf(n, path, "%v", err)
	}
	*du = Duration(v)
	return nil
}

// String formats the duration in days when whole, else hours.
func (du Duration) String() string {
	h := time.Duration(du) / time.Hour
	if h%24 == 0 {
		return fmt.Sprintf("%dd", h/24)
	}
	return fmt.Sprintf("%dh", h)
}

// ParseDuration parses durations in hours or days ("12h", "180d").
func ParseDuration(s string) (time.Duration, error) {
	if len(s) < 2 {
		return 0, fmt.Errorf("expected a duration such as 180d or 12h, got %q", s)
	}
	num, unit := s[:len(s)-1], s[len(s)-1]
	n, err := strconv.ParseInt(num, 10, 32)
	if err != nil || n < 0 || strings.HasPrefix(num, "+") || strings.HasPrefix(num, "-") {
		return 0, fmt.Errorf("expected a duration such as 180d or 12h, got %q", s)
	}
	var u time.Duration
	switch unit {
	case 'h':
		u = time.Hour
	case 'd':
		u = 24 * time.Hour
	default:
		return 0, fmt.Errorf("expected a duration in h or d such as 180d or 12h, got %q", s)
	}
	if n > int64(math.MaxInt64/u) {
		return 0, fmt.Errorf("duration %q is too long; the limit is %dd", s, int64(math.MaxInt64/(24*time.Hour)))
	}
	return time.Duration(n) * u, nil
}

// Evaluation returns the evaluation with id, or nil.
func (p *Policy) Evaluation(id string) *Evaluation { return p.evals[id] }

// EvaluationIndex returns the position of evaluation id in Evaluations.
func (p *Policy) EvaluationIndex(id string) (int, bool) {
	i, ok := p.evalIndex[id]
	return i, ok
}

// Threshold returns the threshold with id, or nil.
func (p *Policy) Threshold(id string) *Threshold { return p.thresholds[id] }

// Safeguard returns the safeguard with id, or nil.
func (p *Policy) Safeguard(id string) *Safeguard { return p.safeguards[id] }

// IsDecisionMaker reports whether name is one of governance.decisionMakers.
func (p *Policy) IsDecisionMaker(name string) bool {
	for _, d := range p.Governance.DecisionMakers {
		if d == name {
			return true
		}
	}
	return false
}

// Attester returns the attester called name, or nil.
func (p *Policy) Attester(name string) *Attester {
	for i := range p.Governance.Attesters {
		if p.Governance.Attesters[i].Name == name {
			return &p.Governance.Attesters[i]
		}
	}
	return nil
}

// StanceOrDefault returns the stance, defaulting to evidence-of-danger.
func (p *Policy) StanceOrDefault() string {
	if p.Stance == "" {
		return EvidenceOfDanger
	}
	return p.Stance
}

// checkVerifierKey checks that key is a note verifier key (name+hash+base64).
func checkVerifierKey(key, _ string) error {
	if _, err := note.NewVerifier(key); err != nil {
		return fmt.Errorf("not a verifier key of the form name+hash+base64: %w", err)
	}
	return nil
}
