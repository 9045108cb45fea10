package hubspot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"closedloop/extract"
	"closedloop/extract/httpretry"
	"closedloop/extract/httpretry/faulttest"
)

// apiRun is one API extraction against a fake HubSpot.
type apiRun struct {
	e       *Extractor
	c       *extract.Collector
	logs    *bytes.Buffer
	err     error
	elapsed time.Duration
}

// fastRetry is a retry policy of milliseconds, unpaced: the fault tests stay fast.
var fastRetry = httpretry.Policy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond,
	RequestTimeout: 5 * time.Second, Rate: rate.Inf}

// extractAPI extracts through the fake at srv under fastRetry; adjust changes the
// config first.
func extractAPI(t *testing.T, mem memory.Allocator, f *fakeHubSpot, srv *httptest.Server, adjust func(*Config)) *apiRun {
	t.Helper()
	a := &apiRun{c: extract.NewCollector(mem), logs: &bytes.Buffer{}}
	cfg := Config{Spec: "hubspot:api", Mem: mem, Token: f.token, BaseURL: srv.URL, CookieProperty: "ga_client_id",
		Currency: "eur", Retry: fastRetry,
		Log: slog.New(slog.NewJSONHandler(&lockedWriter{w: a.logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if adjust != nil {
		adjust(&cfg)
	}
	a.e = New(cfg)
	a.e.searchRate = rate.Inf
	t0 := time.Now()
	a.err = a.e.Extract(context.Background(), a.c)
	a.elapsed = time.Since(t0)
	return a
}

// retries returns the waits logged before the retries of call ("GET /crm/v3/owners").
func (a *apiRun) retries(t *testing.T, call string) []string {
	t.Helper()
	var waits []string
	for _, line := range strings.Split(strings.TrimSpace(a.logs.String()), "\n") {
		var l struct{ Msg, Call, Wait string }
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		if l.Msg == "request failed, retrying" && l.Call == call {
			waits = append(waits, l.Wait)
		}
	}
	return waits
}

// lockedWriter serializes the log writes of concurrent readers.
type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestAPIRowsAndRequests(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	require.NoError(t, a.err)

	contacts := byKey(rowsOf(t, a.c, extract.TableContacts), "contact_id")
	require.Len(t, contacts, 5)
	ann := contacts["101"]
	require.Equal(t, "hubspot:api", ann["input"])
	require.Equal(t, "hubspot contact 101", ann["location"])
	require.Equal(t, "ann@example.com", ann["email"])
	require.Equal(t, "1234567890.1767600000", ann["cookie_id"])
	require.Equal(t, ts("2026-02-18T16:45:00Z"), ann["customer_at"])
	require.Equal(t, "hubspot_contact:95;hubspot_contact:96;email:ann.alt@example.com", ann["linked_ids"])
	require.Equal(t, "VP of Marketing", ann["job_title"])
	require.Equal(t, "Acme Analytics GmbH", ann["company"])
	require.Equal(t, "Computer Software", ann["industry"])
	require.Equal(t, int64(25), ann["company_size"])
	require.Equal(t, "Germany", ann["country"])
	require.Equal(t, int64(1000), contacts["102"]["company_size"], `"1000+"`)
	require.Equal(t, int64(250), contacts["107"]["company_size"], "a plain number")
	require.Nil(t, contacts["107"]["job_title"], "empty: null")
	require.Nil(t, contacts["107"]["industry"])
	carol := contacts["108"]
	require.Nil(t, carol["company_size"], `numemployees "Unknown" is no size`)
	require.Equal(t, "Fabrikam", carol["company"], "the contact is kept")
	require.Equal(t, 1, a.e.BadCompanySizes())
	require.Contains(t, a.logs.String(), `"location":"hubspot contact 108","value":"Unknown"`)

	deals := byKey(rowsOf(t, a.c, extract.TableDeals), "deal_id")
	require.Len(t, deals, 4)
	require.Equal(t, true, deals["9001"]["is_won"])
	require.Equal(t, "EUR", deals["9002"]["currency"])

	var pairs []string
	for _, r := range rowsOf(t, a.c, extract.TableDealContacts) {
		pairs = append(pairs, r["deal_id"].(string)+"-"+r["contact_id"].(string))
	}
	require.ElementsMatch(t, []string{"9001-101", "9001-102", "9002-101", "9003-108", "9005-107"}, pairs,
		"9001's contacts come on two association pages")
	require.Equal(t, wantTouches, touches(t, a.c))

	// A malformed record is rejected with its object, the record as raw.
	rej := map[string]extract.Rejection{}
	for _, r := range a.c.Rejections() {
		rej[r.Location] = r
	}
	require.Contains(t, rej, "hubspot contact 106")
	require.Contains(t, rej["hubspot contact 106"].Reason, "property hs_lifecyclestage_lead_date")
	line := fileLine(t, filepath.Join(same, ContactsFile), 4)
	require.JSONEq(t, line, rej["hubspot contact 106"].Raw)
	require.Contains(t, rej, "hubspot deal 9005")
	require.Contains(t, rej, "hubspot deal 9002", "a stage history entry naming no stage read")
	require.Contains(t, rej, "hubspot call 7003")
	require.Contains(t, rej, "hubspot email event c1f0e3a4-0004")
	require.Len(t, rej, 5)

	// Every request carries the token; list requests ask for the properties read.
	for _, r := range f.all() {
		require.Equal(t, "Bearer "+f.token, r.auth, "%s %s", r.method, r.path)
	}
	list := f.calls("GET", "/crm/v3/objects/contacts")
	require.Len(t, list, 3, "5 live contacts, 2 a page")
	q := list[0].query
	require.Equal(t, "100", q.Get("limit"))
	require.Equal(t, "false", q.Get("archived"))
	require.Empty(t, q.Get("after"))
	props := strings.Split(q.Get("properties"), ",")
	for _, p := range []string{"email", "createdate", "lastmodifieddate", "lifecyclestage", "hs_lifecyclestage_customer_date",
		"hs_v2_date_entered_marketingqualifiedlead", "hs_analytics_source", "hs_analytics_source_data_1", "hs_merged_object_ids", "ga_client_id",
		"jobtitle", "company", "industry", "numemployees", "country"} {
		require.Contains(t, props, p)
	}
	require.Equal(t, "cursor-2", list[1].query.Get("after"), "the cursor of the previous page")
	require.Equal(t, "cursor-4", list[2].query.Get("after"))
	calls := f.calls("GET", "/crm/v3/objects/calls")
	require.Contains(t, strings.Split(calls[0].query.Get("properties"), ","), "hs_call_status")
	require.Contains(t, strings.Split(calls[0].query.Get("properties"), ","), "hubspot_owner_id")
	require.Contains(t, strings.Split(f.calls("GET", "/crm/v3/objects/emails")[0].query.Get("properties"), ","), "hs_email_direction")

	owners := f.calls("GET", "/crm/v3/owners")
	require.Len(t, owners, 2, "the live owners, then the deactivated ones")
	require.Equal(t, "false", owners[0].query.Get("archived"))

	assoc := f.calls("POST", "/crm/v4/associations/deals/contacts/batch/read")
	require.NotEmpty(t, assoc)
	var first struct {
		Inputs []batchInput `json:"inputs"`
	}
	require.NoError(t, json.Unmarshal([]byte(assoc[0].body), &first))
	require.Equal(t, []batchInput{{ID: "9001"}, {ID: "9002"}}, first.Inputs, "the ids of the first deals page")
	var paged bool
	for _, r := range assoc {
		paged = paged || strings.Contains(r.body, `"after":"1"`)
	}
	require.True(t, paged, "an object's own association paging is followed")

	ev := f.calls("GET", "/email/public/v1/events")
	require.Equal(t, "CLICK", ev[0].query.Get("eventType"))
	require.Equal(t, "true", ev[0].query.Get("excludeFilteredEvents"))
	require.Equal(t, "1000", ev[0].query.Get("limit"))
	require.Len(t, f.calls("GET", "/email/public/v1/campaigns/301"), 1, "campaign names are looked up once")
	require.Len(t, f.calls("GET", "/email/public/v1/campaigns/999"), 1)
	require.Contains(t, a.logs.String(), "campaign not found")
	require.Empty(t, f.calls("POST", "/crm/v3/objects/contacts/search"), "no watermark: a full read by list")
}

// fileLine returns line n (from 1) of a file.
func fileLine(t *testing.T, path string, n int) string {
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.Split(string(b), "\n")[n-1]
}

func TestAPIRetries(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
		switch {
		case r.URL.Path == "/crm/v3/objects/contacts" && n == 1:
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error", "category": "RATE_LIMITS",
				"policyName": "TEN_SECONDLY_ROLLING", "message": "You have reached your ten_secondly_rolling limit."})
		case r.URL.Path == "/crm/v3/objects/deals" && n == 2:
			writeJSON(w, http.StatusBadGateway, map[string]any{"status": "error", "message": "bad gateway"})
		case r.URL.Path == "/crm/v3/objects/tasks" && n == 1:
			w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "50")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error"})
		case r.URL.Path == "/crm/v3/owners" && n == 1:
			conn, _, err := w.(http.Hijacker).Hijack() // a network error: the connection drops
			require.NoError(t, err)
			conn.Close()
		default:
			return false
		}
		return true
	}
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	require.NoError(t, a.err)
	require.Equal(t, wantTouches, touches(t, a.c), "nothing lost to the retries")
	require.Len(t, rowsOf(t, a.c, extract.TableContacts), 5)
	require.Len(t, f.calls("GET", "/crm/v3/objects/contacts"), 4, "the refused request again, then 3 pages")
	require.Len(t, f.calls("GET", "/crm/v3/objects/deals"), 4, "page 2 twice")
	require.Len(t, f.calls("GET", "/crm/v3/owners"), 3, "live owners twice, deactivated ones")

	require.Equal(t, []string{"1s"}, a.retries(t, "GET /crm/v3/objects/contacts"), "Retry-After in seconds")
	require.Equal(t, []string{"50ms"}, a.retries(t, "GET /crm/v3/objects/tasks"), "the rate-limit interval header")
	// A connection dropped before any byte of the answer may be sent again by net/http
	// itself (a reused connection): the owners' retry need not be ours.
	waits := append(a.retries(t, "GET /crm/v3/objects/deals"), a.retries(t, "GET /crm/v3/owners")...)
	require.NotEmpty(t, waits)
	for _, w := range waits {
		d, err := time.ParseDuration(w)
		require.NoError(t, err)
		require.LessOrEqual(t, d, fastRetry.InitialInterval, "5xx and network errors: the first backoff, full jitter")
	}
	require.GreaterOrEqual(t, a.elapsed, time.Second, "the Retry-After was waited out")
	require.NotContains(t, a.logs.String(), f.token)
}

