package bqstorage

import (
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/api/option"

	"closedloop/extract"
	"closedloop/extract/httpretry"
)

// Config configures a Client. The zero value of every field but Project and Dataset
// has a working default.
type Config struct {
	// Project is the Google Cloud project that holds the export dataset.
	Project string
	// Dataset is the GA4 export dataset, named analytics_<property id> by GA4.
	Dataset string
	// BillingProject is the project the read sessions are created in and billed to;
	// the credentials need roles/bigquery.readSessionUser there. Empty means Project.
	BillingProject string
	// TimeZone is the GA4 property's reporting time zone (GA4 Admin > Property
	// details), which dates the export tables: events_20260105 holds January 5 in that
	// zone. Nil means UTC. With the wrong zone the hours at the edges of a run's range
	// are read from the wrong tables and lost.
	TimeZone *time.Location
	// Intraday reads events_intraday_YYYYMMDD for a day whose daily table does not
	// exist yet (streaming export). A day with both tables reads the daily one.
	Intraday bool
	// Columns are the columns read: top-level names, or dotted paths to nested fields
	// ("ecommerce.purchase_revenue"). Nil means DefaultColumns. A column missing from an
	// older table (collected_traffic_source exists since mid-2023) is dropped for that
	// table, with a log line, and is absent from its records.
	Columns []string
	// RowRestriction is a filter in BigQuery SQL (a WHERE clause without WHERE),
	// applied by the server and ANDed with the time bounds of the range.
	RowRestriction string
	// Concurrency is how many tables ReadRange reads at once; 0 means 4.
	Concurrency int
	// Streams caps the read streams of one table, read concurrently; 0 means 2. The
	// server may return fewer (a small table is one stream).
	Streams int
	// CallTimeout bounds every API call other than the ReadRows streams (session
	// creation, table listing); 0 means 2 minutes.
	CallTimeout time.Duration
	// IdleTimeout reopens a ReadRows stream that has sent nothing for this long, at the
	// row it stopped at; 0 means 2 minutes.
	IdleTimeout time.Duration
	// Retry paces the reopening of failed ReadRows streams (package httpretry): its
	// backoff between attempts, and MaxAttempts failures in a row without a row
	// delivered before giving up. Its other fields do not apply: the REST and session
	// calls are retried by Google's client itself, under CallTimeout.
	Retry httpretry.Policy
	// Endpoint is the Storage Read API's gRPC address (host:port) and RESTEndpoint the
	// BigQuery API's base URL (ending in /bigquery/v2/), for emulators and tests: a set
	// endpoint is used in plaintext without credentials. Empty means Google's.
	Endpoint, RESTEndpoint string
	// Options are passed to both API clients, after the defaults (for example
	// option.WithCredentialsFile). Without any, credentials come from Application
	// Default Credentials: GOOGLE_APPLICATION_CREDENTIALS naming a service-account key
	// file, `gcloud auth application-default login`, or the attached service account.
	Options []option.ClientOption
	// Mem allocates the decoded records; nil means memory.DefaultAllocator.
	Mem memory.Allocator
	// Log receives stream retries and dropped columns; nil discards them.
	Log *slog.Logger
}

// DefaultColumns are the export columns the GA4 decoder (package extract/ga4) reads:
// event identity and time, parameters, user ids, the event-scoped traffic source
// (collected_traffic_source, since June 2023), the session's last-click source
// (session_traffic_source_last_click, since July 2024) and purchase revenue. Nested
// fields are selected leaf by leaf, so only these leaves travel. The user-scoped
// traffic_source (the user's first touch) is left out on purpose.
var DefaultColumns = []string{
	"event_timestamp",
	"event_name",
	"event_params",
	"user_id",
	"user_pseudo_id",
	"stream_id",
	"collected_traffic_source.manual_source",
	"collected_traffic_source.manual_medium",
	"collected_traffic_source.manual_campaign_name",
	"collected_traffic_source.manual_term",
	"collected_traffic_source.manual_content",
	"collected_traffic_source.gclid",
	"collected_traffic_source.dclid",
	"session_traffic_source_last_click.manual_campaign.source",
	"session_traffic_source_last_click.manual_campaign.medium",
	"session_traffic_source_last_click.manual_campaign.campaign_name",
	"session_traffic_source_last_click.manual_campaign.term",
	"session_traffic_source_last_click.manual_campaign.content",
	"session_traffic_source_last_click.google_ads_campaign.campaign_name",
	"session_traffic_source_last_click.cross_channel_campaign.source",
	"session_traffic_source_last_click.cross_channel_campaign.medium",
	"session_traffic_source_last_click.cross_channel_campaign.campaign_name",
	"ecommerce.purchase_revenue",
}

