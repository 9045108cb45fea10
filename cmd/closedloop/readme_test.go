package main

import (
	"database/sql"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
	termreport "closedloop/sql/report"
)

// dialectOnly marks a README statement that runs on one SQL dialect only: a comment
// line that says "duckdb only", "postgres only" or "bigquery only".
var dialectOnly = regexp.MustCompile(`(?mi)^\s*--.*\b(duckdb|postgres|bigquery) only\b`)

// runsOn tells whether README statement q is for dialect.
func runsOn(q, dialect string) bool {
	m := dialectOnly.FindStringSubmatch(q)
	return m == nil || strings.EqualFold(m[1], dialect)
}

// readmeSQL returns the statements of every sql code block of the README, in order.
func readmeSQL(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var stmts []string
	in := false
	var block strings.Builder
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && trimmed == "```sql":
			in = true
			block.Reset()
		case in && trimmed == "```":
			in = false
			stmts = append(stmts, splitSQL(block.String())...)
		case in:
			block.WriteString(line + "\n")
		}
	}
	require.False(t, in, "README: a ```sql block is not closed")
	return stmts
}

// splitSQL splits a script at the semicolons outside quotes and comments; it drops
// what holds only comments and blanks.
func splitSQL(script string) []string {
	var out []string
	var cur strings.Builder
	flush := func() {
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "--") {
				out = append(out, s)
				return
			}
		}
	}
	quote := rune(0)
	comment := false
	for _, r := range script {
		switch {
		case comment:
			comment = r != '\n'
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '\'' || r == '"':
			quote = r
		case r == '-' && strings.HasSuffix(cur.String(), "-"):
			comment = true
		case r == ';':
			flush()
			continue
		}
		cur.WriteRune(r)
	}
	flush()
	return out
}

// TestREADMESQL runs every statement of the README's sql blocks against the demo's
// warehouse: each runs and returns rows, and the revenue-by-channel example gives the
// demo report's numbers, which the README shows.
func TestREADMESQL(t *testing.T) {
	wh, out := sharedDemo(t)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	stmts := readmeSQL(t)
	require.NotEmpty(t, stmts)
	pivots := 0
	for _, q := range stmts {
		if !runsOn(q, "duckdb") {
			t.Logf("not for DuckDB, skipped:\n%s", q)
			continue
		}
		cols, rows := queryAll(t, db, q)
		require.NotEmpty(t, rows, "README statement returns no row:\n%s", q)
		if strings.Contains(q, "PIVOT") && strings.Contains(q, "v_channel_performance") {
			pivots++
			checkRevenuePivot(t, q, cols, rows, revenueTable(t, out))
		}
	}
	require.Equal(t, 1, pivots, "the README's revenue-by-channel PIVOT is not found")

	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	require.Equal(t, revenueTable(t, out), revenueTable(t, string(readme)),
		"the revenue table of the demo's output in the README is not what the demo prints")
}

// checkRevenuePivot compares the README's PIVOT of revenue by channel and model with
// the demo report's table, rounded as the report prints it.
func checkRevenuePivot(t *testing.T, q string, cols []string, rows [][]any, report map[string]map[string]string) {
	t.Helper()
	require.Equal(t, "channel", cols[0], q)
	seen := map[string]bool{}
	for _, row := range rows {
		ch, ok := row[0].(string)
		require.True(t, ok, "channel %v", row[0])
		want, ok := report[ch]
		require.True(t, ok, "channel %q of the README's PIVOT is not in the demo's report", ch)
		seen[ch] = true
		compared := 0
		for i, c := range cols[1:] {
			cell, ok := want[c]
			if !ok {
				continue // a model the report leaves out
			}
			var v float64
			if row[i+1] != nil {
				v, ok = row[i+1].(float64)
				require.True(t, ok, "%s %s: %T", ch, c, row[i+1])
			}
			require.Equal(t, cell, termreport.Money(v), "README PIVOT: revenue of %s under %s", ch, c)
			compared++
		}
		require.GreaterOrEqual(t, compared, 7, "the PIVOT's columns %v miss the report's models", cols)
	}
	for ch := range report {
		require.True(t, seen[ch], "channel %q of the report is not in the README's PIVOT", ch)
	}
}

// queryAll runs q and returns its columns and rows.
func queryAll(t *testing.T, db *sql.DB, q string) ([]string, [][]any) {
	t.Helper()
	rows, err := db.Query(q)
	require.NoError(t, err, q)
	defer rows.Close()
	cols, err := rows.Columns()
	require.NoError(t, err)
	var out [][]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, rows.Scan(ptrs...), q)
		out = append(out, vals)
	}
	require.NoError(t, rows.Err(), q)
	return cols, out
}
