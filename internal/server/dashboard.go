package server

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"math"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
	"scalegate.dev/scalegate/internal/server/chart"
	"scalegate.dev/scalegate/internal/transparency"

	"golang.org/x/mod/sumdb/note"
)

// pages holds the dashboard's templates, one set per page.
type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"flop": func(v any) string {
		switch x := v.(type) {
		case gate.FLOP:
			return chart.FLOP(float64(x))
		case float64:
			return chart.FLOP(x)
		}
		return fmt.Sprint(v)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		t = t.UTC()
		if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 {
			return t.Format("2006-01-02")
		}
		return t.Format("2006-01-02 15:04 UTC")
	},
	"whenp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.UTC().Format("2006-01-02")
	},
	"score": func(v float64) string { return fmt.Sprintf("%.3g", v) },
	"pct":   func(v float64) string { return fmt.Sprintf("%.0f%%", math.Max(0, math.Min(1, v))*100) },
	"join":  strings.Join,
	"reason": func(code string) string {
		if s, ok := reasonWords[code]; ok {
			return s
		}
		return code
	},
	"stateWords": func(s string) string {
		switch s {
		case gate.StateCrossed:
			return "crossed"
		case gate.StateWarning:
			return "early warning"
		case gate.StateClear:
			return "clear"
		}
		return "unknown: evidence missing"
	},
	"inputs": func(in map[string]float64) string {
		keys := make([]string, 0, len(in))
		for k := range in {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s = %.3g", k, in[k])
		}
		return strings.Join(parts, ", ")
	},
	"hundred": func(v float64) float64 { return math.Max(0, math.Min(1, v)) * 100 },
	"slug":    func(s string) string { return strings.ReplaceAll(s, " ", "-") },
	"deref":   func(p *float64) float64 { return *p },
	"svg":     func(s string) template.HTML { return template.HTML(s) }, // built by package chart, which escapes every text
}

// reasonWords names reason codes in plain words.
var reasonWords = map[string]string{
	gate.NoAssessment:         "No complete assessment",
	gate.StaleAssessment:      "Assessment too old or step too large",
	gate.InsufficientEvidence: "Evidence missing",
	gate.ThresholdWarning:     "Early warning",
	gate.SafeguardsMissing:    "Required safeguards not in force",
	gate.RedLine:              "Red line crossed",
	gate.DeploymentDenied:     "Deployment mode not allowed",
	gate.SafetyCaseMissing:    "No approved safety case",
	gate.PolicyNotInForce:     "No policy in force",
	gate.EscapeClause:         "Escape clause",
	gate.ForecastCrossing:     "Forecast: the step could cross a threshold",
}

