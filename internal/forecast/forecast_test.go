package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func ptr(v float64) *float64 { return &v }

// curve describes a synthetic evaluation: n checkpoints evenly spaced in
// log10(compute) over [xa, xb], true sigmoid (lo, hi, k, x0), Gaussian noise
// of standard deviation noise, scores clamped to [0, 1] like an accuracy.
type curve struct {
	n                 int
	xa, xb            float64
	lo, hi, k, x0     float64
	noise             float64
	level             float64
	opts              Options
	maxErrDecades     float64 // tolerance on the crossing, decades of compute
	maxErrK, maxErrX0 float64 // tolerance on the fitted parameters (0: skip)
}

func (c curve) points(rng *rand.Rand) []Point {
	pts := make([]Point, c.n)
	for i := range pts {
		x := c.xa + (c.xb-c.xa)*float64(i)/float64(c.n-1)
		s := c.lo + (c.hi-c.lo)*logistic(c.k*(x-c.x0)) + c.noise*rng.NormFloat64()
		pts[i] = Point{Compute: math.Pow(10, x), Score: min(max(s, 0), 1)}
	}
	return pts
}

// trueCrossing is the log10 compute at which the true curve reaches level.
func (c curve) trueCrossing() float64 {
	return c.x0 - math.Log((c.hi-c.lo)/(c.level-c.lo)-1)/c.k
}

func TestRecoverSyntheticSigmoid(t *testing.T) {
	cases := map[string]curve{
		"free asymptotes": {n: 30, xa: 11.5, xb: 14.5, lo: 0, hi: 1, k: 3, x0: 13, noise: 0.02, level: 0.5,
			maxErrDecades: 0.05, maxErrK: 0.5, maxErrX0: 0.05},
		"four-way chance": {n: 25, xa: 20, xb: 24, lo: 0.25, hi: 0.9, k: 4, x0: 22, noise: 0.02, level: 0.7,
			opts: Options{Chance: ptr(0.25)}, maxErrDecades: 0.05, maxErrK: 0.8, maxErrX0: 0.05},
		"sharp emergence": {n: 40, xa: 12, xb: 14, lo: 0, hi: 1, k: 20, x0: 13, noise: 0.02, level: 0.5,
			maxErrDecades: 0.02, maxErrK: 5, maxErrX0: 0.02},
		"known ceiling": {n: 30, xa: 11.5, xb: 14.5, lo: 0.1, hi: 0.8, k: 2, x0: 13, noise: 0.02, level: 0.6,
			opts: Options{Upper: ptr(0.8)}, maxErrDecades: 0.08, maxErrK: 0.5, maxErrX0: 0.08},
		"extrapolate past the data": {n: 25, xa: 11, xb: 13.2, lo: 0, hi: 1, k: 3, x0: 13, noise: 0.02, level: 0.8,
			opts: Options{Upper: ptr(1)}, maxErrDecades: 0.1},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pts := c.points(rand.New(rand.NewPCG(42, 1)))
			o := c.opts
			o.Resamples = 300
			o.Seed = 1
			fc, err := Crossing(pts, c.level, o)
			if err != nil {
				t.Fatal(err)
			}
			want := c.trueCrossing()
			got := math.Log10(fc.FiresAt)
			t.Logf("true crossing 10^%.3f, forecast 10^%.3f in [10^%.3f, 10^%.3f]; fit k=%.2f x0=%.3f lo=%.3f hi=%.3f; notes %q",
				want, got, math.Log10(fc.Interval[0]), math.Log10(fc.Interval[1]), fc.Fit.K, fc.Fit.X0, fc.Fit.Lo, fc.Fit.Hi, fc.Notes)
			if fc.Fit.Kind != KindSigmoid {
				t.Fatalf("fit kind %q, want sigmoid", fc.Fit.Kind)
			}
			if math.Abs(got-want) > c.maxErrDecades {
				t.Errorf("crossing off by %.3f decades, tolerance %.3f", got-want, c.maxErrDecades)
			}
			if c.maxErrK > 0 && math.Abs(fc.Fit.K-c.k) > c.maxErrK {
				t.Errorf("k = %.3f, want %.3f ± %.3f", fc.Fit.K, c.k, c.maxErrK)
			}
			if c.maxErrX0 > 0 && math.Abs(fc.Fit.X0-c.x0) > c.maxErrX0 {
				t.Errorf("x0 = %.3f, want %.3f ± %.3f", fc.Fit.X0, c.x0, c.maxErrX0)
			}
			if !(fc.Interval[0] <= fc.FiresAt && fc.FiresAt <= fc.Interval[1]) {
				t.Errorf("FiresAt %g outside its interval %v", fc.FiresAt, fc.Interval)
			}
			// The fitted curve's own crossing agrees with the bootstrap median.
			fx, ok := fc.Fit.Crossing(c.level)
			if !ok || math.Abs(math.Log10(fx)-got) > c.maxErrDecades {
				t.Errorf("Fit.Crossing = %g, %v; bootstrap median %g", fx, ok, fc.FiresAt)
			}
			if p := fc.Fit.Predict(fx); math.Abs(p-c.level) > 1e-9 {
				t.Errorf("Predict(Crossing(%v)) = %v", c.level, p)
			}
		})
	}
}

