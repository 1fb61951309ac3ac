package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Inspect's score values.
const (
	Correct   = "C"
	Incorrect = "I"
	Partial   = "P"
	NoAnswer  = "N"
)

// Score is a sample's score, as Inspect records it: a value ("C", "I",
// "P", "N" or a number), the answer extracted from the output, and an
// explanation.
type Score struct {
	Value       any    `json:"value"`
	Answer      string `json:"answer,omitempty"`
	Explanation string `json:"explanation,omitempty"`
}

// Float is the score's value as a number (see ValueToFloat).
func (s *Score) Float() float64 { return ValueToFloat(s.Value) }

// ValueToFloat converts a score value as Inspect's value_to_float does:
// numbers and booleans as they are; "C" 1, "P" 0.5, "I" and "N" 0; other
// strings "yes"/"true" 1, "no"/"false" 0, a decimal number its value;
// anything else 0.
func ValueToFloat(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case bool:
		if x {
			return 1
		}
		return 0
	case string:
		switch x {
		case Correct:
			return 1
		case Partial:
			return 0.5
		case Incorrect, NoAnswer:
			return 0
		}
		l := strings.ToLower(x)
		switch l {
		case "yes", "true":
			return 1
		case "no", "false":
			return 0
		}
		if f, err := strconv.ParseFloat(l, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && isDecimal(l) {
			return f
		}
	}
	return 0
}

func isDecimal(s string) bool {
	dots := 0
	for _, r := range s {
		switch {
		case r == '.':
			dots++
		case r < '0' || r > '9':
			return false
		}
	}
	return len(s) > dots
}

// Scorer scores a sample's output.
type Scorer interface {
	// Name is the Inspect scorer name ("choice", "exact", "match",
	// "includes", "pattern", "model_graded_qa", "model_graded_fact").
	Name() string
	// Params are the scorer's parameters as Inspect logs them.
	Params() map[string]any
	// Remote reports that scoring makes requests (a grader model), so a
	// run records the output before it is scored.
	Remote() bool
	// Score scores output for s.
	Score(ctx context.Context, s *Sample, output string) (Score, error)
}

// NewScorer returns the scorer a suite names. grader is the grader client
// of a model-graded suite (nil otherwise).
func NewScorer(spec *ScorerSpec, grader *Client) (Scorer, error) {
	ic := spec.IgnoreCase == nil || *spec.IgnoreCase
	switch spec.Kind {
	case ScorerChoice:
		return ChoiceScorer{}, nil
	case ScorerExact:
		return ExactScorer{}, nil
	case ScorerMatch:
		loc := spec.Location
		if loc == "" {
			loc = "end"
		}
		return MatchScorer{Location: loc, IgnoreCase: ic}, nil
	case ScorerIncludes:
		return IncludesScorer{IgnoreCase: ic}, nil
	case ScorerRegex:
		return NewPatternScorer(spec.Pattern, ic, spec.MatchAll)
	case ScorerModelGraded:
		if grader == nil {
			return nil, errors.New("the model-graded scorer needs a grader")
		}
		g := spec.Grader
		if g == nil {
			g = &GraderSpec{}
		}
		return NewModelGraded(grader, g)
	}
	return nil, fmt.Errorf("unknown scorer kind %q", spec.Kind)
}

// ChoiceScorer is Inspect's choice scorer: the output's "ANSWER: X" letters
// must be exactly the target's letters. An output without an answer line
// is incorrect (Inspect raises an error instead).
type ChoiceScorer struct{}

var answerRE = regexp.MustCompile(`(?i)ANSWER\s*:\s*([A-Za-z ,]+)(?:[^\w]|\n|$)`)

func (ChoiceScorer) Name() string           { return "choice" }
func (ChoiceScorer) Params() map[string]any { return map[string]any{} }
func (ChoiceScorer) Remote() bool           { return false }

