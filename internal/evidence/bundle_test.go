package evidence

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// member is one file of a bundle.
type member struct {
	name string
	data []byte
}

func unpack(t testing.TB, b []byte) []member {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var out []member
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		out = append(out, member{hdr.Name, data})
	}
}

func pack(t testing.TB, ms []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, m := range ms {
		must(t, tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}))
		if _, err := tw.Write(m.data); err != nil {
			t.Fatal(err)
		}
	}
	must(t, tw.Close())
	must(t, zw.Close())
	return buf.Bytes()
}

// edit returns b with member name's content replaced by fn's result.
func edit(t testing.TB, b []byte, name string, fn func([]byte) []byte) []byte {
	t.Helper()
	ms := unpack(t, b)
	found := false
	for i := range ms {
		if ms[i].name == bundle.Dir+name {
			ms[i].data = fn(ms[i].data)
			found = true
		}
	}
	if !found {
		t.Fatalf("no member %s", name)
	}
	return pack(t, ms)
}

// lines edits entries.jsonl as lines.
func lines(fn func([]string) []string) func([]byte) []byte {
	return func(b []byte) []byte {
		ls := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return []byte(strings.Join(fn(ls), "\n") + "\n")
	}
}

// manifestRecords sets manifest.json's record count.
func manifestRecords(n int) func([]byte) []byte {
	return func(b []byte) []byte {
		var m bundle.Manifest
		if err := json.Unmarshal(b, &m); err != nil {
			panic(err) // b is the manifest.json of a bundle the test exported
		}
		m.Records = int64(n)
		out, _ := json.Marshal(m)
		return out
	}
}

