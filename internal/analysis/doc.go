// Package analysis owns scalegate's reading of policies as documents to be
// judged, not executed: the linter for vague or toothless policies
// ([Lint]), scorecards against the Seoul Frontier AI Safety Commitments,
// METR's common elements and the criteria for a policy with teeth
// ([Score]), classified differences between two versions of a policy
// ([Diff]) and the check that a lab's policy is at least as strict as a
// regulator's baseline ([Compare]), with their text, Markdown, JSON, SARIF
// and HTML renderings.
//
// The analyses are pure functions of parsed policies ([policy.Policy]):
// they do no I/O besides writing their reports. Every finding, criterion,
// change and gap points at the policy lines that justify it, using the
// positions that [policy.Parse] records.
//
// Comparisons of triggers, warnings and clear conditions are exact for
// simple conditions (comparisons of a score or the compute with constants,
// joined by &&, || and !): two such conditions are related by trying one
// point in every cell of the grid their constants cut the variables into
// (see relate). Other conditions are compared only by their text, and a
// change to one is reported as "direction unknown", never guessed.
package analysis

import (
	"fmt"

	"scalegate.dev/scalegate/internal/policy"
)

// Loc is a position in a policy file, with the field path it belongs to.
type Loc struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
	Path string `json:"path,omitempty"`
}

// String formats the location as file:line:col.
func (l Loc) String() string { return fmt.Sprintf("%s:%d:%d", l.File, l.Line, l.Col) }

// Short formats the location as file:line.
func (l Loc) Short() string { return fmt.Sprintf("%s:%d", l.File, l.Line) }

// locOf returns the position of the value at path in p's file, or of the
// nearest enclosing value that was written.
func locOf(p *policy.Policy, path string) Loc {
	pos := p.Doc.Pos(path)
	l := Loc{File: p.Doc.File, Line: pos.Line, Col: pos.Col, Path: path}
	if l.Line == 0 {
		l.Line, l.Col = 1, 1
	}
	return l
}

func thrPath(i int) string  { return fmt.Sprintf("thresholds[%d]", i) }
func evalPath(i int) string { return fmt.Sprintf("evaluations[%d]", i) }
func sgPath(i int) string   { return fmt.Sprintf("safeguards[%d]", i) }
