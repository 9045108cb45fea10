package bigquery

// The SQL the loader sends is checked with ZetaSQL (../shared/docs/TOOLING.md §1) through
// tools/zetasql/check.js: every view of sql/bigquery as ViewSQL writes it for a dataset,
// and the person remap's UPDATEs, analyzed with BigQuery's language settings against a
// catalog of the contract tables as Open creates them (TableSchema), so an unknown table
// or column, a type error or a syntax error fails here instead of in the nightly run.
//
// It needs node and `npm ci --prefix tools/zetasql`; without them it skips, unless
// CLOSEDLOOP_REQUIRE_ZETASQL=1 (CI), where it fails.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/loadtest"
	views "closedloop/sql"
)

// The catalog is a dataset named as the loader's SQL names it: `project.dataset`.
const zProject, zDataset = "my-proj", "closedloop"

type (
	zColumn    = loadtest.ZColumn
	zTable     = loadtest.ZTable
	zStatement = loadtest.ZStatement
	zResult    = loadtest.ZResult
)

// zetasql analyzes statements with check.js against tables (dataset zProject.zDataset).
func zetasql(t *testing.T, tables []zTable, statements []zStatement) map[string]zResult {
	t.Helper()
	results := loadtest.ZetaSQL(t, filepath.Join("..", ".."),
		map[string]any{"catalog": map[string]any{"name": zProject + "." + zDataset, "tables": tables}}, statements)
	got := map[string]zResult{}
	for _, r := range results {
		got[r.Name] = r
	}
	return got
}

// contractCatalog is every contract table with its BigQuery types, plus the scratch
// table of person aliases.
func contractCatalog(t *testing.T) []zTable {
	var out []zTable
	for _, spec := range load.Tables {
		schema, err := TableSchema(spec.Schema)
		require.NoError(t, err)
		tb := zTable{Name: spec.Name}
		for _, f := range schema {
			tb.Columns = append(tb.Columns, zColumn{Name: f.Name, Type: string(f.Type)})
		}
		out = append(out, tb)
	}
	return append(out, zTable{Name: "_closedloop_person_alias_run1",
		Columns: []zColumn{{Name: "alias_id", Type: "STRING"}, {Name: "person_id", Type: "STRING"}}})
}

func TestZetaSQL(t *testing.T) {
	vs, err := views.List("bigquery")
	require.NoError(t, err)
	duck, err := views.List("duckdb")
	require.NoError(t, err)
	var duckNames, bqNames []string
	for _, v := range duck {
		duckNames = append(duckNames, v.Name)
	}
	for _, v := range vs {
		bqNames = append(bqNames, v.Name)
	}
	assert.Equal(t, duckNames, bqNames, "every view of sql/duckdb has its twin in sql/bigquery")

	l := &Loader{cfg: Config{Project: zProject, Dataset: zDataset}}
	var statements []zStatement
	for _, v := range vs {
		require.Contains(t, v.SQL, "CREATE OR REPLACE VIEW ${dataset}."+v.Name+" AS", "sql/bigquery/%s.sql", v.Name)
		sql, err := ViewSQL(v.SQL, zProject, zDataset)
		require.NoError(t, err, v.Name)
		statements = append(statements, zStatement{Name: v.Name, SQL: sql})
	}
	var remapped []string
	for _, spec := range load.Tables {
		if spec.Mode == load.ReplaceRange && spec.Schema.FieldIndices("person_id") != nil {
			remapped = append(remapped, spec.Name)
			statements = append(statements, zStatement{Name: "remap " + spec.Name,
				SQL: RemapSQL(l.quoted(spec.Name), l.quoted("_closedloop_person_alias_run1"))})
		}
	}
	require.NotEmpty(t, remapped)

	// What BigQuery would reject, ZetaSQL must reject too.
	perf, err := ViewSQL(mustView(t, vs, "v_channel_performance").SQL, zProject, zDataset)
	require.NoError(t, err)
	negative := map[string]struct{ sql, error string }{
		"misspelled column": {strings.Replace(perf, "SUM(revenue_credit)", "SUM(revenue_credt)", 1),
			"Unrecognized name: revenue_credt"},
		"unknown table": {strings.Replace(perf, "`.fct_spend", "`.fct_spends", 1), "Table not found"},
		"type error":    {strings.Replace(perf, "SUM(cost)", "SUM(channel)", 1), "No matching signature for aggregate function SUM"},
		"DuckDB syntax": {strings.Replace(perf, "SUM(cost)", "SUM(cost::BIGINT)", 1), "Syntax error"},
		"GROUP BY ALL":  {strings.Replace(perf, "GROUP BY date, channel", "GROUP BY ALL", 1), "GROUP BY ALL is not supported"},
		"placeholder":   {mustView(t, vs, "v_channel_performance").SQL, "Syntax error"},
		"remap of a table without person_id": {RemapSQL(l.quoted(load.FctSpend), l.quoted("_closedloop_person_alias_run1")),
			"Name person_id not found inside t"},
	}
	for name, n := range negative {
		statements = append(statements, zStatement{Name: "negative: " + name, SQL: n.sql})
	}

	got := zetasql(t, contractCatalog(t), statements)
	for _, v := range vs {
		r := got[v.Name]
		if assert.True(t, r.OK, "sql/bigquery/%s.sql: %s", v.Name, r.Error) {
			assert.Equal(t, "resolvedCreateViewStmtNode", r.Kind, v.Name)
		}
	}
	for _, name := range remapped {
		r := got["remap "+name]
		if assert.True(t, r.OK, "remap %s: %s", name, r.Error) {
			assert.Equal(t, "resolvedUpdateStmtNode", r.Kind, name)
		}
	}
	for name, n := range negative {
		r := got["negative: "+name]
		assert.False(t, r.OK, "%s: ZetaSQL accepted it", name)
		assert.Contains(t, r.Error, n.error, name)
	}
	// The same columns (names, order, types) as the DuckDB and PostgreSQL views:
	// sql/columns.txt, which sql's TestViewColumns checks against both.
	want, err := os.ReadFile(filepath.Join("..", "..", "sql", "columns.txt"))
	require.NoError(t, err)
	var cols []string
	for _, v := range vs {
		for _, c := range got[v.Name].Columns {
			cols = append(cols, v.Name+" "+c.Name+" "+c.Type)
		}
	}
	assert.Equal(t, strings.Split(strings.TrimSpace(string(want)), "\n"), cols, "sql/bigquery views differ from sql/columns.txt")
}

func mustView(t *testing.T, vs []views.View, name string) views.View {
	t.Helper()
	for _, v := range vs {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no view %s", name)
	return views.View{}
}
