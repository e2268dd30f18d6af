package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/testbuild"
	"github.com/drillhq/drill/plugins/plugintest"
)

// testPlugins holds the test plugin built once per mode by TestMain:
// mode -> path and sha256.
var testPlugins = map[string]struct{ path, sum string }{}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if testbuild.FuzzWorker() {
		return m.Run() // the fuzz targets need no test plugins
	}
	dir, err := os.MkdirTemp("", "drill-testplugin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for _, mode := range []string{"ok", "crash", "hang", "protocol2", "garbage", "corrupt"} {
		wg.Go(func() {
			path, sum, err := testbuild.Build(dir, "drill-test-"+mode,
				"github.com/drillhq/drill/plugins/internal/testplugin", "-ldflags=-X main.mode="+mode)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			testPlugins[mode] = struct{ path, sum string }{path, sum}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintln(os.Stderr, "build test plugins:", err)
		return 1
	}
	return m.Run()
}

// spec is the LaunchSpec of the test plugin in mode, pinned by its sha256.
func spec(mode string) plugins.LaunchSpec {
	p := testPlugins[mode]
	return plugins.LaunchSpec{
		Name:   "test",
		Path:   p.path,
		SHA256: p.sum,
		Env:    []string{"PATH=/usr/bin:/bin"},
	}
}

func launch(t *testing.T, s plugins.LaunchSpec) *plugins.Client {
	t.Helper()
	c, err := plugins.Launch(t.Context(), s)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// processGone reports whether no process with pid exists any more.
func processGone(pid int) bool {
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// recorder is a RestoreEvents that keeps what it is told.
type recorder struct {
	mu       sync.Mutex
	progress []plugins.Progress
	files    []plugins.File
}

func (r *recorder) Progress(p plugins.Progress) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, p)
	return nil
}

func (r *recorder) Files(fs []plugins.File) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files = append(r.files, fs...)
	return nil
}

func (r *recorder) Scratch(string) error { return nil }

// logRecords is a slog.Handler that keeps every record with its
// attributes flattened.
type logRecords struct {
	attrs   []slog.Attr
	records *[]map[string]string
}

func newLogRecords() *logRecords { return &logRecords{records: new([]map[string]string)} }

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) WithGroup(string) slog.Handler            { return h }
func (h *logRecords) WithAttrs(as []slog.Attr) slog.Handler {
	return &logRecords{attrs: append(append([]slog.Attr{}, h.attrs...), as...), records: h.records}
}

func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	logMu.Lock()
	defer logMu.Unlock()
	*h.records = append(*h.records, m)
	return nil
}

var logMu sync.Mutex

func (h *logRecords) all() []map[string]string {
	logMu.Lock()
	defer logMu.Unlock()
	return append([]map[string]string(nil), *h.records...)
}

func newTarget(t *testing.T) string {
	t.Helper()
	target := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	return target
}

