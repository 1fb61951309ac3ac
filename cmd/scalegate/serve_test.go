package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runTool runs scalegate in process and returns its exit code and output.
func runTool(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestTokenCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, out, errs := runTool("--data", data, "token", "create", "--role", "lab", "--name", "ci-pipeline")
	if code != 0 {
		t.Fatalf("token create: exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	tok := lines[len(lines)-1]
	if !strings.HasPrefix(tok, "sgt_") || strings.Contains(tok, " ") || len(lines) < 2 {
		t.Fatalf("the token is not alone on the last line:\n%s", out)
	}
	// Only the hash is stored.
	db, err := os.ReadFile(filepath.Join(data, "scalegate.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(data, "scalegate.db-wal"))
	sum := sha256.Sum256([]byte(tok))
	all := append(db, wal...)
	if bytes.Contains(all, []byte(tok)) || bytes.Contains(all, []byte(strings.TrimPrefix(tok, "sgt_"))) {
		t.Error("the token itself is in the database")
	}
	if !bytes.Contains(all, []byte(hex.EncodeToString(sum[:]))) {
		t.Error("the token's SHA-256 is not in the database")
	}

	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"token", "create", "--role", "root", "--name", "x"}, 2, "role"},
		{[]string{"token", "create", "--role", "lab", "--name", "ci-pipeline"}, 2, "already exists"},
		{[]string{"token", "create", "--role", "lab", "--name", "has space"}, 2, "token name"},
		{[]string{"token", "create", "--role", "lab"}, 2, "name"},
		{[]string{"token", "revoke", "--name", "nobody"}, 2, "nobody"},
	} {
		code, _, errs := runTool(append([]string{"--data", data}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.msg) || !strings.HasPrefix(errs, "error: ") {
			t.Errorf("%v: exit %d, stderr %q; want %d mentioning %q", c.args, code, errs, c.code, c.msg)
		}
	}
	runTool("--data", data, "token", "create", "--role", "admin", "--name", "root-admin")
	code, out, _ = runTool("--data", data, "token", "list")
	if code != 0 || !strings.Contains(out, "ci-pipeline") || !strings.Contains(out, "root-admin") || strings.Contains(out, "sgt_") {
		t.Errorf("token list: exit %d\n%s", code, out)
	}
	code, out, _ = runTool("--data", data, "token", "revoke", "--name", "ci-pipeline")
	if code != 0 || !strings.Contains(out, "revoked") {
		t.Errorf("token revoke: exit %d %s", code, out)
	}
	_, out, _ = runTool("--data", data, "token", "list")
	if !revokedLine(out, "ci-pipeline", "lab") || revokedLine(out, "root-admin", "admin") {
		t.Errorf("token list does not show which token is revoked:\n%s", out)
	}
}

func lineOf(out, name string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, name+" ") {
			return l
		}
	}
	return ""
}

// revokedLine reports whether the token list shows name, of role, as
// revoked (a date in the REVOKED column).
func revokedLine(out, name, role string) bool {
	f := strings.Fields(lineOf(out, name))
	return len(f) == 4 && f[1] == role && f[3] != "-"
}

// serveOutput runs scalegate with args in the background and returns the
// URL it prints once it is serving, and a function that stops it and
// returns its exit code and stderr.
func serveOutput(t *testing.T, args ...string) (string, func() (int, string)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		code := Run(ctx, args, pw, &errb)
		pw.Close()
		done <- code
	}()
	sc := bufio.NewScanner(pr)
	url := ""
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "scalegate: serving ") {
			f := strings.Fields(line)
			for _, w := range f {
				if strings.HasPrefix(w, "http://") {
					url = w
				}
			}
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if url == "" {
		cancel()
		code := <-done
		t.Fatalf("scalegate %v did not start serving (exit %d): %s", args, code, errb.String())
	}
	return url, func() (int, string) {
		cancel()
		return <-done, errb.String()
	}
}

func TestServe(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	_, out, _ := runTool("--data", data, "token", "create", "--role", "admin", "--name", "ops")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	admin := lines[len(lines)-1]
	t.Setenv("SCALEGATE_ADDR", "127.0.0.1:0")
	url, stop := serveOutput(t, "--data", data, "serve", "--log-level", "debug")
	res, err := http.Get(url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("healthz: %d", res.StatusCode)
	}
	policy, err := os.ReadFile(repoFile("policies/example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url+"v1/policies", bytes.NewReader(policy))
	req.Header.Set("Authorization", "Bearer "+admin)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Errorf("publish: %d", res.StatusCode)
	}
	code, errs := stop()
	if code != 0 {
		t.Fatalf("serve exited %d: %s", code, errs)
	}
	// Request logs are JSON lines naming the route and the token.
	if !strings.Contains(errs, `"route":"POST /v1/policies"`) || !strings.Contains(errs, `"token":"ops"`) || !strings.Contains(errs, `"msg":"stopped"`) {
		t.Errorf("logs:\n%s", errs)
	}
	// What was published through the server is in the log.
	code, out, _ = runTool("--data", data, "log", "verify")
	if code != 0 || !strings.Contains(out, "1 entries") {
		t.Errorf("log verify after serve: exit %d %s", code, out)
	}
	// Bad configuration is a usage error.
	if code, _, errs := runTool("--data", data, "serve", "--log-level", "loud"); code != 2 || !strings.Contains(errs, "--log-level") {
		t.Errorf("bad --log-level: exit %d %s", code, errs)
	}
}

func TestDemoServe(t *testing.T) {
	dir := t.TempDir()
	url, stop := serveOutput(t, "demo", "--dir", dir, "--serve", "--addr", "127.0.0.1:0")
	for _, path := range []string{"", "models/atlas", "models/boreas", "policies/example-rsp", "log"} {
		res, err := http.Get(url + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !bytes.Contains(b, []byte("<html")) {
			t.Errorf("GET /%s: %d", path, res.StatusCode)
		}
	}
	if code, errs := stop(); code != 0 {
		t.Fatalf("demo --serve exited %d: %s", code, errs)
	}
}