// Score implements Scorer.
func (ChoiceScorer) Score(_ context.Context, s *Sample, output string) (Score, error) {
	n := len(s.Choices)
	start, end, ok := answerSpan(output)
	if !ok || start == end {
		return Score{Value: Incorrect, Explanation: output}, nil
	}
	var selected uint32
	for _, r := range output[start:end] {
		if i := int(unicode.ToUpper(r) - 'A'); i >= 0 && i < n && i < 26 {
			selected |= 1 << i
		}
	}
	var v any = Incorrect // constants in an interface: no allocation
	if selected == letterMask(s.Target) {
		v = Correct
	}
	return Score{Value: v, Answer: maskLetters(selected), Explanation: output}, nil
}

// answerSpan is the span of answerRE's group in s, the answer letters;
// ok is false when answerRE does not match.
func answerSpan(s string) (start, end int, ok bool) {
	if start, end, ok, sure := answerSpanASCII(s); sure {
		return start, end, ok
	}
	m := answerRE.FindStringSubmatchIndex(s)
	if m == nil {
		return 0, 0, false
	}
	return m[2], m[3], true
}

// answerSpanASCII is answerSpan without the regexp for the common case,
// an ASCII s whose first "answer" (in any case) starts the match: sure is
// false when it cannot tell. The regexp's leftmost match starts at the
// first "answer"; the \s* before the colon takes the whitespace up to it,
// the one after it all the whitespace before the letters, and the group
// all the letters, spaces and commas that follow, or, when a word
// character follows them, up to the last space or comma among them (the
// group must be followed by a non-word character or the end). When that
// fails the regexp backtracks further, and decides.
func answerSpanASCII(s string) (start, end int, ok, sure bool) {
	p := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return 0, 0, false, false // (?i) folds some non-ASCII letters
		}
		if p < 0 && c|0x20 == 'a' && i+6 <= len(s) && asciiEqualFoldString(s[i:i+6], "answer") {
			p = i
		}
	}
	if p < 0 {
		return 0, 0, false, true
	}
	i := p + 6
	for i < len(s) && isRE2Space(s[i]) {
		i++
	}
	if i == len(s) || s[i] != ':' {
		return 0, 0, false, false
	}
	i++
	for i < len(s) && isRE2Space(s[i]) {
		i++
	}
	start = i
	end = start
	for end < len(s) && isAnswerChar(s[end]) {
		end++
	}
	if end == start {
		return 0, 0, false, false
	}
	if end == len(s) || !isWordChar(s[end]) {
		return start, end, true, true
	}
	for j := end - 1; j > start; j-- {
		if s[j] == ' ' || s[j] == ',' {
			return start, j, true, true
		}
	}
	return 0, 0, false, false
}

// isRE2Space is RE2's \s: [\t\n\f\r ].
func isRE2Space(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r'
}

// isWordChar is RE2's \w: [0-9A-Za-z_].
func isWordChar(c byte) bool {
	return c >= '0' && c <= '9' || c|0x20 >= 'a' && c|0x20 <= 'z' || c == '_'
}

// isAnswerChar is answerRE's group class for ASCII: [A-Za-z ,].
func isAnswerChar(c byte) bool {
	return c|0x20 >= 'a' && c|0x20 <= 'z' || c == ' ' || c == ','
}

func asciiEqualFoldString(a, b string) bool {
	for i := range len(a) {
		if a[i]|0x20 != b[i] {
			return false
		}
	}
	return true
}

// letterMask is the set of choice indexes named by the letters of a
// target, as a bit mask.
func letterMask(target []string) uint32 {
	var m uint32
	for _, t := range target {
		for i := 0; i < len(t); i++ {
			if c := t[i] | 0x20; c >= 'a' && c <= 'z' {
				m |= 1 << (c - 'a')
			}
		}
	}
	return m
}

// singleLetters are the answers naming one choice.
var singleLetters = func() [26]string {
	var l [26]string
	for i := range l {
		l[i] = string(rune('A' + i))
	}
	return l
}()

// maskLetters writes a mask as "A, C".
func maskLetters(m uint32) string {
	if m != 0 && m&(m-1) == 0 {
		return singleLetters[bits.TrailingZeros32(m)]
	}
	var b []byte
	for i := range 26 {
		if m&(1<<i) != 0 {
			if len(b) > 0 {
				b = append(b, ',', ' ')
			}
			b = append(b, byte('A'+i))
		}
	}
	return string(b)
}

