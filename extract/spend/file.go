package spend

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/klauspost/compress/gzip"

	"closedloop/extract"
)

// file is an open input file, decompressed when it is gzipped.
type file struct {
	*bufio.Reader
	closers []io.Closer
}

// open opens path for streaming. Gzip is told by its magic bytes, not the name, so a
// gzipped file without .gz (or a plain one with it) reads right. A leading UTF-8 BOM
// is dropped. The file's bytes, as on disk, are reported to m (nil: none).
func open(path string, m extract.Meter) (*file, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("spend: %w", err)
	}
	fl := &file{Reader: bufio.NewReaderSize(extract.MeterReader(m, f), 64<<10), closers: []io.Closer{f}}
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
	// Excel's "Unicode text" and some UI exports are UTF-16: refuse them by their BOM
	// rather than read mojibake and reject every row.
	if bom, _ := fl.Peek(2); bytes.Equal(bom, []byte{0xff, 0xfe}) || bytes.Equal(bom, []byte{0xfe, 0xff}) {
		fl.Close()
		return nil, fmt.Errorf("%w: spend: %s: the file is UTF-16: save it as UTF-8 CSV", extract.ErrConfig, path)
	}
	return fl, nil
}

// maxPreamble is how many lines are searched for the header row: UI exports (LinkedIn
// Campaign Manager) put a report title, the date range and the account above it.
const maxPreamble = 10

// readLine reads one line of r without its line end; ok is false at the end of input.
// A line longer than r's buffer (64 KiB) is an error: no export has such a header, and
// reading on could pull a whole file without line ends into memory.
func readLine(r *bufio.Reader) (line string, ok bool, err error) {
	b, err := r.ReadSlice('\n')
	switch {
	case err == io.EOF && len(b) == 0:
		return "", false, nil
	case err == bufio.ErrBufferFull:
		return "", false, fmt.Errorf("a line longer than %d KiB before the header row", r.Size()>>10)
	case err != nil && err != io.EOF:
		return "", false, err
	}
	return string(bytes.TrimRight(b, "\r\n")), true, nil
}

// sniff picks the field separator of a header line: the most frequent of ',', ';' and
// tab outside double quotes; ',' on a tie or when the line has none.
func sniff(line string) rune {
	var n [3]int
	quoted := false
	for _, c := range line {
		switch c {
		case '"':
			quoted = !quoted
		case ',':
			if !quoted {
				n[0]++
			}
		case ';':
			if !quoted {
				n[1]++
			}
		case '\t':
			if !quoted {
				n[2]++
			}
		}
	}
	best, sep := n[0], ','
	if n[1] > best {
		best, sep = n[1], ';'
	}
	if n[2] > best {
		sep = '\t'
	}
	return sep
}

// splitLine splits one line with separator sep, quotes allowed; ok is false when the
// line is not valid CSV (a preamble line, most likely).
func splitLine(line string, sep rune) ([]string, bool) {
	r := csv.NewReader(strings.NewReader(line))
	r.Comma = sep
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil {
		return nil, false
	}
	return rec, true
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
