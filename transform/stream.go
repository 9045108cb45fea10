package transform

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/sourcegraph/conc/pool"

	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
	"closedloop/transform/persona"
)

// Stream builds a run's tables from its events as they are read, a chunk at a time
// (a day file, a batch of one), and from the CRM and spend tables once every chunk is
// in (Finish). A chunk is reduced as it comes: its identifiers go into the identity
// graph (distinct edges only), its events fold into parts of sessions and touches
// keyed by device, its page views go to a store that spills to a temporary file; then
// the chunk is no longer needed. What a Stream holds grows with devices, sessions,
// touches and distinct identifiers, not with events.
//
// Chunks may come in any order and from several goroutines at once. A session whose
// events two chunks hold (one crossing midnight between two day files) is merged by
// device and session id, or, for sources without session ids, when the later part
// starts within the session timeout of the earlier one's last event: the sessions
// are those of one walk over every event. (One difference remains: with
// KeepSessionOnCampaignChange off, a campaign change is seen at a chunk's first event
// of a device but not at later ones in a session that a chunk boundary merged.)
type Stream struct {
	r           *run
	needs       persona.Needs
	touchEvents map[string]bool

	gmu   sync.RWMutex // the graph
	graph *identity.Graph

	mu        sync.Mutex // everything below
	events    int
	rows      EventRows
	analytics []string // the smallest few cookie ids the events carry (CookieLinks.Analytics)
	strs      *dict    // cookies, session ids, paths, names, channels
	traffics  *trafficDict
	parts     chunked[sessionRec]
	inter     chunked[interRec]
	touches   chunked[touchRec]
	shapes    map[touchShape]int32 // touchRec.shape
	shapeVals []touchShape
	convs     []eventConversion
	act       activity    // by device
	pages     *spillStore // fct_page_view, by device (pageSchema)
	hist      history     // what an incremental run read back (state.go)
	// firstEvent is the time of the earliest event added (Stats.FirstEvent).
	firstEvent int64
	done       bool
	// since and walkFrom bound an incremental run's events (Options.Since): touches
	// and conversions before since are the state's; events before walkFrom are not
	// walked. math.MinInt64 for a full run.
	since, walkFrom int64
}

// sessionRec is a part of a session (session) with its strings interned.
type sessionRec struct {
	node                           int32
	anon, landing                  int32  // codes in Stream.strs (anon: anonByNode)
	key                            uint64 // hash of the source's session id, 0 = none
	sid, tid                       uint64 // the hashes of the part's session_id and of its touchpoint_id
	traffic, opening               int32  // codes in Stream.traffics, -1 = none
	start, last, trafficAt, landAt int64
	inter, nInter                  int32 // its interactions: Stream.inter[inter:inter+nInter]
}

// interRec is an interaction with its strings interned.
type interRec struct {
	at         int64
	base       uint64
	name, path int32
}

// touchRec is a touch-log row (touchPart) in 24 bytes: what rows share (cookie code,
// channel, campaign, landing page, event name) is one code of Stream.shapes.
type touchRec struct {
	node  int32
	shape int32 // index in Stream.shapeVals
	at    int64
	base  uint64
}

// touchShape is what touch-log rows share: codes in Stream.strs (anon: anonByNode
// for nearly all) and Stream.traffics.
type touchShape struct {
	anon, channel, traffic, landing, event int32
}

// trafficDict encodes campaign information as int32 codes.
type trafficDict struct {
	idx  map[normalize.Traffic]int32
	vals []normalize.Traffic
}

// code keeps what the later steps read of t (fct_touchpoint's columns, the channel
// rules' fields): a click id's value or a landing path, unique per click, would make
// the dictionary grow with sessions.
func (d *trafficDict) code(t *normalize.Traffic) int32 {
	v := *t
	v.ClickIDValue, v.LandingPath, v.CampaignID, v.CreativeFormat, v.MarketingTactic = "", "", "", "", ""
	if c, ok := d.idx[v]; ok {
		return c
	}
	c := int32(len(d.vals))
	for _, s := range []*string{&v.Source, &v.Medium, &v.Campaign, &v.Term, &v.Content, &v.SourcePlatform, &v.ClickID, &v.ReferrerHost} {
		*s = strings.Clone(*s)
	}
	d.idx[v] = c
	d.vals = append(d.vals, v)
	return c
}

