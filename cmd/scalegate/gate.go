package main

import (
	"encoding/json"
	"strconv"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/gate"
)

func (a *app) gateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "gate",
		Short: "Ask the gate: may a model be scaled, or a checkpoint deployed?",
		Long: `Ask the gate. The answer is recorded as a log leaf and printed; the exit code
is 0 for allow and 1 for deny (2 for bad input).`,
	}
	cmd.AddCommand(a.gateScaleCmd(), a.gateDeployCmd())
	return cmd
}

func (a *app) decide(cmd *cobra.Command, act gate.Action, at, output string) error {
	t, err := parseTime("at", at)
	if err != nil {
		return err
	}
	if output != "text" && output != "json" {
		return usageErrorf("-o: expected text or json, got %q", output)
	}
	act.At = t
	s, err := a.open(cmd.Context())
	if err != nil {
		return err
	}
	d, err := s.Decide(cmd.Context(), act, "cli")
	if err != nil {
		return err
	}
	if output == "json" {
		enc := json.NewEncoder(a.stdout)
		if err := enc.Encode(d); err != nil {
			return err
		}
	} else if err := gate.WriteText(a.stdout, d); err != nil {
		return err
	}
	if !d.Allowed() {
		return errDenied
	}
	return nil
}

func (a *app) gateScaleCmd() *cobra.Command {
	var model, to, at, output string
	cmd := &cobra.Command{
		Use:   "scale --model M --to FLOP",
		Short: "May model M be trained further, up to FLOP effective compute?",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := strconv.ParseFloat(to, 64)
			if err != nil {
				return usageErrorf("--to: expected a FLOP count such as 4e25, got %q", to)
			}
			return a.decide(cmd, gate.Action{Kind: gate.Scale, Model: model, ToCompute: c}, at, output)
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model id")
	cmd.Flags().StringVar(&to, "to", "", "target effective training compute in FLOP (e.g. 4e25)")
	cmd.Flags().StringVar(&at, "at", "", "decide as of this time (RFC 3339; default now)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("to")
	return cmd
}

func (a *app) gateDeployCmd() *cobra.Command {
	var ckpt, mode, at, output string
	cmd := &cobra.Command{
		Use:   "deploy --checkpoint K --mode internal|external|open-weights",
		Short: "May checkpoint K be deployed in a mode?",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.decide(cmd, gate.Action{Kind: gate.Deploy, Checkpoint: ckpt, Mode: mode}, at, output)
		},
	}
	cmd.Flags().StringVar(&ckpt, "checkpoint", "", "checkpoint id")
	cmd.Flags().StringVar(&mode, "mode", "", "deployment mode: internal, external or open-weights")
	cmd.Flags().StringVar(&at, "at", "", "decide as of this time (RFC 3339; default now)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("mode")
	return cmd
}
