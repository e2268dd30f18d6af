package drills

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// fakeBackend is a hand-written in-process backend for the runner's unit
// tests. It writes the files in files into the target and reports them.
type fakeBackend struct {
	points   []plugins.RestorePoint
	files    map[string]string // path -> content
	hashed   bool              // report digests
	problems []plugins.Problem
	// listProblems are returned by ListRestorePoints.
	listProblems []plugins.Problem
	// misreport, when set, is reported but not written.
	misreport string
	// unreported is written but not reported.
	unreported string
	restoreErr error
	block      bool // Restore blocks until ctx is done
	progress   bool // Restore reports progress before it blocks
	// before, when set, runs first in Restore (reporting progress as it
	// goes); its error is Restore's.
	before   func(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) error
	cleanups int
	swept    []string // CleanupRequest.Scratch seen
	restored []string // RestoreRequest.PointID seen
	// newest declares RestoresNewest: a Newest restore restores the
	// newest point, or answers ListFirst (after writing and reporting a
	// stray file) when there is none or listFirst is set.
	newest, listFirst bool
	lists             int // ListRestorePoints calls
	mu                sync.Mutex
}

func (f *fakeBackend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: "fake", Kind: plugins.KindFiles, SourceKeys: []plugins.SourceKey{{Name: "where", Type: plugins.TypePath}},
		RestoresNewest: f.newest}, nil
}

// restoreNewest answers a Newest request: the request for the newest
// point, or ListFirst.
func (f *fakeBackend) restoreNewest(req *plugins.RestoreRequest, ev plugins.RestoreEvents) (*plugins.RestoreRequest, *plugins.RestoreResponse, error) {
	if len(f.points) == 0 || f.listFirst {
		if err := os.WriteFile(filepath.Join(req.Target, "stray"), []byte("x"), 0o600); err != nil {
			return nil, nil, err
		}
		return nil, &plugins.RestoreResponse{ListFirst: true}, ev.Files([]plugins.File{{Path: "stray", Size: 1}})
	}
	r := *req
	r.PointID = slices.MaxFunc(f.points, func(a, b plugins.RestorePoint) int { return a.Time.Compare(b.Time) }).ID
	return &r, nil, nil
}

func (f *fakeBackend) ValidateSource(context.Context, *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	return &plugins.ValidateSourceResponse{}, nil
}

func (f *fakeBackend) ListRestorePoints(context.Context, *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	f.lists++
	return &plugins.ListRestorePointsResponse{Points: f.points, Problems: f.listProblems}, nil
}

func (f *fakeBackend) Restore(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	if f.before != nil {
		if err := f.before(ctx, req, ev); err != nil {
			return nil, err
		}
	}
	if f.block {
		if f.progress {
			_ = ev.Progress(plugins.Progress{BytesDone: 1, BytesTotal: 10})
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if f.restoreErr != nil {
		return nil, f.restoreErr
	}
	if req.Newest {
		r, resp, err := f.restoreNewest(req, ev)
		if r == nil {
			return resp, err
		}
		req = r
	}
	f.mu.Lock()
	f.restored = append(f.restored, req.PointID)
	f.mu.Unlock()
	var rep []plugins.File
	var bytes int64
	for p, c := range f.files {
		full := filepath.Join(req.Target, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
			return nil, err
		}
		if err := os.WriteFile(full, []byte(c), 0o600); err != nil {
			return nil, err
		}
		if p == f.unreported {
			continue
		}
		file := plugins.File{Path: p, Size: int64(len(c))}
		if f.hashed {
			s := sha256.Sum256([]byte(c))
			file.SHA256 = s[:]
		}
		rep = append(rep, file)
		bytes += int64(len(c))
	}
	if f.misreport != "" {
		rep = append(rep, plugins.File{Path: f.misreport, Size: 1})
	}
	if err := ev.Files(rep); err != nil {
		return nil, err
	}
	point := f.points[0]
	for _, p := range f.points {
		if p.ID == req.PointID {
			point = p
		}
	}
	return &plugins.RestoreResponse{Point: point, Files: int64(len(rep)), Bytes: bytes, Problems: f.problems}, nil
}

func (f *fakeBackend) Cleanup(_ context.Context, req *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	f.mu.Lock()
	f.cleanups++
	f.swept = append(f.swept, req.Scratch...)
	f.mu.Unlock()
	return &plugins.CleanupResponse{}, nil
}

func (f *fakeBackend) Close() error { return nil }

type fakeLauncher struct{ b *fakeBackend }

func (l fakeLauncher) Launch(context.Context, string) (Backend, error) { return l.b, nil }

type memRecorder struct{ recs []*record.Record }

func (m *memRecorder) NewestPoint(drill, source string) (evidence.SeenPoint, bool, error) {
	var sp evidence.SeenPoint
	found := false
	for _, r := range m.recs {
		if r.Drill == drill && r.SourceSHA256 == source && r.RestorePoint.ID != "" && (!found || r.RestorePoint.Time.After(sp.Time)) {
			sp, found = evidence.SeenPoint{RestorePoint: r.RestorePoint, LogIndex: r.LogIndex}, true
		}
	}
	return sp, found, nil
}

func (m *memRecorder) SlicePasses(drill, source, seed string, slices int) ([]time.Time, error) {
	out := make([]time.Time, slices)
	for _, r := range m.recs {
		if r.Drill == drill && r.SourceSHA256 == source && r.Verdict == record.VerdictPass &&
			r.Sample != nil && r.Sample.Seed == seed && r.Sample.Slices == slices && r.Finished.After(out[r.Sample.Slice]) {
			out[r.Sample.Slice] = r.Finished
		}
	}
	return out, nil
}

func (m *memRecorder) Append(r *record.Record) (*evidence.Entry, error) {
	r.LogIndex = int64(len(m.recs))
	m.recs = append(m.recs, r)
	return &evidence.Entry{Index: r.LogIndex, Record: r}, nil
}

const fakeConfig = `
state_dir: state
services:
  svc:
    owner: ops@example.org
    rpo: 24h
    rto: 1h
drills:
  d:
    service: svc
    backend: fake
    timeout: 2s
    source: {where: /x}
    checks: {min_files: 2, paths: [a.txt]}
`

func newTestRunner(t *testing.T, b *fakeBackend, extra string) (*Runner, *memRecorder, time.Time) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "drill.yaml"), []byte(fakeConfig+extra))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	rec := &memRecorder{}
	return &Runner{
		Config: cfg, Launcher: fakeLauncher{b}, Recorder: rec,
		ScratchRoot: filepath.Join(dir, "scratch"), Now: func() time.Time { return now },
	}, rec, now
}

