package attribution

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
)

// Markov is a fitted Markov-chain attribution model of one order.
//
// The chain (Anderl et al. 2016; ChannelAttribution's markov_model):
//
//   - States are Start, Conversion and Null (both absorbing) and channel states. At
//     order 1 a channel state is one channel. At order k a channel state is a window
//     of k consecutive channels: a path c1 > … > cn with n ≥ k walks
//     Start → (c1…ck) → (c2…ck+1) → … → (cn−k+1…cn), and a path shorter than k is the
//     single state (c1…cn). This is how ChannelAttribution cuts paths for higher orders
//     (its markov_model and transition_matrix slide a window of `order` channels from
//     the first one; no shorter prefix states). A chain that instead enters through
//     the prefixes (c1), (c1,c2), … has more states but the same law of walks, so
//     the same P(conversion) and removal effects.
//   - Each path contributes Conversions+Nulls traversals: Start → s1 → … → sn, then
//     sn → Conversion Conversions times and sn → Null Nulls times. Repeated channels
//     are kept, so a > a is a self-loop. (ChannelAttribution drops consecutive
//     repeated states; that removes self-loops only, which changes the transition
//     matrix but not one absorption probability, so the effects are the same.)
//   - A transition's probability is its count over the out-count of its from-state.
//   - PConversion is the probability of absorption in Conversion from Start. Removing
//     channel c turns every state that contains c into Null; RemovalEffect is
//     1 − P_removed/PConversion, clamped to [0,1], and 0 for every channel when
//     PConversion is 0.
//
// The absorption probabilities are solved exactly from x = Qx + r over the channel
// states, once for the full chain and once per removed channel, never by simulation.
type Markov struct {
	// Order is the order of the chain, 1..4.
	Order int
	// Channels is every channel code seen on a path, ascending.
	Channels []int32
	// RemovalEffect is, per Channels[i], 1 − P(conversion | channel removed) /
	// P(conversion), clamped to [0,1].
	RemovalEffect []float64
	// PConversion is P(reaching Conversion from Start) of the full chain.
	PConversion float64
	// Conversions is the total conversions over the paths.
	Conversions float64
	// Value is the total conversion value over the paths.
	Value float64
}

// Effect returns the removal effect of channel (0 when the channel was never seen).
func (m *Markov) Effect(channel int32) float64 {
	if i, ok := slices.BinarySearch(m.Channels, channel); ok {
		return m.RemovalEffect[i]
	}
	return 0
}

// Share returns Effect(channel) / sum of all removal effects (0 when the sum is 0).
func (m *Markov) Share(channel int32) float64 {
	var sum float64
	for _, e := range m.RemovalEffect {
		sum += e
	}
	if sum <= 0 {
		return 0
	}
	return m.Effect(channel) / sum
}

// mkOptions are the solver settings. The state count n of a fit decides for all of its
// solves: n ≤ denseMaxStates is solved by dense LU with partial pivoting (O(n³) time,
// O(n²) memory; at most ~5 ms a solve at this size); a larger chain by
// Gauss–Seidel sweeps over the sparse transition rows (states in descending order of
// first appearance, so that later states, which lie nearer the absorbing end of the
// paths, are updated first), and when gsMaxSweeps sweeps do not reach the tolerance (a
// chain with a slowly mixing cycle), by restarted GMRES preconditioned with the same
// sweep, continuing from the sweeps' iterate. A sparse solve ends when the true
// residual satisfies ‖r + Qx − x‖∞ ≤ mkSolveTol·‖x‖∞ (GMRES also stops at
// ≤ 64·mkSolveTol·‖x‖∞ if rounding keeps three restarts in a row from halving the
// residual; an error past mkGMRESMaxIters). The tests drive every branch through
// these settings.
type mkOptions struct {
	denseMaxStates int
	gsMaxSweeps    int
}

var mkDefaults = mkOptions{denseMaxStates: 256, gsMaxSweeps: 200}

const (
	mkSolveTol      = 1e-14
	mkGMRESRestart  = 30
	mkGMRESMaxIters = 30000 // inner iterations over all restarts of one solve
)

