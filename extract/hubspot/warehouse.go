package hubspot

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"closedloop/extract"
	"closedloop/extract/tables"
)

// warehouse is a tables.Source holding Fivetran's HubSpot connector tables, as the
// decoders of a Fivetran folder read them.
type warehouse struct {
	src     tables.Source
	schema  string            // the dataset or schema, for locations
	names   map[string]string // Fivetran table -> its name in src (t, else the seed name t_data)
	airbyte bool              // src holds Airbyte's HubSpot tables (contacts, deals)
}

// openWarehouse lists the tables of src.
func openWarehouse(ctx context.Context, spec string, src tables.Source) (*warehouse, error) {
	list, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: listing the tables of %s: %w", spec, src.Spec(), err)
	}
	have := map[string]bool{}
	for _, t := range list {
		have[strings.ToLower(t)] = true
	}
	w := &warehouse{src: src, schema: tables.SchemaOf(src.Spec()), names: map[string]string{}}
	for _, t := range fivetranTables {
		for _, n := range []string{t, t + "_data"} {
			if have[n] {
				w.names[t] = n
				break
			}
		}
	}
	w.airbyte = have["contacts"] && have["deals"]
	return w, nil
}

// fivetranTables are the Fivetran HubSpot tables the decoders read.
var fivetranTables = []string{
	"contact", "deal", "deal_pipeline_stage", "deal_contact", "deal_pipeline", "deal_stage",
	"deal_property_history", "contact_merge_audit", "merged_deal", "property", "owner", "owner_team",
	"team", "engagement", "engagement_call", "engagement_meeting", "engagement_email", "engagement_task",
	"engagement_contact", "email_event", "email_event_click", "email_campaign",
	"company", "contact_company", "deal_company",
}

// ref names Fivetran table t: SCHEMA.TABLE; "" when absent.
func (w *warehouse) ref(t string) string {
	if n := w.names[t]; n != "" {
		return w.schema + "." + n
	}
	return ""
}

// open opens Fivetran table t to be read with columns cols; os.ErrNotExist when absent.
func (w *warehouse) open(ctx context.Context, t string, cols []string) (*table, error) {
	n := w.names[t]
	if n == "" {
		return nil, fmt.Errorf("table %s.%s: %w", w.schema, t, os.ErrNotExist)
	}
	return openSourceTable(ctx, w.src, n, w.schema+"."+n, cols)
}

// layout tells whether src holds Fivetran's HubSpot tables: a configuration error
// says what it holds instead.
func (w *warehouse) layout(spec string) error {
	for _, t := range fivetranRequired {
		if w.names[t.table] != "" {
			return nil
		}
	}
	if w.airbyte {
		return fmt.Errorf("%w: %s: %s holds Airbyte's HubSpot tables (contacts, deals), which closedloop does not read: their columns differ from Fivetran's (properties_* instead of property_*, archived instead of _fivetran_deleted, a deal's contacts as an array in deals instead of a deal_contact table, the stages nested in deal_pipelines instead of a deal_pipeline_stage table); sync HubSpot with Fivetran's connector, or read it with hubspot:api",
			extract.ErrConfig, spec, w.src.Spec())
	}
	return fmt.Errorf("%w: %s: %s has none of Fivetran's HubSpot tables (contact, deal, deal_pipeline_stage, deal_contact): point hubspot: at the dataset or schema Fivetran's HubSpot connector writes to",
		extract.ErrConfig, spec, w.src.Spec())
}

// check makes sure the required tables are there, and the tables others need to be
// usable, as fivetranCheck does for a folder.
func (w *warehouse) check(spec string) error {
	if err := w.layout(spec); err != nil {
		return err
	}
	var missing []string
	why := ""
	for _, t := range fivetranRequired {
		if w.names[t.table] == "" {
			missing = append(missing, t.table)
			why += "; " + t.table + ": " + t.why
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s: %s holds Fivetran HubSpot tables but not %s (%s): enable %s in the schema tab of the Fivetran HubSpot connector and sync again",
			extract.ErrConfig, spec, w.src.Spec(), strings.Join(missing, ", "), why[2:], plural(missing, "that table", "those tables"))
	}
	for _, k := range activityKinds {
		if t := fivetranActivities[k.object]; w.names[t] != "" && w.names["engagement_contact"] == "" {
			return fmt.Errorf("%w: %s: %s has %s but no engagement_contact table: without it no activity can be tied to a person; enable engagement_contact in the Fivetran HubSpot connector's schema",
				extract.ErrConfig, spec, w.src.Spec(), t)
		}
	}
	if w.names["email_event_click"] != "" && w.names["email_event"] == "" {
		return fmt.Errorf("%w: %s: %s has email_event_click but no email_event table, which holds each click's recipient and time; enable email_event in the Fivetran HubSpot connector's schema",
			extract.ErrConfig, spec, w.src.Spec())
	}
	return nil
}

