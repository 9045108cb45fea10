package attribution

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	hour = int64(time.Hour / time.Microsecond)
	day  = 24 * hour
)

// ruleBased are the models that weigh a journey on its own.
var ruleBased = []string{FirstTouch, LastTouch, LastNonDirect, Linear, TimeDecay, PositionBased, WShaped, FullPath}

func model(t *testing.T, name string) Model {
	t.Helper()
	ms, err := Lookup([]string{name}, DefaultParams)
	require.NoError(t, err)
	return ms[0]
}

func weights(m Model, j Journey) []float64 {
	w := make([]float64, j.Len())
	m.Weights(j, w)
	return w
}

// journey builds a journey of channels at the given days before a conversion at day 30;
// channel 9 is Direct; no milestones.
func journey(days []int64, channels ...int32) Journey {
	j := Journey{ConvAt: 30 * day, Direct: 9, Lead: -1, Opportunity: -1, Won: -1, Channel: channels}
	for _, d := range days {
		j.At = append(j.At, d*day)
	}
	return j
}

// TestHandComputed checks every rule-based model on small journeys, arithmetic in the
// comments.
func TestHandComputed(t *testing.T) {
	four := journey([]int64{1, 2, 2, 30}, 1, 2, 3, 9) // a tie at day 2; Direct last, at the conversion
	for _, c := range []struct {
		model string
		j     Journey
		want  []float64
	}{
		{FirstTouch, four, []float64{1, 0, 0, 0}},
		{LastTouch, four, []float64{0, 0, 0, 1}},
		// Direct (9) is skipped: the last other touch is channel 3.
		{LastNonDirect, four, []float64{0, 0, 1, 0}},
		// Nothing but Direct: Direct gets it.
		{LastNonDirect, journey([]int64{1, 2}, 9, 9), []float64{0, 1}},
		{Linear, four, []float64{0.25, 0.25, 0.25, 0.25}},
		// Repeats count: channel 1 twice gets two shares.
		{Linear, journey([]int64{1, 2, 3}, 1, 1, 2), []float64{1. / 3, 1. / 3, 1. / 3}},
		// Ages 29, 28, 28, 0 days, half-life 7: 2^-29/7, 2^-4, 2^-4, 1, normalized.
		{TimeDecay, four, norm(math.Exp2(-29./7), math.Exp2(-4), math.Exp2(-4), 1)},
		// Touches 7 days apart: each weighs half the next: 1/7, 2/7, 4/7.
		{TimeDecay, journey([]int64{16, 23, 30}, 1, 2, 3), []float64{1. / 7, 2. / 7, 4. / 7}},
		// Ties in time weigh the same.
		{TimeDecay, journey([]int64{5, 5}, 1, 2), []float64{0.5, 0.5}},
		{PositionBased, four, []float64{0.4, 0.1, 0.1, 0.4}},
		{PositionBased, journey([]int64{1, 2}, 1, 2), []float64{0.5, 0.5}},
		{PositionBased, journey([]int64{1, 2, 3}, 1, 2, 3), []float64{0.4, 0.2, 0.4}},
		// No milestones: first 0.3 and the rest 0.1 over three, scaled by 1/0.4.
		{WShaped, four, []float64{0.75, 0.25 / 3, 0.25 / 3, 0.25 / 3}},
		// Lead on touch 1, opportunity on touch 3: 0.3 each, 0.1 over touch 2.
		{WShaped, withMilestones(four, 1, 3, -1), []float64{0.3, 0.3, 0.1, 0.3}},
		// Lead on the first touch: 0.6 there, opportunity 0.3, rest 0.1 over two.
		{WShaped, withMilestones(four, 0, 3, -1), []float64{0.6, 0.05, 0.05, 0.3}},
		// A lead conversion: its own (last) touch is the lead touch; no opportunity:
		// first 0.3, lead 0.3, rest 0.1 → ÷0.7.
		{WShaped, withMilestones(four, 3, -1, -1), []float64{0.3 / 0.7, 0.05 / 0.7, 0.05 / 0.7, 0.3 / 0.7}},
		// Every touch a milestone: the rest's share drops out.
		{WShaped, withMilestones(journey([]int64{1, 2, 3}, 1, 2, 3), 1, 2, -1), []float64{1. / 3, 1. / 3, 1. / 3}},
		{FullPath, withMilestones(journey([]int64{1, 2, 3, 4, 5}, 1, 2, 3, 4, 5), 1, 3, 4), []float64{0.225, 0.225, 0.1, 0.225, 0.225}},
		// Won missing (an opportunity conversion): 0.675 + 0.1 → ÷0.775.
		{FullPath, withMilestones(journey([]int64{1, 2, 3, 4}, 1, 2, 3, 4), 1, 3, -1),
			[]float64{0.225 / 0.775, 0.225 / 0.775, 0.1 / 0.775, 0.225 / 0.775}},
	} {
		t.Run(c.model, func(t *testing.T) {
			assert.InDeltaSlice(t, c.want, weights(model(t, c.model), c.j), 1e-12)
		})
	}
}

