package ga4

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	pqfile "github.com/apache/arrow-go/v18/parquet/file"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/extracttest"
)

var runStart = time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)

// runCfg extracts cfg (Now defaulting to runStart) through an extracttest.Writer and returns
// the events table as rows, the rejections, the stats and the error.
func runCfg(t *testing.T, cfg Config) ([]map[string]any, []extract.Rejection, Stats, error) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	if cfg.Now.IsZero() {
		cfg.Now = runStart
	}
	cfg.Mem = mem
	e := New(cfg)
	err := e.Extract(context.Background(), &extracttest.Writer{T: t, Next: c})
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	got, rej, st := rows(t, tbl), c.Rejections(), e.Stats()
	if err == nil {
		require.Equal(t, int64(len(got)), st.Events)
		require.Equal(t, int64(len(rej)), st.Rejected)
	}
	return got, rej, st, err
}

// row is one export row in BigQuery's JSON shape; the values go in as they are.
func row(ts, name, pseudo, extra string) string {
	return `{"event_timestamp":"` + ts + `","event_name":"` + name + `","user_pseudo_id":"` + pseudo + `"` + extra + `}`
}

func strParam(key, value string) string {
	return `{"key":"` + key + `","value":{"string_value":"` + value + `"}}`
}

const ts20260105 = "1767603600123456" // 2026-01-05T09:00:00.123456Z

// TestBadBytes: a Latin-1 byte or an escaped NUL in a value that reaches the table is
// a rejection at its line; the other rows load.
func TestBadBytes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events_20260105.ndjson")
	lines := []string{
		row(ts20260105, "page_view", "p1", `,"event_params":[`+strParam("page_title", `Caf\u00e9`)+`]`),
		row(ts20260105, "page_view", "p2", `,"event_params":[`+strParam("page_title", "caf\xe9")+`]`),
		row(ts20260105, "page_view", `p\u00003`, ""),
		row(ts20260105, "caf\xe9", "p4", ""),
		row(ts20260105, "x", "p5", `,"collected_traffic_source":{"manual_campaign_name":"spring\u0000"}`),
		row(ts20260105, "x", "p6", `,"event_params":[`+strParam("percent_scrolled", "caf\xe9")+`]`), // not read: loads
		row(ts20260105, "session_start", "p7", `,"collected_traffic_source":{"gclid":"G"},"session_traffic_source_last_click":{"google_ads_campaign":{"campaign_name":"`+"\xff"+`"}}`),
	}
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	got, rej, _, err := runCfg(t, Config{Path: path})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, "Café", got[0]["page_title"])
	require.Equal(t, path+":6", got[1]["location"])
	want := []struct {
		line   int
		reason string
	}{
		{2, "event_params page_title is not valid UTF-8 (byte 0xe9 at offset 3): re-export the file as UTF-8"},
		{3, "user_pseudo_id holds a NUL byte at offset 1"},
		{4, "event_name is not valid UTF-8 (byte 0xe9 at offset 3)"},
		{5, "collected_traffic_source.manual_campaign_name holds a NUL byte at offset 6"},
		{7, "session_traffic_source_last_click.google_ads_campaign.campaign_name is not valid UTF-8 (byte 0xff at offset 0)"},
	}
	require.Len(t, rej, len(want))
	for i, w := range want {
		require.Equal(t, fmt.Sprintf("%s:%d", path, w.line), rej[i].Location)
		require.Contains(t, rej[i].Reason, w.reason)
		require.Equal(t, lines[w.line-1], rej[i].Raw)
	}
}

// smallRow is one row of smallSchema; the strings go in as they are.
type smallRow struct {
	ts           int64
	name, pseudo string
	params       [][2]string // key, string_value
	source       string      // collected_traffic_source.manual_source
	revenue      float64     // ecommerce.purchase_revenue, when hasRevenue
	hasRevenue   bool
}

