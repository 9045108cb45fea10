package transform

import (
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
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
	value  string
}

// behaviour holds the distinct pages, downloads and events of each person, for the
// persona rules; only what the rules read is collected.
type behaviour struct {
	dup    map[seenKey]struct{}
	values map[seenKey][]string // value "" in the key: the person's list of a kind
}

func newBehaviour() behaviour {
	return behaviour{dup: map[seenKey]struct{}{}, values: map[seenKey][]string{}}
}

func (s behaviour) add(person int32, k seenKind, v string) {
	key := seenKey{person, k, v}
	if _, ok := s.dup[key]; ok {
		return
	}
	s.dup[key] = struct{}{}
	list := seenKey{person: person, kind: k}
	s.values[list] = append(s.values[list], v)
}

func (s behaviour) of(person int32, k seenKind) []string {
	return s.values[seenKey{person: person, kind: k}]
}

// isDownload tells a download event by its name (GA4's file_download, Segment's
// "File Downloaded", a site's whitepaper_download).
func isDownload(name string) bool {
	return strings.Contains(strings.ToLower(name), "download")
}

// contactAttrs gathers each person's CRM fields for dim_person and the persona rules:
// for each field, the value of the person's most recently updated contact record that
// has it.
func (b *builder) contactAttrs(ct arrow.Table) []persona.Person {
	out := make([]persona.Person, b.p.Len())
	if ct == nil || ct.NumRows() == 0 {
		return out
	}
	updated, created := b.cols.ts(ct, "updated_at"), b.cols.ts(ct, "created_at")
	str := []struct {
		col  string
		dest func(*persona.Person) *string
	}{
		{"job_title", func(p *persona.Person) *string { return &p.JobTitle }},
		{"company", func(p *persona.Person) *string { return &p.Company }},
		{"industry", func(p *persona.Person) *string { return &p.Industry }},
		{"country", func(p *persona.Person) *string { return &p.Country }},
		{"original_source", func(p *persona.Person) *string { return &p.OriginalSource }},
	}
	cols := make([]*array.String, len(str))
	for f, s := range str {
		cols[f] = b.cols.str(ct, s.col)
	}
	size := b.cols.i64(ct, "company_size")
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
	n := int(ct.NumRows())
	for i := 0; i < n; i++ {
		person := b.p.Of(b.contactNode[i])
		at := tv(updated, i)
		if at == 0 {
			at = tv(created, i)
		}
		p := &out[person]
		for f, s := range str {
			if v := strings.TrimSpace(sv(cols[f], i)); v != "" && newer(f, person, at) {
				*s.dest(p) = v
			}
		}
		if size.IsValid(i) && newer(len(str), person, at) {
			p.CompanySize, p.HasCompanySize = size.Value(i), true
		}
	}
	return out
}
