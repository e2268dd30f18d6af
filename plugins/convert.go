package plugins

import (
	"fmt"

	"strings"
	"time"

	pbv1 "github.com/drillhq/drill/plugins/internal/pb/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Conversions between the public Go types and the protocol's messages.
// Human-readable strings are made valid UTF-8 on the way out (protobuf
// refuses to marshal anything else); paths and IDs travel as bytes and are
// never altered.

func text(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

var kindToPB = map[Kind]pbv1.Kind{
	KindFiles:    pbv1.Kind_KIND_FILES,
	KindDatabase: pbv1.Kind_KIND_DATABASE,
}

var kindFromPB = map[pbv1.Kind]Kind{
	pbv1.Kind_KIND_FILES:    KindFiles,
	pbv1.Kind_KIND_DATABASE: KindDatabase,
}

var keyTypeToPB = map[KeyType]pbv1.KeyType{
	TypeString:   pbv1.KeyType_KEY_TYPE_STRING,
	TypePath:     pbv1.KeyType_KEY_TYPE_PATH,
	TypeGlob:     pbv1.KeyType_KEY_TYPE_GLOB,
	TypeStrings:  pbv1.KeyType_KEY_TYPE_STRINGS,
	TypeBool:     pbv1.KeyType_KEY_TYPE_BOOL,
	TypeInt:      pbv1.KeyType_KEY_TYPE_INT,
	TypeSize:     pbv1.KeyType_KEY_TYPE_SIZE,
	TypeDuration: pbv1.KeyType_KEY_TYPE_DURATION,
}

var keyTypeFromPB = func() map[pbv1.KeyType]KeyType {
	m := make(map[pbv1.KeyType]KeyType, len(keyTypeToPB))
	for k, v := range keyTypeToPB {
		m[v] = k
	}
	return m
}()

func describeToPB(r *DescribeResponse) *pbv1.DescribeResponse {
	out := &pbv1.DescribeResponse{
		Name:      text(r.Name),
		Version:   text(r.Version),
		Kind:      kindToPB[r.Kind],
		PointNoun: text(r.PointNoun),
		StoreNoun: text(r.StoreNoun),
		Sampling:  r.Sampling,

		RestoresNewest: r.RestoresNewest,
	}
	for _, k := range r.SourceKeys {
		out.SourceKeys = append(out.SourceKeys, &pbv1.SourceKey{
			Name:     text(k.Name),
			Type:     keyTypeToPB[k.Type],
			Required: k.Required,
			Secret:   k.Secret,
			Doc:      text(k.Doc),
		})
	}
	return out
}

// describeFromPB maps unknown enum values to the empty Kind and KeyType.
func describeFromPB(r *pbv1.DescribeResponse) *DescribeResponse {
	out := &DescribeResponse{
		Name:      r.GetName(),
		Version:   r.GetVersion(),
		Kind:      kindFromPB[r.GetKind()],
		PointNoun: r.GetPointNoun(),
		StoreNoun: r.GetStoreNoun(),
		Sampling:  r.GetSampling(),

		RestoresNewest: r.GetRestoresNewest(),
	}
	for _, k := range r.GetSourceKeys() {
		out.SourceKeys = append(out.SourceKeys, SourceKey{
			Name:     k.GetName(),
			Type:     keyTypeFromPB[k.GetType()],
			Required: k.GetRequired(),
			Secret:   k.GetSecret(),
			Doc:      k.GetDoc(),
		})
	}
	return out
}

func problemsToPB(ps []Problem) []*pbv1.Problem {
	var out []*pbv1.Problem
	for _, p := range ps {
		kind := pbv1.ProblemKind_PROBLEM_KIND_UNSPECIFIED
		switch p.Kind {
		case ProblemFail:
			kind = pbv1.ProblemKind_PROBLEM_KIND_FAIL
		case ProblemError:
			kind = pbv1.ProblemKind_PROBLEM_KIND_ERROR
		}
		out = append(out, &pbv1.Problem{
			Kind:    kind,
			Key:     text(p.Key),
			Path:    []byte(p.Path),
			Message: text(p.Message),
		})
	}
	return out
}

// problemsFromPB maps a problem of unknown or unspecified kind to
// ProblemError: a problem must never be taken for a pass.
func problemsFromPB(ps []*pbv1.Problem) []Problem {
	var out []Problem
	for _, p := range ps {
		kind := ProblemError
		if p.GetKind() == pbv1.ProblemKind_PROBLEM_KIND_FAIL {
			kind = ProblemFail
		}
		out = append(out, Problem{
			Kind:    kind,
			Key:     p.GetKey(),
			Path:    string(p.GetPath()),
			Message: p.GetMessage(),
		})
	}
	return out
}

func timeToPB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func timeFromPB(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

func pointToPB(p RestorePoint) *pbv1.RestorePoint {
	return &pbv1.RestorePoint{
		Id:          []byte(p.ID),
		Time:        timeToPB(p.Time),
		Size:        p.Size,
		Files:       p.Files,
		Description: text(p.Description),
		TimeBasis:   text(p.TimeBasis),
		Root:        []byte(p.Root),
	}
}

func pointFromPB(p *pbv1.RestorePoint) RestorePoint {
	if p == nil {
		return RestorePoint{Size: -1, Files: -1}
	}
	return RestorePoint{
		ID:          string(p.GetId()),
		Time:        timeFromPB(p.GetTime()),
		Size:        p.GetSize(),
		Files:       p.GetFiles(),
		Description: p.GetDescription(),
		TimeBasis:   p.GetTimeBasis(),
		Root:        string(p.GetRoot()),
	}
}

func progressToPB(p Progress) *pbv1.Progress {
	return &pbv1.Progress{
		FilesDone:  p.FilesDone,
		FilesTotal: p.FilesTotal,
		BytesDone:  p.BytesDone,
		BytesTotal: p.BytesTotal,
	}
}

func progressFromPB(p *pbv1.Progress) Progress {
	return Progress{
		FilesDone:  p.GetFilesDone(),
		FilesTotal: p.GetFilesTotal(),
		BytesDone:  p.GetBytesDone(),
		BytesTotal: p.GetBytesTotal(),
	}
}

func fileToPB(f File) *pbv1.File {
	return &pbv1.File{Path: []byte(f.Path), Size: f.Size, Sha256: f.SHA256}
}

func restoreResponseToPB(r *RestoreResponse) *pbv1.RestoreResponse {
	out := &pbv1.RestoreResponse{
		Point:    pointToPB(r.Point),
		Files:    r.Files,
		Bytes:    r.Bytes,
		Problems: problemsToPB(r.Problems),

		TotalFiles:  r.TotalFiles,
		TotalBytes:  r.TotalBytes,
		SampleDepth: int32(r.SampleDepth),
		ListFirst:   r.ListFirst,
	}
	for _, c := range r.Checks {
		out.Checks = append(out.Checks, &pbv1.Check{Name: text(c.Name), Ok: c.OK, Detail: text(c.Detail)})
	}
	for _, t := range r.Tables {
		out.Tables = append(out.Tables, &pbv1.Table{Name: text(t.Name), Rows: t.Rows, Fingerprint: text(t.Fingerprint)})
	}
	if len(r.Details) > 0 {
		out.Details = make(map[string]string, len(r.Details))
		for k, v := range r.Details {
			out.Details[text(k)] = text(v)
		}
	}
	return out
}

func restoreResponseFromPB(r *pbv1.RestoreResponse) *RestoreResponse {
	out := &RestoreResponse{
		Point:    pointFromPB(r.GetPoint()),
		Files:    r.GetFiles(),
		Bytes:    r.GetBytes(),
		Problems: problemsFromPB(r.GetProblems()),
		Details:  r.GetDetails(),

		TotalFiles:  r.GetTotalFiles(),
		TotalBytes:  r.GetTotalBytes(),
		SampleDepth: int(max(0, r.GetSampleDepth())),
		ListFirst:   r.GetListFirst(),
	}
	for _, c := range r.GetChecks() {
		out.Checks = append(out.Checks, Check{Name: c.GetName(), OK: c.GetOk(), Detail: c.GetDetail()})
	}
	for _, t := range r.GetTables() {
		out.Tables = append(out.Tables, Table{Name: t.GetName(), Rows: t.GetRows(), Fingerprint: t.GetFingerprint()})
	}
	return out
}

func databaseChecksToPB(c *DatabaseChecks) *pbv1.DatabaseChecks {
	if c == nil {
		return nil
	}
	out := &pbv1.DatabaseChecks{Tables: c.Tables, MinRows: c.MinRows}
	for _, q := range c.SQL {
		out.Sql = append(out.Sql, &pbv1.SQLCheck{Name: text(q.Name), Query: text(q.Query), Expect: text(q.Expect)})
	}
	return out
}

func databaseChecksFromPB(c *pbv1.DatabaseChecks) *DatabaseChecks {
	if c == nil {
		return nil
	}
	out := &DatabaseChecks{Tables: c.GetTables(), MinRows: c.GetMinRows()}
	for _, q := range c.GetSql() {
		out.SQL = append(out.SQL, SQLCheck{Name: q.GetName(), Query: q.GetQuery(), Expect: q.GetExpect()})
	}
	return out
}

func sampleToPB(s *Sample) *pbv1.Sample {
	if s == nil {
		return nil
	}
	return &pbv1.Sample{Seed: text(s.Seed), Slice: int32(s.Slice), Slices: int32(s.Slices)}
}

// sampleFromPB refuses a sample whose slice is not one of its slices.
func sampleFromPB(s *pbv1.Sample) (*Sample, error) {
	if s == nil {
		return nil, nil
	}
	out := &Sample{Seed: s.GetSeed(), Slice: int(s.GetSlice()), Slices: int(s.GetSlices())}
	if out.Slices < 1 || out.Slice < 0 || out.Slice >= out.Slices {
		return nil, fmt.Errorf("sample slice %d of %d is not a slice of the restore point", out.Slice, out.Slices)
	}
	return out, nil
}

func confineToPB(r *ConfineResponse) *pbv1.ConfineResponse {
	return &pbv1.ConfineResponse{Summary: text(r.Summary), LandlockAbi: int32(r.LandlockABI),
		Filesystem: r.Filesystem, Network: r.Network, Scoped: r.Scoped}
}

// confineFromPB takes an empty summary for what the numbers say, so that
// a record never shows an empty confinement.
func confineFromPB(r *pbv1.ConfineResponse) *ConfineResponse {
	out := &ConfineResponse{Summary: r.GetSummary(), LandlockABI: int(r.GetLandlockAbi()),
		Filesystem: r.GetFilesystem(), Network: r.GetNetwork(), Scoped: r.GetScoped()}
	if out.LandlockABI < 0 {
		out.LandlockABI = 0
	}
	if out.Summary == "" {
		if out.Confined() {
			out.Summary = fmt.Sprintf("landlock ABI %d", out.LandlockABI)
		} else {
			out.Summary = "none: the plugin did not say"
		}
	}
	return out
}
