package main

import (
	"bufio"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/load/duckdb"
	"closedloop/load/postgres"
	"closedloop/load/postgres/pgtest"
)

// snapshot writes into dir the sources as they stood on night: the GA4 files of the
// days up to night, the night's own day only half exported (GA4 restates the last
// days: the next night brings the whole day), and the HubSpot export as of the
// night's end (later contacts and deals absent, later lifecycle dates and deal
// closings not yet there).
func snapshot(t *testing.T, src, dir string, night time.Time) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ga4"), 0o755))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "hubspot"), 0o755))
	files, err := filepath.Glob(filepath.Join(src, "ga4", "events_*.ndjson.gz"))
	require.NoError(t, err)
	last := "events_" + night.Format("20060102") + ".ndjson.gz"
	for _, f := range files {
		base := filepath.Base(f)
		switch {
		case base > last:
			continue
		case base == last:
			lines := readLines(t, f)
			writeGz(t, filepath.Join(dir, "ga4", base), lines[:len(lines)/2])
		default:
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "ga4", base), b, 0o644))
		}
	}
	end := night.AddDate(0, 0, 1)
	after := func(v any) bool { // RFC 3339 or epoch milliseconds, as gen writes HubSpot's dates
		s, ok := v.(string)
		if !ok {
			if f, isNum := v.(float64); isNum {
				return !time.UnixMilli(int64(f)).Before(end)
			}
			return false
		}
		if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
			return !time.UnixMilli(ms).Before(end)
		}
		at, err := time.Parse(time.RFC3339, s)
		return err == nil && !at.Before(end)
	}
	others, err := filepath.Glob(filepath.Join(src, "hubspot", "*"))
	require.NoError(t, err)
	for _, f := range others { // pipelines and the like: as they are
		if !strings.HasSuffix(f, "contacts.ndjson") && !strings.HasSuffix(f, "deals.ndjson") {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "hubspot", filepath.Base(f)), b, 0o644))
		}
	}
	kept := map[string]bool{}
	hub := func(name string, keep func(map[string]any) bool) {
		var out []string
		for _, line := range readLines(t, filepath.Join(src, "hubspot", name)) {
			var obj map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &obj))
			if !keep(obj) {
				continue
			}
			b, err := json.Marshal(obj)
			require.NoError(t, err)
			out = append(out, string(b))
		}
		require.NoError(t, os.WriteFile(filepath.Join(dir, "hubspot", name), []byte(strings.Join(out, "\n")+"\n"), 0o644))
	}
	hub("contacts.ndjson", func(c map[string]any) bool {
		props := c["properties"].(map[string]any)
		if after(props["createdate"]) {
			return false
		}
		for k, v := range props {
			if strings.HasSuffix(k, "_date") && after(v) {
				props[k] = nil
			}
		}
		kept["contact:"+c["id"].(string)] = true
		return true
	})
	hub("deals.ndjson", func(d map[string]any) bool {
		props := d["properties"].(map[string]any)
		if after(props["createdate"]) {
			return false
		}
		if after(props["closedate"]) { // still open on the night
			props["closedate"], props["dealstage"] = nil, "qualifiedtobuy"
			if h, ok := d["propertiesWithHistory"].(map[string]any); ok {
				if st, ok := h["dealstage"].([]any); ok {
					h["dealstage"] = slices.DeleteFunc(st, func(e any) bool { return after(e.(map[string]any)["timestamp"]) })
				}
			}
		}
		kept["deal:"+d["id"].(string)] = true
		return true
	})
	hub("deal_contacts.ndjson", func(a map[string]any) bool {
		if !kept["deal:"+a["from"].(map[string]any)["id"].(string)] {
			return false
		}
		to := a["to"].([]any)
		a["to"] = slices.DeleteFunc(to, func(e any) bool {
			return !kept[fmt.Sprintf("contact:%.0f", e.(map[string]any)["toObjectId"].(float64))]
		})
		return true
	})
}

// readLines reads the non-empty lines of a file, gzipped or not (extract.Open).
func readLines(t *testing.T, path string) []string {
	f, err := extract.Open(t.Context(), path)
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		if sc.Text() != "" {
			out = append(out, sc.Text())
		}
	}
	require.NoError(t, sc.Err())
	return out
}

// TestNightlyIsTheFullRun: 30 nightly runs (the first a --full-refresh, every other
// one incremental: it reads 3 days of GA4 files besides its own and the warehouse's
// state), over data that grows night by night (a day's export completed the next
// night, contacts identified and deals won later, cookies joined to older ones), give
// the warehouse of one full run over the last night's data: every table, every
// model's credits (markov and shapley: the days the last night wrote, as earlier
// nights' rows keep their night's fit), to 1e-9.
func TestNightlyIsTheFullRun(t *testing.T) {
	if testing.Short() {
		t.Skip("30 runs")
	}
	nightlyIsTheFullRun(t, 30, filepath.Join(t.TempDir(), "nightly.duckdb"), func(wh string) runState {
		st, err := duckdb.OpenState(wh)
		require.NoError(t, err)
		return lastState(t, st)
	}, func(wh string) *sql.DB {
		db, err := duckdb.OpenReadOnly(wh)
		require.NoError(t, err)
		return db
	})
}

