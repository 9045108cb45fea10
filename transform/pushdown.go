package transform

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/identity"
	"closedloop/transform/persona"
)

// Pushdown is an engine that runs the per-event steps where the events live (package
// sqlengine renders them as BigQuery SQL): a Stream given one (Options.Pushdown) keeps
// in Go only what the events reduce to. Its events are the distinct identifiers the
// engine found, added as identify rows (so identity is the local engine's), and any
// other source's rows (a CRM's activities); Finish then asks the engine for the
// sessions once persons are known, and for the journeys of the conversions.
//
// Sessions, touchpoints, page views and credits stay in the engine's tables; what
// comes back are counts and aggregates: each device's activity, the conversions among
// the events, the distinct shapes of the journeys and the paths the data-driven models
// fit on.
type Pushdown interface {
	// Sessions builds the engine's sessions, touchpoints and page views with the
	// persons of p (g's nodes: a device is the node of its cookie, or of its user id
	// or e-mail without one).
	Sessions(ctx context.Context, g *identity.Graph, p *identity.Persons, needs persona.Needs) (*Pushed, error)
	// Journeys puts the conversions and the touches Go holds (a CRM's activities)
	// beside the engine's touches and returns the journeys' shapes and paths.
	Journeys(ctx context.Context, convs []PushedConversion, touches []PushedTouch) (*PushedJourneys, error)
	// Credits writes fct_attribution's rows from the weights of each journey shape
	// (halfLife > 0: time_decay is computed where the touch times are).
	Credits(ctx context.Context, weights []ShapeWeight, halfLife float64, models []string) (journeys, withoutTouch int, err error)
}

// Pushed is what a Pushdown's sessions step returns.
type Pushed struct {
	Events, Sessions, Touchpoints, PageViews int
	// IdentifierRows is how many identify rows the engine added to the Stream (its
	// distinct identifiers): they are no events of the sources.
	IdentifierRows int
	// LastSeen is each device's last event (µs).
	LastSeen map[int32]int64
	// Seen is each device's distinct pages, downloads and event names, as far as the
	// persona rules read them (persona.Needs).
	Seen []PushedSeen
	// Conversions are the events that are conversions (purchases, micro-conversions).
	Conversions []PushedEventConversion
}

// PushedSeen is one thing a device did that the persona rules read.
type PushedSeen struct {
	Device int32
	Kind   string // "page", "download" or "event"
	Value  string
}

// PushedEventConversion is an event that is a conversion, on its device.
type PushedEventConversion struct {
	Device     int32
	At         int64 // µs
	Anon, Name string
	Value      float64 // NaN: none
	Currency   string
}

// PushedConversion is a conversion with what its journey needs: the touches of its
// person from From to At, and the times whose last touch at or before marks a
// milestone (0: none).
type PushedConversion struct {
	ID, Person, Type                string
	At, From                        int64
	Revenue                         float64 // NaN: unknown
	LeadRef, OpportunityRef, WonRef int64
	Attributed                      bool // its credits are written this run
}

// PushedTouch is a touch Go holds, for the journeys.
type PushedTouch struct {
	ID, Person, Channel, Campaign, Term string
	At                                  int64
}

// JourneyShape is a distinct journey of conversions to credit: its type, channels and
// milestone positions (-1: none).
type JourneyShape struct {
	Type                   string
	Channels               []string
	Lead, Opportunity, Won int
}

// PushedJourneys are the journeys' shapes and, per conversion type, the paths of
// every person (converted or not) that the data-driven models fit on.
type PushedJourneys struct {
	Shapes []JourneyShape
	Paths  map[string][]PushedPath
}

// PushedPath is a path of channels with its counts.
type PushedPath struct {
	Channels                  []string
	Conversions, Value, Nulls float64
}

// ShapeWeight is the weights one model gives the touches of one journey shape.
type ShapeWeight struct {
	Shape   int // index in PushedJourneys.Shapes
	Model   string
	Weights []float64
}

