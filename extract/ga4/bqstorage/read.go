package bqstorage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigquery"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/googleapis/gax-go/v2"
	"github.com/sourcegraph/conc/pool"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"closedloop/extract"
)

// Batch is one decoded record batch of a read stream.
type Batch struct {
	// Record holds rows of the table in the read session's schema: the selected
	// columns, in table order. It is valid during the callback only; Retain it to keep it.
	Record arrow.RecordBatch
	Table  Table
	// Stream is the index of the stream in its read session.
	Stream int
	// Offset is the stream's row number of the record's first row, counted from 0 as
	// ReadRowsRequest.Offset counts.
	Offset int64
}

// Location names row i of the record for a rejection, as package extract/ga4 locates
// the rows it decodes: "bigquery://PROJECT/DATASET/events_20260105 stream 0:row 1235",
// rows counted from 1 in their stream. Streams split a table differently in every
// read session, so it locates the row for this run only.
func (b Batch) Location(i int) string {
	return b.Table.String() + " stream " + strconv.Itoa(b.Stream) + ":row " + strconv.FormatInt(b.Offset+int64(i)+1, 10)
}

// ReadRange reads the tables of r (see Days), Config.Concurrency at a time, and calls fn
// with every record. Calls of fn never overlap, and come in no particular order across
// tables and streams; in order within one stream. An error from fn stops the read and
// is returned as is. Days without a table are returned in missing, also on success.
func (c *Client) ReadRange(ctx context.Context, r extract.Range, fn func(Batch) error) (missing []Missing, err error) {
	tables, missing, err := c.Days(ctx, r)
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	// Each table reads its streams concurrently as well: Concurrency × Streams ReadRows
	// streams at most.
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(c.cfg.Concurrency)
	for _, t := range tables {
		p.Go(func(ctx context.Context) error { return c.read(ctx, t, fn, &mu) })
	}
	return missing, p.Wait()
}

// Read reads table t and calls fn with every record, as ReadRange does.
func (c *Client) Read(ctx context.Context, t Table, fn func(Batch) error) error {
	var mu sync.Mutex
	return c.read(ctx, t, fn, &mu)
}

// read reads t, its streams concurrently, calling fn under mu.
func (c *Client) read(ctx context.Context, t Table, fn func(Batch) error, mu *sync.Mutex) error {
	session, err := c.session(ctx, t)
	if status.Code(err) == codes.NotFound && t.Intraday {
		// GA4 deletes an intraday table once the day's daily table is written, which
		// may happen between Days and here.
		daily := t
		daily.ID, daily.Intraday = dailyPrefix+t.Day.Format(dayLayout), false
		c.cfg.Log.Info("intraday table gone, reading the daily table", "table", t.String(), "daily", daily.ID)
		t = daily
		session, err = c.session(ctx, t)
	}
	if err != nil {
		return err
	}
	if len(session.GetStreams()) == 0 {
		return nil // an empty table, or no row passes the restriction
	}
	schema := session.GetArrowSchema().GetSerializedSchema()
	if len(schema) == 0 {
		return fmt.Errorf("%s: the read session has no Arrow schema (data format %s)", t, session.GetDataFormat())
	}
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for i, s := range session.GetStreams() {
		p.Go(func(ctx context.Context) error {
			return c.readStream(ctx, streamRef{table: t, index: i, name: s.GetName(), schema: schema}, fn, mu)
		})
	}
	return p.Wait()
}

// session creates the read session of t. A selected column the table lacks (the
// export gained columns over the years) is dropped, logged, and the session retried.
func (c *Client) session(ctx context.Context, t Table) (*storagepb.ReadSession, error) {
	columns := c.cfg.Columns
	s, err := c.createSession(ctx, t, columns)
	if status.Code(err) != codes.InvalidArgument {
		return s, c.sessionError(t, err)
	}
	schema, merr := c.tableSchema(ctx, t)
	if merr != nil {
		return nil, errors.Join(c.sessionError(t, err), merr)
	}
	kept, dropped := selectable(schema, columns)
	if len(dropped) == 0 || len(kept) == 0 {
		return nil, c.sessionError(t, err)
	}
	c.cfg.Log.Info("columns missing from table, not read", "table", t.String(), "columns", dropped)
	s, err = c.createSession(ctx, t, kept)
	return s, c.sessionError(t, err)
}

