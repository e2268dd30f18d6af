package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/textsafe"
)

// defaultConfig is used when neither -c nor $DRILL_CONFIG is given.
const defaultConfig = "/etc/drill/drill.yaml"

// env is what every subcommand shares: flags, output streams, wiring.
type env struct {
	stdout, stderr io.Writer
	configPath     string
	logLevel       string
	// log, when set, is the logger of every component (the agent's).
	log *slog.Logger
}

func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	e := &env{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:           "drill",
		Short:         "Prove that backups can be restored",
		Long:          "drill runs restore drills: it restores backups into scratch space through backend plugins,\nchecks what came back against what the organisation claims, and keeps signed,\ntamper-evident evidence of every drill.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVarP(&e.configPath, "config", "c", "", "config file (default $DRILL_CONFIG, then "+defaultConfig+")")
	root.PersistentFlags().StringVar(&e.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newRunCmd(e),
		newAgentCmd(e),
		newListCmd(e),
		newPositionCmd(e),
		newHistoryCmd(e),
		newConfigCmd(e),
		newManifestCmd(e),
		newEvidenceCmd(e),
		newKeysCmd(e),
		newInitCmd(e),
		newVersionCmd(e),
		newPluginCmd(e),
	)
	return root
}

// group is a command that holds subcommands and does nothing itself.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short}
	cmd.AddCommand(subs...)
	return cmd
}

// args wraps a cobra argument validator so its errors are usage errors.
func args(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if err := v(cmd, a); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func (e *env) logger() *slog.Logger {
	if e.log != nil {
		return e.log
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(e.logLevel)); err != nil {
		level = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
}

// loadConfig loads the config named by -c, $DRILL_CONFIG or the default.
// When there is no file there, the error says where it looked, why there,
// and how to make one.
func (e *env) loadConfig() (*config.Config, error) {
	p, from := e.configFile()
	cfg, err := config.Load(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, usageError{noConfigError(p, from)}
	}
	return cfg, err
}

// configFile returns the config file to load and why that one.
func (e *env) configFile() (path, from string) {
	if e.configPath != "" {
		return e.configPath, "given with -c"
	}
	if p := os.Getenv("DRILL_CONFIG"); p != "" {
		return p, "from $DRILL_CONFIG"
	}
	return defaultConfig, "the default: no -c FILE given and $DRILL_CONFIG is not set"
}

// noConfigError is the first thing a new user sees: where drill looked
// for its config and how to make one there.
func noConfigError(path, from string) error {
	return fmt.Errorf("no config file at %s (%s).\n"+
		"  Make one from your backups:  drill init -o %s TARGET...\n"+
		"  (a TARGET is a directory copy, an archive or a glob of archives, a PostgreSQL or MySQL dump, or restic:REPO),\n"+
		"  or give an existing config with -c FILE or $DRILL_CONFIG", textsafe.Escape(path), from, shellQuote(textsafe.Escape(path)))
}

// shellQuote quotes s for a command line to copy, when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+=:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// launcher wires the plugin launcher for cfg.
func (e *env) launcher(cfg *config.Config) (*drills.PluginLauncher, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find the drill executable to serve built-in backends: %w", err)
	}
	return &drills.PluginLauncher{
		Self:     self,
		Builtins: builtinNames(),
		External: cfg.Plugins,
		Env:      drills.PluginEnv(),
		Logger:   e.logger(),
	}, nil
}

// origin is the evidence log's origin for cfg: log_origin, or
// "<hostname>/drill". It is fixed when the log is created.
func origin(cfg *config.Config) string {
	if cfg.LogOrigin != "" {
		return cfg.LogOrigin
	}
	h := strings.Map(func(r rune) rune {
		if r == '+' || r == ' ' || r == '/' {
			return '-'
		}
		return r
	}, drills.Hostname())
	return h + "/drill"
}

// openStore opens the evidence store of cfg's state directory, creating the
// signing key on first use.
func openStore(cfg *config.Config, readOnly bool) (*evidence.Store, error) {
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil && !readOnly {
		return nil, fmt.Errorf("create state directory %s: %w", cfg.StateDir, err)
	}
	dbPath := filepath.Join(cfg.StateDir, "drill.db")
	var key *keys.Key
	var err error
	if readOnly {
		if _, err := os.Stat(dbPath); err != nil {
			return nil, fmt.Errorf("open evidence store %s: %w (no drill has run with this state_dir yet)", dbPath, err)
		}
	} else {
		key, err = keys.LoadOrCreate(filepath.Join(cfg.StateDir, "keys"), origin(cfg))
		if err != nil {
			return nil, err
		}
	}
	return evidence.Open(dbPath, evidence.Options{Origin: origin(cfg), Key: key, ReadOnly: readOnly})
}

// keysDir loads the config and returns it with the folder of its signing
// key (state_dir/keys).
func (e *env) keysDir() (*config.Config, string, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, "", err
	}
	return cfg, filepath.Join(cfg.StateDir, "keys"), nil
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// withContext returns the command's context.
func ctxOf(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
