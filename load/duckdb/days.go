package duckdb

import (
	"context"
	"fmt"
	"time"

	"closedloop/load"
)

var _ load.DayCounter = (*Loader)(nil)

// DayCounts counts table's rows per UTC day of rng in the version being built
// (load.DayCounter).
func (l *Loader) DayCounts(ctx context.Context, table string, rng load.Range) (map[string]int64, error) {
	t, ok := load.Lookup(table)
	if !ok || t.DateColumn == "" {
		return nil, fmt.Errorf("duckdb: %s has no date column to count days by", table)
	}
	c := quote(t.DateColumn)
	rows, err := l.db.QueryContext(ctx, "SELECT strftime("+c+", '%Y-%m-%d'), count(*) FROM "+quote(table)+
		" WHERE "+c+" >= CAST(? AS TIMESTAMP) AND "+c+" < CAST(? AS TIMESTAMP) GROUP BY 1",
		rng.From.UTC().Format(time.DateOnly), rng.To.UTC().AddDate(0, 0, 1).Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("duckdb: count %s by day: %w", table, err)
	}
	defer rows.Close()
	out, err := load.ScanDayCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("duckdb: count %s by day: %w", table, err)
	}
	return out, nil
}
