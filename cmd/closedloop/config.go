package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage"
	"closedloop/extract/hubspot"
	"closedloop/extract/tables"
	"closedloop/load/redact"
	"closedloop/transform"
	"closedloop/transform/attribution"
	"closedloop/transform/channel"
	"closedloop/transform/identity"
	"closedloop/transform/persona"
)

// envPrefix prefixes every variable: CLOSEDLOOP_ANALYTICS, ...
const envPrefix = "CLOSEDLOOP"

// Config is the whole configuration of a run. Every field is an environment variable
// (CLOSEDLOOP_<NAME>) and a flag (--<name>); a flag wins over the variable.
// split_words (not an explicit envconfig name) on purpose: an explicit name would make
// envconfig fall back to the unprefixed variable (FROM, TO, CRM) when it is unset.
type Config struct {
	Analytics              string        `split_words:"true" desc:"analytics sources, comma-separated KIND:LOCATION: ga4:GLOB (GA4 export NDJSON, .gz ok, or Parquet), ga4:bigquery://PROJECT/DATASET (the export tables, through the BigQuery Storage Read API), segment:GLOB (Segment/RudderStack events NDJSON, .gz ok), touches:FILE (touch log CSV cookie,time,interaction,conversion,conversion_value,channel)"`
	CRM                    string        `split_words:"true" desc:"CRM sources: hubspot:api (token in CLOSEDLOOP_HUBSPOT_TOKEN), hubspot:DIR (a HubSpot v3 export folder or Fivetran's HubSpot tables as CSV), hubspot:bigquery://PROJECT/DATASET, hubspot:postgres://DSN?schema=S or hubspot:duckdb:PATH?schema=S (Fivetran's HubSpot tables in a warehouse), salesforce:api (CLOSEDLOOP_SALESFORCE_*), salesforce:DIR (Salesforce Data Export or Fivetran CSVs), salesforce:bigquery://PROJECT/DATASET, salesforce:postgres://DSN?schema=S or salesforce:duckdb:PATH?schema=S (Fivetran's Salesforce tables in a warehouse)"`
	Spend                  string        `split_words:"true" desc:"ad spend sources: spend:GLOB of CSV exports: Google Ads (GAQL columns or BigQuery Data Transfer p_ads_CampaignBasicStats), Meta Ads Insights, LinkedIn Campaign Manager, or generic date,source,medium,campaign,cost[,clicks,impressions,currency]; the layout is told by the header; or spend:bigquery://PROJECT/DATASET, spend:postgres://DSN?schema=S, spend:duckdb:PATH?schema=S: Fivetran's Google Ads, Facebook Ads or LinkedIn Ads report tables, BigQuery Data Transfer p_ads_CampaignBasicStats_*, Airbyte's campaign or ads_insights, or a table in one of the file layouts; only the run's days are read"`
	Warehouse              string        `split_words:"true" default:"duckdb:closedloop.duckdb" desc:"where the tables go: duckdb:PATH, postgres:DSN, bigquery:PROJECT.DATASET or parquet:DIR"`
	DuckdbMemoryLimit      string        `split_words:"true" default:"512MB" desc:"duckdb:PATH: most memory DuckDB may hold while it loads (its memory_limit; it writes what is over to PATH.next.tmp): on 10M GA4 events as fast as 4GB and half a GiB less; on 2M, 3% slower and 0.2 GiB less"`
	BigqueryLocation       string        `split_words:"true" default:"US" desc:"location of a BigQuery dataset closedloop creates (US, EU, europe-west3, ...)"`
	Engine                 string        `default:"local" desc:"where the per-event steps run: local (Go, every core, any source and warehouse) or bigquery (as SQL inside BigQuery, for a ga4:bigquery:// source and a bigquery: warehouse: only aggregates leave BigQuery; see the README on choosing)"`
	BigqueryMaxBytes       int64         `split_words:"true" default:"0" desc:"engine bigquery: the most bytes one job may bill (its maximumBytesBilled); every statement is dry-run first and one that would scan more fails before it runs; 0: no limit"`
	DryRun                 bool          `split_words:"true" default:"false" desc:"engine bigquery: print the run's SQL and the bytes BigQuery's dry run says the export read will scan (and their on-demand cost), and run nothing"`
	BigqueryEndpoint       string        `split_words:"true" desc:"BigQuery API endpoint, e.g. an emulator's http://localhost:9050/bigquery/v2/, called without credentials; default: Google's, with the application default credentials"`
	From                   Date          `split_words:"true" desc:"first day of the run, YYYY-MM-DD (UTC); default: TO minus LATE_DAYS"`
	To                     Date          `split_words:"true" desc:"last day of the run, YYYY-MM-DD (UTC); default: yesterday"`
	FullRefresh            bool          `split_words:"true" default:"false" desc:"rebuild from every day the sources hold (FROM, when set, to TO) instead of resuming from the warehouse's state: the first run, and after changing sources or settings"`
	AllowEmptyDays         bool          `split_words:"true" default:"false" desc:"replace a day of the range that the warehouse holds rows for even when an analytics source delivered no row of it (an outage you know of); otherwise such a run fails, naming the source and the days, and the warehouse keeps them"`
	MaxRejectRatio         float64       `split_words:"true" default:"0.01" desc:"largest share (0..1) of a source's rows that may be rejected; above it the run fails naming the source, the share and the first reasons (the rows are in the log, not loaded)"`
	MaxDayDrop             float64       `split_words:"true" default:"0.5" desc:"a day the run replaces with fewer rows than it had by more than this share (0..1) of fct_touchpoint or fct_page_view is warned of in the log and run_log (a late or truncated export); --strict fails the run instead"`
	Strict                 bool          `default:"false" desc:"fail, leaving the warehouse as it was, where the run would only warn: a day replaced with far fewer rows (MAX_DAY_DROP)"`
	SourceTimeout          time.Duration `split_words:"true" default:"10m" desc:"API sources (HubSpot, Salesforce): the most time one source may take, retries and waits included (also each upload to a bigquery: warehouse); a request gives up after 30 s (Salesforce 2 min) and 5 attempts, backing off with full jitter"`
	LateDays               int           `split_words:"true" default:"3" desc:"days before TO that sources may still rewrite (GA4 restates 3): re-read and replaced by the default range"`
	Lookback               Days          `split_words:"true" default:"90d" desc:"how far before a conversion its journey reaches (90d, 720h)"`
	Models                 []string      `split_words:"true" default:"first_touch,last_touch,last_non_direct,linear,time_decay,position_based,w_shaped,full_path,markov,shapley" desc:"attribution models to run, comma-separated"`
	DecayHalfLife          Days          `split_words:"true" default:"7d" desc:"time_decay: a touch this long before the conversion weighs half as much"`
	PositionWeights        []float64     `split_words:"true" default:"0.4,0.4" desc:"position_based: shares of the first and the last touch (the middle ones split the rest)"`
	MarkovOrder            int           `split_words:"true" default:"1" desc:"markov: order of the chain, 1..4"`
	JourneyRestart         bool          `split_words:"true" default:"true" desc:"a repeated conversion of one type looks back only to the previous one (false: the whole lookback window)"`
	JourneyScope           []string      `split_words:"true" desc:"journey scopes fct_attribution is written for, comma-separated, each a scope column value: person (the converting person's touches), deal (the touches of every contact on the conversion's deal), account (the touches of every person of the conversion's account); default person,deal,account (engine bigquery, or no CRM source: person)"`
	AccountFromEmail       bool          `split_words:"true" default:"false" desc:"give a person without a CRM account the account of their business e-mail domain: the CRM account with that domain, else an inferred account domain:DOMAIN; free-mail domains (gmail.com, yahoo.*, outlook.com, ...; FREE_MAIL_DOMAINS) never make one"`
	FreeMailDomains        []string      `split_words:"true" desc:"more free-mail or ISP domains (besides the built-in list) whose addresses never make an account with ACCOUNT_FROM_EMAIL, e.g. mail.example,isp.*"`
	MicroConversions       []string      `split_words:"true" desc:"event names that count as conversions of their own type, e.g. generate_lead,sign_up"`
	ChannelRules           string        `split_words:"true" desc:"rules file of channels tried before GA4's default channel group (mode: extend) or instead of it (mode: replace), e.g. to split brand from generic paid search; format in transform/channel"`
	Personas               string        `desc:"rules file of personas (ideal customers) over CRM fields and behaviour, first match wins, Unclassified otherwise: dim_person.persona, v_lead_quality and the *_by_persona views; format in the README and transform/persona"`
	AttributeSalesTouches  bool          `split_words:"true" default:"false" desc:"let selling activities from the CRM (Sales: Call, Sales: Meeting, ...) take part in attribution; they always feed the funnel and sales views"`
	TouchEvents            []string      `split_words:"true" desc:"event names that are touches of their own besides their session's (tracked interactions), e.g. form_submit,file_download,demo_request"`
	SessionSplitOnCampaign bool          `split_words:"true" default:"true" desc:"for sources without session ids: an event with other campaign information starts a new session"`
	HashPii                bool          `split_words:"true" default:"false" desc:"store e-mails as the hex SHA-256 of the trimmed, lower-cased address (bridge_identity, identity_conflicts)"`
	IdentityLimits         string        `split_words:"true" default:"email=5,user_id=1,hubspot_contact=5,salesforce_contact=5,salesforce_lead=5" desc:"most identifiers of a type one person may hold, TYPE=N,...; an edge that would exceed one is refused and reported in identity_conflicts"`
	IdentityBlocklist      []string      `split_words:"true" desc:"more placeholder values that identify nobody (besides null, undefined, test@example.com, ...)"`
	Currency               string        `split_words:"true" default:"USD" desc:"reporting currency (ISO 4217), used where a source states none"`
	CurrencyRates          string        `split_words:"true" desc:"CSV of exchange rates date,currency,rate (units of the reporting currency per unit; empty date: any day); spend in another currency without a rate is rejected"`
	SpendCampaignMap       string        `split_words:"true" desc:"CSV platform,campaign_id,campaign_name,utm_campaign mapping ad-platform campaigns to the utm_campaign of the site's touches"`
	SalesforceInstanceURL  string        `split_words:"true" desc:"salesforce:api: the org's My Domain URL, https://NAME.my.salesforce.com"`
	SalesforceToken        string        `split_words:"true" desc:"salesforce:api: OAuth access token (never logged; prefer the variable to the flag)"`
	SalesforceClientID     string        `split_words:"true" desc:"salesforce:api: connected app consumer key for the client-credentials flow (instead of a token)"`
	SalesforceClientSecret string        `split_words:"true" desc:"salesforce:api: connected app consumer secret (never logged; prefer the variable to the flag)"`
	SalesforceAPIVersion   string        `split_words:"true" default:"v62.0" desc:"salesforce:api: REST API version"`
	SalesforceCookieField  string        `split_words:"true" default:"GA_Client_ID__c" desc:"Lead/Contact field holding the GA client id (user_pseudo_id) of the person's browser; none to read without"`
	SalesforceMqlStatuses  []string      `split_words:"true" default:"Marketing Qualified,MQL" desc:"Lead Status values that make a lead an MQL (its first time in one is mql_at)"`
	SalesforceSqlStatuses  []string      `split_words:"true" default:"Sales Qualified,SQL" desc:"Lead Status values that make a lead an SQL (else its conversion date)"`
	HubspotToken           string        `split_words:"true" desc:"hubspot:api: private-app access token (never logged; prefer the variable to the flag)"`
	HubspotBaseURL         string        `split_words:"true" default:"https://api.hubapi.com" desc:"hubspot:api: API base URL (a proxy, or a test server)"`
	HubspotCookieProperty  string        `split_words:"true" default:"ga_client_id" desc:"HubSpot contact property that holds the GA client id (user_pseudo_id) of the contact's browser"`
	SessionTimeout         time.Duration `split_words:"true" default:"30m" desc:"inactivity that ends a session, for sources without session ids"`
	Progress               string        `default:"auto" desc:"progress on stderr (sources' rows, bytes, rate and time left; each stage's time; a summary): auto (when stderr is a terminal; else the JSON log carries the figures), always, never"`
	LogFormat              string        `split_words:"true" default:"auto" desc:"log format: auto (text on a terminal, else JSON), json, text"`
	LogLevel               string        `split_words:"true" default:"info" desc:"log level: debug, info, warn, error"`

	// baseDir, when set, is the folder relative source locations are read from (the
	// demo's unpacked sample); the specs keep the relative names.
	baseDir string
	// parsed holds the typed values validate parsed the settings into, once: a run
	// reads them and never the strings again.
	parsed *parsed
}

