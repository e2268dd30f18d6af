package bundle

import (
	"bytes"
	"context"
	"errors"
	"testing"
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
