package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/drillhq/drill/internal/schedule"
)

// FuzzParse checks that Parse never panics, returns either a config or
// errors, sorted and with a message each, and that every config it
// returns holds what the package promises.
func FuzzParse(f *testing.F) {
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	for _, file := range fixtures {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"",
		"---\n",
		"a: &x [*x]\n",
		"drills: &d {a: {<<: *d}}\n",
		"services: {s: {}}\ndrills: {a: &a {service: s, backend: x, source: {}}, b: {<<: [*a, *a]}}\n",
		"services: {s: {}}\ndrills:\n  d: {service: s, backend: x, source: {k: [a, 1, true]}, schedule: '@every 1h', checks: {sql: [{name: a, query: b, expect: '>1'}]}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("drill.yaml", data)
		if (c == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v; want exactly one", c, err)
		}
		if err != nil {
			errs, ok := err.(Errors) //nolint:errorlint // Parse returns Errors itself, unwrapped
			if !ok || len(errs) == 0 {
				t.Fatalf("Parse error is %T %v, want non-empty Errors", err, err)
			}
			for i, e := range errs {
				if e.Msg == "" || e.File != "drill.yaml" {
					t.Errorf("error %d lacks a message or file: %#v", i, e)
				}
				if i > 0 && (e.Line < errs[i-1].Line || e.Line == errs[i-1].Line && e.Col < errs[i-1].Col) {
					t.Errorf("errors out of order:\n%v", err)
				}
			}
			return
		}
		if c.MaxConcurrent < 1 || c.MaxScratchBytes < 0 {
			t.Errorf("MaxConcurrent %d, MaxScratchBytes %d", c.MaxConcurrent, c.MaxScratchBytes)
		}
		for _, name := range c.DrillNames() {
			d := c.Drills[name]
			if !nameRE.MatchString(name) || d.Name != name {
				t.Errorf("drill %q has name %q", name, d.Name)
			}
			if _, ok := c.Services[d.Service]; !ok {
				t.Errorf("drill %q names undefined service %q", name, d.Service)
			}
			if d.Backend == "" || d.Source == nil || d.Timeout <= 0 {
				t.Errorf("drill %q: backend %q, source %v, timeout %s", name, d.Backend, d.Source, d.Timeout)
			}
			if d.Schedule != "" {
				if _, err := schedule.Parse(d.Schedule); err != nil {
					t.Errorf("drill %q: schedule %q: %v", name, d.Schedule, err)
				}
			}
			for key := range d.Source.Values {
				if isSecretKey(key) {
					t.Errorf("drill %q: secret source key %q accepted", name, key)
				}
			}
			if d.Checks.MinFiles < 0 || d.Checks.MinBytes < 0 {
				t.Errorf("drill %q: negative checks %+v", name, d.Checks)
			}
		}
		for name, s := range c.Services {
			if !nameRE.MatchString(name) || s.Priority < 1 || s.RPO < 0 || s.RTO < 0 || s.ReviewEvery < 0 {
				t.Errorf("service %q: %+v", name, s)
			}
		}
		for name, p := range c.Plugins {
			if !nameRE.MatchString(name) || p.Path == "" || !sha256RE.MatchString(p.SHA256) {
				t.Errorf("plugin %q: %+v", name, p)
			}
		}
	})
}
