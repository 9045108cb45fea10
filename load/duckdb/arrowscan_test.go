package duckdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/load"
)

// TestArrowScanWithoutTag: a plain build loads through DuckDB's Arrow scan, not the
// appender, and the rows are all there.
func TestArrowScanWithoutTag(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tbl := attributionTable(mem, 100_000)
	defer tbl.Release()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "scan.duckdb")
	l, err := Open(ctx, Config{Path: path, Range: load.Range{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)}})
	require.NoError(t, err)
	defer l.Close()
	before := appenderLoads.Load()
	require.NoError(t, l.Load(ctx, load.FctAttribution, tbl))
	require.Equal(t, before, appenderLoads.Load(), "no load fell back to the appender")
	require.NoError(t, l.Commit(ctx))
	db, err := OpenReadOnly(path)
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM fct_attribution`).Scan(&n))
	require.Equal(t, 100_000, n)
}
