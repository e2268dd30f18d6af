package agent

import (
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/record"
)

// verdicts are the values of drill_last_verdict's verdict label.
var verdicts = []record.Verdict{record.VerdictPass, record.VerdictFail, record.VerdictError, record.VerdictInterrupted}

// metrics are the agent's Prometheus series, in a registry of their own.
// Every per-drill series has the one label drill; drill_info joins it to
// service and backend.
type metrics struct {
	reg         *prometheus.Registry
	info        *prometheus.GaugeVec
	lastRun     *prometheus.GaugeVec
	lastSuccess *prometheus.GaugeVec
	lastVerdict *prometheus.GaugeVec
	duration    *prometheus.HistogramVec
	restored    *prometheus.GaugeVec
	runs        *prometheus.CounterVec
	skips       *prometheus.CounterVec
	period      *prometheus.GaugeVec
	timeout     *prometheus.GaugeVec
	nextRun     *prometheus.GaugeVec

	mu     sync.Mutex
	drills map[string]*config.Drill // the series' drills, to drop on reload
}

func newMetrics(version string, position func() []drills.ServicePosition) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), drills: map[string]*config.Drill{}}
	m.reg.MustRegister(serviceStatus{position})
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(g)
		return g
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	m.info = gauge("drill_info", "A drill of the config, with its service and backend (always 1).", "drill", "service", "backend")
	m.lastRun = gauge("drill_last_run_timestamp_seconds", "When the drill's newest record finished, whatever its verdict.", "drill")
	m.lastSuccess = gauge("drill_last_success_timestamp_seconds", "When the drill last passed.", "drill")
	m.lastVerdict = gauge("drill_last_verdict", "The verdict of the drill's newest record: 1 for it, 0 for the others.", "drill", "verdict")
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "drill_duration_seconds", Help: "How long drills took, from start to record, since the agent started.",
		Buckets: []float64{1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800, 86400},
	}, []string{"drill"})
	m.reg.MustRegister(m.duration)
	m.restored = gauge("drill_restored_bytes", "Bytes restored by the drill's newest record.", "drill")
	m.runs = counter("drill_runs_total", "Drills run since the agent started, by verdict.", "drill", "verdict")
	m.skips = counter("drill_skipped_overlap_total", "Scheduled runs skipped because the drill's previous run had not finished.", "drill")
	m.period = gauge("drill_schedule_period_seconds", "The longest gap between two scheduled runs of the drill.", "drill")
	m.timeout = gauge("drill_timeout_seconds", "The drill's timeout.", "drill")
	m.nextRun = gauge("drill_next_run_timestamp_seconds", "When the drill runs next on its schedule.", "drill")
	build := gauge("drill_agent_build_info", "The agent's version (always 1).", "version", "goversion")
	build.WithLabelValues(version, runtime.Version()).Set(1)
	up := gauge("drill_agent_up", "1 while the agent runs.")
	up.WithLabelValues().Set(1)
	start := gauge("drill_agent_start_time_seconds", "When the agent started.")
	start.WithLabelValues().Set(float64(time.Now().UnixNano()) / 1e9)
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func seconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// setDrills makes the per-drill series those of cfg's drills: series of
// drills no longer in cfg are dropped, and each drill's schedule series
// and last record set.
func (m *metrics) setDrills(cfg *config.Config, timings map[string]timing, last, lastPass map[string]*record.Record, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for name, d := range m.drills {
		if nd, ok := cfg.Drills[name]; !ok || nd.Service != d.Service || nd.Backend != d.Backend {
			m.info.DeleteLabelValues(name, d.Service, d.Backend)
		}
		if _, ok := cfg.Drills[name]; !ok {
			for _, v := range []*prometheus.GaugeVec{m.lastRun, m.lastSuccess, m.lastVerdict, m.restored, m.period, m.timeout, m.nextRun} {
				v.DeletePartialMatch(prometheus.Labels{"drill": name})
			}
			m.duration.DeletePartialMatch(prometheus.Labels{"drill": name})
			m.runs.DeletePartialMatch(prometheus.Labels{"drill": name})
			m.skips.DeletePartialMatch(prometheus.Labels{"drill": name})
		}
	}
	m.drills = map[string]*config.Drill{}
	for name, d := range cfg.Drills {
		m.drills[name] = d
		m.info.WithLabelValues(name, d.Service, d.Backend).Set(1)
		m.timeout.WithLabelValues(name).Set(d.Timeout.Seconds())
		// Counters start at 0, so that rate() and increase() see the first run.
		for _, v := range verdicts {
			m.runs.WithLabelValues(name, string(v))
		}
		m.skips.WithLabelValues(name)
		m.period.DeleteLabelValues(name)
		m.nextRun.DeleteLabelValues(name)
		if t, ok := timings[name]; ok {
			m.period.WithLabelValues(name).Set(t.period(now).Seconds())
			if n := t.next(now); !n.IsZero() {
				m.nextRun.WithLabelValues(name).Set(seconds(n))
			}
		}
		if rec := last[name]; rec != nil {
			m.setLastLocked(rec)
		}
		if p := lastPass[name]; p != nil {
			m.lastSuccess.WithLabelValues(name).Set(seconds(p.Finished))
		}
	}
}

// setLast sets the series of a drill's newest record.
func (m *metrics) setLastLocked(rec *record.Record) {
	m.lastRun.WithLabelValues(rec.Drill).Set(seconds(rec.Finished))
	for _, v := range verdicts {
		val := 0.0
		if v == rec.Verdict {
			val = 1
		}
		m.lastVerdict.WithLabelValues(rec.Drill, string(v)).Set(val)
	}
	m.restored.WithLabelValues(rec.Drill).Set(float64(rec.Bytes))
}

// observe records a drill's new record.
func (m *metrics) observe(rec *record.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.setLastLocked(rec)
	if rec.Verdict == record.VerdictPass {
		m.lastSuccess.WithLabelValues(rec.Drill).Set(seconds(rec.Finished))
	}
	m.runs.WithLabelValues(rec.Drill, string(rec.Verdict)).Inc()
	m.duration.WithLabelValues(rec.Drill).Observe(rec.Finished.Sub(rec.Started).Seconds())
}

// skipped counts a scheduled run skipped for overlap.
func (m *metrics) skipped(drill string) { m.skips.WithLabelValues(drill).Inc() }

// setNext sets when a drill runs next.
func (m *metrics) setNext(drill string, t time.Time) {
	if t.IsZero() {
		m.nextRun.DeleteLabelValues(drill)
		return
	}
	m.nextRun.WithLabelValues(drill).Set(seconds(t))
}

// serviceStatus exports drill_service_status{service, status}: 1 for each
// service's status, 0 for the others, computed at each scrape so that a
// claim going stale shows without any drill running.
type serviceStatus struct {
	position func() []drills.ServicePosition
}

var serviceStatusDesc = prometheus.NewDesc("drill_service_status",
	"The recovery position of each service: 1 for its status (proven, at_risk, failing, stale, untested), 0 for the others.",
	[]string{"service", "status"}, nil)

var statuses = []drills.Status{drills.StatusProven, drills.StatusAtRisk, drills.StatusFailing, drills.StatusStale, drills.StatusUntested}

func (serviceStatus) Describe(ch chan<- *prometheus.Desc) { ch <- serviceStatusDesc }

func (s serviceStatus) Collect(ch chan<- prometheus.Metric) {
	for _, sp := range s.position() {
		for _, st := range statuses {
			v := 0.0
			if st == sp.Status {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(serviceStatusDesc, prometheus.GaugeValue, v, sp.Service, string(st))
		}
	}
}
