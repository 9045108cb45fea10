package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	gbq "cloud.google.com/go/bigquery"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"closedloop/extract"
	"closedloop/extract/ga4"
	"closedloop/extract/ga4/bqstorage"
	"closedloop/extract/tables"
	"closedloop/load/duckdb"
	"closedloop/load/redact"
)

// checkTimeout bounds each check that calls a remote service: check is a pre-flight,
// it should answer in seconds, not wait out a source's retries for ten minutes.
const checkTimeout = time.Minute

// Status words of check's lines.
const (
	statusOK   = "ok"
	statusFail = "FAIL"
	statusWarn = "warn"
)

// checkItem is one line of closedloop check: a status, what was checked, and what was
// found (for a failure: what is wrong and what to do).
type checkItem struct {
	status, item, detail string
}

// checkCmd is `closedloop check`: the run's settings, validated, then every source and
// the warehouse opened without writing anything or reading the data through. Exit
// codes: 0 every item ok (warnings allowed), 1 an item failed, 2 bad configuration.
func checkCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := loadConfig("check", args, stderr)
	if err != nil {
		return fail(stderr, err)
	}
	log := newLogger(cfg, stderr)
	items := runChecks(ctx, cfg, log)
	failed := 0
	for _, it := range items {
		fmt.Fprintf(stdout, "%-4s  %s: %s\n", it.status, it.item, redact.String(it.detail))
		if it.status == statusFail {
			failed++
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d checks failed: fix them, then run closedloop check again\n", failed, len(items))
		return 1
	}
	fmt.Fprintf(stdout, "all %d checks passed: closedloop run with the same settings is ready\n", len(items))
	return 0
}

// runChecks checks cfg (validated) item by item: the configuration, each source, the
// warehouse.
func runChecks(ctx context.Context, cfg Config, log *slog.Logger) []checkItem {
	from := cfg.From.Format(time.DateOnly)
	if cfg.From.Equal(allDays) {
		from = "every day"
	}
	items := []checkItem{{statusOK, "configuration", fmt.Sprintf("range %s..%s (UTC), engine %s, %d source(s)",
		from, cfg.To.Format(time.DateOnly), cfg.Engine, len(cfg.parsed.sources()))}}
	// The API sources are checked through the extractors a run would use: the same
	// client, base URL, credentials and retry policy.
	exs, closeSources, err := extractors(cfg, memory.NewGoAllocator(), log, time.Time{})
	if err != nil {
		return append(items, checkItem{statusFail, "sources", err.Error()})
	}
	defer closeSources()
	for i, s := range cfg.parsed.sources() {
		items = append(items, checkSource(ctx, cfg, s, exs[i]))
	}
	return append(items, checkWarehouseTarget(ctx, cfg)...)
}

// sourceChecker is an extractor that can check its source without reading it.
type sourceChecker interface {
	Check(ctx context.Context) (string, error)
}

