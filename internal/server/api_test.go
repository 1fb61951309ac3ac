package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"scalegate.dev/scalegate/internal/attest"
	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/transparency"
)

// TestOpenAPIMatchesRoutes checks that the OpenAPI document describes
// exactly the registered API routes, and that it is the document served.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openapiJSON, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Errorf("openapi = %q, want 3.x", doc.OpenAPI)
	}
	var documented []string
	for p, ops := range doc.Paths {
		for m := range ops {
			documented = append(documented, strings.ToUpper(m)+" "+p)
		}
	}
	var registered []string
	for _, rt := range f.srv.routes {
		if !rt.api || !strings.Contains(rt.pattern, " ") {
			continue // dashboard pages and catch-alls
		}
		registered = append(registered, rt.pattern)
	}
	sort.Strings(documented)
	sort.Strings(registered)
	if !slices.Equal(documented, registered) {
		t.Errorf("OpenAPI paths and registered routes differ:\ndocumented: %q\nregistered: %q", documented, registered)
	}
	r := f.get("/v1/openapi.json")
	want(t, r, http.StatusOK)
	if !bytes.Equal(r.body, openapiJSON) {
		t.Error("/v1/openapi.json is not the embedded document")
	}
	// Every operation that needs a token says so, and only those.
	for _, rt := range f.srv.routes {
		method, path, ok := strings.Cut(rt.pattern, " ")
		if !rt.api || !ok {
			continue
		}
		var op struct {
			Security []map[string][]string `json:"security"`
		}
		json.Unmarshal(doc.Paths[path][strings.ToLower(method)], &op)
		if (len(op.Security) > 0) != (rt.access != public) {
			t.Errorf("%s: OpenAPI security %v, route access %s", rt.pattern, op.Security, rt.access)
		}
	}
}

func TestPublishPolicy(t *testing.T) {
	f := newFixture(t)
	doc := repoFile(t, "policies/example.yaml")
	for _, c := range []struct {
		name, token string
		status      int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"unknown token", "sgt_not-a-token", http.StatusUnauthorized},
		{"lab", f.lab, http.StatusForbidden},
		{"auditor", f.aud, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.post("/v1/policies", c.token, doc)
			want(t, r, c.status)
			r.errorText(t)
			if n := f.logSize(); n != 0 {
				t.Fatalf("log has %d entries after a refused write", n)
			}
		})
	}
	r := f.post("/v1/policies?at=2026-01-01", f.admin, doc)
	want(t, r, http.StatusCreated)
	var p PublishedJSON
	r.json(t, &p)
	if p.Name != "example-rsp" || p.Version != "1.0.0" || p.LogIndex != 0 || p.ForceAt.IsZero() {
		t.Errorf("published %+v", p)
	}
	// The record is attributed to the admin token's name.
	r = f.do("GET", "/v1/log/entries/0?trusted=1", f.admin, nil)
	want(t, r, http.StatusOK)
	if !strings.Contains(r.String(), `"by":"the-admin"`) {
		t.Errorf("policy record not attributed to the token: %s", r.body)
	}
	// Republishing is a no-op.
	r = f.post("/v1/policies?at=2026-01-01", f.admin, doc)
	want(t, r, http.StatusOK)
	r.json(t, &p)
	if !p.Unchanged {
		t.Error("republishing: unchanged = false")
	}

	size := f.logSize()
	for _, c := range []struct {
		name, body, path string
		status           int
		msg              string
	}{
		{"bad YAML", "apiVersion: [", "/v1/policies", 400, "policy:2:1"},
		{"strict fields", strings.Replace(doc, "stance:", "stanse:", 1), "/v1/policies", 400, "stanse"},
		{"empty", "", "/v1/policies", 400, "policy document"},
		{"bad at", doc, "/v1/policies?at=yesterday", 400, "at:"},
		{"lower version", strings.Replace(doc, "version: 1.0.0", "version: 0.9.0", 1), "/v1/policies", 400, "lower"},
		{"oversized", "# " + strings.Repeat("x", MaxPolicyBody) + "\n" + doc, "/v1/policies", 413, "limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.post(c.path, f.admin, c.body)
			want(t, r, c.status)
			if msg := r.errorText(t); !strings.Contains(msg, c.msg) {
				t.Errorf("error %q does not mention %q", msg, c.msg)
			}
			if n := f.logSize(); n != size {
				t.Errorf("log grew from %d to %d on a refused write", size, n)
			}
		})
	}
}

