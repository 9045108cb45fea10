// Package report prints the terminal report of a warehouse from its SQL views:
// revenue by channel under several attribution models side by side, campaign ROI, the
// funnel with its drop-off pages, the keywords that bring buyers, the deal pipeline,
// personas and lead quality. `closedloop demo` prints it after loading the sample; it
// reads any warehouse database/sql reaches (DuckDB, PostgreSQL, or DuckDB views over
// a Parquet warehouse), as the views have the same columns in every dialect.
package report

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// reportModels are the models the demo's report shows, side by side.
var reportModels = []string{"first_touch", "last_touch", "linear", "time_decay", "w_shaped", "markov", "shapley"}

// Print writes the report of the warehouse db to w: revenue by channel under each
// model, campaign ROI, the funnel and drop-off, keywords, the pipeline, personas and
// lead quality (sections whose views are empty are left out).
func Print(ctx context.Context, db *sql.DB, w io.Writer) error {
	have, err := column(ctx, db, `SELECT DISTINCT model FROM fct_attribution ORDER BY model`)
	if err != nil {
		return err
	}
	// Seven of the ten models fit a terminal; the warehouse has them all.
	var models []string
	for _, m := range reportModels {
		if slices.Contains(have, m) {
			models = append(models, m)
		}
	}
	fmt.Fprintln(w, "Revenue of won deals by channel, under several attribution models (v_channel_performance):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "channel\t")
	for _, m := range models {
		fmt.Fprintf(tw, "%s\t", m)
	}
	fmt.Fprintln(tw, "spend\tROAS last_touch\t")
	rows, err := db.QueryContext(ctx, `
		SELECT channel, model, COALESCE(SUM(revenue), 0), SUM(spend), SUM(revenue) / NULLIF(SUM(spend), 0)
		FROM v_channel_performance WHERE conversion_type = 'customer' AND date_basis = 'conversion_date'
		GROUP BY channel, model
		ORDER BY channel, model`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	byChannel := map[string]map[string]float64{}
	spend, roas := map[string]sql.NullFloat64{}, map[string]sql.NullFloat64{}
	var channels []string
	for rows.Next() {
		var ch, m string
		var rev float64
		var sp, ro sql.NullFloat64
		if err := rows.Scan(&ch, &m, &rev, &sp, &ro); err != nil {
			rows.Close()
			return err
		}
		if byChannel[ch] == nil {
			byChannel[ch] = map[string]float64{}
			channels = append(channels, ch)
		}
		byChannel[ch][m] = rev
		spend[ch] = sp
		if m == "last_touch" {
			roas[ch] = ro
		}
	}
	rows.Close()
	slices.Sort(channels) // byte order, whatever the warehouse's collation
	for _, ch := range channels {
		fmt.Fprintf(tw, "%s\t", ch)
		for _, m := range models {
			fmt.Fprintf(tw, "%s\t", Money(byChannel[ch][m]))
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", dash(spend[ch], Money), dash(roas[ch], fixed("%.2f")))
	}
	tw.Flush()

	if err := printCampaignROI(ctx, db, w); err != nil {
		return err
	}
	if err := printFunnel(ctx, db, w); err != nil {
		return err
	}
	if err := printKeywords(ctx, db, w); err != nil {
		return err
	}
	if err := printPipeline(ctx, db, w); err != nil {
		return err
	}
	if err := printPersonas(ctx, db, w); err != nil {
		return err
	}
	if err := printLeadQuality(ctx, db, w); err != nil {
		return err
	}

	var persons, multi, anonFirst, leads int
	err = db.QueryRowContext(ctx, `
		WITH lead AS (SELECT person_id, min(occurred_at) AS at FROM fct_conversion WHERE conversion_type = 'lead' GROUP BY person_id),
		     before AS (SELECT l.person_id, count(t.touchpoint_id) AS n
		                FROM lead l JOIN fct_touchpoint t ON t.person_id = l.person_id AND t.occurred_at < l.at
		                GROUP BY l.person_id)
		SELECT (SELECT count(*) FROM dim_person),
		       (SELECT count(*) FROM dim_person WHERE anonymous_id_count > 1),
		       (SELECT count(*) FROM before WHERE n > 0),
		       (SELECT count(*) FROM lead)`).Scan(&persons, &multi, &anonFirst, &leads)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	var refused int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM identity_conflicts`).Scan(&refused); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	fmt.Fprintf(w, "\nIdentity: %d persons; %d use more than one browser; %d of %d leads had anonymous visits before their form submit;\n"+
		"%d identity links refused by the guardrails (identity_conflicts).\n", persons, multi, anonFirst, leads, refused)
	return nil
}

// roiModels are the models whose ROI the campaign table compares.
var roiModels = []string{"first_touch", "last_touch", "linear", "markov"}

// printCampaignROI prints, for every campaign with spend, its cost, won revenue and
// ROI under several models (v_campaign_roi, by conversion date, over the whole range).
func printCampaignROI(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		SELECT channel, COALESCE(campaign, '(none)'), model, SUM(spend), COALESCE(SUM(revenue), 0), SUM(conversions)
		FROM v_campaign_roi
		WHERE conversion_type = 'customer' AND date_basis = 'conversion_date'
		GROUP BY channel, campaign, model
		HAVING SUM(spend) > 0
		ORDER BY channel, 2, model`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	type campaign struct {
		channel, name string
		spend         float64
		revenue       map[string]float64
		customers     float64 // linear
	}
	var list []*campaign
	byKey := map[[2]string]*campaign{}
	for rows.Next() {
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
		if model == "linear" {
			c.customers = customers
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nROI of every paid campaign, (revenue - spend) / spend, by model (v_campaign_roi):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "channel\tcampaign\tspend\tcustomers linear\tCAC linear\t")
	for _, m := range roiModels {
		fmt.Fprintf(tw, "ROI %s\t", m)
	}
	fmt.Fprintln(tw)
	for _, c := range list {
		cac := "-"
		if c.customers > 0 {
			cac = Money(c.spend / c.customers)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.1f\t%s\t", c.channel, c.name, Money(c.spend), c.customers, cac)
		for _, m := range roiModels {
			rev, ok := c.revenue[m]
			if !ok {
				fmt.Fprint(tw, "-\t")
				continue
			}
			fmt.Fprintf(tw, "%.1f\t", (rev-c.spend)/c.spend)
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// printFunnel prints the funnel's stages with their conversion rates and median time
// (v_funnel), and where the people who stopped at each stage last were
// (v_dropoff_pages).
func printFunnel(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		SELECT f.stage, f.people, f.rate_from_previous, f.median_days_from_previous,
		       d.stopped_people, d.page_path, d.exit_share, d.lift
		FROM v_funnel f
		LEFT JOIN (SELECT *, row_number() OVER (PARTITION BY stage ORDER BY stopped_with_page DESC NULLS LAST, page_path) AS n
		           FROM v_dropoff_pages) d
		       ON d.stage = f.stage AND d.n = 1
		WHERE f.breakdown = 'all'
		ORDER BY f.stage_order`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(w, "\nFunnel and drop-off (v_funnel, v_dropoff_pages): people reaching each stage, and the")
	fmt.Fprintln(w, "last page seen by those who went no further (lift: its exit share minus the share of")
	fmt.Fprintln(w, "those who advanced whose last page it was):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tpeople\tof previous\tmedian days\tstopped here\ttheir last page\texit share\tlift\t")
	for rows.Next() {
		var stage string
		var people int
		var rate, days, exit, lift sql.NullFloat64
		var stopped sql.NullInt64
		var page sql.NullString
		if err := rows.Scan(&stage, &people, &rate, &days, &stopped, &page, &exit, &lift); err != nil {
			return err
		}
		pct := func(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }
		points := func(x float64) string { return fmt.Sprintf("%+.0f pt", 100*x) }
		st, pg := "-", "-"
		if stopped.Valid {
			st = fmt.Sprint(stopped.Int64)
		}
		if page.Valid {
			pg = page.String
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", stage, people, dash(rate, pct), dash(days, fixed("%.1f")),
			st, pg, dash(exit, pct), dash(lift, points))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}

// printKeywords prints the search terms that brought the most won revenue under the
// linear model (v_keyword_revenue).
func printKeywords(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		SELECT l.term, l.channel, l.visitors, l.leads, l.customers, l.revenue, f.revenue, l.spend, l.roas
		FROM v_keyword_revenue l
		LEFT JOIN v_keyword_revenue f ON f.term = l.term AND f.channel = l.channel AND f.model = 'first_touch'
		WHERE l.model = 'linear'
		ORDER BY l.revenue DESC NULLS LAST, l.visitors DESC, l.term
		LIMIT 8`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	type keyword struct {
		term, channel                  string
		visitors                       int
		leads, customers               float64
		revenue, revFirst, spend, roas sql.NullFloat64
	}
	var list []keyword
	withSpend := false
	for rows.Next() {
		var k keyword
		if err := rows.Scan(&k.term, &k.channel, &k.visitors, &k.leads, &k.customers, &k.revenue, &k.revFirst, &k.spend, &k.roas); err != nil {
			return err
		}
		withSpend = withSpend || k.spend.Valid
		list = append(list, k)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nKeywords that bring buyers (v_keyword_revenue; leads, customers and revenue credited by the linear model):")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "term\tchannel\tvisitors\tleads\tcustomers\trevenue\trevenue first_touch\t")
	if withSpend { // keyword spend comes with exports that have a keyword column
		fmt.Fprint(tw, "spend\tROAS\t")
	}
	fmt.Fprintln(tw)
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t%s\t%s\t", k.term, k.channel, k.visitors, k.leads, k.customers,
			dash(k.revenue, Money), dash(k.revFirst, Money))
		if withSpend {
			fmt.Fprintf(tw, "%s\t%s\t", dash(k.spend, Money), dash(k.roas, fixed("%.2f")))
		}
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// printPipeline prints the CRM pipeline's stages: how many deals reached each, where
// the lost ones were lost, and how long deals stay (v_pipeline_stages).
func printPipeline(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		SELECT stage, deals_entered, still_here, won, lost_from_here, median_days_in_stage
		FROM v_pipeline_stages
		ORDER BY crm, pipeline, moved_on = 0, avg_stage_number, stage`) // closing stages last
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(w, "\nDeal pipeline (v_pipeline_stages): deals reaching each stage, where lost deals were lost, days in stage:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tdeals\tthere now\tlater won\tlost from here\tmedian days\t")
	for rows.Next() {
		var stage string
		var deals, here, won, lost int
		var days sql.NullFloat64
		if err := rows.Scan(&stage, &deals, &here, &won, &lost, &days); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%s\t\n", stage, deals, here, won, lost, dash(days, fixed("%.1f")))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}

// printPersonas prints each persona's funnel (v_funnel, breakdown persona) and what
// its leads were worth (v_lead_quality, linear model).
func printPersonas(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
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
		    FROM v_lead_quality WHERE model = 'linear' AND breakdown = 'channel' GROUP BY persona
		)
		SELECT f.persona, f.visitors, f.leads, f.mqls, f.sqls, f.opportunities, f.customers, q.rate, q.per_lead
		FROM f LEFT JOIN q ON q.persona = f.persona
		ORDER BY f.persona = 'Unclassified', f.customers DESC NULLS LAST, f.persona`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	fmt.Fprintln(w, "\nPersonas (CLOSEDLOOP_PERSONAS; v_funnel by persona, v_lead_quality): people at each stage, and")
	fmt.Fprintln(w, "how many of the leads became customers and what a lead was worth:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "persona\tvisitors\tleads\tMQL\tSQL\topportunities\tcustomers\tlead→customer\trevenue per lead\t")
	for rows.Next() {
		var persona string
		var visitors, leads, mqls, sqls, opps, customers int
		var rate, perLead sql.NullFloat64
		if err := rows.Scan(&persona, &visitors, &leads, &mqls, &sqls, &opps, &customers, &rate, &perLead); err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\n", persona, visitors, leads, mqls, sqls, opps, customers,
			dash(rate, percent), dash(perLead, Money))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}

// printLeadQuality prints, per channel, the leads it brought (linear model), how many
// became customers and which personas they were (v_lead_quality).
func printLeadQuality(ctx context.Context, db *sql.DB, w io.Writer) error {
	rows, err := db.QueryContext(ctx, `
		SELECT channel, persona, leads, customers, revenue
		FROM v_lead_quality WHERE model = 'linear' AND breakdown = 'channel'`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer rows.Close()
	type quality struct {
		channel                   string
		leads, customers, revenue float64
		personas                  map[string]float64
	}
	byChannel := map[string]*quality{}
	for rows.Next() {
		var ch, persona string
		var leads, customers float64
		var revenue sql.NullFloat64
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
		q.revenue += revenue.Float64
		q.personas[persona] += leads
	}
	if err := rows.Err(); err != nil {
		return err
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
	fmt.Fprintln(w, "\nLead quality by channel (v_lead_quality, linear model): more leads are not always better:")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "channel\tleads\tcustomers\tlead→customer\trevenue per lead\tthe leads' personas\t")
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
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%s\t%s\t%s\t\n", q.channel, q.leads, q.customers, percent(q.customers/q.leads),
			Money(q.revenue/q.leads), strings.Join(parts, ", "))
	}
	return tw.Flush()
}

// percent formats a share as a whole percentage.
func percent(x float64) string { return fmt.Sprintf("%.0f%%", 100*x) }

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

// dash formats v with f, and a NULL as "-".
func dash(v sql.NullFloat64, f func(float64) string) string {
	if !v.Valid {
		return "-"
	}
	return f(v.Float64)
}

// fixed returns a formatter of numbers with a fmt verb such as "%.2f".
func fixed(verb string) func(float64) string {
	return func(x float64) string { return fmt.Sprintf(verb, x) }
}

// Money formats an amount as the report shows it: whole units with thousands
// separators.
func Money(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
