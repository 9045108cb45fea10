package hubspot

import (
	"context"
	"path/filepath"
	"strconv"

	"closedloop/extract"
)

// lineReader reads an NDJSON file of the folder line by line (extract.Lines over
// extract.Open): lines longer than MaxLineBytes come back with long set, so the caller
// rejects them and reading goes on.
type lineReader struct {
	f *extract.File
	*extract.Lines
	name string // file name, for locations
}

func openLines(ctx context.Context, dir, name string) (*lineReader, error) {
	f, err := extract.Open(ctx, filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	return &lineReader{f: f, Lines: extract.NewLines(f.Reader), name: name}, nil
}

func (l *lineReader) Close() error { return l.f.Close() }

// place returns where the line last returned sits.
func (l *lineReader) place() place { return place{file: l.name, line: l.N} }

// place is where a record was read: a line of a file, or an API response. It names
// the record in the location column and in rejections.
type place struct {
	file  string // file name, or SCHEMA.TABLE of a warehouse table; "" for the API
	line  int    // the file line, or the row's number in the read of a warehouse table
	inRow bool   // a warehouse table: "SCHEMA.TABLE row N" instead of "file:N"
	page  string // for the API: the request, to name a record that has no id
}

// at is where a record of a file or a warehouse table sits: "file:N", or
// "SCHEMA.TABLE row N" (a table has no lines; N counts the rows in the order the
// warehouse returned them).
func (p place) at() string {
	if p.inRow {
		return p.file + " row " + strconv.Itoa(p.line)
	}
	return p.file + ":" + strconv.Itoa(p.line)
}

// row returns the location column of a row read from kind id.
func (p place) row(kind, id string) string {
	if p.file != "" {
		return p.at()
	}
	return "hubspot " + kind + " " + id
}

// reject returns the location of a rejection of kind id (id may be unknown).
func (p place) reject(kind, id string) string {
	switch {
	case p.file != "" && id != "":
		return p.at() + " (hubspot " + kind + " " + id + ")"
	case p.file != "":
		return p.at()
	case id != "":
		return "hubspot " + kind + " " + id
	default:
		return "hubspot " + p.page
	}
}

// raw returns a record for a rejection, cut to extract.MaxRawBytes.
func raw(b []byte) string {
	if len(b) > extract.MaxRawBytes {
		return string(b[:extract.MaxRawBytes]) + "…"
	}
	return string(b)
}
