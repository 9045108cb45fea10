package hubspot

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"closedloop/extract"
)

// lineReader reads an NDJSON file line by line. Lines longer than MaxLineBytes are
// returned cut, with long set, so the caller rejects them and reading goes on.
type lineReader struct {
	f    *os.File
	r    *bufio.Reader
	buf  []byte
	name string // file name, for locations
	n    int    // number of the line last returned
}

func openLines(dir, name string) (*lineReader, error) {
	f, err := os.Open(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	return &lineReader{f: f, r: bufio.NewReaderSize(f, 64<<10), name: name}, nil
}

// next returns the next line without its line end, valid until the following call.
// It returns io.EOF at the end.
func (l *lineReader) next() (line []byte, long bool, err error) {
	l.buf = l.buf[:0]
	started := false
	for {
		chunk, err := l.r.ReadSlice('\n')
		if len(chunk) > 0 {
			started = true
		}
		if err == nil && len(l.buf) == 0 && !long {
			line = chunk // the common case: the whole line sits in the reader's buffer
			break
		}
		if !long && len(l.buf)+len(chunk) > MaxLineBytes {
			long = true
			if len(l.buf) < extract.MaxRawBytes {
				l.buf = append(l.buf, chunk[:min(len(chunk), extract.MaxRawBytes-len(l.buf))]...)
			}
		} else if !long {
			l.buf = append(l.buf, chunk...)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err == io.EOF {
			if !started {
				return nil, false, io.EOF
			}
			line = l.buf
			break
		}
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", l.name, err)
		}
		line = l.buf
		break
	}
	l.n++
	line = bytes.TrimRight(line, "\r\n")
	if l.n == 1 {
		line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
	}
	return line, long, nil
}

func (l *lineReader) Close() error { return l.f.Close() }

// place returns where the line last returned sits.
func (l *lineReader) place() place { return place{file: l.name, line: l.n} }

// place is where a record was read: a line of a file, or an API response. It names
// the record in the location column and in rejections.
type place struct {
	file string // file name; "" for the API
	line int
	page string // for the API: the request, to name a record that has no id
}

// row returns the location column of a row read from kind id.
func (p place) row(kind, id string) string {
	if p.file != "" {
		return p.file + ":" + strconv.Itoa(p.line)
	}
	return "hubspot " + kind + " " + id
}

// reject returns the location of a rejection of kind id (id may be unknown).
func (p place) reject(kind, id string) string {
	switch {
	case p.file != "" && id != "":
		return p.file + ":" + strconv.Itoa(p.line) + " (hubspot " + kind + " " + id + ")"
	case p.file != "":
		return p.file + ":" + strconv.Itoa(p.line)
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
