package hubspot

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"closedloop/extract"
)

// Column indexes of extract.TableDeals, resolved once.
var (
	dInput     = extract.Col(extract.TableDeals, "input")
	dLocation  = extract.Col(extract.TableDeals, "location")
	dCRM       = extract.Col(extract.TableDeals, "crm")
	dDealID    = extract.Col(extract.TableDeals, "deal_id")
	dDealName  = extract.Col(extract.TableDeals, "deal_name")
	dPipeline  = extract.Col(extract.TableDeals, "pipeline")
	dStage     = extract.Col(extract.TableDeals, "stage")
	dAmount    = extract.Col(extract.TableDeals, "amount")
	dCurrency  = extract.Col(extract.TableDeals, "currency")
	dCreatedAt = extract.Col(extract.TableDeals, "created_at")
	dClosedAt  = extract.Col(extract.TableDeals, "closed_at")
	dIsClosed  = extract.Col(extract.TableDeals, "is_closed")
	dIsWon     = extract.Col(extract.TableDeals, "is_won")
)

// dealRow is one deal, checked before anything is appended to the builder.
type dealRow struct {
	id, name, pipeline, stage, currency string
	amount                              float64
	hasAmount                           bool
	created, closed                     time.Time
	st                                  stage
}

// readDeals reads deals.ndjson into extract.TableDeals. The ids of archived deals go
// to archived.
func (e *Extractor) readDeals(ctx context.Context, w extract.Writer, stages stageIndex, archived map[string]bool) error {
	b := extract.NewBuilder(e.cfg.Mem, extract.TableDeals, w)
	defer b.Release()
	var o object
	err := e.eachLine(ctx, w, DealsFile, func(l *lineReader, line []byte) error {
		if reason := decode(line, &o); reason != "" {
			return e.reject(ctx, w, l.location("", ""), reason, line)
		}
		id := strings.TrimSpace(o.ID.s)
		if o.Archived {
			e.skipped.Add(1)
			if id != "" {
				archived[id] = true
			}
			return nil
		}
		if id == "" {
			return e.reject(ctx, w, l.location("", ""), "deal has no id", line)
		}
		r, reason := e.deal(&o, id, stages)
		if reason != "" {
			return e.reject(ctx, w, l.location("deal", id), reason, line)
		}
		b.Str(dInput, e.cfg.Spec)
		b.Str(dLocation, l.location("", ""))
		b.Str(dCRM, crm)
		b.Str(dDealID, r.id)
		b.Str(dDealName, r.name)
		b.Str(dPipeline, r.pipeline)
		b.Str(dStage, r.stage)
		b.Float(dAmount, r.amount, r.hasAmount)
		b.Str(dCurrency, r.currency)
		b.Time(dCreatedAt, r.created)
		b.Time(dClosedAt, r.closed)
		b.Bool(dIsClosed, r.st.closed)
		b.Bool(dIsWon, r.st.won)
		return b.End(ctx)
	})
	if err != nil {
		return err
	}
	return b.Flush(ctx)
}

// deal reads the properties of one deal, or says why it cannot be used.
func (e *Extractor) deal(o *object, id string, stages stageIndex) (dealRow, string) {
	t := &times{o: o}
	r := dealRow{
		id:       id,
		name:     o.prop("dealname"),
		pipeline: o.prop("pipeline"),
		stage:    o.prop("dealstage"),
		currency: strings.ToUpper(o.prop("deal_currency_code")),
	}
	if r.currency == "" {
		r.currency = e.cfg.Currency
	}
	if s := o.prop("amount"); s != "" {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return r, fmt.Sprintf("property amount: %q is not a number (want digits with a dot, like 12000.50)", s)
		}
		r.amount, r.hasAmount = v, true
	}
	r.created = t.orTop(t.get("createdate"), "createdAt", o.CreatedAt)
	closeDate := t.get("closedate")
	if t.bad != nil {
		return r, t.bad.Error()
	}
	st, reason := stages.lookup(r.pipeline, r.stage)
	if reason != "" {
		return r, reason
	}
	r.st = st
	// An open deal's closedate is the expected close date, a forecast: closed_at
	// holds only real closings.
	if st.closed {
		r.closed = closeDate
	}
	return r, ""
}
