package hubspot

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"golang.org/x/time/rate"

	"closedloop/extract"
	"closedloop/extract/httpretry"
	"closedloop/extract/tables"
)

// APILocation is the spec location that selects the API: "hubspot:api".
const APILocation = "api"

// TokenVariable is the setting that holds the private-app token: errors about the
// token name it.
const TokenVariable = "CLOSEDLOOP_HUBSPOT_TOKEN"

// CookiePropertyVariable is the setting that names the cookie property.
const CookiePropertyVariable = "CLOSEDLOOP_HUBSPOT_COOKIE_PROPERTY"

// DefaultBaseURL is HubSpot's API root.
const DefaultBaseURL = "https://api.hubapi.com"

// crm is the value of the crm column of every row this package writes.
const crm = "hubspot"

// MaxLineBytes bounds one NDJSON line. HubSpot objects are a few KiB; a longer line
// is rejected (its first bytes kept as the raw row) and reading goes on.
const MaxLineBytes = extract.MaxLine

// Config configures an Extractor.
type Config struct {
	// Spec is the source spec as the user wrote it ("hubspot:exports/hubspot",
	// "hubspot:api"): the extractor's Name, the input column and the Input of
	// rejections.
	Spec string
	// Dir is the export folder (a v3 export folder or Fivetran CSV tables). Empty
	// reads the API, unless Source is set.
	Dir string
	// Source is a warehouse dataset or schema holding Fivetran's HubSpot connector
	// tables (hubspot:bigquery://PROJECT/DATASET, hubspot:postgres://DSN?schema=S,
	// hubspot:duckdb:PATH?schema=S, opened by the caller with tables.Open), read as
	// a Fivetran folder is; Dir is then ignored. The caller closes it after Extract.
	Source tables.Source
	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// CookieProperty is the contact property holding the analytics cookie id (the GA4
	// user_pseudo_id), written to cookie_id. Empty writes no cookie id.
	CookieProperty string
	// Currency is the currency of deals without deal_currency_code (the account's
	// company currency).
	Currency string
	// Log receives progress, retries and warnings; nil discards them. The token is
	// never logged.
	Log *slog.Logger
	// Now is when the run started: dates after it (plus extract.ClockSkew) are
	// implausible. Zero means the time New is called.
	Now time.Time

	// Token is the private-app access token (API mode), sent as a bearer token.
	Token string
	// BaseURL is the API root; empty means DefaultBaseURL. Tests point it at a fake.
	BaseURL string
	// HTTPClient sends the requests; nil means a plain http.Client (deadlines come
	// from Retry).
	HTTPClient *http.Client
	// Since is the watermark of an incremental read: only records modified at or
	// after it are read (by the search API), and e-mail clicks from it. Zero reads
	// everything. Owners, pipelines and property definitions are always read whole.
	Since time.Time
	// Concurrency bounds the requests in flight; 0 means 4. Retry's Rate paces them.
	Concurrency int
	// Retry is how requests are retried and paced (package httpretry); zero fields mean
	// its defaults, and Rate and Burst DefaultRate and DefaultBurst.
	Retry httpretry.Policy
	// SearchMaxResults is how many results one search query can page through before
	// HubSpot refuses (10,000, the documented limit): 0 means that. An incremental
	// read starts a new query window from the last modification time seen when it
	// gets there.
	SearchMaxResults int
}

// Extractor reads HubSpot: the API, a v3 export folder, or Fivetran's tables as CSV
// files or in a warehouse. It is used for one Extract at a time.
type Extractor struct {
	cfg        Config
	skipped    atomic.Int64
	badSizes   extract.BadValues // contacts written with a null company_size for an unreadable numemployees
	badCookies extract.BadValues // contacts whose cookie property held no client id

	// searchRate paces search requests (HubSpot allows 4 per second per token).
	searchRate rate.Limit
	// sourceTables are the Fivetran tables Config.Source had at the last Extract or
	// Check (Fivetran name -> name in the source), for Tables.
	sourceTables atomic.Pointer[map[string]string]
}

var _ extract.Extractor = (*Extractor)(nil)

