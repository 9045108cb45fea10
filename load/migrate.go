package load

import "github.com/apache/arrow-go/v18/arrow"

// ExistingRowsKey is the field metadata key of a NOT NULL column added to the contract
// after rows were written: its value is the column's value on those older rows (as
// text, in the column's type), which loaders write when they add the column to a
// table that keeps its rows (see AddableColumns).
const ExistingRowsKey = "existing_rows"

// ExistingRows returns the value a column added to a table that keeps its rows takes
// on the rows written before it existed: ok is false for a column without one (NULL
// for a nullable column; a NOT NULL column without it cannot be added).
func ExistingRows(f arrow.Field) (value string, ok bool) {
	if i := f.Metadata.FindKey(ExistingRowsKey); i >= 0 {
		return f.Metadata.Values()[i], true
	}
	return "", false
}

// AddableColumns returns the columns a loader adds to table t, as found in a warehouse
// written by an older version with only its first have columns: the contract's columns
// after them, when t keeps rows across runs (an Append table, whose rows are history,
// or a ReplaceRange table, whose days outside a run's range are kept) and every one of
// them is nullable (the older rows get NULL) or NOT NULL with a value for the existing
// rows (ExistingRows: the older rows get that value). It returns nil when nothing may
// be added that way: t is complete, is a ReplaceAll table (recreated instead), has more
// columns than the contract, or lacks a NOT NULL column without such a value. The
// caller still checks that the have columns are the contract's first ones, names and
// types, in its dialect.
func AddableColumns(t Table, have int) []arrow.Field {
	fields := t.Schema.Fields()
	if t.Mode == ReplaceAll || have <= 0 || have >= len(fields) {
		return nil
	}
	for _, f := range fields[have:] {
		if _, ok := ExistingRows(f); !f.Nullable && !ok {
			return nil
		}
	}
	return fields[have:]
}
