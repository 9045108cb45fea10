// Package transform turns the canonical input tables of a run (package extract) into
// the warehouse tables (package load): identity stitching, sessions and touchpoints,
// conversions, journeys and attribution, persons and spend.
//
// Build is a plain function over Arrow tables. Inside, identifiers are hashed to
// integers and repeated strings (channels, campaigns) dictionary-encoded; per-row work
// reads Arrow columns directly and writes Arrow builders, so memory stays proportional
// to the columns plus a few integers per event.
package transform

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/zeebo/xxh3"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/channel"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
	"closedloop/transform/persona"
)

// SalesChannelPrefix starts the channel of every selling activity ("Sales: Call").
const SalesChannelPrefix = "Sales: "

// Options configures Build.
type Options struct {
	Mem memory.Allocator
	// Range is the run's date range: only its days' rows of the date-keyed tables are
	// produced; journeys still look back past its start.
	Range extract.Range
	// Lookback is how far before a conversion its journey reaches.
	Lookback time.Duration
	// SessionTimeout ends a session of a source without session ids after this much
	// inactivity.
	SessionTimeout time.Duration
	// Models are the attribution models to run.
	Models []attribution.Model
	// OverlapJourneys lets every conversion look back the whole window; by default the
	// journey of a repeated conversion of one type starts after the previous one.
	OverlapJourneys bool
	// IdentityLimits cap the identifiers of each type one person may hold (guardrails);
	// the zero value means identity.DefaultLimits.
	IdentityLimits identity.Limits
	// Identity configures the identity graph (hashed e-mails, blocked values).
	Identity identity.Options
	// Channels groups touches and spend rows: a user's rules (CLOSEDLOOP_CHANNEL_RULES)
	// before or instead of GA4's default channel group; nil is GA4's default.
	Channels *channel.Grouper
	// AttributeSalesTouches lets selling activities (touches of a "Sales: " channel,
	// written by the CRM extractors) take part in attribution; by default they are
	// kept in fct_touchpoint for the funnel and sales views but credited nothing.
	AttributeSalesTouches bool
	// TouchEvents are event names (tracked interactions such as form_submit,
	// file_download, demo_request) that are touches of their own besides the session's:
	// each becomes a touchpoint at its time, with its session's traffic and channel and
	// the event name in fct_touchpoint.event.
	TouchEvents []string
	// KeepSessionOnCampaignChange keeps a session of a source without session ids
	// open when an event brings other campaign information; by default such an event
	// starts a new session (as Universal Analytics did), so each campaign is a touch.
	KeepSessionOnCampaignChange bool
	// MicroConversions are event names that count as conversions of their own type
	// (GA4 key events such as generate_lead or sign_up), valued by the event's value.
	MicroConversions []string
	// Personas are the user's persona rules (CLOSEDLOOP_PERSONAS), read on every
	// person's CRM fields and behaviour for dim_person.persona; nil leaves everyone
	// Unclassified.
	Personas *persona.Rules
	// Currency is the reporting currency, used for deals without one.
	Currency string
	Logger   *slog.Logger
}

// Inputs are the canonical tables of the run (schemas of package extract).
type Inputs struct {
	Events, Contacts, Deals, DealContacts, Spend arrow.Table
	// DealStages is the CRMs' deal stage history; nil means none.
	DealStages arrow.Table
}

// Output holds one table per warehouse table of load.Tables (run_log and rejected_rows
// excepted: the runner writes those). Release frees them.
type Output struct {
	Tables map[string]arrow.Table
	Stats  Stats
	// Aliases (schema AliasSchema) maps person ids an earlier run may have written to
	// the person each now belongs to: a loader re-points the person_id of rows outside
	// the run's range with it, so a cookie identified today moves its old touches to
	// its person. Not a warehouse table.
	Aliases arrow.Table
}

// AliasSchema is the schema of Output.Aliases.
var AliasSchema = arrow.NewSchema([]arrow.Field{
	{Name: "alias_id", Type: arrow.BinaryTypes.String},
	{Name: "person_id", Type: arrow.BinaryTypes.String},
}, nil)

// Stats are the counts of one Build, for run_log and the report.
type Stats struct {
	Events, Sessions, Touchpoints, PageViews int
	// EventRows splits Events (every row of Inputs.Events, all days) by what it
	// became: it reconciles with the extractors' rows read minus their rejections.
	EventRows                                 EventRows
	Conversions, ConversionsWithoutTouch      int
	Persons, Identifiers, Journeys, SpendRows int
	IdentityEdges, IdentityConflicts          int
	// CRMCookies counts, per CRM ("hubspot", "salesforce"), the cookie ids stored on
	// its records and how many of them the run's analytics events carry; nil when the
	// run read no analytics cookie at all.
	CRMCookies map[string]*CookieLinks
}

// CookieLinks tells whether the cookie ids stored on a CRM's records are the ids its
// analytics sources export: few links mean the property holds something else.
type CookieLinks struct {
	Stored, Linked int
	// Unlinked holds a few stored values no analytics event carries, and Analytics a
	// few ids the events do carry, to show what each looks like.
	Unlinked, Analytics []string
}

// maxCookieExamples bounds CookieLinks' examples.
const maxCookieExamples = 3

// EventRows counts the analytics rows of one Build by their use; the fields add up to
// Stats.Events.
type EventRows struct {
	PageViews    int `json:"page_views"`   // page or screen views (fct_page_view, session starts)
	Touches      int `json:"touches"`      // touch-log rows: a touchpoint each
	Interactions int `json:"interactions"` // Options.TouchEvents events: a touchpoint each
	Other        int `json:"other"`        // other events: they open and feed sessions only
	Identify     int `json:"identify"`     // identify / alias rows: identity only
	Unlinked     int `json:"unlinked"`     // rows whose identifiers were all refused or blocked
}

