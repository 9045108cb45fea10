package salesforce

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
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

const apiToken = "00Dfake!AQ0AQstatic-token-for-tests"

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o644))
}

// fastRetry is a retry policy of milliseconds, unpaced: the fault tests stay fast.
var fastRetry = httpretry.Policy{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond,
	RequestTimeout: 5 * time.Second, Rate: rate.Inf}

// apiConfig is a Config pointed at org, with a token, fastRetry and a log captured in
// logs.
func apiConfig(org *fakeOrg, mem memory.Allocator, logs io.Writer) Config {
	return Config{Spec: "salesforce:api", InstanceURL: org.srv.URL, AccessToken: apiToken, Mem: mem, Currency: "usd",
		Retry: fastRetry, Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
}

// retries returns the waits logged before each retry, in order, and the calls retried.
func retries(t *testing.T, logs string) (waits []time.Duration, calls []string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct{ Msg, Call, Wait string }
		require.NoError(t, json.Unmarshal([]byte(line), &l))
		if l.Msg == "request failed, retrying" {
			d, err := time.ParseDuration(l.Wait)
			require.NoError(t, err)
			waits, calls = append(waits, d), append(calls, l.Call)
		}
	}
	return waits, calls
}

func TestAPIExtract(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	var logs bytes.Buffer
	c, e, err := extractWith(t, apiConfig(org, mem, &logs))
	require.NoError(t, err)
	checkScenario(t, c, e)

	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Equal(t, "salesforce:api", people[leadBob]["input"])
	require.Equal(t, "salesforce Lead "+leadBob, people[leadBob]["location"])
	for _, r := range c.Rejections() {
		if strings.Contains(r.Location, leadFay) {
			require.Equal(t, "salesforce Lead "+leadFay, r.Location)
			require.Contains(t, r.Raw, `"CreatedDate":"yesterday"`, "the record's JSON")
		}
	}

	reqs := org.log()
	queries := map[string]fakeRequest{}
	pages := 0
	for _, r := range reqs {
		require.Equal(t, "Bearer "+apiToken, r.Auth, r.Path)
		require.Equal(t, http.MethodGet, r.Method)
		switch {
		case r.Query != "":
			from := strings.Fields(r.Query[strings.Index(r.Query, " FROM "):])[1]
			if strings.Contains(r.Query, "MasterRecordId != null") {
				from += "/merges"
			}
			require.NotContains(t, queries, from, "one query per object")
			queries[from] = r
		case strings.HasPrefix(r.Path, "/services/data/v62.0/query/"):
			pages++
		}
	}
	require.Equal(t, "/services/data/v62.0/queryAll", queries["Lead"].Path, "deleted leads are seen, to be counted")
	require.Equal(t, "SELECT Id, IsDeleted, MasterRecordId, Email, CreatedDate, LastModifiedDate, SystemModstamp, LeadSource, Status, "+
		"IsConverted, ConvertedDate, ConvertedContactId, ConvertedOpportunityId, Title, Company, Industry, NumberOfEmployees, Country, ConvertedAccountId, GA_Client_ID__c FROM Lead",
		queries["Lead"].Query)
	require.Equal(t, "SELECT Id, IsDeleted, MasterRecordId, Email, CreatedDate, LastModifiedDate, SystemModstamp, LeadSource, AccountId, Title, MailingCountry, "+
		"Account.Name, Account.Industry, Account.NumberOfEmployees, GA_Client_ID__c FROM Contact", queries["Contact"].Query,
		"the company's fields through the Account relationship")
	require.Equal(t, "SELECT Id, IsDeleted, Name, Industry, NumberOfEmployees, Website, BillingCountry, OwnerId FROM Account", queries["Account"].Query,
		"Account on its own for crm_accounts")
	require.Equal(t, "SELECT Id, IsDeleted, MasterRecordId FROM Lead WHERE IsDeleted = true AND MasterRecordId != null", queries["Lead/merges"].Query)
	require.Equal(t, "/services/data/v62.0/query", queries["LeadHistory"].Path)
	require.Equal(t, "SELECT Id, LeadId, Field, NewValue, CreatedDate, IsDeleted FROM LeadHistory WHERE Field = 'Status'", queries["LeadHistory"].Query,
		"only the fields the describe lists (no Status, no _fivetran_start)")
	require.Equal(t, "SELECT Id, IsDeleted, Name, StageName, Amount, CloseDate, IsClosed, IsWon, CreatedDate, SystemModstamp, CurrencyIsoCode, AccountId FROM Opportunity",
		queries["Opportunity"].Query)
	require.Equal(t, "SELECT Id, Name, Department, UserRoleId, UserRole.Name FROM User", queries["User"].Query)
	require.Equal(t, "SELECT Id, IsDeleted, WhoId, WhatId, OwnerId, TaskSubtype, Type, IsClosed, ActivityDate, CompletedDateTime, CreatedDate, SystemModstamp FROM Task",
		queries["Task"].Query)
	require.Equal(t, "SELECT TaskId, RelationId, IsWhat, IsDeleted FROM TaskRelation WHERE IsWhat = false", queries["TaskRelation"].Query)
	require.Contains(t, queries["CampaignMember"].Query, "WHERE HasResponded = true")
	require.NotContains(t, queries, "EventRelation", "the org has no EventRelation: not queried")
	require.NotContains(t, queries, "UserRole", "the API gives User.UserRole.Name")
	require.Greater(t, pages, 10, "records come 2 a page: nextRecordsUrl is followed")
	require.Contains(t, logs.String(), `"limit_info":"api-usage=`, "Sforce-Limit-Info at debug")
	require.Contains(t, logs.String(), `"object":"EventRelation"`, "absent optional object logged")
	require.NotContains(t, logs.String(), apiToken)
}

