package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/attest"
	"scalegate.dev/scalegate/internal/runner"
	"scalegate.dev/scalegate/internal/runner/runnertest"
)

func TestReadFixtureLogs(t *testing.T) {
	for _, f := range []string{"testdata/log_formats.json", "testdata/log_formats.eval"} {
		l, err := ReadLog(f, "")
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		data, _ := os.ReadFile(f)
		sum := sha256.Sum256(data)
		if l.Digest != "sha256:"+hex.EncodeToString(sum[:]) {
			t.Errorf("%s: digest %s", f, l.Digest)
		}
		if l.Task != "popularity" || l.Model != "ollama/llama3.1" || l.Scorer != "match" || l.ScoreName != "match" || l.Status != "success" {
			t.Errorf("%s: %+v", f, l)
		}
		if l.Reported == nil || *l.Reported != 0 || len(l.Samples) != 1 || l.Skipped != 0 {
			t.Fatalf("%s: reported %v, %d samples, %d skipped", f, l.Reported, len(l.Samples), l.Skipped)
		}
		s := l.Samples[0]
		if s.ID.Key() != "1" || s.Epoch != 1 || s.TargetText() != " Yes" || s.Value != "I" || s.Score() != 0 || s.Answer != "No" {
			t.Errorf("%s: sample %+v", f, s)
		}
		if len(s.Messages) != 2 || s.Messages[0].Role != "system" || s.Messages[1].Role != "user" || !strings.Contains(s.Messages[0].Content, "EXERCISE") {
			t.Errorf("%s: messages %q", f, s.Messages)
		}
		if l.Generation.Temperature == nil || *l.Generation.Temperature != 1 {
			t.Errorf("%s: generation %+v", f, l.Generation)
		}
		if sum := summarize(l); sum.ReportedMatches == nil || !*sum.ReportedMatches {
			t.Errorf("%s: summary %+v", f, sum)
		}
	}
}

func TestReadLogErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		return p
	}
	for _, tt := range []struct{ name, content, want string }{
		{"a.json", `[1]`, "not an Inspect log"},
		{"b.json", `{"version": 2}`, `no "eval"`},
		{"c.json", `{"eval": {"task": "t"}, "results": {"scores": [{"name": "match", "scorer": "match"}]}}`, "carries no samples"},
		{"d.json", `{"eval": {"task": "t"}, "samples": []}`, "no scores"},
		{"e.json", `{"eval": {"task": "t"}, "results": {"scores": [{"name": "match"}]}, "samples": [{"id": 1, "input": "x", "target": "y"`, "unexpected EOF"},
		{"f.eval", "PK\x03\x04garbage", "zip"},
	} {
		_, err := ReadLog(write(tt.name, tt.content), "")
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.name) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := ReadLog("testdata/log_formats.json", "nope"); err == nil || !strings.Contains(err.Error(), `no score named "nope" (the log has match)`) {
		t.Errorf("unknown score: %v", err)
	}
}

func TestNaNReader(t *testing.T) {
	in := `{"a": NaN, "b": [Infinity, -Infinity, -1], "s": "NaN \"Infinity\" -Infinity\\", "N": "x"}`
	out, err := io.ReadAll(newNaNReader(strings.NewReader(in)))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a": null, "b": [null, null, -1], "s": "NaN \"Infinity\" -Infinity\\", "N": "x"}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
}

