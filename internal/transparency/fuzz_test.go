package transparency

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func FuzzParseCheckpoint(f *testing.F) {
	root := base64.StdEncoding.EncodeToString(testRoot[:])
	f.Add([]byte("scalegate.dev/log/x\n42\n" + root + "\n"))
	f.Add([]byte("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"))
	f.Add([]byte("o\n042\n" + root + "\n"))
	f.Add([]byte("o\n42\n" + root + "\next\n"))
	f.Add([]byte("o\n9223372036854775808\n" + root + "\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseCheckpoint(body)
		if err != nil {
			return
		}
		// Anything accepted is in canonical form.
		if !bytes.Equal(c.Body(), body) {
			t.Fatalf("accepted non-canonical body %q (canonical %q)", body, c.Body())
		}
		if c.Size < 0 || (c.Size == 0 && c.Root != EmptyRoot) {
			t.Fatalf("accepted impossible checkpoint %+v", c)
		}
	})
}

func FuzzOpenCheckpoint(f *testing.F) {
	const origin = "scalegate.dev/log/fuzz"
	s, vkey := testNoteKey(f, origin, 1)
	w, err := NewWitness(fixedWitnessKey, fixedClock(1700000000))
	if err != nil {
		f.Fatal(err)
	}
	signed, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 3, Root: testRoot}, s)
	if err != nil {
		f.Fatal(err)
	}
	line, err := w.Cosign(signed, testVerifiers(f, vkey))
	if err != nil {
		f.Fatal(err)
	}
	cosigned, err := AddCosignatures(signed, [][]byte{line})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(cosigned)
	f.Add(bytes.Replace(signed, []byte("\n3\n"), []byte("\n4\n"), 1))
	f.Add([]byte("o\n1\n" + b64(testRoot) + "\n\n— o AAAAAAA=\n"))
	f.Add([]byte("text\n\n"))
	verifiers := testVerifiers(f, vkey)
	f.Fuzz(func(t *testing.T, msg []byte) {
		c, n, err := OpenCheckpoint(msg, verifiers)
		if err != nil {
			return
		}
		if c.Origin != origin || len(n.Sigs) == 0 {
			t.Fatalf("accepted %+v with %d signatures", c, len(n.Sigs))
		}
		// Whatever opened must be exactly a body the log key signed.
		if !bytes.Equal(c.Body(), []byte(n.Text)) {
			t.Fatalf("note text %q differs from canonical body", n.Text)
		}
		if c.Size != 3 || c.Root != testRoot {
			t.Fatalf("forged checkpoint accepted: %+v", c)
		}
		_, _, _ = OpenCosigned(msg, vkey, []string{w.VerifierKey()}, 1)
	})
}

func FuzzParseInclusionJSON(f *testing.F) {
	h := b64(testRoot)
	f.Add([]byte(`{"index":0,"size":2,"hashes":["` + h + `"]}`))
	f.Add([]byte(`{"index":0,"size":1,"hashes":[]}`))
	f.Add([]byte(`{"index":0,"index":0,"size":2,"hashes":["` + h + `"]}`))
	f.Add([]byte(`{"index":1e0,"size":2,"hashes":["` + h + `"]}`))
	f.Add([]byte(`{"index":5,"size":13,"hashes":["` + h + `","` + h + `","` + h + `","` + h + `"]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseInclusionJSON(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("accepted proof does not marshal: %v", err)
		}
		q, err := ParseInclusionJSON(out)
		if err != nil || q.Index != p.Index || q.Size != p.Size || len(q.Hashes) != len(p.Hashes) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

func FuzzParseConsistencyJSON(f *testing.F) {
	h := b64(testRoot)
	f.Add([]byte(`{"old":1,"new":2,"hashes":["` + h + `"]}`))
	f.Add([]byte(`{"old":0,"new":2,"hashes":[]}`))
	f.Add([]byte(`{"old":2,"new":2,"hashes":[]}`))
	f.Add([]byte(`{"old":3,"new":2,"hashes":[]}`))
	f.Add([]byte(`{"old":3,"new":7,"hashes":["` + h + `","` + h + `","` + h + `","` + h + `"]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseConsistencyJSON(data)
		if err != nil {
			return
		}
		if p.Old < 0 || p.New < p.Old || len(p.Hashes) != consistencyProofLen(p.Old, p.New) {
			t.Fatalf("accepted inconsistent proof %+v", p)
		}
		if _, err := json.Marshal(p); err != nil {
			t.Fatalf("accepted proof does not marshal: %v", err)
		}
	})
}

// fixedWitnessKey is a witness signer key for tests (seed 32 × 0x07).
var fixedWitnessKey = func() string {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	pk := append([]byte{algCosignatureV1}, priv.Public().(ed25519.PublicKey)...)
	const name = "witness.example/fixed"
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, keyID(name, pk), base64.StdEncoding.EncodeToString(append([]byte{algCosignatureV1}, priv.Seed()...)))
}()

