package sqlengine

// The BigQuery executor against a local BigQuery endpoint: an httptest server that
// answers the REST calls cloud.google.com/go/bigquery makes (../shared/docs/TOOLING.md
// §3) and runs each job's SQL as the DuckDB rendering of the same step, so the engine
// runs end to end through the real client: dry runs, query jobs with
// maximumBytesBilled, failed jobs run again, results paged back, work tables loaded.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/option"
)

// bqCall is a job the fake received.
type bqCall struct {
	id, step string
	dryRun   bool
	maxBytes int64
	sql      string
}

type fakeBigQuery struct {
	t       *testing.T
	db      *sql.DB
	srv     *httptest.Server
	project string
	// duck maps each BigQuery statement to the DuckDB rendering of its step.
	duck map[string]string

	mu      sync.Mutex
	calls   []bqCall
	jobs    map[string]*bq.Job
	results map[string]*bq.GetQueryResultsResponse
	rows    map[string][]*bq.TableRow
	// fail makes the first n runs of a step fail with backendError.
	fail map[string]int
	// scan is what the dry run of a step says it reads (default 1 MB).
	scan map[string]int64
}

var stepOfJob = regexp.MustCompile(`^closedloop_[a-z0-9]+_(.+)_\d+$`)

func newFakeBigQuery(t *testing.T, db *sql.DB, project string, duck map[string]string) *fakeBigQuery {
	f := &fakeBigQuery{t: t, db: db, project: project, duck: duck, jobs: map[string]*bq.Job{},
		results: map[string]*bq.GetQueryResultsResponse{}, rows: map[string][]*bq.TableRow{}, fail: map[string]int{}, scan: map[string]int64{}}
	mux := http.NewServeMux()
	const p = "/bigquery/v2/projects/{project}"
	mux.HandleFunc("POST /upload"+p+"/jobs", f.upload)
	mux.HandleFunc("POST "+p+"/jobs", f.insert)
	mux.HandleFunc("GET "+p+"/jobs/{job}", f.getJob)
	mux.HandleFunc("GET "+p+"/queries/{job}", f.getQueryResults)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("fake BigQuery: unexpected request %s %s", r.Method, r.URL)
		apiErr(w, http.StatusBadRequest, "invalid", "unexpected request")
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeBigQuery) client(t *testing.T) *bigquery.Client {
	c, err := bigquery.NewClient(context.Background(), f.project, option.WithEndpoint(f.srv.URL+"/bigquery/v2/"),
		option.WithoutAuthentication(), option.WithHTTPClient(f.srv.Client()))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func apiErr(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg,
		"errors": []map[string]string{{"reason": reason, "message": msg}}}})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// insert is jobs.insert of a query job: a dry run answers with the bytes it would
