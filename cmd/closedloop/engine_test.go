package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bq "google.golang.org/api/bigquery/v2"

	"closedloop/extract"
	"closedloop/transform"
	"closedloop/transform/sqlengine"
)

func TestEngineConfigErrors(t *testing.T) {
	ga4 := "--analytics=ga4:bigquery://acme-web/analytics_1"
	wh := "--warehouse=bigquery:acme-web.closedloop"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--engine=spark", ga4, wh}, "CLOSEDLOOP_ENGINE (--engine): want local or bigquery"},
		{[]string{"--engine=bigquery", ga4, "--warehouse=duckdb:x.duckdb"}, "set --warehouse bigquery:PROJECT.DATASET"},
		{[]string{"--engine=bigquery", "--analytics=ga4:exports/*.ndjson.gz", wh}, "give exactly one ga4:bigquery://PROJECT/DATASET source (got 0)"},
		{[]string{"--dry-run", ga4, wh}, "the local engine runs no SQL"},
		{[]string{"--engine=bigquery", "--bigquery-max-bytes=-1", ga4, wh}, "want 0 (no limit) or a positive number of bytes"},
		{[]string{"--engine=bigquery", "--journey-scope=person,deal", ga4, wh}, "CLOSEDLOOP_JOURNEY_SCOPE (--journey-scope): engine bigquery renders person journeys only (deal and account scopes are not rendered in SQL yet)"},
		{[]string{"--engine=bigquery", "--journey-scope=account", ga4, wh}, "engine bigquery renders person journeys only"},
		{[]string{"--engine=bigquery", "--analytics=ga4:bigquery://acme-web/analytics_1?intraday=true", wh, "--dry-run",
			"--bigquery-endpoint=http://127.0.0.1:1/bigquery/v2/"}, "engine bigquery reads the daily export tables only"},
	} {
		code, _, stderr := runMain(t, append([]string{"run", "--from=2026-01-01", "--to=2026-01-02"}, c.args...)...)
		assert.Equal(t, 2, code, "%v: %s", c.args, stderr)
		assert.Contains(t, stderr, c.want, c.args)
	}
}

