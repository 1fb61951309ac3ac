package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestSpearman(t *testing.T) {
	cases := []struct {
		name string
		x, y []float64
		want float64
	}{
		// Textbook example without ties: Σd² = 194, n = 10,
		// ρ = 1 − 6·194/(10·99) = −29/165.
		{"no ties",
			[]float64{106, 86, 100, 101, 99, 103, 97, 113, 112, 110},
			[]float64{7, 0, 27, 50, 28, 29, 20, 12, 6, 17},
			-29.0 / 165},
		// y ranks with a tie: 5→1, 6→2, 7→3.5, 8→5, 7→3.5. Deviations from
		// the mean rank 3: x (−2,−1,0,1,2), y (−2,−1,0.5,2,0.5);
		// Σxy = 8, Σx² = 10, Σy² = 9.5, so ρ = 8/√95.
		{"tie in y", []float64{1, 2, 3, 4, 5}, []float64{5, 6, 7, 8, 7}, 8 / math.Sqrt(95)},
		// Ties in both: x ranks (1.5,1.5,3,4), y ranks (1,2.5,2.5,4).
		// Deviations from 2.5: x (−1,−1,0.5,1.5), y (−1.5,0,0,1.5);
		// Σxy = 3.75, Σx² = 4.5, Σy² = 4.5, so ρ = 3.75/4.5 = 5/6.
		{"ties in both", []float64{1, 1, 2, 3}, []float64{10, 20, 20, 30}, 5.0 / 6},
		{"monotone, not linear", []float64{1, 2, 3, 4}, []float64{1, 10, 100, 1000}, 1},
		{"reversed", []float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
	}
	for _, c := range cases {
		got, err := Spearman(c.x, c.y)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: ρ = %.15f, want %.15f", c.name, got, c.want)
		}
		// Symmetric in its arguments.
		if back, _ := Spearman(c.y, c.x); math.Abs(back-got) > 1e-12 {
			t.Errorf("%s: not symmetric: %v vs %v", c.name, got, back)
		}
	}
	for name, in := range map[string][2][]float64{
		"length mismatch": {{1, 2, 3}, {1, 2}},
		"one pair":        {{1}, {2}},
		"constant x":      {{2, 2, 2}, {1, 2, 3}},
		"constant y":      {{1, 2, 3}, {5, 5, 5}},
		"NaN":             {{1, math.NaN(), 3}, {1, 2, 3}},
		"Inf":             {{1, 2, 3}, {1, math.Inf(1), 3}},
	} {
		if r, err := Spearman(in[0], in[1]); !errors.Is(err, ErrUndefinedCorrelation) || !math.IsNaN(r) {
			t.Errorf("%s: Spearman = %v, %v; want NaN, ErrUndefinedCorrelation", name, r, err)
		}
	}
}

