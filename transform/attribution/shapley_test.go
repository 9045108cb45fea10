package attribution

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const shapleyTol = 1e-12

// gamePath is a path of one channel set with the conversion rate conv/(conv+nulls).
func gamePath(conv, nulls float64, channels ...int32) Path {
	return Path{Channels: channels, Conversions: conv, Value: conv, Nulls: nulls}
}

// credit calls Credit with a fresh out.
func credit(s *Shapley, set ...int32) ([]float64, bool) {
	out := make([]float64, len(set))
	ok := s.Credit(set, out)
	return out, ok
}

func TestShapleyTwoChannels(t *testing.T) {
	const a, b = 1, 2
	s := FitShapley([]Path{
		gamePath(1, 3, a),    // v(a) = 1/4
		gamePath(1, 1, b),    // v(b) = 1/2
		gamePath(2, 1, a, b), // v(ab) = 3/4 with the next path: (2+1)/(2+1+1+0)
		gamePath(1, 0, b, a),
	})
	assert.InDelta(t, 0.25, s.V([]int32{a}), shapleyTol)
	assert.InDelta(t, 0.5, s.V([]int32{b}), shapleyTol)
	assert.InDelta(t, 0.75, s.V([]int32{b, a}), shapleyTol)
	assert.Zero(t, s.V(nil))
	assert.Zero(t, s.V([]int32{a, b, 3}))

	// n = 2: w(0) = w(1) = 1/2.
	// φ_a = ½(v(a) − 0) + ½(v(ab) − v(b)) = ½·¼ + ½·¼ = ¼
	// φ_b = ½(v(b) − 0) + ½(v(ab) − v(a)) = ½·½ + ½·½ = ½   (Σ = ¾ = v(ab))
	// credit: ¼/¾ = 1/3, ½/¾ = 2/3.
	phi := s.shapleyValues([]int32{a, b}, shapleyAuto)
	assert.InDeltaSlice(t, []float64{0.25, 0.5}, phi, shapleyTol)
	out, ok := credit(s, a, b)
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{1. / 3, 2. / 3}, out, shapleyTol)

	// A set of one channel: the whole credit, if its rate is positive.
	out, ok = credit(s, b)
	require.True(t, ok)
	assert.Equal(t, []float64{1}, out)
}

func TestShapleyThreeChannels(t *testing.T) {
	const a, b, c = 7, 3, 5
	s := FitShapley([]Path{
		gamePath(1, 4, a),                // v(a) = 0.2
		gamePath(2, 3, b, b),             // v(b) = 0.4
		gamePath(0, 5, c),                // v(c) = 0 (seen, never converted)
		gamePath(3, 2, a, b),             // v(ab) = 0.6
		gamePath(1, 1, c, a),             // v(ac) = 0.5
		gamePath(3, 7, b, c, b),          // v(bc) = 0.3
		gamePath(9, 1, c, b, a, c, b, a), // v(abc) = 0.9
	})
	// n = 3: w(0) = 0!2!/3! = 1/3, w(1) = 1!1!/3! = 1/6, w(2) = 2!0!/3! = 1/3. In 60ths:
	// φ_a = ⅓(0.2−0) + ⅙(0.6−0.4) + ⅙(0.5−0) + ⅓(0.9−0.3) = (4 + 2 + 5 + 12)/60 = 23/60
	// φ_b = ⅓(0.4−0) + ⅙(0.6−0.2) + ⅙(0.3−0) + ⅓(0.9−0.5) = (8 + 4 + 3 +  8)/60 = 23/60
	// φ_c = ⅓(0−0)   + ⅙(0.5−0.2) + ⅙(0.3−0.4) + ⅓(0.9−0.6) = (0 + 3 − 1 + 6)/60 = 8/60
	// Σ = 54/60 = 0.9 = v(abc); credit 23/54, 23/54, 8/54.
	set := []int32{a, b, c}
	for _, m := range []shapleyMethod{shapleyAuto, shapleyEnum, shapleyScan} {
		assert.InDeltaSlice(t, []float64{23. / 60, 23. / 60, 8. / 60}, s.shapleyValues(set, m), shapleyTol, "method %d", m)
	}
	out, ok := credit(s, set...)
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{23. / 54, 23. / 54, 8. / 54}, out, shapleyTol)

	// Restricted to {b, c}: w(0) = w(1) = ½.
	// φ_b = ½·0.4 + ½(0.3 − 0) = 0.35, φ_c = ½·0 + ½(0.3 − 0.4) = −0.05 → floored: 1, 0.
	assert.InDeltaSlice(t, []float64{-0.05, 0.35}, s.shapleyValues([]int32{c, b}, shapleyAuto), shapleyTol)
	out, ok = credit(s, c, b)
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{0, 1}, out, shapleyTol)
}