// Release frees every table.
func (o *Output) Release() {
	for _, t := range o.Tables {
		t.Release()
	}
	o.Tables = nil
	if o.Aliases != nil {
		o.Aliases.Release()
		o.Aliases = nil
	}
}

const usPerSec = int64(time.Second / time.Microsecond)

// Build runs every transform.
func Build(ctx context.Context, in Inputs, opt Options) (*Output, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.IdentityLimits == (identity.Limits{}) {
		opt.IdentityLimits = identity.DefaultLimits
	}
	b := &builder{opt: opt, cols: columns{mem: opt.Mem}, g: identity.New(opt.Identity),
		channels: newDict(), campaigns: newDict(), terms: newDict(), types: newDict(), currencies: newDict(), deals: newDict(),
		rangeFrom: opt.Range.Start().UnixMicro(), rangeEnd: opt.Range.End().UnixMicro(),
		out: map[string]arrow.Table{}}
	defer b.cols.release()
	steps := []struct {
		name string
		fn   func(context.Context, Inputs) error
	}{
		{"identity", b.stitch},
		{"sessions", b.sessions},
		{"conversions", b.conversions},
		{"attribution", b.attribute},
		{"persons", b.persons},
		{"spend", b.spend},
		{"deal stages", b.dealStages},
	}
	for _, s := range steps {
		if err := ctx.Err(); err != nil {
			b.release()
			return nil, err
		}
		t0 := time.Now()
		if err := s.fn(ctx, in); err != nil {
			b.release()
			return nil, fmt.Errorf("transform: %s: %w", s.name, err)
		}
		opt.Logger.Debug("transform step", "step", s.name, "seconds", time.Since(t0).Seconds())
	}
	for _, t := range load.Tables { // tables no step produced yet exist empty
		if _, ok := b.out[t.Name]; !ok && t.Mode != load.Append {
			b.out[t.Name] = newOut(opt.Mem, t.Schema).table()
		}
	}
	return &Output{Tables: b.out, Stats: b.stats, Aliases: b.aliasTable}, nil
}

type builder struct {
	opt        Options
	aliasTable arrow.Table
	cols       columns
	g          *identity.Graph
	p          *identity.Persons
	stats      Stats
	out        map[string]arrow.Table

	rangeFrom, rangeEnd int64

	// events
	evNode []int32 // per event: its key identifier node (cookie, else user id, else e-mail)

	// contacts and deals
	contactNode []int32
	dealNode    map[string]int32 // deal id -> node
	dealContact map[string]string

	// touches, one entry per touchpoint (all days, for journeys)
	tPerson                       []int32
	tAt                           []int64
	tID                           []uint64
	tChannel, tCampaign, tTerm    []int32
	channels, campaigns, terms    *dict
	types, currencies, deals      *dict
	cPerson                       []int32
	cAt                           []int64
	cID                           []uint64
	cType, cCurrency, cDeal       []int32
	cRevenue                      []float64 // NaN = unknown
	lastSeen                      map[int32]int64
	personStage                   map[int32]int
	personCustomer                map[int32]bool
	crmTypeOfContact, crmOfPerson map[int32]string
	seen                          behaviour // what the persona rules read, per person
}

func (b *builder) release() {
	for _, t := range b.out {
		t.Release()
	}
	b.out = nil
	if b.aliasTable != nil {
		b.aliasTable.Release()
		b.aliasTable = nil
	}
}

func (b *builder) inRange(us int64) bool { return us >= b.rangeFrom && us < b.rangeEnd }

func hexID(prefix string, h uint64) string { return prefix + strconv.FormatUint(h, 16) }

func hashParts(parts ...string) uint64 {
	return xxh3.HashString(strings.Join(parts, "\x00"))
}