// NewStream starts a run's Stream.
func NewStream(opt Options) *Stream {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.IdentityLimits == (identity.Limits{}) {
		opt.IdentityLimits = identity.DefaultLimits
	}
	r := &run{opt: opt, from: opt.Range.Start().UnixMicro(), end: opt.Range.End().UnixMicro()}
	r.first.Store(math.MaxInt64)
	r.attrFrom = r.from
	s := &Stream{r: r, needs: opt.Personas.Needs(), touchEvents: map[string]bool{},
		graph: identity.New(opt.Identity), strs: newDict(),
		traffics: &trafficDict{idx: map[normalize.Traffic]int32{}}, act: newActivity(true), shapes: map[touchShape]int32{}}
	s.pages = newSpillStore(r, load.FctPageView, pageSchema)
	s.since, s.walkFrom, s.firstEvent = math.MinInt64, math.MinInt64, math.MaxInt64
	if !opt.Since.IsZero() {
		s.since = opt.Since.UnixMicro()
		s.walkFrom = opt.Since.Add(-sessionReach).UnixMicro()
	}
	for _, n := range opt.TouchEvents {
		s.touchEvents[n] = true
	}
	return s
}

// Add reduces one chunk of events (schema extract.EventsSchema); the Stream keeps
// nothing of events once Add returns. Safe for concurrent use.
func (s *Stream) Add(ctx context.Context, events arrow.Table) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cols := &columns{mem: s.r.opt.Mem}
	defer cols.release()
	ev := readEvents(cols, events, s.needs.Downloads)
	if ev.n == 0 {
		return nil
	}
	s.gmu.Lock()
	nodes, anonIsNode := eventNodes(s.graph, ev)
	if g := s.graph; g.EdgesSinceCompact() > max(1<<20, g.Edges()-g.EdgesSinceCompact()) {
		g.CompactEdges()
	}
	s.gmu.Unlock()
	walkers, rows, err := s.walkChunk(ctx, ev, nodes, anonIsNode)
	if err != nil {
		return err
	}
	convs := eventConversions(s.r, ev, nodes, s.since)
	// The chunk's first event and smallest cookie ids, before the lock.
	first := int64(math.MaxInt64)
	var cookies []string
	for i := 0; i < ev.n; i++ {
		first = min(first, int64(ev.at.Value(i)))
		cookies = smallest(cookies, sv(ev.anon, i))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		for _, w := range walkers {
			w.pv.o.release()
		}
		return fmt.Errorf("transform: events added after Finish")
	}
	s.events += ev.n
	s.rows.add(rows)
	s.firstEvent = min(s.firstEvent, first)
	for _, v := range cookies {
		s.analytics = smallest(s.analytics, v)
	}
	s.convs = append(s.convs, convs...)
	var failed error
	for _, w := range walkers {
		for k := range w.parts {
			s.addSession(&w.parts[k])
		}
		for k := range w.touches {
			t := &w.touches[k]
			sh := touchShape{anon: s.anonCode(t.anon, t.anonIsNode), channel: s.strs.code(t.channel),
				traffic: s.traffics.code(&t.traffic), landing: s.strs.code(t.landing), event: s.strs.code(t.event)}
			code, ok := s.shapes[sh]
			if !ok {
				code = int32(len(s.shapeVals))
				s.shapes[sh] = code
				s.shapeVals = append(s.shapeVals, sh)
			}
			s.touches.add(touchRec{node: t.node, shape: code, at: t.at, base: t.base})
		}
		rec := w.pv.o.record()
		if err := s.pages.addPages(rec, w.pv.nodes); err != nil && failed == nil {
			failed = err
		}
		rec.Release()
		s.act.join(w.act)
	}
	return failed
}

// smallest adds cookie id v to list, the smallest few (maxCookieExamples) ids in
// order: the same examples whatever order chunks come in. A value kept is copied.
func smallest(list []string, v string) []string {
	if v == "" || slices.Contains(list, v) || len(list) == maxCookieExamples && v >= list[maxCookieExamples-1] {
		return list
	}
	if len(list) == maxCookieExamples {
		list = list[:maxCookieExamples-1]
	}
	k, _ := slices.BinarySearch(list, v)
	return slices.Insert(list, k, strings.Clone(v))
}

