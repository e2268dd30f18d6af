// Package testbackend is a small, deterministic in-memory Backend for tests
// of the plugin protocol: each restore point is a fixed set of files
// generated from its number, written into Target and reported with
// digests. Fields inject faults (a crash, a hang) for the test plugin.
package testbackend

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/drillhq/drill/plugins"
)

// Backend is the test backend. Its source keys:
//
//	name     string, required: a label
//	points   int: how many restore points there are (default 2; 0: none)
//	files    int: files per restore point (default 3)
//	damaged  bool: the newest point is damaged (its last file is missing)
//	probe    bool: after restoring, try what a confined plugin must not do
//	         and what it must still do (see Probe), each outcome a problem
//	source_file, forbidden_file, outside, allowed_port, denied_port: Probe's
//	         targets; source_file and allowed_port are the backend's
//	         declared needs (Sandbox)
//
// Restore point IDs and some file names are deliberately invalid UTF-8.
type Backend struct {
	// Logger, when set, logs a line per RPC.
	Logger *slog.Logger
	// Environ reports os.Environ() in RestoreResponse.Details["environ"],
	// the variables separated by NUL bytes.
	Environ bool
	// AfterFirstFile runs right after the first file was reported (the
	// crash mode kills the process there).
	AfterFirstFile func()
	// Hang makes Restore block forever, ignoring its context.
	Hang bool
}

var _ plugins.Backend = (*Backend)(nil)

// Epoch is the time of restore point 1; point n is n hours later.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func (b *Backend) log(msg string, args ...any) {
	if b.Logger != nil {
		b.Logger.Info(msg, args...)
	}
}

// Describe implements plugins.Backend.
func (b *Backend) Describe(context.Context, *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: "test", Version: "1.0.0", Kind: plugins.KindFiles, SourceKeys: plugins.Keys(config{})}, nil
}

// config is a test source: its tagged fields are the source keys
// (plugins.Keys, plugins.Decode), the others are derived from them.
type config struct {
	name    string `source:"name,required" doc:"a label"`
	points  int64  `source:"points" doc:"number of restore points (default 2)"`
	files   int64  `source:"files" doc:"files per restore point (default 3)"`
	damaged bool   `source:"damaged" doc:"the newest point is damaged"`
	gate    string `source:"gate" doc:"Restore writes its files, then waits (reporting progress, minding its context) until this file exists"`
	delay   string `source:"cleanup_delay" doc:"Cleanup takes this long (a Go duration), minding its context"`
	// cleanupDelay is how long Cleanup takes, parsed from delay.
	cleanupDelay  time.Duration
	probe         bool   `source:"probe" doc:"after restoring, probe the sandbox (see Probe)"`
	sourceFile    string `source:"source_file,path" doc:"a file the backend declares it reads"`
	forbiddenFile string `source:"forbidden_file,path" doc:"a file outside the sources Probe tries to read"`
	outside       string `source:"outside,path" doc:"a folder outside scratch Probe tries to write into"`
	allowedPort   int64  `source:"allowed_port" doc:"a TCP port on 127.0.0.1 the backend declares it connects to"`
	deniedPort    int64  `source:"denied_port" doc:"a TCP port on 127.0.0.1 Probe tries to connect to"`
	probes        probeTargets
}

