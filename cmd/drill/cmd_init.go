package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/drills/propose"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/textsafe"
)

// initFlags are drill init's flags.
type initFlags struct {
	out, service, owner, stateDir string
	force                         bool
	passwordFile, passwordCommand string
	pgServer, pgPasswordFile      string
	myServer, myPasswordFile      string
	rpo, maxScratch               string
}

func newInitCmd(e *env) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init [-o FILE] [--service NAME --owner ADDR] TARGET...",
		Short: "Look at backups and propose a config whose drills pass",
		Long: `Look at backups and write a commented config with a drill for each, whose
checks are drawn from what the backups hold. A TARGET is a directory copy, a tar
archive or a glob of them, a PostgreSQL or MySQL/MariaDB dump or a glob of them,
or a restic repository (restic:REPO, with --password-file or --password-command).
What a target is comes from its content, not its name.

Each target is restored once, as its drill would be (the same backend, confined
the same way), into a temporary folder with no checks: min_files and min_bytes
are proposed a margin below what came back, paths for its largest top-level
folders, tables and min_rows for dumps, the RPO and schedule from the times of
its restore points, and a sample for a backup larger than the scratch space. A
target whose trial restore does not pass is not proposed: drill init says why.

Without -o the config goes to stdout and the notes to stderr. On a terminal
drill init asks for what it cannot infer (owner, RPO); it never asks otherwise.
No password is ever written: only the files or commands that hold them.

Exit codes: 0 proposed; 1 a trial restore did not pass; 2 usage (a target that
is not a backup drill init knows, a missing password flag, -o FILE exists).`,
		Args: args(cobra.MinimumNArgs(1)),
		RunE: func(cmd *cobra.Command, targets []string) error { return e.runInit(cmd, f, targets) },
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "output", "o", "", "write the config to FILE (mode 0640) instead of stdout")
	fl.BoolVar(&f.force, "force", false, "overwrite FILE")
	fl.StringVar(&f.service, "service", "", "put every drill in this service (default: a service per target)")
	fl.StringVar(&f.owner, "owner", "", "who answers for the services (default: asked on a terminal, else you@host)")
	fl.StringVar(&f.stateDir, "state-dir", "", "state_dir to write (default: /var/lib/drill for a config in /etc/drill, else drill-state beside the config)")
	fl.StringVar(&f.passwordFile, "password-file", "", "restic: the file holding the repository password (default $RESTIC_PASSWORD_FILE)")
	fl.StringVar(&f.passwordCommand, "password-command", "", "restic: a command that prints the repository password (default $RESTIC_PASSWORD_COMMAND)")
	fl.StringVar(&f.pgServer, "pg-server", "", "PostgreSQL server for scratch databases, postgres://USER@HOST:PORT/postgres (default from PGUSER, PGHOST, PGPORT)")
	fl.StringVar(&f.pgPasswordFile, "pg-password-file", "", "PostgreSQL: the file holding the login's password (default PGPASSFILE or ~/.pgpass)")
	fl.StringVar(&f.myServer, "mysql-server", "", "MySQL/MariaDB server for scratch databases, mysql://USER@HOST:PORT/ (default from USER, MYSQL_HOST, MYSQL_TCP_PORT)")
	fl.StringVar(&f.myPasswordFile, "mysql-password-file", "", "MySQL/MariaDB: the file holding the login's password")
	fl.StringVar(&f.rpo, "rpo", "", "every service's RPO (default: from the backups' cadence)")
	fl.StringVar(&f.maxScratch, "max-scratch", "", "max_scratch_bytes to write; a backup larger than this or the free scratch space is drilled as a sample")
	return cmd
}