// labLog writes an Inspect log of n multiple-choice samples (the correct
// letter is A for even ids, B for odd) as if the lab's model had answered
// answer(i), by running the runner against a stub of that model.
func labLog(t *testing.T, n int, answer func(i int) string) string {
	t.Helper()
	srv := runnertest.NewServer()
	defer srv.Close()
	srv.Reply = func(r *runnertest.Request) string { return "ANSWER: " + answer(questionIndex(r.Prompt)) }
	samples := make([]*runner.Sample, n)
	for i := range samples {
		target := "A"
		if i%2 == 1 {
			target = "B"
		}
		raw, _ := json.Marshal(fmt.Sprintf("Question #%d?", i))
		samples[i] = &runner.Sample{ID: runner.SampleID{Num: int64(i), IsNum: true}, Epoch: 1, RawInput: raw,
			Input: []runner.Message{{Role: "user", Content: fmt.Sprintf("Question #%d?", i)}}, Choices: []string{"yes", "no", "maybe"}, Target: []string{target}}
	}
	items := runner.Items(&runner.Prompt{System: "Be careful.", Choice: true}, samples)
	c, err := runner.NewClient(runner.ClientConfig{Endpoint: srv.URL + "/v1", Model: "lab-model"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := runner.Run(context.Background(), runner.Config{Client: c, Scorer: runner.ChoiceScorer{}}, items)
	if err != nil || !res.Complete() {
		t.Fatalf("lab run: %v %+v", err, res)
	}
	at := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	temp := 0.0
	path := filepath.Join(t.TempDir(), "lab.json")
	err = runner.WriteInspectLog(path, &runner.LogInfo{RunID: "lab", Task: "mcq", Model: "lab-model", Scorer: runner.ChoiceScorer{},
		Status: "success", Created: at, Started: at, Completed: at, Generation: runner.Generation{Temperature: &temp}, System: "Be careful."}, items, res.Outcomes)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func questionIndex(prompt string) int {
	var i int
	j := strings.Index(prompt, "#")
	fmt.Sscanf(prompt[j+1:], "%d", &i)
	return i
}

func correctLetter(i int) string {
	if i%2 == 0 {
		return "A"
	}
	return "B"
}

func TestDraw(t *testing.T) {
	l, err := ReadLog(labLog(t, 40, func(int) string { return "A" }), "")
	if err != nil {
		t.Fatal(err)
	}
	a := Draw(l.Samples, 10, 7)
	b := Draw(l.Samples, 10, 7)
	shuffled := slices.Clone(l.Samples)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	c := Draw(shuffled, 10, 7)
	keys := func(ss []*LabSample) []string {
		var k []string
		for _, s := range ss {
			k = append(k, s.Key())
		}
		return k
	}
	if len(a) != 10 || !slices.Equal(keys(a), keys(b)) || !slices.Equal(keys(a), keys(c)) {
		t.Errorf("draws differ: %v %v %v", keys(a), keys(b), keys(c))
	}
	if d := Draw(l.Samples, 10, 8); slices.Equal(keys(a), keys(d)) {
		t.Error("seeds 7 and 8 drew the same samples")
	}
	seen := map[string]bool{}
	for _, k := range keys(a) {
		if seen[k] {
			t.Errorf("sample %s drawn twice", k)
		}
		seen[k] = true
	}
	// A larger draw with the same seed extends a smaller one.
	big := keys(Draw(l.Samples, 25, 7))
	for _, k := range keys(a) {
		if !slices.Contains(big, k) {
			t.Errorf("sample %s of the draw of 10 is not in the draw of 25", k)
		}
	}
	if all := Draw(l.Samples, 100, 1); len(all) != 40 {
		t.Errorf("drawing 100 of 40 gave %d", len(all))
	}
	// The draw is a fixed function of the seed, pinned: an independent
	// implementation of the documented algorithm (PCG-DXSM as in
	// math/rand/v2, rejection sampling, partial Fisher–Yates; see
	// docs/runner.md) draws the same ids.
	if got, want := strings.Join(keys(a), " "), "0#1 4#1 6#1 12#1 22#1 23#1 27#1 33#1 34#1 36#1"; got != want {
		t.Errorf("Draw(40 samples, 10, seed 7) = %s, want %s", got, want)
	}
}

func TestRerun(t *testing.T) {
	// The lab's model answered A to everything: it got the even
	// questions right (20 of 40) and reported 0.5.
	logPath := labLog(t, 40, func(int) string { return "A" })
	l, err := ReadLog(logPath, "")
	if err != nil {
		t.Fatal(err)
	}
	if l.Reported == nil || *l.Reported != 0.5 || l.Scorer != "choice" {
		t.Fatalf("lab log: reported %v, scorer %q", l.Reported, l.Scorer)
	}
	runs := t.TempDir()
	rerun := func(answer func(i int) string, n int, seed uint64, model string) (*Report, *runnertest.Server) {
		srv := runnertest.NewServer()
		t.Cleanup(srv.Close)
		srv.Reply = func(r *runnertest.Request) string {
			if len(r.Messages) != 2 || r.Messages[0].Content != "Be careful." || !strings.Contains(r.Prompt, "A) yes\nB) no\nC) maybe") {
				return "unexpected messages"
			}
			if r.Temperature == nil || *r.Temperature != 0 {
				return "unexpected generation config"
			}
			return "ANSWER: " + answer(questionIndex(r.Prompt))
		}
		rep, err := Rerun(context.Background(), Options{Log: l, N: n, Seed: seed, Endpoint: srv.URL, Model: model, RunsDir: runs, MaxConnections: 4})
		if err != nil {
			t.Fatal(err)
		}
		return rep, srv
	}

	// The same behaviour: identical scores, nothing to see.
	rep, srv := rerun(func(int) string { return "A" }, 20, 3, "audited")
	if !rep.Complete || rep.Drawn != 20 || rep.Lab != rep.Rerun || rep.LabOnly+rep.RerunOnly != 0 || rep.Verdict != Consistent || rep.PValue != 1 {
		t.Errorf("consistent re-run: %+v", rep)
	}
	if srv.Total() != 20 {
		t.Errorf("server saw %d requests, want 20", srv.Total())
	}
	// Running the same audit again resumes: no request is sent.
	rep2, srv2 := rerun(func(int) string { return "A" }, 20, 3, "audited")
	if srv2.Total() != 0 || rep2.Verdict != Consistent || rep2.RunID != rep.RunID {
		t.Errorf("resumed audit sent %d requests: %+v", srv2.Total(), rep2)
	}
	// Drawing more with the same seed extends the draw: only the new
	// samples are sent.
	rep3, srv3 := rerun(func(int) string { return "A" }, 30, 3, "audited")
	if srv3.Total() != 10 || rep3.Drawn != 30 || rep3.RunID != rep.RunID || rep3.Verdict != Consistent {
		t.Errorf("extended audit sent %d requests: %+v", srv3.Total(), rep3)
	}

	// The endpoint answers everything right: the lab under-reported.
	rep, _ = rerun(correctLetter, 40, 3, "audited-2")
	if rep.Lab.Correct != 20 || rep.Rerun.Correct != 40 || rep.LabOnly != 0 || rep.RerunOnly != 20 {
		t.Fatalf("discrepant re-run tallies: %+v", rep)
	}
	if want := 2 * 1.0 / (1 << 20); rep.Verdict != Discrepant || !near(rep.PValue, want, 1e-15) || rep.Decisive != TestMcNemar {
		t.Errorf("discrepant re-run: verdict %s, p %g (want %g)", rep.Verdict, rep.PValue, want)
	}
	if len(rep.Tests) != 4 || rep.Tests[3].Name != TestBinomial || !near(rep.Tests[3].PValue, 2.0/(1<<40), 1e-20) {
		t.Errorf("tests: %+v", rep.Tests)
	}
	if rep.Log.ReportedMatches == nil || !*rep.Log.ReportedMatches {
		t.Errorf("the log's reported accuracy does not match its samples: %+v", rep.Log)
	}

	// A signed attestation of the outcome.
	skey, vkey, err := attest.GenerateKey("aisi-auditor")
	if err != nil {
		t.Fatal(err)
	}
	env, err := Attest(skey, rep, "scalegate test")
	if err != nil {
		t.Fatal(err)
	}
	v, err := attest.Verify(env, vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.PredicateType != PredicateType || v.KeyName != "aisi-auditor" {
		t.Errorf("verified %+v", v)
	}
	if err := attest.CheckSubject(v, l.Digest); err != nil {
		t.Errorf("subject: %v", err)
	}
	var p Predicate
	if err := json.Unmarshal(v.Predicate, &p); err != nil {
		t.Fatal(err)
	}
	if p.Verdict != Discrepant || p.Rerun.Seed != "3" || p.Lab.Correct != 20 || p.Result.Correct != 40 || len(p.Samples) != 40 || p.Log.Digest != l.Digest {
		t.Errorf("predicate %+v", p)
	}
	if !bytes.Contains(env, []byte(`"payloadType":"application/vnd.in-toto+json"`)) {
		t.Errorf("envelope %s", env)
	}
}

func TestRerunRefusals(t *testing.T) {
	l, err := ReadLog("testdata/log_formats.json", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		opt  Options
		want string
	}{
		{Options{Log: l, N: 0}, "sample size"},
		{Options{Log: l, N: 1, Alpha: 2}, "alpha"},
		{Options{Log: l, N: 1, Test: "t-test"}, `unknown test "t-test"`},
		{Options{Log: l, N: 1, Endpoint: "http://127.0.0.1:1", Model: "m", Scorer: "bleu"}, "--scorer must be"},
	} {
		tt.opt.RunsDir = t.TempDir()
		if _, err := Rerun(context.Background(), tt.opt); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Rerun(%+v): %v, want %q", tt.opt, err, tt.want)
		}
	}
	l.Scorer = "f1"
	if _, err := Rerun(context.Background(), Options{Log: l, N: 1, Endpoint: "http://127.0.0.1:1", Model: "m", RunsDir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), `scorer "f1" is not supported`) {
		t.Errorf("f1 scorer: %v", err)
	}
	rep := &Report{}
	if _, err := Attest("", rep, "x"); err == nil || !strings.Contains(err.Error(), "incomplete") {
		t.Errorf("attesting an incomplete re-run: %v", err)
	}
}
