package sqlengine

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"closedloop/transform/channel"
	"closedloop/transform/identity"
	"closedloop/transform/normalize"
)

// Executor runs a run's SQL where the data lives (BigQuery, or DuckDB in the tests and
// the benchmark) and moves the small tables between it and Go.
type Executor interface {
	// Exec runs one statement.
	Exec(ctx context.Context, st Statement) error
	// Query runs a query and calls row once per result row, after scanning the row's
	// columns into dest (pointers to string, int64 or float64).
	Query(ctx context.Context, step, sql string, dest []any, row func() error) error
	// Put replaces work table name with rows (values string or int64, as cols say).
	Put(ctx context.Context, name string, cols []Column, rows [][]any) error
}

// Column is a column of a table Put writes.
type Column struct {
	Name string
	Int  bool // INT64, else STRING
}

// goTables are the work tables Go fills between the phases: one row per distinct key.
var goTables = map[string][]Column{
	// cl_devices: each combination of identifiers events carry, its device and person.
	"cl_devices": {{Name: "anon"}, {Name: "user_id"}, {Name: "email"}, {Name: "dev", Int: true}, {Name: "person_id"}},
	// cl_referrers: each referrer (without its query string) of each site, classified.
	"cl_referrers": {{Name: "ref_base"}, {Name: "page_origin"}, {Name: "ref_host"}, {Name: "ref_source"},
		{Name: "ref_medium"}, {Name: "ref_engine"}, {Name: "kw1"}, {Name: "kw2"}},
	// cl_channels: each traffic of a session, its channel and completed term.
	"cl_channels": {{Name: "t_source"}, {Name: "t_medium"}, {Name: "t_campaign"}, {Name: "t_term"}, {Name: "t_content"},
		{Name: "t_click"}, {Name: "t_platform"}, {Name: "channel"}, {Name: "term_out"}},
}

// Options are the Go steps' rules: the same values the local engine runs with.
type Options struct {
	Identity identity.Options
	// Resolve adds what the CRM knows to the graph the events built (contacts, deals)
	// and resolves it into persons; nil resolves the events' graph with
	// identity.DefaultLimits.
	Resolve  func(g *identity.Graph) (*identity.Persons, error)
	Channels *channel.Grouper
	Logger   *slog.Logger
}

// Stats are a run's counts, for its log.
type Stats struct {
	IDRows, Devices, Persons, Referrers, Traffic int
	Seconds                                      map[string]float64
}

// Run runs the SQL of cfg with ex: the events are flattened, their distinct
// identifiers resolved into persons in Go, their referrers classified in Go, the
// sessions assigned in SQL, their distinct traffic grouped into channels in Go, and
// fct_touchpoint's and fct_page_view's rows of the range written to the work tables
// cl_touchpoints and cl_page_views.
func Run(ctx context.Context, ex Executor, cfg Config, opt Options) (*Stats, error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	st := &Stats{Seconds: map[string]float64{}}
	exec := func(p Phase) error {
		sts, err := cfg.Statements(p)
		if err != nil {
			return err
		}
		for _, s := range sts {
			t0 := time.Now()
			if err := ex.Exec(ctx, s); err != nil {
				return fmt.Errorf("sqlengine: step %s: %w", s.Step, err)
			}
			st.Seconds[s.Step] = time.Since(t0).Seconds()
			log.Debug("sqlengine step", "step", s.Step, "seconds", st.Seconds[s.Step])
		}
		return nil
	}
	timed := func(step string, fn func() error) error {
		t0 := time.Now()
		if err := fn(); err != nil {
			return fmt.Errorf("sqlengine: step %s: %w", step, err)
		}
		st.Seconds[step] = time.Since(t0).Seconds()
		return nil
	}
	if err := exec(PhaseFlatten); err != nil {
		return nil, err
	}
	if err := timed("identity", func() error { return devices(ctx, ex, &cfg, opt, st) }); err != nil {
		return nil, err
	}
	if err := timed("referrers", func() error { return referrers(ctx, ex, &cfg, st) }); err != nil {
		return nil, err
	}
	if err := exec(PhaseSessions); err != nil {
		return nil, err
	}
	if err := timed("channels", func() error { return channels(ctx, ex, &cfg, opt, st) }); err != nil {
		return nil, err
	}
	if err := exec(PhaseTables); err != nil {
		return nil, err
	}
	return st, nil
}