func TestRunVerdicts(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	fresh := []plugins.RestorePoint{{ID: "p1", Time: now.Add(-time.Hour)}}
	files := map[string]string{"a.txt": "alpha", "dir/b.txt": "bravo"}
	tests := []struct {
		name        string
		b           *fakeBackend
		want        record.Verdict
		wantReasons []string // substrings, each in some reason
	}{
		{"intact backup passes", &fakeBackend{points: fresh, files: files, hashed: true}, "pass", nil},
		{"host hashes what the backend did not", &fakeBackend{points: fresh, files: files}, "pass", nil},
		{"a file written but not reported is still hashed and counted", &fakeBackend{points: fresh, files: files, hashed: true, unreported: "dir/b.txt"}, "pass", nil},
		{"no restore point fails", &fakeBackend{files: files}, "fail", []string{"no restore point found"}},
		{"a backup older than the RPO fails", &fakeBackend{points: []plugins.RestorePoint{{ID: "old", Time: now.Add(-50 * time.Hour), TimeBasis: plugins.BasisSnapshotTime}}, files: files, hashed: true}, "fail", []string{"check rpo: backup was 2d2h old at drill start (snapshot time), RPO 1d"}},
		{"a backup of unsaid time older than the RPO fails", &fakeBackend{points: []plugins.RestorePoint{{ID: "old", Time: now.Add(-50 * time.Hour)}}, files: files, hashed: true}, "fail", []string{"check rpo: backup was 2d2h old at drill start (restore point time), RPO 1d"}},
		{"a copy last written long ago fails and says how to date it", &fakeBackend{points: []plugins.RestorePoint{{ID: "/b/copy", Time: now.Add(-(95*24 + 3) * time.Hour), TimeBasis: plugins.BasisNewestCtime}}, files: files, hashed: true}, "fail",
			[]string{"check rpo: the copy was last written 95d3h ago (newest ctime), RPO 1d; set source.stamp to a file your backup job touches when it finishes"}},
		{"damage reported by the backend fails", &fakeBackend{points: fresh, files: files, hashed: true,
			problems: []plugins.Problem{{Kind: plugins.ProblemFail, Path: "c.bin", Message: "archive x is damaged: unexpected EOF"}}}, "fail", []string{`"c.bin": archive x is damaged`}},
		{"a reported file missing on disk fails", &fakeBackend{points: fresh, files: files, hashed: true, misreport: "ghost"}, "fail", []string{`reported files that are not in the restore: "ghost"`}},
		{"too few files fails", &fakeBackend{points: fresh, files: map[string]string{"a.txt": "x"}, hashed: true}, "fail", []string{"check min_files: 1 files restored, at least 2 expected"}},
		{"a missing path fails", &fakeBackend{points: fresh, files: map[string]string{"b": "x", "c": "y"}, hashed: true}, "fail", []string{`check paths: missing from the restore: "a.txt"`}},
		{"nothing restored fails", &fakeBackend{points: fresh, files: map[string]string{}, hashed: true}, "fail", []string{"nothing was restored"}},
		{"a restore the backend stopped (scratch full) is an error, not an empty backup", &fakeBackend{points: fresh, files: map[string]string{}, hashed: true,
			problems: []plugins.Problem{{Kind: plugins.ProblemError, Path: "big", Message: `restore stopped: writing "big" into the target: no space left on device`}}},
			"error", []string{`restore stopped: writing "big" into the target: no space left on device`}},
		{"a backend error is an error", &fakeBackend{points: fresh, restoreErr: errors.New("connection refused")}, "error", []string{"restore (backend fake): connection refused"}},
		{"a restore past the drill's timeout fails", &fakeBackend{points: fresh, block: true, progress: true}, "fail", []string{"did not finish within its timeout of 2s (during restore)"}},
		{"a backend that hangs without a word is an error", &fakeBackend{points: fresh, block: true}, "error", []string{"backend fake stopped responding: no progress from the restore within the drill's timeout of 2s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, mem, _ := newTestRunner(t, tt.b, "")
			got, err := r.Run(context.Background(), "d")
			if err != nil {
				t.Fatal(err)
			}
			if got.Verdict != tt.want {
				t.Errorf("verdict = %s, want %s (reasons %q)", got.Verdict, tt.want, got.Reasons)
			}
			for _, w := range tt.wantReasons {
				if !containsReason(got.Reasons, w) {
					t.Errorf("no reason contains %q; reasons: %q", w, got.Reasons)
				}
			}
			if len(mem.recs) != 1 {
				t.Errorf("recorded %d records, want 1", len(mem.recs))
			}
			// Every fail belongs to a named check, and a failed check never passes.
			failed := slices.ContainsFunc(got.Checks, func(c record.Check) bool { return !c.OK })
			if got.Verdict == record.VerdictFail && !failed || got.Verdict == record.VerdictPass && failed {
				t.Errorf("verdict %s with checks %+v", got.Verdict, got.Checks)
			}
			if ents, _ := os.ReadDir(r.ScratchRoot); len(ents) != 0 {
				t.Errorf("scratch left behind: %d entries", len(ents))
			}
			if len(tt.b.points) > 0 && tt.b.cleanups != 1 {
				t.Errorf("Cleanup called %d times, want 1", tt.b.cleanups)
			}
			if got.Verdict == "pass" {
				if got.Files != 2 || got.Bytes != 10 || len(got.ManifestSHA256) != 64 {
					t.Errorf("pass with files=%d bytes=%d manifest=%q", got.Files, got.Bytes, got.ManifestSHA256)
				}
			}
		})
	}
}

