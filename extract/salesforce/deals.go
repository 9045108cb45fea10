package salesforce

import (
	"context"
	"slices"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableDeals and extract.TableDealContacts, resolved once.
var (
	dInput     = extract.Col(extract.TableDeals, "input")
	dLocation  = extract.Col(extract.TableDeals, "location")
	dCRM       = extract.Col(extract.TableDeals, "crm")
	dDealID    = extract.Col(extract.TableDeals, "deal_id")
	dDealName  = extract.Col(extract.TableDeals, "deal_name")
	dStage     = extract.Col(extract.TableDeals, "stage")
	dAmount    = extract.Col(extract.TableDeals, "amount")
	dCurrency  = extract.Col(extract.TableDeals, "currency")
	dCreatedAt = extract.Col(extract.TableDeals, "created_at")
	dClosedAt  = extract.Col(extract.TableDeals, "closed_at")
	dIsClosed  = extract.Col(extract.TableDeals, "is_closed")
	dIsWon     = extract.Col(extract.TableDeals, "is_won")
	dAccountID = extract.Col(extract.TableDeals, "account_id")

	dcInput     = extract.Col(extract.TableDealContacts, "input")
	dcCRM       = extract.Col(extract.TableDealContacts, "crm")
	dcDealID    = extract.Col(extract.TableDealContacts, "deal_id")
	dcContactID = extract.Col(extract.TableDealContacts, "contact_id")
	dcPrimary   = extract.Col(extract.TableDealContacts, "is_primary")
)

// closedAt is when opportunity id closed: CloseDate, or the time it entered its
// current stage when the history shows that happening on CloseDate's day.
func (r *run) closedAt(id, stage string, closeDate time.Time) time.Time {
	h := r.stages[id] // in time order
	if len(h) == 0 {
		return closeDate
	}
	// The last run of rows in the current stage: history rows repeat the stage when
	// the amount or the close date change.
	i := len(h) - 1
	if !strings.EqualFold(h[i].stage, stage) {
		return closeDate
	}
	for i > 0 && strings.EqualFold(h[i-1].stage, stage) {
		i--
	}
	entered := h[i].at
	if closeDate.IsZero() {
		return entered
	}
	y1, m1, d1 := entered.Date()
	y2, m2, d2 := closeDate.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return entered
	}
	return closeDate
}

// opportunities reads Opportunity into crm_deals.
func (r *run) opportunities(ctx context.Context) error {
	obj := r.o.opportunity
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableDeals, r.w)
	defer b.Release()
	sb := extract.NewBuilder(r.e.cfg.Mem, extract.TableDealStages, r.w)
	defer sb.Release()
	found, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if r.skipGone(f, oppIsDeleted, -1) {
			if id, err := ID18(f.str(oppID)); err == nil {
				r.deletedOpps[id] = true
			}
			return nil
		}
		if r.old(f, oppSystemModstamp) {
			return nil
		}
		id := f.id(oppID)
		stage := f.str(oppStageName)
		amount, hasAmount := f.amount(oppAmount)
		currency := strings.ToUpper(f.str(oppCurrencyIsoCode))
		if currency == "" {
			currency = r.e.cfg.Currency
		}
		created, closeDate := f.time(oppCreatedDate), f.time(oppCloseDate)
		closed, won := f.bool(oppIsClosed), f.bool(oppIsWon)
		switch {
		case f.bad != "":
		case id == "":
			f.bad = "field Id: empty: an opportunity without an id cannot be joined"
		case !strings.HasPrefix(id, prefixOpportunity):
			f.bad = "field Id: " + id + " is not an opportunity id (they start with 006): check that this is the Opportunity export"
		case won && !closed:
			f.bad = "IsWon is true but IsClosed is false: Salesforce never writes that; fix the export"
		}
		if f.bad != "" {
			if id != "" {
				r.rejectedOpps[id] = true
			}
			return r.reject(ctx, rejectLocation(obj, rec, f.str(oppID)), f.bad, rec)
		}
		var closedAt time.Time
		if closed {
			closedAt = r.closedAt(id, stage, closeDate)
			if f.plausible(oppCloseDate, closedAt, r.e.cfg.Now); f.bad != "" {
				r.rejectedOpps[id] = true
				return r.reject(ctx, rejectLocation(obj, rec, f.str(oppID)), f.bad, rec)
			}
		}
		b.Str(dInput, r.spec)
		b.Str(dLocation, location(obj, rec, id))
		b.Str(dCRM, crm)
		b.Str(dDealID, id)
		b.Str(dDealName, f.str(oppName))
		b.Str(dStage, stage)
		b.Float(dAmount, amount, hasAmount)
		b.Str(dCurrency, currency)
		b.Time(dCreatedAt, created)
		b.Time(dClosedAt, closedAt)
		b.Bool(dIsClosed, closed)
		b.Bool(dIsWon, won)
		b.Str(dAccountID, r.accountOf(f.str(oppAccountID)))
		if err := b.End(ctx); err != nil {
			return err
		}
		return r.writeStages(ctx, sb, rec, id, stage, created)
	})
	if err != nil {
		return err
	}
	if err := b.Flush(ctx); err != nil {
		return err
	}
	if err := r.unmatchedStages(ctx, found); err != nil {
		return err
	}
	return sb.Flush(ctx)
}

