package hubspot

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
)

// Column indexes of the canonical tables, resolved once.
var (
	ctInput       = extract.Col(extract.TableContacts, "input")
	ctLocation    = extract.Col(extract.TableContacts, "location")
	ctCRM         = extract.Col(extract.TableContacts, "crm")
	ctContactID   = extract.Col(extract.TableContacts, "contact_id")
	ctEmail       = extract.Col(extract.TableContacts, "email")
	ctCookieID    = extract.Col(extract.TableContacts, "cookie_id")
	ctCreatedAt   = extract.Col(extract.TableContacts, "created_at")
	ctUpdatedAt   = extract.Col(extract.TableContacts, "updated_at")
	ctStage       = extract.Col(extract.TableContacts, "lifecycle_stage")
	ctLeadAt      = extract.Col(extract.TableContacts, "lead_at")
	ctMQLAt       = extract.Col(extract.TableContacts, "mql_at")
	ctSQLAt       = extract.Col(extract.TableContacts, "sql_at")
	ctOppAt       = extract.Col(extract.TableContacts, "opportunity_at")
	ctCustomerAt  = extract.Col(extract.TableContacts, "customer_at")
	ctSource      = extract.Col(extract.TableContacts, "original_source")
	ctSourceData1 = extract.Col(extract.TableContacts, "original_source_data_1")
	ctSourceData2 = extract.Col(extract.TableContacts, "original_source_data_2")
	ctLinkedIDs   = extract.Col(extract.TableContacts, "linked_ids")
	ctJobTitle    = extract.Col(extract.TableContacts, "job_title")
	ctCompany     = extract.Col(extract.TableContacts, "company")
	ctIndustry    = extract.Col(extract.TableContacts, "industry")
	ctSize        = extract.Col(extract.TableContacts, "company_size")
	ctCountry     = extract.Col(extract.TableContacts, "country")
	ctAccountID   = extract.Col(extract.TableContacts, "account_id")

	dInput     = extract.Col(extract.TableDeals, "input")
	dLocation  = extract.Col(extract.TableDeals, "location")
	dCRM       = extract.Col(extract.TableDeals, "crm")
	dDealID    = extract.Col(extract.TableDeals, "deal_id")
	dDealName  = extract.Col(extract.TableDeals, "deal_name")
	dPipeline  = extract.Col(extract.TableDeals, "pipeline")
	dStage     = extract.Col(extract.TableDeals, "stage")
	dAmount    = extract.Col(extract.TableDeals, "amount")
	dCurrency  = extract.Col(extract.TableDeals, "currency")
	dCreatedAt = extract.Col(extract.TableDeals, "created_at")
	dClosedAt  = extract.Col(extract.TableDeals, "closed_at")
	dIsClosed  = extract.Col(extract.TableDeals, "is_closed")
	dIsWon     = extract.Col(extract.TableDeals, "is_won")
	dAccountID = extract.Col(extract.TableDeals, "account_id")

	dcInput     = extract.Col(extract.TableDealContacts, "input")
	dcCRM       = extract.Col(extract.TableDealContacts, "crm")
	dcDealID    = extract.Col(extract.TableDealContacts, "deal_id")
	dcContactID = extract.Col(extract.TableDealContacts, "contact_id")

	dsInput     = extract.Col(extract.TableDealStages, "input")
	dsLocation  = extract.Col(extract.TableDealStages, "location")
	dsCRM       = extract.Col(extract.TableDealStages, "crm")
	dsDealID    = extract.Col(extract.TableDealStages, "deal_id")
	dsPipeline  = extract.Col(extract.TableDealStages, "pipeline")
	dsStage     = extract.Col(extract.TableDealStages, "stage")
	dsEnteredAt = extract.Col(extract.TableDealStages, "entered_at")

	evInput      = extract.Col(extract.TableEvents, "input")
	evLocation   = extract.Col(extract.TableEvents, "location")
	evOccurredAt = extract.Col(extract.TableEvents, "occurred_at")
	evKind       = extract.Col(extract.TableEvents, "kind")
	evName       = extract.Col(extract.TableEvents, "event_name")
	evEmail      = extract.Col(extract.TableEvents, "email")
	evPage       = extract.Col(extract.TableEvents, "page_location")
	evSource     = extract.Col(extract.TableEvents, "utm_source")
	evMedium     = extract.Col(extract.TableEvents, "utm_medium")
	evCampaign   = extract.Col(extract.TableEvents, "utm_campaign")
	evChannel    = extract.Col(extract.TableEvents, "channel")
	evConversion = extract.Col(extract.TableEvents, "is_conversion")
	evRecord     = extract.Col(extract.TableEvents, "crm_record")
)