// New returns an Extractor for cfg. Nothing is opened or requested before Extract.
func New(cfg Config) *Extractor {
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Source != nil {
		cfg.Dir = ""
	}
	if cfg.Spec == "" {
		switch {
		case cfg.Source != nil:
			cfg.Spec = "hubspot:" + cfg.Source.Spec()
		case cfg.Dir == "":
			cfg.Spec = "hubspot:" + APILocation
		default:
			cfg.Spec = "hubspot:" + cfg.Dir
		}
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.BaseURL == "" {
		cfg.BaseURL = DefaultBaseURL
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.SearchMaxResults <= 0 {
		cfg.SearchMaxResults = 10000
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	cfg.Currency = strings.ToUpper(strings.TrimSpace(cfg.Currency))
	cfg.CookieProperty = strings.TrimSpace(cfg.CookieProperty)
	return &Extractor{cfg: cfg, searchRate: searchRate}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables lists the tables Extract writes: deal stages unless the source is a
// Fivetran folder or warehouse schema without stage history, events when the source
// has activities or e-mail events (the API always has), accounts when it has
// companies (companies.ndjson, Fivetran's company table; the API always has). For a warehouse Source it
// tells by the tables found by the last Extract or Check; before either, it lists
// every table.
func (e *Extractor) Tables() []string {
	t := []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts}
	stages, touches, accounts := true, true, true
	switch {
	case e.cfg.Source != nil:
		if names := e.sourceTables.Load(); names != nil {
			has := func(t string) bool { return (*names)[t] != "" }
			stages, touches, accounts = ftStageHistory(has), ftTouches(has), has("company")
		}
	case e.cfg.Dir != "":
		stages, touches = hasStageHistory(e.cfg.Dir), hasTouchFiles(e.cfg.Dir)
		accounts = exists(filepath.Join(e.cfg.Dir, CompaniesFile)) || fivetranFile(e.cfg.Dir, "company") != ""
	}
	if stages {
		t = append(t, extract.TableDealStages)
	}
	if touches {
		t = append(t, extract.TableEvents)
	}
	if accounts {
		t = append(t, extract.TableAccounts)
	}
	return t
}

// hasStageHistory reports whether an export folder has the deals' stage history: a
// v3 export carries it in its deal objects, a Fivetran folder in deal_stage or
// deal_property_history.
func hasStageHistory(dir string) bool {
	if fivetranFile(dir, "deal") == "" || exists(filepath.Join(dir, DealsFile)) {
		return true
	}
	return ftStageHistory(func(t string) bool { return fivetranFile(dir, t) != "" })
}

// ftStageHistory reports whether Fivetran tables (has tells which are there) hold the
// deals' stage history.
func ftStageHistory(has func(t string) bool) bool {
	return has("deal_stage") || has("deal_property_history")
}

// hasTouchFiles reports whether an export folder of either layout holds activities
// or e-mail events.
func hasTouchFiles(dir string) bool {
	for _, k := range activityKinds {
		objects, _ := k.files()
		if exists(filepath.Join(dir, objects)) {
			return true
		}
	}
	return exists(filepath.Join(dir, EmailEventsFile)) || ftTouches(func(t string) bool { return fivetranFile(dir, t) != "" })
}

// ftTouches reports whether Fivetran tables (has tells which are there) hold
// activities or e-mail events.
func ftTouches(has func(t string) bool) bool {
	for _, t := range fivetranActivities {
		if has(t) {
			return true
		}
	}
	return has("email_event")
}

// Skipped returns how many records the last Extract skipped on purpose: archived or
// deleted contacts, companies, deals and activities, and records merged into another.
func (e *Extractor) Skipped() int { return int(e.skipped.Load()) }

// BadCompanySizes returns how many contacts the last Extract wrote with a null
// company_size because their numemployees was neither a number nor a range. Each
// is logged (the first few one by one); none is rejected, as the contact is kept.
func (e *Extractor) BadCompanySizes() int { return int(e.badSizes.Count()) }

// BadCookieIDs returns how many contacts the last Extract wrote without a cookie id
// because their cookie property held something that is not an analytics client id
// (an e-mail, a session cookie, free text). Each is logged (the first few one by one).
func (e *Extractor) BadCookieIDs() int { return int(e.badCookies.Count()) }

// Extract reads the API, the folder or the warehouse Source to its end. Configuration problems (a missing
// file, a token HubSpot refuses) are reported before any row is written.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	e.skipped.Store(0)
	e.badSizes.Reset()
	e.badCookies.Reset()
	x := &run{e: e, w: w, cookieProperty: e.cfg.CookieProperty, owners: newOwners()}
	var err error
	switch {
	case e.cfg.Source != nil:
		err = x.warehouse(ctx)
	case e.cfg.Dir == "":
		err = x.api(ctx)
	default:
		err = x.files(ctx)
	}
	if err != nil {
		return err
	}
	e.cfg.Log.Info("hubspot read", "source", e.cfg.Spec, "activities_as_touches", x.stats.touches.Load(),
		"email_clicks", x.stats.clicks.Load(), "not_touches", x.stats.notTouch.Load(),
		"activities_without_contact", x.stats.noContact.Load(), "skipped", e.skipped.Load())
	if n := e.badSizes.Count(); n > 0 {
		e.cfg.Log.Warn("hubspot: contacts whose numemployees is neither a number nor a range were written with a null company_size",
			"source", e.cfg.Spec, "contacts", n, "logged", e.badSizes.Logged())
	}
	if n := e.badCookies.Count(); n > 0 {
		e.cfg.Log.Warn("hubspot: contacts whose cookie property holds no analytics client id were written without a cookie id",
			"source", e.cfg.Spec, "property", x.cookieProperty, "contacts", n, "logged", e.badCookies.Logged())
	}
	return nil
}

// run is the state of one Extract.
type run struct {
	e              *Extractor
	w              extract.Writer
	cookieProperty string // "" when the account has no such property

	contactTypes, dealTypes propTypes
	stages                  stageIndex
	owners                  *owners

	// Export files only: the ids of skipped records, so links to them are dropped,
	// and (Fivetran) the contacts merged into others.
	archived   archivedIDs
	mergedInto map[string]string   // merged-away contact id -> surviving contact id
	merges     map[string][]string // surviving contact id -> merged-away ids

	// co are the companies: read first, so contacts and deals name live ones.
	co companies

	// wh is Config.Source with the tables it has; nil for a folder or the API.
	wh *warehouse

	// Fivetran only: the deals read, for their stage history in a table of its own.
	ftDeals       map[string]*ftDeal // written deals by id
	ftDealOrder   []string           // their ids in deal.csv order
	rejectedDeals map[string]bool

	stats struct {
		touches, clicks, notTouch, noContact atomic.Int64
	}
}

// archivedIDs are the ids of skipped records.
type archivedIDs struct {
	contacts, deals map[string]bool
}

func (x *run) rows() *rows { return newRows(x.e.cfg.Mem, x.e.cfg.Spec, x.w) }

// contactOf returns the contact a link points at: the surviving contact of a merge,
// "" when the contact was skipped.
func (x *run) contactOf(id string) string {
	if s, ok := x.mergedInto[id]; ok {
		id = s
	}
	if x.archived.contacts[id] {
		return ""
	}
	return id
}
