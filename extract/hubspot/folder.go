package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"closedloop/extract"
)

// The files of a v3 export folder: what the API returns, saved as files.
const (
	ContactsFile     = "contacts.ndjson"      // one CRM v3 contact object per line
	DealsFile        = "deals.ndjson"         // one CRM v3 deal object per line, with its dealstage propertiesWithHistory
	PipelinesFile    = "pipelines.json"       // the GET /crm/v3/pipelines/deals response
	DealContactsFile = "deal_contacts.ndjson" // one v4 deal-to-contact association result per line

	ContactPropertiesFile = "contact_properties.json" // optional: GET /crm/v3/properties/contacts
	DealPropertiesFile    = "deal_properties.json"    // optional: GET /crm/v3/properties/deals
	OwnersFile            = "owners.ndjson"           // optional: one GET /crm/v3/owners result per line
	EmailEventsFile       = "email_events.ndjson"     // optional: one GET /email/public/v1/events event per line
	EmailCampaignsFile    = "email_campaigns.ndjson"  // optional: one GET /email/public/v1/campaigns/{id} response per line
	CompaniesFile         = "companies.ndjson"        // optional: one CRM v3 company object per line (the accounts)
	DealCompaniesFile     = "deal_companies.ndjson"   // optional: one v4 deal-to-company association result per line
)

// files returns the optional export files of an engagement type: its objects and
// their contact associations, which go together ("calls.ndjson", "call_contacts.ndjson").
func (k *activityKind) files() (objects, contacts string) {
	return k.object + ".ndjson", k.singular + "_contacts.ndjson"
}

// why tells, per required file, what it is and why it cannot be left out.
var why = map[string]string{
	ContactsFile:     "one CRM v3 contact object per line",
	DealsFile:        "one CRM v3 deal object per line",
	PipelinesFile:    "the GET /crm/v3/pipelines/deals response; won and lost deals cannot be told apart without it",
	DealContactsFile: "one v4 deal-to-contact association result per line; deals cannot be tied to contacts without it",
}

// layout is the kind of export folder.
type layout int

const (
	layoutV3 layout = iota + 1
	layoutFivetran
)

// files reads an export folder of either layout.
func (x *run) files(ctx context.Context) error {
	lay, err := x.openFolder()
	if err != nil {
		return err
	}
	extract.PlanDir(ctx, x.e.cfg.Dir)
	x.archived = archivedIDs{contacts: map[string]bool{}, deals: map[string]bool{}}
	x.co = newCompanies(true)
	if lay == layoutFivetran {
		return x.fivetran(ctx)
	}
	return x.folder(ctx)
}

// openFolder makes sure the export folder is a folder and tells its layout.
func (x *run) openFolder() (layout, error) {
	e := x.e
	dir := e.cfg.Dir
	fi, err := os.Stat(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, fmt.Errorf("%w: %s: export folder %s does not exist: check the path after hubspot: (relative to the working directory), or export the portal into it",
				extract.ErrConfig, e.cfg.Spec, dir)
		}
		return 0, fmt.Errorf("%s: %w", e.cfg.Spec, err)
	}
	if !fi.IsDir() {
		return 0, fmt.Errorf("%w: %s: %s is not a folder (want a folder holding %s, %s, %s and %s, or Fivetran's HubSpot tables as CSV)",
			extract.ErrConfig, e.cfg.Spec, dir, ContactsFile, DealsFile, PipelinesFile, DealContactsFile)
	}
	return x.detect()
}

