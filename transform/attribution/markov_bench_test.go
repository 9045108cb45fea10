package attribution

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
)

// mkBenchPaths returns n distinct random paths over 12 channels, lengths 1..12, the
// same on every run (PCG, fixed seed); generated once per size.
var mkBenchPaths = sync.OnceValue(func() map[int][]Path {
	out := map[int][]Path{}
	for _, n := range []int{10_000, 1_000_000} {
		rng := rand.New(rand.NewPCG(2024, uint64(n)))
		var set PathSet
		cs := make([]int32, 0, 12)
		for set.Len() < n {
			cs = cs[:0]
			for range 1 + rng.IntN(12) {
				cs = append(cs, int32(rng.IntN(12)))
			}
			conv := float64(rng.IntN(3))
			set.Add(cs, conv, conv*10*rng.Float64(), float64(rng.IntN(5)))
		}
		out[n] = set.Paths
	}
	return out
})

// BenchmarkFitMarkov fits 10,000 and 1,000,000 distinct paths at orders 1 and 3
// (order 3 on 1M paths takes a few seconds: no skip needed). Run with
// go test -run XXX -bench Markov -benchtime 1x ./transform/attribution
func BenchmarkFitMarkov(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		for _, order := range []int{1, 3} {
			b.Run(fmt.Sprintf("paths=%d/order=%d", n, order), func(b *testing.B) {
				paths := mkBenchPaths()[n]
				b.ReportAllocs()
				b.ResetTimer()
				var st mkStats
				for range b.N {
					var err error
					if _, st, err = fitMarkov(paths, order, mkDefaults); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(st.states), "states")
				b.ReportMetric(float64(st.transitions), "transitions")
				if st.dense {
					b.ReportMetric(1, "dense")
				} else {
					b.ReportMetric(0, "dense")
				}
			})
		}
	}
}
