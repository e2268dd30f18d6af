package mysql

import (
	"context"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // mysql_native_password's hash is SHA1(SHA1(password)); it is what the server stores
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/drillhq/drill/internal/scratchdb"
	"github.com/go-sql-driver/mysql"
)

// maxUserLen is the longest user name MySQL accepts (MariaDB takes 80);
// a scratch name is both the scratch database's and the restore user's,
// so it is cut to this.
const maxUserLen = 32

// restoreUser is the temporary user a restore runs as: named like the
// scratch database, at the host the server sees drill connect from, with
// a random password, and ALL PRIVILEGES on the scratch database only.
type restoreUser struct {
	name, host string
	// srv connects as the user, to the configured server.
	srv *server
}

// String is the account as the server names it, for the evidence.
func (u *restoreUser) String() string { return u.name + "@" + u.host }

// newPassword is a random password with an upper- and a lower-case
// letter, a digit and a sign in front, for servers that check how strong
// a password is.
func newPassword() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "Dr1-" + base64.RawURLEncoding.EncodeToString(b[:])
}

// nativeHash is the mysql_native_password hash of pw, as CREATE USER ...
// IDENTIFIED BY PASSWORD takes it: the password itself never reaches the
// server, its general log or its binary log.
func nativeHash(pw string) string {
	h1 := sha1.Sum([]byte(pw)) //nolint:gosec // see the import
	h2 := sha1.Sum(h1[:])      //nolint:gosec
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

// clientHost is the host part of USER(): where the server sees this
// connection come from, which is where the client connects from too (both
// use TCP to the same address).
func clientHost(ctx context.Context, pool *sql.DB) (string, error) {
	var u string
	if err := pool.QueryRowContext(ctx, "SELECT USER()").Scan(&u); err != nil {
		return "", err
	}
	i := strings.LastIndexByte(u, '@')
	if i < 0 || i == len(u)-1 {
		return "", fmt.Errorf("USER() is %q, without a host", u)
	}
	return u[i+1:], nil
}

// createRestoreUser creates the scratch database name and the user name
// that may use it and nothing else, through the configured login's pool.
// The caller has announced name, so that Cleanup drops both whatever
// happens here.
func createRestoreUser(ctx context.Context, admin *server, pool *sql.DB, name, version string) (*restoreUser, error) {
	host, err := clientHost(ctx, pool)
	if err != nil {
		return nil, fmt.Errorf("ask server %s where drill connects from: %w", admin, err)
	}
	if _, err := pool.ExecContext(ctx, "CREATE DATABASE "+quoteIdent(name)); err != nil {
		return nil, fmt.Errorf("create scratch database %s on server %s: %w%s", name, admin, err, grantHint(err, admin))
	}
	pw := newPassword()
	account := sqlString(name) + "@" + sqlString(host)
	identified := "IDENTIFIED BY PASSWORD " + sqlString(nativeHash(pw))
	if !strings.Contains(version, "MariaDB") {
		// MySQL 8 has no IDENTIFIED BY PASSWORD; it keeps passwords out
		// of its logs itself.
		identified = "IDENTIFIED BY " + sqlString(pw)
	}
	if _, err := pool.ExecContext(ctx, "CREATE USER "+account+" "+identified); err != nil {
		return nil, fmt.Errorf("create the restore user %s on server %s: %w%s", name, admin, err, grantHint(err, admin))
	}
	// In GRANT, a database name is a pattern: unescaped, each _ of the
	// name would be a wildcard, and the user could make and use
	// "drillXshop..." too.
	if _, err := pool.ExecContext(ctx, "GRANT ALL PRIVILEGES ON "+quoteIdent(likeLiteral(name))+".* TO "+account); err != nil {
		return nil, fmt.Errorf("grant the restore user %s its scratch database on server %s: %w%s", name, admin, err, grantHint(err, admin))
	}
	return &restoreUser{name: name, host: host, srv: &server{user: name, host: admin.host, port: admin.port, password: pw}}, nil
}

// likeLiteral escapes the wildcards _ and % of a name, for GRANT.
func likeLiteral(name string) string {
	return strings.NewReplacer(`\`, `\\`, "_", `\_`, "%", `\%`).Replace(name)
}

// grantHint says what to grant when the server refused the configured
// login what a restore needs.
func grantHint(err error, admin *server) string {
	var me *mysql.MySQLError
	if !errors.As(err, &me) {
		return ""
	}
	switch me.Number {
	case 1044, 1045, 1142, 1227, 1410: // access denied to a database, a table, a privilege; grant without GRANT OPTION
	default:
		return ""
	}
	acct := sqlString(admin.user) + "@'<host>'"
	return fmt.Sprintf(" (drill restores as a temporary user with rights on its scratch database only, which %s creates: "+
		"GRANT CREATE USER ON *.* TO %s; GRANT ALL PRIVILEGES ON `drill\\_%%`.* TO %s WITH GRANT OPTION)", admin.user, acct, acct)
}

// dropScratch drops the restore user and the scratch database named name.
// It ends the user's sessions first (when the login may see and end
// them), so that a restore cut short holds no lock on the database. Names
// without the scratch shape are never dropped.
func dropScratch(ctx context.Context, admin *server, name string) error {
	if !scratchdb.IsName(name) {
		return fmt.Errorf("refusing to drop %q: not a drill scratch name", name)
	}
	pool, err := admin.connect(ctx, "")
	if err != nil {
		return fmt.Errorf("drop scratch database and user %s: %w", name, err)
	}
	defer pool.Close()
	killSessions(ctx, pool, name)
	hosts, err := userHosts(ctx, pool, name)
	if err != nil {
		return fmt.Errorf("drop restore user %s on server %s: %w", name, admin, err)
	}
	var errs []error
	for _, h := range hosts {
		_, err := pool.ExecContext(ctx, "DROP USER IF EXISTS "+sqlString(name)+"@"+sqlString(h))
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1227 {
			// Without CREATE USER this login made no user to drop (its
			// restore stopped there).
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("drop restore user %s@%s on server %s: %w", name, h, admin, err))
		}
	}
	if _, err := pool.ExecContext(ctx, "DROP DATABASE IF EXISTS "+quoteIdent(name)); err != nil {
		errs = append(errs, fmt.Errorf("drop scratch database %s on server %s: %w", name, admin, err))
	}
	return errors.Join(errs...)
}

// userHosts lists the hosts of the accounts named name: from mysql.user
// when the login may read it, else the host the server sees this login
// come from, which is where drill created it.
func userHosts(ctx context.Context, pool *sql.DB, name string) ([]string, error) {
	host, err := clientHost(ctx, pool)
	if err != nil {
		return nil, err
	}
	hosts := []string{host}
	rows, err := pool.QueryContext(ctx, "SELECT Host FROM mysql.user WHERE User = ?", name)
	if err != nil {
		return hosts, nil // not allowed to look: the usual host only
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if rows.Scan(&h) == nil && h != host {
			hosts = append(hosts, h)
		}
	}
	return hosts, nil
}

// killSessions ends the sessions of user name, as far as the login may.
func killSessions(ctx context.Context, pool *sql.DB, name string) {
	rows, err := pool.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ?", name)
	if err != nil {
		return
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if rows.Scan(&id) == nil {
			ids = append(ids, id)
		}
	}
	_ = rows.Close()
	for _, id := range ids {
		_, _ = pool.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id))
	}
}

// sqlString quotes s as an SQL string literal (the names and hosts drill
// quotes hold neither quotes nor backslashes, but they are escaped all the
// same).
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", "''").Replace(s) + "'"
}
