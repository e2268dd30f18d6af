package report

import (
	"bytes"
	"io"
	"runtime"
	"sync"
)

// rowsPerPart is how many rows one part of writeOrdered renders.
const rowsPerPart = 512

// writeOrdered writes the rows 0..n-1 to w in order, render writing the
// rows lo..hi-1 to b. The rows are rendered in parts of rowsPerPart on every core,
// a few parts ahead of the writing, so a large report is rendered in a
// fraction of the time of one core and held only a few parts at a time;
// the bytes are those of rendering the rows one after another. It stops
// at the first error of w, which it returns.
func writeOrdered(w io.Writer, n int, render func(lo, hi int, b *bytes.Buffer)) error {
	parts := (n + rowsPerPart - 1) / rowsPerPart
	if parts <= 1 {
		var b bytes.Buffer
		render(0, n, &b)
		_, err := w.Write(b.Bytes())
		return err
	}
	window := 2 * runtime.GOMAXPROCS(0)
	bufs := make([]bytes.Buffer, window)
	for start := 0; start < parts; start += window {
		end := min(start+window, parts)
		var wg sync.WaitGroup
		for p := start; p < end; p++ {
			wg.Go(func() {
				b := &bufs[p-start]
				b.Reset()
				render(p*rowsPerPart, min(n, (p+1)*rowsPerPart), b)
			})
		}
		wg.Wait()
		for p := start; p < end; p++ {
			if _, err := w.Write(bufs[p-start].Bytes()); err != nil {
				return err
			}
		}
	}
	return nil
}
