package bqstorage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/bigquery/storage/apiv1/storagepb"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage/bqfake"
	"closedloop/extract/httpretry"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// got is what a read delivered: rows as JSON per table, and the batches' places.
type got struct {
	busy      atomic.Bool
	rows      map[string][]string // table id -> rows
	locations []string            // Location(0) of every batch
	offsets   map[string][]int64  // "table stream i" -> batch offsets in delivery order
}

// collect returns a callback that records every batch into g.
func (g *got) collect(b Batch) error {
	if !g.busy.CompareAndSwap(false, true) {
		return errors.New("callback called concurrently")
	}
	defer g.busy.Store(false)
	if g.rows == nil {
		g.rows, g.offsets = map[string][]string{}, map[string][]int64{}
	}
	for i := 0; i < int(b.Record.NumRows()); i++ {
		g.rows[b.Table.ID] = append(g.rows[b.Table.ID], bqfake.RowJSON(b.Record, i))
	}
	g.locations = append(g.locations, b.Location(0))
	key := fmt.Sprintf("%s stream %d", b.Table.ID, b.Stream)
	g.offsets[key] = append(g.offsets[key], b.Offset)
	return nil
}

func sorted(s []string) []string {
	s = append([]string(nil), s...)
	sort.Strings(s)
	return s
}

func TestReadRange(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rows := fixtureRows(t)
	rig := startRig(t, Config{Mem: mem, Intraday: true, RowRestriction: "platform = 'WEB'"}, bqfake.Config{PageSize: 2})
	for _, id := range []string{"events_20260105", "events_20260106", "events_intraday_20260107"} {
		rig.fake.AddTable(id, bqfake.Table{Schema: bqfake.ExportSchema(), Rows: rows, Streams: 2, PerResp: 3})
	}
	rig.fake.List("events_20260104",
		"events_intraday_20260105", // a leftover beside its daily table: the daily one is read
		"pseudonymous_users_20260105", "events_2026", "events_20260109")

	var g got
	missing, err := rig.ReadRange(context.Background(), extract.Range{From: day("2026-01-05"), To: day("2026-01-08")}, g.collect)
	require.NoError(t, err)

	require.Equal(t, []Missing{{
		Day:      day("2026-01-08"),
		Location: "bigquery://proj-a/analytics_123456/events_20260108",
		Reason: "neither events_20260108 nor events_intraday_20260108 exists in proj-a.analytics_123456: " +
			"this day's events are not read. Check that the GA4 BigQuery link exports this property (daily or " +
			"streaming), that the property's time zone is UTC, and the dataset's table expiration",
	}}, missing)

	// tables.list in pages of two.
	require.Equal(t, []string{
		"GET /bigquery/v2/projects/proj-a/datasets/analytics_123456/tables?pageToken=",
		"GET /bigquery/v2/projects/proj-a/datasets/analytics_123456/tables?pageToken=2",
		"GET /bigquery/v2/projects/proj-a/datasets/analytics_123456/tables?pageToken=4",
		"GET /bigquery/v2/projects/proj-a/datasets/analytics_123456/tables?pageToken=6",
	}, rig.fake.RESTRequests())

	// One session per table, each asking for Arrow, the default columns, the day's
	// time bounds and the configured restriction.
	creates := rig.fake.Creates()
	require.Len(t, creates, 3)
	var tables []string
	for _, req := range creates {
		rs := req.GetReadSession()
		tables = append(tables, rs.GetTable())
		require.Equal(t, "projects/proj-a", req.GetParent())
		require.Equal(t, int32(2), req.GetMaxStreamCount())
		require.Equal(t, storagepb.DataFormat_ARROW, rs.GetDataFormat())
		require.Equal(t, DefaultColumns, rs.GetReadOptions().GetSelectedFields())
		require.Equal(t, storagepb.ArrowSerializationOptions_LZ4_FRAME,
			rs.GetReadOptions().GetArrowSerializationOptions().GetBufferCompression())
		d, err := time.Parse("20060102", rs.GetTable()[len(rs.GetTable())-8:])
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("(event_timestamp IS NULL OR (event_timestamp >= %d AND event_timestamp < %d)) AND (platform = 'WEB')",
			d.UnixMicro(), d.AddDate(0, 0, 1).UnixMicro()), rs.GetReadOptions().GetRowRestriction())
	}
	require.ElementsMatch(t, []string{
		tablePath("events_20260105"), tablePath("events_20260106"), tablePath("events_intraday_20260107"),
	}, tables)

	// Every row sent arrives once, unchanged.
	sent := rig.fake.Sent()
	require.Len(t, sent, 3)
	for _, id := range []string{"events_20260105", "events_20260106", "events_intraday_20260107"} {
		require.Equal(t, sorted(sent[0]), sorted(g.rows[id]), id)
		require.Len(t, g.rows[id], 8)
	}
	// Two streams of four rows each, in responses of three rows, in order per stream.
	for _, id := range []string{"events_20260105", "events_20260106", "events_intraday_20260107"} {
		for s := 0; s < 2; s++ {
			require.Equal(t, []int64{0, 3}, g.offsets[fmt.Sprintf("%s stream %d", id, s)])
		}
	}
	require.Contains(t, g.locations, "bigquery://proj-a/analytics_123456/events_intraday_20260107 stream 1:row 4")
}

func TestReadValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	rig := newRig(t, Config{Mem: mem})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 2, PerResp: 3})

	type param struct {
		key, str string
		num      any
	}
	type event struct {
		ts                 int64
		name, user, pseudo string
		params             []param
		campaign, source   string
		revenue            any
		columns            string
	}
	var events []event
	tbl := Table{Project: testProject, Dataset: testDataset, ID: "events_20260105", Day: day("2026-01-05")}
	err := rig.Read(context.Background(), tbl, func(b Batch) error {
		rec := b.Record
		var cols []string
		for _, f := range rec.Schema().Fields() {
			cols = append(cols, f.Name)
		}
		col := func(name string) int { return rec.Schema().FieldIndices(name)[0] }
		params := rec.Column(col("event_params")).(*array.List)
		items := params.ListValues().(*array.Struct)
		keys := items.Field(0).(*array.String)
		values := items.Field(1).(*array.Struct)
		strs, ints, doubles := values.Field(0).(*array.String), values.Field(1).(*array.Int64), values.Field(3).(*array.Float64)
		cts := rec.Column(col("collected_traffic_source")).(*array.Struct)
		ecom := rec.Column(col("ecommerce")).(*array.Struct)
		for i := 0; i < int(rec.NumRows()); i++ {
			e := event{
				ts:      rec.Column(col("event_timestamp")).(*array.Int64).Value(i),
				name:    rec.Column(col("event_name")).(*array.String).Value(i),
				user:    rec.Column(col("user_id")).(*array.String).ValueStr(i),
				pseudo:  rec.Column(col("user_pseudo_id")).(*array.String).ValueStr(i),
				columns: strings.Join(cols, ","),
			}
			start, end := params.ValueOffsets(i)
			for j := int(start); j < int(end); j++ {
				p := param{key: keys.Value(j)}
				switch {
				case strs.IsValid(j):
					p.str = strs.Value(j)
				case ints.IsValid(j):
					p.num = ints.Value(j)
				case doubles.IsValid(j):
					p.num = doubles.Value(j)
				}
				e.params = append(e.params, p)
			}
			if cts.IsValid(i) {
				e.campaign = cts.Field(0).(*array.String).ValueStr(i)
				e.source = cts.Field(1).(*array.String).ValueStr(i)
			}
			if ecom.IsValid(i) {
				e.revenue = ecom.Field(0).(*array.Float64).Value(i)
			}
			events = append(events, e)
		}
		return nil
	})
	require.NoError(t, err)
	sort.Slice(events, func(i, j int) bool { return events[i].ts < events[j].ts })
	cols := "event_timestamp,event_name,event_params,user_id,user_pseudo_id,stream_id,collected_traffic_source,session_traffic_source_last_click,ecommerce"
	home := "https://www.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=jan_launch&utm_content=hero_button"
	require.Equal(t, []event{
		{ts: 1767603600123456, name: "session_start", user: "(null)", pseudo: "1829374650.1767603600", columns: cols,
			campaign: "jan_launch", source: "newsletter", params: []param{
				{key: "ga_session_id", num: int64(1767603600)}, {key: "ga_session_number", num: int64(3)},
				{key: "page_location", str: home}, {key: "page_title", str: "Example — Home"},
				{key: "session_engaged", str: "1"}}},
		{ts: 1767603600124001, name: "page_view", user: "(null)", pseudo: "1829374650.1767603600", columns: cols,
			campaign: "jan_launch", source: "newsletter", params: []param{
				{key: "ga_session_id", num: int64(1767603600)}, {key: "ga_session_number", num: int64(3)},
				{key: "page_location", str: home}, {key: "page_title", str: "Example — Home"},
				{key: "entrances", num: int64(1)}, {key: "engaged_session_event", num: int64(1)}}},
		{ts: 1767603730500000, name: "page_view", user: "(null)", pseudo: "1829374650.1767603600", columns: cols,
			params: []param{
				{key: "ga_session_id", num: int64(1767603600)}, {key: "page_location", str: "https://www.example.com/pricing"},
				{key: "page_title", str: "Pricing | Example"}, {key: "page_referrer", str: home},
				{key: "engagement_time_msec", num: int64(8120)}}},
		{ts: 1767610000456789, name: "page_view", user: "(null)", pseudo: "583920174.1767610000", columns: cols,
			params: []param{
				{key: "ga_session_id", num: int64(1767610000)},
				{key: "page_location", str: "https://www.example.com/pricing?gclid=Cj0KCQiA7bXLBhD-ARIsAJ2kx9&gad_source=1"},
				{key: "page_title", str: "Pricing | Example"}, {key: "page_referrer", str: "https://www.google.com/"}}},
		{ts: 1767610200000001, name: "generate_lead", user: "crm-1042", pseudo: "583920174.1767610000", columns: cols,
			params: []param{
				{key: "ga_session_id", num: int64(1767610000)}, {key: "form_id", str: "demo-request"},
				{key: "email", str: "ada@example.com"}, {key: "value", num: 50.0}, {key: "currency", str: "EUR"},
				{key: "page_location", str: "https://www.example.com/demo"}, {key: "page_title", str: "Book a demo | Example"}}},
		{ts: 1767611700250000, name: "purchase", user: "crm-2001", pseudo: "1829374650.1767603600", columns: cols,
			revenue: 149.0, params: []param{
				{key: "ga_session_id", num: int64(1767611650)}, {key: "transaction_id", str: "T-20260105-0007"},
				{key: "value", num: 149.0}, {key: "currency", str: "EUR"},
				{key: "page_location", str: "https://www.example.com/checkout/thank-you"},
				{key: "page_title", str: "Thank you | Example"}}},
		{ts: 1767620000987654, name: "screen_view", user: "(null)", pseudo: "C3A1F0E2B4D64B8C9E7F0A1B2C3D4E5F", columns: cols,
			params: []param{
				{key: "ga_session_id", num: int64(1767619990)}, {key: "firebase_screen", str: "Offers"},
				{key: "firebase_screen_class", str: "OffersActivity"}, {key: "source", str: "winter_push"},
				{key: "medium", str: "push"}, {key: "campaign", str: "winter_sale"}, {key: "term", num: int64(2026)}}},
		{ts: 1767621600000000, name: "page_view", user: "(null)", pseudo: "(null)", columns: cols,
			params: []param{
				{key: "page_location", str: "https://www.example.com/blog/attribution"},
				{key: "page_title", str: "Attribution 101 | Example"}}},
	}, events)
	// A Table built by hand has no time bounds: no restriction at all.
	require.Equal(t, "", rig.fake.Creates()[0].GetReadSession().GetReadOptions().GetRowRestriction())
}

