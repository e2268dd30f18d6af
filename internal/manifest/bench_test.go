//go:build unix

package manifest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// The benchmark trees are made once per test binary, in DRILL_BENCH_DIR
// when set (and then kept, so the real tools can be timed on the same
// files), else in a temporary directory removed by TestMain.
var (
	benchRoot    string
	benchRootErr error
	benchOnce    sync.Once
	benchTrees   sync.Map // name -> *benchTree
)

type benchTree struct {
	once  sync.Once
	dir   string
	bytes int64
	err   error
}

func TestMain(m *testing.M) {
	if dir := os.Getenv("DRILL_TEST_HASH_TREE"); dir != "" {
		os.Exit(hashTreeMain(dir))
	}
	code := m.Run()
	if benchRoot != "" && os.Getenv("DRILL_BENCH_DIR") == "" {
		_ = os.RemoveAll(benchRoot)
	}
	os.Exit(code)
}

// benchData returns the directory of the named tree, made by fill (which
// returns the total size) on first use.
func benchData(b *testing.B, name string, fill func(dir string, rng *rand.ChaCha8) (int64, error)) (string, int64) {
	b.Helper()
	benchOnce.Do(func() {
		if d := os.Getenv("DRILL_BENCH_DIR"); d != "" {
			benchRoot, benchRootErr = d, os.MkdirAll(d, 0o755)
			return
		}
		benchRoot, benchRootErr = os.MkdirTemp("", "manifest-bench-")
	})
	if benchRootErr != nil {
		b.Fatal(benchRootErr)
	}
	v, _ := benchTrees.LoadOrStore(name, &benchTree{})
	tr := v.(*benchTree)
	tr.once.Do(func() {
		tr.dir = filepath.Join(benchRoot, name)
		done := filepath.Join(benchRoot, name+".done")
		if _, err := os.Stat(done); err == nil {
			tr.bytes, tr.err = dirBytes(tr.dir)
			return
		}
		if tr.err = os.RemoveAll(tr.dir); tr.err != nil {
			return
		}
		if tr.err = os.MkdirAll(tr.dir, 0o755); tr.err != nil {
			return
		}
		if tr.bytes, tr.err = fill(tr.dir, rand.NewChaCha8([32]byte{42})); tr.err != nil {
			return
		}
		tr.err = os.WriteFile(done, nil, 0o644)
	})
	if tr.err != nil {
		b.Fatal(tr.err)
	}
	return tr.dir, tr.bytes
}

func dirBytes(dir string) (int64, error) {
	m, err := HashTree(context.Background(), dir, Options{})
	if err != nil {
		return 0, err
	}
	return m.TotalBytes(), nil
}

func writeRandom(path string, size int, rng *rand.ChaCha8) error {
	data := make([]byte, size)
	_, _ = rng.Read(data)
	return os.WriteFile(path, data, 0o644)
}

// largeTree is 1 GiB in four files of unequal size (512, 256, 128 and 128
// MiB): two cores only finish together when the 512 MiB file starts first.
func largeTree(dir string, rng *rand.ChaCha8) (int64, error) {
	var total int64
	for i, mib := range []int{128, 256, 128, 512} {
		if err := writeRandom(filepath.Join(dir, fmt.Sprintf("file%d.bin", i)), mib<<20, rng); err != nil {
			return 0, err
		}
		total += int64(mib) << 20
	}
	return total, nil
}

// smallTree is 20,000 files of 1 to 64 KiB, 100 to a directory.
func smallTree(dir string, rng *rand.ChaCha8) (int64, error) {
	var total int64
	r := rand.New(rng)
	for i := range 20000 {
		d := filepath.Join(dir, fmt.Sprintf("d%03d", i/100))
		if i%100 == 0 {
			if err := os.Mkdir(d, 0o755); err != nil {
				return 0, err
			}
		}
		size := 1<<10 + r.IntN(63<<10+1)
		if err := writeRandom(filepath.Join(d, fmt.Sprintf("f%05d", i)), size, rng); err != nil {
			return 0, err
		}
		total += int64(size)
	}
	return total, nil
}

func benchmarkHashTree(b *testing.B, name string, fill func(string, *rand.ChaCha8) (int64, error)) {
	dir, size := benchData(b, name, fill)
	if _, err := HashTree(b.Context(), dir, Options{}); err != nil { // warm the page cache
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := HashTree(b.Context(), dir, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHashTreeLarge hashes 1 GiB in four large files; compare with
// `openssl dgst -sha256` on the same files.
func BenchmarkHashTreeLarge(b *testing.B) { benchmarkHashTree(b, "large", largeTree) }

// BenchmarkHashTreeSmall hashes 20,000 files of 1-64 KiB; compare with
// `find . -type f -print0 | xargs -0 -P2 sha256sum` on the same files.
func BenchmarkHashTreeSmall(b *testing.B) { benchmarkHashTree(b, "small", smallTree) }

// BenchmarkPoolSmall hashes the small tree through a Pool.
func BenchmarkPoolSmall(b *testing.B) {
	dir, size := benchData(b, "small", smallTree)
	m, err := HashTree(b.Context(), dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		p := NewPool(b.Context(), dir, 0)
		for _, e := range m.Entries {
			p.Add(e.Path)
		}
		if _, err := p.Wait(); err != nil {
			b.Fatal(err)
		}
	}
}
