package transform

import (
	"cmp"
	"context"
	"math"
	"slices"
	"strings"

	"closedloop/transform/attribution"
)

// journeys walks the conversions and touches journey owner by journey owner: every
// conversion's journey, and the non-converting journeys the data-driven models learn
// from. The owner is the person under ScopePerson; forScope keys the same touches and
// conversions by the owners of another scope.
type journeys struct {
	t     *touches
	cv    *conversions
	scope Scope
	ts    []int32 // touches by owner, time, id (under ScopeDeal a touch may be several owners')
	cs    []int32 // conversions by owner, time, type, id
	// tsOwner and csOwner are the owner of each entry of ts and cs.
	tsOwner, csOwner []int32
	// nullFrom is the first owner with non-converting journeys of its own (ScopeDeal's
	// deals have none: their persons do).
	nullFrom int32
	// firstLead is the first lead time of owners whose own conversions hold none
	// (ScopeDeal's deals: their persons' first lead).
	firstLead map[int32]int64
	// through is, per owner of ScopeDeal's persons, the conversions of the deals the
	// person is on: a non-converting journey of a type starts after them too.
	through  map[int32][]int32
	lookback int64 // µs
	overlap  bool  // Options.OverlapJourneys
	direct   int32 // channel code of Direct, -1 when no touch has it
	// conversion type codes of the CRM milestones, -1 when absent
	lead, mql, sql, opp, customer int32
}

// newJourneysOf starts the journeys of scope s, not yet indexed.
func newJourneysOf(s Scope, t *touches, cv *conversions, lookback int64, overlap bool) *journeys {
	jb := &journeys{t: t, cv: cv, scope: s, lookback: lookback, overlap: overlap, direct: t.channels.lookup("Direct")}
	types := cv.types
	jb.lead, jb.mql, jb.sql = types.lookup("lead"), types.lookup("mql"), types.lookup("sql")
	jb.opp, jb.customer = types.lookup("opportunity"), types.lookup("customer")
	return jb
}

// newJourneys returns the journeys of ScopePerson.
func newJourneys(t *touches, cv *conversions, lookback int64, overlap bool) *journeys {
	jb := newJourneysOf(ScopePerson, t, cv, lookback, overlap)
	types := cv.types
	jb.ts = make([]int32, t.len())
	for i := range jb.ts {
		jb.ts[i] = int32(i)
	}
	slices.SortFunc(jb.ts, func(x, y int32) int {
		if c := t.person[x] - t.person[y]; c != 0 {
			return int(c)
		}
		if t.at[x] != t.at[y] {
			return cmp.Compare(t.at[x], t.at[y])
		}
		return cmp.Compare(t.id[x], t.id[y])
	})
	jb.cs = make([]int32, cv.len())
	for i := range jb.cs {
		jb.cs[i] = int32(i)
	}
	slices.SortFunc(jb.cs, func(x, y int32) int {
		if c := cv.person[x] - cv.person[y]; c != 0 {
			return int(c)
		}
		if cv.at[x] != cv.at[y] {
			return cmp.Compare(cv.at[x], cv.at[y])
		}
		if c := strings.Compare(types.val(cv.typ[x]), types.val(cv.typ[y])); c != 0 {
			return c
		}
		return cmp.Compare(cv.id[x], cv.id[y])
	})
	jb.tsOwner, jb.csOwner = make([]int32, len(jb.ts)), make([]int32, len(jb.cs))
	for k, x := range jb.ts {
		jb.tsOwner[k] = t.person[x]
	}
	for k, c := range jb.cs {
		jb.csOwner[k] = cv.person[c]
	}
	return jb
}

// person is one journey owner's touches and conversions, sorted.
type person struct {
	owner   int32
	touches []int32
	at      []int64 // touch times
	convs   []int32
}

// span is a part of the walk, whole owners: jb.ts[ts0:ts1] and jb.cs[cs0:cs1].
type span struct{ ts0, ts1, cs0, cs1 int }

// all is the span of every person.
func (jb *journeys) all() span { return span{0, len(jb.ts), 0, len(jb.cs)} }

