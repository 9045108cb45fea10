package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bq "google.golang.org/api/bigquery/v2"

	"closedloop/extract/ga4/bqstorage/bqfake"
	"closedloop/load"
	"closedloop/load/duckdb"
	"closedloop/load/postgres"
	"closedloop/load/postgres/pgtest"
)

// ga4Files writes export files named for days (their content is not read by check).
func ga4Files(t *testing.T, dir string, days ...string) string {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, d := range days {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "events_"+d+".ndjson"), []byte(`{"event_name":"page_view"}`+"\n"), 0o644))
	}
	return filepath.Join(dir, "events_*.ndjson")
}

// copyTree copies the files of folder src into a new folder, but those named in skip.
func copyTree(t *testing.T, src string, skip ...string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	require.NoError(t, err)
	for _, e := range entries {
		if e.IsDir() || strings.Contains(strings.Join(skip, "\x00"), e.Name()) {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644))
	}
	return dst
}

// TestCheckAllOK: every source and the warehouse checked, one line each, exit 0; the
// warehouse file, its directory and its lock file are not created.
func TestCheckAllOK(t *testing.T) {
	dir := t.TempDir()
	glob := ga4Files(t, filepath.Join(dir, "ga4"), "20260101", "20260102", "20260103", "20260104")
	wh := filepath.Join(dir, "new", "wh.duckdb")
	code, stdout, stderr := runMain(t, "check", "--analytics", "ga4:"+glob, "--crm",
		"hubspot:"+filepath.Join("..", "..", "extract", "hubspot", "testdata", "same")+",salesforce:"+filepath.Join("..", "..", "extract", "salesforce", "testdata", "export"),
		"--spend", "spend:"+filepath.Join("..", "..", "testdata", "sample", "spend", "*.csv"),
		"--from", "2026-01-01", "--to", "2026-01-04", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stdout+stderr)
	for _, want := range []string{
		"ok    configuration: range 2026-01-01..2026-01-04 (UTC), engine local, 4 source(s)\n",
		"ok    source ga4:" + glob + ": 4 file(s), 108 B, days 2026-01-01..2026-01-04\n",
		"ok    source hubspot:../../extract/hubspot/testdata/same: v3 export folder\n",
		"ok    source salesforce:../../extract/salesforce/testdata/export: Lead and Contact readable; cookie field GA_Client_ID__c\n",
		"ok    source spend:../../testdata/sample/spend/*.csv: 1 file(s), ",
		"ok    warehouse duckdb:" + wh + ": writable: the file does not exist yet, the first run creates it",
		"ok    warehouse duckdb:" + wh + " writer lock: free\n",
		"all 7 checks passed",
	} {
		require.Contains(t, stdout, want)
	}
	require.NoDirExists(t, filepath.Join(dir, "new"), "check creates no directory, no file, no lock")

	// An existing warehouse: its size, and still nothing new beside it.
	code, _, stderr = runMain(t, guardArgs(touchLog(t, filepath.Join(dir, "touches.csv"), 3), filepath.Join(dir, "wh.duckdb"))...)
	require.Equal(t, 0, code, stderr)
	before, err := os.ReadDir(dir)
	require.NoError(t, err)
	code, stdout, _ = runMain(t, "check", "--analytics", "touches:"+filepath.Join(dir, "touches.csv"), "--warehouse", "duckdb:"+filepath.Join(dir, "wh.duckdb"))
	require.Equal(t, 0, code, stdout)
	require.Regexp(t, `ok    warehouse duckdb:.*wh.duckdb: writable, [0-9.]+ [kM]B \(last written 20`, stdout)
	after, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Equal(t, len(before), len(after), "nothing written beside the warehouse")
}

