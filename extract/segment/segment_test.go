package segment

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
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

const (
	segmentFixture = "testdata/segment.ndjson"
	rudderFixture  = "testdata/rudderstack.ndjson"
)

// run extracts path and returns the events table as rows, the rejections and the stats.
func run(t *testing.T, path string) ([]map[string]any, []extract.Rejection, Stats) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()

	e := New(Config{Spec: "segment:" + path, Path: path, Mem: mem})
	require.NoError(t, e.Extract(context.Background(), c))
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	got, rej, st := rows(t, tbl), c.Rejections(), e.Stats()
	require.Equal(t, st.Read, st.Rows()+st.Rejected+st.Skipped+st.Duplicates, "counts reconcile: %+v", st)
	require.Equal(t, st.Rows(), len(got))
	require.Equal(t, st.Rejected, len(rej))
	require.Equal(t, st.Skipped, e.Skipped())
	require.Equal(t, st.Duplicates, e.Duplicates())
	return got, rej, st
}

// runLines writes lines to a temporary file and extracts it.
func runLines(t *testing.T, lines ...string) (string, []map[string]any, []extract.Rejection, Stats) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	got, rej, st := run(t, path)
	return path, got, rej, st
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

func TestExtractSegment(t *testing.T) {
	const spec = "segment:" + segmentFixture
	const anon = "507f191e810c19729de860ea"
	const user = "97980cfea0067"
	loc := func(l string) string { return segmentFixture + ":" + l }
	got, rej, st := run(t, segmentFixture)

	want := []map[string]any{
		eventRow(map[string]any{ // dbt's pages row: page fields in properties, zone-less time is UTC
			"input": spec, "location": loc("1"), "occurred_at": utc("2015-02-23T22:28:55Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": anon, "user_id": user,
			"page_location": "https://www.getdbt.com/", "page_title": "Product", "page_referrer": "https://www.google.com/",
			"utm_source": "facebook", "utm_medium": "social", "utm_campaign": "autumn_collection_2015",
			"utm_term": "foo", "utm_content": "bar",
		}),
		eventRow(map[string]any{ // a track's properties.title is the course's, not the page's
			"input": spec, "location": loc("2"), "occurred_at": utc("2015-12-12T19:11:01.249Z"),
			"kind": extract.KindEvent, "event_name": "Course Clicked",
			"anonymous_id": "23adfd82-aa0f-45a7-a756-24f2a7a4c895", "user_id": "AiUGstSDIg",
			"page_location": "https://segment.com/academy/", "page_title": "Analytics Academy",
		}),
		eventRow(map[string]any{
			"input": spec, "location": loc("3"), "occurred_at": utc("2015-02-23T22:28:55.111Z"),
			"kind": extract.KindIdentify, "event_name": "identify", "anonymous_id": anon, "user_id": user,
			"email": "peter@example.com",
		}),
		eventRow(map[string]any{ // revenue wins over total
			"input": spec, "location": loc("4"), "occurred_at": utc("2015-02-24T10:15:00.123456Z"),
			"kind": extract.KindEvent, "event_name": "Order Completed", "anonymous_id": anon, "user_id": user,
			"page_location": "https://www.example.com/checkout/thank-you", "page_title": "Thank you",
			"page_referrer": "https://www.example.com/checkout", "utm_source": "newsletter",
			"utm_medium": "email", "utm_campaign": "spring_sale",
			"is_conversion": true, "conversion_value": 25.0, "currency": "USD",
		}),
		eventRow(map[string]any{ // numeric userId, e-mail and value from properties
			"input": spec, "location": loc("5"), "occurred_at": utc("2015-02-24T11:00:00Z"),
			"kind": extract.KindEvent, "event_name": "Demo Requested", "user_id": "1042",
			"email": "ada@example.com", "conversion_value": 12.0, "currency": "EUR",
		}),
		eventRow(map[string]any{ // the page's name as title; the URL's utm and gclid stay in the URL
			"input": spec, "location": loc("6"), "occurred_at": utc("2015-02-23T21:35:00Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": anon,
			"page_title": "Pricing", "page_referrer": "https://www.google.com/search?q=attribution",
			"page_location": "https://www.example.com/pricing?utm_source=google&utm_medium=cpc&gclid=abc123",
		}),
		eventRow(map[string]any{
			"input": spec, "location": loc("7"), "occurred_at": utc("2015-02-25T08:00:00.5Z"),
			"kind": extract.KindPageView, "event_name": "screen_view", "anonymous_id": "3A12F4C0-5B6E-4D7F-8A9B-0C1D2E3F4A5B",
			"page_title": "Home", "page_referrer": "https://example.dataxu.com/link",
		}),
		eventRow(map[string]any{
			"input": spec, "location": loc("8"), "occurred_at": utc("2015-02-23T22:30:00Z"),
			"kind": extract.KindIdentify, "event_name": "alias", "anonymous_id": anon, "user_id": user,
		}),
		// line 9: group, skipped; line 10: line 2 again, dropped; line 11: blank
		eventRow(map[string]any{
			"input": spec, "location": loc("12#0"), "occurred_at": utc("2015-02-26T09:00:00.000001Z"),
			"kind": extract.KindEvent, "event_name": "Plan Upgraded", "user_id": user,
		}),
		eventRow(map[string]any{ // escapes decoded
			"input": spec, "location": loc("12#1"), "occurred_at": utc("2015-02-26T09:01:00Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": anon,
			"page_location": "https://www.example.com/café", "page_title": `Café "Noir"`,
		}),
		eventRow(map[string]any{ // properties.link_url wins over file_url
			"input": spec, "location": loc("19"), "occurred_at": utc("2015-02-26T11:00:00.25Z"),
			"kind": extract.KindEvent, "event_name": "File Downloaded", "anonymous_id": anon, "user_id": user,
			"page_location": "https://www.example.com/security", "page_title": "Security | Example",
			"page_referrer": "https://www.google.com/", "link_url": "https://www.example.com/assets/security-whitepaper.pdf",
		}),
		eventRow(map[string]any{ // a track's properties.url is the link it followed
			"input": spec, "location": loc("20"), "occurred_at": utc("2015-02-26T11:02:10.1Z"),
			"kind": extract.KindEvent, "event_name": "Link Clicked", "anonymous_id": anon, "user_id": user,
			"page_location": "https://www.example.com/docs/sdk", "page_title": "SDK docs | Example",
			"page_referrer": "https://www.example.com/security", "link_url": "https://github.com/example/sdk",
		}),
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "row %d", i)
	}

	const noIDs = "no anonymousId or userId: the spec requires one, and an event without either cannot be tied to anyone"
	wantRej := []extract.Rejection{
		{Location: loc("12#2"), Reason: noIDs,
			Raw: `{"type":"track","event":"Ping","timestamp":"2015-02-26T09:02:00Z","messageId":"node-3"}`},
		{Location: loc("13"), Reason: `invalid JSON: unexpected end of JSON input at byte 84; each line must be one event object, or a {"batch":[...]} of them`,
			Raw: `{"type":"track","event":"Signed Up","userId":"u1","timestamp":"2015-02-26T10:00:00Z"`},
		{Location: loc("14"), Reason: `no timestamp: every event needs the time it happened (ISO-8601, e.g. "2026-01-05T09:00:00.123Z"); originalTimestamp, sentAt and receivedAt are not used in its place`,
			Raw: `{"type":"track","event":"Signed Up","userId":"u1","originalTimestamp":"2015-02-26T10:00:00Z","messageId":"m14"}`},
		{Location: loc("15"), Reason: `bad timestamp "yesterday": want ISO-8601 with a zone, e.g. "2026-01-05T09:00:00.123Z"`,
			Raw: `{"type":"track","event":"Signed Up","userId":"u1","timestamp":"yesterday","messageId":"m15"}`},
		{Location: loc("16"), Reason: noIDs,
			Raw: `{"type":"page","anonymousId":"","userId":null,"timestamp":"2015-02-26T10:00:00Z","messageId":"m16"}`},
		{Location: loc("17"), Reason: `unknown type "purchase": want track, page, screen, identify, alias or group`,
			Raw: `{"type":"purchase","userId":"u1","timestamp":"2015-02-26T10:00:00Z","messageId":"m17"}`},
		{Location: loc("18"), Reason: "no type, and snake_case fields (anonymous_id, received_at, ...): a flattened warehouse row, not an event; read the raw events (Segment's S3 or RudderStack's object-storage destination) instead"},
	}
	require.Len(t, rej, len(wantRej))
	for i, w := range wantRej {
		w.Input = spec
		if w.Raw == "" {
			w.Raw = rej[i].Raw
			require.True(t, strings.HasPrefix(w.Raw, `{"id":"ajs-9527e97fc714abe02a23b3d24cf09a36","anonymous_id"`), w.Raw)
		}
		require.Equal(t, w, rej[i], "rejection %d", i)
	}

	require.Equal(t, Stats{Read: 21, Events: 6, PageViews: 4, Identifies: 2, Rejected: 7, Skipped: 1, Duplicates: 1}, st)
}

func TestExtractRudderStack(t *testing.T) {
	const spec = "segment:" + rudderFixture
	const anon = "2d5ec7b3-12a4-4a53-a2ff-6b9a4a5e1f0c"
	const session = "1578564113558"
	loc := func(l string) string { return rudderFixture + ":" + l }
	got, rej, st := run(t, rudderFixture)

	want := []map[string]any{
		eventRow(map[string]any{ // empty userId, title and campaign; "$direct" is no referrer; title from name
			"input": spec, "location": loc("1"), "occurred_at": utc("2020-01-09T10:01:53.611Z"),
			"kind": extract.KindPageView, "event_name": "page_view", "anonymous_id": anon, "session_key": session,
			"page_location": "http://localhost:3000/", "page_title": "Home",
		}),
		eventRow(map[string]any{ // e-mail from the SDK's context.traits; channel "web" is not kept; properties.file_url
			"input": spec, "location": loc("2"), "occurred_at": utc("2020-01-09T10:03:10.042Z"),
			"kind": extract.KindEvent, "event_name": "Whitepaper Downloaded", "anonymous_id": anon,
			"email": "alex@example.com", "session_key": session, "page_location": "http://localhost:3000/features?utm_source=linkedin&utm_medium=paid_social&utm_campaign=winter_launch&utm_content=carousel_a",
			"page_title": "Features", "page_referrer": "https://www.linkedin.com/",
			"utm_source": "linkedin", "utm_medium": "paid_social", "utm_campaign": "winter_launch", "utm_content": "carousel_a",
			"link_url": "http://localhost:3000/files/attribution-101.pdf",
		}),
		eventRow(map[string]any{
			"input": spec, "location": loc("3"), "occurred_at": utc("2020-01-09T10:04:00.039Z"),
			"kind": extract.KindIdentify, "event_name": "identify", "anonymous_id": anon, "user_id": "sample_user_id",
			"email": "alex@example.com", "session_key": session,
		}),
		eventRow(map[string]any{ // previousId, here an old user id, is the row's anonymous_id
			"input": spec, "location": loc("4"), "occurred_at": utc("2020-01-09T10:04:30.02Z"),
			"kind": extract.KindIdentify, "event_name": "alias", "anonymous_id": "sample_user_id", "user_id": "crm-7781",
		}),
		eventRow(map[string]any{ // µs and an offset; string revenue; lower-case event name still a conversion
			"input": spec, "location": loc("5"), "occurred_at": utc("2020-01-09T10:05:00.123456Z"),
			"kind": extract.KindEvent, "event_name": "order completed", "anonymous_id": anon, "user_id": "crm-7781",
			"email": "alex@example.com", "session_key": session, "page_location": "http://localhost:3000/checkout/done",
			"page_title": "Thanks!", "page_referrer": "http://localhost:3000/checkout",
			"is_conversion": true, "conversion_value": 49.9, "currency": "EUR",
		}),
	}
	require.Len(t, got, len(want))
	for i := range want {
		require.Equal(t, want[i], got[i], "row %d", i)
	}
	require.Empty(t, rej)
	require.Equal(t, Stats{Read: 6, Events: 2, PageViews: 1, Identifies: 2, Skipped: 1}, st)
}

// TestExtractGzip reads a gzipped copy of the fixture, named with and without .gz,
// and expects the same rows.
func TestExtractGzip(t *testing.T) {
	plain, err := os.ReadFile(segmentFixture)
	require.NoError(t, err)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err = zw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	want, wantRej, wantStats := run(t, segmentFixture)
	for _, name := range []string{"segment.ndjson.gz", "segment.ndjson"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), name)
			require.NoError(t, os.WriteFile(path, zipped.Bytes(), 0o644))
			got, rej, st := run(t, path)
			require.Equal(t, wantStats, st)
			require.Len(t, got, len(want))
			for i := range want {
				for k, v := range want[i] {
					switch k {
					case "input":
						require.Equal(t, "segment:"+path, got[i][k])
					case "location":
						require.Equal(t, strings.Replace(v.(string), segmentFixture, path, 1), got[i][k])
					default:
						require.Equal(t, v, got[i][k], "row %d column %s", i, k)
					}
				}
			}
			require.Len(t, rej, len(wantRej))
			for i := range wantRej {
				require.Equal(t, strings.Replace(wantRej[i].Location, segmentFixture, path, 1), rej[i].Location)
				require.Equal(t, wantRej[i].Reason, rej[i].Reason)
				require.Equal(t, wantRej[i].Raw, rej[i].Raw)
			}
		})
	}
}

