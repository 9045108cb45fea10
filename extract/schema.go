package extract

import "github.com/apache/arrow-go/v18/arrow"

// Canonical table names: every extractor writes only these, with exactly these schemas.
const (
	// TableEvents holds analytics events: page views, tracked interactions, touch-log rows.
	TableEvents = "events"
	// TableContacts holds CRM people (HubSpot contacts, Salesforce leads and contacts).
	TableContacts = "crm_contacts"
	// TableDeals holds CRM deals / opportunities, won, lost and open.
	TableDeals = "crm_deals"
	// TableDealContacts links deals to the contacts on them.
	TableDealContacts = "crm_deal_contacts"
	// TableSpend holds daily ad cost per platform and campaign.
	TableSpend = "spend"
	// TableDealStages holds the stage changes of CRM deals (stage history).
	TableDealStages = "crm_deal_stages"
	// TableAccounts holds CRM accounts: HubSpot companies, Salesforce Accounts.
	TableAccounts = "crm_accounts"
)

// Event kinds (column kind of TableEvents).
const (
	// KindPageView is a page (or screen) view: kept for drop-off analysis, never a touch.
	KindPageView = "page_view"
	// KindEvent is any other analytics event; sessionization decides if it starts a touch.
	KindEvent = "event"
	// KindTouch is a row that is a touch by itself (touch logs): no sessionization.
	KindTouch = "touch"
	// KindIdentify ties identifiers together (Segment identify/alias, a form submit with an e-mail).
	KindIdentify = "identify"
)

var (
	tsUTC = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	str   = arrow.BinaryTypes.String
	f64   = arrow.PrimitiveTypes.Float64
	i64   = arrow.PrimitiveTypes.Int64
	bln   = arrow.FixedWidthTypes.Boolean
	date  = arrow.FixedWidthTypes.Date32
)

func field(name string, t arrow.DataType, nullable bool) arrow.Field {
	return arrow.Field{Name: name, Type: t, Nullable: nullable}
}

// EventsSchema is the canonical analytics event. Campaign columns hold what the source
// states explicitly (GA4 collected_traffic_source / event params, Segment
// context.campaign); normalization adds what the URL, click ids and referrer imply.
var EventsSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),         // source spec, e.g. "ga4:exports/*.ndjson.gz"
	field("location", str, false),      // file:line or API object of the raw row
	field("occurred_at", tsUTC, false), // UTC
	field("kind", str, false),          // KindPageView, KindEvent, KindTouch, KindIdentify
	field("event_name", str, false),    // GA4 event_name, Segment event, touch-log interaction
	field("anonymous_id", str, true),   // the source's cookie id (user_pseudo_id, anonymousId, cookie)
	field("user_id", str, true),        // site-set user id
	field("email", str, true),          // e-mail captured with the event (form submit, identify)
	field("session_key", str, true),    // the source's own session id (GA4 ga_session_id)
	field("page_location", str, true),  // full URL with query string
	field("page_title", str, true),
	field("page_referrer", str, true),
	field("utm_source", str, true), // explicit campaign info, not parsed from the URL
	field("utm_medium", str, true),
	field("utm_campaign", str, true),
	field("utm_term", str, true),
	field("utm_content", str, true),
	field("gclid", str, true),            // click id reported outside the URL
	field("channel", str, true),          // channel named by the source itself (touch logs): kept as given
	field("is_conversion", bln, false),   // the row is also a conversion (touch logs, micro-conversions)
	field("conversion_value", f64, true), // revenue of that conversion
	field("currency", str, true),
	// crm_record is the CRM person the event belongs to, as TYPE:VALUE with
	// bridge_identity's types (hubspot_contact:123, salesforce_lead:00Q...): set by CRM
	// extractors on selling activities and e-mail events, which carry no cookie.
	field("crm_record", str, true),
	// link_url is the link an event followed: the file of a download (GA4 file_download's
	// link_url or file_name parameter, Segment properties.link_url, else file_url, else a
	// track's properties.url), the target of an outbound click. Persona rules read
	// downloads from it.
	field("link_url", str, true),
}, nil)

