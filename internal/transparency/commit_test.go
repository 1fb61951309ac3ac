package transparency

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestCommit(t *testing.T) {
	salt := bytes.Repeat([]byte{0xab}, SaltSize)
	value := []byte(`{"score":0.71}`)
	sum := sha256.Sum256(append(append([]byte{}, salt...), value...))
	want := "sha256:" + hex.EncodeToString(sum[:])
	got := Commit(salt, value)
	if got != want {
		t.Fatalf("Commit = %s, want %s", got, want)
	}

	otherSalt := bytes.Repeat([]byte{0xac}, SaltSize)
	tests := []struct {
		name       string
		commitment string
		salt       []byte
		value      []byte
		wantErr    string
	}{
		{"ok", got, salt, value, ""},
		{"other value", got, salt, []byte(`{"score":0.72}`), "does not match"},
		{"other salt", got, otherSalt, value, "does not match"},
		{"short salt", got, salt[:31], value, "salt is 31 bytes"},
		{"uppercase", strings.ToUpper(got[:7]) + got[7:], salt, value, "malformed"},
		{"uppercase hex", "sha256:" + strings.ToUpper(got[7:]), salt, value, "malformed"},
		{"other algorithm", "sha512:" + got[7:], salt, value, "malformed"},
		{"truncated", got[:len(got)-2], salt, value, "malformed"},
		{"not hex", "sha256:" + strings.Repeat("zz", 32), salt, value, "malformed"},
		{"empty", "", salt, value, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCommitment(tt.commitment, tt.salt, tt.value)
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

func TestNewSalt(t *testing.T) {
	a, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSalt()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SaltSize || len(b) != SaltSize || bytes.Equal(a, b) {
		t.Fatalf("salts %x and %x", a, b)
	}
}

func TestCommitPanicsOnBadSalt(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Commit with a 16-byte salt did not panic")
		}
	}()
	Commit(make([]byte, 16), nil)
}
