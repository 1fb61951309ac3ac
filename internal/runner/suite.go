package runner

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/yamlx"
)

// SuiteKind is the kind of a suite document.
const SuiteKind = "Suite"

// MaxSuiteSize bounds a suite file; MaxDatasetSize bounds its dataset.
const (
	MaxSuiteSize   = 1 << 20
	MaxDatasetSize = 1 << 30
)

// Scorer kinds.
const (
	ScorerChoice      = "choice"
	ScorerExact       = "exact"
	ScorerMatch       = "match"
	ScorerIncludes    = "includes"
	ScorerRegex       = "regex"
	ScorerModelGraded = "model-graded"
)

// ScorerKinds lists the scorer kinds a suite may name.
var ScorerKinds = []string{ScorerChoice, ScorerExact, ScorerMatch, ScorerIncludes, ScorerRegex, ScorerModelGraded}

// Suite is a parsed suite file with its dataset.
type Suite struct {
	APIVersion  string     `yaml:"apiVersion,required"`
	Kind        string     `yaml:"kind,required"`
	Name        string     `yaml:"name,required"`
	Version     string     `yaml:"version"`
	Description string     `yaml:"description"`
	Dataset     string     `yaml:"dataset,required"`
	Evaluation  string     `yaml:"evaluation"`
	Elicitation string     `yaml:"elicitation"`
	APIKeyEnv   string     `yaml:"apiKeyEnv"`
	System      string     `yaml:"system"`
	Template    string     `yaml:"template"`
	Generation  Generation `yaml:"generation"`
	Scorer      ScorerSpec `yaml:"scorer,required"`

	// File is the suite file's path; DatasetFile the dataset's, resolved
	// against the suite's directory.
	File        string `yaml:"-"`
	DatasetFile string `yaml:"-"`
	// Samples is the dataset.
	Samples []*Sample `yaml:"-"`
	// Digest is "sha256:<hex>" over the suite file and the dataset; see
	// SuiteDigest.
	Digest string `yaml:"-"`
}

// Generation holds the generation settings sent with every request; unset
// fields are left to the server.
type Generation struct {
	Temperature *float64 `yaml:"temperature" json:"temperature,omitempty"`
	TopP        *float64 `yaml:"topP" json:"top_p,omitempty"`
	MaxTokens   *int64   `yaml:"maxTokens" json:"max_tokens,omitempty"`
	Seed        *int64   `yaml:"seed" json:"seed,omitempty"`
	Stop        []string `yaml:"stop" json:"stop,omitempty"`
}

// ScorerSpec configures a suite's scorer.
type ScorerSpec struct {
	Kind string `yaml:"kind,required"`
	// IgnoreCase (default true) applies to match, includes and regex.
	IgnoreCase *bool `yaml:"ignoreCase"`
	// Location (match): begin, end (default), any or exact.
	Location string `yaml:"location"`
	// Pattern (regex) extracts the answer: the first capture group that
	// equals a target, else the only group (or the whole match).
	Pattern string `yaml:"pattern"`
	// MatchAll (regex): every capture group must equal a target.
	MatchAll bool `yaml:"matchAll"`
	// Grader configures the model-graded scorer.
	Grader *GraderSpec `yaml:"grader"`
}

// GraderSpec configures the grader model of a model-graded scorer. Without
// an endpoint or model, the evaluated endpoint and model grade (as in
// Inspect).
type GraderSpec struct {
	Endpoint      string `yaml:"endpoint"`
	Model         string `yaml:"model"`
	APIKeyEnv     string `yaml:"apiKeyEnv"`
	Template      string `yaml:"template"`
	Instructions  string `yaml:"instructions"`
	GradePattern  string `yaml:"gradePattern"`
	PartialCredit bool   `yaml:"partialCredit"`
	// Fact selects Inspect's model_graded_fact template instead of
	// model_graded_qa's.
	Fact bool `yaml:"fact"`
}

var suiteNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// LoadSuite reads a suite file and its dataset, checks both, and computes
// the suite's digest. Errors name the file, line and field.
func LoadSuite(path string) (*Suite, error) {
	data, err := readBounded(path, MaxSuiteSize)
	if err != nil {
		return nil, err
	}
	s := &Suite{}
	doc, err := yamlx.Decode(path, data, s)
	if err != nil {
		return nil, err
	}
	s.File = path
	if err := s.check(doc); err != nil {
		return nil, err
	}
	s.DatasetFile = s.Dataset
	if !filepath.IsAbs(s.DatasetFile) {
		s.DatasetFile = filepath.Join(filepath.Dir(path), s.Dataset)
	}
	ds, err := readBounded(s.DatasetFile, MaxDatasetSize)
	if err != nil {
		return nil, doc.Errorf("dataset", "%v", err)
	}
	s.Samples, err = ParseDataset(s.DatasetFile, ds)
	if err != nil {
		return nil, err
	}
	if s.Scorer.Kind == ScorerChoice {
		for _, smp := range s.Samples {
			if err := checkChoiceTarget(smp); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", s.DatasetFile, smp.Line, err)
			}
		}
	}
	s.Digest = SuiteDigest(data, ds)
	return s, nil
}