func (e *env) runInit(cmd *cobra.Command, f initFlags, args []string) error {
	if f.out != "" && !f.force {
		if _, err := os.Lstat(f.out); err == nil {
			return usageError{fmt.Errorf("%s exists: give --force to overwrite it, or another -o FILE", f.out)}
		}
	}
	opts, err := e.initOptions(f)
	if err != nil {
		return err
	}
	targets, err := detectTargets(args)
	if err != nil {
		return err
	}
	var avoid []string
	for _, t := range targets {
		avoid = append(avoid, propose.Allowed(t))
	}
	l, stateAbs, err := initLayout(f, avoid)
	if err != nil {
		return err
	}
	if opts.TrialRoot, err = propose.TrialRoot(stateAbs, avoid); err != nil {
		return withCode(exitError, err)
	}
	defer os.RemoveAll(opts.TrialRoot)
	self, err := os.Executable()
	if err != nil {
		return withCode(exitError, fmt.Errorf("find the drill executable to serve built-in backends: %w", err))
	}
	opts.Launcher = &drills.PluginLauncher{Self: self, Builtins: builtinNames(), Env: drills.PluginEnv(), Logger: e.logger()}
	for _, t := range targets {
		fmt.Fprintf(e.stderr, "drill init: %s (%s): restoring it once to see what it holds\n", textsafe.Escape(t.Arg), t.Kind)
	}
	p, err := propose.Propose(ctxOf(cmd), opts, targets)
	if err != nil {
		if _, ok := errors.AsType[*propose.FlagError](err); ok {
			return usageError{err}
		}
		return withCode(exitFail, err)
	}
	if term.IsTerminal(int(os.Stdin.Fd())) {
		ask(bufio.NewReader(os.Stdin), e.stderr, p, f)
	}
	l.Header = []string{
		fmt.Sprintf("drill config proposed by drill init on %s, %s, from:", drills.Hostname(), time.Now().UTC().Format("2006-01-02 15:04 UTC")),
		"  " + strings.Join(args, " "),
		"Every figure says where it came from: change any to what you promise.",
		"Check: drill -c FILE config check    Drill now: drill -c FILE run --all",
	}
	if err := e.writeProposal(p, l, f); err != nil {
		return err
	}
	e.initNotes(p, f)
	return nil
}

// initOptions are the options of a proposal from drill init's flags (and
// restic's and the database clients' own environment variables).
func (e *env) initOptions(f initFlags) (propose.Options, error) {
	opts := propose.Options{
		Service: f.service, Owner: f.owner, DefaultOwner: defaultOwner(),
		PasswordFile: f.passwordFile, PasswordCommand: f.passwordCommand,
		PGServer: orEnvServer(f.pgServer, "postgres"), PGPasswordFile: f.pgPasswordFile,
		MySQLServer: orEnvServer(f.myServer, "mysql"), MySQLPasswordFile: f.myPasswordFile,
		Logger: e.logger(),
	}
	var err error
	if f.service != "" {
		if err := config.CheckName(f.service); err != nil {
			return opts, usageError{fmt.Errorf("--service: %w", err)}
		}
	}
	if f.passwordFile == "" && f.passwordCommand == "" {
		// restic's own variables, as a restic user has them set; only
		// the reference is written, as with the flags.
		opts.PasswordFile, opts.PasswordCommand = os.Getenv("RESTIC_PASSWORD_FILE"), os.Getenv("RESTIC_PASSWORD_COMMAND")
	}
	if f.rpo != "" {
		if opts.RPO, err = config.ParseDuration(f.rpo); err != nil {
			return opts, usageError{fmt.Errorf("--rpo: %w", err)}
		}
	}
	if f.maxScratch != "" {
		if opts.MaxScratch, err = config.ParseSize(f.maxScratch); err != nil {
			return opts, usageError{fmt.Errorf("--max-scratch: %w", err)}
		}
	}
	return opts, nil
}

// detectTargets says what each TARGET is, and groups the series among
// them; a TARGET drill init does not know is a usage error (all of them
// are named).
func detectTargets(args []string) ([]propose.Target, error) {
	var targets []propose.Target
	var bad []error
	for _, a := range args {
		t, err := propose.Detect(a)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		targets = append(targets, t)
	}
	if len(bad) > 0 {
		return nil, usageError{errors.Join(bad...)}
	}
	return propose.Series(targets), nil
}

