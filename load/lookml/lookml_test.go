package lookml

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	views "closedloop/sql"
)

func TestColumnComments(t *testing.T) {
	cols := []string{"people", "spend", "cac", "roas", "roi", "won", "lost", "revenue", "date_basis", "campaign",
		"activity", "leads", "customers", "conversions", "non_conversions", "entries", "deals_entered", "channel"}
	for _, tc := range []struct {
		name, sql string
		want      map[string]string
	}{
		{"list entries, continued on deeper lines",
			"-- A row: one stage.\n--   people     people who reached\n--              the stage\n--   deals_entered  distinct deals; entries counts the stays\n-- Prose.\nSELECT 1",
			map[string]string{"people": "people who reached the stage", "deals_entered": "distinct deals; entries counts the stays",
				"entries": "entries counts the stays"}},
		{"a continuation line that starts with a column name",
			"--   revenue   SUM of the\n--             revenue of their conversions\n",
			map[string]string{"revenue": "SUM of the revenue of their conversions"}},
		{"several columns on one entry",
			"--   won, lost    deals now won / lost\n--   leads, customers\n--                credit\n",
			map[string]string{"won": "won, lost: deals now won / lost", "lost": "won, lost: deals now won / lost",
				"leads": "leads, customers: credit", "customers": "leads, customers: credit"}},
		{"prose: sentences and clauses",
			"-- spend is the cost (fct_spend), the same on every row: never sum it. cac = spend / customers (the\n" +
				"-- same, e.g. here). leads = credit of leads, customers = credit of customers, and roas = revenue / spend.\n",
			map[string]string{"spend": "spend is the cost (fct_spend), the same on every row: never sum it.",
				"cac": "cac = spend / customers (the same, e.g. here).", "leads": "leads = credit of leads",
				"customers": "customers = credit of customers", "roas": "roas = revenue / spend."}},
		{"prose forms at a sentence start only; parentheses hide clauses",
			"-- Rows. date_basis 'conversion_date' counts credits (a touch, channel '(none)', has none). campaign NULL is its own.\n" +
				"-- Of a touch, channel 'x' is not a description here.\n",
			map[string]string{"date_basis": "date_basis 'conversion_date' counts credits (a touch, channel '(none)', has none).",
				"campaign": "campaign NULL is its own."}},
		{"a clause after ; takes its sentence when it is the first to describe a column",
			"-- A selling activity is a touch on 'Sales: ' channels; activity is that channel. roas = x; roi = y does not.\n",
			map[string]string{"activity": "A selling activity is a touch on 'Sales: ' channels; activity is that channel.",
				"roas": "roas = x", "roi": "roi = y does not."}},
		{"conversions counts, non_conversions counts",
			"-- conversions counts conversions (twice), non_conversions counts people; the rate. Next.\n",
			map[string]string{"conversions": "conversions counts conversions (twice)", "non_conversions": "non_conversions counts people; the rate."}},
		{"only the leading comment; unknown names are not columns",
			"--   'all'    segment 'all': everybody;\n--   visitors   not a column here\nCREATE VIEW v AS\n-- people is not read\nSELECT 1",
			map[string]string{}},
		{"a bare -- ends a paragraph",
			"-- spend is the cost\n--\n-- of the day.\n",
			map[string]string{"spend": "spend is the cost"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, ColumnComments(tc.sql, cols))
		})
	}
}

