package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// pathsTouch is one fct_touchpoint row of person p.
func pathsTouch(id, p, channel string, t time.Time) map[string]any {
	return map[string]any{"touchpoint_id": id, "person_id": p, "occurred_at": t, "channel": channel}
}

// pathsConversion is one fct_conversion row (revenue nil for the CRM stages before customer).
func pathsConversion(id, p, typ string, t time.Time, revenue any) map[string]any {
	return map[string]any{"conversion_id": id, "person_id": p, "occurred_at": t, "conversion_type": typ, "revenue": revenue}
}

// pathsCredit is one fct_attribution row; a touch id "" is the (none) row.
func pathsCredit(conv, p, typ string, convAt time.Time, model, touch, channel string, touchAt time.Time, credit float64) map[string]any {
	r := map[string]any{"conversion_id": conv, "person_id": p, "conversion_type": typ, "occurred_at": convAt,
		"scope": "person", "model": model, "channel": channel, "credit": credit}
	if touch != "" {
		r["touchpoint_id"], r["touch_occurred_at"] = touch, touchAt
	}
	return r
}

// pathsFixture: six people, linear journeys (the run's lookback) in fct_attribution.
//
//	p1  t1a Paid Search 2 Mar 09:00, t1b Email 3 Mar 09:00, t1c Email 4 Mar 09:00;
//	    lead c1 4 Mar 12:00, customer c2 6 Mar 00:00 (100): both journeys are the
//	    three touches, "Paid Search > Email > Email" (consecutive repeats kept)
//	p2  t2b Email and t2a Paid Search both 5 Mar 00:00 (same instant: touchpoint_id
//	    decides, t2a first), t2c Email 6 Mar; customer c3 8 Mar (300), no lead
//	p3  customer c4 7 Mar (50) without any touch: path (none)
//	p4  t4 Direct 3 Mar, never converts
//	p5  t5 Direct 4 Mar 00:00; lead c5 4 Mar 06:00, no customer
//	p6  t6a Organic Search 1 Mar, t6b Email 9 Mar; customer c6 10 Mar (200) whose
//	    journey (lookback) holds t6b only; no lead
//
// first_touch rows of c2 and c3 (a one-touch path) must not count.
func pathsFixture() map[string]viewtest.Rows {
	const lin = "linear"
	return map[string]viewtest.Rows{
		"fct_touchpoint": {
			pathsTouch("t1a", "p1", "Paid Search", at(2, 9)),
			pathsTouch("t1b", "p1", "Email", at(3, 9)),
			pathsTouch("t1c", "p1", "Email", at(4, 9)),
			pathsTouch("t2b", "p2", "Email", at(5, 0)),
			pathsTouch("t2a", "p2", "Paid Search", at(5, 0)),
			pathsTouch("t2c", "p2", "Email", at(6, 0)),
			pathsTouch("t4", "p4", "Direct", at(3, 0)),
			pathsTouch("t5", "p5", "Direct", at(4, 0)),
			pathsTouch("t6a", "p6", "Organic Search", at(1, 0)),
			pathsTouch("t6b", "p6", "Email", at(9, 0)),
		},
		"fct_conversion": {
			pathsConversion("c1", "p1", "lead", at(4, 12), nil),
			pathsConversion("c2", "p1", "customer", at(6, 0), 100.0),
			pathsConversion("c3", "p2", "customer", at(8, 0), 300.0),
			pathsConversion("c4", "p3", "customer", at(7, 0), 50.0),
			pathsConversion("c5", "p5", "lead", at(4, 6), nil),
			pathsConversion("c6", "p6", "customer", at(10, 0), 200.0),
		},
		"fct_attribution": {
			pathsCredit("c1", "p1", "lead", at(4, 12), lin, "t1c", "Email", at(4, 9), 1.0/3),
			pathsCredit("c1", "p1", "lead", at(4, 12), lin, "t1a", "Paid Search", at(2, 9), 1.0/3),
			pathsCredit("c1", "p1", "lead", at(4, 12), lin, "t1b", "Email", at(3, 9), 1.0/3),
			pathsCredit("c2", "p1", "customer", at(6, 0), lin, "t1b", "Email", at(3, 9), 1.0/3),
			pathsCredit("c2", "p1", "customer", at(6, 0), lin, "t1c", "Email", at(4, 9), 1.0/3),
			pathsCredit("c2", "p1", "customer", at(6, 0), lin, "t1a", "Paid Search", at(2, 9), 1.0/3),
			pathsCredit("c2", "p1", "customer", at(6, 0), "first_touch", "t1a", "Paid Search", at(2, 9), 1),
			pathsCredit("c3", "p2", "customer", at(8, 0), lin, "t2b", "Email", at(5, 0), 1.0/3),
			pathsCredit("c3", "p2", "customer", at(8, 0), lin, "t2c", "Email", at(6, 0), 1.0/3),
			pathsCredit("c3", "p2", "customer", at(8, 0), lin, "t2a", "Paid Search", at(5, 0), 1.0/3),
			pathsCredit("c3", "p2", "customer", at(8, 0), "first_touch", "t2a", "Paid Search", at(5, 0), 1),
			pathsCredit("c4", "p3", "customer", at(7, 0), lin, "", "(none)", time.Time{}, 1),
			pathsCredit("c5", "p5", "lead", at(4, 6), lin, "t5", "Direct", at(4, 0), 1),
			pathsCredit("c6", "p6", "customer", at(10, 0), lin, "t6b", "Email", at(9, 0), 1),
		},
	}
}

