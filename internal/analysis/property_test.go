package analysis

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"scalegate.dev/scalegate/internal/policy"
)

// A mutant is a policy document that differs from its base in one element.
type mutant struct {
	name string
	data []byte
}

const testKey = "accredited-auditor+1d6c22b5+AW+FC6MFv/2M6r+c6u2Ik05O6cYGVvoWmDJ565kCUwFi"

// mutants generates single-element mutations of a policy document: every
// scalar changed (numbers scaled, booleans flipped, enums set to each other
// value, durations scaled, conditions' constants and operators moved, text
// reworded), every mapping entry and list item deleted, and optional fields
// added (warnings, clears, red lines, holes, cadence, escape clause,
// external review, attester keys, an extra threshold).
func mutants(t *testing.T, src []byte) []mutant {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		t.Fatal(err)
	}
	var out []mutant
	emit := func(name string) {
		b, err := yaml.Marshal(&root)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out = append(out, mutant{name, b})
	}
	// set temporarily changes a scalar, emits, and restores it.
	set := func(n *yaml.Node, name, v string, tag string) {
		old, oldTag, oldStyle := n.Value, n.Tag, n.Style
		n.Value, n.Tag, n.Style = v, tag, 0
		emit(name)
		n.Value, n.Tag, n.Style = old, oldTag, oldStyle
	}
	var walk func(n *yaml.Node, path, key string)
	walk = func(n *yaml.Node, path, key string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := path + "." + k.Value
				// Delete the entry.
				saved := n.Content
				n.Content = slices.Delete(slices.Clone(saved), i, i+2)
				emit("delete " + p)
				n.Content = saved
				walk(v, p, k.Value)
			}
			addOptional(n, path, emit)
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				saved := n.Content
				n.Content = slices.Delete(slices.Clone(saved), i, i+1)
				emit("delete " + p)
				n.Content = saved
				walk(c, p, key)
			}
			if key == "attesters" {
				for i, c := range n.Content {
					if c.Kind == yaml.ScalarNode {
						saved := n.Content[i]
						n.Content[i] = mapNode("name", c.Value, "key", testKey)
						emit(fmt.Sprintf("key for %s[%d]", path, i))
						n.Content[i] = saved
					}
				}
			}
			if key == "thresholds" && len(n.Content) > 0 {
				cp := cloneNode(n.Content[0])
				for i := 0; i+1 < len(cp.Content); i += 2 {
					if cp.Content[i].Value == "id" {
						cp.Content[i+1].Value += "-copy"
					}
				}
				saved := n.Content
				n.Content = append(slices.Clone(saved), cp)
				emit("add a threshold to " + path)
				n.Content = saved
			}
		case yaml.ScalarNode:
			for _, m := range scalarMutations(key, n) {
				set(n, fmt.Sprintf("%s: %q → %q", path, n.Value, m.v), m.v, m.tag)
			}
		}
	}
	walk(&root, "", "")
	return out
}

type scalarMut struct{ v, tag string }

var (
	numRE   = regexp.MustCompile(`\d+(\.\d+)?(e\d+)?`)
	scoreRE = regexp.MustCompile(`score\("[^"]+"\)`)
)

func scalarMutations(key string, n *yaml.Node) []scalarMut {
	v := n.Value
	str := func(vs ...string) []scalarMut {
		var out []scalarMut
		for _, x := range vs {
			if x != v {
				out = append(out, scalarMut{x, "!!str"})
			}
		}
		return out
	}
	switch key {
	case "trigger", "warning", "clear":
		var out []scalarMut
		locs := numRE.FindAllStringIndex(v, -1)
		for _, l := range locs {
			f, err := strconv.ParseFloat(v[l[0]:l[1]], 64)
			if err != nil {
				continue
			}
			for _, g := range []float64{f * 1.1, f * 0.9} {
				out = append(out, scalarMut{v[:l[0]] + strconv.FormatFloat(g, 'g', -1, 64) + v[l[1]:], "!!str"})
			}
		}
		for _, op := range [][2]string{{">=", ">"}, {">", ">="}, {"<", "<="}, {"<=", "<"}} {
			if i := strings.Index(v, op[0]+" "); i >= 0 {
				out = append(out, scalarMut{v[:i] + op[1] + v[i+len(op[0]):], "!!str"})
			}
		}
		out = append(out,
			scalarMut{"(" + v + ") && compute >= 1e25", "!!str"},
			scalarMut{"(" + v + ") || compute >= 1e27", "!!str"},
			scalarMut{"(" + v + ") && compute >= 1e25 || compute >= 1e27", "!!str"},
			scalarMut{scoreRE.ReplaceAllString(v, "(${0} + 0.0)"), "!!str"})
		return out
	case "training":
		return str("pause", "continue")
	case "internal", "external", "open-weights":
		return str("require-safeguards", "allow", "deny")
	case "attestation":
		return str("self", "external")
	case "minElicitation":
		return str(policy.Elicitations...)
	case "kind":
		return str(append(slices.Clone(policy.EvaluationKinds), policy.SafeguardKinds...)...)
	case "interval", "scrutinyPeriod":
		if d, err := policy.ParseDuration(v); err == nil {
			days := int(d.Hours() / 24)
			return str("0d", fmt.Sprintf("%dd", days*2), fmt.Sprintf("%dd", days/2))
		}
	case "apiVersion", "version", "name":
		if key == "name" {
			return str(v + " (renamed)")
		}
		return nil
	}
	switch n.Tag {
	case "!!bool":
		if v == "true" {
			return []scalarMut{{"false", "!!bool"}}
		}
		return []scalarMut{{"true", "!!bool"}}
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil
		}
		var out []scalarMut
		for _, g := range []float64{f * 2, f / 2, 0} {
			if g != f {
				out = append(out, scalarMut{strconv.FormatFloat(g, 'g', -1, 64), "!!float"})
			}
		}
		return out
	case "!!str":
		if key == "id" {
			return str(v + "-renamed")
		}
		return str(v + " (revised)")
	}
	return nil
}