// The manifest digest depends only on what was restored, not on whether
// the backend or the host hashed it.
func TestManifestDigestStable(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	fresh := []plugins.RestorePoint{{ID: "p1", Time: now.Add(-time.Hour)}}
	files := map[string]string{"a.txt": "alpha", "dir/b.txt": "bravo"}
	var digests []string
	for _, hashed := range []bool{true, false} {
		r, _, _ := newTestRunner(t, &fakeBackend{points: fresh, files: files, hashed: hashed}, "")
		rec, err := r.Run(context.Background(), "d")
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, rec.ManifestSHA256)
	}
	if digests[0] != digests[1] {
		t.Errorf("manifest digest differs: backend-hashed %s, host-hashed %s", digests[0], digests[1])
	}
}

func TestRunInterrupted(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now}}, block: true}
	r, _, _ := newTestRunner(t, b, "")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	rec, err := r.Run(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != record.VerdictInterrupted {
		t.Errorf("verdict = %s, want interrupted (%q)", rec.Verdict, rec.Reasons)
	}
	if ents, _ := os.ReadDir(r.ScratchRoot); len(ents) != 0 {
		t.Errorf("scratch left behind: %d entries", len(ents))
	}
}

func TestRunUnknownDrill(t *testing.T) {
	r, mem, _ := newTestRunner(t, &fakeBackend{}, "")
	if _, err := r.Run(context.Background(), "nope"); !errors.Is(err, ErrUnknownDrill) {
		t.Errorf("err = %v, want ErrUnknownDrill", err)
	}
	if len(mem.recs) != 0 {
		t.Errorf("an unknown drill was recorded")
	}
}

func containsReason(reasons []string, sub string) bool {
	for _, r := range reasons {
		if strings.Contains(r, sub) {
			return true
		}
	}
	return false
}

func TestRunPastRTOFails(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now}}, files: map[string]string{"a.txt": "a", "b": "b"}, hashed: true}
	r, _, _ := newTestRunner(t, b, "")
	r.Config.Services["svc"].RTO = time.Nanosecond
	rec, err := r.Run(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != record.VerdictFail || !containsReason(rec.Reasons, "check rto: restore and checks took") {
		t.Errorf("verdict %s, reasons %q; want fail on the RTO", rec.Verdict, rec.Reasons)
	}
}

// TestRunRecordsTimeBasis records what the backup's time is and names it
// in the RPO check, passing or failing.
func TestRunRecordsTimeBasis(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	files := map[string]string{"a.txt": "a", "b": "b"}
	tests := []struct {
		name       string
		point      plugins.RestorePoint
		wantBasis  string
		wantDetail string
	}{
		{"copy", plugins.RestorePoint{ID: "/b/copy", Time: now.Add(-time.Hour), TimeBasis: plugins.BasisNewestCtime}, "newest ctime",
			"the copy was last written 1h ago (newest ctime), RPO 1d"},
		{"stamp", plugins.RestorePoint{ID: "/b/copy", Time: now.Add(-time.Hour), TimeBasis: plugins.BasisStampMtime}, "stamp mtime",
			"backup was 1h old at drill start (stamp mtime), RPO 1d"},
		{"a plugin's own, escaped", plugins.RestorePoint{ID: "p", Time: now.Add(-time.Hour), TimeBasis: "tape\x1b[2J label"}, `tape\x1b[2J label`,
			`backup was 1h old at drill start (tape\x1b[2J label), RPO 1d`},
		{"unsaid", plugins.RestorePoint{ID: "p", Time: now.Add(-time.Hour)}, "restore point time",
			"backup was 1h old at drill start (restore point time), RPO 1d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{points: []plugins.RestorePoint{tt.point}, files: files, hashed: true}
			r, _, _ := newTestRunner(t, b, "")
			rec, err := r.Run(context.Background(), "d")
			if err != nil {
				t.Fatal(err)
			}
			if rec.Verdict != record.VerdictPass {
				t.Errorf("verdict %s, reasons %q; want pass", rec.Verdict, rec.Reasons)
			}
			if got := rec.Details["backup_time_basis"]; got != tt.wantBasis {
				t.Errorf("details.backup_time_basis %q, want %q", got, tt.wantBasis)
			}
			i := slices.IndexFunc(rec.Checks, func(c record.Check) bool { return c.Name == "rpo" })
			if i < 0 || rec.Checks[i].Detail != tt.wantDetail {
				t.Errorf("checks %+v, want rpo: %q", rec.Checks, tt.wantDetail)
			}
		})
	}
}

