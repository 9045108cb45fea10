package views_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// paPerson is a dim_person row of the given persona.
func paPerson(id, persona string) map[string]any {
	return map[string]any{"person_id": id, "identifier_count": 1, "anonymous_id_count": 1, "email_count": 0,
		"is_customer": false, "persona": persona}
}

// paWithPersonas adds a dim_person row per person of personas (person id -> persona) to
// fixture; the fixture's other people have no dim_person row, so they are Unclassified.
func paWithPersonas(fixture map[string]viewtest.Rows, personas map[string]string) map[string]viewtest.Rows {
	for id, p := range personas {
		fixture["dim_person"] = append(fixture["dim_person"], paPerson(id, p))
	}
	return fixture
}

// paRows returns the rows that start with prefix + " | ", without that prefix.
func paRows(rows []string, prefix string) []string {
	var out []string
	for _, r := range rows {
		if rest, ok := strings.CutPrefix(r, prefix+" | "); ok {
			out = append(out, rest)
		}
	}
	return out
}

// Channel performance per persona: channelFixture's customer c1 (100) is Enterprise's,
// customer c2 (300) SMB's; the lead c3's person has no dim_person row and c4, a customer
// without a known amount credited to Email (converted 4 March, touched 3 March), is of a
// person whose rule matched nothing: both Unclassified. Paid Search spends 20 on 2 and 3
// March, shown whole under every persona.
func TestChannelPerformanceByPersona(t *testing.T) {
	fixture := paWithPersonas(channelFixture(), map[string]string{"p_c1": "Enterprise", "p_c2": "SMB", "p_c4": unclassified})
	for _, m := range []string{"first_touch", "linear"} {
		fixture["fct_attribution"] = append(fixture["fct_attribution"], map[string]any{"conversion_id": "c4",
			"touchpoint_id": "t_c4", "scope": "person", "model": m, "credit": 1.0, "channel": "Email", "conversion_type": "customer",
			"occurred_at": at(4, 12), "touch_occurred_at": at(3, 12), "person_id": "p_c4"})
	}
	got := checkByPersona(t, "v_channel_performance", fixture,
		"date_basis, day, model, conversion_type, channel, conversions, revenue, spend, cpa, cac, roas, roi",
		"date_basis, day, model, conversion_type, channel")

	// Columns: conversions | revenue | spend | cpa | cac | roas | roi.
	ent := paRows(got["Enterprise"], "touch_date | 2026-03-02 | first_touch | customer | Paid Search")
	// c1, touched 2 March: 1 customer worth 100 for 20: CPA = CAC = 20, ROAS 5, ROI 4.
	assert.Equal(t, []string{"1 | 100 | 20 | 20 | 20 | 5 | 4"}, ent)
	// Enterprise has customers only: no lead row, not even for the spend days.
	assert.Empty(t, paRows(got["Enterprise"], "touch_date | 2026-03-02 | first_touch | lead | Paid Search"))

	// SMB, linear, touched 2 March: half of c2 (150) for the whole 20: CPA = CAC = 20 / 0.5
	// = 40, ROAS 7.5, ROI 130 / 20 = 6.5. Enterprise's ROAS that day is 100 / 20 = 5: 5 +
	// 7.5 = 12.5 = (100 + 150) / 20, v_channel_performance's.
	assert.Equal(t, []string{"0.5 | 150 | 20 | 40 | 40 | 7.5 | 6.5"},
		paRows(got["SMB"], "touch_date | 2026-03-02 | linear | customer | Paid Search"))
	// first_touch gives c2 to Email: Paid Search spent 20 and earned nothing from SMB.
	assert.Equal(t, []string{"0 | 0 | 20 | NULL | NULL | 0 | -1"},
		paRows(got["SMB"], "touch_date | 2026-03-02 | first_touch | customer | Paid Search"))

	// Unclassified: no credit of it carries revenue (c3 is a lead, c4's amount is
	// unknown), so its customer rows keep NULL revenue, ROAS and ROI, where the whole
	// warehouse's would show 0 and -1.
	assert.Equal(t, []string{"0 | NULL | 20 | NULL | NULL | NULL | NULL"},
		paRows(got[unclassified], "touch_date | 2026-03-02 | first_touch | customer | Paid Search"))
	assert.Equal(t, []string{"1 | NULL | NULL | NULL | NULL | NULL | NULL"},
		paRows(got[unclassified], "touch_date | 2026-03-03 | first_touch | customer | Email"))
	// The lead c3 (Email, 3 March) and the spend-only Paid Search row of that day.
	assert.Equal(t, []string{"1 | NULL | NULL | NULL | NULL | NULL | NULL"},
		paRows(got[unclassified], "touch_date | 2026-03-03 | first_touch | lead | Email"))
	assert.Equal(t, []string{"0 | NULL | 20 | NULL | NULL | NULL | NULL"},
		paRows(got[unclassified], "touch_date | 2026-03-03 | first_touch | lead | Paid Search"))
}