// FitMarkov builds the order-k chain from paths (converting AND non-converting) and
// solves it exactly. order is 1..4 (else an error naming the valid range).
//
// A path without channels, or whose Conversions+Nulls is 0, adds no traversal (its
// channels are still listed, with effect 0); negative or non-finite counts are an
// error. The result depends only on paths and their order and is the same bit for bit
// on every run: the removal solves run concurrently, one channel per solve, each in a
// fixed sequential order. Memory is proportional to the states and transitions of the
// chain (plus, for a dense solve, n² per worker), not to the journeys.
func FitMarkov(paths []Path, order int) (*Markov, error) {
	m, _, err := fitMarkov(paths, order, mkDefaults)
	return m, err
}

// mkStats describes a fitted chain, for tests and benchmarks.
type mkStats struct {
	states      int // channel states (Start, Conversion and Null not counted)
	transitions int // distinct transitions between channel states, self-loops included
	dense       bool
}

func fitMarkov(paths []Path, order int, opt mkOptions) (*Markov, mkStats, error) {
	if order < 1 || order > 4 {
		return nil, mkStats{}, fmt.Errorf("attribution: markov order %d out of range: want 1..4", order)
	}
	m := &Markov{Order: order}
	for i := range paths {
		p := &paths[i]
		if !(p.Conversions >= 0 && p.Nulls >= 0) || math.IsInf(p.Conversions+p.Nulls, 0) ||
			math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
			return nil, mkStats{}, fmt.Errorf("attribution: markov path %d: conversions %g, nulls %g, value %g: want finite counts ≥ 0",
				i, p.Conversions, p.Nulls, p.Value)
		}
		if len(p.Channels) == 0 {
			continue
		}
		m.Conversions += p.Conversions
		m.Value += p.Value
	}
	ix := mkIndexChannels(paths)
	m.Channels = ix.codes
	m.RemovalEffect = make([]float64, len(ix.codes))
	c := mkBuild(paths, order, &ix)
	st := mkStats{states: c.n, transitions: c.transitions, dense: c.n <= opt.denseMaxStates}
	if c.n == 0 || !c.anyConversion {
		return m, st, nil
	}
	s := c.newSolver(st.dense, opt.gsMaxSweeps)
	xFull := make([]float64, c.n)
	if err := s.solve(xFull, nil); err != nil {
		return nil, st, err
	}
	m.PConversion = c.pConversion(xFull)
	if m.PConversion <= 0 {
		return m, st, nil
	}
	err := c.removals(xFull, st.dense, opt.gsMaxSweeps, func(ch int, p float64) {
		e := 1 - p/m.PConversion
		m.RemovalEffect[ch] = min(max(e, 0), 1)
	})
	if err != nil {
		return nil, st, err
	}
	return m, st, nil
}

// mkIndex maps channel codes to their index in the ascending list of codes.
type mkIndex struct {
	codes []int32
	lo    int32
	dense []int32 // code−lo → index, when the codes span a small range
	m     map[int32]int32
}

func (x *mkIndex) of(code int32) int32 {
	if x.dense != nil {
		return x.dense[code-x.lo]
	}
	return x.m[code]
}

func mkIndexChannels(paths []Path) mkIndex {
	lo, hi := int32(math.MaxInt32), int32(math.MinInt32)
	touches := 0
	for i := range paths {
		for _, c := range paths[i].Channels {
			lo, hi = min(lo, c), max(hi, c)
		}
		touches += len(paths[i].Channels)
	}
	x := mkIndex{lo: lo}
	if touches == 0 {
		return x
	}
	if span := int64(hi) - int64(lo) + 1; span <= 1<<20 {
		x.dense = make([]int32, span)
		for i := range x.dense {
			x.dense[i] = -1
		}
		for i := range paths {
			for _, c := range paths[i].Channels {
				x.dense[c-lo] = 0
			}
		}
		for i, v := range x.dense {
			if v == 0 {
				x.dense[i] = int32(len(x.codes))
				x.codes = append(x.codes, lo+int32(i))
			}
		}
		return x
	}
	x.m = map[int32]int32{}
	for i := range paths {
		for _, c := range paths[i].Channels {
			x.m[c] = 0
		}
	}
	for c := range x.m {
		x.codes = append(x.codes, c)
	}
	slices.Sort(x.codes)
	for i, c := range x.codes {
		x.m[c] = int32(i)
	}
	return x
}

