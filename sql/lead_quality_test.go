package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

func lqPerson(p, persona string) map[string]any {
	return map[string]any{"person_id": p, "identifier_count": 1, "anonymous_id_count": 1, "email_count": 1,
		"is_customer": false, "persona": persona}
}

func lqConversion(id, p, typ string, t time.Time, revenue any) map[string]any {
	return map[string]any{"conversion_id": id, "person_id": p, "occurred_at": t, "conversion_type": typ,
		"revenue": revenue}
}

// lqCredit is one fct_attribution row of conversion conv (of person p, at convAt); channel
// '(none)' makes it the row of a conversion without touches.
func lqCredit(conv, p, typ, model, channel string, campaign, term any, credit float64, convAt time.Time) map[string]any {
	row := map[string]any{"conversion_id": conv, "scope": "person", "model": model, "credit": credit, "channel": channel,
		"campaign": campaign, "term": term, "conversion_type": typ, "occurred_at": convAt, "person_id": p}
	if channel != "(none)" {
		row["touchpoint_id"] = "t_" + conv + "_" + channel
		row["touch_occurred_at"] = convAt.Add(-time.Hour)
	}
	return row
}

// lqFixture: six leads, under linear and first_touch. at(d, h) is d March, h o'clock UTC.
//
//	pA  Buyer         lead 2/3 00:00; linear over four touches, 0.25 each: Paid Search brand
//	                  "crm software", Email newsletter, Paid Search brand "crm pricing", Email
//	                  newsletter (Paid Search 0.5, Email 0.5); first_touch: Paid Search brand
//	                  "crm software" 1. mql, sql, opportunity, customer 7/3 12:00 worth 1000:
//	                  5.5 days to close. Their customer conversion's own credits (Email) are
//	                  not the lead's and count for nothing here.
//	pB  Buyer         two leads: 1/3 (linear: Organic Search '(not provided)' without campaign
//	                  0.5, Email newsletter 0.5; first_touch: Organic Search 1) and 10/3 (Paid
//	                  Search brand, ignored: only the earliest lead's credits count). mql, sql,
//	                  opportunity, then lost: no customer.
//	pC  Practitioner  lead 3/3 without touches: '(none)' 1 in both models. Customer 8/3 06:00
//	                  with no known revenue (5.25 days), skipping mql, sql and opportunity.
//	pD  Practitioner  lead 4/3, Paid Search brand "crm software" 1 in both models. mql,
//	                  opportunity (no sql), customer 6/3 worth 400 and again 20/3 worth 100:
//	                  revenue 500, 2 days to the first.
//	pE  Practitioner  lead 5/3 12:00; linear: Paid Social retarget (no term) 0.5, Paid Search
//	                  generic "crm pricing" 0.5; first_touch: Paid Social 1. sql 4/3 and
//	                  customer 5/3 00:00 worth 200, both dated before the lead by the CRM:
//	                  -0.5 days to close.
//	pF  Unclassified  no dim_person row; lead 6/3, Email newsletter 1 in both models; mql.
//	pG  Buyer         a customer (999) without a lead conversion: not in the view.
func lqFixture() map[string]viewtest.Rows {
	var credits viewtest.Rows
	both := func(conv, p, channel string, campaign, term any, convAt time.Time) {
		for _, m := range []string{"linear", "first_touch"} {
			credits = append(credits, lqCredit(conv, p, "lead", m, channel, campaign, term, 1, convAt))
		}
	}
	credits = append(credits,
		lqCredit("lA", "pA", "lead", "linear", "Paid Search", "brand", "crm software", 0.25, at(2, 0)),
		lqCredit("lA", "pA", "lead", "linear", "Email", "newsletter", nil, 0.25, at(2, 0)),
		lqCredit("lA", "pA", "lead", "linear", "Paid Search", "brand", "crm pricing", 0.25, at(2, 0)),
		lqCredit("lA", "pA", "lead", "linear", "Email", "newsletter", nil, 0.25, at(2, 0)),
		lqCredit("lA", "pA", "lead", "first_touch", "Paid Search", "brand", "crm software", 1, at(2, 0)),
		lqCredit("cA", "pA", "customer", "linear", "Email", "newsletter", nil, 1, at(7, 12)),
		lqCredit("lB1", "pB", "lead", "linear", "Organic Search", nil, "(not provided)", 0.5, at(1, 0)),
		lqCredit("lB1", "pB", "lead", "linear", "Email", "newsletter", nil, 0.5, at(1, 0)),
		lqCredit("lB1", "pB", "lead", "first_touch", "Organic Search", nil, "(not provided)", 1, at(1, 0)),
		lqCredit("lE", "pE", "lead", "linear", "Paid Social", "retarget", nil, 0.5, at(5, 12)),
		lqCredit("lE", "pE", "lead", "linear", "Paid Search", "generic", "crm pricing", 0.5, at(5, 12)),
		lqCredit("lE", "pE", "lead", "first_touch", "Paid Social", "retarget", nil, 1, at(5, 12)),
	)
	both("lB2", "pB", "Paid Search", "brand", "crm software", at(10, 0))
	both("lC", "pC", "(none)", nil, nil, at(3, 0))
	both("lD", "pD", "Paid Search", "brand", "crm software", at(4, 0))
	both("lF", "pF", "Email", "newsletter", nil, at(6, 0))

	return map[string]viewtest.Rows{
		"dim_person": {
			lqPerson("pA", "Buyer"), lqPerson("pB", "Buyer"), lqPerson("pC", "Practitioner"),
			lqPerson("pD", "Practitioner"), lqPerson("pE", "Practitioner"), lqPerson("pG", "Buyer"),
		},
		"fct_conversion": {
			lqConversion("lA", "pA", "lead", at(2, 0), nil),
			lqConversion("mA", "pA", "mql", at(3, 0), nil),
			lqConversion("sA", "pA", "sql", at(4, 0), nil),
			lqConversion("oA", "pA", "opportunity", at(5, 0), nil),
			lqConversion("cA", "pA", "customer", at(7, 12), 1000.0),
			lqConversion("lB1", "pB", "lead", at(1, 0), nil),
			lqConversion("lB2", "pB", "lead", at(10, 0), nil),
			lqConversion("mB", "pB", "mql", at(2, 0), nil),
			lqConversion("sB", "pB", "sql", at(3, 0), nil),
			lqConversion("oB", "pB", "opportunity", at(6, 0), nil),
			lqConversion("lC", "pC", "lead", at(3, 0), nil),
			lqConversion("cC", "pC", "customer", at(8, 6), nil),
			lqConversion("lD", "pD", "lead", at(4, 0), nil),
			lqConversion("mD", "pD", "mql", at(5, 0), nil),
			lqConversion("oD", "pD", "opportunity", at(5, 12), nil),
			lqConversion("cD1", "pD", "customer", at(6, 0), 400.0),
			lqConversion("cD2", "pD", "customer", at(20, 0), 100.0),
			lqConversion("lE", "pE", "lead", at(5, 12), nil),
			lqConversion("sE", "pE", "sql", at(4, 0), nil),
			lqConversion("cE", "pE", "customer", at(5, 0), 200.0),
			lqConversion("lF", "pF", "lead", at(6, 0), nil),
			lqConversion("mF", "pF", "mql", at(7, 0), nil),
			lqConversion("cG", "pG", "customer", at(9, 0), 999.0),
		},
		"fct_attribution": credits,
	}
}

