package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"closedloop/sql/viewtest"
)

// campaignCredit is one fct_attribution row; touchAt nil makes it the (none) row of a
// conversion without touches.
func campaignCredit(conv, model, typ, ch string, campaign any, c float64, rev any, convAt time.Time, touchAt any) map[string]any {
	row := map[string]any{"conversion_id": conv, "scope": "person", "model": model, "credit": c, "revenue_credit": rev,
		"channel": ch, "campaign": campaign, "conversion_type": typ, "occurred_at": convAt,
		"touch_occurred_at": touchAt, "person_id": "p_" + conv}
	if touchAt != nil {
		row["touchpoint_id"] = "t_" + conv + "_" + ch
	}
	return row
}

func campaignSpend(d int, ch, source string, campaign any, cost float64) map[string]any {
	return map[string]any{"date": day(d), "channel": ch, "source": source, "medium": "cpc",
		"campaign": campaign, "cost": cost, "currency": "USD"}
}

// campaignFixture, under two models:
//   - c1, a customer worth 200 converting 3 March 10:00, touched on Paid Search "brand"
//     (2 March 09:00) and on Paid Social without a campaign (2 March 23:00, still 2
//     March in UTC). linear: 0.5 each (revenue 100 each); first_touch: 1 to brand.
//   - c2, a lead on 2 March 15:00 from the brand touch: credit 1 in both models.
//   - c3, a customer worth 60 on 4 March without touches: the (none) row, credit 1.
//
// Spend: brand on 2 March 20 (google) + 10 (bing) = 30; Paid Social without a campaign
// on 2 March 12; Paid Search "generic" on 4 March 50, which nothing converts on.
func campaignFixture() map[string]viewtest.Rows {
	return map[string]viewtest.Rows{
		"fct_attribution": {
			campaignCredit("c1", "linear", "customer", "Paid Search", "brand", 0.5, 100.0, at(3, 10), at(2, 9)),
			campaignCredit("c1", "linear", "customer", "Paid Social", nil, 0.5, 100.0, at(3, 10), at(2, 23)),
			campaignCredit("c1", "first_touch", "customer", "Paid Search", "brand", 1, 200.0, at(3, 10), at(2, 9)),
			campaignCredit("c2", "linear", "lead", "Paid Search", "brand", 1, nil, at(2, 15), at(2, 9)),
			campaignCredit("c2", "first_touch", "lead", "Paid Search", "brand", 1, nil, at(2, 15), at(2, 9)),
			campaignCredit("c3", "linear", "customer", "(none)", nil, 1, 60.0, at(4, 8), nil),
			campaignCredit("c3", "first_touch", "customer", "(none)", nil, 1, 60.0, at(4, 8), nil),
		},
		"fct_spend": {
			campaignSpend(2, "Paid Search", "google", "brand", 20),
			campaignSpend(2, "Paid Search", "bing", "brand", 10),
			campaignSpend(2, "Paid Social", "facebook", nil, 12),
			campaignSpend(4, "Paid Search", "google", "generic", 50),
		},
	}
}

const campaignQuery = `SELECT date_basis, day, conversion_type, channel, campaign, conversions, revenue,
	spend, cpa, cac, roas, roi
	FROM v_campaign_roi WHERE model = $1
	ORDER BY date_basis, day, conversion_type, channel, campaign NULLS LAST`

