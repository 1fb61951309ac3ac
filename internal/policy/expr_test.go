package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// scores is a Scores backed by a map.
type scores map[string]float64

func (s scores) Score(id string) (float64, bool) {
	v, ok := s[id]
	return v, ok
}

func knownABC(id string) bool { return id == "a" || id == "b" || id == "c" }

func mustCompile(t testing.TB, src string) *Cond {
	t.Helper()
	c, err := Compile(src, knownABC)
	if err != nil {
		t.Fatalf("Compile(%q) error = %q, want nil", src, err)
	}
	return c
}

// viaCEL returns a copy of c that is evaluated by the CEL program, not the
// native tree.
func viaCEL(c *Cond) *Cond {
	cc := *c
	cc.Simple = nil
	return &cc
}

func TestCondEval(t *testing.T) {
	tests := []struct {
		src     string
		s       scores
		compute float64
		want    Tri
	}{
		{`score("a") >= 0.7`, scores{"a": 0.8}, 0, True},
		{`score("a") >= 0.7`, scores{"a": 0.7}, 0, True},
		{`score("a") >= 0.7`, scores{"a": 0.6}, 0, False},
		{`score("a") >= 0.7`, scores{}, 0, Unknown},
		{`score("a") >= 0.7`, scores{"b": 0.9}, 0, Unknown},

		// A missing score makes the condition unknown, never false, and not
		// true either: even when the other side of || is true, or the other
		// side of && is false.
		{`score("a") >= 0.7 || score("b") >= 0.7`, scores{"a": 0.9}, 0, Unknown},
		{`score("a") >= 0.7 || score("b") >= 0.7`, scores{"b": 0.9}, 0, Unknown},
		{`score("a") >= 0.7 && score("b") >= 0.7`, scores{"a": 0.1}, 0, Unknown},
		{`compute > 1e26 || score("a") > 0.5`, scores{}, 1e27, Unknown},
		{`compute > 1e26 && score("a") > 0.5`, scores{}, 1e20, Unknown},
		{`!(score("a") > 0.5)`, scores{}, 0, Unknown},
		{`[score("a"), score("b")].exists(x, x > 0.5)`, scores{"a": 0.9}, 0, Unknown},
		{`score("a") > 0.5 ? true : score("b") > 0.5`, scores{"a": 0.9}, 0, Unknown},

		// Disjunction and conjunction with every score present.
		{`score("a") >= 0.7 || score("b") >= 0.7`, scores{"a": 0.9, "b": 0.1}, 0, True},
		{`score("a") >= 0.7 || score("b") >= 0.7`, scores{"a": 0.1, "b": 0.9}, 0, True},
		{`score("a") >= 0.7 || score("b") >= 0.7`, scores{"a": 0.1, "b": 0.1}, 0, False},
		{`score("a") >= 0.7 && score("b") >= 0.7`, scores{"a": 0.9, "b": 0.9}, 0, True},
		{`score("a") >= 0.7 && score("b") >= 0.7`, scores{"a": 0.9, "b": 0.1}, 0, False},
		{`score("a") >= 0.7 && score("b") >= 0.7`, scores{"a": 0.1, "b": 0.9}, 0, False},
		{`!(score("a") > 0.5)`, scores{"a": 0.4}, 0, True},
		{`!(score("a") > 0.5)`, scores{"a": 0.6}, 0, False},
		{`(score("a") > 0.5 || score("b") > 0.5) && !(score("c") < 0.1)`, scores{"a": 0, "b": 0.6, "c": 0.2}, 0, True},
		{`(score("a") > 0.5 || score("b") > 0.5) && !(score("c") < 0.1)`, scores{"a": 0, "b": 0.6, "c": 0}, 0, False},

		// compute, and int versus double constants.
		{`compute >= 1e26`, scores{}, 1e26, True},
		{`compute >= 1e26`, scores{}, 9.9e25, False},
		{`compute > 100`, scores{}, 100.5, True},
		{`compute > 100`, scores{}, 100, False},
		{`compute > 100u`, scores{}, 101, True},
		{`score("a") >= 1`, scores{"a": 1}, 0, True},
		{`score("a") >= 1`, scores{"a": 0.999}, 0, False},
		{`score("a") == 1.0`, scores{"a": 1}, 0, True},
		{`score("a") != 1.0`, scores{"a": 1}, 0, False},
		{`1 < score("a")`, scores{"a": 1.5}, 0, True},
		{`0.5 >= score("a")`, scores{"a": 0.5}, 0, True},
		{`-1 < score("a")`, scores{"a": -0.5}, 0, True},
		{`score("a") > -(-0.5)`, scores{"a": 0.4}, 0, False},
		{`compute * 2.0 >= 1e26`, scores{}, 6e25, True},
		{`compute / 4.0 < 1e20 && score("a") > 0.5`, scores{"a": 0.9}, 1e20, True},

		// Evaluation errors are unknown.
		{`int(score("a")) / 0 > 1`, scores{"a": 3}, 0, Unknown},
		{`int(score("a")) > 0`, scores{"a": 1e30}, 0, Unknown},
		{`compute > -(-9223372036854775808)`, scores{}, 1e30, Unknown},
	}
	for _, tt := range tests {
		c := mustCompile(t, tt.src)
		if got := c.Eval(tt.s, tt.compute); got != tt.want {
			t.Errorf("Compile(%q).Eval(%v, %g) = %v, want %v", tt.src, tt.s, tt.compute, got, tt.want)
		}
		if got := viaCEL(c).Eval(tt.s, tt.compute); got != tt.want {
			t.Errorf("Compile(%q) via CEL .Eval(%v, %g) = %v, want %v", tt.src, tt.s, tt.compute, got, tt.want)
		}
	}
}

