// Package identity stitches identifiers (cookies, user ids, e-mails, CRM ids) into
// persons: identifiers are nodes, every observation that two identifiers belong
// together is an edge, and each connected component is one person.
//
// Identifiers are hashed to 64 bits on entry: the graph keeps one map entry, one
// string and a few integers per distinct identifier, and one small record per
// distinct edge, never per event.
//
// Edges are collected first and joined in a fixed order (union-find with path
// compression and union by rank): strongest kind first (CRM links, deal contacts,
// CRM e-mails, user ids, CRM cookie properties, e-mails seen on events), then oldest
// first, then by the identifiers' hashes, so the result never depends on the order
// the edges arrived in. Guardrails, as in Segment Unify and RudderStack: a person may
// hold at most Limits[t] identifiers of type t (by default 5 e-mails, 5 contacts or
// leads of each CRM, 1 user id); an edge that would break a limit is refused — the
// weakest and newest edges are the ones refused, because they come last — and
// reported as a Conflict. Placeholder values (empty, "null", "undefined",
// "test@example.com", ...) are not identifiers at all.
//
// A person's id is derived from the component's highest-priority identifier (a CRM
// contact, else a lead, deal, user id, e-mail, else its earliest cookie), so the same
// component gets the same person_id on every run. When a new edge merges two persons,
// the merged person keeps the better of the two ids, and Aliases maps the other one
// to it, so a loader can re-point rows of days outside the run's range. When a limit
// splits what an earlier run joined, the rows of those earlier days keep the old id
// until their days are run again.
package identity

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/zeebo/xxh3"

	"closedloop/extract"
	"closedloop/transform/intern"
)

// Type is an identifier type; a lower value has a higher priority for the person id.
type Type uint8

// Identifier types, in priority order.
const (
	HubSpotContact Type = iota
	SalesforceContact
	SalesforceLead
	CRMDeal
	UserID
	Email
	AnonymousID
	numTypes
)

var typeNames = [...]string{"hubspot_contact", "salesforce_contact", "salesforce_lead", "crm_deal", "user_id", "email", "anonymous_id"}

// String is the identifier_type written to bridge_identity.
func (t Type) String() string { return typeNames[t] }

// CRMType returns the identifier type of a CRM contact of crm ("hubspot", "salesforce").
func CRMType(crm string) (Type, error) {
	switch crm {
	case "hubspot":
		return HubSpotContact, nil
	case "salesforce":
		return SalesforceContact, nil
	}
	return 0, fmt.Errorf("identity: unknown crm %q", crm)
}

// CRMRecordType returns the identifier type of the CRM person record id of crm: a
// Salesforce id with the Lead key prefix 00Q is a lead, any other a contact.
func CRMRecordType(crm, id string) (Type, error) {
	t, err := CRMType(crm)
	if err == nil && t == SalesforceContact && strings.HasPrefix(id, "00Q") {
		t = SalesforceLead
	}
	return t, err
}

// blocked are values that identify nobody (placeholders sent by broken tags).
var blocked = map[string]bool{"": true, "null": true, "undefined": true, "none": true, "nil": true,
	"0": true, "(not set)": true, "test@example.com": true, "anonymous": true, "unknown": true,
	"[object object]": true, "nan": true, "-": true, "n/a": true, "noemail@example.com": true}

// Normalize returns the canonical form of an identifier value: e-mails trimmed and
// lower-cased, a `_ga` cookie value ("GA1.1.<client id>", as forms store it on CRM
// records) reduced to the client id the GA4 export carries (extract.CookieID),
// others trimmed.
func Normalize(t Type, v string) string {
	v = strings.TrimSpace(v)
	switch t {
	case Email:
		v = strings.ToLower(v)
	case AnonymousID:
		if strings.HasPrefix(v, "GA") || strings.HasPrefix(v, "_ga=") || strings.HasPrefix(v, `"`) {
			if id, ok := extract.CookieID(v); ok && id != "" {
				v = id
			}
		}
	}
	return v
}

// EdgeKind says where an edge comes from; a lower kind is stronger: it is joined
// first, so guardrails refuse weaker edges before it.
type EdgeKind uint8

