package touches

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
)

// header is the layout the extractor expects, for error messages.
const header = "cookie,time,interaction,conversion,conversion_value,channel"

// Touch-log columns. The optional ones may be missing from the header.
const (
	hCookie = iota
	hTime
	hInteraction
	hConversion
	hValue
	hChannel
	nHeader
)

var headerNames = [nHeader]string{"cookie", "time", "interaction", "conversion", "conversion_value", "channel"}

var required = [nHeader]bool{hCookie: true, hTime: true, hChannel: true}

// Column indexes of extract.TableEvents, resolved once.
var (
	cInput       = extract.Col(extract.TableEvents, "input")
	cLocation    = extract.Col(extract.TableEvents, "location")
	cOccurredAt  = extract.Col(extract.TableEvents, "occurred_at")
	cKind        = extract.Col(extract.TableEvents, "kind")
	cEventName   = extract.Col(extract.TableEvents, "event_name")
	cAnonymousID = extract.Col(extract.TableEvents, "anonymous_id")
	cChannel     = extract.Col(extract.TableEvents, "channel")
	cIsConv      = extract.Col(extract.TableEvents, "is_conversion")
	cConvValue   = extract.Col(extract.TableEvents, "conversion_value")
)

// checkEvery is how many rows go by between two looks at the context.
const checkEvery = 1024

// touch is one usable row.
type touch struct {
	cookie      string
	at          time.Time
	interaction string
	conversion  bool
	value       float64
	hasValue    bool
	channel     string
}

// blockSize is about how many bytes of a file one worker parses at a time.
var blockSize = 4 << 20

// block is a run of whole records of a file, parsed on its own.
type block struct {
	data []byte
	line int // the file's line number of data's first byte
	buf  extract.Buffer
	err  error
	done chan struct{}

	rows, rejected int64 // what parseBlock wrote to buf
}

// readFile reads one touch-log file: its header, then its rows on every core. The
// file is cut into blocks of whole records (a line end outside quotes ends a record),
// each parsed into a Buffer of its own; the buffers are passed on in file order, so w
// sees the rows and rejections one reader would have written.
func (e *Extractor) readFile(ctx context.Context, path string, w extract.Writer) (err error) {
	f, err := extract.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("touches: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("touches: %s: %w", path, cerr)
		}
	}()
	cut := &cutter{r: f}
	first, err := cut.next()
	for err == nil && len(bytes.Trim(first, "\r\n")) == 0 { // blank lines before the header, which encoding/csv skips
		var more []byte
		if more, err = cut.next(); err == nil {
			first = append(first, more...)
		}
	}
	if err != nil && err != io.EOF { // an empty file: readHeader says so
		return fmt.Errorf("touches: %s: %w", path, err)
	}
	r := csv.NewReader(bytes.NewReader(first))
	cols, err := readHeader(r, path)
	if err != nil {
		return err
	}
	headerEnd := r.InputOffset()
	headerLines := bytes.Count(first[:headerEnd], []byte{'\n'})

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	workers := runtime.GOMAXPROCS(0)
	jobs := make(chan *block, workers)
	order := make(chan *block, workers+1) // blocks read and not yet passed on, in file order
	p := pool.New().WithContext(ctx)
	p.Go(func(ctx context.Context) error { // the reader
		defer close(jobs)
		defer close(order)
		b := &block{data: first[headerEnd:], line: 1 + headerLines, done: make(chan struct{})}
		for {
			if len(b.data) > 0 {
				select {
				case order <- b:
				case <-ctx.Done():
					return ctx.Err()
				}
				jobs <- b
			}
			data, err := cut.next()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("touches: %s: %w", path, err)
			}
			b = &block{data: data, line: b.line + bytes.Count(b.data, []byte{'\n'}), done: make(chan struct{})}
		}
	})
	for range workers {
		p.Go(func(ctx context.Context) error {
			for b := range jobs {
				b.err = e.parseBlock(ctx, path, b, &cols)
				close(b.done)
			}
			return nil
		})
	}
	var failed error
	for b := range order {
		<-b.done
		if failed == nil {
			failed = b.err
		}
		if failed == nil {
			if failed = b.buf.Drain(ctx, w); failed == nil {
				e.count(0, b.rows, b.rejected)
			}
		}
		b.buf.Release()
		if failed != nil {
			cancel()
		}
	}
	if err := p.Wait(); failed == nil && err != nil {
		failed = err
	}
	if failed == nil {
		e.count(1, 0, 0)
	}
	return failed
}

