package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/runner"
)

// Tests the verdict can rest on.
const (
	TestMcNemar  = "mcnemar-exact"
	TestFisher   = "fisher-exact"
	TestZ        = "two-proportion-z"
	TestBinomial = "binomial-vs-reported"
)

// Verdicts.
const (
	Consistent   = "consistent"
	Discrepant   = "discrepant"
	Inconclusive = "inconclusive"
)

// DefaultAlpha is the default significance level.
const DefaultAlpha = 0.05

// Options configure Rerun.
type Options struct {
	Log *LabLog
	// N is the number of samples to draw; Seed makes the draw
	// reproducible.
	N    int
	Seed uint64
	// Endpoint, Model and APIKey are the server re-run against.
	Endpoint, Model, APIKey string
	// Scorer, when set, is a runner scorer kind (choice, exact, match,
	// includes) used instead of the log's scorer.
	Scorer string
	// GraderEndpoint, GraderModel and GraderAPIKey configure the grader
	// of a model-graded log (default: the re-run endpoint and model).
	GraderEndpoint, GraderModel, GraderAPIKey string
	MaxConnections                            int
	Timeout                                   time.Duration
	Retries                                   int
	MaxFailures                               int
	// RunsDir holds the re-run's resume state; Restart discards it.
	RunsDir string
	Restart bool
	// Progress, when set, shows a progress bar (pass a terminal only).
	Progress io.Writer
	Abandon  context.Context
	// Alpha is the significance level (default DefaultAlpha); Test the
	// test the verdict rests on (default TestMcNemar).
	Alpha float64
	Test  string
	// Transport and Configure are for tests (see runner.EvalOptions).
	Transport http.RoundTripper
	Configure func(*runner.Client)
}

// Tally is a count of correct samples.
type Tally struct {
	Correct int     `json:"correct"`
	N       int     `json:"n"`
	Score   float64 `json:"score"`
}

// TestResult is one statistical test.
type TestResult struct {
	Name string `json:"name"`
	// Statistic is the test statistic where there is one (z).
	Statistic *float64 `json:"statistic,omitempty"`
	PValue    float64  `json:"pValue"`
}

// Pair is one drawn sample's lab and re-run scores.
type Pair struct {
	ID          runner.SampleID `json:"id"`
	Epoch       int             `json:"epoch"`
	Lab         float64         `json:"lab"`
	Rerun       *float64        `json:"rerun"` // nil: the re-run failed
	LabAnswer   string          `json:"labAnswer,omitempty"`
	RerunAnswer string          `json:"rerunAnswer,omitempty"`
}

// LogSummary describes the audited log.
type LogSummary struct {
	File      string   `json:"file"`
	Digest    string   `json:"digest"`
	Format    string   `json:"format"`
	Task      string   `json:"task"`
	Model     string   `json:"model"`
	Scorer    string   `json:"scorer"`
	ScoreName string   `json:"score"`
	Reported  *float64 `json:"reportedAccuracy,omitempty"`
	// Recomputed is the mean of the lab's per-sample scores over the
	// eligible samples; ReportedMatches compares it with Reported when
	// no sample was skipped.
	Recomputed      float64 `json:"recomputedAccuracy"`
	ReportedMatches *bool   `json:"reportedMatches,omitempty"`
	Samples         int     `json:"samples"`
	Skipped         int     `json:"skipped"`
}

