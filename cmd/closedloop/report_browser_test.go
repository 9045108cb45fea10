package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
)

// chromium finds a headless-capable Chromium: /usr/bin/chromium (Debian's package, which
// .ci/run installs), else chromium, chromium-browser or google-chrome on PATH. Without
// one the test skips, unless CLOSEDLOOP_REQUIRE_CHROMIUM=1.
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CLOSEDLOOP_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no Chromium (/usr/bin/chromium) and CLOSEDLOOP_REQUIRE_CHROMIUM=1: apt-get install -y --no-install-recommends chromium")
	}
	t.Skip("no Chromium to open the report in (apt-get install -y --no-install-recommends chromium; CLOSEDLOOP_REQUIRE_CHROMIUM=1 makes this a failure)")
	return ""
}

// artifactsDir is where tests leave files to look at: $CLOSEDLOOP_ARTIFACTS, else a
// directory under the system's temporary directory.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CLOSEDLOOP_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "closedloop-artifacts")
	}
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// TestReportInABrowser opens the HTML report of the demo's warehouse in headless
// Chromium: every chart container holds a drawn SVG, the numbers of the tables (their
// data-value attributes) are those of independent queries of the views, and the console
// has no error and no exception. It saves a full-page screenshot in artifactsDir; with
// CLOSEDLOOP_UPDATE_SCREENSHOT=1 it also writes the top of the page to docs/report.png,
// the README's screenshot.
func TestReportInABrowser(t *testing.T) {
	exe := chromium(t)
	wh, path := writeTestReport(t, t.TempDir())
	start := time.Now()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox,
		chromedp.Headless, chromedp.DisableGPU, chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Listen starts the browser and opens the tab (no timeout on this first use: it
	// would stop the browser), then hears every console call, exception and log entry.
	var mu sync.Mutex
	var problems []string
	require.NoError(t, chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			switch ev.Type {
			case runtime.ConsoleAPICalledTypeError, runtime.ConsoleAPICalledTypeAssert, runtime.ConsoleAPICalledTypeWarning:
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			msg := d.Text
			if d.Exception != nil {
				msg += " " + d.Exception.Description
			}
			problems = append(problems, fmt.Sprintf("exception at %d:%d: %s", d.LineNumber, d.ColumnNumber, msg))
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s (%s): %s %s", ev.Entry.Level, ev.Entry.Source, ev.Entry.Text, ev.Entry.URL))
			}
		}
	}))

	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("file://"+path), chromedp.WaitReady(chromedp.CSS(`html[data-charts-drawn]`))))
	drawn, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.getAttribute('data-charts-drawn')`))
	require.NoError(t, err)
	type chartInfo struct {
		For    string `json:"for"`
		SVGs   int    `json:"svgs"`
		Shapes int    `json:"shapes"`
	}
	charts, err := chromedp.Run(ctx, chromedp.Evaluate[[]chartInfo](`Array.from(document.querySelectorAll('[data-chart]')).map(el => ({
		for: el.getAttribute('data-chart-for'),
		svgs: el.querySelectorAll('svg').length,
		shapes: el.querySelectorAll('svg path, svg rect').length}))`))
	require.NoError(t, err)
	tables, err := chromedp.Run(ctx, chromedp.Evaluate[map[string][]map[string]*string](`Object.fromEntries(
		Array.from(document.querySelectorAll('table[data-table]')).map(t => [t.getAttribute('data-table'),
			Array.from(t.tBodies[0].rows).map(r => Object.fromEntries(Array.from(r.cells).map(c =>
				[c.getAttribute('data-col'), c.hasAttribute('data-null') ? null : c.getAttribute('data-value')])))]))`))
	require.NoError(t, err)
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	t.Logf("Chromium opened, drew and read the report in %s", time.Since(start).Round(time.Millisecond))

	shot := filepath.Join(artifactsDir(t), "report-full.png")
	require.NoError(t, os.WriteFile(shot, full, 0o644))
	t.Logf("full-page screenshot: %s (%d KB)", shot, len(full)/1024)

	require.Equal(t, strconv.Itoa(len(charts)), drawn, "charts drawn by the page's script")
	require.GreaterOrEqual(t, len(charts), 12)
	for _, c := range charts {
		require.Equal(t, 1, c.SVGs, "chart of %s: no SVG", c.For)
		require.Positive(t, c.Shapes, "chart of %s: an empty SVG", c.For)
	}
	mu.Lock()
	require.Empty(t, problems, "the browser's console")
	mu.Unlock()

	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	checkBrowserNumbers(t, db, tables)

	if os.Getenv("CLOSEDLOOP_UPDATE_SCREENSHOT") == "1" {
		require.NoError(t, chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1500)))
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.scrollTo(0, 0), true`))
		require.NoError(t, err)
		top, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.Less(t, len(top), 600<<10, "docs/report.png would be over 600 KB")
		require.NoError(t, os.WriteFile("../../docs/report.png", top, 0o644))
		t.Logf("wrote docs/report.png (%d KB)", len(top)/1024)
	}
}