// TestAPIAndFilesAgree: the same records through the REST API (18-char ids, +0000
// datetimes, JSON numbers and booleans) and as a Data Export (some 15-char ids, Z
// datetimes, text) give the same canonical rows.
func TestAPIAndFilesAgree(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	api, apiEx, err := extractWith(t, apiConfig(org, mem, io.Discard))
	require.NoError(t, err)
	files, filesEx, err := extractWith(t, Config{Dir: exportDir, Mem: mem, Currency: "USD"})
	require.NoError(t, err)
	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents, extract.TableAccounts} {
		a, f := canonical(t, api, table), canonical(t, files, table)
		require.NotEmpty(t, a, table)
		require.Equal(t, a, f, table)
	}
	// The firmographic columns are compared above: each is filled for some person.
	for _, col := range []string{"job_title", "company", "industry", "company_size", "country"} {
		filled := 0
		for _, r := range rowsOf(t, files, extract.TableContacts) {
			if r[col] != nil {
				filled++
			}
		}
		require.NotZero(t, filled, col)
	}
	require.Zero(t, apiEx.BadCompanySizes())
	require.Zero(t, filesEx.BadCompanySizes())
	reasons := func(rs []extract.Rejection) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Reason)
		}
		return out
	}
	require.ElementsMatch(t, reasons(api.Rejections()), reasons(files.Rejections()))
	require.Equal(t, apiEx.Skipped(), filesEx.Skipped())
}

func TestAPIRetries(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	var mu sync.Mutex
	var faults []string
	org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case n == 2: // the first describe after Lead's
			w.Header().Set("Retry-After", "1")
			sfError(w, http.StatusTooManyRequests, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded")
		case n == 3:
			w.Header().Set("Retry-After", time.Now().Add(1500*time.Millisecond).UTC().Format(http.TimeFormat))
			sfError(w, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "try later")
		case n == 5:
			sfError(w, http.StatusInternalServerError, "UNKNOWN_EXCEPTION", "An unexpected error occurred")
		case n == 8: // a network error: the connection drops
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_, _ = conn.Write([]byte("not http\r\n\r\n"))
				conn.Close()
			}
		default:
			return false
		}
		faults = append(faults, fmt.Sprint(n))
		return true
	}
	var logs bytes.Buffer
	cfg := apiConfig(org, mem, &logs)
	cfg.Concurrency = 1 // request numbers are then deterministic
	t0 := time.Now()
	c, e, err := extractWith(t, cfg)
	require.NoError(t, err)
	checkScenario(t, c, e)
	require.Equal(t, []string{"2", "3", "5", "8"}, faults)
	reqs := org.log()
	for _, n := range []int{2, 3, 5, 8} {
		require.Equal(t, reqs[n-1].Path, reqs[n].Path, "request %d sent again", n)
	}
	waits, _ := retries(t, logs.String())
	require.Len(t, waits, 4)
	require.Equal(t, time.Second, waits[0], "Retry-After in seconds")
	require.Greater(t, waits[1], time.Duration(0), "Retry-After as an HTTP date")
	require.LessOrEqual(t, waits[1], 1500*time.Millisecond)
	require.LessOrEqual(t, waits[2], fastRetry.InitialInterval, "no Retry-After: the first backoff, full jitter")
	require.LessOrEqual(t, waits[3], fastRetry.InitialInterval)
	require.GreaterOrEqual(t, time.Since(t0), time.Second+waits[1])
	require.NotContains(t, logs.String(), apiToken)
}

