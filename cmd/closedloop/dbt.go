package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"closedloop/load"
	"closedloop/load/dbt"
	"closedloop/load/redact"
	views "closedloop/sql"
)

// dbtUsage is closedloop help dbt.
const dbtUsage = `closedloop dbt --out DIR [--warehouse W] [--source-name closedloop] [--force]:
writes dbt property files for what closedloop writes, so that a dbt project can build on it:
  DIR/sources.yml    one source: every table (load/schema.go) and SQL view, with the
                     description of each and of every column, data tests where the contract
                     states them (not_null, unique ids, accepted values), and freshness on
                     run_log (warn after 26 hours, error after 50: the nightly runs);
  DIR/exposures.yml  a stub: the report, Looker and Metabase as dashboards, with the tables
                     and views each reads; edit the owners.
The source's database and schema come from the warehouse: --warehouse, else
CLOSEDLOOP_WAREHOUSE, else duckdb:closedloop.duckdb. duckdb:PATH gives database = the file's
name without extension, schema main; postgres:DSN the DSN's database and schema public
(where closedloop run writes); bigquery:PROJECT.DATASET database PROJECT, schema DATASET.
parquet:DIR is not supported yet. In a model: {{ source('closedloop', 'fct_attribution') }}.

Existing files are kept unless --force is given.

Exit codes: 0 success, 1 failed to write, 2 bad flags or warehouse.
`

// dbtCmd is closedloop dbt.
func dbtCmd(_ context.Context, args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprint(stdout, dbtUsage)
			return 0
		}
	}
	fl := flag.NewFlagSet("dbt", flag.ContinueOnError)
	fl.SetOutput(stderr)
	fl.Usage = func() { fmt.Fprint(stderr, dbtUsage) }
	out := fl.String("out", "", "folder to write sources.yml and exposures.yml into (created if needed)")
	warehouse := fl.String("warehouse", "", "where closedloop run writes: duckdb:PATH, postgres:DSN or bigquery:PROJECT.DATASET (default CLOSEDLOOP_WAREHOUSE, else duckdb:closedloop.duckdb)")
	name := fl.String("source-name", dbt.DefaultSourceName, "the source's name in the dbt project: {{ source('NAME', 'fct_attribution') }}")
	force := fl.Bool("force", false, "overwrite sources.yml and exposures.yml if DIR has them")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		return fail(stderr, fmt.Errorf("%w: dbt: unexpected argument %q (closedloop help dbt lists the flags)", errUsage, fl.Arg(0)))
	}
	if *out == "" {
		return fail(stderr, fmt.Errorf("%w: dbt: give the folder to write into: closedloop dbt --out DIR", errUsage))
	}
	if !validSourceName(*name) {
		return fail(stderr, fmt.Errorf("%w: dbt: --source-name %q: want letters, digits and underscores, starting with a letter or underscore", errUsage, *name))
	}
	wh := *warehouse
	if wh == "" {
		wh = cmp.Or(os.Getenv("CLOSEDLOOP_WAREHOUSE"), "duckdb:closedloop.duckdb")
	}
	opt, err := dbtTarget(wh)
	if err != nil {
		return fail(stderr, err)
	}
	opt.SourceName = *name
	files, err := dbt.Files(opt)
	if err != nil {
		return fail(stderr, err)
	}
	if err := writeDBTFiles(*out, files, *force); err != nil {
		return fail(stderr, err)
	}
	vs, err := views.List(opt.Dialect)
	if err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "closedloop dbt: wrote %s (source %s: %d tables, %d views; database %s, schema %s) and %s\n",
		filepath.Join(*out, "sources.yml"), opt.SourceName, len(load.Tables), len(vs), cmp.Or(opt.Database, "(the target's)"), opt.Schema,
		filepath.Join(*out, "exposures.yml"))
	return 0
}

// dbtTarget turns a warehouse spec, as closedloop run reads CLOSEDLOOP_WAREHOUSE, into
// the dbt source's database and schema and the dialect of its views.
func dbtTarget(spec string) (dbt.Options, error) {
	if err := checkWarehouse(spec); err != nil {
		return dbt.Options{}, fmt.Errorf("%w: dbt: --warehouse (or CLOSEDLOOP_WAREHOUSE): %v", errUsage, err)
	}
	kind, loc, _ := strings.Cut(spec, ":")
	switch kind {
	case "duckdb":
		// dbt-duckdb names an attached file's catalog after its base name.
		base := filepath.Base(loc)
		return dbt.Options{Database: strings.TrimSuffix(base, filepath.Ext(base)), Schema: "main", Dialect: "duckdb"}, nil
	case "postgres":
		pc, err := pgx.ParseConfig(loc)
		if err != nil {
			return dbt.Options{}, fmt.Errorf("%w: dbt: postgres DSN: %v", errUsage, err)
		}
		// closedloop run writes schema public whatever the DSN's search_path
		// (load/postgres's default schema; the run sets its own search_path).
		return dbt.Options{Database: pc.Database, Schema: "public", Dialect: "postgres"}, nil
	case "bigquery":
		project, dataset, err := bigqueryTarget(loc)
		if err != nil {
			return dbt.Options{}, fmt.Errorf("%w: dbt: %v", errUsage, err)
		}
		return dbt.Options{Database: project, Schema: dataset, Dialect: "bigquery"}, nil
	case "parquet":
		return dbt.Options{}, fmt.Errorf("%w: dbt: a parquet: warehouse is not supported yet: dbt-duckdb can read its folders "+
			"as external sources (meta.external_location), which closedloop dbt does not write; give the warehouse that "+
			"dbt queries with --warehouse duckdb:PATH, postgres:DSN or bigquery:PROJECT.DATASET", errUsage)
	}
	return dbt.Options{}, fmt.Errorf("%w: dbt: warehouse %s: want %s", errUsage, redact.Spec(spec), warehouseKinds)
}

// validSourceName reports whether name can be a dbt source name: an identifier, as
// source('NAME', ...) and dbt's node names take it.
func validSourceName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// writeDBTFiles writes files into dir (created if needed), refusing, before writing any,
// to replace a file that exists unless force.
func writeDBTFiles(dir string, files map[string][]byte, force bool) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("%w: dbt: --out %s: %v", errUsage, dir, err)
	}
	if !force {
		for _, n := range dbt.FileNames {
			p := filepath.Join(dir, n)
			_, err := os.Lstat(p)
			if err == nil {
				return fmt.Errorf("%w: dbt: %s exists: give --force to overwrite it, or another --out", errUsage, p)
			}
			if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("dbt: %w", err)
			}
		}
	}
	for _, n := range dbt.FileNames {
		if err := os.WriteFile(filepath.Join(dir, n), files[n], 0o644); err != nil {
			return fmt.Errorf("dbt: %w", err)
		}
	}
	return nil
}
