package main

// Spend, ROAS and ROI in Looker come from the SQL views' explores, and these tests hold
// them to the views' numbers: they build, from the generated LookML itself as the LookML
// parser reads it, the SQL a Looker user's query runs (sql_table_name with the manifest's
// constant, ${TABLE} and ${field} substituted, each measure type aggregated as Looker
// does, the explore's always_filter in the WHERE clause), run it on the demo warehouse,
// and compare it with the views' own columns and with fct_spend.

import (
	"database/sql"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
)

// lookerQuery is what a user picks in an explore.
type lookerQuery struct {
	explore  string
	dims     []string          // dimensions, or a dimension group's timeframe (day_date)
	measures []string          // measures
	filters  map[string]string // VIEW.FIELD -> value over the explore's always_filter; "" drops it
}

var (
	liquidIf     = regexp.MustCompile(`\{% if _dialect\._name == '(\w+)' %\}(.*?)\{% else %\}(.*?)\{% endif %\}`)
	plainFilter  = regexp.MustCompile(`^[A-Za-z0-9_ ]+$`)
	aggregations = map[string]string{
		"count":          "COUNT(*)",
		"count_distinct": "COUNT(DISTINCT %s)",
		"sum":            "COALESCE(SUM(%s), 0)",
		// The sum of sql over the distinct values of sql_distinct_key: what Looker's
		// symmetric aggregates compute, here with DuckDB's lists.
		"sum_distinct": "COALESCE(list_sum(list_transform(list_distinct(list(struct_pack(k := %[2]s, v := %[1]s))), x -> x.v)), 0)",
	}
)

// lookerSQL renders q as Looker renders an explore query on one view, for DuckDB: the
// SELECT of the dimensions and measures, FROM sql_table_name AS the explore, WHERE the
// filters, GROUP BY the dimensions. Columns are d0.., m0.. in q's order.
func lookerSQL(t *testing.T, p *lkProject, q lookerQuery) string {
	t.Helper()
	require.Len(t, p.Models, 1)
	var e *lkExplore
	for i := range p.Models[0].Explores {
		if p.Models[0].Explores[i].Name == q.explore {
			e = &p.Models[0].Explores[i]
		}
	}
	require.NotNil(t, e, "no explore %s", q.explore)
	require.Empty(t, e.Joins, "explore %s: this renders explores of one view", q.explore)
	base := e.Name
	if e.From != "" {
		base = e.From
	}
	v := p.view(base)
	require.NotNil(t, v, base)

	var expand func(s string, depth int) string
	dimension := func(name string, depth int) string {
		if f := v.field(name); f != nil && f.Kind == "dimension" {
			return "(" + expand(f.SQL, depth+1) + ")"
		}
		for _, f := range v.Fields {
			tf, ok := strings.CutPrefix(name, f.Name+"_")
			if f.Kind != "dimension_group" || !ok || !slices.Contains(f.Timeframes, tf) {
				continue
			}
			switch tf {
			case "raw":
				return "(" + expand(f.SQL, depth+1) + ")"
			case "date":
				return "CAST(" + expand(f.SQL, depth+1) + " AS DATE)"
			}
			t.Fatalf("%s.%s: timeframe %s is not rendered here", v.Name, f.Name, tf)
		}
		t.Fatalf("%s has no dimension %s", v.Name, name)
		return ""
	}
	measure := func(name string, depth int) string {
		f := v.field(name)
		require.True(t, f != nil && f.Kind == "measure", "%s has no measure %s", v.Name, name)
		if f.Type == "number" {
			return "(" + expand(f.SQL, depth+1) + ")"
		}
		agg, ok := aggregations[f.Type]
		require.True(t, ok, "%s.%s: measure type %s is not rendered here", v.Name, name, f.Type)
		if f.Type == "sum_distinct" {
			require.NotEmpty(t, f.SQLDistinctKey, "%s.%s", v.Name, name)
			return fmt.Sprintf(agg, expand(f.SQL, depth+1), expand(f.SQLDistinctKey, depth+1))
		}
		if strings.Contains(agg, "%s") {
			return fmt.Sprintf(agg, expand(f.SQL, depth+1))
		}
		return agg
	}
	expand = func(s string, depth int) string {
		require.Less(t, depth, 10, "%s: circular references", v.Name)
		for c, val := range p.Manifest.Constants {
			s = strings.ReplaceAll(s, "@{"+c+"}", val)
		}
		s = liquidIf.ReplaceAllStringFunc(s, func(m string) string {
			g := liquidIf.FindStringSubmatch(m)
			if g[1] == "duckdb" {
				return g[2]
			}
			return g[3]
		})
		require.NotContains(t, s, "{%", "%s: Liquid not rendered here", v.Name)
		return refRE.ReplaceAllStringFunc(s, func(m string) string {
			ref := refRE.FindStringSubmatch(m)[1]
			if ref == "TABLE" {
				return q.explore
			}
			ref = strings.TrimPrefix(ref, v.Name+".")
			if f := v.field(ref); f != nil && f.Kind == "measure" {
				return measure(ref, depth)
			}
			return dimension(ref, depth)
		})
	}

	var sel, group []string
	for i, d := range q.dims {
		sel = append(sel, fmt.Sprintf("%s AS d%d", dimension(d, 0), i))
		group = append(group, fmt.Sprint(i+1))
	}
	for i, m := range q.measures {
		sel = append(sel, fmt.Sprintf("%s AS m%d", measure(m, 0), i))
	}
	filters := map[string]string{}
	for f, val := range e.AlwaysFilter {
		filters[f] = val
	}
	for f, val := range q.filters {
		filters[f] = val
	}
	var where []string
	for f, val := range filters {
		if val == "" {
			continue
		}
		// A plain value is an exact match; Looker's filter expressions (%, commas,
		// NULL, -) are not rendered here.
		require.Regexp(t, plainFilter, val, "filter %s", f)
		require.NotContains(t, []string{"NULL", "EMPTY"}, val)
		name, ok := strings.CutPrefix(f, v.Name+".")
		require.True(t, ok, "filter %s is not on %s", f, v.Name)
		where = append(where, fmt.Sprintf("%s = '%s'", dimension(name, 0), val))
	}
	slices.Sort(where)
	out := "SELECT " + strings.Join(sel, ", ") + "\nFROM " + expand(v.SQLTableName, 0) + " AS " + q.explore
	if len(where) > 0 {
		out += "\nWHERE " + strings.Join(where, " AND ")
	}
	if len(group) > 0 {
		out += "\nGROUP BY " + strings.Join(group, ", ") + "\nORDER BY " + strings.Join(group, ", ")
	}
	return out
}