func TestAPIRetriesGiveUp(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		sfError(w, http.StatusServiceUnavailable, "SERVER_UNAVAILABLE", "down for maintenance")
		return true
	}
	cfg := apiConfig(org, mem, io.Discard)
	cfg.Retry.MaxAttempts = 4
	_, _, err := extractWith(t, cfg)
	require.ErrorContains(t, err, "salesforce: GET /services/data/v62.0/sobjects/")
	require.ErrorContains(t, err, "/describe: gave up after 4 attempts: the most attempts allowed (MaxAttempts 4); "+
		"last: SERVER_UNAVAILABLE: down for maintenance (HTTP 503)")
	require.Len(t, org.log(), 4, "bounded retries")
}

func TestAPIExpiredToken(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, "another-token")
	var logs bytes.Buffer
	c, _, err := extractWith(t, apiConfig(org, mem, &logs))
	require.ErrorIs(t, err, extract.ErrAuth)
	require.EqualError(t, err, "authentication: salesforce: the API refused the access token (INVALID_SESSION_ID: Session expired or invalid (HTTP 401)): "+
		"set a valid token in CLOSEDLOOP_SALESFORCE_TOKEN (or use CLOSEDLOOP_SALESFORCE_CLIENT_ID and CLOSEDLOOP_SALESFORCE_CLIENT_SECRET for the client-credentials flow)")
	require.NotContains(t, err.Error(), apiToken)
	require.NotContains(t, logs.String(), apiToken)
	require.Len(t, org.log(), 1, "no retry of a refused token")
	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableEvents} {
		require.Empty(t, rowsOf(t, c, table))
	}
}

func TestAPIExpiredTokenMidRun(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	var once sync.Once
	org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 12 {
			once.Do(func() { org.setToken("rotated") })
		}
		return false
	}
	var logs bytes.Buffer
	_, _, err := extractWith(t, apiConfig(org, mem, &logs))
	require.ErrorIs(t, err, extract.ErrAuth)
	require.ErrorContains(t, err, "CLOSEDLOOP_SALESFORCE_TOKEN")
	require.NotContains(t, err.Error(), apiToken)
	require.NotContains(t, logs.String(), apiToken)
}

func TestClientCredentials(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, "")
	org.issue = []string{"00Dfake!first-token", "00Dfake!second-token"}
	// The first token expires after 30 requests.
	org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 30 {
			org.setToken("expired-meanwhile")
		}
		return false
	}
	var logs bytes.Buffer
	cfg := apiConfig(org, mem, &logs)
	cfg.AccessToken, cfg.ClientID, cfg.ClientSecret = "", clientID, clientSecret
	cfg.Concurrency = 1
	c, e, err := extractWith(t, cfg)
	require.NoError(t, err)
	checkScenario(t, c, e)
	require.Equal(t, 2, org.tokensIssued(), "one token, then one refresh after the 401")

	var tokenReqs, first, second int
	for i, r := range org.log() {
		switch {
		case r.Path == "/services/oauth2/token":
			tokenReqs++
			require.Equal(t, http.MethodPost, r.Method)
			require.Equal(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}, r.Form)
			require.Empty(t, r.Auth)
			require.True(t, i == 0 || i == 30, "token requested first and right after the 401 (request %d)", i+1)
		case r.Auth == "Bearer 00Dfake!first-token":
			first++
		case r.Auth == "Bearer 00Dfake!second-token":
			second++
		}
	}
	require.Equal(t, 2, tokenReqs)
	require.Equal(t, 29, first, "the first token reused until it expired")
	require.Greater(t, second, 10)
	for _, s := range []string{clientSecret, "00Dfake!first-token", "00Dfake!second-token"} {
		require.NotContains(t, logs.String(), s)
	}
}

