package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// digestOf returns the digest whose hex form is s.
func digestOf(t testing.TB, s string) [32]byte {
	t.Helper()
	var d [32]byte
	if _, err := hex.Decode(d[:], []byte(s)); err != nil || len(s) != 64 {
		t.Fatalf("bad test digest %q: %v", s, err)
	}
	return d
}

const (
	hexA = "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb" // sha256("a")
	hexB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d" // sha256("b")
)

func TestWriteToPrintsWhatSha256sumPrints(t *testing.T) {
	a, b := digestOf(t, hexA), digestOf(t, hexB)
	tests := []struct {
		name    string
		entries []Entry
		want    string
	}{
		{"an empty manifest writes nothing", nil, ""},
		{"plain names are written as they are, two spaces after the digest",
			[]Entry{{Path: "a.txt", SHA256: a}, {Path: "dir/b c.txt", SHA256: b}},
			hexA + "  a.txt\n" + hexB + "  dir/b c.txt\n"},
		{"a newline in a name is escaped and the line starts with a backslash",
			[]Entry{{Path: "new\nline", SHA256: a}},
			`\` + hexA + `  new\nline` + "\n"},
		{"a backslash in a name is doubled",
			[]Entry{{Path: `back\slash`, SHA256: a}},
			`\` + hexA + `  back\\slash` + "\n"},
		{"a carriage return is escaped as coreutils 9.1 does",
			[]Entry{{Path: "cr\rname", SHA256: a}},
			`\` + hexA + `  cr\rname` + "\n"},
		{"tabs, leading dashes, stars and invalid UTF-8 are not escaped",
			[]Entry{{Path: "-x\t*\xff", SHA256: b}},
			hexB + "  -x\t*\xff\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &Manifest{Entries: tt.entries}
			var buf bytes.Buffer
			n, err := m.WriteTo(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
			if n != int64(buf.Len()) {
				t.Errorf("WriteTo returned %d, wrote %d bytes", n, buf.Len())
			}
			if got, want := m.Digest(), sha256.Sum256(buf.Bytes()); got != want {
				t.Errorf("Digest() = %x, want the SHA-256 of the WriteTo output %x", got, want)
			}
		})
	}
}

func TestWriteToLargeManifestIsWrittenWhole(t *testing.T) {
	// More than one internal write buffer's worth of lines.
	m := &Manifest{}
	for i := range 5000 {
		m.Entries = append(m.Entries, Entry{Path: string(rune('a'+i%26)) + "/file", SHA256: [32]byte{byte(i)}})
	}
	var buf bytes.Buffer
	n, err := m.WriteTo(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n, int64(5000*(64+2+6+1)); got != want || int64(buf.Len()) != want {
		t.Errorf("got %d bytes (returned %d), want %d", buf.Len(), got, want)
	}
}

func TestSortUsesByteOrder(t *testing.T) {
	m := &Manifest{Entries: []Entry{{Path: "b"}, {Path: "\xff"}, {Path: "B"}, {Path: "a/b"}, {Path: "a b"}, {Path: "a"}}}
	m.Sort()
	got, want := paths(m), []string{"B", "a", "a b", "a/b", "b", "\xff"}
	if !equalStrings(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTotalBytesCountsKnownSizes(t *testing.T) {
	m := &Manifest{Entries: []Entry{{Path: "a", Size: 10}, {Path: "b", Size: -1}, {Path: "c", Size: 5}}}
	if got, want := m.TotalBytes(), int64(15); got != want {
		t.Errorf("got %d, want %d", got, want)
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