// mkChain is the transition structure over the channel states 0..n−1, numbered in
// order of first appearance (paths in order, touches in order).
type mkChain struct {
	n           int
	transitions int
	// Row s of Q without its diagonal: col[rowPtr[s]:rowPtr[s+1]], prob[…].
	rowPtr []int32
	col    []int32
	prob   []float64
	stay   []float64 // 1 − Q[s][s]
	conv   []float64 // r: P(s → Conversion)
	start  []float64 // P(Start → s)
	// holders[holdPtr[c]:holdPtr[c+1]] are the states containing channel index c, ascending.
	holdPtr       []int32
	holders       []int32
	anyConversion bool
}

// mkBuild counts the traversals of the order-k chain. Hot loop: one map look-up per
// step, keyed by (state, next channel); a state's tuple is looked up only on a
// path's first state and when a transition is seen for the first time.
func mkBuild(paths []Path, k int, ix *mkIndex) *mkChain {
	type key [4]int32
	ids := map[key]int32{}
	var tuples []key
	var startW, convW, nullW []float64
	state := func(t key) int32 {
		if s, ok := ids[t]; ok {
			return s
		}
		s := int32(len(tuples))
		ids[t] = s
		tuples = append(tuples, t)
		startW = append(startW, 0)
		convW = append(convW, 0)
		nullW = append(nullW, 0)
		return s
	}
	edges := map[uint64]int32{}
	var eFrom, eTo []int32
	var eW []float64
	for i := range paths {
		p := &paths[i]
		w := p.Conversions + p.Nulls
		n := len(p.Channels)
		if n == 0 || w <= 0 {
			continue
		}
		t := key{-1, -1, -1, -1}
		first := min(n, k)
		for j := range first {
			t[j] = ix.of(p.Channels[j])
		}
		s := state(t)
		startW[s] += w
		for j := first; j < n; j++ {
			c := ix.of(p.Channels[j])
			ek := uint64(s)<<32 | uint64(uint32(c))
			e, ok := edges[ek]
			if !ok {
				// s is a full window here: the next one drops its oldest channel.
				nt := key{-1, -1, -1, -1}
				copy(nt[:k-1], tuples[s][1:k])
				nt[k-1] = c
				e = int32(len(eFrom))
				edges[ek] = e
				eFrom = append(eFrom, s)
				eTo = append(eTo, state(nt))
				eW = append(eW, 0)
			}
			eW[e] += w
			s = eTo[e]
		}
		convW[s] += p.Conversions
		nullW[s] += p.Nulls
	}
	ids, edges = nil, nil

	n := len(tuples)
	c := &mkChain{n: n, transitions: len(eFrom)}
	out := make([]float64, n)
	for e, s := range eFrom {
		out[s] += eW[e]
	}
	for s := range out {
		out[s] += convW[s] + nullW[s]
	}
	c.rowPtr = make([]int32, n+1)
	for e, s := range eFrom {
		if eTo[e] != s {
			c.rowPtr[s+1]++
		}
	}
	for s := range n {
		c.rowPtr[s+1] += c.rowPtr[s]
	}
	nnz := c.rowPtr[n]
	c.col = make([]int32, nnz)
	c.prob = make([]float64, nnz)
	c.stay = make([]float64, n)
	for s := range c.stay {
		c.stay[s] = 1
	}
	fill := slices.Clone(c.rowPtr[:n])
	for e, s := range eFrom {
		p := eW[e] / out[s]
		if to := eTo[e]; to == s {
			c.stay[s] = 1 - p
		} else {
			c.col[fill[s]] = to
			c.prob[fill[s]] = p
			fill[s]++
		}
	}
	c.conv = make([]float64, n)
	c.start = make([]float64, n)
	var total float64
	for _, w := range startW {
		total += w
	}
	for s := range n {
		c.conv[s] = convW[s] / out[s]
		c.start[s] = startW[s] / total
		if convW[s] > 0 {
			c.anyConversion = true
		}
	}
	nch := len(ix.codes)
	c.holdPtr = make([]int32, nch+1)
	holds := func(s int, visit func(ch int32)) {
		t := &tuples[s]
		for j := 0; j < k && t[j] >= 0; j++ {
			if !slices.Contains(t[:j], t[j]) {
				visit(t[j])
			}
		}
	}
	for s := range n {
		holds(s, func(ch int32) { c.holdPtr[ch+1]++ })
	}
	for ch := range nch {
		c.holdPtr[ch+1] += c.holdPtr[ch]
	}
	c.holders = make([]int32, c.holdPtr[nch])
	fill = slices.Clone(c.holdPtr[:nch])
	for s := range n {
		holds(s, func(ch int32) {
			c.holders[fill[ch]] = int32(s)
			fill[ch]++
		})
	}
	return c
}

