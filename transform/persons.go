package transform

import (
	"slices"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/load"
	"closedloop/transform/identity"
)

// personTables are the persons step's result.
type personTables struct {
	dim, bridge               arrow.Table // dim_person, bridge_identity; or spilled:
	dimSpilled, bridgeSpilled *Spilled
	accounts                  arrow.Table // dim_account
}

// Columns of bridge_identity.
var (
	biPersonID       = col(load.BridgeIdentity, "person_id")
	biIdentifierType = col(load.BridgeIdentity, "identifier_type")
	biIdentifier     = col(load.BridgeIdentity, "identifier")
	biFirstSeenAt    = col(load.BridgeIdentity, "first_seen_at")
)

// Columns of dim_person.
var (
	dpPersonID         = col(load.DimPerson, "person_id")
	dpFirstSeenAt      = col(load.DimPerson, "first_seen_at")
	dpLastSeenAt       = col(load.DimPerson, "last_seen_at")
	dpIdentifierCount  = col(load.DimPerson, "identifier_count")
	dpAnonymousIDCount = col(load.DimPerson, "anonymous_id_count")
	dpEmailCount       = col(load.DimPerson, "email_count")
	dpCRMContactID     = col(load.DimPerson, "crm_contact_id")
	dpCRM              = col(load.DimPerson, "crm")
	dpLifecycleStage   = col(load.DimPerson, "lifecycle_stage")
	dpIsCustomer       = col(load.DimPerson, "is_customer")
	dpJobTitle         = col(load.DimPerson, "job_title")
	dpCompany          = col(load.DimPerson, "company")
	dpIndustry         = col(load.DimPerson, "industry")
	dpCompanySize      = col(load.DimPerson, "company_size")
	dpCountry          = col(load.DimPerson, "country")
	dpOriginalSource   = col(load.DimPerson, "original_source")
	dpPersona          = col(load.DimPerson, "persona")
	dpAccountID        = col(load.DimPerson, "account_id")
)

// persons writes bridge_identity (every identifier of every person) and dim_person
// (every person, with what the identifiers, the events, the conversions and the CRM
// records tell of them, and their persona).
func persons(r *run, id *stitched, act *activity, cv *conversions, ct *contactCols) (*personTables, error) {
	nodes := nodesByPerson(id.persons, id.graph.Len())
	ids := identifiersOf(id, nodes)
	// The two tables are written side by side.
	var bridge *bigTable
	var wg sync.WaitGroup
	wg.Go(func() { bridge = bridgeIdentity(r, id, nodes) })
	dim := dimPerson(r, id, ids, act, cv, ct)
	wg.Wait()
	pt := &personTables{}
	var err error
	if pt.bridge, pt.bridgeSpilled, err = bridge.finish(); err != nil {
		dim.release()
		return nil, err
	}
	if pt.dim, pt.dimSpilled, err = dim.finish(); err != nil {
		if pt.bridge != nil {
			pt.bridge.Release()
		}
		if pt.bridgeSpilled != nil {
			pt.bridgeSpilled.Release()
		}
		return nil, err
	}
	return pt, nil
}

// identifiers is what bridge_identity tells of each person.
type identifiers struct {
	first          []int64    // first seen, µs
	counts         [][3]int64 // all, anonymous ids, e-mails
	crmID, crmName []string
	emails         map[int32][]string
}

// nodesByPerson is every graph node in bridge_identity's order: by person, type and
// value (a counting sort by person, then each person's few nodes sorted).
func nodesByPerson(p *identity.Persons, n int) []int32 {
	nodes, start := byPerson(n, p.Len(), p.Of)
	for k := 0; k+1 < len(start); k++ {
		if seg := nodes[start[k]:start[k+1]]; len(seg) > 1 {
			slices.SortFunc(seg, func(x, y int32) int {
				tx, vx, _ := p.Node(x)
				ty, vy, _ := p.Node(y)
				if tx != ty {
					return int(tx) - int(ty)
				}
				return strings.Compare(vx, vy)
			})
		}
	}
	return nodes
}

