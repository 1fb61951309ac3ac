package analysis

import (
	"bytes"
	"strings"
	"testing"
)

func marks(c *Scorecard) map[string]Status {
	m := map[string]Status{}
	for _, fw := range c.Frameworks {
		for _, mk := range fw.Marks {
			m[fw.ID+"/"+mk.ID] = mk.Status
		}
	}
	return m
}

func TestScoreClean(t *testing.T) {
	p, _ := loadTestdata(t, "clean.yaml")
	c := Score(p)
	if c.Points != 23 || c.Max != 23 {
		t.Fatalf("clean policy scores %g of %g; marks %v", c.Points, c.Max, marks(c))
	}
	for _, fw := range c.Frameworks {
		for _, m := range fw.Marks {
			if len(m.Evidence) == 0 {
				t.Errorf("%s %s is met without evidence lines", fw.ID, m.ID)
			}
			for _, r := range m.Evidence {
				if r.Loc.Line < 1 || r.Loc.File != "testdata/clean.yaml" || r.Note == "" {
					t.Errorf("%s %s: bad evidence %+v", fw.ID, m.ID, r)
				}
			}
		}
	}
}

// TestScoreMarks weakens the clean policy and checks the marks that must
// drop (and only those, with the weighting applied to the total).
func TestScoreMarks(t *testing.T) {
	_, src := loadTestdata(t, "clean.yaml")
	cases := []struct {
		name string
		repl []string
		want map[string]Status
	}{
		{"no interval", []string{"  interval: 90d\n", ""}, map[string]Status{"seoul/V": Partial, "metr/7": Partial}},
		{"no compute step", []string{"  computeMultiple: 4\n", ""}, map[string]Status{"seoul/I": Partial, "metr/7": Partial}},
		{"escape with conditions", []string{"escapeClause: {allowed: false}", "escapeClause: {allowed: true, conditions: a competitor moves first}"},
			map[string]Status{"seoul/VI": Partial, "teeth/T6": Partial}},
		{"escape without conditions", []string{"escapeClause: {allowed: false}", "escapeClause: {allowed: true}"},
			map[string]Status{"seoul/VI": Partial, "teeth/T6": Missing}},
		{"short scrutiny", []string{"scrutinyPeriod: 30d", "scrutinyPeriod: 7d"},
			map[string]Status{"metr/9": Partial, "teeth/T4": Partial, "seoul/VIII": Partial}},
		{"no red line", []string{"    redLine: true\n", "    requires: [weights-security]\n"}, map[string]Status{"teeth/T4": Missing}},
		{"judgment", []string{
			"    trigger: score(\"wmdp-bio\") >= 0.70\n    warning: score(\"wmdp-bio\") >= 0.60\n    clear: score(\"wmdp-bio\") < 0.50\n",
			"    determination: required\n"},
			map[string]Status{"seoul/II": Partial, "teeth/T1": Partial, "teeth/T2": Partial}},
		{"training continues", []string{"      training: pause\n", "      training: continue\n"}, map[string]Status{"seoul/IV": Partial}},
		{"weak elicitation", []string{"minElicitation: finetuned", "minElicitation: prompted"}, map[string]Status{"metr/6": Missing}},
		{"keyless attester", []string{"{name: auditor, key: accredited-auditor+1d6c22b5+AW+FC6MFv/2M6r+c6u2Ik05O6cYGVvoWmDJ565kCUwFi}", "auditor"},
			map[string]Status{"teeth/T5": Partial}},
		{"no safeguards", []string{"    requires: [weights-security, misuse-filters]\n", ""},
			map[string]Status{"seoul/III": Missing, "seoul/IV": Partial, "seoul/VIII": Partial, "metr/2": Partial, "metr/3": Partial, "teeth/T3": Missing, "teeth/T5": Partial}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := Score(edit(t, "p.yaml", src, c.repl...))
			got := marks(sc)
			want := 23.0
			for id, st := range got {
				exp, ok := c.want[id]
				if !ok {
					exp = Met
				}
				if st != exp {
					t.Errorf("%s: %s, want %s", id, st, exp)
				}
				want -= 1 - exp.Weight()
			}
			if sc.Points != want {
				t.Errorf("total %g, want %g", sc.Points, want)
			}
		})
	}
}

func TestScoreTotals(t *testing.T) {
	for _, f := range policyFiles(t) {
		c := Score(loadRel(t, f))
		sum, max := 0.0, 0.0
		for _, fw := range c.Frameworks {
			fsum := 0.0
			for _, m := range fw.Marks {
				fsum += m.Status.Weight()
				if m.Status != Missing && len(m.Evidence) == 0 {
					t.Errorf("%s: %s %s is %s without evidence lines", f, fw.ID, m.ID, m.Status)
				}
			}
			if fsum != fw.Points || float64(len(fw.Marks)) != fw.Max {
				t.Errorf("%s: %s points %g of %g, marks say %g of %d", f, fw.ID, fw.Points, fw.Max, fsum, len(fw.Marks))
			}
			sum += fsum
			max += fw.Max
		}
		if sum != c.Points || max != 23 || c.Max != 23 {
			t.Errorf("%s: total %g of %g, want %g of 23", f, c.Points, c.Max, sum)
		}
	}
}

func TestScoreRenderingsEscape(t *testing.T) {
	_, src := loadTestdata(t, "clean.yaml")
	p := edit(t, "p.yaml", src, "developer: Clean Lab", `developer: "<script>alert(1)</script> | Lab"`)
	cards := []*Scorecard{Score(p)}
	var h bytes.Buffer
	if err := WriteScoreHTML(&h, cards); err != nil {
		t.Fatal(err)
	}
	html := h.String()
	if strings.Contains(html, "<script>") || !strings.Contains(html, "&lt;script&gt;") {
		t.Error("HTML does not escape policy text")
	}
	for _, bad := range []string{"<script", "<link", " src=", "@import", "url("} {
		if strings.Contains(html, bad) {
			t.Errorf("HTML is not self-contained: contains %q", bad)
		}
	}
	var md bytes.Buffer
	if err := WriteScoreMarkdown(&md, cards); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(md.String(), "\n") {
		if strings.HasPrefix(line, "| [clean-rsp]") && !strings.Contains(line, `\| Lab`) {
			t.Errorf("Markdown table cell does not escape |: %s", line)
		}
	}
}
