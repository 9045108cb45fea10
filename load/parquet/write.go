package parquet

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/load"
)

const (
	// A row group ends at rowGroupRows rows or once rowGroupBytes of encoded, compressed
	// pages are buffered, whichever comes first: large enough for fast scans, small
	// enough that the one row group a loader buffers stays modest.
	rowGroupRows  = 1 << 20
	rowGroupBytes = 128 << 20
	// maxDayWriters bounds the day files of a table written at once (and so the row
	// groups buffered at once).
	maxDayWriters = 4
)

// writerProps are the Parquet and Arrow properties of a file of schema: zstd,
// statistics, dictionary encoding except for the id columns (*_id: nearly one value per
// row, where a dictionary costs time, then falls back to plain encoding anyway).
func (l *Loader) writerProps(schema *arrow.Schema) (*pq.WriterProperties, pqarrow.ArrowWriterProperties) {
	opts := []pq.WriterProperty{
		pq.WithAllocator(l.mem),
		pq.WithCompression(compress.Codecs.Zstd),
		pq.WithMaxRowGroupLength(rowGroupRows),
		pq.WithDictionaryDefault(true),
		pq.WithStats(true),
	}
	for _, f := range schema.Fields() {
		if f.Type.ID() == arrow.STRING && strings.HasSuffix(f.Name, "_id") {
			opts = append(opts, pq.WithDictionaryFor(f.Name, false))
		}
	}
	return pq.NewWriterProperties(opts...), pqarrow.NewArrowWriterProperties(
		pqarrow.WithAllocator(l.mem),
		pqarrow.WithStoreSchema(),
	)
}

