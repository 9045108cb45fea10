package parquet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	pq "github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"closedloop/load"
)

// migrate brings the files of the tables that keep rows across runs up to the contract
// (Append tables: run_log, rejected_rows, one file per run, kept for ever;
// ReplaceRange facts: their day partitions, those of the run's range too, as the run
// may not load the table, Commit removing them when it does) when an older version
// wrote them with only the contract's first columns and load.AddableColumns allows the
// missing ones (nullable, or NOT NULL with a value for existing rows,
// load.ExistingRows): each such file is rewritten into the staging folder with the
// missing columns all NULL or that value (fct_attribution.scope 'person'), and Commit
// renames it over the old one (as RemapPersons' rewrites), so that every file of the
// table has the same columns and readers that take one file's schema for all (Spark
// without mergeSchema, BigQuery external tables, DuckDB without union_by_name) read
// the old rows and the new ones together. A run closed without Commit leaves the files
// as they were. Files with other differences are left as they are. Open runs it: it
// reads the footer of every file of those tables.
func (l *Loader) migrate(ctx context.Context) error {
	for _, spec := range load.Tables {
		if spec.Mode == load.ReplaceAll {
			continue
		}
		files, err := list(l.cfg.Dir, spec.Name)
		if err != nil {
			return fmt.Errorf("parquet: %s: list its files: %w", spec.Name, err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := l.migrateFile(ctx, spec, f.rel); err != nil {
				return err
			}
		}
	}
	return nil
}

// migrateFile rewrites the file rel of spec with the columns it lacks (see migrate), if
// it lacks only those.
func (l *Loader) migrateFile(ctx context.Context, spec load.Table, rel string) error {
	src := filepath.Join(l.cfg.Dir, filepath.FromSlash(rel))
	fail := func(what string, err error) error {
		return fmt.Errorf("parquet: %s: add the contract's new columns to %s: %s: %w: the file may be damaged: move it aside and re-run",
			spec.Name, src, what, err)
	}
	have, err := fileSchema(src, l)
	if err != nil {
		return fail("read its schema", err)
	}
	added := load.AddableColumns(spec, have.NumFields())
	if added == nil || !prefixOf(have, spec.Schema) {
		return nil
	}
	rr, closeFile, err := l.openRecords(ctx, src, nil)
	if err != nil {
		return fail("open", err)
	}
	defer closeFile()
	w, err := l.create(spec.Name, rel, spec.Schema)
	if err != nil {
		return err
	}
	for {
		if err := ctx.Err(); err != nil {
			w.abort()
			return err
		}
		rec, err := rr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			w.abort()
			return fail("read", err)
		}
		out, err := l.withAddedColumns(rec, spec.Schema, added)
		if err != nil {
			w.abort()
			return fail("add the columns", err)
		}
		err = w.write(out)
		out.Release()
		if err != nil {
			w.abort()
			return err
		}
	}
	closeFile()
	fe, err := w.finish()
	if err != nil {
		return err
	}
	l.migrated[rel] = fe
	for _, f := range added {
		l.log.Info("column added", "table", spec.Name, "column", f.Name, "file", rel)
	}
	return nil
}

// fileSchema reads the Arrow schema of a Parquet file (its stored ARROW:schema).
func fileSchema(path string, l *Loader) (*arrow.Schema, error) {
	rdr, err := file.OpenParquetFile(path, false, file.WithReadProps(pq.NewReaderProperties(l.mem)))
	if err != nil {
		return nil, err
	}
	defer rdr.Close()
	fr, err := pqarrow.NewFileReader(rdr, pqarrow.ArrowReadProperties{}, l.mem)
	if err != nil {
		return nil, err
	}
	return fr.Schema()
}

// prefixOf says whether the columns of have are the first ones of want: names, types
// and nullability (descriptions may differ).
func prefixOf(have, want *arrow.Schema) bool {
	if have.NumFields() > want.NumFields() {
		return false
	}
	for i, h := range have.Fields() {
		w := want.Field(i)
		if h.Name != w.Name || h.Nullable != w.Nullable || !arrow.TypeEqual(h.Type, w.Type) {
			return false
		}
	}
	return true
}

// withAddedColumns is rec with the columns added appended, on schema: all NULL, or the
// column's value for existing rows (load.ExistingRows) on every row.
func (l *Loader) withAddedColumns(rec arrow.RecordBatch, schema *arrow.Schema, added []arrow.Field) (arrow.RecordBatch, error) {
	cols := append([]arrow.Array{}, rec.Columns()...)
	var made []arrow.Array
	defer func() {
		for _, a := range made {
			a.Release() // the record holds them
		}
	}()
	for _, f := range added {
		var a arrow.Array
		if value, ok := load.ExistingRows(f); ok {
			sc, err := scalar.ParseScalar(f.Type, value)
			if err != nil {
				return nil, fmt.Errorf("column %s: value for existing rows %q: %w", f.Name, value, err)
			}
			if a, err = scalar.MakeArrayFromScalar(sc, int(rec.NumRows()), l.mem); err != nil {
				return nil, fmt.Errorf("column %s: %w", f.Name, err)
			}
		} else {
			a = array.MakeArrayOfNull(l.mem, f.Type, int(rec.NumRows()))
		}
		made = append(made, a)
		cols = append(cols, a)
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows()), nil
}
