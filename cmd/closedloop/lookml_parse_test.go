package main

// The LookML `closedloop lookml` writes is parsed with a real LookML parser (npm
// lookml-parser, through tools/lookml/check.js; ../shared/docs/TOOLING.md §6) and checked
// the way Looker validates a project: every file parses, field names are unique per view,
// every ${...} reference, set, constant and sql_table_name resolves, every join names
// its relationship, and the model's caching policy is the run_log datagroup.
//
// It needs node and `npm ci --prefix tools/lookml`; without them it skips, unless
// CLOSEDLOOP_REQUIRE_LOOKML=1 (CI), where it fails.

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/loadtest"
	"closedloop/load/lookml"
	views "closedloop/sql"
)

// lkProject is what tools/lookml/check.js prints for a folder of LookML.
type lkProject struct {
	Files []struct {
		Path  string `json:"path"`
		Type  string `json:"type"`
		Error string `json:"error"`
	} `json:"files"`
	Manifest *struct {
		ProjectName string            `json:"project_name"`
		Constants   map[string]string `json:"constants"`
	} `json:"manifest"`
	Models []lkModel `json:"models"`
	Views  []lkView  `json:"views"`
}

type lkModel struct {
	Name        string   `json:"name"`
	Error       string   `json:"error"`
	Connection  string   `json:"connection"`
	Include     []string `json:"include"`
	PersistWith string   `json:"persist_with"`
	Views       []string `json:"views"` // the views its includes bring in
	Datagroups  []struct {
		Name        string `json:"name"`
		SQLTrigger  string `json:"sql_trigger"`
		MaxCacheAge string `json:"max_cache_age"`
	} `json:"datagroups"`
	Explores     []lkExplore `json:"explores"`
	Declarations []string    `json:"declarations"`
}

type lkExplore struct {
	Name           string            `json:"name"`
	From           string            `json:"from"`
	ViewName       string            `json:"view_name"`
	PersistWith    string            `json:"persist_with"`
	AlwaysFilter   map[string]string `json:"always_filter"`
	SQLAlwaysWhere string            `json:"sql_always_where"`
	Joins          []struct {
		Name         string `json:"name"`
		From         string `json:"from"`
		Type         string `json:"type"`
		Relationship string `json:"relationship"`
		SQLOn        string `json:"sql_on"`
	} `json:"joins"`
}

type lkView struct {
	Name         string              `json:"name"`
	File         string              `json:"file"`
	SQLTableName string              `json:"sql_table_name"`
	DrillFields  []string            `json:"drill_fields"`
	Declarations []string            `json:"declarations"` // "kind.name", in order, repeats kept
	Sets         map[string][]string `json:"sets"`
	Fields       []lkField           `json:"fields"`
}

type lkField struct {
	Kind           string   `json:"kind"`
	Name           string   `json:"name"`
	Type           string   `json:"type"`
	SQL            string   `json:"sql"`
	SQLDistinctKey string   `json:"sql_distinct_key"`
	Timeframes     []string `json:"timeframes"`
	Description    string   `json:"description"`
	Label          string   `json:"label"`
	DrillFields    []string `json:"drill_fields"`
	PrimaryKey     bool     `json:"primary_key"`
	Hidden         bool     `json:"hidden"`
}

// parseLookML parses the LookML files of dir with tools/lookml/check.js.
func parseLookML(t *testing.T, dir string) *lkProject {
	t.Helper()
	out := loadtest.Checker{Name: "LookML parser", Dir: filepath.Join("..", "..", "tools", "lookml"), Package: "lookml-parser",
		Require: "CLOSEDLOOP_REQUIRE_LOOKML", Node: ">= 20", Timeout: time.Minute}.Run(t, nil, dir)
	var p lkProject
	require.NoError(t, json.Unmarshal(out, &p), "check.js printed %q", out)
	return &p
}

