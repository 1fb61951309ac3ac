package transparency

import (
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

// testLog is a small signed log for verification tests.
type testLog struct {
	origin string
	vkey   string
	hashes HashSlice
	signed map[int64][]byte
}

func newTestLog(t *testing.T, n int64, seed byte) *testLog {
	t.Helper()
	origin := DefaultOrigin("verify")
	s, vkey := testNoteKey(t, origin, seed)
	l := &testLog{origin: origin, vkey: vkey, signed: map[int64][]byte{}}
	b := NewBuilder()
	for i := int64(0); i <= n; i++ {
		c := Checkpoint{Origin: origin, Size: i, Root: b.Root()}
		signed, err := SignCheckpoint(c, s)
		if err != nil {
			t.Fatal(err)
		}
		l.signed[i] = signed
		if i == n {
			break
		}
		hs, err := b.Append(testEntry(i))
		if err != nil {
			t.Fatal(err)
		}
		for _, sh := range hs {
			l.hashes = append(l.hashes, sh.Hash)
		}
	}
	return l
}

func (l *testLog) inclusion(t *testing.T, i, size int64) InclusionJSON {
	t.Helper()
	p, err := InclusionProof(i, size, l.hashes)
	if err != nil {
		t.Fatal(err)
	}
	return NewInclusionJSON(i, size, p)
}

func (l *testLog) consistency(t *testing.T, a, b int64) ConsistencyJSON {
	t.Helper()
	p, err := ConsistencyProof(a, b, l.hashes)
	if err != nil {
		t.Fatal(err)
	}
	return NewConsistencyJSON(a, b, p)
}

func TestVerifyInclusion(t *testing.T) {
	l := newTestLog(t, 20, 1)
	fork := newTestLog(t, 20, 1) // same key, same entries
	_, otherVkey := testNoteKey(t, l.origin, 2)
	good := l.inclusion(t, 7, 20)
	badHash := l.inclusion(t, 7, 20)
	badHash.Hashes[1][3] ^= 1
	wrongIndex := l.inclusion(t, 8, 20)
	wrongIndex.Index = 7
	wrongIndex.Hashes = l.inclusion(t, 8, 20).Hashes
	tests := []struct {
		name    string
		vkey    string
		signed  []byte
		entry   []byte
		proof   InclusionJSON
		wantErr string
	}{
		{"ok", l.vkey, l.signed[20], testEntry(7), good, ""},
		{"ok first", l.vkey, l.signed[1], testEntry(0), l.inclusion(t, 0, 1), ""},
		{"ok via identical log", l.vkey, fork.signed[20], testEntry(7), good, ""},
		{"wrong entry", l.vkey, l.signed[20], testEntry(8), good, "not at index 7"},
		{"flipped entry byte", l.vkey, l.signed[20], []byte("entry 6"), good, "not at index 7"},
		{"tampered proof hash", l.vkey, l.signed[20], testEntry(7), badHash, "not at index 7"},
		{"proof for another index", l.vkey, l.signed[20], testEntry(7), wrongIndex, "not at index 7"},
		{"size mismatch", l.vkey, l.signed[19], testEntry(7), good, "tree size 20 but the checkpoint has size 19"},
		{"wrong key", otherVkey, l.signed[20], testEntry(7), good, "not signed by a trusted key"},
		{"malformed key", "nonsense", l.signed[20], testEntry(7), good, "log verifier key"},
		{"malformed proof", l.vkey, l.signed[20], testEntry(7), InclusionJSON{Index: 7, Size: 20}, "want 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := VerifyInclusion(tt.vkey, tt.signed, tt.entry, tt.proof)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Origin != l.origin {
					t.Fatalf("checkpoint origin %q", c.Origin)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestVerifyConsistency(t *testing.T) {
	l := newTestLog(t, 20, 1)
	// A fork: same key, different entry 10.
	s, _ := testNoteKey(t, l.origin, 1)
	hs := append(HashSlice{}, l.hashes[:tlog.StoredHashCount(10)]...)
	b, err := NewBuilderFrom(10, hs)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(10); i < 20; i++ {
		e := testEntry(i)
		if i == 10 {
			e = []byte("forked entry")
		}
		add, _ := b.Append(e)
		for _, sh := range add {
			hs = append(hs, sh.Hash)
		}
	}
	forked, err := SignCheckpoint(Checkpoint{Origin: l.origin, Size: 20, Root: b.Root()}, s)
	if err != nil {
		t.Fatal(err)
	}
	otherS, otherVkey := testNoteKey(t, "scalegate.dev/log/elsewhere", 1)
	elsewhere, _ := SignCheckpoint(Checkpoint{Origin: otherS.Name(), Size: 20, Root: b.Root()}, otherS)
	_ = otherVkey
	forkProof, err := ConsistencyProof(5, 20, hs)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		old, new []byte
		proof    ConsistencyJSON
		wantErr  string
	}{
		{"ok", l.signed[5], l.signed[20], l.consistency(t, 5, 20), ""},
		{"ok power of two", l.signed[8], l.signed[20], l.consistency(t, 8, 20), ""},
		{"ok equal", l.signed[20], l.signed[20], l.consistency(t, 20, 20), ""},
		{"ok from empty", l.signed[0], l.signed[20], l.consistency(t, 0, 20), ""},
		{"fork", l.signed[12], forked, l.consistency(t, 12, 20), "not an extension"},
		{"fork with its own proof", l.signed[12], forked, NewConsistencyJSON(12, 20, mustTreeProof(t, 12, 20, hs)), "not an extension"},
		{"fork before divergence is consistent", l.signed[5], forked, NewConsistencyJSON(5, 20, forkProof), ""},
		{"same size different roots", l.signed[20], forked, l.consistency(t, 20, 20), "two different roots"},
		{"sizes mismatch", l.signed[5], l.signed[20], l.consistency(t, 6, 20), "sizes 6 to 20"},
		{"swapped", l.signed[20], l.signed[5], l.consistency(t, 5, 20), "sizes 5 to 20 but the checkpoints have sizes 20 and 5"},
		{"other log", l.signed[5], elsewhere, l.consistency(t, 5, 20), "new checkpoint"},
		{"garbage old", []byte("x"), l.signed[20], l.consistency(t, 5, 20), "old checkpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyConsistency(l.vkey, tt.old, tt.new, tt.proof)
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

func mustTreeProof(t *testing.T, a, b int64, r tlog.HashReader) tlog.TreeProof {
	t.Helper()
	p, err := ConsistencyProof(a, b, r)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
