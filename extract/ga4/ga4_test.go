package ga4

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

const fixture = "testdata/events_20260105.ndjson"

// run extracts path and returns the events table as rows and the rejections.
func run(t *testing.T, path string) ([]map[string]any, []extract.Rejection) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()

	e := New(Config{Spec: "ga4:" + path, Path: path, Mem: mem})
	require.NoError(t, e.Extract(context.Background(), c))
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	return rows(t, tbl), c.Rejections()
}

// runLines writes lines to a temporary file and extracts it.
func runLines(t *testing.T, lines ...string) (string, []map[string]any, []extract.Rejection) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	got, rej := run(t, path)
	return path, got, rej
}

// rows turns tbl into one map per row, column name to Go value (nil for null).
func rows(t *testing.T, tbl arrow.Table) []map[string]any {
	t.Helper()
	out := make([]map[string]any, tbl.NumRows())
	for i := range out {
		out[i] = map[string]any{}
	}
	for c := 0; c < int(tbl.NumCols()); c++ {
		name := tbl.Schema().Field(c).Name
		r := 0
		for _, chunk := range tbl.Column(c).Data().Chunks() {
			for j := 0; j < chunk.Len(); j, r = j+1, r+1 {
				if chunk.IsNull(j) {
					out[r][name] = nil
					continue
				}
				switch a := chunk.(type) {
				case *array.String:
					out[r][name] = a.Value(j)
				case *array.Timestamp:
					out[r][name] = a.Value(j).ToTime(arrow.Microsecond).UTC()
				case *array.Float64:
					out[r][name] = a.Value(j)
				case *array.Boolean:
					out[r][name] = a.Value(j)
				default:
					t.Fatalf("column %s: unexpected type %T", name, chunk)
				}
			}
		}
	}
	return out
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// eventRow is an expected row: every column null (or false) but those in set.
func eventRow(set map[string]any) map[string]any {
	row := map[string]any{}
	for _, f := range extract.EventsSchema.Fields() {
		row[f.Name] = nil
	}
	row["is_conversion"] = false
	for k, v := range set {
		if _, ok := row[k]; !ok {
			panic("no column " + k)
		}
		row[k] = v
	}
	return row
}

func TestExtractFixture(t *testing.T) {
	const spec = "ga4:" + fixture
	const home = "https://www.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=jan_launch&utm_content=hero_button"
	const userA = "1829374650.1767603600"
	const userB = "583920174.1767610000"
	got, rej := run(t, fixture)

	want := []map[string]any{
		eventRow(map[string]any{ // collected_traffic_source utms; int_value as a string
			"input": spec, "location": fixture + ":1", "occurred_at": utc("2026-01-05T09:00:00.123456Z"),
			"kind": extract.KindEvent, "event_name": "session_start", "anonymous_id": userA,
			"session_key": "1767603600", "page_location": home, "page_title": "Example — Home",
			"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "jan_launch", "utm_content": "hero_button",
		}),
		eventRow(map[string]any{
			"input": spec, "location": fixture + ":2", "occurred_at": utc("2026-01-05T09:00:00.124001Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": userA,
			"session_key": "1767603600", "page_location": home, "page_title": "Example — Home",
			"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "jan_launch", "utm_content": "hero_button",
		}),
		eventRow(map[string]any{ // no utms: traffic_source (first touch: partner.example.org) is not used
			"input": spec, "location": fixture + ":3", "occurred_at": utc("2026-01-05T09:02:10.5Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": userA,
			"session_key": "1767603600", "page_location": "https://www.example.com/pricing",
			"page_title": "Pricing | Example", "page_referrer": home,
		}),
		eventRow(map[string]any{ // numbers for INT64, explicit nulls; the URL's gclid stays in the URL
			"input": spec, "location": fixture + ":4", "occurred_at": utc("2026-01-05T10:46:40.456789Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": userB,
			"session_key": "1767610000", "page_location": "https://www.example.com/pricing?gclid=Cj0KCQiA7bXLBhD-ARIsAJ2kx9&gad_source=1",
			"page_title": "Pricing | Example", "page_referrer": "https://www.google.com/",
		}),
		eventRow(map[string]any{
			"input": spec, "location": fixture + ":5", "occurred_at": utc("2026-01-05T10:50:00.000001Z"),
			"kind": extract.KindEvent, "event_name": "generate_lead", "anonymous_id": userB, "user_id": "crm-1042",
			"email": "ada@example.com", "session_key": "1767610000", "page_location": "https://www.example.com/demo",
			"page_title": "Book a demo | Example", "currency": "EUR",
		}),
		eventRow(map[string]any{
			"input": spec, "location": fixture + ":6", "occurred_at": utc("2026-01-05T11:15:00.25Z"),
			"kind": extract.KindEvent, "event_name": "purchase", "anonymous_id": userA, "user_id": "crm-2001",
			"session_key": "1767611650", "page_location": "https://www.example.com/checkout/thank-you",
			"page_title": "Thank you | Example", "conversion_value": 149.0, "currency": "EUR",
		}),
		eventRow(map[string]any{ // app: utms from event params, an int_value term rendered in decimal
			"input": spec, "location": fixture + ":7", "occurred_at": utc("2026-01-05T13:33:20.987654Z"),
			"kind": extract.KindPageView, "event_name": "screen_view", "anonymous_id": "C3A1F0E2B4D64B8C9E7F0A1B2C3D4E5F",
			"session_key": "1767619990", "utm_source": "winter_push", "utm_medium": "push",
			"utm_campaign": "winter_sale", "utm_term": "2026",
		}),
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "row %d", i)
	}

	require.Len(t, rej, 2)
	require.Equal(t, spec, rej[0].Input)
	require.Equal(t, fixture+":8", rej[0].Location)
	require.Contains(t, rej[0].Reason, "invalid JSON: unexpected end of JSON input")
	require.True(t, strings.HasPrefix(rej[0].Raw, `{"event_date":"20260105","event_timestamp":"1767625200000000"`), rej[0].Raw)
	require.Equal(t, fixture+":9", rej[1].Location)
	require.Contains(t, rej[1].Reason, "consent-denied")
	require.Contains(t, rej[1].Raw, "https://www.example.com/blog/attribution")
}

// TestExtractGzip reads a gzipped copy of the fixture, named with and without .gz,
// and expects the same rows.
func TestExtractGzip(t *testing.T) {
	plain, err := os.ReadFile(fixture)
	require.NoError(t, err)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err = zw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	want, wantRej := run(t, fixture)
	for _, name := range []string{"events_20260105.ndjson.gz", "events_20260105.ndjson"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			require.NoError(t, os.WriteFile(path, zipped.Bytes(), 0o644))
			got, rej := run(t, path)
			require.Len(t, got, len(want))
			for i := range want {
				for k, v := range want[i] {
					switch k {
					case "input":
						require.Equal(t, "ga4:"+path, got[i][k])
					case "location":
						require.Equal(t, strings.Replace(v.(string), fixture, path, 1), got[i][k])
					default:
						require.Equal(t, v, got[i][k], "row %d column %s", i, k)
					}
				}
			}
			require.Len(t, rej, len(wantRej))
			for i := range wantRej {
				require.Equal(t, wantRej[i].Reason, rej[i].Reason)
				require.Equal(t, wantRej[i].Raw, rej[i].Raw)
			}
		})
	}
}

func TestExtractLines(t *testing.T) {
	const ids = `"user_pseudo_id":"1.2"`
	const ts = `"event_timestamp":"1767603600123456"`
	at := utc("2026-01-05T09:00:00.123456Z")
	tests := []struct {
		name   string
		line   string
		want   map[string]any // columns to check
		reason string         // a rejection when set
	}{
		{name: "timestamp number", line: `{"event_timestamp":1767603600123456,"event_name":"x",` + ids + `}`,
			want: map[string]any{"occurred_at": at, "kind": extract.KindEvent}},
		{name: "timestamp float", line: `{"event_timestamp":1.767603600123456e15,"event_name":"x",` + ids + `}`,
			want: map[string]any{"occurred_at": at}},
		{name: "bad timestamp", line: `{"event_timestamp":"soon","event_name":"x",` + ids + `}`,
			reason: `bad event_timestamp "soon"`},
		{name: "seconds timestamp", line: `{"event_timestamp":1767603600,"event_name":"x",` + ids + `}`,
			reason: "bad event_timestamp 1767603600: not microseconds"},
		{name: "null timestamp", line: `{"event_timestamp":null,"event_name":"x",` + ids + `}`,
			reason: "no event_timestamp"},
		{name: "no timestamp", line: `{"event_name":"x",` + ids + `}`, reason: "no event_timestamp"},
		{name: "no name", line: `{` + ts + `,` + ids + `}`, reason: "no event_name"},
		{name: "no ids", line: `{` + ts + `,"event_name":"x","user_pseudo_id":null,"user_id":""}`,
			reason: "no user_pseudo_id or user_id: consent-denied"},
		{name: "user_id only, numeric", line: `{` + ts + `,"event_name":"login","user_id":1042}`,
			want: map[string]any{"user_id": "1042", "anonymous_id": nil}},
		{name: "escaped strings", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"page_title","value":{"string_value":"Caf\u00e9 \"Noir\""}}]}`,
			want: map[string]any{"page_title": `Café "Noir"`}},
		{name: "collected wins over params",
			line: `{` + ts + `,"event_name":"x",` + ids + `,"collected_traffic_source":{"manual_source":"google","manual_medium":"cpc","gclid":"G1"},` +
				`"event_params":[{"key":"source","value":{"string_value":"bing"}},{"key":"campaign","value":{"string_value":"brand"}},{"key":"gclid","value":{"string_value":"G2"}}]}`,
			want: map[string]any{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand", "gclid": "G1"}},
		{name: "gclid param", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"gclid","value":{"string_value":"G2"}}]}`,
			want: map[string]any{"gclid": "G2"}},
		{name: "traffic_source ignored", line: `{` + ts + `,"event_name":"x",` + ids + `,"traffic_source":{"name":"spring","medium":"cpc","source":"google"}}`,
			want: map[string]any{"utm_source": nil, "utm_medium": nil, "utm_campaign": nil}},
		{name: "session id as string_value", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"ga_session_id","value":{"string_value":"1767603600"}}]}`,
			want: map[string]any{"session_key": "1767603600"}},
		{name: "session id as double", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"ga_session_id","value":{"double_value":1767603600}}]}`,
			want: map[string]any{"session_key": "1767603600"}},
		{name: "revenue as string", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"ecommerce":{"purchase_revenue":"12.5"}}`,
			want: map[string]any{"conversion_value": 12.5, "is_conversion": false}},
		{name: "revenue null", line: `{` + ts + `,"event_name":"add_to_cart",` + ids + `,"ecommerce":{"purchase_revenue":null}}`,
			want: map[string]any{"conversion_value": nil}},
		{name: "revenue NaN", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"ecommerce":{"purchase_revenue":"NaN"}}`,
			want: map[string]any{"conversion_value": nil}},
		{name: "bad revenue", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"ecommerce":{"purchase_revenue":"12,50"}}`,
			reason: `bad ecommerce.purchase_revenue "12,50"`},
		{name: "object id", line: `{` + ts + `,"event_name":"x","user_pseudo_id":{"id":1}}`,
			reason: "not a GA4 export row"},
		{name: "array line", line: `[1,2]`, reason: "not a GA4 export row"},
		{name: "two objects", line: `{` + ts + `,"event_name":"x",` + ids + `} {}`, reason: "invalid JSON"},
		{name: "crlf", line: `{` + ts + `,"event_name":"x",` + ids + "}\r",
			want: map[string]any{"event_name": "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, got, rej := runLines(t, "", tt.line, "   ") // blank lines count but are skipped
			if tt.reason != "" {
				require.Empty(t, got)
				require.Len(t, rej, 1)
				require.Equal(t, path+":2", rej[0].Location)
				require.Contains(t, rej[0].Reason, tt.reason)
				require.Equal(t, strings.TrimSuffix(tt.line, "\r"), rej[0].Raw)
				return
			}
			require.Empty(t, rej)
			require.Len(t, got, 1)
			require.Equal(t, path+":2", got[0]["location"])
			for k, v := range tt.want {
				require.Equal(t, v, got[0][k], k)
			}
		})
	}
}

// TestExtractLongLine: a line over maxLine is one rejection (raw cut), and the
// lines after it still read.
func TestExtractLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 16 MiB line")
	}
	long := `{"event_name":"` + strings.Repeat("x", maxLine) + `"}`
	good := `{"event_timestamp":"1767603600123456","event_name":"x","user_pseudo_id":"1.2"}`
	path, got, rej := runLines(t, long, good)
	require.Len(t, got, 1)
	require.Equal(t, path+":2", got[0]["location"])
	require.Len(t, rej, 1)
	require.Equal(t, path+":1", rej[0].Location)
	require.Contains(t, rej[0].Reason, "line longer than 16 MiB")
	require.Len(t, rej[0].Raw, extract.MaxRawBytes+len("…"))
}

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	badGzip := filepath.Join(dir, "bad.ndjson.gz")
	require.NoError(t, os.WriteFile(badGzip, []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}, 0o644))
	truncated := filepath.Join(dir, "truncated.ndjson.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(zw, `{"event_timestamp":"%d","event_name":"page_view","user_pseudo_id":"%d.1"}`+"\n", 1767603600000000+i, i)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(truncated, buf.Bytes()[:buf.Len()/2], 0o644))

	tests := []struct {
		name   string
		path   string
		config bool
		want   []string
	}{
		{"no match", "testdata/events_2099*.ndjson", true, []string{"ga4:testdata/events_2099*.ndjson", `no file matches "testdata/events_2099*.ndjson"`}},
		{"bad glob", "testdata/[", true, []string{"bad glob"}},
		{"bad gzip", badGzip, false, []string{badGzip, "gzip"}},
		{"truncated gzip", truncated, false, []string{truncated, "unexpected EOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			c := extract.NewCollector(mem)
			defer c.Release()
			err := New(Config{Path: tt.path, Mem: mem}).Extract(context.Background(), c)
			require.Error(t, err)
			require.Equal(t, tt.config, errors.Is(err, extract.ErrConfig), "%v", err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestExtractCanceled(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := New(Config{Path: fixture, Mem: mem}).Extract(ctx, c)
	require.ErrorIs(t, err, context.Canceled)
}

// cancelOnReject cancels the run at the first rejection, as the runner does when
// another extractor fails.
type cancelOnReject struct {
	*extract.Collector
	cancel context.CancelFunc
}

func (w cancelOnReject) Reject(ctx context.Context, r extract.Rejection) error {
	w.cancel()
	return w.Collector.Reject(ctx, r)
}

func TestExtractCanceledWhileReading(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := New(Config{Path: fixture, Mem: mem}).Extract(ctx, cancelOnReject{c, cancel})
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, c.Rejections())
}

func TestName(t *testing.T) {
	e := New(Config{Spec: "ga4:exports/*.ndjson.gz", Path: "exports/*.ndjson.gz"})
	require.Equal(t, "ga4:exports/*.ndjson.gz", e.Name())
	require.Equal(t, []string{extract.TableEvents}, e.Tables())
	require.Equal(t, "ga4:x.ndjson", New(Config{Path: "x.ndjson"}).Name())
}

// BenchmarkDecodeGA4 reads 200k generated export rows shaped like the fixture's
// (device, geo, privacy_info, 5-7 params: about 1 KB a row).
func BenchmarkDecodeGA4(b *testing.B) {
	const n = 200_000
	tmpl, err := os.ReadFile(fixture)
	if err != nil {
		b.Fatal(err)
	}
	var good [][]byte
	for _, l := range bytes.Split(tmpl, []byte("\n")) {
		if bytes.Contains(l, []byte(`"user_pseudo_id"`)) { // the usable rows
			good = append(good, l)
		}
	}
	var buf bytes.Buffer
	for i := 0; i < n; i++ {
		l := good[i%len(good)]
		l = bytes.Replace(l, []byte("17676"), []byte(fmt.Sprintf("%05d", 17676+i%3)), 1) // vary the timestamp
		buf.Write(l)
		buf.WriteByte('\n')
	}
	path := filepath.Join(b.TempDir(), "events.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(buf.Len()))
	ctx := context.Background()
	for b.Loop() {
		c := extract.NewCollector(memory.DefaultAllocator)
		if err := New(Config{Path: path}).Extract(ctx, c); err != nil {
			b.Fatal(err)
		}
		if got := c.Rows("ga4:"+path, extract.TableEvents); got != n {
			b.Fatalf("%d rows, want %d (%d rejections)", got, n, len(c.Rejections()))
		}
		c.Release()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
