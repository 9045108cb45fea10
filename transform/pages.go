package transform

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
	"closedloop/transform/identity"
)

// DefaultSpillBytes is Options.SpillBytes when zero.
const DefaultSpillBytes = 16 << 20

// batchRows is how many rows a large table's writer builds before it hands them on as
// a batch.
const batchRows = 1 << 16

// pageSchema is fct_page_view's schema and the device node of each row: the chunks
// write page views before anyone knows their persons.
var pageSchema = func() *arrow.Schema {
	fields := append([]arrow.Field(nil), schemaOf(load.FctPageView).Fields()...)
	return arrow.NewSchema(append(fields, arrow.Field{Name: "node", Type: arrow.PrimitiveTypes.Int32}), nil)
}()

// spillStore keeps the batches of one large table as they are written: in memory
// while they are small, then in a temporary Arrow IPC file, so that a run's memory
// does not grow with the table. Not safe for concurrent use.
type spillStore struct {
	mem    memory.Allocator
	dir    string
	limit  int64         // bytes held in memory before the file
	name   string        // the warehouse table
	schema *arrow.Schema // of the batches kept (the table's, or pageSchema)
	recs   []arrow.RecordBatch
	bytes  int64
	rows   int64
	f      *os.File
	w      *ipc.FileWriter
}

func newSpillStore(r *run, name string, schema *arrow.Schema) *spillStore {
	limit := r.opt.SpillBytes
	if limit == 0 {
		limit = DefaultSpillBytes
	}
	return &spillStore{mem: r.opt.Mem, dir: r.opt.TempDir, limit: limit, name: name, schema: schema}
}

// addPages keeps a chunk's page views (t, schema of fct_page_view) with their devices.
func (p *spillStore) addPages(t arrow.RecordBatch, nodes []int32) error {
	if t.NumRows() == 0 {
		return nil
	}
	b := array.NewInt32Builder(p.mem)
	b.AppendValues(nodes, nil)
	na := b.NewArray()
	b.Release()
	rec := array.NewRecordBatch(pageSchema, append(append([]arrow.Array(nil), t.Columns()...), na), t.NumRows())
	na.Release()
	defer rec.Release()
	return p.add(rec)
}

// add keeps rec (retained).
func (p *spillStore) add(rec arrow.RecordBatch) error {
	if rec.NumRows() == 0 {
		return nil
	}
	p.rows += rec.NumRows()
	if p.w == nil {
		rec.Retain()
		p.recs = append(p.recs, rec)
		p.bytes += recordBytes(rec)
		if p.bytes <= p.limit {
			return nil
		}
		return p.spill()
	}
	if err := p.w.Write(rec); err != nil {
		return fmt.Errorf("transform: write %s to %s: %w", p.name, p.f.Name(), err)
	}
	return nil
}

// spill starts the temporary file and moves the batches held so far to it.
func (p *spillStore) spill() error {
	f, err := os.CreateTemp(p.dir, "closedloop-"+p.name+"-*.arrow")
	if err != nil {
		return fmt.Errorf("transform: %s exceeds %d MiB and cannot go to a temporary file: %w (set TMPDIR to a writable directory)", p.name, p.limit>>20, err)
	}
	w, err := ipc.NewFileWriter(f, ipc.WithSchema(p.schema), ipc.WithAllocator(p.mem))
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	p.f, p.w = f, w
	for i, rec := range p.recs {
		if err := w.Write(rec); err != nil {
			return fmt.Errorf("transform: write %s to %s: %w", p.name, f.Name(), err)
		}
		rec.Release()
		p.recs[i] = nil
	}
	p.recs, p.bytes = nil, 0
	return nil
}

// release frees what the store holds and removes its file.
func (p *spillStore) release() {
	for _, r := range p.recs {
		if r != nil {
			r.Release()
		}
	}
	p.recs = nil
	if p.w != nil {
		p.w.Close()
		p.f.Close()
		os.Remove(p.f.Name())
		p.w, p.f = nil, nil
	}
}

// finish gives the table: in memory when it was held there, else a Spilled table
// read back from the file; mapBatch (nil: none) turns each kept batch into one of the
// warehouse table. The store is empty afterwards.
func (p *spillStore) finish(mapBatch func(arrow.RecordBatch) arrow.RecordBatch) (arrow.Table, *Spilled, error) {
	if mapBatch == nil {
		mapBatch = retained
	}
	schema := schemaOf(p.name)
	if p.w == nil {
		out := make([]arrow.RecordBatch, 0, len(p.recs))
		for _, rec := range p.recs {
			out = append(out, mapBatch(rec))
			rec.Release()
		}
		p.recs = nil
		t := array.NewTableFromRecords(schema, out)
		for _, r := range out {
			r.Release()
		}
		return t, nil, nil
	}
	if err := p.w.Close(); err != nil {
		p.release()
		return nil, nil, fmt.Errorf("transform: write %s to %s: %w", p.name, p.f.Name(), err)
	}
	name := p.f.Name()
	if err := p.f.Close(); err != nil {
		os.Remove(name)
		return nil, nil, err
	}
	p.w, p.f = nil, nil
	return nil, &Spilled{segs: []spillSeg{{path: name}}, name: p.name, rows: p.rows, mem: p.mem, mapBatch: mapBatch}, nil
}

