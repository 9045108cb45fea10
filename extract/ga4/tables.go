package ga4

import (
	"path/filepath"
	"strings"
)

// table is what an export file's name says about its table: the day of
// events_YYYYMMDD or events_intraday_YYYYMMDD, followed by anything but a digit
// (".ndjson.gz", "-000000000001.parquet" from a sharded export).
type table struct {
	day      string // YYYYMMDD; "" when the name is no export table's
	intraday bool
}

func tableOf(path string) table {
	rest, ok := strings.CutPrefix(filepath.Base(path), "events_")
	if !ok {
		return table{}
	}
	rest, intraday := strings.CutPrefix(rest, "intraday_")
	if len(rest) < 8 || (len(rest) > 8 && isDigit(rest[8])) {
		return table{}
	}
	for i := 0; i < 8; i++ {
		if !isDigit(rest[i]) {
			return table{}
		}
	}
	return table{day: rest[:8], intraday: intraday}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipped is an intraday file left out for the daily table of its day.
type skipped struct {
	path, daily string
}

// dailyOverIntraday drops from paths the intraday files of a day whose daily table is
// in the same folder: GA4 fills events_intraday_YYYYMMDD while the day runs and
// deletes it once events_YYYYMMDD is complete, so the daily table holds the day's
// final rows and reading both would count the day twice.
func dailyOverIntraday(paths []string) (read []string, skip []skipped) {
	daily := map[string]string{} // folder + day -> first daily file
	for _, p := range paths {
		if t := tableOf(p); t.day != "" && !t.intraday {
			k := filepath.Dir(p) + "\x00" + t.day
			if _, ok := daily[k]; !ok {
				daily[k] = p
			}
		}
	}
	for _, p := range paths {
		if t := tableOf(p); t.intraday {
			if d, ok := daily[filepath.Dir(p)+"\x00"+t.day]; ok {
				skip = append(skip, skipped{path: p, daily: d})
				continue
			}
		}
		read = append(read, p)
	}
	return read, skip
}