func TestAPIRateLimitHeaders(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	var mu sync.Mutex
	var pipelines time.Time
	var arrivals []time.Time
	f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path == "/crm/v3/pipelines/deals" {
			pipelines = time.Now()
			w.Header().Set("X-HubSpot-RateLimit-Remaining", "0") // the last call of the window
			w.Header().Set("X-HubSpot-RateLimit-Interval-Milliseconds", "300")
		} else {
			arrivals = append(arrivals, time.Now())
		}
		return false
	}
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	require.NoError(t, a.err)
	require.Contains(t, a.logs.String(), `"msg":"hubspot: rate limit window used up, pausing","source":"hubspot:api","wait":"300ms"`)
	var during, after int
	for _, at := range arrivals {
		switch d := at.Sub(pipelines); {
		case d > 100*time.Millisecond && d < 280*time.Millisecond:
			during++
		case d >= 280*time.Millisecond:
			after++
		}
	}
	require.Zero(t, during, "no request starts while the window is used up")
	require.NotZero(t, after)
}

func TestAPIGivesUp(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/crm/v3/pipelines/deals" {
			return false
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "error", "message": "try later"})
		return true
	}
	a := extractAPI(t, mem, f, srv, func(c *Config) { c.Retry.MaxAttempts = 3 })
	defer a.c.Release()
	require.EqualError(t, a.err, "hubspot:api: deal pipelines: GET /crm/v3/pipelines/deals: gave up after 3 attempts: "+
		"the most attempts allowed (MaxAttempts 3); last: HTTP 503: try later")
	var ge *httpretry.Error
	require.ErrorAs(t, a.err, &ge)
	require.Equal(t, http.StatusServiceUnavailable, ge.Status)
	require.Len(t, f.calls("GET", "/crm/v3/pipelines/deals"), 3)
	require.Len(t, a.retries(t, "GET /crm/v3/pipelines/deals"), 2)
	require.Empty(t, f.calls("GET", "/crm/v3/objects/contacts"), "no record is read before the definitions")
	require.Zero(t, a.c.Rows("hubspot:api", extract.TableContacts))
}

