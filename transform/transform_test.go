package transform

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform/attribution"
)

var day0 = time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)

func at(days int, hm string) time.Time {
	d, _ := time.ParseDuration(hm)
	return day0.AddDate(0, 0, days).Add(d)
}

type ev struct {
	at                         time.Time
	kind, name, anon, user     string
	session, url, ref, channel string
	conv                       bool
	value                      float64
	record                     string // crm_record
	source                     string // utm_source
}

type fixture struct {
	c   *extract.Collector
	mem memory.Allocator
}

func (f fixture) events(t *testing.T, evs ...ev) {
	b := extract.NewBuilder(f.mem, extract.TableEvents, f.c)
	defer b.Release()
	for _, e := range evs {
		b.Str(0, "test")
		b.Str(1, "test:1")
		b.Time(2, e.at)
		b.Str(3, e.kind)
		b.Str(4, e.name)
		b.Str(5, e.anon)
		b.Str(6, e.user)
		b.Str(7, "")
		b.Str(8, e.session)
		b.Str(9, e.url)
		b.Str(10, "")
		b.Str(11, e.ref)
		b.Str(12, e.source)
		for i := 13; i <= 17; i++ { // utm_*, gclid
			b.Str(i, "")
		}
		b.Str(18, e.channel)
		b.Bool(19, e.conv)
		b.Float(20, e.value, e.conv)
		b.Str(21, "")
		b.Str(extract.Col(extract.TableEvents, "crm_record"), e.record)
		require.NoError(t, b.End(context.Background()))
	}
	require.NoError(t, b.Flush(context.Background()))
}

func (f fixture) contact(t *testing.T, id, email, cookie string, created time.Time, stages ...time.Time) {
	f.linkedContact(t, id, email, cookie, "", created, stages...)
}

// linkedContact writes a contact with linked_ids.
func (f fixture) linkedContact(t *testing.T, id, email, cookie, linked string, created time.Time, stages ...time.Time) {
	b := extract.NewBuilder(f.mem, extract.TableContacts, f.c)
	defer b.Release()
	b.Str(0, "test")
	b.Str(1, "contacts:1")
	b.Str(2, "hubspot")
	b.Str(3, id)
	b.Str(4, email)
	b.Str(5, cookie)
	b.Time(6, created)
	b.Time(7, created)
	b.Str(8, "")
	for i := 0; i < 5; i++ {
		var s time.Time
		if i < len(stages) {
			s = stages[i]
		}
		b.Time(9+i, s)
	}
	b.Str(14, "")
	b.Str(15, "")
	b.Str(16, "")
	b.Str(17, linked)
	require.NoError(t, b.End(context.Background()))
	require.NoError(t, b.Flush(context.Background()))
}

func (f fixture) deal(t *testing.T, id, contact string, amount float64, created, closed time.Time, won bool) {
	b := extract.NewBuilder(f.mem, extract.TableDeals, f.c)
	defer b.Release()
	b.Str(0, "test")
	b.Str(1, "deals:1")
	b.Str(2, "hubspot")
	b.Str(3, id)
	b.Str(4, "")
	b.Str(5, "default")
	b.Str(6, "closedwon")
	b.Float(7, amount, true)
	b.Str(8, "EUR")
	b.Time(9, created)
	b.Time(10, closed)
	b.Bool(11, true)
	b.Bool(12, won)
	require.NoError(t, b.End(context.Background()))
	require.NoError(t, b.Flush(context.Background()))
	f.dealContact(t, id, contact)
}

func build(t *testing.T, mem memory.Allocator, c *extract.Collector, from, to time.Time, opts ...func(*Options)) *Output {
	in := Inputs{Events: c.Table(extract.TableEvents), Contacts: c.Table(extract.TableContacts),
		Deals: c.Table(extract.TableDeals), DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend)}
	defer func() {
		for _, tb := range []arrow.Table{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend} {
			tb.Release()
		}
	}()
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	opt := Options{Mem: mem, Range: extract.Range{From: from, To: to},
		Lookback: 30 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, Models: models, Currency: "USD"}
	for _, o := range opts {
		o(&opt)
	}
	out, err := Build(context.Background(), in, opt)
	require.NoError(t, err)
	return out
}

