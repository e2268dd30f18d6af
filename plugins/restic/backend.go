package restic

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/drillhq/drill/plugins"
)

// Name is the backend's name in the config's `backend:` field.
const Name = "restic"

// Version is the version of this backend's behaviour, recorded in evidence.
const Version = "0.1.0"

// Backend drives the restic CLI.
type Backend struct{}

var _ plugins.Backend = (*Backend)(nil)

// New returns the restic backend.
func New() plugins.Backend { return &Backend{} }

var sourceKeys = []plugins.SourceKey{
	{Name: "repository", Type: plugins.TypeString, Required: true, Doc: "the repository, as restic accepts it (a local path, sftp:, rest:, s3: ...)"},
	{Name: "password_file", Type: plugins.TypePath, Doc: "a file holding the repository password"},
	{Name: "password_command", Type: plugins.TypeString, Secret: true, Doc: "a command that prints the repository password"},
	{Name: "insecure_no_password", Type: plugins.TypeBool, Doc: "the repository has no password"},
	{Name: "snapshot", Type: plugins.TypeString, Doc: "latest (default) or a snapshot ID"},
	{Name: "host", Type: plugins.TypeString, Doc: "only snapshots of this host"},
	{Name: "tags", Type: plugins.TypeStrings, Doc: "only snapshots with all these tags"},
	{Name: "path", Type: plugins.TypeString, Doc: "only snapshots of this path"},
	{Name: "include", Type: plugins.TypeStrings, Doc: "restore only these paths of the snapshot"},
	{Name: "restic_binary", Type: plugins.TypePath, Doc: "the restic executable (default: restic on PATH)"},
}

// Describe names the backend and its source keys.
func (b *Backend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: Name, Version: Version, Kind: plugins.KindFiles, SourceKeys: sourceKeys}, nil
}

// source is a validated restic source.
type source struct {
	repo, passwordFile, passwordCmd, snapshot, host, path, binary string
	noPassword                                                    bool
	tags, include                                                 []string
}

func parseSource(src plugins.Source) (*source, []plugins.Problem) {
	var probs []plugins.Problem
	known := map[string]bool{}
	for _, k := range sourceKeys {
		known[k.Name] = true
	}
	for k := range src {
		if !known[k] {
			probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: k, Message: fmt.Sprintf("unknown key %q for backend restic", k)})
		}
	}
	str := func(k string) string { s, _ := src[k].(string); return s }
	list := func(k string) []string { l, _ := src[k].([]string); return l }
	s := &source{
		repo: str("repository"), passwordFile: str("password_file"), passwordCmd: str("password_command"),
		snapshot: str("snapshot"), host: str("host"), path: str("path"), binary: str("restic_binary"),
		tags: list("tags"), include: list("include"),
	}
	s.noPassword, _ = src["insecure_no_password"].(bool)
	if s.repo == "" {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: "repository", Message: "repository is required"})
	}
	n := 0
	for _, set := range []bool{s.passwordFile != "", s.passwordCmd != "", s.noPassword} {
		if set {
			n++
		}
	}
	if n != 1 {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: "password_file", Message: "give exactly one of password_file, password_command and insecure_no_password: true"})
	}
	if s.snapshot == "" {
		s.snapshot = "latest"
	}
	if s.snapshot != "latest" && !isHexPrefix(s.snapshot) {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: "snapshot", Message: fmt.Sprintf("snapshot must be latest or a snapshot ID (8 to 64 hex digits), got %q", s.snapshot)})
	}
	if s.binary == "" {
		s.binary = "restic"
	}
	return s, probs
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

// invocation builds a restic run for s, reading the password file.
func (s *source) invocation(args ...string) (*invocation, error) {
	inv := &invocation{binary: s.binary, repo: s.repo, pwCmd: s.passwordCmd, noPass: s.noPassword, args: args}
	if s.passwordFile != "" {
		pw, err := os.ReadFile(s.passwordFile)
		if err != nil {
			return nil, fmt.Errorf("read the password file of repository %s: %w", s.repo, err)
		}
		inv.password = pw
	}
	return inv, nil
}

// failure turns an unsuccessful restic run into an error (the drill could
// not be carried out) or nil when the run says something about the backup
// itself (the caller reports that as a problem).
func (s *source) failure(what string, r *result) error {
	switch r.code {
	case exitNoRepository:
		return fmt.Errorf("repository %s does not exist or cannot be opened: %s", s.repo, r.message())
	case exitLockFailed:
		return fmt.Errorf("repository %s is locked by another process: %s", s.repo, r.message())
	case exitWrongPassword:
		return fmt.Errorf("wrong password for repository %s: %s", s.repo, r.message())
	case -1:
		return fmt.Errorf("%s: %s", what, r.message())
	}
	if r.signaled || r.code == exitInterrupted {
		return fmt.Errorf("%s: restic was interrupted", what)
	}
	return nil
}

