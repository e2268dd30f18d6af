package plugintest_test

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/plugins"
	"github.com/drillhq/drill/plugins/internal/testbackend"
	"github.com/drillhq/drill/plugins/plugintest"
)

// taggedSource is the whole source declaration of the tagged backend: no
// SourceKey list, no parsing by hand.
type taggedSource struct {
	Repository string        `source:"repository,path,required" doc:"the repository folder"`
	Token      string        `source:"token_file,path,secret" doc:"a file holding the access token"`
	Tags       []string      `source:"tags" doc:"only points with all these tags"`
	Verify     bool          `source:"verify" doc:"also verify the repository"`
	Jobs       int64         `source:"jobs" doc:"parallel jobs"`
	Limit      int64         `source:"limit,size" doc:"largest restore"`
	MaxAge     time.Duration `source:"max_age" doc:"oldest point taken"`
	label      string        `source:"label" doc:"a label (an unexported field)"`
	decoded    *taggedSource // the backend's own field, not a key
}

// tagged is a backend whose source is declared with tags only: Describe
// returns plugins.Keys, ValidateSource is plugins.Decode. Restore is the
// test backend's; ListRestorePoints also reports what Decode filled.
type tagged struct {
	testbackend.Backend
	got chan taggedSource
}

func (b *tagged) Describe(ctx context.Context, req *plugins.DescribeRequest) (*plugins.DescribeResponse, error) {
	return &plugins.DescribeResponse{Name: "tagged", Version: "1.0.0", Kind: plugins.KindFiles, SourceKeys: plugins.Keys(taggedSource{})}, nil
}

func (b *tagged) ValidateSource(_ context.Context, req *plugins.ValidateSourceRequest) (*plugins.ValidateSourceResponse, error) {
	var s taggedSource
	probs := plugins.Decode(req.Source, &s)
	if len(probs) == 0 && b.got != nil {
		b.got <- s
	}
	return &plugins.ValidateSourceResponse{Problems: probs}, nil
}

// closer is the tagged backend over gRPC as drills launches it.
type closer struct{ plugins.Backend }

func (closer) Close() error { return nil }

type launcher struct{ b plugins.Backend }

func (l launcher) Launch(context.Context, string) (drills.Backend, error) { return closer{l.b}, nil }

// TestTaggedDescribe: the schema the host sees over the protocol is the
// struct's tags, in field order, with types from the Go types and options.
func TestTaggedDescribe(t *testing.T) {
	b := plugintest.GRPCBackend(t, &tagged{})
	d, err := b.Describe(t.Context(), &plugins.DescribeRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []plugins.SourceKey{
		{Name: "repository", Type: plugins.TypePath, Required: true, Doc: "the repository folder"},
		{Name: "token_file", Type: plugins.TypePath, Secret: true, Doc: "a file holding the access token"},
		{Name: "tags", Type: plugins.TypeStrings, Doc: "only points with all these tags"},
		{Name: "verify", Type: plugins.TypeBool, Doc: "also verify the repository"},
		{Name: "jobs", Type: plugins.TypeInt, Doc: "parallel jobs"},
		{Name: "limit", Type: plugins.TypeSize, Doc: "largest restore"},
		{Name: "max_age", Type: plugins.TypeDuration, Doc: "oldest point taken"},
		{Name: "label", Type: plugins.TypeString, Doc: "a label (an unexported field)"},
	}
	if !slices.Equal(d.SourceKeys, want) {
		t.Errorf("SourceKeys\n%+v\nwant\n%+v", d.SourceKeys, want)
	}
}

// TestTaggedHostValidation: drill config check's validation of a source
// comes from the tags alone: an unknown key, a value of the wrong type and
// a missing required key are each reported at their line, and a good
// source reaches Decode typed and resolved against the config's folder.
func TestTaggedHostValidation(t *testing.T) {
	const head = "services:\n  s: {owner: ops@example.org}\ndrills:\n  d:\n    service: s\n    backend: tagged\n"
	tests := []struct {
		name, source string
		want         []string // whole messages, "file:line:col: path: msg"
	}{
		{"unknown key", "    source:\n      repository: r\n      tag: [x]\n",
			[]string{`drill.yaml:9:12: drills.d.source.tag: unknown key "tag" for backend tagged (allowed: jobs, label, limit, max_age, repository, tags, token_file, verify)`}},
		{"wrong type", "    source:\n      repository: r\n      jobs: many\n",
			[]string{`drill.yaml:9:13: drills.d.source.jobs: want an integer, got many`}},
		{"missing required", "    source:\n      jobs: 2\n",
			[]string{`drill.yaml:8:7: drills.d.source.repository: repository is required: the repository folder`}},
		{"good", "    source:\n      repository: r\n      tags: one\n      limit: 1GiB\n      max_age: 2d\n      label: x\n", nil},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(filepath.Join(dir, "drill.yaml"), []byte(head+tt.source))
			if err != nil {
				t.Fatal(err)
			}
			b := &tagged{got: make(chan taggedSource, 1)}
			errs := drills.Validate(t.Context(), cfg, launcher{plugintest.GRPCBackend(t, b)})
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), dir+"/"))
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("config check:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if tt.want != nil {
				return
			}
			s := <-b.got
			want := taggedSource{Repository: filepath.Join(dir, "r"), Tags: []string{"one"}, Limit: 1 << 30, MaxAge: 48 * time.Hour, label: "x"}
			if s.Repository != want.Repository || !slices.Equal(s.Tags, want.Tags) || s.Limit != want.Limit || s.MaxAge != want.MaxAge || s.label != want.label {
				t.Errorf("decoded %+v, want %+v", s, want)
			}
		})
	}
}