// smallSchema is the part of the export schema the decoder reads, and a column it
// does not.
var smallSchema = func() *arrow.Schema {
	s := arrow.BinaryTypes.String
	fld := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	value := arrow.StructOf(fld("string_value", s), fld("int_value", arrow.PrimitiveTypes.Int64))
	return arrow.NewSchema([]arrow.Field{
		fld("event_date", s),
		fld("event_timestamp", arrow.PrimitiveTypes.Int64),
		fld("event_name", s),
		fld("event_params", arrow.ListOf(arrow.StructOf(fld("key", s), fld("value", value)))),
		fld("user_pseudo_id", s),
		fld("collected_traffic_source", arrow.StructOf(fld("manual_source", s))),
		fld("ecommerce", arrow.StructOf(fld("purchase_revenue", arrow.PrimitiveTypes.Float64))),
	}, nil)
}()

// smallRecord builds a record of smallSchema.
func smallRecord(mem memory.Allocator, rows ...smallRow) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, smallSchema)
	defer b.Release()
	date := b.Field(0).(*array.StringBuilder)
	ts := b.Field(1).(*array.Int64Builder)
	name := b.Field(2).(*array.StringBuilder)
	params := b.Field(3).(*array.ListBuilder)
	pElem := params.ValueBuilder().(*array.StructBuilder)
	pKey := pElem.FieldBuilder(0).(*array.StringBuilder)
	pValue := pElem.FieldBuilder(1).(*array.StructBuilder)
	pStr := pValue.FieldBuilder(0).(*array.StringBuilder)
	pInt := pValue.FieldBuilder(1).(*array.Int64Builder)
	pseudo := b.Field(4).(*array.StringBuilder)
	cts := b.Field(5).(*array.StructBuilder)
	source := cts.FieldBuilder(0).(*array.StringBuilder)
	ecom := b.Field(6).(*array.StructBuilder)
	rev := ecom.FieldBuilder(0).(*array.Float64Builder)
	for _, r := range rows {
		date.Append("20260105")
		ts.Append(r.ts)
		name.Append(r.name)
		params.Append(true)
		for _, p := range r.params {
			pElem.Append(true)
			pKey.Append(p[0])
			pValue.Append(true)
			pStr.Append(p[1])
			pInt.AppendNull()
		}
		pseudo.Append(r.pseudo)
		cts.Append(true)
		source.Append(r.source)
		ecom.Append(true)
		if r.hasRevenue {
			rev.Append(r.revenue)
		} else {
			rev.AppendNull()
		}
	}
	return b.NewRecordBatch()
}

// badRows are rows of smallSchema with bad text or values, then a good one.
var badRows = []smallRow{
	{ts: 1767603600123456, name: "page_view", pseudo: "p1", params: [][2]string{{"page_title", "caf\xe9"}}},
	{ts: 1767603600123456, name: "x\x00", pseudo: "p2"},
	{ts: 1767603600123456, name: "x", pseudo: "p3", source: "\xc3"},
	{ts: 253402214400000000, name: "x", pseudo: "p4"}, // 9999-12-31
	{ts: 946684799000000, name: "x", pseudo: "p5"},    // 1999-12-31T23:59:59Z
	{ts: 1767603600123456, name: "purchase", pseudo: "p6", revenue: -5, hasRevenue: true},
	{ts: 1767603600123456, name: "purchase", pseudo: "p7", revenue: 1e13, hasRevenue: true},
	{ts: 1767603600123456, name: "purchase", pseudo: "p8", revenue: 12.5, hasRevenue: true},
}

// badReasons are the reasons of badRows' rejections, in order.
var badReasons = []string{
	"event_params page_title is not valid UTF-8 (byte 0xe9 at offset 3)",
	"event_name holds a NUL byte at offset 1",
	"collected_traffic_source.manual_source is not valid UTF-8 (byte 0xc3 at offset 0)",
	"event_timestamp 9999-12-31T00:00:00Z is after the run's start (2026-12-05T06:00:00Z) plus a day of clock skew",
	"event_timestamp 1999-12-31T23:59:59Z is before 2000-01-01",
	"ecommerce.purchase_revenue is negative (-5)",
	"ecommerce.purchase_revenue is 1e+13, above the plausible 1e+12",
}

