package config

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strings"
	"time"
)

// durationPart is one number and unit of a duration such as "1d12h".
var durationPart = regexp.MustCompile(`^([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h|d|w)`)

// ParseDuration parses a duration as time.ParseDuration does, with two more
// units: d (24h) and w (7d). Units combine, largest first or not: "7d",
// "1d12h", "90m", "1.5h". A bare number, a sign or a space is an error, so
// "0" and "-1h" are refused.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, errors.New("empty duration: want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d")
	}
	var total time.Duration
	for rest := s; rest != ""; {
		m := durationPart.FindStringSubmatch(rest)
		if m == nil {
			if rest == s && strings.TrimLeft(s, "0123456789.") == "" && strings.ContainsAny(s, "0123456789") {
				return 0, fmt.Errorf("duration %q has no unit: want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d", s)
			}
			return 0, fmt.Errorf("invalid duration %q: want a number and a unit (s, m, h, d, w) such as 90m, 24h or 7d", s)
		}
		rest = rest[len(m[0]):]
		num, unit := m[1], m[2]
		var scale time.Duration = 1
		switch unit {
		case "d":
			unit, scale = "h", 24
		case "w":
			unit, scale = "h", 7*24
		}
		d, err := time.ParseDuration(num + unit)
		if err != nil || d > math.MaxInt64/scale {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		d *= scale
		if total > math.MaxInt64-d {
			return 0, fmt.Errorf("duration %q is too long", s)
		}
		total += d
	}
	return total, nil
}

// errTooLarge marks sizes beyond int64.
var errTooLarge = errors.New("too large")

// sizePattern is a size: a number, an optional space and an optional unit.
var sizePattern = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?) ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$`)

// sizeUnits are the multipliers of the units ParseSize accepts.
var sizeUnits = map[string]int64{
	"": 1, "B": 1,
	"KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

// ParseSize parses a size in bytes: a number with an optional unit, KiB,
// MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of 1000) or B,
// spelled exactly so, with at most one space before it: "200GiB", "512 MiB",
// "10KB", "123". A decimal such as "1.5GiB" needs a unit other than B and is
// rounded down to whole bytes.
func ParseSize(s string) (int64, error) {
	m := sizePattern.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("invalid size %q: want a number and a unit (KiB, MiB, GiB, TiB, KB, MB, GB, TB) such as 200GiB, or a number of bytes", s)
	}
	num, unit := m[1], m[2]
	mult := sizeUnits[unit]
	if strings.Contains(num, ".") && mult == 1 {
		return 0, fmt.Errorf("invalid size %q: a number of bytes must be whole", s)
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	n := new(big.Int).Quo(r.Num(), r.Denom())
	if !n.IsInt64() {
		return 0, fmt.Errorf("size %q is %w", s, errTooLarge)
	}
	return n.Int64(), nil
}
