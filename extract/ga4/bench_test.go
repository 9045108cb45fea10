package ga4

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// genTraffic is a session's traffic in the generated export.
type genTraffic struct {
	source, medium, campaign, content string
	gclid                             bool
	referrer                          string
}

var genTraffics = []genTraffic{
	{source: "newsletter", medium: "email", campaign: "jan_launch", content: "hero_button"},
	{source: "google", medium: "cpc", campaign: "Brand Search EU", gclid: true, referrer: "https://www.google.com/"},
	{referrer: "https://www.google.com/"},
	{},
	{source: "linkedin", medium: "paid_social", campaign: "q1_abm", content: "video_a", referrer: "https://www.linkedin.com/"},
}

var genPages = []struct{ path, title string }{
	{"/", "Example - Home"}, {"/pricing", "Pricing | Example"}, {"/features", "Features | Example"},
	{"/blog/attribution", "Attribution 101 | Example"}, {"/demo", "Book a demo | Example"}, {"/checkout/thank-you", "Thank you | Example"},
}

var genDownloads = []struct{ path, ext string }{
	{"/assets/security-whitepaper.pdf", "pdf"}, {"/assets/pricing-guide.pdf", "pdf"}, {"/assets/roi-calculator.xlsx", "xlsx"},
}

// genExport calls emit with n export rows in BigQuery's JSON export shape, each a line
// ending in "\n" valid until the next call:
// web sessions of 2 to 12 events (session_start, page views, engagement, scrolls,
// file downloads, sometimes a purchase with items), with device, geo, privacy_info, traffic_source,
// collected_traffic_source on the landing events and session_traffic_source_last_click,
// about 1.2 KB a row. Every row is unique and usable.
func genExport(n int, seed uint64, emit func(line []byte)) {
	r := rand.New(rand.NewPCG(seed, 1))
	b := make([]byte, 0, 4096)
	ts := int64(1767571200000000) // 2026-01-05T00:00:00Z
	for i := 0; i < n; {
		user := strconv.FormatUint(uint64(r.Uint32()), 10) + "." + strconv.FormatInt(ts/1e6-r.Int64N(9e6), 10)
		sid := strconv.FormatInt(ts/1e6, 10)
		tr := &genTraffics[r.IntN(len(genTraffics))]
		size := 2 + r.IntN(11)
		for k := 0; k < size && i < n; k, i = k+1, i+1 {
			ts += 1 + r.Int64N(4_000_000)
			page := &genPages[r.IntN(len(genPages))]
			name := "page_view"
			switch {
			case k == 0:
				name = "session_start"
			case k == size-1 && r.IntN(8) == 0:
				name = "purchase"
			case r.IntN(4) == 0:
				name = "user_engagement"
			case r.IntN(5) == 0:
				name = "scroll"
			case r.IntN(12) == 0:
				name = "file_download"
			}
			url := "https://www.example.com" + page.path
			if k <= 1 {
				switch {
				case tr.gclid:
					url += "?gclid=Cj0KCQiA" + strconv.FormatUint(r.Uint64(), 36) + "&gad_source=1"
				case tr.source != "":
					url += "?utm_source=" + tr.source + "&utm_medium=" + tr.medium + "&utm_campaign=" + tr.campaign
				}
			}
			b = append(b[:0], `{"event_date":"20260105","event_timestamp":"`...)
			b = strconv.AppendInt(b, ts, 10)
			b = append(b, `","event_name":"`...)
			b = append(b, name...)
			b = append(b, `","event_params":[{"key":"ga_session_id","value":{"int_value":"`...)
			b = append(b, sid...)
			b = append(b, `"}},{"key":"ga_session_number","value":{"int_value":"`...)
			b = strconv.AppendInt(b, 1+int64(r.IntN(9)), 10)
			b = append(b, `"}},{"key":"page_location","value":{"string_value":"`...)
			b = append(b, url...)
			b = append(b, `"}},{"key":"page_title","value":{"string_value":"`...)
			b = append(b, page.title...)
			b = append(b, `"}}`...)
			if k <= 1 && tr.referrer != "" {
				b = append(b, `,{"key":"page_referrer","value":{"string_value":"`...)
				b = append(b, tr.referrer...)
				b = append(b, `"}}`...)
			}
			if k == 1 {
				b = append(b, `,{"key":"entrances","value":{"int_value":"1"}}`...)
			}
			b = append(b, `,{"key":"engagement_time_msec","value":{"int_value":"`...)
			b = strconv.AppendInt(b, r.Int64N(60000), 10)
			b = append(b, `"}},{"key":"session_engaged","value":{"string_value":"1"}}`...)
			if name == "file_download" {
				// Enhanced measurement sends link_url; every third one here, as a tag
				// made by hand would, only file_name.
				file := &genDownloads[r.IntN(len(genDownloads))]
				b = append(b, `,{"key":"file_extension","value":{"string_value":"`...)
				b = append(b, file.ext...)
				b = append(b, `"}},{"key":"file_name","value":{"string_value":"`...)
				b = append(b, file.path...)
				b = append(b, `"}},{"key":"link_text","value":{"string_value":"Download"}}`...)
				if r.IntN(3) > 0 {
					b = append(b, `,{"key":"link_url","value":{"string_value":"https://www.example.com`...)
					b = append(b, file.path...)
					b = append(b, `"}}`...)
				}
			}
			if name == "purchase" {
				b = append(b, `,{"key":"currency","value":{"string_value":"EUR"}},{"key":"value","value":{"double_value":149.0}}`...)
			}
			b = append(b, `],"event_bundle_sequence_id":"`...)
			b = strconv.AppendInt(b, int64(i), 10)
			if r.IntN(6) == 0 {
				b = append(b, `","user_id":"crm-`...)
				b = strconv.AppendInt(b, r.Int64N(100000), 10)
			}
			b = append(b, `","user_pseudo_id":"`...)
			b = append(b, user...)
			b = append(b, `","privacy_info":{"analytics_storage":"Yes","ads_storage":"Yes","uses_transient_token":"No"},"user_first_touch_timestamp":"1764000000000000",`...)
			b = append(b, `"device":{"category":"desktop","mobile_brand_name":"Apple","operating_system":"Macintosh","operating_system_version":"Macintosh Intel 10.15","language":"en-gb","is_limited_ad_tracking":"No","web_info":{"browser":"Chrome","browser_version":"131.0.0.0","hostname":"www.example.com"}},`...)
			b = append(b, `"geo":{"city":"Amsterdam","country":"Netherlands","continent":"Europe","region":"North Holland","sub_continent":"Western Europe","metro":"(not set)"},`...)
			b = append(b, `"traffic_source":{"name":"(referral)","medium":"referral","source":"partner.example.org"},"stream_id":"4178012345","platform":"WEB","is_active_user":true`...)
			if k <= 1 && (tr.source != "" || tr.gclid) {
				b = append(b, `,"collected_traffic_source":{`...)
				if tr.gclid {
					b = append(b, `"gclid":"Cj0KCQiA`...)
					b = strconv.AppendUint(b, r.Uint64(), 36)
					b = append(b, `"}`...)
				} else {
					b = append(b, `"manual_source":"`+tr.source+`","manual_medium":"`+tr.medium+`","manual_campaign_name":"`+tr.campaign+`","manual_content":"`+tr.content+`"}`...)
				}
			}
			switch {
			case tr.gclid:
				b = append(b, `,"session_traffic_source_last_click":{"google_ads_campaign":{"customer_id":"1234567890","account_name":"Example Ads","campaign_id":"20123456789","campaign_name":"Brand Search EU","ad_group_id":"151234567890","ad_group_name":"brand exact"},"cross_channel_campaign":{"campaign_name":"Brand Search EU","source":"google","medium":"cpc","default_channel_group":"Paid Search","primary_channel_group":"Paid Search"}}`...)
			case tr.source != "":
				b = append(b, `,"session_traffic_source_last_click":{"manual_campaign":{"campaign_name":"`+tr.campaign+`","source":"`+tr.source+`","medium":"`+tr.medium+`","content":"`+tr.content+`"},"cross_channel_campaign":{"campaign_name":"`+tr.campaign+`","source":"`+tr.source+`","medium":"`+tr.medium+`"}}`...)
			}
			if name == "purchase" {
				b = append(b, `,"event_value_in_usd":162.41,"ecommerce":{"total_item_quantity":"1","purchase_revenue_in_usd":162.41,"purchase_revenue":149.0,"tax_value":25.86,"unique_items":"1","transaction_id":"T-`...)
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, `"},"items":[{"item_id":"PLAN-PRO-Y","item_name":"Pro plan (yearly)","price":149.0,"quantity":"1","item_revenue":149.0}]`...)
			}
			b = append(b, "}\n"...)
			emit(b)
		}
		ts += r.Int64N(60_000_000)
	}
}

