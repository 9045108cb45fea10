package dbt_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/dbt"
	views "closedloop/sql"
	"closedloop/transform/attribution"
)

// dialects are the warehouses with views; each describes its views with its own files.
var dialects = []string{"duckdb", "postgres", "bigquery"}

func sources(t *testing.T, o dbt.Options) dbtSource {
	t.Helper()
	b, err := dbt.Sources(o)
	require.NoError(t, err)
	f, err := readDBTFile(b)
	require.NoError(t, err, "sources.yml as dbt reads it:\n%s", b)
	require.Len(t, f.Sources, 1)
	return f.Sources[0]
}

// TestSourcesAsDBTReadsThem: sources.yml of every dialect decodes strictly into dbt's
// documented source properties, and holds every contract table and view with its
// columns in contract order, each with a description.
func TestSourcesAsDBTReadsThem(t *testing.T) {
	cols, err := views.Columns()
	require.NoError(t, err)
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := sources(t, dbt.Options{Database: "analytics", Schema: "marketing", Dialect: d})
			assert.Equal(t, "closedloop", s.Name)
			assert.Equal(t, "analytics", s.Database)
			assert.Equal(t, "marketing", s.Schema)
			assert.Equal(t, "closedloop", s.Meta["owner"])
			assert.Equal(t, "load/schema.go", s.Meta["contract"])

			var want []string
			for _, tb := range load.Tables {
				want = append(want, tb.Name)
			}
			list, err := views.List(d)
			require.NoError(t, err)
			for _, v := range list {
				want = append(want, v.Name)
			}
			var got []string
			for _, tb := range s.Tables {
				got = append(got, tb.Name)
			}
			require.Equal(t, want, got, "every contract table, then every view")

			for i, tb := range s.Tables {
				assert.NotEmpty(t, tb.Description, tb.Name)
				var names []string
				for _, c := range tb.Columns {
					names = append(names, c.Name)
					assert.NotEmpty(t, strings.TrimSpace(c.Description), "%s.%s has no description", tb.Name, c.Name)
				}
				if i < len(load.Tables) {
					var contract []string
					for _, f := range load.Tables[i].Schema.Fields() {
						contract = append(contract, f.Name)
					}
					assert.Equal(t, contract, names, tb.Name)
					assert.Equal(t, "table", tb.Meta["relation"], tb.Name)
					continue
				}
				var viewCols []string
				for _, c := range cols[tb.Name] {
					viewCols = append(viewCols, c.Name)
				}
				assert.Equal(t, viewCols, names, "%s: the columns of sql/columns.txt", tb.Name)
				assert.Equal(t, "view", tb.Meta["relation"], tb.Name)
				assert.Equal(t, "sql/"+d+"/"+tb.Name+".sql", tb.Meta["contract"], tb.Name)
			}
		})
	}
}

// TestViewDescriptionsComeFromTheViewFiles: a view's description is its file's header
// comment, and a column the header describes carries that text (not a copy kept here).
func TestViewDescriptionsComeFromTheViewFiles(t *testing.T) {
	s := sources(t, dbt.Options{Schema: "main"})
	tb := tableOf(t, s, "v_channel_performance")
	assert.True(t, strings.HasPrefix(tb.Description, "A row: one date basis x day x attribution model"), tb.Description)
	assert.True(t, strings.HasPrefix(columnOf(t, tb, "spend").Description, "spend is the channel's cost on that day"))
	day := columnOf(t, tb, "day").Description
	assert.Contains(t, day, "day", "a column's description is its header's (TestEveryViewColumnDescribed keeps every column described)")
	assert.NotContains(t, day, "See the comment on")
	// A _by_persona view's column that its own header leaves out takes its base view's.
	assert.Equal(t, columnOf(t, tableOf(t, s, "v_time_to_convert"), "p90_days").Description,
		columnOf(t, tableOf(t, s, "v_time_to_convert_by_persona"), "p90_days").Description)
	fct := tableOf(t, s, load.FctAttribution)
	assert.Equal(t, load.Tables[slices.IndexFunc(load.Tables, func(x load.Table) bool { return x.Name == load.FctAttribution })].Description, fct.Description)
}

