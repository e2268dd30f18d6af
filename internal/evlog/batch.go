package evlog

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"

	"golang.org/x/mod/sumdb/note"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/sigbatch"
)

// Sigs holds the signatures a check in batch mode accepted without
// checking them, to be checked later with many others (CheckAll). A nil
// *Sigs is the thorough mode: every signature is checked at once, alone,
// with crypto/ed25519.
//
// Only the signatures are deferred: a check in batch mode does all the
// rest (parsing, origin, place, size) as the thorough one does. When a
// deferred signature turns out bad, the caller repeats the check
// thoroughly, so the error is the thorough mode's, word for word.
type Sigs struct {
	items []sigbatch.Item
}

// add records that sig by pub over msg was accepted unchecked.
func (s *Sigs) add(pub ed25519.PublicKey, msg, sig []byte) {
	s.items = append(s.items, sigbatch.Item{Pub: pub, Msg: msg, Sig: sig})
}

// CheckAll calls check(j, sigs) for j from 0 to n-1 on GOMAXPROCS
// goroutines. Thorough, sigs is nil: check checks every signature at
// once, alone. Otherwise each j has its own Sigs, whose signatures are
// then checked in batches, and check(j, nil) is called again for each j
// with a signature that does not verify, to find the error.
func CheckAll(n int, thorough bool, check func(j int, sigs *Sigs)) {
	if thorough {
		Parallel(n, func(j int) { check(j, nil) })
		return
	}
	sets := make([]Sigs, n)
	Parallel(n, func(j int) { check(j, &sets[j]) })
	var items []sigbatch.Item
	var owner []int
	for j := range sets {
		for _, it := range sets[j].items {
			items = append(items, it)
			owner = append(owner, j)
		}
	}
	// The batches side by side, then the entries with a bad signature
	// checked again, in order.
	parts := (len(items) + sigbatch.BatchSize - 1) / sigbatch.BatchSize
	bad := make([][]int, parts)
	Parallel(parts, func(p int) {
		lo := p * sigbatch.BatchSize
		for _, x := range sigbatch.Verify(items[lo:min(lo+sigbatch.BatchSize, len(items))]) {
			bad[p] = append(bad[p], lo+x)
		}
	})
	again := -1
	for _, xs := range bad {
		for _, x := range xs {
			if j := owner[x]; j != again {
				check(j, nil)
				again = j
			}
		}
	}
}

// verifier returns k's note verifier; with s, one that accepts every
// signature by k and adds it to s instead.
func (s *Sigs) verifier(k LogKey) note.Verifier {
	if s == nil {
		return k.Verifier
	}
	return deferred{Verifier: k.Verifier, pub: k.Pub, sigs: s}
}

// deferred is a note verifier that leaves the signature check to a
// batch.
type deferred struct {
	note.Verifier
	pub  ed25519.PublicKey
	sigs *Sigs
}

// Verify accepts sig and records it, with the note text it signs.
func (d deferred) Verify(msg, sig []byte) bool {
	d.sigs.add(d.pub, bytes.Clone(msg), bytes.Clone(sig))
	return true
}

// CheckLeafDeferred is CheckLeaf leaving the signature check to sigs: it
// decodes and places the entry and adds its first signature to sigs. With
// a nil sigs, or an entry whose signature could not be checked in a batch
// (an unusual payload type or signature encoding), or an entry that does
// not parse, it is CheckLeaf.
func CheckLeafDeferred(origin string, i int64, leaf []byte, key LogKey, sigs *Sigs) (*record.Record, *envelope.KeyChange, *VerifyError) {
	if sigs == nil || leaf == nil || len(key.Pub) != ed25519.PublicKeySize {
		return CheckLeaf(origin, i, leaf, key)
	}
	env, err := envelope.Decode(leaf)
	if err != nil || env.PayloadType != envelope.PayloadType {
		return CheckLeaf(origin, i, leaf, key)
	}
	// drill writes one signature in standard base64; one that verifies is
	// enough, so checking the first in the batch decides, and any other
	// case is checked as CheckLeaf does.
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return CheckLeaf(origin, i, leaf, key)
	}
	msg, payload, err := env.SignedBytes()
	if err != nil {
		return CheckLeaf(origin, i, leaf, key)
	}
	st, kc, err := envelope.ParsePayload(payload)
	if err != nil {
		return CheckLeaf(origin, i, leaf, key)
	}
	sigs.add(key.Pub, msg, sig)
	return leafPlace(origin, i, st, kc)
}
