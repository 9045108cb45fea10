package hubspot

import (
	"context"
	"strings"
	"time"

	"closedloop/extract"
)

// lifecycleStages maps HubSpot's internal lifecyclestage values to ours. Any other
// value (a custom stage id) is "other".
var lifecycleStages = map[string]string{
	"subscriber":             "subscriber",
	"lead":                   "lead",
	"marketingqualifiedlead": "mql",
	"salesqualifiedlead":     "sql",
	"opportunity":            "opportunity",
	"customer":               "customer",
	"evangelist":             "evangelist",
	"other":                  "other",
}

// milestoneStages are the lifecycle stages whose entry dates are read, in the order
// of the contact columns lead_at .. customer_at.
var milestoneStages = []string{"lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity", "customer"}

// contactProperties are the contact properties read (the cookie property is added).
var contactProperties = func() []string {
	p := []string{"email", "createdate", "lastmodifieddate", "lifecyclestage",
		"hs_analytics_source", "hs_analytics_source_data_1", "hs_analytics_source_data_2",
		"hs_merged_object_ids", "hs_calculated_merged_vids", "hs_additional_emails",
		propJobTitle, propCompany, propIndustry, propEmployees, propCountry, propCompanyID}
	for _, s := range milestoneStages {
		p = append(p, "hs_lifecyclestage_"+s+"_date", "hs_v2_date_entered_"+s)
	}
	return p
}()

// lifecycle maps a lifecyclestage value; "" stays "" (null).
func lifecycle(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return ""
	}
	if m, ok := lifecycleStages[s]; ok {
		return m
	}
	return "other"
}

// stageDateProps are, per milestone stage, the properties holding the date a
// contact entered it: the classic hs_lifecyclestage_<v>_date, else the newer
// hs_v2_date_entered_<v>.
var stageDateProps = func() map[string][2]string {
	m := map[string][2]string{}
	for _, s := range milestoneStages {
		m[s] = [2]string{"hs_lifecyclestage_" + s + "_date", "hs_v2_date_entered_" + s}
	}
	return m
}()

// stageDate returns the date a contact entered lifecycle stage v.
func stageDate(t *times, v string) time.Time {
	p := stageDateProps[v]
	return t.first(p[0], p[1])
}

// contactObject writes the row of one decoded contact, or its rejection. An archived
// contact is skipped and its id returned, so links to it can be dropped too.
func (x *run) contactObject(ctx context.Context, r *rows, p place, o *object, rec []byte) (archived string, err error) {
	id := o.ID.str()
	if o.Archived {
		x.e.skipped.Add(1)
		return id, nil
	}
	if id == "" {
		return "", r.reject(ctx, p.reject("contact", ""), "contact has no id", rec)
	}
	if reason := extract.BadText("id", id); reason != "" {
		return "", r.reject(ctx, p.reject("contact", ""), reason, rec)
	}
	c, bad := x.contact(o, id)
	if bad != nil {
		return "", r.reject(ctx, p.reject("contact", id), bad.Error()+"; fix the value in HubSpot", rec)
	}
	reason := o.badProps("email", "hs_additional_emails")
	if reason == "" {
		reason = c.badText()
	}
	if reason == "" && !c.created.IsZero() {
		reason = extract.BadTime("createdate", c.created, x.e.cfg.Now)
	}
	if reason != "" {
		return "", r.reject(ctx, p.reject("contact", id), reason, rec)
	}
	if c.badSize != "" {
		x.e.badSize(p.reject("contact", id), c.badSize)
	}
	if c.badCookie != "" {
		x.e.badCookie(p.reject("contact", id), x.cookieProperty, c.badCookie)
	}
	return "", r.contact(ctx, p.row("contact", id), &c)
}

// contact reads the properties of one contact.
func (x *run) contact(o *object, id string) (contactRow, *badField) {
	t := &times{o: o, types: x.contactTypes}
	r := contactRow{
		id:          id,
		email:       strings.ToLower(o.prop("email")),
		stage:       lifecycle(o.prop("lifecyclestage")),
		source:      o.prop("hs_analytics_source"),
		sourceData1: o.prop("hs_analytics_source_data_1"),
		sourceData2: o.prop("hs_analytics_source_data_2"),
		jobTitle:    o.prop(propJobTitle),
		company:     o.prop(propCompany),
		industry:    o.prop(propIndustry),
		country:     o.prop(propCountry),
		companyID:   o.prop(propCompanyID),
	}
	r.account = x.contactAccount(id, r.companyID)
	if s := o.prop(propEmployees); s != "" {
		if r.size, r.hasSize = extract.CompanySize(s); !r.hasSize {
			r.badSize = s
		}
	}
	if x.cookieProperty != "" {
		raw := o.prop(x.cookieProperty)
		if id, ok := extract.CookieID(raw); ok {
			r.cookie = id
		} else {
			r.badCookie = raw
		}
	}
	merged := o.prop("hs_merged_object_ids")
	if merged == "" {
		merged = o.prop("hs_calculated_merged_vids")
	}
	r.linked = linkedIDs(id, merged, x.merges[id], o.prop("hs_additional_emails"))
	r.created = t.orTop(t.get("createdate"), "createdAt", o.CreatedAt)
	r.updated = t.orTop(t.get("lastmodifieddate"), "updatedAt", o.UpdatedAt)
	r.lead = stageDate(t, "lead")
	r.mql = stageDate(t, "marketingqualifiedlead")
	r.sql = stageDate(t, "salesqualifiedlead")
	r.opportunity = stageDate(t, "opportunity")
	r.customer = stageDate(t, "customer")
	return r, t.bad
}

// linkedIDs builds linked_ids from the ids of contacts merged into this one
// (hs_merged_object_ids "1;2", or the older hs_calculated_merged_vids "1:ms;2:ms"),
// the merges a merge audit lists (also), and hs_additional_emails, all
// ";"-separated. Each value appears once.
func linkedIDs(id, merged string, also []string, emails string) string {
	if merged == "" && len(also) == 0 && emails == "" {
		return ""
	}
	var out []string
	seen := map[string]bool{id: true}
	add := func(m string) {
		m, _, _ = strings.Cut(strings.TrimSpace(m), ":")
		if m = strings.TrimSpace(m); m != "" && !seen[m] {
			seen[m] = true
			out = append(out, "hubspot_contact:"+m)
		}
	}
	for _, m := range strings.Split(merged, ";") {
		add(m)
	}
	for _, m := range also {
		add(m)
	}
	for _, e := range strings.Split(emails, ";") {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" && !seen["email:"+e] {
			seen["email:"+e] = true
			out = append(out, "email:"+e)
		}
	}
	return strings.Join(out, ";")
}
