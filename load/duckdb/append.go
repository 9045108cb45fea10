package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
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
// INSERT ... SELECT, which DuckDB runs on every core. Timestamps arrive without a time
// zone (naiveReader) and are stored as their UTC wall time, whatever the session's time
// zone, with no conversion per value (BenchmarkLoadAttribution, 10M rows: 10.5 s with
// timezone('UTC', ...) over TIMESTAMP WITH TIME ZONE, 7.8 s without).
// Should the scan be missing (errNoArrowScan), rows go through the appender.
func appendRecords(ctx context.Context, conn *sql.Conn, name string, rr array.RecordReader) (int64, error) {
	var cols []string
	for _, f := range rr.Schema().Fields() {
		cols = append(cols, quote(f.Name))
	}
	view := "_closedloop_arrow_" + strings.ReplaceAll(name, ".", "_")
	q := fmt.Sprintf("INSERT INTO %s SELECT %s FROM %s", quote(name), strings.Join(cols, ", "), view)
	var n int64
	err := conn.Raw(func(dc any) error {
		naive := newNaiveReader(rr)
		defer naive.Release()
		release, err := registerView(dc, naive, view)
		if errors.Is(err, errNoArrowScan) {
			appenderLoads.Add(1)
			n, err = appendRows(ctx, dc, name, rr)
			return err
		}
		if err != nil {
			return err
		}
		defer release()
		exec := dc.(driver.ExecerContext)
		res, err := exec.ExecContext(ctx, q, nil)
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		// The scan's view is a view of the database, not of the connection: left there,
		// it would ship in the warehouse file, pointing at freed memory of this process.
		_, err = exec.ExecContext(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+quote(view), nil)
		return err
	})
	return n, err
}

// naiveReader gives the batches of a RecordReader with their UTC timestamps as
// timestamps without a time zone (the same buffers): DuckDB then reads them as the
// TIMESTAMP columns they go into, instead of as TIMESTAMP WITH TIME ZONE converted
// back value by value through the session's time zone.
type naiveReader struct {
	rr     array.RecordReader
	schema *arrow.Schema
	cur    arrow.RecordBatch
	refs   atomic.Int64
}

func newNaiveReader(rr array.RecordReader) *naiveReader {
	fields := slices.Clone(rr.Schema().Fields())
	for i, f := range fields {
		if ts, ok := f.Type.(*arrow.TimestampType); ok {
			fields[i].Type = &arrow.TimestampType{Unit: ts.Unit}
		}
	}
	md := rr.Schema().Metadata()
	n := &naiveReader{rr: rr, schema: arrow.NewSchema(fields, &md)}
	n.refs.Store(1)
	return n
}

func (n *naiveReader) Schema() *arrow.Schema { return n.schema }

func (n *naiveReader) Next() bool {
	if n.cur != nil {
		n.cur.Release()
		n.cur = nil
	}
	if !n.rr.Next() {
		return false
	}
	rec := n.rr.RecordBatch()
	cols := make([]arrow.Array, rec.NumCols())
	for i, c := range rec.Columns() {
		if c.DataType().ID() == arrow.TIMESTAMP {
			d := c.Data()
			nd := array.NewData(n.schema.Field(i).Type, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
			cols[i] = array.MakeFromData(nd)
			nd.Release()
		} else {
			c.Retain()
			cols[i] = c
		}
	}
	n.cur = array.NewRecordBatch(n.schema, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return true
}

func (n *naiveReader) RecordBatch() arrow.RecordBatch { return n.cur }

// Record is RecordBatch (the older name of the RecordReader interface).
func (n *naiveReader) Record() arrow.RecordBatch { return n.cur }

func (n *naiveReader) Err() error { return n.rr.Err() }

func (n *naiveReader) Retain() { n.refs.Add(1) }

func (n *naiveReader) Release() {
	if n.refs.Add(-1) == 0 && n.cur != nil {
		n.cur.Release()
		n.cur = nil
	}
}
