// Package attribution splits the credit for a conversion over the touches of its
// journey. A Model turns one journey into weights, one per touch, that sum to 1;
// journeys are built by the caller (the touches of the converting person within the
// lookback window before the conversion, oldest first, a touch at the conversion's own
// time included).
//
// Rule-based models (first_touch, last_touch, last_non_direct, linear, time_decay,
// position_based, w_shaped, full_path) weigh a journey on its own. Data-driven models
// (markov, shapley) implement DataDriven: they are first fitted on the aggregated paths
// of every journey of one conversion type, converting and non-converting, and the
// fitted model then weighs each journey.
package attribution

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Journey is the touches before one conversion, oldest first.
type Journey struct {
	At      []int64 // touch times, µs since epoch, ascending
	Channel []int32 // channel of each touch, as a code of the caller's dictionary
	// ConvAt is the conversion's time (µs); time_decay measures each touch's age from it.
	ConvAt int64
	// Direct is the code of the "Direct" channel (last_non_direct skips it), or -1.
	Direct int32
	// Lead, Opportunity and Won index the touches that created the lead, created the
	// opportunity and preceded the closed-won deal (w_shaped, full_path); -1 when the
	// journey has no such milestone touch. Several may index the same touch.
	Lead, Opportunity, Won int
}

// Len is the number of touches.
func (j Journey) Len() int { return len(j.At) }

// Model assigns credit to the touches of a journey.
type Model interface {
	// Name is the model value written to fct_attribution.
	Name() string
	// Weights writes the credit of touch i into w[i] (len(w) == j.Len() > 0); the
	// weights are in [0, 1] and sum to 1.
	Weights(j Journey, w []float64)
}

// DataDriven is a model that learns from paths before it can weigh journeys.
type DataDriven interface {
	Model
	// Fit learns from the paths of every journey of one conversion type and returns
	// the model that weighs that type's journeys.
	Fit(paths []Path) (Model, error)
}

// Params are the models' settings.
type Params struct {
	// HalfLife is time_decay's half-life: a touch this long before the conversion
	// weighs half as much as one at the conversion.
	HalfLife time.Duration
	// PositionFirst and PositionLast are position_based's shares of the first and the
	// last touch (journeys of three or more touches); the middle touches split the rest.
	PositionFirst, PositionLast float64
	// MarkovOrder is the order of the markov model's chain, 1..4.
	MarkovOrder int
}

// DefaultParams are the settings DESIGN.md states: a 7-day half-life, 40/20/40,
// a first-order chain.
var DefaultParams = Params{HalfLife: 7 * 24 * time.Hour, PositionFirst: 0.4, PositionLast: 0.4, MarkovOrder: 1}

// Validate reports settings no model can use.
func (p Params) Validate() error {
	var errs []error
	if p.HalfLife <= 0 {
		errs = append(errs, fmt.Errorf("time_decay half-life %v: want a positive duration", p.HalfLife))
	}
	if p.PositionFirst < 0 || p.PositionLast < 0 || p.PositionFirst+p.PositionLast > 1 || math.IsNaN(p.PositionFirst+p.PositionLast) {
		errs = append(errs, fmt.Errorf("position_based weights %g,%g: want two shares ≥ 0 summing to at most 1", p.PositionFirst, p.PositionLast))
	}
	if p.MarkovOrder < 1 || p.MarkovOrder > 4 {
		errs = append(errs, fmt.Errorf("markov order %d: want 1..4", p.MarkovOrder))
	}
	return errors.Join(errs...)
}

// Model names, as written to fct_attribution.model.
const (
	FirstTouch    = "first_touch"
	LastTouch     = "last_touch"
	LastNonDirect = "last_non_direct"
	Linear        = "linear"
	TimeDecay     = "time_decay"
	PositionBased = "position_based"
	WShaped       = "w_shaped"
	FullPath      = "full_path"
	MarkovModel   = "markov"
	ShapleyModel  = "shapley"
)

// names lists every model, in the order they are documented.
var names = []string{FirstTouch, LastTouch, LastNonDirect, Linear, TimeDecay, PositionBased, WShaped, FullPath, MarkovModel, ShapleyModel}

// Names lists the models this build knows, in documentation order.
func Names() []string { return slices.Clone(names) }

// Lookup returns the models named, in the order given, with settings p.
func Lookup(list []string, p Params) ([]Model, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var out []Model
	seen := map[string]bool{}
	for _, name := range list {
		name = strings.TrimSpace(name)
		if seen[name] {
			return nil, fmt.Errorf("attribution model %q is listed twice", name)
		}
		seen[name] = true
		var m Model
		switch name {
		case FirstTouch:
			m = firstTouch{}
		case LastTouch:
			m = lastTouch{}
		case LastNonDirect:
			m = lastNonDirect{}
		case Linear:
			m = linear{}
		case TimeDecay:
			m = timeDecay{halfLife: float64(p.HalfLife.Microseconds())}
		case PositionBased:
			m = positionBased{first: p.PositionFirst, last: p.PositionLast}
		case WShaped:
			m = milestones{name: WShaped, first: 0.3, lead: 0.3, opp: 0.3, rest: 0.1}
		case FullPath:
			m = milestones{name: FullPath, first: 0.225, lead: 0.225, opp: 0.225, won: 0.225, rest: 0.1}
		case MarkovModel:
			m = markovModel{order: p.MarkovOrder}
		case ShapleyModel:
			m = shapleyModel{}
		default:
			return nil, fmt.Errorf("unknown attribution model %q (known: %s)", name, strings.Join(names, ", "))
		}
		out = append(out, m)
	}
	return out, nil
}

