package ga4

import (
	"slices"
	"time"
)

// FileDays returns the days the export files in paths are named for (events_YYYYMMDD,
// events_intraday_YYYYMMDD, as Extract tells a file's day), as midnight UTC, sorted
// and distinct. Files without a day in their name are left out. closedloop check
// compares them with the run's range without opening a file.
func FileDays(paths []string) []time.Time {
	var days []time.Time
	for _, p := range paths {
		if d := fileDay(p); d != "" {
			if t, err := time.Parse("20060102", d); err == nil {
				days = append(days, t)
			}
		}
	}
	slices.SortFunc(days, func(a, b time.Time) int { return a.Compare(b) })
	return slices.CompactFunc(days, func(a, b time.Time) bool { return a.Equal(b) })
}
