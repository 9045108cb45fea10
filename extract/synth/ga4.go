package synth

import (
	"bufio"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// gzipLevel is fixed: the bytes of a gzip stream depend on the level. BestSpeed
// keeps generation of millions of events quick; the sample stays well under its
// size budget.
const gzipLevel = gzip.BestSpeed

// Event kinds.
const (
	evFirstVisit = iota
	evSessionStart
	evPageView
	evScroll
	evLead
	evLogin
	evEngagement
	evDownload
)

var eventNames = [...]string{
	evFirstVisit:   "first_visit",
	evSessionStart: "session_start",
	evPageView:     "page_view",
	evScroll:       "scroll",
	evLead:         "generate_lead",
	evLogin:        "login",
	evEngagement:   "user_engagement",
	evDownload:     "file_download",
}

// hit flags.
const (
	fLanding  = 1 << iota // on the landing page: URL with campaign parameters, the traffic's referrer
	fOpening              // the session's opening events: collected_traffic_source
	fEntrance             // the landing page_view: entrances = 1
	fUserID               // logged in: user_id set
	fEngaged              // the session is engaged by now: session_engaged = "1"
)

// noPage is the prev of a hit on the landing page.
const noPage = 255

// hit is one event of a session, before it is written.
type hit struct {
	t     int64 // event_timestamp (µs)
	eng   int32 // engagement_time_msec, 0 for none
	kind  uint8
	page  uint8
	prev  uint8 // the page before (page_referrer)
	flags uint8
	file  uint8 // evDownload: index in downloads
}

// Page-view counts of a plain session (1..6), landing page included.
var pagesCum = cumulative([]float64{30, 25, 20, 12, 8, 5})

// dwell returns the time spent on page p (µs): docs and blog posts are read longer.
func dwell(r *rand.Rand, p uint8) int64 {
	if p >= pDocs {
		return int64(logUniform(r, 30, 420) * float64(second))
	}
	return int64(logUniform(r, 8, 180) * float64(second))
}

// nextPage picks the page browsed to from cur, by the browse weights cum.
func nextPage(r *rand.Rand, cur uint8, cum []float64) uint8 {
	for {
		if p := uint8(pick(r, cum)); p != cur {
			return p
		}
	}
}

// timeline appends the events of session s to h. They are drawn from the session's
// own random stream, so the same session always gives the same events; what the
// session is (its kind, landing page, start) decides them, while num and uid only
// add first_visit and user_id.
func (g *generator) timeline(s *session, h []hit) []hit {
	g.tlSrc.Seed(g.cfg.Seed^saltTimeline, s.key())
	r := g.tlRng
	browse := browseCum[g.people[s.person].persona]
	var uid uint8
	if s.uid {
		uid = fUserID
	}
	t, cur, prev := s.start, s.landing, uint8(noPage)
	open := hit{t: t, page: cur, prev: noPage, flags: fLanding | fOpening | uid}
	if s.num == 1 {
		h = append(h, open)
		h[len(h)-1].kind = evFirstVisit
	}
	open.kind = evSessionStart
	h = append(h, open)
	open.kind, open.flags = evPageView, open.flags|fEntrance
	h = append(h, open)
	landing := uint8(fLanding)

	// move dwells on cur, maybe scrolling, then views page to.
	move := func(to uint8) {
		d := dwell(r, cur)
		if d > 25*second && (cur >= pBlog || r.Float64() < 0.3) {
			at := t + int64(uniform(r, 0.4, 0.8)*float64(d))
			h = append(h, hit{t: at, eng: int32((at - t) / 1000), kind: evScroll, page: cur, prev: prev, flags: landing | uid | fEngaged})
		}
		t += d
		h = append(h, hit{t: t, eng: int32(float64(d) * uniform(r, 0.6, 1) / 1000), kind: evPageView, page: to, prev: cur, flags: uid | fEngaged})
		prev, cur, landing = cur, to, 0
	}
	n := 1 + pick(r, pagesCum)
	switch s.kind {
	case sDemo, sSignup:
		n = 1 + r.IntN(3)
	case sLogin:
		n = 1
	}
	for k := 1; k < n; k++ {
		move(nextPage(r, cur, browse))
	}
	if s.dl != 0 {
		// The file is downloaded from a page that links to it, while reading it.
		f := &downloads[s.dl-1]
		if !slices.Contains(f.pages, cur) {
			move(f.pages[r.IntN(len(f.pages))])
		}
		at := t + int64(uniform(r, 0.3, 0.9)*float64(dwell(r, cur)))
		h = append(h, hit{t: at, eng: int32((at - t) / 1000), kind: evDownload, page: cur, prev: prev, flags: landing | uid | fEngaged, file: s.dl - 1})
		t = at
	}
	switch s.kind {
	case sDemo, sSignup:
		form := uint8(pDemo)
		if s.kind == sSignup {
			form = pSignup
		}
		if cur != form {
			move(form)
		}
		d := int64(uniform(r, 25, 150) * float64(second))
		t += d
		h = append(h, hit{t: t, eng: int32(d / 1000), kind: evLead, page: cur, prev: prev, flags: landing | uid | fEngaged})
		if s.kind == sSignup {
			uid = fUserID
		}
		t += int64(uniform(r, 1, 4) * float64(second))
		h = append(h, hit{t: t, eng: 0, kind: evPageView, page: pThanks, prev: cur, flags: uid | fEngaged})
		prev, cur, landing = cur, pThanks, 0
	case sLogin:
		move(pLogin)
		d := int64(uniform(r, 8, 40) * float64(second))
		t += d
		uid = fUserID
		h = append(h, hit{t: t, eng: int32(d / 1000), kind: evLogin, page: cur, prev: prev, flags: uid | fEngaged})
		for k := r.IntN(3); k > 0; k-- {
			move(nextPage(r, cur, browse))
		}
	}
	d := int64(logUniform(r, 5, 120) * float64(second))
	t += d
	h = append(h, hit{t: t, eng: int32(d / 1000), kind: evEngagement, page: cur, prev: prev, flags: landing | uid | fEngaged})
	return h
}

// event is a hit placed in a day file.
type event struct {
	hit
	sess uint32 // index in generator.sessions
	seq  uint8  // order within the session
}

// writeGA4 writes one events_YYYYMMDD.ndjson.gz per day of the period. Sessions are
// expanded in start order, a day at a time; events past midnight wait for the next
// day's file, as in the GA4 export (event_date is the event's own date).
func (g *generator) writeGA4(ctx context.Context, dir string) error {
	var cur, next []event
	si := 0
	for d := range g.days {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := g.start + int64(d+1)*day
		for ; si < len(g.sessions) && g.sessions[si].start < end; si++ {
			g.tl = g.timeline(&g.sessions[si], g.tl[:0])
			for k, h := range g.tl {
				ev := event{hit: h, sess: uint32(si), seq: uint8(k)}
				if h.t < end {
					cur = append(cur, ev)
				} else {
					next = append(next, ev)
				}
			}
		}
		slices.SortFunc(cur, func(a, b event) int {
			return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.sess, b.sess), cmp.Compare(a.seq, b.seq))
		})
		date := time.UnixMicro(end - day).UTC().Format("20060102")
		if err := g.writeDay(filepath.Join(dir, "events_"+date+".ndjson.gz"), date, cur); err != nil {
			return err
		}
		g.stats.Events += len(cur)
		for k := range cur {
			if cur[k].kind == evDownload {
				g.stats.Downloads++
			}
		}
		cur, next = next, cur[:0]
	}
	if len(cur) > 0 {
		// Sessions start an hour before the end at the latest and last less than that.
		return fmt.Errorf("synth: internal error: %d events after the period", len(cur))
	}
	return nil
}

