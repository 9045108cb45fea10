package views_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// Personas of the fixtures below; unclassified (by_persona_test.go) is the third.
const (
	pbDev  = "Developer"
	pbExec = "Executive"
)

// pbPerson is one dim_person row of a persona.
func pbPerson(id, persona string) map[string]any {
	return map[string]any{"person_id": id, "identifier_count": 1, "anonymous_id_count": 1, "email_count": 0,
		"is_customer": false, "persona": persona}
}

// pbPeople lists dim_person rows: each persona's people.
func pbPeople(byPersona map[string][]string) viewtest.Rows {
	var out viewtest.Rows
	for persona, ids := range byPersona {
		for _, id := range ids {
			out = append(out, pbPerson(id, persona))
		}
	}
	return out
}

// TestDropoffPagesByPersona: dropoffFixture's people (see dropoff_pages_test.go) as
//
//	Developer     a1 a3 a8 a11
//	Executive     a2 a4 a5 a9 a10
//	Unclassified  a6 (persona Unclassified), a7 and u1 (no dim_person row); u1 touches
//	              1 Mar and views /pricing, a visitor who stops there
//
// Ranks are within the persona (visit: the base ranks /home 1, /blog and /pricing 2,
// /about 4; Developer ties /home and /pricing at 1), Executive's mql and Unclassified's
// visit have nobody advanced or somebody advanced on a page, and Developer's mql (a11
// stopped without a page) has no row.
func TestDropoffPagesByPersona(t *testing.T) {
	fixture := dropoffFixture()
	fixture["dim_person"] = pbPeople(map[string][]string{
		pbDev:        {"a1", "a3", "a8", "a11"},
		pbExec:       {"a2", "a4", "a5", "a9", "a10"},
		unclassified: {"a6"},
	})
	fixture["fct_touchpoint"] = append(fixture["fct_touchpoint"], dropoffTouch("u1", at(1, 0)))
	fixture["fct_page_view"] = append(fixture["fct_page_view"], dropoffView("u1", "/pricing", at(1, 3)))

	got := checkByPersona(t, "v_dropoff_pages", fixture,
		`stage, stage_order, page_path, rank, stopped_people, stopped_with_page, exit_share,
		advanced_people, advanced_with_page, advanced_share, lift`,
		`stage_order, rank, page_path`)
	assert.Equal(t, []string{
		// visit: stopped a1 (last /pricing) and a8 (/home); advanced a3 (/pricing) and
		// a11 (/home): 1/2 - 1/2 on both, a tie for rank 1.
		"visit | 1 | /home | 1 | 2 | 1 | 0.5 | 2 | 1 | 0.5 | 0",
		"visit | 1 | /pricing | 1 | 2 | 1 | 0.5 | 2 | 1 | 0.5 | 0",
		// lead: a3 stopped, last /docs; a11 advanced, last /pricing (a3 saw it too).
		"lead | 2 | /docs | 1 | 1 | 1 | 1 | 1 | 0 | 0 | 1",
		"lead | 2 | /pricing | 2 | 1 | 0 | 0 | 1 | 1 | 1 | -1",
	}, got[pbDev])
	assert.Equal(t, []string{
		// visit: stopped a2 (last /blog, saw /home and /about) and a9 (/home, saw /blog);
		// a4 advanced, last /pricing, a page no Executive who stopped saw: 0/1 on every row.
		"visit | 1 | /blog | 1 | 2 | 1 | 0.5 | 1 | 0 | 0 | 0.5",
		"visit | 1 | /home | 1 | 2 | 1 | 0.5 | 1 | 0 | 0 | 0.5",
		"visit | 1 | /about | 3 | 2 | 0 | 0 | 1 | 0 | 0 | 0",
		// lead: a4 and a5 both advanced, nobody stopped: no row. mql: a4 stopped on
		// /pricing, nobody advanced: NULL share and lift.
		"mql | 3 | /pricing | 1 | 1 | 1 | 1 | 0 | 0 | NULL | NULL",
		// sql: a5 stopped on /pricing, a10 advanced from /pricing: 1/1 - 1/1.
		"sql | 4 | /pricing | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 0",
	}, got[pbExec])
	assert.Equal(t, []string{
		// visit: u1 stopped on /pricing; a6 (no page) and a7 (/pricing) advanced: 1/1 - 1/2.
		// lead: a6 and a7 stopped without a page at the stage: no row.
		"visit | 1 | /pricing | 1 | 1 | 1 | 1 | 2 | 1 | 0.5 | 0.5",
	}, got[unclassified])
}

