package hubspot

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
)

// API paging sizes: the documented maxima.
const (
	listLimit   = 100  // GET /crm/v3/objects/{type}, /crm/v3/owners
	searchLimit = 200  // POST /crm/v3/objects/{type}/search
	batchLimit  = 100  // POST /crm/v4/associations/{from}/{to}/batch/read inputs
	eventsLimit = 1000 // GET /email/public/v1/events
)

// listPage is one page of a v3 list or search response.
type listPage struct {
	Results []json.RawMessage `json:"results"`
	Paging  struct {
		Next struct {
			After value `json:"after"`
		} `json:"next"`
	} `json:"paging"`
}

// checkAPIConfig checks what API mode needs, without a request: a token and a base URL.
func (e *Extractor) checkAPIConfig() error {
	if strings.TrimSpace(e.cfg.Token) == "" {
		return fmt.Errorf("%w: %s: %s is not set: create a HubSpot private app with read scopes and set %s to its access token",
			extract.ErrConfig, e.cfg.Spec, TokenVariable, TokenVariable)
	}
	if _, err := url.Parse(e.cfg.BaseURL); err != nil {
		return fmt.Errorf("%w: %s: base URL %q: %v", extract.ErrConfig, e.cfg.Spec, e.cfg.BaseURL, err)
	}
	return nil
}

// api reads HubSpot through its API: definitions first (property types, pipelines,
// owners), then contacts, deals with their associations, the activities and the
// e-mail clicks, concurrently.
func (x *run) api(ctx context.Context) error {
	e := x.e
	if err := e.checkAPIConfig(); err != nil {
		return err
	}
	c := newClient(e)

	defs := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	defs.Go(func(ctx context.Context) (err error) {
		x.contactTypes, err = x.apiTypes(ctx, c, "contacts")
		return err
	})
	defs.Go(func(ctx context.Context) (err error) {
		x.dealTypes, err = x.apiTypes(ctx, c, "deals")
		return err
	})
	defs.Go(func(ctx context.Context) error {
		var doc pipelinesDoc
		if err := c.get(ctx, "/crm/v3/pipelines/deals", nil, &doc); err != nil {
			return fmt.Errorf("%s: deal pipelines: %w", e.cfg.Spec, err)
		}
		var err error
		x.stages, err = doc.index(e.cfg.Spec, "GET /crm/v3/pipelines/deals")
		return err
	})
	defs.Go(func(ctx context.Context) error { return x.apiOwners(ctx, c) })
	if err := defs.Wait(); err != nil {
		return err
	}
	if err := x.checkCookie("GET /crm/v3/properties/contacts"); err != nil {
		return err
	}
	// The companies before the contacts and deals, which are written with the
	// account_id of a live company only.
	x.co = newCompanies(e.cfg.Since.IsZero())
	if err := x.stream(ctx, func(r *rows) error { return x.apiCompanies(ctx, c, r) }); err != nil {
		return err
	}

	recs := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError()
	recs.Go(func(ctx context.Context) error {
		return x.stream(ctx, func(r *rows) error { return x.apiContacts(ctx, c, r) })
	})
	recs.Go(func(ctx context.Context) error {
		return x.stream(ctx, func(r *rows) error { return x.apiDeals(ctx, c, r) })
	})
	for _, k := range activityKinds {
		recs.Go(func(ctx context.Context) error {
			return x.stream(ctx, func(r *rows) error { return x.apiActivities(ctx, c, r, k) })
		})
	}
	recs.Go(func(ctx context.Context) error {
		return x.stream(ctx, func(r *rows) error { return x.apiClicks(ctx, c, r) })
	})
	return recs.Wait()
}

// stream runs one concurrent reader with rows of its own.
func (x *run) stream(ctx context.Context, fn func(r *rows) error) error {
	r := x.rows()
	defer r.release()
	if err := fn(r); err != nil {
		return err
	}
	return r.flush(ctx)
}

// apiTypes reads the declared property types of an object type.
func (x *run) apiTypes(ctx context.Context, c *client, object string) (propTypes, error) {
	var doc propertiesDoc
	if err := c.get(ctx, "/crm/v3/properties/"+object, nil, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s properties: %w", x.e.cfg.Spec, object, err)
	}
	return doc.types(), nil
}

