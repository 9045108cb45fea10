package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/load"
)

// OpenState opens the warehouse file at path read-only for an incremental run's state
// (load.StateReader): the live file, before the run builds its next version. It
// returns nil and no error when there is no warehouse yet. The state's tables come
// back through Parquet (exportParquet), not row by row.
func OpenState(path string) (*load.SQLState, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	st := &load.SQLState{DB: db, Dialect: "duckdb"}
	st.Export = func(ctx context.Context, query string, args []any, fn func(arrow.RecordBatch) error) error {
		return exportParquet(ctx, db, query, args, fn)
	}
	return st, nil
}

// exportParquet has DuckDB write the rows of query to a temporary Parquet file, on
// every core, and reads them back a batch at a time: on a 365-day warehouse (1.6M
// rows of state) a fifth of the time that scanning them through database/sql takes.
// args are string values for the query's ? placeholders (COPY takes none: they are
// put in as SQL literals).
func exportParquet(ctx context.Context, db *sql.DB, query string, args []any, fn func(arrow.RecordBatch) error) error {
	for _, a := range args {
		s, ok := a.(string)
		if !ok || !strings.Contains(query, "?") {
			return fmt.Errorf("duckdb: export: placeholder value %v is not a string", a)
		}
		query = strings.Replace(query, "?", "'"+strings.ReplaceAll(s, "'", "''")+"'", 1)
	}
	f, err := os.CreateTemp("", "closedloop-state-*.parquet")
	if err != nil {
		return fmt.Errorf("duckdb: export: %w (set TMPDIR to a writable directory)", err)
	}
	path := f.Name()
	f.Close()
	defer os.Remove(path)
	if _, err := db.ExecContext(ctx, fmt.Sprintf("COPY (%s) TO '%s' (FORMAT parquet, COMPRESSION uncompressed)",
		query, strings.ReplaceAll(path, "'", "''"))); err != nil {
		return err
	}
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		return err
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.DefaultAllocator)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(ctx, nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	for rr.Next() {
		if err := fn(rr.RecordBatch()); err != nil {
			return err
		}
	}
	return rr.Err()
}
