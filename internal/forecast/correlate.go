package forecast

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"gonum.org/v1/gonum/stat"
)

// ErrUndefinedCorrelation is wrapped by Spearman's errors: the rank
// correlation does not exist for the given inputs.
var ErrUndefinedCorrelation = errors.New("correlation undefined")

// Spearman returns Spearman's rank correlation of x and y: the Pearson
// correlation of their ranks, with tied values given the average of the ranks
// they span. It fails when the lengths differ, there are fewer than two
// pairs, a value is NaN or infinite, or either input is constant.
func Spearman(x, y []float64) (float64, error) {
	if len(x) != len(y) {
		return math.NaN(), fmt.Errorf("%w: lengths differ (%d and %d)", ErrUndefinedCorrelation, len(x), len(y))
	}
	if len(x) < 2 {
		return math.NaN(), fmt.Errorf("%w: %d pair(s); at least 2 are needed", ErrUndefinedCorrelation, len(x))
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return math.NaN(), fmt.Errorf("%w: pair %d is not finite", ErrUndefinedCorrelation, i)
		}
	}
	idx := make([]int, len(x))
	rx, ry := make([]float64, len(x)), make([]float64, len(y))
	if !ranks(x, rx, idx) {
		return math.NaN(), fmt.Errorf("%w: the first series is constant", ErrUndefinedCorrelation)
	}
	if !ranks(y, ry, idx) {
		return math.NaN(), fmt.Errorf("%w: the second series is constant", ErrUndefinedCorrelation)
	}
	return stat.Correlation(rx, ry, nil), nil
}

// ranks writes the 1-based average ranks of v into r, using idx as scratch,
// and reports whether v has at least two distinct values.
func ranks(v, r []float64, idx []int) bool {
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return v[idx[a]] < v[idx[b]] })
	for i := 0; i < len(idx); {
		j := i + 1
		for j < len(idx) && v[idx[j]] == v[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // mean of ranks i+1 .. j
		for t := i; t < j; t++ {
			r[idx[t]] = avg
		}
		i = j
	}
	return v[idx[0]] != v[idx[len(idx)-1]]
}

// Correlation is the rank correlation of two evaluations across checkpoints.
type Correlation struct {
	// A and B are the evaluation ids, A < B.
	A, B string
	// Rho is Spearman's rank correlation over the checkpoints where both are
	// present; NaN when undefined (fewer than 3 shared checkpoints or a
	// constant series).
	Rho float64
	// Pairs is the number of checkpoints where both are present.
	Pairs int
	// Interval is the equal-tailed bootstrap interval of Rho at
	// Options.Confidence, from resampling the shared checkpoints; NaN when
	// Rho is NaN or too few resamples are defined.
	Interval [2]float64
}

// minCorrelationPairs is the fewest shared checkpoints for which Correlate
// reports a rank correlation.
const minCorrelationPairs = 3

// Correlate computes the Spearman rank correlation of every pair of
// evaluations. series maps an evaluation id to its scores aligned by
// checkpoint (index i is the same checkpoint in every series); NaN or ±Inf
// marks a missing score, and a series shorter than another is missing the
// later checkpoints. Each pair uses the checkpoints where both are present.
// The interval resamples those checkpoints with replacement (o.Resamples
// times, seeded by o.Seed and the pair's ids); resamples on which the
// correlation is undefined are skipped. Results are sorted by A, then B.
// Options.Chance and Options.Upper are ignored. Invalid Confidence or
// Resamples fall back to the defaults.
func Correlate(series map[string][]float64, o Options) []Correlation {
	if !(o.Confidence > 0 && o.Confidence < 1) {
		o.Confidence = defaultConfidence
	}
	if o.Resamples <= 0 {
		o.Resamples = defaultResamples
	}
	ids := make([]string, 0, len(series))
	for id := range series {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var out []Correlation
	var xa, xb []float64
	for i, a := range ids {
		for _, b := range ids[i+1:] {
			xa, xb = xa[:0], xb[:0]
			sa, sb := series[a], series[b]
			for t := range min(len(sa), len(sb)) {
				if finite(sa[t]) && finite(sb[t]) {
					xa = append(xa, sa[t])
					xb = append(xb, sb[t])
				}
			}
			c := Correlation{A: a, B: b, Pairs: len(xa), Rho: math.NaN(), Interval: [2]float64{math.NaN(), math.NaN()}}
			if len(xa) >= minCorrelationPairs {
				if rho, err := Spearman(xa, xb); err == nil {
					c.Rho = rho
					c.Interval = rhoInterval(xa, xb, a, b, o)
				}
			}
			out = append(out, c)
		}
	}
	return out
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func rhoInterval(x, y []float64, a, b string, o Options) [2]float64 {
	h := fnv.New64a()
	h.Write([]byte(a))
	h.Write([]byte{0})
	h.Write([]byte(b))
	rng := rand.New(rand.NewPCG(o.Seed, h.Sum64()))
	n := len(x)
	rx, ry := make([]float64, n), make([]float64, n)
	rhos := make([]float64, 0, o.Resamples)
	for range o.Resamples {
		for i := range n {
			j := rng.IntN(n)
			rx[i], ry[i] = x[j], y[j]
		}
		if rho, err := Spearman(rx, ry); err == nil {
			rhos = append(rhos, rho)
		}
	}
	if len(rhos) < o.Resamples/2 || len(rhos) == 0 {
		return [2]float64{math.NaN(), math.NaN()}
	}
	slices.Sort(rhos)
	tail := (1 - o.Confidence) / 2
	return [2]float64{
		stat.Quantile(tail, stat.Empirical, rhos, nil),
		stat.Quantile(1-tail, stat.Empirical, rhos, nil),
	}
}

// WeaklyCorrelated returns, sorted, the domains whose evaluations are weakly
// correlated with the rest: for each domain (a value of groups, which maps an
// evaluation id to its domain), the mean Rho over the correlations between one
// of its evaluations and an evaluation outside the domain is below below.
// Evaluations absent from groups belong to no domain but still count as "the
// rest" for the others. Correlations with NaN Rho are ignored, and a domain
// with no defined cross-domain correlation is not reported (there is no
// evidence either way). The mean is signed, so a domain that moves against
// the rest is reported too.
func WeaklyCorrelated(cs []Correlation, groups map[string]string, below float64) []string {
	sum := map[string]float64{}
	cnt := map[string]int{}
	for _, c := range cs {
		if math.IsNaN(c.Rho) {
			continue
		}
		ga, okA := groups[c.A]
		gb, okB := groups[c.B]
		if okA && okB && ga == gb {
			continue
		}
		if okA {
			sum[ga] += c.Rho
			cnt[ga]++
		}
		if okB {
			sum[gb] += c.Rho
			cnt[gb]++
		}
	}
	var out []string
	for g, n := range cnt {
		if sum[g]/float64(n) < below {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}
