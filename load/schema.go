package load

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
)

// Mode says how a run replaces a table's rows.
type Mode int

const (
	// ReplaceAll swaps the whole table for the run's rows (dimensions, model summaries).
	ReplaceAll Mode = iota
	// ReplaceRange deletes the rows whose DateColumn falls in the run's range and
	// inserts the run's rows: other days are kept (facts).
	ReplaceRange
	// Append adds the run's rows (run_log, rejected_rows: every row carries its run_id).
	Append
)

// Table is one warehouse table of the contract in DESIGN.md.
type Table struct {
	Name        string
	Description string // what one row is; becomes the table description where supported
	Schema      *arrow.Schema
	Mode        Mode
	DateColumn  string   // ReplaceRange: the column whose UTC day decides the range
	ClusterBy   []string // columns dashboards filter by (clustering, indexes)
}

var (
	tsUTC = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	str   = arrow.BinaryTypes.String
	f64   = arrow.PrimitiveTypes.Float64
	i64   = arrow.PrimitiveTypes.Int64
	bln   = arrow.FixedWidthTypes.Boolean
	date  = arrow.FixedWidthTypes.Date32
)

// col is a column with its description in field metadata ("description").
func col(name string, t arrow.DataType, nullable bool, desc string) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: nullable,
		Metadata: arrow.NewMetadata([]string{"description"}, []string{desc})}
}

// existing is f with the value its older rows get when a loader adds it to a table that
// keeps its rows (ExistingRowsKey): a NOT NULL column added to such a table needs one.
func existing(f arrow.Field, value string) arrow.Field {
	f.Metadata = arrow.NewMetadata(slices.Concat(f.Metadata.Keys(), []string{ExistingRowsKey}),
		slices.Concat(f.Metadata.Values(), []string{value}))
	return f
}

func schema(fields ...arrow.Field) *arrow.Schema { return arrow.NewSchema(fields, nil) }

// Warehouse table names.
const (
	DimPerson              = "dim_person"
	BridgeIdentity         = "bridge_identity"
	FctTouchpoint          = "fct_touchpoint"
	FctPageView            = "fct_page_view"
	FctConversion          = "fct_conversion"
	FctAttribution         = "fct_attribution"
	FctMarkovRemovalEffect = "fct_markov_removal_effect"
	IdentityConflicts      = "identity_conflicts"
	IdentityEdge           = "identity_edge"
	FctSpend               = "fct_spend"
	FctDealStage           = "fct_deal_stage"
	DimAccount             = "dim_account"
	RunLog                 = "run_log"
	RejectedRows           = "rejected_rows"
)

