package gate_test

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/policy"
)

// forecastPolicy gates on forecasts unless forecast is empty.
func forecastPolicy(t *testing.T, forecast, trigger string, requires string) *policy.Policy {
	t.Helper()
	src := fmt.Sprintf(`apiVersion: scalegate.dev/v1
kind: Policy
metadata: {name: fc, version: 1.0.0, developer: Test}
domains: [{id: cyber, name: Cyber}]
evaluations:
  - {id: ctf, domain: cyber, kind: capability, chance: 0}
  - {id: ctf2, domain: cyber, kind: capability, chance: 0}
thresholds:
  - id: cyber-2
    domain: cyber
    name: Cyber-2
    trigger: %s
    requires: [%s]
safeguards:
  - {id: sg, kind: deployment, attestation: self}
cadence:
  computeMultiple: 100
%s
governance: {decisionMakers: [rso]}
`, trigger, requires, forecast)
	p, err := policy.Parse("fc.yaml", []byte(src))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return p
}

// sigmoidEvidence records six checkpoints from 1e23 to 3.2e24 FLOP whose
// scores follow a sigmoid crossing 0.6 near 2.4e25 FLOP (the demo's curve).
func sigmoidEvidence(withSafeguard bool) gate.Evidence {
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ev := gate.Evidence{Model: evidence.Model{ID: "m", Policy: "fc"}}
	noise := []float64{0.01, -0.01, 0.015, -0.005, 0, 0.01}
	seq := int64(1)
	for i := 0; i < 6; i++ {
		c := 1e23 * math.Pow(2, float64(i))
		x := math.Log10(c)
		s := 0.05 + 0.9/(1+math.Exp(-2.5*(x-24.9))) + noise[i]
		s = math.Round(s*1000) / 1000
		id := fmt.Sprintf("m-c%d", i+1)
		at := t0.AddDate(0, 0, i)
		ev.Checkpoints = append(ev.Checkpoints, evidence.Checkpoint{ID: id, Model: "m", EffectiveCompute: c, At: at, Meta: evidence.Meta{Seq: seq}})
		seq++
		for _, e := range []string{"ctf", "ctf2"} {
			ev.Results = append(ev.Results, evidence.Result{Checkpoint: id, Evaluation: e, Score: s, Elicitation: "none", At: at, Meta: evidence.Meta{Seq: seq}})
			seq++
		}
	}
	if withSafeguard {
		ev.Safeguards = append(ev.Safeguards, evidence.SafeguardStatus{Safeguard: "sg", Model: "m", Status: evidence.Implemented, By: "lab", At: t0, Meta: evidence.Meta{Seq: seq}})
	}
	return ev
}