func TestGetPolicy(t *testing.T) {
	f := newFixture(t)
	f.loadDemo()
	r := f.get("/v1/policies/example-rsp?at=2026-04-20T00:00:00Z")
	want(t, r, http.StatusOK)
	var p PolicyJSON
	r.json(t, &p)
	if p.InForce != "1.0.0" || len(p.Versions) != 2 {
		t.Fatalf("policy %+v", p)
	}
	v := p.Versions[1]
	if v.Status != "pending" || v.ForceAt.Format("2006-01-02") != "2026-05-05" || v.ScrutinyRemainingSeconds != 15*24*3600 || v.ScrutinyRemaining != "15 days" {
		t.Errorf("pending version: %+v", v)
	}
	if len(p.Thresholds) != 2 || p.Thresholds[1].ID != "autonomy-2" || !p.Thresholds[1].RedLine {
		t.Errorf("thresholds %+v", p.Thresholds)
	}
	r = f.get("/v1/policies/example-rsp")
	r.json(t, &p)
	if p.InForce != "1.1.0" || p.Versions[0].Status != "superseded" || p.Versions[1].Status != "in force" {
		t.Errorf("now: %+v", p)
	}
	want(t, f.get("/v1/policies/nope"), http.StatusNotFound)
	want(t, f.get("/v1/policies/example-rsp?at=2025-01-01"), http.StatusNotFound)
	want(t, f.get("/v1/policies/example-rsp?at=soon"), http.StatusBadRequest)
}

func TestEvidence(t *testing.T) {
	f := newFixture(t)
	want(t, f.post("/v1/policies?at=2026-01-01", f.admin, repoFile(t, "policies/example.yaml")), 201)
	first := repoFile(t, "examples/demo/01-first-checkpoint.yaml")
	size := f.logSize()
	for _, c := range []struct {
		name, token, body string
		status            int
		msg               string
	}{
		{"no token", "", first, 401, "token"},
		{"revoked-looking token", "Bearer x", first, 401, "token"},
		{"auditor with a plain document", f.aud, first, 403, "signed attestations"},
		{"bad YAML", f.lab, "apiVersion: scalegate.dev/v1\nkind: Evidence\nmodels: [\n", 400, "body:"},
		{"unknown field", f.lab, strings.Replace(first, "samples:", "sample:", 1), 400, "sample"},
		{"empty", f.lab, "  \n", 400, "Evidence document"},
		{"unpublished policy", f.lab, strings.Replace(first, "policy: example-rsp", "policy: other-rsp", 1), 400, "not published"},
		// One bad record in the middle: nothing is written.
		{"all or nothing", f.lab, strings.Replace(first, "evaluation: re-bench", "evaluation: no-such-eval", 1), 400, "no-such-eval"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.post("/v1/evidence", c.token, c.body)
			want(t, r, c.status)
			if msg := r.errorText(t); !strings.Contains(msg, c.msg) {
				t.Errorf("error %q does not mention %q", msg, c.msg)
			}
			if n := f.logSize(); n != size {
				t.Errorf("log grew from %d to %d on a refused import", size, n)
			}
		})
	}
	r := f.post("/v1/evidence", f.lab, first)
	want(t, r, http.StatusCreated)
	var im ImportedJSON
	r.json(t, &im)
	if im.Records != 5 || im.Models != 1 || im.Results != 2 || im.First == nil || *im.First != size {
		t.Errorf("imported %+v", im)
	}
	// Again: nothing new, 200.
	r = f.post("/v1/evidence", f.lab, "apiVersion: scalegate.dev/v1\nkind: Evidence\nmodels:\n  - {id: atlas, developer: Example Lab, policy: example-rsp}\n")
	want(t, r, http.StatusOK)
	// JSON is accepted too, and records without `at` take ?at=.
	js := `{"apiVersion":"scalegate.dev/v1","kind":"Evidence","checkpoints":[{"id":"atlas-c2","model":"atlas","effectiveCompute":4e24}]}`
	r = f.post("/v1/evidence?at=2026-02-01T00:00:00Z", f.lab, js)
	want(t, r, http.StatusCreated)
	r = f.do("GET", fmt.Sprintf("/v1/log/entries/%d?trusted=1", *im.Last+1), f.aud, nil)
	if !strings.Contains(r.String(), `"at":"2026-02-01T00:00:00Z"`) || !strings.Contains(r.String(), `"by":"lab-pipeline"`) {
		t.Errorf("JSON import: %s", r.body)
	}
}

