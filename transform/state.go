package transform

import (
	"strconv"
	"strings"
	"time"

	"closedloop/load"
	"closedloop/transform/identity"
)

// Milestones are the conversion types the CRM milestones give (lead, mql, sql,
// opportunity, customer): a run computes them from the CRM every time, so an
// incremental run does not read them back.
var Milestones = milestones

// historyTouch is a touchpoint of fct_touchpoint from before Options.Since.
type historyTouch struct {
	at                      int64
	id                      uint64
	anon, person            int32 // codes in Stream.strs
	channel, campaign, term int32
}

// history is the state an incremental run read back (load.StateSink), kept until
// the persons are known.
type history struct {
	touches  []historyTouch
	convs    []eventConversion // with their ids; node -1, person in persons
	persons  []int32           // per conversion: code of its person_id in Stream.strs
	lastSeen map[int32]int64   // person_id code -> last seen
	personOf map[int32]int32   // stored node -> code of its stored person_id
	dropped  int               // rows whose person the graph no longer holds
	// dealEdges are the stored deal-contact links, added after the run's deals
	// (addStoredDeals).
	dealEdges []storedDealEdge
}

var _ load.StateSink = (*Stream)(nil)

// Identifier adds a stored identifier to the graph, and remembers its person.
func (s *Stream) Identifier(typ, value string, firstSeen int64, personID string) error {
	t, err := identity.ParseType(typ)
	if err != nil {
		return err
	}
	s.gmu.Lock()
	n := s.graph.NodeStored(t, value, firstSeen)
	s.gmu.Unlock()
	if n < 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hist.personOf == nil {
		s.hist.personOf = map[int32]int32{}
	}
	s.hist.personOf[n] = s.strs.code(personID)
	return nil
}

// merged returns the persons that hold identifiers of two or more persons the
// warehouse stored: an identity merge reached back, so the journeys of their older
// conversions may have changed.
func (h *history) merged(p *identity.Persons) map[int32]bool {
	stored := map[int32]int32{} // person -> a stored person id code
	out := map[int32]bool{}
	for n, code := range h.personOf {
		person := p.Of(n)
		if c, ok := stored[person]; !ok {
			stored[person] = code
		} else if c != code {
			out[person] = true
		}
	}
	return out
}

// Edge adds a stored identity edge to the graph.
func (s *Stream) Edge(aType, a, bType, b, kind string, observedAt int64) error {
	at, err := identity.ParseType(aType)
	if err != nil {
		return err
	}
	bt, err := identity.ParseType(bType)
	if err != nil {
		return err
	}
	k, err := identity.ParseEdgeKind(kind)
	if err != nil {
		return err
	}
	if k == identity.DealContact && (at == identity.CRMDeal) != (bt == identity.CRMDeal) {
		if bt == identity.CRMDeal {
			at, a, bt, b = bt, b, at, a
		}
		// Held until the run's own deals are known: a deal's primary contact can
		// change (a contact added later, with a smaller id or marked primary), and the
		// stored link to the former one would merge two buyers into one person.
		s.mu.Lock()
		s.hist.dealEdges = append(s.hist.dealEdges, storedDealEdge{deal: a, contactType: bt, contact: b, at: observedAt})
		s.mu.Unlock()
		return nil
	}
	s.gmu.Lock()
	defer s.gmu.Unlock()
	g := s.graph
	g.Edge(g.NodeStored(at, a, 0), g.NodeStored(bt, b, 0), k, observedAt)
	return nil
}

// storedDealEdge is a stored link of a deal ("crm:deal_id") to its primary contact.
type storedDealEdge struct {
	deal        string
	contactType identity.Type
	contact     string
	at          int64
}

// addStoredDeals adds the stored deal links of the deals whose primary contact this
// run does not know; the others are replaced by the run's own (addDeals).
func (h *history) addStoredDeals(g *identity.Graph, primary map[string]string) {
	for _, e := range h.dealEdges {
		if _, ok := primary[e.deal]; ok {
			continue
		}
		g.Edge(g.NodeStored(identity.CRMDeal, e.deal, 0), g.NodeStored(e.contactType, e.contact, 0), identity.DealContact, e.at)
	}
}

// Touchpoint keeps a stored touchpoint for the journeys and the models.
func (s *Stream) Touchpoint(id, personID, anonymousID string, at int64, channel, campaign, term string) error {
	h, err := strconv.ParseUint(strings.TrimPrefix(id, "t_"), 16, 64)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hist.touches = append(s.hist.touches, historyTouch{at: at, id: h, anon: s.strs.code(anonymousID),
		person: s.strs.code(personID), channel: s.strs.code(channel), campaign: s.strs.code(campaign), term: s.strs.code(term)})
	return nil
}

// Conversion keeps a stored conversion of events.
func (s *Stream) Conversion(id, personID string, at int64, typ string, revenue float64, currency string) error {
	h, err := strconv.ParseUint(strings.TrimPrefix(id, "c_"), 16, 64)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hist.convs = append(s.hist.convs, eventConversion{node: -1, at: at, name: strings.Clone(typ), value: revenue,
		currency: strings.Clone(currency), id: h})
	s.hist.persons = append(s.hist.persons, s.strs.code(personID))
	return nil
}

// Person keeps when a stored person was last seen.
func (s *Stream) Person(personID string, lastSeen int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hist.lastSeen == nil {
		s.hist.lastSeen = map[int32]int64{}
	}
	c := s.strs.code(personID)
	s.hist.lastSeen[c] = max(s.hist.lastSeen[c], lastSeen)
	return nil
}

// storedNodes maps the person ids an earlier run wrote to the node each was derived
// from (identity.Graph.OwnID), and the history's cookies to their nodes: stored rows
// find their persons through them.
type storedNodes struct {
	s    *Stream
	byID map[string]int32
}

func (s *Stream) storedNodes() *storedNodes {
	g := s.graph
	m := &storedNodes{s: s, byID: make(map[string]int32, g.Len())}
	for n := int32(0); n < int32(g.Len()); n++ {
		m.byID[g.OwnID(n)] = n
	}
	return m
}

// node is the node of a stored row: its cookie's, else its person's; -1 for none.
func (m *storedNodes) node(anon, person int32) int32 {
	if m == nil {
		return -1
	}
	if anon > 0 {
		if n := m.s.graph.Lookup(identity.AnonymousID, m.s.strs.val(anon)); n >= 0 {
			return n
		}
	}
	if n, ok := m.byID[m.s.strs.val(person)]; ok {
		return n
	}
	return -1
}

// sessionReach is how far before Options.Since an incremental run walks events, so
// that a session which crosses midnight into Since is whole.
const sessionReach = SessionReach

// SessionReach is how far before Options.Since an incremental run walks events into
// sessions (the bigquery engine's SQL does the same).
const SessionReach = 24 * time.Hour
