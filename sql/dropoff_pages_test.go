package views_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

func dropoffTouch(p string, t time.Time) map[string]any {
	return map[string]any{"touchpoint_id": "t_" + p, "person_id": p, "occurred_at": t, "channel": "Direct"}
}

func dropoffConversion(p, typ string, t time.Time) map[string]any {
	return map[string]any{"conversion_id": p + "_" + typ, "person_id": p, "occurred_at": t, "conversion_type": typ}
}

func dropoffView(p string, path any, t time.Time) map[string]any {
	return map[string]any{"person_id": p, "page_path": path, "occurred_at": t}
}

// dropoffFixture: every person with a touch visits on 1 March 00:00 (at(1, 0)).
//
//	a1  visit only             views /home 1/3 0h, /pricing 1h            stops at visit, last /pricing
//	a2  visit only             views /home 0h, /about 1h, /blog 2h        stops at visit, last /blog
//	a3  lead 2/3               views /home 0h, /pricing 1h (at visit), /pricing 2/3 12h and
//	                           /docs 3/3 (at lead): advances from visit with last /pricing,
//	                           stops at lead, last /docs
//	a4  lead 1/3 1h, mql 2/3   views /pricing 0h (visit), /pricing 2h and /case-study 3h
//	                           (lead), /pricing 2/3 1h (mql): advances from visit with last
//	                           /pricing, from lead with last /case-study; stops at mql, last
//	                           /pricing
//	a5  no touch: lead 1/3, sql 2/3 (no mql: advances from lead all the same, never at mql)
//	                           views /demo 1/3 5h (lead), /pricing 2/3 5h (sql): advances
//	                           from lead with last /demo; stops at sql, last /pricing
//	a6  lead 1/3 0h, the instant of the touch, no page view: advances from visit with no
//	                           page, stops at lead with no page
//	a7  lead 1/3 6h            views /pricing 0h, before the lead: advances from visit with
//	                           last /pricing; stops at lead with no page at the stage
//	a8  visit only             views /home 0h, then a view without page_path 5h (left out):
//	                           last /home
//	a9  visit only             views /blog and /home at the same instant 4h: last /home (the
//	                           greatest path)
//	a10 no touch: sql 1/3, opportunity 3/3, customer 4/3; views /pricing 2/3 (sql),
//	                           /contract 3/3 5h (opportunity): advances from both (last at
//	                           sql /pricing); nobody stops at opportunity, so it has no row
//	a11 lead 2/3, mql 3/3      views /blog 1/3 1h, then /about and /home at the same instant
//	                           2h (visit), /docs 2/3 1h and /pricing 2/3 2h (lead):
//	                           advances from visit with last /home (the later view, and of
//	                           the tie the greatest path: not /blog nor /about, which it saw
//	                           too), from lead with last /pricing (not /docs, seen earlier);
//	                           stops at mql with no page
func dropoffFixture() map[string]viewtest.Rows {
	var touches viewtest.Rows
	for _, p := range []string{"a1", "a2", "a3", "a4", "a6", "a7", "a8", "a9", "a11"} {
		touches = append(touches, dropoffTouch(p, at(1, 0)))
	}
	return map[string]viewtest.Rows{
		"fct_touchpoint": touches,
		"fct_conversion": {
			dropoffConversion("a3", "lead", at(2, 0)),
			dropoffConversion("a4", "lead", at(1, 1)),
			dropoffConversion("a4", "mql", at(2, 0)),
			dropoffConversion("a5", "lead", at(1, 0)),
			dropoffConversion("a5", "sql", at(2, 0)),
			dropoffConversion("a6", "lead", at(1, 0)),
			dropoffConversion("a7", "lead", at(1, 6)),
			dropoffConversion("a10", "sql", at(1, 0)),
			dropoffConversion("a10", "opportunity", at(3, 0)),
			dropoffConversion("a10", "customer", at(4, 0)),
			dropoffConversion("a11", "lead", at(2, 0)),
			dropoffConversion("a11", "mql", at(3, 0)),
		},
		"fct_page_view": {
			dropoffView("a1", "/home", at(1, 0)),
			dropoffView("a1", "/pricing", at(1, 1)),
			dropoffView("a2", "/home", at(1, 0)),
			dropoffView("a2", "/about", at(1, 1)),
			dropoffView("a2", "/blog", at(1, 2)),
			dropoffView("a3", "/home", at(1, 0)),
			dropoffView("a3", "/pricing", at(1, 1)),
			dropoffView("a3", "/pricing", at(2, 12)),
			dropoffView("a3", "/docs", at(3, 0)),
			dropoffView("a4", "/pricing", at(1, 0)),
			dropoffView("a4", "/pricing", at(1, 2)),
			dropoffView("a4", "/case-study", at(1, 3)),
			dropoffView("a4", "/pricing", at(2, 1)),
			dropoffView("a5", "/demo", at(1, 5)),
			dropoffView("a5", "/pricing", at(2, 5)),
			dropoffView("a7", "/pricing", at(1, 0)),
			dropoffView("a8", "/home", at(1, 0)),
			dropoffView("a8", nil, at(1, 5)),
			dropoffView("a9", "/blog", at(1, 4)),
			dropoffView("a9", "/home", at(1, 4)),
			dropoffView("a10", "/pricing", at(2, 0)),
			dropoffView("a10", "/contract", at(3, 5)),
			dropoffView("a11", "/blog", at(1, 1)),
			dropoffView("a11", "/about", at(1, 2)),
			dropoffView("a11", "/home", at(1, 2)),
			dropoffView("a11", "/docs", at(2, 1)),
			dropoffView("a11", "/pricing", at(2, 2)),
		},
	}
}

