package main

import (
	"context"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
)

// drillHost is where a command runs drills and reads the evidence: the
// agent listening on the config's socket (agentHost), or this process,
// with the config and the evidence store of its state_dir (localHost).
// hostFor chooses one, once per command; the commands (run, list,
// history, position, evidence verify and export) do not know which.
//
// An error that carries an exit code (withCode, usageError) is final: the
// command returns it as it is.
type drillHost interface {
	// InAgent reports whether this is the agent: drills then run in it,
	// on its schedules, and it holds the evidence store.
	InAgent() bool
	// Recover finishes, before the first Run, what a drill process that
	// died left behind, and returns the records it wrote for drills that
	// never finished. The agent did so when it started: none.
	Recover(ctx context.Context) ([]*record.Record, error)
	// Run runs drill now, reporting to w, and returns its record (nil when
	// none was recorded) with the error that kept the drill from passing
	// or from being recorded, ready to print. Ending ctx interrupts the
	// drill, which is recorded as interrupted.
	Run(ctx context.Context, drill string, w runWatch) (*record.Record, error)
	// Drills returns every drill of the config, with its next run and
	// newest record. Without an evidence store, no drill has a record.
	Drills(ctx context.Context) ([]agent.DrillStatus, error)
	// History calls fn for each record f selects, newest first, until fn
	// returns an error, which History returns. js, when not nil, is what
	// json.Marshal writes for the record, escaped or not (the store or
	// the agent had it in that form: envelope.DecodeCanonicalRecord); it
	// is only valid during fn. Without an evidence store it returns a
	// *noStoreError.
	History(ctx context.Context, f agent.HistoryFilter, fn func(r *record.Record, js []byte) error) error
	// Evidence returns the records the position q asks for needs (at
	// least those q.Records reads; every record from a store without
	// indexes), in no particular order, and the latest signed checkpoint
	// ("" when there is none). Without an evidence store it returns
	// neither, and no error: nothing is proven.
	Evidence(ctx context.Context, q drills.PositionQuery) (recs []*record.Record, checkpoint string, err error)
	// Export writes a signed bundle of the records sel selects to w.
	Export(ctx context.Context, sel selection, w io.Writer) error
	// Verify recomputes and checks the whole evidence log (every signature
	// alone when opt.Thorough). A log that does not verify is a result
	// with Error set, not an error.
	Verify(ctx context.Context, opt evidence.VerifyOptions) (*agent.VerifyResult, error)
	// Close releases what Recover and Run opened. It is safe to call once
	// on any host.
	Close() error
}

// runWatch is what the command watches of a drill under way; a nil
// field is not watched.
type runWatch struct {
	// progress is called as the drill goes through its phases.
	progress func(drills.Progress)
	// queued is called when the agent makes the drill wait for ahead
	// drills before it (max_concurrent).
	queued func(drill string, ahead int)
}

// hostFor decides where the command works, by one rule: when an agent
// answers on cfg's socket, the command works through it (it runs the
// scheduled drills and holds the evidence store open, so drills run and
// evidence is read there); when nothing listens there (no socket, or one
// left by an agent that died), in this process, with cfg and its
// state_dir. A socket this user may not use, or an agent that does not
// answer as one, is a usage error (exit 2): the command then does not
// work behind the agent's back.
func hostFor(ctx context.Context, e *env, cfg *config.Config) (drillHost, error) {
	c, h, err := agent.Dial(ctx, cfg.Socket)
	switch {
	case errors.Is(err, agent.ErrNoAgent):
		return &localHost{e: e, cfg: cfg}, nil
	case err != nil:
		return nil, withCode(exitUsage, err)
	}
	return &agentHost{c: c, health: h}, nil
}

// onHost loads the config, chooses where to work with it (hostFor), and
// calls fn there; it returns what fn returns.
func (e *env) onHost(cmd *cobra.Command, fn func(ctx context.Context, cfg *config.Config, h drillHost) error) error {
	cfg, err := e.loadConfig()
	if err != nil {
		return err
	}
	h, err := hostFor(ctxOf(cmd), e, cfg)
	if err != nil {
		return err
	}
	defer h.Close()
	return fn(ctxOf(cmd), cfg, h)
}
