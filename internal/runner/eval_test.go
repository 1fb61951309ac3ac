package runner

import (
	"context"
	"strings"
	"testing"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

// TestEvalModelGraded runs a model-graded suite through Eval: the model
// and the grader are separate servers, each with its own key from the
// environment.
func TestEvalModelGraded(t *testing.T) {
	model, grader := runnertest.NewServer(), runnertest.NewServer()
	defer model.Close()
	defer grader.Close()
	model.Reply = func(r *runnertest.Request) string {
		if strings.Contains(r.Prompt, "France") {
			return "Paris"
		}
		return "I do not know"
	}
	grader.Reply = func(r *runnertest.Request) string {
		if r.Model != "judge" {
			return "GRADE: I (wrong grader model)"
		}
		if strings.Contains(r.Prompt, "[Submission]: Paris") && strings.Contains(r.Prompt, "[Criterion]: Paris") {
			return "GRADE: C"
		}
		return "GRADE: I"
	}
	suite := writeSuite(t, suiteHead+"apiKeyEnv: MODEL_KEY\nsystem: Answer in one word.\nscorer:\n  kind: model-graded\n  grader: {model: judge, apiKeyEnv: JUDGE_KEY}\n",
		`{"id": "fr", "input": "Capital of France?", "target": "Paris"}`+"\n"+`{"id": "pe", "input": "Capital of Peru?", "target": "Lima"}`+"\n")
	s, err := LoadSuite(suite)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"MODEL_KEY": "mk", "JUDGE_KEY": "jk"}
	rep, err := Eval(context.Background(), EvalOptions{
		Suite: s, Endpoint: model.URL + "/v1", Model: "m", Checkpoint: "c1", GraderEndpoint: grader.URL + "/v1",
		RunsDir: t.TempDir(), Getenv: func(k string) string { return env[k] },
	})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Result.Complete() || rep.Metrics.Correct != 1 || rep.Metrics.N != 2 || rep.Scorer.Name() != "model_graded_qa" {
		t.Fatalf("report: %+v, metrics %+v", rep.Result, rep.Metrics)
	}
	if !model.SawAuth("Bearer mk") || !grader.SawAuth("Bearer jk") || model.Total() != 2 || grader.Total() != 2 {
		t.Errorf("keys or requests: model %d, grader %d", model.Total(), grader.Total())
	}
	if len(rep.Warnings) != 0 || !strings.HasPrefix(rep.RunID, "eval-") {
		t.Errorf("warnings %v, run id %s", rep.Warnings, rep.RunID)
	}
	info := rep.LogInfo("test", nil)
	if info.Status != "success" || info.Task != "t" || info.Model != "m" {
		t.Errorf("log info %+v", info)
	}
}
