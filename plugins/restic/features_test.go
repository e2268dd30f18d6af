package restic

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/plugins"
)

// restic runs the pinned restic on the repository of src and returns its
// standard output.
func resticCmd(t *testing.T, src plugins.Source, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(resticBin, append([]string{"-r", src["repository"].(string), "--password-file", src["password_file"].(string), "-q"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("restic %v: %v\n%s", args, err, stderr)
	}
	return string(out)
}

// snapshotIDs lists the repository's snapshot IDs, newest first.
func snapshotIDs(t *testing.T, src plugins.Source) []string {
	t.Helper()
	snaps, err := parseSnapshots([]byte(resticCmd(t, src, "", "snapshots", "--json")))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := len(snaps) - 1; i >= 0; i-- {
		ids = append(ids, snaps[i].ID)
	}
	return ids
}

func failsOf(resp *plugins.RestoreResponse) []string {
	var fails []string
	for _, p := range resp.Problems {
		if p.Kind == plugins.ProblemFail {
			fails = append(fails, p.Message)
		}
	}
	for _, c := range resp.Checks {
		if !c.OK {
			fails = append(fails, "check "+c.Name+": "+c.Detail)
		}
	}
	return fails
}

func checkNamed(resp *plugins.RestoreResponse, name string) *plugins.Check {
	for i := range resp.Checks {
		if resp.Checks[i].Name == name {
			return &resp.Checks[i]
		}
	}
	return nil
}

// The listing check passes on an intact restore and names what a restore
// lost; names with newlines and invalid UTF-8 survive it.
func TestListingCheck(t *testing.T) {
	src, r, _ := repo(t)
	// Add a second snapshot with awkward names and a symlink.
	dir := filepath.Join(filepath.Dir(r), "src")
	if err := os.WriteFile(filepath.Join(dir, "bad\xffname"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	resticCmd(t, src, dir, "backup", "--host", "h1", ".")
	resp, ev, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	c := checkNamed(resp, "listing")
	if c == nil || !c.OK || len(failsOf(resp)) > 0 {
		t.Fatalf("intact restore: listing check %+v, fails %q", c, failsOf(resp))
	}
	if !strings.Contains(c.Detail, "all 6 entries") {
		t.Errorf("listing detail %q, want all 6 entries (4 files, a directory, a link)", c.Detail)
	}
	if _, ok := ev.files["new\nline"]; !ok {
		t.Errorf("the file named with a newline was not reported: %v", ev.files)
	}

	// Restore again, then lose a file, change one and add one: the
	// listing check names each.
	s, _ := parseSource(src)
	id := snapshotIDs(t, src)[0]
	target := t.TempDir()
	resticCmd(t, src, "", "restore", id, "--target", target)
	if err := os.Remove(filepath.Join(target, "bad\xffname")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "a.txt"), []byte("shorter"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "intruder"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := s.startListing(context.Background(), s.lsArgs(id), false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	out := &plugins.RestoreResponse{Point: plugins.RestorePoint{ID: id}}
	if err := l.finish(context.Background(), s, target, nil, nil, out); err != nil {
		t.Fatal(err)
	}
	c = checkNamed(out, "listing")
	if c == nil || c.OK {
		t.Fatalf("damaged restore: listing check %+v, want a failed check", c)
	}
	for _, want := range []string{"1 missing", "missing file \"/bad\ufffdname\"", "a.txt\" has 6 bytes in the snapshot but 7 in the restore", "not in the snapshot: file", "intruder"} {
		if !strings.Contains(c.Detail, want) {
			t.Errorf("listing detail %q does not say %q", c.Detail, want)
		}
	}
	noLocks(t, r)
}

// A drill with include restores and checks only those paths.
func TestInclude(t *testing.T) {
	src, r, _ := repo(t)
	src["include"] = []string{"/sub"}
	resp, ev, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if fails := failsOf(resp); len(fails) > 0 {
		t.Fatalf("include: fails %q", fails)
	}
	if _, ok := ev.files["sub/b.bin"]; len(ev.files) != 1 || !ok {
		t.Errorf("include restored %v, want only sub/b.bin", ev.files)
	}
	c := checkNamed(resp, "listing")
	if c == nil || !c.OK || !strings.Contains(c.Detail, "all 2 entries") {
		t.Errorf("include: listing check %+v, want the 2 entries of sub", c)
	}
	noLocks(t, r)
}

// An include that matches nothing of a snapshot made from inside its
// folder (restic backup ., whose tree starts at /) fails naming the
// include, the tree's top entries and the include that would match.
func TestIncludeMatchesNothing(t *testing.T) {
	src, r, _ := repo(t)
	folder := filepath.Join(filepath.Dir(r), "src")
	src["include"] = []string{folder + "/sub"}
	resp, _, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	fails := failsOf(resp)
	want := []string{"include " + folder + "/sub restored no file", "its tree starts at / with a.txt, new\\nline, sub/",
		"not at " + folder, "cd " + folder + " && restic backup .", "include /sub"}
	if len(fails) != 1 {
		t.Fatalf("fails %q, want one about the include", fails)
	}
	for _, w := range want {
		if !strings.Contains(fails[0], w) {
			t.Errorf("fail %q does not say %q", fails[0], w)
		}
	}
	noLocks(t, r)
}

func TestIncludeMissMessage(t *testing.T) {
	top := []lsNode{{Path: "/srv", Type: "dir"}}
	got := includeMissMessage("abcd1234", []string{"/data"}, []string{"/srv/files"}, top)
	want := "include /data restored no file of snapshot abcd1234 (of /srv/files): its tree starts at / with srv/; name include paths as the tree has them, from /"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A damaged snapshot file and a pinned snapshot that no longer exists are
// listing problems (restic only says "Ignoring" and exits 0).
func TestListingProblems(t *testing.T) {
	src, r, _ := repo(t)
	dir := filepath.Join(filepath.Dir(r), "src")
	resticCmd(t, src, dir, "backup", "--host", "h1", ".")
	ids := snapshotIDs(t, src)
	snapFile := filepath.Join(r, "snapshots", ids[0])
	if err := os.Chmod(snapFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(snapFile, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	list, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Points) != 1 || list.Points[0].ID != ids[1] {
		t.Errorf("listed %+v, want only the older snapshot %s", list.Points, ids[1])
	}
	if len(list.Problems) != 1 || list.Problems[0].Kind != plugins.ProblemFail || !strings.Contains(list.Problems[0].Message, ids[0][:8]) {
		t.Errorf("damaged snapshot file: problems %+v, want a fail naming %s", list.Problems, ids[0][:8])
	}

	src["snapshot"] = "0123abcd"
	list, err = New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Points) != 0 || len(list.Problems) != 1 || !strings.Contains(list.Problems[0].Message, `no matching ID found for prefix "0123abcd"`) {
		t.Errorf("missing pinned snapshot: %+v, want no point and restic's message", list)
	}
	noLocks(t, r)
}

// read_data_subset runs restic check, which finds damage in packs the
// (sampled) restore did not read.
func TestReadDataSubset(t *testing.T) {
	src, r, _ := repo(t)
	src["include"] = []string{"/a.txt"}
	src["read_data_subset"] = "100%"
	resp, _, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if c := checkNamed(resp, "restic check"); c == nil || !c.OK || len(failsOf(resp)) > 0 {
		t.Fatalf("intact: restic check %+v, fails %q", c, failsOf(resp))
	}
	// Flip a byte in the blob of the large file, which include leaves out.
	flipBlob(t, src, largestBlob(t, src, "data"))
	resp, _, err = restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	c := checkNamed(resp, "restic check")
	if c == nil || c.OK {
		t.Fatalf("damaged pack: restic check %+v, want a failed check", c)
	}
	t.Logf("restic check: %s", c.Detail)
	if lc := checkNamed(resp, "listing"); lc == nil || !lc.OK {
		t.Errorf("the sampled restore itself should be intact: %+v", lc)
	}
	noLocks(t, r)
}

// A lock held by someone else is an error naming the holder.
func TestLockedRepository(t *testing.T) {
	src, r, _ := repo(t)
	fifo := filepath.Join(t.TempDir(), "newpw")
	if err := exec.Command("mkfifo", fifo).Run(); err != nil {
		t.Fatal(err)
	}
	// restic key passwd takes an exclusive lock, then blocks opening the
	// FIFO for the new password until we write it.
	holder := exec.Command(resticBin, "-r", r, "--password-file", src["password_file"].(string), "key", "passwd", "--new-password-file", fifo)
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		pw, _ := os.ReadFile(src["password_file"].(string))
		if err := os.WriteFile(fifo, pw, 0o600); err != nil {
			t.Error(err)
			_ = holder.Process.Kill() // it would wait for the password forever
		}
		_ = holder.Wait() // how key passwd ends is not what this test checks
		noLocks(t, r)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if ents, _ := os.ReadDir(filepath.Join(r, "locks")); len(ents) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("restic key passwd took no lock")
		}
		time.Sleep(50 * time.Millisecond)
	}
	_, _, err := restore(t, src)
	if err == nil {
		t.Fatal("restore of a locked repository succeeded")
	}
	for _, want := range []string{"repository " + r + " is locked by another process", "locked exclusively by PID", "the `unlock` command"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nwant it to say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("err spans lines: %q", err)
	}
}

// env gives restic variables read from files; the password_command sees
// them, as a backend's credentials would be.
func TestEnvFromFiles(t *testing.T) {
	src, r, _ := repo(t)
	secret := filepath.Join(t.TempDir(), "secret")
	pw, _ := os.ReadFile(src["password_file"].(string))
	if err := os.WriteFile(secret, pw, 0o600); err != nil {
		t.Fatal(err)
	}
	delete(src, "password_file")
	src["password_command"] = `sh -c 'printf %s "$DRILL_TEST_PW"'`
	src["env"] = []string{"DRILL_TEST_PW_FILE=" + secret}
	resp, _, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if fails := failsOf(resp); len(fails) > 0 {
		t.Fatalf("fails %q", fails)
	}
	noLocks(t, r)

	for entry, want := range map[string]string{
		"AWS_SECRET_ACCESS_KEY=abc123": "must be NAME_FILE=/path/to/file",
		"X_FILE=relative/path":         "not an absolute path",
		"RESTIC_PASSWORD_FILE=/x":      "restic's own settings",
	} {
		_, probs := parseSource(plugins.Source{"repository": r, "insecure_no_password": true, "env": []string{entry}})
		if len(probs) != 1 || !strings.Contains(probs[0].Message, want) || strings.Contains(probs[0].Message, "abc123") {
			t.Errorf("env %q: problems %+v, want one saying %q without the value", entry, probs, want)
		}
	}
}

// The restic version in use goes into the details for the evidence.
func TestVersionDetail(t *testing.T) {
	src, r, _ := repo(t)
	defer noLocks(t, r)
	resp, _, err := restore(t, src)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Version string `json:"version"`
	}
	out, _ := exec.Command(resticBin, "version", "--json").Output()
	_ = json.Unmarshal(out, &v)
	if got := resp.Details["restic_version"]; got == "" || got != v.Version {
		t.Errorf("restic_version = %q, want %q", got, v.Version)
	}
}

// blob is where one blob is stored.
type blob struct {
	pack           string // the pack file
	typ            string
	offset, length int64
	plain          int64 // uncompressed length, 0 when not compressed
}

// blobs reads the repository's index with restic.
func blobs(t *testing.T, src plugins.Source) []blob {
	t.Helper()
	r := src["repository"].(string)
	var out []blob
	for id := range strings.FieldsSeq(resticCmd(t, src, "", "list", "index")) {
		var idx struct {
			Packs []struct {
				ID    string `json:"id"`
				Blobs []struct {
					Type         string `json:"type"`
					Offset       int64  `json:"offset"`
					Length       int64  `json:"length"`
					Uncompressed int64  `json:"uncompressed_length"`
				} `json:"blobs"`
			} `json:"packs"`
		}
		if err := json.Unmarshal([]byte(resticCmd(t, src, "", "cat", "index", id)), &idx); err != nil {
			t.Fatal(err)
		}
		for _, p := range idx.Packs {
			for _, b := range p.Blobs {
				out = append(out, blob{filepath.Join(r, "data", p.ID[:2], p.ID), b.Type, b.Offset, b.Length, b.Uncompressed})
			}
		}
	}
	return out
}

// largestBlob returns the largest blob of a type ("data" or "tree").
func largestBlob(t *testing.T, src plugins.Source, typ string) blob {
	t.Helper()
	var best blob
	for _, b := range blobs(t, src) {
		if b.typ == typ && max(b.plain, b.length) > max(best.plain, best.length) {
			best = b
		}
	}
	if best.pack == "" {
		t.Fatalf("no %s blob in the index", typ)
	}
	return best
}

// flipBlob flips a byte in the middle of a stored blob.
func flipBlob(t *testing.T, src plugins.Source, b blob) {
	t.Helper()
	data, err := os.ReadFile(b.pack)
	if err != nil {
		t.Fatal(err)
	}
	data[b.offset+b.length/2] ^= 0xff
	if err := os.Chmod(b.pack, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.pack, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A missing restic binary is an error that says what to do.
func TestMissingBinary(t *testing.T) {
	src, _, _ := repo(t)
	src["restic_binary"] = filepath.Join(t.TempDir(), "no-restic")
	_, err := New().ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: src})
	if err == nil || !strings.Contains(err.Error(), "not found: install restic or set restic_binary") {
		t.Errorf("err = %v, want advice on installing restic", err)
	}
}

// A cancelled restore stops restic with SIGINT and waits for it: restic
// removes its lock, and the listing beside it stops too.
func TestRestoreCancelled(t *testing.T) {
	src, r, _ := repo(t)
	b := New()
	list, err := b.ListRestorePoints(context.Background(), &plugins.ListRestorePointsRequest{Source: src})
	if err != nil || len(list.Points) == 0 {
		t.Fatalf("list: %v %+v", err, list)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if ents, _ := os.ReadDir(filepath.Join(r, "locks")); len(ents) > 0 {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	start := time.Now()
	_, err = b.Restore(ctx, &plugins.RestoreRequest{Source: src, PointID: list.Points[0].ID, Target: t.TempDir()}, &rec{files: map[string][]byte{}})
	if err == nil {
		t.Skip("the restore finished before it could be cancelled")
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("cancel took %s", time.Since(start))
	}
	if _, err := b.Cleanup(context.Background(), &plugins.CleanupRequest{Source: src}); err != nil {
		t.Fatal(err)
	}
	noLocks(t, r)
}
