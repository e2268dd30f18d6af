package evidence

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// Bucket names and meta keys; see the package documentation.
var (
	bucketMeta        = []byte("meta")
	bucketLeaves      = []byte("leaves")
	bucketHashes      = []byte("hashes")
	bucketCheckpoints = []byte("checkpoints")

	metaFormat  = []byte("format")
	metaOrigin  = []byte("origin")
	metaVKey    = []byte("vkey")
	metaSize    = []byte("size")
	metaCreated = []byte("created")
)

// formatVersion is the value of meta/format this package writes and reads.
const formatVersion = "1"

var (
	// ErrLocked is wrapped by the error Open returns when another process
	// holds the store's file lock.
	ErrLocked = errors.New("locked by another process")
	// ErrDamaged is wrapped by the error Append returns when the stored
	// log no longer matches its latest signed checkpoint.
	ErrDamaged = errors.New("evidence log is damaged")
	// ErrReadOnly is returned by Append on a store opened read-only.
	ErrReadOnly = errors.New("evidence store is open read-only")
)

// Options configure Open.
type Options struct {
	// Origin names the log in its checkpoints (C2SP tlog-checkpoint
	// origin): a schema-less URL-like name without spaces or '+'. It is
	// fixed when the store is created; a different Origin given later is
	// ignored and the stored one kept.
	Origin string
	// Key signs records and checkpoints. It is needed to create the store
	// and to Append. When set, Verify trusts this key, not the public key
	// stored in the database. A read-only store may have a nil Key, or a
	// verify-only one (keys.VerifyOnly).
	Key *keys.Key
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// ReadOnly opens the database with a shared lock and never writes.
	ReadOnly bool
}

// Store is the evidence log in a bbolt file. Its methods are safe for
// concurrent use.
type Store struct {
	db       *bbolt.DB
	path     string
	origin   string
	vkey     string // the log's verifier key as stored in meta
	key      *keys.Key
	verifier note.Verifier // what Verify and the append check trust
	now      func() time.Time
	readOnly bool
	keyErr   error // why Key cannot append to this log, if it cannot
	indexed  bool  // the record indexes cover the log (index.go)

	mu      sync.Mutex // serialises commits and guards head, damaged and key
	head    *head      // the latest signed checkpoint, verified; nil if damaged
	damaged error      // why head is nil

	// Group commit (see AppendBatch): appends queue in pending; whoever
	// holds leader commits everything queued in one transaction.
	leader  chan struct{} // capacity 1: held by the goroutine committing
	qmu     sync.Mutex    // guards pending
	pending []*appendReq
	commits atomic.Int64 // append transactions committed, for tests
}

// head is the latest checkpoint, verified at Open or produced by Append.
type head struct {
	evlog.Checkpoint
	note []byte
}

// Entry is one record of the log as stored.
type Entry struct {
	// Index is the record's position in the log, from 0.
	Index int64
	// Envelope is the exact leaf: the DSSE envelope JSON, one line.
	Envelope []byte
	// Record is the envelope's predicate; nil for a key change.
	Record *record.Record
	// KeyChange is set for the entry that hands the log to a new key;
	// Entries does not visit those.
	KeyChange *envelope.KeyChange
}

