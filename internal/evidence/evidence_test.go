package evidence

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/yamlx"
)

const exampleFile = "testdata/example-evidence.yaml"

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func day(d, m int) time.Time { return time.Date(2026, time.Month(m), d, 0, 0, 0, 0, time.UTC) }

// exampleWant is testdata/example-evidence.yaml (the DESIGN's example) as
// parsed.
func exampleWant() *File {
	return &File{
		APIVersion:  "scalegate.dev/v1",
		Kind:        "Evidence",
		Models:      []Model{{ID: "atlas", Developer: "Example Lab", Policy: "example-rsp"}},
		Checkpoints: []Checkpoint{{ID: "atlas-c1", Model: "atlas", EffectiveCompute: 1e24, At: day(10, 1)}},
		Results: []Result{{Checkpoint: "atlas-c1", Evaluation: "wmdp-bio", Score: 0.42, Elicitation: "finetuned",
			Samples: 1273, At: day(12, 1)}},
		Safeguards: []SafeguardStatus{{Safeguard: "asl3-security", Model: "atlas", Status: Implemented,
			By: "external-auditor", At: day(1, 2)}},
		Determinations: []Determination{{Checkpoint: "atlas-c1", Threshold: "autonomy-2", Crossed: false,
			By: "responsible-scaling-officer", Rationale: "...", At: day(13, 1)}},
		SafetyCases: []SafetyCase{{ID: "sc-1", Model: "atlas", CoversCompute: 4e26, ApprovedBy: "external-auditor", At: day(1, 3)}},
		Escapes:     []Escape{{Model: "atlas", By: "responsible-scaling-officer", Rationale: "...", At: day(2, 3)}},
	}
}

func TestParseExample(t *testing.T) {
	src := readFile(t, exampleFile)
	f, err := Parse("e.yaml", []byte(src), time.Time{})
	if err != nil {
		t.Fatalf("Parse(example) error = %q, want nil", err)
	}
	if f.Doc == nil || f.Doc.File != "e.yaml" {
		t.Fatalf("Parse(example).Doc = %+v, want a Doc for e.yaml", f.Doc)
	}
	if got, want := f.Doc.Pos("results[0].score"), (yamlx.Pos{Line: 8, Col: 57}); got != want {
		t.Errorf("Parse(example).Doc.Pos(results[0].score) = %v, want %v", got, want)
	}
	f.Doc = nil
	if want := exampleWant(); !reflect.DeepEqual(f, want) {
		t.Errorf("Parse(example) = %+v, want %+v", f, want)
	}

	// A default time does not override the records' own.
	f, err = Parse("e.yaml", []byte(src), day(1, 6))
	if err != nil {
		t.Fatalf("Parse(example, defaultAt) error = %q, want nil", err)
	}
	f.Doc = nil
	if want := exampleWant(); !reflect.DeepEqual(f, want) {
		t.Errorf("Parse(example, defaultAt) = %+v, want %+v", f, want)
	}

	lf, err := Load(exampleFile, time.Time{})
	if err != nil {
		t.Fatalf("Load(%q) error = %q, want nil", exampleFile, err)
	}
	lf.Doc = nil
	if want := exampleWant(); !reflect.DeepEqual(lf, want) {
		t.Errorf("Load(%q) = %+v, want %+v", exampleFile, lf, want)
	}
}

func TestParseDefaultAt(t *testing.T) {
	const file = "testdata/no-at.yaml"
	src := readFile(t, file)
	defaultAt := time.Date(2026, 4, 1, 12, 0, 0, 0, time.FixedZone("CEST", 2*3600))
	f, err := Parse(file, []byte(src), defaultAt)
	if err != nil {
		t.Fatalf("Parse(%s, %v) error = %q, want nil", file, defaultAt, err)
	}
	f.Doc = nil
	at := time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC)
	want := exampleWant()
	want.Checkpoints[0].At = at
	want.Results[0].At = time.Date(2026, 1, 11, 23, 0, 0, 0, time.UTC) // its own, in UTC
	want.Safeguards[0].At = at
	want.Determinations[0].At = at
	want.SafetyCases[0].At = at
	want.Escapes[0].At = at
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Parse(%s, %v) = %+v, want %+v", file, defaultAt, f, want)
	}
	for _, tm := range []time.Time{f.Checkpoints[0].At, f.Results[0].At, f.Escapes[0].At} {
		if tm.Location() != time.UTC {
			t.Errorf("Parse(%s, %v): time %v is not in UTC", file, defaultAt, tm)
		}
	}

	_, err = Parse(file, []byte(src), time.Time{})
	want1 := "testdata/no-at.yaml:7:5: checkpoints[0].at: missing `at` (give it in the record or with --at)"
	if err == nil || err.Error() != want1 {
		t.Errorf("Parse(%s, zero time) error = %v, want %q", file, err, want1)
	}
}

