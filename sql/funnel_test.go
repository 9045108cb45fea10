package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

func funnelTouch(id, p, channel string, t time.Time) map[string]any {
	return map[string]any{"touchpoint_id": id, "person_id": p, "occurred_at": t, "channel": channel}
}

func funnelConversion(id, p, typ string, t time.Time) map[string]any {
	return map[string]any{"conversion_id": id, "person_id": p, "occurred_at": t, "conversion_type": typ}
}

func funnelPerson(p, persona string) map[string]any {
	return map[string]any{"person_id": p, "identifier_count": 1, "anonymous_id_count": 1, "email_count": 0,
		"is_customer": false, "persona": persona}
}

// funnelFixture: six people. Stage times are each person's first touch (visit) and first
// conversion of each type; day(0) is 28 February.
//
//	p1  Paid Search  2026-03  visit 1/3 00:00, lead 2/3 (a second lead on 9/3 is ignored),
//	                          mql 4/3, sql 5/3, opportunity 7/3, customer 11/3
//	p2  Paid Search  2026-03  visit 1/3 12:00 (a Paid Search and an Email touch at the same
//	                          instant: the smaller touchpoint_id, Paid Search, wins),
//	                          lead 3/3 12:00, mql 5/3
//	p3  Email        2026-03  visit 2/3 only (a form_submit micro-conversion is no stage)
//	p4  Paid Search  2026-02  visit 28/2, lead 1/3, sql 3/3: skips mql
//	p5  (none)       2026-03  no touch: lead 6/3, mql 7/3
//	p6  (none)       2026-02  no touch: lead 2/3; cohort from their first conversion of any
//	                          type, a webinar micro-conversion on 25/2
//
// Personas (dim_person): p1, p4 Buyer; p2, p3 Practitioner; p5, p6 have no dim_person row,
// so Unclassified; p7 is a Buyer with neither touch nor conversion, in no funnel.
//
// Days from the previous stage (people who reached both):
//
//	lead:     p1 1, p2 2, p4 1           mql: p1 2, p2 1.5, p5 1
//	sql:      p1 1 (p4 has no mql)       opportunity: p1 2        customer: p1 4
func funnelFixture() map[string]viewtest.Rows {
	return map[string]viewtest.Rows{
		"dim_person": {
			funnelPerson("p1", "Buyer"),
			funnelPerson("p2", "Practitioner"),
			funnelPerson("p3", "Practitioner"),
			funnelPerson("p4", "Buyer"),
			funnelPerson("p7", "Buyer"),
		},
		"fct_touchpoint": {
			funnelTouch("t1a", "p1", "Paid Search", at(1, 0)),
			funnelTouch("t1b", "p1", "Email", at(3, 0)),
			funnelTouch("t2b", "p2", "Email", at(1, 12)),
			funnelTouch("t2a", "p2", "Paid Search", at(1, 12)),
			funnelTouch("t3", "p3", "Email", at(2, 0)),
			funnelTouch("t4", "p4", "Paid Search", at(0, 0)),
		},
		"fct_conversion": {
			funnelConversion("c1l", "p1", "lead", at(2, 0)),
			funnelConversion("c1l2", "p1", "lead", at(9, 0)),
			funnelConversion("c1m", "p1", "mql", at(4, 0)),
			funnelConversion("c1s", "p1", "sql", at(5, 0)),
			funnelConversion("c1o", "p1", "opportunity", at(7, 0)),
			funnelConversion("c1c", "p1", "customer", at(11, 0)),
			funnelConversion("c2l", "p2", "lead", at(3, 12)),
			funnelConversion("c2m", "p2", "mql", at(5, 0)),
			funnelConversion("c3f", "p3", "form_submit", at(2, 1)),
			funnelConversion("c4l", "p4", "lead", at(1, 0)),
			funnelConversion("c4s", "p4", "sql", at(3, 0)),
			funnelConversion("c5l", "p5", "lead", at(6, 0)),
			funnelConversion("c5m", "p5", "mql", at(7, 0)),
			funnelConversion("c6w", "p6", "webinar", at(-3, 0)),
			funnelConversion("c6l", "p6", "lead", at(2, 0)),
		},
	}
}

const funnelQuery = `SELECT breakdown, segment, stage, stage_order, people, previous_people,
	rate_from_previous, rate_from_visit, median_days_from_previous
FROM v_funnel ORDER BY breakdown, segment, stage_order`