// view returns the parsed view called name, or nil.
func (p *lkProject) view(name string) *lkView {
	for i := range p.Views {
		if p.Views[i].Name == name {
			return &p.Views[i]
		}
	}
	return nil
}

// field returns the field of v declared as name (a dimension group by its own name), or nil.
func (v *lkView) field(name string) *lkField {
	for i := range v.Fields {
		if v.Fields[i].Name == name {
			return &v.Fields[i]
		}
	}
	return nil
}

// fieldNames are the names v's fields answer to, as Looker names them: a time dimension
// group answers to <name>_<timeframe>. They count every declaration, repeats included.
func (v *lkView) fieldNames() map[string]int {
	names := map[string]int{}
	for _, d := range v.Declarations {
		kind, name, _ := strings.Cut(d, ".")
		switch kind {
		case "dimension", "measure", "filter", "parameter":
			names[name]++
		case "dimension_group":
			f := v.field(name)
			if f == nil || f.Type != "time" {
				names[name]++ // only time groups are generated: a name the checks will not find
				continue
			}
			for _, tf := range f.Timeframes {
				names[name+"_"+tf]++
			}
		}
	}
	return names
}

// generateLookML runs `closedloop lookml` into a new folder with schema as the schema.
func generateLookML(t *testing.T, schema string) string {
	t.Helper()
	dir := t.TempDir()
	code, _, stderr := runMain(t, "lookml", "--out", dir, "--schema", schema)
	require.Equal(t, 0, code, stderr)
	return dir
}

var (
	refRE   = regexp.MustCompile(`\$\{([^}]*)\}`)
	constRE = regexp.MustCompile(`@\{([^}]*)\}`)
)

// conversionRows are the tables with a row per conversion, touch or credit: spend joined
// to them on channel and day is dropped on days without one and repeated on every one.
var conversionRows = []string{load.FctAttribution, load.FctConversion, load.FctTouchpoint}

