package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"closedloop/extract"
	"closedloop/load"
)

// The guards of a run against input that would silently lose data (README, "Bad
// input"): an analytics source that delivered nothing for a day the warehouse holds,
// a source whose rows are mostly rejected, a day replaced with far fewer rows.

// sourceDays is the Writer an analytics extractor writes through: it counts the events
// the source delivered per UTC day.
type sourceDays struct {
	extract.Writer
	name string
	at   int // occurred_at in extract.EventsSchema

	mu   sync.Mutex
	days map[int64]int64 // days since 1970-01-01 -> events
}

func newSourceDays(w extract.Writer, name string) *sourceDays {
	return &sourceDays{Writer: w, name: name, at: extract.EventsSchema.FieldIndices("occurred_at")[0], days: map[int64]int64{}}
}

// Write counts rec's events per day and passes rec on.
func (s *sourceDays) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	if table == extract.TableEvents && rec.NumRows() > 0 {
		ts := rec.Column(s.at).(*array.Timestamp).Values()
		local := map[int64]int64{}
		const day = int64(24 * time.Hour / time.Microsecond)
		last, n := int64(ts[0])/day, int64(0)
		for _, v := range ts { // events come mostly in day order: count runs
			if d := int64(v) / day; d != last {
				local[last] += n
				last, n = d, 0
			}
			n++
		}
		local[last] += n
		s.mu.Lock()
		for d, n := range local {
			s.days[d] += n
		}
		s.mu.Unlock()
	}
	return s.Writer.Write(ctx, table, rec)
}

// delivered reports whether the source delivered an event on day.
func (s *sourceDays) delivered(day time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.days[day.Unix()/86400] > 0
}

// isAnalytics reports whether the source spec is an analytics source (date-keyed events).
func isAnalytics(spec string) bool {
	kind, _, _ := strings.Cut(spec, ":")
	return slices.Contains(sourceKinds["Analytics"], kind)
}

// heldTables are the tables whose days a run checks before replacing them: what the
// analytics sources' events become.
var heldTables = []string{load.FctTouchpoint, load.FctPageView}

// heldDays counts the rows of heldTables per day of rng in the warehouse's version being
// built (before the loads: the warehouse as it was); nil when the warehouse cannot say.
func heldDays(ctx context.Context, ld load.Loader, rng load.Range) (map[string]int64, error) {
	dc, ok := ld.(load.DayCounter)
	if !ok {
		return nil, nil
	}
	out := map[string]int64{}
	for _, t := range heldTables {
		m, err := dc.DayCounts(ctx, t, rng)
		if err != nil {
			return nil, err
		}
		for d, n := range m {
			out[d] += n
		}
	}
	return out, nil
}

