package policy

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"scalegate.dev/scalegate/internal/yamlx"
)

const exampleFile = "testdata/example.yaml"

func readExample(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mutate replaces line n (1-based) of src, which must read old, with repl
// (which may span lines or be empty to drop the line's content).
func mutate(t testing.TB, src string, n int, old, repl string) string {
	t.Helper()
	lines := strings.Split(src, "\n")
	if n < 1 || n > len(lines) || lines[n-1] != old {
		t.Fatalf("line %d of %s is not %q", n, exampleFile, old)
	}
	lines[n-1] = repl
	return strings.Join(lines, "\n")
}

// TestParseBad checks that each one-line mutation of the example policy is
// refused with exactly the expected one-line error.
func TestParseBad(t *testing.T) {
	base := readExample(t)
	tests := []struct {
		name      string
		line      int
		old, repl string
		want      string
	}{
		// Unknown fields.
		{"unknown top-level field", 11, "stance: evidence-of-danger", "stanse: evidence-of-danger",
			`policy.yaml:11:1: stanse: unknown field "stanse" (did you mean "stance"?)`},
		{"unknown threshold field", 47, "    redLine: true", "    redline: true",
			`policy.yaml:47:5: thresholds[1].redline: unknown field "redline" (did you mean "redLine"?)`},
		{"unknown field far from any", 10, "  source: https://example.org/rsp-v1.pdf", "  homepage: https://example.org/rsp-v1.pdf",
			`policy.yaml:10:3: metadata.homepage: unknown field "homepage"`},
		{"duplicate field", 10, "  source: https://example.org/rsp-v1.pdf", "  name: example-rsp",
			`policy.yaml:10:3: metadata.name: duplicate field "name"`},

		// Wrong types.
		{"list for string", 7, "  name: example-rsp", "  name: [example-rsp]",
			`policy.yaml:7:9: metadata.name: expected a string, got a list`},
		{"mapping for string", 33, "    name: CBRN-3", "    name: {en: CBRN-3}",
			`policy.yaml:33:11: thresholds[0].name: expected a string, got a mapping`},
		{"null for string", 9, "  developer: Example Lab", "  developer:",
			`policy.yaml:9:13: metadata.developer: expected a string, got null`},
		{"string for number", 59, "  computeMultiple: 4", "  computeMultiple: four",
			`policy.yaml:59:20: cadence.computeMultiple: expected a finite number, got "four"`},
		{"quoted number", 62, "  exemptBelowCompute: 1e23", `  exemptBelowCompute: "1e23"`,
			`policy.yaml:62:23: cadence.exemptBelowCompute: expected a finite number, got "1e23"`},
		{"quoted bool", 47, "    redLine: true", `    redLine: "true"`,
			`policy.yaml:47:14: thresholds[1].redLine: expected true or false, got "true"`},
		{"yes for bool", 67, "  escapeClause: {allowed: false}", "  escapeClause: {allowed: no}",
			`policy.yaml:67:27: governance.escapeClause.allowed: expected true or false, got "no"`},
		{"string for list", 38, "    requires: [asl3-security, asl3-deployment]", "    requires: asl3-security",
			`policy.yaml:38:15: thresholds[0].requires: expected a list, got "asl3-security"`},
		{"list for mapping", 41, "      deployment: {internal: require-safeguards, external: require-safeguards, open-weights: deny}", "      deployment: [deny]",
			`policy.yaml:41:19: thresholds[0].onCross.deployment: expected a mapping, got a list`},
		{"scalar for struct", 67, "  escapeClause: {allowed: false}", "  escapeClause: false",
			`policy.yaml:67:17: governance.escapeClause: expected a mapping, got "false"`},
		{"scalar before nested block", 39, "    onCross:", "    onCross: pause",
			`policy.yaml:40:1: invalid YAML: mapping values are not allowed in this context`},
		{"list for duration", 66, "  scrutinyPeriod: 30d", "  scrutinyPeriod: [30d]",
			`policy.yaml:66:19: governance.scrutinyPeriod: expected a duration such as 180d or 12h`},

		// Enumerations.
		{"bad stance", 11, "stance: evidence-of-danger", "stance: yolo",
			`policy.yaml:11:9: stance: must be "evidence-of-danger" or "affirmative-safety", got "yolo"`},
		{"bad evaluation kind", 18, "    kind: capability", "    kind: capabilities",
			`policy.yaml:18:11: evaluations[0].kind: must be one of "capability", "propensity", "control", "understanding", got "capabilities"`},
		{"bad minElicitation", 19, "    minElicitation: finetuned", "    minElicitation: fine-tuned",
			`policy.yaml:19:21: evaluations[0].minElicitation: must be one of "none", "prompted", "cot", "scaffolded", "finetuned", got "fine-tuned"`},
		{"bad source format", 23, "      - {format: inspect, task: inspect_evals/wmdp_bio, scorer: choice, metric: accuracy}", "      - {format: helm, task: wmdp, metric: accuracy}",
			`policy.yaml:23:18: evaluations[0].sources[0].format: must be "inspect" or "lm-eval", got "helm"`},
		{"missing source metric", 24, `      - {format: lm-eval, task: wmdp_bio, metric: "acc,none"}`, "      - {format: lm-eval, task: wmdp_bio}",
			`policy.yaml:24:9: evaluations[0].sources[1].metric: missing required field "metric"`},
		{"bad safeguard kind", 51, "    kind: security", "    kind: cyber",
			`policy.yaml:51:11: safeguards[0].kind: must be one of "security", "deployment", "alignment", "governance", "other", got "cyber"`},
		{"bad attestation", 57, "    attestation: self", "    attestation: internal",
			`policy.yaml:57:18: safeguards[1].attestation: must be "self" or "external", got "internal"`},
		{"bad onCross.training", 40, "      training: pause", "      training: stop",
			`policy.yaml:40:17: thresholds[0].onCross.training: must be "pause" or "continue", got "stop"`},
		{"bad deployment mode", 41, "      deployment: {internal: require-safeguards, external: require-safeguards, open-weights: deny}", "      deployment: {internal: require-safeguards, public: allow}",
			`policy.yaml:41:58: thresholds[0].onCross.deployment.public: unknown deployment mode "public"; modes are "internal", "external", "open-weights"`},
		{"bad deployment action", 41, "      deployment: {internal: require-safeguards, external: require-safeguards, open-weights: deny}", "      deployment: {internal: require-safeguards, external: block}",
			`policy.yaml:41:60: thresholds[0].onCross.deployment.external: must be "require-safeguards", "allow" or "deny", got "block"`},
		{"first bad deployment action in document order", 41, "      deployment: {internal: require-safeguards, external: require-safeguards, open-weights: deny}", "      deployment: {open-weights: x, internal: y, external: z}",
			`policy.yaml:41:34: thresholds[0].onCross.deployment.open-weights: must be "require-safeguards", "allow" or "deny", got "x"`},
		{"duplicate deployment mode", 41, "      deployment: {internal: require-safeguards, external: require-safeguards, open-weights: deny}", "      deployment: {internal: allow, internal: deny}",
			`policy.yaml:41:37: thresholds[0].onCross.deployment.internal: duplicate key "internal"`},
		{"bad determination", 46, "    determination: required", "    determination: maybe",
			`policy.yaml:46:20: thresholds[1].determination: must be "required", got "maybe"`},

		// Missing required fields.
		{"missing apiVersion", 4, "apiVersion: scalegate.dev/v1", "# no apiVersion",
			`policy.yaml:5:1: apiVersion: missing required field "apiVersion"`},
		{"missing metadata.name", 7, "  name: example-rsp", "  # no name",
			`policy.yaml:8:3: metadata.name: missing required field "name"`},
		{"missing metadata.developer", 9, "  developer: Example Lab", "",
			`policy.yaml:7:3: metadata.developer: missing required field "developer"`},
		{"missing domain name", 14, "  - {id: autonomy, name: Autonomous AI R&D}", "  - {id: autonomy}",
			`policy.yaml:14:5: domains[1].name: missing required field "name"`},
		{"missing evaluation kind", 27, "    kind: capability", "    # no kind",
			`policy.yaml:25:5: evaluations[1].kind: missing required field "kind"`},
		{"missing threshold domain", 43, "    domain: autonomy", "    # no domain",
			`policy.yaml:42:5: thresholds[1].domain: missing required field "domain"`},
		{"missing safeguard attestation", 53, "    attestation: external", "",
			`policy.yaml:50:5: safeguards[0].attestation: missing required field "attestation"`},
		{"missing attester name", 65, "  attesters: [external-auditor]", "  attesters: [{key: x}]",
			`policy.yaml:65:15: governance.attesters[0].name: missing required field "name"`},
		{"empty developer", 9, "  developer: Example Lab", `  developer: "  "`,
			`policy.yaml:9:14: metadata.developer: must not be empty`},

		// Identity and versions.
		{"wrong apiVersion", 4, "apiVersion: scalegate.dev/v1", "apiVersion: scalegate.dev/v2",
			`policy.yaml:4:13: apiVersion: must be "scalegate.dev/v1", got "scalegate.dev/v2"`},
		{"wrong kind", 5, "kind: Policy", "kind: Evidence",
			`policy.yaml:5:7: kind: must be "Policy", got "Evidence"`},
		{"bad name", 7, "  name: example-rsp", "  name: Example RSP",
			`policy.yaml:7:9: metadata.name: must match [a-z0-9-]+, got "Example RSP"`},
		{"name with double dash", 7, "  name: example-rsp", "  name: example--rsp",
			`policy.yaml:7:9: metadata.name: must match [a-z0-9-]+, got "example--rsp"`},
		{"bad semver", 8, "  version: 1.0.0", "  version: one",
			`policy.yaml:8:12: metadata.version: must be a semantic version such as 1.0.0, got "one"`},
		{"semver shorthand", 8, "  version: 1.0.0", "  version: 1.0",
			`policy.yaml:8:12: metadata.version: must be a semantic version such as 1.0.0, got "1.0"`},
		{"semver major only", 8, "  version: 1.0.0", "  version: 2",
			`policy.yaml:8:12: metadata.version: must be a semantic version such as 1.0.0, got "2"`},
		{"semver build metadata", 8, "  version: 1.0.0", "  version: 1.0.0+build.5",
			`policy.yaml:8:12: metadata.version: must be a semantic version such as 1.0.0, got "1.0.0+build.5"`},
		{"semver with v", 8, "  version: 1.0.0", "  version: v1.0.0",
			`policy.yaml:8:12: metadata.version: must be a semantic version such as 1.0.0, got "v1.0.0"`},
		{"semver leading zero", 8, "  version: 1.0.0", "  version: 1.01.0",
			`policy.yaml:8:12: metadata.version: must be a semantic version such as 1.0.0, got "1.01.0"`},

		// Ids and references.
		{"duplicate domain id", 14, "  - {id: autonomy, name: Autonomous AI R&D}", "  - {id: cbrn, name: Autonomous AI R&D}",
			`policy.yaml:14:10: domains[1].id: duplicate domain id "cbrn"`},
		{"duplicate evaluation id", 25, "  - id: re-bench", "  - id: wmdp-bio",
			`policy.yaml:25:9: evaluations[1].id: duplicate evaluation id "wmdp-bio"`},
		{"duplicate threshold id", 42, "  - id: autonomy-2", "  - id: cbrn-3",
			`policy.yaml:42:9: thresholds[1].id: duplicate threshold id "cbrn-3"`},
		{"duplicate safeguard id", 54, "  - id: asl3-deployment", "  - id: asl3-security",
			`policy.yaml:54:9: safeguards[1].id: duplicate safeguard id "asl3-security"`},
		{"bad id", 31, "  - id: cbrn-3", "  - id: CBRN-3",
			`policy.yaml:31:9: thresholds[0].id: must be a lowercase id ([a-z0-9._-]), got "CBRN-3"`},
		{"empty id", 13, "  - {id: cbrn, name: CBRN weapons uplift}", `  - {id: "", name: CBRN weapons uplift}`,
			`policy.yaml:13:10: domains[0].id: must be a lowercase id ([a-z0-9._-]), got ""`},
		{"undeclared domain in evaluation", 17, "    domain: cbrn", "    domain: bio",
			`policy.yaml:17:13: evaluations[0].domain: undeclared domain "bio"`},
		{"undeclared domain in threshold", 32, "    domain: cbrn", "    domain: chem",
			`policy.yaml:32:13: thresholds[0].domain: undeclared domain "chem"`},
		{"undeclared safeguard", 38, "    requires: [asl3-security, asl3-deployment]", "    requires: [asl3-security, asl4-security]",
			`policy.yaml:38:31: thresholds[0].requires[1]: undeclared safeguard "asl4-security"`},
		{"safeguard listed twice", 38, "    requires: [asl3-security, asl3-deployment]", "    requires: [asl3-security, asl3-security]",
			`policy.yaml:38:31: thresholds[0].requires[1]: safeguard "asl3-security" listed twice`},
		{"undeclared evaluation", 35, `    trigger: score("wmdp-bio") >= 0.70`, `    trigger: score("wmdp-chem") >= 0.70`,
			`policy.yaml:35:20: thresholds[0].trigger: undeclared evaluation "wmdp-chem"`},
		{"undeclared evaluation in quoted expression", 36, `    warning: score("wmdp-bio") >= 0.60`, `    warning: "score('wmdp-chem') >= 0.60"`,
			`policy.yaml:36:14: thresholds[0].warning: undeclared evaluation "wmdp-chem"`},

		// Trigger, determination, warning, clear.
		{"trigger and determination", 47, "    redLine: true", "    trigger: compute > 1e26",
			"policy.yaml:46:20: thresholds[1].determination: a threshold has either a trigger or `determination: required`, not both"},
		{"neither trigger nor determination", 46, "    determination: required", "    # no determination",
			"policy.yaml:42:5: thresholds[1]: threshold \"autonomy-2\" needs a trigger or `determination: required`"},
		{"empty trigger", 35, `    trigger: score("wmdp-bio") >= 0.70`, `    trigger: ""`,
			"policy.yaml:31:5: thresholds[0]: threshold \"cbrn-3\" needs a trigger or `determination: required`"},
		{"warning without trigger", 47, "    redLine: true", "    warning: compute > 1e25",
			`policy.yaml:47:14: thresholds[1].warning: only allowed with a trigger`},
		{"clear without trigger", 47, "    redLine: true", "    clear: compute < 1e25",
			`policy.yaml:47:12: thresholds[1].clear: only allowed with a trigger`},

		// Expressions.
		{"non-boolean expression", 35, `    trigger: score("wmdp-bio") >= 0.70`, `    trigger: score("wmdp-bio") + 0.70`,
			`policy.yaml:35:14: thresholds[0].trigger: expression must be boolean, is double`},
		{"string expression", 35, `    trigger: score("wmdp-bio") >= 0.70`, `    trigger: "'high'"`,
			`policy.yaml:35:14: thresholds[0].trigger: expression must be boolean, is string`},
		{"syntax error", 36, `    warning: score("wmdp-bio") >= 0.60`, `    warning: score("wmdp-bio") >= 0.60 )`,
			`policy.yaml:36:40: thresholds[0].warning: invalid expression: Syntax error: extraneous input ')' expecting <EOF>`},
		{"syntax error in folded scalar", 36, `    warning: score("wmdp-bio") >= 0.60`, "    warning: score(\"wmdp-bio\")\n      >= 0.60 )",
			`policy.yaml:36:14: thresholds[0].warning: invalid expression: Syntax error: extraneous input ')' expecting <EOF>`},
		{"undeclared variable", 37, `    clear: score("wmdp-bio") < 0.50`, `    clear: score("wmdp-bio") < threshold`,
			`policy.yaml:37:32: thresholds[0].clear: invalid expression: undeclared reference to 'threshold'`},
		{"score of a non-literal", 37, `    clear: score("wmdp-bio") < 0.50`, `    clear: score("wmdp" + "-bio") < 0.50`,
			`policy.yaml:37:17: thresholds[0].clear: score() takes an evaluation id as a string literal`},
		{"score of a number", 37, `    clear: score("wmdp-bio") < 0.50`, `    clear: score(1) < 0.50`,
			`policy.yaml:37:17: thresholds[0].clear: invalid expression: found no matching overload for 'score' applied to '(int)'`},
		{"score in a comprehension", 35, `    trigger: score("wmdp-bio") >= 0.70`, `    trigger: '["wmdp-bio"].exists(e, score(e) >= 0.70)'`,
			`policy.yaml:35:14: thresholds[0].trigger: score() takes an evaluation id as a string literal`},
		{"int equality with double", 35, `    trigger: score("wmdp-bio") >= 0.70`, `    trigger: score("wmdp-bio") == 1`,
			`policy.yaml:35:32: thresholds[0].trigger: invalid expression: found no matching overload for '_==_' applied to '(double, int)'`},

		// Stance.
		{"affirmative-safety without affirmative", 11, "stance: evidence-of-danger", "stance: affirmative-safety",
			"policy.yaml:11:9: stance: stance \"affirmative-safety\" needs an `affirmative` section with aboveCompute"},
		{"affirmative with evidence-of-danger", 11, "stance: evidence-of-danger", "stance: evidence-of-danger\naffirmative: {aboveCompute: 1e26}",
			`policy.yaml:12:14: affirmative: only allowed with stance "affirmative-safety"`},
		{"affirmative with default stance", 11, "stance: evidence-of-danger", "affirmative: {aboveCompute: 1e26}",
			`policy.yaml:11:14: affirmative: only allowed with stance "affirmative-safety"`},
		{"affirmative without aboveCompute", 11, "stance: evidence-of-danger", "stance: affirmative-safety\naffirmative: {}",
			`policy.yaml:12:14: affirmative.aboveCompute: missing required field "aboveCompute"`},
		{"affirmative with zero aboveCompute", 11, "stance: evidence-of-danger", "stance: affirmative-safety\naffirmative: {aboveCompute: 0}",
			`policy.yaml:12:29: affirmative.aboveCompute: must be a positive FLOP count`},

		// Durations and numbers.
		{"duration without unit", 60, "  interval: 180d", "  interval: 180",
			`policy.yaml:60:13: cadence.interval: expected a duration in h or d such as 180d or 12h, got "180"`},
		{"duration in weeks", 60, "  interval: 180d", "  interval: 26w",
			`policy.yaml:60:13: cadence.interval: expected a duration in h or d such as 180d or 12h, got "26w"`},
		{"duration in months", 60, "  interval: 180d", "  interval: 6mo",
			`policy.yaml:60:13: cadence.interval: expected a duration such as 180d or 12h, got "6mo"`},
		{"negative duration", 66, "  scrutinyPeriod: 30d", "  scrutinyPeriod: -30d",
			`policy.yaml:66:19: governance.scrutinyPeriod: expected a duration such as 180d or 12h, got "-30d"`},
		{"fractional duration", 66, "  scrutinyPeriod: 30d", "  scrutinyPeriod: 1.5d",
			`policy.yaml:66:19: governance.scrutinyPeriod: expected a duration such as 180d or 12h, got "1.5d"`},
		{"overflowing duration", 60, "  interval: 180d", "  interval: 999999d",
			`policy.yaml:60:13: cadence.interval: duration "999999d" is too long; the limit is 106751d`},
		{"empty duration", 60, "  interval: 180d", "  interval:",
			`policy.yaml:60:12: cadence.interval: expected a duration such as 180d or 12h, got ""`},
		{"NaN", 59, "  computeMultiple: 4", "  computeMultiple: .nan",
			`policy.yaml:59:20: cadence.computeMultiple: expected a finite number, got ".nan"`},
		{"infinity", 62, "  exemptBelowCompute: 1e23", "  exemptBelowCompute: .inf",
			`policy.yaml:62:23: cadence.exemptBelowCompute: expected a finite number, got ".inf"`},
		{"overflowing number", 62, "  exemptBelowCompute: 1e23", "  exemptBelowCompute: 1e999",
			`policy.yaml:62:23: cadence.exemptBelowCompute: expected a finite number, got "1e999"`},
		{"NaN chance", 20, "    chance: 0.25", "    chance: .NaN",
			`policy.yaml:20:13: evaluations[0].chance: expected a finite number, got ".NaN"`},
		{"chance of one", 20, "    chance: 0.25", "    chance: 1",
			`policy.yaml:20:13: evaluations[0].chance: must be in [0, 1), got 1`},
		{"computeMultiple of one", 59, "  computeMultiple: 4", "  computeMultiple: 1",
			`policy.yaml:59:20: cadence.computeMultiple: must be greater than 1, got 1`},
		{"warningComputeMultiple above computeMultiple", 61, "  warningComputeMultiple: 2", "  warningComputeMultiple: 8",
			`policy.yaml:61:27: cadence.warningComputeMultiple: must not exceed computeMultiple (4), got 8`},
		{"negative exemptBelowCompute", 62, "  exemptBelowCompute: 1e23", "  exemptBelowCompute: -1",
			`policy.yaml:62:23: cadence.exemptBelowCompute: must not be negative`},
		{"forecast confidence", 62, "  exemptBelowCompute: 1e23", "  forecast: {confidence: 1.5}",
			`policy.yaml:62:26: cadence.forecast.confidence: must be in (0, 1), got 1.5`},

		// Governance.
		{"duplicate decision-maker", 64, "  decisionMakers: [responsible-scaling-officer]", "  decisionMakers: [rso, rso]",
			`policy.yaml:64:25: governance.decisionMakers[1]: duplicate decision-maker "rso"`},
		{"null attester", 65, "  attesters: [external-auditor]", "  attesters: [~]",
			`policy.yaml:65:15: governance.attesters[0]: expected a string, got null`},
		{"empty attester", 65, "  attesters: [external-auditor]", `  attesters: [""]`,
			`policy.yaml:65:15: governance.attesters[0]: attester name must not be empty`},
		{"duplicate attester", 65, "  attesters: [external-auditor]", "  attesters: [external-auditor, {name: external-auditor}]",
			`policy.yaml:65:33: governance.attesters[1]: duplicate attester "external-auditor"`},
		{"attester with unknown field", 65, "  attesters: [external-auditor]", "  attesters: [{name: a, kye: b}]",
			`policy.yaml:65:25: governance.attesters[0].kye: unknown field "kye" (did you mean "key"?)`},
		{"attester key not a verifier key", 65, "  attesters: [external-auditor]", `  attesters: [{name: external-auditor, key: "external-auditor"}]`,
			`policy.yaml:65:45: governance.attesters[0].key: not a verifier key of the form name+hash+base64: malformed verifier id`},
		{"attester key with bad hash", 65, "  attesters: [external-auditor]", `  attesters: [{name: a, key: "a+zzzz+AXi3"}]`,
			`policy.yaml:65:30: governance.attesters[0].key: not a verifier key of the form name+hash+base64: malformed verifier id`},
		{"attester key is a signer key", 65, "  attesters: [external-auditor]", `  attesters: [{name: a, key: "PRIVATE+KEY+a+7a6d1ef8+AU8B3Mvd0lZ3EFdc8mwBZ3CfFZ0NcBbWHDqLwbPPFr8e"}]`,
			`policy.yaml:65:30: governance.attesters[0].key: not a verifier key of the form name+hash+base64: malformed verifier id`},

		// YAML structure.
		{"anchor", 13, "  - {id: cbrn, name: CBRN weapons uplift}", "  - &d {id: cbrn, name: CBRN weapons uplift}",
			`policy.yaml:13:5: domains[0]: YAML anchors and aliases are not allowed`},
		{"anchor on a scalar", 64, "  decisionMakers: [responsible-scaling-officer]", "  decisionMakers: [&rso responsible-scaling-officer]",
			`policy.yaml:64:20: governance.decisionMakers[0]: YAML anchors and aliases are not allowed`},
		{"alias to nothing", 65, "  attesters: [external-auditor]", "  attesters: *auditors",
			`policy.yaml: invalid YAML: unknown anchor 'auditors' referenced`},
		{"merge key", 67, "  escapeClause: {allowed: false}", "  <<: {escapeClause: {allowed: false}}",
			`policy.yaml:67:3: governance.<<: unknown field "<<"`},
		{"two documents", 67, "  escapeClause: {allowed: false}", "  escapeClause: {allowed: false}\n---\napiVersion: scalegate.dev/v1",
			`policy.yaml:68:1: more than one YAML document in file`},
		{"tab indentation", 59, "  computeMultiple: 4", "\tcomputeMultiple: 4",
			`policy.yaml:59:1: invalid YAML: found character that cannot start any token`},
		{"bad indentation", 19, "    minElicitation: finetuned", "   minElicitation: finetuned",
			`policy.yaml:16:1: invalid YAML: did not find expected '-' indicator`},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		if seen[tt.name] {
			t.Fatalf("duplicate test name %q", tt.name)
		}
		seen[tt.name] = true
		t.Run(tt.name, func(t *testing.T) {
			src := mutate(t, base, tt.line, tt.old, tt.repl)
			for range 3 { // errors must not depend on map iteration order
				_, err := Parse("policy.yaml", []byte(src))
				if err == nil {
					t.Fatalf("Parse(%q) error = nil, want %q", tt.repl, tt.want)
				}
				if got := err.Error(); got != tt.want {
					t.Fatalf("Parse(%q) error = %q, want %q", tt.repl, got, tt.want)
				}
				var ye *yamlx.Error
				if !errors.As(err, &ye) {
					t.Fatalf("Parse(%q) error = %#v, want a *yamlx.Error", tt.repl, err)
				}
			}
		})
	}
}

// TestParseGoodMutations checks variants of the example that must load.
func TestParseGoodMutations(t *testing.T) {
	base := readExample(t)
	tests := []struct {
		name      string
		line      int
		old, repl string
		check     func(*Policy) string
	}{
		{"prerelease version", 8, "  version: 1.0.0", "  version: 1.1.0-rc.1", func(p *Policy) string {
			if p.Metadata.Version != "1.1.0-rc.1" {
				return "version " + p.Metadata.Version
			}
			return ""
		}},
		{"quoted version", 8, "  version: 1.0.0", `  version: "2.0.0"`, nil},
		{"duration in hours", 60, "  interval: 180d", "  interval: 12h", func(p *Policy) string {
			if time.Duration(p.Cadence.Interval) != 12*time.Hour {
				return "interval " + p.Cadence.Interval.String()
			}
			return ""
		}},
		{"zero duration", 66, "  scrutinyPeriod: 30d", "  scrutinyPeriod: 0d", nil},
		{"longest duration", 60, "  interval: 180d", "  interval: 106751d", nil},
		{"affirmative-safety", 11, "stance: evidence-of-danger", "stance: affirmative-safety\naffirmative: {aboveCompute: 1e26}", func(p *Policy) string {
			if p.StanceOrDefault() != AffirmativeSafety || p.Affirmative == nil || p.Affirmative.AboveCompute != 1e26 {
				return "stance not affirmative"
			}
			return ""
		}},
		{"default stance", 11, "stance: evidence-of-danger", "", func(p *Policy) string {
			if p.Stance != "" || p.StanceOrDefault() != EvidenceOfDanger {
				return "stance " + p.StanceOrDefault()
			}
			return ""
		}},
		{"null affirmative", 11, "stance: evidence-of-danger", "affirmative:", nil},
		{"block scalar trigger", 35, `    trigger: score("wmdp-bio") >= 0.70`, "    trigger: |\n      score(\"wmdp-bio\") >= 0.70 ||\n      compute > 1e27", func(p *Policy) string {
			c := p.Thresholds[0].TriggerCond
			if c.Simple == nil || c.Simple.String() != `score("wmdp-bio") >= 0.7 || compute > 1e+27` {
				return "simple " + c.Simple.String()
			}
			return ""
		}},
		{"no minElicitation", 28, "    minElicitation: scaffolded", "", func(p *Policy) string {
			if e := p.Evaluation("re-bench"); e.MinElicitation != "none" {
				return "minElicitation " + e.MinElicitation
			}
			return ""
		}},
		{"forecast defaults", 62, "  exemptBelowCompute: 1e23", "  forecast: {}", func(p *Policy) string {
			if f := p.Cadence.Forecast; f == nil || f.Confidence != 0.8 || f.Buffer != 1 {
				return "forecast defaults not applied"
			}
			return ""
		}},
		{"CRLF line endings", 0, "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := base
			if tt.line > 0 {
				src = mutate(t, base, tt.line, tt.old, tt.repl)
			} else {
				src = strings.ReplaceAll(base, "\n", "\r\n")
			}
			p, err := Parse("policy.yaml", []byte(src))
			if err != nil {
				t.Fatalf("Parse(%q) error = %q, want nil", tt.repl, err)
			}
			if tt.check != nil {
				if msg := tt.check(p); msg != "" {
					t.Errorf("Parse(%q): %s", tt.repl, msg)
				}
			}
		})
	}
}

