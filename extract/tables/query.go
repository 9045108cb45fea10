package tables

import (
	"fmt"
	"os"
	"strings"
	"time"

	"closedloop/extract"
)

// column is a column of a SQL table: its name as the database spells it, and its
// type as information_schema.columns names it.
type column struct{ name, typ string }

// dayKind is how a column's type filters days.
type dayKind int

const (
	noDays     dayKind = iota // not a day: the column cannot filter
	dayDate                   // DATE
	dayInstant                // timestamp with time zone
	dayLocal                  // timestamp without zone, holding UTC
	dayText                   // text in 2006-01-02 form, with a time or not
)

// sqlDialect is what a SQL backend's SELECT differs in.
type sqlDialect struct {
	// cell is the select expression of column c's text or native value.
	cell func(c column) string
	// days tells how a column of type typ filters days.
	days func(typ string) dayKind
	// param is the n-th (1-based) bound parameter, cast for kind.
	param func(n int, kind dayKind) string
}

// selectQuery is the SELECT of cols of schema.table (all its columns), and its
// arguments: only the days f keeps when f is set, as the column's type compares them.
func selectQuery(d sqlDialect, spec, schema, table string, all []column, cols []string, f *DayFilter) (string, []any, error) {
	find := func(name string) (column, error) {
		for _, c := range all {
			if strings.EqualFold(c.name, name) {
				return c, nil
			}
		}
		return column{}, fmt.Errorf("%s: table %s has no column %s: %w", spec, table, name, os.ErrNotExist)
	}
	exprs := make([]string, len(cols))
	for i, name := range cols {
		c, err := find(name)
		if err != nil {
			return "", nil, err
		}
		exprs[i] = d.cell(c)
	}
	if len(cols) == 0 {
		exprs = []string{"1"}
	}
	query := "SELECT " + strings.Join(exprs, ", ") + " FROM " + quoteIdent(schema) + "." + quoteIdent(table)
	if f == nil {
		return query, nil, nil
	}
	c, err := find(f.Column)
	if err != nil {
		return "", nil, err
	}
	from, to := dayBounds(f)
	q := quoteIdent(c.name)
	kind := d.days(c.typ)
	p1, p2 := d.param(1, kind), d.param(2, kind)
	switch kind {
	case dayDate:
		return query + " WHERE " + q + " BETWEEN " + p1 + " AND " + p2,
			[]any{from.Format(time.DateOnly), to.AddDate(0, 0, -1).Format(time.DateOnly)}, nil
	case dayInstant:
		// Instants compare without the session's time zone.
		return query + " WHERE " + q + " >= " + p1 + " AND " + q + " < " + p2,
			[]any{from.Format("2006-01-02 15:04:05Z07:00"), to.Format("2006-01-02 15:04:05Z07:00")}, nil
	case dayLocal:
		// A timestamp without zone holds UTC, as the package doc reads it.
		return query + " WHERE " + q + " >= " + p1 + " AND " + q + " < " + p2,
			[]any{from.Format(time.DateTime), to.Format(time.DateTime)}, nil
	case dayText:
		// Text in 2006-01-02 form (with a time or not) sorts as its days.
		return query + " WHERE " + q + " >= " + p1 + " AND " + q + " < " + p2,
			[]any{from.Format(time.DateOnly), to.Format(time.DateOnly)}, nil
	}
	return "", nil, fmt.Errorf("%w: %s: table %s: column %s is %s, not a date, timestamp or text: it cannot filter days",
		extract.ErrConfig, spec, table, c.name, c.typ)
}