// Edge kinds, strongest first.
const (
	// CRMLink: the CRM says two of its records are one person (merged contacts, a
	// lead converted into a contact, a contact's additional e-mails).
	CRMLink EdgeKind = iota
	// DealContact: a deal and its primary contact.
	DealContact
	// CRMEmail: a CRM contact and its e-mail.
	CRMEmail
	// EventUserID: an analytics cookie and the user id it was identified as (login,
	// identify call, alias).
	EventUserID
	// CRMCookie: a CRM contact and the analytics cookie stored on it (the configured
	// property, set by the form the contact filled in).
	CRMCookie
	// EventEmail: an analytics cookie or user id and an e-mail seen on its events.
	EventEmail
	numKinds
)

var kindNames = [...]string{"crm_link", "deal_contact", "crm_email", "event_user_id", "crm_cookie", "event_email"}

// String names the kind in conflict reasons.
func (k EdgeKind) String() string { return kindNames[k] }

// Limits caps, per identifier type, how many identifiers of that type one person may
// hold; 0 means no limit.
type Limits [numTypes]int

// DefaultLimits: an identifier that would give a person a sixth e-mail, a sixth
// contact or lead of one CRM, or a second user id is a shared device (or a form
// filled in for others) and does not merge them. Cookies and deals are unlimited.
var DefaultLimits = Limits{HubSpotContact: 5, SalesforceContact: 5, SalesforceLead: 5, UserID: 1, Email: 5}

// ParseType returns the type named s (as in bridge_identity: "email", "user_id", ...).
func ParseType(s string) (Type, error) {
	for i, n := range typeNames {
		if n == s {
			return Type(i), nil
		}
	}
	return 0, fmt.Errorf("unknown identifier type %q (known: %s)", s, strings.Join(typeNames[:], ", "))
}

// Graph is the identifier graph of one run. Not safe for concurrent use.
type Graph struct {
	index intern.Index // nodes by key
	typ   []Type
	val   intern.List // the stored values, by node
	first []int64     // first seen, µs since epoch (0 = unknown)
	edges []edge
	// compacted is how many of edges CompactEdges left.
	compacted int
	hashPI    bool
	block     map[string]bool
}

// edge is one observation that two nodes are one person, 16 bytes: the kind and the
// time share one word, so that sorting by it orders edges by kind, then time.
type edge struct {
	a, b int32
	k    uint64 // kind<<kindShift | µs observed (0 = unknown: first)
}

const kindShift = 60

func (e edge) kind() EdgeKind { return EdgeKind(e.k >> kindShift) }
func (e edge) at() int64      { return int64(e.k & (1<<kindShift - 1)) }

func edgeKey(kind EdgeKind, at int64) uint64 {
	return uint64(kind)<<kindShift | uint64(max(at, 0))&(1<<kindShift-1)
}

// Options configure a Graph.
type Options struct {
	// HashEmails stores e-mails as the hex SHA-256 of their normalized form (the form
	// ad platforms' customer match uses), so no plain address reaches the warehouse.
	HashEmails bool
	// Blocked are further placeholder values that identify nobody (compared after
	// normalizing, case-insensitively).
	Blocked []string
}

// New returns an empty graph.
func New(opt Options) *Graph {
	g := &Graph{hashPI: opt.HashEmails, block: blocked}
	if len(opt.Blocked) > 0 {
		g.block = maps.Clone(blocked)
		for _, v := range opt.Blocked {
			g.block[strings.ToLower(strings.TrimSpace(v))] = true
		}
	}
	return g
}

func key(t Type, v string) uint64 {
	return xxh3.HashString(v) ^ (uint64(t)+1)*0x9e3779b97f4a7c15
}

// find returns the node of key k: keys are hashes of (type, value), told apart by
// the hash alone.
func (g *Graph) find(k uint64) (int32, bool) {
	n := g.index.Find(k, func(int32) bool { return true })
	return n, n >= 0
}

// value is the stored form of an identifier: normalized, e-mails hashed if asked;
// ok is false for a blocked value.
func (g *Graph) value(t Type, v string) (string, bool) {
	v = Normalize(t, v)
	if g.block[strings.ToLower(v)] {
		return "", false
	}
	if t == Email && g.hashPI {
		sum := sha256.Sum256([]byte(v))
		v = hex.EncodeToString(sum[:])
	}
	return v, true
}

// Node returns the node of identifier (t, v), adding it when new, and keeps the
// earliest seenAt (µs; 0 = unknown). It returns -1 for an empty or blocked value.
func (g *Graph) Node(t Type, v string, seenAt int64) int32 {
	v, ok := g.value(t, v)
	if !ok {
		return -1
	}
	return g.insert(t, v, seenAt)
}

