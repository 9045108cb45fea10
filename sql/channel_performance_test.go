package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

func day(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }

func at(d, h int) time.Time { return day(d).Add(time.Duration(h) * time.Hour) }

// channelFixture: two customers (100 and 300) and a lead. first_touch gives customer 1
// to Paid Search and customer 2 to Email; linear splits customer 2 between Paid Search
// (touched 2 March) and Email (touched 3 March). Paid Search costs 20 a day on 2 and 3
// March; Email costs nothing.
func channelFixture() map[string]viewtest.Rows {
	credit := func(conv, model, typ, ch string, c float64, rev any, convAt, touchAt time.Time) map[string]any {
		return map[string]any{"conversion_id": conv, "touchpoint_id": "t_" + conv + ch, "model": model, "credit": c,
			"revenue_credit": rev, "channel": ch, "conversion_type": typ, "occurred_at": convAt, "touch_occurred_at": touchAt, "person_id": "p_" + conv}
	}
	return map[string]viewtest.Rows{
		"fct_attribution": {
			credit("c1", "first_touch", "customer", "Paid Search", 1, 100.0, at(4, 9), at(2, 9)),
			credit("c2", "first_touch", "customer", "Email", 1, 300.0, at(5, 9), at(3, 9)),
			credit("c1", "linear", "customer", "Paid Search", 1, 100.0, at(4, 9), at(2, 9)),
			credit("c2", "linear", "customer", "Paid Search", 0.5, 150.0, at(5, 9), at(2, 10)),
			credit("c2", "linear", "customer", "Email", 0.5, 150.0, at(5, 9), at(3, 9)),
			credit("c3", "first_touch", "lead", "Email", 1, nil, at(5, 10), at(3, 9)),
			credit("c3", "linear", "lead", "Email", 1, nil, at(5, 10), at(3, 9)),
		},
		"fct_spend": {
			{"date": day(2), "channel": "Paid Search", "source": "google", "medium": "cpc", "campaign": "brand", "cost": 20.0, "currency": "USD"},
			{"date": day(3), "channel": "Paid Search", "source": "google", "medium": "cpc", "campaign": "brand", "cost": 20.0, "currency": "USD"},
		},
	}
}

func TestChannelPerformance(t *testing.T) {
	for _, w := range viewtest.Load(t, channelFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			got := viewtest.Query(t, w.DB, `SELECT model, conversion_type, channel, conversions, revenue, spend, cpa, roas, roi
				FROM v_channel_performance ORDER BY model, conversion_type, channel`)
			assert.Equal(t, []string{
				"first_touch | customer | Email | 1 | 300 | NULL | NULL | NULL | NULL",
				// 40 spent, 1 customer worth 100: CPA 40, ROAS 2.5, ROI (100-40)/40 = 1.5
				"first_touch | customer | Paid Search | 1 | 100 | 40 | 40 | 2.5 | 1.5",
				"first_touch | lead | Email | 1 | NULL | NULL | NULL | NULL | NULL",
				// no lead on Paid Search: no conversions, so no CPA (never a division by 0)
				"first_touch | lead | Paid Search | 0 | NULL | 40 | NULL | NULL | NULL",
				"linear | customer | Email | 0.5 | 150 | NULL | NULL | NULL | NULL",
				// 1.5 customers, 250 revenue: CPA 40/1.5, ROAS 6.25, ROI 5.25
				"linear | customer | Paid Search | 1.5 | 250 | 40 | 26.666667 | 6.25 | 5.25",
				"linear | lead | Email | 1 | NULL | NULL | NULL | NULL | NULL",
				"linear | lead | Paid Search | 0 | NULL | 40 | NULL | NULL | NULL",
			}, got)
		})
	}
}