// checkLookML checks a parsed project as Looker validates one and says what is wrong:
// files that do not parse, views that are no table or SQL view of relations or whose
// sql_table_name is not theirs, field names used twice in a view, ${...} references,
// @{...} constants, sets and drill fields that resolve to nothing, explores and joins
// over unknown views, joins without a relationship, and spend joined to conversion rows.
func checkLookML(p *lkProject, relations map[string]bool) []string {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	for _, f := range p.Files {
		if f.Error != "" {
			bad("%s does not parse: %s", f.Path, f.Error)
		}
	}
	if p.Manifest == nil {
		return append(problems, "no manifest")
	}
	if len(p.Models) != 1 {
		return append(problems, fmt.Sprintf("%d models", len(p.Models)))
	}
	m := p.Models[0]
	if m.Error != "" {
		bad("model %s: %s", m.Name, m.Error)
	}
	constants := func(where, s string) {
		for _, c := range constRE.FindAllStringSubmatch(s, -1) {
			if _, ok := p.Manifest.Constants[c[1]]; !ok {
				bad("%s: @{%s} is no constant of the manifest", where, c[1])
			}
		}
	}

	for _, v := range p.Views {
		if !relations[v.Name] {
			bad("view %s is no table or SQL view", v.Name)
		}
		if v.SQLTableName != "@{closedloop_schema}."+v.Name {
			bad("%s: sql_table_name %q", v.Name, v.SQLTableName)
		}
		constants(v.Name+".sql_table_name", v.SQLTableName)
		if !slices.Contains(m.Views, v.Name) {
			bad("the model's include does not bring in %s", v.Name)
		}
		names := v.fieldNames()
		for n, k := range names {
			if k > 1 {
				bad("%s: %d fields called %s", v.Name, k, n)
			}
		}
		resolve := func(where, s string) { // ${TABLE}, a field of the view, or view.field of this view
			constants(where, s)
			for _, r := range refRE.FindAllStringSubmatch(s, -1) {
				ref := r[1]
				if ref == "TABLE" {
					continue
				}
				if vw, f, qualified := strings.Cut(ref, "."); qualified {
					if vw != v.Name {
						bad("%s: ${%s} names another view", where, ref)
						continue
					}
					ref = f
				}
				if names[ref] == 0 {
					bad("%s: ${%s} resolves to no field of %s", where, r[1], v.Name)
				}
			}
		}
		for name, fields := range v.Sets {
			for _, f := range fields {
				if names[strings.TrimPrefix(f, v.Name+".")] == 0 {
					bad("%s: set %s names no field %s", v.Name, name, f)
				}
			}
		}
		drills := func(where string, fields []string) {
			for _, f := range fields {
				if set, ok := strings.CutSuffix(f, "*"); ok {
					if _, ok := v.Sets[set]; !ok {
						bad("%s: drill_fields names no set %s", where, set)
					}
				} else if names[strings.TrimPrefix(f, v.Name+".")] == 0 {
					bad("%s: drill_fields names no field %s", where, f)
				}
			}
		}
		drills(v.Name, v.DrillFields)
		for _, f := range v.Fields {
			where := v.Name + "." + f.Name
			resolve(where+".sql", f.SQL)
			resolve(where+".sql_distinct_key", f.SQLDistinctKey)
			drills(where, f.DrillFields)
			if f.Kind == "measure" && f.Type == "sum_distinct" && f.SQLDistinctKey == "" {
				bad("%s: sum_distinct without sql_distinct_key", where)
			}
		}
	}

	for _, e := range m.Explores {
		base := e.Name
		if e.From != "" {
			base = e.From
		}
		if e.ViewName != "" {
			base = e.ViewName
		}
		scope := map[string]*lkView{}
		if scope[e.Name] = p.view(base); scope[e.Name] == nil {
			bad("explore %s: no view %s", e.Name, base)
			continue
		}
		for _, j := range e.Joins {
			from := j.Name
			if j.From != "" {
				from = j.From
			}
			where := "explore " + e.Name + ", join " + j.Name
			if scope[j.Name] = p.view(from); scope[j.Name] == nil {
				bad("%s: no view %s", where, from)
				delete(scope, j.Name)
			}
			if !slices.Contains([]string{"one_to_one", "many_to_one", "one_to_many", "many_to_many"}, j.Relationship) {
				bad("%s: relationship %q", where, j.Relationship)
			}
			if !slices.Contains([]string{"", "left_outer", "inner", "full_outer", "cross"}, j.Type) {
				bad("%s: type %q", where, j.Type)
			}
			if j.SQLOn == "" {
				bad("%s: no sql_on", where)
			}
		}
		inScope := func(where, ref string) {
			vw, f, ok := strings.Cut(ref, ".")
			switch v := scope[vw]; {
			case !ok:
				bad("%s: %s is not view.field", where, ref)
			case v == nil:
				bad("%s: %s is not in the explore", where, vw)
			case v.fieldNames()[f] == 0:
				bad("%s: %s has no field %s", where, vw, f)
			}
		}
		for _, j := range e.Joins {
			constants("explore "+e.Name+", join "+j.Name, j.SQLOn)
			for _, r := range refRE.FindAllStringSubmatch(j.SQLOn, -1) {
				inScope("explore "+e.Name+", join "+j.Name, r[1])
			}
		}
		for _, r := range refRE.FindAllStringSubmatch(e.SQLAlwaysWhere, -1) {
			inScope("explore "+e.Name+", sql_always_where", r[1])
		}
		for f := range e.AlwaysFilter {
			inScope("explore "+e.Name+", always_filter", f)
		}
		// Spend joined to conversion, touch or credit rows is dropped on days without
		// one and repeated on every one (issue 15: the attribution explore's ROAS came
		// out several times too high).
		var in []string
		for _, v := range scope {
			in = append(in, v.Name)
		}
		if slices.Contains(in, load.FctSpend) {
			for _, c := range conversionRows {
				if slices.Contains(in, c) {
					bad("explore %s joins %s and %s", e.Name, load.FctSpend, c)
				}
			}
		}
		if e.PersistWith != "" && !slices.Contains(m.Declarations, "datagroup."+e.PersistWith) {
			bad("explore %s: persist_with %s is no datagroup", e.Name, e.PersistWith)
		}
	}
	if m.PersistWith != "" && !slices.Contains(m.Declarations, "datagroup."+m.PersistWith) {
		bad("model: persist_with %s is no datagroup", m.PersistWith)
	}
	for _, dg := range m.Datagroups {
		constants("datagroup "+dg.Name, dg.SQLTrigger)
	}
	return problems
}