// checkSource checks one source: a file glob's files, a folder's layout, an API's
// credentials, a BigQuery export's tables.
func checkSource(ctx context.Context, cfg Config, s extract.Spec, ex extract.Extractor) checkItem {
	item := "source " + s.String()
	failed := func(err error) checkItem { return checkItem{statusFail, item, err.Error()} }
	loc := s.Location
	if cfg.baseDir != "" && !filepath.IsAbs(loc) {
		loc = filepath.Join(cfg.baseDir, loc)
	}
	switch {
	case s.Kind == "ga4" && strings.HasPrefix(s.Location, "bigquery://"):
		ctx, cancel := context.WithTimeout(ctx, checkTimeout)
		defer cancel()
		return checkExportTables(ctx, cfg, s, item)
	case s.Kind == "ga4" || s.Kind == "segment" || s.Kind == "touches" || (s.Kind == "spend" && !tables.IsTableLocation(s.Location)):
		// Warehouse tables (spend, hubspot, salesforce) are checked by their
		// extractor's Check below: the tables a run needs, their columns, no rows.
		paths, err := extract.Glob(s.String(), loc)
		if err != nil {
			return failed(err)
		}
		var size int64
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				return failed(fmt.Errorf("%s: %w", p, err))
			}
			f, err := os.Open(p) // readable, not only listed
			if err != nil {
				return failed(fmt.Errorf("%s: %w: make it readable by the user closedloop runs as", p, err))
			}
			f.Close()
			size += fi.Size()
		}
		found := fmt.Sprintf("%d file(s), %s", len(paths), byteSize(size))
		if s.Kind != "ga4" {
			return checkItem{statusOK, item, found}
		}
		return judgeDays(cfg, item, found, ga4.FileDays(paths), "file")
	}
	c, ok := ex.(sourceChecker)
	if !ok {
		return checkItem{statusWarn, item, "not checked: this kind of source has no check"}
	}
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	found, err := c.Check(ctx)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w: no answer within %s: check the network and the API's status", err, checkTimeout)
		}
		return failed(err)
	}
	return checkItem{statusOK, item, found}
}

// judgeDays compares the days a GA4 export holds (its files or tables, sorted) with
// the run's range: none of the range is a failure that names the days there are and
// the flags to set; some missing is a warning (each will be a rejected_rows entry).
func judgeDays(cfg Config, item, found string, days []time.Time, what string) checkItem {
	if len(days) == 0 {
		return checkItem{statusOK, item, found}
	}
	first, last := days[0], days[len(days)-1]
	found += fmt.Sprintf(", days %s..%s", first.Format(time.DateOnly), last.Format(time.DateOnly))
	if cfg.From.Equal(allDays) {
		return checkItem{statusOK, item, found}
	}
	rng := extract.Range{From: cfg.From.Time, To: cfg.To.Time}
	in := 0
	for _, d := range days {
		if rng.Contains(d) {
			in++
		}
	}
	want := int(rng.End().Sub(rng.Start()) / (24 * time.Hour))
	switch {
	case in == 0:
		return checkItem{statusFail, item, found + "; " + noDataInRange(cfg, first, last)}
	case in < want:
		return checkItem{statusWarn, item, fmt.Sprintf("%s; %d of the range's %d days have no %s: their events are not read (each is a row in rejected_rows)",
			found, want-in, want, what)}
	}
	return checkItem{statusOK, item, found}
}

// noDataInRange says that the sources' data lies outside the run's range, where it
// lies, and which settings to change. first and last are zero when unknown.
func noDataInRange(cfg Config, first, last time.Time) string {
	s := fmt.Sprintf("no data in the run's range %s..%s", cfg.From.Format(time.DateOnly), cfg.To.Format(time.DateOnly))
	if !first.IsZero() {
		s += fmt.Sprintf(": the data runs from %s to %s", first.Format(time.DateOnly), last.Format(time.DateOnly))
	}
	return s + "; set --from and --to (CLOSEDLOOP_FROM, CLOSEDLOOP_TO) to days within it, or --full-refresh to read every day"
}

