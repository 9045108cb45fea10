package ga4

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/extract"
)

// readNDJSON reads one NDJSON file, plain or gzipped, into d.
func readNDJSON(ctx context.Context, path string, d *Decoder) (err error) {
	f, err := extract.Open(path)
	if err != nil {
		return fmt.Errorf("ga4: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ga4: %s: %w", path, cerr)
		}
	}()
	o, err := d.origin(path + ":")
	if err != nil {
		return err
	}
	l := extract.NewLines(f.Reader)
	for {
		if l.N%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, long, err := l.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ga4: %s:%d: %w", path, l.N+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := d.decodeLine(ctx, o, int64(l.N), line, long); err != nil {
			return err
		}
	}
}

// readParquet reads one Parquet file into d: row group by row group, in batches of
// extract.BatchRows rows, only the columns the decoder uses. Rows are located as
// "file.parquet:row N", N counting from 1 across the file's row groups.
func readParquet(ctx context.Context, path string, mem memory.Allocator, d *Decoder) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ga4: %w", err)
	}
	// The reader's page buffers are pooled and freed by finalizers: they come from
	// the Go heap, not from mem, which holds the Arrow batches. Each projected column
	// chunk of the row group being read is loaded whole (unbuffered streams, 12%
	// faster than page by page in BenchmarkDecode1M): memory holds one row group's
	// projected chunks, never the file.
	pr, err := pqfile.NewParquetReader(f, pqfile.WithReadProps(parquet.NewReaderProperties(memory.NewGoAllocator())))
	if err != nil {
		f.Close()
		return fmt.Errorf("ga4: %s: not a readable Parquet file: %w", path, err)
	}
	defer func() {
		if cerr := pr.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ga4: %s: %w", path, cerr)
		}
	}()
	fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: extract.BatchRows}, mem)
	if err != nil {
		return fmt.Errorf("ga4: %s: %w", path, err)
	}
	leaves, err := projection(fr.Manifest)
	if err != nil {
		return fmt.Errorf("ga4: %s: %w", path, err)
	}
	row := int64(1)
	for rg := 0; rg < pr.NumRowGroups(); rg++ {
		if pr.MetaData().RowGroup(rg).NumRows() == 0 {
			continue
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rr, err := fr.GetRecordReader(ctx, leaves, []int{rg})
		if err != nil {
			return fmt.Errorf("ga4: %s: row group %d: %w", path, rg, err)
		}
		for rr.Next() {
			rec := rr.RecordBatch()
			if err := d.DecodeRecord(ctx, rec, path, row); err != nil {
				rr.Release()
				return err
			}
			row += rec.NumRows()
		}
		err = rr.Err()
		rr.Release()
		if err != nil {
			return fmt.Errorf("ga4: %s: row group %d (rows from %d): %w", path, rg, row, err)
		}
	}
	return nil
}

// wanted are the export columns the decoder reads, as paths from the top: a path
// that ends at a record takes every leaf below it.
var wanted = func() [][]string {
	w := [][]string{{"event_timestamp"}, {"event_name"}, {"event_params"}, {"user_id"}, {"user_pseudo_id"}, {"stream_id"}}
	for _, n := range collectedNames {
		w = append(w, []string{"collected_traffic_source", n})
	}
	for _, n := range manualNames {
		w = append(w, []string{"session_traffic_source_last_click", "manual_campaign", n})
	}
	w = append(w, []string{"session_traffic_source_last_click", "google_ads_campaign", "campaign_name"})
	for _, n := range crossNames {
		w = append(w, []string{"session_traffic_source_last_click", "cross_channel_campaign", n})
	}
	return append(w, []string{"ecommerce", "purchase_revenue"})
}()

// Columns returns the export columns the decoder reads, as dotted paths to nested
// fields (event_params whole, the user-scoped traffic_source not at all): what a
// BigQuery read session needs to select (bqstorage's Config.Columns).
func Columns() []string {
	out := make([]string, len(wanted))
	for i, p := range wanted {
		out[i] = strings.Join(p, ".")
	}
	return out
}

// projection returns the leaf column indexes of the wanted columns in a Parquet
// file's schema; a missing required column is an error.
func projection(m *pqarrow.SchemaManifest) ([]int, error) {
	byName := func(fs []pqarrow.SchemaField, name string) *pqarrow.SchemaField {
		for i := range fs {
			if fs[i].Field.Name == name {
				return &fs[i]
			}
		}
		return nil
	}
	for _, name := range required {
		if byName(m.Fields, name) == nil {
			return nil, fmt.Errorf("no column %s: not a GA4 export file (events_YYYYMMDD schema); export the table with all its columns", name)
		}
	}
	var leaves []int
	var all func(f *pqarrow.SchemaField)
	all = func(f *pqarrow.SchemaField) {
		if f.IsLeaf() {
			leaves = append(leaves, f.ColIndex)
		}
		for i := range f.Children {
			all(&f.Children[i])
		}
	}
	for _, path := range wanted {
		f := byName(m.Fields, path[0])
		for _, p := range path[1:] {
			if f == nil {
				break
			}
			for isList(f) {
				f = &f.Children[0]
			}
			f = byName(f.Children, p)
		}
		if f != nil {
			all(f)
		}
	}
	return leaves, nil
}

func isList(f *pqarrow.SchemaField) bool {
	switch f.Field.Type.ID() {
	case arrow.LIST, arrow.LARGE_LIST:
		return len(f.Children) == 1
	}
	return false
}
