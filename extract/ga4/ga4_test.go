package ga4

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
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

// The fixture's users.
const (
	userA = "1829374650.1767603600"
	userB = "583920174.1767610000"
	userC = "771203344.1767630000"
	home  = "https://www.example.com/?utm_source=newsletter&utm_medium=email&utm_campaign=jan_launch&utm_content=hero_button"
	adURL = "https://www.example.com/pricing?gclid=EAIaIQobChMI8&gad_source=1"
)

// fixtureRows are the usable rows of the fixture, in order, without input and
// location, with the fixture line each comes from.
func fixtureRows() (lines []int, rows []map[string]any) {
	add := func(line int, set map[string]any) {
		lines = append(lines, line)
		rows = append(rows, set)
	}
	add(1, map[string]any{ // collected_traffic_source utms; int_value as a string
		"occurred_at": utc("2026-01-05T09:00:00.123456Z"), "kind": extract.KindEvent, "event_name": "session_start",
		"anonymous_id": userA, "session_key": "1767603600", "page_location": home, "page_title": "Example — Home",
		"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "jan_launch", "utm_content": "hero_button",
	})
	add(2, map[string]any{
		"occurred_at": utc("2026-01-05T09:00:00.124001Z"), "kind": extract.KindPageView, "event_name": "page_view",
		"anonymous_id": userA, "session_key": "1767603600", "page_location": home, "page_title": "Example — Home",
		"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "jan_launch", "utm_content": "hero_button",
	})
	add(3, map[string]any{ // no utms: traffic_source (first touch: partner.example.org) is not used
		"occurred_at": utc("2026-01-05T09:02:10.5Z"), "kind": extract.KindPageView, "event_name": "page_view",
		"anonymous_id": userA, "session_key": "1767603600", "page_location": "https://www.example.com/pricing",
		"page_title": "Pricing | Example", "page_referrer": home,
	})
	add(4, map[string]any{ // numbers for INT64, explicit nulls; the URL's gclid stays in the URL
		"occurred_at": utc("2026-01-05T10:46:40.456789Z"), "kind": extract.KindPageView, "event_name": "page_view",
		"anonymous_id": userB, "session_key": "1767610000", "page_title": "Pricing | Example",
		"page_location": "https://www.example.com/pricing?gclid=Cj0KCQiA7bXLBhD-ARIsAJ2kx9&gad_source=1",
		"page_referrer": "https://www.google.com/",
	})
	add(5, map[string]any{ // a value param outside a purchase is no conversion value
		"occurred_at": utc("2026-01-05T10:50:00.000001Z"), "kind": extract.KindEvent, "event_name": "generate_lead",
		"anonymous_id": userB, "user_id": "crm-1042", "email": "ada@example.com", "session_key": "1767610000",
		"page_location": "https://www.example.com/demo", "page_title": "Book a demo | Example", "currency": "EUR",
	})
	add(6, map[string]any{
		"occurred_at": utc("2026-01-05T11:15:00.25Z"), "kind": extract.KindEvent, "event_name": "purchase",
		"anonymous_id": userA, "user_id": "crm-2001", "session_key": "1767611650",
		"page_location": "https://www.example.com/checkout/thank-you", "page_title": "Thank you | Example",
		"conversion_value": 149.0, "currency": "EUR",
	})
	add(7, map[string]any{ // app: utms from event params, an int_value term rendered in decimal
		"occurred_at": utc("2026-01-05T13:33:20.987654Z"), "kind": extract.KindPageView, "event_name": "screen_view",
		"anonymous_id": "C3A1F0E2B4D64B8C9E7F0A1B2C3D4E5F", "session_key": "1767619990",
		"utm_source": "winter_push", "utm_medium": "push", "utm_campaign": "winter_sale", "utm_term": "2026",
	})
	add(10, map[string]any{ // a Google Ads click: the last click names its campaign
		"occurred_at": utc("2026-01-05T16:20:00.111111Z"), "kind": extract.KindEvent, "event_name": "session_start",
		"anonymous_id": userC, "session_key": "1767630000", "page_location": adURL, "page_title": "Pricing | Example",
		"page_referrer": "https://www.google.com/", "utm_source": "google", "utm_medium": "cpc",
		"utm_campaign": "Brand Search EU", "gclid": "EAIaIQobChMI8",
	})
	add(11, map[string]any{ // the landing page view (entrances 1), gclid in its URL only
		"occurred_at": utc("2026-01-05T16:20:00.112345Z"), "kind": extract.KindPageView, "event_name": "page_view",
		"anonymous_id": userC, "session_key": "1767630000", "page_location": adURL, "page_title": "Pricing | Example",
		"page_referrer": "https://www.google.com/", "utm_source": "google", "utm_medium": "cpc",
		"utm_campaign": "Brand Search EU",
	})
	add(12, map[string]any{ // later in the session: the last click is not this event's
		"occurred_at": utc("2026-01-05T16:21:05Z"), "kind": extract.KindPageView, "event_name": "page_view",
		"anonymous_id": userC, "session_key": "1767630000", "page_location": "https://www.example.com/features",
		"page_title": "Features | Example", "page_referrer": adURL,
	})
	add(13, map[string]any{ // a direct return: the newsletter last click is a carry-over
		"occurred_at": utc("2026-01-05T18:00:00Z"), "kind": extract.KindEvent, "event_name": "session_start",
		"anonymous_id": userA, "session_key": "1767636000", "page_location": "https://www.example.com/",
		"page_title": "Example — Home",
	})
	add(14, map[string]any{ // utm_id only: the agreeing last click names campaign and content, "(not set)" no term
		"occurred_at": utc("2026-01-05T19:06:40.5Z"), "kind": extract.KindEvent, "event_name": "session_start",
		"anonymous_id": "390011223.1767640000", "session_key": "1767640000", "page_title": "Book a demo | Example",
		"page_location": "https://www.example.com/demo?utm_id=li-778&utm_source=linkedin&utm_medium=paid_social",
		"page_referrer": "https://www.linkedin.com/", "utm_source": "linkedin", "utm_medium": "paid_social",
		"utm_campaign": "q1_abm", "utm_content": "video_a",
	})
	add(15, map[string]any{ // dclid only
		"occurred_at": utc("2026-01-05T19:23:20Z"), "kind": extract.KindEvent, "event_name": "session_start",
		"anonymous_id": "5550001.1767641000", "session_key": "1767641000",
		"page_location": "https://www.example.com/?dclid=CJbX7c2vF", "page_title": "Example — Home",
		"utm_source": "dv360", "utm_medium": "cpm",
	})
	add(17, map[string]any{ // a purchase without ecommerce record: its value param
		"occurred_at": utc("2026-01-05T19:40:00.25Z"), "kind": extract.KindEvent, "event_name": "purchase",
		"anonymous_id": userB, "user_id": "crm-1042", "session_key": "1767641990",
		"page_location": "https://www.example.com/checkout/thank-you", "page_title": "Thank you | Example",
		"conversion_value": 89.5, "currency": "USD",
	})
	add(24, map[string]any{ // enhanced measurement's file_download: link_url, not file_name
		"occurred_at": utc("2026-01-05T16:22:30.25Z"), "kind": extract.KindEvent, "event_name": "file_download",
		"anonymous_id": userC, "session_key": "1767630000", "page_location": "https://www.example.com/features",
		"page_title": "Features | Example", "page_referrer": adURL,
		"link_url": "https://www.example.com/assets/security-whitepaper.pdf",
	})
	add(25, map[string]any{ // an outbound click
		"occurred_at": utc("2026-01-05T16:23:30Z"), "kind": extract.KindEvent, "event_name": "click",
		"anonymous_id": userC, "session_key": "1767630000", "page_location": "https://www.example.com/features",
		"page_title": "Features | Example", "link_url": "https://github.com/example/sdk",
	})
	add(26, map[string]any{ // a download tagged by hand: an empty link_url, the file_name
		"occurred_at": utc("2026-01-05T18:20:00Z"), "kind": extract.KindEvent, "event_name": "file_download",
		"anonymous_id": userA, "session_key": "1767636000", "page_location": "https://www.example.com/pricing",
		"page_title": "Pricing | Example", "link_url": "/assets/pricing-guide.pdf",
	})
	return lines, rows
}

