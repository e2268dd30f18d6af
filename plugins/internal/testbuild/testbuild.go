// Package testbuild compiles plugin executables for tests with the go
// command.
package testbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Build compiles the main package pkg (an import path, or a directory
// starting with ./ relative to the current directory) into dir/name with
// `go build` and the extra flags, and returns the executable's path and
// its hex SHA-256.
func Build(dir, name, pkg string, flags ...string) (path, sum string, err error) {
	path = filepath.Join(dir, name)
	args := append([]string{"build", "-o", path}, flags...)
	args = append(args, pkg)
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		return "", "", fmt.Errorf("go %v: %w\n%s", args, err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", "", err
	}
	return path, hex.EncodeToString(h.Sum(nil)), nil
}

// FuzzWorker reports whether this test binary runs as a fuzz worker
// (go test -fuzz starts the binary again with -test.fuzzworker). A worker
// runs only the fuzz target, so a TestMain skips the builds the other
// tests need: go test counts a worker's start in -fuzztime, and a few
// seconds of building made short fuzz runs fail with "context deadline
// exceeded" before their baseline was gathered.
func FuzzWorker() bool {
	for _, a := range os.Args[1:] {
		if a == "-test.fuzzworker" || strings.HasPrefix(a, "-test.fuzzworker=") {
			return a != "-test.fuzzworker=false"
		}
	}
	return false
}