// insert returns the node of the stored value v, adding it when new, and keeps the
// earliest seenAt.
func (g *Graph) insert(t Type, v string, seenAt int64) int32 {
	k := key(t, v)
	n, ok := g.find(k)
	if !ok {
		n = g.index.Add(k)
		g.typ = append(g.typ, t)
		g.val.Add(v) // copied: v may point into an Arrow buffer
		g.first = append(g.first, seenAt)
		return n
	}
	if seenAt != 0 && (g.first[n] == 0 || seenAt < g.first[n]) {
		g.first[n] = seenAt
	}
	return n
}

// NodeStored is Node of an identifier as an earlier run stored it (bridge_identity):
// already normalized and hashed, so neither is done again; blocked values are still
// refused.
func (g *Graph) NodeStored(t Type, v string, seenAt int64) int32 {
	if v == "" || g.block[strings.ToLower(v)] {
		return -1
	}
	return g.insert(t, v, seenAt)
}

// OwnID is the person id node n gives the person it is the best identifier of: the
// person_id an earlier run wrote for rows of n's person, when n was its best.
func (g *Graph) OwnID(n int32) string { return personID(g.typ[n], g.val.At(n)) }

// EachEdge calls fn for every distinct edge recorded (after CompactEdges or
// Resolve: each pair and kind once, with its earliest time), for the identity_edge
// table a later run reads back.
func (g *Graph) EachEdge(fn func(a, b int32, kind EdgeKind, at int64)) {
	for _, e := range g.edges {
		fn(e.a, e.b, e.kind(), e.at())
	}
}

// ParseEdgeKind returns the kind named s (as in identity_edge.kind).
func ParseEdgeKind(s string) (EdgeKind, error) {
	for i, n := range kindNames {
		if n == s {
			return EdgeKind(i), nil
		}
	}
	return 0, fmt.Errorf("unknown identity edge kind %q (known: %s)", s, strings.Join(kindNames[:], ", "))
}

// Lookup returns the node of (t, v) or -1 when the graph does not hold it.
func (g *Graph) Lookup(t Type, v string) int32 {
	v, ok := g.value(t, v)
	if !ok {
		return -1
	}
	if n, ok := g.find(key(t, v)); ok {
		return n
	}
	return -1
}

// Edge records that a and b are one person, observed at (µs; 0 = unknown); -1 on
// either side, or a == b, records nothing. Repeats of the last edge are dropped at
// once (events of one session repeat theirs); others when resolving.
func (g *Graph) Edge(a, b int32, kind EdgeKind, at int64) {
	if a < 0 || b < 0 || a == b {
		return
	}
	if g.index.Hash(a) > g.index.Hash(b) {
		a, b = b, a
	}
	k := edgeKey(kind, at)
	if n := len(g.edges); n > 0 {
		if l := &g.edges[n-1]; l.a == a && l.b == b && l.kind() == kind {
			l.k = min(l.k, k)
			return
		}
	}
	g.edges = append(g.edges, edge{a: a, b: b, k: k})
}

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.typ) }

// NodeInfo describes node n: its type, stored value and first-seen time (µs).
func (g *Graph) NodeInfo(n int32) (Type, string, int64) { return g.typ[n], g.val.At(n), g.first[n] }

// CompactEdges merges the edges recorded so far that repeat one another (the same
// pair and kind, keeping the earliest time), so that the edges held grow with the
// distinct observations, not with the events that repeat them. Resolve gives the
// same persons with or without it.
func (g *Graph) CompactEdges() {
	slices.SortFunc(g.edges, func(x, y edge) int {
		if x.a != y.a {
			return cmp.Compare(x.a, y.a)
		}
		if x.b != y.b {
			return cmp.Compare(x.b, y.b)
		}
		return cmp.Compare(x.k, y.k)
	})
	g.edges = slices.CompactFunc(g.edges, func(x, y edge) bool { return x.a == y.a && x.b == y.b && x.kind() == y.kind() })
	g.compacted = len(g.edges)
}

// EdgesSinceCompact is the number of edges recorded since the last CompactEdges.
func (g *Graph) EdgesSinceCompact() int { return len(g.edges) - g.compacted }

// Edges is the number of edges recorded (before duplicates are merged).
func (g *Graph) Edges() int { return len(g.edges) }

// Conflict is an edge a guardrail refused.
type Conflict struct {
	A, B  int32 // the nodes, A the one whose person holds more of the limited type
	Kind  EdgeKind
	At    int64 // when the edge was observed (µs)
	Type  Type  // the limited identifier type the join would have exceeded
	Count int   // identifiers of Type the joined person would have held
	Limit int   // the limit of Type
}