// rows runs q and returns its rows by the text of their first n columns.
func rows(t *testing.T, db *sql.DB, q string, n int) map[string][]any {
	t.Helper()
	r, err := db.Query(q)
	require.NoError(t, err, q)
	defer r.Close()
	cols, err := r.Columns()
	require.NoError(t, err)
	out := map[string][]any{}
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		require.NoError(t, r.Scan(ptrs...))
		key := fmt.Sprint(vals[:n]...)
		require.NotContains(t, out, key, "%s: two rows for %s", q, key)
		out[key] = vals[n:]
	}
	require.NoError(t, r.Err())
	return out
}

// number is a numeric value of a row as a float64; ok is false for NULL.
func number(t *testing.T, v any) (float64, bool) {
	t.Helper()
	switch x := v.(type) {
	case nil:
		return 0, false
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case fmt.Stringer: // HUGEINT and DECIMAL come back as *big.Int, Decimal
		var f float64
		_, err := fmt.Sscan(x.String(), &f)
		require.NoError(t, err, "%T %v", v, v)
		return f, true
	}
	t.Fatalf("not a number: %T %v", v, v)
	return 0, false
}

// near says whether a and b agree to 1e-9, relative to their size.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func TestLookMLROAS(t *testing.T) {
	p := parseLookML(t, generateLookML(t, "main")) // skips before the demo runs when there is no parser
	wh, _ := sharedDemo(t)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()

	// A user's ROAS by channel on the v_channel_performance explore, with the filters it
	// starts with (model linear, scope person, conversion type customer, date basis conversion_date),
	// is the view's: revenue and spend summed over its rows, then divided.
	q := lookerSQL(t, p, lookerQuery{explore: "v_channel_performance", dims: []string{"channel"},
		measures: []string{"total_revenue", "total_spend", "total_roas"}})
	got := rows(t, db, q, 1)
	want := rows(t, db, `SELECT channel, SUM(revenue), SUM(spend), SUM(revenue) / NULLIF(SUM(spend), 0)
		FROM v_channel_performance WHERE model = 'linear' AND scope = 'person' AND conversion_type = 'customer' AND date_basis = 'conversion_date'
		GROUP BY channel`, 1)
	require.Equal(t, len(want), len(got), q)
	paid := 0
	for ch, w := range want {
		g := got[ch]
		require.NotNil(t, g, "%s: no row for %s", q, ch)
		for i, name := range []string{"revenue", "spend", "roas"} {
			wv, wok := number(t, w[i])
			gv, gok := number(t, g[i])
			if !wok { // no spend: the view's sum and ratio are NULL, Looker's sum is 0
				assert.True(t, !gok || gv == 0, "%s %s: %v, want NULL", ch, name, g[i])
				continue
			}
			assert.True(t, gok && near(gv, wv), "%s %s: Looker %v, the view %v", ch, name, g[i], w[i])
		}
		if r, ok := number(t, w[2]); ok {
			paid++
			t.Logf("ROAS of %s: %.4f in Looker, %.4f in v_channel_performance", ch, must(number(t, g[2])), r)
		}
	}
	assert.Positive(t, paid, "the sample has channels with spend")

	// At the view's own grain (a day and channel under those filters) the measure is
	// the row's roas column.
	q = lookerSQL(t, p, lookerQuery{explore: "v_channel_performance", dims: []string{"day_date", "channel"},
		measures: []string{"total_roas", "count"}})
	got = rows(t, db, q, 2)
	want = rows(t, db, `SELECT day, channel, roas FROM v_channel_performance
		WHERE model = 'linear' AND scope = 'person' AND conversion_type = 'customer' AND date_basis = 'conversion_date'`, 2)
	require.Equal(t, len(want), len(got))
	for k, w := range want {
		require.Contains(t, got, k)
		assert.Equal(t, int64(1), got[k][1], "%s: one row", k)
		wv, wok := number(t, w[0])
		gv, gok := number(t, got[k][0])
		assert.Equal(t, wok, gok, "%s: roas %v, Looker %v", k, w[0], got[k][0])
		assert.True(t, !wok || near(gv, wv), "%s: roas %v, Looker %v", k, w[0], got[k][0])
	}

	// Spend cannot drop or fan out: whatever the filters (even none but the model, so
	// every conversion type and both date bases), each channel's and each campaign's
	// spend is fct_spend's.
	spendOf := func(group string) map[string][]any {
		return rows(t, db, "SELECT "+group+", SUM(cost) FROM fct_spend GROUP BY "+group, strings.Count(group, ",")+1)
	}
	for _, tc := range []struct {
		explore string
		dims    []string
		filters map[string]string
		spend   map[string][]any
	}{
		{"v_channel_performance", []string{"channel"}, nil, spendOf("channel")},
		{"v_channel_performance", []string{"channel"}, map[string]string{
			"v_channel_performance.conversion_type": "", "v_channel_performance.date_basis": ""}, spendOf("channel")},
		{"v_channel_performance_by_persona", []string{"channel"}, nil, spendOf("channel")},
		{"v_campaign_roi", []string{"channel", "campaign"}, nil, spendOf("channel, campaign")},
		{"v_campaign_roi", []string{"channel", "campaign"}, map[string]string{
			"v_campaign_roi.conversion_type": "", "v_campaign_roi.date_basis": ""}, spendOf("channel, campaign")},
		{"v_campaign_roi_by_persona", []string{"channel", "campaign"}, nil, spendOf("channel, campaign")},
	} {
		q := lookerSQL(t, p, lookerQuery{explore: tc.explore, dims: tc.dims, measures: []string{"total_spend"}, filters: tc.filters})
		got := rows(t, db, q, len(tc.dims))
		require.NotEmpty(t, tc.spend)
		for k, w := range tc.spend {
			require.Contains(t, got, k, "%s: spend of %s", tc.explore, k)
			assert.True(t, near(must(number(t, got[k][0])), must(number(t, w[0]))), "%s %v: spend %v, fct_spend %v", tc.explore, tc.filters, got[k][0], w[0])
		}
		for k, g := range got {
			if _, ok := tc.spend[k]; !ok {
				assert.Zero(t, must(number(t, g[0])), "%s: %s has no spend in fct_spend", tc.explore, k)
			}
		}
	}
}

