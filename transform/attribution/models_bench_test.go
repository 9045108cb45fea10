package attribution

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkAllModels weighs 1M random journeys (1–12 touches over 12 channels, with
// milestones) under all ten models: the data-driven ones are fitted on the journeys'
// paths first (inside the timing). Reports journeys/s for the whole set.
func BenchmarkAllModels(b *testing.B) {
	const n = 1_000_000
	r := rand.New(rand.NewPCG(9, 10))
	js := make([]Journey, n)
	var ps PathSet
	for i := range js {
		k := 1 + r.IntN(12)
		j := Journey{ConvAt: int64(k) * day, Direct: 0, Lead: r.IntN(k), Opportunity: -1, Won: k - 1}
		for t := range k {
			j.At = append(j.At, int64(t)*day)
			j.Channel = append(j.Channel, int32(r.IntN(12)))
		}
		js[i] = j
		conv := float64(r.IntN(4) / 3)
		ps.Add(j.Channel, conv, conv*100, 1-conv)
	}
	ms, err := Lookup(Names(), DefaultParams)
	if err != nil {
		b.Fatal(err)
	}
	w := make([]float64, 12)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		used := make([]Model, len(ms))
		for i, m := range ms {
			used[i] = m
			if dd, ok := m.(DataDriven); ok {
				if used[i], err = dd.Fit(ps.Paths); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, j := range js {
			for _, m := range used {
				m.Weights(j, w[:j.Len()])
			}
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "journeys/s")
}
