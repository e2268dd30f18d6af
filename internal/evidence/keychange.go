package evidence

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/keys"
)

// KeyChangeType identifies a key change as a Statement's predicate: the
// log entry that hands the log from one signing key to the next.
const KeyChangeType = "https://drill.dev/key-change/v1"

// KeyChange is the predicate of a key-change entry. The entry is signed
// by OldKey; every later entry, and every checkpoint from the one that
// covers this entry on, is signed by NewKey, and that first checkpoint by
// OldKey as well. Field order is the canonical JSON order.
type KeyChange struct {
	LogOrigin string    `json:"log_origin"`
	LogIndex  int64     `json:"log_index"`
	Time      time.Time `json:"time"`
	// OldKey and NewKey are note verifier keys.
	OldKey string `json:"old_key"`
	NewKey string `json:"new_key"`
}

// keyChangeStatement is an in-toto Statement whose predicate is a
// KeyChange; its subject is the new key.
type keyChangeStatement struct {
	Type          string     `json:"_type"`
	Subject       []Subject  `json:"subject"`
	PredicateType string     `json:"predicateType"`
	Predicate     *KeyChange `json:"predicate"`
}

// metaVKey0 is the first key of the log, kept when the key is rotated
// (absent: the log never changed keys, and vkey is the first).
var metaVKey0 = []byte("vkey0")

// logKey is one key in force in a log.
type logKey struct {
	vkey     string
	verifier note.Verifier
	pub      ed25519.PublicKey
	// from is the first entry signed with the key (the one after its
	// key change); checkpoints of size from and more are signed with it.
	from int64
}

func newLogKey(vkey string, from int64) (logKey, error) {
	v, pub, err := keys.ParseVerifierKey(vkey)
	if err != nil {
		return logKey{}, err
	}
	return logKey{vkey: vkey, verifier: v, pub: pub, from: from}, nil
}

// payloadHeader is what tells the two kinds of Statement apart.
type payloadHeader struct {
	Type          string `json:"_type"`
	PredicateType string `json:"predicateType"`
}

// parseKeyChange parses a payload that is a key-change Statement; it
// returns nil, nil for any other predicate type.
func parseKeyChange(payload []byte) (*KeyChange, error) {
	var h payloadHeader
	if err := json.Unmarshal(payload, &h); err != nil {
		return nil, fmt.Errorf("payload is not an in-toto Statement: %w", err)
	}
	if h.PredicateType != KeyChangeType {
		return nil, nil
	}
	var st keyChangeStatement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("payload is not a key-change Statement: %w", err)
	}
	switch {
	case st.Type != StatementType:
		return nil, fmt.Errorf("statement _type is %q, want %q", st.Type, StatementType)
	case st.Predicate == nil, st.Predicate.OldKey == "", st.Predicate.NewKey == "":
		return nil, errors.New("key-change statement without its keys")
	}
	return st.Predicate, nil
}

// VerifyAny checks e's signature by pub and returns its Statement: a
// drill record (rec) or a key change (kc).
func (e *Envelope) VerifyAny(pub ed25519.PublicKey) (rec *Statement, kc *KeyChange, err error) {
	payload, err := e.verifiedPayload(pub)
	if err != nil {
		return nil, nil, err
	}
	if kc, err := parseKeyChange(payload); err != nil || kc != nil {
		return nil, kc, err
	}
	st, err := ParseStatement(payload)
	return st, nil, err
}

