package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/internal/schedule"
)

// The keys each mapping accepts, sorted, as error messages list them.
var (
	topKeys     = []string{"catch_up", "drills", "jitter", "log_origin", "max_concurrent", "max_scratch_bytes", "metrics_listen", "notify", "plugins", "require_sandbox", "services", "socket", "socket_group", "stall_timeout", "state_dir", "stop_timeout"}
	pluginKeys  = []string{"args", "path", "sha256"}
	serviceKeys = []string{"description", "owner", "priority", "review_every", "rpo", "rto"}
	drillKeys   = []string{"backend", "catch_up", "checks", "description", "healthcheck", "jitter", "require_sandbox", "restore_point", "sample", "schedule", "service", "source", "stall_timeout", "timeout"}
	pointKeys   = []string{"random_within"}
	sampleKeys  = []string{"percent", "seed"}
	notifyKeys  = []string{"command", "webhook"}
	checkKeys   = []string{"manifest", "min_bytes", "min_files", "min_rows", "paths", "sql", "tables"}
	sqlKeys     = []string{"expect", "name", "query"}
)

var (
	// nameRE is what names of services, drills, plugins and backends must
	// match: they end up in file names and metric labels.
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)
	sha256RE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	expectRE = regexp.MustCompile(`^(>=|<=|!=|=|>|<) *.+$`)
	// originRE is what a log origin may hold: printable, no spaces or '+'.
	originRE = regexp.MustCompile(`^[^\s+\x00-\x1f\x7f]+$`)
)

const nameRule = "use lowercase letters, digits, '_', '.' and '-', starting with a letter or digit (names are used in file names and metrics)"

// config fills c from the top-level mapping.
func (p *parser) config(root *yaml.Node, c *Config) {
	es, _ := p.mapping(entry{val: root, at: root, key: root}, topKeys)
	var drills *entry
	servicesOK := true
	for _, e := range es {
		switch e.name {
		case "notify":
			items, _ := p.list(e, "a list of notify targets ({webhook: URL} or {command: [argv]})")
			for _, item := range items {
				if n := p.notify(item); n != nil {
					c.Notify = append(c.Notify, n)
				}
			}
		case "plugins":
			for _, kv := range p.named(e, "plugin") {
				c.Plugins[kv.name] = p.plugin(kv)
			}
		case "services":
			named := p.named(e, "service")
			servicesOK = e.val.Kind == yaml.MappingNode
			for _, kv := range named {
				c.Services[kv.name] = p.service(kv)
			}
		case "drills":
			drills = &e
		default:
			p.topSetting(e, c)
		}
	}
	if drills != nil {
		for _, kv := range p.named(*drills, "drill") {
			c.Drills[kv.name] = p.drill(kv, c, servicesOK)
		}
	}
}

// topSetting fills one of the top-level settings that hold a single value.
func (p *parser) topSetting(e entry, c *Config) {
	if p.sharedSetting(e, &c.Jitter, &c.CatchUp, &c.RequireSandbox) {
		return
	}
	switch e.name {
	case "state_dir":
		set(&c.StateDir)(p.pathValue(e))
	case "socket":
		set(&c.Socket)(p.pathValue(e))
	case "metrics_listen":
		if s, ok := p.str(e); ok {
			if _, port, err := net.SplitHostPort(s); s != "" && (err != nil || port == "") {
				p.errorf(e.at, e.path, "want host:port such as 127.0.0.1:9464, or \"\" for no metrics endpoint, got %s", describe(e.val))
			}
			c.MetricsListen = s
		}
	case "max_concurrent":
		if v, ok := p.integer(e, 1); ok {
			c.MaxConcurrent = int(v)
		}
	case "max_scratch_bytes":
		set(&c.MaxScratchBytes)(p.size(e))
	case "socket_group":
		c.SocketGroup, _ = p.nonEmpty(e)
	case "log_origin":
		if s, ok := p.nonEmpty(e); ok {
			if !originRE.MatchString(s) || len(s) > 255 {
				p.errorf(e.at, e.path, "invalid log_origin %q: want a name such as backup1.example.org/drill (no spaces or '+', at most 255 bytes)", s)
			}
			c.LogOrigin = s
		}
	case "stop_timeout":
		set(&c.StopTimeout)(p.duration(e))
	case "stall_timeout":
		set(&c.StallTimeout)(p.durationOrZero(e))
	}
}

