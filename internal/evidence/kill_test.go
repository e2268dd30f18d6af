package evidence

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// TestMain lets the test binary act as an appender for TestKillLoop.
func TestMain(m *testing.M) {
	if dir := os.Getenv("DRILL_TEST_APPENDER"); dir != "" {
		appender(dir)
		return
	}
	os.Exit(m.Run())
}

// appender appends records to the store in dir until it is killed.
func appender(dir string) {
	key, err := keys.Load(filepath.Join(dir, "keys"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := Open(filepath.Join(dir, "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("ready")
	for i := 0; ; i++ {
		rec := testRecord(i, verdictFor(i))
		var err error
		if i%3 == 0 {
			_, err = s.AppendBatch([]*record.Record{rec, testRecord(i+1, record.VerdictPass)})
		} else {
			_, err = s.Append(rec)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
	}
}

// An appender killed with SIGKILL at random moments, hundreds of times:
// afterwards the log always opens for writing, verifies, and holds only
// whole records (every append is one bbolt transaction).
func TestKillLoop(t *testing.T) {
	// 50 in every test run; DRILL_KILL_LOOP=500 for the figure of issue 8
	// (each iteration verifies the whole, growing log).
	iterations := 50
	if testing.Short() {
		iterations = 10
	}
	if s := os.Getenv("DRILL_KILL_LOOP"); s != "" {
		iterations, _ = strconv.Atoi(s)
	}
	dir := t.TempDir()
	key, err := keys.LoadOrCreate(filepath.Join(dir, "keys"), testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(filepath.Join(dir, "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	must(t, s.Close())
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var prev int64
	for it := range iterations {
		cmd := exec.Command(self)
		cmd.Env = append(os.Environ(), "DRILL_TEST_APPENDER="+dir)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 6)
		if _, err := out.Read(buf); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("iteration %d: the appender did not start: %v", it, err)
		}
		time.Sleep(time.Duration(rand.IntN(30_000)) * time.Microsecond)
		must(t, cmd.Process.Kill())
		_ = cmd.Wait() // signal: killed

		s, err := Open(filepath.Join(dir, "drill.db"), Options{Origin: testOrigin, Key: key})
		if err != nil {
			t.Fatalf("iteration %d: open after kill -9: %v", it, err)
		}
		if err := s.Damaged(); err != nil {
			t.Fatalf("iteration %d: damaged after kill -9: %v", it, err)
		}
		rep, err := s.Verify(context.Background())
		if err != nil {
			t.Fatalf("iteration %d: verify after kill -9: %v", it, err)
		}
		if rep.Records < prev {
			t.Fatalf("iteration %d: the log shrank from %d to %d records", it, prev, rep.Records)
		}
		prev = rep.Records
		must(t, s.Close())
	}
	t.Logf("%d kills, %d records, the log verified after every one", iterations, prev)
}
