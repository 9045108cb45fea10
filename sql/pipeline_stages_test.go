package views_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// pipelineStay is one fct_deal_stage row; days < 0 makes it the deal's current stay.
func pipelineStay(crm, deal string, pipeline any, stage string, number int64, days float64, closed, won bool) map[string]any {
	r := map[string]any{"crm": crm, "deal_id": deal, "pipeline": pipeline, "stage": stage, "stage_number": number,
		"entered_at": at(int(number), 0), "is_current": days < 0, "deal_is_closed": closed, "deal_is_won": won}
	if days >= 0 {
		r["days_in_stage"] = days
	}
	return r
}

// pipelineFixture, salesforce pipeline "Sales":
//
//	A won:  Discovery 2d > Proposal 3d > Closed Won (now)
//	B lost: Discovery 4d > Proposal 1d > Closed Lost (now): lost from Proposal
//	C open: Discovery 1d > Proposal (now)
//	D lost: Discovery (now), a single stay: lost from Discovery
//	E open: Discovery 1d > Proposal 2d > Discovery 2d > Proposal (now): back and forth
//
// and a hubspot deal F without pipeline, open in Discovery.
//
// Discovery: stays A1 B1 C1 D1 E1 E3 -> avg number 8/6, 5 deals, 6 entries, D still
// there, A B C E moved on, A won, B D lost, D lost from here, win rate 1/5, ended stays
// [1 1 2 2 4]: median 2, mean 2. Proposal: A2 B2 C2 E2 E4 -> 12/5, 4 deals, 5 entries, C
// and E still there, A B E moved on, A won, B lost and lost from here, win rate 1/4,
// ended [1 2 3]: median 2, mean 2.
func pipelineFixture() map[string]viewtest.Rows {
	sf := func(deal, stage string, n int64, days float64, closed, won bool) map[string]any {
		return pipelineStay("salesforce", deal, "Sales", stage, n, days, closed, won)
	}
	return map[string]viewtest.Rows{"fct_deal_stage": {
		sf("A", "Discovery", 1, 2, true, true), sf("A", "Proposal", 2, 3, true, true), sf("A", "Closed Won", 3, -1, true, true),
		sf("B", "Discovery", 1, 4, true, false), sf("B", "Proposal", 2, 1, true, false), sf("B", "Closed Lost", 3, -1, true, false),
		sf("C", "Discovery", 1, 1, false, false), sf("C", "Proposal", 2, -1, false, false),
		sf("D", "Discovery", 1, -1, true, false),
		sf("E", "Discovery", 1, 1, false, false), sf("E", "Proposal", 2, 2, false, false),
		sf("E", "Discovery", 3, 2, false, false), sf("E", "Proposal", 4, -1, false, false),
		pipelineStay("hubspot", "F", nil, "Discovery", 1, -1, false, false),
	}}
}

const pipelineQuery = `SELECT crm, pipeline, stage, avg_stage_number, deals_entered, entries, still_here, moved_on,
	won, lost, lost_from_here, win_rate, median_days_in_stage, avg_days_in_stage
	FROM v_pipeline_stages ORDER BY crm, avg_stage_number, stage`

func TestPipelineStages(t *testing.T) {
	for _, w := range viewtest.Load(t, pipelineFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{
				"hubspot | NULL | Discovery | 1 | 1 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | NULL | NULL",
				"salesforce | Sales | Discovery | 1.333333 | 5 | 6 | 1 | 4 | 1 | 2 | 1 | 0.2 | 2 | 2",
				"salesforce | Sales | Proposal | 2.4 | 4 | 5 | 2 | 3 | 1 | 1 | 1 | 0.25 | 2 | 2",
				"salesforce | Sales | Closed Lost | 3 | 1 | 1 | 1 | 0 | 0 | 1 | 0 | 0 | NULL | NULL",
				"salesforce | Sales | Closed Won | 3 | 1 | 1 | 1 | 0 | 1 | 0 | 0 | 1 | NULL | NULL",
			}, viewtest.Query(t, w.DB, pipelineQuery))
		})
	}
}

// An empty warehouse (no CRM stage history) has no rows, and no error.
func TestPipelineStagesEmpty(t *testing.T) {
	for _, w := range viewtest.Load(t, map[string]viewtest.Rows{}) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Empty(t, viewtest.Query(t, w.DB, pipelineQuery))
		})
	}
}