func TestForecastCrossing(t *testing.T) {
	at := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	const gating = "  forecast: {confidence: 0.8, buffer: 1.5}"
	tests := []struct {
		name      string
		forecast  string
		trigger   string
		safeguard bool
		to        float64
		wantCodes []string
	}{
		{"a step past the forecast's lower bound over the buffer is denied", gating, `score("ctf") >= 0.6`, false, 2.5e25, []string{gate.ForecastCrossing}},
		{"a step below it is allowed", gating, `score("ctf") >= 0.6`, false, 6e24, nil},
		{"without cadence.forecast the gate behaves as before", "", `score("ctf") >= 0.6`, false, 2.5e25, nil},
		{"safeguards in force: no forecast denial", gating, `score("ctf") >= 0.6`, true, 2.5e25, nil},
		{"a conjunction fires with its last part", gating, `score("ctf") >= 0.6 && score("ctf2") >= 0.6`, false, 2.5e25, []string{gate.ForecastCrossing}},
		{"a trigger that cannot be forecast adds no denial", gating, `score("ctf") * 2.0 >= 1.2`, false, 2.5e25, nil},
		{"a level never reached in most resamples adds no finite bound", gating, `score("ctf") >= 0.99`, false, 2.5e25, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := forecastPolicy(t, tc.forecast, tc.trigger, "sg")
			in := gate.Input{
				Versions: []gate.Version{{Policy: p, PublishedAt: at.AddDate(0, -1, 0)}},
				Evidence: sigmoidEvidence(tc.safeguard),
				Action:   gate.Action{Kind: gate.Scale, Model: "m", ToCompute: tc.to, At: at},
			}
			d := gate.Decide(in)
			var codes []string
			for _, r := range d.Reasons {
				codes = append(codes, r.Code)
			}
			if !slices.Equal(codes, tc.wantCodes) {
				j, _ := json.Marshal(d.Reasons)
				t.Fatalf("Decide(to %g) reasons = %v, want %v\n%s", tc.to, codes, tc.wantCodes, j)
			}
			if len(tc.wantCodes) > 0 {
				r := d.Reasons[0]
				if r.Forecast == nil || r.Threshold != "cyber-2" || r.Forecast.Points != 6 {
					t.Fatalf("FORECAST_CROSSING reason = %+v, want threshold cyber-2 and a forecast over 6 points", r)
				}
				lo := float64(r.Forecast.Interval[0])
				if !(lo/1.5 < tc.to) || !(lo <= float64(r.Forecast.FiresAt)) {
					t.Fatalf("forecast %+v does not justify denying %g", r.Forecast, tc.to)
				}
			}
			// Deterministic: the same input gives the same decision.
			a, _ := json.Marshal(d)
			b, _ := json.Marshal(gate.Decide(in))
			if string(a) != string(b) {
				t.Fatal("Decide is not deterministic with forecasts")
			}
		})
	}
}

func TestForecastsReport(t *testing.T) {
	at := time.Date(2026, 6, 10, 0, 0, 0, 0, time.UTC)
	p := forecastPolicy(t, "", `score("ctf") >= 0.6`, "sg")
	in := gate.Input{
		Versions: []gate.Version{{Policy: p, PublishedAt: at.AddDate(0, -1, 0)}},
		Evidence: sigmoidEvidence(false),
		Action:   gate.Action{Kind: gate.Scale, Model: "m", At: at},
	}
	fcs := gate.Forecasts(in, 0)
	if len(fcs) != 1 {
		t.Fatalf("Forecasts = %d, want 1", len(fcs))
	}
	f := fcs[0]
	if f.Error != "" || f.Evaluation != "ctf" || f.Points != 6 || f.Confidence != 0.8 {
		t.Fatalf("forecast = %+v", f)
	}
	// The noiseless curve crosses 0.6 at 10^(24.9 − ln(0.9/0.55 − 1)/2.5)
	// ≈ 1.2e25. Six noisy points extrapolated half a decade cannot pin it
	// (the calibration of the interval is tested in package forecast), but
	// the median must be within a decade and inside its own interval.
	truth := math.Pow(10, 24.9-math.Log(0.9/0.55-1)/2.5)
	lo, mid, hi := float64(f.Interval[0]), float64(f.FiresAt), float64(f.Interval[1])
	if !(truth/10 < mid && mid < truth*10) || !(lo <= mid && mid <= hi) {
		t.Fatalf("forecast %g in [%g, %g]; the noiseless crossing is %g", mid, lo, hi, truth)
	}
	if m := float64(f.Margin); math.Abs(m-float64(f.FiresAt)/3.2e24) > 1e-9*m {
		t.Fatalf("margin = %g, want fires_at / latest compute", m)
	}
	j, err := json.Marshal(f)
	if err != nil {
		t.Fatalf("marshal forecast: %v", err)
	}
	for _, k := range []string{`"threshold"`, `"evaluation"`, `"fires_at_compute"`, `"interval"`, `"margin"`, `"points"`} {
		if !json.Valid(j) || !contains(string(j), k) {
			t.Fatalf("forecast JSON %s lacks %s", j, k)
		}
	}
	// Too few points: a clear "cannot forecast", never a number.
	in.Evidence.Checkpoints = in.Evidence.Checkpoints[:1]
	if f := gate.Forecasts(in, 0)[0]; f.Error == "" || f.FiresAt != 0 {
		t.Fatalf("one checkpoint: forecast = %+v, want a cannot-forecast error", f)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
