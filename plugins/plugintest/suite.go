package plugintest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// Suite is the conformance suite of a backend. Fill it in and call Run.
type Suite struct {
	// Launch returns the backend under test over a real gRPC connection:
	// plugins.Launch of the real executable (closed in t.Cleanup), or
	// GRPCBackend for an in-process implementation. It is called once per
	// subtest, with the subtest's t.
	Launch func(t *testing.T) plugins.Backend
	// Good is a source whose newest restore point restores cleanly.
	// Required.
	Good plugins.Source
	// Empty is a valid source without restore points; nil skips its test.
	Empty plugins.Source
	// Damaged is a source whose newest restore point is damaged: restoring
	// it must report a ProblemFail (not return an error). Nil skips its
	// test.
	Damaged plugins.Source
	// WantFiles is the number of regular files restoring Good must give;
	// zero or negative does not check the number.
	WantFiles int64
	// Confine has each subtest's backend confine itself to the source it
	// uses and a fresh scratch directory (plugins.Client.Confine) before
	// it is used, as drill does; targets are made in that directory.
	// Launch must then start a plugin process (see Process).
	Confine bool
}

// unknownKey is the source key the suite adds to Good to see it refused.
const unknownKey = "drill_conformance_unknown_key"

// drillName is the DrillName of the suite's requests.
const drillName = "conformance"

// cancelDeadline bounds how long a Restore under an already-cancelled
// context may take to return.
const cancelDeadline = 5 * time.Second

// Run runs the suite as subtests of t.
func (s Suite) Run(t *testing.T) {
	t.Helper()
	if s.Launch == nil || s.Good == nil {
		t.Fatal("plugintest.Suite needs Launch and Good")
	}
	for _, sub := range []struct {
		name string
		test func(*testing.T)
		skip bool
	}{
		{"Describe", s.testDescribe, false},
		{"ValidateSource/Good", s.testValidateGood, false},
		{"ValidateSource/UnknownKey", s.testValidateUnknownKey, false},
		{"ListRestorePoints/Good", s.testListGood, false},
		{"ListRestorePoints/Empty", s.testListEmpty, s.Empty == nil},
		{"Restore/Good", s.testRestoreGood, false},
		{"Restore/Sample", s.testRestoreSample, false},
		{"Restore/MissingPoint", s.testRestoreMissingPoint, false},
		{"Restore/Cancelled", s.testRestoreCancelled, false},
		{"Restore/Damaged", s.testRestoreDamaged, s.Damaged == nil},
		{"Cleanup/Idempotent", s.testCleanupIdempotent, false},
	} {
		if !sub.skip {
			t.Run(sub.name, sub.test)
		}
	}
}

func (s Suite) testDescribe(t *testing.T) {
	b, _ := s.start(t, s.Good)
	d, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	if d.Name == "" {
		t.Error("Describe: empty Name")
	}
	if d.Kind != plugins.KindFiles && d.Kind != plugins.KindDatabase {
		t.Errorf("Describe: Kind %q, want %q or %q", d.Kind, plugins.KindFiles, plugins.KindDatabase)
	}
	if len(d.SourceKeys) == 0 {
		t.Error("Describe: no SourceKeys")
	}
	known := []plugins.KeyType{plugins.TypeString, plugins.TypePath, plugins.TypeGlob, plugins.TypeStrings,
		plugins.TypeBool, plugins.TypeInt, plugins.TypeSize, plugins.TypeDuration}
	seen := map[string]bool{}
	for _, k := range d.SourceKeys {
		if k.Name == "" {
			t.Errorf("Describe: a source key has no name: %+v", k)
		}
		if seen[k.Name] {
			t.Errorf("Describe: source key %q is listed twice", k.Name)
		}
		seen[k.Name] = true
		if !slices.Contains(known, k.Type) {
			t.Errorf("Describe: source key %q has type %q, want one of %v", k.Name, k.Type, known)
		}
		if k.Required {
			if _, ok := s.Good[k.Name]; !ok {
				t.Errorf("Describe: source key %q is required but Suite.Good does not set it", k.Name)
			}
		}
	}
	for k := range s.Good {
		if !seen[k] {
			t.Errorf("Suite.Good sets key %q, which Describe does not list", k)
		}
	}
}

