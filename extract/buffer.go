package extract

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow"
)

// Buffer is a Writer that keeps the batches and rejections given to it, in order,
// until Drain passes them on: a part of a source decoded on its own core waits in a
// Buffer for its turn, so that the source writes what one reader would, in its order.
type Buffer struct {
	tables  []string
	recs    []arrow.RecordBatch
	rejects []Rejection
}

var _ Writer = (*Buffer)(nil)

// Write keeps rec (retained).
func (b *Buffer) Write(_ context.Context, table string, rec arrow.RecordBatch) error {
	rec.Retain()
	b.tables = append(b.tables, table)
	b.recs = append(b.recs, rec)
	return nil
}

// Reject keeps r.
func (b *Buffer) Reject(_ context.Context, r Rejection) error {
	b.rejects = append(b.rejects, r)
	return nil
}

// Drain writes the batches, then the rejections, to w, and releases the batches.
func (b *Buffer) Drain(ctx context.Context, w Writer) error {
	defer b.Release()
	for i, r := range b.recs {
		if err := w.Write(ctx, b.tables[i], r); err != nil {
			return err
		}
	}
	for _, r := range b.rejects {
		if err := w.Reject(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// Release drops what the Buffer holds.
func (b *Buffer) Release() {
	for _, r := range b.recs {
		r.Release()
	}
	b.tables, b.recs, b.rejects = nil, nil, nil
}