// stitch builds the identity graph from events, contacts and deals.
func (b *builder) stitch(_ context.Context, in Inputs) error {
	ev := in.Events
	at := b.cols.ts(ev, "occurred_at")
	anon, user, email := b.cols.str(ev, "anonymous_id"), b.cols.str(ev, "user_id"), b.cols.str(ev, "email")
	record := b.cols.str(ev, "crm_record")
	n := at.Len()
	b.stats.Events = n
	b.evNode = make([]int32, n)
	// Events come grouped by cookie and session: remembering the last value of each
	// column saves most graph lookups.
	var ma, mu, me memo
	for i := 0; i < n; i++ {
		t := int64(at.Value(i))
		a := ma.node(b.g, identity.AnonymousID, sv(anon, i), t)
		u := mu.node(b.g, identity.UserID, sv(user, i), t)
		e := me.node(b.g, identity.Email, sv(email, i), t)
		b.g.Edge(a, u, identity.EventUserID, t)
		b.g.Edge(a, e, identity.EventEmail, t)
		b.g.Edge(u, e, identity.EventEmail, t)
		c := int32(-1)
		if record.IsValid(i) { // a CRM activity: its record, with what else it names
			rt, rv, _ := strings.Cut(record.Value(i), ":")
			if typ, err := identity.ParseType(rt); err == nil {
				c = b.g.Node(typ, rv, t)
				b.g.Edge(c, e, identity.CRMEmail, t)
				b.g.Edge(c, a, identity.CRMCookie, t)
			}
		}
		switch {
		case a >= 0:
			b.evNode[i] = a
		case u >= 0:
			b.evNode[i] = u
		case e >= 0:
			b.evNode[i] = e
		default:
			b.evNode[i] = c // -1 when the event has no id: extractors reject those
		}
	}

	var analytics []string // a few cookie ids the events carry
	for i := 0; i < n && len(analytics) < maxCookieExamples; i++ {
		if v := sv(anon, i); v != "" && !slices.Contains(analytics, v) {
			analytics = append(analytics, strings.Clone(v))
		}
	}

	ct := in.Contacts
	crm, cid := b.cols.str(ct, "crm"), b.cols.str(ct, "contact_id")
	cemail, cookie, linked := b.cols.str(ct, "email"), b.cols.str(ct, "cookie_id"), b.cols.str(ct, "linked_ids")
	created := b.cols.ts(ct, "created_at")
	b.contactNode = make([]int32, cid.Len())
	b.crmTypeOfContact = map[int32]string{}
	// Before any contact adds its cookie to the graph: which stored cookies did the
	// analytics events carry?
	for i := 0; i < cid.Len() && len(analytics) > 0; i++ {
		v := sv(cookie, i)
		if v == "" {
			continue
		}
		if b.stats.CRMCookies == nil {
			b.stats.CRMCookies = map[string]*CookieLinks{}
		}
		l := b.stats.CRMCookies[crm.Value(i)]
		if l == nil {
			l = &CookieLinks{Analytics: analytics}
			b.stats.CRMCookies[crm.Value(i)] = l
		}
		l.Stored++
		if b.g.Lookup(identity.AnonymousID, v) >= 0 {
			l.Linked++
		} else if len(l.Unlinked) < maxCookieExamples {
			l.Unlinked = append(l.Unlinked, strings.Clone(v))
		}
	}
	for i := 0; i < cid.Len(); i++ {
		typ, err := identity.CRMRecordType(crm.Value(i), cid.Value(i))
		if err != nil {
			return err
		}
		t := tv(created, i)
		c := b.g.Node(typ, cid.Value(i), t)
		b.g.Edge(c, b.g.Node(identity.Email, sv(cemail, i), t), identity.CRMEmail, t)
		b.g.Edge(c, b.g.Node(identity.AnonymousID, sv(cookie, i), 0), identity.CRMCookie, t)
		if linked.IsValid(i) {
			for _, l := range strings.Split(linked.Value(i), ";") {
				lt, lv, ok := strings.Cut(strings.TrimSpace(l), ":")
				typ, err := identity.ParseType(lt)
				if !ok || err != nil {
					continue // extractors write only known types
				}
				b.g.Edge(c, b.g.Node(typ, lv, t), identity.CRMLink, t)
			}
		}
		b.contactNode[i] = c
		b.crmTypeOfContact[c] = crm.Value(i)
	}

	// A deal joins its primary contact: the one marked is_primary, else the associated
	// contact with the smallest id. Other contacts of the deal stay separate persons
	// (two buyers are two people).
	dc := in.DealContacts
	dcCRM, dcDeal, dcContact := b.cols.str(dc, "crm"), b.cols.str(dc, "deal_id"), b.cols.str(dc, "contact_id")
	dcPrimary := b.cols.bool(dc, "is_primary")
	b.dealContact = map[string]string{}
	primary := map[string]bool{}
	for i := 0; i < dcDeal.Len(); i++ {
		k := dcCRM.Value(i) + ":" + dcDeal.Value(i)
		p := dcPrimary.IsValid(i) && dcPrimary.Value(i)
		cur, ok := b.dealContact[k]
		if !ok || (p && !primary[k]) || (p == primary[k] && contactLess(dcContact.Value(i), cur)) {
			b.dealContact[k], primary[k] = dcContact.Value(i), p
		}
	}
	dl := in.Deals
	dCRM, did, dcreated := b.cols.str(dl, "crm"), b.cols.str(dl, "deal_id"), b.cols.ts(dl, "created_at")
	b.dealNode = map[string]int32{}
	for i := 0; i < did.Len(); i++ {
		k := dCRM.Value(i) + ":" + did.Value(i)
		d := b.g.Node(identity.CRMDeal, k, tv(dcreated, i))
		b.dealNode[k] = d
		if contact, ok := b.dealContact[k]; ok {
			typ, err := identity.CRMRecordType(dCRM.Value(i), contact)
			if err != nil {
				return err
			}
			b.g.Edge(d, b.g.Lookup(typ, contact), identity.DealContact, tv(dcreated, i))
		}
	}
	b.p = b.g.Resolve(b.opt.IdentityLimits)
	b.stats.Persons, b.stats.Identifiers = b.p.Len(), b.g.Len()
	b.stats.IdentityEdges, b.stats.IdentityConflicts = b.p.EdgeCount(), len(b.p.Conflicts())
	b.conflicts()
	b.aliases()
	return nil
}

// memo remembers the node of the last value looked up.
type memo struct {
	val   string
	n     int32
	first int64
	ok    bool
}

// node is g.Node with the last answer remembered; a repeat only lowers first seen.
func (m *memo) node(g *identity.Graph, t identity.Type, v string, at int64) int32 {
	if m.ok && v == m.val && at >= m.first {
		return m.n
	}
	m.val, m.n, m.first, m.ok = v, g.Node(t, v, at), at, true
	return m.n
}

// conflicts writes identity_conflicts: the edges the guardrails refused.
func (b *builder) conflicts() {
	cs, _ := load.Lookup(load.IdentityConflicts)
	o := newOut(b.opt.Mem, cs.Schema)
	for _, c := range b.p.Conflicts() {
		at, av, _ := b.p.Node(c.A)
		bt, bv, _ := b.p.Node(c.B)
		o.str(0, at.String())
		o.str(1, av)
		o.str(2, bt.String())
		o.str(3, bv)
		o.str(4, c.Reason())
	}
	b.out[load.IdentityConflicts] = o.table()
}

// aliases builds the person-id aliases the loader re-points older rows with (see
// Output.Aliases).
func (b *builder) aliases() {
	o := newOut(b.opt.Mem, AliasSchema)
	seen := map[string]bool{}
	b.p.Aliases(func(alias, id string) {
		if !seen[alias] {
			seen[alias] = true
			o.str(0, alias)
			o.str(1, id)
		}
	})
	b.aliasTable = o.table()
}

// contactLess orders CRM ids numerically when both are numbers, else as strings.
func contactLess(a, b string) bool {
	ai, errA := strconv.ParseInt(a, 10, 64)
	bi, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return ai < bi
	}
	return a < b
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

