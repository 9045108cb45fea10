package transform

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform/attribution"
	"closedloop/transform/normalize"
)

// account writes a CRM account.
func (f fixture) account(t *testing.T, id, name, domain string) {
	b := extract.NewBuilder(f.mem, extract.TableAccounts, f.c)
	defer b.Release()
	col := func(name string) int { return extract.Col(extract.TableAccounts, name) }
	b.Str(col("input"), "test")
	b.Str(col("location"), "companies:1")
	b.Str(col("crm"), "hubspot")
	b.Str(col("account_id"), id)
	b.Str(col("name"), name)
	b.Str(col("domain"), domain)
	require.NoError(t, b.End(context.Background()))
	require.NoError(t, b.Flush(context.Background()))
}

// accountContact writes a HubSpot contact of an account ("" for none) with company.
func (f fixture) accountContact(t *testing.T, id, email, cookie, account, company string, created time.Time) {
	b := extract.NewBuilder(f.mem, extract.TableContacts, f.c)
	defer b.Release()
	col := func(name string) int { return extract.Col(extract.TableContacts, name) }
	b.Str(col("input"), "test")
	b.Str(col("location"), "contacts:1")
	b.Str(col("crm"), "hubspot")
	b.Str(col("contact_id"), id)
	b.Str(col("email"), email)
	b.Str(col("cookie_id"), cookie)
	b.Time(col("created_at"), created)
	b.Time(col("updated_at"), created)
	b.Str(col("company"), company)
	b.Str(col("account_id"), account)
	require.NoError(t, b.End(context.Background()))
	require.NoError(t, b.Flush(context.Background()))
}

// accountDeal writes a won HubSpot deal of an account with its contacts.
func (f fixture) accountDeal(t *testing.T, id, account string, amount float64, created, closed time.Time, contacts ...string) {
	b := extract.NewBuilder(f.mem, extract.TableDeals, f.c)
	defer b.Release()
	col := func(name string) int { return extract.Col(extract.TableDeals, name) }
	b.Str(col("input"), "test")
	b.Str(col("location"), "deals:1")
	b.Str(col("crm"), "hubspot")
	b.Str(col("deal_id"), id)
	b.Str(col("pipeline"), "default")
	b.Str(col("stage"), "closedwon")
	b.Float(col("amount"), amount, true)
	b.Str(col("currency"), "EUR")
	b.Time(col("created_at"), created)
	b.Time(col("closed_at"), closed)
	b.Bool(col("is_closed"), true)
	b.Bool(col("is_won"), true)
	b.Str(col("account_id"), account)
	require.NoError(t, b.End(context.Background()))
	require.NoError(t, b.Flush(context.Background()))
	for _, c := range contacts {
		f.dealContact(t, id, c)
	}
}

// buildAll builds c's tables, accounts included, with every model and scope (opts
// may change that).
func buildAll(t *testing.T, mem memory.Allocator, c *extract.Collector, opts ...func(*Options)) *Output {
	in := Inputs{Events: c.Table(extract.TableEvents), Contacts: c.Table(extract.TableContacts),
		Deals: c.Table(extract.TableDeals), DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend),
		Accounts: c.Table(extract.TableAccounts)}
	defer func() {
		for _, tb := range []arrow.Table{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend, in.Accounts} {
			tb.Release()
		}
	}()
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	opt := Options{Mem: mem, Range: extract.Range{From: day0, To: day0.AddDate(0, 0, 20)},
		Lookback: 30 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, Models: models, Currency: "USD", Scopes: ScopeNames()}
	for _, o := range opts {
		o(&opt)
	}
	out, err := Build(context.Background(), in, opt)
	require.NoError(t, err)
	return out
}

