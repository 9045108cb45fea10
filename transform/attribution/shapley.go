package attribution

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// MaxExactShapley is the largest number of distinct channels in a set whose Shapley
// values Credit computes exactly; the values of larger sets are estimated by sampling
// permutations (see Shapley).
const MaxExactShapley = 20

const (
	// shapleySamples is the number of random orderings the sampled fallback averages.
	shapleySamples = 2000
	// shapleyLookupCost is the cost of one hash lookup in units of one bitset word
	// compared in the scan of the seen sets: the exact computation enumerates the 2^k
	// subsets of a set of k seen channels when 2^k·shapleyLookupCost ≤ seen sets·words,
	// and scans the seen sets otherwise.
	shapleyLookupCost = 16
	// shapleyDenseTable is the largest channel code looked up through a table rather
	// than a map (unless the universe is large enough to justify a larger table).
	shapleyDenseTable = 1 << 16
)

// Shapley is a fitted Shapley-value attribution model. The players of the game of a
// journey are the distinct channels it touched; the characteristic function v(S) is
// the conversion rate of the journeys whose channel set is exactly S (see FitShapley).
// A journey's credit is the Shapley value of each of its channels,
//
//	φ_i = Σ_{T ⊆ N∖{i}} |T|!(n−|T|−1)!/n! · (v(T∪{i}) − v(T)),
//
// the average of i's marginal contribution over all n! orders in which the channels
// could have joined, negative values floored at 0 and the rest normalized to sum 1.
// This is the full Shapley value: Google's fractribution calls "Shapley" a one-step
// leave-one-out counterfactual, v(N) − v(N∖{i}), which is not.
//
// Because v is 0 for every set never seen, only seen subsets T of N contribute, and
// φ_i is computed as a sum over them: T ∋ i adds v(T)·w(|T|−1), T ∌ i subtracts
// v(T)·w(|T|), with w(s) = s!(n−s−1)!/n!. For each set N the seen subsets are found by
// the cheaper of enumerating the subsets of N with a hash lookup each, or scanning all
// seen sets for inclusion; terms are summed in a fixed order (ascending subset
// bitmask), so results do not depend on which way was taken nor on map order.
//
// Sets of more than MaxExactShapley channels are estimated by averaging marginal
// contributions over 2,000 random orderings drawn from a PCG seeded with an FNV-1a hash
// of the sorted set: deterministic, the same on every run and for any order of the
// set, with the efficiency property Σφ_i = v(N) kept (each ordering's
// marginal contributions telescope to v(N)). Its standard error is about the spread
// of a channel's marginal contributions over √2000 ≈ 45.
//
// Channel codes may be any int32: they are mapped to dense indexes and sets are
// bitsets of as many 64-bit words as the universe needs.
//
// Credit caches its result per distinct channel set (the cache grows with the number
// of distinct sets queried). A Shapley is safe for concurrent use by several
// goroutines: the fitted tables are read-only and the cache is guarded by a mutex.
type Shapley struct {
	codes []int32            // distinct channel codes fitted, ascending; dense index = position
	table []int32            // code → dense index + 1 (0: unknown), when codes are small and ≥ 0
	index map[int32]int32    // code → dense index, otherwise
	words int                // uint64 words per set bitset, at least 1
	v1    map[uint64]float64 // words == 1: set bitset → v(S), only v(S) ≠ 0
	vn    map[string]float64 // words > 1: set bitset bytes → v(S), only v(S) ≠ 0
	seen  []uint64           // the bitsets of the keys of v1/vn, words each, ascending
	seenV []float64          // their v(S)

	mu    sync.RWMutex
	cache map[string][]float64 // sorted distinct codes (4 bytes each) → credit; nil: none positive
}