// mutate replaces line n (1-based) of src, which must read old, with repl.
func mutate(t testing.TB, src string, n int, old, repl string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	if n < 1 || n > len(lines) || lines[n-1] != old {
		t.Fatalf("line %d of %s is not %q", n, exampleFile, old)
	}
	lines[n-1] = repl
	return strings.Join(lines, "\n")
}

const (
	lModel      = "  - {id: atlas, developer: Example Lab, policy: example-rsp}"
	lCheckpoint = "  - {id: atlas-c1, model: atlas, effectiveCompute: 1e24, at: 2026-01-10T00:00:00Z}"
	lResult     = "  - {checkpoint: atlas-c1, evaluation: wmdp-bio, score: 0.42, elicitation: finetuned, samples: 1273, at: 2026-01-12T00:00:00Z}"
	lSafeguard  = "  - {safeguard: asl3-security, model: atlas, status: implemented, by: external-auditor, at: 2026-02-01T00:00:00Z}   # implemented | revoked"
	lDetermin   = `  - {checkpoint: atlas-c1, threshold: autonomy-2, crossed: false, by: responsible-scaling-officer, rationale: "...", at: 2026-01-13T00:00:00Z}`
	lSafetyCase = "  - {id: sc-1, model: atlas, coversCompute: 4e26, approvedBy: external-auditor, at: 2026-03-01T00:00:00Z}"
	lEscape     = `  - {model: atlas, by: responsible-scaling-officer, rationale: "...", at: 2026-03-02T00:00:00Z}`
)