// Open opens the evidence store at path, creating it (and the empty log's
// signed checkpoint) if the file does not exist, unless opt.ReadOnly. The
// parent directory must exist.
//
// When another process has the store open, Open waits one second and then
// returns an error wrapping ErrLocked. A read-write Open checks that the
// latest checkpoint is signed by the log key and matches the stored hashes;
// if not, Open succeeds (so that the log can still be read and verified)
// but Append refuses: see Damaged.
func Open(path string, opt Options) (*Store, error) {
	s := &Store{path: path, key: opt.Key, now: opt.Now, readOnly: opt.ReadOnly, leader: make(chan struct{}, 1)}
	if s.now == nil {
		s.now = time.Now
	}
	if opt.ReadOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("open evidence store %s: the file does not exist (no drill has been recorded in this state dir yet?): %w", path, fs.ErrNotExist)
		}
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: opt.ReadOnly})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open evidence store %s: %w (is a drill agent or another drill command using this state dir?)", path, ErrLocked)
	}
	if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
		return nil, fmt.Errorf("open evidence store %s: %w: the file is damaged or is not a drill evidence store, and was left as it is; "+
			"keep a copy of it, then restore it from a backup of the state directory, or move it aside to start a new log "+
			"(the records of the old one stay readable from a restored copy with drill evidence verify)", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open evidence store %s: %w", path, err)
	}
	s.db = db
	if err := s.load(opt); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open evidence store %s: %w", path, err)
	}
	if !opt.ReadOnly {
		if err := s.refreshHead(); err != nil {
			_ = db.Close()
			return nil, fmt.Errorf("open evidence store %s: %w", path, err)
		}
	}
	return s, nil
}

// load creates the buckets and the empty log if needed (read-write only),
// then reads origin and key from meta.
func (s *Store) load(opt Options) error {
	if !opt.ReadOnly {
		exists, indexed := false, false
		_ = s.db.View(func(tx *bbolt.Tx) error {
			exists, indexed = tx.Bucket(bucketMeta) != nil, tx.Bucket(bucketPoints) != nil
			return nil
		})
		if !exists {
			if err := s.db.Update(func(tx *bbolt.Tx) error { return s.create(tx, opt) }); err != nil {
				return err
			}
		} else if !indexed {
			if err := s.db.Update(rebuildPoints); err != nil {
				return err
			}
		}
		if err := s.indexUp(); err != nil {
			return err
		}
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			return errors.New("not a drill evidence store (no meta bucket)")
		}
		if got := string(meta.Get(metaFormat)); got != formatVersion {
			return fmt.Errorf("evidence store format %q is not supported (want %q)", got, formatVersion)
		}
		for _, name := range [][]byte{bucketLeaves, bucketHashes, bucketCheckpoints} {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("evidence store has no %s bucket", name)
			}
		}
		s.origin = string(meta.Get(metaOrigin))
		s.vkey = string(meta.Get(metaVKey))
		// A read-only store whose indexes lag behind the log is read whole.
		s.indexed, _ = indexCovers(tx)
		return nil
	})
	if err != nil {
		return err
	}
	if s.key != nil && s.key.Verifier != nil {
		s.verifier = s.key.Verifier
		if s.key.VerifierKey != s.vkey {
			s.keyErr = fmt.Errorf("the signing key %s is not the key of this evidence log (%s); refusing to sign with it", s.key.VerifierKey, s.vkey)
		}
		return nil
	}
	v, _, err := keys.ParseVerifierKey(s.vkey)
	if err != nil {
		return fmt.Errorf("stored log key: %w", err)
	}
	s.verifier = v
	return nil
}

// create initialises an empty store in tx: buckets, meta and the signed
// checkpoint of the empty tree. It does nothing to an existing store.
func (s *Store) create(tx *bbolt.Tx, opt Options) error {
	if tx.Bucket(bucketMeta) != nil {
		return nil
	}
	foreign := false
	_ = tx.ForEach(func([]byte, *bbolt.Bucket) error { foreign = true; return nil })
	if foreign {
		return errors.New("not a drill evidence store (it has other buckets and no meta bucket)")
	}
	if opt.Key == nil || opt.Key.Signer == nil {
		return errors.New("a signing key is needed to create the evidence store")
	}
	if err := evlog.ValidOrigin(opt.Origin); err != nil {
		return err
	}
	cp, err := evlog.SignCheckpoint(evlog.Checkpoint{Origin: opt.Origin, Size: 0, Root: evlog.EmptyRoot()}, opt.Key.Signer)
	if err != nil {
		return err
	}
	meta, err := tx.CreateBucket(bucketMeta)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketLeaves, bucketHashes, bucketCheckpoints, bucketPoints} {
		if _, err := tx.CreateBucket(name); err != nil {
			return err
		}
	}
	for k, v := range map[string][]byte{
		string(metaFormat):  []byte(formatVersion),
		string(metaOrigin):  []byte(opt.Origin),
		string(metaVKey):    []byte(opt.Key.VerifierKey),
		string(metaSize):    be64(0),
		string(metaCreated): []byte(s.now().UTC().Format(time.RFC3339Nano)),
	} {
		if err := meta.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketCheckpoints).Put(be64(0), cp)
}