// The newest restore point an earlier drill saw must not silently vanish:
// the drill fails until a point at least as new is listed again.
func TestRunVanishedPoint(t *testing.T) {
	t.Run("listed first", func(t *testing.T) { testVanished(t, false) })
	// A backend that restores its newest point itself is listed only when
	// an earlier drill saw a newer point, and judged the same.
	t.Run("newest restored", func(t *testing.T) { testVanished(t, true) })
}

func testVanished(t *testing.T, restoresNewest bool) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	files := map[string]string{"a.txt": "alpha", "dir/b.txt": "bravo"}
	older := plugins.RestorePoint{ID: "older", Time: now.Add(-3 * time.Hour)}
	newest := plugins.RestorePoint{ID: "newest", Time: now.Add(-time.Hour)}
	b := &fakeBackend{points: []plugins.RestorePoint{newest, older}, files: files, hashed: true, newest: restoresNewest}
	r, mem, _ := newTestRunner(t, b, "")
	steps := []struct {
		points []plugins.RestorePoint
		want   record.Verdict
		reason string
		lists  int // ListRestorePoints calls of a backend that restores its newest
	}{
		{[]plugins.RestorePoint{newest, older}, "pass", "", 0},
		{[]plugins.RestorePoint{older}, "fail", "restore point newest of 2026-11-25T11:00:00Z has vanished from the backup (record 0 saw it; the newest now is older of 2026-11-25T09:00:00Z)", 1},
		{[]plugins.RestorePoint{older}, "fail", "restore point newest of 2026-11-25T11:00:00Z has vanished", 1},
		{nil, "fail", "restore point newest of 2026-11-25T11:00:00Z has vanished from the backup (record 0 saw it; none is listed now)", 1},
		{[]plugins.RestorePoint{{ID: "later", Time: now.Add(-time.Minute)}, older}, "pass", "", 0},
	}
	for i, s := range steps {
		b.points, b.lists = s.points, 0
		rec, err := r.Run(context.Background(), "d")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Verdict != s.want || s.reason != "" && !containsReason(rec.Reasons, s.reason) {
			t.Errorf("step %d: verdict %s, reasons %q; want %s with %q", i, rec.Verdict, rec.Reasons, s.want, s.reason)
		}
		// The vanished point fails a check of its own, restore_point, whose
		// detail says why; the rest of the drill is judged as ever.
		c := checkNamed(rec, "restore_point")
		if c == nil || c.OK != (s.reason == "") || s.reason != "" && !strings.Contains(c.Detail, s.reason) {
			t.Errorf("step %d: restore_point check %+v, want ok %v with %q", i, c, s.reason == "", s.reason)
		}
		if r := checkNamed(rec, "restore"); s.points != nil && (r == nil || !r.OK) {
			t.Errorf("step %d: restore check %+v, want a restore that held", i, r)
		}
		if want := 1; restoresNewest && b.lists != s.lists || !restoresNewest && b.lists != want {
			t.Errorf("step %d: %d listings, want %d", i, b.lists, map[bool]int{true: s.lists, false: want}[restoresNewest])
		}
	}
	if len(mem.recs) != len(steps) || mem.recs[0].SourceSHA256 == "" || mem.recs[0].SourceSHA256 != mem.recs[4].SourceSHA256 {
		t.Errorf("records do not carry one source digest")
	}
}

// checkNamed returns the record's check of that name, or nil.
func checkNamed(rec *record.Record, name string) *record.Check {
	i := slices.IndexFunc(rec.Checks, func(c record.Check) bool { return c.Name == name })
	if i < 0 {
		return nil
	}
	return &rec.Checks[i]
}