// TestBadRowsParquet: bad text in a Parquet file's strings, and implausible times and
// values, are rejections located at the file's rows.
func TestBadRowsParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := smallRecord(mem, badRows...)
	defer rec.Release()
	var buf bytes.Buffer
	require.NoError(t, writeParquet(&buf, 3, rec))
	path := filepath.Join(t.TempDir(), "events_20260105.parquet")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o644))
	got, rej, _, err := runCfg(t, Config{Path: path})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, 12.5, got[0]["conversion_value"])
	require.Len(t, rej, len(badReasons))
	for i, r := range rej {
		require.Equal(t, fmt.Sprintf("%s:row %d", path, i+1), r.Location)
		require.Contains(t, r.Reason, badReasons[i])
		require.NotEmpty(t, r.Raw)
		require.Empty(t, extract.BadText("raw", r.Raw), "a record's raw text is JSON")
	}
}

// TestBadRowsRecord: the same through Decoder.DecodeRecord, as the BigQuery
// extractor hands it the read streams' batches.
func TestBadRowsRecord(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec := smallRecord(mem, badRows...)
	defer rec.Release()
	c := extract.NewCollector(mem)
	defer c.Release()
	d := NewDecoder("ga4:bigquery://p/d", mem, &extracttest.Writer{T: t, Next: c})
	defer d.Release()
	d.Now = runStart
	const loc = "bigquery://p/d/events_20260105 stream 0"
	require.NoError(t, d.DecodeRecord(context.Background(), rec, loc, 7))
	require.NoError(t, d.Flush(context.Background()))
	require.Equal(t, Stats{Events: 1, Rejected: int64(len(badReasons))}, d.Stats())
	rej := c.Rejections()
	for i, r := range rej {
		require.Equal(t, fmt.Sprintf("%s:row %d", loc, i+7), r.Location)
		require.Contains(t, r.Reason, badReasons[i])
	}
}

// TestPlausible: event times and purchase values outside extract's limits are
// rejections; a missing value stays null.
func TestPlausible(t *testing.T) {
	micros := func(s string) string { return fmt.Sprint(utc(s).UnixMicro()) }
	tests := []struct {
		name, line string
		reason     string // a rejection when set
		value      any
	}{
		{"in range", row(micros("2026-12-05T05:00:00Z"), "purchase", "p", `,"ecommerce":{"purchase_revenue":12.5}`), "", 12.5},
		{"clock skew", row(micros("2026-12-06T05:59:59Z"), "x", "p", ""), "", nil},
		{"no value", row(ts20260105, "purchase", "p", `,"ecommerce":{"purchase_revenue":null}`), "", nil},
		{"zero value", row(ts20260105, "purchase", "p", `,"ecommerce":{"purchase_revenue":0}`), "", 0.0},
		{"future", row(micros("2026-12-07T00:00:00Z"), "x", "p", ""), "event_timestamp 2026-12-07T00:00:00Z is after the run's start", nil},
		{"9999", row(micros("9999-12-31T00:00:00Z"), "x", "p", ""), "event_timestamp 9999-12-31T00:00:00Z is after the run's start", nil},
		{"1999", row(micros("1999-12-31T00:00:00Z"), "x", "p", ""), "event_timestamp 1999-12-31T00:00:00Z is before 2000-01-01", nil},
		{"negative revenue", row(ts20260105, "purchase", "p", `,"ecommerce":{"purchase_revenue":-1}`), "ecommerce.purchase_revenue is negative (-1)", nil},
		{"huge revenue", row(ts20260105, "purchase", "p", `,"ecommerce":{"purchase_revenue":"1e300"}`), "ecommerce.purchase_revenue is 1e+300, above the plausible", nil},
		{"infinite revenue", row(ts20260105, "purchase", "p", `,"ecommerce":{"purchase_revenue":"Infinity"}`), "ecommerce.purchase_revenue is +Inf, not a number", nil},
		{"negative value param", row(ts20260105, "purchase", "p", `,"event_params":[{"key":"value","value":{"double_value":-3}}]`), "event_params value is negative (-3)", nil},
		{"huge value param", row(ts20260105, "purchase", "p", `,"event_params":[{"key":"value","value":{"string_value":"2e12"}}]`), "event_params value is 2e+12, above", nil},
		{"refund not read", row(ts20260105, "refund", "p", `,"ecommerce":{"purchase_revenue":-1}`), "", nil},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("%d.ndjson", i))
			require.NoError(t, os.WriteFile(path, []byte(tt.line+"\n"), 0o644))
			got, rej, _, err := runCfg(t, Config{Path: path})
			require.NoError(t, err)
			if tt.reason == "" {
				require.Empty(t, rej)
				require.Len(t, got, 1)
				require.Equal(t, tt.value, got[0]["conversion_value"])
				return
			}
			require.Empty(t, got)
			require.Len(t, rej, 1)
			require.Equal(t, path+":1", rej[0].Location)
			require.Contains(t, rej[0].Reason, tt.reason)
		})
	}
}

