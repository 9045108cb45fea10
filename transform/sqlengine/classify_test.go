package sqlengine

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"closedloop/transform/normalize"
)

// classifyCase is what one event states of its traffic.
type classifyCase struct {
	location, referrer, source, medium, gclid string
}

var classifySeeds = []classifyCase{
	{"https://www.example.com/?utm_source=Google&utm_medium=CPC&utm_campaign=brand&utm_term=crm", "", "", "", ""},
	{"https://www.example.com/landing", "https://www.google.co.uk/search?q=b2b+attribution", "", "", ""},
	{"https://www.example.com/p?gclid=abc", "https://www.google.com/", "", "", ""},
	{"https://www.example.com/p", "https://www.bing.com/search?q=%22roi%22", "", "", ""},
	{"https://www.example.com/p", "https://uk.search.yahoo.com/search?p=funnel+tool&q=other", "", "", ""},
	{"https://www.example.com/p", "https://mail.google.com/mail/u/0/", "", "", ""},
	{"https://www.example.com/p", "https://blog.example.com/post", "", "", ""},
	{"https://www.example.com/p", "android-app://com.google.android.googlequicksearchbox/", "", "", ""},
	{"https://www.example.com/p?utm_source=(direct)&utm_medium=(none)&fbclid=1", "", "", "", ""},
	{"https://www.example.com/p?sccid=1", "", "", "", ""},
	{"https://www.example.com/p", "", "newsletter", "email", ""},
	{"https://www.example.com/p", "", "", "", "Cj0KCQ"},
	{"https://www.example.com/p?utm_medium=organic", "", "", "", ""},
	{"https://www.example.com/p?utm_source=google&utm_medium=cpc", "https://www.google.com/search?q=kw", "", "", ""},
	{"/relative?utm_source=x", "https://news.ycombinator.com/item?id=1", "", "", ""},
}

// sqlClassify runs the classify step on one event in DuckDB and returns its traffic,
// completed as the channels step completes it.
func sqlClassify(t *testing.T, db *sql.DB, c classifyCase) normalize.Traffic {
	cfg := Config{Dialect: DuckDB, SessionTimeout: 30 * time.Minute, Now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	d := DuckDB
	stmts := []string{
		fmt.Sprintf(`CREATE OR REPLACE TABLE cl_events AS SELECT 1767225600000000 AS at_us, 'page_view' AS event_name, 'page_view' AS kind,
			'a' AS anon, '' AS user_id, '' AS email, '1' AS session_key, $1 AS page_location, '' AS page_title, $2 AS page_referrer,
			$3 AS utm_source, $4 AS utm_medium, '' AS utm_campaign, '' AS utm_term, '' AS utm_content, $5 AS gclid,
			'' AS link_url, '' AS currency, CAST(NULL AS DOUBLE) AS value, %s AS ref_base, %s AS page_origin, '' AS reject`,
			d.re1("$2", `^([^?#]*)`), d.re1("$1", `^([a-zA-Z][a-zA-Z0-9+.\-]*://[^/?#]*)`)),
		`CREATE OR REPLACE TABLE cl_devices AS SELECT 'a' AS anon, '' AS user_id, '' AS email, 0::BIGINT AS dev, 'p' AS person_id`,
	}
	for i, q := range stmts {
		var err error
		if i == 0 {
			_, err = db.Exec(q, c.location, c.referrer, c.source, c.medium, c.gclid)
		} else {
			_, err = db.Exec(q)
		}
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
	}
	var base, origin string
	if err := db.QueryRow("SELECT ref_base, page_origin FROM cl_events").Scan(&base, &origin); err != nil {
		t.Fatal(err)
	}
	r := normalize.ClassifyReferrer(base, origin)
	kw := append(r.KeywordParams, "", "")
	if _, err := db.Exec(`CREATE OR REPLACE TABLE cl_referrers AS SELECT ? AS ref_base, ? AS page_origin, ? AS ref_host, ? AS ref_source,
		? AS ref_medium, ? AS ref_engine, ? AS kw1, ? AS kw2`, base, origin, r.Host, r.Source, r.Medium, r.Engine, kw[0], kw[1]); err != nil {
		t.Fatal(err)
	}
	q, err := cfg.render("classify", classifySQL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%+v: %v", c, err)
	}
	var tr normalize.Traffic
	if err := db.QueryRow(`SELECT explicit, t_source, t_medium, t_campaign, t_term, t_content, t_click, t_platform, t_ref_host
		FROM cl_classified`).Scan(&tr.Explicit, &tr.Source, &tr.Medium, &tr.Campaign, &tr.Term, &tr.Content, &tr.ClickID,
		&tr.SourcePlatform, &tr.ReferrerHost); err != nil {
		t.Fatal(err)
	}
	tr.CompleteTerm()
	return tr
}

// goClassify is package normalize's Classify of c, with what the SQL keeps of it.
func goClassify(c classifyCase) normalize.Traffic {
	tr := normalize.Classify(normalize.Input{PageLocation: c.location, Referrer: c.referrer, UTMSource: c.source,
		UTMMedium: c.medium, GCLID: c.gclid})
	tr.ClickIDValue, tr.LandingPath, tr.CampaignID, tr.CreativeFormat, tr.MarketingTactic = "", "", "", "", ""
	return tr
}

// TestClassifyParity holds the classify step to package normalize on the seeds.
func TestClassifyParity(t *testing.T) {
	db := openDuckDB(t)
	for _, c := range classifySeeds {
		if got, want := sqlClassify(t, db, c), goClassify(c); got != want {
			t.Errorf("%+v:\nSQL %+v\nGo  %+v", c, got, want)
		}
	}
}

// FuzzClassifyParity holds the classify step to package normalize on events a
// browser could report.
func FuzzClassifyParity(f *testing.F) {
	for _, c := range classifySeeds {
		f.Add(c.location, c.referrer, c.source, c.medium, c.gclid)
	}
	f.Fuzz(func(t *testing.T, location, referrer, source, medium, gclid string) {
		for _, u := range []string{location, referrer} {
			if u != "" && !plausible(u) {
				t.Skip()
			}
		}
		for _, v := range []string{source, medium, gclid} {
			if !plausible(v) || strings.Contains(v, "/") {
				t.Skip()
			}
		}
		c := classifyCase{location, referrer, source, medium, gclid}
		if got, want := sqlClassify(t, sharedDB(t), c), goClassify(c); got != want {
			t.Errorf("%+v:\nSQL %+v\nGo  %+v", c, got, want)
		}
	})
}
