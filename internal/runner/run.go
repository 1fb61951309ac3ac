package runner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Item is a sample with the messages sent for it.
type Item struct {
	Sample   *Sample
	Messages []Message
}

// Items builds the items of a suite's samples.
func Items(p *Prompt, samples []*Sample) []Item {
	items := make([]Item, len(samples))
	for i, s := range samples {
		items[i] = Item{Sample: s, Messages: p.Messages(s)}
	}
	return items
}

// Config configures Run.
type Config struct {
	Client *Client
	Scorer Scorer
	// State records outcomes and holds those of earlier invocations; nil
	// records nothing.
	State *State
	// Concurrency is the number of samples in flight (default 32).
	Concurrency int
	// MaxFailures stops dispatching once this many samples have failed
	// (their requests exhausted their retries); 0 means no limit.
	MaxFailures int
	// Progress, when set, is told of each sample.
	Progress *Progress
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// SampleError is a sample that failed.
type SampleError struct {
	ID    SampleID
	Epoch int
	Err   error
}

func (e SampleError) Error() string { return fmt.Sprintf("sample %s: %v", e.ID, e.Err) }

// Result is what a run did.
type Result struct {
	// Outcomes has one entry per item: its scored outcome, or nil.
	Outcomes []*Outcome
	// Resumed counts the items whose outcome came from the state file;
	// Completed those scored by this invocation.
	Resumed, Completed int
	// Failures lists the samples that failed (after their retries).
	Failures []SampleError
	// Interrupted reports that the context was cancelled before every
	// item was dispatched.
	Interrupted bool
	// Stopped is the error that made the run stop dispatching: a fatal
	// error (401, 403, 404) or too many failures.
	Stopped error
	// Requests is the number of HTTP requests this invocation sent.
	Requests int64
	Elapsed  time.Duration
}

// Done is the number of scored items.
func (r *Result) Done() int { return r.Resumed + r.Completed }

// Complete reports whether every item is scored.
func (r *Result) Complete() bool { return r.Done() == len(r.Outcomes) }

// Run runs items: each is sent to the client, scored, and recorded in the
// state, Concurrency at a time. Items with a scored outcome in the state
// are not sent again; items with a recorded but unscored output are only
// scored. Cancelling ctx stops dispatching new items; the requests in
// flight complete (bounded by the client's timeout and its Abandon context)
// and are recorded, and Run returns with Interrupted set. Run's error is
// for failures to record (the state file); failed samples are in
// Result.Failures. A run over the client's lean HTTP/1.1 transport with a
// local scorer is driven, on Linux, by an event loop (see loop_linux.go);
// otherwise each of Concurrency goroutines takes the next item when done
// with one.
func Run(ctx context.Context, cfg Config, items []Item) (*Result, error) {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	conc := cfg.Concurrency
	if conc <= 0 {
		conc = 32
	}
	start := now()
	reqs0 := cfg.Client.Attempts()
	var grader *Client
	if mg, ok := cfg.Scorer.(*ModelGraded); ok && mg.Grader != cfg.Client {
		grader = mg.Grader
	}
	if grader != nil {
		reqs0 += grader.Attempts()
	}
	res := &Result{Outcomes: make([]*Outcome, len(items))}
	var pending []int
	partial := map[int]*Outcome{}
	for i := range items {
		if cfg.State != nil {
			if o := cfg.State.Loaded[items[i].Sample.Key()]; o != nil {
				if o.Score != nil {
					res.Outcomes[i] = o
					res.Resumed++
					continue
				}
				partial[i] = o
			}
		}
		pending = append(pending, i)
	}

	r := &runState{ctx: ctx, cfg: cfg, items: items, res: res, now: now}
	if len(pending) > 0 && !runLoop(r, pending, partial, conc) {
		r.runWorkers(pending, partial, conc)
	}
	for _, o := range res.Outcomes {
		if o != nil {
			res.Completed++
		}
	}
	res.Completed -= res.Resumed
	res.Interrupted = ctx.Err() != nil && !res.Complete()
	res.Requests = cfg.Client.Attempts() - reqs0
	if grader != nil {
		res.Requests += grader.Attempts()
	}
	res.Elapsed = now().Sub(start)
	if r.stateErr != nil {
		return res, r.stateErr
	}
	return res, nil
}

// runState is a run in progress.
type runState struct {
	ctx   context.Context
	cfg   Config
	items []Item
	res   *Result
	now   func() time.Time

	mu       sync.Mutex // guards res.Failures, res.Stopped and stateErr
	stopOnce sync.Once
	// halted is set when the run stops dispatching (see stop).
	halted   atomic.Bool
	failures atomic.Int64
	stateErr error
}

// stop makes the run stop dispatching, for err.
func (r *runState) stop(err error) {
	r.stopOnce.Do(func() {
		r.mu.Lock()
		r.res.Stopped = err
		r.mu.Unlock()
		r.halted.Store(true)
	})
}

// dispatching reports whether new items may start.
func (r *runState) dispatching() bool {
	return r.ctx.Err() == nil && !r.halted.Load()
}

// finish takes the end of item i: its scored and recorded outcome, or the
// error it failed with.
func (r *runState) finish(i int, o *Outcome, err error) {
	if err == nil {
		r.res.Outcomes[i] = o
		r.cfg.Progress.Done()
		return
	}
	if r.cfg.State != nil {
		if serr := r.cfg.State.Err(); serr != nil {
			r.mu.Lock()
			r.stateErr = serr
			r.mu.Unlock()
			r.stop(serr)
			return
		}
	}
	if errors.Is(err, errNotScored) || r.ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return // interrupted, not failed: a re-run retries it
	}
	it := &r.items[i]
	r.mu.Lock()
	r.res.Failures = append(r.res.Failures, SampleError{ID: it.Sample.ID, Epoch: it.Sample.Epoch, Err: err})
	r.mu.Unlock()
	r.cfg.Progress.Failed()
	if Fatal(err) {
		r.stop(fmt.Errorf("sample %s: %w", it.Sample.ID, err))
	} else if n := r.failures.Add(1); r.cfg.MaxFailures > 0 && n >= int64(r.cfg.MaxFailures) {
		r.stop(fmt.Errorf("%d samples failed (the last: sample %s: %w)", n, it.Sample.ID, err))
	}
}

