package salesforce

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// record is one row of an object, from the API or from a file: vals holds the
// object's fields in order, "" for null or absent. Valid only during the callback it
// is given to.
type record struct {
	vals  []string
	file  string // file name, or SCHEMA.TABLE of a warehouse table; "" in API mode
	line  int    // line of the row in file, or its number in the read of a table
	row   bool   // a warehouse table: located "SCHEMA.TABLE row N", not "file:N"
	gone  bool   // Fivetran: deleted in Salesforce (_fivetran_deleted)
	stale bool   // Fivetran history mode: not the current version (_fivetran_active false)
	bad   string // why the row could not be read (broken CSV, a JSON object for a value)
	raw   func() string
}

// stream reads the records of one object.
type stream struct {
	has  []bool // per field: the org (describe) or the file (header) has it
	name string // where it is read from, for logs: a file name or "REST query"
	each func(ctx context.Context, fn func(*record) error) error
}

// location names a record in rows: file:line, SCHEMA.TABLE row N (a table has no
// lines; N counts the rows in the order the warehouse returned them), or the API
// object. An id that cannot be stored as text is left out.
func location(obj *object, r *record, id string) string {
	if r.file != "" && r.row {
		return r.file + " row " + strconv.Itoa(r.line)
	}
	if r.file != "" {
		return r.file + ":" + strconv.Itoa(r.line)
	}
	if id == "" || extract.BadText("", id) != "" {
		id = "(no Id)"
	}
	return "salesforce " + obj.name + " " + id
}

// rejectLocation names a record in rejections: its location in a file or table with
// the object id when known, or the API object.
func rejectLocation(obj *object, r *record, id string) string {
	if r.file != "" && id != "" && extract.BadText("", id) == "" {
		return location(obj, r, "") + " (salesforce " + obj.name + " " + id + ")"
	}
	return location(obj, r, id)
}

// fields reads typed values out of a record, remembering the first failure so that
// a record is checked whole before anything of it is written.
type fields struct {
	obj *object
	r   *record
	bad string // first problem, as a rejection reason
}

// newFields reads r, a record of obj. A value that cannot be stored as text makes
// the record bad, whichever field it is in.
func newFields(obj *object, r *record) *fields {
	f := &fields{obj: obj, r: r, bad: r.bad}
	if f.bad == "" {
		for i, v := range r.vals {
			if extract.BadText("", v) != "" {
				f.bad = extract.BadText("field "+obj.fields[i], v)
				break
			}
		}
	}
	return f
}

// check makes reason, unless empty, the record's first problem.
func (f *fields) check(reason string) {
	if f.bad == "" {
		f.bad = reason
	}
}

// plausible checks t, the value of datetime field i, against the run's start now;
// the zero time (an empty field) passes.
func (f *fields) plausible(i int, t, now time.Time) {
	if !t.IsZero() && f.bad == "" {
		f.bad = extract.BadTime("field "+f.obj.fields[i], t, now)
	}
}

func (f *fields) fail(i int, format string, a ...any) {
	if f.bad == "" {
		f.bad = "field " + f.obj.fields[i] + ": " + fmt.Sprintf(format, a...)
	}
}

// str returns field i, trimmed.
func (f *fields) str(i int) string { return strings.TrimSpace(f.r.vals[i]) }

// time parses datetime field i; "" is the zero time.
func (f *fields) time(i int) time.Time {
	s := f.str(i)
	if s == "" {
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		f.fail(i, "%v; fix the record in Salesforce or the export", err)
	}
	return t
}

// bool parses boolean field i; "" is false.
func (f *fields) bool(i int) bool {
	b, err := parseBool(f.str(i))
	if err != nil {
		f.fail(i, "%v", err)
	}
	return b
}

// id returns reference field i as an 18-character id, "" when empty.
func (f *fields) id(i int) string {
	s := f.str(i)
	if s == "" {
		return ""
	}
	id, err := ID18(s)
	if err != nil {
		f.fail(i, "%v; check that the export did not cut or edit ids", err)
	}
	return id
}

