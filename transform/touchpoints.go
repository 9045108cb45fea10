package transform

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
)

// touches are the attributable touchpoints of every day (not only the range's), one
// entry each, for journeys: the sessions step makes them, the attribution step reads
// them. Channels, campaigns and terms are codes of the dictionaries beside them.
type touches struct {
	person                     []int32
	at                         []int64 // µs
	id                         []uint64
	channel, campaign, term    []int32
	channels, campaigns, terms *dict
}

func newTouches() *touches {
	return &touches{channels: newDict(), campaigns: newDict(), terms: newDict()}
}

func (t *touches) add(person int32, at int64, id uint64, channel string, tr *normalize.Traffic) {
	t.person = append(t.person, person)
	t.at = append(t.at, at)
	t.id = append(t.id, id)
	t.channel = append(t.channel, t.channels.code(channel))
	t.campaign = append(t.campaign, t.campaigns.code(tr.Campaign))
	t.term = append(t.term, t.terms.code(tr.Term))
}

func (t *touches) len() int { return len(t.at) }

// join appends o's touches after t's, recoding o's channels, campaigns and terms in
// t's dictionaries.
func (t *touches) join(o *touches) {
	recode := func(d, od *dict, codes []int32) []int32 {
		m := make([]int32, od.len())
		for c := range m {
			m[c] = d.code(od.val(int32(c)))
		}
		out := make([]int32, len(codes))
		for i, c := range codes {
			out[i] = m[c]
		}
		return out
	}
	t.person = append(t.person, o.person...)
	t.at = append(t.at, o.at...)
	t.id = append(t.id, o.id...)
	t.channel = append(t.channel, recode(t.channels, o.channels, o.channel)...)
	t.campaign = append(t.campaign, recode(t.campaigns, o.campaigns, o.campaign)...)
	t.term = append(t.term, recode(t.terms, o.terms, o.term)...)
}

// touchpoint is one touch to write.
type touchpoint struct {
	id             uint64
	person         int32
	anon, session  string
	at             int64 // µs
	channel        string
	traffic        normalize.Traffic
	landing, event string
}

// Columns of fct_touchpoint.
var (
	tpTouchpointID = col(load.FctTouchpoint, "touchpoint_id")
	tpPersonID     = col(load.FctTouchpoint, "person_id")
	tpAnonymousID  = col(load.FctTouchpoint, "anonymous_id")
	tpSessionID    = col(load.FctTouchpoint, "session_id")
	tpOccurredAt   = col(load.FctTouchpoint, "occurred_at")
	tpChannel      = col(load.FctTouchpoint, "channel")
	tpSource       = col(load.FctTouchpoint, "source")
	tpMedium       = col(load.FctTouchpoint, "medium")
	tpCampaign     = col(load.FctTouchpoint, "campaign")
	tpTerm         = col(load.FctTouchpoint, "term")
	tpContent      = col(load.FctTouchpoint, "content")
	tpLandingPage  = col(load.FctTouchpoint, "landing_page")
	tpReferrerHost = col(load.FctTouchpoint, "referrer_host")
	tpEventName    = col(load.FctTouchpoint, "event_name")
)

// touchpointWriter writes the range's fct_touchpoint rows and keeps every attributable
// touch, of any day, in touches: selling activities only with
// Options.AttributeSalesTouches.
type touchpointWriter struct {
	r       *run
	persons *identity.Persons
	t       *bigTable
	touches *touches
	keep    []bool // the persons whose touches attribution reads; nil: all
}

func newTouchpointWriter(r *run, p *identity.Persons) *touchpointWriter {
	return &touchpointWriter{r: r, persons: p, t: newBigTable(r, load.FctTouchpoint), touches: newTouches()}
}

func (w *touchpointWriter) write(t *touchpoint) {
	if (w.keep == nil || w.keep[t.person]) && (w.r.opt.AttributeSalesTouches || !strings.HasPrefix(t.channel, SalesChannelPrefix)) {
		w.touches.add(t.person, t.at, t.id, t.channel, &t.traffic)
	}
	if !w.r.inRange(t.at) {
		return
	}
	o := w.t.o
	o.str(tpTouchpointID, hexID("t_", t.id))
	o.str(tpPersonID, w.persons.ID(t.person))
	o.str(tpAnonymousID, t.anon)
	o.str(tpSessionID, t.session)
	o.ts(tpOccurredAt, t.at)
	o.str(tpChannel, t.channel)
	o.str(tpSource, t.traffic.Source)
	o.str(tpMedium, t.traffic.Medium)
	o.str(tpCampaign, t.traffic.Campaign)
	o.str(tpTerm, t.traffic.Term)
	o.str(tpContent, t.traffic.Content)
	o.str(tpLandingPage, t.landing)
	o.str(tpReferrerHost, t.traffic.ReferrerHost)
	o.str(tpEventName, t.event)
	w.t.row()
}

// pageView is one page view to write.
type pageView struct {
	node                                int32 // the device: its person is known when the stream finishes
	anon, session                       string
	at                                  int64 // µs
	location, path, title, referrerHost string
}

// Columns of fct_page_view.
var (
	pvPersonID     = col(load.FctPageView, "person_id")
	pvAnonymousID  = col(load.FctPageView, "anonymous_id")
	pvSessionID    = col(load.FctPageView, "session_id")
	pvOccurredAt   = col(load.FctPageView, "occurred_at")
	pvPageLocation = col(load.FctPageView, "page_location")
	pvPagePath     = col(load.FctPageView, "page_path")
	pvPageTitle    = col(load.FctPageView, "page_title")
	pvReferrerHost = col(load.FctPageView, "referrer_host")
)

// pageViewWriter writes fct_page_view rows of one chunk with an empty person_id, and
// the device of each row beside them (the page store gives them their persons).
type pageViewWriter struct {
	o     *out
	nodes []int32
}

// newPageViewWriter makes room for about n rows.
func newPageViewWriter(mem memory.Allocator, n int) *pageViewWriter {
	w := &pageViewWriter{o: newTable(mem, load.FctPageView), nodes: make([]int32, 0, n)}
	w.o.reserve(n)
	return w
}

func (w *pageViewWriter) write(v *pageView) {
	o := w.o
	w.nodes = append(w.nodes, v.node)
	o.str(pvPersonID, "")
	o.str(pvAnonymousID, v.anon)
	o.str(pvSessionID, v.session)
	o.ts(pvOccurredAt, v.at)
	o.str(pvPageLocation, v.location)
	o.str(pvPagePath, v.path)
	o.str(pvPageTitle, v.title)
	o.str(pvReferrerHost, v.referrerHost)
}