func TestCampaignROI(t *testing.T) {
	for _, w := range viewtest.Load(t, campaignFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{"date_basis STRING", "day DATE", "model STRING", "scope STRING", "conversion_type STRING",
				"channel STRING", "campaign STRING", "conversions FLOAT64", "revenue FLOAT64", "spend FLOAT64",
				"cpa FLOAT64", "cac FLOAT64", "roas FLOAT64", "roi FLOAT64"},
				viewColumns(t, w.DB, "v_campaign_roi"))

			// Columns: date_basis | day | type | channel | campaign | conversions | revenue |
			// spend | cpa | cac | roas | roi.
			linear := []string{
				// Spend on 2 March, but by conversion day nothing converted on 2 March except
				// the lead: the customer rows show the spend with 0 conversions, revenue 0,
				// ROAS 0 and ROI -1 (customers carry revenue; the lead rows keep NULL).
				"conversion_date | 2026-03-02 | customer | Paid Search | brand | 0 | 0 | 30 | NULL | NULL | 0 | -1",
				"conversion_date | 2026-03-02 | customer | Paid Social | NULL | 0 | 0 | 12 | NULL | NULL | 0 | -1",
				// c2: 30 / 1 lead = CPA 30; no customer that day, so no CAC.
				"conversion_date | 2026-03-02 | lead | Paid Search | brand | 1 | NULL | 30 | 30 | NULL | NULL | NULL",
				"conversion_date | 2026-03-02 | lead | Paid Social | NULL | 0 | NULL | 12 | NULL | NULL | NULL | NULL",
				// c1 converts on 3 March, a day without spend.
				"conversion_date | 2026-03-03 | customer | Paid Search | brand | 0.5 | 100 | NULL | NULL | NULL | NULL | NULL",
				"conversion_date | 2026-03-03 | customer | Paid Social | NULL | 0.5 | 100 | NULL | NULL | NULL | NULL | NULL",
				// c3 without touches: (none), on the conversion day only.
				"conversion_date | 2026-03-04 | customer | (none) | NULL | 1 | 60 | NULL | NULL | NULL | NULL | NULL",
				// generic: 50 spent, nothing credited, for every type (customer: ROI -1).
				"conversion_date | 2026-03-04 | customer | Paid Search | generic | 0 | 0 | 50 | NULL | NULL | 0 | -1",
				"conversion_date | 2026-03-04 | lead | Paid Search | generic | 0 | NULL | 50 | NULL | NULL | NULL | NULL",
				// By touch day, c1's credit falls on 2 March, with the spend:
				// brand: CPA = CAC = 30 / 0.5 = 60, ROAS 100 / 30, ROI (100 - 30) / 30 = 70 / 30.
				"touch_date | 2026-03-02 | customer | Paid Search | brand | 0.5 | 100 | 30 | 60 | 60 | 3.333333 | 2.333333",
				// Paid Social, no campaign: 12 / 0.5 = 24, ROAS 100 / 12, ROI 88 / 12.
				"touch_date | 2026-03-02 | customer | Paid Social | NULL | 0.5 | 100 | 12 | 24 | 24 | 8.333333 | 7.333333",
				// The lead row: CPA 30 / 1; CAC is the customers' (30 / 0.5), not the lead's.
				"touch_date | 2026-03-02 | lead | Paid Search | brand | 1 | NULL | 30 | 30 | 60 | NULL | NULL",
				"touch_date | 2026-03-02 | lead | Paid Social | NULL | 0 | NULL | 12 | NULL | 24 | NULL | NULL",
				// No (none) row for c3 by touch date; generic's spend still shows.
				"touch_date | 2026-03-04 | customer | Paid Search | generic | 0 | 0 | 50 | NULL | NULL | 0 | -1",
				"touch_date | 2026-03-04 | lead | Paid Search | generic | 0 | NULL | 50 | NULL | NULL | NULL | NULL",
			}
			assert.Equal(t, linear, viewtest.Query(t, w.DB, campaignQuery, "linear"))

			assert.Equal(t, []string{
				"conversion_date | 2026-03-02 | customer | Paid Search | brand | 0 | 0 | 30 | NULL | NULL | 0 | -1",
				// first_touch credits nothing to Paid Social: the spend shows with 0 conversions.
				"conversion_date | 2026-03-02 | customer | Paid Social | NULL | 0 | 0 | 12 | NULL | NULL | 0 | -1",
				"conversion_date | 2026-03-02 | lead | Paid Search | brand | 1 | NULL | 30 | 30 | NULL | NULL | NULL",
				"conversion_date | 2026-03-02 | lead | Paid Social | NULL | 0 | NULL | 12 | NULL | NULL | NULL | NULL",
				"conversion_date | 2026-03-03 | customer | Paid Search | brand | 1 | 200 | NULL | NULL | NULL | NULL | NULL",
				"conversion_date | 2026-03-04 | customer | (none) | NULL | 1 | 60 | NULL | NULL | NULL | NULL | NULL",
				"conversion_date | 2026-03-04 | customer | Paid Search | generic | 0 | 0 | 50 | NULL | NULL | 0 | -1",
				"conversion_date | 2026-03-04 | lead | Paid Search | generic | 0 | NULL | 50 | NULL | NULL | NULL | NULL",
				// The whole customer on brand: CPA = CAC = 30, ROAS 200 / 30, ROI 170 / 30.
				"touch_date | 2026-03-02 | customer | Paid Search | brand | 1 | 200 | 30 | 30 | 30 | 6.666667 | 5.666667",
				"touch_date | 2026-03-02 | customer | Paid Social | NULL | 0 | 0 | 12 | NULL | NULL | 0 | -1",
				"touch_date | 2026-03-02 | lead | Paid Search | brand | 1 | NULL | 30 | 30 | 30 | NULL | NULL",
				"touch_date | 2026-03-02 | lead | Paid Social | NULL | 0 | NULL | 12 | NULL | NULL | NULL | NULL",
				"touch_date | 2026-03-04 | customer | Paid Search | generic | 0 | 0 | 50 | NULL | NULL | 0 | -1",
				"touch_date | 2026-03-04 | lead | Paid Search | generic | 0 | NULL | 50 | NULL | NULL | NULL | NULL",
			}, viewtest.Query(t, w.DB, campaignQuery, "first_touch"))

			if w.Dialect == "postgres" {
				// The days are UTC days whatever the session's zone: in UTC+14 the touch at
				// 2 March 23:00 would otherwise move to 3 March.
				w.DB.SetMaxOpenConns(1)
				_, err := w.DB.Exec(`SET TIME ZONE 'Pacific/Kiritimati'`)
				require.NoError(t, err)
				assert.Equal(t, linear, viewtest.Query(t, w.DB, campaignQuery, "linear"))
			}
		})
	}
}

