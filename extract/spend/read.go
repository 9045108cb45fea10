package spend

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableSpend, resolved once.
var (
	cInput       = extract.Col(extract.TableSpend, "input")
	cLocation    = extract.Col(extract.TableSpend, "location")
	cDate        = extract.Col(extract.TableSpend, "date")
	cChannel     = extract.Col(extract.TableSpend, "channel")
	cSource      = extract.Col(extract.TableSpend, "source")
	cMedium      = extract.Col(extract.TableSpend, "medium")
	cCampaign    = extract.Col(extract.TableSpend, "campaign")
	cTerm        = extract.Col(extract.TableSpend, "term")
	cCost        = extract.Col(extract.TableSpend, "cost")
	cClicks      = extract.Col(extract.TableSpend, "clicks")
	cImpressions = extract.Col(extract.TableSpend, "impressions")
	cCurrency    = extract.Col(extract.TableSpend, "currency")
)

// checkEvery is how many rows go by between two looks at the context.
const checkEvery = 1024

// day is one usable row.
type day struct {
	date                                    time.Time
	source, medium, campaign, term, channel string
	cost                                    float64
	clicks, impressions                     int64
	hasClicks, hasImpressions               bool
	currency                                string
}

// readFile reads one spend file into b.
func (e *Extractor) readFile(ctx context.Context, path string, b *extract.Builder, w extract.Writer) (err error) {
	f, err := open(path, extract.MeterOf(ctx))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("spend: %s: %w", path, cerr)
		}
	}()
	cols, err := findHeader(f.Reader, path)
	if err != nil {
		return err
	}
	if cols.idx[fCurrency] < 0 && e.cfg.Currency == "" {
		return fmt.Errorf("%w: spend: %s: the file has no currency column and no reporting currency is configured: add one of them",
			extract.ErrConfig, path)
	}
	// The CSV reader starts after the header row: its lines and offsets count from there.
	tee := &rawTee{r: f}
	r := csv.NewReader(tee)
	r.Comma = cols.sep
	r.FieldsPerRecord = -1 // a short or long row is a rejection, not the end of the file
	r.ReuseRecord = true

	spec := e.cfg.Spec
	var prev int64
	for n := 0; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		off := r.InputOffset()
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			// encoding/csv consumed the broken line: the next Read goes on after it.
			rj := extract.Rejection{Input: spec, Location: path + ":" + strconv.Itoa(cols.line+pe.StartLine), Raw: extract.Cut(tee.raw(prev, off)),
				Reason: fmt.Sprintf("not valid CSV: %v; quote fields that contain %s, quotes or line breaks", pe.Err, sepName(cols.sep))}
			if err := w.Reject(ctx, rj); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("spend: %s: %w", path, err)
		case isSummary(rec, cols):
			e.skipped.Add(1)
		default:
			line, _ := r.FieldPos(0)
			loc := path + ":" + strconv.Itoa(cols.line+line)
			d, reason := e.parseRow(rec, cols)
			if reason == "" {
				reason = e.rates.convert(&d)
			}
			if reason == "" {
				reason = extract.BadRevenue("cost", d.cost)
			}
			if reason != "" {
				if err := w.Reject(ctx, extract.Rejection{Input: spec, Location: loc, Reason: reason, Raw: extract.Cut(tee.raw(prev, off))}); err != nil {
					return err
				}
				break
			}
			if err := appendRow(ctx, b, spec, loc, &d); err != nil {
				return err
			}
		}
		tee.forget(off)
		prev = off
	}
}

// sepName names a field separator in messages.
func sepName(sep rune) string {
	switch sep {
	case ';':
		return "semicolons"
	case '\t':
		return "tabs"
	}
	return "commas"
}

