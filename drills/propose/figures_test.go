package propose

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

func TestBelow(t *testing.T) {
	for _, c := range []struct{ n, want int64 }{{0, 0}, {1, 1}, {3, 2}, {15, 13}, {167, 150}, {34, 30}, {123456, 110000}} {
		if got := below(c.n); got != c.want {
			t.Errorf("below(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		n    int64
		want string
	}{{3000, "2700"}, {29081, "25KiB"}, {1 << 30, "920MiB"}} {
		if got := sizeBelow(c.n); got != c.want {
			t.Errorf("sizeBelow(%d) = %s, want %s", c.n, got, c.want)
		}
	}
}

func TestCadence(t *testing.T) {
	base := time.Date(2025, 5, 1, 2, 0, 0, 0, time.UTC)
	var daily []time.Time
	for i := range 10 {
		daily = append(daily, base.Add(time.Duration(i)*24*time.Hour+time.Duration(i)*time.Second))
	}
	c := cadence(daily)
	if !c.Known || c.RPO != 36*time.Hour || c.Schedule != "CRON_TZ=UTC 30 2 * * *" {
		t.Errorf("daily: got %+v, want known, 36h, 02:30", c)
	}
	one := cadence(daily[:1])
	if one.Known || one.RPO != DefaultRPO {
		t.Errorf("one point: got %+v, want unknown, 1d", one)
	}
	weekly := cadence([]time.Time{base, base.Add(7 * 24 * time.Hour), base.Add(14 * 24 * time.Hour)})
	if weekly.RPO != 14*24*time.Hour || weekly.Schedule != "CRON_TZ=UTC 30 2 * * 4" {
		t.Errorf("weekly: got %+v", weekly)
	}
}

func TestSniff(t *testing.T) {
	tarHead := make([]byte, 512)
	copy(tarHead, "docs/a.txt")
	copy(tarHead[257:], "ustar\x0000")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "toc.dat", Mode: 0o600, Size: 5, Format: tar.FormatUSTAR})
	_, _ = tw.Write([]byte("PGDMP"))
	_ = tw.Close()
	pgTar := buf.Bytes()
	for _, c := range []struct {
		name string
		head []byte
		want Kind
	}{
		{"custom dump", []byte("PGDMP\x01\x0e"), KindPostgres},
		{"plain pg", []byte("--\n-- PostgreSQL database dump\n--\n"), KindPostgres},
		{"mysql", []byte("-- MySQL dump 10.13\n"), KindMySQL},
		{"mariadb 11", []byte("/*M!999999\\- enable the sandbox mode */ \n-- MariaDB dump 10.19\n"), KindMySQL},
		{"tar", tarHead, KindArchive},
		{"pg tar", pgTar, KindPostgres},
		{"text", []byte("just notes\n"), KindUnknown},
	} {
		if got := Sniff(c.head); got != c.want {
			t.Errorf("%s: Sniff = %q, want %q", c.name, got, c.want)
		}
	}
}

// A trial refused before it restored anything is sampled when the point's
// listed size exceeds the budget, whatever the reason's words; without a
// listed size only a reason about the scratch space says so.
func TestTooLarge(t *testing.T) {
	refused := func(reason string) *record.Record {
		return &record.Record{Verdict: record.VerdictError, Reasons: []string{reason}}
	}
	sized := func(n int64) *drills.Observation {
		return &drills.Observation{Point: plugins.RestorePoint{Size: n}}
	}
	for _, tc := range []struct {
		name   string
		rec    *record.Record
		obs    *drills.Observation
		budget int64
		want   bool
	}{
		{"listed larger than the budget", refused("snapshot abc is 2.0 KiB, more than anything"), sized(2048), 1024, true},
		{"listed within the budget, another error", refused("restic: wrong password"), sized(512), 1024, false},
		{"size unknown, the backend's max_scratch_bytes", refused("restore stopped at max_scratch_bytes (1.0 KiB)"), sized(-1), 1024, true},
		{"size unknown, another error", refused("restic: wrong password"), sized(-1), 1024, false},
		{"files restored: not a refusal", &record.Record{Verdict: record.VerdictError, Files: 3}, sized(2048), 1024, false},
		{"a fail is not a refusal", &record.Record{Verdict: record.VerdictFail}, sized(2048), 1024, false},
		{"no observation", refused("max_scratch_bytes"), nil, 1024, false},
	} {
		if got := tooLarge(tc.rec, tc.obs, tc.budget); got != tc.want {
			t.Errorf("%s: tooLarge = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestNotBehind: a service whose newest backup is already older than its
// cadence's RPO gets an RPO above that age, with a note, so that the first
// drill passes on the backups as they are; one on time keeps its RPO.
func TestNotBehind(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p := &Proposal{
		Services: []*Service{{Name: "late", RPO: 36 * time.Hour, RPOWhy: "late: 3 backups seen"}, {Name: "ontime", RPO: 36 * time.Hour}},
		Drills: []*Drill{
			{Name: "late", Service: "late", Newest: plugins.RestorePoint{Time: now.Add(-5 * 24 * time.Hour)}},
			{Name: "ontime", Service: "ontime", Newest: plugins.RestorePoint{Time: now.Add(-20 * time.Hour)}},
		},
	}
	p.notBehind(now)
	late, ontime := p.Services[0], p.Services[1]
	if late.RPO != 7*24*time.Hour {
		t.Errorf("late: rpo %s, want 1w (5d old, a quarter more, rounded up)", late.RPO)
	}
	if !strings.Contains(late.RPOWhy, "already 5d old") || !strings.Contains(late.RPOWhy, "3 backups seen") {
		t.Errorf("late: why %q does not say the age and the cadence", late.RPOWhy)
	}
	if ontime.RPO != 36*time.Hour {
		t.Errorf("ontime: rpo %s, want the cadence's 36h", ontime.RPO)
	}
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "drill late") || !strings.Contains(p.Notes[0], "Lower rpo to 36h") {
		t.Errorf("notes %q, want one about drill late", p.Notes)
	}
}

// TestCommentsStayComments: a name read from a backup (a restic host, a
// file name) with a line break in it stays inside its comment, so it
// cannot add a key to the config drill init writes.
func TestCommentsStayComments(t *testing.T) {
	w := &writer{}
	w.line(2, "# snapshots of h\nstate_dir: /etc", "")
	w.line(2, "service: x", "from host\nsocket: /tmp/s")
	got := w.buf.String()
	if n := strings.Count(got, "\n"); n != 2 {
		t.Fatalf("%d lines, want 2:\n%s", n, got)
	}
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if strings.Contains(l, "state_dir:") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
			t.Errorf("line %q carries a key out of its comment", l)
		}
	}
}
