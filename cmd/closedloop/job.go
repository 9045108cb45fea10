package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/sourcegraph/conc/pool"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/httpretry"
	"closedloop/extract/hubspot"
	"closedloop/extract/salesforce"
	"closedloop/extract/segment"
	"closedloop/extract/spend"
	"closedloop/extract/tables"
	"closedloop/extract/touches"
	"closedloop/load"
	"closedloop/load/redact"
	"closedloop/progress"
	"closedloop/transform"
	"closedloop/transform/identity"
)

// maxExtractors bounds the extractors running at once: each holds a file or an API
// connection open and one batch in memory; more than this gains nothing on a small
// machine and hits API rate limits sooner.
const maxExtractors = 8

// result is what a finished run reports.
type result struct {
	RunID    string
	Stats    transform.Stats
	Rejected int
	Rows     map[string]int64 // rows loaded per warehouse table
}

// extractors builds one extractor per source spec of cfg (validated).
// An incremental run reads GA4 export files from since on (zero: all). A CRM or spend
// source whose location is warehouse tables (tables.IsTableLocation) reads a
// tables.Source, opened at its first use: closeSources closes those opened, after
// the last Extract or Check.
func extractors(cfg Config, mem memory.Allocator, log *slog.Logger, since time.Time) (_ []extract.Extractor, closeSources func() error, _ error) {
	var out []extract.Extractor
	var srcs []*tableSource
	closeSources = func() error {
		var errs []error
		for _, s := range srcs {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
	rng := extract.Range{From: cfg.From.Time, To: cfg.To.Time}
	if cfg.From.Equal(allDays) {
		rng = extract.Range{} // every day the tables hold
	}
	for _, s := range cfg.parsed.sources() {
		loc := s.Location
		if cfg.baseDir != "" && !filepath.IsAbs(loc) && !tables.IsTableLocation(loc) {
			loc = filepath.Join(cfg.baseDir, loc)
		}
		var src *tableSource
		if (s.Kind == "hubspot" || s.Kind == "salesforce" || s.Kind == "spend") && tables.IsTableLocation(s.Location) {
			src = newTableSource(cfg, s, log)
			srcs = append(srcs, src)
		}
		switch s.Kind {
		case "ga4":
			if strings.HasPrefix(s.Location, "bigquery://") {
				// The run's days widened by the lookback (journeys look back past
				// the range), plus a day for sessions crossing midnight at the edge.
				days := int((time.Duration(cfg.Lookback) + 24*time.Hour - 1) / (24 * time.Hour))
				out = append(out, ga4.NewBigQuery(ga4.BigQueryConfig{Spec: s.String(), Location: s.Location,
					Range: extract.Range{From: cfg.From.AddDate(0, 0, -days-1), To: cfg.To.Time},
					Mem:   mem, Log: log.With("source", s.String())}))
			} else {
				// Each day of the range must have its file: a missing one is a rejected row.
				var days extract.Range
				if !cfg.From.Equal(allDays) {
					days = extract.Range{From: cfg.From.Time, To: cfg.To.Time}
				}
				out = append(out, ga4.New(ga4.Config{Spec: s.String(), Path: loc, Mem: mem, Log: log.With("source", s.String()), Since: since, Range: days}))
			}
		case "segment":
			out = append(out, segment.New(segment.Config{Spec: s.String(), Path: loc, Mem: mem}))
		case "touches":
			out = append(out, touches.New(touches.Config{Spec: s.String(), Path: loc, Mem: mem}))
		case "hubspot":
			// The HubSpot reader names its source on each line itself, as the Salesforce one does.
			hc := hubspot.Config{Spec: s.String(), Mem: mem, CookieProperty: cfg.HubspotCookieProperty,
				Currency: cfg.Currency, Log: log, Retry: httpretry.Policy{SourceTimeout: cfg.SourceTimeout}}
			switch {
			case src != nil:
				hc.Source = src
			case s.Location == hubspot.APILocation:
				hc.Token, hc.BaseURL = cfg.HubspotToken, cfg.HubspotBaseURL
			default:
				hc.Dir = loc
			}
			out = append(out, hubspot.New(hc))
		case "salesforce":
			sc := salesforce.Config{Spec: s.String(), Mem: mem, Log: log, Currency: cfg.Currency, Retry: httpretry.Policy{SourceTimeout: cfg.SourceTimeout},
				CookieField: cfg.SalesforceCookieField, MQLStatuses: cfg.SalesforceMqlStatuses, SQLStatuses: cfg.SalesforceSqlStatuses}
			switch {
			case src != nil:
				sc.Source = src
			case s.Location == "api":
				sc.InstanceURL, sc.AccessToken, sc.APIVersion = cfg.SalesforceInstanceURL, cfg.SalesforceToken, cfg.SalesforceAPIVersion
				sc.ClientID, sc.ClientSecret = cfg.SalesforceClientID, cfg.SalesforceClientSecret
			default:
				sc.Dir = loc
			}
			out = append(out, salesforce.New(sc))
		case "spend":
			sc := spend.Config{Spec: s.String(), Path: loc, Mem: mem, Currency: cfg.Currency,
				CampaignMap: cfg.SpendCampaignMap, Rates: cfg.CurrencyRates}
			if src != nil {
				sc.Source, sc.Range = src, rng
			}
			out = append(out, spend.New(sc))
		default:
			closeSources()
			return nil, nil, fmt.Errorf("%w: source kind %q is not supported by this build", errUsage, s.Kind)
		}
	}
	return out, closeSources, nil
}

// tableSource is the tables.Source of a CRM or spend source in a warehouse, opened
// (tables.Open, which connects) at the first call with that call's context: the
// extractors are built before a run or a check connects to anything, and a source
// that cannot be opened fails its own extraction or check line, naming it. It is
// safe for concurrent use; Close closes it if it was opened, and is safe twice.
type tableSource struct {
	location string
	opt      tables.Options

	mu     sync.Mutex
	src    tables.Source
	err    error
	closed bool
}

var _ tables.Source = (*tableSource)(nil)

// newTableSource returns the source of spec s (a table location), not yet opened. A
// relative duckdb: path is read from the demo's folder, as relative file paths are.
func newTableSource(cfg Config, s extract.Spec, log *slog.Logger) *tableSource {
	loc := s.Location
	if rest, ok := strings.CutPrefix(loc, "duckdb:"); ok && cfg.baseDir != "" && !filepath.IsAbs(rest) {
		loc = "duckdb:" + filepath.Join(cfg.baseDir, rest)
	}
	return &tableSource{location: loc, opt: tables.Options{Endpoint: cfg.BigqueryEndpoint, Log: log.With("source", redact.Spec(s.String()))}}
}

// open returns the opened source, opening it on the first call.
func (t *tableSource) open(ctx context.Context) (tables.Source, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.closed:
		return nil, fmt.Errorf("%s: the source is closed", redact.Spec(t.location))
	case t.src == nil && t.err == nil:
		t.src, t.err = tables.Open(ctx, t.location, t.opt)
	}
	return t.src, t.err
}

// Spec returns the opened source's spec, else the location without credentials.
func (t *tableSource) Spec() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.src != nil {
		return t.src.Spec()
	}
	return redact.Spec(t.location)
}

