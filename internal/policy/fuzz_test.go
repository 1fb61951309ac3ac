package policy

import (
	"os"
	"strings"
	"testing"
)

// FuzzParsePolicy checks that Parse never panics, that every error names
// the file first and is one line, and that every condition of an accepted
// policy evaluates the same natively and through CEL.
func FuzzParsePolicy(f *testing.F) {
	base, err := os.ReadFile(exampleFile)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(base)
	src := string(base)
	for _, m := range [][2]string{
		{"stance: evidence-of-danger\n", "stance: affirmative-safety\naffirmative: {aboveCompute: 1e26}\n"},
		{"stance: evidence-of-danger\n", "stance: affirmative-safety\n"},
		{`trigger: score("wmdp-bio") >= 0.70`, `trigger: score("wmdp-bio") >= 0.70 || (compute > 1e26 && !(score("re-bench") < 0.5))`},
		{`trigger: score("wmdp-bio") >= 0.70`, `trigger: '[1,2,3].all(x, score("wmdp-bio") > double(x) / 10.0)'`},
		{`trigger: score("wmdp-bio") >= 0.70`, `trigger: score("wmdp-chem") >= 0.70`},
		{`trigger: score("wmdp-bio") >= 0.70`, `trigger: score("wmdp-bio") + 1.0`},
		{"redLine: true", `redLine: "true"`},
		{"interval: 180d", "interval: 999999d"},
		{"computeMultiple: 4", "computeMultiple: .nan"},
		{"  attesters: [external-auditor]", "  attesters: [{name: a, key: \"a+7a6d1ef8+AXi3\"}]"},
		{"kind: Policy\n", "kind: &k Policy\n"},
		{"kind: Policy\n", "kind: Policy\n---\n"},
		{"  - id: autonomy-2", "  - id: cbrn-3"},
		{"      deployment: {", "      deployment: {public: x, "},
	} {
		if !strings.Contains(src, m[0]) {
			f.Fatalf("seed mutation %q does not apply", m[0])
		}
		f.Add([]byte(strings.Replace(src, m[0], m[1], 1)))
	}
	f.Add([]byte(""))
	f.Add([]byte("apiVersion: [[[[[[[[[[[["))
	f.Add([]byte("a: &a [x, x]\nb: [*a, *a]\n"))
	f.Add([]byte("\"x\\ny\": 1\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		const file = "fuzz.yaml"
		p, err := Parse(file, data)
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
		if p.Digest == "" || p.Doc == nil {
			t.Fatalf("Parse(%q) = %+v, missing digest or doc", data, p)
		}
		for _, w := range p.Warnings {
			if !strings.HasPrefix(w, file+":") {
				t.Fatalf("Parse(%q) warning = %q, want it to start with %q", data, w, file+":")
			}
		}
		in := []scores{{}, {"wmdp-bio": 0.65, "re-bench": 0.2}, {"wmdp-bio": 0.9}}
		for _, th := range p.Thresholds {
			for _, c := range []*Cond{th.TriggerCond, th.WarningCond, th.ClearCond} {
				if c == nil || c.Simple == nil {
					continue
				}
				for i, s := range in {
					for _, compute := range []float64{0, 1e26, 4e27} {
						if a, b := c.Eval(s, compute), viaCEL(c).Eval(s, compute); a != b {
							t.Fatalf("condition %q on input %d, compute %g: native = %v, CEL = %v", c.Source, i, compute, a, b)
						}
					}
				}
			}
		}
	})
}