const (
	defaultConcurrency = 4
	defaultStreams     = 2
	defaultCallTimeout = 2 * time.Minute
	defaultIdleTimeout = 2 * time.Minute
)

var (
	// Project ids are 6-30 of [a-z0-9-]; older ones may carry a "domain.com:" prefix.
	projectRE = regexp.MustCompile(`^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	datasetRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
	columnRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)
)

// validate checks cfg without the network and fills in defaults.
func (cfg *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: ga4 bigquery: "+format, append([]any{extract.ErrConfig}, args...)...)
	}
	if !projectRE.MatchString(cfg.Project) {
		return bad("project %q is not a Google Cloud project id (6-30 lower-case letters, digits, hyphens)", cfg.Project)
	}
	if !datasetRE.MatchString(cfg.Dataset) || len(cfg.Dataset) > 1024 {
		return bad("dataset %q is not a BigQuery dataset id (letters, digits, underscores; GA4 names it analytics_<property id>)", cfg.Dataset)
	}
	if cfg.BillingProject == "" {
		cfg.BillingProject = cfg.Project
	}
	if !projectRE.MatchString(cfg.BillingProject) {
		return bad("billing project %q is not a Google Cloud project id", cfg.BillingProject)
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = time.UTC
	}
	if cfg.Columns == nil {
		cfg.Columns = DefaultColumns
	}
	if len(cfg.Columns) == 0 {
		return bad("no columns to read: leave Columns nil for DefaultColumns")
	}
	for _, c := range cfg.Columns {
		if !columnRE.MatchString(c) {
			return bad("column %q is not a column name or a dotted path to a nested field", c)
		}
	}
	if cfg.Concurrency < 0 || cfg.Streams < 0 || cfg.CallTimeout < 0 || cfg.IdleTimeout < 0 {
		return bad("Concurrency, Streams, CallTimeout and IdleTimeout must not be negative")
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = defaultConcurrency
	}
	if cfg.Streams == 0 {
		cfg.Streams = defaultStreams
	}
	if cfg.CallTimeout == 0 {
		cfg.CallTimeout = defaultCallTimeout
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	cfg.Retry = cfg.Retry.WithDefaults()
	if cfg.Mem == nil {
		cfg.Mem = memory.DefaultAllocator
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// ParseLocation parses the LOCATION of a ga4 source spec,
//
//	bigquery://PROJECT/DATASET[?intraday=true&tz=Europe/Amsterdam&billing_project=P]
//
// into a Config with Project, Dataset, Intraday, TimeZone and BillingProject set.
// A malformed location or an unknown parameter is an extract.ErrConfig error.
func ParseLocation(loc string) (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return Config{}, fmt.Errorf("%w: ga4:%s: "+format, append([]any{extract.ErrConfig, loc}, args...)...)
	}
	rest, ok := strings.CutPrefix(loc, "bigquery://")
	if !ok {
		return bad("want bigquery://PROJECT/DATASET")
	}
	rest, query, _ := strings.Cut(rest, "?")
	project, dataset, ok := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if !ok || project == "" || dataset == "" || strings.Contains(dataset, "/") {
		return bad("want bigquery://PROJECT/DATASET")
	}
	cfg := Config{Project: project, Dataset: dataset}
	params, err := url.ParseQuery(query)
	if err != nil {
		return bad("bad parameters: %v", err)
	}
	for key, vals := range params {
		val := vals[len(vals)-1]
		switch key {
		case "intraday":
			if cfg.Intraday, err = strconv.ParseBool(val); err != nil {
				return bad("intraday=%q: want true or false", val)
			}
		case "tz":
			if cfg.TimeZone, err = time.LoadLocation(val); err != nil || val == "" {
				return bad("tz=%q: want an IANA time zone such as Europe/Amsterdam (the GA4 property's reporting time zone)", val)
			}
		case "billing_project":
			cfg.BillingProject = val
		default:
			return bad("unknown parameter %q (known: intraday, tz, billing_project)", key)
		}
	}
	check := cfg
	if err := check.validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}
