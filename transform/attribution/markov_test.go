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

func mkPath(conv, value, nulls float64, channels ...int32) Path {
	return Path{Channels: channels, Conversions: conv, Value: value, Nulls: nulls}
}

// mkSolvers are the three ways a chain can be solved; every fit in the agreement
// tests runs under each.
var mkSolvers = []struct {
	name string
	opt  mkOptions
}{
	{"dense", mkOptions{denseMaxStates: math.MaxInt, gsMaxSweeps: mkDefaults.gsMaxSweeps}},
	{"gauss-seidel", mkOptions{denseMaxStates: 0, gsMaxSweeps: 100000}},
	{"gmres", mkOptions{denseMaxStates: 0, gsMaxSweeps: 0}},
}

func TestMarkovHandComputed(t *testing.T) {
	const A, B = 10, 20
	paths := []Path{
		mkPath(1, 10, 0, A, B),
		mkPath(0, 0, 1, A),
		mkPath(1, 5, 0, B),
		mkPath(1, 7, 1, B, A, A),
	}
	// Traversals (each path Conversions+Nulls times):
	//   Start→A 2, Start→B 1+2 = 3                    → P(S→A) = 2/5, P(S→B) = 3/5
	//   A: →B 1, →Null 1 (path 2), →A 2, →Conv 1, →Null 1 (path 4); out 6
	//      → P(A→B) = 1/6, P(A→A) = 2/6, P(A→Conv) = 1/6, P(A→Null) = 2/6
	//   B: →Conv 1 (path 1), →Conv 1 (path 3), →A 2 (path 4); out 4
	//      → P(B→Conv) = 1/2, P(B→A) = 1/2
	// Full chain: x_A = x_B/6 + x_A/3 + 1/6 → x_A = (x_B + 1)/4;
	//             x_B = 1/2 + x_A/2 → x_B = 5/7, x_A = 3/7;
	//             P = 2/5·3/7 + 3/5·5/7 = 21/35 = 3/5.
	// Remove A (A is Null): x_B = 1/2, P = 3/5·1/2 = 3/10 → RE_A = 1 − (3/10)/(3/5) = 1/2.
	// Remove B: x_A = 1/6 + x_A/3 → x_A = 1/4, P = 2/5·1/4 = 1/10 → RE_B = 1 − 1/6 = 5/6.
	// Shares: (1/2, 5/6) / (4/3) = (3/8, 5/8).
	for _, sv := range mkSolvers {
		t.Run(sv.name, func(t *testing.T) {
			m, _, err := fitMarkov(paths, 1, sv.opt)
			require.NoError(t, err)
			assert.Equal(t, 1, m.Order)
			assert.Equal(t, []int32{A, B}, m.Channels)
			assert.InDelta(t, 3.0/5, m.PConversion, 1e-12)
			assert.InDelta(t, 1.0/2, m.Effect(A), 1e-12)
			assert.InDelta(t, 5.0/6, m.Effect(B), 1e-12)
			assert.InDelta(t, 3.0/8, m.Share(A), 1e-12)
			assert.InDelta(t, 5.0/8, m.Share(B), 1e-12)
			assert.Equal(t, 3.0, m.Conversions)
			assert.Equal(t, 22.0, m.Value)
			assert.Zero(t, m.Effect(99))
			assert.Zero(t, m.Share(99))
		})
	}
}

