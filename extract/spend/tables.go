package spend

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"closedloop/extract"
	"closedloop/extract/tables"
)

// The platforms' layouts, for the connectors' report tables.
var (
	googleAds = layouts[0]
	metaAds   = layouts[1]
	linkedIn  = layouts[2]
)

// connector is a warehouse connector's spend report: the table that holds a day of
// cost per campaign, the columns read from it, and the history tables joined for what
// it lacks (campaign names, the account's currency). Column lists are those of the
// connectors' published schemas (see the package doc and testdata/SOURCE.md).
type connector struct {
	name   string  // in messages: "Fivetran Google Ads"
	layout *layout // the platform whose rows these are: source, medium, campaign map
	// stats is the report table; with prefix, a prefix followed by an account id,
	// which then suffixes the names of the joined tables too.
	stats  string
	prefix bool
	date   string // the day column: the run's range is pushed down on it
	cols   []tcol
	joins  []tjoin
	// currency is the currency of every cost, when the table states it by its column
	// (LinkedIn's cost_in_usd); "" when it is the account's or the reporting one.
	currency string
}

// tcol is one column of a report table.
type tcol struct {
	name     string
	f        field
	required bool
}

// tjoin fills field into of a report row from the latest version (history row) of
// the record of a history table whose key equals the row's key: a column of the
// report table (fromCol), or a field an earlier join filled (fromField, when fromCol
// is ""). Fivetran's dbt packages pick a history table's latest row the same way
// (row_number() over (partition by id order by updated_at desc) = 1).
type tjoin struct {
	table     string // history table (suffixed like the report table for a prefix connector)
	key       string // the record's id
	value     string // the column taken
	order     []string
	fromCol   string
	fromField field
	into      field
	required  bool   // a missing table is a configuration error; else the join is left out
	what      string // what it brings, for messages: "campaign names"
}

// fivetranDeleted is Fivetran's soft-delete flag: rows where it is true are skipped.
const fivetranDeleted = "_fivetran_deleted"

