// Package extracttest checks, in the extractors' tests, that no value a decoder may not
// emit reaches its Writer (the limits of extract/validate.go).
package extracttest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// PlausibleTimes are the timestamp columns (table.column) Writer.Plausible checks with
// extract.BadTime: the CRM's times of record; events' own times are checked by the
// event tests themselves.
var PlausibleTimes = map[string]bool{
	extract.TableContacts + ".created_at":   true,
	extract.TableDeals + ".closed_at":       true,
	extract.TableDealStages + ".entered_at": true,
}

// Writer is an extract.Writer that fails the test (T.Errorf: extractors write from
// goroutines of their own) on text a warehouse cannot store in any string column; with
// Plausible, also on an implausible amount in a float64 column or time in a date column
// or one of PlausibleTimes (against Now); and on a rejection without input, location or
// reason, or with text a warehouse cannot store. It passes everything on to Next (an
// *extract.Collector, say), or drops it when Next is nil.
type Writer struct {
	T         testing.TB
	Next      extract.Writer
	Plausible bool
	Now       time.Time
}

// Write checks rec and passes it on.
func (w *Writer) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	if bad := w.bad(table, rec); bad != "" {
		w.T.Errorf("%s", bad)
	}
	if w.Next == nil {
		return nil
	}
	return w.Next.Write(ctx, table, rec)
}

// bad is what is wrong with the first bad value of rec, "" when none is.
func (w *Writer) bad(table string, rec arrow.RecordBatch) string {
	for c, col := range rec.Columns() {
		name := table + "." + rec.Schema().Field(c).Name
		for i := 0; i < col.Len(); i++ {
			if col.IsNull(i) {
				continue
			}
			var why string
			switch a := col.(type) {
			case *array.String:
				if why = extract.BadText(name, a.Value(i)); why != "" {
					why += fmt.Sprintf(": %q", a.Value(i))
				}
			case *array.Float64:
				if w.Plausible {
					why = extract.BadRevenue(name, a.Value(i))
				}
			case *array.Date32:
				if w.Plausible {
					why = extract.BadTime(name, a.Value(i).ToTime(), w.Now)
				}
			case *array.Timestamp:
				if w.Plausible && PlausibleTimes[name] {
					why = extract.BadTime(name, a.Value(i).ToTime(arrow.Microsecond), w.Now)
				}
			}
			if why != "" {
				return fmt.Sprintf("%s row %d: %s", table, i, why)
			}
		}
	}
	return ""
}

// Reject checks r and passes it on.
func (w *Writer) Reject(ctx context.Context, r extract.Rejection) error {
	if r.Input == "" || r.Location == "" || r.Reason == "" {
		w.T.Errorf("rejection without input, location or reason: %+v", r)
	}
	for _, s := range []string{r.Input, r.Location, r.Reason} {
		if why := extract.BadText("rejection", s); why != "" {
			w.T.Errorf("%s: %q", why, s)
		}
	}
	if w.Next == nil {
		return nil
	}
	return w.Next.Reject(ctx, r)
}

// RequireRejected checks that each location of want was rejected with a reason
// containing its text, and that every rejection's location and reason are storable text.
func RequireRejected(t testing.TB, rejections []extract.Rejection, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for _, r := range rejections {
		require.Empty(t, extract.BadText("location", r.Location), "%q", r.Location)
		require.Empty(t, extract.BadText("reason", r.Reason), "%q", r.Reason)
		got[r.Location] += r.Reason + " | "
	}
	for loc, reason := range want {
		require.Contains(t, got, loc, "%v", got)
		require.Contains(t, got[loc], reason, loc)
	}
}