// parsed is a validated configuration as typed values.
type parsed struct {
	analytics, crm, spend []extract.Spec
	limits                identity.Limits
	models                []attribution.Model
	scopes                []transform.Scope
	channels              *channel.Grouper // nil: GA4's default channel group
	personas              *persona.Rules   // nil: no persona rules
}

// sources returns every source spec: analytics, then CRM, then spend.
func (p *parsed) sources() []extract.Spec {
	return append(append(append([]extract.Spec(nil), p.analytics...), p.crm...), p.spend...)
}

// Date is a day (UTC) given as YYYY-MM-DD.
type Date struct{ time.Time }

// Decode implements envconfig.Decoder.
func (d *Date) Decode(s string) error {
	if s == "" {
		return nil
	}
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("want a day as YYYY-MM-DD, got %q", s)
	}
	d.Time = t
	return nil
}

// Days is a duration that also accepts whole days ("90d").
type Days time.Duration

var daysRE = regexp.MustCompile(`^(\d+)d$`)

// Decode implements envconfig.Decoder.
func (d *Days) Decode(s string) error {
	s = strings.TrimSpace(s)
	if m := daysRE.FindStringSubmatch(s); m != nil {
		n, _ := strconv.Atoi(m[1])
		if n == 0 {
			return fmt.Errorf("want a positive duration such as 90d or 720h, got %q", s)
		}
		*d = Days(time.Duration(n) * 24 * time.Hour)
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("want a positive duration such as 90d or 720h, got %q", s)
	}
	*d = Days(v)
	return nil
}

