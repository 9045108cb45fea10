package extract

import (
	"context"
	"io"
	"os"
)

// Meter is told what a source reads, for a progress display: Plan the size of each
// file it is about to read (before reading any), Read the bytes taken from a file as
// they are on disk (compressed ones compressed, so that they add up to the planned
// sizes), Page each answer of an API with its body's bytes. Calls come from the
// source's goroutines once per buffer filled (64 KiB) or answer, never per row: an
// implementation must be safe for concurrent use and cheap (atomic adds).
type Meter interface {
	Plan(bytes int64)
	Read(bytes int64)
	Page(bytes int64)
}

type meterKey struct{}

// WithMeter returns ctx carrying m: the files that Open reads and the
// API answers httpretry receives under it are reported to m, as net/http/httptrace
// hooks are. A source's results are the same with or without one.
func WithMeter(ctx context.Context, m Meter) context.Context {
	return context.WithValue(ctx, meterKey{}, m)
}

// MeterOf returns the Meter ctx carries, or nil.
func MeterOf(ctx context.Context) Meter {
	m, _ := ctx.Value(meterKey{}).(Meter)
	return m
}

// PlanFiles tells ctx's Meter the sizes of the files at paths (those it cannot stat
// count nothing: reading them fails with a better error).
func PlanFiles(ctx context.Context, paths ...string) {
	m := MeterOf(ctx)
	if m == nil {
		return
	}
	var n int64
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	m.Plan(n)
}

// PlanDir tells ctx's Meter the sizes of the regular files in dir (not below it): a
// folder source's total, of which it may read only some files.
func PlanDir(ctx context.Context, dir string) {
	m := MeterOf(ctx)
	if m == nil {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	var n int64
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	m.Plan(n)
}

// MeterReader returns r reporting the bytes read from it to m's Read, or r itself
// when m is nil.
func MeterReader(m Meter, r io.Reader) io.Reader {
	if m == nil {
		return r
	}
	return &meteredReader{r: r, m: m}
}

type meteredReader struct {
	r io.Reader
	m Meter
}

func (c *meteredReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.m.Read(int64(n))
	}
	return n, err
}