// RotateKey hands the log to next: it appends a key-change entry signed by
// the current key, signs the checkpoint that covers it with both keys, and
// from then on signs with next. It returns the key-change entry's index.
// The caller keeps the old public key (it verifies everything before the
// change) and may then destroy the old private key.
func (s *Store) RotateKey(next *keys.Key) (int64, error) {
	if s.readOnly {
		return 0, ErrReadOnly
	}
	if s.key == nil || s.key.Signer == nil || s.keyErr != nil {
		return 0, errors.New("rotate the log key: the store was not opened with its current signing key")
	}
	if next == nil || next.Signer == nil {
		return 0, errors.New("rotate the log key: no new signing key")
	}
	if next.VerifierKey == s.key.VerifierKey {
		return 0, errors.New("rotate the log key: the new key is the current one")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.head == nil {
		return 0, fmt.Errorf("rotate the log key: %w", s.damaged)
	}
	n := s.head.Size
	kc := &KeyChange{LogOrigin: s.origin, LogIndex: n, Time: s.now().UTC(), OldKey: s.key.VerifierKey, NewKey: next.VerifierKey}
	sum := sha256.Sum256(next.Public)
	st := &keyChangeStatement{Type: StatementType, PredicateType: KeyChangeType, Predicate: kc,
		Subject: []Subject{{Name: "key:" + next.VerifierKey, Digest: map[string]string{"sha256": hex.EncodeToString(sum[:])}}}}
	payload, err := marshalJSON(st)
	if err != nil {
		return 0, err
	}
	leaf, err := signEnvelope(payload, s.key)
	if err != nil {
		return 0, err
	}
	var next0 *head
	err = s.db.Update(func(tx *bbolt.Tx) error {
		if err := checkHead(tx, s.head); err != nil {
			return err
		}
		hr := txHashReader(tx)
		hashes, err := tlog.StoredHashes(n, leaf, hr)
		if err != nil {
			return err
		}
		hb := tx.Bucket(bucketHashes)
		base := uint64(tlog.StoredHashIndex(0, n))
		for k, h := range hashes {
			if err := hb.Put(be64(base+uint64(k)), bytes.Clone(h[:])); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketLeaves).Put(be64(uint64(n)), leaf); err != nil {
			return err
		}
		root, err := tlog.TreeHash(n+1, hr)
		if err != nil {
			return err
		}
		c := checkpoint{Origin: s.origin, Size: n + 1, Root: root}
		cp, err := note.Sign(&note.Note{Text: formatCheckpoint(c)}, next.Signer, s.key.Signer)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketCheckpoints).Put(be64(uint64(n+1)), cp); err != nil {
			return err
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(metaVKey0) == nil {
			if err := meta.Put(metaVKey0, []byte(s.vkey)); err != nil {
				return err
			}
		}
		if err := meta.Put(metaVKey, []byte(next.VerifierKey)); err != nil {
			return err
		}
		next0 = &head{checkpoint: c, note: cp}
		return meta.Put(metaSize, be64(uint64(n+1)))
	})
	if err != nil {
		if rerr := s.refreshHeadLocked(); rerr != nil {
			err = errors.Join(err, rerr)
		}
		return 0, fmt.Errorf("rotate the log key: %w", err)
	}
	s.head, s.key, s.vkey, s.verifier = next0, next, next.VerifierKey, next.Verifier
	return n, nil
}

// keyChain follows the keys of a log while its entries are read in order.
type keyChain struct {
	origin string
	keys   []logKey // in force order; the last is current
}

func (c *keyChain) current() logKey { return c.keys[len(c.keys)-1] }

// inForce returns the key that signs entry n and the checkpoint of size
// n: the last key whose from is at most n. (A key-change entry is signed
// by the old key; the checkpoint that covers it by the new one.)
func (c *keyChain) inForce(n int64) logKey {
	k := c.keys[0]
	for _, x := range c.keys[1:] {
		if x.from <= n {
			k = x
		}
	}
	return k
}

// change checks key-change entry i against the chain and moves to its new
// key; a chain given in advance (a bundle's) must name the same key.
func (c *keyChain) change(i int64, kc *KeyChange, known bool) *VerifyError {
	cur := c.inForce(i)
	if kc.OldKey != cur.vkey {
		return recordError(i, "key change from %s, but the key in force is %s", short(kc.OldKey), short(cur.vkey))
	}
	if kc.LogOrigin != c.origin || kc.LogIndex != i {
		return recordError(i, "key change for log %q entry %d (moved or copied from elsewhere)", kc.LogOrigin, kc.LogIndex)
	}
	if known {
		for _, x := range c.keys {
			if x.from == i+1 && x.vkey == kc.NewKey {
				return nil
			}
		}
		return recordError(i, "key change to %s is not in the bundle's key list", short(kc.NewKey))
	}
	k, err := newLogKey(kc.NewKey, i+1)
	if err != nil {
		return recordError(i, "key change to an unusable key: %v", err)
	}
	c.keys = append(c.keys, k)
	return nil
}

// openCheckpointChain verifies the checkpoint of the given size with the
// key in force for it; the first checkpoint after a key change must be
// signed by the old key too.
func (c *keyChain) openCheckpoint(size int64, msg []byte) (checkpoint, error) {
	k := c.inForce(size)
	cp, err := openCheckpoint(msg, k.verifier)
	if err != nil {
		return cp, err
	}
	if k.from == size && size > 0 && len(c.keys) > 1 {
		// The hand-over: the previous key must have signed it as well.
		var prev logKey
		for j, x := range c.keys {
			if x.vkey == k.vkey && j > 0 {
				prev = c.keys[j-1]
			}
		}
		if prev.verifier != nil {
			if _, err := note.Open(msg, note.VerifierList(prev.verifier)); err != nil {
				return cp, fmt.Errorf("the hand-over checkpoint is not signed by the old key %s too", prev.verifier.Name())
			}
		}
	}
	return cp, nil
}

// short abbreviates a verifier key for messages.
func short(vkey string) string {
	if i := strings.LastIndexByte(vkey, '+'); i > 0 && len(vkey) > i+9 {
		return vkey[:i+9] + "..."
	}
	return vkey
}
