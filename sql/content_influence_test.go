package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// contentView is one fct_page_view row; path nil is a view without page_path.
func contentView(p string, path any, t time.Time) map[string]any {
	return map[string]any{"person_id": p, "page_path": path, "occurred_at": t}
}

func contentConversion(id, p, typ string, t time.Time) map[string]any {
	return map[string]any{"conversion_id": id, "person_id": p, "conversion_type": typ, "occurred_at": t}
}

func contentCredit(conv, p, model string, revenue float64) map[string]any {
	return map[string]any{"conversion_id": conv, "person_id": p, "conversion_type": "customer", "occurred_at": day(9),
		"scope": "person", "model": model, "channel": "Email", "credit": 1.0, "revenue_credit": revenue}
}

// contentFixture: 7 visitors (p1, p2, p3, p4, p5, p7, p8: a touch or a page view) and
// p6, a lead from the CRM only (not a visitor).
//
//	p1  /pricing 2 Mar, /blog 3 Mar, /case-study 11 Mar; lead 4 Mar, mql 6 Mar,
//	    customer 10 Mar (linear revenue credits 60 + 40; first_touch 100 ignored)
//	p2  /pricing 5 Mar; lead 3 Mar (before the view), customer 9 Mar (linear 300)
//	p3  /blog 2 Mar, /case-study 2 Mar 01:00; only a micro-conversion (not a stage)
//	p4  a touch, no view; lead 3 Mar
//	p5  a touch, no view, no conversion
//	p6  no touch, no view; lead 5 Mar
//	p7  a view without page_path ('(not set)'), no conversion
//	p8  /blog 7 Mar and lead 7 Mar at the same instant: not a view BEFORE the lead
//
// Per stage: converters lead 5 (p1 p2 p4 p6 p8; 4 of them visitors), mql 1 (p1),
// sql 0, opportunity 0, customer 2 (p1 p2). Viewers: /pricing p1 p2, /blog p1 p3 p8,
// /case-study p1 p3, (not set) p7.
func contentFixture() map[string]viewtest.Rows {
	return map[string]viewtest.Rows{
		"fct_touchpoint": {
			{"touchpoint_id": "t4", "person_id": "p4", "occurred_at": day(2), "channel": "Direct"},
			{"touchpoint_id": "t5", "person_id": "p5", "occurred_at": day(2), "channel": "Direct"},
		},
		"fct_page_view": {
			contentView("p1", "/pricing", day(2)),
			contentView("p1", "/blog", day(3)),
			contentView("p1", "/blog", day(12)),
			contentView("p1", "/case-study", day(11)),
			contentView("p2", "/pricing", day(5)),
			contentView("p3", "/blog", day(2)),
			contentView("p3", "/case-study", at(2, 1)),
			contentView("p7", nil, day(1)),
			contentView("p8", "/blog", day(7)),
		},
		"fct_conversion": {
			contentConversion("l1", "p1", "lead", day(4)),
			contentConversion("m1", "p1", "mql", day(6)),
			contentConversion("w1", "p1", "customer", day(10)),
			contentConversion("l2", "p2", "lead", day(3)),
			contentConversion("w2", "p2", "customer", day(9)),
			contentConversion("f3", "p3", "form_submit", day(1)),
			contentConversion("l4", "p4", "lead", day(3)),
			contentConversion("l6", "p6", "lead", day(5)),
			contentConversion("l8", "p8", "lead", day(7)),
		},
		"fct_attribution": {
			contentCredit("w1", "p1", "linear", 60),
			contentCredit("w1", "p1", "linear", 40),
			contentCredit("w1", "p1", "first_touch", 100),
			contentCredit("w2", "p2", "linear", 300),
		},
	}
}