// TestTouchpointPathsByPersona: pathsFixture's people (see touchpoint_paths_test.go) as
//
//	Developer     p1 p4 p6
//	Executive     p2 p3
//	Unclassified  p5 (no dim_person row)
//
// The conversion types are the persona's: Executive has customer journeys only, so p2,
// who never became a lead, is on no lead row (the base counts them as a lead
// non-conversion); Unclassified has lead journeys only.
func TestTouchpointPathsByPersona(t *testing.T) {
	fixture := pathsFixture()
	fixture["dim_person"] = pbPeople(map[string][]string{
		pbDev:  {"p1", "p4", "p6"},
		pbExec: {"p2", "p3"},
	})
	got := checkByPersona(t, "v_touchpoint_paths", fixture,
		`conversion_type, path, conversions, non_conversions, conversion_rate, avg_touches,
		avg_days_to_convert, revenue, rank`,
		`conversion_type, rank, path`)
	assert.Equal(t, []string{
		// c6 (p6): t6b only, 9 -> 10 Mar = 1 day, 200; c2 (p1): 2 Mar 09:00 -> 6 Mar
		// 00:00 = 3.625 days, 100; p4 (Direct) never bought: 0 / (0 + 1).
		"customer | Email | 1 | 0 | 1 | 1 | 1 | 200 | 1",
		"customer | Paid Search > Email > Email | 1 | 0 | 1 | 3 | 3.625 | 100 | 1",
		"customer | Direct | 0 | 1 | 0 | NULL | NULL | NULL | 3",
		// c1 (p1): 2 Mar 09:00 -> 4 Mar 12:00 = 2.125 days; p4 and p6 never became leads,
		// p6 with ALL their touches.
		"lead | Paid Search > Email > Email | 1 | 0 | 1 | 3 | 2.125 | NULL | 1",
		"lead | Direct | 0 | 1 | 0 | NULL | NULL | NULL | 2",
		"lead | Organic Search > Email | 0 | 1 | 0 | NULL | NULL | NULL | 2",
	}, got[pbDev])
	assert.Equal(t, []string{
		// c4 (p3) without touches, 50; c3 (p2) 5 -> 8 Mar = 3 days, 300. No lead rows.
		"customer | (none) | 1 | 0 | 1 | 0 | NULL | 50 | 1",
		"customer | Paid Search > Email > Email | 1 | 0 | 1 | 3 | 3 | 300 | 1",
	}, got[pbExec])
	assert.Equal(t, []string{
		// c5 (p5): 4 Mar 00:00 -> 06:00 = 0.25 day; no customer journey: no customer row.
		"lead | Direct | 1 | 0 | 1 | 1 | 0.25 | NULL | 1",
	}, got[unclassified])
}