func TestMarkovHandComputedOrder2(t *testing.T) {
	const A, B, C = 1, 2, 3
	paths := []Path{
		mkPath(1, 1, 0, A, B, C),
		mkPath(0, 0, 1, A),
		mkPath(0, 0, 1, B, C),
		mkPath(1, 1, 1, C, A, B),
	}
	// Order-2 states are windows of two channels; a one-channel path is its own state:
	//   path 1: Start→(A,B)→(B,C)→Conv      ×1
	//   path 2: Start→(A)→Null              ×1
	//   path 3: Start→(B,C)→Null            ×1
	//   path 4: Start→(C,A)→(A,B)→Conv|Null ×2 (one conversion, one null)
	// Start: (A,B) 1/5, (A) 1/5, (B,C) 1/5, (C,A) 2/5.
	// (A,B): →(B,C) 1/3, →Conv 1/3, →Null 1/3. (B,C): →Conv 1/2, →Null 1/2.
	// (C,A): →(A,B) 1. (A): →Null 1.
	// x(B,C) = 1/2, x(A,B) = 1/3·1/2 + 1/3 = 1/2, x(C,A) = 1/2, x(A) = 0;
	// P = 1/5·1/2 + 1/5·1/2 + 2/5·1/2 = 2/5.
	// Remove A ((A,B), (A), (C,A) are Null): P = 1/5·1/2 = 1/10 → RE_A = 3/4.
	// Remove B ((A,B), (B,C)): P = 0 → RE_B = 1.
	// Remove C ((B,C), (C,A)): x(A,B) = 1/3, P = 1/5·1/3 = 1/15 → RE_C = 5/6.
	for _, sv := range mkSolvers {
		t.Run(sv.name, func(t *testing.T) {
			m, st, err := fitMarkov(paths, 2, sv.opt)
			require.NoError(t, err)
			assert.Equal(t, 4, st.states)
			assert.InDelta(t, 2.0/5, m.PConversion, 1e-12)
			assert.InDelta(t, 3.0/4, m.Effect(A), 1e-12)
			assert.InDelta(t, 1, m.Effect(B), 1e-12)
			assert.InDelta(t, 5.0/6, m.Effect(C), 1e-12)
		})
	}
}

// mkRule is how the reference cuts a path into states.
type mkRule int

const (
	mkWindows   mkRule = iota // ChannelAttribution: k-windows; a path shorter than k is one state
	mkPrefixes                // (c1), (c1,c2), … up to k, then k-windows
	mkCollapsed               // k-windows with consecutive equal states merged, as ChannelAttribution does
)

// mkReference is an independent brute-force solution: string-keyed states, the full
// transition matrix of each (removed) chain, Gauss–Jordan elimination on (I − Q)x = r.
// It returns P(conversion) and the removal effect per channel code.
func mkReference(paths []Path, k int, rule mkRule) (float64, map[int32]float64) {
	const start, conv, null = "(start)", "(conversion)", "(null)"
	counts := map[string]map[string]float64{}
	members := map[string][]int32{}
	add := func(from, to string, w float64) {
		if counts[from] == nil {
			counts[from] = map[string]float64{}
		}
		counts[from][to] += w
	}
	name := func(cs []int32) string {
		parts := make([]string, len(cs))
		for i, c := range cs {
			parts[i] = strconv.Itoa(int(c))
		}
		s := strings.Join(parts, ",")
		if rule == mkPrefixes && len(cs) < k {
			s = "prefix:" + s
		}
		members[s] = cs
		return s
	}
	channels := map[int32]bool{}
	for _, p := range paths {
		for _, c := range p.Channels {
			channels[c] = true
		}
		w := p.Conversions + p.Nulls
		if len(p.Channels) == 0 || w <= 0 {
			continue
		}
		var seq []string
		n := len(p.Channels)
		if rule == mkPrefixes {
			for j := 1; j < min(n, k); j++ {
				seq = append(seq, name(p.Channels[:j]))
			}
		}
		if n <= k {
			seq = append(seq, name(p.Channels))
		} else {
			for j := 0; j+k <= n; j++ {
				seq = append(seq, name(p.Channels[j:j+k]))
			}
		}
		if rule == mkCollapsed {
			seq = slices.Compact(seq)
		}
		prev := start
		for _, s := range seq {
			add(prev, s, w)
			prev = s
		}
		add(prev, conv, p.Conversions)
		add(prev, null, p.Nulls)
	}
	var states []string
	for s := range members {
		states = append(states, s)
	}
	slices.Sort(states)

	pconv := func(removed int32, remove bool) float64 {
		var keep []string
		pos := map[string]int{}
		for _, s := range states {
			if remove && slices.Contains(members[s], removed) {
				continue
			}
			pos[s] = len(keep)
			keep = append(keep, s)
		}
		n := len(keep)
		a := make([][]float64, n)
		for i, s := range keep {
			a[i] = make([]float64, n+1) // augmented with r
			a[i][i] = 1
			var out float64
			for _, c := range counts[s] {
				out += c
			}
			for to, c := range counts[s] {
				switch j, ok := pos[to]; {
				case to == conv:
					a[i][n] += c / out
				case ok:
					a[i][j] -= c / out
				}
			}
		}
		for col := range n {
			p := col
			for i := col + 1; i < n; i++ {
				if math.Abs(a[i][col]) > math.Abs(a[p][col]) {
					p = i
				}
			}
			a[col], a[p] = a[p], a[col]
			for i := range n {
				if i == col || a[i][col] == 0 {
					continue
				}
				f := a[i][col] / a[col][col]
				for j := col; j <= n; j++ {
					a[i][j] -= f * a[col][j]
				}
			}
		}
		var total, pc float64
		for _, c := range counts[start] {
			total += c
		}
		for to, c := range counts[start] {
			if j, ok := pos[to]; ok {
				pc += c / total * a[j][n] / a[j][j]
			}
		}
		return pc
	}
	full := pconv(0, false)
	effects := map[int32]float64{}
	for c := range channels {
		if full > 0 {
			effects[c] = min(max(1-pconv(c, true)/full, 0), 1)
		} else {
			effects[c] = 0
		}
	}
	return full, effects
}

