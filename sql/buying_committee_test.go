package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// committeeFixture: Acme (account a1) buys deal d1, won 5 March for 300, through four of
// its five contacts: p1 (Champion, Marketing Manager) found it by Organic Search on 1
// March and clicked an Email on 4 March; p2 (Technical buyer, CTO) came from a Paid
// Social ad on 2 March; p3 (Economic buyer, CFO) clicked an Email on 3 March; p6
// (Technical buyer, VP Engineering) another Paid Social ad on 4 March; p4 never touched
// anything. p1 converted to lead on 1 March and to opportunity on 3 March. Beta (a2) has
// one contact, p5, a lead of 2 March through Direct. Paid Social costs 40 on 2 March.
//
// The won deal's linear credits, by hand: under person scope p1's two touches take 1/2
// each (150); under deal scope (the contacts of d1: p1, p2, p3, p6) and account scope
// (every person of Acme: the same touches, p4 has none) the five touches take 1/5 each
// (60): Paid Social, worthless under person scope, earns 2/5 (120).
func committeeFixture() map[string]viewtest.Rows {
	person := func(id, account, title, persona string) map[string]any {
		r := map[string]any{"person_id": id, "identifier_count": 1, "anonymous_id_count": 1, "email_count": 1,
			"is_customer": account == "a1", "persona": persona, "account_id": account}
		if title != "" {
			r["job_title"] = title
		}
		return r
	}
	touch := func(id, p, ch string, when time.Time) map[string]any {
		return map[string]any{"touchpoint_id": id, "person_id": p, "occurred_at": when, "channel": ch}
	}
	type tp struct {
		id, person, channel string
		at                  time.Time
	}
	t1, t2, t3 := tp{"t1", "p1", "Organic Search", at(1, 9)}, tp{"t2", "p2", "Paid Social", at(2, 9)}, tp{"t3", "p3", "Email", at(3, 9)}
	t4, t7 := tp{"t4", "p1", "Email", at(4, 9)}, tp{"t7", "p6", "Paid Social", at(4, 10)}
	credit := func(conv, typ, model, scope string, convAt time.Time, rev any, c float64, t tp) map[string]any {
		return map[string]any{"conversion_id": conv, "touchpoint_id": t.id, "model": model, "scope": scope, "credit": c,
			"revenue_credit": rev, "channel": t.channel, "conversion_type": typ, "occurred_at": convAt,
			"touch_occurred_at": t.at, "person_id": "p1", "touch_person_id": t.person}
	}
	won := at(5, 9)
	var credits viewtest.Rows
	credits = append(credits,
		credit("c1", "lead", "linear", "person", at(1, 12), nil, 1, t1),
		credit("c3", "customer", "linear", "person", won, 150.0, 0.5, t1),
		credit("c3", "customer", "linear", "person", won, 150.0, 0.5, t4),
		credit("c3", "customer", "first_touch", "person", won, 300.0, 1, t1))
	for _, scope := range []string{"deal", "account"} {
		for _, t := range []tp{t1, t2, t3, t4, t7} {
			credits = append(credits, credit("c3", "customer", "linear", scope, won, 60.0, 0.2, t))
		}
		credits = append(credits, credit("c3", "customer", "first_touch", scope, won, 300.0, 1, t1))
	}
	conv := func(id, p, typ string, when time.Time, rev any, deal any, account string) map[string]any {
		return map[string]any{"conversion_id": id, "person_id": p, "occurred_at": when, "conversion_type": typ,
			"revenue": rev, "crm_deal_id": deal, "account_id": account}
	}
	return map[string]viewtest.Rows{
		"dim_account": {
			{"account_id": "a1", "name": "Acme", "domain": "acme.com", "industry": "Retail", "inferred": false, "person_count": 5, "is_customer": true},
			{"account_id": "a2", "name": "Beta", "domain": "beta.io", "industry": "Software", "inferred": false, "person_count": 1, "is_customer": false},
		},
		"dim_person": {
			person("p1", "a1", "Marketing Manager", "Champion"),
			person("p2", "a1", "CTO", "Technical buyer"),
			person("p3", "a1", "CFO", "Economic buyer"),
			person("p4", "a1", "", "Unclassified"),
			person("p6", "a1", "VP Engineering", "Technical buyer"),
			person("p5", "a2", "Founder", "Champion"),
		},
		"fct_touchpoint": {
			touch(t1.id, t1.person, t1.channel, t1.at), touch(t2.id, t2.person, t2.channel, t2.at),
			touch(t3.id, t3.person, t3.channel, t3.at), touch(t4.id, t4.person, t4.channel, t4.at),
			touch(t7.id, t7.person, t7.channel, t7.at),
			touch("t5", "p5", "Direct", at(2, 9)),
			touch("t6", "p2", "Paid Social", at(6, 9)), // after the deal was won
		},
		"fct_conversion": {
			conv("c1", "p1", "lead", at(1, 12), nil, nil, "a1"),
			conv("c2", "p1", "opportunity", at(3, 12), nil, "d1", "a1"),
			conv("c3", "p1", "customer", won, 300.0, "d1", "a1"),
			conv("c5", "p5", "lead", at(2, 12), nil, nil, "a2"),
		},
		"fct_attribution": credits,
		"fct_spend": {
			{"date": day(2), "channel": "Paid Social", "source": "linkedin", "medium": "paid_social", "campaign": "cto", "cost": 40.0, "currency": "USD"},
		},
	}
}

