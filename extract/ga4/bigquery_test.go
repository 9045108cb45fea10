package ga4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage"
	"closedloop/extract/ga4/bqstorage/bqfake"
)

const (
	bqProject = "proj-a"
	bqDataset = "analytics_123456"
	bqTable   = "bigquery://" + bqProject + "/" + bqDataset + "/events_20260105"
)

// parquetRecord reads a Parquet export file into one record, with pqarrow alone.
func parquetRecord(t *testing.T, mem memory.Allocator, path string) arrow.RecordBatch {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	pr, err := pqfile.NewParquetReader(f)
	require.NoError(t, err)
	defer pr.Close()
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: pr.NumRows()}, mem)
	require.NoError(t, err)
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	require.NoError(t, err)
	defer rr.Release()
	require.True(t, rr.Next(), "%s: no rows: %v", path, rr.Err())
	rec := rr.RecordBatch()
	require.Equal(t, pr.NumRows(), rec.NumRows(), "%s: one batch", path)
	rec.Retain()
	return rec
}

// runBigQuery extracts cfg against fake and returns the events table as rows, the
// rejections and the extractor.
func runBigQuery(t *testing.T, mem memory.Allocator, fake *bqfake.Server, cfg BigQueryConfig) ([]map[string]any, []extract.Rejection, *BigQueryExtractor, error) {
	t.Helper()
	c := extract.NewCollector(mem)
	defer c.Release()
	cfg.Mem, cfg.Endpoint, cfg.RESTEndpoint = mem, fake.Endpoint, fake.RESTEndpoint
	e := NewBigQuery(cfg)
	err := e.Extract(context.Background(), c)
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	return rows(t, tbl), c.Rejections(), e, err
}