func mapNode(kv ...string) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for _, s := range kv {
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s})
	}
	return m
}

func cloneNode(n *yaml.Node) *yaml.Node {
	c := *n
	c.Content = nil
	for _, k := range n.Content {
		c.Content = append(c.Content, cloneNode(k))
	}
	return &c
}

// addOptional adds, one at a time, optional fields that a mapping lacks.
func addOptional(n *yaml.Node, path string, emit func(string)) {
	has := func(k string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == k {
				return n.Content[i+1]
			}
		}
		return nil
	}
	add := func(name string, kv ...*yaml.Node) {
		saved := n.Content
		n.Content = append(slices.Clone(saved), kv...)
		emit(name)
		n.Content = saved
	}
	scalar := func(v, tag string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: tag, Value: v} }
	key := func(k string) *yaml.Node { return scalar(k, "!!str") }
	if tr := has("trigger"); tr != nil {
		for _, f := range []string{"warning", "clear"} {
			if has(f) == nil {
				// A loosened copy of the trigger for a warning; its
				// negation for a clear.
				v := numRE.ReplaceAllStringFunc(tr.Value, func(s string) string {
					x, _ := strconv.ParseFloat(s, 64)
					return strconv.FormatFloat(x*0.8, 'g', -1, 64)
				})
				if f == "clear" {
					v = "!(" + v + ")"
				}
				add("add "+path+"."+f, key(f), scalar(v, "!!str"))
			}
		}
	}
	if has("domain") != nil && has("name") != nil && (has("trigger") != nil || has("determination") != nil) {
		if has("redLine") == nil {
			add("add "+path+".redLine", key("redLine"), scalar("true", "!!bool"))
		}
		if has("hole") == nil {
			add("add "+path+".hole", key("hole"), scalar("Not known yet.", "!!str"))
		}
	}
	if has("decisionMakers") != nil || has("scrutinyPeriod") != nil || has("escapeClause") != nil || has("attesters") != nil {
		if has("escapeClause") == nil {
			add("add escape clause", key("escapeClause"), mapNode("allowed", "true", "conditions", "A competitor moves first."))
		}
		if has("externalReview") == nil {
			add("add external review", key("externalReview"), scalar("An annual external audit.", "!!str"))
		}
		if has("scrutinyPeriod") == nil {
			add("add scrutiny", key("scrutinyPeriod"), scalar("30d", "!!str"))
		}
	}
	if has("computeMultiple") != nil || has("interval") != nil {
		for _, kv := range [][2]string{{"computeMultiple", "8"}, {"interval", "365d"}, {"exemptBelowCompute", "1e24"}} {
			if has(kv[0]) == nil {
				tag := "!!float"
				if kv[0] == "interval" {
					tag = "!!str"
				}
				add("add cadence."+kv[0], key(kv[0]), scalar(kv[1], tag))
			}
		}
		if has("forecast") == nil {
			add("add cadence.forecast", key("forecast"), mapNode("confidence", "0.9", "buffer", "2"))
		}
	}
}

func dirs(r *DiffResult) string {
	var parts []string
	for _, d := range Directions {
		if r.Summary[d] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", r.Summary[d], d))
		}
	}
	return strings.Join(parts, ", ")
}

