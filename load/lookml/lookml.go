// Package lookml writes LookML for the warehouse: one view file per table and SQL view
// (dimensions typed from the schema, described by the schema's descriptions or the view
// file's column comments; time dimension groups; a drill set; measures for counts and
// for the sums and ratios a column supports), a model, and a manifest with the schema as
// a constant.
//
// The model caches queries until the next run (datagroup closedloop_run, triggered by
// run_log) and has an attribution explore (credits joined to their conversion, person,
// account, touch and the person who made the touch), a touchpoint explore, an account explore, an ad spend explore and one explore per SQL view. Spend,
// ROAS, ROI and CPA come from the SQL views (v_channel_performance, v_campaign_roi,
// v_keyword_revenue), never from spend joined to conversions: a join on channel and day
// drops the spend of days without a conversion and repeats it on every conversion.
//
// Every field name is unique within its view: a view column keeps its name as a
// dimension (roas: the row's ratio) and the measure over the selected rows is
// total_<column> (total_roas = summed revenue / summed spend).
//
// `closedloop lookml --out DIR` calls it; the output goes into a Looker project as is.
package lookml

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/load"
)

// Column is one column of a relation, typed for LookML.
type Column struct {
	Name        string
	Type        string // LookML type: string, number, yesno, time (timestamp), date
	Description string
}

// Relation is a table or SQL view of the warehouse.
type Relation struct {
	Name, Description string
	Columns           []Column
	PrimaryKey        []string // columns that identify a row
}

// Options configure the output.
type Options struct {
	// Connection is the Looker connection name of the model.
	Connection string
	// Schema is the dataset (BigQuery) or schema (PostgreSQL) holding the tables.
	Schema string
}

// primaryKeys are the columns identifying a row of each table.
var primaryKeys = map[string][]string{
	load.DimPerson:              {"person_id"},
	load.BridgeIdentity:         {"identifier_type", "identifier"},
	load.FctTouchpoint:          {"touchpoint_id"},
	load.FctPageView:            {"session_id", "occurred_at", "page_location"},
	load.FctConversion:          {"conversion_id"},
	load.FctAttribution:         {"conversion_id", "touchpoint_id", "model", "scope"},
	load.FctMarkovRemovalEffect: {"conversion_type", "channel", "scope"},
	load.DimAccount:             {"account_id"},
	load.IdentityConflicts:      {"identifier_type", "identifier", "other_type", "other_identifier"},
	load.IdentityEdge:           {"identifier_type", "identifier", "other_type", "other_identifier", "kind"},
	load.FctSpend:               {"date", "source", "medium", "campaign", "term"},
	load.FctDealStage:           {"crm", "deal_id", "stage_number"},
	load.RunLog:                 {"run_id"},
	load.RejectedRows:           {"run_id", "location"},
}

// TypeOf maps an Arrow type of the contract to a LookML type.
func TypeOf(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING:
		return "string"
	case arrow.FLOAT64, arrow.INT64:
		return "number"
	case arrow.BOOL:
		return "yesno"
	case arrow.TIMESTAMP:
		return "time"
	case arrow.DATE32:
		return "date"
	}
	return "string"
}

// Tables describes every contract table.
func Tables() []Relation {
	var out []Relation
	for _, t := range load.Tables {
		r := Relation{Name: t.Name, Description: t.Description, PrimaryKey: primaryKeys[t.Name]}
		for _, f := range t.Schema.Fields() {
			desc, _ := f.Metadata.GetValue("description")
			r.Columns = append(r.Columns, Column{Name: f.Name, Type: TypeOf(f.Type), Description: desc})
		}
		out = append(out, r)
	}
	return out
}

// sums are the numeric columns summed into measures, with the measure's name.
var sums = map[string]string{
	"credit": "conversions", "revenue_credit": "revenue", "cost": "spend", "clicks": "clicks",
	"impressions": "impressions", "revenue": "revenue", "conversions": "conversions", "spend": "spend", "value": "value",
}

