package service

import "scalegate.dev/scalegate/internal/gate"

// forecasts computes forecast crossings for the thresholds of the policy in
// force when it gates on forecasts (cadence.forecast); nil otherwise.
func (s *Service) forecasts(in gate.Input) map[string]gate.Forecast {
	v, _ := gate.InForce(in.Versions, in.Action.At)
	if v == nil || v.Policy.Cadence.Forecast == nil {
		return nil
	}
	return forecastThresholds(v, in)
}
