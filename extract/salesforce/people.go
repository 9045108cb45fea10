package salesforce

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableContacts, resolved once.
var (
	ctInput     = extract.Col(extract.TableContacts, "input")
	ctLocation  = extract.Col(extract.TableContacts, "location")
	ctCRM       = extract.Col(extract.TableContacts, "crm")
	ctContactID = extract.Col(extract.TableContacts, "contact_id")
	ctEmail     = extract.Col(extract.TableContacts, "email")
	ctCookieID  = extract.Col(extract.TableContacts, "cookie_id")
	ctCreatedAt = extract.Col(extract.TableContacts, "created_at")
	ctUpdatedAt = extract.Col(extract.TableContacts, "updated_at")
	ctStage     = extract.Col(extract.TableContacts, "lifecycle_stage")
	ctLeadAt    = extract.Col(extract.TableContacts, "lead_at")
	ctMQLAt     = extract.Col(extract.TableContacts, "mql_at")
	ctSQLAt     = extract.Col(extract.TableContacts, "sql_at")
	ctSource    = extract.Col(extract.TableContacts, "original_source")
	ctLinkedIDs = extract.Col(extract.TableContacts, "linked_ids")
	ctJobTitle  = extract.Col(extract.TableContacts, "job_title")
	ctCompany   = extract.Col(extract.TableContacts, "company")
	ctIndustry  = extract.Col(extract.TableContacts, "industry")
	ctSize      = extract.Col(extract.TableContacts, "company_size")
	ctCountry   = extract.Col(extract.TableContacts, "country")
	ctAccountID = extract.Col(extract.TableContacts, "account_id")
)

// statusDates are when a lead's Status first entered the MQL and SQL lists.
type statusDates struct {
	mql, sql time.Time
	first    time.Time // earliest Status change seen
	scd      bool      // from a Fivetran history-mode table: first is its first version
}

// readLeadHistory reads the Status changes of leads.
func (r *run) readLeadHistory(ctx context.Context) error {
	obj := r.o.leadHistory
	cfg := &r.e.cfg
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if rec.gone {
			return nil
		}
		scd := s.has[lhFivetranStart]
		var lead, status string
		var at time.Time
		if scd {
			lead, status, at = f.id(lhID), f.str(lhStatus), f.time(lhFivetranStart)
		} else {
			if !strings.EqualFold(f.str(lhField), "Status") || f.bool(lhIsDeleted) {
				return nil
			}
			lead, status, at = f.id(lhLeadID), f.str(lhNewValue), f.time(lhCreatedDate)
		}
		if f.bad == "" && (lead == "" || at.IsZero()) {
			f.bad = "a Status change without its lead id or its time: it cannot date the lead's milestones"
		}
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(lhID)), f.bad, rec)
		}
		d := r.status[lead]
		if d == nil {
			d = &statusDates{}
			r.status[lead] = d
		}
		d.scd = d.scd || scd
		d.first = earliest(d.first, at)
		if inList(status, cfg.MQLStatuses) {
			d.mql = earliest(d.mql, at)
		}
		if inList(status, cfg.SQLStatuses) {
			d.sql = earliest(d.sql, at)
		}
		return nil
	})
	return err
}

// person is one crm_contacts row: a lead or a contact (with the leads converted into
// it folded in).
type person struct {
	id, email, cookie, source, loc string
	created, updated, lead         time.Time
	mql, sql                       time.Time
	linked                         []string
	contact, opp                   string // a converted lead: its contact and opportunity
	folded                         bool   // a converted lead written as part of its contact's row

	title, company, industry, country string
	account                           string // account_id: Contact.AccountId, a converted lead's ConvertedAccountId
	size                              int64  // company_size, set when hasSize
	hasSize                           bool
}

// old reports whether a record changed before Config.Since (files: the API filters in
// the query).
func (r *run) old(f *fields, i int) bool {
	since := r.e.cfg.Since
	if since.IsZero() || !f.obj.since {
		return false
	}
	t := f.time(i)
	return !t.IsZero() && t.Before(since)
}

// people reads leads, then contacts (folding converted leads into them), then writes
// the converted leads whose contact was not read.
func (r *run) people(ctx context.Context) error {
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableContacts, r.w)
	defer b.Release()
	if _, err := r.read(ctx, r.o.lead, func(s *stream, rec *record) error { return r.lead(ctx, b, rec) }); err != nil {
		return err
	}
	if _, err := r.read(ctx, r.o.contact, func(s *stream, rec *record) error { return r.contact(ctx, b, rec) }); err != nil {
		return err
	}
	for _, p := range r.pending {
		if p.folded {
			continue
		}
		p.linked = append(p.linked, "salesforce_contact:"+p.contact)
		if p.opp != "" && r.oppFromLead[p.opp] == p.contact {
			r.oppFromLead[p.opp] = p.id // the contact is not read: the deal joins the lead
		}
		if err := r.writePerson(ctx, b, p); err != nil {
			return err
		}
	}
	if r.missingAccounts > 0 {
		r.e.log.Warn("salesforce: contacts name an AccountId the Account export does not have: they get no company, industry or company_size; export Account and Contact at the same time",
			"contacts", r.missingAccounts)
	}
	return b.Flush(ctx)
}

