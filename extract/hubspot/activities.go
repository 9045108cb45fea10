package hubspot

import (
	"context"
	"strings"

	"closedloop/extract"
)

// activityKind is one type of HubSpot engagement read as a selling activity.
type activityKind struct {
	object   string // CRM v3 object type: calls, meetings, emails, tasks
	singular string // in locations and file names: call, meeting, email, task
	event    string // event_name and utm_medium
	props    []string
	// touch says whether an activity reached the person; why names the rule when not.
	touch func(o *object) (ok bool, why string)
}

// activityKinds are the engagements read. Notes are not: they are internal memos,
// not something the prospect saw.
var activityKinds = []*activityKind{
	{object: "calls", singular: "call", event: "call",
		props: []string{"hs_call_direction", "hs_call_status"}, touch: callTouch},
	{object: "meetings", singular: "meeting", event: "meeting",
		props: []string{"hs_meeting_outcome", "hs_meeting_start_time"}, touch: meetingTouch},
	{object: "emails", singular: "email", event: "sales_email",
		props: []string{"hs_email_direction"}, touch: emailTouch},
	{object: "tasks", singular: "task", event: "task",
		props: []string{"hs_task_status", "hs_task_type"}, touch: taskTouch},
}

// activityProperties are the properties read from every engagement, besides its kind's.
var activityProperties = []string{"hs_timestamp", "hs_createdate", "hs_lastmodifieddate", "hubspot_owner_id", "hubspot_team_id"}

// salesPrefix starts the channel of every selling activity: transform.SalesChannelPrefix,
// which transform and the sales views recognise (a test checks they agree; importing
// transform here would make the extractors depend on it).
const salesPrefix = "Sales: "

// activityChannels are the channels of the activities, by event name.
var activityChannels = map[string]string{
	"call":        salesPrefix + "Call",
	"meeting":     salesPrefix + "Meeting",
	"sales_email": salesPrefix + "Email",
	"task":        salesPrefix + "Task",
}

// callTouch: a call is a touch unless it never went out (queued, canceled, failed).
// Busy and unanswered calls count: the prospect saw the attempt.
func callTouch(o *object) (bool, string) {
	switch strings.ToUpper(o.prop("hs_call_status")) {
	case "QUEUED", "CANCELED", "FAILED":
		return false, "call status " + o.prop("hs_call_status")
	}
	return true, ""
}

// meetingTouch: a meeting is a touch unless it did not take place.
func meetingTouch(o *object) (bool, string) {
	switch strings.ToUpper(o.prop("hs_meeting_outcome")) {
	case "CANCELED", "NO_SHOW", "RESCHEDULED":
		return false, "meeting outcome " + o.prop("hs_meeting_outcome")
	}
	return true, ""
}

// emailTouch: only e-mails sales sent are touches (hs_email_direction EMAIL), not
// the prospect's replies (INCOMING_EMAIL) nor forwards.
func emailTouch(o *object) (bool, string) {
	if d := strings.ToUpper(o.prop("hs_email_direction")); d != "EMAIL" {
		return false, "e-mail direction " + d
	}
	return true, ""
}

// taskTouch: a task is a touch once done; an open to-do has not reached anyone.
// Without a status (older exports) it counts.
func taskTouch(o *object) (bool, string) {
	if s := strings.ToUpper(o.prop("hs_task_status")); s != "" && s != "COMPLETED" {
		return false, "task status " + s
	}
	return true, ""
}

// owners names the sales team behind an activity.
type owners struct {
	team  map[string]string // owner id -> primary team name (else first team)
	name  map[string]string // owner id -> "First Last"
	teams map[string]string // team id -> name
}

func newOwners() *owners {
	return &owners{team: map[string]string{}, name: map[string]string{}, teams: map[string]string{}}
}

// ownerDoc is one GET /crm/v3/owners result.
type ownerDoc struct {
	ID        value `json:"id"`
	FirstName value `json:"firstName"`
	LastName  value `json:"lastName"`
	Teams     []struct {
		ID      value `json:"id"`
		Name    value `json:"name"`
		Primary bool  `json:"primary"`
	} `json:"teams"`
}

// add records one owner. An owner whose name or a team name cannot be stored is
// left out, and the reason returned: its activities get no team.
func (w *owners) add(d *ownerDoc) (bad string) {
	id := d.ID.str()
	if id == "" {
		return ""
	}
	name := strings.TrimSpace(d.FirstName.str() + " " + d.LastName.str())
	if bad = badText("owner name", name); bad != "" {
		return bad
	}
	for _, t := range d.Teams {
		if bad = badText("team name", t.Name.str()); bad != "" {
			return bad
		}
	}
	w.name[id] = name
	for _, t := range d.Teams {
		name := t.Name.str()
		w.teams[t.ID.str()] = name
		if t.Primary || w.team[id] == "" {
			w.team[id] = name
		}
	}
	return ""
}

// source is the utm_source of an activity: its owner's team, else the team the
// activity was assigned to, else its owner's name, else "".
func (w *owners) source(owner, team string) string {
	if t := w.team[owner]; t != "" {
		return t
	}
	if t := w.teams[team]; t != "" {
		return t
	}
	return w.name[owner]
}