func TestResume(t *testing.T) {
	tests := []struct {
		name  string
		fault bqfake.Fault
		idle  time.Duration
	}{
		{"unavailable", bqfake.Fault{Stream: 1, At: 2, Times: 1, Err: status.Error(codes.Unavailable, "connection reset")}, 0},
		{"internal twice", bqfake.Fault{Stream: 1, At: 2, Times: 2, Err: status.Error(codes.Internal, "RST_STREAM")}, 0},
		{"silent", bqfake.Fault{Stream: 1, At: 2, Times: 1}, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rig := newRig(t, Config{Mem: mem, IdleTimeout: tt.idle})
			rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 2, PerResp: 2})
			rig.fake.AddFault(tt.fault)

			var g got
			_, err := rig.ReadRange(context.Background(), extract.Range{From: day("2026-01-05"), To: day("2026-01-05")}, g.collect)
			require.NoError(t, err)
			require.Equal(t, sorted(rig.fake.Sent()[0]), sorted(g.rows["events_20260105"]), "every row once")
			require.Equal(t, []int64{0, 2}, g.offsets["events_20260105 stream 0"])
			require.Equal(t, []int64{0, 2}, g.offsets["events_20260105 stream 1"])

			// Stream 1 was reopened after its first response (two rows) at offset 2.
			var stream1 []int64
			for _, r := range rig.fake.Reads() {
				if strings.HasSuffix(r.GetReadStream(), "/streams/1") {
					stream1 = append(stream1, r.GetOffset())
				}
			}
			want := []int64{0}
			for i := 0; i < tt.fault.Times; i++ {
				want = append(want, 2)
			}
			require.Equal(t, want, stream1)
		})
	}
}