// detect tells the layout by the files present.
func (x *run) detect() (layout, error) {
	dir, spec := x.e.cfg.Dir, x.e.cfg.Spec
	v3, ft := false, false
	for _, n := range []string{ContactsFile, DealsFile, PipelinesFile, DealContactsFile} {
		v3 = v3 || exists(filepath.Join(dir, n))
	}
	for _, t := range []string{"contact", "deal", "deal_pipeline_stage", "deal_contact"} {
		ft = ft || fivetranFile(dir, t) != ""
	}
	switch {
	case v3 && ft:
		return 0, fmt.Errorf("%w: %s: folder %s holds both a v3 export (%s ...) and Fivetran tables (contact.csv ...): keep one layout per folder",
			extract.ErrConfig, spec, dir, ContactsFile)
	case ft:
		return layoutFivetran, nil
	case v3:
		return layoutV3, nil
	}
	return 0, fmt.Errorf("%w: %s: folder %s has no %s (%s), nor Fivetran's contact.csv: want a v3 export folder (%s, %s, %s, %s) or Fivetran's HubSpot tables as CSV",
		extract.ErrConfig, spec, dir, ContactsFile, why[ContactsFile], ContactsFile, DealsFile, PipelinesFile, DealContactsFile)
}

// exists reports whether path is a file.
func exists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// folder reads a v3 export folder: definitions first (property types, pipelines,
// owners), then contacts, deals, associations, activities and e-mail clicks.
func (x *run) folder(ctx context.Context) error {
	if err := x.checkFolder(); err != nil {
		return err
	}
	r := x.rows()
	defer r.release()
	if err := x.folderDefinitions(ctx, r); err != nil {
		return err
	}
	if err := x.folderCompanies(ctx, r); err != nil {
		return err
	}
	o := reusable()
	err := x.eachLine(ctx, r, ContactsFile, func(p place, line []byte) error {
		if reason := decodeObject(line, &o); reason != "" {
			return r.reject(ctx, p.reject("contact", ""), reason, line)
		}
		id, err := x.contactObject(ctx, r, p, &o, line)
		if id != "" {
			x.archived.contacts[id] = true
		}
		return err
	})
	if err != nil {
		return err
	}
	err = x.eachLine(ctx, r, DealsFile, func(p place, line []byte) error {
		if reason := decodeObject(line, &o); reason != "" {
			return r.reject(ctx, p.reject("deal", ""), reason, line)
		}
		d, status, err := x.dealObject(ctx, r, p, &o, line)
		switch {
		case err != nil:
			return err
		case status == dealSkipped && d.id != "":
			x.archived.deals[d.id] = true
		case status == dealWritten:
			return x.objectStages(ctx, r, p, &d, o.History["dealstage"], line)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = x.eachAssociation(ctx, r, DealContactsFile, "deal", func(deal string, contacts []string) error {
		if x.archived.deals[deal] {
			return nil
		}
		for _, c := range contacts {
			if c = x.contactOf(c); c != "" {
				if err := r.dealContact(ctx, deal, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range activityKinds {
		if err := x.folderActivities(ctx, r, k); err != nil {
			return err
		}
	}
	if err := x.folderClicks(ctx, r); err != nil {
		return err
	}
	return r.flush(ctx)
}

// folderCompanies reads the companies and the deals' companies, before the contacts
// and deals that name them. Both files are optional: without companies.ndjson there
// are no accounts, and no contact or deal has an account_id.
func (x *run) folderCompanies(ctx context.Context, r *rows) error {
	if exists(filepath.Join(x.e.cfg.Dir, CompaniesFile)) {
		o := reusable()
		err := x.eachLine(ctx, r, CompaniesFile, func(p place, line []byte) error {
			if reason := decodeObject(line, &o); reason != "" {
				return r.reject(ctx, p.reject("company", ""), reason, line)
			}
			return x.companyObject(ctx, r, p, &o, line)
		})
		if err != nil {
			return err
		}
		if err := x.writeCompanies(ctx, r); err != nil {
			return err
		}
	}
	if !exists(filepath.Join(x.e.cfg.Dir, DealCompaniesFile)) {
		return nil
	}
	return x.eachAssociationLine(ctx, r, DealCompaniesFile, "deal", func(p place, deal string, a *association, line []byte) error {
		company, primary, reason := a.primary(dealPrimaryCompany, "company")
		if reason != "" {
			return r.reject(ctx, p.reject("deal", deal), reason, line)
		}
		if company != "" {
			x.co.link(x.co.ofDeal, "deal:"+deal, deal, company, primary)
		}
		return nil
	})
}

// checkFolder makes sure the folder holds the four required files, and the
// association file of every activity file.
func (x *run) checkFolder() error {
	dir, spec := x.e.cfg.Dir, x.e.cfg.Spec
	for _, name := range []string{ContactsFile, DealsFile, PipelinesFile, DealContactsFile} {
		fi, err := os.Stat(filepath.Join(dir, name))
		switch {
		case errors.Is(err, os.ErrNotExist):
			return fmt.Errorf("%w: %s: folder %s has no %s (%s)", extract.ErrConfig, spec, dir, name, why[name])
		case err != nil:
			return fmt.Errorf("%s: %w", spec, err)
		case fi.IsDir():
			return fmt.Errorf("%w: %s: %s is a folder, want a file", extract.ErrConfig, spec, filepath.Join(dir, name))
		}
	}
	for _, k := range activityKinds {
		objects, contacts := k.files()
		if exists(filepath.Join(dir, objects)) && !exists(filepath.Join(dir, contacts)) {
			return fmt.Errorf("%w: %s: folder %s has %s but no %s (one v4 %s-to-contact association result per line): without it no %s can be tied to a person",
				extract.ErrConfig, spec, dir, objects, contacts, k.singular, k.singular)
		}
	}
	return nil
}

// folderDefinitions reads the small whole-file definitions: property types,
// pipelines, owners.
func (x *run) folderDefinitions(ctx context.Context, r *rows) error {
	dir, spec := x.e.cfg.Dir, x.e.cfg.Spec
	for _, f := range []struct {
		name  string
		types *propTypes
	}{{ContactPropertiesFile, &x.contactTypes}, {DealPropertiesFile, &x.dealTypes}} {
		b, err := os.ReadFile(filepath.Join(dir, f.name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("%s: %w", spec, err)
		}
		var doc propertiesDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%w: %s: %s is not a properties response: %v", extract.ErrConfig, spec, filepath.Join(dir, f.name), err)
		}
		*f.types = doc.types()
	}
	if err := x.checkCookie(ContactPropertiesFile); err != nil {
		return err
	}

	path := filepath.Join(dir, PipelinesFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("%s: %w", spec, err)
	}
	var doc pipelinesDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%w: %s: %s is not a pipelines response: %v", extract.ErrConfig, spec, path, err)
	}
	if x.stages, err = doc.index(spec, path); err != nil {
		return err
	}
	return x.folderOwners(ctx, r)
}

// folderOwners reads owners.ndjson when present.
func (x *run) folderOwners(ctx context.Context, r *rows) error {
	if !exists(filepath.Join(x.e.cfg.Dir, OwnersFile)) {
		return nil
	}
	return x.eachLine(ctx, r, OwnersFile, func(p place, line []byte) error {
		var d ownerDoc
		if err := json.Unmarshal(line, &d); err != nil {
			return r.reject(ctx, p.reject("owner", ""), "invalid JSON: "+err.Error()+"; activities of this owner get no team", line)
		}
		if reason := x.owners.add(&d); reason != "" {
			return r.reject(ctx, p.reject("owner", ""), reason+"; activities of this owner get no team", line)
		}
		return nil
	})
}

// checkCookie checks the cookie property against the declared contact properties,
// when known (from names where they come from). A property that does not exist
// writes no cookie id, with a warning; one that cannot hold an id is a
// configuration error.
func (x *run) checkCookie(from string) error {
	if x.cookieProperty == "" || x.contactTypes == nil {
		return nil
	}
	typ, ok := x.contactTypes[x.cookieProperty]
	switch {
	case !ok:
		x.e.cfg.Log.Warn("hubspot: the cookie property is not a contact property of this account: no cookie ids are read, so contacts are not tied to their web history; set "+CookiePropertyVariable+" to the property that holds the GA client id",
			"source", x.e.cfg.Spec, "property", x.cookieProperty, "checked_in", from)
		x.cookieProperty = ""
	case typ == "datetime" || typ == "date" || typ == "bool":
		return fmt.Errorf("%w: %s: contact property %q (%s) is declared %s, so it cannot hold a cookie id: set %s to the property that holds the GA client id",
			extract.ErrConfig, x.e.cfg.Spec, x.cookieProperty, CookiePropertyVariable, typ, CookiePropertyVariable)
	case typ == "number":
		x.e.cfg.Log.Warn("hubspot: the cookie property is declared number: HubSpot drops trailing zeros of numbers, so some cookie ids may not match the analytics ids; a text property is safer",
			"source", x.e.cfg.Spec, "property", x.cookieProperty)
	}
	return nil
}

// folderActivities reads one engagement type: its associations first (which
// contacts each activity is on), then its objects. Both files are optional.
func (x *run) folderActivities(ctx context.Context, r *rows, k *activityKind) error {
	objects, contactsFile := k.files()
	if !exists(filepath.Join(x.e.cfg.Dir, objects)) {
		return nil
	}
	on := map[string][]string{}
	err := x.eachAssociation(ctx, r, contactsFile, k.singular, func(id string, contacts []string) error {
		for _, c := range contacts {
			if c = x.contactOf(c); c != "" {
				on[id] = append(on[id], c)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	o := reusable()
	return x.eachLine(ctx, r, objects, func(p place, line []byte) error {
		if reason := decodeObject(line, &o); reason != "" {
			return r.reject(ctx, p.reject(k.singular, ""), reason, line)
		}
		return x.activityObject(ctx, r, p, k, &o, line, on[o.ID.str()])
	})
}

// folderClicks reads the e-mail events (CLICK ones are touches) with their
// campaigns' names. Both files are optional.
func (x *run) folderClicks(ctx context.Context, r *rows) error {
	if !exists(filepath.Join(x.e.cfg.Dir, EmailEventsFile)) {
		return nil
	}
	names := map[string]string{}
	if exists(filepath.Join(x.e.cfg.Dir, EmailCampaignsFile)) {
		err := x.eachLine(ctx, r, EmailCampaignsFile, func(p place, line []byte) error {
			var c campaignDoc
			if err := json.Unmarshal(line, &c); err != nil {
				return r.reject(ctx, p.reject("email campaign", ""), "invalid JSON: "+err.Error(), line)
			}
			names[c.ID.str()] = c.label()
			return nil
		})
		if err != nil {
			return err
		}
	} else {
		x.e.cfg.Log.Warn("hubspot: no "+EmailCampaignsFile+": e-mail clicks get no utm_campaign", "source", x.e.cfg.Spec)
	}
	return x.eachLine(ctx, r, EmailEventsFile, func(p place, line []byte) error {
		var ev emailEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return r.reject(ctx, p.reject("email event", ""), "invalid JSON: "+err.Error(), line)
		}
		return x.clickEvent(ctx, r, p, &ev, line, names[ev.EmailCampaignID.str()])
	})
}

// association is one result of POST /crm/v4/associations/{from}/contacts/batch/read.
// The v3 shape (to[].id instead of to[].toObjectId) is read too.
type association struct {
	From struct {
		ID value `json:"id"`
	} `json:"from"`
	To []struct {
		ToObjectID value `json:"toObjectId"`
		ID         value `json:"id"`
		// AssociationTypes are the v4 labels of the link: HubSpot-defined typeId 5 on
		// a deal-to-company link marks the deal's primary company.
		AssociationTypes []struct {
			Category value `json:"category"`
			TypeID   value `json:"typeId"`
		} `json:"associationTypes"`
	} `json:"to"`
}

// primary returns the target of a link of HubSpot-defined type typeID (a primary
// company), else the first target; "" when there is none. what names the target in
// the reason a target is unusable.
func (a *association) primary(want int64, what string) (id string, isPrimary bool, reason string) {
	for _, to := range a.To {
		t := to.ToObjectID.str()
		if t == "" {
			t = to.ID.str()
		}
		if t == "" {
			return "", false, "association target has no toObjectId (the " + what + " id)"
		}
		if reason := extract.BadText("association target (the "+what+" id)", t); reason != "" {
			return "", false, reason
		}
		for _, at := range to.AssociationTypes {
			cat := at.Category.str()
			if typeID(at.TypeID.str()) == want && (cat == "" || strings.EqualFold(cat, "HUBSPOT_DEFINED")) {
				return t, true, ""
			}
		}
		if id == "" {
			id = t
		}
	}
	return id, false, ""
}

// targets returns the contact ids of an association result, or the reason one is
// unusable.
func (a *association) targets() ([]string, string) {
	out := make([]string, 0, len(a.To))
	for _, to := range a.To {
		id := to.ToObjectID.str()
		if id == "" {
			id = to.ID.str()
		}
		if id == "" {
			return nil, "association target has no toObjectId (the contact id)"
		}
		if reason := extract.BadText("association target (the contact id)", id); reason != "" {
			return nil, reason
		}
		out = append(out, id)
	}
	return out, ""
}

// eachAssociation calls fn with the contacts of every association line of file name,
// whose objects are of kind (deal, call, ...). A bad line is rejected whole.
func (x *run) eachAssociation(ctx context.Context, r *rows, name, kind string, fn func(id string, contacts []string) error) error {
	return x.eachAssociationLine(ctx, r, name, kind, func(p place, id string, a *association, line []byte) error {
		contacts, reason := a.targets()
		if reason != "" {
			return r.reject(ctx, p.reject(kind, id), reason, line)
		}
		return fn(id, contacts)
	})
}

// eachAssociationLine calls fn with every association line of file name, whose
// objects are of kind, once its from.id is checked. A bad line is rejected whole.
func (x *run) eachAssociationLine(ctx context.Context, r *rows, name, kind string, fn func(p place, id string, a *association, line []byte) error) error {
	return x.eachLine(ctx, r, name, func(p place, line []byte) error {
		var a association
		if err := json.Unmarshal(line, &a); err != nil {
			return r.reject(ctx, p.reject("", ""), "invalid JSON: "+err.Error(), line)
		}
		id := a.From.ID.str()
		if id == "" {
			return r.reject(ctx, p.reject("", ""), fmt.Sprintf("association has no from.id (the %s id)", kind), line)
		}
		if reason := extract.BadText("from.id", id); reason != "" {
			return r.reject(ctx, p.reject("", ""), reason, line)
		}
		return fn(p, id, &a, line)
	})
}

// eachLine calls fn for every non-blank line of file name. Overlong lines are
// rejected here.
func (x *run) eachLine(ctx context.Context, r *rows, name string, fn func(p place, line []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l, err := openLines(ctx, x.e.cfg.Dir, name)
	if err != nil {
		return fmt.Errorf("%s: %w", x.e.cfg.Spec, err)
	}
	defer l.Close()
	for {
		line, long, err := l.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", x.e.cfg.Spec, err)
		}
		if l.N%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if long {
			reason := fmt.Sprintf("line longer than %d MiB: not a HubSpot object; check the export", MaxLineBytes>>20)
			if err := r.reject(ctx, l.place().reject("", ""), reason, line); err != nil {
				return err
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(l.place(), line); err != nil {
			return err
		}
	}
}

// checkEvery is how many lines go by between two looks at the context.
const checkEvery = 1024