// committee writes the buying committee: deal 900 of account 100 (Acme) won
// on day 10 with contacts A (primary: the smallest id; Organic Search on day 1), B
// (Paid Social, day 3) and C (Email, day 5); E of Acme on no deal (Referral, day 7);
// D of account 200 (Direct, day 6). Every touch is at 9:00; each contact is a lead at
// its creation, 12:00 of its touch's day (E: day 7, D: day 6).
func committee(t *testing.T, f fixture) {
	site := "https://www.example.com"
	f.events(t,
		ev{at: at(1, "9h"), kind: "page_view", name: "page_view", anon: "ca", session: "1", url: site + "/blog", ref: "https://www.google.com/"},
		ev{at: at(3, "9h"), kind: "page_view", name: "page_view", anon: "cb", session: "2", url: site + "/?utm_source=facebook&utm_medium=paid_social"},
		ev{at: at(5, "9h"), kind: "page_view", name: "page_view", anon: "cc", session: "3", url: site + "/?utm_source=newsletter&utm_medium=email"},
		ev{at: at(6, "9h"), kind: "page_view", name: "page_view", anon: "cd", session: "4", url: site + "/"},
		ev{at: at(7, "9h"), kind: "page_view", name: "page_view", anon: "ce", session: "5", url: site + "/news", ref: "https://news.example.org/a"},
	)
	f.account(t, "100", "Acme", "acme.com")
	f.account(t, "200", "Other", "other.com")
	f.accountContact(t, "1", "a@acme.com", "ca", "100", "Acme", at(1, "12h"))
	f.accountContact(t, "2", "b@acme.com", "cb", "100", "Acme", at(3, "12h"))
	f.accountContact(t, "3", "c@acme.com", "cc", "100", "Acme", at(5, "12h"))
	f.accountContact(t, "4", "d@other.com", "cd", "200", "Other", at(6, "12h"))
	f.accountContact(t, "5", "e@acme.com", "ce", "100", "Acme", at(7, "12h"))
	f.accountDeal(t, "900", "100", 1000, at(8, "0h"), at(10, "0h"), "1", "2", "3")
}

// credits are the credits of the conversions of one type by scope, model and
// channel, and each row's touch person.
type credits struct {
	by          map[string]map[string]map[string]float64 // scope -> model -> channel -> credit
	touchPerson map[string]map[string]string             // scope -> channel -> touch_person_id
	person      string                                   // the conversion's person_id
}

func creditsOf(t *testing.T, out *Output, typ string) credits {
	tbl, err := out.Table("fct_attribution")
	require.NoError(t, err)
	defer tbl.Release()
	cr := credits{by: map[string]map[string]map[string]float64{}, touchPerson: map[string]map[string]string{}}
	for _, r := range rows(tbl) {
		if r["conversion_type"] != typ {
			continue
		}
		s, m, ch := r["scope"].(string), r["model"].(string), r["channel"].(string)
		if cr.by[s] == nil {
			cr.by[s] = map[string]map[string]float64{}
			cr.touchPerson[s] = map[string]string{}
		}
		if cr.by[s][m] == nil {
			cr.by[s][m] = map[string]float64{}
		}
		cr.by[s][m][ch] += r["credit"].(float64)
		if tp, ok := r["touch_person_id"].(string); ok {
			cr.touchPerson[s][ch] = tp
		}
		cr.person = r["person_id"].(string)
	}
	return cr
}