// skipGone counts a deleted record and reports whether rec is one.
func (r *run) skipGone(f *fields, deleted, master int) bool {
	if f.r.stale {
		r.e.skip(skipSuperseded)
		return true
	}
	if !f.r.gone && !f.bool(deleted) {
		return false
	}
	if master >= 0 && f.str(master) != "" {
		r.e.skip(skipMerged)
	} else {
		r.e.skip(skipDeleted)
	}
	return true
}

func (r *run) lead(ctx context.Context, b *extract.Builder, rec *record) error {
	obj := r.o.lead
	f := newFields(obj, rec)
	if r.skipGone(f, leadIsDeleted, leadMasterRecordID) || r.old(f, leadSystemModstamp) {
		return nil
	}
	id := f.id(leadID)
	p := &person{id: id, email: strings.ToLower(f.str(leadEmail)), source: f.str(leadLeadSource),
		created: f.time(leadCreatedDate), updated: f.time(leadLastModifiedDate)}
	if p.updated.IsZero() {
		p.updated = f.time(leadSystemModstamp)
	}
	if len(obj.fields) > leadCookie {
		r.setCookie(p, f.str(leadCookie), obj, rec)
	}
	status := f.str(leadStatus)
	converted := f.bool(leadIsConverted)
	convertedAt := f.time(leadConvertedDate)
	contact, opp := f.id(leadConvertedContactID), f.id(leadConvertedOpportunityID)
	acct := f.id(leadConvertedAccountID)
	f.plausible(leadCreatedDate, p.created, r.e.cfg.Now)
	switch {
	case f.bad != "":
	case id == "":
		f.bad = "field Id: empty: a lead without an id cannot be joined"
	case !strings.HasPrefix(id, prefixLead):
		f.bad = "field Id: " + id + " is not a lead id (lead ids start with 00Q): check that this is the Lead export"
	case contact != "" && !strings.HasPrefix(contact, prefixContact):
		f.bad = "field ConvertedContactId: " + contact + " is not a contact id (contact ids start with 003)"
	case opp != "" && !strings.HasPrefix(opp, prefixOpportunity):
		f.bad = "field ConvertedOpportunityId: " + opp + " is not an opportunity id (opportunity ids start with 006)"
	case acct != "" && !strings.HasPrefix(acct, prefixAccount):
		f.bad = "field ConvertedAccountId: " + acct + " is not an account id (account ids start with 001)"
	}
	if f.bad != "" {
		return r.reject(ctx, rejectLocation(obj, rec, f.str(leadID)), f.bad, rec)
	}
	p.loc = location(obj, rec, id)
	p.title, p.company, p.industry, p.country = f.str(leadTitle), f.str(leadCompany), f.str(leadIndustry), f.str(leadCountry)
	if converted {
		p.account = r.accountOf(acct)
	}
	r.setSize(p, f.str(leadNumberOfEmployees), obj, rec, "NumberOfEmployees")
	p.lead = p.created
	if d := r.status[id]; d != nil {
		p.mql, p.sql = d.mql, d.sql
		// A history-mode table starts when Fivetran first saw the lead: a status it
		// had then dates from the lead's creation at the latest.
		if d.scd && p.mql.Equal(d.first) {
			p.mql = earliest(p.created, p.mql)
		}
		if d.scd && p.sql.Equal(d.first) {
			p.sql = earliest(p.created, p.sql)
		}
	} else {
		if inList(status, r.e.cfg.MQLStatuses) {
			p.mql = p.created
		}
		if inList(status, r.e.cfg.SQLStatuses) {
			p.sql = p.created
		}
	}
	if p.sql.IsZero() && converted {
		p.sql = convertedAt
	}
	for _, l := range r.leadLosers[id] {
		p.linked = append(p.linked, "salesforce_lead:"+l)
	}
	if converted && contact != "" {
		p.contact = resolve(r.contactWinner, contact)
		p.opp = opp
		r.converted[p.contact] = append(r.converted[p.contact], p)
		r.pending = append(r.pending, p)
		if _, ok := r.oppFromLead[opp]; opp != "" && !ok {
			r.oppFromLead[opp] = p.contact
		}
		return nil
	}
	return r.writePerson(ctx, b, p)
}

