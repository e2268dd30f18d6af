package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// NextKeyFile holds the key a rotation hands the log to, until the
// rotation is installed.
const NextKeyFile = "drill.key.next"

// RetiredDir holds the public keys of retired keys, as <key id>.pub: they
// verify what the log holds from before each rotation.
const RetiredDir = "retired"

// PrepareRotation returns the current key in dir and the key to rotate to:
// the one an interrupted rotation left in drill.key.next, or a new one
// with the current key's name, written there first (mode 0600), so that a
// rotation interrupted at any point is finished by running it again.
func PrepareRotation(dir string) (cur, next *Key, err error) {
	cur, err = Load(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, NextKeyFile)
	next, err = loadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		next, err = createFile(path, cur.Name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("the key to rotate to (%s): %w", path, err)
	}
	return cur, next, nil
}

// InstallRotation makes next, prepared by PrepareRotation, the key in dir
// once the evidence log has been handed to it: the old public key goes to
// retired/<key id>.pub, drill.key.next replaces drill.key (the old private
// key is gone), and drill.pub is rewritten.
func InstallRotation(dir string, cur, next *Key) error {
	retired := filepath.Join(dir, RetiredDir)
	if err := os.MkdirAll(retired, 0o700); err != nil {
		return fmt.Errorf("keep the retired key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(retired, cur.KeyID()+".pub"), []byte(cur.VerifierKey+"\n"), 0o644, false); err != nil {
		return fmt.Errorf("keep the retired key: %w", err)
	}
	if err := os.Rename(filepath.Join(dir, NextKeyFile), filepath.Join(dir, KeyFile)); err != nil {
		return fmt.Errorf("install the new key: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return ensurePublicFile(dir, next)
}
