package transform

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"closedloop/extract"
	"closedloop/transform/persona"
)

// benchEvents writes n GA4-like events: cookies with sessions of page views and
// other events, landing pages carrying UTMs, click ids or referrers.
func benchEvents(b *testing.B, mem memory.Allocator, n int) *extract.Collector {
	c := extract.NewCollector(mem)
	bl := extract.NewBuilder(mem, extract.TableEvents, c)
	defer bl.Release()
	rng := rand.New(rand.NewPCG(1, 2))
	site := "https://www.example.com"
	landings := []struct{ url, ref string }{
		{site + "/?utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=closedloop", ""},
		{site + "/pricing?gclid=Cj0KCQ", ""},
		{site + "/blog/attribution", "https://www.google.com/"},
		{site + "/blog/funnels", "https://www.bing.com/search?q=funnel+analysis"},
		{site + "/?utm_source=facebook&utm_medium=paid_social&utm_campaign=retarget", "https://l.facebook.com/"},
		{site + "/customers", "https://www.linkedin.com/"},
		{site + "/", ""},
		{site + "/features?utm_source=newsletter&utm_medium=email&utm_campaign=feb", ""},
		{site + "/compare", "https://www.g2.com/products/x"},
	}
	pages := []string{"/pricing", "/features", "/customers", "/docs", "/demo", "/blog/a", "/about"}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()
	for i, cookie := 0, 0; i < n; cookie++ {
		anon := fmt.Sprintf("%d.%d", 1000000+cookie, 1700000000+cookie)
		at := start.Add(time.Duration(rng.IntN(60*24)) * time.Hour)
		for s := 0; s < 1+rng.IntN(3) && i < n; s++ {
			at = at.Add(time.Duration(1+rng.IntN(72)) * time.Hour)
			sid := fmt.Sprint(at.Unix())
			land := landings[rng.IntN(len(landings))]
			for e := 0; e < 2+rng.IntN(8) && i < n; e, i = e+1, i+1 {
				kind, name, url, ref := extract.KindPageView, "page_view", site+pages[rng.IntN(len(pages))], site+"/"
				switch {
				case e == 0:
					kind, name, url, ref = extract.KindEvent, "session_start", land.url, land.ref
				case e == 1:
					url, ref = land.url, land.ref
				case rng.IntN(4) == 0:
					kind, name = extract.KindEvent, "scroll"
				}
				bl.Str(0, "ga4:bench")
				bl.Str(1, "bench:1")
				bl.Time(2, at.Add(time.Duration(e)*time.Minute))
				bl.Str(3, kind)
				bl.Str(4, name)
				bl.Str(5, anon)
				bl.Str(6, "")
				bl.Str(7, "")
				bl.Str(8, sid)
				bl.Str(9, url)
				bl.Str(10, "")
				bl.Str(11, ref)
				for f := 12; f <= 18; f++ {
					bl.Str(f, "")
				}
				bl.Bool(19, false)
				bl.Float(20, 0, false)
				bl.Str(21, "")
				if err := bl.End(ctx); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	if err := bl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	return c
}

// BenchmarkNormalize measures the whole normalization of analytics events: identity
// lookups, sessionization, traffic classification and channel grouping, writing
// fct_touchpoint and fct_page_view (go test ./transform -bench Normalize -run '^$').
func BenchmarkNormalize(b *testing.B) {
	const n = 1_000_000
	mem := memory.NewGoAllocator()
	c := benchEvents(b, mem, n)
	defer c.Release()
	ev := c.Table(extract.TableEvents)
	defer ev.Release()
	empty := func(name string) arrow.Table { return c.Table(name) }
	in := Inputs{Events: ev, Contacts: empty(extract.TableContacts), Deals: empty(extract.TableDeals),
		DealContacts: empty(extract.TableDealContacts), Spend: empty(extract.TableSpend)}
	defer func() {
		for _, t := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend} {
			t.Release()
		}
	}()
	opt := Options{Mem: mem, Range: extract.Range{From: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		To: time.Date(2026, 4, 30, 0, 0, 0, 0, time.UTC)}, Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, Currency: "USD"}
	// "personas" adds the sample's persona rules, which read every person's pages and
	// downloads.
	rules, err := persona.Load("../testdata/sample/personas.txt")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name  string
		rules *persona.Rules
	}{{"plain", nil}, {"personas", rules}} {
		b.Run(bc.name, func(b *testing.B) {
			opt.Personas = bc.rules
			b.ReportAllocs()
			var touchpoints int
			for b.Loop() {
				out, err := Build(context.Background(), in, opt)
				if err != nil {
					b.Fatal(err)
				}
				touchpoints = out.Stats.Touchpoints
				out.Release()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(touchpoints), "touchpoints")
		})
	}
}
