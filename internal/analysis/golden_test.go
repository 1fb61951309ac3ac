package analysis

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/semver"

	"scalegate.dev/scalegate/internal/policy"
)

var update = flag.Bool("update", false, "rewrite testdata/golden and the generated docs (docs/scorecard.md, docs/anthropic-rsp-2.2-to-3.0.md)")

const goldenDir = "testdata/golden"

// anthropicMatches pairs RSP v2.2's thresholds and safeguards with the v3.0
// ones that continue them, for docs/anthropic-rsp-2.2-to-3.0.md: CB-1
// descends from CBRN-3 (its security gate carried the training pause);
// v3.0's automated R&D row has AI R&D-5's definition (two years of
// 2018–2024 progress in one); the ASL-3 protections v3.0 keeps are v2.2's
// ASL-3 standards.
var anthropicMatches = []string{
	"cbrn-3.security=cb-1",
	"ai-rnd-5.security=automated-rnd",
	"asl3-security=asl3-security-protections",
	"asl3-deployment=asl3-deployment-protections",
}

// golden compares got with the file at path (relative to this package),
// or writes it with -update.
func golden(t *testing.T, written map[string]bool, path string, got []byte) {
	t.Helper()
	written[filepath.Clean(path)] = true
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o666); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/analysis -update, then read the new file)", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		g, w := "(end)", "(end)"
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		t.Errorf("%s differs at line %d:\n got: %s\nwant: %s\n(run go test ./internal/analysis -update if the change is intended, and read the diff)", path, i+1, g, w)
	}
}

func render(t *testing.T, f func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := f(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func stem(rel string) string { return strings.TrimSuffix(filepath.Base(rel), ".yaml") }

// versionPairs returns consecutive versions of each policy name.
func versionPairs(ps []*policy.Policy) [][2]*policy.Policy {
	byName := map[string][]*policy.Policy{}
	var names []string
	for _, p := range ps {
		if byName[p.Metadata.Name] == nil {
			names = append(names, p.Metadata.Name)
		}
		byName[p.Metadata.Name] = append(byName[p.Metadata.Name], p)
	}
	var pairs [][2]*policy.Policy
	for _, n := range names {
		vs := byName[n]
		slices.SortFunc(vs, func(a, b *policy.Policy) int {
			return semver.Compare("v"+a.Metadata.Version, "v"+b.Metadata.Version)
		})
		for i := 1; i < len(vs); i++ {
			pairs = append(pairs, [2]*policy.Policy{vs[i-1], vs[i]})
		}
	}
	return pairs
}

// TestGolden pins lint, score, compare and diff output for every policy in
// policies/: lint, score and compare (against policies/baseline-example.yaml)
// for each; diff for each pair of consecutive versions of one policy and
// from the baseline to each; JSON, SARIF, Markdown and HTML for the example.
// Golden files no run produces are errors, so renamed policies leave no
// stale output behind.
func TestGolden(t *testing.T) {
	written := map[string]bool{}
	files := policyFiles(t)
	var ps []*policy.Policy
	for _, f := range files {
		ps = append(ps, loadRel(t, f))
	}
	baseline := loadRel(t, "policies/baseline-example.yaml")
	for i, p := range ps {
		s := stem(files[i])
		lint := []*LintResult{Lint(p)}
		golden(t, written, filepath.Join(goldenDir, "lint", s+".txt"), render(t, func(b *bytes.Buffer) error { return WriteLintText(b, lint) }))
		card := []*Scorecard{Score(p)}
		golden(t, written, filepath.Join(goldenDir, "score", s+".txt"), render(t, func(b *bytes.Buffer) error { return WriteScoreText(b, card) }))
		cmp := Compare(p, baseline)
		golden(t, written, filepath.Join(goldenDir, "compare", s+".txt"), render(t, func(b *bytes.Buffer) error { return WriteCompareText(b, cmp) }))
		if files[i] != "policies/baseline-example.yaml" {
			d := Diff(baseline, p)
			golden(t, written, filepath.Join(goldenDir, "diff", "baseline-example--"+s+".txt"), render(t, func(b *bytes.Buffer) error { return WriteDiffText(b, d) }))
		}
		if s == "example" {
			golden(t, written, filepath.Join(goldenDir, "lint", s+".json"), render(t, func(b *bytes.Buffer) error { return WriteLintJSON(b, lint) }))
			golden(t, written, filepath.Join(goldenDir, "lint", s+".sarif"), render(t, func(b *bytes.Buffer) error { return WriteLintSARIF(b, lint) }))
			golden(t, written, filepath.Join(goldenDir, "score", s+".json"), render(t, func(b *bytes.Buffer) error { return WriteScoreJSON(b, card) }))
			golden(t, written, filepath.Join(goldenDir, "score", s+".html"), render(t, func(b *bytes.Buffer) error { return WriteScoreHTML(b, card) }))
			golden(t, written, filepath.Join(goldenDir, "compare", s+".json"), render(t, func(b *bytes.Buffer) error { return WriteCompareJSON(b, cmp) }))
			golden(t, written, filepath.Join(goldenDir, "compare", s+".md"), render(t, func(b *bytes.Buffer) error { return WriteCompareMarkdown(b, cmp) }))
		}
	}
	for _, pr := range versionPairs(ps) {
		d := Diff(pr[0], pr[1])
		name := stem(pr[0].Doc.File) + "--" + stem(pr[1].Doc.File)
		golden(t, written, filepath.Join(goldenDir, "diff", name+".md"), render(t, func(b *bytes.Buffer) error { return WriteDiffMarkdown(b, d) }))
		if pr[0].Metadata.Name == "example-rsp" {
			golden(t, written, filepath.Join(goldenDir, "diff", name+".txt"), render(t, func(b *bytes.Buffer) error { return WriteDiffText(b, d) }))
			golden(t, written, filepath.Join(goldenDir, "diff", name+".json"), render(t, func(b *bytes.Buffer) error { return WriteDiffJSON(b, d) }))
		}
	}
	err := filepath.WalkDir(goldenDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if !written[filepath.Clean(path)] {
			if *update {
				return os.Remove(path)
			}
			t.Errorf("stale golden file %s: no policy produces it (run go test ./internal/analysis -update)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDocs checks that the committed generated docs are what the commands
// print:
//
//	scalegate policy score --format md policies/*.yaml > docs/scorecard.md
//	scalegate policy diff --format md --match … policies/anthropic-rsp-2.2.yaml policies/anthropic-rsp-3.0.yaml > docs/anthropic-rsp-2.2-to-3.0.md
func TestDocs(t *testing.T) {
	var cards []*Scorecard
	for _, f := range policyFiles(t) {
		cards = append(cards, Score(loadRel(t, f)))
	}
	doc := func(rel string, got []byte) {
		t.Helper()
		path := filepath.Join(repoRoot, rel)
		if *update {
			if err := os.WriteFile(path, got, 0o666); err != nil {
				t.Fatal(err)
			}
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not what the command prints; regenerate it (go test ./internal/analysis -update) and read the diff", rel)
		}
	}
	doc("docs/scorecard.md", render(t, func(b *bytes.Buffer) error { return WriteScoreMarkdown(b, cards) }))

	r, err := DiffMatched(loadRel(t, "policies/anthropic-rsp-2.2.yaml"), loadRel(t, "policies/anthropic-rsp-3.0.yaml"), anthropicMatches)
	if err != nil {
		t.Fatal(err)
	}
	doc("docs/anthropic-rsp-2.2-to-3.0.md", render(t, func(b *bytes.Buffer) error { return WriteDiffMarkdown(b, r) }))
}
