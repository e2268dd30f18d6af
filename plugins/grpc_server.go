package plugins

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Batching of the Restore stream. A backend may report files one at a time
// or a million at once; the stream carries them in messages of at most
// maxBatchFiles files and about maxBatchBytes bytes (well below gRPC's
// default 4 MiB message limit even for 4 KiB paths), and flushes a partial
// batch after filesFlushInterval so the host sees files as they come.
// Progress is sent at most every progressInterval; the latest value is never
// lost (it is sent before the result).
const (
	maxBatchFiles      = 1000
	maxBatchBytes      = 1 << 20
	fileOverheadBytes  = 64 // size, digest and framing per file
	filesFlushInterval = 250 * time.Millisecond
	progressInterval   = 100 * time.Millisecond
)

// errNoResponse is what a plugin reports when its Backend returned neither
// a response nor an error.
const errNoResponse = "backend returned neither a response nor an error"

// grpcServer serves a Backend as the protocol's gRPC service (plugin side).
type grpcServer struct {
	pbv1.UnimplementedBackendServer
	impl    Backend
	confine confineState
}

var _ pbv1.BackendServer = (*grpcServer)(nil)

// toStatus turns a Backend error into a gRPC status the host can read:
// codes.Unknown with the error's text. Context errors get no code of their
// own: on the host, codes.Canceled and codes.Unavailable mean the connection
// was lost, and a call whose own context is done reports that context's
// error whatever the plugin said.
func toStatus(err error) error {
	return status.Error(codes.Unknown, err.Error())
}

// serveSource decodes a request's source, calls the backend with it and
// maps what goes wrong onto a status: a source that does not decode, the
// backend's error, no response and no error.
func serveSource[R any](sourceJSON []byte, call func(Source) (*R, error)) (*R, error) {
	src, err := decodeSource(sourceJSON)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := call(src)
	if err != nil {
		return nil, toStatus(err)
	}
	if resp == nil {
		return nil, status.Error(codes.Internal, errNoResponse)
	}
	return resp, nil
}

func (s *grpcServer) Describe(ctx context.Context, _ *pbv1.DescribeRequest) (*pbv1.DescribeResponse, error) {
	resp, err := s.impl.Describe(ctx, &DescribeRequest{})
	if err != nil {
		return nil, toStatus(err)
	}
	if resp == nil {
		return nil, status.Error(codes.Internal, errNoResponse)
	}
	return describeToPB(resp), nil
}

func (s *grpcServer) ValidateSource(ctx context.Context, req *pbv1.ValidateSourceRequest) (*pbv1.ValidateSourceResponse, error) {
	resp, err := serveSource(req.GetSourceJson(), func(src Source) (*ValidateSourceResponse, error) {
		return s.impl.ValidateSource(ctx, &ValidateSourceRequest{Source: src})
	})
	if err != nil {
		return nil, err
	}
	return &pbv1.ValidateSourceResponse{Problems: problemsToPB(resp.Problems)}, nil
}

func (s *grpcServer) ListRestorePoints(ctx context.Context, req *pbv1.ListRestorePointsRequest) (*pbv1.ListRestorePointsResponse, error) {
	resp, err := serveSource(req.GetSourceJson(), func(src Source) (*ListRestorePointsResponse, error) {
		return s.impl.ListRestorePoints(ctx, &ListRestorePointsRequest{Source: src})
	})
	if err != nil {
		return nil, err
	}
	out := &pbv1.ListRestorePointsResponse{Problems: problemsToPB(resp.Problems)}
	for _, p := range resp.Points {
		out.Points = append(out.Points, pointToPB(p))
	}
	return out, nil
}

func (s *grpcServer) Restore(req *pbv1.RestoreRequest, stream grpc.ServerStreamingServer[pbv1.RestoreEvent]) error {
	src, err := decodeSource(req.GetSourceJson())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	sample, err := sampleFromPB(req.GetSample())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	events := newStreamEvents(stream.Send, time.Now)
	resp, err := s.impl.Restore(stream.Context(), &RestoreRequest{
		Source:         src,
		PointID:        string(req.GetPointId()),
		Target:         string(req.GetTarget()),
		MaxBytes:       req.GetMaxBytes(),
		DrillName:      req.GetDrillName(),
		DatabaseChecks: databaseChecksFromPB(req.GetDatabaseChecks()),
		Sample:         sample,
		Newest:         req.GetNewest(),
	}, events)
	// Files reported before a failure still reach the host; after this the
	// events refuse further calls (the stream is finished).
	flushErr := events.finish()
	if err != nil {
		return toStatus(err)
	}
	if resp == nil {
		return status.Error(codes.Internal, errNoResponse)
	}
	if flushErr != nil {
		return flushErr
	}
	return stream.Send(&pbv1.RestoreEvent{
		Event: &pbv1.RestoreEvent_Result{Result: restoreResponseToPB(resp)},
	})
}