func TestShapleyNegativeFloored(t *testing.T) {
	const a, b, c = 0, 1, 2
	s := FitShapley([]Path{
		gamePath(0, 10, a),      // v(a) = 0
		gamePath(2, 3, b),       // v(b) = 0.4
		gamePath(1, 1, c),       // v(c) = 0.5
		gamePath(1, 4, a, b),    // v(ab) = 0.2
		gamePath(3, 7, a, c),    // v(ac) = 0.3
		gamePath(3, 2, b, c),    // v(bc) = 0.6
		gamePath(1, 1, a, b, c), // v(abc) = 0.5
	})
	// n = 3, in 60ths (w = ⅓, ⅙, ⅓):
	// φ_a = ⅓(0−0)   + ⅙(0.2−0.4) + ⅙(0.3−0.5) + ⅓(0.5−0.6) = (0 − 2 − 2 − 2)/60 = −6/60
	// φ_b = ⅓(0.4−0) + ⅙(0.2−0)   + ⅙(0.6−0.5) + ⅓(0.5−0.3) = (8 + 2 + 1 + 4)/60 = 15/60
	// φ_c = ⅓(0.5−0) + ⅙(0.3−0)   + ⅙(0.6−0.4) + ⅓(0.5−0.2) = (10 + 3 + 2 + 6)/60 = 21/60
	// Σ = 30/60 = v(abc). Floored: 0, 15, 21 → normalized 0, 15/36, 21/36.
	phi := s.shapleyValues([]int32{a, b, c}, shapleyAuto)
	assert.InDeltaSlice(t, []float64{-6. / 60, 15. / 60, 21. / 60}, phi, shapleyTol)
	out, ok := credit(s, a, b, c)
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{0, 15. / 36, 21. / 36}, out, shapleyTol)
	assert.Zero(t, out[0])
}

func TestShapleyNothingPositive(t *testing.T) {
	const a, b, c = 10, 20, 30
	s := FitShapley([]Path{
		gamePath(1, 1, a),       // v(a) = ½
		gamePath(1, 1, b),       // v(b) = ½
		gamePath(0, 4, a, b),    // v(ab) = 0
		gamePath(0, 0, c),       // no journeys: v(c) = 0
		gamePath(1, 9, a, b, c), // v(abc) = 0.1
	})
	// φ_a = ½(v(a) − 0) + ½(v(ab) − v(b)) = ¼ − ¼ = 0; φ_b likewise: nothing positive.
	assert.InDeltaSlice(t, []float64{0, 0}, s.shapleyValues([]int32{a, b}, shapleyAuto), shapleyTol)
	out := []float64{7, 7}
	assert.False(t, s.Credit([]int32{a, b}, out))
	assert.Equal(t, []float64{0, 0}, out)

	// Same with three players of rate 0.1 each, every pair 0 (0.1 is not exact in
	// binary): φ_i = ⅓·0.1 + ⅙(0 − 0.1) + ⅙(0 − 0.1) = 0.
	s3 := FitShapley([]Path{gamePath(1, 9, 1), gamePath(1, 9, 2), gamePath(1, 9, 3)})
	_, ok := credit(s3, 3, 1, 2)
	assert.False(t, ok)

	// Unseen sets and channels never fitted.
	_, ok = credit(s, c)
	assert.False(t, ok)
	_, ok = credit(s, 99, 98)
	assert.False(t, ok)
	_, ok = credit(FitShapley(nil), 1)
	assert.False(t, ok)
	assert.False(t, s.Credit(nil, nil))

	// An unknown channel joins the game, dilutes nothing it cannot earn, and gets 0:
	// {a, 99}: φ_a = ½·½ + ½(0 − 0) = ¼, φ_99 = ½·0 + ½(0 − ½) = −¼ → 1, 0.
	assert.InDeltaSlice(t, []float64{0.25, -0.25}, s.shapleyValues([]int32{a, 99}, shapleyAuto), shapleyTol)
	o, ok := credit(s, 99, a)
	require.True(t, ok)
	assert.Equal(t, []float64{0, 1}, o)

	assert.Panics(t, func() { s.Credit([]int32{a}, nil) })
}