// pConversion is Σ_s P(Start → s)·x_s, in state order.
func (c *mkChain) pConversion(x []float64) float64 {
	var p float64
	for s, w := range c.start {
		p += w * x[s]
	}
	return p
}

// removals solves the chain once per channel with that channel's states removed, on
// up to GOMAXPROCS workers, and reports P_removed(conversion) per channel index.
// Each solve is sequential and independent of the others, so the results do not
// depend on scheduling.
func (c *mkChain) removals(xFull []float64, dense bool, gsMaxSweeps int, report func(ch int, p float64)) error {
	nch := len(c.holdPtr) - 1
	var jobs []int
	for ch := range nch {
		if c.holdPtr[ch+1] > c.holdPtr[ch] {
			jobs = append(jobs, ch)
		}
	}
	ps := make([]float64, nch)
	errs := make([]error, nch)
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := c.newSolver(dense, gsMaxSweeps)
			x := make([]float64, c.n)
			removed := make([]bool, c.n)
			for ch := range next {
				hold := c.holders[c.holdPtr[ch]:c.holdPtr[ch+1]]
				for _, st := range hold {
					removed[st] = true
				}
				// x_full bounds the removed chain's solution from above: a good start.
				for st := range x {
					if removed[st] {
						x[st] = 0
					} else {
						x[st] = xFull[st]
					}
				}
				if err := s.solve(x, removed); err != nil {
					errs[ch] = err
				} else {
					ps[ch] = c.pConversion(x)
				}
				for _, st := range hold {
					removed[st] = false
				}
			}
		}()
	}
	for _, ch := range jobs {
		next <- ch
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, ch := range jobs {
		report(ch, ps[ch])
	}
	return nil
}

// mkSolver solves (I − Q)x = r over the states not removed (removed states are
// Null: x = 0); it holds one worker's scratch space.
type mkSolver struct {
	c           *mkChain
	dense       bool
	gsMaxSweeps int
	// dense
	a, b []float64
	pos  []int32
	keep []int32
	// GMRES
	v       [][]float64
	z, w, r []float64
	h       []float64 // (restart+1)×restart, row-major
	cs, sn  []float64
	g, y    []float64
}

func (c *mkChain) newSolver(dense bool, gsMaxSweeps int) *mkSolver {
	return &mkSolver{c: c, dense: dense, gsMaxSweeps: gsMaxSweeps}
}

// solve writes the absorption probabilities into x. removed may be nil (the full
// chain). For the sparse method x holds the starting iterate (zero on removed
// states); the dense method ignores it.
func (s *mkSolver) solve(x []float64, removed []bool) error {
	if s.dense {
		return s.solveDense(x, removed)
	}
	if s.gaussSeidel(x, removed) {
		return nil
	}
	return s.gmres(x, removed)
}

func (s *mkSolver) solveDense(x []float64, removed []bool) error {
	c := s.c
	if s.pos == nil {
		s.pos = make([]int32, c.n)
		s.keep = make([]int32, 0, c.n)
	}
	s.keep = s.keep[:0]
	for st := range c.n {
		if removed != nil && removed[st] {
			s.pos[st] = -1
			continue
		}
		s.pos[st] = int32(len(s.keep))
		s.keep = append(s.keep, int32(st))
	}
	m := len(s.keep)
	if cap(s.a) < m*m {
		s.a = make([]float64, m*m)
		s.b = make([]float64, m)
	}
	a, b := s.a[:m*m], s.b[:m]
	clear(a)
	for i, st := range s.keep {
		row := a[i*m : (i+1)*m]
		row[i] = c.stay[st]
		for e := c.rowPtr[st]; e < c.rowPtr[st+1]; e++ {
			if j := s.pos[c.col[e]]; j >= 0 {
				row[j] -= c.prob[e]
			}
		}
		b[i] = c.conv[st]
	}
	if err := mkLUSolve(a, b, m); err != nil {
		return err
	}
	clear(x)
	for i, st := range s.keep {
		x[st] = b[i]
	}
	return nil
}