// connectors are the report tables read from a warehouse, by name. Fivetran syncs each
// connector into a schema of its own, so campaign_history is the one beside the report.
var connectors = []*connector{
	{
		// fivetran/dbt_google_ads_source: get_campaign_stats_columns, get_campaign_history_columns,
		// get_account_history_columns; stg_google_ads__campaign_history (latest by updated_at).
		name: "Fivetran Google Ads", layout: googleAds, stats: "campaign_stats", date: "date",
		cols: []tcol{{"date", fDate, true}, {"id", fCampaignID, true}, {"cost_micros", fCostMicros, true},
			{"clicks", fClicks, false}, {"impressions", fImpressions, false}},
		joins: []tjoin{
			{table: "campaign_history", key: "id", value: "name", order: []string{"updated_at", "_fivetran_synced"},
				fromField: fCampaignID, into: fCampaign, required: true, what: "campaign names"},
			{table: "account_history", key: "id", value: "currency_code", order: []string{"updated_at", "_fivetran_synced"},
				fromCol: "customer_id", into: fCurrency, what: "the accounts' currency"},
		},
	},
	{
		// fivetran/dbt_facebook_ads_source: get_basic_ad_columns, get_ad_history_columns,
		// get_campaign_history_columns, get_account_history_columns; the history models
		// take the latest row by updated_time. basic_ad is per ad: its campaign comes
		// from ad_history.
		name: "Fivetran Facebook Ads", layout: metaAds, stats: "basic_ad", date: "date",
		cols: []tcol{{"date", fDate, true}, {"spend", fCost, true}, {"inline_link_clicks", fLinkClicks, false},
			{"impressions", fImpressions, false}},
		joins: []tjoin{
			{table: "ad_history", key: "id", value: "campaign_id", order: []string{"updated_time", "_fivetran_synced"},
				fromCol: "ad_id", into: fCampaignID, required: true, what: "the ads' campaigns"},
			{table: "campaign_history", key: "id", value: "name", order: []string{"updated_time", "_fivetran_synced"},
				fromField: fCampaignID, into: fCampaign, required: true, what: "campaign names"},
			{table: "account_history", key: "id", value: "currency", order: []string{"_fivetran_synced"},
				fromCol: "account_id", into: fCurrency, what: "the accounts' currency"},
		},
	},
	{
		// fivetran/dbt_linkedin_source: get_ad_analytics_by_campaign_columns (day is a
		// timestamp; the package's default cost is cost_in_usd), get_campaign_history_columns;
		// stg_linkedin_ads__campaign_history (latest by last_modified_time).
		name: "Fivetran LinkedIn Ads", layout: linkedIn, stats: "ad_analytics_by_campaign", date: "day", currency: "USD",
		cols: []tcol{{"day", fDate, true}, {"campaign_id", fCampaignID, true}, {"cost_in_usd", fCost, true},
			{"clicks", fClicks, false}, {"impressions", fImpressions, false}},
		joins: []tjoin{
			{table: "campaign_history", key: "id", value: "name", order: []string{"last_modified_time", "_fivetran_synced"},
				fromField: fCampaignID, into: fCampaign, required: true, what: "campaign names"},
		},
	},
	{
		// docs.cloud.google.com/bigquery/docs/google-ads-transformation: the stats table
		// per customer, the Campaign and Customer entity tables as daily snapshots
		// (the latest _DATA_DATE is the campaign's current name).
		name: "BigQuery Data Transfer Google Ads", layout: googleAds, stats: "p_ads_campaignbasicstats_", prefix: true, date: "segments_date",
		cols: []tcol{{"segments_date", fDate, true}, {"campaign_id", fCampaignID, true}, {"metrics_cost_micros", fCostMicros, true},
			{"metrics_clicks", fClicks, false}, {"metrics_impressions", fImpressions, false}},
		joins: []tjoin{
			{table: "p_ads_campaign_", key: "campaign_id", value: "campaign_name", order: []string{"_data_date"},
				fromField: fCampaignID, into: fCampaign, what: "campaign names"},
			{table: "p_ads_customer_", key: "customer_id", value: "customer_currency_code", order: []string{"_data_date"},
				fromCol: "customer_id", into: fCurrency, what: "the accounts' currency"},
		},
	},
}

// airbyteTables are Airbyte's report streams, read by their columns (an Airbyte
// schema holds other streams with the same columns: ad_group, ads_insights_country,
// ..., which would count the spend twice).
var airbyteTables = []struct {
	name, table string
	layout      *layout
}{
	// airbytehq/airbyte source-google-ads schemas/campaign.json: segments.date,
	// campaign.id, campaign.name, metrics.cost_micros, ... (segments_date once a
	// destination has replaced the dots).
	{"Airbyte Google Ads", "campaign", googleAds},
	// source-facebook-marketing schemas/ads_insights.json: date_start, date_stop,
	// campaign_id, campaign_name, spend, clicks, inline_link_clicks, account_currency.
	{"Airbyte Facebook Marketing", "ads_insights", metaAds},
}

// tablePlan is how one spend table is read.
type tablePlan struct {
	from    string   // what the table is, for messages: "Fivetran Google Ads"
	table   string   // the report table
	read    []string // its columns read, in order
	day     string   // the column the run's range is pushed down on; "" none
	deleted int      // index of _fivetran_deleted in read, -1 when absent
	joins   []*planJoin
	// cols resolves the record given to parseRow: the cells read, then one cell per
	// join, then the fixed currency, if any.
	cols     columns
	currency string
}

// planJoin is a tjoin resolved against the tables present.
type planJoin struct {
	tjoin
	table   string   // the history table
	read    []string // key, value, the order columns present, then _fivetran_deleted if present
	nOrder  int
	deleted int               // index in read, -1 when absent
	from    int               // index of the key in the record
	values  map[string]string // key to the latest version's value, loaded by load
}

