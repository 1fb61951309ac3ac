package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/service"
)

func (a *app) policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Check and publish scaling policies"}
	cmd.AddCommand(a.policyCheckCmd(), a.policyPublishCmd(), a.policyLintCmd(), a.policyScoreCmd(), a.policyDiffCmd(), a.policyCompareCmd(), a.policySchemaCmd())
	return cmd
}

func readPolicyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, usageErrorf("%s: %v", path, err)
	}
	if st.Size() > policy.MaxSize {
		return nil, usageErrorf("%s: file is %d bytes; the limit is %d", path, st.Size(), policy.MaxSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usageErrorf("%s: %v", path, err)
	}
	return data, nil
}

func (a *app) policyCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file without recording it",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := readPolicyFile(args[0])
			if err != nil {
				return err
			}
			p, err := service.CheckPolicy(args[0], data)
			if err != nil {
				return err
			}
			for _, w := range p.Warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			fmt.Fprintf(a.stdout, "%s: policy %s %s is valid (%d thresholds, %d evaluations, %d safeguards; %s)\n",
				args[0], p.Metadata.Name, p.Metadata.Version, len(p.Thresholds), len(p.Evaluations), len(p.Safeguards), p.Digest)
			return nil
		},
	}
}

func (a *app) policyPublishCmd() *cobra.Command {
	var at, output string
	cmd := &cobra.Command{
		Use:   "publish FILE",
		Short: "Validate a policy file and record it as a published version",
		Long: `Validate a policy file and record it as a published version (a log leaf).
The first version of a policy takes force when published; each later version
takes force after the scrutiny period of the version in force when it was
published. Re-publishing an identical version is a no-op; a different
document under an existing name and version is an error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			data, err := readPolicyFile(args[0])
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			pub, err := s.PublishPolicy(cmd.Context(), args[0], data, t, "cli")
			if err != nil {
				return err
			}
			for _, w := range pub.Warnings {
				fmt.Fprintf(a.stderr, "warning: %s\n", w)
			}
			if output == "json" {
				return json.NewEncoder(a.stdout).Encode(map[string]any{
					"name": pub.Name, "version": pub.Version, "digest": pub.Digest,
					"publishedAt": pub.PublishedAt, "forceAt": pub.ForceAt, "logIndex": pub.Index, "unchanged": pub.Unchanged,
				})
			}
			if pub.Unchanged {
				fmt.Fprintf(a.stdout, "policy %s %s is already published (log entry %d); nothing changed\n", pub.Name, pub.Version, pub.Index)
				return nil
			}
			fmt.Fprintf(a.stdout, "published policy %s %s (%s) at %s as log entry %d; in force from %s\n",
				pub.Name, pub.Version, pub.Digest, pub.PublishedAt.Format(time.RFC3339), pub.Index, pub.ForceAt.Format(time.RFC3339))
			return nil
		},
	}
	cmd.Flags().StringVar(&at, "at", "", "publication time (RFC 3339; default now)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
