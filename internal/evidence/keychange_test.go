package evidence

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// A rotated log: a key-change entry signed by the old key, the hand-over
// checkpoint signed by both, everything after by the new key. The store
// and its bundles verify against either key, and not against a third;
// the key change is in every bundle, and Entries does not show it.
func TestRotateKey(t *testing.T) {
	k1, k2, k3 := testKey(t, testOrigin), testKey(t, testOrigin), testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, k1, 5)
	s, err := Open(path, Options{Key: k1})
	if err != nil {
		t.Fatal(err)
	}
	at, err := s.RotateKey(k2)
	if err != nil || at != 5 {
		t.Fatalf("RotateKey: %d, %v", at, err)
	}
	if _, err := s.Append(testRecord(5, record.VerdictPass)); err != nil {
		t.Fatalf("Append after the rotation: %v", err)
	}
	if _, err := s.RotateKey(k2); err == nil {
		t.Error("rotated to the key in force")
	}
	must(t, s.Close())

	// Reopened with the old key, the store refuses to sign.
	s, err = Open(path, Options{Key: k1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(testRecord(6, record.VerdictPass)); err == nil || !strings.Contains(err.Error(), "is not the key of this evidence log") {
		t.Errorf("Append with the retired key: %v", err)
	}
	must(t, s.Close())
	s, err = Open(path, Options{Key: k2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(testRecord(6, record.VerdictFail)); err != nil {
		t.Fatal(err)
	}
	for _, opt := range verifyModes {
		if rep, err := s.VerifyWith(context.Background(), opt); err != nil || rep.Records != 8 {
			t.Fatalf("Verify (%+v) with the new key: %+v, %v", opt, rep, err)
		}
	}
	var drills []int64
	must(t, s.Entries(func(e *Entry) error { drills = append(drills, e.Index); return nil }, false))
	if len(drills) != 7 || drills[5] != 6 {
		t.Errorf("Entries visited %v, want the 7 records and not the key change at 5", drills)
	}
	must(t, s.Close())
	for name, k := range map[string]*keys.Key{"old": k1, "new": k2} {
		vk, _ := keys.VerifyOnly(k.VerifierKey)
		s, err := Open(path, Options{Key: vk, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, opt := range verifyModes {
			if _, err := s.VerifyWith(context.Background(), opt); err != nil {
				t.Errorf("Verify (%+v) trusting the %s key: %v", opt, name, err)
			}
		}
		must(t, s.Close())
	}

	full, _ := exportBundle(t, path, k2, bundle.Selection{})
	subset, _ := exportBundle(t, path, k2, bundle.Selection{Since: testTime.Add(6 * 3600e9)})
	for _, tc := range []struct {
		name   string
		bundle []byte
		key    *keys.Key
		want   string
	}{
		{"complete, old key", full, k1, ""},
		{"complete, new key", full, k2, ""},
		{"subset, old key", subset, k1, ""},
		{"subset, new key", subset, k2, ""},
		{"another key", full, k3, "not signed by the key you gave"},
		{"key change dropped from a subset", edit(t, edit(t, subset, "entries.jsonl", lines(func(ls []string) []string {
			return ls[1:]
		})), "manifest.json", manifestRecords(1)), k1, "manifest.json lists 1 key changes, the entries hold 0"},
		{"the key list rewritten", edit(t, full, "manifest.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(k2.VerifierKey), []byte(k3.VerifierKey), 1)
		}), k1, "checkpoint 8: not signed by the log key"},
	} {
		for _, mode := range bundleModes {
			t.Run(tc.name+"/"+mode.name, func(t *testing.T) {
				rep, err := bundle.Verify(context.Background(), bytes.NewReader(tc.bundle), bundle.Options{Key: []byte(tc.key.VerifierKey), Thorough: mode.thorough})
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					if len(rep.Manifest.Keys) != 2 || rep.Manifest.Keys[1].From != 6 {
						t.Errorf("keys %+v", rep.Manifest.Keys)
					}
					return
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("error %v, want %q", err, tc.want)
				}
			})
		}
	}
}
