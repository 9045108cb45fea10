package main

import (
	"closedloop/load/redact"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/jackc/pgx/v5"

	"closedloop/load"
	"closedloop/load/duckdb"
	"closedloop/load/postgres/pgdb"
	views "closedloop/sql"
)

// checkDemoWarehouse refuses, before the demo does anything, a warehouse kind whose
// report it cannot read back here, and says how to load the sample there instead.
func checkDemoWarehouse(spec string) error {
	if err := checkWarehouse(spec); err != nil {
		return bad("Warehouse", "%v", err)
	}
	if kind, _, _ := strings.Cut(spec, ":"); kind != "bigquery" {
		return nil
	}
	return fmt.Errorf("%w: demo: the demo reads its report back from duckdb:PATH, postgres:DSN or parquet:DIR, "+
		"not from BigQuery. To load the sample into BigQuery, write its files and the command that loads them:\n"+
		"  closedloop demo --write-sample DIR --warehouse %s\n"+
		"then run the closedloop run command it prints", errUsage, spec)
}

// demoReader is a warehouse the demo wrote, open for its report.
type demoReader struct {
	db    *sql.DB
	where string // what the warehouse is, without credentials
	next  string // how to go on querying it
}

// openDemoReader opens the warehouse of cfg for reading.
func openDemoReader(ctx context.Context, cfg Config) (*demoReader, error) {
	kind, loc, _ := strings.Cut(cfg.Warehouse, ":")
	switch kind {
	case "duckdb":
		abs, _ := filepath.Abs(loc)
		db, err := duckdb.OpenReadOnly(loc)
		if err != nil {
			return nil, err
		}
		return &demoReader{db: db, where: abs,
			next: fmt.Sprintf("open %s in DuckDB (read-only) or Metabase and query the fct_* tables and v_* views.", abs)}, nil
	case "postgres":
		pc, err := pgx.ParseConfig(loc)
		if err != nil {
			return nil, fmt.Errorf("postgres: DSN: %w", err)
		}
		db, err := pgdb.OpenDB(loc, map[string]string{"search_path": "public",
			"default_transaction_read_only": "on", "application_name": "closedloop demo"})
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		where := fmt.Sprintf("PostgreSQL database %s on %s:%d, schema public", pc.Database, pc.Host, pc.Port)
		return &demoReader{db: db, where: where,
			next: "query the fct_* tables and v_* views there with psql, Metabase or Looker (closedloop lookml)."}, nil
	case "parquet":
		abs, _ := filepath.Abs(loc)
		db, err := openParquetReader(ctx, abs)
		if err != nil {
			return nil, err
		}
		return &demoReader{db: db, where: "Parquet files under " + abs,
			next: fmt.Sprintf("query them with DuckDB, e.g. SELECT * FROM read_parquet('%s/fct_attribution/**/*.parquet'),\n"+
				"or with BigQuery external tables or Spark; the views of sql/duckdb apply over tables defined on them.", abs)}, nil
	}
	return nil, fmt.Errorf("%w: demo: cannot read a report from %s warehouses", errUsage, kind)
}

// openParquetReader opens an in-memory DuckDB in which every contract table is a view
// over its files in dir (as load/parquet lays them out) and the DuckDB views are
// created over those, so the report reads the Parquet warehouse as it reads a DuckDB
// file.
func openParquetReader(ctx context.Context, dir string) (*sql.DB, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	stmts := make([]string, 0, len(load.Tables))
	for _, t := range load.Tables {
		stmts = append(stmts, parquetTableView(dir, t))
	}
	list, err := views.List("duckdb")
	if err != nil {
		db.Close()
		return nil, err
	}
	for _, v := range list {
		stmts = append(stmts, v.SQL)
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			db.Close()
			return nil, fmt.Errorf("parquet: read %s: %w", dir, err)
		}
	}
	return db, nil
}

// parquetTableView is the view that reads table t from its files under dir, with the
// column types the DuckDB loader gives it: Parquet's timestamps adjusted to UTC read as
// TIMESTAMP WITH TIME ZONE, and become the loader's TIMESTAMP in UTC.
func parquetTableView(dir string, t load.Table) string {
	cols := make([]string, 0, len(t.Schema.Fields()))
	for _, f := range t.Schema.Fields() {
		name := `"` + strings.ReplaceAll(f.Name, `"`, `""`) + `"`
		if f.Type.ID() == arrow.TIMESTAMP {
			cols = append(cols, fmt.Sprintf("timezone('UTC', %s) AS %s", name, name))
			continue
		}
		cols = append(cols, name)
	}
	glob := filepath.Join(dir, t.Name) + "/**/*.parquet"
	return fmt.Sprintf("CREATE VIEW %s AS SELECT %s FROM read_parquet('%s', hive_partitioning = false, union_by_name = true)",
		t.Name, strings.Join(cols, ", "), strings.ReplaceAll(glob, "'", "''"))
}

// errNotDemo refuses a demo into a warehouse a demo did not write.
var errNotDemo = errors.New("demo: the warehouse holds data the demo did not write")

// checkDemoOwns refuses to run the demo into an existing warehouse unless every run in
// its run_log loaded the sample (the demo's own source specs, the same on every
// machine): the demo replaces the people and days of whatever it writes into, and
// `closedloop run` writes ./closedloop.duckdb by default too. A warehouse that is not
// there yet, or that nothing has been loaded into, is the demo's to create.
func checkDemoOwns(ctx context.Context, cfg Config) error {
	kind, loc, _ := strings.Cut(cfg.Warehouse, ":")
	switch kind {
	case "duckdb":
		if _, err := os.Stat(loc); errors.Is(err, os.ErrNotExist) {
			return nil
		}
	case "parquet":
		if entries, err := os.ReadDir(loc); errors.Is(err, os.ErrNotExist) || err == nil && len(entries) == 0 {
			return nil
		}
	}
	want := strings.Join(redact.Specs(demoInputs(cfg)), ",")
	rd, err := openDemoReader(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w: %s is not a closedloop warehouse the demo can read (%v); give the demo another --warehouse, or --force", errNotDemo, redact.Spec(cfg.Warehouse), err)
	}
	defer rd.db.Close()
	rows, err := rd.db.QueryContext(ctx, `SELECT DISTINCT inputs FROM run_log`)
	if err != nil {
		if strings.Contains(err.Error(), "does not exist") && kind == "postgres" {
			return nil // no closedloop run wrote this schema
		}
		return fmt.Errorf("%w: %s has no run_log the demo wrote (%v); give the demo another --warehouse, or --force to replace its sample's days anyway", errNotDemo, redact.Spec(cfg.Warehouse), err)
	}
	defer rows.Close()
	for rows.Next() {
		var inputs string
		if err := rows.Scan(&inputs); err != nil {
			return err
		}
		if inputs != want {
			return fmt.Errorf("%w: %s was written by runs of %s, not by the demo; the demo would replace its people and the sample's days. "+
				"Give the demo a warehouse of its own (--warehouse duckdb:demo.duckdb), or --force to write into this one anyway",
				errNotDemo, redact.Spec(cfg.Warehouse), inputs)
		}
	}
	return rows.Err()
}

// demoInputs are the source specs of the demo's runs, as its run_log records them.
func demoInputs(cfg Config) []string {
	var out []string
	for _, s := range cfg.parsed.sources() {
		out = append(out, s.String())
	}
	return out
}
