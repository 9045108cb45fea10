package transform

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/channel"
	"closedloop/transform/identity"
	"closedloop/transform/persona"
)

// SalesChannelPrefix starts the channel of every selling activity ("Sales: Call").
const SalesChannelPrefix = "Sales: "

// Options configures Build.
type Options struct {
	// Mem allocates the output tables and the input columns Build concatenates.
	Mem memory.Allocator
	// Range is the run's date range: only its days' rows of the date-keyed tables are
	// produced; journeys still look back past its start.
	Range extract.Range
	// Lookback is how far before a conversion its journey reaches.
	Lookback time.Duration
	// SessionTimeout ends a session of a source without session ids after this much
	// inactivity.
	SessionTimeout time.Duration
	// Models are the attribution models to run.
	Models []attribution.Model
	// OverlapJourneys lets every conversion look back the whole window; by default the
	// journey of a repeated conversion of one type starts after the previous one.
	OverlapJourneys bool
	// IdentityLimits cap the identifiers of each type one person may hold (guardrails);
	// the zero value means identity.DefaultLimits.
	IdentityLimits identity.Limits
	// Identity configures the identity graph (hashed e-mails, blocked values).
	Identity identity.Options
	// Channels groups touches and spend rows: a user's rules (CLOSEDLOOP_CHANNEL_RULES)
	// before or instead of GA4's default channel group; nil is GA4's default.
	Channels *channel.Grouper
	// AttributeSalesTouches lets selling activities (touches of a "Sales: " channel,
	// written by the CRM extractors) take part in attribution; by default they are
	// kept in fct_touchpoint for the funnel and sales views but credited nothing.
	AttributeSalesTouches bool
	// TouchEvents are event names (tracked interactions such as form_submit,
	// file_download, demo_request) that are touches of their own besides the session's:
	// each becomes a touchpoint at its time, with its session's traffic and channel and
	// the event name in fct_touchpoint.event.
	TouchEvents []string
	// KeepSessionOnCampaignChange keeps a session of a source without session ids
	// open when an event brings other campaign information; by default such an event
	// starts a new session (as Universal Analytics did), so each campaign is a touch.
	KeepSessionOnCampaignChange bool
	// MicroConversions are event names that count as conversions of their own type
	// (GA4 key events such as generate_lead or sign_up), valued by the event's value.
	MicroConversions []string
	// Personas are the user's persona rules (CLOSEDLOOP_PERSONAS), read on every
	// person's CRM fields and behaviour for dim_person.persona; nil leaves everyone
	// Unclassified.
	Personas *persona.Rules
	// Currency is the reporting currency, used for deals without one.
	Currency string
	// Logger gets a debug line per step; nil discards.
	Logger *slog.Logger
}

// Inputs are the canonical tables of the run (schemas of package extract).
type Inputs struct {
	Events, Contacts, Deals, DealContacts, Spend arrow.Table
	// DealStages is the CRMs' deal stage history; nil means none.
	DealStages arrow.Table
	// EventsDone, when set, is called once the steps that read Events are done (after
	// the sessions step), so that the caller can free the events before the later
	// steps and the loads: the events are most of a run's memory.
	EventsDone func()
}

// Output holds one table per warehouse table of load.Tables (run_log and rejected_rows
// excepted: the runner writes those). Release frees them.
type Output struct {
	Tables map[string]arrow.Table
	Stats  Stats
	// Aliases (schema AliasSchema) maps person ids an earlier run may have written to
	// the person each now belongs to: a loader re-points the person_id of rows outside
	// the run's range with it, so a cookie identified today moves its old touches to
	// its person. Not a warehouse table.
	Aliases arrow.Table
}

// AliasSchema is the schema of Output.Aliases.
var AliasSchema = arrow.NewSchema([]arrow.Field{
	{Name: "alias_id", Type: arrow.BinaryTypes.String},
	{Name: "person_id", Type: arrow.BinaryTypes.String},
}, nil)

// Stats are the counts of one Build, for run_log and the report.
type Stats struct {
	Events, Sessions, Touchpoints, PageViews int
	// EventRows splits Events (every row of Inputs.Events, all days) by what it
	// became: it reconciles with the extractors' rows read minus their rejections.
	EventRows                                 EventRows
	Conversions, ConversionsWithoutTouch      int
	Persons, Identifiers, Journeys, SpendRows int
	IdentityEdges, IdentityConflicts          int
	// CRMCookies counts, per CRM ("hubspot", "salesforce"), the cookie ids stored on
	// its records and how many of them the run's analytics events carry; nil when the
	// run read no analytics cookie at all.
	CRMCookies map[string]*CookieLinks
}

// CookieLinks tells whether the cookie ids stored on a CRM's records are the ids its
// analytics sources export: few links mean the property holds something else.
type CookieLinks struct {
	Stored, Linked int
	// Unlinked holds a few stored values no analytics event carries, and Analytics a
	// few ids the events do carry, to show what each looks like.
	Unlinked, Analytics []string
}

// EventRows counts the analytics rows of one Build by their use; the fields add up to
// Stats.Events.
type EventRows struct {
	PageViews    int `json:"page_views"`   // page or screen views (fct_page_view, session starts)
	Touches      int `json:"touches"`      // touch-log rows: a touchpoint each
	Interactions int `json:"interactions"` // Options.TouchEvents events: a touchpoint each
	Other        int `json:"other"`        // other events: they open and feed sessions only
	Identify     int `json:"identify"`     // identify / alias rows: identity only
	Unlinked     int `json:"unlinked"`     // rows whose identifiers were all refused or blocked
}