// rows reads a table into maps keyed by column name (test-sized tables only).
func rows(t arrow.Table) []map[string]any {
	var out []map[string]any
	tr := array.NewTableReader(t, 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			m := map[string]any{}
			for c, f := range rec.Schema().Fields() {
				col := rec.Column(c)
				if col.IsNull(i) {
					m[f.Name] = nil
					continue
				}
				switch a := col.(type) {
				case *array.String:
					m[f.Name] = a.Value(i)
				case *array.Float64:
					m[f.Name] = a.Value(i)
				case *array.Int64:
					m[f.Name] = a.Value(i)
				case *array.Boolean:
					m[f.Name] = a.Value(i)
				case *array.Timestamp:
					m[f.Name] = time.UnixMicro(int64(a.Value(i))).UTC()
				case *array.Date32:
					m[f.Name] = a.Value(i).ToTime()
				}
			}
			out = append(out, m)
		}
	}
	return out
}

func TestBuildJourneys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	site := "https://www.example.com"
	f.events(t,
		// laptop: organic search visit (GA4 session 1), then a paid search click (session 2)
		ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "L", session: "1", url: site + "/blog/a", ref: "https://www.google.com/"},
		ev{at: at(0, "9h5m"), kind: "page_view", name: "page_view", anon: "L", session: "1", url: site + "/pricing", ref: site + "/blog/a"},
		ev{at: at(2, "10h"), kind: "page_view", name: "page_view", anon: "L", session: "2", url: site + "/demo?gclid=abc&utm_term=crm", ref: ""},
		// phone of the same person (logged in): a direct visit
		ev{at: at(3, "20h"), kind: "page_view", name: "page_view", anon: "P", user: "u1", session: "7", url: site + "/", ref: ""},
		ev{at: at(1, "8h"), kind: "event", name: "login", anon: "L", user: "u1", session: "9", url: site + "/app", ref: ""},
		// a stranger who never converts
		ev{at: at(1, "12h"), kind: "page_view", name: "page_view", anon: "S", session: "3", url: site + "/?utm_source=facebook&utm_medium=paid_social&utm_campaign=fb1", ref: ""},
		// a touch-log cookie: touch, then a conversion that is also a touch
		ev{at: at(4, "1h"), kind: "touch", name: "impression", anon: "T", channel: "Instagram"},
		ev{at: at(5, "1h"), kind: "touch", name: "conversion", anon: "T", channel: "Facebook", conv: true, value: 8.5},
	)
	// Ann: lead on day 2 (10h30, after the paid click), customer with a won deal on day 6.
	f.contact(t, "101", "Ann@Example.com", "L", at(2, "10h30m"), at(2, "10h30m"), at(3, "0h"))
	f.deal(t, "9001", "101", 1200, at(4, "0h"), at(6, "0h"), true)
	// Zed: a lead whose cookie we never saw: no touch -> (none)
	f.contact(t, "102", "zed@example.com", "", at(3, "0h"))

	out := build(t, mem, c, day0, day0.AddDate(0, 0, 9))
	defer out.Release()

	tps := rows(out.Tables[load.FctTouchpoint])
	chans := map[string]string{}
	for _, tp := range tps {
		chans[tp["anonymous_id"].(string)+"@"+tp["occurred_at"].(time.Time).Format("02T15:04")] = tp["channel"].(string)
	}
	require.Equal(t, map[string]string{
		"L@10T09:00": "Organic Search", // internal referrer of the 2nd page view does not split the session
		"L@11T08:00": "Direct",
		"L@12T10:00": "Paid Search", // gclid => google / cpc
		"P@13T20:00": "Direct",
		"S@11T12:00": "Paid Social",
		"T@14T01:00": "Instagram", // touch logs keep their own channel names
		"T@15T01:00": "Facebook",
	}, chans)
	require.Equal(t, 7, out.Stats.Touchpoints)
	require.Equal(t, 5, len(rows(out.Tables[load.FctPageView])), "L: 3, P: 1, S: 1")

	// Persons: Ann (laptop, phone, user id, e-mail, contact, deal), the stranger, T, Zed.
	persons := rows(out.Tables[load.DimPerson])
	require.Len(t, persons, 4)
	var ann map[string]any
	for _, p := range persons {
		if p["crm_contact_id"] == "101" {
			ann = p
		}
	}
	require.NotNil(t, ann)
	require.Equal(t, int64(2), ann["anonymous_id_count"])
	require.Equal(t, int64(1), ann["email_count"])
	require.Equal(t, "customer", ann["lifecycle_stage"])
	require.Equal(t, true, ann["is_customer"])

	convs := rows(out.Tables[load.FctConversion])
	types := map[string]int{}
	for _, cv := range convs {
		types[cv["conversion_type"].(string)]++
		if cv["conversion_type"] == "customer" {
			require.Equal(t, 1200.0, cv["revenue"])
			require.Equal(t, "EUR", cv["currency"])
			require.Equal(t, "9001", cv["crm_deal_id"])
			require.Equal(t, ann["person_id"], cv["person_id"])
		}
	}
	require.Equal(t, map[string]int{"lead": 2, "mql": 1, "opportunity": 1, "customer": 1, "conversion": 1}, types)

	// Attribution: per (conversion, model) credits sum to 1 and revenue credits to revenue.
	attr := rows(out.Tables[load.FctAttribution])
	sum, rev := map[string]float64{}, map[string]float64{}
	byModel := map[string][]string{} // model|type -> channels credited
	for _, a := range attr {
		k := a["conversion_id"].(string) + "|" + a["model"].(string)
		sum[k] += a["credit"].(float64)
		if a["revenue_credit"] != nil {
			rev[k] += a["revenue_credit"].(float64)
		}
		byModel[a["model"].(string)+"|"+a["conversion_type"].(string)] = append(byModel[a["model"].(string)+"|"+a["conversion_type"].(string)], a["channel"].(string))
	}
	require.Len(t, sum, 6*len(attribution.Names()))
	for k, s := range sum {
		require.InDelta(t, 1, s, 1e-9, k)
	}
	for _, cv := range convs {
		if cv["revenue"] != nil {
			for _, m := range attribution.Names() {
				require.InDelta(t, cv["revenue"].(float64), rev[cv["conversion_id"].(string)+"|"+m], 1e-9)
			}
		}
	}
	// Ann's customer journey: organic, direct (login), paid click, direct (phone).
	require.Equal(t, []string{"Organic Search"}, byModel["first_touch|customer"])
	require.Equal(t, []string{"Direct"}, byModel["last_touch|customer"])
	require.ElementsMatch(t, []string{"Organic Search", "Direct", "Paid Search", "Direct"}, byModel["linear|customer"])
	// Milestone models on her customer journey: the lead was created after the paid
	// click (touch 3), the deal on day 4 after the phone visit (touch 4), which is also
	// the last touch before closed-won.
	byTime := func(model string) []float64 {
		type c struct {
			at time.Time
			v  float64
		}
		var cs []c
		for _, a := range attr {
			if a["conversion_type"] == "customer" && a["model"] == model {
				cs = append(cs, c{a["touch_occurred_at"].(time.Time), a["credit"].(float64)})
			}
		}
		slices.SortFunc(cs, func(x, y c) int { return x.at.Compare(y.at) })
		var out []float64
		for _, x := range cs {
			out = append(out, x.v)
		}
		return out
	}
	require.InDeltaSlice(t, []float64{0.3, 0.1, 0.3, 0.3}, byTime("w_shaped"), 1e-12)
	require.InDeltaSlice(t, []float64{0.225, 0.1, 0.225, 0.45}, byTime("full_path"), 1e-12)
	require.InDeltaSlice(t, []float64{0.4, 0.1, 0.1, 0.4}, byTime("position_based"), 1e-12)
	require.Equal(t, []string{"Paid Search"}, byModel["last_non_direct|customer"], "the last touch that is not Direct")

	// Her lead journey stops at the form (the phone visit came later); Zed's has no touch.
	require.ElementsMatch(t, []string{"Paid Search", "(none)"}, byModel["last_touch|lead"])
	// The touch-log conversion's own row is a touch at its own time: it counts.
	require.Equal(t, []string{"Facebook"}, byModel["last_touch|conversion"])
	require.Equal(t, 1, out.Stats.ConversionsWithoutTouch)
	for _, a := range attr {
		if a["channel"] == "(none)" {
			require.Nil(t, a["touchpoint_id"])
			require.Nil(t, a["touch_occurred_at"])
		}
	}
}

