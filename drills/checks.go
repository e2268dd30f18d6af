package drills

import (
	"errors"
	"fmt"
	"github.com/drillhq/drill/internal/human"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/manifest"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/plugins"
)

// maxListed is how many file names a failing check lists before "and N more".
const maxListed = 20

// check runs the drill's checks over what was restored (min_files,
// min_bytes, paths, manifest: not after a restore the backend stopped,
// where missing files would be of the machine's making) and the
// service's (rpo, rto).
func (dr *drillRun) check() {
	dr.phase(PhaseCheck)
	if dr.desc.Kind != plugins.KindDatabase && !dr.stopped {
		dr.found.checks = append(dr.found.checks, dr.fileChecks()...)
	}
	restoreTime := time.Since(dr.restoreStart)
	dr.rec.RestoreSeconds = restoreTime.Seconds()
	age := time.Duration(dr.rec.BackupAgeSeconds * float64(time.Second))
	dr.found.checks = append(dr.found.checks, serviceChecks(dr.svc, age, dr.basis, restoreTime)...)
}

// fileChecks reads the drill's reference manifest, if it has one, and
// runs fileChecks. A reference manifest that cannot be read fails the
// manifest check with an error: the check could not be made.
func (dr *drillRun) fileChecks() []record.Check {
	t := restoredTree{target: dr.sd.Target, root: dr.root, got: dr.got}
	name := dr.d.Checks.Manifest
	if name == "" {
		return fileChecks(dr.d.Checks, dr.rec, t, nil)
	}
	ref, err := manifest.ParseFile(name)
	if err != nil {
		dr.problem("manifest", false, "check manifest: cannot read the reference manifest: "+err.Error())
		return append(fileChecks(dr.d.Checks, dr.rec, t, nil), record.Check{Name: "manifest", OK: false, Detail: err.Error()})
	}
	return fileChecks(dr.d.Checks, dr.rec, t, ref)
}

// restoredTree is a files drill's restore, as its checks see it.
type restoredTree struct {
	// target is the restore's directory; root is the restore point's
	// plugins.RestorePoint.Root ("srv/files" for a restic snapshot of
	// /srv/files, "" for the target itself).
	target, root string
	// got is the manifest of the files restored.
	got *manifest.Manifest
}

// relativeTo says, for a check's detail, what names are relative to.
func (t restoredTree) relativeTo() string {
	if t.root == "" {
		return ""
	}
	return " (names relative to /" + t.root + ")"
}

// fileChecks runs the generic checks of a files drill over the restored
// tree: min_files, min_bytes, paths and, given the reference manifest ref,
// manifest.
//
// Entries of paths and manifest are relative to the tree's root or, when
// not found there, to a folder above it (resolveFound), and absolute ones
// to the target (resolve); details name them as the config and manifest
// wrote them.
//
// A sampled drill restores one slice: min_files and min_bytes are then
// checked against the restore point's totals as the backend listed them,
// and paths and manifest entries only where they fall in the slice.
func fileChecks(c config.Checks, rec *record.Record, t restoredTree, ref *manifest.Manifest) []record.Check {
	var checks []record.Check
	files, bytes := int64(len(t.got.Entries)), t.got.TotalBytes()
	what := "restored"
	if rec.Sample != nil {
		files, bytes, what = rec.Sample.TotalFiles, rec.Sample.TotalBytes, "in the restore point's listing (a sampled drill)"
	}
	if _, ok := c.Pos["min_files"]; ok {
		checks = append(checks, record.Check{Name: "min_files", OK: files >= c.MinFiles,
			Detail: fmt.Sprintf("%d files %s, at least %d expected", files, what, c.MinFiles)})
	}
	if _, ok := c.Pos["min_bytes"]; ok {
		checks = append(checks, record.Check{Name: "min_bytes", OK: bytes >= c.MinBytes,
			Detail: fmt.Sprintf("%s %s, at least %s expected", human.Size(bytes), what, human.Size(c.MinBytes))})
	}
	if len(c.Paths) > 0 {
		checks = append(checks, pathsCheck(c.Paths, rec, t))
	}
	if ref != nil {
		checks = append(checks, manifestCheck(c.Manifest, ref, rec, t))
	}
	return checks
}