// setting describes one configuration field.
type setting struct {
	field, env, flag, def, desc string
}

func settings() []setting {
	// envconfig's own key derivation (split_words), read through its usage template.
	var buf strings.Builder
	var cfg Config
	tmpl := "{{range .}}{{.Key}}\t{{.Name}}\t{{.Tags.Get \"default\"}}\t{{.Tags.Get \"desc\"}}\n{{end}}"
	if err := envconfig.Usagef(envPrefix, &cfg, &buf, tmpl); err != nil {
		panic("config: " + err.Error())
	}
	var out []setting
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		p := strings.SplitN(line, "\t", 4)
		key := strings.TrimPrefix(p[0], envPrefix+"_")
		out = append(out, setting{env: p[0], field: p[1], def: p[2], desc: p[3],
			flag: strings.ToLower(strings.ReplaceAll(key, "_", "-"))})
	}
	return out
}

// textFlag is a flag that keeps its text for envconfig to parse; a boolean one may
// be given without a value.
type textFlag struct {
	val     string
	boolean bool
}

func (f *textFlag) String() string     { return f.val }
func (f *textFlag) Set(s string) error { f.val = s; return nil }
func (f *textFlag) IsBoolFlag() bool   { return f.boolean }

// errUsage marks bad configuration or usage: exit 2.
var errUsage = extract.ErrConfig