// TestBigQueryMatchesFiles serves the Parquet fixture's rows as table events_20260105
// in two streams, and no table for January 6: the BigQuery extractor gives the NDJSON
// fixture's rows, and for the lines that have a Parquet row its rejections, located by
// table, stream and row; the day without a table is a rejection too.
func TestBigQueryMatchesFiles(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rec := parquetRecord(t, mem, parquetFixture)
	defer rec.Release()
	fake := bqfake.Start(t, bqfake.Config{Project: bqProject, Dataset: bqDataset})
	defer fake.Close() // before AssertSize: the fake holds rec
	fake.AddTable("events_20260105", bqfake.Table{Record: rec, Streams: 2, PerResp: 4})
	fake.List("events_20260104", "events_20260107") // outside the range

	jan5 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	got, gotRej, e, err := runBigQuery(t, mem, fake, BigQueryConfig{
		Location: "bigquery://" + bqProject + "/" + bqDataset,
		Range:    extract.Range{From: jan5, To: jan5.AddDate(0, 0, 1)},
	})
	require.NoError(t, err)
	spec := "ga4:bigquery://" + bqProject + "/" + bqDataset
	require.Equal(t, spec, e.Name())
	want, wantRej := run(t, fixture)

	// The session read the decoder's columns.
	creates := fake.Creates()
	require.Len(t, creates, 1)
	require.Equal(t, Columns(), creates[0].GetReadSession().GetReadOptions().GetSelectedFields())

	// Where each NDJSON line is: Parquet row k holds line numbers[k-1]; the fake puts
	// rows [N·s/2, N·(s+1)/2) in stream s.
	_, numbers := parquetLines(t)
	n := int64(len(numbers))
	require.Equal(t, n, rec.NumRows())
	bqLoc := map[int]string{}
	lineAt := map[string]int{}
	for k, line := range numbers {
		s := int64(0)
		if int64(k) >= n/2 {
			s = 1
		}
		loc := fmt.Sprintf("%s stream %d:row %d", bqTable, s, int64(k)-n*s/2+1)
		bqLoc[line], lineAt[loc] = loc, line
	}
	ndLoc := regexp.MustCompile(regexp.QuoteMeta(fixture) + `:(\d+)`)
	toBQ := func(reason string) string {
		return ndLoc.ReplaceAllStringFunc(reason, func(m string) string {
			line, _ := strconv.Atoi(m[len(fixture)+1:])
			require.Contains(t, bqLoc, line, m)
			return bqLoc[line]
		})
	}
	content := func(row map[string]any) map[string]any {
		c := maps.Clone(row)
		delete(c, "input")
		delete(c, "location")
		return c
	}

	// Every NDJSON line's event, a duplicate's being the row it repeats. Which of two
	// duplicates is kept depends on which stream is read first.
	byLine := map[int]map[string]any{}
	for _, r := range want {
		line, err := strconv.Atoi(strings.TrimPrefix(r["location"].(string), fixture+":"))
		require.NoError(t, err)
		byLine[line] = content(r)
	}
	dupOf := regexp.MustCompile(`^exact duplicate of ` + regexp.QuoteMeta(fixture) + `:(\d+) `)
	rejByLine := map[int]extract.Rejection{}
	original := map[int]int{} // duplicate line -> the line it repeats, and back
	for _, r := range wantRej {
		line, err := strconv.Atoi(strings.TrimPrefix(r.Location, fixture+":"))
		require.NoError(t, err)
		rejByLine[line] = r
		if m := dupOf.FindStringSubmatch(r.Reason); m != nil {
			orig, _ := strconv.Atoi(m[1])
			byLine[line], original[line], original[orig] = byLine[orig], orig, line
		}
	}
	require.Len(t, original, 2, "the fixture has one exact duplicate")

	require.Len(t, got, len(want))
	seen := map[string]bool{}
	for _, r := range got {
		loc := r["location"].(string)
		require.Equal(t, spec, r["input"], loc)
		require.Contains(t, lineAt, loc)
		require.False(t, seen[loc], "%s twice", loc)
		seen[loc] = true
		require.Equal(t, byLine[lineAt[loc]], content(r), loc)
	}

	var missing []extract.Rejection
	rejected := 0
	for _, r := range gotRej {
		require.Equal(t, spec, r.Input, r.Location)
		if !strings.Contains(r.Location, " stream ") {
			missing = append(missing, r)
			continue
		}
		require.Contains(t, lineAt, r.Location)
		line := lineAt[r.Location]
		nd, ok := rejByLine[line]
		if ok {
			require.Equal(t, toBQ(nd.Reason), r.Reason, r.Location)
		} else {
			// The original of the duplicate pair, read after its repeat.
			dup, isPair := original[line]
			require.True(t, isPair, "%s (line %d) is not rejected in the NDJSON file", r.Location, line)
			require.Equal(t, strings.Replace(toBQ(rejByLine[dup].Reason), bqLoc[line], bqLoc[dup], 1), r.Reason, r.Location)
		}
		require.False(t, seen[r.Location], "%s twice", r.Location)
		seen[r.Location] = true
		require.True(t, json.Valid([]byte(r.Raw)), r.Raw)
		rejected++
	}
	wantRejected := 0
	for line := range rejByLine {
		if _, ok := bqLoc[line]; ok {
			wantRejected++
		}
	}
	require.Equal(t, 5, wantRejected)
	require.Equal(t, wantRejected, rejected)
	require.Len(t, seen, int(n), "every Parquet row is a row or a rejection")

	require.Len(t, missing, 1)
	require.Equal(t, "bigquery://proj-a/analytics_123456/events_20260106", missing[0].Location)
	require.Contains(t, missing[0].Reason, "no table events_20260106 in proj-a.analytics_123456: this day's events are not read")

	// Rows are numbered from 1 in each stream, as bqstorage.Batch.Location says.
	require.Contains(t, seen, bqTable+" stream 0:row 1")
	require.Contains(t, seen, bqTable+" stream 1:row 1")
	b := bqstorage.Batch{Table: bqstorage.Table{Project: bqProject, Dataset: bqDataset, ID: "events_20260105"}, Stream: 1, Offset: 4}
	require.Equal(t, bqTable+" stream 1:row 6", b.Location(1))
	require.Contains(t, seen, b.Location(1))

	require.Equal(t, Stats{Events: int64(len(got)), Rejected: int64(len(gotRej)), Duplicates: 1}, e.Stats())
	require.Equal(t, 1, e.Duplicates())
}

