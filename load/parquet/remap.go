package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/load"
)

// readBatch is the number of rows RemapPersons reads at a time.
const readBatch = 64 << 10

// remapped is an older partition file RemapPersons rewrote into the staging folder.
type remapped struct {
	FileEntry
	changed int64 // rows whose person_id changed, over every call
}

// RemapPersons re-points person_id in the files of earlier runs (see load.Loader). It
// reads the day partitions OUTSIDE the run's range of every ReplaceRange table with a
// person_id column, one file at a time, a batch of rows at a time; a file holding at
// least one alias_id of aliases is rewritten into the staging folder with the alias
// replaced by its person_id, and Commit renames it over the old file. Files without an
// alias are not touched. The run's own rows need no re-pointing: they were stitched by
// this run. It returns the number of rows changed.
func (l *Loader) RemapPersons(ctx context.Context, aliases arrow.Table) (_ int64, err error) {
	if err := l.usable(); err != nil {
		return 0, err
	}
	if aliases == nil || aliases.NumRows() == 0 {
		return 0, nil
	}
	m, err := aliasMap(aliases)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			l.failed = err
		}
	}()
	var total int64
	for _, spec := range load.Tables {
		if spec.Mode != load.ReplaceRange || spec.Schema.FieldIndices("person_id") == nil {
			continue
		}
		files, err := list(l.cfg.Dir, spec.Name)
		if err != nil {
			return total, fmt.Errorf("parquet: %s: list its files: %w", spec.Name, err)
		}
		for _, f := range files {
			if !f.partitioned || (f.day >= l.from && f.day <= l.to) {
				continue
			}
			n, err := l.remapFile(ctx, spec.Name, f.rel, m)
			total += n
			if err != nil {
				return total, err
			}
		}
	}
	l.log.Debug("persons re-pointed", "rows", total, "files", len(l.remapped))
	return total, nil
}

// aliasMap reads aliases (alias_id, person_id) into a map.
func aliasMap(aliases arrow.Table) (map[string]string, error) {
	sc := aliases.Schema()
	a, p := sc.FieldIndices("alias_id"), sc.FieldIndices("person_id")
	if len(a) != 1 || len(p) != 1 || sc.Field(a[0]).Type.ID() != arrow.STRING || sc.Field(p[0]).Type.ID() != arrow.STRING {
		return nil, fmt.Errorf("parquet: person aliases: want string columns alias_id and person_id, got %s", sc)
	}
	m := make(map[string]string, aliases.NumRows())
	tr := array.NewTableReader(aliases, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		ac, pc := rec.Column(a[0]).(*array.String), rec.Column(p[0]).(*array.String)
		for i := 0; i < ac.Len(); i++ {
			if ac.IsValid(i) && pc.IsValid(i) && ac.Value(i) != pc.Value(i) {
				m[ac.Value(i)] = pc.Value(i)
			}
		}
	}
	return m, tr.Err()
}

// remapFile rewrites the partition file rel into the staging folder if one of its rows
// has an aliased person_id; it returns the rows changed. A file already rewritten by
// this run is read from the staging folder.
func (l *Loader) remapFile(ctx context.Context, table, rel string, m map[string]string) (int64, error) {
	src := filepath.Join(l.cfg.Dir, filepath.FromSlash(rel))
	prev := l.remapped[rel]
	if prev != nil {
		src = filepath.Join(l.staging, filepath.FromSlash(rel))
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("parquet: %s: re-point person_id in %s: %s: %w: the file may be damaged: move it aside and re-run its day", table, src, what, err)
	}
	hits, err := l.scanFile(ctx, src, m, fail)
	if err != nil || hits == 0 {
		return 0, err
	}
	rr, closeFile, err := l.openRecords(ctx, src, nil)
	if err != nil {
		return 0, fail("open", err)
	}
	defer closeFile()
	col := rr.Schema().FieldIndices("person_id")[0]
	w, err := l.create(table, rel, rr.Schema())
	if err != nil {
		return 0, err
	}
	var changed int64
	for {
		if err := ctx.Err(); err != nil {
			w.abort()
			return 0, err
		}
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.abort()
			return 0, fail("read", err)
		}
		out, n := l.remapBatch(rec, col, m)
		err = w.write(out)
		out.Release()
		if err != nil {
			w.abort()
			return 0, err
		}
		changed += n
	}
	closeFile() // the file may be the staged one about to be replaced
	f, err := w.finish()
	if err != nil {
		return 0, err
	}
	if prev == nil {
		prev = &remapped{}
		l.remapped[rel] = prev
	}
	prev.FileEntry = f
	prev.changed += changed
	l.log.Debug("partition re-pointed", "table", table, "file", rel, "rows", changed)
	return changed, nil
}

// scanFile counts the rows of src whose person_id is an alias, reading that column only.
func (l *Loader) scanFile(ctx context.Context, src string, m map[string]string, fail func(string, error) error) (int64, error) {
	rr, closeFile, err := l.openRecords(ctx, src, []string{"person_id"})
	if err != nil {
		return 0, fail("open", err)
	}
	defer closeFile()
	var hits int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) {
			return hits, nil
		}
		if err != nil {
			return 0, fail("read", err)
		}
		ids, ok := rec.Column(0).(*array.String)
		if !ok {
			return 0, fail("read", fmt.Errorf("person_id is %s, not a string", rec.Column(0).DataType()))
		}
		for i := 0; i < ids.Len(); i++ {
			if ids.IsValid(i) {
				if _, ok := m[ids.Value(i)]; ok {
					hits++
				}
			}
		}
	}
}

// openRecords opens a Parquet file for reading in batches of readBatch rows, of the
// named columns (all when nil). The returned func closes it and can be called twice.
func (l *Loader) openRecords(ctx context.Context, src string, columns []string) (pqarrow.RecordReader, func(), error) {
	rdr, err := file.OpenParquetFile(src, false, file.WithReadProps(pq.NewReaderProperties(l.mem)))
	if err != nil {
		return nil, nil, err
	}
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{BatchSize: readBatch}, l.mem)
	if err != nil {
		rdr.Close()
		return nil, nil, err
	}
	var idx []int
	if columns != nil {
		sc, err := fr.Schema()
		if err != nil {
			rdr.Close()
			return nil, nil, err
		}
		for _, c := range columns {
			i := sc.FieldIndices(c)
			if len(i) != 1 {
				rdr.Close()
				return nil, nil, fmt.Errorf("no column %s", c)
			}
			idx = append(idx, i[0])
		}
	}
	rr, err := fr.GetRecordReader(ctx, idx, nil)
	if err != nil {
		rdr.Close()
		return nil, nil, err
	}
	closed := false
	return rr, func() {
		if !closed {
			closed = true
			rr.Release()
			rdr.Close()
		}
	}, nil
}

// remapBatch returns rec with person_id (column col) re-pointed, and the rows changed.
func (l *Loader) remapBatch(rec arrow.RecordBatch, col int, m map[string]string) (arrow.RecordBatch, int64) {
	ids := rec.Column(col).(*array.String)
	b := array.NewStringBuilder(l.mem)
	defer b.Release()
	b.Reserve(ids.Len())
	var n int64
	for i := 0; i < ids.Len(); i++ {
		if ids.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := ids.Value(i)
		if p, ok := m[v]; ok {
			v = p
			n++
		}
		b.Append(v)
	}
	remapped := b.NewArray()
	defer remapped.Release()
	cols := make([]arrow.Array, rec.NumCols())
	copy(cols, rec.Columns())
	cols[col] = remapped
	return array.NewRecordBatch(rec.Schema(), cols, rec.NumRows()), n
}