// reencode changes record line's predicate with fn and puts the payload
// back into the envelope, signatures untouched.
func reencode(t testing.TB, line string, fn func(*record.Record)) string {
	t.Helper()
	var e bundle.EntryLine
	if err := json.Unmarshal([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Decode(e.Envelope)
	if err != nil {
		t.Fatal(err)
	}
	st, err := env.Statement()
	if err != nil {
		t.Fatal(err)
	}
	fn(st.Predicate)
	payload, _ := json.Marshal(st)
	env.Payload = base64.StdEncoding.EncodeToString(payload)
	envb, _ := json.Marshal(env)
	return `{"index":` + strconv.FormatInt(e.Index, 10) + `,"envelope":` + string(envb) + `}`
}

func exportBundle(t testing.TB, path string, key *keys.Key, sel bundle.Selection) ([]byte, []byte) {
	t.Helper()
	s, err := Open(path, Options{Key: key, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var buf bytes.Buffer
	sum, err := s.Export(&buf, sel, testTime)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum.Checkpoint
}

// TestBundleTamperMatrix: every way of tampering with a real exported
// bundle is detected, with a message that says what and where; the
// intact bundles verify.
// bundleModes are the two ways bundle.Verify checks signatures.
var bundleModes = []struct {
	name     string
	thorough bool
}{{"batch", false}, {"thorough", true}}

func TestBundleTamperMatrix(t *testing.T) {
	key := testKey(t, testOrigin)
	other := testKey(t, testOrigin)
	dir := t.TempDir()
	path := newLog(t, dir, testOrigin, key, 6)
	old, oldCP := exportBundle(t, path, key, bundle.Selection{})
	// The log grows: 10 records.
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := 6; i < 10; i++ {
		if _, err := s.Append(testRecord(i, verdictFor(i))); err != nil {
			t.Fatal(err)
		}
	}
	must(t, s.Close())
	full, fullCP := exportBundle(t, path, key, bundle.Selection{})
	subset, _ := exportBundle(t, path, key, bundle.Selection{Since: testTime.Add(3 * 3600e9), Until: testTime.Add(7 * 3600e9)})
	// A second log of the same origin, signed with the same key: history
	// rewritten by someone holding the private key.
	// Record 2 passed in the original; here it says fail.
	forged := filepath.Join(t.TempDir(), "drill.db")
	fs, err := Open(forged, Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		v := verdictFor(i)
		if i == 2 {
			v = record.VerdictFail
		}
		if _, err := fs.Append(testRecord(i, v)); err != nil {
			t.Fatal(err)
		}
	}
	must(t, fs.Close())
	rewritten, _ := exportBundle(t, forged, key, bundle.Selection{})

	pub := []byte(key.VerifierKey + "\n")
	for _, tc := range []struct {
		name   string
		bundle []byte
		opt    bundle.Options
		want   string // "" for verifies
	}{
		{"intact", full, bundle.Options{Key: pub}, ""},
		{"intact, PEM key", full, bundle.Options{Key: key.PublicPEM()}, ""},
		{"intact, extends the older checkpoint", full, bundle.Options{Key: pub, Previous: oldCP}, ""},
		{"intact subset", subset, bundle.Options{Key: pub, Previous: oldCP}, ""},
		{"intact, its own key", full, bundle.Options{}, ""},
		{"verdict changed from fail to pass", edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			ls[3] = reencode(t, ls[3], func(r *record.Record) { r.Verdict, r.Reasons = record.VerdictPass, []string{} })
			return ls
		})), bundle.Options{Key: pub}, "record 3: payload does not match its signature"},
		{"verdict changed in a subset", edit(t, subset, "entries.jsonl", lines(func(ls []string) []string {
			ls[0] = reencode(t, ls[0], func(r *record.Record) { r.Verdict = record.VerdictPass })
			return ls
		})), bundle.Options{Key: pub}, "record 3: payload does not match its signature"},
		{"record removed", edit(t, edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			return append(ls[:4:4], ls[5:]...)
		})), "manifest.json", manifestRecords(9)), bundle.Options{Key: pub}, "record 4: missing from a complete bundle (the next entry is record 5)"},
		{"record removed from a subset", edit(t, subset, "entries.jsonl", lines(func(ls []string) []string {
			return ls[1:]
		})), bundle.Options{Key: pub}, "entries.jsonl holds 3 records, manifest.json says 4"},
		{"two records swapped", edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			ls[2], ls[5] = strings.Replace(ls[5], `{"index":5,`, `{"index":2,`, 1), strings.Replace(ls[2], `{"index":2,`, `{"index":5,`, 1)
			return ls
		})), bundle.Options{Key: pub}, "record 2: log_index is 5 (a record moved or copied from elsewhere)"},
		{"record inserted twice", edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			return append(ls[:4:4], append([]string{ls[3]}, ls[4:]...)...)
		})), bundle.Options{Key: pub}, "record 3: appears out of order or twice"},
		{"record appended beyond the checkpoint", edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			return append(ls, strings.Replace(ls[9], `{"index":9,`, `{"index":10,`, 1))
		})), bundle.Options{Key: pub}, "record 10: lies beyond the bundle's checkpoint of size 10"},
		{"last records cut off, checkpoint kept", edit(t, edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			return ls[:8]
		})), "manifest.json", manifestRecords(8)), bundle.Options{Key: pub}, "record 8: missing: the bundle ends at record 8 but its checkpoint has size 10"},
		{"rollback: the older bundle against the newer checkpoint", old, bundle.Options{Key: pub, Previous: fullCP},
			"ROLLBACK: this bundle shows the log at size 6, but your earlier checkpoint has size 10"},
		{"history rewritten with the key", rewritten, bundle.Options{Key: pub, Previous: oldCP},
			"HISTORY REWRITTEN: the first 6 records of this bundle's log do not give the root hash of your earlier checkpoint of size 6"},
		{"latest checkpoint replaced by an older one", edit(t, full, "checkpoint", func([]byte) []byte { return oldCP }),
			bundle.Options{Key: pub}, "the latest checkpoint has size 6 but manifest.json says the log has 10 records"},
		{"forged checkpoint signature", edit(t, full, "checkpoint", func(b []byte) []byte {
			c := bytes.Clone(b)
			i := bytes.LastIndex(c, []byte(" ")) + 10
			c[i] ^= 'A' ^ 'B'
			if c[i] == '\n' {
				c[i+1] ^= 1
			}
			return c
		}), bundle.Options{Key: pub}, "checkpoint 10: "},
		{"forged record signature", edit(t, full, "entries.jsonl", lines(func(ls []string) []string {
			i := strings.Index(ls[7], `"sig":"`) + 10
			b := []byte(ls[7])
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			ls[7] = string(b)
			return ls
		})), bundle.Options{Key: pub}, "record 7: payload does not match its signature"},
		{"different key", full, bundle.Options{Key: []byte(other.VerifierKey)}, "checkpoint 10: not signed by the key you gave"},
		{"different PEM key", full, bundle.Options{Key: other.PublicPEM()}, "checkpoint 10: not signed by the key you gave"},
		{"truncated file", full[:len(full)/2], bundle.Options{Key: pub}, "truncated or corrupt"},
		{"not a bundle", []byte("hello"), bundle.Options{Key: pub}, "not a gzip'd tar archive"},
		{"historical checkpoint dropped", edit(t, full, "checkpoints.jsonl", lines(func(ls []string) []string {
			return append(ls[:3:3], ls[4:]...)
		})), bundle.Options{Key: pub}, "a complete bundle holds 10 historical checkpoints, want all 11"},
		{"leaf hash changed in a subset", edit(t, subset, "hashes", func(b []byte) []byte {
			c := bytes.Clone(b)
			c[32*4] ^= 1
			return c
		}), bundle.Options{Key: pub}, "checkpoint 5: root hash does not match the records"},
	} {
		// Both modes, signatures in batches and each alone (thorough),
		// must find every case and say the same.
		for _, mode := range bundleModes {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				opt := tc.opt
				opt.Thorough = mode.thorough
				rep, err := bundle.Verify(context.Background(), bytes.NewReader(tc.bundle), opt)
				if tc.want == "" {
					if err != nil {
						t.Fatalf("VerifyBundle: %v", err)
					}
					if rep.Records != rep.Manifest.Records || rep.KeyFromBundle != (tc.opt.Key == nil) {
						t.Errorf("report %+v", rep)
					}
					return
				}
				if err == nil {
					t.Fatalf("VerifyBundle passed; want %q", tc.want)
				}
				if !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %q\nwant it to contain %q", err, tc.want)
				}
			})
		}
	}
}

// A subset bundle proves each selected record's place in the whole log:
// its entries, their checkpoints and proofs, and the report.
func TestBundleSubset(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 20)
	b, _ := exportBundle(t, path, key, bundle.Selection{Since: testTime.Add(5 * 3600e9), Until: testTime.Add(9 * 3600e9)})
	rep, err := bundle.Verify(context.Background(), bytes.NewReader(b), bundle.Options{Key: []byte(key.VerifierKey)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Manifest.Complete || rep.Records != 4 || rep.Manifest.LogSize != 20 || len(rep.Entries) != 4 || rep.Entries[0].LogIndex != 5 {
		t.Errorf("report %+v", rep)
	}
	names := map[string]bool{}
	for _, m := range unpack(t, b) {
		names[strings.TrimPrefix(m.name, bundle.Dir)] = true
	}
	for _, want := range []string{"manifest.json", "checkpoint", "checkpoints.jsonl", "hashes", "proofs.jsonl", "entries.jsonl", "report.csv", "report.html"} {
		if !names[want] {
			t.Errorf("no %s in the bundle", want)
		}
	}
}
