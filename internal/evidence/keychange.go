package evidence

import (
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
	"golang.org/x/mod/sumdb/note"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
)

// metaVKey0 is the first key of the log, kept when the key is rotated
// (absent: the log never changed keys, and vkey is the first).
var metaVKey0 = []byte("vkey0")

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
	kc := &envelope.KeyChange{LogOrigin: s.origin, LogIndex: n, Time: s.now().UTC(), OldKey: s.key.VerifierKey, NewKey: next.VerifierKey}
	leaf, err := envelope.SignKeyChange(kc, next, s.key)
	if err != nil {
		return 0, err
	}
	var h *head
	err = s.update(func(tx *bbolt.Tx) error {
		var err error
		h, err = s.handOver(tx, n, leaf, next)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("rotate the log key: %w", err)
	}
	s.head, s.key, s.vkey, s.verifier = h, next, next.VerifierKey, next.Verifier
	return n, nil
}

// handOver writes key-change entry n (leaf) in tx, with the checkpoint
// that covers it signed by both keys, and makes next the log's key.
func (s *Store) handOver(tx *bbolt.Tx, n int64, leaf []byte, next *keys.Key) (*head, error) {
	if err := checkHead(tx, s.head); err != nil {
		return nil, err
	}
	root, err := putLeaf(tx, txHashReader(tx), n, leaf)
	if err != nil {
		return nil, err
	}
	c := evlog.Checkpoint{Origin: s.origin, Size: n + 1, Root: root}
	cp, err := note.Sign(&note.Note{Text: evlog.FormatCheckpoint(c)}, next.Signer, s.key.Signer)
	if err != nil {
		return nil, err
	}
	if err := tx.Bucket(bucketCheckpoints).Put(be64(uint64(n+1)), cp); err != nil {
		return nil, err
	}
	meta := tx.Bucket(bucketMeta)
	if meta.Get(metaVKey0) == nil {
		if err := meta.Put(metaVKey0, []byte(s.vkey)); err != nil {
			return nil, err
		}
	}
	if err := meta.Put(metaVKey, []byte(next.VerifierKey)); err != nil {
		return nil, err
	}
	return &head{Checkpoint: c, note: cp}, meta.Put(metaSize, be64(uint64(n+1)))
}
