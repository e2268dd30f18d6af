package restic

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/plugins"
)

// Name is the backend's name in the config's `backend:` field.
const Name = "restic"

// Version is the version of this backend's behaviour, recorded in evidence.
const Version = "0.1.0"

// Backend drives the restic CLI.
type Backend struct {
	mu sync.Mutex
	// pending holds the snapshot listings ListRestorePoints started for
	// the Restore that follows, by listing arguments.
	pending map[string]*listing
	// sizes holds the size of each snapshot ListRestorePoints listed, from
	// its summary, for the max_scratch_bytes check (limit.go).
	sizes map[string]int64
	// paths holds the paths of each snapshot ListRestorePoints listed, to
	// find where they are in the restored tree (root.go).
	paths map[string][]string
	// passwords holds the output of each password_command Sandbox ran
	// before the process was confined (sandbox.go).
	passwords map[string][]byte
	// Tests only (newest.go): byID restores the newest snapshot by its ID
	// once ls names it, as for a repository that is not a local folder;
	// beforeConfirm runs before the snapshots folder is read again.
	byID          bool
	beforeConfirm func()
}

var _ plugins.Backend = (*Backend)(nil)

// New returns the restic backend.
func New() plugins.Backend { return &Backend{} }

// Describe names the backend and its source keys.
func (b *Backend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: Name, Version: Version, Kind: plugins.KindFiles, SourceKeys: plugins.Keys(source{}),
		PointNoun: "snapshot", StoreNoun: "repository", Sampling: true, RestoresNewest: true}, nil
}

// source is a restic source: its tagged fields are the source keys
// (plugins.Keys, plugins.Decode), the others are derived from them.
type source struct {
	repo           string   `source:"repository,required" doc:"the repository, as restic accepts it (a local path, sftp:, rest:, s3: ...)"`
	passwordFile   string   `source:"password_file,path" doc:"a file holding the repository password"`
	passwordCmd    string   `source:"password_command,secret" doc:"a command that prints the repository password"`
	noPassword     bool     `source:"insecure_no_password" doc:"the repository has no password"`
	snapshot       string   `source:"snapshot" doc:"latest (default) or a snapshot ID"`
	host           string   `source:"host" doc:"only snapshots of this host"`
	tags           []string `source:"tags" doc:"only snapshots with all these tags"`
	path           string   `source:"path" doc:"only snapshots of this path"`
	include        []string `source:"include" doc:"restore only these absolute paths of the snapshot (a sampled drill)"`
	readDataSubset string   `source:"read_data_subset" doc:"also run restic check --read-data-subset with this value (5%, 1/10, 2G)"`
	binary         string   `source:"restic_binary,path" doc:"the restic executable (default: restic on PATH)"`
	envEntries     []string `source:"env,secret" doc:"variables for the repository's backend, each NAME_FILE=/path: restic gets NAME set to the file's content"`
	// env holds NAME and the file its value is read from.
	env [][2]string
	// cmdPassword is the output of password_command when it was run
	// before confinement (Backend.withPassword); nil: restic runs it.
	cmdPassword []byte
	// version waits for restic's version, which startVersion asks for
	// beside the restore rather than after it.
	version func() string
}

// readDataSubset matches what restic check --read-data-subset accepts: a
// percentage, n/t, or a size.
var readDataSubsetRE = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?%|[0-9]+/[0-9]+|[0-9]+[KMGT]?)$`)

// envNameRE matches an env entry's NAME_FILE.
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*_FILE$`)

