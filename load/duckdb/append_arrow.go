//go:build duckdb_arrow

package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// Ingest names the way rows go in, for logs and benchmarks.
const Ingest = "arrow"

// appendTable writes every row of t, on conn, through DuckDB's Arrow interface: the table is
// registered as a (single-pass) view over its own buffers and inserted with one
// INSERT ... SELECT. Timestamps arrive as TIMESTAMP WITH TIME ZONE and are stored as
// their UTC wall time, whatever the session's time zone.
func appendTable(ctx context.Context, conn *sql.Conn, name string, t arrow.Table) (int64, error) {
	if t.NumRows() == 0 {
		return 0, nil
	}
	var cols []string
	for _, f := range t.Schema().Fields() {
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
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		tr := array.NewTableReader(t, 0)
		defer tr.Release()
		release, err := ar.RegisterView(tr, view)
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
