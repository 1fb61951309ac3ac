package transparency

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

func TestCosignatureVerifierKeys(t *testing.T) {
	_, logVkey := testNoteKey(t, "example.com/log", 1)
	_, wvkey, err := GenerateWitnessKey("witness.example/w1")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.SplitN(wvkey, "+", 3)
	tests := []struct {
		name    string
		vkey    string
		wantErr string
	}{
		// A native type 0x04 key from transparency-dev/formats' tests.
		{"published cosignature key", "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2", ""},
		{"generated", wvkey, ""},
		{"plain ed25519 key", logVkey, "algorithm"},
		{"wrong key ID", parts[0] + "+00000000+" + parts[2], "does not match"},
		{"renamed", "other.example+" + parts[1] + "+" + parts[2], "does not match"},
		{"short hex", parts[0] + "+da77ad+" + parts[2], "8 hex"},
		{"bad base64", parts[0] + "+" + parts[1] + "+!!!!", "base64"},
		{"truncated key", parts[0] + "+" + parts[1] + "+BAAA", "bytes"},
		{"missing parts", "witness", "want <name>"},
		{"space in name", "a b+" + parts[1] + "+" + parts[2], "want <name>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := CosignatureVerifier(tt.vkey)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if want := strings.SplitN(tt.vkey, "+", 2)[0]; v.Name() != want {
					t.Fatalf("Name() = %q, want %q", v.Name(), want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}

func fixedClock(sec int64) func() time.Time {
	return func() time.Time { return time.Unix(sec, 0) }
}

func TestCosignRoundTrip(t *testing.T) {
	const origin = "scalegate.dev/log/cosign"
	logS, logVkey := testNoteKey(t, origin, 1)
	signed, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 9, Root: testRoot}, logS)
	if err != nil {
		t.Fatal(err)
	}
	w1sk, w1vk, _ := GenerateWitnessKey("witness.example/w1")
	w2sk, w2vk, _ := GenerateWitnessKey("witness.example/w2")
	_, imposterVk, _ := GenerateWitnessKey("witness.example/w1") // same name, other key
	w1, err := NewWitness(w1sk, fixedClock(1727964367))
	if err != nil {
		t.Fatal(err)
	}
	w2, err := NewWitness(w2sk, nil)
	if err != nil {
		t.Fatal(err)
	}
	if w1.VerifierKey() != w1vk || w1.Name() != "witness.example/w1" {
		t.Fatalf("witness verifier key %q, want %q", w1.VerifierKey(), w1vk)
	}
	line1, err := w1.Cosign(signed, testVerifiers(t, logVkey))
	if err != nil {
		t.Fatal(err)
	}
	line2, err := w2.Cosign(signed, testVerifiers(t, logVkey))
	if err != nil {
		t.Fatal(err)
	}

	// Check the cosignature bytes against the C2SP spec by hand.
	name, b64, _ := strings.Cut(strings.TrimSuffix(strings.TrimPrefix(string(line1), "— "), "\n"), " ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || name != "witness.example/w1" || len(raw) != 4+8+64 {
		t.Fatalf("cosignature line %q", line1)
	}
	pubRaw, _ := base64.StdEncoding.DecodeString(strings.SplitN(w1vk, "+", 3)[2])
	sum := sha256.Sum256(append([]byte(name+"\n"), pubRaw...))
	if !bytes.Equal(raw[:4], sum[:4]) || pubRaw[0] != 0x04 {
		t.Fatalf("key ID %x, want %x", raw[:4], sum[:4])
	}
	if ts := binary.BigEndian.Uint64(raw[4:12]); ts != 1727964367 {
		t.Fatalf("timestamp %d", ts)
	}
	msg := "cosignature/v1\ntime 1727964367\n" + string(FormatCheckpoint(origin, 9, testRoot))
	if !ed25519.Verify(pubRaw[1:], []byte(msg), raw[12:]) {
		t.Fatal("cosignature does not verify over the C2SP cosigned message")
	}

	cosigned, err := AddCosignatures(signed, [][]byte{line1, bytes.TrimSuffix(line2, []byte("\n")), line1})
	if err != nil {
		t.Fatal(err)
	}
	if got := bytes.Count(cosigned, []byte("— ")); got != 3 {
		t.Fatalf("cosigned note has %d signatures, want 3:\n%s", got, cosigned)
	}
	// Adding the same lines again changes nothing.
	again, err := AddCosignatures(cosigned, [][]byte{line2, line1})
	if err != nil || !bytes.Equal(again, cosigned) {
		t.Fatalf("re-adding cosignatures changed the note: %v", err)
	}
	// The log-only view still opens.
	if _, n, err := OpenCheckpoint(cosigned, testVerifiers(t, logVkey)); err != nil || len(n.UnverifiedSigs) != 2 {
		t.Fatalf("OpenCheckpoint(cosigned) = %v", err)
	}

	c, cs, err := OpenCosigned(cosigned, logVkey, []string{w1vk, w2vk}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != 9 || len(cs) != 2 || cs[0].Witness != "witness.example/w1" || !cs[0].Time.Equal(time.Unix(1727964367, 0)) {
		t.Fatalf("OpenCosigned = %+v %+v", c, cs)
	}

	// Flip one byte of w1's Ed25519 signature.
	bad := append([]byte{}, raw...)
	bad[40] ^= 1
	tamperedLine := []byte("— " + name + " " + base64.StdEncoding.EncodeToString(bad) + "\n")
	tampered, err := AddCosignatures(signed, [][]byte{tamperedLine})
	if err != nil {
		t.Fatal(err)
	}
	// A cosignature for another checkpoint, moved onto this one.
	other, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 10, Root: testRoot}, logS)
	otherLine, err := w1.Cosign(other, testVerifiers(t, logVkey))
	if err != nil {
		t.Fatal(err)
	}
	moved, _ := AddCosignatures(signed, [][]byte{otherLine})
	// A cosignature whose timestamp was changed.
	retimed := append([]byte{}, raw...)
	retimed[11]++
	retimedSigned, _ := AddCosignatures(signed, [][]byte{[]byte("— " + name + " " + base64.StdEncoding.EncodeToString(retimed) + "\n")})

	tests := []struct {
		name     string
		signed   []byte
		logVkey  string
		witness  []string
		min      int
		wantErr  string
		wantSigs int
	}{
		{"quorum of one", cosigned, logVkey, []string{w1vk}, 1, "", 1},
		{"no witnesses required", signed, logVkey, nil, 0, "", 0},
		{"wrong witness key", cosigned, logVkey, []string{imposterVk}, 1, "0 valid cosignatures", 0},
		{"quorum not met", cosigned, logVkey, []string{w1vk, imposterVk}, 2, "1 valid cosignatures", 0},
		{"tampered cosignature", tampered, logVkey, []string{w1vk}, 1, "invalid", 0},
		{"moved cosignature", moved, logVkey, []string{w1vk}, 1, "invalid", 0},
		{"changed timestamp", retimedSigned, logVkey, []string{w1vk}, 1, "invalid", 0},
		{"log key is not a witness key", cosigned, logVkey, []string{logVkey}, 1, "algorithm", 0},
		{"witness key as log key", cosigned, w1vk, nil, 0, "log verifier key", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cs, err := OpenCosigned(tt.signed, tt.logVkey, tt.witness, tt.min)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(cs) != tt.wantSigs {
					t.Fatalf("%d cosignatures, want %d", len(cs), tt.wantSigs)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}

	// Cosignatures alone do not make a checkpoint valid for the log.
	onlyWitness := bytes.Replace(cosigned, signatureLine(t, signed), nil, 1)
	if _, _, err := OpenCosigned(onlyWitness, logVkey, []string{w1vk, w2vk}, 2); err == nil || !strings.Contains(err.Error(), "not signed by the log key") {
		t.Fatalf("OpenCosigned without log signature = %v", err)
	}
	// A witness refuses to cosign a checkpoint the log did not sign.
	otherLogS, _ := testNoteKey(t, origin, 7)
	forged, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 9, Root: testRoot}, otherLogS)
	if _, err := w1.Cosign(forged, testVerifiers(t, logVkey)); err == nil {
		t.Fatal("witness cosigned a forged checkpoint")
	}
	// Formatting a witness never prints its private key.
	seed := strings.SplitN(w1sk, "+", 5)[4]
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(f, w1); strings.Contains(out, seed) || strings.Contains(out, "PRIVATE") {
			t.Fatalf("%s of Witness leaks the key: %s", f, out)
		}
	}
}

