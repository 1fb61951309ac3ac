package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store"
)

// parseTime parses an `at` value: RFC 3339, or a date (midnight UTC). The
// empty string is the zero time.
func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, errorf(http.StatusBadRequest, "%s: expected an RFC 3339 time such as 2026-03-01T00:00:00Z, got %q", name, s)
}

// asOf returns the ?at= of a read, or now.
func (s *Server) asOf(r *http.Request) (time.Time, error) {
	t, err := parseTime("at", r.URL.Query().Get("at"))
	if err != nil || !t.IsZero() {
		return t, err
	}
	return s.svc.Now().UTC(), nil
}

// readBody reads a request body within the route's limit.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return nil, err
		}
		return nil, errorf(http.StatusBadRequest, "reading the request body: %v", err)
	}
	return b, nil
}

// decodeJSON decodes one JSON object strictly: unknown fields and
// trailing data are errors.
func decodeJSON(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errorf(http.StatusBadRequest, "bad JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errorf(http.StatusBadRequest, "bad JSON: trailing data after the object")
	}
	return nil
}

// by is who a write is attributed to: the token's name.
func by(r *http.Request) string {
	if t := caller(r); t != nil {
		return t.Name
	}
	return ""
}

// PublishedJSON is the answer to POST /v1/policies.
type PublishedJSON struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Digest      string    `json:"digest"`
	PublishedAt time.Time `json:"publishedAt"`
	ForceAt     time.Time `json:"forceAt"`
	LogIndex    int64     `json:"logIndex"`
	Unchanged   bool      `json:"unchanged"`
	Warnings    []string  `json:"warnings,omitempty"`
}

func (s *Server) publishPolicy(w http.ResponseWriter, r *http.Request) error {
	at, err := parseTime("at", r.URL.Query().Get("at"))
	if err != nil {
		return err
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errorf(http.StatusBadRequest, "the body must be a policy document (YAML)")
	}
	p, err := s.svc.PublishPolicy(r.Context(), "policy", data, at, by(r))
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if p.Unchanged {
		status = http.StatusOK
	}
	writeJSON(w, status, PublishedJSON{Name: p.Name, Version: p.Version, Digest: p.Digest, PublishedAt: p.PublishedAt, ForceAt: p.ForceAt, LogIndex: p.Index, Unchanged: p.Unchanged, Warnings: p.Warnings})
	return nil
}

// PolicyJSON is the answer to GET /v1/policies/{name}.
type PolicyJSON struct {
	Name string    `json:"name"`
	AsOf time.Time `json:"asOf"`
	// InForce is the version in force at AsOf, if any.
	InForce    string              `json:"inForce,omitempty"`
	Versions   []PolicyVersionJSON `json:"versions"`
	Thresholds []PolicyThreshold   `json:"thresholds"`
}

// PolicyVersionJSON is one published version.
type PolicyVersionJSON struct {
	Version     string    `json:"version"`
	Developer   string    `json:"developer"`
	Digest      string    `json:"digest"`
	PublishedAt time.Time `json:"publishedAt"`
	ForceAt     time.Time `json:"forceAt"`
	// Status is "in force", "pending" (in its scrutiny period) or
	// "superseded".
	Status string `json:"status"`
	// ScrutinyRemainingSeconds counts down to ForceAt for a pending
	// version.
	ScrutinyRemainingSeconds int64  `json:"scrutinyRemainingSeconds,omitempty"`
	ScrutinyRemaining        string `json:"scrutinyRemaining,omitempty"`
	// ScrutinyElapsed is the fraction of the scrutiny period elapsed.
	ScrutinyElapsed float64 `json:"scrutinyElapsed,omitempty"`
	LogIndex        int64   `json:"logIndex"`
	// Document is the policy as published (with ?document=1).
	Document string `json:"document,omitempty"`
}

// PolicyThreshold is a threshold of the version in force.
type PolicyThreshold struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Domain        string   `json:"domain"`
	Description   string   `json:"description,omitempty"`
	Trigger       string   `json:"trigger,omitempty"`
	Warning       string   `json:"warning,omitempty"`
	Clear         string   `json:"clear,omitempty"`
	Determination bool     `json:"determination,omitempty"`
	RedLine       bool     `json:"redLine,omitempty"`
	Requires      []string `json:"requires,omitempty"`
	Training      string   `json:"training"`
	// Deployment is what each mode gets while the threshold is crossed.
	Deployment map[string]string `json:"deployment"`
	Hole       string            `json:"hole,omitempty"`
}

