package spend

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// run extracts cfg and returns the spend table as rows and the rejections.
func run(t *testing.T, cfg Config) ([]map[string]any, []extract.Rejection) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()

	cfg.Spec, cfg.Mem = "spend:"+cfg.Path, mem
	require.NoError(t, New(cfg).Extract(context.Background(), c))
	tbl := c.Table(extract.TableSpend)
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

// spendRow is a full expected row.
func spendRow(spec, loc, date, channel, source, medium, campaign, term any, cost float64, clicks, impressions any, currency string) map[string]any {
	return map[string]any{
		"input": spec, "location": loc, "date": date, "channel": channel, "source": source,
		"medium": medium, "campaign": campaign, "term": term, "cost": cost, "clicks": clicks,
		"impressions": impressions, "currency": currency,
	}
}

func TestExtractDaily(t *testing.T) {
	const path = "testdata/daily.csv"
	const spec = "spend:" + path
	got, rej := run(t, Config{Path: path})
	require.Empty(t, rej)
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":2", "2026-01-05", nil, "google", "cpc", "brand_search", nil, 152.37, int64(311), int64(10422), "EUR"),
		spendRow(spec, path+":3", "2026-01-05", nil, "google", "cpc", "generic_search", nil, 1204.9, int64(875), int64(40210), "EUR"),
		spendRow(spec, path+":4", "2026-01-05", nil, "facebook", "paid_social", "winter_sale", nil, 389.12, nil, int64(52013), "EUR"),
		spendRow(spec, path+":5", "2026-01-06", nil, "google", "cpc", nil, nil, 0, int64(0), int64(0), "EUR"),
	}, got)
}

// messy.csv has a BOM, CRLF, its own column order and case, term and channel, no
// currency column, and bad rows.
func TestExtractMessy(t *testing.T) {
	const path = "testdata/messy.csv"
	const spec = "spend:" + path
	got, rej := run(t, Config{Path: path, Currency: " usd"})
	require.Equal(t, []map[string]any{
		spendRow(spec, path+":3", "2026-01-05", "Paid Search", "google", "cpc", "brand", "crm software, cloud", 12.5, int64(40), int64(1200), "USD"),
	}, got)

	want := []struct{ line, reason, raw string }{
		{"2", `bad cost "1,234.50": want a plain number`, `1200,"1,234.50",brand,cpc,google,2026-01-05,,Paid Search,40`},
		{"4", "empty cost", ",,brand,cpc,google,2026-01-05,,,"},
		{"5", `bad date: time "Total"`, "900,3.2,brand,cpc,google,Total,,,7"},
		{"6", `negative cost "-3.2"`, "900,-3.2,brand,cpc,google,2026-01-05,,,7"},
		{"7", "empty source", "900,3.2,brand,cpc,,2026-01-05,,,7"},
		{"8", "empty medium", "900,3.2,brand, ,bing,2026-01-05,,,7"},
		{"9", `bad impressions: "9e3" is not a whole number`, "9e3,3.2,brand,cpc,bing,2026-01-05,,,7"},
		{"10", `bad clicks: "-7" is not a whole number`, "900,3.2,brand,cpc,bing,2026-01-05,,,-7"},
		{"11", "8 fields where the header has 9", "900,3.2,brand,cpc,bing,2026-01-05,,"},
		{"12", `not valid CSV: extraneous or missing " in quoted-field`, `"900,3.2,brand,cpc,bing,2026-01-06,,,7`},
	}
	require.Len(t, rej, len(want))
	for i, w := range want {
		require.Equal(t, spec, rej[i].Input)
		require.Equal(t, path+":"+w.line, rej[i].Location, w.reason)
		require.Contains(t, rej[i].Reason, w.reason)
		require.Equal(t, w.raw, rej[i].Raw)
	}
}

func TestExtractCurrency(t *testing.T) {
	const path = "testdata/currency.csv"
	tests := []struct {
		name     string
		currency string
		rows     []string // currency of each row
		reasons  map[string]string
	}{
		{"reporting currency fills empty cells", "EUR", []string{"EUR", "USD"},
			map[string]string{path + ":3": `bad currency "euro"`}},
		{"no reporting currency", "", []string{"USD"},
			map[string]string{path + ":2": "empty currency and no reporting currency configured", path + ":3": `bad currency "euro"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, rej := run(t, Config{Path: path, Currency: tt.currency})
			var cur []string
			for _, r := range got {
				cur = append(cur, r["currency"].(string))
			}
			require.Equal(t, tt.rows, cur)
			require.Len(t, rej, len(tt.reasons))
			for _, r := range rej {
				require.Contains(t, r.Reason, tt.reasons[r.Location])
			}
		})
	}
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

	want, _ := run(t, Config{Path: "testdata/daily.csv"})
	got, rej := run(t, Config{Path: filepath.Join(dir, "*.csv")})
	require.Empty(t, rej)
	require.Len(t, got, 2*len(want))
	for i, row := range got {
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

func TestExtractErrors(t *testing.T) {
	dir := t.TempDir()
	badGzip := filepath.Join(dir, "bad.csv")
	require.NoError(t, os.WriteFile(badGzip, []byte{0x1f, 0x8b, 0, 0, 1, 2, 3}, 0o644))

	tests := []struct {
		name   string
		cfg    Config
		config bool
		want   []string
	}{
		{"no match", Config{Path: "testdata/2099-*.csv"}, true, []string{"spend:testdata/2099-*.csv", `no file matches "testdata/2099-*.csv"`}},
		{"missing column", Config{Path: "testdata/nocampaign.csv", Currency: "EUR"}, true, []string{"testdata/nocampaign.csv", `no column "campaign"`, header}},
		{"no currency at all", Config{Path: "testdata/messy.csv"}, true, []string{"testdata/messy.csv", "no currency column and no reporting currency"}},
		{"bad reporting currency", Config{Path: "testdata/daily.csv", Currency: "euro"}, true, []string{`reporting currency "EURO"`}},
		{"bad gzip", Config{Path: badGzip}, false, []string{badGzip, "gzip"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			c := extract.NewCollector(mem)
			defer c.Release()
			tt.cfg.Mem = mem
			err := New(tt.cfg).Extract(context.Background(), c)
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
	err := New(Config{Path: "testdata/daily.csv", Mem: mem}).Extract(ctx, c)
	require.ErrorIs(t, err, context.Canceled)
}

func TestName(t *testing.T) {
	e := New(Config{Spec: "spend:exports/*.csv", Path: "exports/*.csv"})
	require.Equal(t, "spend:exports/*.csv", e.Name())
	require.Equal(t, []string{extract.TableSpend}, e.Tables())
	require.Equal(t, "spend:x.csv", New(Config{Path: "x.csv"}).Name())
}