// TestCalibration checks that the 80% interval contains the true crossing
// in roughly 80% of independent noisy datasets. Accepted band: 65–95% when
// the crossing lies within the data; 50–95% when extrapolating past the
// last checkpoint with a free ceiling (the ceiling is then poorly determined).
func TestCalibration(t *testing.T) {
	const seeds, resamples = 200, 200
	cases := []struct {
		name     string
		c        curve
		low, top float64
	}{
		{"interpolate, free floor and ceiling", curve{n: 20, xa: 11.5, xb: 14.5, lo: 0, hi: 1, k: 3, x0: 13, noise: 0.03, level: 0.5}, 0.65, 0.95},
		{"interpolate, four-way chance", curve{n: 20, xa: 11.5, xb: 14.5, lo: 0.25, hi: 0.95, k: 3, x0: 13, noise: 0.03, level: 0.6, opts: Options{Chance: ptr(0.25)}}, 0.65, 0.95},
		{"extrapolate, free floor and ceiling", curve{n: 20, xa: 11, xb: 12.8, lo: 0, hi: 1, k: 3, x0: 13, noise: 0.03, level: 0.5}, 0.50, 0.95},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			want := tc.c.trueCrossing()
			covered, errs, unbounded := 0, 0, 0
			for seed := range uint64(seeds) {
				pts := tc.c.points(rand.New(rand.NewPCG(seed, 99)))
				o := tc.c.opts
				o.Resamples = resamples
				o.Seed = seed
				fc, err := Crossing(pts, tc.c.level, o)
				if err != nil {
					if !errors.Is(err, ErrCannotForecast) {
						t.Fatalf("seed %d: %v", seed, err)
					}
					errs++ // no interval: counts as not covering
					continue
				}
				if fc.Confidence != 0.8 {
					t.Fatalf("confidence %v, want default 0.8", fc.Confidence)
				}
				if fc.Interval[0] <= math.Pow(10, want) && math.Pow(10, want) <= fc.Interval[1] {
					covered++
				}
				if math.IsInf(fc.Interval[1], 1) {
					unbounded++
				}
			}
			coverage := float64(covered) / seeds
			t.Logf("%s: coverage of the 80%% interval: %d/%d = %.1f%% (accepted %.0f–%.0f%%); %d errors, %d intervals unbounded above",
				tc.name, covered, seeds, 100*coverage, 100*tc.low, 100*tc.top, errs, unbounded)
			if coverage < tc.low || coverage > tc.top {
				t.Errorf("coverage %.3f outside [%.2f, %.2f]", coverage, tc.low, tc.top)
			}
		})
	}
}

