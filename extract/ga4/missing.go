package ga4

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage"
)

// missingFiles returns the days of r (UTC) that no file of paths names (fileDay), each
// located at glob and the day; none when r is unset or no file names a day.
func missingFiles(glob string, paths []string, r extract.Range) []bqstorage.Missing {
	if r.From.IsZero() || r.To.IsZero() {
		return nil
	}
	have := map[string]bool{}
	for _, p := range paths {
		if d := fileDay(p); d != "" {
			have[d] = true
		}
	}
	if len(have) == 0 {
		return nil
	}
	var missing []bqstorage.Missing
	from := r.From.UTC()
	for day := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, time.UTC); day.Before(r.End()); day = day.AddDate(0, 0, 1) {
		d := day.Format("20060102")
		if have[d] {
			continue
		}
		missing = append(missing, bqstorage.Missing{
			Day:      day,
			Location: glob + " day " + day.Format(time.DateOnly),
			Reason: fmt.Sprintf("no file of %s (a name with %s, as events_%s.ndjson.gz) matches %s: this day's events are not read. "+
				"GA4 writes a day's table during the following day; if the day is older, the export to files missed it: "+
				"export the table events_%s into the folder, or leave the day out of the run's range",
				day.Format(time.DateOnly), d, d, glob, d),
		})
	}
	return missing
}

// rejectMissing writes a rejection for each day without an export (a BigQuery table
// or a file), located and explained as missing says, and logs the days in one line.
func rejectMissing(ctx context.Context, w extract.Writer, spec string, log *slog.Logger, missing []bqstorage.Missing) error {
	if len(missing) == 0 {
		return nil
	}
	days := make([]string, len(missing))
	for i, m := range missing {
		if err := w.Reject(ctx, extract.Rejection{Input: spec, Location: m.Location, Reason: m.Reason}); err != nil {
			return err
		}
		days[i] = m.Day.Format(time.DateOnly)
	}
	log.Warn("ga4: days without an export, not read (each is in rejected_rows)", "source", spec, "days", days)
	return nil
}
