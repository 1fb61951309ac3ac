// Package evidence owns the records a gate decision rests on: models and
// their checkpoints, evaluation results, safeguard statuses, determinations,
// safety cases and escape-clause invocations; and the Evidence file format
// (v1) that carries them.
//
// [Parse] decodes an Evidence file strictly and checks each record on its
// own (enums, finite scores, non-negative compute, RFC 3339 times, required
// fields). Whether references resolve (to models and checkpoints in the same
// files or the store, to ids declared by the model's published policy) is
// checked by the service that imports the file, which knows the store; it
// reports positions through [File.Doc].
package evidence

import (
	"fmt"
	"math"
	"os"
	"time"

	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/yamlx"
)

// Kind identifies an Evidence document.
const Kind = "Evidence"

// MaxFileSize bounds one Evidence file.
const MaxFileSize = 512 << 20

// Safeguard statuses.
const (
	Implemented = "implemented"
	Revoked     = "revoked"
)

// File is a parsed Evidence file.
type File struct {
	APIVersion     string            `yaml:"apiVersion,required"`
	Kind           string            `yaml:"kind,required"`
	Models         []Model           `yaml:"models"`
	Checkpoints    []Checkpoint      `yaml:"checkpoints"`
	Results        []Result          `yaml:"results"`
	Safeguards     []SafeguardStatus `yaml:"safeguards"`
	Determinations []Determination   `yaml:"determinations"`
	SafetyCases    []SafetyCase      `yaml:"safetyCases"`
	Escapes        []Escape          `yaml:"escapes"`

	Doc *yamlx.Doc `yaml:"-"`
}

// Meta is what the store adds to every record: its sequence number (the
// order records were recorded in, used to break ties between equal times)
// and who recorded it.
type Meta struct {
	Seq        int64  `yaml:"-" json:"seq,omitempty"`
	RecordedBy string `yaml:"-" json:"recordedBy,omitempty"`
	// SignedBy is the attester whose verified signature (a DSSE envelope
	// over the record) accompanied the record, if any.
	SignedBy string `yaml:"-" json:"signedBy,omitempty"`
	// SignedKeyID and SignedEnvelope are the signing key's id and the
	// verified DSSE envelope.
	SignedKeyID    string `yaml:"-" json:"-"`
	SignedEnvelope []byte `yaml:"-" json:"-"`
}

// Model is a model lineage governed by one policy name.
type Model struct {
	ID        string `yaml:"id,required" json:"id"`
	Developer string `yaml:"developer" json:"developer,omitempty"`
	Policy    string `yaml:"policy,required" json:"policy"`
	Meta      `yaml:"-" json:"-"`
}

// Checkpoint is a model checkpoint with its effective training compute.
type Checkpoint struct {
	ID               string    `yaml:"id,required" json:"id"`
	Model            string    `yaml:"model,required" json:"model"`
	EffectiveCompute float64   `yaml:"effectiveCompute,required" json:"effectiveCompute"`
	At               time.Time `yaml:"at" json:"at"`
	Meta             `yaml:"-" json:"-"`
}

// Result is an evaluation result for a checkpoint.
type Result struct {
	Checkpoint   string    `yaml:"checkpoint,required" json:"checkpoint"`
	Evaluation   string    `yaml:"evaluation,required" json:"evaluation"`
	Score        float64   `yaml:"score,required" json:"score"`
	Stderr       *float64  `yaml:"stderr" json:"stderr,omitempty"`
	Elicitation  string    `yaml:"elicitation,required" json:"elicitation"`
	Samples      int64     `yaml:"samples" json:"samples,omitempty"`
	At           time.Time `yaml:"at" json:"at"`
	Incomplete   bool      `yaml:"incomplete" json:"incomplete,omitempty"`
	Confidential bool      `yaml:"confidential" json:"confidential,omitempty"`
	Source       *Source   `yaml:"source" json:"source,omitempty"`
	Meta         `yaml:"-" json:"-"`
}

// Source links a result to the evaluation log it was read from.
type Source struct {
	Format      string `yaml:"format" json:"format"`
	File        string `yaml:"file" json:"file,omitempty"`
	Digest      string `yaml:"digest" json:"digest"`
	Task        string `yaml:"task" json:"task,omitempty"`
	TaskVersion string `yaml:"taskVersion" json:"taskVersion,omitempty"`
	Scorer      string `yaml:"scorer" json:"scorer,omitempty"`
	Metric      string `yaml:"metric" json:"metric,omitempty"`
	LogModel    string `yaml:"logModel" json:"logModel,omitempty"`
}

