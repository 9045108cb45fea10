package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	views "closedloop/sql"
)

func TestLookML(t *testing.T) {
	dir := t.TempDir()
	code, out, stderr := runMain(t, "lookml", "--out", dir, "--schema", "analytics")
	require.Equal(t, 0, code, stderr)
	list, err := views.List("duckdb")
	require.NoError(t, err)
	assert.Contains(t, out, fmt.Sprintf("wrote %d views", len(load.Tables)+len(list)))
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		s := string(b)
		require.Equal(t, strings.Count(s, "{"), strings.Count(s, "}"), "%s: balanced braces", name)
		return s
	}
	for _, tb := range load.Tables {
		v := read(tb.Name + ".view.lkml")
		assert.Contains(t, v, "sql_table_name: @{closedloop_schema}."+tb.Name+" ;;")
		for _, f := range tb.Schema.Fields() {
			assert.Contains(t, v, "${TABLE}."+f.Name+" ;;", "%s.%s has a dimension", tb.Name, f.Name)
		}
		assert.Contains(t, v, "primary_key: yes", tb.Name)
	}
	attr := read("fct_attribution.view.lkml")
	assert.Contains(t, attr, "measure: total_conversions {\n    type: sum\n    sql: ${TABLE}.credit ;;")
	assert.Contains(t, attr, "measure: total_revenue {")
	assert.Contains(t, attr, "dimension_group: occurred {")
	assert.Contains(t, read("fct_spend.view.lkml"), "measure: total_spend {")
	vcp := read("v_channel_performance.view.lkml")
	// The row's roas is a dimension; the ratio of the selected rows is the measure
	// total_roas (Looker refuses a view with two fields called roas).
	assert.Contains(t, vcp, "dimension: roas {\n    type: number")
	assert.NotContains(t, vcp, "measure: roas {")
	assert.Contains(t, vcp, "measure: total_roas {")
	assert.Contains(t, vcp, "dimension: channel {\n    type: string")
	assert.Contains(t, vcp, "dimension: roi {\n    type: number")
	assert.Contains(t, vcp, "dimension: spend {\n    type: number\n    description: \"spend is the channel's cost on that day (fct_spend)")
	assert.Contains(t, read("v_funnel.view.lkml"), "dimension: people {\n    type: number\n    description: \"people who reached the stage\"")
	model := read("closedloop.model.lkml")
	assert.Contains(t, model, "explore: fct_attribution {")
	assert.NotContains(t, model, "join: fct_spend", "spend joined on channel and conversion day drops and repeats spend")
	assert.Contains(t, model, "datagroup: closedloop_run {")
	assert.Contains(t, model, "\npersist_with: closedloop_run\n")
	assert.Contains(t, model, "explore: v_channel_performance {\n  always_filter: {\n    filters: [v_channel_performance.date_basis: \"conversion_date\", "+
		"v_channel_performance.model: \"linear\", v_channel_performance.scope: \"person\", v_channel_performance.conversion_type: \"customer\"]\n  }\n}")
	assert.Contains(t, model, "filters: [fct_attribution.model: \"linear\", fct_attribution.scope: \"person\"]")
	assert.Contains(t, model, "explore: v_buying_committee {\n  always_filter: {\n    filters: [v_buying_committee.model: \"linear\"]")
	assert.Contains(t, model, "explore: dim_account {")
	assert.Contains(t, model, "explore: v_funnel {\n  always_filter: {\n    filters: [v_funnel.breakdown: \"all\"]")
	assert.Contains(t, read("manifest.lkml"), `value: "analytics"`)

	code, _, _ = runMain(t, "lookml")
	assert.Equal(t, 2, code)
}
