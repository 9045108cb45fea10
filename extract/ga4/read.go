package ga4

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/extract"
)

// readNDJSON reads one NDJSON file, plain or gzipped, into d.
func readNDJSON(ctx context.Context, path string, d *Decoder) (err error) {
	f, err := extract.Open(ctx, path)
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
	head, _ := f.Peek(sniffBytes)
	head = bytes.Clone(head)
	var lines, objects int
	l := extract.NewLines(f.Reader)
	for {
		if l.N%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, long, err := l.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("ga4: %s:%d: %w", path, l.N+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		lines++
		object, err := d.decodeLine(ctx, o, int64(l.N), line, long)
		if err != nil {
			return err
		}
		if object {
			objects++
		}
	}
	switch {
	case lines == 0:
		what := "no line in it"
		if l.N > 0 {
			what = "only " + plural(l.N, "blank line")
		}
		return fmt.Errorf("ga4: %s: empty file: %s; an export file holds a day's rows: export the day again, or remove the file", path, what)
	case objects == 0:
		return fmt.Errorf("ga4: %s: not NDJSON: none of its %s is a JSON object; %s", path, plural(lines, "line"), sniff(head))
	}
	return nil
}

// sniffBytes is how much of a file's start sniff looks at.
const sniffBytes = 512

// sniff says what a file that is not NDJSON looks like, from its first bytes (after
// gzip is undone).
func sniff(head []byte) string {
	n := min(len(head), 8)
	var hex strings.Builder
	for i, c := range head[:n] {
		if i > 0 {
			hex.WriteByte(' ')
		}
		fmt.Fprintf(&hex, "%02x", c)
	}
	if len(head) > n {
		hex.WriteString(" …")
	}
	starts := "it starts with bytes " + hex.String()
	binary := bytes.IndexByte(head, 0) >= 0 || !utf8.Valid(head[:max(0, len(head)-utf8.UTFMax)])
	for _, m := range magics {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			return starts + ": " + m.what
		}
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n")
	switch {
	case binary:
		return starts + ": binary data, not text; the export is NDJSON (gzipped or not) or Parquet"
	case len(trimmed) > 0 && trimmed[0] == '[':
		return starts + ": a JSON array; export newline-delimited JSON, one row per line"
	case len(trimmed) > 0 && trimmed[0] == '{':
		return starts + ": JSON spread over several lines (pretty-printed?); export newline-delimited JSON, one row per line"
	case len(trimmed) > 0 && trimmed[0] == '<':
		return starts + ": HTML or XML (an error or sign-in page saved in place of the export?)"
	}
	return starts + ": text that is not JSON (CSV?); the export is NDJSON (gzipped or not) or Parquet"
}

// magics are the first bytes of file formats mistaken for an export.
var magics = []struct{ prefix, what string }{
	{"\x1f\x8b", "gzip inside gzip (compressed twice?): gunzip it once"},
	{"PK\x03\x04", "a zip archive: unzip it, the export's files are read as they are"},
	{"PAR1", "Parquet compressed as a whole: decompress it, Parquet is read as it is"},
	{"\x28\xb5\x2f\xfd", "zstd-compressed data: only gzip is read; decompress it or gzip it"},
	{"BZh", "bzip2-compressed data: only gzip is read; decompress it or gzip it"},
	{"\xfd7zXZ\x00", "xz-compressed data: only gzip is read; decompress it or gzip it"},
}

// plural renders n things, "1 line", "3 lines".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}

// readParquet reads one Parquet file into d: row group by row group, in batches of
// extract.BatchRows rows, only the columns the decoder uses. Rows are located as
// "file.parquet:row N", N counting from 1 across the file's row groups. A corrupt
// file is an error, whatever arrow-go's reader makes of it.
func readParquet(ctx context.Context, path string, mem memory.Allocator, d *Decoder) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ga4: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("ga4: %w", err)
	}
	// The reader's page buffers are pooled and freed by finalizers: they come from
	// the Go heap, not from mem, which holds the Arrow batches. Each projected column
	// chunk of the row group being read is loaded whole (unbuffered streams, 12%
	// faster than page by page in BenchmarkDecode1M): memory holds one row group's
	// projected chunks, never the file.
	var pr *pqfile.Reader
	err = guard(func() (err error) {
		pr, err = pqfile.NewParquetReader(f, pqfile.WithReadProps(parquet.NewReaderProperties(memory.NewGoAllocator())))
		return err
	})
	if err != nil {
		f.Close()
		return fmt.Errorf("ga4: %s: not a readable Parquet file: %w", path, err)
	}
	defer func() {
		if cerr := pr.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ga4: %s: %w", path, cerr)
		}
	}()
	// The Arrow schema an Arrow writer stores in the file is not read: BigQuery's
	// export has none, the Parquet schema gives the decoder what it needs, and a
	// corrupt one makes arrow-go allocate what it claims, without bound.
	md := pr.MetaData()
	kept := md.FileMetaData.KeyValueMetadata[:0:0]
	for _, kv := range md.FileMetaData.KeyValueMetadata {
		if kv != nil && kv.Key != "ARROW:schema" {
			kept = append(kept, kv)
		}
	}
	md.FileMetaData.KeyValueMetadata = kept
	var fr *pqarrow.FileReader
	err = guard(func() (err error) {
		fr, err = pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{BatchSize: extract.BatchRows}, mem)
		return err
	})
	if err != nil {
		return fmt.Errorf("ga4: %s: %w", path, err)
	}
	leaves, err := projection(fr.Manifest)
	if err != nil {
		return fmt.Errorf("ga4: %s: %w", path, err)
	}
	if err := checkChunks(pr, leaves, fi.Size()); err != nil {
		return fmt.Errorf("ga4: %s: %w", path, err)
	}
	// A Parquet file is read where its projected columns are, not from end to end:
	// the Meter is told each row group's share of the file's size once it is read.
	m, rows, metered := extract.MeterOf(ctx), max(1, pr.NumRows()), int64(0)
	row := int64(1)
	for rg := 0; rg < pr.NumRowGroups(); rg++ {
		want := pr.MetaData().RowGroup(rg).NumRows()
		if want == 0 {
			continue
		}
		from := row
		if err := ctx.Err(); err != nil {
			return err
		}
		var rr pqarrow.RecordReader
		err := guard(func() (err error) {
			rr, err = fr.GetRecordReader(ctx, leaves, []int{rg})
			return err
		})
		if err != nil {
			return fmt.Errorf("ga4: %s: row group %d: %w", path, rg, err)
		}
		for {
			var next bool
			if err = guard(func() error { next = rr.Next(); return nil }); err != nil || !next {
				break
			}
			rec := rr.RecordBatch()
			if err := d.DecodeRecord(ctx, rec, path, row); err != nil {
				rr.Release()
				return err
			}
			row += rec.NumRows()
		}
		if err == nil {
			err = rr.Err()
		}
		rr.Release()
		if err == nil && row-from != want {
			err = fmt.Errorf("%d rows read where the metadata states %d: a truncated or corrupt Parquet file", row-from, want)
		}
		if err != nil {
			return fmt.Errorf("ga4: %s: row group %d (rows from %d): %w", path, rg, from, err)
		}
		if m != nil {
			upto := fi.Size() * (row - 1) / rows
			m.Read(upto - metered)
			metered = upto
		}
	}
	if m != nil && metered < fi.Size() {
		m.Read(fi.Size() - metered)
	}
	return nil
}

