package main

import (
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/analysis"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/service"
)

// loadPolicies reads and validates policy files; any invalid file is bad
// input (exit 2).
func loadPolicies(paths []string) ([]*policy.Policy, error) {
	ps := make([]*policy.Policy, 0, len(paths))
	for _, path := range paths {
		data, err := readPolicyFile(path)
		if err != nil {
			return nil, err
		}
		p, err := service.CheckPolicy(path, data)
		if err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

func checkFormat(format string, allowed ...string) error {
	if !slices.Contains(allowed, format) {
		return usageErrorf("--format: expected %s or %s, got %q", strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1], format)
	}
	return nil
}

func (a *app) policyLintCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "lint FILE...",
		Short: "Find vague or toothless provisions in policy files",
		Long: `Lint policy files for provisions that leave the gate without teeth: thresholds
left to judgment, no early warning, no cadence, training that never pauses,
weak elicitation, self-attested security, no scrutiny period, escape
clauses, and more (see docs/analysis.md for every code).

Each finding has a stable code, a severity, a file:line:col, what is wrong
and what would fix it. --format sarif writes SARIF 2.1.0 for code hosts to
annotate the policy files in pull requests.

Exit codes: 0 no error-severity finding; 1 at least one; 2 bad input.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "json", "sarif"); err != nil {
				return err
			}
			ps, err := loadPolicies(args)
			if err != nil {
				return err
			}
			results := make([]*analysis.LintResult, len(ps))
			errs := 0
			for i, p := range ps {
				results[i] = analysis.Lint(p)
				errs += results[i].Errors()
			}
			switch format {
			case "json":
				err = analysis.WriteLintJSON(a.stdout, results)
			case "sarif":
				err = analysis.WriteLintSARIF(a.stdout, results)
			default:
				err = analysis.WriteLintText(a.stdout, results)
			}
			if err != nil {
				return err
			}
			if errs > 0 {
				return errDenied
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, json or sarif")
	return cmd
}

func (a *app) policyScoreCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "score FILE...",
		Short: "Score policies against the Seoul commitments, METR's common elements and the criteria for teeth",
		Long: `Score each policy against the Seoul Frontier AI Safety Commitments I–VIII,
METR's nine common elements of frontier AI safety policies, and the
criteria for a policy with teeth. Each criterion is met, partial or
missing, with the policy lines that justify the mark.

` + analysis.WeightingNote + `

--format html writes one self-contained page.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "md", "json", "html"); err != nil {
				return err
			}
			ps, err := loadPolicies(args)
			if err != nil {
				return err
			}
			cards := make([]*analysis.Scorecard, len(ps))
			for i, p := range ps {
				cards[i] = analysis.Score(p)
			}
			return writeScore(a.stdout, format, cards)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, md, json or html")
	return cmd
}

func writeScore(w io.Writer, format string, cards []*analysis.Scorecard) error {
	switch format {
	case "md":
		return analysis.WriteScoreMarkdown(w, cards)
	case "json":
		return analysis.WriteScoreJSON(w, cards)
	case "html":
		return analysis.WriteScoreHTML(w, cards)
	}
	return analysis.WriteScoreText(w, cards)
}

func (a *app) policyDiffCmd() *cobra.Command {
	var format string
	var matches []string
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Classify the changes between two policy versions as stricter, weaker or neutral",
		Long: `Classify every change from OLD to NEW: thresholds added or removed, triggers,
warnings and clear conditions moved (compared numerically when they are
simple comparisons of scores with constants), safeguards, training and
deployment actions, red lines, cadence, scrutiny period, attesters and the
escape clause. Each change is stricter, weaker, mixed (stricter for some
inputs, weaker for others), unknown (changed, but the direction cannot be
read from the policy) or neutral.

Thresholds are paired by id; failing that, by name within a domain; failing
that, the one unpaired threshold of a domain in each version. --match
OLD-ID=NEW-ID pairs a threshold or a safeguard explicitly (for a new version
that renamed it), so that its changes are compared instead of it being
reported as removed and another added.

The exit code is 0 whatever changed (2 for bad input).`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "md", "json"); err != nil {
				return err
			}
			ps, err := loadPolicies(args)
			if err != nil {
				return err
			}
			r, err := analysis.DiffMatched(ps[0], ps[1], matches)
			if err != nil {
				return usageErrorf("--%v", err)
			}
			switch format {
			case "md":
				return analysis.WriteDiffMarkdown(a.stdout, r)
			case "json":
				return analysis.WriteDiffJSON(a.stdout, r)
			}
			return analysis.WriteDiffText(a.stdout, r)
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, md or json")
	cmd.Flags().StringArrayVar(&matches, "match", nil, "pair an old threshold or safeguard with a new one: OLD-ID=NEW-ID (repeatable)")
	return cmd
}

func (a *app) policyCompareCmd() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "compare LAB BASELINE",
		Short: "Check that a lab's policy is at least as strict as a regulator's baseline",
		Long: `Check that the lab's policy is at least as strict as the baseline. Each
baseline threshold must be covered by a lab threshold (one that names it in
baselineOf, or one in the same domain) whose trigger fires no later, which
stays crossed no shorter, requires at least the baseline's safeguards (as
externally attested where the baseline says so), pauses training where the
baseline does and opens no deployment mode the baseline keeps closed. The
lab's cadence must be at least as frequent, its scrutiny period at least as
long, and it may have an escape clause only if the baseline does.

A trigger that is not a simple comparison of scores with constants, and is
not written exactly as the baseline's, cannot be shown to fire no later:
that is a gap too.

Exit codes: 0 no gaps; 1 at least one gap; 2 bad input.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkFormat(format, "text", "md", "json"); err != nil {
				return err
			}
			ps, err := loadPolicies(args)
			if err != nil {
				return err
			}
			r := analysis.Compare(ps[0], ps[1])
			switch format {
			case "md":
				err = analysis.WriteCompareMarkdown(a.stdout, r)
			case "json":
				err = analysis.WriteCompareJSON(a.stdout, r)
			default:
				err = analysis.WriteCompareText(a.stdout, r)
			}
			if err != nil {
				return err
			}
			if !r.AtLeastAsStrict() {
				return errDenied
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "output format: text, md or json")
	return cmd
}

func (a *app) policySchemaCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of policy files (v1)",
		Long: `Print the JSON Schema of policy documents (format v1), for editors and CI
(for example a yaml-language-server modeline). The schema checks structure
only; ` + "`scalegate policy check`" + ` also checks references, conditions and the
rest of the semantics.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := a.stdout.Write(policy.Schema())
			return err
		},
	}
}