// apiOwners reads every owner, active and deactivated (activities of former
// employees keep their team).
func (x *run) apiOwners(ctx context.Context, c *client) error {
	for _, archived := range []string{"false", "true"} {
		after := ""
		for {
			q := url.Values{"limit": {strconv.Itoa(listLimit)}, "archived": {archived}}
			if after != "" {
				q.Set("after", after)
			}
			var page struct {
				Results []ownerDoc `json:"results"`
				Paging  struct {
					Next struct {
						After value `json:"after"`
					} `json:"next"`
				} `json:"paging"`
			}
			if err := c.get(ctx, "/crm/v3/owners", q, &page); err != nil {
				return fmt.Errorf("%s: owners: %w", x.e.cfg.Spec, err)
			}
			for i := range page.Results {
				x.owners.add(&page.Results[i])
			}
			if after = page.Paging.Next.After.str(); after == "" {
				break
			}
		}
	}
	return nil
}

// eachPage calls fn with every page of objects of type object (contacts, deals,
// calls ...) with the properties props: the whole list, or with Since set, the
// objects modified since (by search on modified, the type's last-modified
// property). label names the page in rejections of records without an id.
func (x *run) eachPage(ctx context.Context, c *client, object, modified string, props []string, fn func(label string, page []json.RawMessage) error) error {
	if !x.e.cfg.Since.IsZero() {
		return x.search(ctx, c, object, modified, props, fn)
	}
	after := ""
	for {
		q := url.Values{"limit": {strconv.Itoa(listLimit)}, "properties": {strings.Join(props, ",")}, "archived": {"false"}}
		if after != "" {
			q.Set("after", after)
		}
		var page listPage
		if err := c.get(ctx, "/crm/v3/objects/"+object, q, &page); err != nil {
			return fmt.Errorf("%s: %s: %w", x.e.cfg.Spec, object, err)
		}
		label := object + " page after=" + after
		if err := fn(label, page.Results); err != nil {
			return err
		}
		if after = page.Paging.Next.After.str(); after == "" {
			return nil
		}
	}
}

// apiContacts reads the contacts.
func (x *run) apiContacts(ctx context.Context, c *client, r *rows) error {
	props := append([]string(nil), contactProperties...)
	if x.cookieProperty != "" {
		props = append(props, x.cookieProperty)
	}
	return x.eachPage(ctx, c, "contacts", "lastmodifieddate", props, func(label string, page []json.RawMessage) error {
		for _, rec := range page {
			var o object
			if reason := decodeObject(rec, &o); reason != "" {
				if err := r.reject(ctx, "hubspot "+label, reason, rec); err != nil {
					return err
				}
				continue
			}
			if _, err := x.contactObject(ctx, r, place{page: label}, &o, rec); err != nil {
				return err
			}
		}
		return nil
	})
}

