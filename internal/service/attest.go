package service

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"scalegate.dev/scalegate/internal/attest"
	"scalegate.dev/scalegate/internal/evidence"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
	"scalegate.dev/scalegate/internal/yamlx"
)

// RecordPredicate is the in-toto predicate type of a signed evidence
// record. The predicate is {"kind": "<kind>", "record": {...}} with the
// record in Evidence-file field names; the statement's one subject is
// {"name": "scalegate:<kind>", "digest": {"sha256": <hex of the SHA-256 of
// the record's canonical JSON>}}.
const RecordPredicate = "https://scalegate.dev/attestation/record/v1"

type recordPredicate struct {
	Kind   string          `json:"kind"`
	Record json.RawMessage `json:"record"`
}

// recordDigest is the SHA-256 of a record's canonical JSON, as hex.
func recordDigest(v any) (string, error) {
	c, err := transparency.CanonicalJSON(v)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(c)
	return hex.EncodeToString(sum[:]), nil
}

// SignRecord signs the one safeguard status, determination or safety case
// in an Evidence file as the attester whose private key is skey, and
// returns the DSSE envelope.
func SignRecord(skey string, f *evidence.File) ([]byte, error) {
	var kind string
	var rec any
	n := 0
	for i := range f.Safeguards {
		kind, rec = store.KindSafeguard, &f.Safeguards[i]
		n++
	}
	for i := range f.Determinations {
		kind, rec = store.KindDetermination, &f.Determinations[i]
		n++
	}
	for i := range f.SafetyCases {
		kind, rec = store.KindSafetyCase, &f.SafetyCases[i]
		n++
	}
	if n != 1 || len(f.Models)+len(f.Checkpoints)+len(f.Results)+len(f.Escapes) > 0 {
		return nil, badInputf("%s: a signed record file holds exactly one safeguard status, determination or safety case", f.Doc.File)
	}
	key, err := attest.ParsePrivateKey(skey)
	if err != nil {
		return nil, badInputf("signing key: %v", err)
	}
	if by := claimant(rec); by != key.PublicKey().Name {
		return nil, badInputf("%s: the record is by %q but the key is %q's", f.Doc.File, by, key.PublicKey().Name)
	}
	body, err := marshal(rec)
	if err != nil {
		return nil, err
	}
	digest, err := recordDigest(json.RawMessage(body))
	if err != nil {
		return nil, err
	}
	return attest.Sign(skey, attest.Subject{Name: "scalegate:" + kind, Digest: map[string]string{"sha256": digest}},
		RecordPredicate, recordPredicate{Kind: kind, Record: body})
}

// claimant is who a signable record says made it.
func claimant(rec any) string {
	switch r := rec.(type) {
	case *evidence.SafeguardStatus:
		return r.By
	case *evidence.Determination:
		return r.By
	case *evidence.SafetyCase:
		return r.ApprovedBy
	}
	return ""
}

// IsEnvelope reports whether data looks like a DSSE envelope.
func IsEnvelope(data []byte) bool {
	t := bytes.TrimSpace(data)
	return bytes.HasPrefix(t, []byte("{")) && bytes.Contains(t, []byte(`"payloadType"`))
}

// envelopeFile reads the record a DSSE envelope carries, unverified (the
// import verifies it against the policy's attester keys), as an Evidence
// file of one record.
func envelopeFile(path string, data []byte) (*evidence.File, error) {
	fail := func(format string, args ...any) error {
		return badInput(&yamlx.Error{File: path, Msg: fmt.Sprintf(format, args...)})
	}
	if len(data) > attest.MaxEnvelopeSize {
		return nil, fail("envelope is %d bytes; the limit is %d", len(data), attest.MaxEnvelopeSize)
	}
	var env struct {
		Payload string `json:"payload"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fail("not a DSSE envelope: %v", err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fail("envelope payload: %v", err)
	}
	var st struct {
		PredicateType string          `json:"predicateType"`
		Predicate     recordPredicate `json:"predicate"`
	}
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fail("envelope statement: %v", err)
	}
	if st.PredicateType != RecordPredicate {
		return nil, fail("predicate type %q is not a scalegate record (%s)", st.PredicateType, RecordPredicate)
	}
	f := &evidence.File{Doc: &yamlx.Doc{File: path}}
	meta := evidence.Meta{SignedEnvelope: data}
	dec := func(v any) error {
		d := json.NewDecoder(bytes.NewReader(st.Predicate.Record))
		d.DisallowUnknownFields()
		if err := d.Decode(v); err != nil {
			return fail("signed %s record: %v", st.Predicate.Kind, err)
		}
		return nil
	}
	switch st.Predicate.Kind {
	case store.KindSafeguard:
		var r evidence.SafeguardStatus
		if err := dec(&r); err != nil {
			return nil, err
		}
		r.Meta = meta
		f.Safeguards = append(f.Safeguards, r)
	case store.KindDetermination:
		var r evidence.Determination
		if err := dec(&r); err != nil {
			return nil, err
		}
		r.Meta = meta
		f.Determinations = append(f.Determinations, r)
	case store.KindSafetyCase:
		var r evidence.SafetyCase
		if err := dec(&r); err != nil {
			return nil, err
		}
		r.Meta = meta
		f.SafetyCases = append(f.SafetyCases, r)
	default:
		return nil, fail("signed records are safeguard statuses, determinations or safety cases, not %q", st.Predicate.Kind)
	}
	return f, nil
}

// verifySigned checks a record that came in a DSSE envelope: the envelope
// must be signed by a key of the attester the record names (a key given in
// any published version of the model's policy), and its subject must be
// this record. On success the record's meta says who signed.
func (im *importer) verifySigned(f *evidence.File, ids *policyIDs, rec any, meta *evidence.Meta) error {
	if len(meta.SignedEnvelope) == 0 {
		return nil
	}
	by := claimant(rec)
	keys := ids.attesterKeys[by]
	if len(keys) == 0 {
		return badInput(&yamlx.Error{File: f.Doc.File, Msg: fmt.Sprintf("signed by %q, who is not an attester with a key in the model's policy", by)})
	}
	v, err := attest.Verify(meta.SignedEnvelope, keys...)
	if err != nil {
		return badInput(&yamlx.Error{File: f.Doc.File, Msg: fmt.Sprintf("signature does not verify as %s's: %v", by, err)})
	}
	body, err := marshal(rec)
	if err != nil {
		return err
	}
	digest, err := recordDigest(json.RawMessage(body))
	if err != nil {
		return err
	}
	if err := attest.CheckSubject(v, "sha256:"+digest); err != nil {
		if errors.Is(err, attest.ErrSubjectMismatch) {
			return badInput(&yamlx.Error{File: f.Doc.File, Msg: "the envelope was signed for another record (its subject digest does not match this record)"})
		}
		return badInput(&yamlx.Error{File: f.Doc.File, Msg: err.Error()})
	}
	if v.KeyName != by {
		return badInput(&yamlx.Error{File: f.Doc.File, Msg: fmt.Sprintf("the record is by %q but was signed by %q", by, v.KeyName)})
	}
	meta.SignedBy, meta.SignedKeyID = by, v.KeyID
	return nil
}