// SafeguardStatus records that a safeguard was implemented for (or revoked
// from) a model, and by whom.
type SafeguardStatus struct {
	Safeguard    string    `yaml:"safeguard,required" json:"safeguard"`
	Model        string    `yaml:"model,required" json:"model"`
	Status       string    `yaml:"status,required" json:"status"`
	By           string    `yaml:"by,required" json:"by"`
	At           time.Time `yaml:"at" json:"at"`
	Note         string    `yaml:"note" json:"note,omitempty"`
	Confidential bool      `yaml:"confidential" json:"confidential,omitempty"`
	Meta         `yaml:"-" json:"-"`
}

// Determination is a named decision-maker's recorded judgment of whether a
// checkpoint crossed a threshold the policy leaves to judgment.
type Determination struct {
	Checkpoint   string    `yaml:"checkpoint,required" json:"checkpoint"`
	Threshold    string    `yaml:"threshold,required" json:"threshold"`
	Crossed      bool      `yaml:"crossed,required" json:"crossed"`
	By           string    `yaml:"by,required" json:"by"`
	Rationale    string    `yaml:"rationale,required" json:"rationale"`
	At           time.Time `yaml:"at" json:"at"`
	Confidential bool      `yaml:"confidential" json:"confidential,omitempty"`
	Meta         `yaml:"-" json:"-"`
}

// SafetyCase is an approved affirmative safety case covering a model up to
// a compute level.
type SafetyCase struct {
	ID            string    `yaml:"id,required" json:"id"`
	Model         string    `yaml:"model,required" json:"model"`
	CoversCompute float64   `yaml:"coversCompute,required" json:"coversCompute"`
	ApprovedBy    string    `yaml:"approvedBy,required" json:"approvedBy"`
	At            time.Time `yaml:"at" json:"at"`
	Summary       string    `yaml:"summary" json:"summary,omitempty"`
	Confidential  bool      `yaml:"confidential" json:"confidential,omitempty"`
	Meta          `yaml:"-" json:"-"`
}

// Escape is an invocation of the policy's escape clause for a model.
type Escape struct {
	Model     string    `yaml:"model,required" json:"model"`
	By        string    `yaml:"by,required" json:"by"`
	Rationale string    `yaml:"rationale,required" json:"rationale"`
	At        time.Time `yaml:"at" json:"at"`
	Meta      `yaml:"-" json:"-"`
}

