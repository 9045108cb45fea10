// Package views holds the SQL views of the warehouse contract, one file per view per
// dialect (sql/<dialect>/<view>.sql), embedded in the binary. Import it under its
// package name, views: the directory is called sql, which would shadow database/sql.
package views

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

//go:embed */*.sql
var files embed.FS

// columnsTxt lists every view's columns, "VIEW COLUMN TYPE" a line in view and column
// order; TestViewColumns keeps it equal to what each dialect's views return.
//
//go:embed columns.txt
var columnsTxt string

// View is one view of one dialect.
type View struct {
	Name string // file name without .sql: the view's name
	SQL  string // a CREATE OR REPLACE VIEW statement
}

// Dialects lists the dialects that have views (the folders of sql/).
func Dialects() []string {
	entries, _ := files.ReadDir(".")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// List returns every view of dialect, ordered by name (views do not depend on one
// another, so any order works).
func List(dialect string) ([]View, error) {
	names, err := fs.Glob(files, dialect+"/*.sql")
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("views: no views for dialect %q", dialect)
	}
	sort.Strings(names)
	var out []View
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, View{Name: strings.TrimSuffix(path.Base(n), ".sql"), SQL: string(b)})
	}
	return out, nil
}

// Column is one column of a view, its type spelled as BigQuery does (STRING, DATE,
// FLOAT64, INT64, BOOL, TIMESTAMP): the same in every dialect.
type Column struct {
	Name, Type string
}

// Columns returns the columns of every view, in their order, from columns.txt (the
// views' columns without a warehouse to create them in).
func Columns() (map[string][]Column, error) {
	out := map[string][]Column{}
	for i, l := range strings.Split(strings.TrimSpace(columnsTxt), "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, fmt.Errorf("views: columns.txt:%d: want VIEW COLUMN TYPE, got %q (go test ./sql -run TestViewColumns -update-columns rewrites it)", i+1, l)
		}
		out[f[0]] = append(out[f[0]], Column{Name: f[1], Type: f[2]})
	}
	return out, nil
}