func withMilestones(j Journey, lead, opp, won int) Journey {
	j.Lead, j.Opportunity, j.Won = lead, opp, won
	return j
}

func norm(v ...float64) []float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	for i := range v {
		v[i] /= s
	}
	return v
}

func TestSingleTouchGetsEverything(t *testing.T) {
	for _, name := range ruleBased {
		for _, j := range []Journey{journey([]int64{7}, 1), withMilestones(journey([]int64{7}, 9), 0, 0, 0)} {
			assert.Equal(t, []float64{1}, weights(model(t, name), j), name)
		}
	}
}

func TestPositionWeightsConfigurable(t *testing.T) {
	ms, err := Lookup([]string{PositionBased}, Params{HalfLife: time.Hour, PositionFirst: 0.3, PositionLast: 0.5, MarkovOrder: 1})
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{0.3, 0.1, 0.1, 0.5}, weights(ms[0], journey([]int64{1, 2, 3, 4}, 1, 2, 3, 4)), 1e-12)
}

func TestHalfLifeConfigurable(t *testing.T) {
	p := DefaultParams
	p.HalfLife = 24 * time.Hour
	ms, err := Lookup([]string{TimeDecay}, p)
	require.NoError(t, err)
	assert.InDeltaSlice(t, []float64{1. / 3, 2. / 3}, weights(ms[0], journey([]int64{28, 29}, 1, 2)), 1e-12)
}

// randomJourney draws 1..n touches over 6 channels (5 is Direct), with ties, and
// random milestones.
func randomJourney(r *rand.Rand, n int) Journey {
	k := 1 + r.IntN(n)
	j := Journey{ConvAt: 100 * day, Direct: 5, Lead: -1, Opportunity: -1, Won: -1}
	at := int64(0)
	for range k {
		if r.IntN(4) > 0 { // one in four shares the previous touch's time
			at += r.Int64N(10 * day)
		}
		j.At = append(j.At, at)
		j.Channel = append(j.Channel, int32(r.IntN(6)))
	}
	pick := func() int {
		if r.IntN(3) == 0 {
			return -1
		}
		return r.IntN(k)
	}
	j.Lead, j.Opportunity, j.Won = pick(), pick(), pick()
	return j
}

// TestProperties: over random journeys, every model's weights are in [0,1] and sum to 1.
func TestProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ms, err := Lookup(ruleBased, DefaultParams)
	require.NoError(t, err)
	for range 5000 {
		j := randomJourney(r, 12)
		for _, m := range ms {
			w := weights(m, j)
			sum := 0.0
			for _, x := range w {
				require.True(t, x >= 0 && x <= 1, "%s: weight %g of %+v", m.Name(), x, j)
				sum += x
			}
			require.InDelta(t, 1, sum, 1e-9, "%s: %+v", m.Name(), j)
		}
	}
}