// Origin returns the log's origin, as fixed when the store was created.
func (s *Store) Origin() string { return s.origin }

// VerifierKey returns the note verifier key of the log's current key.
func (s *Store) VerifierKey() string { return s.vkey }

// Close closes the database and releases its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close evidence store %s: %w", s.path, err)
	}
	return nil
}

// Damaged returns nil when the log was intact at Open (its latest
// checkpoint is signed by the log key and matches the stored hashes) or an
// error wrapping ErrDamaged that says what is wrong; Append refuses while
// it is not nil. It is always nil for a read-only store, which does not
// check: use Verify.
func (s *Store) Damaged() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.damaged
}

// Size returns the number of records in the log.
func (s *Store) Size() (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = storedSize(tx)
		return err
	})
	return n, err
}

// Checkpoint returns the latest signed checkpoint note.
func (s *Store) Checkpoint() ([]byte, error) {
	var cp []byte
	err := s.db.View(func(tx *bbolt.Tx) error {
		n, err := storedSize(tx)
		if err != nil {
			return err
		}
		v := tx.Bucket(bucketCheckpoints).Get(be64(uint64(n)))
		if v == nil {
			return fmt.Errorf("evidence store has no checkpoint of size %d", n)
		}
		cp = bytes.Clone(v)
		return nil
	})
	return cp, err
}

// entriesBatch is how many leaves Entries reads per read transaction.
const entriesBatch = 256

