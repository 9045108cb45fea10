package sqlengine

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform"
)

// engineRun runs the engine with the DuckDB rendering over rng, reading the export's
// days of read; with since set, incrementally, the state read back from the warehouse
// tables db holds. It returns every table's rows (allRows) and the Output's tables
// that an incremental run reads back, kept in db under their contract names.
func engineRun(t *testing.T, db *sql.DB, rng, read extract.Range, since time.Time, keep bool) (map[string][][]string, time.Time) {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opt := sampleOptions(rng, allModels(t))
	opt.Mem, opt.Since = mem, since
	cfg := engineConfig(opt, rng, read)
	cfg.Dialect, cfg.Export, cfg.Since = DuckDB, "export", since
	c := crmTables(t, mem, filepath.Join("..", "..", "testdata", "sample", "hubspot"))
	defer c.Release()
	eng := New(&DB{DB: db, Config: &cfg}, cfg, Options{Mem: mem, Input: "ga4:bigquery://test"})
	s := newStream(opt, eng)
	require.NoError(t, eng.Start(ctx, s))
	if !since.IsZero() {
		st := &load.SQLState{DB: db, Dialect: "duckdb"}
		require.NoError(t, st.ReadState(ctx, since, transform.Milestones, s))
	}
	out := finish(t, s, c)
	defer out.Release()
	if keep { // the warehouse an incremental run resumes from
		_, err := db.Exec("CREATE OR REPLACE TABLE fct_touchpoint AS SELECT * FROM cl_touchpoints")
		require.NoError(t, err)
		for _, name := range []string{load.BridgeIdentity, load.IdentityEdge, load.DimPerson, load.FctConversion} {
			tbl, err := out.Table(name)
			require.NoError(t, err)
			path := filepath.Join(t.TempDir(), name+".parquet")
			f, err := os.Create(path)
			require.NoError(t, err)
			require.NoError(t, pqarrow.WriteTable(tbl, f, 1<<16, parquet.NewWriterProperties(parquet.WithAllocator(mem)),
				pqarrow.NewArrowWriterProperties(pqarrow.WithAllocator(mem))))
			tbl.Release()
			_, err = db.Exec(fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT * FROM read_parquet('%s')", name, path))
			require.NoError(t, err)
		}
		tp, err := out.Table(load.FctTouchpoint) // Go's own touchpoints (a CRM's activities)
		require.NoError(t, err)
		require.Zero(t, tp.NumRows(), "the sample's CRM has no activities")
		tp.Release()
	}
	return allRows(t, out, db), out.Stats.AttributionFrom
}

// TestEngineNightlyIsTheFullRun: a full run of the sample's first days, then an
// incremental night of the rest that reads the export from two days before them and
// the older touchpoints, conversions and identities from the warehouse, give the same
// tables as one full run: the night's days of the date-keyed tables, and every row of
// the others. Nights of 6 and of 30 days.
func TestEngineNightlyIsTheFullRun(t *testing.T) {
	db := openDuckDB(t)
	loadExport(t, db, filepath.Join("..", "..", "testdata", "sample", "ga4", "*.ndjson.gz"))
	all := sampleRange()
	full, _ := engineRun(t, db, all, all, time.Time{}, false)
	for _, since := range []time.Time{day("2026-02-25"), day("2026-02-01")} {
		t.Run(since.Format(time.DateOnly), func(t *testing.T) {
			first := extract.Range{From: all.From, To: since.AddDate(0, 0, -1)}
			engineRun(t, db, first, first, time.Time{}, true)
			night, attrFrom := engineRun(t, db, extract.Range{From: since, To: all.To}, extract.Range{From: since.AddDate(0, 0, -2), To: all.To}, since, false)
			t.Logf("attribution from %v", attrFrom)
			for _, spec := range load.Tables {
				want, ok := full[spec.Name]
				if !ok {
					continue
				}
				if spec.Mode == load.ReplaceRange {
					k := slices.IndexFunc(spec.Schema.Fields(), func(f arrowField) bool { return f.Name == spec.DateColumn })
					require.GreaterOrEqual(t, k, 0, spec.Name)
					from := since
					if spec.Name == load.FctAttribution && !attrFrom.IsZero() {
						from = attrFrom // an identity merge reached back: the older days' credits are written again
					}
					want = inDays(want, k, from)
				}
				if spec.Name == load.FctTouchpoint || spec.Name == load.FctAttribution || spec.Name == load.FctPageView {
					require.NotEmpty(t, want, spec.Name)
					t.Logf("%s: %d rows of the night's days", spec.Name, len(want))
				}
				requireClose(t, want, night[spec.Name], spec.Name)
			}
		})
	}
}

type arrowField = arrow.Field

// inDays keeps the rows whose column k (µs, or a date) is since or later.
func inDays(rows [][]string, k int, since time.Time) [][]string {
	var out [][]string
	for _, r := range rows {
		v := r[k]
		if us, err := strconv.ParseInt(v, 10, 64); err == nil {
			if us >= since.UnixMicro() {
				out = append(out, r)
			}
			continue
		}
		if d, err := time.Parse(time.DateOnly, v); err == nil && !d.Before(since) {
			out = append(out, r)
		}
	}
	return out
}
