package analysis

import (
	"fmt"
	"io"
	"strings"
)

func (g Gap) where() string {
	var parts []string
	if g.BaselineLoc != nil {
		parts = append(parts, "baseline "+g.BaselineLoc.Short())
	}
	if g.LabLoc != nil {
		parts = append(parts, "lab "+g.LabLoc.Short())
	}
	return strings.Join(parts, ", ")
}

func (r *CompareResult) verdict() string {
	if r.AtLeastAsStrict() {
		return fmt.Sprintf("%s %s is at least as strict as baseline %s %s", r.Lab.Name, r.Lab.Version, r.Baseline.Name, r.Baseline.Version)
	}
	return fmt.Sprintf("%s %s is not shown to be at least as strict as baseline %s %s: %d gap(s)", r.Lab.Name, r.Lab.Version, r.Baseline.Name, r.Baseline.Version, r.GapCount)
}

func (c Coverage) status() string {
	switch {
	case c.Covered:
		return fmt.Sprintf("covered by %s (matched by %s)", c.Lab, c.Match)
	case c.Lab != "":
		return fmt.Sprintf("not covered; closest lab threshold %s (matched by %s)", c.Lab, c.Match)
	}
	return "not covered"
}

// WriteCompareText writes the comparison: each baseline threshold, how it
// is covered or its gaps, then the policy-wide gaps and a verdict.
func WriteCompareText(w io.Writer, r *CompareResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "lab %s %s (%s) against baseline %s %s (%s)\n", r.Lab.Name, r.Lab.Version, r.Lab.File, r.Baseline.Name, r.Baseline.Version, r.Baseline.File)
	for _, c := range r.Thresholds {
		fmt.Fprintf(&b, "\nthreshold %s (domain %s): %s\n", c.Baseline, c.Domain, c.status())
		for _, g := range c.Gaps {
			fmt.Fprintf(&b, "  gap %s: %s\n      at %s\n", g.Kind, g.Message, g.where())
		}
	}
	if len(r.Policy) > 0 {
		b.WriteString("\npolicy-wide:\n")
		for _, g := range r.Policy {
			fmt.Fprintf(&b, "  gap %s: %s\n      at %s\n", g.Kind, g.Message, g.where())
		}
	}
	fmt.Fprintf(&b, "\n%s\n", r.verdict())
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCompareMarkdown writes the comparison as Markdown.
func WriteCompareMarkdown(w io.Writer, r *CompareResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s %s against baseline %s %s\n\n", r.Lab.Name, r.Lab.Version, r.Baseline.Name, r.Baseline.Version)
	fmt.Fprintf(&b, "Lab `%s`, baseline `%s`. **%s.**\n\n", r.Lab.File, r.Baseline.File, r.verdict())
	b.WriteString("| baseline threshold | domain | lab threshold | covered | gaps |\n| --- | --- | --- | --- | ---: |\n")
	for _, c := range r.Thresholds {
		lab := c.Lab
		if lab == "" {
			lab = "—"
		} else {
			lab += " (" + c.Match + ")"
		}
		yes := "yes"
		if !c.Covered {
			yes = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d |\n", c.Baseline, c.Domain, lab, yes, len(c.Gaps))
	}
	var all []Gap
	for _, c := range r.Thresholds {
		all = append(all, c.Gaps...)
	}
	all = append(all, r.Policy...)
	if len(all) > 0 {
		b.WriteString("\n## Gaps\n\n| element | gap | why | lines |\n| --- | --- | --- | --- |\n")
		for _, g := range all {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", g.Element, g.Kind, mdCell(g.Message), g.where())
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteCompareJSON writes the comparison as one JSON object.
func WriteCompareJSON(w io.Writer, r *CompareResult) error { return writeJSON(w, r) }
