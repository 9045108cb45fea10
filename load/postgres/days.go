package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"closedloop/load"
)

var _ load.DayCounter = (*Loader)(nil)

// DayCounts counts table's rows per UTC day of rng in the run's transaction
// (load.DayCounter).
func (l *Loader) DayCounts(ctx context.Context, table string, rng load.Range) (map[string]int64, error) {
	t, ok := load.Lookup(table)
	if !ok || t.DateColumn == "" {
		return nil, fmt.Errorf("postgres: %s has no date column to count days by", table)
	}
	c := pgx.Identifier{t.DateColumn}.Sanitize()
	rows, err := l.tx.Query(ctx, "SELECT to_char("+c+" AT TIME ZONE 'UTC', 'YYYY-MM-DD'), count(*) FROM "+l.ident(table)+
		" WHERE "+c+" >= $1 AND "+c+" < $2 GROUP BY 1", rng.From.UTC(), rng.To.UTC().AddDate(0, 0, 1))
	if err != nil {
		return nil, fmt.Errorf("postgres: count %s by day: %w", table, err)
	}
	defer rows.Close()
	out, err := load.ScanDayCounts(rows)
	if err != nil {
		return nil, fmt.Errorf("postgres: count %s by day: %w", table, err)
	}
	return out, nil
}
