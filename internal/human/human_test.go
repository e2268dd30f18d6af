package human

import (
	"testing"
	"time"
)

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB",
		415<<20 + 1<<19: "415.5 MiB", 3 << 40: "3.0 TiB", -2048: "-2.0 KiB",
	} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		1234567 * time.Microsecond:      "1.2s",
		250 * time.Millisecond:          "250ms",
		4*time.Minute + 10*time.Second:  "4m10s",
		2*time.Hour + 5*time.Minute:     "2h5m",
		3*24*time.Hour + 4*time.Hour:    "3d4h",
		48 * time.Hour:                  "2d",
		-(90 * time.Second):             "-1m30s",
		24*time.Hour - 10*time.Second:   "1d",
		59*time.Minute + 59*time.Second: "59m59s",
		3 * time.Hour:                   "3h",
		20 * time.Minute:                "20m",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%s) = %q, want %q", d, got, want)
		}
	}
}