// Problems a backend reports about many files are grouped: one reason per
// kind and message, with the count and the first names; the whole list is
// kept in the record's details, and the restore check says the restore
// was incomplete instead of "restored and checksummed".
func TestRunGroupedProblems(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const pack = "restic: ReadFull(<data/2a4fbfb604>): open repo/data/2a/2a4f: no such file or directory"
	var probs []plugins.Problem
	var names []string
	for i := range 1007 {
		name := fmt.Sprintf("d/f%04d", i)
		names = append(names, strconv.Quote(name))
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemFail, Path: name, Message: pack})
	}
	probs = append(probs,
		plugins.Problem{Kind: plugins.ProblemFail, Path: "x/y", Message: "restic: lchown x/y: no such file or directory"},
		plugins.Problem{Kind: plugins.ProblemFail, Message: "restic restored 1726 of 1727 files and 10 of 20 bytes"},
		plugins.Problem{Kind: plugins.ProblemFail, Message: "restic: decrypting blob <data/21de6e4f> failed\x1b[2J"})
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now.Add(-time.Hour)}},
		files: map[string]string{"a.txt": "alpha", "b": "bravo"}, hashed: true, problems: probs}
	r, _, _ := newTestRunner(t, b, "")
	rec, err := r.Run(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`1,007 files: ` + pack + `: "d/f0000", "d/f0001", "d/f0002" and 1,004 more`,
		"restic: lchown x/y: no such file or directory", // names its path already
		"restic restored 1726 of 1727 files and 10 of 20 bytes",
		`restic: decrypting blob <data/21de6e4f> failed\x1b[2J`, // escaped, as every reason
	}
	if rec.Verdict != record.VerdictFail || !slices.Equal(rec.Reasons, want) {
		t.Errorf("verdict %s, reasons\n%q\nwant\n%q", rec.Verdict, rec.Reasons, want)
	}
	if got := rec.Details["restore_problem_paths"]; got != strings.Join(append(names, `"x/y"`), ", ") {
		t.Errorf("details.restore_problem_paths %.200q..., want every name reported", got)
	}
	c := checkNamed(rec, "restore")
	wantDetail := "restore incomplete: 1,010 problems reported by backend fake (1,007 files: " + pack + "; and 3 more kinds); 2 files, 10 B restored"
	if c == nil || c.OK || c.Detail != wantDetail {
		t.Errorf("restore check %+v\nwant detail %q", c, wantDetail)
	}
}

// A restore the backend stopped (scratch full) fails its restore check,
// as an error, and the check says it stopped.
func TestRunStoppedRestoreCheck(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now.Add(-time.Hour)}},
		files: map[string]string{"a.txt": "alpha"}, hashed: true,
		problems: []plugins.Problem{{Kind: plugins.ProblemError, Path: "big", Message: `restore stopped: writing "big" into the target: no space left on device`}}}
	r, _, _ := newTestRunner(t, b, "")
	rec, err := r.Run(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	c := checkNamed(rec, "restore")
	want := `restore stopped: 1 problem reported by backend fake (restore stopped: writing "big" into the target: no space left on device); 1 files, 5 B restored`
	if rec.Verdict != record.VerdictError || c == nil || c.OK || c.Detail != want {
		t.Errorf("verdict %s, restore check %+v; want error, detail %q", rec.Verdict, c, want)
	}
}

func TestRunListingProblemsFail(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now.Add(-time.Hour)}},
		files: map[string]string{"a.txt": "alpha", "b": "bravo"}, hashed: true,
		listProblems: []plugins.Problem{{Kind: plugins.ProblemFail, Message: "snapshot file 1234 cannot be read"}}}
	r, _, _ := newTestRunner(t, b, "")
	rec, err := r.Run(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != "fail" || !containsReason(rec.Reasons, "snapshot file 1234 cannot be read") || rec.Files != 2 {
		t.Errorf("verdict %s, files %d, reasons %q; want a fail naming the listing problem after a full restore", rec.Verdict, rec.Files, rec.Reasons)
	}
}

// fakeDB is a database backend: it restores tables, not files.
type fakeDB struct {
	fakeBackend
	tables []plugins.Table
	checks []plugins.Check
	got    *plugins.DatabaseChecks
}

func (f *fakeDB) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: "fake", Kind: plugins.KindDatabase, SourceKeys: []plugins.SourceKey{{Name: "where", Type: plugins.TypePath}}}, nil
}

func (f *fakeDB) Restore(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	f.got = req.DatabaseChecks
	if err := ev.Scratch("drill_d_0123456789ab"); err != nil {
		return nil, err
	}
	return &plugins.RestoreResponse{Point: f.points[0], Files: int64(len(f.tables)), Bytes: 4096, Tables: f.tables, Checks: f.checks}, nil
}

type dbLauncher struct{ b *fakeDB }

func (l dbLauncher) Launch(context.Context, string) (Backend, error) { return l.b, nil }

