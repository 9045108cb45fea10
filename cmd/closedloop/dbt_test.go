package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load/dbt"
)

// TestDBTTarget: the source's database and schema come from the warehouse spec as
// closedloop run reads it.
func TestDBTTarget(t *testing.T) {
	for _, c := range []struct {
		name, spec string
		want       dbt.Options
	}{
		{"duckdb", "duckdb:/data/closedloop.duckdb", dbt.Options{Database: "closedloop", Schema: "main", Dialect: "duckdb"}},
		{"duckdb relative, dotted", "duckdb:wh/marketing.v2.db", dbt.Options{Database: "marketing.v2", Schema: "main", Dialect: "duckdb"}},
		{"postgres URL", "postgres:postgres://etl@db.internal:5432/analytics?sslmode=disable", dbt.Options{Database: "analytics", Schema: "public", Dialect: "postgres"}},
		{"postgres search_path is not where run writes", "postgres:postgres://etl@db/analytics?search_path=mkt", dbt.Options{Database: "analytics", Schema: "public", Dialect: "postgres"}},
		{"postgres key=value", "postgres:host=db dbname=wh user=etl", dbt.Options{Database: "wh", Schema: "public", Dialect: "postgres"}},
		{"bigquery", "bigquery:my-project.marketing", dbt.Options{Database: "my-project", Schema: "marketing", Dialect: "bigquery"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := dbtTarget(c.spec)
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// TestDBTCommand: closedloop dbt writes both files (the bytes of load/dbt), refuses to
// overwrite them without --force, and refuses bad flags and a parquet: warehouse with
// exit 2 and what to do.
func TestDBTCommand(t *testing.T) {
	t.Setenv("CLOSEDLOOP_WAREHOUSE", "")
	dir := filepath.Join(t.TempDir(), "models", "closedloop")
	code, out, stderr := runMain(t, "dbt", "--out", dir, "--warehouse", "bigquery:acme.mkt", "--source-name", "cl")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "database acme, schema mkt")
	want, err := dbt.Files(dbt.Options{SourceName: "cl", Database: "acme", Schema: "mkt", Dialect: "bigquery"})
	require.NoError(t, err)
	for _, n := range dbt.FileNames {
		b, err := os.ReadFile(filepath.Join(dir, n))
		require.NoError(t, err)
		assert.Equal(t, string(want[n]), string(b), n)
	}

	code, _, stderr = runMain(t, "dbt", "--out", dir)
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "sources.yml exists: give --force")
	code, _, stderr = runMain(t, "dbt", "--out", dir, "--force")
	require.Equal(t, 0, code, stderr)
	b, err := os.ReadFile(filepath.Join(dir, "sources.yml"))
	require.NoError(t, err)
	assert.Contains(t, string(b), "schema: main", "the default warehouse, duckdb:closedloop.duckdb")
	assert.Contains(t, string(b), "database: closedloop")

	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no --out", []string{"dbt"}, "closedloop dbt --out DIR"},
		{"parquet", []string{"dbt", "--out", t.TempDir(), "--warehouse", "parquet:/data/wh"}, "dbt-duckdb can read its folders as external sources"},
		{"bad warehouse", []string{"dbt", "--out", t.TempDir(), "--warehouse", "snowflake:x"}, "unknown warehouse kind"},
		{"bad source name", []string{"dbt", "--out", t.TempDir(), "--source-name", "close-loop"}, "--source-name"},
		{"argument", []string{"dbt", "--out", t.TempDir(), "extra"}, `unexpected argument "extra"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runMain(t, c.args...)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, c.want)
		})
	}

	code, out, _ = runMain(t, "help", "dbt")
	assert.Equal(t, 0, code)
	assert.Contains(t, out, "closedloop dbt --out DIR")
	for i, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, len([]rune(line)), helpWidth, "line %d: %s", i+1, line)
	}
}