// viewSums are more columns of SQL views (by base name: a _by_persona view takes its
// base's) summed into a measure total_<column>, with what the sum means.
var viewSums = map[string]map[string]string{
	"v_funnel": {
		"people":          "People who reached the stage, summed over the selected segments: keep one breakdown and group by stage (every person is in one segment of a breakdown, and in every stage they reached)",
		"previous_people": "People of the previous stage, summed over the selected segments: keep one breakdown and group by stage",
	},
	"v_dropoff_pages": {
		"stopped_people":     "People who stopped at the stage, each stage counted once however many pages are selected",
		"stopped_with_page":  "People who stopped at the stage with this page as their last one, summed over the selected pages",
		"advanced_people":    "People who reached the stage and a later one, each stage counted once however many pages are selected",
		"advanced_with_page": "People who went on from the stage with this page as their last one there, summed over the selected pages",
	},
	"v_pipeline_stages": {
		"deals_entered":  "Deals with a stay in the stage, summed over the selected CRMs and pipelines: group by stage (a deal passes through several stages)",
		"entries":        "Stays in the stage, summed over the selected rows",
		"still_here":     "Deals whose current stage it is, summed over the selected rows",
		"moved_on":       "Deals with an ended stay in the stage, summed over the selected CRMs and pipelines: group by stage",
		"won":            "Won deals that passed through the stage, summed over the selected CRMs and pipelines: group by stage",
		"lost":           "Lost deals that passed through the stage, summed over the selected CRMs and pipelines: group by stage",
		"lost_from_here": "Lost deals lost from this stage, summed over the selected rows (each lost deal is lost from one stage)",
	},
	"v_lead_quality": {
		"leads":         "Credit of the leads, summed over the selected segments of one model and breakdown",
		"mqls":          "Credit of the leads that became MQLs, summed like total_leads",
		"sqls":          "Credit of the leads that became SQLs, summed like total_leads",
		"opportunities": "Credit of the leads that became opportunities, summed like total_leads",
		"customers":     "Credit of the leads that became customers, summed like total_leads",
	},
}

// counted are the views of viewSums whose columns count people or deals: their sums
// show no decimals.
var counted = map[string]bool{"v_funnel": true, "v_dropoff_pages": true, "v_pipeline_stages": true}

// repeated are the columns of SQL views that repeat the same value on several rows,
// with the columns of the grain the value is per: their measure is a sum_distinct keyed
// on that grain, so each value counts once however many rows repeat it. Spend is per
// day and channel (and campaign, or per term) on every date basis, model, conversion
// type and persona row; a stage's people are on every page row of the stage.
var repeated = map[string]map[string][]string{
	"v_channel_performance":            {"spend": {"day", "channel"}},
	"v_channel_performance_by_persona": {"spend": {"day", "channel"}},
	"v_campaign_roi":                   {"spend": {"day", "channel", "campaign"}},
	"v_campaign_roi_by_persona":        {"spend": {"day", "channel", "campaign"}},
	"v_keyword_revenue":                {"spend": {"term", "channel"}},
	"v_keyword_revenue_by_persona":     {"spend": {"term", "channel"}},
	"v_dropoff_pages":                  {"stopped_people": {"stage_order"}, "advanced_people": {"stage_order"}},
	"v_dropoff_pages_by_persona":       {"stopped_people": {"persona", "stage_order"}, "advanced_people": {"persona", "stage_order"}},
}

// ratio is a measure total_<col> over other measures for a view that has the ratio
// column col: the ratio of the selected rows, its parts summed first.
type ratio struct {
	col, label, sql, format, description string
	needs                                []string // measures sql refers to
}