// contractRelations are the names of the contract tables and SQL views.
func contractRelations(t *testing.T) (map[string]bool, []views.View) {
	list, err := views.List("duckdb")
	require.NoError(t, err)
	relations := map[string]bool{}
	for _, tb := range load.Tables {
		relations[tb.Name] = true
	}
	for _, v := range list {
		relations[v.Name] = true
	}
	return relations, list
}

func TestLookMLParses(t *testing.T) {
	dir := generateLookML(t, "analytics")
	p := parseLookML(t, dir)
	relations, list := contractRelations(t)

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, p.Files, len(entries))
	assert.Empty(t, checkLookML(p, relations))
	require.NotNil(t, p.Manifest)
	assert.Equal(t, "analytics", p.Manifest.Constants["closedloop_schema"])
	require.Len(t, p.Models, 1)
	m := p.Models[0]
	assert.Equal(t, "closedloop", m.Connection)
	require.Len(t, p.Views, len(relations), "a view per table and SQL view")
	var explores []string
	for _, e := range m.Explores {
		explores = append(explores, e.Name)
	}
	for _, v := range list {
		assert.Contains(t, explores, v.Name, "every SQL view has its explore")
	}
	assert.Contains(t, explores, load.FctAttribution)
	for _, v := range p.Views {
		for _, f := range v.Fields {
			if f.Kind == "measure" && f.Type == "count" {
				assert.NotEmpty(t, f.DrillFields, "%s.%s: a count drills into rows", v.Name, f.Name)
			}
		}
	}

	// Caching: one datagroup, triggered by the latest run_log row, on the whole model.
	require.Len(t, m.Datagroups, 1)
	dg := m.Datagroups[0]
	assert.Equal(t, "closedloop_run", dg.Name)
	assert.Equal(t, "closedloop_run", m.PersistWith)
	assert.Equal(t, "24 hours", dg.MaxCacheAge)
	trigger := regexp.MustCompile(`^\s*SELECT MAX\((\w+)\) FROM @\{closedloop_schema\}\.(\w+)\s*$`).FindStringSubmatch(dg.SQLTrigger)
	require.NotNil(t, trigger, dg.SQLTrigger)
	runLog, ok := load.Lookup(trigger[2])
	require.True(t, ok, trigger[2])
	assert.Equal(t, load.RunLog, runLog.Name)
	assert.NotNil(t, runLog.Schema.FieldIndices(trigger[1]), "run_log has no column %s", trigger[1])

	// The SQL views: spend summed once per grain, the funnel, drop-off and pipeline views
	// have measures beyond count, and the fields are described by the view files' column
	// comments (a _by_persona view's missing ones by its base view's).
	var undescribed []string
	for _, sv := range list {
		v := p.view(sv.Name)
		var cols []string
		for _, f := range v.Fields {
			if f.Kind == "dimension" || f.Kind == "dimension_group" {
				cols = append(cols, f.Name)
			}
		}
		own := lookml.ColumnComments(sv.SQL, cols)
		var base map[string]string
		if b, ok := strings.CutSuffix(sv.Name, "_by_persona"); ok {
			for _, bv := range list {
				if bv.Name == b {
					base = lookml.ColumnComments(bv.SQL, cols)
				}
			}
		}
		for _, c := range cols {
			want, ok := own[c]
			if !ok {
				want = base[c]
			}
			assert.Equal(t, want, v.field(c).Description, "%s.%s: description", sv.Name, c)
			if want == "" {
				undescribed = append(undescribed, sv.Name+"."+c)
			}
		}
		if v.field("spend") != nil {
			if s := v.field("total_spend"); assert.NotNil(t, s, sv.Name) {
				assert.Equal(t, "sum_distinct", s.Type, "%s: spend repeats on several rows", sv.Name)
			}
		}
	}
	t.Logf("%d SQL view columns without a column comment: %s", len(undescribed), strings.Join(undescribed, " "))
	for _, name := range []string{"v_funnel", "v_dropoff_pages", "v_dropoff_pages_by_persona", "v_pipeline_stages", "v_pipeline_stages_by_persona"} {
		var sums, ratios int
		for _, f := range p.view(name).Fields {
			if f.Kind == "measure" && (f.Type == "sum" || f.Type == "sum_distinct") {
				sums++
			}
			if f.Kind == "measure" && f.Type == "number" {
				ratios++
			}
		}
		assert.Positive(t, sums, "%s: sums", name)
		assert.Positive(t, ratios, "%s: rates", name)
	}
}