func TestDegenerateInputs(t *testing.T) {
	rising := func(n int) []Point {
		pts := make([]Point, n)
		for i := range pts {
			x := 12 + 2*float64(i)/float64(n-1)
			pts[i] = Point{math.Pow(10, x), logistic(3 * (x - 13))}
		}
		return pts
	}
	with := func(i int, p Point) []Point {
		pts := rising(10)
		pts[i] = p
		return pts
	}
	scores := func(s ...float64) []Point {
		pts := make([]Point, len(s))
		for i, v := range s {
			pts[i] = Point{math.Pow(10, 12+0.2*float64(i)), v}
		}
		return pts
	}
	cases := []struct {
		name  string
		pts   []Point
		level float64
		o     Options
		want  string // substring of the error
	}{
		{"no points", nil, 0.5, Options{}, "no points"},
		{"one point", []Point{{1e20, 0.3}}, 0.5, Options{}, "at least 2 distinct compute values"},
		{"identical points", []Point{{1e20, 0.3}, {1e20, 0.3}, {1e20, 0.3}}, 0.5, Options{}, "all 3 points are identical"},
		{"one compute value", []Point{{1e20, 0.3}, {1e20, 0.5}}, 0.5, Options{}, "at least 2 distinct compute values"},
		{"all-zero scores", scores(0, 0, 0, 0, 0, 0), 0.5, Options{}, "all 6 scores are zero"},
		{"constant scores", scores(0.4, 0.4, 0.4, 0.4, 0.4), 0.5, Options{}, "all 5 scores equal 0.4"},
		{"decreasing scores", scores(0.9, 0.8, 0.6, 0.5, 0.3, 0.2), 0.95, Options{}, "do not increase with compute"},
		{"NaN compute", with(3, Point{math.NaN(), 0.5}), 0.5, Options{}, "point 3 has non-finite compute"},
		{"Inf compute", with(3, Point{math.Inf(1), 0.5}), 0.5, Options{}, "non-finite compute"},
		{"NaN score", with(4, Point{1e13, math.NaN()}), 0.5, Options{}, "non-finite score"},
		{"-Inf score", with(4, Point{1e13, math.Inf(-1)}), 0.5, Options{}, "non-finite score"},
		{"zero compute", with(0, Point{0, 0.1}), 0.5, Options{}, "compute must be positive"},
		{"negative compute", with(0, Point{-1e12, 0.1}), 0.5, Options{}, "compute must be positive"},
		{"score above 1", with(9, Point{1e14, 1.5}), 0.5, Options{}, "outside [0, 1]"},
		{"negative score", with(0, Point{1e12, -0.1}), 0.5, Options{}, "outside [0, 1]"},
		{"NaN level", rising(10), math.NaN(), Options{}, "not a finite number"},
		{"level above 1", rising(10), 1.2, Options{}, "above the highest reachable score 1"},
		{"level above known ceiling", rising(10), 0.9, Options{Upper: ptr(0.8)}, "above the highest reachable score 0.8"},
		{"level at zero", rising(10), 0, Options{}, "always met"},
		{"level at chance", rising(10), 0.25, Options{Chance: ptr(0.25)}, "always met"},
		{"level never reached", scores(0, 0, 0.01, 0.1, 0.28, 0.3, 0.3, 0.31, 0.3, 0.3), 0.9, Options{}, "never reaches level 0.9"},
		{"confidence 1", rising(10), 0.5, Options{Confidence: 1}, "confidence"},
		{"negative resamples", rising(10), 0.5, Options{Resamples: -5}, "resamples"},
		{"chance above 1", rising(10), 0.5, Options{Chance: ptr(1.2)}, "chance level"},
		{"chance not below upper", rising(10), 0.5, Options{Chance: ptr(0.5), Upper: ptr(0.5)}, "not below upper"},
		{"NaN upper", rising(10), 0.5, Options{Upper: ptr(math.NaN())}, "upper asymptote"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.o.Resamples == 0 {
				c.o.Resamples = 100
			}
			fc, err := Crossing(c.pts, c.level, c.o)
			if err == nil {
				t.Fatalf("no error; forecast %+v", fc)
			}
			if !errors.Is(err, ErrCannotForecast) {
				t.Fatalf("error %v does not wrap ErrCannotForecast", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
			if err.Error() != strings.ToLower(err.Error()[:1])+err.Error()[1:] {
				t.Errorf("error %q does not start in lower case", err)
			}
			if !reflect.DeepEqual(fc, Forecast{}) {
				t.Errorf("forecast returned with the error: %+v", fc)
			}
		})
	}
}

func TestFitCurveDegenerate(t *testing.T) {
	for name, pts := range map[string][]Point{
		"one point":        {{1e20, 0.3}},
		"identical points": {{1e20, 0.3}, {1e20, 0.3}},
		"all zero":         {{1e19, 0}, {1e20, 0}, {1e21, 0}},
		"constant":         {{1e19, 0.2}, {1e20, 0.2}, {1e21, 0.2}},
		"NaN":              {{1e19, 0.2}, {1e20, math.NaN()}, {1e21, 0.3}},
		"compute 0":        {{0, 0.2}, {1e20, 0.25}, {1e21, 0.3}},
	} {
		if f, err := FitCurve(pts, Options{}); !errors.Is(err, ErrCannotForecast) {
			t.Errorf("%s: FitCurve = %+v, %v; want ErrCannotForecast", name, f, err)
		}
	}
}

// TestNonMonotoneNoise feeds pure noise: every result must be an error or
// carry a warning note, never a bare number.
func TestNonMonotoneNoise(t *testing.T) {
	errs, noted := 0, 0
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 7))
		pts := make([]Point, 30)
		for i := range pts {
			pts[i] = Point{math.Pow(10, 12+3*float64(i)/29), min(max(0.3+0.05*rng.NormFloat64(), 0), 1)}
		}
		fc, err := Crossing(pts, 0.5, Options{Resamples: 200, Seed: seed})
		switch {
		case err != nil:
			if !errors.Is(err, ErrCannotForecast) {
				t.Fatalf("seed %d: %v", seed, err)
			}
			errs++
		case len(fc.Notes) == 0:
			t.Errorf("seed %d: forecast %g %v from pure noise without a note", seed, fc.FiresAt, fc.Interval)
		default:
			noted++
		}
	}
	t.Logf("pure noise: %d errors, %d forecasts with notes", errs, noted)
}

