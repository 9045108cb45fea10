package touches

import (
	"bytes"
	"io"
)

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
