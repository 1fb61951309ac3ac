package service

import (
	"context"
	"math"
	"sort"
	"time"

	"scalegate.dev/scalegate/internal/forecast"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
)

// gateInput loads what the gate reads about a model, in a snapshot whose
// log size is size (the evidence comes through the cache).
func (s *Service) gateInput(ctx context.Context, r store.Reader, model string, at time.Time, size int64) (gate.Input, error) {
	in, _, err := s.gateInputSnap(ctx, r, model, at, size)
	return in, err
}

// gateInputSnap is gateInput that also returns an evidence snapshot worth
// storing, if any.
func (s *Service) gateInputSnap(ctx context.Context, r store.Reader, model string, at time.Time, size int64) (gate.Input, []byte, error) {
	m, err := s.modelAt(ctx, r, model, size)
	if err != nil {
		return gate.Input{}, nil, err
	}
	versions, ev, snap, err := s.inputsAt(ctx, r, m, size)
	if err != nil {
		return gate.Input{}, nil, err
	}
	return gate.Input{Versions: versions, Evidence: ev, Action: gate.Action{Kind: gate.Scale, Model: model, At: at}}, snap, nil
}

// Forecast forecasts when each threshold of the model's policy in force
// will fire (see gate.Forecasts). A zero at means now; confidence 0 means
// the policy's.
func (s *Service) Forecast(ctx context.Context, model string, at time.Time, confidence float64) ([]gate.ThresholdForecast, error) {
	if at.IsZero() {
		at = s.Now()
	}
	if confidence != 0 && (confidence <= 0 || confidence >= 1) {
		return nil, badInputf("--confidence must be in (0, 1), got %g", confidence)
	}
	var out []gate.ThresholdForecast
	err := s.Store.View(ctx, func(r store.Reader) error {
		size, err := r.Size(ctx)
		if err != nil {
			return err
		}
		in, err := s.gateInput(ctx, r, model, at, size)
		if err != nil {
			return err
		}
		if v, _ := gate.InForce(in.Versions, at.UTC()); v == nil {
			return badInputf("no version of model %s's policy is in force at %s", model, at.UTC().Format(time.RFC3339))
		}
		out = gate.Forecasts(in, confidence)
		return nil
	})
	return out, err
}

// Correlation is the outcome of Correlate.
type Correlation struct {
	Models      []string               `json:"models"`
	Checkpoints int                    `json:"checkpoints"`
	Pairs       []forecast.Correlation `json:"pairs"`
	// Weak lists domains whose evaluations are weakly correlated with the
	// rest: measuring other domains says little about them.
	Weak      []string          `json:"weakDomains"`
	Threshold float64           `json:"weakBelow"`
	Domains   map[string]string `json:"domains"`
}

// Correlate ranks how evaluations move together across the assessed
// checkpoints of the given models (Spearman, with bootstrap intervals), and
// flags domains weakly correlated with the rest.
func (s *Service) Correlate(ctx context.Context, models []string, at time.Time, below float64) (*Correlation, error) {
	if at.IsZero() {
		at = s.Now()
	}
	out := &Correlation{Models: models, Threshold: below, Domains: map[string]string{}}
	series := map[string][]float64{}
	err := s.Store.View(ctx, func(r store.Reader) error {
		if len(models) == 0 {
			recs, err := r.List(ctx, store.Query{Kinds: []string{store.KindModel}})
			if err != nil {
				return err
			}
			for _, rec := range recs {
				models = append(models, rec.Key)
			}
			sort.Strings(models)
			out.Models = models
		}
		n := 0
		for _, m := range models {
			size, err := r.Size(ctx)
			if err != nil {
				return err
			}
			in, err := s.gateInput(ctx, r, m, at, size)
			if err != nil {
				return err
			}
			v, _ := gate.InForce(in.Versions, at.UTC())
			if v == nil {
				continue
			}
			for _, e := range v.Policy.Evaluations {
				out.Domains[e.ID] = e.Domain
			}
			for _, cs := range gate.AssessedScores(in) {
				for id := range out.Domains {
					if _, ok := series[id]; !ok {
						series[id] = nanSlice(n)
					}
				}
				for id := range series {
					v, ok := cs.Scores[id]
					if !ok {
						v = math.NaN()
					}
					series[id] = append(series[id], v)
				}
				n++
			}
		}
		out.Checkpoints = n
		return nil
	})
	if err != nil {
		return nil, err
	}
	out.Pairs = forecast.Correlate(series, forecast.Options{Resamples: gate.ForecastResamples, Seed: gate.ForecastSeed})
	out.Weak = forecast.WeaklyCorrelated(out.Pairs, out.Domains, below)
	return out, nil
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
