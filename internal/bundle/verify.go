package bundle

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/record"
)

// Options say what the auditor trusts.
type Options struct {
	// Key is the public key the auditor trusts, as a note verifier key
	// line or a PEM PUBLIC KEY; nil to use the bundle's own key, which
	// proves only that the bundle is self-consistent.
	Key []byte
	// Previous is a signed checkpoint the auditor kept from an earlier
	// export: the bundle's log must extend it.
	Previous []byte
	// Thorough checks every signature on its own instead of in batches.
	Thorough bool
}

// Report is what Verify verified.
type Report struct {
	Manifest Manifest
	// Records is the number of entries verified; Checkpoints the number
	// of signed checkpoints (historical and latest).
	Records, Checkpoints int64
	// Root is the root hash of the whole log (size Manifest.LogSize).
	Root        tlog.Hash
	Checkpoint  []byte
	VerifierKey string
	// KeyFromBundle is true when no trusted key was given.
	KeyFromBundle bool
	// Previous is the size of the auditor's earlier checkpoint the log
	// was shown to extend; -1 without one.
	Previous int64
	// Entries are the verified records, in log order.
	Entries []*record.Record
	// Export is the predicate of the bundle's export statement, whose
	// signature and every member were checked.
	Export *ExportPredicate
	// Reports are the report members that were rebuilt from Entries and
	// found identical.
	Reports []string
}

// chunkSize is how many entries Verify checks in parallel at a time.
const chunkSize = 1024

// maxMember bounds the bundle members held in memory (all but the
// entries, which are streamed).
const maxMember = 256 << 20

func bundleError(format string, args ...any) *evlog.VerifyError {
	return evlog.LogError("bundle: "+format, args...)
}

// Verify verifies an export bundle offline: the key, the latest and
// every historical checkpoint, every entry's signature and place in the
// log (rebuilding the tree from the entries, or from the log's leaf
// hashes for a subset, and checking the proofs), and, with
// opt.Previous, that the log extends the auditor's earlier checkpoint.
// Then the export statement: signed by the log's key in force at export,
// for this log, its size, root and selection, and naming every other
// member with its SHA-256; and the reports, rebuilt from the verified
// entries, must be the bundled ones byte for byte. It returns a
// *evlog.VerifyError for the first problem, saying what and where.
//
// Bundles of format 1, made before export statements, are refused: they
// cannot be told from a bundle cut short.
func Verify(ctx context.Context, r io.Reader, opt Options) (*Report, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, bundleError("not a gzip'd tar archive: %v", err)
	}
	b := &bundleVerifier{ctx: ctx, tr: tar.NewReader(ctxReader{ctx: ctx, r: zr}), opt: opt, rep: &Report{Previous: -1}}
	err = b.run()
	b.rebuilt.stop()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("verify bundle: %w", ctx.Err())
	}
	if err != nil {
		return nil, err
	}
	return b.rep, nil
}

// ctxReader is r until ctx is done: a verification stops reading when it
// is cancelled, whichever member it is in.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// digest returns the SHA-256 of member name as read, or "".
func (b *bundleVerifier) digest(name string) string {
	for _, d := range b.digests {
		if d.name == name {
			return d.sha256
		}
	}
	return ""
}

type bundleVerifier struct {
	ctx context.Context
	tr  *tar.Reader
	opt Options
	rep *Report

	man      Manifest
	chain    *evlog.KeyChain
	latest   evlog.Checkpoint
	hist     []HistoryLine
	histRoot map[int64]tlog.Hash
	hashes   []byte // subset: the leaf hashes
	// keyChanges counts the key-change entries seen; all of the chain's
	// must be in the bundle.
	keyChanges int
	incl       map[int64][]tlog.Hash
	cons       map[int64][]tlog.Hash
	mem        evlog.MemTree // the rebuilt tree
	seen       map[string]bool

	// haveCheckpoint, haveHistory and entriesDone say which members were
	// read.
	haveCheckpoint, haveHistory, entriesDone bool

	digests []memberDigest    // every member but the statement, in order
	rebuilt *rebuilder        // the reports, rebuilt once the entries are verified
	reports map[string][]byte // the bundled reports
	stmt    []byte            // the export statement member
}

// next returns the next member, its name relative to drill-evidence/.
func (b *bundleVerifier) next() (*tar.Header, error) {
	hdr, err := b.tr.Next()
	if err == io.EOF {
		return nil, io.EOF
	}
	if err != nil {
		return nil, bundleError("the archive is truncated or corrupt: %v", err)
	}
	if hdr.Typeflag != tar.TypeReg {
		return nil, bundleError("member %q is not a regular file", hdr.Name)
	}
	if b.seen[hdr.Name] {
		return nil, bundleError("member %q appears twice", hdr.Name)
	}
	b.seen[hdr.Name] = true
	return hdr, nil
}