func (r *run) contact(ctx context.Context, b *extract.Builder, rec *record) error {
	obj := r.o.contact
	f := newFields(obj, rec)
	if r.skipGone(f, contactIsDeleted, contactMasterRecordID) {
		if id, err := ID18(f.str(contactID)); err == nil {
			r.deletedContacts[id] = true
		}
		return nil
	}
	if r.old(f, contactSystemModstamp) {
		return nil
	}
	id := f.id(contactID)
	p := &person{id: id, email: strings.ToLower(f.str(contactEmail)), source: f.str(contactLeadSource),
		created: f.time(contactCreatedDate), updated: f.time(contactLastModifiedDate)}
	if p.updated.IsZero() {
		p.updated = f.time(contactSystemModstamp)
	}
	if len(obj.fields) > contactCookie {
		r.setCookie(p, f.str(contactCookie), obj, rec)
	}
	f.plausible(contactCreatedDate, p.created, r.e.cfg.Now)
	switch {
	case f.bad != "":
	case id == "":
		f.bad = "field Id: empty: a contact without an id cannot be joined"
	case !strings.HasPrefix(id, prefixContact):
		f.bad = "field Id: " + id + " is not a contact id (contact ids start with 003): check that this is the Contact export"
	}
	if f.bad != "" {
		return r.reject(ctx, rejectLocation(obj, rec, f.str(contactID)), f.bad, rec)
	}
	p.loc = location(obj, rec, id)
	p.title, p.country = f.str(contactTitle), f.str(contactMailingCountry)
	p.account = r.accountOf(f.str(contactAccountID))
	var employees string
	p.company, p.industry, employees = r.contactAccount(f)
	r.setSize(p, employees, obj, rec, "Account.NumberOfEmployees")
	p.lead = p.created
	leads := r.converted[id]
	delete(r.converted, id)
	for _, l := range leads {
		l.folded = true
		p.lead = earliest(p.lead, l.lead)
		p.mql, p.sql = earliest(p.mql, l.mql), earliest(p.sql, l.sql)
		p.linked = append(p.linked, "salesforce_lead:"+l.id)
		p.linked = append(p.linked, l.linked...)
		switch {
		case p.email == "":
			p.email = l.email
		case l.email != "" && l.email != p.email:
			p.linked = append(p.linked, "email:"+l.email)
		}
		switch {
		case p.cookie == "":
			p.cookie = l.cookie
		case l.cookie != "" && l.cookie != p.cookie:
			p.linked = append(p.linked, "anonymous_id:"+l.cookie)
		}
		if p.source == "" {
			p.source = l.source
		}
		p.foldFirmographics(l)
	}
	for _, l := range r.contactLosers[id] {
		p.linked = append(p.linked, "salesforce_contact:"+l)
	}
	return r.writePerson(ctx, b, p)
}

// foldFirmographics fills what the contact lacks with the values of l, a lead
// converted into it.
func (p *person) foldFirmographics(l *person) {
	p.title = cmp.Or(p.title, l.title)
	p.company = cmp.Or(p.company, l.company)
	p.industry = cmp.Or(p.industry, l.industry)
	p.country = cmp.Or(p.country, l.country)
	p.account = cmp.Or(p.account, l.account)
	if !p.hasSize {
		p.size, p.hasSize = l.size, l.hasSize
	}
}

// writePerson appends one crm_contacts row.
func (r *run) writePerson(ctx context.Context, b *extract.Builder, p *person) error {
	stage := "lead"
	switch {
	case !p.sql.IsZero():
		stage = "sql"
	case !p.mql.IsZero():
		stage = "mql"
	}
	b.Str(ctInput, r.spec)
	b.Str(ctLocation, p.loc)
	b.Str(ctCRM, crm)
	b.Str(ctContactID, p.id)
	b.Str(ctEmail, p.email)
	b.Str(ctCookieID, p.cookie)
	b.Time(ctCreatedAt, p.created)
	b.Time(ctUpdatedAt, p.updated)
	b.Str(ctStage, stage)
	b.Time(ctLeadAt, p.lead)
	b.Time(ctMQLAt, p.mql)
	b.Time(ctSQLAt, p.sql)
	b.Str(ctSource, p.source)
	b.Str(ctLinkedIDs, joinLinked(p.id, p.linked))
	b.Str(ctJobTitle, p.title)
	b.Str(ctCompany, p.company)
	b.Str(ctIndustry, p.industry)
	b.Int(ctSize, p.size, p.hasSize)
	b.Str(ctCountry, p.country)
	b.Str(ctAccountID, p.account)
	return b.End(ctx)
}

// joinLinked joins linked ids without duplicates or the record itself.
func joinLinked(self string, ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	var out []string
	for _, id := range ids {
		if t, v, _ := strings.Cut(id, ":"); v == self && (t == "salesforce_lead" || t == "salesforce_contact") || slices.Contains(out, id) {
			continue
		}
		out = append(out, id)
	}
	return strings.Join(out, ";")
}