// TestCheckFailures: each error a new user hits is a FAIL line saying what to do, and
// exit 1; a partial GA4 range is a warning (exit 0); bad configuration exit 2.
func TestCheckFailures(t *testing.T) {
	dir := t.TempDir()
	glob := ga4Files(t, filepath.Join(dir, "ga4"), "20260101", "20260102", "20260103")
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	readOnly := filepath.Join(dir, "ro.duckdb")
	require.NoError(t, os.WriteFile(readOnly, nil, 0o444))
	held := filepath.Join(dir, "held.duckdb")
	lk, err := duckdb.Lock(held, duckdb.Holder{RunID: "r_first"})
	require.NoError(t, err)
	defer lk.Unlock()
	okWH := "duckdb:" + filepath.Join(dir, "ok.duckdb")
	noPipelines := copyTree(t, filepath.Join("..", "..", "extract", "hubspot", "testdata", "same"), "pipelines.json")

	cases := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no source", []string{"--warehouse", okWH}, 2, []string{"CLOSEDLOOP_ANALYTICS (--analytics): no source: set CLOSEDLOOP_ANALYTICS and/or CLOSEDLOOP_CRM"}},
		{"glob matching nothing", []string{"--analytics", "ga4:" + filepath.Join(dir, "nope", "events_*.ndjson.gz"), "--warehouse", okWH}, 1,
			[]string{"FAIL  source ga4:" + dir + "/nope/events_*.ndjson.gz: configuration: ga4:" + dir + "/nope/events_*.ndjson.gz: no file matches", "check the path and the file names"}},
		{"range without data", []string{"--analytics", "ga4:" + glob, "--from", "2026-03-01", "--to", "2026-03-04", "--warehouse", okWH}, 1,
			[]string{"FAIL  source ga4:" + glob + ": 3 file(s), 81 B, days 2026-01-01..2026-01-03; no data in the run's range 2026-03-01..2026-03-04: the data runs from 2026-01-01 to 2026-01-03; set --from and --to (CLOSEDLOOP_FROM, CLOSEDLOOP_TO) to days within it"}},
		{"days missing", []string{"--analytics", "ga4:" + glob, "--from", "2026-01-02", "--to", "2026-01-05", "--warehouse", okWH}, 0,
			[]string{"warn  source ga4:" + glob + ": 3 file(s), 81 B, days 2026-01-01..2026-01-03; 2 of the range's 4 days have no file"}},
		{"folder missing a file", []string{"--crm", "hubspot:" + noPipelines, "--warehouse", okWH}, 1,
			[]string{"FAIL  source hubspot:" + noPipelines + ": configuration: hubspot:" + noPipelines + ": folder " + noPipelines + " has no pipelines.json (the GET /crm/v3/pipelines/deals response; won and lost deals cannot be told apart without it)"}},
		{"warehouse under a file", []string{"--analytics", "ga4:" + glob, "--from", "2026-01-01", "--to", "2026-01-03", "--warehouse", "duckdb:" + filepath.Join(file, "wh.duckdb")}, 1,
			[]string{"FAIL  warehouse duckdb:" + file + "/wh.duckdb: duckdb: cannot write " + file + "/wh.duckdb's directory " + file + ": not a directory: make it writable by the user closedloop runs as, or set --warehouse"}},
		{"read-only warehouse", []string{"--analytics", "ga4:" + glob, "--from", "2026-01-01", "--to", "2026-01-03", "--warehouse", "duckdb:" + readOnly}, 1,
			[]string{"FAIL  warehouse duckdb:" + readOnly + ": duckdb: " + readOnly + " is read-only (mode 0444): make it writable (chmod u+w)"}},
		{"warehouse held", []string{"--analytics", "ga4:" + glob, "--from", "2026-01-01", "--to", "2026-01-03", "--warehouse", "duckdb:" + held}, 1,
			[]string{fmt.Sprintf("FAIL  warehouse duckdb:%s writer lock: held by run r_first (pid %d on host ", held, os.Getpid()), "wait for it to end"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, append([]string{"check"}, c.args...)...)
			require.Equal(t, c.code, code, stdout+stderr)
			for _, w := range c.want {
				require.Contains(t, stdout+stderr, w)
			}
		})
	}
	require.NoFileExists(t, filepath.Join(dir, "ok.duckdb"))
	require.NoFileExists(t, filepath.Join(dir, "ok.duckdb.lock"))
}

