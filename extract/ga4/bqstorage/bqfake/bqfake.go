// Package bqfake is an in-process fake of the two BigQuery APIs that package
// extract/ga4/bqstorage calls to read a GA4 export dataset: the Storage Read API over
// gRPC (CreateReadSession, ReadRows, Arrow format only) and the REST API's tables.list
// and tables.get. It is meant for tests of any package: Start serves one dataset on
// loopback, and a client pointed at Server.Endpoint and Server.RESTEndpoint (bqstorage's
// Config or ga4's BigQueryConfig of the same names) reads it without credentials.
//
// A table is given as an Arrow schema with rows, either NDJSON in BigQuery's JSON
// export form or an Arrow record. A read session selects columns as BigQuery does
// (top-level names or dotted paths into records, in table order; a selection the table
// lacks is InvalidArgument) and splits the rows into consecutive streams: stream i of
// n holds rows [N·i/n, N·(i+1)/n) of the table's N rows, sent in responses of
// Table.PerResp rows, LZ4-compressed when the session asks for it. A ReadRows request
// resumes at its offset. Row restrictions are recorded (Server.Creates) but not
// applied. Faults (Server.AddFault) make streams fail, stall or send garbage.
package bqfake

import (
	"fmt"
	"net"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/grpc"
)

// Config names the dataset a Server serves.
type Config struct {
	// Project and Dataset are the served dataset's ids; any other dataset is not found.
	Project, Dataset string
	// PageSize caps the tables of one tables.list page (below the request's
	// maxResults); 0 means no cap.
	PageSize int
}

// Table is one table of the dataset.
type Table struct {
	// Schema is the table's schema in the Arrow types BigQuery's Storage Read API
	// uses (ExportSchema for a GA4 export). Nil means Record's schema.
	Schema *arrow.Schema
	// Rows are the table's rows as NDJSON lines in BigQuery's JSON export form,
	// decoded into Schema with arrow's JSON reader; ignored when Record is set.
	Rows []string
	// Record holds the table's rows as Arrow. The server keeps a reference until
	// Close.
	Record arrow.RecordBatch
	// Streams is how many streams a read session splits the rows into, capped by the
	// request's MaxStreamCount; 0 means 1. A table without rows has no stream, as in
	// BigQuery.
	Streams int
	// PerResp is the rows per ReadRows response; 0 means 1024.
	PerResp int
	// Repeat sends each stream's rows this many times (benchmarks of large reads); 0
	// means once.
	Repeat int
	// Err, when set, is CreateReadSession's answer for the table.
	Err error
	// Unlisted leaves the table out of tables.list, as a table created after the
	// client listed the dataset.
	Unlisted bool
	// Filter, when set, applies a read session's row restriction (when it has one):
	// it returns the rows of rec the restriction keeps, as a new record the server
	// releases, or an error, which fails the session with InvalidArgument as BigQuery
	// refuses a restriction it cannot parse. Without Filter, restrictions are only
	// recorded (Server.Creates).
	Filter func(restriction string, rec arrow.RecordBatch) (arrow.RecordBatch, error)
}

// Server serves one dataset's tables through both APIs. Its methods are safe for
// concurrent use.
type Server struct {
	// Endpoint is the Storage Read API's gRPC address (host:port), served in
	// plaintext.
	Endpoint string
	// RESTEndpoint is the BigQuery REST API's base URL, ending in /bigquery/v2/.
	RESTEndpoint string

	cfg  Config
	tb   testing.TB
	mem  memory.Allocator // the server's own buffers: decoded rows, serialized batches
	grpc *grpc.Server
	http *httptest.Server
	read readServer

	mu       sync.Mutex
	tables   map[string]*table // by table id
	replaced []*table          // tables AddTable replaced, whose streams may still be read
	listed   []string          // ids listed without a table (List)
	faults   []Fault
	restErr  int // answer every REST request with this HTTP status when set
	creates  []*storagepb.CreateReadSessionRequest
	reads    []*storagepb.ReadRowsRequest
	sessions []*tableData // the data of every session created, in order
	requests []string
	streams  map[string]*stream // by stream name
	bytes    atomic.Int64
	closed   bool
}

// table is a Table with its data built for each kind of session asked for.
type table struct {
	Table
	rec  arrow.RecordBatch     // all rows in Schema; nil for a table without rows
	data map[string]*tableData // by selected columns and stream count
}