// anonByNode is the code of a cookie id that is its device's identifier as the graph
// holds it (nearly always): the graph has the string, the dictionary need not.
const anonByNode = -1

// anonCode is the code of cookie id anon, anonByNode when its device's node holds it
// as given (eventNodes).
func (s *Stream) anonCode(anon string, isNode bool) int32 {
	if isNode {
		return anonByNode
	}
	return s.strs.code(anon)
}

// anon is the cookie id of code c of device node (anonCode), once every chunk is in.
func (s *Stream) anon(c, node int32) string {
	if c == anonByNode {
		_, v, _ := s.graph.NodeInfo(node)
		return v
	}
	return s.strs.val(c)
}

// addSession interns a part of a session.
func (s *Stream) addSession(p *session) {
	r := sessionRec{node: p.node, anon: s.anonCode(p.anon, p.anonIsNode), landing: s.strs.code(p.landing),
		sid: p.sid, tid: hashParts("session", p.anon, p.key, strconv.FormatInt(p.startAt, 10)),
		traffic: -1, opening: -1, start: p.startAt, last: p.lastAt, trafficAt: p.trafficAt, landAt: p.landingAt,
		inter: int32(s.inter.len()), nInter: int32(len(p.interactions))}
	if p.key != "" {
		r.key = hashParts(p.key) | 1
	}
	if p.hasTraffic {
		r.traffic = s.traffics.code(&p.traffic)
	}
	if p.hasOpening {
		r.opening = s.traffics.code(&p.opening)
	}
	for _, x := range p.interactions {
		s.inter.add(interRec{at: x.at, base: x.base, name: s.strs.code(x.name), path: s.strs.code(x.path)})
	}
	s.parts.add(r)
}

func (e *EventRows) add(o EventRows) {
	e.PageViews += o.PageViews
	e.Touches += o.Touches
	e.Interactions += o.Interactions
	e.Other += o.Other
	e.Identify += o.Identify
	e.Unlinked += o.Unlinked
	e.Earlier += o.Earlier
}

// Release frees what a Stream holds when Finish is not called (a failed run).
func (s *Stream) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.done = true
	s.pages.release()
}

// Finish runs the steps after the events (see the package documentation) with the
// CRM, spend and deal-stage tables of in (in.Events must be nil: events come through
// Add). The Stream is spent afterwards.
func (s *Stream) Finish(ctx context.Context, in Inputs) (*Output, error) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil, fmt.Errorf("transform: Finish called twice")
	}
	s.done = true
	s.mu.Unlock()
	if in.Events != nil {
		s.pages.release()
		return nil, fmt.Errorf("transform: Finish takes the events through Add, not Inputs.Events")
	}
	out := &Output{Tables: map[string]arrow.Table{}}
	defer s.drop()
	if err := s.finish(ctx, in, out); err != nil {
		s.pages.release()
		out.Release()
		return nil, err
	}
	for _, t := range load.Tables { // tables no step produced yet exist empty
		if _, ok := out.Tables[t.Name]; !ok && t.Mode != load.Append && out.Spilled[t.Name] == nil {
			out.Tables[t.Name] = Empty(s.r.opt.Mem, t.Schema)
		}
	}
	return out, nil
}

// drop lets go of everything the Stream held for Finish, so that the loads that
// follow have its memory.
func (s *Stream) drop() {
	s.gmu.Lock()
	s.graph = nil
	s.gmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.strs, s.traffics, s.convs = nil, nil, nil
	s.parts, s.inter, s.touches = chunked[sessionRec]{}, chunked[interRec]{}, chunked[touchRec]{}
	s.shapes, s.shapeVals = nil, nil
	s.act, s.hist = activity{}, history{}
}

// sessionized is what finishSessions makes of the Stream's parts: fct_touchpoint and
// the touches of every day for attribution, the event conversions and every person's
// activity.
type sessionized struct {
	touchpoints        arrow.Table // or touchpointsSpilled
	touchpointsSpilled *Spilled
	touches            *touches
	conversions        []eventConversion
	activity           activity
	sessions           int
	// moved maps the session ids page views were written with to the ids of the
	// sessions their parts merged into.
	moved map[string]string
}

