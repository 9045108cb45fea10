package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
	"closedloop/load/duckdb"
	"closedloop/load/lookml"
	views "closedloop/sql"
	"closedloop/transform"
)

// lookmlCmd is `closedloop lookml --out DIR`: LookML for every table and view.
func lookmlCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("lookml", flag.ContinueOnError)
	fl.SetOutput(stderr)
	out := fl.String("out", "", "folder to write the LookML files into (created if needed)")
	conn := fl.String("connection", "closedloop", "Looker connection name for the model")
	schema := fl.String("schema", "closedloop", "dataset (BigQuery) or schema (PostgreSQL) of the tables")
	if err := fl.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *out == "" || fl.NArg() > 0 {
		fmt.Fprintln(stderr, "closedloop lookml: want --out DIR (and no other arguments)")
		return 2
	}
	rels := lookml.Tables()
	vs, err := viewRelations(ctx)
	if err != nil {
		return fail(stderr, err)
	}
	rels = append(rels, vs...)
	if err := lookml.Write(*out, rels, lookml.Options{Connection: *conn, Schema: *schema}); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "wrote %d views, a model and a manifest to %s\n", len(rels), *out)
	return 0
}

// viewRelations describes the SQL views: their columns come from DuckDB, which
// creates them over empty contract tables in a scratch file, and their descriptions
// from the column comments of the DuckDB view files (lookml.ColumnComments).
func viewRelations(ctx context.Context) ([]lookml.Relation, error) {
	dir, err := os.MkdirTemp("", "closedloop-lookml-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "schema.duckdb")
	ld, err := duckdb.Open(ctx, duckdb.Config{Path: path})
	if err != nil {
		return nil, err
	}
	defer ld.Close()
	mem := memory.NewGoAllocator()
	for _, t := range load.Tables {
		empty := transform.Empty(mem, t.Schema)
		err := ld.Load(ctx, t.Name, empty)
		empty.Release()
		if err != nil {
			return nil, err
		}
	}
	if err := ld.ApplyViews(ctx); err != nil {
		return nil, err
	}
	if err := ld.Commit(ctx); err != nil {
		return nil, err
	}
	db, err := duckdb.OpenReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	list, err := views.List("duckdb")
	if err != nil {
		return nil, err
	}
	var out []lookml.Relation
	sqls := map[string]string{}
	names := map[string][]string{}
	for _, v := range list {
		r := lookml.Relation{Name: v.Name, Description: headerComment(v.SQL)}
		rows, err := db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position`, v.Name)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var name, typ string
			if err := rows.Scan(&name, &typ); err != nil {
				rows.Close()
				return nil, err
			}
			r.Columns = append(r.Columns, lookml.Column{Name: name, Type: lookmlType(typ)})
			names[v.Name] = append(names[v.Name], name)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		sqls[v.Name] = v.SQL
		out = append(out, r)
	}
	described := lookml.ViewColumnComments(sqls, names) // view -> column -> description
	for i, r := range out {
		for j, c := range r.Columns {
			out[i].Columns[j].Description = described[r.Name][c.Name]
		}
	}
	return out, nil
}

// lookmlType maps a DuckDB column type to a LookML type.
func lookmlType(t string) string {
	switch {
	case t == "BOOLEAN":
		return "yesno"
	case t == "DATE":
		return "date"
	case strings.HasPrefix(t, "TIMESTAMP"):
		return "time"
	case t == "VARCHAR":
		return "string"
	}
	return "number"
}

// headerComment is the leading "--" comment of a view file, as one line.
func headerComment(sql string) string {
	var parts []string
	for _, l := range strings.Split(sql, "\n") {
		l = strings.TrimSpace(l)
		if !strings.HasPrefix(l, "--") {
			break
		}
		parts = append(parts, strings.TrimSpace(strings.TrimPrefix(l, "--")))
	}
	return strings.Join(parts, " ")
}
