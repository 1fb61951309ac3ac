package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/runner"
	"scalegate.dev/scalegate/internal/service"
)

func (a *app) evalCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "eval",
		Short: "Run evaluation suites against OpenAI-compatible endpoints",
		Long: `scalegate's native runner: a suite (a JSONL dataset and a scorer; see
docs/runner.md) runs against an OpenAI-compatible chat-completions endpoint
(vLLM, llama.cpp server, Ollama, hosted APIs), and its result is recorded
as evidence for a checkpoint.`,
	}
	cmd.AddCommand(a.evalRunCmd(), a.evalCheckCmd())
	return cmd
}

func (a *app) evalCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check SUITE.yaml",
		Short: "Validate a suite and its dataset; print its digest",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := runner.LoadSuite(args[0])
			if err != nil {
				return &exitError{code: exitBadInput, err: err}
			}
			fmt.Fprintf(a.stdout, "suite %s: %d samples, scorer %s, evaluation %s\ndigest %s\n", s.Name, len(s.Samples), s.Scorer.Kind, s.EvaluationID(), s.Digest)
			return nil
		},
	}
}

// evalFlags are the flags of eval run.
type evalFlags struct {
	suite, endpoint, model, checkpoint, evaluation, elicitation string
	apiKeyEnv, graderEndpoint, graderModel, graderKeyEnv        string
	logOut, runID, output, at                                   string
	conns, retries, maxFailures, limit                          int
	timeout                                                     time.Duration
	restart, noRecord                                           bool
}

