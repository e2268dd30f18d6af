package evidence

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
)

// Report is the result of a successful Verify.
type Report struct {
	// Records is the number of records, all verified.
	Records int64
	// Checkpoint is the latest signed checkpoint note.
	Checkpoint []byte
	// Root is the root hash of the tree of all records.
	Root tlog.Hash
	// Origin is the log's origin.
	Origin string
	// VerifierKey is the public key everything was verified with: the
	// store's Key when one was given to Open, else the key stored in the
	// database (which proves integrity only against accidents and
	// attackers without the database's write access; pin the key to prove
	// more).
	VerifierKey string
}

// verifyChunk is how many records Verify checks in parallel at a time.
const verifyChunk = 1024

// Verify recomputes the whole log from the stored records and checks
// everything the store holds against it; see the package documentation for
// what that proves. It returns an *evlog.VerifyError describing the first problem
// in log order, or another error if it could not read the store or ctx was
// cancelled.
func (s *Store) Verify(ctx context.Context) (*Report, error) {
	return s.VerifyWith(ctx, VerifyOptions{})
}

// VerifyOptions say how Verify checks signatures.
type VerifyOptions struct {
	// Thorough checks every record's and checkpoint's signature on its
	// own with crypto/ed25519. Without it they are checked in batches
	// (internal/sigbatch) and the latest checkpoint's alone; a batch that
	// fails is checked one by one, so the error is the same.
	Thorough bool
}

// VerifyWith is Verify with options.
func (s *Store) VerifyWith(ctx context.Context, opt VerifyOptions) (*Report, error) {
	chain, err := s.firstKey()
	if err != nil {
		return nil, err
	}
	v := &verification{
		origin:   s.origin,
		chain:    chain,
		thorough: opt.Thorough,
	}
	var rep *Report
	err = s.db.View(func(tx *bbolt.Tx) error {
		var err error
		rep, err = v.run(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	rep.VerifierKey = s.vkey
	if s.key != nil && s.key.Verifier != nil {
		// The key the caller trusts must be one of the log's keys: the
		// first (it vouched for every later one) or a later one (it
		// co-signed the checkpoint that covers everything before it).
		if !chain.Has(s.key.VerifierKey) {
			return nil, evlog.LogError("the log's keys (%s) do not include the key you trust (%s)", chain.Names(), s.key.VerifierKey)
		}
		rep.VerifierKey = s.key.VerifierKey
	}
	return rep, nil
}

// firstKey starts the key chain with the log's first key.
func (s *Store) firstKey() (*evlog.KeyChain, error) {
	vkey := s.vkey
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaVKey0); v != nil {
			vkey = string(v)
		}
		return nil
	})
	k, err := evlog.NewLogKey(vkey, 0)
	if err != nil {
		return nil, fmt.Errorf("stored log key: %w", err)
	}
	return &evlog.KeyChain{Origin: s.origin, Keys: []evlog.LogKey{k}}, nil
}

// verification is one run of Verify.
type verification struct {
	origin   string
	chain    *evlog.KeyChain
	thorough bool          // every signature alone, none in batches
	mem      evlog.MemTree // the tree rebuilt from leaves
	index    *indexCheck   // the record indexes, checked against the records
	// The buckets, walked in order.
	leaves, hashes, checkpoints *cursor
}

// cursor walks a bucket whose keys must be consecutive 8-byte integers.
type cursor struct {
	name string
	c    *bbolt.Cursor
	k, v []byte
}

func newCursor(tx *bbolt.Tx, name []byte) *cursor {
	c := &cursor{name: string(name), c: tx.Bucket(name).Cursor()}
	c.k, c.v = c.c.First()
	return c
}

// take returns the value stored at key want and advances past it; nil if
// there is no such key. A key that is not 8 bytes is an error.
func (c *cursor) take(want int64) ([]byte, error) {
	for c.k != nil {
		if len(c.k) != 8 {
			return nil, evlog.LogError("bucket %s holds a malformed key %x", c.name, c.k)
		}
		k := int64(binary.BigEndian.Uint64(c.k))
		if k > want {
			return nil, nil
		}
		if k == want {
			val := c.v
			c.k, c.v = c.c.Next()
			return val, nil
		}
		// k < want cannot happen while keys are taken in order from the
		// first; skip defensively.
		c.k, c.v = c.c.Next()
	}
	return nil, nil
}