const lqQuery = `SELECT channel, campaign, term, persona, lead_people, leads, mqls, sqls, opportunities,
	customers, lead_to_customer_rate, revenue, revenue_per_lead, median_days_to_close
FROM v_lead_quality WHERE model = $1 AND breakdown = $2
ORDER BY channel, campaign NULLS LAST, term NULLS LAST, persona`

// Columns of the rows below: channel | campaign | term | persona | lead_people | leads |
// mqls | sqls | opportunities | customers | lead_to_customer_rate | revenue |
// revenue_per_lead | median_days_to_close.
func TestLeadQuality(t *testing.T) {
	for _, w := range viewtest.Load(t, lqFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{"model STRING", "scope STRING", "breakdown STRING", "channel STRING", "campaign STRING",
				"term STRING", "persona STRING", "lead_people INT64", "leads FLOAT64", "mqls FLOAT64", "sqls FLOAT64",
				"opportunities FLOAT64", "customers FLOAT64", "lead_to_customer_rate FLOAT64", "revenue FLOAT64",
				"revenue_per_lead FLOAT64", "median_days_to_close FLOAT64"},
				viewColumns(t, w.DB, "v_lead_quality"))

			assert.Equal(t, []string{
				// pC: a customer of unknown worth: revenue NULL, not 0.
				"(none) | NULL | NULL | Practitioner | 1 | 1 | 0 | 0 | 0 | 1 | 1 | NULL | NULL | 5.25",
				// pA 0.5 (two touches, one lead person) and pB 0.5: every stage to opportunity
				// 0.5 + 0.5; customers pA's 0.5, rate 0.5 / 1; revenue 0.5 x 1000 = 500, per
				// lead 500 / 1; median over pA alone.
				"Email | NULL | NULL | Buyer | 2 | 1 | 1 | 1 | 1 | 0.5 | 0.5 | 500 | 500 | 5.5",
				"Email | NULL | NULL | Unclassified | 1 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | NULL", // pF
				// pB's earliest lead; their second one (Paid Search) gives no row.
				"Organic Search | NULL | NULL | Buyer | 1 | 0.5 | 0.5 | 0.5 | 0.5 | 0 | 0 | 0 | 0 | NULL",
				// pA: 0.5 x 1000 = 500, 500 / 0.5 = 1000 per lead.
				"Paid Search | NULL | NULL | Buyer | 1 | 0.5 | 0.5 | 0.5 | 0.5 | 0.5 | 1 | 500 | 1000 | 5.5",
				// pD 1 and pE 0.5: leads 1.5; mqls pD 1; sqls pE 0.5; opportunities pD 1;
				// customers 1.5; revenue 1 x 500 + 0.5 x 200 = 600, 600 / 1.5 = 400 per lead;
				// median of pD's 2 and pE's -0.5 days, unweighted: 0.75.
				"Paid Search | NULL | NULL | Practitioner | 2 | 1.5 | 1 | 0.5 | 1 | 1.5 | 1 | 600 | 400 | 0.75",
				// pE: 0.5 x 200 = 100, 100 / 0.5 = 200 per lead.
				"Paid Social | NULL | NULL | Practitioner | 1 | 0.5 | 0 | 0.5 | 0 | 0.5 | 1 | 100 | 200 | -0.5",
			}, viewtest.Query(t, w.DB, lqQuery, "linear", "channel"))

			assert.Equal(t, []string{
				"(none) | NULL | NULL | Practitioner | 1 | 1 | 0 | 0 | 0 | 1 | 1 | NULL | NULL | 5.25",
				"Email | NULL | NULL | Unclassified | 1 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | NULL",
				"Organic Search | NULL | NULL | Buyer | 1 | 1 | 1 | 1 | 1 | 0 | 0 | 0 | 0 | NULL",         // pB
				"Paid Search | NULL | NULL | Buyer | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 1000 | 1000 | 5.5",       // pA
				"Paid Search | NULL | NULL | Practitioner | 1 | 1 | 1 | 0 | 1 | 1 | 1 | 500 | 500 | 2",    // pD
				"Paid Social | NULL | NULL | Practitioner | 1 | 1 | 0 | 1 | 0 | 1 | 1 | 200 | 200 | -0.5", // pE
			}, viewtest.Query(t, w.DB, lqQuery, "first_touch", "channel"))

			assert.Equal(t, []string{
				"(none) | NULL | NULL | Practitioner | 1 | 1 | 0 | 0 | 0 | 1 | 1 | NULL | NULL | 5.25",
				"Email | newsletter | NULL | Buyer | 2 | 1 | 1 | 1 | 1 | 0.5 | 0.5 | 500 | 500 | 5.5",
				"Email | newsletter | NULL | Unclassified | 1 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | NULL",
				// pB's Organic Search touch has no campaign.
				"Organic Search | NULL | NULL | Buyer | 1 | 0.5 | 0.5 | 0.5 | 0.5 | 0 | 0 | 0 | 0 | NULL",
				"Paid Search | brand | NULL | Buyer | 1 | 0.5 | 0.5 | 0.5 | 0.5 | 0.5 | 1 | 500 | 1000 | 5.5",
				"Paid Search | brand | NULL | Practitioner | 1 | 1 | 1 | 0 | 1 | 1 | 1 | 500 | 500 | 2", // pD
				// pE's half: 0.5 x 200 = 100.
				"Paid Search | generic | NULL | Practitioner | 1 | 0.5 | 0 | 0.5 | 0 | 0.5 | 1 | 100 | 200 | -0.5",
				"Paid Social | retarget | NULL | Practitioner | 1 | 0.5 | 0 | 0.5 | 0 | 0.5 | 1 | 100 | 200 | -0.5",
			}, viewtest.Query(t, w.DB, lqQuery, "linear", "campaign"))

			assert.Equal(t, []string{
				"(none) | NULL | NULL | Practitioner | 1 | 1 | 0 | 0 | 0 | 1 | 1 | NULL | NULL | 5.25",
				// Email touches have no keyword.
				"Email | NULL | NULL | Buyer | 2 | 1 | 1 | 1 | 1 | 0.5 | 0.5 | 500 | 500 | 5.5",
				"Email | NULL | NULL | Unclassified | 1 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | NULL",
				"Organic Search | NULL | (not provided) | Buyer | 1 | 0.5 | 0.5 | 0.5 | 0.5 | 0 | 0 | 0 | 0 | NULL",
				// pA's quarter on each keyword: 0.25 x 1000 = 250, 250 / 0.25 = 1000 per lead.
				"Paid Search | NULL | crm pricing | Buyer | 1 | 0.25 | 0.25 | 0.25 | 0.25 | 0.25 | 1 | 250 | 1000 | 5.5",
				"Paid Search | NULL | crm pricing | Practitioner | 1 | 0.5 | 0 | 0.5 | 0 | 0.5 | 1 | 100 | 200 | -0.5", // pE
				"Paid Search | NULL | crm software | Buyer | 1 | 0.25 | 0.25 | 0.25 | 0.25 | 0.25 | 1 | 250 | 1000 | 5.5",
				"Paid Search | NULL | crm software | Practitioner | 1 | 1 | 1 | 0 | 1 | 1 | 1 | 500 | 500 | 2", // pD
				"Paid Social | NULL | NULL | Practitioner | 1 | 0.5 | 0 | 0.5 | 0 | 0.5 | 1 | 100 | 200 | -0.5",
			}, viewtest.Query(t, w.DB, lqQuery, "linear", "keyword"))
		})
	}
}