// plan finds the spend tables of src and how to read each: the connectors' report
// tables present, else every table whose columns are a file layout's. A report table
// without a required column or table, or a source without any spend table, is an
// extract.ErrConfig error naming what is missing.
func (e *Extractor) plan(ctx context.Context, src tables.Source) ([]*tablePlan, error) {
	names, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
	}
	have := map[string]bool{}
	for _, n := range names {
		have[n] = true
	}
	var plans []*tablePlan
	for _, c := range connectors {
		for _, n := range names {
			suffix := ""
			switch {
			case c.prefix && strings.HasPrefix(n, c.stats) && len(n) > len(c.stats):
				suffix = n[len(c.stats):]
			case c.prefix || n != c.stats:
				continue
			}
			p, err := e.planConnector(ctx, src, c, n, suffix, have)
			if err != nil {
				return nil, err
			}
			plans = append(plans, p)
		}
	}
	for _, a := range airbyteTables {
		if !have[a.table] {
			continue
		}
		cols, err := src.Columns(ctx, a.table)
		if err != nil {
			return nil, fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
		}
		l, idx, miss := matchLayout(cols)
		if l != a.layout {
			if miss == "" {
				miss = fmt.Sprintf("its columns are not a %s report's (want %s)", a.layout.name, a.layout.want)
			}
			return nil, fmt.Errorf("%w: spend: %s: table %s (%s): %s", extract.ErrConfig, e.cfg.Spec, a.table, a.name, miss)
		}
		plans = append(plans, layoutPlan(a.name, a.table, cols, l, idx))
	}
	if len(plans) > 0 {
		return plans, nil
	}
	// No connector's table: the tables in a file layout (a table loaded from exports).
	var near []string
	for _, n := range names {
		cols, err := src.Columns(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
		}
		l, idx, miss := matchLayout(cols)
		switch {
		case l != nil:
			plans = append(plans, layoutPlan(l.name+" layout", n, cols, l, idx))
		case miss != "":
			near = append(near, "table "+n+": "+miss)
		}
	}
	if len(plans) > 0 {
		return plans, nil
	}
	var known []string
	for _, c := range connectors {
		known = append(known, c.name+" ("+c.stats+strings.Repeat("<customer id>", btoi(c.prefix))+")")
	}
	for _, a := range airbyteTables {
		known = append(known, a.name+" ("+a.table+")")
	}
	msg := fmt.Sprintf("spend: %s: no spend table among the %d table(s) there: want a connector's report table, %s, "+
		"or a table with the columns of an export layout: %s", e.cfg.Spec, len(names), strings.Join(known, ", "), accepted())
	if len(near) > 0 {
		msg += "; close: " + strings.Join(near, "; ")
	}
	return nil, fmt.Errorf("%w: %s", extract.ErrConfig, msg)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// planConnector resolves connector c's report table stats (suffix: its account id for
