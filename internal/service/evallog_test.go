package service

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
)

// elPolicy maps the evallog fixtures: the Inspect "popularity" run (scorer
// match, metric accuracy) and the lm-eval afrisenti results (acc,none).
const elPolicy = `apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: evallog-test, version: 1.0.0, developer: Test Lab}
domains:
  - {id: d, name: D}
evaluations:
  - id: popularity
    domain: d
    kind: propensity
    minElicitation: prompted
    sources:
      - {format: inspect, task: popularity, scorer: match, metric: accuracy}
  - id: afrisenti
    domain: d
    kind: capability
    minElicitation: finetuned
    required: false
    sources:
      - {format: lm-eval, task: afrisenti_swa_prompt_1, metric: "acc,none"}
  - id: other
    domain: d
    kind: capability
    required: false
    sources:
      - {format: inspect, task: inspect_evals/other, metric: accuracy}
  - id: generic
    domain: d
    kind: capability
    required: false
thresholds:
  - id: pop-high
    domain: d
    name: Popularity seeking
    trigger: score("popularity") >= 0.5
cadence: {computeMultiple: 4, interval: 180d}
governance: {decisionMakers: [rso], scrutinyPeriod: 30d}
`

const elEvidence = `apiVersion: scalegate.dev/v1
kind: Evidence
models:
  - {id: m, developer: Test Lab, policy: evallog-test}
checkpoints:
  - {id: m-c1, model: m, effectiveCompute: 1e24, at: 2026-01-10T00:00:00Z}
`

const (
	elFixtureJSON = "log_formats.json"
	elFixtureEval = "log_formats.eval"
	elFixtureLM   = "afrisenti_swa_prompt_1_5shot_2026-01-15T13-16-16.787849.json"
)

// elEnv is a store with elPolicy published and checkpoint m-c1 recorded.
type elEnv struct {
	t   *testing.T
	ctx context.Context
	s   *Service
	dir string // where test logs are written
}

func newElEnv(t *testing.T) *elEnv {
	t.Helper()
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.Now = func() time.Time { return elTime(t, "2026-06-01T00:00:00Z") }
	e := &elEnv{t: t, ctx: ctx, s: s, dir: t.TempDir()}
	e.publish("evallog-test.yaml", elPolicy, "2026-01-01T00:00:00Z")
	if _, err := s.ImportFiles(ctx, []string{e.write("evidence.yaml", []byte(elEvidence))}, time.Time{}, "test"); err != nil {
		t.Fatal(err)
	}
	return e
}

func elTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

func (e *elEnv) publish(name, doc, at string) {
	e.t.Helper()
	if _, err := e.s.PublishPolicy(e.ctx, name, []byte(doc), elTime(e.t, at), "test"); err != nil {
		e.t.Fatalf("publish %s: %v", name, err)
	}
}

