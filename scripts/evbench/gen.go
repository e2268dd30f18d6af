package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/drillhq/drill/internal/record"
)

// gen makes the records of a realistic log: drills d01..dNN, each of
// service s((i-1) mod M + 1), running in turn, one record every spacing,
// the newest at the time gen runs.
type gen struct {
	drills, services int
}

// spacing is the time between two records of the generated log: 100,000
// records span about 11 months, a year of drills every few hours.
const spacing = 5 * time.Minute

// batch is how many records share one commit while generating.
const batch = 1_000

func (g gen) run(state string, n int, now time.Time) error {
	if g.drills < 1 || g.drills > 99 || g.services < 1 {
		return errors.New("-drills must be 1-99 and -services at least 1")
	}
	s, err := openStore(state)
	if err != nil {
		return err
	}
	have, err := s.Size()
	if err != nil {
		_ = s.Close()
		return err
	}
	first := now.Add(-time.Duration(n) * spacing)
	recs := make([]*record.Record, 0, batch)
	for i := range n {
		recs = append(recs, g.record(int(have)+i, first.Add(time.Duration(i)*spacing)))
		if len(recs) == batch || i == n-1 {
			if _, err := s.AppendBatch(recs); err != nil {
				_ = s.Close()
				return fmt.Errorf("append records %d-%d: %w", int(have)+i+1-len(recs), int(have)+i, err)
			}
			recs = recs[:0]
		}
	}
	return s.Close()
}

// drillName is the name of the k-th drill, from 0: d01, d02, ...
func drillName(k int) string { return fmt.Sprintf("d%02d", k+1) }

// serviceName is the service of the k-th drill.
func (g gen) serviceName(k int) string { return fmt.Sprintf("s%d", k%g.services+1) }

// record is the i-th record of the log, of a drill that started at
// started: a filesystem drill of a copy with min_files, paths and a
// reference manifest, as drill run records it. One in ten fails (a file
// of the manifest came back different), one in thirty errors (the copy
// was unreachable), the rest pass.
func (g gen) record(i int, started time.Time) *record.Record {
	k := i % g.drills
	name := drillName(k)
	age := time.Duration(1+i%23) * time.Hour
	took := time.Duration(20+i%40) * time.Second
	src := sha256.Sum256([]byte(name))
	rec := &record.Record{
		Drill: name, Service: g.serviceName(k), Backend: "filesystem", Host: "bench",
		SourceSHA256: hex.EncodeToString(src[:]),
		RestorePoint: record.RestorePoint{
			ID:          "/srv/copies/" + name,
			Time:        started.Add(-age),
			Description: name,
		},
		Started: started, Finished: started.Add(took + 2*time.Second),
		RestoreSeconds: took.Seconds(), BackupAgeSeconds: age.Seconds(),
		RPOSeconds: 86400, RTOSeconds: 3600,
		Details: map[string]string{
			"backup_time_basis": "newest ctime", "format": "directory", "skipped_special": "0",
			"sandbox": "landlock ABI 7: filesystem, tcp, signal and abstract unix socket scoped",
		},
		DrillVersion: "bench",
	}
	switch {
	case i%30 == 29:
		rec.Verdict = record.VerdictError
		rec.Reasons = []string{"backend filesystem: list restore points: open /srv/copies/" + name + ": input/output error"}
		rec.Checks = []record.Check{{Name: "restore_point", OK: false, Detail: "no restore point could be listed"}}
		return rec
	case i%10 == 9:
		rec.Verdict = record.VerdictFail
		rec.Reasons = []string{"manifest: 1 of 4,000 files differ: docs/d07/file01234.txt"}
	default:
		rec.Verdict = record.VerdictPass
		rec.Reasons = []string{}
	}
	files, bytes := int64(4000+i%7), int64(550_000_000+i%4096)
	man := sha256.Sum256(fmt.Appendf(nil, "%s %d", name, i))
	rec.Files, rec.Bytes, rec.ManifestSHA256 = files, bytes, hex.EncodeToString(man[:])
	rec.Checks = []record.Check{
		{Name: "restore_point", OK: true, Detail: fmt.Sprintf("/srv/copies/%s of %s restored, of 1 listed", name, rec.RestorePoint.Time.UTC().Format(time.RFC3339))},
		{Name: "restore", OK: true, Detail: fmt.Sprintf("%d files, %d B restored and checksummed", files, bytes)},
		{Name: "min_files", OK: true, Detail: fmt.Sprintf("%d files restored, at least 1000 expected", files)},
		{Name: "paths", OK: true, Detail: "all 2 paths present"},
		{Name: "manifest", OK: rec.Verdict == record.VerdictPass, Detail: "4000 files compared with the reference manifest"},
		{Name: "rpo", OK: true, Detail: fmt.Sprintf("the copy was last written %s ago (newest ctime), RPO 1d", age)},
		{Name: "rto", OK: true, Detail: fmt.Sprintf("restore and checks took %s, RTO 1h", took)},
	}
	return rec
}
