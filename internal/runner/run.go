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
// Result.Failures.
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

	var (
		mu       sync.Mutex
		stopOnce sync.Once
		stopped  = make(chan struct{})
		failures atomic.Int64
		wg       sync.WaitGroup
	)
	stop := func(err error) {
		stopOnce.Do(func() {
			mu.Lock()
			res.Stopped = err
			mu.Unlock()
			close(stopped)
		})
	}
	work := make(chan int, conc)
	go func() {
		defer close(work)
		for _, i := range pending {
			select {
			case <-ctx.Done():
				return
			case <-stopped:
				return
			default:
			}
			select {
			case work <- i:
			case <-ctx.Done():
				return
			case <-stopped:
				return
			}
		}
	}()
	var stateErr error
	for range min(conc, max(len(pending), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if ctx.Err() != nil {
					continue // interrupted: start nothing new
				}
				select {
				case <-stopped:
					continue
				default:
				}
				it := &items[i]
				o, err := runOne(ctx, cfg, it, partial[i], now)
				if err != nil {
					if cfg.State != nil && cfg.State.Err() != nil {
						mu.Lock()
						stateErr = cfg.State.Err()
						mu.Unlock()
						stop(stateErr)
						continue
					}
					if errors.Is(err, errNotScored) || ctx.Err() != nil && errors.Is(err, context.Canceled) {
						continue // interrupted, not failed: a re-run retries it
					}
					mu.Lock()
					res.Failures = append(res.Failures, SampleError{ID: it.Sample.ID, Epoch: it.Sample.Epoch, Err: err})
					mu.Unlock()
					cfg.Progress.Failed()
					if Fatal(err) {
						stop(fmt.Errorf("sample %s: %w", it.Sample.ID, err))
					} else if n := failures.Add(1); cfg.MaxFailures > 0 && n >= int64(cfg.MaxFailures) {
						stop(fmt.Errorf("%d samples failed (the last: sample %s: %w)", n, it.Sample.ID, err))
					}
					continue
				}
				res.Outcomes[i] = o
				cfg.Progress.Done()
			}
		}()
	}
	wg.Wait()
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
	if stateErr != nil {
		return res, stateErr
	}
	return res, nil
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