// FileEntry is one file of a manifest, its path relative to the warehouse folder with
// forward slashes ("fct_spend/day=2026-03-01/part-<runid>.parquet").
type FileEntry struct {
	Path  string `json:"path"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// fileWriter streams record batches into one staged Parquet file: it writes under a
// temporary name in the file's folder and renames it when complete and synced.
type fileWriter struct {
	table, rel string // rel: the file's path relative to the warehouse folder
	tmp, final string // on disk, under the staging folder
	f          *os.File
	bw         *bufio.Writer
	fw         *pqarrow.FileWriter
	rows       int64
}

// create starts the staged file rel (relative to the warehouse folder) of table.
func (l *Loader) create(table, rel string, schema *arrow.Schema) (*fileWriter, error) {
	final := filepath.Join(l.staging, filepath.FromSlash(rel))
	w := &fileWriter{table: table, rel: rel, final: final,
		tmp: filepath.Join(filepath.Dir(final), "."+filepath.Base(final)+".tmp")}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, fmt.Errorf("parquet: %s: create %s: %w", table, filepath.Dir(final), err)
	}
	f, err := os.OpenFile(w.tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("parquet: %s: create %s: %w", table, w.tmp, err)
	}
	w.f = f
	w.bw = bufio.NewWriterSize(f, 1<<20) // not an io.Closer: the writer does not close f
	props, aprops := l.writerProps(schema)
	// The schema's own metadata is dropped: a file read back (RemapPersons) carries
	// the key-value metadata below in it, which would otherwise be written twice.
	w.fw, err = pqarrow.NewFileWriter(arrow.NewSchema(schema.Fields(), nil), w.bw, props, aprops)
	if err != nil {
		w.abort()
		return nil, fmt.Errorf("parquet: %s: start %s: %w", table, rel, err)
	}
	for _, kv := range [][2]string{{"closedloop.table", table}, {"closedloop.run_id", l.runID}} {
		if err := w.fw.AppendKeyValueMetadata(kv[0], kv[1]); err != nil {
			w.abort()
			return nil, fmt.Errorf("parquet: %s: start %s: %w", table, rel, err)
		}
	}
	return w, nil
}

// write appends rec to the file's current row group, starting a new one at the size
// limits.
func (w *fileWriter) write(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	if err := w.fw.WriteBuffered(rec); err != nil {
		return w.errorf(err)
	}
	w.rows += rec.NumRows()
	if w.fw.RowGroupTotalBytesWritten() >= rowGroupBytes {
		if err := w.fw.NewBufferedRowGroupChecked(); err != nil {
			return w.errorf(err)
		}
	}
	return nil
}

func (w *fileWriter) errorf(err error) error {
	return fmt.Errorf("parquet: %s: write %s: %w: check the free space and permissions of %s", w.table, w.rel, err, filepath.Dir(w.tmp))
}

// finish completes the file: footer, flush, fsync, rename to its final name.
func (w *fileWriter) finish() (FileEntry, error) {
	err := w.fw.Close()
	w.fw = nil
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.f.Sync()
	}
	var size int64
	if err == nil {
		var st os.FileInfo
		if st, err = w.f.Stat(); err == nil {
			size = st.Size()
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	w.f = nil
	if err == nil {
		err = os.Rename(w.tmp, w.final)
	}
	if err != nil {
		w.abort()
		return FileEntry{}, w.errorf(err)
	}
	return FileEntry{Path: w.rel, Rows: w.rows, Bytes: size}, nil
}

// abort gives the file up and removes it.
func (w *fileWriter) abort() {
	if w.fw != nil {
		w.fw.Close()
		w.fw = nil
	}
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.tmp)
}

// checkBatch refuses NULLs in the contract's NOT NULL columns: Parquet stores those
// columns as REQUIRED and has no place for them.
func checkBatch(spec load.Table, rec arrow.RecordBatch, firstRow int64) error {
	for i, f := range spec.Schema.Fields() {
		col := rec.Column(i)
		if f.Nullable || col.NullN() == 0 {
			continue
		}
		for r := 0; r < col.Len(); r++ {
			if col.IsNull(r) {
				return fmt.Errorf("parquet: %s: column %s is NULL on row %d, but the contract says it is never NULL: fix the step that builds %s",
					spec.Name, f.Name, firstRow+int64(r), spec.Name)
			}
		}
	}
	return nil
}

// writeWhole writes every row of t into one file, DIR/<table>/part-<runid>.parquet
// (ReplaceAll and Append tables). No rows: no file.
func (l *Loader) writeWhole(ctx context.Context, spec load.Table, t arrow.Table) (FileEntry, error) {
	if t.NumRows() == 0 {
		return FileEntry{}, nil
	}
	w, err := l.create(spec.Name, spec.Name+"/"+l.partFile(), spec.Schema)
	if err != nil {
		return FileEntry{}, err
	}
	tr := array.NewTableReader(t, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		if err := ctx.Err(); err != nil {
			w.abort()
			return FileEntry{}, err
		}
		if err := checkBatch(spec, rec, w.rows); err != nil {
			w.abort()
			return FileEntry{}, err
		}
		if err := w.write(rec); err != nil {
			w.abort()
			return FileEntry{}, err
		}
	}
	if err := tr.Err(); err != nil {
		w.abort()
		return FileEntry{}, fmt.Errorf("parquet: %s: read the rows: %w", spec.Name, err)
	}
	return w.finish()
}

// piece is a part of one input batch that belongs to one day: the whole of rec (a
// zero-copy slice) when idx is nil, else the rows idx of rec.
type piece struct {
	rec arrow.RecordBatch
	idx []int32
}

// dayRows groups the rows of one day within one batch.
type dayRows struct {
	first, last, n int
	idx            []int32
}

// writeByDay writes the rows of a ReplaceRange table into one file per UTC day of its
// DateColumn. One pass over the batches notes which rows go to which day (zero-copy
// slices where a day's rows are contiguous, row indexes otherwise); then the days are
// written, up to maxDayWriters files at once, each gathering its rows a batch at a
// time: memory holds a few row groups, not a copy of the table.
func (l *Loader) writeByDay(ctx context.Context, spec load.Table, t arrow.Table) (_ []FileEntry, err error) {
	dateCol := spec.Schema.FieldIndices(spec.DateColumn)
	if len(dateCol) != 1 {
		return nil, fmt.Errorf("parquet: %s: the contract's date column %q is not in the table: fix load/schema.go", spec.Name, spec.DateColumn)
	}
	pieces := map[int32][]piece{}
	defer func() {
		for _, ps := range pieces {
			for _, p := range ps {
				p.rec.Release()
			}
		}
	}()
	tr := array.NewTableReader(t, 0)
	defer tr.Release()
	var row int64
	for tr.Next() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		rec := tr.RecordBatch()
		if err := checkBatch(spec, rec, row); err != nil {
			return nil, err
		}
		days, err := dayNumbers(rec.Column(dateCol[0]))
		if err != nil {
			return nil, fmt.Errorf("parquet: %s: column %s: %w", spec.Name, spec.DateColumn, err)
		}
		groups := map[int32]*dayRows{}
		for i, d := range days {
			g := groups[d]
			if g == nil {
				g = &dayRows{first: i}
				groups[d] = g
			}
			g.last, g.n = i, g.n+1
		}
		scattered := false
		for _, g := range groups {
			if g.n != g.last-g.first+1 {
				g.idx = make([]int32, 0, g.n)
				scattered = true
			}
		}
		if scattered {
			for i, d := range days {
				if g := groups[d]; g.idx != nil {
					g.idx = append(g.idx, int32(i))
				}
			}
		}
		for d, g := range groups {
			p := piece{idx: g.idx}
			if g.idx == nil {
				p.rec = rec.NewSlice(int64(g.first), int64(g.last+1))
			} else {
				rec.Retain()
				p.rec = rec
			}
			pieces[d] = append(pieces[d], p)
		}
		row += rec.NumRows()
	}
	if err := tr.Err(); err != nil {
		return nil, fmt.Errorf("parquet: %s: read the rows: %w", spec.Name, err)
	}

	order := make([]int32, 0, len(pieces))
	var outside []string
	for d := range pieces {
		order = append(order, d)
		if d < l.from || d > l.to {
			outside = append(outside, dayString(d))
		}
	}
	slices.Sort(order)
	if len(outside) > 0 {
		slices.Sort(outside)
		l.log.Warn("rows outside the run's range are added to their days, whose other rows are kept",
			"table", spec.Name, "column", spec.DateColumn, "days", strings.Join(outside, ","))
	}
	// The days are written in parallel, a file per worker at a time.
	files := make([]FileEntry, len(order))
	errs := make([]error, len(order))
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), maxDayWriters, len(order)) {
		wg.Go(func() {
			for i := range next {
				if wctx.Err() == nil {
					if files[i], errs[i] = l.writeDay(wctx, spec, order[i], pieces[order[i]]); errs[i] != nil {
						cancel()
					}
				}
			}
		})
	}
	for i := range order {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	return files, nil
}

// writeDay writes the pieces of day d into DIR/<table>/day=YYYY-MM-DD/part-<runid>.parquet.
func (l *Loader) writeDay(ctx context.Context, spec load.Table, d int32, ps []piece) (FileEntry, error) {
	w, err := l.create(spec.Name, path.Join(partitionDir(spec.Name, d), l.partFile()), spec.Schema)
	if err != nil {
		return FileEntry{}, err
	}
	for _, p := range ps {
		if err := ctx.Err(); err != nil {
			w.abort()
			return FileEntry{}, err
		}
		rec := p.rec
		if p.idx != nil {
			if rec, err = l.take(p.rec, p.idx); err != nil {
				w.abort()
				return FileEntry{}, fmt.Errorf("parquet: %s: gather the rows of %s: %w", spec.Name, dayString(d), err)
			}
		}
		err := w.write(rec)
		if p.idx != nil {
			rec.Release()
		}
		if err != nil {
			w.abort()
			return FileEntry{}, err
		}
	}
	return w.finish()
}

// take copies the rows idx of rec into a new batch.
func (l *Loader) take(rec arrow.RecordBatch, idx []int32) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, rec.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for _, c := range rec.Columns() {
		out, err := gather(l.mem, c, idx)
		if err != nil {
			return nil, err
		}
		cols = append(cols, out)
	}
	return array.NewRecordBatch(rec.Schema(), cols, int64(len(idx))), nil
}

// gather copies the rows idx of a column of a contract type, sizing every buffer once.
func gather(mem memory.Allocator, col arrow.Array, idx []int32) (arrow.Array, error) {
	switch a := col.(type) {
	case *array.String:
		return gatherString(mem, a, idx), nil
	case *array.Int64:
		return gatherFixed(array.NewInt64Builder(mem), a, a.Int64Values(), idx), nil
	case *array.Float64:
		return gatherFixed(array.NewFloat64Builder(mem), a, a.Float64Values(), idx), nil
	case *array.Timestamp:
		return gatherFixed(array.NewTimestampBuilder(mem, a.DataType().(*arrow.TimestampType)), a, a.TimestampValues(), idx), nil
	case *array.Date32:
		return gatherFixed(array.NewDate32Builder(mem), a, a.Date32Values(), idx), nil
	case *array.Boolean:
		b := array.NewBooleanBuilder(mem)
		defer b.Release()
		b.Reserve(len(idx))
		for _, i := range idx {
			if a.IsNull(int(i)) {
				b.UnsafeAppendBoolToBitmap(false)
			} else {
				b.UnsafeAppend(a.Value(int(i)))
			}
		}
		return b.NewArray(), nil
	}
	return nil, fmt.Errorf("no gather for type %s: the contract uses string, int64, float64, bool, timestamp and date32", col.DataType())
}

// gatherString copies the rows idx of a string column into buffers sized once.
func gatherString(mem memory.Allocator, a *array.String, idx []int32) arrow.Array {
	size := 0
	for _, i := range idx {
		size += a.ValueLen(int(i))
	}
	offsets := memory.NewResizableBuffer(mem)
	offsets.Resize((len(idx) + 1) * arrow.Int32SizeBytes)
	data := memory.NewResizableBuffer(mem)
	data.Resize(size)
	var validity *memory.Buffer
	if a.NullN() > 0 {
		validity = memory.NewResizableBuffer(mem)
		validity.Resize(int(bitutil.BytesForBits(int64(len(idx)))))
		clear(validity.Bytes())
	}
	offs, buf := arrow.Int32Traits.CastFromBytes(offsets.Bytes()), data.Bytes()
	pos, nulls := 0, 0
	for j, i := range idx {
		offs[j] = int32(pos)
		switch {
		case validity == nil:
		case a.IsNull(int(i)):
			nulls++
			continue
		default:
			bitutil.SetBit(validity.Bytes(), j)
		}
		pos += copy(buf[pos:], a.Value(int(i)))
	}
	offs[len(idx)] = int32(pos)
	d := array.NewData(arrow.BinaryTypes.String, len(idx), []*memory.Buffer{validity, offsets, data}, nil, nulls, 0)
	defer d.Release()
	for _, b := range []*memory.Buffer{validity, offsets, data} {
		if b != nil {
			b.Release()
		}
	}
	return array.NewStringData(d)
}

// fixedBuilder is the part of a fixed-width Arrow builder gatherFixed uses.
type fixedBuilder[T any] interface {
	Reserve(int)
	UnsafeAppend(T)
	UnsafeAppendBoolToBitmap(bool)
	NewArray() arrow.Array
	Release()
}

func gatherFixed[T any](b fixedBuilder[T], col arrow.Array, vals []T, idx []int32) arrow.Array {
	defer b.Release()
	b.Reserve(len(idx))
	if col.NullN() == 0 {
		for _, i := range idx {
			b.UnsafeAppend(vals[i])
		}
	} else {
		for _, i := range idx {
			if col.IsNull(int(i)) {
				b.UnsafeAppendBoolToBitmap(false)
			} else {
				b.UnsafeAppend(vals[i])
			}
		}
	}
	return b.NewArray()
}

// dayNumbers returns the UTC day (days since 1970-01-01) of every row of a timestamp or
// date32 column.
func dayNumbers(col arrow.Array) ([]int32, error) {
	out := make([]int32, col.Len())
	if col.NullN() > 0 {
		for i := range out {
			if col.IsNull(i) {
				return nil, fmt.Errorf("NULL on row %d of a batch: every row needs its day", i)
			}
		}
	}
	switch a := col.(type) {
	case *array.Date32:
		for i, v := range a.Date32Values() {
			out[i] = int32(v)
		}
	case *array.Timestamp:
		per := int64(86400)
		switch a.DataType().(*arrow.TimestampType).Unit {
		case arrow.Millisecond:
			per *= 1e3
		case arrow.Microsecond:
			per *= 1e6
		case arrow.Nanosecond:
			per *= 1e9
		}
		for i, v := range a.TimestampValues() {
			q := int64(v) / per
			if int64(v)%per < 0 {
				q-- // floor: 1969-12-31T23:00 is day -1
			}
			out[i] = int32(q)
		}
	default:
		return nil, fmt.Errorf("type %s cannot give a day: the contract wants timestamp or date32", col.DataType())
	}
	return out, nil
}
