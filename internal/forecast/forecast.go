package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/stat"
)

// Forecast says at what compute an evaluation's score is expected to reach a
// level, with a bootstrap interval.
type Forecast struct {
	// Level is the score threshold: the forecast is for score(compute) ≥ Level.
	Level float64
	// FiresAt is the median over bootstrap resamples of the compute (FLOP) at
	// which the fitted curve first reaches Level. It is +Inf when more than
	// half of the resamples never reach Level, and 0 when more than half are
	// already at or above Level everywhere.
	FiresAt float64
	// Interval is the [lo, hi] compute range at Confidence: the equal-tailed
	// quantiles of the bootstrap crossings, widened about the median in
	// log-compute by the small-sample factor sqrt(n/(n−p)) (n points, p
	// fitted parameters). hi is +Inf when more than (1 − Confidence)/2 of the
	// resamples never reach Level; lo is 0 when as many are at or above Level
	// everywhere.
	Interval [2]float64
	// Confidence is the probability mass of Interval.
	Confidence float64
	// Points is the number of checkpoints used.
	Points int
	// Fit is the curve fitted to all points.
	Fit Fit
	// Notes are plain-words warnings about the forecast.
	Notes []string
	// Crossed reports whether the score at the largest observed compute
	// (the mean, if several points share it) is already ≥ Level.
	Crossed bool
}

// bootstrapIterations caps the optimiser's iterations for one bootstrap
// refit. Refits start from the full fit and typically converge in 3–10
// iterations; a refit that hits the cap keeps its best point so far.
const bootstrapIterations = 30

// bootstrapTolerance scales the step tolerances (stepX0, stepU) for
// bootstrap refits: they stop once the next step would move the midpoint by
// less than 5·10⁻⁴ decades (0.1% of compute), far below the spread between
// resamples.
const bootstrapTolerance = 5

// giveUpShare is the share of bootstrap resamples that must never reach the
// level before Crossing returns an error instead of a forecast.
const giveUpShare = 0.95

