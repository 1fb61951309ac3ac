// Package attest owns scalegate's signed attestations: an in-toto Statement
// v1 carried in a DSSE envelope and signed with an attester's Ed25519 key.
//
// # Keys
//
// Attesters are identified by signed-note Ed25519 keys (as produced by
// golang.org/x/mod/sumdb/note.GenerateKey):
//
//	verifier key: <name>+<hash>+base64(0x01 || 32-byte Ed25519 public key)
//	private key:  PRIVATE+KEY+<name>+<hash>+base64(0x01 || 32-byte Ed25519 seed)
//	hash:         8 lowercase hex digits of the first 4 bytes (big-endian) of
//	              SHA-256(<name> || 0x0A || 0x01 || public key)
//
// The name is non-empty UTF-8 without spaces, control characters or '+'.
// The DSSE keyid of a key is "<name>+<hash>".
//
// # Envelope
//
// Sign writes a DSSE envelope (https://github.com/secure-systems-lab/dsse)
// as compact JSON with the fields in this order:
//
//	{"payloadType":"application/vnd.in-toto+json",
//	 "payload":"<standard base64 of the statement>",
//	 "signatures":[{"keyid":"<name>+<hash>","sig":"<standard base64 of the Ed25519 signature>"}]}
//
// The signature is Ed25519 over the DSSE pre-authentication encoding
// "DSSEv1 <len(type)> <type> <len(payload)> <payload>". The payload is an
// in-toto Statement v1 (https://in-toto.io/Statement/v1) written with
// protojson and compacted:
//
//	{"_type":"https://in-toto.io/Statement/v1",
//	 "subject":[{"name":"…","digest":{"sha256":"<lowercase hex>"}}],
//	 "predicateType":"<URI>","predicate":{…}}
//
// The predicate is a JSON object carried as a protobuf Struct, so its
// numbers are float64: Sign refuses integers beyond ±2^53 (encode those as
// strings).
//
// # Verification
//
// Verify refuses envelopes over MaxEnvelopeSize (1 MiB) and parses them
// strictly (exactly the three envelope fields, each once; signatures with
// exactly keyid and sig). It then requires payloadType
// application/vnd.in-toto+json, a signature whose keyid names one of the
// trusted keys (or has an empty keyid), a valid Ed25519 signature by such a
// key, and a payload that is a valid in-toto Statement v1 (the legacy v0.1
// type is refused). Each failure has its own sentinel error (ErrTooLarge,
// ErrMalformed, ErrPayloadType, ErrUnknownKey, ErrBadSignature,
// ErrStatement) for errors.Is. A changed payload byte and a changed
// signature byte are indistinguishable to a verifier: both are
// ErrBadSignature. CheckSubject then binds a verified attestation to the
// record it is presented for (ErrSubjectMismatch), so an envelope cannot be
// replayed for another record.
package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// PayloadType is the DSSE payload type of in-toto statements.
const PayloadType = "application/vnd.in-toto+json"

// MaxEnvelopeSize is the largest envelope Verify accepts, in bytes.
const MaxEnvelopeSize = 1 << 20

// Errors returned (wrapped, with details) by Verify and CheckSubject.
var (
	ErrTooLarge        = errors.New("envelope too large")
	ErrMalformed       = errors.New("malformed envelope")
	ErrPayloadType     = errors.New("wrong envelope payload type")
	ErrNoKeys          = errors.New("no attester keys to verify with")
	ErrUnknownKey      = errors.New("envelope not signed by a trusted attester key")
	ErrBadSignature    = errors.New("envelope signature does not verify")
	ErrStatement       = errors.New("invalid in-toto statement")
	ErrSubjectMismatch = errors.New("attestation is for a different subject")
)

// Subject is an in-toto subject: a name and a digest set mapping algorithm
// names (for example "sha256") to lowercase hex digests.
type Subject struct {
	Name   string
	Digest map[string]string
}

