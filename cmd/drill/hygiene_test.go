package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/textsafe"
)

// hostile is text a backup's author controls: it clears the screen (ESC
// [2J), sets the terminal title (OSC ... BEL), returns the cursor (\r),
// starts a C1 CSI sequence and reverses the line (a bidi override).
const hostile = "\x1b[2J\x1b]0;owned\x07\r\u009b31m\u202eevil"

// writeHostileTar writes a real tar archive at path holding docs/plain.txt
// and a file whose name carries hostile.
func writeHostileTar(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	must(t, err)
	tw := tar.NewWriter(f)
	for _, m := range []struct{ name, body string }{
		{"docs/", ""},
		{"docs/plain.txt", "plain\n"},
		{"docs/" + hostile + ".txt", "a file with a hostile name\n"},
	} {
		hdr := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if strings.HasSuffix(m.name, "/") {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0o755
		}
		must(t, tw.WriteHeader(hdr))
		_, err := tw.Write([]byte(m.body))
		must(t, err)
	}
	must(t, tw.Close())
	must(t, f.Close())
}

// rawControl returns the first character of out that textsafe would
// escape (outside the newlines that end lines), or "".
func rawControl(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if !textsafe.Safe(line) {
			for _, r := range line {
				if !textsafe.Safe(string(r)) {
					return fmt.Sprintf("%q in line %q", r, line)
				}
			}
		}
	}
	return ""
}

// TestHostileNamesEscaped runs a real drill of a real tar archive whose
// name, file names and reference manifest's name carry terminal control
// sequences: the record, drill run (text and JSON), drill history (text
// and JSON) and drill position hold only their escaped forms.
func TestHostileNamesEscaped(t *testing.T) {
	dir := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(dir, "backups"), 0o755))
	writeHostileTar(t, filepath.Join(dir, "backups", "home-"+hostile+".tar"))
	// The reference manifest lists plain.txt with a wrong digest: the
	// drill fails with a reason naming the manifest.
	ref := filepath.Join(dir, "ref-"+hostile+".sha256")
	must(t, os.WriteFile(ref, fmt.Appendf(nil, "%x  docs/plain.txt\n", sha256.Sum256([]byte("other\n"))), 0o644))
	cfg := filepath.Join(dir, "drill.yaml")
	must(t, os.WriteFile(cfg, []byte(`state_dir: state
socket: drill.sock
services: {files: {owner: ops@example.org, review_every: 7d}}
drills:
  home:
    service: files
    backend: filesystem
    source: {archive: "backups/home-*.tar"}
    checks: {min_files: 2, manifest: `+strconv.QuoteToASCII(ref)+`}
`), 0o644))

	out, errs, code := drillCmd(t, cfg, "run", "home")
	if code != 1 {
		t.Fatalf("drill run: exit %d, want 1 (the manifest check fails)\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if !strings.Contains(out, `home-\x1b[2J\x1b]0;owned\x07\r\u009b31m\u202eevil.tar`) {
		t.Errorf("drill run does not show the archive's name escaped:\n%s", out)
	}
	jout, _, _ := drillCmd(t, cfg, "run", "--json", "home")
	hout, errs, code := drillCmd(t, cfg, "history")
	if code != 0 {
		t.Fatalf("drill history: exit %d: %s", code, errs)
	}
	hjson, _, _ := drillCmd(t, cfg, "history", "--json")
	pout, _, _ := drillCmd(t, cfg, "position", "--html", filepath.Join(dir, "position.html"))
	page, err := os.ReadFile(filepath.Join(dir, "position.html"))
	must(t, err)
	if c := rawControl(string(page)); c != "" {
		t.Errorf("the position page holds a raw control or bidi character: %s", c)
	}
	if !strings.Contains(string(page), `ref-\x1b[2J`) {
		t.Errorf("the position page does not show the reason's escaped form")
	}
	for name, o := range map[string]string{"drill run": out, "drill run --json": jout, "drill history": hout,
		"drill history --json": hjson, "drill position": pout, "drill run (stderr)": errs} {
		if c := rawControl(o); c != "" {
			t.Errorf("%s prints a raw control or bidi character: %s", name, c)
		}
	}

	// The records themselves hold the escaped form: decoded from JSON,
	// every string is safe, and the hostile text is there as escapes.
	recs := history(t, cfg, "home")
	if len(recs) != 2 {
		t.Fatalf("%d records, want 2", len(recs))
	}
	for _, rec := range recs {
		b, err := json.Marshal(rec)
		must(t, err)
		var strs []string
		collectStrings(t, b, &strs)
		for _, s := range strs {
			if !textsafe.Safe(s) {
				t.Errorf("record %d holds raw text %q", rec.LogIndex, s)
			}
		}
		if rec.Verdict != record.VerdictFail {
			t.Errorf("record %d: verdict %s, want fail", rec.LogIndex, rec.Verdict)
		}
		if !strings.Contains(rec.RestorePoint.ID, `\x1b[2J`) || !strings.Contains(rec.RestorePoint.Description, `\u202eevil`) {
			t.Errorf("restore point %q (%q) is not the escaped archive name", rec.RestorePoint.ID, rec.RestorePoint.Description)
		}
		if !strings.Contains(strings.Join(rec.Reasons, "\n"), `ref-\x1b[2J`) {
			t.Errorf("reasons %q do not name the manifest in its escaped form", rec.Reasons)
		}
	}
}

