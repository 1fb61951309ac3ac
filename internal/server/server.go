// Package server is scalegate's HTTP service: a JSON API under /v1 over
// the use cases of package service, and a server-rendered dashboard for
// people (html/template, assets embedded, no scripts from elsewhere).
//
// Every route is declared once, in routes(), with the roles allowed to
// call it; the OpenAPI document (openapi.json, served at /v1/openapi.json)
// is checked against that table by the tests.
//
// # Roles
//
// Clients send "Authorization: Bearer <token>" (see service.CreateToken).
// Without a token a client is the public: it reads log leaves, which carry
// commitments in place of confidential values, and every other view with
// confidential values removed. A lab token records evidence and asks the
// gate; an auditor token sees the trusted view and records signed
// attestations; an admin token does everything, including publishing
// policies and managing tokens. Every write is attributed to the token's
// name. A write without a valid token is refused (401) before anything is
// read from its body, and a token whose role does not allow the route is
// refused with 403.
//
// The server adds no decision logic of its own: writes go through the
// service, decisions come from package gate, and the dashboard's threshold
// states and forecasts are the gate's (see views.go).
package server

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"scalegate.dev/scalegate/internal/service"
)

// Request body limits.
const (
	// MaxEvidenceBody bounds POST /v1/evidence.
	MaxEvidenceBody = 64 << 20
	// MaxPolicyBody bounds POST /v1/policies.
	MaxPolicyBody = 1 << 20
	// MaxJSONBody bounds every other request body.
	MaxJSONBody = 1 << 20
)

//go:embed openapi.json
var openapiJSON []byte

//go:embed templates/*.html static/*
var assets embed.FS

// DefaultMaxConcurrentDecisions is Options.MaxConcurrentDecisions' default.
const DefaultMaxConcurrentDecisions = 64

// GCPercent is the garbage collector setting "scalegate serve" runs with
// unless $GOGC is set: a decision allocates a few hundred kilobytes that
// die at once, and at Go's default of 100 the collector runs every few
// dozen milliseconds under load, taking one of two cores while it marks.
const GCPercent = 400

// Options configure a Server.
type Options struct {
	// Logger receives one structured line per request; nil discards.
	Logger *slog.Logger
	// Registry receives the server's metrics and is what /metrics serves;
	// nil uses a new registry of the server's own.
	Registry *prometheus.Registry
	// MaxConcurrentDecisions bounds the gate decisions made at once; the
	// others queue in arrival order (default
	// DefaultMaxConcurrentDecisions). Decisions made side by side read
	// their evidence in parallel and are appended to the log together, in
	// one write transaction (service.Decide), so more of them at once
	// means larger batches; the bound keeps memory in check.
	MaxConcurrentDecisions int
}

// Server serves the API and the dashboard.
type Server struct {
	svc     *service.Service
	log     *slog.Logger
	mux     *http.ServeMux
	metrics *metrics
	routes  []route
	pages   *pages

	mu       sync.Mutex
	policies map[string]*compiledPolicy // by digest
	cache    *lru[*analysis]            // the gate's readings of models
	data     *lru[*modelData]           // models' records, by log size

	// decisions bounds the decisions made at once (see
	// Options.MaxConcurrentDecisions).
	decisions chan struct{}
}

// access says who may call a route.
type access int

const (
	// public routes answer anyone; what they show depends on the role.
	public access = iota
	// labWrite routes need a lab or admin token.
	labWrite
	// evidenceWrite needs a lab, auditor or admin token (auditors may
	// only post signed attestations; checked in the handler).
	evidenceWrite
	// auditorWrite routes need an auditor or admin token.
	auditorWrite
	// adminOnly routes need an admin token.
	adminOnly
)

func (a access) allows(role string) bool {
	switch a {
	case public:
		return true
	case labWrite:
		return role == service.RoleLab || role == service.RoleAdmin
	case evidenceWrite:
		return role == service.RoleLab || role == service.RoleAuditor || role == service.RoleAdmin
	case auditorWrite:
		return role == service.RoleAuditor || role == service.RoleAdmin
	case adminOnly:
		return role == service.RoleAdmin
	}
	return false
}

func (a access) String() string {
	switch a {
	case labWrite:
		return "lab or admin"
	case evidenceWrite:
		return "lab, auditor or admin"
	case auditorWrite:
		return "auditor or admin"
	case adminOnly:
		return "admin"
	}
	return "anyone"
}

// route is one registered route.
type route struct {
	pattern string // "METHOD /path"
	access  access
	limit   int64 // request body limit
	api     bool  // JSON errors (else HTML pages)
	handler func(w http.ResponseWriter, r *http.Request) error
}

// New returns a server over svc.
func New(svc *service.Service, opt Options) (*Server, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := opt.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	if opt.MaxConcurrentDecisions <= 0 {
		opt.MaxConcurrentDecisions = DefaultMaxConcurrentDecisions
	}
	s := &Server{svc: svc, log: log, mux: http.NewServeMux(), policies: map[string]*compiledPolicy{}, cache: newLRU[*analysis](256), data: newLRU[*modelData](16),
		decisions: make(chan struct{}, opt.MaxConcurrentDecisions)}
	m, err := newMetrics(reg, svc)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	if s.pages, err = loadPages(); err != nil {
		return nil, err
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.pattern, s.wrap(rt))
	}
	return s, nil
}