// FitShapley learns the characteristic function from paths: v(S) = conversion rate of
// the journeys whose channel SET is exactly S = conversions / (conversions + nulls),
// summed over every path with that set; v of a set never seen is 0; v(∅) = 0.
// Repeats in a path count once (a > b > a has the set {a, b}); a set whose
// conversions + nulls is not positive has v = 0.
func FitShapley(paths []Path) *Shapley {
	s := &Shapley{cache: map[string][]float64{}}

	// The universe of codes, in ascending order.
	var small []bool
	var other map[int32]struct{}
	for i := range paths {
		for _, c := range paths[i].Channels {
			if c >= 0 && c < shapleyDenseTable {
				if int(c) >= len(small) {
					small = append(small, make([]bool, int(c)+1-len(small))...)
				}
				small[c] = true
			} else {
				if other == nil {
					other = map[int32]struct{}{}
				}
				other[c] = struct{}{}
			}
		}
	}
	for c, ok := range small {
		if ok {
			s.codes = append(s.codes, int32(c))
		}
	}
	for c := range other {
		s.codes = append(s.codes, c)
	}
	slices.Sort(s.codes)
	s.words = max(1, (len(s.codes)+63)/64)
	if n := len(s.codes); n > 0 && s.codes[0] >= 0 && int(s.codes[n-1]) < max(shapleyDenseTable, 8*n) {
		s.table = make([]int32, s.codes[n-1]+1)
		for d, c := range s.codes {
			s.table[c] = int32(d) + 1
		}
	} else {
		s.index = make(map[int32]int32, n)
		for d, c := range s.codes {
			s.index[c] = int32(d)
		}
	}

	// Conversions and nulls per set, in first-seen order.
	type tally struct{ conv, nulls float64 }
	var tallies []tally
	var sets []uint64 // bitsets, s.words each
	var at1 map[uint64]int
	var atN map[string]int
	if s.words == 1 {
		at1 = map[uint64]int{}
	} else {
		atN = map[string]int{}
	}
	buf := make([]uint64, s.words)
	for i := range paths {
		p := &paths[i]
		if len(p.Channels) == 0 {
			continue
		}
		clear(buf)
		for _, c := range p.Channels {
			d, _ := s.dense(c)
			buf[d>>6] |= 1 << (d & 63)
		}
		var j int
		var ok bool
		if s.words == 1 {
			if j, ok = at1[buf[0]]; !ok {
				j = len(tallies)
				at1[buf[0]] = j
			}
		} else {
			if j, ok = atN[wordsKey(buf)]; !ok {
				j = len(tallies)
				atN[strings.Clone(wordsKey(buf))] = j
			}
		}
		if !ok {
			tallies = append(tallies, tally{})
			sets = append(sets, buf...)
		}
		tallies[j].conv += p.Conversions
		tallies[j].nulls += p.Nulls
	}

	if s.words == 1 {
		s.v1 = make(map[uint64]float64, len(tallies))
	} else {
		s.vn = make(map[string]float64, len(tallies))
	}
	var order []int // the sets with v ≠ 0, in ascending bitset order
	for j, t := range tallies {
		den := t.conv + t.nulls
		if !(den > 0) {
			continue
		}
		v := t.conv / den
		if v == 0 || math.IsNaN(v) {
			continue
		}
		set := sets[j*s.words : (j+1)*s.words]
		if s.words == 1 {
			s.v1[set[0]] = v
		} else {
			s.vn[strings.Clone(wordsKey(set))] = v
		}
		order = append(order, j)
	}
	// Ascending bitsets (compared from the highest word) keep their order when
	// restricted to the members of any set N, so the scan meets N's subsets in
	// ascending local mask order, the order enumerate produces them in.
	W := s.words
	slices.SortFunc(order, func(x, y int) int {
		for i := W - 1; i >= 0; i-- {
			if a, b := sets[x*W+i], sets[y*W+i]; a != b {
				if a < b {
					return -1
				}
				return 1
			}
		}
		return 0
	})
	s.seen = make([]uint64, 0, len(order)*W)
	s.seenV = make([]float64, 0, len(order))
	for _, j := range order {
		t := tallies[j]
		s.seen = append(s.seen, sets[j*W:(j+1)*W]...)
		s.seenV = append(s.seenV, t.conv/(t.conv+t.nulls))
	}
	return s
}