// TestScopes: the performance views split the credits by journey scope like by model;
// under deal and account scope the channel that reached the buying committee (Paid
// Social) earns what person scope gives to the champion's channels alone, and spend is
// the same on every scope's rows. Views that read one person's journey (touchpoint
// paths) or a conversion's whole revenue (content influence) read the person scope only.
func TestScopes(t *testing.T) {
	for _, w := range viewtest.Load(t, committeeFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT scope, channel, SUM(conversions), SUM(revenue), SUM(spend)
				FROM v_channel_performance WHERE date_basis = 'conversion_date' AND model = 'linear' AND conversion_type = 'customer'
				GROUP BY scope, channel ORDER BY scope, channel`)
			assert.Equal(t, []string{
				"account | Email | 0.4 | 120 | NULL",
				"account | Organic Search | 0.2 | 60 | NULL",
				"account | Paid Social | 0.4 | 120 | 40",
				"deal | Email | 0.4 | 120 | NULL",
				"deal | Organic Search | 0.2 | 60 | NULL",
				"deal | Paid Social | 0.4 | 120 | 40",
				"person | Email | 0.5 | 150 | NULL",
				"person | Organic Search | 0.5 | 150 | NULL",
				"person | Paid Social | 0 | 0 | 40", // spent, earned nothing: only the champion's touches count
			}, got)

			// Every scope credits the won deal in full, under every model.
			got = viewtest.Query(t, w.DB, `SELECT scope, model, SUM(conversions) FROM v_channel_performance
				WHERE date_basis = 'conversion_date' AND conversion_type = 'customer' GROUP BY scope, model ORDER BY scope, model`)
			assert.Equal(t, []string{"account | first_touch | 1", "account | linear | 1", "deal | first_touch | 1",
				"deal | linear | 1", "person | first_touch | 1", "person | linear | 1"}, got)

			// (v_keyword_revenue's scopes: TestKeywordRevenueScopes; the fixture has no search term.)
			for _, v := range []string{"v_channel_performance_by_persona", "v_campaign_roi", "v_campaign_roi_by_persona",
				"v_social_customers", "v_social_customers_by_persona"} {
				assert.Equal(t, []string{"account", "deal", "person"},
					viewtest.Query(t, w.DB, `SELECT DISTINCT scope FROM `+v+` ORDER BY scope`), v)
			}
			// The lead has person-scope credits only.
			assert.Equal(t, []string{"person"}, viewtest.Query(t, w.DB, `SELECT DISTINCT scope FROM v_lead_quality ORDER BY scope`))

			// The converting paths are the person's journeys, counted once.
			assert.Equal(t, []string{"customer | Organic Search > Email | 1", "lead | Organic Search | 1"},
				viewtest.Query(t, w.DB, `SELECT conversion_type, path, conversions FROM v_touchpoint_paths WHERE conversions > 0 ORDER BY 1, 2`))
		})
	}
}

// TestAccountJourneys: Acme's stages count the touches of all its people before each
// stage: one touch before the lead (3 hours before: 0.125 days), three contacts on
// three channels before the opportunity, four of its five contacts and five touches
// before the deal, won 4 days after the first touch; the touch after the win is not
// counted. Beta reached lead only and is not won.
func TestAccountJourneys(t *testing.T) {
	for _, w := range viewtest.Load(t, committeeFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT account_id, account_name, domain, industry, conversion_type, reached_date,
				contacts, contacts_engaged, touches, channels, first_touch_date, days_to_stage, days_to_close
				FROM v_account_journeys ORDER BY account_id, reached_date`)
			assert.Equal(t, []string{
				"a1 | Acme | acme.com | Retail | lead | 2026-03-01 | 5 | 1 | 1 | 1 | 2026-03-01 | 0.125 | 4",
				"a1 | Acme | acme.com | Retail | opportunity | 2026-03-03 | 5 | 3 | 3 | 3 | 2026-03-01 | 2.125 | 4",
				"a1 | Acme | acme.com | Retail | customer | 2026-03-05 | 5 | 4 | 5 | 3 | 2026-03-01 | 4 | 4",
				"a2 | Beta | beta.io | Software | lead | 2026-03-02 | 1 | 1 | 1 | 1 | 2026-03-02 | 0.125 | NULL",
			}, got)
		})
	}
}

// TestBuyingCommittee: the won deal's committee under the linear model: four contacts
// reached; the technical buyers (CTO, VP Engineering) both by Paid Social, 2/5 of the
// deal; the champion by Organic Search and Email; the CFO by Email.
func TestBuyingCommittee(t *testing.T) {
	for _, w := range viewtest.Load(t, committeeFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT account_id, account_name, crm_deal_id, conversion_id, won_date, deal_revenue,
				deal_contacts, persona, job_titles, channel, contacts, touches, credit, revenue_credit
				FROM v_buying_committee WHERE model = 'linear' ORDER BY persona, channel`)
			assert.Equal(t, []string{
				"a1 | Acme | d1 | c3 | 2026-03-05 | 300 | 4 | Champion | Marketing Manager | Email | 1 | 1 | 0.2 | 60",
				"a1 | Acme | d1 | c3 | 2026-03-05 | 300 | 4 | Champion | Marketing Manager | Organic Search | 1 | 1 | 0.2 | 60",
				"a1 | Acme | d1 | c3 | 2026-03-05 | 300 | 4 | Economic buyer | CFO | Email | 1 | 1 | 0.2 | 60",
				"a1 | Acme | d1 | c3 | 2026-03-05 | 300 | 4 | Technical buyer | CTO, VP Engineering | Paid Social | 2 | 2 | 0.4 | 120",
			}, got)
			// first_touch: the whole deal to the champion's first touch.
			assert.Equal(t, []string{"1 | Champion | Organic Search | 1"}, viewtest.Query(t, w.DB,
				`SELECT deal_contacts, persona, channel, credit FROM v_buying_committee WHERE model = 'first_touch'`))
		})
	}
}
