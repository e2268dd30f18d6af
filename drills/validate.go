package drills

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/dbcheck"
	"github.com/drillhq/drill/plugins"
)

// resolveSource turns a drill's source section into the typed values its
// backend declared (Describe's SourceKeys, the backend's schema), resolving
// relative paths and globs against the config file's folder, and reports
// unknown keys, values of the wrong type and missing required keys. Every
// problem is returned, each with its line and column.
func resolveSource(cfg *config.Config, d *config.Drill, desc *plugins.DescribeResponse) (plugins.Source, config.Errors) {
	var errs config.Errors
	path := "drills." + d.Name + ".source"
	keys := make(map[string]plugins.SourceKey, len(desc.SourceKeys))
	var allowed []string
	for _, k := range desc.SourceKeys {
		keys[k.Name] = k
		allowed = append(allowed, k.Name)
	}
	sort.Strings(allowed)
	out := plugins.Source{}
	if d.Source == nil {
		return out, config.Errors{cfg.Errorf(d.Pos, "drills."+d.Name, "source is required")}
	}
	names := make([]string, 0, len(d.Source.Values))
	for n := range d.Source.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		v := d.Source.Values[name]
		pos := d.Source.Pos[name]
		k, ok := keys[name]
		if !ok {
			errs = append(errs, cfg.Errorf(pos, path+"."+name, "unknown key %q for backend %s (allowed: %s)", name, desc.Name, strings.Join(allowed, ", ")))
			continue
		}
		tv, err := convert(v, k.Type)
		if err != nil {
			errs = append(errs, cfg.Errorf(pos, path+"."+name, "%v", err))
			continue
		}
		if (k.Type == plugins.TypePath || k.Type == plugins.TypeGlob) && cfg.Dir != "" {
			if s := tv.(string); s != "" && !filepath.IsAbs(s) {
				tv = filepath.Join(cfg.Dir, s)
			}
		}
		out[name] = tv
	}
	if len(errs) == 0 { // the keys given fit: now the required ones the schema names
		for _, p := range plugins.CheckSource(out, desc.SourceKeys) {
			errs = append(errs, cfg.Errorf(d.Source.Pos0, path+"."+p.Key, "%s", p.Message))
		}
	}
	return out, errs
}

func convert(v any, t plugins.KeyType) (any, error) {
	scalar := func() (string, bool) {
		switch x := v.(type) {
		case string:
			return x, true
		case int64:
			return strconv.FormatInt(x, 10), true
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64), true
		case bool:
			return strconv.FormatBool(x), true
		}
		return "", false
	}
	switch t {
	case plugins.TypeString, plugins.TypePath, plugins.TypeGlob:
		s, ok := scalar()
		if !ok {
			return nil, fmt.Errorf("want a single value, got a list")
		}
		return s, nil
	case plugins.TypeStrings:
		switch x := v.(type) {
		case []string:
			return x, nil
		default:
			s, ok := scalar()
			if !ok {
				return nil, fmt.Errorf("want a list of strings")
			}
			return []string{s}, nil
		}
	case plugins.TypeBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, fmt.Errorf("want true or false, got %v", v)
	case plugins.TypeInt:
		if i, ok := v.(int64); ok {
			return i, nil
		}
		return nil, fmt.Errorf("want an integer, got %v", v)
	case plugins.TypeSize:
		switch x := v.(type) {
		case int64:
			return x, nil
		case string:
			n, err := config.ParseSize(x)
			if err != nil {
				return nil, fmt.Errorf("want a size such as 10GiB: %w", err)
			}
			return n, nil
		}
		return nil, fmt.Errorf("want a size such as 10GiB, got %v", v)
	case plugins.TypeDuration:
		if s, ok := v.(string); ok {
			d, err := config.ParseDuration(s)
			if err != nil {
				return nil, fmt.Errorf("want a duration such as 24h or 7d: %w", err)
			}
			return int64(d), nil
		}
		return nil, fmt.Errorf("want a duration such as 24h or 7d, got %v", v)
	}
	return nil, fmt.Errorf("backend declares unknown key type %q", t)
}

