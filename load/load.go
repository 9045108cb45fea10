// Package load defines the warehouse contract (schema.go) and the Loader that writes
// it. Implementations live in sub-packages named after the warehouse: load/duckdb.
//
// A run opens one Loader for its date range, calls Load once per table of Tables
// (in that order), RemapPersons, ApplyViews, then Commit. Nothing a run loads is visible to readers
// before Commit; Close without Commit discards it and leaves the previous tables as
// they were. The loader never keeps the arrow.Table it is given past the Load call.
//
// How atomic Commit is depends on the warehouse: DuckDB swaps the whole file and
// PostgreSQL commits one transaction (all tables at once); BigQuery replaces each
// table, and each day partition of a fact table, atomically but one after another;
// Parquet renames file by file. Each package's doc says what a reader can see while
// Commit runs.
//
// A loader may also take a table as a stream of batches (RecordLoader: a table larger
// than memory), replace other days of one table than the run's (RangeLoader), and a
// warehouse may give an incremental run its state back (StateReader, state.go).
package load

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Loader writes warehouse tables for one run.
type Loader interface {
	// Load replaces the rows of the contract table name as its Mode says, with t,
	// whose schema must equal the table's.
	Load(ctx context.Context, name string, t arrow.Table) error
	// RemapPersons re-points rows loaded by earlier runs: every row of a date-keyed
	// table whose person_id is an alias_id of aliases (schema: alias_id, person_id)
	// gets that person_id, so a cookie identified today moves its old touches, page
	// views, conversions and credits to its person. Call it after the last Load; it
	// returns the number of rows changed (0 from a loader that runs it at Commit, such
	// as BigQuery's, which reports the count afterwards).
	RemapPersons(ctx context.Context, aliases arrow.Table) (int64, error)
	// ApplyViews creates or replaces every SQL view of the loader's dialect.
	ApplyViews(ctx context.Context) error
	// Commit publishes everything loaded, atomically.
	Commit(ctx context.Context) error
	// Close releases the loader; without Commit the run's writes are discarded.
	// Safe to call twice.
	Close() error
}

// ConcurrentLoader is a Loader whose Load may run for several tables at once, from as
// many goroutines, at most ConcurrentLoads at a time. RemapPersons still follows the
// last Load.
type ConcurrentLoader interface {
	Loader
	ConcurrentLoads() int
}

// RecordLoader is a Loader that also takes a table as a stream of batches, so that a
// table larger than memory (a run's page views) never has to be held whole. A runner
// gives a loader without it the whole table.
type RecordLoader interface {
	Loader
	// LoadRecords is Load of the rows rr gives; it reads rr to its end (or error) and
	// does not release it.
	LoadRecords(ctx context.Context, name string, rr array.RecordReader) error
}

// RangeLoader is a Loader that also replaces a ReplaceRange table over other days than
// the run's: an incremental run whose identity merges reached older conversions
// writes their days of fct_attribution again.
type RangeLoader interface {
	Loader
	// LoadRange is LoadRecords with the days rng instead of the run's.
	LoadRange(ctx context.Context, name string, rng Range, rr array.RecordReader) error
}

// DayCounter is a warehouse that counts a ReplaceRange table's rows per UTC day of its
// DateColumn in the version the run is building: before the run's loads, the warehouse
// as it was; after them, as it will be. A run uses it to refuse replacing days that
// held rows with nothing, and to warn when a day shrinks.
type DayCounter interface {
	// DayCounts maps each day (YYYY-MM-DD) of rng holding rows of table to their number.
	DayCounts(ctx context.Context, table string, rng Range) (map[string]int64, error)
}

// DayRows are the rows of a DayCounts query, (day YYYY-MM-DD, rows) each:
// database/sql's and pgx's alike.
type DayRows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// ScanDayCounts reads the rows of a DayCounts query into its map.
func ScanDayCounts(rows DayRows) (map[string]int64, error) {
	out := map[string]int64{}
	for rows.Next() {
		var day string
		var n int64
		if err := rows.Scan(&day, &n); err != nil {
			return nil, err
		}
		out[day] = n
	}
	return out, rows.Err()
}

// Range is the run's date range, days From..To inclusive (UTC): ReplaceRange tables
// lose their rows of these days and get the run's.
type Range struct {
	From, To time.Time
}