// TestCheckRefusedTokens: HubSpot's and Salesforce's own 401 bodies are FAIL lines
// naming the variable to set, without the token.
func TestCheckRefusedTokens(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "/crm/v3/objects/contacts", r.URL.Path)
		require.Equal(t, "1", r.URL.Query().Get("limit"))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"status":"error","message":"The OAuth token used to make this call expired 2 hour(s) ago.","category":"EXPIRED_AUTHENTICATION"}`)
	}))
	defer hs.Close()
	sf := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
	}))
	defer sf.Close()
	t.Setenv("CLOSEDLOOP_HUBSPOT_TOKEN", "pat-na1-0000aaaa-1111-2222-3333-secretsecret")
	t.Setenv("CLOSEDLOOP_HUBSPOT_BASE_URL", hs.URL)
	t.Setenv("CLOSEDLOOP_SALESFORCE_TOKEN", "00D5g000004XYZ!AQ0AQsecretsecretsecret")
	wh := filepath.Join(t.TempDir(), "wh.duckdb")
	code, stdout, stderr := runMain(t, "check", "--crm", "hubspot:api,salesforce:api", "--salesforce-instance-url", sf.URL, "--warehouse", "duckdb:"+wh)
	require.Equal(t, 1, code, stdout+stderr)
	require.Contains(t, stdout, "FAIL  source hubspot:api: hubspot:api: authentication: HubSpot refused the token (GET /crm/v3/objects/contacts: HTTP 401 EXPIRED_AUTHENTICATION: "+
		"The OAuth token used to make this call expired 2 hour(s) ago.): set CLOSEDLOOP_HUBSPOT_TOKEN to a valid private-app access token\n")
	require.Contains(t, stdout, "FAIL  source salesforce:api: authentication: salesforce: the API refused the access token (INVALID_SESSION_ID: Session expired or invalid (HTTP 401)): set a valid token in CLOSEDLOOP_SALESFORCE_TOKEN")
	require.Contains(t, stdout, "2 of 5 checks failed")
	require.NotContains(t, stdout+stderr, "secretsecret")
	require.NoFileExists(t, wh)
}

// TestCheckBigQuery: a GA4 export in BigQuery is listed (no row read) through
// CLOSEDLOOP_BIGQUERY_ENDPOINT; a BigQuery warehouse's dataset is got, its location
// said; a missing one is a warning, a refused one a failure.
func TestCheckBigQuery(t *testing.T) {
	srv := bqfake.Start(t, bqfake.Config{Project: "acme-web", Dataset: "analytics_1"})
	srv.List("events_20260101", "events_20260102", "events_intraday_20260103", "pseudonymous_users_20260101")
	args := []string{"check", "--analytics", "ga4:bigquery://acme-web/analytics_1", "--from", "2026-01-01", "--to", "2026-01-02",
		"--warehouse", "duckdb:" + filepath.Join(t.TempDir(), "wh.duckdb"), "--bigquery-endpoint", srv.RESTEndpoint}
	code, stdout, stderr := runMain(t, args...)
	require.Equal(t, 0, code, stdout+stderr)
	require.Contains(t, stdout, "ok    source ga4:bigquery://acme-web/analytics_1: dataset visible, 2 daily export table(s), 1 intraday, days 2026-01-01..2026-01-02\n")

	args[4], args[6] = "2026-02-01", "2026-02-03"
	code, stdout, _ = runMain(t, args...)
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, "no data in the run's range 2026-02-01..2026-02-03: the data runs from 2026-01-01 to 2026-01-02")

	srv.FailREST(http.StatusForbidden)
	code, stdout, _ = runMain(t, args...)
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, "FAIL  source ga4:bigquery://acme-web/analytics_1: configuration: bigquery://acme-web/analytics_1: listing tables: permission denied: grant the credentials' principal roles/bigquery.dataViewer")

	// The warehouse dataset, by the client every BigQuery call of a run uses.
	status := http.StatusOK
	wh := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.Equal(t, "GET /bigquery/v2/projects/acme-web/datasets/closedloop", r.Method+" "+r.URL.Path)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusOK {
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": status, "message": http.StatusText(status) + ": Dataset acme-web:closedloop",
				"errors": []map[string]string{{"reason": "notFound", "message": "Not found: Dataset acme-web:closedloop"}}}})
			return
		}
		json.NewEncoder(w).Encode(&bq.Dataset{Location: "EU", DatasetReference: &bq.DatasetReference{ProjectId: "acme-web", DatasetId: "closedloop"}})
	}))
	defer wh.Close()
	touches := filepath.Join("testdata", "touches.csv")
	args = []string{"check", "--analytics", "touches:" + touches, "--warehouse", "bigquery:acme-web.closedloop", "--bigquery-endpoint", wh.URL + "/bigquery/v2/"}
	code, stdout, _ = runMain(t, args...)
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, "ok    warehouse bigquery:acme-web.closedloop: dataset acme-web.closedloop reachable, location EU\n")
	status = http.StatusNotFound
	code, stdout, _ = runMain(t, args...)
	require.Equal(t, 0, code, stdout)
	require.Contains(t, stdout, "warn  warehouse bigquery:acme-web.closedloop: dataset acme-web.closedloop does not exist: the first run creates it in US")
	status = http.StatusForbidden
	code, stdout, _ = runMain(t, args...)
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, "FAIL  warehouse bigquery:acme-web.closedloop: dataset acme-web.closedloop: access refused (HTTP 403")
}

// TestRunRangeWithoutData: a run whose range holds none of the sources' events says
// the range, the days the data holds, and the flags to set.
func TestRunRangeWithoutData(t *testing.T) {
	dir := t.TempDir()
	log := touchLog(t, filepath.Join(dir, "touches.csv"), 3, 4)
	code, stdout, stderr := runMain(t, "run", "--analytics", "touches:"+log, "--from", "2019-01-01", "--to", "2019-01-04",
		"--warehouse", "duckdb:"+filepath.Join(dir, "wh.duckdb"), "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stdout, "0 touchpoints")
	require.Contains(t, stderr, "no data in the run's range 2019-01-01..2019-01-04: the data runs from 2018-07-01 to 2018-07-02; set --from and --to (CLOSEDLOOP_FROM, CLOSEDLOOP_TO) to days within it")
}

// TestCheckPostgres: a PostgreSQL warehouse is connected to, the role's CREATE
// privilege checked (a role without it is told the GRANT to ask for), and a run
// loading the schema is named by its server process, from pg_locks.
func TestCheckPostgres(t *testing.T) {
	dsn, stop := pgtest.Start(t)
	defer stop()
	touches := "touches:" + filepath.Join("testdata", "touches.csv")
	code, stdout, stderr := runMain(t, "check", "--analytics", touches, "--warehouse", "postgres:"+dsn)
	require.Equal(t, 0, code, stdout+stderr)
	require.Regexp(t, `ok    warehouse postgres:\S+: connected as postgres \(PostgreSQL [0-9.]+.*\), CREATE on schema public\n`, stdout)
	require.Contains(t, stdout, " run lock: free\n")

	ctx := context.Background()
	ld, err := postgres.Open(ctx, postgres.Config{DSN: dsn, Range: load.Range{From: time.Date(2018, 7, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2018, 7, 1, 0, 0, 0, 0, time.UTC)}})
	require.NoError(t, err)
	code, stdout, _ = runMain(t, "check", "--analytics", touches, "--warehouse", "postgres:"+dsn)
	require.Equal(t, 1, code, stdout)
	require.Regexp(t, `FAIL  warehouse postgres:\S+ run lock: held by server process [0-9]+ \(closedloop, since 20.*\): another run is loading schema public; wait for it to end`, stdout)
	require.NoError(t, ld.Close())

	db, err := pgtest.OpenDB(dsn)
	require.NoError(t, err)
	defer db.Close()
	_, err = db.Exec(`CREATE ROLE reader LOGIN; REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
	require.NoError(t, err)
	code, stdout, _ = runMain(t, "check", "--analytics", touches, "--warehouse", "postgres:"+strings.Replace(dsn, "postgres://postgres@", "postgres://reader@", 1))
	require.Equal(t, 1, code, stdout)
	require.Contains(t, stdout, "role reader may not create tables in schema public of database ")
	require.Contains(t, stdout, ": GRANT CREATE ON SCHEMA public TO \"reader\" (as the schema's owner)")
}

