package evidence

import (
	"os"
	"strings"
	"testing"
	"time"
)

// FuzzParseEvidence checks that Parse never panics, that every error names
// the file first and is one line, and that accepted records have times.
func FuzzParseEvidence(f *testing.F) {
	for _, path := range []string{exampleFile, "testdata/no-at.yaml"} {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, true)
		f.Add(b, false)
	}
	src := readFile(f, exampleFile)
	for _, m := range [][2]string{
		{"score: 0.42", "score: .nan"},
		{"score: 0.42", `score: "0.42"`},
		{"effectiveCompute: 1e24", "effectiveCompute: -1e24"},
		{"elicitation: finetuned", "elicitation: fine-tuned"},
		{"status: implemented", "status: active"},
		{"at: 2026-01-10T00:00:00Z", "at: 2026-01-10"},
		{"crossed: false, ", ""},
		{"kind: Evidence", "kind: Policy"},
		{"apiVersion: scalegate.dev/v1", "apiVersion: v1"},
		{"models:", "&m models:"},
	} {
		if !strings.Contains(src, m[0]) {
			f.Fatalf("seed mutation %q does not apply", m[0])
		}
		f.Add([]byte(strings.Replace(src, m[0], m[1], 1)), false)
	}
	f.Add([]byte(""), false)
	f.Add([]byte("models: [[[[[[[[[[[["), false)

	defaultAt := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, withDefault bool) {
		const file = "fuzz.yaml"
		at := time.Time{}
		if withDefault {
			at = defaultAt
		}
		ef, err := Parse(file, data, at)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, file+":") {
				t.Fatalf("Parse(%q) error = %q, want it to start with %q", data, msg, file+":")
			}
			if strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("Parse(%q) error = %q, want one line", data, msg)
			}
			return
		}
		times := []time.Time{}
		for _, c := range ef.Checkpoints {
			times = append(times, c.At)
		}
		for _, r := range ef.Results {
			times = append(times, r.At)
		}
		for _, s := range ef.Safeguards {
			times = append(times, s.At)
		}
		for _, d := range ef.Determinations {
			times = append(times, d.At)
		}
		for _, s := range ef.SafetyCases {
			times = append(times, s.At)
		}
		for _, e := range ef.Escapes {
			times = append(times, e.At)
		}
		for _, tm := range times {
			if tm.IsZero() || tm.Location() != time.UTC {
				t.Fatalf("Parse(%q) gave a record time %v, want a non-zero UTC time", data, tm)
			}
		}
	})
}
