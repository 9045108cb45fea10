package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/sourcegraph/conc/pool"
	"google.golang.org/api/googleapi"

	"closedloop/extract/httpretry"
	"closedloop/load"
	views "closedloop/sql"
)

const (
	// maxConcurrentJobs bounds the jobs Commit runs at once: each holds an open file and
	// an upload, and a few in flight already keep BigQuery busy; more would only spend
	// the project's concurrent-job allowance that other workloads share.
	maxConcurrentJobs = 8
	// jobTimeout bounds one job, from upload to the end of the wait. A job that outlives
	// it keeps running in BigQuery; a retry with the same run id picks it up.
	jobTimeout = 30 * time.Minute
	// aliasTTL is how long the scratch table of person aliases lives if the run dies
	// before dropping it.
	aliasTTL = 24 * time.Hour
	// datasetPlaceholder is how the views of sql/bigquery name the dataset.
	datasetPlaceholder = "${dataset}"
)

// viewDDL is one view's CREATE OR REPLACE VIEW statement, ready to run.
type viewDDL struct {
	name string
	sql  string
}

// job is one BigQuery job of Commit.
type job struct {
	id     string // deterministic job id, or a prefix when suffix is set
	suffix bool   // the id gets a random suffix (scratch jobs that must run on every attempt)
	kind   string // load, view, remap: for messages
	target string // destination table (with decorator) or view
	upload string // load jobs: the Parquet file the insert uploads
	insert func(ctx context.Context, cfg bigquery.JobIDConfig) (*bigquery.Job, error)
}

// ApplyViews prepares every view of sql/bigquery with ${dataset} replaced by the
// backquoted `project.dataset`; Commit creates or replaces them after the loads, so a
// view never shows a table before the run's rows are in.
func (l *Loader) ApplyViews(ctx context.Context) error {
	if err := l.usable("ApplyViews"); err != nil {
		return err
	}
	vs, err := views.List("bigquery")
	if err != nil {
		return fmt.Errorf("bigquery: %w", err)
	}
	var out []viewDDL
	for _, v := range vs {
		sql, err := ViewSQL(v.SQL, l.cfg.Project, l.cfg.Dataset)
		if err != nil {
			return fmt.Errorf("bigquery: view %s (sql/bigquery/%s.sql): %w", v.Name, v.Name, err)
		}
		out = append(out, viewDDL{name: v.Name, sql: sql})
	}
	l.views = out
	return nil
}

// ViewSQL returns the statement of a view file of sql/bigquery for project.dataset: every
// ${dataset} becomes `project.dataset`.
func ViewSQL(sql, project, dataset string) (string, error) {
	if !strings.Contains(sql, datasetPlaceholder+".") {
		return "", fmt.Errorf("no %s.: name the tables and the view %s.name", datasetPlaceholder, datasetPlaceholder)
	}
	out := strings.ReplaceAll(sql, datasetPlaceholder, "`"+project+"."+dataset+"`")
	if i := strings.Index(out, "${"); i >= 0 {
		return "", fmt.Errorf("unknown placeholder at %q: only %s is replaced", out[i:min(len(out), i+20)], datasetPlaceholder)
	}
	return out, nil
}

// RemapSQL is the UPDATE that re-points person_id of table through the alias table.
func RemapSQL(table, aliasTable string) string {
	return fmt.Sprintf("UPDATE %s AS t\nSET person_id = a.person_id\nFROM %s AS a\nWHERE t.person_id = a.alias_id", table, aliasTable)
}

// Commit adds the columns Open found missing at the end of Append tables, runs the load
// jobs of everything staged, then the views, then the person remap (see the package doc), waiting for every job. It returns the failures with their job
// ids and tables; a retry with the same run id (a new Loader, or Commit again) reuses the
// jobs that already exist.
func (l *Loader) Commit(ctx context.Context) error {
	if err := l.usable("Commit"); err != nil {
		return err
	}
	start := time.Now()
	if err := l.addColumns(ctx); err != nil {
		return err
	}
	loads := l.loadJobs()
	if _, err := l.runJobs(ctx, loads); err != nil {
		return err
	}
	if _, err := l.runJobs(ctx, l.appendJobs()); err != nil {
		return err
	}
	if _, err := l.runJobs(ctx, l.viewJobs()); err != nil {
		return err
	}
	n, err := l.remap(ctx)
	if err != nil {
		return err
	}
	l.remapped = n
	l.committed = true
	l.log.Info("committed", "dataset", l.cfg.Project+"."+l.cfg.Dataset, "load_jobs", len(loads),
		"views", len(l.views), "persons_remapped", n, "elapsed", time.Since(start).Round(time.Millisecond))
	return nil
}

