package plugins

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// A backend declares its source once, as a struct whose tagged fields are
// the source keys:
//
//	type source struct {
//		repo     string   `source:"repository,required" doc:"the repository, as restic accepts it"`
//		password string   `source:"password_file,path" doc:"a file holding the repository password"`
//		tags     []string `source:"tags" doc:"only snapshots with all these tags"`
//		jobs     int64    `source:"jobs" doc:"parallel jobs"`
//	}
//
// Keys(&source{}) is the schema Describe returns (and so what the host
// checks and `drill config check` reports), Decode(src, &s) fills the struct
// from the source the host sends. The tag `source:"NAME,OPTION..."` names
// the key; the options are
//
//	required  the key must be given (and, for a string, not empty)
//	secret    its value (or what it names) must never be shown
//	path      a string that is a local path (TypePath): the host resolves it
//	          against the config file's folder
//	glob      a string that is a local glob (TypeGlob), resolved likewise
//	size      an int64 given as a size such as 10GiB (TypeSize)
//
// and the tag `doc:"..."` is the key's documentation. The key's type comes
// from the field's Go type: string (TypeString, or path/glob), []string
// (TypeStrings), bool (TypeBool), int or int64 (TypeInt, or size),
// time.Duration (TypeDuration). Fields without a source tag are the
// backend's own (values derived from the keys) and are left alone. Fields
// may be exported or not.
//
// Rules that span keys or look inside values (exactly one of two keys, a
// URL's shape, a regular expression) stay in the backend, as a short
// validation after Decode.

// Keys returns the source keys a tagged struct declares, in field order:
// the SourceKeys of a backend's DescribeResponse. v is the struct or a
// pointer to it. A tag Keys cannot read (an unknown option, a field type
// without a key type) is a mistake in the backend's code, not in a config:
// Keys panics, and the conformance suite's Describe test shows it.
func Keys(v any) []SourceKey {
	fields := schemaOf(reflect.TypeOf(v))
	keys := make([]SourceKey, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	return keys
}

// Decode fills the tagged struct v points to from src. Keys src does not
// hold leave their fields as they are (set defaults before calling), and so
// does a nil value. Every key src holds that v does not declare, every
// value of the wrong type and every missing required key is a Problem of
// kind ProblemError naming its key, in the order CheckSource gives them; a
// field whose value is wrong is left as it was. A backend checks its own
// rules on the values only when Decode returns no problem.
func Decode(src Source, v any) []Problem {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("plugins.Decode: want a pointer to a struct, got %T", v))
	}
	fields := schemaOf(rv.Type())
	keys := make([]SourceKey, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	probs := CheckSource(src, keys)
	bad := map[string]bool{}
	for _, p := range probs {
		bad[p.Key] = true
	}
	st := rv.Elem()
	for _, f := range fields {
		val, ok := src[f.key.Name]
		if !ok || val == nil || bad[f.key.Name] {
			continue
		}
		fv := st.Field(f.index)
		if !fv.CanSet() { // unexported: the caller handed us the struct's address
			fv = reflect.NewAt(fv.Type(), unsafe.Pointer(fv.UnsafeAddr())).Elem() //nolint:gosec // fv is addressable, inside *v
		}
		setField(fv, val)
	}
	return probs
}