// scan; a run executes the step's DuckDB rendering.
func (f *fakeBigQuery) insert(w http.ResponseWriter, r *http.Request) {
	var job bq.Job
	if err := json.NewDecoder(r.Body).Decode(&job); err != nil || job.Configuration == nil || job.Configuration.Query == nil {
		f.t.Errorf("fake BigQuery: bad query job: %v", err)
		apiErr(w, http.StatusBadRequest, "invalid", "bad job")
		return
	}
	q := job.Configuration.Query
	duck, ok := f.duck[q.Query]
	if !ok {
		f.t.Errorf("fake BigQuery: a statement no step renders:\n%s", q.Query)
		apiErr(w, http.StatusBadRequest, "invalidQuery", "unknown statement")
		return
	}
	if q.UseLegacySql == nil || *q.UseLegacySql {
		f.t.Errorf("fake BigQuery: legacy SQL")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	call := bqCall{dryRun: job.Configuration.DryRun, maxBytes: q.MaximumBytesBilled, sql: q.Query}
	if job.JobReference != nil {
		call.id = job.JobReference.JobId
		if m := stepOfJob.FindStringSubmatch(call.id); m != nil {
			call.step = m[1]
		}
	}
	f.calls = append(f.calls, call)
	job.Status = &bq.JobStatus{State: "DONE"}
	if call.dryRun {
		n, ok := f.scan[exportStep(q.Query)]
		if !ok {
			n = 1 << 20
		}
		job.Statistics = &bq.JobStatistics{TotalBytesProcessed: n, Query: &bq.JobStatistics2{TotalBytesProcessed: n}}
		writeJSON(w, job)
		return
	}
	if job.JobReference == nil || job.JobReference.JobId == "" {
		f.t.Errorf("fake BigQuery: a job without a deterministic id")
	}
	id := job.JobReference.JobId
	if _, dup := f.jobs[id]; dup {
		apiErr(w, http.StatusConflict, "duplicate", "Already Exists: Job "+id)
		return
	}
	job.Id = f.project + ":US." + id
	job.JobReference.Location = "US"
	job.Statistics = &bq.JobStatistics{Query: &bq.JobStatistics2{}}
	res := &bq.GetQueryResultsResponse{JobComplete: true, JobReference: job.JobReference, Schema: &bq.TableSchema{}}
	if f.fail[call.step] > 0 {
		f.fail[call.step]--
		e := &bq.ErrorProto{Reason: "backendError", Message: "Backend error. Job aborted."}
		job.Status.ErrorResult, job.Status.Errors = e, []*bq.ErrorProto{e}
	} else if err := f.run(id, duck, res); err != nil {
		e := &bq.ErrorProto{Reason: "invalidQuery", Message: err.Error()}
		job.Status.ErrorResult, job.Status.Errors = e, []*bq.ErrorProto{e}
		f.t.Errorf("fake BigQuery: step %s: %v", call.step, err)
	}
	f.jobs[id] = &job
	f.results[id] = res
	writeJSON(w, &job)
}

// exportStep names the step that reads the export (a dry run has no job id of ours).
func exportStep(q string) string {
	if strings.Contains(q, "events_*") {
		return "flatten"
	}
	return ""
}

// run executes a step in DuckDB; a query's rows are kept for getQueryResults.
func (f *fakeBigQuery) run(id, duck string, res *bq.GetQueryResultsResponse) error {
	if strings.HasPrefix(duck, "CREATE") {
		_, err := f.db.Exec(duck)
		return err
	}
	rs, err := f.db.Query(duck)
	if err != nil {
		return err
	}
	defer rs.Close()
	types, err := rs.ColumnTypes()
	if err != nil {
		return err
	}
	for _, ct := range types {
		typ := "STRING"
		switch ct.DatabaseTypeName() {
		case "BIGINT", "INTEGER", "HUGEINT", "UBIGINT":
			typ = "INTEGER"
		case "DOUBLE", "FLOAT":
			typ = "FLOAT"
		}
		res.Schema.Fields = append(res.Schema.Fields, &bq.TableFieldSchema{Name: ct.Name(), Type: typ})
	}
	var rows []*bq.TableRow
	for rs.Next() {
		vals := make([]any, len(types))
		ptrs := make([]any, len(types))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return err
		}
		row := &bq.TableRow{}
		for _, v := range vals {
			var cell any
			switch x := v.(type) {
			case nil:
			case float64:
				cell = strconv.FormatFloat(x, 'g', -1, 64)
			default:
				cell = fmt.Sprint(x)
			}
			row.F = append(row.F, &bq.TableCell{V: cell})
		}
		rows = append(rows, row)
	}
	f.rows[id] = rows
	res.TotalRows = uint64(len(rows))
	return rs.Err()
}

func (f *fakeBigQuery) getJob(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	job, ok := f.jobs[r.PathValue("job")]
	if !ok {
		apiErr(w, http.StatusNotFound, "notFound", "Not found: Job "+r.PathValue("job"))
		return
	}
	writeJSON(w, job)
}

