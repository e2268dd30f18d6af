package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// The services' statuses last alerted on are kept in state_dir, so that a
// change that happens while the agent is down (a service gone stale over a
// long restart, a drill failed by hand with `drill run`) is alerted when it
// starts again, and a change already alerted is not alerted twice. The
// alerts themselves are not kept: one still queued when the agent stops
// is lost (the log line "alert" says it was raised).

// statusFile is where the statuses are kept.
func statusFile(stateDir string) string { return filepath.Join(stateDir, "alert-status.json") }

// loadStatuses returns the statuses last saved, or nil when none were (a
// new state directory, or a damaged file, which is then replaced).
func loadStatuses(stateDir string) (map[string]string, error) {
	b, err := os.ReadFile(statusFile(stateDir))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var st map[string]string
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s is damaged (%w): statuses start afresh", statusFile(stateDir), err)
	}
	return st, nil
}

// saveStatuses writes st whole: to a temporary file, synced, then renamed
// over the old one.
func saveStatuses(stateDir string, st map[string]string) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(stateDir, ".alert-status-*")
	if err != nil {
		return fmt.Errorf("save alert statuses: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }() // gone after the rename
	if _, err := f.Write(append(b, '\n')); err != nil {
		_ = f.Close() // the write's error is the one to report
		return fmt.Errorf("save alert statuses: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return fmt.Errorf("save alert statuses: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save alert statuses: %w", err)
	}
	if err := os.Rename(f.Name(), statusFile(stateDir)); err != nil {
		return fmt.Errorf("save alert statuses: %w", err)
	}
	return nil
}
