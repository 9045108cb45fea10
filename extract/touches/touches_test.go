package touches

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

// run extracts path and returns the events table as rows and the rejections.
func run(t *testing.T, path string) ([]map[string]any, []extract.Rejection) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()

	e := New(Config{Spec: "touches:" + path, Path: path, Mem: mem})
	require.NoError(t, e.Extract(context.Background(), c))
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	return rows(t, tbl), c.Rejections()
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
				case *array.Int64:
					out[r][name] = a.Value(j)
				case *array.Boolean:
					out[r][name] = a.Value(j)
				case *array.Date32:
					out[r][name] = a.Value(j).ToTime()
				default:
					t.Fatalf("column %s: unexpected type %T", name, chunk)
				}
			}
		}
	}
	return out
}

// touchRow is the full expected row for a touch, every other column null.
func touchRow(spec, loc string, at time.Time, name, cookie, channel string, conv bool, value any) map[string]any {
	return map[string]any{
		"input": spec, "location": loc, "occurred_at": at, "kind": extract.KindTouch,
		"event_name": name, "anonymous_id": cookie, "user_id": nil, "email": nil,
		"session_key": nil, "page_location": nil, "page_title": nil, "page_referrer": nil,
		"utm_source": nil, "utm_medium": nil, "utm_campaign": nil, "utm_term": nil,
		"utm_content": nil, "gclid": nil, "channel": channel, "is_conversion": conv,
		"conversion_value": value, "currency": nil, "crm_record": nil, "link_url": nil,
	}
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func TestExtractLog(t *testing.T) {
	const path = "testdata/log.csv"
	const spec = "touches:" + path
	got, rej := run(t, path)
	require.Empty(t, rej)
	require.Equal(t, []map[string]any{
		touchRow(spec, path+":2", utc("2018-07-03T13:02:11Z"), "impression", "00000FkCnDfDDf0iC97iC703B", "Instagram", false, nil),
		touchRow(spec, path+":3", utc("2018-07-17T19:15:07Z"), "impression", "00000FkCnDfDDf0iC97iC703B", "Online Display", false, nil),
		touchRow(spec, path+":4", utc("2018-07-23T12:58:53Z"), "impression", "0000nACkD9nFkBBDECD3ki00E", "Paid Search", false, nil),
		touchRow(spec, path+":5", utc("2018-07-24T07:31:10Z"), "conversion", "0000nACkD9nFkBBDECD3ki00E", "Facebook", true, 8.5),
		touchRow(spec, path+":6", utc("2018-07-01T08:14:24Z"), "impression", "0003EfE37E93D0BC03iBhBBhF", "Online Video", false, nil),
	}, got)
}

// messy.csv has a BOM, CRLF, a blank line, its own column order and case, no
// interaction or conversion_value column, a quoted multi-line field and bad rows.
func TestExtractMessy(t *testing.T) {
	const path = "testdata/messy.csv"
	const spec = "touches:" + path
	got, rej := run(t, path)
	require.Equal(t, []map[string]any{
		touchRow(spec, path+":2", utc("2018-07-01T10:00:00Z"), "impression", "aaa", "Facebook", false, nil),
		touchRow(spec, path+":4", utc("2018-07-02T08:00:00Z"), "impression", "aaa", "Paid Search", true, nil),
		touchRow(spec, path+":11", utc("2018-07-01T10:00:00Z"), "impression", "ggg", "Online\nDisplay, EU", true, nil),
	}, got)

	want := []struct{ line, reason, raw string }{
		{"5", "3 fields where the header has 4", "Facebook,bbb,2018-07-01"},
		{"6", "empty cookie", "Facebook,,2018-07-01T10:00:00Z,0"},
		{"7", `bad time: time "yesterday": want RFC 3339`, "Facebook,ccc,yesterday,0"},
		{"8", `bad conversion flag "yes": want 0 or 1`, "Facebook,ddd,2018-07-01T10:00:00Z,yes"},
		{"9", "empty channel", " ,eee,2018-07-01T10:00:00Z,0"},
		{"10", `not valid CSV: bare " in non-quoted-field`, `Face"book,fff,2018-07-01T10:00:00Z,0`},
	}
	require.Len(t, rej, len(want))
	for i, w := range want {
		require.Equal(t, spec, rej[i].Input)
		require.Equal(t, path+":"+w.line, rej[i].Location)
		require.Contains(t, rej[i].Reason, w.reason)
		require.Equal(t, w.raw, rej[i].Raw)
	}
}

func TestExtractValues(t *testing.T) {
	const head = "cookie,time,interaction,conversion,conversion_value,channel\n"
	tests := []struct {
		name   string
		row    string
		conv   bool
		value  any
		event  string
		reason string // a rejection when set
	}{
		{name: "impression", row: "c,2018-07-01T00:00:00Z,impression,0,0.0,Facebook", event: "impression"},
		{name: "value ignored without conversion", row: "c,2018-07-01T00:00:00Z,impression,0,3.5,Facebook", event: "impression"},
		{name: "conversion by interaction", row: "c,2018-07-01T00:00:00Z,Conversion,0,2.5,Facebook", event: "Conversion", conv: true, value: 2.5},
		{name: "conversion by flag", row: "c,2018-07-01T00:00:00Z,click,1,2,Facebook", event: "click", conv: true, value: 2.0},
		{name: "flag true", row: "c,2018-07-01T00:00:00Z,click,True,,Facebook", event: "click", conv: true},
		{name: "default interaction", row: "c,2018-07-01T00:00:00Z,,,,Facebook", event: "impression"},
		{name: "bad flag", row: "c,2018-07-01T00:00:00Z,click,2,0,Facebook", reason: `bad conversion flag "2"`},
		{name: "bad value", row: "c,2018-07-01T00:00:00Z,conversion,1,€3,Facebook", reason: `bad conversion_value "€3"`},
		{name: "nan value", row: "c,2018-07-01T00:00:00Z,conversion,1,NaN,Facebook", reason: "conversion_value is NaN, not a number"},
		{name: "zero time", row: "c,0001-01-01T00:00:00Z,impression,0,0,Facebook", reason: "bad time"},
		{name: "too many fields", row: "c,2018-07-01T00:00:00Z,impression,0,0,Facebook,x", reason: "7 fields where the header has 6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "log.csv")
			require.NoError(t, os.WriteFile(path, []byte(head+tt.row+"\n"), 0o644))
			got, rej := run(t, path)
			if tt.reason != "" {
				require.Empty(t, got)
				require.Len(t, rej, 1)
				require.Contains(t, rej[0].Reason, tt.reason)
				require.Equal(t, path+":2", rej[0].Location)
				require.Equal(t, tt.row, rej[0].Raw)
				return
			}
			require.Empty(t, rej)
			require.Len(t, got, 1)
			require.Equal(t, tt.event, got[0]["event_name"])
			require.Equal(t, tt.conv, got[0]["is_conversion"])
			require.Equal(t, tt.value, got[0]["conversion_value"])
		})
	}
}

