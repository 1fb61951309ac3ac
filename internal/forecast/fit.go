package forecast

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
	"gonum.org/v1/gonum/stat"
)

// ErrCannotForecast is wrapped by every error that reports inputs on which no
// honest curve or forecast can be computed. The wrapping error says why in
// plain words.
var ErrCannotForecast = errors.New("cannot forecast")

// Kinds of fitted curve.
const (
	KindSigmoid = "sigmoid"
	KindLinear  = "linear"
)

const (
	// MinSigmoidPoints is the number of distinct compute values needed before
	// a sigmoid is fitted. A sigmoid has up to four free parameters, so with
	// fewer distinct compute values FitCurve falls back to a straight line in
	// log10(compute).
	MinSigmoidPoints = 5

	// MaxSteepness caps the fitted steepness K, in units of 1/decade of
	// compute. At K = 100 the curve climbs from 10% to 90% of its range within
	// 0.044 decades (about 10% more compute). A fit at the cap means the rise
	// is sharper than the checkpoints can resolve.
	MaxSteepness = 100.0

	// minBend is the smallest K·(compute span in decades) for which a fitted
	// sigmoid is kept: below it the curve's 10%–90% rise takes more than ten
	// times the observed span, so over the data it is a straight line whose
	// midpoint and steepness the data do not determine.
	minBend = 0.44 // = 2·ln(9)/10

	defaultConfidence = 0.8
	defaultResamples  = 1000
)

// Point is one checkpoint of one evaluation: the effective training compute
// (FLOP, > 0) and the score measured there (a fraction in [0, 1]).
type Point struct {
	Compute float64
	Score   float64
}

// Options configures fitting and the bootstrap. The zero value is usable.
type Options struct {
	// Chance fixes the lower asymptote (for example 0.25 for four-way
	// multiple choice). When nil the lower asymptote is fitted within
	// [0, min(score)].
	Chance *float64
	// Upper fixes the upper asymptote. When nil it is fitted within
	// [max(score), 1].
	Upper *float64
	// Confidence is the probability mass of the reported interval, in (0, 1).
	// Zero means 0.8.
	Confidence float64
	// Resamples is the number of bootstrap resamples. Zero means 1000.
	Resamples int
	// Seed seeds the bootstrap random number generator; the same seed and
	// inputs give the same result.
	Seed uint64
}

func (o Options) normalized() (Options, error) {
	if o.Confidence == 0 {
		o.Confidence = defaultConfidence
	}
	if !(o.Confidence > 0 && o.Confidence < 1) {
		return o, fmt.Errorf("%w: confidence %v is not between 0 and 1", ErrCannotForecast, o.Confidence)
	}
	if o.Resamples == 0 {
		o.Resamples = defaultResamples
	}
	if o.Resamples < 0 {
		return o, fmt.Errorf("%w: resamples %d is negative", ErrCannotForecast, o.Resamples)
	}
	if o.Chance != nil && !(*o.Chance >= 0 && *o.Chance < 1) {
		return o, fmt.Errorf("%w: chance level %v is not in [0, 1)", ErrCannotForecast, *o.Chance)
	}
	if o.Upper != nil && !(*o.Upper > 0 && *o.Upper <= 1) {
		return o, fmt.Errorf("%w: upper asymptote %v is not in (0, 1]", ErrCannotForecast, *o.Upper)
	}
	if o.Chance != nil && o.Upper != nil && *o.Chance >= *o.Upper {
		return o, fmt.Errorf("%w: chance level %v is not below upper asymptote %v", ErrCannotForecast, *o.Chance, *o.Upper)
	}
	return o, nil
}

// floor and ceiling are the lowest and highest scores any curve may take.
func (o Options) floor() float64 {
	if o.Chance != nil {
		return *o.Chance
	}
	return 0
}

func (o Options) ceiling() float64 {
	if o.Upper != nil {
		return *o.Upper
	}
	return 1
}

