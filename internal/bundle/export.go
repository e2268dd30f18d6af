package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/drillhq/drill/internal/envelope"
	"github.com/drillhq/drill/internal/keys"
)

// ExportType identifies an export statement as a Statement's predicate:
// the signed description of a bundle, its last member.
const ExportType = "https://drill.dev/export/v1"

// MemberStatement is the bundle member that holds the export statement.
const MemberStatement = Dir + "export.dsse.json"

// ExportPredicate is the predicate of a bundle's export statement, an
// in-toto Statement signed (DSSE, Ed25519) by the log's key in force at
// export. Its subjects are every other member of the bundle, by name, with
// their SHA-256. Field order is the canonical JSON order.
type ExportPredicate struct {
	LogOrigin string `json:"log_origin"`
	// LogSize is the size of the log at export, and LogRoot (base64) the
	// root hash of its latest checkpoint.
	LogSize int64  `json:"log_size"`
	LogRoot string `json:"log_root"`
	// Complete is true when the bundle holds every record of the log.
	Complete bool `json:"complete"`
	// Selection is the selection as people read it (Selection.String of
	// the fields below).
	Selection string `json:"selection"`
	// Since, Until, Service and Drill are the selection as given, the
	// zero values when not given.
	Since   time.Time `json:"since,omitzero"`
	Until   time.Time `json:"until,omitzero"`
	Service string    `json:"service,omitempty"`
	Drill   string    `json:"drill,omitempty"`
	// Records is how many entries the bundle holds.
	Records int64 `json:"records"`
	// Created is when the export was made (UTC).
	Created time.Time `json:"created"`
}

// selection returns the selection the statement was signed for.
func (p *ExportPredicate) selection() Selection {
	return Selection{Since: p.Since, Until: p.Until, Service: p.Service, Drill: p.Drill}
}

// ExportStatement is an in-toto Statement whose predicate is an
// ExportPredicate.
type ExportStatement = envelope.StatementOf[*ExportPredicate]

// memberDigest is a bundle member's name and SHA-256, in archive order.
type memberDigest struct {
	name   string
	sha256 string
}

func digestOf(name string, data []byte) memberDigest {
	sum := sha256.Sum256(data)
	return memberDigest{name: name, sha256: hex.EncodeToString(sum[:])}
}

// signExport signs the export statement of a bundle whose other members
// are members, returning the member's content (the envelope and a
// newline).
func signExport(p *ExportPredicate, members []memberDigest, key *keys.Key) ([]byte, error) {
	st := &ExportStatement{Type: envelope.StatementType, PredicateType: ExportType, Predicate: p}
	for _, m := range members {
		st.Subject = append(st.Subject, envelope.Subject{Name: m.name, Digest: map[string]string{"sha256": m.sha256}})
	}
	payload, err := envelope.MarshalJSON(st)
	if err != nil {
		return nil, fmt.Errorf("encode the export statement: %w", err)
	}
	env, err := envelope.Sign(payload, key)
	if err != nil {
		return nil, fmt.Errorf("sign the export statement: %w", err)
	}
	return append(env, '\n'), nil
}