// named returns the entries of a mapping from names to settings, such as
// services, reporting names that do not match nameRE.
func (p *parser) named(e entry, what string) []entry {
	es, _ := p.mapping(e, nil)
	for _, kv := range es {
		if !nameRE.MatchString(kv.name) {
			p.errorf(kv.key, e.path, "invalid %s name %q: %s", what, kv.name, nameRule)
		}
	}
	return es
}

// required reports the keys in want that es lacks, at e's key.
func (p *parser) required(e entry, es []entry, want ...string) {
	for _, w := range want {
		if !slices.ContainsFunc(es, func(kv entry) bool { return kv.name == w }) {
			p.errorf(e.key, e.path, "missing required key %q", w)
		}
	}
}

// notify parses one notify target.
func (p *parser) notify(e entry) *Notify {
	es, ok := p.mapping(e, notifyKeys)
	if !ok {
		return nil
	}
	n := &Notify{Pos: pos(e.key)}
	for _, kv := range es {
		switch kv.name {
		case "webhook":
			n.Webhook, _ = p.httpURL(kv)
		case "command":
			if argv, ok := p.stringList(kv, false); ok {
				if len(argv) == 0 {
					p.errorf(kv.at, kv.path, "want the command and its arguments, got an empty list")
				} else if !filepath.IsAbs(argv[0]) {
					p.errorf(kv.at, kv.path, "want the command as an absolute path, got %q", argv[0])
				}
				n.Command = argv
			}
		}
	}
	if len(es) != 1 {
		p.errorf(e.at, e.path, "want exactly one of webhook and command")
	}
	if n.Webhook == "" && n.Command == nil {
		return nil
	}
	return n
}

// httpURL is an http or https URL without a password in it.
func (p *parser) httpURL(e entry) (string, bool) {
	s, ok := p.nonEmpty(e)
	if !ok {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.errorf(e.at, e.path, "want an http or https URL, got %q", s)
		return "", false
	}
	if _, has := u.User.Password(); has {
		p.errorf(e.at, e.path, "the URL holds a password; secrets are never written in the config: %s", secretHelp)
		return "", false
	}
	return s, true
}

func (p *parser) plugin(e entry) *Plugin {
	pl := &Plugin{Name: e.name, Pos: pos(e.key)}
	es, ok := p.mapping(e, pluginKeys)
	if !ok {
		return pl
	}
	for _, kv := range es {
		switch kv.name {
		case "path":
			pl.Path, _ = p.pathValue(kv)
		case "sha256":
			if s, ok := p.str(kv); ok {
				if !sha256RE.MatchString(s) {
					p.errorf(kv.at, kv.path, "want the executable's SHA-256 as 64 lowercase hex digits (as sha256sum prints it), got %s", describe(kv.val))
				}
				pl.SHA256 = s
			}
		case "args":
			pl.Args, _ = p.stringList(kv, true)
		}
	}
	p.required(e, es, "path", "sha256")
	return pl
}

func (p *parser) service(e entry) *Service {
	s := &Service{Name: e.name, Priority: DefaultPriority, Pos: pos(e.key)}
	es, ok := p.mapping(e, serviceKeys)
	if !ok {
		return s
	}
	for _, kv := range es {
		switch kv.name {
		case "owner":
			s.Owner, _ = p.str(kv)
		case "description":
			s.Description, _ = p.str(kv)
		case "priority":
			if v, ok := p.integer(kv, 1); ok {
				s.Priority = int(v)
			}
		case "rpo":
			s.RPO, _ = p.duration(kv)
		case "rto":
			s.RTO, _ = p.duration(kv)
		case "review_every":
			s.ReviewEvery, _ = p.duration(kv)
		}
	}
	return s
}

