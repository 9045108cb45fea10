// Package report reads a warehouse's SQL views into one report and renders it as text
// for a terminal or as one self-contained HTML file with charts.
//
// Build runs the queries and returns a Report: a list of sections (revenue by channel
// under every attribution model side by side, the same under each journey scope (buying
// committees), campaign ROI, the funnel and the pages
// people leave from, the channel paths of buyers, keywords, social networks, content,
// the deal pipeline, personas and lead quality, identity, and the run's health), each
// with the view it reads, its numbers as a typed table and, where a picture helps, a
// chart spec. Report.Print writes the terminal rendering (what `closedloop demo` and
// `closedloop report --format table` print); Report.HTML writes the HTML file (`closedloop
// report`, and report.html beside the demo's warehouse), with Apache ECharts and the data
// inlined, so it opens without a network.
//
// It reads any warehouse database/sql reaches (DuckDB, PostgreSQL, or DuckDB views over
// a Parquet warehouse), as the views have the same columns in every dialect.
package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// DefaultModel is the model of the single-model sections when Options.Model is empty:
// linear, the model the LookML explores start filtered on.
const DefaultModel = "linear"

// ErrUnknownModel is returned by Build when Options.Model is not a model of the
// warehouse; the error names the models it has.
var ErrUnknownModel = errors.New("report: unknown model")

// ErrNotAWarehouse is returned by Build when the database has no closedloop tables or
// views to read.
var ErrNotAWarehouse = errors.New("report: not a closedloop warehouse")

// Options says what Build reads.
type Options struct {
	// Model is the attribution model of the single-model sections (keywords, social
	// networks, personas, lead quality, the customers and CAC of campaigns); empty:
	// DefaultModel. The side-by-side sections show every model the warehouse has.
	Model string
	// From and To, when not zero, keep the conversions (and the ad spend) of those UTC
	// days, both included, in the sections whose view has a day; the others say that
	// they cover every loaded day.
	From, To time.Time
	// Warehouse names the warehouse in the report's header (never with credentials).
	Warehouse string
	// Now is when the report was made (the header's "generated at"); zero: time.Now.
	Now time.Time
}

// Report is a warehouse's report: its header and sections, in reading order.
type Report struct {
	Title     string
	Warehouse string    // Options.Warehouse
	Generated time.Time // Options.Now
	Model     string    // the single-model sections' model
	Models    []string  // every model of the warehouse, in the order the tables show them
	// From and To are the filter of Options; DataFrom and DataTo the first and last
	// conversion day the dated sections hold (zero when none).
	From, To         time.Time
	DataFrom, DataTo time.Time
	Sections         []*Section
}

// Section is one question the report answers.
type Section struct {
	ID      string // anchor in the HTML, and the name Only selects
	Title   string // short title (the HTML heading and navigation)
	Views   string // the views (or tables) it reads, as the caption names them
	Caption string // the terminal heading (its lines end in ":"): what the table shows
	// Dated says whether the section follows Report.From/To; the others cover every
	// loaded day.
	Dated bool
	Table *Table   // the section's numbers
	Chart *Chart   // nil: the table alone
	More  []*Table // further tables: the HTML shows them under the first; the
	// terminal prints those of the sections that are not in Terminal
	// Text is what the terminal prints instead of the table (the identity sentence).
	Text string
	// Empty says why the section has no rows, when it has none.
	Empty string
}

// Table is a table of typed cells.
type Table struct {
	ID      string // data-table in the HTML
	Caption string // for More tables: what the table shows
	Columns []Column
	Rows    [][]any // per cell: nil (NULL, shown "-"), string, int64 or float64
	Empty   string  // what to say when Rows is empty
	Chart   *Chart  // of a More table; a section's first table has Section.Chart
}

// Column is one column of a Table.
type Column struct {
	Key    string // machine name: data-col in the HTML
	Header string // the terminal's and the HTML's header
	Format Format
	// HTMLOnly columns are left out of the terminal rendering (the terminal shows seven
	// of the ten models).
	HTMLOnly bool
}

// Format says how a column's cells are shown.
type Format int

// The formats of cells.
const (
	Text    Format = iota // as it is
	Int                   // 1234
	Amount                // 1,234 (whole units, thousands separators: money, large counts)
	Dec1                  // 1.2
	Dec2                  // 1.23
	Percent               // 12%
	Points                // +5 pt (a difference of shares)
	Seconds               // 1.23 s
)

// Chart is what a chart shows, independent of the library that draws it.
// The JSON names are those the page's script reads.
type Chart struct {
	// Kind is "bar" (vertical bars, one group per category, one bar per series: models
	// side by side), "hbar" (horizontal bars) or "sankey".
	Kind       string   `json:"kind"`
	Title      string   `json:"title"`
	Categories []string `json:"categories"`
	Series     []Series `json:"series"`
	Unit       Format   `json:"unit"` // of the values
	Nodes      []string `json:"nodes,omitempty"`
	Links      []Link   `json:"links,omitempty"`
}

