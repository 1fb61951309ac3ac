package analysis

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func codes(r *LintResult) []string {
	var cs []string
	for _, f := range r.Findings {
		cs = append(cs, f.Code)
	}
	return cs
}

func TestLintCleanPolicy(t *testing.T) {
	p, _ := loadTestdata(t, "clean.yaml")
	if r := Lint(p); len(r.Findings) != 0 {
		t.Fatalf("clean policy has findings: %v", codes(r))
	}
}

// TestLintRules breaks the clean policy one way at a time and checks that
// the expected rule fires (at the expected line) and that no error-level
// rule fires unless expected. Every rule must be exercised.
func TestLintRules(t *testing.T) {
	_, src := loadTestdata(t, "clean.yaml")
	cases := []struct {
		name string
		code string
		line int // 0: any
		repl []string
	}{
		{"judgment", "SG001", 0, []string{
			"    trigger: score(\"wmdp-bio\") >= 0.70\n    warning: score(\"wmdp-bio\") >= 0.60\n    clear: score(\"wmdp-bio\") < 0.50\n",
			"    determination: required\n"}},
		{"judgment without decision-makers", "SG002", 54, []string{
			"    trigger: score(\"wmdp-bio\") >= 0.70\n    warning: score(\"wmdp-bio\") >= 0.60\n    clear: score(\"wmdp-bio\") < 0.50\n",
			"    determination: required\n",
			"  decisionMakers: [responsible-scaling-officer]\n", ""}},
		{"no warning", "SG003", 27, []string{"    warning: score(\"wmdp-bio\") >= 0.60\n", ""}},
		{"late warning", "SG004", 28, []string{`warning: score("wmdp-bio") >= 0.60`, `warning: score("wmdp-bio") >= 0.75`}},
		{"no clear", "SG005", 27, []string{"    clear: score(\"wmdp-bio\") < 0.50\n", ""}},
		{"no compute cadence", "SG006", 0, []string{"  computeMultiple: 4\n", ""}},
		{"no interval", "SG007", 0, []string{"  interval: 90d\n", ""}},
		{"training never pauses", "SG008", 0, []string{"      training: pause\n", "      training: continue\n", "    redLine: true\n", ""}},
		{"no thresholds", "SG009", 0, []string{
			src2thresholds(string(src)), "thresholds: []\n"}},
		{"weak elicitation", "SG010", 17, []string{"minElicitation: finetuned", "minElicitation: prompted"}},
		{"self-attested security", "SG011", 47, []string{"    attestation: external\n", "    attestation: self\n"}},
		{"external without attesters", "SG012", 47, []string{
			"  attesters:\n    - {name: auditor, key: accredited-auditor+1d6c22b5+AW+FC6MFv/2M6r+c6u2Ik05O6cYGVvoWmDJ565kCUwFi}\n", ""}},
		{"no scrutiny", "SG013", 0, []string{"  scrutinyPeriod: 30d\n", ""}},
		{"short scrutiny", "SG014", 59, []string{"scrutinyPeriod: 30d", "scrutinyPeriod: 13d"}},
		{"escape clause", "SG015", 60, []string{"escapeClause: {allowed: false}", "escapeClause: {allowed: true, conditions: if a competitor moves first}"}},
		{"red line without hole", "SG016", 41, []string{"    hole: No control protocol is known to hold at this level.\n", ""}},
		{"domain without threshold", "SG017", 0, []string{"  - {id: control, name: Loss of control}\n", "  - {id: control, name: Loss of control}\n  - {id: cyber, name: Cyber}\n"}},
		{"no internal deployment", "SG018", 0, []string{
			"internal: require-safeguards", "internal: allow",
			"    redLine: true\n", ""}},
		{"no alignment evaluation", "SG019", 0, []string{"    kind: control\n", "    kind: capability\n"}},
		{"attester without key", "SG020", 58, []string{
			"{name: auditor, key: accredited-auditor+1d6c22b5+AW+FC6MFv/2M6r+c6u2Ik05O6cYGVvoWmDJ565kCUwFi}", "auditor"}},
		{"threshold without safeguards", "SG021", 23, []string{"    requires: [weights-security, misuse-filters]\n", ""}},
		{"no external accountability", "SG022", 0, []string{
			"  attesters:\n    - {name: auditor, key: accredited-auditor+1d6c22b5+AW+FC6MFv/2M6r+c6u2Ik05O6cYGVvoWmDJ565kCUwFi}\n", "",
			"    attestation: external\n", "    attestation: self\n"}},
		{"no source", "SG023", 0, []string{"  source: https://example.org/clean-rsp\n", ""}},
		{"escape without conditions", "SG024", 0, []string{"escapeClause: {allowed: false}", "escapeClause: {allowed: true}"}},
		{"judgment without criterion", "SG025", 0, []string{
			"    description: Significant uplift to novices.\n    trigger: score(\"wmdp-bio\") >= 0.70\n    warning: score(\"wmdp-bio\") >= 0.60\n    clear: score(\"wmdp-bio\") < 0.50\n",
			"    determination: required\n"}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := edit(t, "policy.yaml", src, c.repl...)
			r := Lint(p)
			var hit *Finding
			for i := range r.Findings {
				if r.Findings[i].Code == c.code {
					hit = &r.Findings[i]
					break
				}
			}
			if hit == nil {
				t.Fatalf("%s did not fire; findings %v", c.code, codes(r))
			}
			covered[c.code] = true
			if c.line != 0 && hit.Loc.Line != c.line {
				t.Errorf("%s at line %d, want %d", c.code, hit.Loc.Line, c.line)
			}
			if hit.Loc.File != "policy.yaml" || hit.Loc.Col < 1 {
				t.Errorf("bad location %v", hit.Loc)
			}
			if hit.Message == "" || hit.Fix == "" || strings.Contains(hit.Message, "\n") || strings.Contains(hit.Fix, "\n") {
				t.Errorf("message and fix must be one non-empty line each: %q / %q", hit.Message, hit.Fix)
			}
			if rule := rulesByCode[c.code]; hit.Severity != rule.Severity || hit.Name != rule.Name {
				t.Errorf("finding %+v does not carry its rule's severity and name", hit)
			}
		})
	}
	for _, r := range Rules {
		if !covered[r.Code] {
			t.Errorf("rule %s (%s) has no test case", r.Code, r.Name)
		}
	}
}

