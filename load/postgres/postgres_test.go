package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/loadtest"
	"closedloop/load/postgres/pgtest"
	views "closedloop/sql"
)

// testDSN is the database the tests use; skipReason says why there is none.
var testDSN, skipReason string

// TestMain starts a throwaway PostgreSQL (pgtest), or uses CLOSEDLOOP_TEST_POSTGRES_DSN.
// Without PostgreSQL on this machine every test skips, unless
// CLOSEDLOOP_REQUIRE_POSTGRES=1 (CI), which makes the package fail.
func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	if dsn := os.Getenv("CLOSEDLOOP_TEST_POSTGRES_DSN"); dsn != "" {
		testDSN = dsn
		return m.Run()
	}
	srv, err := pgtest.StartServer()
	switch {
	case err == nil:
		defer func() {
			if err := srv.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, "load/postgres:", err)
			}
		}()
		testDSN = srv.DSN()
	case errors.Is(err, pgtest.ErrUnavailable) && os.Getenv("CLOSEDLOOP_REQUIRE_POSTGRES") != "1":
		skipReason = err.Error() + " (set CLOSEDLOOP_TEST_POSTGRES_DSN to use a server, or CLOSEDLOOP_REQUIRE_POSTGRES=1 to fail instead)"
		fmt.Fprintln(os.Stderr, "load/postgres: skipping the tests:", skipReason)
	default:
		fmt.Fprintln(os.Stderr, "load/postgres: cannot start PostgreSQL for the tests:", err)
		return 1
	}
	return m.Run()
}

func needPostgres(t testing.TB) {
	t.Helper()
	if testDSN == "" {
		t.Skip(skipReason)
	}
}

// connect opens a plain session, closed at the end of the test.
func connect(t testing.TB) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(context.Background(), testDSN)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// freshSchema returns the name of a schema that does not exist yet (the loader creates
// it); it is dropped at the end of the test.
func freshSchema(t testing.TB) string {
	t.Helper()
	needPostgres(t)
	name := fmt.Sprintf("test_%s_%d", strings.ToLower(strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(t.Name())), rand.Uint32())
	if len(name) > 60 {
		name = fmt.Sprintf("test_%d", rand.Uint64())
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testDSN)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(context.Background())
		if _, err := c.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	return name
}

func day(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }

func days(from, to int) load.Range { return load.Range{From: day(from), To: day(to)} }

func open(t testing.TB, schema string, r load.Range) *Loader {
	t.Helper()
	l, err := Open(context.Background(), Config{DSN: testDSN, Range: r, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { l.Close() })
	return l
}

// tableOf builds a contract table from rows of Go values (nil = NULL).
func tableOf(t testing.TB, mem memory.Allocator, name string, rows ...[]any) arrow.Table {
	t.Helper()
	spec, ok := load.Lookup(name)
	require.True(t, ok)
	return tableWith(t, mem, spec.Schema, rows...)
}

func tableWith(t testing.TB, mem memory.Allocator, schema *arrow.Schema, rows ...[]any) arrow.Table {
	t.Helper()
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	for _, r := range rows {
		require.Len(t, r, len(schema.Fields()))
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
				switch n := v.(type) {
				case int:
					x.Append(int64(n))
				case int64:
					x.Append(n)
				}
			case *array.BooleanBuilder:
				x.Append(v.(bool))
			case *array.Date32Builder:
				x.Append(arrow.Date32FromTime(v.(time.Time)))
			case *array.TimestampBuilder:
				x.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			default:
				t.Fatalf("no builder for %T", fb)
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	return array.NewTableFromRecords(schema, []arrow.RecordBatch{rec})
}

// loadAll loads every contract table (given or empty) and the views into l.
func loadAll(t testing.TB, l *Loader, mem memory.Allocator, tables map[string]arrow.Table) {
	t.Helper()
	ctx := context.Background()
	for _, spec := range load.Tables {
		tbl, ok := tables[spec.Name]
		if !ok {
			tbl = tableOf(t, mem, spec.Name)
			defer tbl.Release()
		}
		require.NoError(t, l.Load(ctx, spec.Name, tbl), spec.Name)
	}
	require.NoError(t, l.ApplyViews(ctx))
}

// run loads tables over r and commits.
func run(t testing.TB, schema string, r load.Range, tables map[string]arrow.Table) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := open(t, schema, r)
	loadAll(t, l, mem, tables)
	require.NoError(t, l.Commit(context.Background()))
	require.NoError(t, l.Close())
}

func release(tables map[string]arrow.Table) {
	for _, tb := range tables {
		tb.Release()
	}
}

// queryInt runs a query returning one integer.
func queryInt(t testing.TB, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, q.QueryRow(context.Background(), sql, args...).Scan(&n), sql)
	return n
}

func spendRow(d time.Time, campaign string, cost float64) []any {
	return []any{d, "Paid Search", "google", "cpc", campaign, nil, cost, 10, 100, "USD"}
}

func personRow(id string) []any {
	return []any{id, day(1), day(2), 1, 1, 0, nil, nil, "lead", false, nil, nil, nil, nil, nil, nil, "Unclassified", nil}
}