// TestScopesHandChecked: the credits of the won deal's customer conversion under each
// scope, worked out by hand. Channels: A Organic Search (day 1), B Paid Social (day 3),
// C Email (day 5), E Referral (day 7). time_decay's half-life is 7 days and weighs each
// touch 2^(-age/7d) from the journey's newest touch, normalized. w_shaped gives the
// first touch .3, the lead-creation touch .3, the opportunity-creation touch .3 and
// the others .1 between them; full_path .225 each to first, lead, opportunity and
// closed-won, .1 to the rest; shares on one touch add up, and the shares present are
// scaled to sum to 1.
func TestScopesHandChecked(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	committee(t, fixture{c, mem})
	out := buildAll(t, mem, c)
	defer out.Release()

	const (
		os, ps, em, ref = "Organic Search", "Paid Social", "Email", "Referral"
	)
	// 2^(-4/7) = 0.6729500963, 2^(-2/7) = 0.8203353560, 2^(-6/7) = 0.5520447568.
	want := map[string]map[string]map[string]float64{
		// The primary contact A's journey: one touch, whatever the model.
		"person": {
			"first_touch": {os: 1}, "last_touch": {os: 1}, "linear": {os: 1}, "position_based": {os: 1},
			"time_decay": {os: 1}, "w_shaped": {os: 1}, "full_path": {os: 1},
		},
		// A, B and C's touches: [OS d1, PS d3, Email d5].
		"deal": {
			"first_touch": {os: 1},
			"last_touch":  {em: 1},
			"linear":      {os: 1.0 / 3, ps: 1.0 / 3, em: 1.0 / 3},
			// 3 touches: first .4, last .4, the middle one 1 - .8 = .2.
			"position_based": {os: 0.4, ps: 0.2, em: 0.4},
			// ages from Email: 4d, 2d, 0d -> 0.6729500963 + 0.8203353560 + 1 = 2.4932854523
			"time_decay": {os: 0.6729500963161781 / 2.493285452323816, ps: 0.820335356007638 / 2.493285452323816, em: 1 / 2.493285452323816},
			// lead: A's lead (d1 12h) -> OS; opportunity: the deal's creation (d8) -> Email.
			// OS first .3 + lead .3 = .6, Email opp .3, PS the rest .1; total 1.
			"w_shaped": {os: 0.6, ps: 0.1, em: 0.3},
			// OS .225 + .225 = .45, Email opp .225 + won .225 = .45, PS .1; total 1.
			"full_path": {os: 0.45, ps: 0.1, em: 0.45},
		},
		// Acme's people A, B, C and E: [OS d1, PS d3, Email d5, Referral d7].
		"account": {
			"first_touch": {os: 1},
			"last_touch":  {ref: 1},
			"linear":      {os: 0.25, ps: 0.25, em: 0.25, ref: 0.25},
			// first .4, last .4, the two middle ones (1 - .8) / 2 = .1 each.
			"position_based": {os: 0.4, ps: 0.1, em: 0.1, ref: 0.4},
			// ages from Referral: 6d, 4d, 2d, 0d -> 0.5520447568 + 0.6729500963 + 0.8203353560 + 1 = 3.0453302092
			"time_decay": {os: 0.5520447568369062 / 3.0453302091607224, ps: 0.6729500963161781 / 3.0453302091607224,
				em: 0.820335356007638 / 3.0453302091607224, ref: 1 / 3.0453302091607224},
			// lead d1 -> OS, opportunity d8 -> Referral (d7): OS .6, Referral .3, PS and Email .1 / 2 = .05.
			"w_shaped": {os: 0.6, ps: 0.05, em: 0.05, ref: 0.3},
			// OS .45, Referral opp .225 + won .225 = .45, PS and Email .05 each.
			"full_path": {os: 0.45, ps: 0.05, em: 0.05, ref: 0.45},
		},
	}
	got := creditsOf(t, out, "customer")
	for scope, models := range want {
		for model, channels := range models {
			require.Len(t, got.by[scope][model], len(channels), "%s %s: %v", scope, model, got.by[scope][model])
			for ch, w := range channels {
				assert.InDelta(t, w, got.by[scope][model][ch], 1e-9, "%s %s %s", scope, model, ch)
			}
		}
	}
	for _, scope := range []string{"person", "deal", "account"} {
		for _, model := range []string{"markov", "shapley"} {
			sum := 0.0
			for _, v := range got.by[scope][model] {
				sum += v
			}
			assert.InDelta(t, 1, sum, 1e-9, "%s %s", scope, model)
		}
	}
	for _, model := range []string{"markov", "shapley"} {
		assert.NotContains(t, got.by["person"][model], ps, model)
		assert.Greater(t, got.by["deal"][model][ps], 0.0, model)
		assert.Greater(t, got.by["account"][model][ps], 0.0, model)
	}

	// The conversion stays A's; each touch is its maker's.
	dim, err := out.Table("dim_person")
	require.NoError(t, err)
	defer dim.Release()
	person, account := map[string]string{}, map[string]any{}
	for _, r := range rows(dim) {
		person[r["crm_contact_id"].(string)] = r["person_id"].(string)
		account[r["crm_contact_id"].(string)] = r["account_id"]
	}
	assert.Equal(t, person["1"], got.person)
	assert.Equal(t, map[string]string{os: person["1"], ps: person["2"], em: person["3"], ref: person["5"]}, got.touchPerson["account"])
	assert.Equal(t, map[string]any{"1": "hubspot:100", "2": "hubspot:100", "3": "hubspot:100", "4": "hubspot:200", "5": "hubspot:100"}, account)

	// D, of another account, is in no journey of Acme's; its own lead is its journey
	// under every scope.
	for _, s := range []string{"person", "deal", "account"} {
		for m, chs := range got.by[s] {
			assert.NotContains(t, chs, "Direct", "%s %s", s, m)
		}
	}

	conv, err := out.Table("fct_conversion")
	require.NoError(t, err)
	defer conv.Release()
	for _, r := range rows(conv) {
		want := map[string]any{"1": "hubspot:100", "2": "hubspot:100", "3": "hubspot:100", "4": "hubspot:200", "5": "hubspot:100"}
		if r["crm_deal_id"] != nil {
			assert.Equal(t, "hubspot:100", r["account_id"], r)
			continue
		}
		for id, p := range person {
			if p == r["person_id"] {
				assert.Equal(t, want[id], r["account_id"], r)
			}
		}
	}

	acc, err := out.Table("dim_account")
	require.NoError(t, err)
	defer acc.Release()
	var accounts []string
	for _, r := range rows(acc) {
		accounts = append(accounts, fmt.Sprint(r["account_id"], " ", r["name"], " ", r["domain"], " ", r["person_count"], " ",
			r["is_customer"], " ", r["inferred"], " ", r["crm"], " ", r["crm_account_id"]))
	}
	assert.Equal(t, []string{"hubspot:100 Acme acme.com 4 true false hubspot 100", "hubspot:200 Other other.com 1 false false hubspot 200"}, accounts)
	assertSumsToOne(t, out)
}