func TestParseBad(t *testing.T) {
	base := readFile(t, exampleFile)
	tests := []struct {
		name string
		line int
		old  string
		repl string
		want string
	}{
		{"unknown field", 8, lResult, strings.Replace(lResult, "score:", "scroe:", 1),
			`e.yaml:8:50: results[0].scroe: unknown field "scroe" (did you mean "score"?)`},
		{"unknown top-level field", 3, "models:", "model:",
			`e.yaml:3:1: model: unknown field "model" (did you mean "models"?)`},
		{"unknown record field", 4, lModel, "  - {id: atlas, policy: example-rsp, owner: Example Lab}",
			`e.yaml:4:38: models[0].owner: unknown field "owner"`},
		{"duplicate field", 4, lModel, "  - {id: atlas, id: atlas2, policy: example-rsp}",
			`e.yaml:4:17: models[0].id: duplicate field "id"`},
		{"wrong apiVersion", 1, "apiVersion: scalegate.dev/v1", "apiVersion: scalegate.dev/v1beta1",
			`e.yaml:1:13: apiVersion: must be "scalegate.dev/v1", got "scalegate.dev/v1beta1"`},
		{"wrong kind", 2, "kind: Evidence", "kind: Policy",
			`e.yaml:2:7: kind: must be "Evidence", got "Policy"`},
		{"missing kind", 2, "kind: Evidence", "",
			`e.yaml:1:1: kind: missing required field "kind"`},
		{"missing apiVersion", 1, "apiVersion: scalegate.dev/v1", "# no apiVersion",
			`e.yaml:2:1: apiVersion: missing required field "apiVersion"`},

		{"NaN score", 8, lResult, strings.Replace(lResult, "0.42", ".nan", 1),
			`e.yaml:8:57: results[0].score: expected a finite number, got ".nan"`},
		{"infinite score", 8, lResult, strings.Replace(lResult, "0.42", "-.inf", 1),
			`e.yaml:8:57: results[0].score: expected a finite number, got "-.inf"`},
		{"quoted score", 8, lResult, strings.Replace(lResult, "0.42", `"0.42"`, 1),
			`e.yaml:8:57: results[0].score: expected a finite number, got "0.42"`},
		{"missing score", 8, lResult, strings.Replace(lResult, "score: 0.42, ", "", 1),
			`e.yaml:8:5: results[0].score: missing required field "score"`},
		{"NaN stderr", 8, lResult, strings.Replace(lResult, "samples: 1273", "stderr: .NaN", 1),
			`e.yaml:8:95: results[0].stderr: expected a finite number, got ".NaN"`},
		{"negative stderr", 8, lResult, strings.Replace(lResult, "samples: 1273", "stderr: -0.1", 1),
			`e.yaml:8:95: results[0].stderr: must be a finite non-negative number`},
		{"bad elicitation", 8, lResult, strings.Replace(lResult, "finetuned", "fine-tuned", 1),
			`e.yaml:8:76: results[0].elicitation: must be one of "none", "prompted", "cot", "scaffolded", "finetuned", got "fine-tuned"`},
		{"empty elicitation", 8, lResult, strings.Replace(lResult, "finetuned", `""`, 1),
			`e.yaml:8:76: results[0].elicitation: must be one of "none", "prompted", "cot", "scaffolded", "finetuned", got ""`},
		{"negative samples", 8, lResult, strings.Replace(lResult, "1273", "-1", 1),
			`e.yaml:8:96: results[0].samples: must not be negative, got -1`},
		{"fractional samples", 8, lResult, strings.Replace(lResult, "1273", "12.5", 1),
			`e.yaml:8:96: results[0].samples: expected an integer, got "12.5"`},
		{"empty evaluation", 8, lResult, strings.Replace(lResult, "wmdp-bio", `""`, 1),
			`e.yaml:8:40: results[0].evaluation: must not be empty`},
		{"bad incomplete flag", 8, lResult, strings.Replace(lResult, "samples: 1273", "incomplete: 1", 1),
			`e.yaml:8:99: results[0].incomplete: expected true or false, got "1"`},
		{"source with unknown field", 8, lResult, strings.Replace(lResult, "samples: 1273", "source: {format: inspect, sha: x}", 1),
			`e.yaml:8:113: results[0].source.sha: unknown field "sha"`},

		{"negative compute", 6, lCheckpoint, strings.Replace(lCheckpoint, "1e24", "-1e24", 1),
			`e.yaml:6:52: checkpoints[0].effectiveCompute: must not be negative, got -1e+24`},
		{"string compute", 6, lCheckpoint, strings.Replace(lCheckpoint, "1e24", "lots", 1),
			`e.yaml:6:52: checkpoints[0].effectiveCompute: expected a finite number, got "lots"`},
		{"missing compute", 6, lCheckpoint, strings.Replace(lCheckpoint, "effectiveCompute: 1e24, ", "", 1),
			`e.yaml:6:5: checkpoints[0].effectiveCompute: missing required field "effectiveCompute"`},
		{"empty checkpoint model", 6, lCheckpoint, strings.Replace(lCheckpoint, "model: atlas", `model: ""`, 1),
			`e.yaml:6:27: checkpoints[0].model: must not be empty`},

		{"bad status", 10, lSafeguard, strings.Replace(lSafeguard, "status: implemented", "status: active", 1),
			`e.yaml:10:54: safeguards[0].status: must be "implemented" or "revoked", got "active"`},
		{"capitalised status", 10, lSafeguard, strings.Replace(lSafeguard, "status: implemented", "status: Implemented", 1),
			`e.yaml:10:54: safeguards[0].status: must be "implemented" or "revoked", got "Implemented"`},
		{"empty by", 10, lSafeguard, strings.Replace(lSafeguard, "by: external-auditor", `by: ""`, 1),
			`e.yaml:10:71: safeguards[0].by: must not be empty`},
		{"empty safeguard model", 10, lSafeguard, strings.Replace(lSafeguard, "model: atlas", `model: ""`, 1),
			`e.yaml:10:39: safeguards[0].model: must not be empty`},

		{"date without time", 10, lSafeguard, strings.Replace(lSafeguard, "2026-02-01T00:00:00Z", "2026-02-01", 1),
			`e.yaml:10:93: safeguards[0].at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-02-01"`},
		{"time without zone", 6, lCheckpoint, strings.Replace(lCheckpoint, "2026-01-10T00:00:00Z", "2026-01-10T00:00:00", 1),
			`e.yaml:6:62: checkpoints[0].at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-01-10T00:00:00"`},
		{"impossible date", 6, lCheckpoint, strings.Replace(lCheckpoint, "2026-01-10T00:00:00Z", "2026-02-30T00:00:00Z", 1),
			`e.yaml:6:62: checkpoints[0].at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "2026-02-30T00:00:00Z"`},
		{"words for a time", 6, lCheckpoint, strings.Replace(lCheckpoint, "2026-01-10T00:00:00Z", "yesterday", 1),
			`e.yaml:6:62: checkpoints[0].at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "yesterday"`},
		{"unix time", 6, lCheckpoint, strings.Replace(lCheckpoint, "2026-01-10T00:00:00Z", "1767225600", 1),
			`e.yaml:6:62: checkpoints[0].at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "1767225600"`},
		{"missing at without default", 6, lCheckpoint, strings.Replace(lCheckpoint, ", at: 2026-01-10T00:00:00Z", "", 1),
			"e.yaml:6:5: checkpoints[0].at: missing `at` (give it in the record or with --at)"},
		{"null at without default", 16, lEscape, strings.Replace(lEscape, "2026-03-02T00:00:00Z", "~", 1),
			`e.yaml:16:75: escapes[0].at: expected an RFC 3339 time such as 2026-01-12T00:00:00Z, got "~"`},

		{"missing crossed", 12, lDetermin, strings.Replace(lDetermin, "crossed: false, ", "", 1),
			`e.yaml:12:5: determinations[0].crossed: missing required field "crossed"`},
		{"quoted crossed", 12, lDetermin, strings.Replace(lDetermin, "crossed: false", `crossed: "false"`, 1),
			`e.yaml:12:60: determinations[0].crossed: expected true or false, got "false"`},
		{"no for crossed", 12, lDetermin, strings.Replace(lDetermin, "crossed: false", "crossed: no", 1),
			`e.yaml:12:60: determinations[0].crossed: expected true or false, got "no"`},
		{"empty rationale", 12, lDetermin, strings.Replace(lDetermin, `rationale: "..."`, `rationale: ""`, 1),
			`e.yaml:12:111: determinations[0].rationale: must not be empty`},
		{"empty threshold", 12, lDetermin, strings.Replace(lDetermin, "threshold: autonomy-2", `threshold: ""`, 1),
			`e.yaml:12:39: determinations[0].threshold: must not be empty`},

		{"zero coversCompute", 14, lSafetyCase, strings.Replace(lSafetyCase, "4e26", "0", 1),
			`e.yaml:14:45: safetyCases[0].coversCompute: must be a positive FLOP count, got 0`},
		{"empty approvedBy", 14, lSafetyCase, strings.Replace(lSafetyCase, "approvedBy: external-auditor", `approvedBy: ""`, 1),
			`e.yaml:14:63: safetyCases[0].approvedBy: must not be empty`},
		{"empty escape by", 16, lEscape, strings.Replace(lEscape, "by: responsible-scaling-officer", `by: ""`, 1),
			`e.yaml:16:24: escapes[0].by: must not be empty`},
		{"empty escape model", 16, lEscape, strings.Replace(lEscape, "model: atlas", `model: ""`, 1),
			`e.yaml:16:13: escapes[0].model: must not be empty`},
		{"missing rationale", 16, lEscape, strings.Replace(lEscape, `rationale: "...", `, "", 1),
			`e.yaml:16:5: escapes[0].rationale: missing required field "rationale"`},

		{"record not a mapping", 4, lModel, "  - atlas",
			`e.yaml:4:5: models[0]: expected a mapping, got "atlas"`},
		{"section not a list", 3, "models:", "models: {id: atlas}",
			`e.yaml:4:1: invalid YAML: did not find expected key`},
		{"anchor", 4, lModel, "  - &m {id: atlas, developer: Example Lab, policy: example-rsp}",
			`e.yaml:4:5: models[0]: YAML anchors and aliases are not allowed`},
		{"two documents", 16, lEscape, lEscape + "\n---",
			`e.yaml:17:1: more than one YAML document in file`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate test name %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			src := mutate(t, base, tt.line, tt.old, tt.repl)
			_, err := Parse("e.yaml", []byte(src), time.Time{})
			if err == nil {
				t.Fatalf("Parse(%q) error = nil, want %q", tt.repl, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error = %q, want %q", tt.repl, got, tt.want)
			}
			var ye *yamlx.Error
			if !errors.As(err, &ye) {
				t.Errorf("Parse(%q) error = %#v, want a *yamlx.Error", tt.repl, err)
			}
		})
	}
}

func TestParseEmptySections(t *testing.T) {
	src := "apiVersion: scalegate.dev/v1\nkind: Evidence\nmodels: []\nresults:\n"
	f, err := Parse("e.yaml", []byte(src), time.Time{})
	if err != nil {
		t.Fatalf("Parse(%q) error = %q, want nil", src, err)
	}
	if len(f.Models) != 0 || f.Results != nil {
		t.Errorf("Parse(%q) = %+v, want no records", src, f)
	}
}

func TestLoadErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := Load(missing, time.Time{})
	if err == nil || !strings.HasPrefix(err.Error(), missing+": ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(%q) error = %v, want a not-exist error naming the file", missing, err)
	}
}
