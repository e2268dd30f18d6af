package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/report"
)

// hostileText holds what rewrites a terminal: clear the screen, set the
// window title (OSC), go back to the start of the line and overwrite it,
// and a C1 CSI (U+009B) that some terminals take as ESC [.
const hostileText = "\x1b[2J\x1b]0;pwned\a\rverified: all 6 records \u009b31m"

// The fault suite's "forged bundles" family (issue 14): bundles edited by
// someone without the log's private key, verified by the real drill
// binary with the host's public key. Each forgery fails with exit 1 and
// says what and where; what verify and export print from a bundle reaches
// the terminal with its control characters escaped. The store is made
// for real: six drills (pass, fail, and one whose archive's file name
// carries control characters) on the filesystem backend.
func TestForgedBundles(t *testing.T) {
	fx := newBundleFixture(t)
	full := fx.export(t, "full.tgz")
	subset := fx.export(t, "subset.tgz", "--drill", "a")

	// The genuine bundles verify; without --checkpoint verify says what
	// is not proven.
	for _, b := range []string{full, subset} {
		stdout, stderr, code := fx.verify(t, b)
		if code != 0 {
			t.Fatalf("verify %s: exit %d\n%s%s", b, code, stdout, stderr)
		}
		for _, want := range []string{"export statement signed ", "report.csv and report.html rebuilt from the verified records: identical", "NOT PROVEN: that no newer records were withheld"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("verify %s: no %q in\n%s", b, want, stdout)
			}
		}
	}

	// fullMembers and subsetMembers are fresh copies for each case.
	fullMembers := func() []bundleMember { return readBundle(t, full) }
	subsetMembers := func() []bundleMember { return readBundle(t, subset) }
	attacker := fx.otherKey(t)
	cases := []struct {
		name  string
		forge func() []bundleMember
		want  []string // in stderr
	}{
		{
			// The attack of issue 14: no key needed, verified before.
			name:  "truncated to an older signed size",
			forge: func() []bundleMember { return truncateBundle(t, fullMembers(), 4) },
			want:  []string{"CUT SHORT: the export statement says the log had 6 records when it was exported, but this bundle shows 4: records 4 to 5 were removed after export"},
		},
		{
			name:  "truncated, statement dropped",
			forge: func() []bundleMember { return without(truncateBundle(t, fullMembers(), 4), "export.dsse.json") },
			want:  []string{"no export statement (export.dsse.json)"},
		},
		{
			name: "truncated, passed off as a bundle from before export statements",
			forge: func() []bundleMember {
				ms := without(truncateBundle(t, fullMembers(), 4), "export.dsse.json")
				editJSON(t, ms, "manifest.json", func(m map[string]any) { m["format"] = 1 })
				return ms
			},
			want: []string{"made by drill before export statements (manifest.json format 1)", "re-export it with this version"},
		},
		{
			name: "report.csv: fail changed to pass",
			forge: func() []bundleMember {
				ms := fullMembers()
				replaceIn(t, ms, "report.csv", "\n1,s,b,filesystem,", ",fail,", ",pass,")
				return ms
			},
			want: []string{"report.csv line 3 (record 1) differs from the report rebuilt from the verified entries", `the bundle has "`, "pass", "where the entries give"},
		},
		{
			name: "report.html: fail changed to pass",
			forge: func() []bundleMember {
				ms := fullMembers()
				replaceIn(t, ms, "report.html", `<tr id="rec-1">`, `<span class="v v-fail">fail</span>`, `<span class="v v-pass">pass</span>`)
				return ms
			},
			want: []string{"report.html line ", "(record 1) differs from the report rebuilt from the verified entries"},
		},
		{
			name:  "statement dropped",
			forge: func() []bundleMember { return without(fullMembers(), "export.dsse.json") },
			want:  []string{"no export statement (export.dsse.json)"},
		},
		{
			// A perfect forgery of a cut-short bundle but for the
			// statement's signature: size, root, reports and digests
			// all made to agree.
			name: "statement edited: log size (truncated bundle, signature kept)",
			forge: func() []bundleMember {
				ms := truncateBundle(t, fullMembers(), 4)
				rebuildReports(t, ms)
				root := strings.Split(string(find(t, ms, "checkpoint").data), "\n")[2]
				editStatement(t, ms, func(p map[string]any) { p["log_size"], p["log_root"], p["records"] = 4, root, 4 })
				return ms
			},
			want: []string{"export statement (export.dsse.json): payload does not match its signature"},
		},
		{
			// The drill-a subset passed off as every record of service s,
			// hiding drill b's failures.
			name: "statement edited: selection (signature kept)",
			forge: func() []bundleMember {
				ms := subsetMembers()
				editJSON(t, ms, "manifest.json", func(m map[string]any) { m["selection"] = "service s" })
				rebuildReports(t, ms)
				editStatement(t, ms, func(p map[string]any) {
					delete(p, "drill")
					p["service"], p["selection"] = "s", "service s"
				})
				return ms
			},
			want: []string{"export statement (export.dsse.json): payload does not match its signature"},
		},
		{
			// The bundle's key file, which an auditor may pin, replaced.
			name: "statement edited: a member digest (signature kept)",
			forge: func() []bundleMember {
				ms := fullMembers()
				pub := findSuffix(t, ms, "-1.pub")
				pub.data = []byte(attacker + "\n")
				editStatement(t, ms, func(map[string]any) {})
				return ms
			},
			want: []string{"export statement (export.dsse.json): payload does not match its signature"},
		},
		{
			name: "a member added",
			forge: func() []bundleMember {
				return insertAfter(fullMembers(), "manifest.json", bundleMember{"drill-evidence/keys/auditor.pub", []byte(attacker + "\n")})
			},
			want: []string{"member drill-evidence/keys/auditor.pub is not in the export statement: it was added after export"},
		},
		{
			name: "control characters in the selection of manifest.json",
			forge: func() []bundleMember {
				ms := fullMembers()
				editJSON(t, ms, "manifest.json", func(m map[string]any) { m["selection"] = hostileText })
				return ms
			},
			want: []string{"NOT verified"},
		},
		{
			name: "control characters in a member's name",
			forge: func() []bundleMember {
				return insertAfter(fullMembers(), "manifest.json", bundleMember{"drill-evidence/keys/" + hostileText + ".pub", []byte(attacker + "\n")})
			},
			want: []string{`is not in the export statement`, `\x1b[2J\x1b]0;pwned\x07\rverified: all 6 records \u009b31m`},
		},
		{
			name: "control characters written into report.csv",
			forge: func() []bundleMember {
				ms := fullMembers()
				replaceIn(t, ms, "report.csv", "\n1,s,b,filesystem,", ",fail,", ","+hostileText+",")
				return ms
			},
			want: []string{"report.csv line 3 (record 1) differs", `\x1b[2J\x1b]0;pwned\x07\r`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "forged.tgz")
			writeBundle(t, path, tc.forge())
			stdout, stderr, code := fx.verify(t, path)
			if code != 1 {
				t.Errorf("verify: exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			if strings.Contains(stdout, "verified") {
				t.Errorf("verify says verified:\n%s", stdout)
			}
			for _, want := range tc.want {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, stderr)
				}
			}
			noRawControls(t, "verify", stdout+stderr)
		})
	}

	// Control characters in the selection as given, and in a string a
	// record carries (the hostile archive's name in drill c's reasons):
	// export and verify print them escaped, and the reports hold them
	// escaped.
	t.Run("control characters in the selection and in records", func(t *testing.T) {
		out, stderr, code := drillCmd(t, fx.cfg, "evidence", "export", "-o", filepath.Join(fx.dir, "hostile.tgz"), "--service", hostileText)
		if code != 0 {
			t.Fatalf("export: exit %d\n%s%s", code, out, stderr)
		}
		noRawControls(t, "export", out+stderr)
		if !strings.Contains(out, `(service \x1b[2J\x1b]0;pwned\x07\rverified: all 6 records \u009b31m)`) {
			t.Errorf("export does not show the selection escaped:\n%s", out)
		}
		out, stderr, code = fx.verify(t, filepath.Join(fx.dir, "hostile.tgz"))
		if code != 0 {
			t.Fatalf("verify: exit %d\n%s%s", code, out, stderr)
		}
		noRawControls(t, "verify", out+stderr)
		if !strings.Contains(out, `0 selected (service \x1b[2J\x1b]0;pwned\x07\rverified: all 6 records \u009b31m) of the 6 records`) {
			t.Errorf("verify does not show the selection escaped:\n%s", out)
		}
		for _, b := range []string{full, filepath.Join(fx.dir, "hostile.tgz")} {
			for _, m := range readBundle(t, b) {
				if strings.HasSuffix(m.name, "/report.csv") || strings.HasSuffix(m.name, "/report.html") {
					noRawControls(t, filepath.Base(b)+": "+m.name, string(m.data))
				}
			}
		}
		csv := string(find(t, readBundle(t, full), "report.csv").data)
		if !strings.Contains(csv, `\x1b[2J\x1b]0;pwned\x07\rverified: all 6 records \u009b31m.tar.gz`) {
			t.Errorf("report.csv does not show drill c's reason escaped:\n%s", csv)
		}
	})
}

