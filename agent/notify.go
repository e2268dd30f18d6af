package agent

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// Notifier tells the service manager how the agent is doing, in
// sd_notify(3) terms: READY=1, STATUS=..., WATCHDOG=1, RELOADING=1,
// STOPPING=1.
type Notifier interface {
	// Notify sends state; it never fails the agent.
	Notify(state string)
	// WatchdogInterval is how often WATCHDOG=1 must be sent, 0 when the
	// service manager does not watch.
	WatchdogInterval() time.Duration
}

type noNotifier struct{}

func (noNotifier) Notify(string)                   {}
func (noNotifier) WatchdogInterval() time.Duration { return 0 }

// Systemd is the Notifier for a service started by systemd: it writes to
// $NOTIFY_SOCKET, and is silent without it.
type Systemd struct {
	Logger *slog.Logger
}

// Notify implements Notifier.
func (s Systemd) Notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil && s.Logger != nil {
		s.Logger.Warn("tell systemd the agent's state", "err", err)
	}
}

// WatchdogInterval implements Notifier: $WATCHDOG_USEC, when it is meant
// for this process.
func (s Systemd) WatchdogInterval() time.Duration {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0
	}
	return d
}

// reloadingNotice is RELOADING=1 with the MONOTONIC_USEC that systemd's
// Type=notify-reload wants (and Type=notify accepts).
func reloadingNotice(time.Time) string {
	return "RELOADING=1\n" + daemon.SdNotifyMonotonicUsec()
}

// watchdog sends WATCHDOG=1 at half the watchdog interval while the
// scheduler answers, so that a stuck agent is restarted.
func (a *Agent) watchdog(ctx context.Context) {
	every := a.opt.Notify.WatchdogInterval() / 2
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		reply := make(chan struct{})
		select {
		case a.alive <- reply:
			<-reply
			a.opt.Notify.Notify("WATCHDOG=1")
		case <-time.After(every):
			a.log.Error("scheduler did not answer the watchdog check; not telling systemd the agent is alive")
		case <-ctx.Done():
			return
		}
	}
}
