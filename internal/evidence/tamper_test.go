package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// tamperFixture is what a tamper case may use to forge things.
type tamperFixture struct {
	t        *testing.T
	key      *keys.Key // the log's own key
	otherKey *keys.Key // another key with the same name
	otherLog [][]byte  // leaves of another log signed with the log's key
}

func (f *tamperFixture) put(tx *bbolt.Tx, bucket []byte, k uint64, v []byte) {
	f.t.Helper()
	if err := tx.Bucket(bucket).Put(be64(k), v); err != nil {
		f.t.Fatal(err)
	}
}

func (f *tamperFixture) get(tx *bbolt.Tx, bucket []byte, k uint64) []byte {
	return bytes.Clone(tx.Bucket(bucket).Get(be64(k)))
}

func TestVerifyDetectsTampering(t *testing.T) {
	const records = 4 // verdicts: 0 pass, 1 fail, 2 pass, 3 fail
	key := testKey(t, testOrigin)
	f := &tamperFixture{key: key, otherKey: testKey(t, testOrigin)}
	otherPath := newLog(t, t.TempDir(), "drill.test/bk02", key, records)
	for i := range records {
		f.otherLog = append(f.otherLog, rawGet(t, otherPath, bucketLeaves, be64(uint64(i))))
	}

	for _, tc := range []struct {
		name   string
		tamper func(f *tamperFixture, tx *bbolt.Tx)
		// want is the evlog.VerifyError; Msg is matched as a substring.
		want evlog.VerifyError
		// appendRefused: the damage touches what the next Append must
		// build on. Other damage leaves Append possible, and Verify still
		// reports it afterwards.
		appendRefused bool
	}{
		{
			name: "payload edited without re-signing (fail to pass)",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				env, err := envelope.Decode(f.get(tx, bucketLeaves, 1))
				if err != nil {
					f.t.Fatal(err)
				}
				payload, _ := env.PayloadBytes()
				edited := bytes.Replace(payload, []byte(`"verdict":"fail"`), []byte(`"verdict":"pass"`), 1)
				if bytes.Equal(edited, payload) {
					f.t.Fatal("record 1 has no fail verdict to edit")
				}
				env.Payload = base64.StdEncoding.EncodeToString(edited)
				leaf, err := envelope.MarshalJSON(env)
				if err != nil {
					f.t.Fatal(err)
				}
				f.put(tx, bucketLeaves, 1, leaf)
			},
			want: evlog.VerifyError{Index: 1, Checkpoint: -1, Msg: "payload does not match its signature"},
		},
		{
			name:   "record replaced by a signed record of another index",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) { f.put(tx, bucketLeaves, 1, f.get(tx, bucketLeaves, 3)) },
			want:   evlog.VerifyError{Index: 1, Checkpoint: -1, Msg: "log_index is 3"},
		},
		{
			name:   "record replaced by a signed record of another log",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) { f.put(tx, bucketLeaves, 1, f.otherLog[1]) },
			want:   evlog.VerifyError{Index: 1, Checkpoint: -1, Msg: `log_origin is "drill.test/bk02"`},
		},
		{
			name: "records swapped",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				a, b := f.get(tx, bucketLeaves, 0), f.get(tx, bucketLeaves, 2)
				f.put(tx, bucketLeaves, 0, b)
				f.put(tx, bucketLeaves, 2, a)
			},
			want: evlog.VerifyError{Index: 0, Checkpoint: -1, Msg: "log_index is 2"},
		},
		{
			name: "leaf hash changed",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				h := f.get(tx, bucketHashes, uint64(tlog.StoredHashIndex(0, 1)))
				h[0] ^= 1
				f.put(tx, bucketHashes, uint64(tlog.StoredHashIndex(0, 1)), h)
			},
			want: evlog.VerifyError{Index: 1, Checkpoint: -1, Msg: "leaf hash does not match the stored Merkle tree"},
		},
		{
			name: "inner hash changed",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				x := uint64(tlog.StoredHashIndex(2, 0)) // covers records 0-3
				h := f.get(tx, bucketHashes, x)
				h[31] ^= 0x80
				f.put(tx, bucketHashes, x, h)
			},
			want:          evlog.VerifyError{Index: 0, Checkpoint: -1, Msg: "(level 2, records 0-3) does not match the records"},
			appendRefused: true,
		},
		{
			name: "last record removed",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				if err := tx.Bucket(bucketLeaves).Delete(be64(records - 1)); err != nil {
					f.t.Fatal(err)
				}
				if err := tx.Bucket(bucketMeta).Put(metaSize, be64(records-1)); err != nil {
					f.t.Fatal(err)
				}
			},
			want:          evlog.VerifyError{Index: records - 1, Checkpoint: -1, Msg: "missing: the log holds 3 records, but a checkpoint of size 4 was signed"},
			appendRefused: true,
		},
		{
			name: "last record and its hashes removed, its checkpoint kept",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				if err := tx.Bucket(bucketLeaves).Delete(be64(records - 1)); err != nil {
					f.t.Fatal(err)
				}
				for x := tlog.StoredHashCount(records - 1); x < tlog.StoredHashCount(records); x++ {
					if err := tx.Bucket(bucketHashes).Delete(be64(uint64(x))); err != nil {
						f.t.Fatal(err)
					}
				}
				if err := tx.Bucket(bucketMeta).Put(metaSize, be64(records-1)); err != nil {
					f.t.Fatal(err)
				}
			},
			want:          evlog.VerifyError{Index: records - 1, Checkpoint: -1, Msg: "missing: the log holds 3 records, but a checkpoint of size 4 was signed"},
			appendRefused: true,
		},
		{
			name: "record deleted, size kept",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				if err := tx.Bucket(bucketLeaves).Delete(be64(2)); err != nil {
					f.t.Fatal(err)
				}
			},
			want: evlog.VerifyError{Index: 2, Checkpoint: -1, Msg: "missing"},
		},
		{
			name: "size increased",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				if err := tx.Bucket(bucketMeta).Put(metaSize, be64(records+1)); err != nil {
					f.t.Fatal(err)
				}
			},
			want:          evlog.VerifyError{Index: records, Checkpoint: -1, Msg: "missing"},
			appendRefused: true,
		},
		{
			name:          "record added beyond the size",
			tamper:        func(f *tamperFixture, tx *bbolt.Tx) { f.put(tx, bucketLeaves, records, f.get(tx, bucketLeaves, 0)) },
			want:          evlog.VerifyError{Index: records, Checkpoint: -1, Msg: "stored beyond the log size 4"},
			appendRefused: true,
		},
		{
			name: "checkpoint replaced by one signed with another key",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				c := mustOpenCheckpoint(f.t, f.get(tx, bucketCheckpoints, 2), f.key)
				forged, err := evlog.SignCheckpoint(c, f.otherKey.Signer)
				if err != nil {
					f.t.Fatal(err)
				}
				f.put(tx, bucketCheckpoints, 2, forged)
			},
			want: evlog.VerifyError{Index: -1, Checkpoint: 2, Msg: "not signed by the log key " + testOrigin},
		},
		{
			name: "latest checkpoint replaced by one signed with another key",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				c := mustOpenCheckpoint(f.t, f.get(tx, bucketCheckpoints, records), f.key)
				forged, err := evlog.SignCheckpoint(c, f.otherKey.Signer)
				if err != nil {
					f.t.Fatal(err)
				}
				f.put(tx, bucketCheckpoints, records, forged)
			},
			want:          evlog.VerifyError{Index: -1, Checkpoint: records, Msg: "not signed by the log key"},
			appendRefused: true,
		},
		{
			name: "checkpoint of a forked tree signed with the log key",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				c := mustOpenCheckpoint(f.t, f.get(tx, bucketCheckpoints, 3), f.key)
				c.Root[0] ^= 1
				forked, err := evlog.SignCheckpoint(c, f.key.Signer)
				if err != nil {
					f.t.Fatal(err)
				}
				f.put(tx, bucketCheckpoints, 3, forked)
			},
			want: evlog.VerifyError{Index: 2, Checkpoint: 3, Msg: "root hash does not match the records (first differing record 2)"},
		},
		{
			name: "checkpoint moved to another size",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				f.put(tx, bucketCheckpoints, 2, f.get(tx, bucketCheckpoints, 1))
			},
			want: evlog.VerifyError{Index: -1, Checkpoint: 2, Msg: "stored as size 2 but signed for size 1"},
		},
		{
			name: "checkpoint removed",
			tamper: func(f *tamperFixture, tx *bbolt.Tx) {
				if err := tx.Bucket(bucketCheckpoints).Delete(be64(2)); err != nil {
					f.t.Fatal(err)
				}
			},
			want: evlog.VerifyError{Index: -1, Checkpoint: 2, Msg: "missing"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.t = t
			path := newLog(t, t.TempDir(), testOrigin, key, records)
			rawUpdate(t, path, func(tx *bbolt.Tx) error { tc.tamper(f, tx); return nil })

			s, err := Open(path, Options{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// Both modes must find it, and say the same.
			check := func(when string) {
				t.Helper()
				for _, opt := range verifyModes {
					_, err := s.VerifyWith(context.Background(), opt)
					var got *evlog.VerifyError
					if !errors.As(err, &got) {
						t.Fatalf("Verify %s (%+v): err = %v, want a *evlog.VerifyError", when, opt, err)
					}
					if got.Index != tc.want.Index || got.Checkpoint != tc.want.Checkpoint || !strings.Contains(got.Msg, tc.want.Msg) {
						t.Errorf("Verify %s (%+v): %#v (%q), want index %d, checkpoint %d, message containing %q",
							when, opt, got, got, tc.want.Index, tc.want.Checkpoint, tc.want.Msg)
					}
				}
			}
			check("after tampering")

			_, err = s.Append(testRecord(records, record.VerdictPass))
			switch {
			case tc.appendRefused && !errors.Is(err, ErrDamaged):
				t.Errorf("Append on the damaged log: err = %v, want ErrDamaged", err)
			case tc.appendRefused && s.Damaged() == nil:
				t.Error("Damaged() = nil, want the damage")
			case !tc.appendRefused && err != nil:
				t.Errorf("Append: %v (the damage does not touch what Append builds on)", err)
			}
			check("after the next Append")
		})
	}
}