func TestTriString(t *testing.T) {
	for v, want := range map[Tri]string{True: "true", False: "false", Unknown: "unknown", Tri(9): "unknown"} {
		if got := v.String(); got != want {
			t.Errorf("Tri(%d).String() = %q, want %q", v, got, want)
		}
	}
}

func TestCompileSimple(t *testing.T) {
	cmp := func(op, eval string, v float64) *Node { return &Node{Op: op, Eval: eval, Value: v} }
	tests := []struct {
		src  string
		want *Node
		refs []string
	}{
		{`score("a") >= 0.7`, cmp(">=", "a", 0.7), []string{"a"}},
		{`score("a") >= 1`, cmp(">=", "a", 1), []string{"a"}},
		{`score("a") >= 1u`, cmp(">=", "a", 1), []string{"a"}},
		{`compute > 1e26`, cmp(">", "", 1e26), nil},
		{`compute > 100000000000000000000000000.0`, cmp(">", "", 1e26), nil},
		{`0.5 < score("a")`, cmp(">", "a", 0.5), []string{"a"}},
		{`0.5 <= score("a")`, cmp(">=", "a", 0.5), []string{"a"}},
		{`0.5 > score("a")`, cmp("<", "a", 0.5), []string{"a"}},
		{`0.5 >= score("a")`, cmp("<=", "a", 0.5), []string{"a"}},
		{`0.5 == score("a")`, cmp("==", "a", 0.5), []string{"a"}},
		{`0.5 != score("a")`, cmp("!=", "a", 0.5), []string{"a"}},
		{`score("a") > -0.5`, cmp(">", "a", -0.5), []string{"a"}},
		{`score("a") > -(-0.5)`, cmp(">", "a", 0.5), []string{"a"}},
		{`score("a") > -3`, cmp(">", "a", -3), []string{"a"}},
		{`(score("a") > 0.5)`, cmp(">", "a", 0.5), []string{"a"}},
		{`!(score("a") > 0.5)`, &Node{Op: "!", Children: []*Node{cmp(">", "a", 0.5)}}, []string{"a"}},
		{`!!(score("a") > 0.5)`, cmp(">", "a", 0.5), []string{"a"}},
		{`score("b") > 0.1 && score("a") > 0.2 && score("b") < 0.9`,
			&Node{Op: "&&", Children: []*Node{cmp(">", "b", 0.1), cmp(">", "a", 0.2), cmp("<", "b", 0.9)}}, []string{"a", "b"}},
		{`score("a") > 0.1 || (compute > 1e26 && score("c") < 0.9) || score("b") == 0.0`,
			&Node{Op: "||", Children: []*Node{
				cmp(">", "a", 0.1),
				{Op: "&&", Children: []*Node{cmp(">", "", 1e26), cmp("<", "c", 0.9)}},
				cmp("==", "b", 0),
			}}, []string{"a", "b", "c"}},

		// Not simple: evaluated by CEL only.
		{`score("a") > score("b")`, nil, []string{"a", "b"}},
		{`score("a") + 0.1 > 0.5`, nil, []string{"a"}},
		{`true`, nil, nil},
		{`score("a") > 0.5 && true`, nil, []string{"a"}},
		{`score("a") > 0.5 ? true : false`, nil, []string{"a"}},
		{`[score("a")].exists(compute, compute > 0.5)`, nil, []string{"a"}},
		{`compute > -(-9223372036854775808)`, nil, nil},
		{`compute > double("1e26")`, nil, nil},
	}
	for _, tt := range tests {
		c := mustCompile(t, tt.src)
		if !reflect.DeepEqual(c.Simple, tt.want) {
			t.Errorf("Compile(%q).Simple = %v, want %v", tt.src, c.Simple, tt.want)
		}
		if !reflect.DeepEqual(c.Refs, tt.refs) {
			t.Errorf("Compile(%q).Refs = %q, want %q", tt.src, c.Refs, tt.refs)
		}
		if c.Source != tt.src {
			t.Errorf("Compile(%q).Source = %q", tt.src, c.Source)
		}
	}
}