// Report is the outcome of a re-run.
type Report struct {
	Log      LogSummary `json:"log"`
	RunID    string     `json:"runId"`
	Endpoint string     `json:"endpoint"`
	Model    string     `json:"model"`
	Scorer   string     `json:"scorer"`
	Grader   string     `json:"grader,omitempty"`
	Seed     uint64     `json:"seed,string"`
	Drawn    int        `json:"drawn"`
	// Errors counts drawn samples the re-run could not score.
	Errors int `json:"errors"`
	// Lab and Rerun count correct samples (value 1) among the pairs
	// scored by both; Partial counts pairs with a score strictly between
	// 0 and 1 (counted as incorrect).
	Lab       Tally `json:"lab"`
	Rerun     Tally `json:"rerun"`
	LabOnly   int   `json:"labOnly"`
	RerunOnly int   `json:"rerunOnly"`
	Partial   int   `json:"partial,omitempty"`
	// Tests are every test computed; Decisive names the one the
	// verdict rests on, at Alpha.
	Tests    []TestResult `json:"tests"`
	Decisive string       `json:"decisive"`
	PValue   float64      `json:"pValue"`
	Alpha    float64      `json:"alpha"`
	Verdict  string       `json:"verdict"`
	// Complete reports that every drawn sample was re-run and scored.
	Complete    bool      `json:"complete"`
	Interrupted bool      `json:"interrupted,omitempty"`
	Failures    []string  `json:"failures,omitempty"`
	Pairs       []Pair    `json:"samples"`
	At          time.Time `json:"at"`
	StatePath   string    `json:"-"`
	Warnings    []string  `json:"warnings,omitempty"`
}

// Rerun draws opt.N samples from the lab's log, re-runs them against the
// endpoint with the logged inputs and the log's scorer, and compares the
// scores. Its resume state lives in opt.RunsDir like an eval run's.
func Rerun(ctx context.Context, opt Options) (*Report, error) {
	l := opt.Log
	if opt.N <= 0 {
		return nil, errors.New("the sample size must be positive")
	}
	alpha := opt.Alpha
	if alpha == 0 {
		alpha = DefaultAlpha
	}
	if alpha <= 0 || alpha >= 1 {
		return nil, fmt.Errorf("alpha must be in (0, 1), got %g", alpha)
	}
	test := opt.Test
	if test == "" {
		test = TestMcNemar
	}
	switch test {
	case TestMcNemar, TestFisher, TestZ:
	case TestBinomial:
		if l.Reported == nil {
			return nil, fmt.Errorf("%w: the log reports no accuracy for the %s test", ErrBadLog, TestBinomial)
		}
	default:
		return nil, fmt.Errorf("unknown test %q (want %s, %s, %s or %s)", test, TestMcNemar, TestFisher, TestZ, TestBinomial)
	}
	if len(l.Samples) == 0 {
		return nil, fmt.Errorf("%w: no sample of the log can be re-run (%s)", ErrBadLog, strings.Join(l.SkipReasons, "; "))
	}
	rep := &Report{Log: summarize(l), Endpoint: "", Model: opt.Model, Seed: opt.Seed, Alpha: alpha, Decisive: test}
	client, err := runner.NewClient(runner.ClientConfig{
		Endpoint: opt.Endpoint, Model: opt.Model, APIKey: opt.APIKey, Generation: l.Generation,
		MaxConnections: opt.MaxConnections, Timeout: opt.Timeout, Retries: opt.Retries, Transport: opt.Transport,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close()
	client.Abandon = opt.Abandon
	if opt.Configure != nil {
		opt.Configure(client)
	}
	rep.Endpoint = runner.RedactURL(client.URL)
	kind, err := scorerKind(l, opt.Scorer)
	if err != nil {
		return nil, err
	}
	var grader *runner.Client
	if kind.Kind == runner.ScorerModelGraded {
		ge, gm, gk := opt.GraderEndpoint, opt.GraderModel, opt.GraderAPIKey
		if ge == "" {
			ge, gk = opt.Endpoint, firstNonEmpty(gk, opt.APIKey)
		}
		if gm == "" {
			gm = opt.Model
			if m, _ := l.ScorerParams["model"].(string); m != "" {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("the lab graded with %q; grading with %q (set --grader-model and --grader-endpoint to match)", m, gm))
			}
		}
		grader, err = runner.NewClient(runner.ClientConfig{Endpoint: ge, Model: gm, APIKey: gk, MaxConnections: opt.MaxConnections, Timeout: opt.Timeout, Retries: opt.Retries, Transport: opt.Transport})
		if err != nil {
			return nil, fmt.Errorf("grader: %w", err)
		}
		defer grader.Close()
		grader.Abandon = opt.Abandon
		if opt.Configure != nil {
			opt.Configure(grader)
		}
		rep.Grader = gm + " at " + runner.RedactURL(grader.URL)
	}
	scorer, err := runner.NewScorer(kind, grader)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLog, err)
	}
	rep.Scorer = scorer.Name()

	drawn := Draw(l.Samples, opt.N, opt.Seed)
	rep.Drawn = len(drawn)
	items := make([]runner.Item, len(drawn))
	for i, s := range drawn {
		items[i] = runner.Item{Sample: &s.Sample, Messages: s.Messages}
	}
	// The draw of n samples is the first n steps of the draw of more with
	// the same seed, so the run id leaves n out: drawing more continues the
	// same re-run and sends only the new samples.
	rep.RunID = runner.RunID("audit", l.Digest, l.ScoreName, opt.Model, fmt.Sprint(opt.Seed), scorer.Name())
	h := runner.Header{RunID: rep.RunID, Kind: "audit-rerun", Name: l.Task, Digest: l.Digest, Model: opt.Model, Scorer: scorer.Name(), Endpoint: rep.Endpoint}
	st, err := runner.OpenState(opt.RunsDir, h, opt.Restart, nil)
	if err != nil {
		return nil, err
	}
	rep.StatePath = st.Path
	var prog *runner.Progress
	if opt.Progress != nil {
		done := 0
		for _, it := range items {
			if o := st.Loaded[it.Sample.Key()]; o != nil && o.Score != nil {
				done++
			}
		}
		prog = runner.StartProgress(opt.Progress, "re-run", len(items), done)
	}
	res, runErr := runner.Run(ctx, runner.Config{Client: client, Scorer: scorer, State: st, Concurrency: opt.MaxConnections, MaxFailures: opt.MaxFailures, Progress: prog}, items)
	prog.Stop()
	if err := st.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return nil, runErr
	}
	rep.Complete, rep.Interrupted = res.Complete(), res.Interrupted
	for _, f := range res.Failures {
		if len(rep.Failures) < 5 {
			rep.Failures = append(rep.Failures, f.Error())
		}
	}
	if res.Stopped != nil && len(rep.Failures) < 6 {
		rep.Failures = append(rep.Failures, "stopped: "+res.Stopped.Error())
	}
	for i, s := range drawn {
		p := Pair{ID: s.ID, Epoch: s.Epoch, Lab: s.Score(), LabAnswer: s.Answer}
		if o := res.Outcomes[i]; o != nil && o.Score != nil {
			v := o.Score.Float()
			p.Rerun, p.RerunAnswer = &v, o.Score.Answer
			if o.At.After(rep.At) {
				rep.At = o.At
			}
		} else {
			rep.Errors++
		}
		rep.Pairs = append(rep.Pairs, p)
	}
	rep.compare(l)
	if res.Stopped != nil && runner.Fatal(res.Stopped) {
		return rep, fmt.Errorf("%w: %w", runner.ErrFatal, res.Stopped)
	}
	return rep, nil
}

