package segment

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"closedloop/extract"
)

// glob, open and lines are copies of extract/ga4's (glob and open also of
// extract/touches' and extract/spend's): package extract has no shared helper yet.

// glob expands pattern to the files it matches, sorted. Directories are skipped; no
// file at all is a configuration error, since the run would silently read nothing.
func glob(spec, pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: bad glob %q: %v", extract.ErrConfig, spec, pattern, err)
	}
	var paths []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			continue
		}
		paths = append(paths, m)
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("%w: %s: no file matches %q", extract.ErrConfig, spec, pattern)
	}
	sort.Strings(paths)
	return paths, nil
}

// file is an open input file, decompressed when it is gzipped.
type file struct {
	*bufio.Reader
	closers []io.Closer
}

// open opens path for streaming. Gzip is told by its magic bytes, not the name, so a
// gzipped file without .gz (or a plain one with it) reads right. A leading UTF-8 BOM
// is dropped.
func open(path string) (*file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("segment: %w", err)
	}
	fl := &file{Reader: bufio.NewReaderSize(f, 64<<10), closers: []io.Closer{f}}
	magic, err := fl.Peek(2)
	if err != nil && err != io.EOF {
		fl.Close()
		return nil, fmt.Errorf("segment: %s: %w", path, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(fl.Reader)
		if err != nil {
			fl.Close()
			return nil, fmt.Errorf("segment: %s: bad gzip: %w", path, err)
		}
		fl.closers = append(fl.closers, zr)
		fl.Reader = bufio.NewReaderSize(zr, 64<<10)
	}
	if bom, _ := fl.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		fl.Discard(3)
	}
	return fl, nil
}

// Close closes the decompressor, if any, and the file.
func (f *file) Close() error {
	var errs []error
	for i := len(f.closers) - 1; i >= 0; i-- {
		errs = append(errs, f.closers[i].Close())
	}
	return errors.Join(errs...)
}

// maxLine bounds one NDJSON line. An event is a few kilobytes and a {"batch":[...]}
// line at most 500 KB (Segment's HTTP API limit); 16 MiB leaves room for pathological
// ones while still refusing a file that is not line-delimited at all (a
// pretty-printed array, a binary) without buffering it whole.
const maxLine = 16 << 20

// lines splits a stream into lines, counting them. A line longer than maxLine is
// reported as such (and its first maxLine bytes kept), then skipped to its end.
type lines struct {
	r   *bufio.Reader
	buf []byte
	n   int // lines read so far: the 1-based number of the last one
}

// next returns the next line without its line end, valid until the next call, and
// whether it was longer than maxLine. It returns io.EOF at the end of the stream.
func (l *lines) next() (line []byte, long bool, err error) {
	chunk, err := l.r.ReadSlice('\n')
	if err == nil { // the common case: the whole line is in the reader's buffer
		l.n++
		return trimEOL(chunk), false, nil
	}
	l.buf = l.buf[:0]
	for {
		if !long {
			if len(l.buf)+len(chunk) > maxLine {
				long = true
				l.buf = append(l.buf, chunk[:maxLine-len(l.buf)]...)
			} else {
				l.buf = append(l.buf, chunk...)
			}
		}
		switch {
		case err == bufio.ErrBufferFull:
			chunk, err = l.r.ReadSlice('\n')
			continue
		case err == io.EOF && len(l.buf) == 0:
			return nil, false, io.EOF
		case err != nil && err != io.EOF:
			return nil, false, err
		}
		l.n++
		return trimEOL(l.buf), long, nil
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
