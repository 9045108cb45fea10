package hubspot

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"closedloop/extract"
)

// fivetranRequired are the Fivetran tables a folder must hold, with what each gives.
var fivetranRequired = []struct{ table, why string }{
	{"contact", "the contacts"},
	{"deal", "the deals"},
	{"deal_pipeline_stage", "the deal stages; won and lost deals cannot be told apart without them"},
	{"deal_contact", "the deal-contact links; deals cannot be tied to contacts without them"},
}

// fivetranActivities maps the activity kinds to their Fivetran engagement tables.
var fivetranActivities = map[string]string{
	"calls": "engagement_call", "meetings": "engagement_meeting",
	"emails": "engagement_email", "tasks": "engagement_task",
}

// fivetran reads a folder of Fivetran HubSpot connector tables as CSV.
func (x *run) fivetran(ctx context.Context) error {
	if err := x.fivetranCheck(); err != nil {
		return err
	}
	r := x.rows()
	defer r.release()
	steps := []func(context.Context, *rows) error{
		x.ftProperties, x.ftStages, x.ftOwners, x.ftMerges, x.ftCompanies,
		x.ftContacts, x.ftDealRows, x.ftDealStages, x.ftDealContacts, x.ftActivities, x.ftClicks,
	}
	for _, step := range steps {
		if err := step(ctx, r); err != nil {
			return err
		}
	}
	return r.flush(ctx)
}

// fivetranCheck makes sure the required tables are there, and the tables others
// need to be usable.
func (x *run) fivetranCheck() error {
	if x.wh != nil {
		return x.wh.check(x.e.cfg.Spec)
	}
	dir, spec := x.e.cfg.Dir, x.e.cfg.Spec
	for _, t := range fivetranRequired {
		if fivetranFile(dir, t.table) == "" {
			return fmt.Errorf("%w: %s: folder %s holds Fivetran HubSpot tables but no %s.csv (or %s_data.csv): %s",
				extract.ErrConfig, spec, dir, t.table, t.table, t.why)
		}
	}
	for _, t := range fivetranActivities {
		if fivetranFile(dir, t) != "" && fivetranFile(dir, "engagement_contact") == "" {
			return fmt.Errorf("%w: %s: folder %s has %s.csv but no engagement_contact.csv: without it no activity can be tied to a person",
				extract.ErrConfig, spec, dir, t)
		}
	}
	if fivetranFile(dir, "email_event_click") != "" && fivetranFile(dir, "email_event") == "" {
		return fmt.Errorf("%w: %s: folder %s has email_event_click.csv but no email_event.csv, which holds each click's recipient and time",
			extract.ErrConfig, spec, dir)
	}
	return nil
}

// hasTable reports whether the folder or the warehouse source has Fivetran table t.
func (x *run) hasTable(t string) bool {
	if x.wh != nil {
		return x.wh.names[t] != ""
	}
	return fivetranFile(x.e.cfg.Dir, t) != ""
}

// tableRef names Fivetran table t in messages: its file name (its path when path is
// set), or SCHEMA.TABLE; "" when absent.
func (x *run) tableRef(t string, path bool) string {
	if x.wh != nil {
		return x.wh.ref(t)
	}
	f := fivetranFile(x.e.cfg.Dir, t)
	if path || f == "" {
		return f
	}
	return filepath.Base(f)
}

// openFT opens Fivetran table t of the folder, or of the warehouse source with the
// columns the decoders use (ftColumns); it returns os.ErrNotExist when absent.
func (x *run) openFT(ctx context.Context, t string) (*table, error) {
	if x.wh != nil {
		return x.wh.open(ctx, t, x.ftColumns(t))
	}
	return openTable(ctx, x.e.cfg.Dir, t)
}

// eachRow calls fn for every record of Fivetran table t; unusable CSV records are
// rejected here. An absent table is skipped when optional, else an error.
func (x *run) eachRow(ctx context.Context, r *rows, t string, optional bool, fn func(tb *table) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tb, err := x.openFT(ctx, t)
	if errors.Is(err, os.ErrNotExist) && optional {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", x.e.cfg.Spec, err)
	}
	defer tb.Close()
	var fnErr error // the decoders' own errors are returned as they are
	err = tb.each(ctx, func(reason string) error {
		if reason != "" {
			fnErr = r.reject(ctx, tb.place().reject("", ""), reason, tb.raw())
		} else {
			fnErr = fn(tb)
		}
		return fnErr
	})
	switch {
	case err == nil:
		return nil
	case fnErr != nil:
		return fnErr
	case ctx.Err() != nil:
		return ctx.Err()
	case tb.src != nil:
		return fmt.Errorf("%s: reading table %s: %w", x.e.cfg.Spec, tb.name, err)
	}
	return fmt.Errorf("%s: %w", x.e.cfg.Spec, err)
}

