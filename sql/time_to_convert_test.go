package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

func ttcTouch(id, p, channel string, t time.Time) map[string]any {
	return map[string]any{"touchpoint_id": id, "person_id": p, "occurred_at": t, "channel": channel}
}

func ttcConversion(id, p, typ string, t time.Time) map[string]any {
	return map[string]any{"conversion_id": id, "person_id": p, "occurred_at": t, "conversion_type": typ}
}

// ttcFixture: each person's first touch gives their channel; touches_before counts the
// touches at or before the conversion, days run from the first touch.
//
//	q1  Paid Search 1/3, Email 3/3, Sales: Call 5/3, Email 20/3
//	    lead 2/3 (a second lead 10/3 is ignored): 1 touch, 1 day
//	    customer 6/3: 3 touches, 5 days
//	q2  Paid Search 1/3 0h and 12h
//	    lead 1/3 12h (the touch at the same instant counts): 2 touches, 0.5 day
//	    customer 11/3: 2 touches, 10 days
//	q3  Email 4/3, after its lead 2/3: 0 touches, no days
//	q4  no touch: lead 3/3, customer 9/3: channel (none), 0 touches, no days
//	q5  Paid Search 2/3: lead 6/3 (and a form_submit, not a funnel type): 1 touch, 4 days
//	q6  Paid Search 1/3: lead 1/3 6h: 1 touch, 0.25 day
//
// Percentiles interpolate like PERCENTILE_CONT: over n sorted values, p sits at position
// p * (n - 1) (0-based). Lead days [0.25, 0.5, 1, 4]: p25 at 0.75 -> 0.25 + 0.75 * 0.25 =
// 0.4375; median at 1.5 -> 0.75; p75 at 2.25 -> 1 + 0.25 * 3 = 1.75; p90 at 2.7 -> 1 + 0.7
// * 3 = 3.1. Customer days [5, 10]: 6.25, 7.5, 8.75, 9.5.
func ttcFixture() map[string]viewtest.Rows {
	return map[string]viewtest.Rows{
		"fct_touchpoint": {
			ttcTouch("t1a", "q1", "Paid Search", at(1, 0)),
			ttcTouch("t1b", "q1", "Email", at(3, 0)),
			ttcTouch("t1c", "q1", "Sales: Call", at(5, 0)),
			ttcTouch("t1d", "q1", "Email", at(20, 0)),
			ttcTouch("t2a", "q2", "Paid Search", at(1, 0)),
			ttcTouch("t2b", "q2", "Paid Search", at(1, 12)),
			ttcTouch("t3", "q3", "Email", at(4, 0)),
			ttcTouch("t5", "q5", "Paid Search", at(2, 0)),
			ttcTouch("t6", "q6", "Paid Search", at(1, 0)),
		},
		"fct_conversion": {
			ttcConversion("c1l", "q1", "lead", at(2, 0)),
			ttcConversion("c1l2", "q1", "lead", at(10, 0)),
			ttcConversion("c1c", "q1", "customer", at(6, 0)),
			ttcConversion("c2l", "q2", "lead", at(1, 12)),
			ttcConversion("c2c", "q2", "customer", at(11, 0)),
			ttcConversion("c3l", "q3", "lead", at(2, 0)),
			ttcConversion("c4l", "q4", "lead", at(3, 0)),
			ttcConversion("c4c", "q4", "customer", at(9, 0)),
			ttcConversion("c5l", "q5", "lead", at(6, 0)),
			ttcConversion("c5f", "q5", "form_submit", at(6, 0)),
			ttcConversion("c6l", "q6", "lead", at(1, 6)),
		},
	}
}

const ttcQuery = `SELECT conversion_type, channel, conversions, avg_touches, p25_days, median_days,
	p75_days, p90_days, median_touches
FROM v_time_to_convert ORDER BY conversion_type, channel`

func TestTimeToConvert(t *testing.T) {
	for _, w := range viewtest.Load(t, ttcFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{
				// q4 (none): 0 touches; its days are NULL.
				"customer | (none) | 1 | 0 | NULL | NULL | NULL | NULL | 0",
				// Paid Search q1 (3 touches, 5 days), q2 (2, 10): avg 2.5, median touches 2.5
				"customer | Paid Search | 2 | 2.5 | 6.25 | 7.5 | 8.75 | 9.5 | 2.5",
				// all: q1, q2, q4: touches (3 + 2 + 0) / 3, median of [0, 2, 3] = 2; days as Paid Search
				"customer | all | 3 | 1.666667 | 6.25 | 7.5 | 8.75 | 9.5 | 2",
				"lead | (none) | 1 | 0 | NULL | NULL | NULL | NULL | 0",
				// Email: q3 converted before its first touch: 0 touches, no days
				"lead | Email | 1 | 0 | NULL | NULL | NULL | NULL | 0",
				// Paid Search q1 (1, 1), q2 (2, 0.5), q5 (1, 4), q6 (1, 0.25): touches 5/4,
				// median of [1, 1, 1, 2] = 1
				"lead | Paid Search | 4 | 1.25 | 0.4375 | 0.75 | 1.75 | 3.1 | 1",
				// all: touches [1, 2, 0, 0, 1, 1]: 5/6, median of [0, 0, 1, 1, 1, 2] = 1
				"lead | all | 6 | 0.833333 | 0.4375 | 0.75 | 1.75 | 3.1 | 1",
			}, viewtest.Query(t, w.DB, ttcQuery))
		})
	}
}

// TestTimeToConvertEdges: an empty warehouse gives no rows; conversions without any
// touch give (none) rows with 0 touches and NULL days; touches and micro-conversions
// without a CRM funnel conversion give no rows.
func TestTimeToConvertEdges(t *testing.T) {
	for _, w := range viewtest.Load(t, nil) {
		assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_time_to_convert`), w.Dialect)
	}
	noTouches := map[string]viewtest.Rows{
		"fct_conversion": {
			ttcConversion("c1", "r1", "mql", at(1, 0)),
			ttcConversion("c2", "r2", "mql", at(2, 0)),
		},
	}
	for _, w := range viewtest.Load(t, noTouches) {
		assert.Equal(t, []string{
			"mql | (none) | 2 | 0 | NULL | NULL | NULL | NULL | 0",
			"mql | all | 2 | 0 | NULL | NULL | NULL | NULL | 0",
		}, viewtest.Query(t, w.DB, ttcQuery), w.Dialect)
	}
	noFunnel := map[string]viewtest.Rows{
		"fct_touchpoint": {ttcTouch("t1", "r1", "Direct", at(1, 0))},
		"fct_conversion": {ttcConversion("c1", "r1", "form_submit", at(1, 1))},
	}
	for _, w := range viewtest.Load(t, noFunnel) {
		assert.Empty(t, viewtest.Query(t, w.DB, ttcQuery), w.Dialect)
	}
}
