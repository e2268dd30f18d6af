package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/record"
)

// The control API: HTTP+JSON over the agent's unix socket. Whoever may
// open the socket (its owner and group) may use every endpoint.
//
//	GET  /v1/health                   Health
//	GET  /v1/drills                   []DrillStatus
//	GET  /v1/history?drill=D&service=S&limit=N  evidence records, newest first, one JSON object per line
//	GET  /v1/position?at=T&drill=D&review_every=SECONDS...  the records the position at T needs, one JSON object per line
//	POST /v1/run?drill=D              Events, one JSON object per line, until "result"
//	GET  /v1/export?since=&until=&service=&drill=   an evidence bundle (.tar.gz); trailer Drill-Export-Error on failure
//	GET  /v1/verify[?thorough=1]      VerifyResult of the local log (422 when it does not verify)
//
// Errors are a status code and {"error": "..."}.
//
// No client can hold the evidence store: /v1/history reads the log in
// pages, each in its own read transaction closed before the page is
// written to the client, and /v1/export spools the bundle to an unlinked
// file in state_dir, its read transaction closed, before the first byte
// goes out. Each write to the client has clientWriteTimeout: a client that
// stops reading is dropped.

// Health is the agent's state.
type Health struct {
	// Status is "ok", or "stopping" once the agent stops.
	Status  string    `json:"status"`
	Version string    `json:"version"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	Config  string    `json:"config"`
	// Checkpoint is the evidence log's latest signed checkpoint.
	Checkpoint string `json:"checkpoint"`
	// ReloadError is why the last reload was refused; "" when it was not.
	ReloadError string      `json:"reload_error,omitempty"`
	Running     []RunStatus `json:"running"`
	Waiting     []RunStatus `json:"waiting"`
}

// RunStatus is a run under way or waiting for its turn.
type RunStatus struct {
	Drill   string `json:"drill"`
	Trigger string `json:"trigger"`
	// Started is zero while the run waits.
	Started time.Time `json:"started,omitzero"`
	Phase   string    `json:"phase,omitempty"`
}

// DrillStatus is one drill as `drill list` shows it.
type DrillStatus struct {
	Name     string `json:"name"`
	Service  string `json:"service"`
	Backend  string `json:"backend"`
	Schedule string `json:"schedule,omitempty"`
	// NextRun is when the drill runs next (with its jitter); zero for a
	// drill that runs only on demand.
	NextRun time.Time `json:"next_run,omitzero"`
	// State is "running", "waiting" or "".
	State string `json:"state,omitempty"`
	// Last is the drill's newest record; nil when it never ran.
	Last *record.Record `json:"last,omitempty"`
}

// Event is one line of the stream of a run on demand.
type Event struct {
	// Type is "queued", "started", "progress" or "result".
	Type string `json:"type"`
	// Position is, for "queued", how many runs wait before this one.
	Position int `json:"position,omitempty"`
	// Progress is set for "progress".
	Progress *Progress `json:"progress,omitempty"`
	// Record is, for "result", the drill's record (unsigned when Error
	// says it could not be recorded); nil when the drill did not run.
	Record *record.Record `json:"record,omitempty"`
	// Error is, for "result", what went wrong outside the drill's verdict.
	Error string `json:"error,omitempty"`
}

// Progress is how far a running drill is.
type Progress struct {
	Phase      string `json:"phase"`
	FilesDone  int64  `json:"files_done"`
	FilesTotal int64  `json:"files_total"`
	BytesDone  int64  `json:"bytes_done"`
	BytesTotal int64  `json:"bytes_total"`
}

// progressEvery is the least time between two progress events of a run.
const progressEvery = 200 * time.Millisecond

// clientWriteTimeout bounds each write of a history or export stream to
// its client: a client that reads nothing for this long is dropped. A
// variable for the tests only.
var clientWriteTimeout = 30 * time.Second

// deadlineWriter sets a fresh write deadline before each write to the
// client, so a stream lasts as long as its client keeps reading.
type deadlineWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newDeadlineWriter(w http.ResponseWriter) *deadlineWriter {
	return &deadlineWriter{w: w, rc: http.NewResponseController(w)}
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if err := d.rc.SetWriteDeadline(time.Now().Add(clientWriteTimeout)); err != nil {
		return 0, fmt.Errorf("set the write deadline of the client: %w", err)
	}
	return d.w.Write(p)
}

func (a *Agent) api() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/health", a.handleHealth)
	mux.HandleFunc("GET /v1/drills", a.handleDrills)
	mux.HandleFunc("GET /v1/history", a.handleHistory)
	mux.HandleFunc("GET /v1/position", a.handlePosition)
	mux.HandleFunc("POST /v1/run", a.handleRun)
	mux.HandleFunc("GET /v1/export", a.handleExport)
	mux.HandleFunc("GET /v1/verify", a.handleVerify)
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

func (a *Agent) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, a.health())
}

func (a *Agent) health() Health {
	running, waiting := a.queue.snapshot()
	h := Health{Status: "ok", Version: a.opt.Version, PID: os.Getpid(), Started: a.started,
		Running: []RunStatus{}, Waiting: []RunStatus{}}
	if a.drillCtx.Err() != nil {
		h.Status = "stopping"
	}
	if cp, err := a.store.Checkpoint(); err == nil {
		h.Checkpoint = string(cp)
	}
	for _, r := range running {
		started, p, _ := r.state()
		h.Running = append(h.Running, RunStatus{Drill: r.drill, Trigger: r.trigger, Started: started, Phase: string(p.Phase)})
	}
	for _, r := range waiting {
		h.Waiting = append(h.Waiting, RunStatus{Drill: r.drill, Trigger: r.trigger})
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	h.Config = a.cfg.Path
	if a.reloadErr != nil {
		h.ReloadError = a.reloadErr.Error()
	}
	return h
}

func (a *Agent) handleDrills(w http.ResponseWriter, _ *http.Request) {
	running, waiting := a.queue.snapshot()
	state := map[string]string{}
	for _, r := range running {
		state[r.drill] = "running"
	}
	for _, r := range waiting {
		state[r.drill] = "waiting"
	}
	a.mu.Lock()
	out := []DrillStatus{}
	for _, name := range a.cfg.DrillNames() {
		d := a.cfg.Drills[name]
		out = append(out, DrillStatus{Name: name, Service: d.Service, Backend: d.Backend, Schedule: d.Schedule,
			NextRun: a.next[name], State: state[name], Last: a.last[name]})
	}
	a.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) handleHistory(w http.ResponseWriter, req *http.Request) {
	drill, service := req.URL.Query().Get("drill"), req.URL.Query().Get("service")
	limit := 0
	if s := req.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, "limit %q: want a number, 0 or more", s)
			return
		}
		limit = n
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	// History reads a page of records per read transaction and calls fn
	// with the transaction closed: a slow client never holds the store.
	// A record the store has as json.Marshal writes it is sent as it is
	// (the same bytes as enc.Encode's), through a buffer: one write to
	// the client per 64 KiB, not per record.
	bw := bufio.NewWriterSize(newDeadlineWriter(w), 64<<10)
	enc := json.NewEncoder(bw)
	err := a.store.HistoryJSON(evidence.HistoryFilter{Drill: drill, Service: service, Limit: limit}, func(e *evidence.Entry, js []byte) error {
		if js != nil {
			_, _ = bw.Write(js) // a failed write fails the next, checked
			if err := bw.WriteByte('\n'); err != nil {
				return err
			}
		} else if err := enc.Encode(e.Record); err != nil {
			return err
		}
		return req.Context().Err()
	})
	if err != nil {
		// The status line is gone; an error line ends the stream.
		_ = enc.Encode(map[string]string{"error": "read the evidence store: " + err.Error()})
	}
	_ = bw.Flush()
}

// handlePosition answers the records a position needs (drills.PositionQuery:
// at, and each drill with its review_every in seconds), one JSON object a
// line, read through the store's index: a position through the agent reads
// a few records per drill, not the whole log.
func (a *Agent) handlePosition(w http.ResponseWriter, req *http.Request) {
	q, err := parsePositionQuery(req.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	recs, err := q.StoreRecords(a.store)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "read the evidence store: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(newDeadlineWriter(w))
	for _, r := range recs {
		if enc.Encode(r) != nil {
			return
		}
	}
}

// positionValues encodes q for /v1/position: at, then drill and
// review_every (seconds) in pairs.
func positionValues(q drills.PositionQuery) url.Values {
	v := url.Values{"at": {q.At.Format(time.RFC3339Nano)}}
	for _, d := range q.Drills {
		v.Add("drill", d.Drill)
		v.Add("review_every", strconv.FormatFloat(d.ReviewEvery.Seconds(), 'f', -1, 64))
	}
	return v
}

// parsePositionQuery decodes what positionValues encodes.
func parsePositionQuery(v url.Values) (drills.PositionQuery, error) {
	var q drills.PositionQuery
	at, err := time.Parse(time.RFC3339Nano, v.Get("at"))
	if err != nil {
		return q, fmt.Errorf("at %q: want an RFC 3339 time", v.Get("at"))
	}
	q.At = at
	names, windows := v["drill"], v["review_every"]
	if len(names) != len(windows) {
		return q, fmt.Errorf("%d drills but %d review_every: want one for each drill", len(names), len(windows))
	}
	for i, name := range names {
		secs, err := strconv.ParseFloat(windows[i], 64)
		if err != nil || secs < 0 || secs > 1e12 {
			return q, fmt.Errorf("review_every %q of drill %q: want seconds, 0 or more", windows[i], name)
		}
		q.Drills = append(q.Drills, drills.PositionDrill{Drill: name, ReviewEvery: time.Duration(secs * float64(time.Second))})
	}
	return q, nil
}

func (a *Agent) handleRun(w http.ResponseWriter, req *http.Request) {
	r, pos, ok := a.admit(w, req)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	s := &runStream{enc: json.NewEncoder(w), rc: http.NewResponseController(w)}
	if s.send(Event{Type: "queued", Position: pos}) {
		s.follow(req.Context(), r)
	}
}

// admit queues the run the request asks for, or answers why not.
func (a *Agent) admit(w http.ResponseWriter, req *http.Request) (*run, int, bool) {
	name := req.URL.Query().Get("drill")
	a.mu.Lock()
	_, ok := a.cfg.Drills[name]
	names := a.cfg.DrillNames()
	a.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "unknown drill %q (defined: %s)", name, strings.Join(names, ", "))
		return nil, 0, false
	}
	r, pos, err := a.submit(name, triggerDemand, req.Context())
	switch {
	case errors.Is(err, errBusy):
		msg := fmt.Sprintf("drill %s is already running or waiting to run; its result will be in drill history", name)
		if cur := a.queue.get(name); cur != nil {
			if started, _, _ := cur.state(); !started.IsZero() {
				msg = fmt.Sprintf("drill %s is already running (%s run since %s); its result will be in drill history",
					name, cur.trigger, started.Format(time.RFC3339))
			}
		}
		writeError(w, http.StatusConflict, "%s", msg)
	case errors.Is(err, errStopping):
		writeError(w, http.StatusServiceUnavailable, "the agent is stopping; run the drill when it is back")
	case err != nil:
		writeError(w, http.StatusInternalServerError, "%v", err)
	}
	return r, pos, err == nil
}

// runStream is the stream of Events of a run on demand: started, its
// progress (at most one event per progressEvery, the newest), its result.
type runStream struct {
	enc       *json.Encoder
	rc        *http.ResponseController
	sentStart bool
	sent      Progress
	lastSent  time.Time
}

// send writes e and flushes it; false when the client is gone.
func (s *runStream) send(e Event) bool {
	if err := s.enc.Encode(e); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}

// follow sends r's events until its result, or until ctx (the client)
// ends.
func (s *runStream) follow(ctx context.Context, r *run) {
	for {
		started, p, changed := r.state()
		if !started.IsZero() && !s.sentStart {
			s.sentStart = true
			if !s.send(Event{Type: "started"}) {
				return
			}
		}
		cur := Progress{Phase: string(p.Phase), FilesDone: p.FilesDone, FilesTotal: p.FilesTotal, BytesDone: p.BytesDone, BytesTotal: p.BytesTotal}
		if s.sentStart && cur != s.sent && cur.Phase != "" {
			if wait := progressEvery - time.Since(s.lastSent); wait > 0 {
				select {
				case <-time.After(wait):
					continue // take the newest progress
				case <-r.done:
				case <-ctx.Done():
					return
				}
			} else {
				s.sent, s.lastSent = cur, time.Now()
				if !s.send(Event{Type: "progress", Progress: &cur}) {
					return
				}
			}
		}
		select {
		case <-r.done:
			s.send(r.result())
			return
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

// VerifyResult is what the agent's verification of its log found.
type VerifyResult struct {
	Records int64  `json:"records"`
	Origin  string `json:"origin"`
	Root    string `json:"root"`
	// Thorough is true when every signature was checked alone.
	Thorough bool `json:"thorough,omitempty"`
	// Error is the first problem; "" when the log verified.
	Error string `json:"error,omitempty"`
}

func (a *Agent) handleVerify(w http.ResponseWriter, req *http.Request) {
	opt := evidence.VerifyOptions{Thorough: req.URL.Query().Get("thorough") == "1"}
	rep, err := a.store.VerifyWith(req.Context(), opt)
	if err != nil {
		var ve *evlog.VerifyError
		if errors.As(err, &ve) {
			writeJSON(w, http.StatusUnprocessableEntity, VerifyResult{Error: err.Error()})
			return
		}
		writeError(w, http.StatusInternalServerError, "verify the evidence log: %v", err)
		return
	}
	writeJSON(w, http.StatusOK, VerifyResult{Records: rep.Records, Origin: rep.Origin, Root: rep.Root.String(), Thorough: opt.Thorough})
}

// ExportTrailer is the trailer that carries an export's failure after its
// bytes started.
const ExportTrailer = "Drill-Export-Error"

func (a *Agent) handleExport(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	sel := bundle.Selection{Service: q.Get("service"), Drill: q.Get("drill")}
	for key, t := range map[string]*time.Time{"since": &sel.Since, "until": &sel.Until} {
		if v := q.Get(key); v != "" {
			parsed, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				writeError(w, http.StatusBadRequest, "%s %q: want an RFC 3339 time", key, v)
				return
			}
			*t = parsed
		}
	}
	// The bundle is made in one read transaction: into a file first, so
	// that the transaction is closed before the client gets a byte (a
	// client that stops reading would otherwise keep it open, and bbolt's
	// writer waits for open readers when the file grows).
	a.mu.Lock()
	dir := a.cfg.StateDir
	a.mu.Unlock()
	spool, err := os.CreateTemp(dir, ".export-*.tar.gz")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "make a spool file for the export: %v", err)
		return
	}
	// Unlinked at once: nothing is left behind, whatever happens next.
	_ = os.Remove(spool.Name())
	defer spool.Close()
	if _, err := a.store.Export(spool, sel, a.opt.Clock.Now()); err != nil {
		writeError(w, http.StatusInternalServerError, "%v", err)
		return
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		writeError(w, http.StatusInternalServerError, "read back the export: %v", err)
		return
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Header().Set("Trailer", ExportTrailer)
	if _, err := io.Copy(newDeadlineWriter(w), spool); err != nil {
		w.Header().Set(ExportTrailer, "send the bundle: "+err.Error())
	}
}
