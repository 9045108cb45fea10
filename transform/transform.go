package transform

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
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
	// Stage, when set, is told each step's wall time as it ends (identity, sessions,
	// page views, conversions, journeys, attribution, persons, spend, deal stages)
	// and each model's as "model:NAME": its fit on the paths plus its weighing
	// of journeys, summed over the cores that weigh them at once (the models take
	// turns on each journey) and over the scopes. Called from Finish's goroutine.
	Stage func(name string, d time.Duration)
	// TempDir holds the temporary files of the tables that outgrow memory (page
	// views, touchpoints, credits); "" is the system's (TMPDIR).
	TempDir string
	// Since, when set, makes the run incremental: the touchpoints and conversions of
	// events before it are the warehouse's state, given to the Stream before any event
	// (it is a load.StateSink), with every identifier and identity edge; events from
	// a day before Since on are walked (so that sessions crossing into it are whole),
	// earlier ones only add their identifiers.
	Since time.Time
	// SpillBytes is how many bytes of such a table are held in memory before it goes
	// to a temporary file; 0 is DefaultSpillBytes.
	SpillBytes int64
	// Pushdown, when set, runs the per-event steps where the events live (package
	// sqlengine, the bigquery engine): the Stream's events are then the identifiers
	// the engine found and other sources' rows (see Pushdown).
	Pushdown Pushdown
	// Scopes are the journey scopes fct_attribution is written for (see the package
	// documentation); nil is ScopePerson only. A Pushdown renders ScopePerson only.
	Scopes []Scope
	// AccountFromEmail gives a person without a CRM account the account of their
	// business e-mail domain: the CRM account with that domain, else an inferred
	// "domain:DOMAIN" one. Free-mail domains never make an account.
	AccountFromEmail bool
	// FreeMailDomains are more free-mail or ISP domains besides the built-in list
	// ("example.com", or "name.*" for every country's domain of a provider).
	FreeMailDomains []string
}

// Inputs are the canonical tables of the run (schemas of package extract).
type Inputs struct {
	Events, Contacts, Deals, DealContacts, Spend arrow.Table
	// DealStages is the CRMs' deal stage history; nil means none.
	DealStages arrow.Table
	// Accounts is the CRMs' accounts (extract.AccountsSchema); nil means none.
	Accounts arrow.Table
	// EventsDone, when set, is called once Build has read Events, so that the caller
	// can free them before the later steps and the loads.
	EventsDone func()
}

// Output holds one table per warehouse table of load.Tables (run_log and rejected_rows
// excepted: the runner writes those). Release frees them.
type Output struct {
	Tables map[string]arrow.Table
	Stats  Stats
	// Spilled holds the tables too large to hold in memory (fct_page_view of a large
	// run), read back from a temporary file; such a table is not in Tables.
	Spilled map[string]*Spilled
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
	// FirstWritten is the time of the earliest row written to a date-keyed table
	// (zero when none): a run over every day (Options.Range from long ago) tells the
	// loader the days it wrote with it.
	FirstWritten time.Time
	// FirstEvent is the time of the earliest event read (zero when none).
	FirstEvent time.Time
	// AttributionFrom, when set, is the day fct_attribution was written from, before
	// the range: an incremental run whose identity merges reached older conversions
	// writes their days' credits again (the loader replaces those days of the table).
	AttributionFrom time.Time
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
	// Earlier are rows from before an incremental run's events (Options.Since): their
	// identifiers count, their touches are the warehouse's.
	Earlier int `json:"earlier,omitempty"`
}

// Release frees every table.
func (o *Output) Release() {
	for _, t := range o.Tables {
		t.Release()
	}
	o.Tables = nil
	for _, s := range o.Spilled {
		s.Release()
	}
	o.Spilled = nil
	if o.Aliases != nil {
		o.Aliases.Release()
		o.Aliases = nil
	}
}

// Build runs every step (see the package documentation) over one run's inputs: a
// Stream given in.Events as one chunk.
func Build(ctx context.Context, in Inputs, opt Options) (*Output, error) {
	s := NewStream(opt)
	if in.Events != nil {
		if err := s.Add(ctx, in.Events); err != nil {
			s.Release()
			return nil, err
		}
	}
	if in.EventsDone != nil {
		in.EventsDone()
	}
	in.Events = nil
	return s.Finish(ctx, in)
}

// run is what every step reads: the options and the range.
type run struct {
	opt Options
	// from and end bound the range in µs: [from, end).
	from, end int64
	// first is the earliest time of a row written (Stats.FirstWritten).
	first atomic.Int64
	// attrFrom starts the conversions attribution writes (µs): from, or earlier when
	// an identity merge reached back to older conversions (Stats.AttributionFrom).
	attrFrom int64
}

// stage tells Options.Stage of a step's time.
func (r *run) stage(name string, d time.Duration) {
	if r.opt.Stage != nil {
		r.opt.Stage(name, d)
	}
}

// attributes tells whether the credits of a conversion at us are written.
func (r *run) attributes(us int64) bool {
	if us >= r.from {
		return r.inRange(us)
	}
	return us >= r.attrFrom
}

// inRange tells whether a row of time us goes to the tables: only rows it says so of
// are written.
func (r *run) inRange(us int64) bool {
	if us < r.from || us >= r.end {
		return false
	}
	for f := r.first.Load(); us < f && !r.first.CompareAndSwap(f, us); f = r.first.Load() {
	}
	return true
}

// put adds table name, held in memory (t) or spilled (sp), and returns its rows.
func (o *Output) put(name string, t arrow.Table, sp *Spilled) int {
	if sp != nil {
		if o.Spilled == nil {
			o.Spilled = map[string]*Spilled{}
		}
		o.Spilled[name] = sp
		return int(sp.NumRows())
	}
	o.Tables[name] = t
	return int(t.NumRows())
}

// Take removes table name from o and hands it over, in memory or spilled (one of the
// two is nil; both when o has no such table): the caller releases it, so a table can
// be let go as soon as it is loaded.
func (o *Output) Take(name string) (arrow.Table, *Spilled) {
	t, sp := o.Tables[name], o.Spilled[name]
	delete(o.Tables, name)
	delete(o.Spilled, name)
	return t, sp
}

// Table returns table name, reading a spilled one back into memory; the caller
// releases it.
func (o *Output) Table(name string) (arrow.Table, error) {
	if sp := o.Spilled[name]; sp != nil {
		return sp.Table()
	}
	t, ok := o.Tables[name]
	if !ok {
		return nil, fmt.Errorf("transform: no table %s", name)
	}
	t.Retain()
	return t, nil
}

// Reader returns table name's rows batch by batch, spilled or not; the caller
// releases it.
func (o *Output) Reader(name string) (array.RecordReader, error) {
	if sp := o.Spilled[name]; sp != nil {
		return sp.Reader()
	}
	t, ok := o.Tables[name]
	if !ok {
		return nil, fmt.Errorf("transform: no table %s", name)
	}
	return array.NewTableReader(t, 1<<16), nil
}