// policyView builds a policy's versions as of at.
func (s *Server) policyView(r *http.Request, name string, at time.Time) (*PolicyJSON, []compiledPolicy, error) {
	cps, err := s.policyVersions(r.Context(), name)
	if err != nil {
		return nil, nil, err
	}
	var visible []compiledPolicy
	for _, c := range cps {
		if !c.pv.PublishedAt.After(at) {
			visible = append(visible, c)
		}
	}
	if len(visible) == 0 {
		return nil, nil, errorf(http.StatusNotFound, "policy %q has no version published by %s", name, at.Format(time.RFC3339))
	}
	versions := gateVersions(visible)
	cur, pending := gate.InForce(versions, at)
	out := &PolicyJSON{Name: name, AsOf: at, Versions: []PolicyVersionJSON{}, Thresholds: []PolicyThreshold{}}
	if cur != nil {
		out.InForce = cur.Policy.Metadata.Version
	}
	for _, c := range visible {
		v := PolicyVersionJSON{Version: c.pv.Version, Developer: c.pv.Developer, Digest: c.pv.Digest, PublishedAt: c.pv.PublishedAt, LogIndex: c.pv.Index, Status: "superseded"}
		v.ForceAt = forceAt(versions, c)
		if r.URL.Query().Get("document") == "1" {
			v.Document = c.pv.Document
		}
		switch {
		case cur != nil && cur.Policy.Digest == c.p.Digest:
			v.Status = "in force"
		default:
			for _, p := range pending {
				if p.Version == c.pv.Version {
					v.Status = "pending"
					left := p.ForceAt.Sub(at)
					v.ScrutinyRemainingSeconds = int64(left / time.Second)
					v.ScrutinyRemaining = humanDuration(left)
					if total := p.ForceAt.Sub(c.pv.PublishedAt); total > 0 {
						v.ScrutinyElapsed = float64(at.Sub(c.pv.PublishedAt)) / float64(total)
					}
				}
			}
		}
		out.Versions = append(out.Versions, v)
	}
	if cur != nil {
		for _, t := range cur.Policy.Thresholds {
			pt := PolicyThreshold{ID: t.ID, Name: t.Name, Domain: t.Domain, Description: t.Description, Trigger: t.Trigger, Warning: t.Warning, Clear: t.Clear,
				Determination: t.NeedsDetermination(), RedLine: t.RedLine, Requires: t.Requires, Training: t.OnCross.TrainingAction(), Deployment: map[string]string{}, Hole: t.Hole}
			for _, m := range []string{"internal", "external", "open-weights"} {
				pt.Deployment[m] = t.OnCross.DeploymentAction(m)
			}
			out.Thresholds = append(out.Thresholds, pt)
		}
	}
	return out, visible, nil
}

// forceAt is when version c takes force, by the gate's rule: asked at
// c's publication, the gate either has c in force or lists it as pending
// with its force time.
func forceAt(versions []gate.Version, c compiledPolicy) time.Time {
	cur, pending := gate.InForce(versions, c.pv.PublishedAt)
	if cur != nil && cur.Policy.Digest == c.p.Digest {
		return c.pv.PublishedAt
	}
	for _, p := range pending {
		if p.Version == c.pv.Version {
			return p.ForceAt
		}
	}
	return c.pv.PublishedAt
}