// verifyModes are the two ways Verify checks signatures: in batches (the
// default) and each alone (thorough). Every tamper case runs in both.
var verifyModes = []VerifyOptions{{}, {Thorough: true}}

func TestAppendRefusalMessage(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 3)
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		// TreeHash(3) reads the hash of records 0-1 and the leaf hash of 2.
		x := be64(uint64(tlog.StoredHashIndex(1, 0)))
		h := bytes.Clone(tx.Bucket(bucketHashes).Get(x))
		h[0] ^= 1
		return tx.Bucket(bucketHashes).Put(x, h)
	})
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Append(testRecord(3, record.VerdictPass))
	want := "append evidence: evidence log is damaged: stored hashes no longer match the signed checkpoint of size 3; run `drill evidence verify` to find the damage; refusing to sign on top of it"
	if err == nil || err.Error() != want {
		t.Errorf("Append: err = %v, want %q", err, want)
	}
	if n, _ := s.Size(); n != 3 {
		t.Errorf("Size = %d after a refused Append, want 3", n)
	}
}

// TestVerifyRawByteFlip flips one base64 character of a record's payload in
// the database file itself, below bbolt.
func TestVerifyRawByteFlip(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 1)
	env, err := envelope.Decode(rawGet(t, path, bucketLeaves, be64(0)))
	if err != nil {
		t.Fatal(err)
	}

	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte(env.Payload)
	if n := bytes.Count(raw, payload); n != 1 {
		t.Fatalf("the payload occurs %d times in the file, want once", n)
	}
	at := bytes.Index(raw, payload) + len(payload)/2
	if raw[at] == 'A' {
		raw[at] = 'B'
	} else {
		raw[at] = 'A'
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	// bbolt keeps no checksums of data pages: Open succeeds, and Verify
	// finds the damage.
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open after the flip: %v", err)
	}
	defer s.Close()
	for _, opt := range verifyModes {
		_, err = s.VerifyWith(context.Background(), opt)
		var ve *evlog.VerifyError
		if !errors.As(err, &ve) || ve.Index != 0 || ve.Msg != "payload does not match its signature" {
			t.Errorf("Verify (%+v): err = %v, want record 0: payload does not match its signature", opt, err)
		}
	}
}