// targetLetters returns the choice indexes named by the letters of a
// target (other characters are ignored).
func targetLetters(target []string) []int {
	var out []int
	for _, t := range target {
		for i := 0; i < len(t); i++ {
			if c := t[i]; c >= 'A' && c <= 'Z' {
				out = append(out, int(c-'A'))
			} else if c >= 'a' && c <= 'z' {
				out = append(out, int(c-'a'))
			}
		}
	}
	return out
}

// ExactScorer is Inspect's exact scorer: the output and a target, each
// normalised to a set of words (case folded, punctuation and articles
// removed, numbers normalised), must be equal.
type ExactScorer struct{}

func (ExactScorer) Name() string           { return "exact" }
func (ExactScorer) Params() map[string]any { return map[string]any{} }
func (ExactScorer) Remote() bool           { return false }

// Score implements Scorer.
func (ExactScorer) Score(_ context.Context, s *Sample, output string) (Score, error) {
	a := toWords(output)
	for _, t := range s.Target {
		if strings.TrimSpace(t) == "" {
			continue
		}
		if sameSet(a, toWords(t)) {
			return Score{Value: Correct, Answer: output}, nil
		}
	}
	return Score{Value: Incorrect, Answer: output}, nil
}

func sameSet(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

var articlesRE = regexp.MustCompile(`\b(a|an|the)\b`)

// toWords is Inspect's _to_words: split on spaces and hyphens, normalise
// each token, and keep the set of non-empty words.
func toWords(s string) map[string]bool {
	out := map[string]bool{}
	for _, tok := range strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '-' }) {
		tok = strings.ToLower(tok)
		if _, ok := pyFloat(tok); !ok {
			tok = strings.Map(func(r rune) rune {
				if isPunct(r) {
					return -1
				}
				return r
			}, tok)
		}
		if f, ok := pyFloat(tok); ok {
			tok = pyFloatString(f)
		}
		tok = articlesRE.ReplaceAllString(tok, " ")
		for _, w := range strings.Fields(tok) {
			out[w] = true
		}
	}
	return out
}

// isPunct reports whether r is in Python's string.punctuation.
func isPunct(r rune) bool {
	return r < 0x80 && strings.ContainsRune("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", r)
}

// pyFloat parses s as Python's float() would (finite values only).
func pyFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	l := strings.ToLower(s)
	if strings.HasPrefix(l, "0x") || strings.Contains(l, "p") {
		return 0, false
	}
	return f, true
}

// pyFloatString formats f as Python's str(float) does.
func pyFloatString(f float64) string {
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	i := strings.IndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if exp >= -4 && exp < 16 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	mant := e[:i]
	sign := "+"
	if exp < 0 {
		sign, exp = "-", -exp
	}
	return fmt.Sprintf("%se%s%02d", mant, sign, exp)
}

// MatchScorer is Inspect's match scorer (non-numeric): after trimming
// whitespace, folding case (IgnoreCase) and stripping leading and trailing
// punctuation, the output must begin with, end with, contain, or equal a
// target.
type MatchScorer struct {
	Location   string // begin, end, any, exact
	IgnoreCase bool
}

func (m MatchScorer) Name() string { return "match" }
func (m MatchScorer) Params() map[string]any {
	return map[string]any{"location": m.Location, "ignore_case": m.IgnoreCase, "numeric": false}
}
func (m MatchScorer) Remote() bool { return false }

// Score implements Scorer.
func (m MatchScorer) Score(_ context.Context, s *Sample, output string) (Score, error) {
	answer := ""
	for _, t := range s.Target {
		a, ok := matchStr(output, t, m.Location, m.IgnoreCase)
		answer = a
		if ok {
			return Score{Value: Correct, Answer: a, Explanation: output}, nil
		}
	}
	return Score{Value: Incorrect, Answer: answer, Explanation: output}, nil
}

func stripPunct(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return isPunct(r) || unicode.IsSpace(r) })
}

