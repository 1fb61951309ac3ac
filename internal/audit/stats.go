package audit

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// relErr is the relative tolerance with which two-sided exact tests
// count outcomes "as or less likely" than the observed one (as R's
// fisher.test and binom.test do), so that ties lost to rounding count.
const relErr = 1 + 1e-7

// McNemarExact is the exact (binomial) McNemar test for paired binary
// outcomes: of the n = labOnly + rerunOnly discordant pairs, the number
// the lab got right and the re-run wrong is Binomial(n, 1/2) when both are
// equally accurate. It returns the two-sided p-value, min(1, 2·P(X ≤
// min(labOnly, rerunOnly))); 1 when there are no discordant pairs.
func McNemarExact(labOnly, rerunOnly int) float64 {
	n := labOnly + rerunOnly
	if n == 0 {
		return 1
	}
	k := min(labOnly, rerunOnly)
	p := 2 * distuv.Binomial{N: float64(n), P: 0.5}.CDF(float64(k))
	return math.Min(1, p)
}

// FisherExact is Fisher's exact test of the 2×2 table
//
//	a b
//	c d
//
// (rows: the lab and the re-run; columns: correct and incorrect). It
// returns the two-sided p-value: the total hypergeometric probability of
// the tables with the same margins that are no more likely than the
// observed one.
func FisherExact(a, b, c, d int) float64 {
	r1, c1, n := a+b, a+c, a+b+c+d
	if n == 0 {
		return 1
	}
	lo, hi := max(0, r1+c1-n), min(r1, c1)
	logp := func(x int) float64 {
		return lchoose(c1, x) + lchoose(n-c1, r1-x) - lchoose(n, r1)
	}
	obs := logp(a)
	var p float64
	for x := lo; x <= hi; x++ {
		if lp := logp(x); lp <= obs+math.Log(relErr) {
			p += math.Exp(lp)
		}
	}
	return math.Min(1, p)
}

// lchoose is log(n choose k).
func lchoose(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// TwoProportionZ is the pooled two-proportion z-test of x1/n1 against
// x2/n2: z = (p1 − p2) / √(p(1−p)(1/n1 + 1/n2)) with p = (x1+x2)/(n1+n2),
// and the two-sided p-value 2·(1 − Φ(|z|)). When p is 0 or 1 (no
// variance) z is 0 and the p-value 1.
func TwoProportionZ(x1, n1, x2, n2 int) (z, p float64) {
	if n1 == 0 || n2 == 0 {
		return 0, 1
	}
	p1, p2 := float64(x1)/float64(n1), float64(x2)/float64(n2)
	pool := float64(x1+x2) / float64(n1+n2)
	se := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2)))
	if se == 0 {
		return 0, 1
	}
	z = (p1 - p2) / se
	p = 2 * distuv.UnitNormal.Survival(math.Abs(z))
	return z, math.Min(1, p)
}

// BinomialTest is the exact two-sided binomial test of k successes in n
// trials against success probability p0: the total probability of the
// outcomes no more likely than k.
func BinomialTest(k, n int, p0 float64) float64 {
	switch {
	case n == 0:
		return 1
	case p0 <= 0 || p0 >= 1:
		if k == 0 && p0 <= 0 || k == n && p0 >= 1 {
			return 1
		}
		return 0
	}
	d := distuv.Binomial{N: float64(n), P: p0}
	obs := d.Prob(float64(k))
	var p float64
	for x := 0; x <= n; x++ {
		if px := d.Prob(float64(x)); px <= obs*relErr {
			p += px
		}
	}
	return math.Min(1, p)
}
