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
