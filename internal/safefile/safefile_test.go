package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("S3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(dir, "db.sql")
	if err := os.WriteFile(dump, []byte("SELECT 1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sql")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.sql")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}

	b, err := ReadFile(dump, "dump", 1<<20)
	if err != nil || string(b) != "SELECT 1;\n" {
		t.Fatalf("ReadFile(dump) = %q, %v", b, err)
	}
	for _, tc := range []struct{ path, want string }{
		{link, "is a symlink"},
		{fifo, "is a FIFO"},
		{dir, "is a directory"},
	} {
		_, err := Open(tc.path, "dump")
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Open(%s) = %v, want an error naming it and saying %q", tc.path, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "S3cret") {
			t.Errorf("Open(%s) quotes the link's target: %v", tc.path, err)
		}
	}
	if _, err := ReadFile(dump, "password file", 4); err == nil {
		t.Error("ReadFile past max: no error")
	}
	if _, err := Open(filepath.Join(dir, "missing"), "dump"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
}

func TestDir(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "dump.d")
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "toc.dat"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Dir(d, "dump", 0); err != nil {
		t.Fatalf("Dir(good) = %v", err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(d, "3001.dat")); err != nil {
		t.Fatal(err)
	}
	if err := Dir(d, "dump", 0); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "3001.dat") {
		t.Fatalf("Dir(with a symlinked member) = %v", err)
	}
	link := filepath.Join(dir, "link.d")
	if err := os.Symlink(d, link); err != nil {
		t.Fatal(err)
	}
	if err := Dir(link, "dump", 0); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("Dir(symlink to a dir) = %v", err)
	}
}