// Fit is a curve of score against x = log10(compute).
//
// For Kind "sigmoid":
//
//	score = Lo + (Hi − Lo) / (1 + exp(−K·(x − X0)))
//
// with K > 0 per decade of compute; X0 is the log10 compute of the midpoint.
//
// For Kind "linear":
//
//	score = clamp(Intercept + Slope·x, Lo, Hi)
//
// where Lo and Hi are the floor and ceiling (Chance or 0, Upper or 1).
type Fit struct {
	Kind string
	// Lo and Hi are the lower and upper asymptotes (sigmoid) or the clamp
	// range (linear).
	Lo, Hi float64
	// K and X0 are the steepness and midpoint of a sigmoid (zero for linear).
	K, X0 float64
	// Intercept and Slope define a linear fit (zero for sigmoid).
	Intercept, Slope float64
	// Points is the number of points fitted.
	Points int
	// RMSE is the root-mean-square residual over the fitted points.
	RMSE float64
	// Fallback says why a linear fit was used instead of a sigmoid; empty
	// for sigmoid fits.
	Fallback string
}

// Predict returns the fitted score at the given compute (FLOP).
func (f Fit) Predict(compute float64) float64 {
	return f.predictX(math.Log10(compute))
}

func (f Fit) predictX(x float64) float64 {
	if f.Kind == KindLinear {
		return min(max(f.Intercept+f.Slope*x, f.Lo), f.Hi)
	}
	return f.Lo + (f.Hi-f.Lo)*logistic(f.K*(x-f.X0))
}

// Crossing returns the compute (FLOP) at which the fitted curve first reaches
// level. ok is false when there is no such finite, positive compute: the
// returned compute is then +Inf if the curve never reaches level (level at or
// above the upper asymptote, or a non-increasing line) and 0 if the curve is
// at or above level everywhere (level at or below the lower asymptote).
func (f Fit) Crossing(level float64) (compute float64, ok bool) {
	x := f.crossingX(level)
	c := math.Pow(10, x)
	if math.IsNaN(c) {
		return math.Inf(1), false
	}
	return c, c > 0 && !math.IsInf(c, 1)
}

// crossingX is Crossing in log10(compute); ±Inf as described for Crossing.
func (f Fit) crossingX(level float64) float64 {
	switch {
	case math.IsNaN(level):
		return math.NaN()
	case f.Kind == KindLinear:
		if level > f.Hi {
			return math.Inf(1)
		}
		if level <= f.Lo {
			return math.Inf(-1)
		}
		if !(f.Slope > 0) {
			return math.Inf(1)
		}
		return (level - f.Intercept) / f.Slope
	default:
		if level >= f.Hi {
			return math.Inf(1)
		}
		if level <= f.Lo {
			return math.Inf(-1)
		}
		return f.X0 - math.Log((f.Hi-f.Lo)/(level-f.Lo)-1)/f.K
	}
}