// TestVerifyAcrossChunks checks that Verify's parallel chunks report the
// right record past the first chunk.
func TestVerifyAcrossChunks(t *testing.T) {
	if testing.Short() {
		t.Skip("appends over a thousand records")
	}
	key := testKey(t, testOrigin)
	const n, bad = verifyChunk + 100, verifyChunk + 37
	path := newLog(t, t.TempDir(), testOrigin, key, n)
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Verify(context.Background()); err != nil || rep.Records != n {
		t.Fatalf("Verify = %+v, %v; want %d records", rep, err, n)
	}
	must(t, s.Close())

	// A copied record, and past it a record whose signature does not
	// verify, in the same chunk: both modes report the
	// first; once it is put back, the second.
	orig := rawGet(t, path, bucketLeaves, be64(bad))
	rawUpdate(t, path, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketLeaves)
		if err := b.Put(be64(bad), bytes.Clone(b.Get(be64(bad-1)))); err != nil {
			return err
		}
		return b.Put(be64(bad+50), flipSig(t, b.Get(be64(bad+50))))
	})
	verifyBoth(t, path, "record 1061: log_index is 1060 (a record moved or copied from elsewhere)")
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketLeaves).Put(be64(bad), orig) })
	verifyBoth(t, path, "record 1111: payload does not match its signature")
}

