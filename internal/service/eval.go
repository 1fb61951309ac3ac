package service

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/yamlx"
)

// EvalFormat is the source format of results measured by scalegate's own
// runner.
const EvalFormat = "scalegate"

// EvalRun is the result of a native evaluation run, to record as evidence.
type EvalRun struct {
	Checkpoint  string
	Evaluation  string
	Elicitation string
	Score       float64
	Stderr      *float64
	Samples     int64
	// At is the result's time: when the run's last sample completed.
	At time.Time
	// Incomplete marks a run that did not score every sample (the gate
	// does not count it).
	Incomplete bool
	// Suite is the suite's name, SuiteVersion its version and Digest its
	// digest (suite file and dataset).
	Suite, SuiteVersion, Digest string
	// Scorer and Metric name how the score was computed ("choice",
	// "accuracy"); Model is the model name the endpoint served.
	Scorer, Metric, Model string
	// RunFile names the run's state file (runs/<run id>.jsonl).
	RunFile string
}

// EvalRecorded is what RecordEval did.
type EvalRecorded struct {
	Result evidence.Result `json:"result"`
	// Unchanged reports that an identical result was already recorded
	// (a completed run recorded again), so nothing was written.
	Unchanged bool  `json:"unchanged,omitempty"`
	LogIndex  int64 `json:"logIndex"`
}

// RecordEval records a native run's result as an evaluation result of its
// checkpoint, through Import (so the checkpoint, the model's published
// policy and the evaluation id are checked as for any evidence), with a
// Source of format "scalegate" naming the suite's digest, name and
// version, the scorer, the metric, the model and the run file. Recording
// the same run's result again writes nothing.
func (s *Service) RecordEval(ctx context.Context, run EvalRun, by string) (*EvalRecorded, error) {
	if run.Checkpoint == "" {
		return nil, badInputf("a checkpoint is required to record an evaluation result")
	}
	if run.Evaluation == "" {
		return nil, badInputf("an evaluation id is required to record an evaluation result")
	}
	el := run.Elicitation
	if el == "" {
		el = DefaultElicitation
	}
	if policy.ElicitationRank(el) < 0 {
		return nil, badInputf("elicitation must be one of %s, got %q", strings.Join(policy.Elicitations, ", "), el)
	}
	if math.IsNaN(run.Score) || math.IsInf(run.Score, 0) || run.Stderr != nil && (math.IsNaN(*run.Stderr) || math.IsInf(*run.Stderr, 0) || *run.Stderr < 0) {
		return nil, badInputf("the score and its stderr must be finite")
	}
	if run.Samples < 0 || run.At.IsZero() {
		return nil, badInputf("a result needs a time and a non-negative sample count")
	}
	r := evidence.Result{
		Checkpoint: run.Checkpoint, Evaluation: run.Evaluation, Score: run.Score, Stderr: run.Stderr,
		Elicitation: el, Samples: run.Samples, At: run.At.UTC(), Incomplete: run.Incomplete,
		Source: &evidence.Source{
			Format: EvalFormat, File: run.RunFile, Digest: run.Digest, Task: run.Suite, TaskVersion: run.SuiteVersion,
			Scorer: run.Scorer, Metric: run.Metric, LogModel: run.Model,
		},
	}
	out := &EvalRecorded{Result: r, LogIndex: -1}
	same, err := s.evalRecorded(ctx, &r)
	if err != nil {
		return nil, err
	}
	if same {
		out.Unchanged = true
		return out, nil
	}
	f := &evidence.File{APIVersion: policy.APIVersion, Kind: evidence.Kind, Results: []evidence.Result{r},
		Doc: &yamlx.Doc{File: "run " + strings.TrimSuffix(run.RunFile, ".jsonl")}}
	imp, err := s.Import(ctx, []*evidence.File{f}, by)
	if err != nil {
		return nil, err
	}
	out.LogIndex = imp.First
	return out, nil
}

// evalRecorded reports whether a result identical to r is recorded.
func (s *Service) evalRecorded(ctx context.Context, r *evidence.Result) (bool, error) {
	want, err := marshal(r)
	if err != nil {
		return false, err
	}
	found := false
	err = s.Store.View(ctx, func(rd store.Reader) error {
		rec, err := rd.Get(ctx, store.KindCheckpoint, r.Checkpoint)
		if errors.Is(err, store.ErrNotFound) {
			return nil // Import reports the unknown checkpoint
		}
		if err != nil {
			return err
		}
		var c evidence.Checkpoint
		if _, err := decodeEnvelope(*rec, &c); err != nil {
			return err
		}
		recs, err := rd.List(ctx, store.Query{Kinds: []string{store.KindResult}, Model: c.Model})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			var x evidence.Result
			if _, err := decodeEnvelope(rec, &x); err != nil {
				return err
			}
			if x.Source == nil || x.Source.Format != EvalFormat || x.Checkpoint != r.Checkpoint {
				continue
			}
			got, err := marshal(&x)
			if err != nil {
				return err
			}
			if bytes.Equal(got, want) {
				found = true
				return nil
			}
		}
		return nil
	})
	return found, err
}

// CheckEvalTarget checks, before a run, that its result could be
// recorded: the checkpoint exists and some published version of its
// model's policy declares the evaluation.
func (s *Service) CheckEvalTarget(ctx context.Context, checkpoint, evaluation string) error {
	return s.Store.View(ctx, func(r store.Reader) error {
		rec, err := r.Get(ctx, store.KindCheckpoint, checkpoint)
		if errors.Is(err, store.ErrNotFound) {
			return badInputf("unknown checkpoint %q (import it before running evaluations for it)", checkpoint)
		}
		if err != nil {
			return err
		}
		var c evidence.Checkpoint
		if _, err := decodeEnvelope(*rec, &c); err != nil {
			return err
		}
		rec, err = r.Get(ctx, store.KindModel, c.Model)
		if err != nil {
			return err
		}
		var m evidence.Model
		if _, err := decodeEnvelope(*rec, &m); err != nil {
			return err
		}
		versions, _, err := s.versions(ctx, r, m.Policy)
		if err != nil {
			return err
		}
		var ids []string
		for _, v := range versions {
			for _, e := range v.Policy.Evaluations {
				if e.ID == evaluation {
					return nil
				}
				if !slices.Contains(ids, e.ID) {
					ids = append(ids, e.ID)
				}
			}
		}
		return badInputf("evaluation %q is not declared by any published version of policy %q (declared: %s); set the suite's evaluation or pass --evaluation", evaluation, m.Policy, strings.Join(ids, ", "))
	})
}
