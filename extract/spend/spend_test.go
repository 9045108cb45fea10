package spend

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

// result is what one Extract produced.
type result struct {
	rows    []map[string]any
	rej     []extract.Rejection
	skipped int
}

// run extracts cfg (Spec defaults to "spend:"+Path) with a checked allocator and
// returns the spend table as rows, the rejections and the skipped count.
func run(t *testing.T, cfg Config) result {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()

	cfg.Mem = mem
	e := New(cfg)
	require.NoError(t, e.Extract(context.Background(), c))
	tbl := c.Table(extract.TableSpend)
	defer tbl.Release()
	return result{rows: rows(t, tbl), rej: c.Rejections(), skipped: e.Skipped()}
}

// runErr extracts cfg, which must fail, with a checked allocator.
func runErr(t *testing.T, cfg Config) error {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	cfg.Mem = mem
	err := New(cfg).Extract(context.Background(), c)
	require.Error(t, err)
	return err
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
				case *array.Float64:
					out[r][name] = a.Value(j)
				case *array.Int64:
					out[r][name] = a.Value(j)
				case *array.Date32:
					out[r][name] = a.Value(j).ToTime().Format(time.DateOnly)
				default:
					t.Fatalf("column %s: unexpected type %T", name, chunk)
				}
			}
		}
	}
	return out
}

// spendRow is a full expected row; nil is null.
func spendRow(spec, loc, date string, channel, source, medium, campaign, term any, cost float64, clicks, impressions any, currency string) map[string]any {
	return map[string]any{
		"input": spec, "location": loc, "date": date, "channel": channel, "source": source,
		"medium": medium, "campaign": campaign, "term": term, "cost": cost, "clicks": clicks,
		"impressions": impressions, "currency": currency,
	}
}

// platformRow returns a maker of the expected rows of one platform export read as
// "spend:"+path: channel null, source and medium those of the platform.
func platformRow(path, source, medium string) func(line int, date string, campaign, term any, cost float64, clicks, impressions any, currency string) map[string]any {
	return func(line int, date string, campaign, term any, cost float64, clicks, impressions any, currency string) map[string]any {
		return spendRow("spend:"+path, fmt.Sprintf("%s:%d", path, line), date, nil, source, medium, campaign, term, cost, clicks, impressions, currency)
	}
}

// n is a non-null count.
func n(v int64) any { return v }

// rejection is an expected rejection of the file read as "spend:"+path.
func rejection(path string, line int, reason, raw string) extract.Rejection {
	return extract.Rejection{Input: "spend:" + path, Location: fmt.Sprintf("%s:%d", path, line), Reason: reason, Raw: raw}
}

// mul is cost × rate computed at run time, as the extractor does (a constant
// expression would be exact, not float64).
func mul(cost, rate float64) float64 { return cost * rate }

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
	return path
}

func TestExtractDaily(t *testing.T) {
	const path = "testdata/daily.csv"
	const spec = "spend:" + path
	got := run(t, Config{Path: path})
	require.Empty(t, got.rej)
	require.Zero(t, got.skipped)
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":2", "2026-01-05", nil, "google", "cpc", "brand_search", nil, 152.37, n(311), n(10422), "EUR"),
		spendRow(spec, path+":3", "2026-01-05", nil, "google", "cpc", "generic_search", nil, 1204.9, n(875), n(40210), "EUR"),
		spendRow(spec, path+":4", "2026-01-05", nil, "facebook", "paid_social", "winter_sale", nil, 389.12, nil, n(52013), "EUR"),
		spendRow(spec, path+":5", "2026-01-06", nil, "google", "cpc", nil, nil, 0, n(0), n(0), "EUR"),
	}, got.rows)
}