// Release frees every table.
func (o *Output) Release() {
	for _, t := range o.Tables {
		t.Release()
	}
	o.Tables = nil
	if o.Aliases != nil {
		o.Aliases.Release()
		o.Aliases = nil
	}
}

// Build runs every step (see the package documentation) over one run's inputs.
func Build(ctx context.Context, in Inputs, opt Options) (*Output, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.IdentityLimits == (identity.Limits{}) {
		opt.IdentityLimits = identity.DefaultLimits
	}
	r := &run{opt: opt, from: opt.Range.Start().UnixMicro(), end: opt.Range.End().UnixMicro()}
	out := &Output{Tables: map[string]arrow.Table{}}
	if err := r.build(ctx, in, out); err != nil {
		out.Release()
		return nil, err
	}
	for _, t := range load.Tables { // tables no step produced yet exist empty
		if _, ok := out.Tables[t.Name]; !ok && t.Mode != load.Append {
			out.Tables[t.Name] = Empty(opt.Mem, t.Schema)
		}
	}
	return out, nil
}

// build wires the steps: each takes the results of the ones before it and adds its
// tables to out.
func (r *run) build(ctx context.Context, in Inputs, out *Output) error {
	evCols, cols := &columns{mem: r.opt.Mem}, &columns{mem: r.opt.Mem}
	defer evCols.release()
	defer cols.release()
	ev := readEvents(evCols, in.Events, r.opt.Personas.Needs().Downloads)
	crm := &crmCols{contacts: readContacts(cols, in.Contacts), deals: readDeals(cols, in.Deals),
		dealContacts: readDealContacts(cols, in.DealContacts)}
	st := &out.Stats

	id, err := step(ctx, r, "identity", func() (*stitched, error) { return stitch(r, ev, crm) })
	if err != nil {
		return err
	}
	out.Tables[load.IdentityConflicts] = conflicts(r.opt.Mem, id.persons)
	out.Aliases = aliases(r.opt.Mem, id.persons)
	st.Events, st.CRMCookies = ev.n, id.cookies
	st.Persons, st.Identifiers = id.persons.Len(), id.graph.Len()
	st.IdentityEdges, st.IdentityConflicts = id.persons.EdgeCount(), len(id.persons.Conflicts())

	ses, err := step(ctx, r, "sessions", func() (*sessionized, error) { return sessions(ctx, r, ev, id) })
	if err != nil {
		return err
	}
	out.Tables[load.FctTouchpoint], out.Tables[load.FctPageView] = ses.touchpoints, ses.pageViews
	st.EventRows, st.Sessions = ses.rows, ses.sessions
	st.Touchpoints, st.PageViews = int(ses.touchpoints.NumRows()), int(ses.pageViews.NumRows())
	evCols.release() // the later steps read no event
	if in.EventsDone != nil {
		in.EventsDone()
	}

	cv, err := step(ctx, r, "conversions", func() (*conversions, error) {
		cv := collectConversions(r, crm, id, ses.conversions)
		out.Tables[load.FctConversion] = conversionTable(r, cv, id.persons)
		return cv, nil
	})
	if err != nil {
		return err
	}
	st.Conversions = int(out.Tables[load.FctConversion].NumRows())

	attr, err := step(ctx, r, "attribution", func() (*attributed, error) {
		return attribute(ctx, r, ses.touches, cv, id.persons)
	})
	if err != nil {
		return err
	}
	out.Tables[load.FctAttribution], out.Tables[load.FctMarkovRemovalEffect] = attr.credits, attr.removalEffects
	st.Journeys, st.ConversionsWithoutTouch = attr.journeys, attr.withoutTouch

	ps, err := step(ctx, r, "persons", func() (*personTables, error) {
		return persons(r, id, &ses.activity, cv, crm.contacts), nil
	})
	if err != nil {
		return err
	}
	out.Tables[load.DimPerson], out.Tables[load.BridgeIdentity] = ps.dim, ps.bridge

	sp, err := step(ctx, r, "spend", func() (arrow.Table, error) {
		return spend(r, readSpend(cols, in.Spend)), nil
	})
	if err != nil {
		return err
	}
	out.Tables[load.FctSpend] = sp
	st.SpendRows = int(sp.NumRows())

	ds, err := step(ctx, r, "deal stages", func() (arrow.Table, error) {
		if in.DealStages == nil {
			return newTable(r.opt.Mem, load.FctDealStage).table(), nil
		}
		return dealStages(r, readDealStages(cols, in.DealStages), crm.deals, id), nil
	})
	if err != nil {
		return err
	}
	out.Tables[load.FctDealStage] = ds
	return nil
}

// run is what every step reads and none changes: the options and the range.
type run struct {
	opt Options
	// from and end bound the range in µs: [from, end).
	from, end int64
}

func (r *run) inRange(us int64) bool { return us >= r.from && us < r.end }

// step runs one step of Build: it stops first if ctx is done, names the step in its
// error and logs its time.
func step[T any](ctx context.Context, r *run, name string, fn func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	t0 := time.Now()
	v, err := fn()
	if err != nil {
		return zero, fmt.Errorf("transform: %s: %w", name, err)
	}
	r.opt.Logger.Debug("transform step", "step", name, "seconds", time.Since(t0).Seconds())
	return v, nil
}
