package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	a, b := digestOf(t, hexA), digestOf(t, hexB)
	tests := []struct {
		name  string
		input string
		want  []Entry
	}{
		{"an empty input is an empty manifest", "", nil},
		{"text mode lines are read and sorted",
			hexB + "  z.txt\n" + hexA + "  a.txt\n",
			[]Entry{{"a.txt", -1, a}, {"z.txt", -1, b}}},
		{"binary mode lines have a star before the name",
			hexA + " *a.bin\n",
			[]Entry{{"a.bin", -1, a}}},
		{"a leading ./ is stripped",
			hexA + "  ./a\n" + hexB + "  ./dir/b\n",
			[]Entry{{"a", -1, a}, {"dir/b", -1, b}}},
		{"escaped names are unescaped",
			`\` + hexA + `  new\nline\\back\rcr` + "\n",
			[]Entry{{"new\nline\\back\rcr", -1, a}}},
		{"an escaped line with ./ is unescaped first",
			`\` + hexA + `  ./x\\y` + "\n",
			[]Entry{{`x\y`, -1, a}}},
		{"without the leading backslash a backslash is part of the name",
			hexA + `  back\slash` + "\n",
			[]Entry{{`back\slash`, -1, a}}},
		{"CRLF line ends are tolerated",
			hexA + "  a\r\n" + hexB + "  b\r\n",
			[]Entry{{"a", -1, a}, {"b", -1, b}}},
		{"blank and comment lines are ignored, a last line may lack its newline",
			"\n# made by hand\n   \n" + hexA + "  a\n\r\n" + hexB + "  b",
			[]Entry{{"a", -1, a}, {"b", -1, b}}},
		{"uppercase hex is accepted",
			strings.ToUpper(hexA) + "  a\n",
			[]Entry{{"a", -1, a}}},
		{"spaces and stars in names are kept",
			hexA + "   lead\n" + hexB + "  *star trail \n",
			[]Entry{{" lead", -1, a}, {"*star trail ", -1, b}}},
		{"invalid UTF-8 names are kept as bytes",
			hexA + "  \xff\xfe\n",
			[]Entry{{"\xff\xfe", -1, a}}},
		{"BSD tag lines (sha256sum --tag, cksum -a sha256) are read, mixed with GNU ones",
			"SHA256 (a) = " + hexA + "\n" + hexB + "  b\nSHA256 (./dir/c d) = " + strings.ToUpper(hexB) + "\r\n",
			[]Entry{{"a", -1, a}, {"b", -1, b}, {"dir/c d", -1, b}}},
		{"a tag line's name may hold parentheses and the separator",
			"SHA256 (x) = (y)) = " + hexA + "\n",
			[]Entry{{"x) = (y)", -1, a}}},
		{"escaped tag lines are unescaped",
			`\SHA256 (new\nline\\x) = ` + hexA + "\n",
			[]Entry{{"new\nline\\x", -1, a}}},
		{"BSD sha256 -r lines have one space",
			hexA + " a\n" + hexB + " dir/b\n",
			[]Entry{{"a", -1, a}, {"dir/b", -1, b}}},
		{"absolute names are kept absolute",
			hexA + "  /srv/files/a\n" + hexB + " */srv/files/b\nSHA256 (/srv/c) = " + hexA + "\n",
			[]Entry{{"/srv/c", -1, a}, {"/srv/files/a", -1, a}, {"/srv/files/b", -1, b}}},
		{"a byte order mark at the start is dropped",
			"\xef\xbb\xbf" + hexA + "  a\n",
			[]Entry{{"a", -1, a}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse(strings.NewReader(tt.input))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Entries; !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"a short digest (sha1sum output)",
			hexA + "  a\nda39a3ee5e6b4b0d3255bfef95601890afd80709  b\n",
			`line 2: ` + wantFormat + `, got "da39a3ee5e6b4b0d3255bfef95601890afd80709  b"`},
		{"no file name", hexA + "  \n", `line 1: ` + wantFormat + `, got`},
		{"no name after one space", hexA + " \n", `line 1: ` + wantFormat + `, got`},
		{"a tab instead of the spaces", hexA + "\ta\n", `line 1: ` + wantFormat + `, got`},
		{"not hex", strings.Repeat("g", 64) + "  a\n", `line 1: ` + wantFormat + `, got "gggg`},
		{"a tag line with a short digest", "SHA256 (a) = " + hexA[:40] + "\n", `line 1: ` + wantFormat + `, got "SHA256 (a) = `},
		{"a tag line with no name", "SHA256 () = " + hexA + "\n", `line 1: ` + wantFormat},
		{"a tag line of base64 (cksum --base64)", "SHA256 (a) = 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", `line 1: ` + wantFormat},
		{"a tag line of another algorithm", hexA + "  a\nMD5 (b) = d41d8cd98f00b204e9800998ecf8427e\n", `line 2: a MD5 digest; want SHA256 lines (make the manifest with sha256sum), got "MD5 (b) = d41d8`},
		{"a SHA512 tag line", "SHA512 (b) = " + hexA + hexA + "\n", `line 1: a SHA512 digest; want SHA256 lines`},
		{"a long line is cut in the message", "x" + strings.Repeat("y", 500) + "\n", `yyy"...`},
		{"an unknown escape", `\` + hexA + `  a\tb` + "\n", `line 1: file name "a\\tb" has the unknown escape \t; want \\, \n or \r`},
		{"a lone backslash at the end", `\` + hexA + `  a\` + "\n", `line 1: file name "a\\" ends in a lone backslash`},
		{"an absolute name with an empty element", hexA + "  //etc/passwd\n", `line 1: file name "//etc/passwd" has an empty, "." or ".." element`},
		{"the root alone", hexA + "  /\n", `line 1: file name "/" has an empty`},
		{"an absolute name leaving the tree", hexA + "  /srv/../etc/passwd\n", `line 1: file name "/srv/../etc/passwd" has an empty, "." or ".." element`},
		{"a tag line's name leaving the tree", "SHA256 (../a) = " + hexA + "\n", `line 1: file name "../a" has an empty`},
		{"a name leaving the tree", "\n" + hexA + "  a/../../b\n", `line 2: file name "a/../../b" has an empty, "." or ".." element`},
		{"only ./", hexA + "  ./\n", `line 1: ` + wantFormat},
		{"a name listed twice, once with ./", hexA + "  a\n" + hexB + "  b\n" + hexB + "  ./a\n", `line 3: file name "a" is listed twice (first on line 1)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.input))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if got := err.Error(); !strings.Contains(got, tt.want) {
				t.Errorf("got error %q, want it to contain %q", got, tt.want)
			}
		})
	}
}

func TestParseFileErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "ref.sha256")
	if err := os.WriteFile(bad, []byte(hexA+"  a\nnonsense\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.sha256")
	// A symlink (to a secret, say) is refused before anything is read.
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("S3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.sha256")
	if err := os.Symlink(secret, link); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{bad, "read manifest " + bad + `: line 2: ` + wantFormat + `, got "nonsense"`},
		{missing, "read manifest: open reference manifest " + missing + ": no such file or directory"},
		{link, "read manifest: reference manifest " + link + " is a symlink: drill opens backup files only as regular files, never through a link (point the config at the file itself): not a regular file"},
	} {
		_, err := ParseFile(tt.path)
		if err == nil || err.Error() != tt.want {
			t.Errorf("got error %v, want %q", err, tt.want)
		}
	}
}

// TestParseReadsRealSha256sumOutput parses what sha256sum prints for the
// odd names in text, binary and tag (BSD) mode, with and without "./", and
// what `cksum -a sha256` prints, and gets the manifest HashTree makes of
// the same tree.
func TestParseReadsRealSha256sumOutput(t *testing.T) {
	needTools(t, "sha256sum", "find", "sort", "xargs")
	dir := t.TempDir()
	writeTree(t, dir, oddNames)
	want, err := HashTree(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{
		`find . -type f -printf '%P\0' | sort -z | xargs -0 sha256sum --`,
		`find . -type f -print0 | xargs -0 sha256sum --binary --`,
		`find . -type f -print0 | xargs -0 sha256sum --text --`,
		`find . -type f -exec sha256sum {} +`,
		`find . -type f -print0 | xargs -0 sha256sum --tag --`,
		`find . -type f -print0 | xargs -0 cksum -a sha256 --`,
	} {
		t.Run(script, func(t *testing.T) {
			out := shell(t, dir, script, nil)
			m, err := Parse(bytes.NewReader(out))
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got, want := m.Entries, withoutSizes(want); !reflect.DeepEqual(got, want) {
				t.Errorf("got %s\nwant %s", show(got), show(want))
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(hexA + "  a.txt\n" + hexB + " *dir/b\n"))
	f.Add([]byte(`\` + hexA + `  new\nline\\x\r` + "\r\n\n# c\n"))
	f.Add([]byte(hexA + "  ./a\r\n" + hexA + "  ./b"))
	f.Add([]byte(" \t" + strings.ToUpper(hexB) + "   \xff*\\\n"))
	f.Add([]byte("SHA256 (a) = " + hexA + "\n"))
	f.Add([]byte(`\SHA256 (./x) = (y\n) = ` + hexB + "\r\n" + hexA + " /abs\n"))
	f.Add([]byte("\xef\xbb\xbfMD5 (a) = " + hexA + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse(bytes.NewReader(data))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if _, err := m.WriteTo(&buf); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("parse of WriteTo output: %v\n%q", err, buf.Bytes())
		}
		if !reflect.DeepEqual(again.Entries, m.Entries) {
			t.Fatalf("round trip changed the entries:\ngot %s\nwant %s", show(again.Entries), show(m.Entries))
		}
		for _, e := range m.Entries {
			if !validPath(strings.TrimPrefix(e.Path, "/")) || e.Size != -1 {
				t.Fatalf("Parse returned entry %s", show([]Entry{e}))
			}
		}
	})
}