// Tables is the warehouse contract, in load order: every loader creates every one of
// them, with these columns, whether or not the run has rows for it.
var Tables = []Table{
	{Name: DimPerson, Mode: ReplaceAll,
		Description: "One stitched person: every identifier that belongs to one human, with first/last seen and CRM state.",
		Schema: schema(
			col("person_id", str, false, "Stable id of the person (derived from the highest-priority identifier)"),
			col("first_seen_at", tsUTC, true, "First touch, page view or CRM record of the person"),
			col("last_seen_at", tsUTC, true, "Last touch, page view or CRM record of the person"),
			col("identifier_count", i64, false, "Identifiers of all types in bridge_identity"),
			col("anonymous_id_count", i64, false, "Distinct cookies / anonymous ids"),
			col("email_count", i64, false, "Distinct e-mail addresses"),
			col("crm_contact_id", str, true, "CRM contact id (HubSpot contact, Salesforce contact or lead)"),
			col("crm", str, true, "CRM of crm_contact_id: hubspot or salesforce"),
			col("lifecycle_stage", str, true, "Furthest CRM lifecycle stage reached: lead, mql, sql, opportunity, customer"),
			col("is_customer", bln, false, "The person has a won deal or a customer conversion"),
			col("job_title", str, true, "Job title on the person's CRM record"),
			col("company", str, true, "Company (account) on the person's CRM record"),
			col("industry", str, true, "Industry on the person's CRM record"),
			col("company_size", i64, true, "Employees of the person's company (lower bound of a range)"),
			col("country", str, true, "Country on the person's CRM record"),
			col("original_source", str, true, "The CRM's original (lead) source of the person"),
			col("persona", str, false, "Persona of the first matching CLOSEDLOOP_PERSONAS rule, Unclassified when none matches"),
			col("account_id", str, true, "The person's account (dim_account): the CRM's company or account of the person's record, or one inferred from a business e-mail domain when CLOSEDLOOP_ACCOUNT_FROM_EMAIL is on; NULL when none"),
		)},
	{Name: DimAccount, Mode: ReplaceAll,
		Description: "One account: a company that buys, from the CRM (HubSpot company, Salesforce Account) or inferred from its people's business e-mail domain.",
		Schema: schema(
			col("account_id", str, false, "Stable id of the account: crm:ID for a CRM account, domain:DOMAIN for one inferred from e-mail"),
			col("crm", str, true, "CRM of the account: hubspot or salesforce; NULL for an inferred account"),
			col("crm_account_id", str, true, "The account's id in its CRM; NULL for an inferred account"),
			col("name", str, true, "Company name"),
			col("domain", str, true, "Web domain, lower-case, without www."),
			col("industry", str, true, "Industry"),
			col("company_size", i64, true, "Employees (lower bound of a range)"),
			col("country", str, true, "Country"),
			col("owner", str, true, "Account owner's name"),
			col("inferred", bln, false, "The account was inferred from a business e-mail domain (CLOSEDLOOP_ACCOUNT_FROM_EMAIL), not read from the CRM"),
			col("person_count", i64, false, "Persons of the account (dim_person.account_id)"),
			col("is_customer", bln, false, "The account has a won deal"),
		)},
	{Name: BridgeIdentity, Mode: ReplaceAll, ClusterBy: []string{"identifier_type"},
		Description: "One identifier of a person (cookie, user id, e-mail, CRM id).",
		Schema: schema(
			col("person_id", str, false, "The person the identifier belongs to"),
			col("identifier_type", str, false, "anonymous_id, user_id, email, hubspot_contact, salesforce_contact, ..."),
			col("identifier", str, false, "The identifier as the source gave it (e-mails normalized)"),
			col("first_seen_at", tsUTC, true, "First time the identifier was seen"),
		)},
	{Name: FctTouchpoint, Mode: ReplaceRange, DateColumn: "occurred_at", ClusterBy: []string{"channel", "campaign"},
		Description: "One marketing or sales touch: a session start, a tracked interaction, an e-mail click or a selling activity.",
		Schema: schema(
			col("touchpoint_id", str, false, "Stable id of the touch"),
			col("person_id", str, false, "Stitched person"),
			col("anonymous_id", str, true, "The source's own cookie id, unchanged"),
			col("session_id", str, true, "Session of the touch"),
			col("occurred_at", tsUTC, false, "When the touch happened (UTC)"),
			col("channel", str, false, "GA4 default channel group (or the rules file's, or the touch log's own)"),
			col("source", str, true, "Traffic source (utm_source, referrer host, google for gclid)"),
			col("medium", str, true, "Traffic medium (utm_medium, organic, referral, cpc, (none))"),
			col("campaign", str, true, "Campaign (utm_campaign)"),
			col("term", str, true, "Keyword (utm_term or organic term), (not provided) when unknown"),
			col("content", str, true, "Ad or link content (utm_content)"),
			col("landing_page", str, true, "Page the touch landed on"),
			col("referrer_host", str, true, "Host of the referrer"),
			col("event_name", str, true, "Event that made the touch (session_start, form_submit, ...)"),
		)},
	{Name: FctPageView, Mode: ReplaceRange, DateColumn: "occurred_at", ClusterBy: []string{"page_path"},
		Description: "One page view (for drop-off and content views).",
		Schema: schema(
			col("person_id", str, false, "Stitched person"),
			col("anonymous_id", str, true, "The source's own cookie id"),
			col("session_id", str, true, "Session of the view"),
			col("occurred_at", tsUTC, false, "When (UTC)"),
			col("page_location", str, true, "Full URL"),
			col("page_path", str, true, "Path of the URL, without query string"),
			col("page_title", str, true, "Page title"),
			col("referrer_host", str, true, "Host of the referrer"),
		)},
	{Name: FctConversion, Mode: ReplaceRange, DateColumn: "occurred_at", ClusterBy: []string{"conversion_type"},
		Description: "One conversion: a CRM milestone (lead, mql, sql, opportunity, customer), a touch-log conversion or a micro-conversion.",
		Schema: schema(
			col("conversion_id", str, false, "Stable id of the conversion"),
			col("person_id", str, false, "Stitched person"),
			col("occurred_at", tsUTC, false, "When (UTC)"),
			col("conversion_type", str, false, "lead, mql, sql, opportunity, customer, or an event name"),
			col("revenue", f64, true, "Revenue of the conversion (won amount for customer)"),
			col("currency", str, true, "Currency of revenue"),
			col("crm_deal_id", str, true, "Deal behind the conversion"),
			col("account_id", str, true, "Account of the conversion: the deal's account, else the person's; NULL when none"),
		)},
	{Name: FctAttribution, Mode: ReplaceRange, DateColumn: "occurred_at", ClusterBy: []string{"model", "channel"},
		Description: "Credit of one touchpoint for one conversion under one model; credits of a (conversion, model) sum to 1.",
		Schema: schema(
			col("conversion_id", str, false, "The conversion"),
			col("touchpoint_id", str, true, "The touch credited; NULL on the (none) row of a conversion without touches"),
			col("model", str, false, "Attribution model"),
			col("credit", f64, false, "Share of the conversion, 0..1"),
			col("revenue_credit", f64, true, "credit × the conversion's revenue"),
			col("channel", str, false, "Channel of the touch, (none) without touch"),
			col("campaign", str, true, "Campaign of the touch"),
			col("term", str, true, "Keyword of the touch"),
			col("conversion_type", str, false, "Type of the conversion"),
			col("occurred_at", tsUTC, false, "When the conversion happened"),
			col("touch_occurred_at", tsUTC, true, "When the touch happened"),
			col("person_id", str, false, "Stitched person of the conversion"),
			existing(col("scope", str, false, "Journey scope: person (the converting person's touches), deal (the touches of every contact on the conversion's deal) or account (the touches of every person of the conversion's account); credits of a (conversion, model, scope) sum to 1. Rows written before scopes existed are person"),
				"person"), // a warehouse's older rows were person scope: loaders add the column with it
			col("touch_person_id", str, true, "Stitched person who made the touch (under deal and account scope, another member of the buying committee); NULL on the (none) row"),
		)},
	{Name: FctMarkovRemovalEffect, Mode: ReplaceAll,
		Description: "Markov-chain removal effect of one channel for one conversion type, and the conversions and value its share earns.",
		Schema: schema(
			col("conversion_type", str, false, "Conversion type of the journeys"),
			col("channel", str, false, "Channel removed"),
			col("markov_order", i64, false, "Order of the chain"),
			col("removal_effect", f64, false, "1 − P(conversion | channel removed) / P(conversion)"),
			col("removal_effect_share", f64, false, "removal_effect / sum of removal effects"),
			col("conversions", f64, false, "share × total conversions"),
			col("value", f64, false, "share × total conversion value"),
			col("scope", str, false, "Journey scope of the journeys the chain was fitted on: person, deal or account"),
		)},
	{Name: IdentityConflicts, Mode: ReplaceAll,
		Description: "An identity edge the guardrails refused, with the reason.",
		Schema: schema(
			col("identifier_type", str, false, "Type of the first identifier"),
			col("identifier", str, false, "First identifier"),
			col("other_type", str, false, "Type of the identifier it would have joined"),
			col("other_identifier", str, false, "That identifier"),
			col("reason", str, false, "Why the edge was refused"),
		)},
	{Name: IdentityEdge, Mode: ReplaceAll, ClusterBy: []string{"identifier_type"},
		Description: "One observation that two identifiers are one person, with where it comes from: why identifiers were stitched together, and the identity graph an incremental run resumes from.",
		Schema: schema(
			col("identifier_type", str, false, "Type of the first identifier"),
			col("identifier", str, false, "First identifier (as in bridge_identity)"),
			col("other_type", str, false, "Type of the other identifier"),
			col("other_identifier", str, false, "The other identifier"),
			col("kind", str, false, "Where the edge comes from: crm_link, deal_contact, crm_email, event_user_id, crm_cookie, event_email"),
			col("observed_at", tsUTC, true, "Earliest time the edge was observed"),
		)},
	{Name: FctSpend, Mode: ReplaceRange, DateColumn: "date", ClusterBy: []string{"channel", "campaign"},
		Description: "Ad cost of one campaign on one day.",
		Schema: schema(
			col("date", date, false, "Day as the ad platform reports it"),
			col("channel", str, false, "Channel group of the spend"),
			col("source", str, false, "Platform source (google, facebook, linkedin, ...)"),
			col("medium", str, false, "Medium (cpc, paid_social, display, ...)"),
			col("campaign", str, true, "Campaign, matching utm_campaign"),
			col("term", str, true, "Keyword, where the export has one"),
			col("cost", f64, false, "Cost in currency"),
			col("clicks", i64, true, "Clicks"),
			col("impressions", i64, true, "Impressions"),
			col("currency", str, false, "ISO currency of cost"),
		)},
	{Name: FctDealStage, Mode: ReplaceAll,
		Description: "One stay of a CRM deal in a pipeline stage: when it entered and left, how long it stayed, and how the deal ended.",
		Schema: schema(
			col("crm", str, false, "CRM of the deal: hubspot or salesforce"),
			col("deal_id", str, false, "CRM deal / opportunity id"),
			col("person_id", str, true, "The deal's person (its primary contact)"),
			col("pipeline", str, true, "Pipeline of the deal"),
			col("stage", str, false, "Stage label as the CRM shows it"),
			col("stage_number", i64, false, "1 for the deal's first stage, 2 for the next, ... in time order"),
			col("entered_at", tsUTC, false, "When the deal entered the stage (UTC)"),
			col("exited_at", tsUTC, true, "When it entered its next stage; NULL while it is still there"),
			col("days_in_stage", f64, true, "Days from entered_at to exited_at; NULL while it is still there"),
			col("is_current", bln, false, "The deal is in this stage now"),
			col("deal_is_closed", bln, false, "The deal is closed (won or lost)"),
			col("deal_is_won", bln, false, "The deal is won"),
			col("amount", f64, true, "Amount of the deal"),
			col("currency", str, true, "Currency of the amount"),
		)},
	{Name: RunLog, Mode: Append,
		Description: "One run of the job: range, inputs, counts and status.",
		Schema: schema(
			col("run_id", str, false, "Id of the run"),
			col("started_at", tsUTC, false, "Start (UTC)"),
			col("finished_at", tsUTC, false, "End (UTC)"),
			col("range_from", date, false, "First day of the range"),
			col("range_to", date, false, "Last day of the range"),
			col("inputs", str, false, "Source specs, comma-separated"),
			col("warehouse", str, false, "Warehouse spec"),
			col("row_counts", str, false, "JSON object: rows read per input and rows loaded per table"),
			col("rejected_count", i64, false, "Rows sent to rejected_rows"),
			col("status", str, false, "success or failed"),
			col("message", str, true, "Error or notes"),
			col("version", str, false, "closedloop version"),
			col("stage_seconds", str, true, "JSON object: wall seconds of each stage of the run (sources read, identity, sessions, journeys, each model, each table loaded); NULL for runs of versions before it"),
		)},
	{Name: RejectedRows, Mode: Append,
		Description: "One input row that could not be used: where it was and why.",
		Schema: schema(
			col("run_id", str, false, "Run that read the row"),
			col("source", str, false, "Source spec"),
			col("location", str, false, "file:line or API object id"),
			col("reason", str, false, "What is wrong and what to do"),
			col("raw", str, true, "The raw row (cut at 4 KiB)"),
		)},
}

// Lookup returns the contract table called name.
func Lookup(name string) (Table, bool) {
	for _, t := range Tables {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// Description returns the description stored on a field.
func Description(f arrow.Field) string {
	if i := f.Metadata.FindKey("description"); i >= 0 {
		return f.Metadata.Values()[i]
	}
	return ""
}

// Col returns the index of a column of the warehouse table called table, panicking on
// a typo: transforms resolve the columns they write once, at start.
func Col(table, name string) int {
	t, ok := Lookup(table)
	if !ok {
		panic("load: no table " + table)
	}
	idx := t.Schema.FieldIndices(name)
	if len(idx) != 1 {
		panic("load: no column " + name + " in " + table)
	}
	return idx[0]
}