func TestBuildRangeAndLookback(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.events(t,
		ev{at: at(-40, "1h"), kind: "touch", name: "impression", anon: "A", channel: "Old"}, // beyond the 30-day lookback
		ev{at: at(-5, "1h"), kind: "touch", name: "impression", anon: "A", channel: "Before"},
		ev{at: at(1, "1h"), kind: "touch", name: "conversion", anon: "A", channel: "Same", conv: true, value: 2},
		ev{at: at(3, "1h"), kind: "touch", name: "impression", anon: "A", channel: "Between"},
		ev{at: at(4, "1h"), kind: "touch", name: "conversion", anon: "A", channel: "Again", conv: true, value: 3},
		ev{at: at(20, "1h"), kind: "touch", name: "conversion", anon: "B", channel: "Later", conv: true}, // after the range
	)
	out := build(t, mem, c, day0, day0.AddDate(0, 0, 9))
	defer out.Release()

	require.Equal(t, 3, out.Stats.Touchpoints, "only the range's touches are written")
	require.Equal(t, 2, out.Stats.Conversions)
	got := map[string][]string{}
	for _, a := range rows(out.Tables[load.FctAttribution]) {
		if a["model"] == "linear" {
			k := a["occurred_at"].(time.Time).Format("02")
			got[k] = append(got[k], a["channel"].(string))
			require.False(t, math.IsNaN(a["credit"].(float64)))
		}
	}
	// The second conversion's journey starts after the first conversion.
	require.Equal(t, map[string][]string{"11": {"Before", "Same"}, "14": {"Between", "Again"}}, got)
}

