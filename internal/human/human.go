// Package human prints sizes and durations for people: in drill's terminal
// output, reasons, check details, alerts and reports. It is the one
// formatter of both; parsing the config's units is internal/config's.
package human

import (
	"fmt"
	"strings"
	"time"
)

// Size prints a byte count with binary units, to one decimal: "512 B",
// "1.5 KiB", "415.5 MiB".
func Size(n int64) string {
	const unit = 1024
	if n < 0 {
		return "-" + Size(-n)
	}
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Duration prints a duration in the config's own units, rounded to what a
// reader needs: 3d4h, 2h5m, 4m10s, 1.2s.
func Duration(d time.Duration) string {
	if d < 0 {
		return "-" + Duration(-d)
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour-time.Second/2:
		return trimZero(d.Round(time.Second).String(), "m0s")
	case d < 24*time.Hour-time.Minute/2:
		return trimZero(trimZero(d.Round(time.Minute).String(), "m0s"), "h0m")
	}
	d = d.Round(time.Hour)
	days, rest := d/(24*time.Hour), d%(24*time.Hour)
	if rest == 0 {
		return fmt.Sprintf("%dd", days)
	}
	return fmt.Sprintf("%dd%dh", days, rest/time.Hour)
}

// trimZero drops a zero last unit: "2h5m0s" is "2h5m", "3h0m" is "3h".
func trimZero(s, suffix string) string {
	if strings.HasSuffix(s, suffix) {
		return s[:len(s)-len(suffix)+1]
	}
	return s
}