// guard runs f, a call into arrow-go's Parquet reader, and turns a panic of it into
// an error: the reader panics on some corrupt files rather than fail.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("corrupt Parquet file: the reader failed (%v)", r)
		}
	}()
	return f()
}

// checkChunks refuses a file whose metadata places a column chunk of leaves outside
// the file (size bytes): arrow-go's reader would panic on it in a goroutine of its
// own, where guard cannot catch it.
func checkChunks(pr *pqfile.Reader, leaves []int, size int64) error {
	md := pr.MetaData()
	for rg := 0; rg < pr.NumRowGroups(); rg++ {
		rgm := md.RowGroup(rg)
		for _, i := range leaves {
			col, err := rgm.ColumnChunk(i)
			if err != nil {
				return fmt.Errorf("row group %d: %w", rg, err)
			}
			start, n := col.DataPageOffset(), col.TotalCompressedSize()
			if col.HasDictionaryPage() && col.DictionaryPageOffset() > 0 && start > col.DictionaryPageOffset() {
				start = col.DictionaryPageOffset()
			}
			if start < 0 || n < 0 || start > size || n > size-start {
				return fmt.Errorf("row group %d, column %s: the metadata places its data at bytes %d to %d of a %d-byte file: a truncated or corrupt Parquet file",
					rg, col.PathInSchema(), start, start+n, size)
			}
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
