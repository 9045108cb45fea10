package transform

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/load"
	"closedloop/transform/identity"
)

// CRM milestones in funnel order; the index is the lifecycle rank.
var milestones = []string{"lead", "mql", "sql", "opportunity", "customer"}

func stageRank(s string) int {
	for i, m := range milestones {
		if m == s {
			return i
		}
	}
	return -1
}

// conversions are every conversion of the run, of every day (not only the range's),
// one entry each: the conversions step makes them, the attribution and persons steps
// read them. Types, currencies and deals are codes of the dictionaries beside them.
type conversions struct {
	person                   []int32
	at                       []int64 // µs
	id                       []uint64
	typ, currency, deal      []int32
	revenue                  []float64 // NaN = unknown
	types, currencies, deals *dict
	// account is each conversion's account code (accounts.keys; 0 = none): its deal's
	// account, else its person's.
	account []int32
	// dealKey is each conversion's deal as a code of dealKeys ("crm:deal_id"; 0 = none).
	dealKey  []int32
	dealKeys *dict
	// members are the persons on each deal with contacts (by dealKey code), in order:
	// the deal scope's journey owners.
	members map[int32][]int32
	acc     *accounts
	// stage is each person's furthest CRM milestone, as its rank + 1.
	stage map[int32]int
	// customer tells the persons with a customer conversion.
	customer map[int32]bool
	// last is each person's last conversion time.
	last map[int32]int64
}

func (c *conversions) len() int { return len(c.at) }

// add appends a conversion; one without a time or a person is dropped.
func (c *conversions) add(person int32, at int64, typ string, revenue float64, currency, deal string, idParts ...string) {
	if at == 0 || person < 0 {
		return
	}
	c.addID(person, at, typ, revenue, currency, deal, hashParts(idParts...))
}

func (c *conversions) addID(person int32, at int64, typ string, revenue float64, currency, deal string, id uint64) {
	c.person = append(c.person, person)
	c.at = append(c.at, at)
	c.id = append(c.id, id)
	c.typ = append(c.typ, c.types.code(typ))
	c.revenue = append(c.revenue, revenue)
	c.currency = append(c.currency, c.currencies.code(currency))
	c.deal = append(c.deal, c.deals.code(deal))
	c.account = append(c.account, c.acc.of(person))
	c.dealKey = append(c.dealKey, 0)
	if r := stageRank(typ) + 1; r > c.stage[person] { // 0 = no stage
		c.stage[person] = r
	}
	if typ == "customer" {
		c.customer[person] = true
	}
	if at > c.last[person] {
		c.last[person] = at
	}
}

// eventConversion is a touch-log or micro-conversion event, kept by the sessions step
// for the conversions step.
type eventConversion struct {
	node     int32 // the event's key identifier (its device)
	at       int64 // µs
	anon     string
	name     string
	value    float64 // NaN = none
	currency string
	// id is the conversion's stable id; until the Stream finishes, the hash of its
	// parts (exact duplicates are told apart then, across chunks).
	id uint64
}

// eventConversions returns the events of one chunk that are conversions (touch-log
// conversions and Options.MicroConversions) from since on, in event order, each with
// the hash of its id's parts.
func eventConversions(r *run, ev *eventCols, nodes []int32, since int64) []eventConversion {
	micro := map[string]bool{}
	for _, m := range r.opt.MicroConversions {
		micro[m] = true
	}
	var convs []eventConversion
	for i := 0; i < ev.n; i++ {
		name := ev.name.Value(i)
		if !(ev.isConversion.Value(i) || len(micro) > 0 && micro[name]) || nodes[i] < 0 || int64(ev.at.Value(i)) < since {
			continue // (one before since is the state's)
		}
		v := math.NaN()
		if ev.value.IsValid(i) {
			v = ev.value.Value(i)
		}
		anon, at := sv(ev.anon, i), int64(ev.at.Value(i))
		convs = append(convs, eventConversion{node: nodes[i], at: at, anon: strings.Clone(anon), name: strings.Clone(name), value: v,
			currency: strings.Clone(sv(ev.currency, i)), id: hashParts("event", anon, strconv.FormatInt(at, 10), name)})
	}
	return convs
}

// Columns of fct_conversion.
var (
	cvConversionID   = col(load.FctConversion, "conversion_id")
	cvPersonID       = col(load.FctConversion, "person_id")
	cvOccurredAt     = col(load.FctConversion, "occurred_at")
	cvConversionType = col(load.FctConversion, "conversion_type")
	cvRevenue        = col(load.FctConversion, "revenue")
	cvCurrency       = col(load.FctConversion, "currency")
	cvCRMDealID      = col(load.FctConversion, "crm_deal_id")
	cvAccountID      = col(load.FctConversion, "account_id")
)