// finishSessions merges the parts of sessions and writes every touchpoint, in order
// of person, time and id.
func (s *Stream) finishSessions(ctx context.Context, id *stitched) (*sessionized, error) {
	r, p := s.r, id.persons
	res := &sessionized{moved: map[string]string{}}

	// Parts by device and start; then a device's parts of one session merge.
	order := make([]int32, s.parts.len())
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int {
		a, b := s.parts.at(x), s.parts.at(y)
		return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.start, b.start), cmp.Compare(a.key, b.key), cmp.Compare(x, y))
	})
	type merged struct {
		first, tail       int32 // the earliest part (its cookie and start name the session), the last
		traffic, landing  int32
		last              int64
		trafficAt, landAt int64
	}
	var ms []merged
	// next links a merged session's parts, from its first: the part after part i, -1
	// for none.
	next := make([]int32, s.parts.len())
	timeout := r.opt.SessionTimeout.Microseconds()
	keyed := map[uint64]int{}
	prevUnkeyed, node := -1, int32(-1)
	for n, i := range order {
		if n%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		pt := s.parts.at(i)
		if pt.node != node {
			node, prevUnkeyed = pt.node, -1
			clear(keyed)
		}
		into := -1
		if pt.key != 0 {
			if m, ok := keyed[pt.key]; ok {
				into = m
			}
			prevUnkeyed = -1
		} else if prevUnkeyed >= 0 {
			m := &ms[prevUnkeyed]
			changed := !r.opt.KeepSessionOnCampaignChange && pt.opening >= 0 && m.traffic >= 0 &&
				campaignChanged(&s.traffics.vals[pt.opening], &s.traffics.vals[m.traffic])
			if pt.start-m.last <= timeout && !changed {
				into = prevUnkeyed
			}
		}
		if into < 0 {
			next[i] = -1
			ms = append(ms, merged{first: i, tail: i, last: pt.last, traffic: pt.traffic, trafficAt: pt.trafficAt,
				landing: pt.landing, landAt: pt.landAt})
			if pt.key != 0 {
				keyed[pt.key] = len(ms) - 1
			} else {
				prevUnkeyed = len(ms) - 1
			}
			continue
		}
		m := &ms[into]
		next[i], next[m.tail], m.tail = -1, i, i
		m.last = max(m.last, pt.last)
		if pt.traffic >= 0 && (m.traffic < 0 || pt.trafficAt < m.trafficAt) {
			m.traffic, m.trafficAt = pt.traffic, pt.trafficAt
		}
		if pt.landing != 0 && (m.landing == 0 || pt.landAt < m.landAt) {
			m.landing, m.landAt = pt.landing, pt.landAt
		}
		if f := s.parts.at(m.first); pt.sid != f.sid {
			res.moved[hexID("s_", pt.sid)] = hexID("s_", f.sid)
		}
	}
	res.sessions = len(ms)
	order = nil

	// Every touchpoint, with its id; then in order of person, time and id.
	type tpRec struct {
		person int32
		at     int64
		id     uint64
		kind   uint8 // 0 session, 1 interaction, 2 touch-log row, 3 stored touch
		early  bool  // before since: it ranks duplicates, the state has its row
		ref    int32 // index in ms, s.inter, s.touches or s.hist.touches
		ses    int32 // the interaction's session, in ms
	}
	recs := make([]tpRec, 0, len(ms)+s.inter.len()+s.touches.len()+len(s.hist.touches))
	// Interactions and touch-log rows take the hash of their parts as id, exact
	// duplicates (a row sent twice) told apart by their rank among equals. Equal hashes
	// are of one device, so of one person: they are ranked in the person's sort below.
	// An incremental run's touches before since are the state's (kind 3).
	for k := range ms {
		m := &ms[k]
		f := s.parts.at(m.first)
		person := p.Of(f.node)
		if f.start >= s.since {
			recs = append(recs, tpRec{person: person, at: f.start, kind: 0, ref: int32(k), id: f.tid})
		}
		for pi := m.first; pi >= 0; pi = next[pi] { // its parts, in order
			pt := s.parts.at(pi)
			for x := pt.inter; x < pt.inter+pt.nInter; x++ {
				in := s.inter.at(x)
				recs = append(recs, tpRec{person: person, at: in.at, id: in.base, kind: 1, early: in.at < s.since, ref: x, ses: int32(k)})
			}
		}
	}
	next = nil
	for i := int32(0); i < int32(s.touches.len()); i++ {
		t := s.touches.at(i)
		recs = append(recs, tpRec{person: p.Of(t.node), at: t.at, id: t.base, kind: 2, early: t.at < s.since, ref: i})
	}
	var stored *storedNodes
	if len(s.hist.touches)+len(s.hist.convs)+len(s.hist.lastSeen) > 0 {
		stored = s.storedNodes()
	}
	for i := range s.hist.touches {
		h := &s.hist.touches[i]
		if n := stored.node(h.anon, h.person); n >= 0 {
			recs = append(recs, tpRec{person: p.Of(n), at: h.at, kind: 3, ref: int32(i), id: h.id})
		} else {
			s.hist.dropped++
		}
	}
	// By person (a counting sort: persons are numbered), then time and id; duplicates
	// ranked in each person's run.
	tpOrder, start := byPerson(len(recs), p.Len(), func(i int32) int32 { return recs[i].person })
	byTime := func(x, y int32) int {
		a, b := &recs[x], &recs[y]
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id), cmp.Compare(a.kind, b.kind), cmp.Compare(x, y))
	}
	for k := 0; k+1 < len(start); k++ {
		seg := tpOrder[start[k]:start[k+1]]
		if len(seg) < 2 {
			continue
		}
		slices.SortFunc(seg, byTime)
		ranked := false
		for j := 1; j < len(seg); j++ {
			a, b := &recs[seg[j-1]], &recs[seg[j]]
			if a.id != b.id || a.at != b.at || a.kind == 0 || a.kind == 3 || b.kind == 0 || b.kind == 3 {
				continue
			}
			rank := uint64(1)
			base := a.id
			for ; j < len(seg); j++ {
				b = &recs[seg[j]]
				if b.id != base || b.at != a.at || b.kind == 0 || b.kind == 3 {
					break
				}
				b.id = base ^ rank*0x9e3779b97f4a7c15
				rank++
			}
			ranked = true
		}
		if ranked {
			slices.SortFunc(seg, byTime)
		}
	}

	// Persons are independent: spans of them are written on every core, each into a
	// table and touches of its own, joined in person order.
	keep := s.mayConvert(id, stored)
	direct := normalize.Traffic{Source: "(direct)", Medium: "(none)"}
	write := func(ctx context.Context, tw *touchpointWriter, seg []int32) error {
		channels := map[int32]string{} // by traffic code; -1 direct
		channelOf := func(code int32) (string, *normalize.Traffic) {
			t := &direct
			if code >= 0 {
				t = &s.traffics.vals[code]
			}
			ch, ok := channels[code]
			if !ok {
				ch = r.opt.Channels.GroupTouch(t.Touch())
				channels[code] = ch
			}
			return ch, t
		}
		for n, i := range seg {
			rec := &recs[i]
			if n%4096 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			if rec.early {
				continue
			}
			switch rec.kind {
			case 0, 1:
				m := &ms[rec.ses]
				if rec.kind == 0 {
					m = &ms[rec.ref]
				}
				f := s.parts.at(m.first)
				ch, t := channelOf(m.traffic)
				tp := touchpoint{id: rec.id, person: rec.person, anon: s.anon(f.anon, f.node), session: hexID("s_", f.sid),
					at: rec.at, channel: ch, traffic: *t, landing: s.strs.val(m.landing), event: "session_start"}
				if rec.kind == 1 {
					x := s.inter.at(rec.ref)
					tp.landing, tp.event = s.strs.val(x.path), s.strs.val(x.name)
				}
				tw.write(&tp)
			case 2:
				t := s.touches.at(rec.ref)
				sh := &s.shapeVals[t.shape]
				tw.write(&touchpoint{id: rec.id, person: rec.person, anon: s.anon(sh.anon, t.node), at: t.at,
					channel: s.strs.val(sh.channel), traffic: s.traffics.vals[sh.traffic], landing: s.strs.val(sh.landing),
					event: s.strs.val(sh.event)})
			case 3: // a stored touch: for the journeys only, its row is the warehouse's
				h := &s.hist.touches[rec.ref]
				tw.write(&touchpoint{id: rec.id, person: rec.person, at: h.at, channel: s.strs.val(h.channel),
					traffic: normalize.Traffic{Campaign: s.strs.val(h.campaign), Term: s.strs.val(h.term)}})
			}
		}
		return nil
	}
	segs := [][]int32{tpOrder}
	if parts := min(runtime.GOMAXPROCS(0), len(tpOrder)/minTouchpointSpan); parts > 1 {
		segs = segs[:0]
		from := 0
		for k := 1; k < parts; k++ {
			cut := max(from, len(tpOrder)*k/parts)
			cut = int(start[recs[tpOrder[cut]].person]) // the person's first touch
			if cut > from {
				segs = append(segs, tpOrder[from:cut])
				from = cut
			}
		}
		segs = append(segs, tpOrder[from:])
	}
	writers := make([]*touchpointWriter, len(segs))
	for k := range segs {
		writers[k] = newTouchpointWriter(r, p)
		writers[k].keep = keep
	}
	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for k, seg := range segs {
		g.Go(func(ctx context.Context) error { return write(ctx, writers[k], seg) })
	}
	bts := make([]*bigTable, len(writers))
	for k, w := range writers {
		bts[k] = w.t
	}
	var err error
	if res.touchpoints, res.touchpointsSpilled, err = joinSpans(r, load.FctTouchpoint, bts, g.Wait()); err != nil {
		return nil, err
	}
	res.touches = writers[0].touches
	for _, w := range writers[1:] {
		res.touches.join(w.touches)
	}

	// Conversions of events: their ids (duplicates kept distinct), by time.
	dup := map[uint64]int{}
	slices.SortFunc(s.convs, func(a, b eventConversion) int {
		return cmp.Or(cmp.Compare(a.id, b.id), cmp.Compare(a.value, b.value), strings.Compare(a.currency, b.currency))
	})
	for i := range s.convs {
		c := &s.convs[i]
		n := dup[c.id]
		dup[c.id]++
		c.id = hashParts("event", c.anon, strconv.FormatInt(c.at, 10), c.name, strconv.Itoa(n))
	}
	for i := range s.hist.convs {
		c := s.hist.convs[i]
		if c.node = stored.node(0, s.hist.persons[i]); c.node >= 0 {
			s.convs = append(s.convs, c)
		} else {
			s.hist.dropped++
		}
	}
	slices.SortFunc(s.convs, func(a, b eventConversion) int { return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.id, b.id)) })
	res.conversions = s.convs
	res.activity = s.act.byPerson(p)
	for code, at := range s.hist.lastSeen {
		if n := stored.node(0, code); n >= 0 {
			res.activity.lastSeen.see(p.Of(n), at)
		}
	}
	if s.hist.dropped > 0 {
		r.opt.Logger.Warn("stored rows whose identifiers the warehouse no longer holds were left out (run once with --full-refresh)",
			"rows", s.hist.dropped)
	}
	return res, nil
}