// TestRunNewUserErrors: what run says of a glob matching nothing and of a folder
// without a required file: exit 2, the source, and what to do, before anything loads.
func TestRunNewUserErrors(t *testing.T) {
	dir := t.TempDir()
	wh := filepath.Join(dir, "wh.duckdb")
	noPipelines := copyTree(t, filepath.Join("..", "..", "extract", "hubspot", "testdata", "same"), "pipelines.json")
	wd, err := os.Getwd()
	require.NoError(t, err)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--analytics", "ga4:exports/events_*.ndjson.gz"},
			`source ga4:exports/events_*.ndjson.gz: configuration: ga4:exports/events_*.ndjson.gz: no file matches "exports/events_*.ndjson.gz": check the path and the file names (a relative path is read from ` + wd + ")"},
		{[]string{"--crm", "hubspot:" + noPipelines},
			"folder " + noPipelines + " has no pipelines.json (the GET /crm/v3/pipelines/deals response; won and lost deals cannot be told apart without it)"},
	} {
		code, _, stderr := runMain(t, append([]string{"run", "--from", "2026-01-01", "--to", "2026-01-02", "--warehouse", "duckdb:" + wh}, c.args...)...)
		require.Equal(t, 2, code, stderr)
		require.Contains(t, stderr, c.want)
		require.NoFileExists(t, wh)
	}
}