// Tables implements tables.Source.
func (t *tableSource) Tables(ctx context.Context) ([]string, error) {
	src, err := t.open(ctx)
	if err != nil {
		return nil, err
	}
	return src.Tables(ctx)
}

// Columns implements tables.Source.
func (t *tableSource) Columns(ctx context.Context, table string) ([]string, error) {
	src, err := t.open(ctx)
	if err != nil {
		return nil, err
	}
	return src.Columns(ctx, table)
}

// Read implements tables.Source.
func (t *tableSource) Read(ctx context.Context, table string, cols []string, f *tables.DayFilter, fn func(row []string) error) error {
	src, err := t.open(ctx)
	if err != nil {
		return err
	}
	return src.Read(ctx, table, cols, f, fn)
}

// Close closes the source if it was opened.
func (t *tableSource) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if t.src == nil {
		return nil
	}
	return t.src.Close()
}

// maxLoggedRejections bounds the rejected rows logged one by one; rejected_rows has all.
const maxLoggedRejections = 5

// runJob is the nightly job: extract every source concurrently, transform, load the
// warehouse atomically.
func runJob(ctx context.Context, cfg Config, mem memory.Allocator, log *slog.Logger) (*result, error) {
	return runJobWith(ctx, cfg, mem, log, nil)
}