// mayConvert says which persons' touches the attribution step may read (nil: all).
// With rule-based models only, those of persons who may convert: a CRM record, a
// conversion event, a stored conversion; under ScopeAccount, those of an account too
// (ScopeDeal's are contacts). Data-driven models fit on every person's path,
// converting or not.
func (s *Stream) mayConvert(id *stitched, stored *storedNodes) []bool {
	for _, m := range s.r.opt.Models {
		if _, ok := m.(attribution.DataDriven); ok {
			return nil
		}
	}
	keep := make([]bool, id.persons.Len())
	mark := func(n int32) {
		if p := id.persons.Of(n); p >= 0 {
			keep[p] = true
		}
	}
	for _, n := range id.contacts {
		mark(n)
	}
	if s.r.has(ScopeAccount) && id.accounts != nil {
		for p, a := range id.accounts.person {
			if a != 0 {
				keep[p] = true
			}
		}
	}
	for _, n := range id.deals {
		mark(n)
	}
	for i := range s.convs {
		mark(s.convs[i].node)
	}
	for i := range s.hist.convs {
		if n := stored.node(0, s.hist.persons[i]); n >= 0 {
			mark(n)
		}
	}
	return keep
}

// minTouchpointSpan is the fewest touchpoints worth a writer of their own (a variable
// for tests).
var minTouchpointSpan = 1 << 16

