package sqlengine

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// DB is an Executor on a database/sql connection: the DuckDB rendering in the tests
// and the benchmark (the caller links the driver).
type DB struct {
	DB      *sql.DB
	Config  *Config
	Batches int // rows per INSERT of Put; 0 means 500
}

// Exec runs st.
func (d *DB) Exec(ctx context.Context, st Statement) error {
	_, err := d.DB.ExecContext(ctx, st.SQL)
	return err
}

// Query runs q and calls row after scanning each row into dest.
func (d *DB) Query(ctx context.Context, step, q string, dest []any, row func() error) error {
	rows, err := d.DB.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := row(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Put replaces table name with rows in one transaction.
func (d *DB) Put(ctx context.Context, name string, cols []Column, rows [][]any) error {
	table := d.Config.table(d.Config.Staging, name)
	defs := make([]string, len(cols))
	for i, c := range cols {
		typ := "VARCHAR"
		switch c.Kind {
		case Int:
			typ = "BIGINT"
		case Float:
			typ = "DOUBLE"
		}
		defs[i] = c.Name + " " + typ
	}
	tx, err := d.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s (%s)", table, strings.Join(defs, ", "))); err != nil {
		return err
	}
	n := d.Batches
	if n <= 0 {
		n = 500
	}
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	for len(rows) > 0 {
		batch := rows[:min(n, len(rows))]
		rows = rows[len(batch):]
		args := make([]any, 0, len(batch)*len(cols))
		for _, r := range batch {
			args = append(args, r...)
		}
		q := fmt.Sprintf("INSERT INTO %s VALUES %s", table, strings.TrimSuffix(strings.Repeat(one+", ", len(batch)), ", "))
		if _, err := tx.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("put %s: %w", name, err)
		}
	}
	return tx.Commit()
}
