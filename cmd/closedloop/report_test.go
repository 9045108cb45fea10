package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"closedloop/load/duckdb"
	termreport "closedloop/sql/report"
)

// sections splits a terminal report into its sections (blank-line separated).
func sections(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		out = append(out, strings.TrimRight(p, "\n"))
	}
	return out
}

// TestReportTable: closedloop report --format table prints every section the demo
// prints, byte for byte and in the same order, plus the report's own sections; the demo
// wrote report.html beside its warehouse.
func TestReportTable(t *testing.T) {
	wh, demoOut := sharedDemo(t)
	require.FileExists(t, filepath.Join(filepath.Dir(wh), "report.html"), "the demo writes report.html beside its DuckDB file")
	require.Contains(t, demoOut, demoReportLine+filepath.Join(filepath.Dir(wh), "report.html")+"\nNext: ")

	code, out, stderr := runMain(t, "report", "--warehouse", "duckdb:"+wh, "--format", "table")
	require.Equal(t, 0, code, stderr)
	header, body, ok := strings.Cut(out, "\n\n")
	require.True(t, ok, out)
	require.Contains(t, header, "closedloop report of "+wh)
	require.Contains(t, header, "2026-01-01 to 2026-03-02 (every loaded day)")

	demoSecs := sections(reportBody(t, demoOut))[1:] // after the line of counts
	got := sections(body)
	i := 0
	var added []string
	for _, s := range got {
		if i < len(demoSecs) && s == demoSecs[i] {
			i++
			continue
		}
		added = append(added, strings.SplitN(s, "\n", 2)[0])
	}
	require.Equal(t, len(demoSecs), i, "the demo's section %d is not in the report's, in order:\n%s", i, demoSecs[min(i, len(demoSecs)-1)])
	joined := "\n" + strings.Join(added, "\n")
	for _, want := range []string{"Channel paths of won deals", "Social networks that bring customers", "Content on the way to a won deal",
		"Pages no buyer saw", "The last runs (run_log)", "Rows the last run loaded", "Rows the last run rejected", "Seconds the last run spent"} {
		require.Contains(t, joined, "\n"+want, "the report has no section %q; its added ones: %q", want, added)
	}
	require.Contains(t, body, "Rows the last run rejected, by source and reason (rejected_rows):\n  (the last run rejected no row)")
}

