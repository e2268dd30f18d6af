package restic

// This file holds the pure parsers of restic's JSON output; each is tested
// on bytes and fuzzed.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Snapshot is one entry of `restic snapshots --json`.
type Snapshot struct {
	ID       string    `json:"id"`
	ShortID  string    `json:"short_id"`
	Time     time.Time `json:"time"`
	Parent   string    `json:"parent"`
	Tree     string    `json:"tree"`
	Paths    []string  `json:"paths"`
	Hostname string    `json:"hostname"`
	Username string    `json:"username"`
	Tags     []string  `json:"tags"`
	// Summary is written by restic 0.17 and newer; nil for older snapshots.
	Summary *SnapshotSummary `json:"summary"`
}

// SnapshotSummary is the part of a snapshot's summary a drill uses.
type SnapshotSummary struct {
	TotalFilesProcessed int64 `json:"total_files_processed"`
	TotalBytesProcessed int64 `json:"total_bytes_processed"`
}

// parseSnapshots parses the output of `restic snapshots --json`: a JSON
// array of snapshots (`[]` when none match). Every snapshot must have a
// 64-hex-digit ID and a time.
func parseSnapshots(b []byte) ([]Snapshot, error) {
	var snaps []Snapshot
	if err := json.Unmarshal(bytes.TrimSpace(b), &snaps); err != nil {
		return nil, fmt.Errorf("parse restic snapshots --json: %w", err)
	}
	for i, s := range snaps {
		if !isHexID(s.ID) {
			return nil, fmt.Errorf("parse restic snapshots --json: snapshot %d has no valid id (%q)", i, s.ID)
		}
		if s.Time.IsZero() {
			return nil, fmt.Errorf("parse restic snapshots --json: snapshot %s has no time", s.ID)
		}
	}
	return snaps, nil
}

func isHexID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Message is one line restic prints with --json, on stdout or stderr. Kind
// is the message_type, or "text" for a line that is not a JSON object
// (backend retries, "signal interrupt received", ...), whose text is in
// Text with terminal control sequences removed.
type Message struct {
	Kind string
	Text string

	// status and summary
	PercentDone   float64
	TotalFiles    int64
	FilesRestored int64
	FilesSkipped  int64
	TotalBytes    int64
	BytesRestored int64
	BytesSkipped  int64

	// verbose_status: Action ("restored", "updated", "unchanged",
	// "deleted") of Item (an absolute path in the snapshot) of Size bytes.
	Action string
	Item   string
	Size   int64

	// error: Text is the error, During the phase, Item the path.
	During string

	// exit_error: Code is restic's exit code, Text its message.
	Code int
}

// wire is the union of the JSON messages' fields.
type wire struct {
	MessageType   string          `json:"message_type"`
	PercentDone   float64         `json:"percent_done"`
	TotalFiles    int64           `json:"total_files"`
	FilesRestored int64           `json:"files_restored"`
	FilesSkipped  int64           `json:"files_skipped"`
	TotalBytes    int64           `json:"total_bytes"`
	BytesRestored int64           `json:"bytes_restored"`
	BytesSkipped  int64           `json:"bytes_skipped"`
	Action        string          `json:"action"`
	Item          string          `json:"item"`
	Size          int64           `json:"size"`
	During        string          `json:"during"`
	Code          int             `json:"code"`
	Message       string          `json:"message"`
	Error         json.RawMessage `json:"error"`
}

// parseMessage parses one line of restic's --json output. It never fails:
// a line that is not a JSON object with a message_type is a "text" message,
// so that nothing restic says is lost.
func parseMessage(line []byte) Message {
	line = bytes.TrimRight(line, "\r\n")
	var w wire
	if t := bytes.TrimSpace(line); len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &w) != nil || w.MessageType == "" {
		return Message{Kind: "text", Text: cleanText(line)}
	}
	m := Message{
		Kind: w.MessageType, PercentDone: w.PercentDone,
		TotalFiles: w.TotalFiles, FilesRestored: w.FilesRestored, FilesSkipped: w.FilesSkipped,
		TotalBytes: w.TotalBytes, BytesRestored: w.BytesRestored, BytesSkipped: w.BytesSkipped,
		Action: w.Action, Item: w.Item, Size: w.Size, During: w.During, Code: w.Code, Text: w.Message,
	}
	if len(w.Error) > 0 {
		// restore: "error": {"message": "..."}; some commands: "error": "..."
		var obj struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(w.Error, &obj) == nil && obj.Message != "":
			m.Text = obj.Message
		case json.Unmarshal(w.Error, &s) == nil && s != "":
			m.Text = s
		}
	}
	return m
}

// cleanText removes ANSI escape sequences and other control characters
// restic writes for terminals (such as "\x1b[2K"), so a text line can be
// shown in a reason.
func cleanText(b []byte) string {
	var out []byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == 0x1b {
			// CSI: ESC [ parameters final-byte
			if i+1 < len(b) && b[i+1] == '[' {
				i += 2
				for i < len(b) && (b[i] < 0x40 || b[i] > 0x7e) {
					i++
				}
			}
			continue
		}
		if c < 0x20 && c != '\t' || c == 0x7f {
			continue
		}
		out = append(out, c)
	}
	return string(bytes.TrimSpace(out))
}
