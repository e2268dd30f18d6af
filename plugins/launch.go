package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"

	"github.com/drillhq/drill/plugins/internal/proc"
)

// LaunchSpec says how to start one backend plugin process.
type LaunchSpec struct {
	// Name is the backend's name (the config's backend key), used in
	// messages and log attributes.
	Name string
	// Path is the absolute path of the plugin executable.
	Path string
	// Args are the arguments after argv[0].
	Args []string
	// Argv0 is argv[0]; empty means Path. Built-in backends re-execute the
	// drill binary with Argv0 "drill" and Args ["plugin", "serve", NAME].
	Argv0 string
	// SHA256 is the hex SHA-256 the executable must have; Launch refuses to
	// start anything else. Required unless Builtin is set.
	SHA256 string
	// Builtin marks the drill binary itself (a built-in backend), which
	// needs no pin.
	Builtin bool
	// Env is the plugin's whole environment, "KEY=value" entries. The host's
	// environment is not passed on: a plugin sees only these entries (the
	// caller chooses PATH, HOME, the backend's variables) plus the variables
	// go-plugin sets for the handshake (DRILL_PLUGIN, PLUGIN_MIN_PORT,
	// PLUGIN_MAX_PORT, PLUGIN_PROTOCOL_VERSIONS, PLUGIN_CLIENT_CERT).
	Env []string
	// Logger receives the plugin's stderr and stdout lines, with attributes
	// component=plugin and backend=Name. Nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds the start up to the handshake; 0 means 30s.
	StartTimeout time.Duration
}

const defaultStartTimeout = 30 * time.Second

// ErrPluginExited is wrapped by the error of an RPC during which (or before
// which) the plugin process exited: it crashed or was killed.
var ErrPluginExited = errors.New("plugin process exited")

// Client is a running backend plugin process and a Backend that calls it
// over gRPC. Its methods may be called concurrently. When the process dies
// during a call, the call returns an error wrapping ErrPluginExited that
// names the exit status or signal; the host process is not affected.
//
// Every method honours its context: when ctx is done the call returns
// promptly with an error wrapping ctx.Err(), whether or not the plugin
// reacts; a plugin that does not is stopped by Close.
type Client struct {
	name   string
	path   string
	pc     *plugin.Client
	cmd    *exec.Cmd
	remote *grpcClient
	pid    int

	closed    atomic.Bool
	closeOnce sync.Once
}

var _ Backend = (*Client)(nil)

// Launch starts the plugin spec describes, checks its SHA-256 first when one
// is set, completes the go-plugin handshake (protocol ProtocolVersion, gRPC
// with automatic mutual TLS) and returns a connected Client. The caller must
// Close it. When ctx is done before the handshake completes Launch returns
// ctx's error at once and stops the process in the background.
func Launch(ctx context.Context, spec LaunchSpec) (*Client, error) {
	if spec.Name == "" {
		return nil, errors.New("launch backend plugin: no backend name")
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("backend %q: "+format, append([]any{spec.Name}, args...)...)
	}
	mem, err := pinnedExecutable(spec, fail)
	if err != nil {
		return nil, err
	}
	closeMem := func() {
		if mem != nil {
			_ = mem.Close()
		}
	}
	if err := ctx.Err(); err != nil {
		closeMem()
		return nil, fail("start plugin %s: %w", spec.Path, err)
	}

	timeout := spec.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	if deadline, ok := ctx.Deadline(); ok {
		timeout = min(timeout, max(time.Until(deadline), time.Millisecond))
	}
	pc, cmd := newPluginClient(spec, mem, timeout)

	type started struct {
		raw any
		err error
	}
	ch := make(chan started, 1)
	go func() {
		rpc, err := pc.Client()
		closeMem() // the child has its own descriptor of it, or never will
		if err != nil {
			ch <- started{err: err}
			return
		}
		raw, err := rpc.Dispense(PluginName)
		ch <- started{raw: raw, err: err}
	}()
	var s started
	select {
	case <-ctx.Done():
		// go-plugin cannot abort a start in progress: finish it (bounded by
		// the start timeout) and stop the process in the background.
		go func() {
			<-ch
			pc.Kill()
		}()
		return nil, fail("start plugin %s: %w", spec.Path, ctx.Err())
	case s = <-ch:
	}
	if s.err != nil {
		pc.Kill()
		return nil, startError(spec, cmd, timeout, s.err)
	}
	remote, ok := s.raw.(*grpcClient)
	if !ok {
		pc.Kill()
		return nil, fail("plugin %s: dispensed %T, not a backend", spec.Path, s.raw)
	}
	c := &Client{name: spec.Name, path: spec.Path, pc: pc, cmd: cmd, remote: remote}
	if rc := pc.ReattachConfig(); rc != nil {
		c.pid = rc.Pid
	}
	return c, nil
}

