package drills

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drillhq/drill/plugins"
)

// SweepScratch removes the scratch resources (databases) that drills
// announced and whose removal was never confirmed: drills whose process
// died. Call it once the evidence store is open for writing: its file
// lock means no other process is running drills, so no drill can still be
// using them, however young they are (the agent calls it at start, drill
// run before its drills). Each is removed by its own backend, which
// removes only names of the shape it gives its scratch resources; what
// was never recorded is never touched. It returns the names removed.
func (r *Runner) SweepScratch(ctx context.Context) ([]string, error) {
	if r.Scratch == nil {
		return nil, nil
	}
	left, err := r.Scratch.ScratchLeft()
	if err != nil {
		return nil, fmt.Errorf("read the scratch records: %w", err)
	}
	type group struct {
		backend, drill string
		src            plugins.Source
		names          []string
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, sc := range left {
		key := sc.Backend + "\x00" + sc.Drill + "\x00" + string(sc.Source)
		g := byKey[key]
		if g == nil {
			src, err := decodeSource(sc.Source)
			if err != nil {
				r.logger().Warn("scratch record with an unreadable source; remove it by hand", "name", sc.Name, "backend", sc.Backend, "err", err)
				continue
			}
			g = &group{backend: sc.Backend, drill: sc.Drill, src: src}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.names = append(g.names, sc.Name)
	}
	var removed []string
	for _, g := range groups {
		if err := r.sweep(ctx, g.backend, g.drill, g.src, g.names); err != nil {
			r.logger().Warn("scratch resources left by a crashed drill not removed; they are retried at the next run",
				"backend", g.backend, "drill", g.drill, "names", g.names, "err", err)
			continue
		}
		removed = append(removed, g.names...)
	}
	return removed, nil
}

func (r *Runner) sweep(ctx context.Context, backend, drill string, src plugins.Source, names []string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	b, err := r.Launcher.Launch(ctx, backend)
	if err != nil {
		return err
	}
	defer b.Close()
	if _, err := b.Cleanup(ctx, &plugins.CleanupRequest{Source: src, DrillName: drill, Scratch: names}); err != nil {
		return err
	}
	for _, n := range names {
		if err := r.Scratch.ScratchDone(backend, n); err != nil {
			return err
		}
	}
	return nil
}

// decodeSource reads a source recorded as JSON back into the types the
// backends get: strings, lists of strings, int64, float64 and booleans.
func decodeSource(b []byte) (plugins.Source, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, err
	}
	src := plugins.Source{}
	for k, v := range raw {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil {
				src[k] = i
			} else if f, err := x.Float64(); err == nil {
				src[k] = f
			} else {
				return nil, fmt.Errorf("key %s: %w", k, err)
			}
		case []any:
			l := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("key %s: a list of %T", k, e)
				}
				l = append(l, s)
			}
			src[k] = l
		default:
			src[k] = v
		}
	}
	return src, nil
}
