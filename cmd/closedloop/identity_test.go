package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"closedloop/load/duckdb"
)

// ga4Line is one GA4 export row: a session_start page view of cookie at µs.
func ga4Line(cookie, micros, url string) string {
	return `{"event_date":"20260105","event_timestamp":"` + micros + `","event_name":"session_start","event_params":[` +
		`{"key":"ga_session_id","value":{"int_value":"` + micros[:10] + `"}},` +
		`{"key":"page_location","value":{"string_value":"` + url + `"}}],"user_pseudo_id":"` + cookie + `"}` + "\n"
}

// TestLateIdentifyRepointsOlderDays: a cookie browses on 2026-01-05 (run 1 loads that
// day as an anonymous person); on 2026-01-08 it fills in a form and becomes HubSpot
// contact 501. Run 2 loads only 2026-01-08, yet the 01-05 touch and page view now
// belong to the contact's person: no stale anonymous rows.
func TestLateIdentifyRepointsOlderDays(t *testing.T) {
	dir := t.TempDir()
	ga4 := filepath.Join(dir, "ga4")
	hs := filepath.Join(dir, "hubspot")
	require.NoError(t, os.MkdirAll(ga4, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(ga4, "events_20260105.ndjson"),
		[]byte(ga4Line("111.222", "1767603600000000", "https://www.example.com/pricing?utm_source=google&utm_medium=cpc")), 0o644))
	wh := filepath.Join(dir, "wh.duckdb")
	code, _, stderr := runMain(t, "run", "--analytics", "ga4:"+filepath.Join(ga4, "*.ndjson"), "--from", "2026-01-05", "--to", "2026-01-05",
		"--warehouse", "duckdb:"+wh, "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	db, err := duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	var before string
	require.NoError(t, db.QueryRow(`SELECT person_id FROM fct_touchpoint`).Scan(&before))
	require.NoError(t, db.Close())

	// Day 3 later: the form.
	require.NoError(t, os.WriteFile(filepath.Join(ga4, "events_20260108.ndjson"),
		[]byte(ga4Line("111.222", "1767862800000000", "https://www.example.com/demo")), 0o644))
	require.NoError(t, os.MkdirAll(hs, 0o755))
	pipelines, err := os.ReadFile(filepath.Join("..", "..", "extract", "hubspot", "testdata", "export", "pipelines.json"))
	require.NoError(t, err)
	for name, body := range map[string]string{
		"contacts.ndjson": `{"id":"501","properties":{"email":"ann@acme.com","ga_client_id":"111.222","createdate":"2026-01-08T09:00:30Z",` +
			`"lifecyclestage":"lead","hs_lifecyclestage_lead_date":"2026-01-08T09:00:30Z","lastmodifieddate":"2026-01-08T09:00:30Z"},` +
			`"createdAt":"2026-01-08T09:00:30Z","updatedAt":"2026-01-08T09:00:30Z","archived":false}` + "\n",
		"deals.ndjson":         "",
		"deal_contacts.ndjson": "",
		"pipelines.json":       string(pipelines),
	} {
		require.NoError(t, os.WriteFile(filepath.Join(hs, name), []byte(body), 0o644))
	}
	code, _, stderr = runMain(t, "run", "--analytics", "ga4:"+filepath.Join(ga4, "*.ndjson"), "--crm", "hubspot:"+hs,
		"--from", "2026-01-08", "--to", "2026-01-08", "--warehouse", "duckdb:"+wh, "--log-format", "json")
	require.Equal(t, 0, code, stderr)
	require.Contains(t, stderr, "rows of earlier runs moved to their stitched person")

	db, err = duckdb.OpenReadOnly(wh)
	require.NoError(t, err)
	defer db.Close()
	var contactPerson string
	require.NoError(t, db.QueryRow(`SELECT person_id FROM dim_person WHERE crm_contact_id = '501'`).Scan(&contactPerson))
	require.NotEqual(t, before, contactPerson)
	require.Equal(t, 0, query(t, db, `SELECT count(*) FROM fct_touchpoint WHERE person_id <> '`+contactPerson+`'`),
		"both days' touches belong to the contact")
	require.Equal(t, 2, query(t, db, `SELECT count(*) FROM fct_touchpoint`))
	require.Equal(t, 0, query(t, db, `SELECT count(*) FROM fct_page_view WHERE person_id <> '`+contactPerson+`'`))
	require.Equal(t, 1, query(t, db, `SELECT count(*) FROM fct_conversion WHERE conversion_type = 'lead' AND person_id = '`+contactPerson+`'`))
	var counts string
	require.NoError(t, db.QueryRow(`SELECT row_counts FROM run_log ORDER BY started_at DESC LIMIT 1`).Scan(&counts))
	require.Contains(t, counts, `"rows_repointed":1`, "the 01-05 touch (session_start is no page view)")
}
