package tables_test

import (
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract/tables/tablestest"
)

// seedDirs are the Fivetran dbt seeds shipped with the decoders' tests.
var seedDirs = []string{"../hubspot/testdata/fivetran-seeds", "../salesforce/testdata/fivetran"}

// TestFivetranSeeds loads the shipped Fivetran seeds into each backend and compares
// every cell Read returns with the CSV file's cell. The seeds write cells as the
// warehouse exported them, not as the package doc renders them; canon maps both to
// one form: booleans TRUE/FALSE are "true"/"false", a timestamp without zone
// "2021-04-02 11:16:05" or in BigQuery's export form "2023-11-11 08:18:16.519000 UTC"
// is the UTC time "2021-04-02T11:16:05Z", a number "1.0" is
// "1" (DuckDB's sniffer makes the column DOUBLE), an empty cell is NULL.
func TestFivetranSeeds(t *testing.T) {
	eachKind(t, func(t *testing.T, kind string) {
		for _, dir := range seedDirs {
			db := tablestest.LoadCSVFolder(t, kind, dir)
			src := db.Open(t)
			files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
			require.NoError(t, err)
			names, err := src.Tables(context.Background())
			require.NoError(t, err)
			require.Len(t, names, len(files))
			cells := 0
			for _, file := range files {
				table := strings.ToLower(strings.TrimSuffix(filepath.Base(file), ".csv"))
				require.Contains(t, names, table)
				head, want := readCSV(t, file)
				cols, err := src.Columns(context.Background(), table)
				require.NoError(t, err)
				require.Equal(t, lower(head), cols, table)
				var got []string
				err = src.Read(context.Background(), table, cols, nil, func(row []string) error {
					got = append(got, canonRow(row))
					cells += len(row)
					return nil
				})
				require.NoError(t, err)
				sort.Strings(got)
				require.Equal(t, want, got, table)
			}
			t.Logf("%s: %d tables, %d cells equal", dir, len(files), cells)
		}
	})
}

// readCSV returns the header of a CSV file and its rows through canonRow, sorted.
func readCSV(t *testing.T, path string) (head []string, rows []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	recs, err := r.ReadAll()
	require.NoError(t, err)
	for _, rec := range recs[1:] {
		rows = append(rows, canonRow(rec))
	}
	sort.Strings(rows)
	return recs[0], rows
}

func lower(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = strings.ToLower(strings.TrimPrefix(s, "\ufeff"))
	}
	return out
}

func canonRow(row []string) string {
	out := make([]string, len(row))
	for i, c := range row {
		out[i] = canon(c)
	}
	return strings.Join(out, "\x1f")
}

// canon is the one form of a cell of the seeds and of Read (see TestFivetranSeeds).
func canon(s string) string {
	switch strings.ToLower(s) {
	case "true", "false":
		return strings.ToLower(s)
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999", "2006-01-02 15:04:05.999999Z07", "2006-01-02 15:04:05.999999Z07:00",
		"2006-01-02 15:04:05.999999 UTC"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts.UTC().Format(time.RFC3339Nano)
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXnN_") {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return s
}
