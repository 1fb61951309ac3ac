package policy

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite schema/policy-v1.json from Schema()")

const (
	repoRoot   = "../.."
	schemaFile = repoRoot + "/schema/policy-v1.json"
)

// TestSchemaFile checks that the committed schema is byte-identical to
// Schema(). Run with -update to rewrite it.
func TestSchemaFile(t *testing.T) {
	got := Schema()
	if *update {
		if err := os.MkdirAll(filepath.Dir(schemaFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatalf("%v (run `go test ./internal/policy -run TestSchemaFile -update`)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from policy.Schema(); run `go test ./internal/policy -run TestSchemaFile -update`", schemaFile)
	}
	// Schema returns a copy: callers cannot corrupt it.
	got[0] = 'x'
	if Schema()[0] != '{' {
		t.Error("Schema() returned shared bytes")
	}
}

// compileSchema compiles Schema() with a draft 2020-12 validator, which
// also checks the schema against the draft's metaschema.
func compileSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatalf("schema does not compile as draft 2020-12: %v", err)
	}
	return sch
}

func TestSchemaCompiles(t *testing.T) {
	compileSchema(t)
	var m map[string]any
	if err := json.Unmarshal(Schema(), &m); err != nil {
		t.Fatal(err)
	}
	if m["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", m["$schema"])
	}
}

// yamlToJSON converts a YAML (or JSON) document to the JSON value an editor
// or validator sees: mappings become objects, scalars take the type their
// YAML tag resolves to.
func yamlToJSON(data []byte) (any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		return nodeToJSON(root.Content[0])
	}
	return nil, fmt.Errorf("not a single YAML document")
}

func nodeToJSON(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeToJSON(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeToJSON(c)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, err
			}
			return b, nil
		case "!!int", "!!float":
			var f float64
			if err := n.Decode(&f); err != nil {
				return nil, err
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return n.Value, nil // not representable in JSON
			}
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64)), nil
		default:
			return n.Value, nil
		}
	case yaml.AliasNode:
		return nodeToJSON(n.Alias)
	}
	return nil, fmt.Errorf("line %d: unexpected YAML node", n.Line)
}

