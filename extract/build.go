package extract

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// BatchRows is how many rows an extractor buffers before it writes a batch: large
// enough to amortize per-batch costs, small enough to keep memory flat (a run holds a
// few batches per core in flight: on 10M GA4 events, 32Ki rows peak at 0.95 GiB where
// 64Ki rows peak at 1.03 GiB, in the same time).
const BatchRows = 32 * 1024

// Builder accumulates rows of one canonical table and writes a batch every BatchRows.
// Fields are appended column by column through the typed helpers, one row at a time;
// End closes a row. Not safe for concurrent use.
type Builder struct {
	table    string
	w        Writer
	b        *array.RecordBuilder
	fields   []array.Builder
	n        int
	nullable []bool
	// pend counts the nulls owed to each column: the rows that did not set it, appended
	// in one call when the column is next set or the batch is written.
	pend []int
	set  []int // the rows each column has, pending nulls included
}

// NewBuilder returns a Builder for table writing to w. Call Flush at the end and
// Release always.
func NewBuilder(mem memory.Allocator, table string, w Writer) *Builder {
	s := Schemas[table]
	nullable := make([]bool, s.NumFields())
	for i, f := range s.Fields() {
		nullable[i] = f.Nullable
	}
	rb := array.NewRecordBuilder(mem, s)
	return &Builder{table: table, w: w, b: rb, fields: rb.Fields(), nullable: nullable,
		pend: make([]int, s.NumFields()), set: make([]int, s.NumFields())}
}

// field is column i's builder, once the nulls it is owed are appended; the row sets it.
func (b *Builder) field(i int) array.Builder {
	f := b.fields[i]
	if b.pend[i] > 0 {
		f.AppendNulls(b.pend[i])
		b.pend[i] = 0
	}
	b.set[i]++
	return f
}

// Str appends s to column i, null when s is empty.
func (b *Builder) Str(i int, s string) {
	fb := b.field(i).(*array.StringBuilder)
	if s == "" && b.nullable[i] {
		fb.AppendNull()
		return
	}
	fb.Append(s)
}

// Time appends t to timestamp column i, null when t is zero.
func (b *Builder) Time(i int, t time.Time) {
	fb := b.field(i).(*array.TimestampBuilder)
	if t.IsZero() {
		fb.AppendNull()
		return
	}
	fb.Append(arrow.Timestamp(t.UnixMicro()))
}

// Date appends the day of t to date column i.
func (b *Builder) Date(i int, t time.Time) {
	b.field(i).(*array.Date32Builder).Append(arrow.Date32FromTime(t))
}

// Float appends v to column i, null when ok is false.
func (b *Builder) Float(i int, v float64, ok bool) {
	fb := b.field(i).(*array.Float64Builder)
	if !ok {
		fb.AppendNull()
		return
	}
	fb.Append(v)
}

// Int appends v to column i, null when ok is false.
func (b *Builder) Int(i int, v int64, ok bool) {
	fb := b.field(i).(*array.Int64Builder)
	if !ok {
		fb.AppendNull()
		return
	}
	fb.Append(v)
}

// Bool appends v to column i.
func (b *Builder) Bool(i int, v bool) { b.field(i).(*array.BooleanBuilder).Append(v) }

// End closes the current row and writes a batch when BatchRows are buffered. A
// nullable column the row did not set is null, so an extractor sets only the columns
// its source has; a non-nullable one left unset is a programming error and panics.
func (b *Builder) End(ctx context.Context) error {
	b.n++
	for i, n := range b.set {
		if n < b.n {
			if !b.nullable[i] {
				panic("extract: " + b.table + "." + b.b.Schema().Field(i).Name + " not set")
			}
			b.pend[i]++
			b.set[i]++
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
	for i, f := range b.fields {
		if b.pend[i] > 0 {
			f.AppendNulls(b.pend[i])
			b.pend[i] = 0
		}
		b.set[i] = 0
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

// Account is one row of TableAccounts, as the CRM extractors write it.
type Account struct {
	Input, Location, CRM, ID               string
	Name, Domain, Industry, Country, Owner string
	Size                                   int64 // company_size, set when HasSize
	HasSize                                bool
}

// Column indexes of TableAccounts, resolved once.
var (
	acInput     = Col(TableAccounts, "input")
	acLocation  = Col(TableAccounts, "location")
	acCRM       = Col(TableAccounts, "crm")
	acAccountID = Col(TableAccounts, "account_id")
	acName      = Col(TableAccounts, "name")
	acDomain    = Col(TableAccounts, "domain")
	acIndustry  = Col(TableAccounts, "industry")
	acSize      = Col(TableAccounts, "company_size")
	acCountry   = Col(TableAccounts, "country")
	acOwner     = Col(TableAccounts, "owner")
)

// SetAccount sets the current row of b, a builder of TableAccounts, to a (End writes
// it): empty text is NULL where the column allows it.
func (b *Builder) SetAccount(a Account) {
	b.Str(acInput, a.Input)
	b.Str(acLocation, a.Location)
	b.Str(acCRM, a.CRM)
	b.Str(acAccountID, a.ID)
	b.Str(acName, a.Name)
	b.Str(acDomain, a.Domain)
	b.Str(acIndustry, a.Industry)
	b.Int(acSize, a.Size, a.HasSize)
	b.Str(acCountry, a.Country)
	b.Str(acOwner, a.Owner)
}