// mkRandomPaths draws n paths over nch channels (codes spread out and partly
// negative), lengths 1..maxLen, with runs of repeats and skewed channel frequencies.
func mkRandomPaths(rng *rand.Rand, nch, n, maxLen int) []Path {
	codes := make([]int32, nch)
	for i := range codes {
		codes[i] = int32(i*37 - 50)
	}
	paths := make([]Path, n)
	for i := range paths {
		l := 1 + rng.IntN(maxLen)
		cs := make([]int32, l)
		for j := range cs {
			if j > 0 && rng.IntN(4) == 0 {
				cs[j] = cs[j-1]
			} else {
				cs[j] = codes[min(rng.IntN(nch), rng.IntN(nch))]
			}
		}
		conv := float64(rng.IntN(3))
		paths[i] = Path{Channels: cs, Conversions: conv, Value: conv * rng.Float64() * 10, Nulls: float64(rng.IntN(4))}
	}
	return paths
}

// mkConversionRate is conversions / journeys. The fitted chain's P(conversion) equals
// it at every order: each visit to a state leaves it once, so the observed visits per
// journey solve the chain's expected-visits equation, and P(conversion) = Σ visits ·
// P(s → Conversion) = conversions / journeys.
func mkConversionRate(paths []Path) float64 {
	var conv, journeys float64
	for _, p := range paths {
		if len(p.Channels) > 0 {
			conv += p.Conversions
			journeys += p.Conversions + p.Nulls
		}
	}
	if journeys == 0 {
		return 0
	}
	return conv / journeys
}

func mkAssertMatches(t *testing.T, m *Markov, pconv float64, effects map[int32]float64, tol float64) {
	t.Helper()
	require.Len(t, m.Channels, len(effects))
	assert.InDelta(t, pconv, m.PConversion, tol, "P(conversion)")
	for i, c := range m.Channels {
		assert.InDelta(t, effects[c], m.RemovalEffect[i], tol, "channel %d", c)
	}
}

func TestMarkovMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 12 {
		nch := 3 + trial%6
		paths := mkRandomPaths(rng, nch, 40+rng.IntN(160), 2+rng.IntN(7))
		for order := 1; order <= 3; order++ {
			pconv, effects := mkReference(paths, order, mkWindows)
			for _, sv := range mkSolvers {
				t.Run(fmt.Sprintf("trial%d/order%d/%s", trial, order, sv.name), func(t *testing.T) {
					m, st, err := fitMarkov(paths, order, sv.opt)
					require.NoError(t, err)
					assert.Equal(t, sv.opt.denseMaxStates > 0, st.dense)
					mkAssertMatches(t, m, pconv, effects, 1e-9)
					assert.InDelta(t, mkConversionRate(paths), m.PConversion, 1e-12)
				})
			}
		}
	}
}

// TestMarkovLargeChainSparse takes the sparse branch under the default settings.
func TestMarkovLargeChainSparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	paths := mkRandomPaths(rng, 8, 1500, 8)
	m, st, err := fitMarkov(paths, 3, mkDefaults)
	require.NoError(t, err)
	require.False(t, st.dense, "%d states", st.states)
	require.Greater(t, st.states, mkDefaults.denseMaxStates)
	pconv, effects := mkReference(paths, 3, mkWindows)
	mkAssertMatches(t, m, pconv, effects, 1e-9)
	t.Logf("%d states, %d transitions", st.states, st.transitions)
}

