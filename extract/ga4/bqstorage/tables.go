package bqstorage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/api/iterator"

	"closedloop/extract"
)

// Table is one export table to read, with the part of the run's range its rows are
// restricted to.
type Table struct {
	Project, Dataset string
	// ID is events_YYYYMMDD or events_intraday_YYYYMMDD.
	ID string
	// Day is the table's date, YYYYMMDD in the property's time zone, as midnight UTC.
	Day time.Time
	// Intraday marks an events_intraday_ table.
	Intraday bool
	// Start and End bound event_timestamp: rows in [Start, End) are read, plus rows
	// without a timestamp (so that the decoder can reject them). Zero means unbounded.
	Start, End time.Time
}

// String names the table in locations and errors: bigquery://PROJECT/DATASET/ID.
func (t Table) String() string { return "bigquery://" + t.Project + "/" + t.Dataset + "/" + t.ID }

// Path is the table's resource name in the Storage Read API.
func (t Table) Path() string {
	return "projects/" + t.Project + "/datasets/" + t.Dataset + "/tables/" + t.ID
}

// Missing is a day of the range with no export table. Location and Reason are meant
// for an extract.Rejection (or a warning): the day's events are not in the run.
type Missing struct {
	Day      time.Time // the date, as midnight UTC
	Location string    // bigquery://PROJECT/DATASET/events_YYYYMMDD
	Reason   string
}

const (
	dailyPrefix    = "events_"
	intradayPrefix = "events_intraday_"
	dayLayout      = "20060102"
)

// Days lists the export tables holding the events of r, one per day: r's UTC days
// mapped to dates in Config.TimeZone (one more table at an edge of the range when the
// zone is not UTC). A day without events_YYYYMMDD reads events_intraday_YYYYMMDD when
// Config.Intraday is set and that table exists; otherwise it is returned in missing.
// Tables come in date order. The listing is one tables.list call per 1,000 tables of
// the dataset.
func (c *Client) Days(ctx context.Context, r extract.Range) (tables []Table, missing []Missing, err error) {
	if r.To.Before(r.From) {
		return nil, nil, fmt.Errorf("%w: ga4 bigquery: range %s..%s ends before it starts",
			extract.ErrConfig, r.From.Format(time.DateOnly), r.To.Format(time.DateOnly))
	}
	have, err := c.listTables(ctx)
	if err != nil {
		return nil, nil, err
	}
	zone := c.cfg.TimeZone
	first := civilDay(r.Start().In(zone))
	last := civilDay(r.End().Add(-time.Nanosecond).In(zone))
	for day := first; !day.After(last); day = day.AddDate(0, 0, 1) {
		suffix := day.Format(dayLayout)
		t := Table{Project: c.cfg.Project, Dataset: c.cfg.Dataset, Day: day, ID: dailyPrefix + suffix}
		// The table's rows are those of its local day; the run wants those of r.
		start := time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, zone)
		t.Start, t.End = later(start, r.Start()).UTC(), earlier(start.AddDate(0, 0, 1), r.End()).UTC()
		switch {
		case have[t.ID]:
		case c.cfg.Intraday && have[intradayPrefix+suffix]:
			t.ID, t.Intraday = intradayPrefix+suffix, true
		default:
			missing = append(missing, c.missing(t))
			continue
		}
		tables = append(tables, t)
	}
	return tables, missing, nil
}

// missing explains why the daily table t is not read.
func (c *Client) missing(t Table) Missing {
	reason := fmt.Sprintf("no table %s in %s.%s: this day's events are not read. "+
		"GA4 writes a day's table during the following day (property time zone %s); "+
		"if the day is older, the export was off or the table expired (dataset default table expiration)",
		t.ID, c.cfg.Project, c.cfg.Dataset, c.cfg.TimeZone)
	if c.cfg.Intraday {
		reason = fmt.Sprintf("neither %s nor %s%s exists in %s.%s: this day's events are not read. "+
			"Check that the GA4 BigQuery link exports this property (daily or streaming), that the property's "+
			"time zone is %s, and the dataset's table expiration",
			t.ID, intradayPrefix, t.Day.Format(dayLayout), c.cfg.Project, c.cfg.Dataset, c.cfg.TimeZone)
	} else {
		reason += "; to read the streaming export meanwhile, enable intraday (?intraday=true)"
	}
	return Missing{Day: t.Day, Location: t.String(), Reason: reason}
}

// listTables returns the ids of the dataset's export tables (events_YYYYMMDD and
// events_intraday_YYYYMMDD with a valid date).
func (c *Client) listTables(ctx context.Context) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	it := c.bq.DatasetInProject(c.cfg.Project, c.cfg.Dataset).Tables(ctx)
	it.PageInfo().MaxSize = 1000
	have := map[string]bool{}
	for {
		t, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return have, nil
		}
		if err != nil {
			return nil, c.restError(fmt.Sprintf("bigquery://%s/%s: listing tables", c.cfg.Project, c.cfg.Dataset), err)
		}
		if _, ok := tableDay(t.TableID); ok {
			have[t.TableID] = true
		}
	}
}

// tableDay parses the date of an export table id; ok is false for other tables
// (pseudonymous_users_*, events_fresh_*, views).
func tableDay(id string) (day time.Time, ok bool) {
	suffix, found := strings.CutPrefix(id, intradayPrefix)
	if !found {
		if suffix, found = strings.CutPrefix(id, dailyPrefix); !found {
			return time.Time{}, false
		}
	}
	if len(suffix) != len(dayLayout) {
		return time.Time{}, false
	}
	day, err := time.Parse(dayLayout, suffix)
	return day, err == nil
}

// civilDay is t's date in t's zone, as midnight UTC.
func civilDay(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
