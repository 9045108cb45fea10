package ga4

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// decode runs one Decoder over recs, each located at loc from row first, and returns
// the rows, the rejections and the first error.
func decode(t *testing.T, mem memory.Allocator, loc string, first int64, recs ...arrow.RecordBatch) ([]map[string]any, []extract.Rejection, error) {
	t.Helper()
	c := extract.NewCollector(mem)
	defer c.Release()
	d := NewDecoder("ga4:bigquery://p/d", mem, c)
	defer d.Release()
	for _, rec := range recs {
		if err := d.DecodeRecord(context.Background(), rec, loc, first); err != nil {
			return nil, nil, err
		}
		first += rec.NumRows()
	}
	require.NoError(t, d.Flush(context.Background()))
	tbl := c.Table(extract.TableEvents)
	defer tbl.Release()
	return rows(t, tbl), c.Rejections(), nil
}

// TestDecodeRecordSlice decodes a slice of a record of the export schema, as a
// BigQuery read stream hands them over, and expects the NDJSON rows of those lines.
func TestDecodeRecordSlice(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lines, numbers := parquetLines(t)
	rec, err := exportRecord(mem, lines...)
	require.NoError(t, err)
	defer rec.Release()
	const from, to = 5, 14 // fixture lines 6-7 and 9-15
	slice := rec.NewSlice(from, to)
	defer slice.Release()

	const loc = "bigquery://p/d/events_20260105"
	got, rej, err := decode(t, mem, loc, 65537, slice)
	require.NoError(t, err)

	ndRows, ndRej := run(t, fixture)
	var want []map[string]any
	for _, r := range ndRows {
		for k := from; k < to; k++ {
			if r["location"] == fmt.Sprintf("%s:%d", fixture, numbers[k]) {
				r["input"], r["location"] = "ga4:bigquery://p/d", fmt.Sprintf("%s:row %d", loc, 65537+k-from)
				want = append(want, r)
			}
		}
	}
	require.Len(t, want, 8)
	require.Equal(t, want, got)
	require.Len(t, rej, 1)
	require.Equal(t, loc+":row 65539", rej[0].Location) // line 9: consent mode
	require.Equal(t, ndRej[1].Reason, rej[0].Reason)
}

