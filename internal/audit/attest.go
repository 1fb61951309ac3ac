package audit

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/attest"
)

// PredicateType is the in-toto predicate type of an audit re-run
// attestation. The statement's one subject is the audited log file:
// {"name": "inspect-log:<base name>", "digest": {"sha256": "<hex>"}}.
const PredicateType = "https://scalegate.dev/attestation/audit-rerun/v1"

// MaxAttestedSamples is the largest draw whose per-sample scores are
// listed in the predicate (larger draws list only the counts, keeping the
// envelope under attest.MaxEnvelopeSize).
const MaxAttestedSamples = 5000

// Predicate is the body of an audit re-run attestation.
type Predicate struct {
	Log struct {
		File             string   `json:"file"`
		Digest           string   `json:"digest"`
		Format           string   `json:"format"`
		Task             string   `json:"task"`
		Model            string   `json:"model"`
		Scorer           string   `json:"scorer"`
		Score            string   `json:"score"`
		ReportedAccuracy *float64 `json:"reportedAccuracy,omitempty"`
		Samples          int      `json:"samples"`
	} `json:"log"`
	Rerun struct {
		Endpoint string `json:"endpoint"`
		Model    string `json:"model"`
		Scorer   string `json:"scorer"`
		Grader   string `json:"grader,omitempty"`
		// Seed is a decimal string: seeds are 64-bit.
		Seed  string `json:"seed"`
		Drawn int    `json:"drawn"`
		At    string `json:"at"`
	} `json:"rerun"`
	Lab        Tally        `json:"lab"`
	Result     Tally        `json:"result"`
	Discordant Discordant   `json:"discordant"`
	Tests      []TestResult `json:"tests"`
	Decisive   string       `json:"decisive"`
	PValue     float64      `json:"pValue"`
	Alpha      float64      `json:"alpha"`
	Verdict    string       `json:"verdict"`
	// Samples lists each drawn sample's scores (omitted over
	// MaxAttestedSamples).
	Samples []AttestedSample `json:"samples,omitempty"`
	Tool    string           `json:"tool"`
}

// Discordant counts the pairs scored differently.
type Discordant struct {
	LabOnly   int `json:"labOnly"`
	RerunOnly int `json:"rerunOnly"`
}

// AttestedSample is one drawn sample in a predicate; ids are strings.
type AttestedSample struct {
	ID    string  `json:"id"`
	Epoch int     `json:"epoch"`
	Lab   float64 `json:"lab"`
	Rerun float64 `json:"rerun"`
}

// NewPredicate builds the predicate of a complete re-run.
func NewPredicate(rep *Report, tool string) (*Predicate, error) {
	if !rep.Complete {
		return nil, errors.New("the re-run is incomplete: only a complete re-run is attested")
	}
	p := &Predicate{Lab: rep.Lab, Result: rep.Rerun, Discordant: Discordant{rep.LabOnly, rep.RerunOnly}, Tests: rep.Tests,
		Decisive: rep.Decisive, PValue: rep.PValue, Alpha: rep.Alpha, Verdict: rep.Verdict, Tool: tool}
	l := rep.Log
	p.Log.File, p.Log.Digest, p.Log.Format, p.Log.Task, p.Log.Model = l.File, l.Digest, l.Format, l.Task, l.Model
	p.Log.Scorer, p.Log.Score, p.Log.ReportedAccuracy, p.Log.Samples = l.Scorer, l.ScoreName, l.Reported, l.Samples
	p.Rerun.Endpoint, p.Rerun.Model, p.Rerun.Scorer, p.Rerun.Grader = rep.Endpoint, rep.Model, rep.Scorer, rep.Grader
	p.Rerun.Seed = strconv.FormatUint(rep.Seed, 10)
	p.Rerun.Drawn = rep.Drawn
	p.Rerun.At = rep.At.UTC().Format(time.RFC3339Nano)
	if len(rep.Pairs) <= MaxAttestedSamples {
		for _, x := range rep.Pairs {
			p.Samples = append(p.Samples, AttestedSample{ID: x.ID.String(), Epoch: x.Epoch, Lab: x.Lab, Rerun: *x.Rerun})
		}
	}
	return p, nil
}

// Attest signs the outcome of a complete re-run with the attester private
// key skey and returns the DSSE envelope.
func Attest(skey string, rep *Report, tool string) ([]byte, error) {
	p, err := NewPredicate(rep, tool)
	if err != nil {
		return nil, err
	}
	hexDigest, ok := strings.CutPrefix(rep.Log.Digest, "sha256:")
	if !ok {
		return nil, errors.New("the log has no sha256 digest")
	}
	return attest.Sign(skey, attest.Subject{Name: "inspect-log:" + rep.Log.File, Digest: map[string]string{"sha256": hexDigest}}, PredicateType, p)
}
