package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcClient is a Backend over a gRPC connection to a plugin (host side). It
// knows nothing about the plugin process; Client adds that.
type grpcClient struct {
	client pbv1.BackendClient
}

var _ Backend = (*grpcClient)(nil)

// rpcError is the error of one RPC, "Method: what happened".
type rpcError struct {
	method string
	err    error
	// lost is set when the connection to the plugin broke rather than the
	// plugin answering with an error: the plugin process may have died.
	lost bool
}

func (e *rpcError) Error() string { return e.method + ": " + e.err.Error() }
func (e *rpcError) Unwrap() error { return e.err }

// deadlineSlack is how close to ctx's deadline a cancelled call is taken
// to have ended by that deadline.
const deadlineSlack = 100 * time.Millisecond

// rpcErr classifies err, returned by the RPC method under ctx. When ctx is
// done the error is ctx.Err(), so callers can test it with errors.Is.
func rpcErr(ctx context.Context, method string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return &rpcError{method: method, err: ctxErr}
	}
	st, ok := status.FromError(err)
	// gRPC sends the deadline to the plugin, whose side may end the call
	// a moment before ctx's own timer fires: a call cancelled within the
	// last moments of ctx's deadline ended because of it.
	if deadline, has := ctx.Deadline(); has && ok && (st.Code() == codes.Canceled || st.Code() == codes.DeadlineExceeded) && time.Until(deadline) < deadlineSlack {
		select {
		case <-ctx.Done():
			return &rpcError{method: method, err: ctx.Err()}
		case <-time.After(deadlineSlack):
		}
	}
	if !ok {
		return &rpcError{method: method, err: err}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Canceled:
		return &rpcError{method: method, err: fmt.Errorf("connection to the plugin lost: %s", st.Message()), lost: true}
	case codes.Internal:
		if st.Message() != errNoResponse {
			return &rpcError{method: method, err: fmt.Errorf("connection to the plugin lost: %s", st.Message()), lost: true}
		}
	case codes.Unimplemented:
		return &rpcError{method: method, err: fmt.Errorf("the plugin does not implement %s (%s)", method, st.Message())}
	}
	return &rpcError{method: method, err: errors.New(st.Message())}
}

// sendSource encodes a request's source and makes the call with it; the
// error names the method.
func sendSource[R any](ctx context.Context, method string, src Source, call func([]byte) (R, error)) (R, error) {
	var zero R
	js, err := encodeSource(src)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", method, err)
	}
	resp, err := call(js)
	if err != nil {
		return zero, rpcErr(ctx, method, err)
	}
	return resp, nil
}

func (c *grpcClient) Describe(ctx context.Context, _ *DescribeRequest) (*DescribeResponse, error) {
	resp, err := c.client.Describe(ctx, &pbv1.DescribeRequest{})
	if err != nil {
		return nil, rpcErr(ctx, "Describe", err)
	}
	return describeFromPB(resp), nil
}

func (c *grpcClient) ValidateSource(ctx context.Context, req *ValidateSourceRequest) (*ValidateSourceResponse, error) {
	resp, err := sendSource(ctx, "ValidateSource", req.Source, func(src []byte) (*pbv1.ValidateSourceResponse, error) {
		return c.client.ValidateSource(ctx, &pbv1.ValidateSourceRequest{SourceJson: src})
	})
	if err != nil {
		return nil, err
	}
	return &ValidateSourceResponse{Problems: problemsFromPB(resp.GetProblems())}, nil
}

func (c *grpcClient) ListRestorePoints(ctx context.Context, req *ListRestorePointsRequest) (*ListRestorePointsResponse, error) {
	resp, err := sendSource(ctx, "ListRestorePoints", req.Source, func(src []byte) (*pbv1.ListRestorePointsResponse, error) {
		return c.client.ListRestorePoints(ctx, &pbv1.ListRestorePointsRequest{SourceJson: src})
	})
	if err != nil {
		return nil, err
	}
	out := &ListRestorePointsResponse{Problems: problemsFromPB(resp.GetProblems())}
	for _, p := range resp.GetPoints() {
		out.Points = append(out.Points, pointFromPB(p))
	}
	return out, nil
}