// TestReportFlags: bad flags and warehouses are exit 2 with what to do; --from/--to
// change the dated sections' numbers to those of the period, --model the single-model
// sections'.
func TestReportFlags(t *testing.T) {
	wh, _ := sharedDemo(t)
	missing := filepath.Join(t.TempDir(), "nothing.duckdb")
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown model", []string{"--model", "lastest_touch"}, []string{`unknown model "lastest_touch"`, "first_touch", "linear", "markov", "shapley"}},
		{"from after to", []string{"--from", "2026-02-01", "--to", "2026-01-31"}, []string{"--from 2026-02-01 is after --to 2026-01-31"}},
		{"not a day", []string{"--from", "2026-02-30"}, []string{"--from: want a day as YYYY-MM-DD"}},
		{"format", []string{"--format", "pdf"}, []string{"--format: want html or table"}},
		{"missing file", []string{"--warehouse", "duckdb:" + missing}, []string{missing, "does not exist: run closedloop demo or closedloop run first"}},
		{"missing parquet", []string{"--warehouse", "parquet:" + missing}, []string{"does not exist: run closedloop demo or closedloop run first"}},
		{"bigquery", []string{"--warehouse", "bigquery:my-project.closedloop"}, []string{"BigQuery warehouse is not supported yet"}},
		{"argument", []string{"extra"}, []string{`unexpected argument "extra"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"report", "--format", "table"}, c.args...)
			if !strings.HasPrefix(strings.Join(c.args, " "), "--warehouse") {
				args = append(args, "--warehouse", "duckdb:"+wh)
			}
			code, _, stderr := runMain(t, args...)
			require.Equal(t, 2, code, stderr)
			for _, w := range c.want {
				require.Contains(t, stderr, w)
			}
		})
	}
	require.NoFileExists(t, missing, "a report of a missing warehouse creates it")

	t.Run("period", func(t *testing.T) {
		code, all, stderr := runMain(t, "report", "--warehouse", "duckdb:"+wh, "--format", "table")
		require.Equal(t, 0, code, stderr)
		code, feb, stderr := runMain(t, "report", "--warehouse", "duckdb:"+wh, "--format", "table", "--from", "2026-02-01", "--to", "2026-02-28")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, feb, "conversions and spend: 2026-02-01 to 2026-02-28;")
		db, err := duckdb.OpenReadOnly(wh)
		require.NoError(t, err)
		defer db.Close()
		var revenue, spend float64
		require.NoError(t, db.QueryRow(`SELECT COALESCE(SUM(revenue), 0), SUM(spend) FROM v_channel_performance
			WHERE conversion_type = 'customer' AND date_basis = 'conversion_date' AND model = 'linear' AND scope = 'person' AND channel = 'Paid Search'
			  AND day BETWEEN DATE '2026-02-01' AND DATE '2026-02-28'`).Scan(&revenue, &spend))
		whole, period := revenueTable(t, all)["Paid Search"], revenueTable(t, feb)["Paid Search"]
		require.Equal(t, termreport.Money(revenue), period["linear"], "Paid Search, linear, February")
		require.Equal(t, termreport.Money(spend), period["spend"], "Paid Search's spend in February")
		require.NotEqual(t, whole["linear"], period["linear"], "the period does not change Paid Search's revenue")
		require.NotEqual(t, whole["spend"], period["spend"])
	})

	t.Run("model", func(t *testing.T) {
		code, out, stderr := runMain(t, "report", "--warehouse", "duckdb:"+wh, "--format", "table", "--model", "markov")
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, "Keywords that bring buyers (v_keyword_revenue; leads, customers and revenue credited by the markov model):")
		require.Contains(t, out, "customers markov  CAC markov")
	})
}

// TestReportWhileARunWrites: a run holding the warehouse's writer lock and building
// PATH.next does not keep the report from reading the live file.
func TestReportWhileARunWrites(t *testing.T) {
	src, _ := sharedDemo(t)
	wh := filepath.Join(t.TempDir(), "live.duckdb")
	copyTestFile(t, src, wh)
	lk, err := duckdb.Lock(wh, duckdb.Holder{RunID: "r_test", Started: time.Now()})
	require.NoError(t, err)
	defer lk.Unlock()
	copyTestFile(t, src, wh+".next") // the version the run is building
	code, out, stderr := runMain(t, "report", "--warehouse", "duckdb:"+wh, "--out", filepath.Join(t.TempDir(), "r.html"))
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "closedloop report: ")
}

func copyTestFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	require.NoError(t, err)
	defer in.Close()
	out, err := os.Create(to)
	require.NoError(t, err)
	_, err = io.Copy(out, in)
	require.NoError(t, err)
	require.NoError(t, out.Close())
}

// writeTestReport runs closedloop report on the shared demo warehouse into a file of
// dir and returns its path.
func writeTestReport(t *testing.T, dir string) (wh, path string) {
	t.Helper()
	wh, _ = sharedDemo(t)
	path = filepath.Join(dir, "report.html")
	code, out, stderr := runMain(t, "report", "--warehouse", "duckdb:"+wh, "--out", path)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, path)
	st, err := os.Stat(path)
	require.NoError(t, err)
	t.Logf("%s: %d bytes (%.0f KB)", path, st.Size(), float64(st.Size())/1024)
	return wh, path
}

// TestReportHTMLIsSelfContained: the HTML parses, references no resource on a network
// (no src or href to http(s) or a protocol-relative URL, no CSS import), embeds its data
// as JSON with a chart per chart container, and has a section per nav link.
func TestReportHTMLIsSelfContained(t *testing.T) {
	_, path := writeTestReport(t, t.TempDir())
	b, err := os.ReadFile(path)
	require.NoError(t, err)

	z := html.NewTokenizer(bytes.NewReader(b))
	var data string
	var links, ids []string
	charts := 0
	inData := false
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			require.ErrorIs(t, z.Err(), io.EOF, "the HTML does not parse")
			break
		}
		tok := z.Token()
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			for _, a := range tok.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch a.Key {
				case "src", "href", "srcset", "action", "poster", "data":
					require.False(t, strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "//"),
						"<%s %s=%q> loads from a network", tok.Data, a.Key, a.Val)
				case "id":
					ids = append(ids, a.Val)
				case "data-chart":
					charts++
				}
				if a.Key == "href" && strings.HasPrefix(a.Val, "#") {
					links = append(links, a.Val[1:])
				}
			}
			require.NotEqual(t, "link", tok.Data, "a <link> element")
			require.NotEqual(t, "iframe", tok.Data)
			inData = tok.Data == "script" && hasAttr(tok.Attr, "type", "application/json")
		case html.TextToken:
			if inData {
				data = tok.Data
				inData = false
			}
			require.NotContains(t, tok.Data, "@import", "CSS imports")
			require.NotRegexp(t, `url\(\s*['"]?(https?:)?//`, tok.Data, "CSS url() to a network")
		case html.EndTagToken:
			inData = false
		}
	}
	require.NotEmpty(t, links)
	for _, l := range links {
		require.Contains(t, ids, l, "nav link #%s has no section", l)
	}
	var doc struct {
		Charts []struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"charts"`
		Models []string `json:"models"`
	}
	require.NoError(t, json.Unmarshal([]byte(data), &doc), "the embedded JSON")
	require.Len(t, doc.Charts, charts, "a chart container per chart of the data")
	require.GreaterOrEqual(t, charts, 12)
	require.Len(t, doc.Models, 10)
}

func hasAttr(attrs []html.Attribute, key, val string) bool {
	for _, a := range attrs {
		if a.Key == key && a.Val == val {
			return true
		}
	}
	return false
}
