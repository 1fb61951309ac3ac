package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evallog"
	"scalegate.dev/scalegate/internal/runner/runnertest"
)

// mcqItems returns n multiple-choice items whose correct letter is A for
// even i and B for odd i; their prompts end with "Q<i>".
func mcqItems(n int) []Item {
	samples := make([]*Sample, n)
	for i := range samples {
		target := "A"
		if i%2 == 1 {
			target = "B"
		}
		samples[i] = &Sample{ID: SampleID{Num: int64(i + 1), IsNum: true}, Epoch: 1,
			Input: []Message{{Role: "user", Content: fmt.Sprintf("Q%d", i)}}, Choices: []string{"x", "y", "z"}, Target: []string{target}}
	}
	return Items(&Prompt{Template: "{choices}\n\n{question}", Choice: true}, samples)
}

// promptOf is the last message sent for an item.
func promptOf(it Item) string { return it.Messages[len(it.Messages)-1].Content }

func openTestState(t *testing.T, dir string) *State {
	t.Helper()
	st, err := OpenState(dir, Header{RunID: "test-run", Kind: "eval", Digest: "sha256:x", Model: "m"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestRunScoresAndRecords(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		// Answers A to everything: the even items are right.
		c, _ := testClient(t, srv, std, ClientConfig{MaxConnections: 4})
		items := mcqItems(11)
		dir := t.TempDir()
		st := openTestState(t, dir)
		res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 4}, items)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		if !res.Complete() || res.Completed != 11 || res.Resumed != 0 || res.Requests != 11 {
			t.Fatalf("result = %+v", res)
		}
		m := Aggregate(res.Outcomes)
		if m.N != 11 || m.Correct != 6 || m.Accuracy != 6.0/11 {
			t.Errorf("metrics = %+v", m)
		}
		if srv.MaxInFlight() > 4 {
			t.Errorf("%d requests in flight at once with concurrency 4", srv.MaxInFlight())
		}
		// A second run sends nothing.
		st = openTestState(t, dir)
		if len(st.Loaded) != 11 {
			t.Fatalf("reloaded %d outcomes, want 11", len(st.Loaded))
		}
		res2, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 4}, items)
		st.Close()
		if err != nil || res2.Resumed != 11 || res2.Requests != 0 || srv.Total() != 11 {
			t.Fatalf("re-run: %+v, %v; server saw %d", res2, err, srv.Total())
		}
		if got := Aggregate(res2.Outcomes); got != m {
			t.Errorf("re-run metrics %+v, want %+v", got, m)
		}
	})
}

// TestResumeAfterInterrupt cancels a run part way, re-runs it, and checks
// that every sample was requested exactly once across both invocations,
// under faults that make requests retry.
func TestResumeAfterInterrupt(t *testing.T) {
	transports(t, func(t *testing.T, std bool) {
		srv := runnertest.NewServer()
		defer srv.Close()
		// Every fifth prompt fails once with 429, every seventh once with
		// 500: retries are not duplicates (the server counts them as
		// attempts of the same prompt; see below).
		srv.Fault = func(r *runnertest.Request) runnertest.Fault {
			var i int
			fmt.Sscanf(r.Prompt[strings.LastIndex(r.Prompt, "Q")+1:], "%d", &i)
			switch {
			case r.Attempt == 1 && i%5 == 0:
				return runnertest.TooMany
			case r.Attempt == 1 && i%7 == 0:
				return runnertest.ServerError
			}
			return runnertest.Answer
		}
		ctx, cancel := context.WithCancel(context.Background())
		var answered atomic.Int64
		srv.OnRequest = func(r *runnertest.Request) {
			if answered.Add(1) == 40 {
				cancel()
			}
		}
		c, _ := testClient(t, srv, std, ClientConfig{MaxConnections: 8})
		items := mcqItems(100)
		dir := t.TempDir()
		st := openTestState(t, dir)
		res, err := Run(ctx, Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 8}, items)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		if !res.Interrupted || res.Complete() || res.Done() == 0 {
			t.Fatalf("first run: interrupted %v, done %d", res.Interrupted, res.Done())
		}
		if len(res.Failures) != 0 {
			t.Fatalf("first run failures: %v", res.Failures)
		}
		first := res.Done()

		st = openTestState(t, dir)
		if len(st.Loaded) != first {
			t.Fatalf("state holds %d outcomes, the first run completed %d", len(st.Loaded), first)
		}
		srv.OnRequest = nil
		res2, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st, Concurrency: 8}, items)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !res2.Complete() || res2.Resumed != first || res2.Completed != 100-first {
			t.Fatalf("second run: %+v (first completed %d)", res2, first)
		}
		for i, it := range items {
			want := 1
			if i%5 == 0 || i%7 == 0 {
				want = 2 // the failed attempt and its retry
			}
			if got := srv.Count(promptOf(it)); got != want {
				t.Errorf("item %d requested %d times, want %d", i, got, want)
			}
		}
		if m := Aggregate(res2.Outcomes); m.Correct != 50 || m.N != 100 {
			t.Errorf("metrics = %+v", m)
		}
	})
}

