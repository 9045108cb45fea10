package bqfake

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// readServer is the Storage Read API of a Server.
type readServer struct {
	storagepb.UnimplementedBigQueryReadServer
	s *Server
}

// tableData is a table's rows projected to one selection and split into streams,
// built once so that benchmarks time the client rather than the fake.
type tableData struct {
	schema  []byte                // serialized Arrow schema message
	streams [][]arrow.RecordBatch // chunks of PerResp rows, per stream
	sent    []string              // every row as RowJSON, made by Server.Sent
	cache   map[cacheKey][]byte   // serialized whole chunks
}

type cacheKey struct {
	chunk    arrow.RecordBatch
	compress bool
}

func (d *tableData) release() {
	for _, chunks := range d.streams {
		for _, c := range chunks {
			c.Release()
		}
	}
	d.streams = nil
}

// stream is one stream of a read session.
type stream struct {
	data     *tableData
	index    int
	chunks   []arrow.RecordBatch
	repeat   int
	compress bool
}

// splitTable returns the project, dataset and table ids of a Storage Read table path,
// projects/P/datasets/D/tables/T.
func splitTable(path string) (proj, dataset, id string, ok bool) {
	parts := strings.Split(path, "/")
	if len(parts) != 6 || parts[0] != "projects" || parts[2] != "datasets" || parts[4] != "tables" {
		return "", "", "", false
	}
	return parts[1], parts[3], parts[5], true
}

// CreateReadSession answers with the table's projected schema and its streams.
func (r *readServer) CreateReadSession(_ context.Context, req *storagepb.CreateReadSessionRequest) (*storagepb.ReadSession, error) {
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.creates = append(s.creates, req)
	rs := req.GetReadSession()
	proj, dataset, id, ok := splitTable(rs.GetTable())
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid table name %q: want projects/P/datasets/D/tables/T", rs.GetTable())
	}
	if proj != s.cfg.Project || dataset != s.cfg.Dataset {
		return nil, status.Errorf(codes.NotFound, "Not found: Dataset %s:%s", proj, dataset)
	}
	tbl, ok := s.tables[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "Not found: Table %s:%s.%s", proj, dataset, id)
	}
	if tbl.Err != nil {
		return nil, tbl.Err
	}
	if rs.GetDataFormat() != storagepb.DataFormat_ARROW {
		return nil, status.Errorf(codes.InvalidArgument, "bqfake serves the Arrow data format only")
	}
	selected := rs.GetReadOptions().GetSelectedFields()
	n := max(tbl.Streams, 1)
	if m := int(req.GetMaxStreamCount()); m > 0 {
		n = min(n, m)
	}
	key := strings.Join(selected, ",") + "|" + strconv.Itoa(n)
	restriction := rs.GetReadOptions().GetRowRestriction()
	filter := tbl.Filter != nil && restriction != ""
	if filter {
		key += "|" + restriction
	}
	d, ok := tbl.data[key]
	if !ok {
		schema, missing := project(tbl.Schema, selected)
		if len(missing) > 0 {
			return nil, status.Errorf(codes.InvalidArgument,
				"request failed: the following selected fields do not exist in the table schema: %s", strings.Join(missing, ", "))
		}
		src := tbl
		if filter && tbl.rec != nil {
			rec, err := tbl.Filter(restriction, tbl.rec)
			if err != nil {
				return nil, status.Errorf(codes.InvalidArgument, "row restriction %q: %v", restriction, err)
			}
			defer rec.Release() // the streams' chunks hold what they need
			src = &table{Table: tbl.Table, rec: rec}
		}
		var err error
		if d, err = s.split(src, schema, n); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		tbl.data[key] = d
	}
	s.sessions = append(s.sessions, d)
	name := fmt.Sprintf("projects/%s/locations/eu/sessions/s%d", strings.TrimPrefix(req.GetParent(), "projects/"), len(s.sessions))
	out := &storagepb.ReadSession{
		Name:        name,
		Table:       rs.GetTable(),
		DataFormat:  storagepb.DataFormat_ARROW,
		ReadOptions: rs.GetReadOptions(),
		Schema:      &storagepb.ReadSession_ArrowSchema{ArrowSchema: &storagepb.ArrowSchema{SerializedSchema: d.schema}},
	}
	compress := rs.GetReadOptions().GetArrowSerializationOptions().GetBufferCompression() == storagepb.ArrowSerializationOptions_LZ4_FRAME
	for i, chunks := range d.streams {
		sn := fmt.Sprintf("%s/streams/%d", name, i)
		s.streams[sn] = &stream{data: d, index: i, chunks: chunks, repeat: max(tbl.Repeat, 1), compress: compress}
		out.Streams = append(out.Streams, &storagepb.ReadStream{Name: sn})
	}
	return out, nil
}