func (b *bundleVerifier) read(hdr *tar.Header) ([]byte, error) {
	if hdr.Size > maxMember || hdr.Size < 0 {
		return nil, bundleError("member %s is %d bytes, more than %d", hdr.Name, hdr.Size, maxMember)
	}
	// Read at its size at once: most of a bundle is one member.
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(b.tr, data); err != nil {
		return nil, bundleError("the archive is truncated or corrupt (in %s): %v", hdr.Name, err)
	}
	if hdr.Name != MemberStatement {
		b.digests = append(b.digests, digestOf(hdr.Name, data))
	}
	return data, nil
}

func (b *bundleVerifier) run() error {
	b.seen = map[string]bool{}
	b.incl = map[int64][]tlog.Hash{}
	b.cons = map[int64][]tlog.Hash{}
	b.histRoot = map[int64]tlog.Hash{}
	b.reports = map[string][]byte{}
	for {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		hdr, err := b.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := b.order(hdr.Name); err != nil {
			return err
		}
		if err := b.member(hdr); err != nil {
			return err
		}
	}
	if !b.seen[memberManifest] {
		return bundleError("no manifest.json: not a drill evidence bundle")
	}
	if !b.entriesDone {
		return bundleError("no entries.jsonl: the archive is truncated")
	}
	return b.statement()
}

// order checks that member name may come where it does.
func (b *bundleVerifier) order(name string) error {
	switch {
	case b.stmt != nil:
		return bundleError("member %s comes after the export statement", name)
	case !strings.HasPrefix(name, Dir):
		return bundleError("member %q is outside %s", name, Dir)
	case name != memberManifest && len(b.seen) == 1:
		return bundleError("the first member is %s, want manifest.json", name)
	case b.entriesDone && name != MemberReportCSV && name != MemberReportHTML && name != MemberStatement:
		return bundleError("member %s comes after entries.jsonl", name)
	}
	return nil
}

// member reads and checks the member hdr names.
func (b *bundleVerifier) member(hdr *tar.Header) error {
	name := hdr.Name
	// check is what is done with a member read whole.
	var check func([]byte) error
	switch {
	case name == memberManifest:
		check = b.manifest
	case strings.HasPrefix(name, Dir+"keys/"):
		check = func([]byte) error { return nil } // for people; the keys verified are manifest.json's
	case name == memberCheckpoint:
		check = b.checkpoint
	case name == memberHistory:
		check = b.history
	case name == memberHashes:
		check = func(data []byte) error { b.hashes = data; return nil }
	case name == memberProofs:
		check = b.proofs
	case name == memberEntries:
		if !b.haveCheckpoint || !b.haveHistory {
			return bundleError("entries.jsonl comes before the checkpoints")
		}
		if err := b.entries(); err != nil {
			return err
		}
		b.entriesDone = true
		b.rebuilt = rebuildReports(b.ctx, b.man, b.latest, b.rep.Entries)
		return nil
	case name == MemberReportCSV, name == MemberReportHTML:
		// Checked when the statement is: rebuilt from the entries.
		check = func(data []byte) error { b.reports[name] = data; return nil }
	case name == MemberStatement:
		check = func(data []byte) error {
			if b.stmt = data; len(data) == 0 {
				return bundleError("%s is empty", name)
			}
			return nil
		}
	default:
		return bundleError("unknown member %s", name)
	}
	data, err := b.read(hdr)
	if err != nil {
		return err
	}
	return check(data)
}

