package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/service"
)

func (a *app) showCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show recorded evidence and how the gate reads it",
		// A mistyped or missing subcommand is a usage error (exit 2), not
		// help with exit 0.
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErrorf("%s needs a command: checkpoint (see %s --help)", cmd.CommandPath(), cmd.CommandPath())
			}
			return usageErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
		},
	}
	cmd.AddCommand(a.showCheckpointCmd())
	return cmd
}

func (a *app) showCheckpointCmd() *cobra.Command {
	var at, output string
	cmd := &cobra.Command{
		Use:   "checkpoint K [--at T] [-o json]",
		Short: "Show a checkpoint with every result, and whether each counts for the gate",
		Long: `Show checkpoint K: its model and compute, the policy version in force at --at
(default now), whether the checkpoint is assessed then and what it lacks,
and every evaluation result recorded for it, with its source (format, file,
digest) and whether the gate counts it, or why not: recorded for a later
time, evaluation not in the policy in force, marked incomplete, elicitation
below the evaluation's minimum, or superseded by a newer result.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			if output != "text" && output != "json" {
				return usageErrorf("-o: expected text or json, got %q", output)
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			v, err := s.ShowCheckpoint(cmd.Context(), args[0], t)
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(a.stdout).Encode(v)
			}
			return writeCheckpointView(a, v)
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "as of this time (RFC 3339; default now)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// writeCheckpointView prints a checkpoint view for a person.
func writeCheckpointView(a *app, v *service.CheckpointView) error {
	var b strings.Builder
	fmt.Fprintf(&b, "checkpoint %s (model %s, %s FLOP, recorded %s)\n", v.Checkpoint, v.Model, fmtCompute(v.EffectiveCompute), fmtRFC3339(v.RecordedAt))
	fmt.Fprintf(&b, "as of:     %s\n", fmtRFC3339(v.AsOf))
	if v.Policy != nil {
		fmt.Fprintf(&b, "policy:    %s %s (%s)\n", v.Policy.Name, v.Policy.Version, v.Policy.Digest)
	} else {
		b.WriteString("policy:    none in force\n")
	}
	if v.Assessed {
		fmt.Fprintf(&b, "assessed:  yes, at %s\n", fmtRFC3339(*v.AssessedAt))
	} else {
		fmt.Fprintf(&b, "assessed:  no; lacks %s\n", strings.Join(v.Missing, "; "))
	}
	if len(v.Results) == 0 {
		b.WriteString("results:   none\n")
		_, err := a.stdout.Write([]byte(b.String()))
		return err
	}
	b.WriteString("results:\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  ENTRY\tEVALUATION\tSCORE\tSTDERR\tSAMPLES\tELICITATION\tAT\tSOURCE\tCOUNTS")
	var sources []string
	for _, r := range v.Results {
		src := "-"
		if r.Source != nil {
			src = r.Source.Format + " " + shortDigest(r.Source.Digest)
			metric := r.Source.Metric
			if r.Source.Scorer != "" {
				metric = r.Source.Scorer + "/" + metric
			}
			line := fmt.Sprintf("  %d\t%s\t%s\t%s\ttask %s", r.LogIndex, r.Source.Format, r.Source.File, r.Source.Digest, r.Source.Task)
			if r.Source.TaskVersion != "" {
				line += " (version " + r.Source.TaskVersion + ")"
			}
			line += ", metric " + metric
			if r.Source.LogModel != "" {
				line += ", model " + r.Source.LogModel
			}
			sources = append(sources, line)
		}
		counts := "yes"
		if !r.Counts {
			counts = "no: " + r.WhyNot
		}
		score := fmtScore(r.Score)
		if r.Confidential {
			score += " (confidential)"
		}
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.LogIndex, r.Evaluation, score, fmtStderr(r.Stderr), fmtSamples(r.Samples), r.Elicitation, fmtRFC3339(r.At), src, counts)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(sources) > 0 {
		b.WriteString("sources:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, s := range sources {
			fmt.Fprintln(tw, s)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := a.stdout.Write([]byte(b.String()))
	return err
}

// shortDigest abbreviates "sha256:<hex>" to its first 12 hex digits.
func shortDigest(d string) string {
	if hex, ok := strings.CutPrefix(d, "sha256:"); ok && len(hex) > 12 {
		return "sha256:" + hex[:12]
	}
	return d
}

func fmtRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// fmtCompute formats a FLOP count as the gate does: 4e+25 → "4e25".
func fmtCompute(f float64) string {
	return strings.Replace(fmt.Sprintf("%.3g", f), "e+", "e", 1)
}