// fixtureRejections are the fixture's rejected lines and their reasons; dup is the
// location of the row line 16 repeats.
func fixtureRejections(dup string) map[int]string {
	return map[int]string{
		8: "invalid JSON: unexpected end of JSON input; each line must be one export row",
		9: "no user_pseudo_id or user_id: consent mode (analytics_storage denied: GA4 exports cookieless pings " +
			"without ids), not a broken file; the event cannot be tied to a person and is left out",
		16: "exact duplicate of " + dup + " (same stream_id, user_pseudo_id, event_name, event_timestamp and " +
			"event_params, dbt-ga4's key): the export repeats rows; dropped, so it is counted once",
		18: "no event_timestamp: every export row has one (microseconds since the epoch, UTC)",
		19: "bad event_timestamp 1767642100: not microseconds since the epoch (seconds or milliseconds?)",
		20: "not a GA4 export row: user_pseudo_id is an object, want a string",
		21: `bad ecommerce.purchase_revenue "12,50": want a number`,
		22: "no event_name: every export row has one",
		23: "not a GA4 export row: event_params is a string, want an array of {key, value}",
	}
}

func TestExtractFixture(t *testing.T) {
	const spec = "ga4:" + fixture
	got, rej := run(t, fixture)
	lines, want := fixtureRows()
	require.Len(t, got, len(want))
	for i := range want {
		w := eventRow(want[i])
		w["input"], w["location"] = spec, fmt.Sprintf("%s:%d", fixture, lines[i])
		require.Equal(t, w, got[i], "row %d", i)
	}

	wantRej := fixtureRejections(fixture + ":2")
	require.Len(t, rej, len(wantRej))
	raw := bytes.Split(must(os.ReadFile(fixture)), []byte("\n"))
	for _, r := range rej {
		line, err := strconv.Atoi(strings.TrimPrefix(r.Location, fixture+":"))
		require.NoError(t, err, r.Location)
		require.Equal(t, spec, r.Input)
		require.Equal(t, wantRej[line], r.Reason, r.Location)
		require.Equal(t, string(raw[line-1]), r.Raw, r.Location)
	}
}