// messy.csv has a BOM, CRLF, its own column order and case, term and channel, no
// currency column, a total row and bad rows.
func TestExtractMessy(t *testing.T) {
	const path = "testdata/messy.csv"
	const spec = "spend:" + path
	got := run(t, Config{Path: path, Currency: " usd"})
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":3", "2026-01-05", "Paid Search", "google", "cpc", "brand", "crm software, cloud", 12.5, n(40), n(1200), "USD"),
	}, got.rows)

	// Line 5 has "Total" in its date cell: a total row, skipped and counted (package
	// doc, "Total and summary rows"), no longer rejected as a bad date.
	require.Equal(t, 1, got.skipped)
	require.Equal(t, []extract.Rejection{
		rejection(path, 2, `bad cost "1,234.50": want a plain number in currency units such as 152.37 (a ',' inside a number is ambiguous in a comma-separated file (thousands or decimal separator?): export numbers without thousands separators; not micros)`,
			`1200,"1,234.50",brand,cpc,google,2026-01-05,,Paid Search,40`),
		rejection(path, 4, "empty cost: write 0 for a day without spend", ",,brand,cpc,google,2026-01-05,,,"),
		rejection(path, 6, `negative cost "-3.2": spend is never negative; leave refunds and credits out of the export`, "900,-3.2,brand,cpc,google,2026-01-05,,,7"),
		rejection(path, 7, "empty source: spend needs the platform it was paid to (google, facebook...) to be joined to touches", "900,3.2,brand,cpc,,2026-01-05,,,7"),
		rejection(path, 8, "empty medium: spend needs its medium (cpc, paid_social...) to be joined to touches", "900,3.2,brand, ,bing,2026-01-05,,,7"),
		rejection(path, 9, `bad impressions: "9e3" is not a whole number >= 0 (digits only)`, "9e3,3.2,brand,cpc,bing,2026-01-05,,,7"),
		rejection(path, 10, `bad clicks: "-7" is not a whole number >= 0`, "900,3.2,brand,cpc,bing,2026-01-05,,,-7"),
		rejection(path, 11, "8 fields where the header has 9: quote fields that contain commas", "900,3.2,brand,cpc,bing,2026-01-05,,"),
		rejection(path, 12, `not valid CSV: extraneous or missing " in quoted-field; quote fields that contain commas, quotes or line breaks`, `"900,3.2,brand,cpc,bing,2026-01-06,,,7`),
	}, got.rej)
}

func TestExtractCurrency(t *testing.T) {
	const path = "testdata/currency.csv"
	const spec = "spend:" + path
	const raw2, raw3, raw4 = "2026-01-05,google,cpc,brand,1.5,", "2026-01-05,google,cpc,brand,1.5,euro", "2026-01-05,google,cpc,brand,1.5,usd"
	tests := []struct {
		name     string
		currency string
		rows     []map[string]any
		rej      []extract.Rejection
	}{
		{
			// The USD row used to be written as USD beside EUR rows: by the package doc a
			// cost in another currency than the reporting one needs a rate, and without
			// a rates file it is rejected, so that costs in two currencies are never summed.
			name: "reporting currency fills empty cells, other currencies need a rate", currency: "EUR",
			rows: []map[string]any{spendRow(spec, path+":2", "2026-01-05", nil, "google", "cpc", "brand", nil, 1.5, nil, nil, "EUR")},
			rej: []extract.Rejection{
				rejection(path, 3, `bad currency "euro": want a 3-letter ISO 4217 code such as EUR or USD`, raw3),
				rejection(path, 4, `no exchange rate for USD on 2026-01-05 to convert the cost to the reporting currency EUR: no rates file is configured: configure one (date,currency,rate; CLOSEDLOOP_CURRENCY_RATES) with the row "2026-01-05,USD,<EUR per 1 USD>"`, raw4),
			},
		},
		{
			name: "no reporting currency: rows keep their own", currency: "",
			rows: []map[string]any{spendRow(spec, path+":4", "2026-01-05", nil, "google", "cpc", "brand", nil, 1.5, nil, nil, "USD")},
			rej: []extract.Rejection{
				rejection(path, 2, "empty currency and no reporting currency configured: fill the cell or configure the currency", raw2),
				rejection(path, 3, `bad currency "euro": want a 3-letter ISO 4217 code such as EUR or USD`, raw3),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, Config{Path: path, Currency: tt.currency})
			require.Equal(t, tt.rows, got.rows)
			require.Equal(t, tt.rej, got.rej)
		})
	}
}

