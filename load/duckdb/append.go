package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Ingest names the way rows go in, for logs and benchmarks.
const Ingest = "arrow"

// errNoArrowScan says the Arrow scan cannot be had on this connection; rows then go in
// through the appender.
var errNoArrowScan = errors.New("duckdb: no Arrow scan")

// appenderLoads counts the loads that fell back to the appender (for tests).
var appenderLoads atomic.Int64

// appendTable writes every row of t, on conn (appendRecords).
func appendTable(ctx context.Context, conn *sql.Conn, name string, t arrow.Table) (int64, error) {
	if t.NumRows() == 0 {
		return 0, nil
	}
	tr := array.NewTableReader(t, 0)
	defer tr.Release()
	return appendRecords(ctx, conn, name, tr)
}

// appendRecords writes every row rr gives, on conn, through DuckDB's Arrow scan: the batches
// are registered as a (single-pass) view over their own buffers and inserted with one
// INSERT ... SELECT, which DuckDB runs on every core. Timestamps arrive as TIMESTAMP WITH
// TIME ZONE and are stored as their UTC wall time, whatever the session's time zone.
// Should the scan be missing (errNoArrowScan), rows go through the appender.
func appendRecords(ctx context.Context, conn *sql.Conn, name string, rr array.RecordReader) (int64, error) {
	var cols []string
	for _, f := range rr.Schema().Fields() {
		c := quote(f.Name)
		if f.Type.ID() == arrow.TIMESTAMP {
			c = "timezone('UTC', " + c + ")"
		}
		cols = append(cols, c)
	}
	view := "_closedloop_arrow_" + strings.ReplaceAll(name, ".", "_")
	q := fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", quote(name), strings.Join(cols, ", "), view)
	var n int64
	err := conn.Raw(func(dc any) error {
		release, err := registerView(dc, rr, view)
		if errors.Is(err, errNoArrowScan) {
			appenderLoads.Add(1)
			n, err = appendRows(ctx, dc, name, rr)
			return err
		}
		if err != nil {
			return err
		}
		defer release()
		res, err := dc.(driver.ExecerContext).ExecContext(ctx, q, nil)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
