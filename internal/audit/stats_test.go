package audit

import (
	"math"
	"testing"
)

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

// The expected p-values are computed by hand from the definitions (exact
// sums of binomial and hypergeometric probabilities) and agree with R's
// binom.test, fisher.test and prop.test(correct = FALSE).
func TestMcNemarExact(t *testing.T) {
	for _, tt := range []struct {
		b, c int
		want float64
	}{
		{10, 2, 79.0 * 2 / 4096}, // 2·(C(12,0)+C(12,1)+C(12,2))/2^12 = 0.03857421875
		{2, 10, 79.0 * 2 / 4096}, // symmetric
		{0, 0, 1},                // no discordant pair
		{3, 3, 1},                // 2·P(X≤3 | n=6) > 1, capped
		{0, 5, 2.0 / 32},         // 2·(1/2)^5 = 0.0625
		{1, 0, 1},
	} {
		if got := McNemarExact(tt.b, tt.c); !near(got, tt.want, 1e-12) {
			t.Errorf("McNemarExact(%d, %d) = %.15g, want %.15g", tt.b, tt.c, got, tt.want)
		}
	}
}

func TestFisherExact(t *testing.T) {
	for _, tt := range []struct {
		a, b, c, d int
		want       float64
	}{
		{3, 1, 1, 3, 34.0 / 70},            // Fisher's tea tasting: (1+16+16+1)/70 = 0.4857142857
		{1, 9, 11, 3, 0.002759456185220},   // the textbook dieting example
		{40, 10, 30, 20, 0.04858163161294}, // lab 40/50 correct, re-run 30/50
		{5, 0, 5, 0, 1},                    // no variation
		{0, 0, 0, 0, 1},
	} {
		if got := FisherExact(tt.a, tt.b, tt.c, tt.d); !near(got, tt.want, 1e-10) {
			t.Errorf("FisherExact(%d, %d, %d, %d) = %.15g, want %.15g", tt.a, tt.b, tt.c, tt.d, got, tt.want)
		}
	}
}

func TestTwoProportionZ(t *testing.T) {
	// p1 = .8, p2 = .6, pooled .7: se = √(.7·.3·(2/50)) = √.0084 =
	// 0.0916515139; z = .2/se = 2.1821789024; p = erfc(z/√2) = 0.0290963317.
	z, p := TwoProportionZ(40, 50, 30, 50)
	if !near(z, 2.182178902359924, 1e-12) || !near(p, 0.02909633174125221, 1e-12) {
		t.Errorf("TwoProportionZ(40/50, 30/50) = %.15g, %.15g", z, p)
	}
	z, p = TwoProportionZ(30, 50, 40, 50)
	if !near(z, -2.182178902359924, 1e-12) || !near(p, 0.02909633174125221, 1e-12) {
		t.Errorf("TwoProportionZ(30/50, 40/50) = %.15g, %.15g", z, p)
	}
	if z, p := TwoProportionZ(50, 50, 50, 50); z != 0 || p != 1 {
		t.Errorf("TwoProportionZ with no variance = %g, %g", z, p)
	}
	if z, p := TwoProportionZ(0, 0, 1, 2); z != 0 || p != 1 {
		t.Errorf("TwoProportionZ with n=0 = %g, %g", z, p)
	}
}

func TestBinomialTest(t *testing.T) {
	for _, tt := range []struct {
		k, n int
		p0   float64
		want float64
	}{
		{3, 20, 0.5, 2 * 1351.0 / 1048576}, // 2·(1+20+190+1140)/2^20 = 0.0025768280
		{10, 20, 0.5, 1},
		{7, 20, 0.2, 0.09822172861346884}, // Σ P(X=x) over P(X=x) ≤ P(X=7), X~Bin(20,.2)
		{0, 5, 0, 1},
		{1, 5, 0, 0},
		{5, 5, 1, 1},
		{0, 0, 0.3, 1},
	} {
		if got := BinomialTest(tt.k, tt.n, tt.p0); !near(got, tt.want, 1e-12) {
			t.Errorf("BinomialTest(%d, %d, %g) = %.15g, want %.15g", tt.k, tt.n, tt.p0, got, tt.want)
		}
	}
}