// Restore consumes the Restore stream: it hands progress and files to
// events as they arrive and returns the final RestoreResponse. A stream that
// ends without one is an error.
func (c *grpcClient) Restore(ctx context.Context, req *RestoreRequest, events RestoreEvents) (*RestoreResponse, error) {
	const method = "Restore"
	src, err := encodeSource(req.Source)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	if events == nil {
		events = discardEvents{}
	}
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel() // also ends the stream when events refuse more
	stream, err := c.client.Restore(streamCtx, &pbv1.RestoreRequest{
		SourceJson:     src,
		PointId:        []byte(req.PointID),
		Target:         []byte(req.Target),
		MaxBytes:       req.MaxBytes,
		DrillName:      req.DrillName,
		DatabaseChecks: databaseChecksToPB(req.DatabaseChecks),
		Sample:         sampleToPB(req.Sample),
		Newest:         req.Newest,
	})
	if err != nil {
		return nil, rpcErr(ctx, method, err)
	}
	var result *pbv1.RestoreResponse
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, rpcErr(ctx, method, err)
		}
		if result != nil {
			return nil, fmt.Errorf("%s: protocol error: the plugin sent events after the result", method)
		}
		switch e := ev.GetEvent().(type) {
		case *pbv1.RestoreEvent_Progress:
			if err := events.Progress(progressFromPB(e.Progress)); err != nil {
				return nil, fmt.Errorf("%s: report progress: %w", method, err)
			}
		case *pbv1.RestoreEvent_Files:
			files, err := filesFromPB(e.Files.GetFiles())
			if err != nil {
				return nil, fmt.Errorf("%s: protocol error: %w", method, err)
			}
			if err := events.Files(files); err != nil {
				return nil, fmt.Errorf("%s: report files: %w", method, err)
			}
		case *pbv1.RestoreEvent_Scratch:
			if err := events.Scratch(e.Scratch.GetName()); err != nil {
				return nil, fmt.Errorf("%s: record scratch resource %q: %w", method, e.Scratch.GetName(), err)
			}
		case *pbv1.RestoreEvent_Result:
			result = e.Result
		default:
			// An event added by a later revision of protocol v1: this host
			// does not know it and ignores it.
		}
	}
	if result == nil {
		return nil, &rpcError{method: method, err: errors.New("the plugin ended the restore without a result"), lost: true}
	}
	return restoreResponseFromPB(result), nil
}

func (c *grpcClient) Cleanup(ctx context.Context, req *CleanupRequest) (*CleanupResponse, error) {
	_, err := sendSource(ctx, "Cleanup", req.Source, func(src []byte) (*pbv1.CleanupResponse, error) {
		return c.client.Cleanup(ctx, &pbv1.CleanupRequest{SourceJson: src, Target: []byte(req.Target), DrillName: req.DrillName, Scratch: req.Scratch})
	})
	if err != nil {
		return nil, err
	}
	return &CleanupResponse{}, nil
}

// Confine asks the plugin to confine itself. A plugin that does not
// implement the RPC (built against an older revision of protocol v1) is
// not an error: the response says it runs unconfined (NotConfining).
func (c *grpcClient) Confine(ctx context.Context, req *ConfineRequest) (*ConfineResponse, error) {
	src, err := encodeSource(req.Source)
	if err != nil {
		return nil, fmt.Errorf("Confine: %w", err)
	}
	resp, err := c.client.Confine(ctx, &pbv1.ConfineRequest{SourceJson: src, Scratch: []byte(req.Scratch), Temp: []byte(req.Temp)})
	if err != nil {
		if st, ok := status.FromError(err); ok && st.Code() == codes.Unimplemented && ctx.Err() == nil {
			return &ConfineResponse{Summary: NotConfining}, nil
		}
		return nil, rpcErr(ctx, "Confine", err)
	}
	return confineFromPB(resp), nil
}

// filesFromPB converts a batch of files and refuses what the host must not
// act on: a path that is absolute, unclean or leads out of the target, a
// negative size, a digest that is not SHA-256 sized.
func filesFromPB(in []*pbv1.File) ([]File, error) {
	out := make([]File, 0, len(in))
	for _, f := range in {
		p := string(f.GetPath())
		if err := checkFilePath(p); err != nil {
			return nil, fmt.Errorf("the plugin reported file %q: %w", p, err)
		}
		if f.GetSize() < 0 {
			return nil, fmt.Errorf("the plugin reported file %q with size %d", p, f.GetSize())
		}
		sum := f.GetSha256()
		if len(sum) == 0 {
			sum = nil
		} else if len(sum) != 32 {
			return nil, fmt.Errorf("the plugin reported file %q with a %d-byte sha256", p, len(sum))
		}
		out = append(out, File{Path: p, Size: f.GetSize(), SHA256: sum})
	}
	return out, nil
}

// checkFilePath accepts a relative, slash-separated, clean path that stays
// below the target.
func checkFilePath(p string) error {
	switch {
	case p == "" || p == ".":
		return errors.New("empty path")
	case path.IsAbs(p):
		return errors.New("absolute path")
	case strings.IndexByte(p, 0) >= 0:
		return errors.New("path contains a NUL byte")
	case path.Clean(p) != p:
		return errors.New("path is not clean (empty, . or .. elements, or a trailing slash)")
	case p == ".." || strings.HasPrefix(p, "../"):
		return errors.New("path leads out of the target")
	}
	return nil
}

type discardEvents struct{}

func (discardEvents) Progress(Progress) error { return nil }
func (discardEvents) Files([]File) error      { return nil }
func (discardEvents) Scratch(string) error    { return nil }