// TestDataTestsAreTheContracts: not_null exactly on the contract's NOT NULL columns,
// unique on the single-column keys, accepted_values where the contract lists the values
// (each value named in the column's description; the models are attribution.Names()),
// and none on views, whose columns the contract does not constrain.
func TestDataTestsAreTheContracts(t *testing.T) {
	s := sources(t, dbt.Options{Schema: "main"})
	unique := map[string]string{}
	accepted := map[string][]string{}
	for i, tb := range s.Tables {
		if i >= len(load.Tables) {
			for _, c := range tb.Columns {
				assert.Empty(t, c.DataTests, "%s.%s", tb.Name, c.Name)
			}
			continue
		}
		for j, f := range load.Tables[i].Schema.Fields() {
			c := tb.Columns[j]
			var names []string
			for _, dt := range c.DataTests {
				names = append(names, dt.Name)
				switch dt.Name {
				case "unique":
					unique[tb.Name] = c.Name
				case "accepted_values":
					accepted[tb.Name+"."+c.Name] = dt.Values
					if c.Name != "model" {
						for _, v := range dt.Values {
							assert.Contains(t, load.Description(f), v, "%s.%s: a value its description does not name", tb.Name, c.Name)
						}
					}
				}
			}
			assert.Equal(t, !f.Nullable, slices.Contains(names, "not_null"), "%s.%s not_null", tb.Name, c.Name)
		}
	}
	assert.Equal(t, map[string]string{load.DimPerson: "person_id", load.DimAccount: "account_id", load.FctTouchpoint: "touchpoint_id",
		load.FctConversion: "conversion_id", load.RunLog: "run_id"}, unique)
	assert.Equal(t, attribution.Names(), accepted["fct_attribution.model"])
	assert.Equal(t, []string{"success", "failed"}, accepted["run_log.status"])
	assert.NotContains(t, accepted, "fct_conversion.conversion_type", "the contract allows any event name")
	assert.Equal(t, []string{"person", "deal", "account"}, accepted["fct_attribution.scope"])
	assert.Equal(t, []string{"person", "deal", "account"}, accepted["fct_markov_removal_effect.scope"])
	assert.Len(t, accepted, 8)
}

// TestFreshnessOnRunLog: dbt source freshness reads run_log.finished_at, warns after 26
// hours and fails after 50; no other table claims a load time.
func TestFreshnessOnRunLog(t *testing.T) {
	s := sources(t, dbt.Options{Schema: "main"})
	assert.Nil(t, s.Freshness, "a source-wide freshness would apply to every table")
	for _, tb := range s.Tables {
		if tb.Name != load.RunLog {
			assert.Nil(t, tb.Freshness, tb.Name)
			assert.Empty(t, tb.LoadedAtField, tb.Name)
			continue
		}
		assert.Equal(t, "finished_at", tb.LoadedAtField)
		require.NotNil(t, tb.Freshness)
		assert.Equal(t, 26, *tb.Freshness.WarnAfter.Count)
		assert.Equal(t, "hour", tb.Freshness.WarnAfter.Period)
		assert.Equal(t, 50, *tb.Freshness.ErrorAfter.Count)
		assert.Equal(t, "hour", tb.Freshness.ErrorAfter.Period)
	}
}

var sourceRef = regexp.MustCompile(`^source\('([a-z_][a-z0-9_]*)', '([a-z_][a-z0-9_]*)'\)$`)

// TestExposuresResolve: exposures.yml decodes strictly into dbt's exposure properties,
// owners are marked to edit, and every depends_on is a source() of a table in
// sources.yml, under the source name given.
func TestExposuresResolve(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			o := dbt.Options{SourceName: "cl_raw", Schema: "main", Dialect: d}
			s := sources(t, o)
			listed := map[string]bool{}
			for _, tb := range s.Tables {
				listed[tb.Name] = true
			}
			b, err := dbt.Exposures(o)
			require.NoError(t, err)
			f, err := readDBTFile(b)
			require.NoError(t, err, "exposures.yml as dbt reads it:\n%s", b)
			var names []string
			for _, e := range f.Exposures {
				names = append(names, e.Name)
				assert.Equal(t, "dashboard", e.Type)
				assert.Contains(t, e.Owner.Name, "EDIT ME", "%s: the placeholder owner is marked", e.Name)
				assert.NotEmpty(t, e.Description)
				for _, ref := range e.DependsOn {
					m := sourceRef.FindStringSubmatch(ref)
					require.NotNil(t, m, "%s: %s is not source('NAME', 'TABLE')", e.Name, ref)
					assert.Equal(t, "cl_raw", m[1], ref)
					assert.True(t, listed[m[2]], "%s: %s is not in sources.yml", e.Name, ref)
				}
			}
			assert.Equal(t, []string{"closedloop_report", "closedloop_looker", "closedloop_metabase"}, names)
			assert.Len(t, f.Exposures[1].DependsOn, len(s.Tables), "Looker's LookML has a view of every table and view")
		})
	}
}

