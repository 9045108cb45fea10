package main

import (
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
)

// shellWords splits a command line as a POSIX shell would one that uses only spaces
// and single quotes.
func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case quoted && r == '\'':
			quoted = false
		case quoted:
			cur.WriteRune(r)
		case r == '\'':
			quoted, inWord = true, true
		case r == ' ':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			require.NotContains(t, `"\$*?`, string(r), "unquoted shell character in %q", line)
			cur.WriteRune(r)
			inWord = true
		}
	}
	require.False(t, quoted, "unbalanced quote in %q", line)
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// printedRun returns the arguments of the closedloop run command that the demo's
// --write-sample printed.
func printedRun(t *testing.T, out string) []string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(l), "closedloop run "); ok {
			return shellWords(t, rest)
		}
	}
	t.Fatalf("no closedloop run command in:\n%s", out)
	return nil
}

// TestDemoWriteSample: --write-sample writes the sample's files and a closedloop run
// command whose configuration is the demo's, and that command loads what the demo
// loads.
func TestDemoWriteSample(t *testing.T) {
	t.Setenv("CLOSEDLOOP_MAX_REJECT_RATIO", "0.01") // the default, as the demo's own configuration has it (TestMain sets another)
	dir := filepath.Join(t.TempDir(), "my sample")  // a space, to be quoted
	wh := filepath.Join(t.TempDir(), "run.duckdb")
	code, out, stderr := runMain(t, "demo", "--write-sample", dir, "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	for _, f := range []string{"personas.txt", "hubspot", "spend", "ga4"} {
		_, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
	}
	require.NoFileExists(t, wh, "--write-sample writes no warehouse")
	args := printedRun(t, out)

	got, err := loadConfig("run", args, io.Discard)
	require.NoError(t, err)
	want, err := demoConfig("", dir, "duckdb:"+wh)
	require.NoError(t, err)
	got.LogFormat, got.LogLevel = want.LogFormat, want.LogLevel
	require.Equal(t, want, got, "the printed command's configuration is the demo's")

	code, _, stderr = runMain(t, append([]string{"run"}, args...)...)
	require.Equal(t, 0, code, stderr)
	demoWH, _ := sharedDemo(t)
	ran, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer ran.Close()
	demo, err := duckdb.OpenReadOnly(demoWH)
	require.NoError(t, err)
	defer demo.Close()
	for _, q := range []string{
		`SELECT count(*), round(sum(revenue), 2) FROM fct_conversion`,
		`SELECT count(*), round(sum(revenue), 2) FROM fct_conversion WHERE conversion_type = 'customer'`,
		`SELECT count(*), round(sum(revenue_credit), 2) FROM fct_attribution`,
		`SELECT count(*), count(DISTINCT channel) FROM fct_touchpoint`,
		`SELECT count(*), count(DISTINCT persona) FROM dim_person`,
	} {
		require.Equal(t, pair(t, demo, q), pair(t, ran, q), q)
	}

	code, _, stderr = runMain(t, "demo", "--write-sample", dir)
	require.Equal(t, 2, code, "a folder with the sample already in it")
	require.Contains(t, stderr, "name a new or empty folder")
}

// pair is the two values of a one-row query, as text.
func pair(t *testing.T, db *sql.DB, q string) [2]string {
	t.Helper()
	var a, b sql.NullString
	require.NoError(t, db.QueryRow(q).Scan(&a, &b), q)
	return [2]string{a.String, b.String}
}

// TestDemoRefusesBigQuery: the demo cannot read a report back from BigQuery; it says
// so with exit 2 before it unpacks or loads anything, and names --write-sample, which
// works with a BigQuery warehouse.
func TestDemoRefusesBigQuery(t *testing.T) {
	tmp, cwd := t.TempDir(), t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Chdir(cwd)
	code, out, stderr := runMain(t, "demo", "--warehouse", "bigquery:my-project.closedloop")
	require.Equal(t, 2, code, stderr)
	require.Empty(t, out)
	require.Contains(t, stderr, "closedloop demo --write-sample DIR --warehouse bigquery:my-project.closedloop")
	require.Contains(t, stderr, "closedloop run")
	for _, d := range []string{tmp, cwd} {
		entries, err := os.ReadDir(d)
		require.NoError(t, err)
		require.Empty(t, entries, "the refused demo left files in %s", d)
	}

	code, out, stderr = runMain(t, "demo", "--write-sample", "sample", "--warehouse", "bigquery:my-project.closedloop")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, printedRun(t, out), "bigquery:my-project.closedloop")
}

// TestDemoWriteSampleHidesPassword: the printed command never shows the password of a
// DSN given with --warehouse, and says how to give it instead.
func TestDemoWriteSampleHidesPassword(t *testing.T) {
	code, out, stderr := runMain(t, "demo", "--write-sample", t.TempDir(),
		"--warehouse", "postgres:postgres://bob:s3cretpw@db.example:5432/marketing")
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, out, "s3cretpw")
	require.Contains(t, printedRun(t, out), "postgres:postgres://bob:xxxxx@db.example:5432/marketing")
	require.Contains(t, out, "PGPASSWORD")
}