func parse(src plugins.Source) (config, []plugins.Problem) {
	c := config{points: 2, files: 3}
	if probs := plugins.Decode(src, &c); len(probs) > 0 {
		return c, probs
	}
	var probs []plugins.Problem
	bad := func(key, format string, args ...any) {
		probs = append(probs, plugins.Problem{Kind: plugins.ProblemError, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	for k, n := range map[string]int64{"points": c.points, "files": c.files} {
		if n < 0 {
			bad(k, "%s must be a non-negative integer, not %d", k, n)
		}
	}
	if c.gate != "" && !filepath.IsAbs(c.gate) {
		bad("gate", "gate must be an absolute path, not %q", c.gate)
	}
	if c.delay != "" {
		d, err := time.ParseDuration(c.delay)
		if err != nil {
			bad("cleanup_delay", "cleanup_delay must be a duration such as 30s, not %q", c.delay)
		}
		c.cleanupDelay = d
	}
	for k, p := range map[string]string{"source_file": c.sourceFile, "forbidden_file": c.forbiddenFile, "outside": c.outside} {
		if p != "" && !filepath.IsAbs(p) {
			bad(k, "%s must be an absolute path, not %q", k, p)
		}
	}
	for k, n := range map[string]int64{"allowed_port": c.allowedPort, "denied_port": c.deniedPort} {
		if _, set := src[k]; set && (n <= 0 || n > 65535) {
			bad(k, "%s must be a TCP port, not %d", k, n)
		}
	}
	c.probes = probeTargets{sourceFile: c.sourceFile, secret: c.forbiddenFile, outside: c.outside,
		allowedPort: int(c.allowedPort), deniedPort: int(c.deniedPort)}
	return c, probs
}

// ValidateSource implements plugins.Backend.
func (b *Backend) ValidateSource(_ context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	_, probs := parse(req.Source)
	return &plugins.ValidateSourceResponse{Problems: probs}, nil
}

func pointID(n int64) string { return fmt.Sprintf("point-%d-\xff", n) }

// Point returns restore point n of a source with files files.
func Point(n, files int64) plugins.RestorePoint {
	var size int64
	for i := range files {
		size += int64(len(content(n, i)))
	}
	return plugins.RestorePoint{
		ID:          pointID(n),
		Time:        Epoch.Add(time.Duration(n) * time.Hour),
		Size:        size,
		Files:       files,
		Description: fmt.Sprintf("test point %d", n),
	}
}

// ListRestorePoints implements plugins.Backend.
func (b *Backend) ListRestorePoints(_ context.Context, req *plugins.ListRestorePointsRequest) (*plugins.ListRestorePointsResponse, error) {
	c, probs := parse(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	resp := &plugins.ListRestorePointsResponse{}
	for n := c.points; n >= 1; n-- {
		resp.Points = append(resp.Points, Point(n, c.files))
	}
	return resp, nil
}

// fileName is the name of file i: nested, and every third one invalid
// UTF-8 with a newline in it.
func fileName(i int64) string {
	switch i % 3 {
	case 0:
		return fmt.Sprintf("file-%d.txt", i)
	case 1:
		return fmt.Sprintf("dir/file-%d.bin", i)
	default:
		return fmt.Sprintf("dir/sub/odd-\xfe\n-%d", i)
	}
}

func content(n, i int64) string {
	if i == 0 {
		return "" // an empty file
	}
	return strings.Repeat(fmt.Sprintf("point %d file %d\n", n, i), int(i*7))
}

// Restore implements plugins.Backend.
func (b *Backend) Restore(ctx context.Context, req *plugins.RestoreRequest, events plugins.RestoreEvents) (*plugins.RestoreResponse, error) {
	if b.Hang {
		for {
			time.Sleep(time.Hour)
		}
	}
	c, probs := parse(req.Source)
	if len(probs) > 0 {
		return nil, fmt.Errorf("invalid source: %s", probs[0].Message)
	}
	b.log("restore", "name", c.name, "point", req.PointID, "target", req.Target)
	resp := &plugins.RestoreResponse{Details: map[string]string{"test_backend": "1.0.0"}}
	if b.Environ {
		resp.Details["environ"] = strings.Join(os.Environ(), "\x00")
	}
	var n int64
	for i := c.points; i >= 1; i-- {
		if pointID(i) == req.PointID {
			n = i
		}
	}
	if n == 0 {
		resp.Point = plugins.RestorePoint{ID: req.PointID, Size: -1, Files: -1}
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Message: fmt.Sprintf("restore point %q does not exist", req.PointID)})
		return resp, nil
	}
	resp.Point = Point(n, c.files)
	if req.MaxBytes > 0 && resp.Point.Size > req.MaxBytes {
		resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemError, Message: fmt.Sprintf("restore needs %d bytes, more than the limit of %d", resp.Point.Size, req.MaxBytes)})
		return resp, nil
	}
	damaged := c.damaged && n == c.points
	p := plugins.Progress{FilesTotal: c.files, BytesTotal: resp.Point.Size}
	if err := events.Progress(p); err != nil {
		return nil, err
	}
	for i := range c.files {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("restore %s: %w", req.PointID, err)
		}
		name := fileName(i)
		if damaged && i == c.files-1 {
			resp.Problems = append(resp.Problems, plugins.Problem{Kind: plugins.ProblemFail, Path: name, Message: "file is truncated in the backup"})
			continue
		}
		data := content(n, i)
		if err := writeFile(req.Target, name, data, events); err != nil {
			return nil, err
		}
		if i == 0 && b.AfterFirstFile != nil {
			b.AfterFirstFile()
		}
		resp.Files++
		resp.Bytes += int64(len(data))
		p.FilesDone, p.BytesDone = resp.Files, resp.Bytes
		if err := events.Progress(p); err != nil {
			return nil, err
		}
	}
	if c.probe {
		resp.Problems = append(resp.Problems, Probe(req.Target, c.probes)...)
	}
	if c.gate != "" {
		if err := waitGate(ctx, c.gate, events, p); err != nil {
			return nil, fmt.Errorf("restore %s: %w", req.PointID, err)
		}
	}
	return resp, nil
}

// writeFile writes one file of a restore point below target and reports
// it.
func writeFile(target, name, data string, events plugins.RestoreEvents) error {
	full := filepath.Join(target, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(full), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(full, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(data))
	return events.Files([]plugins.File{{Path: name, Size: int64(len(data)), SHA256: sum[:]}})
}

// waitGate waits until the file gate exists or ctx ends, reporting
// progress every 100 ms so that the host sees the restore alive.
func waitGate(ctx context.Context, gate string, events plugins.RestoreEvents, p plugins.Progress) error {
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		if _, err := os.Stat(gate); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if err := events.Progress(p); err != nil {
			return err
		}
	}
}

// Cleanup implements plugins.Backend; the test backend creates nothing
// outside Target. It takes the source's cleanup_delay, or until ctx ends.
func (b *Backend) Cleanup(ctx context.Context, req *plugins.CleanupRequest) (*plugins.CleanupResponse, error) {
	if c, _ := parse(req.Source); c.cleanupDelay > 0 {
		select {
		case <-time.After(c.cleanupDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return &plugins.CleanupResponse{}, nil
}