func TestCorrelateMissingValues(t *testing.T) {
	nan := math.NaN()
	series := map[string][]float64{
		"a": {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, nan, 0.8},
		"b": {0.2, 0.1, 0.4, 0.3, 0.6, 0.5, 0.7, nan},
		"c": {nan, nan, 0.1, 0.2, nan, nan, nan, nan},
		"d": {0.9, 0.8, 0.7, 0.6, 0.5}, // shorter: later checkpoints missing
	}
	o := Options{Resamples: 500, Seed: 3}
	cs := Correlate(series, o)
	if len(cs) != 6 {
		t.Fatalf("%d correlations, want 6 pairs", len(cs))
	}
	for i := 1; i < len(cs); i++ {
		if cs[i-1].A > cs[i].A || (cs[i-1].A == cs[i].A && cs[i-1].B >= cs[i].B) {
			t.Fatalf("not sorted: %v before %v", cs[i-1], cs[i])
		}
	}
	byPair := map[[2]string]Correlation{}
	for _, c := range cs {
		byPair[[2]string{c.A, c.B}] = c
	}
	ab := byPair[[2]string{"a", "b"}]
	// Shared checkpoints 0–5: a = 1..6, b ranks (2,1,4,3,6,5).
	want, _ := Spearman([]float64{1, 2, 3, 4, 5, 6}, []float64{2, 1, 4, 3, 6, 5})
	if ab.Pairs != 6 || math.Abs(ab.Rho-want) > 1e-12 {
		t.Errorf("a–b: %+v, want 6 pairs and ρ = %v", ab, want)
	}
	if math.Abs(want-(1-6.0*6/(6*35))) > 1e-12 {
		t.Fatalf("hand value: ρ(a, b) = 1 − 6·Σd²/(n(n²−1)) = 1 − 36/210, got %v", want)
	}
	if !(ab.Interval[0] <= ab.Interval[1] && ab.Interval[0] >= -1 && ab.Interval[1] <= 1) {
		t.Errorf("a–b interval %v", ab.Interval)
	}
	if ad := byPair[[2]string{"a", "d"}]; ad.Pairs != 5 || math.Abs(ad.Rho+1) > 1e-12 {
		t.Errorf("a–d: %+v, want 5 pairs and ρ = −1", ad)
	}
	// c shares only two checkpoints with a and b: too few, so NaN.
	for _, p := range [][2]string{{"a", "c"}, {"b", "c"}} {
		c := byPair[p]
		if c.Pairs != 2 || !math.IsNaN(c.Rho) || !math.IsNaN(c.Interval[0]) {
			t.Errorf("%v: %+v, want 2 pairs and NaN", p, c)
		}
	}
	// c and d share checkpoints 2 and 3 only.
	if cd := byPair[[2]string{"c", "d"}]; cd.Pairs != 2 || !math.IsNaN(cd.Rho) {
		t.Errorf("c–d: %+v", cd)
	}
	// Deterministic for a seed, whatever the map iteration order.
	if again := Correlate(series, o); !reflect.DeepEqual(fmtNaN(cs), fmtNaN(again)) {
		t.Errorf("same seed, different results")
	}
}

// fmtNaN replaces NaN by a sentinel so that DeepEqual can compare results.
func fmtNaN(cs []Correlation) []Correlation {
	out := slices.Clone(cs)
	fix := func(v *float64) {
		if math.IsNaN(*v) {
			*v = -99
		}
	}
	for i := range out {
		fix(&out[i].Rho)
		fix(&out[i].Interval[0])
		fix(&out[i].Interval[1])
	}
	return out
}

func TestWeaklyCorrelated(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	const n = 30
	trend := func(noise float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = float64(i)/n + noise*rng.NormFloat64()
		}
		return s
	}
	random := func() []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = rng.Float64()
		}
		return s
	}
	series := map[string][]float64{
		"gsm8k": trend(0.05), "math": trend(0.05), "mbpp": trend(0.08), "humaneval": trend(0.08),
		"refusal-a": random(), "refusal-b": random(),
		"ungrouped": trend(0.05),
	}
	series["math"][3] = math.NaN()
	groups := map[string]string{
		"gsm8k": "math", "math": "math",
		"mbpp": "code", "humaneval": "code",
		"refusal-a": "safety", "refusal-b": "safety",
		"nowhere": "empty", // an evaluation with no series: no evidence
	}
	cs := Correlate(series, Options{Resamples: 200, Seed: 1})
	got := WeaklyCorrelated(cs, groups, 0.5)
	if !reflect.DeepEqual(got, []string{"safety"}) {
		for _, c := range cs {
			t.Logf("%s–%s ρ=%.2f", c.A, c.B, c.Rho)
		}
		t.Errorf("WeaklyCorrelated = %v, want [safety]", got)
	}
	if got := WeaklyCorrelated(cs, groups, 1.01); !reflect.DeepEqual(got, []string{"code", "math", "safety"}) {
		t.Errorf("with threshold above 1: %v", got)
	}
	if got := WeaklyCorrelated(nil, groups, 0.5); got != nil {
		t.Errorf("no correlations: %v", got)
	}
}