// TestMicroConversionsAndRestart: configured event names are conversions of their own
// type; a repeated conversion's journey starts after the previous one unless
// OverlapJourneys; the markov table covers every conversion type with touches.
func TestMicroConversionsAndRestart(t *testing.T) {
	for _, overlap := range []bool{false, true} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		c := extract.NewCollector(mem)
		f := fixture{c, mem}
		site := "https://www.example.com"
		f.events(t,
			ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "A", session: "1", url: site + "/?utm_source=google&utm_medium=cpc", ref: ""},
			ev{at: at(0, "9h1m"), kind: "event", name: "generate_lead", anon: "A", session: "1", url: site + "/demo"},
			ev{at: at(1, "9h"), kind: "page_view", name: "page_view", anon: "A", session: "2", url: site + "/", ref: "https://www.bing.com/"},
			ev{at: at(1, "9h1m"), kind: "event", name: "generate_lead", anon: "A", session: "2", url: site + "/demo"},
			ev{at: at(2, "9h"), kind: "page_view", name: "page_view", anon: "B", session: "3", url: site + "/", ref: ""},
		)
		out := build(t, mem, c, day0, day0.AddDate(0, 0, 5), func(o *Options) {
			o.MicroConversions = []string{"generate_lead"}
			o.OverlapJourneys = overlap
		})
		convs := rows(out.Tables[load.FctConversion])
		require.Len(t, convs, 2)
		for _, cv := range convs {
			require.Equal(t, "generate_lead", cv["conversion_type"])
		}
		var second []string
		for _, a := range rows(out.Tables[load.FctAttribution]) {
			if a["model"] == "linear" && a["occurred_at"].(time.Time).Equal(at(1, "9h1m")) {
				second = append(second, a["channel"].(string))
			}
		}
		if overlap {
			require.ElementsMatch(t, []string{"Paid Search", "Organic Search"}, second)
		} else {
			require.Equal(t, []string{"Organic Search"}, second, "starts after the first conversion")
		}
		re := rows(out.Tables[load.FctMarkovRemovalEffect])
		require.NotEmpty(t, re)
		for _, r := range re {
			require.Equal(t, "generate_lead", r["conversion_type"])
			require.Equal(t, int64(1), r["markov_order"])
		}
		out.Release()
		c.Release()
		mem.AssertSize(t, 0)
	}
}

