package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// EvalOptions configure Eval.
type EvalOptions struct {
	Suite *Suite
	// Endpoint and Model are the evaluated server and model name.
	Endpoint, Model string
	// Checkpoint is the checkpoint the model serves (part of the run id).
	Checkpoint string
	// APIKey overrides the suite's apiKeyEnv variable.
	APIKey string
	// GraderEndpoint, GraderModel and GraderAPIKey override the suite's
	// grader (model-graded suites).
	GraderEndpoint, GraderModel, GraderAPIKey string
	MaxConnections                            int
	Timeout                                   time.Duration
	Retries                                   int
	MaxFailures                               int
	// Limit, when positive, runs only the first Limit samples.
	Limit int
	// RunsDir holds run state files; RunID overrides the derived run id;
	// Restart discards an existing state.
	RunsDir string
	RunID   string
	Restart bool
	// Progress, when set, shows a progress bar (pass a terminal only).
	Progress io.Writer
	// Abandon, once done, cancels the requests in flight.
	Abandon context.Context
	// Getenv reads API keys (default os.Getenv).
	Getenv func(string) string
	// Transport and Configure are for tests: a transport for both
	// clients, and a hook that may adjust each client (backoff, sleep).
	Transport http.RoundTripper
	Configure func(*Client)
}

// EvalReport is the outcome of Eval.
type EvalReport struct {
	RunID     string
	StatePath string
	// Discarded is the size of a torn tail dropped from the state file.
	Discarded int64
	Suite     *Suite
	Items     []Item
	Scorer    Scorer
	Result    *Result
	Metrics   Metrics
	// Endpoint is the evaluated endpoint, redacted; Model the model name
	// requested.
	Endpoint, Model string
	// Started is when the run was first started; At the completion time
	// of its latest scored sample (the result's time).
	Started, At time.Time
	// Warnings are notes for the user (an unset API key variable).
	Warnings []string
}

// ErrFatal wraps a run stopped by an error that would fail every sample.
var ErrFatal = errors.New("run stopped")