// shapleyGame is a random game: paths and the test's own v(S), keyed by sorted codes.
type shapleyGame struct {
	paths []Path
	pool  []int32 // the channels the small sets are drawn from
	v     map[string]float64
}

func setKey(set []int32) string {
	s := slices.Clone(set)
	slices.Sort(s)
	s = slices.Compact(s)
	return fmt.Sprint(s)
}

// randomGame draws paths over pool (up to poolSize channels taken from universe) plus,
// so that the universe is as large as universe, paths over the rest.
func randomGame(rng *rand.Rand, universe []int32, poolSize int) shapleyGame {
	g := shapleyGame{v: map[string]float64{}}
	perm := rng.Perm(len(universe))
	for _, i := range perm[:poolSize] {
		g.pool = append(g.pool, universe[i])
	}
	for i := 0; i < len(universe); i += 5 {
		g.paths = append(g.paths, gamePath(float64(rng.IntN(3)), float64(rng.IntN(3)), universe[i:min(i+5, len(universe))]...))
	}
	for range 1 + rng.IntN(1<<poolSize) {
		var ch []int32
		for range 1 + rng.IntN(2*poolSize) {
			ch = append(ch, g.pool[rng.IntN(poolSize)])
		}
		g.paths = append(g.paths, gamePath(float64(rng.IntN(4)), float64(rng.IntN(6)), ch...))
	}
	conv, tot := map[string]float64{}, map[string]float64{}
	for _, p := range g.paths {
		k := setKey(p.Channels)
		conv[k] += p.Conversions
		tot[k] += p.Conversions + p.Nulls
	}
	for k, t := range tot {
		if t > 0 {
			g.v[k] = conv[k] / t
		}
	}
	return g
}

// permShapley is the Shapley value by its definition: the mean over all n! orderings
// of each player's marginal contribution v(before ∪ {i}) − v(before).
func permShapley(set []int32, v func([]int32) float64) []float64 {
	n := len(set)
	phi := make([]float64, n)
	used := make([]bool, n)
	prefix := make([]int32, 0, n)
	count := 0
	var rec func()
	rec = func() {
		if len(prefix) == n {
			count++
			return
		}
		before := v(prefix)
		for i := range n {
			if used[i] {
				continue
			}
			used[i] = true
			prefix = append(prefix, set[i])
			// Every completion of this prefix counts this marginal once.
			ways := 1.0
			for k := 2; k <= n-len(prefix); k++ {
				ways *= float64(k)
			}
			phi[i] += ways * (v(prefix) - before)
			rec()
			prefix = prefix[:len(prefix)-1]
			used[i] = false
		}
	}
	rec()
	for i := range phi {
		phi[i] /= float64(count)
	}
	return phi
}

// floorNormalize is Credit's post-processing, done independently.
func floorNormalize(phi []float64) ([]float64, bool) {
	out := make([]float64, len(phi))
	sum := 0.0
	for i, x := range phi {
		if x > shapleyTol {
			out[i] = x
			sum += x
		}
	}
	if sum == 0 {
		return out, false
	}
	for i := range out {
		out[i] /= sum
	}
	return out, true
}

