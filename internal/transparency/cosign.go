package transparency

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// algCosignatureV1 is the signed-note signature type of timestamped Ed25519
// cosignatures (c2sp.org/tlog-cosignature).
const algCosignatureV1 = 0x04

// maxNoteSignatures is the number of signature lines note.Open accepts.
const maxNoteSignatures = 100

// keyID computes the C2SP signed-note key ID: the first four bytes of
// SHA-256(name || "\n" || key), where key starts with the algorithm byte.
func keyID(name string, key []byte) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte("\n"))
	h.Write(key)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// cosignedMessage returns the bytes a cosigner signs for a checkpoint body
// at Unix time t.
func cosignedMessage(t uint64, body []byte) []byte {
	m := make([]byte, 0, 40+len(body))
	m = append(m, "cosignature/v1\ntime "...)
	m = strconv.AppendUint(m, t, 10)
	m = append(m, '\n')
	return append(m, body...)
}

// parseKeyText splits "<name>+<hex8>+<base64>" and checks the name, the
// algorithm byte, the key length and the key ID.
func parseKeyText(text string, alg byte, keyLen int) (name string, id uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(text, "+")
	hex8, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validName(name) {
		return "", 0, nil, errors.New("want <name>+<8 hex digits>+<base64>")
	}
	n, err := strconv.ParseUint(hex8, 16, 32)
	if err != nil || len(hex8) != 8 {
		return "", 0, nil, fmt.Errorf("key ID %q is not 8 hex digits", hex8)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || strings.ContainsAny(b64, "\r\n") {
		return "", 0, nil, errors.New("key data is not valid base64")
	}
	if len(raw) == 0 || raw[0] != alg {
		return "", 0, nil, fmt.Errorf("key algorithm is not 0x%02x", alg)
	}
	if len(raw) != 1+keyLen {
		return "", 0, nil, fmt.Errorf("key data is %d bytes, want %d", len(raw), 1+keyLen)
	}
	return name, uint32(n), raw, nil
}

type cosigVerifier struct {
	name string
	id   uint32
	pub  ed25519.PublicKey
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.id }

// Verify checks a cosignature: 8-byte big-endian timestamp || Ed25519 signature.
func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	return ed25519.Verify(v.pub, cosignedMessage(binary.BigEndian.Uint64(sig), msg), sig[8:])
}

// CosignatureVerifier returns a note.Verifier for cosignature/v1 signatures
// by the witness whose verifier key is vkey, in the form
// "<name>+<key ID>+base64(0x04 || 32-byte Ed25519 public key)" with key ID
// the first 4 bytes of SHA-256(name || 0x0A || 0x04 || public key), as
// written by GenerateWitnessKey. Keys with other algorithm bytes (including
// plain Ed25519 note keys, 0x01) are rejected.
func CosignatureVerifier(vkey string) (note.Verifier, error) {
	name, id, raw, err := parseKeyText(vkey, algCosignatureV1, ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("witness verifier key: %w", err)
	}
	if keyID(name, raw) != id {
		return nil, fmt.Errorf("witness verifier key: key ID %08x does not match the key", id)
	}
	return &cosigVerifier{name: name, id: id, pub: ed25519.PublicKey(raw[1:])}, nil
}

// GenerateWitnessKey generates a witness key pair named name. The signer key
// is "PRIVATE+KEY+<name>+<key ID>+base64(0x04 || 32-byte Ed25519 seed)" and
// the verifier key is as accepted by CosignatureVerifier.
func GenerateWitnessKey(name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("invalid witness name %q", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("generating witness key: %w", err)
	}
	pk := append([]byte{algCosignatureV1}, pub...)
	sk := append([]byte{algCosignatureV1}, priv.Seed()...)
	id := keyID(name, pk)
	skey = fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(sk))
	vkey = fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(pk))
	return skey, vkey, nil
}