// humanDuration writes a duration in days, hours and minutes.
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	days := int64(d / (24 * time.Hour))
	hours := int64(d%(24*time.Hour)) / int64(time.Hour)
	mins := int64(d%time.Hour) / int64(time.Minute)
	var parts []string
	if days > 0 {
		parts = append(parts, plural(days, "day"))
	}
	if hours > 0 {
		parts = append(parts, plural(hours, "hour"))
	}
	if days == 0 && (mins > 0 || hours == 0) {
		parts = append(parts, plural(mins, "minute"))
	}
	return strings.Join(parts, " ")
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func (s *Server) getPolicy(w http.ResponseWriter, r *http.Request) error {
	at, err := s.asOf(r)
	if err != nil {
		return err
	}
	out, _, err := s.policyView(r, r.PathValue("name"), at)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// ImportedJSON is the answer to POST /v1/evidence.
type ImportedJSON struct {
	Records        int `json:"records"`
	Models         int `json:"models"`
	Checkpoints    int `json:"checkpoints"`
	Results        int `json:"results"`
	Safeguards     int `json:"safeguards"`
	Determinations int `json:"determinations"`
	SafetyCases    int `json:"safetyCases"`
	Escapes        int `json:"escapes"`
	Unchanged      int `json:"unchanged"`
	// First and Last are the log indexes of the new records.
	First *int64 `json:"first,omitempty"`
	Last  *int64 `json:"last,omitempty"`
}

func (s *Server) postEvidence(w http.ResponseWriter, r *http.Request) error {
	at, err := parseTime("at", r.URL.Query().Get("at"))
	if err != nil {
		return err
	}
	data, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return errorf(http.StatusBadRequest, "the body must be an Evidence document (YAML or JSON) or a DSSE envelope")
	}
	if t := caller(r); t.Role == service.RoleAuditor && !service.IsEnvelope(data) {
		return errorf(http.StatusForbidden, "token %q has role auditor, which records signed attestations (DSSE envelopes) only", t.Name)
	}
	im, err := s.svc.ImportBytes(r.Context(), "body", data, at, by(r))
	if err != nil {
		return err
	}
	out := ImportedJSON{Records: im.Records(), Models: im.Models, Checkpoints: im.Checkpoints, Results: im.Results, Safeguards: im.Safeguards,
		Determinations: im.Determinations, SafetyCases: im.SafetyCases, Escapes: im.Escapes, Unchanged: im.Unchanged}
	status := http.StatusOK
	if im.Records() > 0 {
		first, last := im.First, im.Last
		out.First, out.Last = &first, &last
		status = http.StatusCreated
	}
	writeJSON(w, status, out)
	return nil
}

// ScaleRequest is the body of POST /v1/gate/scale.
type ScaleRequest struct {
	Model     string   `json:"model"`
	ToCompute *float64 `json:"toCompute"`
	At        string   `json:"at,omitempty"`
}

// DeployRequest is the body of POST /v1/gate/deploy.
type DeployRequest struct {
	Checkpoint string `json:"checkpoint"`
	Mode       string `json:"mode"`
	At         string `json:"at,omitempty"`
}

func (s *Server) gateScale(w http.ResponseWriter, r *http.Request) error {
	var req ScaleRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Model == "" {
		return errorf(http.StatusBadRequest, "model is required")
	}
	if req.ToCompute == nil {
		return errorf(http.StatusBadRequest, "toCompute is required (a FLOP count such as 4e25)")
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return err
	}
	return s.decide(w, r, gate.Action{Kind: gate.Scale, Model: req.Model, ToCompute: *req.ToCompute, At: at})
}

func (s *Server) gateDeploy(w http.ResponseWriter, r *http.Request) error {
	var req DeployRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Checkpoint == "" {
		return errorf(http.StatusBadRequest, "checkpoint is required")
	}
	at, err := parseTime("at", req.At)
	if err != nil {
		return err
	}
	return s.decide(w, r, gate.Action{Kind: gate.Deploy, Checkpoint: req.Checkpoint, Mode: req.Mode, At: at})
}