// TestParquetMatchesNDJSON: the Parquet fixture holds the NDJSON fixture's lines that
// fit the export schema; both give the same rows and, for those lines, the same
// rejections, located as file.parquet:row N.
func TestParquetMatchesNDJSON(t *testing.T) {
	ndRows, ndRej := run(t, fixture)
	pqRows, pqRej := run(t, parquetFixture)
	_, numbers := parquetLines(t)
	rowOf := map[int]int{} // NDJSON line -> Parquet row
	for k, n := range numbers {
		rowOf[n] = k + 1
	}
	pqLoc := func(ndLoc string) string {
		line, err := strconv.Atoi(strings.TrimPrefix(ndLoc, fixture+":"))
		require.NoError(t, err)
		require.Contains(t, rowOf, line)
		return fmt.Sprintf("%s:row %d", parquetFixture, rowOf[line])
	}

	require.Len(t, pqRows, len(ndRows))
	for i := range ndRows {
		want := maps.Clone(ndRows[i])
		want["input"], want["location"] = "ga4:"+parquetFixture, pqLoc(want["location"].(string))
		require.Equal(t, want, pqRows[i], "row %d", i)
	}

	var want []extract.Rejection
	for _, r := range ndRej {
		line, _ := strconv.Atoi(strings.TrimPrefix(r.Location, fixture+":"))
		if _, ok := rowOf[line]; !ok {
			continue // broken JSON or wrong types: no Parquet row
		}
		want = append(want, extract.Rejection{Input: "ga4:" + parquetFixture, Location: pqLoc(r.Location),
			Reason: strings.Replace(r.Reason, fixture+":2", parquetFixture+":row 2", 1)})
	}
	require.Len(t, want, 5)
	require.Len(t, pqRej, len(want))
	for i := range want {
		require.Equal(t, want[i].Location, pqRej[i].Location)
		require.Equal(t, want[i].Reason, pqRej[i].Reason)
		require.Equal(t, want[i].Input, pqRej[i].Input)
		require.True(t, json.Valid([]byte(pqRej[i].Raw)), pqRej[i].Raw)
	}
	// The consent-mode row's raw text is its read columns as JSON.
	require.Contains(t, pqRej[0].Raw, `"event_name":"page_view"`)
	require.Contains(t, pqRej[0].Raw, `"string_value":"https://www.example.com/blog/attribution"`)
	require.Contains(t, pqRej[0].Raw, `"user_pseudo_id":null`)
}