// Witness produces cosignature/v1 signatures. It is a note.Signer whose
// signatures are timestamped cosignatures. It checks only the log's
// signature before cosigning, not consistency with earlier checkpoints, so
// it is a building block (and a test double), not a full c2sp.org/tlog-witness.
// Formatting a Witness prints only its verifier key.
type Witness struct {
	name string
	id   uint32
	priv ed25519.PrivateKey
	vkey string
	now  func() time.Time
}

// NewWitness returns a Witness for the signer key skey (as written by
// GenerateWitnessKey). now supplies cosignature timestamps; nil means
// time.Now.
func NewWitness(skey string, now func() time.Time) (*Witness, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, errors.New("witness signer key: missing PRIVATE+KEY+ prefix")
	}
	name, id, raw, err := parseKeyText(rest, algCosignatureV1, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("witness signer key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	pk := append([]byte{algCosignatureV1}, priv.Public().(ed25519.PublicKey)...)
	if keyID(name, pk) != id {
		return nil, fmt.Errorf("witness signer key: key ID %08x does not match the key", id)
	}
	if now == nil {
		now = time.Now
	}
	vkey := fmt.Sprintf("%s+%08x+%s", name, id, base64.StdEncoding.EncodeToString(pk))
	return &Witness{name: name, id: id, priv: priv, vkey: vkey, now: now}, nil
}

// Name returns the witness name.
func (w *Witness) Name() string { return w.name }

// KeyHash returns the witness key ID.
func (w *Witness) KeyHash() uint32 { return w.id }

// VerifierKey returns the witness verifier key text.
func (w *Witness) VerifierKey() string { return w.vkey }

// String returns a description holding only the verifier key.
func (w Witness) String() string { return "witness key " + w.vkey }

// Format implements fmt.Formatter so that every verb prints String.
func (w Witness) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(w.String())) }

// Sign returns a cosignature of the note text msg (a checkpoint body):
// the current Unix time as 8 big-endian bytes followed by the Ed25519
// signature of cosignedMessage.
func (w *Witness) Sign(msg []byte) ([]byte, error) {
	t := w.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosignature time %d is before 1970", t)
	}
	sig := binary.BigEndian.AppendUint64(make([]byte, 0, 8+ed25519.SignatureSize), uint64(t))
	return append(sig, ed25519.Sign(w.priv, cosignedMessage(uint64(t), msg))...), nil
}

// Cosign verifies the log signature on signedCheckpoint with logVerifiers
// (as OpenCheckpoint does) and returns the witness's cosignature line,
// "— <name> <base64(key ID || timestamp || signature)>\n", ready for
// AddCosignatures.
func (w *Witness) Cosign(signedCheckpoint []byte, logVerifiers note.Verifiers) ([]byte, error) {
	c, _, err := OpenCheckpoint(signedCheckpoint, logVerifiers)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.name, err)
	}
	msg, err := note.Sign(&note.Note{Text: string(c.Body())}, w)
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w", w.name, err)
	}
	_, lines, err := splitNote(msg)
	if err != nil || len(lines) != 1 {
		return nil, fmt.Errorf("witness %s: producing cosignature line: %v", w.name, err)
	}
	return lines[0], nil
}

