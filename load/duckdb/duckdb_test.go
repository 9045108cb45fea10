package duckdb

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/loadtest"
	views "closedloop/sql"
)

func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

// tableOf builds a contract table from rows of Go values (nil = NULL).
func tableOf(t *testing.T, mem memory.Allocator, name string, rows ...[]any) arrow.Table {
	spec, ok := load.Lookup(name)
	require.True(t, ok)
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	for _, r := range rows {
		require.Len(t, r, len(spec.Schema.Fields()), name)
		for i, v := range r {
			fb := b.Field(i)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch x := fb.(type) {
			case *array.StringBuilder:
				x.Append(v.(string))
			case *array.Float64Builder:
				x.Append(v.(float64))
			case *array.Int64Builder:
				x.Append(int64(v.(int)))
			case *array.BooleanBuilder:
				x.Append(v.(bool))
			case *array.Date32Builder:
				x.Append(arrow.Date32FromTime(v.(time.Time)))
			case *array.TimestampBuilder:
				x.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(spec.Schema, []arrow.RecordBatch{rec})
}

// run loads the given tables (the others empty) for a range; failAfter > 0 stops
// after that many tables without committing, as a failing run would.
func run(t *testing.T, path string, from, to time.Time, tables map[string]arrow.Table, failAfter int) {
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: from, To: to}})
	require.NoError(t, err)
	defer func() { require.NoError(t, l.Close()) }()
	for i, spec := range load.Tables {
		if failAfter > 0 && i == failAfter {
			return // the loader is closed without Commit
		}
		tbl, ok := tables[spec.Name]
		if !ok {
			tbl = tableOf(t, mem, spec.Name)
			defer tbl.Release()
		}
		require.NoError(t, l.Load(ctx, spec.Name, tbl))
	}
	require.NoError(t, l.ApplyViews(ctx))
	require.NoError(t, l.Commit(ctx))
}

func spendRow(d time.Time, campaign string, cost float64) []any {
	return []any{d, "Paid Search", "google", "cpc", campaign, nil, cost, 10, 100, "USD"}
}