// wordsKey views a bitset as a string, for map lookups without allocation.
func wordsKey(w []uint64) string {
	return unsafe.String((*byte)(unsafe.Pointer(&w[0])), len(w)*8)
}

// codesKey views codes as a string, for map lookups without allocation.
func codesKey(c []int32) string {
	return unsafe.String((*byte)(unsafe.Pointer(&c[0])), len(c)*4)
}

// dense returns the dense index of code c, or false when c was never fitted.
func (s *Shapley) dense(c int32) (int, bool) {
	if s.table != nil {
		if c >= 0 && int(c) < len(s.table) {
			d := s.table[c]
			return int(d) - 1, d != 0
		}
		return 0, false
	}
	d, ok := s.index[c]
	return int(d), ok
}

// lookup returns v of the set whose bitset is w.
func (s *Shapley) lookup(w []uint64) float64 {
	if s.words == 1 {
		return s.v1[w[0]]
	}
	return s.vn[wordsKey(w)]
}

// V returns v(S) for a set of channel codes (any order, duplicates ignored).
func (s *Shapley) V(set []int32) float64 {
	if len(set) == 0 {
		return 0
	}
	if s.words == 1 {
		var m uint64
		for _, c := range set {
			d, ok := s.dense(c)
			if !ok {
				return 0
			}
			m |= 1 << d
		}
		return s.v1[m]
	}
	w := make([]uint64, s.words)
	for _, c := range set {
		d, ok := s.dense(c)
		if !ok {
			return 0
		}
		w[d>>6] |= 1 << (d & 63)
	}
	return s.vn[wordsKey(w)]
}

// Credit writes into out[i] the credit of set[i] (set: distinct channel codes of one
// journey, any order; len(out) == len(set)): the Shapley value of the game restricted
// to the set (players = the set, v as above on its subsets), negative values floored
// at 0, normalized to sum 1. It returns false (out untouched or zeroed) when no value
// is positive — the caller then falls back to last touch. Values within rounding error
// of 0 count as 0. Should set repeat a code, that channel's credit is split evenly
// between its occurrences. Credit panics if len(out) != len(set).
func (s *Shapley) Credit(set []int32, out []float64) bool {
	if len(out) != len(set) {
		panic(fmt.Sprintf("attribution: Shapley.Credit: len(out) = %d, want len(set) = %d", len(out), len(set)))
	}
	n := len(set)
	if n == 0 {
		return false
	}
	var stack [32]int32
	sorted := stack[:0]
	if n > len(stack) {
		sorted = make([]int32, 0, n)
	}
	sorted = append(sorted, set...)
	slices.Sort(sorted)
	distinct := slices.Compact(sorted)
	key := codesKey(distinct)

	s.mu.RLock()
	credit, ok := s.cache[key]
	s.mu.RUnlock()
	if !ok {
		credit = s.credit(distinct)
		s.mu.Lock()
		if prev, ok := s.cache[key]; ok {
			credit = prev
		} else {
			s.cache[strings.Clone(key)] = credit
		}
		s.mu.Unlock()
	}
	if credit == nil {
		clear(out)
		return false
	}
	for i, c := range set {
		r, _ := slices.BinarySearch(distinct, c)
		x := credit[r]
		if len(distinct) < n {
			k := 0
			for _, d := range set {
				if d == c {
					k++
				}
			}
			x /= float64(k)
		}
		out[i] = x
	}
	return true
}