// assertSumsToOne checks that the credits of every (conversion, model, scope) sum to 1.
func assertSumsToOne(t *testing.T, out *Output) {
	t.Helper()
	tbl, err := out.Table("fct_attribution")
	require.NoError(t, err)
	defer tbl.Release()
	sums := map[[3]string]float64{}
	for _, r := range rows(tbl) {
		sums[[3]string{r["conversion_id"].(string), r["model"].(string), r["scope"].(string)}] += r["credit"].(float64)
	}
	require.NotEmpty(t, sums)
	for k, s := range sums {
		assert.InDelta(t, 1, s, 1e-9, "%v", k)
	}
}

// TestPersonScopeUnchanged: the person scope's rows are those of a run with no other
// scope, on and off the spans the credits are written in on several cores.
func TestPersonScopeUnchanged(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	committee(t, fixture{c, mem})
	personRows := func(out *Output) []map[string]any {
		tbl, err := out.Table("fct_attribution")
		require.NoError(t, err)
		defer tbl.Release()
		var rs []map[string]any
		for _, r := range rows(tbl) {
			if r["scope"] == "person" {
				rs = append(rs, r)
			}
		}
		return rs
	}
	only := buildAll(t, mem, c, func(o *Options) { o.Scopes = nil })
	defer only.Release()
	all := buildAll(t, mem, c)
	defer all.Release()
	want := personRows(only)
	require.NotEmpty(t, want)
	assert.Equal(t, want, personRows(all))

	defer func(n int) { minAttributionSpan = n }(minAttributionSpan)
	minAttributionSpan = 1
	spans := buildAll(t, mem, c, func(o *Options) { o.SpillBytes = 1 })
	defer spans.Release()
	assert.NotNil(t, spans.Spilled["fct_attribution"])
	assert.ElementsMatch(t, want, personRows(spans))
	assertSumsToOne(t, spans)
}

