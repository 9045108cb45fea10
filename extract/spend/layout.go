package spend

import (
	"bufio"
	"fmt"
	"strings"

	"closedloop/extract"
)

// field is what a column of an export means, whatever its name in the layout.
type field int

const (
	fDate       field = iota // the day of spend
	fDateStop                // Meta's last day of the row: must equal the first
	fSource                  // generic only: the platforms' source is fixed
	fMedium                  // generic only
	fCampaign                // campaign name (generic: the utm_campaign as is)
	fCampaignID              // the platform's campaign id
	fTerm                    // keyword
	fChannel                 // generic only
	fCost                    // cost in currency units
	fCostMicros              // cost in millionths of a currency unit (Google Ads)
	fClicks                  // all clicks
	fLinkClicks              // clicks that reach the site: preferred to fClicks when the column exists
	fImpressions
	fCurrency
	nFields
)

// fieldNames names the fields in error messages.
var fieldNames = [nFields]string{"date", "date_stop", "source", "medium", "campaign", "campaign id", "term", "channel",
	"cost", "cost_micros", "clicks", "link clicks", "impressions", "currency"}

// layout is one export format: how it is recognised, what its columns mean, and what
// the rows it cannot name get.
type layout struct {
	name     string // in messages: "Google Ads", ...
	platform string // in the campaign mapping file; "" means the layout is not mapped
	// source and medium of every row, for the platforms' own exports.
	source, medium string
	// usDates reads a slashed date with the year last as M/D/YYYY.
	usDates bool
	// norm turns a header cell into the key of columns (after trimming and lower-casing).
	norm func(string) string
	// signature is the column whose presence recognises the layout.
	signature string
	// cols are the layout's columns as the vendor names them; byKey is built from them.
	cols  []col
	byKey map[string]field
	// required lists, for every requirement, the fields of which one must be present.
	required [][]field
	// want describes the expected header, for error messages.
	want string
}

// col is one column of a layout: its name as the vendor writes it, and its meaning.
type col struct {
	name string
	f    field
}

// header is the generic layout's header, for error messages.
const header = "date,source,medium,campaign,cost,clicks,impressions,currency"

// layouts are tried in this order on each of the first lines of a file; the first
// whose signature column is in the line decides. No column of one layout is the
// signature of another, so the order only matters for odd headers.
var layouts = []*layout{
	{
		name: "Google Ads", platform: "google_ads", source: "google", medium: "cpc",
		// GAQL exports name columns segments.date, the BigQuery Data Transfer tables
		// segments_date: one layout with the dot read as an underscore.
		norm:      func(s string) string { return strings.ReplaceAll(s, ".", "_") },
		signature: "segments_date",
		cols: []col{
			{"segments.date", fDate}, {"campaign.id", fCampaignID}, {"campaign.name", fCampaign},
			{"metrics.cost_micros", fCostMicros}, {"metrics.clicks", fClicks}, {"metrics.impressions", fImpressions},
			{"customer.currency_code", fCurrency}, {"ad_group_criterion.keyword.text", fTerm},
		},
		required: [][]field{{fDate}, {fCostMicros}, {fCampaign, fCampaignID}},
		want: "segments.date, metrics.cost_micros and campaign.name or campaign.id (GAQL), or the same with underscores (BigQuery Data Transfer); " +
			"optional metrics.clicks, metrics.impressions, customer.currency_code, ad_group_criterion.keyword.text",
	},
	{
		name: "Meta Ads Insights", platform: "meta_ads", source: "facebook", medium: "paid_social",
		signature: "date_start",
		cols: []col{
			{"date_start", fDate}, {"date_stop", fDateStop}, {"campaign_id", fCampaignID}, {"campaign_name", fCampaign},
			{"spend", fCost}, {"clicks", fClicks}, {"inline_link_clicks", fLinkClicks}, {"impressions", fImpressions},
			{"account_currency", fCurrency},
		},
		required: [][]field{{fDate}, {fCost}, {fCampaign, fCampaignID}},
		want:     "date_start, spend and campaign_name or campaign_id; optional date_stop, inline_link_clicks, clicks, impressions, account_currency",
	},
	{
		name: "LinkedIn Campaign Manager", platform: "linkedin_ads", source: "linkedin", medium: "paid_social", usDates: true,
		signature: "start date (in utc)",
		cols: []col{
			{"Start Date (in UTC)", fDate}, {"Campaign Name", fCampaign}, {"Campaign ID", fCampaignID},
			{"Total Spent", fCost}, {"Clicks", fClicks}, {"Clicks to Landing Page", fLinkClicks}, {"Impressions", fImpressions},
			{"Currency", fCurrency},
		},
		required: [][]field{{fDate}, {fCost}, {fCampaign, fCampaignID}},
		want:     `"Start Date (in UTC)", "Total Spent" and "Campaign Name" or "Campaign ID"; optional "Impressions", "Clicks", "Clicks to Landing Page", "Currency"`,
	},
	{
		name:      "generic",
		signature: "date",
		cols: []col{
			{"date", fDate}, {"source", fSource}, {"medium", fMedium}, {"campaign", fCampaign}, {"term", fTerm}, {"channel", fChannel},
			{"cost", fCost}, {"clicks", fClicks}, {"impressions", fImpressions}, {"currency", fCurrency},
		},
		required: [][]field{{fDate}, {fSource}, {fMedium}, {fCampaign}, {fCost}},
		want:     "the comma-separated header " + header + ", plus term and channel if known; clicks, impressions and currency may be left out",
	},
}