// credit computes the normalized credit of the sorted distinct codes, aligned to them,
// or nil when no Shapley value is positive.
func (s *Shapley) credit(sorted []int32) []float64 {
	phi, tol := s.raw(sorted, shapleyAuto)
	sum := 0.0
	for i, x := range phi {
		if !(x > tol) {
			phi[i] = 0
			continue
		}
		sum += x
	}
	if sum == 0 {
		return nil
	}
	for i := range phi {
		phi[i] /= sum
	}
	return phi
}

// shapleyMethod selects how raw computes the Shapley values.
type shapleyMethod int

const (
	shapleyAuto   shapleyMethod = iota // exact up to MaxExactShapley (cheaper of enum and scan), else sampled
	shapleyEnum                        // exact, enumerating the subsets of the set
	shapleyScan                        // exact, scanning the seen sets
	shapleySample                      // sampled orderings
)

// shapleyValues returns the raw Shapley values (before flooring and normalizing) of
// the game restricted to set (distinct codes, any order), aligned to set.
func (s *Shapley) shapleyValues(set []int32, m shapleyMethod) []float64 {
	sorted := slices.Clone(set)
	slices.Sort(sorted)
	phi, _ := s.raw(sorted, m)
	out := make([]float64, len(set))
	for i, c := range set {
		r, _ := slices.BinarySearch(sorted, c)
		out[i] = phi[r]
	}
	return out
}

// raw returns the Shapley values of the game restricted to sorted (distinct codes,
// ascending), aligned to it, and the rounding error below which a value is 0.
func (s *Shapley) raw(sorted []int32, m shapleyMethod) (phi []float64, tol float64) {
	n := len(sorted)
	var known, pos []int // dense indexes of the fitted codes of sorted (ascending), their positions
	for i, c := range sorted {
		if d, ok := s.dense(c); ok {
			known = append(known, d)
			pos = append(pos, i)
		}
	}
	if m == shapleyAuto {
		switch {
		case n > MaxExactShapley:
			m = shapleySample
		case uint64(shapleyLookupCost)<<len(known) <= uint64(len(s.seenV))*uint64(s.words):
			m = shapleyEnum
		default:
			m = shapleyScan
		}
	}
	if m == shapleySample || len(known) > 32 { // masks are uint32
		return s.sample(sorted)
	}

	var terms []shapleyTerm
	if m == shapleyEnum {
		terms = s.enumerate(known)
	} else {
		terms = s.scan(known)
	}
	// A sum over T of v(T)·(w(|T|−1) + w(|T|)) for T ∋ i, minus one over every T of
	// v(T)·w(|T|), with w(n) = 0 as the grand coalition excludes nobody.
	w := shapleyWeights(n)
	a := make([]float64, len(known))
	b, vmax := 0.0, 0.0
	for _, t := range terms {
		k := bits.OnesCount32(t.mask)
		b += t.v * w[k]
		x := t.v * (w[k-1] + w[k])
		for m := t.mask; m != 0; m &= m - 1 {
			a[bits.TrailingZeros32(m)] += x
		}
		vmax = max(vmax, math.Abs(t.v))
	}
	phi = make([]float64, n)
	for i := range phi {
		phi[i] = -b
	}
	for j, i := range pos {
		phi[i] = a[j] - b
	}
	return phi, 4 * 0x1p-52 * float64(len(terms)+1) * vmax
}

// shapleyTerm is a seen subset T of the set N, as a bitmask over N's fitted channels
// in ascending order, and v(T).
type shapleyTerm struct {
	mask uint32
	v    float64
}

// shapleyWeights returns w(s) = s!(n−s−1)!/n! = 1/(n·C(n−1, s)) for s = 0..n−1, and
// w(n) = 0.
func shapleyWeights(n int) []float64 {
	w := make([]float64, n+1)
	c := 1.0 // C(n−1, s), exact in float64 for the n this is used for
	for k := range n {
		w[k] = 1 / (float64(n) * c)
		c = c * float64(n-1-k) / float64(k+1)
	}
	return w
}

