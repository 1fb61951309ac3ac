package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"scalegate.dev/scalegate/internal/service"
	"scalegate.dev/scalegate/internal/store"
)

// crashImports is how many imports TestCrashDuringImport kills.
const crashImports = 50

// crashEvidence is import i: the model (an identical re-declaration is a
// no-op, so any import may be the first to land), one checkpoint and two
// results for it.
func crashEvidence(i int) string {
	return fmt.Sprintf(`apiVersion: scalegate.dev/v1
kind: Evidence
models:
  - {id: atlas, developer: Example Lab, policy: example-rsp}
checkpoints:
  - {id: atlas-k%[1]d, model: atlas, effectiveCompute: %[1]d.5e23, at: 2026-02-%02[2]dT%02[3]d:00:00Z}
results:
  - {checkpoint: atlas-k%[1]d, evaluation: wmdp-bio, score: 0.%02[1]d, elicitation: finetuned, samples: 1273, at: 2026-02-%02[2]dT%02[3]d:30:00Z}
  - {checkpoint: atlas-k%[1]d, evaluation: re-bench, score: 0.%02[1]d, elicitation: scaffolded, samples: 71, at: 2026-02-%02[2]dT%02[3]d:30:00Z}
`, i, 1+i/24, i%24)
}

// crashRun runs the binary to completion and returns its exit code and
// output.
func crashRun(t *testing.T, bin, data string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(bin, append([]string{"--data", data}, args...)...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("scalegate %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// TestCrashDuringImport kills imports with SIGKILL at random moments and
// checks that the log survives: it verifies, every import that exited 0
// before the kill is recorded, and every import is recorded entirely or
// not at all (its checkpoint with both results, and a signed checkpoint of
// the log covering them).
func TestCrashDuringImport(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the scalegate binary many times; skipped in -short mode")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the binary: %v", err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "scalegate")
	if out, err := exec.Command(goCmd, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(tmp, "data")
	if code, out, errs := crashRun(t, bin, data, "policy", "publish", filepath.Join("..", "..", "policies", "example.yaml"), "--at", "2026-01-01T00:00:00Z"); code != 0 {
		t.Fatalf("policy publish: exit %d\n%s%s", code, out, errs)
	}

	rng := rand.New(rand.NewPCG(20260301, 50))
	completed := map[int]bool{}
	killed := 0
	for i := 1; i <= crashImports; i++ {
		file := filepath.Join(tmp, fmt.Sprintf("import-%02d.yaml", i))
		if err := os.WriteFile(file, []byte(crashEvidence(i)), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		cmd := exec.Command(bin, "--data", data, "import", "-o", "json", file)
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			cmd.Wait()
			close(done)
		}()
		delay := time.Duration(rng.IntN(31)) * time.Millisecond
		select {
		case <-done:
		case <-time.After(delay):
			cmd.Process.Kill() // SIGKILL; fails harmlessly if it has just exited
			<-done
		}
		st := cmd.ProcessState
		switch {
		case st.Exited() && st.ExitCode() == 0:
			// It finished before the kill: it must be recorded.
			var res struct{ Checkpoints, Results int }
			if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Checkpoints != 1 || res.Results != 2 {
				t.Errorf("import %d exited 0 with output %q (%v), want 1 checkpoint and 2 results", i, out.String(), err)
			}
			completed[i] = true
		case st.Exited():
			t.Errorf("import %d exited %d on its own: %s", i, st.ExitCode(), errb.String())
		default:
			killed++
		}
	}
	t.Logf("%d imports: %d exited 0 before the kill, %d killed", crashImports, len(completed), killed)

	if code, out, errs := crashRun(t, bin, data, "log", "verify"); code != 0 || !strings.HasPrefix(out, "log verified: ") {
		t.Fatalf("log verify after the crashes: exit %d\n%s%s", code, out, errs)
	}

	// All or nothing, read straight from the store.
	ctx := context.Background()
	s, err := service.Open(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	var ckpts, results []store.Record
	var models []store.Record
	var size int64
	var latest *store.Checkpoint
	err = s.Store.View(ctx, func(r store.Reader) error {
		var err error
		if ckpts, err = r.List(ctx, store.Query{Kinds: []string{store.KindCheckpoint}}); err != nil {
			return err
		}
		if results, err = r.List(ctx, store.Query{Kinds: []string{store.KindResult}}); err != nil {
			return err
		}
		if models, err = r.List(ctx, store.Query{Kinds: []string{store.KindModel}}); err != nil {
			return err
		}
		if size, err = r.Size(ctx); err != nil {
			return err
		}
		latest, err = r.LatestCheckpoint(ctx)
		return err
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if latest.Size != size {
		t.Errorf("the latest signed checkpoint covers %d records, the log has %d: a write landed without its checkpoint", latest.Size, size)
	}
	recorded := map[string]int{}
	for _, c := range ckpts {
		recorded[c.Key]++
	}
	resultsOf := map[string]int{}
	for _, r := range results {
		var env struct {
			Record struct {
				Checkpoint string `json:"checkpoint"`
			} `json:"record"`
		}
		if err := json.Unmarshal(r.Data, &env); err != nil {
			t.Fatalf("result %d: %v", r.Index, err)
		}
		resultsOf[env.Record.Checkpoint]++
	}
	present := 0
	for i := 1; i <= crashImports; i++ {
		id := fmt.Sprintf("atlas-k%d", i)
		switch {
		case recorded[id] == 1 && resultsOf[id] == 2:
			present++
		case recorded[id] == 0 && resultsOf[id] == 0:
			if completed[i] {
				t.Errorf("import %d exited 0 but checkpoint %s is not recorded", i, id)
			}
		default:
			t.Errorf("import %d is partly recorded: %d checkpoint records, %d results", i, recorded[id], resultsOf[id])
		}
	}
	if len(ckpts) != present || len(results) != 2*present {
		t.Errorf("%d checkpoints and %d results recorded, want %d and %d", len(ckpts), len(results), present, 2*present)
	}
	if want := min(present, 1); len(models) != want {
		t.Errorf("%d model records, want %d", len(models), want)
	}
	if wantSize := int64(1 + len(models) + 3*present); size != wantSize {
		t.Errorf("log has %d records, want %d (policy, model, 3 per recorded import)", size, wantSize)
	}
	t.Logf("%d imports recorded (%d of them killed after their commit)", present, present-len(completed))

	// The gate knows every checkpoint whose import exited 0.
	for i := range completed {
		id := fmt.Sprintf("atlas-k%d", i)
		code, out, errs := crashRun(t, bin, data, "gate", "deploy", "--checkpoint", id, "--mode", "internal", "--at", "2026-03-01T00:00:00Z")
		if code == exitBadInput || code == exitInternal || strings.Contains(errs, "unknown checkpoint") {
			t.Errorf("gate deploy --checkpoint %s: exit %d\n%s%s", id, code, out, errs)
		}
	}
	if code, out, errs := crashRun(t, bin, data, "log", "verify"); code != 0 {
		t.Fatalf("log verify after the decisions: exit %d\n%s%s", code, out, errs)
	}
}