// Series is one series of bars.
type Series struct {
	Name   string     `json:"name"`
	Values []*float64 `json:"values"` // per category; nil: no value
}

// Link is one flow of a sankey chart.
type Link struct {
	Source string  `json:"source"`
	Target string  `json:"target"`
	Value  float64 `json:"value"`
}

// Terminal lists the sections `closedloop demo` prints, in order: the report as it was
// before the HTML, which the README shows, with the journey scopes' table (committees).
var Terminal = []string{"channels", "committees", "campaigns", "funnel", "keywords", "pipeline", "personas", "leadquality", "identity"}

// Print writes the terminal report of the warehouse db to w: the sections of Terminal,
// under the default model and over every day.
func Print(ctx context.Context, db *sql.DB, w io.Writer) error {
	r, err := Build(ctx, db, Options{})
	if err != nil {
		return err
	}
	return r.Only(Terminal...).Print(w)
}

// Only returns a copy of r with the sections whose IDs are given, in r's order.
func (r *Report) Only(ids ...string) *Report {
	out := *r
	out.Sections = nil
	for _, s := range r.Sections {
		if slices.Contains(ids, s.ID) {
			out.Sections = append(out.Sections, s)
		}
	}
	return &out
}

// Section returns the section called id, or nil.
func (r *Report) Section(id string) *Section {
	for _, s := range r.Sections {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Period says which days the dated sections cover.
func (r *Report) Period() string {
	day := func(t time.Time) string { return t.Format(time.DateOnly) }
	switch {
	case !r.From.IsZero() && !r.To.IsZero():
		return day(r.From) + " to " + day(r.To)
	case !r.From.IsZero():
		return "from " + day(r.From)
	case !r.To.IsZero():
		return "to " + day(r.To)
	case !r.DataFrom.IsZero():
		return day(r.DataFrom) + " to " + day(r.DataTo) + " (every loaded day)"
	}
	return "every loaded day"
}

// Build reads the report of the warehouse db.
func Build(ctx context.Context, db *sql.DB, opt Options) (*Report, error) {
	if !opt.From.IsZero() && !opt.To.IsZero() && opt.From.After(opt.To) {
		return nil, fmt.Errorf("report: the period starts (%s) after it ends (%s): give a from day on or before the to day",
			opt.From.Format(time.DateOnly), opt.To.Format(time.DateOnly))
	}
	models, err := column(ctx, db, `SELECT DISTINCT model FROM fct_attribution`)
	if err != nil {
		if isMissingRelation(err) {
			return nil, fmt.Errorf("%w: it has no fct_attribution table (%v): run closedloop demo or closedloop run into it first", ErrNotAWarehouse, err)
		}
		return nil, err
	}
	models = orderModels(models)
	model := cmpOr(opt.Model, DefaultModel)
	if len(models) > 0 && !slices.Contains(models, model) {
		return nil, fmt.Errorf("%w %q: the warehouse has %s", ErrUnknownModel, model, strings.Join(models, ", "))
	}
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	r := &Report{Title: "closedloop report", Warehouse: opt.Warehouse, Generated: now.UTC(), Model: model, Models: models,
		From: opt.From, To: opt.To}
	b := &builder{db: db, r: r}
	if err := b.dataPeriod(ctx); err != nil {
		return nil, err
	}
	for _, add := range []func(context.Context) (*Section, error){
		b.channels, b.committees, b.campaigns, b.funnel, b.paths, b.keywords, b.social, b.content,
		b.pipeline, b.personas, b.leadQuality, b.identity, b.health,
	} {
		s, err := add(ctx)
		if err != nil {
			return nil, err
		}
		r.Sections = append(r.Sections, s)
	}
	return r, nil
}

// modelOrder is the order of the models in the side-by-side tables: the rules from the
// first touch to the last, then the data-driven ones (attribution.Names' order).
var modelOrder = []string{"first_touch", "last_touch", "last_non_direct", "linear", "time_decay", "position_based",
	"w_shaped", "full_path", "markov", "shapley"}

// orderModels sorts models by modelOrder, unknown ones last by name.
func orderModels(models []string) []string {
	rank := func(m string) int {
		if i := slices.Index(modelOrder, m); i >= 0 {
			return i
		}
		return len(modelOrder)
	}
	slices.SortFunc(models, func(a, b string) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return models
}

// isMissingRelation tells an error about a table or view that is not there, as DuckDB
// and PostgreSQL word it.
func isMissingRelation(err error) bool {
	s := err.Error()
	return strings.Contains(s, "does not exist") || strings.Contains(s, "Catalog Error")
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