func TestRunDatabase(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tables := []plugins.Table{{Name: "public.invoices", Rows: 1523, Fingerprint: "9e107d9d372bb6826bd81d3542a419d6"}, {Name: "public.big", Rows: 10}}
	const dbConfig = `
  db:
    service: svc
    backend: fake
    source: {where: /x}
    checks: {tables: [invoices], min_rows: {invoices: 1000}, sql: [{name: open, query: "select 1", expect: ">= 1"}]}
`
	run := func(t *testing.T, b *fakeDB) *record.Record {
		t.Helper()
		b.points = []plugins.RestorePoint{{ID: "billing.dump", Time: now.Add(-time.Hour)}}
		r, _, _ := newTestRunner(t, nil, dbConfig)
		r.Launcher = dbLauncher{b}
		rec, err := r.Run(context.Background(), "db")
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	ok := run(t, &fakeDB{tables: tables, checks: []plugins.Check{{Name: "tables", OK: true, Detail: "1 table present"}}})
	if ok.Verdict != "pass" || len(ok.Tables) != 2 || ok.Files != 2 || len(ok.ManifestSHA256) != 64 {
		t.Fatalf("intact database: %s %q tables %+v", ok.Verdict, ok.Reasons, ok.Tables)
	}
	if i := slices.IndexFunc(ok.Checks, func(c record.Check) bool { return c.Name == "restore" }); i < 0 || ok.Checks[i].Detail != "2 tables, 1533 rows restored and fingerprinted" {
		t.Errorf("checks %+v, want restore: 2 tables, 1533 rows restored and fingerprinted", ok.Checks)
	}
	again := run(t, &fakeDB{tables: []plugins.Table{tables[1], tables[0]}})
	if again.ManifestSHA256 != ok.ManifestSHA256 {
		t.Errorf("the same tables in another order give another digest")
	}
	changed := run(t, &fakeDB{tables: []plugins.Table{tables[0], {Name: "public.big", Rows: 11}}})
	if changed.ManifestSHA256 == ok.ManifestSHA256 {
		t.Errorf("a changed row count gives the same digest")
	}
	b := &fakeDB{tables: tables, checks: []plugins.Check{{Name: "min_rows", OK: false, Detail: "invoices: 12 rows, at least 1000 expected"}}}
	bad := run(t, b)
	if bad.Verdict != "fail" || !containsReason(bad.Reasons, "check min_rows: invoices: 12 rows") {
		t.Errorf("failed check: %s %q", bad.Verdict, bad.Reasons)
	}
	if b.got == nil || len(b.got.Tables) != 1 || b.got.MinRows["invoices"] != 1000 || len(b.got.SQL) != 1 || b.got.SQL[0].Name != "open" {
		t.Errorf("checks passed to the backend: %+v", b.got)
	}
	if empty := run(t, &fakeDB{}); empty.Verdict != "fail" || !containsReason(empty.Reasons, "holds no tables") {
		t.Errorf("no tables: %s %q", empty.Verdict, empty.Reasons)
	}
}

type memKeeper struct{ m map[string]evidence.Scratch }

func (k *memKeeper) NoteScratch(sc evidence.Scratch) error { k.m[sc.Name] = sc; return nil }
func (k *memKeeper) ScratchDone(_, name string) error      { delete(k.m, name); return nil }
func (k *memKeeper) ScratchLeft() ([]evidence.Scratch, error) {
	var out []evidence.Scratch
	for _, sc := range k.m {
		out = append(out, sc)
	}
	return out, nil
}

// A scratch database is recorded before it is created and forgotten once
// Cleanup confirms its removal; those left by a crash are removed by the
// next run, however young (the store's lock rules out a live drill).
func TestScratchRecordedAndSwept(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeDB{tables: []plugins.Table{{Name: "public.t", Rows: 1}}}
	b.points = []plugins.RestorePoint{{ID: "x.dump", Time: now.Add(-time.Hour)}}
	r, _, _ := newTestRunner(t, nil, `
  db:
    service: svc
    backend: fake
    timeout: 1h
    source: {where: /x}
`)
	r.Launcher = dbLauncher{b}
	k := &memKeeper{m: map[string]evidence.Scratch{}}
	r.Scratch = k
	if _, err := r.Run(context.Background(), "db"); err != nil {
		t.Fatal(err)
	}
	if len(k.m) != 0 {
		t.Fatalf("a cleaned-up scratch database is still recorded: %+v", k.m)
	}
	// A crash: the record stays.
	k.m["drill_db_0123456789ab"] = evidence.Scratch{Name: "drill_db_0123456789ab", Drill: "db", Backend: "fake",
		Source: []byte(`{"where":"/x","n":3,"l":["a"]}`), Created: now.Add(-90 * time.Minute)}
	k.m["drill_db_000000000000"] = evidence.Scratch{Name: "drill_db_000000000000", Drill: "db", Backend: "fake",
		Source: []byte(`{"where":"/x"}`), Created: now.Add(-30 * time.Minute)}
	removed, err := r.SweepScratch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(removed)
	if want := []string{"drill_db_000000000000", "drill_db_0123456789ab"}; !slices.Equal(removed, want) || len(b.swept) != 2 {
		t.Errorf("swept %q (backend asked for %q), want %q", removed, b.swept, want)
	}
	if len(k.m) != 0 {
		t.Errorf("records left: %+v", k.m)
	}
}

// restore_point.random_within restores a point chosen at random among the
// recent ones, and still judges the RPO on the newest.
func TestRandomRestorePoint(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var points []plugins.RestorePoint
	for i, age := range []time.Duration{1, 30, 50, 80, 200} { // hours
		points = append(points, plugins.RestorePoint{ID: fmt.Sprintf("p%d", i), Time: now.Add(-age * time.Hour)})
	}
	files := map[string]string{"a.txt": "alpha", "b.txt": "bravo"}
	for pick, want := range map[int]string{0: "p3", 3: "p0"} {
		// A backend that could restore its newest itself is still asked
		// for the point chosen.
		b := &fakeBackend{points: points, files: files, hashed: true, newest: true}
		r, _, _ := newTestRunner(t, b, "    restore_point: {random_within: 4d}\n")
		r.Rand = func(n int) int {
			if n != 4 {
				t.Errorf("chose among %d points, want the 4 younger than 4d", n)
			}
			return pick
		}
		rec, err := r.Run(context.Background(), "d")
		if err != nil {
			t.Fatal(err)
		}
		if rec.Verdict != record.VerdictPass || rec.RestorePoint.ID != want || len(b.restored) != 1 || b.restored[0] != want {
			t.Errorf("pick %d: %s of %s (restored %v), want a pass of %s; reasons %q", pick, rec.Verdict, rec.RestorePoint.ID, b.restored, want, rec.Reasons)
		}
		if rec.BackupAgeSeconds != 3600 {
			t.Errorf("backup age %v, want the newest point's (1h)", rec.BackupAgeSeconds)
		}
		if c := rec.Details["restore_point_choice"]; !strings.Contains(c, "random within 4d: "+want+", one of 4 points") {
			t.Errorf("details %q", c)
		}
	}
}

// A restore point that cannot fit, by max_scratch_bytes or by the scratch
// filesystem's free space, ends the drill in error before anything is
// restored.
func TestPreflight(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	files := map[string]string{"a.txt": "alpha", "dir/b.txt": "bravo"}
	for _, tt := range []struct {
		name, extra string
		size        int64
		want        string
	}{
		{"fits", "max_scratch_bytes: 1MiB\n", 10, ""},
		{"unknown size", "max_scratch_bytes: 1MiB\n", -1, ""},
		{"past max_scratch_bytes", "max_scratch_bytes: 1MiB\n", 2 << 20, "restore point p1 is 2.0 MiB, more than max_scratch_bytes (1.0 MiB): nothing was restored"},
		{"past the free space", "", 1 << 60, "but the scratch filesystem at "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p1", Time: now.Add(-time.Hour), Size: tt.size}}, files: files, hashed: true}
			r, _, _ := newTestRunner(t, b, tt.extra)
			got, err := r.Run(context.Background(), "d")
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if got.Verdict != "pass" {
					t.Errorf("verdict %s %q, want pass", got.Verdict, got.Reasons)
				}
				return
			}
			if got.Verdict != "error" || !containsReason(got.Reasons, tt.want) || len(b.restored) != 0 {
				t.Errorf("verdict %s %q after %d restores; want error before any restore, a reason with %q", got.Verdict, got.Reasons, len(b.restored), tt.want)
			}
			if ents, _ := os.ReadDir(r.ScratchRoot); len(ents) != 0 {
				t.Errorf("scratch left behind: %d entries", len(ents))
			}
		})
	}
}

