package postgres

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/klauspost/compress/zstd"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/internal/textsafe"
)

// format is the kind of pg_dump output, detected from the content.
type format string

const (
	formatCustom    format = "custom"
	formatDirectory format = "directory"
	formatTar       format = "tar"
	formatPlain     format = "plain"
	formatPlainGzip format = "plain+gzip"
	formatPlainZstd format = "plain+zstd"
)

// compressions are the compressors a plain dump is piped through in the
// usual ways (pg_dump db | gzip, pg_dump db | zstd), by their magic bytes.
var compressions = []struct {
	name   string
	magic  []byte
	format format
}{
	{"gzip", []byte{0x1f, 0x8b}, formatPlainGzip},
	{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd}, formatPlainZstd},
}

// openPlain returns the SQL text of a plain dump in format f read from r,
// decompressed if f says so, and a function that releases the decoder.
func openPlain(f format, r io.Reader) (io.Reader, func(), error) {
	switch f {
	case formatPlainGzip:
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { _ = zr.Close() }, nil
	case formatPlainZstd:
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return r, func() {}, nil
}

// archive reports whether pg_restore reads f (rather than psql).
func (f format) archive() bool {
	return f == formatCustom || f == formatDirectory || f == formatTar
}

// sidecarSuffix names a dump's checksum file: <dump>.sha256.
const sidecarSuffix = ".sha256"

// sniffLen is how much of a file detectFormat looks at.
const sniffLen = 512

// notDumpError is content that is not pg_dump output; its message says why.
type notDumpError struct{ why string }

func (e *notDumpError) Error() string { return e.why }

// detectFile detects the format of a dump file from its first bytes.
func detectFile(f *os.File) (format, error) {
	path := f.Name()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read dump %s: %w", path, err)
	}
	head = head[:n]
	for _, c := range compressions {
		if !bytes.HasPrefix(head, c.magic) {
			continue
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("read dump %s: %w", path, err)
		}
		zr, done, err := openPlain(c.format, f)
		if err != nil {
			return "", &notDumpError{fmt.Sprintf("%s header: %v", c.name, err)}
		}
		defer done()
		inner := make([]byte, sniffLen)
		n, err := io.ReadFull(zr, inner)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return "", &notDumpError{fmt.Sprintf("%s data: %v", c.name, err)}
		}
		ff, err := detectBytes(inner[:n])
		if err != nil {
			return "", &notDumpError{c.name + "-compressed, and inside: " + err.Error()}
		}
		if ff != formatPlain {
			return "", &notDumpError{fmt.Sprintf("a %s-compressed %s-format archive; pg_restore reads it only decompressed", c.name, ff)}
		}
		return c.format, nil
	}
	return detectBytes(head)
}

func isGzip(b []byte) bool { return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b }

// detectBytes detects the format from the first bytes of a file (at most
// sniffLen): custom, tar (with toc.dat first) or plain SQL text.
func detectBytes(head []byte) (format, error) {
	switch {
	case len(head) == 0:
		return "", &notDumpError{"the file is empty"}
	case bytes.HasPrefix(head, []byte("PGDMP")):
		return formatCustom, nil
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		name, _, _ := bytes.Cut(head[:100], []byte{0})
		if string(name) != "toc.dat" {
			return "", &notDumpError{fmt.Sprintf("a tar archive whose first entry is %q, not toc.dat as pg_dump -Ft writes", textsafe.Clip(string(name), 60))}
		}
		return formatTar, nil
	case isGzip(head):
		return "", &notDumpError{"gzip-compressed twice"}
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "", &notDumpError{"binary data, neither a custom, directory or tar archive nor SQL text"}
	}
	// A multi-byte character may be cut at the end of the sample.
	text := head
	for i := 0; i < utf8.UTFMax && len(text) > 0 && !utf8.Valid(text); i++ {
		text = text[:len(text)-1]
	}
	if !utf8.Valid(text) {
		return "", &notDumpError{"neither an archive nor UTF-8 SQL text"}
	}
	return formatPlain, nil
}

// plainMarker is the comment pg_dump starts a plain dump with.
var plainMarker = []byte("-- PostgreSQL database dump")

