package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
)

// Envelope is a stored record (the trusted view).
type Envelope struct {
	Kind   string          `json:"kind"`
	V      int             `json:"v"`
	By     string          `json:"by,omitempty"`
	Record json.RawMessage `json:"record"`
	// Signature is the attester's verified DSSE envelope over the record,
	// when it came with one.
	Signature *Signature `json:"signature,omitempty"`
	// Salt (hex) is the salt of the commitment to the confidential fields,
	// for confidential records. It never appears in a leaf.
	Salt string `json:"salt,omitempty"`
}

// Signature records who signed a record and the signed envelope itself,
// so that anyone holding the trusted view can re-verify it.
type Signature struct {
	Attester string `json:"attester"`
	KeyID    string `json:"keyId"`
	Envelope []byte `json:"envelope,omitempty"`
}

// confidentialFields are the fields of each record kind that a
// `confidential: true` record keeps out of its leaf.
var confidentialFields = map[string][]string{
	store.KindResult:        {"score", "stderr", "samples", "source"},
	store.KindSafeguard:     {"note"},
	store.KindDetermination: {"rationale"},
	store.KindSafetyCase:    {"summary"},
}

// isConfidential reports whether a record has confidential content.
func isConfidential(v any) bool {
	switch x := v.(type) {
	case interface{ IsConfidential() bool }:
		return x.IsConfidential()
	case *gate.Decision:
		for _, t := range x.Thresholds {
			if len(t.Confidential) > 0 {
				return true
			}
		}
	}
	return false
}

// newRecord builds a store record from a value. The stored data is the
// envelope as compact JSON (fields in envelope order, record fields in the
// order of their Go types, no HTML escaping).
func newRecord(kind, key, model, policyName, by string, at time.Time, v any, sig *Signature) (store.Record, error) {
	body, err := marshal(v)
	if err != nil {
		return store.Record{}, fmt.Errorf("encode %s: %w", kind, err)
	}
	env := Envelope{Kind: kind, V: 1, By: by, Record: body, Signature: sig}
	if isConfidential(v) {
		salt, err := transparency.NewSalt()
		if err != nil {
			return store.Record{}, err
		}
		env.Salt = hex.EncodeToString(salt)
	}
	data, err := marshal(env)
	if err != nil {
		return store.Record{}, fmt.Errorf("encode %s: %w", kind, err)
	}
	leaf := data
	if kind == store.KindPolicy || env.Salt != "" || (sig != nil && len(sig.Envelope) > 0) {
		if leaf, err = leafOf(env); err != nil {
			return store.Record{}, err
		}
	}
	return store.Record{Kind: kind, Key: key, Model: model, Policy: policyName, At: at.UTC(), Data: data, Leaf: leaf}, nil
}

// marshal is json.Marshal without HTML escaping and without the trailing
// newline.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// policyLeafRecord is what a policy version's leaf holds.
type policyLeafRecord struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Developer   string    `json:"developer"`
	Digest      string    `json:"digest"`
	PublishedAt time.Time `json:"publishedAt"`
}

// leafFor computes the leaf bytes for a record's stored data; it is the one
// definition of a leaf, used when appending and when verifying.
//
// For a plain record the leaf is the stored data itself. Otherwise it is
// the canonical JSON (transparency.CanonicalJSON) of the envelope with:
//   - for a policy version, the record reduced to name, version, developer,
//     digest and publication time (the document is not in the leaf);
//   - for a confidential record, the confidential fields removed and a
//     field "commitment": "sha256:<hex>" added, the salted commitment
//     (transparency.Commit) to the canonical JSON of an object holding the
//     removed fields; for a decision, the removed fields are the
//     confidential inputs, keyed "<threshold>/<evaluation>";
//   - the salt removed, and a signature's envelope removed when the record
//     is confidential (the envelope would reveal the record); the attester
//     and key id stay.
func leafFor(kind string, data []byte) ([]byte, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("decode %s record: %w", kind, err)
	}
	if env.Kind != kind {
		return nil, fmt.Errorf("record kind %q stored as %q", env.Kind, kind)
	}
	if kind != store.KindPolicy && env.Salt == "" && (env.Signature == nil || len(env.Signature.Envelope) == 0) {
		return data, nil
	}
	return leafOf(env)
}

func leafOf(env Envelope) ([]byte, error) {
	switch {
	case env.Kind == store.KindPolicy:
		var pv PolicyVersion
		if err := json.Unmarshal(env.Record, &pv); err != nil {
			return nil, fmt.Errorf("decode policy record: %w", err)
		}
		// The leaf commits to the document through its digest, so the
		// stored document must still hash to it.
		if sum := sha256.Sum256([]byte(pv.Document)); "sha256:"+hex.EncodeToString(sum[:]) != pv.Digest {
			return nil, fmt.Errorf("policy %s@%s: the stored document does not match its digest %s", pv.Name, pv.Version, pv.Digest)
		}
		body, err := json.Marshal(policyLeafRecord{Name: pv.Name, Version: pv.Version, Developer: pv.Developer, Digest: pv.Digest, PublishedAt: pv.PublishedAt})
		if err != nil {
			return nil, err
		}
		env.Record = body
	case env.Salt != "":
		salt, err := hex.DecodeString(env.Salt)
		if err != nil {
			return nil, fmt.Errorf("record salt: %w", err)
		}
		public, err := redact(env.Kind, env.Record, salt)
		if err != nil {
			return nil, err
		}
		env.Record = public
		if env.Signature != nil {
			env.Signature = &Signature{Attester: env.Signature.Attester, KeyID: env.Signature.KeyID}
		}
	}
	env.Salt = ""
	return transparency.CanonicalJSON(env)
}

// redact removes a record's confidential fields and adds the commitment.
func redact(kind string, record json.RawMessage, salt []byte) (json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(record, &m); err != nil {
		return nil, fmt.Errorf("decode %s record: %w", kind, err)
	}
	secret := map[string]any{}
	if kind == store.KindDecision {
		var d gate.Decision
		if err := json.Unmarshal(record, &d); err != nil {
			return nil, fmt.Errorf("decode decision: %w", err)
		}
		for i := range d.Thresholds {
			t := &d.Thresholds[i]
			for _, e := range t.Confidential {
				secret[t.ID+"/"+e] = t.Inputs[e]
				delete(t.Inputs, e)
			}
		}
		th, err := json.Marshal(d.Thresholds)
		if err != nil {
			return nil, err
		}
		m["thresholds"] = th
	} else {
		for _, f := range confidentialFields[kind] {
			if v, ok := m[f]; ok {
				secret[f] = v
				delete(m, f)
			}
		}
	}
	sc, err := transparency.CanonicalJSON(secret)
	if err != nil {
		return nil, err
	}
	c, err := json.Marshal(transparency.Commit(salt, sc))
	if err != nil {
		return nil, err
	}
	m["commitment"] = c
	return json.Marshal(m)
}

// Commitment recomputes a confidential record's commitment from its
// trusted view, so an auditor can check it against the public leaf.
func Commitment(data []byte) (string, error) {
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return "", fmt.Errorf("decode record: %w", err)
	}
	if env.Salt == "" {
		return "", fmt.Errorf("record is not confidential")
	}
	leaf, err := leafOf(env)
	if err != nil {
		return "", err
	}
	var out struct {
		Record struct {
			Commitment string `json:"commitment"`
		} `json:"record"`
	}
	if err := json.Unmarshal(leaf, &out); err != nil {
		return "", err
	}
	return out.Record.Commitment, nil
}
