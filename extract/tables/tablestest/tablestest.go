// Package tablestest loads test data into warehouse tables that package extract/tables
// reads, for the tests of the decoders and the command: a folder of CSV files becomes
// a DuckDB schema, a PostgreSQL schema or a BigQuery dataset served by a local fake,
// and the test gets the location to put after "hubspot:", "salesforce:" or "spend:".
//
//	db := tablestest.LoadCSVFolder(t, "duckdb", "testdata/fivetran")
//	src, err := tables.Open(ctx, db.Location, db.Options)
//
// Each *.csv file of the folder becomes a table named after the file, lower-cased,
// without ".csv" (contact.csv is table contact; a Fivetran dbt seed keeps its seed
// name: sf_lead_data.csv is table sf_lead_data). Column types are what DuckDB's CSV
// sniffer infers from the whole file (read_csv with all_varchar=false): BOOLEAN,
// BIGINT, DOUBLE, DATE, TIMESTAMP, VARCHAR..., as a connector's table has typed
// columns; the PostgreSQL and BigQuery tables get the matching types.
//
// PostgreSQL is one throwaway server per test process (package load/postgres/pgtest),
// started by the first load and stopped by its watchdog when the process ends; each
// load is a new schema. A test is skipped when PostgreSQL is not available here
// (unless CLOSEDLOOP_REQUIRE_POSTGRES=1). BigQuery is a fake of the REST and Storage
// Read APIs (package extract/ga4/bqstorage/bqfake) per load, serving one dataset until
// the test ends; it applies the row restrictions package tables sends.
package tablestest

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // the duckdb database/sql driver

	"closedloop/extract/tables"
)

// Kinds are the kinds of warehouse LoadCSVFolder loads into.
var Kinds = []string{"duckdb", "postgres", "bigquery"}

// DB is a loaded schema or dataset.
type DB struct {
	// Location is the source location to put after "hubspot:", "salesforce:" or
	// "spend:": duckdb:PATH?schema=main, postgres://...?schema=S or
	// bigquery://PROJECT/DATASET.
	Location string
	// Options are the tables.Options to open it with: the fake's endpoints for
	// bigquery, zero otherwise.
	Options tables.Options
	// Restrictions returns the row restrictions of the read sessions the BigQuery
	// fake has received so far, in order, to check that a filter was pushed down;
	// nil for the other kinds.
	Restrictions func() []string
}

// Open opens db with tables.Open, failing t on error, and closes it at t's cleanup.
func (db DB) Open(t testing.TB) tables.Source {
	t.Helper()
	src, err := tables.Open(context.Background(), db.Location, db.Options)
	if err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// LoadCSVFolder loads every *.csv file of dir into a new schema or dataset of kind
// ("duckdb", "postgres" or "bigquery") and returns where it is. Column types are
// DuckDB's CSV sniffer's, but for the columns named in text (in any table), typed
// text as a connector types them: a GA client id "1234567890.1767600000" is not a
// number. It fails t when a file does not load, and skips t when kind is postgres and
// PostgreSQL is not available.
func LoadCSVFolder(t testing.TB, kind, dir string, text ...string) DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "csv.duckdb")
	loadCSV(t, path, dir, text)
	return LoadDuckDB(t, kind, path)
}

// LoadDuckDB copies every table of the main schema of the DuckDB file path (which
// a test may build with SQL, for exact column types) into a new schema or dataset of
// kind, as LoadCSVFolder does; for kind duckdb the file itself is the location.
func LoadDuckDB(t testing.TB, kind, path string) DB {
	t.Helper()
	switch kind {
	case "duckdb":
		return DB{Location: "duckdb:" + path}
	case "postgres":
		return loadPostgres(t, path)
	case "bigquery":
		return loadBigQuery(t, path)
	}
	t.Fatalf("tablestest: unknown kind %q (want one of %s)", kind, strings.Join(Kinds, ", "))
	return DB{}
}

// loadCSV creates a table in the DuckDB file path for each CSV file of dir, with the
// columns named in text typed VARCHAR.
func loadCSV(t testing.TB, path, dir string, text []string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(files) == 0 {
		t.Fatalf("tablestest: no *.csv file in %s (%v)", dir, err)
	}
	sort.Strings(files)
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	defer db.Close()
	for _, f := range files {
		name := strings.ToLower(strings.TrimSuffix(filepath.Base(f), ".csv"))
		abs, err := filepath.Abs(f)
		if err != nil {
			t.Fatal(err)
		}
		types, err := textTypes(f, text)
		if err != nil {
			t.Fatalf("tablestest: %v", err)
		}
		// sample_size=-1: the types fit every row of the file, not only the first ones.
		q := fmt.Sprintf(`CREATE TABLE %s AS SELECT * FROM read_csv(%s, header = true, all_varchar = false, sample_size = -1%s)`,
			quoteIdent(name), quoteLiteral(abs), types)
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("tablestest: loading %s: %v", f, err)
		}
	}
}

// textTypes is read_csv's types option typing VARCHAR the columns of the CSV file f
// named in text (compared lower-cased), "" when it has none of them.
func textTypes(f string, text []string) (string, error) {
	if len(text) == 0 {
		return "", nil
	}
	fh, err := os.Open(f)
	if err != nil {
		return "", err
	}
	defer fh.Close()
	header, err := csv.NewReader(bufio.NewReader(fh)).Read()
	if err != nil {
		return "", fmt.Errorf("%s: header: %w", f, err)
	}
	var types []string
	for i, c := range header {
		if i == 0 {
			c = strings.TrimPrefix(c, "\ufeff")
		}
		if slices.Contains(text, strings.ToLower(c)) {
			types = append(types, quoteLiteral(c)+": 'VARCHAR'")
		}
	}
	if len(types) == 0 {
		return "", nil
	}
	return ", types = {" + strings.Join(types, ", ") + "}", nil
}

// column is a column of a DuckDB table.
type column struct{ name, typ string }

// duckTables lists the tables of the main schema of db with their columns.
func duckTables(t testing.TB, db *sql.DB) (names []string, cols map[string][]column) {
	t.Helper()
	rows, err := db.Query(`SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	defer rows.Close()
	cols = map[string][]column{}
	for rows.Next() {
		var tbl string
		var c column
		if err := rows.Scan(&tbl, &c.name, &c.typ); err != nil {
			t.Fatalf("tablestest: %v", err)
		}
		if _, ok := cols[tbl]; !ok {
			names = append(names, tbl)
		}
		cols[tbl] = append(cols[tbl], c)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	return names, cols
}

// selectAll is the SELECT of a table's columns, text for those the loaders take as
// text (UUID, JSON, nested values...).
func selectAll(table string, cols []column, native func(typ string) bool) string {
	exprs := make([]string, len(cols))
	for i, c := range cols {
		exprs[i] = quoteIdent(c.name)
		if !native(c.typ) {
			exprs[i] = "CAST(" + exprs[i] + " AS VARCHAR)"
		}
	}
	return "SELECT " + strings.Join(exprs, ", ") + " FROM " + quoteIdent(table)
}

func quoteIdent(s string) string   { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// openDuck opens a DuckDB file read-only for copying.
func openDuck(t testing.TB, path string) *sql.DB {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	db, err := sql.Open("duckdb", path+"?access_mode=READ_ONLY")
	if err != nil {
		t.Fatalf("tablestest: %v", err)
	}
	return db
}
