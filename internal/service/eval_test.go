package service

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/gate"
)

const evalPolicy = `apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: eval-test, version: 1.0.0, developer: Test Lab}
domains:
  - {id: d, name: D}
evaluations:
  - {id: tiny-mcq, domain: d, kind: capability, minElicitation: prompted}
thresholds:
  - {id: t, domain: d, name: T, trigger: 'score("tiny-mcq") >= 0.7'}
cadence: {computeMultiple: 4, interval: 180d}
governance: {decisionMakers: [rso], scrutinyPeriod: 30d}
`

const evalEvidence = `apiVersion: scalegate.dev/v1
kind: Evidence
models:
  - {id: atlas, developer: Test Lab, policy: eval-test}
checkpoints:
  - {id: atlas-c1, model: atlas, effectiveCompute: 1e24, at: 2026-01-10T00:00:00Z}
`

func TestRecordEval(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { return at }
	if _, err := s.PublishPolicy(ctx, "p.yaml", []byte(evalPolicy), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "test"); err != nil {
		t.Fatal(err)
	}
	ev := filepath.Join(t.TempDir(), "e.yaml")
	os.WriteFile(ev, []byte(evalEvidence), 0o644)
	if _, err := s.ImportFiles(ctx, []string{ev}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	se := 0.1
	run := EvalRun{Checkpoint: "atlas-c1", Evaluation: "tiny-mcq", Score: 0.8, Stderr: &se, Samples: 5, At: at.Add(-time.Hour),
		Suite: "tiny-mcq", SuiteVersion: "1", Digest: "sha256:abc", Scorer: "choice", Metric: "accuracy", Model: "m", RunFile: "eval-0123.jsonl"}
	rec, err := s.RecordEval(ctx, run, "cli")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Unchanged || rec.LogIndex < 0 || rec.Result.Source.Format != "scalegate" || rec.Result.Source.Digest != "sha256:abc" || rec.Result.Elicitation != "prompted" {
		t.Fatalf("recorded %+v", rec)
	}
	again, err := s.RecordEval(ctx, run, "cli")
	if err != nil || !again.Unchanged || again.LogIndex != -1 {
		t.Fatalf("recording the same run again: %+v, %v", again, err)
	}
	d, err := s.Decide(ctx, gate.Action{Kind: "scale", Model: "atlas", ToCompute: 2e24, At: at}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Thresholds) != 1 || d.Thresholds[0].State != "crossed" || d.Thresholds[0].Inputs["tiny-mcq"] != 0.8 {
		t.Errorf("decision thresholds %+v", d.Thresholds)
	}
	run.Score = 0.4
	if rec, err := s.RecordEval(ctx, run, "cli"); err != nil || rec.Unchanged {
		t.Errorf("a different score was not recorded: %+v, %v", rec, err)
	}

	for _, tt := range []struct {
		mod  func(*EvalRun)
		want string
	}{
		{func(r *EvalRun) { r.Evaluation = "wmdp" }, `run eval-0123: results[0].evaluation: evaluation "wmdp" is not declared by any published version of policy "eval-test"`},
		{func(r *EvalRun) { r.Checkpoint = "nope" }, `unknown checkpoint "nope"`},
		{func(r *EvalRun) { r.Elicitation = "heroic" }, "elicitation must be one of"},
		{func(r *EvalRun) { r.Checkpoint = "" }, "a checkpoint is required"},
		{func(r *EvalRun) { r.At = time.Time{} }, "needs a time"},
	} {
		r := run
		tt.mod(&r)
		_, err := s.RecordEval(ctx, r, "cli")
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("RecordEval: %v, want bad input %q", err, tt.want)
		}
	}
}
