package transform

import (
	"context"
	"math"
	"slices"
	"strings"

	"closedloop/transform/attribution"
)

// journeys walks the conversions and touches person by person: every conversion's
// journey, and the non-converting journeys the data-driven models learn from.
type journeys struct {
	b        *builder
	ts       []int32 // touches by person, time, id
	cs       []int32 // conversions by person, time, type, id
	lookback int64   // µs
	direct   int32   // channel code of Direct, -1 when no touch has it
	// conversion type codes of the CRM milestones, -1 when absent
	lead, mql, sql, opp, customer int32
}

func (b *builder) newJourneys() *journeys {
	jb := &journeys{b: b, lookback: b.opt.Lookback.Microseconds(), direct: -1}
	if c, ok := b.channels.idx["Direct"]; ok {
		jb.direct = c
	}
	code := func(s string) int32 {
		if c, ok := b.types.idx[s]; ok {
			return c
		}
		return -1
	}
	jb.lead, jb.mql, jb.sql, jb.opp, jb.customer = code("lead"), code("mql"), code("sql"), code("opportunity"), code("customer")

	jb.ts = make([]int32, len(b.tAt))
	for i := range jb.ts {
		jb.ts[i] = int32(i)
	}
	slices.SortFunc(jb.ts, func(x, y int32) int {
		if c := b.tPerson[x] - b.tPerson[y]; c != 0 {
			return int(c)
		}
		if b.tAt[x] != b.tAt[y] {
			return cmpInt64(b.tAt[x], b.tAt[y])
		}
		return cmpUint64(b.tID[x], b.tID[y])
	})
	jb.cs = make([]int32, len(b.cAt))
	for i := range jb.cs {
		jb.cs[i] = int32(i)
	}
	slices.SortFunc(jb.cs, func(x, y int32) int {
		if c := b.cPerson[x] - b.cPerson[y]; c != 0 {
			return int(c)
		}
		if b.cAt[x] != b.cAt[y] {
			return cmpInt64(b.cAt[x], b.cAt[y])
		}
		if c := strings.Compare(b.types.val(b.cType[x]), b.types.val(b.cType[y])); c != 0 {
			return c
		}
		return cmpUint64(b.cID[x], b.cID[y])
	})
	return jb
}

// person is one person's touches and conversions, sorted.
type person struct {
	touches []int32
	at      []int64 // touch times
	convs   []int32
}

// walk calls fn for every person with a touch or a conversion.
func (jb *journeys) walk(ctx context.Context, fn func(p *person)) error {
	b := jb.b
	var p person
	ti, ci := 0, 0
	for n := 0; ti < len(jb.ts) || ci < len(jb.cs); n++ {
		if n%4096 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		id := int32(math.MaxInt32)
		if ti < len(jb.ts) {
			id = b.tPerson[jb.ts[ti]]
		}
		if ci < len(jb.cs) {
			id = min(id, b.cPerson[jb.cs[ci]])
		}
		tEnd := ti
		for tEnd < len(jb.ts) && b.tPerson[jb.ts[tEnd]] == id {
			tEnd++
		}
		cEnd := ci
		for cEnd < len(jb.cs) && b.cPerson[jb.cs[cEnd]] == id {
			cEnd++
		}
		p.touches, p.convs = jb.ts[ti:tEnd], jb.cs[ci:cEnd]
		p.at = p.at[:0]
		for _, t := range p.touches {
			p.at = append(p.at, b.tAt[t])
		}
		fn(&p)
		ti, ci = tEnd, cEnd
	}
	return nil
}

// each calls fn for every conversion (all days) with its journey and the indexes of
// its touches; both are reused by the next call.
func (jb *journeys) each(ctx context.Context, fn func(c int32, j *attribution.Journey, touches []int32)) error {
	b := jb.b
	var (
		j    attribution.Journey
		idx  []int32
		prev = map[int32]int64{} // conversion type -> time of the person's previous one
	)
	return jb.walk(ctx, func(p *person) {
		clear(prev)
		firstLead, oppOfDeal := jb.milestoneTimes(p)
		for _, c := range p.convs {
			at := b.cAt[c]
			from := at - jb.lookback
			if last, ok := prev[b.cType[c]]; ok && last >= from && !b.opt.OverlapJourneys {
				from = last + 1 // the next journey of a type starts after the previous conversion
			}
			prev[b.cType[c]] = at
			lo, _ := slices.BinarySearch(p.at, from)
			hi, _ := slices.BinarySearch(p.at, at+1)
			idx = append(idx[:0], p.touches[lo:hi]...)
			j.At, j.Channel = j.At[:0], j.Channel[:0]
			for _, t := range idx {
				j.At = append(j.At, b.tAt[t])
				j.Channel = append(j.Channel, b.tChannel[t])
			}
			j.ConvAt, j.Direct = at, jb.direct
			jb.setMilestones(&j, c, firstLead, oppOfDeal)
			fn(c, &j, idx)
		}
	})
}

// milestoneTimes returns the person's first lead time (0 if none) and the
// opportunity time of each of their deals.
func (jb *journeys) milestoneTimes(p *person) (firstLead int64, oppOfDeal map[int32]int64) {
	b := jb.b
	for _, c := range p.convs {
		switch b.cType[c] {
		case jb.lead:
			if firstLead == 0 || b.cAt[c] < firstLead {
				firstLead = b.cAt[c]
			}
		case jb.opp:
			if oppOfDeal == nil {
				oppOfDeal = map[int32]int64{}
			}
			if t, ok := oppOfDeal[b.cDeal[c]]; !ok || b.cAt[c] < t {
				oppOfDeal[b.cDeal[c]] = b.cAt[c]
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
	b := jb.b
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
	switch typ := b.cType[c]; typ {
	case jb.lead:
		j.Lead = n - 1
	case jb.mql, jb.sql:
		j.Lead = lastAtOrBefore(firstLead)
	case jb.opp:
		j.Lead, j.Opportunity = lastAtOrBefore(firstLead), n-1
	case jb.customer:
		j.Lead, j.Won = lastAtOrBefore(firstLead), n-1
		if t, ok := oppOfDeal[b.cDeal[c]]; ok && b.cDeal[c] != 0 {
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
// journey (a conversion, valued at its revenue) and of every person's non-converting
// journey of that type (a null): the touches after the person's last conversion of
// the type, or all their touches if they never converted, within the lookback window
// before their last touch.
func (jb *journeys) paths(ctx context.Context, ntypes int) ([]attribution.PathSet, error) {
	b := jb.b
	sets := make([]attribution.PathSet, ntypes)
	err := jb.each(ctx, func(c int32, j *attribution.Journey, _ []int32) {
		v := b.cRevenue[c]
		if math.IsNaN(v) {
			v = 0
		}
		sets[b.cType[c]].Add(j.Channel, 1, v, 0)
	})
	if err != nil {
		return nil, err
	}
	last := make([]int64, ntypes)
	var ch []int32
	err = jb.walk(ctx, func(p *person) {
		if len(p.touches) == 0 {
			return
		}
		for i := range last {
			last[i] = math.MinInt64
		}
		for _, c := range p.convs {
			last[b.cType[c]] = max(last[b.cType[c]], b.cAt[c])
		}
		from := p.at[len(p.at)-1] - jb.lookback
		for typ := 1; typ < ntypes; typ++ { // code 0 is the empty type
			lo, _ := slices.BinarySearch(p.at, max(from, satAdd(last[typ], 1)))
			if lo == len(p.at) {
				continue
			}
			ch = ch[:0]
			for _, t := range p.touches[lo:] {
				ch = append(ch, b.tChannel[t])
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