type firstTouch struct{}

func (firstTouch) Name() string { return FirstTouch }
func (firstTouch) Weights(j Journey, w []float64) {
	clear(w)
	w[0] = 1
}

type lastTouch struct{}

func (lastTouch) Name() string { return LastTouch }
func (lastTouch) Weights(j Journey, w []float64) {
	clear(w)
	w[len(w)-1] = 1
}

// lastNonDirect credits the last touch that is not Direct; Direct only when the
// journey has nothing else.
type lastNonDirect struct{}

func (lastNonDirect) Name() string { return LastNonDirect }
func (lastNonDirect) Weights(j Journey, w []float64) {
	clear(w)
	for i := len(w) - 1; i >= 0; i-- {
		if j.Channel[i] != j.Direct {
			w[i] = 1
			return
		}
	}
	w[len(w)-1] = 1
}

// linear gives every touch 1/n; repeated touches of a channel count each time.
type linear struct{}

func (linear) Name() string { return Linear }
func (linear) Weights(j Journey, w []float64) {
	for i := range w {
		w[i] = 1 / float64(len(w))
	}
}

// timeDecay weighs a touch 2^(-Δt/half-life), Δt its age at the conversion, normalized.
type timeDecay struct{ halfLife float64 } // µs

// HalfLifeMicros is the half-life of a time_decay model in µs (0 for another model),
// for an engine that computes its weights where the touch times are (package
// sqlengine): 2^(-(t_last - t_i)/halfLife), normalized over the journey.
func HalfLifeMicros(m Model) float64 {
	if t, ok := m.(timeDecay); ok {
		return t.halfLife
	}
	return 0
}

func (timeDecay) Name() string { return TimeDecay }
func (m timeDecay) Weights(j Journey, w []float64) {
	// Relative to the newest touch, so that old journeys do not underflow to 0.
	newest := j.At[len(j.At)-1]
	sum := 0.0
	for i, at := range j.At {
		w[i] = math.Exp2(-float64(newest-at) / m.halfLife)
		sum += w[i]
	}
	for i := range w {
		w[i] /= sum
	}
}

// positionBased: one touch 1; two 0.5/0.5; more: first and last their shares, the
// middle touches the rest evenly.
type positionBased struct{ first, last float64 }

func (positionBased) Name() string { return PositionBased }
func (m positionBased) Weights(j Journey, w []float64) {
	n := len(w)
	switch n {
	case 1:
		w[0] = 1
		return
	case 2:
		w[0], w[1] = 0.5, 0.5
		return
	}
	mid := (1 - m.first - m.last) / float64(n-2)
	for i := range w {
		w[i] = mid
	}
	w[0], w[n-1] = m.first, m.last
}

// milestones is w_shaped and full_path: fixed shares for the first touch and the
// lead-creation, opportunity-creation and closed-won touches, the rest split evenly
// over the other touches. A milestone the journey lacks (index -1) drops out and the
// shares present are scaled up to 1; shares of milestones on one touch add up; when
// every touch is a milestone, the rest's share drops out the same way.
type milestones struct {
	name                        string
	first, lead, opp, won, rest float64
}

func (m milestones) Name() string { return m.name }
func (m milestones) Weights(j Journey, w []float64) {
	clear(w)
	n := len(w)
	special := 0.0
	add := func(i int, share float64) {
		if i >= 0 && i < n && share > 0 {
			w[i] += share
			special += share
		}
	}
	add(0, m.first)
	add(j.Lead, m.lead)
	add(j.Opportunity, m.opp)
	add(j.Won, m.won)
	others := 0
	for i := range w {
		if w[i] == 0 {
			others++
		}
	}
	total := special
	if others > 0 {
		total += m.rest
		for i := range w {
			if w[i] == 0 {
				w[i] = m.rest / float64(others)
			}
		}
	}
	for i := range w {
		w[i] /= total
	}
}

// markovModel is the unfitted markov model.
type markovModel struct{ order int }

func (markovModel) Name() string { return MarkovModel }
func (markovModel) Weights(Journey, []float64) {
	panic("attribution: markov weighs journeys only once fitted (DataDriven.Fit)")
}

// shapleyModel is the unfitted shapley model.
type shapleyModel struct{}

func (shapleyModel) Name() string { return ShapleyModel }
func (shapleyModel) Weights(Journey, []float64) {
	panic("attribution: shapley weighs journeys only once fitted (DataDriven.Fit)")
}

// splitByChannel computes per-channel credit with credit(set, out) over the journey's
// distinct channels (ascending) and gives each touch its channel's credit divided by
// the channel's touch count; last touch when credit reports nothing to split.
func splitByChannel(j Journey, w []float64, credit func(set []int32, out []float64) bool) {
	set := slices.Clone(j.Channel)
	slices.Sort(set)
	set = slices.Compact(set)
	out := make([]float64, len(set))
	if !credit(set, out) {
		clear(w)
		w[len(w)-1] = 1
		return
	}
	count := make([]int, len(set))
	idx := make([]int, len(w))
	for i, c := range j.Channel {
		k, _ := slices.BinarySearch(set, c)
		idx[i] = k
		count[k]++
	}
	for i := range w {
		w[i] = out[idx[i]] / float64(count[idx[i]])
	}
}