// pushSessions asks the Pushdown for its sessions and adds what they reduce to: the
// devices' activity and the conversion events, before the Go-side sessions finish.
func (s *Stream) pushSessions(ctx context.Context, id *stitched) (*Pushed, error) {
	pd := s.r.opt.Pushdown
	res, err := pd.Sessions(ctx, id.graph, id.persons, s.needs)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for dev, at := range res.LastSeen {
		s.act.lastSeen.see(dev, at)
	}
	kinds := map[string]seenKind{"page": seenPage, "download": seenDownload, "event": seenEvent}
	for _, x := range res.Seen {
		s.act.seen.add(x.Device, kinds[x.Kind], x.Value)
	}
	for _, c := range res.Conversions {
		if c.At < s.since {
			continue
		}
		s.convs = append(s.convs, eventConversion{node: c.Device, at: c.At, anon: c.Anon, name: c.Name, value: c.Value,
			currency: c.Currency, id: hashParts("event", c.Anon, strconv.FormatInt(c.At, 10), c.Name)})
	}
	return res, nil
}

// pushAttribute credits the conversions through the Pushdown: journeys are built and
// weighed where the touches are, from the weights Go's models give each distinct
// journey shape (the data-driven models fitted on the paths the engine aggregated).
func pushAttribute(ctx context.Context, r *run, t *touches, cv *conversions, p *identity.Persons) (*attributed, error) {
	pd := r.opt.Pushdown
	if sc := r.scopes(); len(sc) != 1 || sc[0] != ScopePerson {
		return nil, fmt.Errorf("journey scopes %v: the bigquery engine renders person journeys only", sc)
	}
	convs := pushedConversions(r, cv, p)
	var gts []PushedTouch
	for i := range t.at {
		gts = append(gts, PushedTouch{ID: hexID("t_", t.id[i]), Person: p.ID(t.person[i]), At: t.at[i],
			Channel: t.channels.val(t.channel[i]), Campaign: t.campaigns.val(t.campaign[i]), Term: t.terms.val(t.term[i])})
	}
	t0 := time.Now()
	pj, err := pd.Journeys(ctx, convs, gts)
	if err != nil {
		return nil, err
	}
	r.stage("journeys", time.Since(t0))
	channels, types := newDict(), cv.types
	codes := func(names []string) []int32 {
		out := make([]int32, len(names))
		for i, n := range names {
			out[i] = channels.code(n)
		}
		return out
	}
	sets := make([]attribution.PathSet, types.len())
	for typ, paths := range pj.Paths {
		for _, pa := range paths {
			sets[types.lookup(typ)].Add(codes(pa.Channels), pa.Conversions, pa.Value, pa.Nulls)
		}
	}
	spent := make([]time.Duration, len(r.opt.Models)) // per model of r.opt.Models
	models, fitted, err := fitPaths(ctx, r.opt.Models, sets, types, spent)
	if err != nil {
		return nil, err
	}
	direct := channels.lookup("Direct")
	var weights []ShapeWeight
	halfLife := 0.0
	var names []string
	for _, m := range r.opt.Models {
		names = append(names, m.Name())
	}
	for k, sh := range pj.Shapes {
		j := attribution.Journey{Channel: codes(sh.Channels), Direct: direct, Lead: sh.Lead, Opportunity: sh.Opportunity, Won: sh.Won}
		for i := range j.Channel {
			j.At = append(j.At, int64(i))
		}
		j.ConvAt = int64(len(j.Channel) - 1)
		for i, m := range models[types.lookup(sh.Type)] {
			if m.Name() == attribution.TimeDecay {
				continue
			}
			t0 := time.Now()
			w := make([]float64, len(j.Channel))
			m.Weights(j, w)
			weights = append(weights, ShapeWeight{Shape: k, Model: m.Name(), Weights: w})
			spent[i] += time.Since(t0)
		}
	}
	for _, m := range r.opt.Models {
		if m.Name() == attribution.TimeDecay {
			halfLife = attribution.HalfLifeMicros(m)
		}
	}
	re := newTable(r.opt.Mem, load.FctMarkovRemovalEffect)
	removalEffects(re, ScopePerson, fitted, channels, types)
	res := &attributed{removalEffects: re.table()}
	if res.journeys, res.withoutTouch, err = pd.Credits(ctx, weights, halfLife, names); err != nil {
		res.removalEffects.Release()
		return nil, err
	}
	for i, m := range r.opt.Models {
		r.stage("model:"+m.Name(), spent[i])
	}
	res.credits = newTable(r.opt.Mem, load.FctAttribution).table()
	return res, nil
}