// bundleFixture is a state directory with six records and the host's
// public key.
type bundleFixture struct {
	dir, cfg, pem string
}

func newBundleFixture(t *testing.T) *bundleFixture {
	t.Helper()
	dir := t.TempDir()
	fx := &bundleFixture{dir: dir, cfg: filepath.Join(dir, "drill.yaml"), pem: filepath.Join(dir, "host.pem")}
	mustT(t, os.MkdirAll(filepath.Join(dir, "data"), 0o755))
	mustT(t, os.MkdirAll(filepath.Join(dir, "backups"), 0o755))
	mustT(t, os.WriteFile(filepath.Join(dir, "data", "f"), []byte("content\n"), 0o644))
	tarGz := exec.Command("tar", "-czf", filepath.Join(dir, "backups", "a.tar.gz"), "-C", filepath.Join(dir, "data"), ".")
	if out, err := tarGz.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	archive, err := os.ReadFile(filepath.Join(dir, "backups", "a.tar.gz"))
	mustT(t, err)
	// The same archive under a name that rewrites a terminal.
	mustT(t, os.WriteFile(filepath.Join(dir, "backups", "x"+hostileText+".tar.gz"), archive, 0o644))
	cfg := `state_dir: state
services:
  s: {owner: ops@example.org}
drills:
  a: {service: s, backend: filesystem, source: {archive: backups/a.tar.gz}}
  b: {service: s, backend: filesystem, source: {archive: backups/a.tar.gz}, checks: {min_files: 100}}
  c: {service: s, backend: filesystem, source: {archive: "backups/x\e[2J\e]0;pwned\a\rverified: all 6 records \u009b31m.tar.gz"}, checks: {min_files: 5}}
`
	mustT(t, os.WriteFile(fx.cfg, []byte(cfg), 0o644))
	for range 2 {
		if out, stderr, code := drillCmd(t, fx.cfg, "run", "a", "b", "c"); code != 1 {
			t.Fatalf("drill run a b c: exit %d, want 1 (b and c fail)\n%s%s", code, out, stderr)
		}
	}
	out, stderr, code := drillCmd(t, fx.cfg, "keys", "show", "--pem")
	if code != 0 {
		t.Fatalf("keys show: exit %d\n%s", code, stderr)
	}
	mustT(t, os.WriteFile(fx.pem, []byte(out), 0o644))
	return fx
}

