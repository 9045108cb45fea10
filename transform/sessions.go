package transform

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
	"closedloop/transform/persona"
)

// walkChunk walks one chunk of events (stream.go): every device's events in time
// order, cut into sessions. It writes the chunk's page views and returns its parts of
// sessions, its touch-log touches, its activity and its conversions; nothing in them
// points into the chunk's Arrow buffers once merged. Devices are independent: the
// walk is cut into parts at device boundaries, one walker each on every core.
func (s *Stream) walkChunk(ctx context.Context, ev *eventCols, nodes []int32, anonIsNode []bool) ([]*walker, EventRows, error) {
	order, rows := walkOrder(ev, nodes, s.touchEvents, s.walkFrom)
	parts := splitByDevice(order, nodes, runtime.GOMAXPROCS(0))
	walkers := make([]*walker, len(parts))
	for k, part := range parts {
		share := float64(len(part)) / float64(max(1, len(order)))
		walkers[k] = &walker{s: s, r: s.r, ev: ev, nodes: nodes, anonIsNode: anonIsNode, touchEvents: s.touchEvents,
			needs: s.needs, timeout: s.r.opt.SessionTimeout.Microseconds(), lastNode: -1,
			pv: newPageViewWriter(s.r.opt.Mem, int(share*float64(rows.PageViews))), paths: pathCache{}, act: newActivity(false),
			touches: make([]touchPart, 0, int(share*float64(rows.Touches))+1)}
	}
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for k, part := range parts {
		p.Go(func(ctx context.Context) error { return walkers[k].walk(ctx, part) })
	}
	if err := p.Wait(); err != nil {
		for _, w := range walkers {
			w.pv.o.release()
		}
		return nil, rows, err
	}
	return walkers, rows, nil
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

// walkOrder counts every event by its use and returns the events the walk reads (all
// but identify rows, rows that name no one and rows before from) by device, time and
// row.
func walkOrder(ev *eventCols, nodes []int32, touchEvents map[string]bool, from int64) ([]int32, EventRows) {
	var rows EventRows
	order := make([]int32, 0, ev.n)
	for i := range nodes {
		k := ev.kind.Value(i)
		switch {
		case nodes[i] < 0:
			rows.Unlinked++
			continue
		case int64(ev.at.Value(i)) < from:
			rows.Earlier++
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

// walker is the walk over one chunk's events in walkOrder: the session state machine
// and what it keeps. It knows devices (identity graph nodes), not persons: persons
// exist only once every chunk is in, so a device's parts of sessions, touches and
// page views are given their person when the stream finishes.
type walker struct {
	s           *Stream
	r           *run
	ev          *eventCols
	nodes       []int32
	anonIsNode  []bool // eventNodes
	touchEvents map[string]bool
	needs       persona.Needs
	timeout     int64 // µs

	cur      session // the session being walked
	lastNode int32   // the device of the previous event

	parts   []session   // the chunk's sessions, closed or continuing in another chunk
	touches []touchPart // the chunk's touch-log rows
	pv      *pageViewWriter
	paths   pathCache
	act     activity // by device
	h       hasher
}

// session is a session as one chunk's walk saw it: the whole session, or a part of
// one whose other parts another chunk holds (finishSessions merges them).
type session struct {
	open    bool
	node    int32
	key     string // the source's session id, "" when inferred
	sid     uint64 // the hash of the session_id its page views were written with (sessionID)
	startAt int64
	lastAt  int64
	anon    string
	// anonIsNode: the device's node holds anon as given (eventNodes).
	anonIsNode bool
	// traffic is the session's campaign information: that of its first event with
	// any; trafficAt is that event's time.
	traffic    normalize.Traffic
	hasTraffic bool
	trafficAt  int64
	// opening is the explicit traffic of the part's first event (a campaign change
	// there would have started a session, had the part continued another).
	opening    normalize.Traffic
	hasOpening bool
	landing    string
	landingAt  int64
	// interactions are the session's Options.TouchEvents events, written when the
	// session's traffic is known.
	interactions []interaction
}

// interaction is a tracked interaction of a session.
type interaction struct {
	at         int64
	name, path string
	base       uint64 // hash of its id's parts (finishSessions tells duplicates apart)
}

// touchPart is a touch-log row as its chunk read it.
type touchPart struct {
	node       int32
	at         int64
	base       uint64
	anon       string
	anonIsNode bool // the device's node holds anon as given (eventNodes)
	channel    string
	traffic    normalize.Traffic
	landing    string
	event      string
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
	at := int64(ev.at.Value(i))
	anon, kind, name := sv(ev.anon, i), ev.kind.Value(i), ev.name.Value(i)
	w.act.event(node, at, name, ev.link, i, w.needs)

	if kind == extract.KindTouch { // a touch-log row: a touch by itself, no session
		w.closeSession()
		w.touchRow(i, node, anon, at, name)
		return
	}
	w.advance(i, node, at, anon)
	if w.touchEvents[name] {
		h := &w.h
		h.start("interaction")
		h.add(anon)
		h.addInt(at)
		h.add(name)
		w.addDevice(anon, node)
		base := h.sum()
		w.cur.interactions = append(w.cur.interactions, interaction{at: at, name: name, path: w.paths.of(sv(ev.location, i)), base: base})
	}
	if kind == extract.KindPageView {
		w.pageView(i, node, anon, at)
	}
}

// advance moves the session state to event i of device node: when the event starts a
// session it closes the open one and opens another. A session takes its traffic from
// its first event with campaign information and its landing page from its first event
// with a page location.
func (w *walker) advance(i int, node int32, at int64, anon string) {
	key := sv(w.ev.sessionKey, i)
	start, t, classified := w.starts(i, node, at, key)
	if start {
		w.closeSession()
		w.cur = session{open: true, node: node, key: key, startAt: at, anon: anon, anonIsNode: w.anonIsNode[i]}
		w.cur.sid = sessionHash(anon, key, at)
	}
	first := start
	w.lastNode = node
	w.cur.lastAt = at
	if !w.cur.hasTraffic {
		if !classified {
			t = normalize.Classify(w.ev.traffic(i))
		}
		if t.Explicit {
			w.cur.traffic, w.cur.hasTraffic, w.cur.trafficAt = t, true, at
		}
	}
	if first && w.cur.hasTraffic && w.ev.mayChangeCampaign(i) {
		w.cur.opening, w.cur.hasOpening = w.cur.traffic, true
	}
	if loc := sv(w.ev.location, i); w.cur.landing == "" && loc != "" {
		w.cur.landing, w.cur.landingAt = w.paths.of(loc), at
	}
}

// sessionHash is the hash of the session_id ("s_" + hex) of a session of cookie
// anon: by the source's session id, else by its start (µs).
func sessionHash(anon, key string, start int64) uint64 {
	if key != "" {
		return hashParts(anon, key)
	}
	return hashParts(anon, strconv.FormatInt(start, 10))
}

// starts tells whether event i of device node starts a new session: another device,
// another session id of the source, or, for sources without session ids, inactivity
// past the timeout or (unless KeepSessionOnCampaignChange) other campaign information.
// When it had to classify the event's traffic to tell, it returns it.
func (w *walker) starts(i int, node int32, at int64, key string) (start bool, t normalize.Traffic, classified bool) {
	s := &w.cur
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
	return t.Explicit && s.hasTraffic && campaignChanged(&t, &s.traffic), t, true
}

// campaignChanged tells whether b names another campaign than a.
func campaignChanged(a, b *normalize.Traffic) bool {
	return a.Source != b.Source || a.Medium != b.Medium || a.Campaign != b.Campaign
}

// closeSession keeps the open session; its touchpoints are written once every chunk
// is in (finishSessions).
func (w *walker) closeSession() {
	if !w.cur.open {
		return
	}
	w.cur.open = false
	w.parts = append(w.parts, w.cur)
	w.cur = session{}
}

// touchRow keeps touch-log row i: its own channel, else its traffic's.
func (w *walker) touchRow(i int, node int32, anon string, at int64, name string) {
	ev := w.ev
	t := noTraffic // a touch log states no campaign: nothing to classify
	if in := ev.traffic(i); in != (normalize.Input{}) {
		t = normalize.Classify(in)
	}
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
	// The id's parts: "touch", the cookie, the time, the name, the channel, then for a
	// CRM activity (no cookie) its record, else its device (addDevice).
	h := &w.h
	h.start("touch")
	h.add(anon)
	h.addInt(at)
	h.add(name)
	h.add(ch)
	if rec := sv(ev.record, i); rec != "" {
		h.add(rec)
	} else {
		w.addDevice(anon, node)
	}
	w.touches = append(w.touches, touchPart{node: node, at: at, base: h.sum(), anon: anon, anonIsNode: w.anonIsNode[i],
		channel: ch, traffic: t, landing: w.paths.of(sv(ev.location, i)), event: name})
}

// noTraffic is what normalize.Classify makes of an event with no campaign information.
var noTraffic = normalize.Classify(normalize.Input{})

// pageView writes page view i when the range has it, and keeps its page for the
// persona rules.
func (w *walker) pageView(i int, node int32, anon string, at int64) {
	ev := w.ev
	in := w.r.inRange(at)
	var page string
	if in || w.needs.Pages {
		page = w.paths.of(sv(ev.location, i))
	}
	if w.needs.Pages && page != "" {
		w.act.seen.add(node, seenPage, page)
	}
	if in {
		w.pv.write(&pageView{node: node, anon: anon, session: hexID("s_", w.cur.sid), at: at, location: sv(ev.location, i),
			path: page, title: sv(ev.title, i), referrerHost: normalize.Host(sv(ev.referrer, i))})
	}
}

// addDevice ends the parts of a touch id in w.h: a touch without a cookie (a
// server-side event of a user id) names its device's identifier after the empty
// cookie, so that two devices never share an id.
func (w *walker) addDevice(anon string, node int32) {
	if anon == "" && node >= 0 {
		typ, v := w.s.nodeName(node)
		w.h.add(typ.String() + ":" + v)
	}
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

// nodeName is the type and value of graph node n.
func (s *Stream) nodeName(n int32) (identity.Type, string) {
	s.gmu.RLock()
	defer s.gmu.RUnlock()
	t, v, _ := s.graph.NodeInfo(n)
	return t, v
}
