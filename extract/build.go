package extract

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BatchRows is how many rows an extractor buffers before it writes a batch: large
// enough to amortize per-batch costs, small enough to keep memory flat.
const BatchRows = 64 * 1024

// Builder accumulates rows of one canonical table and writes a batch every BatchRows.
// Fields are appended column by column through the typed helpers, one row at a time;
// End closes a row. Not safe for concurrent use.
type Builder struct {
	table    string
	w        Writer
	b        *array.RecordBuilder
	n        int
	nullable []bool
}

// NewBuilder returns a Builder for table writing to w. Call Flush at the end and
// Release always.
func NewBuilder(mem memory.Allocator, table string, w Writer) *Builder {
	s := Schemas[table]
	nullable := make([]bool, s.NumFields())
	for i, f := range s.Fields() {
		nullable[i] = f.Nullable
	}
	return &Builder{table: table, w: w, b: array.NewRecordBuilder(mem, s), nullable: nullable}
}

// Str appends s to column i, null when s is empty.
func (b *Builder) Str(i int, s string) {
	fb := b.b.Field(i).(*array.StringBuilder)
	if s == "" && b.nullable[i] {
		fb.AppendNull()
		return
	}
	fb.Append(s)
}

// Time appends t to timestamp column i, null when t is zero.
func (b *Builder) Time(i int, t time.Time) {
	fb := b.b.Field(i).(*array.TimestampBuilder)
	if t.IsZero() {
		fb.AppendNull()
		return
	}
	fb.Append(arrow.Timestamp(t.UnixMicro()))
}

// Date appends the day of t to date column i.
func (b *Builder) Date(i int, t time.Time) {
	b.b.Field(i).(*array.Date32Builder).Append(arrow.Date32FromTime(t))
}

// Float appends v to column i, null when ok is false.
func (b *Builder) Float(i int, v float64, ok bool) {
	fb := b.b.Field(i).(*array.Float64Builder)
	if !ok {
		fb.AppendNull()
		return
	}
	fb.Append(v)
}

// Int appends v to column i, null when ok is false.
func (b *Builder) Int(i int, v int64, ok bool) {
	fb := b.b.Field(i).(*array.Int64Builder)
	if !ok {
		fb.AppendNull()
		return
	}
	fb.Append(v)
}

// Bool appends v to column i.
func (b *Builder) Bool(i int, v bool) { b.b.Field(i).(*array.BooleanBuilder).Append(v) }

// End closes the current row and writes a batch when BatchRows are buffered. A
// nullable column the row did not set is null, so an extractor sets only the columns
// its source has; a non-nullable one left unset is a programming error and panics.
func (b *Builder) End(ctx context.Context) error {
	b.n++
	for i, f := range b.b.Fields() {
		if f.Len() < b.n {
			if !b.nullable[i] {
				panic("extract: " + b.table + "." + b.b.Schema().Field(i).Name + " not set")
			}
			f.AppendNull()
		}
	}
	if b.n >= BatchRows {
		return b.Flush(ctx)
	}
	return nil
}

// Flush writes the buffered rows, if any.
func (b *Builder) Flush(ctx context.Context) error {
	if b.n == 0 {
		return nil
	}
	full := b.n >= BatchRows
	var data []int
	if full { // more batches likely follow: size the next one like this one
		data = make([]int, len(b.b.Fields()))
		for i, f := range b.b.Fields() {
			if sb, ok := f.(*array.StringBuilder); ok {
				data[i] = sb.DataLen()
			}
		}
	}
	rec := b.b.NewRecordBatch()
	defer rec.Release()
	b.n = 0
	if full {
		for i, f := range b.b.Fields() {
			f.Reserve(BatchRows)
			if sb, ok := f.(*array.StringBuilder); ok && data[i] > 0 {
				sb.ReserveData(data[i])
			}
		}
	}
	return b.w.Write(ctx, b.table, rec)
}

// Release frees the builder's buffers (unflushed rows are dropped).
func (b *Builder) Release() { b.b.Release() }

// Col returns the index of a column of the canonical table, panicking on a typo:
// extractors resolve their column indexes once, at start.
func Col(table, name string) int {
	idx := Schemas[table].FieldIndices(name)
	if len(idx) != 1 {
		panic("extract: no column " + name + " in " + table)
	}
	return idx[0]
}