// pushedConversions is every conversion with its journey's start and milestone times,
// as journeys.each and setMilestones find them.
func pushedConversions(r *run, cv *conversions, p *identity.Persons) []PushedConversion {
	order := make([]int32, cv.len())
	for i := range order {
		order[i] = int32(i)
	}
	types := cv.types
	slices.SortFunc(order, func(x, y int32) int {
		if c := cv.person[x] - cv.person[y]; c != 0 {
			return int(c)
		}
		if cv.at[x] != cv.at[y] {
			if cv.at[x] < cv.at[y] {
				return -1
			}
			return 1
		}
		if c := strings.Compare(types.val(cv.typ[x]), types.val(cv.typ[y])); c != 0 {
			return c
		}
		switch {
		case cv.id[x] < cv.id[y]:
			return -1
		case cv.id[x] > cv.id[y]:
			return 1
		}
		return 0
	})
	lookback := r.opt.Lookback.Microseconds()
	lead, mql, sqlT := types.lookup("lead"), types.lookup("mql"), types.lookup("sql")
	opp, customer := types.lookup("opportunity"), types.lookup("customer")
	out := make([]PushedConversion, 0, len(order))
	for lo := 0; lo < len(order); {
		hi := lo
		for hi < len(order) && cv.person[order[hi]] == cv.person[order[lo]] {
			hi++
		}
		var firstLead int64
		oppOfDeal := map[int32]int64{}
		for _, c := range order[lo:hi] {
			switch cv.typ[c] {
			case lead:
				if firstLead == 0 || cv.at[c] < firstLead {
					firstLead = cv.at[c]
				}
			case opp:
				if t, ok := oppOfDeal[cv.deal[c]]; !ok || cv.at[c] < t {
					oppOfDeal[cv.deal[c]] = cv.at[c]
				}
			}
		}
		prev := map[int32]int64{}
		for _, c := range order[lo:hi] {
			at := cv.at[c]
			from := at - lookback
			if last, ok := prev[cv.typ[c]]; ok && last >= from && !r.opt.OverlapJourneys {
				from = last + 1
			}
			prev[cv.typ[c]] = at
			pc := PushedConversion{ID: hexID("c_", cv.id[c]), Person: p.ID(cv.person[c]), Type: types.val(cv.typ[c]),
				At: at, From: from, Revenue: cv.revenue[c], Attributed: r.attributes(at)}
			switch cv.typ[c] {
			case lead:
				pc.LeadRef = at
			case mql, sqlT:
				pc.LeadRef = firstLead
			case opp:
				pc.LeadRef, pc.OpportunityRef = firstLead, at
			case customer:
				pc.LeadRef, pc.WonRef = firstLead, at
				if t, ok := oppOfDeal[cv.deal[c]]; ok && cv.deal[c] != 0 {
					pc.OpportunityRef = t
				} else if len(oppOfDeal) > 0 {
					first := int64(math.MaxInt64)
					for _, t := range oppOfDeal {
						first = min(first, t)
					}
					pc.OpportunityRef = first
				}
			default:
				pc.LeadRef, pc.WonRef = at, at
			}
			out = append(out, pc)
		}
		lo = hi
	}
	return out
}

// fitPaths returns the models of each conversion type (by code): the rule-based ones
// as given, the data-driven ones fitted on that type's paths (modelPaths', or those an
// engine aggregated). Each fit's time is added to spent[i], i its model's index in
// given.
func fitPaths(ctx context.Context, given []attribution.Model, paths []attribution.PathSet, types *dict, spent []time.Duration) ([][]attribution.Model, []fittedModel, error) {
	models := make([][]attribution.Model, types.len())
	var fitted []fittedModel
	for typ := range models {
		for i, m := range given {
			dd, ok := m.(attribution.DataDriven)
			if !ok || paths[typ].Len() == 0 {
				models[typ] = append(models[typ], m)
				continue
			}
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			t0 := time.Now()
			f, err := dd.Fit(paths[typ].Paths)
			spent[i] += time.Since(t0)
			if err != nil {
				return nil, nil, fmt.Errorf("%s for %q conversions: %w", m.Name(), types.val(int32(typ)), err)
			}
			models[typ] = append(models[typ], f)
			fitted = append(fitted, fittedModel{typ: int32(typ), model: f})
		}
	}
	return models, fitted, nil
}
