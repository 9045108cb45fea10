package bigquery

// fakeBQ is an in-process BigQuery for the loader's tests: it answers exactly the REST
// calls cloud.google.com/go/bigquery makes for what the loader does
// (../shared/docs/TOOLING.md §3) and fails the test on any other request, or on a request
// whose body is not what BigQuery would accept from this loader. It keeps the datasets,
// the tables (as created), the jobs by id and the Parquet bodies uploaded per destination
// (table or table$YYYYMMDD), and applies the write dispositions to them, so tests can read
// back what a table holds. Every job is DONE when inserted.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/bigquery"
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	bq "google.golang.org/api/bigquery/v2"
	"google.golang.org/api/option"
)

const fakeProject = "test-proj"

// fakeJob is a job the fake received.
type fakeJob struct {
	seq    int // insertion order, from 1
	job    *bq.Job
	query  string // query jobs
	dest   string // load jobs: table or table$YYYYMMDD
	body   []byte // load jobs: the Parquet file
	failed bool
}

type fakeBQ struct {
	t   *testing.T
	srv *httptest.Server

	mu        sync.Mutex
	requests  []string // "METHOD path" of every request
	datasets  map[string]*bq.Dataset
	tables    map[string]*bq.Table // "dataset.table"
	jobs      map[string]*fakeJob  // by job id
	seq       int
	conflicts int                 // job inserts answered 409
	data      map[string][][]byte // "dataset.table" + "$YYYYMMDD" or "": Parquet bodies it holds
	created   []*bq.Table         // tables as created, in order
	deleted   []string            // tables deleted
	// failJob, when set, marks the job of that id failed with this error.
	failJob map[string]*bq.ErrorProto
	// uploadFault, when set, may answer the n-th upload (from 1) of the load job with
	// id instead of the fake; serveUpload answers as the fake does.
	uploadFault func(w http.ResponseWriter, r *http.Request, id string, n int) bool
	uploads     map[string]int // uploads per job id
	// answer, when set, gives the rows of a query State reads back (jobs.query).
	answer  func(q *bq.QueryRequest) (*bq.TableSchema, [][]any)
	queries []*bq.QueryRequest
	fills   []string // "dataset.table.column = value" of every fill UPDATE run
}

func newFakeBQ(t *testing.T) *fakeBQ {
	f := &fakeBQ{t: t, datasets: map[string]*bq.Dataset{}, tables: map[string]*bq.Table{},
		jobs: map[string]*fakeJob{}, data: map[string][][]byte{}, failJob: map[string]*bq.ErrorProto{}, uploads: map[string]int{}}
	mux := http.NewServeMux()
	const p = "/bigquery/v2/projects/{project}"
	mux.HandleFunc("GET "+p+"/datasets/{dataset}", f.getDataset)
	mux.HandleFunc("POST "+p+"/datasets", f.createDataset)
	mux.HandleFunc("GET "+p+"/datasets/{dataset}/tables/{table}", f.getTable)
	mux.HandleFunc("POST "+p+"/datasets/{dataset}/tables", f.createTable)
	mux.HandleFunc("DELETE "+p+"/datasets/{dataset}/tables/{table}", f.deleteTable)
	mux.HandleFunc("PATCH "+p+"/datasets/{dataset}/tables/{table}", f.patchTable)
	mux.HandleFunc("POST /upload"+p+"/jobs", f.uploadJob)
	mux.HandleFunc("POST "+p+"/jobs", f.queryJob)
	mux.HandleFunc("GET "+p+"/jobs/{job}", f.getJob)
	mux.HandleFunc("GET "+p+"/queries/{job}", f.getQueryResults)
	mux.HandleFunc("POST "+p+"/queries", f.query)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		f.t.Errorf("fake BigQuery: unexpected request %s %s", r.Method, r.URL)
		apiError(w, http.StatusBadRequest, "invalid", "unexpected request")
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.requests = append(f.requests, r.Method+" "+r.URL.Path)
		f.mu.Unlock()
		if r.URL.Query().Get("alt") != "json" {
			f.t.Errorf("fake BigQuery: %s %s without alt=json", r.Method, r.URL)
		}
		if !strings.Contains(r.URL.Path, "/projects/"+fakeProject+"/") {
			f.t.Errorf("fake BigQuery: %s %s: not project %s", r.Method, r.URL, fakeProject)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// options are the client options that point the loader at the fake.
func (f *fakeBQ) options() []option.ClientOption {
	return []option.ClientOption{option.WithEndpoint(f.srv.URL + "/bigquery/v2/"), option.WithoutAuthentication(),
		option.WithHTTPClient(f.srv.Client())}
}

func (f *fakeBQ) requestCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// apiError answers as the API does: {"error": {code, message, errors: [{reason, message}]}}.
func apiError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
		"code": code, "message": msg, "errors": []map[string]string{{"reason": reason, "message": msg}}}})
}