// runJobWith is runJob telling rep of its progress: each source's rows and bytes, each
// stage's time, the summary (nil: a progress.NewLog of log, whose lines carry them).
// The stages' seconds up to the run_log row go into run_log.stage_seconds.
func runJobWith(ctx context.Context, cfg Config, mem memory.Allocator, log *slog.Logger, rep *progress.Reporter) (_ *result, err error) {
	started := time.Now().UTC()
	runID := newRunID(started)
	log = log.With("run_id", runID)
	if rep == nil {
		rep = progress.NewLog(log)
	}
	defer func() {
		if err != nil {
			rep.Finish(progress.Summary{Tables: map[string]int64{}, Err: err})
		}
	}()
	rng := extract.Range{From: cfg.From.Time, To: cfg.To.Time}
	if cfg.parsed == nil {
		return nil, errors.New("closedloop: the configuration was not validated")
	}
	lock, err := lockWarehouse(cfg, runID, started, log)
	if err != nil {
		return nil, err
	}
	if lock != nil {
		defer lock.Unlock()
	}
	pl, err := planRun(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	defer pl.close()
	exs, closeSources, err := extractors(cfg, mem, log, pl.readFrom())
	if err != nil {
		return nil, err
	}
	// The warehouse sources are closed when the run ends; their rows are in memory
	// once extracted.
	defer func() {
		if cerr := closeSources(); cerr != nil {
			log.Warn("closing a table source", "error", cerr)
		}
	}()
	var er *engineRun // engine bigquery: the export is read where it is, not by an extractor
	if cfg.Engine == "bigquery" {
		if er, err = newEngine(ctx, cfg, rng, pl, runID, mem, log); err != nil {
			return nil, err
		}
		defer er.close(context.WithoutCancel(ctx))
		exs = slices.DeleteFunc(exs, func(ex extract.Extractor) bool { return ex.Name() == er.spec })
	}
	from := rng.From.Format(time.DateOnly)
	if rng.From.Equal(allDays) {
		from = "every day"
	}
	log.Info("run starting", "from", from, "to", rng.To.Format(time.DateOnly), "mode", pl.mode, "sources", len(exs), "warehouse", redact.Spec(cfg.Warehouse))

	// Extract every source at once (the first error cancels the others) while the
	// events stream into the transform a chunk at a time.
	pc := cfg.parsed
	stream := transform.NewStream(transform.Options{Channels: pc.channels, Personas: pc.personas, Mem: mem, Range: rng, Lookback: time.Duration(cfg.Lookback),
		SessionTimeout: cfg.SessionTimeout, Models: pc.models, Currency: cfg.Currency, Logger: log,
		OverlapJourneys: !cfg.JourneyRestart, MicroConversions: cfg.MicroConversions,
		TouchEvents: cfg.TouchEvents, AttributeSalesTouches: cfg.AttributeSalesTouches, KeepSessionOnCampaignChange: !cfg.SessionSplitOnCampaign,
		IdentityLimits: pc.limits, Identity: identity.Options{HashEmails: cfg.HashPii, Blocked: cfg.IdentityBlocklist},
		SpillBytes: spillBytes, Since: pl.since, Pushdown: pushdown(er),
		Scopes: pc.scopes, AccountFromEmail: cfg.AccountFromEmail, FreeMailDomains: cfg.FreeMailDomains,
		Stage: func(name string, d time.Duration) { rep.Stage(strings.ReplaceAll(name, " ", "_"), d) }})
	col := extract.NewCollector(mem)
	defer col.Release()
	for _, name := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableAccounts} {
		// What the steps read of the CRM's records: the rest need not wait in memory.
		if err := col.Keep(name, transform.InputColumns(name)); err != nil {
			stream.Release()
			return nil, err
		}
	}
	sink := newEventSink(ctx, col, stream, runtime.GOMAXPROCS(0))
	p := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(maxExtractors)
	if pl.mode == modeIncremental { // the warehouse's state, beside the sources
		p.Go(func(ctx context.Context) error {
			t0 := time.Now()
			if err := pl.readState(ctx, stream); err != nil {
				return fmt.Errorf("warehouse state: %w", err)
			}
			log.Info("warehouse state read", "since", pl.since.Format(time.DateOnly), "seconds", time.Since(t0).Seconds())
			rep.Stage("read:warehouse_state", time.Since(t0))
			return nil
		})
	}
	if er != nil {
		p.Go(func(ctx context.Context) error {
			src := rep.Source(redact.Spec(er.spec))
			if err := er.eng.Start(ctx, stream); err != nil {
				return fmt.Errorf("source %s (engine bigquery): %w", er.spec, err)
			}
			for _, r := range er.eng.Rejections { // counted per export day and reason: the rows stay in BigQuery
				if err := col.Reject(ctx, r); err != nil {
					return err
				}
			}
			src.AddRows(int64(er.eng.Events))
			src.Done("engine", "bigquery")
			return nil
		})
	}
	var delivered []*sourceDays // per analytics source: its events per day
	for _, ex := range exs {
		var w extract.Writer = sink
		if isAnalytics(ex.Name()) {
			sd := newSourceDays(sink, ex.Name())
			delivered = append(delivered, sd)
			w = sd
		}
		p.Go(func(ctx context.Context) error {
			src := rep.Source(redact.Spec(ex.Name()))
			if err := ex.Extract(extract.WithMeter(ctx, src), rowCounter{w, src}); err != nil {
				return fmt.Errorf("source %s: %w", ex.Name(), err)
			}
			var attrs []any
			if s, ok := ex.(skipper); ok && s.Skipped() > 0 {
				attrs = append(attrs, "skipped", s.Skipped())
			}
			src.Done(attrs...)
			return nil
		})
	}
	extractErr := p.Wait()
	if err := errors.Join(extractErr, sink.Close(ctx, extractErr == nil)); err != nil {
		stream.Release()
		if extractErr != nil {
			return nil, extractErr
		}
		return nil, err
	}
	if err := checkRejects(col, exs, cfg.MaxRejectRatio); err != nil {
		stream.Release()
		return nil, err
	}
	if er != nil {
		if err := er.checkRejects(cfg.MaxRejectRatio); err != nil {
			stream.Release()
			return nil, err
		}
	}

	// Transform: what follows the events.
	// The CRM and spend tables: taken from the Collector (which keeps its counts and
	// rejections) and freed as soon as the transform is done with them.
	var in transform.Inputs
	var crmTables []arrow.Table
	for _, t := range []struct {
		name string
		dst  *arrow.Table
	}{{extract.TableContacts, &in.Contacts}, {extract.TableDeals, &in.Deals}, {extract.TableDealContacts, &in.DealContacts},
		{extract.TableSpend, &in.Spend}, {extract.TableDealStages, &in.DealStages}, {extract.TableAccounts, &in.Accounts}} {
		tbl, err := col.Take(t.name)
		if err != nil {
			releaseTables(crmTables)
			stream.Release()
			return nil, err
		}
		*t.dst = tbl
		crmTables = append(crmTables, tbl)
	}
	// The extraction's batches are garbage now: hand their pages back before the
	// transform's last steps allocate theirs, so that the two never add up.
	debug.FreeOSMemory()
	if os.Getenv("GOGC") == "" {
		// The last steps build large structures of their own once, with little garbage
		// between them: collecting at 15% heap growth instead of 50% costs them no
		// time and keeps 10M GA4 events under 0.9 GiB instead of 1.3 (bench/run).
		defer debug.SetGCPercent(debug.SetGCPercent(15))
	}
	out, err := stream.Finish(ctx, in)
	if path := os.Getenv("CLOSEDLOOP_MEMPROFILE"); path != "" && err == nil { // for developers: go tool pprof
		writeHeapProfile(path)
	}
	releaseTables(crmTables)
	// The loads ahead allocate in DuckDB's C heap, which cannot reuse the Go heap's
	// free pages: hand them back.
	debug.FreeOSMemory()
	if err != nil {
		return nil, err
	}
	defer out.Release()
	warnUnlinkedCookies(cfg, out.Stats, log)
	if st := out.Stats; st.Events > 0 && st.Touchpoints == 0 && st.PageViews == 0 && st.Conversions == 0 {
		first, last := dataSpan(delivered)
		log.Warn(noDataInRange(cfg, first, last), "events_read", st.Events, "from", cfg.From.Format(time.DateOnly), "to", cfg.To.Format(time.DateOnly))
	}

	// Load: every table, then the views, then one atomic swap.
	rejections := col.Rejections()
	for i, r := range rejections {
		if i == maxLoggedRejections {
			log.Warn("more rows rejected; all are in rejected_rows", "rejected", len(rejections))
			break
		}
		log.Warn("row rejected", "source", r.Input, "location", r.Location, "reason", r.Reason)
	}
	res := &result{RunID: runID, Stats: out.Stats, Rejected: len(rejections), Rows: map[string]int64{}}
	for name, t := range out.Tables {
		res.Rows[name] = t.NumRows()
	}
	for name, t := range out.Spilled {
		res.Rows[name] = t.NumRows()
	}
	res.Rows[load.RejectedRows] = int64(len(rejections))
	res.Rows[load.RunLog] = 1

	var inputs []string
	for _, ex := range exs {
		inputs = append(inputs, ex.Name())
	}
	if er != nil {
		inputs = append([]string{er.spec}, inputs...)
	}
	rejected := load.RejectedRowsTable(mem, runID, rejections)
	defer rejected.Release()

	// What the run says of the warehouse's state; a run over every day tells the
	// loader the days it wrote.
	state := runState{Mode: pl.mode, Settings: pl.settings}
	switch first := out.Stats.FirstEvent; {
	case pl.mode == modeIncremental:
		state.Complete, state.Since = true, pl.since.Format(time.DateOnly)
		if f := out.Stats.AttributionFrom; !f.IsZero() {
			state.AttributionFrom = f.Format(time.DateOnly)
		}
	default:
		state.Complete = first.IsZero() || !rng.From.After(first)
	}
	if rng.From.Equal(allDays) {
		rng.From = rng.To
		if w := out.Stats.FirstWritten; !w.IsZero() && w.Before(rng.To) {
			rng.From = w.Truncate(24 * time.Hour)
		}
	}
	ld, err := openWarehouse(ctx, cfg, load.Range{From: rng.From, To: rng.To}, runID, lock, log)
	if err != nil {
		return nil, err
	}
	defer ld.Close()
	// The days the warehouse holds, before anything is replaced: none may be replaced
	// with nothing, and none should shrink much.
	held, err := heldDays(ctx, ld, load.Range{From: rng.From, To: rng.To})
	if err != nil {
		return nil, err
	}
	if !cfg.AllowEmptyDays {
		if err := checkEmptyDays(delivered, held); err != nil {
			return nil, err
		}
	}
	loadOne := func(ctx context.Context, name string, t arrow.Table, sp *transform.Spilled) error {
		t0 := time.Now()
		end := rep.Start("load:" + name)
		st := out.Stats
		if er != nil { // the engine's credits are appended from AttributionFrom; Go's table holds none
			st.AttributionFrom = time.Time{}
		}
		err := loadTable(ctx, ld, st, name, t, sp, rng.To)
		// Let go of the table as soon as it is in: the loads after it have its memory.
		if t != nil {
			t.Release()
		}
		if sp != nil {
			sp.Release()
		}
		if err != nil {
			return err
		}
		end()
		log.Debug("table loaded", "table", name, "rows", res.Rows[name], "seconds", time.Since(t0).Seconds())
		return nil
	}
	// The run's tables, at once where the warehouse allows; then run_log and
	// rejected_rows, after older rows are re-pointed.
	at := 1
	if cl, ok := ld.(load.ConcurrentLoader); ok {
		at = max(1, cl.ConcurrentLoads())
	}
	loads := pool.New().WithContext(ctx).WithCancelOnError().WithFirstError().WithMaxGoroutines(at)
	// The largest first, so that the longest loads overlap rather than come last.
	var names []string
	for _, t := range load.Tables {
		if t.Name != load.RunLog && t.Name != load.RejectedRows {
			names = append(names, t.Name)
		}
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(res.Rows[b], res.Rows[a]) })
	for _, name := range names {
		t, sp := out.Take(name) // here, not in the load's goroutine: out's maps are not shared
		loads.Go(func(ctx context.Context) error { return loadOne(ctx, name, t, sp) })
	}
	if err := loads.Wait(); err != nil {
		return nil, err
	}
	var drops []dayDrop
	if held != nil {
		after, err := heldDays(ctx, ld, load.Range{From: rng.From, To: rng.To})
		if err != nil {
			return nil, err
		}
		drops = checkDayDrops(held, after, cfg.MaxDayDrop)
		if err := reportDayDrops(drops, cfg.MaxDayDrop, cfg.Strict, log); err != nil {
			return nil, err
		}
	}
	for _, t := range load.Tables {
		var tbl arrow.Table
		switch t.Name {
		case load.RunLog:
			// Older rows first move to the persons their identifiers now belong to,
			// so that run_log can say how many did.
			remapped, err := ld.RemapPersons(ctx, out.Aliases)
			if err != nil {
				return nil, err
			}
			if remapped > 0 {
				log.Info("rows of earlier runs moved to their stitched person", "rows", remapped)
			}
			st := out.Stats
			ids := map[string]int{"identifiers": st.Identifiers, "persons": st.Persons, "edges": st.IdentityEdges,
				"edges_refused": st.IdentityConflicts, "rows_repointed": int(remapped)}
			for crm, l := range st.CRMCookies {
				ids[crm+"_cookies"], ids[crm+"_cookies_linked"] = l.Stored, l.Linked
			}
			counts := map[string]any{"loaded": res.Rows, "read": readCounts(col, exs), "events": st.EventRows, "identity": ids,
				"state": state}
			if len(drops) > 0 {
				counts["day_drops"] = drops
			}
			if er != nil {
				counts["engine"] = er.summary()
			}
			countsJSON, _ := json.Marshal(counts)
			stagesJSON, _ := json.Marshal(rep.Seconds())
			runLog := load.RunLogTable(mem, load.Run{ID: runID, Started: started, Finished: time.Now().UTC(), From: rng.From, To: rng.To,
				Inputs: redact.Specs(inputs), Warehouse: redact.Spec(cfg.Warehouse), RowCounts: string(countsJSON),
				Rejected: len(rejections), Status: "success", Version: version, StageSeconds: string(stagesJSON)})
			defer runLog.Release()
			tbl = runLog
		case load.RejectedRows:
			tbl = rejected
		default:
			continue
		}
		end := rep.Start("load:" + t.Name)
		if err := ld.Load(ctx, t.Name, tbl); err != nil {
			return nil, err
		}
		end()
	}
	if n := out.Stats.IdentityConflicts; n > 0 {
		log.Warn("identity edges refused by the guardrails; see identity_conflicts", "edges_refused", n)
	}
	if er != nil {
		if err := er.appendTables(ld, out.Stats.AttributionFrom); err != nil {
			return nil, err
		}
	}
	end := rep.Start("views")
	if err := ld.ApplyViews(ctx); err != nil {
		return nil, err
	}
	end()
	t0 := time.Now()
	if err := ld.Commit(ctx); err != nil {
		return nil, err
	}
	rep.Stage("commit", time.Since(t0))
	log.Debug("warehouse committed", "seconds", time.Since(t0).Seconds())
	log.Info("run finished", "seconds", time.Since(started).Seconds(), "touchpoints", out.Stats.Touchpoints,
		"conversions", out.Stats.Conversions, "persons", out.Stats.Persons, "rejected", len(rejections))
	rep.Finish(progress.Summary{Tables: res.Rows, Rejected: len(rejections)})
	return res, nil
}