func TestExtractGoogleAds(t *testing.T) {
	const path = "testdata/google_ads.csv"
	row := platformRow(path, "google", "cpc")
	rej := []extract.Rejection{
		rejection(path, 8, `negative cost_micros "-1500000": spend is never negative; leave refunds and credits out of the export`,
			"2026-01-06,1234567893,Competitor Terms,790,8,-1500000,EUR"),
		rejection(path, 9, `bad cost_micros "1.5": want a whole number of millionths of the currency unit such as 152370000 (digits only)`,
			"2026-01-06,1234567893,Competitor Terms,790,8,1.5,EUR"),
		rejection(path, 10, "empty cost_micros: write 0 for a day without spend", "2026-01-07,1234567890,Brand Search DE,10001,305,,EUR"),
		rejection(path, 11, `ambiguous date "01/07/2026": day and month order unknown; write YYYY-MM-DD`,
			"01/07/2026,1234567891,Generic Search,40000,870,1190000000,EUR"),
	}
	t.Run("campaign names as is", func(t *testing.T) {
		got := run(t, Config{Path: path, Currency: "EUR"})
		require.Equal(t, []map[string]any{
			row(2, "2026-01-05", "Brand Search DE", nil, 152.37, n(311), n(10422), "EUR"),
			row(3, "2026-01-05", "Generic Search", nil, 1204.9, n(875), n(40210), "EUR"),
			row(4, "2026-01-05", "Competitor Terms", nil, 0, n(9), n(812), "EUR"),
			row(5, "2026-01-06", "Brand Search DE", nil, 148.12, n(298), n(9876), "EUR"),
			row(6, "2026-01-06", "Generic Search", nil, 98.765432, nil, nil, "EUR"),
			row(7, "2026-01-06", "campaign_id:1234567892", nil, 2.5, n(4), n(310), "EUR"),
		}, got.rows)
		require.Equal(t, rej, got.rej)
	})
	t.Run("campaign map", func(t *testing.T) {
		// 1234567890: the google_ads entry before the any-platform one (any_brand).
		// 1234567891: by id (any platform) before the google_ads entry by name (by_name).
		got := run(t, Config{Path: path, Currency: "EUR", CampaignMap: "testdata/campaigns.csv"})
		require.Equal(t, []map[string]any{
			row(2, "2026-01-05", "brand_search", nil, 152.37, n(311), n(10422), "EUR"),
			row(3, "2026-01-05", "generic_search", nil, 1204.9, n(875), n(40210), "EUR"),
			row(4, "2026-01-05", "Competitor Terms", nil, 0, n(9), n(812), "EUR"),
			row(5, "2026-01-06", "brand_search", nil, 148.12, n(298), n(9876), "EUR"),
			row(6, "2026-01-06", "generic_search", nil, 98.765432, nil, nil, "EUR"),
			row(7, "2026-01-06", "campaign_id:1234567892", nil, 2.5, n(4), n(310), "EUR"),
		}, got.rows)
		require.Equal(t, rej, got.rej)
	})
}

func TestExtractGoogleAdsKeywords(t *testing.T) {
	const path = "testdata/google_ads_keywords.csv"
	row := platformRow(path, "google", "cpc")
	got := run(t, Config{Path: path, Currency: "EUR", CampaignMap: "testdata/campaigns.csv"})
	require.Empty(t, got.rej)
	require.Equal(t, []map[string]any{
		row(2, "2026-01-05", "generic_search", "crm software", 602.45, n(402), n(20105), "EUR"),
		row(3, "2026-01-05", "generic_search", "crm software, cloud", 380.1, n(250), n(12001), "EUR"),
		row(4, "2026-01-05", "generic_search", "pipeline tool", 222.35, n(223), n(8104), "EUR"),
	}, got.rows)
}

// The BigQuery Data Transfer stats table has campaign ids only, no names and no
// currency: unmapped ids become "campaign_id:<id>", the currency is Config.Currency.
func TestExtractGoogleAdsDataTransfer(t *testing.T) {
	const path = "testdata/p_ads_CampaignBasicStats_1112223333.csv"
	row := platformRow(path, "google", "cpc")
	t.Run("unmapped", func(t *testing.T) {
		got := run(t, Config{Path: path, Currency: "EUR"})
		require.Empty(t, got.rej)
		require.Equal(t, []map[string]any{
			row(2, "2026-01-05", "campaign_id:1234567890", nil, 93.12, n(190), n(6210), "EUR"),
			row(3, "2026-01-05", "campaign_id:1234567890", nil, 59.25, n(121), n(4212), "EUR"),
			row(4, "2026-01-05", "campaign_id:1234567891", nil, 21, n(31), n(1520), "EUR"),
			row(5, "2026-01-05", "campaign_id:1234567899", nil, 12.345678, n(42), n(88000), "EUR"),
		}, got.rows)
	})
	t.Run("campaign map", func(t *testing.T) {
		got := run(t, Config{Path: path, Currency: "EUR", CampaignMap: "testdata/campaigns.csv"})
		require.Empty(t, got.rej)
		require.Equal(t, []map[string]any{
			row(2, "2026-01-05", "brand_search", nil, 93.12, n(190), n(6210), "EUR"),
			row(3, "2026-01-05", "brand_search", nil, 59.25, n(121), n(4212), "EUR"),
			row(4, "2026-01-05", "generic_search", nil, 21, n(31), n(1520), "EUR"),
			row(5, "2026-01-05", "campaign_id:1234567899", nil, 12.345678, n(42), n(88000), "EUR"),
		}, got.rows)
	})
}