// amount parses a currency field; ok is false when empty.
func (f *fields) amount(i int) (v float64, ok bool) {
	s := f.str(i)
	if s == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		f.fail(i, "%q is not a number (want digits with a dot, like 12000.50)", s)
		return 0, false
	}
	if reason := extract.BadRevenue("field "+f.obj.fields[i], v); reason != "" {
		f.check(reason)
		return 0, false
	}
	return v, true
}

// key returns field i as a lookup key: its 18-character form when it is a valid id,
// else the trimmed text (Fivetran's seeds obfuscate some ids; they still join).
func key(s string) string {
	s = strings.TrimSpace(s)
	if id, err := ID18(s); err == nil {
		return id
	}
	return s
}

// sfTimeLayouts are the datetime forms Salesforce writes that extract.ParseTime does
// not read: the REST API's zone without a colon (2026-01-05T10:00:00.000+0000).
var sfTimeLayouts = []string{
	"2006-01-02T15:04:05.999999999-0700",
	"2006-01-02 15:04:05.999999999-0700",
}

// parseTime reads a Salesforce datetime or date (a date is midnight UTC).
func parseTime(s string) (time.Time, error) {
	if t, ok := parseISO(s); ok {
		return t, nil
	}
	for _, l := range sfTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return extract.ParseTime(s)
}

// parseISO reads the forms exports write, without time.Parse's cost per failed
// layout: YYYY-MM-DD, optionally followed by T or a blank, hh:mm:ss, a fraction and
// a zone (Z, +hh:mm, +hhmm; none is UTC). ok is false for anything else.
func parseISO(s string) (t time.Time, ok bool) {
	num := func(s string, from, to int) int {
		n := 0
		for i := from; i < to; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return -1
			}
			n = n*10 + int(c-'0')
		}
		return n
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return t, false
	}
	y, mo, d := num(s, 0, 4), num(s, 5, 7), num(s, 8, 10)
	if y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return t, false
	}
	var h, mi, sec, nsec, offset int
	if len(s) > 10 {
		if len(s) < 19 || (s[10] != 'T' && s[10] != ' ') || s[13] != ':' || s[16] != ':' {
			return t, false
		}
		h, mi, sec = num(s, 11, 13), num(s, 14, 16), num(s, 17, 19)
		if h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 {
			return t, false
		}
		rest := s[19:]
		if len(rest) > 0 && rest[0] == '.' {
			i, scale := 1, 100_000_000
			for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
				nsec += int(rest[i]-'0') * scale
				scale /= 10
			}
			if i == 1 || i > 10 {
				return t, false
			}
			rest = rest[i:]
		}
		switch {
		case rest == "" || rest == "Z":
		case len(rest) == 6 && rest[3] == ':' || len(rest) == 5:
			sign := 1
			switch rest[0] {
			case '-':
				sign = -1
			case '+':
			default:
				return t, false
			}
			oh, om := num(rest, 1, 3), num(rest, len(rest)-2, len(rest))
			if oh < 0 || oh > 23 || om < 0 || om > 59 {
				return t, false
			}
			offset = sign * (oh*3600 + om*60)
		default:
			return t, false
		}
	}
	t = time.Date(y, time.Month(mo), d, h, mi, sec, nsec, time.UTC)
	if t.Day() != d { // February 30th and the like
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// parseBool reads true/false in the spellings exports use; "" is false.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "", "false", "0", "no", "f":
		return false, nil
	case "true", "1", "yes", "t":
		return true, nil
	}
	return false, fmt.Errorf("%q is not a boolean (want true or false)", s)
}

// inList reports whether s is one of list, without regard to case or blanks.
func inList(s string, list []string) bool {
	s = strings.TrimSpace(s)
	for _, v := range list {
		if strings.EqualFold(s, v) {
			return true
		}
	}
	return false
}

// earliest returns the earlier of two times, ignoring zero ones.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

// want checks that id, the value of field i, is an id of the kind whose key prefix
// is prefix (what names the kind: "a contact").
func (f *fields) want(i int, id, prefix, what string) {
	switch {
	case id == "" && f.str(i) == "":
		f.fail(i, "empty: want the id of %s", what)
	case id != "" && !strings.HasPrefix(id, prefix):
		f.fail(i, "%s is not the id of %s (those start with %s)", id, what, prefix)
	}
}
