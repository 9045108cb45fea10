package spend

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// parseDay reads a day of spend as the export writes it: YYYY-MM-DD, optionally
// followed by a time that is checked and ignored (the day is the account's, never
// shifted to UTC), or YYYY/MM/DD; with us, also M/D/YYYY. It returns the reason the
// cell is no day, or "".
func parseDay(s string, us bool) (time.Time, string) {
	var y, m, d int
	switch {
	case len(s) >= 10 && s[4] == '-' && s[7] == '-':
		if !digits(s[:4]) || !digits(s[5:7]) || !digits(s[8:10]) {
			return time.Time{}, fmt.Sprintf("bad date %q: want YYYY-MM-DD", s)
		}
		if len(s) > 10 {
			// The time is checked on a day that exists, so that a day that does not is
			// reported as such below.
			if _, err := extract.ParseTime("2000-01-01" + s[10:]); err != nil || (s[10] != 'T' && s[10] != ' ') {
				return time.Time{}, fmt.Sprintf("bad date %q: want YYYY-MM-DD", s)
			}
		}
		y, _ = strconv.Atoi(s[:4])
		m, _ = strconv.Atoi(s[5:7])
		d, _ = strconv.Atoi(s[8:10])
	case strings.Count(s, "/") == 2:
		p := strings.Split(s, "/")
		var n [3]int
		for i, part := range p {
			v, err := strconv.Atoi(part)
			if err != nil || v < 0 || part[0] == '+' || part[0] == '-' {
				return time.Time{}, fmt.Sprintf("bad date %q: want YYYY-MM-DD", s)
			}
			n[i] = v
		}
		switch {
		case len(p[0]) == 4:
			y, m, d = n[0], n[1], n[2]
		case len(p[2]) != 4:
			return time.Time{}, fmt.Sprintf("bad date %q: want YYYY-MM-DD", s)
		case !us:
			return time.Time{}, fmt.Sprintf("ambiguous date %q: day and month order unknown; write YYYY-MM-DD", s)
		case n[0] > 12:
			return time.Time{}, fmt.Sprintf("bad date %q: LinkedIn's export writes MM/DD/YYYY, and %d is no month; export with the English (US) language setting", s, n[0])
		default:
			y, m, d = n[2], n[0], n[1]
		}
	default:
		return time.Time{}, fmt.Sprintf("bad date %q: want YYYY-MM-DD", s)
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return time.Time{}, fmt.Sprintf("bad date %q: no such day", s)
	}
	if y == 1 && m == 1 && d == 1 {
		return time.Time{}, fmt.Sprintf("bad date %q: the zero date is a placeholder, not a day of spend", s)
	}
	return t, ""
}

// isTotal reports whether a cell labels a total or summary row ("Total", "Total:
// Account", "Grand total"), in any case.
func isTotal(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.HasPrefix(s, "total") || strings.HasPrefix(s, "grand total")
}

// isSummary reports whether rec is a total or summary row, to be skipped: its date
// cell holds no day, and either the date cell is empty and the row names no campaign
// (no campaign name or id), or its date cell, first cell or campaign cell says Total.
// A row too short to have a date cell is not one: it is rejected as short.
func isSummary(rec []string, c *columns) bool {
	i := c.idx[fDate]
	if i >= len(rec) {
		return false
	}
	date := strings.TrimSpace(rec[i])
	campaign := cell(rec, c.idx[fCampaign])
	if date == "" && campaign == "" && cell(rec, c.idx[fCampaignID]) == "" {
		return true
	}
	if !isTotal(date) && !isTotal(rec[0]) && !isTotal(campaign) {
		return false
	}
	_, reason := parseDay(date, c.layout.usDates)
	return reason != ""
}

// cell returns rec[i] trimmed, "" when i is -1 or past the end of a short row.
func cell(rec []string, i int) string {
	if i < 0 || i >= len(rec) {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// ungroup removes thousands separators from a number cell. In a comma-separated file a
// ',' inside a number is refused: the export writer quoted it, but whether it groups
// thousands or is a decimal comma cannot be told. Elsewhere ',' must group digits by
// three; a money value with one group and no decimals ("1,234") is refused too, as it
// reads as 1.234 with a decimal comma. detail says why a cell is refused.
func ungroup(s string, sep rune, money bool) (plain, detail string) {
	if !strings.Contains(s, ",") {
		return s, ""
	}
	if sep == ',' {
		return "", "a ',' inside a number is ambiguous in a comma-separated file (thousands or decimal separator?): export numbers without thousands separators"
	}
	whole, frac, hasFrac := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	groups := strings.Split(whole, ",")
	ok := len(groups[0]) >= 1 && len(groups[0]) <= 3 && digits(groups[0]) && (!hasFrac || digits(frac))
	for _, g := range groups[1:] {
		ok = ok && len(g) == 3 && digits(g)
	}
	switch {
	case !ok:
		return "", "',' is read only as a thousands separator grouping digits by three (1,234.50): export with '.' as the decimal separator"
	case money && !hasFrac && len(groups) == 2:
		return "", "one ',' group without decimals reads both as thousands and as a decimal comma: export with '.' as the decimal separator"
	}
	return strings.ReplaceAll(s, ",", ""), ""
}

// digits reports whether s is one or more ASCII digits.
func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// decimal reads a money cell: digits with an optional '-' and one '.', thousands
// separators as ungroup allows. Exponents, signs of currency, "NaN" and the like are
// refused, since no export writes them for money.
func decimal(s string, sep rune) (float64, string) {
	p, detail := ungroup(s, sep, true)
	if detail != "" {
		return 0, detail
	}
	whole, frac, hasFrac := strings.Cut(strings.TrimPrefix(p, "-"), ".")
	if !digits(whole) || (hasFrac && !digits(frac)) {
		return 0, "no currency sign or letters"
	}
	v, err := strconv.ParseFloat(p, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, "out of range"
	}
	return v, ""
}

// whole reads an integer cell, thousands separators as ungroup allows.
func whole(s string, sep rune) (int64, string) {
	p, detail := ungroup(s, sep, false)
	if detail != "" {
		return 0, detail
	}
	if !digits(strings.TrimPrefix(p, "-")) {
		return 0, "digits only"
	}
	n, err := strconv.ParseInt(p, 10, 64)
	if err != nil {
		return 0, "out of range"
	}
	return n, ""
}

// count reads an optional non-negative integer cell (clicks, impressions) named name:
// ok is false for an empty cell.
func count(name, s string, sep rune) (n int64, ok bool, reason string) {
	if s == "" {
		return 0, false, ""
	}
	n, detail := whole(s, sep)
	switch {
	case detail != "":
		return 0, false, fmt.Sprintf("bad %s: %q is not a whole number >= 0 (%s)", name, s, detail)
	case n < 0:
		return 0, false, fmt.Sprintf("bad %s: %q is not a whole number >= 0", name, s)
	}
	return n, true, ""
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