// TestNowDefault: a Config without Now takes the time of New (NewBigQuery,
// NewDecoder).
func TestNowDefault(t *testing.T) {
	before := time.Now()
	for _, now := range []time.Time{New(Config{Path: "x"}).cfg.Now, NewBigQuery(BigQueryConfig{}).cfg.Now,
		NewDecoder("x", memory.NewGoAllocator(), nil).Now} {
		require.False(t, now.Before(before))
		require.False(t, now.After(time.Now()))
	}
}

// TestMissingDays: a day of the range without a file is a rejection located at the
// glob and the day, as a day without a table is for BigQuery; an intraday file
// stands for its day; a glob whose files name no day is not checked.
func TestMissingDays(t *testing.T) {
	dir := t.TempDir()
	good := row(ts20260105, "x", "p", "")
	for _, name := range []string{"events_20260101.ndjson", "events_intraday_20260103.ndjson", "events_20260105.ndjson.gz", "other.ndjson"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(good+"\n"), 0o644))
	}
	glob := filepath.Join(dir, "events_*")
	rng := extract.Range{From: utc("2026-01-01T00:00:00Z"), To: utc("2026-01-06T00:00:00Z")}
	got, missing, st, err := runCfg(t, Config{Path: glob, Range: rng})
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Len(t, missing, 3)
	for i, day := range []string{"2026-01-02", "2026-01-04", "2026-01-06"} {
		require.Equal(t, "ga4:"+glob, missing[i].Input)
		require.Equal(t, glob+" day "+day, missing[i].Location)
		d := strings.ReplaceAll(day, "-", "")
		require.Equal(t, "no file of "+day+" (a name with "+d+", as events_"+d+".ndjson.gz) matches "+glob+
			": this day's events are not read. GA4 writes a day's table during the following day; if the day is older, "+
			"the export to files missed it: export the table events_"+d+" into the folder, or leave the day out of the run's range",
			missing[i].Reason)
	}
	require.Equal(t, Stats{Events: 3, Rejected: 3}, st)

	// No range, or files without a day: nothing is missing.
	_, rej, _, err := runCfg(t, Config{Path: glob})
	require.NoError(t, err)
	require.Empty(t, rej)
	_, rej, _, err = runCfg(t, Config{Path: filepath.Join(dir, "other.ndjson"), Range: rng})
	require.NoError(t, err)
	require.Empty(t, rej)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestNotNDJSON: a file that is empty, or not NDJSON at all, is an error naming it
