package hubspot

import (
	"context"
	"strconv"
	"strings"

	"closedloop/extract"
)

// companyProperties are the company properties read: HubSpot's default Company
// name, Company Domain Name (website when empty), Industry, Number of Employees,
// Country/Region and Company owner, and the ids of the companies merged into it.
var companyProperties = []string{"name", "domain", "website", "industry", "numberofemployees", "country",
	"hubspot_owner_id", "hs_merged_object_ids", "hs_lastmodifieddate"}

// propCompanyID is the contact property holding the id of the contact's primary
// company (HubSpot keeps it in step with the primary contact-to-company association).
const propCompanyID = "associatedcompanyid"

// HubSpot-defined association type ids (typeId, HUBSPOT_DEFINED category) of the
// primary company associations; the unlabeled ones are 279 (contact to company) and
// 341 (deal to company). Labels changed in 2024 ("Primary" became "Contact with
// Primary Company"); only the type ids are stable.
const (
	contactPrimaryCompany = 1
	dealPrimaryCompany    = 5
)

// accountRow is one company, checked before anything is appended to a builder.
type accountRow struct {
	id, name, domain, industry, country, owner string
	size                                       int64 // company_size, set when hasSize
	hasSize                                    bool
	loc                                        string // its location, for the row
}

// badText says why a company's text cannot be stored, "" when it can.
func (a *accountRow) badText() string {
	return badText("property name", a.name, "property domain", a.domain, "property industry", a.industry,
		"property country", a.country)
}

// companies is what a run knows of the companies before it writes contacts and
// deals: which ids an account_id may take, and which company each contact and deal
// is on.
type companies struct {
	// read are the companies decoded, written by writeCompanies once merges are known.
	read []accountRow
	// live are the ids of the companies written; nil when not known (an incremental
	// API read sees only the companies modified since), and then links are kept as
	// they are. A link to a company that is not live (archived, deleted, rejected,
	// absent from the export) is dropped.
	live map[string]bool
	// mergedInto maps the id of a company merged into another to the survivor.
	mergedInto map[string]string
	// ofContact and ofDeal are the primary company of a contact and of a deal, from
	// the association files or tables (a contact without one falls back to its
	// associatedcompanyid property). In API mode ofDeal is filled per page by the
	// deals reader alone.
	ofContact, ofDeal map[string]string
	// primary tells, per contact and deal in ofContact and ofDeal, that the link is
	// of the primary type (a later primary link replaces a plain one).
	primary map[string]bool
}

// newCompanies returns empty companies; known says whether the companies read are all
// there are (live is then checked).
func newCompanies(known bool) companies {
	c := companies{mergedInto: map[string]string{}, ofContact: map[string]string{}, ofDeal: map[string]string{},
		primary: map[string]bool{}}
	if known {
		c.live = map[string]bool{}
	}
	return c
}

// link records that contact or deal id (key "contact:ID" or "deal:ID" in primary) is
// on company: a primary link wins over a plain one, else the first link stays.
func (c *companies) link(of map[string]string, key, id, company string, primary bool) {
	if _, ok := of[id]; ok && (c.primary[key] || !primary) {
		return
	}
	of[id] = company
	if primary {
		c.primary[key] = true
	}
}

// accountOf returns the account a link points at: the surviving company of a merge,
// "" when the company is not live.
func (x *run) accountOf(id string) string {
	id = strings.TrimSpace(id)
	if id == "" {
		return ""
	}
	for i := 0; i < 16; i++ { // follow chains; a cycle ends nowhere
		s, ok := x.co.mergedInto[id]
		if !ok {
			break
		}
		id = s
	}
	if x.co.live != nil && !x.co.live[id] {
		return ""
	}
	return id
}

// contactAccount is the account of contact id: its primary company association, else
// its associatedcompanyid property (HubSpot's primary company), else another company
// association.
func (x *run) contactAccount(id, property string) string {
	c, ok := x.co.ofContact[id]
	if ok && x.co.primary["contact:"+id] {
		return x.accountOf(c)
	}
	if property != "" {
		return x.accountOf(property)
	}
	return x.accountOf(c)
}

// companyObject checks one decoded company and keeps it for writeCompanies, or writes
// its rejection. An archived company is skipped: links to it are dropped.
func (x *run) companyObject(ctx context.Context, r *rows, p place, o *object, rec []byte) error {
	id := o.ID.str()
	if o.Archived {
		x.e.skipped.Add(1)
		return nil
	}
	if id == "" {
		return r.reject(ctx, p.reject("company", ""), "company has no id", rec)
	}
	if reason := extract.BadText("id", id); reason != "" {
		return r.reject(ctx, p.reject("company", ""), reason, rec)
	}
	domain := o.prop("domain")
	if domain == "" {
		domain = o.prop("website")
	}
	a := accountRow{
		id:       id,
		name:     o.prop("name"),
		domain:   extract.Domain(domain),
		industry: o.prop("industry"),
		country:  o.prop("country"),
		owner:    x.owners.name[o.prop("hubspot_owner_id")],
		loc:      p.row("company", id),
	}
	reason := a.badText()
	if reason == "" {
		reason = badText("property hs_merged_object_ids", o.prop("hs_merged_object_ids"))
	}
	if reason != "" {
		return r.reject(ctx, p.reject("company", id), reason+"; its contacts and deals get no account", rec)
	}
	if s := o.prop("numberofemployees"); s != "" {
		if a.size, a.hasSize = extract.CompanySize(s); !a.hasSize {
			x.e.badSize(p.reject("company", id), s)
		}
	}
	for _, m := range strings.Split(o.prop("hs_merged_object_ids"), ";") {
		if m = strings.TrimSpace(m); m != "" && m != id {
			x.co.mergedInto[m] = id
		}
	}
	x.co.read = append(x.co.read, a)
	return nil
}

// writeCompanies writes the companies read, but those merged into another one read
// too (Fivetran keeps a merged-away company as a row of its own), the first row of a
// repeated id, and marks them live.
func (x *run) writeCompanies(ctx context.Context, r *rows) error {
	for i := range x.co.read {
		a := &x.co.read[i]
		if _, merged := x.co.mergedInto[a.id]; merged {
			x.e.skipped.Add(1)
			continue
		}
		if x.co.live != nil {
			if x.co.live[a.id] {
				continue
			}
			x.co.live[a.id] = true
		}
		if err := r.account(ctx, a.loc, a); err != nil {
			return err
		}
	}
	x.co.read = nil
	return nil
}

// typeID reads an association type id; -1 when it is not a number.
func typeID(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}
