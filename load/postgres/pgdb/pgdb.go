// Package pgdb reads and writes a PostgreSQL warehouse through database/sql over pgx
// connections, without pgx's own database/sql driver (it would add a connection pool
// this module does not otherwise need): the demo reads its report with it, and tests
// their fixtures.
package pgdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// OpenDB opens a *sql.DB over pgx connections to dsn, to read the warehouse through
// database/sql (the demo's report, tests). pgx's own database/sql driver would add a
// connection pool this module does not otherwise need. Sessions use TimeZone UTC, so
// that casting a timestamptz to date gives the UTC day, as the warehouse's day
// boundaries are, plus the run-time parameters given (e.g. default_transaction_read_only).
// It supports queries and statements with arguments and plain transactions; values
// come back as int64, float64, bool, string, []byte, time.Time or nil (numeric as
// float64, other types as their text).
func OpenDB(dsn string, params map[string]string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: DSN: %w", err)
	}
	cfg.RuntimeParams["timezone"] = "UTC"
	for k, v := range params {
		cfg.RuntimeParams[k] = v
	}
	return sql.OpenDB(connector{cfg}), nil
}

type connector struct{ cfg *pgx.ConnConfig }

func (c connector) Connect(ctx context.Context) (driver.Conn, error) {
	pc, err := pgx.ConnectConfig(ctx, c.cfg.Copy())
	if err != nil {
		return nil, err
	}
	return &conn{pc}, nil
}

func (c connector) Driver() driver.Driver { return drv{} }

type drv struct{}

func (drv) Open(dsn string) (driver.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return connector{cfg}.Connect(context.Background())
}

type conn struct{ c *pgx.Conn }

var (
	_ driver.QueryerContext     = (*conn)(nil)
	_ driver.ExecerContext      = (*conn)(nil)
	_ driver.ConnBeginTx        = (*conn)(nil)
	_ driver.Validator          = (*conn)(nil)
	_ driver.NamedValueChecker  = (*conn)(nil)
	_ driver.ConnPrepareContext = (*conn)(nil)
)

func (c *conn) Prepare(query string) (driver.Stmt, error) { return &stmt{c, query}, nil }

func (c *conn) PrepareContext(_ context.Context, query string) (driver.Stmt, error) {
	return &stmt{c, query}, nil
}

func (c *conn) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.c.Close(ctx)
}

func (c *conn) IsValid() bool { return !c.c.IsClosed() }

// CheckNamedValue passes arguments to pgx as they are: pgx encodes Go values itself.
func (c *conn) CheckNamedValue(*driver.NamedValue) error { return nil }

func (c *conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	var o pgx.TxOptions
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		o.IsoLevel = pgx.ReadUncommitted
	case sql.LevelReadCommitted:
		o.IsoLevel = pgx.ReadCommitted
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		o.IsoLevel = pgx.RepeatableRead
	case sql.LevelSerializable:
		o.IsoLevel = pgx.Serializable
	default:
		return nil, fmt.Errorf("pgdb: isolation level %v is not supported", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		o.AccessMode = pgx.ReadOnly
	}
	t, err := c.c.BeginTx(ctx, o)
	if err != nil {
		return nil, err
	}
	return tx{t}, nil
}

type tx struct{ t pgx.Tx }

func (t tx) Commit() error   { return t.t.Commit(context.Background()) }
func (t tx) Rollback() error { return t.t.Rollback(context.Background()) }

func (c *conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	tag, err := c.c.Exec(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (c *conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	r, err := c.c.Query(ctx, query, values(args)...)
	if err != nil {
		return nil, err
	}
	return &rows{r: r}, nil
}

func values(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

type stmt struct {
	c     *conn
	query string
}

func (s *stmt) Close() error  { return nil }
func (s *stmt) NumInput() int { return -1 }

func (s *stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.c.ExecContext(context.Background(), s.query, named(args))
}

func (s *stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.c.QueryContext(context.Background(), s.query, named(args))
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, a := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return out
}

type rows struct {
	r    pgx.Rows
	cols []string
}

func (r *rows) Columns() []string {
	if r.cols == nil {
		for _, f := range r.r.FieldDescriptions() {
			r.cols = append(r.cols, f.Name)
		}
	}
	return r.cols
}

func (r *rows) Close() error {
	r.r.Close()
	return r.r.Err()
}

func (r *rows) Next(dest []driver.Value) error {
	if !r.r.Next() {
		if err := r.r.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vs, err := r.r.Values()
	if err != nil {
		return err
	}
	for i, v := range vs {
		dest[i], err = driverValue(v)
		if err != nil {
			return fmt.Errorf("pgdb: column %s: %w", r.Columns()[i], err)
		}
	}
	return nil
}

// driverValue converts a value pgx decoded to one database/sql handles.
func driverValue(v any) (driver.Value, error) {
	switch x := v.(type) {
	case nil, int64, float64, bool, string, []byte, time.Time:
		return x, nil
	case int16:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case pgtype.Numeric:
		f, err := x.Float64Value()
		if err != nil {
			return nil, err
		}
		if !f.Valid {
			return nil, nil
		}
		return f.Float64, nil
	case fmt.Stringer:
		return x.String(), nil
	}
	return nil, fmt.Errorf("no database/sql value for %T", v)
}