// The checks see what Looker would refuse: the duplicate roas of issue 15, a reference
// to no field, a join without relationship, spend joined to credits on channel and day,
// an unknown table, a file that does not parse.
func TestLookMLChecksCatchErrors(t *testing.T) {
	dir := generateLookML(t, "analytics")
	edit := func(name, old, nu string) {
		path := filepath.Join(dir, name)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Contains(t, string(b), old, name)
		require.NoError(t, os.WriteFile(path, []byte(strings.Replace(string(b), old, nu, 1)), 0o644))
	}
	edit("v_campaign_roi.view.lkml", "measure: total_roas {", "measure: roas {")
	edit("v_funnel.view.lkml", "${total_previous_people}", "${total_previous_peple}")
	edit("fct_spend.view.lkml", "sql_table_name: @{closedloop_schema}.fct_spend ;;", "sql_table_name: @{closedloop_schema}.fct_spends ;;")
	edit("closedloop.model.lkml", "    relationship: many_to_one\n    sql_on: ${fct_touchpoint.person_id}", "    sql_on: ${fct_touchpoint.person_id}")
	edit("closedloop.model.lkml", "    sql_on: ${fct_attribution.touchpoint_id} = ${fct_touchpoint.touchpoint_id} ;;\n  }\n",
		"    sql_on: ${fct_attribution.touchpoint_id} = ${fct_touchpoint.touchpoint_id} ;;\n  }\n"+
			"  join: fct_spend {\n    type: left_outer\n    relationship: many_to_many\n"+
			"    sql_on: ${fct_attribution.channel} = ${fct_spend.channel} AND ${fct_attribution.occurred_date} = ${fct_spend.date_day} ;;\n  }\n")
	edit("run_log.view.lkml", "type: count\n", "type: count\n  }\n")
	relations, _ := contractRelations(t)
	problems := strings.Join(checkLookML(parseLookML(t, dir), relations), "\n")
	for _, want := range []string{
		"v_campaign_roi: 2 fields called roas",
		"v_funnel.total_rate_from_previous.sql: ${total_previous_peple} resolves to no field of v_funnel",
		`fct_spend: sql_table_name "@{closedloop_schema}.fct_spends"`,
		`explore fct_touchpoint, join dim_person: relationship ""`,
		"explore fct_attribution joins fct_spend and fct_attribution",
		"explore fct_attribution, join fct_spend: fct_spend has no field date_day",
		"run_log.view.lkml does not parse",
	} {
		assert.Contains(t, problems, want)
	}
}
