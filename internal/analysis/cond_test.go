package analysis

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"scalegate.dev/scalegate/internal/policy"
)

// compile compiles a condition over the evaluations a, b and c.
func compile(t *testing.T, src string) *term {
	t.Helper()
	c, err := policy.Compile(src, func(id string) bool { return id == "a" || id == "b" || id == "c" })
	if err != nil {
		t.Fatalf("compile %q: %v", src, err)
	}
	if c.Simple == nil {
		t.Fatalf("%q is not simple", src)
	}
	return fromNode(c.Simple)
}

func TestRelate(t *testing.T) {
	cases := []struct {
		a, b             string
		aImpB, bImpA     bool
		witnessA, witnB  string // expected witnesses, where given
		skipWitnessCheck bool
	}{
		{a: `score("a") >= 0.7`, b: `score("a") >= 0.7`, aImpB: true, bImpA: true},
		{a: `score("a") >= 0.7`, b: `0.7 <= score("a")`, aImpB: true, bImpA: true},
		{a: `score("a") >= 0.7`, b: `!(score("a") < 0.7)`, aImpB: true, bImpA: true},
		{a: `score("a") >= 0.8`, b: `score("a") >= 0.7`, aImpB: true, witnB: `score("a") = 0.7`},
		{a: `score("a") > 0.7`, b: `score("a") >= 0.7`, aImpB: true, witnB: `score("a") = 0.7`},
		{a: `score("a") >= 0.7`, b: `score("a") > 0.7`, bImpA: true, witnessA: `score("a") = 0.7`},
		{a: `score("a") == 0.5`, b: `score("a") >= 0.5`, aImpB: true},
		{a: `score("a") != 0.5`, b: `score("a") > 0.5`, bImpA: true, witnessA: `score("a") = 0.25`},
		{a: `score("a") < 0.5`, b: `score("a") <= 0.5`, aImpB: true, witnB: `score("a") = 0.5`},
		{a: `score("a") >= 0.7 && compute >= 1e25`, b: `score("a") >= 0.7`, aImpB: true},
		{a: `score("a") >= 0.7`, b: `score("a") >= 0.7 || score("b") >= 0.9`, aImpB: true},
		{a: `score("a") >= 0.6 && compute >= 1e25`, b: `score("a") >= 0.7`},
		{a: `score("a") >= 0.7`, b: `score("b") >= 0.7`},
		// Compute constants far from 1: the cells must still separate them.
		{a: `compute >= 1e26`, b: `compute > 1e26`, bImpA: true, witnessA: `compute = 1e+26`},
		{a: `compute >= 1e26`, b: `compute >= 2e26`, bImpA: true},
		// Adjacent floats: no value lies between them.
		{a: `score("a") > 0.1`, b: `score("a") >= 0.10000000000000002`, aImpB: true, bImpA: true},
		{a: `score("a") >= -1.0 && score("a") <= -0.5`, b: `score("a") < 0.0`, aImpB: true},
		{a: `score("a") >= 0.5 || score("a") < 0.5`, b: `compute >= 0.0 || compute < 0.0`, aImpB: true, bImpA: true},
	}
	for _, c := range cases {
		t.Run(c.a+" vs "+c.b, func(t *testing.T) {
			a, b := compile(t, c.a), compile(t, c.b)
			r, ok := relate(a, b)
			if !ok {
				t.Fatal("relate gave up")
			}
			if r.implies() != c.aImpB || r.impliedBy() != c.bImpA {
				t.Fatalf("a⇒b %t, b⇒a %t; want %t, %t (aOnly %v, bOnly %v)", r.implies(), r.impliedBy(), c.aImpB, c.bImpA, r.aOnly, r.bOnly)
			}
			if r.aOnly != nil && (!a.eval(r.aOnly) || b.eval(r.aOnly)) {
				t.Errorf("witness %v is not a-only", r.aOnly)
			}
			if r.bOnly != nil && (!b.eval(r.bOnly) || a.eval(r.bOnly)) {
				t.Errorf("witness %v is not b-only", r.bOnly)
			}
			if c.witnessA != "" && r.aOnly.String() != c.witnessA {
				t.Errorf("a-only witness %q, want %q", r.aOnly, c.witnessA)
			}
			if c.witnB != "" && r.bOnly.String() != c.witnB {
				t.Errorf("b-only witness %q, want %q", r.bOnly, c.witnB)
			}
		})
	}
}

// randomTerm builds a random simple condition over a, b and compute with
// constants from a small set, so that random points often hit them.
func randomTerm(r *rand.Rand, depth int) string {
	vars := []string{`score("a")`, `score("b")`, `compute`}
	ops := []string{">=", ">", "<=", "<", "==", "!="}
	consts := []string{"0.2", "0.5", "0.8", "1.0"}
	if depth == 0 || r.IntN(3) == 0 {
		return fmt.Sprintf("%s %s %s", vars[r.IntN(len(vars))], ops[r.IntN(len(ops))], consts[r.IntN(len(consts))])
	}
	switch r.IntN(3) {
	case 0:
		return "(" + randomTerm(r, depth-1) + " && " + randomTerm(r, depth-1) + ")"
	case 1:
		return "(" + randomTerm(r, depth-1) + " || " + randomTerm(r, depth-1) + ")"
	}
	return "!(" + randomTerm(r, depth-1) + ")"
}

// TestRelateAgainstSampling checks relate against brute force: a claimed
// implication has no counterexample among many points on and between the
// constants, and every witness is one.
func TestRelateAgainstSampling(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	samples := []float64{-1, 0, 0.1, 0.2, 0.3, 0.5, 0.6, 0.8, 0.9, 1.0, 1.5}
	for i := 0; i < 300; i++ {
		sa, sb := randomTerm(r, 3), randomTerm(r, 3)
		a, b := compile(t, sa), compile(t, sb)
		rel, ok := relate(a, b)
		if !ok {
			t.Fatalf("relate gave up on %s vs %s", sa, sb)
		}
		var aOnly, bOnly bool
		for _, x := range samples {
			for _, y := range samples {
				for _, z := range samples {
					pt := map[string]float64{"a": x, "b": y, "": z}
					av, bv := a.eval(pt), b.eval(pt)
					aOnly = aOnly || (av && !bv)
					bOnly = bOnly || (bv && !av)
				}
			}
		}
		if aOnly && rel.implies() {
			t.Errorf("%s ⇒ %s claimed, but sampling finds a counterexample", sa, sb)
		}
		if bOnly && rel.impliedBy() {
			t.Errorf("%s ⇒ %s claimed, but sampling finds a counterexample", sb, sa)
		}
		if rel.aOnly != nil && !aOnly {
			// The samples include every constant and a point in every
			// interval between them, so sampling must find it too.
			t.Errorf("%s vs %s: witness %v that sampling does not confirm", sa, sb, rel.aOnly)
		}
		if rel.bOnly != nil && !bOnly {
			t.Errorf("%s vs %s: witness %v that sampling does not confirm", sa, sb, rel.bOnly)
		}
	}
}

func TestRelateGivesUpOnHugeGrids(t *testing.T) {
	src := ""
	for i := 0; i < 12; i++ {
		if i > 0 {
			src += " || "
		}
		src += fmt.Sprintf(`(score("a") >= %d.5 && score("b") >= %d.5 && score("c") >= %d.5 && compute >= %d.5)`, i, i, i, i)
	}
	a := compile(t, src)
	if _, ok := relate(a, a); ok {
		t.Fatal("relate should give up on a grid of 25^4 cells")
	}
}
