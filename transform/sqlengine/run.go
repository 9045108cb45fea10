package sqlengine

import (
	"context"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/transform"
	"closedloop/transform/channel"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
	"closedloop/transform/persona"
)

// Executor runs a run's SQL where the data lives (BigQuery, or DuckDB in the tests and
// the benchmark) and moves the small tables between it and Go.
type Executor interface {
	// Exec runs one statement.
	Exec(ctx context.Context, st Statement) error
	// Query runs a query and calls row once per result row, after scanning the row's
	// columns into dest (pointers to string, int64 or float64).
	Query(ctx context.Context, step, sql string, dest []any, row func() error) error
	// Put replaces work table name with rows (values string, int64 or float64 as cols
	// say, nil for NULL), read once as they come: a row's slice may be reused.
	Put(ctx context.Context, name string, cols []Column, rows iter.Seq[[]any]) error
}

// Kind is the type of a Column.
type Kind int

// The types of the tables Go writes.
const (
	String Kind = iota
	Int
	Float
)

// Column is a column of a table Put writes.
type Column struct {
	Name string
	Kind Kind
}

// goTables are the work tables Go fills between the steps: one row per distinct key,
// per conversion or per touch Go holds.
var goTables = map[string][]Column{
	// cl_devices: each combination of identifiers events carry, its device and person.
	"cl_devices": {{"anon", String}, {"user_id", String}, {"email", String}, {"dev", Int}, {"person_id", String}},
	// cl_referrers: each referrer (without its query string) of each site, classified.
	"cl_referrers": {{"ref_base", String}, {"page_origin", String}, {"ref_host", String}, {"ref_source", String},
		{"ref_medium", String}, {"ref_engine", String}, {"kw1", String}, {"kw2", String}},
	// cl_channels: each traffic of a session, its channel and completed term.
	"cl_channels": {{"t_source", String}, {"t_medium", String}, {"t_campaign", String}, {"t_term", String},
		{"t_content", String}, {"t_click", String}, {"t_platform", String}, {"channel", String}, {"term_out", String}},
	// cl_conversions: every conversion, where its journey starts, the times that mark
	// its milestones (0: none) and whether it is credited this run (1).
	"cl_conversions": {{"conversion_id", String}, {"person_id", String}, {"conversion_type", String}, {"at_us", Int},
		{"from_us", Int}, {"revenue", Float}, {"lead_ref", Int}, {"opp_ref", Int}, {"won_ref", Int}, {"attributed", Int}},
	// cl_go_touches: the touches Go holds (a CRM's activities), for the journeys.
	"cl_go_touches": {{"touchpoint_id", String}, {"person_id", String}, {"at_us", Int}, {"channel", String},
		{"campaign", String}, {"term", String}},
	// cl_weights: the weight each model gives each position of each journey shape.
	"cl_weights": {{"conversion_type", String}, {"path", String}, {"lead_idx", Int}, {"opp_idx", Int}, {"won_idx", Int},
		{"model", String}, {"pos", Int}, {"weight", Float}},
	// cl_models: the run's models, for the rows of conversions without touches.
	"cl_models": {{"model", String}},
}

// Options are the Go steps' rules: the same values the local engine runs with.
type Options struct {
	Mem      memory.Allocator
	Channels *channel.Grouper
	Logger   *slog.Logger
	// Input names the source in the identify rows the Stream is given.
	Input string
}

// Engine runs the per-event steps of a run as SQL with an Executor: the
// transform.Pushdown of the bigquery engine. Start flattens the export and gives the
// Stream its identifiers; the Stream's Finish then calls Sessions, Journeys and
// Credits.
type Engine struct {
	ex     Executor
	cfg    Config
	opt    Options
	log    *slog.Logger
	combos []combo
	shapes []transform.JourneyShape
	// Events and Rejected count the export's rows read that the steps use and leave
	// out; Rejections are the latter per export day and reason.
	Events, Rejected int64
	Rejections       []extract.Rejection
	// Seconds is each step's time.
	Seconds map[string]float64
}

// combo is a combination of identifiers events carry together.
type combo struct{ anon, user, email string }