// collectStrings appends every string value and object key of the JSON
// document b to out.
func collectStrings(t *testing.T, b []byte, out *[]string) {
	t.Helper()
	var v any
	must(t, json.Unmarshal(b, &v))
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			*out = append(*out, v)
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for k, e := range v {
				*out = append(*out, k)
				walk(e)
			}
		}
	}
	walk(v)
}

// TestPrintOldRawRecord: a record appended before escaping may hold raw
// text; drill run and drill history print it escaped all the same.
func TestPrintOldRawRecord(t *testing.T) {
	rec := &record.Record{Drill: "db", Verdict: record.VerdictFail,
		Reasons:        []string{"table public." + hostile + " is empty"},
		RestorePoint:   record.RestorePoint{ID: "dump-" + hostile},
		Checks:         []record.Check{{Name: "tables", Detail: "missing " + hostile}},
		Tables:         []record.Table{{Name: "public." + hostile, Rows: 1}},
		ManifestSHA256: "ab"}
	var b strings.Builder
	printRecord(&b, rec)
	if c := rawControl(b.String()); c != "" {
		t.Errorf("printRecord prints %s", c)
	}
	if !strings.Contains(b.String(), `public.\x1b[2J`) {
		t.Errorf("printRecord does not show the escaped table name:\n%s", b.String())
	}
	if rec.Reasons[0] != "table public."+hostile+" is empty" {
		t.Errorf("printing changed the record: %q", rec.Reasons[0])
	}
}