// Campaign ROI per persona: campaignFixture's customer c1 (200) is Enterprise's, the lead
// c2 SMB's, and the touchless customer c3 (60) is of a person without a dim_person row.
// Spend: brand 30 and Paid Social without a campaign 12 on 2 March, generic 50 on 4 March.
func TestCampaignROIByPersona(t *testing.T) {
	fixture := paWithPersonas(campaignFixture(), map[string]string{"p_c1": "Enterprise", "p_c2": "SMB"})
	got := checkByPersona(t, "v_campaign_roi", fixture,
		"date_basis, day, model, conversion_type, channel, campaign, conversions, revenue, spend, cpa, cac, roas, roi",
		"date_basis, day, model, conversion_type, channel, campaign NULLS LAST")

	// Columns: conversions | revenue | spend | cpa | cac | roas | roi.
	// Enterprise, linear, by touch day: half of c1 (100) on brand for 30: CPA = CAC = 60,
	// ROAS 100 / 30, ROI 70 / 30; half on Paid Social without a campaign for 12.
	assert.Equal(t, []string{"0.5 | 100 | 30 | 60 | 60 | 3.333333 | 2.333333"},
		paRows(got["Enterprise"], "touch_date | 2026-03-02 | linear | customer | Paid Search | brand"))
	assert.Equal(t, []string{"0.5 | 100 | 12 | 24 | 24 | 8.333333 | 7.333333"},
		paRows(got["Enterprise"], "touch_date | 2026-03-02 | linear | customer | Paid Social | NULL"))
	// generic's 50 buys nothing from Enterprise: revenue 0, ROAS 0, ROI -1.
	assert.Equal(t, []string{"0 | 0 | 50 | NULL | NULL | 0 | -1"},
		paRows(got["Enterprise"], "conversion_date | 2026-03-04 | linear | customer | Paid Search | generic"))

	// SMB has only the lead: CPA 30 / 1 = 30, and no CAC (the whole warehouse's lead row
	// has CAC 60 from Enterprise's customer). No customer rows at all.
	assert.Equal(t, []string{"1 | NULL | 30 | 30 | NULL | NULL | NULL"},
		paRows(got["SMB"], "touch_date | 2026-03-02 | linear | lead | Paid Search | brand"))
	assert.Empty(t, paRows(got["SMB"], "touch_date | 2026-03-02 | linear | customer | Paid Search | brand"))
	assert.Equal(t, []string{"0 | NULL | 12 | NULL | NULL | NULL | NULL"},
		paRows(got["SMB"], "touch_date | 2026-03-02 | linear | lead | Paid Social | NULL"))

	// Unclassified: c3 on its conversion day only; its touch_date rows are spend only.
	assert.Equal(t, []string{"1 | 60 | NULL | NULL | NULL | NULL | NULL"},
		paRows(got[unclassified], "conversion_date | 2026-03-04 | first_touch | customer | (none) | NULL"))
	assert.Equal(t, []string{"0 | 0 | 30 | NULL | NULL | 0 | -1"},
		paRows(got[unclassified], "touch_date | 2026-03-02 | first_touch | customer | Paid Search | brand"))
	assert.Empty(t, paRows(got[unclassified], "touch_date | 2026-03-04 | first_touch | customer | (none) | NULL"))
}

