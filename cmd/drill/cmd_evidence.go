package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/agent"
	"github.com/drillhq/drill/internal/bundle"
	"github.com/drillhq/drill/internal/config"
	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/evlog"
	"github.com/drillhq/drill/internal/keys"
	"github.com/drillhq/drill/internal/textsafe"
)

func newEvidenceCmd(e *env) *cobra.Command {
	return group("evidence", "Verify and export the evidence log", newEvidenceVerifyCmd(e), newEvidenceExportCmd(e))
}

func newEvidenceVerifyCmd(e *env) *cobra.Command {
	var keyArg, prevFile string
	var thorough bool
	cmd := &cobra.Command{
		Use:   "verify [FILE]",
		Short: "Verify an export bundle offline, or the local evidence log",
		Long: `With FILE, verify an export bundle offline: the signature of its checkpoint and of
every historical checkpoint, every record's signature, every record's place in the
log (the Merkle tree rebuilt from the records, or from the log's leaf hashes with
the inclusion proofs for a bundle of selected records), and its signed export
statement: the log's size and root at export, the selection and the time, and the
SHA-256 of every other member. A bundle cut short, a member changed, added or
removed, or a bundle without a statement (made by drill before export statements:
re-export it) fails. report.csv and report.html are rebuilt from the verified
records and must be the bundled ones byte for byte.

The statement proves the bundle is what the key holder exported, at that time and
size. It does not prove that no newer records were withheld: an older bundle
verifies just as well. With --checkpoint, the log must extend the checkpoint you
kept from an earlier export (a rollback or a rewritten history is reported as
such); keep each bundle's drill-evidence/checkpoint for the next time.

Give the public key you trust with --key: as drill keys show prints it on the host
(the note verifier key origin+hash+base64, the PEM block, or the whole output,
pasted as it is), or a file holding it. Without it the bundle's own key is used,
which proves only that the bundle is self-consistent. Text from the bundle is printed with control characters
escaped.

Without FILE, recompute the local evidence log from its stored records.

The latest checkpoint's signature is always checked alone: it covers the root of
the tree rebuilt from every record's bytes, so it proves them all. The records'
and historical checkpoints' signatures are checked in batches of 256 (one
combined equation each, about a third of the work; a batch that fails is checked
signature by signature, so the error names the exact record or checkpoint).
--thorough checks every signature alone, as crypto/ed25519 does; the two differ
only on signatures the key holder crafted to differ (see docs/evidence.md).

Exit codes: 0 verified; 1 verification failed (what and where is printed);
2 usage (or no evidence store).`,
		Args: args(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			if len(a) == 1 {
				return verifyBundle(e, cmd, a[0], keyArg, prevFile, thorough)
			}
			if keyArg != "" || prevFile != "" {
				return usageError{errors.New("--key and --checkpoint are for verifying a bundle: give its FILE")}
			}
			return e.onHost(cmd, func(ctx context.Context, _ *config.Config, h drillHost) error {
				return e.verifyLog(ctx, h, evidence.VerifyOptions{Thorough: thorough})
			})
		},
	}
	cmd.Flags().StringVar(&keyArg, "key", "", "the public key you trust: the key as drill keys show prints it (origin+hash+base64 or PEM), or a file holding it")
	cmd.Flags().StringVar(&prevFile, "checkpoint", "", "a checkpoint you kept from an earlier export: the log must extend it")
	cmd.Flags().BoolVar(&thorough, "thorough", false, "check every signature alone instead of in batches (slower; the same verdict on every log drill wrote)")
	return cmd
}