func TestExtractLines(t *testing.T) {
	const ts = `"timestamp":"2026-01-05T09:00:00.123Z"`
	const ids = `"anonymousId":"a1"`
	at := utc("2026-01-05T09:00:00.123Z")
	track := func(extra string) string { return `{"type":"track","event":"x",` + ts + `,` + ids + extra + `}` }
	page := func(extra string) string { return `{"type":"page",` + ts + `,` + ids + extra + `}` }
	tests := []struct {
		name   string
		line   string
		want   map[string]any // columns to check
		reason string         // the exact reason of a rejection
	}{
		{name: "offset without colon", line: `{"type":"track","event":"x","timestamp":"2026-01-05T10:00:00.123+0100",` + ids + `}`,
			reason: `bad timestamp "2026-01-05T10:00:00.123+0100": want ISO-8601 with a zone, e.g. "2026-01-05T09:00:00.123Z"`},
		{name: "nanoseconds cut to µs", line: `{"type":"track","event":"x","timestamp":"2026-01-05T09:00:00.123456789Z",` + ids + `}`,
			want: map[string]any{"occurred_at": utc("2026-01-05T09:00:00.123456Z")}},
		{name: "epoch ms number", line: `{"type":"track","event":"x","timestamp":1767603600123,` + ids + `}`,
			want: map[string]any{"occurred_at": at}},
		{name: "timestamp before 2000", line: `{"type":"track","event":"x","timestamp":"20260105",` + ids + `}`,
			reason: `timestamp 1970-08-23T11:48:25Z is before 2000-01-01: a zero or default date, not the row's time`},
		{name: "timestamp object", line: `{"type":"track","event":"x","timestamp":{"$date":"2026-01-05"},` + ids + `}`,
			reason: "timestamp is an object: want a string"},
		{name: "null timestamp", line: `{"type":"track","event":"x","timestamp":null,` + ids + `}`,
			reason: `no timestamp: every event needs the time it happened (ISO-8601, e.g. "2026-01-05T09:00:00.123Z"); originalTimestamp, sentAt and receivedAt are not used in its place`},
		{name: "no type", line: `{"event":"x",` + ts + `,` + ids + `}`,
			reason: "no type: every call has one (track, page, screen, identify, alias, group)"},
		{name: "type is case-sensitive", line: `{"type":"Track","event":"x",` + ts + `,` + ids + `}`,
			reason: `unknown type "Track": want track, page, screen, identify, alias or group`},
		{name: "type number", line: `{"type":1,` + ts + `,` + ids + `}`,
			reason: `unknown type "1": want track, page, screen, identify, alias or group`},
		{name: "type boolean", line: `{"type":true,` + ts + `,` + ids + `}`, reason: "type is a boolean: want a string"},
		{name: "track without event", line: `{"type":"track",` + ts + `,` + ids + `}`,
			reason: `track without event: name the action in event, e.g. "Signed Up"`},
		{name: "user id object", line: `{"type":"track","event":"x",` + ts + `,"userId":{"id":1}}`,
			reason: "userId is an object: want a string"},
		{name: "user id only", line: `{"type":"track","event":"x",` + ts + `,"userId":"u1"}`,
			want: map[string]any{"user_id": "u1", "anonymous_id": nil}},
		{name: "alias without previousId", line: `{"type":"alias",` + ts + `,"userId":"u1",` + ids + `}`,
			reason: "alias without previousId: an alias ties the previous id (anonymousId or old userId) to userId"},
		{name: "alias without userId", line: `{"type":"alias",` + ts + `,"previousId":"a0",` + ids + `}`,
			reason: "alias without userId: an alias ties previousId to the new userId"},
		{name: "context string", line: track(`,"context":"web"`), reason: "context is a string: want an object"},
		{name: "campaign array", line: track(`,"context":{"campaign":["google"]}`), reason: "context.campaign is an array: want an object"},
		{name: "campaign source object", line: track(`,"context":{"campaign":{"source":{"x":1}}}`),
			reason: "context.campaign.source is an object: want a string"},
		{name: "campaign values", line: track(`,"context":{"campaign":{"source":"google","medium":"cpc","name":"brand","term":"crm software","content":"ad1","id":"c9"}}`),
			want: map[string]any{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand", "utm_term": "crm software", "utm_content": "ad1", "gclid": nil}},
		{name: "empty campaign values", line: track(`,"context":{"campaign":{"source":"","medium":null}}`),
			want: map[string]any{"utm_source": nil, "utm_medium": nil}},
		{name: "context.page wins over properties", line: page(`,"context":{"page":{"url":"https://a.example/1","title":"A","referrer":"https://r.example/"}},"properties":{"url":"https://b.example/2","title":"B","referrer":"https://s.example/"},"name":"N"`),
			want: map[string]any{"page_location": "https://a.example/1", "page_title": "A", "page_referrer": "https://r.example/"}},
		{name: "page falls back to properties", line: page(`,"context":{"page":{"url":"","title":""}},"properties":{"url":"https://b.example/2","title":"B","referrer":"https://s.example/"},"name":"N"`),
			want: map[string]any{"page_location": "https://b.example/2", "page_title": "B", "page_referrer": "https://s.example/"}},
		{name: "context.referrer string", line: page(`,"context":{"referrer":"https://r.example/"},"properties":{"referrer":"https://s.example/"}`),
			want: map[string]any{"page_referrer": "https://r.example/"}},
		{name: "context.referrer url over link", line: page(`,"context":{"referrer":{"url":"https://u.example/","link":"https://l.example/"}}`),
			want: map[string]any{"page_referrer": "https://u.example/"}},
		{name: "context.referrer boolean", line: page(`,"context":{"referrer":true}`),
			reason: "context.referrer is a boolean: want an object or a string"},
		{name: "track ignores page properties", line: track(`,"properties":{"url":"https://b.example/","title":"B","referrer":"https://s.example/"},"name":"N"`),
			want: map[string]any{"page_location": nil, "page_title": nil, "page_referrer": nil, "link_url": "https://b.example/"}},
		{name: "link_url over file_url over url", line: track(`,"properties":{"url":"https://u.example/","file_url":"https://f.example/a.pdf","link_url":"https://l.example/a.pdf"}`),
			want: map[string]any{"link_url": "https://l.example/a.pdf"}},
		{name: "file_url over url", line: track(`,"properties":{"url":"https://u.example/","file_url":"/a.pdf","link_url":""}`),
			want: map[string]any{"link_url": "/a.pdf"}},
		{name: "page url is no link", line: page(`,"properties":{"url":"https://b.example/2"}`),
			want: map[string]any{"page_location": "https://b.example/2", "link_url": nil}},
		{name: "page link_url and file_url", line: page(`,"properties":{"url":"https://b.example/2","file_url":"https://b.example/a.pdf"}`),
			want: map[string]any{"page_location": "https://b.example/2", "link_url": "https://b.example/a.pdf"}},
		{name: "identify ignores link properties", line: `{"type":"identify",` + ts + `,` + ids + `,"properties":{"link_url":"https://l.example/"}}`,
			want: map[string]any{"kind": extract.KindIdentify, "link_url": nil}},
		{name: "link_url object", line: track(`,"properties":{"link_url":{"href":"https://l.example/"}}`),
			reason: "properties.link_url is an object: want a string"},
		{name: "track url array", line: track(`,"properties":{"url":["https://u.example/"]}`),
			reason: "properties.url is an array: want a string"},
		{name: "properties string on page", line: page(`,"properties":"x"`), reason: "properties is a string: want an object"},
		{name: "identify ignores properties", line: `{"type":"identify",` + ts + `,` + ids + `,"properties":"x","traits":{"email":"a@example.com"}}`,
			want: map[string]any{"kind": extract.KindIdentify, "email": "a@example.com"}},
		{name: "traits.email wins", line: `{"type":"identify",` + ts + `,` + ids + `,"traits":{"email":"a@example.com"},"context":{"traits":{"email":"b@example.com"}}}`,
			want: map[string]any{"email": "a@example.com"}},
		{name: "traits string", line: `{"type":"identify",` + ts + `,` + ids + `,"traits":"a@example.com"}`,
			reason: "traits is a string: want an object"},
		{name: "email object", line: `{"type":"identify",` + ts + `,` + ids + `,"traits":{"email":{"work":"a@example.com"}}}`,
			reason: "traits.email is an object: want a string"},
		{name: "revenue over total over value", line: track(`,"properties":{"revenue":1,"total":2,"value":3,"currency":"usd"}`),
			want: map[string]any{"conversion_value": 1.0, "currency": "USD", "is_conversion": false}},
		{name: "total over value", line: track(`,"properties":{"total":"2.5","value":3}`),
			want: map[string]any{"conversion_value": 2.5, "currency": nil}},
		{name: "value", line: track(`,"properties":{"revenue":null,"total":"","value":3}`),
			want: map[string]any{"conversion_value": 3.0}},
		{name: "negative value", line: track(`,"properties":{"revenue":null,"total":"","value":-3}`),
			reason: "properties.value is negative (-3): refunds and corrections are not attributed; drop the row or record it as 0"},
		{name: "currency without value dropped", line: track(`,"properties":{"currency":"USD"}`),
			want: map[string]any{"conversion_value": nil, "currency": nil}},
		{name: "bad revenue", line: track(`,"properties":{"revenue":"12,50"}`),
			reason: `bad properties.revenue "12,50": want a number, e.g. 99.5`},
		{name: "NaN revenue", line: track(`,"properties":{"revenue":"NaN"}`),
			reason: `bad properties.revenue "NaN": want a number, e.g. 99.5`},
		{name: "revenue object", line: track(`,"properties":{"revenue":{"amount":3}}`),
			reason: "properties.revenue is an object: want a number"},
		{name: "page revenue not read", line: page(`,"properties":{"revenue":"lots"}`),
			want: map[string]any{"conversion_value": nil}},
		{name: "order completed without revenue", line: `{"type":"track","event":"Order Completed",` + ts + `,` + ids + `}`,
			want: map[string]any{"is_conversion": true, "conversion_value": nil}},
		{name: "session id number", line: track(`,"context":{"sessionId":1767603600123}`),
			want: map[string]any{"session_key": "1767603600123"}},
		{name: "rudderstack channel not kept", line: track(`,"channel":"web","rudderId":"r1"`),
			want: map[string]any{"channel": nil}},
		{name: "duplicate keys: last wins", line: `{"type":"page",` + ts + `,` + ids + `,"context":{"page":{"title":"A"}},"context":{"campaign":{"source":"s"}},"type":"track","event":"x"}`,
			want: map[string]any{"kind": extract.KindEvent, "page_title": nil, "utm_source": "s"}},
		{name: "escaped key", line: `{"\u0074ype":"track","event":"x",` + ts + `,` + ids + `}`,
			want: map[string]any{"kind": extract.KindEvent}},
		{name: "invalid UTF-8", line: track(`,"context":{"page":{"title":"caf` + "\xe9" + `"}}`),
			reason: "context.page.title is not valid UTF-8 (byte 0xe9 at offset 3): re-export the file as UTF-8 (a Latin-1 or Windows-1252 export gives such bytes)"},
		{name: "escaped NUL", line: track(`,"context":{"page":{"title":"a\u0000"}}`),
			reason: "context.page.title holds a NUL byte at offset 1: the warehouse cannot store it; fix the export"},
		{name: "escaped U+FFFD and a lone surrogate", line: track(`,"context":{"page":{"title":"\ufffd \ud800"}}`),
			want: map[string]any{"page_title": "\ufffd \ufffd"}},
		{name: "crlf", line: track("") + "\r", want: map[string]any{"event_name": "x"}},
		{name: "array line", line: `[` + track("") + `]`,
			reason: "not an event: an array, not an object; each line must be one JSON event object"},
		{name: "null line", line: `null`, reason: "not an event: null; each line must be one JSON event object"},
		{name: "two objects", line: track("") + ` {}`,
			reason: `invalid JSON: invalid character '{' after top-level value at byte 87; each line must be one event object, or a {"batch":[...]} of them`},
		{name: "bad escape", line: `{"type":"tr\ack"}`,
			reason: `invalid JSON: invalid character 'a' in string escape code at byte 12; each line must be one event object, or a {"batch":[...]} of them`},
		{name: "batch not an array", line: `{"batch":{"type":"track"}}`,
			reason: `batch is an object: a batch line is {"batch":[event, ...]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, got, rej, st := runLines(t, "", tt.line, "   ") // blank lines count but are skipped
			require.Equal(t, 1, st.Read)
			if tt.reason != "" {
				require.Empty(t, got)
				require.Len(t, rej, 1)
				require.Equal(t, path+":2", rej[0].Location)
				require.Equal(t, tt.reason, rej[0].Reason)
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

func TestExtractBatch(t *testing.T) {
	ev := func(id string) string {
		return `{"type":"track","event":"x","timestamp":"2026-01-05T09:00:00Z","anonymousId":"a1","messageId":"` + id + `"}`
	}
	path, got, rej, st := runLines(t,
		`{"batch":[`+ev("m1")+`, 7 ,`+ev("m1")+`,`+ev("m2")+`],"sentAt":"2026-01-05T09:00:01Z"}`,
		`{"batch":[]}`,
		`{"batch":[`+ev("m3")+`]`,
	)
	require.Len(t, got, 2)
	require.Equal(t, path+":1#0", got[0]["location"])
	require.Equal(t, path+":1#3", got[1]["location"])
	require.Len(t, rej, 2)
	require.Equal(t, extract.Rejection{Input: "segment:" + path, Location: path + ":1#1",
		Reason: "not an event: a number, not an object; each line must be one JSON event object", Raw: "7"}, rej[0])
	require.Equal(t, path+":3", rej[1].Location, "a broken batch line is one rejection")
	require.True(t, strings.HasPrefix(rej[1].Reason, "invalid JSON: unexpected end of JSON input"), rej[1].Reason)
	require.Equal(t, Stats{Read: 5, Events: 2, Rejected: 2, Duplicates: 1}, st)
}

// TestExtractDuplicates: the first copy of a messageId is kept, across files in
// sorted order; a rejected copy does not hide a later good one.
func TestExtractDuplicates(t *testing.T) {
	dir := t.TempDir()
	line := func(ts, event string) string {
		return `{"type":"track","event":"` + event + `","timestamp":"` + ts + `","anonymousId":"a1","messageId":"m-1"}` + "\n"
	}
	files := map[string]string{
		"2026-01-05.ndjson": `{"type":"track","event":"bad","timestamp":"soon","anonymousId":"a1","messageId":"m-1"}` + "\n" +
			line("2026-01-05T09:00:00Z", "first") + line("2026-01-05T09:00:00Z", "retry"),
		"2026-01-06.ndjson": line("2026-01-05T09:00:00Z", "late copy") +
			`{"type":"track","event":"no id","timestamp":"2026-01-06T09:00:00Z","anonymousId":"a1"}` + "\n" +
			`{"type":"track","event":"no id","timestamp":"2026-01-06T09:00:00Z","anonymousId":"a1"}` + "\n",
	}
	for name, body := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644))
	}
	got, rej, st := run(t, filepath.Join(dir, "*.ndjson"))
	require.Len(t, rej, 1)
	require.Equal(t, filepath.Join(dir, "2026-01-05.ndjson")+":1", rej[0].Location)
	require.Len(t, got, 3)
	require.Equal(t, "first", got[0]["event_name"])
	require.Equal(t, filepath.Join(dir, "2026-01-05.ndjson")+":2", got[0]["location"])
	require.Equal(t, "no id", got[1]["event_name"])
	require.Equal(t, "no id", got[2]["event_name"])
	require.Equal(t, Stats{Read: 6, Events: 3, Rejected: 1, Duplicates: 2}, st)
}

// TestExtractLongLine: a line over extract.MaxLine is one rejection (raw cut), and the
// lines after it still read.
func TestExtractLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 16 MiB line")
	}
	long := `{"type":"track","event":"` + strings.Repeat("x", extract.MaxLine) + `"}`
	good := `{"type":"track","event":"x","timestamp":"2026-01-05T09:00:00Z","anonymousId":"a1"}`
	path, got, rej, st := runLines(t, long, good)
	require.Len(t, got, 1)
	require.Equal(t, path+":2", got[0]["location"])
	require.Len(t, rej, 1)
	require.Equal(t, path+":1", rej[0].Location)
	require.Equal(t, "line longer than 16 MiB: not one event per line (a JSON array or pretty-printed file?); export newline-delimited JSON", rej[0].Reason)
	require.Len(t, rej[0].Raw, extract.MaxRawBytes+len("…"))
	require.Equal(t, 2, st.Read)
}

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	badGzip := filepath.Join(dir, "bad.ndjson.gz")
	require.NoError(t, os.WriteFile(badGzip, []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}, 0o644))
	truncated := filepath.Join(dir, "truncated.ndjson.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(zw, `{"type":"page","timestamp":"2026-01-05T09:00:%02dZ","anonymousId":"%d"}`+"\n", i%60, i)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(truncated, buf.Bytes()[:buf.Len()/2], 0o644))

	tests := []struct {
		name   string
		path   string
		config bool
		want   []string
	}{
		{"no match", "testdata/2099*.ndjson", true, []string{"segment:testdata/2099*.ndjson", `no file matches "testdata/2099*.ndjson"`}},
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
	err := New(Config{Path: segmentFixture, Mem: mem}).Extract(ctx, c)
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
	err := New(Config{Path: segmentFixture, Mem: mem}).Extract(ctx, cancelOnReject{c, cancel})
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, c.Rejections())
}

func TestName(t *testing.T) {
	e := New(Config{Spec: "segment:events/*.json.gz", Path: "events/*.json.gz"})
	require.Equal(t, "segment:events/*.json.gz", e.Name())
	require.Equal(t, []string{extract.TableEvents}, e.Tables())
	require.Equal(t, "segment:x.ndjson", New(Config{Path: "x.ndjson"}).Name())
	require.Equal(t, Stats{}, e.Stats())
}

// BenchmarkExtract reads 1M generated events (page, track, identify and Order
// Completed calls of about 0.8 KB, shaped like the fixtures) from a gzipped file.
func BenchmarkExtract(b *testing.B) {
	const n = 1_000_000
	path := filepath.Join(b.TempDir(), "events.ndjson.gz")
	size := writeEvents(b, path, n)
	b.SetBytes(size)
	ctx := context.Background()
	for b.Loop() {
		c := extract.NewCollector(memory.DefaultAllocator)
		e := New(Config{Path: path})
		if err := e.Extract(ctx, c); err != nil {
			b.Fatal(err)
		}
		if got := c.Rows(e.Name(), extract.TableEvents); got != n {
			b.Fatalf("%d rows, want %d (%+v)", got, n, e.Stats())
		}
		c.Release()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// writeEvents writes n distinct events to a gzipped file and returns their
// uncompressed size.
func writeEvents(b *testing.B, path string, n int) int64 {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	zw := gzip.NewWriter(f)
	var size int64
	campaigns := []string{`{}`, `{"source":"google","medium":"cpc","name":"brand","term":"crm software"}`,
		`{"source":"newsletter","medium":"email","name":"spring_sale","content":"hero"}`}
	const ctx = `"library":{"name":"analytics.js","version":"4.1.0"},"ip":"203.0.113.7","locale":"en-US",` +
		`"userAgent":"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"`
	for i := 0; i < n; i++ {
		at := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 37 * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		anon := fmt.Sprintf("%08x-aa0f-45a7-a756-24f2a7a4c895", i/20)
		page := fmt.Sprintf(`{"path":"/p/%d","referrer":"https://www.google.com/","search":"","title":"Page %d | Example","url":"https://www.example.com/p/%d"}`, i%500, i%500, i%500)
		camp := campaigns[i%len(campaigns)]
		var line string
		switch i % 10 {
		case 0, 1, 2, 3, 4:
			line = fmt.Sprintf(`{"anonymousId":"%s","context":{%s,"page":%s,"campaign":%s},"integrations":{},"messageId":"ajs-%d","name":"Page %d","properties":{"path":"/p/%d","title":"Page %d | Example","url":"https://www.example.com/p/%d"},"receivedAt":"%s","sentAt":"%s","timestamp":"%s","originalTimestamp":"%s","type":"page","userId":null}`,
				anon, ctx, page, camp, i, i%500, i%500, i%500, i%500, at, at, at, at)
		case 5, 6, 7:
			line = fmt.Sprintf(`{"anonymousId":"%s","context":{%s,"page":%s,"campaign":%s},"event":"Button Clicked","integrations":{},"messageId":"ajs-%d","properties":{"button":"cta-%d","variant":"b"},"receivedAt":"%s","sentAt":"%s","timestamp":"%s","originalTimestamp":"%s","type":"track","userId":null}`,
				anon, ctx, page, camp, i, i%7, at, at, at, at)
		case 8:
			line = fmt.Sprintf(`{"anonymousId":"%s","context":{%s,"page":%s},"integrations":{},"messageId":"ajs-%d","receivedAt":"%s","sentAt":"%s","timestamp":"%s","traits":{"email":"user%d@example.com","name":"User %d","plan":"team"},"type":"identify","userId":"crm-%d"}`,
				anon, ctx, page, i, at, at, at, i/20, i/20, i/20)
		default:
			line = fmt.Sprintf(`{"anonymousId":"%s","context":{%s,"page":%s},"event":"Order Completed","integrations":{},"messageId":"ajs-%d","properties":{"order_id":"o-%d","revenue":%d.5,"currency":"EUR","products":[{"product_id":"p1","price":19,"quantity":1}]},"receivedAt":"%s","sentAt":"%s","timestamp":"%s","type":"track","userId":"crm-%d"}`,
				anon, ctx, page, i, i, i%300, at, at, at, i/20)
		}
		size += int64(len(line) + 1)
		if _, err := io.WriteString(zw, line+"\n"); err != nil {
			b.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		b.Fatal(err)
	}
	return size
}

// BenchmarkDecode measures the JSON decoder alone on 100k of BenchmarkExtract's
// events, held in memory.
func BenchmarkDecode(b *testing.B) {
	const n = 100_000
	path := filepath.Join(b.TempDir(), "events.ndjson.gz")
	size := writeEvents(b, path, n)
	f, err := extract.Open(b.Context(), path)
	if err != nil {
		b.Fatal(err)
	}
	all, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(all, []byte("\n")), []byte("\n"))
	b.SetBytes(size)
	var m message
	var d decoder
	for b.Loop() {
		for _, l := range lines {
			if _, err := decode(l, &m, &d); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
