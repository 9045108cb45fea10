package transform

import (
	"cmp"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"closedloop/transform/persona"
)

// seenKind is a kind of behaviour the persona rules read.
type seenKind uint8

const (
	seenPage seenKind = iota
	seenDownload
	seenEvent
)

type seenKey struct {
	person int32
	kind   seenKind
	value  int32 // code in behaviour.vals
}

// behaviour holds the distinct pages, downloads and events of each person, for the
// persona rules; only what the rules read is collected.
type behaviour struct {
	vals   *dict // every value, once (copied: it may point into an Arrow buffer)
	dup    map[seenKey]struct{}
	values map[seenKey][]string // value 0 in the key: the person's list of a kind
}

func newBehaviour() behaviour {
	return behaviour{vals: newDict(), dup: map[seenKey]struct{}{}, values: map[seenKey][]string{}}
}

func (s behaviour) add(person int32, k seenKind, v string) {
	c := s.vals.code(v)
	key := seenKey{person, k, c}
	if _, ok := s.dup[key]; ok {
		return
	}
	s.dup[key] = struct{}{}
	list := seenKey{person: person, kind: k}
	s.values[list] = append(s.values[list], s.vals.val(c))
}

func (s behaviour) of(person int32, k seenKind) []string {
	return s.values[seenKey{person: person, kind: k}]
}

// isDownload tells a download event by its name (GA4's file_download, Segment's
// "File Downloaded", a site's whitepaper_download).
func isDownload(name string) bool {
	return strings.Contains(strings.ToLower(name), "download")
}

// activity is what the persons step reads of the events, per person: the time of the
// last event and the behaviour the persona rules read.
type activity struct {
	lastSeen *seenTimes
	seen     behaviour
}

// newActivity is an activity keyed sparsely (a walker's, of one chunk's devices) or
// densely (by device or person number, for millions of them).
func newActivity(dense bool) activity {
	t := &seenTimes{}
	if !dense {
		t.sparse = map[int32]int64{}
	}
	return activity{lastSeen: t, seen: newBehaviour()}
}

// join adds o's activity, which comes after a's in walk order.
func (a activity) join(o activity) { o.into(a, func(n int32) int32 { return n }) }

// into adds a's activity to out under the keys key gives (persons for devices);
// a key below 0 drops its entry.
func (a activity) into(out activity, key func(int32) int32) {
	a.lastSeen.each(func(n int32, at int64) {
		if k := key(n); k >= 0 {
			out.lastSeen.see(k, at)
		}
	})
	keys := make([]seenKey, 0, len(a.seen.values))
	for k := range a.seen.values {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y seenKey) int { return cmp.Or(cmp.Compare(x.person, y.person), cmp.Compare(x.kind, y.kind)) })
	for _, sk := range keys {
		k := key(sk.person)
		if k < 0 {
			continue
		}
		for _, v := range a.seen.values[sk] {
			out.seen.add(k, sk.kind, v)
		}
	}
}

// seenTimes are the latest times (µs) by key: a map for a few keys, else a slice
// indexed by the key (a map of millions of keys costs several times the memory).
type seenTimes struct {
	sparse map[int32]int64
	dense  []int64
}

// see keeps at when it is later than what k has.
func (t *seenTimes) see(k int32, at int64) {
	if t.sparse != nil {
		if at > t.sparse[k] {
			t.sparse[k] = at
		}
		return
	}
	if int(k) >= len(t.dense) {
		t.dense = slices.Grow(t.dense, int(k)+1-len(t.dense))[:int(k)+1]
	}
	t.dense[k] = max(t.dense[k], at)
}

// get is k's latest time, 0 when none.
func (t *seenTimes) get(k int32) int64 {
	if t.sparse != nil {
		return t.sparse[k]
	}
	if int(k) < len(t.dense) {
		return t.dense[k]
	}
	return 0
}

// each calls fn for every key with a time.
func (t *seenTimes) each(fn func(k int32, at int64)) {
	for k, at := range t.sparse {
		fn(k, at)
	}
	for k, at := range t.dense {
		if at != 0 {
			fn(int32(k), at)
		}
	}
}

// event records event i of person at µs named name, with its link for downloads.
func (a activity) event(person int32, at int64, name string, link *array.String, i int, needs persona.Needs) {
	a.lastSeen.see(person, at)
	if needs.Events {
		a.seen.add(person, seenEvent, name)
	}
	if needs.Downloads && isDownload(name) {
		if l := sv(link, i); l != "" {
			a.seen.add(person, seenDownload, l)
		}
	}
}

// contactAttrs gathers each person's CRM fields for dim_person and the persona rules:
// for each field, the value of the person's most recently updated contact record that
// has it.
func contactAttrs(ct *contactCols, id *stitched) []persona.Person {
	out := make([]persona.Person, id.persons.Len())
	if ct.n == 0 {
		return out
	}
	str := []struct {
		col  *array.String
		dest func(*persona.Person) *string
	}{
		{ct.jobTitle, func(p *persona.Person) *string { return &p.JobTitle }},
		{ct.company, func(p *persona.Person) *string { return &p.Company }},
		{ct.industry, func(p *persona.Person) *string { return &p.Industry }},
		{ct.country, func(p *persona.Person) *string { return &p.Country }},
		{ct.originalSource, func(p *persona.Person) *string { return &p.OriginalSource }},
	}
	// when[f][person] is the update time of the record the field's value came from.
	when := make([]map[int32]int64, len(str)+1)
	for f := range when {
		when[f] = map[int32]int64{}
	}
	newer := func(f int, person int32, at int64) bool {
		prev, ok := when[f][person]
		if ok && prev > at {
			return false
		}
		when[f][person] = at
		return true
	}
	for i := 0; i < ct.n; i++ {
		person := id.persons.Of(id.contacts[i])
		if person < 0 { // an id that identifies no one ("0", "null"): no person
			continue
		}
		at := tv(ct.updated, i)
		if at == 0 {
			at = tv(ct.created, i)
		}
		p := &out[person]
		for f, s := range str {
			if v := strings.TrimSpace(sv(s.col, i)); v != "" && newer(f, person, at) {
				*s.dest(p) = v
			}
		}
		if ct.size.IsValid(i) && newer(len(str), person, at) {
			p.CompanySize, p.HasCompanySize = ct.size.Value(i), true
		}
	}
	return out
}