func (a *app) evalRunCmd() *cobra.Command {
	var f evalFlags
	cmd := &cobra.Command{
		Use:   "run --suite SUITE.yaml --endpoint URL --model NAME --checkpoint K",
		Short: "Run a suite against an endpoint and record the result for a checkpoint",
		Long: `Run every sample of a suite against an OpenAI-compatible chat-completions
endpoint, score it, and record the accuracy (with its standard error, the
number of samples and the suite's digest) as an evaluation result of the
checkpoint K, for the suite's evaluation (or --evaluation).

--endpoint is the server's base URL (http://127.0.0.1:8000/v1) or its
chat-completions URL. The API key is read from the environment variable the
suite names (apiKeyEnv) or --api-key-env; it is never taken on the command
line.

Requests run --max-connections at a time; 429, 5xx, timeouts (--timeout per
attempt), connection errors and malformed responses are retried up to
--retries times with exponential backoff and jitter; 401, 403 and 404 stop
the run. Every completed sample is appended (fsynced) to the run's state
file in <data>/runs/; running the same command again (same suite, model and
checkpoint) continues where it stopped and sends no recorded request again.
Ctrl-C stops dispatching and waits for the requests in flight (a second
Ctrl-C abandons them). --restart discards the state.

--log-out writes an Inspect-compatible .json log that Inspect's log viewer
opens. The result is recorded only when every sample was scored.

Exit codes: 0 recorded (or run, with --no-record); 2 bad input (suite,
flags, unknown checkpoint or evaluation, or an endpoint that answers 401,
403 or 404); 3 interrupted or samples failed (re-run to resume).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return a.evalRun(cmd.Context(), cmd, &f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.suite, "suite", "", "suite file (YAML)")
	fl.StringVar(&f.endpoint, "endpoint", "", "OpenAI-compatible endpoint base URL, e.g. http://127.0.0.1:8000/v1")
	fl.StringVar(&f.model, "model", "", "model name to request")
	fl.StringVar(&f.checkpoint, "checkpoint", "", "checkpoint the endpoint serves (the result is recorded for it)")
	fl.StringVar(&f.evaluation, "evaluation", "", "policy evaluation id (default: the suite's evaluation, else its name)")
	fl.StringVar(&f.elicitation, "elicitation", "", "elicitation of the result (default: the suite's, else prompted)")
	fl.StringVar(&f.apiKeyEnv, "api-key-env", "", "environment variable holding the endpoint's API key (default: the suite's apiKeyEnv)")
	fl.StringVar(&f.graderEndpoint, "grader-endpoint", "", "grader endpoint for model-graded suites (default: the suite's, else --endpoint)")
	fl.StringVar(&f.graderModel, "grader-model", "", "grader model for model-graded suites (default: the suite's, else --model)")
	fl.StringVar(&f.graderKeyEnv, "grader-api-key-env", "", "environment variable holding the grader's API key")
	fl.IntVar(&f.conns, "max-connections", 32, "requests in flight at once")
	fl.DurationVar(&f.timeout, "timeout", runner.DefaultTimeout, "timeout of each request attempt")
	fl.IntVar(&f.retries, "retries", runner.DefaultRetries, "retries of a failed request (0 for none)")
	fl.IntVar(&f.maxFailures, "max-failures", 10, "stop after this many samples failed (0: never)")
	fl.IntVar(&f.limit, "limit", 0, "run only the first N samples")
	fl.StringVar(&f.logOut, "log-out", "", "write an Inspect-compatible .json log to this file")
	fl.StringVar(&f.runID, "run-id", "", "run id (default: derived from the suite digest, model and checkpoint)")
	fl.BoolVar(&f.restart, "restart", false, "discard the run's recorded samples and start over")
	fl.BoolVar(&f.noRecord, "no-record", false, "run and score, but record nothing in the log (--checkpoint optional)")
	fl.StringVar(&f.at, "at", "", "record the result at this time (default: when its last sample completed)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: text or json")
	cmd.MarkFlagRequired("suite")
	cmd.MarkFlagRequired("endpoint")
	cmd.MarkFlagRequired("model")
	return cmd
}

// evalResult is eval run's JSON output.
type evalResult struct {
	RunID       string                `json:"runId"`
	State       string                `json:"state"`
	Suite       map[string]string     `json:"suite"`
	Model       string                `json:"model"`
	Endpoint    string                `json:"endpoint"`
	Checkpoint  string                `json:"checkpoint,omitempty"`
	Evaluation  string                `json:"evaluation"`
	Samples     int                   `json:"samples"`
	Resumed     int                   `json:"resumed"`
	Completed   int                   `json:"completed"`
	Failed      int                   `json:"failed"`
	Requests    int64                 `json:"requests"`
	Seconds     float64               `json:"seconds"`
	Accuracy    float64               `json:"accuracy"`
	Stderr      float64               `json:"stderr"`
	Correct     int                   `json:"correct"`
	Complete    bool                  `json:"complete"`
	Interrupted bool                  `json:"interrupted,omitempty"`
	Failures    []string              `json:"failures,omitempty"`
	InspectLog  string                `json:"inspectLog,omitempty"`
	Recorded    *service.EvalRecorded `json:"recorded,omitempty"`
	Warnings    []string              `json:"warnings,omitempty"`
}

func (a *app) evalRun(ctx context.Context, cmd *cobra.Command, f *evalFlags) error {
	if f.output != "text" && f.output != "json" {
		return usageErrorf("-o: expected text or json, got %q", f.output)
	}
	if f.checkpoint == "" && !f.noRecord {
		return usageErrorf("--checkpoint is required (or pass --no-record)")
	}
	if f.conns < 1 || f.conns > 4096 {
		return usageErrorf("--max-connections: expected 1 to 4096, got %d", f.conns)
	}
	if f.retries < 0 || f.limit < 0 || f.maxFailures < 0 || f.timeout <= 0 {
		return usageErrorf("--retries, --limit and --max-failures must not be negative, and --timeout must be positive")
	}
	if f.elicitation != "" && policy.ElicitationRank(f.elicitation) < 0 {
		return usageErrorf("--elicitation: must be one of %v, got %q", policy.Elicitations, f.elicitation)
	}
	if f.runID != "" {
		if err := runner.CheckRunID(f.runID); err != nil {
			return usageErrorf("--run-id: %v", err)
		}
	}
	at, err := parseTime("at", f.at)
	if err != nil {
		return err
	}
	suite, err := runner.LoadSuite(f.suite)
	if err != nil {
		return &exitError{code: exitBadInput, err: err}
	}
	if _, err := runner.EndpointURL(f.endpoint); err != nil {
		return usageErrorf("--endpoint: %v", err)
	}
	evaluation := f.evaluation
	if evaluation == "" {
		evaluation = suite.EvaluationID()
	}
	s, err := a.open(ctx)
	if err != nil {
		return err
	}
	if !f.noRecord {
		if err := s.CheckEvalTarget(ctx, f.checkpoint, evaluation); err != nil {
			return err
		}
	}
	opt := runner.EvalOptions{
		Suite: suite, Endpoint: f.endpoint, Model: f.model, Checkpoint: f.checkpoint,
		GraderEndpoint: f.graderEndpoint, GraderModel: f.graderModel,
		MaxConnections: f.conns, Timeout: f.timeout, Retries: f.retries, MaxFailures: f.maxFailures, Limit: f.limit,
		RunsDir: filepath.Join(s.Dir, "runs"), RunID: f.runID, Restart: f.restart,
	}
	if f.retries == 0 {
		opt.Retries = -1
	}
	opt.APIKey, opt.GraderAPIKey, opt.Progress = a.endpointSetup(f.apiKeyEnv, f.graderKeyEnv)
	abandon, stop := a.interrupts(ctx)
	defer stop()
	opt.Abandon = abandon
	rep, err := runner.Eval(ctx, opt)
	if errors.Is(err, runner.ErrFatal) && rep != nil {
		a.printEval(rep, f, evaluation, nil)
		return &exitError{code: exitBadInput, err: fmt.Errorf("the endpoint refused the run: %w", err)}
	}
	if err != nil {
		return err
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	if rep.Discarded > 0 {
		fmt.Fprintf(a.stderr, "note: discarded %d bytes of a torn last record in %s (that sample runs again)\n", rep.Discarded, rep.StatePath)
	}
	res := rep.Result
	var logErr error
	if f.logOut != "" {
		md := map[string]any{"scalegate_suite_digest": suite.Digest, "scalegate_run_id": rep.RunID, "elicitation": firstOf(f.elicitation, suite.Elicitation, service.DefaultElicitation)}
		if f.checkpoint != "" {
			md["checkpoint"] = f.checkpoint
		}
		logErr = runner.WriteInspectLog(f.logOut, rep.LogInfo("scalegate", md), rep.Items, res.Outcomes)
	}
	var recorded *service.EvalRecorded
	if res.Complete() && !f.noRecord {
		m := rep.Metrics
		stderr := m.Stderr
		when := rep.At
		if !at.IsZero() {
			when = at
		}
		// A run that completed is recorded even if an interrupt came
		// at its very end.
		recorded, err = s.RecordEval(context.WithoutCancel(ctx), service.EvalRun{
			Checkpoint: f.checkpoint, Evaluation: evaluation, Elicitation: firstOf(f.elicitation, suite.Elicitation),
			Score: m.Accuracy, Stderr: &stderr, Samples: int64(m.N), At: when,
			Suite: suite.Name, SuiteVersion: suite.Version, Digest: suite.Digest,
			Scorer: rep.Scorer.Name(), Metric: "accuracy", Model: f.model, RunFile: filepath.Base(rep.StatePath),
		}, "cli")
		if err != nil {
			return err
		}
	}
	if err := a.printEval(rep, f, evaluation, recorded); err != nil {
		return err
	}
	if logErr != nil {
		return logErr
	}
	switch {
	case res.Complete():
		return nil
	case res.Interrupted:
		return &exitError{code: exitInternal, err: fmt.Errorf("interrupted with %d of %d samples done; run the same command again to continue", res.Done(), len(rep.Items))}
	case res.Stopped != nil:
		return &exitError{code: exitInternal, err: fmt.Errorf("run stopped with %d of %d samples done: %w; run the same command again to continue", res.Done(), len(rep.Items), res.Stopped)}
	}
	return &exitError{code: exitInternal, err: fmt.Errorf("%d of %d samples failed; run the same command again to retry them", len(rep.Items)-res.Done(), len(rep.Items))}
}

func (a *app) printEval(rep *runner.EvalReport, f *evalFlags, evaluation string, rec *service.EvalRecorded) error {
	res, m := rep.Result, rep.Metrics
	out := evalResult{
		RunID: rep.RunID, State: rep.StatePath, Model: rep.Model, Endpoint: rep.Endpoint, Checkpoint: f.checkpoint, Evaluation: evaluation,
		Suite:   map[string]string{"name": rep.Suite.Name, "version": rep.Suite.Version, "digest": rep.Suite.Digest, "file": rep.Suite.File},
		Samples: len(rep.Items), Resumed: res.Resumed, Completed: res.Completed, Failed: len(res.Failures), Requests: res.Requests,
		Seconds: res.Elapsed.Seconds(), Accuracy: m.Accuracy, Stderr: m.Stderr, Correct: m.Correct, Complete: res.Complete(),
		Interrupted: res.Interrupted, InspectLog: f.logOut, Recorded: rec, Warnings: rep.Warnings,
	}
	for i, fl := range res.Failures {
		if i == 10 {
			break
		}
		out.Failures = append(out.Failures, fl.Error())
	}
	if f.output == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	w := a.stdout
	fmt.Fprintf(w, "suite %s (%s), model %s at %s\n", rep.Suite.Name, rep.Suite.Digest, rep.Model, rep.Endpoint)
	rate := ""
	if s := res.Elapsed.Seconds(); s > 0 && res.Completed > 0 {
		rate = fmt.Sprintf(", %.0f samples/s", float64(res.Completed)/s)
	}
	fmt.Fprintf(w, "run %s: %d of %d samples done (%d resumed, %d now), %d failed, %d requests, %s%s\n",
		rep.RunID, res.Done(), len(rep.Items), res.Resumed, res.Completed, len(res.Failures), res.Requests, res.Elapsed.Round(time.Millisecond), rate)
	for _, fl := range out.Failures {
		fmt.Fprintf(w, "  failed: %s\n", fl)
	}
	if m.N > 0 {
		fmt.Fprintf(w, "accuracy %.4f (stderr %.4f): %d of %d correct\n", m.Accuracy, m.Stderr, m.Correct, m.N)
	}
	if f.logOut != "" {
		fmt.Fprintf(w, "inspect log: %s\n", f.logOut)
	}
	switch {
	case rec == nil:
	case rec.Unchanged:
		fmt.Fprintf(w, "result for %s / %s already recorded (unchanged)\n", f.checkpoint, evaluation)
	default:
		fmt.Fprintf(w, "recorded result for %s / %s at log index %d\n", f.checkpoint, evaluation, rec.LogIndex)
	}
	return nil
}

// interrupts returns a context cancelled on the second interrupt after
// ctx is cancelled (the first one, caught by main, cancels ctx: the run
// stops dispatching and waits for its requests in flight; the second
// abandons them).
func (a *app) interrupts(ctx context.Context) (context.Context, func()) {
	abandon, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-done:
			return
		case <-ctx.Done():
		}
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		defer signal.Stop(sig)
		fmt.Fprintln(a.stderr, "interrupted: waiting for the requests in flight (interrupt again to abandon them)")
		select {
		case <-sig:
			cancel()
		case <-done:
		}
	}()
	return abandon, func() {
		close(done)
		<-exited
		cancel()
	}
}

func firstOf(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// endpointSetup reads the API keys named by environment variables (warning
// when the model's is unset) and returns stderr as the progress writer when
// it is a terminal; shared by eval run and audit rerun.
func (a *app) endpointSetup(keyEnv, graderKeyEnv string) (key, graderKey string, progress io.Writer) {
	if keyEnv != "" {
		key = os.Getenv(keyEnv)
		if key == "" {
			fmt.Fprintf(a.stderr, "warning: $%s is not set; sending requests without an API key\n", keyEnv)
		}
	}
	if graderKeyEnv != "" {
		graderKey = os.Getenv(graderKeyEnv)
	}
	if runner.IsTerminal(a.stderr) {
		progress = a.stderr
	}
	return key, graderKey, progress
}