func TestNotes(t *testing.T) {
	t.Run("few points fall back to a line", func(t *testing.T) {
		pts := []Point{{1e12, 0.1}, {1e13, 0.3}, {1e14, 0.5}}
		fc, err := Crossing(pts, 0.8, Options{Resamples: 200})
		if err != nil {
			t.Fatal(err)
		}
		if fc.Fit.Kind != KindLinear || fc.Fit.Fallback == "" {
			t.Fatalf("fit %+v, want a linear fallback with a reason", fc.Fit)
		}
		if !hasNote(fc, "straight line") {
			t.Errorf("notes %q lack the fallback warning", fc.Notes)
		}
		// Exact line: score = 0.2·x − 2.3; 0.8 is reached at x = 15.5.
		if got := math.Log10(fc.FiresAt); math.Abs(got-15.5) > 1e-9 {
			t.Errorf("FiresAt 10^%v, want 10^15.5", got)
		}
		if !hasNote(fc, "extrapolates 1.5 decades") {
			t.Errorf("notes %q lack the extrapolation warning", fc.Notes)
		}
	})
	t.Run("already crossed", func(t *testing.T) {
		c := curve{n: 15, xa: 11, xb: 14, lo: 0, hi: 1, k: 4, x0: 12.5, noise: 0.01, level: 0.5}
		fc, err := Crossing(c.points(rand.New(rand.NewPCG(3, 3))), 0.5, Options{Resamples: 200})
		if err != nil {
			t.Fatal(err)
		}
		if !fc.Crossed || math.Abs(math.Log10(fc.FiresAt)-12.5) > 0.05 {
			t.Errorf("Crossed=%v FiresAt=10^%.3f; want true, 10^12.5", fc.Crossed, math.Log10(fc.FiresAt))
		}
	})
	t.Run("barely begun", func(t *testing.T) {
		pts := []Point{{1e12, 0}, {2e12, 0}, {4e12, 0}, {8e12, 0}, {16e12, 0}, {32e12, 0.01}, {64e12, 0.04}}
		fc, err := Crossing(pts, 0.5, Options{Resamples: 200, Upper: ptr(1)})
		if err != nil {
			t.Fatal(err)
		}
		if !hasNote(fc, "barely begun") {
			t.Errorf("notes %q lack the barely-begun warning", fc.Notes)
		}
	})
}