func convRow(id string, at time.Time) []any {
	return []any{id, "p1", at, "lead", nil, nil, nil, nil}
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int {
	var n int
	require.NoError(t, db.QueryRow(q, args...).Scan(&n))
	return n
}

func TestLoadReplaceRangeAndViews(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "wh.duckdb")

	first := map[string]arrow.Table{
		load.FctSpend: tableOf(t, mem, load.FctSpend, spendRow(day(1), "a", 10), spendRow(day(2), "a", 20), spendRow(day(3), "a", 30)),
		load.FctConversion: tableOf(t, mem, load.FctConversion,
			convRow("c1", day(1).Add(5*time.Hour)), convRow("c2", day(2).Add(23*time.Hour+59*time.Minute)), convRow("c3", day(3))),
		load.DimPerson: tableOf(t, mem, load.DimPerson, []any{"p1", day(1), day(3), 1, 1, 0, nil, nil, "lead", false, nil, nil, nil, nil, nil, nil, "Unclassified", nil}),
		load.RunLog:    tableOf(t, mem, load.RunLog, []any{"r1", day(4), day(4), day(1), day(3), "touches:x", "duckdb:x", "{}", 0, "success", nil, "dev", nil}),
		load.FctAttribution: tableOf(t, mem, load.FctAttribution,
			[]any{"c9", "t1", "linear", 1.0, 500.0, "Paid Search", "a", nil, "customer", day(2), day(1), "p1", "person", "p1"}),
	}
	run(t, path, day(1), day(3), first, 0)
	// Re-run days 2..3 with new rows: day 1 stays, 2..3 are replaced, nothing doubles.
	second := map[string]arrow.Table{
		load.FctSpend:      tableOf(t, mem, load.FctSpend, spendRow(day(2), "b", 200), spendRow(day(3), "b", 300)),
		load.FctConversion: tableOf(t, mem, load.FctConversion, convRow("c4", day(2))),
		load.RunLog:        tableOf(t, mem, load.RunLog, []any{"r2", day(5), day(5), day(2), day(3), "touches:x", "duckdb:x", "{}", 0, "success", nil, "dev", nil}),
	}
	run(t, path, day(2), day(3), second, 0)
	run(t, path, day(2), day(3), second, 0) // the same range again: the same rows
	for _, m := range []map[string]arrow.Table{first, second} {
		for _, tb := range m {
			tb.Release()
		}
	}

	db, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM fct_spend`))
	require.Equal(t, 510, count(t, db, `SELECT CAST(sum(cost) AS INTEGER) FROM fct_spend`))
	require.Equal(t, 2, count(t, db, `SELECT count(*) FROM fct_conversion`))
	require.Equal(t, 1, count(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_id = 'c1'`), "day 1 kept")
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM dim_person`), "replace-all tables hold the last run's rows")
	require.Equal(t, 3, count(t, db, `SELECT count(*) FROM run_log`), "run_log appends")
	// Every contract table exists with its columns.
	for _, spec := range load.Tables {
		require.Equal(t, len(spec.Schema.Fields()), count(t, db,
			`SELECT count(*) FROM information_schema.columns WHERE table_name = ?`, spec.Name), spec.Name)
	}
	// The view sees the spend of the last run (the attribution row was replaced away).
	require.Equal(t, 0, count(t, db, `SELECT count(*) FROM v_channel_performance`))
}

func TestFailedRunLeavesTablesAndReaderSeesOldVersion(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	old := map[string]arrow.Table{
		load.FctSpend: tableOf(t, mem, load.FctSpend, spendRow(day(1), "a", 10)),
		load.FctAttribution: tableOf(t, mem, load.FctAttribution,
			[]any{"c1", "t1", "linear", 1.0, 40.0, "Paid Search", "a", nil, "customer", day(1), day(1), "p1", "person", "p1"}),
	}
	defer func() {
		for _, tb := range old {
			tb.Release()
		}
	}()
	run(t, path, day(1), day(1), old, 0)

	// A dashboard holds the file open read-only for the whole next run.
	reader, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer reader.Close()
	require.Equal(t, 1, count(t, reader, `SELECT count(*) FROM fct_spend`))

	next := map[string]arrow.Table{load.FctSpend: tableOf(t, mem, load.FctSpend, spendRow(day(1), "x", 99), spendRow(day(1), "y", 1))}
	defer next[load.FctSpend].Release()
	run(t, path, day(1), day(1), next, 3) // fails after the third table
	require.Equal(t, 1, count(t, reader, `SELECT count(*) FROM fct_spend`))

	run(t, path, day(1), day(1), next, 0) // succeeds while the reader is open
	require.Equal(t, 1, count(t, reader, `SELECT count(*) FROM fct_spend`), "an open reader keeps the version it opened")
	// DuckDB shares one instance per file within a process: a dashboard (another
	// process) reopening the file is modelled by closing the old reader first.
	require.NoError(t, reader.Close())
	fresh, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer fresh.Close()
	require.Equal(t, 2, count(t, fresh, `SELECT count(*) FROM fct_spend`))
	require.Equal(t, 0, count(t, fresh, `SELECT count(*) FROM fct_attribution`))

	// After the failed run, the previous version was intact: check on a fresh failure.
	require.NoError(t, fresh.Close())
	run(t, path, day(1), day(1), old, 5)
	again, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer again.Close()
	require.Equal(t, 2, count(t, again, `SELECT count(*) FROM fct_spend`))
	require.FileExists(t, path)
	require.NoFileExists(t, path+".next")
}

func TestSecondWriterIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	ctx := context.Background()
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.NoError(t, err)
	defer l.Close()
	_, err = Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.ErrorContains(t, err, "another run is writing")
}

func TestSchemaMismatchIsRefused(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "wh.duckdb")
	ctx := context.Background()
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.NoError(t, err)
	defer l.Close()
	wrong := tableOf(t, mem, load.FctSpend)
	defer wrong.Release()
	require.ErrorContains(t, l.Load(ctx, load.FctConversion, wrong), "differs from the contract")
}

// TestSuite runs the loader suite every warehouse runs.
func TestSuite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "suite.duckdb")
	loadtest.Run(t, loadtest.Target{
		Open: func(t *testing.T, r load.Range) load.Loader {
			l, err := Open(context.Background(), Config{Path: path, Range: r})
			require.NoError(t, err)
			return l
		},
		DB: func(t *testing.T) *sql.DB {
			db, err := OpenReadOnly(path)
			require.NoError(t, err)
			return db
		},
		Table: func(name string) string { return name },
		Columns: func(t *testing.T, db *sql.DB, table string) []string {
			rows, err := db.Query(`SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position`, table)
			require.NoError(t, err)
			defer rows.Close()
			var out []string
			for rows.Next() {
				var c string
				require.NoError(t, rows.Scan(&c))
				out = append(out, c)
			}
			return out
		},
	})
}

// TestTimestampsStayUTC: a timestamp goes in and comes out as the same UTC instant to
// the microsecond, whatever the process's time zone and the ingest path.
func TestTimestampsStayUTC(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ts.duckdb")
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	at := time.Date(2026, 1, 5, 23, 30, 0, 123456000, time.UTC)
	conv := tableOf(t, mem, load.FctConversion, convRow("c1", at))
	defer conv.Release()
	run(t, path, day(5), day(5), map[string]arrow.Table{load.FctConversion: conv}, 0)
	db, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer db.Close()
	var s string
	require.NoError(t, db.QueryRow(`SELECT strftime(occurred_at, '%Y-%m-%dT%H:%M:%S.%f') FROM fct_conversion`).Scan(&s))
	require.Equal(t, "2026-01-05T23:30:00.123456", s, Ingest)
}

// TestOlderReplaceAllTableIsRecreated: a table every run replaces whole (dim_person)
// written by an older version with fewer columns is recreated with this version's;
// a date-keyed table with other columns is still refused, its history kept.
func TestOlderReplaceAllTableIsRecreated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.duckdb")
	ctx := context.Background()
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE dim_person (person_id VARCHAR NOT NULL, is_customer BOOLEAN NOT NULL);
		INSERT INTO dim_person VALUES ('p_old', true);
		CREATE VIEW v_old AS SELECT count(*) AS n FROM dim_person`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.NoError(t, err)
	require.NoError(t, l.Commit(ctx))
	require.NoError(t, l.Close())
	ro, err := OpenReadOnly(path)
	require.NoError(t, err)
	var cols, rows int
	require.NoError(t, ro.QueryRow(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'dim_person'`).Scan(&cols))
	require.NoError(t, ro.QueryRow(`SELECT count(*) FROM dim_person`).Scan(&rows))
	require.NoError(t, ro.Close())
	spec, _ := load.Lookup(load.DimPerson)
	require.Equal(t, spec.Schema.NumFields(), cols)
	require.Zero(t, rows)

	db, err = sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(`DROP TABLE fct_spend; CREATE TABLE fct_spend (date DATE NOT NULL, cost VARCHAR)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	_, err = Open(ctx, Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
	require.ErrorContains(t, err, "table fct_spend in "+path+" has columns")
}

// oldRunLog is run_log as versions before stage_seconds created it, with one row.
const oldRunLog = `CREATE TABLE run_log (run_id VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
	finished_at TIMESTAMP NOT NULL, range_from DATE NOT NULL, range_to DATE NOT NULL, inputs VARCHAR NOT NULL,
	warehouse VARCHAR NOT NULL, row_counts VARCHAR NOT NULL, rejected_count BIGINT NOT NULL,
	status VARCHAR NOT NULL, message VARCHAR, version VARCHAR NOT NULL);
INSERT INTO run_log VALUES ('r_old', '2026-01-01 02:00:00', '2026-01-01 02:05:00', '2026-01-01', '2026-01-01',
	'touches:x', 'duckdb:x', '{}', 0, 'success', NULL, 'v1')`

// TestOlderRunLogGetsNewColumns: a run_log written before stage_seconds existed gets the
// column, commented, in the run's new version of the file: its old row is kept with
// NULL, the run's row has the value. A run that fails leaves the live file as it was.
func TestOlderRunLogGetsNewColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "old.duckdb")
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(oldRunLog)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	cols := func() int {
		ro, err := OpenReadOnly(path)
		require.NoError(t, err)
		defer ro.Close()
		return count(t, ro, `SELECT count(*) FROM information_schema.columns WHERE table_name = 'run_log'`)
	}
	run(t, path, day(2), day(2), nil, 3) // fails after three tables
	require.Equal(t, 12, cols(), "a failed run adds nothing to the live file")

	row := tableOf(t, mem, load.RunLog, []any{"r_new", day(3), day(3), day(2), day(2), "touches:x", "duckdb:x", "{}", 0,
		"success", nil, "v2", `{"load":1.5}`})
	defer row.Release()
	run(t, path, day(2), day(2), map[string]arrow.Table{load.RunLog: row}, 0)

	ro, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer ro.Close()
	got := map[string]sql.NullString{}
	rows, err := ro.Query(`SELECT run_id, stage_seconds FROM run_log`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var id string
		var s sql.NullString
		require.NoError(t, rows.Scan(&id, &s))
		got[id] = s
	}
	require.NoError(t, rows.Err())
	require.Equal(t, map[string]sql.NullString{"r_old": {}, "r_new": {String: `{"load":1.5}`, Valid: true}}, got)
	var comment string
	require.NoError(t, ro.QueryRow(`SELECT comment FROM duckdb_columns() WHERE table_name = 'run_log' AND column_name = 'stage_seconds'`).Scan(&comment))
	spec, _ := load.Lookup(load.RunLog)
	f, _ := spec.Schema.FieldsByName("stage_seconds")
	require.Equal(t, load.Description(f[0]), comment)
}