// Load reads and parses an Evidence file; see [Parse] for defaultAt.
func Load(path string, defaultAt time.Time) (*File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if st.Size() > MaxFileSize {
		return nil, &yamlx.Error{File: path, Msg: fmt.Sprintf("file is %d bytes; the limit is %d", st.Size(), MaxFileSize)}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return Parse(path, data, defaultAt)
}

// Parse decodes an Evidence document strictly and checks each record on its
// own. Records without `at` get defaultAt; if defaultAt is zero such records
// are an error.
func Parse(file string, data []byte, defaultAt time.Time) (*File, error) {
	f := &File{}
	doc, err := yamlx.Decode(file, data, f)
	if err != nil {
		return nil, err
	}
	f.Doc = doc
	if f.APIVersion != policy.APIVersion {
		return nil, doc.Errorf("apiVersion", "must be %q, got %q", policy.APIVersion, f.APIVersion)
	}
	if f.Kind != Kind {
		return nil, doc.Errorf("kind", "must be %q, got %q", Kind, f.Kind)
	}
	if err := f.check(defaultAt); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) check(defaultAt time.Time) error {
	d := f.Doc
	at := func(path string, t *time.Time) error {
		if t.IsZero() {
			if defaultAt.IsZero() {
				return d.Errorf(path, "missing `at` (give it in the record or with --at)")
			}
			*t = defaultAt.UTC()
		}
		return nil
	}
	nonEmpty := func(path, s string) error {
		if s == "" {
			return d.Errorf(path, "must not be empty")
		}
		return nil
	}
	for i := range f.Models {
		m := &f.Models[i]
		base := fmt.Sprintf("models[%d]", i)
		if err := nonEmpty(base+".id", m.ID); err != nil {
			return err
		}
		if err := nonEmpty(base+".policy", m.Policy); err != nil {
			return err
		}
	}
	for i := range f.Checkpoints {
		c := &f.Checkpoints[i]
		base := fmt.Sprintf("checkpoints[%d]", i)
		if err := nonEmpty(base+".id", c.ID); err != nil {
			return err
		}
		if err := nonEmpty(base+".model", c.Model); err != nil {
			return err
		}
		if c.EffectiveCompute < 0 {
			return d.Errorf(base+".effectiveCompute", "must not be negative, got %g", c.EffectiveCompute)
		}
		if err := at(base+".at", &c.At); err != nil {
			return err
		}
	}
	for i := range f.Results {
		r := &f.Results[i]
		base := fmt.Sprintf("results[%d]", i)
		if err := nonEmpty(base+".checkpoint", r.Checkpoint); err != nil {
			return err
		}
		if err := nonEmpty(base+".evaluation", r.Evaluation); err != nil {
			return err
		}
		if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
			return d.Errorf(base+".score", "must be a finite number")
		}
		if r.Stderr != nil && (*r.Stderr < 0 || math.IsNaN(*r.Stderr) || math.IsInf(*r.Stderr, 0)) {
			return d.Errorf(base+".stderr", "must be a finite non-negative number")
		}
		if policy.ElicitationRank(r.Elicitation) < 0 {
			return d.Errorf(base+".elicitation", "must be one of %s, got %q", quoteList(policy.Elicitations), r.Elicitation)
		}
		if r.Samples < 0 {
			return d.Errorf(base+".samples", "must not be negative, got %d", r.Samples)
		}
		if err := at(base+".at", &r.At); err != nil {
			return err
		}
	}
	for i := range f.Safeguards {
		s := &f.Safeguards[i]
		base := fmt.Sprintf("safeguards[%d]", i)
		if err := nonEmpty(base+".safeguard", s.Safeguard); err != nil {
			return err
		}
		if err := nonEmpty(base+".model", s.Model); err != nil {
			return err
		}
		if s.Status != Implemented && s.Status != Revoked {
			return d.Errorf(base+".status", "must be %q or %q, got %q", Implemented, Revoked, s.Status)
		}
		if err := nonEmpty(base+".by", s.By); err != nil {
			return err
		}
		if err := at(base+".at", &s.At); err != nil {
			return err
		}
	}
	for i := range f.Determinations {
		x := &f.Determinations[i]
		base := fmt.Sprintf("determinations[%d]", i)
		if err := nonEmpty(base+".checkpoint", x.Checkpoint); err != nil {
			return err
		}
		if err := nonEmpty(base+".threshold", x.Threshold); err != nil {
			return err
		}
		if err := nonEmpty(base+".by", x.By); err != nil {
			return err
		}
		if err := nonEmpty(base+".rationale", x.Rationale); err != nil {
			return err
		}
		if err := at(base+".at", &x.At); err != nil {
			return err
		}
	}
	for i := range f.SafetyCases {
		s := &f.SafetyCases[i]
		base := fmt.Sprintf("safetyCases[%d]", i)
		if err := nonEmpty(base+".id", s.ID); err != nil {
			return err
		}
		if err := nonEmpty(base+".model", s.Model); err != nil {
			return err
		}
		if s.CoversCompute <= 0 {
			return d.Errorf(base+".coversCompute", "must be a positive FLOP count, got %g", s.CoversCompute)
		}
		if err := nonEmpty(base+".approvedBy", s.ApprovedBy); err != nil {
			return err
		}
		if err := at(base+".at", &s.At); err != nil {
			return err
		}
	}
	for i := range f.Escapes {
		e := &f.Escapes[i]
		base := fmt.Sprintf("escapes[%d]", i)
		if err := nonEmpty(base+".model", e.Model); err != nil {
			return err
		}
		if err := nonEmpty(base+".by", e.By); err != nil {
			return err
		}
		if err := nonEmpty(base+".rationale", e.Rationale); err != nil {
			return err
		}
		if err := at(base+".at", &e.At); err != nil {
			return err
		}
	}
	return nil
}

func quoteList(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%q", x)
	}
	return s
}

// IsConfidential reports whether the record's confidential fields stay out
// of its public log leaf.
func (r *Result) IsConfidential() bool { return r.Confidential }

// IsConfidential reports whether the record's confidential fields stay out
// of its public log leaf.
func (s *SafeguardStatus) IsConfidential() bool { return s.Confidential }

// IsConfidential reports whether the record's confidential fields stay out
// of its public log leaf.
func (d *Determination) IsConfidential() bool { return d.Confidential }

// IsConfidential reports whether the record's confidential fields stay out
// of its public log leaf.
func (s *SafetyCase) IsConfidential() bool { return s.Confidential }