// genFiles writes n generated events as an NDJSON.gz and a Parquet file in dir
// (Parquet in row groups of rowGroup rows, converted by arrow's JSON reader).
func genFiles(tb testing.TB, dir string, n int, rowGroup int64) (ndjsonGz, pq string) {
	tb.Helper()
	ndjsonGz, pq = filepath.Join(dir, "events_20260105.ndjson.gz"), filepath.Join(dir, "events_20260105.parquet")
	gz, err := os.Create(ndjsonGz)
	require.NoError(tb, err)
	bw := bufio.NewWriterSize(gz, 1<<20)
	zw := gzip.NewWriter(bw)
	pf, err := os.Create(pq)
	require.NoError(tb, err)
	pw, err := newParquetWriter(pf, exportSchema, rowGroup)
	require.NoError(tb, err)

	mem := memory.NewGoAllocator()
	var chunk bytes.Buffer
	lines := 0
	flush := func() {
		rec, err := exportRecord(mem, bytes.TrimSuffix(chunk.Bytes(), []byte(",")))
		require.NoError(tb, err)
		require.NoError(tb, pw.WriteBuffered(rec))
		rec.Release()
		chunk.Reset()
		lines = 0
	}
	genExport(n, 42, func(line []byte) {
		zw.Write(line)
		chunk.Write(line[:len(line)-1])
		chunk.WriteByte(',')
		if lines++; lines == 2048 {
			flush()
		}
	})
	if lines > 0 {
		flush()
	}
	require.NoError(tb, zw.Close())
	require.NoError(tb, bw.Flush())
	require.NoError(tb, gz.Close())
	require.NoError(tb, pw.Close()) // closes pf
	return ndjsonGz, pq
}

