package segment

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

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

// checkEvery is how many lines go by between two looks at the context.
const checkEvery = 1024

// orderCompleted is the one event that is a conversion by itself (Segment's
// e-commerce spec), matched ignoring case.
const orderCompleted = "Order Completed"

// rudderDirect is RudderStack's referrer for a visit without one.
const rudderDirect = "$direct"

// id is a messageId's hash: 128 bits make a collision between distinct ids
// negligible at any run size.
type id = xxh3.Uint128

// event is one usable call, mapped to the canonical columns.
type event struct {
	at                                      time.Time
	kind, name, messageID                   string
	anonymousID, userID, email, sessionKey  string
	pageLocation, pageTitle, pageReferrer   string
	source, medium, campaign, term, content string
	isConversion                            bool
	value                                   float64
	hasValue                                bool
	currency, linkURL                       string
}

// reader holds the state of one Extract.
type reader struct {
	spec  string
	w     extract.Writer
	b     *extract.Builder
	seen  map[id]struct{}
	stats Stats
	lim   limits

	m, el  message // the line; a batch element
	d, ed  decoder
	ev     event
	locBuf []byte
}

// readFile reads one NDJSON file.
func (r *reader) readFile(ctx context.Context, path string) (err error) {
	f, err := extract.Open(ctx, path)
	if err != nil {
		return fmt.Errorf("segment: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("segment: %s: %w", path, cerr)
		}
	}()
	l := extract.NewLines(f.Reader)
	for {
		if l.N%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, long, err := l.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("segment: %s:%d: %w", path, l.N+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r.locBuf = strconv.AppendInt(append(append(r.locBuf[:0], path...), ':'), int64(l.N), 10)
		if long {
			r.stats.Read++
			reason := fmt.Sprintf("line longer than %d MiB: not one event per line (a JSON array or pretty-printed file?); export newline-delimited JSON", extract.MaxLine>>20)
			if err := r.reject(ctx, string(r.locBuf), reason, line); err != nil {
				return err
			}
			continue
		}
		if err := r.line(ctx, line); err != nil {
			return err
		}
	}
}

// line reads one line: an event, or a batch of them. r.locBuf holds its file:line.
func (r *reader) line(ctx context.Context, line []byte) error {
	top, err := decode(line, &r.m, &r.d)
	if err != nil || top != jObject || r.m.batch.kind == absent {
		return r.event(ctx, line, &r.m, top, err)
	}
	if r.m.batch.kind != jArray {
		r.stats.Read++
		reason := fmt.Sprintf("batch is %s: a batch line is {\"batch\":[event, ...]}", r.m.batch.kind)
		return r.reject(ctx, string(r.locBuf), reason, line)
	}
	base := len(r.locBuf)
	for i, span := range r.m.elems {
		r.locBuf = strconv.AppendInt(append(r.locBuf[:base], '#'), int64(i), 10)
		raw := line[span[0]:span[1]]
		top, err := decode(raw, &r.el, &r.ed)
		if err := r.event(ctx, raw, &r.el, top, err); err != nil {
			return err
		}
	}
	return nil
}

// event maps one decoded event and writes it as a row, a rejection, or nothing (a
// group call, a duplicate). r.locBuf holds its location.
func (r *reader) event(ctx context.Context, raw []byte, m *message, top kind, decodeErr error) error {
	r.stats.Read++
	var reason string
	var synErr *syntaxError
	switch {
	case errors.As(decodeErr, &synErr):
		reason = fmt.Sprintf("invalid JSON: %v; each line must be one event object, or a {\"batch\":[...]} of them", synErr)
	case decodeErr != nil:
		return decodeErr
	case top == absent:
		reason = "not an event: null; each line must be one JSON event object"
	case top != jObject:
		reason = fmt.Sprintf("not an event: %s, not an object; each line must be one JSON event object", top)
	default:
		var skip bool
		reason, skip = mapEvent(m, &r.ev, &r.lim)
		if skip {
			r.stats.Skipped++
			return nil
		}
	}
	if reason != "" {
		return r.reject(ctx, string(r.locBuf), reason, raw)
	}
	ev := &r.ev
	if ev.messageID != "" {
		h := xxh3.HashString128(ev.messageID)
		if _, dup := r.seen[h]; dup {
			r.stats.Duplicates++
			return nil
		}
		r.seen[h] = struct{}{}
	}
	switch ev.kind {
	case extract.KindPageView:
		r.stats.PageViews++
	case extract.KindIdentify:
		r.stats.Identifies++
	default:
		r.stats.Events++
	}
	return appendRow(ctx, r.b, r.spec, alias(r.locBuf), ev) // the builder copies the location
}

func (r *reader) reject(ctx context.Context, loc, reason string, raw []byte) error {
	r.stats.Rejected++
	return r.w.Reject(ctx, extract.Rejection{Input: r.spec, Location: loc, Reason: reason,
		Raw: extract.Cut(string(raw[:min(len(raw), extract.MaxRawBytes+1)]))})
}

// limits are extract's time limits for a run started at now, latest being the last
// plausible time: compared inline, the reasons asked of extract only for an event
// outside them.
type limits struct {
	now, latest time.Time
}

func newLimits(now time.Time) limits { return limits{now: now, latest: now.Add(extract.ClockSkew)} }

// mapEvent maps m to ev. It returns the reason m cannot be used (extract's value
// limits included), or skip for a call that is read but not written (group).
func mapEvent(m *message, ev *event, lim *limits) (reason string, skip bool) {
	*ev = event{}
	var c checker
	typ := c.str(m.typ, "type")
	switch {
	case c.why != "":
		return c.why, false
	case typ == "" && m.snake:
		return "no type, and snake_case fields (anonymous_id, received_at, ...): a flattened warehouse row, not an event; read the raw events (Segment's S3 or RudderStack's object-storage destination) instead", false
	case typ == "":
		return "no type: every call has one (track, page, screen, identify, alias, group)", false
	}
	switch typ {
	case "track":
		ev.kind = extract.KindEvent
	case "page", "screen":
		ev.kind = extract.KindPageView
		ev.name = typ + "_view"
	case "identify", "alias":
		ev.kind = extract.KindIdentify
		ev.name = typ
	case "group":
		return "", true
	default:
		return fmt.Sprintf("unknown type %q: want track, page, screen, identify, alias or group", typ), false
	}

	ts := c.str(m.timestamp, "timestamp")
	switch {
	case c.why != "":
		return c.why, false
	case ts == "":
		return "no timestamp: every event needs the time it happened (ISO-8601, e.g. \"2026-01-05T09:00:00.123Z\"); originalTimestamp, sentAt and receivedAt are not used in its place", false
	}
	at, err := parseTime(ts)
	if err != nil {
		return fmt.Sprintf("bad timestamp %q: want ISO-8601 with a zone, e.g. \"2026-01-05T09:00:00.123Z\"", ts), false
	}
	if at.Before(extract.MinTime) || at.After(lim.latest) {
		return extract.BadTime("timestamp", at, lim.now), false
	}
	ev.at = at

	anon, user := c.str(m.anonymousID, "anonymousId"), c.str(m.userID, "userId")
	if typ == "alias" {
		prev := c.str(m.previousID, "previousId")
		switch {
		case c.why != "":
			return c.why, false
		case prev == "":
			return "alias without previousId: an alias ties the previous id (anonymousId or old userId) to userId", false
		case user == "":
			return "alias without userId: an alias ties previousId to the new userId", false
		}
		anon = prev
	}
	switch {
	case c.why != "":
		return c.why, false
	case anon == "" && user == "":
		return "no anonymousId or userId: the spec requires one, and an event without either cannot be tied to anyone", false
	}
	ev.anonymousID, ev.userID = anon, user
	if typ == "track" {
		if ev.name = c.str(m.event, "event"); ev.name == "" && c.why == "" {
			return "track without event: name the action in event, e.g. \"Signed Up\"", false
		}
	}
	ev.messageID = c.str(m.messageID, "messageId")

	c.object(m.context, "context")
	cx := &m.ctx
	c.object(cx.campaignObj, "context.campaign")
	c.object(cx.pageObj, "context.page")
	c.object(cx.traitsObj, "context.traits")
	c.object(m.traits, "traits")
	if k := cx.referrerObj.kind; k != absent && k != jString && k != jObject {
		c.fail("context.referrer is %s: want an object or a string", k)
	}
	page := typ == "page" || typ == "screen"
	if page || typ == "track" {
		c.object(m.properties, "properties")
	}
	p := &m.props

	ev.source = c.str(cx.campaign.source, "context.campaign.source")
	ev.medium = c.str(cx.campaign.medium, "context.campaign.medium")
	ev.campaign = c.str(cx.campaign.name, "context.campaign.name")
	ev.term = c.str(cx.campaign.term, "context.campaign.term")
	ev.content = c.str(cx.campaign.content, "context.campaign.content")
	ev.sessionKey = c.str(cx.sessionID, "context.sessionId")

	ev.email = c.str(m.traitsEmail, "traits.email")
	if ev.email == "" {
		ev.email = c.str(cx.traitsEmail, "context.traits.email")
	}
	if ev.email == "" && typ == "track" {
		ev.email = c.str(p.email, "properties.email")
	}

	ev.pageLocation = c.str(cx.page.url, "context.page.url")
	if ev.pageLocation == "" && page {
		ev.pageLocation = c.str(p.url, "properties.url")
	}
	ev.pageTitle = c.str(cx.page.title, "context.page.title")
	if ev.pageTitle == "" && page {
		if ev.pageTitle = c.str(p.title, "properties.title"); ev.pageTitle == "" {
			ev.pageTitle = c.str(m.name, "name")
		}
	}
	ev.pageReferrer = c.referrer(cx.page.referrer, "context.page.referrer")
	if ev.pageReferrer == "" {
		if cx.referrerObj.kind == jString {
			ev.pageReferrer = c.referrer(cx.referrerObj, "context.referrer")
		} else if ev.pageReferrer = c.referrer(cx.referrer.url, "context.referrer.url"); ev.pageReferrer == "" {
			ev.pageReferrer = c.referrer(cx.referrer.link, "context.referrer.link")
		}
	}
	if ev.pageReferrer == "" && page {
		ev.pageReferrer = c.referrer(p.referrer, "properties.referrer")
	}
	if page || typ == "track" {
		if ev.linkURL = c.str(p.linkURL, "properties.link_url"); ev.linkURL == "" {
			ev.linkURL = c.str(p.fileURL, "properties.file_url")
		}
		// A page's properties.url is the page itself; a track's is what it followed.
		if ev.linkURL == "" && typ == "track" {
			ev.linkURL = c.str(p.url, "properties.url")
		}
	}

	if typ == "track" {
		ev.isConversion = strings.EqualFold(ev.name, orderCompleted)
		ev.value, ev.hasValue = c.number(p.revenue, "properties.revenue")
		if !ev.hasValue {
			ev.value, ev.hasValue = c.number(p.total, "properties.total")
		}
		if !ev.hasValue {
			ev.value, ev.hasValue = c.number(p.value, "properties.value")
		}
		if ev.hasValue {
			ev.currency = strings.ToUpper(strings.TrimSpace(c.str(p.currency, "properties.currency")))
		}
	}
	return c.why, false
}

// parseTime is extract.ParseTime with the spec's form tried first: ParseTime tries an
// epoch number first, whose failure allocates, at every event.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return extract.ParseTime(s)
}