// a prefix connector) against the columns and tables present.
func (e *Extractor) planConnector(ctx context.Context, src tables.Source, c *connector, stats, suffix string, have map[string]bool) (*tablePlan, error) {
	cols, err := src.Columns(ctx, stats)
	if err != nil {
		return nil, fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
	}
	where := fmt.Sprintf("spend: %s: table %s (%s)", e.cfg.Spec, stats, c.name)
	p := &tablePlan{from: c.name, table: stats, day: c.date, deleted: -1, currency: c.currency}
	p.cols.layout, p.cols.sep = c.layout, ','
	for i := range p.cols.idx {
		p.cols.idx[i] = -1
	}
	for _, tc := range c.cols {
		if !slices.Contains(cols, tc.name) {
			if tc.required {
				return nil, fmt.Errorf("%w: %s has no column %s: is it the connector's table? (columns there: %s)",
					extract.ErrConfig, where, tc.name, extract.Cut(strings.Join(cols, ", ")))
			}
			continue
		}
		p.cols.idx[tc.f] = len(p.read)
		p.read = append(p.read, tc.name)
	}
	if slices.Contains(cols, fivetranDeleted) {
		p.deleted = len(p.read)
		p.read = append(p.read, fivetranDeleted)
	}
	// The join keys that are columns of the report table are read after its fields.
	keyAt := map[string]int{}
	for _, j := range c.joins {
		if j.fromCol != "" && slices.Contains(cols, j.fromCol) {
			if _, ok := keyAt[j.fromCol]; !ok {
				keyAt[j.fromCol] = len(p.read)
				p.read = append(p.read, j.fromCol)
			}
		}
	}
	n := len(p.read)
	for _, j := range c.joins {
		table := j.table + suffix
		pj := &planJoin{tjoin: j, table: table, deleted: -1, from: -1}
		switch {
		case j.fromCol != "":
			if i, ok := keyAt[j.fromCol]; ok {
				pj.from = i
			}
		case p.cols.idx[j.fromField] >= 0:
			pj.from = p.cols.idx[j.fromField]
		}
		switch {
		case !have[table] && j.required:
			return nil, fmt.Errorf("%w: %s: table %s, which holds the %s, is missing: enable it in the connector's schema settings and sync again",
				extract.ErrConfig, where, table, j.what)
		case !have[table]:
			continue
		case pj.from < 0 && j.required:
			return nil, fmt.Errorf("%w: %s has no column %s to find the %s in %s by", extract.ErrConfig, where, j.fromCol, j.what, table)
		case pj.from < 0:
			continue
		}
		hcols, err := src.Columns(ctx, table)
		if err != nil {
			return nil, fmt.Errorf("spend: %s: %w", e.cfg.Spec, err)
		}
		for _, need := range []string{j.key, j.value} {
			if !slices.Contains(hcols, need) {
				return nil, fmt.Errorf("%w: spend: %s: table %s (%s, the %s) has no column %s: is it the connector's table?",
					extract.ErrConfig, e.cfg.Spec, table, c.name, j.what, need)
			}
		}
		pj.read = []string{j.key, j.value}
		for _, o := range j.order {
			if slices.Contains(hcols, o) {
				pj.read = append(pj.read, o)
				pj.nOrder++
			}
		}
		if slices.Contains(hcols, fivetranDeleted) {
			pj.deleted = len(pj.read)
			pj.read = append(pj.read, fivetranDeleted)
		}
		p.cols.idx[j.into] = n
		n++
		p.joins = append(p.joins, pj)
	}
	if p.currency != "" && p.cols.idx[fCurrency] < 0 {
		p.cols.idx[fCurrency] = n
		n++
	} else {
		p.currency = ""
	}
	p.cols.fields = n
	return p, nil
}

// matchLayout finds the file layout whose columns cols are (the first whose signature
// is among them) and each field's index in cols. Without a layout, miss says why the
// closest one does not fit ("" when no signature is there at all).
func matchLayout(cols []string) (l *layout, idx [nFields]int, miss string) {
	for _, l := range layouts {
		keys := make([]string, len(cols))
		found := false
		for i, c := range cols {
			keys[i] = l.key(c)
			found = found || keys[i] == l.signature
		}
		if !found {
			continue
		}
		for i := range idx {
			idx[i] = -1
		}
		for i, k := range keys {
			if f, ok := l.byKey[k]; ok && idx[f] < 0 {
				idx[f] = i
			}
		}
		for _, req := range l.required {
			if !slices.ContainsFunc(req, func(f field) bool { return idx[f] >= 0 }) {
				var names []string
				for _, f := range req {
					names = append(names, fieldNames[f])
				}
				return nil, idx, fmt.Sprintf("has %s's column %s but no %s (want %s)", l.name, l.signature, strings.Join(names, " or "), l.want)
			}
		}
		return l, idx, ""
	}
	return nil, idx, ""
}

