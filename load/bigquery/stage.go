package bigquery

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/load"
)

// rowGroupRows caps a Parquet row group: BigQuery reads row groups in parallel, and a
// million rows of the widest contract table stay well under its 4 GB row group limit.
const rowGroupRows = 1 << 20

// staged is what Load wrote for one table: one file per load job.
type staged struct {
	spec  load.Table
	files []stagedFile
}

// stagedFile is one Parquet file of the staging directory.
type stagedFile struct {
	path string
	day  time.Time // ReplaceRange: the partition's day; zero otherwise
	rows int64
}

// usable refuses calls on a committed or closed loader.
func (l *Loader) usable(method string) error {
	switch {
	case l.closed:
		return fmt.Errorf("bigquery: %s after Close", method)
	case l.committed:
		return fmt.Errorf("bigquery: %s after Commit: open a new Loader for the next run", method)
	}
	return nil
}

// Load stages the rows of contract table name as Parquet files in the staging directory
// (for a ReplaceRange table, one per day of the range, empty for a day without rows).
// Nothing is sent before Commit. A row of a ReplaceRange table outside the range is an
// error: its day would not be replaced but appended to.
func (l *Loader) Load(ctx context.Context, name string, t arrow.Table) error {
	if err := l.usable("Load"); err != nil {
		return err
	}
	spec, ok := load.Lookup(name)
	if !ok {
		return fmt.Errorf("bigquery: %s is not a warehouse table", name)
	}
	if !t.Schema().Equal(spec.Schema) {
		return fmt.Errorf("bigquery: %s: schema %s differs from the contract's %s", name, t.Schema(), spec.Schema)
	}
	delete(l.staged, name)
	dir := filepath.Join(l.dir, name)
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("bigquery: stage %s: %w", name, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("bigquery: stage %s: %w", name, err)
	}
	var files []stagedFile
	var err error
	if spec.Mode == load.ReplaceRange {
		files, err = l.stageDays(ctx, dir, spec, t)
	} else {
		var f stagedFile
		f, err = l.stageWhole(filepath.Join(dir, name+".parquet"), t)
		files = []stagedFile{f}
	}
	if err != nil {
		return fmt.Errorf("bigquery: stage %s: %w", name, err)
	}
	l.staged[name] = &staged{spec: spec, files: files}
	l.log.Debug("staged", "table", name, "rows", t.NumRows(), "files", len(files))
	return nil
}

// stageWhole writes t into one Parquet file.
func (l *Loader) stageWhole(path string, t arrow.Table) (stagedFile, error) {
	err := l.writeParquet(path, t.Schema(), func(w *pqarrow.FileWriter) error {
		if t.NumRows() == 0 {
			return nil
		}
		return w.WriteTable(t, rowGroupRows)
	})
	return stagedFile{path: path, rows: t.NumRows()}, err
}