// mkLUSolve solves a·x = b in place (x into b) by Gaussian elimination with partial
// pivoting; a is m×m row-major and is destroyed.
func mkLUSolve(a, b []float64, m int) error {
	for k := range m {
		p, best := k, math.Abs(a[k*m+k])
		for i := k + 1; i < m; i++ {
			if v := math.Abs(a[i*m+k]); v > best {
				p, best = i, v
			}
		}
		if best == 0 {
			return errors.New("attribution: markov chain matrix is singular")
		}
		if p != k {
			rk, rp := a[k*m+k:(k+1)*m], a[p*m+k:(p+1)*m]
			for j := range rk {
				rk[j], rp[j] = rp[j], rk[j]
			}
			b[k], b[p] = b[p], b[k]
		}
		piv := a[k*m+k]
		rk := a[k*m+k+1 : (k+1)*m]
		for i := k + 1; i < m; i++ {
			f := a[i*m+k]
			if f == 0 {
				continue
			}
			f /= piv
			ri := a[i*m+k+1 : (i+1)*m]
			for j, v := range rk {
				ri[j] -= f * v
			}
			b[i] -= f * b[k]
		}
	}
	for i := m - 1; i >= 0; i-- {
		sum := b[i]
		ri := a[i*m : (i+1)*m]
		for j := i + 1; j < m; j++ {
			sum -= ri[j] * b[j]
		}
		b[i] = sum / ri[i]
	}
	return nil
}

// gaussSeidel sweeps x_s ← (r_s + Σ_{t≠s} Q_st x_t) / (1 − Q_ss) over the states in
// descending order until the true residual meets the tolerance (true) or
// gsMaxSweeps sweeps are done (false).
func (s *mkSolver) gaussSeidel(x []float64, removed []bool) bool {
	c := s.c
	for range s.gsMaxSweeps {
		var step, xmax float64
		for st := c.n - 1; st >= 0; st-- {
			if removed != nil && removed[st] {
				continue
			}
			sum := c.conv[st]
			for e := c.rowPtr[st]; e < c.rowPtr[st+1]; e++ {
				sum += c.prob[e] * x[c.col[e]]
			}
			v := sum / c.stay[st]
			step = max(step, math.Abs(v-x[st])*c.stay[st]) // row residual before the update
			x[st] = v
			xmax = max(xmax, v)
		}
		if step <= mkSolveTol*xmax {
			if res, xm := s.residual(x, removed, nil); res <= mkSolveTol*xm {
				return true
			}
		}
	}
	return false
}

// residual returns ‖r + Qx − x‖∞ over the kept states and ‖x‖∞, and stores the
// residual vector in out when it is not nil (0 on removed states).
func (s *mkSolver) residual(x []float64, removed []bool, out []float64) (res, xmax float64) {
	c := s.c
	for st := range c.n {
		if removed != nil && removed[st] {
			if out != nil {
				out[st] = 0
			}
			continue
		}
		sum := c.conv[st]
		for e := c.rowPtr[st]; e < c.rowPtr[st+1]; e++ {
			sum += c.prob[e] * x[c.col[e]]
		}
		r := sum - c.stay[st]*x[st]
		if out != nil {
			out[st] = r
		}
		res = max(res, math.Abs(r))
		xmax = max(xmax, math.Abs(x[st]))
	}
	return res, xmax
}

// applyA sets out = (I − Q)v on the kept states (v is 0 on removed states).
func (s *mkSolver) applyA(v []float64, removed []bool, out []float64) {
	c := s.c
	for st := range c.n {
		if removed != nil && removed[st] {
			out[st] = 0
			continue
		}
		sum := c.stay[st] * v[st]
		for e := c.rowPtr[st]; e < c.rowPtr[st+1]; e++ {
			sum -= c.prob[e] * v[c.col[e]]
		}
		out[st] = sum
	}
}

