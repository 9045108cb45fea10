package ga4

import (
	"bufio"
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite testdata/events_20260105.parquet from the NDJSON fixture")

const parquetFixture = "testdata/events_20260105.parquet"

// exportSchema is the GA4 BigQuery export's events_YYYYMMDD table as Arrow types, as
// the BigQuery Storage Read API and a Parquet export give it: INT64 as int64,
// FLOAT64 as float64, RECORD as struct, REPEATED RECORD as list<struct> (columns
// from developers.google.com/analytics/bigquery/event-schema; items and
// user_properties trimmed to their common fields).
var exportSchema = func() *arrow.Schema {
	s, i, f, b := arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, arrow.FixedWidthTypes.Boolean
	fld := func(name string, t arrow.DataType) arrow.Field {
		return arrow.Field{Name: name, Type: t, Nullable: true}
	}
	strs := func(names ...string) []arrow.Field {
		out := make([]arrow.Field, len(names))
		for k, n := range names {
			out[k] = fld(n, s)
		}
		return out
	}
	value := arrow.StructOf(fld("string_value", s), fld("int_value", i), fld("float_value", f), fld("double_value", f))
	params := arrow.ListOf(arrow.StructOf(fld("key", s), fld("value", value)))
	userValue := arrow.StructOf(fld("string_value", s), fld("int_value", i), fld("float_value", f), fld("double_value", f), fld("set_timestamp_micros", i))
	return arrow.NewSchema([]arrow.Field{
		fld("event_date", s),
		fld("event_timestamp", i),
		fld("event_name", s),
		fld("event_params", params),
		fld("event_previous_timestamp", i),
		fld("event_value_in_usd", f),
		fld("event_bundle_sequence_id", i),
		fld("event_server_timestamp_offset", i),
		fld("user_id", s),
		fld("user_pseudo_id", s),
		fld("privacy_info", arrow.StructOf(strs("analytics_storage", "ads_storage", "uses_transient_token")...)),
		fld("user_properties", arrow.ListOf(arrow.StructOf(fld("key", s), fld("value", userValue)))),
		fld("user_first_touch_timestamp", i),
		fld("user_ltv", arrow.StructOf(fld("revenue", f), fld("currency", s))),
		fld("device", arrow.StructOf(append(strs("category", "mobile_brand_name", "mobile_model_name", "mobile_marketing_name",
			"mobile_os_hardware_model", "operating_system", "operating_system_version", "vendor_id", "advertising_id",
			"language", "is_limited_ad_tracking"), fld("time_zone_offset_seconds", i), fld("browser", s), fld("browser_version", s),
			fld("web_info", arrow.StructOf(strs("browser", "browser_version", "hostname")...)))...)),
		fld("geo", arrow.StructOf(strs("city", "country", "continent", "region", "sub_continent", "metro")...)),
		fld("app_info", arrow.StructOf(strs("id", "version", "install_store", "firebase_app_id", "install_source")...)),
		fld("traffic_source", arrow.StructOf(strs("name", "medium", "source")...)),
		fld("stream_id", s),
		fld("platform", s),
		fld("event_dimensions", arrow.StructOf(fld("hostname", s))),
		fld("ecommerce", arrow.StructOf(fld("total_item_quantity", i), fld("purchase_revenue_in_usd", f), fld("purchase_revenue", f),
			fld("refund_value_in_usd", f), fld("refund_value", f), fld("shipping_value_in_usd", f), fld("shipping_value", f),
			fld("tax_value_in_usd", f), fld("tax_value", f), fld("unique_items", i), fld("transaction_id", s))),
		fld("items", arrow.ListOf(arrow.StructOf(fld("item_id", s), fld("item_name", s), fld("item_brand", s), fld("item_variant", s),
			fld("item_category", s), fld("price_in_usd", f), fld("price", f), fld("quantity", i), fld("item_revenue_in_usd", f),
			fld("item_revenue", f), fld("coupon", s), fld("affiliation", s), fld("item_list_name", s)))),
		fld("collected_traffic_source", arrow.StructOf(strs("manual_campaign_id", "manual_campaign_name", "manual_source",
			"manual_medium", "manual_term", "manual_content", "manual_source_platform", "manual_creative_format",
			"manual_marketing_tactic", "gclid", "dclid", "srsltid")...)),
		fld("is_active_user", b),
		fld("batch_event_index", i),
		fld("batch_page_id", i),
		fld("batch_ordering_id", i),
		fld("session_traffic_source_last_click", arrow.StructOf(
			fld("manual_campaign", arrow.StructOf(strs("campaign_id", "campaign_name", "source", "medium", "term", "content",
				"source_platform", "creative_format", "marketing_tactic")...)),
			fld("google_ads_campaign", arrow.StructOf(strs("customer_id", "account_name", "campaign_id", "campaign_name",
				"ad_group_id", "ad_group_name")...)),
			fld("cross_channel_campaign", arrow.StructOf(strs("campaign_id", "campaign_name", "source", "medium",
				"source_platform", "default_channel_group", "primary_channel_group")...)),
			fld("sa360_campaign", arrow.StructOf(strs("campaign_id", "campaign_name", "source", "medium", "ad_group_id",
				"ad_group_name", "creative_format", "engine_account_name", "engine_account_type", "manager_account_name")...)),
			fld("cm360_campaign", arrow.StructOf(strs("campaign_id", "campaign_name", "source", "medium", "account_id",
				"account_name", "advertiser_id", "advertiser_name", "creative_id", "creative_format", "creative_name",
				"creative_type", "creative_type_id", "creative_version", "placement_id", "placement_cost_structure",
				"placement_name", "rendering_id", "site_id", "site_name")...)),
			fld("dv360_campaign", arrow.StructOf(strs("campaign_id", "campaign_name", "source", "medium", "advertiser_id",
				"advertiser_name", "creative_id", "creative_format", "creative_name", "exchange_id", "exchange_name",
				"insertion_order_id", "insertion_order_name", "line_item_id", "line_item_name", "partner_id", "partner_name")...)),
		)),
		fld("publisher", arrow.StructOf(fld("ad_revenue_in_usd", f), fld("ad_format", s), fld("ad_source_name", s), fld("ad_unit_id", s))),
	}, nil)
}()

// exportRecord decodes NDJSON lines in BigQuery's JSON export shape into one record
// of exportSchema with arrow's own JSON reader, independently of the package's
// decoder. It fails on a line that does not fit the schema's types.
//
// One argument may hold several rows already joined by commas.
func exportRecord(mem memory.Allocator, lines ...[]byte) (arrow.RecordBatch, error) {
	rec, _, err := array.RecordFromJSON(mem, exportSchema, bytes.NewReader(append(append([]byte("["), bytes.Join(lines, []byte(","))...), ']')))
	return rec, err
}

// parquetLines returns the fixture's lines that fit the export schema, with their
// 1-based line numbers: the rows of the Parquet fixture, in order. The others
// (broken JSON, values of the wrong type) cannot be written as Parquet.
func parquetLines(t testing.TB) (lines [][]byte, numbers []int) {
	t.Helper()
	data, err := os.ReadFile(fixture)
	require.NoError(t, err)
	mem := memory.NewGoAllocator()
	for n, line := range bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n")) {
		rec, err := exportRecord(mem, line)
		if err != nil {
			continue
		}
		rec.Release()
		lines = append(lines, line)
		numbers = append(numbers, n+1)
	}
	return lines, numbers
}