// Crossing forecasts the compute at which the score reaches level, from the
// checkpoints pts. It fits a curve (see FitCurve) to all points, refits it to
// o.Resamples bootstrap resamples of the checkpoints (drawn with replacement
// using o.Seed), and reports the median and equal-tailed quantiles of the
// resampled crossing computes.
//
// It returns an error wrapping ErrCannotForecast for degenerate inputs: no
// points, non-finite values, compute ≤ 0, scores outside [0, 1], fewer than
// two distinct compute values, all-zero or constant scores, scores that do not
// increase with compute, a level outside the reachable range, and a level that
// the fitted curve fails to reach in at least 95% of resamples. With at least
// MinSigmoidPoints distinct compute values it also fails when fewer than two
// checkpoints score above the lowest score (the rise has not started).
func Crossing(pts []Point, level float64, o Options) (Forecast, error) {
	o, err := o.normalized()
	if err != nil {
		return Forecast{}, err
	}
	d, err := validate(pts)
	if err != nil {
		return Forecast{}, err
	}
	switch {
	case math.IsNaN(level) || math.IsInf(level, 0):
		return Forecast{}, fmt.Errorf("%w: level %v is not a finite number", ErrCannotForecast, level)
	case level > o.ceiling():
		return Forecast{}, fmt.Errorf("%w: level %v is above the highest reachable score %v", ErrCannotForecast, level, o.ceiling())
	case level <= o.floor():
		return Forecast{}, fmt.Errorf("%w: level %v is at or below the lowest possible score %v, so it is always met", ErrCannotForecast, level, o.floor())
	}
	rho, err := Spearman(d.x, d.y)
	if err != nil {
		return Forecast{}, fmt.Errorf("%w: %w", ErrCannotForecast, err)
	}
	if rho <= 0 {
		return Forecast{}, fmt.Errorf("%w: scores do not increase with compute (Spearman rank correlation %.2f)", ErrCannotForecast, rho)
	}

	above := aboveFloor(d)
	if above < 2 && d.distinct >= MinSigmoidPoints {
		return Forecast{}, fmt.Errorf("%w: only %d of %d checkpoints scores above the lowest score, so there is no trend to extrapolate", ErrCannotForecast, above, len(d.x))
	}

	fc := Forecast{Level: level, Confidence: o.Confidence, Points: len(d.x)}
	fc.Fit = fitData(d, o)
	fc.Crossed = latestScore(d) >= level

	var notes []string
	if fc.Fit.Kind == KindLinear {
		notes = append(notes, fmt.Sprintf("a straight line in log-compute was fitted instead of a sigmoid (%s): the forecast and its interval are rough", fc.Fit.Fallback))
	}
	if rho < monotoneRho {
		notes = append(notes, fmt.Sprintf("scores are far from monotone in compute (Spearman rank correlation %.2f): the curve may be fitting noise", rho))
	}
	if fc.Fit.Kind == KindSigmoid && level >= fc.Fit.Hi {
		notes = append(notes, fmt.Sprintf("level %v is at or above the fitted upper asymptote %.3g: the fitted curve never reaches it", level, fc.Fit.Hi))
	}
	if gap := medianGap(d); fc.Fit.Kind == KindSigmoid && riseDecades(fc.Fit.K) < gap {
		notes = append(notes, fmt.Sprintf("the fitted rise (10%% to 90%% in %.2f decades) is sharper than the checkpoint spacing (%.2f decades) resolves: the crossing is only known to lie between checkpoints", riseDecades(fc.Fit.K), gap))
	}
	if above < 3 {
		notes = append(notes, fmt.Sprintf("only %d checkpoint(s) score above the lowest observed score: the rise has barely begun and the shape of the curve is weakly constrained", above))
	}

	xs := bootstrapCrossings(d, fc.Fit, level, o)
	never, always := 0, 0
	for _, x := range xs {
		switch {
		case math.IsInf(x, 1):
			never++
		case math.IsInf(x, -1):
			always++
		}
	}
	if float64(never) >= giveUpShare*float64(len(xs)) {
		return Forecast{}, fmt.Errorf("%w: the fitted curve never reaches level %v in %d of %d bootstrap resamples", ErrCannotForecast, level, never, len(xs))
	}
	slices.Sort(xs)
	tail := (1 - o.Confidence) / 2
	med := stat.Quantile(0.5, stat.Empirical, xs, nil)
	lo := stat.Quantile(tail, stat.Empirical, xs, nil)
	hi := stat.Quantile(1-tail, stat.Empirical, xs, nil)
	// Small-sample correction: the spread of case-resampled estimates
	// understates the sampling spread by about sqrt((n−p)/n) for p fitted
	// parameters (the HC0-versus-HC1 correction of sandwich variances), so
	// the quantiles are widened about the median by sqrt(n/(n−p)).
	widen := math.Sqrt(float64(len(d.x)) / max(float64(len(d.x)-freeParams(fc.Fit, o)), 1))
	if !math.IsInf(med, 0) {
		if !math.IsInf(lo, 0) {
			lo = med - widen*(med-lo)
		}
		if !math.IsInf(hi, 0) {
			hi = med + widen*(hi-med)
		}
	}
	fc.FiresAt = math.Pow(10, med)
	fc.Interval = [2]float64{math.Pow(10, lo), math.Pow(10, hi)}

	if never > 0 {
		msg := fmt.Sprintf("in %d of %d bootstrap resamples the fitted curve never reaches the level", never, len(xs))
		if math.IsInf(hi, 1) {
			msg += ", so the interval has no upper bound"
		}
		if math.IsInf(med, 1) {
			msg += "; in most resamples the level is never reached, so FiresAt is +Inf"
		}
		notes = append(notes, msg)
	}
	if always > 0 {
		msg := fmt.Sprintf("in %d of %d bootstrap resamples the level is at or below the fitted lower asymptote, so it is met at any compute", always, len(xs))
		if math.IsInf(lo, -1) {
			msg += "; the interval starts at 0"
		}
		notes = append(notes, msg)
	}
	if hi-lo > wideDecades && !math.IsInf(hi, 0) && !math.IsInf(lo, 0) {
		notes = append(notes, fmt.Sprintf("the interval is wide: it spans %.1f decades of compute", hi-lo))
	}
	if xmax := d.x[len(d.x)-1]; !fc.Crossed && med-xmax > farDecades && !math.IsInf(med, 1) {
		notes = append(notes, fmt.Sprintf("the forecast extrapolates %.1f decades beyond the largest observed compute", med-xmax))
	}
	fc.Notes = notes
	return fc, nil
}