// TestIdentityOptions: CRM links merge contacts, e-mails can be stored hashed, and a
// shared cookie's refused edge lands in identity_conflicts.
func TestIdentityOptions(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.events(t,
		ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "kiosk", user: "alice", session: "1", url: "https://x.io/"},
		ev{at: at(1, "9h"), kind: "page_view", name: "page_view", anon: "kiosk", user: "bob", session: "2", url: "https://x.io/"},
	)
	f.linkedContact(t, "101", "Ann@X.com", "", "hubspot_contact:100;email:ann.private@y.com", at(2, "0h"))
	f.contact(t, "100", "ann.old@x.com", "", at(1, "0h"))
	out := build(t, mem, c, day0, day0.AddDate(0, 0, 5), func(o *Options) { o.Identity.HashEmails = true })
	defer out.Release()

	bridge := rows(out.Tables[load.BridgeIdentity])
	person := map[string]string{}
	for _, r := range bridge {
		person[r["identifier_type"].(string)+":"+r["identifier"].(string)] = r["person_id"].(string)
		if r["identifier_type"] == "email" {
			require.Len(t, r["identifier"], 64, "hashed: %v", r["identifier"])
			require.NotContains(t, r["identifier"], "@")
		}
	}
	require.Equal(t, person["hubspot_contact:101"], person["hubspot_contact:100"], "merged contacts are one person")
	require.Equal(t, person["user_id:alice"], person["anonymous_id:kiosk"])
	require.NotEqual(t, person["user_id:alice"], person["user_id:bob"], "a shared cookie does not merge two users")
	conflicts := rows(out.Tables[load.IdentityConflicts])
	require.Len(t, conflicts, 1)
	require.Contains(t, conflicts[0]["reason"], "over the limit of 1")
	require.Equal(t, 1, out.Stats.IdentityConflicts)
}