// jobID is the deterministic id of the run's job for name (and day).
func (l *Loader) jobID(name string, day time.Time) string {
	id := "closedloop_" + l.run + "_" + name
	if !day.IsZero() {
		id += "_" + day.Format("20060102")
	}
	return id
}

// loadJobs returns a load job per staged file, in contract order.
func (l *Loader) loadJobs() []job {
	var out []job
	for _, spec := range load.Tables {
		st, ok := l.staged[spec.Name]
		if !ok {
			continue
		}
		for _, f := range st.files {
			dest, disp := spec.Name, bigquery.WriteTruncateData
			switch spec.Mode {
			case load.ReplaceRange:
				dest, disp = spec.Name+"$"+f.day.Format("20060102"), bigquery.WriteTruncate
			case load.Append:
				if f.rows == 0 {
					continue // nothing to append: save the job
				}
				disp = bigquery.WriteAppend
			}
			out = append(out, job{
				id: l.jobID(spec.Name, f.day), kind: "load", target: l.tableRef(dest), upload: f.path,
				insert: l.loadFile(f.path, dest, disp),
			})
		}
	}
	return out
}

// loadFile returns the insert of a load job of the Parquet file path into dest.
func (l *Loader) loadFile(path, dest string, disp bigquery.TableWriteDisposition) func(context.Context, bigquery.JobIDConfig) (*bigquery.Job, error) {
	return func(ctx context.Context, id bigquery.JobIDConfig) (*bigquery.Job, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		src := bigquery.NewReaderSource(f)
		src.SourceFormat = bigquery.Parquet
		ld := l.ds.Table(dest).LoaderFrom(src)
		ld.JobIDConfig = id
		ld.CreateDisposition = bigquery.CreateNever
		ld.WriteDisposition = disp
		ld.Labels = l.jobLabel
		return ld.Run(ctx)
	}
}

// query returns the insert of a query job running sql.
func (l *Loader) query(sql string) func(context.Context, bigquery.JobIDConfig) (*bigquery.Job, error) {
	return func(ctx context.Context, id bigquery.JobIDConfig) (*bigquery.Job, error) {
		q := l.client.Query(sql)
		q.JobIDConfig = id
		q.Labels = l.jobLabel
		return q.Run(ctx)
	}
}

// appendQuery is a query whose rows Commit appends to the days of a ReplaceRange table.
type appendQuery struct {
	table, column, query string
	from                 time.Time // before the range: the earlier days replaced too
}

// AppendQuery has Commit append the rows query selects (table name's columns, in
// order) to the days of ReplaceRange table name, once the day's own load (Load's rows,
// perhaps none) has replaced it: a query job per day of the range writes to the day's
// partition. The bigquery engine (package sqlengine) builds fct_touchpoint,
// fct_page_view and fct_attribution where the events are; their rows never leave
// BigQuery.
//
// from, when before the range, replaces the days from it to the range's with the rows
// query selects for them (no load touched them: a query job per day truncates the
// day's partition): an identity merge that reached back re-credits older conversions.
func (l *Loader) AppendQuery(name, query string, from time.Time) error {
	spec, ok := load.Lookup(name)
	if !ok || spec.Mode != load.ReplaceRange {
		return fmt.Errorf("bigquery: AppendQuery: %s is no table whose days a run replaces", name)
	}
	var earlier time.Time
	if !from.IsZero() && len(l.days) > 0 && utcDay(from).Before(l.days[0]) {
		if utcDay(from).Before(l.days[0].AddDate(0, 0, -maxRangeDays)) {
			return fmt.Errorf("bigquery: AppendQuery: %s from %s: more than %d days before the range", name, from.Format(time.DateOnly), maxRangeDays)
		}
		earlier = utcDay(from)
	}
	l.appends = append(l.appends, appendQuery{table: name, column: spec.DateColumn, query: query, from: earlier})
	return nil
}