// TestEvidenceOversized sends one byte more than the evidence limit.
func TestEvidenceOversized(t *testing.T) {
	f := newFixture(t)
	body := io.MultiReader(strings.NewReader("apiVersion: scalegate.dev/v1\nkind: Evidence\n# "), &repeatReader{b: 'x', n: MaxEvidenceBody})
	r := f.do("POST", "/v1/evidence", f.lab, body)
	want(t, r, http.StatusRequestEntityTooLarge)
	if n := f.logSize(); n != 0 {
		t.Errorf("log has %d entries", n)
	}
}

// repeatReader reads n copies of b.
type repeatReader struct {
	b byte
	n int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n)
	for i := range k {
		p[i] = r.b
	}
	r.n -= k
	return k, nil
}

// TestAttestation posts a signed attestation with the auditor token.
func TestAttestation(t *testing.T) {
	f := newFixture(t)
	skey, vkey, err := attest.GenerateKey("keyed-auditor")
	if err != nil {
		t.Fatal(err)
	}
	pol := strings.Replace(repoFile(t, "policies/example.yaml"), "attesters: [external-auditor]", fmt.Sprintf("attesters: [external-auditor, {name: keyed-auditor, key: %q}]", vkey), 1)
	want(t, f.post("/v1/policies?at=2026-01-01", f.admin, pol), 201)
	want(t, f.post("/v1/evidence", f.lab, repoFile(t, "examples/demo/01-first-checkpoint.yaml")), 201)
	rec := "apiVersion: scalegate.dev/v1\nkind: Evidence\nsafeguards:\n  - {safeguard: asl3-security, model: atlas, status: implemented, by: keyed-auditor, at: 2026-01-20T00:00:00Z}\n"
	ef, err := evidence.Parse("rec.yaml", []byte(rec), fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	env, err := service.SignRecord(skey, ef)
	if err != nil {
		t.Fatal(err)
	}
	size := f.logSize()
	// A tampered envelope is refused.
	bad := bytes.Replace(env, []byte(`"sig":"`), []byte(`"sig":"AAAA`), 1)
	want(t, f.do("POST", "/v1/evidence", f.aud, bytes.NewReader(bad)), http.StatusBadRequest)
	if f.logSize() != size {
		t.Fatal("a bad envelope was recorded")
	}
	r := f.do("POST", "/v1/evidence", f.aud, bytes.NewReader(env))
	want(t, r, http.StatusCreated)
	var im ImportedJSON
	r.json(t, &im)
	if im.Safeguards != 1 {
		t.Fatalf("imported %+v", im)
	}
	r = f.do("GET", fmt.Sprintf("/v1/log/entries/%d?trusted=1", *im.First), f.aud, nil)
	if !strings.Contains(r.String(), `"by":"external-auditor-bot"`) || !strings.Contains(r.String(), `"attester":"keyed-auditor"`) {
		t.Errorf("attestation entry: %s", r.body)
	}
}

func TestGate(t *testing.T) {
	f := newFixture(t)
	ds := f.loadDemo()
	verdicts := make([]string, len(ds))
	for i, d := range ds {
		verdicts[i] = d.Verdict
		if d.LogIndex == nil {
			t.Errorf("decision %d has no log index", i)
		}
	}
	wantV := []string{"allow", "deny", "allow", "deny", "deny", "allow", "allow", "deny", "deny", "deny", "allow", "deny", "allow"}
	if !slices.Equal(verdicts, wantV) {
		t.Errorf("demo verdicts %v, want %v", verdicts, wantV)
	}
	if c := ds[len(ds)-2].Codes(); !slices.Equal(c, []string{gate.ForecastCrossing}) {
		t.Errorf("boreas 2.5e25: codes %v", c)
	}
	// The same decision as the service gives, recorded, attributed.
	r := f.do("GET", fmt.Sprintf("/v1/log/entries/%d?trusted=1", *ds[0].LogIndex), f.aud, nil)
	if !strings.Contains(r.String(), `"kind":"decision"`) || !strings.Contains(r.String(), `"by":"lab-pipeline"`) {
		t.Errorf("decision entry: %s", r.body)
	}
	size := f.logSize()
	for _, c := range []struct {
		name, path, token, body string
		status                  int
		msg                     string
	}{
		{"no token", "/v1/gate/scale", "", `{"model":"atlas","toCompute":1e25}`, 401, "token"},
		{"auditor", "/v1/gate/scale", f.aud, `{"model":"atlas","toCompute":1e25}`, 403, "auditor"},
		{"bad JSON", "/v1/gate/scale", f.lab, `{"model":"atlas",`, 400, "bad JSON"},
		{"unknown field", "/v1/gate/scale", f.lab, `{"model":"atlas","to":1e25}`, 400, "unknown field"},
		{"trailing data", "/v1/gate/scale", f.lab, `{"model":"atlas","toCompute":1e25} {}`, 400, "trailing"},
		{"string compute", "/v1/gate/scale", f.lab, `{"model":"atlas","toCompute":"1e25"}`, 400, "bad JSON"},
		{"missing compute", "/v1/gate/scale", f.lab, `{"model":"atlas"}`, 400, "toCompute"},
		{"negative compute", "/v1/gate/scale", f.lab, `{"model":"atlas","toCompute":-1}`, 400, "positive"},
		{"missing model", "/v1/gate/scale", f.lab, `{"toCompute":1e25}`, 400, "model"},
		{"unknown model", "/v1/gate/scale", f.lab, `{"model":"nope","toCompute":1e25}`, 404, "nope"},
		{"bad at", "/v1/gate/scale", f.lab, `{"model":"atlas","toCompute":1e25,"at":"tomorrow"}`, 400, "at:"},
		{"unknown checkpoint", "/v1/gate/deploy", f.lab, `{"checkpoint":"nope","mode":"internal"}`, 404, "nope"},
		{"bad mode", "/v1/gate/deploy", f.lab, `{"checkpoint":"atlas-c3","mode":"everywhere"}`, 400, "mode"},
		{"oversized", "/v1/gate/scale", f.lab, `{"model":"` + strings.Repeat("a", MaxJSONBody) + `"}`, 413, "limit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := f.post(c.path, c.token, c.body)
			want(t, r, c.status)
			if msg := r.errorText(t); !strings.Contains(msg, c.msg) {
				t.Errorf("error %q does not mention %q", msg, c.msg)
			}
			if n := f.logSize(); n != size {
				t.Errorf("log grew from %d to %d", size, n)
			}
		})
	}
	// Admin may ask the gate too; a deny is HTTP 200.
	r = f.post("/v1/gate/scale", f.admin, `{"model":"atlas","toCompute":1e27,"at":"2026-06-01"}`)
	want(t, r, http.StatusOK)
	var d gate.Decision
	r.json(t, &d)
	if d.Verdict != "deny" || d.Action.At.Format("2006-01-02") != "2026-06-01" {
		t.Errorf("decision %+v", d)
	}
}