// Keyword revenue per persona, on keywordFixture: p1 and p2 are Enterprise, p3 and p5
// SMB, p6 Unclassified by rule and p4 without a dim_person row; p7, who only visited on
// "attribution tool", is Agency, which has no attributed conversion and so no rows.
func TestKeywordRevenueByPersona(t *testing.T) {
	fixture := paWithPersonas(keywordFixture(), map[string]string{"p1": "Enterprise", "p2": "Enterprise",
		"p3": "SMB", "p5": "SMB", "p6": unclassified, "p7": "Agency"})
	got := checkByPersona(t, "v_keyword_revenue", fixture,
		"model, term, channel, visitors, leads, customers, revenue, spend, roas", "model, term, channel")

	// Columns: term | channel | visitors | leads | customers | revenue | spend | roas.
	assert.Equal(t, []string{
		// p1's t9: a third of c1 (100).
		"(not provided) | Organic Search | 1 | 0 | 0.333333 | 100 | NULL | NULL",
		// the whole keyword spend shows, though no Enterprise person clicked.
		"attribution tool | Paid Search | 0 | 0 | 0 | 0 | 15 | 0",
		// p1 and p2; lead c2; 2/3 of c1 = 200 for 30 + 20: ROAS 4.
		"crm software | Paid Search | 2 | 1 | 0.666667 | 200 | 50 | 4",
		"free crm | Paid Search | 0 | 0 | 0 | 0 | 5 | 0",
	}, paRows(got["Enterprise"], "linear"))
	assert.Equal(t, []string{
		// c5's amount is unknown.
		"(not provided) | Paid Search | 1 | 0 | 1 | NULL | NULL | NULL",
		"attribution tool | Paid Search | 0 | 0 | 0 | 0 | 15 | 0",
		// p3's organic visit and lead c3.
		"crm software | Organic Search | 1 | 1 | 0 | 0 | NULL | NULL",
		// 50 spent on the keyword, nothing of it from SMB: ROAS 0 (Enterprise's 4 + 0 = 4,
		// the whole warehouse's).
		"crm software | Paid Search | 0 | 0 | 0 | 0 | 50 | 0",
		"free crm | Paid Search | 0 | 0 | 0 | 0 | 5 | 0",
	}, paRows(got["SMB"], "linear"))
	assert.Equal(t, []string{
		// p4's visit; p6's customer c4 came from a touch without a term: in no row, but it
		// gives Unclassified its models.
		"(not provided) | Organic Search | 1 | 0 | 0 | 0 | NULL | NULL",
		"attribution tool | Paid Search | 0 | 0 | 0 | 0 | 15 | 0",
		"crm software | Paid Search | 0 | 0 | 0 | 0 | 50 | 0",
		"free crm | Paid Search | 0 | 0 | 0 | 0 | 5 | 0",
	}, paRows(got[unclassified], "first_touch"))
	assert.Empty(t, got["Agency"])
}