func TestTornStateTail(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	c, _ := testClient(t, srv, false, ClientConfig{})
	items := mcqItems(6)
	dir := t.TempDir()
	st := openTestState(t, dir)
	if _, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st}, items[:4]); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Simulate a crash in the middle of writing a fifth line.
	path := filepath.Join(dir, "test-run.jsonl")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"type":"sample","id":5,"epoch":1,"output":"ANSW`)
	f.Close()
	st = openTestState(t, dir)
	if len(st.Loaded) != 4 || st.Discarded == 0 {
		t.Fatalf("reopened: %d outcomes, %d bytes discarded", len(st.Loaded), st.Discarded)
	}
	res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, State: st}, items)
	st.Close()
	if err != nil || !res.Complete() || res.Resumed != 4 || res.Completed != 2 {
		t.Fatalf("resumed run: %+v, %v", res, err)
	}
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 7 {
		t.Fatalf("state has %d lines, want a header and 6 outcomes:\n%s", len(lines), data)
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Errorf("invalid line %q", l)
		}
	}
	if srv.Total() != 6 {
		t.Errorf("server saw %d requests, want 6", srv.Total())
	}
}

func TestStateRefusesOtherRun(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenState(dir, Header{RunID: "r1", Digest: "sha256:a"}, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	check := func(old Header) error {
		if old.Digest != "sha256:b" {
			return errors.New("different suite")
		}
		return nil
	}
	if _, err := OpenState(dir, Header{RunID: "r1", Digest: "sha256:b"}, false, check); err == nil || !strings.Contains(err.Error(), "different suite") {
		t.Fatalf("OpenState of another run's file: %v", err)
	}
	st, err = OpenState(dir, Header{RunID: "r1", Digest: "sha256:b"}, true, check)
	if err != nil {
		t.Fatalf("restart: %v", err)
	}
	if st.Header.Digest != "sha256:b" || len(st.Loaded) != 0 {
		t.Errorf("restarted state: %+v", st.Header)
	}
	// A second opener is refused while the first holds the file.
	if _, err := OpenState(dir, Header{RunID: "r1", Digest: "sha256:b"}, false, check); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("concurrent open: %v", err)
	}
	st.Close()
	if err := CheckRunID("../x"); err == nil {
		t.Error("CheckRunID accepted a path")
	}
	if RunID("eval", "a", "b") == RunID("eval", "ab") {
		t.Error("RunID is ambiguous")
	}
}

func TestFatalStopsRun(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Fault = func(*runnertest.Request) runnertest.Fault { return runnertest.Unauthorized }
	c, _ := testClient(t, srv, false, ClientConfig{})
	res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, Concurrency: 1}, mcqItems(50))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped == nil || !Fatal(res.Stopped) || srv.Total() > 2 {
		t.Fatalf("stopped = %v after %d requests", res.Stopped, srv.Total())
	}
}

func TestMaxFailures(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Fault = func(*runnertest.Request) runnertest.Fault { return runnertest.ServerError }
	c, _ := testClient(t, srv, false, ClientConfig{Retries: -1})
	res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}, Concurrency: 1, MaxFailures: 3}, mcqItems(50))
	if err != nil {
		t.Fatal(err)
	}
	if res.Stopped == nil || len(res.Failures) != 3 || srv.Total() != 3 {
		t.Fatalf("stopped = %v, %d failures, %d requests", res.Stopped, len(res.Failures), srv.Total())
	}
}

// TestModelGradedResume: a sample whose grading fails keeps its recorded
// output, and the re-run grades it without asking the model again.
func TestModelGradedResume(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	gradingDown := true
	srv.Fault = func(r *runnertest.Request) runnertest.Fault {
		if strings.Contains(r.Prompt, "[Submission]") && gradingDown {
			return runnertest.ServerError
		}
		return runnertest.Answer
	}
	srv.Reply = func(r *runnertest.Request) string {
		if strings.Contains(r.Prompt, "[Submission]: Paris") {
			return "The submission names the capital.\nGRADE: C"
		}
		if strings.Contains(r.Prompt, "[Submission]") {
			return "GRADE: I"
		}
		if strings.Contains(r.Prompt, "France") {
			return "Paris"
		}
		return "Lyon"
	}
	c, _ := testClient(t, srv, false, ClientConfig{Retries: 1})
	sc, err := NewScorer(&ScorerSpec{Kind: ScorerModelGraded}, c)
	if err != nil {
		t.Fatal(err)
	}
	samples := []*Sample{
		{ID: SampleID{Str: "fr"}, Epoch: 1, Input: []Message{{Role: "user", Content: "Capital of France?"}}, Target: []string{"Paris"}},
		{ID: SampleID{Str: "it"}, Epoch: 1, Input: []Message{{Role: "user", Content: "Capital of Italy?"}}, Target: []string{"Rome"}},
	}
	items := Items(&Prompt{}, samples)
	dir := t.TempDir()
	st := openTestState(t, dir)
	res, err := Run(context.Background(), Config{Client: c, Scorer: sc, State: st}, items)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Done() != 0 || len(res.Failures) != 2 {
		t.Fatalf("with the grader down: done %d, failures %v", res.Done(), res.Failures)
	}
	gradingDown = false
	st = openTestState(t, dir)
	res, err = Run(context.Background(), Config{Client: c, Scorer: sc, State: st}, items)
	st.Close()
	if err != nil || !res.Complete() {
		t.Fatalf("second run: %+v, %v", res, err)
	}
	for _, q := range []string{"Capital of France?", "Capital of Italy?"} {
		if n := srv.Count(q); n != 1 {
			t.Errorf("%q asked %d times, want once", q, n)
		}
	}
	if v := res.Outcomes[0].Score.Value; v != "C" {
		t.Errorf("France graded %v", v)
	}
	if v := res.Outcomes[1].Score.Value; v != "I" {
		t.Errorf("Italy graded %v", v)
	}
}

func TestAppendOutcomeMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	for _, o := range []*Outcome{
		{Type: "sample", ID: SampleID{Num: 7, IsNum: true}, Epoch: 1, Output: "ANSWER: A", FinishReason: "stop", Model: "m", Usage: Usage{1, 2, 3}, Attempts: 1, Seconds: 0.000123, At: at, Score: &Score{Value: "C", Answer: "A", Explanation: "ANSWER: A"}},
		{Type: "sample", ID: SampleID{Str: "q\"1\u2028"}, Epoch: 3, Output: "x\x00\xff<>&", At: at, Seconds: 1e-9},
		{Type: "sample", ID: SampleID{Str: ""}, Epoch: 1, Seconds: 12345.5, At: at, Score: &Score{Value: 0.5}},
		{Type: "sample", ID: SampleID{Num: -3, IsNum: true}, Seconds: 3e21, At: at.In(time.FixedZone("x", 3600)), Score: &Score{Value: 1.0}},
	} {
		got, err := appendOutcome(nil, o)
		if err != nil {
			t.Fatal(err)
		}
		var want strings.Builder
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		enc.Encode(o)
		if string(got) != strings.TrimSuffix(want.String(), "\n") {
			t.Errorf("appendOutcome:\n got %s\nwant %s", got, want.String())
		}
	}
}

func TestInspectLogReadsBack(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	c, _ := testClient(t, srv, false, ClientConfig{})
	items := mcqItems(9)
	res, err := Run(context.Background(), Config{Client: c, Scorer: ChoiceScorer{}}, items)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	path := filepath.Join(t.TempDir(), "run.json")
	info := &LogInfo{RunID: "r", Task: "tiny", Model: "m", Scorer: ChoiceScorer{}, Status: "success", Created: at, Started: at, Completed: at,
		Metadata: map[string]any{"elicitation": "prompted"}}
	if err := WriteInspectLog(path, info, items, res.Outcomes); err != nil {
		t.Fatal(err)
	}
	l, err := evallog.Open(path, evallog.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Complete(); err != nil {
		t.Errorf("Complete: %v", err)
	}
	m, task, err := l.Find("", "", "accuracy")
	if err != nil {
		t.Fatal(err)
	}
	want := Aggregate(res.Outcomes)
	if m.Value != want.Accuracy || m.Stderr == nil || *m.Stderr != want.Stderr || task.Samples != 9 || task.Name != "tiny" {
		t.Errorf("log metric %+v (stderr %v), task %+v; want %+v", m, m.Stderr, task, want)
	}
	if l.Metadata["elicitation"] != "prompted" || l.Model != "m" {
		t.Errorf("log metadata %v, model %q", l.Metadata, l.Model)
	}
	// A partial run is a cancelled log that import refuses as incomplete.
	res.Outcomes[3] = nil
	info.Status = "cancelled"
	if err := WriteInspectLog(path, info, items, res.Outcomes); err != nil {
		t.Fatal(err)
	}
	if l, err = evallog.Open(path, evallog.Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := l.Complete(); !errors.Is(err, evallog.ErrIncomplete) {
		t.Errorf("Complete of a cancelled run: %v", err)
	}
}

func TestAggregate(t *testing.T) {
	outs := []*Outcome{{Score: &Score{Value: "C"}}, {Score: &Score{Value: "I"}}, nil, {Score: &Score{Value: "C"}}, {Score: &Score{Value: "P"}}}
	m := Aggregate(outs)
	// values 1, 0, 1, 0.5: mean 0.625; sample sd sqrt(((.375)^2*2+(.625)^2+(.125)^2)/3)
	if m.N != 4 || m.Correct != 2 || m.Accuracy != 0.625 {
		t.Errorf("Aggregate = %+v", m)
	}
	if want := 0.23935677693908453; abs(m.Stderr-want) > 1e-12 {
		t.Errorf("stderr = %.17g, want %.17g", m.Stderr, want)
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}
