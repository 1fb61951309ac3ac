package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// cleanupM runs the tests, then removes what the benchmarks and the
// multi-process tests prepared once for the whole test binary.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	code := c.m.Run()
	sharedCleanup()
	return code
}

func TestMain(m *testing.M) {
	testscript.Main(cleanupM{m}, map[string]func(){
		"scalegate":    func() { os.Exit(Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)) },
		peakRSSWrapper: peakRSSMain,
	})
}

// TestScript runs the end-to-end CLI scripts in testdata/script.
//
// Every script starts in $WORK with:
//   - SCALEGATE_DATA=$WORK/data (a fresh, empty store);
//   - the repository's policies/*.yaml under $WORK/policies and
//     examples/demo/*.yaml under $WORK/examples/demo, so that scripts use
//     the shipped examples instead of copies of them.
//
// `scalegate ARGS` runs the CLI in a subprocess of the test binary (the
// real main path: Run, then os.Exit). The extra commands are described in
// scriptCmds.
func TestScript(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 filepath.Join("testdata", "script"),
		RequireExplicitExec: false,
		RequireUniqueNames:  true,
		Setup: func(env *testscript.Env) error {
			env.Setenv("SCALEGATE_DATA", filepath.Join(env.WorkDir, "data"))
			for _, g := range []struct{ glob, dst string }{
				{"../../policies/*.yaml", "policies"},
				{"../../examples/demo/*.yaml", filepath.Join("examples", "demo")},
			} {
				if err := copyGlob(g.glob, filepath.Join(env.WorkDir, g.dst)); err != nil {
					return err
				}
			}
			return nil
		},
		Cmds: scriptCmds,
	})
}

// copyGlob copies the files matching glob into dir. It refuses to overwrite
// a file, so that a script's own file can never silently shadow (or be
// shadowed by) a repository example.
func copyGlob(glob, dir string) error {
	files, err := filepath.Glob(glob)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("no files match %s", glob)
	}
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.Base(f))
		if _, err := os.Stat(dst); err == nil {
			return fmt.Errorf("script file %s would be overwritten by %s", dst, f)
		}
		if err := os.WriteFile(dst, b, 0o666); err != nil {
			return err
		}
	}
	return nil
}

// scriptCmds are the commands the scripts add to testscript's.
var scriptCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	// exitcode N PROG ARGS... runs PROG (normally scalegate) like exec and
	// checks that it exits with exactly code N; stdout and stderr are kept
	// for the commands that follow. (testscript's `! PROG` accepts any
	// non-zero code, which cannot tell a deny, 1, from bad input, 2.)
	//
	// PROG runs as a subprocess of the test binary rather than by calling
	// Run in the test process: Run resolves relative file names against the
	// process's working directory and reads SCALEGATE_DATA from the
	// process's environment, and scripts run in parallel, each with its
	// own $WORK and environment.
	"exitcode": cmdExitcode,
	// errline TEXT checks that stderr is exactly the one line TEXT.
	"errline": cmdErrline,
	// jsonhas FILE PATH... checks that FILE (or stdout, stderr) is one JSON
	// value holding every dotted PATH (object keys and array indexes,
	// e.g. reasons.0.code). With !, checks that no PATH is present.
	"jsonhas": cmdJSONHas,
	// jsonis FILE PATH VALUE checks the JSON value at PATH. VALUE is JSON
	// (17, true, ["a","b"], "x"); anything that is not valid JSON is taken
	// as a string, so `jsonis stdout verdict deny` works. Values are
	// compared after decoding both sides, so 1e25 equals 1e+25.
	"jsonis": cmdJSONIs,
	// inorder FILE REGEXP... checks that the regexps match FILE (or
	// stdout, stderr) one after another, each after the end of the
	// previous match. Regexps are in multi-line mode, as in `stdout`.
	// `inorder FILE -f PATTERNS` reads the regexps from the file PATTERNS,
	// one a line (blank lines and lines starting with # are skipped).
	"inorder": cmdInorder,
	// replace SRC OLD NEW DST writes SRC with the one occurrence of OLD
	// replaced by NEW to DST (SRC and DST may be the same). It fails unless
	// OLD occurs exactly once. In OLD and NEW, \n stands for a newline.
	"replace": cmdReplace,
}