// and saying what it looks like; a file of JSON rows that are all rejected is not.
func TestNotNDJSON(t *testing.T) {
	good := []byte(row(ts20260105, "x", "p", "") + "\n")
	binary := make([]byte, 600)
	for i := range binary {
		binary[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		data []byte
		want string // part of the error, "" for none
	}{
		{"0 bytes", nil, "empty file (0 bytes)"},
		{"0 bytes parquet", nil, "empty file (0 bytes)"},
		{"empty gzip", gz(nil), "empty file: no line in it"},
		{"blank lines", []byte("\n  \r\n\n"), "empty file: only 3 blank lines"},
		{"gzip twice", gz(gz(good)), "not NDJSON: none of its 2 lines is a JSON object; it starts with bytes 1f 8b 08 00 00 00 00 00 …: gzip inside gzip (compressed twice?)"},
		{"binary", binary, "it starts with bytes 00 07 0e 15 1c 23 2a 31 …: binary data, not text"},
		{"zip", append([]byte("PK\x03\x04"), binary...), "a zip archive"},
		{"zstd", append([]byte("\x28\xb5\x2f\xfd"), binary...), "zstd-compressed data"},
		{"JSON array", []byte("[" + string(good[:len(good)-1]) + "]\n"), "a JSON array; export newline-delimited JSON"},
		{"pretty-printed", []byte("{\n  \"event_name\": \"x\",\n  \"user_pseudo_id\": \"p\"\n}\n"), "none of its 4 lines is a JSON object; it starts with bytes 7b 0a 20 20 22 65 76 65 …: JSON spread over several lines (pretty-printed?)"},
		{"HTML", []byte("<!DOCTYPE html>\n<html><body>Sign in</body></html>\n"), "HTML or XML"},
		{"CSV", []byte("event_name,user_pseudo_id\nx,p\n"), "text that is not JSON (CSV?)"},
		{"rows all rejected", []byte(`{"event_name":"x"}` + "\n" + `{"event_timestamp":"1","event_name":"x"}` + "\n"), ""},
		{"one broken row", append([]byte("{\"event_name\"\n"), good...), ""},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".ndjson")
			if strings.HasSuffix(tt.name, "parquet") {
				path = strings.TrimSuffix(path, ".ndjson") + ".parquet"
			}
			require.NoError(t, os.WriteFile(path, tt.data, 0o644))
			_, _, _, err := runCfg(t, Config{Path: path})
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			require.Contains(t, err.Error(), "ga4: "+path+": ")
			require.Contains(t, err.Error(), tt.want)
		})
	}
}

// badLines are export rows holding text no warehouse stores, in every field the
// decoder reads, on events that read them.
func badLines() []string {
	var out []string
	lc := func(rec, field, v string) string {
		return `,"session_traffic_source_last_click":{"` + rec + `":{"` + field + `":"` + v + `"}}`
	}
	for _, bad := range []string{"caf\xe9", `a\u0000b`, "\xff", "\xed\xa0\x80", "\xc3"} {
		out = append(out,
			row(ts20260105, bad, "p", ""),
			row(ts20260105, "x", bad, ""),
			row(ts20260105, "x", "p", `,"user_id":"`+bad+`"`),
			row(ts20260105, "x", "p", `,"stream_id":"`+bad+`"`),
		)
		for _, k := range []string{"ga_session_id", "page_location", "page_title", "page_referrer", "email", "currency",
			"source", "medium", "campaign", "term", "content", "gclid", "entrances", "link_url", "file_name", "value", "other"} {
			out = append(out, row(ts20260105, "purchase", "p", `,"event_params":[`+strParam(k, bad)+`]`))
		}
		for _, k := range collectedNames {
			out = append(out, row(ts20260105, "session_start", "p", `,"collected_traffic_source":{"`+k+`":"`+bad+`"}`))
		}
		for _, k := range manualNames {
			out = append(out, row(ts20260105, "session_start", "p", `,"collected_traffic_source":{"manual_source":"s","manual_medium":"m"}`+lc("manual_campaign", k, bad)))
		}
		for _, k := range crossNames {
			out = append(out, row(ts20260105, "session_start", "p", `,"collected_traffic_source":{"manual_source":"s","manual_medium":"m"}`+lc("cross_channel_campaign", k, bad)))
		}
		out = append(out, row(ts20260105, "session_start", "p", `,"collected_traffic_source":{"gclid":"G"}`+lc("google_ads_campaign", "campaign_name", bad)))
	}
	return out
}

