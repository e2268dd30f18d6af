package evidence

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

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
	if c, verr := v.checkCheckpoint(0, latest, v.chain.InForce(0), nil); verr != nil {
		return nil, verr
	} else if c.Root != evlog.EmptyRoot() {
		return nil, evlog.CheckpointError(0, -1, "root hash is not that of the empty tree")
	}

	// size comes from the database: do not let a damaged one allocate
	// without bound before the first missing record is found.
	v.mem = make([]tlog.Hash, 0, tlog.StoredHashCount(min(size, 1<<20)))
	for start := int64(0); start < size; start += verifyChunk {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("verify evidence: %w", err)
		}
		if latest, err = v.chunk(start, min(start+verifyChunk, size)); err != nil {
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
	if _, verr := v.checkCheckpoint(size, latest, v.chain.InForce(size), nil); verr != nil {
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

// chunk checks records start..end-1 and the checkpoints signed after
// them, and returns the last of those checkpoints.
func (v *verification) chunk(start, end int64) ([]byte, error) {
	m := int(end - start)
	// Read the chunk. Values stay valid for the whole read transaction,
	// so they are not copied.
	leafs := make([][]byte, m)
	cps := make([][]byte, m) // cps[j] is the checkpoint of size start+j+1
	for j := range m {
		var err error
		if leafs[j], err = v.leaves.take(start + int64(j)); err != nil {
			return nil, err
		}
		if cps[j], err = v.checkpoints.take(start + int64(j) + 1); err != nil {
			return nil, err
		}
	}

	// Check signatures in parallel, in batches unless thorough: they are
	// nearly all the work. The keys are those in force at the chunk's start; the rare entries
	// after a key change inside the chunk are checked again in add.
	res := make([]checked, m)
	for j := range m {
		res[j].leafKey = v.chain.InForce(start + int64(j))
		res[j].cpKey = v.chain.InForce(start + int64(j) + 1)
	}
	evlog.CheckAll(m, v.thorough, func(j int, sigs *evlog.Sigs) {
		res[j].rec, res[j].change, res[j].err = evlog.CheckLeafDeferred(v.origin, start+int64(j), leafs[j], res[j].leafKey, sigs)
		res[j].cp = v.openCheckpoint(start+int64(j)+1, cps[j], res[j].cpKey, sigs)
	})

	// Rebuild the tree in order and compare.
	for j := range m {
		if err := v.add(start+int64(j), leafs[j], cps[j], &res[j]); err != nil {
			return nil, err
		}
	}
	return cps[m-1], nil
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
		c.cp = v.openCheckpoint(i+1, cp, k, nil)
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
func (v *verification) openCheckpoint(size int64, msg []byte, key evlog.LogKey, sigs *evlog.Sigs) checkpointResult {
	c, verr := v.checkCheckpoint(size, msg, key, sigs)
	return checkpointResult{root: c.Root, err: verr}
}

// checkCheckpoint checks the signature (by key, and by the old key too at
// a hand-over), origin and size of a checkpoint; with sigs, the
// signatures by the key in force are left to it.
func (v *verification) checkCheckpoint(size int64, msg []byte, key evlog.LogKey, sigs *evlog.Sigs) (evlog.Checkpoint, *evlog.VerifyError) {
	if msg == nil {
		return evlog.Checkpoint{}, evlog.CheckpointError(size, -1, "missing")
	}
	var c evlog.Checkpoint
	var err error
	if key.VKey == v.chain.InForce(size).VKey {
		c, err = v.chain.OpenCheckpointDeferred(size, msg, sigs)
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