// TestNodeStringRoundTrip checks that a simple tree renders to CEL that
// compiles back to the same tree.
func TestNodeStringRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		src := randomSimple(r, 3)
		c := mustCompile(t, src)
		if c.Simple == nil {
			t.Fatalf("Compile(%q).Simple = nil, want a tree", src)
		}
		again := mustCompile(t, c.Simple.String())
		if !reflect.DeepEqual(again.Simple, c.Simple) {
			t.Fatalf("Compile(%q).Simple.String() = %q, which compiles to %v, want %v", src, c.Simple.String(), again.Simple, c.Simple)
		}
	}
}

var constants = []string{
	"0", "1", "-1", "0.5", "0.7", "-0.25", "1e26", "1e+23", "3u", "0.1", "100", "1e-9",
	"9007199254740993", "9223372036854775807", "-9223372036854775808", "18446744073709551615u",
}

// randomSimple builds a random simple condition over a, b, c and compute.
func randomSimple(r *rand.Rand, depth int) string {
	if depth == 0 || r.IntN(3) == 0 {
		lhs := []string{`score("a")`, `score("b")`, `score("c")`, `compute`}[r.IntN(4)]
		op := []string{">=", ">", "<=", "<", "==", "!="}[r.IntN(6)]
		k := constants[r.IntN(len(constants))]
		if op == "==" || op == "!=" {
			// CEL has no double == int overload: compare with doubles.
			k = []string{"0.0", "0.5", "1.0", "-1.0", "1e26", "0.7"}[r.IntN(6)]
		}
		if r.IntN(2) == 0 {
			return lhs + " " + op + " " + k
		}
		return k + " " + op + " " + lhs
	}
	switch r.IntN(3) {
	case 0:
		return "!(" + randomSimple(r, depth-1) + ")"
	case 1:
		return "(" + randomSimple(r, depth-1) + ") && (" + randomSimple(r, depth-1) + ")"
	}
	return "(" + randomSimple(r, depth-1) + ") || (" + randomSimple(r, depth-1) + ")"
}

var inputs = []float64{
	0, 1, -1, 0.5, 0.7, 0.69999999, -0.25, 0.25, 3, 100, 1e26, 1e23, 0.1, 1e-9, 2,
	9007199254740992, 9007199254740994, 9.223372036854775807e18, -9.223372036854775808e18, 1.8446744073709551615e19, 1e300,
	math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1),
}

