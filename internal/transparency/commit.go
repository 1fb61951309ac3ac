package transparency

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// SaltSize is the length of commitment salts in bytes.
const SaltSize = 32

// commitmentPrefix starts every commitment string.
const commitmentPrefix = "sha256:"

// NewSalt returns SaltSize bytes from crypto/rand.
func NewSalt() ([]byte, error) {
	salt := make([]byte, SaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("generating salt: %w", err)
	}
	return salt, nil
}

// Commit returns the commitment to a value given as its canonical JSON
// encoding: "sha256:" followed by the lowercase hex SHA-256 of salt
// immediately followed by canonicalJSON. The salt must be SaltSize bytes
// (from NewSalt); Commit panics otherwise, because a commitment with any
// other salt length could never be checked.
func Commit(salt []byte, canonicalJSON []byte) string {
	if len(salt) != SaltSize {
		panic(fmt.Sprintf("transparency.Commit: salt is %d bytes, want %d", len(salt), SaltSize))
	}
	h := sha256.New()
	h.Write(salt)
	h.Write(canonicalJSON)
	return commitmentPrefix + hex.EncodeToString(h.Sum(nil))
}

// CheckCommitment reports whether commitment (as returned by Commit) opens
// to canonicalJSON with salt. It returns an error describing a malformed
// commitment, a salt of the wrong length or a mismatch.
func CheckCommitment(commitment string, salt []byte, canonicalJSON []byte) error {
	hexDigest, ok := strings.CutPrefix(commitment, commitmentPrefix)
	if !ok || len(hexDigest) != 2*sha256.Size || strings.ToLower(hexDigest) != hexDigest {
		return fmt.Errorf("malformed commitment %q: want sha256:<64 lowercase hex digits>", commitment)
	}
	want, err := hex.DecodeString(hexDigest)
	if err != nil {
		return fmt.Errorf("malformed commitment %q: %w", commitment, err)
	}
	if len(salt) != SaltSize {
		return fmt.Errorf("salt is %d bytes, want %d", len(salt), SaltSize)
	}
	h := sha256.New()
	h.Write(salt)
	h.Write(canonicalJSON)
	if subtle.ConstantTimeCompare(h.Sum(nil), want) != 1 {
		return errors.New("commitment does not match the revealed value and salt")
	}
	return nil
}