// role is one live OpportunityContactRole.
type role struct {
	opp, contact string
	primary      bool
}

// readRoles reads OpportunityContactRole.
func (r *run) readRoles(ctx context.Context) error {
	obj := r.o.contactRoles
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if r.skipGone(f, ocrIsDeleted, -1) {
			return nil
		}
		opp, contact, primary := f.id(ocrOpportunityID), f.id(ocrContactID), f.bool(ocrIsPrimary)
		f.want(ocrOpportunityID, opp, prefixOpportunity, "an opportunity")
		f.want(ocrContactID, contact, prefixContact, "a contact")
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(ocrID)), f.bad, rec)
		}
		r.roles = append(r.roles, role{opp: opp, contact: contact, primary: primary})
		return nil
	})
	return err
}

// dealPeople decides the contacts of each opportunity: its live contact roles,
// primary first, merged contacts followed to the survivor, deleted ones dropped; an
// opportunity without any gets the contact (or lead) it was converted with.
func (r *run) dealPeople() {
	r.oppPeople = map[string][]string{}
	byOpp := map[string][]role{}
	var order []string
	for _, ro := range r.roles {
		if _, ok := byOpp[ro.opp]; !ok {
			order = append(order, ro.opp)
		}
		byOpp[ro.opp] = append(byOpp[ro.opp], ro)
	}
	for _, opp := range order {
		if r.deletedOpps[opp] {
			continue
		}
		roles := byOpp[opp]
		slices.SortStableFunc(roles, func(a, b role) int {
			switch {
			case a.primary == b.primary:
				return 0
			case a.primary:
				return -1
			}
			return 1
		})
		var people []string
		for _, ro := range roles {
			c := resolve(r.contactWinner, ro.contact)
			if !r.deletedContacts[c] && !slices.Contains(people, c) {
				people = append(people, c)
			}
		}
		if len(people) > 0 {
			r.oppPeople[opp] = people
			r.oppOrder = append(r.oppOrder, opp)
		}
	}
	var fromLeads []string
	for opp := range r.oppFromLead {
		fromLeads = append(fromLeads, opp)
	}
	slices.Sort(fromLeads)
	for _, opp := range fromLeads {
		c := r.oppFromLead[opp]
		if _, ok := r.oppPeople[opp]; ok || r.deletedOpps[opp] || r.deletedContacts[c] {
			continue
		}
		r.oppPeople[opp] = []string{c}
		r.oppOrder = append(r.oppOrder, opp)
	}
}

// writeDealContacts writes crm_deal_contacts from dealPeople.
func (r *run) writeDealContacts(ctx context.Context) error {
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableDealContacts, r.w)
	defer b.Release()
	for _, opp := range r.oppOrder {
		for i, c := range r.oppPeople[opp] {
			b.Str(dcInput, r.spec)
			b.Str(dcCRM, crm)
			b.Str(dcDealID, opp)
			b.Str(dcContactID, c)
			b.Bool(dcPrimary, i == 0) // the primary role, else the first listed
			if err := b.End(ctx); err != nil {
				return err
			}
		}
	}
	return b.Flush(ctx)
}