func TestLaunchOK(t *testing.T) {
	logs := newLogRecords()
	s := spec("ok")
	s.Logger = slog.New(logs)
	c := launch(t, s)
	if c.Pid() <= 0 {
		t.Fatalf("Pid() = %d", c.Pid())
	}
	ctx := t.Context()
	d, err := c.Describe(ctx, &plugins.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := d.Name, "test"; got != want {
		t.Errorf("Describe: Name %q, want %q", got, want)
	}
	src := plugins.Source{"name": "ok", "files": int64(3)}
	points, err := c.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(points.Points), 2; got != want {
		t.Fatalf("%d restore points, want %d", got, want)
	}
	newest := points.Points[0]
	if got, want := newest.ID, "point-2-\xff"; got != want {
		t.Errorf("newest point ID %q, want %q (IDs travel as bytes)", got, want)
	}
	if got, want := newest.Time, time.Date(2026, 1, 1, 2, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("newest point time %s, want %s", got, want)
	}

	target := newTarget(t)
	rec := &recorder{}
	resp, err := c.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: newest.ID, Target: target, DrillName: "d"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Files != 3 || len(rec.files) != 3 {
		t.Errorf("Restore: response %d files, %d reported; want 3 and 3", resp.Files, len(rec.files))
	}
	for _, f := range rec.files {
		if len(f.SHA256) != 32 {
			t.Errorf("file %q: sha256 %x, want 32 bytes", f.Path, f.SHA256)
		}
		if _, err := os.Lstat(filepath.Join(target, filepath.FromSlash(f.Path))); err != nil {
			t.Errorf("reported file: %v", err)
		}
	}
	if got := resp.Details["test_backend"]; got != "1.0.0" {
		t.Errorf("Details[test_backend] = %q, want 1.0.0", got)
	}
	if len(rec.progress) == 0 || rec.progress[len(rec.progress)-1].FilesDone != 3 {
		t.Errorf("progress %+v, want it to end at 3 files done", rec.progress)
	}

	pid := c.Pid()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("plugin process %d still exists after Close", pid)
	}
	if _, err := c.Describe(ctx, &plugins.DescribeRequest{}); err == nil {
		t.Error("Describe after Close succeeded")
	}

	// The plugin's PluginLogger line reached the host's logger, attributed
	// (Close waits until the plugin's stderr is drained).
	found := false
	for _, r := range logs.all() {
		if r["msg"] == "restore" && r["backend"] == "test" && r["component"] == "plugin" && r["level"] == "INFO" {
			found = true
		}
	}
	if !found {
		t.Errorf("the plugin's log line did not reach the host logger; records: %v", logs.all())
	}

}

func TestLaunchEnvironment(t *testing.T) {
	t.Setenv("DRILL_HOST_ONLY", "must-not-leak")
	s := spec("ok")
	s.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "DRILL_GIVEN=yes"}
	c := launch(t, s)
	ctx := t.Context()
	src := plugins.Source{"name": "env"}
	points, err := c.ListRestorePoints(ctx, &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: points.Points[0].ID, Target: newTarget(t)}, &recorder{})
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(resp.Details["environ"], "\x00")
	has := func(prefix string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, prefix) {
				return true
			}
		}
		return false
	}
	for _, want := range []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent", "DRILL_GIVEN=yes", plugins.MagicCookieKey + "="} {
		if !has(want) {
			t.Errorf("plugin environment lacks %q: %q", want, env)
		}
	}
	if has("DRILL_HOST_ONLY=") {
		t.Errorf("plugin environment has the host's DRILL_HOST_ONLY: %q", env)
	}
	// Nothing beyond what the caller gave and go-plugin's handshake.
	allowed := []string{"PATH=", "HOME=", "DRILL_GIVEN=", plugins.MagicCookieKey + "=", "PLUGIN_"}
	for _, e := range env {
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(e, a)
		}
		if !ok {
			t.Errorf("unexpected variable in the plugin environment: %q", e)
		}
	}
}

func TestLaunchWrongSHA256(t *testing.T) {
	s := spec("ok")
	real := s.SHA256
	s.SHA256 = strings.Repeat("ab", 32)
	_, err := plugins.Launch(t.Context(), s)
	if err == nil {
		t.Fatal("Launch with a wrong sha256 succeeded")
	}
	want := fmt.Sprintf("backend %q: plugin %s does not match its configured sha256 (got %s, want %s)", "test", s.Path, real, s.SHA256)
	if err.Error() != want {
		t.Errorf("error:\n got %s\nwant %s", err, want)
	}
}

func TestLaunchRefusesUnpinned(t *testing.T) {
	s := spec("ok")
	s.SHA256 = ""
	_, err := plugins.Launch(t.Context(), s)
	if err == nil || !strings.Contains(err.Error(), "has no sha256 configured") || !strings.Contains(err.Error(), testPlugins["ok"].sum) {
		t.Errorf("Launch of an unpinned external plugin: %v, want a refusal naming its sha256", err)
	}

	s.Builtin = true
	c := launch(t, s)
	if _, err := c.Describe(t.Context(), &plugins.DescribeRequest{}); err != nil {
		t.Errorf("built-in plugin without sha256: %v", err)
	}
}

