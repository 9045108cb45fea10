package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract/synth"
	"closedloop/load/duckdb"
)

// treeHash hashes every file under dir, names and bytes.
func treeHash(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		require.NotContains(t, rel, ".tmp", "a temporary file is left behind")
		b, err := os.ReadFile(path)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
		n++
		return err
	})
	require.NoError(t, err)
	require.Positive(t, n)
	return hex.EncodeToString(h.Sum(nil))
}

// TestGenDeterministic: the same flags give the same bytes, the touch log alone or
// gzipped is the same log, another seed another data set.
func TestGenDeterministic(t *testing.T) {
	flags := []string{"--people", "150", "--days", "20", "--from", "2025-11-03", "--seed", "5"}
	gen := func(dir string, more ...string) {
		t.Helper()
		code, _, stderr := runMain(t, append(append([]string{"gen"}, flags...), more...)...)
		require.Equal(t, 0, code, stderr)
	}
	a, b := t.TempDir(), t.TempDir()
	for _, d := range []string{a, b} {
		gen(d, "--out", filepath.Join(d, "data"), "--touches", filepath.Join(d, "touches.csv"))
	}
	require.Equal(t, treeHash(t, a), treeHash(t, b))
	require.FileExists(t, filepath.Join(a, "data", "ga4", "events_20251103.ndjson.gz"))
	require.FileExists(t, filepath.Join(a, "data", "hubspot", "contacts.ndjson"))
	require.FileExists(t, filepath.Join(a, "data", "spend", "spend.csv"))
	log, err := os.ReadFile(filepath.Join(a, "touches.csv"))
	require.NoError(t, err)

	c := t.TempDir()
	gen(c, "--touches", filepath.Join(c, "touches.csv.gz"))
	entries, err := os.ReadDir(c)
	require.NoError(t, err)
	require.Len(t, entries, 1, "--touches alone writes the touch log only")
	f, err := os.Open(filepath.Join(c, "touches.csv.gz"))
	require.NoError(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	require.True(t, bytes.Equal(log, unzipped), "the touch log does not depend on --out")

	d := t.TempDir()
	code, _, stderr := runMain(t, "gen", "--people", "150", "--days", "20", "--from", "2025-11-03", "--seed", "6", "--touches", filepath.Join(d, "t.csv"))
	require.Equal(t, 0, code, stderr)
	other, err := os.ReadFile(filepath.Join(d, "t.csv"))
	require.NoError(t, err)
	require.False(t, bytes.Equal(log, other), "another seed, another log")
}

// printed returns the arguments of the command line gen printed for command, split as
// a shell does (shellWords of the demo's tests).
func printed(t *testing.T, out, command string) []string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "  closedloop "+command+" "); ok {
			return append([]string{command}, shellWords(t, rest)...)
		}
	}
	t.Fatalf("no closedloop %s line in:\n%s", command, out)
	return nil
}

// stat returns the figure gen printed for name.
func stat(t *testing.T, out, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^  ` + name + `\s+(\S+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "%s in:\n%s", name, out)
	return m[1]
}

