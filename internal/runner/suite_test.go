package runner

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleSuite(t *testing.T) {
	s, err := LoadSuite("../../examples/suites/tiny-mcq.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "tiny-mcq" || len(s.Samples) != 5 || s.Scorer.Kind != ScorerChoice || s.EvaluationID() != "tiny-mcq" {
		t.Errorf("suite = %+v", s)
	}
	suite, _ := os.ReadFile("../../examples/suites/tiny-mcq.yaml")
	ds, _ := os.ReadFile("../../examples/suites/tiny-mcq.jsonl")
	if s.Digest != SuiteDigest(suite, ds) || !strings.HasPrefix(s.Digest, "sha256:") || len(s.Digest) != 71 {
		t.Errorf("digest %q", s.Digest)
	}
	if SuiteDigest(suite, ds) == SuiteDigest(suite, append(ds, ' ')) {
		t.Error("the digest ignores the dataset")
	}
	if s.Samples[0].ID.Key() != `"q1"` || s.Samples[3].Target[0] != "D" || *s.Generation.MaxTokens != 16 {
		t.Errorf("samples %+v", s.Samples[0])
	}
}

func writeSuite(t *testing.T, suite, dataset string) string {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "d.jsonl"), []byte(dataset), 0o644)
	p := filepath.Join(dir, "s.yaml")
	os.WriteFile(p, []byte(suite), 0o644)
	return p
}

const suiteHead = "apiVersion: scalegate.dev/v1\nkind: Suite\nname: t\ndataset: d.jsonl\n"

func TestSuiteErrors(t *testing.T) {
	good := `{"input": "q", "choices": ["a", "b"], "target": "A"}` + "\n"
	for _, tt := range []struct{ name, suite, dataset, want string }{
		{"unknown field", suiteHead + "scorer: {kind: choice}\nscorrer: 1\n", good, "s.yaml:6:1: "},
		{"bad kind", suiteHead + "scorer: {kind: bleu}\n", good, `s.yaml:5:16: scorer.kind: must be one of choice, exact, match, includes, regex, model-graded, got "bleu"`},
		{"missing scorer", suiteHead, good, "scorer"},
		{"bad name", strings.Replace(suiteHead, "name: t", "name: Big Name", 1) + "scorer: {kind: exact}\n", good, "s.yaml:3:7: name: must match"},
		{"regex without group", suiteHead + "scorer: {kind: regex, pattern: 'ANSWER'}\n", good, "needs a capture group"},
		{"regex bad", suiteHead + "scorer: {kind: regex, pattern: '(?<=x)(a)'}\n", good, "bad pattern"},
		{"pattern on exact", suiteHead + "scorer: {kind: exact, pattern: '(a)'}\n", good, "applies to the regex scorer only"},
		{"location on exact", suiteHead + "scorer: {kind: exact, location: end}\n", good, "applies to the match scorer only"},
		{"bad template", suiteHead + "template: 'Q: {q}'\nscorer: {kind: exact}\n", good, "unknown placeholder {q}"},
		{"bad elicitation", suiteHead + "elicitation: heroic\nscorer: {kind: exact}\n", good, "s.yaml:5:14: elicitation: must be one of"},
		{"bad temperature", suiteHead + "generation: {temperature: 3}\nscorer: {kind: exact}\n", good, "generation.temperature: must be in [0, 2]"},
		{"missing dataset", strings.Replace(suiteHead, "d.jsonl", "nope.jsonl", 1) + "scorer: {kind: exact}\n", good, "s.yaml:4:10: dataset: "},
		{"choice target", suiteHead + "scorer: {kind: choice}\n", good + `{"input": "q", "choices": ["a", "b"], "target": "C"}` + "\n", `d.jsonl:2: sample 2: target "C" names no choice (there are 2)`},
		{"choice without choices", suiteHead + "scorer: {kind: choice}\n", `{"input": "q", "target": "A"}`, "d.jsonl:1: sample 1: the choice scorer needs at least two choices"},
		{"unknown dataset field", suiteHead + "scorer: {kind: exact}\n", `{"input": "q", "target": "A", "traget": "B"}`, `d.jsonl:1: not a sample object: json: unknown field "traget"`},
		{"duplicate ids", suiteHead + "scorer: {kind: exact}\n", `{"id": 2, "input": "q", "target": "A"}` + "\n" + `{"input": "q", "target": "A"}`, "d.jsonl:2: duplicate id 2 (first on line 1)"},
		{"blank line", suiteHead + "scorer: {kind: exact}\n", good + "\n" + good, "d.jsonl:2: blank line"},
		{"no target", suiteHead + "scorer: {kind: exact}\n", `{"input": "q"}`, "d.jsonl:1: target is required"},
		{"bad role", suiteHead + "scorer: {kind: exact}\n", `{"input": [{"role": "tool", "content": "x"}], "target": "A"}`, `input[0].role must be system, user or assistant, got "tool"`},
		{"empty dataset", suiteHead + "scorer: {kind: exact}\n", "\n", "the dataset has no samples"},
		{"float id", suiteHead + "scorer: {kind: exact}\n", `{"id": 1.5, "input": "q", "target": "A"}`, "id must be a string or an integer"},
	} {
		_, err := LoadSuite(writeSuite(t, tt.suite, tt.dataset))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: LoadSuite error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestDataset(t *testing.T) {
	ds := `{"input": "plain", "target": ["a", "b"]}
{"id": "x", "input": [{"role": "system", "content": "s"}, {"role": "user", "content": [{"type": "text", "text": "parts"}]}], "target": "t", "metadata": {"k": 1}}
{"input": "third", "target": "c"}
`
	ss, err := ParseDataset("d.jsonl", []byte(ds))
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != 3 || ss[0].ID.Key() != "1" || ss[1].ID.Key() != `"x"` || ss[2].ID.Key() != "3" {
		t.Fatalf("ids: %v %v %v", ss[0].ID, ss[1].ID, ss[2].ID)
	}
	if !ss[0].TargetList || ss[0].TargetText() != "a\nb" || ss[1].InputText() != "parts" || ss[1].Metadata["k"] != 1.0 {
		t.Errorf("samples: %+v %+v", ss[0], ss[1])
	}
	if string(ss[0].RawInput) != `"plain"` || ss[0].Key() != "1#1" {
		t.Errorf("raw input %s, key %s", ss[0].RawInput, ss[0].Key())
	}
	a, b := SampleID{Num: 2, IsNum: true}, SampleID{Str: "1"}
	if !a.Less(b) || b.Less(a) || !(SampleID{Num: 1, IsNum: true}).Less(a) || !(SampleID{Str: "a"}).Less(SampleID{Str: "b"}) {
		t.Error("SampleID.Less")
	}
}