// loadConfig reads the environment, then the flags in args (which win), then
// validates. Errors name the variable and its flag, and what is expected.
func loadConfig(cmd string, args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	vals := map[string]*string{}
	sets := settings()
	cfgType := reflect.TypeFor[Config]()
	for _, s := range sets {
		v := &textFlag{}
		if f, ok := cfgType.FieldByName(s.field); ok && f.Type.Kind() == reflect.Bool {
			v.boolean = true // --hash-pii alone means true
		}
		vals[s.flag] = &v.val
		fs.Var(v, s.flag, s.desc)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("%w: %v (closedloop help %s lists the flags)", errUsage, err, cmd)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("%w: unexpected argument %q (closedloop help %s lists the flags)", errUsage, fs.Arg(0), cmd)
	}
	// envconfig reads only the environment: a set flag stands in for its variable
	// during Process, and the environment is put back as it was afterwards.
	var restore []func()
	defer func() {
		for _, r := range restore {
			r()
		}
	}()
	fs.Visit(func(f *flag.Flag) {
		for _, s := range sets {
			if s.flag == f.Name {
				old, had := os.LookupEnv(s.env)
				os.Setenv(s.env, *vals[f.Name])
				restore = append(restore, func() {
					if had {
						os.Setenv(s.env, old)
					} else {
						os.Unsetenv(s.env)
					}
				})
			}
		}
	})
	var cfg Config
	if err := envconfig.Process(envPrefix, &cfg); err != nil {
		var pe *envconfig.ParseError
		if errors.As(err, &pe) {
			s := byField(pe.FieldName)
			return Config{}, fmt.Errorf("%w: %s (--%s) = %q: %v", errUsage, s.env, s.flag, pe.Value, unwrapParse(pe.Err))
		}
		return Config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	return cfg, cfg.validate()
}

func unwrapParse(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		switch ne.Func {
		case "ParseBool":
			return fmt.Errorf("want true or false")
		case "ParseFloat":
			return fmt.Errorf("want numbers such as 0.4")
		}
		return fmt.Errorf("want a whole number")
	}
	return err
}