// AddCosignatures appends signature lines to a signed checkpoint. Each
// element of lines holds one or more complete signature lines
// ("— <name> <base64>\n"; the final newline may be omitted), as returned by
// Witness.Cosign or a c2sp.org/tlog-witness add-checkpoint response. A line
// whose key (name and key ID) already signed the note is skipped, so an
// existing signature is never replaced. Signatures are not verified here;
// use OpenCosigned.
func AddCosignatures(signed []byte, lines [][]byte) ([]byte, error) {
	if len(signed) > MaxSignedCheckpointSize {
		return nil, fmt.Errorf("signed checkpoint is %d bytes, larger than the %d byte limit", len(signed), MaxSignedCheckpointSize)
	}
	text, sigs, err := splitNote(signed)
	if err != nil {
		return nil, err
	}
	type key struct {
		name string
		id   uint32
	}
	have := make(map[key]bool)
	for _, s := range sigs {
		name, id, _ := parseSigLine(s)
		have[key{name, id}] = true
	}
	for i, l := range lines {
		if len(l) > 0 && l[len(l)-1] != '\n' {
			l = append(l[:len(l):len(l)], '\n')
		}
		add, err := splitSigLines(l)
		if err != nil {
			return nil, fmt.Errorf("cosignature %d: %w", i, err)
		}
		for _, s := range add {
			name, id, _ := parseSigLine(s)
			if have[key{name, id}] {
				continue
			}
			have[key{name, id}] = true
			sigs = append(sigs, s)
		}
	}
	if len(sigs) > maxNoteSignatures {
		return nil, fmt.Errorf("checkpoint would have %d signatures, more than the %d allowed", len(sigs), maxNoteSignatures)
	}
	var b bytes.Buffer
	b.Write(text)
	b.WriteByte('\n')
	for _, s := range sigs {
		b.Write(s)
	}
	if b.Len() > MaxSignedCheckpointSize {
		return nil, fmt.Errorf("cosigned checkpoint would be %d bytes, larger than the %d byte limit", b.Len(), MaxSignedCheckpointSize)
	}
	return b.Bytes(), nil
}

// Cosignature is a verified witness cosignature.
type Cosignature struct {
	Witness string    // witness key name
	KeyID   uint32    // witness key ID
	Time    time.Time // time the witness asserts it saw the checkpoint (UTC, whole seconds)
}

// OpenCosigned verifies a cosigned checkpoint: it must carry a valid
// signature by the log key logVkey, named after the checkpoint origin, and
// valid cosignatures by at least minWitnesses distinct keys among
// witnessVkeys (CosignatureVerifier format). A signature by any given key
// that does not verify is an error; signatures by other keys are ignored.
// It returns the checkpoint and the verified cosignatures in note order.
func OpenCosigned(signed []byte, logVkey string, witnessVkeys []string, minWitnesses int) (Checkpoint, []Cosignature, error) {
	logV, err := note.NewVerifier(logVkey)
	if err != nil {
		return Checkpoint{}, nil, fmt.Errorf("log verifier key %q: %w", logVkey, err)
	}
	vs := []note.Verifier{logV}
	witness := make(map[string]bool)
	for _, wk := range witnessVkeys {
		v, err := CosignatureVerifier(wk)
		if err != nil {
			return Checkpoint{}, nil, err
		}
		witness[v.Name()+"+"+fmt.Sprintf("%08x", v.KeyHash())] = true
		vs = append(vs, v)
	}
	n, err := openNote(signed, note.VerifierList(vs...))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, nil, err
	}
	var logSigned bool
	var cosigs []Cosignature
	for _, s := range n.Sigs {
		switch {
		case s.Name == c.Origin && s.Hash == logV.KeyHash() && logV.Name() == c.Origin:
			logSigned = true
		case witness[s.Name+"+"+fmt.Sprintf("%08x", s.Hash)]:
			raw, err := base64.StdEncoding.DecodeString(s.Base64)
			if err != nil || len(raw) != 4+8+ed25519.SignatureSize {
				return Checkpoint{}, nil, fmt.Errorf("malformed cosignature by %s", s.Name)
			}
			t := binary.BigEndian.Uint64(raw[4:])
			if t > 1<<62 {
				return Checkpoint{}, nil, fmt.Errorf("cosignature by %s has an impossible timestamp %d", s.Name, t)
			}
			cosigs = append(cosigs, Cosignature{Witness: s.Name, KeyID: s.Hash, Time: time.Unix(int64(t), 0).UTC()})
		}
	}
	if !logSigned {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint for origin %q is not signed by the log key %s", c.Origin, logVkey)
	}
	if len(cosigs) < minWitnesses {
		return Checkpoint{}, nil, fmt.Errorf("checkpoint has %d valid cosignatures from the given witnesses, need %d", len(cosigs), minWitnesses)
	}
	return c, cosigs, nil
}
