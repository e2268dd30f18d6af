package schedule

import (
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the host's zoneinfo
)

func TestParseNext(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	tests := []struct {
		spec       string
		from, want string // RFC 3339; compared as instants
	}{
		{"30 3 * * *", "2025-03-01T00:00:00Z", "2025-03-01T03:30:00Z"},
		{"30 3 * * *", "2025-03-01T03:30:00Z", "2025-03-02T03:30:00Z"},    // strictly after
		{"0 */6 * * 1-5", "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"}, // Saturday -> Monday
		{"15 2 1 jan,jul *", "2025-03-01T00:00:00Z", "2025-07-01T02:15:00Z"},
		{"0 0 29 2 *", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"  0 0 * * sun  ", "2025-03-01T00:00:00Z", "2025-03-02T00:00:00Z"},
		{"@daily", "2025-03-01T10:00:00Z", "2025-03-02T00:00:00Z"},
		{"@midnight", "2025-03-01T10:00:00Z", "2025-03-02T00:00:00Z"},
		{"@hourly", "2025-03-01T10:20:00Z", "2025-03-01T11:00:00Z"},
		{"@weekly", "2025-03-01T10:00:00Z", "2025-03-02T00:00:00Z"},
		{"@monthly", "2025-03-01T10:00:00Z", "2025-04-01T00:00:00Z"},
		{"@yearly", "2025-03-01T10:00:00Z", "2026-01-01T00:00:00Z"},
		{"@annually", "2025-03-01T10:00:00Z", "2026-01-01T00:00:00Z"},
		{"@every 1h30m", "2025-03-01T10:00:00Z", "2025-03-01T11:30:00Z"},
		{"@every 90s", "2025-03-01T10:00:00Z", "2025-03-01T10:01:30Z"},
		{"CRON_TZ=UTC 30 3 * * *", "2025-03-01T00:00:00Z", "2025-03-01T03:30:00Z"},
		{"CRON_TZ=Europe/Berlin 30 3 * * *", "2025-03-01T00:00:00Z", "2025-03-01T02:30:00Z"},
		{"TZ=America/New_York 0 9 * * *", "2025-07-01T00:00:00Z", "2025-07-01T13:00:00Z"},
		{"CRON_TZ=Asia/Tokyo @daily", "2025-03-01T00:00:00Z", "2025-03-01T15:00:00Z"},
		{"CRON_TZ=UTC\t@hourly", "2025-03-01T10:20:00Z", "2025-03-01T11:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.spec, err)
			}
			got := s.Next(utc(tt.from))
			if want := utc(tt.want); !got.Equal(want) {
				t.Errorf("Parse(%q).Next(%s) = %s, want %s", tt.spec, tt.from, got.UTC().Format(time.RFC3339), tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{"", "empty schedule: want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h"},
		{"   ", "empty schedule: want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h"},
		{"30 3 * *", "found 4 fields: want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h"},
		{"0 30 3 * * *", "found 6 fields: want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h (a seconds field is not supported)"},
		{"daily", "found 1 fields: want five fields (minute hour day-of-month month day-of-week), a descriptor such as @daily, or @every 1h"},
		{"70 3 * * *", `minute field "70": end of range (70) above maximum (59)`},
		{"x 3 * * *", `minute field "x": want numbers, with , - * and /`},
		{"0 24 * * *", `hour field "24": end of range (24) above maximum (23)`},
		{"0 0 0 * *", `day-of-month field "0": beginning of range (0) below minimum (1)`},
		{"0 0 * foo *", `month field "foo": want numbers 1-12 or names jan-dec, with , - * and /`},
		{"0 0 * * funday", `day-of-week field "funday": want numbers 0-6 (0 is Sunday) or names sun-sat, with , - * and /`},
		{"*/0 5-1 * * *", `minute field "*/0": step of range should be a positive number; hour field "5-1": beginning of range (5) beyond end of range (1)`},
		{"0 0 30 2 *", "never fires: no such date"},
		{"0 0 31 4,6 *", "never fires: no such date"},
		{"@dialy", `unknown descriptor "@dialy" (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)`},
		{"@daily 3", `unknown descriptor "@daily 3" (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)`},
		{"@every", "@every needs a duration such as 1h30m"},
		{"@every 1d", `@every: invalid duration "1d" (want a Go duration such as 90m or 1h30m)`},
		{"@every 500ms", "@every: duration 500ms must be a whole number of seconds, at least 1s"},
		{"@every -1h", "@every: duration -1h0m0s must be a whole number of seconds, at least 1s"},
		{"@everyday", `unknown descriptor "@everyday" (allowed: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, @every DURATION)`},
		{"CRON_TZ=Mars/Olympus 30 3 * * *", `unknown time zone "Mars/Olympus" (want a name such as UTC or Europe/Berlin)`},
		{"CRON_TZ= 30 3 * * *", "empty time zone after CRON_TZ= (want a name such as UTC or Europe/Berlin)"},
		{"CRON_TZ=UTC", "CRON_TZ=UTC is not followed by a schedule"},
		{"TZ=UTC", "TZ=UTC is not followed by a schedule"},
		{"CRON_TZ=UTC 70 * * * *", `minute field "70": end of range (70) above maximum (59)`},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := Parse(tt.spec)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, want error %q", tt.spec, s, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) error\n got: %s\nwant: %s", tt.spec, got, tt.want)
			}
		})
	}
}

// TestParseNoZoneIsLocal checks that a spec without a zone follows the
// host's local time.
func TestParseNoZoneIsLocal(t *testing.T) {
	s, err := Parse("30 3 * * *")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.Local)
	if got, want := s.Next(from), time.Date(2025, 3, 1, 3, 30, 0, 0, time.Local); !got.Equal(want) {
		t.Errorf("Next(%s) = %s, want %s", from, got, want)
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"30 3 * * *", "@daily", "@every 1h30m", "CRON_TZ=UTC 30 3 * * *", "TZ=", "CRON_TZ=", "TZ=UTC", "*/0 * * * *", "1-2-3 * * * *", "0 0 30 2 *"} {
		f.Add(s)
	}
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := Parse(spec)
		if err != nil {
			if s != nil {
				t.Errorf("Parse(%q) returned a schedule and an error", spec)
			}
			if strings.TrimSpace(err.Error()) == "" {
				t.Errorf("Parse(%q) returned an empty error", spec)
			}
			return
		}
		if next := s.Next(from); !next.After(from) {
			t.Errorf("Parse(%q).Next(%s) = %s, want a later time", spec, from, next)
		}
	})
}