// TestSimpleAgreesWithCEL is a property test: for every condition with a
// native tree, the tree and the CEL program give the same answer.
func TestSimpleAgreesWithCEL(t *testing.T) {
	fixed := []string{
		`score("a") >= 0.70`,
		`score("a") >= 0.7 || score("b") >= 0.7`,
		`score("a") >= 0.7 && compute > 1e26`,
		`!(score("a") < 0.5) && (score("b") > 0.2 || score("c") != 0.0)`,
		`compute >= 9223372036854775807`,
		`compute < -9223372036854775808`,
		`compute > 18446744073709551615u`,
		`score("a") >= 9007199254740993`,
		`1 <= score("b")`,
		`-0.25 > score("c")`,
		`score("a") == -0.0`,
		`compute > -(-9223372036854775808)`,
	}
	r := rand.New(rand.NewPCG(7, 11))
	exprs := fixed
	for i := 0; i < 400; i++ {
		exprs = append(exprs, randomSimple(r, 4))
	}
	for i, src := range exprs {
		c := mustCompile(t, src)
		if c.Simple == nil {
			if i >= len(fixed) {
				t.Fatalf("Compile(%q).Simple = nil, want a native tree", src)
			}
			continue
		}
		viaProgram := viaCEL(c)
		for j := 0; j < 60; j++ {
			s := scores{}
			for _, id := range []string{"a", "b", "c"} {
				if r.IntN(8) != 0 { // sometimes missing
					s[id] = inputs[r.IntN(len(inputs))]
				}
			}
			compute := inputs[r.IntN(len(inputs))]
			native, program := c.Eval(s, compute), viaProgram.Eval(s, compute)
			if native != program {
				t.Fatalf("Compile(%q) with scores %v, compute %g: native tree = %v, CEL = %v", src, s, compute, native, program)
			}
		}
	}
}

