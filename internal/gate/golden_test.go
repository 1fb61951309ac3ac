package gate_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
)

var update = flag.Bool("update", false, "rewrite the golden want.json files of testdata/cases")

// goldenCase is a case directory's case.yaml.
//
//	description: what the case shows
//	policies:                       # default: policy.yaml published at 2026-01-01
//	  - {file: policy.yaml, publishedAt: 2026-01-01T00:00:00Z}
//	  - {file: policy-2.yaml, publishedAt: 2026-04-05T00:00:00Z}
//	evidence: [evidence.yaml]       # default; Seq is assigned in file order
//	action: {kind: scale, model: atlas, toCompute: 4e24, at: 2026-01-15T00:00:00Z}
//	action: {kind: deploy, checkpoint: atlas-c3, mode: external, at: …}
//
// Paths are relative to the case directory (the demo cases read the
// repository's policies/ and examples/demo/ files, so that the demo's story
// is checked as shipped).
type goldenCase struct {
	Description string `yaml:"description"`
	Policies    []struct {
		File        string    `yaml:"file"`
		PublishedAt time.Time `yaml:"publishedAt"`
	} `yaml:"policies"`
	Evidence []string `yaml:"evidence"`
	Action   struct {
		Kind       string    `yaml:"kind"`
		Model      string    `yaml:"model"`
		ToCompute  float64   `yaml:"toCompute"`
		Checkpoint string    `yaml:"checkpoint"`
		Mode       string    `yaml:"mode"`
		At         time.Time `yaml:"at"`
	} `yaml:"action"`
}

// loadGolden reads a case directory into the gate's input.
func loadGolden(t *testing.T, dir string) gate.Input {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "case.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c goldenCase
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("%s/case.yaml: %v", dir, err)
	}
	if c.Description == "" {
		t.Errorf("%s/case.yaml: no description", dir)
	}
	if len(c.Policies) == 0 {
		c.Policies = append(c.Policies, struct {
			File        string    `yaml:"file"`
			PublishedAt time.Time `yaml:"publishedAt"`
		}{"policy.yaml", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	}
	if len(c.Evidence) == 0 {
		c.Evidence = []string{"evidence.yaml"}
	}
	var in gate.Input
	for _, p := range c.Policies {
		pol, err := policy.Load(filepath.Join(dir, p.File))
		if err != nil {
			t.Fatal(err)
		}
		if p.PublishedAt.IsZero() {
			t.Fatalf("%s/case.yaml: policy %s has no publishedAt", dir, p.File)
		}
		in.Versions = append(in.Versions, gate.Version{Policy: pol, PublishedAt: p.PublishedAt})
	}
	var seq int64
	meta := func() evidence.Meta { seq++; return evidence.Meta{Seq: seq} }
	ev := &in.Evidence
	for _, name := range c.Evidence {
		f, err := evidence.Load(filepath.Join(dir, name), time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range f.Models {
			if ev.Model.ID == "" {
				ev.Model = m
			}
		}
		for _, x := range f.Checkpoints {
			x.Meta = meta()
			ev.Checkpoints = append(ev.Checkpoints, x)
		}
		for _, x := range f.Results {
			x.Meta = meta()
			ev.Results = append(ev.Results, x)
		}
		for _, x := range f.Safeguards {
			x.Meta = meta()
			ev.Safeguards = append(ev.Safeguards, x)
		}
		for _, x := range f.Determinations {
			x.Meta = meta()
			ev.Determinations = append(ev.Determinations, x)
		}
		for _, x := range f.SafetyCases {
			x.Meta = meta()
			ev.SafetyCases = append(ev.SafetyCases, x)
		}
		for _, x := range f.Escapes {
			x.Meta = meta()
			ev.Escapes = append(ev.Escapes, x)
		}
	}
	if ev.Model.ID == "" {
		t.Fatalf("%s: no evidence file declares the model", dir)
	}
	a := c.Action
	if a.Kind != gate.Scale && a.Kind != gate.Deploy {
		t.Fatalf("%s/case.yaml: action.kind = %q, want scale or deploy", dir, a.Kind)
	}
	if a.At.IsZero() {
		t.Fatalf("%s/case.yaml: action.at is required", dir)
	}
	in.Action = gate.Action{Kind: a.Kind, Model: a.Model, ToCompute: a.ToCompute, Checkpoint: a.Checkpoint, Mode: a.Mode, At: a.At}
	if in.Action.Model == "" {
		in.Action.Model = ev.Model.ID
	}
	return in
}

// TestGolden decides each case under testdata/cases and compares the
// decision, marshalled as the CLI's `-o json` does, with want.json. Run
// with `go test ./internal/gate -run TestGolden -update` (the flag after
// the package) to rewrite want.json; then read every changed file against
// DESIGN.md before committing it.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "cases", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 12 {
		t.Fatalf("found %d golden cases under testdata/cases, want at least 12", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			in := loadGolden(t, dir)
			d := gate.Decide(in)
			checkInvariants(t, filepath.Base(dir), d)
			got := mustJSON(t, d)
			path := filepath.Join(dir, "want.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/gate -run TestGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				var w gate.Decision
				if err := json.Unmarshal(want, &w); err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				t.Errorf("Decide(%s) verdict %s, reasons %v; want verdict %s, reasons %v\n%s\n(run go test ./internal/gate -run TestGolden -update, then review the diff)",
					filepath.Base(dir), d.Verdict, reasonKeys(d), w.Verdict, reasonKeys(w), firstDiff(got, want))
			}
		})
	}
}

// firstDiff shows the first line where got and want differ, with a line of
// context before it.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			ctx := ""
			if i > 0 && i-1 < len(g) {
				ctx = g[i-1]
			}
			return fmt.Sprintf("want.json line %d:\n   %s\n got: %s\nwant: %s", i+1, ctx, gl, wl)
		}
	}
	return "(no line differs)"
}