// TestDryRunPrintsTheSQLAndTheEstimate: --dry-run prints every statement and asks
// BigQuery's dry run what the export read scans, and runs no job.
func TestDryRunPrintsTheSQLAndTheEstimate(t *testing.T) {
	location := "EU"
	var mu sync.Mutex
	var jobs []*bq.Job
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/tables/") { // no run_log: a first run
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": 404, "message": "Not found: Table",
				"errors": []map[string]string{{"reason": "notFound", "message": "Not found: Table"}}}})
			return
		}
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/datasets/") { // both datasets, in one location
			_, ds, _ := strings.Cut(r.URL.Path, "/datasets/")
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(&bq.Dataset{Location: location, DatasetReference: &bq.DatasetReference{ProjectId: "acme-web", DatasetId: ds}})
			return
		}
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/bigquery/v2/projects/acme-web/jobs") {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.Error(w, "unexpected", http.StatusBadRequest)
			return
		}
		var job bq.Job
		require.NoError(t, json.NewDecoder(r.Body).Decode(&job))
		mu.Lock()
		jobs = append(jobs, &job)
		mu.Unlock()
		job.Status = &bq.JobStatus{State: "DONE"}
		job.Statistics = &bq.JobStatistics{TotalBytesProcessed: 3 << 30, Query: &bq.JobStatistics2{TotalBytesProcessed: 3 << 30}}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&job)
	}))
	defer srv.Close()
	code, stdout, stderr := runMain(t, "run", "--engine=bigquery", "--dry-run", "--analytics=ga4:bigquery://acme-web/analytics_1",
		"--warehouse=bigquery:acme-web.closedloop", "--from=2026-01-01", "--to=2026-01-30", "--lookback=28d",
		"--bigquery-endpoint="+srv.URL+"/bigquery/v2/", "--log-level=warn")
	require.Equal(t, 0, code, stderr)
	require.Len(t, jobs, 1, "one dry run: the export's read")
	j := jobs[0]
	assert.True(t, j.Configuration.DryRun)
	q := j.Configuration.Query.Query
	assert.Contains(t, q, "FROM `acme-web.analytics_1.events_*`")
	assert.Contains(t, q, "_TABLE_SUFFIX BETWEEN '20251203' AND '20260130'", "the range and 28 days + 1 of lookback")
	for _, step := range []string{"flatten", "identifiers", "classify", "sessions", "touches", "journeys", "credits"} {
		assert.Contains(t, stdout, "-- step "+step+"\n", step)
	}
	assert.Contains(t, stdout, "CREATE OR REPLACE TABLE `acme-web.closedloop`.cl_events OPTIONS (expiration_timestamp")
	assert.Contains(t, stdout, "2026-01-01..2026-01-30 written (full), export days 2025-12-03..2026-01-30 read (59 days)")
	assert.Contains(t, stdout, "-- estimate: step flatten scans 3221225472 bytes (3.000 GiB, $0.0183 on demand at $6.25/TiB); 0.051 GiB per export day read")

	// The warehouse elsewhere than the export: exit 2 before any job.
	location = ""
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/tables/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": 404, "message": "Not found: Table"}})
			return
		}
		loc := "EU"
		if strings.HasSuffix(r.URL.Path, "/datasets/closedloop") {
			loc = "US"
		}
		if r.Method != http.MethodGet {
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(&bq.Dataset{Location: loc})
	}))
	defer srv2.Close()
	code, _, stderr = runMain(t, "run", "--engine=bigquery", "--dry-run", "--analytics=ga4:bigquery://acme-web/analytics_1",
		"--warehouse=bigquery:acme-web.closedloop", "--from=2026-01-01", "--to=2026-01-30", "--bigquery-endpoint="+srv2.URL+"/bigquery/v2/")
	require.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "the export acme-web.analytics_1 is in EU and the warehouse acme-web.closedloop in US: BigQuery queries one location")
}

func TestEngineRejectRatio(t *testing.T) {
	er := &engineRun{eng: sqlengine.New(nil, sqlengine.Config{}, sqlengine.Options{}), spec: "ga4:bigquery://acme-web/analytics_1"}
	er.eng.Events, er.eng.Rejected = 990, 10
	er.eng.Rejections = []extract.Rejection{{Location: "bigquery://acme-web/analytics_1/events_20260101",
		Reason: "10 rows: no user_pseudo_id or user_id (consent mode: a cookieless ping); left out"}}
	require.NoError(t, er.checkRejects(0.01), "1% is allowed")
	er.eng.Events = 90
	err := er.checkRejects(0.01)
	require.ErrorContains(t, err, "source ga4:bigquery://acme-web/analytics_1: 10 of 100 rows rejected (10.0%, more than CLOSEDLOOP_MAX_REJECT_RATIO=0.01); "+
		"the first: bigquery://acme-web/analytics_1/events_20260101: 10 rows: no user_pseudo_id or user_id")
}

