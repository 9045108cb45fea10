package views_test

import (
	"database/sql"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	views "closedloop/sql"
	"closedloop/sql/viewtest"
)

var updateColumns = flag.Bool("update-columns", false, "rewrite columns.txt from the DuckDB views")

// TestViewColumns: every view has, in every dialect run here, the columns (names, order
// and types, spelled as BigQuery does) listed in columns.txt; load/bigquery's ZetaSQL
// test checks sql/bigquery against the same file. A dashboard built on one warehouse
// works on another.
func TestViewColumns(t *testing.T) {
	list, err := views.List("duckdb")
	require.NoError(t, err)
	for _, w := range viewtest.Load(t, map[string]viewtest.Rows{}) {
		var got []string
		for _, v := range list {
			for _, c := range viewColumns(t, w.DB, v.Name) {
				got = append(got, v.Name+" "+c)
			}
		}
		if *updateColumns && w.Dialect == "duckdb" {
			require.NoError(t, os.WriteFile("columns.txt", []byte(strings.Join(got, "\n")+"\n"), 0o644))
		}
		want, err := os.ReadFile("columns.txt")
		require.NoError(t, err, "go test ./sql -run TestViewColumns -update-columns writes it")
		assert.Equal(t, strings.Split(strings.TrimSpace(string(want)), "\n"), got, "%s views differ from columns.txt", w.Dialect)
	}
}

// viewColumns lists a view's columns as "name TYPE" from information_schema, with the
// types spelled as BigQuery does (STRING, DATE, FLOAT64, INT64), so that one list
// checks every dialect.
func viewColumns(t *testing.T, db *sql.DB, view string) []string {
	t.Helper()
	kinds := map[string]string{"varchar": "STRING", "text": "STRING", "character varying": "STRING", "date": "DATE",
		"double": "FLOAT64", "double precision": "FLOAT64", "bigint": "INT64", "integer": "INT64",
		"boolean": "BOOL", "timestamp with time zone": "TIMESTAMP"}
	var out []string
	for _, c := range viewtest.Query(t, db, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = '`+view+`' ORDER BY ordinal_position`) {
		name, typ, _ := strings.Cut(c, " | ")
		kind, ok := kinds[strings.ToLower(typ)]
		if !ok {
			kind = "unexpected " + typ
		}
		out = append(out, name+" "+kind)
	}
	return out
}