// TestTaggedDecode: a source that did not come through the host (another
// host, a test) is checked by Decode against the same tags.
func TestTaggedDecode(t *testing.T) {
	b := plugintest.GRPCBackend(t, &tagged{})
	tests := []struct {
		name string
		src  plugins.Source
		want []plugins.Problem
	}{
		{"unknown key", plugins.Source{"repository": "/r", "tag": "x"}, []plugins.Problem{{Kind: plugins.ProblemError, Key: "tag",
			Message: `unknown key "tag" (allowed: jobs, label, limit, max_age, repository, tags, token_file, verify)`}}},
		{"wrong type", plugins.Source{"repository": "/r", "jobs": "many", "tags": "x"}, []plugins.Problem{
			{Kind: plugins.ProblemError, Key: "tags", Message: "tags must be a list of strings, not a string"},
			{Kind: plugins.ProblemError, Key: "jobs", Message: "jobs must be an integer, not a string"}}},
		{"missing required", plugins.Source{"verify": true}, []plugins.Problem{{Kind: plugins.ProblemError, Key: "repository",
			Message: "repository is required: the repository folder"}}},
		{"empty required", plugins.Source{"repository": ""}, []plugins.Problem{{Kind: plugins.ProblemError, Key: "repository",
			Message: "repository is required: the repository folder"}}},
		{"secret value not shown", plugins.Source{"repository": "/r", "token_file": []string{"s3cret"}}, []plugins.Problem{{Kind: plugins.ProblemError,
			Key: "token_file", Message: "token_file must be a string (a path), not a list"}}},
		{"good", plugins.Source{"repository": "/r", "jobs": int64(2), "verify": true, "max_age": int64(time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := b.ValidateSource(t.Context(), &plugins.ValidateSourceRequest{Source: tt.src})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(resp.Problems, tt.want) {
				t.Errorf("problems\n%+v\nwant\n%+v", resp.Problems, tt.want)
			}
		})
	}
}

// TestDecodeKeepsDefaults: keys not given leave their fields alone, and a
// field that is not a key is never touched.
func TestDecodeKeepsDefaults(t *testing.T) {
	keep := &taggedSource{}
	s := taggedSource{Jobs: 4, label: "default", decoded: keep}
	if probs := plugins.Decode(plugins.Source{"repository": "/r", "verify": nil}, &s); probs != nil {
		t.Fatal(probs)
	}
	if s.Repository != "/r" || s.Jobs != 4 || s.label != "default" || s.decoded != keep || s.Verify {
		t.Errorf("decoded %+v", s)
	}
}

// TestKeysRefusesBadTags: a tag Keys cannot read is the backend author's
// mistake, found at the first Describe.
func TestKeysRefusesBadTags(t *testing.T) {
	for name, v := range map[string]any{
		"unknown option": struct {
			A string `source:"a,requird"`
		}{},
		"no key type": struct {
			A float64 `source:"a"`
		}{},
		"option of another type": struct {
			A bool `source:"a,path"`
		}{},
		"twice": struct {
			A string `source:"a"`
			B string `source:"a"`
		}{},
		"no name": struct {
			A string `source:",required"`
		}{},
		"not a struct": "x",
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Keys(%T) did not panic", v)
				}
			}()
			plugins.Keys(v)
		})
	}
}
