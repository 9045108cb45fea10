package spend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/tables"
	"closedloop/extract/tables/tablestest"
)

// tableKinds are the warehouses the table tests load their fixtures into.
var tableKinds = tablestest.Kinds

// runTables extracts cfg with src as its Source, as run does for files.
func runTables(t *testing.T, cfg Config, src tables.Source) (result, *Extractor) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	cfg.Mem, cfg.Source = mem, src
	if cfg.Now.IsZero() {
		cfg.Now = runStart
	}
	e := New(cfg)
	require.NoError(t, e.Extract(context.Background(), c))
	tbl := c.Table(extract.TableSpend)
	defer tbl.Release()
	return result{rows: rows(t, tbl), rej: c.Rejections(), skipped: e.Skipped()}, e
}

// canonical is rows without input and location (a table's rows are located by table,
// a file's by line), as sorted text: rows from a table come in no particular order.
func canonical(rows []map[string]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%v %v %v/%v %q %v cost=%v clicks=%v impressions=%v %v",
			r["date"], r["channel"], r["source"], r["medium"], r["campaign"], r["term"], r["cost"], r["clicks"], r["impressions"], r["currency"]))
	}
	slices.Sort(out)
	return out
}

// rejReasons are the rejections' reasons, sorted.
func rejReasons(rej []extract.Rejection) []string {
	var out []string
	for _, r := range rej {
		out = append(out, r.Reason)
	}
	slices.Sort(out)
	return out
}

// folderOf copies the named files of testdata into a fresh folder, each under the
// name given (the table's name).
func folderOf(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for table, from := range files {
		b, err := os.ReadFile(from)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, table+".csv"), b, 0o644))
	}
	return dir
}

// TestTablesLayoutsLikeFiles: a table whose columns are an export layout's (an
// Airbyte stream, a BigQuery Data Transfer stats table, a table loaded from the
// exports) gives the rows and rejections its CSV file gives, from every warehouse.
func TestTablesLayoutsLikeFiles(t *testing.T) {
	for _, tt := range []struct {
		name, file, table string
		cfg               Config
	}{
		{"generic", "testdata/daily.csv", "spend", Config{}},
		{"Google Ads (Airbyte campaign)", "testdata/google_ads_keywords.csv", "campaign", Config{Currency: "EUR", CampaignMap: "testdata/campaigns.csv"}},
		{"Meta Insights (Airbyte ads_insights)", "testdata/meta_insights.csv", "ads_insights", Config{Currency: "EUR"}},
		{"BigQuery Data Transfer without names", "testdata/p_ads_CampaignBasicStats_1112223333.csv", "p_ads_CampaignBasicStats_1112223333", Config{Currency: "EUR"}},
	} {
		for _, kind := range tableKinds {
			t.Run(tt.name+"/"+kind, func(t *testing.T) {
				fileCfg := tt.cfg
				fileCfg.Path, fileCfg.Now = tt.file, runStart
				want := run(t, fileCfg)
				db := tablestest.LoadCSVFolder(t, kind, folderOf(t, map[string]string{tt.table: tt.file}))
				got, _ := runTables(t, tt.cfg, db.Open(t))
				require.NotEmpty(t, got.rows)
				require.Equal(t, canonical(want.rows), canonical(got.rows))
				require.Equal(t, rejReasons(want.rej), rejReasons(got.rej))
				for _, r := range got.rows {
					require.Equal(t, "spend:"+db.Location, r["input"])
					require.True(t, strings.HasPrefix(r["location"].(string), strings.ToLower(tt.table)+": "), r["location"])
				}
			})
		}
	}
}