// byPerson is a's activity of devices as activity of their persons.
func (a activity) byPerson(p *identity.Persons) activity {
	out := newActivity(true)
	a.into(out, p.Of)
	return out
}

// finish runs the steps after the events.
func (s *Stream) finish(ctx context.Context, in Inputs, out *Output) error {
	r := s.r
	cols := &columns{mem: r.opt.Mem}
	defer cols.release()
	crm := &crmCols{contacts: readContacts(cols, in.Contacts), deals: readDeals(cols, in.Deals),
		dealContacts: readDealContacts(cols, in.DealContacts), accounts: readAccounts(cols, in.Accounts)}
	st := &out.Stats

	id, err := step(ctx, r, "identity", func() (*stitched, error) {
		id, err := s.stitch(crm)
		if err == nil {
			id.accounts = assignAccounts(r, crm, id)
		}
		return id, err
	})
	if err != nil {
		return err
	}
	out.Tables[load.IdentityConflicts] = conflicts(r.opt.Mem, id.persons)
	if _, err := s.keep(out, load.IdentityEdge, edges(r.opt.Mem, id.graph)); err != nil {
		return err
	}
	// An incremental run's warehouse rows hold the person ids its last run wrote (the
	// stored bridge_identity's): only those can need re-pointing.
	var stored func(string) bool
	if s.hist.personOf != nil {
		codes := map[int32]bool{}
		for _, c := range s.hist.personOf {
			codes[c] = true
		}
		stored = func(id string) bool { c := s.strs.lookup(id); return c >= 0 && codes[c] }
	}
	out.Aliases = aliases(r.opt.Mem, id.persons, stored)
	st.Events, st.CRMCookies = s.events, id.cookies
	st.Persons, st.Identifiers = id.persons.Len(), id.graph.Len()
	st.IdentityEdges, st.IdentityConflicts = id.persons.EdgeCount(), len(id.persons.Conflicts())

	var pushed *Pushed
	if r.opt.Pushdown != nil {
		if pushed, err = step(ctx, r, "pushdown sessions", func() (*Pushed, error) { return s.pushSessions(ctx, id) }); err != nil {
			return err
		}
	}
	ses, err := step(ctx, r, "sessions", func() (*sessionized, error) { return s.finishSessions(ctx, id) })
	if err != nil {
		return err
	}
	st.EventRows, st.Sessions = s.rows, ses.sessions
	st.Touchpoints = out.put(load.FctTouchpoint, ses.touchpoints, ses.touchpointsSpilled)
	if pushed != nil { // the engine's rows are in its tables
		st.Events += pushed.Events - pushed.IdentifierRows
		st.EventRows.Identify -= pushed.IdentifierRows
		st.Sessions += pushed.Sessions
		st.Touchpoints += pushed.Touchpoints
	}
	s.parts, s.inter, s.touches = chunked[sessionRec]{}, chunked[interRec]{}, chunked[touchRec]{}
	s.shapes, s.shapeVals = nil, nil
	s.act = activity{}
	_, err = step(ctx, r, "page views", func() (struct{}, error) {
		m := &pageMapper{mem: r.opt.Mem, persons: id.persons, sessions: ses.moved}
		pv, sp, err := s.pages.finish(m.batch)
		if err != nil {
			return struct{}{}, err
		}
		st.PageViews = out.put(load.FctPageView, pv, sp)
		if pushed != nil {
			st.PageViews += pushed.PageViews
		}
		return struct{}{}, nil
	})
	if err != nil {
		return err
	}

	cv, err := step(ctx, r, "conversions", func() (*conversions, error) {
		cv := collectConversions(r, crm, id, id.accounts, ses.conversions)
		var err error
		st.Conversions, err = s.keep(out, load.FctConversion, conversionTable(r, cv, id.persons))
		return cv, err
	})
	if err != nil {
		return err
	}

	if merged := s.hist.merged(id.persons); len(merged) > 0 {
		// Older conversions of persons an identity merge reached have other journeys
		// now: their days' credits are written again.
		earliest := r.from
		for i, p := range cv.person {
			if merged[p] {
				earliest = min(earliest, cv.at[i])
			}
		}
		if earliest < r.from {
			day := time.UnixMicro(earliest).UTC().Truncate(24 * time.Hour)
			r.attrFrom, st.AttributionFrom = day.UnixMicro(), day
		}
	}
	attr, err := step(ctx, r, "attribution", func() (*attributed, error) {
		if r.opt.Pushdown != nil {
			return pushAttribute(ctx, r, ses.touches, cv, id.persons)
		}
		return attribute(ctx, r, ses.touches, cv, id.persons)
	})
	if err != nil {
		return err
	}
	out.put(load.FctAttribution, attr.credits, attr.creditsSpilled)
	out.Tables[load.FctMarkovRemovalEffect] = attr.removalEffects
	st.Journeys, st.ConversionsWithoutTouch = attr.journeys, attr.withoutTouch

	ps, err := step(ctx, r, "persons", func() (*personTables, error) {
		ps, err := persons(r, id, &ses.activity, cv, crm.contacts)
		if err == nil {
			ps.accounts = accountTable(r, id.accounts, crm.accounts)
		}
		return ps, err
	})
	if err != nil {
		return err
	}
	out.put(load.DimPerson, ps.dim, ps.dimSpilled)
	out.put(load.BridgeIdentity, ps.bridge, ps.bridgeSpilled)
	out.Tables[load.DimAccount] = ps.accounts

	sp, err := step(ctx, r, "spend", func() (arrow.Table, error) {
		return spend(r, readSpend(cols, in.Spend)), nil
	})
	if err != nil {
		return err
	}
	out.Tables[load.FctSpend] = sp
	st.SpendRows = int(sp.NumRows())

	ds, err := step(ctx, r, "deal stages", func() (arrow.Table, error) {
		if in.DealStages == nil {
			return newTable(r.opt.Mem, load.FctDealStage).table(), nil
		}
		return dealStages(r, readDealStages(cols, in.DealStages), crm.deals, id), nil
	})
	if err != nil {
		return err
	}
	if _, err := s.keep(out, load.FctDealStage, ds); err != nil {
		return err
	}
	// What the loads still read of the persons is their numbers and ids, not the
	// identifier graph (spilled page views find their persons as they are read back).
	id.persons.ForgetGraph()
	if first := r.first.Load(); first != math.MaxInt64 {
		st.FirstWritten = time.UnixMicro(first).UTC()
	}
	if s.firstEvent != math.MaxInt64 {
		st.FirstEvent = time.UnixMicro(s.firstEvent).UTC()
	}
	return nil
}