func TestClientCredentialsRefused(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, "")
	// Every token is refused by the API: one refresh, then the error.
	org.afterToken = func(int) { org.setToken("not-what-was-issued") }
	var logs bytes.Buffer
	cfg := apiConfig(org, mem, &logs)
	cfg.AccessToken, cfg.ClientID, cfg.ClientSecret = "", clientID, clientSecret
	_, _, err := extractWith(t, cfg)
	require.ErrorIs(t, err, extract.ErrAuth)
	require.ErrorContains(t, err, "refused a token fresh from the client-credentials flow")
	require.ErrorContains(t, err, "CLOSEDLOOP_SALESFORCE_CLIENT_ID and CLOSEDLOOP_SALESFORCE_CLIENT_SECRET")
	require.Equal(t, 2, org.tokensIssued())
	require.Len(t, org.log(), 4, "token, describe (401), token, describe (401)")

	// A wrong secret is refused by the token endpoint itself.
	org2 := newFakeOrg(t, "")
	cfg = apiConfig(org2, mem, &logs)
	cfg.AccessToken, cfg.ClientID, cfg.ClientSecret = "", clientID, "wrong-secret-value"
	_, _, err = extractWith(t, cfg)
	require.ErrorIs(t, err, extract.ErrAuth)
	require.ErrorContains(t, err, "refused the client credentials (invalid_client: invalid client credentials (HTTP 400))")
	for _, s := range []string{clientSecret, "wrong-secret-value"} {
		require.NotContains(t, err.Error(), s)
		require.NotContains(t, logs.String(), s)
	}
}

func TestAPIErrors(t *testing.T) {
	for _, tc := range []struct {
		name, code, msg string
		status          int
		want            string
		config          bool
	}{
		{name: "daily limit", status: http.StatusForbidden, code: "REQUEST_LIMIT_EXCEEDED", msg: "TotalRequests Limit exceeded.",
			want: `the org's API request limit is used up (REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded. (HTTP 403); last Sforce-Limit-Info: "api-usage=2/15000"): the run stops`},
		{name: "malformed query", status: http.StatusBadRequest, code: "MALFORMED_QUERY", msg: "unexpected token: FROM",
			want: "MALFORMED_QUERY: unexpected token: FROM (HTTP 400): Salesforce refused a request closedloop built; this is a bug in closedloop"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem := checkedMem(t)
			org := newFakeOrg(t, apiToken)
			org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Query().Get("q") == "" {
					return false
				}
				sfError(w, tc.status, tc.code, tc.msg)
				return true
			}
			cfg := apiConfig(org, mem, io.Discard)
			cfg.Concurrency = 1
			_, _, err := extractWith(t, cfg)
			require.ErrorContains(t, err, tc.want)
			queries := 0
			for _, r := range org.log() {
				if r.Query != "" {
					queries++
				}
			}
			require.Equal(t, 1, queries, "not retried")
		})
	}
}

func TestAPISince(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	cfg := apiConfig(org, mem, io.Discard)
	cfg.Since = ts("2026-01-20T00:00:00Z")
	c, _, err := extractWith(t, cfg)
	require.NoError(t, err)
	for _, r := range org.log() {
		from := ""
		if i := strings.Index(r.Query, " FROM "); i >= 0 {
			from = strings.Fields(r.Query[i:])[1]
		}
		incremental := strings.Contains(r.Query, "SystemModstamp >= 2026-01-20T00:00:00Z")
		switch {
		case strings.Contains(r.Query, "MasterRecordId != null"), from == "LeadHistory", from == "User", from == "Account",
			from == "OpportunityContactRole", from == "OpportunityHistory", from == "Campaign", from == "TaskRelation":
			require.False(t, incremental, "lookups are read whole: %s", r.Query)
		case from != "":
			require.True(t, incremental, r.Query)
		}
	}
	people := byKey(t, rowsOf(t, c, extract.TableContacts), "contact_id")
	require.Contains(t, people, contactAnn, "changed 2026-02-18")
	require.NotContains(t, people, leadBob, "unchanged since 2026-01-09")

	// The history of an opportunity not read is not bad in an incremental run: the
	// row naming the unknown Opp09 is left out, the broken opportunity's rejected.
	var hist []string
	for _, r := range c.Rejections() {
		if strings.HasPrefix(r.Location, "salesforce OpportunityHistory ") {
			hist = append(hist, r.Location)
		}
	}
	require.ElementsMatch(t, []string{"salesforce OpportunityHistory " + histOfBroken, "salesforce OpportunityHistory " + histNoTime}, hist)

	// File mode reads the same rows with the same Since.
	files, _, err := extractWith(t, Config{Dir: exportDir, Mem: mem, Currency: "USD", Since: cfg.Since})
	require.NoError(t, err)
	for _, table := range []string{extract.TableContacts, extract.TableDeals, extract.TableDealContacts, extract.TableDealStages, extract.TableEvents} {
		require.Equal(t, canonical(t, c, table), canonical(t, files, table), table)
	}
	require.Len(t, files.Rejections(), len(c.Rejections()))
}

