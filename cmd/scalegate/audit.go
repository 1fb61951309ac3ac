package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/attest"
	"scalegate.dev/scalegate/internal/audit"
	"scalegate.dev/scalegate/internal/runner"
)

func (a *app) auditCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Spot-check a lab's evaluation by re-running a sample of it",
	}
	cmd.AddCommand(a.auditRerunCmd())
	return cmd
}

type auditFlags struct {
	log, endpoint, model, seed, score, scorer, apiKeyEnv  string
	graderEndpoint, graderModel, graderKeyEnv, test, keyF string
	attestOut, output                                     string
	n, conns, retries, maxFailures                        int
	alpha                                                 float64
	timeout                                               time.Duration
	attest, restart                                       bool
}

func (a *app) auditRerunCmd() *cobra.Command {
	var f auditFlags
	cmd := &cobra.Command{
		Use:   "rerun --log FILE --endpoint URL --model NAME --sample N [--seed S]",
		Short: "Re-run N samples of a lab's Inspect log and test whether its scores hold",
		Long: `Draw N samples (reproducibly from --seed; a random seed is chosen and
shown when none is given) from a lab's Inspect log (.json or .eval, which
must carry its samples), send each the same messages the lab's model was
sent, score the answers with the log's scorer (choice, exact, match,
includes, pattern, model_graded_qa or model_graded_fact; --scorer
overrides), and compare the lab's scores with the re-run's on the same
samples.

The report gives both scores, the discordant pairs and the p-values of
McNemar's exact test (paired, the default decisive test), Fisher's exact
test, the two-proportion z-test and, when the log reports an accuracy, an
exact binomial test of the re-run against it. The verdict is "discrepant"
when the decisive test's p-value is below --alpha.

The re-run resumes like eval run: its state is in <data>/runs/, and running
the same command again sends no recorded request again.

With --attest --key FILE (an attester key from "attest keygen"), a
complete re-run is signed as an in-toto statement about the log file
(predicate type ` + audit.PredicateType + `)
in a DSSE envelope, written to --attest-out.

Exit codes: 0 consistent; 1 discrepant; 2 bad input; 3 incomplete (samples
failed or interrupted: re-run to resume) or internal error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.auditRerun(cmd.Context(), cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.log, "log", "", "the lab's Inspect log (.json or .eval) with samples")
	fl.StringVar(&f.endpoint, "endpoint", "", "OpenAI-compatible endpoint base URL to re-run against")
	fl.StringVar(&f.model, "model", "", "model name to request")
	fl.IntVar(&f.n, "sample", 0, "number of samples to draw")
	fl.StringVar(&f.seed, "seed", "", "seed of the draw (an unsigned 64-bit integer; default random, shown)")
	fl.StringVar(&f.score, "score", "", "which of the log's scores to audit (default the first)")
	fl.StringVar(&f.scorer, "scorer", "", "score the re-run with this scorer (choice, exact, match, includes) instead of the log's")
	fl.StringVar(&f.apiKeyEnv, "api-key-env", "", "environment variable holding the endpoint's API key")
	fl.StringVar(&f.graderEndpoint, "grader-endpoint", "", "grader endpoint for model-graded logs (default --endpoint)")
	fl.StringVar(&f.graderModel, "grader-model", "", "grader model for model-graded logs (default --model)")
	fl.StringVar(&f.graderKeyEnv, "grader-api-key-env", "", "environment variable holding the grader's API key")
	fl.Float64Var(&f.alpha, "alpha", audit.DefaultAlpha, "significance level")
	fl.StringVar(&f.test, "test", audit.TestMcNemar, "decisive test: mcnemar-exact, fisher-exact, two-proportion-z or binomial-vs-reported")
	fl.IntVar(&f.conns, "max-connections", 16, "requests in flight at once")
	fl.DurationVar(&f.timeout, "timeout", runner.DefaultTimeout, "timeout of each request attempt")
	fl.IntVar(&f.retries, "retries", runner.DefaultRetries, "retries of a failed request (0 for none)")
	fl.IntVar(&f.maxFailures, "max-failures", 10, "stop after this many samples failed (0: never)")
	fl.BoolVar(&f.restart, "restart", false, "discard the re-run's recorded samples and start over")
	fl.BoolVar(&f.attest, "attest", false, "sign the outcome (needs --key)")
	fl.StringVar(&f.keyF, "key", "", "attester private key file (from attest keygen)")
	fl.StringVar(&f.attestOut, "attest-out", "", "attestation file (default <log name>.audit-rerun.dsse.json in the current directory)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("endpoint")
	cmd.MarkFlagRequired("model")
	cmd.MarkFlagRequired("sample")
	return cmd
}

func (a *app) auditRerun(ctx context.Context, cmd *cobra.Command, f *auditFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageErrorf("-o: expected text or json, got %q", f.output)
	}
	if f.n < 1 {
		return usageErrorf("--sample: expected a positive number of samples, got %d", f.n)
	}
	if f.conns < 1 || f.conns > 4096 || f.retries < 0 || f.maxFailures < 0 || f.timeout <= 0 {
		return usageErrorf("--max-connections must be 1 to 4096, --retries and --max-failures not negative, --timeout positive")
	}
	if f.attest != (f.keyF != "") {
		return usageErrorf("--attest and --key go together")
	}
	if _, err := runner.EndpointURL(f.endpoint); err != nil {
		return usageErrorf("--endpoint: %v", err)
	}
	var seed uint64
	if f.seed != "" {
		s, err := strconv.ParseUint(f.seed, 10, 64)
		if err != nil {
			return usageErrorf("--seed: expected an unsigned 64-bit integer, got %q", f.seed)
		}
		seed = s
	} else {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		seed = binary.BigEndian.Uint64(b[:]) >> 11 // 53 bits: easy to copy and to pass to other tools
	}
	var skey string
	if f.attest {
		data, err := os.ReadFile(f.keyF)
		if err != nil {
			return usageErrorf("--key: %v", err)
		}
		skey = strings.TrimSpace(string(data))
		if _, err := attest.ParsePrivateKey(skey); err != nil {
			return usageErrorf("--key: %v", err)
		}
	}
	l, err := audit.ReadLog(f.log, f.score)
	if err != nil {
		return &exitError{code: exitBadInput, err: err}
	}
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	opt := audit.Options{
		Log: l, N: f.n, Seed: seed, Endpoint: f.endpoint, Model: f.model, Scorer: f.scorer,
		GraderEndpoint: f.graderEndpoint, GraderModel: f.graderModel,
		MaxConnections: f.conns, Timeout: f.timeout, Retries: f.retries, MaxFailures: f.maxFailures,
		RunsDir: filepath.Join(s.Dir, "runs"), Restart: f.restart, Alpha: f.alpha, Test: f.test,
	}
	if f.retries == 0 {
		opt.Retries = -1
	}
	opt.APIKey, opt.GraderAPIKey, opt.Progress = a.endpointSetup(f.apiKeyEnv, f.graderKeyEnv)
	abandon, stop := a.interrupts(ctx)
	defer stop()
	opt.Abandon = abandon
	rep, err := audit.Rerun(ctx, opt)
	if errors.Is(err, runner.ErrFatal) && rep != nil {
		a.printAudit(rep, f, "")
		return &exitError{code: exitBadInput, err: fmt.Errorf("the endpoint refused the re-run: %w", err)}
	}
	if err != nil {
		if errors.Is(err, audit.ErrBadLog) || strings.Contains(err.Error(), "unknown test") || strings.Contains(err.Error(), "alpha must") || strings.Contains(err.Error(), "--scorer") {
			return &exitError{code: exitBadInput, err: err}
		}
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	attested := ""
	if f.attest && rep.Complete {
		env, err := audit.Attest(skey, rep, "scalegate")
		if err != nil {
			return err
		}
		attested = f.attestOut
		if attested == "" {
			attested = strings.TrimSuffix(l.Base(), filepath.Ext(l.Base())) + ".audit-rerun.dsse.json"
		}
		if err := writeFileAtomic(attested, append(env, '\n')); err != nil {
			return err
		}
	}
	if err := a.printAudit(rep, f, attested); err != nil {
		return err
	}
	switch {
	case !rep.Complete:
		what := fmt.Sprintf("%d of %d drawn samples were not re-run", rep.Errors, rep.Drawn)
		if rep.Interrupted {
			what = "interrupted: " + what
		}
		if f.attest {
			what += "; nothing was attested"
		}
		return &exitError{code: exitInternal, err: fmt.Errorf("%s; run the same command again to continue", what)}
	case rep.Verdict == audit.Discrepant:
		return errDenied
	}
	return nil
}

func (a *app) printAudit(rep *audit.Report, f *auditFlags, attested string) error {
	if f.output == "json" {
		out := struct {
			*audit.Report
			Attestation string `json:"attestation,omitempty"`
		}{rep, attested}
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := a.stdout
	lg := rep.Log
	fmt.Fprintf(w, "log %s (%s): task %s, model %s, scorer %s, %d samples", lg.File, lg.Digest, lg.Task, lg.Model, lg.Scorer, lg.Samples)
	if lg.Skipped > 0 {
		fmt.Fprintf(w, " (%d more skipped)", lg.Skipped)
	}
	fmt.Fprintln(w)
	if lg.Reported != nil {
		fmt.Fprintf(w, "  reported accuracy %.4f; its samples average %.4f", *lg.Reported, lg.Recomputed)
		if lg.ReportedMatches != nil && !*lg.ReportedMatches {
			fmt.Fprint(w, " (MISMATCH: the reported accuracy is not the mean of the logged scores)")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "re-run %s: %d samples drawn with seed %d, model %s at %s, scorer %s\n", rep.RunID, rep.Drawn, rep.Seed, rep.Model, rep.Endpoint, rep.Scorer)
	if rep.Grader != "" {
		fmt.Fprintf(w, "  grader %s\n", rep.Grader)
	}
	fmt.Fprintf(w, "  lab     %4d/%-4d correct  %.4f\n", rep.Lab.Correct, rep.Lab.N, rep.Lab.Score)
	fmt.Fprintf(w, "  re-run  %4d/%-4d correct  %.4f\n", rep.Rerun.Correct, rep.Rerun.N, rep.Rerun.Score)
	fmt.Fprintf(w, "  discordant: %d right in the lab's run only, %d in the re-run only\n", rep.LabOnly, rep.RerunOnly)
	if rep.Partial > 0 {
		fmt.Fprintf(w, "  %d samples with partial credit count as incorrect\n", rep.Partial)
	}
	if rep.Errors > 0 {
		fmt.Fprintf(w, "  %d samples not re-run:\n", rep.Errors)
		for _, fl := range rep.Failures {
			fmt.Fprintf(w, "    %s\n", fl)
		}
	}
	for _, t := range rep.Tests {
		stat := ""
		if t.Statistic != nil {
			stat = fmt.Sprintf("z = %.4f, ", *t.Statistic)
		}
		mark := ""
		if t.Name == rep.Decisive {
			mark = " (decisive)"
		}
		fmt.Fprintf(w, "  %-21s %sp = %.4g%s\n", t.Name, stat, t.PValue, mark)
	}
	verdict := strings.ToUpper(rep.Verdict)
	switch {
	case rep.Verdict == audit.Discrepant && rep.Rerun.Score > rep.Lab.Score:
		verdict += ": the re-run scores higher than the lab's run, beyond chance"
	case rep.Verdict == audit.Discrepant:
		verdict += ": the re-run scores lower than the lab's run, beyond chance"
	case rep.Verdict == audit.Consistent:
		verdict += ": the difference is within chance"
	}
	fmt.Fprintf(w, "verdict %s (alpha %g, p = %.4g)\n", verdict, rep.Alpha, rep.PValue)
	if attested != "" {
		fmt.Fprintf(w, "attestation: %s\n", attested)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
