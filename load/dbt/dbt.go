// Package dbt writes dbt property files for what closedloop writes, so that a dbt project
// can build on closedloop's tables and views and show them in its docs and lineage:
//
//   - sources.yml: one source (dbt's `version: 2` sources), listing every contract table
//     (load.Tables, in load order, columns in contract order) and every SQL view (sql/,
//     by name, columns as sql/columns.txt lists them), each with its description and every
//     column's; freshness on run_log (one row per nightly run, finished_at); data tests
//     where the contract states them (not_null, unique ids, accepted values);
//   - exposures.yml: a stub with one exposure per kind of consumer the README documents
//     (the HTML report, Looker, Metabase) and the relations each one reads.
//
// Descriptions are not copied: the tables' come from load/schema.go, the views' and their
// columns' from the header comments of the warehouse dialect's view files, read by
// load/lookml's parsers (what the DuckDB comments and the LookML fields carry).
//
// The output is deterministic: the same build writes the same bytes.
package dbt

import (
	"bytes"
	"cmp"
	"fmt"

	"go.yaml.in/yaml/v3"

	"closedloop/load"
	"closedloop/load/lookml"
	views "closedloop/sql"
	"closedloop/transform/attribution"
)

// Options says where the tables are and how the dbt project names them.
type Options struct {
	// SourceName is the source's name in source('NAME', 'TABLE'); default "closedloop".
	SourceName string
	// Database is dbt's database of the tables: the BigQuery project, the PostgreSQL
	// database, the DuckDB file's catalog (its base name). Empty: dbt's target database.
	Database string
	// Schema is the BigQuery dataset or the PostgreSQL / DuckDB schema of the tables.
	Schema string
	// Dialect is the sql/<dialect> folder whose view files describe the views: the
	// warehouse's (duckdb, postgres or bigquery); default duckdb.
	Dialect string
}

// DefaultSourceName is the source's name when Options.SourceName is empty.
const DefaultSourceName = "closedloop"

// The freshness of run_log: a nightly run finishes about every 24 hours; 26 hours leaves
// two for a slow run or a late start before warning, 50 hours (a missed night and a slow
// run) before failing.
const (
	freshnessWarnHours  = 26
	freshnessErrorHours = 50
)

// uniqueColumns are the columns that identify a row on their own: the single-column
// primary keys of load/lookml (dim_person.person_id, dim_account.account_id,
// fct_touchpoint.touchpoint_id, fct_conversion.conversion_id, run_log.run_id). The other keys span several columns,
// which dbt's built-in tests cannot check.
func uniqueColumns() map[string]string {
	out := map[string]string{}
	for _, r := range lookml.Tables() {
		if len(r.PrimaryKey) == 1 {
			out[r.Name] = r.PrimaryKey[0]
		}
	}
	return out
}

// acceptedValues are the values of the columns whose set the contract fixes: the models
// of this build, and the lists the column descriptions of load/schema.go give in full
// (TestDataTestsAreTheContracts checks each value against its description).
func acceptedValues() map[string]map[string][]string {
	scopes := []string{"person", "deal", "account"} // the journey scopes of fct_attribution
	return map[string]map[string][]string{
		load.FctAttribution:         {"model": attribution.Names(), "scope": scopes},
		load.FctMarkovRemovalEffect: {"scope": scopes},
		load.DimPerson:              {"crm": {"hubspot", "salesforce"}},
		load.DimAccount:             {"crm": {"hubspot", "salesforce"}},
		load.FctDealStage:           {"crm": {"hubspot", "salesforce"}},
		load.IdentityEdge:           {"kind": {"crm_link", "deal_contact", "crm_email", "event_user_id", "crm_cookie", "event_email"}},
		load.RunLog:                 {"status": {"success", "failed"}},
	}
}

// sourcesFile is dbt's properties file with sources (docs.getdbt.com: "Source properties").
type sourcesFile struct {
	Version int      `yaml:"version"`
	Sources []source `yaml:"sources"`
}

type source struct {
	Name        string            `yaml:"name"`
	Description string            `yaml:"description"`
	Database    string            `yaml:"database,omitempty"`
	Schema      string            `yaml:"schema"`
	Loader      string            `yaml:"loader"`
	Meta        map[string]string `yaml:"meta"`
	Tables      []table           `yaml:"tables"`
}

type table struct {
	Name          string            `yaml:"name"`
	Description   string            `yaml:"description"`
	Meta          map[string]string `yaml:"meta"`
	LoadedAtField string            `yaml:"loaded_at_field,omitempty"`
	Freshness     *freshness        `yaml:"freshness,omitempty"`
	Columns       []column          `yaml:"columns"`
}

type freshness struct {
	WarnAfter  period `yaml:"warn_after"`
	ErrorAfter period `yaml:"error_after"`
}

type period struct {
	Count  int    `yaml:"count"`
	Period string `yaml:"period"`
}