// ratios are the ratio measures; a view gets one when it has the column and the parts.
var ratios = []ratio{
	{"roas", "Total ROAS", "1.0 * ${total_revenue} / NULLIF(${total_spend}, 0)", "decimal_2",
		"Return on ad spend of the selected rows: total_revenue / total_spend, both summed first (the roas dimension is one row's)",
		[]string{"total_revenue", "total_spend"}},
	{"roi", "Total ROI", "1.0 * (${total_revenue} - ${total_spend}) / NULLIF(${total_spend}, 0)", "decimal_2",
		"(total_revenue - total_spend) / total_spend of the selected rows (the roi dimension is one row's)",
		[]string{"total_revenue", "total_spend"}},
	{"cpa", "Total CPA", "1.0 * ${total_spend} / NULLIF(${total_conversions}, 0)", "decimal_2",
		"Cost per conversion of the selected rows: total_spend / total_conversions (the cpa dimension is one row's)",
		[]string{"total_spend", "total_conversions"}},
	{"rate_from_previous", "", "1.0 * ${total_people} / NULLIF(${total_previous_people}, 0)", "percent_1",
		"total_people / total_previous_people: the stage-to-stage rate of the selected segments",
		[]string{"total_people", "total_previous_people"}},
	{"exit_share", "", "1.0 * ${total_stopped_with_page} / NULLIF(${total_stopped_people}, 0)", "percent_1",
		"total_stopped_with_page / total_stopped_people: share of the people who stopped whose last page was among the selected",
		[]string{"total_stopped_with_page", "total_stopped_people"}},
	{"advanced_share", "", "1.0 * ${total_advanced_with_page} / NULLIF(${total_advanced_people}, 0)", "percent_1",
		"total_advanced_with_page / total_advanced_people: share of the people who went on whose last page there was among the selected",
		[]string{"total_advanced_with_page", "total_advanced_people"}},
	{"lift", "", "${total_exit_share} - ${total_advanced_share}", "percent_1",
		"total_exit_share - total_advanced_share: positive, the selected pages are more often the last ones of the people who drop out",
		[]string{"total_exit_share", "total_advanced_share"}},
	{"win_rate", "", "1.0 * ${total_won} / NULLIF(${total_deals_entered}, 0)", "percent_1",
		"total_won / total_deals_entered of the selected rows",
		[]string{"total_won", "total_deals_entered"}},
	{"lead_to_customer_rate", "", "1.0 * ${total_customers} / NULLIF(${total_leads}, 0)", "percent_1",
		"total_customers / total_leads of the selected rows",
		[]string{"total_customers", "total_leads"}},
	{"revenue_per_lead", "", "1.0 * ${total_revenue} / NULLIF(${total_leads}, 0)", "decimal_2",
		"total_revenue / total_leads of the selected rows",
		[]string{"total_revenue", "total_leads"}},
}

// Write writes the LookML files into dir (created if needed).
func Write(dir string, rels []Relation, opt Options) error {
	if opt.Connection == "" {
		opt.Connection = "closedloop"
	}
	if opt.Schema == "" {
		opt.Schema = "closedloop"
	}
	files := map[string]string{
		"manifest.lkml":         fmt.Sprintf("project_name: \"closedloop\"\n\nconstant: closedloop_schema {\n  value: %s\n  export: override_optional\n}\n", quote(opt.Schema)),
		"closedloop.model.lkml": model(rels, opt),
	}
	for _, r := range rels {
		v, err := view(r)
		if err != nil {
			return fmt.Errorf("lookml: %w", err)
		}
		files[r.Name+".view.lkml"] = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("lookml: %w", err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("lookml: %w", err)
		}
	}
	return nil
}

// measure is one measure of a view.
type measure struct {
	name, label, typ, sql, key, format, description string
	drill                                           bool // drill into the view's detail set
}

// baseName is the name of the view a _by_persona view splits by persona.
func baseName(name string) string { return strings.TrimSuffix(name, "_by_persona") }

