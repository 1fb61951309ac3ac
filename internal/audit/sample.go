package audit

import (
	"math/rand/v2"
	"slices"
)

// sortSamples orders samples canonically: by id (integers numerically,
// before strings, which sort bytewise), then by epoch. The draw is made
// over this order, so it does not depend on the order of the log's
// entries (an .eval archive's are arbitrary).
func sortSamples(ss []*LabSample) {
	slices.SortFunc(ss, func(a, b *LabSample) int {
		switch {
		case a.ID.Less(b.ID):
			return -1
		case b.ID.Less(a.ID):
			return 1
		}
		return a.Epoch - b.Epoch
	})
}

// Draw picks n of the samples (all of them when n ≥ len) without
// replacement, reproducibly from seed: over the canonical order, a partial
// Fisher–Yates shuffle whose i-th step swaps position i with position
// i + bounded(len − i), where bounded(m) takes r = Uint64() from a PCG
// generator (math/rand/v2, seeded (seed, 0)) until r ≥ 2^64 mod m, and
// returns r mod m. The draw is returned in canonical order.
func Draw(samples []*LabSample, n int, seed uint64) []*LabSample {
	pool := slices.Clone(samples)
	sortSamples(pool)
	if n >= len(pool) {
		return pool
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	for i := range n {
		j := i + int(bounded(rng, uint64(len(pool)-i)))
		pool[i], pool[j] = pool[j], pool[i]
	}
	out := pool[:n]
	sortSamples(out)
	return out
}

// bounded returns a uniform number in [0, m) by rejection sampling.
func bounded(r *rand.Rand, m uint64) uint64 {
	limit := -m % m // 2^64 mod m
	for {
		x := r.Uint64()
		if x >= limit {
			return x % m
		}
	}
}