// statement checks the export statement: its signature by the log's key
// in force at export, what it says against the bundle, the reports
// rebuilt from the verified entries, and every member's SHA-256.
func (b *bundleVerifier) statement() error {
	const name = "export.dsse.json"
	if b.stmt == nil {
		return bundleError("no export statement (%s): every bundle of format %d ends with one, signed by the log's key; it was removed, or the archive was cut short", name, Format)
	}
	key := b.chain.Current()
	st, err := openExport(b.stmt, key.Pub)
	if err != nil {
		return bundleError("export statement (%s): %v: it was changed after export, or it was not made by the holder of the log's key %s", name, err, evlog.ShortKey(key.VKey))
	}
	p, m := st.Predicate, b.man
	switch {
	case p.LogOrigin != m.Origin:
		return bundleError("the export statement was signed for log %q, the bundle is of log %q", p.LogOrigin, m.Origin)
	case p.LogSize > m.LogSize:
		return evlog.LogError("CUT SHORT: the export statement says the log had %d records when it was exported, but this bundle shows %d: records %d to %d were removed after export (an older signed checkpoint passed off as the latest)",
			p.LogSize, m.LogSize, m.LogSize, p.LogSize-1)
	case p.LogSize < m.LogSize:
		return evlog.LogError("the export statement says the log had %d records when it was exported, but this bundle shows %d", p.LogSize, m.LogSize)
	case p.LogRoot != b.latest.Root.String():
		return bundleError("the export statement was signed for the log's root hash %s, the bundle's latest checkpoint has %s", p.LogRoot, b.latest.Root)
	case p.Complete != m.Complete:
		return bundleError("the export statement says complete=%t, manifest.json says complete=%t", p.Complete, m.Complete)
	case p.Records != b.rep.Records:
		return bundleError("the export statement says the bundle holds %d entries, it holds %d", p.Records, b.rep.Records)
	case p.Selection != m.Selection:
		return bundleError("the export statement's selection is %q, manifest.json says %q", p.Selection, m.Selection)
	case !p.Created.Equal(m.Created):
		return bundleError("the export statement was made at %s, manifest.json says %s", p.Created, m.Created)
	}
	sel := p.selection()
	if sel.String() != p.Selection || sel.All() != p.Complete {
		return bundleError("the export statement's selection %q does not match its fields", p.Selection)
	}
	for _, r := range b.rep.Entries {
		if !sel.Match(r) {
			return evlog.RecordError(r.LogIndex, "is outside the export's signed selection (%s)", p.Selection)
		}
	}
	// The reports, side by side: rebuilding them is most of this step.
	errs := make([]error, len(reportMembers))
	sums := b.rebuilt.wait()
	evlog.Parallel(len(reportMembers), func(j int) {
		name := reportMembers[j]
		data, ok := b.reports[name]
		switch {
		case !ok: // a missing one is reported below
		case sums != nil && sums[j] != "" && sums[j] == b.digest(name):
			// rebuilt while the archive was read: identical
		default:
			errs[j] = CheckReport(name, data, exported(st.Subject, b.digests, name), p, b.latest, b.rep.Entries)
		}
	})
	for j, name := range reportMembers {
		if errs[j] != nil {
			return errs[j]
		}
		if _, ok := b.reports[name]; ok {
			b.rep.Reports = append(b.rep.Reports, strings.TrimPrefix(name, Dir))
		}
	}
	if err := checkMembers(st.Subject, b.digests); err != nil {
		return err
	}
	b.rep.Export = p
	return nil
}

// openExport checks that data, the export statement member, is a DSSE
// envelope signed by pub holding an export Statement, and returns it.
func openExport(data []byte, pub ed25519.PublicKey) (*ExportStatement, error) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, errors.New("not one line of JSON")
	}
	env, err := envelope.Decode(data[:len(data)-1])
	if err != nil {
		return nil, err
	}
	payload, err := env.VerifiedPayload(pub)
	if err != nil {
		return nil, err
	}
	var st ExportStatement
	if err := json.Unmarshal(payload, &st); err != nil {
		return nil, fmt.Errorf("payload is not an in-toto Statement: %w", err)
	}
	if err := envelope.CheckStatementType(st.Type, st.PredicateType, ExportType); err != nil {
		return nil, err
	}
	if st.Predicate == nil {
		return nil, errors.New("statement has no predicate")
	}
	for i, s := range st.Subject {
		if s.Name == "" || len(s.Digest["sha256"]) != 2*sha256.Size {
			return nil, fmt.Errorf("statement subject %d has no name or no sha256 digest", i)
		}
	}
	return &st, nil
}

// exported reports whether member name is, by its SHA-256 among members,
// the one the statement's subjects name.
func exported(subjects []envelope.Subject, members []memberDigest, name string) bool {
	for _, m := range members {
		for _, s := range subjects {
			if m.name == name && s.Name == name && s.Digest["sha256"] == m.sha256 {
				return true
			}
		}
	}
	return false
}

// checkMembers compares the bundle's members with the statement's
// subjects.
func checkMembers(subjects []envelope.Subject, members []memberDigest) error {
	want := make(map[string]string, len(subjects))
	for _, s := range subjects {
		if _, dup := want[s.Name]; dup {
			return bundleError("the export statement lists member %s twice", s.Name)
		}
		want[s.Name] = s.Digest["sha256"]
	}
	for _, m := range members {
		sum, ok := want[m.name]
		switch {
		case !ok:
			return bundleError("member %s is not in the export statement: it was added after export", m.name)
		case sum != m.sha256:
			return bundleError("member %s was changed after export: its SHA-256 is %s, the export statement says %s", m.name, m.sha256, sum)
		}
		delete(want, m.name)
	}
	for _, s := range subjects {
		if _, ok := want[s.Name]; ok {
			return bundleError("member %s, listed in the export statement, is missing: it was removed after export", s.Name)
		}
	}
	return nil
}