// New returns an Engine running cfg's SQL with ex.
func New(ex Executor, cfg Config, opt Options) *Engine {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Mem == nil {
		opt.Mem = memory.DefaultAllocator
	}
	if cfg.Now.IsZero() {
		cfg.Now = time.Now() // once: every statement of the run bounds event times alike
	}
	return &Engine{ex: ex, cfg: cfg, opt: opt, log: log, Seconds: map[string]float64{}}
}

func (e *Engine) exec(ctx context.Context, p Phase) error {
	sts, err := e.cfg.Statements(p)
	if err != nil {
		return err
	}
	for _, s := range sts {
		t0 := time.Now()
		if err := e.ex.Exec(ctx, s); err != nil {
			return fmt.Errorf("sqlengine: step %s: %w", s.Step, err)
		}
		e.Seconds[s.Step] = time.Since(t0).Seconds()
		e.log.Debug("sqlengine step", "step", s.Step, "seconds", e.Seconds[s.Step])
	}
	return nil
}

func (e *Engine) query(ctx context.Context, name, text string, dest []any, row func() error) error {
	q, err := e.cfg.query(name, text)
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := e.ex.Query(ctx, name, q, dest, row); err != nil {
		return fmt.Errorf("sqlengine: query %s: %w", name, err)
	}
	e.Seconds[name] += time.Since(t0).Seconds()
	return nil
}

func (e *Engine) put(ctx context.Context, name string, rows [][]any) error {
	return e.putSeq(ctx, name, slices.Values(rows))
}

func (e *Engine) putSeq(ctx context.Context, name string, rows iter.Seq[[]any]) error {
	t0 := time.Now()
	if err := e.ex.Put(ctx, name, goTables[name], rows); err != nil {
		return fmt.Errorf("sqlengine: writing %s: %w", name, err)
	}
	e.Seconds["put "+name] = time.Since(t0).Seconds()
	return nil
}

var (
	evInput    = extract.Col(extract.TableEvents, "input")
	evLocation = extract.Col(extract.TableEvents, "location")
	evAt       = extract.Col(extract.TableEvents, "occurred_at")
	evKind     = extract.Col(extract.TableEvents, "kind")
	evName     = extract.Col(extract.TableEvents, "event_name")
	evAnon     = extract.Col(extract.TableEvents, "anonymous_id")
	evUser     = extract.Col(extract.TableEvents, "user_id")
	evEmail    = extract.Col(extract.TableEvents, "email")
	evConv     = extract.Col(extract.TableEvents, "is_conversion")
)

// Start flattens the export's days, gives s the distinct identifiers the events carry
// together (as identify rows, so that identity is the local engine's) and classifies
// the distinct referrers.
func (e *Engine) Start(ctx context.Context, s *transform.Stream) error {
	if err := e.exec(ctx, PhaseFlatten); err != nil {
		return err
	}
	if err := e.rejects(ctx); err != nil {
		return err
	}
	c := extract.NewCollector(e.opt.Mem)
	defer c.Release()
	b := extract.NewBuilder(e.opt.Mem, extract.TableEvents, c)
	defer b.Release()
	var anon, user, email string
	var at int64
	err := e.query(ctx, "identifiers", idsQuery, []any{&anon, &user, &email, &at}, func() error {
		e.combos = append(e.combos, combo{anon, user, email})
		b.Str(evInput, e.opt.Input)
		b.Str(evLocation, "bigquery: distinct identifiers of the export's events")
		b.Time(evAt, time.UnixMicro(at).UTC())
		b.Str(evKind, extract.KindIdentify)
		b.Str(evName, "identify")
		b.Str(evAnon, anon)
		b.Str(evUser, user)
		b.Str(evEmail, email)
		b.Bool(evConv, false)
		return b.End(ctx)
	})
	if err != nil {
		return err
	}
	if err := b.Flush(ctx); err != nil {
		return err
	}
	ids := c.Table(extract.TableEvents)
	err = s.Add(ctx, ids)
	ids.Release()
	if err != nil {
		return err
	}
	return e.referrers(ctx)
}

