package transform

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"closedloop/load"
)

// Columns of fct_deal_stage.
var (
	dsCRM          = col(load.FctDealStage, "crm")
	dsDealID       = col(load.FctDealStage, "deal_id")
	dsPersonID     = col(load.FctDealStage, "person_id")
	dsPipeline     = col(load.FctDealStage, "pipeline")
	dsStage        = col(load.FctDealStage, "stage")
	dsStageNumber  = col(load.FctDealStage, "stage_number")
	dsEnteredAt    = col(load.FctDealStage, "entered_at")
	dsExitedAt     = col(load.FctDealStage, "exited_at")
	dsDaysInStage  = col(load.FctDealStage, "days_in_stage")
	dsIsCurrent    = col(load.FctDealStage, "is_current")
	dsDealIsClosed = col(load.FctDealStage, "deal_is_closed")
	dsDealIsWon    = col(load.FctDealStage, "deal_is_won")
	dsAmount       = col(load.FctDealStage, "amount")
	dsCurrency     = col(load.FctDealStage, "currency")
)

const usPerDay = float64(24 * time.Hour / time.Microsecond)

// dealStages writes fct_deal_stage: each deal's stage entries in time order, with the
// time to the next entry, the deal's outcome and its person. Entries of deals the run
// has not read are kept, without outcome or person.
func dealStages(r *run, ds *dealStageCols, d *dealCols, id *stitched) arrow.Table {
	deal := map[string]int{}
	for i := 0; i < d.n; i++ {
		deal[d.key(i)] = i
	}
	order := make([]int, ds.n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		if c := strings.Compare(ds.key(x), ds.key(y)); c != 0 {
			return c
		}
		return cmp.Compare(int64(ds.entered.Value(x)), int64(ds.entered.Value(y)))
	})
	o := newTable(r.opt.Mem, load.FctDealStage)
	number := 0
	for n, i := range order {
		k := ds.key(i)
		if n == 0 || k != ds.key(order[n-1]) {
			number = 0
		}
		number++
		at := int64(ds.entered.Value(i))
		o.str(dsCRM, ds.crm.Value(i))
		o.str(dsDealID, ds.deal.Value(i))
		person := ""
		if node, ok := id.deals[k]; ok {
			person = id.persons.ID(id.persons.Of(node))
		}
		o.str(dsPersonID, person)
		o.str(dsPipeline, sv(ds.pipeline, i))
		o.str(dsStage, ds.stage.Value(i))
		o.i64(dsStageNumber, int64(number), true)
		o.ts(dsEnteredAt, at)
		last := n+1 == len(order) || ds.key(order[n+1]) != k
		if last {
			o.ts(dsExitedAt, 0)
			o.f64(dsDaysInStage, 0, false)
		} else {
			next := int64(ds.entered.Value(order[n+1]))
			o.ts(dsExitedAt, next)
			o.f64(dsDaysInStage, float64(next-at)/usPerDay, true)
		}
		o.bool(dsIsCurrent, last)
		di, ok := deal[k]
		o.bool(dsDealIsClosed, ok && d.isClosed.Value(di))
		o.bool(dsDealIsWon, ok && d.isWon.Value(di))
		if ok {
			o.f64(dsAmount, d.amount.Value(di), d.amount.IsValid(di))
			o.str(dsCurrency, sv(d.currency, di))
		} else {
			o.f64(dsAmount, 0, false)
			o.str(dsCurrency, "")
		}
	}
	return o.table()
}
