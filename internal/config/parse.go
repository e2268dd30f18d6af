package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

const (
	// mergeDepth and mergeLimit bound merge keys (<<), which can nest and
	// refer to themselves.
	mergeDepth = 16
	mergeLimit = 100000
)

// parser walks a YAML node tree into a Config, collecting every problem.
type parser struct {
	file   string // as given, for errors
	dir    string // for resolving relative paths
	errs   Errors
	merged int // keys taken in through merge keys so far
	tooBig bool
}

// entry is one key and value of a mapping.
type entry struct {
	name string
	path string     // dotted path of the value
	key  *yaml.Node // the key as written
	val  *yaml.Node // the value, aliases followed
	at   *yaml.Node // where the value is written: val, or the alias naming it
}

func pos(n *yaml.Node) Pos { return Pos{Line: n.Line, Col: n.Column} }

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	p.errs = append(p.errs, errorf(p.file, pos(n), path, format, args...))
}

// document decodes data and returns its top-level mapping, or nil after
// reporting why there is none.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errs = append(p.errs, &Error{File: p.file, Msg: "empty config: want a mapping with keys such as services and drills"})
		} else {
			p.syntax(err)
		}
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		p.errorf(&next, "", "more than one YAML document: a config file is one document (remove the second ---)")
		return nil
	} else if !errors.Is(err, io.EOF) {
		p.syntax(err)
		return nil
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = resolve(root.Content[0])
	}
	switch {
	case root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null":
		p.errorf(root, "", "empty config: want a mapping with keys such as services and drills")
		return nil
	case root.Kind != yaml.MappingNode:
		p.errorf(root, "", "want a mapping at the top level, got %s", describe(root))
		return nil
	}
	return root
}

// syntaxRE picks the line out of a yaml.v3 syntax error.
var syntaxRE = regexp.MustCompile(`^yaml: line ([0-9]+): (.*)$`)

func (p *parser) syntax(err error) {
	e := &Error{File: p.file, Err: err}
	msg := err.Error()
	if m := syntaxRE.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	e.Msg = "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	p.errs = append(p.errs, e)
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; i < 8 && n.Kind == yaml.AliasNode && n.Alias != nil; i++ {
		n = n.Alias
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe says what a node is, for "want X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if n.ShortTag() == "!!null" {
			if v == "" {
				return "nothing"
			}
			return v
		}
		if utf8.RuneCountInString(v) > 80 {
			v = string([]rune(v)[:77]) + "..."
		}
		if n.ShortTag() == "!!str" {
			return strconv.Quote(v)
		}
		return v
	}
	return "an alias"
}

// mapping returns the entries of e's value, which must be a mapping,
// reporting duplicate keys and, unless allowed is nil, unknown keys (which
// are left out). Keys taken in through merge keys (<<) come after the
// mapping's own, which override them.
func (p *parser) mapping(e entry, allowed []string) ([]entry, bool) {
	if e.val.Kind != yaml.MappingNode {
		p.errorf(e.at, e.path, "want a mapping, got %s", describe(e.val))
		return nil, false
	}
	es := p.entries(e.val, e.path, 0)
	if allowed == nil {
		return es, true
	}
	known := es[:0]
	for _, kv := range es {
		if !slices.Contains(allowed, kv.name) {
			p.errorf(kv.key, e.path, "unknown key %q (allowed: %s)", kv.name, strings.Join(allowed, ", "))
			continue
		}
		known = append(known, kv)
	}
	return known, true
}

func (p *parser) entries(n *yaml.Node, path string, depth int) []entry {
	var es []entry
	first := make(map[string]*yaml.Node)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!null" || k.Value == "" {
			p.errorf(n.Content[i], path, "want a name as key, got %s", describe(k))
			continue
		}
		if prev, ok := first[k.Value]; ok {
			p.errorf(n.Content[i], path, "duplicate key %q (first at line %d)", k.Value, prev.Line)
			continue
		}
		first[k.Value] = n.Content[i]
		es = append(es, entry{name: k.Value, path: join(path, k.Value), key: n.Content[i], val: resolve(v), at: v})
	}
	for _, m := range merges {
		for _, kv := range p.merge(m, path, depth) {
			if _, ok := first[kv.name]; !ok {
				first[kv.name] = kv.key
				es = append(es, kv)
			}
		}
	}
	return es
}

// merge returns the entries that the merge key value v brings in: those of
// a mapping, or of a list of mappings, the earlier ones winning.
func (p *parser) merge(v *yaml.Node, path string, depth int) []entry {
	if p.tooBig {
		return nil
	}
	if depth >= mergeDepth {
		p.errorf(v, path, "merge keys (<<) nest too deeply (at most %d levels)", mergeDepth)
		return nil
	}
	var maps []*yaml.Node
	switch r := resolve(v); r.Kind {
	case yaml.MappingNode:
		maps = append(maps, r)
	case yaml.SequenceNode:
		for _, item := range r.Content {
			if ri := resolve(item); ri.Kind == yaml.MappingNode {
				maps = append(maps, ri)
			} else {
				p.errorf(item, path, "merge key (<<) wants a mapping or a list of mappings, got %s", describe(ri))
			}
		}
	default:
		p.errorf(v, path, "merge key (<<) wants a mapping or a list of mappings, got %s", describe(r))
	}
	var out []entry
	seen := make(map[string]bool)
	for _, m := range maps {
		// Count before following nested merges, which could otherwise
		// take exponential time.
		p.merged += len(m.Content) / 2
		if p.merged > mergeLimit {
			p.tooBig = true
			p.errorf(v, path, "merge keys (<<) bring in more than %d keys in all", mergeLimit)
			return nil
		}
		for _, kv := range p.entries(m, path, depth+1) {
			if !seen[kv.name] {
				seen[kv.name] = true
				kv.path = join(path, kv.name)
				out = append(out, kv)
			}
		}
	}
	return out
}

