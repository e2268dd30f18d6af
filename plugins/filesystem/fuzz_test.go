package filesystem

import (
	"bytes"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// FuzzRestoreTar restores arbitrary bytes as an archive: whatever they
// hold, the restore does not panic, does not return an error (damage is a
// problem, not an error) and creates nothing outside the target, even
// through the symlinks it restores.
func FuzzRestoreTar(f *testing.F) {
	valid := makeTar(f, dirEntry("d/", 0o755), file("d/f", "hello"), symlink("d/l", "f"), hardlink("h", "d/f"))
	hostile := makeTar(f, file("../evil", "x"), symlink("l", ".."), file("l/x", "y"),
		symlink("a/b/up", "../.."), symlink("esc", "a/b/up/../.."), hardlink("h", "../x"))
	var gz, zst bytes.Buffer
	zw := gzip.NewWriter(&gz)
	if _, err := zw.Write(valid); err != nil {
		f.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		f.Fatal(err)
	}
	enc, err := zstd.NewWriter(&zst)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := enc.Write(hostile); err != nil {
		f.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		f.Fatal(err)
	}
	for _, seed := range [][]byte{valid, hostile, gz.Bytes(), zst.Bytes(), valid[:len(valid)/2], gz.Bytes()[:gz.Len()/2], nil} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sandbox := t.TempDir()
		resp, _, _, err := restoreInSandbox(t, sandbox, data, 16<<20)
		if err != nil {
			t.Fatalf("Restore returned an error for archive bytes: %v", err)
		}
		if resp == nil {
			t.Fatal("Restore returned no response")
		}
		onlyEntries(t, sandbox, "target", "x.tar")
	})
}
