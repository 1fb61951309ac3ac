package gate

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"scalegate.dev/scalegate/internal/forecast"
	"scalegate.dev/scalegate/internal/policy"
)

// ForecastResamples and ForecastSeed fix the bootstrap, so that a forecast,
// like every decision, is a pure function of the evidence.
const (
	ForecastResamples = 1000
	ForecastSeed      = 1
)

// FLOP is a compute figure that may be unbounded: +Inf is written as null
// in JSON ("no upper bound").
type FLOP float64

// MarshalJSON writes infinities as null.
func (f FLOP) MarshalJSON() ([]byte, error) {
	if math.IsInf(float64(f), 0) || math.IsNaN(float64(f)) {
		return []byte("null"), nil
	}
	return json.Marshal(float64(f))
}

// UnmarshalJSON reads null as +Inf.
func (f *FLOP) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = FLOP(math.Inf(1))
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = FLOP(v)
	return nil
}

// ThresholdForecast is the forecast compute at which a threshold's trigger
// fires, from the trend of its evaluations over the model's assessed
// checkpoints.
type ThresholdForecast struct {
	Threshold  string  `json:"threshold"`
	Evaluation string  `json:"evaluation"`
	Level      float64 `json:"level,omitempty"`
	// FiresAt is the median forecast crossing compute.
	FiresAt FLOP `json:"fires_at_compute"`
	// Interval is the crossing's interval at Confidence; null is unbounded.
	Interval   [2]FLOP `json:"interval"`
	Confidence float64 `json:"confidence"`
	// Margin is FiresAt over the compute of the latest assessed checkpoint.
	Margin FLOP `json:"margin"`
	Points int  `json:"points"`
	// Crossed says the latest score already reaches the level.
	Crossed bool     `json:"crossed,omitempty"`
	Notes   []string `json:"notes,omitempty"`
	// Error says why no forecast could be made ("cannot forecast: …").
	Error string `json:"error,omitempty"`
}

// Forecasts forecasts, for each threshold of the policy in force whose
// trigger is simple — score(x) >= c or score(x) > c, or a conjunction or
// disjunction of those — when the trigger will fire, from the model's
// assessed checkpoints as of in.Action.At. A conjunction fires when its
// last part does (the latest of the parts' crossings, bound by bound), a
// disjunction when its first does. Thresholds with other triggers are
// reported with an error saying the trigger is not forecastable.
// confidence 0 means the policy's cadence.forecast confidence, else 0.8.
func Forecasts(in Input, confidence float64) []ThresholdForecast {
	v, _ := InForce(in.Versions, in.Action.At.UTC())
	if v == nil {
		return nil
	}
	in.Action.At = in.Action.At.UTC()
	e := &decider{p: v.Policy, in: in, at: in.Action.At}
	e.prepare()
	walk := e.assessedUpTo(nil)
	if confidence == 0 {
		confidence = 0.8
		if f := v.Policy.Cadence.Forecast; f != nil {
			confidence = f.Confidence
		}
	}
	var out []ThresholdForecast
	for i := range v.Policy.Thresholds {
		out = append(out, e.forecastThreshold(&v.Policy.Thresholds[i], walk, confidence))
	}
	return out
}

func (e *decider) forecastThreshold(t *policy.Threshold, walk []*ckpt, confidence float64) ThresholdForecast {
	tf := ThresholdForecast{Threshold: t.ID, Confidence: confidence}
	if t.TriggerCond == nil || t.TriggerCond.Simple == nil {
		tf.Error = "cannot forecast: the trigger is not a comparison of scores with constants"
		if t.NeedsDetermination() {
			tf.Error = "cannot forecast: the threshold is left to judgment"
		}
		return tf
	}
	r, ok := e.forecastNode(t.TriggerCond.Simple, walk, confidence)
	if !ok {
		tf.Error = "cannot forecast: the trigger is not of the form score(x) >= c joined by && or ||"
		return tf
	}
	tf.Evaluation, tf.Level = r.eval, r.level
	tf.Points, tf.Notes, tf.Crossed = r.points, r.notes, r.crossed
	if r.err != "" {
		tf.Error = r.err
		return tf
	}
	tf.FiresAt, tf.Interval = FLOP(r.fires), [2]FLOP{FLOP(r.lo), FLOP(r.hi)}
	if len(walk) > 0 && walk[len(walk)-1].cp.EffectiveCompute > 0 {
		tf.Margin = FLOP(r.fires / walk[len(walk)-1].cp.EffectiveCompute)
	}
	return tf
}

type nodeForecast struct {
	eval          string
	level         float64
	fires, lo, hi float64
	points        int
	crossed       bool
	notes         []string
	err           string
}

