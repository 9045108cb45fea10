package parquet

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
)

// benchRows is the size of BenchmarkLoadAttribution: CLOSEDLOOP_BENCH_ROWS, else 10M.
func benchRows() int {
	if n, err := strconv.Atoi(os.Getenv("CLOSEDLOOP_BENCH_ROWS")); err == nil && n > 0 {
		return n
	}
	return 10_000_000
}

// attributionTable builds n fct_attribution rows over 10 days in batches of 64k rows,
// as load/duckdb's benchmark does: ten credits per conversion, consecutive conversions
// on consecutive days, so every batch holds all ten days interleaved.
func attributionTable(mem memory.Allocator, n int) arrow.Table {
	spec, _ := load.Lookup(load.FctAttribution)
	var recs []arrow.RecordBatch
	b := array.NewRecordBuilder(mem, spec.Schema)
	defer b.Release()
	models := []string{"first_touch", "last_touch", "linear", "markov", "shapley"}
	channels := []string{"Paid Search", "Organic Search", "Email", "Direct", "Paid Social", "Referral"}
	day0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	for i := 0; i < n; i++ {
		conv := i / 10
		at := day0 + int64(conv%10)*86_400_000_000 + int64(conv%86_400)*1_000_000
		b.Field(0).(*array.StringBuilder).Append("c_" + strconv.Itoa(conv))
		b.Field(1).(*array.StringBuilder).Append("t_" + strconv.Itoa(i))
		b.Field(2).(*array.StringBuilder).Append(models[i%len(models)])
		b.Field(3).(*array.Float64Builder).Append(0.5)
		b.Field(4).(*array.Float64Builder).Append(50)
		b.Field(5).(*array.StringBuilder).Append(channels[i%len(channels)])
		b.Field(6).(*array.StringBuilder).Append("campaign_" + strconv.Itoa(i%40))
		b.Field(7).(*array.StringBuilder).AppendNull()
		b.Field(8).(*array.StringBuilder).Append("customer")
		b.Field(9).(*array.TimestampBuilder).Append(arrow.Timestamp(at))
		b.Field(10).(*array.TimestampBuilder).Append(arrow.Timestamp(at - 3_600_000_000))
		b.Field(11).(*array.StringBuilder).Append("p_" + strconv.Itoa(conv%100_000))
		b.Field(12).(*array.StringBuilder).Append("person")
		b.Field(13).(*array.StringBuilder).Append("p_" + strconv.Itoa(conv%100_000))
		if (i+1)%65536 == 0 || i == n-1 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	t := array.NewTableFromRecords(spec.Schema, recs)
	for _, r := range recs {
		r.Release()
	}
	return t
}

// BenchmarkLoadAttribution loads fct_attribution rows (10M by default, over 10 days)
// and commits them into one folder, run after run (each run replaces the last): rows/s
// and MB of Parquet written per run.
func BenchmarkLoadAttribution(b *testing.B) {
	n := benchRows()
	mem := memory.NewGoAllocator()
	tbl := attributionTable(mem, n)
	defer tbl.Release()
	ctx := context.Background()
	dir := b.TempDir()
	r := load.Range{From: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)}
	var bytes, files int64
	var loading, commit time.Duration
	b.ResetTimer()
	for i := range b.N {
		l, err := Open(ctx, Config{Dir: dir, Range: r, RunID: "bench-" + strconv.Itoa(i) + "-" + time.Now().UTC().Format("150405.000000")})
		if err != nil {
			b.Fatal(err)
		}
		t0 := time.Now()
		if err := l.Load(ctx, load.FctAttribution, tbl); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := l.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		loading += t1.Sub(t0)
		commit += time.Since(t1)
		l.Close()
		b.StopTimer()
		m, err := ReadManifest(dir, l.RunID())
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range m.Tables {
			if t.Name == load.FctAttribution {
				bytes, files = t.Bytes, int64(len(t.FilesWritten))
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(n), "rows")
	b.ReportMetric(float64(bytes)/1e6, "MB_written")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(loading.Seconds()/float64(b.N), "s_load")
	b.ReportMetric(commit.Seconds()/float64(b.N), "s_commit")
}
