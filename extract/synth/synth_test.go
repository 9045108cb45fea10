package synth

import (
	"bytes"
	"context"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/hubspot"
	"closedloop/extract/spend"
)

var update = flag.Bool("update", false, "regenerate the committed sample, testdata/sample")

// sampleDir is the committed sample, relative to this package.
const sampleDir = "../../testdata/sample"

// files reads every file under dir, keyed by its slash path relative to dir.
func files(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "SOURCE.md" {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	require.NoError(t, err)
	return out
}

// TestSampleUpToDate keeps testdata/sample equal to what Generate writes for Sample;
// after a change to the generator, run `go test ./extract/synth -run Sample -update`.
func TestSampleUpToDate(t *testing.T) {
	if *update {
		for _, sub := range []string{"ga4", "hubspot", "spend"} {
			require.NoError(t, os.RemoveAll(filepath.Join(sampleDir, sub)))
		}
		st, err := Generate(Sample, sampleDir)
		require.NoError(t, err)
		t.Logf("regenerated %s: %+v", sampleDir, st)
	}
	dir := t.TempDir()
	_, err := Generate(Sample, dir)
	require.NoError(t, err)
	want, got := files(t, dir), files(t, sampleDir)
	require.Equal(t, len(want), len(got), "files in %s; run with -update", sampleDir)
	for name, b := range want {
		if !bytes.Equal(b, got[name]) {
			t.Errorf("%s/%s is stale; run `go test ./extract/synth -run Sample -update`", sampleDir, name)
		}
	}
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Seed: 3, People: 120, From: time.Date(2025, 12, 30, 15, 0, 0, 0, time.UTC), Days: 9}
	a, b := t.TempDir(), t.TempDir()
	sa, err := Generate(cfg, a)
	require.NoError(t, err)
	sb, err := Generate(cfg, b)
	require.NoError(t, err)
	assert.Equal(t, sa, sb)
	assert.Equal(t, files(t, a), files(t, b))

	cfg.Seed = 4
	c := t.TempDir()
	_, err = Generate(cfg, c)
	require.NoError(t, err)
	assert.NotEqual(t, files(t, a)["hubspot/contacts.ndjson"], files(t, c)["hubspot/contacts.ndjson"])
	// Only the UTC date of From counts: the period starts at midnight of 2025-12-30.
	assert.Contains(t, files(t, a), "ga4/events_20251230.ndjson.gz")
	assert.Contains(t, files(t, a), "ga4/events_20260107.ndjson.gz")
	assert.NotContains(t, files(t, a), "ga4/events_20260108.ndjson.gz")
}

// TestReadBack reads a generated data set with the real extractors: every line is
// accepted, and the counts match the Stats and the funnel's shape.
func TestReadBack(t *testing.T) {
	cfg := Config{Seed: 11, People: 400, From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Days: 30}
	dir := t.TempDir()
	st, err := Generate(cfg, dir)
	require.NoError(t, err)

	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	col := extract.NewCollector(mem)
	defer col.Release()
	ctx := context.Background()
	require.NoError(t, ga4.New(ga4.Config{Path: filepath.Join(dir, "ga4", "*.ndjson.gz"), Mem: mem}).Extract(ctx, col))
	hs := hubspot.New(hubspot.Config{Dir: filepath.Join(dir, "hubspot"), Mem: mem, CookieProperty: "ga_client_id", Currency: "USD"})
	require.NoError(t, hs.Extract(ctx, col))
	require.NoError(t, spend.New(spend.Config{Path: filepath.Join(dir, "spend", "spend.csv"), Mem: mem, Currency: "USD"}).Extract(ctx, col))
	require.Empty(t, col.Rejections())

	assert.Equal(t, int64(st.Events), rows(col, extract.TableEvents))
	assert.Equal(t, int64(st.Contacts), rows(col, extract.TableContacts))
	assert.Equal(t, int64(st.Deals), rows(col, extract.TableDeals))
	assert.Equal(t, int64(st.DealContacts), rows(col, extract.TableDealContacts))
	assert.Equal(t, int64(st.SpendRows), rows(col, extract.TableSpend))

	// The story holds: a real funnel, two-device people, paid traffic with cost.
	assert.Greater(t, st.Cookies, st.People)
	assert.Positive(t, st.LinkedPeople)
	assert.Less(t, st.Contacts, st.People)
	assert.True(t, st.Contacts > st.MQLs && st.MQLs > st.SQLs && st.SQLs > st.Opportunities && st.Opportunities > st.Customers && st.Customers > 0, "%+v", st)
	assert.Equal(t, st.Deals, st.DealsWon+st.DealsLost+st.DealsOpen)
	assert.Equal(t, st.Customers, st.DealsWon)
	assert.Positive(t, st.Revenue)
	assert.Positive(t, st.Spend)
}

// rows counts the rows collected for table.
func rows(col *extract.Collector, table string) int64 {
	tbl := col.Table(table)
	defer tbl.Release()
	return tbl.NumRows()
}

func TestConfigErrors(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no people": {Seed: 1, People: 0, From: time.Now(), Days: 1},
		"no days":   {Seed: 1, People: 10, From: time.Now(), Days: 0},
		"no from":   {Seed: 1, People: 10, Days: 1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Generate(cfg, t.TempDir())
			require.Error(t, err)
			assert.Contains(t, err.Error(), "synth: bad config")
		})
	}
}