func TestExtractMeta(t *testing.T) {
	const path = "testdata/meta_insights.csv"
	row := platformRow(path, "facebook", "paid_social")
	rej := []extract.Rejection{
		rejection(path, 4, "not a daily row: date_start 2026-01-05 and date_stop 2026-01-11 differ; export the insights with time_increment=1 (one row per campaign and day)",
			`1029384756,EUR,23850000000001,Winter Sale 2026,2026-01-05,2026-01-11,"351200","9800","7420","2500.00"`),
		rejection(path, 6, `bad cost "$85.20": want a plain number in currency units such as 152.37 (no currency sign or letters; not micros)`,
			`1029384756,EUR,23850000000003,Lead Gen - Whitepaper,2026-01-06,2026-01-06,"15000","410","390","$85.20"`),
	}
	// Clicks are inline_link_clicks (an empty cell is null), not Meta's clicks.
	t.Run("campaign names as is", func(t *testing.T) {
		got := run(t, Config{Path: path, Currency: "EUR"})
		require.Equal(t, []map[string]any{
			row(2, "2026-01-05", "Winter Sale 2026", nil, 389.12, n(1101), n(52013), "EUR"),
			row(3, "2026-01-05", "Retargeting - Visitors 30d", nil, 5339.5, n(288), n(12040), "EUR"),
			row(5, "2026-01-06", "Retargeting - Visitors 30d", nil, 120.5, nil, n(9000), "EUR"),
		}, got.rows)
		require.Equal(t, rej, got.rej)
	})
	t.Run("campaign map", func(t *testing.T) {
		// "Winter Sale 2026" by its meta_ads entry; "Retargeting - Visitors 30d" by the
		// any-platform entry "retargeting - visitors 30d" (names match in any case).
		got := run(t, Config{Path: path, Currency: "EUR", CampaignMap: "testdata/campaigns.csv"})
		require.Equal(t, []map[string]any{
			row(2, "2026-01-05", "winter_sale", nil, 389.12, n(1101), n(52013), "EUR"),
			row(3, "2026-01-05", "fb_retargeting", nil, 5339.5, n(288), n(12040), "EUR"),
			row(5, "2026-01-06", "fb_retargeting", nil, 120.5, nil, n(9000), "EUR"),
		}, got.rows)
		require.Equal(t, rej, got.rej)
	})
}

// bomgzip/meta_insights.csv is meta_insights.csv with a BOM, gzipped, without .gz in
// its name: the same rows.
func TestExtractGzipBOM(t *testing.T) {
	const plain, zipped = "testdata/meta_insights.csv", "testdata/bomgzip/meta_insights.csv"
	want := run(t, Config{Path: plain, Currency: "EUR"})
	got := run(t, Config{Path: zipped, Currency: "EUR"})
	require.Len(t, got.rows, len(want.rows))
	for i := range want.rows {
		w := want.rows[i]
		w["input"] = "spend:" + zipped
		w["location"] = zipped + strings.TrimPrefix(w["location"].(string), plain)
		require.Equal(t, w, got.rows[i])
	}
	require.Len(t, got.rej, len(want.rej))
	for i := range want.rej {
		w := want.rej[i]
		w.Input = "spend:" + zipped
		w.Location = zipped + strings.TrimPrefix(w.Location, plain)
		require.Equal(t, w, got.rej[i])
	}
}

// The LinkedIn UI export has a BOM, CRLF line ends, five title lines and a blank line
// above its header (line 7), and M/D/YYYY dates.
func TestExtractLinkedIn(t *testing.T) {
	const path = "testdata/linkedin_campaigns.csv"
	row := platformRow(path, "linkedin", "paid_social")
	const raw11 = "13/1/2026,Example GmbH,ABM 2026,ABM Q1 Decision Makers,612345678,Sponsored Content,EUR,80.00,2250,14,10,0.62%"
	const raw12 = "1/7/2026,Example GmbH,ABM 2026,ABM Q1 Decision Makers,612345678,Sponsored Content,USD,20.00,500,2,1,0.40%"
	const badDate = `bad date "13/1/2026": LinkedIn's export writes MM/DD/YYYY, and 13 is no month; export with the English (US) language setting`
	t.Run("campaign names as is", func(t *testing.T) {
		// Clicks are "Clicks to Landing Page" (an empty cell is null), not Clicks.
		got := run(t, Config{Path: path, Currency: "EUR"})
		require.Equal(t, []map[string]any{
			row(8, "2026-01-05", "ABM Q1 Decision Makers", nil, 79.18, n(9), n(2239), "EUR"),
			row(9, "2026-01-06", "ABM Q1 Decision Makers", nil, 81.02, n(11), n(2301), "EUR"),
			row(10, "2026-01-06", "Employer Brand", nil, 12.4, nil, n(5120), "EUR"),
		}, got.rows)
		require.Equal(t, []extract.Rejection{
			rejection(path, 11, badDate, raw11),
			rejection(path, 12, `no exchange rate for USD on 2026-01-07 to convert the cost to the reporting currency EUR: no rates file is configured: configure one (date,currency,rate; CLOSEDLOOP_CURRENCY_RATES) with the row "2026-01-07,USD,<EUR per 1 USD>"`, raw12),
		}, got.rej)
	})
	t.Run("campaign map and rates", func(t *testing.T) {
		// "ABM Q1 Decision Makers" has an entry for linkedin_ads and one for any
		// platform: the platform's own wins. USD on 2026-01-07 takes the any-day rate.
		got := run(t, Config{Path: path, Currency: "EUR", CampaignMap: "testdata/campaigns.csv", Rates: "testdata/rates.csv"})
		require.Equal(t, []map[string]any{
			row(8, "2026-01-05", "li_abm_q1", nil, 79.18, n(9), n(2239), "EUR"),
			row(9, "2026-01-06", "li_abm_q1", nil, 81.02, n(11), n(2301), "EUR"),
			row(10, "2026-01-06", "Employer Brand", nil, 12.4, nil, n(5120), "EUR"),
			row(12, "2026-01-07", "li_abm_q1", nil, mul(20, 0.9), n(1), n(500), "EUR"),
		}, got.rows)
		require.Equal(t, []extract.Rejection{rejection(path, 11, badDate, raw11)}, got.rej)
	})
}