func TestLoadExample(t *testing.T) {
	for _, path := range []string{exampleFile, filepath.Join("..", "..", "policies", "example.yaml")} {
		p, err := Load(path)
		if err != nil {
			t.Fatalf("Load(%q) error = %q, want nil", path, err)
		}
		if p.Metadata != (Metadata{Name: "example-rsp", Version: "1.0.0", Developer: "Example Lab", Source: "https://example.org/rsp-v1.pdf"}) {
			t.Errorf("Load(%q).Metadata = %+v", path, p.Metadata)
		}
		if p.Doc == nil || p.Doc.File != path {
			t.Errorf("Load(%q).Doc.File = %v, want %q", path, p.Doc, path)
		}
	}

	p, err := Load(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.StanceOrDefault(); got != EvidenceOfDanger {
		t.Errorf("StanceOrDefault() = %q, want %q", got, EvidenceOfDanger)
	}
	if got := len(p.Domains); got != 2 {
		t.Errorf("len(Domains) = %d, want 2", got)
	}
	bio := p.Evaluation("wmdp-bio")
	if bio == nil || bio.Domain != "cbrn" || bio.Kind != "capability" || bio.MinElicitation != "finetuned" ||
		bio.Chance == nil || *bio.Chance != 0.25 || !bio.IsRequired() || len(bio.Sources) != 2 ||
		bio.Sources[1] != (Source{Format: "lm-eval", Task: "wmdp_bio", Metric: "acc,none"}) {
		t.Errorf("Evaluation(%q) = %+v", "wmdp-bio", bio)
	}
	if p.Evaluation("nope") != nil || p.Threshold("nope") != nil || p.Safeguard("nope") != nil {
		t.Errorf("lookups of undeclared ids are not nil")
	}

	cbrn := p.Threshold("cbrn-3")
	if cbrn == nil {
		t.Fatalf("Threshold(%q) = nil", "cbrn-3")
	}
	for _, c := range []struct {
		cond *Cond
		want string
	}{
		{cbrn.TriggerCond, `score("wmdp-bio") >= 0.7`},
		{cbrn.WarningCond, `score("wmdp-bio") >= 0.6`},
		{cbrn.ClearCond, `score("wmdp-bio") < 0.5`},
	} {
		if c.cond == nil || c.cond.Simple == nil || c.cond.Simple.String() != c.want || !reflect.DeepEqual(c.cond.Refs, []string{"wmdp-bio"}) {
			t.Errorf("cbrn-3 condition = %+v, want simple %s with refs [wmdp-bio]", c.cond, c.want)
		}
	}
	if cbrn.NeedsDetermination() || cbrn.RedLine {
		t.Errorf("cbrn-3 NeedsDetermination() = %v, RedLine = %v, want false, false", cbrn.NeedsDetermination(), cbrn.RedLine)
	}
	if got := cbrn.OnCross.TrainingAction(); got != Pause {
		t.Errorf("cbrn-3 TrainingAction() = %q, want %q", got, Pause)
	}
	for mode, want := range map[string]string{"internal": RequireSafeguards, "external": RequireSafeguards, "open-weights": Deny} {
		if got := cbrn.OnCross.DeploymentAction(mode); got != want {
			t.Errorf("cbrn-3 DeploymentAction(%q) = %q, want %q", mode, got, want)
		}
	}
	if !reflect.DeepEqual(cbrn.Requires, []string{"asl3-security", "asl3-deployment"}) {
		t.Errorf("cbrn-3 Requires = %v", cbrn.Requires)
	}

	auto := p.Threshold("autonomy-2")
	if auto == nil || !auto.NeedsDetermination() || !auto.RedLine || auto.TriggerCond != nil || auto.WarningCond != nil || auto.ClearCond != nil {
		t.Errorf("Threshold(%q) = %+v", "autonomy-2", auto)
	}
	if got := auto.OnCross.TrainingAction(); got != Pause {
		t.Errorf("autonomy-2 TrainingAction() = %q, want default %q", got, Pause)
	}
	if got := auto.OnCross.DeploymentAction("external"); got != RequireSafeguards {
		t.Errorf("autonomy-2 DeploymentAction(external) = %q, want default %q", got, RequireSafeguards)
	}

	if s := p.Safeguard("asl3-security"); s == nil || s.Attestation != "external" || s.Kind != "security" {
		t.Errorf("Safeguard(%q) = %+v", "asl3-security", s)
	}
	want := Cadence{ComputeMultiple: 4, Interval: Duration(180 * 24 * time.Hour), WarningComputeMultiple: 2, ExemptBelowCompute: 1e23}
	if !reflect.DeepEqual(p.Cadence, want) {
		t.Errorf("Cadence = %+v, want %+v", p.Cadence, want)
	}
	if got := p.Cadence.Interval.String(); got != "180d" {
		t.Errorf("Interval.String() = %q, want 180d", got)
	}
	if got := p.Governance.ScrutinyPeriod.String(); got != "30d" {
		t.Errorf("ScrutinyPeriod.String() = %q, want 30d", got)
	}
	if !p.IsDecisionMaker("responsible-scaling-officer") || p.IsDecisionMaker("external-auditor") {
		t.Errorf("IsDecisionMaker gives the wrong answers")
	}
	if a := p.Attester("external-auditor"); a == nil || a.Name != "external-auditor" || a.Key != "" {
		t.Errorf("Attester(%q) = %+v", "external-auditor", a)
	}
	if p.Attester("responsible-scaling-officer") != nil {
		t.Errorf("Attester(%q) != nil", "responsible-scaling-officer")
	}
	if p.Governance.EscapeClause.Allowed {
		t.Errorf("EscapeClause.Allowed = true, want false")
	}
	// Positions of semantic errors point into the source.
	if got, want := p.Doc.Pos("thresholds[0].trigger"), (yamlx.Pos{Line: 35, Col: 14}); got != want {
		t.Errorf("Doc.Pos(thresholds[0].trigger) = %v, want %v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing); err == nil || !strings.HasPrefix(err.Error(), missing+": ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(%q) error = %v, want a not-exist error naming the file", missing, err)
	}
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(empty); err == nil || err.Error() != empty+": empty document" {
		t.Errorf("Load(%q) error = %v, want %q", empty, err, empty+": empty document")
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, make([]byte, MaxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	want := big + ": file is 1048577 bytes; the limit is 1048576"
	if _, err := Load(big); err == nil || err.Error() != want {
		t.Errorf("Load(%q) error = %v, want %q", big, err, want)
	}
}

func TestDigest(t *testing.T) {
	src := readExample(t)
	p1, err := Parse("a.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Parse("b.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(src))
	want := "sha256:" + hex.EncodeToString(sum[:])
	if p1.Digest != want || p2.Digest != want {
		t.Errorf("Parse(example).Digest = %q, %q, want %q for both", p1.Digest, p2.Digest, want)
	}
	if string(p1.Source) != src {
		t.Errorf("Parse(example).Source differs from the input")
	}
	// The digest is of the bytes as published: a comment changes it.
	p3, err := Parse("a.yaml", []byte(src+"# a comment\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p3.Digest == want {
		t.Errorf("Parse(example + comment).Digest = %q, want a different digest", p3.Digest)
	}
}

func TestWarnings(t *testing.T) {
	base := readExample(t)
	p, err := Parse("policy.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`policy.yaml:65:15: governance.attesters[0]: attester "external-auditor" has no key: its claims cannot be verified`}
	if !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("Parse(example).Warnings = %q, want %q", p.Warnings, want)
	}

	_, vkey, err := note.GenerateKey(rand.Reader, "external-auditor")
	if err != nil {
		t.Fatal(err)
	}
	repl := "  attesters: [{name: external-auditor, key: \"" + vkey + "\"}, second]"
	src := mutate(t, base, 65, "  attesters: [external-auditor]", repl)
	p, err = Parse("policy.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse(%q) error = %q, want nil", repl, err)
	}
	want = []string{`policy.yaml:65:` + strconv.Itoa(len(repl)-len("second]")+1) + `: governance.attesters[1]: attester "second" has no key: its claims cannot be verified`}
	if !reflect.DeepEqual(p.Warnings, want) {
		t.Errorf("Parse(%q).Warnings = %q, want %q", repl, p.Warnings, want)
	}
	if a := p.Attester("external-auditor"); a == nil || a.Key != vkey {
		t.Errorf("Attester(%q) = %+v, want key %q", "external-auditor", a, vkey)
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"0h": 0, "0d": 0, "12h": 12 * time.Hour, "180d": 180 * 24 * time.Hour,
		"106751d": 106751 * 24 * time.Hour, "2562047h": 2562047 * time.Hour,
	}
	for s, want := range good {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v, want %v, nil", s, got, err, want)
		}
	}
	bad := map[string]string{
		"":                      `expected a duration such as 180d or 12h, got ""`,
		"d":                     `expected a duration such as 180d or 12h, got "d"`,
		"5":                     `expected a duration such as 180d or 12h, got "5"`,
		"10":                    `expected a duration in h or d such as 180d or 12h, got "10"`,
		"5m":                    `expected a duration in h or d such as 180d or 12h, got "5m"`,
		"5s":                    `expected a duration in h or d such as 180d or 12h, got "5s"`,
		"+5d":                   `expected a duration such as 180d or 12h, got "+5d"`,
		"-5d":                   `expected a duration such as 180d or 12h, got "-5d"`,
		"-0d":                   `expected a duration such as 180d or 12h, got "-0d"`,
		" 5d":                   `expected a duration such as 180d or 12h, got " 5d"`,
		"5 d":                   `expected a duration such as 180d or 12h, got "5 d"`,
		"1.5d":                  `expected a duration such as 180d or 12h, got "1.5d"`,
		"0x10d":                 `expected a duration such as 180d or 12h, got "0x10d"`,
		"106752d":               `duration "106752d" is too long; the limit is 106751d`,
		"2562048h":              `duration "2562048h" is too long; the limit is 106751d`,
		"99999999999999999999d": `expected a duration such as 180d or 12h, got "99999999999999999999d"`,
	}
	for s, want := range bad {
		got, err := ParseDuration(s)
		if err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) = %v, %v, want error %q", s, got, err, want)
		}
		if got < 0 {
			t.Errorf("ParseDuration(%q) = %v, want a non-negative duration", s, got)
		}
	}
}

func TestDurationString(t *testing.T) {
	for d, want := range map[Duration]string{
		0: "0d", Duration(12 * time.Hour): "12h", Duration(48 * time.Hour): "2d", Duration(36 * time.Hour): "36h",
	} {
		if got := d.String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", time.Duration(d), got, want)
		}
	}
}

func TestElicitationRank(t *testing.T) {
	for i, e := range Elicitations {
		if got := ElicitationRank(e); got != i {
			t.Errorf("ElicitationRank(%q) = %d, want %d", e, got, i)
		}
	}
	if got := ElicitationRank("Finetuned"); got != -1 {
		t.Errorf("ElicitationRank(%q) = %d, want -1", "Finetuned", got)
	}
}
