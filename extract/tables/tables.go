// Package tables carries the rows of CRM and ad-spend tables that already sit in a
// warehouse (loaded there by Fivetran or Airbyte) to the decoders that read the same
// layouts from CSV files: one decoder per layout, whatever carries the rows. A Source
// is a BigQuery dataset (read through the Storage Read API as Arrow), a PostgreSQL
// schema (pgx's binary protocol) or a DuckDB schema (in process).
//
// Every backend renders a cell as the same text, so a decoder sees the same row from
// any of them and from a CSV export of the table:
//   - NULL: "" (as a CSV export writes it);
//   - text: as is;
//   - booleans: "true" or "false";
//   - integers: decimal; floating point: strconv.FormatFloat(v, 'f', -1, 64) (a 4-byte
//     float by its own shortest form, bit size 32: "0.1");
//     NUMERIC/DECIMAL: its exact decimal text without trailing zeros after the point;
//   - timestamps (with or without time zone, as UTC; BigQuery's DATETIME too): "2006-01-02T15:04:05.999999Z"
//     (time.RFC3339Nano of the UTC time, trailing zeros dropped);
//   - dates: "2006-01-02";
//   - anything else (JSON, arrays, structs): its JSON text.
//
// Open makes a Source of a location (see Open); package tablestest loads test data
// into each kind of warehouse.
package tables

import (
	"context"
	"time"
)

// Source is one dataset or schema of tables.
type Source interface {
	// Spec is the location as configured, with credentials removed, for messages.
	Spec() string
	// Tables lists the tables and views of the dataset or schema, lower-cased, sorted.
	Tables(ctx context.Context) ([]string, error)
	// Columns lists the columns of table in their order, lower-cased. A missing table
	// is an error that wraps os.ErrNotExist.
	Columns(ctx context.Context, table string) ([]string, error)
	// Read calls fn with every row of table that f keeps (all rows when f is nil),
	// the cells of cols in that order rendered as the package documents. The row
	// slice is reused between calls. Rows come in no particular order.
	Read(ctx context.Context, table string, cols []string, f *DayFilter, fn func(row []string) error) error
	// Close releases the connection.
	Close() error
}

// DayFilter keeps the rows whose Column (a DATE or TIMESTAMP column, or text in
// 2006-01-02 form) falls on a UTC day from From to To, both included. The backend
// pushes it down to the warehouse, so only those rows are read.
type DayFilter struct {
	Column   string
	From, To time.Time
}
