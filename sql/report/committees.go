package report

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
)

// scopeOrder is the order of the journey scopes in the committees table: the converting
// person alone, then ever wider buying committees (fct_attribution.scope).
var scopeOrder = []string{"person", "deal", "account"}

// committees: revenue of won deals by channel under each journey scope, for the
// report's model (v_channel_performance), and the buying committees of the largest won
// deals (v_buying_committee).
func (b *builder) committees(ctx context.Context) (*Section, error) {
	m := b.r.Model
	s := &Section{ID: "committees", Title: "Buying committees: revenue by channel under each scope",
		Views: "v_channel_performance, v_buying_committee", Dated: true,
		Caption: fmt.Sprintf("Buying committees: revenue of won deals by channel under each journey scope (v_channel_performance, %s model;\n"+
			"person: the buyer's own touches; deal: every contact on the deal; account: every person of the account):", m),
		Empty: "no won deal in the period"}
	present, err := column(ctx, b.db, `SELECT DISTINCT scope FROM fct_attribution`)
	if err != nil {
		return nil, fmt.Errorf("report: fct_attribution: %w", err)
	}
	var scopes []string
	for _, sc := range scopeOrder {
		if slices.Contains(present, sc) {
			scopes = append(scopes, sc)
		}
	}
	byChannel := map[string]map[string]float64{}
	total := map[string]float64{}
	var channels []string
	err = b.query(ctx, "v_channel_performance", `
		SELECT channel, scope, COALESCE(SUM(revenue), 0)
		FROM v_channel_performance WHERE conversion_type = 'customer' AND date_basis = 'conversion_date'
		AND model = `+literal(m)+b.days("day")+`
		GROUP BY channel, scope`, func(rows *sql.Rows) error {
		var ch, sc string
		var rev float64
		if err := rows.Scan(&ch, &sc, &rev); err != nil {
			return err
		}
		if byChannel[ch] == nil {
			byChannel[ch] = map[string]float64{}
			channels = append(channels, ch)
		}
		byChannel[ch][sc] += rev
		total[sc] += rev
		return nil
	})
	if err != nil {
		return nil, err
	}
	share := func(ch, sc string) float64 {
		if total[sc] == 0 {
			return 0
		}
		return byChannel[ch][sc] / total[sc]
	}
	wider := scopes[min(1, len(scopes)):] // the scopes compared with person
	if !slices.Contains(scopes, "person") {
		wider = nil
	}
	// The channels that gain most under the widest scope first.
	widest := ""
	if len(wider) > 0 {
		widest = wider[len(wider)-1]
	}
	slices.SortFunc(channels, func(a, c string) int {
		if widest != "" {
			if d := cmp.Compare(share(c, widest)-share(c, "person"), share(a, widest)-share(a, "person")); d != 0 {
				return d
			}
		}
		return strings.Compare(a, c)
	})
	t := &Table{ID: "committees", Columns: []Column{{Key: "channel", Header: "channel"}}, Empty: s.Empty}
	for _, sc := range scopes {
		t.Columns = append(t.Columns, Column{Key: sc, Header: sc, Format: Amount})
	}
	for _, sc := range wider {
		t.Columns = append(t.Columns, Column{Key: "gain_" + sc, Header: sc + " vs person", Format: Points})
	}
	chart := &Chart{Kind: "bar", Title: "Revenue of won deals by channel, one bar per journey scope", Categories: channels, Unit: Amount}
	for _, sc := range scopes {
		sr := Series{Name: sc}
		for _, ch := range channels {
			sr.Values = append(sr.Values, ptr(byChannel[ch][sc]))
		}
		chart.Series = append(chart.Series, sr)
	}
	for _, ch := range channels {
		row := []any{ch}
		for _, sc := range scopes {
			row = append(row, byChannel[ch][sc])
		}
		for _, sc := range wider {
			row = append(row, share(ch, sc)-share(ch, "person"))
		}
		t.Rows = append(t.Rows, row)
	}
	if len(wider) == 0 && len(channels) > 0 {
		t.Empty = "the warehouse has person scope only: run with CLOSEDLOOP_JOURNEY_SCOPE including deal or account"
		t.Rows = nil
	}
	s.Table = t
	if len(t.Rows) > 0 {
		s.Chart = chart
	}
	deals, err := b.largestDeals(ctx)
	if err != nil {
		return nil, err
	}
	s.More = append(s.More, deals)
	return s, nil
}

// largestDeals is the table of the buying committees of the five largest won deals of
// the period under the report's model (v_buying_committee): the contacts the deal's
// journey reached, their roles and the channels that reached them.
func (b *builder) largestDeals(ctx context.Context) (*Table, error) {
	t := &Table{ID: "committee_deals", Caption: fmt.Sprintf("The largest won deals' buying committees (v_buying_committee, %s model):", b.r.Model),
		Columns: []Column{{Key: "account", Header: "account"}, {Key: "deal", Header: "deal"},
			{Key: "revenue", Header: "revenue", Format: Amount}, {Key: "contacts", Header: "contacts", Format: Int},
			{Key: "roles", Header: "roles"}, {Key: "channels", Header: "channels"}},
		Empty: "no won deal with a deal-scope journey in the period"}
	type deal struct {
		account, id string
		revenue     sql.Null[float64]
		contacts    int64
		roles       map[string][]string // persona -> its channels
	}
	var list []*deal
	byID := map[string]*deal{}
	err := b.query(ctx, "v_buying_committee", `
		SELECT conversion_id, COALESCE(account_name, account_id, '(no account)'), COALESCE(crm_deal_id, conversion_id),
		       deal_revenue, deal_contacts, persona, channel
		FROM v_buying_committee WHERE model = `+literal(b.r.Model)+b.days("won_date"), func(rows *sql.Rows) error {
		var conv, account, id, persona, channel string
		var revenue sql.Null[float64]
		var contacts int64
		if err := rows.Scan(&conv, &account, &id, &revenue, &contacts, &persona, &channel); err != nil {
			return err
		}
		d := byID[conv]
		if d == nil {
			d = &deal{account: account, id: id, revenue: revenue, contacts: contacts, roles: map[string][]string{}}
			byID[conv] = d
			list = append(list, d)
		}
		if persona != "(none)" && !slices.Contains(d.roles[persona], channel) {
			d.roles[persona] = append(d.roles[persona], channel)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(list, func(a, c *deal) int {
		if d := cmp.Compare(c.revenue.V, a.revenue.V); d != 0 {
			return d
		}
		return strings.Compare(a.id, c.id)
	})
	for _, d := range list[:min(5, len(list))] {
		var roles, channels []string
		for p := range d.roles {
			roles = append(roles, p)
		}
		slices.Sort(roles)
		var parts []string
		for _, p := range roles {
			slices.Sort(d.roles[p])
			for _, ch := range d.roles[p] {
				if !slices.Contains(channels, ch) {
					channels = append(channels, ch)
				}
			}
			parts = append(parts, p+": "+strings.Join(d.roles[p], ", "))
		}
		slices.Sort(channels)
		t.Rows = append(t.Rows, []any{d.account, d.id, null(d.revenue), d.contacts, strings.Join(parts, "; "), strings.Join(channels, ", ")})
	}
	return t, nil
}