// TestMarkovStartRuleAndRepeats checks that entering through prefix states, or
// dropping consecutive repeated states as ChannelAttribution does, gives the same
// chain law, hence the same P(conversion) and removal effects.
func TestMarkovStartRuleAndRepeats(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 8))
	for trial := range 6 {
		paths := mkRandomPaths(rng, 3+trial%4, 120, 9)
		for order := 1; order <= 3; order++ {
			m, err := FitMarkov(paths, order)
			require.NoError(t, err)
			for _, rule := range []mkRule{mkPrefixes, mkCollapsed} {
				pconv, effects := mkReference(paths, order, rule)
				mkAssertMatches(t, m, pconv, effects, 1e-9)
			}
			// Runs longer than the order only add self-loops: cutting them changes nothing.
			cut := make([]Path, len(paths))
			for i, p := range paths {
				var cs []int32
				run := 0
				for j, c := range p.Channels {
					if j > 0 && c == p.Channels[j-1] {
						run++
					} else {
						run = 1
					}
					if run <= order {
						cs = append(cs, c)
					}
				}
				cut[i] = p
				cut[i].Channels = cs
			}
			mc, err := FitMarkov(cut, order)
			require.NoError(t, err)
			assert.InDelta(t, m.PConversion, mc.PConversion, 1e-12)
			assert.InDeltaSlice(t, m.RemovalEffect, mc.RemovalEffect, 1e-12)
		}
	}
}

// TestMarkovSlowCycle is a chain whose a ⇄ b cycle is left with probability 1/500
// a step: Gauss–Seidel alone would need ~16,000 sweeps; GMRES takes over.
func TestMarkovSlowCycle(t *testing.T) {
	long := make([]int32, 1000)
	for i := range long {
		long[i] = int32(i % 2)
	}
	paths := []Path{mkPath(1, 1, 0, long...), mkPath(0, 0, 1, 1), mkPath(1, 1, 2, 2, 0)}
	for order := 1; order <= 2; order++ {
		pconv, effects := mkReference(paths, order, mkWindows)
		for _, sv := range mkSolvers {
			m, _, err := fitMarkov(paths, order, sv.opt)
			require.NoError(t, err)
			mkAssertMatches(t, m, pconv, effects, 1e-9)
		}
		m, _, err := fitMarkov(paths, order, mkOptions{denseMaxStates: 0, gsMaxSweeps: mkDefaults.gsMaxSweeps})
		require.NoError(t, err)
		mkAssertMatches(t, m, pconv, effects, 1e-9)
	}
}

func TestMarkovNoConversions(t *testing.T) {
	paths := []Path{mkPath(0, 0, 3, 1, 2), mkPath(0, 0, 1, 2), mkPath(0, 0, 2, 3, 3, 1)}
	for order := 1; order <= 4; order++ {
		m, err := FitMarkov(paths, order)
		require.NoError(t, err)
		assert.Equal(t, []int32{1, 2, 3}, m.Channels)
		assert.Equal(t, []float64{0, 0, 0}, m.RemovalEffect)
		assert.Zero(t, m.PConversion)
		assert.Zero(t, m.Conversions)
		assert.Zero(t, m.Share(1))
	}
	m, err := FitMarkov(nil, 1)
	require.NoError(t, err)
	assert.Empty(t, m.Channels)
	assert.Empty(t, m.RemovalEffect)
}

func TestMarkovSingleChannel(t *testing.T) {
	paths := []Path{mkPath(2, 20, 3, 5), mkPath(1, 4, 0, 5, 5, 5), mkPath(0, 0, 4, 5, 5)}
	for order := 1; order <= 4; order++ {
		m, err := FitMarkov(paths, order)
		require.NoError(t, err)
		assert.Equal(t, []int32{5}, m.Channels)
		assert.InDelta(t, 3.0/10, m.PConversion, 1e-12)
		assert.Equal(t, 1.0, m.Effect(5))
		assert.Equal(t, 1.0, m.Share(5))
		assert.Equal(t, 3.0, m.Conversions)
		assert.Equal(t, 24.0, m.Value)
	}
}

