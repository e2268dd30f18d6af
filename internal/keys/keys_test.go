package keys

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func TestLoadOrCreateRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "keys")
	k1, err := LoadOrCreate(dir, "drill.test/host1")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k1.Name, "drill.test/host1"; got != want {
		t.Errorf("Name = %q, want %q", got, want)
	}

	for _, tc := range []struct {
		path string
		want fs.FileMode
	}{
		{dir, 0o700 | fs.ModeDir},
		{filepath.Join(dir, KeyFile), 0o600},
		{filepath.Join(dir, PublicKeyFile), 0o644},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode(); got != tc.want {
			t.Errorf("mode of %s = %v, want %v", tc.path, got, tc.want)
		}
	}

	pub, err := os.ReadFile(filepath.Join(dir, PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(pub), k1.VerifierKey+"\n"; got != want {
		t.Errorf("drill.pub = %q, want %q", got, want)
	}
	entries, _ := os.ReadDir(dir)
	if got, want := len(entries), 2; got != want {
		t.Errorf("key dir holds %d files, want %d (no temporary files left)", got, want)
	}

	k2, err := LoadOrCreate(dir, "drill.test/host1")
	if err != nil {
		t.Fatal(err)
	}
	k3, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []*Key{k2, k3} {
		if !k.Public.Equal(k1.Public) || !k.Private.Equal(k1.Private) || k.VerifierKey != k1.VerifierKey {
			t.Errorf("reloaded key %s differs from created key %s", k, k1)
		}
	}

	// The signer and verifier belong together, and the private key is the
	// one behind them.
	signed, err := note.Sign(&note.Note{Text: "hello\n"}, k3.Signer)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(signed, note.VerifierList(k1.Verifier)); err != nil {
		t.Errorf("note signed by the reloaded key does not verify: %v", err)
	}
	msg := []byte("payload")
	if !ed25519.Verify(k1.Public, msg, ed25519.Sign(k3.Private, msg)) {
		t.Error("Private and Public do not belong together")
	}

	sum := sha256.Sum256(k1.Public)
	if got, want := k1.KeyID(), hex.EncodeToString(sum[:]); got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
	if s := fmt.Sprint(k1); strings.Contains(s, "PRIVATE") || s != k1.VerifierKey {
		t.Errorf("printing a key gives %q, want only the public key", s)
	}
}

func TestLoadOrCreateKeepsNameFromFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, "first"); err != nil {
		t.Fatal(err)
	}
	k, err := LoadOrCreate(dir, "second")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := k.Name, "first"; got != want {
		t.Errorf("Name = %q, want %q (the name in the key file wins)", got, want)
	}
}

func TestLoadOrCreateRewritesPublicFile(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreate(dir, "n")
	if err != nil {
		t.Fatal(err)
	}
	pubPath := filepath.Join(dir, PublicKeyFile)
	if err := os.Remove(pubPath); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, "n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if want := k.VerifierKey + "\n"; string(got) != want {
		t.Errorf("drill.pub = %q, want %q", got, want)
	}
}

