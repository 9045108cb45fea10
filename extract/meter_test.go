package extract_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/hubspot"
	"closedloop/extract/salesforce"
	"closedloop/extract/segment"
	"closedloop/extract/spend"
	"closedloop/extract/touches"
)

// meter counts what it is told.
type meter struct{ plan, read, pages, pageBytes atomic.Int64 }

func (m *meter) Plan(n int64) { m.plan.Add(n) }
func (m *meter) Read(n int64) { m.read.Add(n) }
func (m *meter) Page(n int64) { m.pages.Add(1); m.pageBytes.Add(n) }

func size(t *testing.T, paths ...string) int64 {
	var n int64
	for _, p := range paths {
		fi, err := os.Stat(p)
		require.NoError(t, err)
		n += fi.Size()
	}
	return n
}

// TestOpenMetersTheBytesOnDisk: a gzipped file's compressed bytes are what the Meter
// is told, while the reader gives the plain text; without a Meter, the same text.
func TestOpenMetersTheBytesOnDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.ndjson.gz")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	for range 5000 {
		_, err = zw.Write([]byte(`{"event_name":"page_view","user_pseudo_id":"1.2"}` + "\n"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	m := &meter{}
	ctx := extract.WithMeter(t.Context(), m)
	extract.PlanFiles(ctx, path, filepath.Join(t.TempDir(), "missing"))
	require.Equal(t, size(t, path), m.plan.Load())
	fl, err := extract.Open(ctx, path)
	require.NoError(t, err)
	metered, err := io.ReadAll(fl)
	require.NoError(t, err)
	require.NoError(t, fl.Close())
	require.Equal(t, size(t, path), m.read.Load())

	fl, err = extract.Open(t.Context(), path)
	require.NoError(t, err)
	plain, err := io.ReadAll(fl)
	require.NoError(t, err)
	require.NoError(t, fl.Close())
	require.True(t, bytes.Equal(plain, metered), "the metered file reads differently")
	require.Equal(t, 5000*50, len(plain))
	require.Nil(t, extract.MeterOf(t.Context()))
}

// TestSourcesMeterWhatTheyRead runs each file source with and without a Meter: the
// same rows and rejections, and the bytes read add up to the files' sizes (a folder's
// total is its files', of which a source may read only some).
func TestSourcesMeterWhatTheyRead(t *testing.T) {
	mem := memory.NewGoAllocator()
	log := slog.New(slog.DiscardHandler)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	sample := filepath.Join("..", "testdata", "sample")
	cases := []struct {
		name   string
		ex     extract.Extractor
		files  []string // the files read end to end: Plan and Read are their size
		folder string   // else a folder: Plan is its size, Read at most that
	}{
		{name: "ga4 ndjson.gz", ex: ga4.New(ga4.Config{Spec: "ga4", Path: filepath.Join(sample, "ga4", "events_2026010*.ndjson.gz"), Mem: mem, Log: log, Now: now}),
			files: glob(t, filepath.Join(sample, "ga4", "events_2026010*.ndjson.gz"))},
		{name: "ga4 parquet", ex: ga4.New(ga4.Config{Spec: "ga4", Path: filepath.Join("ga4", "testdata", "events_20260105.parquet"), Mem: mem, Log: log, Now: now}),
			files: []string{filepath.Join("ga4", "testdata", "events_20260105.parquet")}},
		{name: "touches", ex: touches.New(touches.Config{Spec: "touches", Path: filepath.Join("touches", "testdata", "log.csv"), Mem: mem}),
			files: []string{filepath.Join("touches", "testdata", "log.csv")}},
		{name: "segment", ex: segment.New(segment.Config{Spec: "segment", Path: filepath.Join("segment", "testdata", "*.ndjson"), Mem: mem}),
			files: glob(t, filepath.Join("segment", "testdata", "*.ndjson"))},
		{name: "spend", ex: spend.New(spend.Config{Spec: "spend", Path: filepath.Join(sample, "spend", "*.csv"), Mem: mem, Currency: "USD"}),
			files: glob(t, filepath.Join(sample, "spend", "*.csv"))},
		{name: "hubspot v3 folder", ex: hubspot.New(hubspot.Config{Spec: "hubspot", Dir: filepath.Join(sample, "hubspot"), Mem: mem, Log: log,
			CookieProperty: "ga_client_id", Currency: "USD"}), folder: filepath.Join(sample, "hubspot")},
		{name: "hubspot fivetran folder", ex: hubspot.New(hubspot.Config{Spec: "hubspot", Dir: filepath.Join("hubspot", "testdata", "fivetran"), Mem: mem, Log: log,
			CookieProperty: "ga_client_id", Currency: "USD"}), folder: filepath.Join("hubspot", "testdata", "fivetran")},
		{name: "salesforce folder", ex: salesforce.New(salesforce.Config{Spec: "salesforce", Dir: filepath.Join("salesforce", "testdata", "export"), Mem: mem, Log: log,
			Currency: "USD", CookieField: "GA_Client_ID__c"}), folder: filepath.Join("salesforce", "testdata", "export")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := func(ctx context.Context) (map[string]int64, int) {
				c := extract.NewCollector(mem)
				defer c.Release()
				require.NoError(t, tc.ex.Extract(ctx, c))
				rows := map[string]int64{}
				for _, table := range tc.ex.Tables() {
					rows[table] = c.Rows(tc.ex.Name(), table)
				}
				return rows, len(c.Rejections())
			}
			m := &meter{}
			rows, rejected := run(extract.WithMeter(t.Context(), m))
			plainRows, plainRejected := run(t.Context())
			require.Equal(t, plainRows, rows)
			require.Equal(t, plainRejected, rejected)
			if tc.folder == "" {
				require.Equal(t, size(t, tc.files...), m.plan.Load())
				require.Equal(t, size(t, tc.files...), m.read.Load())
			} else {
				var all []string
				entries, err := os.ReadDir(tc.folder)
				require.NoError(t, err)
				for _, e := range entries {
					if e.Type().IsRegular() {
						all = append(all, filepath.Join(tc.folder, e.Name()))
					}
				}
				require.Equal(t, size(t, all...), m.plan.Load())
				require.Positive(t, m.read.Load())
			}
			require.Zero(t, m.pages.Load())
		})
	}
}

func glob(t *testing.T, pattern string) []string {
	paths, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	return paths
}
