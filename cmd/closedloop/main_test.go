package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/load"
	"closedloop/load/duckdb"
)

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errw bytes.Buffer
	code := Main(context.Background(), args, &out, &errw)
	return code, out.String(), errw.String()
}

func TestConfigErrorsExit2(t *testing.T) {
	touches := filepath.Join("testdata", "touches.csv")
	cases := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no command", nil, nil, "Commands:"},
		{"unknown command", nil, []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"no source", nil, []string{"run"}, "CLOSEDLOOP_ANALYTICS (--analytics): no source"},
		{"bad lookback env", map[string]string{"CLOSEDLOOP_LOOKBACK": "soon"}, []string{"run", "--analytics", "touches:" + touches},
			`CLOSEDLOOP_LOOKBACK (--lookback) = "soon": want a positive duration such as 90d or 720h`},
		{"zero lookback", nil, []string{"run", "--analytics", "touches:" + touches, "--lookback", "0d"},
			`CLOSEDLOOP_LOOKBACK (--lookback) = "0d": want a positive duration such as 90d or 720h`},
		{"reject ratio above 1", nil, []string{"run", "--analytics", "touches:" + touches, "--max-reject-ratio", "5"},
			"CLOSEDLOOP_MAX_REJECT_RATIO (--max-reject-ratio): want a share between 0 and 1"},
		{"day drop below 0", map[string]string{"CLOSEDLOOP_MAX_DAY_DROP": "-0.1"}, []string{"run", "--analytics", "touches:" + touches},
			"CLOSEDLOOP_MAX_DAY_DROP (--max-day-drop): want a share between 0 and 1"},
		{"zero source timeout", nil, []string{"run", "--analytics", "touches:" + touches, "--source-timeout", "0s"},
			"CLOSEDLOOP_SOURCE_TIMEOUT (--source-timeout): must be positive"},
		{"bad date flag", nil, []string{"run", "--analytics", "touches:" + touches, "--from", "2018-13-01"},
			`CLOSEDLOOP_FROM (--from) = "2018-13-01": want a day as YYYY-MM-DD`},
		{"from after to", nil, []string{"run", "--analytics", "touches:" + touches, "--from", "2018-07-31", "--to", "2018-07-01"},
			"CLOSEDLOOP_FROM (--from): 2018-07-31 is after CLOSEDLOOP_TO 2018-07-01"},
		{"bad late days", map[string]string{"CLOSEDLOOP_LATE_DAYS": "three"}, []string{"run", "--analytics", "touches:" + touches},
			`CLOSEDLOOP_LATE_DAYS (--late-days) = "three": want a whole number`},
		{"unknown model", nil, []string{"run", "--analytics", "touches:" + touches, "--models", "linear,magic"},
			`CLOSEDLOOP_MODELS (--models): unknown attribution model "magic"`},
		{"unknown source kind", nil, []string{"run", "--analytics", "adobe:x"}, `CLOSEDLOOP_ANALYTICS: unknown source kind "adobe"`},
		{"spec without location", nil, []string{"run", "--crm", "hubspot"}, `CLOSEDLOOP_CRM: "hubspot" is not KIND:LOCATION`},
		{"other warehouse", nil, []string{"run", "--analytics", "touches:" + touches, "--warehouse", "snowflake:x"},
			`CLOSEDLOOP_WAREHOUSE (--warehouse): unknown warehouse kind "snowflake"`},
		{"bigquery without dataset", nil, []string{"run", "--analytics", "touches:" + touches, "--warehouse", "bigquery:myproject"},
			"CLOSEDLOOP_WAREHOUSE (--warehouse): want bigquery:PROJECT.DATASET"},
		{"bad duckdb memory limit", map[string]string{"CLOSEDLOOP_DUCKDB_MEMORY_LIMIT": "lots"}, []string{"run", "--analytics", "touches:" + touches},
			`CLOSEDLOOP_DUCKDB_MEMORY_LIMIT (--duckdb-memory-limit): want a size such as 512MB, 2GB or 1.5GiB, got "lots"`},
		{"bad currency", nil, []string{"run", "--analytics", "touches:" + touches, "--currency", "dollars"},
			"CLOSEDLOOP_CURRENCY (--currency): want an ISO 4217 code"},
		{"bad bool", nil, []string{"run", "--analytics", "touches:" + touches, "--hash-pii=maybe"},
			`CLOSEDLOOP_HASH_PII (--hash-pii) = "maybe": want true or false`},
		{"bad identity limits", map[string]string{"CLOSEDLOOP_IDENTITY_LIMITS": "phone=3"}, []string{"run", "--analytics", "touches:" + touches},
			`CLOSEDLOOP_IDENTITY_LIMITS (--identity-limits): want TYPE=N`},
		{"bad markov order", nil, []string{"run", "--analytics", "touches:" + touches, "--markov-order", "9"},
			"CLOSEDLOOP_MARKOV_ORDER (--markov-order): markov order 9: want 1..4"},
		{"bad position weights", nil, []string{"run", "--analytics", "touches:" + touches, "--position-weights", "0.7,0.7"},
			"CLOSEDLOOP_POSITION_WEIGHTS (--position-weights): position_based weights 0.7,0.7"},
		{"bad half-life", nil, []string{"run", "--analytics", "touches:" + touches, "--decay-half-life", "soon"},
			"CLOSEDLOOP_DECAY_HALF_LIFE (--decay-half-life)"},
		{"bigquery analytics without dataset", nil, []string{"run", "--analytics", "ga4:bigquery://my-project"},
			"CLOSEDLOOP_ANALYTICS (--analytics): "},
		{"hubspot api without token", nil, []string{"run", "--crm", "hubspot:api"}, "CLOSEDLOOP_HUBSPOT_TOKEN (--hubspot-token)"},
		{"salesforce api without url", nil, []string{"run", "--crm", "salesforce:api"}, "CLOSEDLOOP_SALESFORCE_INSTANCE_URL"},
		{"bad journey scope", map[string]string{"CLOSEDLOOP_JOURNEY_SCOPE": "person,team"}, []string{"run", "--analytics", "touches:" + touches},
			`CLOSEDLOOP_JOURNEY_SCOPE (--journey-scope): unknown journey scope "team" (known: person, deal, account)`},
		{"journey scope twice", nil, []string{"run", "--analytics", "touches:" + touches, "--journey-scope", "deal,deal"},
			`CLOSEDLOOP_JOURNEY_SCOPE (--journey-scope): journey scope "deal" is listed twice`},
		{"bad free-mail domain", nil, []string{"run", "--analytics", "touches:" + touches, "--free-mail-domains", "me@mail.example"},
			`CLOSEDLOOP_FREE_MAIL_DOMAINS (--free-mail-domains): want domains such as mail.example`},
		{"bad channel rules", nil, []string{"run", "--analytics", "touches:" + touches, "--channel-rules", "testdata/bad_rules.txt"},
			"CLOSEDLOOP_CHANNEL_RULES (--channel-rules): "},
		{"unknown flag", nil, []string{"run", "--analytcs", "x"}, "flag provided but not defined: -analytcs"},
		{"stray argument", nil, []string{"run", "--analytics", "touches:" + touches, "extra"}, `unexpected argument "extra"`},
		{"no such file", nil, []string{"run", "--analytics", "touches:testdata/nope-*.csv", "--from", "2018-07-01", "--to", "2018-07-31",
			"--warehouse", "duckdb:" + filepath.Join(t.TempDir(), "x.duckdb")}, "nope-*.csv"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, _, stderr := runMain(t, c.args...)
			require.Equal(t, 2, code, stderr)
			require.Contains(t, stderr, c.want)
		})
	}
}

