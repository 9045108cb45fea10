package spend

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
		return nil, fmt.Errorf("spend: %w", err)
	}
	fl := &file{Reader: bufio.NewReaderSize(f, 64<<10), closers: []io.Closer{f}}
	magic, err := fl.Peek(2)
	if err != nil && err != io.EOF {
		fl.Close()
		return nil, fmt.Errorf("spend: %s: %w", path, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(fl.Reader)
		if err != nil {
			fl.Close()
			return nil, fmt.Errorf("spend: %s: bad gzip: %w", path, err)
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

// rawTee keeps the bytes the CSV reader consumes, so that a rejection can quote the
// row exactly as it was written (quotes, embedded newlines and all) even when
// encoding/csv could not parse it. Offsets are those of csv.Reader.InputOffset.
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