// TestNightlyPostgres: the same on PostgreSQL, over 8 nights: its state is read back
// from its schema, and the warehouse equals DuckDB's full run.
func TestNightlyPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("8 runs")
	}
	dsn, stop := pgtest.Start(t)
	defer stop()
	nightlyIsTheFullRun(t, 8, "postgres:"+dsn, func(string) runState {
		st, err := postgres.OpenState(dsn)
		require.NoError(t, err)
		return lastState(t, st)
	}, func(string) *sql.DB {
		db, err := pgtest.OpenDB(dsn)
		require.NoError(t, err)
		return db
	})
}

// nightlyIsTheFullRun runs nights nightly runs into warehouse wh (a DuckDB path or a
// spec), and one full run over the last night's data into DuckDB, and compares them
// table by table: state reads the last run's state of wh, open opens it for queries.
func nightlyIsTheFullRun(t *testing.T, nights int, wh string, state func(string) runState, open func(string) *sql.DB) {
	src := t.TempDir()
	first := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	code, _, stderr := runMain(t, "gen", "--out", src, "--people", "400", "--days", strconv.Itoa(nights+3), "--from", first.Format(time.DateOnly))
	require.Equal(t, 0, code, stderr)

	work := t.TempDir()
	run := func(wh string, night time.Time, extra ...string) {
		dir := filepath.Join(work, "sources") // one place, as a nightly export lands
		require.NoError(t, os.RemoveAll(dir))
		snapshot(t, src, dir, night)
		if !strings.Contains(wh, ":") {
			wh = "duckdb:" + wh
		}
		args := append([]string{"run", "--analytics", "ga4:" + filepath.Join(dir, "ga4", "*.ndjson.gz"),
			"--crm", "hubspot:" + filepath.Join(dir, "hubspot"), "--to", night.Format(time.DateOnly),
			"--warehouse", wh, "--micro-conversions", "generate_lead", "--log-level", "warn"}, extra...)
		code, _, stderr := runMain(t, args...)
		require.Equal(t, 0, code, "%s: %s", night.Format(time.DateOnly), stderr)
	}
	var modes []string
	reached := 0 // nights whose identity merges reached older conversions
	last := first.AddDate(0, 0, nights+2)
	for night := first.AddDate(0, 0, 3); !night.After(last); night = night.AddDate(0, 0, 1) {
		if night.Equal(first.AddDate(0, 0, 3)) {
			run(wh, night, "--full-refresh")
		} else {
			run(wh, night)
		}
		st := state(wh)
		modes = append(modes, st.Mode)
		if st.AttributionFrom != "" {
			reached++
		}
	}
	require.Len(t, modes, nights)
	require.Equal(t, modeFullRefresh, modes[0])
	for _, m := range modes[1:] {
		require.Equal(t, modeIncremental, m)
	}
	if nights >= 30 {
		require.Positive(t, reached)
	}
	full := filepath.Join(work, "full.duckdb")
	run(full, last, "--full-refresh")

	a, err := duckdb.OpenReadOnly(full)
	require.NoError(t, err)
	defer a.Close()
	b := open(wh)
	defer b.Close()
	lastFrom := last.AddDate(0, 0, -3).Format(time.DateOnly) // the last night's own days
	for _, spec := range load.Tables {
		q := "SELECT * FROM " + spec.Name
		switch spec.Name {
		case load.RunLog, load.RejectedRows:
			continue
		case load.FctAttribution:
			// Earlier nights' markov and shapley rows keep their night's fit, and their
			// deal and account rows the buying committee known that night (a person
			// who joins an account later does not rewrite them): both are compared on
			// the days the last night wrote.
			q += fmt.Sprintf(` WHERE (model NOT IN ('markov', 'shapley') AND scope = 'person') OR occurred_at >= DATE '%s'`, lastFrom)
		}
		want, got := sortedDump(t, a, q), sortedDump(t, b, q)
		if spec.Name != load.IdentityConflicts && spec.Name != load.FctSpend { // neither has rows here
			require.Positive(t, len(want), spec.Name)
		}
		for i := range min(len(want), len(got)) {
			require.Equal(t, want[i], got[i], "%s: row %d (%d and %d rows)", spec.Name, i, len(want), len(got))
		}
		require.Equal(t, len(want), len(got), "%s rows", spec.Name)
	}
}

// sortedDump is the rows of query q formatted as the golden files are, sorted.
func sortedDump(t *testing.T, db *sql.DB, q string) []string {
	_, lines := queryLines(t, db, q, nil)
	slices.Sort(lines)
	return lines
}

// lastState is what the last run of a warehouse says of its state.
func lastState(t *testing.T, st *load.SQLState) runState {
	defer st.Close()
	counts, err := st.LastRun(t.Context())
	require.NoError(t, err)
	var v struct {
		State runState `json:"state"`
	}
	require.NoError(t, json.Unmarshal([]byte(counts), &v))
	return v.State
}

func writeGz(t *testing.T, path string, lines []string) {
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := gzip.NewWriter(f)
	for _, l := range lines {
		_, err := zw.Write([]byte(l + "\n"))
		require.NoError(t, err)
	}
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())
}

// TestPlanRunHidesPassword: a warehouse that cannot be reached to read its state back
// fails the run with an error that names it without its password.
func TestPlanRunHidesPassword(t *testing.T) {
	cfg := Config{Warehouse: "postgres:postgres://closedloop:s3cret-pw@127.0.0.1:1/warehouse?connect_timeout=2"}
	_, err := planRun(t.Context(), cfg, slog.New(slog.DiscardHandler))
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cret-pw")
	require.Contains(t, err.Error(), "127.0.0.1")
}