// TestContentInfluenceByPersona: contentFixture's people (see content_influence_test.go) as
//
//	Developer     p1 p3             visitors 2; lead, mql, customer: p1
//	Executive     p2 p4 p6 p8       visitors p2 p4 p8 (3); lead p2 p4 p6 p8 (4, 3 of
//	                                them visitors), customer p2, no mql
//	Unclassified  p7 (persona Unclassified), p5 (no dim_person row): visitors 2, no
//	              conversion; p7 viewed (not set)
//
// Visitors, converters and not-viewed rates are the persona's.
func TestContentInfluenceByPersona(t *testing.T) {
	fixture := contentFixture()
	fixture["dim_person"] = pbPeople(map[string][]string{
		pbDev:        {"p1", "p3"},
		pbExec:       {"p2", "p4", "p6", "p8"},
		unclassified: {"p7"},
	})
	got := checkByPersona(t, "v_content_influence", fixture,
		`conversion_type, page_path, people_viewed, converters_viewed, converters, non_converters_viewed,
		reach, conversion_rate_viewed, conversion_rate_not_viewed, lift, attributed_revenue`,
		`conversion_type, page_path`)
	dev := got[pbDev]
	assert.Len(t, dev, 15, "5 stages x 3 pages")
	assert.Subset(t, dev, []string{
		// p1 saw /blog before buying, p3 never bought: 1/1, 1/2; both visitors saw it, so
		// no not-viewed rate; p1's linear 60 + 40.
		"customer | /blog | 2 | 1 | 1 | 1 | 1 | 0.5 | NULL | NULL | 100",
		// p1 after buying (11 > 10 Mar), p3 never: on no buyer's path.
		"customer | /case-study | 2 | 0 | 1 | 1 | 0 | 0 | NULL | NULL | NULL",
		// p1 before; p3 did not view it and did not buy: not viewed (1 - 1) / (2 - 1) = 0.
		"customer | /pricing | 1 | 1 | 1 | 0 | 1 | 1 | 0 | NULL | 100",
		"lead | /pricing | 1 | 1 | 1 | 0 | 1 | 1 | 0 | NULL | NULL",
	})
	assert.Equal(t, []string{
		// customer: p2 saw /pricing before buying (5 < 9 Mar): not viewed (1 - 1) / (3 - 1);
		// p8 saw /blog and never bought: not viewed 1 buyer (p2) / 2 (p2 p4) = 0.5.
		"customer | /blog | 1 | 0 | 1 | 1 | 0 | 0 | 0.5 | 0 | NULL",
		"customer | /pricing | 1 | 1 | 1 | 0 | 1 | 1 | 0 | NULL | 300",
		// lead: 4 converters (p6 without a visit); p8 viewed at the lead's instant, p2
		// after it: not viewed (3 visitors converted - 1) / (3 - 1) = 1.
		"lead | /blog | 1 | 0 | 4 | 0 | 0 | 0 | 1 | 0 | NULL",
		"lead | /pricing | 1 | 0 | 4 | 0 | 0 | 0 | 1 | 0 | NULL",
		// no Executive reached mql, sql or opportunity.
		"mql | /blog | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
		"mql | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
		"opportunity | /blog | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
		"opportunity | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
		"sql | /blog | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
		"sql | /pricing | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL",
	}, got[pbExec])
	// p7 viewed (not set), p5 did not: not viewed 0 / (2 - 1) = 0 on every stage.
	assert.Contains(t, got[unclassified], "customer | (not set) | 1 | 0 | 0 | 1 | NULL | 0 | 0 | NULL | NULL")
	assert.Len(t, got[unclassified], 5)
}

// TestSalesActivityByPersona: salesFixture's people (see sales_activity_test.go) as
//
//	Developer     s1 s2
//	Executive     s3 s4 s5
//	Unclassified  s6 and u1 (no dim_person rows): u1 lead 2 Mar, Call/SDR 3 Mar, no more
//
// people_at_stage and the rates without the activity are the persona's (the base's lead
// Call/SDR row has 4 people at lead: Developer 2, Executive 2, Unclassified 1 here).
func TestSalesActivityByPersona(t *testing.T) {
	fixture := salesFixture()
	fixture["dim_person"] = pbPeople(map[string][]string{
		pbDev:  {"s1", "s2"},
		pbExec: {"s3", "s4", "s5"},
	})
	fixture["fct_touchpoint"] = append(fixture["fct_touchpoint"], salesTouch("u1a", "u1", "Sales: Call", "SDR", at(3, 0)))
	fixture["fct_conversion"] = append(fixture["fct_conversion"], salesStage("u1l", "u1", "lead", at(2, 0)))

	got := checkByPersona(t, "v_sales_activity", fixture,
		`stage, activity, owner_team, people_at_stage, people_with_activity, activities,
		advanced_with_activity, advance_rate_with, advance_rate_without, lift, dropped_with_activity`,
		`stage, activity, owner_team`)
	assert.Equal(t, []string{
		// lead: s1 (advanced) and s2 (not). s2's calls without a team: 0 / 1; s1, the
		// other one, advanced: 1 / 1.
		"lead | Sales: Call | (unknown) | 2 | 1 | 2 | 0 | 0 | 1 | -1 | 1",
		// s1 (2 calls) and s2 (1): 1 / 2; nobody at lead without it.
		"lead | Sales: Call | SDR | 2 | 2 | 3 | 1 | 0.5 | NULL | NULL | 1",
		"mql | Sales: Email | SDR | 1 | 1 | 1 | 1 | 1 | NULL | NULL | 0",
		// s1 never left sql.
		"sql | Sales: Meeting | AE | 1 | 1 | 1 | 0 | 0 | NULL | NULL | 1",
	}, got[pbDev])
	assert.Equal(t, []string{
		// lead: s3 and s4, both advanced; s3 called: 1 / 1, s4 not: 1 / 1, lift 0.
		"lead | Sales: Call | SDR | 2 | 1 | 1 | 1 | 1 | 1 | 0 | 0",
		// s4, s5 at mql without activity: no row.
		"opportunity | Sales: Meeting | AE | 1 | 1 | 1 | 1 | 1 | NULL | NULL | 0",
		"sql | Sales: Meeting | AE | 1 | 1 | 1 | 1 | 1 | NULL | NULL | 0",
	}, got[pbExec])
	assert.Equal(t, []string{
		"lead | Sales: Call | SDR | 1 | 1 | 1 | 0 | 0 | NULL | NULL | 1",
	}, got[unclassified])
}

