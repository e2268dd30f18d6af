package propose

import (
	"context"
	"errors"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/manifest"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// Options are what drill init was told besides its targets.
type Options struct {
	// Service puts every drill in this one service; "" gives each target
	// a service of its own, named like its drill.
	Service string
	// Owner is every service's owner; "" for DefaultOwner, to be confirmed.
	Owner        string
	DefaultOwner string
	// PasswordFile and PasswordCommand reach a restic repository's
	// password; only the reference is ever written.
	PasswordFile, PasswordCommand string
	// PGServer and MySQLServer are the servers scratch databases are
	// made on (URLs without a password), with their logins' password files.
	PGServer, PGPasswordFile       string
	MySQLServer, MySQLPasswordFile string
	// RPO, when not 0, is every service's RPO instead of the cadence's.
	RPO time.Duration
	// Now is when the proposal is made (time.Now when zero): an RPO is
	// never proposed shorter than the age of a newest backup at Now.
	Now time.Time
	// MaxScratch, when not 0, is written as max_scratch_bytes and bounds
	// what a drill restores at once, as the free scratch space does.
	MaxScratch int64
	// TrialRoot is an empty folder, on the filesystem the drills' scratch
	// space will be on, where the trial restores are made.
	TrialRoot string
	Launcher  drills.Launcher
	Logger    *slog.Logger
}

// Proposal is the config drill init proposes.
type Proposal struct {
	Services []*Service
	Drills   []*Drill
	// MaxScratch is written as max_scratch_bytes when not 0.
	MaxScratch int64
	// Notes are what the operator should read besides the config.
	Notes []string
	// taken are the drill names given; service is Options.Service.
	taken   map[string]bool
	service string
}

// Service is one proposed claim.
type Service struct {
	Name string
	// Owner is who answers for the claim; OwnerWhy is set while it is a
	// guess (the user running drill init).
	Owner, OwnerWhy string
	RPO             time.Duration
	RPOWhy          string
	// RPOKnown is false when some drill's cadence could not be read (one
	// backup): RPO is a default to be asked for or confirmed.
	RPOKnown    bool
	RTO         time.Duration
	RTOWhy      string
	ReviewEvery time.Duration
}

// Drill is one proposed drill and what its trial saw.
type Drill struct {
	Name, Service string
	Target        Target
	// Source are the source's keys and values, in order.
	Source [][2]string
	// SamplePercent, when not 0, makes the drill a sampled one: the
	// restore point is larger than the scratch space a drill may use.
	SamplePercent int
	SampleWhy     string
	Cadence       Cadence
	// Points are the restore points the trial listed; Newest the newest.
	Points []plugins.RestorePoint
	Newest plugins.RestorePoint
	// Files and Bytes are the restore point's totals (the whole point's,
	// also for a sampled trial).
	Files, Bytes int64
	// Folders are the largest folders below Root that the trial restored.
	Folders []Folder
	// Root is the folder of the restore that holds the backup's own top
	// level ("srv/files" for a restic snapshot of /srv/files); absRoot is
	// true when drill init chose it (the folder common to a snapshot's
	// several paths), which the checks do not resolve against.
	Root    string
	absRoot bool
	// Tables are the tables a database trial restored.
	Tables []record.Table
	// Restored is the trial's list of files with their digests (files
	// drills only).
	Restored *manifest.Manifest
	// Took is how long the trial's restore and checksums took.
	Took    time.Duration
	Sandbox string
}

// Paths are the proposed paths check: the largest folders, at most three.
func (d *Drill) Paths() []Folder { return d.Folders[:min(3, len(d.Folders))] }

// PathOf is a folder as a paths check names it: relative to the backup's
// top level (a restic snapshot's one path, whether it was backed up as
// /srv/files or as . in it), or, for a snapshot of several paths, absolute
// from the restore's top.
func (d *Drill) PathOf(f Folder) string {
	if !d.absRoot || d.Root == "" {
		return f.Path
	}
	return "/" + d.Root + "/" + f.Path
}

// Propose drills every target once, confined as a drill is, and proposes
// a drill per target with checks drawn from what came back. A target whose
// trial does not pass is an error naming it and saying why; so are
// missing credentials.
func Propose(ctx context.Context, opts Options, targets []Target) (*Proposal, error) {
	p := &Proposal{MaxScratch: opts.MaxScratch, taken: map[string]bool{}, service: opts.Service}
	var errs []error
	for _, t := range targets {
		d := &Drill{Target: t, Name: uniqueName(drillName(t), p.taken)}
		src, err := source(t, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d.Source = src
		d.Service = opts.Service
		if d.Service == "" {
			d.Service = d.Name
		}
		p.Drills = append(p.Drills, d)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if err := p.trial(ctx, opts); err != nil {
		return nil, err
	}
	p.services(opts)
	return p, nil
}

// FlagError is a target that needs a flag drill init was not given (a
// restic password file or command): a usage error.
type FlagError struct{ Msg string }

func (e *FlagError) Error() string { return e.Msg }

// source is the drill source for a target, credentials by reference.
func source(t Target, opts Options) ([][2]string, error) {
	src := [][2]string{{t.Kind.key(), t.Location}}
	switch t.Kind {
	case KindRestic:
		switch {
		case opts.PasswordFile != "" && opts.PasswordCommand != "":
			return nil, &FlagError{fmt.Sprintf("target %q: give --password-file or --password-command (or set RESTIC_PASSWORD_FILE or RESTIC_PASSWORD_COMMAND), not both", t.Arg)}
		case opts.PasswordFile != "":
			abs, err := filepath.Abs(opts.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("--password-file %s: %w", opts.PasswordFile, err)
			}
			src = append(src, [2]string{"password_file", abs})
		case opts.PasswordCommand != "":
			src = append(src, [2]string{"password_command", opts.PasswordCommand})
		default:
			return nil, &FlagError{fmt.Sprintf("target %q is a restic repository: give its password with --password-file FILE or --password-command CMD, or set RESTIC_PASSWORD_FILE or RESTIC_PASSWORD_COMMAND (drill writes only the reference into the config, never the password, so RESTIC_PASSWORD is not used)", t.Arg)}
		}
	case KindPostgres, KindMySQL:
		server, pw, flag := opts.PGServer, opts.PGPasswordFile, "--pg-server"
		if t.Kind == KindMySQL {
			server, pw, flag = opts.MySQLServer, opts.MySQLPasswordFile, "--mysql-server"
		}
		if server == "" {
			return nil, &FlagError{fmt.Sprintf("target %q is a %s: name the server to restore it on with %s URL", t.Arg, t.Kind, flag)}
		}
		src = append(src, [2]string{"server", server})
		if pw != "" {
			abs, err := filepath.Abs(pw)
			if err != nil {
				return nil, fmt.Errorf("password file %s: %w", pw, err)
			}
			src = append(src, [2]string{"password_file", abs})
		}
	}
	return src, nil
}

// trial drills every proposed drill once through the real runner, with no
// checks and no claims, into TrialRoot, and keeps what each saw.
func (p *Proposal) trial(ctx context.Context, opts Options) error {
	budget := opts.MaxScratch
	if free, err := drills.FreeBytes(opts.TrialRoot); err == nil && free > 0 && (budget == 0 || free < budget) {
		budget = free
	}
	var errs []error
	for i := 0; i < len(p.Drills); i++ { // splitBySource appends drills, to be tried in turn
		d := p.Drills[i]
		rec, obs, err := p.try(ctx, opts, d)
		if err != nil {
			return err
		}
		// A restore point too large for the scratch space is drilled a
		// slice at a time: the runner refused it before writing anything.
		if tooLarge(rec, obs, budget) && d.Target.Kind != KindPostgres && d.Target.Kind != KindMySQL {
			d.SamplePercent = 10
			if obs.Point.Size > 0 && budget > 0 {
				d.SamplePercent = percentFor(obs.Point.Size, budget)
			}
			d.SampleWhy = fmt.Sprintf("the newest restore point is larger than the scratch space a drill may use (%s): one %d%% slice per run",
				human.Size(budget), d.SamplePercent)
			if rec, obs, err = p.try(ctx, opts, d); err != nil {
				return err
			}
		}
		if rec.Verdict != record.VerdictPass || obs == nil {
			hint := ""
			switch d.Target.Kind {
			case KindPostgres:
				hint = " (is the server in --pg-server right, and may its login create roles and databases? see README, \"What the database logins need\")"
			case KindMySQL:
				hint = " (is the server in --mysql-server right, and may its login create users and drill_% databases? see README)"
			}
			errs = append(errs, fmt.Errorf("target %q: the trial restore did not pass (%s): %s%s", d.Target.Arg, rec.Verdict, strings.Join(rec.Reasons, "; "), hint))
			continue
		}
		d.learn(rec, obs)
		p.Drills = append(p.Drills, p.splitBySource(d)...)
	}
	return errors.Join(errs...)
}

// try runs one trial of d and returns its record and observation.
func (p *Proposal) try(ctx context.Context, opts Options, d *Drill) (*record.Record, *drills.Observation, error) {
	text := p.render(layout{stateDir: opts.TrialRoot, trial: true}, []*Drill{d})
	path := filepath.Join(opts.TrialRoot, "trial.yaml")
	cfg, err := config.Parse(path, text)
	if err != nil {
		return nil, nil, fmt.Errorf("the trial config for %q is not valid (a bug in drill init): %w", d.Target.Arg, err)
	}
	var obs *drills.Observation
	r := &drills.Runner{
		Config: cfg, Launcher: opts.Launcher, ScratchRoot: drills.ScratchRoot(opts.TrialRoot),
		Logger: opts.Logger, Host: drills.Hostname(),
		Observe: func(o *drills.Observation) { obs = o },
	}
	rec, err := r.Run(ctx, d.Name)
	if err != nil {
		return nil, nil, fmt.Errorf("trial restore of %q: %w", d.Target.Arg, err)
	}
	if ctx.Err() != nil {
		return nil, nil, fmt.Errorf("trial restore of %q: %w", d.Target.Arg, context.Cause(ctx))
	}
	return rec, obs, nil
}

// learn keeps what a passing trial saw.
func (d *Drill) learn(rec *record.Record, obs *drills.Observation) {
	d.Newest = obs.Point
	d.setPoints(obs.Points)
	d.Files, d.Bytes = rec.Files, rec.Bytes
	if rec.Sample != nil {
		d.Files, d.Bytes = rec.Sample.TotalFiles, rec.Sample.TotalBytes
	}
	d.Took = time.Duration(rec.RestoreSeconds * float64(time.Second))
	d.Sandbox = rec.Details["sandbox"]
	for _, t := range rec.Tables {
		if printable(t.Name) {
			d.Tables = append(d.Tables, t)
		}
	}
	if obs.Restored != nil {
		d.Restored = obs.Restored
		d.Root = obs.Point.Root
		if d.Root == "" && d.Target.Kind == KindRestic && !onePath(d) {
			// A snapshot of several paths: their common folder, named
			// from the restore's top, as the restore recreates them.
			d.Root, d.absRoot = commonDir(obs.Restored), true
		}
		d.Folders = folders(obs.Restored, d.Root)
	}
}

// setPoints keeps the restore points a drill lists, and the cadence and
// newest point they give.
func (d *Drill) setPoints(points []plugins.RestorePoint) {
	d.Points = points
	for _, pt := range points {
		if pt.Time.After(d.Newest.Time) {
			d.Newest = pt
		}
	}
	times := make([]time.Time, len(points))
	for i, pt := range points {
		times[i] = pt.Time
	}
	d.Cadence = cadence(times)
}

// services groups the drills into the claims they prove.
func (p *Proposal) services(opts Options) {
	byName := map[string]*Service{}
	for _, d := range p.Drills {
		s := byName[d.Service]
		if s == nil {
			s = &Service{Name: d.Service, Owner: opts.Owner, RPOKnown: true, ReviewEvery: d.Cadence.ReviewEvery, RTO: time.Hour}
			if s.Owner == "" {
				s.Owner = opts.DefaultOwner
				s.OwnerWhy = "nobody was named (--owner): the user who ran drill init; name who answers for this claim"
			}
			byName[d.Service] = s
			p.Services = append(p.Services, s)
		}
		if s.RPO == 0 || d.Cadence.RPO < s.RPO {
			s.RPO, s.RPOWhy = d.Cadence.RPO, d.Name+": "+d.Cadence.Why
		}
		s.RPOKnown = s.RPOKnown && d.Cadence.Known
		s.ReviewEvery = min(s.ReviewEvery, d.Cadence.ReviewEvery)
		if rto := roundUp(4 * d.Took); rto >= s.RTO {
			s.RTO = rto
			s.RTOWhy = fmt.Sprintf("the trial restore of %s and its checksums took %s: four times that, at least 1h", d.Name, d.Took.Round(time.Millisecond))
		}
	}
	if opts.RPO > 0 {
		for _, s := range p.Services {
			s.RPO, s.RPOWhy, s.RPOKnown = opts.RPO, "given with --rpo", true
		}
		return
	}
	p.notBehind(opts.Now)
}

// notBehind raises the RPO of a service whose newest backup is already
// older than its cadence says it should be (backups that stopped, dated
// copies of the past), to a margin above that age, so that the first drill
// of the config passes on the backups drill init inspected, and says so in
// a note: the claim then describes the backups as they are, and should be
// lowered once they run on time again.
func (p *Proposal) notBehind(now time.Time) {
	if now.IsZero() {
		now = time.Now()
	}
	for _, s := range p.Services {
		for _, d := range p.Drills {
			if d.Service != s.Name || d.Newest.Time.IsZero() {
				continue
			}
			age := now.Sub(d.Newest.Time)
			if age < s.RPO-s.RPO/10 {
				continue
			}
			raised := roundUp(age + age/4 + time.Hour)
			p.Notes = append(p.Notes, fmt.Sprintf("drill %s: its newest backup (%s) is already %s old, more than the %s its cadence suggests: rpo is set to %s so that the first drill passes on the backups as they are; are backups still being made? Lower rpo to %s once they are on time again",
				d.Name, d.Newest.Time.UTC().Format(time.RFC3339), approx(age), duration(s.RPO), duration(raised), duration(s.RPO)))
			s.RPOWhy = fmt.Sprintf("the newest backup of %s is already %s old: a quarter more, rounded up, not the %s of the cadence (%s)", d.Name, approx(age), duration(s.RPO), s.RPOWhy)
			s.RPO = raised
		}
	}
}

// Stale returns a note for every drill whose newest backup is already
// older than its service's RPO at now: its first drill would fail.
func (p *Proposal) Stale(now time.Time) []string {
	var notes []string
	for _, d := range p.Drills {
		for _, s := range p.Services {
			if s.Name == d.Service && now.Sub(d.Newest.Time) > s.RPO {
				notes = append(notes, fmt.Sprintf("drill %s: its newest backup (%s) is %s old, older than the RPO of %s: the drill will fail until a new backup is made, or set rpo to what you promise",
					d.Name, d.Newest.Time.UTC().Format(time.RFC3339), approx(now.Sub(d.Newest.Time)), duration(s.RPO)))
			}
		}
	}
	return notes
}

// tooLarge says whether a trial was refused for want of scratch space: an
// error before anything was restored, for a restore point listed as larger
// than budget (the runner's preflight: a snapshot's summary, a copy's
// bytes, an archive's file size) or, where the size was not listed, saying
// so (a backend's own max_scratch_bytes check).
func tooLarge(rec *record.Record, obs *drills.Observation, budget int64) bool {
	if obs == nil || rec.Verdict != record.VerdictError || rec.Files > 0 {
		return false
	}
	if budget > 0 && obs.Point.Size > budget {
		return true
	}
	for _, r := range rec.Reasons {
		if strings.Contains(r, "max_scratch_bytes") || strings.Contains(r, "the scratch filesystem at") {
			return true
		}
	}
	return false
}

// percentFor is the largest friendly sample percent whose slice takes at
// most half the budget.
func percentFor(size, budget int64) int {
	for _, pc := range []int{50, 25, 20, 10, 5, 2} {
		if size/100*int64(pc) <= budget/2 {
			return pc
		}
	}
	return 1
}

// nameChars are what a drill name may not hold.
var nameChars = regexp.MustCompile(`[^a-z0-9_.-]+`)

// drillName is a name for a target's drill: its file or folder name,
// without extensions and glob characters (a dated name's dates are the
// glob's), digits kept (i18n, daily.0).
func drillName(t Target) string {
	base := filepath.Base(strings.TrimRight(t.Location, "/"))
	if t.Kind == KindRestic && remoteRepo.MatchString(t.Location) {
		base = t.Location[strings.LastIndexAny(t.Location, ":/")+1:]
	}
	base, _ = cutExt(strings.ToLower(base))
	base = cleanName(base)
	if base == "" {
		base = map[Kind]string{KindCopy: "copy", KindArchive: "archive", KindPostgres: "postgres", KindMySQL: "mysql", KindRestic: "restic"}[t.Kind]
	}
	return base
}

// cleanName makes s a valid config name, or "": lowercase, with every run
// of other characters a "-".
func cleanName(s string) string {
	s = strings.Trim(nameChars.ReplaceAllString(strings.ToLower(s), "-"), "-_.")
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}

// uniqueName returns name, or name-2, name-3 ... when taken.
func uniqueName(name string, taken map[string]bool) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s-%d", name, i)
	}
	taken[n] = true
	return n
}

// Allowed returns the folders a drill of t lets its plugin read, as the
// sandbox allows them (docs/sandbox.md): a glob's folder, a directory copy
// or local repository itself. drill's state_dir, which holds the signing
// key, must be outside all of them, or the plugin refuses to confine itself.
func Allowed(t Target) string {
	switch {
	case t.Kind == KindRestic && remoteRepo.MatchString(t.Location):
		return ""
	case strings.ContainsAny(t.Location, "*?["):
		return filepath.Dir(t.Location)
	case t.Kind == KindCopy || t.Kind == KindRestic:
		return t.Location
	}
	fi, err := os.Stat(t.Location)
	if err == nil && fi.IsDir() {
		return t.Location // a pg_dump -Fd folder
	}
	return ""
}

// Inside says whether dir is one of the folders, or below one.
func Inside(dir string, folders []string) bool {
	for _, f := range folders {
		if f == "" {
			continue
		}
		if rel, err := filepath.Rel(f, dir); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// TrialRoot makes the folder trial restores are made in: inside the
// nearest existing folder above stateDir, so that the free space seen is
// the space the drills will have, unless that is inside a folder of avoid
// (what the plugins may read); else in the system's temporary folder.
// The caller removes it.
func TrialRoot(stateDir string, avoid []string) (string, error) {
	for dir := stateDir; ; dir = filepath.Dir(dir) {
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			if Inside(dir, avoid) {
				break
			}
			if root, err := os.MkdirTemp(dir, ".drill-init-"); err == nil {
				return root, nil
			}
			break
		}
		if dir == filepath.Dir(dir) {
			break
		}
	}
	root, err := os.MkdirTemp("", "drill-init-")
	if err != nil {
		return "", fmt.Errorf("make a folder for the trial restores: %w", err)
	}
	return root, nil
}
