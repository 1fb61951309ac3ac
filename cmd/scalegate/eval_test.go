package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"scalegate.dev/scalegate/internal/attest"
	"scalegate.dev/scalegate/internal/audit"
	"scalegate.dev/scalegate/internal/runner/runnertest"
)

const evalTestPolicy = `apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: eval-cli, version: 1.0.0, developer: Test Lab}
domains:
  - {id: d, name: D}
evaluations:
  - {id: mcq, domain: d, kind: capability, minElicitation: prompted}
thresholds:
  - {id: t, domain: d, name: T, trigger: 'score("mcq") >= 0.7'}
cadence: {computeMultiple: 4, interval: 180d}
governance: {decisionMakers: [rso], scrutinyPeriod: 30d}
`

const evalTestEvidence = `apiVersion: scalegate.dev/v1
kind: Evidence
models:
  - {id: atlas, developer: Test Lab, policy: eval-cli}
checkpoints:
  - {id: atlas-c1, model: atlas, effectiveCompute: 1e24, at: 2026-01-10T00:00:00Z}
`

// evalEnv is a data directory with the policy published and atlas-c1
// recorded, and a suite of n multiple-choice questions ("Question #i?",
// correct letter A for even i, B for odd).
type evalEnv struct {
	t     *testing.T
	dir   string
	data  string
	suite string
}

func newEvalEnv(t *testing.T, n int) *evalEnv {
	t.Helper()
	e := &evalEnv{t: t, dir: t.TempDir()}
	e.data = filepath.Join(e.dir, "data")
	e.write("policy.yaml", evalTestPolicy)
	e.write("evidence.yaml", evalTestEvidence)
	var ds strings.Builder
	for i := range n {
		target := "A"
		if i%2 == 1 {
			target = "B"
		}
		fmt.Fprintf(&ds, `{"id": %d, "input": "Question #%d?", "choices": ["yes", "no", "maybe"], "target": %q}`+"\n", i, i, target)
	}
	e.write("mcq.jsonl", ds.String())
	e.suite = e.write("mcq.yaml", "apiVersion: scalegate.dev/v1\nkind: Suite\nname: mcq\nversion: \"2\"\ndataset: mcq.jsonl\ngeneration: {temperature: 0}\nscorer: {kind: choice}\n")
	e.run(0, "policy", "publish", filepath.Join(e.dir, "policy.yaml"), "--at", "2026-01-01T00:00:00Z")
	e.run(0, "import", filepath.Join(e.dir, "evidence.yaml"), "--at", "2026-01-10T00:00:00Z")
	return e
}

