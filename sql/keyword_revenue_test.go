package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// keywordTouch is one fct_touchpoint row; term nil is a touch without a term.
func keywordTouch(id, person, ch string, term any, when time.Time) map[string]any {
	return map[string]any{"touchpoint_id": id, "person_id": person, "occurred_at": when,
		"channel": ch, "source": "google", "term": term}
}

// keywordCredit is one fct_attribution row of the touch touch (channel ch, term term).
func keywordCredit(conv, person, model, typ, touch, ch string, term any, c float64, rev any, convAt, touchAt time.Time) map[string]any {
	return map[string]any{"conversion_id": conv, "touchpoint_id": touch, "scope": "person", "model": model, "credit": c,
		"revenue_credit": rev, "channel": ch, "term": term, "conversion_type": typ,
		"occurred_at": convAt, "touch_occurred_at": touchAt, "person_id": person}
}

func keywordSpend(d int, campaign, term any, cost float64) map[string]any {
	return map[string]any{"date": day(d), "channel": "Paid Search", "source": "google", "medium": "cpc",
		"campaign": campaign, "term": term, "cost": cost, "currency": "USD"}
}

// keywordFixture, under the models linear and first_touch:
//
// Touches (person: channel, term, day):
//
//	t1 p1 Paid Search "crm software" 2   t5 p4 Organic Search "(not provided)" 2
//	t2 p1 Paid Search "crm software" 3   t6 p5 Paid Search "(not provided)" 3
//	t3 p2 Paid Search "crm software" 3   t7 p6 Organic Search, no term, 3
//	t4 p3 Organic Search "crm software" 3  t8 p7 Paid Search "attribution tool" 2
//	t9 p1 Organic Search "(not provided)" 3
//
// Conversions:
//   - c1, p1's customer worth 300 on 4 March, touched by t1, t2, t9. linear: 1/3 each, so
//     Paid "crm software" 2/3 (revenue 200) and Organic "(not provided)" 1/3 (100);
//     first_touch: all to t1, Paid "crm software" 1 (300).
//   - c2, p1's lead on 2 March from t1; c3, p3's lead on 3 March from t4: credit 1.
//   - c4, p6's customer worth 50 from t7, which has no term: in no row.
//   - c5, p5's customer without a known amount from t6: customers 1, revenue NULL.
//   - c6, p2's mql from t3: neither a lead nor a customer.
//
// Spend (Paid Search): "crm software" 30 + 20 = 50; "attribution tool" 15; "free crm" 5,
// a keyword nobody clicked; 100 for the brand campaign without keywords, in no row.
func keywordFixture() map[string]viewtest.Rows {
	const paid, organic = "Paid Search", "Organic Search"
	const crm, np = "crm software", "(not provided)"
	var credits viewtest.Rows
	for _, m := range []string{"linear", "first_touch"} {
		credits = append(credits,
			keywordCredit("c2", "p1", m, "lead", "t1", paid, crm, 1, nil, at(2, 12), at(2, 9)),
			keywordCredit("c3", "p3", m, "lead", "t4", organic, crm, 1, nil, at(3, 12), at(3, 9)),
			keywordCredit("c4", "p6", m, "customer", "t7", organic, nil, 1, 50.0, at(4, 12), at(3, 9)),
			keywordCredit("c5", "p5", m, "customer", "t6", paid, np, 1, nil, at(4, 12), at(3, 9)),
			keywordCredit("c6", "p2", m, "mql", "t3", paid, crm, 1, nil, at(4, 12), at(3, 10)),
		)
	}
	credits = append(credits,
		keywordCredit("c1", "p1", "linear", "customer", "t1", paid, crm, 1.0/3, 100.0, at(4, 9), at(2, 9)),
		keywordCredit("c1", "p1", "linear", "customer", "t2", paid, crm, 1.0/3, 100.0, at(4, 9), at(3, 9)),
		keywordCredit("c1", "p1", "linear", "customer", "t9", organic, np, 1.0/3, 100.0, at(4, 9), at(3, 11)),
		keywordCredit("c1", "p1", "first_touch", "customer", "t1", paid, crm, 1, 300.0, at(4, 9), at(2, 9)),
	)
	return map[string]viewtest.Rows{
		"fct_touchpoint": {
			keywordTouch("t1", "p1", paid, crm, at(2, 9)),
			keywordTouch("t2", "p1", paid, crm, at(3, 9)),
			keywordTouch("t3", "p2", paid, crm, at(3, 10)),
			keywordTouch("t4", "p3", organic, crm, at(3, 9)),
			keywordTouch("t5", "p4", organic, np, at(2, 9)),
			keywordTouch("t6", "p5", paid, np, at(3, 9)),
			keywordTouch("t7", "p6", organic, nil, at(3, 9)),
			keywordTouch("t8", "p7", paid, "attribution tool", at(2, 9)),
			keywordTouch("t9", "p1", organic, np, at(3, 11)),
		},
		"fct_attribution": credits,
		"fct_spend": {
			keywordSpend(2, "generic", crm, 30),
			keywordSpend(3, "generic", crm, 20),
			keywordSpend(2, "generic", "attribution tool", 15),
			keywordSpend(2, "generic", "free crm", 5),
			keywordSpend(2, "brand", nil, 100),
		},
	}
}

const keywordQuery = `SELECT term, channel, visitors, leads, customers, revenue, spend, roas
	FROM v_keyword_revenue WHERE model = $1 ORDER BY term, channel`

