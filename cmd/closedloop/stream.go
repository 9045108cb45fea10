package main

import (
	"context"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
	"closedloop/transform"
)

// chunkRows is the fewest events that go to the stream at once: extractors write
// batches of extract.BatchRows, each a chunk by itself; smaller batches are gathered.
var chunkRows = extract.BatchRows / 2

// spillBytes is transform.Options.SpillBytes (0: its default; a variable for tests).
var spillBytes int64

// eventSink is the Writer a run gives its extractors: events go on to a
// transform.Stream in chunks of at least chunkRows rows, reduced on workers of their own
// while the extractors read on; every other table and every rejection goes to the
// Collector. A full worker pool makes Write wait, so that no more than a few chunks
// are in memory at once.
type eventSink struct {
	col    *extract.Collector
	stream *transform.Stream
	work   chan []arrow.RecordBatch
	p      *pool.ContextPool

	mu   sync.Mutex
	buf  []arrow.RecordBatch
	rows int
	err  error // the first failed Add
}

// newEventSink starts workers Adding chunks to stream.
func newEventSink(ctx context.Context, col *extract.Collector, stream *transform.Stream, workers int) *eventSink {
	s := &eventSink{col: col, stream: stream, work: make(chan []arrow.RecordBatch)}
	s.p = pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for range max(1, workers) {
		s.p.Go(func(ctx context.Context) error {
			for recs := range s.work {
				err := s.add(ctx, recs)
				if err != nil {
					s.fail(err)
					for recs := range s.work { // drain, so that senders never block
						release(recs)
					}
					return err
				}
			}
			return nil
		})
	}
	return s
}

func (s *eventSink) add(ctx context.Context, recs []arrow.RecordBatch) error {
	defer release(recs)
	t := array.NewTableFromRecords(extract.EventsSchema, recs)
	defer t.Release()
	return s.stream.Add(ctx, t)
}

func (s *eventSink) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
	}
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// Write passes events on to the stream, and anything else to the Collector.
func (s *eventSink) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	if table != extract.TableEvents {
		return s.col.Write(ctx, table, rec)
	}
	if err := s.col.Count(ctx, table, rec); err != nil {
		return err
	}
	rec.Retain()
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		rec.Release()
		return err
	}
	s.buf = append(s.buf, rec)
	s.rows += int(rec.NumRows())
	var full []arrow.RecordBatch
	if s.rows >= chunkRows {
		full, s.buf, s.rows = s.buf, nil, 0
	}
	s.mu.Unlock()
	if full == nil {
		return nil
	}
	select {
	case s.work <- full:
		return nil
	case <-ctx.Done():
		release(full)
		return ctx.Err()
	}
}

// Reject records a rejected row in the Collector.
func (s *eventSink) Reject(ctx context.Context, r extract.Rejection) error {
	return s.col.Reject(ctx, r)
}

// Close passes on the last chunk and waits for every Add; it returns the first error.
// ok is false when the extractors failed: the last chunk is then dropped.
func (s *eventSink) Close(ctx context.Context, ok bool) error {
	s.mu.Lock()
	last := s.buf
	s.buf, s.rows = nil, 0
	s.mu.Unlock()
	if ok && len(last) > 0 {
		select {
		case s.work <- last:
			last = nil
		case <-ctx.Done():
		}
	}
	release(last)
	close(s.work)
	err := s.p.Wait()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return err
}