// runWorkers runs the pending items with conc goroutines, each taking the
// next item when it is done with one.
func (r *runState) runWorkers(pending []int, partial map[int]*Outcome, conc int) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, len(pending)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r.dispatching() {
				k := next.Add(1) - 1
				if k >= int64(len(pending)) {
					return
				}
				i := pending[k]
				o, err := runOne(r.ctx, r.cfg, &r.items[i], partial[i], r.now)
				r.finish(i, o, err)
			}
		}()
	}
	wg.Wait()
}

// errNotScored marks a sample generated but left unscored because the run
// was interrupted (its output is recorded).
var errNotScored = errors.New("not scored")

// runOne generates (unless prev has the output) and scores one item, and
// records it.
func runOne(ctx context.Context, cfg Config, it *Item, prev *Outcome, now func() time.Time) (*Outcome, error) {
	t0 := now()
	o := prev
	if o == nil {
		c, err := cfg.Client.Chat(ctx, it.Messages)
		if err != nil {
			return nil, err
		}
		t := now()
		o = &Outcome{
			ID: it.Sample.ID, Epoch: it.Sample.Epoch, Output: c.Content, FinishReason: c.FinishReason,
			Model: c.Model, Usage: c.Usage, Attempts: c.Attempts, Seconds: roundSeconds(t.Sub(t0)), At: t.UTC(),
		}
		if cfg.Scorer.Remote() && cfg.State != nil {
			if err := cfg.State.Append(o); err != nil {
				return nil, err
			}
		}
	} else {
		cp := *o
		o = &cp
	}
	if cfg.Scorer.Remote() && ctx.Err() != nil {
		return nil, errNotScored
	}
	sc, err := cfg.Scorer.Score(ctx, it.Sample, o.Output)
	if err != nil {
		return nil, err
	}
	o.Score = &sc
	if cfg.Scorer.Remote() {
		t := now()
		o.At = t.UTC()
		if prev == nil {
			o.Seconds = roundSeconds(t.Sub(t0))
		} else {
			o.Seconds = prev.Seconds + roundSeconds(t.Sub(t0))
		}
	}
	if cfg.State != nil {
		if err := cfg.State.Append(o); err != nil {
			return nil, err
		}
	}
	return o, nil
}

func roundSeconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1e6) / 1e6
}

// Metrics are a run's aggregate scores.
type Metrics struct {
	// N is the number of scored samples.
	N int
	// Accuracy is the mean of the score values (ValueToFloat).
	Accuracy float64
	// Stderr is the standard error of the mean (sample standard
	// deviation over √N, as Inspect's stderr metric); 0 for N < 2.
	Stderr float64
	// Correct counts samples with value 1.
	Correct int
}

// Aggregate computes the metrics of outcomes (nil entries are skipped).
func Aggregate(outcomes []*Outcome) Metrics {
	var m Metrics
	var sum float64
	var vals []float64
	for _, o := range outcomes {
		if o == nil || o.Score == nil {
			continue
		}
		v := o.Score.Float()
		vals = append(vals, v)
		sum += v
		if v == 1 {
			m.Correct++
		}
	}
	m.N = len(vals)
	if m.N == 0 {
		return m
	}
	m.Accuracy = sum / float64(m.N)
	if m.N > 1 {
		var ss float64
		for _, v := range vals {
			d := v - m.Accuracy
			ss += d * d
		}
		m.Stderr = math.Sqrt(ss/float64(m.N-1)) / math.Sqrt(float64(m.N))
	}
	return m
}
