package ga4

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/zeebo/xxh3"

	"closedloop/extract"
)

// Column indexes of extract.TableEvents, resolved once.
var (
	cInput        = extract.Col(extract.TableEvents, "input")
	cLocation     = extract.Col(extract.TableEvents, "location")
	cOccurredAt   = extract.Col(extract.TableEvents, "occurred_at")
	cKind         = extract.Col(extract.TableEvents, "kind")
	cEventName    = extract.Col(extract.TableEvents, "event_name")
	cAnonymousID  = extract.Col(extract.TableEvents, "anonymous_id")
	cUserID       = extract.Col(extract.TableEvents, "user_id")
	cEmail        = extract.Col(extract.TableEvents, "email")
	cSessionKey   = extract.Col(extract.TableEvents, "session_key")
	cPageLocation = extract.Col(extract.TableEvents, "page_location")
	cPageTitle    = extract.Col(extract.TableEvents, "page_title")
	cPageReferrer = extract.Col(extract.TableEvents, "page_referrer")
	cUTMSource    = extract.Col(extract.TableEvents, "utm_source")
	cUTMMedium    = extract.Col(extract.TableEvents, "utm_medium")
	cUTMCampaign  = extract.Col(extract.TableEvents, "utm_campaign")
	cUTMTerm      = extract.Col(extract.TableEvents, "utm_term")
	cUTMContent   = extract.Col(extract.TableEvents, "utm_content")
	cGclid        = extract.Col(extract.TableEvents, "gclid")
	cChannel      = extract.Col(extract.TableEvents, "channel")
	cIsConv       = extract.Col(extract.TableEvents, "is_conversion")
	cConvValue    = extract.Col(extract.TableEvents, "conversion_value")
	cCurrency     = extract.Col(extract.TableEvents, "currency")
	cLinkURL      = extract.Col(extract.TableEvents, "link_url")
)

// checkEvery is how many rows go by between two looks at the context.
const checkEvery = 1024

// Decoder turns GA4 export rows into rows of extract.TableEvents and rejections, with
// the same rules whatever the rows were read from: NDJSON lines (the Extractor's
// files) or Arrow record batches in the export schema (Parquet files, the BigQuery
// Storage Read API). It drops exact duplicates among all the rows it is given, so one
// run uses one Decoder. Not safe for concurrent use.
type Decoder struct {
	// Now is when the run started: an event after it plus extract.ClockSkew is
	// rejected. NewDecoder sets the time it is called.
	Now time.Time

	spec  string
	w     extract.Writer
	b     *extract.Builder
	stats Stats

	// seen maps the hash of every usable row's identity (see fields.key) to where
	// the row was: origin index << originShift | row or line number.
	seen    map[xxh3.Uint128]uint64
	origins []string // location prefixes: "file.ndjson:", "file.parquet:row "

	f    fields
	sc   scanner
	cols columns
	key  []byte
	loc  []byte
}

// originShift leaves 2^40 rows or lines per origin and 2^24 origins.
const originShift = 40

// Stats counts what a Decoder did.
type Stats struct {
	Events     int64 // rows written to extract.TableEvents
	Rejected   int64 // rejections, duplicates included
	Duplicates int64 // exact duplicates dropped (each one also a rejection)
}

// NewDecoder returns a Decoder that writes rows of extract.TableEvents and rejections
// to w, with spec (the source spec) as their input column. Call Flush at the end and
// Release always.
func NewDecoder(spec string, mem memory.Allocator, w extract.Writer) *Decoder {
	return &Decoder{
		Now:  time.Now(),
		spec: spec,
		w:    w,
		b:    extract.NewBuilder(mem, extract.TableEvents, w),
		seen: map[xxh3.Uint128]uint64{},
	}
}

// Stats returns the counts so far.
func (d *Decoder) Stats() Stats { return d.stats }

// Flush writes the buffered rows.
func (d *Decoder) Flush(ctx context.Context) error { return d.b.Flush(ctx) }

// Release frees the Decoder's buffers; unflushed rows are dropped.
func (d *Decoder) Release() { d.b.Release() }

