package plugins

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

func TestSourceRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		in   Source
		want Source // nil: same as in
	}{
		{"empty", Source{}, nil},
		{"types", Source{
			"path":    "/backups/pg/billing-*.dump",
			"tags":    []string{"a", "b"},
			"none":    []string{},
			"n":       int64(1000),
			"big":     int64(1 << 62),
			"neg":     int64(-5),
			"f":       1.5,
			"whole":   3.0, // stays a float64, not an int64
			"tiny":    1e-300,
			"huge":    1e300,
			"enabled": true,
			"unicode": "héllo \u2603 \"quoted\" <tag> \\ \n",
			"nil":     nil,
		}, nil},
		{"widened", Source{"i": 7, "u": uint32(9), "f32": float32(0.5), "list": []any{"x", "y"}},
			Source{"i": int64(7), "u": int64(9), "f32": 0.5, "list": []string{"x", "y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := encodeSource(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeSource(data)
			if err != nil {
				t.Fatalf("decode %s: %v", data, err)
			}
			want := tt.want
			if want == nil {
				want = tt.in
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip through %s:\n got %#v\nwant %#v", data, got, want)
			}
		})
	}
}

func TestEncodeSourceRefuses(t *testing.T) {
	tests := []struct {
		name string
		in   Source
		want string
	}{
		{"invalid utf-8", Source{"path": "/x/\xff"}, `source key "path": value "/x/\xff" is not valid UTF-8`},
		{"invalid utf-8 in list", Source{"paths": []string{"ok", "\xfe"}}, `source key "paths": value "\xfe" is not valid UTF-8`},
		{"map", Source{"m": map[string]any{}}, `source key "m": unsupported value type map[string]interface {}`},
		{"nan", Source{"x": 0.0 * func() float64 { var z float64; return 1 / z }()}, `source key "x": number NaN cannot be encoded`},
		{"mixed list", Source{"l": []any{"a", 1}}, `source key "l": list element 1 is a int, want a string`},
		{"uint64 overflow", Source{"u": uint64(1 << 63)}, `does not fit in an int64`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := encodeSource(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("encodeSource: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestDecodeSourceRefuses(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"a":{"b":1}}`, `{"a":[1]}`, `{"a":1} {}`, `{"a":99999999999999999999}`} {
		if src, err := decodeSource([]byte(in)); err == nil {
			t.Errorf("decodeSource(%s) = %#v, want an error", in, src)
		}
	}
}

func FuzzSourceJSON(f *testing.F) {
	f.Add([]byte(`{"a":"b","n":1,"f":1.0,"l":["x"],"t":true,"z":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := decodeSource(data)
		if err != nil {
			return
		}
		// What decodes must encode and decode to the same thing.
		again, err := encodeSource(src)
		if err != nil {
			t.Fatalf("encode decoded %q: %v", data, err)
		}
		src2, err := decodeSource(again)
		if err != nil {
			t.Fatalf("decode re-encoded %q: %v", again, err)
		}
		if !reflect.DeepEqual(src, src2) {
			t.Fatalf("%q: %#v != %#v", data, src, src2)
		}
	})
}

// sent records the events a streamEvents sends.
type sent struct{ events []*pbv1.RestoreEvent }

func (s *sent) send(ev *pbv1.RestoreEvent) error {
	s.events = append(s.events, ev)
	return nil
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func TestStreamEventsBatchesFiles(t *testing.T) {
	var s sent
	clock := &fakeClock{t: time.Unix(1000, 0)}
	ev := newStreamEvents(s.send, clock.now)
	files := make([]File, 2500)
	for i := range files {
		files[i] = File{Path: "f", Size: int64(i)}
	}
	if err := ev.Files(files); err != nil {
		t.Fatal(err)
	}
	// A big batch goes out in messages of maxBatchFiles; the rest waits
	// for the flush interval to pass since the last message.
	var got []int
	for _, e := range s.events {
		got = append(got, len(e.GetFiles().GetFiles()))
	}
	if want := []int{1000, 1000}; !reflect.DeepEqual(got, want) {
		t.Errorf("batches %v, want %v", got, want)
	}

	// Within the interval, single files accumulate.
	s.events = nil
	for range 10 {
		if err := ev.Files([]File{{Path: "g"}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.events) != 0 {
		t.Errorf("%d messages sent within the flush interval, want 0", len(s.events))
	}
	clock.t = clock.t.Add(filesFlushInterval)
	if err := ev.Files([]File{{Path: "g"}}); err != nil {
		t.Fatal(err)
	}
	if len(s.events) != 1 || len(s.events[0].GetFiles().GetFiles()) != 511 {
		t.Errorf("after the interval: %d messages, want one batch of 511", len(s.events))
	}

	// Long paths: batches are bounded by size too.
	s.events = nil
	long := strings.Repeat("p", 4000)
	for range 600 {
		if err := ev.Files([]File{{Path: long}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range s.events {
		n := 0
		for _, f := range e.GetFiles().GetFiles() {
			n += len(f.GetPath()) + fileOverheadBytes
		}
		if n > maxBatchBytes+len(long)+fileOverheadBytes {
			t.Errorf("a batch of %d bytes, want at most about %d", n, maxBatchBytes)
		}
	}
	if len(s.events) == 0 {
		t.Error("600 files of 4000-byte paths were not sent in size-bounded batches")
	}

	// finish sends the rest and then refuses events.
	if err := ev.finish(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, e := range s.events {
		total += len(e.GetFiles().GetFiles())
	}
	if total != 600 {
		t.Errorf("%d long files sent in all, want 600", total)
	}
	if err := ev.Files([]File{{Path: "late"}}); !errors.Is(err, errEventsFinished) {
		t.Errorf("Files after finish: %v, want errEventsFinished", err)
	}
}

func TestStreamEventsThrottlesProgress(t *testing.T) {
	var s sent
	clock := &fakeClock{t: time.Unix(1000, 0)}
	ev := newStreamEvents(s.send, clock.now)
	for i := range 100 {
		if err := ev.Progress(Progress{BytesDone: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.events) != 1 {
		t.Errorf("%d progress messages within one interval, want 1", len(s.events))
	}
	if err := ev.Files([]File{{Path: "a"}}); err != nil {
		t.Fatal(err)
	}
	clock.t = clock.t.Add(progressInterval)
	if err := ev.Progress(Progress{BytesDone: 100}); err != nil {
		t.Fatal(err)
	}
	if err := ev.Progress(Progress{BytesDone: 101}); err != nil {
		t.Fatal(err)
	}
	if err := ev.finish(); err != nil {
		t.Fatal(err)
	}
	// The first progress; the file before the progress that follows it;
	// that progress; the latest progress, sent by finish.
	var got []string
	for _, e := range s.events {
		switch x := e.GetEvent().(type) {
		case *pbv1.RestoreEvent_Progress:
			got = append(got, "progress "+strconv.FormatInt(x.Progress.GetBytesDone(), 10))
		case *pbv1.RestoreEvent_Files:
			got = append(got, "files "+strconv.FormatInt(int64(len(x.Files.GetFiles())), 10))
		}
	}
	want := []string{"progress 0", "files 1", "progress 100", "progress 101"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestCheckFilePath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"a", true},
		{"a/b/c.txt", true},
		{"odd-\xff\n name", true},
		{"..a/b", true},
		{"", false},
		{".", false},
		{"/etc/passwd", false},
		{"../x", false},
		{"..", false},
		{"a/../../x", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{"a\x00b", false},
	}
	for _, tt := range tests {
		err := checkFilePath(tt.path)
		if (err == nil) != tt.ok {
			t.Errorf("checkFilePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}

func TestProblemKindsFromPB(t *testing.T) {
	in := []*pbv1.Problem{
		{Kind: pbv1.ProblemKind_PROBLEM_KIND_FAIL, Path: []byte("a\xff"), Message: "truncated"},
		{Kind: pbv1.ProblemKind_PROBLEM_KIND_ERROR, Key: "server"},
		{Kind: pbv1.ProblemKind_PROBLEM_KIND_UNSPECIFIED},
		{Kind: pbv1.ProblemKind(42)},
	}
	got := problemsFromPB(in)
	want := []Problem{
		{Kind: ProblemFail, Path: "a\xff", Message: "truncated"},
		{Kind: ProblemError, Key: "server"},
		{Kind: ProblemError},
		{Kind: ProblemError},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problemsFromPB:\n got %+v\nwant %+v", got, want)
	}
}

// rawServer is a protocol server with hand-written, possibly wrong,
// Restore streams.
type rawServer struct {
	pbv1.UnimplementedBackendServer
	events []*pbv1.RestoreEvent
}

func (s *rawServer) Restore(_ *pbv1.RestoreRequest, stream grpc.ServerStreamingServer[pbv1.RestoreEvent]) error {
	for _, e := range s.events {
		if err := stream.Send(e); err != nil {
			return err
		}
	}
	return nil
}

func rawClient(t *testing.T, srv pbv1.BackendServer) *grpcClient {
	t.Helper()
	conn, server := plugin.TestGRPCConn(t, func(s *grpc.Server) { pbv1.RegisterBackendServer(s, srv) })
	t.Cleanup(func() {
		_ = conn.Close()
		server.Stop()
	})
	return &grpcClient{client: pbv1.NewBackendClient(conn)}
}

func TestRestoreStreamViolations(t *testing.T) {
	progress := &pbv1.RestoreEvent{Event: &pbv1.RestoreEvent_Progress{Progress: &pbv1.Progress{BytesDone: 1}}}
	result := &pbv1.RestoreEvent{Event: &pbv1.RestoreEvent_Result{Result: &pbv1.RestoreResponse{Files: 0}}}
	files := func(fs ...*pbv1.File) *pbv1.RestoreEvent {
		return &pbv1.RestoreEvent{Event: &pbv1.RestoreEvent_Files{Files: &pbv1.FileBatch{Files: fs}}}
	}
	tests := []struct {
		name   string
		events []*pbv1.RestoreEvent
		want   string // "" means success
	}{
		{"ok", []*pbv1.RestoreEvent{progress, result}, ""},
		{"unknown event ignored", []*pbv1.RestoreEvent{{}, result}, ""},
		{"no result", []*pbv1.RestoreEvent{progress}, "Restore: the plugin ended the restore without a result"},
		{"nothing", nil, "Restore: the plugin ended the restore without a result"},
		{"event after result", []*pbv1.RestoreEvent{result, progress}, "Restore: protocol error: the plugin sent events after the result"},
		{"escaping path", []*pbv1.RestoreEvent{files(&pbv1.File{Path: []byte("../etc/passwd")}), result},
			`Restore: protocol error: the plugin reported file "../etc/passwd": path leads out of the target`},
		{"absolute path", []*pbv1.RestoreEvent{files(&pbv1.File{Path: []byte("/etc/passwd")}), result},
			`Restore: protocol error: the plugin reported file "/etc/passwd": absolute path`},
		{"short digest", []*pbv1.RestoreEvent{files(&pbv1.File{Path: []byte("a"), Sha256: []byte{1, 2}}), result},
			`Restore: protocol error: the plugin reported file "a" with a 2-byte sha256`},
		{"negative size", []*pbv1.RestoreEvent{files(&pbv1.File{Path: []byte("a"), Size: -1}), result},
			`Restore: protocol error: the plugin reported file "a" with size -1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawClient(t, &rawServer{events: tt.events})
			resp, err := c.Restore(t.Context(), &RestoreRequest{Target: "/t"}, nil)
			if tt.want == "" {
				if err != nil || resp == nil {
					t.Errorf("Restore: %v, %v; want a response", resp, err)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Errorf("Restore: %v, want %q", err, tt.want)
			}
		})
	}
}

// errBackend fails every call with its error.
type errBackend struct{ err error }

func (b errBackend) Describe(context.Context, *DescribeRequest) (*DescribeResponse, error) {
	return nil, b.err
}
func (b errBackend) ValidateSource(context.Context, *ValidateSourceRequest) (*ValidateSourceResponse, error) {
	return nil, b.err
}
func (b errBackend) ListRestorePoints(context.Context, *ListRestorePointsRequest) (*ListRestorePointsResponse, error) {
	return nil, b.err
}
func (b errBackend) Restore(context.Context, *RestoreRequest, RestoreEvents) (*RestoreResponse, error) {
	return nil, b.err
}
func (b errBackend) Cleanup(context.Context, *CleanupRequest) (*CleanupResponse, error) {
	return nil, b.err
}

func TestBackendErrorsReachTheHost(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"plain", errors.New(`open /backups/x\xff.tar: permission denied`), `open /backups/x\xff.tar: permission denied`},
		{"context", context.DeadlineExceeded, "context deadline exceeded"},
		{"no response", nil, errNoResponse},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawClient(t, &grpcServer{impl: errBackend{tt.err}})
			ctx := t.Context()
			src := Source{"k": "v"}
			calls := map[string]func() error{
				"Describe": func() error { _, err := c.Describe(ctx, &DescribeRequest{}); return err },
				"ValidateSource": func() error {
					_, err := c.ValidateSource(ctx, &ValidateSourceRequest{Source: src})
					return err
				},
				"ListRestorePoints": func() error {
					_, err := c.ListRestorePoints(ctx, &ListRestorePointsRequest{Source: src})
					return err
				},
				"Restore": func() error { _, err := c.Restore(ctx, &RestoreRequest{Source: src}, nil); return err },
			}
			for method, call := range calls {
				err := call()
				if want := method + ": " + tt.want; err == nil || err.Error() != want {
					t.Errorf("%s: %v, want %q", method, err, want)
				}
				var re *rpcError
				if errors.As(err, &re) && re.lost {
					t.Errorf("%s: a plugin's error was taken for a lost connection", method)
				}
			}
		})
	}
}