// cellsOf returns the rows of the page's table id, failing when there is none.
func cellsOf(t *testing.T, tables map[string][]map[string]*string, id string) []map[string]*string {
	t.Helper()
	rows, ok := tables[id]
	require.True(t, ok, "the page has no table %q", id)
	require.NotEmpty(t, rows, "table %q has no rows", id)
	return rows
}

// rowWhere is the row of rows whose cells have the given values.
func rowWhere(t *testing.T, rows []map[string]*string, keys ...string) map[string]*string {
	t.Helper()
	for _, r := range rows {
		match := true
		for i := 0; i < len(keys); i += 2 {
			if v := r[keys[i]]; v == nil || *v != keys[i+1] {
				match = false
			}
		}
		if match {
			return r
		}
	}
	t.Fatalf("no row with %v", keys)
	return nil
}

// cellNumber is the exact number of a cell's data-value.
func cellNumber(t *testing.T, row map[string]*string, col string) float64 {
	t.Helper()
	v, ok := row[col]
	require.True(t, ok, "no column %q in %v", col, row)
	require.NotNil(t, v, "column %q is NULL", col)
	f, err := strconv.ParseFloat(*v, 64)
	require.NoError(t, err, "column %q", col)
	return f
}

// nearPage compares a page's number with the query's, to rounding.
func nearPage(t *testing.T, want, got float64, what string) {
	t.Helper()
	require.LessOrEqual(t, math.Abs(want-got), 1e-9*math.Max(1, math.Abs(want)), "%s: page %v, query %v", what, got, want)
}

