package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
)

// BenchmarkAppend measures one durable Append (one bbolt transaction, so
// one commit with its fsyncs) on a log that grows by b.N records.
func BenchmarkAppend(b *testing.B) {
	key := testKey(b, testOrigin)
	s, err := Open(filepath.Join(b.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	recs := make([]*record.Record, 64)
	for i := range recs {
		recs[i] = testRecord(i, verdictFor(i))
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Append(recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendConcurrent measures Append from 12 goroutines at once,
// as an agent running concurrent drills does: appends that arrive while
// a commit is in progress share the next one (group commit), so the time
// per record falls below one commit's. It reports the records per commit.
func BenchmarkAppendConcurrent(b *testing.B) {
	key := testKey(b, testOrigin)
	s, err := Open(filepath.Join(b.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	b.SetParallelism(6) // 12 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if _, err := s.Append(testRecord(i, verdictFor(i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/float64(max(s.commits.Load(), 1)), "records/commit")
}

// BenchmarkVerify measures Verify of a log of 10,000 records.
func BenchmarkVerify(b *testing.B) {
	key := testKey(b, testOrigin)
	s, err := Open(filepath.Join(b.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < 10_000; i += 1_000 {
		recs := make([]*record.Record, 1_000)
		for j := range recs {
			recs[j] = testRecord(i+j, verdictFor(j))
		}
		if _, err := s.AppendBatch(recs); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		if _, err := s.Verify(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendVerify100k measures the performance targets of DESIGN.md and
// issue 6: appending 100,000 records (target under 60 s), verifying them
// in the store, exporting them all and verifying the bundle offline
// (target under 5 s). It logs the figures and does not fail on them.
//
// It runs only when DRILL_EVIDENCE_100K is set. With =batch the records are appended in batches of 1,000 (AppendBatch:
// still one signed checkpoint per record, but one commit per batch). With
// DRILL_EVIDENCE_100K=append each record is its own Append, one commit and
// its fsyncs each, as a lone drill does; that takes minutes on a disk with
// millisecond fsyncs, so give go test a -timeout of 30m or more. With
// =concurrent 12 goroutines each Append their share, as an agent's
// concurrent drills do, and group commit lets them share commits.
func TestAppendVerify100k(t *testing.T) {
	mode := os.Getenv("DRILL_EVIDENCE_100K")
	if mode == "" {
		t.Skip("a measurement, not a test: set DRILL_EVIDENCE_100K=batch (or =append, =concurrent) to append 100,000 records")
	}
	const n = 100_000
	key := testKey(t, testOrigin)
	path := filepath.Join(t.TempDir(), "drill.db")
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	start, cpu := time.Now(), cpuTime()
	how := appendMany(t, s, mode, n)
	appendTime, appendCPU := time.Since(start), cpuTime()-cpu

	start, cpu = time.Now(), cpuTime()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	verifyTime, verifyCPU := time.Since(start), cpuTime()-cpu
	if rep.Records != n {
		t.Errorf("Verify: %d records, want %d", rep.Records, n)
	}
	// Export everything, then verify the bundle as an auditor would.
	bundlePath := filepath.Join(t.TempDir(), "bundle.tar.gz")
	f, err := os.Create(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	start, cpu = time.Now(), cpuTime()
	if _, err := s.Export(f, bundle.Selection{}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	exportTime, exportCPU := time.Since(start), cpuTime()-cpu
	bf, err := os.Open(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	defer bf.Close()
	start, cpu = time.Now(), cpuTime()
	brep, err := bundle.Verify(context.Background(), bf, bundle.Options{Key: []byte(key.VerifierKey)})
	if err != nil {
		t.Fatal(err)
	}
	bundleTime, bundleCPU := time.Since(start), cpuTime()-cpu
	if brep.Records != n {
		t.Errorf("VerifyBundle: %d records, want %d", brep.Records, n)
	}
	// The export statement's share of it: every member hashed, both
	// reports rebuilt and compared (the bundle read again, untimed).
	raw, err := os.ReadFile(bundlePath)
	if err != nil {
		t.Fatal(err)
	}
	ms := unpack(t, raw)
	start, cpu = time.Now(), cpuTime()
	for _, m := range ms {
		sha256.Sum256(m.data)
		if m.name == bundle.MemberReportCSV || m.name == bundle.MemberReportHTML {
			if err := bundle.CheckReport(m.name, m.data, true, brep.Export, evlog.Checkpoint{Origin: testOrigin, Size: n, Root: brep.Root}, brep.Entries); err != nil {
				t.Fatal(err)
			}
		}
	}
	stmtTime, stmtCPU := time.Since(start), cpuTime()-cpu
	bfi, _ := os.Stat(bundlePath)
	t.Logf("export of %d records: %v wall, %v CPU; bundle %d MiB", n, exportTime.Round(time.Millisecond), exportCPU.Round(time.Millisecond), bfi.Size()>>20)
	t.Logf("verify of the %d-record bundle: %v wall, %v CPU (target < 5s)", n, bundleTime.Round(time.Millisecond), bundleCPU.Round(time.Millisecond))
	t.Logf("  of which the export statement (members hashed, reports rebuilt and compared): %v wall, %v CPU", stmtTime.Round(time.Millisecond), stmtCPU.Round(time.Millisecond))

	fi, _ := os.Stat(path)
	t.Logf("GOMAXPROCS %d, load average %s", runtime.GOMAXPROCS(0), loadAverage())
	t.Logf("%d appends (%s): %v wall, %v CPU, %v per record (target < 60s); %d commits", n, how,
		appendTime.Round(time.Millisecond), appendCPU.Round(time.Millisecond), (appendTime / n).Round(time.Microsecond), s.commits.Load())
	t.Logf("verify of %d records: %v wall, %v CPU (target < 5s); database %d MiB", n,
		verifyTime.Round(time.Millisecond), verifyCPU.Round(time.Millisecond), fi.Size()>>20)
}

// appendMany appends n test records to s as mode says (see
// TestAppendVerify100k) and returns how, for the log.
func appendMany(t *testing.T, s *Store, mode string, n int) string {
	const batch, writers = 1_000, 12
	switch mode {
	case "append":
		for i := range n {
			if _, err := s.Append(testRecord(i, verdictFor(i))); err != nil {
				t.Fatal(err)
			}
		}
		return "one Append each"
	case "concurrent":
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := w; i < n; i += writers {
					if _, err := s.Append(testRecord(i, verdictFor(i))); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		return fmt.Sprintf("one Append each from %d goroutines", writers)
	}
	recs := make([]*record.Record, 0, batch)
	for i := range n {
		if recs = append(recs, testRecord(i, verdictFor(i))); len(recs) == batch {
			if _, err := s.AppendBatch(recs); err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
		}
	}
	return fmt.Sprintf("AppendBatch of %d", batch)
}

// cpuTime is the user and system CPU time this process has used, so that
// figures measured on a busy machine can be told apart from wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAverage is the first field of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// BenchmarkVerifyBundle measures VerifyBundle of a complete bundle of
// 10,000 records.
func BenchmarkVerifyBundle(b *testing.B) {
	key := testKey(b, testOrigin)
	path := filepath.Join(b.TempDir(), "drill.db")
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 10_000; i += 1_000 {
		recs := make([]*record.Record, 1_000)
		for j := range recs {
			recs[j] = testRecord(i+j, verdictFor(j))
		}
		if _, err := s.AppendBatch(recs); err != nil {
			b.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := s.Export(&buf, bundle.Selection{}, time.Now()); err != nil {
		b.Fatal(err)
	}
	must(b, s.Close())
	pub := []byte(key.VerifierKey)
	for b.Loop() {
		if _, err := bundle.Verify(context.Background(), bytes.NewReader(buf.Bytes()), bundle.Options{Key: pub}); err != nil {
			b.Fatal(err)
		}
	}
}