// Start serves cfg's dataset on loopback until tb's cleanup (or Close). It fails tb
// when it cannot listen.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s := &Server{cfg: cfg, tb: tb, mem: memory.NewGoAllocator(), tables: map[string]*table{}, streams: map[string]*stream{}}
	s.read.s = s
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("bqfake: %v", err)
	}
	// Close releases the records the handlers read: Stop must wait for them.
	s.grpc = grpc.NewServer(grpc.WaitForHandlers(true))
	storagepb.RegisterBigQueryReadServer(s.grpc, &s.read)
	go s.grpc.Serve(lis)
	s.http = httptest.NewServer(rest{s})
	s.Endpoint, s.RESTEndpoint = lis.Addr().String(), s.http.URL+"/bigquery/v2/"
	tb.Cleanup(s.Close)
	return s
}

// Close stops both servers and releases every record the server holds. It is safe
// to call twice; Start registers it as a cleanup of its tb.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.grpc.Stop()
	s.http.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tables {
		t.release()
	}
	for _, t := range s.replaced {
		t.release()
	}
	s.tables, s.replaced = map[string]*table{}, nil
}

// AddTable serves t as table id: listed by tables.list (unless t.Unlisted),
// described by tables.get and read by the Storage Read API. It replaces a table of
// the same id. Rows that do not decode into t.Schema fail the test.
func (s *Server) AddTable(id string, t Table) {
	s.tb.Helper()
	if t.Schema == nil && t.Record == nil {
		s.tb.Fatalf("bqfake: table %s: no Schema and no Record", id)
	}
	if t.Schema == nil {
		t.Schema = t.Record.Schema()
	}
	if t.Record != nil && !t.Record.Schema().Equal(t.Schema) {
		s.tb.Fatalf("bqfake: table %s: Record's schema is not Schema", id)
	}
	tb := &table{Table: t, data: map[string]*tableData{}}
	if t.Record != nil {
		t.Record.Retain()
		tb.rec = t.Record
	} else if len(t.Rows) > 0 {
		rec, err := recordFromJSON(s.mem, t.Schema, t.Rows)
		if err != nil {
			s.tb.Fatalf("bqfake: table %s: %v", id, err)
		}
		tb.rec = rec
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.tables[id]; ok {
		s.replaced = append(s.replaced, old)
	}
	s.tables[id] = tb
}

// List adds ids to the tables.list answer without a table behind them: tables.get
// and read sessions find none (a table deleted after the listing, or one the test
// only lists).
func (s *Server) List(ids ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listed = append(s.listed, ids...)
}

// FailREST makes every REST request fail with HTTP status code (403 as BigQuery
// denies a dataset's tables.list); 0 stops failing.
func (s *Server) FailREST(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.restErr = code
}

// ErrGarbage as a Fault's Err makes the stream send a response whose record batch is
// not Arrow.
var ErrGarbage = fmt.Errorf("bqfake: garbage record batch")

// Fault makes ReadRows of the streams with index Stream, in any session, fail when
// they reach row At (0-based, within the stream), Times times in all: with Err (a
// gRPC status error), by going silent until the client gives up when Err is nil, or
// by sending a broken record batch when Err is ErrGarbage.
type Fault struct {
	Stream, Times int
	At            int64
	Err           error
}

// AddFault arms f.
func (s *Server) AddFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// Restrictions returns the row restrictions of the CreateReadSession requests
// received, in order ("" for a session without one).
func (s *Server) Restrictions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.creates))
	for i, c := range s.creates {
		out[i] = c.GetReadSession().GetReadOptions().GetRowRestriction()
	}
	return out
}

// Creates returns the CreateReadSession requests received, in order.
func (s *Server) Creates() []*storagepb.CreateReadSessionRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.creates)
}

// Reads returns the ReadRows requests received, in order.
func (s *Server) Reads() []*storagepb.ReadRowsRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reads)
}

// Sent returns, per read session created, every row the session serves (all its
// streams, once) as RowJSON of the projected columns: what a client should receive.
// Call it before Close.
func (s *Server) Sent() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([][]string, len(s.sessions))
	for i, d := range s.sessions {
		if d.sent == nil {
			d.sent = []string{}
			for _, chunks := range d.streams {
				for _, c := range chunks {
					for r := 0; r < int(c.NumRows()); r++ {
						d.sent = append(d.sent, RowJSON(c, r))
					}
				}
			}
		}
		out[i] = d.sent
	}
	return out
}

// RESTRequests returns the REST requests received as "METHOD PATH?pageToken=TOKEN".
func (s *Server) RESTRequests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// BytesSent is the size of the serialized record batches sent so far.
func (s *Server) BytesSent() int64 { return s.bytes.Load() }

func (t *table) release() {
	for _, d := range t.data {
		d.release()
	}
	t.data = nil
	if t.rec != nil {
		t.rec.Release()
		t.rec = nil
	}
}
