package transform

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/transform/normalize"
)

// columns hands out the columns of input tables as single arrays (chunks
// concatenated) and releases them all at the end.
type columns struct {
	mem  memory.Allocator
	held []arrow.Array
}

func (c *columns) get(t arrow.Table, name string) arrow.Array {
	idx := t.Schema().FieldIndices(name)
	if len(idx) != 1 {
		panic("transform: no column " + name)
	}
	col := t.Column(idx[0])
	var a arrow.Array
	switch chunks := col.Data().Chunks(); len(chunks) {
	case 0:
		a = array.MakeArrayOfNull(c.mem, col.DataType(), 0)
	case 1:
		a = chunks[0]
		a.Retain()
	default:
		var err error
		if a, err = array.Concatenate(chunks, c.mem); err != nil {
			panic("transform: concatenate " + name + ": " + err.Error())
		}
	}
	c.held = append(c.held, a)
	return a
}

func (c *columns) str(t arrow.Table, name string) *array.String {
	return c.get(t, name).(*array.String)
}
func (c *columns) ts(t arrow.Table, name string) *array.Timestamp {
	return c.get(t, name).(*array.Timestamp)
}
func (c *columns) f64(t arrow.Table, name string) *array.Float64 {
	return c.get(t, name).(*array.Float64)
}
func (c *columns) i64(t arrow.Table, name string) *array.Int64 { return c.get(t, name).(*array.Int64) }
func (c *columns) bool(t arrow.Table, name string) *array.Boolean {
	return c.get(t, name).(*array.Boolean)
}
func (c *columns) date(t arrow.Table, name string) *array.Date32 {
	return c.get(t, name).(*array.Date32)
}

// optStr is column name of t, nil when t is nil or has no such column (a table of an
// older schema, a test's).
func (c *columns) optStr(t arrow.Table, name string) *array.String {
	if t == nil || len(t.Schema().FieldIndices(name)) != 1 {
		return nil
	}
	return c.str(t, name)
}

func (c *columns) release() {
	for _, a := range c.held {
		a.Release()
	}
	c.held = nil
}

// sv is the value of a nullable string column, "" for null.
func sv(a *array.String, i int) string {
	if a.IsNull(i) {
		return ""
	}
	return a.Value(i)
}

// tv is the value of a nullable timestamp column in µs, 0 for null.
func tv(a *array.Timestamp, i int) int64 {
	if a.IsNull(i) {
		return 0
	}
	return int64(a.Value(i))
}

// eventCols are the columns of the events table (extract.EventsSchema) the steps read.
type eventCols struct {
	n                                     int
	at                                    *array.Timestamp
	kind, name                            *array.String
	anon, user, email, record, sessionKey *array.String
	location, title, referrer             *array.String
	utmSource, utmMedium, utmCampaign     *array.String
	utmTerm, utmContent, gclid            *array.String
	channel, currency                     *array.String
	isConversion                          *array.Boolean
	value                                 *array.Float64
	// link is nil unless the persona rules read downloads.
	link *array.String
}

func readEvents(c *columns, t arrow.Table, links bool) *eventCols {
	e := &eventCols{
		at:   c.ts(t, "occurred_at"),
		kind: c.str(t, "kind"), name: c.str(t, "event_name"),
		anon: c.str(t, "anonymous_id"), user: c.str(t, "user_id"), email: c.str(t, "email"),
		record: c.str(t, "crm_record"), sessionKey: c.str(t, "session_key"),
		location: c.str(t, "page_location"), title: c.str(t, "page_title"), referrer: c.str(t, "page_referrer"),
		utmSource: c.str(t, "utm_source"), utmMedium: c.str(t, "utm_medium"), utmCampaign: c.str(t, "utm_campaign"),
		utmTerm: c.str(t, "utm_term"), utmContent: c.str(t, "utm_content"), gclid: c.str(t, "gclid"),
		channel: c.str(t, "channel"), currency: c.str(t, "currency"),
		isConversion: c.bool(t, "is_conversion"), value: c.f64(t, "conversion_value"),
	}
	if links {
		e.link = c.str(t, "link_url")
	}
	e.n = e.at.Len()
	return e
}