// byPerson orders items 0..n-1 by their person (a counting sort: persons are numbered
// 0..persons-1) and returns the order and where each person's items start in it
// (order[start[p]:start[p+1]], in item order).
func byPerson(n, persons int, person func(i int32) int32) (order, start []int32) {
	start = make([]int32, persons+1)
	for i := int32(0); i < int32(n); i++ {
		start[person(i)+1]++
	}
	for k := 1; k < len(start); k++ {
		start[k] += start[k-1]
	}
	order = make([]int32, n)
	next := slices.Clone(start[:persons])
	for i := int32(0); i < int32(n); i++ {
		k := person(i)
		order[next[k]] = i
		next[k]++
	}
	return order, start
}

// identifiersOf gathers what bridge_identity tells of each person; nodes are in
// nodesByPerson's order.
func identifiersOf(id *stitched, nodes []int32) *identifiers {
	p := id.persons
	np := p.Len()
	ids := &identifiers{first: make([]int64, np), counts: make([][3]int64, np),
		crmID: make([]string, np), crmName: make([]string, np), emails: map[int32][]string{}}
	for _, n := range nodes {
		person := p.Of(n)
		typ, val, seen := p.Node(n)
		if seen != 0 && (ids.first[person] == 0 || seen < ids.first[person]) {
			ids.first[person] = seen
		}
		ids.counts[person][0]++
		switch typ {
		case identity.AnonymousID:
			ids.counts[person][1]++
		case identity.Email:
			ids.counts[person][2]++
			ids.emails[person] = append(ids.emails[person], val)
		case identity.HubSpotContact, identity.SalesforceContact, identity.SalesforceLead:
			if ids.crmID[person] == "" {
				ids.crmID[person], ids.crmName[person] = val, id.crmOf[n]
			}
		}
	}
	return ids
}

// bridgeIdentity writes bridge_identity: every identifier, by person, type and value
// (nodes, in nodesByPerson's order).
func bridgeIdentity(r *run, id *stitched, nodes []int32) *bigTable {
	p := id.persons
	bt := newBigTable(r, load.BridgeIdentity)
	o := bt.o
	for _, n := range nodes {
		typ, val, seen := p.Node(n)
		o.str(biPersonID, p.ID(p.Of(n)))
		o.str(biIdentifierType, typ.String())
		o.str(biIdentifier, val)
		o.ts(biFirstSeenAt, seen)
		bt.row()
	}
	return bt
}

// dimPerson writes dim_person.
func dimPerson(r *run, id *stitched, ids *identifiers, act *activity, cv *conversions, ct *contactCols) *bigTable {
	attrs := contactAttrs(ct, id)
	bt := newBigTable(r, load.DimPerson)
	o := bt.o
	for p := int32(0); p < int32(id.persons.Len()); p++ {
		o.str(dpPersonID, id.persons.ID(p))
		o.ts(dpFirstSeenAt, ids.first[p])
		last := max(act.lastSeen.get(p), cv.last[p])
		if last < ids.first[p] {
			last = ids.first[p]
		}
		o.ts(dpLastSeenAt, last)
		o.i64(dpIdentifierCount, ids.counts[p][0], true)
		o.i64(dpAnonymousIDCount, ids.counts[p][1], true)
		o.i64(dpEmailCount, ids.counts[p][2], true)
		o.str(dpCRMContactID, ids.crmID[p])
		o.str(dpCRM, ids.crmName[p])
		stage := ""
		if rank := cv.stage[p]; rank > 0 {
			stage = milestones[rank-1]
		}
		o.str(dpLifecycleStage, stage)
		o.bool(dpIsCustomer, cv.customer[p])
		a := attrs[p]
		o.str(dpJobTitle, a.JobTitle)
		o.str(dpCompany, a.Company)
		o.str(dpIndustry, a.Industry)
		o.i64(dpCompanySize, a.CompanySize, a.HasCompanySize)
		o.str(dpCountry, a.Country)
		o.str(dpOriginalSource, a.OriginalSource)
		a.LifecycleStage, a.CRM, a.Emails = stage, ids.crmName[p], ids.emails[p]
		a.Pages, a.Downloads, a.Events = act.seen.of(p, seenPage), act.seen.of(p, seenDownload), act.seen.of(p, seenEvent)
		o.str(dpPersona, r.opt.Personas.Classify(&a))
		o.str(dpAccountID, cv.acc.id(cv.acc.of(p)))
		bt.row()
	}
	return bt
}
