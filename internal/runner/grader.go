package runner

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// The templates, instructions and grade pattern of Inspect's
// model_graded_qa and model_graded_fact scorers.
const (
	ModelGradedQATemplate = `
You are assessing a submitted answer on a given task based on a criterion. Here is the data:

[BEGIN DATA]
***
[Task]: {question}
***
[Submission]: {answer}
***
[Criterion]: {criterion}
***
[END DATA]

Does the submission meet the criterion?

{instructions}
`
	ModelGradedFactTemplate = `
You are comparing a submitted answer to an expert answer on a given question. Here is the data:

[BEGIN DATA]
************
[Question]: {question}
************
[Expert]: {criterion}
************
[Submission]: {answer}
************
[END DATA]

Compare the factual content of the submitted answer with the expert answer. Ignore any differences in style, grammar, or punctuation.

Does the submission contain the content in the expert answer?

{instructions}
`
	// DefaultGradePattern is Inspect's pattern (Python's "$" also matches
	// before a final newline, hence the "\n?").
	DefaultGradePattern = `(?i)GRADE\s*:\s*([CPI])(.*)\n?$`
)

// GraderInstructions are Inspect's default grading instructions.
func GraderInstructions(partialCredit bool) string {
	pl, pp := "", ""
	if partialCredit {
		pl, pp = "P", `"P" for partially correct answers,`
	}
	return fmt.Sprintf(`
After assessing the submitted answer, reply with 'GRADE: $LETTER' (without quotes) where LETTER is one of C%sI.  Please choose ONE option for the grade: either "C" for correct answers, %sor "I" for incorrect answers.

For example, after reviewing a correct answer you might write 'GRADE: C' or after reviewing an incorrect answer you might write 'GRADE: I'.

First, write out in a step by step manner your reasoning about the criterion to be sure that your conclusion is correct. Avoid simply stating the correct answers at the outset. Then, end with your answer formatted as 'GRADE: $LETTER' (without quotes) where LETTER is one of C%sI.
`, pl, pp, pl)
}

func compileGradePattern(p string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("bad grade pattern: %w", err)
	}
	return re, nil
}

// ModelGraded is Inspect's model_graded_qa (or, with Fact,
// model_graded_fact) scorer: a grader model reads the question, the
// output and the target as the criterion, and its "GRADE: C|P|I" is the
// score.
type ModelGraded struct {
	Grader       *Client
	Template     string
	Instructions string
	Pattern      *regexp.Regexp
	Spec         GraderSpec
}

// NewModelGraded returns a model-graded scorer.
func NewModelGraded(grader *Client, spec *GraderSpec) (*ModelGraded, error) {
	m := &ModelGraded{Grader: grader, Spec: *spec}
	m.Template = spec.Template
	if m.Template == "" {
		m.Template = ModelGradedQATemplate
		if spec.Fact {
			m.Template = ModelGradedFactTemplate
		}
	}
	m.Instructions = spec.Instructions
	if m.Instructions == "" {
		m.Instructions = GraderInstructions(spec.PartialCredit)
	}
	p := spec.GradePattern
	if p == "" {
		p = DefaultGradePattern
	}
	re, err := compileGradePattern(p)
	if err != nil {
		return nil, err
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("grade pattern %q needs a capture group", p)
	}
	m.Pattern = re
	return m, nil
}

// Name implements Scorer.
func (m *ModelGraded) Name() string {
	if m.Spec.Fact {
		return "model_graded_fact"
	}
	return "model_graded_qa"
}

// Params implements Scorer.
func (m *ModelGraded) Params() map[string]any {
	p := map[string]any{"partial_credit": m.Spec.PartialCredit, "model": m.Grader.Model}
	if m.Spec.Template != "" {
		p["template"] = m.Spec.Template
	}
	if m.Spec.Instructions != "" {
		p["instructions"] = m.Spec.Instructions
	}
	if m.Spec.GradePattern != "" {
		p["grade_pattern"] = m.Spec.GradePattern
	}
	return p
}

// Remote implements Scorer.
func (m *ModelGraded) Remote() bool { return true }

// Prompt is the grading prompt for an output.
func (m *ModelGraded) Prompt(s *Sample, output string) string {
	vars := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(s.Metadata)) {
		vars[k] = fmt.Sprint(s.Metadata[k])
	}
	vars["question"] = s.InputText()
	vars["answer"] = output
	vars["criterion"] = s.TargetText()
	vars["instructions"] = m.Instructions
	var b strings.Builder
	t := m.Template
	for i := 0; i < len(t); {
		switch {
		case strings.HasPrefix(t[i:], "{{"):
			b.WriteByte('{')
			i += 2
		case strings.HasPrefix(t[i:], "}}"):
			b.WriteByte('}')
			i += 2
		case t[i] == '{':
			if name, n := placeholder(t[i:]); n > 0 {
				if v, ok := vars[name]; ok {
					b.WriteString(v)
					i += n
					continue
				}
			}
			b.WriteByte('{')
			i++
		default:
			b.WriteByte(t[i])
			i++
		}
	}
	return b.String()
}

// Score implements Scorer: one grader request (with the client's retries).
func (m *ModelGraded) Score(ctx context.Context, s *Sample, output string) (Score, error) {
	c, err := m.Grader.Chat(ctx, []Message{{Role: "user", Content: m.Prompt(s, output)}})
	if err != nil {
		return Score{}, fmt.Errorf("grader: %w", err)
	}
	g := m.Pattern.FindStringSubmatch(c.Content)
	if g == nil {
		return Score{Value: Incorrect, Explanation: "Grade not found in model output: " + c.Content}, nil
	}
	return Score{Value: g[1], Answer: output, Explanation: c.Content}, nil
}