// writeProposal renders the proposed config to -o FILE, or stdout.
func (e *env) writeProposal(p *propose.Proposal, l propose.Layout, f initFlags) error {
	text, err := p.Render(l, f.out)
	if err != nil {
		return withCode(exitError, err)
	}
	if f.out == "" {
		if _, err := e.stdout.Write(text); err != nil {
			return withCode(exitError, fmt.Errorf("write the config: %w", err))
		}
	} else if err := writeNew(f.out, text, f.force); err != nil {
		return withCode(exitError, err)
	}
	return nil
}

// initLayout is where the proposed config keeps drill's state: the
// packaged layout (/var/lib/drill, /run/drill) for a config written to
// /etc/drill; for any other a drill-state folder beside the config, so
// that a newcomer needs no root, unless that folder is where the backups
// are (the plugins may read there, and state_dir holds the signing key):
// then $XDG_STATE_HOME/drill (~/.local/state/drill). It returns the layout
// and state_dir as an absolute path.
func initLayout(f initFlags, avoid []string) (propose.Layout, string, error) {
	base, _ := os.Getwd()
	if f.out != "" {
		if abs, err := filepath.Abs(f.out); err == nil {
			base = filepath.Dir(abs)
		}
	}
	const why = "drill.db (the evidence), keys/ (the signing key), scratch/"
	var l propose.Layout
	var abs string
	switch {
	case f.stateDir != "":
		abs = f.stateDir
		if !filepath.IsAbs(abs) {
			abs = filepath.Join(base, abs)
		}
		l = propose.Layout{StateDir: f.stateDir, StateWhy: "given with --state-dir: " + why}
	case f.out != "" && base == filepath.Dir(defaultConfig):
		l, abs = propose.Layout{StateDir: config.DefaultStateDir, Socket: config.DefaultSocket}, config.DefaultStateDir
	default:
		abs = filepath.Join(base, "drill-state")
		l = propose.Layout{StateDir: "drill-state", Socket: "drill-state/drill.sock", StateWhy: "beside this file (relative paths are): " + why}
		if propose.Inside(abs, avoid) {
			xdg := os.Getenv("XDG_STATE_HOME")
			if xdg == "" {
				home, _ := os.UserHomeDir()
				xdg = filepath.Join(home, ".local", "state")
			}
			abs = filepath.Join(xdg, "drill")
			l = propose.Layout{StateDir: abs, Socket: filepath.Join(abs, "drill.sock"),
				StateWhy: "not beside this file, where the backups are (a drill may read there; state_dir holds the signing key): " + why}
		}
	}
	if propose.Inside(abs, avoid) {
		return l, "", usageError{fmt.Errorf("state_dir %s would be inside a folder of backups a drill reads (it holds the signing key): give --state-dir DIR elsewhere", abs)}
	}
	return l, abs, nil
}

// writeNew writes a new config file, mode 0640; an existing one only with force.
func writeNew(path string, text []byte, force bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	fh, err := os.OpenFile(path, flags, 0o640)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return usageError{fmt.Errorf("%s exists: give --force to overwrite it", path)}
		}
		return fmt.Errorf("write the config: %w", err)
	}
	if _, err := fh.Write(text); err != nil {
		_ = fh.Close()
		return fmt.Errorf("write the config %s: %w", path, err)
	}
	if err := fh.Chmod(0o640); err != nil {
		_ = fh.Close()
		return fmt.Errorf("write the config %s: %w", path, err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("write the config %s: %w", path, err)
	}
	return nil
}

