package chart

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"
)

func TestSVG(t *testing.T) {
	c := &Chart{
		Title: `wmdp-bio <"&">`,
		Points: []Point{
			{Compute: 1e24, Score: 0.42, Title: "c1"},
			{Compute: 4e24, Score: 0.55, Hollow: true, Title: "c2 <prompted>"},
			{Compute: 4e24, Score: 0.63, Title: "c2"},
		},
		Levels: []Level{
			{Score: 0.7, Kind: Trigger, Label: "CBRN-3 trigger ≥ 0.7"},
			{Score: 0.6, Kind: Warning, Label: "CBRN-3 warning ≥ 0.6"},
			{Score: 0.5, Kind: Clear, Label: "CBRN-3 clear < 0.5"},
		},
		Checkpoints: []Checkpoint{{Compute: 1e24, Label: "c1"}, {Compute: 4e24, Label: "c2"}},
		Fit:         func(c float64) float64 { return 0.4 + 0.1*(math.Log10(c)-24) },
		FitLabel:    "linear",
		Crossing:    &Crossing{Level: 0.7, At: 1e28, Lo: 2e26, Hi: math.Inf(1), Label: "fires at 1e28"},
	}
	svg := c.SVG()
	if err := xml.Unmarshal([]byte(svg), new(any)); err != nil {
		t.Fatalf("not well-formed XML: %v\n%s", err, svg)
	}
	for _, s := range []string{
		`class="level level-trigger"`, `class="level level-warning"`, `class="level level-clear"`,
		`class="pt hollow"`, `class="pt"`, `class="ckpt"`, `class="fit"`, `class="band"`,
		`&lt;prompted&gt;`, `wmdp-bio &lt;&#34;&amp;&#34;&gt;`, "10²⁴", `role="img"`,
	} {
		if !strings.Contains(svg, s) {
			t.Errorf("SVG lacks %q", s)
		}
	}
	if strings.Contains(svg, "style=") || strings.Contains(svg, "<script") {
		t.Error("SVG has inline style or script")
	}
	// The interval starts at 2e26, within two decades of the data, so
	// the axis reaches 10^27; the median crossing at 1e28 is beyond, so
	// its marker is not drawn, but the band is.
	if strings.Contains(svg, `class="cross"`) {
		t.Error("crossing drawn beyond the axis")
	}
	if !strings.Contains(svg, "10²⁷") || strings.Contains(svg, "10²⁸") {
		t.Error("axis does not end at the forecast interval's decade")
	}
}

func TestDomain(t *testing.T) {
	c := &Chart{Points: []Point{{Compute: 3e23, Score: 1.2}, {Compute: 5e23, Score: -0.1}}}
	x0, x1, y0, y1 := c.domain()
	if x0 != 23 || x1 != 24 || y0 != -0.1 || y1 != 1.2 {
		t.Errorf("domain %v %v %v %v", x0, x1, y0, y1)
	}
	x0, x1, _, _ = (&Chart{}).domain()
	if x0 != 23 || x1 != 25 {
		t.Errorf("empty domain %v %v", x0, x1)
	}
}

func TestFLOP(t *testing.T) {
	for v, want := range map[float64]string{4e24: "4e24", 1.6e25: "1.6e25", math.Inf(1): "∞", 1e3: "1e3", 2.5e-7: "2.5e-7", 2.37e25: "2.37e25"} {
		if got := FLOP(v); got != want {
			t.Errorf("FLOP(%g) = %q, want %q", v, got, want)
		}
	}
	if superscript(-12) != "⁻¹²" {
		t.Error(superscript(-12))
	}
}
