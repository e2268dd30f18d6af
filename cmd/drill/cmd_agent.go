package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
)

func newAgentCmd(e *env) *cobra.Command {
	var logFormat string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run the drill agent: scheduled drills, the control socket, metrics",
		Long: `Run the drill agent: it runs every drill on its schedule, serves drill run,
list and history on the socket from the config, and serves Prometheus metrics
on metrics_listen. Meant to run under systemd (packaging/drill.service).

Signals: SIGTERM or SIGINT cancel running drills (recorded as interrupted)
and exit 0 within stop_timeout, a second one exits at once; SIGHUP reloads
the config, keeping the one in force when the new one has problems.

Exit codes: 0 stopped by a signal; 78 the config has problems (EX_CONFIG,
so that systemd does not restart it in a loop); 1 it could not start
(another agent holds the state dir or the socket, ...).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := agentLogger(e, cmd, logFormat)
			if err != nil {
				return usageError{err}
			}
			e.log = log
			cfg, err := e.loadConfig()
			if err != nil {
				return withCode(exitConfig, err)
			}
			return serveAgent(ctxOf(cmd), e, cfg, log)
		},
	}
	cmd.Flags().StringVar(&logFormat, "log-format", "auto", "log format: auto (JSON under systemd, text otherwise), text or json")
	return cmd
}

// agentLogger is the agent's logger: level info unless --log-level says
// otherwise; JSON under systemd (its journal parses the fields), text on
// a terminal.
func agentLogger(e *env, cmd *cobra.Command, format string) (*slog.Logger, error) {
	level := slog.LevelInfo
	if f := cmd.Flags().Lookup("log-level"); f != nil && f.Changed {
		if err := level.UnmarshalText([]byte(e.logLevel)); err != nil {
			return nil, errors.New("--log-level: want debug, info, warn or error")
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "auto":
		if os.Getenv("JOURNAL_STREAM") != "" || os.Getenv("INVOCATION_ID") != "" {
			return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
		}
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "text":
		return slog.New(slog.NewTextHandler(e.stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(e.stderr, opts)), nil
	}
	return nil, errors.New("--log-format: want auto, text or json")
}

// serveAgent runs the agent for cfg until ctx ends (SIGTERM, SIGINT),
// reloading its config on SIGHUP.
func serveAgent(ctx context.Context, e *env, cfg *config.Config, log *slog.Logger) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	a, err := agent.Open(ctx, cfg, agent.Options{
		Load:      config.Load,
		OpenStore: func(c *config.Config) (*evidence.Store, error) { return openStore(c, false) },
		Launcher:  func(c *config.Config) (drills.Launcher, error) { return e.launcher(c) },
		Logger:    log,
		Version:   version,
		Host:      drills.Hostname(),
		Notify:    agent.Systemd{Logger: log},
	})
	if err != nil {
		return withCode(exitFail, err)
	}
	for {
		select {
		case <-ctx.Done():
			// Drills still running after stop_timeout are logged, and
			// recorded as interrupted at the next start: a stop by a
			// signal exits 0 all the same.
			_ = a.Close(context.Background())
			return nil
		case <-hup:
			a.Reload()
		}
	}
}