func byField(name string) setting {
	for _, s := range settings() {
		if s.field == name {
			return s
		}
	}
	return setting{env: name, flag: strings.ToLower(name)}
}

func bad(field, format string, a ...any) error {
	s := byField(field)
	return fmt.Errorf("%w: %s (--%s): %s", errUsage, s.env, s.flag, fmt.Sprintf(format, a...))
}

// checkSource checks, without any network call, what a source needs besides its spec:
// a BigQuery location that parses, the credentials of an API source.
func (c *Config) checkSource(s extract.Spec) error {
	switch {
	case s.Kind == "ga4" && strings.HasPrefix(s.Location, "bigquery://"):
		if _, err := bqstorage.ParseLocation(s.Location); err != nil {
			return bad("Analytics", "%v", err)
		}
	case (s.Kind == "hubspot" || s.Kind == "salesforce" || s.Kind == "spend") && tables.IsTableLocation(s.Location):
		field := "CRM"
		if s.Kind == "spend" {
			field = "Spend"
		}
		if err := checkTableLocation(s.Location); err != nil {
			return bad(field, "%s: %v", redact.Spec(s.String()), err)
		}
	case s.Kind == "hubspot" && s.Location == hubspot.APILocation:
		if c.HubspotToken == "" {
			return bad("HubspotToken", "hubspot:api needs a private-app access token")
		}
	case s.Kind == "salesforce" && s.Location == "api":
		switch {
		case c.SalesforceInstanceURL == "":
			return bad("SalesforceInstanceURL", "salesforce:api needs the org's URL, e.g. https://acme.my.salesforce.com")
		case c.SalesforceToken == "" && (c.SalesforceClientID == "" || c.SalesforceClientSecret == ""):
			return bad("SalesforceToken", "salesforce:api needs an access token, or CLOSEDLOOP_SALESFORCE_CLIENT_ID and CLOSEDLOOP_SALESFORCE_CLIENT_SECRET for the client-credentials flow")
		}
	}
	return nil
}