// sessions walks every device's events in time order, cuts them into sessions, and
// writes a touchpoint per session (and per touch-log row) and a row per page view.
func (b *builder) sessions(ctx context.Context, in Inputs) error {
	ev := in.Events
	at := b.cols.ts(ev, "occurred_at")
	kind, name := b.cols.str(ev, "kind"), b.cols.str(ev, "event_name")
	anon := b.cols.str(ev, "anonymous_id")
	skey := b.cols.str(ev, "session_key")
	loc, title, ref := b.cols.str(ev, "page_location"), b.cols.str(ev, "page_title"), b.cols.str(ev, "page_referrer")
	us, um, uc := b.cols.str(ev, "utm_source"), b.cols.str(ev, "utm_medium"), b.cols.str(ev, "utm_campaign")
	ut, uco, gclid := b.cols.str(ev, "utm_term"), b.cols.str(ev, "utm_content"), b.cols.str(ev, "gclid")
	givenChannel, record := b.cols.str(ev, "channel"), b.cols.str(ev, "crm_record")
	needs := b.opt.Personas.Needs()
	var link *array.String
	if needs.Downloads {
		link = b.cols.str(ev, "link_url")
	}
	b.seen = newBehaviour()

	touchEvents := make(map[string]bool, len(b.opt.TouchEvents))
	for _, n := range b.opt.TouchEvents {
		touchEvents[n] = true
	}
	rows := &b.stats.EventRows
	order := make([]int32, 0, at.Len())
	for i := range b.evNode {
		k := kind.Value(i)
		switch {
		case b.evNode[i] < 0:
			rows.Unlinked++
			continue
		case k == extract.KindIdentify:
			rows.Identify++
			continue
		case k == extract.KindTouch:
			rows.Touches++
		case touchEvents[name.Value(i)]:
			rows.Interactions++
		case k == extract.KindPageView:
			rows.PageViews++
		default:
			rows.Other++
		}
		order = append(order, int32(i))
	}
	slices.SortFunc(order, func(x, y int32) int {
		if c := b.evNode[x] - b.evNode[y]; c != 0 {
			return int(c)
		}
		if c := int64(at.Value(int(x))) - int64(at.Value(int(y))); c != 0 {
			if c < 0 {
				return -1
			}
			return 1
		}
		return int(x - y)
	})

	tpSchema, _ := load.Lookup(load.FctTouchpoint)
	pvSchema, _ := load.Lookup(load.FctPageView)
	tp, pv := newOut(b.opt.Mem, tpSchema.Schema), newOut(b.opt.Mem, pvSchema.Schema)
	pv.reserve(rows.PageViews + rows.Interactions)
	tp.reserve(rows.Touches + rows.Interactions + rows.PageViews/4)
	// Page URLs repeat: their paths are parsed once (the cache is cleared when large).
	paths := map[string]string{}
	path := func(u string) string {
		p, ok := paths[u]
		if !ok {
			if len(paths) >= 1<<16 {
				clear(paths)
			}
			p = normalize.Path(u)
			paths[u] = p
		}
		return p
	}
	b.lastSeen = map[int32]int64{}
	timeout := b.opt.SessionTimeout.Microseconds()
	// distinct is the id of a touch made of parts; exact duplicates (a row sent twice,
	// the same interaction twice in a second) stay distinct touches.
	dup := map[uint64]int{}
	distinct := func(parts ...string) uint64 {
		base := hashParts(parts...)
		h := base ^ uint64(dup[base])*0x9e3779b97f4a7c15
		dup[base]++
		return h
	}
	lastNode := int32(-1)

	input := func(i int) normalize.Input {
		return normalize.Input{PageLocation: sv(loc, i), Referrer: sv(ref, i),
			UTMSource: sv(us, i), UTMMedium: sv(um, i), UTMCampaign: sv(uc, i), UTMTerm: sv(ut, i),
			UTMContent: sv(uco, i), GCLID: sv(gclid, i)}
	}
	// emit writes one touchpoint and keeps it for journeys.
	emit := func(idHash uint64, person int32, anonID, sessionID string, atUS int64, ch string, t normalize.Traffic, landing, event string) {
		if b.opt.AttributeSalesTouches || !strings.HasPrefix(ch, SalesChannelPrefix) {
			b.journeyTouch(person, atUS, idHash, ch, t)
		}
		if !b.inRange(atUS) {
			return
		}
		b.stats.Touchpoints++
		tp.str(0, hexID("t_", idHash))
		tp.str(1, b.p.ID(person))
		tp.str(2, anonID)
		tp.str(3, sessionID)
		tp.ts(4, atUS)
		tp.str(5, ch)
		tp.str(6, t.Source)
		tp.str(7, t.Medium)
		tp.str(8, t.Campaign)
		tp.str(9, t.Term)
		tp.str(10, t.Content)
		tp.str(11, landing)
		tp.str(12, t.ReferrerHost)
		tp.str(13, event)
	}
	var s session
	closeSession := func() {
		if !s.open {
			return
		}
		s.open = false
		b.stats.Sessions++
		t := s.traffic
		if !s.hasTraffic {
			t = normalize.Traffic{Source: "(direct)", Medium: "(none)"}
		}
		h := hashParts("session", s.anon, s.key, strconv.FormatInt(s.startAt, 10))
		ch := b.opt.Channels.GroupTouch(t.Touch())
		emit(h, s.person, s.anon, s.id, s.startAt, ch, t, s.landing, "session_start")
		for _, x := range s.interactions {
			emit(x.id, s.person, s.anon, s.id, x.at, ch, t, x.path, x.name)
		}
	}

	for n, o := range order {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		i := int(o)
		node := b.evNode[i]
		person := b.p.Of(node)
		atUS := int64(at.Value(i))
		if atUS > b.lastSeen[person] {
			b.lastSeen[person] = atUS
		}
		anonID := sv(anon, i)
		k := kind.Value(i)
		if needs.Events {
			b.seen.add(person, seenEvent, name.Value(i))
		}
		if needs.Downloads && isDownload(name.Value(i)) {
			if l := sv(link, i); l != "" {
				b.seen.add(person, seenDownload, l)
			}
		}

		if k == extract.KindTouch { // a touch-log row: a touch by itself, no session
			closeSession()
			t := normalize.Classify(input(i))
			ch := sv(givenChannel, i)
			if ch == "" {
				ch = b.opt.Channels.GroupTouch(t.Touch())
			}
			if !t.Explicit {
				t.Source, t.Medium = "", ""
			}
			if strings.HasPrefix(ch, SalesChannelPrefix) {
				// A selling activity's source is its owner team, as the CRM names it.
				t.Source, t.Medium = sv(us, i), sv(um, i)
			}
			parts := []string{"touch", anonID, strconv.FormatInt(atUS, 10), name.Value(i), ch}
			if r := sv(record, i); r != "" { // CRM activities have no cookie: their record tells them apart
				parts = append(parts, r)
			}
			emit(distinct(parts...), person, anonID, "", atUS, ch, t, path(sv(loc, i)), name.Value(i))
			continue
		}

		key := sv(skey, i)
		newSession := !s.open || node != lastNode
		if !newSession {
			if key != "" || s.key != "" {
				newSession = key != s.key
			} else {
				newSession = atUS-s.lastAt > timeout
			}
		}
		var t normalize.Traffic
		classified := false
		if !newSession && s.key == "" && !b.opt.KeepSessionOnCampaignChange &&
			(sv(us, i) != "" || sv(gclid, i) != "" || sv(ref, i) != "" || strings.Contains(sv(loc, i), "?")) {
			// without session ids, a new campaign starts a new session
			t, classified = normalize.Classify(input(i)), true
			if t.Explicit && s.hasTraffic && (t.Source != s.traffic.Source || t.Medium != s.traffic.Medium || t.Campaign != s.traffic.Campaign) {
				newSession = true
			}
		}
		if newSession {
			closeSession()
			s = session{open: true, key: key, startAt: atUS, anon: anonID, person: person}
			if key != "" {
				s.id = hexID("s_", hashParts(anonID, key))
			} else {
				s.id = hexID("s_", hashParts(anonID, strconv.FormatInt(atUS, 10)))
			}
		}
		lastNode = node
		s.lastAt = atUS
		if !s.hasTraffic {
			if !classified {
				t = normalize.Classify(input(i))
			}
			if t.Explicit {
				s.traffic, s.hasTraffic = t, true
			}
		}
		if s.landing == "" && sv(loc, i) != "" {
			s.landing = path(sv(loc, i))
		}
		if touchEvents[name.Value(i)] {
			id := distinct("interaction", anonID, strconv.FormatInt(atUS, 10), name.Value(i))
			s.interactions = append(s.interactions, interaction{at: atUS, name: name.Value(i), path: path(sv(loc, i)), id: id})
		}
		if k == extract.KindPageView {
			in := b.inRange(atUS)
			var page string
			if in || needs.Pages {
				page = path(sv(loc, i))
			}
			if needs.Pages && page != "" {
				b.seen.add(person, seenPage, page)
			}
			if in {
				b.stats.PageViews++
				pv.str(0, b.p.ID(person))
				pv.str(1, anonID)
				pv.str(2, s.id)
				pv.ts(3, atUS)
				pv.str(4, sv(loc, i))
				pv.str(5, page)
				pv.str(6, sv(title, i))
				pv.str(7, normalize.Host(sv(ref, i)))
			}
		}
	}
	closeSession()
	b.out[load.FctTouchpoint] = tp.table()
	b.out[load.FctPageView] = pv.table()
	return nil
}