func verifyBundle(e *env, cmd *cobra.Command, file, keyArg, prevFile string, thorough bool) error {
	opt := bundle.Options{Thorough: thorough}
	var err error
	if keyArg != "" {
		if opt.Key, err = keys.ReadPublicKeyArg(keyArg); err != nil {
			return withCode(exitUsage, fmt.Errorf("--key: %w", err))
		}
	}
	if prevFile != "" {
		if opt.Previous, err = os.ReadFile(prevFile); err != nil {
			return withCode(exitUsage, fmt.Errorf("--checkpoint: %w", err))
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer f.Close()
	// Everything printed from here on may come from the bundle: escaped.
	esc := textsafe.Escape
	rep, err := bundle.Verify(ctxOf(cmd), f, opt)
	if err != nil {
		return withCode(exitFail, fmt.Errorf("bundle %s NOT verified: %s", esc(file), esc(err.Error())))
	}
	x := rep.Export
	what := "all"
	if !x.Complete {
		what = fmt.Sprintf("%d selected (%s) of the", rep.Records, esc(x.Selection))
	}
	fmt.Fprintf(e.stdout, "bundle %s verified: %s %d records of log %s\n", esc(file), what, x.LogSize, esc(x.LogOrigin))
	fmt.Fprintf(e.stdout, "  %d record signatures, %d signed checkpoints (%s), every record's place in the Merkle tree\n", rep.Records, rep.Checkpoints, sigMode(thorough))
	fmt.Fprintf(e.stdout, "  tree size %d, root %s\n", x.LogSize, rep.Root)
	fmt.Fprintf(e.stdout, "  export statement signed %s for the log at size %d: every member checked against it\n",
		x.Created.UTC().Format(time.RFC3339), x.LogSize)
	if len(rep.Reports) > 0 {
		fmt.Fprintf(e.stdout, "  %s rebuilt from the verified records: identical\n", esc(strings.Join(rep.Reports, " and ")))
	}
	fmt.Fprintf(e.stdout, "  key %s\n", esc(rep.VerifierKey))
	if rep.Previous >= 0 {
		fmt.Fprintf(e.stdout, "  the log extends your earlier checkpoint of size %d\n", rep.Previous)
	} else {
		fmt.Fprintf(e.stdout, "NOT PROVEN: that no newer records were withheld. This is what the key holder exported at %s with the log at size %d, "+
			"but an older bundle of the log verifies just as well; only a checkpoint you kept from before (--checkpoint PREV) proves the log did not go back behind it. "+
			"Keep this bundle's drill-evidence/checkpoint for the next time.\n", x.Created.UTC().Format(time.RFC3339), x.LogSize)
	}
	if rep.KeyFromBundle {
		fmt.Fprintf(e.stderr, "drill: WARNING: verified with the key inside the bundle, which proves only that the bundle is self-consistent; compare it with the key you trust (drill keys show on the host) or give that key with --key\n")
	}
	return nil
}

func newEvidenceExportCmd(e *env) *cobra.Command {
	var out, since, until, service, drill string
	cmd := &cobra.Command{
		Use:   "export -o FILE [--since T] [--until T] [--service S] [--drill D]",
		Short: "Write a signed evidence bundle for auditors",
		Long: `Write a .tar.gz bundle of the evidence log for an auditor to verify offline with
drill evidence verify FILE: the signed records (all, or those selected), the latest
and historical signed checkpoints, the public key, proofs of each selected record's
place in the whole log, report.html and report.csv to read, and an export statement
signed with the log's key that binds the log's size, the selection, the time and
every other member. Signing needs the log's private key: export through the agent,
or as the user that can read state_dir/keys/drill.key.

T is a date (2006-01-02) or an RFC 3339 time; records are selected by start time,
since <= started < until.

Exit codes: 0 written; 1 the export failed; 2 usage (or no evidence store).`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageError{errors.New("give the bundle's file with -o FILE")}
			}
			sel, err := parseSelection(since, until, service, drill)
			if err != nil {
				return err
			}
			return e.onHost(cmd, func(ctx context.Context, _ *config.Config, h drillHost) error {
				return e.exportBundle(ctx, h, sel, out)
			})
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "the bundle file to write (.tar.gz)")
	cmd.Flags().StringVar(&since, "since", "", "only records started at or after T")
	cmd.Flags().StringVar(&until, "until", "", "only records started before T")
	cmd.Flags().StringVar(&service, "service", "", "only the records of service S")
	cmd.Flags().StringVar(&drill, "drill", "", "only the records of drill D")
	return cmd
}

// selection is what an evidence export selects: the one name of the
// evidence package's type outside this file.
type selection = bundle.Selection

// parseSelection is the selection of drill evidence export's flags.
func parseSelection(since, until, service, drill string) (selection, error) {
	sel := selection{Service: service, Drill: drill}
	var err error
	if sel.Since, err = parseWhen(since); err != nil {
		return sel, usageError{fmt.Errorf("--since: %w", err)}
	}
	if sel.Until, err = parseWhen(until); err != nil {
		return sel, usageError{fmt.Errorf("--until: %w", err)}
	}
	return sel, nil
}

// exportBundle has h write the bundle of the records sel selects to out,
// through a temporary file beside it renamed into place, and says what it
// holds. An error is a failed export (exit 1), unless it carries its own
// code.
func (e *env) exportBundle(ctx context.Context, h drillHost, sel selection, out string) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".drill-export-*")
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer os.Remove(tmp.Name())
	err = h.Export(ctx, sel, tmp)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), out)
	}
	if err != nil {
		if hasCode(err) {
			return err
		}
		return withCode(exitFail, err)
	}
	// Say what was written from the bundle itself.
	m, err := bundle.ReadManifest(out)
	if err != nil {
		return withCode(exitFail, err)
	}
	esc := textsafe.Escape
	fmt.Fprintf(e.stdout, "wrote %s: %d of %d records (%s), log %s, with a signed export statement\n",
		esc(out), m.Records, m.LogSize, esc(m.Selection), esc(m.Origin))
	return nil
}