type column struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	DataTests   []any  `yaml:"data_tests,omitempty"` // "not_null", "unique" or a map (accepted_values)
}

type acceptedValuesTest struct {
	AcceptedValues struct {
		Values []string `yaml:"values"`
	} `yaml:"accepted_values"`
}

// Sources returns sources.yml: every table and view closedloop writes.
func Sources(o Options) ([]byte, error) {
	o = o.withDefaults()
	src := source{
		Name: o.SourceName,
		Description: "What closedloop (marketing attribution ETL) writes each night: the warehouse contract's tables " +
			"(load/schema.go) and its SQL views (sql/" + o.Dialect + "). Written by closedloop dbt: regenerate it after " +
			"upgrading closedloop rather than editing it.",
		Database: o.Database,
		Schema:   o.Schema,
		Loader:   "closedloop",
		Meta:     map[string]string{"owner": "closedloop", "contract": "load/schema.go", "views": "sql/" + o.Dialect},
	}
	accepted, unique := acceptedValues(), uniqueColumns()
	for _, t := range load.Tables {
		tb := table{Name: t.Name, Description: t.Description,
			Meta: map[string]string{"contract": "load/schema.go", "relation": "table", "load_mode": modeName(t.Mode)}}
		if t.DateColumn != "" {
			tb.Meta["date_column"] = t.DateColumn
		}
		if t.Name == load.RunLog {
			tb.LoadedAtField = "finished_at"
			tb.Freshness = &freshness{WarnAfter: period{freshnessWarnHours, "hour"}, ErrorAfter: period{freshnessErrorHours, "hour"}}
		}
		for _, f := range t.Schema.Fields() {
			c := column{Name: f.Name, Description: load.Description(f)}
			if !f.Nullable {
				c.DataTests = append(c.DataTests, "not_null")
			}
			if unique[t.Name] == f.Name {
				c.DataTests = append(c.DataTests, "unique")
			}
			if vs := accepted[t.Name][f.Name]; vs != nil {
				var av acceptedValuesTest
				av.AcceptedValues.Values = vs
				c.DataTests = append(c.DataTests, av)
			}
			tb.Columns = append(tb.Columns, c)
		}
		src.Tables = append(src.Tables, tb)
	}
	vs, err := viewTables(o.Dialect)
	if err != nil {
		return nil, err
	}
	src.Tables = append(src.Tables, vs...)
	return marshal(sourcesHeader(o.SourceName), sourcesFile{Version: 2, Sources: []source{src}})
}

// viewTables describes the SQL views of dialect as source tables.
func viewTables(dialect string) ([]table, error) {
	list, err := views.List(dialect)
	if err != nil {
		return nil, fmt.Errorf("dbt: %w: want duckdb, postgres or bigquery", err)
	}
	cols, err := views.Columns()
	if err != nil {
		return nil, err
	}
	sqls := map[string]string{}
	names := map[string][]string{}
	for _, v := range list {
		sqls[v.Name] = v.SQL
		for _, c := range cols[v.Name] {
			names[v.Name] = append(names[v.Name], c.Name)
		}
	}
	described := lookml.ViewColumnComments(sqls, names)
	var out []table
	for _, v := range list {
		if len(names[v.Name]) == 0 {
			return nil, fmt.Errorf("dbt: view %s has no columns in sql/columns.txt: run go test ./sql -run TestViewColumns -update-columns", v.Name)
		}
		tb := table{Name: v.Name, Description: lookml.ViewDescription(v.SQL),
			Meta: map[string]string{"contract": "sql/" + dialect + "/" + v.Name + ".sql", "relation": "view"}}
		for _, c := range names[v.Name] {
			d, ok := described[v.Name][c]
			if !ok {
				d = lookml.SeeViewComment(v.Name) // as the DuckDB column comment says
			}
			tb.Columns = append(tb.Columns, column{Name: c, Description: d})
		}
		out = append(out, tb)
	}
	return out, nil
}

// modeName names how a run replaces a table's rows (load.Mode).
func modeName(m load.Mode) string {
	switch m {
	case load.ReplaceAll:
		return "replace_all"
	case load.ReplaceRange:
		return "replace_range"
	case load.Append:
		return "append"
	}
	return fmt.Sprintf("mode_%d", m)
}

// exposuresFile is dbt's properties file with exposures (docs.getdbt.com: "Exposure
// properties").
type exposuresFile struct {
	Version   int        `yaml:"version"`
	Exposures []exposure `yaml:"exposures"`
}

type exposure struct {
	Name        string            `yaml:"name"`
	Label       string            `yaml:"label"`
	Type        string            `yaml:"type"`
	Maturity    string            `yaml:"maturity"`
	Description string            `yaml:"description"`
	Owner       owner             `yaml:"owner"`
	Meta        map[string]string `yaml:"meta"`
	DependsOn   []string          `yaml:"depends_on"`
}

