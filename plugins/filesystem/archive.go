package filesystem

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/drillhq/drill/internal/safefile"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/restoreevents"
)

// The archive pipeline: a parser goroutine decompresses and parses the tar
// stream into batches of operations whose file data lives in one pooled
// buffer; the writer (the calling goroutine) creates the entries, writes
// and hashes the data, and hands the batch back. numBatches bounds the
// memory to numBatches*chunkSize.
const (
	chunkSize   = 512 << 10
	numBatches  = 8
	maxBatchOps = 512
	// minRead is the least buffer space worth a read; with less left, the
	// batch is sent and the read goes into the next one.
	minRead = 32 << 10
	// readBuffer is the read size on the archive file.
	readBuffer = 1 << 20
	// zstdMaxWindow accepts every window the zstd tool can write
	// (--long=31); decoding such an archive needs that much memory.
	zstdMaxWindow = 2 << 30
	// defaultZstdConcurrency is the measured best on two cores:
	// decoding in the parser goroutine beats handing blocks to 2 or 4
	// decoder goroutines, which only compete with the writer for the
	// second core (see BenchmarkRestoreTarZst).
	defaultZstdConcurrency = 1
)

// Formats recorded in Details["format"].
const (
	formatTar       = "tar"
	formatTarGz     = "tar.gz"
	formatTarZst    = "tar.zst"
	formatDirectory = "directory"
)

// detectFormat tells the archive's format from its first bytes. unsupported
// names a compression that is recognised but not read.
func detectFormat(magic []byte) (format, unsupported string) {
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		return formatTarGz, ""
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return formatTarZst, ""
	case bytes.HasPrefix(magic, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		return "tar.xz", "xz"
	case len(magic) >= 10 && bytes.HasPrefix(magic, []byte("BZh")) && magic[3] >= '1' && magic[3] <= '9' &&
		bytes.Equal(magic[4:10], []byte{0x31, 0x41, 0x59, 0x26, 0x53, 0x59}):
		return "tar.bz2", "bzip2"
	case bytes.HasPrefix(magic, []byte{0x04, 0x22, 0x4d, 0x18}):
		return "tar.lz4", "lz4"
	}
	return formatTar, ""
}

type opKind uint8

const (
	opFile    opKind = iota // a regular file starts; opData follow, then opEnd
	opData                  // file content
	opEnd                   // the file's content is complete
	opDir                   // a directory
	opSymlink               // a symlink to link
	opLink                  // a hard link to link
	opSpecial               // a device node or FIFO: skipped
	opRefuse                // an entry refused by the parser: msg
)

// op is one thing for the writer to do.
type op struct {
	kind  opKind
	name  string
	mode  fs.FileMode
	mtime time.Time
	size  int64
	link  string
	data  []byte // a slice of the batch's buffer
	msg   string
	// link refused: entries below name are refused too
	refusedLink bool
}

// batch carries operations from the parser to the writer.
type batch struct {
	ops []op
	buf []byte // holds the data of the ops; never grown past its capacity
}

// countReader counts the bytes read through it and keeps the first read
// error that is not EOF.
type countReader struct {
	r   io.Reader
	n   atomic.Int64
	err error
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF && c.err == nil {
		c.err = err
	}
	return n, err
}

// restoreArchive extracts and hashes an archive in one pass.
func (b *Backend) restoreArchive(ctx context.Context, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	f, fi, resp := openArchive(req)
	if f == nil {
		return resp, nil
	}
	defer f.Close()
	root, err := os.OpenRoot(req.Target)
	if err != nil {
		return nil, fmt.Errorf("open restore target: %w", err)
	}
	defer root.Close()

	file := &countReader{r: f}
	p, stop, err := b.newParser(req, file, resp)
	if err != nil {
		return nil, err
	}
	if p == nil {
		return resp, nil
	}
	defer stop()

	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	rep := restoreevents.New(events, restoreevents.BytesProgress(fi.Size(), file.n.Load))
	w := &writer{tree: newTree(root), root: root, rep: rep, maxBytes: req.MaxBytes, hash: sha256.New()}
	parserDone := make(chan struct{})
	go func() {
		defer close(parserDone)
		p.run(ictx)
	}()
	werr := w.run(ictx, p.work, p.free)
	cancel()
	for range p.work { // let the parser finish
	}
	<-parserDone
	w.abandon()
	w.tree.close()
	if err := w.tree.finish(); err != nil && werr == nil {
		w.probs.Add(plugins.ProblemError, "", fmt.Sprintf("set the mode and mtime of restored directories: %v", err))
	}
	if p.damage != "" { // found before any stop: the damage is real
		w.probs.Add(plugins.ProblemFail, req.PointID, p.damage)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, err)
	}
	if werr != nil && !errors.Is(werr, errStopped) {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, werr)
	}
	if err := rep.Close(); err != nil {
		return nil, fmt.Errorf("restore %s: %w", req.PointID, err)
	}
	resp.Files, resp.Bytes = rep.Counts()
	resp.Point.Root = p.chain.root()
	resp.Problems = w.probs.All()
	if len(resp.Problems) == 0 {
		resp.Point.Files = p.totalFiles // read completely: now known
		if req.Sample != nil {
			resp.TotalFiles, resp.TotalBytes = p.totalFiles, p.totalBytes
		}
	}
	resp.Details["skipped_special"] = strconv.FormatInt(w.skipped, 10)
	return resp, nil
}