func (s Suite) testValidateGood(t *testing.T) {
	b, _ := s.start(t, s.Good)
	resp, err := b.ValidateSource(t.Context(), &plugins.ValidateSourceRequest{Source: s.Good})
	if err != nil {
		t.Fatalf("ValidateSource(Good): %v", err)
	}
	if len(resp.Problems) > 0 {
		t.Errorf("ValidateSource(Good): problems %+v, want none", resp.Problems)
	}
}

func (s Suite) testValidateUnknownKey(t *testing.T) {
	b, _ := s.start(t, s.Good)
	src := maps.Clone(s.Good)
	src[unknownKey] = "x"
	resp, err := b.ValidateSource(t.Context(), &plugins.ValidateSourceRequest{Source: src})
	if err != nil {
		t.Fatalf("ValidateSource(Good + %s): %v", unknownKey, err)
	}
	for _, p := range resp.Problems {
		if p.Key == unknownKey || strings.Contains(p.Message, unknownKey) {
			return
		}
	}
	t.Errorf("ValidateSource(Good + %s): problems %+v, want one naming the unknown key", unknownKey, resp.Problems)
}

// newest lists the points of src and returns them, failing the test when
// there are none.
func newest(t *testing.T, b plugins.Backend, src plugins.Source) plugins.RestorePoint {
	t.Helper()
	resp, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatalf("ListRestorePoints: %v", err)
	}
	if len(resp.Points) == 0 {
		t.Fatal("ListRestorePoints: no restore points")
	}
	return resp.Points[0]
}

func (s Suite) testListGood(t *testing.T) {
	b, _ := s.start(t, s.Good)
	resp, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: s.Good})
	if err != nil {
		t.Fatalf("ListRestorePoints(Good): %v", err)
	}
	if len(resp.Points) == 0 {
		t.Fatal("ListRestorePoints(Good): no restore points")
	}
	if len(resp.Problems) > 0 {
		t.Errorf("ListRestorePoints(Good): problems %+v, want none for an intact backup", resp.Problems)
	}
	ids := map[string]bool{}
	for i, p := range resp.Points {
		if p.ID == "" {
			t.Errorf("point %d: empty ID", i)
		}
		if ids[p.ID] {
			t.Errorf("point %d: ID %q listed twice", i, p.ID)
		}
		ids[p.ID] = true
		if p.Time.IsZero() {
			t.Errorf("point %d (%q): zero Time", i, p.ID)
		}
		if i > 0 && p.Time.After(resp.Points[i-1].Time) {
			t.Errorf("points not newest first: point %d (%q, %s) is newer than point %d (%q, %s)",
				i, p.ID, p.Time, i-1, resp.Points[i-1].ID, resp.Points[i-1].Time)
		}
	}
}

func (s Suite) testListEmpty(t *testing.T) {
	b, _ := s.start(t, s.Empty)
	resp, err := b.ListRestorePoints(t.Context(), &plugins.ListRestorePointsRequest{Source: s.Empty})
	if err != nil {
		t.Fatalf("ListRestorePoints(Empty): %v (no restore points is not an error)", err)
	}
	if len(resp.Points) != 0 {
		t.Errorf("ListRestorePoints(Empty): %d points, want none", len(resp.Points))
	}
}

// start launches the backend for a subtest that uses src and returns it
// with the scratch directory its targets go in. With Confine the backend
// is first confined to src and that scratch directory, as drill does
// before it lists or restores.
func (s Suite) start(t *testing.T, src plugins.Source) (plugins.Backend, string) {
	t.Helper()
	b := s.Launch(t)
	scratch := t.TempDir()
	if !s.Confine {
		return b, scratch
	}
	c, ok := b.(interface {
		Confine(context.Context, *plugins.ConfineRequest) (*plugins.ConfineResponse, error)
	})
	if !ok {
		t.Fatalf("Suite.Confine is set but Launch returned %T, not a plugin process (see Process)", b)
	}
	temp := filepath.Join(scratch, "tmp")
	if err := os.Mkdir(temp, 0o700); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Confine(t.Context(), &plugins.ConfineRequest{Source: src, Scratch: scratch, Temp: temp})
	if err != nil {
		t.Fatalf("Confine: %v", err)
	}
	if _, why := sandboxABI(); why == "" && !resp.Confined() {
		t.Fatalf("Confine: %s; want the plugin confined (this kernel has Landlock)", resp.Summary)
	}
	return b, scratch
}

