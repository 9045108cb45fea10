package tables_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/tables"
	"closedloop/extract/tables/tablestest"
)

// typedSQL builds the table typed, with the column types a CSV file does not infer.
const typedSQL = `
CREATE TABLE typed (id INTEGER, small SMALLINT, r FLOAT, amount DECIMAL(18,4), big DECIMAL(38,10),
	seen_at TIMESTAMPTZ, doc JSON, uid UUID, d DATE, label VARCHAR, dtext VARCHAR);
INSERT INTO typed VALUES
	(1, 3, 0.1, 1234.5, 0.0000000001, '2026-01-05 10:00:00.000001+00', '{"a": [1, 2]}',
	 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', '2026-01-05', 'é', '2026-01-05 23:00:00'),
	(2, -3, -1.5, -0.5, 12345678901234567890.5, '2026-01-05 23:59:59.999999-01', '"x"',
	 NULL, NULL, NULL, '2026-01-06'),
	(3, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, '', NULL);`

// wantTypes are the rows of testdata/types/types.csv as the package doc renders them.
var wantTypes = map[string][]string{
	"1": {"1", "Acme, Inc.", "said \"hi\"\nand left", "true", "42", "0.1", "123456789.5", "2026-01-05T10:00:00.123456Z", "2026-01-05T08:00:00.5Z", "2026-01-05"},
	"2": {"2", "Zoë 東京", "x", "false", "-7", "0.0000001", "0.25", "2026-01-06T23:59:59Z", "2026-01-06T05:30:00Z", "2026-01-06"},
	"3": {"3", "", "", "", "", "", "", "", "", ""},
	"4": {"4", "d4", "y", "true", "9007199254740993", "-2.5", "1000000000000000000000", "2026-01-07T00:00:00Z", "2026-01-07T00:00:00Z", "2026-01-08"},
}

var typesCols = []string{"id", "name", "note", "flag", "n", "f", "amount", "ts", "tstz", "day"}

var typedCols = []string{"id", "small", "r", "amount", "big", "seen_at", "doc", "uid", "d", "label", "dtext"}

var wantTyped = map[string][]string{
	"1": {"1", "3", "0.1", "1234.5", "0.0000000001", "2026-01-05T10:00:00.000001Z", `{"a": [1, 2]}`,
		"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "2026-01-05", "é", "2026-01-05 23:00:00"},
	"2": {"2", "-3", "-1.5", "-0.5", "12345678901234567890.5", "2026-01-06T00:59:59.999999Z", `"x"`, "", "", "", "2026-01-06"},
	"3": {"3", "", "", "0", "", "", "", "", "", "", ""},
}

// duckFile makes a DuckDB file in a temporary directory with the statements given.
func duckFile(t testing.TB, stmts string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fixture.duckdb")
	db, err := sql.Open("duckdb", path)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(stmts)
	require.NoError(t, err)
	return path
}

// fixture loads testdata/types and the typed table into kind.
func fixture(t *testing.T, kind string) (types, typed tablestest.DB) {
	t.Helper()
	return tablestest.LoadCSVFolder(t, kind, "testdata/types"), tablestest.LoadDuckDB(t, kind, duckFile(t, typedSQL))
}

// readAll reads table into rows keyed by their first cell.
func readAll(t *testing.T, src tables.Source, table string, cols []string, f *tables.DayFilter) map[string][]string {
	t.Helper()
	got := map[string][]string{}
	err := src.Read(context.Background(), table, cols, f, func(row []string) error {
		require.Len(t, row, len(cols))
		got[row[0]] = slices.Clone(row)
		return nil
	})
	require.NoError(t, err)
	return got
}

func eachKind(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range tablestest.Kinds {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

// TestReadTypes: every type a CSV file infers, and those it does not (numeric, 4-byte
// float, time zone, JSON, UUID), read as the package doc renders them.
func TestReadTypes(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		types, typed := fixture(t, kind)
		src := types.Open(t)
		names, err := src.Tables(context.Background())
		require.NoError(t, err)
		require.Equal(t, []string{"types"}, names)
		cols, err := src.Columns(context.Background(), "types")
		require.NoError(t, err)
		require.Equal(t, typesCols, cols)
		require.Equal(t, wantTypes, readAll(t, src, "types", typesCols, nil))

		src = typed.Open(t)
		cols, err = src.Columns(context.Background(), "typed")
		require.NoError(t, err)
		require.Equal(t, typedCols, cols)
		require.Equal(t, wantTyped, readAll(t, src, "typed", typedCols, nil))
	})
}

// TestSelectColumns: only the columns asked for, in the order asked.
func TestSelectColumns(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		types, _ := fixture(t, kind)
		src := types.Open(t)
		got := readAll(t, src, "types", []string{"id", "day", "NAME"}, nil)
		require.Equal(t, map[string][]string{
			"1": {"1", "2026-01-05", "Acme, Inc."}, "2": {"2", "2026-01-06", "Zoë 東京"},
			"3": {"3", "", ""}, "4": {"4", "2026-01-08", "d4"},
		}, got)
		err := src.Read(context.Background(), "types", []string{"id", "nope"}, nil, func([]string) error { return nil })
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, "nope")
	})
}