func TestAPIExpiredToken(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	// HubSpot's message for an expired token; this one even echoes the token, which
	// must not reach the error.
	f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"status": "error", "category": "EXPIRED_AUTHENTICATION",
			"message": "The OAuth token used to make this call expired 2 day(s) ago: " + strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")})
		return true
	}
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	require.True(t, errors.Is(a.err, extract.ErrAuth), "%v", a.err)
	require.True(t, strings.HasSuffix(a.err.Error(), "authentication: HubSpot refused the token (GET "+firstPath(a.err)+": HTTP 401 EXPIRED_AUTHENTICATION: "+
		"The OAuth token used to make this call expired 2 day(s) ago: [token]): set CLOSEDLOOP_HUBSPOT_TOKEN to a valid private-app access token"),
		a.err.Error())
	require.NotContains(t, a.err.Error(), f.token)
	require.NotContains(t, a.logs.String(), f.token)
	seen := map[string]bool{}
	for _, r := range f.all() {
		require.False(t, seen[r.path], "a 401 is not retried: %s", r.path)
		seen[r.path] = true
		require.True(t, strings.HasPrefix(r.path, "/crm/v3/properties/") || r.path == "/crm/v3/pipelines/deals" || r.path == "/crm/v3/owners",
			"only definitions are asked for before the records: %s", r.path)
	}
	require.Zero(t, a.c.Rows("hubspot:api", extract.TableContacts))
	require.Empty(t, a.c.Rejections())

	// A token HubSpot does not know at all: the fake's own 401.
	f2, srv2 := newFake(t, same)
	b := extractAPI(t, mem, f2, srv2, func(c *Config) { c.Token = "pat-na1-wrong" })
	defer b.c.Release()
	require.ErrorIs(t, b.err, extract.ErrAuth)
	require.ErrorContains(t, b.err, "INVALID_AUTHENTICATION")
	require.ErrorContains(t, b.err, TokenVariable)
	require.NotContains(t, b.err.Error(), "pat-na1-wrong")
}

