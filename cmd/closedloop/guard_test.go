package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
)

// touchLog writes a touch log with perDay[i] touches on 2018-07-0(i+1), each of its own
// cookie, and returns its path.
func touchLog(t *testing.T, path string, perDay ...int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("cookie,time,interaction,conversion,conversion_value,channel\n")
	for d, n := range perDay {
		for i := range n {
			fmt.Fprintf(&b, "c%d_%d,2018-07-%02dT10:%02d:00Z,impression,0,0.0,Paid Search\n", d, i, d+1, i%60)
		}
	}
	require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o644))
	return path
}

// touchesPerDay is fct_touchpoint's rows per day of wh, as "DAY=N" joined by spaces.
func touchesPerDay(t *testing.T, wh string) string {
	t.Helper()
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT strftime(occurred_at, '%Y-%m-%d') AS d, count(*) FROM fct_touchpoint GROUP BY d ORDER BY d`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		var n int
		require.NoError(t, rows.Scan(&d, &n))
		out = append(out, fmt.Sprintf("%s=%d", d, n))
	}
	return strings.Join(out, " ")
}

func guardArgs(log, wh string, more ...string) []string {
	return append([]string{"run", "--analytics", "touches:" + log, "--from", "2018-07-01", "--to", "2018-07-04",
		"--warehouse", "duckdb:" + wh, "--models", "first_touch", "--log-format", "json"}, more...)
}

func TestEmptyDaysAreNotReplaced(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh.duckdb")
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 3, 4, 5)
	code, _, stderr := runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "2018-07-01=3 2018-07-02=4 2018-07-03=5", touchesPerDay(t, wh))

	// The export of the 2nd is missing tonight: the run fails and keeps the day.
	touchLog(t, log, 3, 0, 5)
	code, _, stderr = runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "source touches:"+log+" delivered no event for 2018-07-02, while the warehouse holds 4 touchpoints and page views of that day")
	require.Contains(t, stderr, "--allow-empty-days")
	require.Equal(t, "2018-07-01=3 2018-07-02=4 2018-07-03=5", touchesPerDay(t, wh))

	// A header-only file: every day is named, as a run of days.
	touchLog(t, log)
	code, _, stderr = runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "delivered no event for 2018-07-01..2018-07-03, while the warehouse holds 12 touchpoints and page views of those days")
	require.Equal(t, "2018-07-01=3 2018-07-02=4 2018-07-03=5", touchesPerDay(t, wh))

	// Said to be expected: the day goes.
	touchLog(t, log, 3, 0, 5)
	code, _, stderr = runMain(t, guardArgs(log, wh, "--allow-empty-days")...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "2018-07-01=3 2018-07-03=5", touchesPerDay(t, wh))
}

func TestShrunkDaysWarnAndStrictFails(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh.duckdb")
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 10, 10, 10)
	code, _, stderr := runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)

	// The 2nd holds 3 of its 10 rows tonight (a truncated export): --strict refuses.
	touchLog(t, log, 10, 3, 10)
	code, _, stderr = runMain(t, guardArgs(log, wh, "--strict")...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "days replaced with far fewer touchpoints and page views than they had (more than 50% fewer): 2018-07-02 10 -> 3")
	require.Equal(t, "2018-07-01=10 2018-07-02=10 2018-07-03=10", touchesPerDay(t, wh))

	// Without it, the run replaces the day and says so loudly, in the log and run_log.
	code, _, stderr = runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, `"severity":"WARN","message":"days replaced with far fewer`)
	require.Equal(t, "2018-07-01=10 2018-07-02=3 2018-07-03=10", touchesPerDay(t, wh))
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	var counts string
	require.NoError(t, db.QueryRow(`SELECT row_counts FROM run_log ORDER BY finished_at DESC LIMIT 1`).Scan(&counts))
	var rc struct {
		DayDrops []dayDrop `json:"day_drops"`
	}
	require.NoError(t, json.Unmarshal([]byte(counts), &rc))
	require.Equal(t, []dayDrop{{Day: "2018-07-02", Before: 10, After: 3}}, rc.DayDrops)

	// A smaller drop, within --max-day-drop, passes quietly.
	touchLog(t, log, 10, 2, 10)
	code, _, stderr = runMain(t, guardArgs(log, wh, "--strict", "--max-day-drop", "0.7")...)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stderr, "far fewer")
}

func TestTooManyRejectedRowsFailTheRun(t *testing.T) {
	t.Setenv("CLOSEDLOOP_MAX_REJECT_RATIO", "") // the default, 0.01
	os.Unsetenv("CLOSEDLOOP_MAX_REJECT_RATIO")
	wh := filepath.Join(t.TempDir(), "wh.duckdb")
	code, _, stderr := runMain(t, "run", "--analytics", "touches:testdata/touches.csv", "--from", "2018-07-01", "--to", "2018-07-31",
		"--warehouse", "duckdb:"+wh)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "source touches:testdata/touches.csv: 1 of 18 rows rejected (5.6%, more than CLOSEDLOOP_MAX_REJECT_RATIO=0.01); the first: testdata/touches.csv:19: bad time")
	require.NoFileExists(t, wh, "nothing is loaded")

	code, _, stderr = runMain(t, "run", "--analytics", "touches:testdata/touches.csv", "--from", "2018-07-01", "--to", "2018-07-31",
		"--warehouse", "duckdb:"+wh, "--max-reject-ratio", "0.06")
	require.Equal(t, 0, code, stderr)
}