// rowCounter is the Writer a source writes through: it counts the rows of each batch
// (not each row) on the source's progress.
type rowCounter struct {
	extract.Writer
	src *progress.Source
}

// Write counts rec's rows and passes it on.
func (w rowCounter) Write(ctx context.Context, table string, rec arrow.RecordBatch) error {
	w.src.AddRows(rec.NumRows())
	return w.Writer.Write(ctx, table, rec)
}

// minCookiesToJudge is how many cookie ids a CRM must store before their link rate
// says something about the property that holds them.
const minCookiesToJudge = 10

// pushdown is the Stream's Pushdown of engine bigquery, nil for the local engine.
func pushdown(er *engineRun) transform.Pushdown {
	if er == nil {
		return nil
	}
	return er.eng
}

// warnUnlinkedCookies warns when most cookie ids stored on a CRM's records are carried
// by no analytics event of the run: the property most likely holds something other
// than the analytics client id, and those people's journeys are empty.
func warnUnlinkedCookies(cfg Config, st transform.Stats, log *slog.Logger) {
	for crm, l := range st.CRMCookies {
		if l.Stored < minCookiesToJudge || 2*l.Linked >= l.Stored {
			continue
		}
		property := "CLOSEDLOOP_HUBSPOT_COOKIE_PROPERTY=" + cfg.HubspotCookieProperty
		if crm == "salesforce" {
			property = "CLOSEDLOOP_SALESFORCE_COOKIE_FIELD=" + cfg.SalesforceCookieField
		}
		log.Warn("most cookie ids stored on CRM records match no analytics cookie of the run: those people have no web journey and their deals are credited to (none); "+
			"check that the property holds the GA client id (user_pseudo_id, or the _ga cookie GA1.1.<client id>) and that the analytics sources cover the people's visits",
			"crm", crm, "property", property, "stored", l.Stored, "linked", l.Linked,
			"stored_values_look_like", strings.Join(l.Unlinked, " | "), "analytics_ids_look_like", strings.Join(l.Analytics, " | "))
	}
}

