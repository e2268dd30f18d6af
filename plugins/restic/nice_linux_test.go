package restic

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestInvocationNice: a restic run with nice set runs, every thread of
// it, at that nice value, and one without at the plugin's own; its
// output still arrives. (The fake restic waits before it looks, for the
// plugin to have lowered its priority after starting it.)
func TestInvocationNice(t *testing.T) {
	fake := filepath.Join(t.TempDir(), "restic")
	script := "#!/bin/sh\nsleep 0.3\nexec cat /proc/self/stat\n"
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	own := niceOf(t, readStat(t, "/proc/self/stat"))
	for _, tc := range []struct{ nice, want int }{{besideNice, besideNice}, {0, own}} {
		inv := &invocation{binary: fake, repo: "unused", noPass: true, nice: tc.nice}
		r := inv.run(context.Background())
		if r.code != 0 || r.waitErr != nil {
			t.Fatalf("nice %d: fake restic exited %d: %v", tc.nice, r.code, r.waitErr)
		}
		if got := niceOf(t, string(r.stdout)); got != tc.want {
			t.Errorf("nice %d: the fake restic ran at nice %d, want %d", tc.nice, got, tc.want)
		}
	}
}

func readStat(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// niceOf is the nice value in a /proc/PID/stat line: the 19th field,
// the 17th after the command's closing parenthesis.
func niceOf(t *testing.T, stat string) int {
	t.Helper()
	_, rest, ok := strings.Cut(stat, ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 17 {
		t.Fatalf("no nice value in %q", stat)
	}
	n, err := strconv.Atoi(f[16])
	if err != nil {
		t.Fatalf("nice value %q in %q: %v", f[16], stat, err)
	}
	return n
}
