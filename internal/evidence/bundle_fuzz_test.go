package evidence

import (
	"bytes"
	"context"
	"testing"

	"github.com/drillhq/drill/internal/bundle"
)

// FuzzVerifyBundle: whatever the bundle's bytes, VerifyBundle returns (an
// error or a report) without panicking, and never verifies a bundle whose
// entries are not all signed by the key.
func FuzzVerifyBundle(f *testing.F) {
	key := testKey(f, testOrigin)
	path := newLog(f, f.TempDir(), testOrigin, key, 3)
	full, _ := exportBundle(f, path, key, bundle.Selection{})
	subset, _ := exportBundle(f, path, key, bundle.Selection{Drill: "billing-db", Since: testTime.Add(3600e9)})
	f.Add(full)
	f.Add(subset)
	f.Add(pack(f, []member{{bundle.Dir + "manifest.json", []byte(`{"format":1,"origin":"x","log_size":1,"complete":true}`)}}))
	pub := []byte(key.VerifierKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := bundle.Verify(context.Background(), bytes.NewReader(b), bundle.Options{Key: pub})
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