// pinnedExecutable checks the plugin executable: an absolute path to a
// regular file, and for an external plugin the configured SHA-256. An
// external plugin is hashed and executed from the same bytes: it is copied
// into a sealed memfd while it is hashed, and that memfd runs (the caller
// closes it). A check by path and an exec by path (go-plugin's
// SecureConfig) leave a gap in which the file can be swapped. A built-in
// backend returns no memfd.
func pinnedExecutable(spec LaunchSpec, fail func(format string, args ...any) error) (*os.File, error) {
	if !filepath.IsAbs(spec.Path) {
		return nil, fail("plugin path %q is not absolute", spec.Path)
	}
	fi, err := os.Stat(spec.Path)
	if err != nil {
		return nil, fail("plugin: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fail("plugin %s is not a regular file", spec.Path)
	}
	if spec.SHA256 == "" {
		if spec.Builtin {
			return nil, nil
		}
		msg := fmt.Sprintf("plugin %s has no sha256 configured: external plugins must be pinned", spec.Path)
		if got, err := fileSHA256(spec.Path); err == nil {
			msg += fmt.Sprintf(" (its sha256 is now %s; pin it once you trust the binary)", got)
		}
		return nil, fail("%s", msg)
	}
	want, err := hex.DecodeString(spec.SHA256)
	if err != nil || len(want) != sha256.Size {
		return nil, fail("sha256 %q of plugin %s is not 64 hex digits", spec.SHA256, spec.Path)
	}
	mem, got, err := pinnedCopy(spec.Path, spec.Name)
	if err != nil {
		return nil, fail("plugin: %w", err)
	}
	if !bytes.Equal(got, want) {
		if mem != nil {
			_ = mem.Close()
		}
		return nil, fail("plugin %s does not match its configured sha256 (got %x, want %s)", spec.Path, got, strings.ToLower(spec.SHA256))
	}
	if afterHash != nil {
		afterHash(spec.Path)
	}
	return mem, nil
}

// newPluginClient prepares the plugin's command (mem, when set, is what
// runs) and go-plugin's client for it; nothing is started yet.
func newPluginClient(spec LaunchSpec, mem *os.File, timeout time.Duration) (*plugin.Client, *exec.Cmd) {
	logger := spec.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "plugin", "backend", spec.Name)

	argv0 := spec.Path
	if spec.Argv0 != "" {
		argv0 = spec.Argv0
	}
	// A built-in backend (no sha256: the drill binary re-executed) runs by
	// its path: it is the operator's own binary, trusted as the host is,
	// and whoever can swap it can swap the host too.
	cmd := &exec.Cmd{Path: spec.Path, Args: append([]string{argv0}, spec.Args...)}
	if mem != nil {
		// The memfd is the child's fd 3 (ExtraFiles), executed through
		// /proc/self/fd/3 (what fexecve does); argv[0] stays the
		// configured path. Not close-on-exec there, so a script plugin's
		// interpreter can open it too.
		cmd.Path, cmd.ExtraFiles = "/proc/self/fd/3", []*os.File{mem}
	}
	// An explicit, non-nil environment: with SkipHostEnv go-plugin appends
	// only its handshake variables, never os.Environ().
	cmd.Env = append(make([]string, 0, len(spec.Env)+8), spec.Env...)
	// A plugin never outlives its host (killed with kill -9, say): it gets
	// SIGTERM, and its own client tools SIGINT in turn.
	proc.DieWithParent(cmd, syscall.SIGTERM)

	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  handshake(ProtocolVersion),
		Plugins:          plugin.PluginSet{PluginName: &GRPCPlugin{}},
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     timeout,
		// go-plugin names the plugin's stderr logger after cmd.Path ("3"
		// for the memfd).
		Logger:     newHCLogAdapter(logger, filepath.Base(cmd.Path)),
		SyncStdout: &logWriter{l: logger, level: slog.LevelInfo, attrs: []any{"stream", "stdout"}},
		SyncStderr: &logWriter{l: logger, level: slog.LevelInfo, attrs: []any{"stream", "stderr"}},
	})
	return pc, cmd
}

var (
	reIncompatibleVersion = regexp.MustCompile(`incompatible API version with plugin\. Plugin version: (\d+)`)
	handshakeErrPrefixes  = []string{
		"incompatible core API version",
		"error parsing core protocol version",
		"Error parsing protocol version",
		"unsupported plugin protocol",
		"unknown address type",
		"error parsing server cert",
	}
)