// TestDryRunOfANight: a warehouse whose last run left a complete state with the same
// settings makes the next run a night: the export read from two days before it.
func TestDryRunOfANight(t *testing.T) {
	args := []string{"--engine=bigquery", "--dry-run", "--analytics=ga4:bigquery://acme-web/analytics_1",
		"--warehouse=bigquery:acme-web.closedloop", "--from=2026-01-28", "--to=2026-01-30"}
	cfg, err := loadConfig("run", args, io.Discard)
	require.NoError(t, err)
	counts, err := json.Marshal(map[string]any{"state": runState{Mode: modeFullRefresh, Complete: true, Settings: settingsDigest(cfg)}})
	require.NoError(t, err)
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/tables/run_log"):
			json.NewEncoder(w).Encode(&bq.Table{TableReference: &bq.TableReference{ProjectId: "acme-web", DatasetId: "closedloop", TableId: "run_log"}})
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/datasets/"):
			json.NewEncoder(w).Encode(&bq.Dataset{Location: "EU"})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/queries"):
			var req bq.QueryRequest
			require.NoError(t, json.NewDecoder(r.Body).Decode(&req))
			queries = append(queries, req.Query)
			json.NewEncoder(w).Encode(&bq.QueryResponse{JobComplete: true, TotalRows: 1,
				JobReference: &bq.JobReference{ProjectId: "acme-web", JobId: "q1"},
				Schema:       &bq.TableSchema{Fields: []*bq.TableFieldSchema{{Name: "row_counts", Type: "STRING"}}},
				Rows:         []*bq.TableRow{{F: []*bq.TableCell{{V: string(counts)}}}}})
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs"):
			var job bq.Job
			require.NoError(t, json.NewDecoder(r.Body).Decode(&job))
			assert.Contains(t, job.Configuration.Query.Query, "_TABLE_SUFFIX BETWEEN '20260126' AND '20260130'", "two days before the night")
			assert.Contains(t, job.Configuration.Query.Query, "event_timestamp", "the export")
			job.Status = &bq.JobStatus{State: "DONE"}
			job.Statistics = &bq.JobStatistics{TotalBytesProcessed: 1 << 30}
			json.NewEncoder(w).Encode(&job)
		default:
			t.Errorf("unexpected request %s %s", r.Method, r.URL)
			http.Error(w, "unexpected", http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	code, stdout, stderr := runMain(t, append([]string{"run", "--bigquery-endpoint=" + srv.URL + "/bigquery/v2/", "--log-level=warn"}, args...)...)
	require.Equal(t, 0, code, stderr)
	require.Len(t, queries, 1)
	assert.Contains(t, queries[0], "FROM `acme-web.closedloop`.run_log WHERE status = 'success'")
	assert.Contains(t, stdout, "2026-01-28..2026-01-30 written (incremental), export days 2026-01-26..2026-01-30 read (5 days)")
	assert.Contains(t, stdout, "WHERE at_us >= 1769558400000000", "touches from the night's first day")
}

// TestJourneyScopeDefaults: every scope by default, person only with engine bigquery
// (the only one it renders) or without a CRM source (deal and account journeys would be
// the person's); help run says so.
func TestJourneyScopeDefaults(t *testing.T) {
	for _, c := range []struct {
		args []string
		want []transform.Scope
	}{
		{[]string{"--analytics=touches:testdata/touches.csv"}, []transform.Scope{transform.ScopePerson}},
		{[]string{"--analytics=touches:testdata/touches.csv", "--crm=hubspot:testdata/hubspot"}, []transform.Scope{transform.ScopePerson, transform.ScopeDeal, transform.ScopeAccount}},
		{[]string{"--analytics=touches:testdata/touches.csv", "--journey-scope=account,person"}, []transform.Scope{transform.ScopePerson, transform.ScopeAccount}},
		{[]string{"--engine=bigquery", "--analytics=ga4:bigquery://acme-web/analytics_1", "--warehouse=bigquery:acme-web.closedloop"},
			[]transform.Scope{transform.ScopePerson}},
		{[]string{"--engine=bigquery", "--analytics=ga4:bigquery://acme-web/analytics_1", "--warehouse=bigquery:acme-web.closedloop",
			"--journey-scope=person"}, []transform.Scope{transform.ScopePerson}},
	} {
		cfg, err := loadConfig("run", c.args, io.Discard)
		require.NoError(t, err, c.args)
		assert.Equal(t, c.want, cfg.parsed.scopes, c.args)
	}
	code, out, _ := runMain(t, "help", "run")
	require.Equal(t, 0, code)
	require.Regexp(t, `CLOSEDLOOP_JOURNEY_SCOPE\s+--journey-scope`, out)
	require.Regexp(t, `default\s+person,deal,account\s+\(engine bigquery, or no\s+CRM source: person`, out)
	require.Regexp(t, `CLOSEDLOOP_ACCOUNT_FROM_EMAIL\s+--account-from-email\s+\(default false\)`, out)
}
