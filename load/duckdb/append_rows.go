package duckdb

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// appendRows writes every row rr gives with the appender, on the driver connection dc: a
// Go call per value, the way in when DuckDB's Arrow scan is not to be had.
func appendRows(ctx context.Context, dc any, name string, rr array.RecordReader) (int64, error) {
	var n int64
	err := func() error {
		app, err := duckdb.NewAppenderFromConn(dc.(driver.Conn), "", name)
		if err != nil {
			return err
		}
		row := make([]driver.Value, len(rr.Schema().Fields()))
		for rr.Next() {
			rec := rr.RecordBatch()
			cols := rec.Columns()
			for i := 0; i < int(rec.NumRows()); i++ {
				if i%4096 == 0 && ctx.Err() != nil {
					app.Close()
					return ctx.Err()
				}
				for c, col := range cols {
					row[c] = value(col, i)
				}
				if err := app.AppendRow(row...); err != nil {
					app.Close()
					return fmt.Errorf("row %d: %w", n, err)
				}
				n++
			}
		}
		return app.Close()
	}()
	return n, err
}

// value is row i of col as the appender takes it.
func value(col arrow.Array, i int) driver.Value {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.String:
		return a.Value(i)
	case *array.Int64:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Boolean:
		return a.Value(i)
	case *array.Date32:
		return a.Value(i).ToTime()
	case *array.Timestamp:
		return time.UnixMicro(int64(a.Value(i))).UTC()
	}
	panic("duckdb: no appender value for " + col.DataType().String())
}
