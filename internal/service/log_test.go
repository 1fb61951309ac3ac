package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", for tampering

	"scalegate.dev/scalegate/internal/gate"
	"scalegate.dev/scalegate/internal/store"
	"scalegate.dev/scalegate/internal/transparency"
)

// demoLog is a data directory holding the demo's story: two policy
// versions, the seven example Evidence files and gate decisions between
// them. The service is closed; open copies with openCopy.
type demoLog struct {
	dir    string
	writes int // write transactions, each of which signed a checkpoint
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// buildDemoLog records the demo into a fresh data directory.
func buildDemoLog(t *testing.T) *demoLog {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.Now = func() time.Time { return mustTime(t, "2026-06-01T00:00:00Z") }
	l := &demoLog{dir: dir}
	publish := func(file, at string) {
		data, err := os.ReadFile(filepath.Join("..", "..", "policies", file))
		if err != nil {
			t.Fatal(err)
		}
		pub, err := s.PublishPolicy(ctx, file, data, mustTime(t, at), "test")
		if err != nil {
			t.Fatalf("publish %s: %v", file, err)
		}
		if pub.Unchanged {
			t.Fatalf("publish %s: unchanged", file)
		}
		l.writes++
	}
	imp := func(file string) {
		res, err := s.ImportFiles(ctx, []string{filepath.Join("..", "..", "examples", "demo", file)}, time.Time{}, "test")
		if err != nil {
			t.Fatalf("import %s: %v", file, err)
		}
		if res.Records() == 0 {
			t.Fatalf("import %s: nothing imported", file)
		}
		l.writes++
	}
	decide := func(a gate.Action, at string) {
		a.At = mustTime(t, at)
		d, err := s.Decide(ctx, a, "test")
		if err != nil {
			t.Fatalf("decide %+v: %v", a, err)
		}
		if d.LogIndex == nil {
			t.Fatalf("decide %+v: no log index", a)
		}
		l.writes++
	}
	scale := func(to float64, at string) { decide(gate.Action{Kind: gate.Scale, Model: "atlas", ToCompute: to}, at) }
	deploy := func(ckpt, mode, at string) {
		decide(gate.Action{Kind: gate.Deploy, Checkpoint: ckpt, Mode: mode}, at)
	}

	publish("example.yaml", "2026-01-01T00:00:00Z")
	imp("01-first-checkpoint.yaml")
	scale(4e24, "2026-01-15T00:00:00Z")
	imp("02-early-warning.yaml")
	scale(1.6e25, "2026-02-05T00:00:00Z")
	scale(8e24, "2026-02-05T00:00:00Z")
	imp("03-threshold-crossed.yaml")
	scale(1.6e25, "2026-03-05T00:00:00Z")
	imp("04-self-attested.yaml")
	scale(1.6e25, "2026-03-12T00:00:00Z")
	imp("05-external-attestation.yaml")
	scale(1.6e25, "2026-03-21T00:00:00Z")
	deploy("atlas-c3", "external", "2026-03-21T00:00:00Z")
	deploy("atlas-c3", "open-weights", "2026-03-21T00:00:00Z")
	imp("06-red-line.yaml")
	scale(3.2e25, "2026-04-04T00:00:00Z")
	publish("example-v2.yaml", "2026-04-05T00:00:00Z")
	imp("07-asl4-security.yaml")
	scale(3.2e25, "2026-04-21T00:00:00Z")
	scale(3.2e25, "2026-05-06T00:00:00Z")
	return l
}

// copyDir copies the regular files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	return copyDirIn(t, t.TempDir(), src)
}

// copyDirIn copies the regular files of src into a new directory under
// parent.
func copyDirIn(t *testing.T, parent, src string) string {
	t.Helper()
	dst, err := os.MkdirTemp(parent, "copy-")
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		info, err := in.Stat()
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(filepath.Join(dst, e.Name()), os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// rawDB opens the database file of a data directory directly, as an
// attacker with write access to the disk would.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, DataFile)+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func exec1(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	res, err := db.Exec(query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("%s: %d rows affected (%v), want 1", query, n, err)
	}
}

func queryBytes(t *testing.T, db *sql.DB, query string, args ...any) []byte {
	t.Helper()
	var b []byte
	if err := db.QueryRow(query, args...).Scan(&b); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return b
}

// verifyDir opens a data directory and verifies its log.
func verifyDir(t *testing.T, dir string) (*VerifyReport, error) {
	t.Helper()
	s, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return s.Verify(context.Background())
}