// parseSource decodes a source and checks restic's own rules on it.
func parseSource(src plugins.Source) (*source, []plugins.Problem) {
	s := &source{snapshot: "latest", binary: "restic"}
	if probs := plugins.Decode(src, s); len(probs) > 0 {
		return s, probs
	}
	var probs []plugins.Problem
	bad := func(key, format string, args ...any) {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	if n := countTrue(s.passwordFile != "", s.passwordCmd != "", s.noPassword); n != 1 {
		bad("password_file", "give exactly one of password_file, password_command and insecure_no_password: true")
	}
	if s.snapshot == "" {
		s.snapshot = "latest"
	}
	if s.snapshot != "latest" && !isHexPrefix(s.snapshot) {
		bad("snapshot", "snapshot must be latest or a snapshot ID (8 to 64 hex digits), got %q", s.snapshot)
	}
	if s.binary == "" {
		s.binary = "restic"
	}
	for _, inc := range s.include {
		if !strings.HasPrefix(inc, "/") || strings.ContainsAny(inc, "*?[\\") || cleanSlash(inc) != inc || inc == "/" {
			bad("include", "include %q must be an absolute path in the snapshot, such as /srv/data/invoices, without patterns", inc)
		}
	}
	if s.readDataSubset != "" && !readDataSubsetRE.MatchString(s.readDataSubset) {
		bad("read_data_subset", "read_data_subset %q is not a percentage (5%%), a fraction n/t (1/10) or a size (2G)", s.readDataSubset)
	}
	for _, kv := range s.envEntries {
		name, file, ok := strings.Cut(kv, "=")
		switch {
		case !ok || !envNameRE.MatchString(name):
			bad("env", "env entry %q must be NAME_FILE=/path/to/file (values are read from files, never written in the config)", redactEnv(kv))
		case !filepath.IsAbs(file):
			bad("env", "env %s: %q is not an absolute path", name, file)
		case strings.HasPrefix(name, "RESTIC_"):
			bad("env", "env %s: restic's own settings come from the source keys (repository, password_file ...), not env", name)
		default:
			s.env = append(s.env, [2]string{strings.TrimSuffix(name, "_FILE"), file})
		}
	}
	return s, probs
}

// countTrue counts the conditions that hold.
func countTrue(conds ...bool) int {
	n := 0
	for _, c := range conds {
		if c {
			n++
		}
	}
	return n
}

// redactEnv shows an env entry that is not NAME_FILE=path without its
// value, in case it is a secret written inline.
func redactEnv(kv string) string {
	if name, _, ok := strings.Cut(kv, "="); ok {
		return name + "=…"
	}
	if len(kv) > 40 {
		return kv[:40] + "…"
	}
	return kv
}

// repoName is the repository for messages: a URL without its user
// information, in case a credential is in it.
func (s *source) repoName() string { return redactURL(s.repo) }

// redactURL removes user:password@ from a URL-like repository string
// (rest:https://user:pw@host/, sftp:user@host:/path keeps the user).
func redactURL(repo string) string {
	i := strings.Index(repo, "://")
	if i < 0 {
		return repo
	}
	rest := repo[i+3:]
	at := strings.IndexByte(rest, '@')
	slash := strings.IndexByte(rest, '/')
	if at < 0 || slash >= 0 && at > slash {
		return repo
	}
	return repo[:i+3] + "***@" + rest[at+1:]
}

func isHexPrefix(s string) bool {
	if len(s) < 8 || len(s) > 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}

// ValidateSource checks a source without touching the repository.
func (b *Backend) ValidateSource(_ context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	_, probs := parseSource(req.Source)
	return &plugins.ValidateSourceResponse{Problems: probs}, nil
}

// maxSecretFile bounds a password file (and an env _FILE) read into memory.
const maxSecretFile = 64 << 10

// invocation builds a restic run for s, reading the password file.
func (s *source) invocation(args ...string) (*invocation, error) {
	inv := &invocation{binary: s.binary, repo: s.repo, pwCmd: s.passwordCmd, noPass: s.noPassword, args: args}
	if s.cmdPassword != nil {
		inv.password, inv.pwCmd = s.cmdPassword, ""
	}
	if s.passwordFile != "" {
		// A regular file, never through a symlink (safefile): the
		// operator points password_file at the file itself.
		pw, err := safefile.ReadFile(s.passwordFile, "password file", maxSecretFile)
		if err != nil {
			return nil, fmt.Errorf("read the password file of repository %s: %w", s.repoName(), err)
		}
		inv.password = pw
	}
	for _, e := range s.env {
		v, err := safefile.ReadFile(e[1], "env "+e[0]+"_FILE", maxSecretFile)
		if err != nil {
			return nil, fmt.Errorf("read env %s_FILE of repository %s: %w", e[0], s.repoName(), err)
		}
		inv.extraEnv = append(inv.extraEnv, e[0]+"="+strings.TrimRight(string(v), "\r\n"))
	}
	return inv, nil
}

// failure turns an unsuccessful restic run into an error (the drill could
// not be carried out) or nil when the run says something about the backup
// itself (the caller reports that as a problem).
func (s *source) failure(what string, r *result) error {
	switch r.code {
	case exitNoRepository:
		return fmt.Errorf("repository %s does not exist or cannot be opened: %s", s.repoName(), r.message())
	case exitLockFailed:
		return fmt.Errorf("repository %s is locked by another process: %s", s.repoName(), r.message())
	case exitWrongPassword:
		return fmt.Errorf("wrong password for repository %s: %s", s.repoName(), r.message())
	case -1:
		return fmt.Errorf("%s: %s", what, r.message())
	}
	if r.signaled || r.code == exitInterrupted {
		return fmt.Errorf("%s: restic was interrupted", what)
	}
	return nil
}

// ListRestorePoints lists the snapshots that match the source, newest
// first. A snapshot restic cannot read, and a pinned snapshot ID it cannot
// find, are fail problems: restic only says `Ignoring "..."` on stderr for
// them and exits 0.
func (b *Backend) ListRestorePoints(ctx context.Context, req *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	s, probs := parseSource(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	s = b.withPassword(s)
	args := s.filtered("snapshots")
	if s.snapshot != "latest" {
		args = append(args, s.snapshot)
	}
	inv, err := s.invocation(args...)
	if err != nil {
		return nil, err
	}
	// List the newest snapshot's tree for the listing check while the
	// snapshots are listed: the two key derivations run side by side and
	// the listing does not compete with the restore for the CPU.
	b.startPending(s)
	keep := false
	defer func() {
		if keep {
			return
		}
		if l := b.takePending(s); l != nil {
			l.close() // no Restore follows
		}
	}()
	r := inv.run(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.code != 0 {
		if err := s.failure("list snapshots", r); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("list snapshots of repository %s: %s", s.repoName(), r.message())
	}
	snaps, err := parseSnapshots(r.stdout)
	if err != nil {
		return nil, err
	}
	resp := &plugins.ListRestorePointsResponse{}
	for _, sn := range snaps {
		resp.Points = append(resp.Points, b.point(sn))
	}
	sort.SliceStable(resp.Points, func(i, j int) bool { return resp.Points[i].Time.After(resp.Points[j].Time) })
	for _, t := range r.text {
		if strings.HasPrefix(t, "Ignoring ") {
			resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Message: "restic snapshots: " + t})
		}
	}
	for _, e := range r.errors {
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Message: "restic snapshots: " + oneLine(e.Text)})
	}
	keep = len(resp.Points) > 0
	return resp, nil
}