func universeRange(lo, hi int32) []int32 {
	var u []int32
	for c := lo; c <= hi; c++ {
		u = append(u, c)
	}
	return u
}

func TestShapleyMatchesPermutationDefinition(t *testing.T) {
	scattered := make([]int32, 90)
	for i := range scattered {
		scattered[i] = int32(1<<28 + i*7919) // beyond the dense table: a map index
	}
	universes := map[string][]int32{
		"12 codes":           universeRange(0, 11),
		"codes 1000..1100":   universeRange(1000, 1100),
		"scattered 90 codes": scattered,
	}
	for name, universe := range universes {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(len(universe))))
			compared, credited := 0, 0
			defer func() {
				t.Logf("%d games compared, %d with positive credit", compared, credited)
				assert.GreaterOrEqual(t, compared, 40)
			}()
			for trial := range 60 {
				g := randomGame(rng, universe, 2+trial%6)
				s := FitShapley(g.paths)
				v := func(set []int32) float64 { return g.v[setKey(set)] }
				// N: some of the pool, sometimes with a channel never fitted.
				var set []int32
				for _, c := range g.pool {
					if rng.IntN(4) > 0 {
						set = append(set, c)
					}
				}
				if trial%7 == 0 {
					set = append(set, -5)
				}
				if len(set) == 0 || len(set) > 7 {
					continue
				}
				rng.Shuffle(len(set), func(i, j int) { set[i], set[j] = set[j], set[i] })
				for _, sub := range [][]int32{set, set[:1], set[len(set)/2:]} {
					assert.InDelta(t, v(sub), s.V(sub), shapleyTol)
				}

				want := permShapley(set, v)
				for _, m := range []shapleyMethod{shapleyAuto, shapleyEnum, shapleyScan} {
					phi := s.shapleyValues(set, m)
					require.InDeltaSlice(t, want, phi, shapleyTol, "trial %d method %d set %v", trial, m, set)
					// Efficiency: Σ φ_i = v(N) − v(∅).
					sum := 0.0
					for _, x := range phi {
						sum += x
					}
					assert.InDelta(t, v(set), sum, shapleyTol)
				}
				compared++
				wantCredit, wantOK := floorNormalize(want)
				out, ok := credit(s, set...)
				require.Equal(t, wantOK, ok, "trial %d set %v φ %v", trial, set, want)
				if ok {
					credited++
					assert.InDeltaSlice(t, wantCredit, out, shapleyTol, "trial %d", trial)
				}
			}
		})
	}
}

func TestShapleyEfficiencyTwentyChannels(t *testing.T) {
	rng := rand.New(rand.NewPCG(20, 20))
	for _, universe := range [][]int32{universeRange(0, 19), universeRange(1000, 1100)} {
		g := randomGame(rng, universe, 12)
		// A few long paths so that larger subsets are seen too.
		for range 200 {
			ch := slices.Clone(universe[:20])
			rng.Shuffle(len(ch), func(i, j int) { ch[i], ch[j] = ch[j], ch[i] })
			g.paths = append(g.paths, gamePath(float64(rng.IntN(3)), float64(rng.IntN(3)), ch[:1+rng.IntN(20)]...))
		}
		s := FitShapley(g.paths)
		set := slices.Clone(universe[:20])
		enum := s.shapleyValues(set, shapleyEnum)
		scan := s.shapleyValues(set, shapleyScan)
		assert.Equal(t, enum, scan, "both ways sum the same terms in the same order")
		sum := 0.0
		for _, x := range enum {
			sum += x
		}
		assert.InDelta(t, s.V(set), sum, shapleyTol)
		out, ok := credit(s, set...)
		if ok {
			total := 0.0
			for _, x := range out {
				assert.GreaterOrEqual(t, x, 0.)
				total += x
			}
			assert.InDelta(t, 1, total, shapleyTol)
		}
	}
}