// ftProperties reads the declared property types (property.csv), when present.
func (x *run) ftProperties(ctx context.Context, r *rows) error {
	err := x.eachRow(ctx, r, "property", true, func(tb *table) error {
		var m *propTypes
		switch strings.ToLower(tb.get("hubspot_object")) {
		case "contact":
			m = &x.contactTypes
		case "deal":
			m = &x.dealTypes
		default:
			return nil
		}
		if *m == nil {
			*m = propTypes{}
		}
		(*m)[tb.get("name")] = strings.ToLower(tb.get("type"))
		return nil
	})
	if err != nil {
		return err
	}
	return x.checkCookie("property.csv")
}

// ftStages reads deal_pipeline_stage: closed and won from is_closed and closed_won
// (probability when closed_won is empty), and the labels; then the pipelines'
// labels from deal_pipeline, when present. A stage row that cannot be read is a
// configuration error, as a bad pipelines response is.
func (x *run) ftStages(ctx context.Context, r *rows) error {
	err := x.eachRow(ctx, r, "deal_pipeline_stage", false, func(tb *table) error {
		pid, sid := tb.get("pipeline_id"), tb.get("stage_id")
		loc := tb.place().reject("", "")
		if pid == "" || sid == "" {
			return fmt.Errorf("%w: %s: %s: a stage without stage_id or pipeline_id", extract.ErrConfig, x.e.cfg.Spec, loc)
		}
		st, err := stageOf(tb.get("is_closed"), tb.get("closed_won"), tb.get("probability"))
		if err != nil {
			return fmt.Errorf("%w: %s: %s: stage %q of pipeline %q: %v", extract.ErrConfig, x.e.cfg.Spec, loc, sid, pid, err)
		}
		st.label = tb.get("label")
		st.bad = badText("deal_pipeline_stage.label", st.label, "deal_pipeline_stage.stage_id", sid, "deal_pipeline_stage.pipeline_id", pid)
		x.stages.add(pid, sid, st)
		return nil
	})
	if err != nil {
		return err
	}
	err = x.eachRow(ctx, r, "deal_pipeline", true, func(tb *table) error {
		if id := tb.get("pipeline_id"); id != "" {
			x.stages.labelPipeline(id, tb.get("label"), badText("deal_pipeline.label", tb.get("label"), "deal_pipeline.pipeline_id", id))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if x.stages.byPipeline == nil {
		return fmt.Errorf("%w: %s: %s lists no deal stage, so won and lost deals cannot be told apart",
			extract.ErrConfig, x.e.cfg.Spec, x.tableRef("deal_pipeline_stage", true))
	}
	return nil
}

// ftOwners reads team, owner_team and owner, all optional.
func (x *run) ftOwners(ctx context.Context, r *rows) error {
	w := x.owners
	err := x.eachRow(ctx, r, "team", true, func(tb *table) error {
		if reason := badText("name", tb.get("name")); reason != "" {
			return r.reject(ctx, tb.place().reject("team", ""), reason+"; activities of this team's owners get no team", tb.raw())
		}
		w.teams[tb.get("id")] = tb.get("name")
		return nil
	})
	if err != nil {
		return err
	}
	err = x.eachRow(ctx, r, "owner_team", true, func(tb *table) error {
		owner, name := tb.get("owner_id"), w.teams[tb.get("team_id")]
		if tb.flag("is_team_primary") || w.team[owner] == "" {
			w.team[owner] = name
		}
		return nil
	})
	if err != nil {
		return err
	}
	return x.eachRow(ctx, r, "owner", true, func(tb *table) error {
		name := strings.TrimSpace(tb.get("first_name") + " " + tb.get("last_name"))
		if reason := badText("first_name and last_name", name); reason != "" {
			return r.reject(ctx, tb.place().reject("owner", ""), reason+"; activities of this owner without a team get no utm_source", tb.raw())
		}
		w.name[tb.get("owner_id")] = name
		return nil
	})
}

// ftMerges finds merged records before any row is written. Fivetran keeps a merged-
// away contact as a row of its own: it is skipped (the surviving contact lists it in
// linked_ids) and links to it are moved to the survivor. Merges come from the
// contacts' hs_merged_object_ids (or the older hs_calculated_merged_vids) and from
// contact_merge_audit; merged deals from merged_deal.
func (x *run) ftMerges(ctx context.Context, r *rows) error {
	audit := map[string]string{} // merged-away id -> survivor, from the audit
	err := x.eachRow(ctx, r, "contact_merge_audit", true, func(tb *table) error {
		survivor := tb.get("canonical_vid")
		if survivor == "" {
			survivor = tb.get("contact_id")
		}
		if m := tb.get("vid_to_merge"); m != "" && survivor != "" && m != survivor && badText("", m, "", survivor) == "" {
			audit[m] = survivor
		}
		return nil
	})
	if err != nil {
		return err
	}
	into := map[string]string{}
	survivors := map[string]bool{} // audit survivors that are live contacts
	wanted := map[string]bool{}
	for _, s := range audit {
		wanted[s] = true
	}
	tb, err := x.openFT(ctx, "contact")
	if err != nil {
		return fmt.Errorf("%s: %w", x.e.cfg.Spec, err)
	}
	cols := []string{"property_hs_merged_object_ids", "property_hs_calculated_merged_vids"}
	scan := tb.has(cols[0]) || tb.has(cols[1]) || len(wanted) > 0
	tb.Close()
	if scan {
		err = x.eachRow(ctx, r, "contact", false, func(tb *table) error {
			id := tb.get("id")
			if id == "" || tb.flag("_fivetran_deleted") || badText("", id) != "" {
				return nil // a contact the contact pass rejects survives no merge
			}
			if wanted[id] {
				survivors[id] = true
			}
			for _, col := range cols {
				for _, m := range strings.Split(tb.get(col), ";") {
					m, _, _ = strings.Cut(m, ":")
					if m = strings.TrimSpace(m); m != "" && m != id && badText("", m) == "" {
						into[m] = id
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for m, s := range audit {
		if _, ok := into[m]; !ok && survivors[s] {
			into[m] = s
		}
	}
	x.mergedInto, x.merges = map[string]string{}, map[string][]string{}
	for m := range into {
		s := m
		for i := 0; i < 16 && into[s] != ""; i++ { // follow chains; a cycle ends nowhere
			s = into[s]
		}
		if into[s] == "" && s != m {
			x.mergedInto[m] = s
			x.merges[s] = append(x.merges[s], m)
		}
	}
	for _, ms := range x.merges {
		slices.Sort(ms) // linked_ids the same on every run
	}
	return x.eachRow(ctx, r, "merged_deal", true, func(tb *table) error {
		if m := tb.get("merged_deal_id"); m != "" && m != tb.get("deal_id") {
			x.archived.deals[m] = true
		}
		return nil
	})
}

// propertyColumns maps the property_* columns of a table to property names.
func propertyColumns(tb *table) map[string]int {
	m := map[string]int{}
	for c, i := range tb.cols {
		if name, ok := strings.CutPrefix(c, "property_"); ok {
			m[name] = i
		}
	}
	return m
}

// ftObject maps the current record onto o: id from column idCol, property_*
// columns as properties (empty = null), deleted from _fivetran_deleted or
// is_deleted. props is propertyColumns(tb).
func ftObject(tb *table, props map[string]int, idCol string, o *object) {
	if o.Properties == nil {
		o.Properties = map[string]value{}
	}
	clear(o.Properties)
	for name, i := range props {
		if s := tb.rec[i]; s != "" {
			o.Properties[name] = value{s: s, valid: true}
		}
	}
	o.ID = value{s: tb.get(idCol), valid: true}
	o.CreatedAt, o.UpdatedAt = value{}, value{}
	o.Archived = tb.flag("_fivetran_deleted") || tb.flag("is_deleted")
}

// alias sets property name from column c when the property is empty (older
// Fivetran schemas and the base tables have unprefixed columns).
func alias(tb *table, o *object, name, c string) {
	if o.prop(name) == "" {
		if s := tb.get(c); s != "" {
			o.Properties[name] = value{s: s, valid: true}
		}
	}
}

// ftContacts reads contact.csv.
func (x *run) ftContacts(ctx context.Context, r *rows) error {
	var o object
	var props map[string]int
	return x.eachRow(ctx, r, "contact", false, func(tb *table) error {
		if props == nil {
			props = propertyColumns(tb)
		}
		ftObject(tb, props, "id", &o)
		if _, merged := x.mergedInto[o.ID.str()]; merged && !o.Archived {
			x.e.skipped.Add(1)
			return nil
		}
		id, err := x.contactObject(ctx, r, tb.place(), &o, tb.raw())
		if id != "" {
			x.archived.contacts[id] = true
		}
		return err
	})
}

// ftCompanies reads company, then contact_company and deal_company (each
// contact's and deal's primary company: type_id 1 and 5), all optional: without
// company there are no accounts. A link of a skipped deal or contact is never
// written, as they are not.
func (x *run) ftCompanies(ctx context.Context, r *rows) error {
	var o object
	var props map[string]int
	err := x.eachRow(ctx, r, "company", true, func(tb *table) error {
		if props == nil {
			props = propertyColumns(tb)
		}
		ftObject(tb, props, "id", &o)
		return x.companyObject(ctx, r, tb.place(), &o, tb.raw())
	})
	if err != nil {
		return err
	}
	if err := x.writeCompanies(ctx, r); err != nil {
		return err
	}
	for _, l := range []struct {
		table, from, kind string
		primary           int64
		of                map[string]string
	}{{"contact_company", "contact_id", "contact", contactPrimaryCompany, x.co.ofContact},
		{"deal_company", "deal_id", "deal", dealPrimaryCompany, x.co.ofDeal}} {
		err := x.eachRow(ctx, r, l.table, true, func(tb *table) error {
			from, company := tb.get(l.from), tb.get("company_id")
			if from == "" || company == "" {
				return r.reject(ctx, tb.place().reject("", ""), l.kind+"-company link without "+l.from+" or company_id", tb.raw())
			}
			if reason := badText(l.from, from, "company_id", company); reason != "" {
				return r.reject(ctx, tb.place().reject("", ""), reason, tb.raw())
			}
			if tb.flag("_fivetran_deleted") {
				return nil
			}
			if l.kind == "contact" {
				if s, ok := x.mergedInto[from]; ok { // the survivor's company, unless it has its own
					from = s
				}
			}
			cat := tb.get("category")
			primary := typeID(tb.get("type_id")) == l.primary && (cat == "" || strings.EqualFold(cat, "HUBSPOT_DEFINED"))
			x.co.link(l.of, l.kind+":"+from, from, company, primary)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ftDealRows reads deal.csv: the pipeline and stage are deal_pipeline_id and
// deal_pipeline_stage_id. The written deals are kept for their stage history.
func (x *run) ftDealRows(ctx context.Context, r *rows) error {
	var o object
	var props map[string]int
	x.ftDeals, x.rejectedDeals = map[string]*ftDeal{}, map[string]bool{}
	return x.eachRow(ctx, r, "deal", false, func(tb *table) error {
		if props == nil {
			props = propertyColumns(tb)
		}
		ftObject(tb, props, "deal_id", &o)
		alias(tb, &o, "pipeline", "deal_pipeline_id")
		alias(tb, &o, "dealstage", "deal_pipeline_stage_id")
		if id := o.ID.str(); x.archived.deals[id] && !o.Archived {
			x.e.skipped.Add(1) // merged into another deal
			return nil
		}
		p := tb.place()
		d, status, err := x.dealObject(ctx, r, p, &o, tb.raw())
		switch {
		case err != nil:
			return err
		case d.id == "": // rejected without an id: no history can name it
		case status == dealSkipped:
			x.archived.deals[d.id] = true
		case status == dealRejected:
			x.rejectedDeals[d.id] = true
		case x.ftDeals[d.id] == nil: // a repeated id has its first row's history
			fd := &ftDeal{d: d, loc: p.row("deal", d.id), rejLoc: p.reject("deal", d.id)}
			if d.created.IsZero() {
				fd.raw = append([]byte(nil), tb.raw()...)
			}
			x.ftDeals[d.id] = fd
			x.ftDealOrder = append(x.ftDealOrder, d.id)
		}
		return nil
	})
}

// ftDealContacts reads deal_contact.csv. Links of skipped deals and contacts are
// dropped, links to merged contacts moved to the survivor, and each pair written once.
func (x *run) ftDealContacts(ctx context.Context, r *rows) error {
	seen := map[[2]string]bool{}
	return x.eachRow(ctx, r, "deal_contact", false, func(tb *table) error {
		deal, contact := tb.get("deal_id"), tb.get("contact_id")
		if deal == "" || contact == "" {
			return r.reject(ctx, tb.place().reject("", ""), "deal-contact link without deal_id or contact_id", tb.raw())
		}
		if reason := badText("deal_id", deal, "contact_id", contact); reason != "" {
			return r.reject(ctx, tb.place().reject("", ""), reason, tb.raw())
		}
		if tb.flag("_fivetran_deleted") || x.archived.deals[deal] {
			return nil
		}
		if contact = x.contactOf(contact); contact == "" || seen[[2]string{deal, contact}] {
			return nil
		}
		seen[[2]string{deal, contact}] = true
		return r.dealContact(ctx, deal, contact)
	})
}

// ftActivities reads engagement_contact, then the engagement_call, _meeting,
// _email and _task tables present. The base engagement table fills in the owner and
// time that older schemas keep there.
func (x *run) ftActivities(ctx context.Context, r *rows) error {
	found := false
	for _, t := range fivetranActivities {
		found = found || x.hasTable(t)
	}
	if !found {
		return nil
	}
	on := map[string][]string{}
	err := x.eachRow(ctx, r, "engagement_contact", false, func(tb *table) error {
		id, contact := tb.get("engagement_id"), tb.get("contact_id")
		if id == "" || contact == "" {
			return r.reject(ctx, tb.place().reject("", ""), "engagement-contact link without engagement_id or contact_id", tb.raw())
		}
		if reason := badText("engagement_id", id, "contact_id", contact); reason != "" {
			return r.reject(ctx, tb.place().reject("", ""), reason, tb.raw())
		}
		if tb.flag("_fivetran_deleted") {
			return nil
		}
		if contact = x.contactOf(contact); contact != "" {
			on[id] = append(on[id], contact)
		}
		return nil
	})
	if err != nil {
		return err
	}
	type base struct{ owner, timestamp string }
	bases := map[string]base{}
	err = x.eachRow(ctx, r, "engagement", true, func(tb *table) error {
		if tb.has("owner_id") || tb.has("timestamp") {
			bases[tb.get("id")] = base{tb.get("owner_id"), tb.get("timestamp")}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range activityKinds {
		var o object
		var props map[string]int
		err := x.eachRow(ctx, r, fivetranActivities[k.object], true, func(tb *table) error {
			if props == nil {
				props = propertyColumns(tb)
			}
			ftObject(tb, props, "engagement_id", &o)
			alias(tb, &o, "hs_meeting_start_time", "start_time")
			alias(tb, &o, "hs_meeting_outcome", "meeting_outcome")
			if k.object == "emails" {
				alias(tb, &o, "hs_email_direction", "type")
			}
			if b, ok := bases[o.ID.str()]; ok {
				if o.prop("hubspot_owner_id") == "" && b.owner != "" {
					o.Properties["hubspot_owner_id"] = value{s: b.owner, valid: true}
				}
				if o.prop("hs_timestamp") == "" && b.timestamp != "" {
					o.Properties["hs_timestamp"] = value{s: b.timestamp, valid: true}
				}
			}
			return x.activityObject(ctx, r, tb.place(), k, &o, tb.raw(), on[o.ID.str()])
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// ftClicks reads email_event (CLICK rows are touches) with the clicked URL from
// email_event_click and the campaign name from email_campaign.
func (x *run) ftClicks(ctx context.Context, r *rows) error {
	if !x.hasTable("email_event") {
		return nil
	}
	urls, names := map[string]string{}, map[string]string{}
	err := x.eachRow(ctx, r, "email_event_click", true, func(tb *table) error {
		urls[tb.get("id")] = tb.get("url")
		return nil
	})
	if err != nil {
		return err
	}
	err = x.eachRow(ctx, r, "email_campaign", true, func(tb *table) error {
		c := campaignDoc{Name: value{s: tb.get("name")}, Subject: value{s: tb.get("subject")}}
		names[tb.get("id")] = c.label()
		return nil
	})
	if err != nil {
		return err
	}
	var ev emailEvent
	return x.eachRow(ctx, r, "email_event", false, func(tb *table) error {
		if tb.flag("_fivetran_deleted") {
			x.e.skipped.Add(1)
			return nil
		}
		id := tb.get("id")
		ev = emailEvent{
			ID: value{s: id}, Created: value{s: tb.get("created")}, Type: value{s: tb.get("type")},
			Recipient: value{s: tb.get("recipient")}, EmailCampaignID: value{s: tb.get("email_campaign_id")},
			URL: value{s: urls[id]}, FilteredEvent: tb.flag("filtered_event"),
		}
		return x.clickEvent(ctx, r, tb.place(), &ev, tb.raw(), names[ev.EmailCampaignID.str()])
	})
}
