package policy

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/checker"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
)

// Limits on conditions, so that a hostile policy cannot make loading or
// evaluation expensive.
const (
	MaxExprLength = 2048  // code points
	MaxExprCost   = 10000 // CEL cost units, estimated at load and enforced at evaluation
	maxExprDepth  = 32
)

// Tri is a three-valued truth value.
type Tri int8

// Truth values.
const (
	False Tri = iota
	True
	Unknown
)

func (t Tri) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// Scores gives a checkpoint's qualifying score for an evaluation.
type Scores interface {
	Score(evaluation string) (float64, bool)
}

// Cond is a compiled condition (trigger, warning or clear).
type Cond struct {
	Source string
	// Refs are the evaluations the condition reads, sorted.
	Refs []string
	// Simple is the condition as a tree of comparisons, when it is one.
	Simple *Node

	prg cel.Program
}

// Node is a simple condition: a comparison of score(Eval) or compute with
// a constant (Op is one of >=, >, <=, <, ==, !=), or a combination of
// nodes with &&, || or !.
type Node struct {
	Op       string // ">=", ">", "<=", "<", "==", "!=", "&&", "||", "!"
	Eval     string // for comparisons: the evaluation, or "" for compute
	Value    float64
	Children []*Node
}

// Eval evaluates the condition for a checkpoint with the given scores and
// effective compute. It is Unknown when an evaluation it references has no
// score, or when evaluation fails.
func (c *Cond) Eval(s Scores, compute float64) Tri {
	for _, r := range c.Refs {
		if _, ok := s.Score(r); !ok {
			return Unknown
		}
	}
	if c.Simple != nil {
		return c.Simple.eval(s, compute)
	}
	act, err := cel.FunctionVars(map[string]any{"compute": compute}, map[string]cel.LateBoundFunction{
		"score": func(_ string, args ...ref.Val) ref.Val {
			id, _ := args[0].Value().(string)
			v, ok := s.Score(id)
			if !ok {
				return types.NewErr("no score for %q", id)
			}
			return types.Double(v)
		},
	})
	if err != nil {
		return Unknown
	}
	out, _, err := c.prg.Eval(act)
	if err != nil {
		return Unknown
	}
	if b, ok := out.Value().(bool); ok && b {
		return True
	} else if ok {
		return False
	}
	return Unknown
}

func (n *Node) eval(s Scores, compute float64) Tri {
	switch n.Op {
	case "&&":
		res := True
		for _, c := range n.Children {
			switch c.eval(s, compute) {
			case False:
				return False
			case Unknown:
				res = Unknown
			}
		}
		return res
	case "||":
		res := False
		for _, c := range n.Children {
			switch c.eval(s, compute) {
			case True:
				return True
			case Unknown:
				res = Unknown
			}
		}
		return res
	case "!":
		switch n.Children[0].eval(s, compute) {
		case True:
			return False
		case False:
			return True
		}
		return Unknown
	}
	x := compute
	if n.Eval != "" {
		v, ok := s.Score(n.Eval)
		if !ok {
			return Unknown
		}
		x = v
	}
	var b bool
	switch n.Op {
	case ">=":
		b = x >= n.Value
	case ">":
		b = x > n.Value
	case "<=":
		b = x <= n.Value
	case "<":
		b = x < n.Value
	case "==":
		b = x == n.Value
	case "!=":
		b = x != n.Value
	}
	if b {
		return True
	}
	return False
}

// String renders a simple condition in CEL syntax.
func (n *Node) String() string {
	switch n.Op {
	case "&&", "||":
		parts := make([]string, len(n.Children))
		for i, c := range n.Children {
			s := c.String()
			if len(c.Children) > 1 {
				s = "(" + s + ")"
			}
			parts[i] = s
		}
		return strings.Join(parts, " "+n.Op+" ")
	case "!":
		return "!(" + n.Children[0].String() + ")"
	}
	lhs := "compute"
	if n.Eval != "" {
		lhs = fmt.Sprintf("score(%q)", n.Eval)
	}
	// Always a double literal: "1" would be an int, and CEL has no
	// double == int overload.
	v := strconv.FormatFloat(n.Value, 'g', -1, 64)
	if !strings.ContainsAny(v, ".e") {
		v += ".0"
	}
	return fmt.Sprintf("%s %s %s", lhs, n.Op, v)
}

var (
	envOnce sync.Once
	celEnv  *cel.Env
	envErr  error
)

func env() (*cel.Env, error) {
	envOnce.Do(func() {
		celEnv, envErr = cel.NewEnv(
			cel.Variable("compute", cel.DoubleType),
			cel.Function("score",
				cel.Overload("score_string", []*cel.Type{cel.StringType}, cel.DoubleType, cel.LateFunctionBinding())),
			cel.CrossTypeNumericComparisons(true),
			cel.ParserExpressionSizeLimit(MaxExprLength),
			cel.ParserRecursionLimit(maxExprDepth),
		)
	})
	return celEnv, envErr
}

// exprError is a compile error at a column within the expression.
type exprError struct {
	col int // 0-based column within the first line of the expression, or -1
	msg string
}

func (e *exprError) Error() string { return e.msg }