func TestStreamErrors(t *testing.T) {
	tests := []struct {
		name  string
		fault bqfake.Fault
		want  string
	}{
		{"not retryable", bqfake.Fault{Stream: 0, At: 2, Times: 1, Err: status.Error(codes.PermissionDenied, "read access revoked")},
			"bigquery://proj-a/analytics_123456/events_20260105 stream 0 row 2: permission denied"},
		{"broken batch", bqfake.Fault{Stream: 0, At: 2, Times: 1, Err: bqfake.ErrGarbage},
			"bigquery://proj-a/analytics_123456/events_20260105 stream 0 row 2: decoding an Arrow record batch: arrow/ipc: invalid message metadata"},
		{"gives up", bqfake.Fault{Stream: 0, At: 0, Times: 100, Err: status.Error(codes.Unavailable, "backend down")},
			"bigquery://proj-a/analytics_123456/events_20260105 stream 0 row 0: giving up after 5 failures in a row (MaxAttempts): rpc error: code = Unavailable desc = backend down"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rig := newRig(t, Config{Mem: mem})
			rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 1, PerResp: 2})
			rig.fake.AddFault(tt.fault)
			tbl := Table{Project: testProject, Dataset: testDataset, ID: "events_20260105"}
			err := rig.Read(context.Background(), tbl, func(Batch) error { return nil })
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestStreamRetryPolicy: Config.Retry bounds the failures in a row of a stream;
// a stream that delivers rows starts counting afresh.
func TestStreamRetryPolicy(t *testing.T) {
	tbl := Table{Project: testProject, Dataset: testDataset, ID: "events_20260105"}
	retry := httpretry.Policy{MaxAttempts: 3, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}

	rig := newRig(t, Config{Retry: retry})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 1, PerResp: 2})
	rig.fake.AddFault(bqfake.Fault{Stream: 0, At: 0, Times: 100, Err: status.Error(codes.Unavailable, "backend down")})
	err := rig.Read(context.Background(), tbl, func(Batch) error { return nil })
	require.ErrorContains(t, err, "stream 0 row 0: giving up after 3 failures in a row (MaxAttempts)")
	require.Len(t, rig.fake.Reads(), 3, "MaxAttempts attempts")

	// Two failures, rows, two failures again: never three in a row.
	rig = newRig(t, Config{Retry: retry})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 1, PerResp: 2})
	rig.fake.AddFault(bqfake.Fault{Stream: 0, At: 0, Times: 2, Err: status.Error(codes.Unavailable, "backend down")})
	rig.fake.AddFault(bqfake.Fault{Stream: 0, At: 2, Times: 2, Err: status.Error(codes.Internal, "RST_STREAM")})
	rows := 0
	err = rig.Read(context.Background(), tbl, func(b Batch) error { rows += int(b.Record.NumRows()); return nil })
	require.NoError(t, err)
	require.Equal(t, len(fixtureRows(t)), rows)
	var offsets []int64
	for _, r := range rig.fake.Reads() {
		offsets = append(offsets, r.GetOffset())
	}
	require.Equal(t, []int64{0, 0, 0, 2, 2}, offsets, "4 failures, never 3 in a row")
}