type owner struct {
	Name  string `yaml:"name"`
	Email string `yaml:"email"`
}

// ReportRelations are the tables and views `closedloop report` queries (sql/report):
// tables in contract order, then views by name. TestReportRelations checks them against
// the report's SQL.
var ReportRelations = []string{
	load.DimPerson, load.FctTouchpoint, load.FctConversion, load.FctAttribution, load.IdentityConflicts,
	load.RunLog, load.RejectedRows,
	"v_buying_committee", "v_campaign_roi", "v_channel_performance", "v_content_influence", "v_dropoff_pages", "v_funnel",
	"v_keyword_revenue", "v_lead_quality", "v_pipeline_stages", "v_social_customers", "v_touchpoint_paths",
}

// Exposures returns exposures.yml: a stub to edit (owners are placeholders), one
// exposure per kind of consumer the README documents.
func Exposures(o Options) ([]byte, error) {
	o = o.withDefaults()
	list, err := views.List(o.Dialect)
	if err != nil {
		return nil, fmt.Errorf("dbt: %w: want duckdb, postgres or bigquery", err)
	}
	var all, sqlViews []string
	for _, t := range load.Tables {
		all = append(all, t.Name)
	}
	for _, v := range list {
		all = append(all, v.Name)
		sqlViews = append(sqlViews, v.Name)
	}
	ref := func(names []string) []string {
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = fmt.Sprintf("source('%s', '%s')", o.SourceName, n)
		}
		return out
	}
	placeholder := func(who string) owner {
		return owner{Name: "EDIT ME: " + who, Email: "edit-me@example.com"}
	}
	meta := map[string]string{"generated_by": "closedloop dbt", "edit": "owner, url and depends_on"}
	f := exposuresFile{Version: 2, Exposures: []exposure{
		{Name: "closedloop_report", Label: "closedloop report", Type: "dashboard", Maturity: "medium",
			Description: "The HTML report of `closedloop report` (one self-contained file with charts): revenue and ROI by " +
				"channel under every model, campaign ROI, funnel and drop-off pages, buyers' paths, keywords, social " +
				"networks, content, deal pipeline, lead quality by persona and channel, identity and the runs' health. " +
				"depends_on lists exactly what it queries.",
			Owner: placeholder("who publishes the report"), Meta: meta, DependsOn: ref(ReportRelations)},
		{Name: "closedloop_looker", Label: "Looker (closedloop lookml)", Type: "dashboard", Maturity: "medium",
			Description: "Looker explores and dashboards on the LookML of `closedloop lookml`, which has a view of every " +
				"table and SQL view and explores over them. Trim depends_on to what your dashboards use.",
			Owner: placeholder("Looker project owner"), Meta: meta, DependsOn: ref(all)},
		{Name: "closedloop_metabase", Label: "Metabase", Type: "dashboard", Maturity: "medium",
			Description: "Metabase questions and dashboards on the warehouse's SQL views (DuckDB through MotherDuck's " +
				"driver, PostgreSQL or BigQuery). Trim depends_on to the views your dashboards use.",
			Owner: placeholder("Metabase dashboards owner"), Meta: meta, DependsOn: ref(sqlViews)},
	}}
	return marshal(exposuresHeader, f)
}

// sourcesHeader is the comment on top of sources.yml.
func sourcesHeader(name string) string {
	return "# Written by closedloop dbt: every table and view closedloop writes, as one dbt source, with\n" +
		"# the contract's descriptions and data tests. Regenerate it (closedloop dbt --force) after\n" +
		"# upgrading closedloop instead of editing it. In models: {{ source('" + name + "', 'fct_attribution') }};\n" +
		"# dbt source freshness checks run_log (the nightly runs).\n"
}

// exposuresHeader is the comment on top of exposures.yml.
const exposuresHeader = `# Written by closedloop dbt: a stub to edit. Replace each owner (EDIT ME), add a url, and
# trim depends_on to what each dashboard reads; then keep this file in your dbt project
# (closedloop dbt --force rewrites it).
`

// Files returns sources.yml and exposures.yml, by file name.
func Files(o Options) (map[string][]byte, error) {
	s, err := Sources(o)
	if err != nil {
		return nil, err
	}
	e, err := Exposures(o)
	if err != nil {
		return nil, err
	}
	return map[string][]byte{"sources.yml": s, "exposures.yml": e}, nil
}

// FileNames are the files Files returns, in the order they are written.
var FileNames = []string{"sources.yml", "exposures.yml"}

func (o Options) withDefaults() Options {
	o.SourceName = cmp.Or(o.SourceName, DefaultSourceName)
	o.Dialect = cmp.Or(o.Dialect, "duckdb")
	return o
}

// marshal encodes v as YAML (2-space indent, struct fields in declaration order, map
// keys sorted) after the header comment.
func marshal(header string, v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(header)
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("dbt: yaml: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("dbt: yaml: %w", err)
	}
	return b.Bytes(), nil
}
