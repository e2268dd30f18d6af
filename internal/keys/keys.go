// Package keys manages drill's signing key: one Ed25519 key that signs the
// evidence records (DSSE envelopes) and the checkpoints of the evidence log
// (C2SP signed notes).
//
// The key lives in state_dir/keys (mode 0700) as two files:
//
//	drill.key  the note signer key "PRIVATE+KEY+<name>+<hash>+<base64>", mode 0600
//	drill.pub  the note verifier key "<name>+<hash>+<base64>", mode 0644
//
// Both are one line of text in the format of golang.org/x/mod/sumdb/note, so
// the public key can be handed to auditors as it is. A key file that group or
// others can access is refused, as OpenSSH refuses an unprotected private key.
package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
)

// File names inside the key directory.
const (
	// KeyFile holds the private signer key, mode 0600.
	KeyFile = "drill.key"
	// PublicKeyFile holds the public verifier key, mode 0644.
	PublicKeyFile = "drill.pub"
)

// algEd25519 is the note key algorithm byte for Ed25519.
const algEd25519 = 1

// Key is drill's Ed25519 signing key with its note signer and verifier.
//
// A Key used only to verify (built from a public key with ParseVerifierKey)
// has a nil Private and Signer.
type Key struct {
	// Name is the key name of the note key. It comes from the key file.
	Name string
	// Private is the Ed25519 private key; nil for a verify-only Key.
	Private ed25519.PrivateKey `json:"-"`
	// Public is the Ed25519 public key.
	Public ed25519.PublicKey
	// Signer signs notes (checkpoints); nil for a verify-only Key.
	Signer note.Signer `json:"-"`
	// Verifier verifies notes signed by Signer.
	Verifier note.Verifier `json:"-"`
	// VerifierKey is the note verifier key "name+hash+base64", the public
	// key as it is given to auditors.
	VerifierKey string
}

// String describes the key by its public half only, so that printing a Key
// never prints the private key.
func (k *Key) String() string {
	if k == nil {
		return "<nil key>"
	}
	return k.VerifierKey
}

// KeyID returns the hex SHA-256 of the raw public key, the key ID used in
// DSSE signatures.
func (k *Key) KeyID() string {
	sum := sha256.Sum256(k.Public)
	return hex.EncodeToString(sum[:])
}

// ValidName reports whether name can be a note key name: non-empty UTF-8
// without spaces or '+'.
func ValidName(name string) error {
	switch {
	case name == "":
		return errors.New("key name is empty")
	case !utf8.ValidString(name):
		return fmt.Errorf("key name %q is not valid UTF-8", name)
	case strings.IndexFunc(name, unicode.IsSpace) >= 0:
		return fmt.Errorf("key name %q contains a space", name)
	case strings.Contains(name, "+"):
		return fmt.Errorf("key name %q contains '+'", name)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("key name %q contains a control character", name)
	}
	return nil
}

// LoadOrCreate loads the key in dir, creating dir (mode 0700) and a new key
// named name when there is none. A new key is written to dir/drill.key with
// mode 0600 and its public key to dir/drill.pub with mode 0644, each
// atomically (temporary file, fsync, link or rename, fsync of dir).
//
// An existing key is loaded whatever its name: the name stored in the key
// file wins over name, which is only used to create a key. Callers that care
// compare Key.Name. drill.pub is rewritten from the key when it is missing or
// does not match.
//
// If two processes create the key at the same time, one key wins and both
// return it (the key file is linked into place, never overwritten).
func LoadOrCreate(dir, name string) (*Key, error) {
	if err := ValidName(name); err != nil {
		return nil, fmt.Errorf("create signing key in %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create key directory: %w", err)
	}
	path := filepath.Join(dir, KeyFile)
	k, err := loadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		k, err = create(dir, name)
	}
	if err != nil {
		return nil, err
	}
	if err := ensurePublicFile(dir, k); err != nil {
		return nil, err
	}
	return k, nil
}

// Load loads the key in dir. It creates nothing: when dir/drill.key does
// not exist the error says so and wraps fs.ErrNotExist.
func Load(dir string) (*Key, error) {
	path := filepath.Join(dir, KeyFile)
	k, err := loadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("no signing key: %s does not exist (run: drill keys init): %w", path, fs.ErrNotExist)
	}
	return k, err
}

