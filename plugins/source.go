package plugins

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// encodeSource encodes a source as the JSON object that travels in the
// protocol's source_json fields. Floats always carry a fraction or an
// exponent ("3.0", not "3") so that decodeSource gives back a float64, and
// integers never do, so they come back as int64. Strings must be valid UTF-8:
// JSON cannot carry anything else, and replacing bytes silently would hand
// the plugin a different path than the one configured.
func encodeSource(src Source) ([]byte, error) {
	keys := make([]string, 0, len(src))
	for k := range src {
		keys = append(keys, k)
	}
	slices.Sort(keys)

	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, k := range keys {
		if !utf8.ValidString(k) {
			return nil, fmt.Errorf("source key %q is not valid UTF-8", k)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		writeJSONString(&buf, k)
		buf.WriteByte(':')
		if err := encodeSourceValue(&buf, src[k]); err != nil {
			return nil, fmt.Errorf("source key %q: %w", k, err)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

func encodeSourceValue(buf *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		buf.WriteString("null")
	case string:
		if !utf8.ValidString(v) {
			return fmt.Errorf("value %q is not valid UTF-8", v)
		}
		writeJSONString(buf, v)
	case []string:
		buf.WriteByte('[')
		for i, s := range v {
			if !utf8.ValidString(s) {
				return fmt.Errorf("value %q is not valid UTF-8", s)
			}
			if i > 0 {
				buf.WriteByte(',')
			}
			writeJSONString(buf, s)
		}
		buf.WriteByte(']')
	case []any:
		ss := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return fmt.Errorf("list element %d is a %T, want a string", i, e)
			}
			ss[i] = s
		}
		return encodeSourceValue(buf, ss)
	case bool:
		buf.WriteString(strconv.FormatBool(v))
	case int, int8, int16, int32, int64:
		buf.WriteString(strconv.FormatInt(reflect.ValueOf(v).Int(), 10))
	case uint, uint8, uint16, uint32, uint64:
		u := reflect.ValueOf(v).Uint()
		if u > math.MaxInt64 {
			return fmt.Errorf("integer %d does not fit in an int64", u)
		}
		buf.WriteString(strconv.FormatUint(u, 10))
	case float32:
		return encodeSourceValue(buf, float64(v))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("number %v cannot be encoded", v)
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		buf.WriteString(s)
	default:
		return fmt.Errorf("unsupported value type %T (want string, []string, int64, float64 or bool)", v)
	}
	return nil
}

func writeJSONString(buf *bytes.Buffer, s string) {
	b, _ := json.Marshal(s) // cannot fail for a string
	buf.Write(b)
}

// decodeSource decodes source_json into a Source whose values are string,
// []string, int64, float64, bool or nil. A number with a fraction or an
// exponent is a float64, any other number an int64.
func decodeSource(data []byte) (Source, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode source: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("decode source: data after the JSON object")
	}
	src := make(Source, len(raw))
	for k, v := range raw {
		dv, err := decodeSourceValue(v)
		if err != nil {
			return nil, fmt.Errorf("decode source key %q: %w", k, err)
		}
		src[k] = dv
	}
	return src, nil
}

func decodeSourceValue(v any) (any, error) {
	switch v := v.(type) {
	case nil, string, bool:
		return v, nil
	case json.Number:
		s := v.String()
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, err
			}
			return f, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, err
		}
		return n, nil
	case []any:
		ss := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("list element %d is not a string", i)
			}
			ss[i] = s
		}
		return ss, nil
	default:
		return nil, fmt.Errorf("unsupported JSON value %T", v)
	}
}
