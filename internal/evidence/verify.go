package evidence

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/tlog"
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

// VerifyError is the first problem Verify found.
type VerifyError struct {
	// Index is the record the problem is about or, for a checkpoint whose
	// root does not match, the first record that differs; -1 if none.
	Index int64
	// Checkpoint is the size of the checkpoint the problem is about; -1 if
	// it is not about a checkpoint.
	Checkpoint int64
	// Msg says what is wrong.
	Msg string
}

// Error returns "record 17: Msg", "checkpoint 18: Msg" or Msg.
func (e *VerifyError) Error() string {
	switch {
	case e.Checkpoint >= 0:
		return fmt.Sprintf("checkpoint %d: %s", e.Checkpoint, e.Msg)
	case e.Index >= 0:
		return fmt.Sprintf("record %d: %s", e.Index, e.Msg)
	default:
		return e.Msg
	}
}

func recordError(i int64, format string, args ...any) *VerifyError {
	return &VerifyError{Index: i, Checkpoint: -1, Msg: fmt.Sprintf(format, args...)}
}

func checkpointError(size, record int64, format string, args ...any) *VerifyError {
	return &VerifyError{Index: record, Checkpoint: size, Msg: fmt.Sprintf(format, args...)}
}

func storeError(format string, args ...any) *VerifyError {
	return &VerifyError{Index: -1, Checkpoint: -1, Msg: fmt.Sprintf(format, args...)}
}

// verifyChunk is how many records Verify checks in parallel at a time.
const verifyChunk = 1024

// Verify recomputes the whole log from the stored records and checks
// everything the store holds against it; see the package documentation for
// what that proves. It returns a *VerifyError describing the first problem
// in log order, or another error if it could not read the store or ctx was
// cancelled.
func (s *Store) Verify(ctx context.Context) (*Report, error) {
	chain, err := s.firstKey()
	if err != nil {
		return nil, err
	}
	v := &verification{
		origin: s.origin,
		chain:  chain,
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
		if !chain.has(s.key.VerifierKey) {
			return nil, storeError("the log's keys (%s) do not include the key you trust (%s)", chain.names(), s.key.VerifierKey)
		}
		rep.VerifierKey = s.key.VerifierKey
	}
	return rep, nil
}

// firstKey starts the key chain with the log's first key.
func (s *Store) firstKey() (*keyChain, error) {
	vkey := s.vkey
	_ = s.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(metaVKey0); v != nil {
			vkey = string(v)
		}
		return nil
	})
	k, err := newLogKey(vkey, 0)
	if err != nil {
		return nil, fmt.Errorf("stored log key: %w", err)
	}
	return &keyChain{origin: s.origin, keys: []logKey{k}}, nil
}

// has reports whether vkey is one of the chain's keys.
func (c *keyChain) has(vkey string) bool {
	for _, k := range c.keys {
		if k.vkey == vkey {
			return true
		}
	}
	return false
}

// names lists the chain's keys.
func (c *keyChain) names() string {
	var out []string
	for _, k := range c.keys {
		out = append(out, k.vkey)
	}
	return strings.Join(out, ", ")
}

// verification is one run of Verify.
type verification struct {
	origin string
	chain  *keyChain
	mem    memTree // the tree rebuilt from leaves
}

// memTree is a tree rebuilt in memory, in stored-hash order: the
// tlog.HashReader of Verify and VerifyBundle.
type memTree []tlog.Hash

func (m memTree) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d is not computed yet", x)
		}
		out[i] = m[x]
	}
	return out, nil
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
			return nil, storeError("bucket %s holds a malformed key %x", c.name, c.k)
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
		return 0, storeError("bucket %s holds a malformed key %x", c.name, c.k)
	}
	return int64(binary.BigEndian.Uint64(c.k)), nil
}