func TestMarkovNullOnlyChannel(t *testing.T) {
	const A, B, Z = 1, 2, 9
	// Z is only ever the last touch of journeys that did not convert, or on its own:
	// every state holding Z leads to Null only, so removing it changes nothing.
	paths := []Path{mkPath(2, 2, 1, A, B), mkPath(0, 0, 3, A, Z), mkPath(1, 1, 1, B), mkPath(0, 0, 2, Z, Z)}
	for order := 1; order <= 3; order++ {
		m, err := FitMarkov(paths, order)
		require.NoError(t, err)
		assert.Equal(t, []int32{A, B, Z}, m.Channels)
		assert.InDelta(t, 0, m.Effect(Z), 1e-12)
		assert.InDelta(t, 0, m.Share(Z), 1e-12)
		assert.Positive(t, m.Effect(A))
	}
	// A channel seen only on non-converting paths can still carry credit at order 1:
	// the chain forgets where a walk came from. Here Z → A, and A converts half the
	// time: P = 1/2·1/2 + 1/2·1/2 = 1/2; without Z, P = 1/4; RE_Z = 1/2.
	m, err := FitMarkov([]Path{mkPath(0, 0, 1, Z, A), mkPath(1, 1, 0, A)}, 1)
	require.NoError(t, err)
	assert.InDelta(t, 0.5, m.Effect(Z), 1e-12)
	// At order 2 the window (Z,A) remembers Z and never converts: no credit.
	m, err = FitMarkov([]Path{mkPath(0, 0, 1, Z, A), mkPath(1, 1, 0, A)}, 2)
	require.NoError(t, err)
	assert.InDelta(t, 0, m.Effect(Z), 1e-12)
}

func TestMarkovIgnoredPaths(t *testing.T) {
	paths := []Path{mkPath(1, 3, 1, 1, 2), {}, mkPath(0, 0, 0, 7, 1), mkPath(2, 4, 0, 2)}
	m, err := FitMarkov(paths, 2)
	require.NoError(t, err)
	assert.Equal(t, []int32{1, 2, 7}, m.Channels, "channels of a path without journeys are listed")
	assert.Zero(t, m.Effect(7))
	ref, err := FitMarkov([]Path{paths[0], paths[3]}, 2)
	require.NoError(t, err)
	assert.Equal(t, ref.PConversion, m.PConversion)
	assert.Equal(t, ref.Effect(1), m.Effect(1))
	assert.Equal(t, ref.Effect(2), m.Effect(2))
	assert.Equal(t, 3.0, m.Conversions)
	assert.Equal(t, 7.0, m.Value)

	for _, bad := range []Path{mkPath(-1, 0, 1, 1), mkPath(1, 0, math.NaN(), 1), mkPath(math.Inf(1), 0, 0, 1), mkPath(1, math.NaN(), 0, 1)} {
		_, err := FitMarkov([]Path{paths[0], bad}, 1)
		assert.ErrorContains(t, err, "path 1")
	}
}

func TestMarkovOrderRange(t *testing.T) {
	paths := []Path{mkPath(1, 1, 1, 1, 2)}
	for _, order := range []int{-1, 0, 5, 10} {
		m, err := FitMarkov(paths, order)
		assert.Nil(t, m)
		assert.ErrorContains(t, err, "1..4")
		assert.ErrorContains(t, err, strconv.Itoa(order))
	}
	for order := 1; order <= 4; order++ {
		_, err := FitMarkov(paths, order)
		assert.NoError(t, err)
	}
}

func TestMarkovDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	paths := mkRandomPaths(rng, 12, 4000, 10)
	for order := 1; order <= 4; order++ {
		for _, sv := range mkSolvers {
			if sv.name == "dense" && order > 2 {
				continue // over a thousand states: slow to factor; dense is covered at orders 1–2
			}
			first, st, err := fitMarkov(paths, order, sv.opt)
			require.NoError(t, err)
			// Concurrent fits, each with concurrent removal solves.
			got := make([]*Markov, 3)
			var wg sync.WaitGroup
			for i := range got {
				wg.Go(func() {
					m, _, err := fitMarkov(paths, order, sv.opt)
					assert.NoError(t, err)
					got[i] = m
				})
			}
			wg.Wait()
			for _, m := range got {
				require.NotNil(t, m)
				require.Equal(t, first.Channels, m.Channels)
				assert.Equal(t, math.Float64bits(first.PConversion), math.Float64bits(m.PConversion))
				for i := range first.RemovalEffect {
					assert.Equal(t, math.Float64bits(first.RemovalEffect[i]), math.Float64bits(m.RemovalEffect[i]),
						"order %d %s channel %d", order, sv.name, first.Channels[i])
				}
			}
			t.Logf("order %d %s: %d states, %d transitions", order, sv.name, st.states, st.transitions)
		}
	}
}

// TestMarkovPathOrder: the paths' order changes the state numbering, hence rounding,
// and nothing else.
func TestMarkovPathOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	paths := mkRandomPaths(rng, 7, 800, 8)
	rev := slices.Clone(paths)
	slices.Reverse(rev)
	for order := 1; order <= 4; order++ {
		a, err := FitMarkov(paths, order)
		require.NoError(t, err)
		b, err := FitMarkov(rev, order)
		require.NoError(t, err)
		assert.InDelta(t, a.PConversion, b.PConversion, 1e-12)
		assert.InDeltaSlice(t, a.RemovalEffect, b.RemovalEffect, 1e-12)
	}
}