// wantVerifyError checks that err is a *VerifyError with the given index
// and a message containing msg.
func wantVerifyError(t *testing.T, err error, index int64, msg string) *VerifyError {
	t.Helper()
	var ve *VerifyError
	if !errors.As(err, &ve) {
		t.Fatalf("Verify = %v, want a *VerifyError at index %d", err, index)
	}
	if ve.Index != index {
		t.Errorf("Verify error at index %d (%v), want index %d", ve.Index, ve, index)
	}
	if !strings.Contains(ve.Error(), msg) {
		t.Errorf("Verify error %q does not mention %q", ve, msg)
	}
	if strings.Contains(ve.Error(), "\n") {
		t.Errorf("Verify error is not one line: %q", ve)
	}
	return ve
}

type recInfo struct {
	index int64
	kind  string
	data  []byte
	leaf  []byte
}

func (l *demoLog) records(t *testing.T) []recInfo {
	t.Helper()
	db := rawDB(t, copyDir(t, l.dir))
	rows, err := db.Query(`SELECT idx, kind, data, leaf FROM records ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []recInfo
	for rows.Next() {
		var r recInfo
		if err := rows.Scan(&r.index, &r.kind, &r.data, &r.leaf); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// flipLastLetter changes the case of the last ASCII lower-case letter in
// b that is not part of a string escape: one byte, and the JSON stays
// valid. For a policy version that letter is in the document, the last
// field of the record.
func flipLastLetter(t *testing.T, b []byte) []byte {
	t.Helper()
	out := bytes.Clone(b)
	for i := len(out) - 1; i > 0; i-- {
		if out[i] >= 'a' && out[i] <= 'z' && out[i-1] != '\\' {
			out[i] -= 'a' - 'A'
			return out
		}
	}
	t.Fatalf("no letter in %q", b)
	return nil
}

func TestVerifyUntampered(t *testing.T) {
	l := buildDemoLog(t)
	recs := l.records(t)
	rep, err := verifyDir(t, copyDir(t, l.dir))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if rep.Size != int64(len(recs)) {
		t.Errorf("Verify Size = %d, want %d (the number of records)", rep.Size, len(recs))
	}
	if rep.Checkpoints != l.writes {
		t.Errorf("Verify Checkpoints = %d, want one per write (%d)", rep.Checkpoints, l.writes)
	}
	// The reported root is the root of the stored leaves, computed here
	// with x/mod alone.
	var hs []tlog.Hash
	for i, r := range recs {
		if r.index != int64(i) {
			t.Fatalf("record %d has index %d", i, r.index)
		}
		add, err := tlog.StoredHashes(int64(i), r.leaf, hashSlice(hs))
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, add...)
	}
	root, err := tlog.TreeHash(int64(len(recs)), hashSlice(hs))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Root != root {
		t.Errorf("Verify Root = %x, want %x", rep.Root, root)
	}
}

// hashSlice is an in-memory tlog.HashReader independent of package
// transparency.
type hashSlice []tlog.Hash

func (s hashSlice) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(s)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = s[x]
	}
	return out, nil
}

func TestVerifyDetectsTampering(t *testing.T) {
	l := buildDemoLog(t)
	recs := l.records(t)
	n := int64(len(recs))
	if _, err := verifyDir(t, copyDir(t, l.dir)); err != nil {
		t.Fatalf("untampered log does not verify: %v", err)
	}

	// The copies live until the end of the whole test rather than of each
	// subtest: when Verify fails early it returns before its goroutine
	// reading the stored hashes has finished, and that goroutine may still
	// touch the database files after Close (see the report).
	parent := t.TempDir()

	// tamper runs fn on a fresh copy of the log and returns Verify's error.
	tamper := func(t *testing.T, fn func(db *sql.DB, dir string)) error {
		t.Helper()
		dir := copyDirIn(t, parent, l.dir)
		db := rawDB(t, dir)
		fn(db, dir)
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		rep, err := verifyDir(t, dir)
		if err == nil {
			t.Fatalf("tampered log verified: %+v", rep)
		}
		t.Logf("Verify: %v", err)
		return err
	}

	t.Run("data", func(t *testing.T) {
		for _, r := range recs {
			t.Run(fmt.Sprintf("%d-%s", r.index, r.kind), func(t *testing.T) {
				err := tamper(t, func(db *sql.DB, _ string) {
					exec1(t, db, `UPDATE records SET data = ? WHERE idx = ?`, flipLastLetter(t, r.data), r.index)
				})
				wantVerifyError(t, err, r.index, "")
			})
		}
	})
	t.Run("data-not-json", func(t *testing.T) {
		k := n / 2
		err := tamper(t, func(db *sql.DB, _ string) {
			d := bytes.Clone(recs[k].data)
			d[0] = '['
			exec1(t, db, `UPDATE records SET data = ? WHERE idx = ?`, d, k)
		})
		wantVerifyError(t, err, k, "")
	})
	t.Run("kind", func(t *testing.T) {
		k := n - 1
		err := tamper(t, func(db *sql.DB, _ string) {
			exec1(t, db, `UPDATE records SET kind = 'result' WHERE idx = ? AND kind = 'decision'`, k)
		})
		wantVerifyError(t, err, k, "")
	})
	t.Run("leaf", func(t *testing.T) {
		for _, r := range recs {
			t.Run(fmt.Sprintf("%d-%s", r.index, r.kind), func(t *testing.T) {
				err := tamper(t, func(db *sql.DB, _ string) {
					exec1(t, db, `UPDATE records SET leaf = ? WHERE idx = ?`, flipLastLetter(t, r.leaf), r.index)
				})
				wantVerifyError(t, err, r.index, "leaf")
			})
		}
	})
	// Changing a record and its leaf together, consistently, is caught by
	// the stored hashes.
	t.Run("data-and-leaf", func(t *testing.T) {
		for _, r := range recs {
			if r.kind == store.KindPolicy {
				continue // the leaf is derived; covered by "data"
			}
			t.Run(fmt.Sprintf("%d-%s", r.index, r.kind), func(t *testing.T) {
				d := flipLastLetter(t, r.data)
				err := tamper(t, func(db *sql.DB, _ string) {
					exec1(t, db, `UPDATE records SET data = ?, leaf = ? WHERE idx = ?`, d, d, r.index)
				})
				wantVerifyError(t, err, r.index, fmt.Sprintf("stored hash %d ", tlog.StoredHashIndex(0, r.index)))
			})
		}
	})
	t.Run("hash", func(t *testing.T) {
		for id := int64(0); id < tlog.StoredHashCount(n); id++ {
			level, k := tlog.SplitStoredHashIndex(id)
			first := k << uint(level)
			t.Run(fmt.Sprintf("%d-level%d", id, level), func(t *testing.T) {
				err := tamper(t, func(db *sql.DB, _ string) {
					h := queryBytes(t, db, `SELECT hash FROM hashes WHERE id = ?`, id)
					h[len(h)-1] ^= 1
					exec1(t, db, `UPDATE hashes SET hash = ? WHERE id = ?`, h, id)
				})
				var ve *VerifyError
				if !errors.As(err, &ve) {
					t.Fatalf("Verify = %v, want a *VerifyError", err)
				}
				// The error names a leaf under the bad node.
				if ve.Index < first || ve.Index >= first+1<<uint(level) {
					t.Errorf("Verify error at index %d (%v), want a leaf in [%d, %d)", ve.Index, ve, first, first+1<<uint(level))
				}
				if !strings.Contains(ve.Msg, fmt.Sprintf("stored hash %d ", id)) {
					t.Errorf("Verify error %q does not name stored hash %d", ve, id)
				}
			})
		}
	})
	t.Run("hash-deleted", func(t *testing.T) {
		id := tlog.StoredHashIndex(0, 20)
		err := tamper(t, func(db *sql.DB, _ string) {
			exec1(t, db, `DELETE FROM hashes WHERE id = ?`, id)
		})
		wantVerifyError(t, err, 20, "stored hash")
	})
	t.Run("hash-extra", func(t *testing.T) {
		err := tamper(t, func(db *sql.DB, _ string) {
			exec1(t, db, `INSERT INTO hashes (id, hash) VALUES (?, ?)`, tlog.StoredHashCount(n), make([]byte, 32))
		})
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("Verify = %v, want a *VerifyError", err)
		}
		// Not about a present leaf: no index, or the first leaf past the
		// end.
		if ve.Index != -1 && ve.Index != n {
			t.Errorf("Verify error at index %d (%v), want %d or -1", ve.Index, ve, n)
		}
		if !strings.Contains(ve.Msg, "beyond the tree") {
			t.Errorf("Verify error %q does not say the hash is beyond the tree", ve)
		}
	})
	t.Run("last-record-deleted", func(t *testing.T) {
		err := tamper(t, func(db *sql.DB, _ string) {
			exec1(t, db, `DELETE FROM records WHERE idx = ?`, n-1)
		})
		var ve *VerifyError
		if !errors.As(err, &ve) {
			t.Fatalf("Verify = %v, want a *VerifyError", err)
		}
		if ve.Index != -1 && ve.Index != n-1 {
			t.Errorf("Verify error at index %d (%v), want %d or -1", ve.Index, ve, n-1)
		}
	})
	t.Run("last-record-and-its-hashes-deleted", func(t *testing.T) {
		// A careful attacker also removes the stored hashes the last
		// record produced; the signed checkpoint of the full tree remains.
		err := tamper(t, func(db *sql.DB, _ string) {
			exec1(t, db, `DELETE FROM records WHERE idx = ?`, n-1)
			if _, err := db.Exec(`DELETE FROM hashes WHERE id >= ?`, tlog.StoredHashCount(n-1)); err != nil {
				t.Fatal(err)
			}
		})
		wantVerifyError(t, err, n-1, fmt.Sprintf("checkpoint of size %d", n))
	})
	t.Run("middle-record-deleted", func(t *testing.T) {
		k := n / 2
		err := tamper(t, func(db *sql.DB, _ string) {
			exec1(t, db, `DELETE FROM records WHERE idx = ?`, k)
		})
		wantVerifyError(t, err, k, "missing")
	})
	t.Run("reorder", func(t *testing.T) {
		// Pairs of the same kind (only the order changes) and of different
		// kinds.
		var same, diff [2]int64
		same[0], diff[0] = -1, -1
		for i := range recs {
			for j := i + 1; j < len(recs); j++ {
				if same[0] < 0 && recs[i].kind == store.KindResult && recs[j].kind == store.KindResult && !bytes.Equal(recs[i].data, recs[j].data) {
					same = [2]int64{int64(i), int64(j)}
				}
				if diff[0] < 0 && i > 0 && recs[i].kind != recs[j].kind {
					diff = [2]int64{int64(i), int64(j)}
				}
			}
		}
		if same[0] < 0 || diff[0] < 0 {
			t.Fatalf("no records to swap: same kind %v, different kinds %v", same, diff)
		}
		for _, p := range [][2]int64{same, diff, {n - 2, n - 1}, {0, n - 1}} {
			t.Run(fmt.Sprintf("%d-%d", p[0], p[1]), func(t *testing.T) {
				a, b := recs[p[0]], recs[p[1]]
				err := tamper(t, func(db *sql.DB, _ string) {
					exec1(t, db, `UPDATE records SET data = ?, leaf = ? WHERE idx = ?`, b.data, b.leaf, a.index)
					exec1(t, db, `UPDATE records SET data = ?, leaf = ? WHERE idx = ?`, a.data, a.leaf, b.index)
				})
				wantVerifyError(t, err, p[0], "")
			})
		}
	})
	t.Run("checkpoint", func(t *testing.T) {
		s, err := Open(context.Background(), copyDir(t, l.dir))
		if err != nil {
			t.Fatal(err)
		}
		origin := s.Key.Origin()
		logSigner := s.Key.Signer()
		s.Close()
		// A key with the log's name but other key material.
		skey, _, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			t.Fatal(err)
		}
		impostor, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		roots := signedRoots(t, l.dir)
		sizes := sortedSizes(roots)
		mid := sizes[len(sizes)/2]
		sign := func(signer note.Signer, size int64, root tlog.Hash) []byte {
			b, err := transparency.SignCheckpoint(transparency.Checkpoint{Origin: origin, Size: size, Root: root}, signer)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		wrongRoot := roots[mid]
		wrongRoot[0] ^= 1
		otherSize := sizes[len(sizes)/2-1]
		tests := []struct {
			name   string
			size   int64
			signed []byte
			index  int64
			msg    string
		}{
			{"other key, right root", mid, sign(impostor, mid, roots[mid]), -1, fmt.Sprintf("checkpoint of size %d", mid)},
			{"other key, latest", n, sign(impostor, n, roots[n]), -1, fmt.Sprintf("checkpoint of size %d", n)},
			{"log key, wrong root", mid, sign(logSigner, mid, wrongRoot), -1, fmt.Sprintf("checkpoint of size %d", mid)},
			{"log key, other size", mid, sign(logSigner, otherSize, roots[otherSize]), -1, fmt.Sprintf("checkpoint of size %d", mid)},
			{"one signature byte", mid, flipSignatureByte(t, l.dir, mid), -1, fmt.Sprintf("checkpoint of size %d", mid)},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tamper(t, func(db *sql.DB, _ string) {
					exec1(t, db, `UPDATE checkpoints SET signed = ? WHERE size = ?`, tt.signed, tt.size)
				})
				wantVerifyError(t, err, tt.index, tt.msg)
			})
		}
		t.Run("beyond the log", func(t *testing.T) {
			err := tamper(t, func(db *sql.DB, _ string) {
				exec1(t, db, `INSERT INTO checkpoints (size, signed) VALUES (?, ?)`, n+1, sign(logSigner, n+1, roots[n]))
			})
			wantVerifyError(t, err, n, fmt.Sprintf("checkpoint of size %d", n+1))
		})
	})
}

// flipSignatureByte returns the stored checkpoint of the given size with
// one byte of its signature changed.
func flipSignatureByte(t *testing.T, dir string, size int64) []byte {
	t.Helper()
	db := rawDB(t, copyDir(t, dir))
	signed := queryBytes(t, db, `SELECT signed FROM checkpoints WHERE size = ?`, size)
	i := bytes.LastIndex(signed, []byte(" "))
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(signed[i+1:])))
	if err != nil {
		t.Fatal(err)
	}
	sig[len(sig)-1] ^= 1
	return append(signed[:i+1:i+1], base64.StdEncoding.EncodeToString(sig)+"\n"...)
}

// signedRoots opens every stored checkpoint of a data directory with
// x/mod's note package and parses its body by hand, independently of the
// project's checkpoint code.
func signedRoots(t *testing.T, dir string) map[int64]tlog.Hash {
	t.Helper()
	roots, _, _ := signedCheckpoints(t, dir)
	return roots
}

func signedCheckpoints(t *testing.T, dir string) (roots map[int64]tlog.Hash, signed map[int64][]byte, vkey string) {
	t.Helper()
	pub, err := os.ReadFile(filepath.Join(dir, transparency.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	vkey = strings.TrimSpace(string(pub))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	db := rawDB(t, copyDir(t, dir))
	rows, err := db.Query(`SELECT size, signed FROM checkpoints ORDER BY size`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	roots, signed = map[int64]tlog.Hash{}, map[int64][]byte{}
	for rows.Next() {
		var size int64
		var msg []byte
		if err := rows.Scan(&size, &msg); err != nil {
			t.Fatal(err)
		}
		nt, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			t.Fatalf("checkpoint %d: %v", size, err)
		}
		lines := strings.Split(nt.Text, "\n")
		if len(lines) != 4 || lines[3] != "" || lines[0] != v.Name() {
			t.Fatalf("checkpoint %d: body %q", size, nt.Text)
		}
		got, err := strconv.ParseInt(lines[1], 10, 64)
		if err != nil || got != size {
			t.Fatalf("checkpoint stored as size %d says %q", size, lines[1])
		}
		rb, err := base64.StdEncoding.DecodeString(lines[2])
		if err != nil || len(rb) != tlog.HashSize {
			t.Fatalf("checkpoint %d: root %q", size, lines[2])
		}
		var root tlog.Hash
		copy(root[:], rb)
		roots[size], signed[size] = root, msg
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return roots, signed, vkey
}

func sortedSizes(m map[int64]tlog.Hash) []int64 {
	return slices.Sorted(maps.Keys(m))
}

// TestProofs checks the service's inclusion and consistency proofs with
// x/mod's tlog.CheckRecord and tlog.CheckTree against the roots of the
// signed checkpoints, and with transparency.VerifyInclusion and
// VerifyConsistency.
func TestProofs(t *testing.T) {
	ctx := context.Background()
	l := buildDemoLog(t)
	roots, signed, vkey := signedCheckpoints(t, l.dir)
	sizes := sortedSizes(roots)
	if len(sizes) != l.writes {
		t.Fatalf("%d signed checkpoints, want %d", len(sizes), l.writes)
	}
	s, err := Open(ctx, copyDir(t, l.dir))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.VerifierKey() != vkey {
		t.Fatalf("VerifierKey %q, log.pub %q", s.VerifierKey(), vkey)
	}
	n := sizes[len(sizes)-1]
	leaves := make([][]byte, n)
	for i := range leaves {
		if leaves[i], err = s.Entry(ctx, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Entry(ctx, n); !errors.Is(err, ErrBadInput) {
		t.Errorf("Entry(%d) = %v, want bad input", n, err)
	}
	latest, err := s.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(latest, signed[n]) {
		t.Errorf("Checkpoint() is not the stored checkpoint of size %d", n)
	}

	// Every signed root is the root of the stored leaves' prefix, computed
	// with x/mod alone.
	var hs hashSlice
	for i, leaf := range leaves {
		add, err := tlog.StoredHashes(int64(i), leaf, hs)
		if err != nil {
			t.Fatal(err)
		}
		hs = append(hs, add...)
	}
	for _, size := range sizes {
		root, err := tlog.TreeHash(size, hs)
		if err != nil {
			t.Fatal(err)
		}
		if root != roots[size] {
			t.Errorf("signed root of size %d differs from the root of the first %d leaves", size, size)
		}
	}

	// Inclusion of every leaf in every signed tree that contains it.
	proofs := 0
	for _, size := range sizes {
		for i := int64(0); i < size; i++ {
			p, err := s.InclusionProof(ctx, i, size)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, size, err)
			}
			if p.Index != i || p.Size != size {
				t.Fatalf("InclusionProof(%d, %d) is for %d in %d", i, size, p.Index, p.Size)
			}
			if err := tlog.CheckRecord(p.Proof(), size, roots[size], i, tlog.RecordHash(leaves[i])); err != nil {
				t.Errorf("leaf %d in tree %d: %v", i, size, err)
			}
			// The proof is bound to its leaf: a neighbour's leaf fails.
			other := leaves[(i+1)%size]
			if size > 1 && tlog.CheckRecord(p.Proof(), size, roots[size], i, tlog.RecordHash(other)) == nil {
				t.Errorf("proof of leaf %d in tree %d also proves another leaf", i, size)
			}
			if _, err := transparency.VerifyInclusion(vkey, signed[size], leaves[i], p); err != nil {
				t.Errorf("VerifyInclusion(leaf %d, tree %d): %v", i, size, err)
			}
			proofs++
		}
	}
	// Size 0 means the latest tree.
	p, err := s.InclusionProof(ctx, 3, 0)
	if err != nil || p.Size != n {
		t.Errorf("InclusionProof(3, 0) = size %d, %v; want size %d", p.Size, err, n)
	}
	for _, bad := range [][2]int64{{n, n}, {-1, n}, {0, n + 1}, {5, 5}} {
		if _, err := s.InclusionProof(ctx, bad[0], bad[1]); !errors.Is(err, ErrBadInput) {
			t.Errorf("InclusionProof(%d, %d) = %v, want bad input", bad[0], bad[1], err)
		}
	}

	// Consistency between every pair of signed trees.
	for ai, a := range sizes {
		for _, b := range sizes[ai:] {
			p, err := s.ConsistencyProof(ctx, a, b)
			if err != nil {
				t.Fatalf("ConsistencyProof(%d, %d): %v", a, b, err)
			}
			if err := tlog.CheckTree(p.Proof(), b, roots[b], a, roots[a]); err != nil {
				t.Errorf("consistency %d -> %d: %v", a, b, err)
			}
			if err := transparency.VerifyConsistency(vkey, signed[a], signed[b], p); err != nil {
				t.Errorf("VerifyConsistency(%d, %d): %v", a, b, err)
			}
			if a < b {
				// Not vacuous: the proof does not tie the old tree to a
				// different root.
				wrong := roots[a]
				wrong[5] ^= 1
				if tlog.CheckTree(p.Proof(), b, roots[b], a, wrong) == nil {
					t.Errorf("consistency %d -> %d accepts a wrong old root", a, b)
				}
			}
			proofs++
		}
	}
	for _, bad := range [][2]int64{{0, n}, {n, n - 1}, {1, n + 1}} {
		if _, err := s.ConsistencyProof(ctx, bad[0], bad[1]); !errors.Is(err, ErrBadInput) {
			t.Errorf("ConsistencyProof(%d, %d) = %v, want bad input", bad[0], bad[1], err)
		}
	}
	t.Logf("%d leaves, %d signed checkpoints, %d proofs checked", n, len(sizes), proofs)
}
