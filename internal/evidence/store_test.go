package evidence

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
)

func TestAppendVerifyEntries(t *testing.T) {
	key := testKey(t, testOrigin)
	path := filepath.Join(t.TempDir(), "drill.db")
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	recs := []*record.Record{testRecord(0, record.VerdictPass), testRecord(1, record.VerdictFail), testRecord(2, record.VerdictError)}
	recs[2].RestorePoint = record.RestorePoint{}
	recs[2].ManifestSHA256 = ""
	recs[2].Checks = nil
	var leaves [][]byte
	for i, rec := range recs {
		e, err := s.Append(rec)
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != int64(i) || rec.LogIndex != int64(i) || rec.LogOrigin != testOrigin || e.Record != rec {
			t.Errorf("Append #%d: entry %d, record at %s/%d; want %d, %s/%d", i, e.Index, rec.LogOrigin, rec.LogIndex, i, testOrigin, i)
		}
		leaves = append(leaves, e.Envelope)
	}
	if recs[2].Checks == nil {
		t.Error("Append left nil Checks; want an empty list")
	}

	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	roots := rootsOf(t, leaves)
	if got, want := *rep, (Report{Records: 3, Checkpoint: rep.Checkpoint, Root: roots[3], Origin: testOrigin, VerifierKey: key.VerifierKey}); !reflect.DeepEqual(got, want) {
		t.Errorf("Verify = %+v, want %+v", got, want)
	}
	n, err := note.Open(rep.Checkpoint, note.VerifierList(key.Verifier))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := n.Text, testOrigin+"\n3\n"+roots[3].String()+"\n"; got != want {
		t.Errorf("checkpoint text = %q, want %q", got, want)
	}
	cp, err := s.Checkpoint()
	if err != nil || !bytes.Equal(cp, rep.Checkpoint) {
		t.Errorf("Checkpoint() = %q, %v; want %q", cp, err, rep.Checkpoint)
	}
	if size, err := s.Size(); err != nil || size != 3 {
		t.Errorf("Size() = %d, %v; want 3", size, err)
	}

	for _, newestFirst := range []bool{true, false} {
		var got []int64
		err := s.Entries(func(e *Entry) error {
			got = append(got, e.Index)
			if !bytes.Equal(e.Envelope, leaves[e.Index]) {
				t.Errorf("entry %d: envelope differs from the appended one", e.Index)
			}
			if !reflect.DeepEqual(e.Record, recs[e.Index]) {
				t.Errorf("entry %d: record = %+v, want %+v", e.Index, e.Record, recs[e.Index])
			}
			return nil
		}, newestFirst)
		if err != nil {
			t.Fatal(err)
		}
		want := []int64{0, 1, 2}
		if newestFirst {
			want = []int64{2, 1, 0}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Entries(newestFirst=%v) visited %v, want %v", newestFirst, got, want)
		}
	}

	// Each leaf is a DSSE envelope of an in-toto Statement about the
	// restore point, or about the drill when there was none.
	for i, tc := range []struct{ subject, digest string }{
		{"restore-point:billing-000000.dump", recs[0].ManifestSHA256},
		{"restore-point:billing-000001.dump", recs[1].ManifestSHA256},
		{"drill:billing-db", "10a06aa8292bc40931adb1c966fcf2e054f8209bf23143469e2dd3db091f7765"}, // sha256("drill:billing-db")
	} {
		env, err := envelope.Decode(leaves[i])
		if err != nil {
			t.Fatal(err)
		}
		st, err := env.Verify(key.Public)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if got, want := st.Subject, []envelope.Subject{{Name: tc.subject, Digest: map[string]string{"sha256": tc.digest}}}; !reflect.DeepEqual(got, want) {
			t.Errorf("record %d: subject = %v, want %v", i, got, want)
		}
		if env.Signatures[0].KeyID != key.KeyID() {
			t.Errorf("record %d: keyid = %s, want %s", i, env.Signatures[0].KeyID, key.KeyID())
		}
		payload, _ := env.PayloadBytes()
		if !bytes.HasPrefix(payload, []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[`)) ||
			!bytes.Contains(payload, []byte(`],"predicateType":"https://drill.dev/restore-drill/v1","predicate":{"log_origin":"drill.test/bk01","log_index":`)) {
			t.Errorf("record %d: payload fields out of order: %s", i, payload)
		}
		if i == 0 && !bytes.Contains(payload, []byte("<nightly> & weekly")) {
			t.Errorf("record 0: payload escapes HTML characters: %s", payload)
		}
	}
}

func TestReopenAppend(t *testing.T) {
	key := testKey(t, testOrigin)
	dir := t.TempDir()
	path := newLog(t, dir, testOrigin, key, 3)

	s, err := Open(path, Options{Origin: "drill.test/other", Key: key})
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Origin(); got != testOrigin {
		t.Errorf("Origin() = %q after reopening with another origin, want the stored %q", got, testOrigin)
	}
	for i := 3; i < 5; i++ {
		e, err := s.Append(testRecord(i, record.VerdictPass))
		if err != nil {
			t.Fatal(err)
		}
		if e.Index != int64(i) {
			t.Errorf("Append after reopen: index %d, want %d", e.Index, i)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Read-only, without a key: the stored public key is used.
	s, err = Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 5 || rep.VerifierKey != key.VerifierKey {
		t.Errorf("Verify = %d records with key %s, want 5 with %s", rep.Records, rep.VerifierKey, key.VerifierKey)
	}

	// Every checkpoint 0..5 exists, is signed by the key and has the root
	// of an independently built tree of the first n records.
	var leaves [][]byte
	if err := s.Entries(func(e *Entry) error { leaves = append(leaves, e.Envelope); return nil }, false); err != nil {
		t.Fatal(err)
	}
	roots := rootsOf(t, leaves)
	err = s.db.View(func(tx *bbolt.Tx) error {
		for n := int64(0); n <= 5; n++ {
			msg := tx.Bucket(bucketCheckpoints).Get(be64(uint64(n)))
			nt, err := note.Open(msg, note.VerifierList(key.Verifier))
			if err != nil {
				t.Errorf("checkpoint %d: %v", n, err)
				continue
			}
			want := evlog.FormatCheckpoint(evlog.Checkpoint{Origin: testOrigin, Size: n, Root: roots[n]})
			if nt.Text != want {
				t.Errorf("checkpoint %d = %q, want %q", n, nt.Text, want)
			}
		}
		if got, want := int64(tx.Bucket(bucketHashes).Stats().KeyN), tlog.StoredHashCount(5); got != want {
			t.Errorf("%d stored hashes, want StoredHashCount(5) = %d", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(testRecord(9, record.VerdictPass)); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Append on a read-only store: err = %v, want ErrReadOnly", err)
	}
}

func TestOpenLocked(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 1)
	s, err := Open(path, Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	want := "open evidence store " + path + ": locked by another process (is a drill agent or another drill command using this state dir?)"
	for _, ro := range []bool{false, true} {
		start := time.Now()
		s2, err := Open(path, Options{Origin: testOrigin, Key: key, ReadOnly: ro})
		elapsed := time.Since(start)
		if err == nil {
			_ = s2.Close()
			t.Fatalf("second Open (ReadOnly %v) succeeded while the store is open", ro)
		}
		if err.Error() != want || !errors.Is(err, ErrLocked) {
			t.Errorf("second Open (ReadOnly %v): err = %q, want %q wrapping ErrLocked", ro, err, want)
		}
		if elapsed > 3*time.Second {
			t.Errorf("second Open (ReadOnly %v) took %v, want about 1s", ro, elapsed)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Readers share the lock.
	r1, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	r2, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
}

func TestOpenErrors(t *testing.T) {
	key := testKey(t, testOrigin)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		opt   Options
		want  string
	}{
		{"read-only, missing file", nil, Options{ReadOnly: true}, "the file does not exist"},
		{"no key to create", nil, Options{Origin: testOrigin}, "a signing key is needed to create the evidence store"},
		{"bad origin", nil, Options{Origin: "drill test", Key: key}, `log origin "drill test" contains a space`},
		{"empty origin", nil, Options{Key: key}, "log origin is empty"},
		{"origin with plus", nil, Options{Origin: "a+b", Key: key}, "contains '+'"},
		{"another bbolt file", func(t *testing.T, path string) {
			rawUpdate(t, path, func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
		}, Options{Origin: testOrigin, Key: key}, "not a drill evidence store"},
		{"unsupported format", func(t *testing.T, path string) {
			newLog(t, filepath.Dir(path), testOrigin, key, 0)
			rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaFormat, []byte("2")) })
		}, Options{ReadOnly: true}, `evidence store format "2" is not supported`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "drill.db")
			if tc.setup != nil {
				tc.setup(t, path)
			}
			s, err := Open(path, tc.opt)
			if err == nil {
				_ = s.Close()
				t.Fatalf("Open succeeded, want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "open evidence store "+path+": ") {
				t.Errorf("err = %q, want it to name %s and contain %q", err, path, tc.want)
			}
			if tc.name == "read-only, missing file" && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("err = %v, want it to wrap fs.ErrNotExist", err)
			}
		})
	}
}

func TestAppendRefusals(t *testing.T) {
	key := testKey(t, testOrigin)
	other := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 1)

	t.Run("another key", func(t *testing.T) {
		s, err := Open(path, Options{Key: other})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_, err = s.Append(testRecord(1, record.VerdictPass))
		if err == nil || !strings.Contains(err.Error(), "is not the key of this evidence log") {
			t.Errorf("Append with another key: err = %v", err)
		}
		// Verify trusts the given key, not the stored one: it must be one
		// of the log's keys.
		_, err = s.Verify(context.Background())
		var ve *evlog.VerifyError
		if !errors.As(err, &ve) || !strings.Contains(ve.Msg, "do not include the key you trust ("+other.VerifierKey+")") {
			t.Errorf("Verify with another key: err = %v, want the key not among the log's", err)
		}
	})

	t.Run("no key", func(t *testing.T) {
		s, err := Open(path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if _, err := s.Append(testRecord(1, record.VerdictPass)); err == nil || !strings.Contains(err.Error(), "without a signing key") {
			t.Errorf("Append without key: err = %v", err)
		}
	})

	t.Run("bad records", func(t *testing.T) {
		s, err := Open(path, Options{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, tc := range []struct {
			edit func(*record.Record)
			want string
		}{
			{func(r *record.Record) { r.Drill = "" }, "record has no drill name"},
			{func(r *record.Record) { r.Verdict = "ok" }, `has verdict "ok"`},
			{func(r *record.Record) { r.ManifestSHA256 = strings.Repeat("A", 64) }, "want 64 lower-case hex digits"},
			{func(r *record.Record) { r.ManifestSHA256 = "abc" }, "want 64 lower-case hex digits"},
		} {
			rec := testRecord(1, record.VerdictPass)
			tc.edit(rec)
			if _, err := s.Append(rec); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Append: err = %v, want %q", err, tc.want)
			}
		}
		if n, _ := s.Size(); n != 1 {
			t.Errorf("Size = %d after refused appends, want 1", n)
		}
	})
}

func TestEntriesNamesBadLeaf(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 3)
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketLeaves).Put(be64(1), []byte("{not json")) })
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var seen []int64
	err = s.Entries(func(e *Entry) error { seen = append(seen, e.Index); return nil }, true)
	if err == nil || !strings.HasPrefix(err.Error(), "record 1: ") {
		t.Errorf("Entries: err = %v, want an error about record 1", err)
	}
	if !slices.Equal(seen, []int64{2}) {
		t.Errorf("Entries visited %v before failing, want [2]", seen)
	}

	// fn's error stops the walk and comes back as it is.
	stop := errors.New("stop")
	if err := s.Entries(func(*Entry) error { return stop }, false); err != stop { //nolint:errorlint // "as it is": the very error, unwrapped
		t.Errorf("Entries returned %v, want fn's error", err)
	}
}

func TestVerifyCancelled(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 2)
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Verify(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestEmptyLogVerifies(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 0)
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 0 || rep.Root != evlog.EmptyRoot() {
		t.Errorf("Verify of the empty log = %+v", rep)
	}
}

func TestAppendBatch(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 2)
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	// A bad record refuses the whole batch and changes no record.
	recs := []*record.Record{testRecord(2, record.VerdictPass), testRecord(3, "maybe")}
	if _, err := s.AppendBatch(recs); err == nil {
		t.Fatal("AppendBatch with a bad record succeeded")
	}
	if n, _ := s.Size(); n != 2 || recs[0].LogOrigin != "" {
		t.Errorf("after a refused batch: size %d, first record placed at %q/%d; want 2 and untouched", n, recs[0].LogOrigin, recs[0].LogIndex)
	}

	recs[1].Verdict = record.VerdictFail
	recs = append(recs, testRecord(4, record.VerdictError))
	entries, err := s.AppendBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range entries {
		if want := int64(2 + i); e.Index != want || e.Record != recs[i] || recs[i].LogIndex != want {
			t.Errorf("entry %d: index %d, record index %d; want %d", i, e.Index, recs[i].LogIndex, want)
		}
	}
	// Every size in the batch has its checkpoint, and appending goes on.
	if _, err := s.Append(testRecord(5, record.VerdictPass)); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 6 {
		t.Errorf("Verify: %d records, want 6", rep.Records)
	}
}

func TestConcurrentUse(t *testing.T) {
	key := testKey(t, testOrigin)
	s, err := Open(filepath.Join(t.TempDir(), "drill.db"), Options{Origin: testOrigin, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const writers, each = 2, 15
	done := make(chan struct{})
	errs := make(chan error, writers+1)
	for w := range writers {
		go func() {
			for i := range each {
				if _, err := s.Append(testRecord(w*100+i, record.VerdictPass)); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	go func() {
		for {
			select {
			case <-done:
				errs <- nil
				return
			default:
			}
			if _, err := s.Verify(context.Background()); err != nil {
				errs <- err
				return
			}
			if err := s.Entries(func(*Entry) error { return nil }, true); err != nil {
				errs <- err
				return
			}
		}
	}()
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(done)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}

	// fn may append: Entries holds no transaction while it runs.
	err = s.Entries(func(e *Entry) error {
		if e.Index == writers*each-1 {
			_, err := s.Append(testRecord(999, record.VerdictFail))
			return err
		}
		return nil
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := s.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != writers*each+1 {
		t.Errorf("Verify: %d records, want %d", rep.Records, writers*each+1)
	}
}

// A damaged database file is refused with what to do, and never changed.
func TestOpenDamagedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "drill.db")
	junk := bytes.Repeat([]byte("not a bbolt file "), 4096)
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	key := testKey(t, testOrigin)
	for _, ro := range []bool{false, true} {
		_, err := Open(path, Options{Origin: testOrigin, Key: key, ReadOnly: ro})
		if err == nil || !strings.Contains(err.Error(), "the file is damaged or is not a drill evidence store, and was left as it is; keep a copy of it") {
			t.Errorf("Open (read-only %v) of a damaged file: %v", ro, err)
		}
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, junk) {
		t.Error("the damaged file was changed")
	}
}
