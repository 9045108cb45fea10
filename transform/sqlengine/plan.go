package sqlengine

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"closedloop/extract"
	"closedloop/transform"
	"closedloop/transform/normalize"
	"closedloop/transform/persona"
)

// Config is what the SQL of a run is rendered from.
type Config struct {
	Dialect Dialect
	// Export is the GA4 export: BigQuery's "project.dataset" holding the events_YYYYMMDD
	// tables; in DuckDB a table with the export's columns and a _table_suffix column
	// (YYYYMMDD), as a wildcard table has.
	Export string
	// Staging holds the run's work tables (BigQuery "project.dataset"; a DuckDB schema,
	// "" for the default one); Warehouse the contract tables.
	Staging, Warehouse string
	// Range is the days whose rows are written; Read the days of the export read (the
	// range and the lookback before it).
	Range, Read extract.Range
	// The rules of the local engine (transform.Options).
	SessionTimeout              time.Duration
	TouchEvents                 []string
	KeepSessionOnCampaignChange bool
	MicroConversions            []string
	AttributeSalesTouches       bool
	Lookback                    time.Duration

	// Since, when set, makes the run incremental (transform.Options.Since): the touches
	// before it are the warehouse's, and the events before it less a day only add
	// identifiers (Read should start two days before it).
	Since time.Time

	// Now is when the run started: an event after it plus extract.ClockSkew is
	// rejected, as package ga4 does. Zero means the time the SQL is rendered.
	Now time.Time

	// HalfLife is time_decay's half-life in µs (0: not a model of the run), set when
	// the credits are rendered.
	HalfLife float64
	needs    persona.Needs // what the seen query reads
}

func (c *Config) table(dataset, name string) string {
	switch {
	case c.Dialect == BigQuery && dataset != "":
		return "`" + dataset + "`." + name
	case dataset != "":
		return dataset + "." + name
	}
	return name
}

// Statement is one SQL statement of a run, named by its step.
type Statement struct {
	Step string
	SQL  string
}

// data is what the templates read besides the functions.
type data struct {
	*Config
	ReadFrom, ReadTo      string // YYYYMMDD
	MinMicros, MaxMicros  int64  // event_timestamp's plausible bounds (package ga4)
	FromMicros, EndMicros int64  // the range: [From, End)
	TimeoutMicros         int64
	LookbackMicros        int64
	PaidClicks            []string
	SalesPrefix           string
	// TRUE or FALSE: what the seen query reads (persona.Needs).
	NeedPages, NeedDownloads, NeedEvents string
	// Incremental runs: touches from SinceMicros, sessions of the events from
	// WalkFromMicros (transform's since and walkFrom).
	Incremental                 bool
	SinceMicros, WalkFromMicros int64
}

func (c *Config) data() data {
	var paid []string
	for _, k := range normalize.ClickIDs {
		if k.Paid {
			paid = append(paid, k.Param)
		}
	}
	return data{Config: c,
		ReadFrom: c.Read.From.Format("20060102"), ReadTo: c.Read.To.Format("20060102"),
		MinMicros: extract.MinTime.UnixMicro(), MaxMicros: c.now().Add(extract.ClockSkew).UnixMicro(),
		FromMicros: c.Range.Start().UnixMicro(), EndMicros: c.Range.End().UnixMicro(),
		TimeoutMicros: c.SessionTimeout.Microseconds(), LookbackMicros: c.Lookback.Microseconds(), PaidClicks: paid,
		SalesPrefix: transform.SalesChannelPrefix,
		NeedPages:   sqlBool(c.needs.Pages), NeedDownloads: sqlBool(c.needs.Downloads), NeedEvents: sqlBool(c.needs.Events),
		Incremental: !c.Since.IsZero(), SinceMicros: c.Since.UnixMicro(), WalkFromMicros: c.Since.Add(-transform.SessionReach).UnixMicro()}
}

func (c *Config) now() time.Time {
	if c.Now.IsZero() {
		return time.Now()
	}
	return c.Now
}

func sqlBool(b bool) string {
	if b {
		return "TRUE"
	}
	return "FALSE"
}

// render fills one step's template.
func (c *Config) render(name, text string) (string, error) {
	tpl, err := template.New(name).Option("missingkey=error").Funcs(c.Dialect.funcs(c)).Parse(text)
	if err != nil {
		return "", fmt.Errorf("sqlengine: step %s: %w", name, err)
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, c.data()); err != nil {
		return "", fmt.Errorf("sqlengine: step %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// Phase is a part of a run's SQL: its statements run in order, then Go reads what
// its queries return and fills the tables the next phase joins.
type Phase int

const (
	// PhaseFlatten flattens the export's events (cl_events) and asks for the distinct
	// identifiers and referrers.
	PhaseFlatten Phase = iota
	// PhaseSessions classifies the events' traffic, assigns sessions (cl_classified,
	// cl_sessions) and asks for the distinct traffic.
	PhaseSessions
	// PhaseTables builds every touch (cl_touches) and fct_touchpoint's and
	// fct_page_view's rows of the range.
	PhaseTables
	// PhaseJourneys builds each conversion's journey and its shape.
	PhaseJourneys
	// PhaseCredits builds fct_attribution's rows.
	PhaseCredits
)

var phases = map[Phase][]struct{ step, sql string }{
	PhaseFlatten:  {{"flatten", flattenSQL}},
	PhaseSessions: {{"classify", classifySQL}, {"sessions", sessionsSQL}},
	PhaseTables:   {{"touches", touchesSQL}, {"touchpoints", touchpointsSQL}, {"page views", pageViewsSQL}},
	PhaseJourneys: {{"journeys", journeysSQL}, {"shapes", shapesSQL}},
	PhaseCredits:  {{"credits", creditsSQL}},
}

// queries are the queries Go reads between the phases, by name.
var queries = map[string]string{
	"identifiers": idsQuery, "referrers": referrersQuery, "rejects": rejectsQuery, "events": eventsQuery, "traffic": trafficQuery, "counts": countsQuery,
	"last seen": lastSeenQuery, "seen": seenQuery, "conversions": conversionsQuery, "journey shapes": shapesQuery,
	"converting paths": convPathsQuery, "null paths": nullPathsQuery, "credit counts": creditCountsQuery,
}

// Statements renders the statements of phase p.
func (c *Config) Statements(p Phase) ([]Statement, error) {
	var out []Statement
	for _, s := range phases[p] {
		sql, err := c.render(s.step, s.sql)
		if err != nil {
			return nil, err
		}
		out = append(out, Statement{Step: s.step, SQL: sql})
	}
	return out, nil
}

// Query renders one of the queries Go reads between phases.
func (c *Config) query(name, text string) (string, error) { return c.render(name, text) }