// TestAccountIsNoIdentity: two people of one account and one company stay two
// persons, whether the account is the CRM's or inferred from their e-mail domain.
func TestAccountIsNoIdentity(t *testing.T) {
	for _, fromEmail := range []bool{false, true} {
		t.Run(fmt.Sprint("from_email=", fromEmail), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			c := extract.NewCollector(mem)
			defer c.Release()
			f := fixture{c, mem}
			site := "https://www.example.com"
			f.events(t,
				ev{at: at(1, "9h"), kind: "page_view", name: "page_view", anon: "x1", session: "1", url: site + "/"},
				ev{at: at(2, "9h"), kind: "page_view", name: "page_view", anon: "x2", session: "2", url: site + "/"},
			)
			account := "100"
			if fromEmail {
				account = ""
			} else {
				f.account(t, "100", "Acme", "acme.com")
			}
			f.accountContact(t, "1", "ann@acme.com", "x1", account, "Acme", at(1, "12h"))
			f.accountContact(t, "2", "bob@acme.com", "x2", account, "Acme", at(2, "12h"))
			out := buildAll(t, mem, c, func(o *Options) { o.AccountFromEmail = fromEmail })
			defer out.Release()
			dim, err := out.Table("dim_person")
			require.NoError(t, err)
			defer dim.Release()
			rs := rows(dim)
			require.Len(t, rs, 2)
			assert.NotEqual(t, rs[0]["person_id"], rs[1]["person_id"])
			assert.Equal(t, rs[0]["account_id"], rs[1]["account_id"])
			assert.NotNil(t, rs[0]["account_id"])
			conflicts := out.Tables["identity_conflicts"]
			assert.EqualValues(t, 0, conflicts.NumRows())
			assert.Equal(t, 2, out.Stats.Persons)
		})
	}
}

// TestAccountFromEmail: off by default; on, a business domain makes an account (the
// CRM's with that domain, else an inferred one) and a free-mail domain never does.
func TestAccountFromEmail(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	c := extract.NewCollector(mem)
	defer c.Release()
	f := fixture{c, mem}
	f.account(t, "100", "Acme", "www.Acme.com")
	f.accountContact(t, "1", "ann@eu.acme.com", "", "", "", at(1, "12h"))
	f.accountContact(t, "2", "bob@initech.io", "", "", "", at(1, "12h"))
	f.accountContact(t, "3", "cat@gmail.com", "", "", "", at(1, "12h"))
	f.accountContact(t, "4", "dan@yahoo.co.uk", "", "", "", at(1, "12h"))
	f.accountContact(t, "5", "eve@mybox.example", "", "", "", at(1, "12h"))
	f.accountContact(t, "6", "fay@initech.io", "", "200", "", at(1, "12h"))
	accountOf := func(opts ...func(*Options)) map[string]any {
		out := buildAll(t, mem, c, opts...)
		defer out.Release()
		dim, err := out.Table("dim_person")
		require.NoError(t, err)
		defer dim.Release()
		got := map[string]any{}
		for _, r := range rows(dim) {
			got[r["crm_contact_id"].(string)] = r["account_id"]
		}
		return got
	}
	assert.Equal(t, map[string]any{"1": nil, "2": nil, "3": nil, "4": nil, "5": nil, "6": "hubspot:200"}, accountOf())
	assert.Equal(t, map[string]any{"1": "hubspot:100", "2": "domain:initech.io", "3": nil, "4": nil, "5": "domain:mybox.example",
		"6": "hubspot:200"}, accountOf(func(o *Options) { o.AccountFromEmail = true }))
	assert.Equal(t, map[string]any{"1": "hubspot:100", "2": "domain:initech.io", "3": nil, "4": nil, "5": nil, "6": "hubspot:200"},
		accountOf(func(o *Options) { o.AccountFromEmail, o.FreeMailDomains = true, []string{"mybox.example"} }))

	out := buildAll(t, mem, c, func(o *Options) { o.AccountFromEmail = true })
	defer out.Release()
	acc, err := out.Table("dim_account")
	require.NoError(t, err)
	defer acc.Release()
	var got []string
	for _, r := range rows(acc) {
		got = append(got, fmt.Sprint(r["account_id"], " ", r["crm"], " ", r["domain"], " ", r["inferred"], " ", r["person_count"]))
	}
	assert.Equal(t, []string{"domain:initech.io <nil> initech.io true 1", "domain:mybox.example <nil> mybox.example true 1",
		"hubspot:100 hubspot acme.com false 1", "hubspot:200 hubspot <nil> false 1"}, got)
}