// openArchive opens the archive req.PointID and describes it in the
// response it returns. Without a file, the response says why it could not
// be opened.
func openArchive(req *plugins.RestoreRequest) (*os.File, fs.FileInfo, *plugins.RestoreResponse) {
	// A regular file, never through a symlink (safefile): the archive
	// listed may have been swapped for a link since.
	f, err := safefile.Open(req.PointID, "archive")
	if errors.Is(err, safefile.ErrNotRegular) {
		return nil, nil, &plugins.RestoreResponse{Point: plugins.RestorePoint{ID: req.PointID, Size: -1, Files: -1, Description: filepath.Base(req.PointID)},
			Problems: []plugins.Problem{{Kind: plugins.ProblemFail, Path: req.PointID, Message: err.Error()}}, Details: map[string]string{}}
	}
	if err != nil {
		return nil, nil, vanished(req, "", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, vanished(req, "", err)
	}
	resp := &plugins.RestoreResponse{Point: archivePoint(req.PointID, fi), Details: map[string]string{}}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		resp.Problems = []plugins.Problem{{Kind: plugins.ProblemFail, Path: req.PointID,
			Message: fmt.Sprintf("restore point %s is no longer a regular file", req.PointID)}}
		return nil, nil, resp
	}
	return f, fi, resp
}

// newParser detects the archive's format and returns a parser of it, and
// a function closing its decompressor. Without a parser, resp says why
// the archive cannot be read, or the error does.
func (b *Backend) newParser(req *plugins.RestoreRequest, file *countReader, resp *plugins.RestoreResponse) (*parser, func(), error) {
	br := bufio.NewReaderSize(file, readBuffer)
	magic, _ := br.Peek(10)
	format, unsupported := detectFormat(magic)
	resp.Details["format"] = format
	if unsupported != "" {
		resp.Problems = []plugins.Problem{{Kind: plugins.ProblemError, Path: req.PointID, Message: fmt.Sprintf(
			"archive %s is %s-compressed, which the filesystem backend does not read (it reads tar, gzip and zstd): make the backup with tar -czf or tar --zstd -cf",
			req.PointID, unsupported)}}
		return nil, nil, nil
	}
	p := &parser{archive: req.PointID, format: format, file: file, free: make(chan *batch, numBatches), work: make(chan *batch, numBatches), sample: req.Sample}
	for range numBatches {
		p.free <- &batch{ops: make([]op, 0, maxBatchOps), buf: make([]byte, 0, chunkSize)}
	}
	p.dec = br
	stop := func() {}
	switch format {
	case formatTarGz:
		z, err := gzip.NewReader(br)
		if err != nil {
			withDamage(resp, req.PointID, p.describe(err)+" at its start")
			return nil, nil, nil
		}
		p.dec, p.compressed, stop = z, true, func() { _ = z.Close() }
	case formatTarZst:
		conc := b.zstdConcurrency
		if conc <= 0 {
			conc = defaultZstdConcurrency
		}
		z, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(conc), zstd.WithDecoderMaxWindow(zstdMaxWindow))
		if err != nil {
			return nil, nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		p.dec, p.compressed, stop = z, true, z.Close
	}
	p.tarIn = &countReader{r: p.dec}
	p.tr = tar.NewReader(p.tarIn)
	return p, stop, nil
}

// withDamage adds a damage problem to resp.
func withDamage(resp *plugins.RestoreResponse, archive, what string) *plugins.RestoreResponse {
	resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Path: archive,
		Message: fmt.Sprintf("archive %s is damaged: %s", archive, what)})
	return resp
}

