package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/record"
)

type evidenceRecord = record.Record

// Alert is the JSON an alert target gets: a webhook as a POST body, a
// command on its stdin. It never holds a secret: no source, no URL.
type Alert struct {
	// Event is "status_changed" (the service's recovery position changed,
	// a drill's result or the passing of time changed it),
	// "drill_failed" or "drill_errored" (a drill did not pass, and its
	// service's status stayed as it was).
	Event   string    `json:"event"`
	Time    time.Time `json:"time"`
	Host    string    `json:"host"`
	Service string    `json:"service"`
	Owner   string    `json:"owner"`
	// Status is the service's status now; PreviousStatus its status before
	// (status_changed only).
	Status         string `json:"status"`
	PreviousStatus string `json:"previous_status,omitempty"`
	// Drill, Verdict, Reasons and LogIndex are the record that caused the
	// alert; empty when time did (a claim going stale).
	Drill    string         `json:"drill,omitempty"`
	Verdict  record.Verdict `json:"verdict,omitempty"`
	Reasons  []string       `json:"reasons"`
	LogIndex *int64         `json:"log_index,omitempty"`
}

// Delivery limits: a full queue drops the oldest alert; each delivery is
// tried this often, this long each, with this backoff.
const (
	alertQueue    = 256
	alertAttempts = 3
	alertTimeout  = 10 * time.Second
	alertBackoff  = time.Second
)

// alertGrace is how long the alerts still queued when the agent stops
// get to be delivered. A variable for the tests only.
var alertGrace = 5 * time.Second

// delivery is one message for one target.
type delivery struct {
	what    string // for the log, without secrets
	webhook string
	command []string
	ping    string
	body    []byte
}

// alerter delivers alerts and pings, each target on a goroutine of its
// own (a lane), so that an unreachable target delays neither a drill nor
// the other targets.
type alerter struct {
	log     *slog.Logger
	client  *http.Client
	ctx     context.Context
	mu      sync.Mutex
	lanes   map[string]*lane
	dropped atomic.Int64
	wg      sync.WaitGroup
	closing bool // set by close: lanes stop once empty
}

// lane is the queue of one target.
type lane struct {
	mu    sync.Mutex
	queue []delivery
	wake  chan struct{}
}

// newAlerter delivers until ctx ends; wait waits for the lanes to stop.
func newAlerter(ctx context.Context, log *slog.Logger) *alerter {
	return &alerter{ctx: ctx, log: log, client: &http.Client{Timeout: alertTimeout}, lanes: map[string]*lane{}}
}

