package load

import "github.com/apache/arrow-go/v18/arrow"

// AddableColumns returns the columns a loader adds to table t, as found in a warehouse
// written by an older version with only its first have columns: the contract's columns
// after them, when t is an Append table (its rows are history, never rewritten by a
// run) and every one of them is nullable (the older rows get NULL). It returns nil
// when nothing may be added that way: t is complete, is not an Append table, has more
// columns than the contract, or lacks a NOT NULL column. The caller still checks that
// the have columns are the contract's first ones, names and types, in its dialect.
func AddableColumns(t Table, have int) []arrow.Field {
	fields := t.Schema.Fields()
	if t.Mode != Append || have <= 0 || have >= len(fields) {
		return nil
	}
	for _, f := range fields[have:] {
		if !f.Nullable {
			return nil
		}
	}
	return fields[have:]
}