func TestShapleyOrderIndependence(t *testing.T) {
	const a, b, c, d = 4, 9, 2, 6
	s := FitShapley([]Path{
		gamePath(1, 1, a, b, a), // set {a, b}
		gamePath(1, 3, b, a),    // set {a, b}: v(ab) = 2/6
		gamePath(2, 2, a),
		gamePath(1, 2, c, d, c),
		gamePath(3, 1, a, b, c, d),
		gamePath(1, 5, d),
	})
	assert.InDelta(t, 1./3, s.V([]int32{a, b}), shapleyTol)
	assert.InDelta(t, 1./3, s.V([]int32{b, a, a, b}), shapleyTol)
	assert.InDelta(t, 1./3, s.V([]int32{c, d, d}), shapleyTol)

	set := []int32{a, b, c, d}
	base, ok := credit(s, set...)
	require.True(t, ok)
	rng := rand.New(rand.NewPCG(4, 4))
	for range 20 {
		p := rng.Perm(len(set))
		perm := make([]int32, len(set))
		want := make([]float64, len(set))
		for i, j := range p {
			perm[i], want[i] = set[j], base[j]
		}
		got, ok := credit(s, perm...)
		require.True(t, ok)
		assert.Equal(t, want, got)
	}
	// A fresh model fitted from the paths in reverse order gives the same credits.
	rev := []Path{
		gamePath(1, 5, d),
		gamePath(3, 1, d, c, b, a),
		gamePath(1, 2, d, c),
		gamePath(2, 2, a),
		gamePath(1, 3, a, b),
		gamePath(1, 1, b, a, b),
	}
	got, ok := credit(FitShapley(rev), d, c, b, a)
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{base[3], base[2], base[1], base[0]}, got, shapleyTol)

	// A repeated code in Credit's set splits that channel's credit.
	got, ok = credit(s, a, b, a, c, d)
	require.True(t, ok)
	assert.InDeltaSlice(t, []float64{base[0] / 2, base[1], base[0] / 2, base[2], base[3]}, got, shapleyTol)
}

func TestShapleySampledFallback(t *testing.T) {
	universe := universeRange(100, 129) // 30 channels
	build := func() *Shapley {
		rng := rand.New(rand.NewPCG(30, 30))
		var paths []Path
		for range 3000 {
			ch := slices.Clone(universe)
			rng.Shuffle(len(ch), func(i, j int) { ch[i], ch[j] = ch[j], ch[i] })
			paths = append(paths, gamePath(float64(rng.IntN(3)), float64(rng.IntN(5)), ch[:1+rng.IntN(len(ch))]...))
		}
		return FitShapley(paths)
	}
	s1, s2 := build(), build()
	for _, set := range [][]int32{
		universe[:21],
		universe[3:28],
		append(slices.Clone(universe[:24]), 7), // one channel never fitted
	} {
		require.Greater(t, len(set), MaxExactShapley)
		first, ok := credit(s1, set...)
		require.True(t, ok)
		again, ok := credit(s1, set...) // cached
		require.True(t, ok)
		other, ok := credit(s2, set...) // another model: computed afresh
		require.True(t, ok)
		assert.Equal(t, first, again)
		assert.Equal(t, first, other)
		sum := 0.0
		for _, x := range first {
			assert.GreaterOrEqual(t, x, 0.)
			sum += x
		}
		assert.InDelta(t, 1, sum, shapleyTol)

		// Each ordering telescopes to v(N): efficiency holds for the estimate too.
		phi := s2.shapleyValues(set, shapleyAuto)
		total := 0.0
		for _, x := range phi {
			total += x
		}
		assert.InDelta(t, s2.V(set), total, shapleyTol)
	}

	// The estimate is close to the exact value (21 channels: exact by the scan).
	set := universe[:21]
	exact := s1.shapleyValues(set, shapleyScan)
	sampled := s1.shapleyValues(set, shapleySample)
	assert.InDeltaSlice(t, exact, sampled, 0.02)
	// So it is on a small game, too.
	g := randomGame(rand.New(rand.NewPCG(6, 6)), universeRange(0, 11), 6)
	s := FitShapley(g.paths)
	assert.InDeltaSlice(t, s.shapleyValues(g.pool, shapleyEnum), s.shapleyValues(g.pool, shapleySample), 0.05)
}

func TestShapleyConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	g := randomGame(rng, universeRange(0, 11), 8)
	s := FitShapley(g.paths)
	ref := FitShapley(g.paths)
	var sets [][]int32
	for range 200 {
		var set []int32
		for _, c := range g.pool {
			if rng.IntN(2) == 0 {
				set = append(set, c)
			}
		}
		if len(set) > 0 {
			sets = append(sets, set)
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range sets {
				set := sets[(i+w*25)%len(sets)]
				out, ok := credit(s, set...)
				want, wantOK := credit(ref, set...)
				assert.Equal(t, wantOK, ok)
				assert.Equal(t, want, out)
			}
		})
	}
	wg.Wait()
}

// readShapleyData reads a ChannelAttribution path file (path;total_conversions;
// total_conversion_value;total_null, channels joined by " > ") and codes the channels
// in order of first appearance.
func readShapleyData(name string) (paths []Path, channels []string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	codes := map[string]int32{}
	sc := bufio.NewScanner(f)
	for line := 0; sc.Scan(); line++ {
		if line == 0 {
			continue // header
		}
		fields := strings.Split(sc.Text(), ";")
		if len(fields) != 4 {
			return nil, nil, fmt.Errorf("%s:%d: %d fields, want 4", name, line+1, len(fields))
		}
		var p Path
		for _, ch := range strings.Split(fields[0], " > ") {
			c, ok := codes[ch]
			if !ok {
				c = int32(len(channels))
				codes[ch] = c
				channels = append(channels, ch)
			}
			p.Channels = append(p.Channels, c)
		}
		for i, dst := range []*float64{&p.Conversions, &p.Value, &p.Nulls} {
			if *dst, err = strconv.ParseFloat(fields[i+1], 64); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
			}
		}
		paths = append(paths, p)
	}
	return paths, channels, sc.Err()
}

func TestShapleyChannelAttributionData(t *testing.T) {
	paths, channels, err := readShapleyData("../../../shared/data/channelattribution-pathdata/Data.csv")
	if errors.Is(err, fs.ErrNotExist) {
		t.Skip("ChannelAttribution Data.csv not present")
	}
	require.NoError(t, err)
	require.Len(t, paths, 10000)
	require.Len(t, channels, 12)

	s := FitShapley(paths)
	totals := make([]float64, len(channels))
	out := make([]float64, len(channels))
	var set []int32
	fallbacks, conversions := 0, 0.0
	for _, p := range paths {
		conversions += p.Conversions
		set = set[:0]
		for _, c := range p.Channels {
			if !slices.Contains(set, c) {
				set = append(set, c)
			}
		}
		if !s.Credit(set, out[:len(set)]) {
			fallbacks++
			totals[p.Channels[len(p.Channels)-1]] += p.Conversions
			continue
		}
		for i, c := range set {
			totals[c] += p.Conversions * out[i]
		}
	}
	sum := 0.0
	for _, x := range totals {
		sum += x
	}
	assert.InDelta(t, 19785, conversions, 1e-9)
	assert.InDelta(t, 19785, sum, 1e-6)

	order := make([]int, len(channels))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int { return strings.Compare(channels[i], channels[j]) })
	var b strings.Builder
	for _, i := range order {
		fmt.Fprintf(&b, "\n  %-8s %10.3f", channels[i], totals[i])
	}
	t.Logf("Shapley conversions per channel (%d of %d paths fell back to last touch), Σ = %.6f:%s",
		fallbacks, len(paths), sum, b.String())
	assert.False(t, math.IsNaN(sum))
}