func newRunID(t time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "r_" + t.Format("20060102T150405Z") + "_" + hex.EncodeToString(b[:])
}

// readCounts gives rows read per source and canonical table, and rejections per source.
// skipper is an extractor that skips rows on purpose (total rows of an export,
// duplicates) and counts them: neither written nor rejected, only reported.
type skipper interface{ Skipped() int }

func readCounts(col *extract.Collector, exs []extract.Extractor) map[string]map[string]int64 {
	out := map[string]map[string]int64{}
	for _, ex := range exs {
		m := map[string]int64{}
		for _, t := range ex.Tables() {
			m[t] = col.Rows(ex.Name(), t)
		}
		if s, ok := ex.(skipper); ok && s.Skipped() > 0 {
			m["skipped"] = int64(s.Skipped())
		}
		if d, ok := ex.(interface{ Duplicates() int }); ok && d.Duplicates() > 0 {
			m["duplicates"] = int64(d.Duplicates())
		}
		// Rows of warehouse tables that Fivetran marked deleted (_fivetran_deleted).
		if d, ok := ex.(interface{ Deleted() int }); ok && d.Deleted() > 0 {
			m["deleted"] = int64(d.Deleted())
		}
		// CRM records kept with a NULL company_size: their number of employees was unreadable.
		if b, ok := ex.(interface{ BadCompanySizes() int }); ok && b.BadCompanySizes() > 0 {
			m["bad_company_sizes"] = int64(b.BadCompanySizes())
		}
		// CRM records kept without a cookie id: their cookie property held no client id.
		if b, ok := ex.(interface{ BadCookieIDs() int }); ok && b.BadCookieIDs() > 0 {
			m["bad_cookie_ids"] = int64(b.BadCookieIDs())
		}
		out[ex.Name()] = m
	}
	for _, r := range col.Rejections() {
		if out[r.Input] == nil {
			out[r.Input] = map[string]int64{}
		}
		out[r.Input]["rejected"]++
	}
	return out
}