func (b *bundleVerifier) manifest(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b.man); err != nil {
		return bundleError("manifest.json: %v", err)
	}
	if b.man.Format == 1 {
		return bundleError("made by drill before export statements (manifest.json format 1): nothing in it is signed that would show it cut short or its members changed; re-export it with this version (drill evidence export)")
	}
	if b.man.Format != Format {
		return bundleError("manifest.json: format %d, this drill reads format %d", b.man.Format, Format)
	}
	if err := evlog.ValidOrigin(b.man.Origin); err != nil {
		return bundleError("manifest.json: %v", err)
	}
	if b.man.LogSize < 0 || b.man.Records < 0 || b.man.Records > b.man.LogSize {
		return bundleError("manifest.json: %d records of a log of %d", b.man.Records, b.man.LogSize)
	}
	b.rep.Manifest = b.man
	return nil
}

// key settles the keys: the chain manifest.json lists (checked against
// the key changes among the entries later), which must hold the key the
// auditor trusts.
func (b *bundleVerifier) key() error {
	if b.chain != nil {
		return nil
	}
	if len(b.man.Keys) == 0 || b.man.Keys[0].From != 0 {
		return bundleError("manifest.json lists no key in force from entry 0")
	}
	chain := &evlog.KeyChain{Origin: b.man.Origin}
	for j, k := range b.man.Keys {
		if j > 0 && (k.From <= b.man.Keys[j-1].From || k.From > b.man.LogSize) {
			return bundleError("manifest.json: key %d is in force from entry %d, out of order", j+1, k.From)
		}
		lk, err := evlog.NewLogKey(k.Key, k.From)
		if err != nil {
			return bundleError("manifest.json: key %d: %v", j+1, err)
		}
		chain.Keys = append(chain.Keys, lk)
	}
	if b.opt.Key != nil {
		pub, trusted, err := keys.ParsePublicKey(b.opt.Key)
		if err != nil {
			return fmt.Errorf("the key you gave: %w", err)
		}
		found := false
		for _, k := range chain.Keys {
			if trusted == k.VKey || trusted == "" && k.Pub.Equal(pub) {
				found, b.rep.VerifierKey = true, k.VKey
			}
		}
		if !found {
			return evlog.CheckpointError(b.man.LogSize, -1, "not signed by the key you gave (%s): the log's keys are %s", keyText(trusted, pub), chain.Names())
		}
	} else {
		b.rep.KeyFromBundle = true
		b.rep.VerifierKey = chain.Current().VKey
	}
	b.chain = chain
	return nil
}

// keyText names a key given as note text or PEM.
func keyText(vkey string, pub ed25519.PublicKey) string {
	if vkey != "" {
		return vkey
	}
	return fmt.Sprintf("PEM key %x", []byte(pub))
}

// open opens the checkpoint of the given size, leaving its signatures to
// sigs unless it is nil.
func (b *bundleVerifier) open(size int64, msg []byte, sigs *evlog.Sigs) (evlog.Checkpoint, *evlog.VerifyError) {
	c, err := b.chain.OpenCheckpointDeferred(size, msg, sigs)
	if err != nil {
		return c, evlog.CheckpointError(size, -1, "%v", err)
	}
	if c.Origin != b.man.Origin {
		return c, evlog.CheckpointError(size, -1, "origin is %q, want %q", c.Origin, b.man.Origin)
	}
	return c, nil
}

func (b *bundleVerifier) checkpoint(data []byte) error {
	if err := b.key(); err != nil {
		return err
	}
	c, verr := b.open(b.man.LogSize, data, nil) // alone, whatever the mode
	if verr != nil {
		return verr
	}
	if c.Size != b.man.LogSize {
		return evlog.CheckpointError(c.Size, -1, "the latest checkpoint has size %d but manifest.json says the log has %d records", c.Size, b.man.LogSize)
	}
	b.latest = c
	b.rep.Checkpoint = data
	b.rep.Root = c.Root
	b.rep.Checkpoints++
	b.haveCheckpoint = true
	return nil
}