// enumerate returns the seen subsets of the channels known (ascending dense indexes,
// at most 32), by looking up every subset, in ascending mask order.
func (s *Shapley) enumerate(known []int) []shapleyTerm {
	k := len(known)
	var terms []shapleyTerm
	// From mask l−1 to l, bits 0..tz(l) flip: XOR with the bits of known[0..tz(l)].
	if s.words == 1 {
		pre := make([]uint64, k)
		var g uint64
		for j, d := range known {
			g |= 1 << d
			pre[j] = g
		}
		g = 0
		for l := uint32(1); l < 1<<k && l != 0; l++ {
			g ^= pre[bits.TrailingZeros32(l)]
			if v, ok := s.v1[g]; ok {
				terms = append(terms, shapleyTerm{l, v})
			}
		}
		return terms
	}
	g := make([]uint64, s.words)
	for l := uint32(1); l < 1<<k && l != 0; l++ {
		for j := range bits.TrailingZeros32(l) + 1 {
			d := known[j]
			g[d>>6] ^= 1 << (d & 63)
		}
		if v, ok := s.vn[wordsKey(g)]; ok {
			terms = append(terms, shapleyTerm{l, v})
		}
	}
	return terms
}

// scan returns the seen subsets of the channels known (ascending dense indexes, at
// most 32), by testing every seen set for inclusion, in ascending mask order (as
// s.seen is sorted).
func (s *Shapley) scan(known []int) []shapleyTerm {
	W := s.words
	n := make([]uint64, W)
	for _, d := range known {
		n[d>>6] |= 1 << (d & 63)
	}
	base := make([]int, W) // members of N in the words before
	for i := 1; i < W; i++ {
		base[i] = base[i-1] + bits.OnesCount64(n[i-1])
	}
	var terms []shapleyTerm
next:
	for j, v := range s.seenV {
		t := s.seen[j*W : (j+1)*W]
		for i, x := range t {
			if x&^n[i] != 0 {
				continue next
			}
		}
		var mask uint32
		for i, x := range t {
			for ; x != 0; x &= x - 1 {
				b := bits.TrailingZeros64(x)
				mask |= 1 << (base[i] + bits.OnesCount64(n[i]&(1<<b-1)))
			}
		}
		terms = append(terms, shapleyTerm{mask, v})
	}
	return terms
}

// sample estimates the Shapley values of the game restricted to sorted (distinct
// codes, ascending) as the mean marginal contribution over shapleySamples random
// orderings from a PCG seeded by an FNV-1a hash of the codes.
func (s *Shapley) sample(sorted []int32) (phi []float64, tol float64) {
	n := len(sorted)
	h := uint64(14695981039346656037)
	for _, c := range sorted {
		for k := 0; k < 32; k += 8 {
			h ^= uint64(uint32(c) >> k & 0xff)
			h *= 1099511628211
		}
	}
	rng := rand.New(rand.NewPCG(h, h^0x9e3779b97f4a7c15))
	dense := make([]int, n) // -1: never fitted, so every set holding it is unseen
	for i, c := range sorted {
		if d, ok := s.dense(c); ok {
			dense[i] = d
		} else {
			dense[i] = -1
		}
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sum := make([]float64, n)
	g := make([]uint64, s.words)
	vmax := 0.0
	for range shapleySamples {
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		clear(g)
		prev, dead := 0.0, false
		for _, i := range order {
			cur := 0.0
			if d := dense[i]; d < 0 {
				dead = true
			} else if !dead {
				g[d>>6] |= 1 << (d & 63)
				cur = s.lookup(g)
				vmax = max(vmax, math.Abs(cur))
			}
			sum[i] += cur - prev
			prev = cur
		}
	}
	phi = make([]float64, n)
	for i, x := range sum {
		phi[i] = x / shapleySamples
	}
	return phi, 4 * 0x1p-52 * float64(n+1) * vmax
}