// The view files' comments, as ColumnComments reads them.
func TestColumnCommentsOfTheViews(t *testing.T) {
	list, err := views.List("duckdb")
	require.NoError(t, err)
	sql := map[string]string{}
	for _, v := range list {
		sql[v.Name] = v.SQL
	}
	b, err := os.ReadFile(filepath.Join("..", "..", "sql", "columns.txt")) // VIEW COLUMN TYPE lines
	require.NoError(t, err)
	columns := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		require.Len(t, f, 3, l)
		columns[f[0]] = append(columns[f[0]], f[1])
	}
	for _, tc := range []struct{ view, column, want string }{
		{"v_funnel", "people", "people who reached the stage"},
		{"v_funnel", "median_days_from_previous", "exact (interpolated) median, over the people who reached both this stage and the previous one, of the fractional days"},
		{"v_dropoff_pages", "exit_share", "stopped_with_page / stopped_people"},
		{"v_pipeline_stages", "win_rate", "win_rate = won / deals_entered"},
		{"v_channel_performance", "spend", "spend is the channel's cost on that day (fct_spend)"},
		{"v_channel_performance", "cac", "cac = spend / customers credited to the channel that day"},
		{"v_keyword_revenue", "roas", "roas = revenue / spend (NULL without spend)."},
		{"v_lead_quality", "revenue", "SUM of credit x the person's revenue, which is the SUM of the revenue of their 'customer' conversions"},
		{"v_time_to_convert", "p90_days", "p25_days, median_days, p75_days, p90_days: exact, interpolated percentiles"},
	} {
		require.Contains(t, sql, tc.view)
		got := ColumnComments(sql[tc.view], columns[tc.view])
		assert.True(t, strings.HasPrefix(got[tc.column], tc.want), "%s.%s: %q", tc.view, tc.column, got[tc.column])
	}
}

// TestEveryViewColumnDescribed: in every dialect, every column of every view (those of
// sql/columns.txt) has a description from its view file's header comment, as the DuckDB
// and PostgreSQL column comments, the LookML fields and dbt's sources.yml take it (a
// _by_persona view's column its own header leaves out from its base view's), never only
// SeeViewComment's pointer; and the dialects' headers describe each column alike.
func TestEveryViewColumnDescribed(t *testing.T) {
	cols, err := views.Columns()
	require.NoError(t, err)
	names := map[string][]string{}
	for v, cs := range cols {
		for _, c := range cs {
			names[v] = append(names[v], c.Name)
		}
	}
	dialects := views.Dialects()
	require.NotEmpty(t, dialects)
	var first map[string]map[string]string
	for _, d := range dialects {
		list, err := views.List(d)
		require.NoError(t, err)
		sqls := map[string]string{}
		for _, v := range list {
			require.Contains(t, names, v.Name, "sql/%s/%s.sql: a view missing from sql/columns.txt", d, v.Name)
			sqls[v.Name] = v.SQL
		}
		require.Len(t, sqls, len(names), "%s: the views of sql/columns.txt", d)
		described := ViewColumnComments(sqls, names)
		var missing, unlike []string
		for v, sql := range sqls {
			for _, c := range names[v] {
				if strings.TrimSpace(described[v][c]) == "" {
					missing = append(missing, v+"."+c)
				} else if first != nil && described[v][c] != first[v][c] {
					unlike = append(unlike, v+"."+c)
				}
			}
			assert.NotEmpty(t, ViewDescription(sql), "sql/%s/%s.sql: no header comment", d, v)
		}
		sort.Strings(missing)
		sort.Strings(unlike)
		assert.Empty(t, missing, "sql/%s: columns whose view header does not describe them, so they get only %q: "+
			"give each a list entry (\"--   column  what it holds\") in the header of every dialect", d, SeeViewComment("<view>"))
		assert.Empty(t, unlike, "sql/%s describes these view columns unlike sql/%s", d, dialects[0])
		if first == nil {
			first = described
		}
	}
}

// channelPerformance is v_channel_performance as cmd/closedloop describes it.
func channelPerformance(name string) Relation {
	r := Relation{Name: name}
	if strings.HasSuffix(name, "_by_persona") {
		r.Columns = append(r.Columns, Column{Name: "persona", Type: "string"})
	}
	for _, c := range []string{"date_basis:string", "day:date", "model:string", "conversion_type:string", "channel:string",
		"conversions:number", "revenue:number", "spend:number", "cpa:number", "cac:number", "roas:number", "roi:number"} {
		n, typ, _ := strings.Cut(c, ":")
		r.Columns = append(r.Columns, Column{Name: n, Type: typ, Description: "the " + n + ` "column"`})
	}
	return r
}

var declRE = regexp.MustCompile(`(?m)^  (dimension|dimension_group|measure|filter|parameter): (\w+) \{\n(?:    type: time\n    timeframes: \[([^\]]*)\])?`)