// Entries calls fn for each drill record (not key changes), oldest first
// or newest first, until fn
// returns an error, which Entries then returns as it is. Records appended
// while Entries runs are not visited. Nothing is verified (use Verify): a
// leaf is only parsed, and one that does not parse stops Entries with an
// error naming its index. fn runs outside any database transaction, so it
// may call other methods of s, Append included.
func (s *Store) Entries(fn func(*Entry) error, newestFirst bool) error {
	size, err := s.Size()
	if err != nil {
		return err
	}
	for done := int64(0); done < size; {
		lo, hi := done, min(done+entriesBatch, size)
		if newestFirst {
			lo, hi = size-hi, size-done
		}
		leaves := make([][]byte, 0, hi-lo)
		err := s.db.View(func(tx *bbolt.Tx) error {
			b := tx.Bucket(bucketLeaves)
			for i := lo; i < hi; i++ {
				v := b.Get(be64(uint64(i)))
				if v == nil {
					return fmt.Errorf("record %d: missing from the evidence store", i)
				}
				leaves = append(leaves, bytes.Clone(v))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for j := range leaves {
			k := j
			if newestFirst {
				k = len(leaves) - 1 - j
			}
			e, err := parseEntry(lo+int64(k), leaves[k])
			if err != nil {
				return err
			}
			if e.Record == nil {
				continue // a key change: not a drill's record
			}
			if err := fn(e); err != nil {
				return err
			}
		}
		done += hi - lo
	}
	return nil
}

// parseEntry decodes leaf i without verifying it.
func parseEntry(i int64, leaf []byte) (*Entry, error) {
	rec, kc, err := envelope.Parse(leaf)
	if err != nil {
		return nil, fmt.Errorf("record %d: %w", i, err)
	}
	return &Entry{Index: i, Envelope: leaf, Record: rec, KeyChange: kc}, nil
}

// sha256Hex matches a lower-case hex SHA-256 digest.
var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// checkRecord refuses records the log must not hold.
func checkRecord(rec *record.Record) error {
	if rec.Drill == "" {
		return errors.New("record has no drill name")
	}
	switch rec.Verdict {
	case record.VerdictPass, record.VerdictFail, record.VerdictError, record.VerdictInterrupted:
	default:
		return fmt.Errorf("record of drill %s has verdict %q, want pass, fail, error or interrupted", rec.Drill, rec.Verdict)
	}
	if rec.ManifestSHA256 != "" && !sha256Hex.MatchString(rec.ManifestSHA256) {
		return fmt.Errorf("record of drill %s has manifest_sha256 %q, want 64 lower-case hex digits", rec.Drill, rec.ManifestSHA256)
	}
	return nil
}

// Append signs rec into a new log entry and a new checkpoint, durable
// when Append returns. It sets rec.LogOrigin and rec.LogIndex (and
// replaces nil Reasons and Checks with empty lists) and returns the entry.
//
// Concurrent Appends share transactions (group commit, see AppendBatch);
// a lone Append commits at once and waits for nothing else.
//
// Append refuses to sign on top of a log whose stored hashes or latest
// checkpoint no longer match what the log key signed (the error wraps
// ErrDamaged), on a read-only store (ErrReadOnly), and without the log's
// own signing key.
func (s *Store) Append(rec *record.Record) (*Entry, error) {
	entries, err := s.AppendBatch([]*record.Record{rec})
	if err != nil {
		return nil, err
	}
	return entries[0], nil
}

// AppendBatch appends recs in order as Append would, each with its own
// signed checkpoint, in one database transaction: one commit (and its
// fsyncs) for the whole batch. Either all records are appended or none.
// Use it when several records are ready at once (drills interrupted by a
// crash, an import); one drill result is one Append.
//
// Calls made while another one is committing are committed together in
// the next transaction, each call's records kept together and in order
// (group commit). A call returns only once the transaction holding its
// records has committed; when that commit fails, every call in it fails
// and the head is read back from disk. A call whose records the log
// refuses (one too large to sign, or one its indexes cannot hold) fails
// alone; the calls queued with it are committed without it.
func (s *Store) AppendBatch(recs []*record.Record) ([]*Entry, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	// Work on copies, so that the callers' records change only on success.
	rs := make([]record.Record, len(recs))
	for i, rec := range recs {
		if err := checkRecord(rec); err != nil {
			return nil, fmt.Errorf("append evidence: %w", err)
		}
		rs[i] = *rec
		if rs[i].Reasons == nil {
			rs[i].Reasons = []string{}
		}
		if rs[i].Checks == nil {
			rs[i].Checks = []record.Check{}
		}
	}
	req := &appendReq{recs: rs, done: make(chan struct{})}
	s.enqueue(req)
	if req.err != nil {
		return nil, fmt.Errorf("append evidence: %w", req.err)
	}
	entries := make([]*Entry, len(recs))
	for i, rec := range recs {
		*rec = rs[i]
		entries[i] = &Entry{Index: rec.LogIndex, Envelope: req.leaves[i], Record: rec}
	}
	return entries, nil
}

// appendReq is one AppendBatch call waiting for its group's commit.
type appendReq struct {
	recs   []record.Record // signed in place: LogOrigin, LogIndex
	leaves [][]byte        // the signed envelopes, once committed
	err    error           // set before done is closed
	done   chan struct{}
}

// enqueue queues req and returns once the transaction holding it has
// committed or failed. The caller that takes the leader slot commits
// everything queued, its own request included unless an earlier leader
// took it; the others wait for their request's result. No one sleeps: a
// lone request is committed as soon as the previous commit ends.
func (s *Store) enqueue(req *appendReq) {
	s.qmu.Lock()
	s.pending = append(s.pending, req)
	s.qmu.Unlock()
	select {
	case <-req.done:
		return
	case s.leader <- struct{}{}:
	}
	defer func() { <-s.leader }()
	select {
	case <-req.done: // committed by the leader before us
		return
	default:
	}
	s.qmu.Lock()
	group := s.pending
	s.pending = nil
	s.qmu.Unlock()
	s.commitGroup(group)
}

// commitGroup commits the requests of group in one transaction and closes
// each one's done. A request whose records the log refuses (they cannot be
// signed, or cannot be indexed) fails alone: the others are signed again
// for their new places and committed without it.
func (s *Store) commitGroup(group []*appendReq) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		for _, r := range group {
			close(r.done)
		}
	}()
	for left := group; len(left) > 0; {
		if err := s.canSign(); err != nil {
			for _, r := range left {
				r.err = err
			}
			return
		}
		rs, leaves, signed := s.signGroup(left)
		var next *head
		err := s.update(func(tx *bbolt.Tx) error {
			var err error
			next, err = s.appendRecords(tx, rs, leaves)
			return err
		})
		if re := (*recordError)(nil); errors.As(err, &re) {
			r := owner(signed, re.i)
			r.err, r.leaves = re.err, nil
			left = slices.DeleteFunc(signed, func(o *appendReq) bool { return o == r })
			continue
		}
		for _, r := range signed {
			r.err = err
		}
		if err == nil {
			s.head = next
			s.commits.Add(1)
		}
		return
	}
}

// signGroup signs the records of each request of group for its place
// after the head, and returns them all in order with their leaves and the
// requests signed; a request that cannot be signed fails (its err is set)
// and takes no place. The caller holds s.mu.
func (s *Store) signGroup(group []*appendReq) ([]record.Record, [][]byte, []*appendReq) {
	var rs []record.Record
	var leaves [][]byte
	signed := group[:0:0]
	for _, r := range group {
		ls, err := s.signRecords(r.recs, s.head.Size+int64(len(rs)))
		if err != nil {
			r.err = err
			continue
		}
		r.leaves = ls
		rs, leaves = append(rs, r.recs...), append(leaves, ls...)
		signed = append(signed, r)
	}
	return rs, leaves, signed
}

// owner returns the request of group holding the i-th record of the group.
func owner(group []*appendReq, i int) *appendReq {
	for _, r := range group {
		if i < len(r.recs) {
			return r
		}
		i -= len(r.recs)
	}
	return group[len(group)-1] // not reached: i is below the group's count
}

// recordError is an append transaction's failure caused by the i-th
// record it was writing, not by the database.
type recordError struct {
	i   int
	err error
}

func (e *recordError) Error() string { return e.err.Error() }
func (e *recordError) Unwrap() error { return e.err }

// canSign says why the log cannot be appended to now, if it cannot. The
// caller holds s.mu.
func (s *Store) canSign() error {
	if s.key == nil || s.key.Signer == nil || s.key.Private == nil {
		return errors.New("the evidence store was opened without a signing key")
	}
	if s.keyErr != nil {
		return s.keyErr
	}
	if s.head == nil {
		return s.damaged
	}
	return nil
}

// signRecords sets the place in the log of rs, the records to append from
// index n on, and signs each into its leaf. The caller holds s.mu.
func (s *Store) signRecords(rs []record.Record, n int64) ([][]byte, error) {
	leaves := make([][]byte, len(rs))
	for i := range rs {
		rs[i].LogOrigin, rs[i].LogIndex = s.origin, n+int64(i)
		leaf, err := envelope.SignStatement(envelope.NewStatement(&rs[i]), s.key)
		if err != nil {
			return nil, fmt.Errorf("record of drill %s: %w", rs[i].Drill, err)
		}
		leaves[i] = leaf
	}
	return leaves, nil
}

// appendRecords writes rs, signed into leaves for the indexes from the
// head on, as entries of the log in tx, each with its checkpoint, and
// returns the new head.
func (s *Store) appendRecords(tx *bbolt.Tx, rs []record.Record, leaves [][]byte) (*head, error) {
	if err := checkHead(tx, s.head); err != nil {
		return nil, err
	}
	hr := txHashReader(tx)
	hb, lb, cb := tx.Bucket(bucketHashes), tx.Bucket(bucketLeaves), tx.Bucket(bucketCheckpoints)
	pb, err := tx.CreateBucketIfNotExists(bucketPoints)
	if err != nil {
		return nil, err
	}
	hb.FillPercent, lb.FillPercent, cb.FillPercent = 1.0, 1.0, 1.0
	next := s.head
	for i := range rs {
		n := next.Size
		root, err := putLeaf(tx, hr, n, leaves[i])
		if err != nil {
			return nil, err
		}
		if err := noteRecord(tx, pb, &rs[i]); err != nil {
			return nil, &recordError{i: i, err: fmt.Errorf("record of drill %s: %w", rs[i].Drill, err)}
		}
		c := evlog.Checkpoint{Origin: s.origin, Size: n + 1, Root: root}
		cp, err := evlog.SignCheckpoint(c, s.key.Signer)
		if err != nil {
			return nil, err
		}
		if err := cb.Put(be64(uint64(n+1)), cp); err != nil {
			return nil, err
		}
		next = &head{Checkpoint: c, note: cp}
	}
	return next, tx.Bucket(bucketMeta).Put(metaSize, be64(uint64(next.Size)))
}

// noteRecord keeps the runner's state in step with rec, in its append
// transaction: the restore point and sample indexes (pb), the record
// indexes, and the start marker rec finishes.
func noteRecord(tx *bbolt.Tx, pb *bbolt.Bucket, rec *record.Record) error {
	if err := notePoint(pb, rec); err != nil {
		return err
	}
	if err := noteSample(pb, rec); err != nil {
		return err
	}
	if err := noteIndex(tx, rec); err != nil {
		return err
	}
	return clearRunning(tx, rec)
}

// putLeaf writes leaf as entry n of the log in tx, with the hashes stored
// for it, and returns the root of the tree of n+1 entries. Every stored
// hash it reads through hr is covered by the latest checkpoint (checkHead).
func putLeaf(tx *bbolt.Tx, hr tlog.HashReader, n int64, leaf []byte) (tlog.Hash, error) {
	hashes, err := tlog.StoredHashes(n, leaf, hr)
	if err != nil {
		return tlog.Hash{}, err
	}
	hb := tx.Bucket(bucketHashes)
	base := uint64(tlog.StoredHashIndex(0, n))
	for k, h := range hashes {
		if err := hb.Put(be64(base+uint64(k)), bytes.Clone(h[:])); err != nil {
			return tlog.Hash{}, err
		}
	}
	if err := tx.Bucket(bucketLeaves).Put(be64(uint64(n)), leaf); err != nil {
		return tlog.Hash{}, err
	}
	// The reader sees this transaction's own Puts.
	return tlog.TreeHash(n+1, hr)
}

// update runs fn in a read-write transaction. When it fails, the commit
// may have failed half way (a failed fsync): the head is read back from
// disk rather than trusted from memory. The caller holds s.mu.
func (s *Store) update(fn func(*bbolt.Tx) error) error {
	err := s.db.Update(fn)
	if err != nil {
		if rerr := s.refreshHeadLocked(); rerr != nil {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// checkHead checks, inside the append transaction, that the stored log is
// still exactly the one the latest signed checkpoint h describes: same size,
// same checkpoint, nothing stored beyond it, and the stored hashes give h's
// root. Every stored hash the append reads is covered by that root
// (tlog.StoredHashes reads a subset of what tlog.TreeHash reads), so the
// new checkpoint cannot fork the log.
func checkHead(tx *bbolt.Tx, h *head) error {
	n := h.Size
	damaged := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s; run `drill evidence verify` to find the damage; refusing to sign on top of it", ErrDamaged, fmt.Sprintf(format, args...))
	}
	size, err := storedSize(tx)
	if err != nil {
		return damaged("%v", err)
	}
	if size != n {
		return damaged("the stored log size is %d but the latest signed checkpoint has size %d", size, n)
	}
	if !bytes.Equal(tx.Bucket(bucketCheckpoints).Get(be64(uint64(n))), h.note) {
		return damaged("the signed checkpoint of size %d was changed", n)
	}
	if k, _ := tx.Bucket(bucketCheckpoints).Cursor().Last(); !bytes.Equal(k, be64(uint64(n))) {
		return damaged("a checkpoint beyond size %d exists (records were removed?)", n)
	}
	if k, _ := tx.Bucket(bucketLeaves).Cursor().Last(); k != nil && (n == 0 || !bytes.Equal(k, be64(uint64(n-1)))) {
		return damaged("a record beyond index %d exists", n-1)
	}
	if k, _ := tx.Bucket(bucketHashes).Cursor().Last(); k != nil && (n == 0 || !bytes.Equal(k, be64(uint64(tlog.StoredHashCount(n)-1)))) {
		return damaged("stored hashes do not end where a log of size %d ends", n)
	}
	root, err := tlog.TreeHash(n, txHashReader(tx))
	if err != nil || root != h.Root {
		return damaged("stored hashes no longer match the signed checkpoint of size %d", n)
	}
	return nil
}

// refreshHead reads and verifies the latest checkpoint and sets head or
// damaged. Only failures to read at all are returned.
func (s *Store) refreshHead() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refreshHeadLocked()
}

func (s *Store) refreshHeadLocked() error {
	s.head, s.damaged = nil, nil
	return s.db.View(func(tx *bbolt.Tx) error {
		n, err := storedSize(tx)
		if err != nil {
			s.damaged = fmt.Errorf("%w: %v; run `drill evidence verify`; refusing to sign on top of it", ErrDamaged, err) //nolint:errorlint // ErrDamaged is what callers test; the cause is text
			return nil
		}
		msg := tx.Bucket(bucketCheckpoints).Get(be64(uint64(n)))
		if msg == nil {
			s.damaged = fmt.Errorf("%w: the checkpoint of size %d is missing; run `drill evidence verify`; refusing to sign on top of it", ErrDamaged, n)
			return nil
		}
		c, err := evlog.OpenCheckpoint(msg, s.verifier)
		if err == nil && (c.Origin != s.origin || c.Size != n) {
			err = fmt.Errorf("it is for log %q size %d", c.Origin, c.Size)
		}
		if err != nil {
			s.damaged = fmt.Errorf("%w: the latest checkpoint (size %d) does not verify: %v; run `drill evidence verify`; refusing to sign on top of it", ErrDamaged, n, err) //nolint:errorlint // as above
			return nil
		}
		h := &head{Checkpoint: c, note: bytes.Clone(msg)}
		if err := checkHead(tx, h); err != nil {
			s.damaged = err
			return nil
		}
		s.head = h
		return nil
	})
}

// storedSize reads meta/size.
func storedSize(tx *bbolt.Tx) (int64, error) {
	v := tx.Bucket(bucketMeta).Get(metaSize)
	if len(v) != 8 {
		return 0, errors.New("the stored log size is missing or malformed")
	}
	n := binary.BigEndian.Uint64(v)
	if n > 1<<62 {
		return 0, fmt.Errorf("the stored log size %d is out of range", n)
	}
	return int64(n), nil
}

// txHashReader reads stored hashes from the hashes bucket of tx.
func txHashReader(tx *bbolt.Tx) tlog.HashReader {
	b := tx.Bucket(bucketHashes)
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			v := b.Get(be64(uint64(x)))
			if len(v) != tlog.HashSize {
				return nil, fmt.Errorf("stored hash %d is missing or malformed", x)
			}
			copy(out[i][:], v)
		}
		return out, nil
	})
}

// be64 encodes a bucket key: 8 bytes big-endian, so keys sort numerically.
func be64(v uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], v)
	return b[:]
}
