package plugins

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/drillhq/drill/plugins/internal/sandbox"
)

// A plugin process confines itself before it touches a backup: the host
// calls Confine once per drill run, after ValidateSource and before
// ListRestorePoints, with the run's scratch directory. The glue (the
// server side of the Confine RPC) then applies Landlock to the whole
// process, and so to every tool it starts: reading the system's code and
// data (not executing it), the run's scratch directory read-write, and what
// the backend declares through Confiner (its sources read-only, its tools
// executable, the TCP ports it connects to); nothing else. See
// docs/sandbox.md for what that covers on which kernels.

// ConfineRequest asks a plugin process to confine itself.
type ConfineRequest struct {
	Source Source
	// Scratch is the run's scratch directory, absolute; the restore target
	// is inside it. The plugin may read and write below it.
	Scratch string
	// Temp is a private directory inside Scratch; the plugin makes it its
	// TMPDIR, so the temporary and credential files of tools land there.
	Temp string
}

// ConfineResponse says which confinement is in force in the plugin process.
type ConfineResponse struct {
	// Summary says it in a few words for records and people, such as
	// "landlock ABI 7: filesystem, tcp, signal and abstract unix socket
	// scoped" or "none: kernel has no Landlock (ENOSYS)".
	Summary string
	// LandlockABI is the Landlock ABI whose rights are enforced; 0: none.
	LandlockABI int
	// Filesystem, Network and Scoped say what is restricted: filesystem
	// access (ABI 1+), TCP connect and bind (ABI 4+), signals and abstract
	// unix sockets (ABI 6+).
	Filesystem, Network, Scoped bool
}

// Confined reports whether the plugin's filesystem access is restricted.
func (r *ConfineResponse) Confined() bool { return r != nil && r.LandlockABI > 0 && r.Filesystem }

// NotConfining is the summary of a plugin that does not implement Confine.
const NotConfining = "none: plugin does not confine itself"

// Confiner is implemented by backends that need more than the base policy
// and their scratch directory: their sources, their tools, the ports of
// their servers. It is optional: a backend without it gets the base policy
// and the scratch directory only.
type Confiner interface {
	// Sandbox returns what the backend needs for drills of req.Source once
	// the process is confined. It is called once, before confinement, so
	// it may also do work that needs more than the sandbox allows (run a
	// password command and keep its output in memory). Paths that do not
	// exist are left out of the policy; an error ends the drill (verdict
	// error) before anything is read.
	Sandbox(ctx context.Context, req *SandboxRequest) (*SandboxNeeds, error)
}

// SandboxRequest is what a Confiner is asked for its needs with.
type SandboxRequest struct {
	Source Source
	// Scratch and Temp are as in ConfineRequest; TMPDIR is already Temp.
	Scratch, Temp string
}

// SandboxNeeds is what a backend needs once confined, besides the base
// policy and its scratch directory.
type SandboxNeeds struct {
	// Read are files and directories it reads (with everything below
	// them): the dump's folder, the copy, the repository, a password file.
	Read []string
	// Exec are the executables it runs, as real files (see ResolveTool):
	// restic, pg_restore, mariadb.
	Exec []string
	// Write are files and directories beside Scratch it writes (a
	// repository's lock folder); rarely needed.
	Write []string
	// ConnectTCP are the TCP ports it connects to: a database server's,
	// a REST repository's.
	ConnectTCP []uint16
}

// confineState makes Confine happen once per process.
type confineState struct {
	mu   sync.Mutex
	done *ConfineResponse
}

// confine is the plugin side of the Confine RPC: it makes req.Temp the
// process's TMPDIR, asks the backend for its needs and applies Landlock.
func (st *confineState) confine(ctx context.Context, impl Backend, req *ConfineRequest) (*ConfineResponse, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.done != nil {
		return nil, errors.New("confine: the plugin process is already confined (Confine is called once per process)")
	}
	if !filepath.IsAbs(req.Scratch) || !filepath.IsAbs(req.Temp) || !strings.HasPrefix(req.Temp, filepath.Clean(req.Scratch)+"/") {
		return nil, fmt.Errorf("confine: scratch %q and temp %q must be absolute, temp inside scratch", req.Scratch, req.Temp)
	}
	if err := os.Setenv("TMPDIR", req.Temp); err != nil {
		return nil, fmt.Errorf("confine: set TMPDIR: %w", err)
	}
	policy := sandbox.Base()
	policy.Write = append(policy.Write, req.Scratch)
	if c, ok := impl.(Confiner); ok {
		needs, err := c.Sandbox(ctx, &SandboxRequest{Source: req.Source, Scratch: req.Scratch, Temp: req.Temp})
		if err != nil {
			return nil, fmt.Errorf("confine: %w", err)
		}
		if needs != nil {
			policy = policy.Merge(sandbox.Policy{Read: needs.Read, Exec: needs.Exec, Write: needs.Write, ConnectTCP: needs.ConnectTCP})
		}
	}
	if err := coversState(policy, req.Scratch); err != nil {
		return nil, fmt.Errorf("confine: %w", err)
	}
	res, err := sandbox.Apply(policy)
	if err != nil {
		return nil, fmt.Errorf("confine: %w", err)
	}
	st.done = &ConfineResponse{Summary: res.Summary, LandlockABI: res.ABI, Filesystem: res.Filesystem, Network: res.Network, Scoped: res.Scoped}
	return st.done, nil
}