// collectConversions collects the conversions of deals, of contacts' CRM milestones
// and of events.
func collectConversions(r *run, crm *crmCols, id *stitched, acc *accounts, events []eventConversion) *conversions {
	cv := &conversions{types: newDict(), currencies: newDict(), deals: newDict(), dealKeys: newDict(), acc: acc,
		stage: map[int32]int{}, customer: map[int32]bool{}, last: map[int32]int64{}}
	nan := math.NaN()
	// dealAdded gives the conversions a deal just added its key and account.
	dealAdded := func(n int, key string) {
		dk := cv.dealKeys.code(key)
		da, ok := acc.deal[key]
		for i := n; i < cv.len(); i++ {
			cv.dealKey[i] = dk
			if ok {
				cv.account[i] = da
			}
			if cv.typ[i] == cv.types.lookup("customer") && cv.account[i] != 0 {
				acc.customer[cv.account[i]] = true
			}
		}
	}

	// Deals: opportunity at creation, customer when won (revenue = amount).
	d := crm.deals
	for i := 0; i < d.n; i++ {
		k := d.key(i)
		person := id.persons.Of(id.deals[k])
		cur := sv(d.currency, i)
		if cur == "" {
			cur = r.opt.Currency
		}
		n := cv.len()
		cv.add(person, tv(d.created, i), "opportunity", nan, cur, d.id.Value(i), "crm", k, "opportunity")
		if d.isWon.Value(i) {
			closed := tv(d.closed, i)
			if closed == 0 {
				closed = tv(d.created, i)
			}
			amount := nan
			if d.amount.IsValid(i) {
				amount = d.amount.Value(i)
			}
			cv.add(person, closed, "customer", amount, cur, d.id.Value(i), "crm", k, "customer")
		}
		dealAdded(n, k)
	}
	cv.members = dealMembers(crm.dealContacts, id, cv.dealKeys)

	// Contacts: lead (lead date, else creation), mql, sql; opportunity and customer
	// only for contacts associated with no deal the run read. CRMs copy a deal's
	// lifecycle dates onto every contact on it (HubSpot's lifecycle sync, Salesforce
	// contact roles), so those dates on a deal's second contact are the same deal
	// again: the deal's own conversions stand for all of its contacts.
	hasDeal := dealAssociated(crm.dealContacts, id.deals)
	ct := crm.contacts
	for i := 0; i < ct.n; i++ {
		person := id.persons.Of(id.contacts[i])
		k := ct.crm.Value(i) + ":" + ct.id.Value(i)
		for r, stage := range ct.stages {
			at := tv(stage, i)
			if r == 0 && at == 0 {
				at = tv(ct.created, i)
			}
			if r >= 3 && hasDeal[k] {
				continue
			}
			cv.add(person, at, milestones[r], nan, "", "", "crm", k, milestones[r])
		}
	}

	// Touch-log (and micro-) conversions: the event's own name is the type.
	for _, e := range events {
		cur := e.currency
		if cur == "" {
			cur = r.opt.Currency
		}
		if person := id.persons.Of(e.node); e.at != 0 && person >= 0 {
			cv.addID(person, e.at, e.name, e.value, cur, "", e.id)
		}
	}

	return cv
}

// conversionTable writes fct_conversion: the range's conversions.
func conversionTable(r *run, cv *conversions, p *identity.Persons) arrow.Table {
	o := newTable(r.opt.Mem, load.FctConversion)
	for i := range cv.id {
		if !r.inRange(cv.at[i]) {
			continue
		}
		o.str(cvConversionID, hexID("c_", cv.id[i]))
		o.str(cvPersonID, p.ID(cv.person[i]))
		o.ts(cvOccurredAt, cv.at[i])
		o.str(cvConversionType, cv.types.val(cv.typ[i]))
		o.f64(cvRevenue, cv.revenue[i], !math.IsNaN(cv.revenue[i]))
		o.str(cvCurrency, cv.currencies.val(cv.currency[i]))
		o.str(cvCRMDealID, cv.deals.val(cv.deal[i]))
		o.str(cvAccountID, cv.acc.id(cv.account[i]))
	}
	return o.table()
}

// dealMembers returns the persons on each deal of keys that has contacts in
// crm_deal_contacts (the deal's own person, its primary contact's, among them), each
// list sorted.
func dealMembers(dc *dealContactCols, id *stitched, keys *dict) map[int32][]int32 {
	out := map[int32][]int32{}
	for i := 0; i < dc.n; i++ {
		k := dc.crm.Value(i) + ":" + dc.deal.Value(i)
		code := keys.lookup(k)
		if code <= 0 {
			continue
		}
		typ, err := identity.CRMRecordType(dc.crm.Value(i), dc.contact.Value(i))
		if err != nil {
			continue
		}
		if p := id.persons.Of(id.graph.Lookup(typ, dc.contact.Value(i))); p >= 0 {
			out[code] = append(out[code], p)
		}
	}
	for code, ps := range out {
		if p := id.persons.Of(id.deals[keys.val(code)]); p >= 0 {
			ps = append(ps, p)
		}
		slices.Sort(ps)
		out[code] = slices.Compact(ps)
	}
	return out
}

// dealAssociated returns the contacts (crm:contact_id) associated with a deal the run
// read, by any association, primary or not.
func dealAssociated(dc *dealContactCols, deals map[string]int32) map[string]bool {
	out := map[string]bool{}
	for i := 0; i < dc.n; i++ {
		if _, ok := deals[dc.crm.Value(i)+":"+dc.deal.Value(i)]; ok {
			out[dc.crm.Value(i)+":"+dc.contact.Value(i)] = true
		}
	}
	return out
}
