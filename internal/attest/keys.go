package attest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// algEd25519 is the signed-note algorithm byte for Ed25519 keys.
const algEd25519 = 0x01

// GenerateKey generates an attester key pair named name, in the note key
// formats (see the package documentation).
func GenerateKey(name string) (skey, vkey string, err error) {
	if !validName(name) {
		return "", "", fmt.Errorf("invalid attester key name %q: must be non-empty UTF-8 without spaces, control characters or '+'", name)
	}
	skey, vkey, err = note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", "", fmt.Errorf("generating attester key: %w", err)
	}
	return skey, vkey, nil
}

func validName(s string) bool {
	if s == "" || !utf8.ValidString(s) || strings.Contains(s, "+") {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) < 0
}

// keyHash is the note key hash: the first 4 bytes of
// SHA-256(name || "\n" || 0x01 || public key), big-endian.
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// parseKeyText parses "<name>+<8 hex digits>+<base64(0x01 || 32 bytes)>".
func parseKeyText(text string) (name string, hash uint32, key []byte, err error) {
	name, rest, ok1 := strings.Cut(text, "+")
	hex8, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 {
		return "", 0, nil, errors.New("want <name>+<8 hex digits>+<base64 key>")
	}
	if !validName(name) {
		return "", 0, nil, fmt.Errorf("invalid key name %q", name)
	}
	h, err := strconv.ParseUint(hex8, 16, 32)
	if err != nil || len(hex8) != 8 || strings.ToLower(hex8) != hex8 {
		return "", 0, nil, fmt.Errorf("key hash %q is not 8 lowercase hex digits", hex8)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || strings.ContainsAny(b64, "\r\n") {
		return "", 0, nil, errors.New("key data is not valid base64")
	}
	if len(raw) == 0 || raw[0] != algEd25519 {
		return "", 0, nil, errors.New("key algorithm is not Ed25519 (0x01)")
	}
	if len(raw) != 1+32 {
		return "", 0, nil, fmt.Errorf("key data is %d bytes, want 33", len(raw))
	}
	return name, uint32(h), raw[1:], nil
}

// PublicKey is an attester's verifier key. It implements dsse.Verifier.
type PublicKey struct {
	Name string            // key name
	ID   string            // "<name>+<8 hex digit key hash>", the DSSE keyid
	Key  ed25519.PublicKey // Ed25519 public key
}

// ParsePublicKey parses a verifier key "<name>+<hash>+<base64(0x01 || key)>"
// and checks the name, the algorithm byte, the key length and the key hash.
func ParsePublicKey(vkey string) (*PublicKey, error) {
	name, hash, key, err := parseKeyText(vkey)
	if err != nil {
		return nil, fmt.Errorf("attester verifier key: %w", err)
	}
	pub := ed25519.PublicKey(key)
	if keyHash(name, pub) != hash {
		return nil, fmt.Errorf("attester verifier key: key hash %08x does not match the key", hash)
	}
	return &PublicKey{Name: name, ID: fmt.Sprintf("%s+%08x", name, hash), Key: pub}, nil
}

// String returns the verifier key text.
func (k *PublicKey) String() string {
	return k.ID + "+" + base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, k.Key...))
}

// KeyID returns k.ID; it implements dsse.Verifier.
func (k *PublicKey) KeyID() (string, error) { return k.ID, nil }

// Public returns the Ed25519 public key; it implements dsse.Verifier.
func (k *PublicKey) Public() crypto.PublicKey { return k.Key }

// Verify checks an Ed25519 signature over data; it implements dsse.Verifier.
func (k *PublicKey) Verify(_ context.Context, data, sig []byte) error {
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(k.Key, data, sig) {
		return fmt.Errorf("ed25519 signature by %s does not verify", k.ID)
	}
	return nil
}

// PrivateKey is an attester's signing key. It implements dsse.Signer.
// Formatting a PrivateKey with any fmt verb prints only its public key.
type PrivateKey struct {
	pub  *PublicKey
	priv ed25519.PrivateKey
}

// ParsePrivateKey parses a signer key
// "PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>" and checks that the
// hash matches the public key derived from the seed.
func ParsePrivateKey(skey string) (*PrivateKey, error) {
	rest, ok := strings.CutPrefix(skey, "PRIVATE+KEY+")
	if !ok {
		return nil, errors.New("attester private key: missing PRIVATE+KEY+ prefix")
	}
	name, hash, seed, err := parseKeyText(rest)
	if err != nil {
		return nil, fmt.Errorf("attester private key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	if keyHash(name, pub) != hash {
		return nil, fmt.Errorf("attester private key: key hash %08x does not match the key", hash)
	}
	return &PrivateKey{
		pub:  &PublicKey{Name: name, ID: fmt.Sprintf("%s+%08x", name, hash), Key: pub},
		priv: priv,
	}, nil
}

// PublicKey returns the matching verifier key.
func (k *PrivateKey) PublicKey() *PublicKey { return k.pub }

// KeyID returns the key's DSSE keyid; it implements dsse.Signer.
func (k *PrivateKey) KeyID() (string, error) { return k.pub.ID, nil }

// Sign signs data with Ed25519; it implements dsse.Signer.
func (k *PrivateKey) Sign(_ context.Context, data []byte) ([]byte, error) {
	return ed25519.Sign(k.priv, data), nil
}

// String describes the key by its public half only.
func (k PrivateKey) String() string { return "attester private key for " + k.pub.String() }

// Format implements fmt.Formatter so that every verb prints String.
func (k PrivateKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }
