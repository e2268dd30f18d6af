package evlog

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Checkpoint is the body of a C2SP tlog-checkpoint note.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// FormatCheckpoint returns the note text "origin\nsize\nbase64(root)\n".
func FormatCheckpoint(c Checkpoint) string {
	return c.Origin + "\n" + strconv.FormatInt(c.Size, 10) + "\n" + c.Root.String() + "\n"
}

// ParseCheckpoint parses note text written by FormatCheckpoint. Extension
// lines are refused: drill never writes them.
func ParseCheckpoint(text string) (Checkpoint, error) {
	origin, rest, ok1 := strings.Cut(text, "\n")
	size, rest, ok2 := strings.Cut(rest, "\n")
	root, rest, ok3 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 || !ok3 || rest != "" {
		return Checkpoint{}, errors.New("checkpoint is not three lines (origin, size, root hash)")
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != size {
		return Checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal number", size)
	}
	h, err := tlog.ParseHash(root)
	if err != nil || h.String() != root {
		return Checkpoint{}, fmt.Errorf("checkpoint root hash %q is not base64 SHA-256", root)
	}
	return Checkpoint{Origin: origin, Size: n, Root: h}, nil
}

// OpenCheckpoint verifies a signed checkpoint note with v and parses it.
func OpenCheckpoint(msg []byte, v note.Verifier) (Checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return Checkpoint{}, fmt.Errorf("not signed by the log key %s (%08x)", v.Name(), v.KeyHash())
		case errors.As(err, &invalid):
			return Checkpoint{}, fmt.Errorf("signature by the log key %s does not verify", v.Name())
		default:
			return Checkpoint{}, fmt.Errorf("not a signed note: %w", err)
		}
	}
	return ParseCheckpoint(n.Text)
}

// SignCheckpoint signs c with signer.
func SignCheckpoint(c Checkpoint, signer note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: FormatCheckpoint(c)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint of size %d: %w", c.Size, err)
	}
	return msg, nil
}

// ValidOrigin checks a log origin: the first line of every checkpoint, a
// schema-less URL-like name (C2SP tlog-checkpoint).
func ValidOrigin(origin string) error {
	switch {
	case origin == "":
		return errors.New("log origin is empty")
	case len(origin) > 255:
		return fmt.Errorf("log origin has %d bytes, more than 255", len(origin))
	case !utf8.ValidString(origin):
		return fmt.Errorf("log origin %q is not valid UTF-8", origin)
	case strings.IndexFunc(origin, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fmt.Errorf("log origin %q contains a space or control character", origin)
	case strings.Contains(origin, "+"):
		return fmt.Errorf("log origin %q contains '+'", origin)
	}
	return nil
}

// EmptyRoot is the root hash of the empty tree.
func EmptyRoot() tlog.Hash {
	h, _ := tlog.TreeHash(0, nil)
	return h
}