// TestDecodeRecordShapes: columns found by name in any order, optional ones
// missing, other Arrow types holding the export's values, struct nulls over valid
// children.
func TestDecodeRecordShapes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	str := func(vs ...string) arrow.Array {
		b := array.NewStringBuilder(mem)
		defer b.Release()
		for _, v := range vs {
			if v == "<null>" {
				b.AppendNull()
			} else {
				b.Append(v)
			}
		}
		return b.NewArray()
	}
	// The Storage Read API's element name is "item"; a Parquet file's "element".
	params := func(t *testing.T) arrow.Array {
		value := arrow.StructOf(arrow.Field{Name: "int_value", Type: arrow.BinaryTypes.String, Nullable: true},
			arrow.Field{Name: "string_value", Type: arrow.BinaryTypes.LargeString, Nullable: true})
		elem := arrow.StructOf(arrow.Field{Name: "value", Type: value, Nullable: true}, arrow.Field{Name: "key", Type: arrow.BinaryTypes.Binary, Nullable: true})
		a, _, err := array.FromJSON(mem, arrow.LargeListOf(elem), strings.NewReader(`[
			[{"key":"Z2Ffc2Vzc2lvbl9pZA==","value":{"int_value":"1767603600"}}],
			[{"key":"Z2Ffc2Vzc2lvbl9pZA==","value":{"int_value":"17x"}}],
			null]`))
		require.NoError(t, err)
		return a
	}(t)
	defer params.Release()
	tb := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Millisecond})
	defer tb.Release()
	for _, ms := range []int64{1767603600123, 1767603601000, 1767603602000} {
		tb.Append(arrow.Timestamp(ms))
	}
	ts := tb.NewArray()
	defer ts.Release()
	names, pseudo := str("page_view", "page_view", "purchase"), str("1.2", "1.3", "1.4")
	defer names.Release()
	defer pseudo.Release()
	// collected_traffic_source is null on row 0 although its child holds a value.
	source := str("stale", "bing", "<null>")
	defer source.Release()
	nulls := memory.NewResizableBuffer(mem)
	nulls.Resize(1)
	nulls.Bytes()[0] = 0b110
	collected, err := array.NewStructArrayWithNulls([]arrow.Array{source}, []string{"manual_source"}, nulls, 1, 0)
	nulls.Release()
	require.NoError(t, err)
	defer collected.Release()
	revenue, _, err := array.FromJSON(mem, arrow.BinaryTypes.String, strings.NewReader(`[null, null, "12.5"]`))
	require.NoError(t, err)
	defer revenue.Release()
	ecommerce, err := array.NewStructArray([]arrow.Array{revenue}, []string{"purchase_revenue"})
	require.NoError(t, err)
	defer ecommerce.Release()

	cols := []arrow.Array{ecommerce, collected, params, pseudo, names, ts}
	fields := make([]arrow.Field, len(cols))
	for i, n := range []string{"ecommerce", "collected_traffic_source", "event_params", "user_pseudo_id", "event_name", "event_timestamp"} {
		fields[i] = arrow.Field{Name: n, Type: cols[i].DataType(), Nullable: true}
	}
	rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, 3)
	defer rec.Release()

	got, rej, err := decode(t, mem, "x", 1, rec)
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, eventRow(map[string]any{"input": "ga4:bigquery://p/d", "location": "x:row 1",
		"occurred_at": utc("2026-01-05T09:00:00.123Z"), "kind": extract.KindPageView, "event_name": "page_view",
		"anonymous_id": "1.2", "session_key": "1767603600"}), got[0])
	require.Equal(t, eventRow(map[string]any{"input": "ga4:bigquery://p/d", "location": "x:row 3",
		"occurred_at": utc("2026-01-05T09:00:02Z"), "kind": extract.KindEvent, "event_name": "purchase",
		"anonymous_id": "1.4", "conversion_value": 12.5}), got[1])
	require.Len(t, rej, 1)
	require.Equal(t, "x:row 2", rej[0].Location)
	require.Equal(t, `bad event_params ga_session_id: int_value "17x" is no integer; the export writes INT64 and FLOAT64 values as digits`, rej[0].Reason)
	require.Contains(t, rej[0].Raw, `"user_pseudo_id":"1.3"`)
}

// TestDecodeRecordErrors: a record without a required column, or with a column of a
// type that cannot hold the export's, is an error naming the column.
func TestDecodeRecordErrors(t *testing.T) {
	i64, s := arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String
	params := arrow.ListOf(arrow.StructOf(arrow.Field{Name: "key", Type: s, Nullable: true}))
	base := []arrow.Field{{Name: "event_timestamp", Type: i64}, {Name: "event_name", Type: s}, {Name: "event_params", Type: params}, {Name: "user_pseudo_id", Type: s}}
	// with is base with column name of type typ: replaced, added, or removed (nil).
	with := func(name string, typ arrow.DataType) []arrow.Field {
		var out []arrow.Field
		found := false
		for _, f := range base {
			if f.Name == name {
				found, f.Type = true, typ
			}
			if f.Type != nil {
				out = append(out, f)
			}
		}
		if !found {
			out = append(out, arrow.Field{Name: name, Type: typ, Nullable: true})
		}
		return out
	}
	tests := []struct {
		name   string
		fields []arrow.Field
		want   string
	}{
		{"missing user_pseudo_id", with("user_pseudo_id", nil), "x: no column user_pseudo_id: not a GA4 export table"},
		{"missing event_params", with("event_params", nil), "x: no column event_params"},
		{"params not a list", with("event_params", s), "column event_params is utf8, want a list of struct<key, value>"},
		{"params of strings", with("event_params", arrow.ListOf(s)), "column event_params is list<item: utf8, nullable>, want a list of struct<key, value>"},
		{"boolean timestamp", with("event_timestamp", arrow.FixedWidthTypes.Boolean), "column event_timestamp is bool, want an integer"},
		{"record not a struct", with("collected_traffic_source", s), "column collected_traffic_source is utf8, want a struct"},
		{"nested of the wrong type", with("session_traffic_source_last_click", arrow.StructOf(arrow.Field{Name: "manual_campaign",
			Type: arrow.StructOf(arrow.Field{Name: "source", Type: arrow.ListOf(s)})})),
			"column session_traffic_source_last_click.manual_campaign.source is list<item: utf8, nullable>, want a string"},
		{"value of the wrong type", with("event_params", arrow.ListOf(arrow.StructOf(arrow.Field{Name: "value",
			Type: arrow.StructOf(arrow.Field{Name: "double_value", Type: arrow.FixedWidthTypes.Date32})}))),
			"column event_params[].value.double_value is date32, want a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			b := array.NewRecordBuilder(mem, arrow.NewSchema(tt.fields, nil))
			defer b.Release()
			rec := b.NewRecordBatch()
			defer rec.Release()
			_, _, err := decode(t, mem, "x", 1, rec)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "ga4: x: "), err.Error())
		})
	}
}

