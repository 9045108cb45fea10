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
		return map[string]any{"conversion_id": conv, "touchpoint_id": "t_" + conv + ch, "scope": "person", "model": model, "credit": c,
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
			// first_touch by touch day: customer 1 was touched on 2 March on Paid Search,
			// customer 2 and the lead on 3 March by Email; Paid Search spent 20 each day.
			got := viewtest.Query(t, w.DB, `SELECT day, conversion_type, channel, conversions, revenue, spend, cpa, cac, roas, roi
				FROM v_channel_performance WHERE date_basis = 'touch_date' AND model = 'first_touch'
				ORDER BY day, conversion_type, channel`)
			assert.Equal(t, []string{
				// 1 customer worth 100 for 20: CPA 20, CAC 20, ROAS 5, ROI (100-20)/20 = 4
				"2026-03-02 | customer | Paid Search | 1 | 100 | 20 | 20 | 20 | 5 | 4",
				// no lead that day: no CPA (never a division by 0); CAC is per customer
				"2026-03-02 | lead | Paid Search | 0 | NULL | 20 | NULL | 20 | NULL | NULL",
				"2026-03-03 | customer | Email | 1 | 300 | NULL | NULL | NULL | NULL | NULL",
				// spent 20, earned nothing: revenue 0, ROAS 0, ROI -1
				"2026-03-03 | customer | Paid Search | 0 | 0 | 20 | NULL | NULL | 0 | -1",
				// leads carry no revenue: NULL revenue, ROAS and ROI
				"2026-03-03 | lead | Email | 1 | NULL | NULL | NULL | NULL | NULL | NULL",
				"2026-03-03 | lead | Paid Search | 0 | NULL | 20 | NULL | NULL | NULL | NULL",
			}, got)

			// Over the period, by conversion day, linear: Paid Search earns customer 1 (100)
			// and half of customer 2 (150) for 40; Email the other half.
			got = viewtest.Query(t, w.DB, `SELECT channel, SUM(conversions), SUM(revenue), SUM(spend)
				FROM v_channel_performance WHERE date_basis = 'conversion_date' AND model = 'linear' AND conversion_type = 'customer'
				GROUP BY channel ORDER BY channel`)
			assert.Equal(t, []string{"Email | 0.5 | 150 | NULL", "Paid Search | 1.5 | 250 | 40"}, got)

			// Every credit is in both date bases: 3 conversions under 2 models.
			got = viewtest.Query(t, w.DB, `SELECT date_basis, SUM(conversions) FROM v_channel_performance GROUP BY date_basis ORDER BY date_basis`)
			assert.Equal(t, []string{"conversion_date | 6", "touch_date | 6"}, got) // 3 conversions x 2 models
		})
	}
}

// TestChannelPerformanceEmpty: an empty warehouse gives no rows, not an error.
func TestChannelPerformanceEmpty(t *testing.T) {
	for _, w := range viewtest.Load(t, nil) {
		assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_channel_performance`), w.Dialect)
	}
}
