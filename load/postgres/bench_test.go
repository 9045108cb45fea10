package postgres

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/load"
)

// benchRows is the size of BenchmarkLoadAttribution: 10M rows, or
// CLOSEDLOOP_BENCH_ROWS.
func benchRows(b *testing.B) int {
	n := 10_000_000
	if s := os.Getenv("CLOSEDLOOP_BENCH_ROWS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("CLOSEDLOOP_BENCH_ROWS=%q: want a positive number of rows", s)
		}
	}
	return n
}

// attributionTable builds n fct_attribution rows over 30 days, in record batches of
// 64Ki rows: 3 credited touches per conversion, 6 models, 8 channels, 50 campaigns.
func attributionTable(mem memory.Allocator, n int, from time.Time) arrow.Table {
	spec, _ := load.Lookup(load.FctAttribution)
	models := []string{"first_touch", "last_touch", "linear", "time_decay", "position_based", "markov"}
	channels := []string{"Paid Search", "Organic Search", "Email", "Direct", "Referral", "Paid Social", "Organic Social", "Display"}
	types := []string{"lead", "mql", "sql", "opportunity", "customer"}
	const batch = 64 << 10
	span := int64(30 * 24 * time.Hour / time.Microsecond)
	var recs []arrow.RecordBatch
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	for i := 0; i < n; i++ {
		conv := i / 3
		at := from.UnixMicro() + int64(conv)*7_919_000_017%span // spread over the 30 days
		f := b.Fields()
		f[0].(*array.StringBuilder).Append("c_" + strconv.Itoa(conv))
		f[1].(*array.StringBuilder).Append("t_" + strconv.Itoa(i))
		f[2].(*array.StringBuilder).Append(models[conv%len(models)])
		f[3].(*array.Float64Builder).Append(1.0 / 3)
		if conv%5 == 4 {
			f[4].(*array.Float64Builder).Append(100.0 / 3)
		} else {
			f[4].AppendNull()
		}
		f[5].(*array.StringBuilder).Append(channels[i%len(channels)])
		f[6].(*array.StringBuilder).Append("campaign_" + strconv.Itoa(i%50))
		if i%10 == 0 {
			f[7].(*array.StringBuilder).Append("keyword " + strconv.Itoa(i%1000))
		} else {
			f[7].AppendNull()
		}
		f[8].(*array.StringBuilder).Append(types[conv%len(types)])
		f[9].(*array.TimestampBuilder).Append(arrow.Timestamp(at))
		f[10].(*array.TimestampBuilder).Append(arrow.Timestamp(at - int64(i%3)*3_600_000_000))
		f[11].(*array.StringBuilder).Append("p_" + strconv.Itoa(conv/2))
		f[12].(*array.StringBuilder).Append("person")
		f[13].(*array.StringBuilder).Append("p_" + strconv.Itoa(conv/2))
		if (i+1)%batch == 0 || i == n-1 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	t := array.NewTableFromRecords(spec.Schema, recs)
	for _, r := range recs {
		r.Release() // the table holds them
	}
	return t
}

// BenchmarkLoadAttribution loads and commits fct_attribution rows (10M by default,
// CLOSEDLOOP_BENCH_ROWS otherwise) into a new schema each iteration: COPY binary into
// the table with its three indexes (occurred_at, model, channel), inside the run's
// transaction. rows/s counts the Load and the Commit, not Open. Run it once:
//
//	go test -run '^$' -bench LoadAttribution -benchtime 1x ./load/postgres/
func BenchmarkLoadAttribution(b *testing.B) {
	needPostgres(b)
	n := benchRows(b)
	ctx := context.Background()
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := load.Range{From: from, To: from.AddDate(0, 0, 29)}
	tbl := attributionTable(memory.NewGoAllocator(), n, from)
	defer tbl.Release()
	var busy time.Duration
	b.ResetTimer()
	for range b.N {
		l, err := Open(ctx, Config{DSN: testDSN, Range: r, Schema: freshSchema(b)})
		require.NoError(b, err)
		t0 := time.Now()
		require.NoError(b, l.Load(ctx, load.FctAttribution, tbl))
		t1 := time.Now()
		require.NoError(b, l.Commit(ctx))
		busy += time.Since(t0)
		b.ReportMetric(t1.Sub(t0).Seconds(), "s_load")
		b.ReportMetric(time.Since(t1).Seconds(), "s_commit")
		require.NoError(b, l.Close())
	}
	b.ReportMetric(float64(n)*float64(b.N)/busy.Seconds(), "rows/s")
	b.ReportMetric(float64(n), "rows")
}
