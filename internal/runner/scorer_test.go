package runner

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"scalegate.dev/scalegate/internal/runner/runnertest"
)

func TestScorers(t *testing.T) {
	pattern, err := NewPatternScorer(`ANSWER:\s*(\w+)`, true, false)
	if err != nil {
		t.Fatal(err)
	}
	twoGroups, err := NewPatternScorer(`(\w+) and (\w+)`, true, true)
	if err != nil {
		t.Fatal(err)
	}
	mc := func(target ...string) *Sample {
		return &Sample{Choices: []string{"w", "x", "y", "z"}, Target: target}
	}
	tg := func(target ...string) *Sample { return &Sample{Target: target} }
	for _, tt := range []struct {
		name   string
		sc     Scorer
		s      *Sample
		output string
		value  string
		answer string
	}{
		{"choice right", ChoiceScorer{}, mc("A"), "ANSWER: A", "C", "A"},
		{"choice wrong", ChoiceScorer{}, mc("A"), "ANSWER: B", "I", "B"},
		{"choice lower case", ChoiceScorer{}, mc("C"), "answer: c", "C", "C"},
		{"choice in prose", ChoiceScorer{}, mc("C"), "Reasoning...\nANSWER: C.", "C", "C"},
		{"choice without answer line", ChoiceScorer{}, mc("A"), "The answer is A", "I", ""},
		{"choice multiple", ChoiceScorer{}, mc("A", "C"), "ANSWER: A, C", "C", "A, C"},
		{"choice multiple target as one string", ChoiceScorer{}, mc("CA"), "ANSWER: C,A", "C", "A, C"},
		{"choice extra answer", ChoiceScorer{}, mc("A"), "ANSWER: A, C", "I", "A, C"},
		{"choice letters beyond the choices", ChoiceScorer{}, mc("A"), "ANSWER: AE", "C", "A"},
		// Inspect reads every letter after "ANSWER:" (here A, C and I).
		{"choice Inspect's greedy letters", ChoiceScorer{}, mc("A"), "ANSWER: A is correct", "I", "A, C"},
		{"exact", ExactScorer{}, tg("Paris"), "paris.", "C", "paris."},
		{"exact articles", ExactScorer{}, tg("Paris"), "The Paris", "C", "The Paris"},
		{"exact numbers", ExactScorer{}, tg("1"), "1.0", "C", "1.0"},
		{"exact extra word", ExactScorer{}, tg("Paris"), "Paris France", "I", "Paris France"},
		{"exact any target", ExactScorer{}, tg("Rome", "Roma"), "roma", "C", "roma"},
		{"match end", MatchScorer{Location: "end", IgnoreCase: true}, tg("42"), "The answer is 42", "C", "The answer is 42"},
		{"match end miss", MatchScorer{Location: "end", IgnoreCase: true}, tg("42"), "42 is the answer", "I", "42 is the answer"},
		{"match begin", MatchScorer{Location: "begin", IgnoreCase: true}, tg("42"), "42 is the answer", "C", "42 is the answer"},
		{"match punctuation", MatchScorer{Location: "exact", IgnoreCase: true}, tg("yes"), " Yes. ", "C", "Yes."},
		{"match case", MatchScorer{Location: "exact", IgnoreCase: false}, tg("yes"), "Yes", "I", "Yes"},
		{"match any", MatchScorer{Location: "any", IgnoreCase: true}, tg("blue"), "It is BLUE, mostly", "C", "It is BLUE, mostly"},
		{"match fixture sample", MatchScorer{Location: "end", IgnoreCase: true}, tg(" Yes"), "No", "I", "No"},
		{"includes", IncludesScorer{IgnoreCase: true}, tg("paris"), "The capital is Paris", "C", "the capital is paris"},
		{"includes miss", IncludesScorer{IgnoreCase: true}, tg("rome"), "Paris", "I", "paris"},
		{"pattern", pattern, tg("paris"), "ANSWER: Paris", "C", "Paris"},
		{"pattern wrong", pattern, tg("paris"), "ANSWER: Rome", "I", "Rome"},
		{"pattern no match", pattern, tg("paris"), "Paris", "I", ""},
		{"pattern match all", twoGroups, tg("cats", "dogs"), "Cats and dogs", "C", "cats\ndogs"},
		{"pattern match all miss", twoGroups, tg("cats", "dogs"), "cats and mice", "I", ""},
	} {
		sc, err := tt.sc.Score(context.Background(), tt.s, tt.output)
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if sc.Value != tt.value || sc.Answer != tt.answer {
			t.Errorf("%s: Score(%q) = %v %q, want %s %q", tt.name, tt.output, sc.Value, sc.Answer, tt.value, tt.answer)
		}
	}
}