// traffic is what normalize.Classify reads of event i.
func (e *eventCols) traffic(i int) normalize.Input {
	return normalize.Input{PageLocation: sv(e.location, i), Referrer: sv(e.referrer, i),
		UTMSource: sv(e.utmSource, i), UTMMedium: sv(e.utmMedium, i), UTMCampaign: sv(e.utmCampaign, i),
		UTMTerm: sv(e.utmTerm, i), UTMContent: sv(e.utmContent, i), GCLID: sv(e.gclid, i)}
}

// mayChangeCampaign tells whether event i carries anything that can make campaign
// information: an explicit source, a click id, a referrer or a query string.
func (e *eventCols) mayChangeCampaign(i int) bool {
	return sv(e.utmSource, i) != "" || sv(e.gclid, i) != "" || sv(e.referrer, i) != "" ||
		strings.Contains(sv(e.location, i), "?")
}

// contactCols are the columns of the contacts table (extract.ContactsSchema).
type contactCols struct {
	n                                    int
	crm, id, email, cookie, linked       *array.String
	created, updated                     *array.Timestamp
	jobTitle, company, industry, country *array.String
	originalSource                       *array.String
	size                                 *array.Int64
	account                              *array.String // nil: no account_id column
	// stages are lead_at, mql_at, sql_at, opportunity_at and customer_at: the dates
	// of milestones, in order.
	stages []*array.Timestamp
}

func readContacts(c *columns, t arrow.Table) *contactCols {
	ct := &contactCols{
		crm: c.str(t, "crm"), id: c.str(t, "contact_id"), email: c.str(t, "email"),
		cookie: c.str(t, "cookie_id"), linked: c.str(t, "linked_ids"),
		created: c.ts(t, "created_at"), updated: c.ts(t, "updated_at"),
		jobTitle: c.str(t, "job_title"), company: c.str(t, "company"), industry: c.str(t, "industry"),
		country: c.str(t, "country"), originalSource: c.str(t, "original_source"),
		size: c.i64(t, "company_size"), account: c.optStr(t, "account_id"),
	}
	for _, m := range milestones {
		ct.stages = append(ct.stages, c.ts(t, m+"_at"))
	}
	ct.n = ct.id.Len()
	return ct
}

// dealCols are the columns of the deals table (extract.DealsSchema).
type dealCols struct {
	n                 int
	crm, id, currency *array.String
	amount            *array.Float64
	created, closed   *array.Timestamp
	isClosed, isWon   *array.Boolean
	account           *array.String // nil: no account_id column
}

func readDeals(c *columns, t arrow.Table) *dealCols {
	d := &dealCols{crm: c.str(t, "crm"), id: c.str(t, "deal_id"), currency: c.str(t, "currency"),
		amount: c.f64(t, "amount"), created: c.ts(t, "created_at"), closed: c.ts(t, "closed_at"),
		isClosed: c.bool(t, "is_closed"), isWon: c.bool(t, "is_won"), account: c.optStr(t, "account_id")}
	d.n = d.id.Len()
	return d
}

// key is the deal's id across CRMs, "crm:deal_id".
func (d *dealCols) key(i int) string { return d.crm.Value(i) + ":" + d.id.Value(i) }

// dealContactCols are the columns of the deal-contact associations
// (extract.DealContactsSchema).
type dealContactCols struct {
	n                  int
	crm, deal, contact *array.String
	primary            *array.Boolean
}

func readDealContacts(c *columns, t arrow.Table) *dealContactCols {
	dc := &dealContactCols{crm: c.str(t, "crm"), deal: c.str(t, "deal_id"), contact: c.str(t, "contact_id"),
		primary: c.bool(t, "is_primary")}
	dc.n = dc.deal.Len()
	return dc
}