// spans cuts the owners into at most n spans of about as many conversions each, in
// owner order: walked side by side, their results joined in order are one walk's.
func (jb *journeys) spans(n int) []span {
	var out []span
	prev := span{}
	for k := 1; k < n; k++ {
		i := len(jb.cs) * k / n
		if i <= prev.cs0 || i >= len(jb.cs) {
			continue
		}
		p := jb.csOwner[i] // the span ends before this owner
		cs, _ := slices.BinarySearch(jb.csOwner, p)
		ts, _ := slices.BinarySearch(jb.tsOwner, p)
		if cs <= prev.cs0 {
			continue
		}
		out = append(out, span{prev.ts0, ts, prev.cs0, cs})
		prev = span{ts0: ts, cs0: cs}
	}
	return append(out, span{prev.ts0, len(jb.ts), prev.cs0, len(jb.cs)})
}

// walk calls fn for every owner of sp with a touch or a conversion.
func (jb *journeys) walk(ctx context.Context, sp span, fn func(p *person)) error {
	t := jb.t
	var p person
	ti, ci := sp.ts0, sp.cs0
	for n := 0; ti < sp.ts1 || ci < sp.cs1; n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		id := int32(math.MaxInt32)
		if ti < sp.ts1 {
			id = jb.tsOwner[ti]
		}
		if ci < sp.cs1 {
			id = min(id, jb.csOwner[ci])
		}
		tEnd := ti
		for tEnd < sp.ts1 && jb.tsOwner[tEnd] == id {
			tEnd++
		}
		cEnd := ci
		for cEnd < sp.cs1 && jb.csOwner[cEnd] == id {
			cEnd++
		}
		p.owner, p.touches, p.convs = id, jb.ts[ti:tEnd], jb.cs[ci:cEnd]
		p.at = p.at[:0]
		for _, k := range p.touches {
			p.at = append(p.at, t.at[k])
		}
		fn(&p)
		ti, ci = tEnd, cEnd
	}
	return nil
}

// each calls fn for every conversion (all days) of sp's owners with its journey and
// the indexes of its touches; both are reused by the next call.
func (jb *journeys) each(ctx context.Context, sp span, fn func(c int32, j *attribution.Journey, touches []int32)) error {
	t, cv := jb.t, jb.cv
	var (
		j    attribution.Journey
		idx  []int32
		prev = map[int32]int64{} // conversion type -> time of the person's previous one
	)
	return jb.walk(ctx, sp, func(p *person) {
		clear(prev)
		firstLead, oppOfDeal := jb.milestoneTimes(p)
		for _, c := range p.convs {
			at := cv.at[c]
			from := at - jb.lookback
			if last, ok := prev[cv.typ[c]]; ok && last >= from && !jb.overlap {
				from = last + 1 // the next journey of a type starts after the previous conversion
			}
			prev[cv.typ[c]] = at
			lo, _ := slices.BinarySearch(p.at, from)
			hi, _ := slices.BinarySearch(p.at, at+1)
			idx = append(idx[:0], p.touches[lo:hi]...)
			j.At, j.Channel = j.At[:0], j.Channel[:0]
			for _, k := range idx {
				j.At = append(j.At, t.at[k])
				j.Channel = append(j.Channel, t.channel[k])
			}
			j.ConvAt, j.Direct = at, jb.direct
			jb.setMilestones(&j, c, firstLead, oppOfDeal)
			fn(c, &j, idx)
		}
	})
}

// milestoneTimes returns the owner's first lead time (0 if none) and the
// opportunity time of each of their deals.
func (jb *journeys) milestoneTimes(p *person) (firstLead int64, oppOfDeal map[int32]int64) {
	cv := jb.cv
	if l, ok := jb.firstLead[p.owner]; ok {
		firstLead = l
	}
	for _, c := range p.convs {
		switch cv.typ[c] {
		case jb.lead:
			if firstLead == 0 || cv.at[c] < firstLead {
				firstLead = cv.at[c]
			}
		case jb.opp:
			if oppOfDeal == nil {
				oppOfDeal = map[int32]int64{}
			}
			if t, ok := oppOfDeal[cv.deal[c]]; !ok || cv.at[c] < t {
				oppOfDeal[cv.deal[c]] = cv.at[c]
			}
		}
	}
	return firstLead, oppOfDeal
}

