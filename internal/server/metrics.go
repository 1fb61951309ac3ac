package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store"
)

// metrics are the server's Prometheus metrics.
type metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
	handler   http.Handler
}

func newMetrics(reg *prometheus.Registry, svc *service.Service) (*metrics, error) {
	m := &metrics{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scalegate_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scalegate_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern and method.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scalegate_decisions_total",
			Help: "Gate decisions made through the API, by action, verdict and reason code (reason \"none\" for an allow without reasons). A decision with several reasons counts once per reason.",
		}, []string{"action", "verdict", "reason"}),
	}
	logSize := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "scalegate_log_size",
		Help: "Entries in the transparency log.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var n int64
		err := svc.Store.View(ctx, func(r store.Reader) error {
			var err error
			n, err = r.Size(ctx)
			return err
		})
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{m.requests, m.latency, m.decisions, logSize} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The process and Go runtime collectors, unless the caller's registry
	// already has them.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				return nil, err
			}
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m, nil
}

func (m *metrics) observe(route, method string, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(route, method).Observe(d.Seconds())
}

func (m *metrics) decision(d *gate.Decision) {
	if len(d.Reasons) == 0 {
		m.decisions.WithLabelValues(d.Action.Kind, d.Verdict, "none").Inc()
		return
	}
	seen := map[string]bool{}
	for _, r := range d.Reasons {
		if !seen[r.Code] {
			seen[r.Code] = true
			m.decisions.WithLabelValues(d.Action.Kind, d.Verdict, r.Code).Inc()
		}
	}
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}
