package bqfake_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"

	storage "cloud.google.com/go/bigquery/storage/apiv1"
	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"closedloop/extract/ga4/bqstorage/bqfake"
)

// fixture is the GA4 export rows of bqstorage's tests (testdata/SOURCE.md there).
func fixture(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../testdata/events_20260105.ndjson")
	require.NoError(t, err)
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// readAll creates a read session of table id selecting columns and reads every stream
// with the Storage Read API's Go client, returning each row as RowJSON.
func readAll(t *testing.T, fake *bqfake.Server, id string, columns []string, maxStreams int32) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	rc, err := storage.NewBigQueryReadClient(ctx, option.WithEndpoint(fake.Endpoint), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	require.NoError(t, err)
	defer rc.Close()
	s, err := rc.CreateReadSession(ctx, &storagepb.CreateReadSessionRequest{
		Parent: "projects/p-fake",
		ReadSession: &storagepb.ReadSession{
			Table:       "projects/proj-a/datasets/analytics_1/tables/" + id,
			DataFormat:  storagepb.DataFormat_ARROW,
			ReadOptions: &storagepb.ReadSession_TableReadOptions{SelectedFields: columns},
		},
		MaxStreamCount: maxStreams,
	})
	require.NoError(t, err)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var rows []string
	for _, st := range s.GetStreams() {
		rr, err := rc.ReadRows(ctx, &storagepb.ReadRowsRequest{ReadStream: st.GetName()})
		require.NoError(t, err)
		for {
			resp, err := rr.Recv()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			r, err := ipc.NewReader(io.MultiReader(bytes.NewReader(s.GetArrowSchema().GetSerializedSchema()),
				bytes.NewReader(resp.GetArrowRecordBatch().GetSerializedRecordBatch())), ipc.WithAllocator(mem))
			require.NoError(t, err)
			for r.Next() {
				require.Equal(t, resp.GetRowCount(), r.RecordBatch().NumRows())
				for i := 0; i < int(r.RecordBatch().NumRows()); i++ {
					rows = append(rows, bqfake.RowJSON(r.RecordBatch(), i))
				}
			}
			require.NoError(t, r.Err())
			r.Release()
		}
	}
	return rows, len(s.GetStreams())
}

// TestRecordAndRows: a table given as an Arrow record (here a slice of one, to
// exercise offsets) reads exactly as the same rows given as NDJSON, projected to
// nested columns, and the server releases the record on Close.
func TestRecordAndRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rows := fixture(t)
	full, _, err := array.RecordFromJSON(mem, bqfake.ExportSchema(), strings.NewReader("["+strings.Join(rows, ",")+"]"))
	require.NoError(t, err)
	rec := full.NewSlice(1, full.NumRows())
	full.Release()
	defer rec.Release()

	fake := bqfake.Start(t, bqfake.Config{Project: "proj-a", Dataset: "analytics_1"})
	defer fake.Close()
	fake.AddTable("from_rows", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: rows[1:], Streams: 3, PerResp: 2})
	fake.AddTable("from_record", bqfake.Table{Record: rec, Streams: 3, PerResp: 2})

	columns := []string{"event_name", "user_pseudo_id", "collected_traffic_source.manual_source", "ecommerce.purchase_revenue",
		"session_traffic_source_last_click.manual_campaign.source"}
	fromRows, n := readAll(t, fake, "from_rows", columns, 0)
	require.Equal(t, 3, n)
	fromRecord, n := readAll(t, fake, "from_record", columns, 2)
	require.Equal(t, 2, n, "MaxStreamCount caps the streams")
	require.Len(t, fromRows, len(rows)-1)
	require.Equal(t, fromRows, fromRecord)
	sent := fake.Sent()
	require.Len(t, sent, 2)
	require.Equal(t, sent[0], fromRows)
	require.Equal(t, sent[1], fromRecord)
	// Lines 2, 5 and 6 of the fixture: a campaign page view, a lead, a purchase.
	require.JSONEq(t, `{"event_name":"page_view","user_pseudo_id":"1829374650.1767603600",
		"collected_traffic_source":{"manual_source":"newsletter"},"session_traffic_source_last_click":null,"ecommerce":null}`, fromRecord[0])
	require.JSONEq(t, `{"event_name":"generate_lead","user_pseudo_id":"583920174.1767610000",
		"collected_traffic_source":null,"session_traffic_source_last_click":null,"ecommerce":null}`, fromRecord[3])
	require.JSONEq(t, `{"event_name":"purchase","user_pseudo_id":"1829374650.1767603600",
		"collected_traffic_source":null,"session_traffic_source_last_click":null,"ecommerce":{"purchase_revenue":149}}`, fromRecord[4])
}

// TestSessionErrors: what BigQuery answers for a missing dataset, table or column.
func TestSessionErrors(t *testing.T) {
	fake := bqfake.Start(t, bqfake.Config{Project: "proj-a", Dataset: "analytics_1"})
	fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixture(t)})
	ctx := context.Background()
	rc, err := storage.NewBigQueryReadClient(ctx, option.WithEndpoint(fake.Endpoint), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	require.NoError(t, err)
	defer rc.Close()
	tests := []struct {
		table, column string
		code          codes.Code
		msg           string
	}{
		{"projects/proj-a/datasets/analytics_2/tables/events_20260105", "event_name", codes.NotFound, "Not found: Dataset proj-a:analytics_2"},
		{"projects/proj-a/datasets/analytics_1/tables/events_20260106", "event_name", codes.NotFound, "Not found: Table proj-a:analytics_1.events_20260106"},
		{"projects/proj-a/datasets/analytics_1/tables/events_20260105", "items.price", codes.InvalidArgument,
			"request failed: the following selected fields do not exist in the table schema: items.price"},
	}
	for _, tt := range tests {
		_, err := rc.CreateReadSession(ctx, &storagepb.CreateReadSessionRequest{
			Parent: "projects/proj-a",
			ReadSession: &storagepb.ReadSession{Table: tt.table, DataFormat: storagepb.DataFormat_ARROW,
				ReadOptions: &storagepb.ReadSession_TableReadOptions{SelectedFields: []string{tt.column}}},
		})
		st, _ := status.FromError(err)
		require.Equal(t, tt.code, st.Code(), tt.table)
		require.Equal(t, tt.msg, st.Message(), tt.table)
	}
}

// TestWithoutField drops nested and top-level fields.
func TestWithoutField(t *testing.T) {
	s := bqfake.WithoutField(bqfake.WithoutField(bqfake.ExportSchema(), "ecommerce.purchase_revenue"), "user_id")
	require.Empty(t, s.FieldIndices("user_id"))
	ecom := s.Field(s.FieldIndices("ecommerce")[0]).Type.(*arrow.StructType)
	_, ok := ecom.FieldIdx("purchase_revenue")
	require.False(t, ok)
	_, ok = ecom.FieldIdx("tax_value")
	require.True(t, ok)
}