// setMilestones sets the journey's lead, opportunity and closed-won touches: the last
// touch at or before the milestone (-1 when the journey has none then). A conversion
// is its own milestone: a lead's last touch is the lead-creation touch, an
// opportunity's the opportunity-creation touch, a customer's the closed-won touch. A
// conversion type outside the CRM funnel (a touch-log or micro-conversion) has its
// last touch stand for both the lead-creation and the closing touch.
func (jb *journeys) setMilestones(j *attribution.Journey, c int32, firstLead int64, oppOfDeal map[int32]int64) {
	cv := jb.cv
	j.Lead, j.Opportunity, j.Won = -1, -1, -1
	n := len(j.At)
	if n == 0 {
		return
	}
	lastAtOrBefore := func(t int64) int {
		if t == 0 {
			return -1
		}
		i, _ := slices.BinarySearch(j.At, t+1)
		return i - 1 // -1 when every touch is later
	}
	switch typ := cv.typ[c]; typ {
	case jb.lead:
		j.Lead = n - 1
	case jb.mql, jb.sql:
		j.Lead = lastAtOrBefore(firstLead)
	case jb.opp:
		j.Lead, j.Opportunity = lastAtOrBefore(firstLead), n-1
	case jb.customer:
		j.Lead, j.Won = lastAtOrBefore(firstLead), n-1
		if t, ok := oppOfDeal[cv.deal[c]]; ok && cv.deal[c] != 0 {
			j.Opportunity = lastAtOrBefore(t)
		} else if len(oppOfDeal) > 0 {
			first := int64(math.MaxInt64)
			for _, t := range oppOfDeal {
				first = min(first, t)
			}
			j.Opportunity = lastAtOrBefore(first)
		}
	default:
		j.Lead, j.Won = n-1, n-1
	}
}

// paths aggregates, per conversion type code, the channel paths of every conversion's
// journey (a conversion, valued at its revenue) and of every owner's non-converting
// journey of that type (a null): the touches after the owner's last conversion of
// the type, or all their touches if they never converted, within the lookback window
// before their last touch. Under ScopeDeal the persons own the non-converting
// journeys, and the conversions of a person's deals count as theirs.
func (jb *journeys) paths(ctx context.Context, ntypes int) ([]attribution.PathSet, error) {
	t, cv := jb.t, jb.cv
	sets := make([]attribution.PathSet, ntypes)
	err := jb.each(ctx, jb.all(), func(c int32, j *attribution.Journey, _ []int32) {
		v := cv.revenue[c]
		if math.IsNaN(v) {
			v = 0
		}
		sets[cv.typ[c]].Add(j.Channel, 1, v, 0)
	})
	if err != nil {
		return nil, err
	}
	last := make([]int64, ntypes)
	var ch []int32
	err = jb.walk(ctx, jb.all(), func(p *person) {
		if len(p.touches) == 0 || p.owner < jb.nullFrom {
			return
		}
		for i := range last {
			last[i] = math.MinInt64
		}
		for _, c := range p.convs {
			last[cv.typ[c]] = max(last[cv.typ[c]], cv.at[c])
		}
		for _, c := range jb.through[p.owner] {
			last[cv.typ[c]] = max(last[cv.typ[c]], cv.at[c])
		}
		from := p.at[len(p.at)-1] - jb.lookback
		for typ := 1; typ < ntypes; typ++ { // code 0 is the empty type
			lo, _ := slices.BinarySearch(p.at, max(from, satAdd(last[typ], 1)))
			if lo == len(p.at) {
				continue
			}
			ch = ch[:0]
			for _, k := range p.touches[lo:] {
				ch = append(ch, t.channel[k])
			}
			sets[typ].Add(ch, 0, 0, 1)
		}
	})
	return sets, err
}

// satAdd adds without overflow past math.MaxInt64 (MinInt64 + 1 stays small).
func satAdd(a, d int64) int64 {
	if a > math.MaxInt64-d {
		return math.MaxInt64
	}
	return a + d
}
