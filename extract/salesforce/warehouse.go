package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"strings"

	"closedloop/extract"
	"closedloop/extract/tables"
)

// tableSource reads objects from the tables of a warehouse dataset or schema, in
// either layout a folder may hold: Fivetran's connector tables (lead,
// opportunity_contact_role, or the dbt seeds' sf_lead_data: snake_case columns) or
// tables named as the API objects with the API field names as columns, as the Data
// Export service's files and Airbyte's Salesforce connector name them (Lead,
// OpportunityContactRole: Id, ConvertedContactId). Table and column names are
// matched as in files, by normKey. Only the columns of the fields an object reads
// are selected.
type tableSource struct {
	src    tables.Source
	schema string              // the dataset or schema, for locations
	names  map[string][]string // normKey of a table name -> the tables
}

func newTableSource(ctx context.Context, spec string, src tables.Source) (*tableSource, error) {
	list, err := src.Tables(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: listing the tables of %s: %w", spec, src.Spec(), err)
	}
	s := &tableSource{src: src, schema: tables.SchemaOf(src.Spec()), names: map[string][]string{}}
	for _, t := range list {
		k := normKey(t)
		s.names[k] = append(s.names[k], t)
	}
	return s, nil
}

// tableNames are the names a warehouse may hold obj under: the API name (Airbyte),
// the Fivetran table name and the Fivetran dbt seed name.
func (o *object) tableNames() []string {
	return []string{o.name, o.snake, "sf_" + o.snake + "_data"}
}

// find returns the table holding obj, or errAbsent naming the names looked for.
func (s *tableSource) find(obj *object) (string, error) {
	var found []string
	for _, n := range obj.tableNames() {
		for _, t := range s.names[normKey(n)] {
			if !slices.Contains(found, t) {
				found = append(found, t)
			}
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: %s has no %s table (looked for %s)", errAbsent, s.src.Spec(), obj.name,
			strings.Join([]string{obj.name, obj.snake, "sf_" + obj.snake + "_data"}, ", "))
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: %s has several %s tables (%s): keep one, or point salesforce: at the schema of one connector",
		extract.ErrConfig, s.src.Spec(), obj.name, strings.Join(found, ", "))
}

// columns returns the columns table is read with for obj: per field, its position in
// the columns read (-1 when the table lacks it), and the positions of Fivetran's
// _fivetran_deleted and _fivetran_active (-1 when absent).
func (s *tableSource) columns(ctx context.Context, obj *object, table string) (sel []string, l layout, has []bool, err error) {
	cols, err := s.src.Columns(ctx, table)
	if err != nil {
		return nil, l, nil, fmt.Errorf("%s.%s: %w", s.schema, table, err)
	}
	byKey := map[string]string{}
	for _, c := range cols {
		if k := normKey(c); k != "" {
			if _, dup := byKey[k]; !dup {
				byKey[k] = c
			}
		}
	}
	l = layout{col: make([]int, len(obj.fields)), deleted: -1, active: -1}
	has = make([]bool, len(obj.fields))
	add := func(c string) int {
		if i := slices.Index(sel, c); i >= 0 {
			return i
		}
		sel = append(sel, c)
		return len(sel) - 1
	}
	for i, f := range obj.fields {
		l.col[i] = -1
		if c, ok := byKey[normKey(f)]; ok && !strings.Contains(f, ".") {
			l.col[i], has[i] = add(c), true
		}
	}
	if c, ok := byKey["fivetrandeleted"]; ok {
		l.deleted = add(c)
	}
	if c, ok := byKey["fivetranactive"]; ok && !obj.history {
		l.active = add(c)
	}
	for _, f := range obj.required {
		if !has[obj.index(f)] {
			return nil, l, nil, fmt.Errorf("%w: table %s.%s has no column %s (or %s): the %s object needs it; add the column to the connector's sync",
				extract.ErrConfig, s.schema, table, f, snakeName(f), obj.name)
		}
	}
	l.fields = len(sel)
	return sel, l, has, nil
}

func (s *tableSource) open(ctx context.Context, obj *object) (*stream, error) {
	table, err := s.find(obj)
	if err != nil {
		return nil, err
	}
	sel, l, has, err := s.columns(ctx, obj, table)
	if err != nil {
		return nil, err
	}
	display := s.schema + "." + table
	return &stream{has: has, name: display, each: func(ctx context.Context, fn func(*record) error) error {
		return s.read(ctx, obj, table, display, sel, l, fn)
	}}, nil
}

// read calls fn for every row of table, read with columns sel.
func (s *tableSource) read(ctx context.Context, obj *object, table, display string, sel []string, l layout, fn func(*record) error) error {
	rec := &record{vals: make([]string, len(obj.fields)), file: display, row: true}
	var cur []string
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	rec.raw = func() string {
		buf.Reset()
		_ = w.Write(cur) // a bytes.Buffer does not fail
		w.Flush()
		return extract.Cut(strings.TrimRight(buf.String(), "\n"))
	}
	var fnErr error // fn's own errors are returned as they are
	err := s.src.Read(ctx, table, sel, nil, func(row []string) error {
		rec.line++
		if rec.line%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		cur = row
		clear(rec.vals)
		rec.gone, rec.stale, rec.bad = false, false, ""
		l.fill(rec, row)
		fnErr = fn(rec)
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	case ctx.Err() != nil:
		return ctx.Err()
	}
	return fmt.Errorf("reading table %s: %w", display, err)
}