// dealStages writes fct_deal_stage: each deal's stage entries in time order, with the
// time to the next entry, the deal's outcome and its person. Entries of deals the run
// has not read are kept, without outcome or person.
func (b *builder) dealStages(_ context.Context, in Inputs) error {
	if in.DealStages == nil {
		return nil
	}
	ds := in.DealStages
	crm, did, pipe := b.cols.str(ds, "crm"), b.cols.str(ds, "deal_id"), b.cols.str(ds, "pipeline")
	stage, entered := b.cols.str(ds, "stage"), b.cols.ts(ds, "entered_at")
	dl := in.Deals
	dCRM, dID := b.cols.str(dl, "crm"), b.cols.str(dl, "deal_id")
	closed, won := b.cols.bool(dl, "is_closed"), b.cols.bool(dl, "is_won")
	amount, cur := b.cols.f64(dl, "amount"), b.cols.str(dl, "currency")
	deal := map[string]int{}
	for i := 0; i < dID.Len(); i++ {
		deal[dCRM.Value(i)+":"+dID.Value(i)] = i
	}
	order := make([]int, did.Len())
	for i := range order {
		order[i] = i
	}
	key := func(i int) string { return crm.Value(i) + ":" + did.Value(i) }
	slices.SortStableFunc(order, func(x, y int) int {
		if c := strings.Compare(key(x), key(y)); c != 0 {
			return c
		}
		return cmpInt64(int64(entered.Value(x)), int64(entered.Value(y)))
	})
	spec, _ := load.Lookup(load.FctDealStage)
	o := newOut(b.opt.Mem, spec.Schema)
	number := 0
	for n, i := range order {
		if n == 0 || key(i) != key(order[n-1]) {
			number = 0
		}
		number++
		k := key(i)
		at := int64(entered.Value(i))
		o.str(0, crm.Value(i))
		o.str(1, did.Value(i))
		person := ""
		if node, ok := b.dealNode[k]; ok {
			person = b.p.ID(b.p.Of(node))
		}
		o.str(2, person)
		o.str(3, sv(pipe, i))
		o.str(4, stage.Value(i))
		o.i64(5, int64(number))
		o.ts(6, at)
		last := n+1 == len(order) || key(order[n+1]) != k
		if last {
			o.ts(7, 0)
			o.f64(8, 0, false)
		} else {
			next := int64(entered.Value(order[n+1]))
			o.ts(7, next)
			o.f64(8, float64(next-at)/float64(24*3600*usPerSec), true)
		}
		o.bool(9, last)
		d, ok := deal[k]
		o.bool(10, ok && closed.Value(d))
		o.bool(11, ok && won.Value(d))
		if ok {
			o.f64(12, amount.Value(d), amount.IsValid(d))
			o.str(13, sv(cur, d))
		} else {
			o.f64(12, 0, false)
			o.str(13, "")
		}
	}
	b.out[load.FctDealStage] = o.table()
	return nil
}

