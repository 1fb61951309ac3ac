package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/service"
)

func (a *app) importCmd() *cobra.Command {
	var at, output, checkpoint, evaluation, elicitation string
	var allowIncomplete bool
	cmd := &cobra.Command{
		Use:   "import [--checkpoint K [--evaluation ID] [--elicitation E] [--allow-incomplete]] FILE...",
		Short: "Import Evidence files or evaluation logs, all or nothing",
		Long: `Import Evidence files (models, checkpoints, evaluation results, safeguard
statuses, determinations, safety cases, escape-clause invocations). Every
record is validated first; if any record in any file is bad, nothing is
written. Records without an "at" time get --at (default now).

With --checkpoint K, every FILE is an evaluation log instead: an Inspect log
(.json, or an .eval archive) or an lm-evaluation-harness results file; the
format is detected from the content, not the extension. Each log task is
mapped to the evaluations whose policy sources name it (format and task;
a source task without "/" also matches an Inspect registry name ending in
"/" + task), or to --evaluation ID, and the result records the source's
metric as the score, with its stderr, the number of samples, the task and
its version, the model named in the log and the file's SHA-256. A log whose
run did not complete is refused unless --allow-incomplete, which records the
result as incomplete (the gate does not count it). The elicitation is
--elicitation, else the log's metadata "elicitation", else "prompted".
Results are recorded at --at (default now). A result identical to one
already recorded is not recorded again.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			if output != "text" && output != "json" {
				return usageErrorf("-o: expected text or json, got %q", output)
			}
			if checkpoint == "" {
				for _, f := range []string{"evaluation", "elicitation", "allow-incomplete"} {
					if cmd.Flags().Changed(f) {
						return usageErrorf("--%s applies to evaluation logs and needs --checkpoint", f)
					}
				}
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			if checkpoint != "" {
				opt := service.LogImportOptions{Evaluation: evaluation, Elicitation: elicitation, AllowIncomplete: allowIncomplete, At: t}
				res, err := s.ImportLogs(cmd.Context(), checkpoint, args, opt, "cli")
				if err != nil {
					return err
				}
				return a.printLogImport(checkpoint, res, output)
			}
			res, err := s.ImportFiles(cmd.Context(), args, t, "cli")
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(a.stdout).Encode(map[string]any{
					"models": res.Models, "checkpoints": res.Checkpoints, "results": res.Results,
					"safeguards": res.Safeguards, "determinations": res.Determinations, "safetyCases": res.SafetyCases,
					"escapes": res.Escapes, "unchanged": res.Unchanged, "first": res.First, "last": res.Last,
				})
			}
			if res.Records() == 0 {
				fmt.Fprintf(a.stdout, "nothing new to import (%d records already recorded)\n", res.Unchanged)
				return nil
			}
			fmt.Fprintf(a.stdout, "imported %d records (log entries %d–%d): %d models, %d checkpoints, %d results, %d safeguard statuses, %d determinations, %d safety cases, %d escapes\n",
				res.Records(), res.First, res.Last, res.Models, res.Checkpoints, res.Results, res.Safeguards, res.Determinations, res.SafetyCases, res.Escapes)
			if res.Unchanged > 0 {
				fmt.Fprintf(a.stdout, "%d records were already recorded identically and were skipped\n", res.Unchanged)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "time for records without an at time, and of evaluation-log results (RFC 3339; default now)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().StringVar(&checkpoint, "checkpoint", "", "import evaluation logs as results for this checkpoint")
	cmd.Flags().StringVar(&evaluation, "evaluation", "", "the evaluation the logs are results for (default: mapped through the policy's sources)")
	cmd.Flags().StringVar(&elicitation, "elicitation", "", "elicitation used: none, prompted, cot, scaffolded or finetuned (default: the log's metadata, else prompted)")
	cmd.Flags().BoolVar(&allowIncomplete, "allow-incomplete", false, "record logs of runs that did not complete, marked incomplete (the gate does not count them)")
	return cmd
}

// printLogImport prints what an evaluation-log import recorded.
func (a *app) printLogImport(checkpoint string, res *service.LogImported, output string) error {
	if output == "json" {
		logs, skipped := res.Logs, res.Skipped
		if logs == nil {
			logs = []service.LogResult{}
		}
		if skipped == nil {
			skipped = []service.SkippedTask{}
		}
		return json.NewEncoder(a.stdout).Encode(map[string]any{
			"checkpoint": checkpoint, "results": res.Results, "unchanged": res.Unchanged,
			"first": res.First, "last": res.Last, "logs": logs, "skipped": skipped,
		})
	}
	switch {
	case res.Results == 0:
		fmt.Fprintf(a.stdout, "nothing new to import for %s (%d already recorded)\n", checkpoint, res.Unchanged)
	case res.Results == 1:
		fmt.Fprintf(a.stdout, "imported 1 result for %s (log entry %d)\n", checkpoint, res.First)
	default:
		fmt.Fprintf(a.stdout, "imported %d results for %s (log entries %d–%d)\n", res.Results, checkpoint, res.First, res.Last)
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  FILE\tTASK\tMETRIC\tSCORE\tSTDERR\tSAMPLES\tEVALUATION\tELICITATION\tENTRY")
	for _, l := range res.Logs {
		r := l.Result
		src := r.Source
		metric := src.Metric
		if src.Scorer != "" {
			metric = src.Scorer + "/" + metric
		}
		entry := fmt.Sprint(l.LogIndex)
		if l.Unchanged {
			entry = "already recorded"
		}
		if r.Incomplete {
			entry += " (incomplete: not counted)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.File, src.Task, metric, fmtScore(r.Score), fmtStderr(r.Stderr), fmtSamples(r.Samples), r.Evaluation, r.Elicitation, entry)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(res.Skipped) > 0 {
		var parts []string
		for _, s := range res.Skipped {
			parts = append(parts, s.File+": "+s.Task)
		}
		fmt.Fprintf(a.stdout, "skipped %d tasks that no evaluation's sources name: %s\n", len(res.Skipped), strings.Join(parts, ", "))
	}
	return nil
}

func fmtScore(v float64) string { return fmt.Sprintf("%.6g", v) }

func fmtStderr(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.3g", *v)
}

func fmtSamples(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprint(n)
}
