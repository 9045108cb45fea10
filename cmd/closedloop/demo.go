package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop"
	"closedloop/sql/report"
	"closedloop/transform/attribution"
)

// The sample's period (extract/synth Config of testdata/sample/SOURCE.md).
var (
	sampleFrom = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	sampleTo   = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
)

// demoConfig is the run configuration of the demo over the sample unpacked in
// base/sample. The demo unpacks it in a temporary base and names it "sample/..." in
// the source specs, the same on every machine; --write-sample gives an absolute sample
// and no base. Settings it does not pin are closedloop run's defaults: it ignores
// CLOSEDLOOP_* variables, as the demo must show the same thing everywhere.
func demoConfig(base, sample, warehouse string) (Config, error) {
	cfg, err := runDefaults()
	if err != nil {
		return Config{}, err
	}
	cfg.Analytics = "ga4:" + filepath.Join(sample, "ga4", "*.ndjson.gz")
	cfg.CRM = "hubspot:" + filepath.Join(sample, "hubspot")
	cfg.Spend = "spend:" + filepath.Join(sample, "spend", "*.csv")
	cfg.Personas = filepath.Join(base, sample, "personas.txt")
	cfg.baseDir = base
	cfg.Warehouse = warehouse
	cfg.From, cfg.To = Date{sampleFrom}, Date{sampleTo}
	cfg.LateDays = 3
	cfg.Lookback = Days(90 * 24 * time.Hour)
	cfg.Models = attribution.Names()
	cfg.DecayHalfLife = Days(7 * 24 * time.Hour)
	cfg.PositionWeights = []float64{0.4, 0.4}
	cfg.MarkovOrder = 1
	cfg.JourneyRestart = true
	cfg.IdentityLimits = "email=5,user_id=1,hubspot_contact=5,salesforce_contact=5,salesforce_lead=5"
	cfg.Currency = "USD"
	cfg.HubspotCookieProperty = "ga_client_id"
	cfg.SessionTimeout = 30 * time.Minute
	cfg.LogFormat = "auto"
	cfg.LogLevel = "warn"
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
	warehouse := fl.String("warehouse", "duckdb:closedloop.duckdb", "warehouse to write, and read the report from: duckdb:PATH, postgres:DSN or parquet:DIR")
	rules := fl.String("channel-rules", "", "channel rules file to try on the sample (see CLOSEDLOOP_CHANNEL_RULES)")
	personas := fl.String("personas", "", "persona rules file to try on the sample instead of its own sample/personas.txt (see CLOSEDLOOP_PERSONAS)")
	force := fl.Bool("force", false, "write into a warehouse that holds other data than the demo's (its run_log names other sources): the demo replaces its people and the sample's days")
	sample := fl.String("write-sample", "", "write the sample's files into `DIR` and print the closedloop run command that loads them as the demo does, into any warehouse (bigquery:PROJECT.DATASET too)")
	if err := fl.Parse(args); err != nil {
		return 2
	}
	if fl.NArg() > 0 {
		return fail(stderr, fmt.Errorf("%w: demo: unexpected argument %q (closedloop demo --help lists the flags)", errUsage, fl.Arg(0)))
	}
	if *sample != "" {
		if err := writeSample(*sample, *warehouse, *rules, *personas, stdout); err != nil {
			return fail(stderr, err)
		}
		return 0
	}
	if err := checkDemoWarehouse(*warehouse); err != nil {
		return fail(stderr, err)
	}
	dir, err := os.MkdirTemp("", "closedloop-sample-")
	if err != nil {
		return fail(stderr, err)
	}
	defer os.RemoveAll(dir)
	if err := unpackSample(filepath.Join(dir, "sample")); err != nil {
		return fail(stderr, fmt.Errorf("demo: unpack the sample: %w", err))
	}
	cfg, err := demoConfig(dir, "sample", *warehouse)
	if err == nil && (*rules != "" || *personas != "") {
		cfg, err = withRules(cfg, *rules, *personas)
	}
	if err != nil {
		return fail(stderr, err)
	}
	if !*force {
		if err := checkDemoOwns(ctx, cfg); err != nil {
			return fail(stderr, fmt.Errorf("%w: %w", errUsage, err))
		}
	}
	rep, log := startProgress(cfg, stderr)
	res, err := runJobWith(ctx, cfg, memory.NewGoAllocator(), log, rep)
	if err != nil {
		return fail(stderr, err)
	}
	rd, err := openDemoReader(ctx, cfg)
	if err != nil {
		return fail(stderr, err)
	}
	defer rd.db.Close()
	fmt.Fprintf(stdout, "closedloop demo: the sample (a B2B software company, %s..%s) is in %s\n",
		sampleFrom.Format(time.DateOnly), sampleTo.Format(time.DateOnly), rd.where)
	fmt.Fprintf(stdout, "%d events, %d sessions, %d touchpoints, %d persons, %d conversions, %d rows rejected\n\n",
		res.Stats.Events, res.Stats.Sessions, res.Stats.Touchpoints, res.Stats.Persons, res.Stats.Conversions, res.Rejected)
	r, err := report.Build(ctx, rd.db, report.Options{Warehouse: rd.where})
	if err != nil {
		return fail(stderr, err)
	}
	if err := r.Only(report.Terminal...).Print(stdout); err != nil {
		return fail(stderr, err)
	}
	html := demoReportPath(cfg.Warehouse)
	if _, err := writeReport(html, r); err != nil {
		return fail(stderr, err)
	}
	fmt.Fprintf(stdout, "\n%s%s\n", demoReportLine, html)
	fmt.Fprintf(stdout, "Next: %s\n", rd.next)
	return 0
}
