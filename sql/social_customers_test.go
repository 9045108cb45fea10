package views_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"closedloop/sql/viewtest"
)

// socialTouch is one fct_touchpoint row; source nil is a touch without a source.
func socialTouch(id, person, ch string, source any, when time.Time) map[string]any {
	return map[string]any{"touchpoint_id": id, "person_id": person, "occurred_at": when,
		"channel": ch, "source": source}
}

// socialCredit is one fct_attribution row of the touch touch on channel ch.
func socialCredit(conv, person, model, typ, touch, ch string, c float64, rev any, convAt, touchAt time.Time) map[string]any {
	return map[string]any{"conversion_id": conv, "touchpoint_id": touch, "scope": "person", "model": model, "credit": c,
		"revenue_credit": rev, "channel": ch, "conversion_type": typ,
		"occurred_at": convAt, "touch_occurred_at": touchAt, "person_id": person}
}

// socialFixture, under the models linear and first_touch:
//
// Touches (person: channel, source -> network, day):
//
//	s1  p1 Organic Social l.facebook.com -> facebook 2   s7  p6 Paid Social linkedin -> linkedin 2
//	s2  p1 Paid Social facebook -> facebook 3           s8  p1 Paid Search google (not social) 4
//	s3  p2 Paid Social fb -> facebook 2                 s9  p7 Organic Social, no source -> NULL 2
//	s4  p3 Organic Social LinkedIn.com -> linkedin 2    s10 p5 Organic Social x.com -> x 3
//	s5  p4 Organic Social t.co -> x 2                   s11 p8 Organic Social l.instagram.com -> instagram 2
//	s6  p5 Organic Social mastodon.social (as is) 2
//
// Conversions:
//   - c1, p1's customer worth 400 on 5 March, touched by s1, s2, s8. linear: 1/3 each, so
//     facebook Organic and facebook Paid get 1/3 (133.33) each, Paid Search is not in the
//     view; first_touch: s1, facebook Organic 1 (400).
//   - c2 (p3 from s4, linkedin Organic), c3 (p2 from s3, facebook Paid), c5 (p7 from s9,
//     no source): leads, credit 1.
//   - c4, p5's customer worth 90 from s6 (2 March) and s10 (3 March). linear: 0.5 (45) to
//     mastodon.social and to x; first_touch: mastodon.social 1 (90).
//   - c6, p9's lead credited to a Paid Social touch that is not in fct_touchpoint: network
//     NULL, nobody reached.
func socialFixture() map[string]viewtest.Rows {
	const organic, paid = "Organic Social", "Paid Social"
	var credits viewtest.Rows
	for _, m := range []string{"linear", "first_touch"} {
		credits = append(credits,
			socialCredit("c2", "p3", m, "lead", "s4", organic, 1, nil, at(3, 9), at(2, 9)),
			socialCredit("c3", "p2", m, "lead", "s3", paid, 1, nil, at(3, 9), at(2, 9)),
			socialCredit("c5", "p7", m, "lead", "s9", organic, 1, nil, at(3, 9), at(2, 9)),
			socialCredit("c6", "p9", m, "lead", "gone", paid, 1, nil, at(3, 9), at(2, 9)),
		)
	}
	credits = append(credits,
		socialCredit("c1", "p1", "linear", "customer", "s1", organic, 1.0/3, 400.0/3, at(5, 9), at(2, 9)),
		socialCredit("c1", "p1", "linear", "customer", "s2", paid, 1.0/3, 400.0/3, at(5, 9), at(3, 9)),
		socialCredit("c1", "p1", "linear", "customer", "s8", "Paid Search", 1.0/3, 400.0/3, at(5, 9), at(4, 9)),
		socialCredit("c1", "p1", "first_touch", "customer", "s1", organic, 1, 400.0, at(5, 9), at(2, 9)),
		socialCredit("c4", "p5", "linear", "customer", "s6", organic, 0.5, 45.0, at(5, 9), at(2, 9)),
		socialCredit("c4", "p5", "linear", "customer", "s10", organic, 0.5, 45.0, at(5, 9), at(3, 9)),
		socialCredit("c4", "p5", "first_touch", "customer", "s6", organic, 1, 90.0, at(5, 9), at(2, 9)),
	)
	return map[string]viewtest.Rows{
		"fct_touchpoint": {
			socialTouch("s1", "p1", organic, "l.facebook.com", at(2, 9)),
			socialTouch("s2", "p1", paid, "facebook", at(3, 9)),
			socialTouch("s3", "p2", paid, "fb", at(2, 9)),
			socialTouch("s4", "p3", organic, "LinkedIn.com", at(2, 9)),
			socialTouch("s5", "p4", organic, "t.co", at(2, 9)),
			socialTouch("s6", "p5", organic, "mastodon.social", at(2, 9)),
			socialTouch("s7", "p6", paid, "linkedin", at(2, 9)),
			socialTouch("s8", "p1", "Paid Search", "google", at(4, 9)),
			socialTouch("s9", "p7", organic, nil, at(2, 9)),
			socialTouch("s10", "p5", organic, "x.com", at(3, 9)),
			socialTouch("s11", "p8", organic, "l.instagram.com", at(2, 9)),
		},
		"fct_attribution": credits,
	}
}

const socialQuery = `SELECT network, channel, people_reached, leads, customers, revenue
	FROM v_social_customers WHERE model = $1 ORDER BY network NULLS LAST, channel`