func TestIsFreeMail(t *testing.T) {
	for _, tc := range []struct {
		domain string
		extra  []string
		want   bool
	}{
		{"gmail.com", nil, true},
		{"GMail.com", nil, true},
		{"yahoo.co.uk", nil, true},
		{"yahoo.fr", nil, true},
		{"yahoo.acme.com", nil, false},
		{"hotmail.de", nil, true},
		{"gmx.at", nil, true},
		{"web.de", nil, true},
		{"qq.com", nil, true},
		{"163.com", nil, true},
		{"mail.ru", nil, true},
		{"yandex.ru", nil, true},
		{"proton.me", nil, true},
		{"icloud.com", nil, true},
		{"outlook.com", nil, true},
		{"acme.com", nil, false},
		{"isp.example", []string{"isp.example"}, true},
		{"isp.de", []string{"isp.*"}, true},
	} {
		assert.Equal(t, tc.want, IsFreeMail(tc.domain, tc.extra), tc.domain)
	}
}

// TestParseScopes: names in the order written, each once, unknown ones named.
func TestParseScopes(t *testing.T) {
	s, err := ParseScopes([]string{"account", " person"})
	require.NoError(t, err)
	assert.Equal(t, []Scope{ScopePerson, ScopeAccount}, s)
	_, err = ParseScopes([]string{"team"})
	require.ErrorContains(t, err, `unknown journey scope "team" (known: person, deal, account)`)
	_, err = ParseScopes([]string{"deal", "deal"})
	require.ErrorContains(t, err, "twice")
	_, err = ParseScopes(nil)
	require.Error(t, err)
}

// TestScopePaths: the paths the data-driven models fit on under each scope. Persons A,
// B, C (on deal k) and E are of account 1, D of account 2; the deal's customer
// conversion is A's. Under deal scope B and C converted through the deal: no
// non-converters of its type; under account scope account 1 converted, account 2 did
// not.
func TestScopePaths(t *testing.T) {
	tc := newTouches()
	day := func(d int) int64 { return at(d, "9h").UnixMicro() }
	for i, x := range []struct {
		person  int32
		d       int
		channel string
	}{{0, 1, "Organic Search"}, {1, 3, "Paid Social"}, {2, 5, "Email"}, {3, 7, "Referral"}, {4, 6, "Direct"}} {
		tc.add(x.person, day(x.d), uint64(i+1), x.channel, &normalize.Traffic{})
	}
	acc := &accounts{keys: newDict(), person: make([]int32, 5), customer: map[int32]bool{}}
	a1, a2 := acc.keys.code("hubspot:1"), acc.keys.code("hubspot:2")
	acc.person = []int32{a1, a1, a1, a1, a2}
	cv := &conversions{types: newDict(), currencies: newDict(), deals: newDict(), dealKeys: newDict(), acc: acc,
		stage: map[int32]int{}, customer: map[int32]bool{}, last: map[int32]int64{}}
	cv.addID(0, day(10), "customer", 100, "USD", "k", 1)
	k := cv.dealKeys.code("hubspot:k")
	cv.dealKey[0] = k
	cv.members = map[int32][]int32{k: {0, 1, 2}}
	typ := cv.types.lookup("customer")

	for _, tt := range []struct {
		scope Scope
		want  map[string][2]float64 // path -> conversions, nulls
	}{
		{ScopePerson, map[string][2]float64{"Organic Search": {1, 0}, "Paid Social": {0, 1}, "Email": {0, 1}, "Referral": {0, 1}, "Direct": {0, 1}}},
		{ScopeDeal, map[string][2]float64{"Organic Search > Paid Social > Email": {1, 0}, "Referral": {0, 1}, "Direct": {0, 1}}},
		{ScopeAccount, map[string][2]float64{"Organic Search > Paid Social > Email > Referral": {1, 0}, "Direct": {0, 1}}},
	} {
		jb := forScope(tt.scope, tc, cv, 30*24*time.Hour.Microseconds(), false)
		sets, err := jb.paths(context.Background(), cv.types.len())
		require.NoError(t, err)
		got := map[string][2]float64{}
		for _, p := range sets[typ].Paths {
			var names []string
			for _, c := range p.Channels {
				names = append(names, tc.channels.val(c))
			}
			got[strings.Join(names, " > ")] = [2]float64{p.Conversions, p.Nulls}
		}
		assert.Equal(t, tt.want, got, tt.scope)
	}
}

