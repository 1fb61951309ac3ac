package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"
)

func (a *app) importCmd() *cobra.Command {
	var at, output string
	cmd := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import Evidence files, all or nothing",
		Long: `Import Evidence files (models, checkpoints, evaluation results, safeguard
statuses, determinations, safety cases, escape-clause invocations). Every
record is validated first; if any record in any file is bad, nothing is
written. Records without an "at" time get --at (default now).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
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
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "time for records without `at` (RFC 3339; default now)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
