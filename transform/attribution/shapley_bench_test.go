package attribution

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// benchShapleyPaths returns n distinct random paths over 12 channels, 1–12 touches
// each, from a fixed PCG seed.
func benchShapleyPaths(n int) []Path {
	rng := rand.New(rand.NewPCG(12, uint64(n)))
	var set PathSet
	ch := make([]int32, 0, 12)
	for set.Len() < n {
		ch = ch[:0]
		for range 1 + rng.IntN(12) {
			ch = append(ch, int32(rng.IntN(12)))
		}
		set.Add(ch, float64(rng.IntN(3)), 0, float64(rng.IntN(10)))
	}
	return set.Paths
}

// BenchmarkShapley fits the model and credits every path's channel set.
func BenchmarkShapley(b *testing.B) {
	for _, n := range []int{10_000, 1_000_000} {
		b.Run(fmt.Sprintf("paths=%d", n), func(b *testing.B) {
			paths := benchShapleyPaths(n)
			set := make([]int32, 0, 12)
			out := make([]float64, 12)
			var fit, credit time.Duration
			fallbacks := 0
			for b.Loop() {
				start := time.Now()
				s := FitShapley(paths)
				mid := time.Now()
				for i := range paths {
					set = set[:0]
					var seen uint16
					for _, c := range paths[i].Channels {
						if seen&(1<<c) == 0 {
							seen |= 1 << c
							set = append(set, c)
						}
					}
					if !s.Credit(set, out[:len(set)]) {
						fallbacks++
					}
				}
				fit += mid.Sub(start)
				credit += time.Since(mid)
			}
			b.ReportMetric(fit.Seconds()*1e3/float64(b.N), "fit-ms/op")
			b.ReportMetric(float64(credit.Nanoseconds())/float64(b.N)/float64(n), "credit-ns/path")
			b.ReportMetric(float64(fallbacks)/float64(b.N), "fallbacks/op")
		})
	}
}