func FuzzCosignatureVerifier(f *testing.F) {
	f.Add("remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
	f.Add("remora.n621.de+da77ade7+AOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2")
	f.Add("a+00000000+BA==")
	f.Add("+++")
	f.Fuzz(func(t *testing.T, vkey string) {
		v, err := CosignatureVerifier(vkey)
		if err != nil {
			return
		}
		if v.Verify([]byte("x\n"), make([]byte, 72)) {
			t.Fatal("zero signature verified")
		}
	})
}

func FuzzAddCosignatures(f *testing.F) {
	const origin = "scalegate.dev/log/fuzz"
	s, vkey := testNoteKey(f, origin, 1)
	signed, err := SignCheckpoint(Checkpoint{Origin: origin, Size: 3, Root: testRoot}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("— w AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"))
	f.Add([]byte("— w AAAA\n— x BBBBBBBB\n"))
	f.Add([]byte("\n"))
	f.Add([]byte("— " + origin + " AAAAAAAA\n"))
	verifiers := testVerifiers(f, vkey)
	f.Fuzz(func(t *testing.T, line []byte) {
		out, err := AddCosignatures(signed, [][]byte{line})
		if err != nil {
			return
		}
		// Adding lines never breaks or replaces the log signature.
		c, _, err := OpenCheckpoint(out, verifiers)
		if err != nil {
			t.Fatalf("log signature lost after adding %q: %v", line, err)
		}
		if c.Size != 3 {
			t.Fatalf("checkpoint changed: %+v", c)
		}
	})
}

func FuzzCanonicalJSON(f *testing.F) {
	f.Add([]byte(`{"b":1,"a":[1.5,"x",null,true,{"z":-0}]}`))
	f.Add([]byte(`"\u2028\u0000<>&"`))
	f.Add([]byte(`1e400`))
	f.Add([]byte(`{"a":1,"a":1}`))
	f.Add([]byte(`123456789012345678901234567890.5e-3`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		out, err := CanonicalJSON(json.RawMessage(data))
		if err != nil {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("invalid output %q", out)
		}
		again, err := CanonicalJSON(json.RawMessage(out))
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q (%v)", out, again, err)
		}
	})
}

func FuzzCheckCommitment(f *testing.F) {
	salt := bytes.Repeat([]byte{1}, SaltSize)
	f.Add(Commit(salt, []byte(`{}`)), []byte(`{}`))
	f.Add("sha256:", []byte(nil))
	f.Add("sha256:"+string(bytes.Repeat([]byte("A"), 64)), []byte(`1`))
	f.Fuzz(func(t *testing.T, commitment string, value []byte) {
		if CheckCommitment(commitment, salt, value) == nil && Commit(salt, value) != commitment {
			t.Fatalf("accepted %q for a value with commitment %q", commitment, Commit(salt, value))
		}
	})
}

// Compile-time checks that the exported helpers satisfy the interfaces
// callers rely on.
var (
	_ tlog.HashReader = HashSlice(nil)
	_ tlog.HashReader = (*Overlay)(nil)
	_ note.Signer     = (*Witness)(nil)
)
