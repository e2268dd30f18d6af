package drills

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/plugins"
)

// Backend is a running backend plugin as the runner uses it.
type Backend interface {
	plugins.Backend
	// Close stops the plugin process. It is idempotent.
	Close() error
}

// Launcher starts the backend plugin that serves a backend name.
type Launcher interface {
	// Launch starts a plugin for backend and returns it ready for calls.
	// An unknown backend name is an error that lists the known ones.
	Launch(ctx context.Context, backend string) (Backend, error)
}

// PluginLauncher launches built-in backends by re-executing the drill
// binary (`drill plugin serve NAME`) and external backends from the
// config's plugins section, pinned by SHA-256. Each plugin process gets an
// environment of its own: only the variables in Env, never the host's.
type PluginLauncher struct {
	// Self is the drill executable that serves built-in backends.
	Self string
	// Builtins are the names of the built-in backends.
	Builtins []string
	// External are the configured external plugins.
	External map[string]*config.Plugin
	// Env is the plugin processes' whole environment.
	Env    []string
	Logger *slog.Logger
}

var _ Launcher = (*PluginLauncher)(nil)

// PluginEnv returns the environment drill gives plugin processes: PATH,
// TMPDIR, TZ and the locale from the host, and DRILL_SANDBOX (the switch
// that turns confinement off, for tests and measurements) when it is set,
// nothing else. Secrets reach backends only by reference in the source
// (password_file and the like).
func PluginEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "TMPDIR", "TZ", "LANG", "LC_ALL"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if _, ok := os.LookupEnv("PATH"); !ok {
		env = append(env, "PATH=/usr/local/bin:/usr/bin:/bin")
	}
	return append(env, plugins.SandboxEnv()...)
}

// Known returns every backend name this launcher can start, sorted.
func (l *PluginLauncher) Known() []string {
	names := append([]string(nil), l.Builtins...)
	for n := range l.External {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (l *PluginLauncher) isBuiltin(name string) bool {
	for _, b := range l.Builtins {
		if b == name {
			return true
		}
	}
	return false
}

// Launch implements Launcher.
func (l *PluginLauncher) Launch(ctx context.Context, backend string) (Backend, error) {
	logger := l.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	spec := plugins.LaunchSpec{
		Name:         backend,
		Env:          l.Env,
		Logger:       logger, // plugins.Launch adds component and backend
		StartTimeout: 30 * time.Second,
	}
	if _, ok := l.External[backend]; ok && l.isBuiltin(backend) {
		return nil, fmt.Errorf("plugin %q has the name of a built-in backend; rename it in the config's plugins section", backend)
	}
	if p, ok := l.External[backend]; ok {
		spec.Path, spec.Args, spec.SHA256 = p.Path, p.Args, p.SHA256
	} else if l.isBuiltin(backend) {
		spec.Path, spec.Argv0, spec.Args, spec.Builtin = l.Self, "drill", []string{"plugin", "serve", backend}, true
	} else {
		return nil, fmt.Errorf("unknown backend %q (known: %s)", backend, strings.Join(l.Known(), ", "))
	}
	c, err := plugins.Launch(ctx, spec)
	if err != nil {
		return nil, err
	}
	return c, nil
}
