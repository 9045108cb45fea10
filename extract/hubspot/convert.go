package hubspot

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"closedloop/extract"
)

// WriteFivetran converts the v3 export folder srcDir into the Fivetran layout: it
// writes to outDir (created if needed) the CSV tables of Fivetran's HubSpot
// connector that the Fivetran decoder reads, so that an Extractor reading outDir,
// or those tables loaded into a warehouse, writes the rows the v3 folder gives
// (locations aside):
//
//	contact.csv, deal.csv         id (deal_id), _fivetran_deleted (is_deleted) and a
//	                              property_<name> column per property of any object;
//	                              createdate and lastmodifieddate default to the
//	                              object's createdAt and updatedAt, as the v3 decoder
//	                              falls back to them
//	deal_stage.csv                the deals' dealstage history (deal_id, value,
//	                              date_entered), oldest first; always written, so that
//	                              deals without history get their current stage
//	deal_pipeline.csv, deal_pipeline_stage.csv   from pipelines.json
//	deal_contact.csv              from deal_contacts.ndjson
//	company.csv                   from companies.ndjson (id, _fivetran_deleted,
//	                              property_<name>); contacts keep their primary
//	                              company in property_associatedcompanyid
//	deal_company.csv              from deal_companies.ndjson: a row per link and
//	                              association type (deal_id, company_id, type_id,
//	                              category), as Fivetran syncs v4 associations
//	property.csv                  from contact_properties.json and deal_properties.json
//	owner.csv, team.csv, owner_team.csv          from owners.ndjson
//	engagement_call.csv ... engagement_task.csv, engagement_contact.csv
//	email_event.csv, email_event_click.csv, email_campaign.csv
//
// The optional files are converted when present. A line that is not a HubSpot
// object is an error naming it: the conversion is for clean exports (the demo's
// sample), where rejections would differ between the layouts only in their
// locations. It is used to load the sample's CRM into a warehouse.
func WriteFivetran(ctx context.Context, srcDir, outDir string) error {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return fmt.Errorf("hubspot: %w", err)
	}
	c := &converter{src: srcDir, out: outDir}
	steps := []func(context.Context) error{c.properties, c.pipelines, c.contacts, c.deals, c.dealContacts, c.companies, c.dealCompanies, c.owners, c.activities, c.emailEvents}
	for _, step := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := step(ctx); err != nil {
			return fmt.Errorf("hubspot: converting %s to Fivetran tables: %w", srcDir, err)
		}
	}
	return nil
}

// converter writes the Fivetran tables of one v3 export folder.
type converter struct {
	src, out string
}

// has reports whether the export folder has file name.
func (c *converter) has(name string) bool { return exists(filepath.Join(c.src, name)) }

// write writes table t (t.csv) with header head and rows.
func (c *converter) write(t string, head []string, rows [][]string) error {
	f, err := os.Create(filepath.Join(c.out, t+".csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write(head)
	_ = w.WriteAll(rows) // WriteAll flushes; its error is the file's, checked here
	return errors.Join(w.Error(), f.Close())
}

// lines calls fn with every non-blank line of file name.
func (c *converter) lines(ctx context.Context, name string, fn func(n int, line []byte) error) error {
	f, err := extract.Open(ctx, filepath.Join(c.src, name))
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f.Reader)
	sc.Buffer(make([]byte, 64<<10), MaxLineBytes)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		if err := fn(n, sc.Bytes()); err != nil {
			return fmt.Errorf("%s:%d: %w", name, n, err)
		}
	}
	return sc.Err()
}

// objects decodes the CRM objects of file name.
func (c *converter) objects(ctx context.Context, name string) ([]object, error) {
	var out []object
	err := c.lines(ctx, name, func(_ int, line []byte) error {
		o := reusable()
		if reason := decodeObject(line, &o); reason != "" {
			return errors.New(reason)
		}
		out = append(out, o)
		return nil
	})
	return out, err
}

