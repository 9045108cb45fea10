package spend

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"

	"closedloop/extract"
)

// table reads a small CSV file of configuration (the campaign map, the exchange
// rates) with what exports get too: BOM, gzip, a sniffed separator, quotes. Columns
// are found by name on the first non-blank line; rows whose cells are all blank are
// skipped (spreadsheets leave them). Every problem in it is an extract.ErrConfig error
// naming the file and line: the run cannot be right without it.
type table struct {
	what string // "campaign map", "rates file": in messages
	path string
	f    *file
	r    *csv.Reader
	idx  map[string]int // column index by lower-case name
	head int            // line number of the header row
	n    int            // fields per row
	sep  rune
}

// openTable opens path, the file what names, and reads its header row.
func openTable(path, what string) (*table, error) {
	f, err := open(path, nil)
	switch {
	case errors.Is(err, extract.ErrConfig):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("%w: %s: %w", extract.ErrConfig, what, err)
	}
	t := &table{what: what, path: path, f: f, idx: map[string]int{}}
	var line string
	for {
		l, ok, err := readLine(f.Reader)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("%w: spend: %s %s: %w", extract.ErrConfig, what, path, err)
		}
		if !ok {
			t.Close()
			return nil, fmt.Errorf("%w: spend: %s %s: empty file, want a header row", extract.ErrConfig, what, path)
		}
		t.head++
		if strings.TrimSpace(l) != "" {
			line = l
			break
		}
	}
	t.sep = sniff(line)
	rec, ok := splitLine(line, t.sep)
	if !ok {
		t.Close()
		return nil, fmt.Errorf("%w: spend: %s %s:%d: the header row is not valid CSV: %q", extract.ErrConfig, what, path, t.head, extract.Cut(line))
	}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if _, dup := t.idx[name]; dup && name != "" {
			t.Close()
			return nil, fmt.Errorf("%w: spend: %s %s:%d: column %q appears twice in the header", extract.ErrConfig, what, path, t.head, name)
		}
		t.idx[name] = i
	}
	t.n = len(rec)
	t.r = csv.NewReader(f.Reader)
	t.r.Comma = t.sep
	t.r.FieldsPerRecord = -1
	return t, nil
}

// has reports whether the header has column name.
func (t *table) has(name string) bool {
	_, ok := t.idx[name]
	return ok
}

// where names line of the file in messages: "rates file rates.csv:3".
func (t *table) where(line int) string {
	return fmt.Sprintf("%s %s:%d", t.what, t.path, line)
}

// next returns the next row that is not all blank and its line number, io.EOF at
// the end.
func (t *table) next() ([]string, int, error) {
	for {
		rec, err := t.r.Read()
		if err == io.EOF {
			return nil, 0, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, 0, fmt.Errorf("%w: spend: %s: not valid CSV: %v", extract.ErrConfig, t.where(t.head+pe.StartLine), pe.Err)
		}
		if err != nil {
			return nil, 0, fmt.Errorf("spend: %s %s: %w", t.what, t.path, err)
		}
		line, _ := t.r.FieldPos(0)
		line += t.head
		if blank(rec) {
			continue
		}
		if len(rec) != t.n {
			return nil, 0, fmt.Errorf("%w: spend: %s: %d fields where the header has %d", extract.ErrConfig, t.where(line), len(rec), t.n)
		}
		return rec, line, nil
	}
}

// blank reports whether every cell of rec is blank.
func blank(rec []string) bool {
	for _, s := range rec {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// cell returns column name of rec, trimmed; "" when the header has no such column.
func (t *table) cell(rec []string, name string) string {
	i, ok := t.idx[name]
	if !ok {
		return ""
	}
	return strings.TrimSpace(rec[i])
}

// Close closes the file.
func (t *table) Close() error { return t.f.Close() }