// write writes a file into the env's directory and returns its path.
func (e *elEnv) write(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o666); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// state is the log size and the latest signed checkpoint.
func (e *elEnv) state() string {
	e.t.Helper()
	var n int64
	if err := e.s.Store.View(e.ctx, func(r store.Reader) error {
		var err error
		n, err = r.Size(e.ctx)
		return err
	}); err != nil {
		e.t.Fatal(err)
	}
	c, err := e.s.Checkpoint(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("size %d\n%s", n, c)
}

func (e *elEnv) importLogs(opt LogImportOptions, paths ...string) (*LogImported, error) {
	return e.s.ImportLogs(e.ctx, "m-c1", paths, opt, "test")
}

func (e *elEnv) mustImport(opt LogImportOptions, paths ...string) *LogImported {
	e.t.Helper()
	res, err := e.importLogs(opt, paths...)
	if err != nil {
		e.t.Fatalf("import %v: %v", paths, err)
	}
	return res
}

// stored returns the results recorded for the model, without their Meta.
func (e *elEnv) stored() []evidence.Result {
	e.t.Helper()
	var out []evidence.Result
	err := e.s.Store.View(e.ctx, func(r store.Reader) error {
		ev, err := loadEvidence(e.ctx, r, evidence.Model{ID: "m", Policy: "evallog-test"}, 0)
		for _, x := range ev.Results {
			x.Meta = evidence.Meta{}
			out = append(out, x)
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func elFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "evallog", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// elEdit replaces the one match of re in src (expanding $1 in repl).
func elEdit(t testing.TB, src []byte, re, repl string) []byte {
	t.Helper()
	rx := regexp.MustCompile(re)
	if n := len(rx.FindAllIndex(src, -1)); n != 1 {
		t.Fatalf("%q matches %d times, want once", re, n)
	}
	return rx.ReplaceAll(src, []byte(repl))
}

func elDigest(b []byte) string {
	h := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(h[:])
}

func elF64(v float64) *float64 { return &v }

// elRezip rewrites a zip archive with every entry compressed by method
// (93 is Zstandard, as Inspect writes it).
func elRezip(t testing.TB, src []byte, method uint16) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zw.RegisterCompressor(93, func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	})
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		hdr := f.FileHeader
		hdr.Method = method
		hdr.CompressedSize64, hdr.UncompressedSize64, hdr.CRC32 = 0, 0, 0
		w, err := zw.CreateHeader(&hdr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// elCorruptEntry flips bytes in the middle of an entry's compressed data.
func elCorruptEntry(t testing.TB, archive []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		out := bytes.Clone(archive)
		mid := off + int64(f.CompressedSize64)/2
		for i := mid; i < mid+8; i++ {
			out[i] ^= 0x5a
		}
		return out
	}
	t.Fatalf("no entry %s", name)
	return nil
}

// elBomb returns an archive whose header.json is n spaces followed by the
// fixture's header: tiny compressed, over the decompression limit.
func elBomb(t testing.TB, n int) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(elFixture(t, elFixtureEval)), int64(len(elFixture(t, elFixtureEval))))
	if err != nil {
		t.Fatal(err)
	}
	var header []byte
	for _, f := range zr.File {
		if f.Name == "header.json" {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			header, err = io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestSpeed)
	})
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "header.json", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	spaces := bytes.Repeat([]byte(" "), 1<<20)
	for i := 0; i < n>>20; i++ {
		w.Write(spaces)
	}
	w.Write(header)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// popularityResult is the result the Inspect fixtures give (the same run,
// as .json and as .eval).
func popularityResult(file, digest string, at time.Time) evidence.Result {
	return evidence.Result{
		Checkpoint: "m-c1", Evaluation: "popularity", Score: 0, Stderr: elF64(0),
		Elicitation: "prompted", Samples: 1, At: at,
		Source: &evidence.Source{Format: "inspect", File: file, Digest: digest, Task: "popularity",
			TaskVersion: "0", Scorer: "match", Metric: "accuracy", LogModel: "ollama/llama3.1"},
	}
}

func afrisentiResult(file, digest string, at time.Time) evidence.Result {
	return evidence.Result{
		Checkpoint: "m-c1", Evaluation: "afrisenti", Score: 0.42513368983957217, Stderr: elF64(0.018087805902321497),
		Elicitation: "prompted", Samples: 748, At: at,
		Source: &evidence.Source{Format: "lm-eval", File: file, Digest: digest, Task: "afrisenti_swa_prompt_1",
			TaskVersion: "1.0", Metric: "acc,none", LogModel: "vllm/google/gemma-2b"},
	}
}

func TestImportLogsFixtures(t *testing.T) {
	at := elTime(t, "2026-01-12T00:00:00Z")
	tests := []struct {
		file   string
		digest string // as evallog's fixture tests pin it
		want   func(file, digest string, at time.Time) evidence.Result
	}{
		{elFixtureJSON, "sha256:b36b887e44701701d87a7bd8bac7f9fafb2804731491b3125b3917fb7968a825", popularityResult},
		{elFixtureEval, "sha256:13274e1d67440bdbd8d88e9400d0dd1e19d9b3b39128e3d9fee91618f116baff", popularityResult},
		{elFixtureLM, "sha256:3117d63ada7e3d1732cd52be6da763b75ebe72c1d0a6b9661ac907517d685123", afrisentiResult},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			e := newElEnv(t)
			data := elFixture(t, tc.file)
			if got := elDigest(data); got != tc.digest {
				t.Fatalf("fixture digest %s, want %s", got, tc.digest)
			}
			before := e.state()
			res := e.mustImport(LogImportOptions{At: at}, e.write(tc.file, data))
			want := tc.want(tc.file, tc.digest, at)
			if res.Results != 1 || res.Unchanged != 0 || len(res.Logs) != 1 || res.First != res.Last {
				t.Fatalf("imported %+v", res)
			}
			if got := res.Logs[0].Result; !reflect.DeepEqual(got, want) {
				t.Errorf("result\n%s\nwant\n%s", elDump(got), elDump(want))
			}
			if res.Logs[0].LogIndex != res.First {
				t.Errorf("log index %d, want %d", res.Logs[0].LogIndex, res.First)
			}
			stored := e.stored()
			if len(stored) != 1 || !reflect.DeepEqual(stored[0], want) {
				t.Errorf("stored %v, want [%s]", stored, elDump(want))
			}
			if e.state() == before {
				t.Error("log unchanged after an import")
			}
			// Re-importing the same log records nothing.
			after := e.state()
			again := e.mustImport(LogImportOptions{At: at.Add(time.Hour)}, e.write(tc.file, data))
			if again.Results != 0 || again.Unchanged != 1 || !again.Logs[0].Unchanged || again.Logs[0].LogIndex != -1 {
				t.Errorf("re-import: %+v", again)
			}
			if e.state() != after {
				t.Error("re-import changed the log")
			}
		})
	}
}

