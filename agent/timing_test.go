package agent

import (
	"testing"
	"time"

	"github.com/drillhq/drill/internal/config"
)

func mustTiming(t *testing.T, spec string, jitter time.Duration) timing {
	t.Helper()
	tm, ok := newTiming(&config.Drill{Name: "db", Schedule: spec, Jitter: jitter}, "backup1")
	if !ok {
		t.Fatalf("no timing for %q", spec)
	}
	return tm
}

func TestJitterOffset(t *testing.T) {
	const j = 15 * time.Minute
	a := jitterOffset("backup1", "db", j)
	if a != jitterOffset("backup1", "db", j) {
		t.Error("the offset changes between calls")
	}
	if a < 0 || a >= j {
		t.Errorf("offset %s outside [0, %s)", a, j)
	}
	seen := map[time.Duration]bool{}
	for _, h := range []string{"backup1", "backup2", "backup3", "backup4"} {
		seen[jitterOffset(h, "db", j)] = true
	}
	if len(seen) < 3 {
		t.Errorf("4 hosts share %d offsets", len(seen))
	}
	if jitterOffset("backup1", "db", 0) != 0 {
		t.Error("an offset without jitter")
	}
}

func TestTimingNext(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.DateTime, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tm := mustTiming(t, "CRON_TZ=UTC 0 3 * * *", 0)
	tm.offset = 10 * time.Minute
	for _, tc := range []struct{ after, want string }{
		{"2026-03-01 02:00:00", "2026-03-01 03:10:00"},
		{"2026-03-01 03:05:00", "2026-03-01 03:10:00"},
		{"2026-03-01 03:10:00", "2026-03-02 03:10:00"},
	} {
		if got := tm.next(utc(tc.after)).UTC(); !got.Equal(utc(tc.want)) {
			t.Errorf("next after %s = %s, want %s", tc.after, got, tc.want)
		}
	}
	if !tm.missed(utc("2026-03-01 03:10:00"), utc("2026-03-02 03:10:00")) {
		t.Error("a run a day ago missed today's")
	}
	if tm.missed(utc("2026-03-01 03:10:00"), utc("2026-03-02 03:09:59")) {
		t.Error("missed a run not yet due")
	}
	if got := mustTiming(t, "CRON_TZ=UTC 0 9 * * 1-5", 0).period(utc("2026-03-02 00:00:00")); got != 72*time.Hour {
		t.Errorf("period of weekdays at 9 = %s, want 72h (Friday to Monday)", got)
	}
	if got := mustTiming(t, "@every 90s", 0).period(utc("2026-03-02 00:00:00")); got != 90*time.Second {
		t.Errorf("period of @every 90s = %s", got)
	}
	if _, ok := newTiming(&config.Drill{Name: "x"}, "h"); ok {
		t.Error("a drill without a schedule is scheduled")
	}
}
