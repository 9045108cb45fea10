package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	gbq "cloud.google.com/go/bigquery"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"closedloop/extract"
	"closedloop/extract/ga4/bqstorage"
	"closedloop/load"
	"closedloop/load/bigquery"
	"closedloop/transform/sqlengine"
)

// bigqueryOptions are the client options of every BigQuery client of a run: an
// endpoint without credentials (CLOSEDLOOP_BIGQUERY_ENDPOINT), else Google's defaults.
func bigqueryOptions(cfg Config) []option.ClientOption {
	if cfg.BigqueryEndpoint == "" {
		return nil
	}
	return []option.ClientOption{option.WithEndpoint(cfg.BigqueryEndpoint), option.WithoutAuthentication()}
}

// engineRun is the bigquery engine of a run: its Engine, the executor's estimates and
// the work tables to drop once the warehouse has their rows.
type engineRun struct {
	eng    *sqlengine.Engine
	ex     *sqlengine.BigQueryExecutor
	client *gbq.Client
	spec   string // the GA4 source the engine reads
}

// exportSource is the ga4:bigquery:// source of cfg (checkEngine made sure of one).
func exportSource(cfg Config) extract.Spec {
	for _, s := range cfg.parsed.analytics {
		if s.Kind == "ga4" && strings.HasPrefix(s.Location, "bigquery://") {
			return s
		}
	}
	return extract.Spec{}
}

// engineRange is the days of the export the engine reads: an incremental night's from
// two days before its first (plan.readFrom, as the local engine's); else the run's,
// widened by the lookback and a day (as the local engine's BigQuery source reads them).
func engineRange(cfg Config, pl plan) extract.Range {
	if pl.mode == modeIncremental {
		return extract.Range{From: pl.readFrom(), To: cfg.To.Time}
	}
	days := int((time.Duration(cfg.Lookback) + 24*time.Hour - 1) / (24 * time.Hour))
	return extract.Range{From: cfg.From.AddDate(0, 0, -days-1), To: cfg.To.Time}
}

// newEngine sets up the bigquery engine of a run over rng: an incremental one (pl)
// reads the export from two days before its first day, and the rest from the
// warehouse's state; another the range widened by the lookback.
func newEngine(ctx context.Context, cfg Config, rng extract.Range, pl plan, runID string, mem memory.Allocator, log *slog.Logger) (*engineRun, error) {
	src := exportSource(cfg)
	bc, err := bqstorage.ParseLocation(src.Location)
	if err != nil {
		return nil, err
	}
	if bc.Intraday {
		return nil, fmt.Errorf("%w: %s: engine bigquery reads the daily export tables only: drop intraday=true", errUsage, src)
	}
	_, loc, _ := strings.Cut(cfg.Warehouse, ":")
	project, dataset, err := bigqueryTarget(loc)
	if err != nil {
		return nil, fmt.Errorf("%w: CLOSEDLOOP_WAREHOUSE: %v", errUsage, err)
	}
	billing := project
	if bc.BillingProject != "" {
		billing = bc.BillingProject
	}
	client, err := gbq.NewClient(ctx, billing, bigqueryOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("bigquery client: %w", err)
	}
	if err := engineDatasets(ctx, client, cfg, bc, project, dataset, log); err != nil {
		client.Close()
		return nil, err
	}
	ex := &sqlengine.BigQueryExecutor{Client: client, Project: project, Dataset: dataset, Location: cfg.BigqueryLocation,
		MaxBytes: cfg.BigqueryMaxBytes, RunID: strings.ToLower(strings.NewReplacer("-", "", "T", "t").Replace(runID)),
		DryRun: cfg.DryRun, Labels: map[string]string{"app": "closedloop"}, Log: log.With("engine", "bigquery")}
	pc := cfg.parsed
	ecfg := sqlengine.Config{Dialect: sqlengine.BigQuery, Export: bc.Project + "." + bc.Dataset,
		Staging: project + "." + dataset, Warehouse: project + "." + dataset, Range: rng, Read: engineRange(cfg, pl),
		SessionTimeout: cfg.SessionTimeout, TouchEvents: cfg.TouchEvents, KeepSessionOnCampaignChange: !cfg.SessionSplitOnCampaign,
		MicroConversions: cfg.MicroConversions, AttributeSalesTouches: cfg.AttributeSalesTouches, Lookback: time.Duration(cfg.Lookback),
		Since: pl.since}
	eng := sqlengine.New(ex, ecfg, sqlengine.Options{Mem: mem, Channels: pc.channels, Logger: log.With("engine", "bigquery"),
		Input: src.String()})
	return &engineRun{eng: eng, ex: ex, client: client, spec: src.String()}, nil
}

