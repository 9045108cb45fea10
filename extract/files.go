package extract

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/klauspost/compress/gzip"
)

// Glob expands a file source's pattern to the files it matches, sorted. Directories
// are skipped; no file at all is an ErrConfig error naming spec, since the run would
// silently read nothing.
func Glob(spec, pattern string) ([]string, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: bad glob %q: %v", ErrConfig, spec, pattern, err)
	}
	var paths []string
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil && fi.IsDir() {
			continue
		}
		paths = append(paths, m)
	}
	if len(paths) == 0 {
		where := "the working directory"
		if wd, err := os.Getwd(); err == nil {
			where = wd
		}
		hint := "check the path and the file names"
		if !filepath.IsAbs(pattern) {
			hint += " (a relative path is read from " + where + ")"
		}
		if len(matches) > 0 {
			hint = "it matches only folders: add the file names to the pattern, e.g. " + filepath.Join(pattern, "*")
		}
		return nil, fmt.Errorf("%w: %s: no file matches %q: %s", ErrConfig, spec, pattern, hint)
	}
	sort.Strings(paths)
	return paths, nil
}

// File is an input file open for streaming, decompressed when it is gzipped.
type File struct {
	*bufio.Reader
	closers []io.Closer
}

// Open opens path for streaming. Gzip is told by its magic bytes, not the name, so a
// gzipped file without .gz (or a plain one with it) reads right. A leading UTF-8 BOM
// is dropped. Errors name the path. The file's bytes, as on disk, are reported to
// ctx's Meter as they are read.
func Open(ctx context.Context, path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fl := &File{Reader: bufio.NewReaderSize(MeterReader(MeterOf(ctx), f), 64<<10), closers: []io.Closer{f}}
	magic, err := fl.Peek(2)
	if err != nil && err != io.EOF {
		fl.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(fl.Reader)
		if err != nil {
			fl.Close()
			return nil, fmt.Errorf("%s: bad gzip: %w", path, err)
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
func (f *File) Close() error {
	var errs []error
	for i := len(f.closers) - 1; i >= 0; i-- {
		errs = append(errs, f.closers[i].Close())
	}
	return errors.Join(errs...)
}

// MaxLine bounds one line of a line-delimited file (NDJSON). Rows run to tens of
// kilobytes; 16 MiB leaves room for pathological ones while still refusing a file that
// is not line-delimited at all (a pretty-printed array, a binary) without buffering it
// whole.
const MaxLine = 16 << 20

// Lines splits a stream into lines, counting them. A line longer than MaxLine is
// reported as such (and its first MaxLine bytes kept), then skipped to its end.
type Lines struct {
	r   *bufio.Reader
	buf []byte
	// N is the number of lines read so far: the 1-based number of the last one.
	N int
}

// NewLines returns the Lines of r.
func NewLines(r *bufio.Reader) *Lines { return &Lines{r: r} }

// Next returns the next line without its line end, valid until the next call, and
// whether it was longer than MaxLine. It returns io.EOF at the end of the stream.
func (l *Lines) Next() (line []byte, long bool, err error) {
	chunk, err := l.r.ReadSlice('\n')
	if err == nil { // the common case: the whole line is in the reader's buffer
		l.N++
		return trimEOL(chunk), false, nil
	}
	l.buf = l.buf[:0]
	for {
		if !long {
			if len(l.buf)+len(chunk) > MaxLine {
				long = true
				l.buf = append(l.buf, chunk[:MaxLine-len(l.buf)]...)
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
		l.N++
		return trimEOL(l.buf), long, nil
	}
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}