// TestExtractMixedGlob reads the NDJSON and the Parquet fixture in one glob: every
// Parquet row repeats an NDJSON line, so the usable ones are dropped as exact
// duplicates naming that line, whatever the format.
func TestExtractMixedGlob(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, fixture, filepath.Join(dir, "events_20260105.ndjson"))
	copyFile(t, parquetFixture, filepath.Join(dir, "events_20260105.parquet"))
	got, rej := run(t, filepath.Join(dir, "events_*"))
	lines, want := fixtureRows()
	require.Len(t, got, len(want))
	for i := range got {
		require.Equal(t, fmt.Sprintf("%s:%d", filepath.Join(dir, "events_20260105.ndjson"), lines[i]), got[i]["location"])
	}
	_, numbers := parquetLines(t)
	dups := 0
	for _, r := range rej {
		pq, ok := strings.CutPrefix(r.Location, filepath.Join(dir, "events_20260105.parquet")+":row ")
		if !ok || !strings.HasPrefix(r.Reason, "exact duplicate") {
			continue
		}
		row, err := strconv.Atoi(pq)
		require.NoError(t, err)
		line := numbers[row-1]
		if line == 16 {
			line = 2 // line 16 repeats line 2
		}
		require.Contains(t, r.Reason, fmt.Sprintf("exact duplicate of %s:%d ", filepath.Join(dir, "events_20260105.ndjson"), line))
		dups++
	}
	require.Equal(t, len(want)+1, dups) // every usable row, and the repeat of line 2
	require.Len(t, rej, len(fixtureRejections(""))+5+len(want))
}