// objectTable writes objs as table t: idCol, deleted (the archived flag), then a
// property_<name> column per property any object has, in name order. Empty
// properties named in defaults take the top-level field given.
func (c *converter) objectTable(t, idCol, deleted string, objs []object, defaults map[string]func(*object) value) error {
	var names []string
	for _, o := range objs {
		for n := range o.Properties {
			names = append(names, n)
		}
	}
	for n := range defaults {
		names = append(names, n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	head := []string{idCol, deleted}
	for _, n := range names {
		head = append(head, "property_"+n)
	}
	rows := make([][]string, 0, len(objs))
	for i := range objs {
		o := &objs[i]
		row := []string{o.ID.s, strconv.FormatBool(o.Archived)}
		for _, n := range names {
			v := o.Properties[n]
			if d := defaults[n]; d != nil && v.str() == "" {
				v = d(o)
			}
			row = append(row, v.s)
		}
		rows = append(rows, row)
	}
	return c.write(t, head, rows)
}

func (c *converter) properties(context.Context) error {
	var rows [][]string
	for _, f := range []struct{ file, object string }{{ContactPropertiesFile, "contact"}, {DealPropertiesFile, "deal"}} {
		b, err := os.ReadFile(filepath.Join(c.src, f.file))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		var doc propertiesDoc
		if err := json.Unmarshal(b, &doc); err != nil {
			return fmt.Errorf("%s: %w", f.file, err)
		}
		for _, p := range doc.Results {
			rows = append(rows, []string{f.object, p.Name.s, p.Type.s})
		}
	}
	if rows == nil {
		return nil
	}
	return c.write("property", []string{"hubspot_object", "name", "type"}, rows)
}

func (c *converter) pipelines(context.Context) error {
	b, err := os.ReadFile(filepath.Join(c.src, PipelinesFile))
	if err != nil {
		return err
	}
	var doc pipelinesDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%s: %w", PipelinesFile, err)
	}
	var pipelines, stages [][]string
	for _, p := range doc.Results {
		pipelines = append(pipelines, []string{p.ID.s, p.Label.s})
		for _, s := range p.Stages {
			// closed_won stays empty: won is then told by the probability, as for v3.
			stages = append(stages, []string{p.ID.s, s.ID.s, s.Label.s, s.Metadata["isClosed"].s, "", s.Metadata["probability"].s})
		}
	}
	if err := c.write("deal_pipeline", []string{"pipeline_id", "label"}, pipelines); err != nil {
		return err
	}
	return c.write("deal_pipeline_stage", []string{"pipeline_id", "stage_id", "label", "is_closed", "closed_won", "probability"}, stages)
}

// createdAt and updatedAt are the top-level fields the v3 decoder falls back to.
func createdAt(o *object) value { return o.CreatedAt }
func updatedAt(o *object) value { return o.UpdatedAt }

func (c *converter) contacts(ctx context.Context) error {
	objs, err := c.objects(ctx, ContactsFile)
	if err != nil {
		return err
	}
	return c.objectTable("contact", "id", "_fivetran_deleted", objs,
		map[string]func(*object) value{"createdate": createdAt, "lastmodifieddate": updatedAt})
}

func (c *converter) deals(ctx context.Context) error {
	objs, err := c.objects(ctx, DealsFile)
	if err != nil {
		return err
	}
	var hist [][]string
	for _, o := range objs {
		h := o.History["dealstage"]
		for i := len(h) - 1; i >= 0; i-- { // oldest first: equal times keep HubSpot's order
			hist = append(hist, []string{o.ID.s, h[i].Value.s, h[i].Timestamp.s})
		}
	}
	if err := c.write("deal_stage", []string{"deal_id", "value", "date_entered"}, hist); err != nil {
		return err
	}
	return c.objectTable("deal", "deal_id", "is_deleted", objs, map[string]func(*object) value{"createdate": createdAt})
}

// associations converts an association file into rows of from id, contact id.
func (c *converter) associations(ctx context.Context, name string) ([][]string, error) {
	var rows [][]string
	err := c.lines(ctx, name, func(_ int, line []byte) error {
		var a association
		if err := json.Unmarshal(line, &a); err != nil {
			return err
		}
		contacts, reason := a.targets()
		if reason != "" {
			return errors.New(reason)
		}
		for _, ct := range contacts {
			rows = append(rows, []string{a.From.ID.s, ct})
		}
		return nil
	})
	return rows, err
}

func (c *converter) dealContacts(ctx context.Context) error {
	rows, err := c.associations(ctx, DealContactsFile)
	if err != nil {
		return err
	}
	return c.write("deal_contact", []string{"deal_id", "contact_id"}, rows)
}

func (c *converter) companies(ctx context.Context) error {
	if !c.has(CompaniesFile) {
		return nil
	}
	objs, err := c.objects(ctx, CompaniesFile)
	if err != nil {
		return err
	}
	return c.objectTable("company", "id", "_fivetran_deleted", objs, nil)
}

func (c *converter) dealCompanies(ctx context.Context) error {
	if !c.has(DealCompaniesFile) {
		return nil
	}
	var rows [][]string
	err := c.lines(ctx, DealCompaniesFile, func(_ int, line []byte) error {
		var a association
		if err := json.Unmarshal(line, &a); err != nil {
			return err
		}
		for _, to := range a.To {
			id := to.ToObjectID.s
			if id == "" {
				id = to.ID.s
			}
			if id == "" {
				return errors.New("association target has no toObjectId (the company id)")
			}
			if len(to.AssociationTypes) == 0 {
				rows = append(rows, []string{a.From.ID.s, id, "", ""})
			}
			for _, at := range to.AssociationTypes {
				rows = append(rows, []string{a.From.ID.s, id, at.TypeID.s, at.Category.s})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.write("deal_company", []string{"deal_id", "company_id", "type_id", "category"}, rows)
}

func (c *converter) owners(ctx context.Context) error {
	if !c.has(OwnersFile) {
		return nil
	}
	var owners, teams, ownerTeams [][]string
	seen := map[string]bool{}
	err := c.lines(ctx, OwnersFile, func(_ int, line []byte) error {
		var d ownerDoc
		if err := json.Unmarshal(line, &d); err != nil {
			return err
		}
		owners = append(owners, []string{d.ID.s, d.FirstName.s, d.LastName.s})
		for _, t := range d.Teams {
			if !seen[t.ID.s] {
				seen[t.ID.s] = true
				teams = append(teams, []string{t.ID.s, t.Name.s})
			}
			ownerTeams = append(ownerTeams, []string{d.ID.s, t.ID.s, strconv.FormatBool(t.Primary)})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(c.write("owner", []string{"owner_id", "first_name", "last_name"}, owners),
		c.write("team", []string{"id", "name"}, teams),
		c.write("owner_team", []string{"owner_id", "team_id", "is_team_primary"}, ownerTeams))
}

func (c *converter) activities(ctx context.Context) error {
	var links [][]string
	found := false
	for _, k := range activityKinds {
		objects, contacts := k.files()
		if !c.has(objects) {
			continue
		}
		found = true
		objs, err := c.objects(ctx, objects)
		if err != nil {
			return err
		}
		err = c.objectTable(fivetranActivities[k.object], "engagement_id", "_fivetran_deleted", objs,
			map[string]func(*object) value{"hs_createdate": createdAt})
		if err != nil {
			return err
		}
		if c.has(contacts) {
			rows, err := c.associations(ctx, contacts)
			if err != nil {
				return err
			}
			links = append(links, rows...)
		}
	}
	if !found {
		return nil
	}
	return c.write("engagement_contact", []string{"engagement_id", "contact_id"}, links)
}

func (c *converter) emailEvents(ctx context.Context) error {
	if !c.has(EmailEventsFile) {
		return nil
	}
	var events, clicks [][]string
	err := c.lines(ctx, EmailEventsFile, func(_ int, line []byte) error {
		var ev emailEvent
		if err := json.Unmarshal(line, &ev); err != nil {
			return err
		}
		events = append(events, []string{ev.ID.s, ev.Created.s, ev.Type.s, ev.Recipient.s, ev.EmailCampaignID.s, strconv.FormatBool(ev.FilteredEvent)})
		if ev.URL.s != "" {
			clicks = append(clicks, []string{ev.ID.s, ev.URL.s})
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = errors.Join(c.write("email_event", []string{"id", "created", "type", "recipient", "email_campaign_id", "filtered_event"}, events),
		c.write("email_event_click", []string{"id", "url"}, clicks))
	if err != nil || !c.has(EmailCampaignsFile) {
		return err
	}
	var campaigns [][]string
	err = c.lines(ctx, EmailCampaignsFile, func(_ int, line []byte) error {
		var d campaignDoc
		if err := json.Unmarshal(line, &d); err != nil {
			return err
		}
		campaigns = append(campaigns, []string{d.ID.s, d.Name.s, d.Subject.s})
		return nil
	})
	if err != nil {
		return err
	}
	return c.write("email_campaign", []string{"id", "name", "subject"}, campaigns)
}