func (e *evalEnv) write(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs the CLI and checks its exit code.
func (e *evalEnv) run(code int, args ...string) (string, string) {
	e.t.Helper()
	return e.runCtx(context.Background(), code, args...)
}

func (e *evalEnv) runCtx(ctx context.Context, code int, args ...string) (string, string) {
	e.t.Helper()
	var out, errb bytes.Buffer
	got := Run(ctx, append([]string{"--data", e.data}, args...), &out, &errb)
	if got != code {
		e.t.Fatalf("scalegate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), got, code, out.String(), errb.String())
	}
	return out.String(), errb.String()
}

func questionOf(prompt string) int {
	var i int
	fmt.Sscanf(prompt[strings.Index(prompt, "#")+1:], "%d", &i)
	return i
}

// answerA answers A to everything (right on even questions).
func answerA(*runnertest.Request) string { return "ANSWER: A" }

// answerRight answers every question right.
func answerRight(r *runnertest.Request) string {
	if questionOf(r.Prompt)%2 == 0 {
		return "ANSWER: A"
	}
	return "ANSWER: B"
}

func TestEvalRunRecordsAndResumes(t *testing.T) {
	e := newEvalEnv(t, 30)
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Reply = answerA
	// Fail some requests once: they are retried.
	srv.Fault = func(r *runnertest.Request) runnertest.Fault {
		if r.Attempt == 1 && questionOf(r.Prompt)%4 == 1 {
			return runnertest.TooMany
		}
		return runnertest.Answer
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var n atomic.Int64
	srv.OnRequest = func(*runnertest.Request) {
		if n.Add(1) == 12 {
			cancel()
		}
	}
	args := []string{"eval", "run", "--suite", e.suite, "--endpoint", srv.URL + "/v1", "--model", "m", "--checkpoint", "atlas-c1", "--max-connections", "4"}
	logOut := filepath.Join(e.dir, "run.json")
	out, errOut := e.runCtx(ctx, 3, append(args, "--log-out", logOut)...)
	if !strings.Contains(errOut, "error: interrupted with ") || !strings.Contains(errOut, "run the same command again to continue") {
		t.Errorf("interrupted run stderr:\n%s", errOut)
	}
	if strings.Contains(out, "recorded result") {
		t.Errorf("an interrupted run recorded a result:\n%s", out)
	}
	srv.OnRequest = nil
	out, _ = e.run(0, append(args, "--log-out", logOut)...)
	if !strings.Contains(out, "accuracy 0.5000 (stderr 0.0928): 15 of 30 correct") || !strings.Contains(out, "recorded result for atlas-c1 / mcq at log index 3") {
		t.Errorf("resumed run:\n%s", out)
	}
	for i := range 30 {
		want := 1
		if i%4 == 1 {
			want = 2
		}
		if got := srv.Count(fmt.Sprintf("Answer the following multiple choice question. The entire content of your response should be of the following format: 'ANSWER: $LETTER' (without quotes) where LETTER is one of A,B,C.\n\nQuestion #%d?\n\nA) yes\nB) no\nC) maybe", i)); got != want {
			t.Errorf("question %d requested %d times, want %d", i, got, want)
		}
	}
	// Again: nothing is sent and nothing new recorded.
	total := srv.Total()
	out, _ = e.run(0, append(args, "-o", "json")...)
	var res struct {
		Resumed, Completed int
		Requests           int64
		Recorded           struct {
			Unchanged bool
			Result    struct {
				Score  float64
				Source struct{ Format, Digest, Task, File string }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if srv.Total() != total || res.Resumed != 30 || res.Requests != 0 || !res.Recorded.Unchanged || res.Recorded.Result.Score != 0.5 ||
		res.Recorded.Result.Source.Format != "scalegate" || res.Recorded.Result.Source.Task != "mcq" || !strings.HasPrefix(res.Recorded.Result.Source.File, "eval-") {
		t.Errorf("third run: %+v (server saw %d more requests)", res, srv.Total()-total)
	}
	// The Inspect log imports as a result too, and the log verifies.
	out, _ = e.run(0, "import", "--checkpoint", "atlas-c1", "--evaluation", "mcq", logOut)
	if !strings.Contains(out, "imported 1 result") {
		t.Errorf("import of the run's Inspect log:\n%s", out)
	}
	e.run(0, "log", "verify")
}

func TestEvalRunErrors(t *testing.T) {
	e := newEvalEnv(t, 4)
	srv := runnertest.NewServer()
	defer srv.Close()
	base := []string{"eval", "run", "--suite", e.suite, "--endpoint", srv.URL + "/v1", "--model", "m"}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "--checkpoint is required (or pass --no-record)"},
		{[]string{"--checkpoint", "nope"}, `unknown checkpoint "nope"`},
		{[]string{"--checkpoint", "atlas-c1", "--evaluation", "wmdp"}, `evaluation "wmdp" is not declared`},
		{[]string{"--checkpoint", "atlas-c1", "--max-connections", "0"}, "--max-connections"},
		{[]string{"--checkpoint", "atlas-c1", "--run-id", "../x"}, "--run-id"},
		{[]string{"--checkpoint", "atlas-c1", "--elicitation", "heroic"}, "--elicitation"},
	} {
		_, errOut := e.run(2, append(base, tt.args...)...)
		if !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: stderr %q, want %q", tt.args, errOut, tt.want)
		}
	}
	_, errOut := e.run(2, "eval", "run", "--suite", filepath.Join(e.dir, "missing.yaml"), "--endpoint", srv.URL, "--model", "m", "--no-record")
	if !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing suite: %q", errOut)
	}
	_, errOut = e.run(2, "eval", "run", "--suite", e.suite, "--endpoint", "ftp://x", "--model", "m", "--no-record")
	if !strings.Contains(errOut, "--endpoint") {
		t.Errorf("bad endpoint: %q", errOut)
	}
	// An endpoint refusing the key stops the run at once: exit 2.
	srv.Fault = func(*runnertest.Request) runnertest.Fault { return runnertest.Unauthorized }
	_, errOut = e.run(2, append(base, "--checkpoint", "atlas-c1", "--max-connections", "1")...)
	if !strings.Contains(errOut, "the endpoint refused the run") || !strings.Contains(errOut, "http 401") || srv.Total() > 2 {
		t.Errorf("401: %q after %d requests", errOut, srv.Total())
	}
	// Persistent 500s: samples fail, exit 3, nothing recorded.
	srv.Fault = func(*runnertest.Request) runnertest.Fault { return runnertest.ServerError }
	out, errOut := e.run(3, append(base, "--checkpoint", "atlas-c1", "--retries", "0")...)
	if !strings.Contains(errOut, "4 of 4 samples failed") || strings.Contains(out, "recorded") {
		t.Errorf("500s:\n%s\n%s", out, errOut)
	}
	out, _ = e.run(0, "eval", "check", e.suite)
	if !strings.Contains(out, "suite mcq: 4 samples, scorer choice, evaluation mcq\ndigest sha256:") {
		t.Errorf("eval check: %q", out)
	}
}

func TestAuditRerunCLI(t *testing.T) {
	e := newEvalEnv(t, 40)
	lab := runnertest.NewServer()
	defer lab.Close()
	lab.Reply = answerA
	logOut := filepath.Join(e.dir, "lab.json")
	e.run(0, "eval", "run", "--suite", e.suite, "--endpoint", lab.URL+"/v1", "--model", "lab", "--no-record", "--log-out", logOut)

	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Reply = answerA
	args := []string{"audit", "rerun", "--log", logOut, "--endpoint", srv.URL + "/v1", "--model", "audited", "--sample", "20", "--seed", "11"}
	out, _ := e.run(0, args...)
	for _, want := range []string{"reported accuracy 0.5000; its samples average 0.5000", "20 samples drawn with seed 11", "mcnemar-exact         p = 1 (decisive)", "verdict CONSISTENT"} {
		if !strings.Contains(out, want) {
			t.Errorf("consistent audit output lacks %q:\n%s", want, out)
		}
	}

	skey, vkey, err := attest.GenerateKey("auditor")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := e.write("auditor.key", skey+"\n")
	attOut := filepath.Join(e.dir, "att.json")
	srv2 := runnertest.NewServer()
	defer srv2.Close()
	srv2.Reply = answerRight
	// Another model (a re-run with the same log, model name, seed and
	// scorer would resume the first one).
	args = []string{"audit", "rerun", "--log", logOut, "--endpoint", srv2.URL + "/v1", "--model", "audited-2", "--sample", "40", "--seed", "11", "--attest", "--key", keyFile, "--attest-out", attOut}
	out, _ = e.run(1, args...)
	if !strings.Contains(out, "verdict DISCREPANT: the re-run scores higher than the lab's run, beyond chance") || !strings.Contains(out, "attestation: "+attOut) {
		t.Errorf("discrepant audit:\n%s", out)
	}
	env, err := os.ReadFile(attOut)
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.Verify(bytes.TrimSpace(env), vkey)
	if err != nil {
		t.Fatal(err)
	}
	var p audit.Predicate
	json.Unmarshal(v.Predicate, &p)
	if v.PredicateType != audit.PredicateType || p.Verdict != "discrepant" || p.Lab.Correct != 20 || p.Result.Correct != 40 || p.Rerun.Seed != "11" {
		t.Errorf("attestation %s: %+v", v.PredicateType, p)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--sample", "0"}, "--sample"},
		{[]string{"--sample", "5", "--seed", "-1"}, "--seed"},
		{[]string{"--sample", "5", "--attest"}, "--attest and --key go together"},
		{[]string{"--sample", "5", "--test", "t-test"}, `unknown test "t-test"`},
		{[]string{"--sample", "5", "--scorer", "bleu"}, "--scorer must be"},
	} {
		_, errOut := e.run(2, append([]string{"audit", "rerun", "--log", logOut, "--endpoint", srv.URL, "--model", "m"}, tt.args...)...)
		if !strings.Contains(errOut, tt.want) {
			t.Errorf("%v: %q, want %q", tt.args, errOut, tt.want)
		}
	}
	_, errOut := e.run(2, "audit", "rerun", "--log", e.suite, "--endpoint", srv.URL, "--model", "m", "--sample", "3")
	if !strings.Contains(errOut, "mcq.yaml") {
		t.Errorf("a suite as a log: %q", errOut)
	}
}