// rest returns the next key left in the bucket, or -1.
func (c *cursor) rest() (int64, error) {
	if c.k == nil {
		return -1, nil
	}
	if len(c.k) != 8 {
		return 0, evlog.LogError("bucket %s holds a malformed key %x", c.name, c.k)
	}
	return int64(binary.BigEndian.Uint64(c.k)), nil
}

func (v *verification) run(ctx context.Context, tx *bbolt.Tx) (*Report, error) {
	meta := tx.Bucket(bucketMeta)
	if got := string(meta.Get(metaOrigin)); got != v.origin {
		return nil, evlog.LogError("the stored log origin changed from %q to %q", v.origin, got)
	}
	size, err := storedSize(tx)
	if err != nil {
		return nil, evlog.LogError("%v", err)
	}
	v.index = newIndexCheck(tx, size)
	v.leaves = newCursor(tx, bucketLeaves)
	v.hashes = newCursor(tx, bucketHashes)
	v.checkpoints = newCursor(tx, bucketCheckpoints)

	// The empty tree.
	latest, err := v.checkpoints.take(0)
	if err != nil {
		return nil, err
	}
	if c, verr := v.checkCheckpoint(v.chain, 0, latest, v.chain.InForce(0), nil); verr != nil {
		return nil, verr
	} else if c.Root != evlog.EmptyRoot() {
		return nil, evlog.CheckpointError(0, -1, "root hash is not that of the empty tree")
	}

	// size comes from the database: do not let a damaged one allocate
	// without bound before the first missing record is found.
	v.mem = make([]tlog.Hash, 0, tlog.StoredHashCount(min(size, 1<<20)))
	if size > 0 {
		if latest, err = v.chunks(ctx, size); err != nil {
			return nil, err
		}
	}
	if err := v.nothingBeyond(size); err != nil {
		return nil, err
	}
	if err := v.index.finish(size); err != nil {
		return nil, err
	}
	// The latest checkpoint's signature, which proves every record, alone
	// whatever the mode.
	if _, verr := v.checkCheckpoint(v.chain, size, latest, v.chain.InForce(size), nil); verr != nil {
		return nil, verr
	}
	root, err := tlog.TreeHash(size, v.mem)
	if err != nil {
		return nil, fmt.Errorf("verify evidence: %w", err)
	}
	return &Report{Records: size, Checkpoint: bytes.Clone(latest), Root: root, Origin: v.origin}, nil
}

// checked is what the parallel pass found about a record and the
// checkpoint signed after it, and the keys it checked them with.
type checked struct {
	rec            *record.Record // the record, for the index check
	change         *envelope.KeyChange
	err            *evlog.VerifyError
	cp             checkpointResult
	leafKey, cpKey evlog.LogKey
}

// chunk is a run of records and the checkpoints signed after them, read
// from the store, and what the parallel pass found about them.
type chunk struct {
	start int64
	leafs [][]byte  // leafs[j] is record start+j
	cps   [][]byte  // cps[j] is the checkpoint of size start+j+1
	res   []checked // res[j] is what the parallel pass found about both
	keys  *evlog.KeyChain
	done  chan struct{} // closed when res is filled
}

