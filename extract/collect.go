package extract

import (
	"context"
	"fmt"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Collector is the Writer a run gives its extractors: it keeps every batch per
// canonical table and every rejection, for the transforms that follow. Safe for
// concurrent use. Release frees what it holds.
type Collector struct {
	mem memory.Allocator

	mu       sync.Mutex
	batches  map[string][]arrow.RecordBatch
	rows     map[string]int64 // rows per input spec and table: "input\x00table"
	rejected []Rejection
	keep     map[string]projection // Keep
}

// projection is the columns of a table a Collector keeps.
type projection struct {
	schema *arrow.Schema
	idx    []int
}

// NewCollector returns an empty Collector.
func NewCollector(mem memory.Allocator) *Collector {
	return &Collector{mem: mem, batches: map[string][]arrow.RecordBatch{}, rows: map[string]int64{}}
}

var _ Writer = (*Collector)(nil)

// Keep makes the Collector keep only the named columns of table (in that order) from
// now on: the reader of the table needs no more, and the others (each row's input and
// location, say) need not wait in memory. Table and Take then give those columns.
func (c *Collector) Keep(table string, columns []string) error {
	want, ok := Schemas[table]
	if !ok {
		return fmt.Errorf("extract: keep columns of unknown table %q", table)
	}
	var p projection
	fields := make([]arrow.Field, 0, len(columns))
	for _, name := range columns {
		idx := want.FieldIndices(name)
		if len(idx) != 1 {
			return fmt.Errorf("extract: keep columns of %s: no column %q", table, name)
		}
		p.idx = append(p.idx, idx[0])
		fields = append(fields, want.Field(idx[0]))
	}
	p.schema = arrow.NewSchema(fields, nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.keep == nil {
		c.keep = map[string]projection{}
	}
	c.keep[table] = p
	return nil
}

// Write keeps rec (retained; only the columns Keep names, when it named any) after
// checking its schema against the canonical one.
func (c *Collector) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	if err := c.Count(ctx, table, rec); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.keep[table]; ok {
		cols := make([]arrow.Array, len(p.idx))
		for k, i := range p.idx {
			cols[k] = rec.Column(i)
		}
		rec = array.NewRecordBatch(p.schema, cols, rec.NumRows()) // retains the columns kept
	} else {
		rec.Retain()
	}
	c.batches[table] = append(c.batches[table], rec)
	return nil
}

// schema is the schema of what c keeps of table name. The caller holds c.mu.
func (c *Collector) schema(name string) *arrow.Schema {
	if p, ok := c.keep[name]; ok {
		return p.schema
	}
	return Schemas[name]
}

// Count checks rec's schema against the canonical one and counts its rows (Rows)
// without keeping it: for a batch a run passes on elsewhere (events to a stream).
func (c *Collector) Count(ctx context.Context, table string, rec arrow.RecordBatch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	want, ok := Schemas[table]
	if !ok {
		return fmt.Errorf("extract: write to unknown table %q", table)
	}
	if !rec.Schema().Equal(want) {
		return fmt.Errorf("extract: %s: schema %s differs from the canonical %s", table, rec.Schema(), want)
	}
	if rec.NumRows() > 0 {
		input := rec.Column(0).(*array.String).Value(0) // every canonical schema starts with input
		c.mu.Lock()
		c.rows[input+"\x00"+table] += rec.NumRows()
		c.mu.Unlock()
	}
	return nil
}

// Reject keeps r.
func (c *Collector) Reject(ctx context.Context, r Rejection) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.Raw = Cut(r.Raw)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejected = append(c.rejected, r)
	return nil
}

// Table returns every batch written to name as one table (empty with the canonical
// schema when nothing was written). The caller releases it.
func (c *Collector) Table(name string) arrow.Table {
	c.mu.Lock()
	defer c.mu.Unlock()
	return array.NewTableFromRecords(c.schema(name), c.batches[name])
}

// Rejections returns the rejections so far.
func (c *Collector) Rejections() []Rejection {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Rejection(nil), c.rejected...)
}

// Rows returns the number of rows written per input spec and table.
func (c *Collector) Rows(input, table string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rows[input+"\x00"+table]
}

// Take returns every batch written to name as one table of one chunk per column, and
// gives the Collector's batches up: the caller owns the table, and releases it. The
// columns are joined one at a time, each column's batches freed as soon as it is
// joined, so the memory held at once is the table plus one column, not the table
// twice (as joining a Table's chunks afterwards would).
func (c *Collector) Take(name string) (arrow.Table, error) {
	c.mu.Lock()
	batches := c.batches[name]
	delete(c.batches, name)
	schema := c.schema(name)
	c.mu.Unlock()
	if len(batches) <= 1 {
		t := array.NewTableFromRecords(schema, batches)
		for _, b := range batches {
			b.Release()
		}
		return t, nil
	}
	// Each column's arrays on their own, so that one column can go before the next.
	parts := make([][]arrow.Array, len(schema.Fields()))
	var rows int64
	for _, b := range batches {
		for i := range parts {
			a := b.Column(i)
			a.Retain()
			parts[i] = append(parts[i], a)
		}
		rows += b.NumRows()
		b.Release()
	}
	cols := make([]arrow.Column, len(parts))
	for i, p := range parts {
		joined, err := array.Concatenate(p, c.mem)
		for _, a := range p {
			a.Release()
		}
		parts[i] = nil
		if err != nil {
			for j := range cols[:i] {
				cols[j].Release()
			}
			for _, rest := range parts[i+1:] {
				for _, a := range rest {
					a.Release()
				}
			}
			return nil, fmt.Errorf("extract: %s: %w", name, err)
		}
		ch := arrow.NewChunked(joined.DataType(), []arrow.Array{joined})
		joined.Release()
		cols[i] = *arrow.NewColumn(schema.Field(i), ch)
		ch.Release()
	}
	t := array.NewTable(schema, cols, rows)
	for i := range cols {
		cols[i].Release()
	}
	return t, nil
}

// Release frees every batch; the Collector is empty afterwards.
func (c *Collector) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, bs := range c.batches {
		for _, b := range bs {
			b.Release()
		}
	}
	c.batches = map[string][]arrow.RecordBatch{}
}