// semicolon.csv is a generic file separated by ';' with thousands separators, total
// rows, and a row of spend without its date.
func TestExtractSemicolonTotals(t *testing.T) {
	const path = "testdata/semicolon.csv"
	const spec = "spend:" + path
	got := run(t, Config{Path: path, Currency: "EUR"})
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":2", "2026-01-05", nil, "google", "cpc", "brand_search", "crm software", 1234.5, n(1311), n(110422), "EUR"),
		spendRow(spec, path+":3", "2026-01-05", nil, "bing", "cpc", "brand_search", nil, 12.5, n(40), n(1200), "EUR"),
		spendRow(spec, path+":7", "2026-01-06", nil, "google", "cpc", "generic_search", "crm; cloud", 12345678.9, n(12345), n(100), "EUR"),
		// A campaign named "Total ..." on a row with a day is spend, not a total.
		spendRow(spec, path+":8", "2026-01-06", nil, "google", "cpc", "Total Brand Protection", nil, 2, n(1), n(10), "EUR"),
	}, got.rows)
	const grouping = "',' is read only as a thousands separator grouping digits by three (1,234.50): export with '.' as the decimal separator"
	require.Equal(t, []extract.Rejection{
		rejection(path, 4, `bad cost "1,234": want a plain number in currency units such as 152.37 (one ',' group without decimals reads both as thousands and as a decimal comma: export with '.' as the decimal separator; not micros)`,
			"2026-01-05;google;cpc;generic_search;;1,234;10;100;EUR"),
		rejection(path, 5, `bad cost "1234,5": want a plain number in currency units such as 152.37 (`+grouping+`; not micros)`,
			"2026-01-05;google;cpc;generic_search;;1234,5;10;100;EUR"),
		rejection(path, 6, `bad clicks: "1,23" is not a whole number >= 0 (`+grouping+`)`,
			"2026-01-05;google;cpc;generic_search;;12.5;1,23;100;EUR"),
		rejection(path, 11, "empty date on a row with a campaign: write the day of spend (YYYY-MM-DD), or leave subtotal rows out of the export",
			";google;cpc;brand_search;;3.00;1;10;EUR"),
	}, got.rej)
	// "Total: Account" (line 9), an unlabelled row without date or campaign (10),
	// "Grand total" (12).
	require.Equal(t, 3, got.skipped)
}

// A tab-separated file with header names in odd case and spacing, and the other
// date forms.
func TestExtractTabs(t *testing.T) {
	path := writeFile(t, "spend.tsv", " Date \tSOURCE\tmedium\tcampaign\tcost\tclicks\n"+
		"2026-01-05\tgoogle\tcpc\tbrand\t1,234.50\t\"1,311\"\n"+
		"2026/01/06\tgoogle\tcpc\tbrand\t1\t\n"+
		"2026-01-07 23:59:59\tgoogle\tcpc\tbrand\t2\t\n"+
		"2026-02-30\tgoogle\tcpc\tbrand\t3\t\n")
	spec := "spend:" + path
	got := run(t, Config{Path: path, Currency: "EUR"})
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":2", "2026-01-05", nil, "google", "cpc", "brand", nil, 1234.5, n(1311), nil, "EUR"),
		spendRow(spec, path+":3", "2026-01-06", nil, "google", "cpc", "brand", nil, 1, nil, nil, "EUR"),
		spendRow(spec, path+":4", "2026-01-07", nil, "google", "cpc", "brand", nil, 2, nil, nil, "EUR"),
	}, got.rows)
	require.Equal(t, []extract.Rejection{
		{Input: spec, Location: path + ":5", Reason: `bad date "2026-02-30": no such day`, Raw: "2026-02-30\tgoogle\tcpc\tbrand\t3\t"},
	}, got.rej)
}