func (b *bundleVerifier) history(data []byte) error {
	if err := b.key(); err != nil {
		return err
	}
	prev := int64(-1)
	err := jsonLines("checkpoints.jsonl", data, func(lineNo int, h *HistoryLine) error {
		if h.Size <= prev || h.Size > b.man.LogSize {
			return bundleError("checkpoints.jsonl line %d: checkpoint of size %d out of order or beyond the log of %d", lineNo, h.Size, b.man.LogSize)
		}
		prev = h.Size
		b.hist = append(b.hist, *h)
		return nil
	})
	if err != nil {
		return err
	}
	// The signatures, in parallel and in batches unless thorough: they
	// are nearly all the work.
	roots := make([]tlog.Hash, len(b.hist))
	errs := make([]*evlog.VerifyError, len(b.hist))
	evlog.CheckAll(len(b.hist), b.opt.Thorough, func(j int, sigs *evlog.Sigs) {
		if b.ctx.Err() != nil {
			return // Verify returns the context's error
		}
		h := b.hist[j]
		c, verr := b.open(h.Size, []byte(h.Note), sigs)
		if verr == nil && c.Size != h.Size {
			verr = evlog.CheckpointError(h.Size, -1, "listed as size %d but signed for size %d", h.Size, c.Size)
		}
		roots[j], errs[j] = c.Root, verr
	})
	for j, h := range b.hist {
		if errs[j] != nil {
			return errs[j]
		}
		b.histRoot[h.Size] = roots[j]
	}
	b.rep.Checkpoints += int64(len(b.hist))
	if _, ok := b.histRoot[b.man.LogSize]; ok {
		b.rep.Checkpoints-- // the latest, counted once
	}
	if b.man.Complete && int64(len(b.hist)) != b.man.LogSize+1 {
		return bundleError("a complete bundle holds %d historical checkpoints, want all %d (sizes 0 to %d)", len(b.hist), b.man.LogSize+1, b.man.LogSize)
	}
	b.haveHistory = true
	return nil
}

func (b *bundleVerifier) proofs(data []byte) error {
	return jsonLines("proofs.jsonl", data, func(_ int, p *ProofLine) error {
		switch {
		case p.Index != nil:
			b.incl[*p.Index] = p.Inclusion
		case p.Size != nil:
			b.cons[*p.Size] = p.Consistency
		}
		return nil
	})
}

// jsonLines parses the non-empty lines of member data as JSON values of
// type T, in parallel, then calls fn with each in order: the first bad
// line, of JSON or to fn, is the error, as when parsed one by one.
func jsonLines[T any](member string, data []byte, fn func(lineNo int, v *T) error) error {
	type line struct {
		no int
		b  []byte
	}
	var lines []line
	for no, l := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		if len(l) > 0 {
			lines = append(lines, line{no + 1, l})
		}
	}
	parsed := make([]T, len(lines))
	errs := make([]error, len(lines))
	evlog.Parallel(len(lines), func(j int) { errs[j] = json.Unmarshal(lines[j].b, &parsed[j]) })
	for j := range parsed {
		if errs[j] != nil {
			return bundleError("%s line %d: %v", member, lines[j].no, errs[j])
		}
		if err := fn(lines[j].no, &parsed[j]); err != nil {
			return err
		}
	}
	return nil
}

// EntryLine is a line of entries.jsonl.
type EntryLine struct {
	Index    int64           `json:"index"`
	Envelope json.RawMessage `json:"envelope"`
}

func (b *bundleVerifier) entries() error {
	n := b.man.LogSize
	if !b.man.Complete {
		if int64(len(b.hashes)) != 32*n {
			return bundleError("hashes holds %d bytes, want 32 for each of the log's %d records", len(b.hashes), n)
		}
		// Rebuild the whole tree from the leaf hashes.
		b.mem = make([]tlog.Hash, 0, tlog.StoredHashCount(n))
		for i := int64(0); i < n; i++ {
			var h tlog.Hash
			copy(h[:], b.hashes[32*i:])
			hs, err := tlog.StoredHashesForRecordHash(i, h, b.mem)
			if err != nil {
				return err
			}
			b.mem = append(b.mem, hs...)
			if root, ok := b.histRoot[i+1]; ok {
				if err := b.checkHistory(i+1, root); err != nil {
					return err
				}
			}
		}
		if err := b.checkRoot(); err != nil {
			return err
		}
	} else {
		b.mem = make([]tlog.Hash, 0, tlog.StoredHashCount(min(n, 1<<20)))
		if root, ok := b.histRoot[0]; ok && root != evlog.EmptyRoot() {
			return evlog.CheckpointError(0, -1, "root hash is not that of the empty tree")
		}
	}

	// Read (and hashed, for the export statement) on a goroutine of its
	// own, a chunk ahead, and checked on another, a chunk ahead of the
	// placing: decompressing, checking and placing overlap.
	sum := sha256.New()
	lines := b.readEntries(io.TeeReader(b.tr, sum))
	checked := b.checkChunks(lines)
	defer checked.stop()
	expect := int64(0)
	for c := range checked.chunks {
		if c.err != nil {
			return c.err
		}
		if err := b.placeChunk(c.entries, &expect); err != nil {
			return err
		}
	}
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("verify bundle: %w", err) // the reading stopped
	}
	b.digests = append(b.digests, memberDigest{name: memberEntries, sha256: hex.EncodeToString(sum.Sum(nil))})
	if b.man.Complete {
		if expect < n {
			return evlog.RecordError(expect, "missing: the bundle ends at record %d but its checkpoint has size %d (records %d to %d were cut off)", expect, n, expect, n-1)
		}
		if err := b.checkRoot(); err != nil {
			return err
		}
	}
	if b.keyChanges != len(b.man.Keys)-1 {
		return bundleError("manifest.json lists %d key changes, the entries hold %d", len(b.man.Keys)-1, b.keyChanges)
	}
	if b.rep.Records != b.man.Records {
		return bundleError("entries.jsonl holds %d records, manifest.json says %d", b.rep.Records, b.man.Records)
	}
	return b.previous()
}

