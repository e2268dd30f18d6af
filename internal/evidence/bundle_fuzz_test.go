package evidence

import (
	"bytes"
	"context"
	"testing"
)

// FuzzVerifyBundle: whatever the bundle's bytes, VerifyBundle returns (an
// error or a report) without panicking, and never verifies a bundle whose
// entries are not all signed by the key.
func FuzzVerifyBundle(f *testing.F) {
	key := testKey(f, testOrigin)
	path := newLog(f, f.TempDir(), testOrigin, key, 3)
	full, _ := exportBundle(f, path, key, Selection{})
	subset, _ := exportBundle(f, path, key, Selection{Drill: "billing-db", Since: testTime.Add(3600e9)})
	f.Add(full)
	f.Add(subset)
	f.Add(pack(f, []member{{bundleDir + "manifest.json", []byte(`{"format":1,"origin":"x","log_size":1,"complete":true}`)}}))
	pub := []byte(key.VerifierKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := VerifyBundle(context.Background(), bytes.NewReader(b), BundleOptions{Key: pub})
		if err != nil {
			return
		}
		for _, r := range rep.Entries {
			if r == nil || r.LogOrigin != testOrigin {
				t.Fatalf("verified an entry %+v", r)
			}
		}
	})
}

// FuzzParseCheckpoint: the checkpoint parser never panics, and what it
// accepts formats back to the same text.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add("drill.test/bk01\n3\nYWJjZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXowMTIzNDU=\n")
	f.Add("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
	f.Add("o\n-1\nx\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := parseCheckpoint(text)
		if err != nil {
			return
		}
		if got := formatCheckpoint(c); got != text {
			t.Fatalf("parse(%q) formats back as %q", text, got)
		}
	})
}
