package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
)

// cookieRun writes a GA4 day of n cookies (1000<i>.1767603600) and a HubSpot folder of
// n contacts whose ga_client_id is stored(i), then runs closedloop into a new DuckDB.
func cookieRun(t *testing.T, n int, stored func(i int) string) (wh, stderr string) {
	dir := t.TempDir()
	ga4, hs := filepath.Join(dir, "ga4"), filepath.Join(dir, "hubspot")
	require.NoError(t, os.MkdirAll(ga4, 0o755))
	require.NoError(t, os.MkdirAll(hs, 0o755))
	var events, contacts strings.Builder
	for i := range n {
		micros := fmt.Sprintf("%d", 1767603600000000+int64(i)*60_000_000)
		events.WriteString(ga4Line(fmt.Sprintf("1000%d.1767603600", i), micros, "https://www.example.com/pricing?utm_source=google&utm_medium=cpc"))
		fmt.Fprintf(&contacts, `{"id":"%d","properties":{"email":"p%d@acme.com","ga_client_id":%q,"createdate":"2026-01-05T12:00:00Z",`+
			`"lifecyclestage":"lead","hs_lifecyclestage_lead_date":"2026-01-05T12:00:00Z","lastmodifieddate":"2026-01-05T12:00:00Z"},"archived":false}`+"\n",
			500+i, i, stored(i))
	}
	require.NoError(t, os.WriteFile(filepath.Join(ga4, "events_20260105.ndjson"), []byte(events.String()), 0o644))
	pipelines, err := os.ReadFile(filepath.Join("..", "..", "extract", "hubspot", "testdata", "export", "pipelines.json"))
	require.NoError(t, err)
	for name, body := range map[string]string{"contacts.ndjson": contacts.String(), "deals.ndjson": "", "deal_contacts.ndjson": "", "pipelines.json": string(pipelines)} {
		require.NoError(t, os.WriteFile(filepath.Join(hs, name), []byte(body), 0o644))
	}
	wh = filepath.Join(dir, "wh.duckdb")
	code, _, stderr := runMain(t, "run", "--analytics", "ga4:"+filepath.Join(ga4, "*.ndjson"), "--crm", "hubspot:"+hs,
		"--from", "2026-01-05", "--to", "2026-01-05", "--warehouse", "duckdb:"+wh, "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	return wh, stderr
}

// TestStoredGACookieLinks: contacts whose property holds the _ga cookie as websites
// store it (GA1.1.<client id>, GA1.2.…) link to their browsers; an e-mail stored
// there is counted in run_log and warned about, never silently unlinked.
func TestStoredGACookieLinks(t *testing.T) {
	const n = 12
	wh, stderr := cookieRun(t, n, func(i int) string {
		switch {
		case i == n-1:
			return fmt.Sprintf("p%d@acme.com", i) // not a client id
		case i%2 == 0:
			return fmt.Sprintf("GA1.1.1000%d.1767603600", i)
		}
		return fmt.Sprintf(" GA1.2.1000%d.1767603600", i)
	})
	require.Contains(t, stderr, "the cookie property holds no analytics client id")
	require.NotContains(t, stderr, "match no analytics cookie")
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	// Every contact but the last is one person with its browser's touch.
	require.Equal(t, n-1, query(t, db, `SELECT count(DISTINCT t.person_id) FROM fct_touchpoint t JOIN dim_person p USING (person_id) WHERE p.crm_contact_id IS NOT NULL`))
	require.Equal(t, n+1, query(t, db, `SELECT count(*) FROM dim_person`), "n-1 linked contacts, the last contact and its browser")
	// The leads are credited to Paid Search, not (none).
	require.Equal(t, n-1, query(t, db, `SELECT count(*) FROM fct_attribution WHERE model = 'last_touch' AND scope = 'person' AND conversion_type = 'lead' AND channel = 'Paid Search'`))
	var counts string
	require.NoError(t, db.QueryRow(`SELECT row_counts FROM run_log`).Scan(&counts))
	require.Contains(t, counts, `"bad_cookie_ids":1`)
	require.Contains(t, counts, `"hubspot_cookies":11`)
	require.Contains(t, counts, `"hubspot_cookies_linked":11`)
}

// TestUnlinkedCookiesWarned: when most stored cookie ids match no analytics cookie
// (here HubSpot's own hubspotutk), the run says which property it read and what the
// values look like next to the analytics ids.
func TestUnlinkedCookiesWarned(t *testing.T) {
	_, stderr := cookieRun(t, 12, func(i int) string { return fmt.Sprintf("3f2a9c1b8e7d4f6a9b0c1d2e3f4a5b%02d", i) })
	require.Contains(t, stderr, "most cookie ids stored on CRM records match no analytics cookie")
	require.Contains(t, stderr, `"property":"CLOSEDLOOP_HUBSPOT_COOKIE_PROPERTY=ga_client_id"`)
	require.Contains(t, stderr, `"stored":12,"linked":0`)
	require.Contains(t, stderr, `3f2a9c1b8e7d4f6a9b0c1d2e3f4a5b00`)
	require.Contains(t, stderr, `10000.1767603600`)
}