// stageDays writes t into one Parquet file per day of the range, by the UTC day of
// spec.DateColumn.
func (l *Loader) stageDays(ctx context.Context, dir string, spec load.Table, t arrow.Table) ([]stagedFile, error) {
	rec, err := flatten(l.mem, t)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	byDay, err := l.splitDays(ctx, spec, rec)
	if err != nil {
		return nil, err
	}
	ctx = compute.WithAllocator(ctx, l.mem)
	files := make([]stagedFile, len(l.days))
	for k, day := range l.days {
		f := stagedFile{path: filepath.Join(dir, day.Format("20060102")+".parquet"), day: day, rows: int64(len(byDay[k]))}
		err := l.writeParquet(f.path, rec.Schema(), func(w *pqarrow.FileWriter) error {
			switch f.rows {
			case 0:
				return nil // an empty file: the day's partition ends up empty
			case rec.NumRows():
				return w.Write(rec)
			}
			part, err := take(ctx, l.mem, rec, byDay[k])
			if err != nil {
				return err
			}
			defer part.Release()
			return w.Write(part)
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", day.Format(time.DateOnly), err)
		}
		files[k] = f
	}
	return files, nil
}

// splitDays returns the row indices of rec per day of the range.
func (l *Loader) splitDays(ctx context.Context, spec load.Table, rec arrow.RecordBatch) ([][]int64, error) {
	idx := rec.Schema().FieldIndices(spec.DateColumn)
	if len(idx) != 1 {
		return nil, fmt.Errorf("no date column %s", spec.DateColumn)
	}
	col := rec.Column(idx[0])
	var dayOf func(i int) int64 // days since 1970-01-01 (UTC)
	switch c := col.(type) {
	case *array.Date32:
		dayOf = func(i int) int64 { return int64(c.Value(i)) }
	case *array.Timestamp:
		perDay := map[arrow.TimeUnit]int64{arrow.Second: 86_400, arrow.Millisecond: 86_400_000,
			arrow.Microsecond: 86_400_000_000, arrow.Nanosecond: 86_400_000_000_000}[c.DataType().(*arrow.TimestampType).Unit]
		dayOf = func(i int) int64 {
			v := int64(c.Value(i))
			d := v / perDay
			if v%perDay < 0 {
				d-- // floor: a time before 1970 belongs to the day before
			}
			return d
		}
	default:
		return nil, fmt.Errorf("date column %s is %s, not a date or timestamp", spec.DateColumn, col.DataType())
	}
	first := l.days[0].Unix() / 86_400
	byDay := make([][]int64, len(l.days))
	for i := 0; i < col.Len(); i++ {
		if i%65536 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if col.IsNull(i) {
			return nil, fmt.Errorf("row %d: %s is NULL", i, spec.DateColumn)
		}
		off := dayOf(i) - first
		if off < 0 || off >= int64(len(l.days)) {
			day := time.Unix((first+off)*86_400, 0).UTC()
			return nil, fmt.Errorf("row %d: %s on %s is outside the run's range %s..%s: a ReplaceRange table takes only the range's rows",
				i, spec.DateColumn, day.Format(time.DateOnly), l.days[0].Format(time.DateOnly), l.days[len(l.days)-1].Format(time.DateOnly))
		}
		byDay[off] = append(byDay[off], int64(i))
	}
	return byDay, nil
}

// take returns the rows of rec at indices.
func take(ctx context.Context, mem memory.Allocator, rec arrow.RecordBatch, indices []int64) (arrow.RecordBatch, error) {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(indices, nil)
	idx := b.NewInt64Array()
	defer idx.Release()
	out, err := compute.Take(ctx, *compute.DefaultTakeOptions(), compute.NewDatumWithoutOwning(rec), compute.NewDatumWithoutOwning(idx))
	if err != nil {
		return nil, err
	}
	defer out.Release()
	part := out.(*compute.RecordDatum).Value
	part.Retain()
	return part, nil
}

// flatten returns t as one record batch (concatenating chunks where there are several).
func flatten(mem memory.Allocator, t arrow.Table) (arrow.RecordBatch, error) {
	cols := make([]arrow.Array, 0, t.NumCols())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i := 0; i < int(t.NumCols()); i++ {
		chunks := t.Column(i).Data().Chunks()
		switch len(chunks) {
		case 0:
			cols = append(cols, array.MakeArrayOfNull(mem, t.Schema().Field(i).Type, 0))
		case 1:
			chunks[0].Retain()
			cols = append(cols, chunks[0])
		default:
			c, err := array.Concatenate(chunks, mem)
			if err != nil {
				return nil, fmt.Errorf("column %s: %w", t.Schema().Field(i).Name, err)
			}
			cols = append(cols, c)
		}
	}
	return array.NewRecordBatch(t.Schema(), cols, t.NumRows()), nil
}

// writeParquet creates path as a Parquet file of schema with what write writes.
func (l *Loader) writeParquet(path string, schema *arrow.Schema, write func(*pqarrow.FileWriter) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w, err := pqarrow.NewFileWriter(schema, f,
		parquet.NewWriterProperties(parquet.WithAllocator(l.mem), parquet.WithCompression(compress.Codecs.Snappy),
			parquet.WithMaxRowGroupLength(rowGroupRows)),
		pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(l.mem)))
	if err != nil {
		f.Close()
		return err
	}
	if err := write(w); err != nil {
		return errors.Join(err, w.Close())
	}
	return w.Close() // closes f
}

// aliasSchema is the schema of the staged person aliases.
var aliasSchema = arrow.NewSchema([]arrow.Field{
	{Name: "alias_id", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "person_id", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

// RemapPersons stages aliases (columns alias_id, person_id: strings) for Commit, which
// re-points person_id in every ReplaceRange table that has one, after the loads (see
// load.Loader). Nothing is sent before Commit, so the rows changed are not known yet: it
// returns 0, and Remapped returns the number once Commit has run. A second call replaces
// the aliases of the first.
func (l *Loader) RemapPersons(ctx context.Context, aliases arrow.Table) (int64, error) {
	if err := l.usable("RemapPersons"); err != nil {
		return 0, err
	}
	l.aliases = ""
	if aliases == nil || aliases.NumRows() == 0 {
		return 0, nil
	}
	var cols []*arrow.Chunked
	for _, name := range []string{"alias_id", "person_id"} {
		idx := aliases.Schema().FieldIndices(name)
		if len(idx) != 1 || aliases.Schema().Field(idx[0]).Type.ID() != arrow.STRING {
			return 0, fmt.Errorf("bigquery: person aliases: need one string column %s, have %s", name, aliases.Schema())
		}
		cols = append(cols, aliases.Column(idx[0]).Data())
	}
	var columns []arrow.Column
	for i, c := range cols {
		columns = append(columns, *arrow.NewColumn(aliasSchema.Field(i), c))
	}
	tbl := array.NewTable(aliasSchema, columns, aliases.NumRows())
	for i := range columns {
		columns[i].Release()
	}
	defer tbl.Release()
	path := filepath.Join(l.dir, "_person_alias.parquet")
	if _, err := l.stageWhole(path, tbl); err != nil {
		return 0, fmt.Errorf("bigquery: stage person aliases: %w", err)
	}
	l.aliases = path
	l.log.Debug("staged person aliases", "rows", aliases.NumRows())
	return 0, nil
}

// Remapped returns the rows whose person_id Commit re-pointed (from the UPDATE jobs'
// numDmlAffectedRows): 0 before Commit.
func (l *Loader) Remapped() int64 { return l.remapped }