// activityObject writes one touch row per contact of a decoded engagement, or its
// rejection. Activities that did not reach anyone, or that are on no contact, are
// counted, not written.
func (x *run) activityObject(ctx context.Context, r *rows, p place, k *activityKind, o *object, rec []byte, contacts []string) error {
	id := o.ID.str()
	if o.Archived {
		x.e.skipped.Add(1)
		return nil
	}
	if id == "" {
		return r.reject(ctx, p.reject(k.singular, ""), k.singular+" has no id", rec)
	}
	if reason := extract.BadText("id", id); reason != "" {
		return r.reject(ctx, p.reject(k.singular, ""), reason, rec)
	}
	t := &times{o: o, types: activityTypes}
	at := t.first("hs_timestamp", "hs_meeting_start_time", "hs_createdate")
	at = t.orTop(at, "createdAt", o.CreatedAt)
	if t.bad != nil {
		return r.reject(ctx, p.reject(k.singular, id), t.bad.Error()+"; fix the activity's date in HubSpot", rec)
	}
	if at.IsZero() {
		return r.reject(ctx, p.reject(k.singular, id), k.singular+" has no hs_timestamp (activity date): set it in HubSpot", rec)
	}
	if ok, _ := k.touch(o); !ok {
		x.stats.notTouch.Add(1)
		return nil
	}
	if len(contacts) == 0 {
		x.stats.noContact.Add(1)
		return nil
	}
	row := touchRow{
		at:      at,
		name:    k.event,
		channel: activityChannels[k.event],
		source:  x.owners.source(o.prop("hubspot_owner_id"), o.prop("hubspot_team_id")),
		medium:  k.event,
	}
	if reason := row.badText(); reason != "" {
		return r.reject(ctx, p.reject(k.singular, id), reason, rec)
	}
	loc := p.row(k.singular, id)
	for _, c := range contacts {
		row.record = "hubspot_contact:" + c
		if err := r.touch(ctx, loc, &row); err != nil {
			return err
		}
	}
	x.stats.touches.Add(1)
	return nil
}

// activityTypes are the declared types of the engagement properties read as dates
// (the same in every account).
var activityTypes = propTypes{"hs_timestamp": "datetime", "hs_createdate": "datetime", "hs_meeting_start_time": "datetime"}

// emailEvent is one marketing e-mail event of the e-mail events API
// (GET /email/public/v1/events).
type emailEvent struct {
	ID              value `json:"id"`
	Created         value `json:"created"` // epoch milliseconds
	Type            value `json:"type"`
	Recipient       value `json:"recipient"`
	EmailCampaignID value `json:"emailCampaignId"`
	URL             value `json:"url"`
	FilteredEvent   bool  `json:"filteredEvent"`
}

// campaignDoc is the GET /email/public/v1/campaigns/{id} response.
type campaignDoc struct {
	ID      value `json:"id"`
	Name    value `json:"name"`
	Subject value `json:"subject"`
}

// label is the campaign's name, else its subject.
func (c *campaignDoc) label() string {
	if n := c.Name.str(); n != "" {
		return n
	}
	return c.Subject.str()
}

// clickEvent writes the touch of one e-mail CLICK event, or its rejection. Other
// event types and clicks HubSpot filtered out as machine clicks (link scanners) are
// not touches: they are counted, not written.
func (x *run) clickEvent(ctx context.Context, r *rows, p place, ev *emailEvent, rec []byte, campaign string) error {
	id := ev.ID.str()
	if !strings.EqualFold(ev.Type.str(), "CLICK") || ev.FilteredEvent {
		x.stats.notTouch.Add(1)
		return nil
	}
	if id == "" {
		return r.reject(ctx, p.reject("email event", ""), "e-mail event has no id", rec)
	}
	if reason := extract.BadText("id", id); reason != "" {
		return r.reject(ctx, p.reject("email event", ""), reason, rec)
	}
	created := ev.Created.str()
	if created == "" {
		return r.reject(ctx, p.reject("email event", id), "e-mail event has no created time", rec)
	}
	at, err := parseTime("datetime", created)
	if err != nil {
		return r.reject(ctx, p.reject("email event", id), "created: "+err.Error(), rec)
	}
	if reason := extract.BadText("recipient", ev.Recipient.str()); reason != "" {
		return r.reject(ctx, p.reject("email event", id), reason, rec)
	}
	email := strings.ToLower(ev.Recipient.str())
	if email == "" {
		return r.reject(ctx, p.reject("email event", id), "e-mail click has no recipient, so nobody can be credited with it", rec)
	}
	row := touchRow{
		at: at, name: "email_click", channel: "Email",
		source: "hubspot", medium: "email", campaign: campaign,
		page: ev.URL.str(), email: email,
	}
	if reason := row.badText(); reason != "" {
		return r.reject(ctx, p.reject("email event", id), reason, rec)
	}
	x.stats.clicks.Add(1)
	return r.touch(ctx, p.row("email event", id), &row)
}