// point is snapshot sn as a restore point; its paths and size are noted
// for the restore that follows.
func (b *Backend) point(sn Snapshot) plugins.RestorePoint {
	desc := fmt.Sprintf("snapshot %s of %s:%s", sn.ShortID, sn.Hostname, strings.Join(sn.Paths, ","))
	if len(sn.Tags) > 0 {
		desc += " [" + strings.Join(sn.Tags, ",") + "]"
	}
	p := plugins.RestorePoint{ID: sn.ID, Time: sn.Time, Size: -1, Files: -1, Description: desc, TimeBasis: plugins.BasisSnapshotTime, Root: listedRoot(sn.Paths)}
	b.notePaths(sn.ID, sn.Paths)
	if sn.Summary != nil {
		p.Size, p.Files = sn.Summary.TotalBytesProcessed, sn.Summary.TotalFilesProcessed
		b.noteSize(sn.ID, p.Size)
	}
	return p
}

// listing is a `restic ls` of a snapshot running beside other work.
type listing struct {
	stop context.CancelFunc
	sp   *spool
	done chan struct{}
	// head is closed once restic printed the snapshot it lists (its first
	// line), or ended without: snap is set by then, ID empty without.
	head     chan struct{}
	headOnce sync.Once
	snap     Snapshot
	// read is the bytes restic ls has read so far (/proc/PID/io).
	read atomic.Int64
	// Set by the time done is closed:
	id   string // the snapshot listed, from restic's first line
	res  *result
	perr error // the first line restic printed that did not parse
}

func (l *listing) headDone() { l.headOnce.Do(func() { close(l.head) }) }

// filtered is restic command cmd with the source's snapshot filters:
// host, tags and path.
func (s *source) filtered(cmd string) []string {
	args := []string{cmd}
	if s.host != "" {
		args = append(args, "--host", s.host)
	}
	if len(s.tags) > 0 {
		args = append(args, "--tag", strings.Join(s.tags, ","))
	}
	if s.path != "" {
		args = append(args, "--path", s.path)
	}
	return args
}