// checkKind reports checks that do not apply to the backend's kind.
func checkKind(cfg *config.Config, d *config.Drill, kind plugins.Kind) config.Errors {
	var errs config.Errors
	path := "drills." + d.Name + ".checks"
	if kind != plugins.KindDatabase {
		for _, k := range []string{"tables", "min_rows", "sql"} {
			if pos, ok := d.Checks.Pos[k]; ok {
				errs = append(errs, cfg.Errorf(pos, path+"."+k, "%s applies to database backends (postgres, mysql), not to %s", k, d.Backend))
			}
		}
	} else {
		for _, k := range []string{"min_files", "min_bytes", "paths", "manifest"} {
			if pos, ok := d.Checks.Pos[k]; ok {
				errs = append(errs, cfg.Errorf(pos, path+"."+k, "%s applies to backends that restore files, not to %s (use tables, min_rows or sql)", k, d.Backend))
			}
		}
		for _, q := range d.Checks.SQL {
			if _, err := dbcheck.ParseExpect(q.Expect); err != nil {
				errs = append(errs, cfg.Errorf(q.Pos, path+".sql", "check %s: %v", q.Name, err))
			}
		}
	}
	return errs
}

// Validate checks every drill of cfg against its backend: the backend
// exists, the source has the keys and types the backend declares, the
// backend accepts the source, and the checks fit the backend. It launches
// each backend used once. All problems are returned together, each with
// file, line and column; nothing is changed.
func Validate(ctx context.Context, cfg *config.Config, l Launcher) config.Errors {
	var errs config.Errors
	if pl, ok := l.(*PluginLauncher); ok {
		for name, p := range cfg.Plugins {
			if pl.isBuiltin(name) {
				errs = append(errs, cfg.Errorf(p.Pos, "plugins."+name, "%q is the name of a built-in backend; give the plugin another name", name))
			}
		}
	}
	byBackend := map[string][]*config.Drill{}
	for _, name := range cfg.DrillNames() {
		d := cfg.Drills[name]
		byBackend[d.Backend] = append(byBackend[d.Backend], d)
	}
	backends := make([]string, 0, len(byBackend))
	for b := range byBackend {
		backends = append(backends, b)
	}
	sort.Strings(backends)
	for _, name := range backends {
		drills := byBackend[name]
		b, err := l.Launch(ctx, name)
		if err != nil {
			for _, d := range drills {
				errs = append(errs, cfg.Errorf(d.Pos, "drills."+d.Name+".backend", "%v", err))
			}
			continue
		}
		for _, d := range drills {
			_, _, es := prepare(ctx, cfg, d, b)
			errs = append(errs, es...)
		}
		_ = b.Close()
	}
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].Line != errs[j].Line {
			return errs[i].Line < errs[j].Line
		}
		return errs[i].Col < errs[j].Col
	})
	return errs
}

// prepare describes the backend, resolves and validates the drill's source.
func prepare(ctx context.Context, cfg *config.Config, d *config.Drill, b plugins.Backend) (plugins.Source, *plugins.DescribeResponse, config.Errors) {
	desc, err := b.Describe(ctx, &plugins.DescribeRequest{})
	if err != nil {
		return nil, nil, config.Errors{cfg.Errorf(d.Pos, "drills."+d.Name+".backend", "describe backend %s: %v", d.Backend, err)}
	}
	src, errs := resolveSource(cfg, d, desc)
	errs = append(errs, checkKind(cfg, d, desc.Kind)...)
	if d.Sample != nil && (!desc.Sampling || desc.Kind != plugins.KindFiles) {
		errs = append(errs, cfg.Errorf(d.Sample.Pos, "drills."+d.Name+".sample",
			"backend %s cannot restore a sample (sampling is for backends that restore files, such as restic and filesystem): remove sample", d.Backend))
	}
	if len(errs) > 0 {
		return nil, nil, errs
	}
	resp, err := b.ValidateSource(ctx, &plugins.ValidateSourceRequest{Source: src})
	if err != nil {
		return nil, nil, config.Errors{cfg.Errorf(d.Source.Pos0, "drills."+d.Name+".source", "backend %s: %v", d.Backend, err)}
	}
	for _, p := range resp.Problems {
		pos, path := d.Source.Pos0, "drills."+d.Name+".source"
		if p.Key != "" {
			path += "." + p.Key
			if kp, ok := d.Source.Pos[p.Key]; ok {
				pos = kp
			}
		}
		errs = append(errs, cfg.Errorf(pos, path, "%s", p.Message))
	}
	return src, desc, errs
}
