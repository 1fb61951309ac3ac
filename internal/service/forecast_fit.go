package service

import "scalegate.dev/scalegate/internal/gate"

func forecastThresholds(v *gate.Version, in gate.Input) map[string]gate.Forecast {
	out := map[string]gate.Forecast{}
	for _, t := range v.Policy.Thresholds {
		out[t.ID] = gate.Forecast{Err: "forecasting is not available in this build"}
	}
	return out
}
