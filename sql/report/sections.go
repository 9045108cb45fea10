package report

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// builder runs a report's queries.
type builder struct {
	db *sql.DB
	r  *Report
}

// terminalModels are the models of the terminal's side-by-side table: seven of the ten
// fit a terminal; the HTML shows them all.
var terminalModels = []string{"first_touch", "last_touch", "linear", "time_decay", "w_shaped", "markov", "shapley"}

// roiModels are the models whose ROI the terminal's campaign table compares.
var roiModels = []string{"first_touch", "last_touch", "linear", "markov"}

// literal quotes s as an SQL string literal.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// days is the condition on a dated view's day column that keeps the report's period
// ("" for every day). Dates are literals: the same text in DuckDB and PostgreSQL.
func (b *builder) days(col string) string {
	var c string
	if !b.r.From.IsZero() {
		c += fmt.Sprintf(" AND %s >= DATE '%s'", col, b.r.From.Format(time.DateOnly))
	}
	if !b.r.To.IsZero() {
		c += fmt.Sprintf(" AND %s <= DATE '%s'", col, b.r.To.Format(time.DateOnly))
	}
	return c
}

// dataPeriod finds the first and last conversion day of the period.
func (b *builder) dataPeriod(ctx context.Context) error {
	var from, to sql.NullTime
	err := b.db.QueryRowContext(ctx, `SELECT MIN(day), MAX(day) FROM v_channel_performance
		WHERE date_basis = 'conversion_date'`+b.days("day")).Scan(&from, &to)
	if err != nil {
		return fmt.Errorf("report: v_channel_performance: %w", err)
	}
	b.r.DataFrom, b.r.DataTo = from.Time, to.Time
	return nil
}