func TestRefuseUnprotectedKeyFile(t *testing.T) {
	for _, tc := range []struct {
		mode fs.FileMode
		want string
	}{
		{0o644, "is readable by group or others (mode 0644); run: chmod 600 "},
		{0o640, "is readable by group or others (mode 0640); run: chmod 600 "},
		{0o604, "is readable by group or others (mode 0604); run: chmod 600 "},
		{0o620, "is accessible by group or others (mode 0620); run: chmod 600 "},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			dir := t.TempDir()
			if _, err := LoadOrCreate(dir, "n"); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, KeyFile)
			if err := os.Chmod(path, tc.mode); err != nil {
				t.Fatal(err)
			}
			want := "key file " + path + " " + tc.want + path
			for name, load := range map[string]func() (*Key, error){
				"Load":         func() (*Key, error) { return Load(dir) },
				"LoadOrCreate": func() (*Key, error) { return LoadOrCreate(dir, "n") },
			} {
				_, err := load()
				if err == nil || err.Error() != want {
					t.Errorf("%s: err = %v, want %q", name, err, want)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		content string // "" means no key file
		want    []string
	}{
		{"missing", "", []string{"drill.key does not exist", "drill keys init"}},
		{"garbage", "not a key\n", []string{"drill.key is not a drill signing key"}},
		{"public key instead", "n+12345678+AQID\n", []string{"drill.key is not a drill signing key"}},
		{"truncated", "PRIVATE+KEY+n+0a0b0c0d+AQID\n", []string{"drill.key is not a drill signing key"}},
		{"two lines", "", nil}, // filled in below from a real key
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, KeyFile)
			content, want := tc.content, tc.want
			if tc.name == "two lines" {
				skey, _, err := note.GenerateKey(nil, "n")
				if err != nil {
					t.Fatal(err)
				}
				content = skey + "\n" + skey + "\n"
				want = []string{"drill.key is not a drill signing key", "more than one line"}
			}
			if content != "" {
				if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Load(dir)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %q, want it to contain %q", err, w)
				}
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("err = %q, want it to name %s", err, path)
			}
			if strings.Contains(err.Error(), "PRIVATE") {
				t.Errorf("err = %q quotes the key file", err)
			}
			if tc.name == "missing" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err = %v, want it to wrap fs.ErrNotExist", err)
			}
			if _, err := os.Stat(path); tc.name == "missing" && err == nil {
				t.Error("Load created a key file")
			}
		})
	}
}

func TestLoadOrCreateRefusesCorruptKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, KeyFile)
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadOrCreate(dir, "n")
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want an error naming %s", err, path)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "garbage" {
		t.Error("LoadOrCreate replaced a corrupt key file; it must leave it for the operator")
	}
}

func TestInvalidNames(t *testing.T) {
	for _, name := range []string{"", "a+b", "a b", "a\tb", "a\nb", "\xff"} {
		if _, err := LoadOrCreate(t.TempDir(), name); err == nil {
			t.Errorf("LoadOrCreate(%q) succeeded, want an error", name)
		}
	}
}

func TestParseVerifierKey(t *testing.T) {
	k, err := LoadOrCreate(t.TempDir(), "n")
	if err != nil {
		t.Fatal(err)
	}
	v, pub, err := ParseVerifierKey(k.VerifierKey + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(k.Public) || v.Name() != "n" || v.KeyHash() != k.Verifier.KeyHash() {
		t.Errorf("ParseVerifierKey gave %s/%x/%x, want n/%x/%x", v.Name(), v.KeyHash(), pub, k.Verifier.KeyHash(), k.Public)
	}
	vo, err := VerifyOnly(k.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	if vo.Private != nil || vo.Signer != nil || vo.KeyID() != k.KeyID() {
		t.Errorf("VerifyOnly = %+v, want the public half of %s", vo, k)
	}

	for _, bad := range []string{"", "n", "n+00000000+AQ==", "n+zzzz+AQ==", "PRIVATE+KEY+n+00000000+AQ=="} {
		if _, _, err := ParseVerifierKey(bad); err == nil {
			t.Errorf("ParseVerifierKey(%q) succeeded, want an error", bad)
		}
	}
}

// Base64 keys often contain '+', the field separator of note keys; parsing
// must cut fields from the front, not split on every '+'.
func TestParseKeysContainingPlus(t *testing.T) {
	seen := 0
	for i := 0; i < 200 && seen < 5; i++ {
		skey, vkey, err := note.GenerateKey(nil, "n")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(skey, "+") == 4 {
			continue
		}
		seen++
		k, err := parseSignerKey(skey)
		if err != nil {
			t.Fatalf("parseSignerKey: %v", err)
		}
		if k.VerifierKey != vkey {
			t.Errorf("VerifierKey = %q, want %q", k.VerifierKey, vkey)
		}
		if _, pub, err := ParseVerifierKey(vkey); err != nil || !pub.Equal(k.Public) {
			t.Errorf("ParseVerifierKey(%q) = %x, %v; want %x", vkey, pub, err, k.Public)
		}
	}
	if seen == 0 {
		t.Fatal("no generated key contained '+' in its base64")
	}
}
