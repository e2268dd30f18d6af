package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// hclogAdapter is the hclog.Logger go-plugin writes to, logging into slog.
//
// go-plugin logs two kinds of lines through it: its own chatter ("starting
// plugin", "plugin process exited", ...) on the root logger, logged here at
// debug level at most because whatever matters reaches the caller as a
// returned error; and the plugin's stderr lines on a child named after the
// plugin executable (pluginOut), logged with the level the plugin gave them.
type hclogAdapter struct {
	l          *slog.Logger
	name       string
	pluginOut  string
	fromPlugin bool
	implied    []any
}

var _ hclog.Logger = (*hclogAdapter)(nil)

func newHCLogAdapter(l *slog.Logger, pluginOut string) *hclogAdapter {
	return &hclogAdapter{l: l, pluginOut: pluginOut}
}

func slogLevel(l hclog.Level) slog.Level {
	switch l {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (a *hclogAdapter) level(l hclog.Level) slog.Level {
	lvl := slogLevel(l)
	if !a.fromPlugin {
		lvl = min(lvl, slog.LevelDebug)
	}
	return lvl
}

func (a *hclogAdapter) Log(level hclog.Level, msg string, args ...any) {
	if a.fromPlugin {
		args = dropKey(args, "timestamp") // the plugin's clock; the host stamps its own
	}
	a.l.Log(context.Background(), a.level(level), msg, args...)
}

// dropKey removes the key-value pair with key from hclog-style args.
func dropKey(args []any, key string) []any {
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok && k == key {
			return slices.Concat(args[:i], args[i+2:])
		}
	}
	return args
}

func (a *hclogAdapter) Trace(msg string, args ...any) { a.Log(hclog.Trace, msg, args...) }
func (a *hclogAdapter) Debug(msg string, args ...any) { a.Log(hclog.Debug, msg, args...) }
func (a *hclogAdapter) Info(msg string, args ...any)  { a.Log(hclog.Info, msg, args...) }
func (a *hclogAdapter) Warn(msg string, args ...any)  { a.Log(hclog.Warn, msg, args...) }
func (a *hclogAdapter) Error(msg string, args ...any) { a.Log(hclog.Error, msg, args...) }

func (a *hclogAdapter) enabled(l hclog.Level) bool {
	return a.l.Enabled(context.Background(), a.level(l))
}

func (a *hclogAdapter) IsTrace() bool { return a.enabled(hclog.Trace) }
func (a *hclogAdapter) IsDebug() bool { return a.enabled(hclog.Debug) }
func (a *hclogAdapter) IsInfo() bool  { return a.enabled(hclog.Info) }
func (a *hclogAdapter) IsWarn() bool  { return a.enabled(hclog.Warn) }
func (a *hclogAdapter) IsError() bool { return a.enabled(hclog.Error) }

func (a *hclogAdapter) ImpliedArgs() []any { return a.implied }

func (a *hclogAdapter) With(args ...any) hclog.Logger {
	c := *a
	c.l = a.l.With(args...)
	c.implied = slices.Concat(a.implied, args)
	return &c
}

func (a *hclogAdapter) Name() string { return a.name }

func (a *hclogAdapter) Named(name string) hclog.Logger {
	c := *a
	if c.name == "" {
		c.name = name
	} else {
		c.name += "." + name
	}
	c.fromPlugin = a.fromPlugin || name == a.pluginOut
	return &c
}

func (a *hclogAdapter) ResetNamed(name string) hclog.Logger {
	c := *a
	c.name = name
	c.fromPlugin = name == a.pluginOut
	return &c
}

// SetLevel does nothing: the slog handler decides what is logged.
func (a *hclogAdapter) SetLevel(hclog.Level) {}

// GetLevel reports the lowest level the slog handler accepts.
func (a *hclogAdapter) GetLevel() hclog.Level {
	for _, l := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn, hclog.Error} {
		if a.l.Enabled(context.Background(), slogLevel(l)) {
			return l
		}
	}
	return hclog.Off
}

func (a *hclogAdapter) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

func (a *hclogAdapter) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return &logWriter{l: a.l, level: a.level(hclog.Info)}
}

// logWriter logs what is written to it, one record per line: the plugin's
// stdout and stderr after the handshake (go-plugin forwards them over gRPC).
// A line in hclog's JSON form keeps its level, message and attributes; any
// other line is logged as it is at level.
type logWriter struct {
	l     *slog.Logger
	level slog.Level
	attrs []any

	mu  sync.Mutex
	buf []byte
}

// maxLogLine bounds a line held back waiting for its newline.
const maxLogLine = 64 << 10

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	rest := w.buf
	for {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.logLine(rest[:i])
		rest = rest[i+1:]
	}
	if len(rest) >= maxLogLine {
		w.logLine(rest)
		rest = nil
	}
	w.buf = append(w.buf[:0], rest...)
	return len(p), nil
}

func (w *logWriter) logLine(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	if line[0] == '{' {
		var entry map[string]any
		if json.Unmarshal(line, &entry) == nil {
			if msg, ok := entry["@message"].(string); ok {
				level := slog.LevelInfo
				if s, ok := entry["@level"].(string); ok {
					level = slogLevel(hclog.LevelFromString(s))
				}
				var attrs []any
				keys := make([]string, 0, len(entry))
				for k := range entry {
					if !strings.HasPrefix(k, "@") {
						keys = append(keys, k)
					}
				}
				slices.Sort(keys)
				for _, k := range keys {
					attrs = append(attrs, slog.Any(k, entry[k]))
				}
				w.l.Log(context.Background(), level, msg, attrs...)
				return
			}
		}
	}
	w.l.Log(context.Background(), w.level, string(line), w.attrs...)
}