func TestEmptyTable(t *testing.T) {
	rig := newRig(t, Config{})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Streams: 2, PerResp: 2})
	calls := 0
	missing, err := rig.ReadRange(context.Background(), extract.Range{From: day("2026-01-05"), To: day("2026-01-05")},
		func(Batch) error { calls++; return nil })
	require.NoError(t, err)
	require.Empty(t, missing)
	require.Len(t, rig.fake.Creates(), 1)
	require.Empty(t, rig.fake.Reads())
	require.Zero(t, calls)
}

func TestCallbackError(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rig := newRig(t, Config{Mem: mem})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 1, PerResp: 2})

	stop := errors.New("writer full")
	calls := 0
	err := rig.Read(context.Background(), Table{Project: testProject, Dataset: testDataset, ID: "events_20260105"}, func(Batch) error {
		calls++
		return stop
	})
	require.Same(t, stop, err)
	require.Equal(t, 1, calls)
	require.Len(t, rig.fake.Reads(), 1, "an error of the callback is not retried")
}

func TestSessionErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
		code codes.Code
	}{
		{"not found", nil,
			"configuration: bigquery://proj-a/analytics_123456/events_20260105: creating a read session: not found: " +
				"check the project (proj-a) and the dataset (analytics_123456; GA4 names it analytics_<property id>), " +
				"and that the GA4 BigQuery link exports to it (rpc error: code = NotFound desc = Not found: Table " +
				"proj-a:analytics_123456.events_20260105)", codes.NotFound},
		{"permission denied", status.Error(codes.PermissionDenied, "request failed: the user does not have 'bigquery.readsessions.create' permission for 'projects/bill-b'"),
			"configuration: bigquery://proj-a/analytics_123456/events_20260105: creating a read session: permission denied: " +
				"grant the credentials' principal roles/bigquery.dataViewer on dataset proj-a.analytics_123456 and " +
				"roles/bigquery.readSessionUser on project bill-b, and enable the BigQuery Storage API in project bill-b " +
				"(rpc error: code = PermissionDenied desc = request failed: the user does not have " +
				"'bigquery.readsessions.create' permission for 'projects/bill-b')", codes.PermissionDenied},
		{"unauthenticated", status.Error(codes.Unauthenticated, "Request had invalid authentication credentials."),
			"configuration: bigquery://proj-a/analytics_123456/events_20260105: creating a read session: not authenticated: " +
				"set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run `gcloud auth application-default login`, " +
				"or run where a service account is attached (rpc error: code = Unauthenticated desc = Request had invalid " +
				"authentication credentials.)", codes.Unauthenticated},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newRig(t, Config{BillingProject: "bill-b"})
			if tt.err != nil {
				rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(), Err: tt.err})
			}
			err := rig.Read(context.Background(), Table{Project: testProject, Dataset: testDataset, ID: "events_20260105"},
				func(Batch) error { return nil })
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, extract.ErrConfig)
			require.Equal(t, tt.code, status.Code(err))
			require.Equal(t, "projects/bill-b", rig.fake.Creates()[0].GetParent())
		})
	}
}

