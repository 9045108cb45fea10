package salesforce

import (
	"context"
	"fmt"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableEvents, resolved once.
var (
	evInput      = extract.Col(extract.TableEvents, "input")
	evLocation   = extract.Col(extract.TableEvents, "location")
	evOccurredAt = extract.Col(extract.TableEvents, "occurred_at")
	evKind       = extract.Col(extract.TableEvents, "kind")
	evEventName  = extract.Col(extract.TableEvents, "event_name")
	evSource     = extract.Col(extract.TableEvents, "utm_source")
	evMedium     = extract.Col(extract.TableEvents, "utm_medium")
	evCampaign   = extract.Col(extract.TableEvents, "utm_campaign")
	evChannel    = extract.Col(extract.TableEvents, "channel")
	evIsConv     = extract.Col(extract.TableEvents, "is_conversion")
	evCRMRecord  = extract.Col(extract.TableEvents, "crm_record")
)

// Touch names and channels. The "Sales: " prefix is transform.SalesChannelPrefix.
const (
	touchCall             = "call"
	touchMeeting          = "meeting"
	touchSalesEmail       = "sales_email"
	touchTask             = "task"
	touchCampaignResponse = "campaign_response"
)

var salesChannel = map[string]string{
	touchCall:       "Sales: Call",
	touchMeeting:    "Sales: Meeting",
	touchSalesEmail: "Sales: Email",
	touchTask:       "Sales: Task",
}

// taskKind is the touch a Task is: TaskSubtype (Call, Email, ListEmail, Task,
// Cadence, LinkedIn), else the older Type picklist (Call, Email, ...).
func taskKind(subtype, typ string) string {
	k := strings.ToLower(strings.TrimSpace(subtype))
	if k == "" || k == "task" {
		if t := strings.ToLower(strings.TrimSpace(typ)); t == "call" || t == "email" {
			k = t
		}
	}
	switch k {
	case "call":
		return touchCall
	case "email", "listemail":
		return touchSalesEmail
	}
	return touchTask
}

// readUsers reads who owns activities and their team: the UserRole name, else the
// Department, else the user's name.
func (r *run) readUsers(ctx context.Context) error {
	if _, api := r.src.(*apiSource); !api { // files and tables
		obj := r.o.userRole
		_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
			f := newFields(obj, rec)
			if rec.bad != "" {
				return r.reject(ctx, rejectLocation(obj, rec, f.str(roleID)), rec.bad, rec)
			}
			r.roleNames[key(f.str(roleID))] = f.str(roleName)
			return nil
		})
		if err != nil {
			return err
		}
	}
	obj := r.o.user
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		id := key(f.str(userID))
		if f.bad == "" && id == "" {
			f.bad = "field Id: empty: a user without an id owns nothing"
		}
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(userID)), f.bad, rec)
		}
		team := f.str(userRoleName)
		if team == "" {
			team = r.roleNames[key(f.str(userRoleID))]
		}
		if team == "" {
			team = f.str(userDepartment)
		}
		if team == "" {
			team = f.str(userName)
		}
		r.users[id] = team
		r.userNames[id] = f.str(userName)
		return nil
	})
	return err
}

// campaign is what a campaign response needs of its Campaign.
type campaign struct{ name, typ string }

func (r *run) readCampaigns(ctx context.Context) error {
	obj := r.o.campaign
	found, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		id := key(f.str(campaignID))
		if f.bad == "" && id == "" {
			f.bad = "field Id: empty"
		}
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(campaignID)), f.bad, rec)
		}
		r.campaigns[id] = campaign{name: f.str(campaignName), typ: f.str(campaignType)}
		return nil
	})
	r.haveCampaigns = found
	return err
}

// readRelations reads the people (not the What records) of shared activities.
func (r *run) readRelations(ctx context.Context, obj *object, people map[string][]string) error {
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if rec.gone || rec.stale || f.bool(relIsDeleted) || f.bool(relIsWhat) || s.has[relIsParent] && !f.bool(relIsParent) {
			if f.bad == "" {
				return nil
			}
		}
		act, who := f.id(relActivityID), f.id(relRelationID)
		if f.bad == "" && (act == "" || who == "") {
			f.bad = fmt.Sprintf("want both %s and RelationId", obj.fields[relActivityID])
		}
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, ""), f.bad, rec)
		}
		if personType(who) != "" {
			people[act] = append(people[act], who)
		}
		return nil
	})
	return err
}

// activityPeople returns the people an activity is about: WhoId and the people of
// its relations, else its opportunity's first contact; or why it is about nobody.
func (r *run) activityPeople(id, who, what string, relations map[string][]string) ([]string, string) {
	var out []string
	add := func(p string) {
		p = r.resolvePerson(p)
		for _, o := range out {
			if o == p {
				return
			}
		}
		out = append(out, p)
	}
	if who != "" {
		if personType(who) == "" {
			return nil, "field WhoId: " + who + " is neither a lead (00Q...) nor a contact (003...)"
		}
		add(who)
	}
	for _, p := range relations[id] {
		add(p)
	}
	if len(out) == 0 && strings.HasPrefix(what, prefixOpportunity) {
		if cs := r.oppPeople[what]; len(cs) > 0 {
			add(cs[0])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Sprintf("names no lead or contact (WhoId empty) and its WhatId %q is not an opportunity with a contact: it is a touch of nobody; set its Name (WhoId) in Salesforce to count it", what)
	}
	return out, ""
}

// firstTime returns the first non-empty of the datetime fields idx, parsed.
func firstTime(f *fields, idx ...int) time.Time {
	for _, i := range idx {
		if f.str(i) != "" {
			return f.time(i)
		}
	}
	return time.Time{}
}

// tasks reads closed Tasks into touches.
func (r *run) tasks(ctx context.Context) error {
	obj := r.o.task
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableEvents, r.w)
	defer b.Release()
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if r.skipGone(f, taskIsDeleted, -1) || r.old(f, taskSystemModstamp) {
			return nil
		}
		// A file without IsClosed cannot tell open tasks: all count.
		if s.has[taskIsClosed] && !f.bool(taskIsClosed) && f.bad == "" {
			r.e.skip(skipOpen)
			return nil
		}
		id, who, what := f.id(taskID), f.id(taskWhoID), f.id(taskWhatID)
		at := firstTime(f, taskCompletedDateTime, taskActivityDate, taskCreatedDate)
		name := taskKind(f.str(taskSubtype), f.str(taskType))
		return r.activity(ctx, b, f, id, who, what, at, name, f.str(taskOwnerID), r.taskPeople)
	})
	if err != nil {
		return err
	}
	return b.Flush(ctx)
}