func TestModelGradedPromptAndGrades(t *testing.T) {
	srv := runnertest.NewServer()
	defer srv.Close()
	var reply string
	var prompt string
	srv.Reply = func(r *runnertest.Request) string {
		prompt = r.Prompt
		return reply
	}
	c, _ := testClient(t, srv, false, ClientConfig{Model: "grader"})
	mg, err := NewModelGraded(c, &GraderSpec{PartialCredit: true})
	if err != nil {
		t.Fatal(err)
	}
	s := &Sample{Input: []Message{{Role: "system", Content: "sys"}, {Role: "user", Content: "What is 2+2?"}}, Target: []string{"4"}, Metadata: map[string]any{"topic": "math"}}
	for _, tt := range []struct {
		reply string
		value any
		f     float64
	}{
		{"Reasoning.\nGRADE: C", "C", 1},
		{"GRADE: P", "P", 0.5},
		{"GRADE: I\n", "I", 0},
		{"grade: c", "c", 0}, // Inspect's value_to_float does not fold case
		{"GRADE: C\nbut on reflection", "I", 0},
		{"no grade", "I", 0},
	} {
		reply = tt.reply
		sc, err := mg.Score(context.Background(), s, "four")
		if err != nil {
			t.Fatal(err)
		}
		if sc.Value != tt.value || sc.Float() != tt.f {
			t.Errorf("grader reply %q: value %v (%g), want %v (%g)", tt.reply, sc.Value, sc.Float(), tt.value, tt.f)
		}
	}
	for _, want := range []string{"[Task]: What is 2+2?", "[Submission]: four", "[Criterion]: 4", `"P" for partially correct answers,`, "LETTER is one of CPI"} {
		if !strings.Contains(prompt, want) {
			t.Errorf("grading prompt lacks %q:\n%s", want, prompt)
		}
	}
	fact, _ := NewModelGraded(c, &GraderSpec{Fact: true, Template: "Q={question} A={answer} T={topic} {{literal}} {unknown}"})
	if got := fact.Prompt(s, "four"); got != "Q=What is 2+2? A=four T=math {literal} {unknown}" {
		t.Errorf("custom template prompt = %q", got)
	}
	if fact.Name() != "model_graded_fact" || mg.Name() != "model_graded_qa" {
		t.Errorf("names %q %q", fact.Name(), mg.Name())
	}
}

func TestValueToFloat(t *testing.T) {
	for v, want := range map[any]float64{"C": 1, "P": 0.5, "I": 0, "N": 0, "yes": 1, "False": 0, "0.25": 0.25, 3.0: 3, true: 1, false: 0, "abc": 0, "-1": 0, "": 0} {
		if got := ValueToFloat(v); got != want {
			t.Errorf("ValueToFloat(%#v) = %g, want %g", v, got, want)
		}
	}
}

func TestPyFloatString(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 0.1: "0.1", 1e16: "1e+16", 1e15: "1000000000000000.0", 1e-5: "1e-05", 0.0001: "0.0001", -2.5: "-2.5", 123456789012345678: "1.2345678901234568e+17"} {
		if got := pyFloatString(f); got != want {
			t.Errorf("pyFloatString(%g) = %q, want %q", f, got, want)
		}
	}
}

func TestPrompt(t *testing.T) {
	s := &Sample{Input: []Message{{Role: "system", Content: "S0"}, {Role: "user", Content: "Which?"}}, Choices: []string{"red", "green"}, Target: []string{"B"}}
	got := (&Prompt{System: "S1", Choice: true}).Messages(s)
	want := []Message{{"system", "S0"}, {"system", "S1"}, {"user", "Answer the following multiple choice question. The entire content of your response should be of the following format: 'ANSWER: $LETTER' (without quotes) where LETTER is one of A,B.\n\nWhich?\n\nA) red\nB) green"}}
	if len(got) != len(want) {
		t.Fatalf("Messages = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d = %q, want %q", i, got[i], want[i])
		}
	}
	s.Target = []string{"A", "B"}
	if m := (&Prompt{Choice: true}).Messages(s); !strings.Contains(m[1].Content, "LETTERS is one or more of A,B") {
		t.Errorf("multiple-answer prompt = %q", m[1].Content)
	}
	if m := (&Prompt{Template: "{{{question}}} {letters}"}).Messages(s); m[1].Content != "{Which?} A,B" {
		t.Errorf("template prompt = %q", m[1].Content)
	}
	if s.Input[1].Content != "Which?" {
		t.Error("Messages changed the sample's input")
	}
	for tmpl, want := range map[string]string{"{question}": "", "{choices}": "must contain {question}", "{question} {nope}": "unknown placeholder {nope}", "{{question}}": "must contain {question}"} {
		err := checkTemplate(tmpl, false)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("checkTemplate(%q) = %v, want %q", tmpl, err, want)
		}
	}
	if err := checkTemplate("{question}", true); err == nil {
		t.Error("a choice template without {choices} was accepted")
	}
}

// TestAnswerSpanMatchesRegexp checks the choice scorer's fast path against
// its regexp on random outputs made of the pieces that matter to it.
func TestAnswerSpanMatchesRegexp(t *testing.T) {
	pieces := []string{"answer", "ANSWER", "Answer", "anſwer", "ans", ":", ": ", " ", "  ", "\t", "\n", "\v", "\f", "\r",
		"A", "b", "C", "d", "K", ",", ", ", "1", "_", "x", ".", "-", "ſ", "é", "\u212a", "ANSWER: A", "answer:b,c"}
	rng := rand.New(rand.NewPCG(1, 2))
	fast := 0
	for n := 0; n < 200000; n++ {
		var b strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		s := b.String()
		wantStart, wantEnd, wantOK := 0, 0, false
		if m := answerRE.FindStringSubmatchIndex(s); m != nil {
			wantStart, wantEnd, wantOK = m[2], m[3], true
		}
		start, end, ok := answerSpan(s)
		if ok != wantOK || ok && (start != wantStart || end != wantEnd) {
			t.Fatalf("answerSpan(%q) = %d, %d, %v; the regexp: %d, %d, %v", s, start, end, ok, wantStart, wantEnd, wantOK)
		}
		if _, _, _, sure := answerSpanASCII(s); sure {
			fast++
		}
	}
	if fast < 50000 {
		t.Errorf("the fast path decided %d outputs of 200000", fast)
	}
}