func TestListErrors(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		dataset string
		want    string
	}{
		{"dataset not found", 0, "analytics_999",
			"configuration: bigquery://proj-a/analytics_999: listing tables: not found: check the project (proj-a) and the " +
				"dataset (analytics_999; GA4 names it analytics_<property id>), and that the GA4 BigQuery link exports to it " +
				"(googleapi: Error 404: Not found: Dataset proj-a:analytics_999)"},
		{"permission denied", http.StatusForbidden, testDataset,
			"configuration: bigquery://proj-a/analytics_123456: listing tables: permission denied: grant the credentials' " +
				"principal roles/bigquery.dataViewer on dataset proj-a.analytics_123456 and roles/bigquery.readSessionUser " +
				"on project proj-a, and enable the BigQuery Storage API in project proj-a (googleapi: Error 403: Access " +
				"Denied: Dataset proj-a:analytics_123456: Permission bigquery.tables.list denied)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newRig(t, Config{})
			rig.fake.FailREST(tt.status)
			rig.cfg.Dataset = tt.dataset
			_, _, err := rig.Days(context.Background(), extract.Range{From: day("2026-01-05"), To: day("2026-01-05")})
			require.EqualError(t, err, tt.want)
			require.ErrorIs(t, err, extract.ErrConfig)
		})
	}
}

func TestDays(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	require.NoError(t, err)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	require.NoError(t, err)
	utc := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	listed := []string{"events_20260104", "events_20260105", "events_20260106", "events_intraday_20260107", "events_20260107x"}
	tbl := func(id, d string, intraday bool, start, end string) Table {
		return Table{Project: testProject, Dataset: testDataset, ID: id, Day: day(d), Intraday: intraday, Start: utc(start), End: utc(end)}
	}
	tests := []struct {
		name     string
		zone     *time.Location
		intraday bool
		tables   []Table
		missing  []string
	}{
		{"utc", nil, false, []Table{
			tbl("events_20260105", "2026-01-05", false, "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"),
			tbl("events_20260106", "2026-01-06", false, "2026-01-06T00:00:00Z", "2026-01-07T00:00:00Z"),
		}, nil},
		// 2026-01-05 00:00Z is January 4, 16:00 in Los Angeles: the range starts in
		// table 20260104 and ends in 20260106 at 16:00 local.
		{"los angeles", la, false, []Table{
			tbl("events_20260104", "2026-01-04", false, "2026-01-05T00:00:00Z", "2026-01-05T08:00:00Z"),
			tbl("events_20260105", "2026-01-05", false, "2026-01-05T08:00:00Z", "2026-01-06T08:00:00Z"),
			tbl("events_20260106", "2026-01-06", false, "2026-01-06T08:00:00Z", "2026-01-07T00:00:00Z"),
		}, nil},
		// 2026-01-06 24:00Z is January 7, 09:00 in Tokyo: table 20260107 holds the last
		// nine hours, and only its intraday table exists.
		{"tokyo", tokyo, false, []Table{
			tbl("events_20260105", "2026-01-05", false, "2026-01-05T00:00:00Z", "2026-01-05T15:00:00Z"),
			tbl("events_20260106", "2026-01-06", false, "2026-01-05T15:00:00Z", "2026-01-06T15:00:00Z"),
		}, []string{"bigquery://proj-a/analytics_123456/events_20260107"}},
		{"tokyo intraday", tokyo, true, []Table{
			tbl("events_20260105", "2026-01-05", false, "2026-01-05T00:00:00Z", "2026-01-05T15:00:00Z"),
			tbl("events_20260106", "2026-01-06", false, "2026-01-05T15:00:00Z", "2026-01-06T15:00:00Z"),
			tbl("events_intraday_20260107", "2026-01-07", true, "2026-01-06T15:00:00Z", "2026-01-07T00:00:00Z"),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rig := newRig(t, Config{TimeZone: tt.zone, Intraday: tt.intraday})
			rig.fake.List(listed...)
			tables, missing, err := rig.Days(context.Background(), extract.Range{From: day("2026-01-05"), To: day("2026-01-06")})
			require.NoError(t, err)
			require.Equal(t, tt.tables, tables)
			var locs []string
			for _, m := range missing {
				locs = append(locs, m.Location)
				require.Contains(t, m.Reason, "enable intraday (?intraday=true)")
			}
			require.Equal(t, tt.missing, locs)
		})
	}

	rig := newRig(t, Config{})
	_, _, err = rig.Days(context.Background(), extract.Range{From: day("2026-01-06"), To: day("2026-01-05")})
	require.ErrorIs(t, err, extract.ErrConfig)
}