// rejects reads how many rows of each export day the steps leave out, and why: one
// rejection per day and reason (package ga4 rejects them one by one; here they stay
// in BigQuery, counted).
func (e *Engine) rejects(ctx context.Context) error {
	var day, reason string
	var n int64
	err := e.query(ctx, "rejects", rejectsQuery, []any{&day, &reason, &n}, func() error {
		e.Rejected += n
		e.Rejections = append(e.Rejections, extract.Rejection{Input: e.opt.Input,
			Location: "bigquery://" + strings.Replace(e.cfg.Export, ".", "/", 1) + "/events_" + day,
			Reason:   fmt.Sprintf("%d rows: %s; left out", n, reason)})
		return nil
	})
	if err != nil {
		return err
	}
	return e.query(ctx, "events", eventsQuery, []any{&e.Events}, func() error { return nil })
}

// referrers classifies the distinct referrers (without their query strings) with
// package normalize and writes cl_referrers.
func (e *Engine) referrers(ctx context.Context) error {
	var rows [][]any
	var base, origin string
	err := e.query(ctx, "referrers", referrersQuery, []any{&base, &origin}, func() error {
		r := normalize.ClassifyReferrer(base, origin)
		kw := append(r.KeywordParams, "", "")
		rows = append(rows, []any{base, origin, r.Host, r.Source, r.Medium, r.Engine, kw[0], kw[1]})
		return nil
	})
	if err != nil {
		return err
	}
	return e.put(ctx, "cl_referrers", rows)
}

