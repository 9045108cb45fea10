package ga4

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
	"github.com/zeebo/xxh3"

	"closedloop/extract"
	"closedloop/extract/synth"
)

// sequential reads paths with one Decoder, one file after the other: what readAll
// must reproduce.
func sequential(t *testing.T, mem memory.Allocator, spec string, paths []string, w extract.Writer) Stats {
	d := NewDecoder(spec, mem, w)
	defer d.Release()
	day := ""
	for _, p := range paths {
		if fileDay(p) != day { // rows of another day's files never repeat a row seen before
			d.seen, day = map[xxh3.Uint128]uint64{}, fileDay(p)
		}
		require.NoError(t, readFile(context.Background(), p, mem, d))
	}
	require.NoError(t, d.Flush(context.Background()))
	return d.Stats()
}

// TestReadAllIsSequential: files decoded on several cores give the rows, in the same
// order, the rejections and the counts of one Decoder reading them in turn — exact
// duplicates across the files of one day included (a day exported twice under another
// name), which makes the later file be decoded again against the rows of its day seen
// before it.
func TestReadAllIsSequential(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	src, err := os.ReadFile(fixture)
	require.NoError(t, err)
	var paths []string
	for i := range 12 {
		p := filepath.Join(dir, fmt.Sprintf("events_202601%02d.ndjson", i+1))
		body := strings.ReplaceAll(string(src), `"user_pseudo_id":"`, fmt.Sprintf(`"user_pseudo_id":"f%d_`, i))
		require.NoError(t, os.WriteFile(p, []byte(body), 0o644))
		paths = append(paths, p)
	}
	again := filepath.Join(dir, "events_20260103_copy.ndjson") // file 3's rows once more
	copyFile(t, paths[2], again)
	pq := filepath.Join(dir, "events_20260105.parquet")
	copyFile(t, "testdata/events_20260105.parquet", pq)
	paths = append(paths[:3], append([]string{again}, paths[3:]...)...)
	paths = append(paths[:6], append([]string{pq}, paths[6:]...)...) // after events_20260105

	const spec = "ga4:test"
	want := extract.NewCollector(mem)
	defer want.Release()
	wantStats := sequential(t, mem, spec, paths, want)
	require.Positive(t, wantStats.Duplicates)

	for range 3 { // scheduling differs from run to run; the result must not
		got := extract.NewCollector(mem)
		gotStats, err := readAll(context.Background(), spec, mem, time.Now(), paths, got)
		require.NoError(t, err)
		require.Equal(t, wantStats, gotStats)
		wt, gt := want.Table(extract.TableEvents), got.Table(extract.TableEvents)
		require.Equal(t, rows(t, wt), rows(t, gt))
		wt.Release()
		gt.Release()
		require.Equal(t, want.Rejections(), got.Rejections())
		got.Release()
	}
}

// TestReadAllStopsOnError: a file that cannot be read stops the run with its error,
// and every batch decoded by then is released.
func TestReadAllStopsOnError(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := t.TempDir()
	var paths []string
	for i := range 8 {
		p := filepath.Join(dir, fmt.Sprintf("events_202601%02d.ndjson", i+1))
		copyFile(t, fixture, p)
		paths = append(paths, p)
	}
	bad := filepath.Join(dir, "events_20260104.ndjson.gz")
	require.NoError(t, os.WriteFile(bad, []byte("\x1f\x8b\x08 not gzip at all"), 0o644))
	paths = append(paths[:3], append([]string{bad}, paths[3:]...)...)
	c := extract.NewCollector(mem)
	defer c.Release()
	_, err := readAll(context.Background(), "ga4:test", mem, time.Now(), paths, c)
	require.Error(t, err)
	require.Contains(t, err.Error(), "events_20260104.ndjson.gz")
}

// discard is a Writer that counts rows and keeps nothing.
type discard struct{ rows, rejected atomic.Int64 }

func (d *discard) Write(_ context.Context, _ string, rec arrow.RecordBatch) error {
	d.rows.Add(rec.NumRows())
	return nil
}

func (d *discard) Reject(context.Context, extract.Rejection) error {
	d.rejected.Add(1)
	return nil
}

// BenchmarkExtractDays reads a month of synthetic GA4 export day files (extract/synth,
// 20k people, about 260k events): events/s with the cores -cpu gives, e.g.
// go test ./extract/ga4 -run XXX -bench ExtractDays -cpu 1,2.
func BenchmarkExtractDays(b *testing.B) {
	dir := b.TempDir()
	st, err := synth.Generate(synth.Config{Seed: 1, People: 20_000, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 30}, dir)
	if err != nil {
		b.Fatal(err)
	}
	e := New(Config{Spec: "ga4:bench", Path: filepath.Join(dir, "ga4", "*.ndjson.gz"), Mem: memory.NewGoAllocator()})
	b.ResetTimer()
	for range b.N {
		var w discard
		if err := e.Extract(context.Background(), &w); err != nil {
			b.Fatal(err)
		}
		if w.rows.Load() != int64(st.Events) {
			b.Fatalf("%d rows, want %d", w.rows.Load(), st.Events)
		}
	}
	b.ReportMetric(float64(st.Events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