func (e *decider) forecastNode(n *policy.Node, walk []*ckpt, confidence float64) (nodeForecast, bool) {
	switch n.Op {
	case ">=", ">":
		if n.Eval == "" {
			return nodeForecast{}, false
		}
		var pts []forecast.Point
		for _, k := range walk {
			if v, ok := k.scores.Score(n.Eval); ok {
				pts = append(pts, forecast.Point{Compute: k.cp.EffectiveCompute, Score: v})
			}
		}
		opt := forecast.Options{Confidence: confidence, Resamples: ForecastResamples, Seed: ForecastSeed}
		if ev := e.p.Evaluation(n.Eval); ev != nil && ev.Chance != nil {
			opt.Chance = ev.Chance
		}
		r := nodeForecast{eval: n.Eval, level: n.Value, points: len(pts)}
		fc, err := forecast.Crossing(pts, n.Value, opt)
		if err != nil {
			r.err = err.Error()
			return r, true
		}
		r.fires, r.lo, r.hi = fc.FiresAt, fc.Interval[0], fc.Interval[1]
		r.crossed, r.notes = fc.Crossed, fc.Notes
		return r, true
	case "&&", "||":
		var parts []nodeForecast
		for _, c := range n.Children {
			p, ok := e.forecastNode(c, walk, confidence)
			if !ok {
				return nodeForecast{}, false
			}
			parts = append(parts, p)
		}
		pick := math.Max
		if n.Op == "||" {
			pick = math.Min
		}
		r := parts[0]
		var evals []string
		for i, p := range parts {
			evals = append(evals, p.eval)
			if p.err != "" {
				r.err = p.err
			}
			if i == 0 {
				continue
			}
			r.fires, r.lo, r.hi = pick(r.fires, p.fires), pick(r.lo, p.lo), pick(r.hi, p.hi)
			r.points = min(r.points, p.points)
			r.notes = append(r.notes, p.notes...)
			if n.Op == "&&" {
				r.crossed = r.crossed && p.crossed
			} else {
				r.crossed = r.crossed || p.crossed
			}
		}
		r.eval, r.level = strings.Join(evals, ","), 0
		return r, true
	}
	return nodeForecast{}, false
}

// forecast applies cadence.forecast: deny a scaling step whose target
// exceeds (lower bound of the forecast crossing at the policy's confidence)
// / buffer, for a threshold not crossed whose required safeguards are not
// all in force (or which is a red line). A threshold whose forecast cannot
// be made adds no denial: the compute cadence still bounds the step.
func (e *decider) forecast(d *Decision, states []ThresholdState, walk []*ckpt) {
	f := e.p.Cadence.Forecast
	if f == nil || len(walk) == 0 {
		return
	}
	for _, ts := range states {
		if ts.State == StateCrossed || ts.State == StateUnknown {
			continue
		}
		t := e.p.Threshold(ts.ID)
		if t.NeedsDetermination() {
			continue
		}
		if ids, _ := e.missingSafeguards(t); len(ids) == 0 && !t.RedLine {
			continue
		}
		fc := e.forecastThreshold(t, walk, f.Confidence)
		if fc.Error != "" || fc.Crossed {
			continue
		}
		limit := float64(fc.Interval[0]) / f.Buffer
		if d.Action.ToCompute <= limit {
			continue
		}
		hi := "unbounded"
		if !math.IsInf(float64(fc.Interval[1]), 0) {
			hi = fmtFLOP(float64(fc.Interval[1])) + " FLOP"
		}
		d.Reasons = append(d.Reasons, Reason{Code: ForecastCrossing, Threshold: t.ID, Forecast: &fc, Message: fmt.Sprintf(
			"%s is forecast to fire at %s FLOP (%g%% interval %s FLOP to %s, fitted to %d checkpoints of %s); with a buffer of %g× the target %s FLOP is past %s FLOP, so the step could jump past the threshold before the next assessment. Put its safeguards in force first, or scale to at most %s FLOP.",
			t.Name, fmtFLOP(float64(fc.FiresAt)), f.Confidence*100, fmtFLOP(float64(fc.Interval[0])), hi, fc.Points, fc.Evaluation, f.Buffer, fmtFLOP(d.Action.ToCompute), fmtFLOP(limit), fmtFLOP(limit))})
	}
}

// CheckpointScores are the qualifying scores of one assessed checkpoint.
type CheckpointScores struct {
	Checkpoint string
	Compute    float64
	Scores     map[string]float64
}

// AssessedScores returns the model's assessed checkpoints as of
// in.Action.At under the policy in force, in order of compute, with their
// qualifying scores (the inputs the gate and the forecasts read).
func AssessedScores(in Input) []CheckpointScores {
	v, _ := InForce(in.Versions, in.Action.At.UTC())
	if v == nil {
		return nil
	}
	e := &decider{p: v.Policy, in: in, at: in.Action.At.UTC()}
	e.prepare()
	var out []CheckpointScores
	for _, k := range e.assessedUpTo(nil) {
		out = append(out, CheckpointScores{Checkpoint: k.cp.ID, Compute: k.cp.EffectiveCompute, Scores: k.scores.asMap()})
	}
	return out
}
