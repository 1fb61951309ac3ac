package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// SchemaID is the $id of the policy v1 JSON Schema.
const SchemaID = "https://scalegate.dev/schema/policy-v1.json"

// Schema returns the JSON Schema (draft 2020-12) of policy format v1, as
// the loader accepts it: field names, types, enumerations, required fields,
// patterns and bounds, with unknown fields refused (additionalProperties
// false). The committed file schema/policy-v1.json is byte-identical to it
// (a test checks; `go test ./internal/policy -run TestSchemaFile -update`
// rewrites the file).
//
// The schema is a necessary condition, not a sufficient one. What it cannot
// state stays with the loader's semantic checks: ids unique, references to
// domains, evaluations and safeguards resolved, CEL conditions compiling to
// booleans, warningComputeMultiple ≤ computeMultiple, attester names
// unique, verifier keys that verify, and durations within range. Where the
// loader reads a YAML scalar of another type as text (an unquoted number
// where a string belongs), the schema asks for a string.
//
// Every call returns a fresh copy.
func Schema() []byte { return bytes.Clone(schemaJSON) }

var schemaJSON = mustMarshalSchema(schemaDoc())

// obj is a JSON object whose keys keep their order, so that the schema
// reads top-down (title, type, properties …) and its bytes are stable.
type obj []kv

type kv struct {
	k string
	v any
}

// o builds an obj from alternating keys and values.
func o(pairs ...any) obj {
	if len(pairs)%2 != 0 {
		panic("policy: odd number of arguments to o")
	}
	m := make(obj, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		m = append(m, kv{pairs[i].(string), pairs[i+1]})
	}
	return m
}