// TestExtractGzip reads the fixture gzipped, with and without the .gz name, and a
// glob over several files in sorted order.
func TestExtractGzip(t *testing.T) {
	plain, err := os.ReadFile("testdata/log.csv")
	require.NoError(t, err)
	dir := t.TempDir()
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err = zw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.csv.gz"), zipped.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.csv"), zipped.Bytes(), 0o644)) // gzip despite the name
	require.NoError(t, os.Mkdir(filepath.Join(dir, "c.csv"), 0o755))                     // a directory: skipped

	want, _ := run(t, "testdata/log.csv")
	got, rej := run(t, filepath.Join(dir, "*.csv*"))
	require.Empty(t, rej)
	require.Len(t, got, 2*len(want))
	for i, row := range got {
		file := "a.csv"
		if i >= len(want) {
			file = "b.csv.gz"
		}
		w := want[i%len(want)]
		require.Equal(t, strings.Replace(w["location"].(string), "testdata/log.csv", filepath.Join(dir, file), 1), row["location"])
		for k, v := range w {
			if k != "location" && k != "input" {
				require.Equal(t, v, row[k], "row %d column %s", i, k)
			}
		}
	}
}

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	badGzip := filepath.Join(dir, "bad.csv.gz")
	require.NoError(t, os.WriteFile(badGzip, []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}, 0o644))
	truncated := filepath.Join(dir, "truncated.csv.gz")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	fmt.Fprintf(zw, "cookie,time,channel\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(zw, "c%d,2018-07-01T00:00:00Z,Facebook\n", i)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, os.WriteFile(truncated, buf.Bytes()[:buf.Len()/2], 0o644))
	empty := filepath.Join(dir, "empty.csv")
	require.NoError(t, os.WriteFile(empty, nil, 0o644))
	twice := filepath.Join(dir, "twice.csv")
	require.NoError(t, os.WriteFile(twice, []byte("cookie,time,Cookie,channel\n"), 0o644))

	tests := []struct {
		name   string
		path   string
		config bool     // errors.Is(err, extract.ErrConfig)
		want   []string // substrings of the message
	}{
		{"no match", "testdata/nope-*.csv", true, []string{"touches:testdata/nope-*.csv", `no file matches "testdata/nope-*.csv"`}},
		{"bad glob", "testdata/[.csv", true, []string{"bad glob"}},
		{"missing column", "testdata/nochannel.csv", true, []string{"testdata/nochannel.csv", `no column "channel"`, header}},
		{"duplicate column", twice, true, []string{twice, `"cookie" appears twice`}},
		{"empty file", empty, true, []string{empty, "empty file", header}},
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
	err := New(Config{Path: "testdata/log.csv", Mem: mem}).Extract(ctx, c)
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
	err := New(Config{Path: "testdata/messy.csv", Mem: mem}).Extract(ctx, cancelOnReject{c, cancel})
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, c.Rejections())
}

