package evlog

import (
	"crypto/ed25519"
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/keys"
)

// LogKey is one key in force in a log.
type LogKey struct {
	VKey     string // the note verifier key
	Verifier note.Verifier
	Pub      ed25519.PublicKey
	// From is the first entry signed with the key (the one after its
	// key change); checkpoints of size From and more are signed with it.
	From int64
}

// NewLogKey parses the verifier key vkey, in force from entry from.
func NewLogKey(vkey string, from int64) (LogKey, error) {
	v, pub, err := keys.ParseVerifierKey(vkey)
	if err != nil {
		return LogKey{}, err
	}
	return LogKey{VKey: vkey, Verifier: v, Pub: pub, From: from}, nil
}

// KeyChain follows the keys of a log while its entries are read in order.
type KeyChain struct {
	Origin string
	Keys   []LogKey // in force order; the last is current
}

// Current returns the key in force after the last key change.
func (c *KeyChain) Current() LogKey { return c.Keys[len(c.Keys)-1] }

// InForce returns the key that signs entry n and the checkpoint of size
// n: the last key whose From is at most n. (A key-change entry is signed
// by the old key; the checkpoint that covers it by the new one.)
func (c *KeyChain) InForce(n int64) LogKey {
	k := c.Keys[0]
	for _, x := range c.Keys[1:] {
		if x.From <= n {
			k = x
		}
	}
	return k
}

// Change checks key-change entry i against the chain and moves to its new
// key; a chain given in advance (known, a bundle's) must name the same key.
func (c *KeyChain) Change(i int64, kc *envelope.KeyChange, known bool) *VerifyError {
	cur := c.InForce(i)
	if kc.OldKey != cur.VKey {
		return RecordError(i, "key change from %s, but the key in force is %s", ShortKey(kc.OldKey), ShortKey(cur.VKey))
	}
	if kc.LogOrigin != c.Origin || kc.LogIndex != i {
		return RecordError(i, "key change for log %q entry %d (moved or copied from elsewhere)", kc.LogOrigin, kc.LogIndex)
	}
	if known {
		for _, x := range c.Keys {
			if x.From == i+1 && x.VKey == kc.NewKey {
				return nil
			}
		}
		return RecordError(i, "key change to %s is not in the bundle's key list", ShortKey(kc.NewKey))
	}
	k, err := NewLogKey(kc.NewKey, i+1)
	if err != nil {
		return RecordError(i, "key change to an unusable key: %v", err)
	}
	c.Keys = append(c.Keys, k)
	return nil
}

// OpenCheckpoint verifies the checkpoint of the given size with the key
// in force for it; the first checkpoint after a key change must be signed
// by the old key too.
func (c *KeyChain) OpenCheckpoint(size int64, msg []byte) (Checkpoint, error) {
	return c.OpenCheckpointDeferred(size, msg, nil)
}

// OpenCheckpointDeferred is OpenCheckpoint leaving the signature checks
// to sigs (see Sigs); with a nil sigs it is OpenCheckpoint.
func (c *KeyChain) OpenCheckpointDeferred(size int64, msg []byte, sigs *Sigs) (Checkpoint, error) {
	k := c.InForce(size)
	cp, err := OpenCheckpoint(msg, sigs.verifier(k))
	if err != nil {
		return cp, err
	}
	if k.From == size && size > 0 && len(c.Keys) > 1 {
		// The hand-over: the previous key must have signed it as well.
		var prev LogKey
		for j, x := range c.Keys {
			if x.VKey == k.VKey && j > 0 {
				prev = c.Keys[j-1]
			}
		}
		if prev.Verifier != nil {
			if _, err := note.Open(msg, note.VerifierList(sigs.verifier(prev))); err != nil {
				return cp, fmt.Errorf("the hand-over checkpoint is not signed by the old key %s too", prev.Verifier.Name())
			}
		}
	}
	return cp, nil
}

// Has reports whether vkey is one of the chain's keys.
func (c *KeyChain) Has(vkey string) bool {
	for _, k := range c.Keys {
		if k.VKey == vkey {
			return true
		}
	}
	return false
}

// Names lists the chain's keys.
func (c *KeyChain) Names() string {
	var out []string
	for _, k := range c.Keys {
		out = append(out, k.VKey)
	}
	return strings.Join(out, ", ")
}

// ShortKey abbreviates a verifier key for messages.
func ShortKey(vkey string) string {
	if i := strings.LastIndexByte(vkey, '+'); i > 0 && len(vkey) > i+9 {
		return vkey[:i+9] + "..."
	}
	return vkey
}