// keep puts table t (released) in out: past Options.SpillBytes in a temporary file
// (Output.Spilled), so that the loads that follow have its memory. It returns the
// table's rows.
func (s *Stream) keep(out *Output, name string, t arrow.Table) (int, error) {
	st := newSpillStore(s.r, name, t.Schema())
	tr := array.NewTableReader(t, batchRows)
	var err error
	for err == nil && tr.Next() {
		err = st.add(tr.RecordBatch())
	}
	tr.Release()
	t.Release()
	if err != nil {
		st.release()
		return 0, err
	}
	tbl, sp, err := st.finish(nil)
	if err != nil {
		return 0, err
	}
	if tbl == nil && sp == nil { // no rows
		tbl = Empty(s.r.opt.Mem, schemaOf(name))
	}
	return out.put(name, tbl, sp), nil
}

// stitch adds the CRM records to the graph the events built and resolves it into
// persons.
func (s *Stream) stitch(crm *crmCols) (*stitched, error) {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	id := &stitched{graph: s.graph}
	// Before any contact adds its cookie to the graph: which stored cookies did the
	// analytics events carry?
	id.cookies = cookieLinks(id.graph, s.analytics, crm.contacts)
	if err := id.addContacts(crm.contacts); err != nil {
		return nil, err
	}
	primary := primaryContacts(crm.dealContacts)
	if err := id.addDeals(crm.deals, primary); err != nil {
		return nil, err
	}
	s.hist.addStoredDeals(id.graph, primary)
	id.persons = id.graph.Resolve(s.r.opt.IdentityLimits)
	return id, nil
}

// step runs one step: it stops first if ctx is done, names the step in its error and
// logs its time (and tells Options.Stage).
func step[T any](ctx context.Context, r *run, name string, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	t0 := time.Now()
	v, err := fn()
	if err != nil {
		return zero, fmt.Errorf("transform: %s: %w", name, err)
	}
	d := time.Since(t0)
	r.opt.Logger.Debug("transform step", "step", name, "seconds", d.Seconds())
	r.stage(name, d)
	return v, nil
}
