// Package manifest makes, reads and compares SHA-256 manifests of restored
// trees, in exactly the format that GNU coreutils `sha256sum` prints (9.1):
// one "<64 lowercase hex digits>  <file name>\n" line per regular file,
// sorted by name in plain byte order. A name holding a backslash, newline
// or carriage return is written the way coreutils writes it: the line
// starts with a backslash and the name has "\\", "\n" and "\r" escapes. So
// a manifest written here can be checked with `sha256sum -c`, and a
// reference made with `sha256sum` (or `sha256sum --tag`, `cksum -a
// sha256`, BSD `sha256`) can be read with [Parse].
//
// [HashTree] hashes every regular file below a directory with one worker per
// core and never follows a symlink; [Pool] hashes files while another
// component (a restore) is still writing the tree; [Compare] tells which
// files of a reference are missing, extra or different.
//
// Paths in a manifest are relative to the tree, slash-separated, and kept
// as raw bytes: they may be invalid UTF-8. A manifest never holds a path
// that has an empty, "." or ".." element, and only a reference read by
// Parse holds absolute ones ("/srv/files/a", as `sha256sum /srv/files/*`
// prints them): what they are relative to is the caller's to say.
package manifest
