package hubspot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"closedloop/extract"
	"closedloop/extract/tables"
)

// fivetranFile returns the path of Fivetran table t in dir: t.csv as a warehouse
// export names it, else t_data.csv as Fivetran's dbt packages name their seeds; ""
// when there is neither.
func fivetranFile(dir, t string) string {
	for _, n := range []string{t + ".csv", t + "_data.csv"} {
		if p := filepath.Join(dir, n); exists(p) {
			return p
		}
	}
	return ""
}

// table reads one Fivetran table: a CSV file with a header row, or a table of a
// tables.Source read with the columns the decoders use. Columns are found by
// lower-cased name. Rows are read by each.
type table struct {
	name string // for locations: the file name, or SCHEMA.TABLE
	rows bool   // a warehouse table: locations name the row's number in the read, not a line
	cols map[string]int
	rec  []string
	line int // of the current record: its file line, or its row number

	// A CSV file.
	f          *os.File
	tee        *rawTee
	r          *csv.Reader
	n          int   // fields in the header
	start, end int64 // input offsets of the current record

	// A warehouse table.
	src    tables.Source
	table  string   // its name in src
	sel    []string // the columns read, in the order of rec
	rawBuf bytes.Buffer
	rawW   *csv.Writer
}

// openTable opens Fivetran table t of dir; it returns os.ErrNotExist when absent. Its
// bytes are reported to ctx's Meter as they are read.
func openTable(ctx context.Context, dir, t string) (*table, error) {
	path := fivetranFile(dir, t)
	if path == "" {
		return nil, fmt.Errorf("%s.csv: %w", t, os.ErrNotExist)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(extract.MeterReader(extract.MeterOf(ctx), f), 64<<10)
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	tee := &rawTee{r: br}
	r := csv.NewReader(tee)
	r.FieldsPerRecord = -1 // a short or long row is a rejection, not the end of the file
	r.ReuseRecord = true
	tb := &table{name: filepath.Base(path), f: f, tee: tee, r: r, cols: map[string]int{}}
	head, err := r.Read()
	if err != nil {
		f.Close()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: empty file, want a header row", path)
		}
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := tb.cols[h]; !dup {
			tb.cols[h] = i
		}
	}
	tb.n = len(head)
	tb.end = r.InputOffset()
	return tb, nil
}

// openSourceTable opens table name of src, to be read with those of the columns
// want it has (want is lower-case). display names it in locations (SCHEMA.TABLE). A
// missing table is an error wrapping os.ErrNotExist.
func openSourceTable(ctx context.Context, src tables.Source, name, display string, want []string) (*table, error) {
	have, err := src.Columns(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", display, err)
	}
	has := make(map[string]bool, len(have))
	for _, c := range have {
		has[strings.ToLower(c)] = true
	}
	tb := &table{name: display, rows: true, src: src, table: name, cols: map[string]int{}}
	for _, c := range want {
		if _, dup := tb.cols[c]; has[c] && !dup {
			tb.cols[c] = len(tb.sel)
			tb.sel = append(tb.sel, c)
		}
	}
	tb.rawW = csv.NewWriter(&tb.rawBuf)
	return tb, nil
}

// Close closes the file of a CSV table.
func (t *table) Close() error {
	if t.f == nil {
		return nil
	}
	return t.f.Close()
}

// each calls fn with every record, in the order read, reason set when the record is
// not usable CSV (the caller rejects it and goes on). It looks at ctx every
// checkEvery records.
func (t *table) each(ctx context.Context, fn func(reason string) error) error {
	if t.src != nil {
		t.line = 0
		return t.src.Read(ctx, t.table, t.sel, nil, func(row []string) error {
			t.line++
			if t.line%checkEvery == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			t.rec = row
			return fn("")
		})
	}
	for n := 1; ; n++ {
		reason, err := t.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(reason); err != nil {
			return err
		}
	}
}

// has reports whether the table has column c (of a warehouse table: whether it is
// read).
func (t *table) has(c string) bool { _, ok := t.cols[c]; return ok }

// next reads the next record of a CSV file. It returns io.EOF at the end, and a
// reason when the record is not usable CSV (the caller rejects it and goes on).
func (t *table) next() (reason string, err error) {
	t.tee.forget(t.end)
	t.start = t.end
	rec, err := t.r.Read()
	t.end = t.r.InputOffset()
	if err == io.EOF {
		return "", io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		t.rec, t.line = nil, pe.StartLine
		return fmt.Sprintf("not valid CSV: %v; quote fields that contain commas, quotes or line breaks", pe.Err), nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.name, err)
	}
	t.rec = rec
	t.line, _ = t.r.FieldPos(0)
	if len(rec) != t.n {
		return fmt.Sprintf("%d fields where the header has %d: quote fields that contain commas", len(rec), t.n), nil
	}
	return "", nil
}

// get returns column c of the current record, trimmed; "" when the table has no c.
func (t *table) get(c string) string {
	i, ok := t.cols[c]
	if !ok || i >= len(t.rec) {
		return ""
	}
	return strings.TrimSpace(t.rec[i])
}

// flag reads a boolean column (TRUE, true, 1 ...); empty or unreadable is false.
func (t *table) flag(c string) bool {
	switch strings.ToLower(t.get(c)) {
	case "true", "t", "1", "yes":
		return true
	}
	return false
}

// place returns where the current record sits.
func (t *table) place() place { return place{file: t.name, line: t.line, inRow: t.rows} }

// raw returns the current record as written; a warehouse row as a CSV line of the
// columns read.
func (t *table) raw() []byte {
	if t.src == nil {
		return t.tee.raw(t.start, t.end)
	}
	t.rawBuf.Reset()
	_ = t.rawW.Write(t.rec) // a bytes.Buffer does not fail
	t.rawW.Flush()
	return bytes.TrimRight(t.rawBuf.Bytes(), "\n")
}

// rawTee keeps the bytes the CSV reader consumes, so that a rejection can quote the
// row exactly as it was written, even when encoding/csv could not parse it. Offsets
// are those of csv.Reader.InputOffset.
type rawTee struct {
	r    io.Reader
	buf  []byte
	base int64 // stream offset of buf[0]
}

func (t *rawTee) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	t.buf = append(t.buf, p[:n]...)
	return n, err
}

// raw returns the bytes from offset from to offset to, without surrounding line ends.
func (t *rawTee) raw(from, to int64) []byte {
	if from < t.base || to < from || to-t.base > int64(len(t.buf)) {
		return nil
	}
	return bytes.Trim(t.buf[from-t.base:to-t.base], "\r\n")
}

// forget drops the bytes before offset off. It compacts only past 64 KiB of dead
// bytes, so rows cost no copy on average.
func (t *rawTee) forget(off int64) {
	dead := off - t.base
	if dead < 64<<10 || dead > int64(len(t.buf)) {
		return
	}
	n := copy(t.buf, t.buf[dead:])
	t.buf = t.buf[:n]
	t.base = off
}