func TestExtractRates(t *testing.T) {
	const path = "testdata/currencies.csv"
	const spec = "spend:" + path
	got := run(t, Config{Path: path, Currency: "EUR", Rates: "testdata/rates.csv"})
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":2", "2026-01-05", nil, "google", "cpc", "us_brand", nil, mul(100, 0.92), nil, nil, "EUR"), // the day's rate
		spendRow(spec, path+":3", "2026-01-07", nil, "google", "cpc", "us_brand", nil, mul(100, 0.9), nil, nil, "EUR"),  // the any-day rate
		spendRow(spec, path+":4", "2026-01-05", nil, "google", "cpc", "uk_brand", nil, mul(10.5, 1.17), nil, nil, "EUR"),
		spendRow(spec, path+":5", "2026-01-05", nil, "google", "cpc", "ch_brand", nil, mul(50, 1.07), nil, nil, "EUR"),
		spendRow(spec, path+":7", "2026-01-05", nil, "google", "cpc", "de_brand", nil, 20, nil, nil, "EUR"),
	}, got.rows)
	require.Equal(t, []extract.Rejection{
		rejection(path, 6, `no exchange rate for CHF on 2026-01-06 to convert the cost to the reporting currency EUR: add the row "2026-01-06,CHF,<EUR per 1 CHF>" (or ",CHF,<rate>" for any day) to the rates file testdata/rates.csv`,
			"2026-01-06,google,cpc,ch_brand,50,CHF"),
		rejection(path, 8, `no exchange rate for JPY on 2026-01-05 to convert the cost to the reporting currency EUR: add the row "2026-01-05,JPY,<EUR per 1 JPY>" (or ",JPY,<rate>" for any day) to the rates file testdata/rates.csv`,
			"2026-01-05,google,cpc,jp_brand,1000,JPY"),
	}, got.rej)
}

func TestExtractGzipGlob(t *testing.T) {
	plain, err := os.ReadFile("testdata/daily.csv")
	require.NoError(t, err)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, err = zw.Write(plain)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "2026-01-06.csv"), zipped.Bytes(), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "2026-01-05.csv"), plain, 0o644))

	want := run(t, Config{Path: "testdata/daily.csv"}).rows
	got := run(t, Config{Path: filepath.Join(dir, "*.csv")})
	require.Empty(t, got.rej)
	require.Len(t, got.rows, 2*len(want))
	for i, row := range got.rows {
		file := "2026-01-05.csv" // sorted order
		if i >= len(want) {
			file = "2026-01-06.csv"
		}
		w := want[i%len(want)]
		require.Equal(t, filepath.Join(dir, file)+w["location"].(string)[len("testdata/daily.csv"):], row["location"])
		for _, k := range []string{"date", "source", "medium", "campaign", "cost", "clicks", "impressions", "currency"} {
			require.Equal(t, w[k], row[k], "row %d column %s", i, k)
		}
	}
}