// sigMode says how signatures were checked.
func sigMode(thorough bool) string {
	if thorough {
		return "each signature alone"
	}
	return "signatures in batches, the latest checkpoint alone"
}

// verifyLog has h verify the whole evidence log, and says what was
// verified.
func (e *env) verifyLog(ctx context.Context, h drillHost, opt evidence.VerifyOptions) error {
	res, err := h.Verify(ctx, opt)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if res.Error != "" {
		return withCode(exitFail, fmt.Errorf("evidence log NOT verified: %s", res.Error))
	}
	fmt.Fprintf(e.stdout, "evidence log verified: %d records, every signature and checkpoint checked (%s)\norigin %s, tree size %d, root %s\n",
		res.Records, sigMode(res.Thorough), res.Origin, res.Records, res.Root)
	return nil
}

// exportStore writes a bundle of the records sel selects from the local
// evidence store to w. The store is opened with the log's signing key,
// which signs the export statement: not being able to is a usage error.
func exportStore(cfg *config.Config, sel selection, w io.Writer) error {
	store, err := openStoreToExport(cfg)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer store.Close()
	_, err = store.Export(w, sel, time.Now())
	return err
}

// verifyStore recomputes the local evidence log from its stored records.
// A log that does not verify is a result with Error set, not an error.
func verifyStore(ctx context.Context, store *evidence.Store, opt evidence.VerifyOptions) (*agent.VerifyResult, error) {
	rep, err := store.VerifyWith(ctx, opt)
	if _, ok := errors.AsType[*evlog.VerifyError](err); ok {
		return &agent.VerifyResult{Error: err.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	return &agent.VerifyResult{Records: rep.Records, Origin: rep.Origin, Root: rep.Root.String(), Thorough: opt.Thorough}, nil
}

// openStoreToExport opens the evidence store read-only with the log's
// signing key, which signs the export statement.
func openStoreToExport(cfg *config.Config) (*evidence.Store, error) {
	dbPath := filepath.Join(cfg.StateDir, "drill.db")
	if _, err := os.Stat(dbPath); err != nil {
		return nil, fmt.Errorf("open evidence store %s: %w (no drill has run with this state_dir yet)", dbPath, err)
	}
	key, err := keys.Load(filepath.Join(cfg.StateDir, "keys"))
	if err != nil {
		return nil, fmt.Errorf("the export statement is signed with the log's key: %w", err)
	}
	return evidence.Open(dbPath, evidence.Options{Origin: origin(cfg), Key: key, ReadOnly: true})
}

// parseWhen parses a date or an RFC 3339 time; "" is the zero time.
func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	t, err := time.ParseInLocation(time.DateOnly, s, time.Local)
	if err != nil {
		return time.Time{}, fmt.Errorf("want a date (2006-01-02) or an RFC 3339 time, got %q", s)
	}
	return t, nil
}