// compare computes the tallies, the tests and the verdict from the pairs.
func (rep *Report) compare(l *LabLog) {
	for _, p := range rep.Pairs {
		if p.Rerun == nil {
			continue
		}
		lab, rr := p.Lab == 1, *p.Rerun == 1
		if p.Lab > 0 && p.Lab < 1 || *p.Rerun > 0 && *p.Rerun < 1 {
			rep.Partial++
		}
		rep.Lab.N++
		rep.Rerun.N++
		if lab {
			rep.Lab.Correct++
		}
		if rr {
			rep.Rerun.Correct++
		}
		switch {
		case lab && !rr:
			rep.LabOnly++
		case rr && !lab:
			rep.RerunOnly++
		}
	}
	n := rep.Lab.N
	if n > 0 {
		rep.Lab.Score = float64(rep.Lab.Correct) / float64(n)
		rep.Rerun.Score = float64(rep.Rerun.Correct) / float64(n)
	}
	z, zp := TwoProportionZ(rep.Lab.Correct, n, rep.Rerun.Correct, n)
	rep.Tests = []TestResult{
		{Name: TestMcNemar, PValue: McNemarExact(rep.LabOnly, rep.RerunOnly)},
		{Name: TestFisher, PValue: FisherExact(rep.Lab.Correct, n-rep.Lab.Correct, rep.Rerun.Correct, n-rep.Rerun.Correct)},
		{Name: TestZ, Statistic: &z, PValue: zp},
	}
	if l.Reported != nil {
		rep.Tests = append(rep.Tests, TestResult{Name: TestBinomial, PValue: BinomialTest(rep.Rerun.Correct, n, *l.Reported)})
	}
	for _, t := range rep.Tests {
		if t.Name == rep.Decisive {
			rep.PValue = t.PValue
		}
	}
	switch {
	case n == 0:
		rep.Verdict = Inconclusive
	case rep.PValue < rep.Alpha:
		rep.Verdict = Discrepant
	default:
		rep.Verdict = Consistent
	}
}

