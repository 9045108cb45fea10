package transform

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/load"
	"closedloop/transform/identity"
)

// stitched is the identity step's result: the identity graph resolved into persons,
// and the graph node of every CRM row.
type stitched struct {
	graph   *identity.Graph
	persons *identity.Persons
	// contacts holds, per contact row, the node of its CRM record.
	contacts []int32
	// crmOf is the CRM ("hubspot", "salesforce") of each contact node.
	crmOf map[int32]string
	// deals maps a deal ("crm:deal_id") to its node.
	deals map[string]int32
	// cookies is Stats.CRMCookies.
	cookies map[string]*CookieLinks
	// accounts are the persons' accounts (the accounts step, run with identity).
	accounts *accounts
}

// eventNodes adds the identifiers of every event to g and returns each event's key
// node (see stitched.events), and whether that node is the event's cookie id as given
// (the graph then holds the string: anonByNode).
func eventNodes(g *identity.Graph, ev *eventCols) (nodes []int32, anonIsNode []bool) {
	nodes, anonIsNode = make([]int32, ev.n), make([]bool, ev.n)
	// Events come grouped by cookie and session: remembering the last value of each
	// column saves most graph lookups.
	var ma, mu, me memo
	for i := range nodes {
		t := int64(ev.at.Value(i))
		a := ma.node(g, identity.AnonymousID, sv(ev.anon, i), t)
		u := mu.node(g, identity.UserID, sv(ev.user, i), t)
		e := me.node(g, identity.Email, sv(ev.email, i), t)
		g.Edge(a, u, identity.EventUserID, t)
		g.Edge(a, e, identity.EventEmail, t)
		g.Edge(u, e, identity.EventEmail, t)
		c := int32(-1)
		if ev.record.IsValid(i) { // a CRM activity: its record, with what else it names
			rt, rv, _ := strings.Cut(ev.record.Value(i), ":")
			if typ, err := identity.ParseType(rt); err == nil {
				c = g.Node(typ, rv, t)
				g.Edge(c, e, identity.CRMEmail, t)
				g.Edge(c, a, identity.CRMCookie, t)
			}
		}
		switch {
		case a >= 0:
			nodes[i], anonIsNode[i] = a, ma.same
		case u >= 0:
			nodes[i] = u
		case e >= 0:
			nodes[i] = e
		default:
			nodes[i] = c // -1 when the event has no id: extractors reject those
		}
	}
	return nodes, anonIsNode
}

// memo remembers the node of the last value looked up.
type memo struct {
	val   string
	n     int32
	first int64
	ok    bool
	same  bool // node n holds val as given (not normalized otherwise)
}

// node is g.Node with the last answer remembered; a repeat only lowers first seen.
func (m *memo) node(g *identity.Graph, t identity.Type, v string, at int64) int32 {
	if m.ok && v == m.val && at >= m.first {
		return m.n
	}
	m.val, m.n, m.first, m.ok = v, g.Node(t, v, at), at, true
	m.same = false
	if m.n >= 0 {
		_, stored, _ := g.NodeInfo(m.n)
		m.same = stored == v
	}
	return m.n
}

// maxCookieExamples bounds CookieLinks' examples.
const maxCookieExamples = 3

// cookieLinks counts, per CRM, the cookie ids stored on its contacts and how many of
// them g holds from the events; nil when the events carry no cookie (analytics holds
// a few they carry).
func cookieLinks(g *identity.Graph, analytics []string, ct *contactCols) map[string]*CookieLinks {
	var links map[string]*CookieLinks
	for i := 0; i < ct.n && len(analytics) > 0; i++ {
		v := sv(ct.cookie, i)
		if v == "" {
			continue
		}
		if links == nil {
			links = map[string]*CookieLinks{}
		}
		l := links[ct.crm.Value(i)]
		if l == nil {
			l = &CookieLinks{Analytics: analytics}
			links[strings.Clone(ct.crm.Value(i))] = l
		}
		l.Stored++
		if g.Lookup(identity.AnonymousID, v) >= 0 {
			l.Linked++
		} else if len(l.Unlinked) < maxCookieExamples {
			l.Unlinked = append(l.Unlinked, strings.Clone(v))
		}
	}
	return links
}

// addContacts adds every contact's record with its e-mail, cookie and linked ids.
func (id *stitched) addContacts(ct *contactCols) error {
	g := id.graph
	id.contacts = make([]int32, ct.n)
	id.crmOf = map[int32]string{}
	for i := 0; i < ct.n; i++ {
		typ, err := identity.CRMRecordType(ct.crm.Value(i), ct.id.Value(i))
		if err != nil {
			return err
		}
		t := tv(ct.created, i)
		c := g.Node(typ, ct.id.Value(i), t)
		g.Edge(c, g.Node(identity.Email, sv(ct.email, i), t), identity.CRMEmail, t)
		g.Edge(c, g.Node(identity.AnonymousID, sv(ct.cookie, i), 0), identity.CRMCookie, t)
		if ct.linked.IsValid(i) {
			for _, l := range strings.Split(ct.linked.Value(i), ";") {
				lt, lv, ok := strings.Cut(strings.TrimSpace(l), ":")
				typ, err := identity.ParseType(lt)
				if !ok || err != nil {
					continue // extractors write only known types
				}
				g.Edge(c, g.Node(typ, lv, t), identity.CRMLink, t)
			}
		}
		id.contacts[i] = c
		id.crmOf[c] = strings.Clone(ct.crm.Value(i))
	}
	return nil
}