// engineDatasets checks that the export's dataset is there and that the warehouse's
// is in its location (BigQuery runs a query in one location: the work tables and the
// export must share it), and creates the warehouse's dataset where the export is when
// it is missing (not on a dry run).
func engineDatasets(ctx context.Context, client *gbq.Client, cfg Config, bc bqstorage.Config, project, dataset string, log *slog.Logger) error {
	exp, err := client.DatasetInProject(bc.Project, bc.Dataset).Metadata(ctx)
	if err != nil {
		return fmt.Errorf("the GA4 export's dataset %s.%s: %w (check the ga4:bigquery:// source and that the credentials may read it)",
			bc.Project, bc.Dataset, err)
	}
	wh := client.DatasetInProject(project, dataset)
	md, err := wh.Metadata(ctx)
	var gerr *googleapi.Error
	switch {
	case errors.As(err, &gerr) && gerr.Code == http.StatusNotFound:
		if cfg.DryRun {
			return nil
		}
		log.Info("creating the warehouse dataset where the export is", "dataset", project+"."+dataset, "location", exp.Location)
		return wh.Create(ctx, &gbq.DatasetMetadata{Location: exp.Location})
	case err != nil:
		return fmt.Errorf("the warehouse dataset %s.%s: %w", project, dataset, err)
	case !strings.EqualFold(md.Location, exp.Location):
		return fmt.Errorf("%w: engine bigquery: the export %s.%s is in %s and the warehouse %s.%s in %s: BigQuery queries one location; "+
			"put the warehouse in %s (CLOSEDLOOP_BIGQUERY_LOCATION for a new dataset) or use --engine local",
			errUsage, bc.Project, bc.Dataset, exp.Location, project, dataset, md.Location, exp.Location)
	}
	return nil
}

// appendTables has the loader append the engine's rows of the tables it builds to
// each day of the range; fct_attribution's from attributionFrom when an identity
// merge reached back before the range (its older days are replaced).
func (e *engineRun) appendTables(ld load.Loader, attributionFrom time.Time) error {
	bl, ok := ld.(*bigquery.Loader)
	if !ok {
		return fmt.Errorf("engine bigquery needs a bigquery: warehouse")
	}
	for table, q := range e.eng.Tables() {
		var from time.Time
		if table == load.FctAttribution {
			from = attributionFrom
		}
		if err := bl.AppendQuery(table, q, from); err != nil {
			return err
		}
	}
	return nil
}

// checkRejects fails the run when more than max of the export's rows read were left
// out, as checkRejects does for an extractor's.
func (e *engineRun) checkRejects(max float64) error {
	n, bad := e.eng.Events+e.eng.Rejected, e.eng.Rejected
	if bad == 0 || float64(bad)/float64(n) <= max {
		return nil
	}
	var first []string
	for _, r := range e.eng.Rejections[:min(len(e.eng.Rejections), maxReasons)] {
		first = append(first, r.Location+": "+r.Reason)
	}
	return fmt.Errorf("source %s: %d of %d rows rejected (%.1f%%, more than CLOSEDLOOP_MAX_REJECT_RATIO=%g); the first: %s. "+
		"Nothing was loaded: fix the input, or raise --max-reject-ratio if these rows are expected to fail",
		e.spec, bad, n, 100*float64(bad)/float64(n), max, strings.Join(first, "; "))
}

// summary is what run_log.row_counts.engine says of the engine's run: the export's
// rows used and left out, the jobs run, the bytes their dry runs estimated (the cost),
// and each step's seconds.
func (e *engineRun) summary() map[string]any {
	var bytes int64
	for _, est := range e.ex.Estimates {
		bytes += est.Bytes
	}
	return map[string]any{"name": "bigquery", "events": e.eng.Events, "rejected": e.eng.Rejected, "jobs": e.ex.Jobs,
		"bytes_estimated": bytes, "usd_on_demand": sqlengine.USD(bytes), "step_seconds": e.eng.Seconds}
}

// close drops the work tables (they expire by themselves otherwise) and the client.
func (e *engineRun) close(ctx context.Context) {
	e.eng.Cleanup(ctx)
	e.client.Close()
}

// dryRun prints the run's SQL, phase by phase, and the bytes the dry run of the
// export's read says it will scan: the one statement whose tables exist before the
// run (the others read the run's own work tables).
func dryRun(ctx context.Context, cfg Config, stdout io.Writer, log *slog.Logger) error {
	rng := extract.Range{From: cfg.From.Time, To: cfg.To.Time}
	pl, err := planRun(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer pl.close()
	er, err := newEngine(ctx, cfg, rng, pl, newRunID(time.Now().UTC()), memory.NewGoAllocator(), log)
	if err != nil {
		return err
	}
	defer er.client.Close()
	script, err := er.eng.Script()
	if err != nil {
		return err
	}
	read := engineRange(cfg, pl)
	fmt.Fprintf(stdout, "-- closedloop run --engine bigquery --dry-run: %s..%s written (%s), export days %s..%s read (%d days)\n\n",
		rng.From.Format(time.DateOnly), rng.To.Format(time.DateOnly), pl.mode, read.From.Format(time.DateOnly), read.To.Format(time.DateOnly),
		int(read.End().Sub(read.Start())/(24*time.Hour)))
	for _, st := range script {
		fmt.Fprintf(stdout, "-- step %s\n%s;\n\n", st.Step, st.SQL)
	}
	first := script[0]
	if err := er.ex.Exec(ctx, first); err != nil {
		return fmt.Errorf("dry run of step %s: %w", first.Step, err)
	}
	est := er.ex.Estimates[0]
	days := read.End().Sub(read.Start()) / (24 * time.Hour)
	fmt.Fprintf(stdout, "-- estimate: step %s scans %d bytes (%.3f GiB, $%.4f on demand at $%.2f/TiB); %.3f GiB per export day read\n",
		est.Step, est.Bytes, float64(est.Bytes)/(1<<30), sqlengine.USD(est.Bytes), sqlengine.OnDemandUSDPerTiB,
		float64(est.Bytes)/(1<<30)/float64(max(1, days)))
	fmt.Fprintln(stdout, "-- the other steps read this run's work tables, a fraction of that (their bytes are logged as they run)")
	return nil
}