func (m obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(f.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := marshalNoEscape(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func mustMarshalSchema(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("policy: marshal schema: %v", err))
	}
	return b.Bytes()
}

func defRef(name string) obj { return o("$ref", "#/$defs/"+name) }

// withDefault adds the empty string, which the loader reads as "use the
// default", to an enumeration.
func withDefault(values []string) []string {
	return append(append([]string(nil), values...), "")
}

// nullable lists a JSON type together with null, for fields the loader
// accepts as null (pointers, lists, maps).
func nullable(t string) []string { return []string{t, "null"} }

// bounded is a top-level list, at most MaxItems long.
func bounded(item any, desc string) obj {
	return o(
		"description", desc,
		"type", nullable("array"),
		"maxItems", MaxItems,
		"items", item,
	)
}

// semverPattern accepts a canonical semantic version without the leading
// v: MAJOR.MINOR.PATCH with an optional pre-release and no build metadata
// (golang.org/x/mod/semver's Canonical form, which the loader requires).
const semverPattern = `^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)` +
	`(-(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)(\.(0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*))*)?$`

// verifierKeyPattern is a note verifier key for Ed25519: name+hash+key,
// the key being 33 bytes (algorithm byte and public key) in standard
// base64. Empty means no key.
const verifierKeyPattern = `^$|^[^+\s]+\+[0-9a-fA-F]{8}\+[A-Za-z0-9+/]{44}$`

// durationPattern is a whole number of hours or days.
const durationPattern = `^[0-9]+[hd]$`

func schemaDoc() obj {
	triggerGiven := o(
		"required", []string{"trigger"},
		"properties", o("trigger", o("minLength", 1)),
	)
	return o(
		"$schema", "https://json-schema.org/draft/2020-12/schema",
		"$id", SchemaID,
		"title", "scalegate policy, format v1",
		"description", "A frontier AI scaling policy as code: risk domains, evaluations, capability thresholds with their triggers or required determinations, safeguards, reassessment cadence and governance. See docs/policy.md. Loading also checks what a schema cannot: unique ids, resolved references, CEL conditions that compile to booleans.",
		"type", "object",
		"additionalProperties", false,
		"required", []string{"apiVersion", "kind", "metadata"},
		"properties", o(
			"apiVersion", o("const", APIVersion),
			"kind", o("const", Kind),
			"metadata", defRef("metadata"),
			"stance", o(
				"description", "evidence-of-danger (the default; empty means the default): scale until evaluations show danger. affirmative-safety: beyond affirmative.aboveCompute, scale only with an approved safety case.",
				"type", "string",
				"enum", withDefault([]string{EvidenceOfDanger, AffirmativeSafety}),
			),
			"affirmative", defRef("affirmative"),
			"domains", bounded(defRef("domain"), "Risk domains."),
			"evaluations", bounded(defRef("evaluation"), "Evaluations the policy relies on."),
			"thresholds", bounded(defRef("threshold"), "Capability thresholds."),
			"safeguards", bounded(defRef("safeguard"), "Safeguards that thresholds may require."),
			"cadence", defRef("cadence"),
			"governance", defRef("governance"),
		),
		"if", o(
			"required", []string{"stance"},
			"properties", o("stance", o("const", AffirmativeSafety)),
		),
		"then", o(
			"required", []string{"affirmative"},
			"properties", o("affirmative", o("type", "object")),
		),
		"else", o(
			"properties", o("affirmative", o("type", "null")),
		),
		"$defs", o(
			"id", o(
				"description", "A lowercase identifier.",
				"type", "string",
				"pattern", idRE.String(),
			),
			"nonBlank", o(
				"type", "string",
				"pattern", `\S`,
			),
			"duration", o(
				"description", "A whole number of hours or days: 12h, 180d.",
				"type", "string",
				"pattern", durationPattern,
			),
			"condition", o(
				"description", "A CEL boolean expression over score(\"<evaluation id>\") and compute.",
				"type", "string",
				"maxLength", MaxExprLength,
			),
			"metadata", o(
				"type", "object",
				"additionalProperties", false,
				"required", []string{"name", "version", "developer"},
				"properties", o(
					"name", o(
						"description", "Stable across versions.",
						"type", "string",
						"pattern", nameRE.String(),
					),
					"version", o(
						"description", "A semantic version such as 1.0.0 (no build metadata); versions of one name are published in increasing order.",
						"type", "string",
						"pattern", semverPattern,
					),
					"developer", o(
						"description", "Who the policy binds.",
						"$ref", "#/$defs/nonBlank",
					),
					"source", o(
						"description", "Where the policy text is published.",
						"type", "string",
					),
				),
			),
			"affirmative", o(
				"description", "Only with stance affirmative-safety.",
				"type", nullable("object"),
				"additionalProperties", false,
				"required", []string{"aboveCompute"},
				"properties", o(
					"aboveCompute", o(
						"description", "FLOP beyond which scaling and deploying need an approved safety case covering the compute.",
						"type", "number",
						"exclusiveMinimum", 0,
					),
				),
			),
			"domain", o(
				"type", "object",
				"additionalProperties", false,
				"required", []string{"id", "name"},
				"properties", o(
					"id", defRef("id"),
					"name", o("type", "string"),
				),
			),
			"evaluation", o(
				"type", "object",
				"additionalProperties", false,
				"required", []string{"id", "domain", "kind"},
				"properties", o(
					"id", defRef("id"),
					"domain", o(
						"description", "A declared domain id.",
						"$ref", "#/$defs/id",
					),
					"kind", o(
						"type", "string",
						"enum", EvaluationKinds,
					),
					"minElicitation", o(
						"description", "Weaker results do not count. none (the default; empty means the default) < prompted < cot < scaffolded < finetuned.",
						"type", "string",
						"enum", withDefault(Elicitations),
					),
					"required", o(
						"description", "Part of every assessment (default true).",
						"type", nullable("boolean"),
					),
					"chance", o(
						"description", "Score of a random guesser, used by forecasting.",
						"type", nullable("number"),
						"minimum", 0,
						"exclusiveMaximum", 1,
					),
					"sources", o(
						"description", "Where an evaluation log's score comes from.",
						"type", nullable("array"),
						"items", defRef("source"),
					),
					"description", o("type", "string"),
				),
			),
			"source", o(
				"type", "object",
				"additionalProperties", false,
				"required", []string{"format", "task", "metric"},
				"properties", o(
					"format", o(
						"type", "string",
						"enum", []string{"inspect", "lm-eval"},
					),
					"task", o("type", "string"),
					"scorer", o("type", "string"),
					"metric", o("type", "string"),
				),
			),
			"threshold", o(
				"type", "object",
				"additionalProperties", false,
				"required", []string{"id", "domain", "name"},
				"properties", o(
					"id", defRef("id"),
					"domain", o(
						"description", "A declared domain id.",
						"$ref", "#/$defs/id",
					),
					"name", o("type", "string"),
					"description", o("type", "string"),
					"trigger", o(
						"description", "Crosses the threshold. Exactly one of trigger and `determination: required`.",
						"$ref", "#/$defs/condition",
					),
					"warning", o(
						"description", "Early warning; only with a trigger.",
						"$ref", "#/$defs/condition",
					),
					"clear", o(
						"description", "Un-crosses the threshold (hysteresis); only with a trigger.",
						"$ref", "#/$defs/condition",
					),
					"determination", o(
						"description", "required: the threshold is left to judgment and needs a recorded determination per checkpoint.",
						"type", "string",
						"enum", withDefault([]string{"required"}),
					),
					"redLine", o(
						"description", "Never crossed under this version; only a newer, scrutinised version can open it.",
						"type", "boolean",
					),
					"hole", o(
						"description", "What is not known yet (for example why no safeguards suffice).",
						"type", "string",
					),
					"requires", o(
						"description", "Declared safeguard ids that must be in force while the threshold is crossed.",
						"type", nullable("array"),
						"uniqueItems", true,
						"items", defRef("id"),
					),
					"onCross", defRef("onCross"),
					"baselineOf", o(
						"description", "The id of a baseline policy's threshold this one implements.",
						"type", "string",
					),
				),
				"oneOf", []any{
					triggerGiven,
					o(
						"required", []string{"determination"},
						"properties", o("determination", o("const", "required")),
					),
				},
				"if", o("not", triggerGiven),
				"then", o(
					"properties", o(
						"warning", o("maxLength", 0),
						"clear", o("maxLength", 0),
					),
				),
			),
			"onCross", o(
				"description", "What holds while the threshold is crossed.",
				"type", "object",
				"additionalProperties", false,
				"properties", o(
					"training", o(
						"description", "pause (the default; empty means the default): no further scaling until every required safeguard is in force. continue: scaling is not gated.",
						"type", "string",
						"enum", withDefault([]string{Pause, Continue}),
					),
					"deployment", o(
						"description", "Per deployment mode: require-safeguards (the default), allow, or deny whatever the safeguards.",
						"type", nullable("object"),
						"additionalProperties", false,
						"properties", deploymentModes(),
					),
				),
			),
			"safeguard", o(
				"type", "object",
				"additionalProperties", false,
				"required", []string{"id", "kind", "attestation"},
				"properties", o(
					"id", defRef("id"),
					"kind", o(
						"type", "string",
						"enum", SafeguardKinds,
					),
					"description", o("type", "string"),
					"attestation", o(
						"description", "external: only a record by one of governance.attesters puts the safeguard in force.",
						"type", "string",
						"enum", []string{"self", "external"},
					),
				),
			),
			"cadence", o(
				"description", "How often a model must be reassessed.",
				"type", "object",
				"additionalProperties", false,
				"properties", o(
					"computeMultiple", o(
						"description", "Reassess at least every this many times the assessed effective compute (greater than 1; 0 means unset).",
						"type", "number",
						"anyOf", []any{o("const", 0), o("exclusiveMinimum", 1)},
					),
					"interval", o(
						"description", "And at least this often.",
						"$ref", "#/$defs/duration",
					),
					"warningComputeMultiple", o(
						"description", "The tighter step while any warning fires (greater than 1, at most computeMultiple; 0 means unset).",
						"type", "number",
						"anyOf", []any{o("const", 0), o("exclusiveMinimum", 1)},
					),
					"exemptBelowCompute", o(
						"description", "Scaling targets at or below this FLOP need no assessment.",
						"type", "number",
						"minimum", 0,
					),
					"forecast", defRef("forecast"),
				),
			),
			"forecast", o(
				"description", "Deny steps past a forecast threshold crossing (docs/gate.md).",
				"type", nullable("object"),
				"additionalProperties", false,
				"properties", o(
					"confidence", o(
						"description", "In (0, 1); 0 means the default, 0.8.",
						"type", "number",
						"minimum", 0,
						"exclusiveMaximum", 1,
					),
					"buffer", o(
						"description", "At least 1; 0 means the default, 1.",
						"type", "number",
						"anyOf", []any{o("const", 0), o("minimum", 1)},
					),
				),
			),
			"governance", o(
				"type", "object",
				"additionalProperties", false,
				"properties", o(
					"decisionMakers", o(
						"description", "Who may record determinations and invoke an escape clause.",
						"type", nullable("array"),
						"uniqueItems", true,
						"items", defRef("nonBlank"),
					),
					"attesters", o(
						"description", "Identities whose attestations count as external.",
						"type", nullable("array"),
						"uniqueItems", true,
						"items", defRef("attester"),
					),
					"scrutinyPeriod", o(
						"description", "A newer version takes force this long after publication (default 0).",
						"$ref", "#/$defs/duration",
					),
					"externalReview", o("type", "string"),
					"escapeClause", defRef("escapeClause"),
				),
			),
			"attester", o(
				"description", "A name, or {name, key} with a note verifier key whose signatures the attester's claims need.",
				"oneOf", []any{
					defRef("nonBlank"),
					o(
						"type", "object",
						"additionalProperties", false,
						"required", []string{"name"},
						"properties", o(
							"name", defRef("nonBlank"),
							"key", o(
								"description", "A note verifier key: name+hash+base64.",
								"type", "string",
								"pattern", verifierKeyPattern,
							),
						),
					),
				},
			),
			"escapeClause", o(
				"type", "object",
				"additionalProperties", false,
				"properties", o(
					"allowed", o("type", "boolean"),
					"conditions", o("type", "string"),
				),
			),
		),
	)
}

func deploymentModes() obj {
	m := make(obj, 0, len(Modes))
	for _, mode := range Modes {
		m = append(m, kv{mode, o(
			"type", "string",
			"enum", []string{RequireSafeguards, Allow, Deny},
		)})
	}
	return m
}