// TestTouchEventsAndSessions: configured interactions become touchpoints of their own
// with their session's traffic; without session ids a new campaign opens a new
// session unless KeepSessionOnCampaignChange; EventRows adds up to Events.
func TestTouchEventsAndSessions(t *testing.T) {
	site := "https://www.example.com"
	for _, keep := range []bool{false, true} {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		c := extract.NewCollector(mem)
		f := fixture{c, mem}
		f.events(t,
			// GA4-style session: the interaction is written after the session, with
			// the traffic of the session's first event with campaign information.
			ev{at: at(0, "9h"), kind: "event", name: "session_start", anon: "A", session: "1", url: site + "/"},
			ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "A", session: "1", url: site + "/?utm_source=newsletter&utm_medium=email&utm_campaign=jan"},
			ev{at: at(0, "9h3m"), kind: "event", name: "file_download", anon: "A", session: "1", url: site + "/whitepaper"},
			ev{at: at(0, "9h4m"), kind: "event", name: "file_download", anon: "A", session: "1", url: site + "/whitepaper"},
			ev{at: at(0, "9h5m"), kind: "event", name: "scroll", anon: "A", session: "1", url: site + "/whitepaper"},
			// no session ids: a Segment-style device; a paid click 5 minutes after an
			// organic visit is a new session unless kept.
			ev{at: at(1, "10h"), kind: "page_view", name: "page_view", anon: "B", url: site + "/", ref: "https://www.bing.com/"},
			ev{at: at(1, "10h5m"), kind: "page_view", name: "page_view", anon: "B", url: site + "/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand"},
			ev{at: at(1, "10h6m"), kind: "event", name: "form_submit", anon: "B", url: site + "/pricing"},
			ev{at: at(1, "10h7m"), kind: "identify", name: "identify", anon: "B", user: "u-b"},
			ev{at: at(1, "11h"), kind: "touch", name: "webinar", anon: "B", channel: "Events"},
		)
		out := build(t, mem, c, day0, day0.AddDate(0, 0, 5), func(o *Options) {
			o.TouchEvents = []string{"file_download", "form_submit"}
			o.KeepSessionOnCampaignChange = keep
		})
		type tp struct{ event, channel, campaign, landing string }
		var got []tp
		for _, r := range rows(out.Tables[load.FctTouchpoint]) {
			got = append(got, tp{str(r["event_name"]), r["channel"].(string), str(r["campaign"]), str(r["landing_page"])})
		}
		want := []tp{
			{"session_start", "Email", "jan", "/"},
			{"file_download", "Email", "jan", "/whitepaper"},
			{"file_download", "Email", "jan", "/whitepaper"},
			{"session_start", "Organic Search", "", "/"},
			{"session_start", "Paid Search", "brand", "/pricing"},
			{"form_submit", "Paid Search", "brand", "/pricing"},
			{"webinar", "Events", "", ""},
		}
		if keep { // one session for B: its first campaign information (bing) wins
			want = []tp{want[0], want[1], want[2], want[3], {"form_submit", "Organic Search", "", "/pricing"}, want[6]}
		}
		require.ElementsMatch(t, want, got)
		ids := map[string]bool{}
		for _, r := range rows(out.Tables[load.FctTouchpoint]) {
			ids[r["touchpoint_id"].(string)] = true
		}
		require.Len(t, ids, len(want), "touchpoint ids are distinct, also for identical interactions")

		st := out.Stats
		require.Equal(t, EventRows{PageViews: 3, Touches: 1, Interactions: 3, Other: 2, Identify: 1}, st.EventRows)
		r := st.EventRows
		require.Equal(t, st.Events, r.PageViews+r.Touches+r.Interactions+r.Other+r.Identify+r.Unlinked)
		require.Equal(t, 3, st.PageViews)
		out.Release()
		c.Release()
		mem.AssertSize(t, 0)
	}
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return v.(string)
}