// checkTableLocation checks the form of a table location without connecting:
// bigquery://PROJECT/DATASET, postgres://...[?schema=S] (or postgresql://) or
// duckdb:PATH[?schema=S]. tables.Open checks the rest when the run connects.
func checkTableLocation(loc string) error {
	lower := strings.ToLower(loc)
	schemaOK := func(query string) error {
		vals, err := url.ParseQuery(query)
		if err != nil {
			return fmt.Errorf("bad parameters %q: %v", query, err)
		}
		if v, ok := vals["schema"]; ok && strings.TrimSpace(v[len(v)-1]) == "" {
			return fmt.Errorf("empty schema: write ?schema=NAME, or leave it out for the default")
		}
		return nil
	}
	switch {
	case strings.HasPrefix(lower, "bigquery://"):
		rest := loc[len("bigquery://"):]
		project, dataset, ok := strings.Cut(rest, "/")
		if !ok || project == "" || dataset == "" || strings.ContainsAny(dataset, "/?") {
			return fmt.Errorf("want bigquery://PROJECT/DATASET, the dataset the connector loads, got %q", loc)
		}
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		u, err := url.Parse(loc)
		if err != nil || u.Host == "" {
			return fmt.Errorf("want a libpq URL such as postgres://USER@HOST:5432/DB?schema=S (the schema the connector loads): %v", err)
		}
		return schemaOK(u.RawQuery)
	case strings.HasPrefix(lower, "duckdb:"):
		path, query, _ := strings.Cut(loc[len("duckdb:"):], "?")
		if path == "" {
			return fmt.Errorf("want duckdb:PATH?schema=S (a DuckDB file and the schema that holds the tables, default main), got %q", loc)
		}
		return schemaOK(query)
	}
	return nil
}

// sourceKinds lists the kinds each source setting accepts.
var sourceKinds = map[string][]string{
	"Analytics": {"ga4", "segment", "touches"},
	"CRM":       {"hubspot", "salesforce"},
	"Spend":     {"spend"},
}

func (c *Config) specs(field, list string) ([]extract.Spec, error) {
	specs, err := extract.ParseSpecs(byField(field).env, list, sourceKinds[field]...)
	if err != nil {
		return nil, fmt.Errorf("%w (--%s)", err, byField(field).flag)
	}
	return specs, nil
}

// validate checks the configuration without touching the network (rules files are
// read), fills the defaults that depend on other settings, and keeps the typed values
// it parsed for the run (c.parsed).
// memorySize is a size DuckDB's memory_limit takes.
var memorySize = regexp.MustCompile(`(?i)^\s*[0-9]+(\.[0-9]+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)\s*$`)