func TestSocialCustomers(t *testing.T) {
	for _, w := range viewtest.Load(t, socialFixture()) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{"model STRING", "scope STRING", "network STRING", "channel STRING", "people_reached INT64",
				"leads FLOAT64", "customers FLOAT64", "revenue FLOAT64"},
				viewColumns(t, w.DB, "v_social_customers"))

			// Columns: network | channel | people_reached | leads | customers | revenue.
			assert.Equal(t, []string{
				// p1 via l.facebook.com: a third of c1 (400 / 3).
				"facebook | Organic Social | 1 | 0 | 0.333333 | 133.333333",
				// p1 (facebook) and p2 (fb): 2 people; lead c3; a third of c1.
				"facebook | Paid Social | 2 | 1 | 0.333333 | 133.333333",
				// reached, never credited: 0 leads, 0 customers, revenue 0.
				"instagram | Organic Social | 1 | 0 | 0 | 0",
				// LinkedIn.com (any case) is linkedin: p3 and lead c2.
				"linkedin | Organic Social | 1 | 1 | 0 | 0",
				"linkedin | Paid Social | 1 | 0 | 0 | 0",
				// an unknown source stays as it is: half of c4 (90 / 2).
				"mastodon.social | Organic Social | 1 | 0 | 0.5 | 45",
				// t.co (p4) and x.com (p5): 2 people, the other half of c4.
				"x | Organic Social | 2 | 0 | 0.5 | 45",
				// no source: p7 and lead c5.
				"NULL | Organic Social | 1 | 1 | 0 | 0",
				// lead c6's touch is not in fct_touchpoint: its credit stays, nobody reached.
				"NULL | Paid Social | 0 | 1 | 0 | 0",
			}, viewtest.Query(t, w.DB, socialQuery, "linear"))

			assert.Equal(t, []string{
				// c1's first touch, s1: the whole customer.
				"facebook | Organic Social | 1 | 0 | 1 | 400",
				"facebook | Paid Social | 2 | 1 | 0 | 0",
				"instagram | Organic Social | 1 | 0 | 0 | 0",
				"linkedin | Organic Social | 1 | 1 | 0 | 0",
				"linkedin | Paid Social | 1 | 0 | 0 | 0",
				// c4's first touch, s6 on 2 March.
				"mastodon.social | Organic Social | 1 | 0 | 1 | 90",
				"x | Organic Social | 2 | 0 | 0 | 0",
				"NULL | Organic Social | 1 | 1 | 0 | 0",
				"NULL | Paid Social | 0 | 1 | 0 | 0",
			}, viewtest.Query(t, w.DB, socialQuery, "first_touch"))

			// Per model, the view holds every social credit: linear's 2/3 of c1 (266.67)
			// and c4 (90), first_touch's c1 (400) and c4 (90); the 4 leads in both.
			assert.Equal(t, []string{
				"first_touch | 4 | 2 | 490",
				"linear | 4 | 1.666667 | 356.666667",
			}, viewtest.Query(t, w.DB, `SELECT model, SUM(leads), SUM(customers), SUM(revenue)
				FROM v_social_customers GROUP BY model ORDER BY model`))
		})
	}
}

// Every source of the normalisation, each on its own person: the network's
// people_reached counts the sources it gathers. Any other source, whatever its case,
// stays as it is.
func TestSocialCustomersNetworks(t *testing.T) {
	sources := map[string][]string{
		"facebook":         {"facebook", "l.facebook.com", "m.facebook.com", "fb", "Facebook.com", "www.facebook.com", "lm.facebook.com"},
		"instagram":        {"instagram", "l.instagram.com", "ig", "instagram.com", "www.instagram.com"},
		"linkedin":         {"linkedin", "linkedin.com", "lnkd.in", "www.linkedin.com", "LinkedIn"},
		"x":                {"t.co", "twitter", "twitter.com", "x.com", "x", "mobile.twitter.com"},
		"reddit":           {"reddit", "reddit.com", "www.reddit.com", "old.reddit.com"},
		"youtube":          {"youtube", "youtube.com", "www.youtube.com", "m.youtube.com"},
		"Snapchat":         {"Snapchat"},
		"facebook.example": {"facebook.example"},
	}
	var touches viewtest.Rows
	for network, list := range sources {
		for i, s := range list {
			touches = append(touches, socialTouch(fmt.Sprintf("%s%d", network, i), fmt.Sprintf("p_%s%d", network, i), "Organic Social", s, at(2, 9)))
		}
	}
	fixture := map[string]viewtest.Rows{
		"fct_touchpoint": touches,
		// a credit, so that the view has a model; from a touch on another channel
		"fct_attribution": {socialCredit("c1", "p1", "linear", "lead", "t1", "Email", 1, nil, at(3, 9), at(2, 9))},
	}
	for _, w := range viewtest.Load(t, fixture) {
		t.Run(w.Dialect, func(t *testing.T) {
			assert.Equal(t, []string{
				"Snapchat | 1", "facebook | 7", "facebook.example | 1", "instagram | 5", "linkedin | 5",
				"reddit | 4", "x | 6", "youtube | 4",
			}, viewtest.Query(t, w.DB, `SELECT network, people_reached FROM v_social_customers ORDER BY network`))
		})
	}
}

// Without any credited conversion there is no model to show, so the view is empty, as
// it is on an empty warehouse (the view has no spend to be without).
func TestSocialCustomersEdges(t *testing.T) {
	noConversions := socialFixture()
	delete(noConversions, "fct_attribution")
	for name, fixture := range map[string]map[string]viewtest.Rows{"no conversions": noConversions, "empty warehouse": nil} {
		t.Run(name, func(t *testing.T) {
			for _, w := range viewtest.Load(t, fixture) {
				t.Run(w.Dialect, func(t *testing.T) {
					assert.Empty(t, viewtest.Query(t, w.DB, `SELECT * FROM v_social_customers`))
				})
			}
		})
	}
}