const dropoffQuery = `SELECT stage, stage_order, page_path, rank, stopped_people, stopped_with_page,
	exit_share, advanced_people, advanced_with_page, advanced_share, lift
FROM v_dropoff_pages ORDER BY stage_order, rank, page_path`

func TestDropoffPages(t *testing.T) {
	for _, w := range viewtest.Load(t, dropoffFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{
				// visit: stopped a1, a2, a8, a9 (4), last /pricing, /blog, /home, /home;
				// advanced a3, a4, a6, a7, a11 (5), last before their lead /pricing (a3, a4,
				// a7), /home (a11), none (a6). a3 and a11 saw /home, /blog or /about at
				// visit too: counted only on their last page.
				"visit | 1 | /home | 1 | 4 | 2 | 0.5 | 5 | 1 | 0.2 | 0.3",       // a8, a9 / a11: 2/4 - 1/5
				"visit | 1 | /blog | 2 | 4 | 1 | 0.25 | 5 | 0 | 0 | 0.25",       // a2 / -: 1/4 - 0/5
				"visit | 1 | /pricing | 2 | 4 | 1 | 0.25 | 5 | 3 | 0.6 | -0.35", // a1 / a3, a4, a7: 1/4 - 3/5
				"visit | 1 | /about | 4 | 4 | 0 | 0 | 5 | 0 | 0 | 0",            // seen by a2 and a11, last of neither
				// lead: stopped a3, a6, a7 (3: only a3 saw pages after the lead, /pricing then
				// /docs); advanced a4 (mql), a5 (sql), a11 (mql) (3), last /case-study, /demo,
				// /pricing. a11 saw /docs at lead too, before /pricing: not counted on /docs.
				"lead | 2 | /docs | 1 | 3 | 1 | 0.333333 | 3 | 0 | 0 | 0.333333",     // a3 / -: 1/3 - 0/3
				"lead | 2 | /pricing | 2 | 3 | 0 | 0 | 3 | 1 | 0.333333 | -0.333333", // - / a11: 0/3 - 1/3
				// mql: a4 stopped on /pricing, a11 with no page (2); nobody advanced: no
				// advanced share, no lift.
				"mql | 3 | /pricing | 1 | 2 | 1 | 0.5 | 0 | 0 | NULL | NULL",
				// sql: a5 stopped on /pricing; a10 advanced, last /pricing at sql too: 1/1 - 1/1.
				"sql | 4 | /pricing | 1 | 1 | 1 | 1 | 1 | 1 | 1 | 0",
			}, viewtest.Query(t, w.DB, dropoffQuery))
		})
	}
}

// TestDropoffPagesEdges: an empty warehouse gives no rows; without conversions everybody
// stops at visit, nobody advances (NULL advanced share and lift); page views without
// touches or conversions belong to no stage.
func TestDropoffPagesEdges(t *testing.T) {
	for _, w := range viewtest.Load(t, nil) {
		assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_dropoff_pages`), w.Dialect)
	}
	fixture := map[string]viewtest.Rows{
		"fct_touchpoint": {dropoffTouch("b1", at(1, 0)), dropoffTouch("b2", at(1, 0))},
		"fct_page_view": {
			dropoffView("b1", "/home", at(1, 0)),
			dropoffView("b2", "/home", at(1, 0)),
			dropoffView("b2", "/pricing", at(1, 1)),
			dropoffView("ghost", "/careers", at(1, 0)), // no touch, no conversion
		},
	}
	for _, w := range viewtest.Load(t, fixture) {
		assert.Equal(t, []string{
			"visit | 1 | /home | 1 | 2 | 1 | 0.5 | 0 | 0 | NULL | NULL",
			"visit | 1 | /pricing | 1 | 2 | 1 | 0.5 | 0 | 0 | NULL | NULL",
		}, viewtest.Query(t, w.DB, dropoffQuery), w.Dialect)
	}
}
