package sqlengine

// Every statement and query of the BigQuery rendering is analyzed by ZetaSQL
// (tools/zetasql/check.js, ../shared/docs/TOOLING.md §1) with BigQuery's language
// settings, in order, against the GA4 export's schema (ExportColumns, a wildcard table
// with _TABLE_SUFFIX), the tables Go fills (goTables) and the contract tables: each
// work table a statement creates is seen by the statements after it, as in the run.
// It needs node and `npm ci --prefix tools/zetasql`; without them it skips, unless
// CLOSEDLOOP_REQUIRE_ZETASQL=1 (CI).

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	bqload "closedloop/load/bigquery"
	"closedloop/load/loadtest"
	"closedloop/transform/persona"
)

const zProject, zExport, zDataset = "my-proj", "my-proj.analytics_123", "my-proj.closedloop"

type (
	zColumn    = loadtest.ZColumn
	zTable     = loadtest.ZTable
	zStatement = loadtest.ZStatement
)

// bigQueryConfig is a run's configuration rendered for BigQuery.
func bigQueryConfig() Config {
	rng := extract.Range{From: day("2026-01-01"), To: day("2026-01-31")}
	return Config{Dialect: BigQuery, Export: zExport, Staging: zDataset, Warehouse: zDataset, Range: rng,
		Read: extract.Range{From: day("2025-10-03"), To: rng.To}, SessionTimeout: 30 * time.Minute,
		TouchEvents: []string{"generate_lead", "file_download"}, MicroConversions: []string{"purchase"}, Lookback: 90 * 24 * time.Hour}
}

// bigQueryScript is every statement and query of a run of cfg, in run order.
func bigQueryScript(t *testing.T, cfg Config) []zStatement {
	var out []zStatement
	add := func(p Phase) {
		sts, err := cfg.Statements(p)
		require.NoError(t, err)
		for _, s := range sts {
			out = append(out, zStatement{Name: s.Step, SQL: s.SQL})
		}
	}
	query := func(name, text string) {
		q, err := cfg.query(name, text)
		require.NoError(t, err)
		out = append(out, zStatement{Name: name, SQL: q})
	}
	add(PhaseFlatten)
	query("rejects", rejectsQuery)
	query("events", eventsQuery)
	query("identifiers", idsQuery)
	query("referrers", referrersQuery)
	add(PhaseSessions)
	query("traffic", trafficQuery)
	add(PhaseTables)
	query("counts", countsQuery)
	query("last seen", lastSeenQuery)
	cfg.needs = persona.Needs{Pages: true, Downloads: true, Events: true}
	query("seen", seenQuery)
	query("conversions", conversionsQuery)
	add(PhaseJourneys)
	query("journey shapes", shapesQuery)
	query("converting paths", convPathsQuery)
	query("null paths", nullPathsQuery)
	cfg.HalfLife = float64((7 * 24 * time.Hour).Microseconds())
	add(PhaseCredits)
	query("credit counts", creditCountsQuery)
	return out
}

func TestBigQuerySQLAnalyzes(t *testing.T) {
	cfg := bigQueryConfig()
	export := zTable{Name: zExport + ".events_*", Columns: []zColumn{{Name: "_TABLE_SUFFIX", Type: "STRING"}}}
	for _, c := range ExportColumns {
		export.Columns = append(export.Columns, zColumn{Name: c.Name, Type: c.BigQuery})
	}
	var work []zTable
	for name, cols := range goTables {
		tb := zTable{Name: name}
		for _, c := range cols {
			typ := map[Kind]string{String: "STRING", Int: "INT64", Float: "FLOAT64"}[c.Kind]
			tb.Columns = append(tb.Columns, zColumn{Name: c.Name, Type: typ})
		}
		work = append(work, tb)
	}
	// The contract tables the loader appends the engine's rows to.
	for _, spec := range load.Tables {
		schema, err := bqload.TableSchema(spec.Schema)
		require.NoError(t, err)
		tb := zTable{Name: spec.Name}
		for _, f := range schema {
			tb.Columns = append(tb.Columns, zColumn{Name: f.Name, Type: string(f.Type)})
		}
		work = append(work, tb)
	}
	statements := bigQueryScript(t, cfg)
	// What the loader's AppendQuery runs, as INSERTs: the columns, in order, and their
	// types fit the contract tables.
	eng := New(nil, cfg, Options{})
	for _, name := range []string{load.FctTouchpoint, load.FctPageView, load.FctAttribution} {
		q, ok := eng.Tables()[name]
		require.True(t, ok, name)
		spec, _ := load.Lookup(name)
		var cols []string
		for _, f := range spec.Schema.Fields() {
			cols = append(cols, f.Name)
		}
		sel, _, _ := strings.Cut(strings.TrimPrefix(q, "SELECT "), " FROM ")
		require.Equal(t, strings.Join(cols, ", "), sel, "%s: the loader appends by position", name)
		statements = append(statements, zStatement{Name: "append " + name,
			SQL: fmt.Sprintf("INSERT INTO `%s`.%s (%s)\n%s", zDataset, name, strings.Join(cols, ", "), q)})
	}
	results := loadtest.ZetaSQL(t, filepath.Join("..", ".."), map[string]any{
		"catalog":    map[string]any{"name": zDataset, "tables": work},
		"rootTables": []zTable{export},
		"chain":      true,
	}, statements)
	for i, r := range results {
		assert.True(t, r.OK, "%s: %s\n%s", r.Name, r.Error, statements[i].SQL)
	}
}