// checker reads values, keeping the first reason one of them is unusable.
type checker struct{ why string }

func (c *checker) fail(format string, args ...any) {
	if c.why == "" {
		c.why = fmt.Sprintf(format, args...)
	}
}

// str returns v's text: a string (which must be storable text, extract.BadText), or
// a number as written; "" when absent.
func (c *checker) str(v val, path string) string {
	switch v.kind {
	case jString:
		if v.bad {
			c.fail("%s", extract.BadText(path, v.text))
			return ""
		}
		return v.text
	case jNumber:
		return v.text
	case absent:
		return ""
	}
	c.fail("%s is %s: want a string", path, v.kind)
	return ""
}

// referrer is str without RudderStack's "$direct".
func (c *checker) referrer(v val, path string) string {
	if s := c.str(v, path); s != rudderDirect {
		return s
	}
	return ""
}

// object checks that v, when present, is an object.
func (c *checker) object(v val, path string) {
	if v.kind != absent && v.kind != jObject {
		c.fail("%s is %s: want an object", path, v.kind)
	}
}

// number reads a plausible revenue (extract.BadRevenue), a number or a string holding
// one; ok is false when v is absent or empty.
func (c *checker) number(v val, path string) (f float64, ok bool) {
	switch v.kind {
	case absent:
		return 0, false
	case jString, jNumber:
		s := strings.TrimSpace(v.text)
		if s == "" {
			return 0, false
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			c.fail("bad %s %q: want a number, e.g. 99.5", path, v.text)
			return 0, false
		}
		if !(f >= 0 && f <= extract.MaxRevenue) {
			c.fail("%s", extract.BadRevenue(path, f))
			return 0, false
		}
		return f, true
	}
	c.fail("%s is %s: want a number", path, v.kind)
	return 0, false
}

// appendRow appends ev as one row of extract.TableEvents, every column exactly once.
func appendRow(ctx context.Context, b *extract.Builder, spec, loc string, ev *event) error {
	b.Str(cInput, spec)
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
	b.Str(cGclid, "")   // not part of the spec: normalization reads it off the URL
	b.Str(cChannel, "") // RudderStack's channel is the SDK kind, not a marketing channel
	b.Bool(cIsConv, ev.isConversion)
	b.Float(cConvValue, ev.value, ev.hasValue)
	b.Str(cCurrency, ev.currency)
	b.Str(cLinkURL, ev.linkURL)
	return b.End(ctx)
}