// TestLeadQualityPartition: within a model, breakdown and persona the rows partition the
// persona's leads, so their leads add up to the number of lead persons of the persona
// (fct_conversion, counted apart from the view): Buyer 2 (pA, pB), Practitioner 3 (pC,
// pD, pE), Unclassified 1 (pF); and their customers to the persona's customers among
// them: Buyer 1 (pA), Practitioner 3, Unclassified 0.
func TestLeadQualityPartition(t *testing.T) {
	var want []string
	for _, m := range []string{"first_touch", "linear"} {
		for _, b := range []string{"campaign", "channel", "keyword"} {
			want = append(want,
				m+" | "+b+" | Buyer | 2 | 2 | 1",
				m+" | "+b+" | Practitioner | 3 | 3 | 3",
				m+" | "+b+" | Unclassified | 1 | 1 | 0")
		}
	}
	for _, w := range viewtest.Load(t, lqFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, want, viewtest.Query(t, w.DB, `
				SELECT q.model, q.breakdown, q.persona, q.leads, n.lead_people, q.customers
				FROM (
					SELECT model, breakdown, persona, SUM(leads) AS leads, SUM(customers) AS customers
					FROM v_lead_quality
					GROUP BY model, breakdown, persona
				) AS q
				FULL JOIN (
					SELECT COALESCE(dp.persona, 'Unclassified') AS persona, COUNT(DISTINCT c.person_id) AS lead_people
					FROM fct_conversion AS c
					LEFT JOIN dim_person AS dp ON dp.person_id = c.person_id
					WHERE c.conversion_type = 'lead'
					GROUP BY COALESCE(dp.persona, 'Unclassified')
				) AS n ON n.persona = q.persona
				ORDER BY q.model, q.breakdown, q.persona`))
		})
	}
}

// An empty warehouse has no rows; so has one with conversions but no attributed lead.
func TestLeadQualityEdges(t *testing.T) {
	noCredits := lqFixture()
	delete(noCredits, "fct_attribution")
	for name, fixture := range map[string]map[string]viewtest.Rows{"empty": nil, "no credits": noCredits} {
		for _, w := range viewtest.Load(t, fixture) {
			assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_lead_quality`), "%s, %s", name, w.Dialect)
		}
	}
}