// parser decompresses and parses the tar stream into batches.
type parser struct {
	archive    string
	format     string
	file       *countReader // the archive file
	dec        io.Reader    // the decompressed stream
	compressed bool
	tarIn      *countReader // dec, as the tar reader consumes it
	tr         *tar.Reader
	free, work chan *batch
	cur        *batch

	// lastGood is the last entry parsed completely.
	lastGood string
	// entryEnd is where the last entry's data ends in the tar stream, if
	// known (not for sparse files).
	entryEnd      int64
	entryEndKnown bool

	// damage describes the damage found, or is empty. It is written
	// before work is closed.
	damage string

	// sample is the slice to restore; nil for everything. totalFiles and
	// totalBytes count the archive's regular files (hard links included)
	// and their bytes, in the sample or not.
	sample                 *plugins.Sample
	totalFiles, totalBytes int64

	// chain finds the Root from every entry's name, in the sample or not.
	chain rootChain
}

// run parses the archive and closes p.work when done.
func (p *parser) run(ctx context.Context) {
	defer close(p.work)
	if err := p.parse(ctx); err != nil {
		return // cancelled: the writer is not listening any more
	}
	if p.cur != nil && len(p.cur.ops) > 0 {
		select {
		case p.work <- p.cur:
		case <-ctx.Done():
		}
	}
}

// parse returns an error only when ctx is done; damage is recorded in
// p.damage.
func (p *parser) parse(ctx context.Context) error {
	p.entryEndKnown = true
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := p.tr.Next()
		if err == io.EOF {
			return p.end(ctx)
		}
		if err != nil {
			if p.lastGood == "" {
				p.damaged(err, "at its start")
			} else {
				p.damaged(err, fmt.Sprintf("after %q", p.lastGood))
			}
			return nil
		}
		p.noteEntryEnd(hdr)
		name, r := cleanName(hdr.Name)
		if r != nil {
			if err := p.emit(ctx, op{kind: opRefuse, name: hdr.Name, msg: r.msg}); err != nil {
				return err
			}
			continue
		}
		if hdr.Typeflag != tar.TypeXGlobalHeader && hdr.Typeflag != 'V' {
			p.chain.add(name, hdr.Typeflag == tar.TypeDir || hdr.Typeflag == 'D')
		}
		o := op{name: name, mode: fs.FileMode(hdr.Mode) & 0o777, mtime: hdr.ModTime}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
			p.totalFiles++
			p.totalBytes += hdr.Size
			if !p.sample.Has(name) {
				p.lastGood = name // Next reads past its data, checking it
				continue
			}
			o.kind, o.size = opFile, hdr.Size
			if ok, err := p.regularFile(ctx, o); !ok {
				return err
			}
			o = op{kind: opEnd}
		case tar.TypeDir, 'D': // 'D': a GNU incremental dump directory
			o.kind = opDir
		case tar.TypeSymlink:
			if !p.sample.Has(name) {
				continue
			}
			o.kind, o.link = opSymlink, hdr.Linkname
		case tar.TypeLink:
			// A hard link is in the slice of the file it links to, which
			// is then restored.
			p.totalFiles++
			if target, r := cleanName(hdr.Linkname); r == nil && !p.sample.Has(target) {
				continue
			}
			o = linkOp(o, hdr.Linkname)
		case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
			o.kind = opSpecial
		case tar.TypeXGlobalHeader, 'V': // global PAX header, GNU volume label
			continue
		default:
			o = op{kind: opRefuse, name: name, msg: fmt.Sprintf("%q was not restored: its entry type %q is not supported", name, hdr.Typeflag)}
		}
		if err := p.emit(ctx, o); err != nil {
			return err
		}
		p.lastGood = name
	}
}

// regularFile emits the op of a regular file and copies its data. It returns
// false when the parse ends: with ctx's error, or nil when the data was
// damaged (recorded in p.damage).
func (p *parser) regularFile(ctx context.Context, o op) (bool, error) {
	if err := p.emit(ctx, o); err != nil {
		return false, err
	}
	if err := p.copyData(ctx, o.size); err != nil {
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		p.damaged(err, fmt.Sprintf("inside %q", o.name))
		return false, nil
	}
	return true, nil
}