// events reads Events (meetings) into touches.
func (r *run) events(ctx context.Context) error {
	obj := r.o.event
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableEvents, r.w)
	defer b.Release()
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if r.skipGone(f, eventIsDeleted, -1) || r.old(f, eventSystemModstamp) {
			return nil
		}
		if f.bool(eventIsChild) && f.bad == "" {
			r.e.skip(skipChild)
			return nil
		}
		id, who, what := f.id(eventID), f.id(eventWhoID), f.id(eventWhatID)
		at := firstTime(f, eventStartDateTime, eventActivityDateTime, eventActivityDate, eventCreatedDate)
		return r.activity(ctx, b, f, id, who, what, at, touchMeeting, f.str(eventOwnerID), r.eventPeople)
	})
	if err != nil {
		return err
	}
	return b.Flush(ctx)
}

// activity writes one touch per person of a Task or Event, or rejects it.
func (r *run) activity(ctx context.Context, b *extract.Builder, f *fields, id, who, what string, at time.Time, name, owner string, relations map[string][]string) error {
	switch {
	case f.bad != "":
	case id == "":
		f.bad = "field Id: empty"
	case at.IsZero():
		f.bad = "no time: the activity has no CompletedDateTime, StartDateTime, ActivityDate or CreatedDate"
	}
	var people []string
	if f.bad == "" {
		people, f.bad = r.activityPeople(id, who, what, relations)
	}
	if f.bad != "" {
		return r.reject(ctx, rejectLocation(f.obj, f.r, f.str(0)), f.bad, f.r)
	}
	team := r.users[key(owner)]
	loc := location(f.obj, f.r, id)
	for _, p := range people {
		if err := r.writeTouch(ctx, b, loc, at, name, salesChannel[name], team, name, "", personType(p)+":"+p); err != nil {
			return err
		}
	}
	return nil
}

// members reads campaign responses (CampaignMember with HasResponded) into touches.
func (r *run) members(ctx context.Context) error {
	obj := r.o.campaignMember
	b := extract.NewBuilder(r.e.cfg.Mem, extract.TableEvents, r.w)
	defer b.Release()
	_, err := r.read(ctx, obj, func(s *stream, rec *record) error {
		f := newFields(obj, rec)
		if !f.bool(memberHasResponded) && f.bad == "" {
			return nil // a member who never responded: no touch
		}
		if r.skipGone(f, memberIsDeleted, -1) || r.old(f, memberSystemModstamp) {
			return nil
		}
		camp := key(f.str(memberCampaignID))
		contact, lead := f.id(memberContactID), f.id(memberLeadID)
		at := f.time(memberFirstRespondedDate)
		if contact != "" {
			f.want(memberContactID, contact, prefixContact, "a contact")
		}
		if lead != "" {
			f.want(memberLeadID, lead, prefixLead, "a lead")
		}
		c, known := r.campaigns[camp]
		person := contact
		if person == "" {
			person = lead
		}
		switch {
		case f.bad != "":
		case camp == "":
			f.bad = "field CampaignId: empty"
		case r.haveCampaigns && !known:
			f.bad = "campaign " + camp + " is not in the Campaign export: its name and type are unknown; export it too"
		case person == "":
			f.bad = "neither ContactId nor LeadId: the response is nobody's"
		case at.IsZero():
			f.bad = "HasResponded is true but FirstRespondedDate is empty: the response cannot be dated"
		}
		if f.bad != "" {
			return r.reject(ctx, rejectLocation(obj, rec, f.str(memberID)), f.bad, rec)
		}
		person = r.resolvePerson(person)
		medium := strings.ToLower(c.typ)
		if medium == "" {
			medium = "campaign"
		}
		return r.writeTouch(ctx, b, location(obj, rec, key(f.str(memberID))), at, touchCampaignResponse, c.typ,
			"salesforce", medium, c.name, personType(person)+":"+person)
	})
	if err != nil {
		return err
	}
	return b.Flush(ctx)
}

// writeTouch appends one touch row to events.
func (r *run) writeTouch(ctx context.Context, b *extract.Builder, loc string, at time.Time, name, channel, source, medium, campaign, record string) error {
	b.Str(evInput, r.spec)
	b.Str(evLocation, loc)
	b.Time(evOccurredAt, at)
	b.Str(evKind, extract.KindTouch)
	b.Str(evEventName, name)
	b.Str(evSource, source)
	b.Str(evMedium, medium)
	b.Str(evCampaign, campaign)
	b.Str(evChannel, channel)
	b.Bool(evIsConv, false)
	b.Str(evCRMRecord, record)
	return b.End(ctx)
}