func TestSecondRunIsRefusedAtItsStart(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh.duckdb")
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 3)
	held, err := duckdb.Lock(wh, duckdb.Holder{RunID: "r_first"})
	require.NoError(t, err)
	code, _, stderr := runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, fmt.Sprintf("another run is writing %s: run r_first (pid %d", wh, os.Getpid()))
	require.NotContains(t, stderr, "source read", "refused before any work")
	require.NoError(t, held.Unlock())
	code, _, stderr = runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)
}

func TestUnwritableWarehouseIsExit2(t *testing.T) {
	dir := t.TempDir()
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 3)
	wh := filepath.Join(dir, "wh.duckdb")
	code, _, stderr := runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, os.Chmod(wh, 0o444))
	code, _, stderr = runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, wh+" is read-only (mode 0444)")
	fi, err := os.Stat(wh)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o444), fi.Mode().Perm(), "left as the operator set it")

	// A path under a regular file: named itself, not its .lock.
	bad := filepath.Join(log, "wh.duckdb")
	code, _, stderr = runMain(t, guardArgs(log, bad)...)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "cannot write "+bad)
	require.NotContains(t, stderr, ".lock")
}

func TestDemoRefusesAWarehouseItDidNotWrite(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "closedloop.duckdb")
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 3)
	code, _, stderr := runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)
	before := touchesPerDay(t, wh)

	code, _, stderr = runMain(t, "demo", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "was written by runs of touches:"+log+", not by the demo")
	require.Contains(t, stderr, "--force")
	require.Equal(t, before, touchesPerDay(t, wh), "untouched")

	// A DuckDB file that is no closedloop warehouse at all.
	other := filepath.Join(dir, "other.duckdb")
	db, err := sql.Open("duckdb", other)
	require.NoError(t, err)
	_, err = db.Exec(`CREATE TABLE orders (id INTEGER)`)
	require.NoError(t, err)
	require.NoError(t, db.Close())
	code, _, stderr = runMain(t, "demo", "--warehouse", "duckdb:"+other)
	require.Equal(t, 2, code, stderr)
	require.Contains(t, stderr, "has no run_log the demo wrote")

	// Its own warehouse, again: fine; and --force writes into the run's.
	own := filepath.Join(dir, "demo.duckdb")
	for range 2 {
		code, _, stderr = runMain(t, "demo", "--warehouse", "duckdb:"+own)
		require.Equal(t, 0, code, stderr)
	}
	code, _, stderr = runMain(t, "demo", "--warehouse", "duckdb:"+wh, "--force")
	require.Equal(t, 0, code, stderr)
}

func TestEachLogLineNamesItsSourceOnce(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, unpackSample(filepath.Join(dir, "sample")))
	s := filepath.Join(dir, "sample")
	code, _, stderr := runMain(t, "run", "--analytics", "ga4:"+filepath.Join(s, "ga4", "*.ndjson.gz"),
		"--crm", "hubspot:"+filepath.Join(s, "hubspot"), "--spend", "spend:"+filepath.Join(s, "spend", "*.csv"),
		"--from", "2026-01-01", "--to", "2026-03-02", "--warehouse", "duckdb:"+filepath.Join(dir, "wh.duckdb"),
		"--log-format", "json", "--log-level", "debug")
	require.Equal(t, 0, code, stderr)
	lines := 0
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if n := strings.Count(line, `"source":`); n > 0 {
			lines++
			require.Equal(t, 1, n, line)
		}
	}
	require.Positive(t, lines)
}

func TestLatin1ByteIsARejectedRowNotAFailedRun(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh.duckdb")
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 100, 100)
	f, err := os.OpenFile(log, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("c_bad,2018-07-02T11:00:00Z,impression,0,0.0,Caf\xe9 Ads\nc_nul,2018-07-02T11:00:00Z,impression,0,0.0,Ads\x00\n")
	require.NoError(t, err)
	require.NoError(t, f.Close())
	code, _, stderr := runMain(t, guardArgs(log, wh)...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, "2018-07-01=100 2018-07-02=100", touchesPerDay(t, wh))
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT location, reason, raw FROM rejected_rows ORDER BY location`)
	require.NoError(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var loc, reason, raw string
		require.NoError(t, rows.Scan(&loc, &reason, &raw))
		got = append(got, loc+" | "+reason+" | "+raw)
	}
	require.Len(t, got, 2)
	require.Contains(t, got[0], log+":202 | ")
	require.Contains(t, got[0], "not valid UTF-8")
	require.Contains(t, got[0], "Caf\uFFFD Ads")
	require.Contains(t, got[1], log+":203 | ")
	require.Contains(t, got[1], "NUL byte")
}
