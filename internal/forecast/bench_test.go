package forecast

import (
	"math"
	"math/rand/v2"
	"testing"
)

// benchModel is one model's evaluation evidence: 20 synthetic evaluations,
// each with 200 checkpoints over five decades of compute, noisy sigmoids with
// varied steepness, midpoints and ceilings; half of them have a four-way
// multiple-choice floor of 0.25.
func benchModel() [][]Point {
	rng := rand.New(rand.NewPCG(1, 2))
	evals := make([][]Point, 20)
	for e := range evals {
		lo := 0.25 * float64(e%2)
		hi := 0.85 + 0.1*rng.Float64()
		k := 1 + 9*rng.Float64()
		x0 := 22 + 2*rng.Float64()
		pts := make([]Point, 200)
		for i := range pts {
			x := 20 + 5*float64(i)/199
			s := lo + (hi-lo)*logistic(k*(x-x0)) + 0.02*rng.NormFloat64()
			pts[i] = Point{Compute: math.Pow(10, x), Score: min(max(s, 0), 1)}
		}
		evals[e] = pts
	}
	return evals
}

// BenchmarkForecastModel forecasts one threshold for each of 20 evaluations
// × 200 checkpoints with 1,000 bootstrap resamples. Run with -cpu 1; the
// target is ≤ 1 s per op. It also reports CPU seconds per op, which on a
// busy machine is a steadier figure than wall time.
func BenchmarkForecastModel(b *testing.B) {
	evals := benchModel()
	o := Options{Resamples: 1000, Seed: 7}
	start := cpuTime()
	for b.Loop() {
		for _, pts := range evals {
			if _, err := Crossing(pts, 0.6, o); err != nil {
				b.Fatal(err)
			}
		}
	}
	if end := cpuTime(); start >= 0 && end >= 0 {
		b.ReportMetric((end-start).Seconds()/float64(b.N), "cpu-s/op")
	}
}