func summarize(l *LabLog) LogSummary {
	s := LogSummary{File: l.Base(), Digest: l.Digest, Format: l.Format, Task: l.Task, Model: l.Model, Scorer: l.Scorer,
		ScoreName: l.ScoreName, Reported: l.Reported, Samples: len(l.Samples), Skipped: l.Skipped}
	var sum float64
	for _, x := range l.Samples {
		sum += x.Score()
	}
	if len(l.Samples) > 0 {
		s.Recomputed = sum / float64(len(l.Samples))
	}
	if l.Reported != nil && l.Skipped == 0 {
		ok := math.Abs(s.Recomputed-*l.Reported) <= 1e-6*math.Max(1, math.Abs(*l.Reported))
		s.ReportedMatches = &ok
	}
	return s
}

// scorerKind maps the log's scorer (or an override) to a runner scorer
// spec.
func scorerKind(l *LabLog, override string) (*runner.ScorerSpec, error) {
	p := l.ScorerParams
	boolParam := func(key string, def bool) *bool {
		v, ok := p[key].(bool)
		if !ok {
			v = def
		}
		return &v
	}
	if override != "" {
		switch override {
		case runner.ScorerChoice, runner.ScorerExact, runner.ScorerIncludes:
			return &runner.ScorerSpec{Kind: override}, nil
		case runner.ScorerMatch:
			return &runner.ScorerSpec{Kind: override, Location: "end"}, nil
		}
		return nil, fmt.Errorf("--scorer must be choice, exact, match or includes, got %q", override)
	}
	switch l.Scorer {
	case "choice":
		return &runner.ScorerSpec{Kind: runner.ScorerChoice}, nil
	case "exact":
		return &runner.ScorerSpec{Kind: runner.ScorerExact}, nil
	case "includes":
		return &runner.ScorerSpec{Kind: runner.ScorerIncludes, IgnoreCase: boolParam("ignore_case", true)}, nil
	case "match":
		if *boolParam("numeric", false) {
			return nil, fmt.Errorf("%w: match(numeric=True) is not supported by the re-run; pass --scorer to choose one", ErrBadLog)
		}
		loc, _ := p["location"].(string)
		if loc == "" {
			loc = "end"
		}
		return &runner.ScorerSpec{Kind: runner.ScorerMatch, Location: loc, IgnoreCase: boolParam("ignore_case", true)}, nil
	case "pattern":
		pat, _ := p["pattern"].(string)
		if pat == "" {
			return nil, fmt.Errorf("%w: the log's pattern scorer records no pattern", ErrBadLog)
		}
		return &runner.ScorerSpec{Kind: runner.ScorerRegex, Pattern: pat, IgnoreCase: boolParam("ignore_case", true), MatchAll: *boolParam("match_all", false)}, nil
	case "model_graded_qa", "model_graded_fact":
		g := &runner.GraderSpec{Fact: l.Scorer == "model_graded_fact", PartialCredit: *boolParam("partial_credit", false)}
		g.Template, _ = p["template"].(string)
		g.Instructions, _ = p["instructions"].(string)
		g.GradePattern, _ = p["grade_pattern"].(string)
		return &runner.ScorerSpec{Kind: runner.ScorerModelGraded, Grader: g}, nil
	}
	return nil, fmt.Errorf("%w: scorer %q is not supported by the re-run (supported: choice, exact, match, includes, pattern, model_graded_qa, model_graded_fact); pass --scorer to choose one", ErrBadLog, l.Scorer)
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
