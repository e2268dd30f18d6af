package restic

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"
)

// TestHashFile: the hasher's read loop gives every byte of a restored
// file to its end, whatever its size against the buffer's, and also when
// the size it was given is stale (the file changed after its Stat): a
// short read ends the file only when it is the real end.
func TestHashFile(t *testing.T) {
	const bufSize = 16
	dir := t.TempDir()
	for _, size := range []int{0, 1, bufSize - 1, bufSize, bufSize + 1, 3*bufSize + 5} {
		data := bytes.Repeat([]byte("0123456789abcdefg"), 4)[:size]
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(data)
		for _, stated := range []int64{int64(size), int64(size) - 1, int64(size) + 1, 0} {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			n, sum, err := hashFile(f, stated, make([]byte, bufSize))
			_ = f.Close()
			if err != nil || n != int64(size) || !bytes.Equal(sum, want[:]) {
				t.Errorf("size %d, stated %d: got %d bytes, sum %x, err %v; want %d bytes, sum %x", size, stated, n, sum, err, size, want)
			}
		}
	}
	boom := errors.New("boom")
	if _, _, err := hashFile(iotest.ErrReader(boom), 10, make([]byte, bufSize)); !errors.Is(err, boom) {
		t.Errorf("a read error: got %v, want %v", err, boom)
	}
	// A reader that may return short reads before its end (not a
	// regular file) is read to io.EOF when the stated size is not met.
	data := []byte("short reads before the end")
	n, sum, err := hashFile(iotest.HalfReader(bytes.NewReader(data)), int64(len(data))+1, make([]byte, bufSize))
	want := sha256.Sum256(data)
	if err != nil || n != int64(len(data)) || !bytes.Equal(sum, want[:]) {
		t.Errorf("half reader: got %d bytes, sum %x, err %v; want %d, %x", n, sum, err, len(data), want)
	}
}