// String returns "name (alg:hex, ...)", algorithms sorted.
func (s Subject) String() string {
	algs := make([]string, 0, len(s.Digest))
	for a := range s.Digest {
		algs = append(algs, a)
	}
	sort.Strings(algs)
	for i, a := range algs {
		algs[i] = a + ":" + s.Digest[a]
	}
	return s.Name + " (" + strings.Join(algs, ", ") + ")"
}

// Verified is the content of an envelope that passed Verify.
type Verified struct {
	KeyName       string          // name of the attester key that signed
	KeyID         string          // "<name>+<hash>" of that key
	KeyIDs        []string        // all trusted keys with a valid signature, in signature order
	Subjects      []Subject       // statement subjects
	PredicateType string          // statement predicateType
	Predicate     json.RawMessage // statement predicate, compact JSON with sorted keys
	Payload       []byte          // the exact signed payload (the statement JSON)
}

// Sign returns a DSSE envelope, signed with the attester private key skey,
// holding an in-toto Statement v1 about subject with the given predicate
// type and predicate. The predicate must encode (with encoding/json, or as
// a *structpb.Struct) to a JSON object.
func Sign(skey string, subject Subject, predicateType string, predicate any) ([]byte, error) {
	k, err := ParsePrivateKey(skey)
	if err != nil {
		return nil, err
	}
	if err := checkSubject(subject); err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}
	if predicateType == "" || strings.IndexFunc(predicateType, func(r rune) bool { return r <= ' ' }) >= 0 {
		return nil, fmt.Errorf("signing attestation: invalid predicate type %q", predicateType)
	}
	pred, err := toStruct(predicate)
	if err != nil {
		return nil, fmt.Errorf("signing attestation: predicate: %w", err)
	}
	st := &intoto.Statement{
		Type:          intoto.StatementTypeUri,
		Subject:       []*intoto.ResourceDescriptor{{Name: subject.Name, Digest: subject.Digest}},
		PredicateType: predicateType,
		Predicate:     pred,
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}
	payload, err := marshalCompact(st)
	if err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}
	es, err := dsse.NewEnvelopeSigner(k)
	if err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}
	env, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}
	out, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("signing attestation: %w", err)
	}
	if len(out) > MaxEnvelopeSize {
		return nil, fmt.Errorf("signing attestation: %w: %d bytes, limit %d", ErrTooLarge, len(out), MaxEnvelopeSize)
	}
	return out, nil
}

// checkSubject validates a subject for signing: at least one digest, every
// digest lowercase hex (in-toto Validate checks lengths of known algorithms).
func checkSubject(s Subject) error {
	if len(s.Digest) == 0 {
		return errors.New("subject has no digest")
	}
	for alg, d := range s.Digest {
		if alg == "" || d == "" {
			return fmt.Errorf("subject digest %q:%q is empty", alg, d)
		}
		if _, err := hex.DecodeString(d); err != nil || strings.ToLower(d) != d {
			return fmt.Errorf("subject digest %s:%s is not lowercase hex", alg, d)
		}
	}
	return nil
}

// marshalCompact writes a proto message with protojson and removes the
// whitespace protojson may insert, giving stable bytes.
func marshalCompact(m proto.Message) ([]byte, error) {
	b, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toStruct converts a predicate to a protobuf Struct, refusing values that
// would not survive the conversion (non-objects, integers beyond 2^53).
func toStruct(predicate any) (*structpb.Struct, error) {
	if s, ok := predicate.(*structpb.Struct); ok {
		if s == nil {
			return nil, errors.New("nil predicate")
		}
		return s, nil
	}
	data, err := json.Marshal(predicate)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, fmt.Errorf("must be a JSON object, got %s", firstByteKind(data))
	}
	if err := checkNumbers(v); err != nil {
		return nil, err
	}
	s := &structpb.Struct{}
	if err := protojson.Unmarshal(data, s); err != nil {
		return nil, err
	}
	return s, nil
}

func firstByteKind(data []byte) string {
	switch {
	case len(data) == 0:
		return "nothing"
	case data[0] == '[':
		return "an array"
	case data[0] == '"':
		return "a string"
	case data[0] == 'n':
		return "null"
	case data[0] == 't' || data[0] == 'f':
		return "a boolean"
	}
	return "a number"
}