// every calls report every interval until ctx ends or report returns
// false, and returns ctx's error if it ended.
func every(ctx context.Context, interval time.Duration, report func(i int) bool) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; report(i); i++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// A restore whose progress stands still for stall_timeout is stopped with
// an error long before the drill's timeout; one that moves slowly is not,
// and progress that repeats the same numbers is standing still.
func TestRunStall(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const reason = "backend fake made no progress for 300ms (stall_timeout): the restore was stopped"
	type before = func(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) error
	tests := []struct {
		name   string
		stall  time.Duration
		before before
		block  bool
		want   record.Verdict
		reason string // a substring of a reason
	}{
		{
			name: "hangs after one progress event", stall: 300 * time.Millisecond,
			before: func(_ context.Context, _ *plugins.RestoreRequest, ev plugins.RestoreEvents) error {
				return ev.Progress(plugins.Progress{FilesDone: 1, FilesTotal: 10, BytesDone: 2048, BytesTotal: 10240})
			},
			block: true, want: "error", reason: reason + " at 1 files and 2.0 KiB",
		},
		{
			name: "hangs without a word", stall: 300 * time.Millisecond,
			block: true, want: "error", reason: reason + " before it reported any progress",
		},
		{
			name: "repeats the same numbers", stall: 300 * time.Millisecond,
			before: func(ctx context.Context, _ *plugins.RestoreRequest, ev plugins.RestoreEvents) error {
				return every(ctx, 50*time.Millisecond, func(int) bool {
					_ = ev.Progress(plugins.Progress{FilesDone: 3, FilesTotal: 10, BytesDone: 300, BytesTotal: 1000})
					return true
				})
			},
			want: "error", reason: reason + " at 3 files and 300 B",
		},
		{
			name: "slow bytes, for over twice stall_timeout", stall: 500 * time.Millisecond,
			before: func(ctx context.Context, _ *plugins.RestoreRequest, ev plugins.RestoreEvents) error {
				return every(ctx, 100*time.Millisecond, func(i int) bool {
					_ = ev.Progress(plugins.Progress{FilesTotal: -1, BytesDone: int64(i), BytesTotal: -1})
					return i < 12
				})
			},
			want: "pass",
		},
		{
			name: "slow files, without progress numbers", stall: 500 * time.Millisecond,
			before: func(ctx context.Context, req *plugins.RestoreRequest, ev plugins.RestoreEvents) error {
				return every(ctx, 100*time.Millisecond, func(i int) bool {
					name := fmt.Sprintf("slow-%d", i)
					if err := os.WriteFile(filepath.Join(req.Target, name), nil, 0o600); err != nil {
						t.Error(err)
					}
					_ = ev.Files([]plugins.File{{Path: name}})
					_ = ev.Progress(plugins.Progress{FilesTotal: -1, BytesTotal: -1})
					return i < 12
				})
			},
			want: "pass",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now.Add(-time.Hour)}},
				files: map[string]string{"a.txt": "alpha", "b.txt": "bravo"}, hashed: true, before: tt.before, block: tt.block}
			r, mem, _ := newTestRunner(t, b, "")
			d := r.Config.Drills["d"]
			d.Timeout, d.StallTimeout = 20*time.Second, tt.stall
			start := time.Now()
			rec, err := r.Run(context.Background(), "d")
			if err != nil {
				t.Fatal(err)
			}
			took := time.Since(start)
			if rec.Verdict != tt.want || tt.reason != "" && !containsReason(rec.Reasons, tt.reason) {
				t.Errorf("verdict %s, reasons %q; want %s with %q", rec.Verdict, rec.Reasons, tt.want, tt.reason)
			}
			if tt.want == "error" && (took < tt.stall || took > 10*time.Second) {
				t.Errorf("a stalled restore ended after %s, want a little over stall_timeout (%s) and well under the timeout (%s)", took, tt.stall, d.Timeout)
			}
			if len(mem.recs) != 1 || b.cleanups != 1 {
				t.Errorf("%d records, %d cleanups; want 1 each", len(mem.recs), b.cleanups)
			}
			if ents, _ := os.ReadDir(r.ScratchRoot); len(ents) != 0 {
				t.Errorf("scratch left behind: %d entries", len(ents))
			}
		})
	}
}

