package gate

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText writes a decision for a person: the verdict, the policy in
// force, the assessment, each threshold's state and every reason in plain
// words.
func WriteText(w io.Writer, d *Decision) error {
	var b strings.Builder
	verdict := strings.ToUpper(d.Verdict)
	switch d.Action.Kind {
	case Scale:
		fmt.Fprintf(&b, "%s  scale %s to %s FLOP (as of %s)\n", verdict, d.Action.Model, fmtFLOP(d.Action.ToCompute), fmtTime(d.Action.At))
	case Deploy:
		fmt.Fprintf(&b, "%s  deploy %s (%s) in mode %s (as of %s)\n", verdict, d.Action.Checkpoint, d.Action.Model, d.Action.Mode, fmtTime(d.Action.At))
	default:
		fmt.Fprintf(&b, "%s  %s\n", verdict, d.Action.Kind)
	}
	if d.Policy != nil {
		fmt.Fprintf(&b, "policy:     %s %s (%s)\n", d.Policy.Name, d.Policy.Version, d.Policy.Digest)
		for _, p := range d.Policy.Pending {
			fmt.Fprintf(&b, "            version %s is published and takes force %s (scrutiny period)\n", p.Version, fmtTime(p.ForceAt))
		}
	}
	if d.Assessment != nil {
		fmt.Fprintf(&b, "assessment: %s at %s FLOP, assessed %s\n", d.Assessment.Checkpoint, fmtFLOP(d.Assessment.EffectiveCompute), fmtTime(d.Assessment.At))
	}
	if len(d.Thresholds) > 0 {
		b.WriteString("thresholds:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, t := range d.Thresholds {
			detail := t.inputsText()
			if t.Determination != nil {
				detail = fmt.Sprintf("determination by %s (crossed: %t)", t.Determination.By, t.Determination.Crossed)
			} else if len(t.Inputs) == 0 && len(t.Missing) == 0 && len(t.Confidential) == 0 {
				detail = ""
			}
			if len(t.Missing) > 0 {
				detail += "; missing " + strings.Join(t.Missing, ", ")
			}
			if t.Since != "" && d.Assessment != nil && t.Since != d.Assessment.Checkpoint {
				detail += "; crossed since " + t.Since
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", t.ID, t.State, detail)
		}
		tw.Flush()
	}
	if len(d.Reasons) > 0 {
		b.WriteString("reasons:\n")
		for _, r := range d.Reasons {
			writeReason(&b, r, "  ")
		}
	} else if d.Verdict == AllowVerdict {
		b.WriteString("reasons:    none: every condition of the policy in force holds\n")
	}
	if d.LogIndex != nil {
		fmt.Fprintf(&b, "logged as entry %d\n", *d.LogIndex)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeReason(b *strings.Builder, r Reason, indent string) {
	label := r.Code
	if r.Ignored {
		label += " (ignored)"
	}
	if r.Threshold != "" {
		label += " [" + r.Threshold + "]"
	}
	fmt.Fprintf(b, "%s%s\n%s    %s\n", indent, label, indent, r.Message)
	if len(r.Overrode) > 0 {
		fmt.Fprintf(b, "%s    overrode:\n", indent)
		for _, o := range r.Overrode {
			writeReason(b, o, indent+"      ")
		}
	}
}

// Codes returns the distinct reason codes of a decision, sorted.
func (d *Decision) Codes() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range d.Reasons {
		if !seen[r.Code] {
			seen[r.Code] = true
			out = append(out, r.Code)
		}
	}
	sort.Strings(out)
	return out
}
