package runner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sample is one dataset sample, in Inspect's terms.
type Sample struct {
	ID    SampleID
	Epoch int // 1 for suite samples; an Inspect log's epoch for re-runs
	// Input is the conversation sent before generation: a string input
	// is one user message.
	Input []Message
	// RawInput is the input as given (a JSON string or message list), for
	// logs.
	RawInput json.RawMessage
	Choices  []string
	Target   []string
	// TargetList reports that the target was given as a list.
	TargetList bool
	Metadata   map[string]any
	// Line is the sample's line in its dataset (0 when it came from
	// elsewhere).
	Line int
}

// Key identifies a sample within a run: its id and epoch.
func (s *Sample) Key() string { return s.ID.Key() + "#" + strconv.Itoa(s.Epoch) }

// InputText is the text of the sample's input: the string input, or the
// content of the last user message (Inspect's input_text).
func (s *Sample) InputText() string {
	for i := len(s.Input) - 1; i >= 0; i-- {
		if s.Input[i].Role == "user" {
			return s.Input[i].Content
		}
	}
	if len(s.Input) > 0 {
		return s.Input[len(s.Input)-1].Content
	}
	return ""
}

// TargetText is the target as one string (list targets joined by
// newlines, as Inspect's Target.text does).
func (s *Sample) TargetText() string { return strings.Join(s.Target, "\n") }

// SampleID is a sample id: an integer or a string.
type SampleID struct {
	Str   string
	Num   int64
	IsNum bool
}

// Key is the id as a string unique among ids: decimal digits for
// integers, a JSON string for strings.
func (id SampleID) Key() string {
	if id.IsNum {
		return strconv.FormatInt(id.Num, 10)
	}
	return strconv.Quote(id.Str)
}

// String is the id as written.
func (id SampleID) String() string {
	if id.IsNum {
		return strconv.FormatInt(id.Num, 10)
	}
	return id.Str
}

// MarshalJSON writes the id as a JSON number or string.
func (id SampleID) MarshalJSON() ([]byte, error) {
	if id.IsNum {
		return strconv.AppendInt(nil, id.Num, 10), nil
	}
	return json.Marshal(id.Str)
}

// UnmarshalJSON reads an integer or a string id.
func (id *SampleID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		*id = SampleID{}
		return json.Unmarshal(b, &id.Str)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("id must be a string or an integer, got %s", b)
	}
	*id = SampleID{Num: n, IsNum: true}
	return nil
}

// Less orders ids: integers (numerically) before strings (bytewise).
func (id SampleID) Less(o SampleID) bool {
	switch {
	case id.IsNum && o.IsNum:
		return id.Num < o.Num
	case id.IsNum != o.IsNum:
		return id.IsNum
	}
	return id.Str < o.Str
}

// Message is a chat message.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// UnmarshalJSON reads a message whose content is a string or a list of
// content parts (only text parts are accepted).
func (m *Message) UnmarshalJSON(b []byte) error {
	var raw struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	m.Role = raw.Role
	c, err := contentText(raw.Content)
	if err != nil {
		return err
	}
	m.Content = c
	return nil
}

// contentText reads message content: a string, null, or a list of parts
// of which the text ones are joined by newlines.
func contentText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return "", fmt.Errorf("content must be a string or a list of parts: %w", err)
	}
	var texts []string
	for _, p := range parts {
		switch p.Type {
		case "text":
			texts = append(texts, p.Text)
		case "reasoning":
		default:
			return "", fmt.Errorf("content part of type %q is not supported (text only)", p.Type)
		}
	}
	return strings.Join(texts, "\n"), nil
}

// ParseInput reads a sample input: a string or a list of messages with
// roles system, user or assistant.
func ParseInput(raw json.RawMessage) ([]Message, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, errors.New("input is required")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []Message{{Role: "user", Content: s}}, nil
	}
	var msgs []Message
	if err := json.Unmarshal(raw, &msgs); err != nil {
		return nil, fmt.Errorf("input must be a string or a list of messages: %w", err)
	}
	if len(msgs) == 0 {
		return nil, errors.New("input has no messages")
	}
	for i, m := range msgs {
		switch m.Role {
		case "system", "user", "assistant":
		default:
			return nil, fmt.Errorf("input[%d].role must be system, user or assistant, got %q", i, m.Role)
		}
	}
	return msgs, nil
}

