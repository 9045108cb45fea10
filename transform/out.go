package transform

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
)

// written lists, per warehouse table, the column indexes col resolved: a test checks
// that every column of every table is written, each by one name.
var written = map[string][]int{}

// col is the index of a column of a warehouse table, resolved by name when the package
// starts (load.Col panics on a typo), so that a reordered schema moves no value.
func col(table, name string) int {
	i := load.Col(table, name)
	written[table] = append(written[table], i)
	return i
}

// out builds one warehouse table row by row; its writes take the indexes col resolved.
type out struct {
	b *array.RecordBuilder
}

func newOut(mem memory.Allocator, s *arrow.Schema) *out {
	return &out{b: array.NewRecordBuilder(mem, s)}
}

// newTable starts the warehouse table called name.
func newTable(mem memory.Allocator, name string) *out {
	t, ok := load.Lookup(name)
	if !ok {
		panic("transform: no warehouse table " + name)
	}
	return newOut(mem, t.Schema)
}

// reserve makes room for n more rows (and some string bytes each), so that large
// outputs grow their buffers once instead of by repeated doubling and copying.
func (o *out) reserve(n int) {
	for i := range o.b.Fields() {
		f := o.b.Field(i)
		f.Reserve(n)
		if sb, ok := f.(*array.StringBuilder); ok {
			sb.ReserveData(n * 16)
		}
	}
}

// str writes s, or null for "" in a nullable column.
func (o *out) str(i int, s string) {
	fb := o.b.Field(i).(*array.StringBuilder)
	if s == "" && o.b.Schema().Field(i).Nullable {
		fb.AppendNull()
		return
	}
	fb.Append(s)
}

// ts writes a time in µs, or null for 0 in a nullable column.
func (o *out) ts(i int, us int64) {
	fb := o.b.Field(i).(*array.TimestampBuilder)
	if us == 0 && o.b.Schema().Field(i).Nullable {
		fb.AppendNull()
		return
	}
	fb.Append(arrow.Timestamp(us))
}

func (o *out) f64(i int, v float64, valid bool) {
	fb := o.b.Field(i).(*array.Float64Builder)
	if !valid {
		fb.AppendNull()
		return
	}
	fb.Append(v)
}

func (o *out) i64(i int, v int64, valid bool) {
	fb := o.b.Field(i).(*array.Int64Builder)
	if !valid {
		fb.AppendNull()
		return
	}
	fb.Append(v)
}

func (o *out) bool(i int, v bool) { o.b.Field(i).(*array.BooleanBuilder).Append(v) }
func (o *out) date(i int, d arrow.Date32) {
	o.b.Field(i).(*array.Date32Builder).Append(d)
}

// table finishes the builder into a table (the builder is released).
func (o *out) table() arrow.Table {
	rec := o.b.NewRecordBatch()
	defer rec.Release()
	defer o.b.Release()
	return array.NewTableFromRecords(rec.Schema(), []arrow.RecordBatch{rec})
}

// release frees a builder whose table is not wanted (a failed step).
func (o *out) release() { o.b.Release() }

// Empty returns a table with schema s and no rows (for tables a run has nothing for).
// The caller releases it.
func Empty(mem memory.Allocator, s *arrow.Schema) arrow.Table {
	return newOut(mem, s).table()
}

// schemaOf is the schema of the warehouse table called name.
func schemaOf(name string) *arrow.Schema {
	t, ok := load.Lookup(name)
	if !ok {
		panic("transform: no warehouse table " + name)
	}
	return t.Schema
}

// record finishes the builder into one batch (the builder is released).
func (o *out) record() arrow.RecordBatch {
	defer o.b.Release()
	return o.b.NewRecordBatch()
}