func matchStr(value, target, location string, ignoreCase bool) (string, bool) {
	v, t := strings.TrimSpace(value), strings.TrimSpace(target)
	answer := v
	if ignoreCase {
		v, t = strings.ToLower(v), strings.ToLower(t)
	}
	v, t = stripPunct(v), stripPunct(t)
	switch location {
	case "begin":
		return answer, strings.HasPrefix(v, t)
	case "exact":
		return answer, v == t
	case "any":
		return answer, strings.Contains(v, t)
	}
	return answer, strings.HasSuffix(v, t)
}

// IncludesScorer is Inspect's includes scorer: a target must occur in the
// output.
type IncludesScorer struct{ IgnoreCase bool }

func (IncludesScorer) Name() string             { return "includes" }
func (i IncludesScorer) Params() map[string]any { return map[string]any{"ignore_case": i.IgnoreCase} }
func (IncludesScorer) Remote() bool             { return false }

// Score implements Scorer.
func (i IncludesScorer) Score(_ context.Context, s *Sample, output string) (Score, error) {
	v := output
	if i.IgnoreCase {
		v = strings.ToLower(v)
	}
	for _, t := range s.Target {
		if i.IgnoreCase {
			t = strings.ToLower(t)
		}
		if strings.Contains(v, t) {
			return Score{Value: Correct, Answer: v, Explanation: output}, nil
		}
	}
	return Score{Value: Incorrect, Answer: v, Explanation: output}, nil
}

// PatternScorer is Inspect's pattern scorer: a regular expression with at
// least one capture group extracts the answer, which must equal a target
// (MatchAll: every group must).
type PatternScorer struct {
	Pattern    string
	IgnoreCase bool
	MatchAll   bool
	re         *regexp.Regexp
}

// NewPatternScorer compiles a pattern scorer.
func NewPatternScorer(pattern string, ignoreCase, matchAll bool) (*PatternScorer, error) {
	re, err := compilePattern(pattern, ignoreCase)
	if err != nil {
		return nil, err
	}
	return &PatternScorer{Pattern: pattern, IgnoreCase: ignoreCase, MatchAll: matchAll, re: re}, nil
}

func compilePattern(pattern string, ignoreCase bool) (*regexp.Regexp, error) {
	p := pattern
	if ignoreCase {
		p = "(?i)" + p
	}
	re, err := regexp.Compile(p)
	if err != nil {
		return nil, fmt.Errorf("bad pattern: %w", err)
	}
	if re.NumSubexp() < 1 {
		return nil, errors.New("the pattern needs a capture group for the answer")
	}
	return re, nil
}

func (p *PatternScorer) Name() string { return "pattern" }
func (p *PatternScorer) Params() map[string]any {
	return map[string]any{"pattern": p.Pattern, "ignore_case": p.IgnoreCase, "match_all": p.MatchAll}
}
func (p *PatternScorer) Remote() bool { return false }

// Score implements Scorer.
func (p *PatternScorer) Score(_ context.Context, s *Sample, output string) (Score, error) {
	m := p.re.FindStringSubmatchIndex(output)
	if m == nil {
		return Score{Value: Incorrect, Explanation: "Scoring pattern not matched in output: " + output}, nil
	}
	inTarget := func(g string) bool {
		for _, t := range s.Target {
			if g == t || p.IgnoreCase && strings.ToLower(g) == strings.ToLower(t) {
				return true
			}
		}
		return false
	}
	var groups []string
	var present []bool
	for i := 1; i <= p.re.NumSubexp(); i++ {
		if m[2*i] < 0 {
			groups, present = append(groups, ""), append(present, false)
			continue
		}
		groups, present = append(groups, output[m[2*i]:m[2*i+1]]), append(present, true)
	}
	found, answer := false, ""
	if p.MatchAll {
		found = true
		for i, g := range groups {
			if present[i] && !inTarget(g) {
				found = false
				break
			}
		}
		if found {
			answer = s.TargetText()
		}
	} else {
		for i, g := range groups {
			if present[i] && inTarget(g) {
				found, answer = true, g
				break
			}
		}
		if !found && len(groups) == 1 {
			answer = groups[0]
		}
	}
	v := Incorrect
	if found {
		v = Correct
	}
	return Score{Value: v, Answer: answer, Explanation: output}, nil
}