// Eval runs a suite against an endpoint, resuming the run's state.
func Eval(ctx context.Context, o EvalOptions) (*EvalReport, error) {
	s := o.Suite
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	rep := &EvalReport{Suite: s}
	key := o.APIKey
	if key == "" && s.APIKeyEnv != "" {
		key = getenv(s.APIKeyEnv)
		if key == "" && !isLoopback(o.Endpoint) {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("$%s (the suite's apiKeyEnv) is not set; sending requests without an API key", s.APIKeyEnv))
		}
	}
	client, err := NewClient(ClientConfig{
		Endpoint: o.Endpoint, Model: o.Model, APIKey: key, Generation: s.Generation,
		MaxConnections: o.MaxConnections, Timeout: o.Timeout, Retries: o.Retries, Transport: o.Transport,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	client.Abandon = o.Abandon
	if o.Configure != nil {
		o.Configure(client)
	}
	var grader *Client
	if s.Scorer.Kind == ScorerModelGraded {
		g := s.Scorer.Grader
		if g == nil {
			g = &GraderSpec{}
		}
		gEndpoint, gModel := first(o.GraderEndpoint, g.Endpoint), first(o.GraderModel, g.Model)
		gKey := o.GraderAPIKey
		if gKey == "" && g.APIKeyEnv != "" {
			gKey = getenv(g.APIKeyEnv)
			if gKey == "" && !isLoopback(first(o.GraderEndpoint, g.Endpoint)) {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("$%s (the grader's apiKeyEnv) is not set; grading without an API key", g.APIKeyEnv))
			}
		}
		if gEndpoint == "" && gModel == "" {
			grader = client
		} else {
			if gEndpoint == "" {
				gEndpoint, gKey = o.Endpoint, first(gKey, key)
			}
			if gModel == "" {
				gModel = o.Model
			}
			grader, err = NewClient(ClientConfig{
				Endpoint: gEndpoint, Model: gModel, APIKey: gKey,
				MaxConnections: o.MaxConnections, Timeout: o.Timeout, Retries: o.Retries, Transport: o.Transport,
			})
			if err != nil {
				return nil, fmt.Errorf("grader: %w", err)
			}
			defer grader.Close()
			grader.Abandon = o.Abandon
			if o.Configure != nil {
				o.Configure(grader)
			}
		}
	}
	scorer, err := NewScorer(&s.Scorer, grader)
	if err != nil {
		return nil, err
	}
	rep.Scorer = scorer
	rep.Endpoint, rep.Model = RedactURL(client.URL), o.Model

	samples := s.Samples
	if o.Limit > 0 && o.Limit < len(samples) {
		samples = samples[:o.Limit]
	}
	rep.Items = Items(NewPrompt(s), samples)

	runID := o.RunID
	if runID == "" {
		runID = RunID("eval", s.Digest, o.Model, o.Checkpoint)
	}
	rep.RunID = runID
	h := Header{RunID: runID, Kind: "eval", Name: s.Name, Digest: s.Digest, Model: o.Model, Scorer: scorer.Name(), Subject: o.Checkpoint, Endpoint: rep.Endpoint}
	st, err := OpenState(o.RunsDir, h, o.Restart, func(old Header) error {
		if old.Kind != "eval" || old.Digest != s.Digest || old.Model != o.Model || old.Subject != o.Checkpoint {
			return fmt.Errorf("run %s is of suite %s (%s), model %q, checkpoint %q; use another --run-id or --restart", runID, old.Name, old.Digest, old.Model, old.Subject)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.StatePath, rep.Discarded, rep.Started = st.Path, st.Discarded, st.Header.Created
	var prog *Progress
	if o.Progress != nil {
		already := 0
		for _, it := range rep.Items {
			if out := st.Loaded[it.Sample.Key()]; out != nil && out.Score != nil {
				already++
			}
		}
		prog = StartProgress(o.Progress, s.Name, len(rep.Items), already)
	}
	res, runErr := Run(ctx, Config{Client: client, Scorer: scorer, State: st, Concurrency: o.MaxConnections, MaxFailures: o.MaxFailures, Progress: prog}, rep.Items)
	prog.Stop()
	if err := st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return nil, runErr
	}
	rep.Result = res
	rep.Metrics = Aggregate(res.Outcomes)
	for _, out := range res.Outcomes {
		if out != nil && out.At.After(rep.At) {
			rep.At = out.At
		}
	}
	if res.Stopped != nil && Fatal(res.Stopped) {
		return rep, fmt.Errorf("%w: %w", ErrFatal, res.Stopped)
	}
	return rep, nil
}

// LogInfo describes the report's run for WriteInspectLog.
func (r *EvalReport) LogInfo(version string, metadata map[string]any) *LogInfo {
	s := r.Suite
	status := "success"
	errMsg := ""
	switch {
	case r.Result.Complete():
	case r.Result.Interrupted:
		status = "cancelled"
	default:
		status = "error"
		errMsg = fmt.Sprintf("%d of %d samples did not complete", len(r.Items)-r.Result.Done(), len(r.Items))
		if len(r.Result.Failures) > 0 {
			errMsg += "; the first failure: " + r.Result.Failures[0].Error()
		}
	}
	completed := r.At
	if completed.IsZero() {
		completed = r.Started
	}
	return &LogInfo{
		RunID: r.RunID, Task: s.Name, TaskVersion: s.Version, TaskFile: filepath.Base(s.File),
		DatasetName: s.Name, DatasetFile: filepath.Base(s.DatasetFile), DatasetSize: len(s.Samples),
		Model: r.Model, ModelBaseURL: r.Endpoint, Generation: s.Generation, System: s.System, Template: s.Template,
		Scorer: r.Scorer, Status: status, Error: errMsg, Created: r.Started, Started: r.Started, Completed: completed,
		Metadata: metadata, Version: version,
	}
}

// isLoopback reports whether an endpoint is on this machine (where
// servers seldom want a key).
func isLoopback(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil {
		return false
	}
	h := u.Hostname()
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func first(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