// checkBrowserNumbers compares the numbers the page shows with queries of the views
// written apart from the report's own.
func checkBrowserNumbers(t *testing.T, db *sql.DB, tables map[string][]map[string]*string) {
	t.Helper()
	// Revenue by channel and model: every model, every channel.
	channels := cellsOf(t, tables, "channels")
	rows, err := db.Query(`SELECT channel, model, COALESCE(SUM(revenue), 0) FROM v_channel_performance
		WHERE conversion_type = 'customer' AND date_basis = 'conversion_date' AND scope = 'person' GROUP BY ALL`)
	require.NoError(t, err)
	n := 0
	for rows.Next() {
		var ch, model string
		var rev float64
		require.NoError(t, rows.Scan(&ch, &model, &rev))
		nearPage(t, rev, cellNumber(t, rowWhere(t, channels, "channel", ch), model), "revenue of "+ch+" under "+model)
		n++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Len(t, channels, 7)
	require.GreaterOrEqual(t, n, 60, "7 channels x 10 models, but for the models that credit a channel nothing")

	// Buying committees: revenue by channel under each journey scope, linear model.
	committees := cellsOf(t, tables, "committees")
	rows, err = db.Query(`SELECT channel, scope, COALESCE(SUM(revenue), 0) FROM v_channel_performance
		WHERE conversion_type = 'customer' AND date_basis = 'conversion_date' AND model = 'linear' GROUP BY ALL`)
	require.NoError(t, err)
	n = 0
	scopes := map[string]bool{}
	for rows.Next() {
		var ch, scope string
		var rev float64
		require.NoError(t, rows.Scan(&ch, &scope, &rev))
		nearPage(t, rev, cellNumber(t, rowWhere(t, committees, "channel", ch), scope), "revenue of "+ch+" under scope "+scope)
		scopes[scope] = true
		n++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, map[string]bool{"person": true, "deal": true, "account": true}, scopes, "the demo writes every scope")
	require.GreaterOrEqual(t, n, len(committees), "every channel of the table from the view")

	// Campaigns: spend and ROI under each model.
	campaigns := cellsOf(t, tables, "campaigns")
	rows, err = db.Query(`SELECT channel, campaign, model, SUM(spend), (SUM(revenue) - SUM(spend)) / SUM(spend)
		FROM v_campaign_roi WHERE conversion_type = 'customer' AND date_basis = 'conversion_date' AND scope = 'person' AND campaign IS NOT NULL
		GROUP BY ALL HAVING SUM(spend) > 0`)
	require.NoError(t, err)
	n = 0
	for rows.Next() {
		var ch, campaign, model string
		var spend, roi float64
		require.NoError(t, rows.Scan(&ch, &campaign, &model, &spend, &roi))
		r := rowWhere(t, campaigns, "channel", ch, "campaign", campaign)
		nearPage(t, spend, cellNumber(t, r, "spend"), "spend of "+campaign)
		nearPage(t, roi, cellNumber(t, r, "roi_"+model), "ROI of "+campaign+" under "+model)
		n++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, 50, n, "5 campaigns x 10 models")
	require.Len(t, campaigns, 5)

	// The funnel's people at each stage.
	funnel := cellsOf(t, tables, "funnel")
	rows, err = db.Query(`SELECT stage, people FROM v_funnel WHERE breakdown = 'all'`)
	require.NoError(t, err)
	n = 0
	for rows.Next() {
		var stage string
		var people float64
		require.NoError(t, rows.Scan(&stage, &people))
		nearPage(t, people, cellNumber(t, rowWhere(t, funnel, "stage", stage), "people"), "people at "+stage)
		n++
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Equal(t, 6, n)

	// A keyword, under the linear model.
	var visitors, leads, revenue, first float64
	require.NoError(t, db.QueryRow(`SELECT l.visitors, l.leads, l.revenue, f.revenue FROM v_keyword_revenue l
		JOIN v_keyword_revenue f USING (term, channel, scope)
		WHERE scope = 'person' AND l.model = 'linear' AND f.model = 'first_touch' AND term = 'closedloop pricing' AND channel = 'Paid Search'`).
		Scan(&visitors, &leads, &revenue, &first))
	kw := rowWhere(t, cellsOf(t, tables, "keywords"), "term", "closedloop pricing", "channel", "Paid Search")
	nearPage(t, visitors, cellNumber(t, kw, "visitors"), "visitors of closedloop pricing")
	nearPage(t, leads, cellNumber(t, kw, "leads"), "leads of closedloop pricing")
	nearPage(t, revenue, cellNumber(t, kw, "revenue"), "revenue of closedloop pricing")
	nearPage(t, first, cellNumber(t, kw, "revenue_first_touch"), "first-touch revenue of closedloop pricing")

	// A social network.
	var reached, customers float64
	require.NoError(t, db.QueryRow(`SELECT people_reached, customers FROM v_social_customers
		WHERE model = 'linear' AND scope = 'person' AND network = 'linkedin' AND channel = 'Paid Social'`).Scan(&reached, &customers))
	li := rowWhere(t, cellsOf(t, tables, "social"), "network", "linkedin", "channel", "Paid Social")
	nearPage(t, reached, cellNumber(t, li, "people_reached"), "people LinkedIn ads reached")
	nearPage(t, customers, cellNumber(t, li, "customers"), "customers of LinkedIn ads")

	// The runs' health: the last run's rejected rows, from run_log and rejected_rows.
	var runID string
	var rejected, rejectedRows float64
	require.NoError(t, db.QueryRow(`SELECT run_id, rejected_count FROM run_log ORDER BY started_at DESC LIMIT 1`).Scan(&runID, &rejected))
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM rejected_rows WHERE run_id = ?`, runID).Scan(&rejectedRows))
	run := rowWhere(t, cellsOf(t, tables, "runs"), "run_id", runID)
	nearPage(t, rejected, cellNumber(t, run, "rejected"), "rows the last run rejected")
	shown := 0.0
	for _, r := range tables["rejected"] {
		shown += cellNumber(t, r, "rows")
	}
	nearPage(t, rejectedRows, shown, "rejected rows by source and reason")
	var loaded float64
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM fct_attribution`).Scan(&loaded))
	nearPage(t, loaded, cellNumber(t, rowWhere(t, cellsOf(t, tables, "rowcounts"), "table", "fct_attribution"), "rows"), "fct_attribution's rows")
}
