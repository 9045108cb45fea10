package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"closedloop/load/postgres/pgtest"
)

// touchArgs runs the job on the test touch log over its dates.
func touchArgs(warehouse string) []string {
	return []string{"run", "--analytics", "touches:" + filepath.Join("testdata", "touches.csv"), "--from", "2018-07-01", "--to", "2018-07-31",
		"--warehouse", warehouse, "--log-format", "json"}
}

// TestRunIntoParquet: the same job into Parquet folders, read back with DuckDB; a
// second run of the range replaces, never duplicates.
func TestRunIntoParquet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wh")
	for range 2 {
		code, out, stderr := runMain(t, touchArgs("parquet:"+dir)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, "17 touchpoints, 4 conversions")
	}
	db, err := sql.Open("duckdb", "")
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM read_parquet('`+filepath.Join(dir, "fct_touchpoint")+`/**/*.parquet')`).Scan(&n))
	require.Equal(t, 17, n)
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM read_parquet('`+filepath.Join(dir, "run_log")+`/**/*.parquet')`).Scan(&n))
	require.Equal(t, 2, n)
	manifests, err := os.ReadDir(filepath.Join(dir, "_manifests"))
	require.NoError(t, err)
	require.Len(t, manifests, 2)
}

// TestRunIntoPostgres: the same job into a throwaway PostgreSQL, with the views.
func TestRunIntoPostgres(t *testing.T) {
	dsn, stop := pgtest.Start(t)
	defer stop()
	for range 2 {
		code, out, stderr := runMain(t, touchArgs("postgres:"+dsn)...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, "17 touchpoints, 4 conversions")
	}
	db, err := pgtest.OpenDB(dsn)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, 17, query(t, db, `SELECT count(*) FROM fct_touchpoint`))
	require.Equal(t, 2, query(t, db, `SELECT count(*) FROM run_log`))
	var conv float64
	require.NoError(t, db.QueryRow(`SELECT sum(conversions) FROM v_channel_performance WHERE model = 'linear' AND scope = 'person' AND date_basis = 'conversion_date'`).Scan(&conv))
	require.InDelta(t, 4, conv, 1e-9)
}