// Skipped counts the last Extract only.
func TestSkippedPerExtract(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	e := New(Config{Path: "testdata/semicolon.csv", Currency: "EUR", Mem: mem})
	for range 2 {
		c := extract.NewCollector(mem)
		require.NoError(t, e.Extract(context.Background(), c))
		c.Release()
		require.Equal(t, 3, e.Skipped())
	}
}

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
		return p
	}
	badGzip := file("bad.csv", "\x1f\x8b\x00\x00\x01\x02\x03")
	utf16 := file("utf16.csv", "\xff\xfed\x00a\x00t\x00e\x00")
	empty := file("empty.csv", "\n\n")
	noCost := file("nocost.csv", "segments.date,campaign.name,metrics.clicks\n2026-01-05,Brand,3\n")
	twice := file("twice.csv", "segments.date,segments_date,campaign.id,metrics.cost_micros\n")
	metaNoCampaign := file("meta.csv", "date_start,date_stop,spend\n")
	const ui = "testdata/google_ads_ui.csv"

	tests := []struct {
		name   string
		cfg    Config
		config bool
		want   []string
	}{
		{"no match", Config{Path: "testdata/2099-*.csv"}, true, []string{"spend:testdata/2099-*.csv", `no file matches "testdata/2099-*.csv"`}},
		{"unknown header", Config{Path: ui, Currency: "EUR"}, true, []string{
			fmt.Sprintf(`spend: %s: no known header row in the first 10 lines (the first line is "Campaign report"); layouts accepted: `, ui),
			"(1) Google Ads: segments.date, metrics.cost_micros and campaign.name or campaign.id",
			"(2) Meta Ads Insights: date_start, spend and campaign_name or campaign_id",
			`(3) LinkedIn Campaign Manager: "Start Date (in UTC)", "Total Spent" and "Campaign Name" or "Campaign ID"`,
			"(4) generic: the comma-separated header " + header,
		}},
		{"missing column", Config{Path: "testdata/nocampaign.csv", Currency: "EUR"}, true, []string{
			`testdata/nocampaign.csv:1: the header looks like a generic export's but has no column "campaign"`, header, `header found: "date,source,medium,cost"`}},
		{"google without cost_micros", Config{Path: noCost, Currency: "EUR"}, true, []string{
			noCost + `:1: the header looks like a Google Ads export's but has no column "metrics.cost_micros"`}},
		{"meta without campaign", Config{Path: metaNoCampaign, Currency: "EUR"}, true, []string{
			metaNoCampaign + `:1: the header looks like a Meta Ads Insights export's but has no column "campaign_name" or "campaign_id"`}},
		{"column twice", Config{Path: twice, Currency: "EUR"}, true, []string{
			twice + `:1: Google Ads export: column "date" appears twice in the header (as "segments.date" and "segments_date")`}},
		{"empty file", Config{Path: empty, Currency: "EUR"}, true, []string{empty + ": empty file, want a header row"}},
		{"utf-16", Config{Path: utf16, Currency: "EUR"}, true, []string{utf16 + ": the file is UTF-16: save it as UTF-8 CSV"}},
		{"no currency at all", Config{Path: "testdata/messy.csv"}, true, []string{"testdata/messy.csv", "no currency column and no reporting currency"}},
		{"bad reporting currency", Config{Path: "testdata/daily.csv", Currency: "euro"}, true, []string{`reporting currency "EURO"`}},
		{"rates without reporting currency", Config{Path: "testdata/daily.csv", Rates: "testdata/rates.csv"}, true, []string{
			"a rates file (testdata/rates.csv) is configured but no reporting currency to convert to"}},
		{"bad gzip", Config{Path: badGzip}, false, []string{badGzip, "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := runErr(t, tt.cfg)
			require.Equal(t, tt.config, errors.Is(err, extract.ErrConfig), "%v", err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestCampaignMapErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" reads testdata/campaigns_bad.csv
		want    string // after the file name
	}{
		{"unknown platform", "", `:3: unknown platform "bing_ads": want google_ads, meta_ads, linkedin_ads, or empty for any platform`},
		{"no utm_campaign column", "campaign_name\nBrand\n",
			":1: want the header platform,campaign_id,campaign_name,utm_campaign (platform, and one of campaign_id and campaign_name, may be left out)"},
		{"empty utm_campaign", "campaign_id,utm_campaign\n123,\n", ":2: empty utm_campaign: write the utm_campaign value the campaign's links carry"},
		{"no id nor name", "platform,campaign_id,utm_campaign\ngoogle_ads,,brand\n", ":2: neither campaign_id nor campaign_name: fill one of them"},
		{"mapped twice", "campaign_id,utm_campaign\n123,a\n\n123,b\n", `:4: campaign id "123" on any platform is mapped to "b" here and to "a" on line 2: keep one`},
		{"fields", "campaign_id,utm_campaign\n123,a,b\n", ":2: 3 fields where the header has 2"},
		{"broken quotes", "campaign_id,utm_campaign\n\"123,a\n", `:2: not valid CSV: extraneous or missing " in quoted-field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "testdata/campaigns_bad.csv"
			if tt.content != "" {
				path = writeFile(t, "campaigns.csv", tt.content)
			}
			err := runErr(t, Config{Path: "testdata/daily.csv", CampaignMap: path})
			require.ErrorIs(t, err, extract.ErrConfig)
			require.Contains(t, err.Error(), "spend: campaign map "+path+tt.want)
		})
	}
	t.Run("missing file", func(t *testing.T) {
		err := runErr(t, Config{Path: "testdata/daily.csv", CampaignMap: "testdata/nosuch.csv"})
		require.ErrorIs(t, err, extract.ErrConfig)
		require.ErrorIs(t, err, os.ErrNotExist)
		require.Contains(t, err.Error(), "campaign map: spend: open testdata/nosuch.csv")
	})
}

func TestRatesErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    string // after the file name
	}{
		{"no rate column", "date,currency\n", ":1: want the header date,currency,rate (rate = EUR per 1 unit of currency, an empty date for any day)"},
		{"decimal comma", "date,currency,rate\n2026-01-05,USD,0,92\n", ":2: 4 fields where the header has 3"},
		{"decimal comma quoted", "date;currency;rate\n2026-01-05;USD;0,92\n",
			`:2: bad rate "0,92": want a number > 0 with '.' as the decimal separator, the EUR value of 1 USD`},
		{"zero", "date,currency,rate\n,usd,0\n", `:2: bad rate "0": want a number > 0`},
		{"exponent", "date,currency,rate\n,USD,9e-1\n", `:2: bad rate "9e-1": want a number > 0`},
		{"ambiguous date", "date,currency,rate\n05/01/2026,USD,0.92\n",
			`:2: ambiguous date "05/01/2026": day and month order unknown; write YYYY-MM-DD, or empty for any day`},
		{"bad currency", "date,currency,rate\n,dollar,0.92\n", `:2: bad currency "dollar": want a 3-letter ISO 4217 code`},
		{"reporting currency", "date,currency,rate\n,EUR,1.1\n", `:2: rate "1.1" for the reporting currency EUR itself: it is 1`},
		{"two rates", "date,currency,rate\n,USD,0.9\n\n,USD,0.91\n", `:4: a second rate for USD on any day (0.91 here, 0.9 on line 2): keep one`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "rates.csv", tt.content)
			err := runErr(t, Config{Path: "testdata/daily.csv", Currency: "EUR", Rates: path})
			require.ErrorIs(t, err, extract.ErrConfig)
			require.Contains(t, err.Error(), "spend: rates file "+path+tt.want)
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
	err := New(Config{Path: "testdata/daily.csv", Mem: mem}).Extract(ctx, c)
	require.ErrorIs(t, err, context.Canceled)
}

func TestName(t *testing.T) {
	e := New(Config{Spec: "spend:exports/*.csv", Path: "exports/*.csv"})
	require.Equal(t, "spend:exports/*.csv", e.Name())
	require.Equal(t, []string{extract.TableSpend}, e.Tables())
	require.Equal(t, "spend:x.csv", New(Config{Path: "x.csv"}).Name())
}

// counter is a Writer that counts rows and drops the batches.
type counter struct{ rows, rejected int64 }

func (c *counter) Write(_ context.Context, _ string, rec arrow.RecordBatch) error {
	c.rows += rec.NumRows()
	return nil
}

func (c *counter) Reject(context.Context, extract.Rejection) error {
	c.rejected++
	return nil
}

// BenchmarkExtractGoogleAds reads a generated GAQL campaign export of 1M rows: 50
// campaigns a day; "mapped" also maps every campaign by id and converts its USD costs.
func BenchmarkExtractGoogleAds(b *testing.B) {
	const rowsN, campaigns = 1_000_000, 50
	dir := b.TempDir()
	var buf bytes.Buffer
	buf.WriteString("segments.date,campaign.id,campaign.name,metrics.impressions,metrics.clicks,metrics.cost_micros,customer.currency_code\n")
	day := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rowsN {
		c := i % campaigns
		fmt.Fprintf(&buf, "%s,%d,Campaign %d,%d,%d,%d,USD\n",
			day.AddDate(0, 0, i/campaigns).Format(time.DateOnly), 9000000000+c, c, 1000+i%9000, i%311, int64(i%977)*1_370_000)
	}
	path := filepath.Join(dir, "google_ads.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
	var m strings.Builder
	m.WriteString("platform,campaign_id,campaign_name,utm_campaign\n")
	for c := range campaigns {
		fmt.Fprintf(&m, "google_ads,%d,,campaign_%d\n", 9000000000+c, c)
	}
	campaignMap := filepath.Join(dir, "campaigns.csv")
	rates := filepath.Join(dir, "rates.csv")
	if err := errors.Join(os.WriteFile(campaignMap, []byte(m.String()), 0o644),
		os.WriteFile(rates, []byte("date,currency,rate\n,USD,0.92\n"), 0o644)); err != nil {
		b.Fatal(err)
	}

	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{"plain", Config{Path: path, Currency: "USD"}},
		{"mapped", Config{Path: path, Currency: "EUR", CampaignMap: campaignMap, Rates: rates}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(buf.Len()))
			ctx := context.Background()
			for b.Loop() {
				var w counter
				if err := New(bc.cfg).Extract(ctx, &w); err != nil {
					b.Fatal(err)
				}
				if w.rows != rowsN || w.rejected != 0 {
					b.Fatalf("%d rows and %d rejections, want %d rows", w.rows, w.rejected, rowsN)
				}
			}
			b.ReportMetric(float64(rowsN)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