// rawLine is a line of entries.jsonl as read.
type rawLine struct {
	no int
	b  []byte
}

// lineChunk is up to chunkSize lines of entries.jsonl, or the error that
// ended the reading.
type lineChunk struct {
	lines []rawLine
	err   error
}

// lineReader reads entries.jsonl on a goroutine of its own.
type lineReader struct {
	chunks <-chan lineChunk
	quit   chan struct{}
	done   chan struct{}
}

// readEntries starts reading the lines of r in chunks. The caller reads
// chunks until it is closed, or calls stop; either way stop must be
// called before r's archive is read further.
func (b *bundleVerifier) readEntries(r io.Reader) *lineReader {
	chunks := make(chan lineChunk, 2)
	lr := &lineReader{chunks: chunks, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(lr.done)
		defer close(chunks)
		br := bufio.NewReaderSize(r, 1<<20)
		send := func(c lineChunk) bool {
			select {
			case chunks <- c:
				return true
			case <-lr.quit:
				return false
			case <-b.ctx.Done():
				return false
			}
		}
		var chunk []rawLine
		arena := make([]byte, 0, 4<<20) // the chunk's lines, one allocation (drill's: ~2.5 KiB each)
		for lineNo := 1; ; lineNo++ {
			start := len(arena)
			var err error
			arena, err = readLine(br, envelope.MaxLeafSize+64, arena)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				send(lineChunk{err: bundleError("entries.jsonl line %d: %v", lineNo, err)})
				return
			}
			chunk = append(chunk, rawLine{no: lineNo, b: arena[start:len(arena):len(arena)]})
			if len(chunk) == chunkSize {
				if !send(lineChunk{lines: chunk}) {
					return
				}
				chunk, arena = nil, make([]byte, 0, max(4<<20, len(arena)+len(arena)/4))
			}
		}
		if len(chunk) > 0 {
			send(lineChunk{lines: chunk})
		}
	}()
	return lr
}

// stop stops the reading and waits for the goroutine to end.
func (lr *lineReader) stop() {
	select {
	case <-lr.quit:
	default:
		close(lr.quit)
	}
	<-lr.done
}

// ParseEntryLine parses a line of entries.jsonl, which Export writes as
// {"index":N,"envelope":ENVELOPE} with the envelope byte for byte.
func ParseEntryLine(line []byte) (EntryLine, error) {
	const pre, mid = `{"index":`, `,"envelope":`
	var e EntryLine
	rest, ok := bytes.CutPrefix(line, []byte(pre))
	num, env, ok2 := bytes.Cut(rest, []byte(mid))
	if !ok || !ok2 || len(num) == 0 || len(num) > 19 || !bytes.HasSuffix(env, []byte("}")) {
		return e, errors.New(`not {"index":N,"envelope":{...}}`)
	}
	for _, c := range num {
		if c < '0' || c > '9' {
			return e, fmt.Errorf("index %q is not a number", num)
		}
		e.Index = e.Index*10 + int64(c-'0')
	}
	if len(num) > 1 && num[0] == '0' || e.Index < 0 {
		return e, fmt.Errorf("index %q is not a canonical number", num)
	}
	e.Envelope = env[:len(env)-1]
	return e, nil
}

// checkedChunk is a chunk of entries checked (checkChunks), or the error
// that ended the reading.
type checkedChunk struct {
	entries []checkedEntry
	err     error
}

// chunkChecker checks the chunks of a lineReader on a goroutine of its own.
type chunkChecker struct {
	chunks <-chan checkedChunk
	quit   chan struct{}
	done   chan struct{}
	lines  *lineReader
}