func (c *Client) sessionError(t Table, err error) error {
	if err == nil {
		return nil
	}
	return c.grpcError(t.String()+": creating a read session", err)
}

func (c *Client) createSession(ctx context.Context, t Table, columns []string) (*storagepb.ReadSession, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	return c.rc.CreateReadSession(ctx, &storagepb.CreateReadSessionRequest{
		Parent: "projects/" + c.cfg.BillingProject,
		ReadSession: &storagepb.ReadSession{
			Table:      t.Path(),
			DataFormat: storagepb.DataFormat_ARROW,
			ReadOptions: &storagepb.ReadSession_TableReadOptions{
				SelectedFields: columns,
				RowRestriction: c.restriction(t),
				// LZ4 shrinks the export's repetitive strings several times over and
				// decompresses faster than the network delivers.
				OutputFormatSerializationOptions: &storagepb.ReadSession_TableReadOptions_ArrowSerializationOptions{
					ArrowSerializationOptions: &storagepb.ArrowSerializationOptions{
						BufferCompression: storagepb.ArrowSerializationOptions_LZ4_FRAME,
					},
				},
			},
		},
		MaxStreamCount: int32(c.cfg.Streams),
	})
}

// restriction is the row filter of t: its time bounds and Config.RowRestriction.
func (c *Client) restriction(t Table) string {
	var terms []string
	switch {
	case !t.Start.IsZero() && !t.End.IsZero():
		terms = append(terms, fmt.Sprintf("(event_timestamp IS NULL OR (event_timestamp >= %d AND event_timestamp < %d))",
			t.Start.UnixMicro(), t.End.UnixMicro()))
	case !t.Start.IsZero():
		terms = append(terms, fmt.Sprintf("(event_timestamp IS NULL OR event_timestamp >= %d)", t.Start.UnixMicro()))
	case !t.End.IsZero():
		terms = append(terms, fmt.Sprintf("(event_timestamp IS NULL OR event_timestamp < %d)", t.End.UnixMicro()))
	}
	if c.cfg.RowRestriction != "" {
		terms = append(terms, "("+c.cfg.RowRestriction+")")
	}
	return strings.Join(terms, " AND ")
}

// tableSchema fetches t's schema through the REST API.
func (c *Client) tableSchema(ctx context.Context, t Table) (bigquery.Schema, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	md, err := c.bq.DatasetInProject(t.Project, t.Dataset).Table(t.ID).Metadata(ctx)
	if err != nil {
		return nil, c.restError(t.String()+": reading the table's schema", err)
	}
	return md.Schema, nil
}

// selectable splits columns into those schema has and those it lacks.
func selectable(schema bigquery.Schema, columns []string) (kept, dropped []string) {
	for _, col := range columns {
		fields, ok := schema, true
		for _, name := range strings.Split(col, ".") {
			ok = false
			for _, f := range fields {
				if strings.EqualFold(f.Name, name) {
					fields, ok = f.Schema, true
					break
				}
			}
			if !ok {
				break
			}
		}
		if ok {
			kept = append(kept, col)
		} else {
			dropped = append(dropped, col)
		}
	}
	return kept, dropped
}

// streamRef is one stream of a read session.
type streamRef struct {
	table  Table
	index  int
	name   string
	schema []byte // the session's serialized Arrow schema message
}

// callbackError carries an error of the caller's fn through the stream reader, so
// that it is returned as is and never retried.
type callbackError struct{ err error }

func (e callbackError) Error() string { return e.err.Error() }