// TestPathsThroughSymlink: a real restic snapshot holding home -> a host
// directory (with alice/docs in it) fails paths: [home/alice/docs] with a
// reason naming the link, instead of passing on the host's live files; a
// good backup (restic, and a tar archive) whose listed path is a plain
// directory passes.
func TestPathsThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	host := filepath.Join(dir, "host-home") // stands for the host's /home
	must(t, os.MkdirAll(filepath.Join(host, "alice", "docs"), 0o755))
	must(t, os.WriteFile(filepath.Join(host, "alice", "docs", "live.txt"), []byte("live\n"), 0o644))

	bad, good := filepath.Join(dir, "bad"), filepath.Join(dir, "good")
	must(t, os.MkdirAll(filepath.Join(bad, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(bad, "etc", "hosts"), []byte("127.0.0.1 localhost\n"), 0o644))
	must(t, os.Symlink(host, filepath.Join(bad, "home")))
	must(t, os.MkdirAll(filepath.Join(good, "home", "alice", "docs"), 0o755))
	must(t, os.WriteFile(filepath.Join(good, "home", "alice", "docs", "a.txt"), []byte("a\n"), 0o644))
	pw := filepath.Join(dir, "pw")
	must(t, os.WriteFile(pw, []byte("paths\n"), 0o600))
	for _, name := range []string{"bad", "good"} {
		repo := filepath.Join(dir, name+".repo")
		for _, args := range [][]string{{"init"}, {"backup", "--host", "h", "."}} {
			cmd := exec.Command(resticBinary(), append([]string{"-r", repo, "--password-file", pw, "-q", "--no-cache"}, args...)...)
			cmd.Dir = filepath.Join(dir, name)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("restic %v: %v\n%s", args, err, out)
			}
		}
	}
	if out, err := exec.Command("tar", "-cf", filepath.Join(dir, "good.tar"), "-C", good, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	restic := func(name string) string {
		return fmt.Sprintf("{repository: %q, password_file: %q, restic_binary: %q}", filepath.Join(dir, name+".repo"), pw, resticBinary())
	}
	cfg := filepath.Join(dir, "drill.yaml")
	must(t, os.WriteFile(cfg, []byte(`state_dir: state
socket: drill.sock
services: {files: {owner: ops@example.org}}
drills:
  bad: {service: files, backend: restic, source: `+restic("bad")+`, checks: {paths: [home/alice/docs]}}
  good: {service: files, backend: restic, source: `+restic("good")+`, checks: {paths: [home/alice/docs]}}
  good-tar: {service: files, backend: filesystem, source: {archive: good.tar}, checks: {paths: [home/alice/docs]}}
`), 0o644))

	out, errs, code := drillCmd(t, cfg, "run", "bad")
	if code != 1 {
		t.Fatalf("drill run bad: exit %d, want 1\n%s%s", code, out, errs)
	}
	if want := `"home/alice/docs" (its component "home" is a symlink in the restore; drill never follows one)`; !strings.Contains(out, want) {
		t.Errorf("drill run bad does not say %s:\n%s", want, out)
	}
	for _, name := range []string{"good", "good-tar"} {
		if out, errs, code := drillCmd(t, cfg, "run", name); code != 0 {
			t.Errorf("drill run %s: exit %d, want 0 (a false alarm)\n%s%s", name, code, out, errs)
		}
	}
}