// checkExportTables lists the tables of a ga4:bigquery:// export through the BigQuery
// API (CLOSEDLOOP_BIGQUERY_ENDPOINT when set, as every BigQuery client of a run) and
// compares their days with the run's range. No row is read.
func checkExportTables(ctx context.Context, cfg Config, s extract.Spec, item string) checkItem {
	bc, err := bqstorage.ParseLocation(s.Location)
	if err != nil {
		return checkItem{statusFail, item, err.Error()}
	}
	if cfg.BigqueryEndpoint != "" {
		// Only the REST API is called here; the Storage Read client is made but unused.
		bc.RESTEndpoint, bc.Options = cfg.BigqueryEndpoint, []option.ClientOption{option.WithoutAuthentication()}
	}
	client, err := bqstorage.New(ctx, bc)
	if err != nil {
		return checkItem{statusFail, item, err.Error()}
	}
	defer client.Close()
	daily, intraday, err := client.ExportDays(ctx)
	if err != nil {
		return checkItem{statusFail, item, err.Error()}
	}
	found := fmt.Sprintf("dataset visible, %d daily export table(s)", len(daily))
	if len(intraday) > 0 {
		found += fmt.Sprintf(", %d intraday", len(intraday))
	}
	if len(daily) == 0 && len(intraday) == 0 {
		return checkItem{statusFail, item, found + ": no events_YYYYMMDD table: check that the GA4 BigQuery link exports this property into " +
			bc.Project + "." + bc.Dataset + " (the first table appears the day after linking)"}
	}
	days := daily
	if bc.Intraday { // a day without a daily table is read from its intraday one
		days = append(slices.Clone(daily), intraday...)
		slices.SortFunc(days, time.Time.Compare)
		days = slices.CompactFunc(days, time.Time.Equal)
	}
	return judgeDays(cfg, item, found, days, "table")
}

// checkWarehouseTarget checks the warehouse without writing to it: that a run could
// write it, that no run holds it, what it is.
func checkWarehouseTarget(ctx context.Context, cfg Config) []checkItem {
	kind, loc, _ := strings.Cut(cfg.Warehouse, ":")
	item := "warehouse " + redact.Spec(cfg.Warehouse)
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	switch kind {
	case "duckdb":
		return checkDuckDB(loc, item)
	case "parquet":
		return checkParquetDir(loc, item)
	case "postgres":
		return checkPostgres(ctx, loc, item)
	case "bigquery":
		return []checkItem{checkBigQueryDataset(ctx, cfg, loc, item)}
	}
	return []checkItem{{statusFail, item, "unknown warehouse kind: want " + warehouseKinds}}
}

// checkDuckDB checks a DuckDB warehouse file by the rules a run's writer lock refuses
// a target with (duckdb.Writable: a directory this process may write, also as root on
// a read-only mount; a regular file with a write bit), and whether another run holds
// its writer lock. It creates neither the file, nor its directory, nor PATH.lock.
func checkDuckDB(path, item string) []checkItem {
	var out []checkItem
	if err := duckdb.Writable(path); err != nil {
		fix := "make it writable by the user closedloop runs as, or set --warehouse duckdb:PATH (CLOSEDLOOP_WAREHOUSE) to a path it can write"
		if errors.Is(err, duckdb.ErrReadOnly) {
			fix = "" // the error says what to do
		}
		// No lock to look for: a run is refused before it takes one.
		return append(out, checkItem{statusFail, item, strings.TrimSuffix(err.Error()+": "+fix, ": ")})
	}
	detail := "writable"
	switch fi, err := os.Stat(path); {
	case err == nil:
		detail = fmt.Sprintf("writable, %s (last written %s)", byteSize(fi.Size()), fi.ModTime().UTC().Format(time.RFC3339))
	case errors.Is(err, fs.ErrNotExist):
		detail = "writable: the file does not exist yet, the first run creates it (use --full-refresh on that run)"
	}
	out = append(out, checkItem{statusOK, item, detail})
	holder, held, stale, err := duckdb.LockHolder(path)
	switch {
	case err != nil:
		out = append(out, checkItem{statusFail, item + " writer lock", err.Error()})
	case held:
		who := holder.String()
		if holder.PID == 0 {
			who = "a run (its lock file " + path + ".lock names none)"
		}
		out = append(out, checkItem{statusFail, item + " writer lock", "held by " + who +
			": another run is writing the warehouse; wait for it to end (a run started now would be refused)"})
	case stale != nil:
		out = append(out, checkItem{statusOK, item + " writer lock", "free; " + stale.String() +
			" ended without releasing it (killed?): the next run takes it over"})
	default:
		out = append(out, checkItem{statusOK, item + " writer lock", "free"})
	}
	return out
}