// Every campaign key is its own: NULL, the empty string and a campaign named like the key
// encoding ("=x" becomes the key "==x") do not meet; only the NULL spend meets the NULL
// touch.
func TestCampaignROIKeys(t *testing.T) {
	fixture := map[string]viewtest.Rows{
		"fct_attribution": {
			campaignCredit("c1", "linear", "customer", "Paid Search", nil, 1, 10.0, at(2, 12), at(2, 9)),
		},
		"fct_spend": {
			campaignSpend(2, "Paid Search", "google", nil, 5),
			campaignSpend(2, "Paid Search", "google", "", 7),
			campaignSpend(2, "Paid Search", "google", "=x", 9),
		},
	}
	for _, w := range viewtest.Load(t, fixture) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{
				"conversion_date |  | 0 | 0 | 7 | NULL | NULL | 0 | -1",
				"conversion_date | =x | 0 | 0 | 9 | NULL | NULL | 0 | -1",
				// 10 revenue on 5 spent: CPA = CAC = 5, ROAS 2, ROI (10 - 5) / 5 = 1.
				"conversion_date | NULL | 1 | 10 | 5 | 5 | 5 | 2 | 1",
				"touch_date |  | 0 | 0 | 7 | NULL | NULL | 0 | -1",
				"touch_date | =x | 0 | 0 | 9 | NULL | NULL | 0 | -1",
				"touch_date | NULL | 1 | 10 | 5 | 5 | 5 | 2 | 1",
			}, viewtest.Query(t, w.DB, `SELECT date_basis, campaign, conversions, revenue, spend, cpa, cac, roas, roi
				FROM v_campaign_roi ORDER BY date_basis, campaign NULLS LAST`))
		})
	}
}

// Without spend every cost measure is NULL; without any credited conversion there is no
// model to show spend under, so the view is empty, as it is on an empty warehouse.
func TestCampaignROIEdges(t *testing.T) {
	noSpend := campaignFixture()
	delete(noSpend, "fct_spend")
	noConversions := campaignFixture()
	delete(noConversions, "fct_attribution")
	cases := []struct {
		name    string
		fixture map[string]viewtest.Rows
		want    []string
	}{
		{"no spend", noSpend, []string{
			"conversion_date | 2026-03-02 | lead | Paid Search | brand | 1 | NULL | NULL | NULL | NULL | NULL | NULL",
			"conversion_date | 2026-03-03 | customer | Paid Search | brand | 0.5 | 100 | NULL | NULL | NULL | NULL | NULL",
			"conversion_date | 2026-03-03 | customer | Paid Social | NULL | 0.5 | 100 | NULL | NULL | NULL | NULL | NULL",
			"conversion_date | 2026-03-04 | customer | (none) | NULL | 1 | 60 | NULL | NULL | NULL | NULL | NULL",
			"touch_date | 2026-03-02 | customer | Paid Search | brand | 0.5 | 100 | NULL | NULL | NULL | NULL | NULL",
			"touch_date | 2026-03-02 | customer | Paid Social | NULL | 0.5 | 100 | NULL | NULL | NULL | NULL | NULL",
			"touch_date | 2026-03-02 | lead | Paid Search | brand | 1 | NULL | NULL | NULL | NULL | NULL | NULL",
		}},
		{"no conversions", noConversions, nil},
		{"empty warehouse", nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, w := range viewtest.Load(t, c.fixture) {
				t.Run(w.Dialect, func(t *testing.T) {
					assert.Equal(t, c.want, viewtest.Query(t, w.DB, campaignQuery, "linear"))
				})
			}
		})
	}
}
