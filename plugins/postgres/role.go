package postgres

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/drillhq/drill/internal/scratchdb"
)

// scramIterations is the SCRAM-SHA-256 iteration count of the scratch
// role's password verifier (the server's default).
const scramIterations = 4096

// newRolePassword returns a random password for a scratch role and its
// SCRAM-SHA-256 verifier, the form CREATE ROLE is given: the server never
// sees the password itself, so no statement log can hold it.
func newRolePassword() (password, verifier string, err error) {
	var pw [24]byte
	if _, err := rand.Read(pw[:]); err != nil {
		return "", "", fmt.Errorf("make a password for the scratch role: %w", err)
	}
	password = hex.EncodeToString(pw[:])
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", "", fmt.Errorf("make a password for the scratch role: %w", err)
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, scramIterations, sha256.Size)
	if err != nil {
		return "", "", fmt.Errorf("make a password for the scratch role: %w", err)
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	b64 := base64.StdEncoding.EncodeToString
	verifier = fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored[:]), b64(mac(salted, "Server Key")))
	return password, verifier, nil
}

// dropScratch drops scratch database name and the role of the same name:
// it ends the role's sessions, drops the database and then the role. It
// touches nothing whose name does not have the scratch shape.
func dropScratch(ctx context.Context, cfg *pgx.ConnConfig, name string) error {
	if !scratchdb.IsName(name) {
		return fmt.Errorf("drop scratch database %s: not a drill scratch name, left alone", name)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("drop scratch database %s: connect to %s: %w", name, cfg.Host, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	id := pgx.Identifier{name}.Sanitize()
	// The role may have sessions in other databases than its own (a
	// dump cannot open one, but a crashed drill's pg_restore may linger).
	if _, err := conn.Exec(ctx, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return fmt.Errorf("end the sessions of scratch role %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+id+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop scratch database %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+id); err != nil {
		return fmt.Errorf("drop scratch role %s: %w", name, err)
	}
	return nil
}
