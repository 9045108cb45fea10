package extract

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
)

// TestTakeJoinsColumns: Take gives the rows Table gives, in order, as one chunk per
// column, and the Collector no longer holds them.
func TestTakeJoinsColumns(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := NewCollector(mem)
	defer c.Release()
	ctx := context.Background()
	for batch := range 3 {
		b := NewBuilder(mem, TableEvents, c)
		for i := range 5 {
			for c, f := range Schemas[TableEvents].Fields() {
				switch f.Type.ID() {
				case arrow.STRING:
					b.Str(c, fmt.Sprintf("%s %d", f.Name, batch*5+i))
				case arrow.TIMESTAMP:
					b.Time(c, time.Unix(int64(batch*5+i), 0))
				case arrow.BOOL:
					b.Bool(c, i%2 == 0)
				case arrow.FLOAT64:
					b.Float(c, float64(i), i%2 == 0)
				default:
					t.Fatalf("no value for %s", f.Type)
				}
			}
			require.NoError(t, b.End(ctx))
		}
		require.NoError(t, b.Flush(ctx))
		b.Release()
	}
	want := c.Table(TableEvents)
	defer want.Release()
	require.Len(t, want.Column(0).Data().Chunks(), 3)
	got, err := c.Take(TableEvents)
	require.NoError(t, err)
	defer got.Release()
	require.EqualValues(t, 15, got.NumRows())
	for i := range int(got.NumCols()) {
		require.Len(t, got.Column(i).Data().Chunks(), 1, got.Schema().Field(i).Name)
	}
	loc := Col(TableEvents, "location")
	for i := range 15 {
		require.Equal(t, fmt.Sprintf("location %d", i), got.Column(loc).Data().Chunk(0).ValueStr(i))
	}
	empty := c.Table(TableEvents)
	defer empty.Release()
	require.Zero(t, empty.NumRows(), "taken: the Collector holds none")
}

// TestKeepHoldsOnlyTheColumnsNamed: after Keep, a table's batches are held with only
// the columns named, in their order; other tables and the row counts are untouched;
// an unknown column is refused.
func TestKeepHoldsOnlyTheColumnsNamed(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := NewCollector(mem)
	defer c.Release()
	ctx := context.Background()
	require.ErrorContains(t, c.Keep(TableDeals, []string{"deal_id", "nope"}), `no column "nope"`)
	require.NoError(t, c.Keep(TableDeals, []string{"deal_id", "crm", "amount"}))
	for batch := range 2 {
		b := NewBuilder(mem, TableDeals, c)
		for i := range 3 {
			b.Str(Col(TableDeals, "input"), "hubspot:x")
			b.Str(Col(TableDeals, "location"), fmt.Sprintf("deals.ndjson:%d", batch*3+i))
			b.Str(Col(TableDeals, "crm"), "hubspot")
			b.Str(Col(TableDeals, "deal_id"), fmt.Sprint(batch*3+i))
			b.Float(Col(TableDeals, "amount"), float64(i), true)
			b.Bool(Col(TableDeals, "is_closed"), false)
			b.Bool(Col(TableDeals, "is_won"), false)
			require.NoError(t, b.End(ctx))
		}
		require.NoError(t, b.Flush(ctx))
		b.Release()
	}
	require.EqualValues(t, 6, c.Rows("hubspot:x", TableDeals))
	tbl := c.Table(TableDeals)
	require.Equal(t, []string{"deal_id", "crm", "amount"}, []string{tbl.Schema().Field(0).Name, tbl.Schema().Field(1).Name, tbl.Schema().Field(2).Name})
	require.EqualValues(t, 3, tbl.NumCols())
	tbl.Release()
	got, err := c.Take(TableDeals)
	require.NoError(t, err)
	defer got.Release()
	require.EqualValues(t, 6, got.NumRows())
	require.Equal(t, "5", got.Column(0).Data().Chunk(0).ValueStr(5))
}