// writeParquet writes recs, of one schema, to w, with row groups of at most
// rowGroup rows.
func writeParquet(w io.Writer, rowGroup int64, recs ...arrow.RecordBatch) error {
	fw, err := newParquetWriter(w, recs[0].Schema(), rowGroup)
	if err != nil {
		return err
	}
	for _, rec := range recs {
		if err := fw.WriteBuffered(rec); err != nil {
			fw.Close()
			return err
		}
	}
	return fw.Close()
}

// newParquetWriter returns a Parquet writer of schema to w, zstd-compressed, with row
// groups of at most rowGroup rows. Its Close closes w.
func newParquetWriter(w io.Writer, schema *arrow.Schema, rowGroup int64) (*pqarrow.FileWriter, error) {
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd), parquet.WithMaxRowGroupLength(rowGroup),
		parquet.WithStats(false), parquet.WithCreatedBy("closedloop extract/ga4 tests"))
	return pqarrow.NewFileWriter(schema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
}

// fixtureParquet returns the Parquet form of the NDJSON fixture: the lines that fit
// the export schema, in row groups of 8 rows so that reading crosses row groups.
func fixtureParquet(t testing.TB) []byte {
	t.Helper()
	lines, _ := parquetLines(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rec, err := exportRecord(mem, lines...)
	require.NoError(t, err)
	defer rec.Release()
	var buf bytes.Buffer
	require.NoError(t, writeParquet(&buf, 8, rec))
	return buf.Bytes()
}

// TestParquetFixture keeps the committed Parquet fixture in step with the NDJSON one:
// with -update it rewrites it; else it checks that the committed file holds what the
// generator writes, row for row (the bytes may differ with arrow-go's version).
func TestParquetFixture(t *testing.T) {
	data := fixtureParquet(t)
	if *update {
		require.NoError(t, os.WriteFile(parquetFixture, data, 0o644))
	}
	fresh := filepath.Join(t.TempDir(), "events_20260105.parquet")
	require.NoError(t, os.WriteFile(fresh, data, 0o644))
	want, wantRej := run(t, fresh)
	got, gotRej := run(t, parquetFixture)
	require.Len(t, got, len(want))
	for i := range want {
		want[i]["input"], want[i]["location"] = got[i]["input"], strings.Replace(want[i]["location"].(string), fresh, parquetFixture, 1)
		require.Equal(t, want[i], got[i], "row %d", i)
	}
	require.Len(t, gotRej, len(wantRej))
	for i := range wantRej {
		require.Equal(t, strings.ReplaceAll(wantRej[i].Reason, fresh, parquetFixture), gotRej[i].Reason)
	}
}

// writeNDJSONGzip writes lines to path, gzipped.
func writeLines(t testing.TB, path string, lines [][]byte) {
	t.Helper()
	f, err := os.Create(path)
	require.NoError(t, err)
	w := bufio.NewWriter(f)
	for _, l := range lines {
		w.Write(l)
		w.WriteByte('\n')
	}
	require.NoError(t, w.Flush())
	require.NoError(t, f.Close())
}