// layoutPlan reads the columns of a file layout's fields from table.
func layoutPlan(from, table string, cols []string, l *layout, idx [nFields]int) *tablePlan {
	p := &tablePlan{from: from, table: table, deleted: -1}
	p.cols.layout, p.cols.sep = l, ','
	for f := range idx {
		p.cols.idx[f] = -1
		if idx[f] >= 0 {
			p.cols.idx[f] = len(p.read)
			p.read = append(p.read, cols[idx[f]])
		}
	}
	if slices.Contains(cols, fivetranDeleted) {
		p.deleted = len(p.read)
		p.read = append(p.read, fivetranDeleted)
	}
	// A LinkedIn UI export's M/D/YYYY text does not sort as days: read it whole.
	if !l.usDates {
		p.day = p.read[p.cols.idx[fDate]]
	}
	p.cols.fields = len(p.read)
	return p
}

// describe says what p reads, for Check: "campaign_stats (Fivetran Google Ads, with
// campaign_history)".
func (p *tablePlan) describe() string {
	var with []string
	for _, j := range p.joins {
		with = append(with, j.table)
	}
	s := p.table + " (" + p.from
	if len(with) > 0 {
		s += ", with " + strings.Join(with, ", ")
	}
	return s + ")"
}

// load reads the history table of j: the latest version of each record, Fivetran's
// soft-deleted versions left out.
func (j *planJoin) load(ctx context.Context, src tables.Source, spec string) error {
	type version struct {
		value string
		order []time.Time
		raw   []string
	}
	latest := map[string]version{}
	err := src.Read(ctx, j.table, j.read, nil, func(row []string) error {
		if j.deleted >= 0 && row[j.deleted] == "true" {
			return nil
		}
		key := strings.TrimSpace(row[0])
		if key == "" {
			return nil
		}
		v := version{value: strings.TrimSpace(row[1]), raw: slices.Clone(row[2 : 2+j.nOrder])}
		for _, s := range v.raw {
			v.order = append(v.order, parseVersion(s))
		}
		if old, ok := latest[key]; !ok || newer(v.order, v.raw, v.value, old.order, old.raw, old.value) {
			latest[key] = v
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("spend: %s: table %s: %w", spec, j.table, err)
	}
	j.values = make(map[string]string, len(latest))
	for k, v := range latest {
		j.values[k] = v.value
	}
	return nil
}

// parseVersion reads a version cell: a timestamp or a day as the tables package
// renders them; zero when empty or neither.
func parseVersion(s string) time.Time {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t
	}
	t, _ := time.Parse(time.DateOnly, s)
	return t
}

// newer reports whether version a comes after version b: by the order columns, most
// significant first (times, or the text when one is not a time), then, for versions
// that tie, by the greater value, so that the choice does not depend on row order.
func newer(a []time.Time, araw []string, aval string, b []time.Time, braw []string, bval string) bool {
	for i := range a {
		switch {
		case a[i].IsZero() || b[i].IsZero():
			if c := strings.Compare(araw[i], braw[i]); c != 0 {
				return c > 0
			}
		case !a[i].Equal(b[i]):
			return a[i].After(b[i])
		}
	}
	return aval > bval
}

// readTables reads every spend table of Config.Source into b: the history tables
// first, then each report table, its rows on the run's days only.
func (e *Extractor) readTables(ctx context.Context, b *extract.Builder, w extract.Writer) error {
	src := e.cfg.Source
	plans, err := e.plan(ctx, src)
	if err != nil {
		return err
	}
	for _, p := range plans {
		if p.cols.idx[fCurrency] < 0 && e.cfg.Currency == "" {
			return fmt.Errorf("%w: spend: %s: table %s has no currency and no reporting currency is configured: configure one",
				extract.ErrConfig, e.cfg.Spec, p.table)
		}
		for _, j := range p.joins {
			if err := j.load(ctx, src, e.cfg.Spec); err != nil {
				return err
			}
		}
		if err := e.readTable(ctx, src, p, b, w); err != nil {
			return err
		}
	}
	return nil
}

// readTable reads the report table of p into b, one row at a time through the
// decoder of its layout (parseRow), as a file's records.
func (e *Extractor) readTable(ctx context.Context, src tables.Source, p *tablePlan, b *extract.Builder, w extract.Writer) error {
	var f *tables.DayFilter
	if p.day != "" && !e.cfg.Range.To.IsZero() {
		f = &tables.DayFilter{Column: p.day, From: e.cfg.Range.From, To: e.cfg.Range.To}
	}
	spec := e.cfg.Spec
	rec := make([]string, 0, p.cols.fields)
	n := 0
	err := src.Read(ctx, p.table, p.read, f, func(row []string) error {
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if p.deleted >= 0 && row[p.deleted] == "true" {
			e.deleted.Add(1)
			return nil
		}
		rec = append(rec[:0], row...)
		for _, j := range p.joins {
			rec = append(rec, j.values[strings.TrimSpace(rec[j.from])])
		}
		if p.currency != "" {
			rec = append(rec, p.currency)
		}
		if isSummary(rec, &p.cols) {
			e.skipped.Add(1)
			return nil
		}
		loc := p.location(rec)
		d, reason := e.parseRow(rec, &p.cols)
		if reason == "" && d.campaign == "" && len(p.joins) > 0 {
			reason = p.noCampaign(rec)
		}
		if reason == "" {
			reason = e.rates.convert(&d)
		}
		if reason == "" {
			reason = extract.BadRevenue("cost", d.cost)
		}
		if reason != "" {
			return w.Reject(ctx, extract.Rejection{Input: spec, Location: loc, Reason: reason, Raw: extract.Cut(rawRow(p.read, row))})
		}
		return appendRow(ctx, b, spec, loc, &d)
	})
	if err != nil && errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w: spend: %s: table %s: %w", extract.ErrConfig, spec, p.table, err)
	}
	if err != nil {
		return fmt.Errorf("spend: %s: table %s: %w", spec, p.table, err)
	}
	return nil
}