func TestFunnel(t *testing.T) {
	for _, w := range viewtest.Load(t, funnelFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{
				// everybody: visit p1-p4; lead p1,p2,p4,p5,p6 (5/4: p5, p6 have no visit);
				// mql p1,p2,p5; sql p1,p4; opportunity and customer p1.
				"all | all | visit | 1 | 4 | NULL | NULL | 1 | NULL",
				"all | all | lead | 2 | 5 | 4 | 1.25 | 1.25 | 1",   // median(1, 2, 1)
				"all | all | mql | 3 | 3 | 5 | 0.6 | 0.75 | 1.5",   // median(2, 1.5, 1)
				"all | all | sql | 4 | 2 | 3 | 0.666667 | 0.5 | 1", // p1 only: p4 skipped mql
				"all | all | opportunity | 5 | 1 | 2 | 0.5 | 0.25 | 2",
				"all | all | customer | 6 | 1 | 1 | 1 | 0.25 | 4",
				// 2026-02: p4 (first touch 28/2) and p6 (no touch, webinar 25/2)
				"cohort_month | 2026-02 | visit | 1 | 1 | NULL | NULL | 1 | NULL",
				"cohort_month | 2026-02 | lead | 2 | 2 | 1 | 2 | 2 | 1", // p4 1 day; p6 has no visit
				"cohort_month | 2026-02 | mql | 3 | 0 | 2 | 0 | 0 | NULL",
				"cohort_month | 2026-02 | sql | 4 | 1 | 0 | NULL | 1 | NULL", // 1/0: NULL; p4 has no mql
				"cohort_month | 2026-02 | opportunity | 5 | 0 | 1 | 0 | 0 | NULL",
				"cohort_month | 2026-02 | customer | 6 | 0 | 0 | NULL | 0 | NULL",
				// 2026-03: p1, p2, p3, p5
				"cohort_month | 2026-03 | visit | 1 | 3 | NULL | NULL | 1 | NULL",
				"cohort_month | 2026-03 | lead | 2 | 3 | 3 | 1 | 1 | 1.5", // median(1, 2)
				"cohort_month | 2026-03 | mql | 3 | 3 | 3 | 1 | 1 | 1.5",  // median(2, 1.5, 1)
				"cohort_month | 2026-03 | sql | 4 | 1 | 3 | 0.333333 | 0.333333 | 1",
				"cohort_month | 2026-03 | opportunity | 5 | 1 | 1 | 1 | 0.333333 | 2",
				"cohort_month | 2026-03 | customer | 6 | 1 | 1 | 1 | 0.333333 | 4",
				// (none): p5, p6 never touched: no visit, so no rate from visit
				"first_touch_channel | (none) | visit | 1 | 0 | NULL | NULL | NULL | NULL",
				"first_touch_channel | (none) | lead | 2 | 2 | 0 | NULL | NULL | NULL",
				"first_touch_channel | (none) | mql | 3 | 1 | 2 | 0.5 | NULL | 1", // p5 lead 6/3 -> mql 7/3
				"first_touch_channel | (none) | sql | 4 | 0 | 1 | 0 | NULL | NULL",
				"first_touch_channel | (none) | opportunity | 5 | 0 | 0 | NULL | NULL | NULL",
				"first_touch_channel | (none) | customer | 6 | 0 | 0 | NULL | NULL | NULL",
				// Email: p3 only (p1's Email touch is not their first, p2's loses the tie)
				"first_touch_channel | Email | visit | 1 | 1 | NULL | NULL | 1 | NULL",
				"first_touch_channel | Email | lead | 2 | 0 | 1 | 0 | 0 | NULL",
				"first_touch_channel | Email | mql | 3 | 0 | 0 | NULL | 0 | NULL",
				"first_touch_channel | Email | sql | 4 | 0 | 0 | NULL | 0 | NULL",
				"first_touch_channel | Email | opportunity | 5 | 0 | 0 | NULL | 0 | NULL",
				"first_touch_channel | Email | customer | 6 | 0 | 0 | NULL | 0 | NULL",
				// Paid Search: p1, p2, p4
				"first_touch_channel | Paid Search | visit | 1 | 3 | NULL | NULL | 1 | NULL",
				"first_touch_channel | Paid Search | lead | 2 | 3 | 3 | 1 | 1 | 1",                 // median(1, 2, 1)
				"first_touch_channel | Paid Search | mql | 3 | 2 | 3 | 0.666667 | 0.666667 | 1.75", // (1.5 + 2) / 2
				"first_touch_channel | Paid Search | sql | 4 | 2 | 2 | 1 | 0.666667 | 1",           // p1 1; p4 left out
				"first_touch_channel | Paid Search | opportunity | 5 | 1 | 2 | 0.5 | 0.333333 | 2",
				"first_touch_channel | Paid Search | customer | 6 | 1 | 1 | 1 | 0.333333 | 4",
				// Buyer: p1, p4 (p7 reached nothing). Visits 2; leads 2 (p1 1 day, p4 1 day);
				// mql p1 (2 days); sql p1 and p4, who skipped mql: 2 / 1, median over p1 only;
				// opportunity and customer p1.
				"persona | Buyer | visit | 1 | 2 | NULL | NULL | 1 | NULL",
				"persona | Buyer | lead | 2 | 2 | 2 | 1 | 1 | 1",
				"persona | Buyer | mql | 3 | 1 | 2 | 0.5 | 0.5 | 2",
				"persona | Buyer | sql | 4 | 2 | 1 | 2 | 1 | 1",
				"persona | Buyer | opportunity | 5 | 1 | 2 | 0.5 | 0.5 | 2",
				"persona | Buyer | customer | 6 | 1 | 1 | 1 | 0.5 | 4",
				// Practitioner: p2 (visit, lead 2 days later, mql 1.5 days after that), p3
				// (visit only).
				"persona | Practitioner | visit | 1 | 2 | NULL | NULL | 1 | NULL",
				"persona | Practitioner | lead | 2 | 1 | 2 | 0.5 | 0.5 | 2",
				"persona | Practitioner | mql | 3 | 1 | 1 | 1 | 0.5 | 1.5",
				"persona | Practitioner | sql | 4 | 0 | 1 | 0 | 0 | NULL",
				"persona | Practitioner | opportunity | 5 | 0 | 0 | NULL | 0 | NULL",
				"persona | Practitioner | customer | 6 | 0 | 0 | NULL | 0 | NULL",
				// Unclassified: p5, p6 without a dim_person row, both without a visit; p5's
				// mql 1 day after the lead.
				"persona | Unclassified | visit | 1 | 0 | NULL | NULL | NULL | NULL",
				"persona | Unclassified | lead | 2 | 2 | 0 | NULL | NULL | NULL",
				"persona | Unclassified | mql | 3 | 1 | 2 | 0.5 | NULL | 1",
				"persona | Unclassified | sql | 4 | 0 | 1 | 0 | NULL | NULL",
				"persona | Unclassified | opportunity | 5 | 0 | 0 | NULL | NULL | NULL",
				"persona | Unclassified | customer | 6 | 0 | 0 | NULL | NULL | NULL",
			}, viewtest.Query(t, w.DB, funnelQuery))

			// Each breakdown counts every person once: the segments add up to 'all'.
			assert.Equal(t, []string{
				"all | 4 | 5 | 1",
				"cohort_month | 4 | 5 | 1",
				"first_touch_channel | 4 | 5 | 1",
				"persona | 4 | 5 | 1", // visit 2 + 2 + 0, lead 2 + 1 + 2, customer 1 + 0 + 0
			}, viewtest.Query(t, w.DB, `SELECT breakdown,
					SUM(CASE WHEN stage = 'visit' THEN people END),
					SUM(CASE WHEN stage = 'lead' THEN people END),
					SUM(CASE WHEN stage = 'customer' THEN people END)
				FROM v_funnel GROUP BY breakdown ORDER BY breakdown`))
		})
	}
}

