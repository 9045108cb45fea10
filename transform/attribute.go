package transform

import (
	"context"
	"math"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/sourcegraph/conc/pool"

	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/identity"
)

// attributed is the attribution step's result.
type attributed struct {
	credits        arrow.Table // fct_attribution, or creditsSpilled
	creditsSpilled *Spilled
	removalEffects arrow.Table // fct_markov_removal_effect
	// journeys counts the range's conversions, withoutTouch those whose journey has no
	// touch.
	journeys, withoutTouch int
}

// attribute builds each conversion's journey under every scope of the run and writes
// every model's credits. The data-driven models are first fitted per scope and
// conversion type on the paths of every journey of the scope the run sees (all days,
// converting and non-converting), then weigh the range's journeys like the others.
// One scope's journeys are held at a time.
func attribute(ctx context.Context, r *run, t *touches, cv *conversions, p *identity.Persons) (*attributed, error) {
	res := &attributed{}
	re := newTable(r.opt.Mem, load.FctMarkovRemovalEffect)
	spent := make([]time.Duration, len(r.opt.Models)) // per model of r.opt.Models
	// Each scope's spans are joined as soon as it is done, so that their builders go.
	var tables []arrow.Table
	var spilled []*Spilled
	release := func() {
		for k := range tables {
			if tables[k] != nil {
				tables[k].Release()
			}
			if spilled[k] != nil {
				spilled[k].Release()
			}
		}
		re.release()
	}
	var journeyTime time.Duration
	for k, sc := range r.scopes() {
		wr, d, err := attributeScope(ctx, r, sc, t, cv, p, re, spent)
		journeyTime += d
		bts := make([]*bigTable, len(wr))
		for i, w := range wr {
			if k == 0 {
				res.journeys += w.journeys
				res.withoutTouch += w.withoutTouch
			}
			bts[i] = w.bt
		}
		tbl, sp, err := joinSpans(r, load.FctAttribution, bts, err)
		if err != nil {
			release()
			return nil, err
		}
		tables, spilled = append(tables, tbl), append(spilled, sp)
	}
	r.stage("journeys", journeyTime)
	for i, m := range r.opt.Models {
		r.stage("model:"+m.Name(), spent[i])
	}
	res.removalEffects = re.table()
	res.credits, res.creditsSpilled = joinTables(r.opt.Mem, load.FctAttribution, tables, spilled)
	return res, nil
}

// attributeScope credits the conversions under scope sc: the removal effects of its
// markov fits go to re, each model's time is added to spent. It returns the writers of
// its spans (none when it failed before writing) and the time its journeys took.
func attributeScope(ctx context.Context, r *run, sc Scope, t *touches, cv *conversions, p *identity.Persons, re *out,
	spent []time.Duration) ([]*creditWriter, time.Duration, error) {
	t0 := time.Now()
	jb := forScope(sc, t, cv, r.opt.Lookback.Microseconds(), r.opt.OverlapJourneys)
	paths, err := modelPaths(ctx, r.opt.Models, jb, cv.types)
	if err != nil {
		return nil, 0, err
	}
	dj := time.Since(t0)
	models, fitted, err := fitPaths(ctx, r.opt.Models, paths, cv.types, spent)
	if err != nil {
		return nil, dj, err
	}
	removalEffects(re, sc, fitted, t.channels, cv.types)
	// Owners are independent: spans of them are credited on every core, each into a
	// table of its own, joined in owner order into what one walk writes.
	spans := []span{jb.all()}
	if len(jb.cs) >= 2*minAttributionSpan {
		spans = jb.spans(min(runtime.GOMAXPROCS(0), len(jb.cs)/minAttributionSpan))
	}
	writers := make([]*creditWriter, len(spans))
	for k := range spans {
		writers[k] = &creditWriter{bt: newBigTable(r, load.FctAttribution), t: t, cv: cv, persons: p, scope: string(sc)}
		if r.opt.Stage != nil {
			writers[k].spent = make([]time.Duration, len(r.opt.Models))
		}
	}
	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for k, sp := range spans {
		g.Go(func(ctx context.Context) error { return writers[k].credits(ctx, r, jb, sp, models) })
	}
	err = g.Wait()
	for _, w := range writers {
		for i, d := range w.spent {
			spent[i] += d
		}
	}
	return writers, dj, err
}

// minAttributionSpan is the fewest conversions worth a span of their own (a variable
// for tests).
var minAttributionSpan = 1 << 13

// credits writes the credits of the range's conversions of sp's owners.
func (w *creditWriter) credits(ctx context.Context, r *run, jb *journeys, sp span, models [][]attribution.Model) error {
	cv := w.cv
	var weights []float64
	return jb.each(ctx, sp, func(c int32, j *attribution.Journey, touches []int32) {
		if !r.attributes(cv.at[c]) {
			return
		}
		w.journeys++
		if len(touches) == 0 {
			w.withoutTouch++
		}
		if cap(weights) < len(touches) {
			weights = make([]float64, len(touches))
		}
		weights = weights[:len(touches)]
		var t0 time.Time
		if w.spent != nil {
			t0 = time.Now()
		}
		for i, m := range models[cv.typ[c]] {
			if len(touches) == 0 {
				w.credit(c, -1, m.Name(), 1)
			} else {
				m.Weights(*j, weights)
				for k, tp := range touches {
					if weights[k] > 0 {
						w.credit(c, tp, m.Name(), weights[k])
					}
				}
			}
			if w.spent != nil {
				now := time.Now()
				w.spent[i] += now.Sub(t0)
				t0 = now
			}
		}
	})
}

