package manifest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// oddNames are file names that trip up naive manifest code: coreutils
// escapes some of them, and shells, sort and UTF-8 handling mangle others.
var oddNames = map[string]string{
	"plain.txt":             "plain\n",
	"with space.txt":        "spaces\n",
	" leading space":        "leading space\n",
	"trailing space ":       "trailing space\n",
	"new\nline":             "newline in the name\n",
	"back\\slash":           "backslash in the name\n",
	"cr\rname":              "carriage return in the name\n",
	"tab\tname":             "tab in the name\n",
	"\xff\xfe-invalid-utf8": "invalid UTF-8 name\n",
	"ünïcödé":               "valid UTF-8 name\n",
	"-leading-dash":         "looks like an option\n",
	"*star":                 "looks like binary mode\n",
	"#hash":                 "looks like a comment\n",
	"empty":                 "",
	"sub/dir/deep.txt":      "deep\n",
	"sub/both\n\\and\r.txt": "newline, backslash and carriage return\n",
}

// writeTree creates files (path relative to dir: content) below dir.
func writeTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// needTools skips the test when a real tool it runs is missing, unless
// DRILL_TEST_DISALLOW_SKIP is set (as in CI), where it fails.
func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("DRILL_TEST_DISALLOW_SKIP") != "" {
				t.Fatalf("%s is needed: %v", name, err)
			}
			t.Skipf("%s is not installed: %v", name, err)
		}
	}
}

// shell runs script with sh in dir, in the C locale, feeding stdin, and
// returns its standard output.
func shell(t *testing.T, dir, script string, stdin []byte) []byte {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, strings.TrimSpace(stderr.String()))
	}
	return out
}

// paths returns the paths of m.
func paths(m *Manifest) []string {
	var out []string
	for _, e := range m.Entries {
		out = append(out, e.Path)
	}
	return out
}

// withoutSizes returns m's entries with every Size -1, as Parse returns them.
func withoutSizes(m *Manifest) []Entry {
	out := make([]Entry, len(m.Entries))
	for i, e := range m.Entries {
		e.Size = -1
		out[i] = e
	}
	return out
}

// show formats entries for a test failure: quoted path, size, short digest.
func show(entries []Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "\n\t%q size %d sha256 %x", e.Path, e.Size, e.SHA256[:4])
	}
	return b.String()
}

// hashTreeMain is the test binary run as DRILL_TEST_HASH_TREE=DIR: it
// prints the manifest of DIR.
func hashTreeMain(dir string) int {
	m, err := HashTree(context.Background(), dir, Options{})
	if err == nil {
		_, err = m.WriteTo(os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