// startError turns go-plugin's start errors into messages an operator can
// act on. The process has been stopped (cmd's state is final) when there
// was one.
func startError(spec LaunchSpec, cmd *exec.Cmd, timeout time.Duration, err error) error {
	prefix := fmt.Sprintf("backend %q: plugin %s", spec.Name, spec.Path)
	msg := err.Error()
	switch {
	case reIncompatibleVersion.MatchString(msg):
		v := reIncompatibleVersion.FindStringSubmatch(msg)[1]
		return fmt.Errorf("%s speaks protocol version %s, drill speaks %d (install a build of the plugin for protocol version %d)", prefix, v, ProtocolVersion, ProtocolVersion)
	case strings.HasPrefix(msg, "plugin exited before we could connect"),
		strings.Contains(msg, "Failed to read any lines from plugin's stdout"):
		return fmt.Errorf("%s exited before completing the handshake (%s); its output is in the log", prefix, exitState(cmd))
	case strings.HasPrefix(msg, "Unrecognized remote plugin message: "):
		line, _, _ := strings.Cut(strings.TrimPrefix(msg, "Unrecognized remote plugin message: "), "\n")
		return fmt.Errorf("%s did not complete the handshake: it printed %q on stdout instead of the go-plugin handshake line (is it a drill backend plugin?)", prefix, truncate(line, 120))
	case strings.HasPrefix(msg, "timeout while waiting for plugin to start"):
		return fmt.Errorf("%s did not complete the handshake within %s", prefix, timeout)
	}
	for _, p := range handshakeErrPrefixes {
		if strings.HasPrefix(msg, p) {
			line, _, _ := strings.Cut(msg, "\n")
			return fmt.Errorf("%s did not complete the handshake: %s", prefix, line)
		}
	}
	return fmt.Errorf("%s: start: %w", prefix, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// exitState describes how cmd's process ended. Call it only once the
// process is known to have been waited for.
func exitState(cmd *exec.Cmd) string {
	if cmd.ProcessState == nil {
		return "exit status unknown"
	}
	return cmd.ProcessState.String()
}

// afterHash, when set (by tests), is called between the hash of a pinned
// plugin and its start: the gap in which a swap of the file must not
// matter.
var afterHash func(path string)

// pinnedCopy opens the plugin at path as a regular file and returns its
// sealed copy (nil outside Linux) and the SHA-256 of what the copy holds.
func pinnedCopy(path, name string) (*os.File, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	return sealedCopy(f, name)
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Pid returns the plugin process's pid.
func (c *Client) Pid() int { return c.pid }

// Close stops the plugin process: it asks it to exit, waits up to two
// seconds, then kills it, and waits until it is gone. Calls in progress
// return with an error. Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.pc.Kill()
	})
	return nil
}

// exitWait bounds how long a failed call waits for a dying plugin process
// to be reaped before reporting the connection loss as such.
const exitWait = 2 * time.Second

// wrap names the backend in err and, when the connection to the plugin was
// lost, tells whether the process exited and how.
func (c *Client) wrap(method string, exitedBefore bool, err error) error {
	if err == nil {
		return nil
	}
	var re *rpcError
	if errors.As(err, &re) && re.lost {
		if c.closed.Load() {
			return fmt.Errorf("backend %q: %s: the plugin was closed", c.name, method)
		}
		if c.waitExited(exitWait) {
			when := "during"
			if exitedBefore {
				when = "before"
			}
			return fmt.Errorf("backend %q: %w %s %s: %s", c.name, ErrPluginExited, when, method, exitState(c.cmd))
		}
	}
	return fmt.Errorf("backend %q: %w", c.name, err)
}

// waitExited reports whether the plugin process has exited (and been
// reaped), waiting up to d for it.
func (c *Client) waitExited(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if c.pc.Exited() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Describe calls the plugin's Describe.
func (c *Client) Describe(ctx context.Context, req *DescribeRequest) (*DescribeResponse, error) {
	return call(c, ctx, "Describe", req, c.remote.Describe)
}

// ValidateSource calls the plugin's ValidateSource.
func (c *Client) ValidateSource(ctx context.Context, req *ValidateSourceRequest) (*ValidateSourceResponse, error) {
	return call(c, ctx, "ValidateSource", req, c.remote.ValidateSource)
}

// ListRestorePoints calls the plugin's ListRestorePoints.
func (c *Client) ListRestorePoints(ctx context.Context, req *ListRestorePointsRequest) (*ListRestorePointsResponse, error) {
	return call(c, ctx, "ListRestorePoints", req, c.remote.ListRestorePoints)
}

// call calls one method of the plugin and names the method, and the
// plugin's exit when it died during the call, in its error.
func call[Req, Resp any](c *Client, ctx context.Context, method string, req Req, f func(context.Context, Req) (Resp, error)) (Resp, error) {
	exited := c.pc.Exited()
	resp, err := f(ctx, req)
	return resp, c.wrap(method, exited, err)
}

// Restore calls the plugin's Restore and hands its progress and files to
// events as they arrive. It returns the plugin's final RestoreResponse; a
// stream that ends without one is an error.
func (c *Client) Restore(ctx context.Context, req *RestoreRequest, events RestoreEvents) (*RestoreResponse, error) {
	exited := c.pc.Exited()
	resp, err := c.remote.Restore(ctx, req, events)
	return resp, c.wrap("Restore", exited, err)
}

// Confine asks the plugin process to confine itself to req's source and
// scratch directory before anything reads the backup (see Confiner). A
// plugin that does not implement it gets a response saying NotConfining.
func (c *Client) Confine(ctx context.Context, req *ConfineRequest) (*ConfineResponse, error) {
	return call(c, ctx, "Confine", req, c.remote.Confine)
}

// Cleanup calls the plugin's Cleanup.
func (c *Client) Cleanup(ctx context.Context, req *CleanupRequest) (*CleanupResponse, error) {
	return call(c, ctx, "Cleanup", req, c.remote.Cleanup)
}
