package bundle

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/drillhq/drill/internal/envelope"
)

// cancelReader cancels its context once at reads have been read, and
// counts what is read after that.
type cancelReader struct {
	r      *bytes.Reader
	at     int
	read   int
	after  int
	cancel context.CancelFunc
}

func (c *cancelReader) Read(p []byte) (int, error) {
	if c.read >= c.at {
		c.cancel()
	}
	n, err := c.r.Read(p)
	if c.read >= c.at {
		c.after += n
	}
	c.read += n
	return n, err
}

// TestVerifyStopsWhenCancelled cancels a verification at points through
// the archive (the checkpoints, the entries, the reports, its last byte):
// Verify returns the context's error, not a verdict, and reads little
// after the cancellation.
func TestVerifyStopsWhenCancelled(t *testing.T) {
	l := newMemLog(t, 3*chunkSize)
	var buf bytes.Buffer
	if _, err := Write(&buf, l.contents(t, Selection{}), l.key, testTime); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(context.Background(), bytes.NewReader(buf.Bytes()), Options{}); err != nil {
		t.Fatalf("the bundle does not verify uncancelled: %v", err)
	}
	for _, frac := range []float64{0, 0.1, 0.4, 0.7, 0.9, 1} {
		ctx, cancel := context.WithCancel(context.Background())
		cr := &cancelReader{r: bytes.NewReader(buf.Bytes()), at: int(frac * float64(buf.Len())), cancel: cancel}
		rep, err := Verify(ctx, cr, Options{})
		cancel()
		if !errors.Is(err, context.Canceled) || rep != nil {
			t.Errorf("cancelled at %.0f%% of %d bytes: Verify = %v, %v; want context.Canceled", 100*frac, buf.Len(), rep, err)
		}
		if cr.after > 64<<10 {
			t.Errorf("cancelled at %.0f%% of %d bytes: %d bytes read after the cancellation", 100*frac, buf.Len(), cr.after)
		}
	}
}

// TestVerifyNamesForgedSignature hides one bad signature among the
// entries of a bundle of several chunks, and one among its checkpoints:
// both modes name the record or checkpoint, and nothing else.
func TestVerifyNamesForgedSignature(t *testing.T) {
	l := newMemLog(t, 2*chunkSize+10)
	forge := func(t *testing.T, b []byte) []byte { // flips a bit of the first signature
		t.Helper()
		env, err := envelope.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
		if err != nil {
			t.Fatal(err)
		}
		sig[5] ^= 1
		env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
		out, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tc := range []struct {
		name, want string
		change     func(t *testing.T, c *Contents)
	}{
		{"record", "record 1500: ", func(t *testing.T, c *Contents) { c.Entries[1500].Leaf = forge(t, c.Entries[1500].Leaf) }},
		{"checkpoint", "checkpoint 700: ", func(t *testing.T, c *Contents) {
			n := []byte(c.History[700].Note)
			i := bytes.LastIndexByte(n[:len(n)-1], ' ') + 1 // the base64 of key hash and signature
			raw, err := base64.StdEncoding.DecodeString(string(n[i : len(n)-1]))
			if err != nil {
				t.Fatal(err)
			}
			raw[10] ^= 1
			c.History[700].Note = string(n[:i]) + base64.StdEncoding.EncodeToString(raw) + "\n"
		}},
	} {
		c := l.contents(t, Selection{})
		tc.change(t, c)
		var buf bytes.Buffer
		if _, err := Write(&buf, c, l.key, testTime); err != nil {
			t.Fatal(err)
		}
		for _, thorough := range []bool{false, true} {
			_, err := Verify(context.Background(), bytes.NewReader(buf.Bytes()), Options{Thorough: thorough})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || !strings.Contains(err.Error(), "signature") {
				t.Errorf("%s forged, thorough=%t: err = %v, want %q...", tc.name, thorough, err, tc.want)
			}
		}
	}
}