// CheckSource checks src against declared keys: every key src holds that is
// not declared (in sorted order), then for each declared key in order a value
// of the wrong type, or a missing required key (a nil value or, for a string
// key, an empty one counts as missing). Each is a ProblemError naming its
// key. Decode calls it; the host calls it with a backend's Describe to find
// missing required keys. The messages never show a value: it may be secret.
func CheckSource(src Source, keys []SourceKey) []Problem {
	var probs []Problem
	bad := func(key, format string, args ...any) {
		probs = append(probs, Problem{Kind: ProblemError, Key: key, Message: fmt.Sprintf(format, args...)})
	}
	names := make([]string, len(keys))
	declared := make(map[string]bool, len(keys))
	for i, k := range keys {
		names[i] = k.Name
		declared[k.Name] = true
	}
	slices.Sort(names)
	var unknown []string
	for name := range src {
		if !declared[name] {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	for _, name := range unknown {
		bad(name, "unknown key %q (allowed: %s)", name, strings.Join(names, ", "))
	}
	for _, k := range keys {
		v, ok := src[k.Name]
		switch {
		case ok && v != nil && !fits(v, k.Type):
			bad(k.Name, "%s must be %s, not %s", k.Name, k.Type.Want(), describeValue(v))
		case k.Required && (v == nil || v == ""):
			bad(k.Name, "%s", MissingKey(k))
		}
	}
	return probs
}

// MissingKey is the message for a required key that is not given: the key
// and what it is, from its doc.
func MissingKey(k SourceKey) string {
	if k.Doc == "" {
		return k.Name + " is required"
	}
	return k.Name + " is required: " + k.Doc
}

// Want says what a value of the type is, for messages: "a string", "a list
// of strings", "a size such as 10GiB".
func (t KeyType) Want() string {
	switch t {
	case TypeString:
		return "a string"
	case TypePath:
		return "a string (a path)"
	case TypeGlob:
		return "a string (a glob pattern)"
	case TypeStrings:
		return "a list of strings"
	case TypeBool:
		return "true or false"
	case TypeInt:
		return "an integer"
	case TypeSize:
		return "a size such as 10GiB"
	case TypeDuration:
		return "a duration such as 24h or 7d"
	}
	return fmt.Sprintf("a value of type %q", string(t))
}

// fits reports whether v is what the host sends for a key of type t.
func fits(v any, t KeyType) bool {
	switch t {
	case TypeString, TypePath, TypeGlob:
		_, ok := v.(string)
		return ok
	case TypeStrings:
		_, ok := v.([]string)
		return ok
	case TypeBool:
		_, ok := v.(bool)
		return ok
	case TypeInt, TypeSize, TypeDuration:
		_, ok := v.(int64)
		return ok
	}
	return false
}

// describeValue names a value's kind for a message, without the value.
func describeValue(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case []string, []any:
		return "a list"
	case bool:
		return "true or false"
	case int64, int, int32:
		return "an integer"
	case float64, float32:
		return "a number with a fraction"
	}
	return fmt.Sprintf("a %T", v)
}

// field is one tagged field of a source struct.
type field struct {
	index int
	key   SourceKey
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	stringsType  = reflect.TypeFor[[]string]()
)

// schemaOf reads the tagged fields of a struct type (or a pointer to one).
func schemaOf(t reflect.Type) []field {
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("plugins: a source schema is a struct with source tags, not %v", t))
	}
	var fields []field
	seen := map[string]bool{}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, ok := sf.Tag.Lookup("source")
		if !ok {
			continue
		}
		key, err := keyOf(sf, tag)
		if err != nil {
			panic(fmt.Sprintf("plugins: source struct %v, field %s: %v", t, sf.Name, err))
		}
		if seen[key.Name] {
			panic(fmt.Sprintf("plugins: source struct %v declares key %q twice", t, key.Name))
		}
		seen[key.Name] = true
		fields = append(fields, field{index: i, key: key})
	}
	return fields
}

// keyOf reads one field's tag into a SourceKey.
func keyOf(sf reflect.StructField, tag string) (SourceKey, error) {
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		return SourceKey{}, fmt.Errorf("tag %q names no key", tag)
	}
	k := SourceKey{Name: name, Doc: sf.Tag.Get("doc")}
	var kind KeyType
	for o := range strings.SplitSeq(opts, ",") {
		switch o {
		case "":
		case "required":
			k.Required = true
		case "secret":
			k.Secret = true
		case "path", "glob", "size":
			if kind != "" {
				return SourceKey{}, fmt.Errorf("options %s and %s exclude each other", kind, o)
			}
			kind = KeyType(o)
		default:
			return SourceKey{}, fmt.Errorf("unknown option %q in tag %q", o, tag)
		}
	}
	t, err := typeOf(sf.Type, kind)
	if err != nil {
		return SourceKey{}, err
	}
	k.Type = t
	return k, nil
}

// typeOf is the key type of a field's Go type with its path, glob or size
// option.
func typeOf(t reflect.Type, opt KeyType) (KeyType, error) {
	switch {
	case t == durationType && opt == "":
		return TypeDuration, nil
	case t.Kind() == reflect.String && (opt == "" || opt == TypePath || opt == TypeGlob):
		if opt == "" {
			return TypeString, nil
		}
		return opt, nil
	case t == stringsType && opt == "":
		return TypeStrings, nil
	case t.Kind() == reflect.Bool && opt == "":
		return TypeBool, nil
	case (t.Kind() == reflect.Int || t.Kind() == reflect.Int64) && (opt == "" || opt == TypeSize):
		if opt == "" {
			return TypeInt, nil
		}
		return TypeSize, nil
	}
	if opt != "" {
		return "", fmt.Errorf("option %s does not apply to a %v", opt, t)
	}
	return "", fmt.Errorf("a %v is no source key type (string, []string, bool, int, int64, time.Duration)", t)
}

// setField stores a value CheckSource accepted for the field's type.
func setField(fv reflect.Value, v any) {
	switch x := v.(type) {
	case string:
		fv.SetString(x)
	case []string:
		fv.Set(reflect.ValueOf(slices.Clone(x)))
	case bool:
		fv.SetBool(x)
	case int64:
		fv.SetInt(x)
	}
}
