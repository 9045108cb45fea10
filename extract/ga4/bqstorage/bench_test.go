package bqstorage

import (
	"context"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage/bqfake"
)

// BenchmarkReadRange reads one table of 1,000,000 GA4 events (the fixture's rows
// repeated) in two streams of 10,000-row LZ4 batches from the in-process fake over
// loopback TCP. MB/s counts the serialized (compressed) batches received, decoded-MB/s
// the Arrow buffers they decode to.
func BenchmarkReadRange(b *testing.B) {
	const copies, repeat = 2500, 50 // 8 rows × 2500 = 20,000 rows, sent 50 times
	fixture := fixtureRows(b)
	var rows []string
	for range copies {
		rows = append(rows, fixture...)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	rig := newRig(b, Config{Mem: mem})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: rows, Streams: 2, PerResp: 10_000, Repeat: repeat})
	rng := extract.Range{From: day("2026-01-05"), To: day("2026-01-05")}
	var total, decoded int64
	count := func(bt Batch) error {
		total += bt.Record.NumRows()
		for _, col := range bt.Record.Columns() {
			decoded += dataSize(col.Data())
		}
		return nil
	}
	// The fake builds and serializes its batches on the first read.
	if _, err := rig.ReadRange(context.Background(), rng, count); err != nil {
		b.Fatal(err)
	}
	total, decoded = 0, 0
	sent := rig.fake.BytesSent()

	b.ResetTimer()
	for range b.N {
		if _, err := rig.ReadRange(context.Background(), rng, count); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if want := int64(b.N) * int64(len(rows)) * repeat; total != want {
		b.Fatalf("read %d rows, want %d", total, want)
	}
	b.SetBytes((rig.fake.BytesSent() - sent) / int64(b.N))
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(decoded)/1e6/b.Elapsed().Seconds(), "decoded-MB/s")
}

// dataSize is the bytes of d's buffers and its children's.
func dataSize(d arrow.ArrayData) int64 {
	var n int64
	for _, b := range d.Buffers() {
		if b != nil {
			n += int64(b.Len())
		}
	}
	for _, c := range d.Children() {
		n += dataSize(c)
	}
	return n
}
