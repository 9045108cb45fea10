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

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/sourcegraph/conc/pool"
)

// SQLState is the StateReader of a warehouse reached through database/sql: the same
// queries on DuckDB and PostgreSQL, their placeholders and timestamps told apart by
// Dialect ("duckdb", "postgres"). With Export set, a query's rows come back as Arrow
// batches instead of row by row through database/sql.
type SQLState struct {
	DB      *sql.DB
	Dialect string
	// Export, when set, runs query (placeholders bound to args) and calls fn with its
	// rows a batch at a time (DuckDB: through a temporary Parquet file, on every core).
	Export func(ctx context.Context, query string, args []any, fn func(arrow.RecordBatch) error) error
}

// stateRow is one row of a state query, however it was read: strings are "" and
// times 0 (µs) when NULL.
type stateRow interface {
	str(i int) string
	us(i int) int64
	f64(i int) (float64, bool)
}

// Column kinds of the state queries.
const (
	colStr = iota
	colTime
	colF64
)

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
		cols    []int
		row     func(stateRow) error
	}{
		{"bridge_identity", `SELECT identifier_type, identifier, first_seen_at, person_id FROM bridge_identity`, nil,
			[]int{colStr, colStr, colTime, colStr}, func(r stateRow) error {
				return sink.Identifier(r.str(0), r.str(1), r.us(2), r.str(3))
			}},
		{"identity_edge", `SELECT identifier_type, identifier, other_type, other_identifier, kind, observed_at FROM identity_edge`, nil,
			[]int{colStr, colStr, colStr, colStr, colStr, colTime}, func(r stateRow) error {
				return sink.Edge(r.str(0), r.str(1), r.str(2), r.str(3), r.str(4), r.us(5))
			}},
		{"fct_touchpoint", `SELECT touchpoint_id, person_id, anonymous_id, occurred_at, channel, campaign, term
			FROM fct_touchpoint WHERE ` + before, []any{ts},
			[]int{colStr, colStr, colStr, colTime, colStr, colStr, colStr}, func(r stateRow) error {
				return sink.Touchpoint(r.str(0), r.str(1), r.str(2), r.us(3), r.str(4), r.str(5), r.str(6))
			}},
		{"fct_conversion", `SELECT conversion_id, person_id, occurred_at, conversion_type, revenue, currency
			FROM fct_conversion WHERE ` + before + ` AND crm_deal_id IS NULL` + notMilestone, []any{ts},
			[]int{colStr, colStr, colTime, colStr, colF64, colStr}, func(r stateRow) error {
				rev, ok := r.f64(4)
				if !ok {
					rev = math.NaN()
				}
				return sink.Conversion(r.str(0), r.str(1), r.us(2), r.str(3), rev, r.str(5))
			}},
		{"dim_person", `SELECT person_id, last_seen_at FROM dim_person WHERE last_seen_at IS NOT NULL`, nil,
			[]int{colStr, colTime}, func(r stateRow) error {
				return sink.Person(r.str(0), r.us(1))
			}},
	}
	// The tables at once, each on a connection of its own (sink is safe for that).
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(runtime.GOMAXPROCS(0))
	for _, q := range queries {
		p.Go(func(ctx context.Context) error {
			var err error
			if s.Export != nil {
				err = s.Export(ctx, q.q, q.args, func(rec arrow.RecordBatch) error {
					r := &arrowRow{rec: rec}
					for r.i = 0; r.i < int(rec.NumRows()); r.i++ {
						if err := q.row(r); err != nil {
							return err
						}
					}
					return nil
				})
			} else {
				err = s.scan(ctx, q.q, q.args, q.cols, q.row)
			}
			if err != nil {
				return fmt.Errorf("%s: read back %s: %w", s.Dialect, q.name, err)
			}
			return nil
		})
	}
	return p.Wait()
}

// scan reads a query's rows through database/sql.
func (s *SQLState) scan(ctx context.Context, q string, args []any, cols []int, fn func(stateRow) error) error {
	rows, err := s.DB.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	r := &sqlRow{vals: make([]any, len(cols))}
	for i, k := range cols {
		switch k {
		case colStr:
			r.vals[i] = new(sql.NullString)
		case colTime:
			r.vals[i] = new(sql.NullTime)
		case colF64:
			r.vals[i] = new(sql.NullFloat64)
		}
	}
	for rows.Next() {
		if err := rows.Scan(r.vals...); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// sqlRow is a row database/sql scanned.
type sqlRow struct{ vals []any }

func (r *sqlRow) str(i int) string { return r.vals[i].(*sql.NullString).String }

func (r *sqlRow) us(i int) int64 {
	if t := r.vals[i].(*sql.NullTime); t.Valid {
		return t.Time.UnixMicro()
	}
	return 0
}

func (r *sqlRow) f64(i int) (float64, bool) {
	v := r.vals[i].(*sql.NullFloat64)
	return v.Float64, v.Valid
}

// arrowRow is row i of an Arrow batch: strings (or large strings), timestamps of any
// unit, float64.
type arrowRow struct {
	rec arrow.RecordBatch
	i   int
}

func (r *arrowRow) str(c int) string {
	switch a := r.rec.Column(c).(type) {
	case *array.String:
		if a.IsValid(r.i) {
			return a.Value(r.i)
		}
	case *array.LargeString:
		if a.IsValid(r.i) {
			return a.Value(r.i)
		}
	case *array.StringView:
		if a.IsValid(r.i) {
			return a.Value(r.i)
		}
	}
	return ""
}

func (r *arrowRow) us(c int) int64 {
	a, ok := r.rec.Column(c).(*array.Timestamp)
	if !ok || !a.IsValid(r.i) {
		return 0
	}
	unit := a.DataType().(*arrow.TimestampType).Unit
	return a.Value(r.i).ToTime(unit).UnixMicro()
}

func (r *arrowRow) f64(c int) (float64, bool) {
	a, ok := r.rec.Column(c).(*array.Float64)
	if !ok || !a.IsValid(r.i) {
		return 0, false
	}
	return a.Value(r.i), true
}

// Close closes the file.
func (s *SQLState) Close() error { return s.DB.Close() }