// Compile compiles a condition. known reports whether an evaluation id is
// declared.
func Compile(src string, known func(string) bool) (*Cond, error) {
	if n := len([]rune(src)); n > MaxExprLength {
		return nil, &exprError{col: -1, msg: fmt.Sprintf("expression is %d characters long; the limit is %d", n, MaxExprLength)}
	}
	e, err := env()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	a, iss := e.Compile(src)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) > 0 {
			first := errs[0]
			msg := strings.TrimSpace(first.Message)
			return nil, &exprError{col: first.Location.Column(), msg: "invalid expression: " + msg}
		}
		return nil, &exprError{col: -1, msg: "invalid expression: " + iss.Err().Error()}
	}
	if !a.OutputType().IsExactType(cel.BoolType) {
		return nil, &exprError{col: -1, msg: fmt.Sprintf("expression must be boolean, is %s", a.OutputType())}
	}
	native := a.NativeRep()
	refs := map[string]bool{}
	var walkErr error
	celast.PostOrderVisit(native.Expr(), celast.NewExprVisitor(func(x celast.Expr) {
		if walkErr != nil || x.Kind() != celast.CallKind || x.AsCall().FunctionName() != "score" {
			return
		}
		args := x.AsCall().Args()
		col := native.SourceInfo().GetStartLocation(x.ID()).Column()
		if len(args) != 1 || args[0].Kind() != celast.LiteralKind {
			walkErr = &exprError{col: col, msg: "score() takes an evaluation id as a string literal"}
			return
		}
		id, ok := args[0].AsLiteral().Value().(string)
		if !ok {
			walkErr = &exprError{col: col, msg: "score() takes an evaluation id as a string literal"}
			return
		}
		if !known(id) {
			walkErr = &exprError{col: native.SourceInfo().GetStartLocation(args[0].ID()).Column(), msg: fmt.Sprintf("undeclared evaluation %q", id)}
			return
		}
		refs[id] = true
	}))
	if walkErr != nil {
		return nil, walkErr
	}
	est, err := e.EstimateCost(a, zeroEstimator{})
	if err != nil {
		return nil, &exprError{col: -1, msg: fmt.Sprintf("cannot bound the cost of the expression: %v", err)}
	}
	if est.Max > MaxExprCost {
		return nil, &exprError{col: -1, msg: fmt.Sprintf("expression may cost up to %d units to evaluate; the limit is %d", est.Max, MaxExprCost)}
	}
	prg, err := e.Program(a, cel.CostLimit(MaxExprCost), cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, &exprError{col: -1, msg: fmt.Sprintf("invalid expression: %v", err)}
	}
	c := &Cond{Source: src, prg: prg, Simple: simple(native.Expr(), 0)}
	for id := range refs {
		c.Refs = append(c.Refs, id)
	}
	sort.Strings(c.Refs)
	return c, nil
}

// zeroEstimator lets CEL's default estimates stand.
type zeroEstimator struct{}

func (zeroEstimator) EstimateSize(checker.AstNode) *checker.SizeEstimate { return nil }
func (zeroEstimator) EstimateCallCost(string, string, *checker.AstNode, []checker.AstNode) *checker.CallEstimate {
	return nil
}

var cmpOps = map[string]string{
	"_>=_": ">=", "_>_": ">", "_<=_": "<=", "_<_": "<", "_==_": "==", "_!=_": "!=",
}

var flipOp = map[string]string{">=": "<=", ">": "<", "<=": ">=", "<": ">", "==": "==", "!=": "!="}

// simple converts a CEL AST into a Node when it is a simple condition.
func simple(x celast.Expr, depth int) *Node {
	if depth > maxExprDepth || x.Kind() != celast.CallKind {
		return nil
	}
	call := x.AsCall()
	fn, args := call.FunctionName(), call.Args()
	switch fn {
	case "_&&_", "_||_":
		op := "&&"
		if fn == "_||_" {
			op = "||"
		}
		n := &Node{Op: op}
		for _, a := range args {
			c := simple(a, depth+1)
			if c == nil {
				return nil
			}
			if c.Op == op {
				n.Children = append(n.Children, c.Children...)
			} else {
				n.Children = append(n.Children, c)
			}
		}
		return n
	case "!_":
		c := simple(args[0], depth+1)
		if c == nil {
			return nil
		}
		return &Node{Op: "!", Children: []*Node{c}}
	}
	op, ok := cmpOps[fn]
	if !ok || len(args) != 2 {
		return nil
	}
	if eval, isOperand := operand(args[0]); isOperand {
		if v, isConst := constant(args[1]); isConst {
			return &Node{Op: op, Eval: eval, Value: v}
		}
	}
	if eval, isOperand := operand(args[1]); isOperand {
		if v, isConst := constant(args[0]); isConst {
			return &Node{Op: flipOp[op], Eval: eval, Value: v}
		}
	}
	return nil
}

// operand recognises score("id") (returning id) and compute (returning "").
func operand(x celast.Expr) (string, bool) {
	switch x.Kind() {
	case celast.IdentKind:
		return "", x.AsIdent() == "compute"
	case celast.CallKind:
		c := x.AsCall()
		if c.FunctionName() == "score" && len(c.Args()) == 1 && c.Args()[0].Kind() == celast.LiteralKind {
			id, ok := c.Args()[0].AsLiteral().Value().(string)
			return id, ok
		}
	}
	return "", false
}

func constant(x celast.Expr) (float64, bool) {
	if x.Kind() == celast.CallKind && x.AsCall().FunctionName() == "-_" && len(x.AsCall().Args()) == 1 {
		arg := x.AsCall().Args()[0]
		if arg.Kind() == celast.LiteralKind {
			if i, isInt := arg.AsLiteral().Value().(int64); isInt && i == math.MinInt64 {
				// CEL's negation overflows here, so the condition is an
				// error (unknown) at evaluation, not a comparison.
				return 0, false
			}
		}
		v, ok := constant(arg)
		return -v, ok
	}
	if x.Kind() != celast.LiteralKind {
		return 0, false
	}
	switch v := x.AsLiteral().Value().(type) {
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	}
	return 0, false
}