// TestWriteUniqueFieldNames: every view's fields (dimension groups by timeframe) have
// distinct names, the per-row roas column stays a dimension and the ratio of the
// selected rows is total_roas, over a spend summed once per day and channel.
func TestWriteUniqueFieldNames(t *testing.T) {
	dir := t.TempDir()
	rels := append(Tables(), channelPerformance("v_channel_performance"), channelPerformance("v_channel_performance_by_persona"))
	require.NoError(t, Write(dir, rels, Options{}))
	for _, r := range rels {
		b, err := os.ReadFile(filepath.Join(dir, r.Name+".view.lkml"))
		require.NoError(t, err)
		seen := map[string]bool{}
		for _, m := range declRE.FindAllStringSubmatch(string(b), -1) {
			names := []string{m[2]}
			if m[1] == "dimension_group" {
				require.NotEmpty(t, m[3], "%s.%s has timeframes", r.Name, m[2])
				names = nil
				for _, tf := range strings.Split(m[3], ", ") {
					names = append(names, m[2]+"_"+tf)
				}
			}
			for _, n := range names {
				assert.False(t, seen[n], "%s: %s declared twice", r.Name, n)
				seen[n] = true
			}
		}
		assert.True(t, seen["count"], r.Name)
	}
	for _, name := range []string{"v_channel_performance", "v_channel_performance_by_persona"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".view.lkml"))
		require.NoError(t, err)
		v := string(b)
		assert.Contains(t, v, "  dimension: roas {\n    type: number\n    description: \"the roas \\\"column\\\"\"\n    sql: ${TABLE}.roas ;;")
		assert.NotContains(t, v, "measure: roas {")
		assert.Contains(t, v, "  measure: total_roas {\n    label: \"Total ROAS\"\n")
		assert.Contains(t, v, "sql: 1.0 * ${total_revenue} / NULLIF(${total_spend}, 0) ;;")
		assert.Contains(t, v, "  measure: total_spend {\n")
		assert.Contains(t, v, "    type: sum_distinct\n    sql_distinct_key: CONCAT(COALESCE('=' || CAST(${TABLE}.day AS {% if _dialect._name == 'bigquery_standard_sql' %}STRING{% else %}TEXT{% endif %}), ''), '|', COALESCE('=' || ${TABLE}.channel, '')) ;;\n    sql: ${TABLE}.spend ;;")
		assert.Contains(t, v, "  set: detail {\n    fields: [")
		assert.Contains(t, v, "  measure: count {\n    type: count\n    drill_fields: [detail*]\n  }")
	}
	model, err := os.ReadFile(filepath.Join(dir, "closedloop.model.lkml"))
	require.NoError(t, err)
	assert.Contains(t, string(model), "datagroup: closedloop_run {")
	assert.Contains(t, string(model), "sql_trigger: SELECT MAX(finished_at) FROM @{closedloop_schema}.run_log ;;")
	assert.Contains(t, string(model), "\npersist_with: closedloop_run\n")
	assert.NotContains(t, string(model), "join: fct_spend", "spend joined to conversions drops and repeats it")
}

// A SQL view with a spend column needs the grain its spend is per: summed row by row,
// spend would count once per model, conversion type and date basis.
func TestWriteSpendNeedsItsGrain(t *testing.T) {
	err := Write(t.TempDir(), []Relation{{Name: "v_new_spend_view", Columns: []Column{
		{Name: "channel", Type: "string"}, {Name: "spend", Type: "number"}}}}, Options{})
	require.ErrorContains(t, err, "v_new_spend_view has a spend column but no grain")
}

func TestQuote(t *testing.T) {
	assert.Equal(t, `"a \"b\" c\\d e"`, quote("a \"b\" c\\d\ne"))
}

// TestViewDescription: a view's description is its file's header comment on one line.
func TestViewDescription(t *testing.T) {
	assert.Equal(t, "A row: one day. Answers: what. Notes.",
		ViewDescription("-- A row: one day.\n-- Answers: what.\n--\n--   Notes.\nCREATE VIEW v AS SELECT 1 -- not this\n-- nor this"))
	assert.Empty(t, ViewDescription("CREATE VIEW v AS SELECT 1"))
}