func cmdExitcode(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! exitcode")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: exitcode N program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: bad code %q", args[0])
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exitcode: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

func cmdErrline(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: errline TEXT")
	}
	got := ts.ReadFile("stderr")
	if got != args[0]+"\n" {
		ts.Fatalf("stderr is\n\t%q\nwant exactly one line\n\t%q", got, args[0]+"\n")
	}
}

// readJSON decodes a file (or stdout/stderr) holding one JSON value.
func readJSON(ts *testscript.TestScript, file string) any {
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(file)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		ts.Fatalf("%s: not JSON: %v", file, err)
	}
	if dec.More() {
		ts.Fatalf("%s: more than one JSON value", file)
	}
	return v
}

// lookup follows a dotted path of object keys and array indexes.
func lookup(v any, path string) (any, bool) {
	if path == "." {
		return v, true
	}
	for _, k := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[k]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(k)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func cmdJSONHas(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: jsonhas FILE PATH...")
	}
	v := readJSON(ts, args[0])
	for _, p := range args[1:] {
		_, ok := lookup(v, p)
		if ok == neg {
			if neg {
				ts.Fatalf("%s has %s", args[0], p)
			}
			ts.Fatalf("%s has no %s", args[0], p)
		}
	}
}

// normJSON decodes and re-encodes a JSON value (numbers as float64), so
// that equal values compare equal whatever their spelling.
func normJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return "", err
	}
	b, err = json.Marshal(x)
	return string(b), err
}

func cmdJSONIs(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: jsonis FILE PATH VALUE")
	}
	got, ok := lookup(readJSON(ts, args[0]), args[1])
	if !ok {
		ts.Fatalf("%s has no %s", args[0], args[1])
	}
	var want any
	if err := json.Unmarshal([]byte(args[2]), &want); err != nil {
		want = args[2]
	}
	g, err := normJSON(got)
	ts.Check(err)
	w, err := normJSON(want)
	ts.Check(err)
	if (g == w) == neg {
		if neg {
			ts.Fatalf("%s %s is %s", args[0], args[1], g)
		}
		ts.Fatalf("%s %s is %s, want %s", args[0], args[1], g, w)
	}
}

func cmdInorder(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: inorder FILE REGEXP...")
	}
	text := ts.ReadFile(args[0])
	pats := args[1:]
	if pats[0] == "-f" {
		if len(pats) != 2 {
			ts.Fatalf("usage: inorder FILE -f PATTERNS")
		}
		pats = nil
		for _, l := range strings.Split(ts.ReadFile(args[2]), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				pats = append(pats, l)
			}
		}
		if len(pats) == 0 {
			ts.Fatalf("inorder: %s holds no patterns", args[2])
		}
	}
	pos := 0
	for _, p := range pats {
		re, err := regexp.Compile("(?m)" + p)
		ts.Check(err)
		loc := re.FindStringIndex(text[pos:])
		if loc == nil {
			if re.MatchString(text) {
				ts.Fatalf("%s: %q matches only before the previous pattern's match", args[0], p)
			}
			ts.Fatalf("%s: no match for %q", args[0], p)
		}
		pos += loc[1]
	}
}

func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 4 {
		ts.Fatalf("usage: replace SRC OLD NEW DST")
	}
	src := []byte(ts.ReadFile(args[0]))
	old := []byte(strings.ReplaceAll(args[1], `\n`, "\n"))
	nw := []byte(strings.ReplaceAll(args[2], `\n`, "\n"))
	if n := bytes.Count(src, old); n != 1 {
		ts.Fatalf("replace: %q occurs %d times in %s, want once", old, n, args[0])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[3]), bytes.Replace(src, old, nw, 1), 0o666))
}
