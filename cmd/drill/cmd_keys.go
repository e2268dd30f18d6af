package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/drillhq/drill/internal/evidence"
	"github.com/drillhq/drill/internal/keys"
)

func newKeysCmd(e *env) *cobra.Command {
	return group("keys", "Manage the key that signs the evidence log", newKeysInitCmd(e), newKeysShowCmd(e), newKeysRotateCmd(e))
}

func newKeysInitCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "init",
		Short: "Create the signing key if there is none",
		Long: `Create the Ed25519 key that signs evidence records and checkpoints, in
state_dir/keys (drill.key mode 0600, drill.pub mode 0644), named after this
host's log origin. An existing key is kept. Any drill creates the key too;
init lets you publish the public key before the first drill.

Exit codes: 0 created or already there; 1 the key could not be created or read;
2 usage or configuration error.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, dir, err := e.keysDir()
			if err != nil {
				return err
			}
			_, statErr := os.Lstat(filepath.Join(dir, keys.KeyFile))
			existed := statErr == nil
			k, err := keys.LoadOrCreate(dir, origin(cfg))
			if err != nil {
				return err
			}
			if existed {
				fmt.Fprintf(e.stdout, "signing key exists: %s\n", k.VerifierKey)
			} else {
				fmt.Fprintf(e.stdout, "created signing key %s\n", k.VerifierKey)
			}
			return nil
		},
	}
}

func newKeysShowCmd(e *env) *cobra.Command {
	var pemOnly bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the public key: note verifier key, key ID and PEM",
		Long: `Print the public half of the signing key: the note verifier key (the content
of drill.pub, what auditors verify evidence with), the key ID used in DSSE
signatures, and the key as a PEM "PUBLIC KEY" block. With --pem, print only the
PEM block. The private key is never printed. Only the key files are read, so
this works while the agent runs.

Exit codes: 0 printed; 1 the key could not be read; 2 usage, configuration
error or no key yet.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, dir, err := e.keysDir()
			if err != nil {
				return err
			}
			k, err := keys.Load(dir)
			if errors.Is(err, fs.ErrNotExist) {
				return withCode(exitUsage, fmt.Errorf("no signing key yet: %s does not exist; create it with drill keys init (or run any drill first)",
					filepath.Join(dir, keys.KeyFile)))
			}
			if err != nil {
				return fmt.Errorf("show signing key: %w", err)
			}
			if pemOnly {
				_, err = e.stdout.Write(k.PublicPEM())
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\nkey id: %s\n%s", k.VerifierKey, k.KeyID(), k.PublicPEM())
			return err
		},
	}
	cmd.Flags().BoolVar(&pemOnly, "pem", false, "print only the PEM public key")
	return cmd
}

func newKeysRotateCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "rotate",
		Short: "Replace the signing key, handing the evidence log over to a new one",
		Long: `Replace the signing key. A new key is made (state_dir/keys/drill.key.next); the
evidence log gets a key-change entry signed by the old key, and the checkpoint that
covers it is signed by both keys; from then on the new key signs. The old public key
is kept in state_dir/keys/retired/<key id>.pub (old records and checkpoints stay
verifiable, and bundles carry every key), and the old private key is removed.
Auditors may keep trusting the old key or switch to the new one.

Stop the agent first: rotation writes to the evidence store. A rotation cut short
is finished by running it again.

Exit codes: 0 rotated; 1 the rotation failed; 2 usage, or the agent is running.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, dir, err := e.keysDir()
			if err != nil {
				return err
			}
			if h, _ := hostFor(ctxOf(cmd), e, cfg); h != nil && h.InAgent() {
				return withCode(exitUsage, errors.New("the drill agent is running: stop it (systemctl stop drill), rotate, then start it again"))
			}
			cur, next, err := keys.PrepareRotation(dir)
			if err != nil {
				return withCode(exitFail, err)
			}
			store, err := evidence.Open(filepath.Join(cfg.StateDir, "drill.db"), evidence.Options{Origin: origin(cfg), Key: cur})
			if err != nil {
				return withCode(exitFail, err)
			}
			defer store.Close()
			switch store.VerifierKey() {
			case next.VerifierKey:
				// Handed over already; the files were not installed.
			case cur.VerifierKey:
				at, err := store.RotateKey(next)
				if err != nil {
					return withCode(exitFail, err)
				}
				fmt.Fprintf(e.stdout, "evidence log handed over at entry %d\n", at)
			default:
				return withCode(exitFail, fmt.Errorf("the evidence log is signed by %s, which is neither the current key %s nor the new one", store.VerifierKey(), cur.VerifierKey))
			}
			if err := keys.InstallRotation(dir, cur, next); err != nil {
				return withCode(exitFail, err)
			}
			fmt.Fprintf(e.stdout, "retired %s (kept in %s)\nnew signing key %s\n", cur.VerifierKey,
				filepath.Join(dir, keys.RetiredDir, cur.KeyID()+".pub"), next.VerifierKey)
			return nil
		},
	}
}