// coversState returns an error when a path of p would give the confined
// process the folder that holds scratch (state_dir/scratch, and so
// state_dir: the signing key, drill.db, other runs' scratch): a dump glob
// in state_dir, a state_dir under /usr. Landlock can only allow beneath a
// path, never carve a hole in it, so such a policy is refused, not applied.
// The run's own scratch directory is the one writable path meant to be
// there.
func coversState(p sandbox.Policy, scratch string) error {
	state := realPath(filepath.Dir(scratch))
	for _, paths := range [][]string{p.Read, p.Exec, p.Write, p.Dev} {
		for _, path := range paths {
			if path == "" || path == scratch {
				continue
			}
			if r := realPath(path); r == state || strings.HasPrefix(state, strings.TrimSuffix(r, "/")+"/") {
				return fmt.Errorf("the sandbox would allow %s, which holds drill's scratch folder %s and state_dir (the signing key, drill.db, other drills' scratch): keep backups, password files and tools outside state_dir, and state_dir outside %s",
					path, filepath.Dir(scratch), path)
			}
		}
	}
	return nil
}

// realPath is path with its symlinks resolved where it exists (Landlock
// allows the real file), else path cleaned.
func realPath(path string) string {
	if r, err := filepath.EvalSymlinks(path); err == nil {
		return r
	}
	return filepath.Clean(path)
}

// SandboxEnv returns the environment entry that switches confinement off in
// plugin processes (DRILL_SANDBOX=off) when the host has it, for the host to
// pass on. It is a switch for tests and measurements: a drill run with it
// records "none: disabled by DRILL_SANDBOX=off", and require_sandbox refuses
// such a run.
func SandboxEnv() []string {
	if v, ok := os.LookupEnv(sandbox.DisableEnv); ok {
		return []string{sandbox.DisableEnv + "=" + v}
	}
	return nil
}

// GlobRoot returns the folder an absolute glob pattern's matches are in:
// the pattern's folder, or the deepest folder above it without pattern
// characters. That is what a backend reading the matches, and files beside
// them such as checksum sidecars, needs to read.
func GlobRoot(pattern string) string {
	dir := filepath.Dir(pattern)
	for strings.ContainsAny(dir, `*?[\`) {
		dir = filepath.Dir(dir)
	}
	return dir
}

// SourceFiles returns what a backend reading the files a source pattern
// names needs to read: for a glob, its folder (GlobRoot: the matches and
// the checksum sidecars beside them); for a plain path, the file itself
// and its sidecar (path.sha256), not the folder around it, which may hold
// anything (state_dir, other backups' secrets).
func SourceFiles(pattern string) []string {
	if strings.ContainsAny(pattern, `*?[\`) {
		return []string{GlobRoot(pattern)}
	}
	return []string{pattern, pattern + ".sha256"}
}

// ResolveTool returns the executables needed to run tool (a name looked up
// on PATH or a path): the file itself with symlinks resolved and, when it
// is a script, its interpreter, resolved too. Run the tool by the path the
// backend uses; these are what Landlock must let execute.
func ResolveTool(tool string) ([]string, error) {
	p, err := exec.LookPath(tool)
	if err != nil {
		return nil, err
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		return nil, err
	}
	out := []string{real}
	if interp := interpreter(real); interp != "" {
		if ri, err := filepath.EvalSymlinks(interp); err == nil {
			out = append(out, ri)
		}
	}
	return out, nil
}

// interpreter is the program of a "#!" line, or "".
func interpreter(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	buf := make([]byte, 256)
	n, _ := f.Read(buf)
	line, _, _ := strings.Cut(string(buf[:n]), "\n")
	rest, ok := strings.CutPrefix(line, "#!")
	if !ok {
		return ""
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}

// URLPort returns the TCP port of a URL-like address (scheme://host:port/),
// or def when it names none.
func URLPort(raw string, def uint16) uint16 {
	u, err := url.Parse(raw)
	if err != nil {
		return def
	}
	if q := u.Query().Get("port"); q != "" {
		if n, err := strconv.ParseUint(q, 10, 16); err == nil {
			return uint16(n)
		}
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.ParseUint(p, 10, 16); err == nil {
			return uint16(n)
		}
	}
	return def
}

// DumpNeeds are the needs of a backend that restores dump files into a
// database server with a client tool: the files the dump pattern names
// (SourceFiles) and the other files read-only, the first of tools found
// executable (ResolveTool; when none is found the restore says so), and a
// TCP connection to server's port (URLPort, else port).
func DumpNeeds(dump string, read, tools []string, server string, port uint16) *SandboxNeeds {
	needs := &SandboxNeeds{}
	if dump != "" {
		needs.Read = append(needs.Read, SourceFiles(dump)...)
	}
	for _, f := range read {
		if f != "" {
			needs.Read = append(needs.Read, f)
		}
	}
	for _, t := range tools {
		if exe, err := ResolveTool(t); err == nil {
			needs.Exec = append(needs.Exec, exe...)
			break
		}
	}
	needs.ConnectTCP = append(needs.ConnectTCP, URLPort(server, port))
	return needs
}