// olderTable is the DDL of contract table name as a version that wrote only its first
// n columns created it, with the given rows (SQL value lists).
func olderTable(name string, n int, rows ...string) string {
	spec, _ := load.Lookup(name)
	var defs []string
	for _, f := range spec.Schema.Fields()[:n] {
		def := quote(f.Name) + " " + SQLType(f.Type)
		if !f.Nullable {
			def += " NOT NULL"
		}
		defs = append(defs, def)
	}
	ddl := "CREATE TABLE " + name + " (" + strings.Join(defs, ", ") + ");"
	for _, r := range rows {
		ddl += "\nINSERT INTO " + name + " VALUES (" + r + ");"
	}
	return ddl
}

// TestOlderFactsGetScopeAndAccount: fct_attribution and fct_conversion written before
// journey scopes and accounts keep their rows outside the run's range: the old
// attribution rows get scope 'person' (the contract's value for existing rows) and a
// NULL touch_person_id, the old conversions a NULL account_id; scope is NOT NULL
// afterwards, without a default; the run's rows are there beside them.
func TestOlderFactsGetScopeAndAccount(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	path := filepath.Join(t.TempDir(), "old.duckdb")
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(olderTable(load.FctAttribution, 12,
		`'c_old', 't_old', 'linear', 1.0, 100.0, 'Paid Search', 'brand', NULL, 'customer', '2026-01-01 10:00:00', '2026-01-01 09:00:00', 'p_old'`) +
		olderTable(load.FctConversion, 7, `'c_old', 'p_old', '2026-01-01 10:00:00', 'customer', 100.0, 'USD', 'd_old'`))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	conv := tableOf(t, mem, load.FctConversion, []any{"c_new", "p_new", day(2).Add(time.Hour), "customer", 50.0, "USD", "d_new", "crm:a1"})
	defer conv.Release()
	attr := tableOf(t, mem, load.FctAttribution,
		[]any{"c_new", "t_new", "linear", 1.0, 50.0, "Paid Social", nil, nil, "customer", day(2).Add(time.Hour), day(2), "p_new", "person", "p_new"},
		[]any{"c_new", "t_other", "linear", 1.0, 50.0, "Email", nil, nil, "customer", day(2).Add(time.Hour), day(2), "p_new", "deal", "p_buyer"})
	defer attr.Release()
	run(t, path, day(2), day(2), map[string]arrow.Table{load.FctConversion: conv, load.FctAttribution: attr}, 0)

	ro, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer ro.Close()
	got := func(q string) []string {
		rows, err := ro.Query(q)
		require.NoError(t, err)
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			require.NoError(t, rows.Scan(&s))
			out = append(out, s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	assert.Equal(t, []string{"c_new deal p_buyer", "c_new person p_new", "c_old person NULL"},
		got(`SELECT conversion_id || ' ' || scope || ' ' || coalesce(touch_person_id, 'NULL') FROM fct_attribution ORDER BY 1`))
	assert.Equal(t, []string{"c_new crm:a1", "c_old NULL"},
		got(`SELECT conversion_id || ' ' || coalesce(account_id, 'NULL') FROM fct_conversion ORDER BY 1`))
	assert.Equal(t, []string{"false NULL"},
		got(`SELECT CAST(is_nullable AS VARCHAR) || ' ' || coalesce(column_default, 'NULL') FROM duckdb_columns() WHERE table_name = 'fct_attribution' AND column_name = 'scope'`))
}

// TestOlderTablesAreRefused: any other difference from the contract than missing
// nullable trailing columns of an Append table is refused, as before.
func TestOlderTablesAreRefused(t *testing.T) {
	for name, ddl := range map[string]string{
		"a column of the middle missing": strings.Replace(oldRunLog, "message VARCHAR, ", "", 1),
		"a NOT NULL column missing":      strings.Replace(oldRunLog, "rejected_count BIGINT NOT NULL,\n\tstatus VARCHAR NOT NULL, message VARCHAR, version VARCHAR NOT NULL", "rejected_count BIGINT NOT NULL", 1),
		"another type":                   strings.Replace(oldRunLog, "version VARCHAR NOT NULL", "version BIGINT NOT NULL", 1),
		"a column more":                  strings.Replace(oldRunLog, "version VARCHAR NOT NULL)", "version VARCHAR NOT NULL, stage_seconds VARCHAR, extra VARCHAR)", 1),
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "old.duckdb")
			db, err := sql.Open("duckdb", path)
			require.NoError(t, err)
			ddl, _, _ := strings.Cut(ddl, ";")
			_, err = db.Exec(ddl)
			require.NoError(t, err)
			require.NoError(t, db.Close())
			_, err = Open(context.Background(), Config{Path: path, Range: load.Range{From: day(1), To: day(1)}})
			require.ErrorContains(t, err, "table run_log in "+path+" has columns")
		})
	}
}

