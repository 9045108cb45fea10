package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// salesTouch is one fct_touchpoint row; team nil leaves source NULL.
func salesTouch(id, p, channel string, team any, t time.Time) map[string]any {
	return map[string]any{"touchpoint_id": id, "person_id": p, "occurred_at": t, "channel": channel, "source": team}
}

func salesStage(id, p, stage string, t time.Time) map[string]any {
	return map[string]any{"conversion_id": id, "person_id": p, "conversion_type": stage, "occurred_at": t}
}

// salesFixture: five people in the funnel and one outside it.
//
//	s1  lead 2 Mar, mql 4 Mar, sql 6 Mar (no further): Call/SDR 2 Mar (the lead's
//	    instant: at lead) and 3 Mar (lead), Email/SDR 4 Mar (the mql's instant: at mql,
//	    not lead), Meeting/AE 7 Mar (at sql, which s1 never left)
//	s2  lead 2 Mar (and again 4 Mar: the first counts), never further: Call/SDR 3 Mar,
//	    Call without team 5 Mar and with an empty team 6 Mar: '(unknown)'
//	s3  lead 2 Mar, sql 5 Mar (no mql: left lead at sql), opportunity 7 Mar, customer
//	    9 Mar: Call/SDR 1 Mar (before any stage: nowhere), Call/SDR 3 Mar (lead),
//	    Meeting/AE 6 Mar (sql), 8 Mar (opportunity), 10 Mar (after customer: nowhere);
//	    Paid Search and 'Sales Navigator' touches are not selling activities
//	s4  lead 2 Mar, mql 4 Mar: no activity
//	s5  mql 3 Mar (no lead), nothing after: no activity
//	s6  Call/SDR 3 Mar, never in the funnel: nowhere
//
// At stage: lead s1 s2 s3 s4 (advanced s1 s3 s4), mql s1 s4 s5 (advanced s1),
// sql s1 s3 (advanced s3), opportunity s3 (advanced).
func salesFixture() map[string]viewtest.Rows {
	const call, email, meeting = "Sales: Call", "Sales: Email", "Sales: Meeting"
	return map[string]viewtest.Rows{
		"fct_touchpoint": {
			salesTouch("a1", "s1", call, "SDR", at(2, 0)),
			salesTouch("a2", "s1", call, "SDR", at(3, 0)),
			salesTouch("a3", "s1", email, "SDR", at(4, 0)),
			salesTouch("a4", "s1", meeting, "AE", at(7, 0)),
			salesTouch("b1", "s2", call, "SDR", at(3, 0)),
			salesTouch("b2", "s2", call, nil, at(5, 0)),
			salesTouch("b3", "s2", call, "", at(6, 0)),
			salesTouch("c1", "s3", call, "SDR", at(1, 0)),
			salesTouch("c2", "s3", call, "SDR", at(3, 0)),
			salesTouch("c3", "s3", meeting, "AE", at(6, 0)),
			salesTouch("c4", "s3", meeting, "AE", at(8, 0)),
			salesTouch("c5", "s3", meeting, "AE", at(10, 0)),
			salesTouch("c6", "s3", "Paid Search", "google", at(3, 0)),
			salesTouch("c7", "s3", "Sales Navigator", "linkedin", at(3, 0)),
			salesTouch("f1", "s6", call, "SDR", at(3, 0)),
		},
		"fct_conversion": {
			salesStage("s1l", "s1", "lead", at(2, 0)),
			salesStage("s1m", "s1", "mql", at(4, 0)),
			salesStage("s1s", "s1", "sql", at(6, 0)),
			salesStage("s2l", "s2", "lead", at(2, 0)),
			salesStage("s2l2", "s2", "lead", at(4, 0)),
			salesStage("s3l", "s3", "lead", at(2, 0)),
			salesStage("s3s", "s3", "sql", at(5, 0)),
			salesStage("s3o", "s3", "opportunity", at(7, 0)),
			salesStage("s3c", "s3", "customer", at(9, 0)),
			salesStage("s4l", "s4", "lead", at(2, 0)),
			salesStage("s4m", "s4", "mql", at(4, 0)),
			salesStage("s5m", "s5", "mql", at(3, 0)),
		},
	}
}

func TestSalesActivity(t *testing.T) {
	for _, w := range viewtest.Load(t, salesFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT stage, activity, owner_team, people_at_stage, people_with_activity,
					activities, advanced_with_activity, advance_rate_with, advance_rate_without, lift, dropped_with_activity
				FROM v_sales_activity ORDER BY stage, activity, owner_team`)
			assert.Equal(t, []string{
				// s2's two calls without a team: s2 never advanced: 0 / 1; the 3 others at
				// lead all advanced: 3 / 3; lift 0 - 1
				"lead | Sales: Call | (unknown) | 4 | 1 | 2 | 0 | 0 | 1 | -1 | 1",
				// s1 (2 calls), s2, s3 (1 each): s1 and s3 advanced, 2 / 3; without it only
				// s4, who advanced: 1 / 1; lift 2/3 - 1; s2 dropped
				"lead | Sales: Call | SDR | 4 | 3 | 4 | 2 | 0.666667 | 1 | -0.333333 | 1",
				// s1 advanced to sql; s4 and s5 did not, without it: 0 / 2
				"mql | Sales: Email | SDR | 3 | 1 | 1 | 1 | 1 | 0 | 1 | 0",
				// s3 (7 -> 9 Mar) won; nobody at opportunity without it: no rate, no lift
				"opportunity | Sales: Meeting | AE | 1 | 1 | 1 | 1 | 1 | NULL | NULL | 0",
				// s1 (still at sql) and s3 (advanced): 1 / 2; everybody at sql had it
				"sql | Sales: Meeting | AE | 2 | 2 | 2 | 1 | 0.5 | NULL | NULL | 1",
			}, got)
		})
	}
}

// TestSalesActivityEdges: an empty warehouse, and a funnel without any selling
// activity (the warehouse before the CRM extractors add them), give no rows.
func TestSalesActivityEdges(t *testing.T) {
	noSales := salesFixture()
	noSales["fct_touchpoint"] = viewtest.Rows{
		salesTouch("c6", "s3", "Paid Search", "google", at(3, 0)),
		salesTouch("c7", "s3", "Sales Navigator", "linkedin", at(3, 0)),
	}
	for name, fixture := range map[string]map[string]viewtest.Rows{"empty": nil, "no selling activity": noSales} {
		t.Run(name, func(t *testing.T) {
			for _, w := range viewtest.Load(t, fixture) {
				assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_sales_activity`), w.Dialect)
			}
		})
	}
}