// split projects tbl's rows to schema and cuts them into n streams of chunks.
func (s *Server) split(tbl *table, schema *arrow.Schema, n int) (*tableData, error) {
	d := &tableData{cache: map[cacheKey][]byte{}}
	var buf bytes.Buffer
	p := ipc.GetSchemaPayload(schema, s.mem)
	_, err := p.WritePayload(&buf)
	p.Release()
	if err != nil {
		return nil, err
	}
	d.schema = buf.Bytes()
	if tbl.rec == nil || tbl.rec.NumRows() == 0 {
		return d, nil // BigQuery gives an empty table no stream at all
	}
	rec, err := projectRecord(tbl.rec, schema)
	if err != nil {
		return nil, err
	}
	defer rec.Release()
	total, per := rec.NumRows(), int64(tbl.PerResp)
	if per <= 0 {
		per = 1024
	}
	for i := 0; i < n; i++ {
		from, to := total*int64(i)/int64(n), total*int64(i+1)/int64(n)
		var chunks []arrow.RecordBatch
		for at := from; at < to; at += per {
			chunks = append(chunks, rec.NewSlice(at, min(at+per, to)))
		}
		d.streams = append(d.streams, chunks)
	}
	return d, nil
}

// ReadRows sends the stream's chunks from the request's offset on.
func (r *readServer) ReadRows(req *storagepb.ReadRowsRequest, srv storagepb.BigQueryRead_ReadRowsServer) error {
	s := r.s
	s.mu.Lock()
	s.reads = append(s.reads, req)
	st, ok := s.streams[req.GetReadStream()]
	var flt *Fault
	if ok {
		for j := range s.faults {
			if s.faults[j].Stream == st.index && s.faults[j].Times > 0 {
				s.faults[j].Times--
				f := s.faults[j]
				flt = &f
				break
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		return status.Errorf(codes.NotFound, "Not found: stream %s", req.GetReadStream())
	}
	if req.GetOffset() < 0 {
		return status.Errorf(codes.InvalidArgument, "offset %d is negative", req.GetOffset())
	}

	skip, pos := req.GetOffset(), req.GetOffset()
	for range st.repeat {
		for _, chunk := range st.chunks {
			if skip >= chunk.NumRows() {
				skip -= chunk.NumRows()
				continue
			}
			if flt != nil && pos == flt.At {
				switch flt.Err {
				case nil:
					<-srv.Context().Done()
					return srv.Context().Err()
				case ErrGarbage:
					return srv.Send(&storagepb.ReadRowsResponse{RowCount: 2, Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{
						ArrowRecordBatch: &storagepb.ArrowRecordBatch{SerializedRecordBatch: []byte("\xff\xff\xff\xff\x10\x00\x00\x00not a flatbuffer")},
					}})
				}
				return flt.Err
			}
			body, err := s.serialize(st, chunk, skip)
			if err != nil {
				return status.Error(codes.Internal, err.Error())
			}
			n := chunk.NumRows() - skip
			skip, pos = 0, pos+n
			resp := &storagepb.ReadRowsResponse{
				RowCount: n,
				Rows: &storagepb.ReadRowsResponse_ArrowRecordBatch{ArrowRecordBatch: &storagepb.ArrowRecordBatch{
					SerializedRecordBatch: body,
				}},
			}
			if err := srv.Send(resp); err != nil {
				return err
			}
			s.bytes.Add(int64(len(body)))
		}
	}
	if skip > 0 {
		return status.Errorf(codes.OutOfRange, "offset %d is past the end of the stream", req.GetOffset())
	}
	return nil
}

// serialize encodes chunk from row skip on as one IPC record batch message; whole
// chunks are encoded once.
func (s *Server) serialize(st *stream, chunk arrow.RecordBatch, skip int64) ([]byte, error) {
	key := cacheKey{chunk, st.compress}
	if skip == 0 {
		s.mu.Lock()
		b, ok := st.data.cache[key]
		s.mu.Unlock()
		if ok {
			return b, nil
		}
	}
	rec := chunk.NewSlice(skip, chunk.NumRows())
	defer rec.Release()
	opts := []ipc.Option{ipc.WithAllocator(s.mem)}
	if st.compress {
		opts = append(opts, ipc.WithLZ4())
	}
	p, err := ipc.GetRecordBatchPayload(rec, opts...)
	if err != nil {
		return nil, err
	}
	defer p.Release()
	var buf bytes.Buffer
	if _, err := p.WritePayload(&buf); err != nil {
		return nil, err
	}
	if skip == 0 {
		s.mu.Lock()
		st.data.cache[key] = buf.Bytes()
		s.mu.Unlock()
	}
	return buf.Bytes(), nil
}
