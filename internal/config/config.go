package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Defaults for keys that are left out.
const (
	DefaultStateDir      = "/var/lib/drill"
	DefaultSocket        = "/run/drill/drill.sock"
	DefaultMaxConcurrent = 1
	DefaultPriority      = 3
	DefaultTimeout       = 6 * time.Hour
	DefaultStopTimeout   = time.Minute
	DefaultStallTimeout  = 10 * time.Minute
)

// Pos is where a value is written in the config file: 1-based line and
// column. The zero Pos means unknown.
type Pos struct{ Line, Col int }

// Config is a whole, valid config file. Plugins, Services and Drills are
// never nil.
type Config struct {
	// Path is the absolute path of the config file; "" when it was parsed
	// from bytes without a path.
	Path string
	// Dir is Path's folder, against which relative paths are resolved; ""
	// without a Path, in which case relative paths are left relative.
	Dir string
	// StateDir holds drill.db, keys/ and scratch/. Default DefaultStateDir.
	StateDir string
	// Socket is the unix socket of the agent's control API. Default
	// DefaultSocket.
	Socket string
	// MetricsListen is the host:port of the Prometheus metrics endpoint;
	// "" (the default) for none.
	MetricsListen string
	// MaxConcurrent is how many drills may run at once, at least 1.
	// Default 1.
	MaxConcurrent int
	// MaxScratchBytes bounds the scratch space a restore may use; 0 (the
	// default) for no limit.
	MaxScratchBytes int64
	// LogOrigin names the evidence log in its checkpoints (C2SP
	// tlog-checkpoint origin) and its signing key; "" for
	// "<hostname>/drill". It is fixed when the log is created.
	LogOrigin string
	// SocketGroup is the group that owns the socket (mode 0660), so that
	// its members may use the agent; "" leaves the agent's own group.
	SocketGroup string
	// StopTimeout is how long the agent waits, after SIGTERM, for the
	// drills it cancelled to record themselves before it exits. Default
	// DefaultStopTimeout.
	StopTimeout time.Duration
	// Jitter is the default of Drill.Jitter; 0 by default.
	Jitter time.Duration
	// StallTimeout is the default of Drill.StallTimeout; default
	// DefaultStallTimeout, 0 for off.
	StallTimeout time.Duration
	// CatchUp is the default of Drill.CatchUp; true by default.
	CatchUp bool
	// RequireSandbox is the default of Drill.RequireSandbox; false by
	// default.
	RequireSandbox bool
	// Notify are where the agent sends alerts: drills that fail or error,
	// and services whose recovery position changes.
	Notify []*Notify
	// Plugins are the external backend plugins, by backend name.
	Plugins map[string]*Plugin
	// Services are the services whose recovery the drills prove, by name.
	Services map[string]*Service
	// Drills are the drills, by name.
	Drills map[string]*Drill

	// file is the path as given to Load or Parse, for Errorf.
	file string
}

// Notify is one alert target: a webhook or a command.
type Notify struct {
	// Webhook is an http(s) URL that gets each alert as a JSON POST.
	Webhook string
	// Command is an argv that gets each alert as JSON on its stdin.
	Command []string
	// Pos is where the target is written.
	Pos Pos
}

// Plugin is an external backend: an executable pinned by its SHA-256.
type Plugin struct {
	// Name is the backend name that drills use.
	Name string
	// Path is the executable, resolved against Config.Dir.
	Path string
	// SHA256 is the executable's digest, 64 lowercase hex digits.
	SHA256 string
	// Args are passed to the executable.
	Args []string
	// Pos is where the plugin's name is written.
	Pos Pos
}

// Service is something whose recovery the organisation claims, and the
// claim.
type Service struct {
	// Name is the service's key under services.
	Name string
	// Owner is who answers for the service, such as a team's address.
	Owner string
	// Description is free text.
	Description string
	// Priority is 1 for the most critical; at least 1, default
	// DefaultPriority.
	Priority int
	// RPO is the most a restored backup may be behind; 0 when not claimed.
	RPO time.Duration
	// RTO is the longest a restore plus its checks may take; 0 when not
	// claimed.
	RTO time.Duration
	// ReviewEvery is how often the claim must be proven by a pass; 0 when
	// not claimed.
	ReviewEvery time.Duration
	// Pos is where the service's name is written.
	Pos Pos
}

// Drill is one restore drill.
type Drill struct {
	// Name is the drill's key under drills.
	Name string
	// Description is free text.
	Description string
	// Service names the service under Config.Services that the drill proves.
	Service string
	// Schedule is a spec that internal/schedule.Parse accepts; "" for a
	// drill that runs only on demand.
	Schedule string
	// Backend names the backend that restores: a built-in one or a key of
	// Config.Plugins. The config does not check which.
	Backend string
	// Timeout bounds the whole drill; more than 0, default DefaultTimeout.
	Timeout time.Duration
	// StallTimeout stops a restore whose progress (files or bytes
	// restored, as the backend reports them) has not changed for this
	// long, with an error verdict; 0 turns the stall detector off. A
	// drill's own value is shorter than its Timeout. Default
	// Config.StallTimeout.
	StallTimeout time.Duration
	// Jitter delays each scheduled run by a fixed offset in [0, Jitter),
	// derived from the host and drill names, so that a fleet does not
	// restore at the same second. Default Config.Jitter.
	Jitter time.Duration
	// CatchUp runs the drill once when the agent starts if a scheduled
	// run was missed while it was down. Default Config.CatchUp.
	CatchUp bool
	// RequireSandbox refuses to run the drill (verdict error, before
	// anything is read) when its plugin process could not confine itself
	// (no Landlock in the kernel, a plugin that does not implement
	// Confine). Default Config.RequireSandbox.
	RequireSandbox bool
	// RandomWithin, when more than 0, has the drill restore a restore
	// point chosen at random among those younger than it, instead of the
	// newest (restore_point: {random_within: 30d}).
	RandomWithin time.Duration
	// Sample, when not nil, has each run restore one slice of the restore
	// point instead of all of it (sample: {percent: 10, seed: s}); nil for
	// a drill that restores everything.
	Sample *Sample
	// Healthcheck is a Healthchecks-style ping URL: the agent pings
	// URL/start when the drill starts, URL when it passes and URL/fail
	// when it does not. "" for none.
	Healthcheck string
	// Source says what to restore, in the backend's terms. Never nil.
	Source *Source
	// Checks are what the restored data must satisfy.
	Checks Checks
	// Pos is where the drill's name is written.
	Pos Pos
}