// parseRow checks one record of a file with columns c. It returns the reason the row
// cannot be used, or "". The cost is still in the row's currency.
func (e *Extractor) parseRow(rec []string, c *columns) (day, string) {
	var d day
	if len(rec) != c.fields {
		return d, fmt.Sprintf("%d fields where the header has %d: quote fields that contain %s", len(rec), c.fields, sepName(c.sep))
	}
	l := c.layout
	var reason string
	s := c.get(rec, fDate)
	if s == "" {
		// A row without a day and without a campaign is a summary (isSummary): this one
		// names a campaign, so its cost would be lost.
		return d, "empty date on a row with a campaign: write the day of spend (YYYY-MM-DD), or leave subtotal rows out of the export"
	}
	if d.date, reason = parseDay(s, l.usDates); reason != "" {
		return d, reason
	}
	if reason := extract.BadTime("date", d.date, e.cfg.Now); reason != "" {
		return d, reason
	}
	if reason := c.badText(rec); reason != "" {
		return d, reason
	}
	if s := c.get(rec, fDateStop); s != "" {
		stop, reason := parseDay(s, l.usDates)
		if reason != "" {
			return d, strings.Replace(reason, "bad date", "bad date_stop", 1)
		}
		if !stop.Equal(d.date) {
			return d, fmt.Sprintf("not a daily row: date_start %s and date_stop %s differ; export the insights with time_increment=1 (one row per campaign and day)",
				d.date.Format(time.DateOnly), stop.Format(time.DateOnly))
		}
	}

	if l.platform == "" {
		// Lower case, as channel grouping and the join to touches compare them.
		if d.source = strings.ToLower(c.get(rec, fSource)); d.source == "" {
			return d, "empty source: spend needs the platform it was paid to (google, facebook...) to be joined to touches"
		}
		if d.medium = strings.ToLower(c.get(rec, fMedium)); d.medium == "" {
			return d, "empty medium: spend needs its medium (cpc, paid_social...) to be joined to touches"
		}
		d.campaign = c.get(rec, fCampaign)
	} else {
		d.source, d.medium = l.source, l.medium
		d.campaign = e.campaigns.resolve(l.platform, c.get(rec, fCampaignID), c.get(rec, fCampaign))
	}
	d.term, d.channel = c.get(rec, fTerm), c.get(rec, fChannel)

	if reason := costOf(&d, rec, c); reason != "" {
		return d, reason
	}
	clicks := fClicks
	if c.idx[fLinkClicks] >= 0 {
		clicks = fLinkClicks
	}
	if d.clicks, d.hasClicks, reason = count("clicks", c.get(rec, clicks), c.sep); reason != "" {
		return d, reason
	}
	if d.impressions, d.hasImpressions, reason = count("impressions", c.get(rec, fImpressions), c.sep); reason != "" {
		return d, reason
	}

	s = c.get(rec, fCurrency)
	if d.currency = strings.ToUpper(s); d.currency == "" {
		d.currency = e.cfg.Currency
	}
	switch {
	case d.currency == "":
		return d, "empty currency and no reporting currency configured: fill the cell or configure the currency"
	case !isCurrency(d.currency):
		return d, fmt.Sprintf("bad currency %q: want a 3-letter ISO 4217 code such as EUR or USD", s)
	}
	return d, ""
}

// costOf reads the cost of rec into d: currency units, or micros divided by 1,000,000.
func costOf(d *day, rec []string, c *columns) string {
	if c.idx[fCostMicros] >= 0 {
		s := c.get(rec, fCostMicros)
		if s == "" {
			return "empty cost_micros: write 0 for a day without spend"
		}
		micros, detail := whole(s, c.sep)
		switch {
		case detail != "":
			return fmt.Sprintf("bad cost_micros %q: want a whole number of millionths of the currency unit such as 152370000 (%s)", s, detail)
		case micros < 0:
			return fmt.Sprintf("negative cost_micros %q: spend is never negative; leave refunds and credits out of the export", s)
		}
		// Exact integers divided: the nearest float64 to the decimal value, the same as
		// parsing "152.37".
		d.cost = float64(micros) / 1e6
		return ""
	}
	s := c.get(rec, fCost)
	if s == "" {
		return "empty cost: write 0 for a day without spend"
	}
	v, detail := decimal(s, c.sep)
	switch {
	case detail != "":
		return fmt.Sprintf("bad cost %q: want a plain number in currency units such as 152.37 (%s; not micros)", s, detail)
	case v < 0:
		return fmt.Sprintf("negative cost %q: spend is never negative; leave refunds and credits out of the export", s)
	}
	d.cost = v
	return ""
}

// appendRow appends d as one row of extract.TableSpend, every column exactly once.
func appendRow(ctx context.Context, b *extract.Builder, spec, loc string, d *day) error {
	b.Str(cInput, spec)
	b.Str(cLocation, loc)
	b.Date(cDate, d.date)
	b.Str(cChannel, d.channel)
	b.Str(cSource, d.source)
	b.Str(cMedium, d.medium)
	b.Str(cCampaign, d.campaign)
	b.Str(cTerm, d.term)
	b.Float(cCost, d.cost, true)
	b.Int(cClicks, d.clicks, d.hasClicks)
	b.Int(cImpressions, d.impressions, d.hasImpressions)
	b.Str(cCurrency, d.currency)
	return b.End(ctx)
}