// location names a row of p in rejections and the location column: rows of a table
// have no line number, so the table and the row's day and campaign id.
func (p *tablePlan) location(rec []string) string {
	s := p.table + ": " + p.read[p.cols.idx[fDate]] + " " + cell(rec, p.cols.idx[fDate])
	switch i := p.cols.idx[fCampaignID]; {
	case i >= 0 && i < len(p.read):
		s += ", " + p.read[i] + " " + cell(rec, i)
	case i >= 0 && len(p.joins) > 0 && p.joins[0].from < len(p.read):
		// The campaign id is a join's (Facebook's per-ad report): the ad id is the row's.
		s += ", " + p.read[p.joins[0].from] + " " + cell(rec, p.joins[0].from)
	}
	return s
}

// noCampaign says why a row of p got no campaign: its key is in no history row.
func (p *tablePlan) noCampaign(rec []string) string {
	for _, j := range p.joins {
		if j.into == fCampaign || j.into == fCampaignID {
			if v := cell(rec, p.cols.idx[j.into]); v == "" {
				return fmt.Sprintf("no campaign: %s %q is in no row of %s; sync %s again (or its row was deleted)",
					j.key, cell(rec, j.from), j.table, j.table)
			}
		}
	}
	return "no campaign id or name"
}

// rawRow writes a row read as name=value pairs, for a rejection's raw text.
func rawRow(names, row []string) string {
	var b strings.Builder
	for i, v := range row {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(names[i] + "=" + v)
	}
	return b.String()
}

// Check lists the spend tables of Config.Source and how each would be read, without
// reading a row: what `closedloop check` says of a table source. Its errors are
// those Extract would return before reading.
func (e *Extractor) Check(ctx context.Context) (string, error) {
	if e.cfg.Source == nil {
		paths, err := extract.Glob(e.cfg.Spec, e.cfg.Path)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%d file(s)", len(paths)), nil
	}
	plans, err := e.plan(ctx, e.cfg.Source)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, p := range plans {
		if p.cols.idx[fCurrency] < 0 && e.cfg.Currency == "" {
			return "", fmt.Errorf("%w: spend: %s: table %s has no currency and no reporting currency is configured: configure one",
				extract.ErrConfig, e.cfg.Spec, p.table)
		}
		parts = append(parts, p.describe())
	}
	return "spend tables: " + strings.Join(parts, "; "), nil
}
