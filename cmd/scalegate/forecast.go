package main

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

func (a *app) forecastCmd() *cobra.Command {
	var model, at, output string
	var confidence float64
	cmd := &cobra.Command{
		Use:   "forecast --model M",
		Short: "Forecast at what compute each threshold's trigger will fire",
		Long: `Fit each evaluation's scores against effective compute over the model's
assessed checkpoints (a bounded sigmoid in log compute, a line when there are
too few points) and forecast, for each threshold whose trigger compares
scores with constants, the compute at which it fires, with a bootstrap
interval (default 80%, or the policy's cadence.forecast confidence). The
margin is the forecast over the latest assessed compute. Forecasts are
extrapolations: read the notes, and see README "Forecasting and its limits".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			fcs, err := s.Forecast(cmd.Context(), model, t, confidence)
			if err != nil {
				return err
			}
			if output == "json" {
				return json.NewEncoder(a.stdout).Encode(fcs)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "THRESHOLD\tEVALUATION\tLEVEL\tFIRES AT (FLOP)\tINTERVAL\tMARGIN\tPOINTS\tNOTE")
			for _, f := range fcs {
				if f.Error != "" {
					fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t%d\t%s\n", f.Threshold, f.Evaluation, f.Points, f.Error)
					continue
				}
				note := strings.Join(f.Notes, "; ")
				if f.Crossed {
					note = "already reached; " + note
				}
				fmt.Fprintf(tw, "%s\t%s\t%g\t%s\t%s–%s (%g%%)\t%s×\t%d\t%s\n", f.Threshold, f.Evaluation, f.Level,
					flop(float64(f.FiresAt)), flop(float64(f.Interval[0])), flop(float64(f.Interval[1])), f.Confidence*100, flop(float64(f.Margin)), f.Points, note)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&model, "model", "", "model id")
	cmd.Flags().StringVar(&at, "at", "", "as of this time (RFC 3339; default now)")
	cmd.Flags().Float64Var(&confidence, "confidence", 0, "interval mass (default: the policy's cadence.forecast confidence, else 0.8)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.MarkFlagRequired("model")
	return cmd
}

func (a *app) correlateCmd() *cobra.Command {
	var models []string
	var at, output string
	var below float64
	cmd := &cobra.Command{
		Use:   "correlate [--models a,b]",
		Short: "Test whether evaluations move together across assessed checkpoints",
		Long: `Rank correlation (Spearman) between every pair of evaluations across the
assessed checkpoints of the given models (default: all), with the number of
checkpoint pairs and a bootstrap interval; domains whose evaluations are
weakly correlated with the rest are flagged: there, measuring some
capabilities says little about the others.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := parseTime("at", at)
			if err != nil {
				return err
			}
			s, err := a.open(cmd.Context())
			if err != nil {
				return err
			}
			c, err := s.Correlate(cmd.Context(), models, t, below)
			if err != nil {
				return err
			}
			type pair struct {
				A        string     `json:"a"`
				B        string     `json:"b"`
				Rho      *float64   `json:"rho"`
				Pairs    int        `json:"pairs"`
				Interval []*float64 `json:"interval"`
			}
			num := func(f float64) *float64 {
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return nil
				}
				return &f
			}
			var pairs []pair
			for _, p := range c.Pairs {
				pairs = append(pairs, pair{p.A, p.B, num(p.Rho), p.Pairs, []*float64{num(p.Interval[0]), num(p.Interval[1])}})
			}
			if output == "json" {
				return json.NewEncoder(a.stdout).Encode(map[string]any{
					"models": c.Models, "checkpoints": c.Checkpoints, "pairs": pairs, "weakDomains": c.Weak, "weakBelow": c.Threshold,
				})
			}
			fmt.Fprintf(a.stdout, "%d assessed checkpoints of %s\n", c.Checkpoints, strings.Join(c.Models, ", "))
			tw := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "A\tB\tRHO\tPAIRS\tINTERVAL")
			f := func(p *float64) string {
				if p == nil {
					return "n/a"
				}
				return fmt.Sprintf("%.2f", *p)
			}
			for _, p := range pairs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s–%s\n", p.A, p.B, f(p.Rho), p.Pairs, f(p.Interval[0]), f(p.Interval[1]))
			}
			tw.Flush()
			if len(c.Weak) > 0 {
				fmt.Fprintf(a.stdout, "weakly correlated with the rest (rho < %g): %s: measuring other domains is not enough here\n", below, strings.Join(c.Weak, ", "))
			}
			return nil
		},
	}
	cmd.Flags().StringSliceVar(&models, "models", nil, "models to pool (default: all)")
	cmd.Flags().StringVar(&at, "at", "", "as of this time (RFC 3339; default now)")
	cmd.Flags().Float64Var(&below, "weak-below", 0.5, "flag domains whose mean correlation with other domains is below this")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

func flop(f float64) string {
	if math.IsInf(f, 1) {
		return "∞"
	}
	if f == 0 {
		return "0"
	}
	return strings.Replace(fmt.Sprintf("%.3g", f), "e+", "e", 1)
}