// newTarget creates an empty target directory inside its own parent in
// scratch and returns both.
func newTarget(t *testing.T, scratch string) (parent, target string) {
	t.Helper()
	parent, err := os.MkdirTemp(scratch, "run-")
	if err != nil {
		t.Fatal(err)
	}
	target = filepath.Join(parent, "target")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	return parent, target
}

func cleanup(t *testing.T, b plugins.Backend, src plugins.Source, target string) {
	t.Helper()
	if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: src, Target: target, DrillName: drillName}); err != nil {
		t.Errorf("Cleanup: %v", err)
	}
}

func problemsOf(ps []plugins.Problem, kinds ...plugins.ProblemKind) []plugins.Problem {
	var out []plugins.Problem
	for _, p := range ps {
		if slices.Contains(kinds, p.Kind) {
			out = append(out, p)
		}
	}
	return out
}

// onDisk is a regular file found under the target.
type onDisk struct {
	size int64
	sum  [sha256.Size]byte
}

// walkTarget returns every regular file below target by slash-separated
// relative path, with its size and SHA-256, using Lstat (symlinks are not
// followed).
func walkTarget(t *testing.T, target string) map[string]onDisk {
	t.Helper()
	files := map[string]onDisk{}
	err := filepath.WalkDir(target, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(target, p)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		var sum [sha256.Size]byte
		h.Sum(sum[:0])
		files[filepath.ToSlash(rel)] = onDisk{size: fi.Size(), sum: sum}
		return nil
	})
	if err != nil {
		t.Fatalf("walk target: %v", err)
	}
	return files
}

// database reports whether the backend restores databases.
func (s Suite) database(t *testing.T, b plugins.Backend) bool {
	t.Helper()
	d, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil {
		t.Fatalf("Describe: %v", err)
	}
	return d.Kind == plugins.KindDatabase
}

// checkDatabaseRestore checks a database backend's restore: the scratch
// database was announced before use, every table is named, counted and
// (unless only counted) fingerprinted, Files counts the tables, and the
// target stays empty. WantFiles, when positive, is the number of tables.
func checkDatabaseRestore(t *testing.T, resp *plugins.RestoreResponse, rec *Recorder, target string, want int64) {
	t.Helper()
	if len(rec.Events().Scratch) == 0 {
		t.Error("Restore(Good): no scratch database was announced with RestoreEvents.Scratch")
	}
	if len(resp.Tables) == 0 {
		t.Fatal("Restore(Good): no tables in the response")
	}
	if resp.Files != int64(len(resp.Tables)) {
		t.Errorf("Restore(Good): Files = %d, want the %d tables", resp.Files, len(resp.Tables))
	}
	if want > 0 && int64(len(resp.Tables)) != want {
		t.Errorf("Restore(Good): %d tables, want %d", len(resp.Tables), want)
	}
	seen := map[string]bool{}
	for _, tb := range resp.Tables {
		if tb.Name == "" || seen[tb.Name] || tb.Rows < 0 {
			t.Errorf("Restore(Good): table %+v is unnamed, repeated or has a negative row count", tb)
		}
		seen[tb.Name] = true
	}
	if ents, _ := os.ReadDir(target); len(ents) > 0 {
		t.Errorf("Restore(Good): a database backend wrote %d entries into the target", len(ents))
	}
}

