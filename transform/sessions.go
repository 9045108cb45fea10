package transform

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
	"closedloop/transform/persona"
)

// sessionized is the sessions step's result. Besides its two tables, nothing in it
// grows with the events: only with touches, conversions and people.
type sessionized struct {
	touchpoints, pageViews arrow.Table // fct_touchpoint, fct_page_view
	touches                *touches
	// conversions are the touch-log and micro-conversion events, in event order.
	conversions []eventConversion
	activity    activity
	rows        EventRows
	sessions    int
}

// sessions walks every device's events in time order, cuts them into sessions, and
// writes a touchpoint per session, per tracked interaction and per touch-log row, and
// a row per page view. It is the last step that reads the events.
func sessions(ctx context.Context, r *run, ev *eventCols, id *stitched) (*sessionized, error) {
	touchEvents := make(map[string]bool, len(r.opt.TouchEvents))
	for _, n := range r.opt.TouchEvents {
		touchEvents[n] = true
	}
	order, rows := walkOrder(ev, id.events, touchEvents)
	// Devices are independent: the walk is cut into parts at device boundaries, one
	// walker each on every core, and the parts' results joined in walk order give what
	// one walker would have.
	parts := splitByDevice(order, id.events, runtime.GOMAXPROCS(0))
	walkers := make([]*walker, len(parts))
	for k, part := range parts {
		share := float64(len(part)) / float64(max(1, len(order)))
		walkers[k] = &walker{r: r, ev: ev, nodes: id.events, persons: id.persons, touchEvents: touchEvents,
			needs: r.opt.Personas.Needs(), timeout: r.opt.SessionTimeout.Microseconds(), lastNode: -1,
			tp:  newTouchpointWriter(r, id.persons, int(share*float64(rows.Touches+rows.Interactions+rows.PageViews/4))),
			pv:  newPageViewWriter(r.opt.Mem, id.persons, int(share*float64(rows.PageViews+rows.Interactions))),
			ids: touchIDs{}, paths: pathCache{}, act: newActivity()}
	}
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for k, part := range parts {
		p.Go(func(ctx context.Context) error { return walkers[k].walk(ctx, part) })
	}
	if err := p.Wait(); err != nil {
		for _, w := range walkers {
			w.tp.o.release()
			w.pv.o.release()
		}
		return nil, err
	}
	return joinWalks(r, walkers, eventConversions(r, ev, id.events), rows), nil
}

// minPart is the fewest events worth a walker of their own (a variable for tests).
var minPart = 1 << 16

// splitByDevice cuts order, sorted by device, into at most n parts of about equal
// size, each holding whole devices.
func splitByDevice(order []int32, nodes []int32, n int) [][]int32 {
	n = min(n, len(order)/minPart)
	if n <= 1 {
		return [][]int32{order}
	}
	var parts [][]int32
	from := 0
	for k := 1; k < n && from < len(order); k++ {
		cut := max(from, len(order)*k/n)
		for cut > from && cut < len(order) && nodes[order[cut]] == nodes[order[cut-1]] {
			cut++ // to the end of the device
		}
		if cut > from {
			parts = append(parts, order[from:cut])
			from = cut
		}
	}
	if from < len(order) {
		parts = append(parts, order[from:])
	}
	return parts
}

// joinWalks joins the walkers' results in walk order: their tables' rows one after
// the other, their touches with the dictionaries' codes as one walker would have
// given them (values numbered in order of first use), their persons' activity.
func joinWalks(r *run, walkers []*walker, conversions []eventConversion, rows EventRows) *sessionized {
	first := walkers[0]
	s := &sessionized{touches: first.tp.touches, conversions: conversions, activity: first.act, rows: rows}
	tps, pvs := make([]arrow.Table, len(walkers)), make([]arrow.Table, len(walkers))
	for k, w := range walkers {
		tps[k], pvs[k] = w.tp.o.table(), w.pv.o.table()
		s.sessions += w.sessions
		if k > 0 {
			s.touches.join(w.tp.touches)
			s.activity.join(w.act)
		}
	}
	s.touchpoints, s.pageViews = concatTables(tps), concatTables(pvs)
	return s
}