// linkOp is the op of hard link o to target: refused when the target is
// empty, absolute or has a ".." component.
func linkOp(o op, target string) op {
	name := o.name
	switch {
	case target == "":
		return op{kind: opRefuse, name: name, msg: fmt.Sprintf("hard link %q was not restored: its target is empty", name), refusedLink: true}
	case strings.HasPrefix(target, "/"):
		return op{kind: opRefuse, name: name, msg: fmt.Sprintf("hard link %q -> %q was not restored: its target is absolute", name, target), refusedLink: true}
	case hasDotDot(target):
		return op{kind: opRefuse, name: name, msg: fmt.Sprintf("hard link %q -> %q was not restored: its target has a \"..\" component", name, target), refusedLink: true}
	}
	o.kind = opLink
	o.link, _ = cleanName(target)
	return o
}

// noteEntryEnd records where hdr's data ends in the tar stream.
func (p *parser) noteEntryEnd(hdr *tar.Header) {
	size := hdr.Size
	switch hdr.Typeflag {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		size = 0
	}
	p.entryEnd = p.tarIn.n.Load() + (size+511)/512*512
	p.entryEndKnown = hdr.Typeflag != tar.TypeGNUSparse
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			p.entryEndKnown = false
		}
	}
}

// end checks the end of a tar stream that parsed cleanly: a tar without
// the end-of-archive marker was cut at an entry boundary, and a
// compressed stream is read to its end so that its checksums are verified.
func (p *parser) end(ctx context.Context) error {
	if p.entryEndKnown && p.tarIn.n.Load() == p.entryEnd {
		if p.lastGood == "" {
			p.damaged(nil, "it holds no tar data")
		} else {
			p.damaged(nil, fmt.Sprintf("it ends after %q without the end-of-archive marker (truncated)", p.lastGood))
		}
		return nil
	}
	if !p.compressed {
		return nil
	}
	buf := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		_, err := p.dec.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			p.damaged(err, fmt.Sprintf("after the last entry %q", p.lastGood))
			return nil
		}
	}
}

// damaged records damage: err (if any) and where it was found.
func (p *parser) damaged(err error, where string) {
	if err == nil {
		p.damage = fmt.Sprintf("archive %s is damaged: %s", p.archive, where)
		return
	}
	if p.file.err != nil {
		p.damage = fmt.Sprintf("archive %s cannot be read: %v (%s)", p.archive, p.file.err, where)
		return
	}
	p.damage = fmt.Sprintf("archive %s is damaged: %s %s", p.archive, p.describe(err), where)
}

// describe puts a decoding error in an operator's words.
func (p *parser) describe(err error) string {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "unexpected EOF"
	case errors.Is(err, tar.ErrHeader):
		return "invalid tar header"
	case errors.Is(err, gzip.ErrChecksum):
		return "gzip checksum mismatch"
	case errors.Is(err, gzip.ErrHeader):
		return "invalid gzip header"
	}
	msg := strings.TrimPrefix(err.Error(), "archive/tar: ")
	if p.format == formatTarZst && !strings.HasPrefix(msg, "zstd") {
		msg = "zstd: " + msg
	}
	return msg
}

// emit adds o to the current batch, sending the batch first if it is full.
func (p *parser) emit(ctx context.Context, o op) error {
	if p.cur != nil && len(p.cur.ops) == cap(p.cur.ops) {
		if err := p.send(ctx); err != nil {
			return err
		}
	}
	if p.cur == nil {
		if err := p.get(ctx); err != nil {
			return err
		}
	}
	p.cur.ops = append(p.cur.ops, o)
	return nil
}