// writeDay writes the events of one day, gzipped.
func (g *generator) writeDay(path, date string, events []event) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("synth: %w", cerr)
		}
	}()
	bw := bufio.NewWriterSize(f, 256<<10)
	zw, err := gzip.NewWriterLevel(bw, gzipLevel) // zero Header: no name, no time
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	buf := make([]byte, 0, 96<<10)
	for k := range events {
		buf = g.appendEvent(buf, &events[k], date)
		if len(buf) >= 64<<10 {
			if _, err := zw.Write(buf); err != nil {
				return fmt.Errorf("synth: %s: %w", path, err)
			}
			buf = buf[:0]
		}
	}
	if _, err := zw.Write(buf); err != nil {
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	if err := errors.Join(zw.Close(), bw.Flush()); err != nil {
		return fmt.Errorf("synth: %s: %w", path, err)
	}
	return nil
}

// appendEvent appends one GA4 export row, as BigQuery's JSON export writes it.
func (g *generator) appendEvent(b []byte, ev *event, date string) []byte {
	s := &g.sessions[ev.sess]
	p := &g.people[s.person]
	tr := &traffics[s.traffic]
	pg := &pages[ev.page]

	b = append(b, `{"event_date":"`...)
	b = append(b, date...)
	b = append(b, `","event_timestamp":"`...)
	b = strconv.AppendInt(b, ev.t, 10)
	b = append(b, `","event_name":"`...)
	b = append(b, eventNames[ev.kind]...)
	b = append(b, `","event_params":[`...)
	b = intParam(b, "ga_session_id", s.start/second)
	b = append(b, ',')
	b = intParam(b, "ga_session_number", int64(s.num))
	b = append(b, ',')
	b = append(b, `{"key":"page_location","value":{"string_value":"`...)
	b = g.appendURL(b, s, ev.page, ev.flags&fLanding != 0)
	b = append(b, `"}},`...)
	b = strParam(b, "page_title", pg.title)
	switch {
	case ev.flags&fLanding != 0 && tr.referrer != "":
		b = append(b, ',')
		b = strParam(b, "page_referrer", tr.referrer)
	case ev.flags&fLanding == 0 && ev.prev != noPage:
		b = append(b, `,{"key":"page_referrer","value":{"string_value":"`...)
		b = append(b, host...)
		b = append(b, pages[ev.prev].path...)
		b = append(b, `"}}`...)
	}
	if ev.flags&fEntrance != 0 {
		b = append(b, ',')
		b = intParam(b, "entrances", 1)
	}
	if ev.eng > 0 {
		b = append(b, ',')
		b = intParam(b, "engagement_time_msec", int64(ev.eng))
	}
	if ev.flags&fEngaged != 0 {
		// GA4 sends session_engaged as a string "1" (dbt-ga4 reads int or string).
		b = append(b, ',')
		b = strParam(b, "session_engaged", "1")
	}
	switch ev.kind {
	case evScroll:
		b = append(b, ',')
		b = intParam(b, "percent_scrolled", 90)
	case evLead:
		form := "demo_request"
		if ev.page == pSignup {
			form = "free_trial_signup"
		}
		b = append(b, ',')
		b = strParam(b, "form_name", form)
	case evLogin:
		b = append(b, ',')
		b = strParam(b, "method", "email")
	case evDownload:
		// Enhanced measurement's parameters; link_url on every download.
		f := &downloads[ev.file]
		b = append(b, ',')
		b = strParam(b, "file_extension", f.path[strings.LastIndexByte(f.path, '.')+1:])
		b = append(b, ',')
		b = strParam(b, "file_name", f.path)
		b = append(b, ',')
		b = strParam(b, "link_text", f.text)
		b = append(b, ',')
		b = strParam(b, "link_url", host+f.path)
	}
	b = append(b, ']')
	if ev.flags&fUserID != 0 {
		b = append(b, `,"user_id":"u_`...)
		b = strconv.AppendInt(b, 100000+int64(s.person), 10)
		b = append(b, '"')
	}
	b = append(b, `,"user_pseudo_id":"`...)
	b = appendClientID(b, p, s.dev)
	b = append(b, `","user_first_touch_timestamp":"`...)
	b = strconv.AppendInt(b, p.first[s.dev], 10)
	dv := &devices[p.prof[s.dev]]
	b = append(b, `","device":{"category":"`...)
	b = append(b, dv.category...)
	b = append(b, `","operating_system":"`...)
	b = append(b, dv.os...)
	b = append(b, `","web_info":{"browser":"`...)
	b = append(b, dv.browser...)
	b = append(b, `"}},"geo":{"country":"`...)
	b = append(b, countries[p.geo]...)
	b = append(b, `"},"traffic_source":{`...)
	b = g.appendFirstTouch(b, p, s.dev)
	b = append(b, `},"stream_id":"`+streamID+`","platform":"WEB"`...)
	if ev.flags&fOpening != 0 && (tr.utm || tr.gclid) {
		b = append(b, `,"collected_traffic_source":{`...)
		sep := false
		field := func(k, v string) {
			if v == "" {
				return
			}
			if sep {
				b = append(b, ',')
			}
			sep = true
			b = appendJSONString(b, k)
			b = append(b, ':')
			b = appendJSONString(b, v)
		}
		if tr.utm {
			field("manual_campaign_name", campaignOf(tr, s.start))
			field("manual_source", tr.source)
			field("manual_medium", tr.medium)
			field("manual_term", tr.term)
			field("manual_content", tr.content)
		}
		if tr.gclid {
			field("gclid", g.clickID(s, "Cj0KCQiA", 60))
		}
		b = append(b, '}')
	}
	return append(b, "}\n"...)
}