// TestTablesConnectors: the connectors' report tables, their campaigns named by the
// latest row of the history tables, give the rows of the platform's export of the
// same days (testdata/tables/*/ mirror google_ads.csv and meta_insights.csv).
func TestTablesConnectors(t *testing.T) {
	for _, kind := range tableKinds {
		t.Run("Fivetran Google Ads/"+kind, func(t *testing.T) {
			want := run(t, Config{Path: "testdata/google_ads.csv", Now: runStart})
			db := tablestest.LoadCSVFolder(t, kind, "testdata/tables/fivetran_google_ads")
			got, _ := runTables(t, Config{}, db.Open(t)) // the currency is account_history's
			require.Equal(t, canonical(want.rows), canonical(got.rows))
			require.Equal(t, []string{
				"empty cost_micros: write 0 for a day without spend",
				`negative cost_micros "-1500000": spend is never negative; leave refunds and credits out of the export`,
			}, rejReasons(got.rej))
			require.Contains(t, []string{
				"campaign_stats: date 2026-01-06, id 1234567893", "campaign_stats: date 2026-01-07, id 1234567890",
			}, got.rej[0].Location)
		})
		t.Run("Fivetran Facebook Ads/"+kind, func(t *testing.T) {
			want := run(t, Config{Path: "testdata/meta_insights.csv", Now: runStart})
			db := tablestest.LoadCSVFolder(t, kind, "testdata/tables/fivetran_facebook_ads")
			got, _ := runTables(t, Config{}, db.Open(t))
			require.Empty(t, got.rej)
			require.Equal(t, canonical(want.rows), canonical(got.rows))
			require.Equal(t, "basic_ad: date 2026-01-06, ad_id 23850000000201", locationsOf(got.rows)[2])
		})
		t.Run("Fivetran LinkedIn Ads/"+kind, func(t *testing.T) {
			// The report's cost is cost_in_usd (the dbt package's default) and its
			// clicks all clicks: not the UI export's account currency and landing
			// page clicks, so the rows are compared with what they must be.
			db := tablestest.LoadCSVFolder(t, kind, "testdata/tables/fivetran_linkedin_ads")
			got, _ := runTables(t, Config{Currency: "EUR", Rates: "testdata/rates.csv"}, db.Open(t))
			require.Empty(t, got.rej)
			require.Equal(t, []string{
				`2026-01-05 <nil> linkedin/paid_social "ABM Q1 Decision Makers" <nil> cost=` + fmt.Sprint(mul(86.31, 0.92)) + ` clicks=14 impressions=2239 EUR`,
				`2026-01-06 <nil> linkedin/paid_social "ABM Q1 Decision Makers" <nil> cost=` + fmt.Sprint(mul(88.32, 0.93)) + ` clicks=15 impressions=2301 EUR`,
				`2026-01-06 <nil> linkedin/paid_social "Employer Brand" <nil> cost=` + fmt.Sprint(mul(13.52, 0.93)) + ` clicks=6 impressions=5120 EUR`,
			}, canonical(got.rows))
		})
		t.Run("BigQuery Data Transfer Google Ads/"+kind, func(t *testing.T) {
			db := tablestest.LoadCSVFolder(t, kind, "testdata/tables/dts_google_ads")
			got, _ := runTables(t, Config{}, db.Open(t)) // the currency is p_ads_Customer's
			require.Empty(t, got.rej)
			row := func(campaign string, cost float64, clicks, impressions int) string {
				return fmt.Sprintf(`2026-01-05 <nil> google/cpc %q <nil> cost=%v clicks=%d impressions=%d EUR`, campaign, cost, clicks, impressions)
			}
			// 1234567890 was renamed: its latest snapshot's name; 1234567899 has none.
			require.Equal(t, []string{
				row("Brand Search DE", 59.25, 121, 4212), row("Brand Search DE", 93.12, 190, 6210),
				row("Generic Search", 21, 31, 1520), row("campaign_id:1234567899", 12.345678, 42, 88000),
			}, canonical(got.rows))
		})
	}
}

// locationsOf returns the rows' locations, sorted.
func locationsOf(rows []map[string]any) []string {
	var out []string
	for _, r := range rows {
		out = append(out, r["location"].(string))
	}
	slices.Sort(out)
	return out
}

// TestTablesHistoryLatest: a renamed campaign takes the name of its latest history
// row, whatever the order the rows come in, also when versions differ by a fraction
// of a second; the campaign map applies to the joined name and id.
func TestTablesHistoryLatest(t *testing.T) {
	db := tablestest.LoadCSVFolder(t, "duckdb", "testdata/tables/fivetran_google_ads")
	got, _ := runTables(t, Config{}, db.Open(t))
	var names []string
	for _, r := range got.rows {
		names = append(names, r["campaign"].(string))
	}
	require.Contains(t, names, "Generic Search")
	require.NotContains(t, names, "Generic Search (test)")

	db = tablestest.LoadCSVFolder(t, "duckdb", "testdata/tables/fivetran_facebook_ads")
	got, _ = runTables(t, Config{CampaignMap: "testdata/tables/campaigns_meta.csv"}, db.Open(t))
	names = nil
	for _, r := range got.rows {
		names = append(names, r["campaign"].(string))
	}
	slices.Sort(names)
	require.Equal(t, []string{"Retargeting - Visitors 30d", "Retargeting - Visitors 30d", "winter_sale"}, names)

	a, b := parseVersion("2025-12-15T16:30:00.5Z"), parseVersion("2025-12-15T16:30:00Z")
	require.True(t, newer([]time.Time{a}, []string{"2025-12-15T16:30:00.5Z"}, "x", []time.Time{b}, []string{"2025-12-15T16:30:00Z"}, "y"))
	require.False(t, newer([]time.Time{b}, []string{"2025-12-15T16:30:00Z"}, "y", []time.Time{a}, []string{"2025-12-15T16:30:00.5Z"}, "x"))
}

// countingSource counts the rows a Source hands out per table, and the filters asked.
type countingSource struct {
	tables.Source
	rows    map[string]int
	filters map[string]*tables.DayFilter
}

func (s *countingSource) Read(ctx context.Context, table string, cols []string, f *tables.DayFilter, fn func([]string) error) error {
	s.filters[table] = f
	return s.Source.Read(ctx, table, cols, f, func(row []string) error {
		s.rows[table]++
		return fn(row)
	})
}