// chunks checks records 0..size-1 (size > 0) and the checkpoints signed
// after them, and returns the last of those checkpoints. It is a
// pipeline: while the records of one chunk are checked in parallel (the
// signatures, nearly all the work), this goroutine, the only one to use
// the transaction, reads the next chunk and rebuilds the tree over the
// previous one, in log order, so that the first problem reported is the
// first in the log.
func (v *verification) chunks(ctx context.Context, size int64) ([]byte, error) {
	var prev *chunk
	for start := int64(0); start < size; start += verifyChunk {
		if err := ctx.Err(); err != nil {
			return nil, v.drain(prev, fmt.Errorf("verify evidence: %w", err))
		}
		cur, err := v.read(start, min(start+verifyChunk, size))
		if err != nil {
			// An earlier record's problem comes first.
			return nil, v.drain(prev, err)
		}
		go v.check(cur)
		if prev != nil {
			if err := v.addAll(prev); err != nil {
				<-cur.done
				return nil, err
			}
		}
		prev = cur
	}
	if err := v.addAll(prev); err != nil {
		return nil, err
	}
	return prev.cps[len(prev.cps)-1], nil
}

// drain rebuilds the tree over c, the chunk checked last, and returns its
// first problem, else err.
func (v *verification) drain(c *chunk, err error) error {
	if c == nil {
		return err
	}
	if aerr := v.addAll(c); aerr != nil {
		return aerr
	}
	return err
}