// measures lists a view's measures: count, the sums (sum_distinct for repeated values),
// persons, and the ratios whose parts it has.
func measures(r Relation) ([]measure, error) {
	out := []measure{{name: "count", typ: "count", drill: true}}
	have := map[string]bool{}
	sqlView := strings.HasPrefix(r.Name, "v_")
	for _, c := range r.Columns {
		if c.Type != "number" {
			continue
		}
		name, ok := sums[c.Name]
		desc, format := "", "decimal_2"
		if d, extra := viewSums[baseName(r.Name)][c.Name]; extra && sqlView {
			name, ok, desc = c.Name, true, d
			if counted[baseName(r.Name)] {
				format = "decimal_0"
			}
		}
		if !ok {
			continue
		}
		m := measure{name: "total_" + name, typ: "sum", sql: "${TABLE}." + c.Name, format: format, description: desc, drill: true}
		if grain, rep := repeated[r.Name][c.Name]; rep {
			var key []Column
			for _, g := range grain {
				col, found := column(r, g)
				if !found {
					return nil, fmt.Errorf("%s: %s is per %v, but the view has no %s", r.Name, c.Name, grain, g)
				}
				key = append(key, col)
			}
			m.typ, m.key = "sum_distinct", concatKey(key)
			switch {
			case c.Name == "spend":
				m.description = fmt.Sprintf("Spend of the selected rows, each %s's spend counted once (the view repeats it on every row of the same %[1]s)", strings.Join(grain, " and "))
				if hasColumn(r, "persona") {
					m.description += ". Spend is not split by persona: it is the whole spend, whatever personas are selected"
				}
			case m.description == "":
				m.description = fmt.Sprintf("%s of the selected rows, each %s's counted once (it repeats on every row of the same %[2]s)", c.Name, strings.Join(grain, " and "))
			}
		} else if c.Name == "spend" && sqlView {
			return nil, fmt.Errorf("%s has a spend column but no grain in repeated: its sum would count spend once per row", r.Name)
		}
		if have[m.name] {
			continue
		}
		have[m.name] = true
		out = append(out, m)
	}
	if hasColumn(r, "person_id") && r.Name != load.DimPerson {
		out = append(out, measure{name: "persons", typ: "count_distinct", sql: "${TABLE}.person_id", drill: true,
			description: "Distinct persons of the selected rows"})
		have["persons"] = true
	}
	for _, q := range ratios {
		if !hasColumn(r, q.col) || have["total_"+q.col] {
			continue
		}
		ok := true
		for _, n := range q.needs {
			ok = ok && have[n]
		}
		if !ok {
			continue
		}
		out = append(out, measure{name: "total_" + q.col, label: q.label, typ: "number", sql: q.sql, format: q.format, description: q.description})
		have["total_"+q.col] = true
	}
	return out, nil
}