// accountCols are the columns of the accounts table (extract.AccountsSchema).
type accountCols struct {
	n                               int
	crm, id, name, domain, industry *array.String
	country, owner                  *array.String
	size                            *array.Int64
}

// readAccounts reads t; a nil t is no accounts.
func readAccounts(c *columns, t arrow.Table) *accountCols {
	if t == nil {
		return &accountCols{}
	}
	a := &accountCols{crm: c.str(t, "crm"), id: c.str(t, "account_id"), name: c.str(t, "name"), domain: c.str(t, "domain"),
		industry: c.str(t, "industry"), country: c.str(t, "country"), owner: c.str(t, "owner"), size: c.i64(t, "company_size")}
	a.n = a.id.Len()
	return a
}

// crmCols are the CRM tables: contacts, deals, their associations and accounts.
type crmCols struct {
	contacts     *contactCols
	deals        *dealCols
	dealContacts *dealContactCols
	accounts     *accountCols
}

// spendCols are the columns of the spend table (extract.SpendSchema).
type spendCols struct {
	n                        int
	day                      *array.Date32
	channel, source, medium  *array.String
	campaign, term, currency *array.String
	cost                     *array.Float64
	clicks, impressions      *array.Int64
}

func readSpend(c *columns, t arrow.Table) *spendCols {
	s := &spendCols{day: c.date(t, "date"), channel: c.str(t, "channel"), source: c.str(t, "source"),
		medium: c.str(t, "medium"), campaign: c.str(t, "campaign"), term: c.str(t, "term"),
		currency: c.str(t, "currency"), cost: c.f64(t, "cost"),
		clicks: c.i64(t, "clicks"), impressions: c.i64(t, "impressions")}
	s.n = s.day.Len()
	return s
}

// dealStageCols are the columns of the deal stage history (extract.DealStagesSchema).
type dealStageCols struct {
	n                          int
	crm, deal, pipeline, stage *array.String
	entered                    *array.Timestamp
}

func readDealStages(c *columns, t arrow.Table) *dealStageCols {
	ds := &dealStageCols{crm: c.str(t, "crm"), deal: c.str(t, "deal_id"), pipeline: c.str(t, "pipeline"),
		stage: c.str(t, "stage"), entered: c.ts(t, "entered_at")}
	ds.n = ds.deal.Len()
	return ds
}

// key is the entry's deal id across CRMs, "crm:deal_id".
func (ds *dealStageCols) key(i int) string { return ds.crm.Value(i) + ":" + ds.deal.Value(i) }

// readColumns are the columns of each CRM input table the transform reads
// (readContacts, readDeals, readDealContacts, readDealStages, readAccounts).
var readColumns = map[string][]string{
	extract.TableContacts: {"crm", "contact_id", "email", "cookie_id", "linked_ids", "created_at", "updated_at",
		"lead_at", "mql_at", "sql_at", "opportunity_at", "customer_at",
		"original_source", "job_title", "company", "industry", "company_size", "country", "account_id"},
	extract.TableDeals:        {"crm", "deal_id", "currency", "amount", "created_at", "closed_at", "is_closed", "is_won", "account_id"},
	extract.TableAccounts:     {"crm", "account_id", "name", "domain", "industry", "company_size", "country", "owner"},
	extract.TableDealContacts: {"crm", "deal_id", "contact_id", "is_primary"},
	extract.TableDealStages:   {"crm", "deal_id", "pipeline", "stage", "entered_at"},
}

// InputColumns are the columns of input table name (extract.TableContacts, ...) the
// transform reads; nil when it may read them all. A run keeps only these
// (extract.Collector.Keep): the others (each row's input and location, names,
// pipelines) need not wait in memory until the run finishes.
func InputColumns(name string) []string { return readColumns[name] }
