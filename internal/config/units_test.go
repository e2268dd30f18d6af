package config

import (
	"math"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"24h", 24 * time.Hour},
		{"90m", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"45s", 45 * time.Second},
		{"1.5h", 90 * time.Minute},
		{"250ms", 250 * time.Millisecond},
		{"7d", 7 * 24 * time.Hour},
		{"1d12h", 36 * time.Hour},
		{"1.5d", 36 * time.Hour},
		{"2w", 14 * 24 * time.Hour},
		{"1w1d1h1m1s", (8*24+1)*time.Hour + time.Minute + time.Second},
		{"12h1d", 36 * time.Hour}, // any order, as time.ParseDuration
		{"0s", 0},
		{"0d", 0},
		{"15250w", 15250 * 7 * 24 * time.Hour},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err != nil {
			t.Errorf("ParseDuration(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseDuration(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseDurationErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty duration: want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d"},
		{"3600", `duration "3600" has no unit: want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"0", `duration "0" has no unit: want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"1d12", `invalid duration "1d12": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"lots", `invalid duration "lots": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"-1h", `invalid duration "-1h": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"+1h", `invalid duration "+1h": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"1 d", `invalid duration "1 d": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{" 1d", `invalid duration " 1d": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"1D", `invalid duration "1D": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"1y", `invalid duration "1y": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"1mo", `invalid duration "1mo": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"h", `invalid duration "h": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{".h", `invalid duration ".h": want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d`},
		{"15251w", `duration "15251w" is too long`},
		{"15000w15000w", `duration "15000w15000w" is too long`},
		{"99999999999999999999s", `duration "99999999999999999999s" is too long`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if err == nil {
			t.Errorf("ParseDuration(%q) = %s, want error %q", tt.in, got, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseDuration(%q) error\n got: %v\nwant: %s", tt.in, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"123", 123},
		{"123B", 123},
		{"10KB", 10_000},
		{"1MB", 1_000_000},
		{"2GB", 2_000_000_000},
		{"1TB", 1_000_000_000_000},
		{"1KiB", 1024},
		{"512MiB", 512 << 20},
		{"200GiB", 200 << 30},
		{"3TiB", 3 << 40},
		{"512 MiB", 512 << 20},
		{"1.5GiB", 3 << 29},
		{"0.5KB", 500},
		{"1.0001KiB", 1024}, // rounded down to whole bytes
		{"8388607TiB", 8388607 << 40},
		{"9223372036854775807", math.MaxInt64},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil {
			t.Errorf("ParseSize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	const want = ": want a number and a unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB) such as 200GiB, or a number of bytes"
	tests := []struct{ in, want string }{
		{"", `invalid size ""` + want},
		{"GiB", `invalid size "GiB"` + want},
		{"200gib", `invalid size "200gib"` + want},
		{"200Gi", `invalid size "200Gi"` + want},
		{"200G", `invalid size "200G"` + want},
		{"200 GiB ", `invalid size "200 GiB "` + want},
		{"200  GiB", `invalid size "200  GiB"` + want},
		{"-1GiB", `invalid size "-1GiB"` + want},
		{"1,5GiB", `invalid size "1,5GiB"` + want},
		{"1.GiB", `invalid size "1.GiB"` + want},
		{"1e9", `invalid size "1e9"` + want},
		{"0x10", `invalid size "0x10"` + want},
		{"1.5", `invalid size "1.5": a number of bytes must be whole`},
		{"1.5B", `invalid size "1.5B": a number of bytes must be whole`},
		{"8388608TiB", `size "8388608TiB" is too large`},
		{"9223372036854775808", `size "9223372036854775808" is too large`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err == nil {
			t.Errorf("ParseSize(%q) = %d, want error %q", tt.in, got, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("ParseSize(%q) error\n got: %v\nwant: %s", tt.in, err, tt.want)
		}
	}
}