// read reads records start..end-1 and the checkpoints signed after them.
// Values stay valid for the whole read transaction, so they are not
// copied.
func (v *verification) read(start, end int64) (*chunk, error) {
	m := int(end - start)
	c := &chunk{
		start: start,
		leafs: make([][]byte, m),
		cps:   make([][]byte, m),
		res:   make([]checked, m),
		done:  make(chan struct{}),
		// The parallel pass must not read the chain while addAll
		// follows key changes in it: it gets its own copy.
		keys: &evlog.KeyChain{Origin: v.chain.Origin, Keys: slices.Clone(v.chain.Keys)},
	}
	for j := range m {
		var err error
		if c.leafs[j], err = v.leaves.take(start + int64(j)); err != nil {
			return nil, err
		}
		if c.cps[j], err = v.checkpoints.take(start + int64(j) + 1); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// check checks c's signatures in parallel, in batches unless thorough,
// and closes c.done. The keys are those in force at the chunk's start as
// far as the chain was followed; the rare entries after a key change the
// chain had not reached yet are checked again in add.
func (v *verification) check(c *chunk) {
	defer close(c.done)
	for j := range c.res {
		c.res[j].leafKey = c.keys.InForce(c.start + int64(j))
		c.res[j].cpKey = c.keys.InForce(c.start + int64(j) + 1)
	}
	evlog.CheckAll(len(c.res), v.thorough, func(j int, sigs *evlog.Sigs) {
		i, r := c.start+int64(j), &c.res[j]
		r.rec, r.change, r.err = evlog.CheckLeafDeferred(v.origin, i, c.leafs[j], r.leafKey, sigs)
		r.cp = v.openCheckpoint(c.keys, i+1, c.cps[j], r.cpKey, sigs)
	})
}

// addAll waits for c's parallel pass, then rebuilds the tree over it in
// order and compares.
func (v *verification) addAll(c *chunk) error {
	<-c.done
	for j := range c.res {
		if err := v.add(c.start+int64(j), c.leafs[j], c.cps[j], &c.res[j]); err != nil {
			return err
		}
	}
	return nil
}

// add follows record i's key change, if it is one, adds the record to the
// rebuilt tree, compares the stored hashes and checks the root of the
// checkpoint signed after it.
func (v *verification) add(i int64, leaf, cp []byte, c *checked) error {
	if k := v.chain.InForce(i); k.VKey != c.leafKey.VKey {
		c.rec, c.change, c.err = evlog.CheckLeaf(v.origin, i, leaf, k)
	}
	if c.err != nil {
		return c.err
	}
	if c.change != nil {
		if verr := v.chain.Change(i, c.change, false); verr != nil {
			return verr
		}
	}
	if k := v.chain.InForce(i + 1); k.VKey != c.cpKey.VKey || k.From == i+1 {
		c.cp = v.openCheckpoint(v.chain, i+1, cp, k, nil)
	}
	if err := v.storedHashes(i, leaf); err != nil {
		return err
	}
	if c.cp.err != nil {
		return c.cp.err
	}
	root, err := tlog.TreeHash(i+1, v.mem)
	if err != nil {
		return fmt.Errorf("verify evidence: %w", err)
	}
	if c.cp.root != root {
		return evlog.CheckpointError(i+1, i, "root hash does not match the records (first differing record %d)", i)
	}
	return v.index.entry(i, c.rec)
}

// storedHashes adds record i to the rebuilt tree and compares the hashes
// stored for it.
func (v *verification) storedHashes(i int64, leaf []byte) error {
	hs, err := tlog.StoredHashes(i, leaf, v.mem)
	if err != nil {
		return fmt.Errorf("verify evidence: record %d: %w", i, err)
	}
	base := tlog.StoredHashIndex(0, i)
	for k, h := range hs {
		x := base + int64(k)
		stored, err := v.hashes.take(x)
		if err != nil {
			return err
		}
		switch {
		case bytes.Equal(stored, h[:]):
		case k == 0 && stored == nil:
			return evlog.RecordError(i, "leaf hash is missing from the stored Merkle tree")
		case k == 0:
			return evlog.RecordError(i, "leaf hash does not match the stored Merkle tree")
		default:
			// The hash at level k ending at record i covers the 2^k
			// records up to i.
			first := i + 1 - int64(1)<<k
			what := "does not match the records"
			if stored == nil {
				what = "is missing"
			}
			return evlog.RecordError(first, "stored Merkle tree hash %d (level %d, records %d-%d) %s", x, k, first, i, what)
		}
	}
	v.mem = append(v.mem, hs...)
	return nil
}

// nothingBeyond checks that nothing is stored beyond the log's size.
func (v *verification) nothingBeyond(size int64) error {
	if k, err := v.checkpoints.rest(); err != nil {
		return err
	} else if k >= 0 {
		return evlog.RecordError(size, "missing: the log holds %d records, but a checkpoint of size %d was signed", size, k)
	}
	if k, err := v.leaves.rest(); err != nil {
		return err
	} else if k >= 0 {
		return evlog.RecordError(k, "stored beyond the log size %d", size)
	}
	if k, err := v.hashes.rest(); err != nil {
		return err
	} else if k >= 0 {
		return evlog.LogError("stored Merkle tree hash %d lies beyond the tree of %d records", k, size)
	}
	return nil
}

type checkpointResult struct {
	root tlog.Hash
	err  *evlog.VerifyError
}

// openCheckpoint verifies the checkpoint of the given size, leaving its
// signatures to sigs unless it is nil.
func (v *verification) openCheckpoint(chain *evlog.KeyChain, size int64, msg []byte, key evlog.LogKey, sigs *evlog.Sigs) checkpointResult {
	c, verr := v.checkCheckpoint(chain, size, msg, key, sigs)
	return checkpointResult{root: c.Root, err: verr}
}

// checkCheckpoint checks the signature (by key, and by the old key too at
// a hand-over), origin and size of a checkpoint, with the keys of chain (as
// far as it was followed); with sigs, the signatures by the key in force
// are left to it.
func (v *verification) checkCheckpoint(chain *evlog.KeyChain, size int64, msg []byte, key evlog.LogKey, sigs *evlog.Sigs) (evlog.Checkpoint, *evlog.VerifyError) {
	if msg == nil {
		return evlog.Checkpoint{}, evlog.CheckpointError(size, -1, "missing")
	}
	var c evlog.Checkpoint
	var err error
	if key.VKey == chain.InForce(size).VKey {
		c, err = chain.OpenCheckpointDeferred(size, msg, sigs)
	} else {
		c, err = evlog.OpenCheckpoint(msg, key.Verifier)
	}
	if err != nil {
		return evlog.Checkpoint{}, evlog.CheckpointError(size, -1, "%v", err)
	}
	if c.Origin != v.origin {
		return evlog.Checkpoint{}, evlog.CheckpointError(size, -1, "origin is %q, want %q", c.Origin, v.origin)
	}
	if c.Size != size {
		return evlog.Checkpoint{}, evlog.CheckpointError(size, -1, "stored as size %d but signed for size %d", size, c.Size)
	}
	return c, nil
}