// TestReportRelations: the report exposure depends on exactly the tables and views the
// report's SQL (sql/report) reads.
func TestReportRelations(t *testing.T) {
	known := map[string]bool{}
	for _, tb := range load.Tables {
		known[tb.Name] = true
	}
	list, err := views.List("duckdb")
	require.NoError(t, err)
	for _, v := range list {
		known[v.Name] = true
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "sql", "report", "*.go"))
	require.NoError(t, err)
	read := map[string]bool{}
	rel := regexp.MustCompile(`(?i)\b(?:from|join)\s+([a-z_][a-z0-9_]*)`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range rel.FindAllStringSubmatch(string(b), -1) {
			if known[m[1]] {
				read[m[1]] = true
			}
		}
	}
	require.NotEmpty(t, read)
	var want []string
	for n := range read {
		want = append(want, n)
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(dbt.ReportRelations))
	assert.Equal(t, want, got, "sql/report's FROM and JOIN against dbt.ReportRelations")

	b, err := dbt.Exposures(dbt.Options{})
	require.NoError(t, err)
	f, err := readDBTFile(b)
	require.NoError(t, err)
	var deps []string
	for _, ref := range f.Exposures[0].DependsOn {
		deps = append(deps, sourceRef.FindStringSubmatch(ref)[2])
	}
	assert.Equal(t, dbt.ReportRelations, deps)
}

// TestDeterministic: the same options give the same bytes, run after run.
func TestDeterministic(t *testing.T) {
	for _, d := range dialects {
		o := dbt.Options{Database: "p", Schema: "s", Dialect: d}
		a, err := dbt.Files(o)
		require.NoError(t, err)
		for range 3 {
			b, err := dbt.Files(o)
			require.NoError(t, err)
			for _, n := range dbt.FileNames {
				assert.Equal(t, string(a[n]), string(b[n]), "%s %s", d, n)
			}
		}
	}
}

// TestUnknownDialect: a dialect without views is an error naming the ones there are.
func TestUnknownDialect(t *testing.T) {
	_, err := dbt.Sources(dbt.Options{Dialect: "snowflake"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "want duckdb, postgres or bigquery")
}

func tableOf(t *testing.T, s dbtSource, name string) dbtTable {
	t.Helper()
	i := slices.IndexFunc(s.Tables, func(x dbtTable) bool { return x.Name == name })
	require.GreaterOrEqual(t, i, 0, name)
	return s.Tables[i]
}

func columnOf(t *testing.T, tb dbtTable, name string) dbtColumn {
	t.Helper()
	i := slices.IndexFunc(tb.Columns, func(x dbtColumn) bool { return x.Name == name })
	require.GreaterOrEqual(t, i, 0, fmt.Sprintf("%s.%s", tb.Name, name))
	return tb.Columns[i]
}

// TestReaderRefusesWhatDBTWould: the check above is only as good as its refusals.
func TestReaderRefusesWhatDBTWould(t *testing.T) {
	for _, c := range []struct{ name, yaml, want string }{
		{"unknown key", "version: 2\nsources:\n  - name: a\n    tablez: []\n", "field tablez not found"},
		{"YAML 1.1 boolean", "version: 2\nsources:\n  - name: a\n    description: yes\n", "boolean in YAML 1.1"},
		{"null description", "version: 2\nsources:\n  - name: a\n    description: ~\n", "where dbt wants text"},
		{"unknown test", "version: 2\nsources:\n  - name: a\n    tables:\n      - name: t\n        columns:\n          - name: c\n            data_tests: [not_nul]\n", "not_nul"},
		{"freshness period", "version: 2\nsources:\n  - name: a\n    tables:\n      - name: t\n        freshness: {warn_after: {count: 1, period: week}}\n", "period of minute, hour or day"},
		{"exposure type", "version: 2\nexposures:\n  - name: a\n    type: report\n    owner: {name: x}\n    depends_on: [x]\n", `type "report"`},
		{"exposure owner", "version: 2\nexposures:\n  - name: a\n    type: dashboard\n    owner: {nam: x}\n    depends_on: [x]\n", "field nam not found"},
		{"exposure name", "version: 2\nexposures:\n  - name: a b\n    type: dashboard\n    owner: {name: x}\n    depends_on: [x]\n", "letters, digits and underscores"},
		{"version", "version: 1\nsources: []\n", "want 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := readDBTFile([]byte(c.yaml))
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}
