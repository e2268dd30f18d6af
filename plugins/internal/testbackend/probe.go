package testbackend

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/drillhq/drill/plugins"
)

// probeTargets are what Probe tries; empty ones are skipped.
type probeTargets struct {
	sourceFile, secret, outside string
	allowedPort, deniedPort     int
}

var _ plugins.Confiner = (*Backend)(nil)

// Sandbox implements plugins.Confiner: the test backend reads its
// source_file and connects to its allowed_port.
func (b *Backend) Sandbox(_ context.Context, req *plugins.SandboxRequest) (*plugins.SandboxNeeds, error) {
	c, probs := parse(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	needs := &plugins.SandboxNeeds{}
	if c.probes.sourceFile != "" {
		needs.Read = append(needs.Read, c.probes.sourceFile)
	}
	if c.probes.allowedPort != 0 {
		needs.ConnectTCP = append(needs.ConnectTCP, uint16(c.probes.allowedPort))
	}
	return needs, nil
}

// Probe tries, from inside a plugin process, what its sandbox must deny
// and what it must still allow, and reports each outcome as a problem of
// kind fail whose message starts "probe NAME: " and then says "denied
// (why)", "allowed" or "failed (why)". An attempt that should have been
// denied and was not shows what it got, as an attacker would exfiltrate
// it:
//
//	read-source   read source_file (must be allowed)
//	write-scratch create a file in target and in TMPDIR (must be allowed)
//	read-secret   read forbidden_file (must be denied)
//	write-outside create a file in outside (must be denied)
//	exec-shell    run /bin/sh -c "echo pwned > outside/shell" (must be denied)
//	connect-allowed  connect to 127.0.0.1:allowed_port (must be allowed)
//	connect-denied   connect to 127.0.0.1:denied_port (must be denied)
//	signal-host   send signal 0 to the parent process (must be denied)
func Probe(target string, t probeTargets) []plugins.Problem {
	var out []plugins.Problem
	report := func(name, outcome string) {
		out = append(out, plugins.Problem{Kind: plugins.ProblemFail, Message: "probe " + name + ": " + outcome})
	}
	outcome := func(err error, got string) string {
		if err != nil {
			return "denied (" + err.Error() + ")"
		}
		if got != "" {
			return "allowed: " + got
		}
		return "allowed"
	}
	if t.sourceFile != "" {
		_, err := os.ReadFile(t.sourceFile)
		report("read-source", outcome(err, ""))
	}
	err := os.WriteFile(filepath.Join(target, "probe-written"), []byte("x"), 0o600)
	if err == nil {
		err = os.Remove(filepath.Join(target, "probe-written"))
	}
	if err == nil {
		var f *os.File
		if f, err = os.CreateTemp("", "probe-*"); err == nil {
			_ = f.Close()
			err = os.Remove(f.Name())
		}
	}
	report("write-scratch", outcome(err, ""))
	if t.secret != "" {
		b, err := os.ReadFile(t.secret)
		report("read-secret", outcome(err, string(b)))
	}
	if t.outside != "" {
		err := os.WriteFile(filepath.Join(t.outside, "pwned"), []byte("pwned\n"), 0o600)
		report("write-outside", outcome(err, ""))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got, err := exec.CommandContext(ctx, "/bin/sh", "-c", "echo pwned > "+strconv.Quote(filepath.Join(t.outside, "shell"))+"; echo ran").CombinedOutput()
		report("exec-shell", outcome(err, string(got)))
	}
	dial := func(port int) error {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
		if err == nil {
			_ = c.Close()
		}
		return err
	}
	if t.allowedPort != 0 {
		report("connect-allowed", outcome(dial(t.allowedPort), ""))
	}
	if t.deniedPort != 0 {
		report("connect-denied", outcome(dial(t.deniedPort), ""))
	}
	report("signal-host", outcome(syscall.Kill(os.Getppid(), 0), ""))
	return out
}