// journeyTouch keeps a touchpoint for journeys (all days, not only the range's).
func (b *builder) journeyTouch(person int32, atUS int64, idHash uint64, ch string, t normalize.Traffic) {
	b.tPerson = append(b.tPerson, person)
	b.tAt = append(b.tAt, atUS)
	b.tID = append(b.tID, idHash)
	b.tChannel = append(b.tChannel, b.channels.code(ch))
	b.tCampaign = append(b.tCampaign, b.campaigns.code(t.Campaign))
	b.tTerm = append(b.tTerm, b.terms.code(t.Term))
}

// CRM milestones in funnel order; the index is the lifecycle rank.
var milestones = []string{"lead", "mql", "sql", "opportunity", "customer"}

func stageRank(s string) int {
	for i, m := range milestones {
		if m == s {
			return i
		}
	}
	return -1
}

// conversions collects CRM milestones, deals and touch-log conversions.
func (b *builder) conversions(_ context.Context, in Inputs) error {
	b.personStage, b.personCustomer = map[int32]int{}, map[int32]bool{}
	add := func(person int32, atUS int64, typ string, revenue float64, currency, deal string, idParts ...string) {
		if atUS == 0 || person < 0 {
			return
		}
		b.cPerson = append(b.cPerson, person)
		b.cAt = append(b.cAt, atUS)
		b.cID = append(b.cID, hashParts(idParts...))
		b.cType = append(b.cType, b.types.code(typ))
		b.cRevenue = append(b.cRevenue, revenue)
		b.cCurrency = append(b.cCurrency, b.currencies.code(currency))
		b.cDeal = append(b.cDeal, b.deals.code(deal))
		if r := stageRank(typ) + 1; r > b.personStage[person] { // 0 = no stage
			b.personStage[person] = r
		}
		if typ == "customer" {
			b.personCustomer[person] = true
		}
		if atUS > b.lastSeen[person] {
			b.lastSeen[person] = atUS
		}
	}
	nan := math.NaN()

	// Deals: opportunity at creation, customer when won (revenue = amount).
	dl := in.Deals
	dCRM, did, dAmount, dCur := b.cols.str(dl, "crm"), b.cols.str(dl, "deal_id"), b.cols.f64(dl, "amount"), b.cols.str(dl, "currency")
	dCreated, dClosed, dWon := b.cols.ts(dl, "created_at"), b.cols.ts(dl, "closed_at"), b.cols.bool(dl, "is_won")
	for i := 0; i < did.Len(); i++ {
		k := dCRM.Value(i) + ":" + did.Value(i)
		person := b.p.Of(b.dealNode[k])
		cur := sv(dCur, i)
		if cur == "" {
			cur = b.opt.Currency
		}
		add(person, tv(dCreated, i), "opportunity", nan, cur, did.Value(i), "crm", k, "opportunity")
		if dWon.Value(i) {
			closed := tv(dClosed, i)
			if closed == 0 {
				closed = tv(dCreated, i)
			}
			amount := nan
			if dAmount.IsValid(i) {
				amount = dAmount.Value(i)
			}
			add(person, closed, "customer", amount, cur, did.Value(i), "crm", k, "customer")
		}
	}

	// Contacts: lead (lead date, else creation), mql, sql; opportunity and customer
	// only for contacts associated with no deal the run read. CRMs copy a deal's
	// lifecycle dates onto every contact on it (HubSpot's lifecycle sync, Salesforce
	// contact roles), so those dates on a deal's second contact are the same deal
	// again: the deal's own conversions stand for all of its contacts.
	hasDeal := b.dealAssociated(in)
	ct := in.Contacts
	crm, cid := b.cols.str(ct, "crm"), b.cols.str(ct, "contact_id")
	created := b.cols.ts(ct, "created_at")
	stages := []*array.Timestamp{b.cols.ts(ct, "lead_at"), b.cols.ts(ct, "mql_at"), b.cols.ts(ct, "sql_at"),
		b.cols.ts(ct, "opportunity_at"), b.cols.ts(ct, "customer_at")}
	for i := 0; i < cid.Len(); i++ {
		person := b.p.Of(b.contactNode[i])
		k := crm.Value(i) + ":" + cid.Value(i)
		for r, col := range stages {
			atUS := tv(col, i)
			if r == 0 && atUS == 0 {
				atUS = tv(created, i)
			}
			if r >= 3 && hasDeal[k] {
				continue
			}
			add(person, atUS, milestones[r], nan, "", "", "crm", k, milestones[r])
		}
	}

	// Touch-log (and micro-) conversions: the event's own name is the type.
	ev := in.Events
	isConv, at, name := b.cols.bool(ev, "is_conversion"), b.cols.ts(ev, "occurred_at"), b.cols.str(ev, "event_name")
	anon, val, cur := b.cols.str(ev, "anonymous_id"), b.cols.f64(ev, "conversion_value"), b.cols.str(ev, "currency")
	dup := map[uint64]int{}
	micro := map[string]bool{}
	for _, m := range b.opt.MicroConversions {
		micro[m] = true
	}
	for i := 0; i < isConv.Len(); i++ {
		if !(isConv.Value(i) || len(micro) > 0 && micro[name.Value(i)]) || b.evNode[i] < 0 {
			continue
		}
		v := nan
		if val.IsValid(i) {
			v = val.Value(i)
		}
		c := sv(cur, i)
		if c == "" {
			c = b.opt.Currency
		}
		atUS := int64(at.Value(i))
		base := hashParts("event", sv(anon, i), strconv.FormatInt(atUS, 10), name.Value(i))
		n := dup[base]
		dup[base]++
		add(b.p.Of(b.evNode[i]), atUS, name.Value(i), v, c, "", "event", sv(anon, i), strconv.FormatInt(atUS, 10), name.Value(i), strconv.Itoa(n))
	}

	cs, _ := load.Lookup(load.FctConversion)
	o := newOut(b.opt.Mem, cs.Schema)
	for i := range b.cID {
		if !b.inRange(b.cAt[i]) {
			continue
		}
		b.stats.Conversions++
		o.str(0, hexID("c_", b.cID[i]))
		o.str(1, b.p.ID(b.cPerson[i]))
		o.ts(2, b.cAt[i])
		o.str(3, b.types.val(b.cType[i]))
		o.f64(4, b.cRevenue[i], !math.IsNaN(b.cRevenue[i]))
		o.str(5, b.currencies.val(b.cCurrency[i]))
		o.str(6, b.deals.val(b.cDeal[i]))
	}
	b.out[load.FctConversion] = o.table()
	return nil
}