// decode reads a JSON body into v, failing the test on an unknown field.
func (f *fakeBQ) decode(r io.Reader, v any) bool {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		f.t.Errorf("fake BigQuery: bad request body: %v", err)
		return false
	}
	return true
}

func (f *fakeBQ) getDataset(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ds, ok := f.datasets[r.PathValue("dataset")]
	if !ok {
		apiError(w, http.StatusNotFound, "notFound", "Not found: Dataset "+fakeProject+":"+r.PathValue("dataset"))
		return
	}
	writeJSON(w, ds)
}

func (f *fakeBQ) createDataset(w http.ResponseWriter, r *http.Request) {
	var ds bq.Dataset
	if !f.decode(r.Body, &ds) {
		apiError(w, http.StatusBadRequest, "invalid", "bad body")
		return
	}
	ref := ds.DatasetReference
	if ref == nil || (ref.ProjectId != "" && ref.ProjectId != fakeProject) || ref.DatasetId == "" {
		f.t.Errorf("fake BigQuery: dataset create with reference %+v", ref)
		apiError(w, http.StatusBadRequest, "invalid", "bad dataset reference")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.datasets[ref.DatasetId]; ok {
		apiError(w, http.StatusConflict, "duplicate", "Already Exists: Dataset "+ref.DatasetId)
		return
	}
	if ds.Location == "" {
		ds.Location = "US"
	}
	ds.Id = fakeProject + ":" + ref.DatasetId
	f.datasets[ref.DatasetId] = &ds
	writeJSON(w, &ds)
}

func (f *fakeBQ) getTable(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t, ok := f.tables[r.PathValue("dataset")+"."+r.PathValue("table")]
	if !ok {
		apiError(w, http.StatusNotFound, "notFound", "Not found: Table "+r.PathValue("table"))
		return
	}
	writeJSON(w, t)
}

var (
	fieldTypes  = []string{"STRING", "INT64", "FLOAT64", "BOOL", "TIMESTAMP", "DATE"}
	tableNameRE = regexp.MustCompile(`^[A-Za-z0-9_]+$`)
)

func (f *fakeBQ) createTable(w http.ResponseWriter, r *http.Request) {
	var t bq.Table
	if !f.decode(r.Body, &t) {
		apiError(w, http.StatusBadRequest, "invalid", "bad body")
		return
	}
	ds := r.PathValue("dataset")
	ref := t.TableReference
	switch {
	case ref == nil || ref.ProjectId != fakeProject || ref.DatasetId != ds || !tableNameRE.MatchString(ref.TableId):
		f.t.Errorf("fake BigQuery: table create with reference %+v in dataset %s", ref, ds)
	case t.Schema == nil || len(t.Schema.Fields) == 0:
		f.t.Errorf("fake BigQuery: table %s created without a schema", ref.TableId)
	}
	types := map[string]string{}
	for _, c := range t.Schema.Fields {
		if !slices.Contains(fieldTypes, c.Type) || (c.Mode != "" && c.Mode != "REQUIRED" && c.Mode != "NULLABLE") {
			f.t.Errorf("fake BigQuery: table %s column %s: type %s mode %s", ref.TableId, c.Name, c.Type, c.Mode)
		}
		types[c.Name] = c.Type
		if c.Mode == "" {
			c.Mode = "NULLABLE" // as the API answers
		}
	}
	if p := t.TimePartitioning; p != nil {
		if p.Type != "DAY" || (types[p.Field] != "DATE" && types[p.Field] != "TIMESTAMP") {
			f.t.Errorf("fake BigQuery: table %s partitioned by %s on %s (%s)", ref.TableId, p.Type, p.Field, types[p.Field])
		}
	}
	if c := t.Clustering; c != nil {
		for _, col := range c.Fields {
			if types[col] == "" {
				f.t.Errorf("fake BigQuery: table %s clustered on unknown column %s", ref.TableId, col)
			}
		}
		if len(c.Fields) > 4 {
			f.t.Errorf("fake BigQuery: table %s clustered on %d columns", ref.TableId, len(c.Fields))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.datasets[ds]; !ok {
		apiError(w, http.StatusNotFound, "notFound", "Not found: Dataset "+ds)
		return
	}
	key := ds + "." + ref.TableId
	if _, ok := f.tables[key]; ok {
		apiError(w, http.StatusConflict, "duplicate", "Already Exists: Table "+key)
		return
	}
	t.Type = "TABLE"
	f.tables[key] = &t
	f.created = append(f.created, &t)
	writeJSON(w, &t)
}

func (f *fakeBQ) deleteTable(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("dataset") + "." + r.PathValue("table")
	if _, ok := f.tables[key]; !ok {
		apiError(w, http.StatusNotFound, "notFound", "Not found: Table "+key)
		return
	}
	delete(f.tables, key)
	for k := range f.data {
		if k == key || strings.HasPrefix(k, key+"$") {
			delete(f.data, k)
		}
	}
	f.deleted = append(f.deleted, key)
	w.WriteHeader(http.StatusNoContent)
}

// patchTable takes a schema update as BigQuery does: the table's columns unchanged,
// then new NULLABLE ones; nothing else in the body. An If-Match that is not the table's
// ETag fails (412). The rows it holds are kept: those of the new columns read NULL.
func (f *fakeBQ) patchTable(w http.ResponseWriter, r *http.Request) {
	var patch bq.Table
	if !f.decode(r.Body, &patch) {
		apiError(w, http.StatusBadRequest, "invalid", "bad body")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := r.PathValue("dataset") + "." + r.PathValue("table")
	t, ok := f.tables[key]
	switch {
	case !ok:
		apiError(w, http.StatusNotFound, "notFound", "Not found: Table "+key)
		return
	case r.Header.Get("If-Match") != "" && r.Header.Get("If-Match") != t.Etag:
		apiError(w, http.StatusPreconditionFailed, "failedPrecondition", "Precondition check failed.")
		return
	case patch.Schema == nil || patch.Description != "" || patch.TimePartitioning != nil || patch.Clustering != nil || len(patch.Labels) > 0:
		f.t.Errorf("fake BigQuery: patch of %s: want a schema only, got %+v", key, patch)
		apiError(w, http.StatusBadRequest, "invalid", "unexpected patch")
		return
	}
	old, nu := t.Schema.Fields, patch.Schema.Fields
	if len(nu) < len(old) {
		apiError(w, http.StatusBadRequest, "invalid", "Provided Schema does not match Table "+key+". Cannot remove columns.")
		return
	}
	for i, c := range nu {
		if i < len(old) {
			if c.Mode == "" {
				c.Mode = "NULLABLE" // as the API takes it
			}
			if o := old[i]; c.Name != o.Name || c.Type != o.Type || c.Mode != o.Mode {
				apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Provided Schema does not match Table %s. Field %s has changed", key, o.Name))
				return
			}
			continue
		}
		if c.Mode != "" && c.Mode != "NULLABLE" {
			apiError(w, http.StatusBadRequest, "invalid", "Provided Schema does not match Table "+key+". Cannot add required fields to an existing schema. (field: "+c.Name+")")
			return
		}
		if !slices.Contains(fieldTypes, c.Type) {
			f.t.Errorf("fake BigQuery: patch of %s: column %s type %s", key, c.Name, c.Type)
		}
		if c.Mode == "" {
			c.Mode = "NULLABLE"
		}
	}
	t.Schema = patch.Schema
	t.Etag = fmt.Sprintf("etag-%d", len(f.requests))
	writeJSON(w, t)
}

// uploadJob counts the uploads of each job id and lets uploadFault answer them, else
// serves them.
func (f *fakeBQ) uploadJob(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client gave up on the upload
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	var id string
	if _, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil {
		if part, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).NextPart(); err == nil {
			var job bq.Job
			if json.NewDecoder(part).Decode(&job) == nil && job.JobReference != nil {
				id = job.JobReference.JobId
			}
		}
	}
	f.mu.Lock()
	f.uploads[id]++
	n, fault := f.uploads[id], f.uploadFault
	f.mu.Unlock()
	if fault != nil && fault(w, r, id, n) {
		return
	}
	f.serveUpload(w, r)
}

// uploadsOf returns how many uploads of the job with id the fake received.
func (f *fakeBQ) uploadsOf(id string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.uploads[id]
}

// serveUpload is jobs.insert of a load job with its media: multipart/related, the Job
// as JSON, then the Parquet bytes.
func (f *fakeBQ) serveUpload(w http.ResponseWriter, r *http.Request) {
	if ut := r.URL.Query().Get("uploadType"); ut != "multipart" {
		f.t.Errorf("fake BigQuery: upload type %q (only multipart: bodies stay under 16 MiB here)", ut)
		apiError(w, http.StatusBadRequest, "invalid", "unexpected upload type")
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/related" {
		f.t.Errorf("fake BigQuery: upload Content-Type %q", r.Header.Get("Content-Type"))
		apiError(w, http.StatusBadRequest, "invalid", "bad content type")
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var job bq.Job
	var body []byte
	for i := 0; ; i++ {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.t.Errorf("fake BigQuery: multipart: %v", err)
			apiError(w, http.StatusBadRequest, "invalid", "bad multipart")
			return
		}
		switch ct := part.Header.Get("Content-Type"); {
		case i == 0 && ct == "application/json":
			if !f.decode(part, &job) {
				apiError(w, http.StatusBadRequest, "invalid", "bad job")
				return
			}
		case i == 1 && ct == "application/octet-stream":
			body, _ = io.ReadAll(part)
		default:
			f.t.Errorf("fake BigQuery: multipart part %d of type %s", i, ct)
		}
	}
	f.insertJob(w, &job, body)
}

// queryJob is jobs.insert of a query job (views, UPDATEs).
func (f *fakeBQ) queryJob(w http.ResponseWriter, r *http.Request) {
	var job bq.Job
	if !f.decode(r.Body, &job) {
		apiError(w, http.StatusBadRequest, "invalid", "bad job")
		return
	}
	f.insertJob(w, &job, nil)
}

var (
	viewRE   = regexp.MustCompile("(?m)^CREATE OR REPLACE VIEW `" + fakeProject + `\.(\w+)` + "`" + `\.(\w+) AS$`)
	updateRE = regexp.MustCompile("^UPDATE `" + fakeProject + `\.(\w+)` + "`" + `\.(\w+) AS t\nSET person_id = a.person_id\nFROM ` +
		"`" + fakeProject + `\.(\w+)` + "`" + `\.(\w+) AS a\nWHERE t.person_id = a.alias_id$`)
	fillRE      = regexp.MustCompile("^UPDATE `" + fakeProject + `\.(\w+)` + "`" + `\.(\w+) SET ` + "`(\\w+)` = '([^']*)' WHERE `(\\w+)` IS NULL$")
	fakeJobIDRE = regexp.MustCompile(`^closedloop_[A-Za-z0-9_-]+$`)
	appendRE    = regexp.MustCompile(`(?s)^SELECT \*\nFROM \(\n(.*)\n\) AS q\nWHERE q\.(\w+) >= TIMESTAMP '(\d{4}-\d\d-\d\d)' AND q\.(\w+) < TIMESTAMP '(\d{4}-\d\d-\d\d)'$`)
)

// insertJob checks and runs a job: it is DONE at once, or failed if failJob says so.
func (f *fakeBQ) insertJob(w http.ResponseWriter, job *bq.Job, body []byte) {
	ref, cfg := job.JobReference, job.Configuration
	if ref == nil || !fakeJobIDRE.MatchString(ref.JobId) || ref.ProjectId != fakeProject {
		f.t.Errorf("fake BigQuery: job reference %+v", ref)
		apiError(w, http.StatusBadRequest, "invalid", "bad job reference")
		return
	}
	if cfg == nil || cfg.Labels["app"] != "closedloop" || cfg.Labels["closedloop_run"] == "" {
		f.t.Errorf("fake BigQuery: job %s without the app and run labels: %+v", ref.JobId, cfg)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.jobs[ref.JobId]; ok {
		f.conflicts++
		apiError(w, http.StatusConflict, "duplicate", "Already Exists: Job "+fakeProject+":"+ref.Location+"."+ref.JobId)
		return
	}
	f.seq++
	fj := &fakeJob{seq: f.seq, job: job}
	if ref.Location == "" {
		ref.Location = "US"
	}
	job.Id = fakeProject + ":" + ref.Location + "." + ref.JobId
	job.Status = &bq.JobStatus{State: "DONE"}
	job.Statistics = &bq.JobStatistics{CreationTime: time.Now().UnixMilli()}
	var jobErr *bq.ErrorProto
	switch {
	case cfg != nil && cfg.Load != nil && body != nil:
		fj.body = body
		jobErr = f.runLoad(fj)
	case cfg != nil && cfg.Query != nil && body == nil:
		fj.query = cfg.Query.Query
		jobErr = f.runQuery(fj)
	default:
		f.t.Errorf("fake BigQuery: job %s is neither a load with media nor a query: %+v", ref.JobId, cfg)
		jobErr = &bq.ErrorProto{Reason: "invalid", Message: "unexpected job"}
	}
	if e, ok := f.failJob[ref.JobId]; ok {
		jobErr = e
	}
	if jobErr != nil {
		fj.failed = true
		job.Status.ErrorResult = jobErr
		job.Status.Errors = []*bq.ErrorProto{jobErr}
	}
	f.jobs[ref.JobId] = fj
	writeJSON(w, job)
}

// runLoad checks a load job and, unless it fails, applies it to the destination's data.
// Called with f.mu held.
func (f *fakeBQ) runLoad(fj *fakeJob) *bq.ErrorProto {
	ld, id := fj.job.Configuration.Load, fj.job.JobReference.JobId
	dst := ld.DestinationTable
	if ld.SourceFormat != "PARQUET" || ld.CreateDisposition != "CREATE_NEVER" || dst == nil || dst.ProjectId != fakeProject ||
		len(ld.SourceUris) > 0 || ld.Schema != nil {
		f.t.Errorf("fake BigQuery: load job %s: %+v", id, ld)
		return &bq.ErrorProto{Reason: "invalid", Message: "bad load configuration"}
	}
	table, day, decorated := strings.Cut(dst.TableId, "$")
	key := dst.DatasetId + "." + table
	fj.dest = dst.TableId
	t, ok := f.tables[key]
	if !ok {
		f.t.Errorf("fake BigQuery: load job %s into missing table %s", id, key)
		return &bq.ErrorProto{Reason: "notFound", Message: "Not found: Table " + key}
	}
	switch ld.WriteDisposition {
	case "WRITE_TRUNCATE", "WRITE_TRUNCATE_DATA", "WRITE_APPEND":
	default:
		f.t.Errorf("fake BigQuery: load job %s: write disposition %q", id, ld.WriteDisposition)
	}
	if decorated && (t.TimePartitioning == nil || ld.WriteDisposition != "WRITE_TRUNCATE") {
		f.t.Errorf("fake BigQuery: load job %s: %s into %s (partitioning %+v)", id, ld.WriteDisposition, dst.TableId, t.TimePartitioning)
	}
	if !bytes.HasPrefix(fj.body, []byte("PAR1")) {
		f.t.Errorf("fake BigQuery: load job %s: the body is not Parquet", id)
		return &bq.ErrorProto{Reason: "invalid", Message: "not Parquet"}
	}
	rows, err := readParquet(fj.body)
	if err != nil {
		f.t.Errorf("fake BigQuery: load job %s: %v", id, err)
		return &bq.ErrorProto{Reason: "invalid", Message: err.Error()}
	}
	defer rows.Release()
	if have, want := parquetColumns(rows.Schema()), bqColumns(t.Schema); !loadable(have, want) {
		f.t.Errorf("fake BigQuery: load job %s: Parquet columns (%s), table %s has (%s)", id, have, key, want)
		return &bq.ErrorProto{Reason: "invalid", Message: "Provided Schema does not match Table " + key}
	}
	if decorated {
		// As BigQuery: every row must fall in the decorated partition.
		for _, d := range rowDays(rows, t.TimePartitioning.Field) {
			if d.Format("20060102") != day {
				return &bq.ErrorProto{Reason: "invalid", Message: fmt.Sprintf(
					"Some rows belong to different partitions rather than destination partition %s (a row of %s)", day, d.Format(time.DateOnly))}
			}
		}
	}
	fj.job.Statistics.Load = &bq.JobStatistics3{OutputRows: rows.NumRows(), InputFiles: 1}
	if _, failing := f.failJob[id]; failing {
		return nil // the failure does not touch the table
	}
	switch {
	case decorated:
		f.data[key+"$"+day] = [][]byte{fj.body}
	case ld.WriteDisposition == "WRITE_APPEND":
		f.data[key] = append(f.data[key], fj.body)
	default: // a whole table's truncation
		for k := range f.data {
			if k == key || strings.HasPrefix(k, key+"$") {
				delete(f.data, k)
			}
		}
		f.data[key] = [][]byte{fj.body}
	}
	return nil
}

// runQuery checks a query job: a view's DDL or a person remap's UPDATE. The UPDATE
// reports as affected the rows of the target whose person_id is an alias_id of the alias
// table (it does not change them). Called with f.mu held.
func (f *fakeBQ) runQuery(fj *fakeJob) *bq.ErrorProto {
	q, id := fj.job.Configuration.Query, fj.job.JobReference.JobId
	fj.job.Statistics.Query = &bq.JobStatistics2{}
	if m := appendRE.FindStringSubmatch(q.Query); m != nil { // AppendQuery: rows into a day's partition
		d := q.DestinationTable
		if d == nil || d.ProjectId != fakeProject || (q.WriteDisposition != "WRITE_APPEND" && q.WriteDisposition != "WRITE_TRUNCATE") || q.CreateDisposition != "CREATE_NEVER" ||
			f.tables[d.DatasetId+"."+strings.Split(d.TableId, "$")[0]] == nil {
			f.t.Errorf("fake BigQuery: append job %s: %+v", id, q)
			return &bq.ErrorProto{Reason: "invalid", Message: "bad append"}
		}
		fj.dest = d.TableId
		fj.job.Statistics.Query.StatementType = "SELECT"
		return nil
	}
	if q.UseLegacySql == nil || *q.UseLegacySql || q.DestinationTable != nil {
		f.t.Errorf("fake BigQuery: query job %s: legacy SQL or destination: %+v", id, q)
	}
	if m := viewRE.FindStringSubmatch(q.Query); m != nil {
		if strings.Contains(q.Query, "${") {
			f.t.Errorf("fake BigQuery: view job %s with a placeholder left: %s", id, q.Query)
		}
		fj.job.Statistics.Query.StatementType = "CREATE_VIEW"
		f.tables[m[1]+"."+m[2]] = &bq.Table{Type: "VIEW", View: &bq.ViewDefinition{Query: q.Query},
			TableReference: &bq.TableReference{ProjectId: fakeProject, DatasetId: m[1], TableId: m[2]}}
		return nil
	}
	if m := fillRE.FindStringSubmatch(q.Query); m != nil { // a column's value for existing rows
		target := m[1] + "." + m[2]
		if f.tables[target] == nil || m[3] != m[5] {
			f.t.Errorf("fake BigQuery: fill job %s: %s", id, q.Query)
			return &bq.ErrorProto{Reason: "invalidQuery", Message: "bad fill"}
		}
		f.fills = append(f.fills, target+"."+m[3]+" = "+m[4])
		fj.job.Statistics.Query.StatementType = "UPDATE"
		fj.job.Statistics.Query.NumDmlAffectedRows = f.rowsWithout(target, m[3])
		return nil
	}
	m := updateRE.FindStringSubmatch(q.Query)
	if m == nil {
		f.t.Errorf("fake BigQuery: unexpected query in job %s:\n%s", id, q.Query)
		return &bq.ErrorProto{Reason: "invalidQuery", Message: "unexpected query"}
	}
	target, aliasTable := m[1]+"."+m[2], m[3]+"."+m[4]
	if f.tables[target] == nil || f.tables[aliasTable] == nil {
		return &bq.ErrorProto{Reason: "notFound", Message: "Not found: Table " + target + " or " + aliasTable}
	}
	aliases := map[string]bool{}
	for _, row := range f.rowsOf(aliasTable, "alias_id") {
		aliases[row] = true
	}
	var n int64
	for _, p := range f.rowsOf(target, "person_id") {
		if aliases[p] {
			n++
		}
	}
	fj.job.Statistics.Query.StatementType = "UPDATE"
	fj.job.Statistics.Query.NumDmlAffectedRows = n
	return nil
}

// rowsOf returns column of every row table holds. Called with f.mu held.
func (f *fakeBQ) rowsOf(table, column string) []string {
	var out []string
	for k, bodies := range f.data {
		if k != table && !strings.HasPrefix(k, table+"$") {
			continue
		}
		for _, b := range bodies {
			tbl, err := readParquet(b)
			if err != nil {
				f.t.Errorf("fake BigQuery: %s: %v", k, err)
				continue
			}
			out = append(out, tableRows(tbl, column)...)
			tbl.Release()
		}
	}
	return out
}

// rowsWithout counts the rows of table held in bodies without column (written before
// it was added: NULL there). Called with f.mu held.
func (f *fakeBQ) rowsWithout(table, column string) int64 {
	var n int64
	for k, bodies := range f.data {
		if k != table && !strings.HasPrefix(k, table+"$") {
			continue
		}
		for _, b := range bodies {
			tbl, err := readParquet(b)
			if err != nil {
				f.t.Errorf("fake BigQuery: %s: %v", k, err)
				continue
			}
			if len(tbl.Schema().FieldIndices(column)) == 0 {
				n += tbl.NumRows()
			}
			tbl.Release()
		}
	}
	return n
}

func (f *fakeBQ) getJob(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, ok := f.jobs[r.PathValue("job")]
	if !ok {
		apiError(w, http.StatusNotFound, "notFound", "Not found: Job "+r.PathValue("job"))
		return
	}
	if loc := r.URL.Query().Get("location"); loc != "" && loc != fj.job.JobReference.Location {
		f.t.Errorf("fake BigQuery: jobs.get %s in %s, the job is in %s", fj.job.JobReference.JobId, loc, fj.job.JobReference.Location)
	}
	writeJSON(w, fj.job)
}

// query answers jobs.query (Query.Read's fast path) from f.answer.
func (f *fakeBQ) query(w http.ResponseWriter, r *http.Request) {
	var req bq.QueryRequest
	if !f.decode(r.Body, &req) || f.answer == nil {
		apiError(w, http.StatusBadRequest, "invalid", "unexpected query")
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, &req)
	f.mu.Unlock()
	schema, rows := f.answer(&req)
	res := &bq.QueryResponse{JobComplete: true, Schema: schema, TotalRows: uint64(len(rows)),
		JobReference: &bq.JobReference{ProjectId: fakeProject, JobId: fmt.Sprintf("q%d", len(f.queries)), Location: req.Location}}
	for _, row := range rows {
		tr := &bq.TableRow{}
		for _, v := range row {
			tr.F = append(tr.F, &bq.TableCell{V: v})
		}
		res.Rows = append(res.Rows, tr)
	}
	writeJSON(w, res)
}

// getQueryResults answers jobs.getQueryResults, which Job.Wait calls for a query job: a
// failed query answers with its error, as BigQuery does.
func (f *fakeBQ) getQueryResults(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fj, ok := f.jobs[r.PathValue("job")]
	if !ok || fj.job.Configuration.Query == nil {
		f.t.Errorf("fake BigQuery: getQueryResults of unknown query job %s", r.PathValue("job"))
		apiError(w, http.StatusNotFound, "notFound", "Not found: Job "+r.PathValue("job"))
		return
	}
	if fj.failed {
		e := fj.job.Status.ErrorResult
		apiError(w, http.StatusBadRequest, e.Reason, e.Message)
		return
	}
	res := &bq.GetQueryResultsResponse{JobComplete: true, JobReference: fj.job.JobReference,
		Schema: &bq.TableSchema{}, TotalRows: 0, NumDmlAffectedRows: fj.job.Statistics.Query.NumDmlAffectedRows}
	writeJSON(w, res)
}

// readParquet decodes a Parquet body.
func readParquet(b []byte) (arrow.Table, error) {
	return pqarrow.ReadTable(context.Background(), bytes.NewReader(b), parquet.NewReaderProperties(memory.DefaultAllocator),
		pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
}

// parquetColumns spells an Arrow schema read from Parquet as BigQuery would load it.
func parquetColumns(s *arrow.Schema) string {
	var parts []string
	for _, f := range s.Fields() {
		typ, err := fieldType(f.Type)
		if err != nil {
			typ = bigquery.FieldType("?" + f.Type.String())
		}
		mode := "REQUIRED"
		if f.Nullable {
			mode = "NULLABLE"
		}
		parts = append(parts, f.Name+" "+string(typ)+" "+mode)
	}
	return strings.Join(parts, ", ")
}

// bqColumns spells a table's schema as parquetColumns does.
func bqColumns(s *bq.TableSchema) string {
	var parts []string
	for _, f := range s.Fields {
		mode := f.Mode
		if mode == "" {
			mode = "NULLABLE"
		}
		parts = append(parts, f.Name+" "+f.Type+" "+mode)
	}
	return strings.Join(parts, ", ")
}

// tableRows renders every row of tbl (only the given columns, or all), one string a row:
// "col=value|col=value".
func tableRows(tbl arrow.Table, only ...string) []string {
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []string
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			var parts []string
			for c, f := range rec.Schema().Fields() {
				if len(only) > 0 && !slices.Contains(only, f.Name) {
					continue
				}
				v := rec.Column(c).ValueStr(i)
				if rec.Column(c).IsNull(i) {
					v = "NULL"
				}
				if len(only) == 1 {
					parts = append(parts, v)
				} else {
					parts = append(parts, f.Name+"="+v)
				}
			}
			out = append(out, strings.Join(parts, "|"))
		}
	}
	return out
}

// rowDays returns the UTC day of column of every row of tbl.
func rowDays(tbl arrow.Table, column string) []time.Time {
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	var out []time.Time
	for tr.Next() {
		rec := tr.RecordBatch()
		col := rec.Column(rec.Schema().FieldIndices(column)[0])
		for i := 0; i < col.Len(); i++ {
			switch c := col.(type) {
			case *array.Timestamp:
				out = append(out, utcDay(time.UnixMicro(int64(c.Value(i)))))
			case *array.Date32:
				out = append(out, c.Value(i).ToTime())
			}
		}
	}
	return out
}

// loadable says whether a Parquet file of columns have loads into a table of columns
// want (both as "name TYPE MODE, ..."): the same columns, as BigQuery takes a REQUIRED
// column of the file into a NULLABLE one of the table (not the other way round).
func loadable(have, want string) bool {
	h, w := strings.Split(have, ", "), strings.Split(want, ", ")
	if len(h) != len(w) {
		return false
	}
	for i := range h {
		if h[i] != w[i] && strings.TrimSuffix(h[i], " REQUIRED")+" NULLABLE" != w[i] {
			return false
		}
	}
	return true
}
