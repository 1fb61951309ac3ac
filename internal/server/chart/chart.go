// Package chart draws the dashboard's one kind of chart as hand-written
// SVG: evaluation scores against effective training compute on a log10
// axis, with a threshold's trigger, warning and clear levels as
// horizontal lines, the model's checkpoints marked, and, when there is a
// forecast, the fitted curve and the forecast crossing with its interval.
//
// The SVG carries no inline styles or scripts: every element has a class
// (styled by the dashboard's stylesheet, and by its print stylesheet) and
// presentation attributes as a fallback, so it renders under a strict
// Content-Security-Policy and in print.
package chart

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// Point is one evaluation result.
type Point struct {
	Compute float64
	Score   float64
	// Hollow marks a result that does not count for the gate: its
	// elicitation is weaker than the evaluation requires (or it is
	// incomplete).
	Hollow bool
	// Title is the point's tooltip.
	Title string
}

// Level kinds.
const (
	Trigger = "trigger"
	Warning = "warning"
	Clear   = "clear"
)

// Level is a horizontal line: a score at which a condition changes.
type Level struct {
	Score float64
	// Kind is Trigger, Warning or Clear.
	Kind  string
	Label string
}

// Checkpoint is a checkpoint's compute, marked on the x axis.
type Checkpoint struct {
	Compute float64
	Label   string
}

// Crossing is a forecast: the compute At at which the fitted curve reaches
// Level, and its interval [Lo, Hi] (Hi may be +Inf: unbounded).
type Crossing struct {
	Level, At, Lo, Hi float64
	Label             string
}

// Chart is one chart.
type Chart struct {
	// Title names the chart for screen readers (and the SVG <title>).
	Title       string
	Points      []Point
	Levels      []Level
	Checkpoints []Checkpoint
	// Fit is the fitted curve, score as a function of compute; nil for
	// none.
	Fit      func(compute float64) float64
	FitLabel string
	Crossing *Crossing
	// Width and Height in pixels (default 760 × 320).
	Width, Height int
}

// Layout margins.
const (
	marginLeft   = 56
	marginRight  = 156
	marginTop    = 36
	marginBottom = 44
	// maxDecadesAhead bounds how far past the data a forecast extends the
	// x axis.
	maxDecadesAhead = 2
)

// axes maps data to pixels.
type axes struct {
	x0, x1, y0, y1         float64 // data domain: log10 compute, score
	left, right, top, base float64 // pixel box
}

func (a axes) px(compute float64) float64 {
	return a.left + (math.Log10(compute)-a.x0)/(a.x1-a.x0)*(a.right-a.left)
}

func (a axes) py(score float64) float64 {
	return a.base - (score-a.y0)/(a.y1-a.y0)*(a.base-a.top)
}

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func esc(s string) string { return html.EscapeString(s) }

