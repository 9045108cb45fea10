package sqlengine

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"closedloop/extract"
)

// exportRow is one row of a GA4 export as its JSON files hold it.
type exportRow struct {
	at      time.Time
	name    string
	pseudo  string
	user    string
	session string // ga_session_id, "" for none
	params  map[string]string
	ints    map[string]int64
	extra   map[string]any // top-level fields besides the ids (collected_traffic_source, ...)
}

func (r exportRow) line() string {
	var params []map[string]any
	add := func(k string, v map[string]any) { params = append(params, map[string]any{"key": k, "value": v}) }
	if r.session != "" {
		add("ga_session_id", map[string]any{"int_value": r.session})
	}
	for k, v := range r.params {
		add(k, map[string]any{"string_value": v})
	}
	for k, v := range r.ints {
		add(k, map[string]any{"int_value": strconv.FormatInt(v, 10)})
	}
	m := map[string]any{"event_date": r.at.Format("20060102"), "event_timestamp": strconv.FormatInt(r.at.UnixMicro(), 10),
		"event_name": r.name, "event_params": params, "stream_id": "1"}
	if r.pseudo != "" {
		m["user_pseudo_id"] = r.pseudo
	}
	if r.user != "" {
		m["user_id"] = r.user
	}
	for k, v := range r.extra {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// edgeRows are the cases the sample does not hold: sessions without ga_session_id
// (timeout, campaign change), referrers of search engines, webmail and the site
// itself, escapes good and bad, every kind of click id, a source's own "(direct)",
// the last-click campaign, duplicates, ties, user ids joining cookies.
func edgeRows() []exportRow {
	t0 := time.Date(2026, 2, 10, 9, 0, 0, 0, time.UTC)
	at := func(min float64) time.Time { return t0.Add(time.Duration(min * float64(time.Minute))) }
	site := "https://www.example.com"
	pv := func(min float64, pseudo, session, loc, ref string) exportRow {
		p := map[string]string{"page_location": loc, "page_title": "T " + loc}
		if ref != "" {
			p["page_referrer"] = ref
		}
		return exportRow{at: at(min), name: "page_view", pseudo: pseudo, session: session, params: p}
	}
	ss := func(min float64, pseudo, session, loc, ref string) exportRow {
		r := pv(min, pseudo, session, loc, ref)
		r.name = "session_start"
		return r
	}
	var rows []exportRow
	// 1. No session ids: a timeout, then a campaign change within the timeout, then
	// the same campaign again, then a change that is only an explicit medium.
	rows = append(rows,
		pv(0, "a1", "", site+"/?utm_source=news&utm_medium=email&utm_campaign=feb", ""),
		pv(5, "a1", "", site+"/pricing", ""),
		pv(50, "a1", "", site+"/blog?utm_source=news&utm_medium=email&utm_campaign=mar", ""),
		pv(52, "a1", "", site+"/blog?utm_source=linkedin&utm_medium=paid_social&utm_campaign=abm", ""),
		pv(53, "a1", "", site+"/blog?utm_source=linkedin&utm_medium=paid_social&utm_campaign=abm", ""),
		pv(54, "a1", "", site+"/docs", "https://www.google.de/search?q=closed+loop%20attribution&hl=de"),
		exportRow{at: at(55), name: "generate_lead", pseudo: "a1", params: map[string]string{"page_location": site + "/demo"}},
	)
	// 2. Referrers, one session each.
	refs := []string{
		"https://www.google.co.uk/search?q=b2b+attribution",
		"https://www.bing.com/search?q=%22marketing%20roi%22",
		"https://uk.search.yahoo.com/search?p=funnel+tool&q=other",
		"https://duckduckgo.com/?q=cookie+stitching",
		"https://search.brave.com/search?q=",
		"https://mail.google.com/mail/u/0/",
		"https://outlook.live.com/mail/0/inbox",
		"android-app://com.google.android.googlequicksearchbox/",
		"android-app://com.google.android.gm",
		"https://blog.example.com/post",
		"https://example.com/",
		"https://news.ycombinator.com/item?id=1",
		"https://l.facebook.com/l.php?u=x",
		"https://www.baidu.com/s?wd=%E8%90%A5%E9%94%80",
		"http://127.0.0.1:8080/x",
	}
	for i, ref := range refs {
		p := "r" + strconv.Itoa(i)
		rows = append(rows, ss(float64(i), p, "100", site+"/landing", ref), pv(float64(i), p, "100", site+"/landing", ref))
	}
	// 3. Escapes and URLs.
	urls := []string{
		site + "/caf%C3%A9?utm_source=Spring%20Promo&utm_medium=CPC&utm_campaign=a+b&utm_term=x%2By",
		site + "/bad%zzpath?utm_source=x",
		site + "/a?utm_source=%FF&utm_medium=email",
		"https://www.example.com?utm_source=bare&utm_medium=referral",
		"https://WWW.Example.COM:443/Upper/Case?UTM_SOURCE=ignored",
		site + "/p?utm_source=&utm_source=second&utm_medium=social",
		site + "/p?utm_source=(direct)&utm_medium=(none)&fbclid=IwAR1",
		site + "/p?msclkid=m1&utm_term=kw",
		site + "/p?sccid=s1",
		site + "/p?gbraid=g1",
		site + "/p?li_fat_id=l1",
		site + "/p?srsltid=s2",
		site + "/p?utm_source=google&utm_medium=cpc#frag?utm_campaign=no",
		site + "/p?utm_source_platform=Google%20Ads&utm_source=google&utm_medium=cpc",
		"/relative/path?utm_source=rel&utm_medium=email",
		site + "/p?utm_medium=organic",
	}
	for i, u := range urls {
		p := "u" + strconv.Itoa(i)
		rows = append(rows, ss(0, p, "200", u, ""), pv(0, p, "200", u, ""))
	}
	// 4. collected_traffic_source and the last-click campaign on session starts.
	collected := func(m map[string]any) map[string]any { return map[string]any{"collected_traffic_source": m} }
	lastClick := func(m map[string]any) map[string]any { return m }
	rows = append(rows,
		exportRow{at: at(0), name: "session_start", pseudo: "c1", session: "300", params: map[string]string{"page_location": site + "/?gclid=abc"},
			extra: map[string]any{"collected_traffic_source": map[string]any{"gclid": "abc"},
				"session_traffic_source_last_click": lastClick(map[string]any{"google_ads_campaign": map[string]any{"campaign_name": "Brand EU"}})}},
		exportRow{at: at(0), name: "page_view", pseudo: "c1", session: "300", params: map[string]string{"page_location": site + "/?gclid=abc"},
			extra: collected(map[string]any{"gclid": "abc"})},
		exportRow{at: at(1), name: "session_start", pseudo: "c2", session: "301", params: map[string]string{"page_location": site + "/"},
			extra: map[string]any{"collected_traffic_source": map[string]any{"manual_source": "newsletter", "manual_medium": "email"},
				"session_traffic_source_last_click": map[string]any{"manual_campaign": map[string]any{"source": "Newsletter", "medium": "EMAIL",
					"campaign_name": "weekly", "term": "(not set)", "content": "hero"}}}},
		exportRow{at: at(2), name: "session_start", pseudo: "c3", session: "302", params: map[string]string{"page_location": site + "/"},
			extra: collected(map[string]any{"dclid": "d1"})},
		exportRow{at: at(3), name: "page_view", pseudo: "c4", session: "303",
			params: map[string]string{"page_location": site + "/", "source": "partner", "medium": "affiliate", "campaign": "p1"}},
		exportRow{at: at(4), name: "session_start", pseudo: "c5", session: "304", params: map[string]string{"page_location": site + "/"},
			ints: map[string]int64{"entrances": 1},
			extra: map[string]any{"collected_traffic_source": map[string]any{"manual_source": "google", "manual_medium": "cpc"},
				"session_traffic_source_last_click": map[string]any{"cross_channel_campaign": map[string]any{"source": "google", "medium": "cpc", "campaign_name": "pmax"}}}},
	)
	// 5. Identity: one user on two cookies, an e-mail, an event with a user id only,
	// a duplicate row, a session across midnight, a cookieless ping.
	rows = append(rows,
		exportRow{at: at(0), name: "session_start", pseudo: "i1", user: "u-1", session: "400", params: map[string]string{"page_location": site + "/?utm_source=x&utm_medium=email"}},
		exportRow{at: at(0), name: "login", pseudo: "i1", user: "u-1", session: "400", params: map[string]string{"page_location": site + "/app"}},
		exportRow{at: at(60), name: "session_start", pseudo: "i2", user: "u-1", session: "401", params: map[string]string{"page_location": site + "/"}},
		exportRow{at: at(61), name: "generate_lead", pseudo: "i2", session: "401", params: map[string]string{"page_location": site + "/contact", "email": "Ann@Example.com"}},
		exportRow{at: at(61), name: "generate_lead", pseudo: "i2", session: "401", params: map[string]string{"page_location": site + "/contact", "email": "Ann@Example.com"}},
		exportRow{at: at(62), name: "page_view", user: "u-2", session: "402", params: map[string]string{"page_location": site + "/only-user"}},
		exportRow{at: t0.Truncate(24 * time.Hour).Add(24*time.Hour - time.Minute), name: "page_view", pseudo: "m1", session: "500",
			params: map[string]string{"page_location": site + "/late?utm_source=night&utm_medium=email"}},
		exportRow{at: t0.Truncate(24 * time.Hour).Add(24*time.Hour + 2*time.Minute), name: "file_download", pseudo: "m1", session: "500",
			params: map[string]string{"page_location": site + "/early", "file_name": "/a.pdf"}},
		exportRow{at: at(70), name: "page_view", session: "600", params: map[string]string{"page_location": site + "/cookieless"}},
	)
	// 6. A tie: a page view and an event of another campaign at the same µs.
	rows = append(rows,
		exportRow{at: at(80), name: "page_view", pseudo: "t1", session: "700", params: map[string]string{"page_location": site + "/?utm_source=aa&utm_medium=email"}},
		exportRow{at: at(80), name: "scroll", pseudo: "t1", session: "700", params: map[string]string{"page_location": site + "/?utm_source=bb&utm_medium=email"}},
	)
	return rows
}

// TestEdgeParity runs both engines on edgeRows, in two day files.
func TestEdgeParity(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]string{}
	for _, r := range edgeRows() {
		d := r.at.Format("20060102")
		files[d] = append(files[d], r.line())
	}
	for d, lines := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "events_"+d+".ndjson"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	}
	rng := extract.Range{From: day("2026-02-10"), To: day("2026-02-11")}
	parity(t, filepath.Join(dir, "*.ndjson"), "", rng, rng)
}