// ParseVerifierKey parses a note verifier key "name+hash+base64" of an
// Ed25519 key and returns its note verifier and raw public key.
func ParseVerifierKey(vkey string) (note.Verifier, ed25519.PublicKey, error) {
	vkey = strings.TrimSpace(vkey)
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, nil, fmt.Errorf("parse verifier key: %w", err)
	}
	// The base64 key may itself contain '+': cut the fields off the front.
	_, rest, _ := strings.Cut(vkey, "+")
	_, key64, _ := strings.Cut(rest, "+")
	raw, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return nil, nil, errors.New("parse verifier key: not an Ed25519 key")
	}
	return v, ed25519.PublicKey(raw[1:]), nil
}

// VerifyOnly returns a Key that holds only the public half of vkey, for
// verifying evidence without the private key.
func VerifyOnly(vkey string) (*Key, error) {
	v, pub, err := ParseVerifierKey(vkey)
	if err != nil {
		return nil, err
	}
	return &Key{Name: v.Name(), Public: pub, Verifier: v, VerifierKey: strings.TrimSpace(vkey)}, nil
}

// loadFile reads and checks a key file. A missing file gives an error
// wrapping fs.ErrNotExist.
func loadFile(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		what := "readable"
		if perm&0o044 == 0 {
			what = "accessible"
		}
		return nil, fmt.Errorf("key file %s is %s by group or others (mode %04o); run: chmod 600 %s", path, what, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k, err := parseSignerKey(strings.TrimSpace(string(data)))
	if err != nil {
		// err never quotes the file's content: it is a private key.
		return nil, fmt.Errorf("key file %s is not a drill signing key: %w", path, err)
	}
	return k, nil
}

// parseSignerKey builds a Key from a note signer key
// "PRIVATE+KEY+name+hash+base64(0x01||seed)".
func parseSignerKey(skey string) (*Key, error) {
	if strings.ContainsAny(skey, "\r\n") {
		return nil, errors.New("more than one line")
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	// The base64 key may itself contain '+': cut the four fields
	// PRIVATE, KEY, name and hash off the front.
	key64 := skey
	for range 4 {
		_, key64, _ = strings.Cut(key64, "+")
	}
	raw, err := base64.StdEncoding.DecodeString(key64)
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("not an Ed25519 key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	pub := priv.Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(signer.Name(), pub)
	if err != nil {
		return nil, err
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	if verifier.KeyHash() != signer.KeyHash() {
		return nil, errors.New("key hash does not match the key")
	}
	return &Key{
		Name:        signer.Name(),
		Private:     priv,
		Public:      pub,
		Signer:      signer,
		Verifier:    verifier,
		VerifierKey: vkey,
	}, nil
}

// create generates a key and writes it to dir. If another process created
// the key file first, that key is loaded and returned instead.
func create(dir, name string) (*Key, error) {
	return createFile(filepath.Join(dir, KeyFile), name)
}

// createFile generates a key and writes it to path, or loads the key
// another process wrote there first.
func createFile(path, name string) (*Key, error) {
	skey, _, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	k, err := parseSignerKey(skey)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	err = writeFileAtomic(path, []byte(skey+"\n"), 0o600, true)
	if errors.Is(err, fs.ErrExist) {
		return loadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return k, nil
}

// ensurePublicFile writes dir/drill.pub when it is missing or differs from k.
func ensurePublicFile(dir string, k *Key) error {
	path := filepath.Join(dir, PublicKeyFile)
	want := k.VerifierKey + "\n"
	if got, err := os.ReadFile(path); err == nil && string(got) == want {
		return nil
	}
	if err := writeFileAtomic(path, []byte(want), 0o644, false); err != nil {
		return fmt.Errorf("write public key file: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory: write, fsync, then rename over path (or, when exclusive, link
// to path, which fails with fs.ErrExist if path exists), then fsync the
// directory so the new name survives a crash.
func writeFileAtomic(path string, data []byte, perm fs.FileMode, exclusive bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		_ = f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if exclusive {
		err = os.Link(tmp, path)
		if err == nil || errors.Is(err, fs.ErrExist) {
			_ = os.Remove(tmp)
		} else {
			// No hard links on this file system: fall back to rename,
			// which is atomic but may replace a concurrently created key.
			if _, serr := os.Stat(path); serr == nil {
				return fs.ErrExist
			}
			err = os.Rename(tmp, path)
		}
	} else {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