func (s Suite) testRestoreGood(t *testing.T) {
	b, scratch := s.start(t, s.Good)
	point := newest(t, b, s.Good)
	parent, target := newTarget(t, scratch)
	rec := &Recorder{}
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{
		Source: s.Good, PointID: point.ID, Target: target, DrillName: drillName,
	}, rec)
	defer cleanup(t, b, s.Good, target)
	defer cleanup(t, b, s.Good, target) // twice: Cleanup is idempotent
	if err != nil {
		t.Fatalf("Restore(Good, %q): %v", point.ID, err)
	}
	if ps := problemsOf(resp.Problems, plugins.ProblemFail, plugins.ProblemError); len(ps) > 0 {
		t.Errorf("Restore(Good): problems %+v, want none", ps)
	}
	for _, c := range resp.Checks {
		if !c.OK {
			t.Errorf("Restore(Good): check %q did not pass: %s", c.Name, c.Detail)
		}
	}
	if resp.Point.ID != point.ID {
		t.Errorf("Restore(Good): response Point.ID %q, want the requested %q", resp.Point.ID, point.ID)
	}

	if s.database(t, b) {
		checkDatabaseRestore(t, resp, rec, target, s.WantFiles)
		return
	}

	// Nothing outside the target.
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "target" {
			t.Errorf("Restore wrote %q next to the target, outside it", e.Name())
		}
	}

	disk := walkTarget(t, target)
	var diskBytes int64
	for _, f := range disk {
		diskBytes += f.size
	}
	if resp.Files != int64(len(disk)) || resp.Bytes != diskBytes {
		t.Errorf("Restore: response says %d files, %d bytes; the target holds %d regular files, %d bytes",
			resp.Files, resp.Bytes, len(disk), diskBytes)
	}
	if s.WantFiles > 0 && int64(len(disk)) != s.WantFiles {
		t.Errorf("Restore: %d regular files in the target, want %d", len(disk), s.WantFiles)
	}

	checkReported(t, rec.Events().Files, disk)

	progress := rec.Events().Progress
	for i := 1; i < len(progress); i++ {
		prev, cur := progress[i-1], progress[i]
		if cur.BytesDone < prev.BytesDone || cur.FilesDone < prev.FilesDone {
			t.Errorf("progress went backwards: %+v after %+v", cur, prev)
		}
	}
}

// checkReported compares the files a restore reported with the regular
// files in its target: each reported once, with its size and digest, and
// none left out.
func checkReported(t *testing.T, files []plugins.File, disk map[string]onDisk) {
	t.Helper()
	reported := map[string]bool{}
	for _, f := range files {
		if reported[f.Path] {
			t.Errorf("file %q reported more than once", f.Path)
			continue
		}
		reported[f.Path] = true
		d, ok := disk[f.Path]
		if !ok {
			t.Errorf("file %q was reported but is not a regular file under the target", f.Path)
			continue
		}
		if f.Size != d.size {
			t.Errorf("file %q reported with size %d, has %d bytes", f.Path, f.Size, d.size)
		}
		if f.SHA256 != nil && !bytes.Equal(f.SHA256, d.sum[:]) {
			t.Errorf("file %q reported with sha256 %x, has %x", f.Path, f.SHA256, d.sum)
		}
	}
	for p := range disk {
		if !reported[p] {
			t.Errorf("file %q is in the target but was never reported", p)
		}
	}
}

func (s Suite) testRestoreMissingPoint(t *testing.T) {
	b, scratch := s.start(t, s.Good)
	point := newest(t, b, s.Good)
	_, target := newTarget(t, scratch)
	missing := point.ID + "-drill-conformance-missing"
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{
		Source: s.Good, PointID: missing, Target: target, DrillName: drillName,
	}, &Recorder{})
	defer cleanup(t, b, s.Good, target)
	if err != nil {
		return
	}
	if len(problemsOf(resp.Problems, plugins.ProblemFail, plugins.ProblemError)) == 0 {
		t.Errorf("Restore of missing point %q passed cleanly (%d files); want an error or a problem", missing, resp.Files)
	}
}

func (s Suite) testRestoreCancelled(t *testing.T) {
	b, scratch := s.start(t, s.Good)
	point := newest(t, b, s.Good)
	_, target := newTarget(t, scratch)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	start := time.Now()
	_, err := b.Restore(ctx, &plugins.RestoreRequest{
		Source: s.Good, PointID: point.ID, Target: target, DrillName: drillName,
	}, &Recorder{})
	took := time.Since(start)
	defer cleanup(t, b, s.Good, target)
	if err == nil {
		t.Fatal("Restore with a cancelled context returned no error")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Restore with a cancelled context: %v, want an error wrapping context.Canceled", err)
	}
	if took > cancelDeadline {
		t.Errorf("Restore with a cancelled context took %s, want under %s", took, cancelDeadline)
	}
}