// pathsCheck is the paths check: every path is in the restore (or, for a
// sampled drill, in another slice).
func pathsCheck(paths []string, rec *record.Record, t restoredTree) record.Check {
	var missing []string
	checked := 0
	present := func(rel string) bool {
		link, err := lstatBeneath(t.target, filepath.FromSlash(rel))
		return link == "" && err == nil
	}
	for _, p := range paths {
		rel, ok := resolveFound(t.root, p, present)
		if !ok {
			missing = append(missing, fmt.Sprintf("%q (outside the restore)", p))
			continue
		}
		link, err := lstatBeneath(t.target, filepath.FromSlash(rel))
		if link != "" {
			checked++
			missing = append(missing, fmt.Sprintf("%q (its component %q is a symlink in the restore; drill never follows one)", p, unresolve(t.root, link)))
			continue
		}
		if err != nil && !inSample(rec, rel) {
			continue // in another slice of the sample
		}
		checked++
		if err != nil {
			missing = append(missing, fmt.Sprintf("%q", p))
		}
	}
	if len(missing) > 0 {
		detail := "missing from the restore: " + listNames(missing)
		// Special files are left out of every restore on purpose (the
		// backends count them): a path naming a FIFO, socket or device is
		// missing although the backup holds it.
		if n := rec.Details["skipped_special"]; n != "" && n != "0" {
			detail += fmt.Sprintf("; %s special files of the backup (FIFOs, sockets, devices) were not restored, on purpose: if a path names one, name a regular file or folder instead", n)
		}
		return record.Check{Name: "paths", OK: false, Detail: detail}
	}
	detail := fmt.Sprintf("all %d paths present", len(paths))
	if checked < len(paths) {
		detail = fmt.Sprintf("%d paths present; %d in other slices of the sample not checked", checked, len(paths)-checked)
	}
	return record.Check{Name: "paths", OK: true, Detail: detail + t.relativeTo()}
}

// manifestCheck is the manifest check: every file the reference manifest
// ref (read from name) lists was restored with the listed sha256. Files it
// does not list are allowed: it may cover part of the backup.
func manifestCheck(name string, ref *manifest.Manifest, rec *record.Record, t restoredTree) record.Check {
	want, names := resolveManifest(ref, t.root, t.got)
	if rec.Sample != nil {
		want.Entries = slices.DeleteFunc(want.Entries, func(e manifest.Entry) bool { return !inSample(rec, e.Path) })
	}
	diff := manifest.Compare(want, t.got)
	if len(diff.Missing) == 0 && len(diff.Mismatched) == 0 {
		detail := fmt.Sprintf("all %d files in %s restored with the listed sha256", len(want.Entries), name)
		if extra := len(diff.Extra); extra > 0 {
			detail += fmt.Sprintf(" (%d restored files not listed)", extra)
		}
		return record.Check{Name: "manifest", OK: true, Detail: detail + t.relativeTo()}
	}
	var failed []string
	if n := len(diff.Mismatched); n > 0 {
		failed = append(failed, fmt.Sprintf("%d file(s) restored with content that differs from %s: %s", n, name, listNames(quoteAll(names.of(diff.Mismatched)))))
	}
	if n := len(diff.Missing); n > 0 {
		missing := fmt.Sprintf("%d file(s) listed in %s missing from the restore: %s", n, name, listNames(quoteAll(names.of(diff.Missing))))
		if n == len(want.Entries) && n > 1 {
			// Not one file where it was looked for: more likely names
			// made elsewhere than a lost backup.
			missing += fmt.Sprintf(" (none was found: %s; was the manifest made in another folder?)", whereLooked(t.root))
		}
		failed = append(failed, missing)
	}
	return record.Check{Name: "manifest", OK: false, Detail: strings.Join(failed, "; ")}
}