// appendClientID appends the device's GA4 client id: random part "." first visit in
// seconds.
func appendClientID(b []byte, p *person, dev uint8) []byte {
	b = strconv.AppendUint(b, uint64(p.cookie[dev]), 10)
	b = append(b, '.')
	return strconv.AppendInt(b, p.first[dev]/second, 10)
}

// clientID returns the device's GA4 client id.
func clientID(p *person, dev uint8) string { return string(appendClientID(nil, p, dev)) }

// appendFirstTouch appends the fields of GA4's traffic_source: the campaign of the
// device's first session, fixed for the cookie.
func (g *generator) appendFirstTouch(b []byte, p *person, dev uint8) []byte {
	tr := &traffics[p.firstTraffic[dev]]
	name, medium, source := tr.tsName, tr.tsMedium, tr.tsSource
	if tr.utm {
		name, medium, source = campaignOf(tr, p.first[dev]), tr.medium, tr.source
	} else if tr.gclid {
		name = tr.campaign
	}
	b = append(b, `"name":`...)
	b = appendJSONString(b, name)
	b = append(b, `,"medium":`...)
	b = appendJSONString(b, medium)
	b = append(b, `,"source":`...)
	return appendJSONString(b, source)
}

// campaignOf returns a traffic's campaign for a session at t: the month's newsletter
// for e-mail.
func campaignOf(tr *traffic, t int64) string {
	if tr.ch == chEmail && tr.campaign == newsletter {
		return lower(time.UnixMicro(t).UTC().Format("Jan")) + "_newsletter"
	}
	return tr.campaign
}