// countWriter counts rows and rejections and keeps nothing.
type countWriter struct{ rows, rejected atomic.Int64 }

func (c *countWriter) Write(_ context.Context, _ string, rec arrow.RecordBatch) error {
	c.rows.Add(rec.NumRows())
	return nil
}

func (c *countWriter) Reject(context.Context, extract.Rejection) error {
	c.rejected.Add(1)
	return nil
}

// TestGeneratedFormatsAgree: the generated events give the same rows from NDJSON.gz
// and from Parquet (across row groups), link_url included, and none is rejected.
func TestGeneratedFormatsAgree(t *testing.T) {
	n := 12_000
	if testing.Short() {
		n = 3_000
	}
	nd, pq := genFiles(t, t.TempDir(), n, 4096)
	got, rej := run(t, pq)
	want, wantRej := run(t, nd)
	require.Empty(t, rej)
	require.Empty(t, wantRej)
	require.Len(t, got, n)
	require.Len(t, want, n)
	var links, fileNames int
	for i := range want {
		require.Equal(t, strings.Replace(want[i]["location"].(string), nd+":", pq+":row ", 1), got[i]["location"])
		want[i]["location"], want[i]["input"] = got[i]["location"], got[i]["input"]
		require.Equal(t, want[i], got[i], "row %d", i)
		if l, ok := got[i]["link_url"].(string); ok {
			if strings.HasPrefix(l, "https://") {
				links++
			} else {
				fileNames++
			}
		}
	}
	// Downloads with link_url and with file_name only are among the rows compared.
	require.Positive(t, links)
	require.Positive(t, fileNames)
}

// BenchmarkDecode1M decodes 1,048,576 generated events (about 1.2 KB each as JSON)
// as NDJSON.gz and as Parquet, the rows counted and dropped.
func BenchmarkDecode1M(b *testing.B) {
	const n = 1 << 20
	nd, pq := genFiles(b, b.TempDir(), n, 128*1024)
	for _, in := range []struct{ name, path string }{{"ndjson.gz", nd}, {"parquet", pq}} {
		path := in.path
		b.Run(in.name, func(b *testing.B) {
			fi, err := os.Stat(path)
			require.NoError(b, err)
			b.SetBytes(fi.Size())
			b.ReportAllocs()
			for b.Loop() {
				var w countWriter
				if err := New(Config{Path: path}).Extract(context.Background(), &w); err != nil {
					b.Fatal(err)
				}
				if w.rows.Load() != n || w.rejected.Load() != 0 {
					b.Fatalf("%d rows, %d rejections, want %d rows", w.rows.Load(), w.rejected.Load(), n)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkScanLine decodes generated export lines from memory: the NDJSON decoder
// alone, without gzip, rules or Arrow.
func BenchmarkScanLine(b *testing.B) {
	var lines [][]byte
	size := 0
	genExport(10_000, 7, func(l []byte) {
		lines = append(lines, bytes.Clone(l[:len(l)-1]))
		size += len(l)
	})
	b.SetBytes(int64(size))
	b.ReportAllocs()
	var s scanner
	var f fields
	for b.Loop() {
		for _, l := range lines {
			if reason := s.decode(l, &f); reason != "" {
				b.Fatal(reason)
			}
		}
	}
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