func TestContentInfluence(t *testing.T) {
	for _, w := range viewtest.Load(t, contentFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT conversion_type, page_path, people_viewed, converters_viewed, converters,
					non_converters_viewed, reach, conversion_rate_viewed, conversion_rate_not_viewed, lift, attributed_revenue
				FROM v_content_influence ORDER BY conversion_type, page_path`)
			assert.Equal(t, []string{
				// customer: 2 converters, both visitors; 7 visitors.
				// (not set): p7 did not buy; not viewed: 2 buyers / 6 others = 1/3; lift 0 / (1/3)
				"customer | (not set) | 1 | 0 | 2 | 1 | 0 | 0 | 0.333333 | 0 | NULL",
				// /blog: p1 before buying, p3 and p8 never bought: reach 1/2, rate 1/3;
				// not viewed: 1 buyer (p2) / 4 (p2 p4 p5 p7) = 0.25; lift (1/3) / 0.25; p1's 60 + 40
				"customer | /blog | 3 | 1 | 2 | 2 | 0.5 | 0.333333 | 0.25 | 1.333333 | 100",
				// /case-study: p1 saw it only after buying (11 Mar > 10 Mar): on no buyer's path.
				// not viewed: 1 buyer (p2) / 5 = 0.2
				"customer | /case-study | 2 | 0 | 2 | 1 | 0 | 0 | 0.2 | 0 | NULL",
				// /pricing: both buyers saw it first; no buyer among the 5 others: rate 0, no lift
				"customer | /pricing | 2 | 2 | 2 | 0 | 1 | 1 | 0 | NULL | 400",
				// lead: 5 converters, 4 of them visitors (p1 p2 p4 p8)
				// (not set): not viewed 4 / 6
				"lead | (not set) | 1 | 0 | 5 | 1 | 0 | 0 | 0.666667 | 0 | NULL",
				// /blog: p1 (3 Mar < 4 Mar) only, p8 viewed at the lead's instant (converted,
				// not through the page), p3 never: reach 1/5, rate 1/3; not viewed
				// (4 - p1 - p8) / (7 - 3) = 0.5; lift (1/3) / 0.5
				"lead | /blog | 3 | 1 | 5 | 1 | 0.2 | 0.333333 | 0.5 | 0.666667 | NULL",
				// /case-study: p1 after the lead, p3 never: (4 - 1) / (7 - 2) = 0.6
				"lead | /case-study | 2 | 0 | 5 | 1 | 0 | 0 | 0.6 | 0 | NULL",
				// /pricing: p1 before, p2 after the lead: rate 1/2; not viewed (4 - 2) / (7 - 2)
				"lead | /pricing | 2 | 1 | 5 | 0 | 0.2 | 0.5 | 0.4 | 1.25 | NULL",
				// mql: p1 only (6 Mar)
				"mql | (not set) | 1 | 0 | 1 | 1 | 0 | 0 | 0.166667 | 0 | NULL",
				"mql | /blog | 3 | 1 | 1 | 2 | 1 | 0.333333 | 0 | NULL | NULL",
				"mql | /case-study | 2 | 0 | 1 | 1 | 0 | 0 | 0 | NULL | NULL",
				"mql | /pricing | 2 | 1 | 1 | 1 | 1 | 0.5 | 0 | NULL | NULL",
				// nobody reached opportunity or sql: the pages are listed, reach and lift NULL
				"opportunity | (not set) | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
				"opportunity | /blog | 3 | 0 | 0 | 3 | NULL | 0 | 0 | NULL | NULL",
				"opportunity | /case-study | 2 | 0 | 0 | 2 | NULL | 0 | 0 | NULL | NULL",
				"opportunity | /pricing | 2 | 0 | 0 | 2 | NULL | 0 | 0 | NULL | NULL",
				"sql | (not set) | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
				"sql | /blog | 3 | 0 | 0 | 3 | NULL | 0 | 0 | NULL | NULL",
				"sql | /case-study | 2 | 0 | 0 | 2 | NULL | 0 | 0 | NULL | NULL",
				"sql | /pricing | 2 | 0 | 0 | 2 | NULL | 0 | 0 | NULL | NULL",
			}, got)
		})
	}
}

// TestContentInfluenceEdges: an empty warehouse gives no rows; page views without any
// conversion give every stage with 0 converters and NULL ratios (one visitor who saw
// the only page: nobody did not view it, so no not-viewed rate either).
func TestContentInfluenceEdges(t *testing.T) {
	for _, w := range viewtest.Load(t, nil) {
		assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_content_influence`), w.Dialect)
	}
	noConversions := map[string]viewtest.Rows{"fct_page_view": {contentView("p1", "/pricing", day(2))}}
	for _, w := range viewtest.Load(t, noConversions) {
		assert.Equal(t, []string{
			"customer | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | NULL | NULL | NULL",
			"lead | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | NULL | NULL | NULL",
			"mql | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | NULL | NULL | NULL",
			"opportunity | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | NULL | NULL | NULL",
			"sql | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | NULL | NULL | NULL",
		}, viewtest.Query(t, w.DB, `SELECT * FROM v_content_influence ORDER BY conversion_type`), w.Dialect)
	}
}