// scalar returns e's value if it is a scalar other than null.
func (p *parser) scalar(e entry, want string) (*yaml.Node, bool) {
	n := e.val
	if n.Kind != yaml.ScalarNode || n.ShortTag() == "!!null" {
		p.errorf(e.at, e.path, "want %s, got %s", want, describe(n))
		return nil, false
	}
	if !strings.HasPrefix(n.ShortTag(), "!!") {
		p.errorf(e.at, e.path, "want %s, got a value tagged %s", want, n.Tag)
		return nil, false
	}
	return n, true
}

// str returns e's value as written; any scalar but null will do.
func (p *parser) str(e entry) (string, bool) {
	n, ok := p.scalar(e, "a string")
	if !ok {
		return "", false
	}
	return n.Value, true
}

// nonEmpty is str refusing "".
func (p *parser) nonEmpty(e entry) (string, bool) {
	s, ok := p.str(e)
	if ok && s == "" {
		p.errorf(e.at, e.path, "must not be empty")
		return "", false
	}
	return s, ok
}

// pathValue is nonEmpty resolved against the config's folder.
func (p *parser) pathValue(e entry) (string, bool) {
	s, ok := p.nonEmpty(e)
	if !ok {
		return "", false
	}
	if !filepath.IsAbs(s) && p.dir != "" {
		return filepath.Join(p.dir, s), true
	}
	return filepath.Clean(s), true
}

// name is nonEmpty matching nameRE.
func (p *parser) name(e entry, what string) (string, bool) {
	s, ok := p.nonEmpty(e)
	if ok && !nameRE.MatchString(s) {
		p.errorf(e.at, e.path, "invalid %s name %q: %s", what, s, nameRule)
		return "", false
	}
	return s, ok
}

// integer returns e's value, which must be a YAML integer no less than min.
func (p *parser) integer(e entry, min int64) (int64, bool) {
	n, ok := p.scalar(e, "an integer")
	if !ok {
		return 0, false
	}
	var v int64
	if n.ShortTag() != "!!int" || n.Decode(&v) != nil {
		p.errorf(e.at, e.path, "want an integer, got %s", describe(n))
		return 0, false
	}
	if v < min {
		p.errorf(e.at, e.path, "want at least %d, got %d", min, v)
		return 0, false
	}
	return v, true
}

// duration returns e's value, a duration longer than 0.
func (p *parser) duration(e entry) (time.Duration, bool) {
	return p.durationValue(e, "a duration such as 24h or 7d", false)
}

// durationOrZero returns e's value, a duration of 0 or more.
func (p *parser) durationOrZero(e entry) (time.Duration, bool) {
	return p.durationValue(e, "a duration such as 10m, or 0", true)
}

// durationValue returns e's value, a duration longer than 0, or of 0 or
// more when zeroOK; want says what it must be.
func (p *parser) durationValue(e entry, want string, zeroOK bool) (time.Duration, bool) {
	n, ok := p.scalar(e, want)
	if !ok {
		return 0, false
	}
	if zeroOK && n.Value == "0" {
		return 0, true
	}
	d, err := ParseDuration(n.Value)
	switch {
	case err != nil || d < 0 && zeroOK:
		p.errorf(e.at, e.path, "want %s, got %s", want, describe(n))
	case d <= 0 && !zeroOK:
		p.errorf(e.at, e.path, "want a duration longer than 0, got %s", describe(n))
	default:
		return d, true
	}
	return 0, false
}

// boolean returns e's value, true or false.
func (p *parser) boolean(e entry) (bool, bool) {
	n, ok := p.scalar(e, "true or false")
	if !ok {
		return false, false
	}
	var v bool
	if n.ShortTag() != "!!bool" || n.Decode(&v) != nil {
		p.errorf(e.at, e.path, "want true or false, got %s", describe(n))
		return false, false
	}
	return v, true
}

// size returns e's value, a size in bytes.
func (p *parser) size(e entry) (int64, bool) {
	const want = "a size such as 200GiB or 512MiB"
	n, ok := p.scalar(e, want)
	if !ok {
		return 0, false
	}
	v, err := ParseSize(n.Value)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			p.errorf(e.at, e.path, "size %s is too large", describe(n))
		} else {
			p.errorf(e.at, e.path, "want %s, got %s", want, describe(n))
		}
		return 0, false
	}
	return v, true
}

// list returns the items of e's value, which must be a list, as entries
// with paths such as checks.paths[2].
func (p *parser) list(e entry, want string) ([]entry, bool) {
	if e.val.Kind != yaml.SequenceNode {
		p.errorf(e.at, e.path, "want %s, got %s", want, describe(e.val))
		return nil, false
	}
	items := make([]entry, len(e.val.Content))
	for i, n := range e.val.Content {
		items[i] = entry{name: strconv.Itoa(i), path: fmt.Sprintf("%s[%d]", e.path, i), key: n, val: resolve(n), at: n}
	}
	return items, true
}

// stringList returns e's value, a list of strings; empty strings are refused
// unless allowEmpty.
func (p *parser) stringList(e entry, allowEmpty bool) ([]string, bool) {
	items, ok := p.list(e, "a list of strings")
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, item := range items {
		s, ok1 := p.str(item)
		if ok1 && s == "" && !allowEmpty {
			p.errorf(item.at, item.path, "must not be empty")
			ok1 = false
		}
		ok = ok && ok1
		out = append(out, s)
	}
	return out, ok
}
