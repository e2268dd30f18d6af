package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/drills"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/record"
	"github.com/drillhq/drill/internal/textsafe"
	"github.com/drillhq/drill/plugins"
)

// agentHost is the running agent, over its socket: it runs the drills
// and records them, and answers from its evidence store.
type agentHost struct {
	c      *agent.Client
	health *agent.Health // as the agent answered when dialled
}

var _ drillHost = (*agentHost)(nil)

func (a *agentHost) InAgent() bool { return true }

func (a *agentHost) Recover(context.Context) ([]*record.Record, error) { return nil, nil }

// Run runs drill in the agent, which records it. Ending ctx interrupts
// it, which ends the command (exit 3); a drill the agent does not know
// (its config is not the command's) is a usage error.
func (a *agentHost) Run(ctx context.Context, drill string, w runWatch) (*record.Record, error) {
	res, err := a.c.Run(ctx, drill, func(ev agent.Event) {
		if ev.Type == "queued" && ev.Position > 0 && w.queued != nil {
			w.queued(drill, ev.Position)
		}
		if ev.Type == "progress" && w.progress != nil {
			p := ev.Progress
			w.progress(drills.Progress{Drill: drill, Phase: drills.Phase(p.Phase), Progress: plugins.Progress{
				FilesDone: p.FilesDone, FilesTotal: p.FilesTotal, BytesDone: p.BytesDone, BytesTotal: p.BytesTotal}})
		}
	})
	var se *agent.StatusError
	switch {
	case ctx.Err() != nil:
		return nil, withCode(exitError, fmt.Errorf("interrupted; the agent records drill %s as interrupted", drill))
	case errors.As(err, &se) && se.Code == http.StatusNotFound:
		return nil, usageError{se}
	case err != nil:
		return nil, errors.New(textsafe.Escape(err.Error()))
	case res.Error != "":
		return res.Record, errors.New(textsafe.Escape(res.Error))
	}
	return res.Record, nil
}

func (a *agentHost) Drills(ctx context.Context) ([]agent.DrillStatus, error) {
	return a.c.Drills(ctx)
}

func (a *agentHost) History(ctx context.Context, f agent.HistoryFilter, fn func(*record.Record, []byte) error) error {
	return a.c.HistoryJSON(ctx, f, fn)
}

// Evidence returns the records of the position q, read by the agent
// through its index, and the checkpoint it had when dialled. An agent of
// an earlier version, without /v1/position, sends its whole history.
func (a *agentHost) Evidence(ctx context.Context, q drills.PositionQuery) ([]*record.Record, string, error) {
	recs, err := a.c.PositionRecords(ctx, q)
	if se, ok := errors.AsType[*agent.StatusError](err); ok && se.Code == http.StatusNotFound {
		recs, err = nil, a.c.History(ctx, agent.HistoryFilter{}, func(r *record.Record) error {
			recs = append(recs, r)
			return nil
		})
	}
	return recs, a.health.Checkpoint, err
}

func (a *agentHost) Export(ctx context.Context, sel selection, w io.Writer) error {
	return a.c.Export(ctx, sel, w)
}

func (a *agentHost) Verify(ctx context.Context, opt evidence.VerifyOptions) (*agent.VerifyResult, error) {
	return a.c.Verify(ctx, opt)
}

func (a *agentHost) Close() error { return nil }