func logistic(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// data is a validated, weighted point set in log10(compute).
type data struct {
	x, y, w  []float64
	distinct int // distinct x values
}

// validate checks raw points and returns them in log10 space, sorted by
// compute (stable, so equal compute keeps input order).
func validate(pts []Point) (data, error) {
	if len(pts) == 0 {
		return data{}, fmt.Errorf("%w: no points", ErrCannotForecast)
	}
	for i, p := range pts {
		switch {
		case math.IsNaN(p.Compute) || math.IsInf(p.Compute, 0):
			return data{}, fmt.Errorf("%w: point %d has non-finite compute %v", ErrCannotForecast, i, p.Compute)
		case p.Compute <= 0:
			return data{}, fmt.Errorf("%w: point %d has compute %v; compute must be positive", ErrCannotForecast, i, p.Compute)
		case math.IsNaN(p.Score) || math.IsInf(p.Score, 0):
			return data{}, fmt.Errorf("%w: point %d has non-finite score %v", ErrCannotForecast, i, p.Score)
		case p.Score < 0 || p.Score > 1:
			return data{}, fmt.Errorf("%w: point %d has score %v outside [0, 1]", ErrCannotForecast, i, p.Score)
		}
	}
	sorted := slices.Clone(pts)
	slices.SortStableFunc(sorted, func(a, b Point) int { return cmp.Compare(a.Compute, b.Compute) })
	d := data{
		x: make([]float64, len(sorted)),
		y: make([]float64, len(sorted)),
		w: make([]float64, len(sorted)),
	}
	allZero, constant := true, true
	for i, p := range sorted {
		d.x[i] = math.Log10(p.Compute)
		d.y[i] = p.Score
		d.w[i] = 1
		if i == 0 || d.x[i] != d.x[i-1] {
			d.distinct++
		}
		if p.Score != 0 {
			allZero = false
		}
		if p.Score != sorted[0].Score {
			constant = false
		}
	}
	switch {
	case d.distinct < 2 && constant && len(pts) > 1:
		return data{}, fmt.Errorf("%w: all %d points are identical", ErrCannotForecast, len(pts))
	case d.distinct < 2:
		return data{}, fmt.Errorf("%w: %d point(s) at a single compute value; at least 2 distinct compute values are needed", ErrCannotForecast, len(pts))
	case allZero:
		return data{}, fmt.Errorf("%w: all %d scores are zero, so there is no trend to extrapolate", ErrCannotForecast, len(pts))
	case constant:
		return data{}, fmt.Errorf("%w: all %d scores equal %v, so there is no trend to extrapolate", ErrCannotForecast, len(pts), sorted[0].Score)
	}
	return d, nil
}

// FitCurve fits score against x = log10(compute): a bounded sigmoid when
// there are at least MinSigmoidPoints distinct compute values, the optimiser
// converges, and the fitted curve bends within about ten times the observed
// compute span; otherwise a straight line (Fit.Fallback says why).
func FitCurve(pts []Point, o Options) (Fit, error) {
	o, err := o.normalized()
	if err != nil {
		return Fit{}, err
	}
	d, err := validate(pts)
	if err != nil {
		return Fit{}, err
	}
	return fitData(d, o), nil
}

func fitData(d data, o Options) Fit {
	if d.distinct < MinSigmoidPoints {
		return fitLinear(d, o, fmt.Sprintf("only %d distinct compute values; a sigmoid needs at least %d", d.distinct, MinSigmoidPoints))
	}
	s := newSigmoidFitter(len(d.x))
	s.load(d.x, d.y, d.w, o)
	f, ok := s.fitFull()
	if !ok {
		return fitLinear(d, o, "the sigmoid fit did not converge")
	}
	if span := d.x[len(d.x)-1] - d.x[0]; f.K*span < minBend {
		return fitLinear(d, o, fmt.Sprintf("the fitted sigmoid is nearly straight over the observed %.2f decades of compute (its 10%%–90%% rise would take %.3g decades), so its midpoint and steepness are not determined", span, riseDecades(f.K)))
	}
	f.Points = len(d.x)
	f.RMSE = rmse(f, d)
	return f
}

func fitLinear(d data, o Options, why string) Fit {
	a, b := stat.LinearRegression(d.x, d.y, d.w, false)
	f := Fit{
		Kind:      KindLinear,
		Lo:        o.floor(),
		Hi:        o.ceiling(),
		Intercept: a,
		Slope:     b,
		Points:    len(d.x),
		Fallback:  why,
	}
	f.RMSE = rmse(f, d)
	return f
}

func rmse(f Fit, d data) float64 {
	var ss, sw float64
	for i, x := range d.x {
		r := d.y[i] - f.predictX(x)
		ss += d.w[i] * r * r
		sw += d.w[i]
	}
	return math.Sqrt(ss / sw)
}

// sigmoidFitter fits the bounded sigmoid by variable projection. For a given
// steepness and midpoint the model is linear in the two asymptotes, so they
// are found exactly by a box-constrained two-variable least squares
// (boxLeastSquares). The two remaining parameters θ = (u, x0), with
// K = MaxSteepness / (1 + exp(−u)), are optimised by gonum's Newton method
// given the analytic gradient and the Gauss–Newton approximation of the
// Hessian of the projected objective. A fitter is reused across bootstrap
// resamples so that its buffers and the optimiser's state are not
// reallocated.
type sigmoidFitter struct {
	x, y, w []float64 // points with positive weight
	sw      float64   // sum of weights

	loMin, loMax, hiMin, hiMax float64 // box for the asymptotes

	sig []float64 // scratch: logistic value per point

	// The last evaluation, reused when gonum asks for the value, gradient
	// and Hessian at the same location.
	cached  bool
	cu, cx0 float64
	cf      float64    // weighted mean squared residual
	cgrad   [2]float64 // gradient in (u, x0)
	chess   [3]float64 // Gauss–Newton Hessian: uu, u·x0, x0·x0
	clo     float64
	chi     float64

	method   optimize.Newton
	settings optimize.Settings
	conv     stepConverge
	problem  optimize.Problem
	init     [2]float64
	tol      float64 // multiplies stepX0 and stepU
}

func newSigmoidFitter(n int) *sigmoidFitter {
	s := &sigmoidFitter{
		x:   make([]float64, 0, n),
		y:   make([]float64, 0, n),
		w:   make([]float64, 0, n),
		sig: make([]float64, n),
	}
	s.problem = optimize.Problem{
		Func: func(t []float64) float64 {
			s.eval(t[0], t[1])
			return s.cf
		},
		Grad: func(g, t []float64) {
			s.eval(t[0], t[1])
			g[0], g[1] = s.cgrad[0], s.cgrad[1]
		},
		Hess: func(h *mat.SymDense, t []float64) {
			s.eval(t[0], t[1])
			h.SetSym(0, 0, s.chess[0])
			h.SetSym(0, 1, s.chess[1])
			h.SetSym(1, 1, s.chess[2])
		},
	}
	s.method.Linesearcher = &optimize.Backtracking{}
	s.conv.s = s
	s.settings.Converger = &s.conv
	// Convergence is decided by stepConverge; the gradient threshold only
	// catches exact stationary points.
	s.settings.GradientThreshold = 1e-14
	s.tol = 1
	return s
}

// load sets the weighted points (zero weights are skipped) and the box for
// the asymptotes: the lower one in [0, min(score)] unless o.Chance fixes it,
// the upper one in [max(score), 1] unless o.Upper fixes it.
func (s *sigmoidFitter) load(x, y, w []float64, o Options) {
	s.x, s.y, s.w = s.x[:0], s.y[:0], s.w[:0]
	s.sw = 0
	minY, maxY := math.Inf(1), math.Inf(-1)
	for i := range x {
		if w[i] == 0 {
			continue
		}
		s.x = append(s.x, x[i])
		s.y = append(s.y, y[i])
		s.w = append(s.w, w[i])
		s.sw += w[i]
		minY = min(minY, y[i])
		maxY = max(maxY, y[i])
	}
	if cap(s.sig) < len(s.x) {
		s.sig = make([]float64, len(s.x))
	}
	s.sig = s.sig[:len(s.x)]
	if o.Upper != nil {
		s.hiMin, s.hiMax = *o.Upper, *o.Upper
	} else {
		s.hiMin, s.hiMax = maxY, 1
	}
	if o.Chance != nil {
		s.loMin, s.loMax = *o.Chance, *o.Chance
	} else {
		s.loMin, s.loMax = 0, min(minY, s.hiMax)
	}
	s.hiMin = max(s.hiMin, s.loMax)
	s.cached = false
}

func steepness(u float64) float64 { return MaxSteepness * logistic(u) }

// steepnessParam inverts steepness, clamped to keep u finite.
func steepnessParam(k float64) float64 {
	u := math.Log(k / (MaxSteepness - k))
	return min(max(u, -30), 30)
}

// eval computes, at θ = (u, x0), the projected objective (weighted mean
// squared residual at the best asymptotes), its gradient, its Gauss–Newton
// Hessian and the asymptotes.
func (s *sigmoidFitter) eval(u, x0 float64) {
	if s.cached && u == s.cu && x0 == s.cx0 {
		return
	}
	k := steepness(u)
	// Normal equations of the asymptotes: the model is lo·(1−σ) + hi·σ.
	var a, b, c, p, q float64
	for i, xi := range s.x {
		sg := logistic(k * (xi - x0))
		s.sig[i] = sg
		wi := s.w[i]
		om := 1 - sg
		a += wi * om * om
		b += wi * om * sg
		c += wi * sg * sg
		p += wi * om * s.y[i]
		q += wi * sg * s.y[i]
	}
	lo, hi := boxLeastSquares(a, b, c, p, q, s.loMin, s.loMax, s.hiMin, s.hiMax)
	d := hi - lo
	dk := k * (1 - k/MaxSteepness) // dK/du
	// Residuals, gradient, and the blocks of J'WJ that involve θ, where J is
	// the Jacobian of the model in (lo, hi, u, x0).
	var f, gu, gx float64
	var luu, lux, lxx, lou, lox, hiu, hix float64
	for i, xi := range s.x {
		sg := s.sig[i]
		wi := s.w[i]
		r := s.y[i] - lo - d*sg
		f += wi * r * r
		ds := d * sg * (1 - sg)
		ju := ds * (xi - x0) * dk
		jx := -ds * k
		gu += wi * r * ju
		gx += wi * r * jx
		luu += wi * ju * ju
		lux += wi * ju * jx
		lxx += wi * jx * jx
		lou += wi * (1 - sg) * ju
		lox += wi * (1 - sg) * jx
		hiu += wi * sg * ju
		hix += wi * sg * jx
	}
	// Variable projection: the Hessian of the projected objective is the
	// Schur complement over the asymptotes that are free (strictly inside
	// their box); an asymptote on a bound stays there for small steps.
	loFree := lo > s.loMin && lo < s.loMax
	hiFree := hi > s.hiMin && hi < s.hiMax
	det := a*c - b*b
	switch {
	case loFree && hiFree && det > 1e-12*a*c:
		luu -= (c*lou*lou - 2*b*lou*hiu + a*hiu*hiu) / det
		lux -= (c*lou*lox - b*(lou*hix+hiu*lox) + a*hiu*hix) / det
		lxx -= (c*lox*lox - 2*b*lox*hix + a*hix*hix) / det
	case loFree && a > 0:
		luu -= lou * lou / a
		lux -= lou * lox / a
		lxx -= lox * lox / a
	case hiFree && c > 0:
		luu -= hiu * hiu / c
		lux -= hiu * hix / c
		lxx -= hix * hix / c
	}
	inv := 1 / s.sw
	s.cf = f * inv
	s.cgrad = [2]float64{-2 * gu * inv, -2 * gx * inv}
	s.chess = [3]float64{2 * luu * inv, 2 * lux * inv, 2 * lxx * inv}
	s.clo, s.chi = lo, hi
	s.cu, s.cx0, s.cached = u, x0, true
}

// boxLeastSquares minimises
//
//	a·lo² + 2b·lo·hi + c·hi² − 2p·lo − 2q·hi
//
// over lo ∈ [l1, l2], hi ∈ [h1, h2]. The objective is a convex quadratic, so
// the minimum is the unconstrained one when that is feasible and otherwise
// lies on an edge of the box, where it is a clipped one-dimensional minimum.
func boxLeastSquares(a, b, c, p, q, l1, l2, h1, h2 float64) (lo, hi float64) {
	det := a*c - b*b
	if a > 0 && c > 0 && det > 1e-12*a*c {
		l := (c*p - b*q) / det
		h := (a*q - b*p) / det
		if l >= l1 && l <= l2 && h >= h1 && h <= h2 {
			return l, h
		}
	}
	best := math.Inf(1)
	try := func(l, h float64) {
		if v := a*l*l + 2*b*l*h + c*h*h - 2*p*l - 2*q*h; v < best {
			best, lo, hi = v, l, h
		}
	}
	for _, l := range [2]float64{l1, l2} {
		h := h1
		if c > 0 {
			h = min(max((q-b*l)/c, h1), h2)
		}
		try(l, h)
	}
	for _, h := range [2]float64{h1, h2} {
		l := l1
		if a > 0 {
			l = min(max((p-b*h)/a, l1), l2)
		}
		try(l, h)
	}
	return lo, hi
}

// Convergence tolerances of the sigmoid fit: a fit stops when the
// Gauss–Newton step would move the midpoint by less than stepX0 decades and
// the steepness parameter u by less than stepU, or when the objective has not
// improved for stallIterations iterations.
const (
	stepX0          = 1e-4
	stepU           = 1e-3
	stallIterations = 3
)

// stepConverge is an optimize.Converger that stops when the Gauss–Newton step
// at the current location is negligible: a criterion in the units of the
// parameters, unlike an absolute gradient threshold.
type stepConverge struct {
	s  *sigmoidFitter
	fc optimize.FunctionConverge
}

func (c *stepConverge) Init(dim int) {
	c.fc = optimize.FunctionConverge{Absolute: 1e-15, Relative: 1e-10, Iterations: stallIterations}
	c.fc.Init(dim)
}

func (c *stepConverge) Converged(loc *optimize.Location) optimize.Status {
	if st := c.fc.Converged(loc); st != optimize.NotTerminated {
		return st
	}
	if c.s.smallStep(loc.X[0], loc.X[1], c.s.tol) {
		return optimize.FunctionConvergence
	}
	return optimize.NotTerminated
}

// smallStep reports whether the Gauss–Newton step at (u, x0) is within
// scale times the step tolerances.
func (s *sigmoidFitter) smallStep(u, x0, scale float64) bool {
	s.eval(u, x0)
	h, g := s.chess, s.cgrad
	det := h[0]*h[2] - h[1]*h[1]
	if !(h[0] > 0 && det > 0) {
		return g[0] == 0 && g[1] == 0
	}
	du := (h[2]*g[0] - h[1]*g[1]) / det
	dx := (h[0]*g[1] - h[1]*g[0]) / det
	return math.Abs(du) < scale*stepU && math.Abs(dx) < scale*stepX0
}

// minimize runs the optimiser from (u, x0) for at most maxIter iterations
// and returns the best point found and whether it is converged: the
// objective is finite and the optimiser stopped on a convergence criterion,
// or the remaining Gauss–Newton step is within ten times the tolerances.
func (s *sigmoidFitter) minimize(u, x0 float64, maxIter int) (bu, bx0, bf float64, ok bool) {
	s.settings.MajorIterations = maxIter
	s.settings.FuncEvaluations = 2*maxIter + 20
	s.init = [2]float64{u, x0}
	res, err := optimize.Minimize(s.problem, s.init[:], &s.settings, &s.method)
	if res == nil {
		// Minimize rejects only malformed problems, which this is not.
		s.eval(u, x0)
		return u, x0, s.cf, false
	}
	// Every major iteration of a line-search method lowers the objective, so
	// the final location is the best one found.
	bu, bx0, bf = res.X[0], res.X[1], res.F
	if math.IsNaN(bf) || math.IsInf(bf, 0) {
		return bu, bx0, bf, false
	}
	ok = err == nil && (res.Status == optimize.FunctionConvergence || res.Status == optimize.GradientThreshold)
	return bu, bx0, bf, ok || s.smallStep(bu, bx0, 10)
}

// fitFull fits without a warm start: it scores a grid of midpoints and
// steepnesses spanning the data, then runs the optimiser from the three best
// grid points and keeps the best result.
func (s *sigmoidFitter) fitFull() (Fit, bool) {
	xmin, xmax := s.x[0], s.x[0]
	for _, x := range s.x {
		xmin, xmax = min(xmin, x), max(xmax, x)
	}
	span := xmax - xmin
	type start struct{ u, x0, f float64 }
	var starts []start
	const nx = 21
	for i := range nx {
		x0 := xmin - 0.5*span + 2*span*float64(i)/(nx-1)
		for ks := 1.0; ks/span < MaxSteepness; ks *= 2 {
			u := steepnessParam(ks / span)
			s.eval(u, x0)
			starts = append(starts, start{u, x0, s.cf})
		}
	}
	slices.SortStableFunc(starts, func(a, b start) int { return cmp.Compare(a.f, b.f) })
	bestF := math.Inf(1)
	var bu, bx0 float64
	converged := false
	for _, st := range starts[:min(3, len(starts))] {
		u, x0, f, ok := s.minimize(st.u, st.x0, 200)
		if f < bestF {
			bestF, bu, bx0, converged = f, u, x0, ok
		}
	}
	if !converged {
		return Fit{}, false
	}
	return s.fitAt(bu, bx0), true
}

// fitAt returns the Fit at (u, x0) with its projected asymptotes.
func (s *sigmoidFitter) fitAt(u, x0 float64) Fit {
	s.eval(u, x0)
	return Fit{Kind: KindSigmoid, Lo: s.clo, Hi: s.chi, K: steepness(u), X0: x0}
}