func init() {
	for _, l := range layouts {
		l.byKey = map[string]field{}
		for _, c := range l.cols {
			l.byKey[l.key(c.name)] = c.f
		}
	}
}

// key normalises a header cell for l: trimmed, lower case, inner runs of spaces as
// one, a stray BOM dropped, then l.norm.
func (l *layout) key(s string) string {
	s = strings.TrimPrefix(strings.TrimSpace(s), "\ufeff")
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	if l.norm != nil {
		s = l.norm(s)
	}
	return s
}

// accepted describes every layout, for the error about a file that matches none.
func accepted() string {
	var b strings.Builder
	for i, l := range layouts {
		fmt.Fprintf(&b, "(%d) %s: %s; ", i+1, l.name, l.want)
	}
	return strings.TrimSuffix(b.String(), "; ")
}

// columns is a file's header resolved against its layout.
type columns struct {
	layout *layout
	idx    [nFields]int // index of each field in a record, -1 when absent
	fields int          // number of fields a record must have
	sep    rune         // field separator
	line   int          // line number of the header row (1-based)
}

// get returns field f of rec, trimmed; "" when the column is absent.
func (c *columns) get(rec []string, f field) string {
	if c.idx[f] < 0 {
		return ""
	}
	return strings.TrimSpace(rec[c.idx[f]])
}

// badText says why a text cell of rec cannot be stored, "" when all can. Cells are
// checked as written, before case changes turn bad bytes into U+FFFD.
func (c *columns) badText(rec []string) string {
	for _, f := range []field{fSource, fMedium, fCampaign, fCampaignID, fTerm, fChannel, fCurrency} {
		if reason := extract.BadText(fieldNames[f], c.get(rec, f)); reason != "" {
			return reason
		}
	}
	return ""
}

// findHeader reads the first lines of r until one is the header of a layout, and
// resolves its columns. Lines before it are preamble and are dropped. No header in the
// first maxPreamble lines, or a header without a required column, is a configuration
// error naming the file, the header found and the layouts accepted.
func findHeader(r *bufio.Reader, path string) (*columns, error) {
	first := ""
	for n := 1; n <= maxPreamble; n++ {
		line, ok, err := readLine(r)
		if err != nil {
			return nil, fmt.Errorf("spend: %s:%d: %w", path, n, err)
		}
		if !ok {
			break
		}
		if strings.TrimSpace(line) == "" {
			continue
		}
		if first == "" {
			first = line
		}
		sep := sniff(line)
		rec, ok := splitLine(line, sep)
		if !ok {
			continue
		}
		for _, l := range layouts {
			if c, found, err := l.resolve(rec, line, path, n); found {
				if err != nil {
					return nil, err
				}
				c.sep = sep
				return c, nil
			}
		}
	}
	if first == "" {
		return nil, fmt.Errorf("%w: spend: %s: empty file, want a header row; layouts accepted: %s", extract.ErrConfig, path, accepted())
	}
	return nil, fmt.Errorf("%w: spend: %s: no known header row in the first %d lines (the first line is %q); layouts accepted: %s",
		extract.ErrConfig, path, maxPreamble, extract.Cut(first), accepted())
}

// resolve matches a header row against l: found reports whether the row has l's
// signature column; err is a configuration error when it is l's header but unusable.
func (l *layout) resolve(rec []string, raw, path string, line int) (c *columns, found bool, err error) {
	keys := make([]string, len(rec))
	for i, name := range rec {
		keys[i] = l.key(name)
		found = found || keys[i] == l.signature
	}
	if !found {
		return nil, false, nil
	}
	c = &columns{layout: l, fields: len(rec), line: line}
	for i := range c.idx {
		c.idx[i] = -1
	}
	for i, k := range keys {
		f, ok := l.byKey[k]
		if !ok {
			continue
		}
		if c.idx[f] >= 0 {
			return nil, true, fmt.Errorf("%w: spend: %s:%d: %s export: column %q appears twice in the header (as %q and %q): keep one; header found: %q",
				extract.ErrConfig, path, line, l.name, fieldNames[f], strings.TrimSpace(rec[c.idx[f]]), strings.TrimSpace(rec[i]), extract.Cut(raw))
		}
		c.idx[f] = i
	}
	for _, req := range l.required {
		have := false
		for _, f := range req {
			have = have || c.idx[f] >= 0
		}
		if have {
			continue
		}
		var names []string
		for _, f := range req {
			for _, col := range l.cols {
				if col.f == f {
					names = append(names, fmt.Sprintf("%q", col.name))
				}
			}
		}
		return nil, true, fmt.Errorf("%w: spend: %s:%d: the header looks like a %s export's but has no column %s (want %s); header found: %q",
			extract.ErrConfig, path, line, l.name, strings.Join(names, " or "), l.want, extract.Cut(raw))
	}
	return c, true, nil
}
