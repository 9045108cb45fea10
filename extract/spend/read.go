package spend

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// header is the layout the extractor expects, for error messages.
const header = "date,source,medium,campaign,cost,clicks,impressions,currency"

// Spend-file columns. The optional ones may be missing from the header.
const (
	hDate = iota
	hSource
	hMedium
	hCampaign
	hTerm
	hChannel
	hCost
	hClicks
	hImpressions
	hCurrency
	nHeader
)

var headerNames = [nHeader]string{"date", "source", "medium", "campaign", "term", "channel", "cost", "clicks", "impressions", "currency"}

var required = [nHeader]bool{hDate: true, hSource: true, hMedium: true, hCampaign: true, hCost: true}

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
	f, err := open(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("spend: %s: %w", path, cerr)
		}
	}()
	tee := &rawTee{r: f}
	r := csv.NewReader(tee)
	r.FieldsPerRecord = -1 // a short or long row is a rejection, not the end of the file
	r.ReuseRecord = true

	cols, err := readHeader(r, path)
	if err != nil {
		return err
	}
	if cols.idx[hCurrency] < 0 && e.cfg.Currency == "" {
		return fmt.Errorf("%w: spend: %s: the file has no currency column and no reporting currency is configured: add one of them",
			extract.ErrConfig, path)
	}
	spec := e.cfg.Spec
	prev := r.InputOffset()
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
			rj := extract.Rejection{Input: spec, Location: path + ":" + strconv.Itoa(pe.StartLine), Raw: extract.Cut(tee.raw(prev, off)),
				Reason: fmt.Sprintf("not valid CSV: %v; quote fields that contain commas, quotes or line breaks", pe.Err)}
			if err := w.Reject(ctx, rj); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("spend: %s: %w", path, err)
		default:
			line, _ := r.FieldPos(0)
			loc := path + ":" + strconv.Itoa(line)
			d, reason := parseRow(rec, &cols, e.cfg.Currency)
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

// columns holds, for each spend column, its index in the file's records (-1 when
// absent) and the number of fields a record must have.
type columns struct {
	idx    [nHeader]int
	fields int
}

// readHeader reads the header row and finds the columns by name (trimmed, any case).
// A missing required column is a configuration error: the spec points at a file of
// another layout.
func readHeader(r *csv.Reader, path string) (columns, error) {
	var c columns
	rec, err := r.Read()
	switch {
	case err == io.EOF:
		return c, fmt.Errorf("%w: spend: %s: empty file, want the header %s", extract.ErrConfig, path, header)
	case err != nil:
		return c, fmt.Errorf("spend: %s: header: %w", path, err)
	}
	for i := range c.idx {
		c.idx[i] = -1
	}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(name))
		for h, want := range headerNames {
			if name != want {
				continue
			}
			if c.idx[h] >= 0 {
				return c, fmt.Errorf("%w: spend: %s: column %q appears twice in the header", extract.ErrConfig, path, want)
			}
			c.idx[h] = i
		}
	}
	for h, want := range headerNames {
		if required[h] && c.idx[h] < 0 {
			return c, fmt.Errorf("%w: spend: %s: the header has no column %q (want the comma-separated header %s, plus term and channel if known; clicks, impressions and currency may be left out)",
				extract.ErrConfig, path, want, header)
		}
	}
	c.fields = len(rec)
	return c, nil
}

// parseRow checks one record. It returns the reason the row cannot be used, or "".
// currency is the reporting currency for an empty or missing currency cell.
func parseRow(rec []string, c *columns, currency string) (day, string) {
	var d day
	if len(rec) != c.fields {
		return d, fmt.Sprintf("%d fields where the header has %d: quote fields that contain commas", len(rec), c.fields)
	}
	get := func(h int) string {
		if c.idx[h] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[c.idx[h]])
	}

	s := get(hDate)
	t, err := extract.ParseTime(s)
	if err != nil {
		return d, fmt.Sprintf("bad date: %v (a total or summary row?)", err)
	}
	if t.IsZero() {
		return d, fmt.Sprintf("bad date %q: the zero date is a placeholder, not a day of spend", s)
	}
	d.date = t
	// Lower case, as channel grouping and the join to touches compare them.
	if d.source = strings.ToLower(get(hSource)); d.source == "" {
		return d, "empty source: spend needs the platform it was paid to (google, facebook...) to be joined to touches"
	}
	if d.medium = strings.ToLower(get(hMedium)); d.medium == "" {
		return d, "empty medium: spend needs its medium (cpc, paid_social...) to be joined to touches"
	}
	d.campaign, d.term, d.channel = get(hCampaign), get(hTerm), get(hChannel)

	s = get(hCost)
	if s == "" {
		return d, "empty cost: write 0 for a day without spend"
	}
	d.cost, err = strconv.ParseFloat(s, 64)
	switch {
	case err != nil || math.IsNaN(d.cost) || math.IsInf(d.cost, 0):
		return d, fmt.Sprintf("bad cost %q: want a plain number in currency units such as 152.37 (no currency sign or thousands separator; not micros)", s)
	case d.cost < 0:
		return d, fmt.Sprintf("negative cost %q: spend is never negative; leave refunds and credits out of the export", s)
	}
	if d.clicks, d.hasClicks, err = count(get(hClicks)); err != nil {
		return d, fmt.Sprintf("bad clicks: %v", err)
	}
	if d.impressions, d.hasImpressions, err = count(get(hImpressions)); err != nil {
		return d, fmt.Sprintf("bad impressions: %v", err)
	}

	s = get(hCurrency)
	if d.currency = strings.ToUpper(s); d.currency == "" {
		d.currency = currency
	}
	switch {
	case d.currency == "":
		return d, "empty currency and no reporting currency configured: fill the cell or configure the currency"
	case !isCurrency(d.currency):
		return d, fmt.Sprintf("bad currency %q: want a 3-letter ISO 4217 code such as EUR or USD", s)
	}
	return d, ""
}

// count reads an optional non-negative integer: ok is false for an empty cell.
func count(s string) (n int64, ok bool, err error) {
	if s == "" {
		return 0, false, nil
	}
	n, err = strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("%q is not a whole number >= 0 (no thousands separator)", s)
	}
	return n, true, nil
}

// isCurrency reports whether s looks like an ISO 4217 code: three upper-case letters.
func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
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
