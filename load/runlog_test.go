package load

import (
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

func TestRunLogAndRejectedRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	rl := RunLogTable(mem, Run{ID: "r1", Started: day, Finished: day.Add(time.Minute), From: day, To: day.AddDate(0, 0, 2),
		Inputs: []string{"ga4:a", "hubspot:b"}, Warehouse: "duckdb:x", RowCounts: `{}`, Rejected: 2, Status: "success", Version: "v"})
	defer rl.Release()
	spec, _ := Lookup(RunLog)
	require.True(t, rl.Schema().Equal(spec.Schema))
	tr := array.NewTableReader(rl, 0)
	defer tr.Release()
	require.True(t, tr.Next())
	rec := tr.RecordBatch()
	get := func(name string) any {
		c := rec.Column(rec.Schema().FieldIndices(name)[0])
		if c.IsNull(0) {
			return nil
		}
		return c.GetOneForMarshal(0)
	}
	require.Equal(t, "ga4:a,hubspot:b", get("inputs"))
	require.Equal(t, "duckdb:x", get("warehouse"))
	require.Equal(t, int64(2), get("rejected_count"))
	require.Nil(t, get("message"))
	require.Equal(t, "2026-03-03", get("range_to"))

	rj := RejectedRowsTable(mem, "r1", []extract.Rejection{{Input: "ga4:a", Location: "f:3", Reason: "bad", Raw: "{"}})
	defer rj.Release()
	require.EqualValues(t, 1, rj.NumRows())
	spec, _ = Lookup(RejectedRows)
	require.True(t, rj.Schema().Equal(spec.Schema))
}

func TestRejectedRowsKeepBadBytesStorable(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rj := RejectedRowsTable(mem, "r1", []extract.Rejection{{Input: "touches:t.csv", Location: "t.csv:2",
		Reason: "cookie is not valid UTF-8", Raw: "caf\xe9\xe9,\x00,x"}})
	defer rj.Release()
	tr := array.NewTableReader(rj, 0)
	defer tr.Release()
	require.True(t, tr.Next())
	raw := tr.RecordBatch().Column(Col(RejectedRows, "raw")).(*array.String).Value(0)
	require.Equal(t, "caf\uFFFD,\\x00,x", raw, "what was there, in bytes a warehouse stores")
}
