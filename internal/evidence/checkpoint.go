package evidence

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

// checkpoint is the body of a C2SP tlog-checkpoint note.
type checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// formatCheckpoint returns the note text "origin\nsize\nbase64(root)\n".
func formatCheckpoint(c checkpoint) string {
	return c.Origin + "\n" + strconv.FormatInt(c.Size, 10) + "\n" + c.Root.String() + "\n"
}

// parseCheckpoint parses note text written by formatCheckpoint. Extension
// lines are refused: drill never writes them.
func parseCheckpoint(text string) (checkpoint, error) {
	origin, rest, ok1 := strings.Cut(text, "\n")
	size, rest, ok2 := strings.Cut(rest, "\n")
	root, rest, ok3 := strings.Cut(rest, "\n")
	if !ok1 || !ok2 || !ok3 || rest != "" {
		return checkpoint{}, errors.New("checkpoint is not three lines (origin, size, root hash)")
	}
	n, err := strconv.ParseInt(size, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != size {
		return checkpoint{}, fmt.Errorf("checkpoint size %q is not a decimal number", size)
	}
	h, err := tlog.ParseHash(root)
	if err != nil || h.String() != root {
		return checkpoint{}, fmt.Errorf("checkpoint root hash %q is not base64 SHA-256", root)
	}
	return checkpoint{Origin: origin, Size: n, Root: h}, nil
}

// openCheckpoint verifies a signed checkpoint note with v and parses it.
func openCheckpoint(msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		switch {
		case errors.As(err, &unverified):
			return checkpoint{}, fmt.Errorf("not signed by the log key %s (%08x)", v.Name(), v.KeyHash())
		case errors.As(err, &invalid):
			return checkpoint{}, fmt.Errorf("signature by the log key %s does not verify", v.Name())
		default:
			return checkpoint{}, fmt.Errorf("not a signed note: %w", err)
		}
	}
	return parseCheckpoint(n.Text)
}

// signCheckpoint signs c with signer.
func signCheckpoint(c checkpoint, signer note.Signer) ([]byte, error) {
	msg, err := note.Sign(&note.Note{Text: formatCheckpoint(c)}, signer)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint of size %d: %w", c.Size, err)
	}
	return msg, nil
}

// validOrigin checks a log origin: the first line of every checkpoint, a
// schema-less URL-like name (C2SP tlog-checkpoint).
func validOrigin(origin string) error {
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