// TestNoBadTextReachesWriter feeds the bad lines to the extractor: every batch holds
// storable strings only, every line is a row or a rejection.
func TestNoBadTextReachesWriter(t *testing.T) {
	lines := badLines()
	path := filepath.Join(t.TempDir(), "events_20260105.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644))
	got, rej, _, err := runCfg(t, Config{Path: path})
	require.NoError(t, err)
	require.Equal(t, len(lines), len(got)+len(rej))
	require.Greater(t, len(rej), len(got))
	for _, l := range lines {
		checkLine(t, []byte(l))
	}
}

// checkLine decodes one line as the extractor does and checks what comes out: every
// string storable, a rejection located and explained, the line a row or a rejection.
func checkLine(t *testing.T, line []byte) {
	if len(bytes.TrimSpace(line)) == 0 || bytes.IndexByte(line, '\n') >= 0 {
		return // the line splitter's business
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	d := NewDecoder("ga4:f", mem, &extracttest.Writer{T: t, Next: c})
	defer d.Release()
	d.Now = runStart
	ctx := context.Background()
	o, err := d.origin("f:")
	require.NoError(t, err)
	_, err = d.decodeLine(ctx, o, 1, line, len(line) > extract.MaxLine)
	require.NoError(t, err)
	require.NoError(t, d.Flush(ctx))
	st := d.Stats()
	require.Equal(t, int64(1), st.Events+st.Rejected, "%+v", st)
	require.Equal(t, st.Events, c.Rows("ga4:f", extract.TableEvents))
	require.Len(t, c.Rejections(), int(st.Rejected))
}

const smallParquet = "testdata/small.parquet"

// TestSmallParquet keeps testdata/small.parquet, FuzzParquet's seed, in step with
// badRows (rewritten with -update): a few rows in row groups of 3, one good.
func TestSmallParquet(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if *update {
		rec := smallRecord(mem, badRows...)
		var buf bytes.Buffer
		require.NoError(t, writeParquet(&buf, 3, rec))
		rec.Release()
		require.NoError(t, os.WriteFile(smallParquet, buf.Bytes(), 0o644))
	}
	got, rej, _, err := runCfg(t, Config{Path: smallParquet})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, rej, len(badReasons))
	for i, r := range rej {
		require.Contains(t, r.Reason, badReasons[i])
	}
}

// FuzzParquet reads mutations of a small Parquet file: go test -run '^$' -fuzz
// FuzzParquet ./extract/ga4. A broken file is an error or rejections, never a panic;
// what is written is storable; every rejection is located and explained; without an
// error, every row of the file is a row or a rejection.
func FuzzParquet(f *testing.F) {
	seed, err := os.ReadFile(smallParquet)
	require.NoError(f, err)
	f.Add(seed)
	dir := f.TempDir()
	var n int
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		path := filepath.Join(dir, fmt.Sprintf("events_20260105_%d.parquet", n))
		require.NoError(t, os.WriteFile(path, data, 0o644))
		defer os.Remove(path)
		_, _, st, err := runCfg(t, Config{Path: path})
		if err != nil {
			require.Contains(t, err.Error(), path)
			return
		}
		fh, err := os.Open(path)
		require.NoError(t, err)
		pr, err := pqfile.NewParquetReader(fh)
		require.NoError(t, err)
		defer pr.Close()
		require.Equal(t, pr.NumRows(), st.Events+st.Rejected)
	})
}

// TestStorableReason: a reason quoting the row's bad bytes shows them escaped.
func TestStorableReason(t *testing.T) {
	require.Equal(t, `bad event_timestamp "\x93\x00é"`, storable("bad event_timestamp \"\x93\x00é\""))
	require.Equal(t, "plain é", storable("plain é"))
	_, rej := run(t, writeTemp(t, `{"event_timestamp":"`+"\x93"+`","event_name":"x","user_pseudo_id":"p"}`+"\n"+row(ts20260105, "x", "p", "")))
	require.Len(t, rej, 1)
	require.Equal(t, `bad event_timestamp "\x93": want microseconds since the epoch, e.g. "1767603600123456"`, rej[0].Reason)
}

func writeTemp(t *testing.T, data string) string {
	path := filepath.Join(t.TempDir(), "events.ndjson")
	require.NoError(t, os.WriteFile(path, []byte(data), 0o644))
	return path
}