// pageMapper turns a pageSchema batch into an fct_page_view batch: the persons of its
// devices, the sessions its parts merged into.
type pageMapper struct {
	mem      memory.Allocator
	persons  *identity.Persons
	sessions map[string]string // session_id written -> the merged session's
}

func (m *pageMapper) batch(rec arrow.RecordBatch) arrow.RecordBatch {
	n := int(rec.NumRows())
	nodes := rec.Column(len(pageSchema.Fields()) - 1).(*array.Int32)
	pb := array.NewStringBuilder(m.mem)
	defer pb.Release()
	pb.Reserve(n)
	for i := 0; i < n; i++ {
		pb.Append(m.persons.ID(m.persons.Of(nodes.Value(i))))
	}
	cols := append([]arrow.Array(nil), rec.Columns()[:len(pageSchema.Fields())-1]...)
	person := pb.NewArray()
	defer person.Release()
	cols[pvPersonID] = person
	if len(m.sessions) > 0 {
		old := rec.Column(pvSessionID).(*array.String)
		sb := array.NewStringBuilder(m.mem)
		defer sb.Release()
		sb.Reserve(n)
		for i := 0; i < n; i++ {
			v := old.Value(i)
			if to, ok := m.sessions[v]; ok {
				v = to
			}
			sb.Append(v)
		}
		ses := sb.NewArray()
		defer ses.Release()
		cols[pvSessionID] = ses
	}
	return array.NewRecordBatch(schemaOf(load.FctPageView), cols, int64(n))
}

// Spilled is a warehouse table too large to hold in memory, kept in temporary files
// while the run builds it (with, when several writers built it, the small parts some
// held in memory): Reader reads it back a batch at a time. Release removes the files.
type Spilled struct {
	segs     []spillSeg // in order
	name     string     // the warehouse table
	rows     int64
	mem      memory.Allocator
	mapBatch func(arrow.RecordBatch) arrow.RecordBatch
	released atomic.Bool
}

// spillSeg is a part of a Spilled table: a file, or a table in memory.
type spillSeg struct {
	path  string
	table arrow.Table
}

// joinTables joins the parts of one table that writers built side by side (their
// order is the rows'), each in memory or spilled, into one table or one Spilled; it
// takes the parts over.
func joinTables(mem memory.Allocator, name string, tables []arrow.Table, spilled []*Spilled) (arrow.Table, *Spilled) {
	if len(tables) == 1 {
		return tables[0], spilled[0]
	}
	all := true
	for _, sp := range spilled {
		all = all && sp == nil
	}
	if all {
		var recs []arrow.RecordBatch
		for _, t := range tables {
			tr := array.NewTableReader(t, 0)
			for tr.Next() {
				rec := tr.RecordBatch()
				rec.Retain()
				recs = append(recs, rec)
			}
			tr.Release()
			t.Release()
		}
		out := array.NewTableFromRecords(schemaOf(name), recs)
		for _, r := range recs {
			r.Release()
		}
		return out, nil
	}
	out := &Spilled{name: name, mem: mem, mapBatch: retained}
	for i := range tables {
		if sp := spilled[i]; sp != nil {
			out.segs = append(out.segs, sp.segs...)
			out.rows += sp.rows
			sp.segs = nil
		} else {
			out.segs = append(out.segs, spillSeg{table: tables[i]})
			out.rows += tables[i].NumRows()
		}
	}
	return nil, out
}

// retained is the mapBatch of a table kept as written.
func retained(rec arrow.RecordBatch) arrow.RecordBatch { rec.Retain(); return rec }

// NumRows is the table's row count.
func (s *Spilled) NumRows() int64 { return s.rows }

// Reader returns the table's rows, a batch at a time; the caller releases it. Each
// Reader reads the table from its start.
func (s *Spilled) Reader() (array.RecordReader, error) {
	if s.released.Load() {
		return nil, errors.New("transform: spilled table read after Release")
	}
	r := &spillReader{s: s}
	r.refs.Store(1)
	return r, nil
}