// TestPipelineStagesByPersona: pipelineFixture's deals (see pipeline_stages_test.go)
// with a person on every stay:
//
//	Developer     A (d1, won), B (d2, lost from Proposal)
//	Executive     C (e1), E (e2), both open
//	Unclassified  D (u1, no dim_person row; lost from Discovery), hubspot F (no person)
//
// Medians, averages and lost_from_here are over the persona's stays.
func TestPipelineStagesByPersona(t *testing.T) {
	fixture := pipelineFixture()
	owner := map[string]any{"A": "d1", "B": "d2", "C": "e1", "E": "e2", "D": "u1", "F": nil}
	for _, r := range fixture["fct_deal_stage"] {
		r["person_id"] = owner[r["deal_id"].(string)]
	}
	fixture["dim_person"] = pbPeople(map[string][]string{pbDev: {"d1", "d2"}, pbExec: {"e1", "e2"}})

	got := checkByPersona(t, "v_pipeline_stages", fixture,
		`crm, pipeline, stage, avg_stage_number, deals_entered, entries, still_here, moved_on,
		won, lost, lost_from_here, win_rate, median_days_in_stage, avg_days_in_stage`,
		`crm, avg_stage_number, stage`)
	assert.Equal(t, []string{
		// Discovery: A 2d, B 4d, both moved on; A won, B lost (from Proposal, its last
		// stage before Closed Lost): median and mean (2 + 4) / 2.
		"salesforce | Sales | Discovery | 1 | 2 | 2 | 0 | 2 | 1 | 1 | 0 | 0.5 | 3 | 3",
		// Proposal: A 3d, B 1d; B lost from here.
		"salesforce | Sales | Proposal | 2 | 2 | 2 | 0 | 2 | 1 | 1 | 1 | 0.5 | 2 | 2",
		"salesforce | Sales | Closed Lost | 3 | 1 | 1 | 1 | 0 | 0 | 1 | 0 | 0 | NULL | NULL",
		"salesforce | Sales | Closed Won | 3 | 1 | 1 | 1 | 0 | 1 | 0 | 0 | 1 | NULL | NULL",
	}, got[pbDev])
	assert.Equal(t, []string{
		// Discovery: C1 1d, E1 1d, E3 2d: numbers (1 + 1 + 3) / 3, median 1, mean 4/3.
		"salesforce | Sales | Discovery | 1.666667 | 2 | 3 | 0 | 2 | 0 | 0 | 0 | 0 | 1 | 1.333333",
		// Proposal: C2 and E4 current, E2 2d: numbers (2 + 2 + 4) / 3.
		"salesforce | Sales | Proposal | 2.666667 | 2 | 3 | 2 | 1 | 0 | 0 | 0 | 0 | 2 | 2",
	}, got[pbExec])
	assert.Equal(t, []string{
		"hubspot | NULL | Discovery | 1 | 1 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | NULL | NULL",
		// D, a single stay, lost from there.
		"salesforce | Sales | Discovery | 1 | 1 | 1 | 1 | 0 | 0 | 1 | 1 | 0 | NULL | NULL",
	}, got[unclassified])
}
