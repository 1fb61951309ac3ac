package transparency

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key file names inside a log key directory.
const (
	PrivateKeyFile = "log.key" // "PRIVATE+KEY+<origin>+<key ID>+<base64(0x01 || seed)>\n", mode 0600
	PublicKeyFile  = "log.pub" // "<origin>+<key ID>+<base64(0x01 || public key)>\n"
)

// Key is a log's checkpoint signing key. Formatting a Key with any fmt verb
// prints only its public verifier key; the private key is never printed.
type Key struct {
	origin   string
	vkey     string
	signer   note.Signer
	verifier note.Verifier
}

// Signer returns the note signer for checkpoints.
func (k *Key) Signer() note.Signer { return k.signer }

// Verifier returns the note verifier for the key's signatures.
func (k *Key) Verifier() note.Verifier { return k.verifier }

// VerifierKey returns the public verifier key text "<origin>+<hex key ID>+<base64>".
func (k *Key) VerifierKey() string { return k.vkey }

// Origin returns the key name, which is the log's checkpoint origin.
func (k *Key) Origin() string { return k.origin }

// String returns a description holding only the public verifier key.
func (k Key) String() string { return "log key " + k.vkey }

// GoString is like String, so %#v is safe too.
func (k Key) GoString() string { return k.String() }

// Format implements fmt.Formatter so that every verb prints String.
func (k Key) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// parseKey turns a private key text into a Key, deriving the verifier key.
func parseKey(skey string) (*Key, error) {
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("malformed log private key: %w", err)
	}
	// note.NewSigner has checked the structure and the algorithm byte.
	fields := strings.SplitN(skey, "+", 5)
	raw, err := base64.StdEncoding.DecodeString(fields[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize {
		return nil, errors.New("malformed log private key: bad key data")
	}
	pub := ed25519.NewKeyFromSeed(raw[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, fmt.Errorf("deriving log verifier key: %w", err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("deriving log verifier key: %w", err)
	}
	if verifier.KeyHash() != signer.KeyHash() {
		return nil, errors.New("malformed log private key: key ID does not match the key")
	}
	return &Key{origin: signer.Name(), vkey: vkey, signer: signer, verifier: verifier}, nil
}

// LoadKey reads the log key in dir without creating one. The key file must
// not be readable or writable by group or others, and its key name must
// equal origin.
func LoadKey(dir, origin string) (*Key, error) {
	path := filepath.Join(dir, PrivateKeyFile)
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("log key %s has mode %04o: must not be accessible by group or others (chmod 600)", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	k, err := parseKey(strings.TrimSuffix(string(data), "\n"))
	if err != nil {
		return nil, fmt.Errorf("log key %s: %w", path, err)
	}
	if k.origin != origin {
		return nil, fmt.Errorf("log key %s is for origin %q, not %q", path, k.origin, origin)
	}
	if err := ensurePublicKey(dir, k.vkey); err != nil {
		return nil, err
	}
	return k, nil
}

// LoadOrCreateKey returns the log key in dir, creating dir (mode 0700), a
// new Ed25519 key named origin in dir/log.key (mode 0600) and its verifier
// key in dir/log.pub if there is none. The private key file is written to a
// temporary file, synced and then hard-linked into place, so it is either
// absent or complete, and an existing key is never replaced: if another
// process creates the key first, that key is loaded. An existing log.pub must
// match the key; a missing one is recreated.
func LoadOrCreateKey(dir, origin string) (*Key, error) {
	if err := checkOrigin(origin); err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	path := filepath.Join(dir, PrivateKeyFile)
	if _, err := os.Stat(path); err == nil {
		return LoadKey(dir, origin)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("log key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		return nil, fmt.Errorf("generating log key: %w", err)
	}
	if err := createExclusive(path, []byte(skey+"\n")); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return LoadKey(dir, origin)
		}
		return nil, fmt.Errorf("writing log key: %w", err)
	}
	return LoadKey(dir, origin)
}

// ensurePublicKey writes dir/log.pub if missing and checks it otherwise.
func ensurePublicKey(dir, vkey string) error {
	path := filepath.Join(dir, PublicKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if got := strings.TrimSpace(string(data)); got != vkey {
			return fmt.Errorf("%s holds %q, which does not match the log key %q", path, got, vkey)
		}
		return nil
	case errors.Is(err, fs.ErrNotExist):
		if err := writeAtomic(path, []byte(vkey+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing log public key: %w", err)
		}
		return nil
	default:
		return fmt.Errorf("log public key: %w", err)
	}
}

// tempFile writes data to a new synced temporary file next to path.
func tempFile(path string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// createExclusive atomically creates path with data and mode 0600, failing
// with an error wrapping fs.ErrExist if path already exists.
func createExclusive(path string, data []byte) error {
	tmp, err := tempFile(path, data, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeAtomic replaces path with data via a synced temporary file and rename.
func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := tempFile(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	return nil
}
