package analysis

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"
)

// WriteLintText writes findings one per line as
// `file:line:col: severity CODE name: message`, each followed by an
// indented `fix:` line, then a summary line.
func WriteLintText(w io.Writer, results []*LintResult) error {
	var b strings.Builder
	counts := map[Severity]int{}
	for _, r := range results {
		for _, f := range r.Findings {
			counts[f.Severity]++
			fmt.Fprintf(&b, "%s: %s %s %s: %s\n    fix: %s\n", f.Loc, f.Severity, f.Code, f.Name, f.Message, f.Fix)
		}
	}
	fmt.Fprintf(&b, "%d file(s): %d error(s), %d warning(s), %d info\n", len(results), counts[SevError], counts[SevWarning], counts[SevInfo])
	_, err := io.WriteString(w, b.String())
	return err
}

// LintJSON is the JSON form of a lint run.
type LintJSON struct {
	Files    []*LintResult `json:"files"`
	Errors   int           `json:"errors"`
	Warnings int           `json:"warnings"`
	Info     int           `json:"info"`
}

// WriteLintJSON writes the findings as one JSON object.
func WriteLintJSON(w io.Writer, results []*LintResult) error {
	out := LintJSON{Files: results}
	if out.Files == nil {
		out.Files = []*LintResult{}
	}
	for _, r := range results {
		for _, f := range r.Findings {
			switch f.Severity {
			case SevError:
				out.Errors++
			case SevWarning:
				out.Warnings++
			default:
				out.Info++
			}
		}
	}
	return writeJSON(w, out)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// SARIF 2.1.0 (https://docs.oasis-open.org/sarif/sarif/v2.1.0/), the
// subset code hosts read to annotate files.

// SARIFSchema is the schema URI written into SARIF logs.
const SARIFSchema = "https://json.schemastore.org/sarif-2.1.0.json"

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name  string      `json:"name"`
	Rules []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	Name                 string        `json:"name"`
	ShortDescription     sarifText     `json:"shortDescription"`
	FullDescription      sarifText     `json:"fullDescription"`
	Help                 sarifText     `json:"help"`
	DefaultConfiguration sarifRuleConf `json:"defaultConfiguration"`
}

type sarifRuleConf struct {
	Level string `json:"level"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifText       `json:"message"`
	Locations []sarifLocation `json:"locations"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
}

func sarifLevel(s Severity) string {
	switch s {
	case SevError:
		return "error"
	case SevWarning:
		return "warning"
	}
	return "note"
}

// sarifURI turns a file name into a URI reference: forward slashes,
// percent-encoded.
func sarifURI(file string) string {
	return (&url.URL{Path: filepath.ToSlash(file)}).EscapedPath()
}

// WriteLintSARIF writes the findings as a SARIF 2.1.0 log with one run,
// listing every rule so that results can refer to them by index.
func WriteLintSARIF(w io.Writer, results []*LintResult) error {
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "scalegate"}},
		Results: []sarifResult{},
	}
	index := map[string]int{}
	for i, r := range Rules {
		index[r.Code] = i
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
			ID:                   r.Code,
			Name:                 r.Name,
			ShortDescription:     sarifText{r.Summary},
			FullDescription:      sarifText{r.Summary + ": " + r.Why + "."},
			Help:                 sarifText{r.Why + "."},
			DefaultConfiguration: sarifRuleConf{sarifLevel(r.Severity)},
		})
	}
	for _, r := range results {
		for _, f := range r.Findings {
			run.Results = append(run.Results, sarifResult{
				RuleID:    f.Code,
				RuleIndex: index[f.Code],
				Level:     sarifLevel(f.Severity),
				Message:   sarifText{f.Message + ". Fix: " + f.Fix + "."},
				Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
					ArtifactLocation: sarifArtifact{URI: sarifURI(f.Loc.File)},
					Region:           sarifRegion{StartLine: f.Loc.Line, StartColumn: f.Loc.Col},
				}}},
			})
		}
	}
	return writeJSON(w, sarifLog{Schema: SARIFSchema, Version: "2.1.0", Runs: []sarifRun{run}})
}