// firstPath returns the call an error names ("GET /crm/v3/...").
func firstPath(err error) string {
	s := err.Error()
	i := strings.Index(s, "(GET ")
	j := strings.Index(s, ": HTTP")
	if i < 0 || j < i {
		return ""
	}
	return s[i+5 : j]
}

func TestAPIRefusals(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   map[string]any
		want   []string
		is     error
	}{
		{"daily limit", http.StatusTooManyRequests, map[string]any{"status": "error", "policyName": "DAILY", "message": "daily limit"},
			[]string{"daily API limit is used up", "HTTP 429"}, nil},
		{"missing scope", http.StatusForbidden, map[string]any{"status": "error", "category": "MISSING_SCOPES",
			"message": "This app hasn't been granted all required scopes to make this call."}, []string{"MISSING_SCOPES", TokenVariable}, extract.ErrAuth},
		{"bad request", http.StatusBadRequest, map[string]any{"status": "error", "category": "VALIDATION_ERROR", "message": "bad"},
			[]string{"HTTP 400 VALIDATION_ERROR: bad"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			f, srv := newFake(t, same)
			f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.URL.Path != "/crm/v3/owners" {
					return false
				}
				writeJSON(w, tt.status, tt.body)
				return true
			}
			a := extractAPI(t, mem, f, srv, nil)
			defer a.c.Release()
			for _, w := range tt.want {
				require.ErrorContains(t, a.err, w)
			}
			if tt.is != nil {
				require.ErrorIs(t, a.err, tt.is)
			}
			require.Len(t, f.calls("GET", "/crm/v3/owners"), 1, "not retried")
		})
	}
}

func TestAPINeedsToken(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	err := New(Config{Mem: mem}).Extract(context.Background(), c)
	require.ErrorIs(t, err, extract.ErrConfig)
	require.ErrorContains(t, err, TokenVariable+" is not set")
}

// contactsPage is the first page of contacts as the fake answers it: the body a fault
// cuts short.
func contactsPage(t *testing.T) []byte {
	f, srv := newFake(t, same)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/crm/v3/objects/contacts?limit=100", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+f.token)
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}

