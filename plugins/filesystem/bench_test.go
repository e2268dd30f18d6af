package filesystem

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/plugintest"
)

// benchTree is a realistic tree for benchmarks: many small text files of
// 1 to 64 KiB and a few large files, a third random and the rest text. It
// is the shape of the reference comparison (10,000 small files and six
// files of 100 MiB, about 1 GiB) at a tenth of its size: 1,000 small
// files and six files of 10 MiB.
type benchTree struct {
	dir   string
	bytes int64
}

var (
	benchOnce sync.Once
	benchDir  string
	benchData benchTree
	benchErr  error
)

// makeBenchTree builds the benchmark tree once per test binary, with
// tar.gz and tar.zst archives of it made by the real tar.
func makeBenchTree(b *testing.B) benchTree {
	b.Helper()
	requireTool(b, "tar")
	requireTool(b, "zstd")
	benchOnce.Do(func() {
		benchDir, benchErr = os.MkdirTemp("", "drill-fs-bench-")
		if benchErr != nil {
			return
		}
		src := filepath.Join(benchDir, "src")
		benchData = benchTree{dir: benchDir}
		benchData.bytes, benchErr = writeBenchTree(src, 1000, 6, 10<<20)
		if benchErr != nil {
			return
		}
		for _, args := range [][]string{
			{"-czf", filepath.Join(benchDir, "tree.tar.gz")},
			{"--zstd", "-cf", filepath.Join(benchDir, "tree.tar.zst")},
		} {
			cmd := exec.Command("tar", append(args, "-C", src, ".")...)
			if out, err := cmd.CombinedOutput(); err != nil {
				benchErr = fmt.Errorf("tar %v: %w: %s", args, err, out)
				return
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchData
}

// TestMain removes the benchmark tree, if one was made.
func TestMain(m *testing.M) {
	plugintest.ServePlugin(New) // when run as a plugin process (TestConformance/confined)
	code := m.Run()
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// writeBenchTree writes small files and big files of bigSize under dir
// and returns the bytes written.
func writeBenchTree(dir string, small, big int, bigSize int) (int64, error) {
	rng := rand.New(rand.NewPCG(42, 7))
	vocab := make([]string, 5000)
	for i := range vocab {
		w := make([]byte, 2+rng.IntN(9))
		for j := range w {
			w[j] = byte('a' + rng.IntN(26))
		}
		vocab[i] = string(w)
	}
	word := func() string { // roughly Zipf: a few words are common
		return vocab[int(float64(len(vocab))*rng.Float64()*rng.Float64()*rng.Float64())]
	}
	text := func(w *bufio.Writer, n int) {
		for n > 0 {
			line := fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02dZ INFO %s: %s %s %s id=%d latency=%dms\n",
				1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60),
				word(), word(), word(), word(), rng.IntN(1000000), rng.IntN(5000))
			if len(line) > n {
				line = line[:n]
			}
			_, _ = w.WriteString(line) // a bufio.Writer keeps its error for Flush
			n -= len(line)
		}
	}
	var total int64
	write := func(p string, fill func(w *bufio.Writer)) error {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fill(w)
		if err := w.Flush(); err != nil {
			return err
		}
		fi, _ := f.Stat()
		total += fi.Size()
		return f.Close()
	}
	for i := range small {
		p := filepath.Join(dir, fmt.Sprintf("d%02d/s%02d/f%05d.txt", i%37, i%11, i))
		if err := write(p, func(w *bufio.Writer) { text(w, 1024+rng.IntN(63*1024)) }); err != nil {
			return 0, err
		}
	}
	for i := range big {
		p := filepath.Join(dir, fmt.Sprintf("big/big%d.bin", i))
		err := write(p, func(w *bufio.Writer) {
			chunk := make([]byte, 1<<20)
			for mb := range bigSize >> 20 {
				if mb%3 == 0 {
					for j := range chunk {
						chunk[j] = byte(rng.Uint32())
					}
					_, _ = w.Write(chunk) // as in text
				} else {
					text(w, len(chunk))
				}
			}
		})
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// benchRestore restores archive into a fresh target b.N times. Targets
// are removed only when the benchmark ends: on ext4, creating files within
// seconds of deleting as many makes inode allocation skip the recently
// deleted ones, which would time the file system, not the restore.
func benchRestore(b *testing.B, backend *Backend, archive string, bytes int64) {
	b.SetBytes(bytes)
	for b.Loop() {
		b.StopTimer()
		target := filepath.Join(b.TempDir(), "target")
		if err := os.Mkdir(target, 0o700); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		resp, err := backend.Restore(context.Background(), &plugins.RestoreRequest{
			Source: plugins.Source{"archive": archive}, PointID: archive, Target: target,
		}, discardEvents{})
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Problems) > 0 || resp.Bytes != bytes {
			b.Fatalf("restored %d of %d bytes, problems: %s", resp.Bytes, bytes, problemsOf(resp.Problems))
		}
	}
}

// BenchmarkRestoreTarGz is the one-pass verification of a .tar.gz:
// extract and hash every file.
func BenchmarkRestoreTarGz(b *testing.B) {
	tree := makeBenchTree(b)
	benchRestore(b, &Backend{}, filepath.Join(tree.dir, "tree.tar.gz"), tree.bytes)
}

// BenchmarkRestoreTarZst measures the number of zstd decoder goroutines;
// the default is the fastest on two cores.
func BenchmarkRestoreTarZst(b *testing.B) {
	tree := makeBenchTree(b)
	for _, conc := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("decoders=%d", conc), func(b *testing.B) {
			benchRestore(b, &Backend{zstdConcurrency: conc}, filepath.Join(tree.dir, "tree.tar.zst"), tree.bytes)
		})
	}
}

// BenchmarkTarXzfThenSha256sum is the baseline that
// BenchmarkRestoreTarGz is held to (at most 0.7x its time): the real tar
// extracts, then sha256sum hashes every extracted file.
func BenchmarkTarXzfThenSha256sum(b *testing.B) {
	tree := makeBenchTree(b)
	requireTool(b, "sha256sum")
	archive := filepath.Join(tree.dir, "tree.tar.gz")
	b.SetBytes(tree.bytes)
	for b.Loop() {
		b.StopTimer()
		target := filepath.Join(b.TempDir(), "target")
		if err := os.Mkdir(target, 0o700); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		run(b, "tar", "-xzf", archive, "-C", target)
		cmd := exec.Command("sh", "-c", "find . -type f -print0 | xargs -0 sha256sum >/dev/null")
		cmd.Dir = target
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("sha256sum: %v: %s", err, out)
		}
	}
}
