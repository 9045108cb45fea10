package ga4

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// fields is one export row as read, before any rule applies: the format-neutral form
// that the NDJSON and the Arrow decoders both fill, so that one function (event) maps
// every format. Empty strings stand for null. Strings may point into the decoder's
// buffers: they are valid until the decoder moves to the next row.
type fields struct {
	timestamp intVal
	name      string
	pseudoID  string
	userID    string
	streamID  string
	params    []param
	collected collected
	lastClick lastClick
	revenue   floatVal // ecommerce.purchase_revenue

	num   []byte // numbers rendered as text for event, which points into it
	clean bool   // every string is known ASCII without NUL: event need not look
}

// reset empties f, keeping the capacity of its slices.
func (f *fields) reset() {
	*f = fields{params: f.params[:0], num: f.num[:0]}
}

// collected is the event-scoped collected_traffic_source record: the campaign and
// click ids GA4 read off this event's own URL (since June 2023).
type collected struct {
	source, medium, campaign, term, content string
	gclid, dclid                            string
}

// lastClick is the part of session_traffic_source_last_click (since July 2024) the
// decoder reads: GA4's last-click source of the event's session.
type lastClick struct {
	manual struct{ source, medium, campaign, term, content string } // manual_campaign
	ads    struct{ campaign string }                                // google_ads_campaign
	cross  struct{ source, medium, campaign string }                // cross_channel_campaign
}

// param is one entry of event_params. Its value record has one field set, at most.
type param struct {
	key    string
	str    string
	hasStr bool
	int    intVal
	float  floatVal // float_value: unused by GA4, read for completeness
	double floatVal
}

// intVal is an INT64 field. bad keeps the text of a value that is no integer, for the
// rejection that names it.
type intVal struct {
	v   int64
	set bool
	bad string
}

// floatVal is a FLOAT64 field, with bad as for intVal.
type floatVal struct {
	v   float64
	set bool
	bad string
}

// parseInt reads an integer written as text: decimal, or a float without a fraction
// ("1.7e9" from a float-happy generator).
func parseInt(s string) (int64, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return int64(f), true
	}
	return 0, false
}

// parseFloat reads a float written as text; BigQuery writes NaN and Infinity as
// strings.
func parseFloat(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// text renders the value of p as text: the string, else the integer in decimal, else
// the double, else the float ("" when none is set), so that an int_value
// ga_session_id gives the same key as a string one. bad is the text of a number field
// holding no number, when nothing else is set. The result may point into f.num.
func (f *fields) text(p *param) (s, bad string) {
	start := len(f.num)
	switch {
	case p.hasStr:
		return p.str, ""
	case p.int.set:
		f.num = strconv.AppendInt(f.num, p.int.v, 10)
	case p.double.set:
		f.num = strconv.AppendFloat(f.num, p.double.v, 'f', -1, 64)
	case p.float.set:
		f.num = strconv.AppendFloat(f.num, p.float.v, 'f', -1, 64)
	case p.int.bad != "":
		return "", "int_value " + p.int.bad + " is no integer"
	case p.double.bad != "":
		return "", "double_value " + p.double.bad + " is no number"
	case p.float.bad != "":
		return "", "float_value " + p.float.bad + " is no number"
	default:
		return "", ""
	}
	return view(f.num[start:]), ""
}

// number returns the value of p as a number, for params such as value, or the text
// of a value that is none.
func (p *param) number() (v float64, ok bool, bad string) {
	switch {
	case p.double.set:
		return p.double.v, true, ""
	case p.int.set:
		return float64(p.int.v), true, ""
	case p.float.set:
		return p.float.v, true, ""
	case p.hasStr:
		if v, ok := parseFloat(p.str); ok {
			return v, true, ""
		}
		return 0, false, strconv.Quote(p.str)
	}
	return 0, false, or(p.double.bad, or(p.int.bad, p.float.bad))
}

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
	gclid, currency, linkURL                string
	value                                   float64
	hasValue                                bool
}