// loadTable loads the run's table name, t in memory or sp spilled: a spilled one batch
// by batch where the warehouse takes batches (load.RecordLoader), else read back whole.
// The caller keeps its references to t and sp.
func loadTable(ctx context.Context, ld load.Loader, st transform.Stats, name string, t arrow.Table, sp *transform.Spilled, to time.Time) error {
	reader := func() (array.RecordReader, error) {
		if sp != nil {
			return sp.Reader()
		}
		return array.NewTableReader(t, 1<<16), nil
	}
	if from := st.AttributionFrom; name == load.FctAttribution && !from.IsZero() {
		rl, ok := ld.(load.RangeLoader)
		if !ok {
			return fmt.Errorf("%s: the warehouse cannot replace %s from %s", name, name, from.Format(time.DateOnly))
		}
		rr, err := reader()
		if err != nil {
			return err
		}
		defer rr.Release()
		return rl.LoadRange(ctx, name, load.Range{From: from, To: to}, rr)
	}
	if sp == nil {
		return ld.Load(ctx, name, t)
	}
	if rl, ok := ld.(load.RecordLoader); ok {
		rr, err := reader()
		if err != nil {
			return err
		}
		defer rr.Release()
		return rl.LoadRecords(ctx, name, rr)
	}
	t, err := sp.Table()
	if err != nil {
		return err
	}
	defer t.Release()
	return ld.Load(ctx, name, t)
}

// writeHeapProfile writes the Go heap's live objects to path (CLOSEDLOOP_MEMPROFILE:
// after the transform, with the tables it made).
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	runtime.GC()
	pprof.WriteHeapProfile(f)
}

func releaseTables(ts []arrow.Table) {
	for _, t := range ts {
		t.Release()
	}
}