// TestLookMLMeasuresAtRowGrain: on every SQL view's explore, grouped by the view's
// string and date columns (a row of it, under the explore's filters), every measure
// total_<column> is the row's column: sums, distinct sums and ratios alike.
func TestLookMLMeasuresAtRowGrain(t *testing.T) {
	p := parseLookML(t, generateLookML(t, "main")) // skips before the demo runs when there is no parser
	wh, _ := sharedDemo(t)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	_, list := contractRelations(t)
	checked := map[string][]string{}
	for _, sv := range list {
		v := p.view(sv.Name)
		require.NotNil(t, v, sv.Name)
		var dims, keys, cols, measures []string
		for _, f := range v.Fields {
			switch {
			case f.Kind == "dimension" && f.Type == "string":
				dims, keys = append(dims, f.Name), append(keys, f.Name)
			case f.Kind == "dimension_group":
				dims, keys = append(dims, f.Name+"_date"), append(keys, f.Name)
			}
		}
		for _, f := range v.Fields {
			if c, ok := strings.CutPrefix(f.Name, "total_"); ok && f.Kind == "measure" && v.field(c) != nil {
				cols, measures = append(cols, c), append(measures, f.Name)
			}
		}
		if len(measures) == 0 {
			continue
		}
		checked[sv.Name] = measures
		q := lookerSQL(t, p, lookerQuery{explore: sv.Name, dims: dims, measures: append(measures, "count")})
		got := rows(t, db, q, len(dims))
		var where []string
		for f, val := range p.exploreFilters(sv.Name) {
			where = append(where, fmt.Sprintf("%s = '%s'", strings.TrimPrefix(f, sv.Name+"."), val))
		}
		wq := "SELECT " + strings.Join(append(keys, cols...), ", ") + " FROM " + sv.Name
		if len(where) > 0 {
			wq += " WHERE " + strings.Join(where, " AND ")
		}
		want := rows(t, db, wq, len(keys))
		require.Equal(t, len(want), len(got), "%s: rows", sv.Name)
		if sv.Name == "v_channel_performance" || sv.Name == "v_funnel" || sv.Name == "v_dropoff_pages" || sv.Name == "v_pipeline_stages" {
			require.NotEmpty(t, want, "%s has rows on the sample", sv.Name)
		}
		for k, w := range want {
			g := got[k]
			require.NotNil(t, g, "%s: no Looker row for %s", sv.Name, k)
			assert.Equal(t, int64(1), g[len(measures)], "%s %s: one row of the view", sv.Name, k)
			for i, c := range cols {
				wv, wok := number(t, w[i])
				gv, gok := number(t, g[i])
				if !wok { // NULL in the view: Looker's sums say 0
					assert.True(t, !gok || gv == 0, "%s %s: %s NULL, Looker's %s %v", sv.Name, k, c, measures[i], g[i])
					continue
				}
				assert.True(t, gok && near(gv, wv), "%s %s: %s %v, Looker's %s %v", sv.Name, k, c, w[i], measures[i], g[i])
			}
		}
	}
	for _, name := range []string{"v_channel_performance", "v_channel_performance_by_persona", "v_campaign_roi",
		"v_campaign_roi_by_persona", "v_keyword_revenue", "v_keyword_revenue_by_persona"} {
		assert.Contains(t, checked[name], "total_roas", name)
	}
	assert.Contains(t, checked["v_funnel"], "total_rate_from_previous")
	assert.Contains(t, checked["v_dropoff_pages"], "total_lift")
	assert.Contains(t, checked["v_pipeline_stages"], "total_win_rate")
}

// exploreFilters are the always_filter values of an explore.
func (p *lkProject) exploreFilters(explore string) map[string]string {
	for _, e := range p.Models[0].Explores {
		if e.Name == explore {
			return e.AlwaysFilter
		}
	}
	return nil
}

func must(f float64, _ bool) float64 { return f }