func TestFlagsDoNotLeakIntoEnvironment(t *testing.T) {
	code, _, _ := runMain(t, "run", "--analytics", "adobe:x", "--lookback", "7d")
	require.Equal(t, 2, code)
	code, _, stderr := runMain(t, "run")
	require.Equal(t, 2, code)
	require.Contains(t, stderr, "no source", "the --analytics of the first call must not stick")
}

func TestHelpRunListsEveryVariable(t *testing.T) {
	code, out, _ := runMain(t, "help", "run")
	require.Equal(t, 0, code)
	for _, s := range settings() {
		require.Contains(t, out, s.env)
		require.Contains(t, out, "--"+s.flag)
		require.NotEmpty(t, s.desc, s.env)
	}
	require.Regexp(t, `CLOSEDLOOP_LOOKBACK\s+--lookback\s+\(default 90d\)\s+how far`, out)
	require.Regexp(t, `CLOSEDLOOP_WAREHOUSE\s+--warehouse\s+\(default duckdb:closedloop.duckdb\)`, out)
	for i, line := range strings.Split(out, "\n") {
		require.LessOrEqual(t, len([]rune(line)), helpWidth, "line %d: %s", i+1, line)
	}
}

func TestCommandHelpFlags(t *testing.T) {
	for _, cmd := range []string{"run", "demo"} {
		for _, flag := range []string{"--help", "-h"} {
			code, out, stderr := runMain(t, cmd, flag)
			require.Equal(t, 0, code, "%s %s: %s", cmd, flag, stderr)
			require.Contains(t, out, "closedloop "+cmd+" [")
			require.Empty(t, stderr)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runMain(t, "version")
	require.Equal(t, 0, code)
	require.Equal(t, "closedloop dev\n", out)
}

func query(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	require.NoError(t, db.QueryRow(q).Scan(&n), q)
	return n
}

func TestRunTouchLog(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "out.duckdb")
	args := []string{"run", "--analytics", "touches:testdata/touches.csv", "--from", "2018-07-01", "--to", "2018-07-31",
		"--warehouse", "duckdb:" + wh, "--models", "first_touch,last_touch,linear", "--log-format", "json"}
	for i := 0; i < 2; i++ { // the second run of the same range replaces, never duplicates
		code, out, stderr := runMain(t, args...)
		require.Equal(t, 0, code, stderr)
		require.Contains(t, out, "17 touchpoints, 4 conversions, 6 persons, 1 rows rejected")
		require.Contains(t, stderr, `"severity":"INFO","message":"run finished"`)
	}
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	require.Equal(t, 17, query(t, db, `SELECT count(*) FROM fct_touchpoint`))
	require.Equal(t, 4, query(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'conversion'`))
	require.Equal(t, 2, query(t, db, `SELECT count(*) FROM fct_touchpoint WHERE anonymous_id = '0003EfE37E93D0BC03iBhBBhF' AND channel = 'Facebook' AND occurred_at = TIMESTAMP '2018-07-05 10:08:42'`),
		"an exact duplicate row stays two touches")
	require.Equal(t, 2, query(t, db, `SELECT count(*) FROM run_log`))
	require.Equal(t, 2, query(t, db, `SELECT count(*) FROM rejected_rows`), "one per run")
	var loc, reason string
	require.NoError(t, db.QueryRow(`SELECT location, reason FROM rejected_rows LIMIT 1`).Scan(&loc, &reason))
	require.Equal(t, "testdata/touches.csv:19", loc)
	require.Contains(t, reason, "not-a-time")
	// Credits sum to 1 per conversion and model; revenue to the conversion's value.
	require.Equal(t, 0, query(t, db, `
		SELECT count(*) FROM (
		  SELECT a.conversion_id, a.model, sum(a.credit) AS c, sum(a.revenue_credit) AS r, any_value(v.revenue) AS rev
		  FROM fct_attribution a JOIN fct_conversion v USING (conversion_id)
		  GROUP BY a.conversion_id, a.model)
		WHERE abs(c - 1) > 1e-9 OR abs(r - rev) > 1e-9`))
	require.Equal(t, 12, query(t, db, `SELECT count(*) FROM (SELECT DISTINCT conversion_id, model FROM fct_attribution)`))
	// Paid Search: first touch of 2 conversions (4.5 and 8.5), last touch of the same.
	var rev float64
	require.NoError(t, db.QueryRow(`SELECT sum(revenue) FROM v_channel_performance
		WHERE model = 'first_touch' AND channel = 'Paid Search' AND date_basis = 'conversion_date'`).Scan(&rev))
	require.InDelta(t, 13.0, rev, 1e-9)
	for _, spec := range load.Tables {
		require.GreaterOrEqual(t, query(t, db, `SELECT count(*) FROM `+spec.Name), 0)
	}
	require.True(t, strings.HasSuffix(wh, ".duckdb"))
}

// TestJobReleasesArrowMemory runs the whole job on a checked allocator: every batch,
// table and builder of extract, transform and load must be released.
func TestJobReleasesArrowMemory(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cfg, err := loadConfig("run", []string{"--analytics", "touches:testdata/touches.csv", "--from", "2018-07-01", "--to", "2018-07-31",
		"--warehouse", "duckdb:" + filepath.Join(t.TempDir(), "x.duckdb")}, io.Discard)
	require.NoError(t, err)
	res, err := runJob(context.Background(), cfg, mem, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.Equal(t, 17, res.Stats.Touchpoints)
}

// TestRunSegment: Segment and RudderStack files run end to end; the run's counts
// reconcile per input (rows written + rejected + skipped + duplicates = lines read).
func TestRunSegment(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "s.duckdb")
	src := filepath.Join("..", "..", "extract", "segment", "testdata", "*.ndjson")
	code, _, stderr := runMain(t, "run", "--analytics", "segment:"+src, "--from", "2015-02-01", "--to", "2020-01-31",
		"--micro-conversions", "Order Completed", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	require.Positive(t, query(t, db, `SELECT count(*) FROM fct_touchpoint`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM fct_page_view`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'Order Completed'`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM rejected_rows WHERE location LIKE '%segment.ndjson:%'`))
	var countsJSON string
	require.NoError(t, db.QueryRow(`SELECT row_counts FROM run_log`).Scan(&countsJSON))
	var counts struct {
		Read   map[string]map[string]int64 `json:"read"`
		Events map[string]int64            `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(countsJSON), &counts))
	m := counts.Read["segment:"+src]
	// 26 lines, one of them a batch of two calls
	require.Equal(t, int64(27), m["events"]+m["rejected"]+m["skipped"]+m["duplicates"], "%v", m)
	var used int64
	for _, n := range counts.Events {
		used += n
	}
	require.Equal(t, m["events"], used, "%v", counts.Events)
}

// TestRunSalesforce: a Salesforce Data Export folder runs end to end: CRM people,
// deals, selling activities as Sales touches (not credited by default) and the
// sales view.
func TestRunSalesforce(t *testing.T) {
	wh := filepath.Join(t.TempDir(), "sf.duckdb")
	dir := filepath.Join("..", "..", "extract", "salesforce", "testdata", "export")
	code, _, stderr := runMain(t, "run", "--crm", "salesforce:"+dir, "--from", "2026-01-01", "--to", "2026-03-31",
		"--warehouse", "duckdb:"+wh)
	require.Equal(t, 0, code, stderr)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	require.Positive(t, query(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'customer' AND revenue > 0`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM fct_touchpoint WHERE channel LIKE 'Sales: %'`))
	require.Zero(t, query(t, db, `SELECT count(*) FROM fct_attribution WHERE channel LIKE 'Sales: %'`), "CLOSEDLOOP_ATTRIBUTE_SALES_TOUCHES is off")
	require.Positive(t, query(t, db, `SELECT count(*) FROM v_sales_activity`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM bridge_identity WHERE identifier_type = 'salesforce_lead'`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM fct_deal_stage WHERE person_id IS NOT NULL AND days_in_stage > 0`))
	require.Positive(t, query(t, db, `SELECT count(*) FROM v_pipeline_stages WHERE crm = 'salesforce'`))
}

// TestRunSalesforceExpiredToken: a refused token fails the run with exit 1, names the
// variable to fix, never prints the token, and writes no warehouse.
func TestRunSalesforceExpiredToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `[{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}]`)
	}))
	defer srv.Close()
	const token = "00D5g000004XYZ!AQ0AQsecretsecretsecret"
	t.Setenv("CLOSEDLOOP_SALESFORCE_TOKEN", token)
	wh := filepath.Join(t.TempDir(), "sf.duckdb")
	code, stdout, stderr := runMain(t, "run", "--crm", "salesforce:api", "--salesforce-instance-url", srv.URL,
		"--from", "2026-01-01", "--to", "2026-01-31", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "CLOSEDLOOP_SALESFORCE_TOKEN")
	require.NotContains(t, stderr+stdout, token)
	require.NotContains(t, stderr+stdout, "secretsecret")
	require.NoFileExists(t, wh)
}

// TestRunHubSpotExpiredToken: as for Salesforce, a refused HubSpot token fails the run
// (exit 1) naming the variable, never printing the token, writing nothing.
func TestRunHubSpotExpiredToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"status":"error","message":"The OAuth token used to make this call expired 2 hour(s) ago.","category":"EXPIRED_AUTHENTICATION"}`)
	}))
	defer srv.Close()
	const token = "pat-na1-0000aaaa-1111-2222-3333-secretsecret"
	t.Setenv("CLOSEDLOOP_HUBSPOT_TOKEN", token)
	t.Setenv("CLOSEDLOOP_HUBSPOT_BASE_URL", srv.URL)
	wh := filepath.Join(t.TempDir(), "hs.duckdb")
	code, stdout, stderr := runMain(t, "run", "--crm", "hubspot:api", "--from", "2026-01-01", "--to", "2026-01-31", "--warehouse", "duckdb:"+wh)
	require.Equal(t, 1, code, stderr)
	require.Contains(t, stderr, "CLOSEDLOOP_HUBSPOT_TOKEN")
	require.NotContains(t, stderr+stdout, "secretsecret")
	require.NoFileExists(t, wh)
}

// TestAPISourcesNeedCredentialsOnlyForAPI: a folder whose name starts with "api" is a
// folder, not the API, and needs no token.
func TestAPISourcesNeedCredentialsOnlyForAPI(t *testing.T) {
	for _, crm := range []string{"hubspot:apiexports", "salesforce:api-dump"} {
		_, err := loadConfig("run", []string{"--crm", crm}, io.Discard)
		require.NoError(t, err, crm)
	}
}