// concatTables is one table of the rows of ts in order; it releases ts.
func concatTables(ts []arrow.Table) arrow.Table {
	if len(ts) == 1 {
		return ts[0]
	}
	var recs []arrow.RecordBatch
	for _, t := range ts {
		tr := array.NewTableReader(t, 0)
		for tr.Next() {
			rec := tr.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		tr.Release()
	}
	out := array.NewTableFromRecords(ts[0].Schema(), recs)
	for _, rec := range recs {
		rec.Release()
	}
	for _, t := range ts {
		t.Release()
	}
	return out
}

// walkOrder counts every event by its use and returns the events the walk reads (all
// but identify rows and rows that name no one) by device, time and row.
func walkOrder(ev *eventCols, nodes []int32, touchEvents map[string]bool) ([]int32, EventRows) {
	var rows EventRows
	order := make([]int32, 0, ev.n)
	for i := range nodes {
		k := ev.kind.Value(i)
		switch {
		case nodes[i] < 0:
			rows.Unlinked++
			continue
		case k == extract.KindIdentify:
			rows.Identify++
			continue
		case k == extract.KindTouch:
			rows.Touches++
		case touchEvents[ev.name.Value(i)]:
			rows.Interactions++
		case k == extract.KindPageView:
			rows.PageViews++
		default:
			rows.Other++
		}
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(x, y int32) int {
		if c := nodes[x] - nodes[y]; c != 0 {
			return int(c)
		}
		if c := int64(ev.at.Value(int(x))) - int64(ev.at.Value(int(y))); c != 0 {
			if c < 0 {
				return -1
			}
			return 1
		}
		return int(x - y)
	})
	return order, rows
}

// walker is the walk over the events in walkOrder: the session state machine and
// what it writes.
type walker struct {
	r           *run
	ev          *eventCols
	nodes       []int32
	persons     *identity.Persons
	touchEvents map[string]bool
	needs       persona.Needs
	timeout     int64 // µs

	s        session // the session being walked
	lastNode int32   // the device of the previous event
	sessions int     // sessions closed

	tp    *touchpointWriter
	pv    *pageViewWriter
	ids   touchIDs
	paths pathCache
	act   activity
}

// session is the state of the session being walked.
type session struct {
	open       bool
	key        string // the source's session id, "" when inferred
	id         string
	startAt    int64
	lastAt     int64
	anon       string
	person     int32
	traffic    normalize.Traffic
	hasTraffic bool
	landing    string
	// interactions are the session's Options.TouchEvents events, written when the
	// session closes and its traffic is known.
	interactions []interaction
}

// interaction is a tracked interaction waiting for its session to close.
type interaction struct {
	at         int64
	name, path string
	id         uint64
}

func (w *walker) walk(ctx context.Context, order []int32) error {
	for n, i := range order {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		w.event(int(i))
	}
	w.closeSession()
	return nil
}

// event feeds event i to the walk.
func (w *walker) event(i int) {
	ev := w.ev
	node := w.nodes[i]
	person := w.persons.Of(node)
	at := int64(ev.at.Value(i))
	anon, kind, name := sv(ev.anon, i), ev.kind.Value(i), ev.name.Value(i)
	w.act.event(person, at, name, ev.link, i, w.needs)

	if kind == extract.KindTouch { // a touch-log row: a touch by itself, no session
		w.closeSession()
		w.touchRow(i, node, person, anon, at, name)
		return
	}
	w.advance(i, node, person, at, anon)
	if w.touchEvents[name] {
		id := w.ids.distinct(w.device("interaction", anon, node, strconv.FormatInt(at, 10), name)...)
		w.s.interactions = append(w.s.interactions, interaction{at: at, name: name, path: w.paths.of(sv(ev.location, i)), id: id})
	}
	if kind == extract.KindPageView {
		w.pageView(i, person, anon, at)
	}
}

// advance moves the session state to event i of device node: when the event starts a
// session it closes the open one and opens another. A session takes its traffic from
// its first event with campaign information and its landing page from its first event
// with a page location.
func (w *walker) advance(i int, node, person int32, at int64, anon string) {
	key := sv(w.ev.sessionKey, i)
	start, t, classified := w.starts(i, node, at, key)
	if start {
		w.closeSession()
		w.s = session{open: true, key: key, startAt: at, anon: anon, person: person}
		if key != "" {
			w.s.id = hexID("s_", hashParts(anon, key))
		} else {
			w.s.id = hexID("s_", hashParts(anon, strconv.FormatInt(at, 10)))
		}
	}
	w.lastNode = node
	w.s.lastAt = at
	if !w.s.hasTraffic {
		if !classified {
			t = normalize.Classify(w.ev.traffic(i))
		}
		if t.Explicit {
			w.s.traffic, w.s.hasTraffic = t, true
		}
	}
	if loc := sv(w.ev.location, i); w.s.landing == "" && loc != "" {
		w.s.landing = w.paths.of(loc)
	}
}

// starts tells whether event i of device node starts a new session: another device,
// another session id of the source, or, for sources without session ids, inactivity
// past the timeout or (unless KeepSessionOnCampaignChange) other campaign information.
// When it had to classify the event's traffic to tell, it returns it.
func (w *walker) starts(i int, node int32, at int64, key string) (start bool, t normalize.Traffic, classified bool) {
	s := &w.s
	switch {
	case !s.open || node != w.lastNode:
		return true, t, false
	case key != "" || s.key != "":
		return key != s.key, t, false
	case at-s.lastAt > w.timeout:
		return true, t, false
	case w.r.opt.KeepSessionOnCampaignChange || !w.ev.mayChangeCampaign(i):
		return false, t, false
	}
	t = normalize.Classify(w.ev.traffic(i))
	changed := t.Source != s.traffic.Source || t.Medium != s.traffic.Medium || t.Campaign != s.traffic.Campaign
	return t.Explicit && s.hasTraffic && changed, t, true
}

// closeSession writes the open session's touchpoint and those of its interactions,
// with the session's traffic ((direct) / (none) without any) and channel.
func (w *walker) closeSession() {
	s := &w.s
	if !s.open {
		return
	}
	s.open = false
	w.sessions++
	t := s.traffic
	if !s.hasTraffic {
		t = normalize.Traffic{Source: "(direct)", Medium: "(none)"}
	}
	tp := touchpoint{id: hashParts("session", s.anon, s.key, strconv.FormatInt(s.startAt, 10)),
		person: s.person, anon: s.anon, session: s.id, at: s.startAt,
		channel: w.r.opt.Channels.GroupTouch(t.Touch()), traffic: t, landing: s.landing, event: "session_start"}
	w.tp.write(&tp)
	for _, x := range s.interactions {
		tp.id, tp.at, tp.landing, tp.event = x.id, x.at, x.path, x.name
		w.tp.write(&tp)
	}
}

// touchRow writes touch-log row i: its own channel, else its traffic's.
func (w *walker) touchRow(i int, node, person int32, anon string, at int64, name string) {
	ev := w.ev
	t := normalize.Classify(ev.traffic(i))
	ch := sv(ev.channel, i)
	if ch == "" {
		ch = w.r.opt.Channels.GroupTouch(t.Touch())
	}
	if !t.Explicit {
		t.Source, t.Medium = "", ""
	}
	if strings.HasPrefix(ch, SalesChannelPrefix) {
		// A selling activity's source is its owner team, as the CRM names it.
		t.Source, t.Medium = sv(ev.utmSource, i), sv(ev.utmMedium, i)
	}
	parts := []string{"touch", anon, strconv.FormatInt(at, 10), name, ch}
	if rec := sv(ev.record, i); rec != "" { // CRM activities have no cookie: their record tells them apart
		parts = append(parts, rec)
	} else {
		parts = w.device(parts[0], anon, node, parts[2:]...)
	}
	w.tp.write(&touchpoint{id: w.ids.distinct(parts...), person: person, anon: anon, at: at,
		channel: ch, traffic: t, landing: w.paths.of(sv(ev.location, i)), event: name})
}

// pageView writes page view i when the range has it, and keeps its page for the
// persona rules.
func (w *walker) pageView(i int, person int32, anon string, at int64) {
	ev := w.ev
	in := w.r.inRange(at)
	var page string
	if in || w.needs.Pages {
		page = w.paths.of(sv(ev.location, i))
	}
	if w.needs.Pages && page != "" {
		w.act.seen.add(person, seenPage, page)
	}
	if in {
		w.pv.write(&pageView{person: person, anon: anon, session: w.s.id, at: at, location: sv(ev.location, i),
			path: page, title: sv(ev.title, i), referrerHost: normalize.Host(sv(ev.referrer, i))})
	}
}

// device returns the parts of a touch id: kind, the cookie, then rest. A touch without
// a cookie (a server-side event of a user id) names its device's identifier after
// the empty cookie, so that two devices never share an id: the walk's parts each count
// exact duplicates of their own devices only.
func (w *walker) device(kind, anon string, node int32, rest ...string) []string {
	parts := append([]string{kind, anon}, rest...)
	if anon == "" && node >= 0 {
		typ, v, _ := w.persons.Node(node)
		parts = append(parts, typ.String()+":"+v)
	}
	return parts
}

// touchIDs make touch ids from their parts; exact duplicates (a row sent twice, the
// same interaction twice in a second) stay distinct touches.
type touchIDs map[uint64]int

func (d touchIDs) distinct(parts ...string) uint64 {
	base := hashParts(parts...)
	h := base ^ uint64(d[base])*0x9e3779b97f4a7c15
	d[base]++
	return h
}

// pathCache holds the paths of page URLs, which repeat: each is parsed once (the cache
// is cleared when large).
type pathCache map[string]string

func (c pathCache) of(u string) string {
	p, ok := c[u]
	if !ok {
		if len(c) >= 1<<16 {
			clear(c)
		}
		p = normalize.Path(u)
		c[u] = p
	}
	return p
}