// export writes a bundle into the fixture's directory and returns its path.
func (fx *bundleFixture) export(t *testing.T, name string, args ...string) string {
	t.Helper()
	path := filepath.Join(fx.dir, name)
	out, stderr, code := drillCmd(t, fx.cfg, append([]string{"evidence", "export", "-o", path}, args...)...)
	if code != 0 {
		t.Fatalf("export %s: exit %d\n%s%s", name, code, out, stderr)
	}
	return path
}

// verify runs drill evidence verify on a bundle with the host's key.
func (fx *bundleFixture) verify(t *testing.T, path string) (string, string, int) {
	t.Helper()
	return drillCmd(t, fx.cfg, "evidence", "verify", path, "--key", fx.pem)
}

// otherKey returns the public key of a key made in another state
// directory: the attacker's.
func (fx *bundleFixture) otherKey(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(fx.dir, "other.yaml")
	mustT(t, os.WriteFile(cfg, []byte("state_dir: other\nlog_origin: attacker.example/drill\nservices: {}\n"), 0o644))
	if out, stderr, code := drillCmd(t, cfg, "keys", "init"); code != 0 {
		t.Fatalf("keys init: exit %d\n%s%s", code, out, stderr)
	}
	out, stderr, code := drillCmd(t, cfg, "keys", "show")
	if code != 0 {
		t.Fatalf("keys show: exit %d\n%s", code, stderr)
	}
	for _, f := range strings.Fields(out) {
		if strings.HasPrefix(f, "attacker.example/drill+") {
			return f
		}
	}
	t.Fatalf("no verifier key in drill keys show:\n%s", out)
	return ""
}