// TestTablesRangePushdown: with a Range, a report table's rows on other days are not
// read at all (the warehouse filters them), and the history tables are read whole.
func TestTablesRangePushdown(t *testing.T) {
	for _, kind := range tableKinds {
		t.Run(kind, func(t *testing.T) {
			db := tablestest.LoadCSVFolder(t, kind, "testdata/tables/fivetran_google_ads")
			src := &countingSource{Source: db.Open(t), rows: map[string]int{}, filters: map[string]*tables.DayFilter{}}
			day := time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC)
			got, _ := runTables(t, Config{Range: extract.Range{From: day, To: day}}, src)
			require.Equal(t, 4, src.rows["campaign_stats"], "only the four rows of 2026-01-06 are read")
			require.Equal(t, &tables.DayFilter{Column: "date", From: day, To: day}, src.filters["campaign_stats"])
			require.Nil(t, src.filters["campaign_history"])
			require.Equal(t, 4, src.rows["campaign_history"])
			require.Len(t, got.rows, 3)
			require.Len(t, got.rej, 1)
			for _, r := range got.rows {
				require.Equal(t, "2026-01-06", r["date"])
			}
		})
	}
}

// TestTablesSoftDeleted: rows Fivetran marked deleted are skipped and counted, in a
// report table (Deleted) and in a history table (a deleted version names nothing).
func TestTablesSoftDeleted(t *testing.T) {
	dir := t.TempDir()
	stats, err := os.ReadFile("testdata/tables/fivetran_linkedin_ads/ad_analytics_by_campaign.csv")
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(stats)), "\n")
	for i := range lines {
		switch {
		case i == 0:
			lines[i] += ",_fivetran_deleted"
		case i == 3:
			lines[i] += ",true"
		default:
			lines[i] += ",false"
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ad_analytics_by_campaign.csv"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "campaign_history.csv"), []byte(
		"id,name,last_modified_time,_fivetran_synced,_fivetran_deleted\n"+
			"612345678,ABM Q1 Decision Makers,2025-12-01 09:00:00,2026-01-02 03:00:00,false\n"+
			"612345678,ABM Q1 (deleted draft),2025-12-20 09:00:00,2026-01-02 03:00:00,true\n"+
			"612345679,Employer Brand,2025-11-01 09:00:00,2026-01-02 03:00:00,false\n"), 0o644))
	for _, kind := range tableKinds {
		t.Run(kind, func(t *testing.T) {
			db := tablestest.LoadCSVFolder(t, kind, dir)
			got, e := runTables(t, Config{}, db.Open(t))
			require.Equal(t, 1, e.Deleted())
			require.Len(t, got.rows, 2)
			for _, r := range got.rows {
				require.Equal(t, "ABM Q1 Decision Makers", r["campaign"])
				require.Equal(t, "USD", r["currency"])
			}
		})
	}
}

// TestTablesConfigErrors: a report table without the history table it needs, or
// without a required column, and a source without any spend table, are
// configuration errors naming what is missing; Check says the same without reading.
func TestTablesConfigErrors(t *testing.T) {
	write := func(t *testing.T, files map[string]string) tables.Source {
		dir := t.TempDir()
		for name, content := range files {
			require.NoError(t, os.WriteFile(filepath.Join(dir, name+".csv"), []byte(content), 0o644))
		}
		return tablestest.LoadCSVFolder(t, "duckdb", dir).Open(t)
	}
	for _, tt := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{"no history", map[string]string{"campaign_stats": "id,date,cost_micros\n1,2026-01-05,1\n"},
			[]string{"table campaign_stats (Fivetran Google Ads)", "table campaign_history, which holds the campaign names, is missing"}},
		{"no cost column", map[string]string{"basic_ad": "ad_id,date,impressions\n1,2026-01-05,3\n", "ad_history": "id,campaign_id\n1,2\n",
			"campaign_history": "id,name\n2,x\n"},
			[]string{"table basic_ad (Fivetran Facebook Ads) has no column spend"}},
		{"no spend table", map[string]string{"contact": "id,email\n1,a@b.c\n", "daily": "date,source,cost\n2026-01-05,google,1\n"},
			[]string{"no spend table among the 2 table(s)", "Fivetran LinkedIn Ads (ad_analytics_by_campaign)",
				"close: table daily: has generic's column date but no medium"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := write(t, tt.files)
			c := extract.NewCollector(memory.NewGoAllocator())
			defer c.Release()
			e := New(Config{Source: src, Currency: "EUR"})
			err := e.Extract(context.Background(), c)
			require.ErrorIs(t, err, extract.ErrConfig)
			_, cerr := e.Check(context.Background())
			require.ErrorIs(t, cerr, extract.ErrConfig)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
				require.Contains(t, cerr.Error(), w)
			}
		})
	}
	t.Run("check", func(t *testing.T) {
		db := tablestest.LoadCSVFolder(t, "duckdb", "testdata/tables/fivetran_google_ads")
		found, err := New(Config{Source: db.Open(t)}).Check(context.Background())
		require.NoError(t, err)
		require.Equal(t, "spend tables: campaign_stats (Fivetran Google Ads, with campaign_history, account_history)", found)
	})
}