// Source is a drill's source section, for its backend to validate and use.
type Source struct {
	// Values holds each key's value as YAML resolves it: string, int64,
	// float64 or bool for a scalar (a timestamp stays a string, as written),
	// []string for a list. Nothing is resolved against Config.Dir: the
	// backend knows which keys are paths.
	Values map[string]any
	// Pos is where each key's value is written.
	Pos map[string]Pos
	// Pos0 is where the source mapping itself is written.
	Pos0 Pos
}

// Checks are the checks of a drill. Zero values mean "not checked".
type Checks struct {
	// MinFiles is the fewest regular files the restore must yield.
	MinFiles int64
	// MinBytes is the fewest bytes of regular files the restore must
	// yield (written as a size).
	MinBytes int64
	// Paths must exist in the restored tree, relative to its root.
	Paths []string
	// Manifest is a sha256sum-format file whose every entry must be
	// restored with that digest; resolved against Config.Dir.
	Manifest string
	// Tables must exist in the restored database.
	Tables []string
	// MinRows is the fewest rows each named table must have.
	MinRows map[string]int64
	// SQL are queries whose results must meet their expectations.
	SQL []SQLCheck
	// Pos is where each check key that is present is written (the key,
	// not its value).
	Pos map[string]Pos
}

// Sample is a drill's sample: each run restores a different slice of
// about Percent percent of the restore point's files, so that Slices runs
// restore all of it.
type Sample struct {
	// Percent is from 1 to 100.
	Percent int
	// Seed varies which files fall in which slice; default the drill's name.
	Seed string
	// Pos is where the sample key is written.
	Pos Pos
}

// Slices is how many slices the restore point is cut into:
// ceil(100/Percent).
func (s *Sample) Slices() int { return (100 + s.Percent - 1) / s.Percent }

// SQLCheck is a query that must return a single value meeting Expect.
type SQLCheck struct {
	// Name names the check in results; unique within the drill. A check
	// written without a name is named by SQLCheckName after its query,
	// with " #2", " #3", ... added when that name is taken.
	Name string
	// Query is the SQL to run in the restored database.
	Query string
	// Expect is an operator and a value: one of >= <= != = > <, optional
	// spaces, then the value, such as ">= 1".
	Expect string
	// Pos is where the check's list item is written.
	Pos Pos
}

// Load reads and parses the config file at path. On any problem in the
// file it returns Errors, every problem at once, and no Config. When the
// file cannot be read, the Errors' one Error wraps the read error, so
// errors.Is(err, fs.ErrNotExist) works.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		msg := err.Error()
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			msg = pe.Err.Error()
		}
		return nil, Errors{{File: path, Msg: "read config: " + msg, Err: err}}
	}
	return Parse(path, data)
}

// Parse parses a config file's contents. path is the file's name for error
// messages and the base for relative paths; it may be "" (and then relative
// paths stay relative). Like Load, it returns Errors on any problem, and
// no Config.
func Parse(path string, data []byte) (*Config, error) {
	c := &Config{
		file:          path,
		StateDir:      DefaultStateDir,
		Socket:        DefaultSocket,
		MaxConcurrent: DefaultMaxConcurrent,
		StopTimeout:   DefaultStopTimeout,
		StallTimeout:  DefaultStallTimeout,
		CatchUp:       true,
		Plugins:       make(map[string]*Plugin),
		Services:      make(map[string]*Service),
		Drills:        make(map[string]*Drill),
	}
	if path != "" {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, Errors{{File: path, Msg: "resolve config path: " + err.Error(), Err: err}}
		}
		c.Path, c.Dir = abs, filepath.Dir(abs)
	}
	p := &parser{file: path, dir: c.Dir}
	if root := p.document(data); root != nil {
		p.config(root, c)
	}
	if len(p.errs) > 0 {
		return nil, p.errs.sorted()
	}
	return c, nil
}

// Errorf returns an Error at pos in the config's file, for problems that
// other packages find later (such as a backend refusing a source key).
// path is the dotted key path, such as drills.home.source.repository.
func (c *Config) Errorf(pos Pos, path, format string, args ...any) *Error {
	return errorf(c.file, pos, path, format, args...)
}

// DrillNames returns the names of the drills, sorted.
func (c *Config) DrillNames() []string {
	names := make([]string, 0, len(c.Drills))
	for name := range c.Drills {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
