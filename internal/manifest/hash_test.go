//go:build unix

package manifest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// addSpecialFiles adds to dir what is not a regular file: symlinks (to a
// file, to a directory, dangling), an empty directory, a fifo and a socket.
func addSpecialFiles(t *testing.T, dir string) {
	t.Helper()
	for _, l := range []struct{ target, name string }{
		{"plain.txt", "link-to-file"},
		{"sub", "link-to-dir"},
		{"nowhere", "dangling-link"},
	} {
		if err := os.Symlink(l.target, filepath.Join(dir, l.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "empty-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("unix", filepath.Join(dir, "sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
}

// TestHashTreeWritesWhatSha256sumPrints hashes a tree of odd names and
// checks the WriteTo output byte for byte against the real sha256sum run
// on the same files, and that `sha256sum -c` accepts it.
func TestHashTreeWritesWhatSha256sumPrints(t *testing.T) {
	needTools(t, "sha256sum", "find", "sort", "xargs")
	dir := t.TempDir()
	writeTree(t, dir, oddNames)
	addSpecialFiles(t, dir)

	m, err := HashTree(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := m.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	want := shell(t, dir, `find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum --`, nil)
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("WriteTo output differs from sha256sum:\ngot\n%q\nwant\n%q", got.Bytes(), want)
	}
	if got, want := len(m.Entries), len(oddNames); got != want {
		t.Errorf("got %d entries, want %d (one per regular file)", got, want)
	}
	shell(t, dir, "sha256sum --check --strict --quiet", got.Bytes())
}

func TestHashTreeRecordsSizesAndDigests(t *testing.T) {
	dir := t.TempDir()
	// Sizes around the read buffer, where the read loop changes course.
	sizes := map[string]int{
		"zero": 0, "one": 1, "buf-1": bufSize - 1, "buf": bufSize, "buf+1": bufSize + 1,
		"three-bufs+5": 3*bufSize + 5, "large": largeFile, "larger": largeFile + 3,
	}
	rng := rand.NewChaCha8([32]byte{1})
	var want []Entry
	var total int64
	for name, size := range sizes {
		total += int64(size)
		data := make([]byte, size)
		_, _ = rng.Read(data)
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		want = append(want, Entry{Path: name, Size: int64(size), SHA256: sha256.Sum256(data)})
	}
	wantM := &Manifest{Entries: want}
	wantM.Sort()
	for _, workers := range []int{1, 2, 5} {
		m, err := HashTree(t.Context(), dir, Options{Workers: workers})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(m.Entries, wantM.Entries) {
			t.Errorf("%d workers: got %s\nwant %s", workers, show(m.Entries), show(wantM.Entries))
		}
		if got, want := m.TotalBytes(), total; got != want {
			t.Errorf("TotalBytes() = %d, want %d", got, want)
		}
	}
	for _, e := range wantM.Entries {
		sum, size, err := HashFile(filepath.Join(dir, e.Path))
		if err != nil || sum != e.SHA256 || size != e.Size {
			t.Errorf("HashFile(%s) = %x, %d, %v; want %x, %d", e.Path, sum[:4], size, err, e.SHA256[:4], e.Size)
		}
	}
}

func TestHashTreeRootMayBeASymlink(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"tree/a": "a"})
	link := filepath.Join(dir, "link")
	if err := os.Symlink("tree", link); err != nil {
		t.Fatal(err)
	}
	m, err := HashTree(t.Context(), link, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Entries, []Entry{{"a", 1, digestOf(t, hexA)}}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %s, want %s", show(got), show(want))
	}
}

func TestHashTreeErrors(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"file": "x"})
	tests := []struct {
		name string
		root string
		want string
	}{
		{"a missing root", filepath.Join(dir, "missing"), "hash tree " + dir + "/missing: open " + dir + "/missing: no such file or directory"},
		{"a root that is a file", filepath.Join(dir, "file"), "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := HashTree(t.Context(), tt.root, Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestHashTreeUnreadableFileIsAnError(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads files whatever their mode")
	}
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"a": "a", "secret": "s"})
	if err := os.Chmod(filepath.Join(dir, "secret"), 0); err != nil {
		t.Fatal(err)
	}
	_, err := HashTree(t.Context(), dir, Options{})
	if want := "open " + filepath.Join(dir, "secret") + ": permission denied"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got error %v, want one containing %q", err, want)
	}
}

