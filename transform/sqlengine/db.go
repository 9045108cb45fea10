package sqlengine

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
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

// Put replaces table name with rows: written to a temporary newline-delimited JSON
// file that DuckDB reads in one statement (a row-by-row INSERT takes a minute for the
// journeys' weights of 2M events), or, for another database, INSERTs of Batches rows
// in one transaction.
func (d *DB) Put(ctx context.Context, name string, cols []Column, rows iter.Seq[[]any]) error {
	table := d.Config.table(d.Config.Staging, name)
	defs := make([]string, len(cols))
	types := make([]string, len(cols))
	for i, c := range cols {
		types[i] = "VARCHAR"
		switch c.Kind {
		case Int:
			types[i] = "BIGINT"
		case Float:
			types[i] = "DOUBLE"
		}
		defs[i] = c.Name + " " + types[i]
	}
	if d.Config.Dialect == DuckDB {
		f, err := os.CreateTemp("", "closedloop-put-*.ndjson")
		if err != nil {
			return err
		}
		defer os.Remove(f.Name())
		w := bufio.NewWriterSize(f, 1<<20)
		enc := json.NewEncoder(w)
		obj := make(map[string]any, len(cols))
		n := 0
		var encErr error
		for r := range rows {
			for i, c := range cols {
				v := r[i]
				if x, ok := v.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
					v = nil
				}
				obj[c.Name] = v
			}
			if encErr = enc.Encode(obj); encErr != nil {
				break
			}
			n++
		}
		if err := errors.Join(encErr, w.Flush(), f.Close()); err != nil {
			return err
		}
		if n == 0 { // read_json cannot tell an empty file's columns
			_, err := d.DB.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s (%s)", table, strings.Join(defs, ", ")))
			return err
		}
		spec := make([]string, len(cols))
		for i, c := range cols {
			spec[i] = fmt.Sprintf("%s: '%s'", c.Name, types[i])
		}
		_, err = d.DB.ExecContext(ctx, fmt.Sprintf("CREATE OR REPLACE TABLE %s AS SELECT %s FROM read_json('%s', columns = {%s}, format = 'newline_delimited')",
			table, colNames(cols), strings.ReplaceAll(f.Name(), "'", "''"), strings.Join(spec, ", ")))
		return err
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
	var args []any
	flush := func() error {
		if len(args) == 0 {
			return nil
		}
		k := len(args) / len(cols)
		q := fmt.Sprintf("INSERT INTO %s VALUES %s", table, strings.TrimSuffix(strings.Repeat(one+", ", k), ", "))
		_, err := tx.ExecContext(ctx, q, args...)
		args = args[:0]
		return err
	}
	for r := range rows {
		args = append(args, r...)
		if len(args) >= n*len(cols) {
			if err := flush(); err != nil {
				return fmt.Errorf("put %s: %w", name, err)
			}
		}
	}
	if err := flush(); err != nil {
		return fmt.Errorf("put %s: %w", name, err)
	}
	return tx.Commit()
}

func colNames(cols []Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, ", ")
}