// resolve maps a paths or manifest entry to its path in the restored tree:
// clean, "/"-separated, relative to the target ("." for the target
// itself). A relative entry is relative to root (a RestorePoint.Root), an
// absolute one to the target, whatever root is: "/srv/files/a" and, with
// root "srv/files", "a" are both "srv/files/a". ok is false for an entry
// that leads out of the target ("../../etc", "/../x").
func resolve(root, entry string) (rel string, ok bool) {
	if strings.HasPrefix(entry, "/") {
		rel = path.Clean(strings.TrimLeft(entry, "/"))
	} else {
		rel = path.Join(root, entry)
	}
	if rel == "" {
		rel = "."
	}
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

// resolveFound is resolve for an entry that may have been written
// relative to a folder above root: root can be a guess (the filesystem
// backend's, for an archive or copy that holds one folder down to the
// backed-up one, cannot tell that folder from a backed-up folder that
// itself holds a single folder). A relative entry that is not in the
// restored tree below root (has says what is) but is below a folder above
// it, the nearest first and the top last, is taken from there. An entry
// found nowhere resolves below root, where reasons say it was looked up.
func resolveFound(root, entry string, has func(rel string) bool) (rel string, ok bool) {
	rel, ok = resolve(root, entry)
	if !ok || root == "" || strings.HasPrefix(entry, "/") || has(rel) {
		return rel, ok
	}
	for up := path.Dir(root); ; up = path.Dir(up) {
		if alt, ok := resolve(up, entry); ok && has(alt) {
			return alt, true
		}
		if up == "." {
			return rel, true
		}
	}
}

// unresolve names rel, a path relative to the target, the way an entry
// would: relative to root when it lies below it, else absolute.
func unresolve(root, rel string) string {
	if root == "" {
		return rel
	}
	if below, ok := strings.CutPrefix(rel, root+"/"); ok {
		return below
	}
	return "/" + rel
}

// whereLooked says where entries are looked up, for reasons.
func whereLooked(root string) string {
	if root == "" {
		return "names are looked up from the top of the restore point"
	}
	return "names are looked up relative to /" + root + " of the restore point (else from a folder above it, up to its top), absolute ones from its top"
}

// entryNames maps the paths of a resolved reference manifest back to the
// names its file gave them.
type entryNames map[string]string

// of returns the given names for resolved paths.
func (n entryNames) of(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = n[p]
	}
	return out
}

// resolveManifest returns ref with its entries resolved against root and
// the files restored, got (resolveFound), and the names it gave them.
// Parse has already refused names with "..", so every entry stays inside
// the target.
func resolveManifest(ref *manifest.Manifest, root string, got *manifest.Manifest) (*manifest.Manifest, entryNames) {
	want := &manifest.Manifest{Entries: make([]manifest.Entry, 0, len(ref.Entries))}
	names := make(entryNames, len(ref.Entries))
	var restored map[string]bool
	if root != "" {
		restored = make(map[string]bool, len(got.Entries))
		for _, e := range got.Entries {
			restored[e.Path] = true
		}
	}
	has := func(rel string) bool { return restored[rel] }
	for _, e := range ref.Entries {
		rel, ok := resolveFound(root, e.Path, has)
		if !ok {
			continue
		}
		if _, dup := names[rel]; !dup {
			names[rel] = e.Path
		}
		e.Path = rel
		want.Entries = append(want.Entries, e)
	}
	return want, names
}

// lstatBeneath looks up rel (clean, relative) beneath target without
// following a symlink in any of its components: each directory is opened
// relative to its parent's descriptor after an lstat showed it is a
// directory, and the last component is lstat'ed, so a symlink there
// counts as existing (the backup holds it). A symlink in the middle of
// the path (a restored "home -> /home" under "home/alice/docs") is not
// followed: link is then the path of that component, relative to target,
// and the path does not count as present. os.Root keeps even a directory
// swapped for a link between the lstat and the open inside target.
func lstatBeneath(target, rel string) (link string, err error) {
	dir, err := os.OpenRoot(target)
	if err != nil {
		return "", err
	}
	defer func() { _ = dir.Close() }()
	parts := strings.Split(rel, string(filepath.Separator))
	for i, name := range parts[:len(parts)-1] {
		fi, err := dir.Lstat(name)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			return filepath.ToSlash(filepath.Join(parts[:i+1]...)), nil
		}
		if !fi.IsDir() {
			return "", &fs.PathError{Op: "lstat", Path: rel, Err: syscall.ENOTDIR}
		}
		sub, err := dir.OpenRoot(name)
		if err != nil {
			return "", err
		}
		_ = dir.Close()
		dir = sub
	}
	_, err = dir.Lstat(parts[len(parts)-1])
	return "", err
}

