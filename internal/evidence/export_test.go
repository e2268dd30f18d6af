package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/keys"
)

// truncate returns b cut to its first size records: entries.jsonl cut,
// the historical checkpoint of that size passed off as the latest, the
// later historical checkpoints dropped and manifest.json adjusted. No
// private key is needed; only the export statement stands in the way.
func truncate(t testing.TB, b []byte, size int) []byte {
	t.Helper()
	var cp []byte
	b = edit(t, b, "checkpoints.jsonl", lines(func(ls []string) []string {
		var h bundle.HistoryLine
		must(t, json.Unmarshal([]byte(ls[size]), &h))
		cp = []byte(h.Note)
		return ls[:size+1]
	}))
	b = edit(t, b, "checkpoint", func([]byte) []byte { return cp })
	b = edit(t, b, "entries.jsonl", lines(func(ls []string) []string { return ls[:size] }))
	return edit(t, b, "manifest.json", func(m []byte) []byte {
		var man bundle.Manifest
		must(t, json.Unmarshal(m, &man))
		man.LogSize, man.Records = int64(size), int64(size)
		out, _ := json.MarshalIndent(man, "", "  ")
		return append(out, '\n')
	})
}

// statement returns the export statement of bundle b, decoded.
func statementOf(t testing.TB, b []byte) (*envelope.Envelope, *bundle.ExportStatement) {
	t.Helper()
	for _, m := range unpack(t, b) {
		if m.name != bundle.MemberStatement {
			continue
		}
		env, err := envelope.Decode(bytes.TrimSuffix(m.data, []byte("\n")))
		must(t, err)
		payload, err := env.PayloadBytes()
		must(t, err)
		var st bundle.ExportStatement
		must(t, json.Unmarshal(payload, &st))
		return env, &st
	}
	t.Fatal("no export statement")
	return nil, nil
}

// restate changes the export statement with fn; with key it is signed
// again with key, else its signatures are kept.
func restate(t testing.TB, key *keys.Key, fn func(*bundle.ExportStatement)) func([]byte) []byte {
	return func(data []byte) []byte {
		env, err := envelope.Decode(bytes.TrimSuffix(data, []byte("\n")))
		must(t, err)
		payload, err := env.PayloadBytes()
		must(t, err)
		var st bundle.ExportStatement
		must(t, json.Unmarshal(payload, &st))
		fn(&st)
		payload, err = envelope.MarshalJSON(&st)
		must(t, err)
		if key != nil {
			out, err := envelope.Sign(payload, key)
			must(t, err)
			return append(out, '\n')
		}
		env.Payload = base64.StdEncoding.EncodeToString(payload)
		out, err := envelope.MarshalJSON(env)
		must(t, err)
		return append(out, '\n')
	}
}

// removeMember returns b without member name.
func removeMember(t testing.TB, b []byte, name string) []byte {
	t.Helper()
	var out []member
	for _, m := range unpack(t, b) {
		if m.name != bundle.Dir+name {
			out = append(out, m)
		}
	}
	return pack(t, out)
}