// ContactsSchema is a CRM person with the lifecycle milestones that become conversions.
var ContactsSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),
	field("location", str, false),
	field("crm", str, false),        // "hubspot" or "salesforce"
	field("contact_id", str, false), // the CRM's own id
	field("email", str, true),
	field("cookie_id", str, true), // analytics cookie id stored on the record (configured property)
	field("created_at", tsUTC, true),
	field("updated_at", tsUTC, true),
	field("lifecycle_stage", str, true),
	field("lead_at", tsUTC, true),
	field("mql_at", tsUTC, true),
	field("sql_at", tsUTC, true),
	field("opportunity_at", tsUTC, true),
	field("customer_at", tsUTC, true),
	field("original_source", str, true), // e.g. HubSpot hs_analytics_source
	field("original_source_data_1", str, true),
	field("original_source_data_2", str, true),
	// linked_ids are other identifiers of the same person the CRM knows, as
	// TYPE:VALUE separated by ";" with bridge_identity's types: merged records
	// (hubspot_contact:123), the contact a lead was converted into
	// (salesforce_contact:003...), additional e-mails (email:x@y.com).
	field("linked_ids", str, true),
	// Firmographics and demographics the persona rules read (CLOSEDLOOP_PERSONAS), as
	// the CRM holds them: job title, company (account) name, industry, number of
	// employees (a range such as HubSpot's "25-50" or "1000+" gives its lower bound) and
	// country.
	field("job_title", str, true),
	field("company", str, true),
	field("industry", str, true),
	field("company_size", i64, true),
	field("country", str, true),
	// account_id is the CRM account (crm_accounts.account_id of the same crm) the
	// person belongs to: HubSpot's primary company association, Salesforce's
	// Contact.AccountId or a converted lead's ConvertedAccountId; NULL when none.
	field("account_id", str, true),
}, nil)

// DealsSchema is a CRM deal; lost and open deals are kept for the funnel.
var DealsSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),
	field("location", str, false),
	field("crm", str, false),
	field("deal_id", str, false),
	field("deal_name", str, true),
	field("pipeline", str, true),
	field("stage", str, true),
	field("amount", f64, true),
	field("currency", str, true),
	field("created_at", tsUTC, true),
	field("closed_at", tsUTC, true),
	field("is_closed", bln, false),
	field("is_won", bln, false),
	// account_id is the account that buys (HubSpot's deal-company association,
	// Salesforce's Opportunity.AccountId); NULL when none.
	field("account_id", str, true),
}, nil)

// AccountsSchema is a CRM account: the company that buys, whose people are its
// buying committee.
var AccountsSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),
	field("location", str, false),
	field("crm", str, false),
	field("account_id", str, false),
	field("name", str, true),
	field("domain", str, true), // the company's web domain, lower-case, without www.
	field("industry", str, true),
	field("company_size", i64, true), // employees (lower bound of a range)
	field("country", str, true),
	field("owner", str, true), // the account owner's name
}, nil)

// DealContactsSchema links a deal to one of its contacts.
var DealContactsSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),
	field("crm", str, false),
	field("deal_id", str, false),
	field("contact_id", str, false),
	// is_primary marks the deal's primary contact (Salesforce's primary contact role);
	// a deal without one joins its contact with the smallest id.
	field("is_primary", bln, true),
}, nil)

// DealStagesSchema is one entry of a deal into a stage (Salesforce OpportunityHistory,
// HubSpot's date-entered-stage properties): a deal's rows in time order are its path
// through the pipeline.
var DealStagesSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),
	field("location", str, false),
	field("crm", str, false),
	field("deal_id", str, false),
	field("pipeline", str, true),
	field("stage", str, false),        // the stage's label as the CRM shows it
	field("entered_at", tsUTC, false), // when the deal entered the stage
}, nil)

// SpendSchema is one day of cost for one campaign on one platform.
var SpendSchema = arrow.NewSchema([]arrow.Field{
	field("input", str, false),
	field("location", str, false),
	field("date", date, false),
	field("channel", str, true), // set when the export implies it; else derived from source/medium
	field("source", str, false),
	field("medium", str, false),
	field("campaign", str, true),
	field("term", str, true),
	field("cost", f64, false),
	field("clicks", i64, true),
	field("impressions", i64, true),
	field("currency", str, false),
}, nil)

// Schemas maps every canonical table name to its schema.
var Schemas = map[string]*arrow.Schema{
	TableEvents:       EventsSchema,
	TableContacts:     ContactsSchema,
	TableDeals:        DealsSchema,
	TableDealContacts: DealContactsSchema,
	TableSpend:        SpendSchema,
	TableDealStages:   DealStagesSchema,
	TableAccounts:     AccountsSchema,
}