// readStream reads stream s to its end. A retryable failure reopens the stream at the
// first row not yet delivered (ReadRowsRequest.Offset), after Config.Retry's backoff; it
// gives up after Config.Retry.MaxAttempts failures in a row without a row delivered.
// (The Go client's own ReadRows resumption retries the same codes forever.)
func (c *Client) readStream(ctx context.Context, s streamRef, fn func(Batch) error, mu *sync.Mutex) error {
	var offset int64
	bo := c.cfg.Retry.BackOff()
	failures := 0
	for {
		n, err := c.readFrom(ctx, s, offset, fn, mu)
		offset += n
		if err == nil {
			return nil
		}
		var cbErr callbackError
		if errors.As(err, &cbErr) {
			return cbErr.err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		what := fmt.Sprintf("%s stream %d row %d", s.table, s.index, offset)
		if !retryable(err) {
			if _, ok := status.FromError(err); !ok {
				return err // a decoding error, located by deliver
			}
			return c.grpcError(what, err)
		}
		if n > 0 {
			failures = 0
			bo.Reset()
		}
		failures++
		if failures >= c.cfg.Retry.MaxAttempts {
			return fmt.Errorf("%s: giving up after %d failures in a row (MaxAttempts): %w", what, failures, err)
		}
		pause := bo.NextBackOff()
		c.cfg.Log.Warn("read stream failed, resuming", "table", s.table.String(), "stream", s.index,
			"offset", offset, "retry_in", pause, "err", err)
		if err := gax.Sleep(ctx, pause); err != nil {
			return err
		}
	}
}

// readFrom opens s at offset and delivers its records until the stream ends or
// fails; n is the number of rows delivered.
func (c *Client) readFrom(ctx context.Context, s streamRef, offset int64, fn func(Batch) error, mu *sync.Mutex) (n int64, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var idle atomic.Bool
	timer := time.AfterFunc(c.cfg.IdleTimeout, func() { idle.Store(true); cancel() })
	defer timer.Stop()

	rows, err := c.rc.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: s.name, Offset: offset})
	for err == nil {
		var resp *storagepb.ReadRowsResponse
		resp, err = rows.Recv()
		// The idle clock runs only while waiting for the server, not while fn works.
		if !timer.Stop() || idle.Load() {
			return n, fmt.Errorf("%w: nothing received for %s", errIdle, c.cfg.IdleTimeout)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			break
		}
		var got int64
		got, err = c.deliver(resp, s, offset+n, fn, mu)
		n += got
		if err != nil {
			return n, err
		}
		timer.Reset(c.cfg.IdleTimeout)
	}
	return n, err
}

// deliver decodes the record batch of resp, whose first row is the stream's row
// offset, and calls fn with it.
func (c *Client) deliver(resp *storagepb.ReadRowsResponse, s streamRef, offset int64, fn func(Batch) error, mu *sync.Mutex) (int64, error) {
	at := fmt.Sprintf("%s stream %d row %d", s.table, s.index, offset)
	body := resp.GetArrowRecordBatch().GetSerializedRecordBatch()
	if body == nil {
		if resp.GetRowCount() == 0 {
			return 0, nil // a response with only stats or throttle state
		}
		return 0, fmt.Errorf("%s: response without an Arrow record batch", at)
	}
	// The session's schema message followed by the batch message make an IPC stream.
	r, err := ipc.NewReader(io.MultiReader(bytes.NewReader(s.schema), bytes.NewReader(body)), ipc.WithAllocator(c.cfg.Mem))
	if err != nil {
		return 0, fmt.Errorf("%s: decoding the Arrow schema: %w", at, err)
	}
	defer r.Release()
	var n int64
	for r.Next() {
		rec := r.RecordBatch()
		mu.Lock()
		err := fn(Batch{Record: rec, Table: s.table, Stream: s.index, Offset: offset + n})
		mu.Unlock()
		if err != nil {
			return n + rec.NumRows(), callbackError{err}
		}
		n += rec.NumRows()
	}
	if err := r.Err(); err != nil {
		return n, fmt.Errorf("%s: decoding an Arrow record batch: %w", at, err)
	}
	want := resp.GetRowCount()
	if want == 0 {
		//lint:ignore SA1019 servers that predate the response's own row_count set only this one
		want = resp.GetArrowRecordBatch().GetRowCount()
	}
	if n != want {
		return n, fmt.Errorf("%s: the response announces %d rows, its record batch holds %d", at, want, n)
	}
	return n, nil
}
