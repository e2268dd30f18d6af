package sigbatch

import (
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"filippo.io/edwards25519"
)

// signed returns n items signed by key over distinct messages.
func signed(key ed25519.PrivateKey, n int) []Item {
	items := make([]Item, n)
	for i := range items {
		msg := fmt.Appendf(nil, "DSSEv1 28 application/vnd.in-toto+json %d {\"record\":%d}", 12+len(fmt.Sprint(i)), i)
		items[i] = Item{Pub: key.Public().(ed25519.PublicKey), Msg: msg, Sig: ed25519.Sign(key, msg)}
	}
	return items
}

func newKey(seed byte) ed25519.PrivateKey {
	return ed25519.NewKeyFromSeed(slices.Repeat([]byte{seed}, ed25519.SeedSize))
}

func TestVerifyValid(t *testing.T) {
	// Two keys, as across a key change, and more than one batch.
	items := append(signed(newKey(1), 300), signed(newKey(2), 300)...)
	if bad := Verify(items); bad != nil {
		t.Errorf("Verify of valid signatures: bad %v, want none", bad)
	}
	if bad := VerifyEach(items); bad != nil {
		t.Errorf("VerifyEach of valid signatures: bad %v, want none", bad)
	}
	if !batchOK(items[:BatchSize]) {
		t.Error("the batch equation does not hold for valid signatures")
	}
	if Verify(nil) != nil || !batchOK(nil) {
		t.Error("an empty batch does not verify")
	}
}

// smallOrder are encodings of points of small order: the identity, the
// point of order 2 and one of order 4.
var smallOrder = [][]byte{
	append([]byte{1}, make([]byte, 31)...),
	append([]byte{0xec}, append(slices.Repeat([]byte{0xff}, 30), 0x7f)...),
	make([]byte, 32),
}

// TestVerifyBad puts each kind of bad signature among good ones: the
// batch must fail and the fallback must name exactly that item, in both
// modes.
func TestVerifyBad(t *testing.T) {
	other := newKey(9)
	cases := map[string]func(it *Item){
		"flipped bit in R":       func(it *Item) { it.Sig[3] ^= 0x10 },
		"flipped bit in s":       func(it *Item) { it.Sig[40] ^= 0x01 },
		"flipped bit in message": func(it *Item) { it.Msg[len(it.Msg)-2] ^= 0x04 },
		"s + L (not canonical)":  func(it *Item) { addL(it.Sig[32:]) },
		"s with high bits":       func(it *Item) { it.Sig[63] |= 0xe0 },
		"wrong key":              func(it *Item) { it.Pub = other.Public().(ed25519.PublicKey) },
		"signed by another key":  func(it *Item) { it.Sig = ed25519.Sign(other, it.Msg) },
		"short signature":        func(it *Item) { it.Sig = it.Sig[:63] },
		"short key":              func(it *Item) { it.Pub = it.Pub[:31] },
		"R not a point":          func(it *Item) { copy(it.Sig, notAPoint()) },
		"R not canonical (y+p)":  func(it *Item) { copy(it.Sig, nonCanonicalIdentity) },
		"R identity, s zero":     func(it *Item) { copy(it.Sig, smallOrder[0]); clear(it.Sig[32:]) },
		"R of order 2":           func(it *Item) { copy(it.Sig, smallOrder[1]) },
		"R of order 4":           func(it *Item) { copy(it.Sig, smallOrder[2]) },
		"R x=0 with sign bit":    func(it *Item) { copy(it.Sig, smallOrder[0]); it.Sig[31] |= 0x80 },
	}
	for name, spoil := range cases {
		t.Run(name, func(t *testing.T) {
			items := signed(newKey(1), 2*BatchSize+7)
			const at = BatchSize + 17
			it := &items[at]
			it.Sig, it.Msg = slices.Clone(it.Sig), slices.Clone(it.Msg)
			spoil(it)
			if len(it.Pub) == ed25519.PublicKeySize && ed25519.Verify(it.Pub, it.Msg, it.Sig) {
				t.Fatal("the spoiled signature still verifies with crypto/ed25519")
			}
			if batchOK(items[BatchSize : 2*BatchSize]) {
				t.Error("the batch equation holds with the bad signature")
			}
			for mode, verify := range map[string]func([]Item) []int{"batch": Verify, "thorough": VerifyEach} {
				if got, want := verify(items), []int{at}; !slices.Equal(got, want) {
					t.Errorf("%s: bad %v, want %v", mode, got, want)
				}
			}
		})
	}
}

