package paths

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRead(t *testing.T) {
	res, err := Read(context.Background(), Config{Path: "testdata/paths.csv"})
	require.NoError(t, err)
	assert.Equal(t, []string{"Paid Search", "Email", "Direct"}, res.Channels)
	assert.Equal(t, 8, res.Lines)
	require.Len(t, res.Rejections, 2)
	assert.Equal(t, "testdata/paths.csv:6", res.Rejections[0].Location)
	assert.Contains(t, res.Rejections[0].Reason, "empty channel")
	assert.Equal(t, "testdata/paths.csv:8", res.Rejections[1].Location)
	assert.Contains(t, res.Rejections[1].Reason, `total_conversions "x" is not a number`)
	assert.Equal(t, "paths:testdata/paths.csv", res.Rejections[1].Input)

	// "Email" twice is summed; the path nobody took is left out.
	require.Equal(t, 4, res.Paths.Len())
	p := res.Paths.Paths
	assert.Equal(t, []int32{0, 1}, p[0].Channels)
	assert.Equal(t, [3]float64{2, 30.5, 3}, [3]float64{p[0].Conversions, p[0].Value, p[0].Nulls})
	assert.Equal(t, []int32{1}, p[1].Channels)
	assert.Equal(t, [3]float64{2, 12.5, 4}, [3]float64{p[1].Conversions, p[1].Value, p[1].Nulls})
	assert.Equal(t, []int32{0, 0, 2}, p[2].Channels, "repeats are kept")
	assert.Equal(t, [3]float64{0, 0, 2}, [3]float64{p[3].Conversions, p[3].Value, p[3].Nulls}, "empty counts are 0")
	assert.Equal(t, int32(2), res.Code("Direct"))
	assert.Equal(t, int32(-1), res.Code("Display"))
}

func TestReadCustomLayout(t *testing.T) {
	f := filepath.Join(t.TempDir(), "p.csv")
	require.NoError(t, os.WriteFile(f, []byte("extra,conv,nulls,route,val\nx,3,1,a|b|a,9\n"), 0o644))
	res, err := Read(context.Background(), Config{Path: f, FieldSep: ',', PathSep: "|",
		Columns: Columns{Path: "route", Conversions: "conv", Value: "val", Nulls: "nulls"}})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, res.Channels)
	require.Equal(t, 1, res.Paths.Len())
	assert.Equal(t, []int32{0, 1, 0}, res.Paths.Paths[0].Channels)
	assert.Equal(t, 9.0, res.Paths.Paths[0].Value)
}

func TestReadErrors(t *testing.T) {
	_, err := Read(context.Background(), Config{Path: "testdata/missing.csv"})
	require.ErrorContains(t, err, "missing.csv")
	f := filepath.Join(t.TempDir(), "p.csv")
	require.NoError(t, os.WriteFile(f, []byte("path;conversions\na;1\n"), 0o644))
	_, err = Read(context.Background(), Config{Path: f})
	require.ErrorContains(t, err, `p.csv:1: no column "total_conversions"`)
}