// TestExportStatement: a bundle carries a signed export statement that
// binds the log's size and every member; cutting the bundle short,
// changing a report, or adding, removing or changing a member is refused
// with what and where, and so is a bundle without a statement.
func TestExportStatement(t *testing.T) {
	key := testKey(t, testOrigin)
	other := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 10)
	full, _ := exportBundle(t, path, key, bundle.Selection{})
	subset, _ := exportBundle(t, path, key, bundle.Selection{Service: "billing", Since: testTime.Add(4 * 3600e9)})
	pub := bundle.Options{Key: []byte(key.VerifierKey)}

	_, st := statementOf(t, full)
	if st.PredicateType != bundle.ExportType || st.Predicate.LogSize != 10 || !st.Predicate.Complete || st.Predicate.Selection != "all records" || len(st.Subject) < 7 {
		t.Fatalf("export statement %+v, predicate %+v", st, st.Predicate)
	}
	_, sst := statementOf(t, subset)
	if sp := sst.Predicate; sp.Complete || sp.Service != "billing" || !sp.Since.Equal(testTime.Add(4*3600e9)) || sp.Records != 6 {
		t.Fatalf("subset predicate %+v", sp)
	}

	// verdict flips a record's verdict in a report.
	verdict := func(from, to string) func([]byte) []byte {
		return func(b []byte) []byte {
			i := bytes.Index(b, []byte(from))
			if i < 0 {
				t.Fatalf("no %q in the report", from)
			}
			return append(append(bytes.Clone(b[:i]), to...), b[i+len(from):]...)
		}
	}
	for _, tc := range []struct {
		name   string
		bundle []byte
		want   string
	}{
		{"truncated to an older signed size", truncate(t, full, 6),
			"CUT SHORT: the export statement says the log had 10 records when it was exported, but this bundle shows 6: records 6 to 9 were removed after export"},
		{"truncated, the statement re-signed by another key", edit(t, truncate(t, full, 6), "export.dsse.json", restate(t, other, func(st *bundle.ExportStatement) {
			st.Predicate.LogSize = 6
		})), "export statement (export.dsse.json): payload does not match its signature"},
		{"report.csv: fail to pass", edit(t, full, "report.csv", verdict(",fail,", ",pass,")),
			`report.csv line 3 (record 1) differs from the report rebuilt from the verified entries: the bundle has "`},
		{"report.html: fail to pass", edit(t, full, "report.html", verdict(`<span class="v v-fail">fail</span>`, `<span class="v v-pass">pass</span>`)),
			"report.html line "},
		{"report.csv: a line appended", edit(t, full, "report.csv", func(b []byte) []byte { return append(b, "10,x\n"...) }),
			`report.csv line 12 differs from the report rebuilt from the verified entries: the bundle has "10,x" where the entries give the end of the file`},
		{"report.csv rendered otherwise by the exporter", func() []byte {
			b := edit(t, full, "report.csv", verdict(",fail,", ",pass,"))
			var csv []byte
			for _, m := range unpack(t, b) {
				if m.name == bundle.MemberReportCSV {
					csv = m.data
				}
			}
			return edit(t, b, "export.dsse.json", restate(t, key, func(st *bundle.ExportStatement) {
				for _, s := range st.Subject {
					if s.Name == bundle.MemberReportCSV {
						sum := sha256.Sum256(csv)
						s.Digest["sha256"] = hex.EncodeToString(sum[:])
					}
				}
			}))
		}(), "it is the report that was exported, but it does not show the records: it was rendered by a drill that writes reports differently"},
		{"statement dropped", removeMember(t, full, "export.dsse.json"), "no export statement (export.dsse.json)"},
		{"statement: log size edited", edit(t, full, "export.dsse.json", restate(t, nil, func(st *bundle.ExportStatement) { st.Predicate.LogSize = 6 })),
			"export statement (export.dsse.json): payload does not match its signature"},
		{"statement: selection edited", edit(t, subset, "export.dsse.json", restate(t, nil, func(st *bundle.ExportStatement) { st.Predicate.Selection = "all records" })),
			"payload does not match its signature"},
		{"statement: a member digest edited", edit(t, full, "export.dsse.json", restate(t, nil, func(st *bundle.ExportStatement) {
			st.Subject[0].Digest["sha256"] = strings.Repeat("0", 64)
		})), "payload does not match its signature"},
		{"statement of another bundle", edit(t, full, "export.dsse.json", func([]byte) []byte {
			for _, m := range unpack(t, subset) {
				if m.name == bundle.MemberStatement {
					return m.data
				}
			}
			return nil
		}), "the export statement says complete=false, manifest.json says complete=true"},
		{"a member added", pack(t, append(unpack(t, full)[:1:1], append([]member{{bundle.Dir + "keys/extra.pub", []byte(other.VerifierKey + "\n")}}, unpack(t, full)[1:]...)...)),
			"member drill-evidence/keys/extra.pub is not in the export statement: it was added after export"},
		{"a member changed", edit(t, full, "keys/drill.test_bk01-1.pub", func([]byte) []byte { return []byte(other.VerifierKey + "\n") }),
			"-1.pub was changed after export: its SHA-256 is "},
		{"a member removed", removeMember(t, full, "keys/drill.test_bk01-1.pem"),
			"-1.pem, listed in the export statement, is missing: it was removed after export"},
		{"a member after the statement", pack(t, append(unpack(t, full), member{bundle.Dir + "keys/extra.pub", nil})),
			"member drill-evidence/keys/extra.pub comes after the export statement"},
		{"a bundle of format 1", edit(t, removeMember(t, full, "export.dsse.json"), "manifest.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"format": 2`), []byte(`"format": 1`), 1)
		}), "made by drill before export statements (manifest.json format 1)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Verify(context.Background(), bytes.NewReader(tc.bundle), pub)
			if err == nil {
				t.Fatalf("VerifyBundle passed; want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\nwant it to contain %q", err, tc.want)
			}
		})
	}

	rep, err := bundle.Verify(context.Background(), bytes.NewReader(full), pub)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Export == nil || rep.Export.LogSize != 10 || !rep.Export.Created.Equal(testTime) || strings.Join(rep.Reports, " ") != "report.csv report.html" {
		t.Errorf("report %+v", rep)
	}
}

// Export needs the private key: the statement is signed.
func TestExportNeedsTheKey(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 2)
	vk, err := keys.VerifyOnly(key.VerifierKey)
	must(t, err)
	s, err := Open(path, Options{Key: vk, ReadOnly: true})
	must(t, err)
	defer s.Close()
	var buf bytes.Buffer
	if _, err := s.Export(&buf, bundle.Selection{}, testTime); err == nil || !strings.Contains(err.Error(), "signed with the log's private key") {
		t.Errorf("Export without the private key: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("Export without the private key wrote %d bytes", buf.Len())
	}
}