func (p *parser) send(ctx context.Context) error {
	select {
	case p.work <- p.cur:
		p.cur = nil
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *parser) get(ctx context.Context) error {
	select {
	case p.cur = <-p.free:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// copyData reads size bytes of the current entry into batches.
func (p *parser) copyData(ctx context.Context, size int64) error {
	for size > 0 {
		if p.cur != nil && (cap(p.cur.buf)-len(p.cur.buf) < minRead || len(p.cur.ops) == cap(p.cur.ops)) {
			if err := p.send(ctx); err != nil {
				return err
			}
		}
		if p.cur == nil {
			if err := p.get(ctx); err != nil {
				return err
			}
		}
		start := len(p.cur.buf)
		n := int(min(int64(cap(p.cur.buf)-start), size))
		m, err := io.ReadFull(p.tr, p.cur.buf[start:start+n])
		if m > 0 {
			p.cur.buf = p.cur.buf[:start+m]
			p.cur.ops = append(p.cur.ops, op{kind: opData, data: p.cur.buf[start : start+m : start+m]})
		}
		if err != nil {
			return err
		}
		size -= int64(n)
	}
	return nil
}

// errStopped means the writer stopped the restore with a problem.
var errStopped = errors.New("restore stopped")

// writer creates the entries of an archive below the target.
type writer struct {
	tree     *tree
	root     *os.Root
	rep      *restoreevents.Batcher
	probs    restoreevents.Problems
	maxBytes int64
	written  int64 // bytes of regular files started
	skipped  int64 // special files skipped
	hash     hash.Hash

	// the regular file being written
	f     *outFile
	name  string
	mode  fs.FileMode
	mtime time.Time
	n     int64
	skip  bool // the current file was refused: drop its data
}

// run processes batches until work is closed or the restore must stop:
// errStopped (a problem was recorded), the ctx error, or a reporting error.
func (w *writer) run(ctx context.Context, work <-chan *batch, free chan<- *batch) error {
	for b := range work {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := w.do(b)
		b.ops, b.buf = b.ops[:0], b.buf[:0]
		free <- b
		if err != nil {
			return err
		}
		if err := w.rep.Tick(); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) do(b *batch) error {
	for i := range b.ops {
		o := &b.ops[i]
		var err error
		switch o.kind {
		case opFile:
			err = w.startFile(o)
		case opData:
			if w.f != nil {
				if _, werr := w.f.Write(o.data); werr != nil {
					return w.stop(w.name, werr)
				}
				w.hash.Write(o.data)
				w.n += int64(len(o.data))
			}
		case opEnd:
			err = w.endFile()
		case opDir:
			err = w.entry(o.name, w.tree.mkdir(o.name, o.mode, o.mtime))
		case opSymlink:
			err = w.entry(o.name, w.tree.symlink(o.name, o.link))
		case opLink:
			err = w.hardLink(o.name, o.link)
		case opSpecial:
			w.skipped++
		case opRefuse:
			if o.refusedLink {
				w.tree.refused[o.name] = true
			}
			w.probs.Add(plugins.ProblemFail, o.name, o.msg)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// entry records the outcome of creating one entry: a refusal or an error
// of that entry is a fail problem, a local error stops the restore.
func (w *writer) entry(name string, err error) error {
	if err == nil {
		return nil
	}
	var r *refusal
	switch {
	case errors.As(err, &r):
		w.probs.Add(plugins.ProblemFail, name, r.msg)
		return nil
	case isLocalError(err):
		return w.stop(name, err)
	}
	w.probs.Add(plugins.ProblemFail, name, fmt.Sprintf("%q could not be restored: %v", name, errText(err)))
	return nil
}

// stop records a local error that ends the restore.
func (w *writer) stop(name string, err error) error {
	w.probs.Add(plugins.ProblemError, name, fmt.Sprintf("restore stopped: writing %q into the target: %v", name, errText(err)))
	return errStopped
}

// errText is the reason of a path error, whose path is relative to the
// target and would only repeat the entry's name.
func errText(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func (w *writer) startFile(o *op) error {
	w.f, w.skip = nil, false
	if w.maxBytes > 0 && w.written+o.size > w.maxBytes {
		w.probs.Add(plugins.ProblemError, o.name, fmt.Sprintf(
			"restore would exceed max_scratch_bytes (%d bytes): stopped before %q (%d bytes)", w.maxBytes, o.name, o.size))
		return errStopped
	}
	f, err := w.tree.createFile(o.name)
	if err != nil {
		w.skip = true
		return w.entry(o.name, err)
	}
	w.written += o.size
	w.f, w.name, w.mode, w.mtime, w.n = f, o.name, o.mode, o.mtime, 0
	w.hash.Reset()
	return nil
}

func (w *writer) endFile() error {
	f := w.f
	w.f = nil
	if f == nil {
		return nil
	}
	if err := f.finish(w.mode, w.mtime); err != nil {
		return w.stop(w.name, err)
	}
	return w.rep.File(plugins.File{Path: w.name, Size: w.n, SHA256: w.hash.Sum(nil)})
}

// abandon removes a file whose data was cut short: it was not restored.
func (w *writer) abandon() {
	if w.f == nil {
		return
	}
	w.f.abort()
	_ = w.root.Remove(w.name)
	w.f = nil
}

// hardLink creates a hard link and reports it as a restored file, with
// the digest of the file it links to.
func (w *writer) hardLink(name, target string) error {
	if err := w.tree.link(name, target); err != nil {
		return w.entry(name, err)
	}
	if name == target {
		return nil
	}
	f, err := w.root.Open(name)
	if err != nil {
		return w.entry(name, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return w.stop(name, err)
	}
	return w.rep.File(plugins.File{Path: name, Size: n, SHA256: h.Sum(nil)})
}