func (p *parser) drill(e entry, c *Config, servicesOK bool) *Drill {
	d := &Drill{Name: e.name, Timeout: DefaultTimeout, StallTimeout: c.StallTimeout, Jitter: c.Jitter, CatchUp: c.CatchUp, RequireSandbox: c.RequireSandbox, Pos: pos(e.key)}
	es, ok := p.mapping(e, drillKeys)
	if !ok {
		return d
	}
	// The drill's own stall_timeout, and its timeout as written.
	var stall *entry
	timeout := strings.TrimSuffix(strings.TrimSuffix(DefaultTimeout.String(), "0s"), "0m") + " (the default)"
	for _, kv := range es {
		switch kv.name {
		case "description":
			d.Description, _ = p.str(kv)
		case "service":
			if s, ok := p.nonEmpty(kv); ok {
				d.Service = s
				if _, defined := c.Services[s]; !defined && servicesOK {
					p.errorf(kv.at, kv.path, "unknown service %q (%s)", s, definedServices(c))
				}
			}
		case "schedule":
			if s, ok := p.str(kv); ok {
				if _, err := schedule.Parse(s); err != nil {
					p.errorf(kv.at, kv.path, "invalid schedule %q: %v", s, err)
				}
				d.Schedule = s
			}
		case "timeout":
			if v, ok := p.duration(kv); ok {
				d.Timeout = v
				timeout = kv.val.Value
			}
		case "stall_timeout":
			if v, ok := p.durationOrZero(kv); ok {
				d.StallTimeout = v
				stall = &kv
			}
		case "sample":
			d.Sample = p.sample(kv, e.name)
		case "backend":
			d.Backend, _ = p.name(kv, "backend")
		case "source":
			d.Source = p.source(kv)
		case "checks":
			d.Checks = p.checks(kv)
		default:
			p.drillSetting(kv, d)
		}
	}
	p.required(e, es, "service", "backend", "source")
	// A stall_timeout the timeout ends the drill before could never fire:
	// a mistake when written for the drill (the top-level default is
	// allowed to be longer than some drill's timeout).
	if stall != nil && d.StallTimeout > 0 && d.StallTimeout >= d.Timeout {
		p.errorf(stall.at, stall.path, "stall_timeout %s is not shorter than the drill's timeout of %s, so it could never fire: shorten it, or set it to 0 to turn the stall detector off",
			stall.val.Value, timeout)
	}
	return d
}

// set returns a function that stores a parsed value in dst when it is ok,
// for set(&c.Field)(p.parse(e)).
func set[T any](dst *T) func(T, bool) {
	return func(v T, ok bool) {
		if ok {
			*dst = v
		}
	}
}

// sharedSetting fills a setting that both the top level and a drill take
// (a drill's own overrides the top level's): jitter, catch_up or
// require_sandbox. It returns false for any other key.
func (p *parser) sharedSetting(e entry, jitter *time.Duration, catchUp, requireSandbox *bool) bool {
	switch e.name {
	case "jitter":
		set(jitter)(p.durationOrZero(e))
	case "catch_up":
		set(catchUp)(p.boolean(e))
	case "require_sandbox":
		set(requireSandbox)(p.boolean(e))
	default:
		return false
	}
	return true
}

// drillSetting fills one of a drill's settings that hold a single value.
func (p *parser) drillSetting(e entry, d *Drill) {
	if p.sharedSetting(e, &d.Jitter, &d.CatchUp, &d.RequireSandbox) {
		return
	}
	switch e.name {
	case "healthcheck":
		set(&d.Healthcheck)(p.httpURL(e))
	case "restore_point":
		if ps, ok := p.mapping(e, pointKeys); ok {
			for _, k := range ps {
				set(&d.RandomWithin)(p.duration(k))
			}
		}
	}
}