// TestOrderFree: linear gives the same multiset of weights whatever the order;
// position_based and first/last depend only on positions, so a permutation of the
// middle touches keeps their weights.
func TestOrderFree(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		j := randomJourney(r, 10)
		p := j
		p.Channel = slices.Clone(j.Channel)
		r.Shuffle(len(p.Channel), func(a, b int) { p.Channel[a], p.Channel[b] = p.Channel[b], p.Channel[a] })
		for _, name := range []string{Linear, PositionBased, FirstTouch, LastTouch, TimeDecay, WShaped, FullPath} {
			m := model(t, name)
			require.Equal(t, weights(m, j), weights(m, p), "%s ignores channels", name)
		}
	}
}

func TestLookup(t *testing.T) {
	ms, err := Lookup(Names(), DefaultParams)
	require.NoError(t, err)
	require.Len(t, ms, 10)
	for i, m := range ms {
		assert.Equal(t, Names()[i], m.Name())
	}
	_, err = Lookup([]string{"linear", "magic"}, DefaultParams)
	require.ErrorContains(t, err, `unknown attribution model "magic"`)
	_, err = Lookup([]string{"linear", "linear"}, DefaultParams)
	require.ErrorContains(t, err, "listed twice")
	for _, p := range []Params{
		{HalfLife: 0, PositionFirst: 0.4, PositionLast: 0.4, MarkovOrder: 1},
		{HalfLife: time.Hour, PositionFirst: 0.7, PositionLast: 0.4, MarkovOrder: 1},
		{HalfLife: time.Hour, PositionFirst: 0.4, PositionLast: 0.4, MarkovOrder: 5},
	} {
		_, err := Lookup([]string{Linear}, p)
		require.Error(t, err, "%+v", p)
	}
}

// TestDataDrivenProperties fits markov (orders 1..3) and shapley on random paths and
// checks their weights on random journeys: in [0,1], summing to 1, and for shapley
// (which sees only the channel set) the same per-channel credit for a permuted journey.
func TestDataDrivenProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var ps PathSet
	for range 3000 {
		j := randomJourney(r, 8)
		conv := float64(r.IntN(2))
		ps.Add(j.Channel, conv, conv*float64(r.IntN(100)), 1-conv)
	}
	for _, p := range []Params{DefaultParams, {HalfLife: time.Hour, PositionFirst: 0.4, PositionLast: 0.4, MarkovOrder: 2},
		{HalfLife: time.Hour, PositionFirst: 0.4, PositionLast: 0.4, MarkovOrder: 3}} {
		ms, err := Lookup([]string{MarkovModel, ShapleyModel}, p)
		require.NoError(t, err)
		for _, m := range ms {
			f, err := m.(DataDriven).Fit(ps.Paths)
			require.NoError(t, err)
			require.Equal(t, m.Name(), f.Name())
			for range 2000 {
				j := randomJourney(r, 10)
				w := weights(f, j)
				sum := 0.0
				for _, x := range w {
					require.True(t, x >= 0 && x <= 1, "%s: %g", f.Name(), x)
					sum += x
				}
				require.InDelta(t, 1, sum, 1e-9, f.Name())
				// Per-channel credit does not depend on the order of the touches.
				p := j
				p.Channel = slices.Clone(j.Channel)
				r.Shuffle(len(p.Channel), func(a, b int) { p.Channel[a], p.Channel[b] = p.Channel[b], p.Channel[a] })
				require.InDeltaMapValues(t, byChannel(j, w), byChannel(p, weights(f, p)), 1e-12, f.Name())
			}
		}
	}
	mk := MarkovOf(mustFit(t, MarkovModel, ps.Paths))
	require.NotNil(t, mk)
	require.Nil(t, MarkovOf(mustFit(t, ShapleyModel, ps.Paths)))
}

func mustFit(t *testing.T, name string, paths []Path) Model {
	f, err := model(t, name).(DataDriven).Fit(paths)
	require.NoError(t, err)
	return f
}

func byChannel(j Journey, w []float64) map[int32]float64 {
	m := map[int32]float64{}
	for i, c := range j.Channel {
		m[c] += w[i]
	}
	return m
}

func TestUnfittedPanics(t *testing.T) {
	for _, name := range []string{MarkovModel, ShapleyModel} {
		assert.Panics(t, func() { weights(model(t, name), journey([]int64{1}, 1)) }, name)
	}
}