// TestPluginLoggerLines checks that what PluginLogger writes is what the
// host parses back into leveled records with attributes.
func TestPluginLoggerLines(t *testing.T) {
	var out bytes.Buffer
	pl := slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug, ReplaceAttr: hclogJSONAttr}))
	pl.Warn("disk almost full", "free", 12, "path", "/srv")
	pl.Debug("detail")

	h := &captureHandler{}
	w := &logWriter{l: slog.New(h), level: slog.LevelInfo}
	if _, err := w.Write(out.Bytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("plain line\npartial")); err != nil {
		t.Fatal(err)
	}
	got := h.lines()
	want := []string{
		"WARN disk almost full free=12 path=/srv",
		"DEBUG detail",
		"INFO plain line",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("host records:\n got %q\nwant %q", got, want)
	}

	// The @timestamp is in the one format go-plugin's stderr parser takes.
	line, _, _ := bytes.Cut(out.Bytes(), []byte("\n"))
	if !bytes.Contains(line, []byte(`"@timestamp":"`)) {
		t.Fatalf("no @timestamp in %s", line)
	}
	ts := line[bytes.Index(line, []byte(`"@timestamp":"`))+len(`"@timestamp":"`):]
	ts = ts[:bytes.IndexByte(ts, '"')]
	if _, err := time.Parse(hclogTimeFormat, string(ts)); err != nil {
		t.Errorf("@timestamp %q: %v", ts, err)
	}
}

func TestHCLogAdapterLevels(t *testing.T) {
	h := &captureHandler{}
	a := newHCLogAdapter(slog.New(h), "drill-mybackend")
	a.Error("plugin process exited", "error", "exit status 1")           // go-plugin's own: debug at most
	a.Named("drill-mybackend").Warn("from the plugin", "timestamp", "x") // the plugin's stderr: kept
	a.Named("stdio").Error("stdio chatter")
	got := h.lines()
	want := []string{
		"DEBUG plugin process exited error=exit status 1",
		"WARN from the plugin",
		"DEBUG stdio chatter",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("records:\n got %q\nwant %q", got, want)
	}
	if got := a.GetLevel(); got != hclog.Trace {
		t.Errorf("GetLevel = %v, want Trace for a handler that takes everything", got)
	}
}

// captureHandler renders records as "LEVEL msg k=v ...".
type captureHandler struct {
	mu  sync.Mutex
	out []string
}

func (h *captureHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *captureHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *captureHandler) WithGroup(string) slog.Handler            { return h }
func (h *captureHandler) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += " " + a.Key + "=" + a.Value.String()
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out = append(h.out, s)
	return nil
}

func (h *captureHandler) lines() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.out...)
}
