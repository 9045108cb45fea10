package transform

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Scope is whose touches make a conversion's journey (fct_attribution.scope).
type Scope string

// The journey scopes.
const (
	// ScopePerson: the converting person's touches.
	ScopePerson Scope = "person"
	// ScopeDeal: the touches of every person on the conversion's deal.
	ScopeDeal Scope = "deal"
	// ScopeAccount: the touches of every person of the conversion's account.
	ScopeAccount Scope = "account"
)

// scopeNames lists the scopes in the order they are written.
var scopeNames = []Scope{ScopePerson, ScopeDeal, ScopeAccount}

// ScopeNames lists the journey scopes, in the order they are written.
func ScopeNames() []Scope { return slices.Clone(scopeNames) }

// ParseScopes parses scope names (each once) into the order they are written.
func ParseScopes(list []string) ([]Scope, error) {
	seen := map[Scope]bool{}
	for _, name := range list {
		s := Scope(strings.TrimSpace(name))
		if !slices.Contains(scopeNames, s) {
			return nil, fmt.Errorf("unknown journey scope %q (known: person, deal, account)", name)
		}
		if seen[s] {
			return nil, fmt.Errorf("journey scope %q is listed twice", s)
		}
		seen[s] = true
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("name at least one journey scope of person, deal, account")
	}
	var out []Scope
	for _, s := range scopeNames {
		if seen[s] {
			out = append(out, s)
		}
	}
	return out, nil
}

// scopes are the scopes the run writes (Options.Scopes; ScopePerson when none).
func (r *run) scopes() []Scope {
	if len(r.opt.Scopes) == 0 {
		return []Scope{ScopePerson}
	}
	return r.opt.Scopes
}

// has tells whether the run writes scope s.
func (r *run) has(s Scope) bool { return slices.Contains(r.scopes(), s) }

// forScope returns the journeys of scope s: the same touches and conversions keyed by
// another journey owner.
//
//   - person: owner p is person p.
//   - account: owner a is account code a (1..A-1); a person without an account and
//     their conversions are owner A + person. A conversion's owner is its account
//     (conversions.account), a touch's its person's account.
//   - deal: owner d (0..D-1) is the d-th deal with members, by code; a person is
//     owner D + person. A conversion of such a deal is the deal's, any other its
//     person's; a touch is its person's and every deal's the person is on.
func forScope(s Scope, t *touches, cv *conversions, lookback int64, overlap bool) *journeys {
	if s == ScopePerson {
		return newJourneys(t, cv, lookback, overlap)
	}
	jb := newJourneysOf(s, t, cv, lookback, overlap)
	switch s {
	case ScopeAccount:
		np := int32(cv.acc.keys.len())
		jb.index(func(x int32, emit func(int32)) {
			if a := cv.acc.of(t.person[x]); a > 0 {
				emit(a)
			} else {
				emit(np + t.person[x])
			}
		}, func(c int32) int32 {
			if a := cv.account[c]; a > 0 {
				return a
			}
			return np + cv.person[c]
		})
	case ScopeDeal:
		codes := make([]int32, 0, len(cv.members))
		for code := range cv.members {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		owner := make(map[int32]int32, len(codes)) // deal key code -> owner
		on := map[int32][]int32{}                  // person -> owners of their deals
		personLead := map[int32]int64{}            // person -> first lead time
		lead := cv.types.lookup("lead")
		for c := range cv.at {
			if cv.typ[c] == lead {
				if l, ok := personLead[cv.person[c]]; !ok || cv.at[c] < l {
					personLead[cv.person[c]] = cv.at[c]
				}
			}
		}
		nd := int32(len(codes))
		jb.firstLead, jb.through, jb.nullFrom = map[int32]int64{}, map[int32][]int32{}, nd
		for d, code := range codes {
			owner[code] = int32(d)
			for _, p := range cv.members[code] {
				on[p] = append(on[p], int32(d))
				if l, ok := personLead[p]; ok {
					if cur, ok := jb.firstLead[int32(d)]; !ok || l < cur {
						jb.firstLead[int32(d)] = l
					}
				}
			}
		}
		for c := range cv.at {
			if code := cv.dealKey[c]; code > 0 && cv.members[code] != nil {
				for _, p := range cv.members[code] {
					jb.through[nd+p] = append(jb.through[nd+p], int32(c))
				}
			}
		}
		jb.index(func(x int32, emit func(int32)) {
			p := t.person[x]
			emit(nd + p)
			for _, d := range on[p] {
				emit(d)
			}
		}, func(c int32) int32 {
			if d, ok := owner[cv.dealKey[c]]; ok {
				return d
			}
			return nd + cv.person[c]
		})
	}
	return jb
}

// index sorts the touches and conversions by the owners touchOwners and convOwner give
// them (a touch may have several), then by time and id: a counting sort by owner
// (owners are dense), then each owner's few entries sorted.
func (jb *journeys) index(touchOwners func(x int32, emit func(owner int32)), convOwner func(c int32) int32) {
	t, cv := jb.t, jb.cv
	var owners, items []int32
	for x := range int32(t.len()) {
		touchOwners(x, func(o int32) { owners, items = append(owners, o), append(items, x) })
	}
	jb.ts, jb.tsOwner = byOwner(owners, items, func(x, y int32) int {
		if t.at[x] != t.at[y] {
			return cmp.Compare(t.at[x], t.at[y])
		}
		if t.id[x] != t.id[y] {
			return cmp.Compare(t.id[x], t.id[y])
		}
		return cmp.Compare(x, y)
	})
	owners, items = make([]int32, cv.len()), make([]int32, cv.len())
	for c := range int32(cv.len()) {
		owners[c], items[c] = convOwner(c), c
	}
	types := cv.types
	jb.cs, jb.csOwner = byOwner(owners, items, func(x, y int32) int {
		if cv.at[x] != cv.at[y] {
			return cmp.Compare(cv.at[x], cv.at[y])
		}
		if c := strings.Compare(types.val(cv.typ[x]), types.val(cv.typ[y])); c != 0 {
			return c
		}
		if cv.id[x] != cv.id[y] {
			return cmp.Compare(cv.id[x], cv.id[y])
		}
		return cmp.Compare(x, y)
	})
}

// byOwner returns items (items[k] owned by owners[k]) by owner, each owner's sorted by
// less, and the owner of each.
func byOwner(owners, items []int32, less func(x, y int32) int) (sorted, owner []int32) {
	n := int32(0)
	for _, o := range owners {
		n = max(n, o+1)
	}
	start := make([]int32, n+1)
	for _, o := range owners {
		start[o+1]++
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	sorted, owner = make([]int32, len(items)), make([]int32, len(items))
	next := slices.Clone(start[:n])
	for k, o := range owners {
		sorted[next[o]], owner[next[o]] = items[k], o
		next[o]++
	}
	for o := range n {
		if seg := sorted[start[o]:start[o+1]]; len(seg) > 1 {
			slices.SortFunc(seg, less)
		}
	}
	return sorted, owner
}
