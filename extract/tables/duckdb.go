package tables

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
)

// duckDB is a schema of a DuckDB file, opened read-only for each call.
type duckDB struct {
	log    *slog.Logger
	spec   string // the location as given
	path   string
	schema string
}

var _ Source = (*duckDB)(nil)

func openDuckDB(ctx context.Context, location string, opt Options) (Source, error) {
	rest := location[len("duckdb:"):]
	path, query, _ := strings.Cut(rest, "?")
	schema, extra, err := splitSchema(query, "main")
	if err != nil || path == "" || extra != "" || schema == "" {
		return nil, configError(location, "want duckdb:PATH?schema=S (a DuckDB file; the schema defaults to main)")
	}
	if _, err := os.Stat(path); err != nil {
		abs, _ := filepath.Abs(path)
		return nil, configError(location, "%v: give the path of an existing DuckDB file (%s from the working directory)", err, abs)
	}
	d := &duckDB{log: opt.Log, spec: "duckdb:" + rest, path: path, schema: schema}
	var n int
	err = d.with(ctx, func(db *sql.DB) error {
		return db.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.schemata
			WHERE catalog_name = current_database() AND lower(schema_name) = lower(?)`, schema).Scan(&n)
	})
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, configError(location, "no schema %q in the file: name the schema the tables were loaded into (?schema=S)", schema)
	}
	return d, nil
}

func (d *duckDB) Spec() string { return d.spec }

func (d *duckDB) Close() error { return nil }

// with opens the file read-only, calls fn and closes the file: the read lock is held
// only during the call.
func (d *duckDB) with(ctx context.Context, fn func(*sql.DB) error) (err error) {
	db, err := sql.Open("duckdb", d.path+"?access_mode=READ_ONLY")
	if err != nil {
		return configError(d.spec, "cannot open the DuckDB file read-only: %v", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("%s: closing: %w", d.spec, cerr)
		}
	}()
	if err := db.PingContext(ctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return configError(d.spec, "cannot open the DuckDB file read-only (is another process writing it? "+
			"wait for it to end): %v", err)
	}
	return fn(db)
}

func (d *duckDB) Tables(ctx context.Context) (names []string, err error) {
	err = d.with(ctx, func(db *sql.DB) error {
		rows, err := db.QueryContext(ctx, `SELECT lower(table_name) FROM information_schema.tables
			WHERE table_catalog = current_database() AND lower(table_schema) = lower(?) ORDER BY 1`, d.schema)
		if err != nil {
			return fmt.Errorf("%s: listing tables: %w", d.spec, err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			names = append(names, n)
		}
		return rows.Err()
	})
	return names, err
}

// columns returns the table's real name and its columns.
func (d *duckDB) columns(ctx context.Context, db *sql.DB, table string) (string, []column, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_catalog = current_database() AND lower(table_schema) = lower(?) AND lower(table_name) = lower(?)
		ORDER BY ordinal_position`, d.schema, table)
	if err != nil {
		return "", nil, fmt.Errorf("%s: columns of %s: %w", d.spec, table, err)
	}
	defer rows.Close()
	var name string
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&name, &c.name, &c.typ); err != nil {
			return "", nil, err
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	if len(cols) == 0 {
		return "", nil, missingTable(d.spec, table)
	}
	return name, cols, nil
}

func (d *duckDB) Columns(ctx context.Context, table string) (names []string, err error) {
	err = d.with(ctx, func(db *sql.DB) error {
		_, cols, err := d.columns(ctx, db, table)
		for _, c := range cols {
			names = append(names, strings.ToLower(c.name))
		}
		return err
	})
	return names, err
}

func (d *duckDB) Read(ctx context.Context, table string, cols []string, f *DayFilter, fn func(row []string) error) error {
	return d.with(ctx, func(db *sql.DB) error {
		real, all, err := d.columns(ctx, db, table)
		if err != nil {
			return err
		}
		query, args, err := selectQuery(duckDialect, d.spec, d.schema, real, all, cols, f)
		if err != nil {
			return err
		}
		return d.read(ctx, db, query, args, len(cols), fn)
	})
}

// query builds the SELECT of cols (found in all) with f's day range as its WHERE.
// Types Go cannot take from the driver as the package doc renders them are rendered
// by DuckDB: UUID, JSON, intervals and the like as text, nested values as JSON.
// duckDialect is DuckDB's SELECT: nested values as JSON, other types the driver
// does not give as Go values render takes as text.
var duckDialect = sqlDialect{
	cell: func(c column) string {
		q := quoteIdent(c.name)
		switch t := c.typ; {
		case duckNative(t):
			return q
		case strings.HasSuffix(t, "[]") || strings.HasSuffix(t, "]") || strings.HasPrefix(t, "STRUCT") ||
			strings.HasPrefix(t, "MAP") || strings.HasPrefix(t, "UNION"):
			return "CAST(to_json(" + q + ") AS VARCHAR)"
		}
		return "CAST(" + q + " AS VARCHAR)"
	},
	days: func(typ string) dayKind {
		switch {
		case typ == "DATE":
			return dayDate
		case typ == "TIMESTAMP WITH TIME ZONE":
			return dayInstant
		case strings.HasPrefix(typ, "TIMESTAMP"):
			return dayLocal
		case typ == "VARCHAR":
			return dayText
		}
		return noDays
	},
	param: func(_ int, kind dayKind) string {
		switch kind {
		case dayDate:
			return "CAST(? AS DATE)"
		case dayInstant:
			return "CAST(? AS TIMESTAMPTZ)"
		case dayLocal:
			return "CAST(? AS TIMESTAMP)"
		}
		return "?"
	},
}

// duckNative are the types the driver gives as Go values render takes.
func duckNative(t string) bool {
	switch t {
	case "VARCHAR", "BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
		"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
		"DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS":
		return true
	}
	return strings.HasPrefix(t, "DECIMAL")
}

func (d *duckDB) read(ctx context.Context, db *sql.DB, query string, args []any, n int, fn func([]string) error) error {
	d.log.Debug("tables: query", "source", d.spec, "sql", query, "args", args)
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %s: %w", d.spec, query, err)
	}
	defer rows.Close()
	types, err := rows.ColumnTypes()
	if err != nil {
		return err
	}
	dates := make([]bool, len(types))
	for i, t := range types {
		dates[i] = t.DatabaseTypeName() == "DATE"
	}
	vals := make([]any, len(types))
	ptrs := make([]any, len(types))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	row := make([]string, n)
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("%s: %w", d.spec, err)
		}
		for i := range row {
			row[i] = renderDuck(vals[i], dates[i])
		}
		if err := fn(row); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: %w", d.spec, err)
	}
	return ctx.Err()
}

// renderDuck renders a value of the duckdb driver.
func renderDuck(v any, date bool) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		return renderBool(v)
	case int8:
		return strconv.FormatInt(int64(v), 10)
	case int16:
		return strconv.FormatInt(int64(v), 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(int64(v), 10)
	case uint8:
		return strconv.FormatUint(uint64(v), 10)
	case uint16:
		return strconv.FormatUint(uint64(v), 10)
	case uint32:
		return strconv.FormatUint(uint64(v), 10)
	case uint64:
		return strconv.FormatUint(uint64(v), 10)
	case *big.Int:
		return v.String()
	case float32:
		return renderFloat32(v)
	case float64:
		return renderFloat(v)
	case duckdb.Decimal:
		return renderDecimal(v.Value, int(v.Scale))
	case time.Time:
		if date {
			return renderDate(v)
		}
		return renderTime(v)
	}
	return renderJSON(v)
}

// dayBounds are f's days as [from, to) instants of UTC.
func dayBounds(f *DayFilter) (from, to time.Time) {
	day := func(t time.Time) time.Time { return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC) }
	return day(f.From), day(f.To).AddDate(0, 0, 1)
}