func (s *grpcServer) Cleanup(ctx context.Context, req *pbv1.CleanupRequest) (*pbv1.CleanupResponse, error) {
	src, err := decodeSource(req.GetSourceJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	_, err = s.impl.Cleanup(ctx, &CleanupRequest{
		Source:    src,
		Target:    string(req.GetTarget()),
		DrillName: req.GetDrillName(),
		Scratch:   req.GetScratch(),
	})
	if err != nil {
		return nil, toStatus(err)
	}
	return &pbv1.CleanupResponse{}, nil
}

// Confine confines the plugin process (see confineState.confine).
func (s *grpcServer) Confine(ctx context.Context, req *pbv1.ConfineRequest) (*pbv1.ConfineResponse, error) {
	src, err := decodeSource(req.GetSourceJson())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	resp, err := s.confine.confine(ctx, s.impl, &ConfineRequest{Source: src, Scratch: string(req.GetScratch()), Temp: string(req.GetTemp())})
	if err != nil {
		return nil, toStatus(err)
	}
	return confineToPB(resp), nil
}

// streamEvents implements RestoreEvents on the plugin side: it batches files
// and throttles progress onto the Restore stream.
type streamEvents struct {
	send func(*pbv1.RestoreEvent) error
	now  func() time.Time

	mu           sync.Mutex
	files        []*pbv1.File
	fileBytes    int
	lastFiles    time.Time
	progress     *pbv1.Progress // latest progress not yet sent
	lastProgress time.Time
	finished     bool
	err          error // the first send error; sticky
}

var _ RestoreEvents = (*streamEvents)(nil)

func newStreamEvents(send func(*pbv1.RestoreEvent) error, now func() time.Time) *streamEvents {
	return &streamEvents{send: send, now: now}
}

// errEventsFinished is returned to a backend that reports events after its
// Restore returned.
var errEventsFinished = errors.New("restore events reported after Restore returned")

func (e *streamEvents) Progress(p Progress) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(); err != nil {
		return err
	}
	e.progress = progressToPB(p)
	if now := e.now(); now.Sub(e.lastProgress) >= progressInterval {
		// Files first, so the host never sees progress ahead of files that
		// were reported before it.
		e.flushFiles(now)
		e.flushProgress(now)
	}
	return e.err
}

func (e *streamEvents) Files(files []File) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(); err != nil {
		return err
	}
	for _, f := range files {
		e.files = append(e.files, fileToPB(f))
		e.fileBytes += len(f.Path) + fileOverheadBytes
		if len(e.files) >= maxBatchFiles || e.fileBytes >= maxBatchBytes {
			e.flushFiles(e.now())
			if e.err != nil {
				return e.err
			}
		}
	}
	if now := e.now(); len(e.files) > 0 && now.Sub(e.lastFiles) >= filesFlushInterval {
		e.flushFiles(now)
	}
	return e.err
}

// Scratch sends the announcement at once, after the files before it, so
// the host has it before the resource exists.
func (e *streamEvents) Scratch(name string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err := e.usable(); err != nil {
		return err
	}
	e.flushFiles(e.now())
	e.sendEvent(&pbv1.RestoreEvent{Event: &pbv1.RestoreEvent_Scratch{Scratch: &pbv1.Scratch{Name: text(name)}}})
	return e.err
}

func (e *streamEvents) usable() error {
	if e.finished {
		return errEventsFinished
	}
	return e.err
}

// finish sends everything still pending and refuses further events.
func (e *streamEvents) finish() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.finished {
		return e.err
	}
	now := e.now()
	e.flushFiles(now)
	e.flushProgress(now)
	e.finished = true
	return e.err
}

func (e *streamEvents) flushFiles(now time.Time) {
	if e.err != nil || len(e.files) == 0 {
		return
	}
	e.lastFiles = now
	batch := e.files
	e.files, e.fileBytes = nil, 0
	e.sendEvent(&pbv1.RestoreEvent{Event: &pbv1.RestoreEvent_Files{Files: &pbv1.FileBatch{Files: batch}}})
}

func (e *streamEvents) flushProgress(now time.Time) {
	if e.err != nil || e.progress == nil {
		return
	}
	e.lastProgress = now
	p := e.progress
	e.progress = nil
	e.sendEvent(&pbv1.RestoreEvent{Event: &pbv1.RestoreEvent_Progress{Progress: p}})
}

func (e *streamEvents) sendEvent(ev *pbv1.RestoreEvent) {
	if err := e.send(ev); err != nil {
		e.err = fmt.Errorf("send restore events to the host: %w", err)
	}
}
