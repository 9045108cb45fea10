package transform

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform/persona"
)

// firmographics writes a contact with its CRM fields; size < 0 is no size.
func (f fixture) firmographics(t *testing.T, id, email, cookie string, updated time.Time, title, company, industry string, size int64, country, source string) {
	b := extract.NewBuilder(f.mem, extract.TableContacts, f.c)
	defer b.Release()
	col := func(name string) int { return extract.Col(extract.TableContacts, name) }
	b.Str(col("input"), "test")
	b.Str(col("location"), "contacts:"+id)
	b.Str(col("crm"), "hubspot")
	b.Str(col("contact_id"), id)
	b.Str(col("email"), email)
	b.Str(col("cookie_id"), cookie)
	b.Time(col("created_at"), updated.Add(-time.Hour))
	b.Time(col("updated_at"), updated)
	b.Time(col("lead_at"), updated.Add(-time.Hour))
	b.Str(col("original_source"), source)
	b.Str(col("job_title"), title)
	b.Str(col("company"), company)
	b.Str(col("industry"), industry)
	b.Int(col("company_size"), size, size >= 0)
	b.Str(col("country"), country)
	require.NoError(t, b.End(context.Background()))
	require.NoError(t, b.Flush(context.Background()))
}

// TestPersonas: dim_person carries each person's CRM fields (from their most recently
// updated record that has the field) and the persona of the first matching rule,
// read on CRM fields and on behaviour (pages, downloads, events) of every day read.
func TestPersonas(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	site := "https://www.example.com"
	f.events(t,
		// D reads the docs (a day before the range: behaviour looks at every day read).
		ev{at: at(-1, "9h"), kind: "page_view", name: "page_view", anon: "D", session: "1", url: site + "/docs/start?x=1"},
		ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "W", session: "1", url: site + "/pricing"},
		ev{at: at(0, "10h"), kind: "page_view", name: "page_view", anon: "S", session: "1", url: site + "/careers"},
		ev{at: at(0, "11h"), kind: "page_view", name: "page_view", anon: "X", session: "1", url: site + "/"},
	)
	// W downloads the whitepaper; X's download of another file does not count.
	dl := extract.NewBuilder(mem, extract.TableEvents, c)
	for _, d := range []struct{ anon, name, link string }{
		{"W", "file_download", site + "/assets/security-whitepaper.pdf"},
		{"X", "file_download", site + "/assets/pricing-guide.pdf"},
		{"X", "click", site + "/assets/security-whitepaper.pdf"}, // not a download
	} {
		col := func(name string) int { return extract.Col(extract.TableEvents, name) }
		dl.Str(col("input"), "test")
		dl.Str(col("location"), "test:2")
		dl.Time(col("occurred_at"), at(0, "9h30m"))
		dl.Str(col("kind"), "event")
		dl.Str(col("event_name"), d.name)
		dl.Str(col("anonymous_id"), d.anon)
		dl.Str(col("session_key"), "1")
		dl.Str(col("page_location"), site+"/pricing")
		dl.Bool(col("is_conversion"), false)
		dl.Str(col("link_url"), d.link)
		require.NoError(t, dl.End(context.Background()))
	}
	require.NoError(t, dl.Flush(context.Background()))
	dl.Release()

	// C1: two records of one person (same e-mail): the newer one's title wins, the
	// older one's size fills the gap.
	f.firmographics(t, "1", "cio@bank.com", "", at(1, "9h"), "CIO", "Big Bank", "Financial Services", 5000, "United States", "PAID_SEARCH")
	f.firmographics(t, "2", "cio@bank.com", "", at(2, "9h"), "Chief Information Officer", "", "", -1, "", "")
	f.firmographics(t, "3", "dev@acme.io", "D", at(1, "9h"), "", "Acme", "Software", 40, "Germany", "ORGANIC_SEARCH")
	f.firmographics(t, "4", "w@corp.com", "W", at(1, "9h"), "Marketing Manager", "Corp", "Retail", 1000, "France", "")
	f.firmographics(t, "5", "kid@gmail.com", "S", at(1, "9h"), "", "", "", -1, "", "SOCIAL_MEDIA")
	f.firmographics(t, "6", "x@corp.com", "X", at(1, "9h"), "Analyst", "Corp", "Retail", 1000, "", "")

	rules, err := persona.Parse(strings.NewReader(`
persona: Enterprise IT buyer
  job_title: ~\b(cio|chief information officer)\b
  company_size: >= 500
persona: Enterprise IT buyer
  company_size: >= 500
  downloaded: ~security-whitepaper
persona: Developer
  page: ~^/docs/
  email_domain: !gmail.com
persona: Student
  page: /careers
`), "rules")
	require.NoError(t, err)
	out := build(t, mem, c, day0, day0.AddDate(0, 0, 5), func(o *Options) { o.Personas = rules })
	defer out.Release()
	byEmail := map[string]map[string]any{}
	persons := rows(out.Tables[load.DimPerson])
	idOf := map[string]string{}
	for _, r := range rows(out.Tables[load.BridgeIdentity]) {
		if r["identifier_type"] == "email" {
			idOf[r["person_id"].(string)] = r["identifier"].(string)
		}
	}
	for _, r := range persons {
		byEmail[idOf[r["person_id"].(string)]] = r
	}
	require.Len(t, persons, 5)
	cio := byEmail["cio@bank.com"]
	require.Equal(t, "Chief Information Officer", cio["job_title"])
	require.Equal(t, "Big Bank", cio["company"])
	require.Equal(t, "Financial Services", cio["industry"])
	require.Equal(t, int64(5000), cio["company_size"])
	require.Equal(t, "United States", cio["country"])
	require.Equal(t, "PAID_SEARCH", cio["original_source"])
	require.Equal(t, "Enterprise IT buyer", cio["persona"])
	require.Equal(t, "Developer", byEmail["dev@acme.io"]["persona"])
	require.Equal(t, "Enterprise IT buyer", byEmail["w@corp.com"]["persona"], "downloaded the whitepaper at a 1000-person company")
	require.Equal(t, "Student", byEmail["kid@gmail.com"]["persona"])
	require.Nil(t, byEmail["kid@gmail.com"]["company_size"])
	require.Equal(t, persona.Unclassified, byEmail["x@corp.com"]["persona"], "another file, and a click is no download")

	// Without rules everyone is Unclassified, and the CRM fields are still there.
	plain := build(t, mem, c, day0, day0.AddDate(0, 0, 5))
	defer plain.Release()
	for _, r := range rows(plain.Tables[load.DimPerson]) {
		require.Equal(t, persona.Unclassified, r["persona"])
	}
}