func TestIntradayGone(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rig := newRig(t, Config{Mem: mem, Intraday: true})
	// Listed as intraday, but the daily table replaced it before the read.
	rig.fake.AddTable("events_20260107", bqfake.Table{Schema: bqfake.ExportSchema(), Rows: fixtureRows(t), Streams: 1, PerResp: 8, Unlisted: true})
	rig.fake.List("events_intraday_20260107")

	var g got
	missing, err := rig.ReadRange(context.Background(), extract.Range{From: day("2026-01-07"), To: day("2026-01-07")}, g.collect)
	require.NoError(t, err)
	require.Empty(t, missing)
	require.Len(t, g.rows["events_20260107"], 8)
	creates := rig.fake.Creates()
	require.Len(t, creates, 2)
	require.Equal(t, tablePath("events_intraday_20260107"), creates[0].GetReadSession().GetTable())
	require.Equal(t, tablePath("events_20260107"), creates[1].GetReadSession().GetTable())
}

func TestOlderTableColumns(t *testing.T) {
	base := []string{"event_timestamp", "event_name", "event_params", "user_id", "user_pseudo_id", "stream_id"}
	tests := []struct {
		name   string
		id     string
		schema *arrow.Schema
		kept   []string
		cols   []string
	}{
		// Before June 2023: neither collected_traffic_source nor the last-click record.
		{"2023", "events_20230101",
			bqfake.WithoutField(bqfake.WithoutField(bqfake.ExportSchema(), "collected_traffic_source"), "session_traffic_source_last_click"),
			append(append([]string{}, base...), "ecommerce.purchase_revenue"),
			append(append([]string{}, base...), "ecommerce")},
		// August 2024: the last-click record without cross_channel_campaign (October 2024).
		{"2024", "events_20240801",
			bqfake.WithoutField(bqfake.ExportSchema(), "session_traffic_source_last_click.cross_channel_campaign"),
			slices.DeleteFunc(slices.Clone(DefaultColumns), func(c string) bool {
				return strings.HasPrefix(c, "session_traffic_source_last_click.cross_channel_campaign.")
			}),
			append(append([]string{}, base...), "collected_traffic_source", "session_traffic_source_last_click", "ecommerce")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rig := newRig(t, Config{Mem: mem})
			rig.fake.AddTable(tt.id, bqfake.Table{Schema: tt.schema, Rows: fixtureRows(t), Streams: 1, PerResp: 8})

			var cols []string
			rows := 0
			err := rig.Read(context.Background(), Table{Project: testProject, Dataset: testDataset, ID: tt.id}, func(b Batch) error {
				cols = cols[:0]
				for _, f := range b.Record.Schema().Fields() {
					cols = append(cols, f.Name)
				}
				rows += int(b.Record.NumRows())
				return nil
			})
			require.NoError(t, err)
			creates := rig.fake.Creates()
			require.Len(t, creates, 2)
			require.Equal(t, DefaultColumns, creates[0].GetReadSession().GetReadOptions().GetSelectedFields())
			require.Equal(t, tt.kept, creates[1].GetReadSession().GetReadOptions().GetSelectedFields())
			require.Equal(t, tt.cols, cols)
			require.Equal(t, 8, rows)
		})
	}

	// A restriction the server refuses, with every column present, stays an error.
	rig := newRig(t, Config{RowRestriction: "platform ="})
	rig.fake.AddTable("events_20260105", bqfake.Table{Schema: bqfake.ExportSchema(),
		Err: status.Error(codes.InvalidArgument, "Syntax error: Unexpected end of script")})
	err := rig.Read(context.Background(), Table{Project: testProject, Dataset: testDataset, ID: "events_20260105"},
		func(Batch) error { return nil })
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, `request refused: check the columns`)
	require.ErrorContains(t, err, `and the row restriction "platform =" (rpc error: code = InvalidArgument desc = Syntax error: Unexpected end of script)`)
	require.Len(t, rig.fake.Creates(), 1)
}