// SuiteDigest is the digest of a suite: "sha256:" and the hex SHA-256 of
//
//	scalegate-suite/v1\nsuite <hex SHA-256 of the suite file>\ndataset <hex SHA-256 of the dataset>\n
//
// so it changes with any byte of either file and with nothing else.
func SuiteDigest(suite, dataset []byte) string {
	a, b := sha256.Sum256(suite), sha256.Sum256(dataset)
	m := "scalegate-suite/v1\nsuite " + hex.EncodeToString(a[:]) + "\ndataset " + hex.EncodeToString(b[:]) + "\n"
	sum := sha256.Sum256([]byte(m))
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (s *Suite) check(d *yamlx.Doc) error {
	if s.APIVersion != policy.APIVersion {
		return d.Errorf("apiVersion", "must be %q, got %q", policy.APIVersion, s.APIVersion)
	}
	if s.Kind != SuiteKind {
		return d.Errorf("kind", "must be %q, got %q", SuiteKind, s.Kind)
	}
	if !suiteNameRE.MatchString(s.Name) {
		return d.Errorf("name", "must match [a-z0-9][a-z0-9._-]*, got %q", s.Name)
	}
	if s.Dataset == "" {
		return d.Errorf("dataset", "must not be empty")
	}
	if s.Elicitation != "" && policy.ElicitationRank(s.Elicitation) < 0 {
		return d.Errorf("elicitation", "must be one of %s, got %q", strings.Join(policy.Elicitations, ", "), s.Elicitation)
	}
	g := s.Generation
	if g.Temperature != nil && (*g.Temperature < 0 || *g.Temperature > 2) {
		return d.Errorf("generation.temperature", "must be in [0, 2], got %g", *g.Temperature)
	}
	if g.TopP != nil && (*g.TopP <= 0 || *g.TopP > 1) {
		return d.Errorf("generation.topP", "must be in (0, 1], got %g", *g.TopP)
	}
	if g.MaxTokens != nil && *g.MaxTokens <= 0 {
		return d.Errorf("generation.maxTokens", "must be positive, got %d", *g.MaxTokens)
	}
	sc := &s.Scorer
	known := false
	for _, k := range ScorerKinds {
		known = known || sc.Kind == k
	}
	if !known {
		return d.Errorf("scorer.kind", "must be one of %s, got %q", strings.Join(ScorerKinds, ", "), sc.Kind)
	}
	if sc.Location != "" && sc.Kind != ScorerMatch {
		return d.Errorf("scorer.location", "applies to the match scorer only")
	}
	switch sc.Location {
	case "", "begin", "end", "any", "exact":
	default:
		return d.Errorf("scorer.location", "must be begin, end, any or exact, got %q", sc.Location)
	}
	if (sc.Pattern != "" || sc.MatchAll) && sc.Kind != ScorerRegex {
		return d.Errorf("scorer.pattern", "applies to the regex scorer only")
	}
	if sc.Kind == ScorerRegex {
		if sc.Pattern == "" {
			return d.Errorf("scorer.pattern", "the regex scorer needs a pattern")
		}
		if _, err := compilePattern(sc.Pattern, true); err != nil {
			return d.Errorf("scorer.pattern", "%v", err)
		}
	}
	if sc.IgnoreCase != nil && sc.Kind != ScorerMatch && sc.Kind != ScorerIncludes && sc.Kind != ScorerRegex {
		return d.Errorf("scorer.ignoreCase", "applies to the match, includes and regex scorers only")
	}
	if sc.Grader != nil && sc.Kind != ScorerModelGraded {
		return d.Errorf("scorer.grader", "applies to the model-graded scorer only")
	}
	if sc.Grader != nil && sc.Grader.GradePattern != "" {
		re, err := compileGradePattern(sc.Grader.GradePattern)
		if err != nil {
			return d.Errorf("scorer.grader.gradePattern", "%v", err)
		}
		if re.NumSubexp() < 1 {
			return d.Errorf("scorer.grader.gradePattern", "needs a capture group for the grade")
		}
	}
	if s.Template != "" {
		if err := checkTemplate(s.Template, sc.Kind == ScorerChoice); err != nil {
			return d.Errorf("template", "%v", err)
		}
	}
	return nil
}

// EvaluationID is the policy evaluation the suite's results are recorded
// for: its evaluation field, else its name.
func (s *Suite) EvaluationID() string {
	if s.Evaluation != "" {
		return s.Evaluation
	}
	return s.Name
}

// readBounded reads a regular file of at most limit bytes.
func readBounded(path string, limit int64) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: file is %d bytes; the limit is %d", path, st.Size(), limit)
	}
	return os.ReadFile(path)
}