// DecodeRecord decodes every row of rec, a record batch in the GA4 export schema
// (columns found by name, in any order; only those the package reads are needed, see
// the package doc). loc names where rec comes from ("events_20260105.parquet",
// "bigquery://p/d/events_20260105"); the rows are located as loc + ":row N", N being
// first (from 1) for rec's first row. A record without the required columns, or with
// a column of a type that cannot hold its export type, is an error; a row that cannot
// be used is a rejection, its raw text the row's columns as JSON.
func (d *Decoder) DecodeRecord(ctx context.Context, rec arrow.RecordBatch, loc string, first int64) error {
	if first < 1 || first+rec.NumRows() > 1<<originShift {
		return fmt.Errorf("ga4: %s: rows numbered from %d: want 1 to 2^%d", loc, first, originShift)
	}
	if err := d.cols.resolve(rec); err != nil {
		return fmt.Errorf("ga4: %s: %w", loc, err)
	}
	defer d.cols.reset()
	o, err := d.origin(loc + ":row ")
	if err != nil {
		return err
	}
	n := int(rec.NumRows())
	for i := 0; i < n; i++ {
		if i%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		d.cols.fill(i, &d.f)
		reason, err := d.take(ctx, o, first+int64(i))
		if err != nil {
			return err
		}
		if reason != "" {
			if err := d.reject(ctx, o, first+int64(i), reason, rowJSON(rec, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// decodeLine decodes line n of an NDJSON file whose origin is o. long says the line
// was cut at extract.MaxLine. object tells whether the line was a JSON object, a
// usable row or not.
func (d *Decoder) decodeLine(ctx context.Context, o int, n int64, line []byte, long bool) (object bool, err error) {
	var reason string
	if long {
		reason = fmt.Sprintf("line longer than %d MiB: not one export row per line (a JSON array or pretty-printed file?); export as newline-delimited JSON", extract.MaxLine>>20)
	} else if reason = d.sc.decode(line, &d.f); reason == "" {
		if reason, err = d.take(ctx, o, n); err != nil {
			return true, err
		}
	}
	object = !long && d.sc.isObject
	if reason == "" {
		return object, nil
	}
	return object, d.reject(ctx, o, n, reason, string(line[:min(len(line), extract.MaxRawBytes+1)]))
}

// origin returns the index of a location prefix, adding it when it is new.
func (d *Decoder) origin(prefix string) (int, error) {
	if k := len(d.origins) - 1; k >= 0 && d.origins[k] == prefix {
		return k, nil
	}
	if len(d.origins) >= 1<<(64-originShift) {
		return 0, fmt.Errorf("ga4: %s: more than %d inputs in one run", d.spec, 1<<(64-originShift))
	}
	d.origins = append(d.origins, prefix)
	return len(d.origins) - 1, nil
}

// location renders where row or line n of origin o is, in d.loc: the result is
// valid until the next call.
func (d *Decoder) location(o int, n int64) string {
	d.loc = strconv.AppendInt(append(d.loc[:0], d.origins[o]...), n, 10)
	return unsafe.String(unsafe.SliceData(d.loc), len(d.loc))
}

// take maps the row in d.f and appends it, unless it cannot be used or duplicates
// an earlier one: then it returns why.
func (d *Decoder) take(ctx context.Context, o int, n int64) (string, error) {
	ev, reason := d.f.event(d.Now)
	if reason != "" {
		return reason, nil
	}
	d.key = d.f.key(d.key[:0])
	h := xxh3.Hash128(d.key)
	if at, dup := d.seen[h]; dup {
		d.stats.Duplicates++
		orig := d.location(int(at>>originShift), int64(at&(1<<originShift-1)))
		return "exact duplicate of " + orig + " (same stream_id, user_pseudo_id, event_name, event_timestamp and " +
			"event_params, dbt-ga4's key): the export repeats rows; dropped, so it is counted once", nil
	}
	d.seen[h] = uint64(o)<<originShift | uint64(n)
	d.stats.Events++
	return "", d.appendRow(ctx, d.location(o, n), &ev)
}

// reject writes a rejection of row or line n of origin o. A reason quoting the row's
// bytes is made storable text.
func (d *Decoder) reject(ctx context.Context, o int, n int64, reason, raw string) error {
	d.stats.Rejected++
	d.location(o, n)
	loc := string(d.loc) // a copy: the rejection outlives d.loc
	return d.w.Reject(ctx, extract.Rejection{Input: d.spec, Location: loc, Reason: storable(reason), Raw: extract.Cut(raw)})
}

// storable returns s with each byte that is not UTF-8, and NUL, written as a Go
// escape (\x93, \x00): text every warehouse stores.
func storable(s string) string {
	if extract.BadText("", s) == "" {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || r == utf8.RuneError && n == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// appendRow appends ev as one row of extract.TableEvents, every column exactly once.
func (d *Decoder) appendRow(ctx context.Context, loc string, ev *event) error {
	b := d.b
	b.Str(cInput, d.spec)
	b.Str(cLocation, loc)
	b.Time(cOccurredAt, ev.at)
	b.Str(cKind, ev.kind)
	b.Str(cEventName, ev.name)
	b.Str(cAnonymousID, ev.anonymousID)
	b.Str(cUserID, ev.userID)
	b.Str(cEmail, ev.email)
	b.Str(cSessionKey, ev.sessionKey)
	b.Str(cPageLocation, ev.pageLocation)
	b.Str(cPageTitle, ev.pageTitle)
	b.Str(cPageReferrer, ev.pageReferrer)
	b.Str(cUTMSource, ev.source)
	b.Str(cUTMMedium, ev.medium)
	b.Str(cUTMCampaign, ev.campaign)
	b.Str(cUTMTerm, ev.term)
	b.Str(cUTMContent, ev.content)
	b.Str(cGclid, ev.gclid)
	b.Str(cChannel, "") // GA4 names no channel: channel grouping derives it
	b.Bool(cIsConv, false)
	b.Float(cConvValue, ev.value, ev.hasValue)
	b.Str(cCurrency, ev.currency)
	b.Str(cLinkURL, ev.linkURL)
	return b.End(ctx)
}

// key appends the row's identity to b: what dbt-ga4 deduplicates on (stream_id,
// user_pseudo_id, ga_session_id, event_name, event_timestamp, event_params), but for
// event_date, which event_timestamp and the property's time zone determine. Values
// are typed, not textual, so that "5" and 5 for an INT64 are the same.
func (f *fields) key(b []byte) []byte {
	b = appendString(b, f.streamID)
	b = appendString(b, f.pseudoID)
	b = appendString(b, f.name)
	b = binary.LittleEndian.AppendUint64(b, uint64(f.timestamp.v))
	for i := range f.params {
		p := &f.params[i]
		b = appendString(b, p.key)
		if p.hasStr {
			b = appendString(append(b, 's'), p.str)
		}
		if p.int.set {
			b = binary.LittleEndian.AppendUint64(append(b, 'i'), uint64(p.int.v))
		}
		if p.float.set {
			b = binary.LittleEndian.AppendUint64(append(b, 'f'), math.Float64bits(p.float.v))
		}
		if p.double.set {
			b = binary.LittleEndian.AppendUint64(append(b, 'd'), math.Float64bits(p.double.v))
		}
		b = append(b, '.')
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}
