package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
)

// cliRunner runs one scalegate command line against a data directory and
// returns its exit code, stdout and stderr.
type cliRunner func(args ...string) (code int, stdout, stderr string)

// inProcess runs commands by calling Run, each call opening its own store,
// as separate processes would.
func inProcess(data string) cliRunner {
	return func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), append([]string{"--data", data}, args...), &out, &errb)
		return code, out.String(), errb.String()
	}
}

// subprocess runs commands with the scalegate binary at bin.
func subprocess(t *testing.T, bin, data string) cliRunner {
	return func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, append([]string{"--data", data}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if err != nil {
			ee, ok := err.(*exec.ExitError)
			if !ok {
				t.Errorf("running scalegate: %v", err)
				return -1, "", ""
			}
			code = ee.ExitCode()
		}
		return code, out.String(), errb.String()
	}
}

// repoFile is a file of the repository, relative to its root.
func repoFile(name string) string { return filepath.Join("..", "..", filepath.FromSlash(name)) }

// mustRun runs a command that must exit with want.
func mustRun(t *testing.T, run cliRunner, want int, args ...string) string {
	t.Helper()
	code, out, errs := run(args...)
	if code != want {
		t.Fatalf("scalegate %v: exit %d, want %d\nstdout: %s\nstderr: %s", args, code, want, out, errs)
	}
	return out
}

var logVerifiedRE = regexp.MustCompile(`^log verified: (\d+) entries, `)

// logSize runs `log verify`, which must pass, and returns the entry count.
func logSize(t *testing.T, run cliRunner) int64 {
	t.Helper()
	out := mustRun(t, run, 0, "log", "verify")
	m := logVerifiedRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("log verify printed %q", out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// concurrentEvidence is one small Evidence file: a new checkpoint of atlas,
// fully assessed (results for both required evaluations and the
// determination), 4 records.
const concurrentEvidence = `apiVersion: scalegate.dev/v1
kind: Evidence
checkpoints:
  - {id: %[1]s, model: atlas, effectiveCompute: %[2]g, at: 2026-02-01T00:00:00Z}
results:
  - {checkpoint: %[1]s, evaluation: wmdp-bio, score: 0.3, elicitation: finetuned, at: 2026-02-02T00:00:00Z}
  - {checkpoint: %[1]s, evaluation: re-bench, score: 0.1, elicitation: scaffolded, at: 2026-02-02T00:00:00Z}
determinations:
  - {checkpoint: %[1]s, threshold: autonomy-2, crossed: false, by: responsible-scaling-officer, rationale: Fine., at: 2026-02-03T00:00:00Z}
`

const recordsPerEvidence = 4

// span is a range of log indexes [first, last].
type span struct{ first, last int64 }

// testConcurrentWrites runs `workers` writers against one data directory at
// once, each importing `each` distinct Evidence files and asking the gate
// after each import, then checks that the log verifies and that every
// import and decision that succeeded is in it, exactly once, at the log
// indexes it reported: nothing lost, nothing duplicated, no index given
// twice.
func testConcurrentWrites(t *testing.T, run cliRunner, workers, each int) {
	dir := t.TempDir()
	mustRun(t, run, 0, "policy", "publish", repoFile("policies/example.yaml"), "--at", "2026-01-01T00:00:00Z")
	mustRun(t, run, 0, "import", repoFile("examples/demo/01-first-checkpoint.yaml"))
	base := logSize(t, run)

	var (
		mu      sync.Mutex
		spans   []span // one per successful import or decision
		ckpts   []string
		wg      sync.WaitGroup
		failed  int
		decided int
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				id := fmt.Sprintf("atlas-w%d-k%d", w, i)
				file := filepath.Join(dir, id+".yaml")
				compute := 1e24 * (1 + float64(w*each+i+1)/1000)
				if err := os.WriteFile(file, fmt.Appendf(nil, concurrentEvidence, id, compute), 0o666); err != nil {
					t.Error(err)
					return
				}
				code, out, errs := run("import", file, "-o", "json")
				if code != 0 {
					t.Errorf("import %s: exit %d: %s", id, code, errs)
					mu.Lock()
					failed++
					mu.Unlock()
					continue
				}
				var imp struct{ First, Last int64 }
				if err := json.Unmarshal([]byte(out), &imp); err != nil || imp.Last-imp.First+1 != recordsPerEvidence {
					t.Errorf("import %s: output %q (%v): want %d new records", id, out, err, recordsPerEvidence)
					continue
				}
				mu.Lock()
				spans = append(spans, span{imp.First, imp.Last})
				ckpts = append(ckpts, id)
				mu.Unlock()

				code, out, errs = run("gate", "scale", "--model", "atlas", "--to", "1e25", "--at", "2026-02-04T00:00:00Z", "-o", "json")
				if code != 0 && code != 1 {
					t.Errorf("gate after %s: exit %d: %s", id, code, errs)
					continue
				}
				var d struct{ LogIndex *int64 }
				if err := json.Unmarshal([]byte(out), &d); err != nil || d.LogIndex == nil {
					t.Errorf("gate after %s: output %q (%v): want a logged decision", id, out, err)
					continue
				}
				mu.Lock()
				spans = append(spans, span{*d.LogIndex, *d.LogIndex})
				decided++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if failed > 0 {
		t.Errorf("%d of %d concurrent imports failed", failed, workers*each)
	}

	// The log verifies and holds exactly the base entries plus what the
	// writers reported, each index once.
	size := logSize(t, run)
	sort.Slice(spans, func(i, j int) bool { return spans[i].first < spans[j].first })
	next := base
	for _, s := range spans {
		if s.first != next {
			t.Fatalf("log indexes reported by writers: gap or overlap at %d (next expected %d)", s.first, next)
		}
		next = s.last + 1
	}
	if next != size {
		t.Fatalf("log has %d entries; base %d plus the writers' %d imports and %d decisions make %d", size, base, len(ckpts), decided, next)
	}
	if len(ckpts) != workers*each {
		t.Errorf("%d imports succeeded, want %d", len(ckpts), workers*each)
	}

	// Every imported checkpoint is recorded and assessed.
	for _, id := range ckpts {
		out := mustRun(t, run, 0, "gate", "deploy", "--checkpoint", id, "--mode", "internal", "--at", "2026-02-04T00:00:00Z", "-o", "json")
		var d struct {
			Assessment struct{ Checkpoint string }
		}
		if err := json.Unmarshal([]byte(out), &d); err != nil || d.Assessment.Checkpoint != id {
			t.Errorf("deploy %s: assessment %q (%v), want the checkpoint itself", id, d.Assessment.Checkpoint, err)
		}
	}
}

// TestConcurrentRuns: 8 writers × 10 imports (and a gate call after each)
// through separate Run calls, each opening its own store, on one data
// directory.
func TestConcurrentRuns(t *testing.T) {
	testConcurrentWrites(t, inProcess(filepath.Join(t.TempDir(), "data")), 8, 10)
}

// TestConcurrentProcesses: the same with real processes, 4 at a time.
func TestConcurrentProcesses(t *testing.T) {
	bin := scalegateBinary(t)
	testConcurrentWrites(t, subprocess(t, bin, filepath.Join(t.TempDir(), "data")), 4, 10)
}