// Social customers per persona, on socialFixture: p1 and p3 are Enterprise, p2, p5 and p6
// SMB, p7 Unclassified by rule, p4, p8 and p9 without a dim_person row. One more lead, c7,
// is p9's but credited to s7, p6's LinkedIn touch: on Unclassified's people alone that
// touch is not there, so its network is NULL.
func TestSocialCustomersByPersona(t *testing.T) {
	fixture := paWithPersonas(socialFixture(), map[string]string{"p1": "Enterprise", "p3": "Enterprise",
		"p2": "SMB", "p5": "SMB", "p6": "SMB", "p7": unclassified})
	for _, m := range []string{"linear", "first_touch"} {
		fixture["fct_attribution"] = append(fixture["fct_attribution"],
			socialCredit("c7", "p9", m, "lead", "s7", "Paid Social", 1, nil, at(3, 9), at(2, 9)))
	}
	got := checkByPersona(t, "v_social_customers", fixture,
		"model, network, channel, people_reached, leads, customers, revenue", "model, network NULLS LAST, channel")

	// Columns: network | channel | people_reached | leads | customers | revenue.
	assert.Equal(t, []string{
		// p1: a third of c1 (400 / 3) on each facebook channel; s8 (Paid Search) is out.
		"facebook | Organic Social | 1 | 0 | 0.333333 | 133.333333",
		"facebook | Paid Social | 1 | 0 | 0.333333 | 133.333333",
		// p3 and lead c2.
		"linkedin | Organic Social | 1 | 1 | 0 | 0",
	}, paRows(got["Enterprise"], "linear"))
	assert.Equal(t, []string{
		// p2 (fb) and lead c3.
		"facebook | Paid Social | 1 | 1 | 0 | 0",
		// p6 reached; c7's credit is not SMB's.
		"linkedin | Paid Social | 1 | 0 | 0 | 0",
		// p5: half of c4 (45) on each.
		"mastodon.social | Organic Social | 1 | 0 | 0.5 | 45",
		"x | Organic Social | 1 | 0 | 0.5 | 45",
	}, paRows(got["SMB"], "linear"))
	assert.Equal(t, []string{
		"instagram | Organic Social | 1 | 0 | 0 | 0",
		// p4 via t.co.
		"x | Organic Social | 1 | 0 | 0 | 0",
		// p7 without a source, lead c5.
		"NULL | Organic Social | 1 | 1 | 0 | 0",
		// c6 (touch not in fct_touchpoint) and c7 (touch of another persona): 2 leads.
		"NULL | Paid Social | 0 | 2 | 0 | 0",
	}, paRows(got[unclassified], "linear"))
}

// Time to convert per persona, on ttcFixture: q1 and q2 are Enterprise, q3 and q5 SMB, q6
// Unclassified by rule and q4 without a dim_person row. Percentiles are the persona's own.
func TestTimeToConvertByPersona(t *testing.T) {
	fixture := paWithPersonas(ttcFixture(), map[string]string{"q1": "Enterprise", "q2": "Enterprise",
		"q3": "SMB", "q5": "SMB", "q6": unclassified})
	got := checkByPersona(t, "v_time_to_convert", fixture,
		"conversion_type, channel, conversions, avg_touches, p25_days, median_days, p75_days, p90_days, median_touches",
		"conversion_type, channel")

	assert.Equal(t, []string{
		// q1 (3 touches, 5 days), q2 (2, 10): the whole warehouse's customer figures.
		"customer | Paid Search | 2 | 2.5 | 6.25 | 7.5 | 8.75 | 9.5 | 2.5",
		"customer | all | 2 | 2.5 | 6.25 | 7.5 | 8.75 | 9.5 | 2.5",
		// leads q1 (1 touch, 1 day), q2 (2, 0.5): days [0.5, 1]: p25 at 0.25 -> 0.5 + 0.25
		// * 0.5 = 0.625, median 0.75, p75 0.875, p90 at 0.9 -> 0.95; touches 1.5.
		"lead | Paid Search | 2 | 1.5 | 0.625 | 0.75 | 0.875 | 0.95 | 1.5",
		"lead | all | 2 | 1.5 | 0.625 | 0.75 | 0.875 | 0.95 | 1.5",
	}, got["Enterprise"])
	assert.Equal(t, []string{
		// q3 converted before its first touch: 0 touches, no days.
		"lead | Email | 1 | 0 | NULL | NULL | NULL | NULL | 0",
		// q5: 1 touch, 4 days.
		"lead | Paid Search | 1 | 1 | 4 | 4 | 4 | 4 | 1",
		// touches [0, 1]: mean and median 0.5; days only q5's.
		"lead | all | 2 | 0.5 | 4 | 4 | 4 | 4 | 0.5",
	}, got["SMB"])
	assert.Equal(t, []string{
		// q4, never touched.
		"customer | (none) | 1 | 0 | NULL | NULL | NULL | NULL | 0",
		"customer | all | 1 | 0 | NULL | NULL | NULL | NULL | 0",
		"lead | (none) | 1 | 0 | NULL | NULL | NULL | NULL | 0",
		// q6: 1 touch, 0.25 day.
		"lead | Paid Search | 1 | 1 | 0.25 | 0.25 | 0.25 | 0.25 | 1",
		"lead | all | 2 | 0.5 | 0.25 | 0.25 | 0.25 | 0.25 | 0.5",
	}, got[unclassified])
}