// lsArgs lists ref ("latest", an ID or an ID prefix) with the source's
// filters and includes.
func (s *source) lsArgs(ref string) []string {
	args := s.filtered("ls")
	if len(s.include) > 0 {
		return append(append(args, "--recursive", ref), s.include...)
	}
	return append(args, ref)
}

func (s *source) startListing(ctx context.Context, args []string, beside bool) (*listing, error) {
	inv, err := s.invocation(args...)
	if err != nil {
		return nil, err
	}
	if beside {
		inv.nice = besideNice
	}
	sp, err := newSpool()
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(ctx)
	l := &listing{stop: stop, sp: sp, done: make(chan struct{}), head: make(chan struct{})}
	inv.onRead = func(n int64) { l.read.Store(n) }
	inv.onStdout = func(line []byte) {
		n, snap, err := parseLsLine(line)
		switch {
		case err != nil:
			if l.perr == nil {
				l.perr = err
			}
		case snap != "":
			l.id = snap
			if json.Unmarshal(line, &l.snap) != nil || l.snap.ID != snap || l.snap.Time.IsZero() {
				l.snap = Snapshot{}
			}
			l.headDone()
		default:
			sp.add(n)
		}
	}
	go func() {
		defer close(l.done)
		defer l.headDone()
		l.res = inv.run(ctx)
	}()
	return l, nil
}

// await waits for the listing to end, reporting the bytes restic ls reads
// meanwhile as progress on top of p, each second they grew: a snapshot of
// millions of files takes minutes to list, and the host's stall detector
// must see that work. It returns ctx's error if ctx ends first.
func (l *listing) await(ctx context.Context, events plugins.RestoreEvents, p plugins.Progress) error {
	t := time.NewTicker(readInterval)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-l.done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if n := l.read.Load(); n > last {
			last = n
			q := p
			q.BytesDone += n
			_ = events.Progress(q)
		}
	}
}

// of waits for the listing and reports whether it is of snapshot id.
func (l *listing) of(id string) bool {
	<-l.done
	return l.id == id
}

// close stops restic ls if it still runs and removes the spool.
func (l *listing) close() {
	l.stop()
	<-l.done
	l.sp.close()
}

// pendingKey identifies a listing by repository and arguments.
func (s *source) pendingKey() string {
	return s.repo + "\x00" + strings.Join(s.lsArgs(s.snapshot), "\x00")
}

// startPending starts listing the snapshot s names, for takePending.
// It fails quietly: Restore then lists the snapshot itself.
func (b *Backend) startPending(s *source) {
	l, err := s.startListing(context.Background(), s.lsArgs(s.snapshot), false)
	if err != nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[string]*listing{}
	}
	if old := b.pending[s.pendingKey()]; old != nil {
		go old.close()
	}
	b.pending[s.pendingKey()] = l
}

// takePending returns the listing startPending started for s, or nil.
func (b *Backend) takePending(s *source) *listing {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.pending[s.pendingKey()]
	delete(b.pending, s.pendingKey())
	return l
}

// Cleanup stops any snapshot listing a Restore did not use; nothing else
// is left: restic runs without a cache and restores only into the target.
func (b *Backend) Cleanup(context.Context, *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	b.mu.Lock()
	pending := b.pending
	b.pending = nil
	b.mu.Unlock()
	for _, l := range pending {
		l.close()
	}
	return &plugins.CleanupResponse{}, nil
}

// startVersion runs `restic version` in the background for
// s.resticVersion.
func (s *source) startVersion(ctx context.Context) {
	done := make(chan string, 1)
	go func() { done <- resticVersion(ctx, s) }()
	var v *string
	s.version = func() string {
		if v == nil {
			x := <-done
			v = &x
		}
		return *v
	}
}

// resticVersion is the version startVersion asked for, or asks for it now.
func (s *source) resticVersion(ctx context.Context) string {
	if s.version == nil {
		return resticVersion(ctx, s)
	}
	return s.version()
}

func resticVersion(ctx context.Context, s *source) string {
	inv := &invocation{binary: s.binary, repo: s.repo, noPass: false, args: []string{"version"}}
	r := inv.run(ctx)
	out := strings.TrimSpace(string(r.stdout))
	if i := strings.Index(out, `"version":"`); i >= 0 {
		out = out[i+len(`"version":"`):]
		if j := strings.IndexByte(out, '"'); j >= 0 {
			return out[:j]
		}
	}
	return out
}
