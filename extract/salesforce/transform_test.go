package salesforce

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/stretchr/testify/require"

	"closedloop/extract"
	"closedloop/load"
	"closedloop/transform"
	"closedloop/transform/attribution"
)

// TestTransformCountsOnce runs transform on the export folder's rows: a lead
// converted into a contact, a merged lead and contact, a deleted won deal must leave
// one person each and one conversion per milestone, and revenue only once.
func TestTransformCountsOnce(t *testing.T) {
	mem := checkedMem(t)
	c, _, err := extractWith(t, Config{Dir: exportDir, Mem: mem, Currency: "USD"})
	require.NoError(t, err)
	in := transform.Inputs{Events: c.Table(extract.TableEvents), Contacts: c.Table(extract.TableContacts),
		Deals: c.Table(extract.TableDeals), DealContacts: c.Table(extract.TableDealContacts), Spend: c.Table(extract.TableSpend),
		DealStages: c.Table(extract.TableDealStages)}
	defer func() {
		for _, tb := range []arrow.Table{in.Events, in.Contacts, in.Deals, in.DealContacts, in.Spend, in.DealStages} {
			tb.Release()
		}
	}()
	models, err := attribution.Lookup([]string{"linear"}, attribution.DefaultParams)
	require.NoError(t, err)
	out, err := transform.Build(context.Background(), in, transform.Options{Mem: mem,
		Range:    extract.Range{From: ts("2026-01-01T00:00:00Z"), To: ts("2026-03-31T00:00:00Z")},
		Lookback: 90 * 24 * time.Hour, SessionTimeout: 30 * time.Minute, Models: models, Currency: "USD"})
	require.NoError(t, err)
	defer out.Release()

	type conv struct {
		person, typ, deal string
		at                time.Time
		revenue           float64
	}
	var convs []conv
	tr := array.NewTableReader(out.Tables[load.FctConversion], 0)
	defer tr.Release()
	for tr.Next() {
		rec := tr.RecordBatch()
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		for i := 0; i < int(rec.NumRows()); i++ {
			cv := conv{person: col("person_id").(*array.String).Value(i), typ: col("conversion_type").(*array.String).Value(i),
				at: col("occurred_at").(*array.Timestamp).Value(i).ToTime(arrow.Microsecond).UTC()}
			if d := col("crm_deal_id"); d.IsValid(i) {
				cv.deal = d.(*array.String).Value(i)
			}
			if r := col("revenue"); r.IsValid(i) {
				cv.revenue = r.(*array.Float64).Value(i)
			}
			convs = append(convs, cv)
		}
	}
	// Ann: her won deal names her person.
	var ann string
	revenue := 0.0
	for _, cv := range convs {
		if cv.typ == "customer" {
			ann = cv.person
			revenue += cv.revenue
			require.Equal(t, oppWon, cv.deal)
		}
	}
	require.Equal(t, 12000.5, revenue, "one won deal; the deleted duplicate is not revenue")
	count := map[string]int{}
	opportunities := map[string]int{}
	for _, cv := range convs {
		if cv.typ == "opportunity" {
			opportunities[cv.deal]++
		}
		if cv.person == ann && cv.typ != "opportunity" {
			count[cv.typ]++
			if cv.typ == "lead" {
				require.Equal(t, ts("2026-01-05T10:00:00Z"), cv.at)
			}
		}
	}
	require.Equal(t, map[string]int{"lead": 1, "mql": 1, "sql": 1, "customer": 1}, count,
		"her lead and her contact are one person with one conversion per milestone")
	// Every live deal is one opportunity, of its primary contact (is_primary): Carol's
	// open deal is hers, not Ann's, whose contact id is smaller.
	require.Equal(t, map[string]int{oppWon: 1, oppOpen: 1, oppLost: 1}, opportunities)
	for _, cv := range convs {
		if cv.typ == "opportunity" && cv.deal == oppOpen {
			require.NotEqual(t, ann, cv.person, "oppOpen belongs to Carol")
		}
	}

	// The stage entries join their deals: the won deal's four stays end in Closed Won,
	// the second Prospecting stay lasting from Feb 5 to Feb 18.
	var stays []string
	sr := array.NewTableReader(out.Tables[load.FctDealStage], 0)
	defer sr.Release()
	for sr.Next() {
		rec := sr.RecordBatch()
		col := func(name string) arrow.Array { return rec.Column(rec.Schema().FieldIndices(name)[0]) }
		for i := 0; i < int(rec.NumRows()); i++ {
			if col("deal_id").(*array.String).Value(i) != oppWon {
				continue
			}
			days := "-"
			if d := col("days_in_stage"); d.IsValid(i) {
				days = fmt.Sprintf("%.2f", d.(*array.Float64).Value(i))
			}
			stays = append(stays, fmt.Sprintf("%d %s %s won=%v", col("stage_number").(*array.Int64).Value(i),
				col("stage").(*array.String).Value(i), days, col("deal_is_won").(*array.Boolean).Value(i)))
		}
	}
	require.Equal(t, []string{"1 Prospecting 12.92 won=true", "2 Negotiation 3.00 won=true", "3 Prospecting 13.28 won=true", "4 Closed Won - won=true"}, stays)

	leads := map[string]int{}
	for _, cv := range convs {
		if cv.typ == "lead" {
			leads[cv.person]++
		}
	}
	require.Len(t, leads, 4, "Ann, Bob (with his merged lead), Eve, Carol (with her merged contact)")
	for p, n := range leads {
		require.Equal(t, 1, n, p)
	}
}
