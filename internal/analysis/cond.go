package analysis

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"scalegate.dev/scalegate/internal/policy"
)

// A term is a condition in a form the analyses can reason about: a
// comparison of one variable (an evaluation's score, or the checkpoint's
// compute) with a constant, a constant truth value, or a combination of
// terms with &&, || and !. It is built from a condition's simple form
// ([policy.Cond.Simple]); conditions that have no simple form cannot be
// compared and the analyses say so.
type term struct {
	op   string // ">=", ">", "<=", "<", "==", "!=", "&&", "||", "!", "true", "false"
	v    string // the evaluation for comparisons; "" is compute
	c    float64
	kids []*term
}

var (
	termTrue  = &term{op: "true"}
	termFalse = &term{op: "false"}
)

// fromNode converts a simple condition.
func fromNode(n *policy.Node) *term {
	t := &term{op: n.Op, v: n.Eval, c: n.Value}
	for _, k := range n.Children {
		t.kids = append(t.kids, fromNode(k))
	}
	return t
}

// condTerm returns the analysable form of c, or nil when c is not simple.
// A nil c is absent and stands for dflt.
func condTerm(c *policy.Cond, dflt *term) *term {
	if c == nil {
		return dflt
	}
	if c.Simple == nil {
		return nil
	}
	return fromNode(c.Simple)
}

func and(ts ...*term) *term { return &term{op: "&&", kids: ts} }
func not(t *term) *term     { return &term{op: "!", kids: []*term{t}} }

func (t *term) eval(pt map[string]float64) bool {
	switch t.op {
	case "true":
		return true
	case "false":
		return false
	case "&&":
		for _, k := range t.kids {
			if !k.eval(pt) {
				return false
			}
		}
		return true
	case "||":
		for _, k := range t.kids {
			if k.eval(pt) {
				return true
			}
		}
		return false
	case "!":
		return !t.kids[0].eval(pt)
	}
	x := pt[t.v]
	switch t.op {
	case ">=":
		return x >= t.c
	case ">":
		return x > t.c
	case "<=":
		return x <= t.c
	case "<":
		return x < t.c
	case "==":
		return x == t.c
	case "!=":
		return x != t.c
	}
	return false
}

// constants adds each variable's constants to cs.
func (t *term) constants(cs map[string][]float64) {
	switch t.op {
	case "true", "false":
		return
	case "&&", "||", "!":
		for _, k := range t.kids {
			k.constants(cs)
		}
		return
	}
	cs[t.v] = append(cs[t.v], t.c)
}

// A point assigns a value to each variable of the conditions compared.
type point map[string]float64

// String renders a point as `score("a") = 0.65, compute = 1e+26`, in
// variable order (compute first).
func (p point) String() string {
	vars := make([]string, 0, len(p))
	for v := range p {
		vars = append(vars, v)
	}
	sort.Strings(vars)
	parts := make([]string, len(vars))
	for i, v := range vars {
		parts[i] = varName(v) + " = " + fmtNum(p[v])
	}
	return strings.Join(parts, ", ")
}

func varName(v string) string {
	if v == "" {
		return "compute"
	}
	return fmt.Sprintf("score(%q)", v)
}

func fmtNum(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

// maxCells bounds the number of points relate tries.
const maxCells = 1 << 18

// relation is how two conditions' truth sets relate. aOnly is a point where
// the first is true and the second false, bOnly the reverse; both nil means
// the conditions are equivalent.
type relation struct {
	aOnly, bOnly point
}

// implies reports whether a ⇒ b (b is true wherever a is).
func (r relation) implies() bool { return r.aOnly == nil }

// impliedBy reports whether b ⇒ a.
func (r relation) impliedBy() bool { return r.bOnly == nil }

// relate compares two simple conditions exactly, over all real values of
// the variables they read. ok is false when they are too large to compare.
//
// Every atom compares one variable with a constant, so the truth of both
// conditions is constant on each cell of the grid that the constants cut
// each variable's axis into (the constants themselves, the open intervals
// between them, and the two unbounded ends). Trying one point per cell
// therefore decides the relation.
func relate(a, b *term) (relation, bool) {
	cs := map[string][]float64{}
	a.constants(cs)
	b.constants(cs)
	vars := make([]string, 0, len(cs))
	for v := range cs {
		vars = append(vars, v)
	}
	sort.Strings(vars)
	axes := make([][]float64, len(vars))
	total := 1
	for i, v := range vars {
		axes[i] = cellPoints(cs[v])
		total *= len(axes[i])
		if total > maxCells {
			return relation{}, false
		}
	}
	var r relation
	idx := make([]int, len(vars))
	pt := map[string]float64{}
	for {
		for i, v := range vars {
			pt[v] = axes[i][idx[i]]
		}
		av, bv := a.eval(pt), b.eval(pt)
		if av && !bv && r.aOnly == nil {
			r.aOnly = copyPoint(pt)
		}
		if bv && !av && r.bOnly == nil {
			r.bOnly = copyPoint(pt)
		}
		if r.aOnly != nil && r.bOnly != nil {
			return r, true
		}
		i := len(idx) - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(axes[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			return r, true
		}
	}
}

func copyPoint(m map[string]float64) point {
	p := make(point, len(m))
	for k, v := range m {
		p[k] = v
	}
	return p
}

// cellPoints returns one value in each cell that the constants cut the
// real line into, in increasing order.
func cellPoints(cs []float64) []float64 {
	sort.Float64s(cs)
	u := cs[:0:0]
	for i, c := range cs {
		if i == 0 || c != cs[i-1] {
			u = append(u, c)
		}
	}
	out := []float64{below(u[0])}
	for i, c := range u {
		out = append(out, c)
		if i+1 < len(u) {
			if m := u[i] + (u[i+1]-u[i])/2; m > u[i] && m < u[i+1] {
				out = append(out, m)
			}
		}
	}
	return append(out, above(u[len(u)-1]))
}

func below(c float64) float64 {
	switch {
	case c > 0:
		return c / 2
	case c == 0:
		return -1
	}
	return c*2 - 1
}

func above(c float64) float64 {
	switch {
	case c > 0 && c < 1:
		return (c + 1) / 2
	case c >= 1:
		return c * 2
	case c == 0:
		return 1
	}
	return c / 2
}

// normExpr normalises a condition's source for textual comparison.
func normExpr(s string) string { return strings.Join(strings.Fields(s), "") }

// sameSource reports whether two conditions are written the same way (up
// to white space), which makes them equivalent whether or not they are
// simple.
func sameSource(a, b *policy.Cond) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return normExpr(a.Source) == normExpr(b.Source)
}