// checkEmptyDays fails a run in which an analytics source delivered no event for days the
// warehouse holds rows of: a late, missing or truncated export, whose days the run would
// otherwise replace with nothing.
func checkEmptyDays(sources []*sourceDays, held map[string]int64) error {
	var msgs []string
	for _, s := range sources {
		var days []string
		var rows int64
		for _, d := range slices.Sorted(maps.Keys(held)) {
			t, err := time.Parse(time.DateOnly, d)
			if err != nil || held[d] == 0 || s.delivered(t) {
				continue
			}
			days = append(days, d)
			rows += held[d]
		}
		if len(days) > 0 {
			msgs = append(msgs, fmt.Sprintf("source %s delivered no event for %s, while the warehouse holds %d touchpoints and page views of %s",
				s.name, listDays(days), rows, map[bool]string{true: "that day", false: "those days"}[len(days) == 1]))
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s: the export is late, missing or truncated, and the warehouse is left as it was; run again once it has landed, "+
		"or with --allow-empty-days (CLOSEDLOOP_ALLOW_EMPTY_DAYS=true) if the days are truly empty", strings.Join(msgs, "; "))
}

// listDays names days compactly: runs of consecutive days as FIRST..LAST.
func listDays(days []string) string {
	var parts []string
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && nextDay(days[j]) == days[j+1] {
			j++
		}
		if j == i {
			parts = append(parts, days[i])
		} else {
			parts = append(parts, days[i]+".."+days[j])
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

func nextDay(d string) string {
	t, _ := time.Parse(time.DateOnly, d)
	return t.AddDate(0, 0, 1).Format(time.DateOnly)
}

// maxReasons is how many rejections a failing source's error quotes.
const maxReasons = 3

// checkRejects fails the run when a source's rejected share of its rows exceeds max.
func checkRejects(col *extract.Collector, exs []extract.Extractor, max float64) error {
	rejected := map[string][]extract.Rejection{}
	for _, r := range col.Rejections() {
		rejected[r.Input] = append(rejected[r.Input], r)
	}
	var msgs []string
	for _, ex := range exs {
		rs := rejected[ex.Name()]
		if len(rs) == 0 {
			continue
		}
		var rows int64
		for _, t := range ex.Tables() {
			rows += col.Rows(ex.Name(), t)
		}
		share := float64(len(rs)) / float64(rows+int64(len(rs)))
		if share <= max {
			continue
		}
		var first []string
		for _, r := range rs[:min(len(rs), maxReasons)] {
			first = append(first, r.Location+": "+r.Reason)
		}
		msgs = append(msgs, fmt.Sprintf("source %s: %d of %d rows rejected (%.1f%%, more than CLOSEDLOOP_MAX_REJECT_RATIO=%g); the first: %s",
			ex.Name(), len(rs), rows+int64(len(rs)), 100*share, max, strings.Join(first, "; ")))
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("%s. Nothing was loaded: fix the input, or raise --max-reject-ratio if these rows are expected to fail", strings.Join(msgs, ". "))
}

// dayDrop is a day the run replaced with far fewer rows than it had.
type dayDrop struct {
	Day    string `json:"day"`
	Before int64  `json:"before"`
	After  int64  `json:"after"`
}

// checkDayDrops compares the rows of each day before and after the loads: a day that
// lost more than maxDrop of its rows is returned (for the log and run_log).
func checkDayDrops(before, after map[string]int64, maxDrop float64) []dayDrop {
	var out []dayDrop
	for _, d := range slices.Sorted(maps.Keys(before)) {
		b, a := before[d], after[d]
		if b > 0 && float64(b-a) > maxDrop*float64(b) {
			out = append(out, dayDrop{Day: d, Before: b, After: a})
		}
	}
	return out
}

// reportDayDrops logs the days that shrank and, with strict, fails the run.
func reportDayDrops(drops []dayDrop, maxDrop float64, strict bool, log *slog.Logger) error {
	if len(drops) == 0 {
		return nil
	}
	var parts []string
	for _, d := range drops {
		parts = append(parts, fmt.Sprintf("%s %d -> %d", d.Day, d.Before, d.After))
	}
	msg := fmt.Sprintf("days replaced with far fewer touchpoints and page views than they had (more than %.0f%% fewer): %s; a late or truncated export?",
		100*maxDrop, strings.Join(parts, ", "))
	if strict {
		return fmt.Errorf("%s. --strict: the warehouse is left as it was", msg)
	}
	log.Warn(msg+" (recorded in run_log.row_counts.day_drops; --strict fails such a run)", "days", len(drops))
	return nil
}

// dataSpan is the first and the last day the analytics sources delivered events of
// (zero when none): what a run whose range holds none of them tells the user.
func dataSpan(delivered []*sourceDays) (first, last time.Time) {
	lo, hi, seen := int64(0), int64(0), false
	for _, s := range delivered {
		s.mu.Lock()
		for d := range s.days {
			if !seen || d < lo {
				lo = d
			}
			if !seen || d > hi {
				hi = d
			}
			seen = true
		}
		s.mu.Unlock()
	}
	if !seen {
		return time.Time{}, time.Time{}
	}
	day := func(d int64) time.Time { return time.Unix(d*24*60*60, 0).UTC() }
	return day(lo), day(hi)
}
