package policy

import (
	"fmt"
	"strings"
	"testing"
)

// TestParseHostile feeds Parse documents designed to exhaust memory or
// time. Each must be refused, quickly (the suite's running time shows it;
// nothing here is timed).
func TestParseHostile(t *testing.T) {
	base := readExample(t)
	const trigger = `    trigger: score("wmdp-bio") >= 0.70`
	withTrigger := func(expr string) string {
		return mutate(t, base, 35, trigger, "    trigger: '"+strings.ReplaceAll(expr, "'", "''")+"'")
	}

	// Billion laughs: nine levels of ten aliases each.
	laughs := "apiVersion: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		laughs += "kind: &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	laughsLate := strings.Replace(base, "governance:\n", "governance:\n  decisionMakers: &a [x, x, x, x, x, x, x, x, x, x]\n", 1)

	list := "[1,2,3,4,5,6,7,8,9,10]"
	comprehension := `score("wmdp-bio") > 0.5`
	for i := 0; i < 4; i++ {
		comprehension = fmt.Sprintf("%s.all(v%d, %s)", list, i, comprehension)
	}

	padding := strings.Repeat("# padding to make the document large\n", 2<<20/37+1)
	big := base + padding

	tests := []struct {
		name, src, want string
	}{
		{"billion laughs", laughs,
			"policy.yaml:1:13: apiVersion: YAML anchors and aliases are not allowed"},
		{"anchor deep in a valid policy", laughsLate,
			"policy.yaml:64:19: governance.decisionMakers: YAML anchors and aliases are not allowed"},
		{"alias bomb under an unknown key", "lol: &a [x, x]\nlol2: [*a, *a]\n" + base,
			`policy.yaml:1:1: lol: unknown field "lol"`},
		{"nested flow sequences", "domains: " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n",
			"policy.yaml: invalid YAML: exceeded max depth of 10000"},
		{"nested flow mappings", "metadata: " + strings.Repeat("{a: ", 100000) + "b" + strings.Repeat("}", 100000) + "\n",
			"policy.yaml: invalid YAML: exceeded max depth of 10000"},
		{"nested below the parser's limit", "domains: " + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "\n",
			"policy.yaml:1:11: domains[0]: expected a mapping, got a list"},
		{"2 MB document", big,
			fmt.Sprintf("policy.yaml: document is %d bytes; the limit is 1048576", len(big))},
		{"nested comprehensions", withTrigger(comprehension),
			"policy.yaml:35:14: thresholds[0].trigger: expression may cost up to 65551 units to evaluate; the limit is 10000"},
		{"expression over 2048 characters", withTrigger(strings.Repeat(`score("wmdp-bio") > 0.5 || `, 80) + "false"),
			"policy.yaml:35:14: thresholds[0].trigger: expression is 2165 characters long; the limit is 2048"},
		{"deeply parenthesised expression", withTrigger(strings.Repeat("(", 1000) + `score("wmdp-bio") > 0.5` + strings.Repeat(")", 1000)),
			"policy.yaml:35:14: thresholds[0].trigger: invalid expression: expression recursion limit exceeded: 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("policy.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse(%.60q...) error = nil, want %q", tt.src, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%.60q...) error = %q, want %q", tt.src, got, tt.want)
			}
		})
	}
}