// precond sets out = M⁻¹v for the Gauss–Seidel splitting M of the sweep order:
// one sweep from zero with right-hand side v.
func (s *mkSolver) precond(v []float64, removed []bool, out []float64) {
	c := s.c
	clear(out)
	for st := c.n - 1; st >= 0; st-- {
		if removed != nil && removed[st] {
			continue
		}
		sum := v[st]
		for e := c.rowPtr[st]; e < c.rowPtr[st+1]; e++ {
			if t := c.col[e]; int(t) > st {
				sum += c.prob[e] * out[t]
			}
		}
		out[st] = sum / c.stay[st]
	}
}

// gmres continues from x with restarted GMRES(mkGMRESRestart), right-preconditioned
// by the Gauss–Seidel sweep, until the true residual meets the tolerance.
func (s *mkSolver) gmres(x []float64, removed []bool) error {
	c := s.c
	n, m := c.n, mkGMRESRestart
	if s.v == nil {
		s.v = make([][]float64, m+1)
		for i := range s.v {
			s.v[i] = make([]float64, n)
		}
		s.z, s.w, s.r = make([]float64, n), make([]float64, n), make([]float64, n)
		s.h = make([]float64, (m+1)*m)
		s.cs, s.sn = make([]float64, m), make([]float64, m)
		s.g, s.y = make([]float64, m+1), make([]float64, m)
	}
	v, z, w, r, h, g := s.v, s.z, s.w, s.r, s.h, s.g
	iters := 0
	best := math.Inf(1)
	stalled := 0
	for {
		res, xmax := s.residual(x, removed, r)
		tol := mkSolveTol * xmax
		if res <= tol {
			return nil
		}
		// Rounding can leave the last digits of the residual out of reach; stop when
		// restarts no longer reduce it and it is within a few ulps of ‖x‖.
		if res < best*0.5 {
			best, stalled = res, 0
		} else if stalled++; stalled >= 3 && res <= 64*mkSolveTol*xmax {
			return nil
		}
		if iters >= mkGMRESMaxIters {
			return fmt.Errorf("attribution: markov solve did not converge: residual %.3g after %d GMRES iterations", res, iters)
		}
		beta := mkNorm2(r)
		for i, ri := range r {
			v[0][i] = ri / beta
		}
		clear(g)
		g[0] = beta
		k := 0
		for j := range m {
			iters++
			s.precond(v[j], removed, z)
			s.applyA(z, removed, w)
			for i := 0; i <= j; i++ {
				hij := mkDot(w, v[i])
				h[i*m+j] = hij
				for t, vi := range v[i] {
					w[t] -= hij * vi
				}
			}
			hn := mkNorm2(w)
			for i := range j {
				a, b := h[i*m+j], h[(i+1)*m+j]
				h[i*m+j] = s.cs[i]*a + s.sn[i]*b
				h[(i+1)*m+j] = -s.sn[i]*a + s.cs[i]*b
			}
			d := math.Hypot(h[j*m+j], hn)
			s.cs[j], s.sn[j] = h[j*m+j]/d, hn/d
			h[j*m+j] = d
			g[j+1] = -s.sn[j] * g[j]
			g[j] = s.cs[j] * g[j]
			k = j + 1
			if hn == 0 || math.Abs(g[j+1]) <= 0.5*tol || iters >= mkGMRESMaxIters {
				break
			}
			if j+1 < m {
				for t, wt := range w {
					v[j+1][t] = wt / hn
				}
			}
		}
		y := s.y[:k]
		for i := k - 1; i >= 0; i-- {
			sum := g[i]
			for j := i + 1; j < k; j++ {
				sum -= h[i*m+j] * y[j]
			}
			y[i] = sum / h[i*m+i]
		}
		clear(w)
		for i, yi := range y {
			for t, vi := range v[i] {
				w[t] += yi * vi
			}
		}
		s.precond(w, removed, z)
		for t, zt := range z {
			x[t] += zt
		}
	}
}

func mkDot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func mkNorm2(a []float64) float64 { return math.Sqrt(mkDot(a, a)) }