// logBuffer collects a source's debug log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// TestDayFilter: the days kept, by a DATE, TIMESTAMP, TIMESTAMPTZ and text column,
// and the filter is in the query the warehouse gets (SQL for DuckDB and PostgreSQL,
// the read session's row restriction for BigQuery).
func TestDayFilter(t *testing.T) {
	day := func(s string) time.Time { d, _ := time.Parse(time.DateOnly, s); return d }
	eachKind(t, func(t *testing.T, kind string) {
		types, typed := fixture(t, kind)
		var logs logBuffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		types.Options.Log, typed.Options.Log = log, log
		src, srcTyped := types.Open(t), typed.Open(t)
		tests := []struct {
			src      tables.Source
			table    string
			column   string
			from, to string
			ids      []string
			pushed   string // in the SQL or row restriction sent
		}{
			{src, "types", "day", "2026-01-05", "2026-01-06", []string{"1", "2"}, "day"},
			{src, "types", "day", "2026-01-07", "2026-01-07", nil, "day"},
			{src, "types", "ts", "2026-01-06", "2026-01-07", []string{"2", "4"}, "ts"},
			{src, "types", "tstz", "2026-01-06", "2026-01-06", []string{"2"}, "tstz"},
			{srcTyped, "typed", "d", "2026-01-05", "2026-01-05", []string{"1"}, "d"},
			{srcTyped, "typed", "seen_at", "2026-01-05", "2026-01-05", []string{"1"}, "seen_at"},
			{srcTyped, "typed", "seen_at", "2026-01-06", "2026-01-09", []string{"2"}, "seen_at"},
			{srcTyped, "typed", "dtext", "2026-01-05", "2026-01-05", []string{"1"}, "dtext"},
			{srcTyped, "typed", "dtext", "2026-01-06", "2026-01-06", []string{"2"}, "dtext"},
		}
		for _, tc := range tests {
			t.Run(tc.column+" "+tc.from+".."+tc.to, func(t *testing.T) {
				before := len(logs.String())
				f := &tables.DayFilter{Column: tc.column, From: day(tc.from), To: day(tc.to)}
				got := readAll(t, tc.src, tc.table, []string{"id"}, f)
				ids := []string{}
				for id := range got {
					ids = append(ids, id)
				}
				sort.Strings(ids)
				require.Equal(t, append([]string{}, tc.ids...), ids)
				sent := logs.String()[before:]
				require.Regexp(t, `WHERE|where=`, sent)
				require.Contains(t, sent, tc.pushed)
				if kind == "bigquery" { // what the fake received
					rs := types.Restrictions()
					if tc.table == "typed" {
						rs = typed.Restrictions()
					}
					require.Contains(t, rs[len(rs)-1], "`"+tc.pushed+"`")
				}
			})
		}
	})
}

// TestMissing: a missing table wraps os.ErrNotExist; a missing schema or dataset is a
// configuration error naming it.
func TestMissing(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		types, _ := fixture(t, kind)
		src := types.Open(t)
		_, err := src.Columns(context.Background(), "contact")
		require.ErrorIs(t, err, os.ErrNotExist)
		require.ErrorContains(t, err, "contact")
		err = src.Read(context.Background(), "contact", []string{"id"}, nil, func([]string) error { return nil })
		require.ErrorIs(t, err, os.ErrNotExist)

		wrong := types.Location
		switch kind {
		case "bigquery":
			i := strings.LastIndex(wrong, "/")
			wrong = wrong[:i+1] + "no_such_dataset"
		case "postgres":
			wrong = wrong[:strings.Index(wrong, "schema=")] + "schema=no_such_schema"
		default:
			wrong += "?schema=no_such_schema"
		}
		_, err = tables.Open(context.Background(), wrong, types.Options)
		require.ErrorIs(t, err, extract.ErrConfig)
		require.ErrorContains(t, err, "no_such_")
	})
}