func (v *verification) run(ctx context.Context, tx *bbolt.Tx) (*Report, error) {
	meta := tx.Bucket(bucketMeta)
	if got := string(meta.Get(metaOrigin)); got != v.origin {
		return nil, storeError("the stored log origin changed from %q to %q", v.origin, got)
	}
	size, err := storedSize(tx)
	if err != nil {
		return nil, storeError("%v", err)
	}
	leaves := newCursor(tx, bucketLeaves)
	hashes := newCursor(tx, bucketHashes)
	checkpoints := newCursor(tx, bucketCheckpoints)

	// The empty tree.
	cp0, err := checkpoints.take(0)
	if err != nil {
		return nil, err
	}
	if c, verr := v.checkCheckpoint(0, cp0, v.chain.inForce(0)); verr != nil {
		return nil, verr
	} else if c.Root != emptyRoot() {
		return nil, checkpointError(0, -1, "root hash is not that of the empty tree")
	}
	latest := cp0

	// size comes from the database: do not let a damaged one allocate
	// without bound before the first missing record is found.
	v.mem = make([]tlog.Hash, 0, tlog.StoredHashCount(min(size, 1<<20)))
	for start := int64(0); start < size; start += verifyChunk {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("verify evidence: %w", err)
		}
		end := min(start+verifyChunk, size)
		m := int(end - start)

		// Read the chunk. Values stay valid for the whole read
		// transaction, so they are not copied.
		leafs := make([][]byte, m)
		cps := make([][]byte, m) // cps[j] is the checkpoint of size start+j+1
		for j := range m {
			if leafs[j], err = leaves.take(start + int64(j)); err != nil {
				return nil, err
			}
			if cps[j], err = checkpoints.take(start + int64(j) + 1); err != nil {
				return nil, err
			}
		}

		// Check signatures in parallel: they are nearly all the work. The
		// keys are those in force at the chunk's start; the rare entries
		// after a key change inside the chunk are checked again below.
		recErrs := make([]*VerifyError, m)
		changes := make([]*KeyChange, m)
		cpRes := make([]checkpointResult, m)
		leafKeys := make([]logKey, m)
		cpKeys := make([]logKey, m)
		for j := range m {
			leafKeys[j] = v.chain.inForce(start + int64(j))
			cpKeys[j] = v.chain.inForce(start + int64(j) + 1)
		}
		parallel(m, func(j int) {
			changes[j], recErrs[j] = v.checkLeaf(start+int64(j), leafs[j], leafKeys[j])
			cpRes[j] = v.openCheckpoint(start+int64(j)+1, cps[j], cpKeys[j])
		})

		// Rebuild the tree in order and compare.
		for j := range m {
			i := start + int64(j)
			if k := v.chain.inForce(i); k.vkey != leafKeys[j].vkey {
				changes[j], recErrs[j] = v.checkLeaf(i, leafs[j], k)
			}
			if recErrs[j] != nil {
				return nil, recErrs[j]
			}
			if changes[j] != nil {
				if verr := v.chain.change(i, changes[j], false); verr != nil {
					return nil, verr
				}
			}
			if k := v.chain.inForce(i + 1); k.vkey != cpKeys[j].vkey || k.from == i+1 {
				cpRes[j] = v.openCheckpoint(i+1, cps[j], k)
			}
			hs, err := tlog.StoredHashes(i, leafs[j], v.mem)
			if err != nil {
				return nil, fmt.Errorf("verify evidence: record %d: %w", i, err)
			}
			base := tlog.StoredHashIndex(0, i)
			for k, h := range hs {
				x := base + int64(k)
				stored, err := hashes.take(x)
				if err != nil {
					return nil, err
				}
				switch {
				case bytes.Equal(stored, h[:]):
				case k == 0 && stored == nil:
					return nil, recordError(i, "leaf hash is missing from the stored Merkle tree")
				case k == 0:
					return nil, recordError(i, "leaf hash does not match the stored Merkle tree")
				default:
					// The hash at level k ending at record i covers
					// the 2^k records up to i.
					first := i + 1 - int64(1)<<k
					what := "does not match the records"
					if stored == nil {
						what = "is missing"
					}
					return nil, recordError(first, "stored Merkle tree hash %d (level %d, records %d-%d) %s", x, k, first, i, what)
				}
			}
			v.mem = append(v.mem, hs...)

			res := cpRes[j]
			if res.err != nil {
				return nil, res.err
			}
			root, err := tlog.TreeHash(i+1, v.mem)
			if err != nil {
				return nil, fmt.Errorf("verify evidence: %w", err)
			}
			if res.root != root {
				return nil, checkpointError(i+1, i, "root hash does not match the records (first differing record %d)", i)
			}
			latest = cps[j]
		}
	}

	// Nothing may be stored beyond the log's size.
	if k, err := checkpoints.rest(); err != nil {
		return nil, err
	} else if k >= 0 {
		return nil, recordError(size, "missing: the log holds %d records, but a checkpoint of size %d was signed", size, k)
	}
	if k, err := leaves.rest(); err != nil {
		return nil, err
	} else if k >= 0 {
		return nil, recordError(k, "stored beyond the log size %d", size)
	}
	if k, err := hashes.rest(); err != nil {
		return nil, err
	} else if k >= 0 {
		return nil, storeError("stored Merkle tree hash %d lies beyond the tree of %d records", k, size)
	}

	root, err := tlog.TreeHash(size, v.mem)
	if err != nil {
		return nil, fmt.Errorf("verify evidence: %w", err)
	}
	return &Report{Records: size, Checkpoint: bytes.Clone(latest), Root: root, Origin: v.origin}, nil
}

