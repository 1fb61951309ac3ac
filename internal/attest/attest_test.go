package attest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testPredicateType = "https://scalegate.dev/attestation/safeguard/v1"

// fixedKey builds an attester key pair from a fixed seed, writing the key
// text exactly as the package documentation describes it (independently
// of GenerateKey and note.GenerateKey).
func fixedKey(t testing.TB, name string, seedByte byte) (skey, vkey string) {
	t.Helper()
	seed := bytes.Repeat([]byte{seedByte}, ed25519.SeedSize)
	pub := ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey)
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0x0A, 0x01})
	h.Write(pub)
	hash := binary.BigEndian.Uint32(h.Sum(nil))
	id := fmt.Sprintf("%s+%08x", name, hash)
	skey = "PRIVATE+KEY+" + id + "+" + base64.StdEncoding.EncodeToString(append([]byte{0x01}, seed...))
	vkey = id + "+" + base64.StdEncoding.EncodeToString(append([]byte{0x01}, pub...))
	return skey, vkey
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

var (
	testSubject   = Subject{Name: "scalegate/safeguard/asl3-security", Digest: map[string]string{"sha256": digestOf("record 17")}}
	testPredicate = map[string]any{
		"safeguard": "asl3-security",
		"status":    "implemented",
		"auditor":   map[string]any{"name": "external-auditor", "report": "https://example.org/r.pdf"},
		"score":     0.75,
		"controls":  []any{"weights-encrypted", "two-person-rule"},
		"count":     3,
		"passed":    true,
		"note":      nil,
	}
	// testPredicateJSON is testPredicate as Verified.Predicate holds it:
	// compact, keys sorted.
	testPredicateJSON = `{"auditor":{"name":"external-auditor","report":"https://example.org/r.pdf"},"controls":["weights-encrypted","two-person-rule"],"count":3,"note":null,"passed":true,"safeguard":"asl3-security","score":0.75,"status":"implemented"}`
)