func TestNodeString(t *testing.T) {
	tests := []struct{ src, want string }{
		{`score("a") >= 0.70`, `score("a") >= 0.7`},
		{`score("a") == 1.0`, `score("a") == 1.0`},
		{`compute > 100`, `compute > 100.0`},
		{`compute > 1e26`, `compute > 1e+26`},
		{`compute > 123456789012345678901234567890.0`, `compute > 1.2345678901234568e+29`},
		{`0.5 < score("a")`, `score("a") > 0.5`},
		{`score("a") > -2`, `score("a") > -2.0`},
		{`score("a") != -0.0`, `score("a") != -0.0`},
		{`!(score("a") > 0.5)`, `!(score("a") > 0.5)`},
		{`(score("a") > 0.5 || score("b") > 0.5) && score("c") < 0.1`, `(score("a") > 0.5 || score("b") > 0.5) && score("c") < 0.1`},
		{`score("a") > 0.5 || score("b") > 0.5 && score("c") < 0.1`, `score("a") > 0.5 || (score("b") > 0.5 && score("c") < 0.1)`},
		{`score("a") > 0.5 || score("b") > 0.5 || score("c") < 0.1`, `score("a") > 0.5 || score("b") > 0.5 || score("c") < 0.1`},
	}
	for _, tt := range tests {
		c := mustCompile(t, tt.src)
		if c.Simple == nil {
			t.Fatalf("Compile(%q).Simple = nil", tt.src)
		}
		if got := c.Simple.String(); got != tt.want {
			t.Errorf("Compile(%q).Simple.String() = %q, want %q", tt.src, got, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		src  string
		want string
		col  int
	}{
		{`score("d") > 0.5`, `undeclared evaluation "d"`, 6},
		{`score("a") > 0.5 && score("zz") > 0.5`, `undeclared evaluation "zz"`, 26},
		{`score("a" + "b") > 0.5`, `score() takes an evaluation id as a string literal`, 5},
		{`score("a")`, `expression must be boolean, is double`, -1},
		{`compute`, `expression must be boolean, is double`, -1},
		{`score("a") > 0.5 )`, `invalid expression: Syntax error: extraneous input ')' expecting <EOF>`, 17},
		{`size(compute) > 0`, `invalid expression: found no matching overload for 'size' applied to '(double)'`, 4},
		{"\"é\" == \"é\" && nope", `invalid expression: undeclared reference to 'nope'`, 14},
		{``, `invalid expression: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}`, -1},
	}
	for _, tt := range tests {
		_, err := Compile(tt.src, knownABC)
		if err == nil {
			t.Errorf("Compile(%q) error = nil, want %q", tt.src, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Compile(%q) error = %q, want %q", tt.src, err, tt.want)
		}
		if ee, ok := err.(*exprError); !ok || ee.col != tt.col {
			t.Errorf("Compile(%q) error = %#v, want column %d", tt.src, err, tt.col)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("Compile(%q) error = %q, want one line", tt.src, err)
		}
	}
}

// TestCompileHostile checks that expressions designed to be expensive to
// compile or evaluate are refused at load.
func TestCompileHostile(t *testing.T) {
	list := "[1,2,3,4,5,6,7,8,9,10]"
	nest := func(levels int, inner string) string {
		s := inner
		for i := 0; i < levels; i++ {
			s = fmt.Sprintf("%s.all(v%d, %s)", list, i, s)
		}
		return s
	}
	tests := []struct {
		name, src, want string
	}{
		{"nested comprehensions", nest(4, `score("a") > 0.5`),
			"expression may cost up to 65551 units to evaluate; the limit is 10000"},
		{"many nested comprehensions", nest(20, `score("a") > 0.5`),
			"expression may cost up to 18446744073709551615 units to evaluate; the limit is 10000"},
		{"nested maps", list + ".map(x, " + list + ".map(y, " + list + ".map(z, " + list + "))).size() > 0",
			"expression may cost up to 25653 units to evaluate; the limit is 10000"},
		{"regex over a long string", "'" + strings.Repeat("a", 1000) + "'.matches('" + strings.Repeat("(a*)*", 200) + "b')",
			"expression may cost up to 25051 units to evaluate; the limit is 10000"},
		{"too long", strings.Repeat("compute > 1.0 || ", 200) + "true",
			"expression is 3404 characters long; the limit is 2048"},
		{"too long in code points", "'" + strings.Repeat("é", 2048) + "' == ''",
			"expression is 2056 characters long; the limit is 2048"},
		{"deeply parenthesised", strings.Repeat("(", 1000) + "compute > 1.0" + strings.Repeat(")", 1000),
			"invalid expression: expression recursion limit exceeded: 32"},
		{"deeply nested lists", strings.Repeat("[", 1000) + strings.Repeat("]", 1000) + " == []",
			"invalid expression: expression recursion limit exceeded: 32"},
		{"long index chain", "[[1]]" + strings.Repeat("[0]", 600) + " == 1",
			"invalid expression: max recursion depth exceeded"},
		{"long sum", strings.Repeat("1 + ", 500) + "1 > 0",
			"invalid expression: max recursion depth exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.src, knownABC)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Compile(%.60q...) error = %v, want %q", tt.src, err, tt.want)
			}
		})
	}
	// Within the limits, the same shapes compile and evaluate.
	c := mustCompile(t, nest(3, `score("a") > 0.5`))
	if got := c.Eval(scores{"a": 0.6}, 0); got != True {
		t.Errorf("Compile(three nested comprehensions).Eval() = %v, want true", got)
	}
	c = mustCompile(t, strings.Repeat("!", 2000)+"(compute > 1.0)")
	if got := c.Eval(scores{}, 2); got != True {
		t.Errorf("Compile(2000 negations).Eval() = %v, want true", got)
	}
}

// TestCondEvalConcurrent evaluates one policy's conditions from many
// goroutines (run with -race): a *Policy is safe for concurrent use.
func TestCondEvalConcurrent(t *testing.T) {
	p, err := Load(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	trigger := p.Threshold("cbrn-3").TriggerCond
	program := viaCEL(trigger)
	errs := make(chan string, 16)
	for g := 0; g < 16; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				v := float64(i%100) / 100
				want := False
				if v >= 0.7 {
					want = True
				}
				s := scores{"wmdp-bio": v}
				if got := trigger.Eval(s, 0); got != want {
					errs <- fmt.Sprintf("Eval(%v) = %v, want %v", s, got, want)
					return
				}
				if got := program.Eval(s, 0); got != want {
					errs <- fmt.Sprintf("Eval(%v) via CEL = %v, want %v", s, got, want)
					return
				}
			}
			errs <- ""
		}()
	}
	for g := 0; g < 16; g++ {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}