func elDump(r evidence.Result) string {
	s := fmt.Sprintf("%+v", r)
	if r.Stderr != nil {
		s += fmt.Sprintf(" stderr=%v", *r.Stderr)
	}
	if r.Source != nil {
		s += fmt.Sprintf(" source=%+v", *r.Source)
	}
	return s
}

func TestImportLogsZstdEval(t *testing.T) {
	e := newElEnv(t)
	orig := elFixture(t, elFixtureEval)
	z := elRezip(t, orig, 93)
	zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Method != 93 {
			t.Fatalf("%s: method %d, want 93 (zstd)", f.Name, f.Method)
		}
	}
	at := elTime(t, "2026-01-12T00:00:00Z")
	res := e.mustImport(LogImportOptions{At: at}, e.write("zstd.eval", z), e.write("deflate.eval", orig))
	if res.Results != 2 {
		t.Fatalf("imported %+v", res)
	}
	got, ref := res.Logs[0].Result, res.Logs[1].Result
	if want := popularityResult("zstd.eval", elDigest(z), at); !reflect.DeepEqual(got, want) {
		t.Errorf("zstd result\n%s\nwant\n%s", elDump(got), elDump(want))
	}
	if got.Source.Digest == ref.Source.Digest {
		t.Error("the zstd archive has the deflate archive's digest")
	}
	gs, rs := *got.Source, *ref.Source
	gs.File, gs.Digest, rs.File, rs.Digest = "", "", "", ""
	got.Source, ref.Source = &gs, &rs
	if !reflect.DeepEqual(got, ref) {
		t.Errorf("zstd and deflate results differ beyond file and digest:\n%s\n%s", elDump(got), elDump(ref))
	}
}

