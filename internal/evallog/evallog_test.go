package evallog

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

const (
	fixtureInspectJSON = "testdata/log_formats.json"
	fixtureInspectEval = "testdata/log_formats.eval"
	fixtureLMEval      = "testdata/afrisenti_swa_prompt_1_5shot_2026-01-15T13-16-16.787849.json"
)

func readFixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseBytes(name string, b []byte, lim Limits) (*Log, error) {
	return Parse(name, bytes.NewReader(b), int64(len(b)), lim)
}

func mustParse(t testing.TB, name string, b []byte) *Log {
	t.Helper()
	l, err := parseBytes(name, b, Limits{})
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return l
}

func f64(v float64) *float64 { return &v }

// popularityLog is what both Inspect fixtures (the same run, as .json and
// as .eval) contain.
func popularityLog(name, sha string, size int64) *Log {
	return &Log{
		Name:   name,
		Format: FormatInspect,
		SHA256: sha,
		Size:   size,
		Model:  "ollama/llama3.1",
		Status: StatusSuccess,
		Tasks: []Task{{
			Name:             "popularity",
			Version:          "0",
			TotalSamples:     1,
			CompletedSamples: 1,
			Samples:          1,
			DatasetSamples:   100,
			Metrics: []Metric{
				{Scorer: "match", Name: "accuracy", Value: 0, Stderr: f64(0), scorerFunc: "match"},
				{Scorer: "match", Name: "stderr", Value: 0, scorerFunc: "match"},
			},
		}},
		Metadata:       map[string]string{},
		HarnessVersion: "0.3.41.dev123+g9ad2119a.d20241015",
		Created:        "2024-10-15T12:53:13-04:00",
	}
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		path string
		want *Log
	}{
		{fixtureInspectJSON, popularityLog(fixtureInspectJSON,
			"sha256:b36b887e44701701d87a7bd8bac7f9fafb2804731491b3125b3917fb7968a825", 11469)},
		{fixtureInspectEval, popularityLog(fixtureInspectEval,
			"sha256:13274e1d67440bdbd8d88e9400d0dd1e19d9b3b39128e3d9fee91618f116baff", 4095)},
		{fixtureLMEval, &Log{
			Name:   fixtureLMEval,
			Format: FormatLMEval,
			SHA256: "sha256:3117d63ada7e3d1732cd52be6da763b75ebe72c1d0a6b9661ac907517d685123",
			Size:   8622,
			Model:  "vllm/google/gemma-2b",
			Status: StatusSuccess,
			Tasks: []Task{{
				Name:             "afrisenti_swa_prompt_1",
				Version:          "1.0",
				TotalSamples:     748,
				CompletedSamples: 748,
				Samples:          748,
				DatasetSamples:   748,
				Metrics: []Metric{
					{Name: "acc", Filter: "none", Value: 0.42513368983957217, Stderr: f64(0.018087805902321497)},
					{Name: "f1", Filter: "none", Value: 0.4281781250749156}, // f1_stderr,none is "N/A"
				},
			}},
			Metadata:       map[string]string{},
			HarnessVersion: "0.4.10.dev0",
			Created:        "2026-01-15T13:13:35.360172Z", // "date": 1768482815.3601718
		}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			got, err := Open(tc.path, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tc.want))
			}
			if err := got.Complete(); err != nil {
				t.Errorf("Complete: %v", err)
			}
		})
	}
}

// dump renders a Log with its stderr values for failure messages.
func dump(l *Log) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%+v\n", *l)
	for _, t := range l.Tasks {
		for _, m := range t.Metrics {
			se := "nil"
			if m.Stderr != nil {
				se = fmt.Sprint(*m.Stderr)
			}
			fmt.Fprintf(&b, "  %s: %+v stderr=%s\n", t.Name, m, se)
		}
	}
	return b.String()
}