// Patterns returns the registered route patterns ("METHOD /path").
func (s *Server) Patterns() []string {
	out := make([]string, len(s.routes))
	for i, rt := range s.routes {
		out[i] = rt.pattern
	}
	return out
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	s.mux.ServeHTTP(w, r)
}

// routeTable declares every route: the API under /v1, operations, and the
// dashboard.
func (s *Server) routeTable() []route {
	api := func(pattern string, a access, limit int64, h func(http.ResponseWriter, *http.Request) error) route {
		return route{pattern: pattern, access: a, limit: limit, api: true, handler: h}
	}
	page := func(pattern string, h func(http.ResponseWriter, *http.Request) error) route {
		return route{pattern: pattern, access: public, handler: h}
	}
	return []route{
		api("POST /v1/policies", adminOnly, MaxPolicyBody, s.publishPolicy),
		api("GET /v1/policies/{name}", public, 0, s.getPolicy),
		api("POST /v1/evidence", evidenceWrite, MaxEvidenceBody, s.postEvidence),
		api("POST /v1/gate/scale", labWrite, MaxJSONBody, s.gateScale),
		api("POST /v1/gate/deploy", labWrite, MaxJSONBody, s.gateDeploy),
		api("GET /v1/models", public, 0, s.listModels),
		api("GET /v1/models/{id}", public, 0, s.getModel),
		api("GET /v1/decisions", public, 0, s.listDecisions),
		api("GET /v1/log/checkpoint", public, 0, s.logCheckpoint),
		api("GET /v1/log/key", public, 0, s.logKey),
		api("GET /v1/log/entries/{n}", public, 0, s.logEntry),
		api("GET /v1/log/proof/{n}", public, 0, s.logProof),
		api("GET /v1/log/consistency", public, 0, s.logConsistency),
		api("POST /v1/log/cosignatures", auditorWrite, MaxJSONBody, s.logCosign),
		api("GET /v1/tokens", adminOnly, 0, s.listTokens),
		api("POST /v1/tokens", adminOnly, MaxJSONBody, s.createToken),
		api("DELETE /v1/tokens/{name}", adminOnly, 0, s.revokeToken),
		api("GET /v1/openapi.json", public, 0, s.openapi),
		api("GET /healthz", public, 0, s.healthz),
		api("GET /metrics", public, 0, s.serveMetrics),
		api("/v1/", public, MaxJSONBody, s.apiNotFound),
		page("GET /{$}", s.overviewPage),
		page("GET /models/{id}", s.modelPage),
		page("GET /policies/{name}", s.policyPage),
		page("GET /log", s.logPage),
		page("GET /static/{file}", s.static),
		page("/", s.pageNotFound),
	}
}

// ctxKey keys request-scoped values.
type ctxKey int

const tokenKey ctxKey = 0

// caller returns the authenticated token of a request, or nil (public).
func caller(r *http.Request) *service.Token {
	t, _ := r.Context().Value(tokenKey).(*service.Token)
	return t
}

// trusted reports whether the caller sees confidential values.
func trusted(r *http.Request) bool {
	t := caller(r)
	return t != nil && (t.Role == service.RoleAuditor || t.Role == service.RoleAdmin)
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// wrap adds what every route gets: authentication and authorisation,
// the body limit, error responses, metrics, a log line and panic recovery.
func (s *Server) wrap(rt route) http.Handler {
	label := rt.pattern
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		var tok *service.Token
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", "route", label, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					s.fail(sw, r, rt, errors.New("internal error"))
				}
			}
			d := time.Since(start)
			s.metrics.observe(label, r.Method, sw.status, d)
			attrs := []any{"method", r.Method, "path", r.URL.Path, "route", label, "status", sw.status, "bytes", sw.bytes, "duration_ms", float64(d.Microseconds()) / 1000, "remote", r.RemoteAddr}
			if tok != nil {
				attrs = append(attrs, "token", tok.Name, "role", tok.Role)
			}
			s.log.Info("request", attrs...)
		}()
		var err error
		tok, err = s.authenticate(r)
		if err == nil && tok == nil && rt.access != public {
			err = &httpError{status: http.StatusUnauthorized, msg: fmt.Sprintf("this route needs a token of role %s: send Authorization: Bearer <token>", rt.access)}
		}
		if err == nil && tok != nil && !rt.access.allows(tok.Role) {
			err = &httpError{status: http.StatusForbidden, msg: fmt.Sprintf("token %q has role %s; this route needs %s", tok.Name, tok.Role, rt.access)}
		}
		if err != nil {
			s.fail(sw, r, rt, err)
			return
		}
		if tok != nil {
			r = r.WithContext(context.WithValue(r.Context(), tokenKey, tok))
		}
		if rt.limit > 0 {
			r.Body = http.MaxBytesReader(sw, r.Body, rt.limit)
		}
		if err := rt.handler(sw, r); err != nil {
			s.fail(sw, r, rt, err)
		}
	})
}

// authenticate reads the bearer token, if any. A token that is sent but
// not valid is an error even on public routes, so that a client with a
// mistyped token learns it at once.
func (s *Server) authenticate(r *http.Request) (*service.Token, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return nil, &httpError{status: http.StatusUnauthorized, msg: "malformed Authorization header: expected Bearer <token>"}
	}
	t, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(tok))
	if errors.Is(err, service.ErrUnauthorized) {
		return nil, &httpError{status: http.StatusUnauthorized, msg: "unknown or revoked token"}
	}
	return t, err
}