func TestReads(t *testing.T) {
	f := newFixture(t)
	// An empty log has no checkpoint yet.
	want(t, f.get("/v1/log/checkpoint"), http.StatusNotFound)
	f.loadDemo()

	var models struct {
		Models []ModelSummary `json:"models"`
	}
	f.get("/v1/models").json(t, &models)
	if len(models.Models) != 2 || models.Models[0].ID != "atlas" || models.Models[1].Policy != "forecast-rsp" {
		t.Errorf("models %+v", models)
	}

	var m ModelView
	r := f.get("/v1/models/atlas?at=2026-03-15")
	want(t, r, http.StatusOK)
	r.json(t, &m)
	if m.Assessment == nil || m.Assessment.Checkpoint != "atlas-c3" || len(m.Checkpoints) != 3 || m.InForce.Version != "1.0.0" {
		t.Fatalf("atlas on 2026-03-15: %s", r.body)
	}
	cbrn := m.Thresholds[0]
	if cbrn.ID != "cbrn-3" || cbrn.State != "crossed" || cbrn.SafeguardsInForce {
		t.Errorf("cbrn-3 on 2026-03-15: %+v", cbrn)
	}
	// asl3-security is self-attested by then, which does not count.
	if sg := cbrn.Requires[0]; sg.ID != "asl3-security" || sg.InForce || !strings.Contains(sg.Why, "not an external attester") {
		t.Errorf("asl3-security: %+v", sg)
	}
	// The prompted 0.55 on atlas-c2 does not qualify.
	var weak int
	for _, c := range m.Checkpoints {
		for _, res := range c.Results {
			if !res.Qualifies {
				weak++
				if res.Elicitation != "prompted" || !strings.Contains(res.WhyNot, "below the minimum") {
					t.Errorf("weak result %+v", res)
				}
			}
		}
	}
	if weak != 1 {
		t.Errorf("%d weak results, want 1", weak)
	}
	r = f.get("/v1/models/atlas")
	r.json(t, &m)
	if m.InForce.Version != "1.1.0" || !m.Thresholds[0].SafeguardsInForce {
		t.Errorf("atlas now: %s", r.body)
	}
	var mb ModelView
	f.get("/v1/models/boreas").json(t, &mb)
	if len(mb.Forecasts) != 1 || mb.Forecasts[0].Error != "" || mb.Forecasts[0].FiresAt <= 0 {
		t.Errorf("boreas forecasts: %+v", mb.Forecasts)
	}
	want(t, f.get("/v1/models/nope"), http.StatusNotFound)
	want(t, f.get("/v1/models/atlas?at=x"), http.StatusBadRequest)

	var dl struct {
		Decisions []gate.Decision `json:"decisions"`
	}
	f.get("/v1/decisions?model=boreas").json(t, &dl)
	if len(dl.Decisions) != 2 {
		t.Errorf("%d boreas decisions, want 2", len(dl.Decisions))
	}
	f.get("/v1/decisions?limit=3").json(t, &dl)
	if len(dl.Decisions) != 3 || dl.Decisions[2].Action.Model != "boreas" {
		t.Errorf("newest 3 decisions: %+v", dl.Decisions)
	}
	want(t, f.get("/v1/decisions?model=nope"), http.StatusNotFound)
	want(t, f.get("/v1/decisions?limit=0"), http.StatusBadRequest)
	want(t, f.get("/v1/decisions?limit=x"), http.StatusBadRequest)

	// The log: checkpoint bytes, entries, proofs, offline verification.
	cp := f.get("/v1/log/checkpoint")
	want(t, cp, http.StatusOK)
	if ct := cp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("checkpoint content type %q", ct)
	}
	direct, err := f.svc.Checkpoint(context.Background())
	if err != nil || !bytes.Equal(direct, cp.body) {
		t.Fatalf("checkpoint differs from the service's: %v", err)
	}
	key := strings.TrimSpace(f.get("/v1/log/key").String())
	size := f.logSize()
	for _, i := range []int64{0, size / 2, size - 1} {
		entry := f.get(fmt.Sprintf("/v1/log/entries/%d", i))
		want(t, entry, http.StatusOK)
		var proof transparency.InclusionJSON
		f.get(fmt.Sprintf("/v1/log/proof/%d", i)).json(t, &proof)
		if _, err := transparency.VerifyInclusion(key, cp.body, entry.body, proof); err != nil {
			t.Errorf("entry %d does not verify: %v", i, err)
		}
	}
	var cons transparency.ConsistencyJSON
	f.get("/v1/log/consistency?old=5").json(t, &cons)
	if cons.Old != 5 || cons.New != size {
		t.Errorf("consistency %+v", cons)
	}
	var p transparency.InclusionJSON
	f.get("/v1/log/proof/3?size=10").json(t, &p)
	if p.Size != 10 || tlog.CheckRecord(p.Proof(), 10, treeHash(t, f, 10), 3, tlog.RecordHash(f.get("/v1/log/entries/3").body)) != nil {
		t.Errorf("proof of 3 in 10 does not check")
	}
	for path, status := range map[string]int{
		fmt.Sprintf("/v1/log/entries/%d", size): 404,
		"/v1/log/entries/-1":                    400,
		"/v1/log/entries/x":                     400,
		"/v1/log/entries/1?trusted=maybe":       400,
		fmt.Sprintf("/v1/log/proof/%d", size):   400,
		"/v1/log/proof/1?size=0":                400,
		"/v1/log/proof/1?size=100000":           400,
		"/v1/log/consistency":                   400,
		"/v1/log/consistency?old=0":             400,
		"/v1/log/consistency?old=3&new=2":       400,
		"/v1/nope":                              404,
		"/healthz":                              200,
	} {
		r := f.get(path)
		if r.status != status {
			t.Errorf("GET %s: %d, want %d (%s)", path, r.status, status, r.body)
		}
	}
	// Wrong method: 405 with Allow.
	r = f.get("/v1/gate/scale")
	want(t, r, http.StatusMethodNotAllowed)
	if r.header.Get("Allow") != "POST" {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	r.errorText(t)
	want(t, f.do("DELETE", "/v1/models/atlas", f.admin, nil), http.StatusMethodNotAllowed)
}

