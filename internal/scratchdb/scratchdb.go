// Package scratchdb names the scratch databases the database backends
// restore into, "drill_<drill>_<12 hex digits>", recognises those names
// (a backend never drops a database it did not name), and keeps the ones
// announced until they are dropped (Registry).
package scratchdb

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
)

// Prefix starts the name of every scratch database drill creates.
const Prefix = "drill_"

// Name returns a fresh scratch database name for a drill:
// "drill_<drill>_<12 hex digits>", with the drill's name reduced to
// lower-case letters, digits and underscores and cut so that the whole
// name fits in maxLen bytes (63 for PostgreSQL, 64 for MySQL).
func Name(drill string, maxLen int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(drill) {
		switch {
		case 'a' <= r && r <= 'z', '0' <= r && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	suffix := "_" + hex.EncodeToString(rnd[:])
	name := b.String()
	if room := maxLen - len(Prefix) - len(suffix); len(name) > room {
		name = name[:room]
	}
	return Prefix + name + suffix
}

// IsName reports whether name has the shape Name gives.
func IsName(name string) bool {
	if !strings.HasPrefix(name, Prefix) || len(name) < len(Prefix)+13 {
		return false
	}
	suffix := name[len(name)-13:]
	if suffix[0] != '_' {
		return false
	}
	_, err := hex.DecodeString(suffix[1:])
	return err == nil
}
