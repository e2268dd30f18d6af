package evlog

import "testing"

// FuzzParseCheckpoint: the checkpoint parser never panics, and what it
// accepts formats back to the same text.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("drill.test/bk01\n3\nYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=\n")
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n-1\nx\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if got := FormatCheckpoint(c); got != text {
			t.Fatalf("parse(%q) formats back as %q", text, got)
		}
	})
}