// Reason says why the edge was refused, for identity_conflicts.
func (c Conflict) Reason() string {
	return fmt.Sprintf("%s edge refused: the person would hold %d %s identifiers, over the limit of %d (a shared device or a form filled in for others)",
		c.Kind, c.Count, c.Type, c.Limit)
}

// Persons is the result of stitching: a person per component.
type Persons struct {
	g         *Graph
	person    []int32     // node -> person
	ids       intern.List // person -> person_id
	hashes    []uint64    // person -> the hash its person_id shows
	best      []int32     // person -> its highest-priority node
	conflicts []Conflict
	edges     int // distinct edges joined or refused
}

// Resolve joins the edges in their fixed order under limits and assigns persons to
// components. Persons are numbered in order of their person_id, so neither the
// numbering nor the components depend on the order edges arrived in.
func (g *Graph) Resolve(limits Limits) *Persons {
	n := len(g.typ)
	es := g.edges
	// Merge duplicates: the same pair and kind, keeping the earliest time. (Node
	// numbers depend on arrival order, but only the grouping does here.)
	slices.SortFunc(es, func(x, y edge) int {
		if x.a != y.a {
			return cmp.Compare(x.a, y.a)
		}
		if x.b != y.b {
			return cmp.Compare(x.b, y.b)
		}
		return cmp.Compare(x.k, y.k)
	})
	es = slices.CompactFunc(es, func(x, y edge) bool { return x.a == y.a && x.b == y.b && x.kind() == y.kind() })
	// Strongest kind first, then oldest, then by the identifiers' hashes.
	slices.SortFunc(es, func(x, y edge) int {
		if x.k != y.k {
			return cmp.Compare(x.k, y.k)
		}
		if ka, kb := g.index.Hash(x.a), g.index.Hash(y.a); ka != kb {
			return cmp.Compare(ka, kb)
		}
		return cmp.Compare(g.index.Hash(x.b), g.index.Hash(y.b))
	})
	g.edges = es

	var limited []Type
	for t, l := range limits {
		if l > 0 {
			limited = append(limited, Type(t))
		}
	}
	u := newUnionFind(n, len(limited))
	for i := 0; i < n; i++ {
		for k, t := range limited {
			if g.typ[i] == t {
				u.count[i*len(limited)+k] = 1
			}
		}
	}
	p := &Persons{g: g, edges: len(es)}
	for _, e := range es {
		ra, rb := u.find(e.a), u.find(e.b)
		if ra == rb {
			continue
		}
		if k, ok := u.fits(ra, rb, limited, limits); !ok {
			t := limited[k]
			a, b := e.a, e.b
			if u.count[int(ra)*len(limited)+k] < u.count[int(rb)*len(limited)+k] {
				a, b = b, a // A's person holds more of the limited type
			}
			p.conflicts = append(p.conflicts, Conflict{A: a, B: b, Kind: e.kind(), At: e.at(), Type: t, Limit: limits[t],
				Count: int(u.count[int(ra)*len(limited)+k]) + int(u.count[int(rb)*len(limited)+k])})
			continue
		}
		u.union(ra, rb)
	}

	best := make([]int32, n) // root -> best node, -1 when not a root
	for i := range best {
		best[i] = -1
	}
	for i := int32(0); i < int32(n); i++ {
		r := u.find(i)
		if b := best[r]; b < 0 || better(g, i, b) {
			best[r] = i
		}
	}
	type pid struct {
		h          uint64 // personHash: its order is the person_id's
		root, best int32
	}
	var list []pid
	for r, b := range best {
		if b >= 0 {
			list = append(list, pid{personHash(g.typ[b], g.val.At(b)), int32(r), b})
		}
	}
	slices.SortFunc(list, func(a, b pid) int { return cmp.Compare(a.h, b.h) })
	p.person, p.best, p.hashes = make([]int32, n), make([]int32, len(list)), make([]uint64, len(list))
	rootPerson := make([]int32, n)
	var buf [personIDLen]byte
	for i, x := range list {
		p.ids.Add(string(appendPersonID(buf[:0], x.h)))
		p.best[i], p.hashes[i] = x.best, x.h
		rootPerson[x.root] = int32(i)
	}
	for i := int32(0); i < int32(n); i++ {
		p.person[i] = rootPerson[u.find(i)]
	}
	return p
}

