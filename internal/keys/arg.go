package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"github.com/drillhq/drill/internal/textsafe"
)

// maxKeyFile bounds what is read of a file named as a public key: the
// output of drill keys show is some 250 bytes.
const maxKeyFile = 64 << 10

// ReadPublicKeyArg resolves a public key given on the command line: the
// key text itself (the note verifier key, the PEM block or the whole output
// of drill keys show, as pasted from an email, white space and all), or the
// name of a file holding it. It returns the key's text, checked with
// ParsePublicKey.
//
// The text is tried first: a note verifier key such as
// "host.example.org/drill+1a2b3c4d+AbC/..." reads like a path. When arg is
// neither a key nor a readable file, the error says what each attempt
// found and what a key looks like. No error quotes a private key, given by
// mistake as text or as a file.
func ReadPublicKeyArg(arg string) ([]byte, error) {
	_, _, textErr := ParsePublicKey([]byte(arg))
	if textErr == nil {
		return []byte(arg), nil
	}
	if strings.TrimSpace(arg) == "" {
		return nil, textErr
	}
	data, fileErr := readKeyFile(arg)
	if fileErr == nil {
		if _, _, err := ParsePublicKey(data); err != nil {
			return nil, fmt.Errorf("key file %s: %w", textsafe.Escape(arg), err)
		}
		return data, nil
	}
	if isPrivate(arg) || looksLikeKey(arg) {
		// Key text, not a file name: the key's own error is the one that
		// helps, and the text is not repeated (it may be a private key).
		return nil, fmt.Errorf("not a public key (nor a file of that name): %w", textErr)
	}
	return nil, fmt.Errorf("%q is neither a file that can be read (%w) nor a public key; %s, or a file holding it",
		textsafe.Escape(arg), fileErr, KeyForms)
}

// readKeyFile reads at most maxKeyFile bytes of the file at path; its
// errors leave the path out (the caller names it).
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return nil, pe.Err
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		if pe, ok := errors.AsType[*fs.PathError](err); ok {
			return nil, pe.Err
		}
		return nil, err
	}
	if len(data) > maxKeyFile {
		return nil, fmt.Errorf("larger than %d KiB, far more than a key", maxKeyFile>>10)
	}
	return data, nil
}

// isPrivate reports whether text holds a private key, as a note signer key
// or a PEM block.
func isPrivate(text string) bool {
	return strings.Contains(text, "PRIVATE+KEY+") || strings.Contains(text, "PRIVATE KEY-----")
}

// looksLikeKey reports whether text was meant as a key rather than a file
// name: a PEM block, several lines, or a note key's name+hash+key.
func looksLikeKey(text string) bool {
	text = strings.TrimSpace(text)
	return strings.HasPrefix(text, "-----BEGIN ") || strings.ContainsAny(text, "\n") || strings.Count(text, "+") >= 2
}
