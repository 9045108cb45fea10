package transform

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// columns hands out the columns of input tables as single arrays (chunks
// concatenated) and releases them all at the end.
type columns struct {
	mem  memory.Allocator
	held []arrow.Array
}

func (c *columns) get(t arrow.Table, name string) arrow.Array {
	idx := t.Schema().FieldIndices(name)
	if len(idx) != 1 {
		panic("transform: no column " + name)
	}
	col := t.Column(idx[0])
	var a arrow.Array
	switch chunks := col.Data().Chunks(); len(chunks) {
	case 0:
		a = array.MakeArrayOfNull(c.mem, col.DataType(), 0)
	case 1:
		a = chunks[0]
		a.Retain()
	default:
		var err error
		if a, err = array.Concatenate(chunks, c.mem); err != nil {
			panic("transform: concatenate " + name + ": " + err.Error())
		}
	}
	c.held = append(c.held, a)
	return a
}

func (c *columns) str(t arrow.Table, name string) *array.String {
	return c.get(t, name).(*array.String)
}
func (c *columns) ts(t arrow.Table, name string) *array.Timestamp {
	return c.get(t, name).(*array.Timestamp)
}
func (c *columns) f64(t arrow.Table, name string) *array.Float64 {
	return c.get(t, name).(*array.Float64)
}
func (c *columns) i64(t arrow.Table, name string) *array.Int64 { return c.get(t, name).(*array.Int64) }
func (c *columns) bool(t arrow.Table, name string) *array.Boolean {
	return c.get(t, name).(*array.Boolean)
}
func (c *columns) date(t arrow.Table, name string) *array.Date32 {
	return c.get(t, name).(*array.Date32)
}

func (c *columns) release() {
	for _, a := range c.held {
		a.Release()
	}
	c.held = nil
}

// sv is the value of a nullable string column, "" for null.
func sv(a *array.String, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}

// tv is the value of a nullable timestamp column in µs, 0 for null.
func tv(a *array.Timestamp, i int) int64 {
	if a.IsNull(i) {
		return 0
	}
	return int64(a.Value(i))
}

// out builds one warehouse table row by row.
type out struct {
	b *array.RecordBuilder
}

func newOut(mem memory.Allocator, s *arrow.Schema) *out {
	return &out{b: array.NewRecordBuilder(mem, s)}
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

func (o *out) str(i int, s string) {
	fb := o.b.Field(i).(*array.StringBuilder)
	if s == "" && o.b.Schema().Field(i).Nullable {
		fb.AppendNull()
		return
	}
	fb.Append(s)
}

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

func (o *out) null(i int)         { o.b.Field(i).AppendNull() }
func (o *out) i64(i int, v int64) { o.b.Field(i).(*array.Int64Builder).Append(v) }
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

// dict encodes strings as int32 codes; code 0 is the empty string (null).
type dict struct {
	idx  map[string]int32
	vals []string
}

func newDict() *dict { return &dict{idx: map[string]int32{"": 0}, vals: []string{""}} }

func (d *dict) code(s string) int32 {
	if c, ok := d.idx[s]; ok {
		return c
	}
	c := int32(len(d.vals))
	d.idx[s] = c
	d.vals = append(d.vals, s)
	return c
}

func (d *dict) val(c int32) string { return d.vals[c] }

// release frees a builder whose table is not wanted (a failed step).
func (o *out) release() { o.b.Release() }

// Empty returns a table with schema s and no rows (for tables a run has nothing for).
// The caller releases it.
func Empty(mem memory.Allocator, s *arrow.Schema) arrow.Table {
	return newOut(mem, s).table()
}
