package plugins_test

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/drillhq/drill/plugins"
)

// sandboxFixture is a state_dir with a signing key, a source file, a
// scratch directory with its temp folder, and two TCP listeners on
// 127.0.0.1, as a drill run sees them.
type sandboxFixture struct {
	key, keyBody, sourceFile, outside, scratch, temp string
	allowed, denied                                  int
}

func newSandboxFixture(t *testing.T) *sandboxFixture {
	t.Helper()
	dir := t.TempDir()
	f := &sandboxFixture{
		key:        filepath.Join(dir, "state", "keys", "drill.key"),
		keyBody:    "drill-signing-key-7f3a9c-not-for-plugins",
		sourceFile: filepath.Join(dir, "backups", "app.dump"),
		outside:    filepath.Join(dir, "state"),
		scratch:    filepath.Join(dir, "state", "scratch", "drill-1a2b3c"),
	}
	f.temp = filepath.Join(f.scratch, "tmp")
	for _, d := range []string{filepath.Dir(f.key), filepath.Dir(f.sourceFile), filepath.Join(f.scratch, "target"), f.temp} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(f.key, []byte(f.keyBody), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.sourceFile, []byte("a dump\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, port := range []*int{&f.allowed, &f.denied} {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_ = c.Close()
			}
		}()
		*port = l.Addr().(*net.TCPAddr).Port
	}
	return f
}

func (f *sandboxFixture) source() plugins.Source {
	return plugins.Source{"name": "probe", "probe": true, "source_file": f.sourceFile, "forbidden_file": f.key,
		"outside": f.outside, "allowed_port": int64(f.allowed), "denied_port": int64(f.denied)}
}

// probeOutcomes runs a restore with the probes in a launched test plugin
// and returns the outcome of each probe by name, and the whole response
// as text.
func probeOutcomes(t *testing.T, c *plugins.Client, f *sandboxFixture) (map[string]string, string) {
	t.Helper()
	src := f.source()
	list, err := c.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Restore(t.Context(), &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID,
		Target: filepath.Join(f.scratch, "target"), DrillName: "probe"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var all strings.Builder
	for _, p := range resp.Problems {
		all.WriteString(p.Message + "\n")
		if rest, ok := strings.CutPrefix(p.Message, "probe "); ok {
			name, outcome, _ := strings.Cut(rest, ": ")
			got[name] = outcome
		}
	}
	for k, v := range resp.Details {
		all.WriteString(k + "=" + v + "\n")
	}
	return got, all.String()
}

// TestConfineDeniesWhatASourceDoesNotNeed launches the test plugin as a
// real process, has it confine itself to a drill run's scratch directory
// and its declared needs, and then try, from inside, what a hostile backup
// would have a tool do: read the signing key under state_dir, write beside
// scratch, run /bin/sh, connect to a port it was not given, signal the
// host. Each must be denied by the kernel, while its own source, its
// scratch directory and its declared port still work.
func TestConfineDeniesWhatASourceDoesNotNeed(t *testing.T) {
	f := newSandboxFixture(t)
	logs := newLogRecords() // the plugin's lines arrive while the test reads them
	s := spec("ok")
	s.Logger = slog.New(logs)
	c := launch(t, s)
	resp, err := c.Confine(t.Context(), &plugins.ConfineRequest{Source: f.source(), Scratch: f.scratch, Temp: f.temp})
	if err != nil {
		t.Fatalf("Confine: %v", err)
	}
	if !resp.Confined() || !resp.Network || !resp.Scoped || !strings.HasPrefix(resp.Summary, "landlock ABI ") {
		t.Fatalf("Confine = %+v, want Landlock with filesystem, network and scoping (this kernel has ABI 7)", resp)
	}
	got, all := probeOutcomes(t, c, f)
	for name, want := range map[string]string{
		"read-source": "allowed", "write-scratch": "allowed", "connect-allowed": "allowed",
		"read-secret": "denied", "write-outside": "denied", "exec-shell": "denied",
		"connect-denied": "denied", "signal-host": "denied",
	} {
		outcome, ok := got[name]
		switch {
		case !ok:
			t.Errorf("probe %s did not run; problems:\n%s", name, all)
		case !strings.HasPrefix(outcome, want):
			t.Errorf("probe %s: %s, want %s", name, outcome, want)
		case want == "denied" && !strings.Contains(outcome, "permission denied") && !strings.Contains(outcome, "operation not permitted"):
			t.Errorf("probe %s: %s, want EACCES or EPERM from the kernel", name, outcome)
		}
	}
	for _, p := range []string{filepath.Join(f.outside, "pwned"), filepath.Join(f.outside, "shell")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s exists: the confined plugin wrote outside scratch", p)
		}
	}
	logged := fmt.Sprint(logs.all())
	if strings.Contains(all, f.keyBody) || strings.Contains(logged, f.keyBody) {
		t.Errorf("the signing key's content reached the host:\n%s\n%s", all, logged)
	}
}

// TestConfineOnce refuses a second Confine: the policy is fixed for the
// process's life.
func TestConfineOnce(t *testing.T) {
	f := newSandboxFixture(t)
	c := launch(t, spec("ok"))
	req := &plugins.ConfineRequest{Source: plugins.Source{"name": "x"}, Scratch: f.scratch, Temp: f.temp}
	if _, err := c.Confine(t.Context(), req); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Confine(t.Context(), req); err == nil || !strings.Contains(err.Error(), "already confined") {
		t.Fatalf("second Confine: %v, want already confined", err)
	}
}

// TestConfineDisabled: with DRILL_SANDBOX=off in its environment (the
// switch for tests and measurements) the plugin confines nothing and says
// so, and the probes then get through: the protection above is Landlock's.
func TestConfineDisabled(t *testing.T) {
	f := newSandboxFixture(t)
	s := spec("ok")
	s.Env = append(s.Env, "DRILL_SANDBOX=off")
	c := launch(t, s)
	resp, err := c.Confine(t.Context(), &plugins.ConfineRequest{Source: f.source(), Scratch: f.scratch, Temp: f.temp})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Confined() || !strings.Contains(resp.Summary, "DRILL_SANDBOX=off") {
		t.Fatalf("Confine = %+v, want none: disabled by DRILL_SANDBOX=off", resp)
	}
	got, _ := probeOutcomes(t, c, f)
	if !strings.HasPrefix(got["read-secret"], "allowed") {
		t.Errorf("unconfined probe read-secret: %s, want allowed", got["read-secret"])
	}
}

// BenchmarkConfine measures the Confine call of a plugin process (the
// backend's needs, the ruleset, landlock_restrict_self on every thread),
// not its start.
func BenchmarkConfine(b *testing.B) {
	dir := b.TempDir()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c, err := plugins.Launch(b.Context(), spec("ok"))
		if err != nil {
			b.Fatal(err)
		}
		scratch := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(filepath.Join(scratch, "tmp"), 0o700); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		resp, err := c.Confine(b.Context(), &plugins.ConfineRequest{Source: plugins.Source{"name": "bench"}, Scratch: scratch, Temp: filepath.Join(scratch, "tmp")})
		b.StopTimer()
		if err != nil || !resp.Confined() {
			b.Fatalf("Confine: %v %+v", err, resp)
		}
		_ = c.Close()
		b.StartTimer()
	}
}
