package runner

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SingleAnswerTemplate and MultipleAnswerTemplate are the prompts of
// Inspect's multiple_choice solver, the choice scorer's defaults.
const (
	SingleAnswerTemplate = `Answer the following multiple choice question. The entire content of your response should be of the following format: 'ANSWER: $LETTER' (without quotes) where LETTER is one of {letters}.

{question}

{choices}`
	MultipleAnswerTemplate = `Answer the following multiple choice question where multiple answers may be correct. The entire content of your response should be of the following format: 'ANSWER: $LETTERS' (without quotes) where LETTERS is one or more of {letters}.

{question}

{choices}`
)

// Prompt turns samples into the messages sent for them.
type Prompt struct {
	// System, when set, is a system message placed after the input's own
	// leading system messages.
	System string
	// Template rewrites the last user message; {question} is its text,
	// {choices} the choices as "A) ...\nB) ..." and {letters} "A,B,...".
	// Empty: the choice scorer's default for choice suites, else the
	// message as is.
	Template string
	// Choice selects the multiple-choice defaults.
	Choice bool
}

// NewPrompt returns the prompt of a suite.
func NewPrompt(s *Suite) *Prompt {
	return &Prompt{System: s.System, Template: s.Template, Choice: s.Scorer.Kind == ScorerChoice}
}

// Messages returns the conversation sent for s.
func (p *Prompt) Messages(s *Sample) []Message {
	msgs := make([]Message, 0, len(s.Input)+1)
	i := 0
	for i < len(s.Input) && s.Input[i].Role == "system" {
		msgs = append(msgs, s.Input[i])
		i++
	}
	if p.System != "" {
		msgs = append(msgs, Message{Role: "system", Content: p.System})
	}
	msgs = append(msgs, s.Input[i:]...)
	tmpl := p.Template
	if tmpl == "" && p.Choice {
		tmpl = SingleAnswerTemplate
		if len(targetLetters(s.Target)) > 1 {
			tmpl = MultipleAnswerTemplate
		}
	}
	if tmpl == "" {
		return msgs
	}
	for j := len(msgs) - 1; j >= 0; j-- {
		if msgs[j].Role == "user" {
			msgs[j].Content = fillTemplate(tmpl, msgs[j].Content, s.Choices)
			break
		}
	}
	return msgs
}

// AnswerOptions formats choices as Inspect does: "A) first\nB) second".
func AnswerOptions(choices []string) string {
	var b strings.Builder
	for i, c := range choices {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteByte(byte('A' + i))
		b.WriteString(") ")
		b.WriteString(c)
	}
	return b.String()
}

func letters(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte(byte('A' + i))
	}
	return b.String()
}

// templateVars are the placeholders a prompt template may use.
var templateVars = map[string]bool{"question": true, "choices": true, "letters": true}

// fillTemplate substitutes {question}, {choices} and {letters}; "{{" and
// "}}" stand for single braces.
func fillTemplate(tmpl, question string, choices []string) string {
	var b strings.Builder
	for i := 0; i < len(tmpl); {
		c := tmpl[i]
		switch {
		case c == '{' && i+1 < len(tmpl) && tmpl[i+1] == '{':
			b.WriteByte('{')
			i += 2
		case c == '}' && i+1 < len(tmpl) && tmpl[i+1] == '}':
			b.WriteByte('}')
			i += 2
		case c == '{':
			if name, n := placeholder(tmpl[i:]); n > 0 && templateVars[name] {
				switch name {
				case "question":
					b.WriteString(question)
				case "choices":
					b.WriteString(AnswerOptions(choices))
				case "letters":
					b.WriteString(letters(len(choices)))
				}
				i += n
				continue
			}
			b.WriteByte(c)
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// placeholder reads "{name}" at the start of s.
func placeholder(s string) (string, int) {
	end := strings.IndexByte(s, '}')
	if end < 2 {
		return "", 0
	}
	name := s[1:end]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return "", 0
		}
	}
	return name, end + 1
}

// checkTemplate checks a prompt template's placeholders.
func checkTemplate(tmpl string, choice bool) error {
	used := map[string]bool{}
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] == '{' && i+1 < len(tmpl) && tmpl[i+1] == '{' {
			i++
			continue
		}
		if tmpl[i] != '{' {
			continue
		}
		if name, n := placeholder(tmpl[i:]); n > 0 {
			if !templateVars[name] {
				return fmt.Errorf("unknown placeholder {%s} (use {question}, {choices}, {letters}; write {{ and }} for braces)", name)
			}
			used[name] = true
			i += n - 1
		}
	}
	if !used["question"] {
		return errors.New("the template must contain {question}")
	}
	if choice && !used["choices"] {
		return errors.New("a multiple-choice template must contain {choices}")
	}
	return nil
}

// appendJSONString appends s as a JSON string (as encoding/json writes it,
// without HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && jsonPlain8(s[i:i+8]) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain8 reports whether none of the 8 bytes of s needs escaping in
// a JSON string or is part of a multi-byte character: each is ASCII, at
// least 0x20, and neither '"' nor '\\' (tested at once, as bit tricks on a
// word).
func jsonPlain8(s string) bool {
	_ = s[7]
	x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	q, bs := x^(ones*'"'), x^(ones*'\\')
	less := (x - ones*0x20) & ^x   // a byte below 0x20
	quote := (q - ones) & ^q       // a '"'
	backslash := (bs - ones) & ^bs // a '\\'
	return (less|quote|backslash|x)&highs == 0
}

// appendMessages appends msgs as a JSON array of {role, content}.
func appendMessages(b []byte, msgs []Message) []byte {
	b = append(b, '[')
	for i, m := range msgs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"role":`...)
		b = appendJSONString(b, m.Role)
		b = append(b, `,"content":`...)
		b = appendJSONString(b, m.Content)
		b = append(b, '}')
	}
	return append(b, ']')
}

// requestParts returns the fixed JSON around a request's messages:
// {"model":…,"messages": and the generation settings with the closing
// brace.
func requestParts(model string, g Generation) (prefix, suffix []byte) {
	prefix = append([]byte(`{"model":`), appendJSONString(nil, model)...)
	prefix = append(prefix, `,"messages":`...)
	gen, _ := json.Marshal(g) // plain numbers and strings: cannot fail
	if len(gen) > 2 {
		suffix = append([]byte{','}, gen[1:]...)
	} else {
		suffix = []byte{'}'}
	}
	return prefix, suffix
}
