package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"scalegate.dev/scalegate/internal/service"
)

// httpError is an error with the status to answer it with.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func errorf(status int, format string, args ...any) error {
	return &httpError{status: status, msg: fmt.Sprintf(format, args...)}
}

// classify maps an error to a status and a message fit for the client.
// Internal errors are logged, not shown.
func (s *Server) classify(r *http.Request, err error) (int, string) {
	var he *httpError
	var mb *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		return he.status, he.msg
	case errors.As(err, &mb):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than the limit of %d bytes", mb.Limit)
	case errors.Is(err, service.ErrBadInput) && !service.IsNotFound(err):
		return http.StatusBadRequest, oneLine(err.Error())
	case service.IsNotFound(err):
		return http.StatusNotFound, oneLine(err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; 499 in the logs, as nginx has it.
		return 499, "request canceled"
	}
	s.log.Error("internal error", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	return http.StatusInternalServerError, "internal error"
}

// fail answers a request with an error: JSON {"error": "..."} on API
// routes, an HTML page on the dashboard.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rt route, err error) {
	status, msg := s.classify(r, err)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scalegate"`)
	}
	if status == 499 {
		return
	}
	if rt.api {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	s.renderError(w, r, status, msg)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// writeJSON writes v as indented JSON without HTML escaping.
func writeJSON(w http.ResponseWriter, status int, v any) {
	j := jsonWriters.Get().(*jsonWriter)
	defer func() {
		if j.buf.Cap() <= 1<<20 { // keep no huge buffers
			jsonWriters.Put(j)
		}
	}()
	j.buf.Reset()
	err := j.enc.Encode(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error": "internal error"}` + "\n"))
		return
	}
	w.WriteHeader(status)
	w.Write(j.buf.Bytes())
}

// jsonWriter is an indenting JSON encoder with its buffer, reused across
// responses (a decision is several kilobytes of JSON).
type jsonWriter struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonWriters = sync.Pool{New: func() any {
	j := &jsonWriter{}
	j.enc = json.NewEncoder(&j.buf)
	j.enc.SetEscapeHTML(false)
	j.enc.SetIndent("", "  ")
	return j
}}

// allowedMethods returns the methods some route accepts for r's path,
// other than through the catch-all patterns.
func (s *Server) allowedMethods(r *http.Request) []string {
	var out []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pat := s.mux.Handler(probe); pat != "" && pat != "/" && pat != "/v1/" {
			out = append(out, m)
		}
	}
	if len(out) > 0 && contains(out, http.MethodGet) {
		out = append(out, http.MethodHead)
	}
	sort.Strings(out)
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// notFound answers an unmatched path: 405 with Allow when another method
// matches, else 404.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) error {
	if allow := s.allowedMethods(r); len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		return errorf(http.StatusMethodNotAllowed, "method %s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", "))
	}
	return errorf(http.StatusNotFound, "no such route: %s %s", r.Method, r.URL.Path)
}

func (s *Server) apiNotFound(w http.ResponseWriter, r *http.Request) error { return s.notFound(w, r) }

func (s *Server) pageNotFound(w http.ResponseWriter, r *http.Request) error {
	return s.notFound(w, r)
}