// TestExtractIntraday: a day's intraday file is skipped when its daily file is in the
// glob (and the skip logged), read when it is not.
func TestExtractIntraday(t *testing.T) {
	dir := t.TempDir()
	line := func(ts int64, id string) []byte {
		return []byte(fmt.Sprintf(`{"event_date":"x","event_timestamp":"%d","event_name":"page_view","user_pseudo_id":%q,"event_params":[]}`, ts, id))
	}
	writeLines(t, filepath.Join(dir, "events_20260105.ndjson"), [][]byte{line(1767603600000000, "daily")})
	writeLines(t, filepath.Join(dir, "events_intraday_20260105.ndjson"), [][]byte{line(1767603600000000, "intraday-5")})
	writeLines(t, filepath.Join(dir, "events_intraday_20260106.ndjson"), [][]byte{line(1767690000000000, "intraday-6")})
	sub := filepath.Join(dir, "other")
	require.NoError(t, os.Mkdir(sub, 0o755))
	writeLines(t, filepath.Join(sub, "events_intraday_20260105-000000000000.ndjson"), [][]byte{line(1767603600000001, "other-property")})

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	var log bytes.Buffer
	e := New(Config{Path: filepath.Join(dir, "events_*.ndjson"), Mem: mem, Log: slog.New(slog.NewTextHandler(&log, nil))})
	require.NoError(t, e.Extract(context.Background(), c))
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	var ids []any
	for _, r := range rows(t, tbl) {
		ids = append(ids, r["anonymous_id"])
	}
	require.Equal(t, []any{"daily", "intraday-6"}, ids)
	require.Contains(t, log.String(), "intraday table skipped")
	require.Contains(t, log.String(), "events_intraday_20260105.ndjson")

	// Another folder is another property: its intraday file of the same day is read.
	require.Equal(t, table{day: "20260105", intraday: true}, tableOf(filepath.Join(sub, "events_intraday_20260105-000000000000.ndjson")))
	read, skip := dailyOverIntraday([]string{filepath.Join(dir, "events_20260105.ndjson"), filepath.Join(sub, "events_intraday_20260105-000000000000.ndjson")})
	require.Len(t, read, 2)
	require.Empty(t, skip)
	for name, want := range map[string]table{
		"events_20260105.parquet": {day: "20260105"}, "events_202601051.ndjson": {}, "events_2026010.ndjson": {},
		"events_intraday_20260107": {day: "20260107", intraday: true}, "pseudonymous_users_20260105.ndjson": {},
	} {
		require.Equal(t, want, tableOf(name), name)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	require.NoError(t, os.WriteFile(to, must(os.ReadFile(from)), 0o644))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
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
				require.Equal(t, strings.Replace(wantRej[i].Reason, fixture, path, 1), rej[i].Reason)
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
			reason: "no user_pseudo_id or user_id: consent mode"},
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
			reason: "ecommerce.purchase_revenue is NaN, not a number: leave it empty when unknown"},
		{name: "bad revenue", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"ecommerce":{"purchase_revenue":"12,50"}}`,
			reason: `bad ecommerce.purchase_revenue "12,50"`},
		{name: "object id", line: `{` + ts + `,"event_name":"x","user_pseudo_id":{"id":1}}`,
			reason: "not a GA4 export row"},
		{name: "array line", line: `[1,2]`, reason: "not a GA4 export row"},
		{name: "two objects", line: `{` + ts + `,"event_name":"x",` + ids + `} {}`, reason: "invalid JSON"},
		{name: "crlf", line: `{` + ts + `,"event_name":"x",` + ids + "}\r",
			want: map[string]any{"event_name": "x"}},
		{name: "whitespace between tokens", line: " { \"event_timestamp\" : \"1767603600123456\" ,\t\"event_name\":\"x\" , " + ids + " } ",
			want: map[string]any{"event_name": "x", "anonymous_id": "1.2"}},
		{name: "surrogate pair and lone surrogate", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"page_title","value":{"string_value":"\ud83d\ude00 \ud800!"}}]}`,
			want: map[string]any{"page_title": "\U0001F600 \uFFFD!"}},
		{name: "invalid UTF-8", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"page_title","value":{"string_value":"a` + "\xff\xfe" + `b"}}]}`,
			reason: "event_params page_title is not valid UTF-8 (byte 0xff at offset 1): re-export the file as UTF-8"},
		{name: "escaped NUL", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"page_title","value":{"string_value":"a\u0000"}}]}`,
			reason: "event_params page_title holds a NUL byte at offset 1"},
		{name: "escaped key", line: `{` + ts + `,"event_\u006eame":"x",` + ids + `}`,
			want: map[string]any{"event_name": "x"}},
		{name: "key given twice: the last", line: `{` + ts + `,"event_name":"x","event_name":"y",` + ids + `}`,
			want: map[string]any{"event_name": "y"}},
		{name: "null keeps a value", line: `{` + ts + `,"event_name":"x","user_id":"u1","user_id":null,` + ids + `}`,
			want: map[string]any{"user_id": "u1"}},
		{name: "unknown nested values are skipped", line: `{` + ts + `,"event_name":"x",` + ids + `,"items":[{"item_id":"A","price":1e2,"item_params":[{"key":"k","value":{"int_value":"-3"}}]}],"device":{"web_info":null,"flags":[true,false,null,-0.5E-3]}}`,
			want: map[string]any{"event_name": "x"}},
		{name: "object line of the wrong kind", line: `null`, reason: "not a GA4 export row: the line is null, want an object"},
		{name: "bad escape", line: `{` + ts + `,"event_name":"\x",` + ids + `}`, reason: "invalid JSON: invalid character 'x' in string escape code"},
		{name: "control character", line: `{` + ts + `,"event_name":"a` + "\t" + `b",` + ids + `}`, reason: "invalid JSON: invalid character"},
		{name: "bad number in a skipped value", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_value_in_usd":01}`, reason: "invalid JSON"},
		{name: "trailing comma", line: `{` + ts + `,"event_name":"x",` + ids + `,}`, reason: "invalid JSON"},
		{name: "type error before a syntax error", line: `{` + ts + `,"event_name":5,` + ids + `,}`, reason: "invalid JSON"},
		{name: "name of the wrong type", line: `{` + ts + `,"event_name":5,` + ids + `}`, reason: "not a GA4 export row: event_name is a number, want a string"},
		{name: "param entry of the wrong type", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":["ga_session_id"]}`,
			reason: "not a GA4 export row: an event_params entry is a string, want an object"},
		{name: "record of the wrong type", line: `{` + ts + `,"event_name":"x",` + ids + `,"collected_traffic_source":"google"}`,
			reason: "not a GA4 export row: collected_traffic_source is a string, want an object"},
		{name: "bad session id", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"ga_session_id","value":{"int_value":"17x"}}]}`,
			reason: `bad event_params ga_session_id: int_value "17x" is no integer`},
		{name: "bad unused param", line: `{` + ts + `,"event_name":"x",` + ids + `,"event_params":[{"key":"percent_scrolled","value":{"int_value":"ninety"}}]}`,
			want: map[string]any{"event_name": "x"}},
		{name: "session_engaged and engagement_time_msec of any type", line: `{` + ts + `,"event_name":"user_engagement",` + ids +
			`,"event_params":[{"key":"session_engaged","value":{"string_value":"1"}},{"key":"session_engaged","value":{"int_value":1}},{"key":"engagement_time_msec","value":{"string_value":"8120"}}]}`,
			want: map[string]any{"event_name": "user_engagement"}},
		{name: "purchase value from an int param", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"event_params":[{"key":"value","value":{"int_value":"30"}}]}`,
			want: map[string]any{"conversion_value": 30.0}},
		{name: "revenue wins over the value param", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"ecommerce":{"purchase_revenue":12},"event_params":[{"key":"value","value":{"double_value":30}}]}`,
			want: map[string]any{"conversion_value": 12.0}},
		{name: "bad purchase value param", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"event_params":[{"key":"value","value":{"string_value":"49,90"}}]}`,
			reason: `bad event_params value "49,90": want the purchase's value as a number`},
		{name: "purchase value as a string", line: `{` + ts + `,"event_name":"purchase",` + ids + `,"event_params":[{"key":"value","value":{"string_value":"49.90"}}]}`,
			want: map[string]any{"conversion_value": 49.9}},
		{name: "revenue outside a purchase", line: `{` + ts + `,"event_name":"refund",` + ids + `,"ecommerce":{"purchase_revenue":"12,50"}}`,
			want: map[string]any{"conversion_value": nil}},
		{name: "last click: Ads campaign for own gclid param", line: `{` + ts + `,"event_name":"session_start",` + ids +
			`,"event_params":[{"key":"gclid","value":{"string_value":"G3"}}],"session_traffic_source_last_click":{"google_ads_campaign":{"campaign_name":"Generic"}}}`,
			want: map[string]any{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "Generic", "gclid": "G3"}},
		{name: "last click: cross-channel google / cpc without Ads link", line: `{` + ts + `,"event_name":"first_visit",` + ids +
			`,"event_params":[{"key":"page_location","value":{"string_value":"https://x.example/?wbraid=W1"}}],"session_traffic_source_last_click":{"google_ads_campaign":null,"cross_channel_campaign":{"source":"google","medium":"cpc","campaign_name":"PMax"}}}`,
			want: map[string]any{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "PMax", "gclid": nil}},
		{name: "last click: Ads campaign for own google / cpc", line: `{` + ts + `,"event_name":"session_start",` + ids +
			`,"collected_traffic_source":{"manual_source":"google","manual_medium":"cpc"},"session_traffic_source_last_click":{"manual_campaign":{"source":"(direct)","medium":"(none)"},"google_ads_campaign":{"campaign_name":"Brand"}}}`,
			want: map[string]any{"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "Brand"}},
		{name: "last click: own campaign kept", line: `{` + ts + `,"event_name":"session_start",` + ids +
			`,"collected_traffic_source":{"manual_source":"Newsletter","manual_medium":"email","manual_campaign_name":"feb"},"session_traffic_source_last_click":{"manual_campaign":{"source":"newsletter","medium":"email","campaign_name":"jan","term":"t"}}}`,
			want: map[string]any{"utm_source": "Newsletter", "utm_campaign": "feb", "utm_term": "t"}},
		{name: "last click: other source ignored", line: `{` + ts + `,"event_name":"session_start",` + ids +
			`,"collected_traffic_source":{"manual_source":"bing","manual_medium":"cpc"},"session_traffic_source_last_click":{"manual_campaign":{"source":"google","medium":"cpc","campaign_name":"jan"},"cross_channel_campaign":{"source":"google","medium":"cpc","campaign_name":"jan"}}}`,
			want: map[string]any{"utm_source": "bing", "utm_campaign": nil}},
		{name: "last click: cross-channel agrees", line: `{` + ts + `,"event_name":"session_start",` + ids +
			`,"event_params":[{"key":"source","value":{"string_value":"partner"}},{"key":"medium","value":{"string_value":"affiliate"}}],"session_traffic_source_last_click":{"cross_channel_campaign":{"source":"partner","medium":"affiliate","campaign_name":"spring"}}}`,
			want: map[string]any{"utm_source": "partner", "utm_medium": "affiliate", "utm_campaign": "spring"}},
		{name: "last click: not an opener", line: `{` + ts + `,"event_name":"page_view",` + ids +
			`,"event_params":[{"key":"entrances","value":{"int_value":"0"}}],"collected_traffic_source":{"gclid":"G4"},"session_traffic_source_last_click":{"google_ads_campaign":{"campaign_name":"Generic"}}}`,
			want: map[string]any{"utm_source": nil, "utm_campaign": nil, "gclid": "G4"}},
		{name: "last click: opener by entrances as a string", line: `{` + ts + `,"event_name":"page_view",` + ids +
			`,"event_params":[{"key":"entrances","value":{"string_value":"1"}}],"collected_traffic_source":{"gclid":"G4"},"session_traffic_source_last_click":{"google_ads_campaign":{"campaign_name":"Generic"}}}`,
			want: map[string]any{"utm_source": "google", "utm_campaign": "Generic", "gclid": "G4"}},
		{name: "last click: placeholder name", line: `{` + ts + `,"event_name":"session_start",` + ids +
			`,"collected_traffic_source":{"gclid":"G5"},"session_traffic_source_last_click":{"google_ads_campaign":{"campaign_name":"(not set)"}}}`,
			want: map[string]any{"utm_source": nil, "utm_campaign": nil, "gclid": "G5"}},
		{name: "link_url over file_name", line: `{` + ts + `,"event_name":"file_download",` + ids +
			`,"event_params":[{"key":"file_name","value":{"string_value":"/a.pdf"}},{"key":"link_url","value":{"string_value":"https://x.example/a.pdf"}}]}`,
			want: map[string]any{"link_url": "https://x.example/a.pdf"}},
		{name: "file_name without link_url", line: `{` + ts + `,"event_name":"file_download",` + ids +
			`,"event_params":[{"key":"file_name","value":{"string_value":"/a.pdf"}},{"key":"link_url","value":null}]}`,
			want: map[string]any{"link_url": "/a.pdf"}},
		{name: "link_url on any event", line: `{` + ts + `,"event_name":"cta_click",` + ids +
			`,"event_params":[{"key":"link_url","value":{"string_value":"https://x.example/"}}]}`,
			want: map[string]any{"link_url": "https://x.example/", "kind": extract.KindEvent}},
		{name: "no link", line: `{` + ts + `,"event_name":"file_download",` + ids + `,"event_params":[{"key":"file_extension","value":{"string_value":"pdf"}}]}`,
			want: map[string]any{"link_url": nil}},
		{name: "dclid with a gclid", line: `{` + ts + `,"event_name":"x",` + ids + `,"collected_traffic_source":{"gclid":"G6","dclid":"D1"}}`,
			want: map[string]any{"utm_source": nil, "gclid": "G6"}},
	}
	// A file without a single JSON object is an error: a good row after each line
	// keeps the file NDJSON.
	const good = `{"event_timestamp":"1767603600000001","event_name":"good","user_pseudo_id":"g"}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, got, rej := runLines(t, "", tt.line, "   ", good) // blank lines count but are skipped
			require.NotEmpty(t, got)
			require.Equal(t, "good", got[len(got)-1]["event_name"])
			require.Equal(t, path+":4", got[len(got)-1]["location"])
			got = got[:len(got)-1]
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

// TestExtractLongLine: a line over extract.MaxLine is one rejection (raw cut), and the
// lines after it still read.
func TestExtractLongLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 16 MiB line")
	}
	long := `{"event_name":"` + strings.Repeat("x", extract.MaxLine) + `"}`
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