// contactRow is one contact, checked before anything is appended to a builder.
type contactRow struct {
	id, email, cookie, stage              string
	created, updated                      time.Time
	lead, mql, sql, opportunity, customer time.Time
	source, sourceData1, sourceData2      string
	linked                                string // linked_ids: merged contacts, additional e-mails

	jobTitle, company, industry, country string
	account                              string // account_id: the primary company, when written
	companyID                            string // the associatedcompanyid property, as read
	size                                 int64  // company_size, set when hasSize
	hasSize                              bool
	badSize                              string // a numemployees value that is not a size
	badCookie                            string // a cookie property value that is no client id
}

// dealRow is one deal, checked before anything is appended to a builder.
type dealRow struct {
	id, name, pipeline, stage, currency string
	amount                              float64
	hasAmount                           bool
	created, closed                     time.Time
	st                                  stage
	account                             string // account_id: the primary company, when written
}

// touchRow is one touch from the CRM: a selling activity or a marketing e-mail click.
type touchRow struct {
	at                       time.Time
	name, channel            string
	source, medium, campaign string
	page                     string
	record                   string // crm_record: hubspot_contact:ID
	email                    string
}

// badText returns the first extract.BadText reason of the fields given as name, value
// pairs, "" when every value can be stored.
func badText(fields ...string) string {
	for i := 0; i+1 < len(fields); i += 2 {
		if reason := extract.BadText(fields[i], fields[i+1]); reason != "" {
			return reason
		}
	}
	return ""
}

// badText says why a contact's text cannot be stored, "" when it can.
func (c *contactRow) badText() string {
	return badText("property email", c.email, "cookie id", c.cookie, "property lifecyclestage", c.stage,
		"property hs_analytics_source", c.source, "property hs_analytics_source_data_1", c.sourceData1,
		"property hs_analytics_source_data_2", c.sourceData2, "linked ids (hs_merged_object_ids, hs_additional_emails)", c.linked,
		"property "+propJobTitle, c.jobTitle, "property "+propCompany, c.company, "property "+propIndustry, c.industry,
		"property "+propCountry, c.country, "property "+propCompanyID, c.companyID)
}

// badText says why a deal's text cannot be stored, "" when it can.
func (d *dealRow) badText() string {
	return badText("property dealname", d.name, "property pipeline", d.pipeline, "property dealstage", d.stage,
		"property deal_currency_code", d.currency)
}

// badText says why a touch's text cannot be stored, "" when it can.
func (t *touchRow) badText() string {
	return badText("owner or team name (utm_source)", t.source, "e-mail campaign name (utm_campaign)", t.campaign,
		"clicked URL", t.page, "recipient", t.email, "contact id", t.record, "event name", t.name,
		"channel", t.channel, "medium", t.medium)
}

// rows writes one reader's rows: one builder per table, created on first use. Not
// safe for concurrent use: concurrent readers have one each.
type rows struct {
	mem  memory.Allocator
	spec string
	w    extract.Writer

	contacts, deals, dealContacts, dealStages, events, accounts *extract.Builder
}

func newRows(mem memory.Allocator, spec string, w extract.Writer) *rows {
	return &rows{mem: mem, spec: spec, w: w}
}

func (r *rows) builder(b **extract.Builder, table string) *extract.Builder {
	if *b == nil {
		*b = extract.NewBuilder(r.mem, table, r.w)
	}
	return *b
}

// contact writes one contact row located at loc.
func (r *rows) contact(ctx context.Context, loc string, c *contactRow) error {
	b := r.builder(&r.contacts, extract.TableContacts)
	b.Str(ctInput, r.spec)
	b.Str(ctLocation, loc)
	b.Str(ctCRM, crm)
	b.Str(ctContactID, c.id)
	b.Str(ctEmail, c.email)
	b.Str(ctCookieID, c.cookie)
	b.Time(ctCreatedAt, c.created)
	b.Time(ctUpdatedAt, c.updated)
	b.Str(ctStage, c.stage)
	b.Time(ctLeadAt, c.lead)
	b.Time(ctMQLAt, c.mql)
	b.Time(ctSQLAt, c.sql)
	b.Time(ctOppAt, c.opportunity)
	b.Time(ctCustomerAt, c.customer)
	b.Str(ctSource, c.source)
	b.Str(ctSourceData1, c.sourceData1)
	b.Str(ctSourceData2, c.sourceData2)
	b.Str(ctLinkedIDs, c.linked)
	b.Str(ctJobTitle, c.jobTitle)
	b.Str(ctCompany, c.company)
	b.Str(ctIndustry, c.industry)
	b.Int(ctSize, c.size, c.hasSize)
	b.Str(ctCountry, c.country)
	b.Str(ctAccountID, c.account)
	return b.End(ctx)
}

