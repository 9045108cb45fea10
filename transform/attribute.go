package transform

import (
	"context"
	"math"
	"runtime"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
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

// attribute builds each conversion's journey and writes every model's credits. The
// data-driven models are first fitted per conversion type on the paths of every
// journey the run sees (all days, converting and non-converting), then weigh the
// range's journeys like the others.
func attribute(ctx context.Context, r *run, t *touches, cv *conversions, p *identity.Persons) (*attributed, error) {
	t0 := time.Now()
	jb := newJourneys(t, cv, r.opt.Lookback.Microseconds(), r.opt.OverlapJourneys)
	paths, err := modelPaths(ctx, r.opt.Models, jb, cv.types)
	if err != nil {
		return nil, err
	}
	r.stage("journeys", time.Since(t0))
	spent := make([]time.Duration, len(r.opt.Models)) // per model of r.opt.Models
	models, fitted, err := fitPaths(ctx, r.opt.Models, paths, cv.types, spent)
	if err != nil {
		return nil, err
	}
	res := &attributed{removalEffects: removalEffects(r.opt.Mem, fitted, t.channels, cv.types)}
	// Persons are independent: spans of them are credited on every core, each into a
	// table of its own, joined in person order into what one walk writes.
	spans := []span{jb.all()}
	if len(jb.cs) >= 2*minAttributionSpan {
		spans = jb.spans(min(runtime.GOMAXPROCS(0), len(jb.cs)/minAttributionSpan))
	}
	writers := make([]*creditWriter, len(spans))
	for k := range spans {
		writers[k] = &creditWriter{bt: newBigTable(r, load.FctAttribution), t: t, cv: cv, persons: p}
		if r.opt.Stage != nil {
			writers[k].spent = make([]time.Duration, len(r.opt.Models))
		}
	}
	g := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	for k, sp := range spans {
		g.Go(func(ctx context.Context) error { return writers[k].credits(ctx, r, jb, sp, models) })
	}
	err = g.Wait()
	bts := make([]*bigTable, len(writers))
	for k, w := range writers {
		res.journeys += w.journeys
		res.withoutTouch += w.withoutTouch
		bts[k] = w.bt
		for i, d := range w.spent {
			spent[i] += d
		}
	}
	if err == nil {
		for i, m := range r.opt.Models {
			r.stage("model:"+m.Name(), spent[i])
		}
	}
	if res.credits, res.creditsSpilled, err = joinSpans(r, load.FctAttribution, bts, err); err != nil {
		res.removalEffects.Release()
		return nil, err
	}
	return res, nil
}

// minAttributionSpan is the fewest conversions worth a span of their own (a variable
// for tests).
var minAttributionSpan = 1 << 13

// credits writes the credits of the range's conversions of sp's persons.
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
)

// removalEffects writes fct_markov_removal_effect from the fitted markov models.
func removalEffects(mem memory.Allocator, fitted []fittedModel, channels, types *dict) arrow.Table {
	o := newTable(mem, load.FctMarkovRemovalEffect)
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
		}
	}
	return o.table()
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
	} else {
		o.str(atTouchpointID, hexID("t_", t.id[touch]))
		o.str(atChannel, t.channels.val(t.channel[touch]))
		o.str(atCampaign, t.campaigns.val(t.campaign[touch]))
		o.str(atTerm, t.terms.val(t.term[touch]))
		o.ts(atTouchOccurredAt, t.at[touch])
	}
	o.str(atConversionType, cv.types.val(cv.typ[c]))
	o.ts(atOccurredAt, cv.at[c])
	o.str(atPersonID, w.persons.ID(cv.person[c]))
	w.bt.row()
}