func TestParseLocation(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	tests := []struct {
		loc  string
		want Config
		err  string
	}{
		{loc: "bigquery://proj-a/analytics_123456", want: Config{Project: "proj-a", Dataset: "analytics_123456"}},
		{loc: "bigquery://proj-a/analytics_123456/?intraday=true&tz=Europe/Berlin&billing_project=bill-b",
			want: Config{Project: "proj-a", Dataset: "analytics_123456", Intraday: true, TimeZone: berlin, BillingProject: "bill-b"}},
		{loc: "bigquery://example.com:proj-a/analytics_1", want: Config{Project: "example.com:proj-a", Dataset: "analytics_1"}},
		{loc: "proj-a/analytics_1", err: "configuration: ga4:proj-a/analytics_1: want bigquery://PROJECT/DATASET"},
		{loc: "bigquery://proj-a", err: "configuration: ga4:bigquery://proj-a: want bigquery://PROJECT/DATASET"},
		{loc: "bigquery://proj-a/a/b", err: "configuration: ga4:bigquery://proj-a/a/b: want bigquery://PROJECT/DATASET"},
		{loc: "bigquery://Proj/analytics_1", err: `configuration: ga4 bigquery: project "Proj" is not a Google Cloud project id (6-30 lower-case letters, digits, hyphens)`},
		{loc: "bigquery://proj-a/analytics-1", err: `configuration: ga4 bigquery: dataset "analytics-1" is not a BigQuery dataset id (letters, digits, underscores; GA4 names it analytics_<property id>)`},
		{loc: "bigquery://proj-a/analytics_1?tz=Mars/Olympus", err: `configuration: ga4:bigquery://proj-a/analytics_1?tz=Mars/Olympus: tz="Mars/Olympus": want an IANA time zone such as Europe/Amsterdam (the GA4 property's reporting time zone)`},
		{loc: "bigquery://proj-a/analytics_1?intraday=yes", err: `configuration: ga4:bigquery://proj-a/analytics_1?intraday=yes: intraday="yes": want true or false`},
		{loc: "bigquery://proj-a/analytics_1?days=3", err: `configuration: ga4:bigquery://proj-a/analytics_1?days=3: unknown parameter "days" (known: intraday, tz, billing_project)`},
	}
	for _, tt := range tests {
		t.Run(tt.loc, func(t *testing.T) {
			cfg, err := ParseLocation(tt.loc)
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				require.ErrorIs(t, err, extract.ErrConfig)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, cfg)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Project: "proj-a", Dataset: "analytics_1", Columns: []string{}},
		{Project: "proj-a", Dataset: "analytics_1", Columns: []string{"event_params.value; DROP"}},
		{Project: "proj-a", Dataset: "analytics_1", Streams: -1},
	} {
		_, err := New(context.Background(), cfg)
		require.ErrorIs(t, err, extract.ErrConfig)
	}
}

func TestNoCredentials(t *testing.T) {
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	_, err := New(context.Background(), Config{Project: testProject, Dataset: testDataset})
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, "ga4 bigquery: cannot set up the Storage Read API client: ")
	require.ErrorContains(t, err, "Set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file")
}