// TestCRMActivities: a selling activity carries only its CRM record; it joins the
// contact's person, whose cookie saw the site, and is a touch of its own channel.
func TestCRMActivities(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	site := "https://www.example.com"
	f.events(t,
		ev{at: at(0, "9h"), kind: "page_view", name: "page_view", anon: "K", session: "1", url: site + "/pricing", ref: "https://www.google.com/"},
		ev{at: at(2, "15h"), kind: "touch", name: "call", channel: "Sales: Call", record: "hubspot_contact:501", source: "EMEA Account Executives"},
		ev{at: at(3, "15h"), kind: "touch", name: "meeting", channel: "Sales: Meeting", record: "hubspot_contact:777"},
	)
	f.contact(t, "501", "ann@example.com", "K", at(1, "10h"), at(1, "10h"), at(2, "16h"))
	// Selling activities are credited only when AttributeSalesTouches is on.
	for _, on := range []bool{false, true} {
		out := build(t, mem, c, day0, day0.AddDate(0, 0, 5), func(o *Options) { o.AttributeSalesTouches = on })
		var credited []string
		for _, r := range rows(out.Tables[load.FctAttribution]) {
			if r["model"] == "linear" && r["conversion_type"] == "mql" {
				credited = append(credited, r["channel"].(string))
			}
		}
		if on {
			require.ElementsMatch(t, []string{"Organic Search", "Sales: Call"}, credited)
		} else {
			require.Equal(t, []string{"Organic Search"}, credited)
		}
		out.Release()
	}
	out := build(t, mem, c, day0, day0.AddDate(0, 0, 5))
	defer out.Release()
	person := map[string]string{}
	for _, r := range rows(out.Tables[load.FctTouchpoint]) {
		person[r["channel"].(string)] = r["person_id"].(string)
		if r["channel"] == "Sales: Call" {
			require.Equal(t, "EMEA Account Executives", r["source"], "the owner team as the CRM names it")
		}
	}
	require.Len(t, person, 3)
	require.Equal(t, person["Organic Search"], person["Sales: Call"], "the call is the contact's, whose cookie K visited")
	require.NotEqual(t, person["Sales: Call"], person["Sales: Meeting"], "contact 777 is someone else")
	require.Equal(t, 3, out.Stats.EventRows.PageViews+out.Stats.EventRows.Touches)
}

// TestDealStages: a deal's stage entries become stays with their durations, the
// deal's outcome and person; the last stay is current.
func TestDealStages(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.contact(t, "501", "ann@example.com", "", at(0, "9h"), at(0, "9h"))
	f.deal(t, "d1", "501", 1000, at(1, "9h"), at(4, "9h"), true)
	b := extract.NewBuilder(mem, extract.TableDealStages, c)
	for _, s := range []struct {
		deal, stage string
		at          time.Time
	}{{"d1", "Negotiation", at(3, "9h")}, {"d1", "Discovery", at(1, "9h")}, {"d1", "Closed Won", at(4, "9h")}, {"d9", "Discovery", at(2, "0h")}} {
		b.Str(0, "test")
		b.Str(1, "stages:1")
		b.Str(2, "hubspot")
		b.Str(3, s.deal)
		b.Str(5, s.stage)
		b.Time(6, s.at)
		require.NoError(t, b.End(context.Background()))
	}
	require.NoError(t, b.Flush(context.Background()))
	b.Release()
	in := Inputs{DealStages: c.Table(extract.TableDealStages)}
	defer in.DealStages.Release()
	models, err := attribution.Lookup([]string{"linear"}, attribution.DefaultParams)
	require.NoError(t, err)
	in.Events, in.Contacts, in.Deals = c.Table(extract.TableEvents), c.Table(extract.TableContacts), c.Table(extract.TableDeals)
	in.DealContacts, in.Spend = c.Table(extract.TableDealContacts), c.Table(extract.TableSpend)
	defer func() {
		for _, tb := range []arrow.Table{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend} {
			tb.Release()
		}
	}()
	out, err := Build(context.Background(), in, Options{Mem: mem, Range: extract.Range{From: day0, To: day0.AddDate(0, 0, 5)},
		Lookback: 30 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, Models: models, Currency: "USD"})
	require.NoError(t, err)
	defer out.Release()
	type stay struct {
		deal, stage string
		number      int64
		days        any
		current     bool
		won         bool
		hasPerson   bool
	}
	var got []stay
	for _, r := range rows(out.Tables[load.FctDealStage]) {
		got = append(got, stay{r["deal_id"].(string), r["stage"].(string), r["stage_number"].(int64), r["days_in_stage"],
			r["is_current"].(bool), r["deal_is_won"].(bool), r["person_id"] != nil})
	}
	require.Equal(t, []stay{
		{"d1", "Discovery", 1, 2.0, false, true, true},
		{"d1", "Negotiation", 2, 1.0, false, true, true},
		{"d1", "Closed Won", 3, nil, true, true, true},
		{"d9", "Discovery", 1, nil, true, false, false}, // a deal the run did not read
	}, got)
}
