package salesforce

import (
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
)

// errAbsent is an optional object the source does not have.
var errAbsent = errors.New("absent")

// checkEvery is how many rows go by between two looks at the context.
const checkEvery = 1024

// fileSource reads objects from a folder of CSV exports.
type fileSource struct {
	dir   string
	names map[string][]string // lower-case file name -> the names in the folder
}

func newFileSource(spec, dir string) (*fileSource, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%w: %s: export folder %s does not exist", extract.ErrConfig, spec, dir)
	case err != nil:
		return nil, fmt.Errorf("%s: %w", spec, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("%w: %s: %s is not a folder (want a folder of Salesforce CSV exports: Lead.csv, Contact.csv, ...)", extract.ErrConfig, spec, dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec, err)
	}
	s := &fileSource{dir: dir, names: map[string][]string{}}
	for _, e := range entries {
		if !e.IsDir() {
			k := strings.ToLower(e.Name())
			s.names[k] = append(s.names[k], e.Name())
		}
	}
	return s, nil
}

// find returns the file holding obj, or errAbsent naming the names looked for.
func (s *fileSource) find(obj *object) (string, error) {
	var found []string
	seen := map[string]bool{}
	for _, n := range obj.fileNames() {
		k := strings.ToLower(n)
		if seen[k] {
			continue
		}
		seen[k] = true
		found = append(found, s.names[k]...)
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: folder %s has no %s file (looked for %s)", errAbsent, s.dir, obj.name, strings.Join(obj.fileNames(), ", "))
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%w: folder %s has several %s files (%s): keep one", extract.ErrConfig, s.dir, obj.name, strings.Join(found, ", "))
}

// layout is how a file's columns map to an object's fields.
type layout struct {
	col             []int // per field: its column, -1 when absent
	fields          int   // columns of the header
	deleted, active int   // Fivetran's _fivetran_deleted and _fivetran_active columns, -1 when absent
}

// fill sets rec's fields, and whether Fivetran marked it deleted or no longer active,
// from row, a row of the layout's columns.
func (l layout) fill(rec *record, row []string) {
	for i, c := range l.col {
		if c >= 0 {
			rec.vals[i] = row[c]
		}
	}
	if l.deleted >= 0 {
		rec.gone, _ = parseBool(strings.TrimSpace(row[l.deleted]))
	}
	if l.active >= 0 {
		if v := strings.TrimSpace(row[l.active]); v != "" {
			if active, err := parseBool(v); err == nil {
				rec.stale = !active
			}
		}
	}
}

func (s *fileSource) open(_ context.Context, obj *object) (*stream, error) {
	name, err := s.find(obj)
	if err != nil {
		return nil, err
	}
	header, err := s.header(name)
	if err != nil {
		return nil, err
	}
	byKey := map[string]int{}
	for i, h := range header {
		if k := normKey(h); k != "" {
			if _, dup := byKey[k]; !dup {
				byKey[k] = i
			}
		}
	}
	l := layout{col: make([]int, len(obj.fields)), fields: len(header), deleted: -1, active: -1}
	has := make([]bool, len(obj.fields))
	for i, f := range obj.fields {
		l.col[i] = -1
		if c, ok := byKey[normKey(f)]; ok && !strings.Contains(f, ".") {
			l.col[i], has[i] = c, true
		}
	}
	if c, ok := byKey["fivetrandeleted"]; ok {
		l.deleted = c
	}
	if c, ok := byKey["fivetranactive"]; ok && !obj.history {
		l.active = c
	}
	for _, f := range obj.required {
		if !has[obj.index(f)] {
			return nil, fmt.Errorf("%w: %s has no column %s (or %s): the %s export needs it",
				extract.ErrConfig, filepath.Join(s.dir, name), f, snakeName(f), obj.name)
		}
	}
	return &stream{has: has, name: name, each: func(ctx context.Context, fn func(*record) error) error {
		return s.read(ctx, obj, name, l, fn)
	}}, nil
}

// header reads the first row of file name.
func (s *fileSource) header(name string) ([]string, error) {
	path := filepath.Join(s.dir, name)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	h, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%w: %s is empty: want a header row of field names", extract.ErrConfig, path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s: header row: %v", extract.ErrConfig, path, err)
	}
	if len(h) > 0 {
		h[0] = strings.TrimPrefix(h[0], "\ufeff")
	}
	return h, nil
}

// read calls fn for every row of file name after the header.
func (s *fileSource) read(ctx context.Context, obj *object, name string, l layout, fn func(*record) error) (err error) {
	f, err := os.Open(filepath.Join(s.dir, name))
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	tee := &rawTee{r: extract.MeterReader(extract.MeterOf(ctx), f)}
	r := csv.NewReader(tee)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("%s: header row: %w", name, err)
	}
	rec := &record{vals: make([]string, len(obj.fields)), file: name}
	var prev, off int64
	rec.raw = func() string { return extract.Cut(tee.raw(prev, off)) }
	prev = r.InputOffset()
	for n := 1; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		row, err := r.Read()
		if err == io.EOF {
			return nil
		}
		off = r.InputOffset()
		clear(rec.vals)
		rec.gone, rec.stale, rec.bad = false, false, ""
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			rec.line = pe.StartLine
			rec.bad = fmt.Sprintf("not valid CSV: %v; quote fields that contain commas, quotes or line breaks", pe.Err)
		case err != nil:
			return fmt.Errorf("%s: %w", name, err)
		case len(row) != l.fields:
			rec.line, _ = r.FieldPos(0)
			rec.bad = fmt.Sprintf("row has %d fields, the header %d: a field with a comma or line break was not quoted", len(row), l.fields)
		default:
			rec.line, _ = r.FieldPos(0)
			l.fill(rec, row)
		}
		if err := fn(rec); err != nil {
			return err
		}
		tee.forget(off)
		prev = off
	}
}

// snakeName is Fivetran's column name for an API field name: GA_Client_ID__c ->
// ga_client_id_c, ConvertedContactId -> converted_contact_id.
func snakeName(f string) string {
	f = strings.ReplaceAll(f, "__", "_")
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c >= 'A' && c <= 'Z' {
			if i > 0 && f[i-1] != '_' && !(f[i-1] >= 'A' && f[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			c |= 0x20
		}
		b.WriteByte(c)
	}
	return b.String()
}

// rawTee keeps the bytes the CSV reader consumes, so that a rejection quotes the row
// as it was written (quotes, embedded newlines and all), even when encoding/csv could
// not parse it. Offsets are those of csv.Reader.InputOffset.
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
func (t *rawTee) raw(from, to int64) string {
	if from < t.base || to < from || to-t.base > int64(len(t.buf)) {
		return ""
	}
	return string(bytes.Trim(t.buf[from-t.base:to-t.base], "\r\n"))
}

// forget drops the bytes before offset off; it compacts only past 64 KiB of dead
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