// definedServices lists the defined services for an "unknown service" message.
func definedServices(c *Config) string {
	if len(c.Services) == 0 {
		return "no services are defined"
	}
	names := make([]string, 0, len(c.Services))
	for name := range c.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	return "defined: " + strings.Join(names, ", ")
}

// isSecretKey reports whether a source key would hold a secret inline.
func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, s := range []string{"password", "secret", "token"} {
		if k == s || strings.HasSuffix(k, "_"+s) {
			return true
		}
	}
	return false
}

// hasURLPassword reports whether s is a URL with a password in it, such
// as postgres://drill:hunter2@db/postgres.
func hasURLPassword(s string) bool {
	if !strings.Contains(s, "://") {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	_, set := u.User.Password()
	return set
}

const secretHelp = "use password_file, password_command or the backend's environment variables"

func (p *parser) source(e entry) *Source {
	s := &Source{Values: make(map[string]any), Pos: make(map[string]Pos), Pos0: pos(e.at)}
	es, ok := p.mapping(e, nil)
	if !ok {
		return s
	}
	for _, kv := range es {
		if isSecretKey(kv.name) {
			p.errorf(kv.key, kv.path, "secrets are never written in the config: %s", secretHelp)
			continue
		}
		s.Pos[kv.name] = pos(kv.at)
		switch n := kv.val; n.Kind {
		case yaml.ScalarNode:
			if v, ok := p.sourceScalar(kv); ok {
				s.Values[kv.name] = v
			}
		case yaml.SequenceNode:
			items, _ := p.list(kv, "a list")
			vs := make([]string, 0, len(items))
			for _, item := range items {
				if item.val.Kind != yaml.ScalarNode {
					p.errorf(item.at, item.path, "source lists must hold scalars, got %s", describe(item.val))
					continue
				}
				if _, ok := p.sourceScalar(item); ok {
					vs = append(vs, item.val.Value)
				}
			}
			s.Values[kv.name] = vs
		default:
			p.errorf(kv.at, kv.path, "source values must be scalars or lists, got %s", describe(n))
		}
	}
	return s
}

// sourceScalar returns a scalar source value as YAML resolves it. Its
// errors never show the value, which might be a secret.
func (p *parser) sourceScalar(e entry) (any, bool) {
	n := e.val
	tag := n.ShortTag()
	switch tag {
	case "!!null":
		p.errorf(e.at, e.path, "want a value, got nothing (leave the key out instead)")
		return nil, false
	case "!!str", "!!timestamp", "!!binary":
		if hasURLPassword(n.Value) {
			p.errorf(e.at, e.path, "the URL holds a password; secrets are never written in the config: %s", secretHelp)
			return nil, false
		}
		return n.Value, true
	case "!!int":
		return decodeScalar[int64](p, e, "integer out of range")
	case "!!float":
		return decodeScalar[float64](p, e, "invalid number")
	case "!!bool":
		return decodeScalar[bool](p, e, "invalid boolean")
	}
	p.errorf(e.at, e.path, "unsupported YAML tag %s", n.Tag)
	return nil, false
}

// decodeScalar decodes a scalar source value as a T; msg is the error,
// which never shows the value.
func decodeScalar[T any](p *parser, e entry, msg string) (any, bool) {
	var v T
	if err := e.val.Decode(&v); err != nil {
		p.errorf(e.at, e.path, "%s", msg)
		return nil, false
	}
	return v, true
}

func (p *parser) checks(e entry) Checks {
	var ch Checks
	es, ok := p.mapping(e, checkKeys)
	if !ok {
		return ch
	}
	ch.Pos = make(map[string]Pos)
	for _, kv := range es {
		ch.Pos[kv.name] = pos(kv.key)
		switch kv.name {
		case "min_files":
			ch.MinFiles, _ = p.integer(kv, 0)
		case "min_bytes":
			ch.MinBytes, _ = p.size(kv)
		case "paths":
			ch.Paths, _ = p.stringList(kv, false)
		case "manifest":
			ch.Manifest, _ = p.pathValue(kv)
		case "tables":
			ch.Tables, _ = p.stringList(kv, false)
		case "min_rows":
			rows, ok := p.mapping(kv, nil)
			if !ok {
				break
			}
			ch.MinRows = make(map[string]int64, len(rows))
			for _, r := range rows {
				if v, ok := p.integer(r, 0); ok {
					ch.MinRows[r.name] = v
				}
			}
		case "sql":
			ch.SQL = p.sql(kv)
		}
	}
	return ch
}

func (p *parser) sql(e entry) []SQLCheck {
	items, ok := p.list(e, "a list of checks, each with query, expect and an optional name")
	if !ok {
		return nil
	}
	var out []SQLCheck
	names := make(map[string]int) // name -> line
	for _, item := range items {
		q := SQLCheck{Pos: pos(item.at)}
		es, ok := p.mapping(item, sqlKeys)
		if !ok {
			continue
		}
		for _, kv := range es {
			switch kv.name {
			case "name":
				if s, ok := p.nonEmpty(kv); ok {
					if line, dup := names[s]; dup {
						p.errorf(kv.at, kv.path, "duplicate check name %q (first at line %d)", s, line)
					}
					names[s] = kv.at.Line
					q.Name = s
				}
			case "query":
				q.Query, _ = p.nonEmpty(kv)
			case "expect":
				if s, ok := p.str(kv); ok {
					if !expectRE.MatchString(s) {
						p.errorf(kv.at, kv.path, "want an operator (>=, <=, !=, =, >, <) and a value such as \">= 1\", got %s", describe(kv.val))
					}
					q.Expect = s
				}
			}
		}
		p.required(item, es, "query", "expect")
		out = append(out, q)
	}
	// Unnamed checks are named after their queries once every written
	// name is known, so that a default never takes a name written later.
	for i := range out {
		if out[i].Name == "" && out[i].Query != "" {
			out[i].Name = uniqueName(SQLCheckName(out[i].Query), names)
			names[out[i].Name] = out[i].Pos.Line
		}
	}
	return out
}

// SQLCheckName is the name of an sql check written without one: its query
// on one line (white space collapsed), cut to 60 runes with "…", control
// characters escaped (dbcheck.QueryName, which the database backends use
// to tell such a name from a written one).
func SQLCheckName(query string) string { return dbcheck.QueryName(query) }

// uniqueName returns name, or when taken name followed by " #2", " #3", ...:
// two unnamed checks whose queries begin alike (or are the same, with
// different expectations) stay apart in results and reports.
func uniqueName(name string, taken map[string]int) string {
	if _, dup := taken[name]; !dup {
		return name
	}
	for n := 2; ; n++ {
		s := fmt.Sprintf("%s #%d", name, n)
		if _, dup := taken[s]; !dup {
			return s
		}
	}
}

// sample is a drill's sample: {percent: N, seed: S}; the seed defaults to
// the drill's name.
func (p *parser) sample(e entry, drill string) *Sample {
	es, ok := p.mapping(e, sampleKeys)
	if !ok {
		return nil
	}
	s := &Sample{Seed: drill, Pos: pos(e.key)}
	for _, kv := range es {
		switch kv.name {
		case "percent":
			if v, ok := p.integer(kv, 1); ok {
				if v > 100 {
					p.errorf(kv.at, kv.path, "want a percentage from 1 to 100, got %d", v)
				}
				s.Percent = int(v)
			}
		case "seed":
			if v, ok := p.nonEmpty(kv); ok {
				s.Seed = v
			}
		}
	}
	p.required(e, es, "percent")
	return s
}