// checkNumbers refuses numbers a float64 cannot hold exactly when they are
// integers, and numbers outside the float64 range.
func checkNumbers(v any) error {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if err := checkNumbers(e); err != nil {
				return fmt.Errorf("%s: %w", k, err)
			}
		}
	case []any:
		for i, e := range x {
			if err := checkNumbers(e); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
	case json.Number:
		s := string(x)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsInf(f, 0) {
			return fmt.Errorf("number %s is out of float64 range", s)
		}
		if n, ok := new(big.Int).SetString(s, 10); ok && n.CmpAbs(big.NewInt(1<<53)) > 0 {
			return fmt.Errorf("integer %s cannot be represented exactly (predicate numbers are float64); encode it as a string", s)
		}
	}
	return nil
}

// Verify checks a DSSE envelope against the attester verifier keys vkeys
// (a signature by any one of them suffices) and returns its verified
// content. See the package documentation for the checks and errors.
func Verify(envelope []byte, vkeys ...string) (*Verified, error) {
	if len(envelope) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(envelope), MaxEnvelopeSize)
	}
	env, err := parseEnvelope(envelope)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("%w: %q, want %q", ErrPayloadType, env.PayloadType, PayloadType)
	}
	if len(vkeys) == 0 {
		return nil, ErrNoKeys
	}
	keys := make(map[string]*PublicKey, len(vkeys))
	var ids []string
	for _, vk := range vkeys {
		k, err := ParsePublicKey(vk)
		if err != nil {
			return nil, err
		}
		if _, dup := keys[k.ID]; !dup {
			keys[k.ID] = k
			ids = append(ids, k.ID)
		}
	}
	// Only keys named by a signature (or all, for signatures without keyid)
	// are candidates.
	var candidates []dsse.Verifier
	picked := map[string]bool{}
	var signedBy []string
	for _, s := range env.Signatures {
		signedBy = append(signedBy, strconv.Quote(s.KeyID))
		for _, id := range ids {
			if (s.KeyID == "" || s.KeyID == id) && !picked[id] {
				picked[id] = true
				candidates = append(candidates, keys[id])
			}
		}
	}
	if len(candidates) == 0 {
		return nil, fmt.Errorf("%w: signed by %s, trusted keys are %s", ErrUnknownKey, strings.Join(signedBy, ", "), strings.Join(ids, ", "))
	}
	ev, err := dsse.NewEnvelopeVerifier(candidates...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	accepted, payload, err := ev.VerifyAndDecode(context.Background(), env)
	if err != nil || len(accepted) == 0 {
		return nil, fmt.Errorf("%w: no signature by %s matches the payload (payload or signature altered)", ErrBadSignature, strings.Join(signedBy, ", "))
	}
	v, err := decodeStatement(payload)
	if err != nil {
		return nil, err
	}
	for _, a := range accepted {
		v.KeyIDs = append(v.KeyIDs, a.KeyID)
	}
	first := keys[accepted[0].KeyID]
	v.KeyName, v.KeyID = first.Name, first.ID
	return v, nil
}

// decodeStatement parses and validates a signed in-toto Statement v1.
func decodeStatement(payload []byte) (*Verified, error) {
	var st intoto.Statement
	if err := protojson.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatement, err)
	}
	if st.GetType() != intoto.StatementTypeUri {
		return nil, fmt.Errorf("%w: _type is %q, want %q", ErrStatement, st.GetType(), intoto.StatementTypeUri)
	}
	if err := st.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrStatement, err)
	}
	pred, err := marshalCompact(st.GetPredicate())
	if err != nil {
		return nil, fmt.Errorf("%w: predicate: %v", ErrStatement, err)
	}
	v := &Verified{PredicateType: st.GetPredicateType(), Predicate: pred, Payload: payload}
	for _, rd := range st.GetSubject() {
		d := make(map[string]string, len(rd.GetDigest()))
		for a, h := range rd.GetDigest() {
			d[a] = h
		}
		v.Subjects = append(v.Subjects, Subject{Name: rd.GetName(), Digest: d})
	}
	return v, nil
}

