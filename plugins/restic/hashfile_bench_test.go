package restic

import (
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkHashFile reads back and hashes what the bench's 0.5 GiB tree
// holds in small: 400 files of 1-64 KiB and one of 16 MiB, as the hasher
// does (hashFile) and as it did (io.CopyBuffer, which hands the file to
// its WriteTo: 32 KiB reads into a buffer allocated per file).
func BenchmarkHashFile(b *testing.B) {
	dir := b.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	var paths []string
	var total int64
	for i := range 401 {
		size := 1<<10 + r.IntN(63<<10)
		if i == 400 {
			size = 16 << 20
		}
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		p := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(p, data, 0o600); err != nil {
			b.Fatal(err)
		}
		paths = append(paths, p)
		total += int64(size)
	}
	hashAll := func(b *testing.B, hash func(f *os.File, size int64, buf []byte) error) {
		buf := make([]byte, 1<<20)
		b.SetBytes(total)
		for b.Loop() {
			for _, p := range paths {
				f, err := openRegular(p)
				if err != nil {
					b.Fatal(err)
				}
				fi, err := f.Stat()
				if err == nil {
					err = hash(f, fi.Size(), buf)
				}
				_ = f.Close()
				if err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("hashFile", func(b *testing.B) {
		hashAll(b, func(f *os.File, size int64, buf []byte) error {
			_, _, err := hashFile(f, size, buf)
			return err
		})
	})
	b.Run("CopyBuffer", func(b *testing.B) {
		hashAll(b, func(f *os.File, _ int64, buf []byte) error {
			_, err := io.CopyBuffer(sha256.New(), f, buf)
			return err
		})
	})
}
