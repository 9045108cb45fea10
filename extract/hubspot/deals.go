package hubspot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"closedloop/extract"
)

// dealProperties are the deal properties read.
var dealProperties = []string{"dealname", "amount", "deal_currency_code", "createdate", "closedate",
	"pipeline", "dealstage", "hs_lastmodifieddate"}

// dealStatus is what became of a deal record.
type dealStatus int

const (
	dealWritten  dealStatus = iota + 1
	dealSkipped             // archived (deleted): counted by Skipped
	dealRejected            // rejected with its reason
)

// dealObject writes the row of one decoded deal, or its rejection, and returns the
// deal and what became of it: links to a skipped deal are dropped too, and only a
// written deal gets stage rows.
func (x *run) dealObject(ctx context.Context, r *rows, p place, o *object, rec []byte) (dealRow, dealStatus, error) {
	id := o.ID.str()
	if o.Archived {
		x.e.skipped.Add(1)
		return dealRow{id: id}, dealSkipped, nil
	}
	if id == "" {
		return dealRow{}, dealRejected, r.reject(ctx, p.reject("deal", ""), "deal has no id", rec)
	}
	if reason := extract.BadText("id", id); reason != "" {
		return dealRow{}, dealRejected, r.reject(ctx, p.reject("deal", ""), reason, rec)
	}
	d, reason := x.deal(o, id)
	if reason != "" {
		return d, dealRejected, r.reject(ctx, p.reject("deal", id), reason, rec)
	}
	return d, dealWritten, r.deal(ctx, p.row("deal", id), &d)
}

// deal reads the properties of one deal, or says why it cannot be used.
func (x *run) deal(o *object, id string) (dealRow, string) {
	t := &times{o: o, types: x.dealTypes}
	r := dealRow{
		id:       id,
		name:     o.prop("dealname"),
		pipeline: o.prop("pipeline"),
		stage:    o.prop("dealstage"),
		currency: strings.ToUpper(o.prop("deal_currency_code")),
		account:  x.accountOf(x.co.ofDeal[id]),
	}
	if r.currency == "" {
		r.currency = x.e.cfg.Currency
	}
	if s := o.prop("amount"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return r, fmt.Sprintf("property amount: %q is not a number (want digits with a dot, like 12000.50); fix the amount in HubSpot", s)
		}
		if reason := extract.BadRevenue("property amount", v); reason != "" {
			return r, reason
		}
		r.amount, r.hasAmount = v, true
	}
	if reason := o.badProps("deal_currency_code"); reason != "" {
		return r, reason
	}
	if reason := r.badText(); reason != "" {
		return r, reason
	}
	r.created = t.orTop(t.get("createdate"), "createdAt", o.CreatedAt)
	closeDate := t.get("closedate")
	if t.bad != nil {
		return r, t.bad.Error() + "; fix the value in HubSpot"
	}
	st, reason := x.stages.lookup(r.pipeline, r.stage)
	if reason != "" {
		return r, reason
	}
	r.st = st
	// An open deal's closedate is the expected close date, a forecast: closed_at
	// holds only real closings.
	if st.closed {
		r.closed = closeDate
		if !closeDate.IsZero() {
			if reason := extract.BadTime("property closedate", closeDate, x.e.cfg.Now); reason != "" {
				return r, reason
			}
		}
	}
	return r, ""
}