// primaryContacts returns each deal's ("crm:deal_id") primary contact: the one marked
// is_primary, else the associated contact with the smallest id.
func primaryContacts(dc *dealContactCols) map[string]string {
	contact := map[string]string{}
	primary := map[string]bool{}
	for i := 0; i < dc.n; i++ {
		k := dc.crm.Value(i) + ":" + dc.deal.Value(i)
		p := dc.primary.IsValid(i) && dc.primary.Value(i)
		cur, ok := contact[k]
		if !ok || (p && !primary[k]) || (p == primary[k] && contactLess(dc.contact.Value(i), cur)) {
			contact[k], primary[k] = dc.contact.Value(i), p
		}
	}
	return contact
}

// addDeals adds every deal and joins it to its primary contact. Other contacts of the
// deal stay separate persons (two buyers are two people).
func (id *stitched) addDeals(d *dealCols, primary map[string]string) error {
	g := id.graph
	id.deals = map[string]int32{}
	for i := 0; i < d.n; i++ {
		k := d.key(i)
		n := g.Node(identity.CRMDeal, k, tv(d.created, i))
		id.deals[k] = n
		if contact, ok := primary[k]; ok {
			typ, err := identity.CRMRecordType(d.crm.Value(i), contact)
			if err != nil {
				return err
			}
			g.Edge(n, g.Lookup(typ, contact), identity.DealContact, tv(d.created, i))
		}
	}
	return nil
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

// Columns of identity_edge.
var (
	ieType       = col(load.IdentityEdge, "identifier_type")
	ieIdentifier = col(load.IdentityEdge, "identifier")
	ieOtherType  = col(load.IdentityEdge, "other_type")
	ieOther      = col(load.IdentityEdge, "other_identifier")
	ieKind       = col(load.IdentityEdge, "kind")
	ieObservedAt = col(load.IdentityEdge, "observed_at")
)

// edges writes identity_edge: every distinct edge of the resolved graph, by the
// identifiers' types and values.
func edges(mem memory.Allocator, g *identity.Graph) arrow.Table {
	type row struct {
		at, bt     identity.Type
		a, b, kind string
		observed   int64
	}
	var rows []row
	g.EachEdge(func(a, b int32, kind identity.EdgeKind, at int64) {
		ta, va, _ := g.NodeInfo(a)
		tb, vb, _ := g.NodeInfo(b)
		if ta > tb || ta == tb && va > vb {
			ta, va, tb, vb = tb, vb, ta, va
		}
		rows = append(rows, row{ta, tb, va, vb, kind.String(), at})
	})
	slices.SortFunc(rows, func(x, y row) int {
		return cmp.Or(cmp.Compare(x.at, y.at), strings.Compare(x.a, y.a), cmp.Compare(x.bt, y.bt), strings.Compare(x.b, y.b),
			strings.Compare(x.kind, y.kind))
	})
	o := newTable(mem, load.IdentityEdge)
	for _, r := range rows {
		o.str(ieType, r.at.String())
		o.str(ieIdentifier, r.a)
		o.str(ieOtherType, r.bt.String())
		o.str(ieOther, r.b)
		o.str(ieKind, r.kind)
		o.ts(ieObservedAt, r.observed)
	}
	return o.table()
}

// Columns of identity_conflicts and of Output.Aliases.
var (
	icType       = col(load.IdentityConflicts, "identifier_type")
	icIdentifier = col(load.IdentityConflicts, "identifier")
	icOtherType  = col(load.IdentityConflicts, "other_type")
	icOther      = col(load.IdentityConflicts, "other_identifier")
	icReason     = col(load.IdentityConflicts, "reason")

	alAliasID  = AliasSchema.FieldIndices("alias_id")[0]
	alPersonID = AliasSchema.FieldIndices("person_id")[0]
)

// conflicts writes identity_conflicts: the edges the guardrails refused.
func conflicts(mem memory.Allocator, p *identity.Persons) arrow.Table {
	o := newTable(mem, load.IdentityConflicts)
	for _, c := range p.Conflicts() {
		at, av, _ := p.Node(c.A)
		bt, bv, _ := p.Node(c.B)
		o.str(icType, at.String())
		o.str(icIdentifier, av)
		o.str(icOtherType, bt.String())
		o.str(icOther, bv)
		o.str(icReason, c.Reason())
	}
	return o.table()
}

// aliases builds the person-id aliases the loader re-points older rows with (see
// Output.Aliases), by alias id.
func aliases(mem memory.Allocator, p *identity.Persons, keep func(alias string) bool) arrow.Table {
	type alias struct{ from, to string }
	var list []alias
	p.Aliases(func(from, to string) {
		if keep == nil || keep(from) {
			list = append(list, alias{from, to})
		}
	})
	slices.SortFunc(list, func(a, b alias) int { return strings.Compare(a.from, b.from) })
	list = slices.CompactFunc(list, func(a, b alias) bool { return a.from == b.from })
	o := newOut(mem, AliasSchema)
	for _, a := range list {
		o.str(alAliasID, a.from)
		o.str(alPersonID, a.to)
	}
	return o.table()
}