// TestAPIFaults: each fault of the first contacts page is retried, the whole request
// sent again, and every record arrives.
func TestAPIFaults(t *testing.T) {
	page := contactsPage(t)
	tests := []struct {
		name    string
		faults  int // the first requests that fail
		fault   func(w http.ResponseWriter, r *http.Request, n int)
		log     string
		slowest time.Duration
		adjust  func(*Config)
	}{
		{name: "request timeout", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, n int) { faulttest.Hang(r, 5*time.Second) },
			log: "no complete answer within 1s (RequestTimeout)", slowest: time.Second, adjust: func(c *Config) { c.Retry.RequestTimeout = time.Second }},
		{name: "reset mid-body", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, n int) { faulttest.ResetMidBody(w, page) },
			log: "HTTP 200, its body cut short"},
		{name: "json cut short", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, n int) { faulttest.CutJSON(w, page) },
			log: "HTTP 200, its body cut short: GET /crm/v3/objects/contacts: the response is not the JSON HubSpot documents (unexpected end of JSON input)"},
		{name: "truncated body", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, n int) { faulttest.Truncate(w, page) },
			log: "HTTP 200, its body cut short: unexpected EOF"},
		{name: "429 burst", faults: 2, fault: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Retry-After", "1")
			writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error", "category": "RATE_LIMITS",
				"policyName": "TEN_SECONDLY_ROLLING", "message": "You have reached your ten_secondly_rolling limit."})
		}, log: `"wait":"1s","error":"HTTP 429 RATE_LIMITS: You have reached your ten_secondly_rolling limit."`, slowest: 2 * time.Second},
		{name: "5xx burst", faults: 4, fault: func(w http.ResponseWriter, r *http.Request, n int) {
			writeJSON(w, []int{500, 502, 503, 504}[n-1], map[string]any{"status": "error", "message": "internal error"})
		}, log: "HTTP 504: internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			f, srv := newFake(t, same)
			f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
				if r.URL.Path != "/crm/v3/objects/contacts" || n > tt.faults {
					return false
				}
				tt.fault(w, r, n)
				return true
			}
			a := extractAPI(t, mem, f, srv, tt.adjust)
			defer a.c.Release()
			require.NoError(t, a.err)
			require.Len(t, rowsOf(t, a.c, extract.TableContacts), 5, "every contact arrived")
			require.Equal(t, wantTouches, touches(t, a.c))
			list := f.calls("GET", "/crm/v3/objects/contacts")
			require.Len(t, list, tt.faults+3, "the failed requests, then 3 pages")
			for _, r := range list[:tt.faults+1] {
				require.Equal(t, list[0].query, r.query, "the same request again")
			}
			require.Len(t, a.retries(t, "GET /crm/v3/objects/contacts"), tt.faults)
			require.Contains(t, a.logs.String(), tt.log)
			require.GreaterOrEqual(t, a.elapsed, tt.slowest)
			require.NotContains(t, a.logs.String(), f.token)
		})
	}
}

// TestAPINeverAnswers: a HubSpot that never answers is given up on when the source's
// time limit is reached, whatever attempts are left.
func TestAPINeverAnswers(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
		faulttest.Hang(r, 5*time.Second)
		return true
	}
	a := extractAPI(t, mem, f, srv, func(c *Config) {
		c.Retry.RequestTimeout, c.Retry.SourceTimeout, c.Retry.MaxAttempts = 100*time.Millisecond, 450*time.Millisecond, 100
	})
	defer a.c.Release()
	require.ErrorContains(t, a.err, "the source's time limit (SourceTimeout 450ms) is reached; last: ")
	require.Contains(t, a.logs.String(), "no complete answer within 100ms (RequestTimeout)", "the attempts before")
	var ge *httpretry.Error
	require.ErrorAs(t, a.err, &ge)
	require.GreaterOrEqual(t, ge.Attempts, 3)
	require.Less(t, ge.Attempts, 100)
	require.Less(t, a.elapsed, 2*time.Second, "given up by the source's time limit")
	require.Zero(t, a.c.Rows("hubspot:api", extract.TableContacts))
}

// TestAPIRetryAfterPastDeadline: a Retry-After that ends after the source's time limit
// fails at once, saying so.
func TestAPIRetryAfterPastDeadline(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	f, srv := newFake(t, same)
	f.fail = func(w http.ResponseWriter, r *http.Request, n int) bool {
		if r.URL.Path != "/crm/v3/pipelines/deals" {
			return false
		}
		w.Header().Set("Retry-After", "3600")
		writeJSON(w, http.StatusTooManyRequests, map[string]any{"status": "error", "policyName": "TEN_SECONDLY_ROLLING"})
		return true
	}
	a := extractAPI(t, mem, f, srv, nil)
	defer a.c.Release()
	// The deals' request reports the server's answer; a request of another object that
	// started after it may fail first, on the pause the answer set for the account.
	if strings.Contains(a.err.Error(), "deal pipelines") {
		require.ErrorContains(t, a.err, "hubspot:api: deal pipelines: GET /crm/v3/pipelines/deals: gave up after 1 attempt: "+
			"the server asks to wait 1h0m0s (Retry-After), more than the ")
		require.ErrorContains(t, a.err, "left of the source's time limit (SourceTimeout 10m0s): run again later; last: HTTP 429")
	} else {
		require.ErrorContains(t, a.err, "gave up after 0 attempts: the server asked to pause every request 1h0m0s (Retry-After of an earlier answer), more than the ")
		require.ErrorContains(t, a.err, "left of the source's time limit (SourceTimeout 10m0s): run again later")
	}
	require.Len(t, f.calls("GET", "/crm/v3/pipelines/deals"), 1)
	require.Less(t, a.elapsed, 5*time.Second)
}