// stall_timeout 0 turns the stall detector off: only the drill's timeout
// ends a restore that stands still, as before.
func TestRunStallOff(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now}}, block: true, progress: true}
	r, _, _ := newTestRunner(t, b, "")
	d := r.Config.Drills["d"]
	d.Timeout, d.StallTimeout = time.Second, 0
	rec, err := r.Run(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != "fail" || !containsReason(rec.Reasons, "did not finish within its timeout of 1s (during restore)") {
		t.Errorf("verdict %s, reasons %q; want a fail on the drill's timeout", rec.Verdict, rec.Reasons)
	}
}

// What a stopped restore left behind unreported (a decompression bomb's
// first gigabytes, say) is not hashed and not counted as restored.
func TestStoppedRestoreLeavesPiecesUnhashed(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p1", Time: now.Add(-time.Hour)}},
		files: map[string]string{"a.txt": "alpha", "bomb": "partial"}, hashed: true, unreported: "bomb",
		problems: []plugins.Problem{{Kind: plugins.ProblemError, Message: "restore would exceed max_scratch_bytes (10 bytes)"}}}
	r, _, _ := newTestRunner(t, b, "")
	rec, err := r.Run(context.Background(), "d")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Verdict != record.VerdictError || rec.Files != 1 || rec.Bytes != 5 {
		t.Errorf("verdict %s, %d files, %d bytes (reasons %q); want error, 1 file, 5 bytes", rec.Verdict, rec.Files, rec.Bytes, rec.Reasons)
	}
}

// A backend that restores its newest point itself is asked to, with no
// listing first, and the record names that point; one that answers
// ListFirst is listed and restored by ID, and nothing of its first
// attempt (a file written and reported) counts.
func TestRunNewest(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	points := []plugins.RestorePoint{{ID: "older", Time: now.Add(-3 * time.Hour)}, {ID: "newest", Time: now.Add(-time.Hour), Description: "the newest"}}
	files := map[string]string{"a.txt": "alpha", "dir/b.txt": "bravo"}
	for _, listFirst := range []bool{false, true} {
		b := &fakeBackend{points: points, files: files, hashed: true, newest: true, listFirst: listFirst}
		r, _, _ := newTestRunner(t, b, "")
		rec, err := r.Run(context.Background(), "d")
		if err != nil {
			t.Fatal(err)
		}
		lists, detail := 0, "newest of 2026-11-25T11:00:00Z restored, the newest in the backup"
		if listFirst {
			lists, detail = 1, "newest of 2026-11-25T11:00:00Z restored, of 2 listed"
		}
		c := checkNamed(rec, "restore_point")
		if rec.Verdict != record.VerdictPass || rec.RestorePoint.ID != "newest" || rec.RestorePoint.Description != "the newest" ||
			rec.BackupAgeSeconds != 3600 || rec.Files != 2 || b.lists != lists || c == nil || c.Detail != detail {
			t.Errorf("list first %v: verdict %s %q, point %+v, age %v, %d files, %d listings, restore_point %+v; want a pass of newest (1h old), 2 files, %d listings, %q",
				listFirst, rec.Verdict, rec.Reasons, rec.RestorePoint, rec.BackupAgeSeconds, rec.Files, b.lists, c, lists, detail)
		}
		if !slices.Equal(b.restored, []string{"newest"}) || b.cleanups != 1 {
			t.Errorf("list first %v: restored %q with %d cleanups, want newest once and one cleanup", listFirst, b.restored, b.cleanups)
		}
	}
}

// A backend asked for its newest point first finds it, quietly, as a
// drill that lists first does before its restore: the stall watch starts
// at its first event, so a quiet start longer than stall_timeout is no
// stall, while the same quiet start of a restore by ID is.
func TestRunStallFromFirstEvent(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, newest := range []bool{true, false} {
		b := &fakeBackend{points: []plugins.RestorePoint{{ID: "p", Time: now}}, files: map[string]string{"a.txt": "alpha", "b.txt": "bravo"}, hashed: true, newest: newest,
			before: func(ctx context.Context, _ *plugins.RestoreRequest, _ plugins.RestoreEvents) error {
				select {
				case <-time.After(600 * time.Millisecond):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			}}
		r, _, _ := newTestRunner(t, b, "")
		r.Config.Drills["d"].StallTimeout = 200 * time.Millisecond
		rec, err := r.Run(context.Background(), "d")
		if err != nil {
			t.Fatal(err)
		}
		stalled := containsReason(rec.Reasons, "made no progress for")
		if stalled == newest || (rec.Verdict == record.VerdictPass) != newest {
			t.Errorf("newest %v: verdict %s, reasons %q; want a stall only for the restore by ID", newest, rec.Verdict, rec.Reasons)
		}
	}
}