func TestConfigErrors(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		want string
	}{
		{"no credentials", func(c *Config) { c.AccessToken = "" }, "no credentials: set CLOSEDLOOP_SALESFORCE_TOKEN, or CLOSEDLOOP_SALESFORCE_CLIENT_ID and CLOSEDLOOP_SALESFORCE_CLIENT_SECRET"},
		{"no instance", func(c *Config) { c.InstanceURL = "" }, "set CLOSEDLOOP_SALESFORCE_INSTANCE_URL"},
		{"clear text", func(c *Config) { c.InstanceURL = "http://acme.my.salesforce.com" }, "use https"},
		{"cookie field", func(c *Config) { c.CookieField = "Visitor_Cookie__c" },
			`the cookie field Visitor_Cookie__c (column visitor_cookie_c in files) exists on neither Lead nor Contact: set CLOSEDLOOP_SALESFORCE_COOKIE_FIELD`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := apiConfig(org, mem, io.Discard)
			tc.cfg(&cfg)
			_, _, err := extractWith(t, cfg)
			require.ErrorIs(t, err, extract.ErrConfig)
			require.ErrorContains(t, err, tc.want)
			require.NotContains(t, err.Error(), apiToken)
		})
	}
	// "none" reads without cookies.
	cfg := apiConfig(org, mem, io.Discard)
	cfg.CookieField = "none"
	c, _, err := extractWith(t, cfg)
	require.NoError(t, err)
	for _, r := range rowsOf(t, c, extract.TableContacts) {
		require.Nil(t, r["cookie_id"])
	}
}

// TestAPIConcurrency: objects are read concurrently, never more than Concurrency
// requests at once.
func TestAPIConcurrency(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	var mu sync.Mutex
	inFlight, most := 0, 0
	org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		mu.Unlock()
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		inFlight--
		mu.Unlock()
		return false
	}
	cfg := apiConfig(org, mem, io.Discard)
	cfg.Concurrency = 3
	c, e, err := extractWith(t, cfg)
	require.NoError(t, err)
	checkScenario(t, c, e)
	require.Equal(t, 3, most)
}

// leadDescribe is the describe of Lead that a fault cuts short.
const leadDescribe = `{"name":"Lead","fields":[{"name":"Id","relationshipName":null},{"name":"Email","relationshipName":null},` +
	`{"name":"LeadSource","relationshipName":null},{"name":"Status","relationshipName":null}]}`