// TestBigQueryErrors: configuration and access errors are extract.ErrConfig errors
// naming the fix, and nothing is written.
func TestBigQueryErrors(t *testing.T) {
	jan5 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	rng := extract.Range{From: jan5, To: jan5}
	tests := []struct {
		name     string
		location string
		rng      extract.Range
		fail     int
		config   bool
		want     []string
	}{
		{"bad location", "bigquery://proj-a", rng, 0, true,
			[]string{"configuration: ga4:bigquery://proj-a: want bigquery://PROJECT/DATASET"}},
		{"dataset not found", "bigquery://proj-a/analytics_999", rng, 0, true,
			[]string{"bigquery://proj-a/analytics_999: listing tables: not found: check the project (proj-a) and the dataset (analytics_999;",
				"Not found: Dataset proj-a:analytics_999"}},
		{"permission denied", "bigquery://proj-a/analytics_123456", rng, http.StatusForbidden, true,
			[]string{"permission denied: grant the credentials' principal roles/bigquery.dataViewer on dataset proj-a.analytics_123456"}},
		{"no range", "bigquery://proj-a/analytics_123456", extract.Range{}, 0, true,
			[]string{"configuration: ga4:bigquery://proj-a/analytics_123456: no date range to read"}},
		{"range ends before it starts", "bigquery://proj-a/analytics_123456", extract.Range{From: jan5, To: jan5.AddDate(0, 0, -1)}, 0, true,
			[]string{"range 2026-01-05..2026-01-04 ends before it starts"}},
		// An export table must have user_pseudo_id: the client drops the selected
		// column the table lacks, the decoder refuses the record.
		{"not an export table", "bigquery://proj-a/analytics_123456", rng, 0, false,
			[]string{"ga4: " + bqTable + " stream 0: no column user_pseudo_id: not a GA4 export table"}},
	}
	lines, _ := parquetLines(t)
	var rows []string
	for _, l := range lines {
		rows = append(rows, string(l))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			fake := bqfake.Start(t, bqfake.Config{Project: bqProject, Dataset: bqDataset})
			fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.WithoutField(bqfake.ExportSchema(), "user_pseudo_id"), Rows: rows, PerResp: 4})
			fake.FailREST(tt.fail)
			got, rej, _, err := runBigQuery(t, mem, fake, BigQueryConfig{Location: tt.location, Range: tt.rng})
			require.Error(t, err)
			require.Equal(t, tt.config, errors.Is(err, extract.ErrConfig), err.Error())
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			require.Empty(t, got)
			require.Empty(t, rej)
		})
	}
}

// TestColumnsAreBigQueryDefaults: the columns the decoder reads, which the
// BigQueryExtractor selects, are bqstorage's defaults (bqstorage cannot import this
// package, so it keeps a copy).
func TestColumnsAreBigQueryDefaults(t *testing.T) {
	require.Equal(t, bqstorage.DefaultColumns, Columns())
}

// BenchmarkBigQuery reads 262,144 generated events (genExport, all unique) from the
// fake as one table in two streams of 10,000-row LZ4 batches over loopback TCP,
// decoded into canonical rows that are counted and dropped. MB/s counts the
// serialized batches received.
func BenchmarkBigQuery(b *testing.B) {
	const n = 1 << 18
	mem := memory.NewGoAllocator()
	var recs []arrow.RecordBatch
	var chunk bytes.Buffer
	flush := func() {
		rec, _, err := array.RecordFromJSON(mem, bqfake.ExportSchema(), &chunk, array.WithMultipleDocs())
		require.NoError(b, err)
		recs = append(recs, rec)
		chunk.Reset()
	}
	genExport(n, 42, func(line []byte) {
		chunk.Write(line)
		if chunk.Len() > 8<<20 {
			flush()
		}
	})
	flush()
	tbl := array.NewTableFromRecords(bqfake.ExportSchema(), recs)
	for _, r := range recs {
		r.Release()
	}
	defer tbl.Release()
	cols := make([]arrow.Array, tbl.NumCols())
	for i := range cols {
		var err error
		cols[i], err = array.Concatenate(tbl.Column(i).Data().Chunks(), mem)
		require.NoError(b, err)
		defer cols[i].Release()
	}
	rec := array.NewRecordBatch(bqfake.ExportSchema(), cols, n)
	defer rec.Release()

	fake := bqfake.Start(b, bqfake.Config{Project: bqProject, Dataset: bqDataset})
	defer fake.Close()
	fake.AddTable("events_20260105", bqfake.Table{Record: rec, Streams: 2, PerResp: 10_000})
	jan5 := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	cfg := BigQueryConfig{Location: "bigquery://" + bqProject + "/" + bqDataset, Range: extract.Range{From: jan5, To: jan5},
		Endpoint: fake.Endpoint, RESTEndpoint: fake.RESTEndpoint}
	read := func() {
		var w countWriter
		if err := NewBigQuery(cfg).Extract(context.Background(), &w); err != nil {
			b.Fatal(err)
		}
		if w.rows.Load() != n || w.rejected.Load() != 0 {
			b.Fatalf("%d rows, %d rejections, want %d rows", w.rows.Load(), w.rejected.Load(), n)
		}
	}
	read() // the fake projects and serializes its batches on the first read
	sent := fake.BytesSent()
	b.ReportAllocs()
	runs := 0
	for b.Loop() {
		read()
		runs++
	}
	b.SetBytes((fake.BytesSent() - sent) / int64(runs))
	b.ReportMetric(float64(n)*float64(runs)/b.Elapsed().Seconds(), "events/s")
}