// dealAssociated returns the contacts (crm:contact_id) associated with a deal the run
// read, by any association, primary or not.
func (b *builder) dealAssociated(in Inputs) map[string]bool {
	dc := in.DealContacts
	dcCRM, dcDeal, dcContact := b.cols.str(dc, "crm"), b.cols.str(dc, "deal_id"), b.cols.str(dc, "contact_id")
	out := map[string]bool{}
	for i := 0; i < dcDeal.Len(); i++ {
		if _, ok := b.dealNode[dcCRM.Value(i)+":"+dcDeal.Value(i)]; ok {
			out[dcCRM.Value(i)+":"+dcContact.Value(i)] = true
		}
	}
	return out
}

// attribute builds each conversion's journey and writes every model's credits. The
// data-driven models are first fitted per conversion type on the paths of every
// journey the run sees (all days, converting and non-converting), then weigh the
// range's journeys like the others.
func (b *builder) attribute(ctx context.Context, _ Inputs) error {
	jb := b.newJourneys()
	// Models per conversion type: the rule-based ones as given, the data-driven ones
	// fitted on that type's paths.
	models := make([][]attribution.Model, len(b.types.vals))
	var fitted []fittedModel
	needPaths := false
	for _, m := range b.opt.Models {
		if _, ok := m.(attribution.DataDriven); ok {
			needPaths = true
		}
	}
	var paths []attribution.PathSet
	if needPaths {
		var err error
		if paths, err = jb.paths(ctx, len(b.types.vals)); err != nil {
			return err
		}
	}
	for typ := range models {
		for _, m := range b.opt.Models {
			dd, ok := m.(attribution.DataDriven)
			if !ok || paths[typ].Len() == 0 { // no path: every journey of the type is empty
				models[typ] = append(models[typ], m)
				continue
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f, err := dd.Fit(paths[typ].Paths)
			if err != nil {
				return fmt.Errorf("%s for %q conversions: %w", m.Name(), b.types.val(int32(typ)), err)
			}
			models[typ] = append(models[typ], f)
			fitted = append(fitted, fittedModel{typ: int32(typ), model: f})
		}
	}
	b.removalEffects(fitted)

	as, _ := load.Lookup(load.FctAttribution)
	o := newOut(b.opt.Mem, as.Schema)
	var w []float64
	err := jb.each(ctx, func(c int32, j *attribution.Journey, touches []int32) {
		if !b.inRange(b.cAt[c]) {
			return
		}
		b.stats.Journeys++
		if len(touches) == 0 {
			b.stats.ConversionsWithoutTouch++
		}
		if cap(w) < len(touches) {
			w = make([]float64, len(touches))
		}
		w = w[:len(touches)]
		for _, m := range models[b.cType[c]] {
			if len(touches) == 0 {
				b.credit(o, c, -1, m.Name(), 1)
				continue
			}
			m.Weights(*j, w)
			for k, t := range touches {
				if w[k] > 0 {
					b.credit(o, c, t, m.Name(), w[k])
				}
			}
		}
	})
	if err != nil {
		o.release()
		return err
	}
	b.out[load.FctAttribution] = o.table()
	return nil
}

// fittedModel is a data-driven model fitted on one conversion type's paths.
type fittedModel struct {
	typ   int32
	model attribution.Model
}

// removalEffects writes fct_markov_removal_effect from the fitted markov models.
func (b *builder) removalEffects(fitted []fittedModel) {
	rs, _ := load.Lookup(load.FctMarkovRemovalEffect)
	o := newOut(b.opt.Mem, rs.Schema)
	for _, f := range fitted {
		mk := attribution.MarkovOf(f.model)
		if mk == nil {
			continue
		}
		for i, ch := range mk.Channels {
			share := mk.Share(ch)
			o.str(0, b.types.val(f.typ))
			o.str(1, b.channels.val(ch))
			o.i64(2, int64(mk.Order))
			o.f64(3, mk.RemovalEffect[i], true)
			o.f64(4, share, true)
			o.f64(5, share*mk.Conversions, true)
			o.f64(6, share*mk.Value, true)
		}
	}
	b.out[load.FctMarkovRemovalEffect] = o.table()
}

// credit writes one fct_attribution row; touch -1 is the (none) row.
func (b *builder) credit(o *out, c, touch int32, model string, credit float64) {
	rev := b.cRevenue[c]
	o.str(0, hexID("c_", b.cID[c]))
	if touch < 0 {
		o.str(1, "")
	} else {
		o.str(1, hexID("t_", b.tID[touch]))
	}
	o.str(2, model)
	o.f64(3, credit, true)
	o.f64(4, credit*rev, !math.IsNaN(rev))
	if touch < 0 {
		o.str(5, "(none)")
		o.str(6, "")
		o.str(7, "")
	} else {
		o.str(5, b.channels.val(b.tChannel[touch]))
		o.str(6, b.campaigns.val(b.tCampaign[touch]))
		o.str(7, b.terms.val(b.tTerm[touch]))
	}
	o.str(8, b.types.val(b.cType[c]))
	o.ts(9, b.cAt[c])
	if touch < 0 {
		o.ts(10, 0)
	} else {
		o.ts(10, b.tAt[touch])
	}
	o.str(11, b.p.ID(b.cPerson[c]))
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// persons writes dim_person and bridge_identity.
func (b *builder) persons(_ context.Context, in Inputs) error {
	np := b.p.Len()
	first := make([]int64, np)
	counts := make([][3]int64, np) // all, anonymous ids, e-mails
	crmID, crmName := make([]string, np), make([]string, np)
	emails := map[int32][]string{}
	bs, _ := load.Lookup(load.BridgeIdentity)
	bridge := newOut(b.opt.Mem, bs.Schema)
	nodes := make([]int32, b.g.Len())
	for i := range nodes {
		nodes[i] = int32(i)
	}
	slices.SortFunc(nodes, func(x, y int32) int { // stable output order
		px, py := b.p.Of(x), b.p.Of(y)
		if px != py {
			return int(px - py)
		}
		tx, vx, _ := b.p.Node(x)
		ty, vy, _ := b.p.Node(y)
		if tx != ty {
			return int(tx) - int(ty)
		}
		return strings.Compare(vx, vy)
	})
	for _, n := range nodes {
		person := b.p.Of(n)
		typ, val, seen := b.p.Node(n)
		bridge.str(0, b.p.ID(person))
		bridge.str(1, typ.String())
		bridge.str(2, val)
		bridge.ts(3, seen)
		if seen != 0 && (first[person] == 0 || seen < first[person]) {
			first[person] = seen
		}
		counts[person][0]++
		switch typ {
		case identity.AnonymousID:
			counts[person][1]++
		case identity.Email:
			counts[person][2]++
			emails[person] = append(emails[person], val)
		case identity.HubSpotContact, identity.SalesforceContact, identity.SalesforceLead:
			if crmID[person] == "" {
				crmID[person], crmName[person] = val, b.crmTypeOfContact[n]
			}
		}
	}
	attrs := b.contactAttrs(in.Contacts)
	ds, _ := load.Lookup(load.DimPerson)
	dim := newOut(b.opt.Mem, ds.Schema)
	for p := int32(0); p < int32(np); p++ {
		dim.str(0, b.p.ID(p))
		dim.ts(1, first[p])
		last := b.lastSeen[p]
		if last < first[p] {
			last = first[p]
		}
		dim.ts(2, last)
		dim.i64(3, counts[p][0])
		dim.i64(4, counts[p][1])
		dim.i64(5, counts[p][2])
		dim.str(6, crmID[p])
		dim.str(7, crmName[p])
		stage := ""
		if r := b.personStage[p]; r > 0 {
			stage = milestones[r-1]
		}
		dim.str(8, stage)
		dim.bool(9, b.personCustomer[p])
		a := attrs[p]
		dim.str(10, a.JobTitle)
		dim.str(11, a.Company)
		dim.str(12, a.Industry)
		if a.HasCompanySize {
			dim.i64(13, a.CompanySize)
		} else {
			dim.null(13)
		}
		dim.str(14, a.Country)
		dim.str(15, a.OriginalSource)
		a.LifecycleStage, a.CRM, a.Emails = stage, crmName[p], emails[p]
		a.Pages, a.Downloads, a.Events = b.seen.of(p, seenPage), b.seen.of(p, seenDownload), b.seen.of(p, seenEvent)
		dim.str(16, b.opt.Personas.Classify(&a))
	}
	b.out[load.DimPerson] = dim.table()
	b.out[load.BridgeIdentity] = bridge.table()
	return nil
}

// spend writes fct_spend for the range, with each row's channel group.
func (b *builder) spend(_ context.Context, in Inputs) error {
	sp := in.Spend
	day := b.cols.date(sp, "date")
	given, src, med := b.cols.str(sp, "channel"), b.cols.str(sp, "source"), b.cols.str(sp, "medium")
	camp, term, cost := b.cols.str(sp, "campaign"), b.cols.str(sp, "term"), b.cols.f64(sp, "cost")
	clicks, impr, cur := b.cols.i64(sp, "clicks"), b.cols.i64(sp, "impressions"), b.cols.str(sp, "currency")
	ss, _ := load.Lookup(load.FctSpend)
	o := newOut(b.opt.Mem, ss.Schema)
	for i := 0; i < day.Len(); i++ {
		d := day.Value(i)
		if !b.inRange(d.ToTime().UnixMicro()) {
			continue
		}
		b.stats.SpendRows++
		ch := sv(given, i)
		if ch == "" {
			ch = b.opt.Channels.GroupTouch(channel.Touch{Source: src.Value(i), Medium: med.Value(i), Campaign: sv(camp, i), Term: sv(term, i)})
		}
		o.date(0, d)
		o.str(1, ch)
		o.str(2, src.Value(i))
		o.str(3, med.Value(i))
		o.str(4, sv(camp, i))
		o.str(5, sv(term, i))
		o.f64(6, cost.Value(i), true)
		if clicks.IsValid(i) {
			o.b.Field(7).(*array.Int64Builder).Append(clicks.Value(i))
		} else {
			o.b.Field(7).AppendNull()
		}
		if impr.IsValid(i) {
			o.b.Field(8).(*array.Int64Builder).Append(impr.Value(i))
		} else {
			o.b.Field(8).AppendNull()
		}
		o.str(9, cur.Value(i))
	}
	b.out[load.FctSpend] = o.table()
	return nil
}
