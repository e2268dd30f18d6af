package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// drillBin is the drill binary built once for the end-to-end scripts.
var drillBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "drill-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	drillBin = filepath.Join(dir, "drill")
	// DRILL_RACE=1 builds the binary with the race detector, so that the
	// end-to-end tests (the agent's above all) also look for data races.
	buildArgs := []string{"build", "-o", drillBin}
	if os.Getenv("DRILL_RACE") != "" {
		buildArgs = append(buildArgs, "-race")
	}
	build := exec.Command("go", append(buildArgs, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build drill:", err)
		os.Exit(1)
	}
	// The restic pinned in the tools module (tools/go.mod), for the restic
	// scripts.
	build = exec.Command("go", "build", "-modfile=../../tools/go.mod", "-o", filepath.Join(dir, "restic"), "github.com/restic/restic/cmd/restic")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build restic:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// TestScripts runs the CLI end to end against the built binary: each
// testdata/script/*.txtar is a story an operator could tell.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(e *testscript.Env) error {
			e.Setenv("PATH", filepath.Dir(drillBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			e.Setenv("DRILL_CONFIG", "")
			return nil
		},
		// [exists:PATH]: PATH exists on this host (such as a config at the
		// default path, which a script cannot remove).
		Condition: func(cond string) (bool, error) {
			if p, ok := strings.CutPrefix(cond, "exists:"); ok {
				_, err := os.Stat(p)
				return err == nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"age":       cmdAge,
			"flipbyte":  cmdFlipByte,
			"truncate":  cmdTruncate,
			"tamperlog": cmdTamperLog,
			"noscratch": cmdNoScratch,
		},
	})
}

// age FILE DURATION: set FILE's modification time DURATION into the past.
func cmdAge(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: age FILE DURATION")
	}
	d, err := time.ParseDuration(args[1])
	ts.Check(err)
	t := time.Now().Add(-d)
	ts.Check(os.Chtimes(ts.MkAbs(args[0]), t, t))
}

// flipbyte FILE OFFSET: invert one byte of FILE (a negative OFFSET counts from the end).
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: flipbyte FILE OFFSET")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	off, err := strconv.Atoi(args[1])
	ts.Check(err)
	if off < 0 {
		off += len(b)
	}
	b[off] ^= 0xff
	ts.Check(os.WriteFile(p, b, 0o644))
}

// truncate FILE SIZE: cut FILE to SIZE bytes (a negative SIZE removes that many from the end).
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	p := ts.MkAbs(args[0])
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	if n < 0 {
		fi, err := os.Stat(p)
		ts.Check(err)
		n += fi.Size()
	}
	ts.Check(os.Truncate(p, n))
}

// tamperlog DB: change one character inside the first evidence record's
// signed payload, directly in the bbolt file, as someone editing the
// database by hand would.
func cmdTamperLog(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: tamperlog DB")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	marker := []byte(`"payload":"`)
	i := bytes.Index(b, marker)
	if i < 0 {
		ts.Fatalf("no record payload found in %s", p)
	}
	if bytes.Count(b, marker) != 1 {
		ts.Fatalf("tamperlog expects exactly one record in %s", p)
	}
	j := i + len(marker) + 40
	if b[j] == 'A' {
		b[j] = 'B'
	} else {
		b[j] = 'A'
	}
	ts.Check(os.WriteFile(p, b, 0o600))
}

// noscratch DIR: DIR (a scratch root) holds no scratch directories.
func cmdNoScratch(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: noscratch DIR")
	}
	ents, err := os.ReadDir(ts.MkAbs(args[0]))
	if err != nil && !os.IsNotExist(err) {
		ts.Fatalf("%v", err)
	}
	if (len(ents) == 0) == neg {
		ts.Fatalf("scratch root %s holds %d entries", args[0], len(ents))
	}
}