func (c *Config) validate() error {
	c.parsed = nil
	p := &parsed{}
	for _, f := range []struct {
		field, list string
		into        *[]extract.Spec
	}{{"Analytics", c.Analytics, &p.analytics}, {"CRM", c.CRM, &p.crm}, {"Spend", c.Spend, &p.spend}} {
		specs, err := c.specs(f.field, f.list)
		if err != nil {
			return err
		}
		for _, s := range specs {
			if err := c.checkSource(s); err != nil {
				return err
			}
		}
		*f.into = specs
	}
	if strings.TrimSpace(c.Analytics+c.CRM) == "" {
		return bad("Analytics", "no source: set CLOSEDLOOP_ANALYTICS and/or CLOSEDLOOP_CRM, e.g. --analytics 'touches:log.csv'")
	}
	if err := checkWarehouse(c.Warehouse); err != nil {
		return bad("Warehouse", "%v", err)
	}
	if c.LateDays < 0 {
		return bad("LateDays", "must not be negative, got %d", c.LateDays)
	}
	if c.To.IsZero() {
		c.To = Date{time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)}
	}
	if c.From.IsZero() && c.FullRefresh {
		c.From = Date{allDays} // every day the sources hold: the loader gets the days written
	}
	if c.From.IsZero() {
		c.From = Date{c.To.AddDate(0, 0, -c.LateDays)}
	}
	if c.From.After(c.To.Time) {
		return bad("From", "%s is after CLOSEDLOOP_TO %s", c.From.Format(time.DateOnly), c.To.Format(time.DateOnly))
	}
	if len(c.PositionWeights) != 2 {
		return bad("PositionWeights", "want two shares FIRST,LAST such as 0.4,0.4, got %v", c.PositionWeights)
	}
	if err := c.params().Validate(); err != nil {
		field := "MarkovOrder"
		switch {
		case c.DecayHalfLife <= 0:
			field = "DecayHalfLife"
		case c.params().MarkovOrder >= 1 && c.params().MarkovOrder <= 4:
			field = "PositionWeights"
		}
		return bad(field, "%v", err)
	}
	var err error
	if p.limits, err = c.identityLimits(); err != nil {
		return bad("IdentityLimits", "%v", err)
	}
	if len(c.Models) == 0 {
		return bad("Models", "name at least one of %s", strings.Join(attribution.Names(), ", "))
	}
	if p.models, err = attribution.Lookup(c.Models, c.params()); err != nil {
		return bad("Models", "%v", err)
	}
	if p.scopes, err = c.journeyScopes(); err != nil {
		return err
	}
	for _, d := range c.FreeMailDomains {
		if d = strings.TrimSpace(d); !freeMailDomain.MatchString(d) {
			return bad("FreeMailDomains", "want domains such as mail.example or isp.* (a provider's domains in every country), got %q", d)
		}
	}
	if !regexp.MustCompile(`^[A-Z]{3}$`).MatchString(c.Currency) {
		return bad("Currency", "want an ISO 4217 code such as USD or EUR, got %q", c.Currency)
	}
	if c.ChannelRules != "" {
		if p.channels, err = channel.LoadRules(c.ChannelRules); err != nil {
			return bad("ChannelRules", "%v", err)
		}
	}
	if c.Personas != "" {
		if p.personas, err = persona.Load(c.Personas); err != nil {
			return bad("Personas", "%v", err)
		}
	}
	if !memorySize.MatchString(c.DuckdbMemoryLimit) {
		return bad("DuckdbMemoryLimit", "want a size such as 512MB, 2GB or 1.5GiB, got %q", c.DuckdbMemoryLimit)
	}
	if c.MaxRejectRatio < 0 || c.MaxRejectRatio > 1 {
		return bad("MaxRejectRatio", "want a share between 0 and 1 such as 0.01, got %g", c.MaxRejectRatio)
	}
	if c.MaxDayDrop < 0 || c.MaxDayDrop > 1 {
		return bad("MaxDayDrop", "want a share between 0 and 1 such as 0.5, got %g", c.MaxDayDrop)
	}
	if c.SourceTimeout <= 0 {
		return bad("SourceTimeout", "must be positive, got %s", c.SourceTimeout)
	}
	if c.SessionTimeout <= 0 {
		return bad("SessionTimeout", "must be positive, got %s", c.SessionTimeout)
	}
	if err := c.checkEngine(p); err != nil {
		return err
	}
	switch c.Progress {
	case "auto", "always", "never":
	default:
		return bad("Progress", "want auto, always or never, got %q", c.Progress)
	}
	switch c.LogFormat {
	case "auto", "json", "text":
	default:
		return bad("LogFormat", "want auto, json or text, got %q", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("LogLevel", "want debug, info, warn or error, got %q", c.LogLevel)
	}
	c.parsed = p
	return nil
}

// freeMailDomain is an entry of FreeMailDomains: a domain, or NAME.* for a provider's.
var freeMailDomain = regexp.MustCompile(`^(?i)[a-z0-9-]+(\.[a-z0-9-]+)*\.([a-z0-9-]+|\*)$`)

// journeyScopes parses JourneyScope; unset, every scope the engine renders, and person
// alone without a CRM source: without deals or accounts the deal and account journeys
// are the person's, three copies of the same credits.
func (c *Config) journeyScopes() ([]transform.Scope, error) {
	list := c.JourneyScope
	if len(list) == 0 {
		list = []string{string(transform.ScopePerson)}
		if c.Engine != "bigquery" && strings.TrimSpace(c.CRM) != "" {
			for _, s := range transform.ScopeNames()[1:] {
				list = append(list, string(s))
			}
		}
	}
	scopes, err := transform.ParseScopes(list)
	if err != nil {
		return nil, bad("JourneyScope", "%v", err)
	}
	if c.Engine == "bigquery" && (len(scopes) != 1 || scopes[0] != transform.ScopePerson) {
		return nil, bad("JourneyScope", "engine bigquery renders person journeys only (deal and account scopes are not rendered in SQL yet): set it to person or run --engine local")
	}
	return scopes, nil
}

