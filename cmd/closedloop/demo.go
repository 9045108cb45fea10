package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop"
	"closedloop/load/duckdb"
	"closedloop/transform/attribution"
)

// The sample's period (extract/synth Config of testdata/sample/SOURCE.md).
var (
	sampleFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sampleTo   = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
)

// demoConfig is the run configuration of the demo over the sample unpacked in
// dir/sample; the source specs name it "sample/...", the same on every machine.
// It ignores CLOSEDLOOP_* variables: the demo must show the same thing everywhere.
func demoConfig(dir, warehouse string) (Config, error) {
	cfg := Config{
		Analytics:             "ga4:sample/ga4/*.ndjson.gz",
		CRM:                   "hubspot:sample/hubspot",
		Spend:                 "spend:sample/spend/*.csv",
		baseDir:               dir,
		Warehouse:             warehouse,
		From:                  Date{sampleFrom},
		To:                    Date{sampleTo},
		LateDays:              3,
		Lookback:              Days(90 * 24 * time.Hour),
		Models:                attribution.Names(),
		DecayHalfLife:         Days(7 * 24 * time.Hour),
		PositionWeights:       []float64{0.4, 0.4},
		MarkovOrder:           1,
		JourneyRestart:        true,
		IdentityLimits:        "email=5,user_id=1,hubspot_contact=5,salesforce_contact=5,salesforce_lead=5",
		Currency:              "USD",
		HubspotCookieProperty: "ga_client_id",
		SessionTimeout:        30 * time.Minute,
		LogFormat:             "auto",
		LogLevel:              "warn",
	}
	return cfg, cfg.validate()
}

// unpackSample writes the embedded sample into dir.
func unpackSample(dir string) error {
	root, err := fs.Sub(closedloop.Sample, "testdata/sample")
	if err != nil {
		return err
	}
	return os.CopyFS(dir, root)
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fl := flag.NewFlagSet("demo", flag.ContinueOnError)
	fl.SetOutput(stderr)
	warehouse := fl.String("warehouse", "duckdb:closedloop.duckdb", "warehouse to write (duckdb:PATH)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	dir, err := os.MkdirTemp("", "closedloop-sample-")
	if err != nil {
		return fail(stderr, err)
	}
	defer os.RemoveAll(dir)
	if err := unpackSample(filepath.Join(dir, "sample")); err != nil {
		return fail(stderr, fmt.Errorf("demo: unpack the sample: %w", err))
	}
	cfg, err := demoConfig(dir, *warehouse)
	if err != nil {
		return fail(stderr, err)
	}
	log := newLogger(cfg, stderr)
	res, err := runJob(ctx, cfg, memory.NewGoAllocator(), log)
	if err != nil {
		return fail(stderr, err)
	}
	db, err := duckdb.OpenReadOnly(cfg.warehousePath())
	if err != nil {
		return fail(stderr, err)
	}
	defer db.Close()
	abs, _ := filepath.Abs(cfg.warehousePath())
	fmt.Fprintf(stdout, "closedloop demo: the sample (a B2B software company, %s..%s) is in %s\n",
		sampleFrom.Format(time.DateOnly), sampleTo.Format(time.DateOnly), abs)
	fmt.Fprintf(stdout, "%d events, %d sessions, %d touchpoints, %d persons, %d conversions, %d rows rejected\n\n",
		res.Stats.Events, res.Stats.Sessions, res.Stats.Touchpoints, res.Stats.Persons, res.Stats.Conversions, res.Rejected)
	if err := printReport(ctx, db, stdout); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "\nNext: open %s in DuckDB (read-only) or Metabase and query the fct_* tables and v_* views.\n", abs)
	return 0
}

// reportModels are the models the demo's report shows, side by side.
var reportModels = []string{"first_touch", "last_touch", "linear", "time_decay", "w_shaped", "markov", "shapley"}

// printReport prints revenue by channel under each model, the funnel, and how
// identity stitching tied anonymous visits to leads.
func printReport(ctx context.Context, db *sql.DB, w io.Writer) error {
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
		SELECT channel, model, COALESCE(revenue, 0), spend, roas
		FROM v_channel_performance WHERE conversion_type = 'customer'
		ORDER BY channel, model`)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	type cell struct{ revenue float64 }
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
	for _, ch := range channels {
		fmt.Fprintf(tw, "%s\t", ch)
		for _, m := range models {
			fmt.Fprintf(tw, "%s\t", money(byChannel[ch][m]))
		}
		sp, ro := "-", "-"
		if spend[ch].Valid {
			sp = money(spend[ch].Float64)
		}
		if roas[ch].Valid {
			ro = fmt.Sprintf("%.2f", roas[ch].Float64)
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", sp, ro)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nFunnel (people reaching each stage, fct_conversion):")
	tw = tabwriter.NewWriter(w, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stage\tpeople\tof previous\t")
	prev := 0
	var visitors int
	if err := db.QueryRowContext(ctx, `SELECT count(DISTINCT person_id) FROM fct_touchpoint`).Scan(&visitors); err != nil {
		return err
	}
	fmt.Fprintf(tw, "visit\t%d\t\t\n", visitors)
	prev = visitors
	for _, stage := range []string{"lead", "mql", "sql", "opportunity", "customer"} {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(DISTINCT person_id) FROM fct_conversion WHERE conversion_type = ?`, stage).Scan(&n); err != nil {
			return err
		}
		rate := "-"
		if prev > 0 {
			rate = fmt.Sprintf("%.0f%%", 100*float64(n)/float64(prev))
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t\n", stage, n, rate)
		prev = n
	}
	tw.Flush()

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

// money formats an amount with thousands separators and no cents.
func money(v float64) string {
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