// verifyBoth verifies the store at path in both modes and wants the
// error want from each.
func verifyBoth(t *testing.T, path, want string) {
	t.Helper()
	s, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, opt := range verifyModes {
		_, err = s.VerifyWith(context.Background(), opt)
		if got := fmt.Sprint(err); got != want {
			t.Errorf("Verify (%+v): %v, want %s", opt, got, want)
		}
	}
}

// flipSig returns leaf with one base64 character of its signature
// changed.
func flipSig(t *testing.T, leaf []byte) []byte {
	t.Helper()
	out := bytes.Clone(leaf)
	i := bytes.Index(out, []byte(`"sig":"`)) + 12
	if i < 12 {
		t.Fatal("no signature in the leaf")
	}
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func mustOpenCheckpoint(t *testing.T, msg []byte, key *keys.Key) evlog.Checkpoint {
	t.Helper()
	c, err := evlog.OpenCheckpoint(msg, key.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestVerifyHugeStoredSize(t *testing.T) {
	key := testKey(t, testOrigin)
	path := newLog(t, t.TempDir(), testOrigin, key, 2)
	rawUpdate(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaSize, be64(1<<62)) })
	s, err := Open(path, Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Verify(context.Background())
	if got, want := err.Error(), "record 2: missing"; got != want {
		t.Errorf("Verify: %v, want %s", got, want)
	}
	if !errors.Is(s.Damaged(), ErrDamaged) {
		t.Errorf("Damaged() = %v, want ErrDamaged", s.Damaged())
	}
}