// validate checks a YAML document against the compiled schema.
func validate(sch *jsonschema.Schema, data []byte) error {
	v, err := yamlToJSON(data)
	if err != nil {
		return err
	}
	// Round-trip through the validator's own decoder, so that numbers are
	// the json.Number values it expects.
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestSchemaAcceptsPublishedPolicies validates every policies/*.yaml,
// each of which the loader must also accept.
func TestSchemaAcceptsPublishedPolicies(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob(repoRoot + "/policies/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 10 {
		t.Fatalf("found %d policies under policies/, want at least 10", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Parse(f, data); err != nil {
				t.Fatalf("loader: %v", err)
			}
			if err := validate(sch, data); err != nil {
				t.Errorf("schema: %v", err)
			}
		})
	}
}

// policyFixtures lists YAML and JSON files of kind Policy under the
// test-data directories of the packages that hold policy fixtures.
func policyFixtures(t *testing.T, dirs ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if os.IsNotExist(err) && path == dir {
					return fs.SkipDir
				}
				return err
			}
			if d.IsDir() {
				if filepath.ToSlash(path) == "testdata/schema/invalid" {
					return fs.SkipDir
				}
				return nil
			}
			switch filepath.Ext(path) {
			case ".yaml", ".yml", ".json":
			default:
				return nil
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			var head struct {
				Kind string `yaml:"kind"`
			}
			if yaml.Unmarshal(data, &head) == nil && head.Kind == Kind {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSchemaAcceptsValidFixtures validates every policy fixture that the
// loader accepts: the schema must never refuse a policy the loader takes.
// Fixtures the loader refuses are invalid on purpose and are skipped here.
func TestSchemaAcceptsValidFixtures(t *testing.T) {
	sch := compileSchema(t)
	files := policyFixtures(t, "testdata", "../gate/testdata")
	valid := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data); err != nil {
			continue
		}
		valid++
		if err := validate(sch, data); err != nil {
			t.Errorf("%s: loader accepts it, schema refuses it: %v", f, err)
		}
	}
	if valid < 2 {
		t.Errorf("only %d valid policy fixtures found", valid)
	}
}

// TestSchemaRejectsInvalidFixtures checks that each file under
// testdata/schema/invalid fails schema validation (and loading), with a
// schema error that mentions the text of the file's "# want:" line.
func TestSchemaRejectsInvalidFixtures(t *testing.T) {
	sch := compileSchema(t)
	files, err := filepath.Glob("testdata/schema/invalid/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d invalid fixtures, want at least 5", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					want = w
				}
			}
			if want == "" {
				t.Fatal(`fixture has no "# want: " line`)
			}
			if _, err := Parse(f, data); err == nil {
				t.Error("loader accepts it")
			}
			err = validate(sch, data)
			if err == nil {
				t.Fatal("schema accepts it")
			}
			if msg := err.Error(); !strings.Contains(msg, want) {
				t.Errorf("schema error does not mention %q:\n%v", want, msg)
			}
		})
	}
}

// base is a small valid policy. Cases below replace its marked parts.
const schemaBaseDoc = `apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: test-policy, version: 1.0.0, developer: Lab}
domains:
  - {id: d, name: D}
evaluations:
  - {id: e, domain: d, kind: capability}
thresholds:
  - id: t1
    domain: d
    name: T1
#THRESHOLD
safeguards:
  - {id: s, kind: security, attestation: self}
#TOP
`

// doc builds a policy from the base: threshold is the rest of the first
// threshold (indented four spaces; defaults to a trigger), top is extra
// top-level YAML.
func doc(threshold, top string) string {
	if threshold == "" {
		threshold = `    trigger: score("e") >= 0.5`
	}
	s := strings.Replace(schemaBaseDoc, "#THRESHOLD", threshold, 1)
	return strings.Replace(s, "#TOP", top, 1)
}

// TestSchemaAgreesWithLoader runs small documents through both the loader
// and the schema. The two agree except where noted: the schema cannot
// check semantics (references, CEL, uniqueness of ids), and it asks for a
// string where the loader reads any YAML scalar as text.
func TestSchemaAgreesWithLoader(t *testing.T) {
	sch := compileSchema(t)
	_, vkey, err := note.GenerateKey(rand.Reader, "aisi")
	if err != nil {
		t.Fatal(err)
	}
	long := `"score(\"e\") >= 0.5` + strings.Repeat(" ", MaxExprLength-16) + `"`
	var manyDomains strings.Builder
	manyDomains.WriteString("apiVersion: scalegate.dev/v1\nkind: Policy\nmetadata: {name: n, version: 1.0.0, developer: L}\ndomains:\n")
	for i := range MaxItems + 1 {
		fmt.Fprintf(&manyDomains, "  - {id: d%d, name: D}\n", i)
	}
	const minimal = "apiVersion: scalegate.dev/v1\nkind: Policy\nmetadata: {name: n, version: 1.0.0, developer: L}\n"

	tests := []struct {
		name       string
		doc        string
		loader, sc bool // whether each accepts the document
	}{
		// Both accept.
		{"base", doc("", ""), true, true},
		{"minimal", minimal, true, true},
		{"null lists", minimal + "domains: null\nevaluations: ~\nthresholds:\nsafeguards: null\n", true, true},
		{"determination", doc("    determination: required", ""), true, true},
		{"trigger with empty determination", doc("    trigger: score(\"e\") > 0\n    determination: \"\"", ""), true, true},
		{"determination with empty trigger", doc("    determination: required\n    trigger: \"\"", ""), true, true},
		{"determination with empty warning", doc("    determination: required\n    warning: \"\"", ""), true, true},
		{"trigger warning clear", doc("    trigger: score(\"e\") >= 0.7\n    warning: score(\"e\") >= 0.6\n    clear: score(\"e\") < 0.5", ""), true, true},
		{"compute condition", doc("    trigger: compute > 1e26", ""), true, true},
		{"full threshold", doc("    trigger: score(\"e\") >= 0.5\n    description: x\n    redLine: false\n    hole: x\n    baselineOf: other.t1\n    requires: [s]\n    onCross:\n      training: continue\n      deployment: {internal: allow, external: require-safeguards, open-weights: deny}", ""), true, true},
		{"empty onCross", doc("    trigger: score(\"e\") > 0\n    onCross: {}", ""), true, true},
		{"default training, null deployment", doc("    trigger: score(\"e\") > 0\n    onCross: {training: \"\", deployment: null}", ""), true, true},
		{"null requires", doc("    trigger: score(\"e\") > 0\n    requires: null", ""), true, true},
		{"empty stance", doc("", "stance: \"\""), true, true},
		{"evidence-of-danger, null affirmative", doc("", "stance: evidence-of-danger\naffirmative: null"), true, true},
		{"affirmative-safety", doc("", "stance: affirmative-safety\naffirmative: {aboveCompute: 1e26}"), true, true},
		{"evaluation options", minimal + "domains: [{id: d, name: D}]\nevaluations:\n  - {id: e, domain: d, kind: propensity, minElicitation: \"\", required: null, chance: null}\n  - {id: f, domain: d, kind: control, minElicitation: finetuned, required: false, chance: 0.25, description: x, sources: [{format: inspect, task: a, scorer: b, metric: c}, {format: lm-eval, task: a, metric: c}]}\n", true, true},
		{"cadence zeros", doc("", "cadence: {computeMultiple: 0, interval: 0d, warningComputeMultiple: 0, exemptBelowCompute: 0, forecast: null}"), true, true},
		{"cadence", doc("", "cadence: {computeMultiple: 4, interval: 180d, warningComputeMultiple: 2, exemptBelowCompute: 1e23, forecast: {confidence: 0.9, buffer: 2}}"), true, true},
		{"forecast defaults", doc("", "cadence: {forecast: {confidence: 0, buffer: 0}}"), true, true},
		{"hours", doc("", "cadence: {interval: 12h}\ngovernance: {scrutinyPeriod: 007d}"), true, true},
		{"governance", doc("", "governance:\n  decisionMakers: [rso, ceo]\n  attesters: [a, {name: b}, {name: c, key: \"\"}, {name: aisi, key: "+vkey+"}]\n  scrutinyPeriod: 30d\n  externalReview: x\n  escapeClause: {allowed: true, conditions: x}"), true, true},
		{"null governance lists", doc("", "governance: {decisionMakers: null, attesters: null, escapeClause: {}}"), true, true},
		{"prerelease version", strings.Replace(minimal, "1.0.0", "1.0.0-rc.1", 1), true, true},
		{"date version", strings.Replace(minimal, "1.0.0", "2025.8.20", 1), true, true},
		{"many sources", minimal + "domains: [{id: d, name: D}]\nevaluations:\n  - id: e\n    domain: d\n    kind: capability\n    sources:\n" + strings.Repeat("      - {format: inspect, task: t, metric: m}\n", MaxItems+1), true, true},
		{"json document", `{"apiVersion": "scalegate.dev/v1", "kind": "Policy", "metadata": {"name": "n", "version": "1.0.0", "developer": "L"}, "cadence": {"computeMultiple": 4}}`, true, true},

		// Both refuse.
		{"unknown top-level field", doc("", "stanse: evidence-of-danger"), false, false},
		{"unknown threshold field", doc("    trigger: score(\"e\") > 0\n    redline: true", ""), false, false},
		{"unknown metadata field", strings.Replace(minimal, "developer: L", "developer: L, homepage: x", 1), false, false},
		{"bad apiVersion", strings.Replace(minimal, "scalegate.dev/v1", "scalegate.dev/v2", 1), false, false},
		{"bad kind", strings.Replace(minimal, "Policy", "Evidence", 1), false, false},
		{"missing metadata", "apiVersion: scalegate.dev/v1\nkind: Policy\n", false, false},
		{"missing developer", strings.Replace(minimal, ", developer: L", "", 1), false, false},
		{"blank developer", strings.Replace(minimal, "developer: L", "developer: \"  \"", 1), false, false},
		{"bad name", strings.Replace(minimal, "name: n", "name: Bad_Name", 1), false, false},
		{"float version", strings.Replace(minimal, "1.0.0", "1.0", 1), false, false},
		{"short version", strings.Replace(minimal, "1.0.0", "\"1\"", 1), false, false},
		{"build metadata", strings.Replace(minimal, "1.0.0", "1.0.0+b1", 1), false, false},
		{"leading zero", strings.Replace(minimal, "1.0.0", "01.0.0", 1), false, false},
		{"prerelease leading zero", strings.Replace(minimal, "1.0.0", "1.0.0-01", 1), false, false},
		{"bad stance", doc("", "stance: precautionary"), false, false},
		{"null stance", doc("", "stance: null"), false, false},
		{"affirmative-safety without affirmative", doc("", "stance: affirmative-safety"), false, false},
		{"affirmative-safety with null affirmative", doc("", "stance: affirmative-safety\naffirmative: null"), false, false},
		{"affirmative without its stance", doc("", "affirmative: {aboveCompute: 1e26}"), false, false},
		{"zero aboveCompute", doc("", "stance: affirmative-safety\naffirmative: {aboveCompute: 0}"), false, false},
		{"missing aboveCompute", doc("", "stance: affirmative-safety\naffirmative: {}"), false, false},
		{"bad id", strings.Replace(doc("", ""), "id: t1", "id: T1", 1), false, false},
		{"missing domain name", minimal + "domains: [{id: d}]\n", false, false},
		{"bad evaluation kind", strings.Replace(doc("", ""), "kind: capability", "kind: benchmark", 1), false, false},
		{"bad elicitation", strings.Replace(doc("", ""), "kind: capability", "kind: capability, minElicitation: jailbroken", 1), false, false},
		{"quoted required", strings.Replace(doc("", ""), "kind: capability", "kind: capability, required: \"true\"", 1), false, false},
		{"chance 1", strings.Replace(doc("", ""), "kind: capability", "kind: capability, chance: 1", 1), false, false},
		{"negative chance", strings.Replace(doc("", ""), "kind: capability", "kind: capability, chance: -0.1", 1), false, false},
		{"bad source format", strings.Replace(doc("", ""), "kind: capability", "kind: capability, sources: [{format: csv, task: a, metric: b}]", 1), false, false},
		{"source without metric", strings.Replace(doc("", ""), "kind: capability", "kind: capability, sources: [{format: inspect, task: a}]", 1), false, false},
		{"trigger and determination", doc("    trigger: score(\"e\") > 0\n    determination: required", ""), false, false},
		{"neither trigger nor determination", doc("    description: x", ""), false, false},
		{"bad determination", doc("    determination: maybe", ""), false, false},
		{"warning without trigger", doc("    determination: required\n    warning: score(\"e\") > 0", ""), false, false},
		{"clear without trigger", doc("    determination: required\n    clear: score(\"e\") > 0", ""), false, false},
		{"expression too long", doc("    trigger: "+long, ""), false, false},
		{"bad deployment mode", doc("    trigger: score(\"e\") > 0\n    onCross: {deployment: {public: deny}}", ""), false, false},
		{"bad deployment action", doc("    trigger: score(\"e\") > 0\n    onCross: {deployment: {external: block}}", ""), false, false},
		{"empty deployment action", doc("    trigger: score(\"e\") > 0\n    onCross: {deployment: {external: \"\"}}", ""), false, false},
		{"bad training", doc("    trigger: score(\"e\") > 0\n    onCross: {training: halt}", ""), false, false},
		{"null onCross", doc("    trigger: score(\"e\") > 0\n    onCross: null", ""), false, false},
		{"string redLine", doc("    trigger: score(\"e\") > 0\n    redLine: \"yes\"", ""), false, false},
		{"requires twice", doc("    trigger: score(\"e\") > 0\n    requires: [s, s]", ""), false, false},
		{"bad safeguard kind", strings.Replace(doc("", ""), "kind: security", "kind: physical", 1), false, false},
		{"bad attestation", strings.Replace(doc("", ""), "attestation: self", "attestation: third-party", 1), false, false},
		{"missing attestation", strings.Replace(doc("", ""), ", attestation: self", "", 1), false, false},
		{"null cadence", doc("", "cadence: null"), false, false},
		{"duration without unit", doc("", "cadence: {interval: 180}"), false, false},
		{"duration in months", doc("", "cadence: {interval: 6mo}"), false, false},
		{"negative duration", doc("", "governance: {scrutinyPeriod: -1d}"), false, false},
		{"computeMultiple 1", doc("", "cadence: {computeMultiple: 1}"), false, false},
		{"computeMultiple 0.5", doc("", "cadence: {computeMultiple: 0.5}"), false, false},
		{"quoted computeMultiple", doc("", "cadence: {computeMultiple: \"4\"}"), false, false},
		{"warningComputeMultiple 1", doc("", "cadence: {warningComputeMultiple: 1}"), false, false},
		{"negative exemption", doc("", "cadence: {exemptBelowCompute: -1}"), false, false},
		{"confidence 1", doc("", "cadence: {forecast: {confidence: 1}}"), false, false},
		{"negative confidence", doc("", "cadence: {forecast: {confidence: -0.5}}"), false, false},
		{"buffer 0.5", doc("", "cadence: {forecast: {buffer: 0.5}}"), false, false},
		{"unknown forecast field", doc("", "cadence: {forecast: {horizon: 2}}"), false, false},
		{"duplicate decision-maker", doc("", "governance: {decisionMakers: [rso, rso]}"), false, false},
		{"empty decision-maker", doc("", "governance: {decisionMakers: [\"\"]}"), false, false},
		{"attester without name", doc("", "governance: {attesters: [{key: \"\"}]}"), false, false},
		{"attester unknown field", doc("", "governance: {attesters: [{name: a, url: x}]}"), false, false},
		{"attester bad key", doc("", "governance: {attesters: [{name: a, key: not-a-key}]}"), false, false},
		{"duplicate attester", doc("", "governance: {attesters: [a, a]}"), false, false},
		{"null escapeClause", doc("", "governance: {escapeClause: null}"), false, false},
		{"string allowed", doc("", "governance: {escapeClause: {allowed: \"true\"}}"), false, false},
		{"too many domains", manyDomains.String(), false, false},

		// The loader's semantic checks, which a schema cannot express.
		{"undeclared domain", strings.Replace(doc("", ""), "domain: d\n    name: T1", "domain: x\n    name: T1", 1), false, true},
		{"undeclared evaluation", doc("    trigger: score(\"x\") > 0", ""), false, true},
		{"non-boolean condition", doc("    trigger: score(\"e\")", ""), false, true},
		{"undeclared safeguard", doc("    trigger: score(\"e\") > 0\n    requires: [t]", ""), false, true},
		{"duplicate id", minimal + "domains: [{id: d, name: D}, {id: d, name: E}]\n", false, true},
		{"warning step above compute step", doc("", "cadence: {computeMultiple: 2, warningComputeMultiple: 4}"), false, true},
		{"duplicate attester across forms", doc("", "governance: {attesters: [a, {name: a}]}"), false, true},
		{"duration too long", doc("", "cadence: {interval: 999999d}"), false, true},

		// The loader reads any YAML scalar as text where a string belongs;
		// the schema asks for a string (quote such values).
		{"number as a name", minimal + "domains: [{id: d, name: 12}]\n", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, lerr := Parse("policy.yaml", []byte(tt.doc))
			if got := lerr == nil; got != tt.loader {
				t.Errorf("loader accepts = %v, want %v (err: %v)", got, tt.loader, lerr)
			}
			serr := validate(sch, []byte(tt.doc))
			if got := serr == nil; got != tt.sc {
				t.Errorf("schema accepts = %v, want %v (err: %v)", got, tt.sc, serr)
			}
		})
	}
}

// TestSchemaMatchesTypes checks that every object in the schema has
// exactly the fields of the Go type the loader decodes it into, with the
// same required fields, so that the schema cannot drift from the loader.
func TestSchemaMatchesTypes(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(Schema(), &root); err != nil {
		t.Fatal(err)
	}
	defs := root["$defs"].(map[string]any)
	def := func(name string) map[string]any { return defs[name].(map[string]any) }
	attesterObj := def("attester")["oneOf"].([]any)[1].(map[string]any)
	cases := []struct {
		name   string
		schema map[string]any
		typ    reflect.Type
	}{
		{"policy", root, reflect.TypeFor[Policy]()},
		{"metadata", def("metadata"), reflect.TypeFor[Metadata]()},
		{"affirmative", def("affirmative"), reflect.TypeFor[Affirmative]()},
		{"domain", def("domain"), reflect.TypeFor[Domain]()},
		{"evaluation", def("evaluation"), reflect.TypeFor[Evaluation]()},
		{"source", def("source"), reflect.TypeFor[Source]()},
		{"threshold", def("threshold"), reflect.TypeFor[Threshold]()},
		{"onCross", def("onCross"), reflect.TypeFor[OnCross]()},
		{"safeguard", def("safeguard"), reflect.TypeFor[Safeguard]()},
		{"cadence", def("cadence"), reflect.TypeFor[Cadence]()},
		{"forecast", def("forecast"), reflect.TypeFor[Forecast]()},
		{"governance", def("governance"), reflect.TypeFor[Governance]()},
		{"escapeClause", def("escapeClause"), reflect.TypeFor[EscapeClause]()},
		{"attester", attesterObj, reflect.TypeFor[Attester]()},
	}
	for _, c := range cases {
		var fields, required []string
		for f := range structFieldsOf(c.typ) {
			fields = append(fields, f.name)
			if f.required {
				required = append(required, f.name)
			}
		}
		props := c.schema["properties"].(map[string]any)
		var got []string
		for k := range props {
			got = append(got, k)
		}
		var gotReq []string
		if r, ok := c.schema["required"].([]any); ok {
			for _, x := range r {
				gotReq = append(gotReq, x.(string))
			}
		}
		slices.Sort(fields)
		slices.Sort(required)
		slices.Sort(got)
		slices.Sort(gotReq)
		if !slices.Equal(fields, got) {
			t.Errorf("%s: schema properties %v, Go fields %v", c.name, got, fields)
		}
		if !slices.Equal(required, gotReq) {
			t.Errorf("%s: schema required %v, Go required %v", c.name, gotReq, required)
		}
		if ap, ok := c.schema["additionalProperties"].(bool); !ok || ap {
			t.Errorf("%s: additionalProperties is not false", c.name)
		}
	}
	// Deployment modes and enumerations come from the loader's own lists.
	dep := def("onCross")["properties"].(map[string]any)["deployment"].(map[string]any)["properties"].(map[string]any)
	var modes []string
	for k := range dep {
		modes = append(modes, k)
	}
	slices.Sort(modes)
	if want := slices.Sorted(slices.Values(Modes)); !slices.Equal(modes, want) {
		t.Errorf("deployment modes %v, want %v", modes, want)
	}
}

type yamlField struct {
	name     string
	required bool
}

// structFieldsOf yields the YAML fields of a struct type as the loader
// decodes them (see yamlx).
func structFieldsOf(t reflect.Type) func(func(yamlField) bool) {
	return func(yield func(yamlField) bool) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "-" || !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = strings.ToLower(f.Name[:1]) + f.Name[1:]
			}
			if !yield(yamlField{name, opts == "required"}) {
				return
			}
		}
	}
}