func TestLaunchBadSpec(t *testing.T) {
	tests := []struct {
		name string
		edit func(*plugins.LaunchSpec)
		want string
	}{
		{"relative path", func(s *plugins.LaunchSpec) { s.Path = "drill-test" }, `backend "test": plugin path "drill-test" is not absolute`},
		{"missing file", func(s *plugins.LaunchSpec) { s.Path = "/nonexistent/drill-test" }, `backend "test": plugin: stat /nonexistent/drill-test: no such file or directory`},
		{"bad sha256", func(s *plugins.LaunchSpec) { s.SHA256 = "xyz" }, `sha256 "xyz" of plugin`},
		{"no name", func(s *plugins.LaunchSpec) { s.Name = "" }, "no backend name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := spec("ok")
			tt.edit(&s)
			_, err := plugins.Launch(t.Context(), s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Launch: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestLaunchCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := plugins.Launch(ctx, spec("ok"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Launch with a cancelled context: %v, want context.Canceled", err)
	}
}

func TestLaunchProtocolVersion2(t *testing.T) {
	_, err := plugins.Launch(t.Context(), spec("protocol2"))
	want := fmt.Sprintf("backend %q: plugin %s speaks protocol version 2, drill speaks 1", "test", testPlugins["protocol2"].path)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Launch: %v, want an error starting %q", err, want)
	}
}

func TestLaunchGarbage(t *testing.T) {
	start := time.Now()
	_, err := plugins.Launch(t.Context(), spec("garbage"))
	want := fmt.Sprintf("backend %q: plugin %s did not complete the handshake: it printed ", "test", testPlugins["garbage"].path)
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "is it a drill backend plugin?") {
		t.Errorf("Launch: %v, want an error starting %q", err, want)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Launch took %s to give up", took)
	}
}

func TestLaunchNotAPlugin(t *testing.T) {
	// A program that exits without a handshake.
	s := plugins.LaunchSpec{Name: "test", Path: "/bin/false", Builtin: true}
	_, err := plugins.Launch(t.Context(), s)
	want := `backend "test": plugin /bin/false exited before completing the handshake (exit status 1)`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Launch: %v, want an error starting %q", err, want)
	}
}

func TestRestoreCrash(t *testing.T) {
	c := launch(t, spec("crash"))
	pid := c.Pid()
	src := plugins.Source{"name": "crash"}
	points, err := c.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	_, err = c.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: points.Points[0].ID, Target: newTarget(t)}, rec)
	want := `backend "test": plugin process exited during Restore: signal: killed`
	if err == nil || err.Error() != want {
		t.Fatalf("Restore: %v, want %q", err, want)
	}
	if !errors.Is(err, plugins.ErrPluginExited) {
		t.Errorf("Restore error does not wrap ErrPluginExited")
	}
	if len(rec.files) != 1 {
		t.Errorf("%d files reported before the crash, want 1", len(rec.files))
	}
	// A later call knows the process is gone.
	_, err = c.Describe(t.Context(), &plugins.DescribeRequest{})
	if !errors.Is(err, plugins.ErrPluginExited) || !strings.Contains(err.Error(), "exited before Describe") {
		t.Errorf("Describe after the crash: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("plugin process %d still exists", pid)
	}
}

// A plugin that writes garbage into its gRPC connection in the middle of
// a restore (and on its stdout), then goes quiet: the host notices the
// broken stream at once, says which backend lost its connection, and Close
// stops the process.
func TestRestoreCorruptStream(t *testing.T) {
	c := launch(t, spec("corrupt"))
	pid := c.Pid()
	src := plugins.Source{"name": "corrupt"}
	points, err := c.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	start := time.Now()
	_, err = c.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: points.Points[0].ID, Target: newTarget(t)}, rec)
	want := `backend "test": Restore: connection to the plugin lost: `
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("Restore: %v, want an error starting %q", err, want)
	}
	t.Logf("Restore: %v (after %s)", err, time.Since(start).Round(time.Millisecond))
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the broken stream took %s to notice", took)
	}
	if len(rec.files) != 1 {
		t.Errorf("%d files reported before the garbage, want 1", len(rec.files))
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !processGone(pid) {
		t.Errorf("plugin process %d still exists after Close", pid)
	}
}