func TestImportLogsBadInput(t *testing.T) {
	ijson := elFixture(t, elFixtureJSON)
	eval := elFixture(t, elFixtureEval)
	lm := elFixture(t, elFixtureLM)
	accuracy := `("name": "accuracy",\s*"value": )0\.0`
	tests := []struct {
		name string
		file string
		data []byte
		opt  LogImportOptions
		want string // substring of the message, after "<path>: "
	}{
		{"truncated zip", "trunc.eval", eval[:len(eval)/2], LogImportOptions{}, "zip: not a valid zip file"},
		{"truncated zip tail", "tail.eval", eval[:len(eval)-10], LogImportOptions{}, "zip: not a valid zip file"},
		{"corrupt zip", "corrupt.eval", elCorruptEntry(t, eval, "header.json"), LogImportOptions{}, "header.json: "},
		{"corrupt zstd zip", "corrupt-zstd.eval", elCorruptEntry(t, elRezip(t, eval, 93), "header.json"), LogImportOptions{}, "header.json: "},
		{"zip bomb", "bomb.eval", elBomb(t, 65<<20), LogImportOptions{}, "over the 67108864 byte limit"},
		{"nested json", "deep.json", []byte(`{"eval": ` + strings.Repeat("[", 1_000_000)), LogImportOptions{}, "json nesting deeper than 10000 levels"},
		{"nested json in samples", "deep-samples.json", elEdit(t, ijson, `\n  "samples": \[`, "\n  \"samples\": ["+strings.Repeat("[", 1_000_000)), LogImportOptions{}, "json nesting deeper than 10000 levels"},
		{"NaN metric", "nan.json", elEdit(t, ijson, accuracy, "${1}NaN"), LogImportOptions{}, "value: NaN is not a finite number"},
		{"Infinity metric", "inf.json", elEdit(t, ijson, accuracy, "${1}Infinity"), LogImportOptions{}, "value: Infinity is not a finite number"},
		{"NaN lm-eval metric", "nan-lm.json", elEdit(t, lm, `("acc,none": )0\.42513368983957217`, "${1}NaN"), LogImportOptions{}, "NaN is not a finite number"},
		{"missing metric", "missing.json", elEdit(t, ijson, `"accuracy": \{\s*"name": "accuracy"`, `"acc2": {"name": "acc2"`), LogImportOptions{}, `metric "accuracy" of scorer "match" not in task "popularity"; available: match/acc2, match/stderr (the source of evaluation "popularity")`},
		{"missing lm-eval metric", "missing-lm.json", elEdit(t, lm, `"acc,none"`, `"acc_norm,none"`), LogImportOptions{}, `metric "acc,none" not in task "afrisenti_swa_prompt_1"`},
		{"unmapped task", "unmapped.json", elEdit(t, ijson, `"task": "popularity"`, `"task": "nope"`), LogImportOptions{}, `task "nope" is not mapped to any evaluation of policy "evallog-test": no inspect source names it (inspect sources: other: task "inspect_evals/other"; popularity: task "popularity")`},
		{"source with registry prefix needs it in the log", "bare.json", elEdit(t, ijson, `"task": "popularity"`, `"task": "other"`), LogImportOptions{}, `task "other" is not mapped`},
		{"cancelled run", "cancelled.json", elEdit(t, ijson, `"status": "success"`, `"status": "cancelled"`), LogImportOptions{}, `incomplete: status "cancelled"; the gate would not count it (import it with --allow-incomplete`},
		{"samples not completed", "partial.json", elEdit(t, ijson, `"completed_samples": 1`, `"completed_samples": 0`), LogImportOptions{}, `incomplete: task "popularity": 0 of 1 samples completed`},
		{"bad metadata elicitation", "meta.json", elEdit(t, ijson, `"version": 2,`, `"version": 2, "metadata": {"elicitation": "extreme"},`), LogImportOptions{}, `metadata elicitation must be one of none, prompted, cot, scaffolded, finetuned, got "extreme"`},
		{"not a log", "evidence.yaml", []byte(elEvidence), LogImportOptions{}, "unrecognized format: neither a zip archive (inspect .eval) nor a json object"},
		{"empty", "empty.json", nil, LogImportOptions{}, "empty file"},
		{"evaluation of another format", "pop.json", ijson, LogImportOptions{Evaluation: "afrisenti"}, `the log is inspect, but evaluation "afrisenti" has only lm-eval sources`},
		{"undeclared evaluation", "pop.json", ijson, LogImportOptions{Evaluation: "nope"}, `evaluation "nope" is not declared by any published version of policy "evallog-test" (declared: afrisenti, generic, other, popularity)`},
		{"evaluation without sources, metric ambiguous", "lm.json", lm, LogImportOptions{Evaluation: "generic"}, `evaluation "generic" declares no sources and task "afrisenti_swa_prompt_1" reports 2 metrics besides stderr (acc,none, f1,none)`},
		{"evaluation whose sources miss the task", "other.json", ijson, LogImportOptions{Evaluation: "other"}, `no task of the log ("popularity") matches the inspect sources of evaluation "other" (tasks "inspect_evals/other")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newElEnv(t)
			before := e.state()
			good := e.write("good.json", ijson)
			bad := e.write(tc.file, tc.data)
			// The good log comes first: nothing of it may be written either.
			paths := []string{good, bad}
			if tc.opt.Evaluation != "" {
				paths = []string{bad}
			}
			_, err := e.importLogs(tc.opt, paths...)
			if err == nil {
				t.Fatal("import succeeded")
			}
			msg := err.Error()
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("error %q is not bad input", msg)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error is not one line: %q", msg)
			}
			if !strings.HasPrefix(msg, bad+": ") {
				t.Errorf("error %q does not start with the file name %q", msg, bad)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("error %q\ndoes not contain %q", msg, tc.want)
			}
			if e.state() != before {
				t.Error("a failed import changed the log")
			}
		})
	}
}

func TestImportLogsBadArguments(t *testing.T) {
	e := newElEnv(t)
	before := e.state()
	good := e.write("good.json", elFixture(t, elFixtureJSON))
	for _, tc := range []struct {
		checkpoint string
		paths      []string
		opt        LogImportOptions
		want       string
	}{
		{"m-c9", []string{good}, LogImportOptions{}, `unknown checkpoint "m-c9"`},
		{"", []string{good}, LogImportOptions{}, "a checkpoint is required"},
		{"m-c1", nil, LogImportOptions{}, "no evaluation log files given"},
		{"m-c1", []string{good}, LogImportOptions{Elicitation: "maximal"}, `elicitation must be one of none, prompted, cot, scaffolded, finetuned, got "maximal"`},
		{"m-c1", []string{filepath.Join(e.dir, "absent.json")}, LogImportOptions{}, filepath.Join(e.dir, "absent.json") + ": "},
	} {
		_, err := e.s.ImportLogs(e.ctx, tc.checkpoint, tc.paths, tc.opt, "test")
		if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ImportLogs(%q, %v, %+v) = %v, want bad input containing %q", tc.checkpoint, tc.paths, tc.opt, err, tc.want)
		}
	}
	if e.state() != before {
		t.Error("a failed import changed the log")
	}
}

func TestImportLogsIncomplete(t *testing.T) {
	e := newElEnv(t)
	cancelled := e.write("cancelled.json", elEdit(t, elFixture(t, elFixtureJSON), `"status": "success"`, `"status": "cancelled"`))
	res := e.mustImport(LogImportOptions{AllowIncomplete: true, At: elTime(t, "2026-01-12T00:00:00Z")}, cancelled)
	r := res.Logs[0].Result
	if !r.Incomplete || r.Score != 0 || r.Samples != 1 {
		t.Fatalf("result %s, want incomplete", elDump(r))
	}
	var data []byte
	if err := e.s.Store.View(e.ctx, func(rd store.Reader) error {
		rec, err := rd.Entry(e.ctx, res.First)
		if err == nil {
			data = rec.Data
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"incomplete":true`)) {
		t.Errorf("stored record %s lacks incomplete:true", data)
	}
	// The gate does not count it: popularity is required, so m-c1 is not
	// assessed.
	at := elTime(t, "2026-02-01T00:00:00Z")
	d, err := e.s.Decide(e.ctx, gate.Action{Kind: gate.Deploy, Checkpoint: "m-c1", Mode: "internal", At: at}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed() || len(d.Reasons) == 0 || d.Reasons[0].Code != gate.NoAssessment {
		t.Errorf("deploy with only an incomplete result: %s %+v", d.Verdict, d.Reasons)
	}
	v, err := e.s.ShowCheckpoint(e.ctx, "m-c1", at)
	if err != nil {
		t.Fatal(err)
	}
	if v.Assessed || len(v.Results) != 1 || v.Results[0].Counts || v.Results[0].WhyNot != "marked incomplete: the evaluation run did not complete" {
		t.Errorf("show: %+v", v)
	}
	// The completed run counts.
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-13T00:00:00Z")}, e.write("done.json", elFixture(t, elFixtureJSON)))
	d, err = e.s.Decide(e.ctx, gate.Action{Kind: gate.Deploy, Checkpoint: "m-c1", Mode: "internal", At: at}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if !d.Allowed() {
		t.Errorf("deploy with a complete result: %s %+v", d.Verdict, d.Reasons)
	}
}

func TestImportLogsMapping(t *testing.T) {
	ijson := elFixture(t, elFixtureJSON)
	at := elTime(t, "2026-01-12T00:00:00Z")
	t.Run("registry prefix in the log", func(t *testing.T) {
		e := newElEnv(t)
		p := e.write("prefixed.json", elEdit(t, ijson, `"task": "popularity"`, `"task": "inspect_evals/popularity"`))
		res := e.mustImport(LogImportOptions{At: at}, p)
		if r := res.Logs[0].Result; r.Evaluation != "popularity" || r.Source.Task != "inspect_evals/popularity" {
			t.Errorf("result %s", elDump(r))
		}
		// The source "inspect_evals/other" matches that exact log task.
		p = e.write("other.json", elEdit(t, ijson, `"task": "popularity"`, `"task": "inspect_evals/other"`))
		res = e.mustImport(LogImportOptions{At: at}, p)
		if r := res.Logs[0].Result; r.Evaluation != "other" || r.Source.Task != "inspect_evals/other" {
			t.Errorf("result %s", elDump(r))
		}
	})
	t.Run("evaluation flag", func(t *testing.T) {
		e := newElEnv(t)
		p := e.write("pop.json", ijson)
		res := e.mustImport(LogImportOptions{At: at, Evaluation: "popularity"}, p)
		if got, want := res.Logs[0].Result, popularityResult("pop.json", elDigest(ijson), at); !reflect.DeepEqual(got, want) {
			t.Errorf("result\n%s\nwant\n%s", elDump(got), elDump(want))
		}
		// An evaluation without sources takes the task's only metric
		// besides stderr.
		res = e.mustImport(LogImportOptions{At: at, Evaluation: "generic"}, p)
		want := popularityResult("pop.json", elDigest(ijson), at)
		want.Evaluation = "generic"
		if got := res.Logs[0].Result; !reflect.DeepEqual(got, want) {
			t.Errorf("result\n%s\nwant\n%s", elDump(got), elDump(want))
		}
	})
	t.Run("elicitation", func(t *testing.T) {
		e := newElEnv(t)
		p := e.write("meta.json", elEdit(t, ijson, `"version": 2,`, `"version": 2, "metadata": {"elicitation": "finetuned", "other": "x"},`))
		if r := e.mustImport(LogImportOptions{At: at}, p).Logs[0].Result; r.Elicitation != "finetuned" {
			t.Errorf("elicitation from metadata: %q", r.Elicitation)
		}
		if r := e.mustImport(LogImportOptions{At: at, Elicitation: "cot"}, p).Logs[0].Result; r.Elicitation != "cot" {
			t.Errorf("elicitation from the flag: %q", r.Elicitation)
		}
	})
	t.Run("multi-task lm-eval", func(t *testing.T) {
		e := newElEnv(t)
		lm := `{"results": {"afrisenti_swa_prompt_1": {"alias": "a", "acc,none": 0.5, "acc_stderr,none": 0.01},
 "extra_task": {"acc,none": 0.25}},
 "versions": {"afrisenti_swa_prompt_1": 2, "extra_task": 1},
 "n-samples": {"afrisenti_swa_prompt_1": {"original": 10, "effective": 8}, "extra_task": {"original": 4, "effective": 4}},
 "config": {"model": "hf"}, "model_name": "tiny"}
`
		res := e.mustImport(LogImportOptions{At: at}, e.write("multi.json", []byte(lm)))
		want := evidence.Result{Checkpoint: "m-c1", Evaluation: "afrisenti", Score: 0.5, Stderr: elF64(0.01), Elicitation: "prompted", Samples: 8, At: at,
			Source: &evidence.Source{Format: "lm-eval", File: "multi.json", Digest: elDigest([]byte(lm)), Task: "afrisenti_swa_prompt_1", TaskVersion: "2", Metric: "acc,none", LogModel: "hf/tiny"}}
		if len(res.Logs) != 1 || !reflect.DeepEqual(res.Logs[0].Result, want) {
			t.Errorf("results %+v\nwant %s", res.Logs, elDump(want))
		}
		if len(res.Skipped) != 1 || res.Skipped[0].Task != "extra_task" {
			t.Errorf("skipped %+v, want extra_task", res.Skipped)
		}
	})
	t.Run("same file twice in one import", func(t *testing.T) {
		e := newElEnv(t)
		p := e.write("pop.json", ijson)
		res := e.mustImport(LogImportOptions{At: at}, p, p)
		if res.Results != 1 || res.Unchanged != 1 {
			t.Errorf("imported %+v", res)
		}
	})
}

// elPolicyV2 changes afrisenti's metric, adds an evaluation mapped to the
// popularity task too, and gives generic a source.
var elPolicyV2 = strings.NewReplacer(
	"version: 1.0.0", "version: 2.0.0",
	`metric: "acc,none"`, `metric: "f1,none"`,
	"  - id: generic\n", "  - id: pop2\n    domain: d\n    kind: propensity\n    required: false\n    sources:\n      - {format: inspect, task: popularity, metric: accuracy}\n  - id: generic\n",
	"kind: capability\n    required: false\nthresholds:", "kind: capability\n    required: false\n    sources:\n      - {format: lm-eval, task: afrisenti_swa_prompt_1, metric: \"f1,none\"}\nthresholds:",
).Replace(elPolicy)

func TestImportLogsPolicyVersions(t *testing.T) {
	e := newElEnv(t)
	// Published 2026-02-01; in force after v1's 30-day scrutiny period.
	e.publish("evallog-test-v2.yaml", elPolicyV2, "2026-02-01T00:00:00Z")
	lm := e.write("lm.json", elFixture(t, elFixtureLM))
	pop := e.write("pop.json", elFixture(t, elFixtureJSON))

	// While v1 is in force, afrisenti is mapped by v1 (acc,none); pop2,
	// declared only by v2, and generic, which only v2 gives a source, by
	// v2.
	feb := elTime(t, "2026-02-10T00:00:00Z")
	res := e.mustImport(LogImportOptions{At: feb}, lm, pop)
	var got []string
	for _, l := range res.Logs {
		got = append(got, fmt.Sprintf("%s %s %v", l.Result.Evaluation, l.Result.Source.Metric, l.Result.Score))
	}
	want := []string{"afrisenti acc,none 0.42513368983957217", "generic f1,none 0.4281781250749156", "pop2 accuracy 0", "popularity accuracy 0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("under v1: %q, want %q", got, want)
	}
	// Once v2 is in force, its mapping applies.
	res = e.mustImport(LogImportOptions{At: elTime(t, "2026-03-10T00:00:00Z")}, lm)
	if r := res.Logs[0].Result; r.Source.Metric != "f1,none" || r.Score != 0.4281781250749156 || r.Stderr != nil {
		t.Errorf("under v2: %s", elDump(r))
	}
	// pop2 is not in the policy in force in February.
	v, err := e.s.ShowCheckpoint(e.ctx, "m-c1", feb)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range v.Results {
		if r.Evaluation == "pop2" && (r.Counts || r.WhyNot != "evaluation not in the policy in force (evallog-test 1.0.0)") {
			t.Errorf("pop2 in February: counts %v, %q", r.Counts, r.WhyNot)
		}
	}
}

func TestShowCheckpoint(t *testing.T) {
	e := newElEnv(t)
	ijson := elFixture(t, elFixtureJSON)
	lm := e.write("lm.json", elFixture(t, elFixtureLM))
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-12T00:00:00Z")}, e.write("a.json", ijson), lm)
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-14T00:00:00Z")}, e.write("b.eval", elFixture(t, elFixtureEval)))
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-15T00:00:00Z"), Elicitation: "finetuned"}, lm)
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-16T00:00:00Z"), AllowIncomplete: true},
		e.write("c.json", elEdit(t, ijson, `"status": "success"`, `"status": "error"`)))
	e.mustImport(LogImportOptions{At: elTime(t, "2026-03-01T00:00:00Z")}, e.write("d.json", elEdit(t, ijson, `"task": "popularity"`, `"task": "inspect_evals/popularity"`)))

	type row struct {
		Evaluation string
		Counts     bool
		WhyNot     string
	}
	rows := func(v *CheckpointView) []row {
		var out []row
		for _, r := range v.Results {
			out = append(out, row{r.Evaluation, r.Counts, r.WhyNot})
		}
		return out
	}
	v, err := e.s.ShowCheckpoint(e.ctx, "m-c1", elTime(t, "2026-02-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	first := v.Results[0].LogIndex
	want := []row{
		{"popularity", false, fmt.Sprintf("superseded by a newer result (log entry %d)", first+2)},
		{"afrisenti", false, "elicitation prompted is below the evaluation's minimum finetuned"},
		{"popularity", true, ""},
		{"afrisenti", true, ""},
		{"popularity", false, "marked incomplete: the evaluation run did not complete"},
		{"popularity", false, "recorded for 2026-03-01T00:00:00Z, after 2026-02-01T00:00:00Z"},
	}
	if got := rows(v); !reflect.DeepEqual(got, want) {
		t.Errorf("results:\n%v\nwant\n%v", got, want)
	}
	if !v.Assessed || v.AssessedAt == nil || !v.AssessedAt.Equal(elTime(t, "2026-01-14T00:00:00Z")) || len(v.Missing) != 0 {
		t.Errorf("assessed %v at %v, missing %q", v.Assessed, v.AssessedAt, v.Missing)
	}
	if v.Policy == nil || v.Policy.Version != "1.0.0" || v.Checkpoint != "m-c1" || v.Model != "m" || v.EffectiveCompute != 1e24 {
		t.Errorf("view header %+v", v)
	}
	for _, r := range v.Results {
		if r.Source == nil || !strings.HasPrefix(r.Source.Digest, "sha256:") || r.Source.Format == "" {
			t.Errorf("result %d has source %+v", r.LogIndex, r.Source)
		}
	}

	// In March the prefixed log is the newest popularity result.
	v, err = e.s.ShowCheckpoint(e.ctx, "m-c1", elTime(t, "2026-03-02T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if r := v.Results[5]; !r.Counts || v.Results[2].WhyNot != fmt.Sprintf("superseded by a newer result (log entry %d)", r.LogIndex) {
		t.Errorf("March: %v", rows(v))
	}

	// Before the checkpoint and before the policy.
	v, err = e.s.ShowCheckpoint(e.ctx, "m-c1", elTime(t, "2026-01-11T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Assessed || v.Results[0].WhyNot != "recorded for 2026-01-12T00:00:00Z, after 2026-01-11T00:00:00Z" ||
		!reflect.DeepEqual(v.Missing, []string{"a result for popularity at prompted elicitation or stronger"}) {
		t.Errorf("January 11: assessed %v, missing %q, %v", v.Assessed, v.Missing, rows(v))
	}
	v, err = e.s.ShowCheckpoint(e.ctx, "m-c1", elTime(t, "2026-01-05T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Results[0].WhyNot != "the checkpoint is recorded for 2026-01-10T00:00:00Z, after 2026-01-05T00:00:00Z" {
		t.Errorf("January 5: %v", rows(v))
	}
	v, err = e.s.ShowCheckpoint(e.ctx, "m-c1", elTime(t, "2025-12-01T00:00:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	if v.Policy != nil || v.Assessed {
		t.Errorf("before the policy: %+v", v)
	}

	if _, err := e.s.ShowCheckpoint(e.ctx, "m-c9", time.Time{}); !errors.Is(err, ErrBadInput) || err.Error() != `unknown checkpoint "m-c9"` {
		t.Errorf("unknown checkpoint: %v", err)
	}
}

// TestShowCheckpointAgreesWithGate checks the view against the gate itself
// at every time something changes: the checkpoint is assessed exactly when
// the gate finds it assessed, and the counted results are the scores the
// gate reads.
func TestShowCheckpointAgreesWithGate(t *testing.T) {
	e := newElEnv(t)
	ijson := elFixture(t, elFixtureJSON)
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-12T00:00:00Z"), AllowIncomplete: true},
		e.write("c.json", elEdit(t, elEdit(t, ijson, `"status": "success"`, `"status": "cancelled"`), `("name": "accuracy",\s*"value": )0\.0`, "${1}0.9")))
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-13T00:00:00Z"), Elicitation: "none"},
		e.write("weak.json", elEdit(t, ijson, `("name": "accuracy",\s*"value": )0\.0`, "${1}0.8")))
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-14T00:00:00Z")}, e.write("a.json", ijson))
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-20T00:00:00Z")},
		e.write("high.json", elEdit(t, ijson, `("name": "accuracy",\s*"value": )0\.0`, "${1}0.7")))
	// At the same time, the result recorded last is the newer one.
	e.mustImport(LogImportOptions{At: elTime(t, "2026-01-20T00:00:00Z")},
		e.write("mid.json", elEdit(t, ijson, `("name": "accuracy",\s*"value": )0\.0`, "${1}0.6")))
	e.publish("evallog-test-v2.yaml", elPolicyV2, "2026-02-01T00:00:00Z")
	e.mustImport(LogImportOptions{At: elTime(t, "2026-02-02T00:00:00Z")}, e.write("low.json", elEdit(t, ijson, `("name": "accuracy",\s*"value": )0\.0`, "${1}0.1")))

	var versions []gate.Version
	var ev gate.Evidence
	if err := e.s.Store.View(e.ctx, func(r store.Reader) error {
		var err error
		if versions, _, err = e.s.versions(e.ctx, r, "evallog-test"); err != nil {
			return err
		}
		m, err := getModel(e.ctx, r, "m")
		if err != nil {
			return err
		}
		ev, err = loadEvidence(e.ctx, r, m, 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2025-12-31T00:00:00Z", "2026-01-11T00:00:00Z", "2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z", "2026-01-14T00:00:00Z",
		"2026-01-21T00:00:00Z", "2026-02-03T00:00:00Z", "2026-03-05T00:00:00Z"} {
		at := elTime(t, s)
		v, err := e.s.ShowCheckpoint(e.ctx, "m-c1", at)
		if err != nil {
			t.Fatal(err)
		}
		d := gate.Decide(gate.Input{Versions: versions, Evidence: ev, Action: gate.Action{Kind: gate.Deploy, Checkpoint: "m-c1", Mode: "internal", At: at}})
		if gateAssessed := d.Assessment != nil; v.Assessed != gateAssessed {
			t.Errorf("%s: view assessed %v, gate %v (%+v)", s, v.Assessed, gateAssessed, d.Reasons)
		}
		if d.Assessment != nil && !d.Assessment.At.Equal(*v.AssessedAt) {
			t.Errorf("%s: view assessed at %v, gate %v", s, v.AssessedAt, d.Assessment.At)
		}
		counted := map[string]float64{}
		for _, r := range v.Results {
			if r.Counts {
				if _, dup := counted[r.Evaluation]; dup {
					t.Errorf("%s: two counted results for %s", s, r.Evaluation)
				}
				counted[r.Evaluation] = r.Score
			}
		}
		for _, ts := range d.Thresholds {
			for id, score := range ts.Inputs {
				if c, ok := counted[id]; !ok || c != score {
					t.Errorf("%s: gate reads %s = %v, view counts %v (%v)", s, id, score, c, ok)
				}
			}
		}
		if s == "2026-01-21T00:00:00Z" && (len(d.Thresholds) == 0 || d.Thresholds[0].State != gate.StateCrossed || d.Thresholds[0].Inputs["popularity"] != 0.6) {
			t.Errorf("%s: the 0.6 result, recorded last, should cross pop-high: %+v", s, d.Thresholds)
		}
	}
}
