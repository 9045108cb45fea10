// Package identity stitches identifiers (cookies, user ids, e-mails, CRM ids) into
// persons: identifiers are nodes, every observation that two identifiers belong
// together is an edge, and each connected component (union-find with path compression
// and union by rank) is one person.
//
// Identifiers are hashed to 64 bits on entry: the graph keeps one map entry, one
// string and a few integers per distinct identifier, never per event.
//
// A person's id is derived from the component's highest-priority identifier (a CRM
// contact, else a user id, else an e-mail, else its earliest cookie), so the same
// component gets the same person_id on every run.
package identity

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zeebo/xxh3"
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

// blocked are values that identify nobody (placeholders sent by broken tags).
var blocked = map[string]bool{"": true, "null": true, "undefined": true, "none": true, "nil": true,
	"0": true, "(not set)": true, "test@example.com": true}

// Normalize returns the canonical form of an identifier value: e-mails trimmed and
// lower-cased, others trimmed.
func Normalize(t Type, v string) string {
	v = strings.TrimSpace(v)
	if t == Email {
		v = strings.ToLower(v)
	}
	return v
}

// Graph is the identifier graph of one run. Not safe for concurrent use.
type Graph struct {
	index  map[uint64]int32
	typ    []Type
	val    []string
	first  []int64 // first seen, µs since epoch (0 = unknown)
	parent []int32
	rank   []uint8
}

// New returns an empty graph.
func New() *Graph { return &Graph{index: map[uint64]int32{}} }

func key(t Type, v string) uint64 {
	return xxh3.HashString(v) ^ (uint64(t)+1)*0x9e3779b97f4a7c15
}

// Node returns the node of identifier (t, v), adding it when new, and keeps the
// earliest seenAt (µs; 0 = unknown). It returns -1 for an empty or blocked value.
func (g *Graph) Node(t Type, v string, seenAt int64) int32 {
	v = Normalize(t, v)
	if blocked[strings.ToLower(v)] {
		return -1
	}
	k := key(t, v)
	n, ok := g.index[k]
	if !ok {
		n = int32(len(g.typ))
		g.index[k] = n
		g.typ = append(g.typ, t)
		g.val = append(g.val, v)
		g.first = append(g.first, seenAt)
		g.parent = append(g.parent, n)
		g.rank = append(g.rank, 0)
		return n
	}
	if seenAt != 0 && (g.first[n] == 0 || seenAt < g.first[n]) {
		g.first[n] = seenAt
	}
	return n
}

// Lookup returns the node of (t, v) or -1 when the graph does not hold it.
func (g *Graph) Lookup(t Type, v string) int32 {
	v = Normalize(t, v)
	if n, ok := g.index[key(t, v)]; ok {
		return n
	}
	return -1
}

// Find returns the root of n's component.
func (g *Graph) Find(n int32) int32 {
	root := n
	for g.parent[root] != root {
		root = g.parent[root]
	}
	for g.parent[n] != root { // path compression
		g.parent[n], n = root, g.parent[n]
	}
	return root
}

// Union joins the components of a and b; -1 on either side is ignored.
func (g *Graph) Union(a, b int32) {
	if a < 0 || b < 0 {
		return
	}
	ra, rb := g.Find(a), g.Find(b)
	if ra == rb {
		return
	}
	switch {
	case g.rank[ra] < g.rank[rb]:
		g.parent[ra] = rb
	case g.rank[ra] > g.rank[rb]:
		g.parent[rb] = ra
	default:
		g.parent[rb] = ra
		g.rank[ra]++
	}
}

// Len is the number of nodes.
func (g *Graph) Len() int { return len(g.typ) }

// Persons is the result of stitching: a person per component.
type Persons struct {
	g      *Graph
	person []int32  // node -> person
	ids    []string // person -> person_id
	best   []int32  // person -> its highest-priority node
}

// Resolve assigns persons to components. Persons are numbered in order of their
// person_id, so the numbering does not depend on the order edges arrived in.
func (g *Graph) Resolve() *Persons {
	n := len(g.typ)
	best := map[int32]int32{} // root -> best node
	for i := int32(0); i < int32(n); i++ {
		r := g.Find(i)
		b, ok := best[r]
		if !ok || better(g, i, b) {
			best[r] = i
		}
	}
	type pid struct {
		id   string
		root int32
		best int32
	}
	list := make([]pid, 0, len(best))
	for r, b := range best {
		list = append(list, pid{personID(g.typ[b], g.val[b]), r, b})
	}
	slices.SortFunc(list, func(a, b pid) int { return strings.Compare(a.id, b.id) })
	p := &Persons{g: g, person: make([]int32, n), ids: make([]string, len(list)), best: make([]int32, len(list))}
	rootPerson := make(map[int32]int32, len(list))
	for i, x := range list {
		p.ids[i], p.best[i] = x.id, x.best
		rootPerson[x.root] = int32(i)
	}
	for i := int32(0); i < int32(n); i++ {
		p.person[i] = rootPerson[g.Find(i)]
	}
	return p
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
	return g.val[a] < g.val[b]
}

func personID(t Type, v string) string {
	return fmt.Sprintf("p_%016x", xxh3.HashString(t.String()+":"+v))
}

// Len is the number of persons.
func (p *Persons) Len() int { return len(p.ids) }

// Of returns the person of node n (-1 for -1).
func (p *Persons) Of(n int32) int32 {
	if n < 0 {
		return -1
	}
	return p.person[n]
}

// ID returns the person_id of person i.
func (p *Persons) ID(i int32) string { return p.ids[i] }

// Node describes node n: its type, value and first-seen time (µs).
func (p *Persons) Node(n int32) (Type, string, int64) { return p.g.typ[n], p.g.val[n], p.g.first[n] }