// weakerKindsWithGaps are the weakenings that compare must also report as
// a gap when the weakened policy is checked against the original. (Other
// weakenings concern what compare does not check, such as attester keys.)
var weakerKindsWithGaps = map[string]bool{
	"trigger-moved": true, "determination-replaced-trigger": true, "warning-moved": true, "warning-removed": true,
	"clear-moved": true, "clear-removed": true, "red-line-removed": true, "threshold-removed": true,
	"safeguard-unrequired": true, "pause-replaced-by-continue": true, "deployment-opened": true,
	"attestation-changed": true, "evaluation-removed": true, "evaluation-required": true, "elicitation-changed": true,
	"cadence-compute-relaxed": true, "cadence-interval-relaxed": true, "cadence-warning-relaxed": true,
	"cadence-exemption-relaxed": true, "forecast-gating-removed": true, "forecast-confidence-changed": true,
	"forecast-buffer-changed": true, "scrutiny-shortened": true, "escape-clause-added": true, "stance-changed": true,
	"safety-case-compute-moved": true,
}

// TestDiffAndCompareProperties checks, over every single-element mutation
// B of each example policy A that still parses:
//
//   - diff(A, B) has a weaker change exactly when diff(B, A) has a stricter
//     one (and as many), and the other way round; mixed and unknown changes
//     are symmetric;
//   - a policy compared with itself is never weaker: diff(B, B) is empty and
//     compare(B, B) has no gaps;
//   - when diff(A, B) is all stricter or neutral, B is at least as strict
//     as A by compare; when it has a weakening that compare checks, compare
//     finds a gap.
func TestDiffAndCompareProperties(t *testing.T) {
	bases := []string{"policies/example.yaml", "policies/example-v2.yaml", "policies/baseline-example.yaml", "internal/analysis/testdata/clean.yaml", "internal/analysis/testdata/lab-compliant.yaml"}
	if m, _ := filepath.Glob(filepath.Join(repoRoot, "policies", "example-forecast.yaml")); len(m) == 1 {
		bases = append(bases, "policies/example-forecast.yaml")
	}
	total, seen := 0, map[Direction]int{}
	for _, base := range bases {
		src, err := os.ReadFile(filepath.Join(repoRoot, base))
		if err != nil {
			t.Fatal(err)
		}
		a, err := policy.Parse("a.yaml", src)
		if err != nil {
			t.Fatal(err)
		}
		if d := Diff(a, a); len(d.Changes) != 0 {
			t.Fatalf("%s: diff with itself: %+v", base, d.Changes)
		}
		if r := Compare(a, a); !r.AtLeastAsStrict() {
			t.Fatalf("%s: compare with itself: %v", base, gapKinds(r))
		}
		done := map[string]bool{}
		for _, m := range mutants(t, src) {
			if done[string(m.data)] || bytes.Equal(m.data, src) {
				continue
			}
			done[string(m.data)] = true
			b, err := policy.Parse("b.yaml", m.data)
			if err != nil {
				continue
			}
			fwd, back := Diff(a, b), Diff(b, a)
			if len(fwd.Changes) == 0 {
				continue
			}
			total++
			name := base + ": " + m.name
			for _, d := range Directions {
				if fwd.Summary[d] > 0 {
					seen[d]++
				}
			}
			if fwd.Summary[Weaker] != back.Summary[Stricter] || fwd.Summary[Stricter] != back.Summary[Weaker] ||
				fwd.Summary[Mixed] != back.Summary[Mixed] || fwd.Summary[Unknown] != back.Summary[Unknown] {
				t.Errorf("%s: diff(A,B) = %s but diff(B,A) = %s", name, dirs(fwd), dirs(back))
				continue
			}
			if d := Diff(b, b); len(d.Changes) != 0 {
				t.Errorf("%s: diff with itself: %+v", name, d.Changes)
			}
			if r := Compare(b, b); !r.AtLeastAsStrict() {
				t.Errorf("%s: compare with itself: %v", name, gapKinds(r))
			}
			cmp := Compare(b, a)
			onlyStricter, checkedWeaker := true, ""
			for _, c := range fwd.Changes {
				switch {
				case c.Direction == Weaker && weakerKindsWithGaps[c.Kind]:
					checkedWeaker = c.Kind
				case c.Direction == Stricter, c.Direction == Neutral && c.Kind != "threshold-domain-changed":
				default:
					onlyStricter = false
				}
			}
			if onlyStricter && checkedWeaker == "" && !cmp.AtLeastAsStrict() {
				t.Errorf("%s: diff says %s, but compare finds gaps %v", name, dirs(fwd), gapKinds(cmp))
			}
			if checkedWeaker != "" && cmp.AtLeastAsStrict() {
				t.Errorf("%s: diff finds a weakening (%s), but compare finds no gap", name, checkedWeaker)
			}
		}
	}
	t.Logf("%d mutants; with a change that is: %v", total, seen)
	if total < 200 || seen[Weaker] < 50 || seen[Stricter] < 50 || seen[Neutral] < 20 || seen[Mixed] == 0 || seen[Unknown] == 0 {
		t.Fatalf("too few mutants exercise the properties: %d; %v", total, seen)
	}
}