// noRawControls fails the test when out holds a control character (but
// newline), DEL, a C1 control, a bidi override or bytes that are not
// UTF-8: anything that could rewrite a terminal.
func noRawControls(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		bad := r == utf8.RuneError || r < 0x20 && r != '\n' || r >= 0x7f && r <= 0x9f || r >= 0x202a && r <= 0x202e
		if bad {
			t.Errorf("%s: a raw control character %q at byte %d: %q", what, r, i, out[max(0, i-30):min(len(out), i+30)])
			return
		}
	}
}

// bundleMember is one file of a bundle.
type bundleMember struct {
	name string
	data []byte
}

func readBundle(t *testing.T, path string) []bundleMember {
	t.Helper()
	f, err := os.Open(path)
	mustT(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	mustT(t, err)
	tr := tar.NewReader(zr)
	var ms []bundleMember
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return ms
		}
		mustT(t, err)
		data, err := io.ReadAll(tr)
		mustT(t, err)
		ms = append(ms, bundleMember{hdr.Name, data})
	}
}

func writeBundle(t *testing.T, path string, ms []bundleMember) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		mustT(t, tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}))
		_, err := tw.Write(m.data)
		mustT(t, err)
	}
	mustT(t, tw.Close())
	mustT(t, zw.Close())
	mustT(t, os.WriteFile(path, buf.Bytes(), 0o644))
}

// find returns member drill-evidence/name.
func find(t *testing.T, ms []bundleMember, name string) *bundleMember {
	t.Helper()
	for i := range ms {
		if ms[i].name == "drill-evidence/"+name {
			return &ms[i]
		}
	}
	t.Fatalf("no member %s", name)
	return nil
}

// findSuffix returns the first member whose name ends in suffix.
func findSuffix(t *testing.T, ms []bundleMember, suffix string) *bundleMember {
	t.Helper()
	for i := range ms {
		if strings.HasSuffix(ms[i].name, suffix) {
			return &ms[i]
		}
	}
	t.Fatalf("no member *%s", suffix)
	return nil
}

func without(ms []bundleMember, name string) []bundleMember {
	var out []bundleMember
	for _, m := range ms {
		if m.name != "drill-evidence/"+name {
			out = append(out, m)
		}
	}
	return out
}

func insertAfter(ms []bundleMember, name string, add bundleMember) []bundleMember {
	var out []bundleMember
	for _, m := range ms {
		out = append(out, m)
		if m.name == "drill-evidence/"+name {
			out = append(out, add)
		}
	}
	return out
}

// replaceIn replaces the first old after the first anchor in member name.
func replaceIn(t *testing.T, ms []bundleMember, name, anchor, old, repl string) {
	t.Helper()
	m := find(t, ms, name)
	a := bytes.Index(m.data, []byte(anchor))
	if a < 0 {
		t.Fatalf("no %q in %s", anchor, name)
	}
	i := bytes.Index(m.data[a:], []byte(old))
	if i < 0 {
		t.Fatalf("no %q after %q in %s", old, anchor, name)
	}
	i += a
	m.data = append(append(bytes.Clone(m.data[:i]), repl...), m.data[i+len(old):]...)
}

