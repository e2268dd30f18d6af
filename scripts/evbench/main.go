// Command evbench makes and measures evidence logs for make bench
// (scripts/bench.sh). It uses only the evidence API that drill has had
// since before issue 17 (evidence.Open, Append, AppendBatch, keys.LoadOrCreate),
// so that bench.sh can compile it against the base commit and against the
// working tree and compare the two:
//
//	evbench gen -state DIR -n 100000 [-drills 12] [-services 4]
//	    a state directory (DIR/keys, DIR/drill.db) holding n records of the
//	    drills d01..dNN of services s1..sM, as scripts/bench.sh's configs
//	    name them, appended in batches of 1,000
//	evbench open -state DIR
//	    open DIR/drill.db read-write and close it: what this version of
//	    drill does to a store made by another when the agent starts
//	evbench append -db FILE -n 100000 [-workers 1]
//	    a new log at FILE with n records, one Append (one commit) each,
//	    from workers goroutines; prints the wall time
//
// Every log's origin is "bench/drill" (log_origin in bench.sh's configs).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/keys"
)

// origin is the log_origin of every config bench.sh writes.
const origin = "bench/drill"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "evbench:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: evbench gen|open|append [flags] (see the package comment)")
	}
	fs := flag.NewFlagSet("evbench "+args[0], flag.ContinueOnError)
	state := fs.String("state", "", "the state directory (gen, open)")
	db := fs.String("db", "", "the evidence store to create (append)")
	n := fs.Int("n", 100_000, "records to append")
	g := gen{drills: 12, services: 4}
	fs.IntVar(&g.drills, "drills", g.drills, "drills d01..dNN the records belong to (gen)")
	fs.IntVar(&g.services, "services", g.services, "services s1..sM the drills belong to, round robin (gen)")
	workers := fs.Int("workers", 1, "goroutines appending at the same time (append)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "gen":
		return g.run(*state, *n, time.Now())
	case "open":
		return openState(*state)
	case "append":
		return appendEach(*db, *n, *workers)
	}
	return fmt.Errorf("unknown command %q: want gen, open or append", args[0])
}

// openStore opens (creating) the store of the state directory state with
// its signing key in state/keys, as drill does.
func openStore(state string) (*evidence.Store, error) {
	if state == "" {
		return nil, errors.New("-state DIR is required")
	}
	if err := os.MkdirAll(state, 0o700); err != nil {
		return nil, err
	}
	key, err := keys.LoadOrCreate(filepath.Join(state, "keys"), origin)
	if err != nil {
		return nil, err
	}
	return evidence.Open(filepath.Join(state, "drill.db"), evidence.Options{Origin: origin, Key: key})
}

func openState(state string) error {
	s, err := openStore(state)
	if err != nil {
		return err
	}
	return s.Close()
}