// view renders one view file.
func view(r Relation) (string, error) {
	ms, err := measures(r)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by closedloop lookml from the warehouse contract; regenerate rather than edit.\n")
	fmt.Fprintf(&b, "view: %s {\n  sql_table_name: @{closedloop_schema}.%s ;;\n", r.Name, r.Name)
	if r.Description != "" {
		fmt.Fprintf(&b, "  # %s\n", r.Description)
	}
	if len(r.PrimaryKey) > 1 {
		types := map[string]string{}
		for _, c := range r.Columns {
			types[c.Name] = c.Type
		}
		var key []Column
		for _, c := range r.PrimaryKey {
			key = append(key, Column{Name: c, Type: types[c]})
		}
		fmt.Fprintf(&b, "\n  dimension: pk {\n    primary_key: yes\n    hidden: yes\n    type: string\n    sql: %s ;;\n  }\n", concatKey(key))
	}
	var detail []string
	for _, c := range r.Columns {
		desc := ""
		if c.Description != "" {
			desc = "    description: " + quote(c.Description) + "\n"
		}
		switch c.Type {
		case "time", "date":
			name := strings.TrimSuffix(c.Name, "_at")
			if c.Type == "date" {
				fmt.Fprintf(&b, "\n  dimension_group: %s {\n    type: time\n    timeframes: [raw, date, week, month, quarter, year]\n    datatype: date\n    convert_tz: no\n", name)
				detail = append(detail, name+"_date")
			} else {
				fmt.Fprintf(&b, "\n  dimension_group: %s {\n    type: time\n    timeframes: [raw, time, date, week, month, quarter, year]\n", name)
				detail = append(detail, name+"_time")
			}
			fmt.Fprintf(&b, "%s    sql: ${TABLE}.%s ;;\n  }\n", desc, c.Name)
		default:
			fmt.Fprintf(&b, "\n  dimension: %s {\n", c.Name)
			if len(r.PrimaryKey) == 1 && r.PrimaryKey[0] == c.Name {
				fmt.Fprintf(&b, "    primary_key: yes\n")
			}
			fmt.Fprintf(&b, "    type: %s\n%s    sql: ${TABLE}.%s ;;\n  }\n", c.Type, desc, c.Name)
			detail = append(detail, c.Name)
		}
	}
	fmt.Fprintf(&b, "\n  set: detail {\n    fields: [%s]\n  }\n", strings.Join(detail, ", "))
	for _, m := range ms {
		fmt.Fprintf(&b, "\n  measure: %s {\n", m.name)
		if m.label != "" {
			fmt.Fprintf(&b, "    label: %s\n", quote(m.label))
		}
		if m.description != "" {
			fmt.Fprintf(&b, "    description: %s\n", quote(m.description))
		}
		fmt.Fprintf(&b, "    type: %s\n", m.typ)
		if m.key != "" {
			fmt.Fprintf(&b, "    sql_distinct_key: %s ;;\n", m.key)
		}
		if m.sql != "" {
			fmt.Fprintf(&b, "    sql: %s ;;\n", m.sql)
		}
		if m.format != "" {
			fmt.Fprintf(&b, "    value_format_name: %s\n", m.format)
		}
		if m.drill {
			fmt.Fprintf(&b, "    drill_fields: [detail*]\n")
		}
		b.WriteString("  }\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}

// model renders the model: the datagroup, the attribution, touchpoint and spend
// explores, and one explore per SQL view.
func model(rels []Relation, opt Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Generated by closedloop lookml; regenerate rather than edit.\nconnection: %s\n\ninclude: \"/*.view.lkml\"\n", quote(opt.Connection))
	b.WriteString(`
# Every closedloop run appends a run_log row when it ends: cached results stay valid
# until then (and 24 hours at most, should the trigger query fail).
datagroup: closedloop_run {
  label: "closedloop run"
  description: "Triggered by the latest run_log row: a new run, successful or failed, clears the cache"
  sql_trigger: SELECT MAX(finished_at) FROM @{closedloop_schema}.run_log ;;
  max_cache_age: "24 hours"
}

persist_with: closedloop_run

explore: fct_attribution {
  label: "Attribution"
  description: "Credit of each touch for each conversion under every model, with the conversion, the person and the touch. Spend, ROAS, ROI and CPA: the v_channel_performance and v_campaign_roi explores."
  always_filter: {
    filters: [fct_attribution.model: "linear", fct_attribution.scope: "person"]
  }
  join: fct_conversion {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_attribution.conversion_id} = ${fct_conversion.conversion_id} ;;
  }
  join: dim_person {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_attribution.person_id} = ${dim_person.person_id} ;;
  }
  join: dim_account {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_conversion.account_id} = ${dim_account.account_id} ;;
  }
  join: touch_person {
    from: dim_person
    view_label: "Touch person"
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_attribution.touch_person_id} = ${touch_person.person_id} ;;
  }
  join: fct_touchpoint {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_attribution.touchpoint_id} = ${fct_touchpoint.touchpoint_id} ;;
  }
}

explore: fct_touchpoint {
  label: "Touchpoints"
  join: dim_person {
    type: left_outer
    relationship: many_to_one
    sql_on: ${fct_touchpoint.person_id} = ${dim_person.person_id} ;;
  }
  join: dim_account {
    type: left_outer
    relationship: many_to_one
    sql_on: ${dim_person.account_id} = ${dim_account.account_id} ;;
  }
}

explore: dim_account {
  label: "Accounts"
  description: "Accounts (companies that buy) with their people; account journeys and buying committees: the v_account_journeys and v_buying_committee explores."
  join: dim_person {
    type: left_outer
    relationship: one_to_many
    sql_on: ${dim_account.account_id} = ${dim_person.account_id} ;;
  }
}

explore: fct_spend {
  label: "Ad spend"
  description: "Ad cost, clicks and impressions by day, channel, source, campaign and keyword, as the ad platforms report them."
}
`)
	for _, r := range rels {
		if !strings.HasPrefix(r.Name, "v_") {
			continue
		}
		var filters []string
		for _, c := range r.Columns {
			v, ok := viewFilters[c.Name]
			if o, over := viewFilterOverrides[r.Name+"."+c.Name]; over {
				v, ok = o, true
			}
			if ok {
				filters = append(filters, fmt.Sprintf("%s.%s: %s", r.Name, c.Name, quote(v)))
			}
		}
		if len(filters) == 0 {
			fmt.Fprintf(&b, "\nexplore: %s {}\n", r.Name)
			continue
		}
		fmt.Fprintf(&b, "\nexplore: %s {\n  always_filter: {\n    filters: [%s]\n  }\n}\n", r.Name, strings.Join(filters, ", "))
	}
	return b.String()
}

// column returns the column of r called name.
func column(r Relation, name string) (Column, bool) {
	for _, c := range r.Columns {
		if c.Name == name {
			return c, true
		}
	}
	return Column{}, false
}

func hasColumn(r Relation, name string) bool {
	_, ok := column(r, name)
	return ok
}

// concatKey is the SQL joining columns into one string key. Each value is prefixed
// with '=' and a NULL becomes the empty string, so that NULL and the empty string differ
// (a campaign NULL is a campaign of its own in v_campaign_roi).
func concatKey(cols []Column) string {
	var parts []string
	for _, c := range cols {
		col := "${TABLE}." + c.Name
		if c.Type != "string" { // BigQuery's CONCAT takes strings only; its type is STRING, elsewhere TEXT
			col = "CAST(" + col + " AS {% if _dialect._name == 'bigquery_standard_sql' %}STRING{% else %}TEXT{% endif %})"
		}
		// || is NULL when either side is (BigQuery, PostgreSQL, DuckDB); PostgreSQL's
		// CONCAT would skip the NULL instead.
		parts = append(parts, "COALESCE('=' || "+col+", '')")
	}
	return "CONCAT(" + strings.Join(parts, ", '|', ") + ")"
}

// quote renders s as a LookML string: in double quotes, with \ and " escaped and line
// breaks as spaces.
func quote(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r\n", " ", "\n", " ", "\r", " ").Replace(s)
	return `"` + s + `"`
}

// viewFilters are the columns of the SQL views whose rows must not be summed across
// values (credits of several models or journey scopes, spend repeated on every
// conversion type, every credit under both date bases, the funnel's breakdowns), with the value an explore
// starts filtered to; users change the value, never drop the filter.
var viewFilters = map[string]string{
	"model": "linear", "date_basis": "conversion_date", "conversion_type": "customer", "breakdown": "all",
	"scope": "person", // journey scopes credit every conversion in full, each
}

// viewFilterOverrides start a view's filter at another value than viewFilters' (VIEW.COLUMN).
var viewFilterOverrides = map[string]string{
	"v_lead_quality.breakdown": "channel", // channel, campaign or keyword: no "all"
}