// getQueryResults answers a page of rows (two rows a page, to exercise pageToken).
func (f *fakeBigQuery) getQueryResults(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := r.PathValue("job")
	job, ok := f.jobs[id]
	if !ok {
		apiErr(w, http.StatusNotFound, "notFound", "Not found: Job "+id)
		return
	}
	if e := job.Status.ErrorResult; e != nil {
		apiErr(w, http.StatusBadRequest, e.Reason, e.Message)
		return
	}
	res := *f.results[id]
	rows := f.rows[id]
	from, _ := strconv.Atoi(r.URL.Query().Get("pageToken"))
	max := 1000
	if m := r.URL.Query().Get("maxResults"); m != "" {
		max, _ = strconv.Atoi(m)
	}
	to := min(len(rows), from+max)
	res.Rows = rows[from:to]
	if to < len(rows) {
		res.PageToken = strconv.Itoa(to)
	}
	writeJSON(w, &res)
}

// upload is jobs.insert of a load job with its newline-delimited JSON: the table is
// replaced in DuckDB.
func (f *fakeBigQuery) upload(w http.ResponseWriter, r *http.Request) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	require.NoError(f.t, err)
	mr := multipart.NewReader(r.Body, params["boundary"])
	var job bq.Job
	var body []byte
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		require.NoError(f.t, err)
		if i == 0 {
			require.NoError(f.t, json.NewDecoder(part).Decode(&job))
		} else {
			body, _ = io.ReadAll(part)
		}
	}
	ld := job.Configuration.Load
	if ld == nil || ld.SourceFormat != "NEWLINE_DELIMITED_JSON" || ld.WriteDisposition != "WRITE_TRUNCATE" || ld.Schema == nil {
		f.t.Errorf("fake BigQuery: load job %+v", ld)
		apiErr(w, http.StatusBadRequest, "invalid", "bad load")
		return
	}
	var cols []Column
	for _, fl := range ld.Schema.Fields {
		k := String
		switch fl.Type {
		case "INTEGER":
			k = Int
		case "FLOAT":
			k = Float
		}
		cols = append(cols, Column{Name: fl.Name, Kind: k})
	}
	var rows [][]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		require.NoError(f.t, dec.Decode(&m))
		row := make([]any, len(cols))
		for i, c := range cols {
			switch v := m[c.Name].(type) {
			case json.Number:
				if c.Kind == Int {
					row[i], _ = v.Int64()
				} else {
					row[i], _ = v.Float64()
				}
			default:
				row[i] = v
			}
		}
		rows = append(rows, row)
	}
	dcfg := &Config{Dialect: DuckDB}
	if err := (&DB{DB: f.db, Config: dcfg}).Put(r.Context(), ld.DestinationTable.TableId, cols, slices.Values(rows)); err != nil {
		f.t.Errorf("fake BigQuery: load %s: %v", ld.DestinationTable.TableId, err)
	}
	f.mu.Lock()
	job.Id = f.project + ":US." + job.JobReference.JobId
	job.JobReference.Location = "US"
	job.Status = &bq.JobStatus{State: "DONE"}
	f.jobs[job.JobReference.JobId] = &job
	f.mu.Unlock()
	writeJSON(w, &job)
}

// twins renders every statement and query for BigQuery and for DuckDB: the fake runs
// the DuckDB text of each BigQuery text it receives.
func twins(t *testing.T, bcfg, dcfg Config) map[string]string {
	m := map[string]string{}
	both := func(name, text string) {
		b, err := bcfg.render(name, text)
		require.NoError(t, err)
		d, err := dcfg.render(name, text)
		require.NoError(t, err)
		m[b] = d
	}
	for _, list := range phases {
		for _, s := range list {
			both(s.step, s.sql)
		}
	}
	for name, q := range queries {
		both(name, q)
	}
	return m
}