// unionFind is union by rank with path compression, plus per-root counts of the
// limited identifier types.
type unionFind struct {
	parent []int32
	rank   []uint8
	count  []int32 // node*len(limited)+k: identifiers of limited type k under root node
	nl     int
}

func newUnionFind(n, nl int) *unionFind {
	u := &unionFind{parent: make([]int32, n), rank: make([]uint8, n), count: make([]int32, n*nl), nl: nl}
	for i := range u.parent {
		u.parent[i] = int32(i)
	}
	return u
}

func (u *unionFind) find(n int32) int32 {
	root := n
	for u.parent[root] != root {
		root = u.parent[root]
	}
	for u.parent[n] != root {
		u.parent[n], n = root, u.parent[n]
	}
	return root
}

// fits reports whether joining roots a and b keeps every limit; else the index of
// the first limited type it breaks.
func (u *unionFind) fits(a, b int32, limited []Type, limits Limits) (int, bool) {
	for k, t := range limited {
		if int(u.count[int(a)*u.nl+k]+u.count[int(b)*u.nl+k]) > limits[t] {
			return k, false
		}
	}
	return 0, true
}

func (u *unionFind) union(a, b int32) {
	switch {
	case u.rank[a] < u.rank[b]:
		a, b = b, a
	case u.rank[a] == u.rank[b]:
		u.rank[a]++
	}
	u.parent[b] = a
	for k := 0; k < u.nl; k++ {
		u.count[int(a)*u.nl+k] += u.count[int(b)*u.nl+k]
	}
}

// better reports whether node a is a better person-id source than b: a higher-priority
// type, then the earliest first seen, then the smallest value.
func better(g *Graph, a, b int32) bool {
	if g.typ[a] != g.typ[b] {
		return g.typ[a] < g.typ[b]
	}
	fa, fb := g.first[a], g.first[b]
	if fa != fb && fa != 0 && fb != 0 {
		return fa < fb
	}
	if (fa == 0) != (fb == 0) {
		return fb == 0
	}
	return g.val.At(a) < g.val.At(b)
}

func personID(t Type, v string) string {
	var buf [personIDLen]byte
	return string(appendPersonID(buf[:0], personHash(t, v)))
}

// personHash is the hash a person_id shows.
func personHash(t Type, v string) uint64 { return xxh3.HashString(t.String() + ":" + v) }

// personIDLen is the length of a person_id: "p_" and 16 hex digits.
const personIDLen = 18

// appendPersonID appends the person_id of hash h: "p_" and h in 16 hex digits, so that
// person_ids sort as their hashes do.
func appendPersonID(b []byte, h uint64) []byte {
	const digits = "0123456789abcdef"
	b = append(b, 'p', '_')
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[h>>uint(shift)&15])
	}
	return b
}

// ForgetGraph lets go of the identifier graph the persons were resolved from, for the
// persons to outlive it cheaply: afterwards only Len, Of and ID may be called.
func (p *Persons) ForgetGraph() { p.g, p.best, p.conflicts = nil, nil, nil }

// Len is the number of persons.
func (p *Persons) Len() int { return p.ids.Len() }

// Of returns the person of node n (-1 for -1).
func (p *Persons) Of(n int32) int32 {
	if n < 0 {
		return -1
	}
	return p.person[n]
}

// ID returns the person_id of person i.
func (p *Persons) ID(i int32) string { return p.ids.At(i) }

// Node describes node n: its type, value and first-seen time (µs).
func (p *Persons) Node(n int32) (Type, string, int64) { return p.g.typ[n], p.g.val.At(n), p.g.first[n] }

// Conflicts are the edges the guardrails refused, in the order they were met.
func (p *Persons) Conflicts() []Conflict { return p.conflicts }

// EdgeCount is the number of distinct edges resolved (joined, redundant or refused).
func (p *Persons) EdgeCount() int { return p.edges }

// Aliases calls fn for every node whose own person id (the id its person would have
// if it were the person's best identifier) differs from its person's id: the ids an
// earlier run may have written for identifiers that are now part of a bigger person.
// Anonymous ids are included (a cookie was its own person until identified).
func (p *Persons) Aliases(fn func(alias, personID string)) {
	for n := range p.person {
		if h := personHash(p.g.typ[n], p.g.val.At(int32(n))); h != p.hashes[p.person[n]] {
			var buf [personIDLen]byte
			fn(string(appendPersonID(buf[:0], h)), p.ids.At(p.person[n]))
		}
	}
}