func TestFixtureLookups(t *testing.T) {
	ins, err := Open(fixtureInspectJSON, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	m, task, err := ins.Find("popularity", "match", "accuracy")
	if err != nil || m.Value != 0 || m.Stderr == nil || *m.Stderr != 0 || task.Name != "popularity" || task.Samples != 1 {
		t.Errorf("Find(popularity, match, accuracy) = %+v, %v, %v", m, task, err)
	}
	if m, _, err := ins.Find("", "", "stderr"); err != nil || m.Value != 0 || m.Stderr != nil {
		t.Errorf("Find(stderr) = %+v, %v", m, err)
	}

	lm, err := Open(fixtureLMEval, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, metric := range []string{"acc", "acc,none"} {
		m, _, err := lm.Find("afrisenti_swa_prompt_1", "", metric)
		if err != nil || m.Value != 0.42513368983957217 || m.Stderr == nil || *m.Stderr != 0.018087805902321497 {
			t.Errorf("Find(%s) = %+v, %v", metric, m, err)
		}
	}
	if m, _, err := lm.Find("afrisenti_swa_prompt_1", "", "f1,none"); err != nil || m.Value != 0.4281781250749156 || m.Stderr != nil {
		t.Errorf("Find(f1,none) = %+v, %v", m, err)
	}
}

// rezip rewrites a zip archive entry by entry with the given compression
// method. edit may change or drop (nil) an entry's content; extra entries
// are appended after the originals.
func rezip(t testing.TB, src []byte, method uint16, edit func(name string, data []byte) []byte, extra ...[2]string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(src), int64(len(src)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	zw.RegisterCompressor(zipMethodZstd, func(w io.Writer) (io.WriteCloser, error) {
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
	})
	write := func(name string, data []byte, hdr zip.FileHeader) {
		hdr.Name = name
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
		if edit != nil {
			if data = edit(f.Name, data); data == nil {
				continue
			}
		}
		write(f.Name, data, f.FileHeader)
	}
	for _, e := range extra {
		write(e[0], []byte(e[1]), zip.FileHeader{})
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// sameContent compares two logs ignoring the file identity fields.
func sameContent(t *testing.T, got, want *Log) {
	t.Helper()
	g, w := *got, *want
	g.Name, g.SHA256, g.Size = "", "", 0
	w.Name, w.SHA256, w.Size = "", "", 0
	if !reflect.DeepEqual(&g, &w) {
		t.Errorf("content differs:\n%s\nwant\n%s", dump(&g), dump(&w))
	}
}

func TestEvalZstdMatchesDeflate(t *testing.T) {
	orig := readFixture(t, fixtureInspectEval)
	want := mustParse(t, "log.eval", orig)
	for _, method := range []uint16{zipMethodZstd, zip.Store} {
		t.Run(fmt.Sprint("method", method), func(t *testing.T) {
			re := rezip(t, orig, method, nil)
			zr, err := zip.NewReader(bytes.NewReader(re), int64(len(re)))
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range zr.File {
				if f.Method != method {
					t.Fatalf("%s: method %d, want %d", f.Name, f.Method, method)
				}
			}
			got := mustParse(t, "log.eval", re)
			sameContent(t, got, want)
			if got.SHA256 == want.SHA256 {
				t.Error("re-zipped archive has the original digest")
			}
		})
	}
}

func TestEvalInProgress(t *testing.T) {
	// A run that has not finished has only the journal and samples.
	orig := readFixture(t, fixtureInspectEval)
	re := rezip(t, orig, zipMethodZstd, func(name string, data []byte) []byte {
		switch name {
		case "header.json", "summaries.json", "reductions.json":
			return nil
		}
		return data
	})
	l := mustParse(t, "run.eval", re)
	if l.Status != StatusStarted || l.Model != "ollama/llama3.1" || len(l.Tasks) != 1 {
		t.Fatalf("got %s", dump(l))
	}
	task := l.Tasks[0]
	if task.Name != "popularity" || task.TotalSamples != -1 || task.CompletedSamples != -1 || task.Samples != -1 || len(task.Metrics) != 0 {
		t.Errorf("task = %+v", task)
	}
	err := l.Complete()
	if !errors.Is(err, ErrIncomplete) || err.Error() != `run.eval: incomplete: status "started"; task "popularity": sample counts unknown` {
		t.Errorf("Complete = %v", err)
	}
}

func TestEvalDuplicateHeaderLastWins(t *testing.T) {
	orig := readFixture(t, fixtureInspectEval)
	header := readEntry(t, orig, "header.json")
	edited := strings.Replace(string(header), `"status": "success"`, `"status": "cancelled"`, 1)
	re := rezip(t, orig, zip.Deflate, nil, [2]string{"header.json", edited})
	if l := mustParse(t, "dup.eval", re); l.Status != StatusCancelled {
		t.Errorf("status = %q, want the last header.json's %q", l.Status, StatusCancelled)
	}
}

func readEntry(t testing.TB, archive []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inspectJSON returns the .json fixture with replacements applied (each
// old string must occur).
func inspectJSON(t testing.TB, pairs ...string) []byte {
	t.Helper()
	s := string(readFixture(t, fixtureInspectJSON))
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(s, pairs[i]) {
			t.Fatalf("fixture has no %q", pairs[i])
		}
		s = strings.Replace(s, pairs[i], pairs[i+1], 1)
	}
	return []byte(s)
}

func TestInspectVariants(t *testing.T) {
	t.Run("cancelled", func(t *testing.T) {
		l := mustParse(t, "c.json", inspectJSON(t,
			`"status": "success"`, `"status": "cancelled"`,
			`"total_samples": 1`, `"total_samples": 20`,
			`"completed_samples": 1`, `"completed_samples": 12`))
		err := l.Complete()
		want := `c.json: incomplete: status "cancelled"; task "popularity": 12 of 20 samples completed`
		if !errors.Is(err, ErrIncomplete) || err == nil || err.Error() != want {
			t.Errorf("Complete = %v, want %s", err, want)
		}
	})
	t.Run("error", func(t *testing.T) {
		l := mustParse(t, "e.json", inspectJSON(t,
			`"status": "success"`, `"status": "error"`,
			`"stats": {`, `"error": {"message": "RuntimeError: boom\nsecond line", "traceback": "Traceback...\n"}, "stats": {`))
		if l.RunError != "RuntimeError: boom" {
			t.Errorf("RunError = %q", l.RunError)
		}
		if err := l.Complete(); err == nil || err.Error() != `e.json: incomplete: status "error" (RuntimeError: boom)` {
			t.Errorf("Complete = %v", err)
		}
	})
	t.Run("invalidated", func(t *testing.T) {
		l := mustParse(t, "i.json", inspectJSON(t, `"stats": {`, `"invalidated": true, "stats": {`))
		if err := l.Complete(); err == nil || !strings.Contains(err.Error(), `task "popularity": samples invalidated`) {
			t.Errorf("Complete = %v", err)
		}
	})
	t.Run("metadata", func(t *testing.T) {
		eval := inspectJSON(t, `"model_args": {},`, `"model_args": {}, "metadata": {"elicitation": "full", "n": 3, "tags": ["a"], "note": null},`)
		if l := mustParse(t, "m.json", eval); !reflect.DeepEqual(l.Metadata, map[string]string{"elicitation": "full"}) {
			t.Errorf("Metadata = %v", l.Metadata)
		}
		// The top-level metadata (current values, after edits) wins.
		edited := bytes.Replace(eval, []byte(`"stats": {`), []byte(`"metadata": {"elicitation": "none", "reviewer": "x"}, "stats": {`), 1)
		if l := mustParse(t, "m.json", edited); !reflect.DeepEqual(l.Metadata, map[string]string{"elicitation": "none", "reviewer": "x"}) {
			t.Errorf("Metadata = %v", l.Metadata)
		}
	})
	t.Run("new layout", func(t *testing.T) {
		// params instead of options, scored_samples, two scorers, a
		// namespaced metric definition, string task_version, top-level
		// reductions after the samples.
		b := inspectJSON(t,
			`"task_version": 0`, `"task_version": "v2"`,
			`"scores": [`, `"scores": [{"name": "choice", "scorer": "choice", "reducer": "mean", "scored_samples": 1, "unscored_samples": 0, "params": {}, "metrics": {"accuracy": {"name": "inspect_ai/accuracy", "value": 1, "params": {}}}},`,
			`"name": "match",`, `"name": "match", "scored_samples": 1,`,
			"\n}\n", `, "reductions": [{"scorer": "match", "samples": [{"value": 0, "sample_id": 1}]}]}`)
		l := mustParse(t, "n.json", b)
		task := l.Tasks[0]
		if task.Version != "v2" || task.Samples != 1 || len(task.Metrics) != 3 {
			t.Fatalf("got %s", dump(l))
		}
		if m, _, err := l.Find("popularity", "choice", "accuracy"); err != nil || m.Value != 1 || m.Stderr != nil {
			t.Errorf("choice accuracy = %+v, %v", m, err)
		}
		_, _, err := l.Find("popularity", "", "accuracy")
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "is ambiguous") {
			t.Errorf("ambiguous lookup: %v", err)
		}
	})
	t.Run("version 1", func(t *testing.T) {
		// Shape of inspect's tests/log/test_eval_log/log_with_nan.txt.
		v1 := `{"version": 1, "status": "success",
		  "eval": {"task": "wikipedia", "task_version": 0, "created": "2024-05-05T07:59:35",
		    "dataset": {"name": "wikipedia"}, "model": "openai/gpt-4", "config": {"limit": 20}},
		  "results": {"scorer": {"name": "model_graded_fact", "params": {}},
		    "metrics": {"accuracy": {"name": "accuracy", "value": 0.5, "options": {}},
		                "bootstrap_std": {"name": "bootstrap_std", "value": 0.1, "options": {}}}},
		  "logging": []}`
		l := mustParse(t, "v1.json", []byte(v1))
		m, task, err := l.Find("wikipedia", "model_graded_fact", "accuracy")
		if err != nil || m.Value != 0.5 || task.DatasetSamples != -1 || task.TotalSamples != -1 {
			t.Errorf("Find = %+v %+v %v", m, task, err)
		}
		nan := strings.Replace(v1, `"value": 0.5`, `"value": NaN`, 1)
		_, err = parseBytes("nan.json", []byte(nan), Limits{})
		if !errors.Is(err, ErrInvalid) || err.Error() != "nan.json: results.metrics.accuracy.value: NaN is not a finite number" {
			t.Errorf("NaN metric: %v", err)
		}
	})
	t.Run("nan in samples is skipped", func(t *testing.T) {
		b := inspectJSON(t, `"label_confidence": 0.8860552919198255`, `"label_confidence": NaN, "x": [Infinity, -Infinity, 1e999]`)
		sameContent(t, mustParse(t, "s.json", b), mustParse(t, "s.json", readFixture(t, fixtureInspectJSON)))
	})
	t.Run("escapes and duplicate keys", func(t *testing.T) {
		b := inspectJSON(t, `"task": "popularity",`, `"task": "ignored", "task": "pop\u00fclarit\u00e9 \ud83d\ude00\ud800x",`)
		if l := mustParse(t, "u.json", b); l.Tasks[0].Name != "popülarité 😀\uFFFDx" {
			t.Errorf("task = %q", l.Tasks[0].Name)
		}
	})
}

func TestFindTaskNames(t *testing.T) {
	l := &Log{Name: "x", Tasks: []Task{
		{Name: "inspect_evals/gpqa_diamond", Metrics: []Metric{{Scorer: "choice", Name: "accuracy", Value: 0.5}}},
		{Name: "mmlu", Metrics: []Metric{{Name: "acc", Filter: "none", Value: 0.3}}},
	}}
	if m, _, err := l.Find("gpqa_diamond", "choice", "accuracy"); err != nil || m.Value != 0.5 {
		t.Errorf("suffix match: %+v %v", m, err)
	}
	_, _, err := l.Find("", "", "acc")
	if !errors.Is(err, ErrNotFound) || !strings.HasPrefix(err.Error(), "x: no task named and the log has 2 tasks") {
		t.Errorf("empty task: %v", err)
	}
	_, _, err = l.Find("arc", "", "acc")
	if err == nil || err.Error() != `x: task "arc" not in log; available: inspect_evals/gpqa_diamond, mmlu` {
		t.Errorf("missing task: %v", err)
	}
	comma := &Log{Name: "y", Tasks: []Task{{Name: "t", Metrics: []Metric{{Scorer: "s", Name: "f1,macro", Value: 0.7}}}}}
	if m, _, err := comma.Find("t", "s", "f1,macro"); err != nil || m.Value != 0.7 {
		t.Errorf("inspect metric key with a comma: %+v %v", m, err)
	}
	_, _, err = l.Find("mmlu", "", "acc,strict-match")
	if err == nil || err.Error() != `x: metric "acc,strict-match" not in task "mmlu"; available: acc,none` {
		t.Errorf("missing filter: %v", err)
	}
}

func TestLMEvalVariants(t *testing.T) {
	t.Run("legacy stub", func(t *testing.T) {
		l := mustParse(t, "arc_easy-v0-res.json", []byte(`{"results": {"arc_easy": {"acc": 0.25, "acc_stderr": 0.01, "acc_norm": 0.3, "acc_norm_stderr": "N/A"}}, "versions": {"arc_easy": 0}}`))
		want := []Metric{{Name: "acc", Value: 0.25, Stderr: f64(0.01)}, {Name: "acc_norm", Value: 0.3}}
		task := l.Tasks[0]
		if task.Version != "0" || !reflect.DeepEqual(task.Metrics, want) || l.Model != "" {
			t.Errorf("got %s", dump(l))
		}
		if err := l.Complete(); err == nil || !strings.Contains(err.Error(), `task "arc_easy": sample counts unknown`) {
			t.Errorf("Complete = %v", err)
		}
	})
	t.Run("groups", func(t *testing.T) {
		doc := `{
		  "results": {
		    "mmlu": {"acc,none": 0.4, "acc_stderr,none": 0.004, "alias": "mmlu"},
		    "mmlu_stem": {"acc,none": 0.3, "acc_stderr,none": 0.008, "alias": " - stem"},
		    "mmlu_algebra": {"alias": "  - algebra", "acc,none": 0.2, "acc_stderr,none": 0.04},
		    "mmlu_law": {"alias": "  - law", "acc,none": 0.5, "acc_stderr,none": 0.01},
		    "gsm8k": {"exact_match,strict-match": 0.1, "exact_match_stderr,strict-match": 0.01,
		              "exact_match,flexible-extract": 0.12, "exact_match_stderr,flexible-extract": 0.011}
		  },
		  "groups": {
		    "mmlu": {"acc,none": 0.4, "acc_stderr,none": 0.004, "alias": "mmlu"},
		    "mmlu_extra": {"acc,none": 0.6, "sample_count": {"acc,none": 30, "acc_stderr,none": 30}}
		  },
		  "group_subtasks": {"mmlu": ["mmlu_stem", "mmlu_law"], "mmlu_stem": ["mmlu_algebra"], "mmlu_algebra": [], "mmlu_law": [], "gsm8k": []},
		  "versions": {"mmlu": 2, "mmlu_stem": "2", "mmlu_algebra": 1.0, "mmlu_law": null, "gsm8k": 3},
		  "n-samples": {"mmlu_algebra": {"original": 100, "effective": 100}, "mmlu_law": {"original": 1534, "effective": 50},
		                "gsm8k": {"original": 1319, "effective": 1319}},
		  "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m,revision=step100000,dtype=float"},
		  "date": "2024-01-01"
		}`
		l := mustParse(t, "results.json", []byte(doc))
		type row struct {
			name, version        string
			total, samples, orig int
			metrics              int
		}
		var got []row
		for _, task := range l.Tasks {
			got = append(got, row{task.Name, task.Version, task.TotalSamples, task.Samples, task.DatasetSamples, len(task.Metrics)})
		}
		want := []row{
			{"mmlu", "2", 150, 150, 1634, 1},
			{"mmlu_stem", "2", 100, 100, 100, 1},
			{"mmlu_algebra", "1.0", 100, 100, 100, 1},
			{"mmlu_law", "", 50, 50, 1534, 1},
			{"gsm8k", "3", 1319, 1319, 1319, 2},
			{"mmlu_extra", "", 30, 30, -1, 1},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("tasks\n got %+v\nwant %+v", got, want)
		}
		if l.Model != "hf/EleutherAI/pythia-160m" || l.Created != "2024-01-01" {
			t.Errorf("model %q created %q", l.Model, l.Created)
		}
		m, _, err := l.Find("gsm8k", "", "exact_match,flexible-extract")
		if err != nil || m.Value != 0.12 || *m.Stderr != 0.011 {
			t.Errorf("flexible-extract: %+v %v", m, err)
		}
		_, _, err = l.Find("gsm8k", "", "exact_match")
		if err == nil || err.Error() != `results.json: metric "exact_match" is ambiguous in task "gsm8k" (exact_match,strict-match, exact_match,flexible-extract); name a scorer or filter` {
			t.Errorf("ambiguous: %v", err)
		}
		if err := l.Complete(); err != nil {
			t.Errorf("Complete: %v", err)
		}
	})
	t.Run("comma in metric name", func(t *testing.T) {
		l := mustParse(t, "r.json", []byte(`{"results": {"t": {"f1,macro,none": 0.5, "f1,macro_stderr,none": 0.1}}, "configs": {}}`))
		want := []Metric{{Name: "f1,macro", Filter: "none", Value: 0.5, Stderr: f64(0.1)}}
		if !reflect.DeepEqual(l.Tasks[0].Metrics, want) {
			t.Errorf("metrics = %s", dump(l))
		}
	})
}

func TestOpenDetectsByContent(t *testing.T) {
	dir := t.TempDir()
	for src, name := range map[string]string{fixtureInspectEval: "a.json", fixtureInspectJSON: "b.eval", fixtureLMEval: "c.txt"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, readFixture(t, src), 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := Open(p, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		want := mustParse(t, src, readFixture(t, src))
		sameContent(t, l, want)
		if l.SHA256 != want.SHA256 || l.Name != p {
			t.Errorf("%s: sha %s name %s", name, l.SHA256, l.Name)
		}
	}
}