// identityLimits parses IdentityLimits; types it does not name have no limit.
func (c *Config) identityLimits() (identity.Limits, error) {
	var l identity.Limits
	for _, part := range strings.Split(c.IdentityLimits, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, num, ok := strings.Cut(part, "=")
		t, err := identity.ParseType(strings.TrimSpace(name))
		if !ok || err != nil {
			return l, fmt.Errorf("want TYPE=N,... such as email=5,user_id=1, got %q (%v)", part, err)
		}
		n, err := strconv.Atoi(strings.TrimSpace(num))
		if err != nil || n < 1 {
			return l, fmt.Errorf("want a limit ≥ 1 in %q", part)
		}
		l[t] = n
	}
	if l == (identity.Limits{}) {
		return l, fmt.Errorf("name at least one limit, such as email=5 (a limit of 1000000 is as good as none)")
	}
	return l, nil
}

// params are the attribution models' settings.
func (c *Config) params() attribution.Params {
	p := attribution.Params{HalfLife: time.Duration(c.DecayHalfLife), MarkovOrder: c.MarkovOrder}
	if len(c.PositionWeights) == 2 {
		p.PositionFirst, p.PositionLast = c.PositionWeights[0], c.PositionWeights[1]
	}
	return p
}

// helpWidth is the width `closedloop help run` wraps at.
const helpWidth = 100

// printSettings writes the variables for `closedloop help run`: per setting, its
// variable, flag and default on one line, then its meaning indented and wrapped at
// helpWidth columns.
func printSettings(w io.Writer) {
	for _, s := range settings() {
		def := s.def
		if def == "" {
			def = "-"
		}
		head := fmt.Sprintf("%s  --%s  (default %s)", s.env, s.flag, def)
		if len(head) > helpWidth { // a long list: on lines of its own, broken after commas
			fmt.Fprintf(w, "%s  --%s\n", s.env, s.flag)
			parts := strings.SplitAfter(def, ",")
			parts[0] = "(default " + parts[0]
			parts[len(parts)-1] += ")"
			for _, line := range wrap(strings.Join(parts, " "), helpWidth-4) {
				fmt.Fprintf(w, "    %s\n", strings.ReplaceAll(line, ", ", ","))
			}
		} else {
			fmt.Fprintln(w, head)
		}
		for _, line := range wrap(s.desc, helpWidth-4) {
			fmt.Fprintf(w, "    %s\n", line)
		}
	}
}

// wrap breaks text into lines of at most width bytes at spaces (a longer word stands alone).
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		switch {
		case line == "":
			line = word
		case len(line)+1+len(word) <= width:
			line += " " + word
		default:
			lines = append(lines, line)
			line = word
		}
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}

// checkEngine checks that the engine fits the sources and the warehouse.
func (c *Config) checkEngine(p *parsed) error {
	switch c.Engine {
	case "local":
		if c.DryRun {
			return bad("DryRun", "a dry run prints the SQL of --engine bigquery; the local engine runs no SQL")
		}
		return nil
	case "bigquery":
	default:
		return bad("Engine", "want local or bigquery, got %q", c.Engine)
	}
	if kind, _, _ := strings.Cut(c.Warehouse, ":"); kind != "bigquery" {
		return bad("Engine", "engine bigquery writes its tables where the export is: set --warehouse bigquery:PROJECT.DATASET (got %s)", redact.Spec(c.Warehouse))
	}
	n := 0
	for _, s := range p.analytics {
		if s.Kind == "ga4" && strings.HasPrefix(s.Location, "bigquery://") {
			n++
		}
	}
	if n != 1 {
		return bad("Engine", "engine bigquery reads one GA4 export in BigQuery: give exactly one ga4:bigquery://PROJECT/DATASET source (got %d)", n)
	}
	for _, s := range p.analytics {
		if s.Kind == "ga4" && strings.Contains(s.Location, "intraday=true") {
			return bad("Engine", "%s: engine bigquery reads the daily export tables only: drop intraday=true", s)
		}
	}
	if c.BigqueryMaxBytes < 0 {
		return bad("BigqueryMaxBytes", "want 0 (no limit) or a positive number of bytes, got %d", c.BigqueryMaxBytes)
	}
	return nil
}