// checkLeaf checks entry i's envelope, signature by key and log position,
// and returns its key change if it is one.
func (v *verification) checkLeaf(i int64, leaf []byte, key logKey) (*KeyChange, *VerifyError) {
	if leaf == nil {
		return nil, recordError(i, "missing")
	}
	env, err := DecodeEnvelope(leaf)
	if err != nil {
		return nil, recordError(i, "%v", err)
	}
	st, kc, err := env.VerifyAny(key.pub)
	if err != nil {
		return nil, recordError(i, "%v", err)
	}
	if kc != nil {
		return kc, nil
	}
	if got := st.Predicate.LogOrigin; got != v.origin {
		return nil, recordError(i, "log_origin is %q, want %q (a record of another log)", got, v.origin)
	}
	if got := st.Predicate.LogIndex; got != i {
		return nil, recordError(i, "log_index is %d (a record moved or copied from elsewhere)", got)
	}
	return nil, nil
}

type checkpointResult struct {
	root tlog.Hash
	err  *VerifyError
}

// openCheckpoint verifies the checkpoint of the given size.
func (v *verification) openCheckpoint(size int64, msg []byte, key logKey) checkpointResult {
	c, verr := v.checkCheckpoint(size, msg, key)
	return checkpointResult{root: c.Root, err: verr}
}

// checkCheckpoint checks the signature (by key, and by the old key too at
// a hand-over), origin and size of a checkpoint.
func (v *verification) checkCheckpoint(size int64, msg []byte, key logKey) (checkpoint, *VerifyError) {
	if msg == nil {
		return checkpoint{}, checkpointError(size, -1, "missing")
	}
	var c checkpoint
	var err error
	if key.vkey == v.chain.inForce(size).vkey {
		c, err = v.chain.openCheckpoint(size, msg)
	} else {
		c, err = openCheckpoint(msg, key.verifier)
	}
	if err != nil {
		return checkpoint{}, checkpointError(size, -1, "%v", err)
	}
	if c.Origin != v.origin {
		return checkpoint{}, checkpointError(size, -1, "origin is %q, want %q", c.Origin, v.origin)
	}
	if c.Size != size {
		return checkpoint{}, checkpointError(size, -1, "stored as size %d but signed for size %d", size, c.Size)
	}
	return c, nil
}

var _ tlog.HashReader = memTree(nil)