// appendURL appends the URL of page pg in session s; on the landing page it carries
// the traffic's campaign parameters and click ids.
func (g *generator) appendURL(b []byte, s *session, pg uint8, landing bool) []byte {
	b = append(b, host...)
	b = append(b, pages[pg].path...)
	if !landing {
		return b
	}
	tr := &traffics[s.traffic]
	sep := byte('?')
	param := func(k, v string) {
		if v == "" {
			return
		}
		b = append(b, sep)
		sep = '&'
		b = append(b, k...)
		b = append(b, '=')
		b = append(b, url.QueryEscape(v)...)
	}
	if tr.utm {
		param("utm_source", tr.source)
		param("utm_medium", tr.medium)
		param("utm_campaign", campaignOf(tr, s.start))
		param("utm_term", tr.term)
		param("utm_content", tr.content)
	}
	if tr.gclid {
		param("gclid", g.clickID(s, "Cj0KCQiA", 60))
	}
	if tr.fbclid {
		param("fbclid", g.clickID(s, "IwAR", 60))
	}
	return b
}

const clickIDChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

// clickID returns the session's ad click id: prefix and random URL-safe characters
// up to n, the same every time for the session.
func (g *generator) clickID(s *session, prefix string, n int) string {
	r := rand.New(rand.NewPCG(g.cfg.Seed^saltClickID, s.key()))
	b := make([]byte, n)
	copy(b, prefix)
	for i := len(prefix); i < n; i++ {
		b[i] = clickIDChars[r.IntN(len(clickIDChars))]
	}
	return string(b)
}
