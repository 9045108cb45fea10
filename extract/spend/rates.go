package spend

import (
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/extract"
)

// rateKey is a currency on a day, or on any day.
type rateKey struct {
	day      arrow.Date32 // 0 when anyDay
	anyDay   bool
	currency string
}

// String names the key in messages.
func (k rateKey) String() string {
	if k.anyDay {
		return k.currency + " on any day"
	}
	return k.currency + " on " + k.day.FormattedString()
}

// rates converts costs to the reporting currency. Without a rates file it has no rate:
// every cost in another currency is rejected.
type rates struct {
	path      string // the rates file, "" when none is configured
	reporting string
	rate      map[rateKey]float64
	line      map[rateKey]int // where each rate was set, for conflicts
}

// loadRates reads the rates file date,currency,rate: rate units of reporting per 1
// unit of currency on date, or on any day when date is empty. A bad cell, a rate <= 0,
// two different rates for one currency and day, and a rate other than 1 for the
// reporting currency itself are configuration errors naming the line.
func loadRates(path, reporting string) (rs rates, err error) {
	rs = rates{path: path, reporting: reporting, rate: map[rateKey]float64{}, line: map[rateKey]int{}}
	t, err := openTable(path, "rates file")
	if err != nil {
		return rs, err
	}
	defer func() {
		if cerr := t.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("spend: %s: %w", path, cerr)
		}
	}()
	if !t.has("date") || !t.has("currency") || !t.has("rate") {
		return rs, fmt.Errorf("%w: spend: %s: want the header date,currency,rate (rate = %s per 1 unit of currency, an empty date for any day)",
			extract.ErrConfig, t.where(t.head), reporting)
	}
	for {
		rec, line, err := t.next()
		if err == io.EOF {
			return rs, nil
		}
		if err != nil {
			return rs, err
		}
		where := t.where(line)
		k := rateKey{anyDay: true, currency: strings.ToUpper(t.cell(rec, "currency"))}
		if s := t.cell(rec, "date"); s != "" {
			day, reason := parseDay(s, false)
			if reason != "" {
				return rs, fmt.Errorf("%w: spend: %s: %s, or empty for any day", extract.ErrConfig, where, reason)
			}
			k.day, k.anyDay = arrow.Date32FromTime(day), false
		}
		if !isCurrency(k.currency) {
			return rs, fmt.Errorf("%w: spend: %s: bad currency %q: want a 3-letter ISO 4217 code such as EUR or USD", extract.ErrConfig, where, t.cell(rec, "currency"))
		}
		s := t.cell(rec, "rate")
		rate, detail := decimal(s, t.sep)
		switch {
		case s == "" || detail != "" || rate <= 0:
			return rs, fmt.Errorf("%w: spend: %s: bad rate %q: want a number > 0 with '.' as the decimal separator, the %s value of 1 %s",
				extract.ErrConfig, where, s, reporting, k.currency)
		case k.currency == reporting && rate != 1:
			return rs, fmt.Errorf("%w: spend: %s: rate %q for the reporting currency %s itself: it is 1; the file must give %s per 1 unit of each other currency",
				extract.ErrConfig, where, s, reporting, reporting)
		}
		if old, ok := rs.rate[k]; ok && old != rate {
			return rs, fmt.Errorf("%w: spend: %s: a second rate for %s (%s here, %v on line %d): keep one",
				extract.ErrConfig, where, k, s, old, rs.line[k])
		}
		rs.rate[k], rs.line[k] = rate, line
	}
}

// convert turns d's cost into the reporting currency: the rate of its day, else the
// currency's any-day rate. It returns the reason there is none, or "". Without a
// reporting currency nothing is converted.
func (rs *rates) convert(d *day) string {
	if rs.reporting == "" || d.currency == rs.reporting {
		return ""
	}
	day := arrow.Date32FromTime(d.date)
	rate, ok := rs.rate[rateKey{day: day, currency: d.currency}]
	if !ok {
		rate, ok = rs.rate[rateKey{anyDay: true, currency: d.currency}]
	}
	if !ok {
		date := day.FormattedString()
		fix := fmt.Sprintf(`add the row "%s,%s,<%s per 1 %s>" (or ",%s,<rate>" for any day) to the rates file %s`,
			date, d.currency, rs.reporting, d.currency, d.currency, rs.path)
		if rs.path == "" {
			fix = fmt.Sprintf(`no rates file is configured: configure one (date,currency,rate; CLOSEDLOOP_CURRENCY_RATES) with the row "%s,%s,<%s per 1 %s>"`,
				date, d.currency, rs.reporting, d.currency)
		}
		return fmt.Sprintf("no exchange rate for %s on %s to convert the cost to the reporting currency %s: %s",
			d.currency, date, rs.reporting, fix)
	}
	d.cost *= rate
	d.currency = rs.reporting
	return ""
}
