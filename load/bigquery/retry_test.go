package bigquery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract/httpretry"
	"closedloop/extract/httpretry/faulttest"
	"closedloop/load"
	"closedloop/load/loadtest"
)

// faultyJob is the load job whose uploads the fault tests break.
const faultyJob = "closedloop_nightly-1_fct_spend_20260302"

// fastRetry is a retry policy of milliseconds: the fault tests stay fast.
var fastRetry = httpretry.Policy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, RequestTimeout: 5 * time.Second}

// faultRun commits a run whose uploads of faultyJob meet fault (n counts them from 1);
// retry adjusts fastRetry. It returns the log, how long Commit took and Commit's error.
func faultRun(t *testing.T, f *fakeBQ, mem memory.Allocator, retry func(*httpretry.Policy),
	fault func(w http.ResponseWriter, r *http.Request, n int) bool) (string, time.Duration, error) {
	t.Helper()
	f.uploadFault = func(w http.ResponseWriter, r *http.Request, id string, n int) bool {
		return id == faultyJob && fault(w, r, n)
	}
	var logs bytes.Buffer
	cfg := testConfig(f, "nightly-1", loadtest.Days(0, 2), mem)
	cfg.Retry = fastRetry
	if retry != nil {
		retry(&cfg.Retry)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	l, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	defer l.Close()
	stage(t, l, mem, loadtest.Days(0, 2))
	t0 := time.Now()
	err = l.Commit(context.Background())
	return logs.String(), time.Since(t0), err
}

// retried returns the waits logged before the retries of uploads.
func retried(t *testing.T, logs string) []string {
	var waits []string
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct{ Msg, Call, Wait string }
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		if l.Msg == "request failed, retrying" {
			require.Equal(t, "POST /upload/bigquery/v2/projects/"+fakeProject+"/jobs", l.Call)
			waits = append(waits, l.Wait)
		}
	}
	return waits
}

// jobAnswer is what the fake answers to an upload of faultyJob: the body a fault cuts.
func jobAnswer() []byte {
	return []byte(`{"kind":"bigquery#job","id":"test-proj:EU.` + faultyJob + `","jobReference":{"projectId":"test-proj","jobId":"` +
		faultyJob + `","location":"EU"},"status":{"state":"DONE"}}`)
}

