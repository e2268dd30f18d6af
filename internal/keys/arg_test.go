package keys

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// showOutput is what drill keys show prints for k.
func showOutput(k *Key) string {
	return k.VerifierKey + "\nkey id: " + k.KeyID() + "\n" + string(k.PublicPEM())
}

// TestParsePublicKeyShowOutput parses the whole output of drill keys show,
// as saved to a file or pasted from an email, and refuses one whose parts
// are not the same key.
func TestParsePublicKeyShowOutput(t *testing.T) {
	dir := t.TempDir()
	k, err := LoadOrCreate(filepath.Join(dir, "a"), "drill.test/host1")
	if err != nil {
		t.Fatal(err)
	}
	other, err := LoadOrCreate(filepath.Join(dir, "b"), "drill.test/host2")
	if err != nil {
		t.Fatal(err)
	}
	show := showOutput(k)
	for _, text := range []string{
		show,
		"\n\n  " + strings.ReplaceAll(show, "\n", "\r\n") + "\r\n\r\n",
		k.VerifierKey + "\n" + string(k.PublicPEM()),
		k.VerifierKey + "\nkey id: " + k.KeyID() + "\n",
	} {
		pub, vkey, err := ParsePublicKey([]byte(text))
		if err != nil {
			t.Errorf("ParsePublicKey(%q): %v", text, err)
			continue
		}
		if !pub.Equal(k.Public) || vkey != k.VerifierKey {
			t.Errorf("ParsePublicKey(%q) = %x, %q, want %x, %q", text, pub, vkey, k.Public, k.VerifierKey)
		}
	}
	for _, tt := range []struct{ name, text, want string }{
		{"another key's PEM", k.VerifierKey + "\n" + string(other.PublicPEM()), "the note verifier key and the PEM block are different keys"},
		{"another key's ID", k.VerifierKey + "\nkey id: " + other.KeyID() + "\n" + string(k.PublicPEM()), "the key ID is not the ID of the key beside it"},
	} {
		if _, _, err := ParsePublicKey([]byte(tt.text)); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ParsePublicKey error = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestReadPublicKeyArg resolves --key arguments: the key itself as pasted,
// a file holding it in any form, and says, for anything else, what it
// tried and what a key looks like, never quoting a private key.
func TestReadPublicKeyArg(t *testing.T) {
	dir := t.TempDir()
	keyDir := filepath.Join(dir, "keys")
	k, err := LoadOrCreate(keyDir, "backup1.example.org/drill")
	if err != nil {
		t.Fatal(err)
	}
	private, err := os.ReadFile(filepath.Join(keyDir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The note key with its hash's first digit changed.
	i := strings.Index(k.VerifierKey, "+") + 1
	damaged := k.VerifierKey[:i] + map[bool]string{true: "1", false: "0"}[k.VerifierKey[i] == '0'] + k.VerifierKey[i+1:]

	for _, tt := range []struct{ name, arg string }{
		{"the note key", k.VerifierKey},
		{"the note key pasted with white space", "  " + k.VerifierKey + "\r\n"},
		{"the PEM block", string(k.PublicPEM())},
		{"the output of keys show", showOutput(k)},
		{"drill.pub", filepath.Join(keyDir, PublicKeyFile)},
		{"a PEM file", file("key.pem", string(k.PublicPEM()))},
		{"a file of keys show's output", file("show.txt", "\n"+showOutput(k)+"\n")},
	} {
		got, err := ReadPublicKeyArg(tt.arg)
		if err != nil {
			t.Errorf("%s: ReadPublicKeyArg(%q): %v", tt.name, tt.arg, err)
			continue
		}
		if pub, _, err := ParsePublicKey(got); err != nil || !pub.Equal(k.Public) {
			t.Errorf("%s: ReadPublicKeyArg(%q) = %q, which is not the key (%v)", tt.name, tt.arg, got, err)
		}
	}

	missing := filepath.Join(dir, "auditor.pub")
	for _, tt := range []struct{ name, arg, want string }{
		{"a missing file", missing, `"` + missing + `" is neither a file that can be read (no such file or directory) nor a public key; ` +
			`want the public key as drill keys show prints it on the host: a note verifier key (name+hash+base64`},
		{"a folder", dir, "is a directory) nor a public key"},
		{"a file of something else", file("notes.txt", "hello\n"), "key file " + filepath.Join(dir, "notes.txt") + ": parse public key: parse verifier key: malformed verifier id; want the public key as drill keys show prints it"},
		{"a large file", file("big", strings.Repeat("x", 65<<10)), "larger than 64 KiB"},
		{"a damaged key", damaged, "not a public key (nor a file of that name): parse public key: parse verifier key: invalid verifier hash; want the public key"},
		{"a cut PEM block", string(k.PublicPEM()[:40]), "not a public key (nor a file of that name): parse public key: malformed PEM block"},
		{"nothing", " ", "empty"},
		{"the private key", string(private), "not a public key (nor a file of that name): parse public key: this is a private key, which is never handed out"},
		{"the private key file", filepath.Join(keyDir, KeyFile), "key file " + filepath.Join(keyDir, KeyFile) + ": parse public key: this is a private key"},
	} {
		got, err := ReadPublicKeyArg(tt.arg)
		if err == nil {
			t.Errorf("%s: ReadPublicKeyArg(%q) = %q, want an error", tt.name, tt.arg, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: ReadPublicKeyArg error =\n%s\nwant it to contain\n%s", tt.name, err, tt.want)
		}
		secret := bytes.TrimSpace(private)
		if strings.Contains(err.Error(), string(secret[len(secret)-16:])) {
			t.Errorf("%s: the error quotes the private key: %s", tt.name, err)
		}
	}
}
