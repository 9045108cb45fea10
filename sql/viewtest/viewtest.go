// Package viewtest runs the SQL views of every dialect on a small hand-written fixture:
// the fixture's rows go through the real loaders into DuckDB and PostgreSQL (the
// BigQuery views are checked by ZetaSQL in load/bigquery), the views are applied, and
// a test compares a view's rows with numbers worked out by hand, the same for every
// dialect.
//
// A test package calls Main from its TestMain (it starts one throwaway PostgreSQL for
// the package when the machine can run one, see load/postgres/pgtest), then in each
// test:
//
//	for _, w := range viewtest.Load(t, fixture) {
//		t.Run(w.Dialect, func(t *testing.T) {
//			assert.Equal(t, want, viewtest.Query(t, w.DB, "SELECT ... ORDER BY ..."))
//		})
//	}
package viewtest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
	"closedloop/load/duckdb"
	"closedloop/load/postgres"
	"closedloop/load/postgres/pgtest"
)

// Rows are fixture rows of one table: column name to value (string, float64, int,
// int64, bool, time.Time for timestamps and dates, nil); a column left out is NULL.
type Rows []map[string]any

// Warehouse is one dialect's database holding a fixture, with the views applied.
type Warehouse struct {
	Dialect string
	DB      *sql.DB
}

var (
	pg       *pgtest.Server
	pgErr    error
	schemaNo atomic.Int64
)

// Main starts PostgreSQL for the package's tests (if this machine can run it), runs
// them and stops it. Without PostgreSQL the views run on DuckDB only, unless
// CLOSEDLOOP_REQUIRE_POSTGRES=1, which makes that a failure.
func Main(m *testing.M) {
	pg, pgErr = pgtest.StartServer()
	if pgErr != nil && (!errors.Is(pgErr, pgtest.ErrUnavailable) || os.Getenv("CLOSEDLOOP_REQUIRE_POSTGRES") == "1") {
		fmt.Fprintln(os.Stderr, "viewtest: PostgreSQL:", pgErr)
		os.Exit(1)
	}
	code := m.Run()
	if pg != nil {
		pg.Stop()
	}
	os.Exit(code)
}

// wide is the range a fixture is loaded with: every day of any fixture.
var wide = load.Range{From: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)}

// Load loads the fixture into every dialect available and applies its views. The
// databases are closed and removed when t ends.
func Load(t *testing.T, fixture map[string]Rows) []Warehouse {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	tables := Tables(t, mem, fixture)
	defer func() {
		for _, tb := range tables {
			tb.Release()
		}
		mem.AssertSize(t, 0)
	}()
	run := func(ld load.Loader) {
		defer ld.Close()
		for _, spec := range load.Tables {
			if err := ld.Load(ctx, spec.Name, tables[spec.Name]); err != nil {
				t.Fatalf("viewtest: load %s: %v", spec.Name, err)
			}
		}
		if err := ld.ApplyViews(ctx); err != nil {
			t.Fatalf("viewtest: views: %v", err)
		}
		if err := ld.Commit(ctx); err != nil {
			t.Fatalf("viewtest: commit: %v", err)
		}
	}

	var out []Warehouse
	path := filepath.Join(t.TempDir(), "views.duckdb")
	ld, err := duckdb.Open(ctx, duckdb.Config{Path: path, Range: wide})
	if err != nil {
		t.Fatal(err)
	}
	run(ld)
	db, err := duckdb.OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	out = append(out, Warehouse{Dialect: "duckdb", DB: db})

	if pg != nil {
		schema := fmt.Sprintf("views_%d_%d", os.Getpid(), schemaNo.Add(1))
		pl, err := postgres.Open(ctx, postgres.Config{DSN: pg.DSN(), Range: wide, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		run(pl)
		sep := "?"
		if strings.Contains(pg.DSN(), "?") {
			sep = "&"
		}
		pdb, err := pgtest.OpenDB(pg.DSN() + sep + "search_path=" + schema)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			pdb.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
			pdb.Close()
		})
		out = append(out, Warehouse{Dialect: "postgres", DB: pdb})
	}
	return out
}

// Tables builds every contract table from the fixture (tables it does not name are
// empty). The caller releases them.
func Tables(t testing.TB, mem memory.Allocator, fixture map[string]Rows) map[string]arrow.Table {
	t.Helper()
	for name := range fixture {
		if _, ok := load.Lookup(name); !ok {
			t.Fatalf("viewtest: %s is not a warehouse table", name)
		}
	}
	out := map[string]arrow.Table{}
	for _, spec := range load.Tables {
		b := array.NewRecordBuilder(mem, spec.Schema)
		for i, row := range fixture[spec.Name] {
			for k := range row {
				if spec.Schema.FieldIndices(k) == nil {
					t.Fatalf("viewtest: %s row %d: no column %q", spec.Name, i, k)
				}
			}
			for c, f := range spec.Schema.Fields() {
				if err := appendValue(b.Field(c), row[f.Name]); err != nil {
					t.Fatalf("viewtest: %s row %d column %s: %v", spec.Name, i, f.Name, err)
				}
			}
		}
		rec := b.NewRecordBatch()
		out[spec.Name] = array.NewTableFromRecords(spec.Schema, []arrow.RecordBatch{rec})
		rec.Release()
		b.Release()
	}
	return out
}

func appendValue(b array.Builder, v any) error {
	if v == nil {
		b.AppendNull()
		return nil
	}
	switch b := b.(type) {
	case *array.StringBuilder:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("want a string, got %T", v)
		}
		b.Append(s)
	case *array.Float64Builder:
		switch x := v.(type) {
		case float64:
			b.Append(x)
		case int:
			b.Append(float64(x))
		default:
			return fmt.Errorf("want a number, got %T", v)
		}
	case *array.Int64Builder:
		switch x := v.(type) {
		case int:
			b.Append(int64(x))
		case int64:
			b.Append(x)
		default:
			return fmt.Errorf("want an integer, got %T", v)
		}
	case *array.BooleanBuilder:
		x, ok := v.(bool)
		if !ok {
			return fmt.Errorf("want a bool, got %T", v)
		}
		b.Append(x)
	case *array.TimestampBuilder:
		x, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("want a time.Time, got %T", v)
		}
		b.Append(arrow.Timestamp(x.UnixMicro()))
	case *array.Date32Builder:
		x, ok := v.(time.Time)
		if !ok {
			return fmt.Errorf("want a time.Time, got %T", v)
		}
		b.Append(arrow.Date32FromTime(x))
	default:
		return fmt.Errorf("no fixture value for %T", b)
	}
	return nil
}

// Query runs q and renders every row as one string, the same in every dialect:
// values separated by " | ", NULL for NULL, numbers rounded to 6 decimals without
// trailing zeros, timestamps as RFC 3339 UTC, dates (midnight UTC) as YYYY-MM-DD,
// booleans as true/false.
func Query(t testing.TB, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("viewtest: %v\n%s", err, q)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var out []string
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = Format(v)
		}
		out = append(out, strings.Join(parts, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Format renders one value as Query does.
func Format(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		return num(x)
	case float32:
		return num(float64(x))
	case int64:
		return fmt.Sprint(x)
	case int32:
		return fmt.Sprint(x)
	case int:
		return fmt.Sprint(x)
	case bool:
		return fmt.Sprint(x)
	case []byte:
		return string(x)
	case time.Time:
		x = x.UTC()
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly)
		}
		return x.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return fmt.Sprint(f)
	}
	r := math.Round(f*1e6) / 1e6
	if r == 0 {
		r = 0 // no "-0"
	}
	return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.6f", r), "0"), ".")
}