// nonCanonicalIdentity encodes y = 1 + p, the identity, not reduced.
var nonCanonicalIdentity = append([]byte{0xee}, append(slices.Repeat([]byte{0xff}, 30), 0x7f)...)

// notAPoint returns a y whose x^2 is not a square.
func notAPoint() []byte {
	b := make([]byte, 32)
	for y := uint16(2); ; y++ {
		binary.LittleEndian.PutUint16(b, y)
		if _, err := new(edwards25519.Point).SetBytes(b); err != nil {
			return b
		}
	}
}

// addL adds the group order L to the little-endian scalar s.
func addL(s []byte) {
	l := []byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	carry := 0
	for i := range s {
		v := int(s[i]) + int(l[i]) + carry
		s[i], carry = byte(v), v>>8
	}
}

// TestCofactoredDifference shows the one documented difference: a
// signature its key holder made with a small-order component in R passes
// the cofactored batch equation and fails crypto/ed25519. Nobody without
// the private key can make one.
func TestCofactoredDifference(t *testing.T) {
	key := newKey(5)
	pub := key.Public().(ed25519.PublicKey)
	msg := []byte("made by the key holder")
	h := sha512.Sum512(key.Seed())
	a, _ := edwards25519.NewScalar().SetBytesWithClamping(h[:32])
	nonce := sha512.Sum512([]byte("nonce"))
	r, _ := edwards25519.NewScalar().SetUniformBytes(nonce[:])
	torsion, _ := new(edwards25519.Point).SetBytes(smallOrder[1])
	R := new(edwards25519.Point).ScalarBaseMult(r)
	R.Add(R, torsion)
	kh := sha512.New()
	kh.Write(R.Bytes())
	kh.Write(pub)
	kh.Write(msg)
	k, _ := edwards25519.NewScalar().SetUniformBytes(kh.Sum(nil))
	s := edwards25519.NewScalar().MultiplyAdd(k, a, r)
	sig := append(R.Bytes(), s.Bytes()...)
	if ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 accepts a signature with a torsion component in R")
	}
	if !batchOK([]Item{{Pub: pub, Msg: msg, Sig: sig}}) {
		t.Fatal("the cofactored batch equation rejects a signature with a torsion component in R")
	}
}

// FuzzAgainstEd25519 compares the batch equation with crypto/ed25519 on
// one signature, valid or with a flipped bit in its R, s, message or key.
func FuzzAgainstEd25519(f *testing.F) {
	for i := range 40 {
		f.Add(uint64(i), uint16(i*37))
	}
	f.Fuzz(func(t *testing.T, seed uint64, flip uint16) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		var s [ed25519.SeedSize]byte
		for i := range s {
			s[i] = byte(rng.Uint32())
		}
		key := ed25519.NewKeyFromSeed(s[:])
		msg := make([]byte, 1+rng.IntN(200))
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		it := Item{Pub: slices.Clone(key.Public().(ed25519.PublicKey)), Msg: msg, Sig: ed25519.Sign(key, msg)}
		// flip: 0 leaves it valid; else a bit of sig, then msg, then key.
		switch bit := int(flip) % (1 + 8*(64+len(msg)+32)); {
		case bit == 0:
		case bit <= 8*64:
			it.Sig[(bit-1)/8] ^= 1 << ((bit - 1) % 8)
		case bit <= 8*(64+len(msg)):
			b := bit - 1 - 8*64
			it.Msg[b/8] ^= 1 << (b % 8)
		default:
			b := bit - 1 - 8*(64+len(msg))
			it.Pub[b/8] ^= 1 << (b % 8)
		}
		want := ed25519.Verify(it.Pub, it.Msg, it.Sig)
		if got := batchOK([]Item{it}); got != want {
			t.Errorf("batch equation says %t, crypto/ed25519 says %t", got, want)
		}
		// And in a batch of valid ones, the result is the same.
		items := append(signed(key, 5), it)
		if got := Verify(items) == nil; got != want {
			t.Errorf("Verify of a batch says %t, crypto/ed25519 says %t", got, want)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	items := signed(newKey(1), 4096)
	for name, verify := range map[string]func([]Item) []int{"batch": Verify, "each": VerifyEach} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if verify(items) != nil {
					b.Fatal("bad")
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/sig")
		})
	}
}
