package propose

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/drillhq/drill/internal/manifest"
	"github.com/drillhq/drill/internal/record"
)

// margin is the share of what a backup holds now that its checks ask of
// every later backup: room for ordinary deletions, not for a lost folder.
const margin = 0.9

// below returns n less the margin, rounded down to two significant
// digits (167 files: 150), and at least 1 when n is.
func below(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return max(1, roundDown(int64(float64(n)*margin)))
}

// roundDown rounds n down to two significant digits.
func roundDown(n int64) int64 {
	p := int64(1)
	for n/p >= 100 {
		p *= 10
	}
	return n / p * p
}

// sizeBelow returns bytes less the margin as a config size, in the largest
// unit that keeps two significant digits: "1300MiB", "45KiB", "900".
func sizeBelow(bytes int64) string {
	v := int64(float64(bytes) * margin)
	for _, u := range []struct {
		name string
		n    int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= 10*u.n {
			return fmt.Sprintf("%d%s", roundDown(v/u.n), u.name)
		}
	}
	return fmt.Sprint(max(1, roundDown(v)))
}

// ladder are the durations an RPO or RTO is rounded up to.
var ladder = []time.Duration{
	time.Hour, 2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 36 * time.Hour, 48 * time.Hour, 72 * time.Hour, 4 * 24 * time.Hour, 5 * 24 * time.Hour, 7 * 24 * time.Hour,
	14 * 24 * time.Hour, 21 * 24 * time.Hour, 28 * 24 * time.Hour,
}

// roundUp returns the smallest friendly duration not shorter than d, at
// least 1h; beyond four weeks, whole weeks. A step exceeded by less than
// 2% still counts: backups a day and a few seconds apart are daily.
func roundUp(d time.Duration) time.Duration {
	for _, l := range ladder {
		if d <= l+l/50 {
			return l
		}
	}
	w := 7 * 24 * time.Hour
	return (d + w - 1) / w * w
}

// duration prints a duration as the config writes it: 1h, 12h, 1d, 2w.
func duration(d time.Duration) string {
	day := 24 * time.Hour
	switch {
	case d >= 7*day && d%(7*day) == 0:
		return fmt.Sprintf("%dw", d/(7*day))
	case d >= day && d%day == 0:
		return fmt.Sprintf("%dd", d/day)
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", (d+time.Minute-1)/time.Minute)
	}
	return fmt.Sprintf("%ds", max(1, (d+time.Second-1)/time.Second))
}

// approx prints a duration for comments, to a tenth of its largest unit.
func approx(d time.Duration) string {
	switch {
	case d >= 24*time.Hour:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Hours()/24), ".0") + "d"
	case d >= time.Hour:
		return strings.TrimSuffix(fmt.Sprintf("%.1f", d.Hours()), ".0") + "h"
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

// Cadence is what the restore points' times say about a backup's rhythm,
// and the RPO and schedule drawn from it.
type Cadence struct {
	// Known is false with fewer than two restore points: RPO is then a
	// default, to be asked for or confirmed.
	Known bool
	// RPO is a margin above the backups' usual interval.
	RPO time.Duration
	// Why says where RPO came from, for the config's comment.
	Why string
	// Schedule is a cron line a bit after the usual backup time.
	Schedule    string
	ScheduleWhy string
	// ReviewEvery is how often the claim must be re-proven.
	ReviewEvery time.Duration
}

// recent is how many of the newest restore points the cadence is read from.
const recent = 30

// DefaultRPO is the RPO proposed when the cadence cannot be read.
const DefaultRPO = 24 * time.Hour