// dataCSVPath is ChannelAttribution's example data, relative to this package.
const dataCSVPath = "../../../shared/data/channelattribution-pathdata/Data.csv"

// readDataCSV parses a ChannelAttribution path file (semicolon-separated
// path;total_conversions;total_conversion_value;total_null with a header, channels
// joined by ">"). Channel codes index channels, the channel names in ascending order;
// paths keep the file's row order. A missing file gives an error matching
// fs.ErrNotExist (callers t.Skip on it).
func readDataCSV(name string) (paths []Path, channels []string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	type row struct {
		names             []string
		conv, value, null float64
	}
	var rows []row
	seen := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 0; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if line == 0 {
			if text != "path;total_conversions;total_conversion_value;total_null" {
				return nil, nil, fmt.Errorf("%s: unexpected header %q", name, text)
			}
			continue
		}
		if text == "" {
			continue
		}
		fields := strings.Split(text, ";")
		if len(fields) != 4 {
			return nil, nil, fmt.Errorf("%s:%d: %d fields, want 4", name, line+1, len(fields))
		}
		var r row
		for _, ch := range strings.Split(fields[0], ">") {
			ch = strings.TrimSpace(ch)
			if ch == "" {
				return nil, nil, fmt.Errorf("%s:%d: empty channel in %q", name, line+1, fields[0])
			}
			r.names = append(r.names, ch)
			seen[ch] = true
		}
		for i, dst := range []*float64{&r.conv, &r.value, &r.null} {
			if *dst, err = strconv.ParseFloat(strings.TrimSpace(fields[i+1]), 64); err != nil {
				return nil, nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
			}
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	for ch := range seen {
		channels = append(channels, ch)
	}
	slices.Sort(channels)
	paths = make([]Path, len(rows))
	for i, r := range rows {
		cs := make([]int32, len(r.names))
		for j, n := range r.names {
			c, _ := slices.BinarySearch(channels, n)
			cs[j] = int32(c)
		}
		paths[i] = Path{Channels: cs, Conversions: r.conv, Value: r.value, Nulls: r.null}
	}
	return paths, channels, nil
}

func TestMarkovChannelAttributionData(t *testing.T) {
	paths, names, err := readDataCSV(dataCSVPath)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("%s is absent", dataCSVPath)
	}
	require.NoError(t, err)
	require.Len(t, paths, 10000)
	require.Len(t, names, 12)
	var conv, value, nulls float64
	for _, p := range paths {
		conv += p.Conversions
		value += p.Value
		nulls += p.Nulls
	}
	require.Equal(t, 19785.0, conv)
	require.Equal(t, 68602.0, nulls)
	require.InDelta(t, 74802.971587, value, 1e-6)

	for order := 1; order <= 4; order++ {
		m, st, err := fitMarkov(paths, order, mkDefaults)
		require.NoError(t, err)
		require.Len(t, m.Channels, 12)
		assert.Equal(t, conv, m.Conversions)
		assert.InDelta(t, value, m.Value, 1e-6)
		var attributed, attributedValue float64
		var b strings.Builder
		for i, c := range m.Channels {
			e := m.RemovalEffect[i]
			assert.True(t, e >= 0 && e <= 1, "%s: removal effect %g", names[c], e)
			attributed += m.Share(c) * m.Conversions
			attributedValue += m.Share(c) * m.Value
			fmt.Fprintf(&b, "\n  %-8s RE %.6f  share %.6f  conversions %9.3f  value %10.3f",
				names[c], e, m.Share(c), m.Share(c)*m.Conversions, m.Share(c)*m.Value)
		}
		assert.InDelta(t, 19785.0/88387, m.PConversion, 1e-12)
		assert.InDelta(t, 19785, attributed, 1e-6)
		assert.InDelta(t, 74802.971587, attributedValue, 1e-6)
		t.Logf("order %d: %d states, %d transitions, dense %v, P(conversion) %.9f%s",
			order, st.states, st.transitions, st.dense, m.PConversion, b.String())
		if order <= 2 {
			pconv, effects := mkReference(paths, order, mkWindows)
			mkAssertMatches(t, m, pconv, effects, 1e-9)
		}
	}
}
