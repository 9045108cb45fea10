package salesforce

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
	"closedloop/extract/httpretry"
	"closedloop/extract/tables"
)

// crm is the value of the crm column of every row this package writes.
const crm = "salesforce"

// Defaults of Config.
const (
	DefaultAPIVersion  = "v62.0"
	DefaultCookieField = "GA_Client_ID__c"
	// NoCookieField as Config.CookieField reads no cookie id.
	NoCookieField = "none"
)

// Default lead Status values that mean MQL and SQL.
var (
	DefaultMQLStatuses = []string{"Marketing Qualified", "MQL"}
	DefaultSQLStatuses = []string{"Sales Qualified", "SQL"}
)

// Config configures an Extractor. Source set means warehouse mode, else Dir set
// file mode; else API mode.
type Config struct {
	// Spec is the source spec as the user wrote it ("salesforce:api"): the
	// extractor's Name, the input column and the Input of rejections.
	Spec string
	// Dir is the folder of CSV exports (file mode).
	Dir string
	// Source is a warehouse dataset or schema holding the objects as tables, in either
	// layout a folder may hold (salesforce:bigquery://PROJECT/DATASET,
	// salesforce:postgres://DSN?schema=S, salesforce:duckdb:PATH?schema=S, opened by
	// the caller with tables.Open): Fivetran's connector tables, or tables named as
	// the API objects with the API field names (Airbyte's connector, a Data Export
	// loaded as is). Dir is then ignored. The caller closes it after Extract.
	Source tables.Source

	// InstanceURL is the org's My Domain URL (https://acme.my.salesforce.com).
	InstanceURL string
	// AccessToken is an OAuth access token (or session id). Never logged.
	AccessToken string
	// ClientID and ClientSecret of a connected app with the client-credentials flow
	// enabled: used instead of AccessToken. The secret is never logged.
	ClientID, ClientSecret string
	// TokenURL is the token endpoint; default InstanceURL + /services/oauth2/token.
	TokenURL string
	// APIVersion of the REST API, default DefaultAPIVersion.
	APIVersion string

	// CookieField is the Lead / Contact field holding the analytics cookie id (the GA4
	// client id), default DefaultCookieField; NoCookieField reads none. Missing on
	// both objects it is a configuration error; missing on one, a warning.
	CookieField string
	// MQLStatuses and SQLStatuses are the lead Status values that mean MQL and SQL
	// (compared without regard to case); nil means the defaults.
	MQLStatuses, SQLStatuses []string
	// Since, when set, reads the main objects changed since then only.
	Since time.Time
	// Currency is the currency of opportunities without CurrencyIsoCode (an org
	// without multiple currencies: its corporate currency).
	Currency string
	// Now is when the run started: dates after it (plus extract.ClockSkew) are
	// implausible. Zero means the time New is called.
	Now time.Time

	// Concurrency bounds the objects read at once (default 4): each is one request
	// or one file at a time.
	Concurrency int
	// Retry is how API requests are retried and paced (package httpretry); zero fields
	// mean its defaults, but RequestTimeout DefaultRequestTimeout and Rate and Burst
	// DefaultRate and DefaultBurst.
	Retry httpretry.Policy

	// Mem allocates the Arrow batches; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// HTTPClient makes the requests; nil means a new http.Client.
	HTTPClient *http.Client
	// Log receives progress, retries (debug: Sforce-Limit-Info); nil discards.
	Log *slog.Logger
}

// Extractor reads one Salesforce org, export folder or warehouse schema. It is used for one Extract
// at a time.
type Extractor struct {
	cfg Config
	log *slog.Logger

	skipped    [nSkip]atomic.Int64
	badSizes   extract.BadValues // leads and contacts whose number of employees could not be read
	badCookies extract.BadValues // leads and contacts whose cookie field held no client id
}

var _ extract.Extractor = (*Extractor)(nil)