// TestEverythingCommented: after a run, every contract table and view, and every one of
// their columns, carries a comment, also in a file whose tables an older version made
// without column comments; the view columns' are those their SQL files describe.
func TestEverythingCommented(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.duckdb")
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	_, err = db.Exec(oldRunLog) // no comments at all
	require.NoError(t, err)
	// A view an older version's Arrow scan left behind goes.
	_, err = db.Exec(`CREATE VIEW _closedloop_arrow_run_log AS SELECT 1 AS x`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	run(t, path, day(1), day(1), nil, 0)
	run(t, path, day(1), day(1), nil, 0) // views replaced: their comments again

	ro, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer ro.Close()
	list, err := views.List("duckdb")
	require.NoError(t, err)
	relations := map[string]bool{}
	for _, t := range load.Tables {
		relations[t.Name] = true
	}
	for _, v := range list {
		relations[v.Name] = true
	}
	described := map[string]int{}
	rows, err := ro.Query(`SELECT table_name, column_name, coalesce(comment, '') FROM duckdb_columns()
		WHERE database_name = current_database() AND schema_name = 'main'`)
	require.NoError(t, err)
	defer rows.Close()
	var missing []string
	for rows.Next() {
		var rel, col, comment string
		require.NoError(t, rows.Scan(&rel, &col, &comment))
		if strings.TrimSpace(comment) == "" {
			missing = append(missing, rel+"."+col)
		}
		described[rel]++
	}
	require.NoError(t, rows.Err())
	assert.Empty(t, missing, "columns without a comment")
	for rel := range relations {
		assert.NotZero(t, described[rel], "%s has no columns in duckdb_columns()", rel)
	}
	for _, q := range []string{
		`SELECT table_name, coalesce(comment, '') FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'`,
		`SELECT view_name, coalesce(comment, '') FROM duckdb_views() WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal`,
	} {
		rows, err := ro.Query(q)
		require.NoError(t, err)
		for rows.Next() {
			var rel, comment string
			require.NoError(t, rows.Scan(&rel, &comment))
			assert.NotEmpty(t, strings.TrimSpace(comment), rel)
			delete(relations, rel)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	assert.Empty(t, relations, "tables and views not found")

	// The descriptions are the contract's and the view files'.
	var c string
	require.NoError(t, ro.QueryRow(`SELECT comment FROM duckdb_columns() WHERE table_name = 'fct_spend' AND column_name = 'cost'`).Scan(&c))
	assert.Equal(t, "Cost in currency", c)
	require.NoError(t, ro.QueryRow(`SELECT comment FROM duckdb_columns() WHERE table_name = 'v_funnel' AND column_name = 'people'`).Scan(&c))
	assert.Equal(t, "people who reached the stage", c)
	require.NoError(t, ro.QueryRow(`SELECT comment FROM duckdb_views() WHERE view_name = 'v_funnel'`).Scan(&c))
	assert.True(t, strings.HasPrefix(c, "A row: one funnel stage"), c)
}
