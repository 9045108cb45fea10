package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/postgres/pgtest"
)

// TestDemoPostgres: the demo loads a PostgreSQL database and reads its report from
// there: the same report as from DuckDB. The README's SQL runs there too, but for
// what it marks as DuckDB's.
func TestDemoPostgres(t *testing.T) {
	dsn, stop := pgtest.Start(t)
	defer stop()
	_, want := sharedDemo(t)
	stmts := readmeSQL(t)
	t.Chdir(t.TempDir()) // the demo writes report.html into the current directory
	code, out, stderr := runMain(t, "demo", "--warehouse", "postgres:"+dsn)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, strings.SplitN(out, "\n", 2)[0], "is in PostgreSQL database "+pgtest.Database+" on 127.0.0.1:")
	require.Equal(t, reportBody(t, want), reportBody(t, out))
	require.FileExists(t, "report.html")

	db, err := pgtest.OpenDB(dsn)
	require.NoError(t, err)
	defer db.Close()
	ran := 0
	for _, q := range stmts {
		if !runsOn(q, "postgres") {
			continue
		}
		_, rows := queryAll(t, db, q)
		require.NotEmpty(t, rows, "README statement returns no row on PostgreSQL:\n%s", q)
		ran++
	}
	require.Positive(t, ran)
}

// TestDemoParquet: the demo writes Parquet folders and reads its report from the
// files: the same report as from DuckDB.
func TestDemoParquet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wh")
	_, want := sharedDemo(t)
	t.Chdir(t.TempDir()) // the demo writes report.html into the current directory
	code, out, stderr := runMain(t, "demo", "--warehouse", "parquet:"+dir)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, strings.SplitN(out, "\n", 2)[0], "is in Parquet files under "+dir)
	require.Equal(t, reportBody(t, want), reportBody(t, out))
	require.DirExists(t, filepath.Join(dir, "fct_attribution"))
	require.FileExists(t, "report.html")
}
