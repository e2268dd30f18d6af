// Command drill proves that backups can be restored: it runs restore drills
// through backend plugins, checks what came back, and keeps signed,
// tamper-evident evidence of every drill.
//
// One file per subcommand (cmd_<name>.go); this file maps errors to exit
// codes in one place.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // CRON_TZ zones also on hosts without zoneinfo

	"github.com/drillhq/drill/internal/config"
)

// Exit codes (DESIGN.md, CLI contract).
const (
	exitOK = 0
	// exitFail: drill run: at least one drill failed; evidence verify: verification failed.
	exitFail = 1
	// exitUsage: usage or configuration error, nothing ran.
	exitUsage = 2
	// exitError: drill run: none failed but at least one errored (or could not be recorded).
	exitError = 3
	// exitConfig: drill agent: bad config at start (EX_CONFIG), so systemd does not restart-loop.
	exitConfig = 78
)

// exitCode carries an exit code with an error (or a nil error when the
// command already printed what it had to say).
type exitCode struct {
	code int
	err  error
}

func (e *exitCode) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitCode) Unwrap() error { return e.err }

func withCode(code int, err error) error { return &exitCode{code: code, err: err} }

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// A second signal forces exit at once.
		<-ctx.Done()
		stop()
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
		<-sig
		fmt.Fprintln(stderr, "drill: second signal, exiting now")
		os.Exit(130)
	}()

	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return exitFor(err, stderr)
}

// exitFor prints err (if any) and returns the exit code for it.
func exitFor(err error, stderr io.Writer) int {
	if err == nil {
		return exitOK
	}
	var ec *exitCode
	if errors.As(err, &ec) {
		if ec.err != nil {
			printErr(stderr, ec.err)
		}
		return ec.code
	}
	printErr(stderr, err)
	var ue usageError
	var ce config.Errors
	switch {
	case errors.As(err, &ue), errors.As(err, &ce):
		return exitUsage
	}
	return exitFail
}

func printErr(w io.Writer, err error) {
	var ce config.Errors
	if errors.As(err, &ce) {
		fmt.Fprintf(w, "drill: the config has %d problem(s):\n", len(ce))
		for _, e := range ce {
			fmt.Fprintf(w, "  %s\n", e)
		}
		return
	}
	fmt.Fprintf(w, "drill: %v\n", err)
}

// hasCode reports whether err carries its exit code (withCode, usageError).
func hasCode(err error) bool {
	_, coded := errors.AsType[*exitCode](err)
	_, usage := errors.AsType[usageError](err)
	return coded || usage
}