func plural(s []string, one, many string) string {
	if len(s) == 1 {
		return one
	}
	return many
}

// warehouse reads Config.Source: Fivetran's HubSpot tables in a warehouse, decoded as
// a Fivetran folder is.
func (x *run) warehouse(ctx context.Context) error {
	w, err := openWarehouse(ctx, x.e.cfg.Spec, x.e.cfg.Source)
	if err != nil {
		return err
	}
	x.wh = w
	x.e.sourceTables.Store(&w.names)
	x.archived = archivedIDs{contacts: map[string]bool{}, deals: map[string]bool{}}
	x.co = newCompanies(true)
	return x.fivetran(ctx)
}

// ftColumns are the columns Fivetran table t is read with from a warehouse: those
// the decoders read, lower-case. Of the property_* columns, only those of the
// properties read (the cookie property among them): a HubSpot account has hundreds.
// Columns a table lacks are left out when it is opened.
func (x *run) ftColumns(t string) []string {
	switch t {
	case "contact":
		p := slices.Clone(contactProperties)
		if x.cookieProperty != "" {
			p = append(p, x.cookieProperty)
		}
		return withProps([]string{"id", "_fivetran_deleted", "is_deleted"}, p)
	case "deal":
		return withProps([]string{"deal_id", "_fivetran_deleted", "is_deleted", "deal_pipeline_id", "deal_pipeline_stage_id"}, dealProperties)
	case "company":
		return withProps([]string{"id", "_fivetran_deleted", "is_deleted"}, companyProperties)
	}
	for _, k := range activityKinds {
		if fivetranActivities[k.object] != t {
			continue
		}
		// start_time is read for every kind: ftActivities makes it
		// hs_meeting_start_time, an activity's time when it has no hs_timestamp.
		cols := []string{"engagement_id", "_fivetran_deleted", "is_deleted", "start_time"}
		switch k.object {
		case "meetings":
			cols = append(cols, "meeting_outcome")
		case "emails":
			cols = append(cols, "type")
		}
		return withProps(cols, activityProperties, []string{"hs_meeting_start_time"}, k.props)
	}
	return ftPlainColumns[t]
}

// withProps returns cols followed by the property_* columns of the properties names,
// sorted, each once.
func withProps(cols []string, names ...[]string) []string {
	var ps []string
	for _, ns := range names {
		for _, n := range ns {
			ps = append(ps, "property_"+strings.ToLower(n))
		}
	}
	slices.Sort(ps)
	return append(slices.Clone(cols), slices.Compact(ps)...)
}

// ftPlainColumns are the columns the decoders read of the Fivetran tables without
// property_* columns.
var ftPlainColumns = map[string][]string{
	"property":              {"hubspot_object", "name", "type"},
	"deal_pipeline_stage":   {"pipeline_id", "stage_id", "is_closed", "closed_won", "probability", "label"},
	"deal_pipeline":         {"pipeline_id", "label"},
	"team":                  {"id", "name"},
	"owner_team":            {"owner_id", "team_id", "is_team_primary"},
	"owner":                 {"owner_id", "first_name", "last_name"},
	"contact_merge_audit":   {"canonical_vid", "contact_id", "vid_to_merge"},
	"merged_deal":           {"merged_deal_id", "deal_id"},
	"deal_contact":          {"deal_id", "contact_id", "_fivetran_deleted"},
	"contact_company":       {"contact_id", "company_id", "type_id", "category", "_fivetran_deleted"},
	"deal_company":          {"deal_id", "company_id", "type_id", "category", "_fivetran_deleted"},
	"engagement_contact":    {"engagement_id", "contact_id", "_fivetran_deleted"},
	"engagement":            {"id", "owner_id", "timestamp"},
	"deal_stage":            {"deal_id", "value", "date_entered", "_fivetran_start", "_fivetran_deleted"},
	"deal_property_history": {"deal_id", "name", "value", "timestamp", "_fivetran_deleted"},
	"email_event":           {"id", "created", "type", "recipient", "email_campaign_id", "filtered_event", "_fivetran_deleted"},
	"email_event_click":     {"id", "url"},
	"email_campaign":        {"id", "name", "subject"},
}