// apiCompanies reads the companies (the accounts).
func (x *run) apiCompanies(ctx context.Context, c *client, r *rows) error {
	err := x.eachPage(ctx, c, "companies", "hs_lastmodifieddate", companyProperties, func(label string, page []json.RawMessage) error {
		for _, rec := range page {
			var o object
			if reason := decodeObject(rec, &o); reason != "" {
				if err := r.reject(ctx, "hubspot "+label, reason, rec); err != nil {
					return err
				}
				continue
			}
			if err := x.companyObject(ctx, r, place{page: label}, &o, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return x.writeCompanies(ctx, r)
}

// apiDeals reads the deals with their primary companies, and the stage history and
// contacts of each page's deals.
func (x *run) apiDeals(ctx context.Context, c *client, r *rows) error {
	type written struct {
		d   dealRow
		rec []byte
	}
	return x.eachPage(ctx, c, "deals", "hs_lastmodifieddate", dealProperties, func(label string, page []json.RawMessage) error {
		var ids, writtenIDs []string // not skipped; written
		var deals []written
		objs := make([]object, len(page))
		bad := make([]bool, len(page))
		var live []string
		for i, rec := range page {
			if reason := decodeObject(rec, &objs[i]); reason != "" {
				bad[i] = true
				if err := r.reject(ctx, "hubspot "+label, reason, rec); err != nil {
					return err
				}
				continue
			}
			if id := objs[i].ID.str(); id != "" && !objs[i].Archived && extract.BadText("id", id) == "" {
				live = append(live, id)
			}
		}
		clear(x.co.ofDeal) // only this page's deals are looked up
		clear(x.co.primary)
		err := x.apiBatch(ctx, c, r, "deals", "companies", "deal", live, func(id string, a *association, rec []byte) error {
			company, primary, reason := a.primary(dealPrimaryCompany, "company")
			if reason != "" {
				return r.reject(ctx, "hubspot deal "+id+" associations", reason, rec)
			}
			if company != "" {
				x.co.link(x.co.ofDeal, "deal:"+id, id, company, primary)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, rec := range page {
			if bad[i] {
				continue
			}
			o := &objs[i]
			d, status, err := x.dealObject(ctx, r, place{page: label}, o, rec)
			if err != nil {
				return err
			}
			if id := o.ID.str(); id != "" && status != dealSkipped {
				ids = append(ids, id)
			}
			if status == dealWritten {
				writtenIDs = append(writtenIDs, d.id)
				deals = append(deals, written{d, rec})
			}
		}
		hist, err := x.apiStageHistory(ctx, c, r, writtenIDs)
		if err != nil {
			return err
		}
		for i := range deals {
			if err := x.objectStages(ctx, r, place{page: label}, &deals[i].d, hist[deals[i].d.id], deals[i].rec); err != nil {
				return err
			}
		}
		on, err := x.apiAssociations(ctx, c, r, "deals", "deal", ids)
		if err != nil {
			return err
		}
		for _, id := range ids {
			for _, contact := range on[id] {
				if err := r.dealContact(ctx, id, contact); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// apiActivities reads one engagement type and the contacts of each page's activities.
func (x *run) apiActivities(ctx context.Context, c *client, r *rows, k *activityKind) error {
	props := append(append([]string(nil), activityProperties...), k.props...)
	return x.eachPage(ctx, c, k.object, "hs_lastmodifieddate", props, func(label string, page []json.RawMessage) error {
		objs := make([]object, len(page))
		bad := make([]bool, len(page))
		var ids []string
		for i, rec := range page {
			if reason := decodeObject(rec, &objs[i]); reason != "" {
				bad[i] = true
				if err := r.reject(ctx, "hubspot "+label, reason, rec); err != nil {
					return err
				}
				continue
			}
			if id := objs[i].ID.str(); id != "" && !objs[i].Archived {
				ids = append(ids, id)
			}
		}
		on, err := x.apiAssociations(ctx, c, r, k.object, k.singular, ids)
		if err != nil {
			return err
		}
		for i, rec := range page {
			if bad[i] {
				continue
			}
			if err := x.activityObject(ctx, r, place{page: label}, k, &objs[i], rec, on[objs[i].ID.str()]); err != nil {
				return err
			}
		}
		return nil
	})
}

// batchRead is the POST /crm/v4/associations/{from}/contacts/batch/read response.
// Objects without associations come back in errors, which are not read.
type batchRead struct {
	Results []json.RawMessage `json:"results"`
}

// batchInput is one input of an associations batch read.
type batchInput struct {
	ID    string `json:"id"`
	After string `json:"after,omitempty"`
}

// apiAssociations returns the contacts of objects ids of type from (deals, calls ...),
// batchLimit ids per request, following each object's own paging.
func (x *run) apiAssociations(ctx context.Context, c *client, r *rows, from, kind string, ids []string) (map[string][]string, error) {
	on := map[string][]string{}
	err := x.apiBatch(ctx, c, r, from, "contacts", kind, ids, func(id string, a *association, rec []byte) error {
		contacts, reason := a.targets()
		if reason != "" {
			return r.reject(ctx, "hubspot "+kind+" "+id+" associations", reason, rec)
		}
		on[id] = append(on[id], contacts...)
		return nil
	})
	return on, err
}

// apiBatch calls fn with every association result (one page of one object's links)
// of objects ids of type from (deals, calls ...) to objects of type to (contacts,
// companies), batchLimit ids per request, following each object's own paging.
func (x *run) apiBatch(ctx context.Context, c *client, r *rows, from, to, kind string, ids []string, fn func(id string, a *association, rec []byte) error) error {
	path := "/crm/v4/associations/" + from + "/" + to + "/batch/read"
	for start := 0; start < len(ids); start += batchLimit {
		var inputs []batchInput
		for _, id := range ids[start:min(start+batchLimit, len(ids))] {
			inputs = append(inputs, batchInput{ID: id})
		}
		for len(inputs) > 0 {
			var resp batchRead
			if err := c.post(ctx, path, map[string]any{"inputs": inputs}, &resp); err != nil {
				return fmt.Errorf("%s: %s-%s associations: %w", x.e.cfg.Spec, from, to, err)
			}
			inputs = inputs[:0]
			for _, rec := range resp.Results {
				var a struct {
					association
					Paging struct {
						Next struct {
							After value `json:"after"`
						} `json:"next"`
					} `json:"paging"`
				}
				if err := json.Unmarshal(rec, &a); err != nil {
					if err := r.reject(ctx, "hubspot "+from+" associations", "invalid JSON: "+err.Error(), rec); err != nil {
						return err
					}
					continue
				}
				id := a.From.ID.str()
				if err := fn(id, &a.association, rec); err != nil {
					return err
				}
				if next := a.Paging.Next.After.str(); next != "" {
					inputs = append(inputs, batchInput{ID: id, After: next})
				}
			}
		}
	}
	return nil
}

// apiClicks reads the marketing e-mail CLICK events (HubSpot's bot-filtered clicks
// excluded) with their campaigns' names.
func (x *run) apiClicks(ctx context.Context, c *client, r *rows) error {
	names := map[string]string{}
	offset := ""
	for {
		q := url.Values{"eventType": {"CLICK"}, "excludeFilteredEvents": {"true"}, "limit": {strconv.Itoa(eventsLimit)}}
		if !x.e.cfg.Since.IsZero() {
			q.Set("startTimestamp", strconv.FormatInt(x.e.cfg.Since.UnixMilli(), 10))
		}
		if offset != "" {
			q.Set("offset", offset)
		}
		var page struct {
			Events  []json.RawMessage `json:"events"`
			HasMore bool              `json:"hasMore"`
			Offset  value             `json:"offset"`
		}
		if err := c.get(ctx, "/email/public/v1/events", q, &page); err != nil {
			return fmt.Errorf("%s: e-mail events: %w", x.e.cfg.Spec, err)
		}
		evs := make([]emailEvent, len(page.Events))
		bad := make([]bool, len(page.Events))
		var missing []string
		for i, rec := range page.Events {
			if err := json.Unmarshal(rec, &evs[i]); err != nil {
				bad[i] = true
				if err := r.reject(ctx, "hubspot email events offset="+offset, "invalid JSON: "+err.Error(), rec); err != nil {
					return err
				}
				continue
			}
			if id := evs[i].EmailCampaignID.str(); id != "" {
				if _, ok := names[id]; !ok {
					names[id] = ""
					missing = append(missing, id)
				}
			}
		}
		if err := x.apiCampaigns(ctx, c, missing, names); err != nil {
			return err
		}
		for i, rec := range page.Events {
			if bad[i] {
				continue
			}
			if err := x.clickEvent(ctx, r, place{page: "email events offset=" + offset}, &evs[i], rec, names[evs[i].EmailCampaignID.str()]); err != nil {
				return err
			}
		}
		if offset = page.Offset.str(); !page.HasMore || offset == "" {
			return nil
		}
	}
}

// apiCampaigns looks up the names of campaigns ids into names, concurrently. A
// campaign HubSpot no longer has leaves its clicks without utm_campaign.
func (x *run) apiCampaigns(ctx context.Context, c *client, ids []string, names map[string]string) error {
	found := make([]string, len(ids))
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(x.e.cfg.Concurrency)
	for i, id := range ids {
		p.Go(func(ctx context.Context) error {
			var doc campaignDoc
			err := c.get(ctx, "/email/public/v1/campaigns/"+url.PathEscape(id), nil, &doc)
			switch {
			case isNotFound(err):
				x.e.cfg.Log.Warn("hubspot: e-mail campaign not found: its clicks get no utm_campaign", "source", x.e.cfg.Spec, "campaign", id)
				return nil
			case err != nil:
				return fmt.Errorf("%s: e-mail campaign %s: %w", x.e.cfg.Spec, id, err)
			}
			found[i] = doc.label()
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		return err
	}
	for i, id := range ids {
		names[id] = found[i]
	}
	return nil
}