// IsDump reports whether head, the first bytes of a file (decompressed),
// is pg_dump output: a custom or tar archive, or plain SQL text whose
// first 4 KiB hold pg_dump's header comment. drill init proposes a
// postgres drill for it.
func IsDump(head []byte) bool {
	f, err := detectBytes(head[:min(len(head), sniffLen)])
	if err != nil {
		return false
	}
	return f != formatPlain || bytes.Contains(head[:min(len(head), 4096)], plainMarker)
}

// detectDir checks that a directory is pg_dump -Fd output: a real
// directory whose members are regular files, toc.dat among them. A
// symlink anywhere is a notDumpError naming it.
func detectDir(dir string) (format, error) {
	if err := safefile.Dir(dir, "dump", 0); err != nil {
		if errors.Is(err, safefile.ErrNotRegular) {
			return "", &notDumpError{err.Error()}
		}
		return "", fmt.Errorf("read dump directory %s: %w", dir, err)
	}
	fi, err := os.Lstat(filepath.Join(dir, "toc.dat"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &notDumpError{"a directory without toc.dat"}
		}
		return "", fmt.Errorf("read dump directory %s: %w", dir, err)
	}
	if !fi.Mode().IsRegular() {
		return "", &notDumpError{"toc.dat is not a regular file"}
	}
	return formatDirectory, nil
}

// parseSidecar returns the SHA-256 a sidecar in sha256sum format gives
// for the file named base: lines of "<64 hex>  <name>" (or " *<name>" for
// binary mode). Exactly one line must name base.
func parseSidecar(data []byte, base string) ([]byte, error) {
	var sum []byte
	lines := 0
	for line := range strings.SplitSeq(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		lines++
		digest, name, ok := strings.Cut(line, " ")
		if !ok || len(name) < 2 || (name[0] != ' ' && name[0] != '*') {
			return nil, fmt.Errorf("line %d is not in sha256sum format (<sha256>  <file name>)", lines)
		}
		name = strings.TrimPrefix(name[1:], "./")
		if filepath.Base(name) != base {
			continue
		}
		if sum != nil {
			return nil, fmt.Errorf("it names %s twice", base)
		}
		b, err := hex.DecodeString(digest)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("line %d: %q is not a SHA-256 (64 hex digits)", lines, textsafe.Clip(digest, 70))
		}
		sum = b
	}
	if sum == nil {
		return nil, fmt.Errorf("it has no line for %s", base)
	}
	return sum, nil
}

// tocVersionRE matches pg_restore -l's header line
// ";     Dumped by pg_dump version 15.4 (Debian 15.4-1)".
var tocVersionRE = regexp.MustCompile(`(?m)^;\s+Dumped by pg_dump version:? *(.+?)\s*$`)

// plainVersionRE matches a plain dump's "-- Dumped by pg_dump version 15.4".
var plainVersionRE = regexp.MustCompile(`(?m)^-- Dumped by pg_dump version:? *(.+?)\s*$`)

// tocVersion returns the pg_dump version from pg_restore -l output.
func tocVersion(toc []byte) string {
	if m := tocVersionRE.FindSubmatch(toc); m != nil {
		return string(m[1])
	}
	return ""
}

// plainVersion returns the pg_dump version from the head of a plain dump.
func plainVersion(head []byte) string {
	if m := plainVersionRE.FindSubmatch(head); m != nil {
		return string(m[1])
	}
	return ""
}

// allowedMeta are the psql meta-commands pg_dump writes into a plain dump
// of one database (\restrict and \unrestrict since 17.6, 16.10, 15.14 ...).
var allowedMeta = []string{`\restrict`, `\unrestrict`}

// connectMeta is the \connect (or \c) line a plain dump made with
// pg_dump --create writes after its CREATE DATABASE; the splitter leaves
// the line out and returns this, so that the restore decides whether it
// is that one (skipped: the scratch database stands in for the database
// created) or a dump that moves between databases (pg_dumpall).
type connectMeta metaError

func (e *connectMeta) Error() string { return (*metaError)(e).Error() }

// metaError is a psql meta-command in a plain dump. drill runs none (the
// server would see a syntax error); the splitter stops the dump at it
// with this clearer reason.
type metaError struct {
	line    int64
	command string
}

func (e *metaError) Error() string {
	return fmt.Sprintf("line %d runs the psql meta-command %s", e.line, textsafe.Clip(textsafe.Escape(e.command), 80))
}

// headerKeep is how much of a plain dump's start is kept for the pg_dump
// version comment.
const headerKeep = 8 << 10