func TestHashTreeHonoursContext(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{}
	for i := range 300 {
		files[filepath.Join("d", string(rune('a'+i%20)), strings.Repeat("f", 1+i/20))] = strings.Repeat("x", i)
	}
	writeTree(t, dir, files)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	expired, cancel2 := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, tt := range []struct {
		name string
		ctx  context.Context
		want error
	}{
		{"cancelled", cancelled, context.Canceled},
		{"past its deadline", expired, context.DeadlineExceeded},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := HashTree(tt.ctx, dir, Options{})
			if !errors.Is(err, tt.want) || m != nil {
				t.Errorf("got %v, %v; want no manifest and %v", m, err, tt.want)
			}
		})
	}
}

// TestHashTreeStopsWhenCancelledWhileHashing cancels while a worker is in
// the middle of a large file: HashTree must return the context's error.
func TestHashTreeStopsWhenCancelledWhileHashing(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "big"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(1 << 30); err != nil { // sparse: costs no disk
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	_, err = HashTree(ctx, dir, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want %v", err, context.Canceled)
	}
	if d := time.Since(start); d > 300*time.Millisecond {
		t.Errorf("HashTree returned %v after the cancel; want it to stop within one buffer", d)
	}
}

func TestHashFileRefusesWhatIsNotARegularFile(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, oddNames)
	addSpecialFiles(t, dir)
	tests := []struct{ name, want string }{
		{"link-to-file", "is a symlink"},
		{"dangling-link", "is a symlink"},
		{"link-to-dir", "is a symlink"},
		{"empty-dir", "is a directory"},
		{"fifo", "is a named pipe"},
		{"sock", "is a socket"},
		{"missing", "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			_, _, err := HashFile(p)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("got error %v, want one naming %s and containing %q", err, p, tt.want)
			}
		})
	}
}

// TestScheduleStartsLargestFirst checks the order in which a HashTree run
// hands out work: small files as the walker finds them, and the large files
// found in them largest first.
func TestScheduleStartsLargestFirst(t *testing.T) {
	th := &treeHash{}
	th.cond.L = &th.mu
	th.ctx, th.cancel = context.WithCancel(t.Context())
	defer th.cancel()
	th.batches = [][]string{{"small1", "big1", "big3"}, {"small2", "big2"}}
	var got []string
	b, _, _ := th.next()
	got = append(got, b...)
	th.classified([]largeEntry{{"big1", 10 << 20}, {"big3", 30 << 20}})
	b, _, _ = th.next()
	got = append(got, b...)
	th.classified([]largeEntry{{"big2", 20 << 20}})
	th.walked = true
	for {
		b, big, ok := th.next()
		if !ok {
			break
		}
		if b != nil {
			t.Fatalf("got batch %q after the last one", b)
		}
		got = append(got, big.rel)
	}
	want := []string{"small1", "big1", "big3", "small2", "big2", "big3", "big2", "big1"}
	if !equalStrings(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestHashFDReadsToTheEnd gives hashFD a size that fstat might have
// reported before the file changed: it must still hash the whole file.
func TestHashFDReadsToTheEnd(t *testing.T) {
	dir := t.TempDir()
	rng := rand.NewChaCha8([32]byte{2})
	for _, size := range []int{0, 10, bufSize - 1, bufSize, 3*bufSize + 7} {
		data := make([]byte, size)
		_, _ = rng.Read(data)
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, statSize := range []int64{0, 9, int64(size) - 1, int64(size), int64(size) + 1, bufSize - 1, bufSize + 1} {
			if statSize < 0 {
				continue
			}
			fd, err := syscall.Open(p, syscall.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			hs := &hasher{buf: make([]byte, bufSize), h: sha256.New()}
			sum, n, err := hs.hashFD(t.Context(), fd, p, statSize)
			_ = syscall.Close(fd)
			if err != nil || sum != sha256.Sum256(data) || n != int64(size) {
				t.Errorf("size %d, fstat said %d: got %x, %d, %v; want %x, %d", size, statSize, sum[:4], n, err, sha256.Sum256(data), size)
			}
		}
	}
}
