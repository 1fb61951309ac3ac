package transparency

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// testNoteKey returns a deterministic Ed25519 note signer and verifier key.
func testNoteKey(t testing.TB, name string, seed byte) (note.Signer, string) {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.SplitN(vkey, "+", 3)[1]
	s, err := note.NewSigner("PRIVATE+KEY+" + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
	if err != nil {
		t.Fatal(err)
	}
	return s, vkey
}

func testVerifiers(t testing.TB, vkeys ...string) note.Verifiers {
	t.Helper()
	var vs []note.Verifier
	for _, k := range vkeys {
		v, err := note.NewVerifier(k)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return note.VerifierList(vs...)
}

var testRoot = tlog.RecordHash([]byte("root"))

func TestFormatCheckpoint(t *testing.T) {
	got := string(FormatCheckpoint("example.com/log", 42, testRoot))
	want := "example.com/log\n42\n" + base64.StdEncoding.EncodeToString(testRoot[:]) + "\n"
	if got != want {
		t.Fatalf("FormatCheckpoint = %q, want %q", got, want)
	}
	if got := DefaultOrigin("prod"); got != "scalegate.dev/log/prod" {
		t.Fatalf("DefaultOrigin = %q", got)
	}
	if got := string(FormatCheckpoint("o", 0, EmptyRoot)); got != "o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n" {
		t.Fatalf("empty checkpoint = %q", got)
	}
}

func TestParseCheckpoint(t *testing.T) {
	root := base64.StdEncoding.EncodeToString(testRoot[:])
	empty := base64.StdEncoding.EncodeToString(EmptyRoot[:])
	// A root whose base64 has non-zero padding bits (same bytes as root
	// under lenient decoding).
	sloppy := root[:42] + string(root[42]+1) + "="
	tests := []struct {
		name    string
		body    string
		want    Checkpoint
		wantErr string
	}{
		{"ok", "example.com/log\n42\n" + root + "\n", Checkpoint{"example.com/log", 42, testRoot}, ""},
		{"zero", "example.com/log\n0\n" + empty + "\n", Checkpoint{"example.com/log", 0, EmptyRoot}, ""},
		{"max size", "o\n9223372036854775807\n" + root + "\n", Checkpoint{"o", 1<<63 - 1, testRoot}, ""},
		{"zero with other root", "o\n0\n" + root + "\n", Checkpoint{}, "empty tree"},
		{"no final newline", "o\n42\n" + root, Checkpoint{}, "newline"},
		{"extension line", "o\n42\n" + root + "\next\n", Checkpoint{}, "extension"},
		{"two lines", "o\n42\n", Checkpoint{}, "got 2 lines"},
		{"empty", "", Checkpoint{}, "newline"},
		{"blank origin", "\n42\n" + root + "\n", Checkpoint{}, "origin"},
		{"origin with space", "o o\n42\n" + root + "\n", Checkpoint{}, "origin"},
		{"origin with plus", "o+o\n42\n" + root + "\n", Checkpoint{}, "origin"},
		{"leading zero", "o\n042\n" + root + "\n", Checkpoint{}, "leading zero"},
		{"plus sign", "o\n+42\n" + root + "\n", Checkpoint{}, "decimal"},
		{"negative", "o\n-1\n" + root + "\n", Checkpoint{}, "decimal"},
		{"overflow", "o\n9223372036854775808\n" + root + "\n", Checkpoint{}, "range"},
		{"empty size", "o\n\n" + root + "\n", Checkpoint{}, "empty"},
		{"unpadded root", "o\n42\n" + strings.TrimSuffix(root, "=") + "\n", Checkpoint{}, "44"},
		{"url base64 root", "o\n42\n" + strings.NewReplacer("+", "-", "/", "_").Replace(root) + "\n", Checkpoint{}, "base64"},
		{"non-canonical root", "o\n42\n" + sloppy + "\n", Checkpoint{}, "base64"},
		{"short root", "o\n42\nAAAA\n", Checkpoint{}, "44"},
		{"crlf", "o\r\n42\n" + root + "\n", Checkpoint{}, "origin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCheckpoint([]byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c != tt.want {
				t.Fatalf("got %+v, want %+v", c, tt.want)
			}
			if !bytes.Equal(c.Body(), []byte(tt.body)) {
				t.Fatalf("Body() = %q, want %q", c.Body(), tt.body)
			}
		})
	}
}

func TestSignOpenCheckpoint(t *testing.T) {
	const origin = "scalegate.dev/log/test"
	s, vkey := testNoteKey(t, origin, 1)
	other, otherVkey := testNoteKey(t, origin, 2)
	misnamed, misnamedVkey := testNoteKey(t, "other.example/log", 3)
	c := Checkpoint{Origin: origin, Size: 7, Root: testRoot}
	signed, err := SignCheckpoint(c, s)
	if err != nil {
		t.Fatal(err)
	}
	got, n, err := OpenCheckpoint(signed, testVerifiers(t, vkey))
	if err != nil {
		t.Fatal(err)
	}
	if got != c || len(n.Sigs) != 1 {
		t.Fatalf("OpenCheckpoint = %+v (%d sigs)", got, len(n.Sigs))
	}

	forged, err := SignCheckpoint(c, other)
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint signed by the misnamed key over the same body.
	foreign, err := note.Sign(&note.Note{Text: string(c.Body())}, misnamed)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(signed, []byte("\n7\n"), []byte("\n8\n"), 1)
	tests := []struct {
		name    string
		signed  []byte
		vkeys   []string
		wantErr string
	}{
		{"other key", forged, []string{vkey}, "not signed by a trusted key"},
		{"tampered body", tampered, []string{vkey}, "invalid"},
		{"key not named after origin", foreign, []string{misnamedVkey}, "not signed by a trusted log key of that name"},
		{"no verifiers", signed, nil, "not signed by a trusted key"},
		{"garbage", []byte("hello"), []string{vkey}, "malformed"},
		{"too large", append(bytes.Repeat([]byte("x"), MaxSignedCheckpointSize), signed...), []string{vkey}, "limit"},
		{"valid with extra unknown key", forged, []string{otherVkey, misnamedVkey}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := OpenCheckpoint(tt.signed, testVerifiers(t, tt.vkeys...))
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

	// Signing refuses bad checkpoints.
	bad := []Checkpoint{
		{Origin: "other.example/log", Size: 1, Root: testRoot},
		{Origin: origin, Size: -1, Root: testRoot},
		{Origin: origin, Size: 0, Root: testRoot},
		{Origin: "bad origin", Size: 1, Root: testRoot},
	}
	for _, b := range bad {
		if _, err := SignCheckpoint(b, s); err == nil {
			t.Errorf("SignCheckpoint(%+v) succeeded", b)
		}
	}
}