// cadence reads the rhythm of the restore point times: the RPO is half
// again the median interval or a tenth above the largest recent gap, whichever
// is more, rounded up to a friendly duration (at least 1h); the drill runs
// daily (weekly for weekly backups) half an hour after the usual backup
// time of day, in UTC.
func cadence(times []time.Time) Cadence {
	ts := slices.Clone(times)
	slices.SortFunc(ts, func(a, b time.Time) int { return b.Compare(a) }) // newest first
	if len(ts) > recent {
		ts = ts[:recent]
	}
	c := Cadence{RPO: DefaultRPO, ReviewEvery: 7 * 24 * time.Hour}
	if len(ts) == 0 {
		c.Schedule, c.ScheduleWhy = "CRON_TZ=UTC 30 3 * * *", "no backup time seen: 03:30 UTC"
		c.Why = "no restore point seen: 1d assumed; set it to what you promise"
		return c
	}
	at := usualTime(ts)
	if len(ts) < 2 {
		c.Why = "one backup seen, so no cadence to learn from: 1d assumed; set it to what you promise"
		c.Schedule = fmt.Sprintf("CRON_TZ=UTC %d %d * * *", at%60, at/60)
		c.ScheduleWhy = fmt.Sprintf("daily, half an hour after the backup (%s UTC)", ts[0].UTC().Format("15:04"))
		return c
	}
	gaps := make([]time.Duration, len(ts)-1)
	for i := range gaps {
		gaps[i] = ts[i].Sub(ts[i+1])
	}
	sorted := slices.Clone(gaps)
	slices.Sort(sorted)
	median, largest := sorted[len(sorted)/2], sorted[len(sorted)-1]
	c.Known = true
	c.RPO = roundUp(max(median+median/2, largest+largest/10))
	c.Why = fmt.Sprintf("%d backups seen, usually %s apart (median), at most %s: half again the median or a tenth above the largest gap, rounded up",
		len(ts), approx(median), approx(largest))
	week := 7 * 24 * time.Hour
	if median >= 6*24*time.Hour {
		wd := ts[0].UTC().Add(30 * time.Minute).Weekday()
		c.Schedule = fmt.Sprintf("CRON_TZ=UTC %d %d * * %d", at%60, at/60, wd)
		c.ScheduleWhy = fmt.Sprintf("weekly, half an hour after the usual backup time (%02d:%02d UTC, %s)", at/60, at%60, wd)
		c.ReviewEvery = 4 * week
		return c
	}
	c.Schedule = fmt.Sprintf("CRON_TZ=UTC %d %d * * *", at%60, at/60)
	c.ScheduleWhy = fmt.Sprintf("daily, half an hour after the usual backup time of day (the median, %s UTC, plus 30m)", clock(at-30))
	return c
}

// usualTime returns the minute of the day (UTC), rounded up to five
// minutes, half an hour after the median backup time of day.
func usualTime(ts []time.Time) int {
	mins := make([]int, len(ts))
	for i, t := range ts {
		u := t.UTC()
		mins[i] = u.Hour()*60 + u.Minute()
	}
	slices.Sort(mins)
	m := (mins[len(mins)/2] + 30 + 4) / 5 * 5
	return m % (24 * 60)
}

func clock(m int) string {
	m = (m + 24*60) % (24 * 60)
	return fmt.Sprintf("%02d:%02d", m/60, m%60)
}

// Folder is one top-level folder of a restore, with what it holds.
type Folder struct {
	// Path is the folder as a paths check names it.
	Path         string
	Files, Bytes int64
}

// folders sums a restore's files per folder directly below root (a
// "/"-separated folder of the restore, "" for the target itself) and
// returns the largest by bytes (then files, then name). Files directly in
// root, and names a config cannot hold safely, are left out.
func folders(m *manifest.Manifest, root string) []Folder {
	byName := map[string]*Folder{}
	prefix := ""
	if root != "" {
		prefix = root + "/"
	}
	for _, e := range m.Entries {
		rest, ok := strings.CutPrefix(e.Path, prefix)
		if !ok {
			continue
		}
		top, _, nested := strings.Cut(rest, "/")
		if !nested || !printable(top) {
			continue
		}
		f := byName[top]
		if f == nil {
			f = &Folder{Path: top}
			byName[top] = f
		}
		f.Files++
		f.Bytes += e.Size
	}
	out := make([]Folder, 0, len(byName))
	for _, f := range byName {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b Folder) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Files, a.Files); c != 0 {
			return c
		}
		return strings.Compare(a.Path, b.Path)
	})
	return out
}

// commonDir returns the deepest folder holding every file of m ("" for the
// target): where a restic snapshot of /srv/files puts them, srv/files.
func commonDir(m *manifest.Manifest) string {
	if len(m.Entries) == 0 {
		return ""
	}
	dir := func(p string) string {
		if i := strings.LastIndexByte(p, '/'); i >= 0 {
			return p[:i]
		}
		return ""
	}
	common := dir(m.Entries[0].Path)
	for _, e := range m.Entries[1:] {
		for common != "" && e.Path != common && !strings.HasPrefix(e.Path, common+"/") {
			common = dir(common)
		}
	}
	return common
}

// printable says whether a name can be written in the config and read
// back as itself: valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' || (r >= '\u202a' && r <= '\u202e') || (r >= '\u2066' && r <= '\u2069') {
			return false
		}
	}
	return true
}

// largest returns the n tables with the most rows, most first.
func largest(ts []record.Table, n int) []record.Table {
	s := slices.Clone(ts)
	slices.SortStableFunc(s, func(a, b record.Table) int {
		if c := cmp.Compare(b.Rows, a.Rows); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return s[:min(n, len(s))]
}

// sortedByName returns the tables by name.
func sortedByName(ts []record.Table) []record.Table {
	s := slices.Clone(ts)
	slices.SortFunc(s, func(a, b record.Table) int { return strings.Compare(a.Name, b.Name) })
	return s
}