func TestKeywordRevenue(t *testing.T) {
	for _, w := range viewtest.Load(t, keywordFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{"model STRING", "scope STRING", "term STRING", "channel STRING", "visitors INT64",
				"leads FLOAT64", "customers FLOAT64", "revenue FLOAT64", "spend FLOAT64", "roas FLOAT64"},
				viewColumns(t, w.DB, "v_keyword_revenue"))

			// Columns: term | channel | visitors | leads | customers | revenue | spend | roas.
			assert.Equal(t, []string{
				// p4 (t5) and p1 (t9): 2 visitors; a third of c1 (300 / 3); organic: no spend.
				"(not provided) | Organic Search | 2 | 0 | 0.333333 | 100 | NULL | NULL",
				// '(not provided)' on Paid Search is a row of its own: c5's amount is unknown.
				"(not provided) | Paid Search | 1 | 0 | 1 | NULL | NULL | NULL",
				// 15 spent, nothing earned: revenue 0, ROAS 0 / 15 = 0.
				"attribution tool | Paid Search | 1 | 0 | 0 | 0 | 15 | 0",
				// p3's organic visit and lead c3; the keyword spend is Paid Search's only.
				"crm software | Organic Search | 1 | 1 | 0 | 0 | NULL | NULL",
				// p1 (twice) and p2: 2 visitors; lead c2; 2/3 of c1 = 200 for 30 + 20:
				// ROAS 200 / 50 = 4. c6, an mql, counts nowhere.
				"crm software | Paid Search | 2 | 1 | 0.666667 | 200 | 50 | 4",
				// spent 5, no touch at all: still a row.
				"free crm | Paid Search | 0 | 0 | 0 | 0 | 5 | 0",
			}, viewtest.Query(t, w.DB, keywordQuery, "linear"))

			assert.Equal(t, []string{
				"(not provided) | Organic Search | 2 | 0 | 0 | 0 | NULL | NULL",
				"(not provided) | Paid Search | 1 | 0 | 1 | NULL | NULL | NULL",
				"attribution tool | Paid Search | 1 | 0 | 0 | 0 | 15 | 0",
				"crm software | Organic Search | 1 | 1 | 0 | 0 | NULL | NULL",
				// the whole of c1 to t1: 300 for 50, ROAS 6.
				"crm software | Paid Search | 2 | 1 | 1 | 300 | 50 | 6",
				"free crm | Paid Search | 0 | 0 | 0 | 0 | 5 | 0",
			}, viewtest.Query(t, w.DB, keywordQuery, "first_touch"))

			// visitors and spend are the same under every model; the credits of the
			// keyword rows add up, per model, to the credits of touches with a term (c1 and c5:
			// 2 customers worth 300, c4 has no term).
			assert.Equal(t, []string{
				"first_touch | 7 | 2 | 2 | 300 | 70",
				"linear | 7 | 2 | 2 | 300 | 70",
			}, viewtest.Query(t, w.DB, `SELECT model, SUM(visitors), SUM(leads), SUM(customers), SUM(revenue), SUM(spend)
				FROM v_keyword_revenue GROUP BY model ORDER BY model`))
		})
	}
}

// Without spend, spend and ROAS are NULL and the keyword without touches is gone;
// without any credited conversion there is no model to show, so the view is empty, as
// it is on an empty warehouse.
func TestKeywordRevenueEdges(t *testing.T) {
	noSpend := keywordFixture()
	delete(noSpend, "fct_spend")
	noConversions := keywordFixture()
	delete(noConversions, "fct_attribution")
	cases := []struct {
		name    string
		fixture map[string]viewtest.Rows
		want    []string
	}{
		{"no spend", noSpend, []string{
			"(not provided) | Organic Search | 2 | 0 | 0.333333 | 100 | NULL | NULL",
			"(not provided) | Paid Search | 1 | 0 | 1 | NULL | NULL | NULL",
			"attribution tool | Paid Search | 1 | 0 | 0 | 0 | NULL | NULL",
			"crm software | Organic Search | 1 | 1 | 0 | 0 | NULL | NULL",
			"crm software | Paid Search | 2 | 1 | 0.666667 | 200 | NULL | NULL",
		}},
		{"no conversions", noConversions, nil},
		{"empty warehouse", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range viewtest.Load(t, c.fixture) {
				t.Run(w.Dialect, func(t *testing.T) {
					assert.Equal(t, c.want, viewtest.Query(t, w.DB, keywordQuery, "linear"))
				})
			}
		})
	}
}

// TestKeywordRevenueScopes: the fixture's credits written again under deal scope give
// the deal rows the person rows' figures: scopes are grouped like models, never added.
func TestKeywordRevenueScopes(t *testing.T) {
	fixture := keywordFixture()
	for _, r := range fixture["fct_attribution"] {
		deal := map[string]any{}
		for k, v := range r {
			deal[k] = v
		}
		deal["scope"] = "deal"
		fixture["fct_attribution"] = append(fixture["fct_attribution"], deal)
	}
	for _, w := range viewtest.Load(t, fixture) {
		t.Run(w.Dialect, func(t *testing.T) {
			cols := `model, term, channel, visitors, leads, customers, revenue, spend, roas`
			person := viewtest.Query(t, w.DB, `SELECT `+cols+` FROM v_keyword_revenue WHERE scope = 'person' ORDER BY model, term, channel`)
			assert.NotEmpty(t, person)
			assert.Equal(t, person, viewtest.Query(t, w.DB, `SELECT `+cols+` FROM v_keyword_revenue WHERE scope = 'deal' ORDER BY model, term, channel`))
		})
	}
}
