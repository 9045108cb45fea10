package ga4

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"

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
)

// checkEvery is how many lines go by between two looks at the context.
const checkEvery = 1024

// Plausible event_timestamp values, in µs: from 1973 (below that the number is
// seconds or milliseconds, not µs) to the year 9999.
const (
	minMicros = 1e14
	maxMicros = 253402300799999999
)

// event is one usable export row, mapped to the canonical columns.
type event struct {
	at                                      time.Time
	name, kind                              string
	anonymousID, userID, email, sessionKey  string
	pageLocation, pageTitle, pageReferrer   string
	source, medium, campaign, term, content string
	gclid, currency                         string
	value                                   float64
	hasValue                                bool
}

// readFile reads one NDJSON file into b.
func (e *Extractor) readFile(ctx context.Context, path string, b *extract.Builder, w extract.Writer) (err error) {
	f, err := open(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("ga4: %s: %w", path, cerr)
		}
	}()
	spec := e.cfg.Spec
	l := &lines{r: f.Reader}
	var r row // reused: its event_params keep their capacity from line to line
	for {
		if l.n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line, long, err := l.next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("ga4: %s:%d: %w", path, l.n+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		loc := path + ":" + strconv.Itoa(l.n)
		var ev event
		reason := ""
		if long {
			reason = fmt.Sprintf("line longer than %d MiB: not one export row per line (a JSON array or pretty-printed file?); export as newline-delimited JSON", maxLine>>20)
		} else {
			ev, reason = parse(line, &r)
		}
		if reason != "" {
			rj := extract.Rejection{Input: spec, Location: loc, Reason: reason, Raw: extract.Cut(string(line[:min(len(line), extract.MaxRawBytes+1)]))}
			if err := w.Reject(ctx, rj); err != nil {
				return err
			}
			continue
		}
		if err := appendRow(ctx, b, spec, loc, &ev); err != nil {
			return err
		}
	}
}

// parse maps one line to an event, decoding into r. It returns the reason the line
// cannot be used, or "".
func parse(line []byte, r *row) (event, string) {
	var ev event
	// encoding/json decodes into the elements a reused slice already has, keeping
	// the fields a line leaves out: clear them, not only the length.
	params := r.EventParams[:cap(r.EventParams)]
	clear(params)
	*r = row{EventParams: params[:0]}
	if err := json.Unmarshal(line, r); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return ev, fmt.Sprintf("invalid JSON: %v; each line must be one export row", err)
		}
		return ev, fmt.Sprintf("not a GA4 export row: %v", err)
	}

	ts := &r.EventTimestamp
	switch {
	case ts.Raw != "":
		return ev, fmt.Sprintf("bad event_timestamp %s: want microseconds since the epoch, e.g. \"1767603600123456\"", ts.Raw)
	case !ts.Set:
		return ev, "no event_timestamp: every export row has one (microseconds since the epoch, UTC)"
	case ts.V < minMicros || ts.V > maxMicros:
		return ev, fmt.Sprintf("bad event_timestamp %d: not microseconds since the epoch (seconds or milliseconds?)", ts.V)
	}
	ev.at = time.UnixMicro(ts.V).UTC()
	if ev.name = r.EventName; ev.name == "" {
		return ev, "no event_name: every export row has one"
	}
	ev.anonymousID, ev.userID = r.UserPseudoID.V, r.UserID.V
	if ev.anonymousID == "" && ev.userID == "" {
		return ev, "no user_pseudo_id or user_id: consent-denied (cookieless) events carry no ids and cannot be attributed to anyone"
	}
	ev.kind = extract.KindEvent
	if ev.name == "page_view" || ev.name == "screen_view" {
		ev.kind = extract.KindPageView
	}

	var pSource, pMedium, pCampaign, pTerm, pContent, pGclid string
	for i := range r.EventParams {
		p := &r.EventParams[i]
		switch p.Key {
		case "ga_session_id":
			ev.sessionKey = p.Value.String()
		case "page_location":
			ev.pageLocation = p.Value.String()
		case "page_title":
			ev.pageTitle = p.Value.String()
		case "page_referrer":
			ev.pageReferrer = p.Value.String()
		case "email":
			ev.email = p.Value.String()
		case "currency":
			ev.currency = p.Value.String()
		case "source":
			pSource = p.Value.String()
		case "medium":
			pMedium = p.Value.String()
		case "campaign":
			pCampaign = p.Value.String()
		case "term":
			pTerm = p.Value.String()
		case "content":
			pContent = p.Value.String()
		case "gclid":
			pGclid = p.Value.String()
		}
	}
	// collected_traffic_source is what GA4 itself read off this event's URL; the
	// params are the older (and app) way to state the same.
	c := &r.Collected
	ev.source = or(c.ManualSource.V, pSource)
	ev.medium = or(c.ManualMedium.V, pMedium)
	ev.campaign = or(c.ManualCampaignName.V, pCampaign)
	ev.term = or(c.ManualTerm.V, pTerm)
	ev.content = or(c.ManualContent.V, pContent)
	ev.gclid = or(c.Gclid.V, pGclid)

	rev := &r.Ecommerce.PurchaseRevenue
	switch {
	case rev.Raw != "":
		return ev, fmt.Sprintf("bad ecommerce.purchase_revenue %s: want a number", rev.Raw)
	case rev.Set && !math.IsNaN(rev.V) && !math.IsInf(rev.V, 0):
		ev.value, ev.hasValue = rev.V, true
	}
	return ev, ""
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
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
	b.Str(cGclid, ev.gclid)
	b.Str(cChannel, "") // GA4 names no channel: channel grouping derives it
	b.Bool(cIsConv, false)
	b.Float(cConvValue, ev.value, ev.hasValue)
	b.Str(cCurrency, ev.currency)
	return b.End(ctx)
}
