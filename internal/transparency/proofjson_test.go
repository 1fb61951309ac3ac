package transparency

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

func TestInclusionJSONRoundTrip(t *testing.T) {
	ref := referenceHashes(t, 13)
	p, err := InclusionProof(5, 13, ref)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(NewInclusionJSON(5, 13, p))
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, h := range p {
		parts = append(parts, `"`+b64(h)+`"`)
	}
	want := `{"index":5,"size":13,"hashes":[` + strings.Join(parts, ",") + `]}`
	if string(data) != want {
		t.Fatalf("Marshal = %s\nwant     %s", data, want)
	}
	got, err := ParseInclusionJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Index != 5 || got.Size != 13 || !reflect.DeepEqual(got.Proof(), p) {
		t.Fatalf("round trip = %+v", got)
	}
	// Embedded in a larger document through encoding/json.
	var doc struct {
		Proof InclusionJSON `json:"proof"`
	}
	if err := json.Unmarshal([]byte(`{"proof":`+want+`}`), &doc); err != nil || doc.Proof.Index != 5 {
		t.Fatalf("embedded decode: %v %+v", err, doc.Proof)
	}
	if err := json.Unmarshal([]byte(`{"proof":{"index":5,"size":13,"hashes":[],"x":1}}`), &doc); err == nil {
		t.Fatal("embedded decode accepted an unknown key")
	}
	// Size-1 tree: empty proof is written as [].
	data, err = json.Marshal(NewInclusionJSON(0, 1, nil))
	if err != nil || string(data) != `{"index":0,"size":1,"hashes":[]}` {
		t.Fatalf("empty proof = %s, %v", data, err)
	}
	// Marshal refuses a proof of the wrong length.
	if _, err := json.Marshal(NewInclusionJSON(5, 13, p[:1])); err == nil {
		t.Fatal("Marshal accepted a short proof")
	}
}

func TestConsistencyJSONRoundTrip(t *testing.T) {
	ref := referenceHashes(t, 20)
	for _, sizes := range [][2]int64{{0, 20}, {3, 20}, {8, 20}, {20, 20}} {
		p, err := ConsistencyProof(sizes[0], sizes[1], ref)
		if err != nil {
			t.Fatal(err)
		}
		data, err := json.Marshal(NewConsistencyJSON(sizes[0], sizes[1], p))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(data), fmt.Sprintf(`{"old":%d,"new":%d,"hashes":[`, sizes[0], sizes[1])) {
			t.Fatalf("Marshal = %s", data)
		}
		got, err := ParseConsistencyJSON(data)
		if err != nil {
			t.Fatalf("Parse(%s): %v", data, err)
		}
		if got.Old != sizes[0] || got.New != sizes[1] || len(got.Hashes) != len(p) {
			t.Fatalf("round trip = %+v", got)
		}
	}
}

func TestParseProofJSONStrict(t *testing.T) {
	h := b64(testRoot)
	// Index 0 of size 2 needs exactly one hash.
	tests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"ok", `{"index":0,"size":2,"hashes":["` + h + `"]}`, ""},
		{"ok reordered with spaces", ` { "hashes" : [ "` + h + `" ] , "size" : 2 , "index" : 0 } `, ""},
		{"unknown key", `{"index":0,"size":2,"hashes":["` + h + `"],"extra":1}`, "unknown key"},
		{"duplicate key", `{"index":0,"index":0,"size":2,"hashes":["` + h + `"]}`, "duplicate"},
		{"missing key", `{"index":0,"hashes":["` + h + `"]}`, "missing"},
		{"wrong case key", `{"Index":0,"size":2,"hashes":["` + h + `"]}`, "unknown key"},
		{"float", `{"index":0.0,"size":2,"hashes":["` + h + `"]}`, "decimal"},
		{"exponent", `{"index":0,"size":2e0,"hashes":["` + h + `"]}`, "decimal"},
		{"negative", `{"index":-1,"size":2,"hashes":["` + h + `"]}`, "decimal"},
		{"string number", `{"index":"0","size":2,"hashes":["` + h + `"]}`, "decimal"},
		{"too big", `{"index":0,"size":99999999999999999999,"hashes":["` + h + `"]}`, "range"},
		{"index out of tree", `{"index":2,"size":2,"hashes":["` + h + `"]}`, "not inside"},
		{"too few hashes", `{"index":0,"size":2,"hashes":[]}`, "want 1"},
		{"too many hashes", `{"index":0,"size":2,"hashes":["` + h + `","` + h + `"]}`, "want 1"},
		{"null hashes", `{"index":0,"size":2,"hashes":null}`, "not an array"},
		{"unpadded hash", `{"index":0,"size":2,"hashes":["` + strings.TrimSuffix(h, "=") + `"]}`, "44"},
		{"escaped hash", `{"index":0,"size":2,"hashes":["\u0041` + h[1:] + `"]}`, "base64"},
		{"number hash", `{"index":0,"size":2,"hashes":[1]}`, "not a string"},
		{"trailing data", `{"index":0,"size":2,"hashes":["` + h + `"]} {}`, "not valid JSON"},
		{"array", `[]`, "not a JSON object"},
		{"invalid", `{"index":0,`, "not valid JSON"},
		{"huge", `{"index":0,"size":2,"hashes":["` + h + `"]}` + strings.Repeat(" ", MaxProofJSONSize), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseInclusionJSON([]byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}

	ctests := []struct {
		name    string
		doc     string
		wantErr string
	}{
		{"ok", `{"old":1,"new":2,"hashes":["` + h + `"]}`, ""},
		{"equal", `{"old":2,"new":2,"hashes":[]}`, ""},
		{"from zero", `{"old":0,"new":5,"hashes":[]}`, ""},
		{"decreasing", `{"old":3,"new":2,"hashes":[]}`, "not increasing"},
		{"wrong length", `{"old":1,"new":2,"hashes":[]}`, "want 1"},
		{"index key", `{"index":1,"new":2,"hashes":[]}`, "unknown key"},
		{"leading zero", `{"old":01,"new":2,"hashes":[]}`, "not valid JSON"},
	}
	for _, tt := range ctests {
		t.Run("consistency "+tt.name, func(t *testing.T) {
			_, err := ParseConsistencyJSON([]byte(tt.doc))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