// decide asks the gate, records the decision and answers it: HTTP 200
// for allow and deny alike, the verdict in the body.
func (s *Server) decide(w http.ResponseWriter, r *http.Request, a gate.Action) error {
	select {
	case s.decisions <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	d, err := s.svc.Decide(r.Context(), a, by(r))
	<-s.decisions
	if err != nil {
		return err
	}
	s.metrics.decision(d)
	out := *d
	if !trusted(r) {
		out = publicDecision(out)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	ms, err := s.modelList(r.Context())
	if err != nil {
		return err
	}
	out := make([]ModelSummary, 0, len(ms))
	for _, m := range ms {
		out = append(out, ModelSummary{ID: m.ID, Developer: m.Developer, Policy: m.Policy})
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
	return nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	at, err := s.asOf(r)
	if err != nil {
		return err
	}
	v, err := s.modelView(r.Context(), r.PathValue("id"), at, trusted(r), true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// maxDecisions bounds GET /v1/decisions.
const maxDecisions = 1000

func (s *Server) listDecisions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	model := q.Get("model")
	limit := 100
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > maxDecisions {
			return errorf(http.StatusBadRequest, "limit: expected a number from 1 to %d, got %q", maxDecisions, l)
		}
		limit = n
	}
	if model != "" {
		if err := s.modelExists(r, model); err != nil {
			return err
		}
	}
	ds, err := s.svc.Decisions(r.Context(), model, limit)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []gate.Decision{}
	}
	if !trusted(r) {
		for i := range ds {
			ds[i] = publicDecision(ds[i])
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"model": model, "decisions": ds})
	return nil
}

func (s *Server) modelExists(r *http.Request, id string) error {
	return s.svc.Store.View(r.Context(), func(rd store.Reader) error {
		_, err := rd.Get(r.Context(), store.KindModel, id)
		if errors.Is(err, store.ErrNotFound) {
			return errNoModel(id)
		}
		return err
	})
}

func (s *Server) logCheckpoint(w http.ResponseWriter, r *http.Request) error {
	c, err := s.svc.Checkpoint(r.Context())
	if errors.Is(err, service.ErrBadInput) {
		return errorf(http.StatusNotFound, "%v", err)
	}
	if err != nil {
		return err
	}
	writeBytes(w, "text/plain; charset=utf-8", c)
	return nil
}

func (s *Server) logKey(w http.ResponseWriter, r *http.Request) error {
	writeBytes(w, "text/plain; charset=utf-8", []byte(s.svc.VerifierKey()+"\n"))
	return nil
}

func writeBytes(w http.ResponseWriter, ctype string, b []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// index parses a non-negative integer path or query value.
func index(name, s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errorf(http.StatusBadRequest, "%s: expected a non-negative integer, got %q", name, s)
	}
	return n, nil
}

func (s *Server) logEntry(w http.ResponseWriter, r *http.Request) error {
	n, err := index("n", r.PathValue("n"))
	if err != nil {
		return err
	}
	var b []byte
	switch t := r.URL.Query().Get("trusted"); t {
	case "", "0", "false":
		b, err = s.svc.Entry(r.Context(), n)
	case "1", "true":
		if caller(r) == nil {
			return errorf(http.StatusUnauthorized, "the trusted view needs a token of role auditor or admin")
		}
		if !trusted(r) {
			return errorf(http.StatusForbidden, "token %q has role %s; the trusted view needs auditor or admin", caller(r).Name, caller(r).Role)
		}
		b, err = s.svc.TrustedEntry(r.Context(), n)
	default:
		return errorf(http.StatusBadRequest, "trusted: expected 1 or 0, got %q", t)
	}
	if errors.Is(err, service.ErrBadInput) {
		return errorf(http.StatusNotFound, "%v", err)
	}
	if err != nil {
		return err
	}
	writeBytes(w, "application/json", b)
	return nil
}

// sizeParam parses an optional tree size (0: the latest).
func sizeParam(r *http.Request, name string) (int64, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := index(name, v)
	if err == nil && n == 0 {
		return 0, errorf(http.StatusBadRequest, "%s: must be at least 1", name)
	}
	return n, err
}

func (s *Server) logProof(w http.ResponseWriter, r *http.Request) error {
	n, err := index("n", r.PathValue("n"))
	if err != nil {
		return err
	}
	size, err := sizeParam(r, "size")
	if err != nil {
		return err
	}
	p, err := s.svc.InclusionProof(r.Context(), n, size)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) logConsistency(w http.ResponseWriter, r *http.Request) error {
	if r.URL.Query().Get("old") == "" {
		return errorf(http.StatusBadRequest, "old is required: the size of the tree the client has")
	}
	old, err := sizeParam(r, "old")
	if err != nil {
		return err
	}
	nw, err := sizeParam(r, "new")
	if err != nil {
		return err
	}
	p, err := s.svc.ConsistencyProof(r.Context(), old, nw)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) logCosign(w http.ResponseWriter, r *http.Request) error {
	data, err := readBody(r)
	if err != nil {
		return err
	}
	n, err := s.svc.AddCosignatures(r.Context(), data)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"cosignatures": n})
	return nil
}

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// TokenCreated is the answer to POST /v1/tokens; Token is shown once.
type TokenCreated struct {
	service.Token
	Secret string `json:"token"`
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	ts, err := s.svc.Tokens(r.Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []service.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var req TokenRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	secret, t, err := s.svc.CreateToken(r.Context(), req.Name, req.Role)
	if err != nil {
		return err
	}
	s.log.Info("token created", "name", t.Name, "role", t.Role, "by", by(r))
	writeJSON(w, http.StatusCreated, TokenCreated{Token: *t, Secret: secret})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := s.svc.RevokeToken(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	s.log.Info("token revoked", "name", t.Name, "by", by(r))
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) error {
	writeBytes(w, "application/json", openapiJSON)
	return nil
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	var n int64
	err := s.svc.Store.View(r.Context(), func(rd store.Reader) error {
		var err error
		n, err = rd.Size(r.Context())
		return err
	})
	if err != nil {
		s.log.Error("health check", "error", err.Error())
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable"})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "logSize": n})
	return nil
}