// event maps f to the canonical columns, or returns why the row cannot be used. It is
// the one place the package's rules live (see the package doc), extract's value
// limits included: every string it keeps must be storable text, the time plausible
// for a run started at now, a purchase's value a plausible revenue.
func (f *fields) event(now time.Time) (ev event, reason string) {
	ts := &f.timestamp
	switch {
	case ts.bad != "":
		return ev, fmt.Sprintf("bad event_timestamp %s: want microseconds since the epoch, e.g. \"1767603600123456\"", ts.bad)
	case !ts.set:
		return ev, "no event_timestamp: every export row has one (microseconds since the epoch, UTC)"
	case ts.v < minMicros || ts.v > maxMicros:
		return ev, fmt.Sprintf("bad event_timestamp %d: not microseconds since the epoch (seconds or milliseconds?)", ts.v)
	}
	ev.at = time.UnixMicro(ts.v).UTC()
	if why := extract.BadTime("event_timestamp", ev.at, now); why != "" {
		return ev, why
	}
	if ev.name = f.name; ev.name == "" {
		return ev, "no event_name: every export row has one"
	}
	ev.anonymousID, ev.userID = f.pseudoID, f.userID
	if ev.anonymousID == "" && ev.userID == "" {
		return ev, "no user_pseudo_id or user_id: consent mode (analytics_storage denied: GA4 exports cookieless pings " +
			"without ids), not a broken file; the event cannot be tied to a person and is left out"
	}
	if why := badText(f.clean,
		"event_name", ev.name, "user_pseudo_id", ev.anonymousID, "user_id", ev.userID,
		"collected_traffic_source.manual_source", f.collected.source,
		"collected_traffic_source.manual_medium", f.collected.medium,
		"collected_traffic_source.manual_campaign_name", f.collected.campaign,
		"collected_traffic_source.manual_term", f.collected.term,
		"collected_traffic_source.manual_content", f.collected.content,
		"collected_traffic_source.gclid", f.collected.gclid,
	); why != "" {
		return ev, why
	}
	ev.kind = extract.KindEvent
	if ev.name == "page_view" || ev.name == "screen_view" {
		ev.kind = extract.KindPageView
	}

	var own struct{ source, medium, campaign, term, content, gclid, entrances, fileName string }
	var value *param
	for i := range f.params {
		p := &f.params[i]
		var dst *string
		switch p.key {
		case "ga_session_id":
			dst = &ev.sessionKey
		case "page_location":
			dst = &ev.pageLocation
		case "page_title":
			dst = &ev.pageTitle
		case "page_referrer":
			dst = &ev.pageReferrer
		case "email":
			dst = &ev.email
		case "currency":
			dst = &ev.currency
		case "source":
			dst = &own.source
		case "medium":
			dst = &own.medium
		case "campaign":
			dst = &own.campaign
		case "term":
			dst = &own.term
		case "content":
			dst = &own.content
		case "gclid":
			dst = &own.gclid
		case "entrances":
			dst = &own.entrances
		case "link_url":
			dst = &ev.linkURL
		case "file_name":
			dst = &own.fileName
		case "value":
			value = p
			continue
		default:
			continue
		}
		s, bad := f.text(p)
		if bad != "" {
			return ev, fmt.Sprintf("bad event_params %s: %s; the export writes INT64 and FLOAT64 values as digits", p.key, bad)
		}
		if !f.clean && extract.BadText("", s) != "" {
			return ev, extract.BadText("event_params "+p.key, s)
		}
		*dst = s
	}

	// Enhanced measurement's file_download and click send link_url; a download sent
	// without it (a hand-made tag) may name its file_name only.
	ev.linkURL = or(ev.linkURL, own.fileName)

	// collected_traffic_source is what GA4 itself read off this event's URL; the
	// params are the older (and the apps') way to state the same.
	c := &f.collected
	ev.source = or(c.source, own.source)
	ev.medium = or(c.medium, own.medium)
	ev.campaign = or(c.campaign, own.campaign)
	ev.term = or(c.term, own.term)
	ev.content = or(c.content, own.content)
	ev.gclid = or(c.gclid, own.gclid)
	if c.dclid != "" && ev.source == "" && ev.gclid == "" {
		// The canonical schema has a gclid column only; dv360 / cpm is what
		// transform/normalize reads a dclid in the URL as.
		ev.source, ev.medium = "dv360", "cpm"
	}
	if ev.name == "session_start" || ev.name == "first_visit" || own.entrances == "1" {
		const lc = "session_traffic_source_last_click."
		m, x := &f.lastClick.manual, &f.lastClick.cross
		if why := badText(f.clean,
			lc+"manual_campaign.source", m.source, lc+"manual_campaign.medium", m.medium,
			lc+"manual_campaign.campaign_name", m.campaign, lc+"manual_campaign.term", m.term,
			lc+"manual_campaign.content", m.content, lc+"google_ads_campaign.campaign_name", f.lastClick.ads.campaign,
			lc+"cross_channel_campaign.source", x.source, lc+"cross_channel_campaign.medium", x.medium,
			lc+"cross_channel_campaign.campaign_name", x.campaign,
		); why != "" {
			return ev, why
		}
		f.lastClick.enrich(&ev)
	}

	if ev.name == "purchase" {
		rev := &f.revenue
		field := "ecommerce.purchase_revenue"
		switch {
		case rev.bad != "":
			return ev, fmt.Sprintf("bad ecommerce.purchase_revenue %s: want a number", rev.bad)
		case rev.set:
			ev.value, ev.hasValue = rev.v, true
		case value != nil:
			var bad string
			if ev.value, ev.hasValue, bad = value.number(); bad != "" {
				return ev, fmt.Sprintf("bad event_params value %s: want the purchase's value as a number", bad)
			}
			field = "event_params value"
		}
		if ev.hasValue {
			if why := extract.BadRevenue(field, ev.value); why != "" {
				return ev, why
			}
		}
	}
	return ev, ""
}