// devices resolves the events' identifiers into persons as the local engine does
// (package transform's eventNodes: the cookie, user id and e-mail an event carries
// are tied together), and writes cl_devices: each combination's device (the node
// sessions are kept by) and person.
func devices(ctx context.Context, ex Executor, cfg *Config, opt Options, st *Stats) error {
	q, err := cfg.query("identifiers", idsQuery)
	if err != nil {
		return err
	}
	g := identity.New(opt.Identity)
	type combo struct {
		anon, user, email string
		dev               int32
	}
	var combos []combo
	var anon, user, email string
	var at int64
	err = ex.Query(ctx, "identifiers", q, []any{&anon, &user, &email, &at}, func() error {
		a := g.Node(identity.AnonymousID, anon, at)
		u := g.Node(identity.UserID, user, at)
		e := g.Node(identity.Email, email, at)
		g.Edge(a, u, identity.EventUserID, at)
		g.Edge(a, e, identity.EventEmail, at)
		g.Edge(u, e, identity.EventEmail, at)
		dev := a
		if dev < 0 {
			dev = u
		}
		if dev < 0 {
			dev = e
		}
		combos = append(combos, combo{anon, user, email, dev})
		return nil
	})
	if err != nil {
		return err
	}
	var persons *identity.Persons
	if opt.Resolve != nil {
		if persons, err = opt.Resolve(g); err != nil {
			return err
		}
	} else {
		persons = g.Resolve(identity.DefaultLimits)
	}
	rows := make([][]any, 0, len(combos))
	for _, c := range combos {
		if c.dev < 0 {
			continue // no identifier survives normalizing: the local engine drops the event too
		}
		rows = append(rows, []any{c.anon, c.user, c.email, int64(c.dev), persons.ID(persons.Of(c.dev))})
	}
	st.IDRows, st.Devices, st.Persons = len(combos), g.Len(), persons.Len()
	return ex.Put(ctx, "cl_devices", goTables["cl_devices"], rows)
}

// referrers classifies the distinct referrers (without their query strings) with
// package normalize and writes cl_referrers.
func referrers(ctx context.Context, ex Executor, cfg *Config, st *Stats) error {
	q, err := cfg.query("referrers", referrersQuery)
	if err != nil {
		return err
	}
	var rows [][]any
	var base, origin string
	err = ex.Query(ctx, "referrers", q, []any{&base, &origin}, func() error {
		r := normalize.ClassifyReferrer(base, origin)
		kw := append(r.KeywordParams, "", "")
		rows = append(rows, []any{base, origin, r.Host, r.Source, r.Medium, r.Engine, kw[0], kw[1]})
		return nil
	})
	if err != nil {
		return err
	}
	st.Referrers = len(rows)
	return ex.Put(ctx, "cl_referrers", goTables["cl_referrers"], rows)
}

// channels groups the sessions' distinct traffic into channels with the run's rules
// (the local engine's Grouper: one source of truth) and completes missing search
// terms, and writes cl_channels.
func channels(ctx context.Context, ex Executor, cfg *Config, opt Options, st *Stats) error {
	q, err := cfg.query("traffic", trafficQuery)
	if err != nil {
		return err
	}
	direct := normalize.Traffic{Source: "(direct)", Medium: "(none)"}
	rows := [][]any{{direct.Source, direct.Medium, "", "", "", "", "", opt.Channels.GroupTouch(direct.Touch()), ""}}
	var t normalize.Traffic
	err = ex.Query(ctx, "traffic", q, []any{&t.Source, &t.Medium, &t.Campaign, &t.Term, &t.Content, &t.ClickID, &t.SourcePlatform}, func() error {
		in := t
		in.Explicit = true
		in.CompleteTerm()
		rows = append(rows, []any{t.Source, t.Medium, t.Campaign, t.Term, t.Content, t.ClickID, t.SourcePlatform,
			opt.Channels.GroupTouch(in.Touch()), in.Term})
		return nil
	})
	if err != nil {
		return err
	}
	st.Traffic = len(rows)
	return ex.Put(ctx, "cl_channels", goTables["cl_channels"], rows)
}