// Why a record was skipped (not rejected: it is not bad, just not counted).
const (
	skipDeleted    = iota // IsDeleted, _fivetran_deleted
	skipMerged            // the deleted loser of a merge
	skipSuperseded        // an older version in a Fivetran history-mode table
	skipOpen              // an open task: it has not happened yet
	skipChild             // an invitee's copy of an event
	nSkip
)

var skipNames = [nSkip]string{"deleted", "merged", "superseded", "open_tasks", "event_copies"}

// New returns an Extractor for cfg, defaults filled. Nothing is opened before Extract.
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
			cfg.Spec = "salesforce:" + cfg.Source.Spec()
		case cfg.Dir == "":
			cfg.Spec = "salesforce:api"
		default:
			cfg.Spec = "salesforce:" + cfg.Dir
		}
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = DefaultAPIVersion
	}
	if !strings.HasPrefix(cfg.APIVersion, "v") {
		cfg.APIVersion = "v" + cfg.APIVersion
	}
	cfg.CookieField = strings.TrimSpace(cfg.CookieField)
	switch {
	case cfg.CookieField == "":
		cfg.CookieField = DefaultCookieField
	case strings.EqualFold(cfg.CookieField, NoCookieField):
		cfg.CookieField = ""
	}
	if cfg.MQLStatuses == nil {
		cfg.MQLStatuses = DefaultMQLStatuses
	}
	if cfg.SQLStatuses == nil {
		cfg.SQLStatuses = DefaultSQLStatuses
	}
	cfg.Currency = strings.ToUpper(strings.TrimSpace(cfg.Currency))
	if cfg.Now.IsZero() {
		cfg.Now = time.Now()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 4
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Extractor{cfg: cfg, log: log.With("source", cfg.Spec)}
}

// Name returns the source spec.
func (e *Extractor) Name() string { return e.cfg.Spec }

// Tables lists the tables Extract writes.
func (e *Extractor) Tables() []string {
	return []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents, extract.TableAccounts}
}

// Skipped returns how many records the last Extract left out on purpose: deleted
// and merged records, superseded Fivetran versions, open tasks and invitee copies of
// events.
func (e *Extractor) Skipped() int {
	n := int64(0)
	for i := range e.skipped {
		n += e.skipped[i].Load()
	}
	return int(n)
}

func (e *Extractor) skip(why int) { e.skipped[why].Add(1) }

// BadCompanySizes returns how many leads and contacts the last Extract read with a
// number of employees that is neither a number nor a range: their company_size is
// null (unless a lead folded into the contact gave one). Each is logged (the first
// few one by one); none is rejected, as the person is kept.
func (e *Extractor) BadCompanySizes() int { return int(e.badSizes.Count()) }

// BadCookieIDs returns how many leads and contacts the last Extract read without a
// cookie id because their cookie field held something that is not an analytics
// client id (an e-mail, a session cookie, free text). Each is logged (the first few
// one by one).
func (e *Extractor) BadCookieIDs() int { return int(e.badCookies.Count()) }

// source opens what Extract reads from.
type source interface {
	// open prepares reading obj; an object the source lacks is errAbsent.
	open(ctx context.Context, obj *object) (*stream, error)
}

// Extract reads the org or the folder and writes every table. Configuration
// problems (missing files, columns, fields, credentials) are extract.ErrConfig and
// come before anything is written; a refused token is extract.ErrAuth.
func (e *Extractor) Extract(ctx context.Context, w extract.Writer) error {
	for i := range e.skipped {
		e.skipped[i].Store(0)
	}
	e.badSizes.Reset()
	e.badCookies.Reset()
	src, err := e.source(ctx)
	if err != nil {
		return err
	}
	if err := newRun(e, w, src).run(ctx); err != nil {
		return err
	}
	attrs := []any{}
	for i, n := range skipNames {
		if v := e.skipped[i].Load(); v > 0 {
			attrs = append(attrs, n, v)
		}
	}
	if len(attrs) > 0 {
		e.log.Info("salesforce: records skipped", attrs...)
	}
	if n := e.badSizes.Count(); n > 0 {
		e.log.Warn("salesforce: leads and contacts whose number of employees is neither a number nor a range were read with a null company_size",
			"records", n, "logged", e.badSizes.Logged())
	}
	if n := e.badCookies.Count(); n > 0 {
		e.log.Warn("salesforce: leads and contacts whose cookie field holds no analytics client id were read without a cookie id",
			"field", e.cfg.CookieField, "records", n, "logged", e.badCookies.Logged())
	}
	return nil
}

