package tables_test

import (
	"context"
	"testing"

	"closedloop/extract/tables/tablestest"
)

// BenchmarkRead reads table big (100,000 rows: an integer, a text, a timestamp, a
// double and a date) from each backend; rows/s is the read throughput, cells rendered.
func BenchmarkRead(b *testing.B) {
	for _, kind := range tablestest.Kinds {
		b.Run(kind, func(b *testing.B) {
			db := tablestest.LoadDuckDB(b, kind, bigFile(b))
			src := db.Open(b)
			cols := []string{"id", "s", "seen_at", "x", "d"}
			b.ResetTimer()
			rows := 0
			for b.Loop() {
				err := src.Read(context.Background(), "big", cols, nil, func([]string) error { rows++; return nil })
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