// domain computes the axes' data domain.
func (c *Chart) domain() (x0, x1, y0, y1 float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	see := func(compute float64) {
		if compute > 0 && !math.IsInf(compute, 0) && !math.IsNaN(compute) {
			x := math.Log10(compute)
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	for _, p := range c.Points {
		see(p.Compute)
	}
	for _, k := range c.Checkpoints {
		see(k.Compute)
	}
	dataHi := hi
	if c.Crossing != nil {
		for _, v := range []float64{c.Crossing.At, c.Crossing.Lo, c.Crossing.Hi} {
			if v > 0 && !math.IsInf(v, 0) && (math.IsInf(dataHi, -1) || math.Log10(v) <= dataHi+maxDecadesAhead) {
				see(v)
			}
		}
	}
	if math.IsInf(lo, 1) {
		lo, hi = 23, 25
	}
	x0, x1 = math.Floor(lo), math.Ceil(hi)
	if x1-x0 < 1 {
		x1 = x0 + 1
	}
	y0, y1 = 0, 1
	for _, p := range c.Points {
		y0, y1 = math.Min(y0, p.Score), math.Max(y1, p.Score)
	}
	for _, l := range c.Levels {
		y0, y1 = math.Min(y0, l.Score), math.Max(y1, l.Score)
	}
	if y0 < 0 {
		y0 = math.Floor(y0*10) / 10
	}
	if y1 > 1 {
		y1 = math.Ceil(y1*10) / 10
	}
	return x0, x1, y0, y1
}

// superscript writes an integer with Unicode superscript digits.
func superscript(n int) string {
	const sup = "⁰¹²³⁴⁵⁶⁷⁸⁹"
	digits := []rune(sup)
	var b strings.Builder
	if n < 0 {
		b.WriteRune('⁻')
		n = -n
	}
	for _, d := range strconv.Itoa(n) {
		b.WriteRune(digits[d-'0'])
	}
	return b.String()
}

// FLOP formats a compute figure compactly: 4e+24 as "4e24".
func FLOP(v float64) string {
	if math.IsInf(v, 1) {
		return "∞"
	}
	s := strconv.FormatFloat(v, 'g', 3, 64)
	if m, e, ok := strings.Cut(s, "e"); ok {
		neg := strings.HasPrefix(e, "-")
		e = strings.TrimLeft(e, "+-0")
		if neg {
			e = "-" + e
		}
		s = m + "e" + e
	}
	return s
}

// SVG renders the chart.
func (c *Chart) SVG() string {
	w, h := c.Width, c.Height
	if w == 0 {
		w = 760
	}
	if h == 0 {
		h = 320
	}
	x0, x1, y0, y1 := c.domain()
	a := axes{x0: x0, x1: x1, y0: y0, y1: y1, left: marginLeft, right: float64(w - marginRight), top: marginTop, base: float64(h - marginBottom)}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="%s">`, w, h, w, h, "t-"+idOf(c.Title))
	fmt.Fprintf(&b, `<title id="t-%s">%s</title>`, idOf(c.Title), esc(c.Title))
	fmt.Fprintf(&b, `<desc>Score against effective training compute (FLOP, log scale); %d results; filled points count for the gate, hollow points used weaker elicitation than required.</desc>`, len(c.Points))
	// Plot area and grid.
	fmt.Fprintf(&b, `<rect class="plot" x="%s" y="%s" width="%s" height="%s" fill="#fff" stroke="#999"/>`, f1(a.left), f1(a.top), f1(a.right-a.left), f1(a.base-a.top))
	b.WriteString(`<g class="grid" stroke="#e3e3e3" stroke-width="1">`)
	decades := int(x1 - x0)
	for d := int(x0); d <= int(x1); d++ {
		x := a.left + float64(d-int(x0))/(x1-x0)*(a.right-a.left)
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, f1(x), f1(a.top), f1(x), f1(a.base))
		if decades <= 4 && d < int(x1) {
			for m := 2; m <= 9; m++ {
				xm := a.px(float64(m) * math.Pow(10, float64(d)))
				fmt.Fprintf(&b, `<line class="minor" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#f2f2f2"/>`, f1(xm), f1(a.base-4), f1(xm), f1(a.base))
			}
		}
	}
	step := yStep(y1 - y0)
	for v := math.Ceil(y0/step) * step; v <= y1+1e-9; v += step {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, f1(a.left), f1(a.py(v)), f1(a.right), f1(a.py(v)))
	}
	b.WriteString(`</g>`)
	// Axis labels.
	b.WriteString(`<g class="ticks" font-size="11" fill="#333">`)
	for d := int(x0); d <= int(x1); d++ {
		x := a.left + float64(d-int(x0))/(x1-x0)*(a.right-a.left)
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="middle">10%s</text>`, f1(x), f1(a.base+16), superscript(d))
	}
	for v := math.Ceil(y0/step) * step; v <= y1+1e-9; v += step {
		fmt.Fprintf(&b, `<text x="%s" y="%s" text-anchor="end">%s</text>`, f1(a.left-6), f1(a.py(v)+4), strconv.FormatFloat(v, 'f', decimals(step), 64))
	}
	fmt.Fprintf(&b, `<text class="axis-label" x="%s" y="%d" text-anchor="middle">effective training compute (FLOP, log scale)</text>`, f1((a.left+a.right)/2), h-8)
	fmt.Fprintf(&b, `<text class="axis-label" x="14" y="%s" text-anchor="middle" transform="rotate(-90 14 %s)">score</text>`, f1((a.top+a.base)/2), f1((a.top+a.base)/2))
	b.WriteString(`</g>`)
	// Checkpoints: a mark on the axis and a faint line through the plot.
	b.WriteString(`<g class="checkpoints" stroke="#b8c4d6" stroke-width="1">`)
	labelled := len(c.Checkpoints) <= 24
	// Labels go on one of two rows above the plot, wherever they fit;
	// a label that fits on neither is left to the line's tooltip.
	rowEnd := [2]float64{math.Inf(-1), math.Inf(-1)}
	for _, k := range c.Checkpoints {
		if k.Compute <= 0 {
			continue
		}
		x := a.px(k.Compute)
		fmt.Fprintf(&b, `<line class="ckpt" x1="%s" y1="%s" x2="%s" y2="%s" stroke-dasharray="2 3"><title>%s</title></line>`, f1(x), f1(a.top), f1(x), f1(a.base), esc(k.Label+" · "+FLOP(k.Compute)+" FLOP"))
		fmt.Fprintf(&b, `<line class="ckpt-tick" x1="%s" y1="%s" x2="%s" y2="%s" stroke="#456" stroke-width="2"/>`, f1(x), f1(a.base), f1(x), f1(a.base+5))
		if labelled {
			half := float64(len([]rune(k.Label)))*2.9 + 3
			for row := range rowEnd {
				if x-half > rowEnd[row] {
					fmt.Fprintf(&b, `<text class="ckpt-label" x="%s" y="%s" text-anchor="middle" font-size="10" fill="#456" stroke="none">%s</text>`, f1(x), f1(a.top-6-float64(row)*11), esc(k.Label))
					rowEnd[row] = x + half
					break
				}
			}
		}
	}
	b.WriteString(`</g>`)
	// Forecast interval and fitted curve.
	if cr := c.Crossing; cr != nil && cr.Lo > 0 {
		lo := math.Max(a.left, a.px(cr.Lo))
		hi := a.right
		if !math.IsInf(cr.Hi, 1) && cr.Hi > 0 {
			hi = math.Min(a.right, a.px(cr.Hi))
		}
		if hi > lo {
			fmt.Fprintf(&b, `<rect class="band" x="%s" y="%s" width="%s" height="%s" fill="#6a8fd0" fill-opacity="0.13"><title>%s</title></rect>`, f1(lo), f1(a.top), f1(hi-lo), f1(a.base-a.top), esc(cr.Label))
		}
	}
	if c.Fit != nil {
		var pts []string
		const n = 120
		for i := 0; i <= n; i++ {
			x := x0 + (x1-x0)*float64(i)/n
			y := c.Fit(math.Pow(10, x))
			if math.IsNaN(y) || math.IsInf(y, 0) {
				continue
			}
			y = math.Min(math.Max(y, y0), y1)
			pts = append(pts, f1(a.left+float64(i)/n*(a.right-a.left))+","+f1(a.py(y)))
		}
		if len(pts) > 1 {
			fmt.Fprintf(&b, `<polyline class="fit" points="%s" fill="none" stroke="#3d64b0" stroke-width="2" stroke-dasharray="6 4"><title>%s</title></polyline>`, strings.Join(pts, " "), esc(c.FitLabel))
		}
	}
	// Threshold levels.
	b.WriteString(`<g class="levels">`)
	for i, l := range c.Levels {
		y := a.py(l.Score)
		stroke, dash := "#c0392b", ""
		switch l.Kind {
		case Warning:
			stroke, dash = "#d68910", ` stroke-dasharray="8 4"`
		case Clear:
			stroke, dash = "#1e8449", ` stroke-dasharray="2 3"`
		}
		fmt.Fprintf(&b, `<line class="level level-%s" x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="2"%s><title>%s</title></line>`, esc(l.Kind), f1(a.left), f1(y), f1(a.right), f1(y), stroke, dash, esc(l.Label))
		// Labels to the right of the plot, nudged apart when levels are close.
		ly := y + 4 + float64(labelNudge(c.Levels, i, a))
		fmt.Fprintf(&b, `<text class="level-label level-%s" x="%s" y="%s" font-size="11" fill="%s">%s</text>`, esc(l.Kind), f1(a.right+6), f1(ly), stroke, esc(l.Label))
	}
	b.WriteString(`</g>`)
	// Results.
	b.WriteString(`<g class="points">`)
	for _, p := range c.Points {
		if p.Compute <= 0 {
			continue
		}
		cls, fill := "pt", "#1f3b70"
		if p.Hollow {
			cls, fill = "pt hollow", "#fff"
		}
		fmt.Fprintf(&b, `<circle class="%s" cx="%s" cy="%s" r="4.5" fill="%s" stroke="#1f3b70" stroke-width="1.8"><title>%s</title></circle>`, cls, f1(a.px(p.Compute)), f1(a.py(p.Score)), fill, esc(p.Title))
	}
	b.WriteString(`</g>`)
	if cr := c.Crossing; cr != nil && cr.At > 0 && !math.IsInf(cr.At, 0) && math.Log10(cr.At) <= x1 {
		x, y := a.px(cr.At), a.py(cr.Level)
		fmt.Fprintf(&b, `<path class="cross" d="M%s %sl6 6l-6 6l-6 -6z" fill="#3d64b0" stroke="#fff" stroke-width="1"><title>%s</title></path>`, f1(x), f1(y-6), esc(cr.Label))
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// labelNudge returns a vertical offset for level label i so that labels of
// nearby levels do not overlap.
func labelNudge(levels []Level, i int, a axes) int {
	yi := a.py(levels[i].Score)
	off := 0
	for j := 0; j < i; j++ {
		if math.Abs(a.py(levels[j].Score)-yi) < 12 {
			off += 12
		}
	}
	return off
}

func yStep(span float64) float64 {
	switch {
	case span <= 0.5:
		return 0.05
	case span <= 1.2:
		return 0.1
	case span <= 3:
		return 0.25
	}
	return math.Pow(10, math.Floor(math.Log10(span)))
}

func decimals(step float64) int {
	if step >= 1 {
		return 0
	}
	if step >= 0.1 && math.Abs(step*10-math.Round(step*10)) < 1e-9 {
		return 1
	}
	return 2
}

// idOf makes an XML id fragment from a title.
func idOf(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