// ParseTarget reads a target: a string or a list of strings.
func ParseTarget(raw json.RawMessage) ([]string, bool, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, false, errors.New("target is required")
	}
	if raw[0] == '"' {
		var s string
		err := json.Unmarshal(raw, &s)
		return []string{s}, false, err
	}
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil {
		return nil, false, errors.New("target must be a string or a list of strings")
	}
	return l, true, nil
}

// ParseDataset reads a JSONL dataset: one JSON object per line with
// "input" (a string or a list of {role, content} messages), "target" (a
// string or a list of strings), and optionally "choices" (a list of
// strings), "id" (a string or an integer; default the sample's 1-based
// position) and "metadata" (an object). Other fields and blank lines in the
// middle are errors; ids must be unique.
func ParseDataset(file string, data []byte) ([]*Sample, error) {
	var out []*Sample
	seen := map[string]int{}
	line := 0
	for len(data) > 0 {
		line++
		var l []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			l, data = data[:i], data[i+1:]
		} else {
			l, data = data, nil
		}
		l = bytes.TrimSpace(l)
		if len(l) == 0 {
			if len(bytes.TrimSpace(data)) == 0 {
				break
			}
			return nil, fmt.Errorf("%s:%d: blank line", file, line)
		}
		s, err := parseSampleLine(l)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		s.Line = line
		if !s.hasID {
			s.ID = SampleID{Num: int64(len(out) + 1), IsNum: true}
		}
		if prev, ok := seen[s.ID.Key()]; ok {
			return nil, fmt.Errorf("%s:%d: duplicate id %s (first on line %d)", file, line, s.ID.Key(), prev)
		}
		seen[s.ID.Key()] = line
		out = append(out, &s.Sample)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: the dataset has no samples", file)
	}
	return out, nil
}

type parsedSample struct {
	Sample
	hasID bool
}

func parseSampleLine(l []byte) (*parsedSample, error) {
	var raw struct {
		ID       json.RawMessage `json:"id"`
		Input    json.RawMessage `json:"input"`
		Target   json.RawMessage `json:"target"`
		Choices  []string        `json:"choices"`
		Metadata map[string]any  `json:"metadata"`
	}
	dec := json.NewDecoder(bytes.NewReader(l))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("not a sample object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	s := &parsedSample{}
	s.Epoch = 1
	if len(raw.ID) > 0 && string(raw.ID) != "null" {
		if err := s.ID.UnmarshalJSON(raw.ID); err != nil {
			return nil, err
		}
		s.hasID = true
	}
	var err error
	if s.Input, err = ParseInput(raw.Input); err != nil {
		return nil, err
	}
	s.RawInput = append(json.RawMessage(nil), bytes.TrimSpace(raw.Input)...)
	if s.Target, s.TargetList, err = ParseTarget(raw.Target); err != nil {
		return nil, err
	}
	s.Choices = raw.Choices
	s.Metadata = raw.Metadata
	return s, nil
}

// checkChoiceTarget checks that a multiple-choice sample has choices and
// that its target letters name them.
func checkChoiceTarget(s *Sample) error {
	if len(s.Choices) < 2 {
		return fmt.Errorf("sample %s: the choice scorer needs at least two choices", s.ID)
	}
	if len(s.Choices) > 26 {
		return fmt.Errorf("sample %s: at most 26 choices (A-Z), got %d", s.ID, len(s.Choices))
	}
	letters := targetLetters(s.Target)
	if len(letters) == 0 {
		return fmt.Errorf("sample %s: the target must be the letter of the correct choice (A, B, ...)", s.ID)
	}
	for _, i := range letters {
		if i < 0 || i >= len(s.Choices) {
			return fmt.Errorf("sample %s: target %q names no choice (there are %d)", s.ID, s.TargetText(), len(s.Choices))
		}
	}
	return nil
}