// freeParams is the number of parameters fitted: two for a line; for a
// sigmoid, steepness and midpoint plus each asymptote not fixed by o.
func freeParams(f Fit, o Options) int {
	p := 2
	if f.Kind == KindSigmoid {
		if o.Chance == nil {
			p++
		}
		if o.Upper == nil {
			p++
		}
	}
	return p
}

const (
	// monotoneRho is the Spearman rank correlation between compute and score
	// below which scores are reported as far from monotone.
	monotoneRho = 0.5
	// wideDecades is the interval width (decades of compute) reported as wide.
	wideDecades = 1.0
	// farDecades is the extrapolation (decades beyond the largest observed
	// compute) that is reported.
	farDecades = 1.0
)

// riseDecades is the compute range, in decades, over which a sigmoid of
// steepness k climbs from 10% to 90% of its range.
func riseDecades(k float64) float64 { return 2 * math.Log(9) / k }

// medianGap is the median spacing, in decades, between distinct compute
// values.
func medianGap(d data) float64 {
	var gaps []float64
	for i := 1; i < len(d.x); i++ {
		if g := d.x[i] - d.x[i-1]; g > 0 {
			gaps = append(gaps, g)
		}
	}
	slices.Sort(gaps)
	return gaps[len(gaps)/2]
}

// aboveFloor counts the points scoring above the lowest score.
func aboveFloor(d data) int {
	lowest := slices.Min(d.y)
	n := 0
	for _, y := range d.y {
		if y > lowest {
			n++
		}
	}
	return n
}

// latestScore is the mean score at the largest compute.
func latestScore(d data) float64 {
	n := len(d.x)
	xmax := d.x[n-1]
	var s, c float64
	for i := n - 1; i >= 0 && d.x[i] == xmax; i-- {
		s += d.y[i]
		c++
	}
	return s / c
}

// bootstrapCrossings refits f to o.Resamples resamples of d (drawn with
// replacement) and returns each resample's crossing in log10(compute), with
// +Inf for resamples whose curve never reaches level and −Inf for resamples
// whose curve is above level everywhere.
func bootstrapCrossings(d data, f Fit, level float64, o Options) []float64 {
	n := len(d.x)
	rng := rand.New(rand.NewPCG(o.Seed, 0x5ca1e9a7e))
	w := make([]float64, n)
	xs := make([]float64, o.Resamples)
	var sf *sigmoidFitter
	var u0 float64
	if f.Kind == KindSigmoid {
		sf = newSigmoidFitter(n)
		sf.tol = bootstrapTolerance
		u0 = steepnessParam(f.K)
	}
	var lx, ly, lw []float64
	for r := range xs {
		// Redraw resamples with fewer than two distinct compute values:
		// no curve can be fitted to them.
		for try := 0; ; try++ {
			clear(w)
			for range n {
				w[rng.IntN(n)]++
			}
			if try >= 100 || distinctWeighted(d.x, w) >= 2 {
				break
			}
		}
		if sf == nil {
			lx, ly, lw = lx[:0], ly[:0], lw[:0]
			for i, wi := range w {
				if wi > 0 {
					lx = append(lx, d.x[i])
					ly = append(ly, d.y[i])
					lw = append(lw, wi)
				}
			}
			a, b := stat.LinearRegression(lx, ly, lw, false)
			rf := Fit{Kind: KindLinear, Lo: f.Lo, Hi: f.Hi, Intercept: a, Slope: b}
			xs[r] = rf.crossingX(level)
			continue
		}
		sf.load(d.x, d.y, w, o)
		u, x0, _, _ := sf.minimize(u0, f.X0, bootstrapIterations)
		xs[r] = sf.fitAt(u, x0).crossingX(level)
	}
	for i, x := range xs {
		if math.IsNaN(x) {
			xs[i] = math.Inf(1)
		}
	}
	return xs
}

// distinctWeighted counts the distinct values of the sorted x among the
// points with positive weight.
func distinctWeighted(x, w []float64) int {
	n := 0
	last := math.NaN()
	for i, xi := range x {
		if w[i] > 0 && xi != last {
			n++
			last = xi
		}
	}
	return n
}
