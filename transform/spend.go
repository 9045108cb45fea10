package transform

import (
	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/load"
	"closedloop/transform/channel"
)

// Columns of fct_spend.
var (
	spDate        = col(load.FctSpend, "date")
	spChannel     = col(load.FctSpend, "channel")
	spSource      = col(load.FctSpend, "source")
	spMedium      = col(load.FctSpend, "medium")
	spCampaign    = col(load.FctSpend, "campaign")
	spTerm        = col(load.FctSpend, "term")
	spCost        = col(load.FctSpend, "cost")
	spClicks      = col(load.FctSpend, "clicks")
	spImpressions = col(load.FctSpend, "impressions")
	spCurrency    = col(load.FctSpend, "currency")
)

// spend writes fct_spend for the range, with each row's channel group: the one the
// export gives, else the touch grouping's.
func spend(r *run, sp *spendCols) arrow.Table {
	o := newTable(r.opt.Mem, load.FctSpend)
	for i := 0; i < sp.n; i++ {
		d := sp.day.Value(i)
		if !r.inRange(d.ToTime().UnixMicro()) {
			continue
		}
		ch := sv(sp.channel, i)
		if ch == "" {
			ch = r.opt.Channels.GroupTouch(channel.Touch{Source: sp.source.Value(i), Medium: sp.medium.Value(i),
				Campaign: sv(sp.campaign, i), Term: sv(sp.term, i)})
		}
		o.date(spDate, d)
		o.str(spChannel, ch)
		o.str(spSource, sp.source.Value(i))
		o.str(spMedium, sp.medium.Value(i))
		o.str(spCampaign, sv(sp.campaign, i))
		o.str(spTerm, sv(sp.term, i))
		o.f64(spCost, sp.cost.Value(i), true)
		o.i64(spClicks, sp.clicks.Value(i), sp.clicks.IsValid(i))
		o.i64(spImpressions, sp.impressions.Value(i), sp.impressions.IsValid(i))
		o.str(spCurrency, sp.currency.Value(i))
	}
	return o.table()
}