// checkChunks starts checking the chunks lines reads, parsing and
// signatures on every core, a chunk ahead of the caller, who places them.
// A bundle's key chain is known in advance (manifest.json), so the key in
// force for an entry does not wait for the key changes before it to be
// placed. The caller reads chunks until it is closed, or calls stop;
// either way stop must be called before the archive is read further.
func (b *bundleVerifier) checkChunks(lines *lineReader) *chunkChecker {
	chunks := make(chan checkedChunk, 1)
	cc := &chunkChecker{chunks: chunks, quit: make(chan struct{}), done: make(chan struct{}), lines: lines}
	go func() {
		defer close(cc.done)
		defer close(chunks)
		for c := range lines.chunks {
			out := checkedChunk{err: c.err}
			if c.err == nil {
				out.entries = b.checkChunk(c.lines)
			}
			select {
			case chunks <- out:
			case <-cc.quit:
				return
			}
			if c.err != nil {
				return
			}
		}
	}()
	return cc
}

// stop stops the checking and the reading and waits for both to end.
func (cc *chunkChecker) stop() {
	close(cc.quit)
	cc.lines.stop()
	<-cc.done
}

// checkChunk checks a run of entries, parsing and signatures in parallel.
func (b *bundleVerifier) checkChunk(raw []rawLine) []checkedEntry {
	chunk := make([]checkedEntry, len(raw))
	evlog.CheckAll(len(raw), b.opt.Thorough, func(j int, sigs *evlog.Sigs) { chunk[j] = b.checkEntry(raw[j], sigs) })
	return chunk
}

// placeChunk places a chunk's checked entries in the tree, in order.
func (b *bundleVerifier) placeChunk(chunk []checkedEntry, expect *int64) error {
	if err := b.ctx.Err(); err != nil {
		return fmt.Errorf("verify bundle: %w", err)
	}
	for _, e := range chunk {
		if err := b.place(e, expect); err != nil {
			return err
		}
	}
	return nil
}

// checkedEntry is an entry whose line was parsed and whose signature was
// checked, and what was found.
type checkedEntry struct {
	EntryLine
	rec *record.Record
	kc  *envelope.KeyChange
	err error
}

// checkEntry parses a line of entries.jsonl and checks the entry's
// signature (or leaves it to sigs) and the place it claims; it runs in
// parallel with others.
func (b *bundleVerifier) checkEntry(raw rawLine, sigs *evlog.Sigs) checkedEntry {
	e, err := ParseEntryLine(raw.b)
	if err != nil {
		return checkedEntry{err: bundleError("entries.jsonl line %d: %v", raw.no, err)}
	}
	c := checkedEntry{EntryLine: e}
	if n := b.man.LogSize; e.Index >= n {
		c.err = evlog.RecordError(e.Index, "lies beyond the bundle's checkpoint of size %d (inserted?)", n)
		return c
	}
	rec, kc, verr := evlog.CheckLeafDeferred(b.man.Origin, e.Index, e.Envelope, b.chain.InForce(e.Index), sigs)
	if verr != nil {
		c.err = verr
	}
	c.rec, c.kc = rec, kc
	return c
}

// place checks, in log order, entry e's place in the log: after the one
// before, in the tree of the checkpoints.
func (b *bundleVerifier) place(e checkedEntry, expect *int64) error {
	i := e.Index
	var ve *evlog.VerifyError
	if errors.As(e.err, &ve) && ve.Index < 0 {
		return ve // a malformed line: no index to order by
	}
	switch {
	case i < *expect:
		return evlog.RecordError(i, "appears out of order or twice (after record %d)", *expect-1)
	case b.man.Complete && i > *expect:
		return evlog.RecordError(*expect, "missing from a complete bundle (the next entry is record %d)", i)
	}
	if e.err != nil {
		return e.err
	}
	if e.kc != nil {
		if verr := b.chain.Change(i, e.kc, true); verr != nil {
			return verr
		}
		b.keyChanges++
	}
	var err error
	if b.man.Complete {
		err = b.addLeaf(i, e.Envelope)
	} else {
		err = b.checkIncluded(i, e.Envelope)
	}
	if err != nil {
		return err
	}
	*expect = i + 1
	b.rep.Records++
	if e.rec != nil {
		b.rep.Entries = append(b.rep.Entries, e.rec)
	}
	return nil
}

// addLeaf adds entry i of a complete bundle to the rebuilt tree and
// checks the historical checkpoint signed after it.
func (b *bundleVerifier) addLeaf(i int64, leaf []byte) error {
	hs, err := tlog.StoredHashes(i, leaf, b.mem)
	if err != nil {
		return fmt.Errorf("verify bundle: record %d: %w", i, err)
	}
	b.mem = append(b.mem, hs...)
	if root, ok := b.histRoot[i+1]; ok {
		return b.checkHistory(i+1, root)
	}
	return nil
}

