package attribution

// Fit fits the chain on paths.
func (m markovModel) Fit(paths []Path) (Model, error) {
	mk, err := FitMarkov(paths, m.order)
	if err != nil {
		return nil, err
	}
	return &fittedMarkov{m: mk}, nil
}

// fittedMarkov splits a journey's credit over its distinct channels in proportion to
// their removal effects, and equally over the touches of one channel; last touch when
// no channel of the journey has a positive effect.
type fittedMarkov struct{ m *Markov }

func (*fittedMarkov) Name() string { return MarkovModel }
func (f *fittedMarkov) Weights(j Journey, w []float64) {
	splitByChannel(j, w, func(set []int32, credit []float64) bool {
		sum := 0.0
		for i, c := range set {
			credit[i] = f.m.Effect(c)
			sum += credit[i]
		}
		if sum <= 0 {
			return false
		}
		for i := range credit {
			credit[i] /= sum
		}
		return true
	})
}

// Markov returns the fitted chain (removal effects for fct_markov_removal_effect).
func (f *fittedMarkov) Markov() *Markov { return f.m }

// Fit learns the characteristic function from paths.
func (shapleyModel) Fit(paths []Path) (Model, error) {
	return &fittedShapley{s: FitShapley(paths)}, nil
}

// fittedShapley splits a journey's credit over its distinct channels by their Shapley
// values in the game restricted to them, and equally over the touches of one channel;
// last touch when no value is positive.
type fittedShapley struct{ s *Shapley }

func (*fittedShapley) Name() string { return ShapleyModel }
func (f *fittedShapley) Weights(j Journey, w []float64) {
	splitByChannel(j, w, f.s.Credit)
}

// MarkovOf returns the fitted chain of a model returned by a markov Fit, or nil.
func MarkovOf(m Model) *Markov {
	if f, ok := m.(*fittedMarkov); ok {
		return f.m
	}
	return nil
}