// parseBlock parses the records of b into b.buf.
func (e *Extractor) parseBlock(ctx context.Context, path string, b *block, cols *columns) error {
	r := csv.NewReader(bytes.NewReader(b.data))
	r.FieldsPerRecord = -1 // a short or long row is a rejection, not the end of the file
	r.ReuseRecord = true
	bld := extract.NewBuilder(e.cfg.Mem, extract.TableEvents, &b.buf)
	defer bld.Release()
	spec := e.cfg.Spec
	raw := func(from, to int64) string { return extract.Cut(string(bytes.Trim(b.data[from:to], "\r\n"))) }
	prev := int64(0)
	prefix := path + ":"
	var locBuf []byte
	// One look at the block's bytes spares each row's values theirs: a block ends at
	// a line end, never inside a character.
	clean := utf8.Valid(b.data) && bytes.IndexByte(b.data, 0) < 0
	lim := limits{now: e.cfg.Now, latest: e.cfg.Now.Add(extract.ClockSkew)}
	for n := 0; ; n++ {
		if n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		off := r.InputOffset()
		var pe *csv.ParseError
		switch {
		case errors.As(err, &pe):
			// encoding/csv consumed the broken line: the next Read goes on after it.
			rj := extract.Rejection{Input: spec, Location: prefix + strconv.Itoa(b.line+pe.StartLine-1), Raw: raw(prev, off),
				Reason: fmt.Sprintf("not valid CSV: %v; quote fields that contain commas, quotes or line breaks", pe.Err)}
			if err := b.buf.Reject(ctx, rj); err != nil {
				return err
			}
			b.rejected++
		case err != nil:
			return fmt.Errorf("touches: %s: %w", path, err)
		default:
			line, _ := r.FieldPos(0)
			// path:line, rendered in locBuf without an allocation; valid until the next row.
			locBuf = strconv.AppendInt(append(locBuf[:0], prefix...), int64(b.line+line-1), 10)
			loc := unsafe.String(unsafe.SliceData(locBuf), len(locBuf))
			t, reason := parseRow(rec, cols, &lim, clean)
			if reason != "" {
				rj := extract.Rejection{Input: spec, Location: strings.Clone(loc), Reason: reason, Raw: raw(prev, off)}
				if err := b.buf.Reject(ctx, rj); err != nil {
					return err
				}
				b.rejected++
				break
			}
			if err := appendRow(ctx, bld, spec, loc, &t); err != nil {
				return err
			}
			b.rows++
		}
		prev = off
	}
	if err := bld.Flush(ctx); err != nil {
		return fmt.Errorf("touches: %s: %w", path, err)
	}
	return nil
}

// columns holds, for each touch-log column, its index in the file's records (-1 when
// absent) and the number of fields a record must have.
type columns struct {
	idx    [nHeader]int
	fields int
}

// readHeader reads the header row and finds the columns by name (trimmed, any case).
// A missing required column is a configuration error: the spec points at a file of
// another layout.
func readHeader(r *csv.Reader, path string) (columns, error) {
	var c columns
	rec, err := r.Read()
	switch {
	case err == io.EOF:
		return c, fmt.Errorf("%w: touches: %s: empty file, want the header %s", extract.ErrConfig, path, header)
	case err != nil:
		return c, fmt.Errorf("touches: %s: header: %w", path, err)
	}
	for i := range c.idx {
		c.idx[i] = -1
	}
	for i, name := range rec {
		name = strings.ToLower(strings.TrimSpace(name))
		for h, want := range headerNames {
			if name != want {
				continue
			}
			if c.idx[h] >= 0 {
				return c, fmt.Errorf("%w: touches: %s: column %q appears twice in the header", extract.ErrConfig, path, want)
			}
			c.idx[h] = i
		}
	}
	for h, want := range headerNames {
		if required[h] && c.idx[h] < 0 {
			return c, fmt.Errorf("%w: touches: %s: the header has no column %q (want the comma-separated header %s; interaction, conversion and conversion_value may be left out)",
				extract.ErrConfig, path, want, header)
		}
	}
	c.fields = len(rec)
	return c, nil
}

