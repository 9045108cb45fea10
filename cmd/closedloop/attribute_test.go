package main

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parseCSV reads attribute's CSV output into per-model sums and the rows.
func parseCSV(t *testing.T, out string) (map[string][2]float64, [][]string) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, []string{"model", "channel", "conversions", "value", "removal_effect"}, recs[0])
	sums := map[string][2]float64{}
	for _, r := range recs[1:] {
		c, err := strconv.ParseFloat(r[2], 64)
		require.NoError(t, err)
		v, err := strconv.ParseFloat(r[3], 64)
		require.NoError(t, err)
		s := sums[r[0]]
		sums[r[0]] = [2]float64{s[0] + c, s[1] + v}
		if r[0] == "markov" {
			require.NotEmpty(t, r[4], "markov rows carry the removal effect")
		} else {
			require.Empty(t, r[4])
		}
	}
	return sums, recs[1:]
}

func TestAttributePaths(t *testing.T) {
	code, out, stderr := runMain(t, "attribute", "--input", "paths:testdata/paths.csv", "--format", "csv")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "rejected testdata/paths.csv:6: empty channel")
	assert.Contains(t, stderr, "4 distinct paths, 3 channels, 4 conversions, value 43, 14 non-converting journeys, 2 lines rejected")
	sums, recs := parseCSV(t, out)
	// Every model but time_decay (paths have no times), each allocating 4 conversions
	// and 43 of value.
	assert.Len(t, sums, 9)
	for m, s := range sums {
		assert.InDelta(t, 4, s[0], 1e-9, m)
		assert.InDelta(t, 43, s[1], 1e-9, m)
	}
	// By hand: first touch gives "Paid Search > Email" (2 conv, 30.5) to Paid Search
	// and both "Email" lines (2 conv, 12.5) to Email.
	got := map[string][]string{}
	for _, r := range recs {
		got[r[0]+"|"+r[1]] = r[2:4]
	}
	assert.Equal(t, []string{"2", "30.5"}, got["first_touch|Paid Search"])
	assert.Equal(t, []string{"2", "12.5"}, got["first_touch|Email"])
	assert.Equal(t, []string{"0", "0"}, got["first_touch|Direct"])
	assert.Equal(t, []string{"4", "43"}, got["last_touch|Email"])
	assert.Equal(t, []string{"1", "15.25"}, got["linear|Paid Search"])
}

func TestAttributeRepeatable(t *testing.T) {
	args := []string{"attribute", "--input", "paths:testdata/paths.csv", "--format", "json", "--models", "markov,shapley,linear", "--markov-order", "2"}
	_, a, _ := runMain(t, args...)
	code, b, stderr := runMain(t, args...)
	require.Equal(t, 0, code, stderr)
	require.Equal(t, a, b)
	var rows []attributeRow
	require.NoError(t, json.Unmarshal([]byte(a), &rows))
	require.Len(t, rows, 9)
	assert.NotNil(t, rows[0].RemovalEffect)
	assert.Nil(t, rows[8].RemovalEffect)
}

func TestAttributeUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", "ga4:x"}, "--input: want paths:FILE or touches:FILE"},
		{[]string{"--input", "paths:testdata/paths.csv", "--models", "time_decay"}, "time_decay needs touch times"},
		{[]string{"--input", "paths:testdata/paths.csv", "--markov-order", "7"}, "markov order 7: want 1..4"},
		{[]string{"--input", "paths:testdata/paths.csv", "--format", "xml"}, "--format"},
		{[]string{"--input", "paths:testdata/nope.csv"}, "nope.csv"},
		{[]string{"--input", "paths:testdata/paths.csv", "--models", "magic"}, `unknown attribution model "magic"`},
	} {
		code, _, stderr := runMain(t, append([]string{"attribute"}, c.args...)...)
		assert.Equal(t, 2, code, "%v: %s", c.args, stderr)
		assert.Contains(t, stderr, c.want, c.args)
	}
}

func TestAttributeTouches(t *testing.T) {
	code, out, stderr := runMain(t, "attribute", "--input", "touches:testdata/touches.csv", "--format", "csv")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "rejected testdata/touches.csv:19")
	sums, _ := parseCSV(t, out)
	assert.Len(t, sums, 10)
	for m, s := range sums {
		assert.InDelta(t, 4, s[0], 1e-9, m) // the log's 4 conversions
	}
}

// dataCSV is ChannelAttribution's example paths (GPL-3: read from ../shared, never copied).
var dataCSV = filepath.Join("..", "..", "..", "shared", "data", "channelattribution-pathdata", "Data.csv")

func TestAttributeDataCSV(t *testing.T) {
	if _, err := os.Stat(dataCSV); err != nil {
		t.Skipf("%s is absent: %v", dataCSV, err)
	}
	args := []string{"attribute", "--input", "paths:" + dataCSV, "--format", "csv"}
	code, out, stderr := runMain(t, args...)
	require.Equal(t, 0, code, stderr)
	// 10,000 lines, but only 5,408 distinct path strings: repeated paths are summed.
	assert.Contains(t, stderr, "10000 lines, 5408 distinct paths, 12 channels, 19785 conversions, value 74802.97, 68602 non-converting journeys, 0 lines rejected")
	sums, _ := parseCSV(t, out)
	for _, m := range []string{"first_touch", "last_touch", "linear", "position_based", "last_non_direct", "w_shaped", "full_path", "markov", "shapley"} {
		assert.InDelta(t, 19785, sums[m][0], 1e-6, m)
		assert.InDelta(t, 74802.971587, sums[m][1], 1e-6, m)
	}
	_, again, _ := runMain(t, args...)
	assert.Equal(t, out, again, "identical on repeated runs")
	t.Log("\n" + out)
}
