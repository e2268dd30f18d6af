package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// ErrNoAgent is returned by Dial when no agent listens on the socket: the
// CLI then works in-process.
var ErrNoAgent = errors.New("no drill agent is listening")

// StatusError is an error answer of the agent.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string { return "the agent says: " + e.Message }

// Client talks to a running agent over its socket.
type Client struct {
	socket string
	hc     *http.Client
}

// Dial connects to the agent on socket and returns its health. It returns
// an error wrapping ErrNoAgent when nothing listens there (no socket, or
// one left by an agent that died), and a plain error, saying what to do,
// when the socket may not be used.
func Dial(ctx context.Context, socket string) (*Client, *Health, error) {
	c := &Client{socket: socket, hc: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		},
		DisableCompression: true,
	}}}
	var h Health
	err := c.get(ctx, "/v1/health", &h)
	switch {
	case err == nil:
		return c, &h, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return nil, nil, fmt.Errorf("%w on %s", ErrNoAgent, socket)
	case errors.Is(err, fs.ErrPermission):
		return nil, nil, fmt.Errorf("the drill agent's socket %s may not be used by this user: %w (ask for membership of the socket's group, socket_group in the config, or run as the agent's user)", socket, fs.ErrPermission)
	}
	return nil, nil, fmt.Errorf("talk to the drill agent on %s: %w", socket, err)
}

func (c *Client) url(path string, q url.Values) string {
	u := "http://drill-agent" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (c *Client) do(ctx context.Context, method, path string, q url.Values) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, q), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = resp.Status
		}
		return nil, &StatusError{Code: resp.StatusCode, Message: e.Error}
	}
	return resp, nil
}

func (c *Client) get(ctx context.Context, path string, v any) error {
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

// Drills returns every drill of the agent's config.
func (c *Client) Drills(ctx context.Context) ([]DrillStatus, error) {
	var out []DrillStatus
	return out, c.get(ctx, "/v1/drills", &out)
}

// HistoryFilter selects records: a drill's, a service's (when not ""),
// at most Limit (when > 0).
type HistoryFilter = evidence.HistoryFilter

// History calls fn for each record f selects, newest first.
func (c *Client) History(ctx context.Context, f HistoryFilter, fn func(*record.Record) error) error {
	return c.HistoryJSON(ctx, f, func(r *record.Record, _ []byte) error { return fn(r) })
}

// HistoryJSON is History, with each record's JSON as the agent sent it
// when that is what json.Marshal writes for the record, escaped or not
// (envelope.DecodeCanonicalRecord); nil otherwise. js is only valid
// during fn.
func (c *Client) HistoryJSON(ctx context.Context, f HistoryFilter, fn func(r *record.Record, js []byte) error) error {
	q := url.Values{}
	if f.Drill != "" {
		q.Set("drill", f.Drill)
	}
	if f.Service != "" {
		q.Set("service", f.Service)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	return c.records(ctx, "/v1/history", q, fn)
}

// PositionRecords returns the records the position q asks for needs
// (drills.PositionQuery.Records), read by the agent through its index.
func (c *Client) PositionRecords(ctx context.Context, q drills.PositionQuery) ([]*record.Record, error) {
	var recs []*record.Record
	err := c.records(ctx, "/v1/position", positionValues(q), func(r *record.Record, _ []byte) error {
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// records calls fn for each record of the stream the agent answers path
// with, one JSON object a line, and the line when it is canonical
// (envelope.DecodeCanonicalRecord, which parses it without
// encoding/json); a line {"error": ...} ends it with that error.
func (c *Client) records(ctx context.Context, path string, q url.Values, fn func(*record.Record, []byte) error) error {
	resp, err := c.do(ctx, http.MethodGet, path, q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return readLines(resp.Body, func(line []byte) error {
		if rec, ok := envelope.DecodeCanonicalRecord(line); ok {
			return fn(rec, line)
		}
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(line, &e) == nil && e.Error != "" {
			return &StatusError{Code: http.StatusInternalServerError, Message: e.Error}
		}
		var rec record.Record
		if err := json.Unmarshal(line, &rec); err != nil {
			return fmt.Errorf("read a record from the agent: %w", err)
		}
		return fn(&rec, nil)
	})
}

// Run runs drill in the agent, calling fn with every event, and returns
// the final "result" event. Ending ctx interrupts the drill (the agent
// records it as interrupted).
func (c *Client) Run(ctx context.Context, drill string, fn func(Event)) (*Event, error) {
	resp, err := c.do(ctx, http.MethodPost, "/v1/run", url.Values{"drill": {drill}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var result *Event
	err = readLines(resp.Body, func(line []byte) error {
		var e Event
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("read an event from the agent: %w", err)
		}
		if e.Type == "result" {
			result = &e
		}
		if fn != nil {
			fn(e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if result == nil {
		return nil, errors.New("the agent ended the run's stream without a result (did it stop?); see drill history")
	}
	return result, nil
}

// readLines calls fn for each line of r.
func readLines(r io.Reader, fn func([]byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// Export writes an evidence bundle of the records sel selects to w.
func (c *Client) Export(ctx context.Context, sel bundle.Selection, w io.Writer) error {
	q := url.Values{}
	for k, v := range map[string]string{"service": sel.Service, "drill": sel.Drill} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if !sel.Since.IsZero() {
		q.Set("since", sel.Since.Format(time.RFC3339Nano))
	}
	if !sel.Until.IsZero() {
		q.Set("until", sel.Until.Format(time.RFC3339Nano))
	}
	resp, err := c.do(ctx, http.MethodGet, "/v1/export", q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("receive the bundle from the agent: %w", err)
	}
	if msg := resp.Trailer.Get(ExportTrailer); msg != "" {
		return &StatusError{Code: http.StatusInternalServerError, Message: msg}
	}
	return nil
}

// Verify has the agent verify its evidence log, checking every signature
// alone when opt.Thorough. A log that does not verify is a result with
// Error set, not an error.
func (c *Client) Verify(ctx context.Context, opt evidence.VerifyOptions) (*VerifyResult, error) {
	path := "/v1/verify"
	if opt.Thorough {
		path += "?thorough=1"
	}
	resp, err := c.do(ctx, http.MethodGet, path, nil)
	var se *StatusError
	if errors.As(err, &se) && se.Code == http.StatusUnprocessableEntity {
		return &VerifyResult{Error: se.Message}, nil
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out VerifyResult
	return &out, json.NewDecoder(resp.Body).Decode(&out)
}
