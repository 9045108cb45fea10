package hubspot

import (
	"context"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableContacts, resolved once.
var (
	ctInput       = extract.Col(extract.TableContacts, "input")
	ctLocation    = extract.Col(extract.TableContacts, "location")
	ctCRM         = extract.Col(extract.TableContacts, "crm")
	ctContactID   = extract.Col(extract.TableContacts, "contact_id")
	ctEmail       = extract.Col(extract.TableContacts, "email")
	ctCookieID    = extract.Col(extract.TableContacts, "cookie_id")
	ctCreatedAt   = extract.Col(extract.TableContacts, "created_at")
	ctUpdatedAt   = extract.Col(extract.TableContacts, "updated_at")
	ctStage       = extract.Col(extract.TableContacts, "lifecycle_stage")
	ctLeadAt      = extract.Col(extract.TableContacts, "lead_at")
	ctMQLAt       = extract.Col(extract.TableContacts, "mql_at")
	ctSQLAt       = extract.Col(extract.TableContacts, "sql_at")
	ctOppAt       = extract.Col(extract.TableContacts, "opportunity_at")
	ctCustomerAt  = extract.Col(extract.TableContacts, "customer_at")
	ctSource      = extract.Col(extract.TableContacts, "original_source")
	ctSourceData1 = extract.Col(extract.TableContacts, "original_source_data_1")
	ctSourceData2 = extract.Col(extract.TableContacts, "original_source_data_2")
	ctLinkedIDs   = extract.Col(extract.TableContacts, "linked_ids")
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

// stageDate returns the date a contact entered lifecycle stage v: the classic
// hs_lifecyclestage_<v>_date, else the newer hs_v2_date_entered_<v>.
func stageDate(t *times, v string) time.Time {
	return t.first("hs_lifecyclestage_"+v+"_date", "hs_v2_date_entered_"+v)
}

// contactRow is one contact, checked before anything is appended to the builder.
type contactRow struct {
	id, email, cookie, stage              string
	created, updated                      time.Time
	lead, mql, sql, opportunity, customer time.Time
	source, sourceData1, sourceData2      string
	linked                                string // linked_ids: merged contacts, additional e-mails
}

// readContacts reads contacts.ndjson into extract.TableContacts. The ids of archived
// contacts go to archived.
func (e *Extractor) readContacts(ctx context.Context, w extract.Writer, archived map[string]bool) error {
	b := extract.NewBuilder(e.cfg.Mem, extract.TableContacts, w)
	defer b.Release()
	var o object
	err := e.eachLine(ctx, w, ContactsFile, func(l *lineReader, line []byte) error {
		if reason := decode(line, &o); reason != "" {
			return e.reject(ctx, w, l.location("", ""), reason, line)
		}
		id := strings.TrimSpace(o.ID.s)
		if o.Archived {
			e.skipped.Add(1)
			if id != "" {
				archived[id] = true
			}
			return nil
		}
		if id == "" {
			return e.reject(ctx, w, l.location("", ""), "contact has no id", line)
		}
		r, bad := e.contact(&o, id)
		if bad != nil {
			return e.reject(ctx, w, l.location("contact", id), bad.Error(), line)
		}
		b.Str(ctInput, e.cfg.Spec)
		b.Str(ctLocation, l.location("", ""))
		b.Str(ctCRM, crm)
		b.Str(ctContactID, r.id)
		b.Str(ctEmail, r.email)
		b.Str(ctCookieID, r.cookie)
		b.Time(ctCreatedAt, r.created)
		b.Time(ctUpdatedAt, r.updated)
		b.Str(ctStage, r.stage)
		b.Time(ctLeadAt, r.lead)
		b.Time(ctMQLAt, r.mql)
		b.Time(ctSQLAt, r.sql)
		b.Time(ctOppAt, r.opportunity)
		b.Time(ctCustomerAt, r.customer)
		b.Str(ctSource, r.source)
		b.Str(ctSourceData1, r.sourceData1)
		b.Str(ctSourceData2, r.sourceData2)
		b.Str(ctLinkedIDs, r.linked)
		return b.End(ctx)
	})
	if err != nil {
		return err
	}
	return b.Flush(ctx)
}

// contact reads the properties of one contact.
func (e *Extractor) contact(o *object, id string) (contactRow, *badField) {
	t := &times{o: o}
	r := contactRow{
		id:          id,
		email:       strings.ToLower(o.prop("email")),
		stage:       lifecycle(o.prop("lifecyclestage")),
		source:      o.prop("hs_analytics_source"),
		sourceData1: o.prop("hs_analytics_source_data_1"),
		sourceData2: o.prop("hs_analytics_source_data_2"),
	}
	if e.cfg.CookieProperty != "" {
		r.cookie = o.prop(e.cfg.CookieProperty)
	}
	r.linked = linkedIDs(id, o.prop("hs_merged_object_ids"), o.prop("hs_additional_emails"))
	r.created = t.orTop(t.get("createdate"), "createdAt", o.CreatedAt)
	r.updated = t.orTop(t.get("lastmodifieddate"), "updatedAt", o.UpdatedAt)
	r.lead = stageDate(t, "lead")
	r.mql = stageDate(t, "marketingqualifiedlead")
	r.sql = stageDate(t, "salesqualifiedlead")
	r.opportunity = stageDate(t, "opportunity")
	r.customer = stageDate(t, "customer")
	return r, t.bad
}

// linkedIDs builds linked_ids from hs_merged_object_ids (the ids of contacts merged
// into this one) and hs_additional_emails, both ";"-separated in HubSpot.
func linkedIDs(id, merged, emails string) string {
	var out []string
	for _, m := range strings.Split(merged, ";") {
		if m = strings.TrimSpace(m); m != "" && m != id {
			out = append(out, "hubspot_contact:"+m)
		}
	}
	for _, e := range strings.Split(emails, ";") {
		if e = strings.TrimSpace(e); e != "" {
			out = append(out, "email:"+strings.ToLower(e))
		}
	}
	return strings.Join(out, ";")
}