// reconcile compares what the backend reported with what is on disk under
// target: every reported file must be there with its reported size. It
// returns the files the backend did not report, for the host to hash, and
// how the tree differs from what was reported, as reasons.
func reconcile(target string, files []reported) (unreported, mismatches []string, err error) {
	seen := make([]bool, len(files))
	err = walkFiles(target, func(rel string, size func() (int64, error)) error {
		i, ok := slices.BinarySearchFunc(files, rel, func(r reported, p string) int { return strings.Compare(r.Path, p) })
		if !ok {
			unreported = append(unreported, rel)
			return nil
		}
		seen[i] = true
		if e := files[i]; e.Size >= 0 {
			n, err := size()
			if err != nil {
				return err
			}
			if n != e.Size {
				mismatches = append(mismatches, fmt.Sprintf("restored file %q has %d bytes on disk, the backend reported %d", rel, n, e.Size))
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("walk restored tree %s: %w", target, err)
	}
	var missing []string
	for i, r := range files {
		if !seen[i] {
			missing = append(missing, fmt.Sprintf("%q", r.Path))
		}
	}
	if len(missing) > 0 {
		mismatches = append(mismatches, "the backend reported files that are not in the restore: "+listNames(missing))
	}
	return unreported, mismatches, nil
}

// walkFiles calls fn for every regular file below target, with its
// slash-separated path relative to target and a function returning its
// size, never following symlinks. Each directory is opened relative to
// its parent's descriptor and each file is stat'ed relative to its
// directory's, so a tree deeper than PATH_MAX bytes (a backup may hold
// one, and the scratch path makes every path longer than it was) is
// walked like any other; an error names the path relative to target.
func walkFiles(target string, fn func(rel string, size func() (int64, error)) error) error {
	root, err := os.OpenRoot(target)
	if err != nil {
		return err
	}
	var walk func(dir *os.Root, rel string) error
	walk = func(dir *os.Root, rel string) error {
		defer dir.Close()
		f, err := dir.Open(".")
		if err != nil {
			return fmt.Errorf("open %q: %w", rel, bare(err))
		}
		ents, err := f.ReadDir(-1)
		_ = f.Close() // read-only
		if err != nil {
			return fmt.Errorf("read directory %q: %w", rel, bare(err))
		}
		for _, e := range ents {
			p := e.Name()
			if rel != "." {
				p = rel + "/" + p
			}
			switch {
			case e.Type().IsRegular():
				name := e.Name()
				size := func() (int64, error) {
					fi, err := dir.Lstat(name)
					if err != nil {
						return 0, fmt.Errorf("stat %q: %w", p, bare(err))
					}
					return fi.Size(), nil
				}
				if err := fn(p, size); err != nil {
					return err
				}
			case e.IsDir():
				sub, err := dir.OpenRoot(e.Name())
				if err != nil {
					return fmt.Errorf("open %q: %w", p, bare(err))
				}
				if err := walk(sub, p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root, ".")
}

// bare is err without the path of a *fs.PathError, which walkFiles
// replaces with the path relative to the target.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// serviceChecks compares the backup's age with the RPO and the restore
// time with the RTO. basis says what the backup's time is (see timeBasis).
func serviceChecks(svc *config.Service, backupAge time.Duration, basis string, restore time.Duration) []record.Check {
	var checks []record.Check
	if svc == nil {
		return nil
	}
	if svc.RPO > 0 {
		ok := backupAge <= svc.RPO
		checks = append(checks, record.Check{Name: "rpo", OK: ok, Detail: rpoDetail(backupAge, basis, svc.RPO, ok)})
	}
	if svc.RTO > 0 {
		checks = append(checks, record.Check{Name: "rto", OK: restore <= svc.RTO,
			Detail: fmt.Sprintf("restore and checks took %s, RTO %s", human.Duration(restore), human.Duration(svc.RTO))})
	}
	return checks
}

// rpoDetail says how old the backup was by what measure, against the RPO.
// A directory copy dated by its own contents (no stamp) is dated by when
// it was last written, which is not always when a backup job last
// finished it; a failing one says how to date it better.
func rpoDetail(age time.Duration, basis string, rpo time.Duration, ok bool) string {
	switch basis {
	case plugins.BasisNewestCtime, plugins.BasisNewestMtime:
		what := "the copy was last written"
		if basis == plugins.BasisNewestMtime {
			what = "the copy's newest data was written"
		}
		detail := fmt.Sprintf("%s %s ago (%s), RPO %s", what, human.Duration(age), basis, human.Duration(rpo))
		if !ok {
			detail += "; set source.stamp to a file your backup job touches when it finishes"
		}
		return detail
	}
	return fmt.Sprintf("backup was %s old at drill start (%s), RPO %s", human.Duration(age), basis, human.Duration(rpo))
}

func quoteAll(names []string) []string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return q
}

func listNames(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:maxListed], ", ") + fmt.Sprintf(" and %d more", len(names)-maxListed)
}