// badText checks pairs of a field's name and its value with extract.BadText and
// returns the first reason, "" when every value is storable text (or clean).
func badText(clean bool, nameValues ...string) string {
	if clean {
		return ""
	}
	for i := 0; i+1 < len(nameValues); i += 2 {
		if why := extract.BadText(nameValues[i], nameValues[i+1]); why != "" {
			return why
		}
	}
	return ""
}

// enrich completes the campaign of ev, an event that opens its session, from GA4's
// last click of that session, but only where the last click is ev's own: ev carries a
// Google Ads click id (then the Ads campaign is named), or ev names a source and medium
// the last click agrees with (then its campaign, term and content fill ev's gaps).
// Whatever else the last click says is a carry-over from an earlier session, or what
// the referrer already tells: see the package doc.
func (lc *lastClick) enrich(ev *event) {
	if ev.source == "" && (ev.gclid != "" || googleClick(ev.pageLocation)) {
		name := lc.ads.campaign
		if !known(name) && strings.EqualFold(lc.cross.source, "google") && strings.EqualFold(lc.cross.medium, "cpc") {
			name = lc.cross.campaign
		}
		if known(name) {
			ev.source, ev.medium = "google", "cpc"
			ev.campaign = or(ev.campaign, name)
		}
		return
	}
	if ev.source == "" || ev.medium == "" {
		return
	}
	same := func(source, medium string) bool {
		return strings.EqualFold(source, ev.source) && strings.EqualFold(medium, ev.medium)
	}
	fill := func(dst *string, v string) {
		if *dst == "" && known(v) {
			*dst = v
		}
	}
	m := &lc.manual
	switch {
	case same(m.source, m.medium):
		fill(&ev.campaign, m.campaign)
		fill(&ev.term, m.term)
		fill(&ev.content, m.content)
	case same("google", "cpc") && known(lc.ads.campaign):
		fill(&ev.campaign, lc.ads.campaign)
	case same(lc.cross.source, lc.cross.medium):
		fill(&ev.campaign, lc.cross.campaign)
	}
}

// known reports whether a last-click value names something: GA4 writes placeholders
// such as "(not set)", "(direct)" or "(organic)" where it has no name.
func known(s string) bool {
	return s != "" && !(strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")"))
}

// googleClick reports whether a URL's query carries a Google Ads click id: gclid, or
// gbraid / wbraid (iOS).
func googleClick(u string) bool {
	q := strings.IndexByte(u, '?')
	if q < 0 {
		return false
	}
	u = u[q+1:]
	if h := strings.IndexByte(u, '#'); h >= 0 {
		u = u[:h]
	}
	for u != "" {
		var kv string
		kv, u, _ = strings.Cut(u, "&")
		k, v, _ := strings.Cut(kv, "=")
		if v != "" && (k == "gclid" || k == "gbraid" || k == "wbraid") {
			return true
		}
	}
	return false
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