// ask asks on a terminal for what drill init could not infer: each
// service's owner (unless --owner) and RPO where one backup gave no
// cadence (unless --rpo). An empty answer keeps the proposal.
func ask(in *bufio.Reader, out io.Writer, p *propose.Proposal, f initFlags) {
	for _, s := range p.Services {
		if f.owner == "" {
			fmt.Fprintf(out, "Who answers for service %s (an address)? [%s] ", s.Name, s.Owner)
			if a := readAnswer(in); a != "" {
				s.Owner, s.OwnerWhy = a, ""
			}
		}
		if f.rpo == "" && !s.RPOKnown {
			for {
				fmt.Fprintf(out, "Service %s: one backup seen, so its cadence is unknown. RPO (how old may the backup be, e.g. 1d, 12h)? [%s] ", s.Name, "1d")
				a := readAnswer(in)
				if a == "" {
					break
				}
				d, err := config.ParseDuration(a)
				if err != nil {
					fmt.Fprintln(out, err)
					continue
				}
				s.RPO, s.RPOWhy, s.RPOKnown = d, "as answered when drill init asked", true
				break
			}
		}
	}
}

func readAnswer(in *bufio.Reader) string {
	line, _ := in.ReadString('\n')
	return strings.TrimSpace(line)
}

// initNotes prints, after the config, what the operator should know.
func (e *env) initNotes(p *propose.Proposal, f initFlags) {
	w := e.stderr
	for _, d := range p.Drills {
		fmt.Fprintf(w, "drill init: drill %s (service %s, backend %s): %d restore point(s); trial restore passed in %s\n",
			d.Name, d.Service, d.Target.Kind.Backend(), len(d.Points), d.Took.Round(time.Millisecond))
		if d.Target.Note != "" {
			fmt.Fprintf(w, "  %s\n", textsafe.Escape(d.Target.Note))
		}
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "drill init: %s\n", textsafe.Escape(n))
	}
	for _, n := range p.Stale(time.Now()) {
		fmt.Fprintf(w, "drill init: warning: %s\n", textsafe.Escape(n))
	}
	for _, s := range p.Services {
		if s.OwnerWhy != "" {
			fmt.Fprintf(w, "drill init: service %s: owner %s is a guess; set owner, or give --owner\n", s.Name, s.Owner)
		}
		if !s.RPOKnown {
			fmt.Fprintf(w, "drill init: service %s: %s\n", s.Name, textsafe.Escape(s.RPOWhy))
		}
	}
	fmt.Fprintln(w, `drill init: no reference manifest was written. A manifest made from the backup (drill manifest on a restored copy)
  proves only that future backups keep these files with this content, and fails when they change; one made from the
  live source with "drill manifest SOURCE > FILE.sha256" (checks: manifest: FILE.sha256) is stronger: it proves the
  backup holds what the source held.`)
	cfg := f.out
	if cfg == "" {
		cfg = "FILE"
	}
	fmt.Fprintf(w, "drill init: next: drill -c %s config check && drill -c %s run --all\n", cfg, cfg)
}

// defaultOwner is the owner proposed when none is named: the user running
// drill init, at this host.
func defaultOwner() string {
	name := "root"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return name + "@" + drills.Hostname()
}

// orEnvServer is a server URL flag, or the one the client tools' own
// environment variables name (libpq's PGUSER, PGHOST, PGPORT; the MySQL
// client's MYSQL_HOST, MYSQL_TCP_PORT), with the login user as the
// tools default to.
func orEnvServer(flag, kind string) string {
	if flag != "" {
		return flag
	}
	login := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		login = u.Username
	}
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" && !strings.HasPrefix(v, "/") {
			return v
		}
		return def
	}
	if kind == "postgres" {
		return fmt.Sprintf("postgres://%s@%s:%s/postgres", env("PGUSER", login), env("PGHOST", "127.0.0.1"), env("PGPORT", "5432"))
	}
	return fmt.Sprintf("mysql://%s@%s:%s/", login, env("MYSQL_HOST", "127.0.0.1"), env("MYSQL_TCP_PORT", "3306"))
}