func (s Suite) testRestoreDamaged(t *testing.T) {
	b, scratch := s.start(t, s.Damaged)
	point := newest(t, b, s.Damaged)
	_, target := newTarget(t, scratch)
	resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{
		Source: s.Damaged, PointID: point.ID, Target: target, DrillName: drillName,
	}, &Recorder{})
	defer cleanup(t, b, s.Damaged, target)
	if err != nil {
		t.Fatalf("Restore(Damaged): %v; damage in the backup must be a ProblemFail in the response, not an error", err)
	}
	if len(problemsOf(resp.Problems, plugins.ProblemFail)) == 0 {
		t.Errorf("Restore(Damaged): problems %+v, want a ProblemFail", resp.Problems)
	}
}

func (s Suite) testCleanupIdempotent(t *testing.T) {
	b, scratch := s.start(t, s.Good)
	_, target := newTarget(t, scratch)
	for i := range 2 {
		if _, err := b.Cleanup(t.Context(), &plugins.CleanupRequest{Source: s.Good, Target: target, DrillName: drillName}); err != nil {
			t.Errorf("Cleanup call %d: %v", i+1, err)
		}
	}
}

// testRestoreSample checks, for a backend that declares Sampling, that
// the slices of a sample partition the restore point: each restores its
// files as a full restore does, no file is in two slices, all slices
// together restore everything, and every slice reports the totals.
func (s Suite) testRestoreSample(t *testing.T) {
	b, scratch := s.start(t, s.Good)
	desc, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !desc.Sampling {
		t.Skip("the backend does not restore samples")
	}
	point := newest(t, b, s.Good)
	restore := func(sample *plugins.Sample) (*plugins.RestoreResponse, map[string]onDisk) {
		_, target := newTarget(t, scratch)
		defer cleanup(t, b, s.Good, target)
		resp, err := b.Restore(t.Context(), &plugins.RestoreRequest{
			Source: s.Good, PointID: point.ID, Target: target, DrillName: drillName, Sample: sample,
		}, &Recorder{})
		if err != nil {
			t.Fatalf("Restore(Good, %v): %v", sample, err)
		}
		if ps := problemsOf(resp.Problems, plugins.ProblemFail, plugins.ProblemError); len(ps) > 0 {
			t.Errorf("Restore(Good, %v): problems %+v, want none", sample, ps)
		}
		for _, c := range resp.Checks {
			if !c.OK {
				t.Errorf("Restore(Good, %v): check %q did not pass: %s", sample, c.Name, c.Detail)
			}
		}
		return resp, walkTarget(t, target)
	}
	_, full := restore(nil)
	var fullBytes int64
	for _, f := range full {
		fullBytes += f.size
	}
	const slices = 3
	union := map[string]bool{}
	for i := range slices {
		sample := &plugins.Sample{Seed: "conformance", Slice: i, Slices: slices}
		resp, got := restore(sample)
		if resp.TotalFiles != int64(len(full)) || resp.TotalBytes != fullBytes {
			t.Errorf("Restore(%v): totals %d files, %d bytes; a full restore gives %d files, %d bytes",
				sample, resp.TotalFiles, resp.TotalBytes, len(full), fullBytes)
		}
		if resp.Files != int64(len(got)) {
			t.Errorf("Restore(%v): response says %d files, the target holds %d", sample, resp.Files, len(got))
		}
		for p, f := range got {
			switch {
			case union[p]:
				t.Errorf("file %q restored by two slices", p)
			case full[p] != f:
				t.Errorf("Restore(%v): file %q differs from the full restore's", sample, p)
			}
			union[p] = true
		}
	}
	if len(union) != len(full) {
		t.Errorf("the %d slices restored %d files together; a full restore gives %d", slices, len(union), len(full))
	}
}