// editJSON edits a JSON member as a map.
func editJSON(t *testing.T, ms []bundleMember, name string, fn func(map[string]any)) {
	t.Helper()
	m := find(t, ms, name)
	var v map[string]any
	mustT(t, json.Unmarshal(m.data, &v))
	fn(v)
	out, err := json.MarshalIndent(v, "", "  ")
	mustT(t, err)
	m.data = append(out, '\n')
}

// truncateBundle cuts a complete bundle to its first size records the
// way issue 14 did, without any key: entries.jsonl cut, the historical
// checkpoint of that size passed off as the latest, the later ones
// dropped, manifest.json adjusted.
func truncateBundle(t *testing.T, ms []bundleMember, size int) []bundleMember {
	t.Helper()
	hist := find(t, ms, "checkpoints.jsonl")
	lines := strings.SplitAfter(string(hist.data), "\n")
	var h struct {
		Note string `json:"note"`
	}
	mustT(t, json.Unmarshal([]byte(lines[size]), &h))
	hist.data = []byte(strings.Join(lines[:size+1], ""))
	find(t, ms, "checkpoint").data = []byte(h.Note)
	entries := find(t, ms, "entries.jsonl")
	entries.data = []byte(strings.Join(strings.SplitAfter(string(entries.data), "\n")[:size], ""))
	editJSON(t, ms, "manifest.json", func(m map[string]any) { m["log_size"], m["records"] = size, size })
	return ms
}

// rebuildReports renders the reports again from the bundle's entries and
// manifest, as drill would: what a forger with drill's source can do.
func rebuildReports(t *testing.T, ms []bundleMember) {
	t.Helper()
	var man bundle.Manifest
	mustT(t, json.Unmarshal(find(t, ms, "manifest.json").data, &man))
	var recs []*record.Record
	for line := range strings.SplitSeq(strings.TrimSpace(string(find(t, ms, "entries.jsonl").data)), "\n") {
		var e struct {
			Envelope json.RawMessage `json:"envelope"`
		}
		mustT(t, json.Unmarshal([]byte(line), &e))
		env, err := envelope.Decode(e.Envelope)
		mustT(t, err)
		st, err := env.Statement()
		mustT(t, err)
		recs = append(recs, st.Predicate)
	}
	cp := strings.SplitAfter(string(find(t, ms, "checkpoint").data), "\n")
	info := report.Info{Origin: man.Origin, LogSize: man.LogSize, Selection: man.Selection, Created: man.Created, Checkpoint: strings.Join(cp[:3], "")}
	var csv, html bytes.Buffer
	mustT(t, report.WriteCSV(&csv, recs))
	mustT(t, report.WriteHTML(&html, info, recs))
	find(t, ms, "report.csv").data = csv.Bytes()
	find(t, ms, "report.html").data = html.Bytes()
}

// editStatement changes the export statement's predicate with fn and
// sets every subject's digest to its member's SHA-256, keeping the
// signatures: everything but the signature agrees with the bundle.
func editStatement(t *testing.T, ms []bundleMember, fn func(predicate map[string]any)) {
	t.Helper()
	m := find(t, ms, "export.dsse.json")
	var env map[string]any
	mustT(t, json.Unmarshal(m.data, &env))
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	mustT(t, err)
	var st map[string]any
	mustT(t, json.Unmarshal(payload, &st))
	fn(st["predicate"].(map[string]any))
	sums := map[string]string{}
	for _, m := range ms {
		sum := sha256.Sum256(m.data)
		sums[m.name] = hex.EncodeToString(sum[:])
	}
	for _, s := range st["subject"].([]any) {
		s := s.(map[string]any)
		s["digest"] = map[string]any{"sha256": sums[s["name"].(string)]}
	}
	payload, err = json.Marshal(st)
	mustT(t, err)
	env["payload"] = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(env)
	mustT(t, err)
	m.data = append(out, '\n')
}