// parseEnvelope decodes a DSSE envelope strictly.
func parseEnvelope(data []byte) (*dsse.Envelope, error) {
	m, err := strictObject(data, "payloadType", "payload", "signatures")
	if err != nil {
		return nil, err
	}
	env := &dsse.Envelope{}
	if err := json.Unmarshal(m["payloadType"], &env.PayloadType); err != nil {
		return nil, errors.New("payloadType is not a string")
	}
	if err := json.Unmarshal(m["payload"], &env.Payload); err != nil {
		return nil, errors.New("payload is not a string")
	}
	if _, err := decodeB64(env.Payload); err != nil {
		return nil, fmt.Errorf("payload: %v", err)
	}
	var sigs []json.RawMessage
	if err := json.Unmarshal(m["signatures"], &sigs); err != nil || sigs == nil {
		return nil, errors.New("signatures is not an array")
	}
	if len(sigs) == 0 {
		return nil, errors.New("no signatures")
	}
	for i, raw := range sigs {
		sm, err := strictObject(raw, "keyid", "sig")
		if err != nil {
			return nil, fmt.Errorf("signature %d: %v", i, err)
		}
		var s dsse.Signature
		if json.Unmarshal(sm["keyid"], &s.KeyID) != nil || json.Unmarshal(sm["sig"], &s.Sig) != nil {
			return nil, fmt.Errorf("signature %d: keyid and sig must be strings", i)
		}
		sig, err := decodeB64(s.Sig)
		if err != nil || len(sig) != 64 {
			return nil, fmt.Errorf("signature %d: sig is not a base64 Ed25519 signature (64 bytes)", i)
		}
		env.Signatures = append(env.Signatures, s)
	}
	return env, nil
}

// decodeB64 accepts standard or URL-safe base64 with padding, as DSSE does.
func decodeB64(s string) ([]byte, error) {
	if b, err := base64.StdEncoding.Strict().DecodeString(s); err == nil && !strings.ContainsAny(s, "\r\n") {
		return b, nil
	}
	if b, err := base64.URLEncoding.Strict().DecodeString(s); err == nil && !strings.ContainsAny(s, "\r\n") {
		return b, nil
	}
	return nil, errors.New("not valid base64")
}

// strictObject decodes one JSON object with exactly the given keys, each
// once, and nothing after it.
func strictObject(data []byte, keys ...string) (map[string]json.RawMessage, error) {
	if !json.Valid(data) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	m := make(map[string]json.RawMessage, len(keys))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := tok.(string)
		known := false
		for _, want := range keys {
			known = known || k == want
		}
		if !known {
			return nil, fmt.Errorf("unknown field %q", k)
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("duplicate field %q", k)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		m[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return nil, fmt.Errorf("missing field %q", k)
		}
	}
	return m, nil
}

// CheckSubject returns nil if one of v's subjects has the digest given as
// "<algorithm>:<hex>" (for example "sha256:9f86…"); hex case is ignored. It
// returns an error wrapping ErrSubjectMismatch otherwise, so callers can
// refuse an envelope presented for a record it was not made for.
func CheckSubject(v *Verified, digest string) error {
	alg, want, ok := strings.Cut(digest, ":")
	if !ok || alg == "" || want == "" {
		return fmt.Errorf("malformed digest %q: want <algorithm>:<hex>", digest)
	}
	if _, err := hex.DecodeString(want); err != nil {
		return fmt.Errorf("malformed digest %q: %v", digest, err)
	}
	if v == nil {
		return fmt.Errorf("%w: no verified attestation", ErrSubjectMismatch)
	}
	var have []string
	for _, s := range v.Subjects {
		if got, ok := s.Digest[alg]; ok && strings.EqualFold(got, want) {
			return nil
		}
		have = append(have, s.String())
	}
	return fmt.Errorf("%w: attestation covers %s, not %s", ErrSubjectMismatch, strings.Join(have, "; "), digest)
}