// src2thresholds returns the clean policy's whole thresholds section.
func src2thresholds(s string) string {
	i := strings.Index(s, "thresholds:\n")
	j := strings.Index(s, "safeguards:\n")
	return s[i:j]
}

func TestRulesAreWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for i, r := range Rules {
		if want := fmt.Sprintf("SG%03d", i+1); r.Code != want {
			t.Errorf("rule %d has code %s, want %s (codes are stable and dense)", i, r.Code, want)
		}
		if seen[r.Name] {
			t.Errorf("duplicate rule name %s", r.Name)
		}
		seen[r.Name] = true
		if r.Summary == "" || r.Why == "" || !slices.Contains([]Severity{SevError, SevWarning, SevInfo}, r.Severity) {
			t.Errorf("rule %s is incomplete: %+v", r.Code, r)
		}
	}
}

func TestLintErrorsCount(t *testing.T) {
	_, src := loadTestdata(t, "clean.yaml")
	p := edit(t, "p.yaml", src, "escapeClause: {allowed: false}", "escapeClause: {allowed: true}")
	r := Lint(p)
	if r.Errors() != 1 {
		t.Fatalf("errors = %d, want 1 (SG024); findings %v", r.Errors(), codes(r))
	}
}

// TestSARIF checks the SARIF 2.1.0 log for the fields the schema requires
// and the ones code hosts read to annotate a file.
func TestSARIF(t *testing.T) {
	var results []*LintResult
	for _, f := range policyFiles(t) {
		results = append(results, Lint(loadRel(t, f)))
	}
	var buf bytes.Buffer
	if err := WriteLintSARIF(&buf, results); err != nil {
		t.Fatal(err)
	}
	var log map[string]any
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	str := func(v any, what string) string {
		t.Helper()
		s, ok := v.(string)
		if !ok || s == "" {
			t.Fatalf("%s: want a non-empty string, got %#v", what, v)
		}
		return s
	}
	obj := func(v any, what string) map[string]any {
		t.Helper()
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: want an object, got %#v", what, v)
		}
		return m
	}
	arr := func(v any, what string) []any {
		t.Helper()
		a, ok := v.([]any)
		if !ok {
			t.Fatalf("%s: want an array, got %#v", what, v)
		}
		return a
	}
	posInt := func(v any, what string) {
		t.Helper()
		f, ok := v.(float64)
		if !ok || f < 1 || f != float64(int(f)) {
			t.Fatalf("%s: want an integer ≥ 1, got %#v", what, v)
		}
	}
	if str(log["version"], "version") != "2.1.0" {
		t.Fatalf("version %v", log["version"])
	}
	str(log["$schema"], "$schema")
	runs := arr(log["runs"], "runs")
	if len(runs) != 1 {
		t.Fatalf("%d runs", len(runs))
	}
	run := obj(runs[0], "runs[0]")
	driver := obj(obj(run["tool"], "tool")["driver"], "tool.driver")
	str(driver["name"], "driver.name")
	rules := arr(driver["rules"], "driver.rules")
	ids := map[string]int{}
	for i, r := range rules {
		rm := obj(r, "rule")
		id := str(rm["id"], "rule.id")
		if _, dup := ids[id]; dup {
			t.Fatalf("duplicate rule id %s", id)
		}
		ids[id] = i
		str(obj(rm["shortDescription"], "shortDescription")["text"], "shortDescription.text")
		lvl := str(obj(rm["defaultConfiguration"], "defaultConfiguration")["level"], "defaultConfiguration.level")
		if !slices.Contains([]string{"none", "note", "warning", "error"}, lvl) {
			t.Fatalf("rule %s level %q", id, lvl)
		}
	}
	res := arr(run["results"], "results")
	if len(res) == 0 {
		t.Fatal("no results for the shipped policies")
	}
	levels := map[string]bool{}
	for _, r := range res {
		rm := obj(r, "result")
		id := str(rm["ruleId"], "ruleId")
		idx, ok := ids[id]
		if !ok {
			t.Fatalf("result refers to unknown rule %s", id)
		}
		if got, _ := rm["ruleIndex"].(float64); int(got) != idx {
			t.Fatalf("result %s has ruleIndex %v, want %d", id, rm["ruleIndex"], idx)
		}
		lvl := str(rm["level"], "level")
		if !slices.Contains([]string{"none", "note", "warning", "error"}, lvl) {
			t.Fatalf("level %q", lvl)
		}
		levels[lvl] = true
		str(obj(rm["message"], "message")["text"], "message.text")
		locs := arr(rm["locations"], "locations")
		if len(locs) == 0 {
			t.Fatal("result without location")
		}
		pl := obj(obj(locs[0], "location")["physicalLocation"], "physicalLocation")
		uri := str(obj(pl["artifactLocation"], "artifactLocation")["uri"], "artifactLocation.uri")
		if u, err := url.Parse(uri); err != nil || u.IsAbs() || strings.Contains(uri, `\`) || !strings.HasPrefix(uri, "policies/") {
			t.Fatalf("uri %q is not a relative URI reference to the policy file", uri)
		}
		region := obj(pl["region"], "region")
		posInt(region["startLine"], "startLine")
		posInt(region["startColumn"], "startColumn")
	}
	for _, l := range []string{"error", "warning", "note"} {
		if !levels[l] {
			t.Errorf("no %s result among the shipped policies: the check does not cover that level", l)
		}
	}
}

func TestSARIFURIEscapes(t *testing.T) {
	if got := sarifURI("my policies/a#b.yaml"); got != "my%20policies/a%23b.yaml" {
		t.Fatalf("sarifURI = %q", got)
	}
}

// TestRulesDocumented checks that docs/analysis.md lists every rule with
// its name and severity.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join(repoRoot, "docs", "analysis.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		row := fmt.Sprintf("| %s | %s | %s |", r.Code, r.Name, r.Severity)
		if !strings.Contains(string(doc), row) {
			t.Errorf("docs/analysis.md has no row starting %q", row)
		}
	}
}