// TestFunnelEdges: an empty warehouse still has every bar of the 'all' funnel, at 0 with
// NULL rates; touches without any conversion give a funnel that stops at visit.
func TestFunnelEdges(t *testing.T) {
	empty := []string{
		"all | all | visit | 1 | 0 | NULL | NULL | NULL | NULL",
		"all | all | lead | 2 | 0 | 0 | NULL | NULL | NULL",
		"all | all | mql | 3 | 0 | 0 | NULL | NULL | NULL",
		"all | all | sql | 4 | 0 | 0 | NULL | NULL | NULL",
		"all | all | opportunity | 5 | 0 | 0 | NULL | NULL | NULL",
		"all | all | customer | 6 | 0 | 0 | NULL | NULL | NULL",
	}
	for _, w := range viewtest.Load(t, nil) {
		assert.Equal(t, empty, viewtest.Query(t, w.DB, funnelQuery), w.Dialect)
	}

	// No conversions: two visitors of March, one per channel; only micro-conversions.
	noConversions := map[string]viewtest.Rows{
		"fct_touchpoint": {
			funnelTouch("t1", "p1", "Direct", at(1, 0)),
			funnelTouch("t2", "p2", "Organic Search", at(2, 0)),
		},
		"fct_conversion": {funnelConversion("c1", "p1", "form_submit", at(1, 1))},
	}
	for _, w := range viewtest.Load(t, noConversions) {
		got := viewtest.Query(t, w.DB, funnelQuery+` LIMIT 3`)
		assert.Equal(t, []string{
			"all | all | visit | 1 | 2 | NULL | NULL | 1 | NULL",
			"all | all | lead | 2 | 0 | 2 | 0 | 0 | NULL",
			"all | all | mql | 3 | 0 | 0 | NULL | 0 | NULL",
		}, got, w.Dialect)
		assert.Equal(t, []string{
			"all | all | 6 | 2",
			"cohort_month | 2026-03 | 6 | 2",
			"first_touch_channel | Direct | 6 | 1",
			"first_touch_channel | Organic Search | 6 | 1",
			"persona | Unclassified | 6 | 2", // no dim_person rows
		}, viewtest.Query(t, w.DB, `SELECT breakdown, segment, COUNT(*), SUM(people)
			FROM v_funnel GROUP BY breakdown, segment ORDER BY breakdown, segment`), w.Dialect)
	}
}