// ListRestorePoints lists the snapshots that match the source, newest first.
func (b *Backend) ListRestorePoints(ctx context.Context, req *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	s, probs := parseSource(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	args := []string{"snapshots"}
	if s.host != "" {
		args = append(args, "--host", s.host)
	}
	if len(s.tags) > 0 {
		args = append(args, "--tag", strings.Join(s.tags, ","))
	}
	if s.path != "" {
		args = append(args, "--path", s.path)
	}
	inv, err := s.invocation(args...)
	if err != nil {
		return nil, err
	}
	r := inv.run(ctx)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.code != 0 {
		if err := s.failure("list snapshots", r); err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("list snapshots of repository %s: %s", s.repo, r.message())
	}
	snaps, err := parseSnapshots(r.stdout)
	if err != nil {
		return nil, err
	}
	var points []plugins.RestorePoint
	for _, sn := range snaps {
		if s.snapshot != "latest" && !strings.HasPrefix(sn.ID, s.snapshot) {
			continue
		}
		p := plugins.RestorePoint{ID: sn.ID, Time: sn.Time, Size: -1, Files: -1,
			Description: fmt.Sprintf("snapshot %s of %s:%s", sn.ShortID, sn.Hostname, strings.Join(sn.Paths, ","))}
		if sn.Summary != nil {
			p.Size, p.Files = sn.Summary.TotalBytesProcessed, sn.Summary.TotalFilesProcessed
		}
		points = append(points, p)
	}
	sort.SliceStable(points, func(i, j int) bool { return points[i].Time.After(points[j].Time) })
	return &plugins.ListRestorePointsResponse{Points: points}, nil
}

// Restore restores one snapshot into req.Target with `restic restore`,
// hashing each file as restic reports it restored, so the checksums
// overlap the restore.
func (b *Backend) Restore(ctx context.Context, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	s, probs := parseSource(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	if !isHexID(req.PointID) {
		return nil, fmt.Errorf("restore point %q is not a snapshot ID", req.PointID)
	}
	args := []string{"restore", req.PointID, "--target", req.Target, "--verbose=2"}
	for _, inc := range s.include {
		args = append(args, "--include", inc)
	}
	inv, err := s.invocation(args...)
	if err != nil {
		return nil, err
	}
	// Say at once that the restore has started (see plugins.RestoreEvents).
	if err := events.Progress(plugins.Progress{FilesTotal: -1, BytesTotal: -1}); err != nil {
		return nil, err
	}
	h := newHasher(ctx, req.Target, events)
	var summary *Message
	inv.onStdout = func(line []byte) {
		m := parseMessage(line)
		switch m.Kind {
		case "verbose_status":
			if m.Action == "restored" || m.Action == "updated" {
				h.add(m.Item)
			}
		case "status":
			h.progress(plugins.Progress{FilesDone: m.FilesRestored, FilesTotal: m.TotalFiles, BytesDone: m.BytesRestored, BytesTotal: m.TotalBytes})
		case "summary":
			mm := m
			summary = &mm
		}
	}
	r := inv.run(ctx)
	files, bytes := h.wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.failure("restore snapshot "+req.PointID[:8], r); err != nil {
		return nil, err
	}
	resp := &plugins.RestoreResponse{
		Point: plugins.RestorePoint{ID: req.PointID}, Files: files, Bytes: bytes,
		Details: map[string]string{"restic_version": resticVersion(ctx, s)},
	}
	for _, e := range r.errors {
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Path: strings.TrimPrefix(e.Item, "/"),
			Message: fmt.Sprintf("restic: %s", strings.TrimSpace(e.Text))})
	}
	if r.code != 0 {
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail,
			Message: fmt.Sprintf("restic restore of snapshot %s exited with code %d: %s", req.PointID[:8], r.code, r.message())})
	}
	if summary != nil && len(s.include) == 0 && (summary.FilesRestored < summary.TotalFiles || summary.BytesRestored < summary.TotalBytes) {
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Message: fmt.Sprintf(
			"restic restored %d of %d files and %d of %d bytes", summary.FilesRestored, summary.TotalFiles, summary.BytesRestored, summary.TotalBytes)})
	}
	return resp, nil
}

// Cleanup has nothing to remove: restic runs without a cache and restores
// only into the host's target.
func (b *Backend) Cleanup(context.Context, *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	return &plugins.CleanupResponse{}, nil
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

// hasher hashes files as restic reports them restored, on two goroutines,
// and reports them to the host.
type hasher struct {
	ctx    context.Context
	target string
	ch     chan string
	wg     sync.WaitGroup
	mu     sync.Mutex // events is called from one goroutine at a time
	events plugins.RestoreEvents
	files  int64
	bytes  int64
}

func newHasher(ctx context.Context, target string, events plugins.RestoreEvents) *hasher {
	h := &hasher{ctx: ctx, target: target, ch: make(chan string, 1024), events: events}
	for range 2 {
		h.wg.Go(h.work)
	}
	return h
}

func (h *hasher) add(item string) { h.ch <- item }

func (h *hasher) progress(p plugins.Progress) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_ = h.events.Progress(p)
}

func (h *hasher) work() {
	buf := make([]byte, 1<<20)
	for item := range h.ch {
		rel := strings.TrimPrefix(path.Clean("/"+item), "/")
		full := filepath.Join(h.target, filepath.FromSlash(rel))
		fi, err := os.Lstat(full)
		if err != nil || !fi.Mode().IsRegular() {
			// Directories, links, and names restic's JSON could not carry
			// (invalid UTF-8): the host hashes what is not reported.
			continue
		}
		f, err := os.OpenFile(full, os.O_RDONLY|syscallNoFollow, 0)
		if err != nil {
			continue
		}
		sum := sha256.New()
		n, err := io.CopyBuffer(sum, f, buf)
		f.Close()
		if err != nil {
			continue
		}
		h.mu.Lock()
		h.files++
		h.bytes += n
		_ = h.events.Files([]plugins.File{{Path: rel, Size: n, SHA256: sum.Sum(nil)}})
		h.mu.Unlock()
	}
}

// wait returns the files and bytes hashed. A file the hasher could not
// read is not reported: the host hashes every restored file that was not.
func (h *hasher) wait() (int64, int64) {
	close(h.ch)
	h.wg.Wait()
	return h.files, h.bytes
}