// enqueue adds d to its target's lane without blocking; when the lane is
// full its oldest delivery is dropped.
func (a *alerter) enqueue(key string, d delivery) {
	a.mu.Lock()
	if a.ctx.Err() != nil || a.closing {
		a.mu.Unlock()
		return
	}
	l := a.lanes[key]
	if l == nil {
		l = &lane{wake: make(chan struct{}, 1)}
		a.lanes[key] = l
		a.wg.Add(1)
		go a.drain(l)
	}
	a.mu.Unlock()
	l.mu.Lock()
	if len(l.queue) >= alertQueue {
		l.queue = l.queue[1:]
		a.dropped.Add(1)
		a.log.Warn("alert queue full: dropped the oldest alert", "target", d.what, "dropped_total", a.dropped.Load())
	}
	l.queue = append(l.queue, d)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// send queues alert for every target.
func (a *alerter) send(targets []*config.Notify, alert Alert) {
	body, err := json.Marshal(alert)
	if err != nil {
		a.log.Error("encode alert", "err", err)
		return
	}
	for _, t := range targets {
		d := delivery{body: body, webhook: t.Webhook, command: t.Command}
		key := t.Webhook
		if t.Webhook != "" {
			d.what = "webhook " + urlHost(t.Webhook)
		} else {
			d.what = "command " + t.Command[0]
			key = strings.Join(t.Command, "\x00")
		}
		a.enqueue(key, d)
	}
}

// ping queues a Healthchecks-style ping.
func (a *alerter) ping(u, suffix string) {
	if u == "" {
		return
	}
	a.enqueue(u, delivery{what: "healthcheck " + urlHost(u) + suffix, ping: strings.TrimSuffix(u, "/") + suffix})
}

// close lets every lane deliver what it holds, for at most grace, and
// stops them.
func (a *alerter) close(grace time.Duration, stop context.CancelFunc) {
	a.mu.Lock()
	a.closing = true
	for _, l := range a.lanes {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
	a.mu.Unlock()
	t := time.AfterFunc(grace, stop)
	a.wg.Wait()
	t.Stop()
	stop()
}

func (a *alerter) drain(l *lane) {
	defer a.wg.Done()
	for {
		l.mu.Lock()
		var d *delivery
		if len(l.queue) > 0 {
			d = &l.queue[0]
			l.queue = l.queue[1:]
		}
		l.mu.Unlock()
		if d != nil {
			a.deliver(a.ctx, *d)
			continue
		}
		a.mu.Lock()
		closing := a.closing
		a.mu.Unlock()
		if closing {
			return
		}
		select {
		case <-a.ctx.Done():
			return
		case <-l.wake:
		}
	}
}

func (a *alerter) deliver(ctx context.Context, d delivery) {
	var err error
	for attempt := 1; attempt <= alertAttempts; attempt++ {
		if err = a.try(ctx, d); err == nil {
			return
		}
		if attempt < alertAttempts {
			select {
			case <-ctx.Done():
				attempt = alertAttempts
			case <-time.After(alertBackoff << (attempt - 1)):
			}
		}
	}
	a.log.Warn("alert not delivered", "target", d.what, "attempts", alertAttempts, "err", err)
}

func (a *alerter) try(ctx context.Context, d delivery) error {
	ctx, cancel := context.WithTimeout(ctx, alertTimeout)
	defer cancel()
	switch {
	case d.command != nil:
		cmd := exec.CommandContext(ctx, d.command[0], d.command[1:]...)
		cmd.Stdin = bytes.NewReader(d.body)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	default:
		method, target, body := http.MethodPost, d.webhook, d.body
		if d.ping != "" {
			method, target, body = http.MethodPost, d.ping, nil
		}
		req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "drill-agent")
		resp, err := a.client.Do(req)
		if err != nil {
			// The error holds the URL, and a URL may hold a token.
			var ue *url.Error
			if errors.As(err, &ue) {
				return ue.Err
			}
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode >= 300 {
			return fmt.Errorf("HTTP %s", resp.Status)
		}
		return nil
	}
}

// urlHost is a URL's host, for logs: the path and query may hold a token.
func urlHost(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Host
	}
	return "?"
}

// checkPosition compares the services' statuses with the last ones and
// alerts on every change; rec, when set, is the record just appended (its
// drill failing without a change of status is alerted too). The first
// call compares with the statuses saved in state_dir by the agent that ran
// before; with none saved, it only takes the statuses as they are.
func (a *Agent) checkPosition(rec *evidenceRecord) {
	pos := a.position()
	a.mu.Lock()
	targets, stateDir := a.cfg.Notify, a.cfg.StateDir
	first := false
	if a.statuses == nil {
		saved, err := loadStatuses(stateDir)
		if err != nil {
			a.log.Warn("read the alert statuses", "err", err)
		}
		first = saved == nil
		a.statuses = saved
	}
	// The statuses now, of the services in the config.
	statuses := make(map[string]string, len(pos))
	var alerts []Alert
	now := a.opt.Clock.Now().UTC()
	for _, sp := range pos {
		prev, known := a.statuses[sp.Service]
		statuses[sp.Service] = string(sp.Status)
		al := Alert{Time: now, Host: a.opt.Host, Service: sp.Service, Owner: sp.Owner, Status: string(sp.Status), Reasons: []string{}}
		mine := rec != nil && rec.Service == sp.Service
		if mine {
			idx := rec.LogIndex
			al.Drill, al.Verdict, al.Reasons, al.LogIndex = rec.Drill, rec.Verdict, rec.Reasons, &idx
		}
		switch {
		case first:
		case !known || prev != string(sp.Status):
			if known || sp.Status != "untested" {
				al.Event, al.PreviousStatus = "status_changed", prev
				if !known {
					al.PreviousStatus = "untested"
				}
				if !mine {
					al.Reasons = append(al.Reasons, sp.Reasons...)
				}
				alerts = append(alerts, al)
			}
		case mine && rec.Verdict == record.VerdictFail:
			al.Event = "drill_failed"
			alerts = append(alerts, al)
		case mine && rec.Verdict == record.VerdictError:
			al.Event = "drill_errored"
			alerts = append(alerts, al)
		}
	}
	changed := first || !maps.Equal(a.statuses, statuses)
	a.statuses = statuses
	// Saved under the lock, so that saves are in the order of the checks.
	if changed {
		if err := saveStatuses(stateDir, statuses); err != nil {
			a.log.Warn("alerts on status changes may repeat after a restart", "err", err)
		}
	}
	a.mu.Unlock()
	for _, al := range alerts {
		a.log.Info("alert", "event", al.Event, "service", al.Service, "status", al.Status, "previous", al.PreviousStatus, "drill", al.Drill)
		a.alerts.send(targets, al)
	}
}
