// Package sigbatch verifies many Ed25519 signatures at once: the
// signatures of an evidence log's entries and checkpoints, nearly all
// by one key.
//
// Verify checks a batch with one random linear combination of the
// signatures' equations (the cofactored batch equation, as in
// ed25519-dalek and Zcash's ZIP 215), which costs about a third of
// checking each alone with crypto/ed25519. When the combination does not
// hold, every signature of the batch is checked alone with crypto/ed25519,
// so the ones that do not verify are named exactly.
//
// What it accepts differs from crypto/ed25519 only in two ways, both
// documented in docs/evidence.md: the batch equation is multiplied by the
// cofactor 8, so a signature whose R or key has a small-order component,
// which only the holder of the private key can make, may pass the batch
// and fail crypto/ed25519 (the key holder can sign anything anyway); and a
// batch with a bad signature passes with probability 2^-128 (the random
// coefficients are 128 bits from crypto/rand). Everything crypto/ed25519
// rejects before its equation, the batch rejects too: wrong lengths, a
// scalar s that is not below the group order, a key or R that does not
// decode, an R that is not encoded canonically.
package sigbatch

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"

	"filippo.io/edwards25519"
)

// Item is one signature to check: Sig by Pub over Msg.
type Item struct {
	Pub ed25519.PublicKey
	Msg []byte
	Sig []byte
}

// BatchSize is how many signatures one batch equation covers: large
// enough that the shared doublings cost little, small enough that a bad
// signature costs the re-check of few good ones. Verify cuts its items
// into batches of this size; callers that verify on several goroutines
// give each a multiple of it.
const BatchSize = 256

// Verify checks every item's signature, in batches of BatchSize, and
// returns the indexes of the items whose signature does not verify, in
// increasing order; nil when all do. A batch whose equation does not
// hold is checked signature by signature with crypto/ed25519.
func Verify(items []Item) []int {
	return run(items, func(part []Item, bad []bool) {
		if !batchOK(part) {
			each(part, bad)
		}
	})
}

// VerifyEach is Verify checking each signature alone with crypto/ed25519:
// the thorough mode.
func VerifyEach(items []Item) []int {
	return run(items, each)
}

// each marks in bad the items whose signature crypto/ed25519 rejects.
func each(part []Item, bad []bool) {
	for j, it := range part {
		bad[j] = len(it.Pub) != ed25519.PublicKeySize || !ed25519.Verify(it.Pub, it.Msg, it.Sig)
	}
}

// run cuts items into batches, has check mark the bad items of each, and
// lists them.
func run(items []Item, check func(part []Item, bad []bool)) []int {
	bad := make([]bool, len(items))
	for lo := 0; lo < len(items); lo += BatchSize {
		hi := min(lo+BatchSize, len(items))
		check(items[lo:hi], bad[lo:hi])
	}
	var out []int
	for i, b := range bad {
		if b {
			out = append(out, i)
		}
	}
	return out
}

// keySum is one key of a batch, decoded, and the sum of z_i k_i over
// its signatures.
type keySum struct {
	pub   []byte
	point *edwards25519.Point
	sum   *edwards25519.Scalar
}

// batchOK reports whether the batch equation holds for items:
//
//	[8]( -[sum z_i s_i]B + sum [z_i]R_i + sum over keys A of [sum z_i k_i]A ) = 0
//
// with random 128-bit z_i and k_i = SHA-512(R_i || A || M_i) mod L. An
// item crypto/ed25519 would reject before its equation makes it false.
func batchOK(items []Item) bool {
	if len(items) == 0 {
		return true
	}
	z := make([]byte, 16*len(items))
	if _, err := rand.Read(z); err != nil {
		return false // checked one by one instead
	}
	// The points and scalars in two arrays, not one allocation each.
	pointVals := make([]edwards25519.Point, len(items))
	scalarVals := make([]edwards25519.Scalar, len(items))
	scalars := make([]*edwards25519.Scalar, 0, len(items)+2)
	points := make([]*edwards25519.Point, 0, len(items)+2)
	sSum := edwards25519.NewScalar()
	var keys []keySum
	var zb [32]byte
	var digest [sha512.Size]byte
	var s, k edwards25519.Scalar
	h := sha512.New()
	for i, it := range items {
		if len(it.Pub) != ed25519.PublicKeySize || len(it.Sig) != ed25519.SignatureSize || !canonicalR(it.Sig[:32]) {
			return false
		}
		if _, err := s.SetCanonicalBytes(it.Sig[32:]); err != nil {
			return false
		}
		r, err := pointVals[i].SetBytes(it.Sig[:32])
		if err != nil {
			return false
		}
		key := findKey(&keys, it.Pub)
		if key == nil {
			return false
		}
		h.Reset()
		h.Write(it.Sig[:32])
		h.Write(it.Pub)
		h.Write(it.Msg)
		_, _ = k.SetUniformBytes(h.Sum(digest[:0]))
		copy(zb[:16], z[16*i:])
		zi, _ := scalarVals[i].SetCanonicalBytes(zb[:]) // < 2^128 < L
		sSum.MultiplyAdd(zi, &s, sSum)
		key.sum.MultiplyAdd(zi, &k, key.sum)
		scalars = append(scalars, zi)
		points = append(points, r)
	}
	scalars = append(scalars, sSum.Negate(sSum))
	points = append(points, edwards25519.NewGeneratorPoint())
	for _, k := range keys {
		scalars = append(scalars, k.sum)
		points = append(points, k.point)
	}
	sum := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	return sum.MultByCofactor(sum).Equal(edwards25519.NewIdentityPoint()) == 1
}

// findKey returns the entry of keys for pub, adding it when it is new;
// nil if pub does not decode as a point.
func findKey(keys *[]keySum, pub []byte) *keySum {
	for j := range *keys {
		if bytes.Equal((*keys)[j].pub, pub) {
			return &(*keys)[j]
		}
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return nil
	}
	*keys = append(*keys, keySum{pub: pub, point: a, sum: edwards25519.NewScalar()})
	return &(*keys)[len(*keys)-1]
}

// canonicalR reports whether r is the canonical encoding of a point as
// crypto/ed25519 compares it: y below the field prime 2^255-19, and no
// sign bit on x = 0 (the points with y = 1 and y = -1).
func canonicalR(r []byte) bool {
	// y >= p: the low byte at least 0xed, bytes 1..30 all 0xff, the top
	// byte 0x7f without its sign bit.
	if r[0] >= 0xed && r[31]&0x7f == 0x7f && allFF(r[1:31]) {
		return false
	}
	// x = 0 with the sign bit: y = 1 or y = p-1 with bit 255 set.
	if r[31] == 0x80 && r[0] == 0x01 && allZero(r[1:31]) {
		return false
	}
	if r[31] == 0xff && r[0] == 0xec && allFF(r[1:31]) {
		return false
	}
	return true
}

func allFF(b []byte) bool {
	for _, c := range b {
		if c != 0xff {
			return false
		}
	}
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