// query runs q and calls scan for each row.
func (b *builder) query(ctx context.Context, view, q string, scan func(*sql.Rows) error) error {
	rows, err := b.db.QueryContext(ctx, q)
	if err != nil {
		return fmt.Errorf("report: %s: %w", view, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("report: %s: %w", view, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("report: %s: %w", view, err)
	}
	return nil
}

// null turns a NULL into nil, for a cell.
func null[T any](v sql.Null[T]) any {
	if !v.Valid {
		return nil
	}
	return v.V
}

func ptr(v float64) *float64 { return &v }

// channels: revenue of won deals by channel under every model (v_channel_performance).
func (b *builder) channels(ctx context.Context) (*Section, error) {
	s := &Section{ID: "channels", Title: "Revenue by channel, model by model", Views: "v_channel_performance", Dated: true,
		Caption: "Revenue of won deals by channel, under several attribution models (v_channel_performance):",
		Empty:   "no won deal and no spend in the period"}
	byChannel := map[string]map[string]float64{}
	spend, roas := map[string]sql.Null[float64]{}, map[string]map[string]sql.Null[float64]{}
	var channels []string
	err := b.query(ctx, "v_channel_performance", `
		SELECT channel, model, COALESCE(SUM(revenue), 0), SUM(spend), SUM(revenue) / NULLIF(SUM(spend), 0)
		FROM v_channel_performance WHERE conversion_type = 'customer' AND date_basis = 'conversion_date' AND scope = 'person'`+b.days("day")+`
		GROUP BY channel, model
		ORDER BY channel, model`, func(rows *sql.Rows) error {
		var ch, m string
		var rev float64
		var sp, ro sql.Null[float64]
		if err := rows.Scan(&ch, &m, &rev, &sp, &ro); err != nil {
			return err
		}
		if byChannel[ch] == nil {
			byChannel[ch], roas[ch] = map[string]float64{}, map[string]sql.Null[float64]{}
			channels = append(channels, ch)
		}
		byChannel[ch][m] = rev
		spend[ch] = sp
		roas[ch][m] = ro
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(channels) // byte order, whatever the warehouse's collation
	t := &Table{ID: "channels", Columns: []Column{{Key: "channel", Header: "channel"}}, Empty: s.Empty}
	for _, m := range b.r.Models {
		t.Columns = append(t.Columns, Column{Key: m, Header: m, Format: Amount, HTMLOnly: !slices.Contains(terminalModels, m)})
	}
	t.Columns = append(t.Columns, Column{Key: "spend", Header: "spend", Format: Amount},
		Column{Key: "roas_last_touch", Header: "ROAS last_touch", Format: Dec2})
	if b.r.Model != "last_touch" {
		t.Columns = append(t.Columns, Column{Key: "roas_" + b.r.Model, Header: "ROAS " + b.r.Model, Format: Dec2, HTMLOnly: true})
	}
	chart := &Chart{Kind: "bar", Title: "Revenue of won deals by channel, one bar per model", Categories: channels, Unit: Amount}
	for _, m := range b.r.Models {
		sr := Series{Name: m}
		for _, ch := range channels {
			sr.Values = append(sr.Values, ptr(byChannel[ch][m]))
		}
		chart.Series = append(chart.Series, sr)
	}
	for _, ch := range channels {
		row := []any{ch}
		for _, m := range b.r.Models {
			row = append(row, byChannel[ch][m])
		}
		row = append(row, null(spend[ch]), null(roas[ch]["last_touch"]))
		if b.r.Model != "last_touch" {
			row = append(row, null(roas[ch][b.r.Model]))
		}
		t.Rows = append(t.Rows, row)
	}
	s.Table = t
	if len(channels) > 0 {
		s.Chart = chart
	}
	return s, nil
}

// campaigns: every paid campaign's spend, customers, CAC and ROI by model (v_campaign_roi).
func (b *builder) campaigns(ctx context.Context) (*Section, error) {
	m := b.r.Model
	s := &Section{ID: "campaigns", Title: "Campaign ROI", Views: "v_campaign_roi", Dated: true,
		Caption: "ROI of every paid campaign, (revenue - spend) / spend, by model (v_campaign_roi):",
		Empty:   "no campaign with spend in the period"}
	type campaign struct {
		channel, name string
		spend         float64
		revenue       map[string]float64
		customers     float64 // under the report's model
	}
	var list []*campaign
	byKey := map[[2]string]*campaign{}
	err := b.query(ctx, "v_campaign_roi", `
		SELECT channel, COALESCE(campaign, '(none)'), model, SUM(spend), COALESCE(SUM(revenue), 0), SUM(conversions)
		FROM v_campaign_roi
		WHERE conversion_type = 'customer' AND date_basis = 'conversion_date' AND scope = 'person'`+b.days("day")+`
		GROUP BY channel, campaign, model
		HAVING SUM(spend) > 0
		ORDER BY channel, 2, model`, func(rows *sql.Rows) error {
		var ch, name, model string
		var spend, revenue, customers float64
		if err := rows.Scan(&ch, &name, &model, &spend, &revenue, &customers); err != nil {
			return err
		}
		c := byKey[[2]string{ch, name}]
		if c == nil {
			c = &campaign{channel: ch, name: name, spend: spend, revenue: map[string]float64{}}
			byKey[[2]string{ch, name}] = c
			list = append(list, c)
		}
		c.revenue[model] = revenue
		if model == m {
			c.customers = customers
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The terminal compares four models (and the report's); the HTML every one.
	shown := slices.Clone(roiModels)
	if !slices.Contains(shown, m) {
		shown = append(shown, m)
	}
	roi := slices.Clone(shown)
	for _, mm := range b.r.Models {
		if !slices.Contains(roi, mm) {
			roi = append(roi, mm)
		}
	}
	t := &Table{ID: "campaigns", Empty: s.Empty, Columns: []Column{
		{Key: "channel", Header: "channel"}, {Key: "campaign", Header: "campaign"},
		{Key: "spend", Header: "spend", Format: Amount},
		{Key: "customers", Header: "customers " + m, Format: Dec1},
		{Key: "cac", Header: "CAC " + m, Format: Amount}}}
	for _, mm := range roi {
		t.Columns = append(t.Columns, Column{Key: "roi_" + mm, Header: "ROI " + mm, Format: Dec1, HTMLOnly: !slices.Contains(shown, mm)})
	}
	chart := &Chart{Kind: "bar", Title: "Spend and won revenue of each campaign, one bar per model", Unit: Amount}
	for _, c := range list {
		chart.Categories = append(chart.Categories, c.name)
		row := []any{c.channel, c.name, c.spend, c.customers, nil}
		if c.customers > 0 {
			row[4] = c.spend / c.customers
		}
		for _, mm := range roi {
			if rev, ok := c.revenue[mm]; ok {
				row = append(row, (rev-c.spend)/c.spend)
			} else {
				row = append(row, nil)
			}
		}
		t.Rows = append(t.Rows, row)
	}
	// Revenue beside spend, rather than ROI: one campaign's ROI of several hundred would
	// flatten every other campaign's bars.
	spend := Series{Name: "spend"}
	for _, c := range list {
		spend.Values = append(spend.Values, ptr(c.spend))
	}
	chart.Series = append(chart.Series, spend)
	for _, mm := range b.r.Models {
		sr := Series{Name: mm}
		for _, c := range list {
			if rev, ok := c.revenue[mm]; ok {
				sr.Values = append(sr.Values, ptr(rev))
			} else {
				sr.Values = append(sr.Values, nil)
			}
		}
		chart.Series = append(chart.Series, sr)
	}
	s.Table = t
	if len(list) > 0 {
		s.Chart = chart
	}
	return s, nil
}

// funnel: people at each stage, the drop-off between stages, and the last pages of the
// people who stopped (v_funnel, v_dropoff_pages).
func (b *builder) funnel(ctx context.Context) (*Section, error) {
	s := &Section{ID: "funnel", Title: "Funnel and drop-off", Views: "v_funnel, v_dropoff_pages",
		Caption: "Funnel and drop-off (v_funnel, v_dropoff_pages): people reaching each stage, and the\n" +
			"last page seen by those who went no further (lift: its exit share minus the share of\n" +
			"those who advanced whose last page it was):",
		Empty: "nobody in the funnel: the warehouse has no touchpoint and no conversion"}
	t := &Table{ID: "funnel", Empty: s.Empty, Columns: []Column{
		{Key: "stage", Header: "stage"}, {Key: "people", Header: "people", Format: Int},
		{Key: "rate_from_previous", Header: "of previous", Format: Percent},
		{Key: "median_days", Header: "median days", Format: Dec1},
		{Key: "stopped", Header: "stopped here", Format: Int},
		{Key: "last_page", Header: "their last page"},
		{Key: "exit_share", Header: "exit share", Format: Percent},
		{Key: "lift", Header: "lift", Format: Points}}}
	chart := &Chart{Kind: "bar", Title: "People reaching each stage, and those who stopped there", Unit: Int}
	reached, stopped := Series{Name: "reached the stage"}, Series{Name: "stopped here"}
	err := b.query(ctx, "v_funnel", `
		SELECT f.stage, f.people, f.rate_from_previous, f.median_days_from_previous,
		       d.stopped_people, d.page_path, d.exit_share, d.lift
		FROM v_funnel f
		LEFT JOIN (SELECT *, row_number() OVER (PARTITION BY stage ORDER BY stopped_with_page DESC NULLS LAST, page_path) AS n
		           FROM v_dropoff_pages) d
		       ON d.stage = f.stage AND d.n = 1
		WHERE f.breakdown = 'all'
		ORDER BY f.stage_order`, func(rows *sql.Rows) error {
		var stage string
		var people int64
		var rate, days, exit, lift sql.Null[float64]
		var stop sql.Null[int64]
		var page sql.Null[string]
		if err := rows.Scan(&stage, &people, &rate, &days, &stop, &page, &exit, &lift); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []any{stage, people, null(rate), null(days), null(stop), null(page), null(exit), null(lift)})
		chart.Categories = append(chart.Categories, stage)
		reached.Values = append(reached.Values, ptr(float64(people)))
		if stop.Valid {
			stopped.Values = append(stopped.Values, ptr(float64(stop.V)))
		} else {
			stopped.Values = append(stopped.Values, nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	chart.Series = []Series{reached, stopped}
	s.Table = t
	if slices.ContainsFunc(t.Rows, func(r []any) bool { return r[1].(int64) > 0 }) {
		s.Chart = chart
	} else {
		t.Rows = nil
	}
	pages := &Table{ID: "dropoff", Caption: "The pages people leave from: the three last pages of those who stopped at each stage (v_dropoff_pages):",
		Empty: "no page views of people who stopped", Columns: []Column{
			{Key: "stage", Header: "stage"}, {Key: "page", Header: "page"}, {Key: "rank", Header: "rank", Format: Int},
			{Key: "stopped_with_page", Header: "stopped, last saw it", Format: Int},
			{Key: "exit_share", Header: "exit share", Format: Percent},
			{Key: "advanced_share", Header: "share of those who advanced", Format: Percent},
			{Key: "lift", Header: "lift", Format: Points}}}
	err = b.query(ctx, "v_dropoff_pages", `
		SELECT stage, page_path, rank, stopped_with_page, exit_share, advanced_share, lift
		FROM v_dropoff_pages WHERE rank <= 3 AND stopped_with_page > 0
		ORDER BY stage_order, rank, page_path`, func(rows *sql.Rows) error {
		var stage, page string
		var rank, n int64
		var exit, adv, lift sql.Null[float64]
		if err := rows.Scan(&stage, &page, &rank, &n, &exit, &adv, &lift); err != nil {
			return err
		}
		pages.Rows = append(pages.Rows, []any{stage, page, rank, n, null(exit), null(adv), null(lift)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.More = []*Table{pages}
	return s, nil
}

// maxPathSteps is the most steps of a path the sankey draws; later touches of longer
// paths flow into one "more touches" node (the sample's longest path has 7).
const maxPathSteps = 8

// paths: the channel paths of the won deals (v_touchpoint_paths), with a sankey of the
// steps.
func (b *builder) paths(ctx context.Context) (*Section, error) {
	s := &Section{ID: "paths", Title: "How buyers travel", Views: "v_touchpoint_paths",
		Caption: "Channel paths of won deals (v_touchpoint_paths, the linear model's journeys): the most frequent,\n" +
			"with the people on the same path who did not buy:",
		Empty: "no won deal with a journey (v_touchpoint_paths needs the linear model)"}
	t := &Table{ID: "paths", Empty: s.Empty, Columns: []Column{
		{Key: "path", Header: "path"}, {Key: "conversions", Header: "won deals", Format: Int},
		{Key: "non_conversions", Header: "same path, no deal", Format: Int},
		{Key: "conversion_rate", Header: "conversion rate", Format: Percent},
		{Key: "avg_touches", Header: "touches", Format: Dec1},
		{Key: "avg_days", Header: "days to close", Format: Dec1},
		{Key: "revenue", Header: "revenue", Format: Amount}}}
	flows := map[[2]string]float64{}
	var nodes []string
	node := func(n string) string {
		if !slices.Contains(nodes, n) {
			nodes = append(nodes, n)
		}
		return n
	}
	err := b.query(ctx, "v_touchpoint_paths", `
		SELECT path, conversions, non_conversions, conversion_rate, avg_touches, avg_days_to_convert, revenue
		FROM v_touchpoint_paths WHERE conversion_type = 'customer' AND conversions > 0
		ORDER BY conversions DESC, revenue DESC NULLS LAST, path
		LIMIT 15`, func(rows *sql.Rows) error {
		var path string
		var conv, non int64
		var rate, touches, days, rev sql.Null[float64]
		if err := rows.Scan(&path, &conv, &non, &rate, &touches, &days, &rev); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []any{path, conv, non, null(rate), null(touches), null(days), null(rev)})
		// Nodes are "step N · channel": the same channel at two steps is two nodes, so
		// the flows form the DAG a sankey needs even when a channel repeats.
		prev := ""
		for i, ch := range strings.Split(path, " > ") {
			var n string
			if i < maxPathSteps {
				n = node(fmt.Sprintf("step %d · %s", i+1, ch))
			} else {
				n = node(fmt.Sprintf("step %d+ · more touches", maxPathSteps+1))
				if prev == n {
					continue
				}
			}
			if prev != "" {
				flows[[2]string{prev, n}] += float64(conv)
			}
			prev = n
		}
		flows[[2]string{prev, node("won deal")}] += float64(conv)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Table = t
	if len(t.Rows) > 0 {
		c := &Chart{Kind: "sankey", Title: "The steps of the paths above, weighted by won deals", Nodes: nodes, Unit: Int}
		for k, v := range flows {
			c.Links = append(c.Links, Link{Source: k[0], Target: k[1], Value: v})
		}
		slices.SortFunc(c.Links, func(a, b Link) int {
			return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Target, b.Target))
		})
		s.Chart = c
	}
	return s, nil
}

// keywords: the search terms that bring the most won revenue under the report's model
// (v_keyword_revenue).
func (b *builder) keywords(ctx context.Context) (*Section, error) {
	m := b.r.Model
	s := &Section{ID: "keywords", Title: "Keywords that bring buyers", Views: "v_keyword_revenue",
		Caption: fmt.Sprintf("Keywords that bring buyers (v_keyword_revenue; leads, customers and revenue credited by the %s model):", m),
		Empty:   "no touch with a search term"}
	type keyword struct {
		term, channel                  string
		visitors                       int64
		leads, customers               float64
		revenue, revFirst, spend, roas sql.Null[float64]
	}
	var list []keyword
	withSpend := false
	err := b.query(ctx, "v_keyword_revenue", `
		SELECT l.term, l.channel, l.visitors, l.leads, l.customers, l.revenue, f.revenue, l.spend, l.roas
		FROM v_keyword_revenue l
		LEFT JOIN v_keyword_revenue f ON f.term = l.term AND f.channel = l.channel AND f.model = 'first_touch' AND f.scope = 'person'
		WHERE l.model = `+literal(m)+` AND l.scope = 'person'
		ORDER BY l.revenue DESC NULLS LAST, l.visitors DESC, l.term
		LIMIT 8`, func(rows *sql.Rows) error {
		var k keyword
		if err := rows.Scan(&k.term, &k.channel, &k.visitors, &k.leads, &k.customers, &k.revenue, &k.revFirst, &k.spend, &k.roas); err != nil {
			return err
		}
		withSpend = withSpend || k.spend.Valid
		list = append(list, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	t := &Table{ID: "keywords", Empty: s.Empty, Columns: []Column{
		{Key: "term", Header: "term"}, {Key: "channel", Header: "channel"},
		{Key: "visitors", Header: "visitors", Format: Int},
		{Key: "leads", Header: "leads", Format: Dec1}, {Key: "customers", Header: "customers", Format: Dec1},
		{Key: "revenue", Header: "revenue", Format: Amount},
		{Key: "revenue_first_touch", Header: "revenue first_touch", Format: Amount}}}
	if withSpend { // keyword spend comes with exports that have a keyword column
		t.Columns = append(t.Columns, Column{Key: "spend", Header: "spend", Format: Amount}, Column{Key: "roas", Header: "ROAS", Format: Dec2})
	}
	chart := &Chart{Kind: "hbar", Title: "Won revenue by keyword", Unit: Amount}
	rev, first := Series{Name: m}, Series{Name: "first_touch"}
	for _, k := range list {
		row := []any{k.term, k.channel, k.visitors, k.leads, k.customers, null(k.revenue), null(k.revFirst)}
		if withSpend {
			row = append(row, null(k.spend), null(k.roas))
		}
		t.Rows = append(t.Rows, row)
		chart.Categories = append(chart.Categories, k.term+" ("+k.channel+")")
		rev.Values = append(rev.Values, nullPtr(k.revenue))
		first.Values = append(first.Values, nullPtr(k.revFirst))
	}
	chart.Series = []Series{rev}
	if m != "first_touch" {
		chart.Series = append(chart.Series, first)
	}
	s.Table = t
	if len(list) > 0 {
		s.Chart = chart
	}
	return s, nil
}

func nullPtr(v sql.Null[float64]) *float64 {
	if !v.Valid {
		return nil
	}
	return ptr(v.V)
}

// social: the social networks that reach people and bring customers (v_social_customers).
func (b *builder) social(ctx context.Context) (*Section, error) {
	m := b.r.Model
	s := &Section{ID: "social", Title: "Social networks", Views: "v_social_customers",
		Caption: fmt.Sprintf("Social networks that bring customers (v_social_customers; leads, customers and revenue credited by the %s model):", m),
		Empty:   "no Organic Social or Paid Social touch"}
	t := &Table{ID: "social", Empty: s.Empty, Columns: []Column{
		{Key: "network", Header: "network"}, {Key: "channel", Header: "channel"},
		{Key: "people_reached", Header: "people reached", Format: Int},
		{Key: "leads", Header: "leads", Format: Dec1}, {Key: "customers", Header: "customers", Format: Dec1},
		{Key: "revenue", Header: "revenue", Format: Amount}}}
	type cell struct{ network, channel string }
	rev := map[cell]float64{}
	var networks, channels []string
	err := b.query(ctx, "v_social_customers", `
		SELECT COALESCE(network, '(no source)'), channel, people_reached, leads, customers, revenue
		FROM v_social_customers WHERE model = `+literal(m)+` AND scope = 'person'
		ORDER BY revenue DESC NULLS LAST, customers DESC, people_reached DESC, 1, channel`, func(rows *sql.Rows) error {
		var network, channel string
		var people int64
		var leads, customers float64
		var revenue sql.Null[float64]
		if err := rows.Scan(&network, &channel, &people, &leads, &customers, &revenue); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []any{network, channel, people, leads, customers, null(revenue)})
		if !slices.Contains(networks, network) {
			networks = append(networks, network)
		}
		if !slices.Contains(channels, channel) {
			channels = append(channels, channel)
		}
		rev[cell{network, channel}] += revenue.V
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Table = t
	if len(t.Rows) > 0 {
		slices.Sort(channels)
		c := &Chart{Kind: "bar", Title: "Won revenue by network, organic and paid", Categories: networks, Unit: Amount}
		for _, ch := range channels {
			sr := Series{Name: ch}
			for _, n := range networks {
				if v, ok := rev[cell{n, ch}]; ok {
					sr.Values = append(sr.Values, ptr(v))
				} else {
					sr.Values = append(sr.Values, nil)
				}
			}
			c.Series = append(c.Series, sr)
		}
		s.Chart = c
	}
	return s, nil
}

// content: the pages buyers saw before buying, and how much more often their viewers buy
// (v_content_influence).
func (b *builder) content(ctx context.Context) (*Section, error) {
	s := &Section{ID: "content", Title: "Content that influences buyers", Views: "v_content_influence",
		Caption: "Content on the way to a won deal (v_content_influence): the pages most buyers saw before buying, how\n" +
			"often their viewers buy against those who never saw them (lift), and the buyers' won revenue:",
		Empty: "no page view"}
	cols := []Column{
		{Key: "page", Header: "page"}, {Key: "people_viewed", Header: "viewers", Format: Int},
		{Key: "converters_viewed", Header: "buyers who saw it first", Format: Int},
		{Key: "reach", Header: "of all buyers", Format: Percent},
		{Key: "rate_viewed", Header: "viewers who buy", Format: Percent},
		{Key: "rate_not_viewed", Header: "others who buy", Format: Percent},
		{Key: "lift", Header: "lift", Format: Dec2},
		{Key: "attributed_revenue", Header: "their revenue", Format: Amount}}
	read := func(t *Table, where string) error {
		return b.query(ctx, "v_content_influence", `
			SELECT page_path, people_viewed, converters_viewed, reach, conversion_rate_viewed, conversion_rate_not_viewed,
			       lift, attributed_revenue
			FROM v_content_influence WHERE conversion_type = 'customer' AND `+where+`
			ORDER BY converters_viewed DESC, people_viewed DESC, page_path
			LIMIT 12`, func(rows *sql.Rows) error {
			var page string
			var viewed, conv int64
			var reach, rv, rn, lift, rev sql.Null[float64]
			if err := rows.Scan(&page, &viewed, &conv, &reach, &rv, &rn, &lift, &rev); err != nil {
				return err
			}
			t.Rows = append(t.Rows, []any{page, viewed, conv, null(reach), null(rv), null(rn), null(lift), null(rev)})
			return nil
		})
	}
	t := &Table{ID: "content", Empty: "no buyer viewed a page before buying", Columns: cols}
	if err := read(t, "converters_viewed > 0"); err != nil {
		return nil, err
	}
	never := &Table{ID: "content_unseen", Caption: "Pages no buyer saw before buying, most viewed first:",
		Empty: "every page was seen by a buyer before buying", Columns: cols[:3]}
	if err := read(never, "converters_viewed = 0"); err != nil {
		return nil, err
	}
	for i, r := range never.Rows {
		never.Rows[i] = r[:3]
	}
	s.Table, s.More = t, []*Table{never}
	if len(t.Rows) > 0 {
		c := &Chart{Kind: "hbar", Title: "Share of buyers who saw the page before buying", Unit: Percent}
		sr := Series{Name: "of all buyers"}
		for _, r := range t.Rows {
			c.Categories = append(c.Categories, r[0].(string))
			if v, ok := r[3].(float64); ok {
				sr.Values = append(sr.Values, ptr(v))
			} else {
				sr.Values = append(sr.Values, nil)
			}
		}
		c.Series = []Series{sr}
		s.Chart = c
	}
	return s, nil
}

// pipeline: the CRM pipeline's stages (v_pipeline_stages).
func (b *builder) pipeline(ctx context.Context) (*Section, error) {
	s := &Section{ID: "pipeline", Title: "Deal pipeline", Views: "v_pipeline_stages",
		Caption: "Deal pipeline (v_pipeline_stages): deals reaching each stage, where lost deals were lost, days in stage:",
		Empty:   "no deal stage history (fct_deal_stage is empty)"}
	t := &Table{ID: "pipeline", Empty: s.Empty, Columns: []Column{
		{Key: "stage", Header: "stage"}, {Key: "deals", Header: "deals", Format: Int},
		{Key: "still_here", Header: "there now", Format: Int}, {Key: "won", Header: "later won", Format: Int},
		{Key: "lost_from_here", Header: "lost from here", Format: Int},
		{Key: "median_days", Header: "median days", Format: Dec1}}}
	c := &Chart{Kind: "bar", Title: "Deals reaching each stage, and lost from there", Unit: Int}
	deals, lost := Series{Name: "deals"}, Series{Name: "lost from here"}
	err := b.query(ctx, "v_pipeline_stages", `
		SELECT stage, deals_entered, still_here, won, lost_from_here, median_days_in_stage
		FROM v_pipeline_stages
		ORDER BY crm, pipeline, moved_on = 0, avg_stage_number, stage`, // closing stages last
		func(rows *sql.Rows) error {
			var stage string
			var n, here, won, lostN int64
			var days sql.Null[float64]
			if err := rows.Scan(&stage, &n, &here, &won, &lostN, &days); err != nil {
				return err
			}
			t.Rows = append(t.Rows, []any{stage, n, here, won, lostN, null(days)})
			c.Categories = append(c.Categories, stage)
			deals.Values = append(deals.Values, ptr(float64(n)))
			lost.Values = append(lost.Values, ptr(float64(lostN)))
			return nil
		})
	if err != nil {
		return nil, err
	}
	c.Series = []Series{deals, lost}
	s.Table = t
	if len(t.Rows) > 0 {
		s.Chart = c
	}
	return s, nil
}

// personas: each persona's funnel (v_funnel by persona) and what its leads were worth
// (v_lead_quality).
func (b *builder) personas(ctx context.Context) (*Section, error) {
	m := b.r.Model
	caption := "Personas (CLOSEDLOOP_PERSONAS; v_funnel by persona, v_lead_quality): people at each stage, and\n" +
		"how many of the leads became customers and what a lead was worth:"
	if m != DefaultModel {
		caption = fmt.Sprintf("Personas (CLOSEDLOOP_PERSONAS; v_funnel by persona, v_lead_quality, %s model): people at each stage, and\n"+
			"how many of the leads became customers and what a lead was worth:", m)
	}
	s := &Section{ID: "personas", Title: "Lead quality by persona", Views: "v_funnel, v_lead_quality", Caption: caption,
		Empty: "no persona in the funnel"}
	t := &Table{ID: "personas", Empty: s.Empty, Columns: []Column{
		{Key: "persona", Header: "persona"}, {Key: "visitors", Header: "visitors", Format: Int},
		{Key: "leads", Header: "leads", Format: Int}, {Key: "mqls", Header: "MQL", Format: Int},
		{Key: "sqls", Header: "SQL", Format: Int}, {Key: "opportunities", Header: "opportunities", Format: Int},
		{Key: "customers", Header: "customers", Format: Int},
		{Key: "lead_to_customer", Header: "lead→customer", Format: Percent},
		{Key: "revenue_per_lead", Header: "revenue per lead", Format: Amount}}}
	c := &Chart{Kind: "bar", Title: "Leads and the customers they became, by persona", Unit: Int}
	leadS, custS := Series{Name: "leads"}, Series{Name: "customers"}
	err := b.query(ctx, "v_funnel, v_lead_quality", `
		WITH f AS (
		    SELECT segment AS persona,
		           SUM(CASE WHEN stage = 'visit' THEN people END) AS visitors,
		           SUM(CASE WHEN stage = 'lead' THEN people END) AS leads,
		           SUM(CASE WHEN stage = 'mql' THEN people END) AS mqls,
		           SUM(CASE WHEN stage = 'sql' THEN people END) AS sqls,
		           SUM(CASE WHEN stage = 'opportunity' THEN people END) AS opportunities,
		           SUM(CASE WHEN stage = 'customer' THEN people END) AS customers
		    FROM v_funnel WHERE breakdown = 'persona' GROUP BY segment
		), q AS (
		    SELECT persona, SUM(customers) / NULLIF(SUM(leads), 0) AS rate, SUM(revenue) / NULLIF(SUM(leads), 0) AS per_lead
		    FROM v_lead_quality WHERE model = `+literal(m)+` AND scope = 'person' AND breakdown = 'channel' GROUP BY persona
		)
		SELECT f.persona, f.visitors, f.leads, f.mqls, f.sqls, f.opportunities, f.customers, q.rate, q.per_lead
		FROM f LEFT JOIN q ON q.persona = f.persona
		ORDER BY f.persona = 'Unclassified', f.customers DESC NULLS LAST, f.persona`, func(rows *sql.Rows) error {
		var persona string
		var visitors, leads, mqls, sqls, opps, customers int64
		var rate, perLead sql.Null[float64]
		if err := rows.Scan(&persona, &visitors, &leads, &mqls, &sqls, &opps, &customers, &rate, &perLead); err != nil {
			return err
		}
		t.Rows = append(t.Rows, []any{persona, visitors, leads, mqls, sqls, opps, customers, null(rate), null(perLead)})
		c.Categories = append(c.Categories, persona)
		leadS.Values = append(leadS.Values, ptr(float64(leads)))
		custS.Values = append(custS.Values, ptr(float64(customers)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Series = []Series{leadS, custS}
	s.Table = t
	if len(t.Rows) > 0 {
		s.Chart = c
	}
	return s, nil
}

// leadQuality: per channel, the leads it brought, how many became customers and which
// personas they were (v_lead_quality).
func (b *builder) leadQuality(ctx context.Context) (*Section, error) {
	m := b.r.Model
	s := &Section{ID: "leadquality", Title: "Lead quality by channel", Views: "v_lead_quality",
		Caption: fmt.Sprintf("Lead quality by channel (v_lead_quality, %s model): more leads are not always better:", m),
		Empty:   "no attributed lead"}
	type quality struct {
		channel                   string
		leads, customers, revenue float64
		personas                  map[string]float64
	}
	byChannel := map[string]*quality{}
	err := b.query(ctx, "v_lead_quality", `
		SELECT channel, persona, leads, customers, revenue
		FROM v_lead_quality WHERE model = `+literal(m)+` AND scope = 'person' AND breakdown = 'channel'
		ORDER BY channel, persona`, func(rows *sql.Rows) error { // one order of the sums: the same rounding every time
		var ch, persona string
		var leads, customers float64
		var revenue sql.Null[float64]
		if err := rows.Scan(&ch, &persona, &leads, &customers, &revenue); err != nil {
			return err
		}
		q := byChannel[ch]
		if q == nil {
			q = &quality{channel: ch, personas: map[string]float64{}}
			byChannel[ch] = q
		}
		q.leads += leads
		q.customers += customers
		q.revenue += revenue.V
		q.personas[persona] += leads
		return nil
	})
	if err != nil {
		return nil, err
	}
	list := make([]*quality, 0, len(byChannel))
	for _, q := range byChannel {
		if q.leads >= 0.5 {
			list = append(list, q)
		}
	}
	slices.SortFunc(list, func(a, b *quality) int {
		if a.leads != b.leads {
			return cmp.Compare(b.leads, a.leads)
		}
		return strings.Compare(a.channel, b.channel)
	})
	t := &Table{ID: "leadquality", Empty: s.Empty, Columns: []Column{
		{Key: "channel", Header: "channel"}, {Key: "leads", Header: "leads", Format: Dec1},
		{Key: "customers", Header: "customers", Format: Dec1},
		{Key: "lead_to_customer", Header: "lead→customer", Format: Percent},
		{Key: "revenue_per_lead", Header: "revenue per lead", Format: Amount},
		{Key: "personas", Header: "the leads' personas"}}}
	c := &Chart{Kind: "hbar", Title: "What a lead was worth, by channel", Unit: Amount}
	perLead := Series{Name: "revenue per lead"}
	for _, q := range list {
		type share struct {
			persona string
			leads   float64
		}
		var mix []share
		for p, l := range q.personas {
			mix = append(mix, share{p, l})
		}
		slices.SortFunc(mix, func(a, b share) int {
			if a.leads != b.leads {
				return cmp.Compare(b.leads, a.leads)
			}
			return strings.Compare(a.persona, b.persona)
		})
		var parts []string
		for _, m := range mix[:min(2, len(mix))] {
			parts = append(parts, fmt.Sprintf("%s %s", m.persona, percent(m.leads/q.leads)))
		}
		t.Rows = append(t.Rows, []any{q.channel, q.leads, q.customers, q.customers / q.leads, q.revenue / q.leads, strings.Join(parts, ", ")})
		c.Categories = append(c.Categories, q.channel)
		perLead.Values = append(perLead.Values, ptr(q.revenue/q.leads))
	}
	c.Series = []Series{perLead}
	s.Table = t
	if len(list) > 0 {
		s.Chart = c
	}
	return s, nil
}

// identity: how many persons, browsers per person, leads seen before their form.
func (b *builder) identity(ctx context.Context) (*Section, error) {
	var persons, multi, anonFirst, leads, refused int64
	err := b.db.QueryRowContext(ctx, `
		WITH lead AS (SELECT person_id, min(occurred_at) AS at FROM fct_conversion WHERE conversion_type = 'lead' GROUP BY person_id),
		     before AS (SELECT l.person_id, count(t.touchpoint_id) AS n
		                FROM lead l JOIN fct_touchpoint t ON t.person_id = l.person_id AND t.occurred_at < l.at
		                GROUP BY l.person_id)
		SELECT (SELECT count(*) FROM dim_person),
		       (SELECT count(*) FROM dim_person WHERE anonymous_id_count > 1),
		       (SELECT count(*) FROM before WHERE n > 0),
		       (SELECT count(*) FROM lead)`).Scan(&persons, &multi, &anonFirst, &leads)
	if err != nil {
		return nil, fmt.Errorf("report: identity: %w", err)
	}
	if err := b.db.QueryRowContext(ctx, `SELECT count(*) FROM identity_conflicts`).Scan(&refused); err != nil {
		return nil, fmt.Errorf("report: identity_conflicts: %w", err)
	}
	return &Section{ID: "identity", Title: "Identity", Views: "dim_person, fct_conversion, fct_touchpoint, identity_conflicts",
		Text: fmt.Sprintf("Identity: %d persons; %d use more than one browser; %d of %d leads had anonymous visits before their form submit;\n"+
			"%d identity links refused by the guardrails (identity_conflicts).\n", persons, multi, anonFirst, leads, refused),
		Table: &Table{ID: "identity", Columns: []Column{{Key: "what", Header: "what"}, {Key: "n", Header: "number", Format: Int}},
			Rows: [][]any{
				{"persons (stitched: every identifier of one human)", persons},
				{"persons who use more than one browser", multi},
				{"leads", leads},
				{"leads with anonymous visits before their form submit", anonFirst},
				{"identity links refused by the guardrails (identity_conflicts)", refused},
			}}}, nil
}

// lastRuns is how many runs the health section lists.
const lastRuns = 10

// health: the last runs, the rows the last one loaded, its rejected rows by source and
// reason, and its stage times (run_log, rejected_rows).
func (b *builder) health(ctx context.Context) (*Section, error) {
	s := &Section{ID: "health", Title: "The runs' health", Views: "run_log, rejected_rows",
		Caption: "The last runs (run_log):", Empty: "no run in run_log"}
	runs := &Table{ID: "runs", Empty: s.Empty, Columns: []Column{
		{Key: "run_id", Header: "run"}, {Key: "started_at", Header: "started (UTC)"},
		{Key: "seconds", Header: "seconds", Format: Dec1}, {Key: "range", Header: "days"},
		{Key: "status", Header: "status"}, {Key: "rejected", Header: "rows rejected", Format: Int},
		{Key: "version", Header: "version"}, {Key: "message", Header: "message"}}}
	var last, lastCounts string
	err := b.query(ctx, "run_log", fmt.Sprintf(`
		SELECT run_id, started_at, finished_at, range_from, range_to, status, rejected_count, version, message, row_counts
		FROM run_log ORDER BY started_at DESC, run_id DESC LIMIT %d`, lastRuns), func(rows *sql.Rows) error {
		var id, status, version, counts string
		var started, finished, from, to time.Time
		var rejected int64
		var msg sql.Null[string]
		if err := rows.Scan(&id, &started, &finished, &from, &to, &status, &rejected, &version, &msg, &counts); err != nil {
			return err
		}
		if last == "" {
			last, lastCounts = id, counts
		}
		runs.Rows = append(runs.Rows, []any{id, started.UTC().Format(time.DateTime), finished.Sub(started).Seconds(),
			from.Format(time.DateOnly) + " to " + to.Format(time.DateOnly), status, rejected, version, null(msg)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.Table = runs
	if last == "" {
		return s, nil
	}

	loaded := &Table{ID: "rowcounts", Caption: "Rows the last run loaded, by table (run_log.row_counts):",
		Empty:   "the last run's row_counts has no loaded tables",
		Columns: []Column{{Key: "table", Header: "table"}, {Key: "rows", Header: "rows", Format: Amount}}}
	var counts struct {
		Loaded map[string]int64 `json:"loaded"`
	}
	if err := json.Unmarshal([]byte(lastCounts), &counts); err != nil {
		return nil, fmt.Errorf("report: run_log.row_counts of run %s is not JSON: %w", last, err)
	}
	tables := make([]string, 0, len(counts.Loaded))
	for t := range counts.Loaded {
		tables = append(tables, t)
	}
	slices.SortFunc(tables, func(a, b string) int {
		return cmp.Or(cmp.Compare(counts.Loaded[b], counts.Loaded[a]), strings.Compare(a, b))
	})
	rowsChart := &Chart{Kind: "hbar", Title: "Rows loaded by table", Unit: Amount}
	sr := Series{Name: "rows"}
	for _, t := range tables {
		loaded.Rows = append(loaded.Rows, []any{t, counts.Loaded[t]})
		rowsChart.Categories = append(rowsChart.Categories, t)
		sr.Values = append(sr.Values, ptr(float64(counts.Loaded[t])))
	}
	rowsChart.Series = []Series{sr}
	if len(tables) > 0 {
		loaded.Chart = rowsChart
	}

	rejected := &Table{ID: "rejected", Caption: "Rows the last run rejected, by source and reason (rejected_rows):",
		Empty: "the last run rejected no row", Columns: []Column{
			{Key: "source", Header: "source"}, {Key: "reason", Header: "reason"}, {Key: "rows", Header: "rows", Format: Int}}}
	err = b.query(ctx, "rejected_rows", `
		SELECT source, reason, count(*) FROM rejected_rows WHERE run_id = `+literal(last)+`
		GROUP BY source, reason ORDER BY 3 DESC, source, reason LIMIT 20`, func(rows *sql.Rows) error {
		var source, reason string
		var n int64
		if err := rows.Scan(&source, &reason, &n); err != nil {
			return err
		}
		rejected.Rows = append(rejected.Rows, []any{source, reason, n})
		return nil
	})
	if err != nil {
		return nil, err
	}

	stages, err := b.stageSeconds(ctx, last)
	if err != nil {
		return nil, err
	}
	s.More = []*Table{loaded, rejected, stages}
	return s, nil
}

// stageSeconds is the table (and chart) of the stage times of run id, from
// run_log.stage_seconds; "not recorded" for a run (or a warehouse) without them.
func (b *builder) stageSeconds(ctx context.Context, id string) (*Table, error) {
	t := &Table{ID: "stages", Caption: "Seconds the last run spent in each stage (run_log.stage_seconds):",
		Empty:   "not recorded (runs of closedloop versions before run_log.stage_seconds leave it empty)",
		Columns: []Column{{Key: "stage", Header: "stage"}, {Key: "seconds", Header: "seconds", Format: Seconds}}}
	var raw sql.Null[string]
	err := b.db.QueryRowContext(ctx, `SELECT stage_seconds FROM run_log WHERE run_id = `+literal(id)).Scan(&raw)
	if err != nil {
		if isMissingRelation(err) || strings.Contains(err.Error(), "stage_seconds") {
			return t, nil // a warehouse written before the column
		}
		return nil, fmt.Errorf("report: run_log.stage_seconds: %w", err)
	}
	if !raw.Valid || raw.V == "" {
		return t, nil
	}
	var secs map[string]float64
	if err := json.Unmarshal([]byte(raw.V), &secs); err != nil {
		return nil, fmt.Errorf("report: run_log.stage_seconds of run %s is not a JSON object of numbers: %w", id, err)
	}
	names := make([]string, 0, len(secs))
	for n := range secs {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(secs[b], secs[a]), strings.Compare(a, b)) })
	c := &Chart{Kind: "hbar", Title: "Seconds by stage", Unit: Seconds}
	sr := Series{Name: "seconds"}
	for _, n := range names {
		t.Rows = append(t.Rows, []any{n, secs[n]})
		c.Categories = append(c.Categories, n)
		sr.Values = append(sr.Values, ptr(secs[n]))
	}
	c.Series = []Series{sr}
	if len(names) > 0 {
		t.Chart = c
	}
	return t, nil
}

// column runs q and returns its first column's strings.
func column(ctx context.Context, db *sql.DB, q string) ([]string, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