// deal writes one deal row located at loc.
func (r *rows) deal(ctx context.Context, loc string, d *dealRow) error {
	b := r.builder(&r.deals, extract.TableDeals)
	b.Str(dInput, r.spec)
	b.Str(dLocation, loc)
	b.Str(dCRM, crm)
	b.Str(dDealID, d.id)
	b.Str(dDealName, d.name)
	b.Str(dPipeline, d.pipeline)
	b.Str(dStage, d.stage)
	b.Float(dAmount, d.amount, d.hasAmount)
	b.Str(dCurrency, d.currency)
	b.Time(dCreatedAt, d.created)
	b.Time(dClosedAt, d.closed)
	b.Bool(dIsClosed, d.st.closed)
	b.Bool(dIsWon, d.st.won)
	b.Str(dAccountID, d.account)
	return b.End(ctx)
}

// account writes one company row located at loc.
func (r *rows) account(ctx context.Context, loc string, a *accountRow) error {
	b := r.builder(&r.accounts, extract.TableAccounts)
	b.SetAccount(extract.Account{Input: r.spec, Location: loc, CRM: crm, ID: a.id, Name: a.name, Domain: a.domain,
		Industry: a.industry, Size: a.size, HasSize: a.hasSize, Country: a.country, Owner: a.owner})
	return b.End(ctx)
}

// dealContact writes one deal-contact link.
func (r *rows) dealContact(ctx context.Context, deal, contact string) error {
	b := r.builder(&r.dealContacts, extract.TableDealContacts)
	b.Str(dcInput, r.spec)
	b.Str(dcCRM, crm)
	b.Str(dcDealID, deal)
	b.Str(dcContactID, contact)
	return b.End(ctx)
}

// dealStage writes one entry of deal into a stage (labels) located at loc.
func (r *rows) dealStage(ctx context.Context, loc, deal, pipeline, stage string, at time.Time) error {
	b := r.builder(&r.dealStages, extract.TableDealStages)
	b.Str(dsInput, r.spec)
	b.Str(dsLocation, loc)
	b.Str(dsCRM, crm)
	b.Str(dsDealID, deal)
	b.Str(dsPipeline, pipeline)
	b.Str(dsStage, stage)
	b.Time(dsEnteredAt, at)
	return b.End(ctx)
}

// touch writes one events row of kind touch located at loc.
func (r *rows) touch(ctx context.Context, loc string, t *touchRow) error {
	b := r.builder(&r.events, extract.TableEvents)
	b.Str(evInput, r.spec)
	b.Str(evLocation, loc)
	b.Time(evOccurredAt, t.at)
	b.Str(evKind, extract.KindTouch)
	b.Str(evName, t.name)
	b.Str(evEmail, t.email)
	b.Str(evPage, t.page)
	b.Str(evSource, t.source)
	b.Str(evMedium, t.medium)
	b.Str(evCampaign, t.campaign)
	b.Str(evChannel, t.channel)
	b.Bool(evConversion, false)
	b.Str(evRecord, t.record)
	return b.End(ctx)
}

// reject records one unusable record.
func (r *rows) reject(ctx context.Context, location, reason string, record []byte) error {
	return r.w.Reject(ctx, extract.Rejection{Input: r.spec, Location: location, Reason: reason, Raw: raw(record)})
}

// flush writes what the builders hold.
func (r *rows) flush(ctx context.Context) error {
	for _, b := range []*extract.Builder{r.accounts, r.contacts, r.deals, r.dealContacts, r.dealStages, r.events} {
		if b != nil {
			if err := b.Flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// release frees the builders; unflushed rows are dropped.
func (r *rows) release() {
	for _, b := range []*extract.Builder{r.accounts, r.contacts, r.deals, r.dealContacts, r.dealStages, r.events} {
		if b != nil {
			b.Release()
		}
	}
}