func attributionRow(conv string, at time.Time, person string) []any {
	return []any{conv, "t_" + conv, "linear", 1.0, 40.0, "Paid Search", "a", nil, "customer", at, at, person, "person", person}
}

// TestSuite runs the loader suite every warehouse runs, in a fresh schema.
func TestSuite(t *testing.T) {
	schema := freshSchema(t)
	loadtest.Run(t, loadtest.Target{
		Open: func(t *testing.T, r load.Range) load.Loader {
			l, err := Open(context.Background(), Config{DSN: testDSN, Range: r, Schema: schema})
			require.NoError(t, err)
			return l
		},
		DB: func(t *testing.T) *sql.DB {
			db, err := pgtest.OpenDB(testDSN)
			require.NoError(t, err)
			return db
		},
		Table: func(name string) string { return pgx.Identifier{schema, name}.Sanitize() },
		Columns: func(t *testing.T, db *sql.DB, table string) []string {
			rows, err := db.Query(`SELECT column_name::text FROM information_schema.columns
				WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, schema, table)
			require.NoError(t, err)
			defer rows.Close()
			var out []string
			for rows.Next() {
				var c string
				require.NoError(t, rows.Scan(&c))
				out = append(out, c)
			}
			require.NoError(t, rows.Err())
			return out
		},
	})
}

// TestReaderKeepsItsSnapshotAndNeverBlocksTheRun: a dashboard holding a REPEATABLE
// READ transaction that has read the tables and the view across a whole run keeps
// seeing the old rows, the run (with unchanged views) neither waits for it nor makes
// it wait, and new reads see the new rows after Commit only.
func TestReaderKeepsItsSnapshotAndNeverBlocksTheRun(t *testing.T) {
	schema := freshSchema(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	spend := func(tx interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) int {
		return queryInt(t, tx, "SELECT count(*) FROM "+pgx.Identifier{schema, "fct_spend"}.Sanitize())
	}
	old := map[string]arrow.Table{
		load.FctSpend:       tableOf(t, mem, load.FctSpend, spendRow(day(1), "a", 10)),
		load.DimPerson:      tableOf(t, mem, load.DimPerson, personRow("p_old")),
		load.FctAttribution: tableOf(t, mem, load.FctAttribution, attributionRow("c1", day(1), "p1")),
	}
	defer release(old)
	run(t, schema, days(1, 1), old)

	reader := connect(t)
	rtx, err := reader.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer rtx.Rollback(ctx)
	require.Equal(t, 1, spend(rtx))
	require.Equal(t, 1, queryInt(t, rtx, "SELECT count(*) FROM "+pgx.Identifier{schema, "v_channel_performance"}.Sanitize()+" WHERE date_basis = 'conversion_date'"))
	require.Equal(t, 1, queryInt(t, rtx, "SELECT count(*) FROM "+pgx.Identifier{schema, "dim_person"}.Sanitize()+" WHERE person_id = 'p_old'"))

	next := map[string]arrow.Table{
		load.FctSpend:  tableOf(t, mem, load.FctSpend, spendRow(day(1), "x", 99), spendRow(day(1), "y", 1)),
		load.DimPerson: tableOf(t, mem, load.DimPerson, personRow("p_new")),
	}
	defer release(next)
	// The whole run must finish well within this while the reader stays open: the
	// run never waits for the reader.
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	l, err := Open(rctx, Config{DSN: testDSN, Range: days(1, 1), Schema: schema})
	require.NoError(t, err)
	defer l.Close()
	loadAll(t, l, mem, next)

	// Before Commit: nothing is visible, and a new reader does not wait either.
	other := connect(t)
	qctx, qcancel := context.WithTimeout(ctx, 5*time.Second)
	defer qcancel()
	assert.Equal(t, 1, queryInt(t, other, "SELECT count(*) FROM "+pgx.Identifier{schema, "fct_spend"}.Sanitize()))
	assert.Equal(t, 1, queryInt(t, other, "SELECT count(*) FROM "+pgx.Identifier{schema, "dim_person"}.Sanitize()+" WHERE person_id = 'p_old'"))
	var n int
	require.NoError(t, other.QueryRow(qctx, "SELECT count(*) FROM "+pgx.Identifier{schema, "v_channel_performance"}.Sanitize()+" WHERE date_basis = 'conversion_date'").Scan(&n))
	assert.Equal(t, 1, n)

	require.NoError(t, l.Commit(rctx))
	require.NoError(t, l.Close())

	assert.Equal(t, 1, spend(rtx), "an open REPEATABLE READ transaction keeps its snapshot")
	assert.Equal(t, 1, queryInt(t, rtx, "SELECT count(*) FROM "+pgx.Identifier{schema, "dim_person"}.Sanitize()+" WHERE person_id = 'p_old'"))
	assert.Equal(t, 2, spend(other), "a new read sees the committed run")
	assert.Equal(t, 0, queryInt(t, other, "SELECT count(*) FROM "+pgx.Identifier{schema, "fct_attribution"}.Sanitize()))
	require.NoError(t, rtx.Commit(ctx))
	assert.Equal(t, 2, spend(reader))
}

// TestChangedViewWaitsForReadersBounded: replacing a view whose SQL changed needs
// ACCESS EXCLUSIVE on it; ApplyViews waits for its readers only viewLockWait at a
// time, viewLockTries times, then fails with what to do.
func TestChangedViewWaitsForReadersBounded(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	run(t, schema, days(1, 1), nil)
	view := pgx.Identifier{schema, "v_channel_performance"}.Sanitize()
	admin := connect(t)
	_, err := admin.Exec(ctx, "COMMENT ON VIEW "+view+" IS 'made by an older version'")
	require.NoError(t, err)

	reader := connect(t)
	rtx, err := reader.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	require.NoError(t, err)
	defer rtx.Rollback(ctx)
	queryInt(t, rtx, "SELECT count(*) FROM "+view)

	oldWait, oldTries := viewLockWait, viewLockTries
	viewLockWait, viewLockTries = 100*time.Millisecond, 3
	defer func() { viewLockWait, viewLockTries = oldWait, oldTries }()
	l := open(t, schema, days(1, 1))
	start := time.Now()
	err = l.ApplyViews(ctx)
	require.ErrorContains(t, err, "view v_channel_performance (sql/postgres/v_channel_performance.sql): sessions kept reading it")
	require.ErrorContains(t, err, "end their open transactions")
	assert.Less(t, time.Since(start), 5*time.Second)
	require.NoError(t, l.Close())

	// Once the reader is done, the view is replaced and its comment records the SQL.
	require.NoError(t, rtx.Commit(ctx))
	l = open(t, schema, days(1, 1))
	require.NoError(t, l.ApplyViews(ctx))
	require.NoError(t, l.Commit(ctx))
	var comment string
	require.NoError(t, admin.QueryRow(ctx, "SELECT obj_description($1::regclass, 'pg_class')", view).Scan(&comment))
	vs, err := views.List("postgres")
	require.NoError(t, err)
	var perf views.View
	for _, v := range vs {
		if v.Name == "v_channel_performance" {
			perf = v
		}
	}
	assert.Contains(t, comment, viewMarker(perf))
	assert.Contains(t, comment, "A row: one date basis x day x attribution model x journey scope x conversion type x channel")
}

func TestExistingTableWithOtherColumnsIsRefused(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	admin := connect(t)
	_, err := admin.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.fct_spend (date date NOT NULL, channel text NOT NULL, source text NOT NULL, medium text NOT NULL,
			campaign text, term text, cost text NOT NULL, clicks bigint, impressions bigint, currency text NOT NULL)`,
		pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	_, err = Open(ctx, Config{DSN: testDSN, Range: days(1, 1), Schema: schema})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "table "+schema+".fct_spend has columns")
	assert.Contains(t, msg, "column cost is text, the contract's is double precision")
	assert.Contains(t, msg, "DROP TABLE")
	assert.Contains(t, msg, "re-run the date ranges you need")
	// Nothing of the refused run stays: the tables it had created before are gone.
	assert.Equal(t, 1, queryInt(t, admin, "SELECT count(*) FROM pg_tables WHERE schemaname = $1", schema))

	// A missing column and a NOT NULL the contract does not have.
	_, err = admin.Exec(ctx, fmt.Sprintf(`DROP TABLE %[1]s.fct_spend;
		CREATE TABLE %[1]s.fct_spend (date date NOT NULL, channel text NOT NULL, source text NOT NULL, medium text NOT NULL,
			campaign text NOT NULL, term text, cost double precision NOT NULL, clicks bigint, impressions bigint, currency text NOT NULL)`,
		pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	_, err = Open(ctx, Config{DSN: testDSN, Range: days(1, 1), Schema: schema})
	require.ErrorContains(t, err, "column campaign is NOT NULL, the contract allows NULL")
	assert.Equal(t, []string{"column currency is missing"}, []string{columnsDiff(
		[]column{{name: "a", typ: "text"}}, []column{{name: "a", typ: "text"}, {name: "currency", typ: "text"}})})
}

func TestLoadWithAnotherArrowSchemaIsRefused(t *testing.T) {
	schema := freshSchema(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	l := open(t, schema, days(1, 1))

	wrong := tableOf(t, mem, load.FctSpend)
	defer wrong.Release()
	err := l.Load(ctx, load.FctConversion, wrong)
	require.ErrorContains(t, err, "postgres: fct_conversion: the table's Arrow schema differs from the contract's: it has 10 columns (date, channel, ")
	require.ErrorContains(t, err, "the contract 8 (conversion_id, person_id, ")

	// The contract's columns, but a timestamp without its UTC zone.
	spec, _ := load.Lookup(load.FctConversion)
	fields := spec.Schema.Fields()
	fields[2].Type = &arrow.TimestampType{Unit: arrow.Microsecond}
	naive := tableWith(t, mem, arrow.NewSchema(fields, nil), []any{"c1", "p1", day(1), "lead", nil, nil, nil, nil})
	defer naive.Release()
	require.ErrorContains(t, l.Load(ctx, load.FctConversion, naive), "column occurred_at is timestamp[us], the contract's is timestamp[us, tz=UTC]")

	require.ErrorContains(t, l.Load(ctx, "fct_nothing", wrong), "fct_nothing is not a warehouse table")

	// A refused schema touches nothing: the run goes on.
	good := tableOf(t, mem, load.FctConversion, []any{"c1", "p1", day(1), "lead", nil, nil, nil, nil})
	defer good.Release()
	require.NoError(t, l.Load(ctx, load.FctConversion, good))
	require.NoError(t, l.Commit(ctx))
	assert.Equal(t, 1, queryInt(t, connect(t), "SELECT count(*) FROM "+pgx.Identifier{schema, "fct_conversion"}.Sanitize()))
}

// TestFailedStepAbortsTheRun: a row PostgreSQL refuses fails its Load with the table,
// the row and the column; the run refuses any further step and Close leaves every
// table as it was.
func TestFailedStepAbortsTheRun(t *testing.T) {
	schema := freshSchema(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	old := map[string]arrow.Table{load.FctSpend: tableOf(t, mem, load.FctSpend, spendRow(day(1), "a", 10))}
	defer release(old)
	run(t, schema, days(1, 1), old)

	l := open(t, schema, days(1, 1))
	// Arrow lets a non-nullable field hold a null; NOT NULL refuses it.
	bad := tableOf(t, mem, load.FctSpend, spendRow(day(1), "b", 5), []any{day(1), nil, "google", "cpc", nil, nil, 1.0, nil, nil, "USD"})
	defer bad.Release()
	err := l.Load(ctx, load.FctSpend, bad)
	require.ErrorContains(t, err, "postgres: load "+schema+".fct_spend")
	require.ErrorContains(t, err, `column "channel"`)
	require.ErrorContains(t, err, "line 2")
	require.ErrorContains(t, l.ApplyViews(ctx), "an earlier step of this run failed")
	require.ErrorContains(t, l.Commit(ctx), "an earlier step of this run failed")
	require.NoError(t, l.Close())
	require.NoError(t, l.Close(), "Close twice")
	require.ErrorContains(t, l.Commit(ctx), "the loader is closed")

	c := connect(t)
	assert.Equal(t, 1, queryInt(t, c, "SELECT count(*) FROM "+pgx.Identifier{schema, "fct_spend"}.Sanitize()+" WHERE campaign = 'a'"))
}

// TestFirstRunNotCommittedLeavesNothing: CREATE SCHEMA and CREATE TABLE are part of
// the run's transaction.
func TestFirstRunNotCommittedLeavesNothing(t *testing.T) {
	schema := freshSchema(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	l := open(t, schema, days(1, 1))
	tb := tableOf(t, mem, load.FctSpend, spendRow(day(1), "a", 10))
	defer tb.Release()
	require.NoError(t, l.Load(context.Background(), load.FctSpend, tb))
	require.NoError(t, l.Close())
	assert.Equal(t, 0, queryInt(t, connect(t), "SELECT count(*) FROM pg_namespace WHERE nspname = $1", schema))
}

func TestSecondRunIsRefused(t *testing.T) {
	schema := freshSchema(t)
	l := open(t, schema, days(1, 1))
	_, err := Open(context.Background(), Config{DSN: testDSN, Range: days(1, 1), Schema: schema})
	require.ErrorContains(t, err, "another run is loading schema "+schema)
	require.NoError(t, l.Close())
	l2 := open(t, schema, days(1, 1)) // the lock goes with the transaction
	require.NoError(t, l2.Close())
}

// TestRemapPersons: rows of days before the run's range move to the person an alias
// now belongs to, inside the run: not before Commit, and not at all without it.
func TestRemapPersons(t *testing.T) {
	schema := freshSchema(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	touch := func(id, person string, at time.Time) []any {
		return []any{id, person, "cookie_" + id, "s_" + id, at, "Email", nil, nil, nil, nil, nil, nil, nil, "session_start"}
	}
	first := map[string]arrow.Table{
		load.FctTouchpoint: tableOf(t, mem, load.FctTouchpoint,
			touch("t1", "anon1", day(1).Add(time.Hour)), touch("t2", "anon1", day(2).Add(time.Hour)), touch("t3", "p9", day(2))),
		load.FctConversion:  tableOf(t, mem, load.FctConversion, []any{"c1", "anon1", day(2), "lead", nil, nil, nil, nil}),
		load.FctAttribution: tableOf(t, mem, load.FctAttribution, attributionRow("c1", day(2), "anon1")),
		load.DimPerson:      tableOf(t, mem, load.DimPerson, personRow("anon1")),
	}
	defer release(first)
	run(t, schema, days(1, 2), first)

	aliasSchema := arrow.NewSchema([]arrow.Field{
		{Name: "alias_id", Type: arrow.BinaryTypes.String},
		{Name: "person_id", Type: arrow.BinaryTypes.String},
	}, nil)
	aliases := tableWith(t, mem, aliasSchema, []any{"anon1", "p1"}, []any{"anon2", "p2"}, []any{"p9", "p9"})
	defer aliases.Release()
	second := map[string]arrow.Table{
		load.FctTouchpoint: tableOf(t, mem, load.FctTouchpoint, touch("t4", "p1", day(3))),
		load.DimPerson:     tableOf(t, mem, load.DimPerson, personRow("p1")),
	}
	defer release(second)
	c := connect(t)
	count := func(table, person string) int {
		return queryInt(t, c, "SELECT count(*) FROM "+pgx.Identifier{schema, table}.Sanitize()+" WHERE person_id = $1", person)
	}

	// Not committed: nothing moves.
	l := open(t, schema, days(3, 3))
	loadAll(t, l, mem, second)
	n, err := l.RemapPersons(ctx, aliases)
	require.NoError(t, err)
	assert.EqualValues(t, 4, n)
	assert.Equal(t, 2, count("fct_touchpoint", "anon1"), "invisible before Commit")
	require.NoError(t, l.Close())
	assert.Equal(t, 2, count("fct_touchpoint", "anon1"))

	l = open(t, schema, days(3, 3))
	loadAll(t, l, mem, second)
	n, err = l.RemapPersons(ctx, aliases)
	require.NoError(t, err)
	// fct_touchpoint t1, t2 + fct_conversion c1 + fct_attribution c1.
	assert.EqualValues(t, 4, n)
	require.NoError(t, l.Commit(ctx))

	for _, table := range []string{"fct_touchpoint", "fct_conversion", "fct_attribution", "fct_page_view"} {
		assert.Equal(t, 0, count(table, "anon1"), table)
	}
	assert.Equal(t, 3, count("fct_touchpoint", "p1"), "days 1 and 2 moved, day 3 loaded")
	assert.Equal(t, 1, count("fct_conversion", "p1"))
	assert.Equal(t, 1, count("fct_attribution", "p1"))
	assert.Equal(t, 1, count("fct_touchpoint", "p9"), "a person aliased to itself is not a change")

	// Aliases with a wrong schema are refused before anything runs.
	l = open(t, schema, days(3, 3))
	_, err = l.RemapPersons(ctx, second[load.DimPerson])
	require.ErrorContains(t, err, "want one string column alias_id")
	n, err = l.RemapPersons(ctx, nil)
	require.NoError(t, err)
	assert.Zero(t, n)
}

// TestTypesRoundTrip: timestamps to the microsecond in UTC (also before 1970 and
// 2000, the two epochs involved), dates, NULL against empty strings, booleans,
// extreme integers and floats, text that needs quoting.
func TestTypesRoundTrip(t *testing.T) {
	schema := freshSchema(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	ts1 := time.Date(2026, 3, 1, 23, 59, 59, 999999000, time.UTC)
	ts2 := time.Date(1969, 12, 31, 23, 59, 59, 1000, time.UTC)
	ts3 := time.Date(1999, 12, 31, 12, 0, 0, 123456000, time.FixedZone("x", 5*3600)) // a zone: the instant counts
	text := `é ü 東京 'single' "double" \back\slash` + "\ttab\nnewline"
	tables := map[string]arrow.Table{
		load.DimPerson: tableOf(t, mem, load.DimPerson,
			[]any{"p1", ts1, ts2, int64(math.MaxInt64), int64(math.MinInt64), 0, text, "", "lead", true, "CIO", "Acme", "Retail", int64(5000), "Germany", "PAID_SEARCH", "Enterprise IT buyer", "crm:acme"},
			[]any{"p2", nil, ts3, 1, 1, 1, nil, nil, nil, false, nil, nil, nil, nil, nil, nil, "Unclassified", nil}),
		load.FctSpend: tableOf(t, mem, load.FctSpend,
			[]any{day(1), "c", "s", "m", nil, nil, 0.1, nil, 0, "USD"},
			[]any{time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC), "c", "s", "m", "x", "", math.Inf(1), -1, nil, "USD"},
			[]any{time.Date(1960, 2, 29, 0, 0, 0, 0, time.UTC), "c", "s", "m", "x", "", math.NaN(), 1, nil, "USD"}),
	}
	defer release(tables)
	run(t, schema, days(1, 1), tables)

	c := connect(t)
	// Read in a session far from UTC: instants do not depend on the reader's zone.
	_, err := c.Exec(ctx, "SET TimeZone = 'America/Los_Angeles'")
	require.NoError(t, err)

	type person struct {
		id               string
		first, last      pgtype.Timestamptz
		ids, anon, email int64
		crmID, crm       pgtype.Text
		stage            pgtype.Text
		customer         bool
		firstUTC         pgtype.Text
	}
	rows, err := c.Query(ctx, `SELECT person_id, first_seen_at, last_seen_at, identifier_count, anonymous_id_count, email_count,
		crm_contact_id, crm, lifecycle_stage, is_customer, to_char(first_seen_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
		FROM `+pgx.Identifier{schema, "dim_person"}.Sanitize()+` ORDER BY person_id`)
	require.NoError(t, err)
	var ps []person
	for rows.Next() {
		var p person
		require.NoError(t, rows.Scan(&p.id, &p.first, &p.last, &p.ids, &p.anon, &p.email, &p.crmID, &p.crm, &p.stage, &p.customer, &p.firstUTC))
		ps = append(ps, p)
	}
	require.NoError(t, rows.Err())
	require.Len(t, ps, 2)

	assert.True(t, ps[0].first.Valid)
	assert.Equal(t, ts1.UnixMicro(), ps[0].first.Time.UnixMicro())
	assert.Equal(t, "2026-03-01T23:59:59.999999", ps[0].firstUTC.String)
	assert.Equal(t, ts2.UnixMicro(), ps[0].last.Time.UnixMicro())
	assert.Equal(t, int64(math.MaxInt64), ps[0].ids)
	assert.Equal(t, int64(math.MinInt64), ps[0].anon)
	assert.Equal(t, pgtype.Text{String: text, Valid: true}, ps[0].crmID)
	assert.Equal(t, pgtype.Text{String: "", Valid: true}, ps[0].crm, "an empty string is not NULL")
	assert.True(t, ps[0].customer)

	assert.False(t, ps[1].first.Valid, "NULL timestamp")
	assert.Equal(t, ts3.UnixMicro(), ps[1].last.Time.UnixMicro())
	assert.False(t, ps[1].crmID.Valid, "NULL text")
	assert.False(t, ps[1].stage.Valid)
	assert.False(t, ps[1].customer)

	rows, err = c.Query(ctx, `SELECT date, to_char(date, 'YYYY-MM-DD'), cost, clicks, impressions, campaign, term
		FROM `+pgx.Identifier{schema, "fct_spend"}.Sanitize()+` ORDER BY date DESC`)
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var (
			d                   time.Time
			ds                  string
			cost                float64
			clicks, impressions *int64
			campaign, term      *string
		)
		require.NoError(t, rows.Scan(&d, &ds, &cost, &clicks, &impressions, &campaign, &term))
		got = append(got, fmt.Sprintf("%s %s %v %s %s %s %s", d.Format(time.DateOnly), ds, cost, orNull(clicks), orNull(impressions), orNull(campaign), orNull(term)))
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{
		"2026-01-01 2026-01-01 0.1 NULL 0 NULL NULL",
		"1999-12-31 1999-12-31 +Inf -1 NULL 'x' ''",
		"1960-02-29 1960-02-29 NaN 1 NULL 'x' ''",
	}, got)

	// Column types as the contract maps them.
	rows, err = c.Query(ctx, `SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = 'run_log' ORDER BY ordinal_position`, schema)
	require.NoError(t, err)
	var cols []string
	for rows.Next() {
		var n, ty, null string
		require.NoError(t, rows.Scan(&n, &ty, &null))
		cols = append(cols, n+" "+ty+" "+null)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{
		"run_id text NO", "started_at timestamp with time zone NO", "finished_at timestamp with time zone NO",
		"range_from date NO", "range_to date NO", "inputs text NO", "warehouse text NO", "row_counts text NO",
		"rejected_count bigint NO", "status text NO", "message text YES", "version text NO", "stage_seconds text YES",
	}, cols)
}

// TestCommentsIndexesAndReopen: descriptions become comments, the keys dashboards
// filter by get indexes, and a later run with the same contract changes none of it.
func TestCommentsIndexesAndReopen(t *testing.T) {
	schema := freshSchema(t)
	run(t, schema, days(1, 1), nil)
	c := connect(t)
	indexes := func() []string {
		rows, err := c.Query(context.Background(), `SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'fct_attribution' ORDER BY 1`, schema)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	assert.Equal(t, []string{"fct_attribution_channel_idx", "fct_attribution_model_idx", "fct_attribution_occurred_at_idx"}, indexes())
	var desc, colDesc string
	require.NoError(t, c.QueryRow(context.Background(), `SELECT obj_description(c.oid, 'pg_class'), col_description(c.oid, 1)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'fct_spend'`, schema).Scan(&desc, &colDesc))
	assert.Equal(t, "Ad cost of one campaign on one day.", desc)
	assert.Equal(t, "Day as the ad platform reports it", colDesc)

	// A changed description is brought up to date; indexes are not duplicated.
	_, err := c.Exec(context.Background(), "COMMENT ON TABLE "+pgx.Identifier{schema, "fct_spend"}.Sanitize()+" IS 'old'")
	require.NoError(t, err)
	run(t, schema, days(2, 2), nil)
	assert.Equal(t, []string{"fct_attribution_channel_idx", "fct_attribution_model_idx", "fct_attribution_occurred_at_idx"}, indexes())
	require.NoError(t, c.QueryRow(context.Background(), `SELECT obj_description(c.oid, 'pg_class')
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'fct_spend'`, schema).Scan(&desc))
	assert.Equal(t, "Ad cost of one campaign on one day.", desc)
}

// TestNoLeaks: Close (and Commit) end the loader's session and goroutines.
func TestNoLeaks(t *testing.T) {
	schema := freshSchema(t)
	app := fmt.Sprintf("closedloop-leak-%d", rand.Uint32())
	dsn := testDSN
	if strings.Contains(dsn, "://") {
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "application_name=" + app
	} else {
		dsn += " application_name=" + app
	}
	c := connect(t)
	sessions := func() int {
		return queryInt(t, c, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app)
	}
	before := runtime.NumGoroutine()
	ctx := context.Background()
	for i, commit := range []bool{true, false} {
		l, err := Open(ctx, Config{DSN: dsn, Range: days(1, 1), Schema: schema})
		require.NoError(t, err)
		assert.Equal(t, 1, sessions())
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		loadAll(t, l, mem, nil)
		if commit {
			require.NoError(t, l.Commit(ctx))
		}
		require.NoError(t, l.Close())
		require.NoError(t, l.Close())
		mem.AssertSize(t, 0)
		assert.Eventually(t, func() bool { return sessions() == 0 }, 5*time.Second, 20*time.Millisecond, "run %d", i)
	}
	// A failing Open (schema refused) leaks nothing either.
	runLog := pgx.Identifier{schema, "run_log"}.Sanitize()
	_, err := c.Exec(ctx, "DROP TABLE "+runLog+"; CREATE TABLE "+runLog+" (a int)")
	require.NoError(t, err)
	_, err = Open(ctx, Config{DSN: dsn, Range: days(1, 1), Schema: schema})
	require.ErrorContains(t, err, "run_log")
	assert.Eventually(t, func() bool { return sessions() == 0 }, 5*time.Second, 20*time.Millisecond)
	// Not assert.Eventually: it runs the condition on goroutines of its own.
	after := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); after > before && time.Now().Before(deadline); after = runtime.NumGoroutine() {
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, after, before, "goroutines")
}

// orNull prints a nullable value: NULL, a number, or a quoted string.
func orNull[T any](v *T) string {
	switch x := any(v).(type) {
	case *string:
		if x != nil {
			return "'" + *x + "'"
		}
	default:
		if v != nil {
			return fmt.Sprint(*v)
		}
	}
	return "NULL"
}

func TestOpenRefusesABackwardRange(t *testing.T) {
	_, err := Open(context.Background(), Config{DSN: "postgres://127.0.0.1:1/x", Range: days(3, 1)})
	require.ErrorContains(t, err, "range 2026-01-03..2026-01-01 ends before it starts")
}

// TestOlderReplaceAllTableIsRecreated: dim_person (replaced whole by every run) written
// by an older version, with a view on it, is recreated with this version's columns.
func TestOlderReplaceAllTableIsRecreated(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	admin := connect(t)
	_, err := admin.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.dim_person (person_id text NOT NULL, is_customer boolean NOT NULL);
		INSERT INTO %[1]s.dim_person VALUES ('p_old', true);
		CREATE VIEW %[1]s.v_old AS SELECT count(*) AS n FROM %[1]s.dim_person`, pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	l := open(t, schema, days(1, 1))
	require.NoError(t, l.ApplyViews(ctx))
	require.NoError(t, l.Commit(ctx))
	spec, _ := load.Lookup(load.DimPerson)
	assert.Equal(t, spec.Schema.NumFields(), queryInt(t, admin,
		"SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'dim_person'", schema))
	assert.Equal(t, 0, queryInt(t, admin, "SELECT count(*) FROM "+pgx.Identifier{schema, "dim_person"}.Sanitize()))
}

// TestOlderRunLogGetsNewColumns: a run_log written before stage_seconds existed gets the
// column, with its comment, in the run's transaction: a run that fails adds nothing;
// one that commits keeps the old row (stage_seconds NULL) beside its own.
func TestOlderRunLogGetsNewColumns(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	admin := connect(t)
	_, err := admin.Exec(ctx, fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.run_log (run_id text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL,
			range_from date NOT NULL, range_to date NOT NULL, inputs text NOT NULL, warehouse text NOT NULL,
			row_counts text NOT NULL, rejected_count bigint NOT NULL, status text NOT NULL, message text, version text NOT NULL);
		INSERT INTO %[1]s.run_log VALUES ('r_old', '2026-01-01 02:00Z', '2026-01-01 02:05Z', '2026-01-01', '2026-01-01',
			'touches:x', 'postgres:x', '{}', 0, 'success', NULL, 'v1')`, pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	columns := func() int {
		return queryInt(t, admin, "SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'run_log'", schema)
	}

	l := open(t, schema, days(2, 2))
	require.NoError(t, l.Close())
	assert.Equal(t, 12, columns(), "a run closed without Commit adds nothing")

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	row := map[string]arrow.Table{load.RunLog: tableOf(t, mem, load.RunLog, []any{"r_new", day(3), day(3), day(2), day(2),
		"touches:x", "postgres:x", "{}", 0, "success", nil, "v2", `{"load":1.5}`})}
	defer release(row)
	run(t, schema, days(2, 2), row)

	assert.Equal(t, 13, columns())
	rows, err := admin.Query(ctx, "SELECT run_id, stage_seconds FROM "+pgx.Identifier{schema, "run_log"}.Sanitize()+" ORDER BY run_id")
	require.NoError(t, err)
	var got []string
	for rows.Next() {
		var id string
		var s *string
		require.NoError(t, rows.Scan(&id, &s))
		got = append(got, id+" "+orNull(s))
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{`r_new '{"load":1.5}'`, "r_old NULL"}, got)
	var comment string
	require.NoError(t, admin.QueryRow(ctx, `SELECT col_description(c.oid, a.attnum) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid
		WHERE n.nspname = $1 AND c.relname = 'run_log' AND a.attname = 'stage_seconds'`, schema).Scan(&comment))
	spec, _ := load.Lookup(load.RunLog)
	f, _ := spec.Schema.FieldsByName("stage_seconds")
	assert.Equal(t, load.Description(f[0]), comment)

	// Any other difference is still refused: here a NOT NULL column is missing.
	_, err = admin.Exec(ctx, fmt.Sprintf(`ALTER TABLE %[1]s.run_log DROP COLUMN stage_seconds, DROP COLUMN version`, pgx.Identifier{schema}.Sanitize()))
	require.NoError(t, err)
	_, err = Open(ctx, Config{DSN: testDSN, Range: days(1, 1), Schema: schema})
	require.ErrorContains(t, err, "column version is missing")
}

// olderTable is the DDL of contract table name in schema as a version that wrote only
// its first n columns created it, with the given rows (SQL value lists).
func olderTable(schema, name string, n int, rows ...string) string {
	spec, _ := load.Lookup(name)
	var defs []string
	for _, f := range spec.Schema.Fields()[:n] {
		def := pgx.Identifier{f.Name}.Sanitize() + " " + SQLType(f.Type)
		if !f.Nullable {
			def += " NOT NULL"
		}
		defs = append(defs, def)
	}
	table := pgx.Identifier{schema, name}.Sanitize()
	ddl := "CREATE TABLE " + table + " (" + strings.Join(defs, ", ") + ");"
	for _, r := range rows {
		ddl += "\nINSERT INTO " + table + " VALUES (" + r + ");"
	}
	return ddl
}

// TestOlderFactsGetScopeAndAccount: fct_attribution and fct_conversion written before
// journey scopes and accounts keep their rows outside the run's range: the old
// attribution rows get scope 'person' (the contract's value for existing rows) and a
// NULL touch_person_id, the old conversions a NULL account_id; scope is NOT NULL
// afterwards, without a default; the run's rows are there beside them.
func TestOlderFactsGetScopeAndAccount(t *testing.T) {
	schema := freshSchema(t)
	ctx := context.Background()
	admin := connect(t)
	_, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()+";\n"+
		olderTable(schema, load.FctAttribution, 12,
			`'c_old', 't_old', 'linear', 1.0, 100.0, 'Paid Search', 'brand', NULL, 'customer', '2026-01-01 10:00Z', '2026-01-01 09:00Z', 'p_old'`)+
		olderTable(schema, load.FctConversion, 7, `'c_old', 'p_old', '2026-01-01 10:00Z', 'customer', 100.0, 'USD', 'd_old'`))
	require.NoError(t, err)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	at := day(2).Add(time.Hour)
	tables := map[string]arrow.Table{
		load.FctConversion: tableOf(t, mem, load.FctConversion, []any{"c_new", "p_new", at, "customer", 50.0, "USD", "d_new", "crm:a1"}),
		load.FctAttribution: tableOf(t, mem, load.FctAttribution,
			[]any{"c_new", "t_new", "linear", 1.0, 50.0, "Paid Social", nil, nil, "customer", at, day(2), "p_new", "person", "p_new"},
			[]any{"c_new", "t_other", "linear", 1.0, 50.0, "Email", nil, nil, "customer", at, day(2), "p_new", "deal", "p_buyer"}),
	}
	defer release(tables)
	run(t, schema, days(2, 2), tables)

	got := func(q string) []string {
		rows, err := admin.Query(ctx, q)
		require.NoError(t, err)
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return out
	}
	attr, conv := pgx.Identifier{schema, load.FctAttribution}.Sanitize(), pgx.Identifier{schema, load.FctConversion}.Sanitize()
	assert.Equal(t, []string{"c_new deal p_buyer", "c_new person p_new", "c_old person NULL"},
		got(`SELECT conversion_id || ' ' || scope || ' ' || coalesce(touch_person_id, 'NULL') FROM `+attr+` ORDER BY 1`))
	assert.Equal(t, []string{"c_new crm:a1", "c_old NULL"},
		got(`SELECT conversion_id || ' ' || coalesce(account_id, 'NULL') FROM `+conv+` ORDER BY 1`))
	assert.Equal(t, []string{"NO NULL"}, got(fmt.Sprintf(`SELECT is_nullable || ' ' || coalesce(column_default, 'NULL')
		FROM information_schema.columns WHERE table_schema = '%s' AND table_name = 'fct_attribution' AND column_name = 'scope'`, schema)))
}
