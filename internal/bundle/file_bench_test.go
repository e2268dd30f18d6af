package bundle

import (
	"bytes"
	"context"
	"os"
	"testing"
)

// BenchmarkVerifyFile verifies the bundle file $DRILL_BENCH_BUNDLE with
// the key file $DRILL_BENCH_KEY (a generated log's export, see
// scripts/evbench), for profiling: go test -run - -bench VerifyFile
// -cpuprofile cpu.out ./internal/bundle. Skipped without them.
func BenchmarkVerifyFile(b *testing.B) {
	path, keyPath := os.Getenv("DRILL_BENCH_BUNDLE"), os.Getenv("DRILL_BENCH_KEY")
	if path == "" || keyPath == "" {
		b.Skip("set DRILL_BENCH_BUNDLE and DRILL_BENCH_KEY")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	key, err := os.ReadFile(keyPath)
	if err != nil {
		b.Fatal(err)
	}
	thorough := os.Getenv("DRILL_BENCH_THOROUGH") != ""
	for b.Loop() {
		if _, err := Verify(context.Background(), bytes.NewReader(data), Options{Key: key, Thorough: thorough}); err != nil {
			b.Fatal(err)
		}
	}
}