// fittedModel is a data-driven model fitted on one conversion type's paths.
type fittedModel struct {
	typ   int32
	model attribution.Model
}

// modelPaths returns each conversion type's paths (by code) when a model of given is
// fitted on them (data-driven), else empty sets.
func modelPaths(ctx context.Context, given []attribution.Model, jb *journeys, types *dict) ([]attribution.PathSet, error) {
	for _, m := range given {
		if _, ok := m.(attribution.DataDriven); ok {
			return jb.paths(ctx, types.len())
		}
	}
	return make([]attribution.PathSet, types.len()), nil
}

// Columns of fct_markov_removal_effect.
var (
	reConversionType = col(load.FctMarkovRemovalEffect, "conversion_type")
	reChannel        = col(load.FctMarkovRemovalEffect, "channel")
	reMarkovOrder    = col(load.FctMarkovRemovalEffect, "markov_order")
	reRemovalEffect  = col(load.FctMarkovRemovalEffect, "removal_effect")
	reShare          = col(load.FctMarkovRemovalEffect, "removal_effect_share")
	reConversions    = col(load.FctMarkovRemovalEffect, "conversions")
	reValue          = col(load.FctMarkovRemovalEffect, "value")
	reScope          = col(load.FctMarkovRemovalEffect, "scope")
)

// removalEffects writes the rows of fct_markov_removal_effect of the markov models
// fitted on scope sc's journeys to o.
func removalEffects(o *out, sc Scope, fitted []fittedModel, channels, types *dict) {
	for _, f := range fitted {
		mk := attribution.MarkovOf(f.model)
		if mk == nil {
			continue
		}
		for i, ch := range mk.Channels {
			share := mk.Share(ch)
			o.str(reConversionType, types.val(f.typ))
			o.str(reChannel, channels.val(ch))
			o.i64(reMarkovOrder, int64(mk.Order), true)
			o.f64(reRemovalEffect, mk.RemovalEffect[i], true)
			o.f64(reShare, share, true)
			o.f64(reConversions, share*mk.Conversions, true)
			o.f64(reValue, share*mk.Value, true)
			o.str(reScope, string(sc))
		}
	}
}

// Columns of fct_attribution.
var (
	atConversionID    = col(load.FctAttribution, "conversion_id")
	atTouchpointID    = col(load.FctAttribution, "touchpoint_id")
	atModel           = col(load.FctAttribution, "model")
	atCredit          = col(load.FctAttribution, "credit")
	atRevenueCredit   = col(load.FctAttribution, "revenue_credit")
	atChannel         = col(load.FctAttribution, "channel")
	atCampaign        = col(load.FctAttribution, "campaign")
	atTerm            = col(load.FctAttribution, "term")
	atConversionType  = col(load.FctAttribution, "conversion_type")
	atOccurredAt      = col(load.FctAttribution, "occurred_at")
	atTouchOccurredAt = col(load.FctAttribution, "touch_occurred_at")
	atPersonID        = col(load.FctAttribution, "person_id")
	atScope           = col(load.FctAttribution, "scope")
	atTouchPersonID   = col(load.FctAttribution, "touch_person_id")
)

// creditWriter writes fct_attribution rows.
type creditWriter struct {
	bt *bigTable
	// journeys and withoutTouch count the conversions credited, and those without
	// a touch.
	journeys, withoutTouch int
	t                      *touches
	cv                     *conversions
	persons                *identity.Persons
	scope                  string // fct_attribution.scope
	// spent is each model's time weighing journeys (by index in Options.Models), when
	// Options.Stage wants it; else nil.
	spent []time.Duration
}

// credit writes one row: the credit of touch for conversion c under model; touch -1 is
// the (none) row of a conversion without touches.
func (w *creditWriter) credit(c, touch int32, model string, credit float64) {
	o, t, cv := w.bt.o, w.t, w.cv
	rev := cv.revenue[c]
	o.str(atConversionID, hexID("c_", cv.id[c]))
	o.str(atModel, model)
	o.f64(atCredit, credit, true)
	o.f64(atRevenueCredit, credit*rev, !math.IsNaN(rev))
	if touch < 0 {
		o.str(atTouchpointID, "")
		o.str(atChannel, "(none)")
		o.str(atCampaign, "")
		o.str(atTerm, "")
		o.ts(atTouchOccurredAt, 0)
		o.str(atTouchPersonID, "")
	} else {
		o.str(atTouchpointID, hexID("t_", t.id[touch]))
		o.str(atChannel, t.channels.val(t.channel[touch]))
		o.str(atCampaign, t.campaigns.val(t.campaign[touch]))
		o.str(atTerm, t.terms.val(t.term[touch]))
		o.ts(atTouchOccurredAt, t.at[touch])
		o.str(atTouchPersonID, w.persons.ID(t.person[touch]))
	}
	o.str(atConversionType, cv.types.val(cv.typ[c]))
	o.ts(atOccurredAt, cv.at[c])
	o.str(atPersonID, w.persons.ID(cv.person[c]))
	o.str(atScope, w.scope)
	w.bt.row()
}
