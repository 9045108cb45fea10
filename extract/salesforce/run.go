package salesforce

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"closedloop/extract"
)

// run is the state of one Extract. Lookups are read first, each into its own map
// (concurrently); then people and opportunities; then what needs both.
type run struct {
	e    *Extractor
	w    extract.Writer
	src  source
	o    objects
	spec string

	// Lookups.
	leadWinner, contactWinner map[string]string   // merge loser -> master record
	leadLosers, contactLosers map[string][]string // final master -> every loser
	status                    map[string]*statusDates
	stages                    map[string][]stageEntry // opportunity -> history, in time order
	historyFile               string                  // the file or table stages were read from; "" in API mode
	historyRow                bool                    // historyFile is a warehouse table
	roles                     []role
	users                     map[string]string // user -> team
	roleNames                 map[string]string // UserRole id -> name (files)
	campaigns                 map[string]campaign
	haveCampaigns             bool
	taskPeople, eventPeople   map[string][]string // activity -> people of TaskRelation / EventRelation
	accounts                  map[string]account  // Account by id
	accountOrder              []string            // their ids in reading order
	haveAccounts              bool                // the Account object or export was read
	badAccountSizes           extract.BadValues   // accounts written with a null company_size
	userNames                 map[string]string   // user -> name, for account owners

	// People and deals.
	converted       map[string][]*person // contact -> leads converted into it, not yet written
	pending         []*person            // converted leads in reading order
	oppFromLead     map[string]string    // opportunity -> contact, from converted leads
	deletedContacts map[string]bool
	deletedOpps     map[string]bool
	rejectedOpps    map[string]bool
	wroteOpps       map[string]bool // opportunities with a crm_deals row
	missingAccounts int             // contacts naming an account the Account export lacks

	// oppPeople are the contacts of each opportunity, primary first; oppOrder the
	// opportunities in the order their rows are written.
	oppPeople map[string][]string
	oppOrder  []string
}

func newRun(e *Extractor, w extract.Writer, src source) *run {
	return &run{e: e, w: w, src: src, o: newObjects(e.cfg.CookieField), spec: e.cfg.Spec,
		leadWinner: map[string]string{}, contactWinner: map[string]string{},
		status: map[string]*statusDates{}, stages: map[string][]stageEntry{},
		users: map[string]string{}, userNames: map[string]string{}, roleNames: map[string]string{}, campaigns: map[string]campaign{},
		taskPeople: map[string][]string{}, eventPeople: map[string][]string{}, accounts: map[string]account{},
		converted: map[string][]*person{}, oppFromLead: map[string]string{},
		deletedContacts: map[string]bool{}, deletedOpps: map[string]bool{},
		rejectedOpps: map[string]bool{}, wroteOpps: map[string]bool{},
	}
}

func (r *run) run(ctx context.Context) error {
	if err := r.checkPeople(ctx); err != nil {
		return err
	}
	p := r.newPool(ctx)
	p.Go(func(ctx context.Context) error { return r.readMerges(ctx, r.o.leadMerges, r.leadWinner) })
	p.Go(func(ctx context.Context) error { return r.readMerges(ctx, r.o.contactMerges, r.contactWinner) })
	p.Go(r.readLeadHistory)
	p.Go(r.readStageHistory)
	p.Go(r.readRoles)
	p.Go(r.readUsers)
	p.Go(r.readCampaigns)
	p.Go(r.readAccounts)
	p.Go(func(ctx context.Context) error { return r.readRelations(ctx, r.o.taskRelations, r.taskPeople) })
	p.Go(func(ctx context.Context) error { return r.readRelations(ctx, r.o.eventRelations, r.eventPeople) })
	if err := p.Wait(); err != nil {
		return err
	}
	r.leadLosers, r.contactLosers = losers(r.leadWinner), losers(r.contactWinner)
	if err := r.writeAccounts(ctx); err != nil {
		return err
	}

	p = r.newPool(ctx)
	p.Go(r.people)
	p.Go(r.opportunities)
	if err := p.Wait(); err != nil {
		return err
	}
	r.dealPeople()

	p = r.newPool(ctx)
	p.Go(r.writeDealContacts)
	p.Go(r.tasks)
	p.Go(r.events)
	p.Go(r.members)
	return p.Wait()
}

// checkPeople opens Lead and Contact before anything is read: both are required,
// and the cookie field must exist on at least one of them.
func (r *run) checkPeople(ctx context.Context) error {
	var has [2]bool
	for i, obj := range []*object{r.o.lead, r.o.contact} {
		s, err := r.src.open(ctx, obj)
		if errors.Is(err, errAbsent) {
			return fmt.Errorf("%w: %v: %s is required", extract.ErrConfig, err, obj.name)
		}
		if err != nil {
			return err
		}
		if f := r.e.cfg.CookieField; f != "" {
			has[i] = s.has[len(s.has)-1]
		}
	}
	f := r.e.cfg.CookieField
	switch {
	case f == "":
	case !has[0] && !has[1]:
		return fmt.Errorf("%w: the cookie field %s (column %s in files) exists on neither Lead nor Contact: set %s to the field that holds the GA client id, or to %q to read without cookie ids (web touches then join CRM people by e-mail only)",
			extract.ErrConfig, f, snakeName(f), envCookieField, NoCookieField)
	case !has[0]:
		r.e.log.Warn("salesforce: the cookie field is not on Lead: leads are read without cookie ids", "field", f)
	case !has[1]:
		r.e.log.Warn("salesforce: the cookie field is not on Contact: contacts are read without cookie ids", "field", f)
	}
	return nil
}

// reject records one unusable record.
func (r *run) reject(ctx context.Context, location, reason string, rec *record) error {
	raw := ""
	if rec.raw != nil {
		raw = rec.raw()
	}
	return r.w.Reject(ctx, extract.Rejection{Input: r.spec, Location: location, Reason: reason, Raw: extract.Cut(raw)})
}

// readMerges collects the deleted losers of merges and their master records.
func (r *run) readMerges(ctx context.Context, obj *object, winners map[string]string) error {
	_, err := r.read(ctx, obj, func(_ *stream, rec *record) error {
		f := newFields(obj, rec)
		if rec.stale || !(rec.gone || f.bool(mergeIsDeleted)) {
			return nil
		}
		id, err1 := ID18(f.str(mergeID))
		master, err2 := ID18(f.str(mergeMasterRecordID))
		if err1 == nil && err2 == nil && id != master {
			winners[id] = master
		}
		return nil
	})
	return err
}

// maxMergeHops bounds a chain of merges (a merged into b, b into c).
const maxMergeHops = 16

// resolve follows merges from id to the record that survived them.
func resolve(winners map[string]string, id string) string {
	for range maxMergeHops {
		next, ok := winners[id]
		if !ok {
			break
		}
		id = next
	}
	return id
}

// losers inverts winners: each surviving record and every record merged into it.
func losers(winners map[string]string) map[string][]string {
	out := map[string][]string{}
	for loser := range winners {
		w := resolve(winners, loser)
		out[w] = append(out[w], loser)
	}
	for _, l := range out {
		slices.Sort(l)
	}
	return out
}

// resolvePerson follows a lead or contact id through merges.
func (r *run) resolvePerson(id string) string {
	switch personType(id) {
	case "salesforce_lead":
		return resolve(r.leadWinner, id)
	case "salesforce_contact":
		return resolve(r.contactWinner, id)
	}
	return id
}