func TestRestoreHang(t *testing.T) {
	c := launch(t, spec("hang"))
	pid := c.Pid()
	src := plugins.Source{"name": "hang"}
	points, err := c.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	start := time.Now()
	_, err = c.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: points.Points[0].ID, Target: newTarget(t)}, &recorder{})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Restore: %v, want context.DeadlineExceeded", err)
	}
	if want := `backend "test": Restore: context deadline exceeded`; err == nil || err.Error() != want {
		t.Errorf("Restore: %v, want %q", err, want)
	}
	if took > timeout+2*time.Second {
		t.Errorf("Restore returned %s after the deadline, want under 2s", took-timeout)
	}
	if processGone(pid) {
		t.Fatal("the hanging plugin is gone before Close")
	}
	start = time.Now()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	if !processGone(pid) {
		t.Errorf("plugin process %d still exists after Close", pid)
	}
}

// TestConformance runs the conformance suite against the ok test plugin as
// a real process.
func TestConformance(t *testing.T) {
	plugintest.Suite{
		Launch: func(t *testing.T) plugins.Backend {
			return launch(t, spec("ok"))
		},
		Good:      plugins.Source{"name": "good"},
		Empty:     plugins.Source{"name": "empty", "points": int64(0)},
		Damaged:   plugins.Source{"name": "damaged", "damaged": true},
		WantFiles: 3,
	}.Run(t)
}

func TestCloseDuringRestore(t *testing.T) {
	c := launch(t, spec("hang"))
	src := plugins.Source{"name": "hang"}
	points, err := c.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: points.Points[0].ID, Target: newTarget(t)}, &recorder{})
		done <- err
	}()
	time.Sleep(200 * time.Millisecond) // let the Restore reach the plugin
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	select {
	case err := <-done:
		if want := `backend "test": Restore: the plugin was closed`; err == nil || err.Error() != want {
			t.Errorf("Restore: %v, want %q", err, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Restore did not return after Close")
	}
}

// TestLaunchSwapAfterHash: the plugin file is replaced in place right
// after Launch hashed it (a script that would leave a marker and is no
// plugin at all). What runs is the pinned binary Launch hashed, from its
// sealed copy: the handshake completes, the backend answers, and the
// script never ran.
func TestLaunchSwapAfterHash(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "drill-test-swapped")
	b, err := os.ReadFile(testPlugins["ok"].path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "swapped-ran")
	evil := "#!/bin/sh\ntouch " + marker + "\nexit 1\n"
	swapped := false
	defer plugins.SetAfterHash(func(p string) {
		if p != path {
			return
		}
		// In place: the same inode now holds the script.
		if err := os.WriteFile(p, []byte(evil), 0o755); err != nil {
			t.Error(err)
		}
		swapped = true
	})()
	s := spec("ok")
	s.Path = path
	c := launch(t, s)
	if !swapped {
		t.Fatal("the hook between hash and start was not called")
	}
	resp, err := c.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe of the pinned plugin: %v", err)
	}
	if resp.Name == "" {
		t.Errorf("Describe: %+v, want the test backend", resp)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Error("the file swapped in after the hash ran")
	}
	// The process runs the sealed copy; argv[0] is the configured path.
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", c.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(exe, "/memfd:drill-plugin-test") {
		t.Errorf("the plugin runs %s, want its sealed memfd copy", exe)
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", c.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	if argv0, _, _ := strings.Cut(string(cmdline), "\x00"); argv0 != path {
		t.Errorf("argv[0] %q, want the configured path %q", argv0, path)
	}

	// The next launch hashes the script now on disk and refuses it.
	_, err = plugins.Launch(t.Context(), s)
	if err == nil || !strings.Contains(err.Error(), "does not match its configured sha256") {
		t.Errorf("Launch of the swapped file: %v, want a sha256 mismatch", err)
	}
}