// windowFolder writes a folder of n contacts for the search tests: contact i is
// modified at base+step(i); pipelines are copied from same.
func windowFolder(t *testing.T, mods []int64) string {
	dir := copyDir(t, same)
	var b strings.Builder
	for i, m := range mods {
		fmt.Fprintf(&b, `{"id":"%d","properties":{"email":"c%d@example.com","createdate":"2026-01-01T00:00:00Z","lastmodifieddate":"%d"},"archived":false}`+"\n", 200+i, i, m)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, ContactsFile), []byte(b.String()), 0o644))
	return dir
}

func TestAPISearchWindows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	since := ts("2026-02-01T00:00:00Z")
	s := since.UnixMilli()
	// Two before the watermark, then spread out, with five at one instant: more than a
	// window of three holds.
	mods := []int64{s - 1000, s - 1, s, s + 10, s + 20, s + 30, s + 30, s + 40, s + 50, s + 50, s + 50, s + 50, s + 50, s + 60, s + 70}
	f, srv := newFake(t, windowFolder(t, mods))
	f.searchCap = 3
	a := extractAPI(t, mem, f, srv, func(c *Config) { c.Since = since; c.SearchMaxResults = 3 })
	defer a.c.Release()
	require.NoError(t, a.err)

	var ids []string
	for _, r := range rowsOf(t, a.c, extract.TableContacts) {
		ids = append(ids, r["contact_id"].(string))
	}
	var want []string
	for i, m := range mods {
		if m >= s {
			want = append(want, fmt.Sprint(200+i))
		}
	}
	require.ElementsMatch(t, want, ids, "every contact modified since the watermark, once")

	type body struct {
		FilterGroups []filterGroup `json:"filterGroups"`
		Sorts        []sortSpec    `json:"sorts"`
		Limit        int           `json:"limit"`
		After        string        `json:"after"`
		Properties   []string      `json:"properties"`
	}
	var windows []string
	for _, r := range f.calls("POST", "/crm/v3/objects/contacts/search") {
		var b body
		require.NoError(t, json.Unmarshal([]byte(r.body), &b))
		require.Equal(t, 3, b.Limit)
		require.Contains(t, b.Properties, "lastmodifieddate")
		if b.After != "" {
			continue
		}
		var fs []string
		for _, fl := range b.FilterGroups[0].Filters {
			fs = append(fs, fl.PropertyName+" "+fl.Operator+" "+fl.Value)
		}
		windows = append(windows, strings.Join(fs, " & ")+" by "+b.Sorts[0].PropertyName)
	}
	ms := func(d int64) string { return fmt.Sprint(s + d) }
	// Each window starts at the last modification time of the one before; the five
	// contacts at +50 fill a window, so that instant is walked by id.
	require.Equal(t, []string{
		"lastmodifieddate GTE " + ms(0) + " by lastmodifieddate",
		"lastmodifieddate GTE " + ms(20) + " by lastmodifieddate",
		"lastmodifieddate GTE " + ms(30) + " by lastmodifieddate",
		"lastmodifieddate GTE " + ms(40) + " by lastmodifieddate",
		"lastmodifieddate GTE " + ms(50) + " by lastmodifieddate",
		"lastmodifieddate EQ " + ms(50) + " & hs_object_id GT 0 by hs_object_id",
		"lastmodifieddate EQ " + ms(50) + " & hs_object_id GT 210 by hs_object_id",
		"lastmodifieddate GT " + ms(50) + " by lastmodifieddate",
	}, windows)
	require.Empty(t, f.calls("GET", "/crm/v3/objects/contacts"), "a watermark reads by search")
	ev := f.calls("GET", "/email/public/v1/events")
	require.Equal(t, fmt.Sprint(s), ev[0].query.Get("startTimestamp"))
}