func TestBigQueryExecutorEndToEnd(t *testing.T) {
	glob := "../../testdata/sample/ga4/*.ndjson.gz"
	all := sampleRange()
	db := openDuckDB(t)
	loadExport(t, db, glob)

	models := allModels(t)
	opt := sampleOptions(all, models)
	bcfg := engineConfig(opt, all, all)
	bcfg.Dialect, bcfg.Export, bcfg.Staging, bcfg.Warehouse = BigQuery, "my-proj.analytics_1", "my-proj.closedloop", "my-proj.closedloop"
	bcfg.HalfLife = float64((7 * 24 * time.Hour).Microseconds())
	dcfg := engineConfig(opt, all, all)
	dcfg.Dialect, dcfg.Export = DuckDB, "export"
	dcfg.HalfLife = bcfg.HalfLife
	duck := twins(t, bcfg, dcfg)
	// The export table's own name in DuckDB.
	f := newFakeBigQuery(t, db, "my-proj", duck)
	f.fail["sessions"] = 1 // a backendError: the job runs again
	f.scan["flatten"] = 3 << 30

	ex := &BigQueryExecutor{Client: f.client(t), Project: "my-proj", Dataset: "closedloop", MaxBytes: 10 << 30, RunID: "r1",
		Backoff: time.Millisecond, Labels: map[string]string{"app": "closedloop"}}
	bcfg.HalfLife = 0
	got := runPushed(t, ex, bcfg, opt, "../../testdata/sample/hubspot", db)
	want := runPushed(t, &DB{DB: db, Config: &dcfg}, withoutHalfLife(dcfg), opt, "../../testdata/sample/hubspot", db)
	for name, rows := range want { // the same tables through BigQuery's API as through DuckDB directly
		requireClose(t, rows, got[name], name)
	}

	// Each job ran after its dry run, with maximumBytesBilled; the failed one ran again.
	var runs []string
	for i, c := range f.calls {
		if c.dryRun {
			continue
		}
		runs = append(runs, c.step)
		require.Positive(t, i)
		prev := f.calls[i-1]
		if c.step != "sessions" || !strings.HasSuffix(c.id, "_2") {
			assert.True(t, prev.dryRun && prev.sql == c.sql, "job %s not right after its dry run", c.id)
		}
		assert.Equal(t, int64(10<<30), c.maxBytes, "job %s: maximumBytesBilled", c.id)
	}
	assert.Equal(t, []string{"flatten", "rejects", "events", "identifiers", "referrers", "classify", "sessions", "sessions", "traffic",
		"touches", "touchpoints", "page_views", "counts", "last_seen", "conversions", "journeys", "shapes",
		"journey_shapes", "converting_paths", "null_paths", "credits", "credit_counts"}, runs)
	assert.Equal(t, int64(3<<30), ex.Estimates[0].Bytes, "flatten's dry run")
}

func TestBigQueryMaxBytesStopsBeforeRunning(t *testing.T) {
	all := sampleRange()
	db := openDuckDB(t)
	loadExport(t, db, "../../testdata/sample/ga4/*.ndjson.gz")
	opt := sampleOptions(all, allModels(t))
	bcfg := engineConfig(opt, all, all)
	bcfg.Dialect, bcfg.Export, bcfg.Staging, bcfg.Warehouse = BigQuery, "my-proj.analytics_1", "my-proj.closedloop", "my-proj.closedloop"
	dcfg := engineConfig(opt, all, all)
	dcfg.Dialect, dcfg.Export = DuckDB, "export"
	f := newFakeBigQuery(t, db, "my-proj", twins(t, bcfg, dcfg))
	f.scan["flatten"] = 30 << 30
	ex := &BigQueryExecutor{Client: f.client(t), Project: "my-proj", Dataset: "closedloop", MaxBytes: 10 << 30, RunID: "r2",
		Labels: map[string]string{"app": "closedloop"}}
	eng := New(ex, bcfg, Options{Input: "ga4:bigquery://my-proj/analytics_1"})
	s := newStream(opt, eng)
	defer s.Release()
	err := eng.Start(context.Background(), s)
	require.ErrorContains(t, err, "would scan 32212254720 bytes, more than CLOSEDLOOP_BIGQUERY_MAX_BYTES (10737418240)")
	for _, c := range f.calls {
		assert.True(t, c.dryRun, "job %s ran", c.id)
	}
}