// appendJobs returns a query job per AppendQuery and day, appending the day's rows to
// its partition.
func (l *Loader) appendJobs() []job {
	var out []job
	for _, a := range l.appends {
		days := l.days
		var earlier []time.Time
		for d := a.from; !d.IsZero() && len(l.days) > 0 && d.Before(l.days[0]); d = d.AddDate(0, 0, 1) {
			earlier = append(earlier, d)
		}
		for _, day := range append(earlier, days...) {
			disp := bigquery.WriteAppend // after the day's load
			if len(earlier) > 0 && day.Before(l.days[0]) {
				disp = bigquery.WriteTruncate // no load replaced it: this job does
			}
			dest := a.table + "$" + day.Format("20060102")
			sql := fmt.Sprintf("SELECT *\nFROM (\n%s\n) AS q\nWHERE q.%s >= TIMESTAMP '%s' AND q.%s < TIMESTAMP '%s'",
				a.query, a.column, day.Format(time.DateOnly), a.column, day.AddDate(0, 0, 1).Format(time.DateOnly))
			out = append(out, job{id: l.jobID("append_"+a.table, day), kind: "append", target: l.tableRef(dest),
				insert: func(ctx context.Context, id bigquery.JobIDConfig) (*bigquery.Job, error) {
					q := l.client.Query(sql)
					q.JobIDConfig = id
					q.Labels = l.jobLabel
					q.Dst = l.ds.Table(dest)
					q.WriteDisposition = disp
					q.CreateDisposition = bigquery.CreateNever
					return q.Run(ctx)
				}})
		}
	}
	return out
}

// viewJobs returns a query job per view recorded by ApplyViews.
func (l *Loader) viewJobs() []job {
	var out []job
	for _, v := range l.views {
		out = append(out, job{id: l.jobID(v.name, time.Time{}), kind: "view", target: l.tableRef(v.name), insert: l.query(v.sql)})
	}
	return out
}

// remap loads the staged aliases into a scratch table and re-points person_id in every
// ReplaceRange table that has one; it returns the rows changed.
func (l *Loader) remap(ctx context.Context) (int64, error) {
	if l.aliases == "" {
		return 0, nil
	}
	alias := "_closedloop_person_alias_" + strings.ReplaceAll(l.run, "-", "_")
	tb := l.ds.Table(alias)
	err := tb.Create(ctx, &bigquery.TableMetadata{
		Description:    "Scratch: person aliases of run " + l.cfg.RunID + " for the person_id remap; dropped at the end of the run.",
		Schema:         bigquery.Schema{{Name: "alias_id", Type: bigquery.StringFieldType}, {Name: "person_id", Type: bigquery.StringFieldType}},
		ExpirationTime: time.Now().Add(aliasTTL),
		Labels:         l.labels,
	})
	if err != nil && !isStatus(err, http.StatusConflict) {
		return 0, fmt.Errorf("bigquery: create %s: %w", l.tableRef(alias), err)
	}
	defer func() {
		// The table expires anyway: a failed drop is worth a warning, not a failed run.
		if err := tb.Delete(context.WithoutCancel(ctx)); err != nil && !isStatus(err, http.StatusNotFound) {
			l.log.Warn("could not drop the scratch table of person aliases; it expires by itself", "table", l.tableRef(alias), "err", err)
		}
	}()
	// The aliases are loaded on every attempt (random job id suffix): a retried run
	// recreates the scratch table, which a reused job would leave empty.
	aliasJob := job{id: l.jobID("person_alias", time.Time{}), suffix: true, kind: "load", target: l.tableRef(alias),
		upload: l.aliases, insert: l.loadFile(l.aliases, alias, bigquery.WriteTruncate)}
	if _, err := l.runJobs(ctx, []job{aliasJob}); err != nil {
		return 0, err
	}
	var updates []job
	for _, spec := range load.Tables {
		if spec.Mode != load.ReplaceRange || spec.Schema.FieldIndices("person_id") == nil {
			continue
		}
		updates = append(updates, job{id: l.jobID("remap_"+spec.Name, time.Time{}), kind: "remap", target: l.tableRef(spec.Name),
			insert: l.query(RemapSQL(l.quoted(spec.Name), l.quoted(alias)))})
	}
	statuses, err := l.runJobs(ctx, updates)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, st := range statuses {
		if st.Statistics == nil {
			continue
		}
		if qs, ok := st.Statistics.Details.(*bigquery.QueryStatistics); ok {
			n += qs.NumDMLAffectedRows
		}
	}
	return n, nil
}

// runJobs runs jobs, at most maxConcurrentJobs at a time, and waits for each to the end.
// After a failure it starts no more jobs but still waits for the ones running; it
// returns every failure. The statuses are in the order of jobs.
func (l *Loader) runJobs(ctx context.Context, jobs []job) ([]*bigquery.JobStatus, error) {
	statuses := make([]*bigquery.JobStatus, len(jobs))
	errs := make([]error, len(jobs))
	var failed atomic.Bool
	p := pool.New().WithMaxGoroutines(maxConcurrentJobs)
	for i, j := range jobs {
		p.Go(func() {
			if failed.Load() || ctx.Err() != nil {
				return // not started: the run already failed
			}
			statuses[i], errs[i] = l.runJob(ctx, j)
			if errs[i] != nil {
				failed.Store(true)
			}
		})
	}
	p.Wait()
	if err := ctx.Err(); err != nil && !failed.Load() {
		return nil, fmt.Errorf("bigquery: %w", err)
	}
	return statuses, errors.Join(errs...)
}