// TestGenRunsAsPrinted: the printed command loads the generated folder, and the
// warehouse agrees with the printed Stats; the touch log of the same simulation loads
// as a touches: source with a conversion per won deal, worth the revenue.
func TestGenRunsAsPrinted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the job twice")
	}
	dir := t.TempDir()
	data, log := filepath.Join(dir, "data with blanks"), filepath.Join(dir, "touches.csv")
	// 45 days: deals take weeks from the form to close (as synth's TestReadBack).
	code, out, stderr := runMain(t, "gen", "--out", data, "--touches", log, "--people", "400", "--days", "45", "--seed", "11")
	require.Equal(t, 0, code, stderr)
	cfg := synth.Config{Seed: 11, People: 400, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 45}
	st, err := synth.GenerateTo(context.Background(), cfg, synth.Output{}) // the plan only: the same Stats but events, spend
	require.NoError(t, err)
	require.Positive(t, st.DealsWon)
	for name, want := range map[string]any{"people": st.People, "cookies": st.Cookies, "sessions": st.Sessions, "contacts": st.Contacts,
		"deals won": st.DealsWon, "revenue": fmt.Sprintf("%.2f", st.Revenue), "touch rows": st.Sessions + st.DealsWon} {
		require.Equal(t, fmt.Sprint(want), stat(t, out, name), name)
	}
	require.NotEqual(t, "0", stat(t, out, "events"))
	require.NotEqual(t, "0", stat(t, out, "spend rows"))

	// The sources, with the command as printed.
	args := printed(t, out, "run")
	require.Contains(t, args, "--from")
	require.Contains(t, args, "2026-02-14", "--to is the period's last day")
	wh := filepath.Join(dir, "ga4.duckdb")
	code, runOut, stderr := runMain(t, append(args, "--warehouse", "duckdb:"+wh, "--log-level", "warn")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, runOut, fmt.Sprintf(" %s touchpoints,", stat(t, out, "sessions")), "a touchpoint per GA4 session")
	require.Contains(t, runOut, " 0 rows rejected")
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, st.Contacts, query(t, db, `SELECT count(*) FROM bridge_identity WHERE identifier_type = 'hubspot_contact'`))
	// Every synth customer is the contact of a won deal: no lifecycle-only customers,
	// so one customer conversion per won deal.
	require.Equal(t, st.DealsWon, query(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'customer'`))
	require.Equal(t, st.DealsWon, query(t, db, `SELECT count(DISTINCT crm_deal_id) FROM fct_conversion WHERE conversion_type = 'customer'`))
	var revenue float64
	require.NoError(t, db.QueryRow(`SELECT sum(revenue) FROM fct_conversion WHERE conversion_type = 'customer'`).Scan(&revenue))
	require.InDelta(t, st.Revenue, revenue, 0.005)
	ga4Channels := channelCounts(t, db, `SELECT channel, count(*) FROM fct_touchpoint GROUP BY ALL`)

	// The touch log, as a touches: source of closedloop run and of closedloop attribute.
	twh := filepath.Join(dir, "touches.duckdb")
	code, runOut, stderr = runMain(t, "run", "--analytics", "touches:"+log, "--from", "2026-01-01", "--to", "2026-02-14",
		"--models", "first_touch,last_touch,linear", "--warehouse", "duckdb:"+twh, "--log-level", "warn")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, runOut, fmt.Sprintf(" %d touchpoints, %d conversions, %d persons, 0 rows rejected", st.Sessions+st.DealsWon, st.DealsWon, st.Cookies))
	tdb, err := duckdb.OpenReadOnly(twh)
	require.NoError(t, err)
	defer tdb.Close()
	require.Equal(t, st.DealsWon, query(t, tdb, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'conversion'`))
	require.NoError(t, tdb.QueryRow(`SELECT sum(revenue) FROM fct_conversion WHERE conversion_type = 'conversion'`).Scan(&revenue))
	require.InDelta(t, st.Revenue, revenue, 0.005)
	// The same sessions on the same channels, but where GA4's rules call a YouTube
	// visit Organic Video (synth plans it as Organic Social).
	touchChannels := channelCounts(t, tdb, `SELECT channel, count(*) FROM fct_touchpoint WHERE event_name = 'impression' GROUP BY ALL`)
	ga4Channels["Organic Social"] += ga4Channels["Organic Video"]
	delete(ga4Channels, "Organic Video")
	require.Equal(t, ga4Channels, touchChannels)

	code, _, stderr = runMain(t, printed(t, out, "attribute")...)
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, fmt.Sprintf(" %d conversions, %d cookies, 0 rows rejected", st.DealsWon, st.Cookies))
}

// channelCounts runs q, which returns channel and count, into a map.
func channelCounts(t *testing.T, db *sql.DB, q string) map[string]int {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err, q)
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var ch string
		var n int
		require.NoError(t, rows.Scan(&ch, &n))
		out[ch] = n
	}
	require.NoError(t, rows.Err())
	return out
}

func TestGenBadFlags(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nothing to write", []string{"--people", "10"}, "--out DIR (GA4, HubSpot and spend files) or --touches FILE"},
		{"no people", []string{"--out", dir, "--people", "0"}, "--people: want 1..268435456, got 0"},
		{"too many people", []string{"--out", dir, "--people", "300000000"}, "--people: want 1..268435456"},
		{"no days", []string{"--out", dir, "--days", "0"}, "--days: want 1..3660, got 0"},
		{"bad date", []string{"--out", dir, "--from", "2026-13-01"}, `--from: want a day as YYYY-MM-DD, got "2026-13-01"`},
		{"not a date", []string{"--out", dir, "--from", "yesterday"}, `--from: want a day as YYYY-MM-DD, got "yesterday"`},
		{"negative seed", []string{"--out", dir, "--seed", "-1"}, `invalid value "-1" for flag -seed`},
		{"people not a number", []string{"--out", dir, "--people", "many"}, `invalid value "many" for flag -people`},
		{"unknown flag", []string{"--out", dir, "--persons", "10"}, "flag provided but not defined: -persons"},
		{"stray argument", []string{"--out", dir, "extra"}, `unexpected argument "extra"`},
		{"out is a file", []string{"--out", file}, "is a file, want a folder"},
		{"touches is a folder", []string{"--touches", dir}, "is a folder, want a file name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runMain(t, append([]string{"gen"}, c.args...)...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, c.want)
		})
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "a refused gen writes nothing")
}

func TestHelpGen(t *testing.T) {
	code, out, _ := runMain(t, "help", "gen")
	require.Equal(t, 0, code)
	for _, s := range []string{"--out DIR", "--touches FILE", "-people", "-days", "-from", "-seed", "--touches alone"} {
		require.Contains(t, out, s)
	}
	code, out, _ = runMain(t, "help")
	require.Equal(t, 0, code)
	require.Contains(t, out, "  gen ")
}
