// Package agent is the drill daemon (`drill agent`): it runs drills on
// their schedules, serves operators over a unix socket, and survives
// faults.
//
//   - Scheduling (timing.go, runs.go): each drill's schedule, shifted by a
//     fixed jitter offset per host and drill; never two runs of one drill
//     at once (a scheduled run that would overlap is skipped and counted);
//     at most max_concurrent drills at once, the rest queued in order; a
//     drill that missed a run while the agent was down runs once at
//     start-up (catch_up).
//   - Control API (api.go, client.go): HTTP+JSON over the unix socket
//     (mode 0660, group socket_group): run a drill and stream its progress
//     and result, list drills, history, health. The CLI's run, list and
//     history use it when an agent listens, so the agent stays the only
//     process that opens the evidence store.
//   - Lifecycle (agent.go, notify.go): Open starts the agent (store,
//     launcher, drills' start-up recovery, socket, metrics, catch-up,
//     scheduler) and tells systemd it is ready (Type=notify readiness,
//     watchdog and status); Reload (SIGHUP) reloads the config, keeping
//     the old one when the new one is bad; Close (SIGTERM) cancels running
//     drills, which record themselves as interrupted, within stop_timeout.
//     Start markers make a drill killed with the agent an interrupted
//     record at the next start. `drill agent` (cmd/drill/cmd_agent.go)
//     maps signals to these calls.
//   - Time (clock.go): one Clock gives the time of schedules and records
//     and the scheduler's timer, so that the package's tests drive a real
//     agent on a fake clock (fake_test.go).
//   - Metrics (metrics.go): Prometheus series per drill on metrics_listen.
//
// Scheduled and on-demand drills share one path: a drills.Runner per run
// over the agent's one evidence store.
package agent
