package attribution

import "fmt"

// Totals are the conversions and value one model credits to one channel.
type Totals struct {
	Conversions, Value float64
}

// AllocatePaths runs models over aggregated paths, as for `closedloop attribute` on a
// paths: input: each path is weighed as one journey of its touches (in order, repeats
// counted), and its conversions and value are split by those weights. A path has no
// times and no CRM milestones, so time_decay cannot run on it, and w_shaped and
// full_path take the last touch as the lead-creation and closing touch (the rule for
// conversions outside the CRM funnel). direct is the code of the Direct channel, or
// -1. Data-driven models are fitted on the paths first.
//
// It returns, per model (in the order given), the totals per channel code (len
// channels), and the models as used (fitted where data-driven).
func AllocatePaths(paths []Path, models []Model, direct int32, channels int) ([][]Totals, []Model, error) {
	used := make([]Model, len(models))
	for i, m := range models {
		if m.Name() == TimeDecay {
			return nil, nil, fmt.Errorf("time_decay needs touch times, which aggregated paths do not have: leave it out of the models or use a touches: input")
		}
		used[i] = m
		if dd, ok := m.(DataDriven); ok {
			f, err := dd.Fit(paths)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", m.Name(), err)
			}
			used[i] = f
		}
	}
	out := make([][]Totals, len(models))
	for i := range out {
		out[i] = make([]Totals, channels)
	}
	var w []float64
	j := Journey{Direct: direct}
	for _, p := range paths {
		if p.Conversions == 0 && p.Value == 0 {
			continue
		}
		n := len(p.Channels)
		j.Channel = p.Channels
		j.At = j.At[:0]
		for k := range n {
			j.At = append(j.At, int64(k))
		}
		j.ConvAt = int64(n - 1)
		j.Lead, j.Opportunity, j.Won = n-1, -1, n-1
		if cap(w) < n {
			w = make([]float64, n)
		}
		w = w[:n]
		for mi, m := range used {
			m.Weights(j, w)
			for k, c := range p.Channels {
				out[mi][c].Conversions += w[k] * p.Conversions
				out[mi][c].Value += w[k] * p.Value
			}
		}
	}
	return out, used, nil
}