// Table reads the whole table into memory (for a warehouse that cannot take batches).
func (s *Spilled) Table() (arrow.Table, error) {
	rr, err := s.Reader()
	if err != nil {
		return nil, err
	}
	defer rr.Release()
	var recs []arrow.RecordBatch
	for rr.Next() {
		rec := rr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if err := rr.Err(); err != nil {
		return nil, err
	}
	return array.NewTableFromRecords(schemaOf(s.name), recs), nil
}

// Release removes the files and frees the parts in memory.
func (s *Spilled) Release() {
	if !s.released.Swap(true) {
		for _, seg := range s.segs {
			if seg.table != nil {
				seg.table.Release()
			} else {
				os.Remove(seg.path)
			}
		}
	}
}

// spillReader is the RecordReader of a Spilled table: its segments one after the
// other.
type spillReader struct {
	s    *Spilled
	seg  int // the segment being read; len(s.segs) at the end
	f    *os.File
	fr   *ipc.FileReader
	tr   *array.TableReader
	next int // the next batch of fr
	cur  arrow.RecordBatch
	err  error
	refs atomic.Int64
}

func (r *spillReader) Retain() { r.refs.Add(1) }

func (r *spillReader) Release() {
	if r.refs.Add(-1) == 0 {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		r.closeSeg()
	}
}

// closeSeg closes the segment being read.
func (r *spillReader) closeSeg() {
	if r.fr != nil {
		r.fr.Close()
		r.f.Close()
		r.fr, r.f = nil, nil
	}
	if r.tr != nil {
		r.tr.Release()
		r.tr = nil
	}
}

func (r *spillReader) Schema() *arrow.Schema { return schemaOf(r.s.name) }

func (r *spillReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	for r.err == nil && r.seg < len(r.s.segs) {
		seg := r.s.segs[r.seg]
		switch {
		case seg.table != nil && r.tr == nil:
			r.tr = array.NewTableReader(seg.table, 0)
		case seg.table == nil && r.fr == nil:
			f, err := os.Open(seg.path)
			if err != nil {
				r.err = err
				return false
			}
			fr, err := ipc.NewFileReader(f, ipc.WithAllocator(r.s.mem))
			if err != nil {
				f.Close()
				r.err = fmt.Errorf("transform: read back %s: %w", seg.path, err)
				return false
			}
			r.f, r.fr, r.next = f, fr, 0
		}
		if r.tr != nil {
			if r.tr.Next() {
				r.cur = r.s.mapBatch(r.tr.RecordBatch())
				return true
			}
		} else if r.next < r.fr.NumRecords() {
			rec, err := r.fr.RecordBatchAt(r.next)
			if err != nil {
				r.err = fmt.Errorf("transform: read back %s: %w", seg.path, err)
				return false
			}
			r.next++
			r.cur = r.s.mapBatch(rec)
			rec.Release()
			return true
		}
		r.closeSeg()
		r.seg++
	}
	return false
}

func (r *spillReader) RecordBatch() arrow.RecordBatch { return r.cur }

//nolint:staticcheck // Record is the deprecated name RecordReader still requires.
func (r *spillReader) Record() arrow.RecordBatch { return r.cur }

func (r *spillReader) Err() error { return r.err }

// recordBytes is the size of rec's buffers.
func recordBytes(rec arrow.RecordBatch) int64 {
	var n int64
	for _, c := range rec.Columns() {
		for _, b := range c.Data().Buffers() {
			if b != nil {
				n += int64(b.Len())
			}
		}
	}
	return n
}

// bigTable builds a warehouse table that may outgrow memory (fct_touchpoint,
// fct_attribution): every batchRows rows go on to its spillStore as one batch.
type bigTable struct {
	o     *out
	n     int // rows in the builder
	store *spillStore
	err   error
}

func newBigTable(r *run, name string) *bigTable {
	b := &bigTable{o: newTable(r.opt.Mem, name), store: newSpillStore(r, name, schemaOf(name))}
	b.o.reserve(batchRows)
	return b
}

// row ends a row written with b.o.
func (b *bigTable) row() {
	if b.n++; b.n == batchRows {
		b.flush()
	}
}

func (b *bigTable) flush() {
	if b.n == 0 {
		return
	}
	rec := b.o.b.NewRecordBatch()
	if err := b.store.add(rec); err != nil && b.err == nil {
		b.err = err
	}
	rec.Release()
	b.n = 0
}

// joinSpans finishes the tables that spans of persons were written into, on cores of
// their own, and joins them in order (joinTables); when err (the writers' failure) or
// a finish fails, it frees them all and returns the error.
func joinSpans(r *run, name string, bts []*bigTable, err error) (arrow.Table, *Spilled, error) {
	tables, spilled := make([]arrow.Table, len(bts)), make([]*Spilled, len(bts))
	for k, b := range bts {
		if err == nil {
			tables[k], spilled[k], err = b.finish()
		} else {
			b.release()
		}
	}
	if err != nil {
		for k := range bts {
			if tables[k] != nil {
				tables[k].Release()
			}
			if spilled[k] != nil {
				spilled[k].Release()
			}
		}
		return nil, nil, err
	}
	t, sp := joinTables(r.opt.Mem, name, tables, spilled)
	return t, sp, nil
}

// finish gives the table: in memory, or spilled to a file when large.
func (b *bigTable) finish() (arrow.Table, *Spilled, error) {
	b.flush()
	b.o.release()
	if b.err != nil {
		b.store.release()
		return nil, nil, b.err
	}
	return b.store.finish(nil)
}

// release frees a table that is not wanted (a failed step).
func (b *bigTable) release() {
	b.o.release()
	b.store.release()
}