// signatureLine returns the first signature line of a signed note.
func signatureLine(t *testing.T, signed []byte) []byte {
	t.Helper()
	_, lines, err := splitNote(signed)
	if err != nil {
		t.Fatal(err)
	}
	return lines[0]
}

func TestAddCosignaturesErrors(t *testing.T) {
	const origin = "scalegate.dev/log/add"
	logS, logVkey := testNoteKey(t, origin, 1)
	signed, _ := SignCheckpoint(Checkpoint{Origin: origin, Size: 1, Root: testRoot}, logS)
	sig := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 76))
	many := make([][]byte, 0, maxNoteSignatures)
	for i := range maxNoteSignatures {
		many = append(many, []byte(fmt.Sprintf("— w%d %s\n", i, sig)))
	}
	tests := []struct {
		name    string
		signed  []byte
		lines   [][]byte
		wantErr string
	}{
		{"ok", signed, [][]byte{[]byte("— w " + sig + "\n")}, ""},
		{"two lines in one element", signed, [][]byte{[]byte("— a " + sig + "\n— b " + sig + "\n")}, ""},
		{"no em dash", signed, [][]byte{[]byte("- w " + sig + "\n")}, "em dash"},
		{"bad base64", signed, [][]byte{[]byte("— w !!!\n")}, "encoding"},
		{"short signature", signed, [][]byte{[]byte("— w AAAA\n")}, "encoding"},
		{"no name", signed, [][]byte{[]byte("— " + sig + "\n")}, "key name"},
		{"blank line", signed, [][]byte{[]byte("\n")}, "em dash"},
		{"too many", signed, many, "more than"},
		{"unsigned note", []byte("just text\n"), nil, "malformed signed note"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := AddCosignatures(tt.signed, tt.lines)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				n, err := note.Open(out, testVerifiers(t, logVkey))
				if err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) == 0 {
					t.Fatalf("note.Open(result) = %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
		})
	}
}
