package load

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/sourcegraph/conc/pool"
)

// SQLState is the StateReader of a warehouse reached through database/sql: the same
// queries on DuckDB and PostgreSQL, their placeholders and timestamps told apart by
// Dialect ("duckdb", "postgres").
type SQLState struct {
	DB      *sql.DB
	Dialect string
}

var _ StateReader = (*SQLState)(nil)

// LastRun is the row_counts of the last successful run, "" when none.
func (s *SQLState) LastRun(ctx context.Context) (string, error) {
	var counts sql.NullString
	err := s.DB.QueryRowContext(ctx, `SELECT row_counts FROM run_log WHERE status = 'success' ORDER BY finished_at DESC LIMIT 1`).Scan(&counts)
	if errors.Is(err, sql.ErrNoRows) || err != nil && strings.Contains(err.Error(), "does not exist") {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: last run: %w", s.Dialect, err)
	}
	return counts.String, nil
}

// ReadState passes sink the warehouse's state (StateReader), the tables read at once.
func (s *SQLState) ReadState(ctx context.Context, since time.Time, milestones []string, sink StateSink) error {
	us := func(t sql.NullTime) int64 {
		if !t.Valid {
			return 0
		}
		return t.Time.UnixMicro()
	}
	str := func(v sql.NullString) string { return v.String }
	// DuckDB holds UTC wall times (TIMESTAMP): since is compared as one; PostgreSQL
	// timestamptz takes the time itself.
	var ts any = since.UTC()
	before := "occurred_at < $1"
	if s.Dialect == "duckdb" {
		ts, before = since.UTC().Format("2006-01-02 15:04:05.999999"), "occurred_at < CAST(? AS TIMESTAMP)"
	}
	quoted := make([]string, len(milestones))
	for i, m := range milestones {
		quoted[i] = "'" + strings.ReplaceAll(m, "'", "''") + "'"
	}
	notMilestone := "" // the conversions of events: not the CRM's milestones
	if len(quoted) > 0 {
		notMilestone = " AND conversion_type NOT IN (" + strings.Join(quoted, ", ") + ")"
	}
	queries := []struct {
		name, q string
		args    []any
		row     func(*sql.Rows) error
	}{
		{"bridge_identity", `SELECT identifier_type, identifier, first_seen_at, person_id FROM bridge_identity`, nil, func(r *sql.Rows) error {
			var typ, v, person string
			var first sql.NullTime
			if err := r.Scan(&typ, &v, &first, &person); err != nil {
				return err
			}
			return sink.Identifier(typ, v, us(first), person)
		}},
		{"identity_edge", `SELECT identifier_type, identifier, other_type, other_identifier, kind, observed_at FROM identity_edge`, nil, func(r *sql.Rows) error {
			var at, a, bt, b, kind string
			var seen sql.NullTime
			if err := r.Scan(&at, &a, &bt, &b, &kind, &seen); err != nil {
				return err
			}
			return sink.Edge(at, a, bt, b, kind, us(seen))
		}},
		{"fct_touchpoint", `SELECT touchpoint_id, person_id, anonymous_id, occurred_at, channel, campaign, term
			FROM fct_touchpoint WHERE ` + before, []any{ts}, func(r *sql.Rows) error {
			var id, person, channel string
			var anon, campaign, term sql.NullString
			var at time.Time
			if err := r.Scan(&id, &person, &anon, &at, &channel, &campaign, &term); err != nil {
				return err
			}
			return sink.Touchpoint(id, person, str(anon), at.UnixMicro(), channel, str(campaign), str(term))
		}},
		{"fct_conversion", `SELECT conversion_id, person_id, occurred_at, conversion_type, revenue, currency
			FROM fct_conversion WHERE ` + before + ` AND crm_deal_id IS NULL` + notMilestone,
			[]any{ts}, func(r *sql.Rows) error {
				var id, person, typ string
				var currency sql.NullString
				var revenue sql.NullFloat64
				var at time.Time
				if err := r.Scan(&id, &person, &at, &typ, &revenue, &currency); err != nil {
					return err
				}
				rev := math.NaN()
				if revenue.Valid {
					rev = revenue.Float64
				}
				return sink.Conversion(id, person, at.UnixMicro(), typ, rev, str(currency))
			}},
		{"dim_person", `SELECT person_id, last_seen_at FROM dim_person WHERE last_seen_at IS NOT NULL`, nil, func(r *sql.Rows) error {
			var person string
			var last time.Time
			if err := r.Scan(&person, &last); err != nil {
				return err
			}
			return sink.Person(person, last.UnixMicro())
		}},
	}
	// The tables at once, each on a connection of its own (sink is safe for that).
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(runtime.GOMAXPROCS(0))
	for _, q := range queries {
		p.Go(func(ctx context.Context) error {
			rows, err := s.DB.QueryContext(ctx, q.q, q.args...)
			if err != nil {
				return fmt.Errorf("%s: read back %s: %w", s.Dialect, q.name, err)
			}
			defer rows.Close()
			for rows.Next() {
				if err := q.row(rows); err != nil {
					return fmt.Errorf("%s: read back %s: %w", s.Dialect, q.name, err)
				}
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("%s: read back %s: %w", s.Dialect, q.name, err)
			}
			return nil
		})
	}
	return p.Wait()
}

// Close closes the file.
func (s *SQLState) Close() error { return s.DB.Close() }