func TestName(t *testing.T) {
	e := New(Config{Spec: "touches:data/log.csv", Path: "data/log.csv"})
	require.Equal(t, "touches:data/log.csv", e.Name())
	require.Equal(t, []string{extract.TableEvents}, e.Tables())
	require.Equal(t, "touches:x.csv", New(Config{Path: "x.csv"}).Name())
}

// TestKaggle reads the real Multi-Touch Attribution file when CLOSEDLOOP_MTA_CSV
// names it (see /work/shared/data/kaggle-multi-touch-attribution/SOURCE.md) and
// checks the figures published about it.
func TestKaggle(t *testing.T) {
	path := os.Getenv("CLOSEDLOOP_MTA_CSV")
	if path == "" || testing.Short() {
		t.Skip("CLOSEDLOOP_MTA_CSV not set")
	}
	got, rej := run(t, path)
	require.Empty(t, rej)
	require.Len(t, got, 586737)
	var conv int
	var value float64
	for _, r := range got {
		if r["is_conversion"].(bool) {
			conv++
			value += r["conversion_value"].(float64)
		}
	}
	require.Equal(t, 17639, conv)
	require.InDelta(t, 110231, value, 1)
}

// BenchmarkDecodeTouches reads a generated 200k-row touch log.
func BenchmarkDecodeTouches(b *testing.B) {
	const n = 200_000
	path := filepath.Join(b.TempDir(), "log.csv")
	var buf bytes.Buffer
	buf.WriteString(header + "\n")
	channels := []string{"Facebook", "Instagram", "Online Display", "Online Video", "Paid Search"}
	start := utc("2018-07-01T00:00:00Z")
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * 13 * time.Second).Format(time.RFC3339)
		if i%33 == 32 {
			fmt.Fprintf(&buf, "%025x,%s,conversion,1,%.1f,%s\n", i/7, at, float64(i%9), channels[i%5])
		} else {
			fmt.Fprintf(&buf, "%025x,%s,impression,0,0.0,%s\n", i/7, at, channels[i%5])
		}
	}
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
		if got := c.Rows("touches:"+path, extract.TableEvents); got != n {
			b.Fatalf("%d rows, want %d", got, n)
		}
		c.Release()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestBlocksAreOneReader: a file cut into many small blocks, parsed on several cores,
// gives the rows and rejections, with their line numbers and raw text, of one reader:
// quoted fields with line breaks and quotes, CRLF, broken and short rows, a record
// longer than a block.
func TestBlocksAreOneReader(t *testing.T) {
	var b strings.Builder
	b.WriteString("cookie,time,interaction,conversion,conversion_value,channel\r\n")
	for i := 0; i < 400; i++ {
		switch i % 9 {
		case 0:
			fmt.Fprintf(&b, "\"c%d\",2026-01-02T10:%02d:00Z,\"multi\nline \"\"quoted\"\"\nname\",0,0.0,Paid Search\r\n", i, i%60)
		case 3:
			fmt.Fprintf(&b, "c%d,not a time,impression,0,0.0,Email\n", i)
		case 5:
			fmt.Fprintf(&b, "c%d,2026-01-02T10:00:00Z,\"broken \"quote,0,0,Email\n", i)
		case 7:
			fmt.Fprintf(&b, "c%d,2026-01-02T10:00:00Z,conversion,1,%d.5,\"%s\"\n", i, i, strings.Repeat("Long Channel ", 20))
		default:
			fmt.Fprintf(&b, "c%d,2026-01-02T11:%02d:00Z,impression,0,0.0,Organic Social\n", i, i%60)
		}
	}
	b.WriteString("clast,2026-01-03T00:00:00Z,impression,0,0.0,Direct") // no line end
	path := filepath.Join(t.TempDir(), "log.csv")
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))

	whole, wholeRej := run(t, path)
	defer func(n int) { blockSize = n }(blockSize)
	blockSize = 97 // many blocks; the long rows span several
	cut, cutRej := run(t, path)
	require.Greater(t, len(whole), 300)
	require.NotEmpty(t, wholeRej)
	require.Equal(t, whole, cut)
	require.Equal(t, wholeRej, cutRej)
	require.Equal(t, path+":2", whole[0]["location"])
	require.Equal(t, "multi\nline \"quoted\"\nname", whole[0]["event_name"])
	require.Equal(t, path+":5", whole[1]["location"]) // after a record of three lines
}
