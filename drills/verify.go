package drills

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/drillhq/drill/internal/human"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// verify checksums what came back (digests the backend computed while it
// wrote, and the host's own for any file it did not report), reconciles
// it with what the backend reported, and makes the restore check, the
// least check a drill makes, and records the backend's own checks.
func (dr *drillRun) verify(ctx context.Context) bool {
	dr.phase(PhaseVerify)
	counts := ""
	if dr.desc.Kind == plugins.KindDatabase {
		counts = dr.tables()
	} else if err := dr.hashFiles(ctx); err != nil {
		if ctx.Err() == nil {
			// The restore check fails, as an error: it could not be made.
			reason := fmt.Sprintf("checksum the restored files: %v", err)
			dr.problem("restore", false, reason)
			dr.restoreCauses = append(dr.restoreCauses, reason)
			dr.found.checks = append(dr.found.checks, dr.restoreCheck(""))
		}
		return false
	} else {
		counts = fmt.Sprintf("%d files, %s restored", dr.rec.Files, human.Size(dr.rec.Bytes))
	}
	dr.rec.ManifestSHA256 = fmt.Sprintf("%x", dr.got.Digest())
	dr.found.restored = true
	if dr.rec.Files == 0 && !dr.stopped {
		dr.failRestore(dr.nothingRestored())
	}
	dr.found.checks = append(dr.found.checks, dr.restoreCheck(counts))
	// The checks the backend made with the backup's own means.
	for _, c := range dr.resp.Checks {
		dr.found.checks = append(dr.found.checks, record.Check{Name: c.Name, OK: c.OK, Detail: c.Detail})
	}
	return true
}

// tables records a database's restored tables; its manifest is its
// tables: name, rows, fingerprint. It returns what was restored, in words.
func (dr *drillRun) tables() string {
	dr.got = tableManifest(dr.resp.Tables)
	var rows int64
	for _, t := range dr.resp.Tables {
		dr.rec.Tables = append(dr.rec.Tables, record.Table{Name: t.Name, Rows: t.Rows, Fingerprint: t.Fingerprint})
		rows += t.Rows
	}
	dr.rec.Files, dr.rec.Bytes = int64(len(dr.resp.Tables)), dr.resp.Bytes
	return fmt.Sprintf("%d tables, %d rows restored", dr.rec.Files, rows)
}

// hashFiles reconciles the restored tree with the files the backend
// reported (a difference fails the restore check) and makes its manifest.
func (dr *drillRun) hashFiles(ctx context.Context) error {
	got, mismatches, err := dr.col.manifest(ctx, dr.sd.Target, !dr.stopped)
	for _, m := range mismatches {
		dr.failRestore(m)
	}
	if err != nil {
		return err
	}
	dr.got = got
	dr.rec.Files, dr.rec.Bytes = int64(len(got.Entries)), got.TotalBytes()
	dr.obs.Restored = got
	return nil
}

// nothingRestored says why a restore that brought back nothing fails.
func (dr *drillRun) nothingRestored() string {
	if s := dr.rec.Sample; s != nil && s.TotalFiles > 0 {
		return fmt.Sprintf("nothing was restored: no slice of the sample held any of the %d files restore point %s lists", s.TotalFiles, dr.point.ID)
	}
	what := "files"
	if dr.desc.Kind == plugins.KindDatabase {
		what = "tables"
	}
	return fmt.Sprintf("nothing was restored: restore point %s holds no %s", dr.point.ID, what)
}

// restoreCheck is the restore check: everything restored came back whole
// and checksummed. A failed one says what failed before what came back.
func (dr *drillRun) restoreCheck(counts string) record.Check {
	if len(dr.restoreCauses) == 0 {
		how := "checksummed"
		if dr.desc.Kind == plugins.KindDatabase {
			how = "fingerprinted"
		}
		return record.Check{Name: "restore", OK: true, Detail: counts + " and " + how}
	}
	what := "restore incomplete: "
	if dr.stopped {
		what = "restore stopped: "
	}
	parts := dr.restoreCauses
	if counts != "" {
		parts = append(slices.Clip(parts), counts)
	}
	return record.Check{Name: "restore", OK: false, Detail: what + strings.Join(parts, "; ")}
}