// source returns the warehouse, the folder or the API, after checking the
// configuration.
func (e *Extractor) source(ctx context.Context) (source, error) {
	if e.cfg.Source != nil {
		return newTableSource(ctx, e.cfg.Spec, e.cfg.Source)
	}
	if e.cfg.Dir != "" {
		extract.PlanDir(ctx, e.cfg.Dir)
		return newFileSource(e.cfg.Spec, e.cfg.Dir)
	}
	cfg := e.cfg
	if cfg.AccessToken == "" && (cfg.ClientID == "" || cfg.ClientSecret == "") {
		return nil, fmt.Errorf("%w: %s: no credentials: set %s, or %s and %s for the client-credentials flow",
			extract.ErrConfig, cfg.Spec, envToken, envClientID, envClientSecret)
	}
	if cfg.InstanceURL == "" {
		return nil, fmt.Errorf("%w: %s: set %s to the org's My Domain URL (https://acme.my.salesforce.com)", extract.ErrConfig, cfg.Spec, envInstanceURL)
	}
	base, err := checkInstanceURL(cfg.InstanceURL, envInstanceURL)
	if err != nil {
		return nil, err
	}
	c := &client{base: base, version: cfg.APIVersion, log: e.log, describes: map[string]*describe{}}
	if cfg.AccessToken == "" {
		tokenURL := cfg.TokenURL
		if tokenURL == "" {
			tokenURL = base + "/services/oauth2/token"
		} else if tokenURL, err = checkInstanceURL(tokenURL, "the token URL"); err != nil {
			return nil, err
		}
		c.auth.clientID, c.auth.clientSecret, c.auth.tokenURL = cfg.ClientID, cfg.ClientSecret, tokenURL
	} else {
		c.auth.cur.Store(&token{value: cfg.AccessToken})
	}
	retry := cfg.Retry.Paced(DefaultRate, DefaultBurst)
	if retry.RequestTimeout <= 0 {
		retry.RequestTimeout = DefaultRequestTimeout
	}
	c.rt = httpretry.New(httpretry.Config{Policy: retry, HTTPClient: cfg.HTTPClient,
		Log: e.log, Redact: c.redact, Describe: func(status int, body []byte) string { return parseAPIError(status, body).Error() }})
	if err := c.start(ctx); err != nil {
		return nil, err
	}
	return &apiSource{c: c, since: cfg.Since}, nil
}

// newPool returns a pool that cancels the others on the first error.
func (r *run) newPool(ctx context.Context) *pool.ContextPool {
	return pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(r.e.cfg.Concurrency)
}

// read streams obj into fn. An optional object the source lacks is logged and read
// as empty (found false); a required one is a configuration error.
func (r *run) read(ctx context.Context, obj *object, fn func(s *stream, rec *record) error) (found bool, err error) {
	s, err := r.src.open(ctx, obj)
	if errors.Is(err, errAbsent) {
		if obj.optional {
			r.e.log.Info("salesforce: object not read", "object", obj.name, "why", err.Error())
			return false, nil
		}
		return false, fmt.Errorf("%w: %v: %s is required", extract.ErrConfig, err, obj.name)
	}
	if err != nil {
		return false, err
	}
	n := 0
	t0 := time.Now()
	err = s.each(ctx, func(rec *record) error {
		n++
		return fn(s, rec)
	})
	if err != nil {
		return true, err
	}
	r.e.log.Debug("salesforce: object read", "object", obj.name, "from", s.name, "records", n, "seconds", time.Since(t0).Seconds())
	return true, nil
}