// TestStoredDealLinkReplaced: a deal joins its primary contact, and that can change
// between nights (a contact with a smaller id, or marked primary, added later). The
// stored link to the former primary contact must not survive beside the new one:
// with both, an incremental run would merge the two buyers into one person.
func TestStoredDealLinkReplaced(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	site := "https://www.example.com"
	fill := func(withA bool) *extract.Collector {
		c := extract.NewCollector(mem)
		f := fixture{c, mem}
		f.events(t,
			ev{at: at(1, "9h"), kind: "page_view", name: "page_view", anon: "xa", session: "1", url: site + "/"},
			ev{at: at(2, "9h"), kind: "page_view", name: "page_view", anon: "xb", session: "2", url: site + "/"},
		)
		f.account(t, "100", "Acme", "acme.com")
		f.accountContact(t, "2", "bob@acme.com", "xb", "100", "Acme", at(2, "12h"))
		contacts := []string{"2"}
		if withA {
			f.accountContact(t, "1", "ann@acme.com", "xa", "100", "Acme", at(1, "12h"))
			contacts = append(contacts, "1")
		}
		f.accountDeal(t, "900", "100", 1000, at(3, "9h"), at(8, "9h"), contacts...)
		return c
	}
	// The first night knows the deal with Bob only: it joins Bob.
	c1 := fill(false)
	defer c1.Release()
	first := buildAll(t, mem, c1)
	defer first.Release()
	// The next night Ann (contact 1, the smaller id) is on the deal too: it joins Ann.
	c2 := fill(true)
	defer c2.Release()
	models, err := attribution.Lookup(attribution.Names(), attribution.DefaultParams)
	require.NoError(t, err)
	since := day0.AddDate(0, 0, 5)
	s := NewStream(Options{Mem: mem, Range: extract.Range{From: since, To: day0.AddDate(0, 0, 20)}, Since: since,
		Lookback: 30 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, Models: models, Currency: "USD", Scopes: ScopeNames()})
	feedState(t, s, first, since)
	events := c2.Table(extract.TableEvents)
	require.NoError(t, s.Add(context.Background(), events))
	events.Release()
	in := Inputs{Contacts: c2.Table(extract.TableContacts), Deals: c2.Table(extract.TableDeals),
		DealContacts: c2.Table(extract.TableDealContacts), Spend: c2.Table(extract.TableSpend), Accounts: c2.Table(extract.TableAccounts)}
	next, err := s.Finish(context.Background(), in)
	for _, tb := range []arrow.Table{in.Contacts, in.Deals, in.DealContacts, in.Spend, in.Accounts} {
		tb.Release()
	}
	require.NoError(t, err)
	defer next.Release()
	persons := map[string]string{} // hubspot contact -> person
	for _, r := range rows(next.Tables[load.BridgeIdentity]) {
		if r["identifier_type"] == "hubspot_contact" {
			persons[r["identifier"].(string)] = r["person_id"].(string)
		}
	}
	require.Len(t, persons, 2)
	assert.NotEqual(t, persons["1"], persons["2"], "Ann and Bob are two buyers")
	assert.Equal(t, 2, next.Stats.Persons)
}
