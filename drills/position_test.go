package drills

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/record"
)

// positionConfig: services with a 7-day review period, one drill each,
// billing with two drills, and a service without any.
const positionConfig = `
services:
  proven: {owner: a@x, priority: 1, review_every: 7d, rto: 1h, rpo: 1d}
  atrisk: {owner: b@x, priority: 1, review_every: 7d}
  failing: {owner: c@x, priority: 2, review_every: 7d}
  stale: {owner: d@x, priority: 2, review_every: 7d}
  untested: {owner: e@x, priority: 3, review_every: 7d}
  nodrill: {owner: f@x, priority: 3}
  billing: {owner: g@x, priority: 1, review_every: 7d}
drills:
  p: {service: proven, backend: fake, source: {a: b}}
  r: {service: atrisk, backend: fake, source: {a: b}}
  f: {service: failing, backend: fake, source: {a: b}}
  s: {service: stale, backend: fake, source: {a: b}}
  u: {service: untested, backend: fake, source: {a: b}}
  b1: {service: billing, backend: fake, source: {a: b}}
  b2: {service: billing, backend: fake, source: {a: b}}
`

func TestPosition(t *testing.T) {
	cfg, err := config.Parse("", []byte(positionConfig))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	var recs []*record.Record
	add := func(drill string, verdict record.Verdict, ago time.Duration, restore float64) {
		fin := now.Add(-ago)
		r := &record.Record{Drill: drill, Verdict: verdict, Started: fin.Add(-time.Minute), Finished: fin,
			LogIndex: int64(len(recs)), RestoreSeconds: restore, BackupAgeSeconds: 3600}
		if verdict != record.VerdictPass {
			r.Reasons = []string{drill + " broke"}
		}
		recs = append(recs, r)
	}
	add("p", "pass", 3*day, 100)
	add("p", "pass", 2*day, 110)
	add("p", "pass", 1*day, 120)
	add("r", "pass", 3*day, 50)
	add("r", "fail", 1*day, 0)
	add("f", "pass", 30*day, 50)
	add("f", "fail", 1*day, 0)
	add("s", "pass", 8*day, 50)
	add("s", "error", 1*day, 0)
	add("u", "error", 1*day, 0)
	add("b1", "pass", 1*day, 40)
	add("b2", "pass", 9*day, 30)

	pos := Position(cfg, recs, now)
	got := map[string]ServicePosition{}
	var order []string
	for _, sp := range pos {
		got[sp.Service] = sp
		order = append(order, sp.Service)
	}
	for svc, want := range map[string]Status{
		"proven": StatusProven, "atrisk": StatusAtRisk, "failing": StatusFailing, "stale": StatusStale,
		"untested": StatusUntested, "nodrill": StatusUntested, "billing": StatusStale,
	} {
		if got[svc].Status != want {
			t.Errorf("%s: status %s, want %s (reasons %q)", svc, got[svc].Status, want, got[svc].Reasons)
		}
	}
	// Priority first, then worst status, then name.
	if want := []string{"billing", "atrisk", "proven", "failing", "stale", "nodrill", "untested"}; !slices.Equal(order, want) {
		t.Errorf("order %v, want %v", order, want)
	}
	p := got["proven"]
	if p.LastPass == nil || !p.LastPass.Equal(now.Add(-day)) || p.MeasuredRTO != 120 || p.RTO != 3600 || !p.Drills[0].Rising {
		t.Errorf("proven: %+v", p)
	}
	if r := got["atrisk"]; len(r.Reasons) != 1 || r.Reasons[0] != "r: r broke" || r.LastVerdict != "fail" {
		t.Errorf("atrisk reasons %q, last verdict %s", r.Reasons, r.LastVerdict)
	}
	// A service is proven only as recently as its least recently proven drill.
	if b := got["billing"]; b.LastPass == nil || !b.LastPass.Equal(now.Add(-9*day)) || !strings.Contains(strings.Join(b.Reasons, " "), "b2: no pass within review_every (7d)") {
		t.Errorf("billing: last pass %v, reasons %q", b.LastPass, b.Reasons)
	}
	if n := got["nodrill"]; len(n.Drills) != 0 || !strings.Contains(n.Reasons[0], "no drill proves this service") {
		t.Errorf("nodrill: %+v", n)
	}

	// --at: two days ago, r had not failed yet and s was still in its window.
	then := Position(cfg, recs, now.Add(-2*day))
	for _, sp := range then {
		switch sp.Service {
		case "atrisk":
			if sp.Status != StatusProven {
				t.Errorf("atrisk two days ago: %s, want proven", sp.Status)
			}
		case "stale":
			// Its pass was 6 days old then, and the error not yet made.
			if sp.Status != StatusProven {
				t.Errorf("stale two days ago: %s, want proven", sp.Status)
			}
		case "proven":
			if sp.LastPass == nil || !sp.LastPass.Equal(now.Add(-2*day)) {
				t.Errorf("proven two days ago: last pass %v", sp.LastPass)
			}
		}
	}
}