// checkIncluded checks entry i of a subset bundle against the log's leaf
// hashes, its inclusion proof and the checkpoint signed after it.
func (b *bundleVerifier) checkIncluded(i int64, leaf []byte) error {
	n := b.man.LogSize
	var want tlog.Hash
	copy(want[:], b.hashes[32*i:])
	h := tlog.RecordHash(leaf)
	if h != want {
		return evlog.RecordError(i, "does not match the log's leaf hash %d: it was changed after it was logged", i)
	}
	proof, ok := b.incl[i]
	if !ok {
		return evlog.RecordError(i, "has no inclusion proof in proofs.jsonl")
	}
	if err := tlog.CheckRecord(proof, n, b.latest.Root, i, h); err != nil {
		return evlog.RecordError(i, "inclusion proof does not verify against the checkpoint of size %d: %v", n, err)
	}
	if _, ok := b.histRoot[i+1]; !ok {
		return evlog.RecordError(i, "the checkpoint signed after it (size %d) is not in the bundle", i+1)
	}
	return nil
}

// checkHistory compares historical checkpoint size's root with the tree.
func (b *bundleVerifier) checkHistory(size int64, root tlog.Hash) error {
	got, err := tlog.TreeHash(size, b.mem)
	if err != nil {
		return fmt.Errorf("verify bundle: %w", err)
	}
	if got != root {
		return evlog.CheckpointError(size, size-1, "root hash does not match the records (the log was changed after this checkpoint was signed)")
	}
	if proof, ok := b.cons[size]; ok && size < b.man.LogSize {
		if err := tlog.CheckTree(proof, b.man.LogSize, b.latest.Root, size, root); err != nil {
			return evlog.CheckpointError(size, -1, "consistency proof to the latest checkpoint does not verify: %v", err)
		}
	}
	return nil
}

// checkRoot compares the rebuilt tree with the latest checkpoint.
func (b *bundleVerifier) checkRoot() error {
	root, err := tlog.TreeHash(b.man.LogSize, b.mem)
	if err != nil {
		return fmt.Errorf("verify bundle: %w", err)
	}
	if root != b.latest.Root {
		return evlog.CheckpointError(b.man.LogSize, -1, "the bundle's records do not give the root hash of its latest checkpoint")
	}
	return nil
}

// previous checks that the log extends the auditor's earlier checkpoint.
func (b *bundleVerifier) previous() error {
	if b.opt.Previous == nil {
		return nil
	}
	var c evlog.Checkpoint
	var err error
	for _, k := range b.chain.Keys {
		if c, err = evlog.OpenCheckpoint(b.opt.Previous, k.Verifier); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("your earlier checkpoint is not signed by any of the log's keys: %w", err)
	}
	if c.Origin != b.man.Origin {
		return fmt.Errorf("your earlier checkpoint is of log %q, this bundle of log %q", c.Origin, b.man.Origin)
	}
	if c.Size > b.man.LogSize {
		return &evlog.VerifyError{Index: b.man.LogSize, Checkpoint: b.man.LogSize, Msg: fmt.Sprintf(
			"ROLLBACK: this bundle shows the log at size %d, but your earlier checkpoint has size %d: records %d to %d were removed (or an old checkpoint was passed off as the latest)",
			b.man.LogSize, c.Size, b.man.LogSize, c.Size-1)}
	}
	root, err := tlog.TreeHash(c.Size, b.mem)
	if err != nil {
		return fmt.Errorf("verify bundle: %w", err)
	}
	if root != c.Root {
		return &evlog.VerifyError{Index: -1, Checkpoint: c.Size, Msg: fmt.Sprintf(
			"HISTORY REWRITTEN: the first %d records of this bundle's log do not give the root hash of your earlier checkpoint of size %d; the log was changed and signed again", c.Size, c.Size)}
	}
	b.rep.Previous = c.Size
	return nil
}

// readLine appends a line of at most max bytes, without its newline, to
// dst.
func readLine(br *bufio.Reader, max int, dst []byte) ([]byte, error) {
	start := len(dst)
	for {
		part, err := br.ReadSlice('\n')
		dst = append(dst, part...)
		if len(dst)-start > max {
			return dst[:start], fmt.Errorf("line longer than %d bytes", max)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if len(dst) == start {
				return dst, io.EOF
			}
			return dst[:start], errors.New("the last line has no newline: the archive is truncated")
		}
		if err != nil {
			return dst[:start], fmt.Errorf("the archive is truncated or corrupt: %w", err)
		}
		return bytes.TrimSuffix(dst, []byte("\n")), nil
	}
}