// TestAPIFaults: each fault of Lead's describe is retried, the whole request sent
// again, and every record arrives.
func TestAPIFaults(t *testing.T) {
	tests := []struct {
		name    string
		faults  int // the first requests of the describe that fail
		fault   func(w http.ResponseWriter, r *http.Request, n int)
		log     string
		slowest time.Duration
		adjust  func(*Config)
	}{
		{name: "request timeout", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.Hang(r, 5*time.Second) },
			log: "no complete answer within 1s (RequestTimeout)", slowest: time.Second, adjust: func(c *Config) { c.Retry.RequestTimeout = time.Second }},
		{name: "reset mid-body", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.ResetMidBody(w, []byte(leadDescribe)) },
			log: "HTTP 200, its body cut short"},
		{name: "json cut short", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.CutJSON(w, []byte(leadDescribe)) },
			log: "HTTP 200, its body cut short: salesforce: describe Lead: not the JSON of a describe: unexpected end of JSON input"},
		{name: "truncated body", faults: 1, fault: func(w http.ResponseWriter, r *http.Request, _ int) { faulttest.Truncate(w, []byte(leadDescribe)) },
			log: "HTTP 200, its body cut short: unexpected EOF"},
		{name: "429 burst", faults: 2, fault: func(w http.ResponseWriter, r *http.Request, _ int) {
			w.Header().Set("Retry-After", "1")
			sfError(w, http.StatusTooManyRequests, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded")
		}, log: `"wait":"1s","error":"REQUEST_LIMIT_EXCEEDED: ConcurrentPerOrgLongTxn Limit exceeded (HTTP 429)"`, slowest: 2 * time.Second},
		{name: "5xx burst", faults: 4, fault: func(w http.ResponseWriter, r *http.Request, n int) {
			sfError(w, []int{500, 502, 503, 504}[n-1], "UNKNOWN_EXCEPTION", "An unexpected error occurred")
		}, log: "UNKNOWN_EXCEPTION: An unexpected error occurred (HTTP 504)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mem := checkedMem(t)
			org := newFakeOrg(t, apiToken)
			var mu sync.Mutex
			seen := 0
			org.fault = func(_ int, w http.ResponseWriter, r *http.Request) bool {
				if r.URL.Path != "/services/data/v62.0/sobjects/Lead/describe" {
					return false
				}
				mu.Lock()
				seen++
				n := seen
				mu.Unlock()
				if n > tt.faults {
					return false
				}
				tt.fault(w, r, n)
				return true
			}
			var logs bytes.Buffer
			cfg := apiConfig(org, mem, &logs)
			if tt.adjust != nil {
				tt.adjust(&cfg)
			}
			t0 := time.Now()
			c, e, err := extractWith(t, cfg)
			require.NoError(t, err)
			checkScenario(t, c, e)
			require.Equal(t, tt.faults+1, seen, "the describe again after each fault")
			_, calls := retries(t, logs.String())
			require.Equal(t, slices.Repeat([]string{"GET /services/data/v62.0/sobjects/Lead/describe"}, tt.faults), calls)
			require.Contains(t, logs.String(), tt.log)
			require.GreaterOrEqual(t, time.Since(t0), tt.slowest)
			require.NotContains(t, logs.String(), apiToken)
		})
	}
}

// TestAPINeverAnswers: an org that never answers is given up on when the source's
// time limit is reached, whatever attempts are left.
func TestAPINeverAnswers(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	org.fault = func(_ int, w http.ResponseWriter, r *http.Request) bool {
		faulttest.Hang(r, 5*time.Second)
		return true
	}
	var logs bytes.Buffer
	cfg := apiConfig(org, mem, &logs)
	cfg.Retry.RequestTimeout, cfg.Retry.SourceTimeout, cfg.Retry.MaxAttempts = 100*time.Millisecond, 450*time.Millisecond, 100
	t0 := time.Now()
	_, _, err := extractWith(t, cfg)
	require.ErrorContains(t, err, "salesforce: GET /services/data/v62.0/sobjects/")
	require.ErrorContains(t, err, "the source's time limit (SourceTimeout 450ms) is reached; last: ")
	var ge *httpretry.Error
	require.ErrorAs(t, err, &ge)
	require.GreaterOrEqual(t, ge.Attempts, 3)
	require.Less(t, time.Since(t0), 2*time.Second, "given up by the source's time limit")
	require.Contains(t, logs.String(), "no complete answer within 100ms (RequestTimeout)")
}

// TestAPICallTimeout: a request that outlives RequestTimeout is abandoned and retried.
func TestAPICallTimeout(t *testing.T) {
	mem := checkedMem(t)
	org := newFakeOrg(t, apiToken)
	org.fault = func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		return false
	}
	cfg := apiConfig(org, mem, io.Discard)
	cfg.Retry.RequestTimeout = 50 * time.Millisecond
	var logs bytes.Buffer
	cfg.Log = slog.New(slog.NewTextHandler(&logs, nil))
	c, e, err := extractWith(t, cfg)
	require.NoError(t, err)
	checkScenario(t, c, e)
	require.Contains(t, logs.String(), "context deadline exceeded")
	require.Equal(t, org.log()[0].Path, org.log()[1].Path, "the same request again")
}