// TestCancel: cancelling the context stops a read of 100,000 rows.
func TestCancel(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		db := tablestest.LoadDuckDB(t, kind, bigFile(t))
		src := db.Open(t)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n := 0
		err := src.Read(ctx, "big", []string{"id", "s"}, nil, func([]string) error {
			n++
			if n == 10 {
				cancel()
			}
			return nil
		})
		require.ErrorIs(t, err, context.Canceled)
		require.Less(t, n, 100_000)
	})
}

// TestCallbackError: an error of fn stops the read and is returned as is.
func TestCallbackError(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		types, _ := fixture(t, kind)
		src := types.Open(t)
		stop := errors.New("stop")
		err := src.Read(context.Background(), "types", []string{"id"}, nil, func([]string) error { return stop })
		require.ErrorIs(t, err, stop)
	})
}

// bigFile is a DuckDB file with table big: 100,000 rows of an id, a text, a
// timestamp, a double and a date.
func bigFile(t testing.TB) string {
	t.Helper()
	return duckFile(t, `CREATE TABLE big AS SELECT range AS id, 'row ' || range AS s,
		TIMESTAMP '2026-01-01' + to_seconds(range * 60) AS seen_at, range / 7.0 AS x,
		DATE '2026-01-01' + CAST(range / 1000 AS INTEGER) AS d FROM range(100000)`)
}

// TestOpen: locations, good and bad.
func TestOpen(t *testing.T) {
	for _, loc := range []string{"bigquery://p/d", "postgres://h/db", "postgresql://h/db", "duckdb:x.duckdb", "DuckDB:x"} {
		require.True(t, tables.IsTableLocation(loc), loc)
	}
	for _, loc := range []string{"testdata/fivetran", "./duckdb:x", "api", "s3://bucket/x"} {
		require.False(t, tables.IsTableLocation(loc), loc)
	}
	tests := []struct{ loc, msg string }{
		{"duckdb:", "want duckdb:PATH"},
		{"duckdb:nope.duckdb", "nope.duckdb"},
		{"duckdb:x.duckdb?sslmode=disable", "want duckdb:PATH"},
		{"bigquery://only-project", "want bigquery://PROJECT/DATASET"},
		{"bigquery://Bad_Project/d", "project"},
		{"bigquery://good-project/bad-dataset", "dataset"},
		{"ftp://x", "not a table location"},
	}
	for _, tc := range tests {
		_, err := tables.Open(context.Background(), tc.loc, tables.Options{})
		require.ErrorIs(t, err, extract.ErrConfig, tc.loc)
		require.ErrorContains(t, err, tc.msg, tc.loc)
		require.NotContains(t, err.Error(), "s3cret")
	}
}

// TestPostgresPassword: no error shows the password of the URL.
func TestPostgresPassword(t *testing.T) {
	db := tablestest.LoadCSVFolder(t, "postgres", "testdata/types")
	const pw = "s3cret-Pw"
	loc := strings.Replace(db.Location, "postgres://postgres@", "postgres://postgres:"+pw+"@", 1)
	require.NotEqual(t, db.Location, loc)
	src, err := tables.Open(context.Background(), loc, db.Options)
	require.NoError(t, err) // trust authentication: any password is taken
	defer src.Close()
	require.NotContains(t, src.Spec(), pw)
	_, err = src.Columns(context.Background(), "contact")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.NotContains(t, err.Error(), pw)

	for _, bad := range []string{
		loc[:strings.Index(loc, "schema=")] + "schema=nope",
		strings.Replace(loc, "/closedloop_test?", "/no_such_db?", 1),
		strings.Replace(loc, "sslmode=disable", "sslmode=bogus", 1),
	} {
		_, err := tables.Open(context.Background(), bad, db.Options)
		require.Error(t, err, bad)
		require.ErrorIs(t, err, extract.ErrConfig, bad)
		require.NotContains(t, err.Error(), pw)
		t.Log(err)
	}
}