// TestUploadFaults: each fault of an upload is retried, the whole file sent again, and
// the partition gets its rows once.
func TestUploadFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  int // the first uploads that fail
		fault   func(w http.ResponseWriter, r *http.Request, n int)
		log     string
		slowest time.Duration
		retry   func(*httpretry.Policy)
	}{
		{name: "request timeout", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.Hang(r, 5*time.Second) },
			log: "no complete answer within 1s (RequestTimeout)", slowest: time.Second, retry: func(p *httpretry.Policy) { p.RequestTimeout = time.Second }},
		{name: "reset mid-body", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.ResetMidBody(w, jobAnswer()) },
			log: `"error":"`},
		{name: "json cut short", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.CutJSON(w, jobAnswer()) },
			log: `"error":"unexpected end of JSON input"`},
		{name: "truncated body", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.Truncate(w, jobAnswer()) },
			log: `"error":"unexpected EOF"`},
		{name: "429 burst", faults: 2, fault: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Retry-After", "1")
			apiError(w, http.StatusTooManyRequests, "rateLimitExceeded", "Exceeded rate limits: too many api requests per user per method")
		}, log: `"wait":"1s","error":"googleapi: Error 429: Exceeded rate limits`, slowest: 2 * time.Second},
		{name: "5xx burst", faults: 4, fault: func(w http.ResponseWriter, r *http.Request, n int) {
			apiError(w, []int{500, 502, 503, 504}[n-1], "backendError", "Backend error.")
		}, log: `"error":"googleapi: Error 504: Backend error., backendError"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			f := newFakeBQ(t)
			logs, took, err := faultRun(t, f, mem, tt.retry, func(w http.ResponseWriter, r *http.Request, n int) bool {
				if n > tt.faults {
					return false
				}
				tt.fault(w, r, n)
				return true
			})
			require.NoError(t, err)
			require.Equal(t, tt.faults+1, f.uploadsOf(faultyJob), "the file sent again after each fault")
			require.Len(t, retried(t, logs), tt.faults)
			require.Contains(t, logs, tt.log)
			require.GreaterOrEqual(t, took, tt.slowest)
			spec, _ := load.Lookup(load.FctSpend)
			require.Equal(t, fixtureRows(t, mem, spec, loadtest.Days(0, 2))["20260302"], f.rows(t, load.FctSpend+"$20260302"))
			f.mu.Lock()
			require.Zero(t, f.conflicts)
			f.mu.Unlock()
		})
	}
}

// TestUploadAnswerLost: an upload that reached BigQuery before its answer was lost
// meets its own job on the next attempt (409) and takes it: the rows are loaded once.
func TestUploadAnswerLost(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f := newFakeBQ(t)
	logs, _, err := faultRun(t, f, mem, nil, func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n > 1 {
			return false
		}
		rec := httptest.NewRecorder()
		f.serveUpload(rec, r)
		faulttest.ResetMidBody(w, rec.Body.Bytes())
		return true
	})
	require.NoError(t, err)
	require.Equal(t, 2, f.uploadsOf(faultyJob))
	f.mu.Lock()
	require.Equal(t, 1, f.conflicts, "the second upload met the job of the first")
	f.mu.Unlock()
	require.Len(t, retried(t, logs), 1)
	spec, _ := load.Lookup(load.FctSpend)
	require.Equal(t, fixtureRows(t, mem, spec, loadtest.Days(0, 2))["20260302"], f.rows(t, load.FctSpend+"$20260302"))
}

// TestUploadGivesUp: an upload is given up on after MaxAttempts, when the source's
// time limit is reached, when a Retry-After would end past it, and at once on 401.
func TestUploadGivesUp(t *testing.T) {
	tests := []struct {
		name    string
		retry   func(*httpretry.Policy)
		fault   func(w http.ResponseWriter, r *http.Request)
		want    []string
		uploads int
	}{
		{name: "attempts", retry: func(p *httpretry.Policy) { p.MaxAttempts = 3 },
			fault: func(w http.ResponseWriter, r *http.Request) { apiError(w, 503, "backendError", "Backend error.") },
			want: []string{"bigquery: load test-proj.warehouse.fct_spend$20260302: job " + faultyJob + ": POST /upload/bigquery/v2/projects/test-proj/jobs: " +
				"gave up after 3 attempts: the most attempts allowed (MaxAttempts 3); last: googleapi: Error 503: Backend error., backendError"},
			uploads: 3},
		{name: "never answers", retry: func(p *httpretry.Policy) {
			p.RequestTimeout, p.SourceTimeout, p.MaxAttempts = time.Second, 2500*time.Millisecond, 100
		}, fault: func(w http.ResponseWriter, r *http.Request) { faulttest.Hang(r, 10*time.Second) },
			want: []string{"job " + faultyJob + ": POST /upload/bigquery/v2/projects/test-proj/jobs: gave up after ",
				"attempts: the source's time limit (SourceTimeout 2.5s) is reached; last: "}},
		{name: "retry-after past the deadline", fault: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3600")
			apiError(w, http.StatusTooManyRequests, "rateLimitExceeded", "Exceeded rate limits")
		}, want: []string{"gave up after 1 attempt: the server asks to wait 1h0m0s (Retry-After), more than the ",
			"left of the source's time limit (SourceTimeout 10m0s): run again later; last: googleapi: Error 429"},
			uploads: 1},
		{name: "401", fault: func(w http.ResponseWriter, r *http.Request) {
			apiError(w, http.StatusUnauthorized, "authError", "Request had invalid authentication credentials.")
		}, want: []string{"job " + faultyJob + ": googleapi: Error 401: Request had invalid authentication credentials., authError: " +
			"not authenticated: set GOOGLE_APPLICATION_CREDENTIALS"},
			uploads: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			f := newFakeBQ(t)
			_, took, err := faultRun(t, f, mem, tt.retry, func(w http.ResponseWriter, r *http.Request, n int) bool {
				tt.fault(w, r)
				return true
			})
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			if tt.uploads > 0 {
				require.Equal(t, tt.uploads, f.uploadsOf(faultyJob))
			} else {
				require.Greater(t, f.uploadsOf(faultyJob), 2)
			}
			require.Less(t, took, 4*time.Second)
			require.Empty(t, f.rows(t, load.FctSpend+"$20260302"))
		})
	}
}