// TestExtractParquetErrors: Parquet files that are no export, or no Parquet.
func TestExtractParquetErrors(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)

	// An export without user_pseudo_id (a hand-made projection).
	schema := arrow.NewSchema([]arrow.Field{{Name: "event_timestamp", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "event_name", Type: arrow.BinaryTypes.String, Nullable: true}, exportSchema.Field(3)}, nil)
	rec, _, err := array.RecordFromJSON(mem, schema, strings.NewReader(`[{"event_timestamp":1767603600000000,"event_name":"x","event_params":[]}]`))
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, writeParquet(&buf, 10, rec))
	rec.Release()
	noID := filepath.Join(dir, "events_20260105.parquet")
	require.NoError(t, os.WriteFile(noID, buf.Bytes(), 0o644))

	truncated := filepath.Join(dir, "events_20260106.parquet")
	require.NoError(t, os.WriteFile(truncated, must(os.ReadFile(parquetFixture))[:4000], 0o644))
	notParquet := filepath.Join(dir, "events_20260107.parquet")
	require.NoError(t, os.WriteFile(notParquet, must(os.ReadFile(fixture)), 0o644))

	for _, tt := range []struct{ path, want string }{
		{noID, "ga4: " + noID + ": no column user_pseudo_id: not a GA4 export file (events_YYYYMMDD schema); export the table with all its columns"},
		{truncated, "ga4: " + truncated + ": not a readable Parquet file: "},
		{notParquet, "ga4: " + notParquet + ": not a readable Parquet file: "},
	} {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			c := extract.NewCollector(mem)
			defer c.Release()
			err := New(Config{Path: tt.path, Mem: mem}).Extract(context.Background(), c)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

// TestExtractParquetMagic reads a Parquet export whose sharded name has no
// extension, told by its magic bytes.
func TestExtractParquetMagic(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events_20260105-000000000000")
	copyFile(t, parquetFixture, path)
	got, rej := run(t, path)
	want, wantRej := run(t, parquetFixture)
	require.Len(t, got, len(want))
	require.Len(t, rej, len(wantRej))
	require.Equal(t, path+":row 1", got[0]["location"])
}

// TestColumns: every column the decoder reads is a field of the export schema, and
// the user-scoped traffic_source is not read.
func TestColumns(t *testing.T) {
	cols := Columns()
	require.Len(t, cols, 23)
	for _, c := range cols {
		require.False(t, strings.HasPrefix(c, "traffic_source"), c)
		typ := arrow.DataType(arrow.StructOf(exportSchema.Fields()...))
		for _, name := range strings.Split(c, ".") {
			st, ok := typ.(*arrow.StructType)
			require.True(t, ok, c)
			k, ok := st.FieldIdx(name)
			require.True(t, ok, c)
			typ = st.Field(k).Type
		}
	}
	require.Contains(t, cols, "event_params")
	require.Contains(t, cols, "session_traffic_source_last_click.google_ads_campaign.campaign_name")
}

// TestDecodeRecordRowNumbers: rows are numbered from 1.
func TestDecodeRecordRowNumbers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	lines, _ := parquetLines(t)
	rec, err := exportRecord(mem, lines[0])
	require.NoError(t, err)
	defer rec.Release()
	_, _, err = decode(t, mem, "x", 0, rec)
	require.EqualError(t, err, "ga4: x: rows numbered from 0: want 1 to 2^40")
}