// envelopeFields is an envelope decoded loosely, for tampering.
type envelopeFields struct {
	PayloadType string `json:"payloadType"`
	Payload     string `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	} `json:"signatures"`
}

func decodeFields(t testing.TB, env []byte) envelopeFields {
	t.Helper()
	var f envelopeFields
	if err := json.Unmarshal(env, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f envelopeFields) encode(t testing.TB) []byte {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// modify decodes env, applies fn and re-encodes it.
func modify(t testing.TB, env []byte, fn func(f *envelopeFields)) []byte {
	t.Helper()
	f := decodeFields(t, env)
	fn(&f)
	return f.encode(t)
}

// flipB64 flips one bit of byte i of the base64 value s and re-encodes it,
// so that the result is still well-formed base64 of the same length.
func flipB64(t testing.TB, s string, i int) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	if i < 0 {
		i += len(b)
	}
	b[i] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

// signRaw signs an arbitrary payload as a DSSE envelope with skey,
// bypassing Sign's checks, so that tests can present statements Sign would
// never write.
func signRaw(t testing.TB, skey, payloadType string, payload []byte) []byte {
	t.Helper()
	k, err := ParsePrivateKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	es, err := dsse.NewEnvelopeSigner(k)
	if err != nil {
		t.Fatal(err)
	}
	env, err := es.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustSign(t testing.TB, skey string, subj Subject, predicate any) []byte {
	t.Helper()
	env, err := Sign(skey, subj, testPredicateType, predicate)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func statementJSON(typ, subjectDigest string) []byte {
	return fmt.Appendf(nil, `{"_type":%q,"subject":[{"name":"x","digest":{"sha256":%q}}],"predicateType":%q,"predicate":{"a":1}}`, typ, subjectDigest, testPredicateType)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	skey, vkey := fixedKey(t, "external-auditor", 7)
	env := mustSign(t, skey, testSubject, testPredicate)
	v, err := Verify(env, vkey)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	pk, err := ParsePublicKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	if v.KeyName != "external-auditor" || v.KeyID != pk.ID || !reflect.DeepEqual(v.KeyIDs, []string{pk.ID}) {
		t.Errorf("signer = %q / %q / %q, want external-auditor / %q", v.KeyName, v.KeyID, v.KeyIDs, pk.ID)
	}
	if !reflect.DeepEqual(v.Subjects, []Subject{testSubject}) {
		t.Errorf("Subjects = %v, want %v", v.Subjects, testSubject)
	}
	if v.PredicateType != testPredicateType {
		t.Errorf("PredicateType = %q", v.PredicateType)
	}
	if string(v.Predicate) != testPredicateJSON {
		t.Errorf("Predicate = %s\nwant        %s", v.Predicate, testPredicateJSON)
	}
	var back map[string]any
	if err := json.Unmarshal(v.Predicate, &back); err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	wantJSON, _ := json.Marshal(testPredicate)
	if err := json.Unmarshal(wantJSON, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, want) {
		t.Errorf("predicate did not round-trip: %v, want %v", back, want)
	}
	f := decodeFields(t, env)
	payload, err := base64.StdEncoding.DecodeString(f.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.Payload, payload) {
		t.Errorf("Payload is not the signed payload")
	}
	if err := CheckSubject(v, "sha256:"+testSubject.Digest["sha256"]); err != nil {
		t.Errorf("CheckSubject(own digest) = %v", err)
	}
}

// TestEnvelopeFormat checks the documented wire form byte for byte against
// a golden envelope (Ed25519 signatures are deterministic), and that the
// golden envelope keeps verifying.
func TestEnvelopeFormat(t *testing.T) {
	skey, vkey := fixedKey(t, "external-auditor", 7)
	env := mustSign(t, skey, testSubject, testPredicate)
	golden := filepath.Join("testdata", "envelope-v1.json")
	if *update {
		if err := os.WriteFile(golden, append(append([]byte{}, env...), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", "attester.pub"), []byte(vkey+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	want = bytes.TrimSuffix(want, []byte("\n"))
	if !bytes.Equal(env, want) {
		t.Errorf("Sign output changed:\n got %s\nwant %s", env, want)
	}
	pub, err := os.ReadFile(filepath.Join("testdata", "attester.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(want, strings.TrimSpace(string(pub))); err != nil {
		t.Errorf("golden envelope no longer verifies: %v", err)
	}

	// The documented layout: fields in order, compact, standard base64.
	f := decodeFields(t, env)
	prefix := `{"payloadType":"application/vnd.in-toto+json","payload":"` + f.Payload + `","signatures":[{"keyid":"` + f.Signatures[0].KeyID + `","sig":"`
	if !bytes.HasPrefix(env, []byte(prefix)) || !bytes.HasSuffix(env, []byte(`"}]}`)) {
		t.Errorf("envelope layout differs from the documentation: %s", env)
	}
	payload, _ := base64.StdEncoding.DecodeString(f.Payload)
	wantPayload := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"` + testSubject.Name + `","digest":{"sha256":"` + testSubject.Digest["sha256"] + `"}}],"predicateType":"` + testPredicateType + `","predicate":` + testPredicateJSON + `}`
	if string(payload) != wantPayload {
		t.Errorf("payload = %s\nwant      %s", payload, wantPayload)
	}
	// The signature is plain Ed25519 over the DSSE PAE.
	pk, _ := ParsePublicKey(vkey)
	sig, _ := base64.StdEncoding.DecodeString(f.Signatures[0].Sig)
	pae := fmt.Sprintf("DSSEv1 %d %s %d %s", len(PayloadType), PayloadType, len(payload), payload)
	if !ed25519.Verify(pk.Key, []byte(pae), sig) {
		t.Error("signature is not Ed25519 over the DSSE pre-authentication encoding")
	}
}

func TestVerifyRejects(t *testing.T) {
	skey, vkey := fixedKey(t, "external-auditor", 7)
	otherSkey, otherVkey := fixedKey(t, "other-auditor", 8)
	// Same name as the trusted key, different key material: the keyid
	// differs in its hash.
	_, impostorVkey := fixedKey(t, "external-auditor", 9)
	env := mustSign(t, skey, testSubject, testPredicate)
	noKeyID := modify(t, env, func(f *envelopeFields) { f.Signatures[0].KeyID = "" })
	otherEnv := mustSign(t, otherSkey, testSubject, testPredicate)
	// A signature by another key, carrying the trusted key's keyid.
	forgedID := modify(t, otherEnv, func(f *envelopeFields) { f.Signatures[0].KeyID = decodeFields(t, env).Signatures[0].KeyID })
	payloadLen := len(decodeFields(t, env).Payload)

	tests := []struct {
		name  string
		env   []byte
		vkeys []string
		want  error // nil: must verify
	}{
		{"valid", env, []string{vkey}, nil},
		{"valid among several keys", env, []string{otherVkey, vkey}, nil},
		{"valid with duplicate trusted key", env, []string{vkey, vkey}, nil},
		{"valid without keyid", noKeyID, []string{vkey}, nil},
		{"valid with insignificant white space", bytes.ReplaceAll(env, []byte(`","`), []byte(`" , "`)), []string{vkey}, nil},

		{"wrong key", env, []string{otherVkey}, ErrUnknownKey},
		{"same name, other key", env, []string{impostorVkey}, ErrUnknownKey},
		{"no keyid, wrong key", noKeyID, []string{otherVkey}, ErrBadSignature},
		{"other key claims trusted keyid", forgedID, []string{vkey}, ErrBadSignature},
		{"no keys", env, nil, ErrNoKeys},

		{"payload byte altered (first)", modify(t, env, func(f *envelopeFields) { f.Payload = flipB64(t, f.Payload, 0) }), []string{vkey}, ErrBadSignature},
		{"payload byte altered (middle)", modify(t, env, func(f *envelopeFields) { f.Payload = flipB64(t, f.Payload, payloadLen/2*3/4) }), []string{vkey}, ErrBadSignature},
		{"payload byte altered (last)", modify(t, env, func(f *envelopeFields) { f.Payload = flipB64(t, f.Payload, -1) }), []string{vkey}, ErrBadSignature},
		{"payload truncated", modify(t, env, func(f *envelopeFields) {
			b, _ := base64.StdEncoding.DecodeString(f.Payload)
			f.Payload = base64.StdEncoding.EncodeToString(b[:len(b)-1])
		}), []string{vkey}, ErrBadSignature},
		{"signature byte altered (first)", modify(t, env, func(f *envelopeFields) { f.Signatures[0].Sig = flipB64(t, f.Signatures[0].Sig, 0) }), []string{vkey}, ErrBadSignature},
		{"signature byte altered (last)", modify(t, env, func(f *envelopeFields) { f.Signatures[0].Sig = flipB64(t, f.Signatures[0].Sig, -1) }), []string{vkey}, ErrBadSignature},
		{"signature from another payload", modify(t, env, func(f *envelopeFields) {
			f.Signatures[0].Sig = decodeFields(t, mustSign(t, skey, testSubject, map[string]any{"x": 1})).Signatures[0].Sig
		}), []string{vkey}, ErrBadSignature},

		{"payloadType altered", modify(t, env, func(f *envelopeFields) { f.PayloadType = "application/vnd.in-toto+jsoN" }), []string{vkey}, ErrPayloadType},
		{"payloadType empty", modify(t, env, func(f *envelopeFields) { f.PayloadType = "" }), []string{vkey}, ErrPayloadType},
		{"payloadType re-signed", signRaw(t, skey, "application/json", decodePayload(t, env)), []string{vkey}, ErrPayloadType},

		{"oversized", append(append([]byte{}, env...), bytes.Repeat([]byte(" "), MaxEnvelopeSize)...), []string{vkey}, ErrTooLarge},
		{"oversized by one byte", bytes.Repeat([]byte(" "), MaxEnvelopeSize+1), []string{vkey}, ErrTooLarge},

		{"empty", nil, []string{vkey}, ErrMalformed},
		{"not JSON", []byte("DSSEv1 hello"), []string{vkey}, ErrMalformed},
		{"truncated JSON", env[:len(env)-1], []string{vkey}, ErrMalformed},
		{"JSON array", []byte(`[` + string(env) + `]`), []string{vkey}, ErrMalformed},
		{"trailing data", append(append([]byte{}, env...), []byte(`{}`)...), []string{vkey}, ErrMalformed},
		{"two envelopes", append(append([]byte{}, env...), env...), []string{vkey}, ErrMalformed},
		{"duplicate payloadType", bytes.Replace(env, []byte(`{"payloadType":`), []byte(`{"payloadType":"x","payloadType":`), 1), []string{vkey}, ErrMalformed},
		{"duplicate payload", bytes.Replace(env, []byte(`,"signatures":`), []byte(`,"payload":"e30=","signatures":`), 1), []string{vkey}, ErrMalformed},
		{"duplicate signatures", bytes.Replace(env, []byte(`{"payloadType":`), []byte(`{"signatures":[],"payloadType":`), 1), []string{vkey}, ErrMalformed},
		{"duplicate keyid", bytes.Replace(env, []byte(`{"keyid":`), []byte(`{"keyid":"","keyid":`), 1), []string{vkey}, ErrMalformed},
		{"duplicate sig", bytes.Replace(env, []byte(`,"sig":`), []byte(`,"sig":"","sig":`), 1), []string{vkey}, ErrMalformed},
		{"unknown field", bytes.Replace(env, []byte(`{"payloadType":`), []byte(`{"extra":1,"payloadType":`), 1), []string{vkey}, ErrMalformed},
		{"field name in other case", bytes.Replace(env, []byte(`"payloadType":`), []byte(`"PayloadType":`), 1), []string{vkey}, ErrMalformed},
		{"missing payload", []byte(`{"payloadType":"application/vnd.in-toto+json","signatures":[{"keyid":"","sig":""}]}`), []string{vkey}, ErrMalformed},
		{"unknown signature field", bytes.Replace(env, []byte(`{"keyid":`), []byte(`{"cert":"x","keyid":`), 1), []string{vkey}, ErrMalformed},
		{"no signatures", modify(t, env, func(f *envelopeFields) { f.Signatures = f.Signatures[:0] }), []string{vkey}, ErrMalformed},
		{"null signatures", append(append([]byte{}, env[:bytes.Index(env, []byte(`"signatures":`))]...), `"signatures":null}`...), []string{vkey}, ErrMalformed},
		{"payload not base64", modify(t, env, func(f *envelopeFields) { f.Payload = "!" + f.Payload[1:] }), []string{vkey}, ErrMalformed},
		{"payload with newline", modify(t, env, func(f *envelopeFields) { f.Payload = f.Payload[:8] + "\n" + f.Payload[8:] }), []string{vkey}, ErrMalformed},
		{"payload not a string", bytes.Replace(env, []byte(`"payload":"`), []byte(`"payload":1,"x":"`), 1), []string{vkey}, ErrMalformed},
		{"signature not base64", modify(t, env, func(f *envelopeFields) { f.Signatures[0].Sig = "%%%%" }), []string{vkey}, ErrMalformed},
		{"signature too short", modify(t, env, func(f *envelopeFields) {
			b, _ := base64.StdEncoding.DecodeString(f.Signatures[0].Sig)
			f.Signatures[0].Sig = base64.StdEncoding.EncodeToString(b[:63])
		}), []string{vkey}, ErrMalformed},

		{"legacy v0.1 statement", signRaw(t, skey, PayloadType, statementJSON("https://in-toto.io/Statement/v0.1", digestOf("x"))), []string{vkey}, ErrStatement},
		{"unknown statement type", signRaw(t, skey, PayloadType, statementJSON("https://in-toto.io/Statement/v2", digestOf("x"))), []string{vkey}, ErrStatement},
		{"statement with bad digest", signRaw(t, skey, PayloadType, statementJSON("https://in-toto.io/Statement/v1", "abc")), []string{vkey}, ErrStatement},
		{"statement without subject", signRaw(t, skey, PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"p","predicate":{}}`)), []string{vkey}, ErrStatement},
		{"statement not JSON", signRaw(t, skey, PayloadType, []byte(`hello`)), []string{vkey}, ErrStatement},
		{"statement with unknown field", signRaw(t, skey, PayloadType, bytes.Replace(statementJSON("https://in-toto.io/Statement/v1", digestOf("x")), []byte(`{`), []byte(`{"extra":1,`), 1)), []string{vkey}, ErrStatement},
	}
	sentinels := []error{ErrTooLarge, ErrMalformed, ErrPayloadType, ErrNoKeys, ErrUnknownKey, ErrBadSignature, ErrStatement, ErrSubjectMismatch}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Verify(tt.env, tt.vkeys...)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if v.KeyName != "external-auditor" {
					t.Fatalf("KeyName = %q", v.KeyName)
				}
				return
			}
			if v != nil {
				t.Errorf("Verify returned content with an error")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
			for _, s := range sentinels {
				if s != tt.want && errors.Is(err, s) {
					t.Errorf("error %q also matches %v", err, s)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func decodePayload(t testing.TB, env []byte) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(decodeFields(t, env).Payload)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyMultipleSignatures checks an envelope signed by two attesters:
// a single trusted key suffices, and every trusted signer is reported.
func TestVerifyMultipleSignatures(t *testing.T) {
	skeyA, vkeyA := fixedKey(t, "auditor-a", 1)
	skeyB, vkeyB := fixedKey(t, "auditor-b", 2)
	_, vkeyC := fixedKey(t, "auditor-c", 3)
	ka, _ := ParsePrivateKey(skeyA)
	kb, _ := ParsePrivateKey(skeyB)
	payload := decodePayload(t, mustSign(t, skeyA, testSubject, testPredicate))
	es, err := dsse.NewEnvelopeSigner(ka, kb)
	if err != nil {
		t.Fatal(err)
	}
	e, err := es.SignPayload(context.Background(), PayloadType, payload)
	if err != nil {
		t.Fatal(err)
	}
	env, _ := json.Marshal(e)
	for _, tt := range []struct {
		vkeys   []string
		name    string
		ids     []string
		wantErr error
	}{
		{[]string{vkeyB}, "auditor-b", []string{kb.pub.ID}, nil},
		{[]string{vkeyA, vkeyB}, "auditor-a", []string{ka.pub.ID, kb.pub.ID}, nil},
		{[]string{vkeyB, vkeyA}, "auditor-a", []string{ka.pub.ID, kb.pub.ID}, nil},
		{[]string{vkeyC}, "", nil, ErrUnknownKey},
	} {
		v, err := Verify(env, tt.vkeys...)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify(%v) = %v, want %v", tt.vkeys, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Verify(%v) = %v", tt.vkeys, err)
			continue
		}
		if v.KeyName != tt.name || !reflect.DeepEqual(v.KeyIDs, tt.ids) {
			t.Errorf("Verify(%v): KeyName %q, KeyIDs %v; want %q, %v", tt.vkeys, v.KeyName, v.KeyIDs, tt.name, tt.ids)
		}
	}
	// One good and one altered signature: the good one suffices, but only
	// its key is reported.
	bad := modify(t, env, func(f *envelopeFields) { f.Signatures[0].Sig = flipB64(t, f.Signatures[0].Sig, 5) })
	v, err := Verify(bad, vkeyA, vkeyB)
	if err != nil {
		t.Fatalf("Verify(one bad signature) = %v", err)
	}
	if !reflect.DeepEqual(v.KeyIDs, []string{kb.pub.ID}) {
		t.Errorf("KeyIDs = %v, want only %s", v.KeyIDs, kb.pub.ID)
	}
	if _, err := Verify(bad, vkeyA); !errors.Is(err, ErrBadSignature) {
		t.Errorf("Verify(bad signature only) = %v, want ErrBadSignature", err)
	}
}

func TestCheckSubject(t *testing.T) {
	skey, vkey := fixedKey(t, "external-auditor", 7)
	own := testSubject.Digest["sha256"]
	multi := Subject{Name: "two", Digest: map[string]string{"sha256": own, "sha512": strings.Repeat("ab", 64)}}
	v, err := Verify(mustSign(t, skey, testSubject, testPredicate), vkey)
	if err != nil {
		t.Fatal(err)
	}
	vm, err := Verify(mustSign(t, skey, multi, testPredicate), vkey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		v       *Verified
		digest  string
		wantErr error // nil with wantAny false: must pass
		wantAny bool  // some error, not a mismatch
	}{
		{"own record", v, "sha256:" + own, nil, false},
		{"own record, upper-case hex", v, "sha256:" + strings.ToUpper(own), nil, false},
		{"second algorithm", vm, "sha512:" + strings.Repeat("ab", 64), nil, false},
		{"replayed for another record", v, "sha256:" + digestOf("record 18"), ErrSubjectMismatch, false},
		{"one byte of the digest differs", v, "sha256:" + own[:len(own)-2] + fmt.Sprintf("%02x", own[len(own)-1]^1), ErrSubjectMismatch, false},
		{"same hex, other algorithm", v, "sha512:" + own, ErrSubjectMismatch, false},
		{"prefix of the digest", v, "sha256:" + own[:32], ErrSubjectMismatch, false},
		{"nil attestation", nil, "sha256:" + own, ErrSubjectMismatch, false},
		{"no algorithm", v, own, nil, true},
		{"empty hex", v, "sha256:", nil, true},
		{"not hex", v, "sha256:xyz", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSubject(tt.v, tt.digest)
			switch {
			case tt.wantAny:
				if err == nil || errors.Is(err, ErrSubjectMismatch) {
					t.Fatalf("CheckSubject = %v, want a malformed-digest error", err)
				}
			case tt.wantErr == nil:
				if err != nil {
					t.Fatalf("CheckSubject = %v", err)
				}
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("CheckSubject = %v, want %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestSignRejects(t *testing.T) {
	skey, _ := fixedKey(t, "external-auditor", 7)
	huge := map[string]any{"blob": strings.Repeat("x", MaxEnvelopeSize)}
	tests := []struct {
		name  string
		skey  string
		subj  Subject
		ptype string
		pred  any
		is    error
	}{
		{"bad key", "PRIVATE+KEY+nonsense", testSubject, testPredicateType, testPredicate, nil},
		{"no digest", skey, Subject{Name: "x"}, testPredicateType, testPredicate, nil},
		{"upper-case digest", skey, Subject{Name: "x", Digest: map[string]string{"sha256": strings.ToUpper(digestOf("a"))}}, testPredicateType, testPredicate, nil},
		{"short sha256", skey, Subject{Name: "x", Digest: map[string]string{"sha256": "abcd"}}, testPredicateType, testPredicate, nil},
		{"empty predicate type", skey, testSubject, "", testPredicate, nil},
		{"predicate type with space", skey, testSubject, "a b", testPredicate, nil},
		{"array predicate", skey, testSubject, testPredicateType, []int{1}, nil},
		{"string predicate", skey, testSubject, testPredicateType, "x", nil},
		{"null predicate", skey, testSubject, testPredicateType, nil, nil},
		{"integer 2^53+1 (rounds to 2^53 as a float64)", skey, testSubject, testPredicateType, map[string]any{"n": int64(1<<53 + 1)}, nil},
		{"too large", skey, testSubject, testPredicateType, huge, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := Sign(tt.skey, tt.subj, tt.ptype, tt.pred)
			if err == nil {
				t.Fatalf("Sign succeeded: %.200s", env)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("Sign = %v, want %v", err, tt.is)
			}
		})
	}
	// 2^53 itself is exact and accepted.
	if _, err := Sign(skey, testSubject, testPredicateType, map[string]any{"n": int64(1 << 53)}); err != nil {
		t.Errorf("Sign(2^53) = %v", err)
	}
}

func TestGenerateKeyRoundTrip(t *testing.T) {
	skey, vkey, err := GenerateKey("external-auditor")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := ParsePrivateKey(skey)
	if err != nil {
		t.Fatalf("ParsePrivateKey(generated) = %v", err)
	}
	pk, err := ParsePublicKey(vkey)
	if err != nil {
		t.Fatalf("ParsePublicKey(generated) = %v", err)
	}
	if sk.PublicKey().String() != vkey || pk.String() != vkey {
		t.Fatalf("key text does not round-trip:\n%s\n%s\n%s", vkey, sk.PublicKey(), pk)
	}
	if pk.Name != "external-auditor" || !strings.HasPrefix(vkey, pk.ID+"+") {
		t.Fatalf("Name %q, ID %q", pk.Name, pk.ID)
	}
	if id, _ := sk.KeyID(); id != pk.ID {
		t.Fatalf("KeyID %q, want %q", id, pk.ID)
	}
	// The keys are signed-note keys: x/mod's note package agrees.
	ns, err := note.NewSigner(skey)
	if err != nil {
		t.Fatalf("note.NewSigner(generated) = %v", err)
	}
	nv, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatalf("note.NewVerifier(generated) = %v", err)
	}
	if ns.Name() != pk.Name || nv.KeyHash() != ns.KeyHash() || fmt.Sprintf("%s+%08x", ns.Name(), ns.KeyHash()) != pk.ID {
		t.Fatalf("note key %s+%08x, attest key %s", ns.Name(), ns.KeyHash(), pk.ID)
	}
	// And the independently built fixed key parses to the same form.
	fs, fv := fixedKey(t, "n", 3)
	if k, err := ParsePrivateKey(fs); err != nil || k.PublicKey().String() != fv {
		t.Fatalf("fixed key: %v, %v", k, err)
	}
	// Generated keys sign envelopes that verify.
	env := mustSign(t, skey, testSubject, testPredicate)
	if _, err := Verify(env, vkey); err != nil {
		t.Fatal(err)
	}
	// Two generated keys differ.
	_, vkey2, err := GenerateKey("external-auditor")
	if err != nil {
		t.Fatal(err)
	}
	if vkey2 == vkey {
		t.Fatal("GenerateKey returned the same key twice")
	}
	for _, name := range []string{"", "a b", "a+b", "tab\tname", "new\nline", "\x00", string([]byte{0xff})} {
		if _, _, err := GenerateKey(name); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", name)
		}
	}
}

func TestPrivateKeyNotPrinted(t *testing.T) {
	skey, vkey := fixedKey(t, "external-auditor", 7)
	k, err := ParsePrivateKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	seed := skey[strings.LastIndex(skey, "+")+1:]
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		for _, x := range []any{k, *k} {
			out := fmt.Sprintf(verb, x)
			if strings.Contains(out, seed) || strings.Contains(out, "PRIVATE") || !strings.Contains(out, vkey) {
				t.Errorf("Sprintf(%s, %T) = %q", verb, x, out)
			}
		}
	}
}

func TestParseKeysRejects(t *testing.T) {
	skey, vkey := fixedKey(t, "external-auditor", 7)
	_, otherVkey := fixedKey(t, "external-auditor", 8)
	parts := strings.Split(vkey, "+") // name, hash, base64
	name, hash, b64 := parts[0], parts[1], parts[2]
	raw, _ := base64.StdEncoding.DecodeString(b64)
	enc := base64.StdEncoding.EncodeToString
	otherB64 := strings.Split(otherVkey, "+")[2]
	wrongAlg := append([]byte{0x04}, raw[1:]...)

	badVerifier := map[string]string{
		"empty":                 "",
		"no separators":         "external-auditor",
		"one separator":         name + "+" + hash,
		"empty name":            "+" + hash + "+" + b64,
		"name with space":       "external auditor+" + hash + "+" + b64,
		"short hash":            name + "+" + hash[:7] + "+" + b64,
		"long hash":             name + "+0" + hash + "+" + b64,
		"upper-case hash":       name + "+" + strings.ToUpper(hash) + "+" + b64,
		"non-hex hash":          name + "+zzzzzzzz+" + b64,
		"wrong hash":            name + "+" + fmt.Sprintf("%08x", binary.BigEndian.Uint32(mustHex(hash))^1) + "+" + b64,
		"hash of another key":   name + "+" + hash + "+" + otherB64,
		"other name":            "other-auditor+" + hash + "+" + b64,
		"not base64":            name + "+" + hash + "+" + "!!!!",
		"base64 with newline":   name + "+" + hash + "+" + b64[:4] + "\n" + b64[4:],
		"url-safe base64":       name + "+" + hash + "+" + strings.NewReplacer("+", "-", "/", "_").Replace(b64) + "x",
		"wrong algorithm":       name + "+" + hash + "+" + enc(wrongAlg),
		"no algorithm byte":     name + "+" + hash + "+" + enc(raw[1:]),
		"short key":             name + "+" + hash + "+" + enc(raw[:32]),
		"long key":              name + "+" + hash + "+" + enc(append(append([]byte{}, raw...), 0)),
		"empty key data":        name + "+" + hash + "+",
		"private key":           skey,
		"trailing newline":      vkey + "\n",
		"extra plus in payload": vkey + "+",
	}
	for desc, k := range badVerifier {
		if _, err := ParsePublicKey(k); err == nil {
			t.Errorf("ParsePublicKey(%s: %q) succeeded", desc, k)
		}
		// A malformed trusted key is an error for Verify, never a pass.
		if _, err := Verify(mustSign(t, skey, testSubject, testPredicate), k); err == nil {
			t.Errorf("Verify with verifier key %s succeeded", desc)
		}
	}
	sparts := strings.Split(skey, "+")
	sb64 := sparts[len(sparts)-1]
	sraw, _ := base64.StdEncoding.DecodeString(sb64)
	badPrivate := map[string]string{
		"empty":                "",
		"verifier key":         vkey,
		"no prefix":            strings.TrimPrefix(skey, "PRIVATE+KEY+"),
		"lower-case prefix":    "private+key+" + strings.TrimPrefix(skey, "PRIVATE+KEY+"),
		"wrong hash":           "PRIVATE+KEY+" + name + "+" + fmt.Sprintf("%08x", binary.BigEndian.Uint32(mustHex(hash))^1) + "+" + sb64,
		"other name":           "PRIVATE+KEY+other+" + hash + "+" + sb64,
		"wrong algorithm":      "PRIVATE+KEY+" + name + "+" + hash + "+" + enc(append([]byte{0x04}, sraw[1:]...)),
		"short seed":           "PRIVATE+KEY+" + name + "+" + hash + "+" + enc(sraw[:32]),
		"long seed":            "PRIVATE+KEY+" + name + "+" + hash + "+" + enc(append(append([]byte{}, sraw...), 0)),
		"not base64":           "PRIVATE+KEY+" + name + "+" + hash + "+%%%%",
		"missing key data":     "PRIVATE+KEY+" + name + "+" + hash,
		"name with space":      "PRIVATE+KEY+a b+" + hash + "+" + sb64,
		"upper-case hash":      "PRIVATE+KEY+" + name + "+" + strings.ToUpper(hash) + "+" + sb64,
		"witness key (alg 4)":  "PRIVATE+KEY+" + name + "+" + hash + "+" + enc(append([]byte{0x04}, sraw[1:]...)),
		"trailing white space": skey + " ",
	}
	for desc, k := range badPrivate {
		if _, err := ParsePrivateKey(k); err == nil {
			t.Errorf("ParsePrivateKey(%s) succeeded", desc)
		}
		if _, err := Sign(k, testSubject, testPredicateType, testPredicate); err == nil {
			t.Errorf("Sign with private key %s succeeded", desc)
		}
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// FuzzVerify checks that Verify never panics, that every failure wraps one
// of the documented sentinels, and that whatever it accepts carries a
// payload that the trusted key actually signed.
func FuzzVerify(f *testing.F) {
	skey, vkey := fixedKey(f, "external-auditor", 7)
	_, otherVkey := fixedKey(f, "other-auditor", 8)
	envA := mustSign(f, skey, testSubject, testPredicate)
	envB := mustSign(f, skey, Subject{Name: "b", Digest: map[string]string{"sha256": digestOf("b")}}, map[string]any{"k": "v"})
	signed := [][]byte{decodePayload(f, envA), decodePayload(f, envB)}

	seeds := [][]byte{
		envA,
		envB,
		modify(f, envA, func(e *envelopeFields) { e.Signatures[0].KeyID = "" }),
		modify(f, envA, func(e *envelopeFields) { e.Payload = flipB64(f, e.Payload, 10) }),
		modify(f, envA, func(e *envelopeFields) { e.Signatures[0].Sig = flipB64(f, e.Signatures[0].Sig, 10) }),
		modify(f, envA, func(e *envelopeFields) { e.PayloadType = "text/plain" }),
		modify(f, envA, func(e *envelopeFields) { e.Signatures = append(e.Signatures, e.Signatures[0]) }),
		modify(f, envA, func(e *envelopeFields) { e.Payload = decodeFields(f, envB).Payload }),
		signRaw(f, skey, PayloadType, statementJSON("https://in-toto.io/Statement/v0.1", digestOf("x"))),
		bytes.Replace(envA, []byte(`{"payloadType":`), []byte(`{"payloadType":"x","payloadType":`), 1),
		envA[:len(envA)/2],
		[]byte(`{}`),
		[]byte(`{"payloadType":"","payload":"","signatures":[{"keyid":"","sig":""}]}`),
		[]byte(`null`),
		nil,
	}
	for _, s := range seeds {
		f.Add(s, false)
		f.Add(s, true)
	}
	sentinels := []error{ErrTooLarge, ErrMalformed, ErrPayloadType, ErrNoKeys, ErrUnknownKey, ErrBadSignature, ErrStatement}
	f.Fuzz(func(t *testing.T, env []byte, both bool) {
		vkeys := []string{vkey}
		if both {
			vkeys = []string{otherVkey, vkey}
		}
		v, err := Verify(env, vkeys...)
		if err != nil {
			if v != nil {
				t.Fatal("Verify returned content with an error")
			}
			n := 0
			for _, s := range sentinels {
				if errors.Is(err, s) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("error %q wraps %d sentinels, want exactly 1", err, n)
			}
			return
		}
		if !bytes.Equal(v.Payload, signed[0]) && !bytes.Equal(v.Payload, signed[1]) {
			t.Fatalf("Verify accepted a payload that was never signed: %q", v.Payload)
		}
		if v.KeyName != "external-auditor" || len(v.Subjects) == 0 || v.PredicateType == "" || !json.Valid(v.Predicate) {
			t.Fatalf("accepted envelope with incomplete content: %+v", v)
		}
		for _, s := range v.Subjects {
			for alg, d := range s.Digest {
				if err := CheckSubject(v, alg+":"+d); err != nil {
					t.Fatalf("CheckSubject(own subject %s:%s) = %v", alg, d, err)
				}
			}
		}
	})
}