// limits are extract's time limits for a run started at now, latest being the last
// plausible time: compared inline, the reasons asked of extract only for a row
// outside them.
type limits struct {
	now, latest time.Time
}

// parseRow checks one record against the value limits of extract (text, time and
// value); clean says the record's bytes are known to be storable text already. It
// returns the reason the row cannot be used, or "".
func parseRow(rec []string, c *columns, lim *limits, clean bool) (touch, string) {
	var t touch
	if len(rec) != c.fields {
		return t, fmt.Sprintf("%d fields where the header has %d: quote fields that contain commas", len(rec), c.fields)
	}
	get := func(h int) string {
		if c.idx[h] < 0 {
			return ""
		}
		return strings.TrimSpace(rec[c.idx[h]])
	}

	if t.cookie = get(hCookie); t.cookie == "" {
		return t, "empty cookie: a touch without the visitor's cookie id cannot be put on a journey"
	}
	if why := badText(clean, "cookie", t.cookie); why != "" {
		return t, why
	}
	at, err := extract.ParseTime(rec[c.idx[hTime]])
	if err != nil {
		return t, fmt.Sprintf("bad time: %v", err)
	}
	if at.IsZero() {
		return t, fmt.Sprintf("bad time %q: the zero time is a placeholder, not when the touch happened", rec[c.idx[hTime]])
	}
	if at.Before(extract.MinTime) || at.After(lim.latest) {
		return t, extract.BadTime("time", at, lim.now)
	}
	t.at = at
	if t.interaction = get(hInteraction); t.interaction == "" {
		t.interaction = "impression"
	} else if why := badText(clean, "interaction", t.interaction); why != "" {
		return t, why
	}
	if s := get(hConversion); s != "" {
		v, err := strconv.ParseBool(strings.ToLower(s))
		if err != nil {
			return t, fmt.Sprintf("bad conversion flag %q: want 0 or 1 (or true/false)", s)
		}
		t.conversion = v
	}
	t.conversion = t.conversion || strings.EqualFold(t.interaction, "conversion")
	if s := get(hValue); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return t, fmt.Sprintf("bad conversion_value %q: want a plain number such as 12.5 (no currency sign or thousands separator)", s)
		}
		if !(v >= 0 && v <= extract.MaxRevenue) { // NaN and infinities included
			return t, extract.BadRevenue("conversion_value", v)
		}
		t.value, t.hasValue = v, t.conversion
	}
	// Surrounding blanks are CSV noise; the name itself is kept exactly as given.
	if t.channel = get(hChannel); t.channel == "" {
		return t, "empty channel: every touch needs the channel it happened on"
	}
	if why := badText(clean, "channel", t.channel); why != "" {
		return t, why
	}
	return t, ""
}

// badText is extract.BadText(field, s), "" without a look when clean.
func badText(clean bool, field, s string) string {
	if clean {
		return ""
	}
	return extract.BadText(field, s)
}

// appendRow appends t as one row of extract.TableEvents; the columns a touch log has
// nothing for are left null.
func appendRow(ctx context.Context, b *extract.Builder, spec, loc string, t *touch) error {
	b.Str(cInput, spec)
	b.Str(cLocation, loc)
	b.Time(cOccurredAt, t.at)
	b.Str(cKind, extract.KindTouch)
	b.Str(cEventName, t.interaction)
	b.Str(cAnonymousID, t.cookie)
	b.Str(cChannel, t.channel)
	b.Bool(cIsConv, t.conversion)
	b.Float(cConvValue, t.value, t.hasValue)
	return b.End(ctx)
}
