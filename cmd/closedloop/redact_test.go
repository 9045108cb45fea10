package main

import (
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
	"closedloop/load/postgres/pgtest"
)

const secret = "S3cret-Pw_42"

// TestNoSecretInLogsStdoutOrRunLog: a postgres: DSN's password, as URL userinfo or as a
// password= key, appears in no log line (text or JSON, debug level), not in the
// stdout summary, not in run_log; a failed connection's error is redacted too.
func TestNoSecretInLogsStdoutOrRunLog(t *testing.T) {
	dsn, stop := pgtest.Start(t) // trust authentication: the password is sent, not needed
	defer stop()
	u, err := url.Parse(dsn)
	require.NoError(t, err)
	u.User = url.UserPassword("postgres", secret)
	keyValue := "host=" + u.Hostname() + " port=" + u.Port() + " user=postgres password=" + secret + " dbname=" + strings.TrimPrefix(u.Path, "/") + " sslmode=disable"
	db, err := pgtest.OpenDB(dsn)
	require.NoError(t, err)
	defer db.Close()
	for _, c := range []struct{ dsn, format, stored string }{
		{u.String(), "json", "postgres:postgres://postgres:xxxxx@"},
		{u.String(), "text", "postgres:postgres://postgres:xxxxx@"},
		{keyValue, "json", "password=xxxxx dbname="},
		{keyValue, "text", "password=xxxxx dbname="},
	} {
		args := append(touchArgs("postgres:"+c.dsn), "--log-level", "debug")
		args[len(args)-3] = c.format // --log-format's value
		code, out, stderr := runMain(t, args...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, stderr, "run starting")
		require.NotContains(t, stderr, secret)
		require.NotContains(t, out, secret)
		require.Contains(t, out, "-> postgres:")
		var wh string
		require.NoError(t, db.QueryRow(`SELECT warehouse FROM run_log ORDER BY started_at DESC LIMIT 1`).Scan(&wh))
		require.Contains(t, wh, c.stored)
		require.NotContains(t, wh, secret)
	}
	require.Zero(t, query(t, db, `SELECT count(*) FROM run_log WHERE warehouse LIKE '%`+secret+`%' OR inputs LIKE '%`+secret+`%'`))

	// A connection that fails: the error names the target without its password.
	bad := *u
	bad.Host = "127.0.0.1:1"
	code, out, stderr := runMain(t, append(touchArgs("postgres:"+bad.String()), "--log-level", "debug")...)
	require.Equal(t, 1, code)
	require.NotContains(t, stderr+out, secret)
	require.Contains(t, stderr, "run failed")
}

// TestRunLogWarehouseOfOtherKinds: specs without credentials are stored as given.
func TestRunLogWarehouseOfOtherKinds(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "wh.duckdb")
	code, _, stderr := runMain(t, touchArgs("duckdb:"+wh)...)
	require.Equal(t, 0, code, stderr)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	var got string
	require.NoError(t, db.QueryRow(`SELECT warehouse FROM run_log`).Scan(&got))
	require.Equal(t, "duckdb:"+wh, got)
}
