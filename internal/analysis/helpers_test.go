package analysis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"scalegate.dev/scalegate/internal/policy"
)

// repoRoot is the repository, relative to this package.
const repoRoot = "../.."

// loadRel loads a policy by its path relative to the repository root and
// names it by that path, as the CLI run from the root would.
func loadRel(t testing.TB, rel string) *policy.Policy {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(rel, data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// loadTestdata loads testdata/name, named by that path.
func loadTestdata(t testing.TB, name string) (*policy.Policy, []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse(filepath.ToSlash(path), data)
	if err != nil {
		t.Fatal(err)
	}
	return p, data
}

// edit applies replacements (old, new, old, new, …) to src, failing when an
// old string does not occur exactly once, and parses the result.
func edit(t testing.TB, name string, src []byte, repl ...string) *policy.Policy {
	t.Helper()
	s := string(src)
	for i := 0; i+1 < len(repl); i += 2 {
		if n := strings.Count(s, repl[i]); n != 1 {
			t.Fatalf("%s: %q occurs %d times, want once", name, repl[i], n)
		}
		s = strings.Replace(s, repl[i], repl[i+1], 1)
	}
	p, err := policy.Parse(name, []byte(s))
	if err != nil {
		t.Fatalf("%s: edited policy does not parse: %v", name, err)
	}
	return p
}

// policyFiles lists policies/*.yaml relative to the repository root.
func policyFiles(t testing.TB) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(repoRoot, "policies", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) == 0 {
		t.Fatal("no policies found")
	}
	out := make([]string, len(m))
	for i, f := range m {
		out[i] = "policies/" + filepath.Base(f)
	}
	return out
}
