package restic

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseSnapshots(t *testing.T) {
	const id = "f1875ce9c578b5c0364b50eef0297d9499b12afd98028893917b5f529ae368cb"
	in := `[{"time":"2026-11-25T19:43:37.340995305Z","parent":"24d808b2","tree":"ed1ca5d0","paths":["/lab/src"],
	  "hostname":"labhost","username":"root","tags":["drill","incr"],"program_version":"restic 0.19.1",
	  "summary":{"backup_start":"2026-11-25T19:43:30Z","files_new":21,"total_files_processed":2042,"total_bytes_processed":1011923590},
	  "id":"` + id + `","short_id":"f1875ce9"}]`
	got, err := parseSnapshots([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Snapshot{{
		ID: id, ShortID: "f1875ce9", Time: time.Date(2026, 11, 25, 19, 43, 37, 340995305, time.UTC),
		Parent: "24d808b2", Tree: "ed1ca5d0", Paths: []string{"/lab/src"}, Hostname: "labhost", Username: "root",
		Tags: []string{"drill", "incr"}, Summary: &SnapshotSummary{TotalFilesProcessed: 2042, TotalBytesProcessed: 1011923590},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	for _, tc := range []struct{ name, in, wantErr string }{
		{"no match is an empty list", "[]\n", ""},
		{"not json", "Fatal: wrong password", "parse restic snapshots --json"},
		{"grouped output", `[{"group_key":{"hostname":"h"},"snapshots":[]}]`, "has no valid id"},
		{"no time", `[{"id":"` + id + `"}]`, "has no time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSnapshots([]byte(tc.in))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// The lines are restic 0.19.1's, as printed by restore --json --verbose=2,
// check --json, and any command that fails.
func TestParseMessage(t *testing.T) {
	tests := []struct {
		line string
		want Message
	}{
		{`{"message_type":"status","seconds_elapsed":2,"percent_done":0.5,"total_files":6,"files_restored":3,"total_bytes":300003,"bytes_restored":150000}`,
			Message{Kind: "status", PercentDone: 0.5, TotalFiles: 6, FilesRestored: 3, TotalBytes: 300003, BytesRestored: 150000}},
		{`{"message_type":"verbose_status","action":"restored","item":"/src/new\nline","size":1}`,
			Message{Kind: "verbose_status", Action: "restored", Item: "/src/new\nline", Size: 1}},
		{`{"message_type":"summary","total_files":6,"files_restored":6,"total_bytes":300003,"bytes_restored":300003}`,
			Message{Kind: "summary", TotalFiles: 6, FilesRestored: 6, TotalBytes: 300003, BytesRestored: 300003}},
		{`{"message_type":"error","error":{"message":"decrypting blob \u003cdata/21de6e4f\u003e from 59454fd8 failed: ciphertext verification failed"},"during":"restore","item":"/src/small/f01008.dat"}`,
			Message{Kind: "error", Text: "decrypting blob <data/21de6e4f> from 59454fd8 failed: ciphertext verification failed", During: "restore", Item: "/src/small/f01008.dat"}},
		{`{"message_type":"error","message":"pack 59454fd8: does not exist\n"}`,
			Message{Kind: "error", Text: "pack 59454fd8: does not exist\n"}},
		{`{"message_type":"exit_error","code":12,"message":"Fatal: wrong password or no key found"}`,
			Message{Kind: "exit_error", Code: 12, Text: "Fatal: wrong password or no key found"}},
		{"Load(<data/59454fd8e2>, 52486, 0) failed: open /r/data/59/59454fd8: no such file or directory\n",
			Message{Kind: "text", Text: "Load(<data/59454fd8e2>, 52486, 0) failed: open /r/data/59/59454fd8: no such file or directory"}},
		{"\x1b[2Ksignal interrupt received, cleaning up\r\n", Message{Kind: "text", Text: "signal interrupt received, cleaning up"}},
		{`{"not_a_message":1}`, Message{Kind: "text", Text: `{"not_a_message":1}`}},
		{"", Message{Kind: "text"}},
	}
	for _, tt := range tests {
		if got := parseMessage([]byte(tt.line)); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseMessage(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
		}
	}
}

func FuzzParseSnapshots(f *testing.F) {
	f.Add([]byte(`[]`))
	f.Add([]byte(`[{"time":"2026-11-25T19:43:37Z","id":"f1875ce9c578b5c0364b50eef0297d9499b12afd98028893917b5f529ae368cb","paths":["/x"]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		snaps, err := parseSnapshots(b)
		if err != nil {
			return
		}
		for _, s := range snaps {
			if !isHexID(s.ID) || s.Time.IsZero() {
				t.Fatalf("accepted snapshot %+v", s)
			}
		}
	})
}

func FuzzParseMessage(f *testing.F) {
	f.Add([]byte(`{"message_type":"exit_error","code":1,"message":"x"}`))
	f.Add([]byte(`{"message_type":"error","error":{"message":"x"},"during":"restore","item":"/a"}`))
	f.Add([]byte("\x1b[2Kplain"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := parseMessage(b)
		if m.Kind == "" {
			t.Fatalf("no kind for %q", b)
		}
		if m.Kind == "text" && strings.ContainsAny(m.Text, "\x1b\n\r") {
			t.Fatalf("text keeps control characters: %q", m.Text)
		}
	})
}