// Sessions writes each combination's device and person (cl_devices), runs the
// sessions steps, groups the distinct traffic into channels with the run's rules
// (cl_channels: the local engine's Grouper, one source of truth), writes the
// touchpoints and page views, and reads back what the later steps need.
func (e *Engine) Sessions(ctx context.Context, g *identity.Graph, p *identity.Persons, needs persona.Needs) (*transform.Pushed, error) {
	rows := make([][]any, 0, len(e.combos))
	for _, c := range e.combos {
		dev := g.Lookup(identity.AnonymousID, c.anon)
		if dev < 0 {
			dev = g.Lookup(identity.UserID, c.user)
		}
		if dev < 0 {
			dev = g.Lookup(identity.Email, c.email)
		}
		if dev < 0 {
			continue // no identifier survives normalizing: the local engine drops the event too
		}
		rows = append(rows, []any{c.anon, c.user, c.email, int64(dev), p.ID(p.Of(dev))})
	}
	ids := len(e.combos)
	e.combos = nil
	if err := e.put(ctx, "cl_devices", rows); err != nil {
		return nil, err
	}
	if err := e.exec(ctx, PhaseSessions); err != nil {
		return nil, err
	}
	if err := e.channels(ctx); err != nil {
		return nil, err
	}
	if err := e.exec(ctx, PhaseTables); err != nil {
		return nil, err
	}
	res := &transform.Pushed{LastSeen: map[int32]int64{}, IdentifierRows: ids}
	var events, sessions, tps, pvs int64
	if err := e.query(ctx, "counts", countsQuery, []any{&events, &sessions, &tps, &pvs}, func() error { return nil }); err != nil {
		return nil, err
	}
	res.Events, res.Sessions, res.Touchpoints, res.PageViews = int(events), int(sessions), int(tps), int(pvs)
	var dev, at int64
	if err := e.query(ctx, "last seen", lastSeenQuery, []any{&dev, &at}, func() error {
		res.LastSeen[int32(dev)] = at
		return nil
	}); err != nil {
		return nil, err
	}
	if needs.Pages || needs.Downloads || needs.Events {
		c := e.cfg
		c.needs = needs
		q, err := c.query("seen", seenQuery)
		if err != nil {
			return nil, err
		}
		var kind, value string
		if err := e.ex.Query(ctx, "seen", q, []any{&dev, &kind, &value}, func() error {
			res.Seen = append(res.Seen, transform.PushedSeen{Device: int32(dev), Kind: kind, Value: value})
			return nil
		}); err != nil {
			return nil, fmt.Errorf("sqlengine: query seen: %w", err)
		}
	}
	if len(e.cfg.MicroConversions) > 0 {
		var anon, name, currency string
		var value float64
		if err := e.query(ctx, "conversions", conversionsQuery, []any{&dev, &at, &anon, &name, &value, &currency}, func() error {
			res.Conversions = append(res.Conversions, transform.PushedEventConversion{Device: int32(dev), At: at, Anon: anon,
				Name: name, Value: value, Currency: currency})
			return nil
		}); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// channels groups the sessions' distinct traffic into channels with the run's rules
// and completes missing search terms, and writes cl_channels.
func (e *Engine) channels(ctx context.Context) error {
	direct := normalize.Traffic{Source: "(direct)", Medium: "(none)"}
	rows := [][]any{{direct.Source, direct.Medium, "", "", "", "", "", e.opt.Channels.GroupTouch(direct.Touch()), ""}}
	var t normalize.Traffic
	err := e.query(ctx, "traffic", trafficQuery, []any{&t.Source, &t.Medium, &t.Campaign, &t.Term, &t.Content, &t.ClickID, &t.SourcePlatform}, func() error {
		in := t
		in.Explicit = true
		in.CompleteTerm()
		rows = append(rows, []any{t.Source, t.Medium, t.Campaign, t.Term, t.Content, t.ClickID, t.SourcePlatform,
			e.opt.Channels.GroupTouch(in.Touch()), in.Term})
		return nil
	})
	if err != nil {
		return err
	}
	return e.put(ctx, "cl_channels", rows)
}

// sep is the separator of a path's channels in the SQL's STRING_AGG.
const sep = "\x1f"

// Journeys writes the conversions and Go's touches, builds every journey in SQL and
// reads back the distinct journey shapes to credit and the paths to fit on.
func (e *Engine) Journeys(ctx context.Context, convs []transform.PushedConversion, touches []transform.PushedTouch) (*transform.PushedJourneys, error) {
	rows := make([][]any, len(convs))
	for i, c := range convs {
		var rev any
		if !math.IsNaN(c.Revenue) {
			rev = c.Revenue
		}
		att := int64(0)
		if c.Attributed {
			att = 1
		}
		rows[i] = []any{c.ID, c.Person, c.Type, c.At, c.From, rev, c.LeadRef, c.OpportunityRef, c.WonRef, att}
	}
	if err := e.put(ctx, "cl_conversions", rows); err != nil {
		return nil, err
	}
	rows = make([][]any, len(touches))
	for i, t := range touches {
		rows[i] = []any{t.ID, t.Person, t.At, t.Channel, t.Campaign, t.Term}
	}
	if err := e.put(ctx, "cl_go_touches", rows); err != nil {
		return nil, err
	}
	if err := e.exec(ctx, PhaseJourneys); err != nil {
		return nil, err
	}
	res := &transform.PushedJourneys{Paths: map[string][]transform.PushedPath{}}
	var typ, path string
	var lead, opp, won int64
	if err := e.query(ctx, "journey shapes", shapesQuery, []any{&typ, &path, &lead, &opp, &won}, func() error {
		res.Shapes = append(res.Shapes, transform.JourneyShape{Type: typ, Channels: strings.Split(path, sep),
			Lead: int(lead), Opportunity: int(opp), Won: int(won)})
		return nil
	}); err != nil {
		return nil, err
	}
	var n int64
	var value float64
	if err := e.query(ctx, "converting paths", convPathsQuery, []any{&typ, &path, &n, &value}, func() error {
		res.Paths[typ] = append(res.Paths[typ], transform.PushedPath{Channels: strings.Split(path, sep), Conversions: float64(n), Value: value})
		return nil
	}); err != nil {
		return nil, err
	}
	if err := e.query(ctx, "null paths", nullPathsQuery, []any{&typ, &path, &n}, func() error {
		res.Paths[typ] = append(res.Paths[typ], transform.PushedPath{Channels: strings.Split(path, sep), Nulls: float64(n)})
		return nil
	}); err != nil {
		return nil, err
	}
	e.shapes = res.Shapes
	return res, nil
}

// Credits writes the weights of each journey shape and the run's models, and builds
// fct_attribution's rows in SQL (cl_attribution).
func (e *Engine) Credits(ctx context.Context, weights []transform.ShapeWeight, halfLife float64, models []string) (int, int, error) {
	rows := func(yield func([]any) bool) { // millions of rows for a large run: made as they are written
		row := make([]any, 8)
		for _, w := range weights {
			sh := e.shapes[w.Shape]
			row[0], row[1], row[2], row[3], row[4], row[5] = sh.Type, strings.Join(sh.Channels, sep), int64(sh.Lead),
				int64(sh.Opportunity), int64(sh.Won), w.Model
			for pos, v := range w.Weights {
				if v > 0 {
					row[6], row[7] = int64(pos), v
					if !yield(row) {
						return
					}
				}
			}
		}
	}
	if err := e.putSeq(ctx, "cl_weights", rows); err != nil {
		return 0, 0, err
	}
	var ms [][]any
	for _, m := range models {
		ms = append(ms, []any{m})
	}
	if err := e.put(ctx, "cl_models", ms); err != nil {
		return 0, 0, err
	}
	e.cfg.HalfLife = halfLife
	if err := e.exec(ctx, PhaseCredits); err != nil {
		return 0, 0, err
	}
	var journeys, without int64
	if err := e.query(ctx, "credit counts", creditCountsQuery, []any{&journeys, &without}, func() error { return nil }); err != nil {
		return 0, 0, err
	}
	return int(journeys), int(without), nil
}

// workTables are the tables the statements create.
var workTables = []string{"cl_events", "cl_classified", "cl_sessions", "cl_touches", "cl_touchpoints", "cl_page_views",
	"cl_journeys", "cl_journey_shapes", "cl_attribution"}

// Tables are the contract tables the engine builds, each as the query that selects
// its rows of the range (the table's columns in order) from the work tables: the
// loader appends them to the days it replaces.
func (e *Engine) Tables() map[string]string {
	t := func(name string) string { return e.cfg.table(e.cfg.Staging, name) }
	return map[string]string{
		"fct_touchpoint": "SELECT touchpoint_id, person_id, anonymous_id, session_id, occurred_at, channel, source, medium, campaign, " +
			"term, content, landing_page, referrer_host, event_name FROM " + t("cl_touchpoints"),
		"fct_page_view": "SELECT person_id, anonymous_id, session_id, occurred_at, page_location, page_path, page_title, referrer_host FROM " +
			t("cl_page_views"),
		"fct_attribution": "SELECT conversion_id, touchpoint_id, model, credit, revenue_credit, channel, campaign, term, conversion_type, " +
			"occurred_at, touch_occurred_at, person_id, scope, touch_person_id FROM " + t("cl_attribution"),
	}
}

// Cleanup drops the work tables; a failure is logged (BigQuery's expire by themselves).
func (e *Engine) Cleanup(ctx context.Context) {
	names := slices.Clone(workTables)
	for name := range goTables {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		st := Statement{Step: "drop " + name, SQL: "DROP TABLE IF EXISTS " + e.cfg.table(e.cfg.Staging, name)}
		if err := e.ex.Exec(ctx, st); err != nil {
			e.log.Warn("sqlengine: work table left (it expires in two days)", "table", name, "error", err)
		}
	}
}

// Script is every statement and query of a run, in run order, as rendered before the
// run (closedloop run --dry-run prints it).
func (e *Engine) Script() ([]Statement, error) {
	var out []Statement
	add := func(p Phase) error {
		sts, err := e.cfg.Statements(p)
		out = append(out, sts...)
		return err
	}
	query := func(name string) error {
		q, err := e.cfg.query(name, queries[name])
		out = append(out, Statement{Step: name, SQL: q})
		return err
	}
	for _, step := range []func() error{
		func() error { return add(PhaseFlatten) }, func() error { return query("rejects") },
		func() error { return query("events") }, func() error { return query("identifiers") },
		func() error { return query("referrers") }, func() error { return add(PhaseSessions) },
		func() error { return query("traffic") }, func() error { return add(PhaseTables) },
		func() error { return query("counts") }, func() error { return query("last seen") },
		func() error { return query("conversions") }, func() error { return add(PhaseJourneys) },
		func() error { return query("journey shapes") }, func() error { return query("converting paths") },
		func() error { return query("null paths") }, func() error { return add(PhaseCredits) },
		func() error { return query("credit counts") },
	} {
		if err := step(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