// treeHash is the root of the log's tree of size n.
func treeHash(t *testing.T, f *fixture, n int64) tlog.Hash {
	t.Helper()
	var proof transparency.ConsistencyJSON
	f.get(fmt.Sprintf("/v1/log/consistency?old=%d&new=%d", n, n)).json(t, &proof)
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = f.get(fmt.Sprintf("/v1/log/entries/%d", i)).body
	}
	b := transparency.NewBuilder()
	for _, l := range leaves {
		if _, err := b.Append(l); err != nil {
			t.Fatal(err)
		}
	}
	return b.Root()
}

// TestTrustedEntry checks who may read the trusted view of an entry.
func TestTrustedEntry(t *testing.T) {
	f := newFixture(t)
	f.loadDemo()
	want(t, f.get("/v1/log/entries/1?trusted=1"), http.StatusUnauthorized)
	want(t, f.do("GET", "/v1/log/entries/1?trusted=1", f.lab, nil), http.StatusForbidden)
	want(t, f.do("GET", "/v1/log/entries/1?trusted=1", f.aud, nil), http.StatusOK)
	want(t, f.do("GET", "/v1/log/entries/1?trusted=1", f.admin, nil), http.StatusOK)
	// A wrong token is refused even on a public read.
	want(t, f.do("GET", "/v1/models", "sgt_wrong", nil), http.StatusUnauthorized)
	r := f.do("GET", "/v1/models", "", nil)
	want(t, r, http.StatusOK)
	req, _ := http.NewRequest("GET", f.ts.URL+"/v1/models", nil)
	req.Header.Set("Authorization", "Basic abc")
	res, err := f.ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized || res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("Basic auth: %d, WWW-Authenticate %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

// TestConfidential imports a confidential result with the lab token and
// checks that no public route, and no lab-facing answer, shows its value.
func TestConfidential(t *testing.T) {
	f := newFixture(t)
	f.loadDemo()
	const secret = "0.8765432"
	ev := `apiVersion: scalegate.dev/v1
kind: Evidence
checkpoints:
  - {id: atlas-c5, model: atlas, effectiveCompute: 3.2e25, at: 2026-06-01T00:00:00Z}
results:
  - {checkpoint: atlas-c5, evaluation: wmdp-bio, score: ` + secret + `, stderr: 0.0123456, elicitation: finetuned, samples: 97531, confidential: true, at: 2026-06-02T00:00:00Z}
  - {checkpoint: atlas-c5, evaluation: re-bench, score: 0.31, elicitation: scaffolded, samples: 71, at: 2026-06-02T00:00:00Z}
determinations:
  - {checkpoint: atlas-c5, threshold: autonomy-2, crossed: true, by: responsible-scaling-officer, rationale: Still crossed., at: 2026-06-02T00:00:00Z}
`
	r := f.post("/v1/evidence", f.lab, ev)
	want(t, r, http.StatusCreated)
	var im ImportedJSON
	r.json(t, &im)
	// The lab's gate answer has the input left out.
	r = f.post("/v1/gate/scale", f.lab, `{"model":"atlas","toCompute":6.4e25,"at":"2026-06-03"}`)
	want(t, r, http.StatusOK)
	var d gate.Decision
	r.json(t, &d)
	if d.Thresholds[0].ID != "cbrn-3" || !slices.Equal(d.Thresholds[0].Confidential, []string{"wmdp-bio"}) {
		t.Fatalf("decision does not mark the confidential input: %s", r.body)
	}
	secrets := []string{secret, "8765432", "0.0123456", "97531"}
	leaks := func(who string, r response) {
		t.Helper()
		for _, s := range secrets {
			if bytes.Contains(r.body, []byte(s)) {
				t.Errorf("%s: response reveals %s: %.300s", who, s, r.body)
			}
		}
	}
	leaks("lab gate answer", r)
	paths := []string{"/", "/models/atlas", "/models/atlas?at=2026-06-03", "/policies/example-rsp", "/log",
		"/v1/models", "/v1/models/atlas", "/v1/models/atlas?at=2026-06-03", "/v1/decisions", "/v1/decisions?model=atlas&limit=1000",
		"/v1/policies/example-rsp?document=1", "/v1/log/checkpoint", "/metrics"}
	for i := int64(0); i < f.logSize(); i++ {
		paths = append(paths, fmt.Sprintf("/v1/log/entries/%d", i))
	}
	for _, p := range paths {
		r := f.get(p)
		if r.status != http.StatusOK {
			t.Errorf("GET %s: %d", p, r.status)
		}
		leaks("public GET "+p, r)
		// A lab token reads the public view too.
		leaks("lab GET "+p, f.do("GET", p, f.lab, nil))
	}
	// The public model view says a value is withheld.
	var m ModelView
	f.get("/v1/models/atlas?at=2026-06-03").json(t, &m)
	if m.Withheld != 1 {
		t.Errorf("withheld = %d, want 1", m.Withheld)
	}
	// The auditor sees the value, in the model view and the trusted entry.
	r = f.do("GET", "/v1/models/atlas?at=2026-06-03", f.aud, nil)
	if !bytes.Contains(r.body, []byte(secret)) {
		t.Errorf("auditor's model view lacks the confidential score")
	}
	r = f.do("GET", fmt.Sprintf("/v1/log/entries/%d?trusted=1", *im.First+1), f.aud, nil)
	if !bytes.Contains(r.body, []byte(secret)) || !bytes.Contains(r.body, []byte(`"salt"`)) {
		t.Errorf("auditor's trusted entry: %s", r.body)
	}
	r = f.do("GET", "/v1/decisions?model=atlas&limit=1", f.aud, nil)
	if !bytes.Contains(r.body, []byte(secret)) {
		t.Errorf("auditor's decisions lack the confidential input")
	}
}

func TestTokensAPI(t *testing.T) {
	f := newFixture(t)
	want(t, f.post("/v1/tokens", f.lab, `{"name":"x","role":"admin"}`), http.StatusForbidden)
	want(t, f.post("/v1/tokens", "", `{"name":"x","role":"admin"}`), http.StatusUnauthorized)
	want(t, f.post("/v1/tokens", f.admin, `{"name":"x","role":"root"}`), http.StatusBadRequest)
	want(t, f.post("/v1/tokens", f.admin, `{"name":"bad name","role":"lab"}`), http.StatusBadRequest)
	want(t, f.post("/v1/tokens", f.admin, `{"name":"lab-pipeline","role":"lab"}`), http.StatusBadRequest)
	r := f.post("/v1/tokens", f.admin, `{"name":"ci","role":"lab"}`)
	want(t, r, http.StatusCreated)
	var tc TokenCreated
	r.json(t, &tc)
	if !strings.HasPrefix(tc.Secret, service.TokenPrefix) || tc.Role != "lab" || tc.Name != "ci" {
		t.Fatalf("created %+v", tc)
	}
	r = f.do("GET", "/v1/tokens", f.admin, nil)
	want(t, r, http.StatusOK)
	for _, s := range []string{tc.Secret, f.lab, f.aud, f.admin} {
		if strings.Contains(r.String(), s) || strings.Contains(r.String(), strings.TrimPrefix(s, service.TokenPrefix)) {
			t.Errorf("token list reveals a token")
		}
	}
	if !strings.Contains(r.String(), `"name": "ci"`) {
		t.Errorf("token list: %s", r.body)
	}
	want(t, f.do("GET", "/v1/tokens", tc.Secret, nil), http.StatusForbidden)
	r = f.do("DELETE", "/v1/tokens/ci", f.admin, nil)
	want(t, r, http.StatusOK)
	want(t, f.do("GET", "/v1/models", tc.Secret, nil), http.StatusUnauthorized)
	want(t, f.do("DELETE", "/v1/tokens/nobody", f.admin, nil), http.StatusNotFound)
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	f.loadDemo()
	f.get("/v1/models/nope")
	r := f.get("/metrics")
	want(t, r, http.StatusOK)
	for _, s := range []string{
		`scalegate_http_requests_total{code="200",method="POST",route="POST /v1/gate/scale"} 11`,
		`scalegate_http_requests_total{code="404",method="GET",route="GET /v1/models/{id}"} 1`,
		`scalegate_http_request_duration_seconds_bucket{method="POST",route="POST /v1/evidence",le=`,
		`scalegate_decisions_total{action="scale",reason="RED_LINE",verdict="deny"} 2`,
		`scalegate_decisions_total{action="deploy",reason="DEPLOYMENT_DENIED",verdict="deny"} 1`,
		`scalegate_decisions_total{action="scale",reason="none",verdict="allow"} `,
		fmt.Sprintf("scalegate_log_size %d", f.logSize()),
		`go_goroutines `,
	} {
		if !strings.Contains(r.String(), s) {
			t.Errorf("metrics lack %q", s)
		}
	}
}

// TestSafeguardStatesAgreeWithGate checks the one rule the views restate
// against the gate: for every crossed threshold of every scale decision of
// the demo, a required safeguard is shown in force exactly when the gate
// does not list it as missing.
func TestSafeguardStatesAgreeWithGate(t *testing.T) {
	f := newFixture(t)
	ds := f.loadDemo()
	checked := 0
	for _, d := range ds {
		if d.Action.Kind != gate.Scale {
			continue
		}
		missing := map[string][]string{} // threshold -> safeguards
		for _, r := range d.Reasons {
			if r.Code == gate.SafeguardsMissing {
				missing[r.Threshold] = append(missing[r.Threshold], r.Safeguards...)
			}
		}
		var m ModelView
		f.get("/v1/models/"+d.Action.Model+"?at="+d.Action.At.Format("2006-01-02T15:04:05Z")).json(t, &m)
		for _, th := range m.Thresholds {
			if th.State != gate.StateCrossed || th.RedLine {
				continue
			}
			for _, sg := range th.Requires {
				if gateMissing := slices.Contains(missing[th.ID], sg.ID); gateMissing == sg.InForce {
					t.Errorf("%s at %s, %s: view says %s in force = %v; gate missing = %v", d.Action.Model, d.Action.At, th.ID, sg.ID, sg.InForce, missing[th.ID])
				}
				checked++
			}
		}
	}
	if checked < 4 {
		t.Fatalf("only %d safeguard states checked", checked)
	}
}

func TestHealthAndHeaders(t *testing.T) {
	f := newFixture(t)
	r := f.get("/healthz")
	want(t, r, http.StatusOK)
	if !strings.Contains(r.String(), `"status": "ok"`) {
		t.Errorf("healthz: %s", r.body)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("no nosniff header")
	}
}