func loadPages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	layout, err := fs.ReadFile(assets, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	for _, name := range []string{"overview", "model", "policy", "log", "error"} {
		body, err := fs.ReadFile(assets, "templates/"+name+".html")
		if err != nil {
			return nil, err
		}
		t, err := template.New("layout").Funcs(funcs).Parse(string(layout))
		if err != nil {
			return nil, fmt.Errorf("layout template: %w", err)
		}
		if _, err := t.Parse(string(body)); err != nil {
			return nil, fmt.Errorf("%s template: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// base is what every page shows.
type base struct {
	Title string
	AsOf  time.Time
	// Historic says the page is as of a time given with ?at=.
	Historic bool
	// Q is the query string that keeps ?at= on links ("" or "?at=…").
	Q   string
	Nav string
}

func (s *Server) base(r *http.Request, title, nav string) (base, error) {
	at, err := s.asOf(r)
	if err != nil {
		return base{}, err
	}
	b := base{Title: title, AsOf: at, Nav: nav}
	if v := r.URL.Query().Get("at"); v != "" {
		b.Historic = true
		b.Q = "?at=" + url.QueryEscape(v)
	}
	return b, nil
}

// render writes a page; the template runs into a buffer first so that a
// template error is a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) error {
	var buf bytes.Buffer
	if err := s.pages.byName[name].Execute(&buf, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := struct {
		base
		Status  int
		Text    string
		Message string
	}{base: base{Title: http.StatusText(status), AsOf: s.svc.Now().UTC()}, Status: status, Text: http.StatusText(status), Message: msg}
	if err := s.render(w, status, "error", data); err != nil {
		s.log.Error("render error page", "error", err.Error())
	}
}

func (s *Server) static(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	b, err := fs.ReadFile(assets, "static/"+name)
	if err != nil || strings.Contains(name, "/") {
		return errorf(http.StatusNotFound, "no such file: %s", name)
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(b)
	return nil
}

// overviewRow is one model on the overview.
type overviewRow struct {
	M      *ModelView
	Latest *gate.Decision
}

func (s *Server) overviewPage(w http.ResponseWriter, r *http.Request) error {
	b, err := s.base(r, "Models", "overview")
	if err != nil {
		return err
	}
	ms, err := s.modelList(r.Context())
	if err != nil {
		return err
	}
	rows := make([]overviewRow, 0, len(ms))
	for _, m := range ms {
		v, err := s.modelView(r.Context(), m.ID, b.AsOf, false, false)
		if err != nil {
			return err
		}
		row := overviewRow{M: v}
		if d := s.latestDecision(r, m.ID, b.AsOf); d != nil {
			row.Latest = d
		}
		rows = append(rows, row)
	}
	return s.render(w, http.StatusOK, "overview", struct {
		base
		Rows []overviewRow
	}{b, rows})
}

// decisionsAsOf returns up to n of a model's recorded decisions for a
// time at or before at, newest first, in the public view. It reads the
// newest decisions first, and all of them only when those are not enough
// (a view far in the past).
func (s *Server) decisionsAsOf(r *http.Request, model string, at time.Time, n int) ([]gate.Decision, error) {
	pick := func(ds []gate.Decision) []gate.Decision {
		var out []gate.Decision
		for i := len(ds) - 1; i >= 0 && len(out) < n; i-- {
			if !ds[i].Action.At.After(at) {
				out = append(out, publicDecision(ds[i]))
			}
		}
		return out
	}
	ds, err := s.svc.Decisions(r.Context(), model, 4*n)
	if err != nil {
		return nil, err
	}
	if out := pick(ds); len(out) == n || len(ds) < 4*n {
		return out, nil
	}
	if ds, err = s.svc.Decisions(r.Context(), model, 0); err != nil {
		return nil, err
	}
	return pick(ds), nil
}

func (s *Server) latestDecision(r *http.Request, model string, at time.Time) *gate.Decision {
	ds, err := s.decisionsAsOf(r, model, at, 1)
	if err != nil || len(ds) == 0 {
		return nil
	}
	return &ds[0]
}

// chartView is one evaluation's chart on the model page.
type chartView struct {
	Evaluation  string
	Description string
	MinElicit   string
	Thresholds  []string
	SVG         string
	Forecasts   []gate.ThresholdForecast
	Points      int
	Hollow      int
	Withheld    int
}

func (s *Server) modelPage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	b, err := s.base(r, id, "model")
	if err != nil {
		return err
	}
	v, err := s.modelView(r.Context(), id, b.AsOf, false, true)
	if err != nil {
		return err
	}
	ds, err := s.decisionsAsOf(r, id, b.AsOf, 50)
	if err != nil {
		return err
	}
	return s.render(w, http.StatusOK, "model", struct {
		base
		M         *ModelView
		Charts    []chartView
		Decisions []gate.Decision
	}{b, v, publicCharts(v), ds})
}

// publicCharts returns the charts of the public view v (with forecasts),
// drawn once per reading of the model.
func publicCharts(v *ModelView) []chartView {
	if v.Trusted {
		return charts(v)
	}
	a := v.analysis
	a.chartsOnce.Do(func() { a.charts = charts(v) })
	return a.charts
}

// charts draws one chart per evaluation of the policy in force.
func charts(v *ModelView) []chartView {
	p := v.policy
	if p == nil {
		return nil
	}
	var cks []chart.Checkpoint
	for _, c := range v.Checkpoints {
		cks = append(cks, chart.Checkpoint{Compute: c.EffectiveCompute, Label: c.ID})
	}
	var out []chartView
	for _, e := range p.Evaluations {
		cv := chartView{Evaluation: e.ID, Description: e.Description, MinElicit: e.MinElicitation}
		c := &chart.Chart{Title: "Scores of " + v.ID + " on " + e.ID, Checkpoints: cks}
		for _, k := range v.Checkpoints {
			for _, res := range k.Results {
				if res.Evaluation != e.ID {
					continue
				}
				if res.Score == nil {
					cv.Withheld++
					continue
				}
				title := fmt.Sprintf("%s · %s FLOP · %.3g · %s elicitation · %s", k.ID, chart.FLOP(k.EffectiveCompute), *res.Score, res.Elicitation, res.At.UTC().Format("2006-01-02"))
				if !res.Qualifies {
					title += " · does not count: " + res.WhyNot
					cv.Hollow++
				}
				c.Points = append(c.Points, chart.Point{Compute: k.EffectiveCompute, Score: *res.Score, Hollow: !res.Qualifies, Title: title})
				cv.Points++
			}
		}
		for _, t := range p.Thresholds {
			found := false
			for _, lv := range levels(t, e.ID) {
				c.Levels = append(c.Levels, lv)
				found = true
			}
			if found {
				cv.Thresholds = append(cv.Thresholds, t.Name)
			}
		}
		for _, fc := range v.Forecasts {
			if fc.Evaluation != e.ID {
				continue
			}
			cv.Forecasts = append(cv.Forecasts, fc)
			if fc.Error == "" && !fc.Crossed && c.Crossing == nil {
				label := fmt.Sprintf("%s forecast to fire at %s FLOP (%.0f%% interval %s–%s FLOP)", fc.Threshold, chart.FLOP(float64(fc.FiresAt)), fc.Confidence*100, chart.FLOP(float64(fc.Interval[0])), chart.FLOP(float64(fc.Interval[1])))
				c.Crossing = &chart.Crossing{Level: fc.Level, At: float64(fc.FiresAt), Lo: float64(fc.Interval[0]), Hi: float64(fc.Interval[1]), Label: label}
			}
		}
		if f := v.fits[e.ID]; f != nil {
			c.Fit = f.Predict
			c.FitLabel = fmt.Sprintf("fitted %s curve over %d assessed checkpoints", f.Kind, f.Points)
		}
		if cv.Points == 0 && cv.Withheld == 0 && len(c.Levels) == 0 {
			continue
		}
		cv.SVG = c.SVG()
		out = append(out, cv)
	}
	return out
}

// levels returns the horizontal lines a threshold draws on the chart of
// evaluation e: the constants its simple trigger, warning and clear
// conditions compare score(e) with.
func levels(t policy.Threshold, e string) []chart.Level {
	var out []chart.Level
	add := func(c *policy.Cond, kind, word string) {
		if c == nil || c.Simple == nil {
			return
		}
		var walk func(n *policy.Node)
		walk = func(n *policy.Node) {
			if n == nil {
				return
			}
			switch n.Op {
			case "&&", "||", "!":
				for _, ch := range n.Children {
					walk(ch)
				}
			default:
				if n.Eval == e {
					out = append(out, chart.Level{Score: n.Value, Kind: kind, Label: fmt.Sprintf("%s %s %s %g", t.Name, word, opSymbol(n.Op), n.Value)})
				}
			}
		}
		walk(c.Simple)
	}
	add(t.TriggerCond, chart.Trigger, "trigger")
	add(t.WarningCond, chart.Warning, "warning")
	add(t.ClearCond, chart.Clear, "clear")
	return out
}

// policyPageData is the policy page.
type policyPageData struct {
	base
	P        *PolicyJSON
	Policy   *policy.Policy // the version in force, or the newest
	Pending  []PolicyVersionJSON
	Document string
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	b, err := s.base(r, name, "policy")
	if err != nil {
		return err
	}
	pj, cps, err := s.policyView(r, name, b.AsOf)
	if err != nil {
		return err
	}
	d := policyPageData{base: b, P: pj}
	for _, c := range cps {
		if c.pv.Version == pj.InForce || (pj.InForce == "" && d.Policy == nil) {
			d.Policy = c.p
		}
	}
	for _, v := range pj.Versions {
		if v.Status == "pending" {
			d.Pending = append(d.Pending, v)
		}
	}
	return s.render(w, http.StatusOK, "policy", d)
}

func (s *Server) logPage(w http.ResponseWriter, r *http.Request) error {
	b, err := s.base(r, "Transparency log", "log")
	if err != nil {
		return err
	}
	data := struct {
		base
		Checkpoint string
		Size       int64
		Root       string
		Key        string
		Origin     string
		URL        string
		Last       int64
		Empty      bool
	}{base: b, Key: s.svc.VerifierKey(), Origin: s.svc.Key.Origin()}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	data.URL = scheme + "://" + r.Host
	c, err := s.svc.Checkpoint(r.Context())
	if err != nil {
		data.Empty = true
	} else {
		data.Checkpoint = string(c)
		cp, _, err := transparency.OpenCheckpoint(c, note.VerifierList(s.svc.Key.Verifier()))
		if err != nil {
			return fmt.Errorf("latest checkpoint: %w", err)
		}
		data.Size, data.Root, data.Last = cp.Size, cp.Root.String(), cp.Size-1
	}
	return s.render(w, http.StatusOK, "log", data)
}

// opSymbol writes a comparison operator as a mathematical symbol.
func opSymbol(op string) string {
	switch op {
	case ">=":
		return "≥"
	case "<=":
		return "≤"
	case "!=":
		return "≠"
	}
	return op
}