// TestBackupFilesNotSymlinks runs real drills whose backup files are
// symlinks (to a host file or directory that would otherwise be drilled
// or read): each is refused with a reason naming it, the backup content
// ones as fail, the reference manifest and password file as error; the
// same backups as regular files (and a directory copy reached through a
// link the operator wrote without glob characters) pass.
func TestBackupFilesNotSymlinks(t *testing.T) {
	dir := t.TempDir()
	p := func(rel string) string { return filepath.Join(dir, rel) }
	// What the links point at: a host tree and a secret.
	must(t, os.MkdirAll(p("host/etc"), 0o755))
	must(t, os.WriteFile(p("host/etc/passwd"), []byte("root:x:0:0\n"), 0o644))
	must(t, os.WriteFile(p("secret"), []byte("S3cretPassw0rd\n"), 0o600))
	if out, err := exec.Command("tar", "-cf", p("host.tar"), "-C", p("host"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	// The good backups, made the usual way.
	must(t, os.MkdirAll(p("data/docs"), 0o755))
	must(t, os.WriteFile(p("data/docs/a.txt"), []byte("a\n"), 0o644))
	must(t, os.MkdirAll(p("tars"), 0o755))
	if out, err := exec.Command("tar", "-cf", p("tars/home-1.tar"), "-C", p("data"), ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	must(t, os.MkdirAll(p("copies"), 0o755))
	if out, err := exec.Command("cp", "-a", p("data"), p("copies/home-1")).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
	must(t, os.WriteFile(p("copies/home-1/.done"), nil, 0o644))
	must(t, os.Symlink(p("copies/home-1"), p("latest")))
	must(t, os.WriteFile(p("good.sha256"), fmt.Appendf(nil, "%x  docs/a.txt\n", sha256.Sum256([]byte("a\n"))), 0o644))
	must(t, os.WriteFile(p("pw"), []byte("pw\n"), 0o600))
	for _, args := range [][]string{{"init"}, {"backup", "--host", "h", "."}} {
		cmd := exec.Command(resticBinary(), append([]string{"-r", p("repo"), "--password-file", p("pw"), "-q", "--no-cache"}, args...)...)
		cmd.Dir = p("data")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("restic %v: %v\n%s", args, err, out)
		}
	}
	// The links.
	must(t, os.MkdirAll(p("badtars"), 0o755))
	must(t, os.Symlink(p("host.tar"), p("badtars/home-2.tar")))
	must(t, os.MkdirAll(p("badcopies"), 0o755))
	must(t, os.Symlink(p("host"), p("badcopies/home-2")))
	// A "latest" link among the backups it points at, matched by the
	// glob too: skipped, never restored through, and no reason to fail.
	must(t, os.Symlink(p("tars/home-1.tar"), p("tars/home-latest.tar")))
	must(t, os.Symlink(p("copies/home-1"), p("copies/home-latest")))
	must(t, os.MkdirAll(p("stamped"), 0o755))
	if out, err := exec.Command("cp", "-a", p("data"), p("stamped/home-1")).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
	must(t, os.Symlink(p("secret"), p("stamped/home-1/.done")))
	must(t, os.Symlink(p("good.sha256"), p("link.sha256")))
	must(t, os.Symlink(p("pw"), p("pw-link")))

	restic := func(pw string) string {
		return fmt.Sprintf("{repository: %q, password_file: %q, restic_binary: %q}", p("repo"), pw, resticBinary())
	}
	cfg := p("drill.yaml")
	must(t, os.WriteFile(cfg, []byte(`state_dir: state
socket: drill.sock
services: {files: {owner: ops@example.org}}
drills:
  tar-good: {service: files, backend: filesystem, source: {archive: "tars/home-*.tar"}, checks: {manifest: good.sha256}}
  tar-link: {service: files, backend: filesystem, source: {archive: "badtars/home-*.tar"}}
  copy-good: {service: files, backend: filesystem, source: {path: "copies/home-*", stamp: .done}}
  copy-latest: {service: files, backend: filesystem, source: {path: latest, stamp: .done}}
  copy-link: {service: files, backend: filesystem, source: {path: "badcopies/home-*"}}
  stamp-link: {service: files, backend: filesystem, source: {path: "stamped/home-*", stamp: .done}}
  manifest-link: {service: files, backend: filesystem, source: {archive: "tars/home-*.tar"}, checks: {manifest: link.sha256}}
  restic-good: {service: files, backend: restic, source: `+restic(p("pw"))+`}
  restic-pw-link: {service: files, backend: restic, source: `+restic(p("pw-link"))+`}
`), 0o644))
	for _, tc := range []struct {
		drill string
		code  int
		want  string
	}{
		{"tar-good", 0, ""},
		{"copy-good", 0, ""},
		{"copy-latest", 0, ""},
		{"restic-good", 0, ""},
		{"tar-link", 1, "archive " + p("badtars/home-2.tar") + " is a symlink"},
		{"copy-link", 1, "directory copy " + p("badcopies/home-2") + " is a symlink"},
		{"stamp-link", 1, "stamp " + p("stamped/home-1/.done") + " is a symlink"},
		{"manifest-link", 3, "reference manifest " + p("link.sha256") + " is a symlink"},
		{"restic-pw-link", 3, "password file " + p("pw-link") + " is a symlink"},
	} {
		out, errs, code := drillCmd(t, cfg, "run", tc.drill)
		if code != tc.code || !strings.Contains(out, tc.want) {
			t.Errorf("drill run %s: exit %d, want %d and a reason containing %q\n%s%s", tc.drill, code, tc.code, tc.want, out, errs)
		}
		if strings.Contains(out+errs, "S3cret") {
			t.Errorf("drill run %s shows the secret a link points at", tc.drill)
		}
	}
}