func TestTouchpointPaths(t *testing.T) {
	for _, w := range viewtest.Load(t, pathsFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT conversion_type, path, conversions, non_conversions, conversion_rate,
					avg_touches, avg_days_to_convert, revenue, rank
				FROM v_touchpoint_paths ORDER BY conversion_type, rank, path`)
			assert.Equal(t, []string{
				// c2 (p1) and c3 (p2), 3 touches each: days 2 Mar 09:00 -> 6 Mar 00:00 = 3.625
				// and 5 Mar -> 8 Mar = 3, avg 3.3125; revenue 100 + 300. Everybody with this
				// path bought: rate 2 / (2 + 0) = 1.
				"customer | Paid Search > Email > Email | 2 | 0 | 1 | 3 | 3.3125 | 400 | 1",
				// c4: no touch, no days; 0 touches
				"customer | (none) | 1 | 0 | 1 | 0 | NULL | 50 | 2",
				// c6: the journey keeps t6b only (9 Mar -> 10 Mar = 1 day)
				"customer | Email | 1 | 0 | 1 | 1 | 1 | 200 | 2",
				// p4 and p5 never bought, both with all their touches = Direct: rate 0 / (0 + 2)
				"customer | Direct | 0 | 2 | 0 | NULL | NULL | NULL | 4",
				// c5 (4 Mar 00:00 -> 06:00 = 0.25 day) and p4 who never became a lead: 1 / (1 + 1)
				"lead | Direct | 1 | 1 | 0.5 | 1 | 0.25 | NULL | 1",
				// c1 (2 Mar 09:00 -> 4 Mar 12:00 = 2.125 days) and p2, no lead, same touches
				"lead | Paid Search > Email > Email | 1 | 1 | 0.5 | 3 | 2.125 | NULL | 1",
				// p6 never became a lead: ALL their touches, beyond any lookback
				"lead | Organic Search > Email | 0 | 1 | 0 | NULL | NULL | NULL | 3",
			}, got)
		})
	}
}

// TestTouchpointPathsEdges: an empty warehouse, touches without any conversion, and a
// run without the linear model give no rows, not an error.
func TestTouchpointPathsEdges(t *testing.T) {
	noLinear := pathsFixture()
	var rows viewtest.Rows
	for _, r := range noLinear["fct_attribution"] {
		if r["model"] != "linear" {
			rows = append(rows, r)
		}
	}
	noLinear["fct_attribution"] = rows
	for name, fixture := range map[string]map[string]viewtest.Rows{
		"empty":          nil,
		"no conversions": {"fct_touchpoint": pathsFixture()["fct_touchpoint"]},
		"no linear":      noLinear,
	} {
		t.Run(name, func(t *testing.T) {
			for _, w := range viewtest.Load(t, fixture) {
				assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_touchpoint_paths`), w.Dialect)
			}
		})
	}
}