// checkParquetDir checks a Parquet warehouse folder: that it, or the nearest folder
// above it that exists, is one this process may write, and that no run holds its
// DIR/.lock. It creates nothing.
func checkParquetDir(dir, item string) []checkItem {
	existing := dir
	for {
		fi, err := os.Stat(existing)
		if err == nil && !fi.IsDir() {
			return []checkItem{{statusFail, item, fmt.Sprintf("%s is a file, not a folder: set --warehouse parquet:DIR to a folder", existing)}}
		}
		if err == nil {
			break
		}
		parent := filepath.Dir(existing)
		if !errors.Is(err, fs.ErrNotExist) || parent == existing {
			return []checkItem{{statusFail, item, fmt.Sprintf("cannot write %s: %v: set --warehouse parquet:DIR to a folder closedloop can write", dir, err)}}
		}
		existing = parent
	}
	const wOK, xOK = 2, 1
	if err := syscall.Access(existing, wOK|xOK); err != nil {
		return []checkItem{{statusFail, item, fmt.Sprintf("cannot write %s (%s: %v): make it writable by the user closedloop runs as, or set --warehouse parquet:DIR to another folder", dir, existing, err)}}
	}
	out := []checkItem{{statusOK, item, "writable"}}
	f, err := os.Open(filepath.Join(dir, ".lock"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return append(out, checkItem{statusOK, item + " writer lock", "free"})
	case err != nil:
		return append(out, checkItem{statusFail, item + " writer lock", err.Error()})
	}
	defer f.Close()
	// A shared flock, dropped at once: it fails while a run holds the exclusive one.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return append(out, checkItem{statusFail, item + " writer lock", fmt.Sprintf("held (%s/.lock): another run is writing %s; wait for it to end", dir, dir)})
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return append(out, checkItem{statusOK, item + " writer lock", "free"})
}

// pgSchema is the schema a run loads (postgres.Config.Schema's default: the command
// sets none).
const pgSchema = "public"

// checkPostgres connects, checks that the role may create the run's tables (CREATE on
// the schema, or on the database when the schema is missing and the run creates it),
// and whether a run holds the schema's run lock (the loader's advisory lock on
// "closedloop:SCHEMA"), from pg_locks: nothing is locked or written.
func checkPostgres(ctx context.Context, dsn, item string) []checkItem {
	pc, err := pgx.ParseConfig(dsn)
	if err != nil {
		return []checkItem{{statusFail, item, fmt.Sprintf("postgres: DSN: %v: want a libpq URL such as postgres://user@host:5432/db", err)}}
	}
	pc.RuntimeParams["application_name"] = "closedloop check"
	conn, err := pgx.ConnectConfig(ctx, pc)
	if err != nil {
		return []checkItem{{statusFail, item, fmt.Sprintf("postgres: connect to %s:%d/%s: %v: check the host, port, user and password of the DSN, and that the server accepts this client (pg_hba.conf)",
			pc.Host, pc.Port, pc.Database, err)}}
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var user, version string
	var schemaExists, canCreate bool
	err = conn.QueryRow(ctx, `SELECT current_user, current_setting('server_version'),
		EXISTS (SELECT FROM pg_namespace WHERE nspname = $1),
		CASE WHEN EXISTS (SELECT FROM pg_namespace WHERE nspname = $1) THEN has_schema_privilege($1, 'CREATE')
		     ELSE has_database_privilege(current_database(), 'CREATE') END`, pgSchema).Scan(&user, &version, &schemaExists, &canCreate)
	if err != nil {
		return []checkItem{{statusFail, item, fmt.Sprintf("postgres: %v", err)}}
	}
	var out []checkItem
	switch {
	case !canCreate && schemaExists:
		out = append(out, checkItem{statusFail, item, fmt.Sprintf("role %s may not create tables in schema %s of database %s: GRANT CREATE ON SCHEMA %s TO %s (as the schema's owner), or connect as another role",
			user, pgSchema, pc.Database, pgSchema, pgx.Identifier{user}.Sanitize())})
	case !canCreate:
		out = append(out, checkItem{statusFail, item, fmt.Sprintf("schema %s does not exist and role %s may not create it: CREATE SCHEMA %s AUTHORIZATION %s (as a superuser), or GRANT CREATE ON DATABASE %s TO %s",
			pgSchema, user, pgSchema, pgx.Identifier{user}.Sanitize(), pgx.Identifier{pc.Database}.Sanitize(), pgx.Identifier{user}.Sanitize())})
	default:
		out = append(out, checkItem{statusOK, item, fmt.Sprintf("connected as %s (PostgreSQL %s), CREATE on schema %s", user, version, pgSchema)})
	}
	// The loader's lock is pg_try_advisory_xact_lock(hashtextextended('closedloop:SCHEMA', 0)):
	// a bigint key, which pg_locks shows as classid (high half) and objid (low half).
	var pid int
	var app string
	var started time.Time
	err = conn.QueryRow(ctx, `SELECT l.pid, coalesce(a.application_name, ''), coalesce(a.xact_start, a.backend_start, now())
		FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
		LIMIT 1`, "closedloop:"+pgSchema).Scan(&pid, &app, &started)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		out = append(out, checkItem{statusOK, item + " run lock", "free"})
	case err != nil:
		out = append(out, checkItem{statusFail, item + " run lock", fmt.Sprintf("postgres: pg_locks: %v", err)})
	default:
		out = append(out, checkItem{statusFail, item + " run lock", fmt.Sprintf("held by server process %d (%s, since %s): another run is loading schema %s; wait for it to end",
			pid, app, started.UTC().Format(time.RFC3339), pgSchema)})
	}
	return out
}

// checkBigQueryDataset gets the warehouse dataset's metadata through the client a run
// uses (CLOSEDLOOP_BIGQUERY_ENDPOINT when set): reachable, and in which location. A
// missing dataset is a warning: the first run creates it in CLOSEDLOOP_BIGQUERY_LOCATION.
func checkBigQueryDataset(ctx context.Context, cfg Config, loc, item string) checkItem {
	project, dataset, err := bigqueryTarget(loc)
	if err != nil {
		return checkItem{statusFail, item, err.Error()}
	}
	client, err := gbq.NewClient(ctx, project, bigqueryOptions(cfg)...)
	if err != nil {
		return checkItem{statusFail, item, fmt.Sprintf("bigquery: %v: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run `gcloud auth application-default login`, or run where a service account is attached", err)}
	}
	defer client.Close()
	md, err := client.Dataset(dataset).Metadata(ctx)
	var gerr *googleapi.Error
	switch {
	case err == nil:
		return checkItem{statusOK, item, fmt.Sprintf("dataset %s.%s reachable, location %s", project, dataset, md.Location)}
	case errors.As(err, &gerr) && gerr.Code == http.StatusNotFound:
		return checkItem{statusWarn, item, fmt.Sprintf("dataset %s.%s does not exist: the first run creates it in %s (CLOSEDLOOP_BIGQUERY_LOCATION); the credentials need roles/bigquery.dataEditor on project %s for that",
			project, dataset, cfg.BigqueryLocation, project)}
	case errors.As(err, &gerr) && (gerr.Code == http.StatusForbidden || gerr.Code == http.StatusUnauthorized):
		return checkItem{statusFail, item, fmt.Sprintf("dataset %s.%s: access refused (HTTP %d: %s): grant the credentials' principal roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on project %s",
			project, dataset, gerr.Code, gerr.Message, project)}
	}
	return checkItem{statusFail, item, fmt.Sprintf("dataset %s.%s: %v", project, dataset, err)}
}

// byteSize words a size in bytes: "812 B", "12.4 MB".
func byteSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1e6:
		return fmt.Sprintf("%.1f kB", float64(n)/1e3)
	case n < 1e9:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}
