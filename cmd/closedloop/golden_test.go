package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/load/duckdb"
	views "closedloop/sql"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from this run")

// goldenSkip lists columns that differ on every run (ids and times of the run itself).
var goldenSkip = map[string]map[string]bool{
	load.RunLog:       {"run_id": true, "started_at": true, "finished_at": true, "inputs": true, "warehouse": true, "version": true, "stage_seconds": true},
	load.RejectedRows: {"run_id": true},
}

// dump renders a table or view as CSV-ish text, rows in a stable order.
func dump(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	header, lines := queryLines(t, db, fmt.Sprintf(`SELECT * FROM %s ORDER BY ALL`, name), goldenSkip[name])
	var b strings.Builder
	for _, l := range append([]string{header}, lines...) {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

// queryLines runs q and renders its column names and each row as a comma-separated
// line, values as format writes them, leaving out the columns of skip.
func queryLines(t *testing.T, db *sql.DB, q string, skip map[string]bool) (string, []string) {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var keep []int
	var names []string
	for i, c := range cols {
		if !skip[c] {
			keep = append(keep, i)
			names = append(names, c)
		}
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var lines []string
	line := make([]string, len(keep))
	for rows.Next() {
		require.NoError(t, rows.Scan(ptrs...))
		for n, i := range keep {
			line[n] = format(vals[i])
		}
		lines = append(lines, strings.Join(line, ","))
	}
	require.NoError(t, rows.Err())
	return strings.Join(names, ","), lines
}

// goldenRows is how many rows of a table the golden file shows; longer tables are cut
// there and end with their row count and the SHA-256 of the whole dump, so a change
// anywhere fails the test while the files stay small enough to review.
const goldenRows = 150

// abridge cuts a dump to goldenRows rows plus a line with its size and digest.
func abridge(d string) string {
	lines := strings.SplitAfter(d, "\n")
	if len(lines) <= goldenRows+2 {
		return d
	}
	sum := sha256.Sum256([]byte(d))
	return strings.Join(lines[:goldenRows+1], "") +
		fmt.Sprintf("... %d rows in all, sha256 %x\n", len(lines)-2, sum)
}

func format(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case float64:
		// Rounded first: sums DuckDB adds up in parallel differ in the last bits from
		// run to run (2.9999999999999996 or 3).
		if r := math.Round(x*1e9) / 1e9; r == math.Trunc(r) && math.Abs(r) < 1e15 {
			if r == 0 {
				r = 0 // no "-0"
			}
			return strconv.FormatFloat(r, 'f', 0, 64)
		}
		return strconv.FormatFloat(x, 'f', 9, 64)
	case time.Time:
		return x.UTC().Format("2006-01-02T15:04:05.000000Z")
	case string:
		if strings.ContainsAny(x, ",\n\"") {
			return strconv.Quote(x)
		}
		return x
	}
	return fmt.Sprint(v)
}

// TestDemoGolden runs the demo on the bundled sample and compares every table and view
// with testdata/golden (go test ./cmd/closedloop -run Golden -update rewrites it).
func TestDemoGolden(t *testing.T) { demoGolden(t) }

// TestDemoGoldenStreamed: the events streamed in small chunks (sessions cut between
// chunks, four chunks reduced at once) and every large table spilled to a file give
// the same warehouse.
func TestDemoGoldenStreamed(t *testing.T) {
	if *update {
		t.Skip("TestDemoGolden writes the golden files")
	}
	defer func(rows int, bytes int64) { chunkRows, spillBytes = rows, bytes }(chunkRows, spillBytes)
	chunkRows, spillBytes = 1000, 32<<10
	demoGolden(t)
}

func demoGolden(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "demo.duckdb")
	code, out, stderr := runMain(t, "demo", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, out, "Revenue of won deals by channel")
	require.Contains(t, out, "Funnel")

	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	var names []string
	list, err := views.List("duckdb")
	require.NoError(t, err)
	for _, v := range list {
		names = append(names, v.Name)
	}
	for _, spec := range load.Tables {
		names = append(names, spec.Name)
	}
	for _, name := range names {
		got := abridge(dump(t, db, name))
		path := filepath.Join("testdata", "golden", name+".csv")
		if *update {
			require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
			require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
			continue
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run with -update to create the golden files")
		require.Equal(t, string(want), got, "%s differs from %s (-update rewrites it)", name, path)
	}

	// The contract's non-empty tables on the sample (issue: the demo's Done means).
	for _, name := range []string{"dim_person", "bridge_identity", "fct_touchpoint", "fct_page_view", "fct_conversion",
		"fct_attribution", "fct_markov_removal_effect", "fct_spend", "run_log", "v_channel_performance"} {
		var n int
		require.NoError(t, db.QueryRow(`SELECT count(*) FROM `+name).Scan(&n))
		require.Positive(t, n, name)
	}
	// For each (conversion, model), credits sum to 1 and revenue credits to revenue.
	var bad int
	require.NoError(t, db.QueryRow(`
		SELECT count(*) FROM (
		  SELECT a.conversion_id, a.model, a.scope, sum(a.credit) AS c, sum(a.revenue_credit) AS r, any_value(v.revenue) AS rev
		  FROM fct_attribution a JOIN fct_conversion v USING (conversion_id)
		  GROUP BY a.conversion_id, a.model, a.scope)
		WHERE abs(c - 1) > 1e-9 OR (rev IS NOT NULL AND abs(r - rev) > 1e-6) OR (rev IS NULL AND r IS NOT NULL)`).Scan(&bad))
	require.Zero(t, bad)
	var convs, pairs, models, scopes int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM fct_conversion`).Scan(&convs))
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM (SELECT DISTINCT conversion_id, model, scope FROM fct_attribution)`).Scan(&pairs))
	require.NoError(t, db.QueryRow(`SELECT count(DISTINCT model) FROM fct_attribution`).Scan(&models))
	require.NoError(t, db.QueryRow(`SELECT count(DISTINCT scope) FROM fct_attribution`).Scan(&scopes))
	require.Equal(t, 3, scopes)
	require.Equal(t, convs*models*scopes, pairs, "every conversion has rows under every model and scope")

	// The run's counts reconcile: every analytics row read is a page view, a touch,
	// an interaction, a session-only event, an identify row or unlinked.
	var countsJSON string
	require.NoError(t, db.QueryRow(`SELECT row_counts FROM run_log`).Scan(&countsJSON))
	var counts struct {
		Read   map[string]map[string]int64 `json:"read"`
		Events map[string]int64            `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(countsJSON), &counts))
	var read, used int64
	for _, m := range counts.Read {
		read += m[extract.TableEvents]
	}
	for _, n := range counts.Events {
		used += n
	}
	require.Positive(t, read)
	require.Equal(t, read, used, "events read %d, used %v", read, counts.Events)
	require.Positive(t, counts.Events["page_views"])
	require.Positive(t, counts.Events["other"])
}

// TestDemoChannelRules: a rules file renames and splits channels in every table and
// view of the run (the demo's brand search campaign is brand_search).
// TestDemoPersonScope: the person scope's rows of the demo are those of a run of the
// sample with that scope alone (the journeys before scopes existed): the other scopes
// change none of them.
func TestDemoPersonScope(t *testing.T) {
	if testing.Short() {
		t.Skip("a run of the sample besides the shared demo")
	}
	t.Setenv("CLOSEDLOOP_MAX_REJECT_RATIO", "0.01") // the demo's
	dir := filepath.Join(t.TempDir(), "sample")
	code, out, stderr := runMain(t, "demo", "--write-sample", dir)
	require.Equal(t, 0, code, stderr)
	wh := filepath.Join(t.TempDir(), "person.duckdb")
	args := append(printedRun(t, out), "--warehouse", "duckdb:"+wh, "--journey-scope", "person")
	code, _, stderr = runMain(t, append([]string{"run"}, args...)...)
	require.Equal(t, 0, code, stderr)

	demoWH, _ := sharedDemo(t)
	demo, err := duckdb.OpenReadOnly(demoWH)
	require.NoError(t, err)
	defer demo.Close()
	person, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer person.Close()
	for _, q := range []string{
		`SELECT * FROM fct_attribution WHERE scope = 'person' ORDER BY ALL`,
		`SELECT * FROM fct_markov_removal_effect WHERE scope = 'person' ORDER BY ALL`,
		`SELECT * FROM fct_conversion ORDER BY ALL`,
	} {
		_, want := queryLines(t, person, q, nil)
		_, got := queryLines(t, demo, q, nil)
		require.NotEmpty(t, want, q)
		require.Equal(t, want, got, q)
	}
	var scopes []string
	_, scopes = queryLines(t, demo, `SELECT DISTINCT scope FROM fct_attribution ORDER BY scope`, nil)
	require.Equal(t, []string{"account", "deal", "person"}, scopes)
}

func TestDemoChannelRules(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "demo.duckdb")
	code, _, stderr := runMain(t, "demo", "--warehouse", "duckdb:"+wh,
		"--channel-rules", filepath.Join("..", "..", "transform", "channel", "testdata", "rules.txt"))
	require.Equal(t, 0, code, stderr)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	for _, q := range []string{
		`SELECT count(*) FROM fct_touchpoint WHERE channel = 'Paid Search - Brand' AND campaign <> 'brand_search'`,
		`SELECT count(*) FROM fct_touchpoint WHERE channel = 'Paid Search'`,
		`SELECT count(*) FROM fct_spend WHERE channel = 'Paid Search'`,
	} {
		require.Zero(t, query(t, db, q), q)
	}
	for _, q := range []string{
		`SELECT count(*) FROM fct_touchpoint WHERE channel = 'Paid Search - Brand'`,
		`SELECT count(*) FROM fct_touchpoint WHERE channel = 'Paid Search - Generic'`,
		`SELECT count(*) FROM fct_spend WHERE channel = 'Paid Search - Brand'`,
		`SELECT count(*) FROM v_campaign_roi WHERE channel = 'Paid Search - Brand' AND spend > 0 AND revenue > 0`,
		`SELECT count(*) FROM fct_touchpoint WHERE channel = 'Review Sites'`,
	} {
		require.Positive(t, query(t, db, q), q)
	}
}

// TestDemoResumes: the demo run again over its warehouse resumes from it (an
// incremental run: its days' GA4 files and the warehouse's state) and leaves every
// table as the first run wrote it.
func TestDemoResumes(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "demo.duckdb")
	dumps := func() map[string]string {
		db, err := duckdb.OpenReadOnly(wh)
		require.NoError(t, err)
		defer db.Close()
		out := map[string]string{}
		for _, spec := range load.Tables {
			if spec.Name != load.RunLog && spec.Name != load.RejectedRows {
				out[spec.Name] = dump(t, db, spec.Name)
			}
		}
		return out
	}
	code, _, stderr := runMain(t, "demo", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	first := dumps()
	code, _, stderr = runMain(t, "demo", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	st, err := duckdb.OpenState(wh)
	require.NoError(t, err)
	require.Equal(t, modeIncremental, lastState(t, st).Mode)
	for name, want := range dumps() {
		require.Equal(t, first[name], want, name)
	}
}