func hasNote(fc Forecast, s string) bool {
	for _, n := range fc.Notes {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

func TestDeterminism(t *testing.T) {
	c := curve{n: 20, xa: 11.5, xb: 14.5, lo: 0, hi: 1, k: 3, x0: 13, noise: 0.03, level: 0.5}
	pts := c.points(rand.New(rand.NewPCG(5, 5)))
	o := Options{Resamples: 300, Seed: 11}
	a, err := Crossing(pts, 0.5, o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Crossing(pts, 0.5, o)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different forecasts:\n%+v\n%+v", a, b)
	}
	// Input order does not matter (points are sorted by compute).
	shuffled := append([]Point(nil), pts...)
	rand.New(rand.NewPCG(1, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if s, _ := Crossing(shuffled, 0.5, o); !reflect.DeepEqual(a, s) {
		t.Fatalf("shuffled input changed the forecast:\n%+v\n%+v", a, s)
	}
	o.Seed = 12
	if d, _ := Crossing(pts, 0.5, o); d.Interval == a.Interval {
		t.Errorf("different seeds gave the identical interval %v", a.Interval)
	}
}

func TestFitCrossingEdges(t *testing.T) {
	f := Fit{Kind: KindSigmoid, Lo: 0.25, Hi: 0.9, K: 2, X0: 20}
	if c, ok := f.Crossing(0.95); ok || !math.IsInf(c, 1) {
		t.Errorf("above ceiling: %v, %v", c, ok)
	}
	if c, ok := f.Crossing(0.9); ok || !math.IsInf(c, 1) {
		t.Errorf("at ceiling: %v, %v", c, ok)
	}
	if c, ok := f.Crossing(0.2); ok || c != 0 {
		t.Errorf("below floor: %v, %v", c, ok)
	}
	if c, ok := f.Crossing(0.575); !ok || math.Abs(c-1e20)/1e20 > 1e-12 {
		t.Errorf("midpoint: %v, %v", c, ok)
	}
	l := Fit{Kind: KindLinear, Lo: 0, Hi: 1, Intercept: -1, Slope: 0.1}
	if c, ok := l.Crossing(0.5); !ok || math.Abs(math.Log10(c)-15) > 1e-12 {
		t.Errorf("linear: %v, %v", c, ok)
	}
	if p := l.Predict(1e40); p != 1 {
		t.Errorf("linear prediction is not clamped: %v", p)
	}
	flat := Fit{Kind: KindLinear, Lo: 0, Hi: 1, Intercept: 0.3, Slope: -0.01}
	if c, ok := flat.Crossing(0.5); ok || !math.IsInf(c, 1) {
		t.Errorf("falling line: %v, %v", c, ok)
	}
}

// TestProjectedDerivatives checks the analytic gradient and Gauss–Newton
// Hessian of the projected objective against finite differences.
func TestProjectedDerivatives(t *testing.T) {
	var x, y, w []float64
	for i := range 20 {
		xi := 12.5 + 1.5*float64(i)/19
		x = append(x, xi)
		y = append(y, 0.1+0.7*logistic(3*(xi-13.2)))
		w = append(w, 1+float64(i%3))
	}
	s := newSigmoidFitter(len(x))
	s.load(x, y, w, Options{})
	const h = 1e-5
	grad := func(u, x0 float64) [2]float64 { s.eval(u, x0); return s.cgrad }
	val := func(u, x0 float64) float64 { s.eval(u, x0); return s.cf }

	// At the truth the residuals vanish, so Gauss–Newton is exact; both
	// asymptotes are strictly inside their boxes.
	u, x0 := steepnessParam(3), 13.2
	s.eval(u, x0)
	if !(s.clo > s.loMin && s.clo < s.loMax && s.chi > s.hiMin && s.chi < s.hiMax) {
		t.Fatalf("asymptotes %v %v on a bound", s.clo, s.chi)
	}
	hess := s.chess
	fd := [3]float64{
		(grad(u+h, x0)[0] - grad(u-h, x0)[0]) / (2 * h),
		(grad(u, x0+h)[0] - grad(u, x0-h)[0]) / (2 * h),
		(grad(u, x0+h)[1] - grad(u, x0-h)[1]) / (2 * h),
	}
	for i := range hess {
		if math.Abs(hess[i]-fd[i]) > 1e-6*math.Max(1, math.Abs(fd[i])) {
			t.Errorf("Hessian[%d] = %g, finite difference %g", i, hess[i], fd[i])
		}
	}
	// Away from the optimum the gradient still matches.
	u, x0 = u+0.3, x0-0.1
	g := grad(u, x0)
	fg := [2]float64{
		(val(u+h, x0) - val(u-h, x0)) / (2 * h),
		(val(u, x0+h) - val(u, x0-h)) / (2 * h),
	}
	for i := range g {
		if math.Abs(g[i]-fg[i]) > 1e-7 {
			t.Errorf("gradient[%d] = %g, finite difference %g", i, g[i], fg[i])
		}
	}
}

// TestBoxLeastSquares compares the closed-form box-constrained solution with
// a brute-force grid search.
func TestBoxLeastSquares(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for trial := range 200 {
		var a, b, c, p, q float64
		for range 5 {
			s, y := rng.Float64(), rng.Float64()
			a += (1 - s) * (1 - s)
			b += (1 - s) * s
			c += s * s
			p += (1 - s) * y
			q += s * y
		}
		l1, h2 := 0.0, 1.0
		l2, h1 := 0.5*rng.Float64(), 0.5+0.5*rng.Float64()
		obj := func(l, h float64) float64 { return a*l*l + 2*b*l*h + c*h*h - 2*p*l - 2*q*h }
		lo, hi := boxLeastSquares(a, b, c, p, q, l1, l2, h1, h2)
		if lo < l1 || lo > l2 || hi < h1 || hi > h2 {
			t.Fatalf("trial %d: (%v, %v) outside the box", trial, lo, hi)
		}
		best := math.Inf(1)
		const m = 200
		for i := range m + 1 {
			for j := range m + 1 {
				best = min(best, obj(l1+(l2-l1)*float64(i)/m, h1+(h2-h1)*float64(j)/m))
			}
		}
		if obj(lo, hi) > best+1e-12 {
			t.Errorf("trial %d: objective %v, grid found %v", trial, obj(lo, hi), best)
		}
	}
}