// runJob inserts j, or, when its id exists already (an earlier attempt of the run), takes
// that job; then waits for it and checks its status.
func (l *Loader) runJob(ctx context.Context, j job) (*bigquery.JobStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, jobTimeout)
	defer cancel()
	what := fmt.Sprintf("bigquery: %s %s: job %s", j.kind, j.target, j.id)
	bj, err := l.insert(ctx, j)
	reused := false
	if isStatus(err, http.StatusConflict) && !j.suffix {
		reused = true
		bj, err = l.client.JobFromIDLocation(ctx, j.id, l.location)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w%s", what, err, credentialsHint(err))
	}
	if j.suffix {
		what = fmt.Sprintf("bigquery: %s %s: job %s", j.kind, j.target, bj.ID())
	}
	hint := ""
	if reused {
		hint = " (the job of an earlier attempt of run " + l.cfg.RunID + ": start a new run id to run it again)"
	}
	st, err := bj.Wait(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s failed%s: %w", what, hint, err)
	}
	if err := st.Err(); err != nil {
		return nil, fmt.Errorf("%s failed%s: %w%s", what, hint, err, detail(st.Errors, err))
	}
	if len(st.Errors) > 0 {
		return nil, fmt.Errorf("%s finished with errors%s%s", what, hint, detail(st.Errors, nil))
	}
	l.log.Debug("job done", "job", bj.ID(), "kind", j.kind, "target", j.target, "reused", reused)
	return st, nil
}

// insert inserts j. An upload is retried under Config.Retry: Google's client retries a
// job insert only without media. A retried insert whose first attempt reached BigQuery
// meets its own job id (409), which runJob takes as the job.
func (l *Loader) insert(ctx context.Context, j job) (*bigquery.Job, error) {
	id := bigquery.JobIDConfig{JobID: j.id, AddJobIDSuffix: j.suffix, Location: l.location}
	if j.upload == "" {
		return j.insert(ctx, id)
	}
	fi, err := os.Stat(j.upload)
	if err != nil {
		return nil, err
	}
	rt := httpretry.New(httpretry.Config{Policy: l.cfg.Retry, Log: l.log})
	// An upload takes longer than an API call: a second more per MiB (1 MiB/s at worst).
	timeout := rt.Policy().RequestTimeout + time.Duration(fi.Size()>>20)*time.Second
	var bj *bigquery.Job
	err = rt.Run(ctx, "POST /upload/bigquery/v2/projects/"+l.cfg.Project+"/jobs", timeout, func(ctx context.Context) error {
		var err error
		bj, err = j.insert(ctx, id)
		var gerr *googleapi.Error
		if errors.As(err, &gerr) {
			return &httpretry.StatusError{Code: gerr.Code, Header: gerr.Header, Err: err}
		}
		return err
	})
	return bj, err
}

// credentialsHint tells what to check when BigQuery refused the credentials.
func credentialsHint(err error) string {
	switch {
	case isStatus(err, http.StatusUnauthorized):
		return ": not authenticated: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, run `gcloud auth application-default login`, or run where a service account is attached"
	case isStatus(err, http.StatusForbidden):
		return ": permission denied: grant the credentials' principal roles/bigquery.dataEditor on the dataset and roles/bigquery.jobUser on the project"
	}
	return ""
}

// detail lists a job's errors (BigQuery puts the row-level reasons there), less the one
// already reported as its result.
func detail(errs []*bigquery.Error, result error) string {
	const shown = 5
	var b strings.Builder
	n := 0
	for _, e := range errs {
		if result != nil && e.Error() == result.Error() {
			continue
		}
		if n == shown {
			fmt.Fprintf(&b, "; and more (%d errors in all)", len(errs))
			break
		}
		fmt.Fprintf(&b, "; %s", e)
		n++
	}
	return b.String()
}

// Close releases the loader and removes the staging directory; without Commit, nothing
// of the run was sent. Safe to call twice.
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.closed = true
	var errs []error
	if l.dir != "" {
		errs = append(errs, os.RemoveAll(l.dir))
	}
	if l.client != nil {
		errs = append(errs, l.client.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("bigquery: close: %w", err)
	}
	return nil
}
